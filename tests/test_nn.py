"""The shared training loop and frame encoder."""

import numpy as np
import pytest
import torch

from seqot.nn import AlignmentPredictor, FrameMLP, build_frame_mlp, make_optimizer, train
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


def regression_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 3, generator=g)
    w = torch.tensor([[1.0], [-2.0], [0.5]])
    return X, X @ w


def test_train_decreases_loss_and_records_history():
    X, y = regression_problem()
    model = torch.nn.Linear(3, 1)
    hist = train(lambda i: ((model(X) - y) ** 2).mean(), model, max_epochs=200, lr=0.05)
    assert hist.n_steps == 200 and len(hist.loss) == 200
    assert hist.loss[-1] < 1e-3 * hist.loss[0]
    assert not model.training  # left in eval mode


def test_early_stopping_restores_best_parameters():
    X, y = regression_problem(1)
    model = torch.nn.Linear(3, 1)
    calls = []

    def validate():
        # pretend the validation error is best at the 3rd check and worse afterwards
        calls.append(len(calls))
        return abs(len(calls) - 3)

    snapshots = []

    def step(i):
        snapshots.append(model.weight.detach().clone())
        return ((model(X) - y) ** 2).mean()

    hist = train(step, model, max_epochs=100, lr=0.05, validate=validate, validate_every=5,
                 patience=2)
    assert hist.stopped_early and hist.best_step == 15 and hist.n_steps == 25
    # parameters are those after step 15, i.e. before step 16 ran
    torch.testing.assert_close(model.weight.detach(), snapshots[15])


def test_lr_schedule_and_clipping_are_applied():
    model = torch.nn.Linear(3, 1)
    X, y = regression_problem(2)
    start = torch.cat([model.weight.detach().ravel(), model.bias.detach()])

    def step(i):
        return ((model(X) - y) ** 2).mean() * 1e6

    train(step, model, max_epochs=4, lr=1.0, optimizer="sgd", clip_grad_norm=1e-3,
          lr_step_size=2, lr_gamma=0.5)
    end = torch.cat([model.weight.detach().ravel(), model.bias.detach()])
    # clipped steps of norm 1e-3: two at lr 1, two at lr 0.5 -> at most 3e-3 in total,
    # and nearly that since the gradient direction hardly changes (4e-3 without the schedule)
    moved = float((end - start).norm())
    assert 2.9e-3 < moved <= 3.0e-3 + 1e-6  # float32 rounding


def test_nan_loss_raises_value_error_naming_the_step():
    model = torch.nn.Linear(3, 1)
    with pytest.raises(ValueError, match="loss became nan at step 0"):
        train(lambda i: model.weight.sum() * float("nan"), model, max_epochs=3)


_NET = torch.nn.Linear(2, 1)
_VALID_CALLS = [
    (train, (lambda i: _NET.weight.sum(), _NET), {"max_epochs": 2}),
    (make_optimizer, (list(_NET.parameters()),), {}),
    (build_frame_mlp, (), dict(in_features=2, hidden=(3,), out_features=2, dtype=torch.float64,
                               device="cpu", generator=torch.Generator().manual_seed(0))),
]
_CASES = [c for func, args, kwargs in _VALID_CALLS
          for c in function_constraint_cases(func, args, kwargs)]
# the modules validate in __init__ (the error names "FrameMLP.__init__"): the cases of
# __init__, all keywords, called through the class
_CASES += [(cls, args, kwargs, name)
           for cls, valid in [(FrameMLP, {"in_features": 2, "hidden": (3,)}),
                              (AlignmentPredictor, {})]
           for _, args, kwargs, name in function_constraint_cases(cls.__init__, (), valid)]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c[0].__name__}-{c[3]}") for c in _CASES])
def test_parameter_constraints(case):
    """Each declared constraint violated once; train refuses before any update."""
    before = _NET.weight.detach().clone()
    check_function_constraint(*case)
    assert torch.equal(_NET.weight.detach(), before)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("max_epochs", [1, 3])
def test_huge_learning_rate_is_a_value_error_naming_lr(optimizer, max_epochs):
    """A finite but absurd lr (1e300) passes the constraint; the training it ruins must end in
    a ValueError naming lr, not a model of NaNs (one step: every loss seen was finite)."""
    X, y = regression_problem(3)
    model = torch.nn.Linear(3, 1)
    with pytest.raises(ValueError, match=r"learning rate lr \(lr=1e\+300\)"):
        train(lambda i: ((model(X) - y) ** 2).mean(), model, max_epochs=max_epochs,
              lr=1e300, optimizer=optimizer)


def test_frame_mlp_residual_starts_as_identity_and_maps_frames():
    x = torch.randn(4, 6, 5)
    mlp = FrameMLP(5, (8,), residual=True)
    torch.testing.assert_close(mlp(x), x)
    mlp2 = FrameMLP(5, (8, 8), 3)
    out = mlp2(x)
    assert out.shape == (4, 6, 3)
    # frame-wise: each frame's output depends on that frame only
    torch.testing.assert_close(mlp2(x[:, 2:3]), out[:, 2:3])
    with pytest.raises(ValueError, match="residual=True needs"):
        FrameMLP(5, (), 3, residual=True)
    assert np.isfinite(out.detach().numpy()).all()
