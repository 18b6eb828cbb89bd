"""The shared training loop and frame encoder."""

import numpy as np
import pytest
import torch

from seqot.nn import AlignmentPredictor, FrameMLP, build_frame_mlp, make_optimizer, train
from seqot.nn._modules import BUILD_FRAME_MLP_CONSTRAINTS, FRAME_MLP_CONSTRAINTS
from seqot.nn._training import MAKE_OPTIMIZER_CONSTRAINTS, TRAIN_CONSTRAINTS
from seqot.utils._param_validation import InvalidParameterError, StrOptions


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


def _constraint_cases(constraints):
    from seqot.utils.estimator_checks import invalid_parameter_values

    return [(name, bad) for name, entry in constraints.items()
            for bad in invalid_parameter_values(entry)]


@pytest.mark.parametrize("name, bad", _constraint_cases(
    {k: v for k, v in TRAIN_CONSTRAINTS.items() if k != "step"}))
def test_train_refuses_every_constraint_violation_naming_the_parameter(name, bad):
    """Driven by train's declared constraints: each violated once, before any update."""
    model = torch.nn.Linear(2, 1)
    before = model.weight.detach().clone()
    kwargs = {"max_epochs": 2, name: bad}
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of train"):
        train(lambda i: model.weight.sum(), model, **kwargs)
    assert torch.equal(model.weight.detach(), before)


@pytest.mark.parametrize("name, bad", _constraint_cases(
    {k: v for k, v in MAKE_OPTIMIZER_CONSTRAINTS.items() if k != "params"}))
def test_make_optimizer_refuses_every_constraint_violation(name, bad):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of make_optimizer"):
        make_optimizer(torch.nn.Linear(2, 1).parameters(), **{name: bad})


@pytest.mark.parametrize("name, bad", _constraint_cases(FRAME_MLP_CONSTRAINTS))
def test_frame_mlp_refuses_every_constraint_violation(name, bad):
    kwargs = {"in_features": 2, "hidden": (3,), name: bad}
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of FrameMLP"):
        FrameMLP(**kwargs)


@pytest.mark.parametrize("name, bad", _constraint_cases(BUILD_FRAME_MLP_CONSTRAINTS))
def test_build_frame_mlp_refuses_every_constraint_violation(name, bad):
    kwargs = dict(in_features=2, hidden=(3,), out_features=2, dtype=torch.float64,
                  device="cpu", generator=torch.Generator().manual_seed(0))
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of build_frame_mlp"):
        build_frame_mlp(**{**kwargs, name: bad})


@pytest.mark.parametrize("name, bad", _constraint_cases(
    {"channels": ["array-like"], "kernel_sizes": ["array-like"],
     "final_activation": [StrOptions({"relu"}), None]}))
def test_alignment_predictor_refuses_every_constraint_violation(name, bad):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of AlignmentPredictor"):
        AlignmentPredictor(**{name: bad})


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
