"""OT sequence distances against independent oracles, batched == per pair, padding no-op."""

import warnings

import numpy as np
import ot
import pytest
import torch

from seqot.distances import (
    SequenceDistanceTransformer,
    cmot,
    emd,
    mean_euclidean,
    opw,
    pairwise_sequence_distances,
    sinkhorn,
    tcot,
)
from seqot.ot import SinkhornConvergenceWarning


def ragged(seed, n, d=3, low=2, high=9):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(T), d)) for T in rng.integers(low, high, size=n)]


def unif(n):
    return np.full(n, 1.0 / n)


def rel_gap(tx, ty):
    return np.arange(1, tx + 1)[:, None] / tx - np.arange(1, ty + 1)[None, :] / ty


def opw_numpy(x, y, lambda1=50.0, reg=0.1, delta=1.0, max_iter=20):
    """OPW exactly as the authors' kernel formulation: Sinkhorn on K = P * exp((S - D)/reg)."""
    tx, ty = len(x), len(y)
    D = ot.dist(x, y)  # squared Euclidean
    g = rel_gap(tx, ty)
    S = lambda1 / (g ** 2 + 1)
    ell = np.abs(g) / np.sqrt(1 / tx ** 2 + 1 / ty ** 2)
    P = np.exp(-ell ** 2 / (2 * delta ** 2)) / (delta * np.sqrt(2 * np.pi))
    K = P * np.exp((S - D) / reg)
    a, b = unif(tx), unif(ty)
    v = np.ones(ty)
    for _ in range(max_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
    T = u[:, None] * K * v[None, :]
    return np.sum(T * D)


def test_sinkhorn_and_emd_match_pot():
    X, Y = ragged(0, 4), ragged(1, 3)
    for x in X:
        for y in Y:
            M = ot.dist(x, y)
            ref = ot.sinkhorn2(unif(len(x)), unif(len(y)), M, 0.5, method="sinkhorn_log",
                               numItermax=5000, stopThr=1e-13)
            assert sinkhorn(x, y, reg=0.5, max_iter=5000, tol=1e-13) == pytest.approx(ref, rel=1e-8)
            assert emd(x, y) == pytest.approx(ot.emd2(unif(len(x)), unif(len(y)), M), rel=1e-10)
            Me = ot.dist(x, y, metric="euclidean")
            assert emd(x, y, cost="euclidean") == pytest.approx(
                ot.emd2(unif(len(x)), unif(len(y)), Me), rel=1e-9)


def test_tcot_matches_pot_sinkhorn_on_the_coupled_cost():
    for x, y in zip(ragged(2, 4), ragged(3, 4)):
        M = ot.dist(x, y) * (1 + np.abs(rel_gap(len(x), len(y))))
        plan = ot.sinkhorn(unif(len(x)), unif(len(y)), M, 1.0, method="sinkhorn_log",
                           numItermax=10000, stopThr=1e-14)
        # converged: the coupled cost is what is tested (POT's fixed-iteration loop updates
        # the other potential first, so unconverged iterates differ by design)
        assert tcot(x, y, max_iter=10000, tol=1e-13) == pytest.approx(np.sum(plan * M),
                                                                     rel=1e-9)


def test_opw_matches_kernel_formulation():
    for x, y in zip(ragged(4, 5, low=3, high=12), ragged(5, 5, low=3, high=12)):
        x, y = x / 3, y / 3  # keep exp((S - D)/reg) representable in the kernel oracle
        assert opw(x, y) == pytest.approx(opw_numpy(x, y), rel=1e-9)
        assert opw(x, y, lambda1=5.0, reg=0.5, delta=2.0) == pytest.approx(
            opw_numpy(x, y, 5.0, 0.5, 2.0), rel=1e-9)


def test_order_aware_metrics_see_reversal_and_order_blind_ones_do_not():
    x = np.linspace(0, 1, 8)[:, None] * np.ones((1, 2))
    assert sinkhorn(x, x[::-1], reg=0.01, max_iter=2000) == pytest.approx(
        sinkhorn(x, x, reg=0.01, max_iter=2000), abs=1e-9)
    assert emd(x, x[::-1]) == pytest.approx(0.0, abs=1e-12)
    assert tcot(x, x[::-1]) > tcot(x, x) + 0.01
    assert opw(x, x[::-1]) > opw(x, x) + 0.01


@pytest.mark.parametrize("metric, params", [
    ("sinkhorn", {"reg": 0.3}),
    ("sinkhorn", {"reg": 0.3, "value": "regularized", "unbalanced": 1.0}),
    ("emd", {}),
    ("emd", {"cost": "cosine"}),
    ("tcot", {}),
    ("opw", {}),
    ("mean_euclidean", {}),
])
def test_pairwise_equals_per_pair_and_padding_is_a_no_op(metric, params):
    X, Y = ragged(6, 5), ragged(7, 4)
    per_pair = {"sinkhorn": sinkhorn, "emd": emd, "tcot": tcot, "opw": opw,
                "mean_euclidean": mean_euclidean}[metric]
    D = pairwise_sequence_distances(X, Y, metric=metric, **params)
    expected = np.array([[per_pair(x, y, **params) for y in Y] for x in X])
    np.testing.assert_allclose(D, expected, rtol=1e-10, atol=1e-12)
    # NaN padding appended to every sequence changes nothing
    T = max(map(len, X)) + 3
    Xp = np.full((len(X), T, 3), np.nan)
    for i, x in enumerate(X):
        Xp[i, : len(x)] = x
    np.testing.assert_allclose(pairwise_sequence_distances(Xp, Y, metric=metric, **params), D,
                               rtol=1e-10, atol=1e-12)
    # blocks of any size give the same matrix
    np.testing.assert_allclose(
        pairwise_sequence_distances(X, Y, metric=metric, block_size=(2, 3), **params), D,
        rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("metric, params", [
    ("sinkhorn", {}), ("opw", {}), ("tcot", {}), ("cmot", dict(max_iter=5)),
    ("deepemd", dict(solver="sinkhorn", reg=0.1, max_iter=20)),
])
def test_iterative_metrics_do_not_depend_on_blocks(metric, params):
    """Stopped before convergence, d(x, y) != d(y, x) (by up to 15% for OPW here): an X-vs-X
    matrix must hold d(x_i, x_j) in every entry, never a mirrored d(x_j, x_i), so that
    ``block_size`` (a memory knob) cannot change it."""
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(t, 3)) for t in (5, 20, 2, 9)]
    ref = np.array([[pairwise_sequence_distances([x], [y], metric=metric, **params)[0, 0]
                     for y in X] for x in X])
    assert np.abs(ref - ref.T).max() > 1e-6  # the asymmetry this test is about
    for bs in (None, 1, 3):
        D = pairwise_sequence_distances(X, metric=metric, block_size=bs, **params)
        np.testing.assert_allclose(D, ref, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("metric", ["sinkhorn", "opw", "tcot", "cmot"])
def test_one_sequence_against_several_with_cosine_cost(metric):
    """Regression: the cosine cost of a 1 x n block is a non-contiguous view, which the
    Sinkhorn scalings' product buffer could not be viewed from (RuntimeError)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3))
    ys = [rng.normal(size=(1, 3)), rng.normal(size=(4, 3)), rng.normal(size=(3, 3))]
    D = pairwise_sequence_distances([x], ys, metric=metric, cost="cosine")
    ref = [pairwise_sequence_distances([x], [y], metric=metric, cost="cosine")[0, 0]
           for y in ys]
    np.testing.assert_allclose(D[0], ref, rtol=1e-9, atol=1e-12)


def test_symmetric_metrics_self_distance_matrix():
    X = ragged(8, 7)
    D = pairwise_sequence_distances(X, metric="emd", block_size=3)
    np.testing.assert_allclose(D, D.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(D), 0.0, atol=1e-12)
    np.testing.assert_allclose(D, pairwise_sequence_distances(X, list(X), metric="emd"),
                               atol=1e-12)


def test_torch_gradients_flow_to_frames():
    x = torch.tensor(np.random.default_rng(9).normal(size=(5, 3)), requires_grad=True)
    y = torch.tensor(np.random.default_rng(10).normal(size=(4, 3)))
    for fn, kw in ((sinkhorn, {"reg": 0.5}), (emd, {}), (opw, {}), (tcot, {})):
        x.grad = None
        d = fn(x, y, **kw)
        assert isinstance(d, torch.Tensor) and d.requires_grad
        d.backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # emd: gradient of <P, C(x)> w.r.t. x with P fixed, by finite differences
    x0 = x.detach().numpy()
    P = ot.emd(unif(5), unif(4), ot.dist(x0, y.numpy()))
    x.grad = None
    emd(x, y).backward()
    expected = 2 * (P.sum(1)[:, None] * x0 - P @ y.numpy())
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-10)


def _constraint_cases():
    """Every declared constraint of the module's public functions (and of the pairwise
    driver), violated once."""
    from seqot.utils.estimator_checks import function_constraint_cases

    x, y = ragged(11, 2)
    calls = [(sinkhorn, (x, y)), (emd, (x, y)), (opw, (x, y)), (tcot, (x, y)),
             (mean_euclidean, (x, y)), (pairwise_sequence_distances, ([x, y],))]
    return [case for fn, args in calls for case in function_constraint_cases(fn, args)]


@pytest.mark.parametrize("func, args, kwargs, name", _constraint_cases(),
                         ids=lambda v: getattr(v, "__name__", v) if isinstance(v, str)
                         or callable(v) else None)
def test_functions_refuse_every_constraint_violation(func, args, kwargs, name):
    from seqot.utils.estimator_checks import check_function_constraint

    check_function_constraint(func, args, kwargs, name)


@pytest.mark.parametrize("metric", ["sinkhorn", "emd", "opw", "tcot"])
def test_the_pairwise_metrics_share_the_function_checks(metric):
    """The registered metric checks the constraints of the function of the same name."""
    import seqot.distances
    from seqot.utils._param_validation import InvalidParameterError
    from seqot.utils.estimator_checks import invalid_parameter_values

    fn = getattr(seqot.distances, metric)
    x, y = ragged(12, 2)
    for name, entry in fn._skl_parameter_constraints.items():
        for bad in invalid_parameter_values(entry):
            with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {metric}"):
                pairwise_sequence_distances([x, y], metric=metric, **{name: bad})


def test_parameter_errors():
    """What no constraint says: the data, a block size pair, the metric's name."""
    x, y = ragged(11, 2)
    with pytest.raises(ValueError, match="y has 2 features, but the estimator is expecting 3"):
        emd(x, np.ones((3, 2)))
    with pytest.raises(ValueError, match="block_size must be a positive int or a pair"):
        pairwise_sequence_distances([x, y], block_size=(1, 0))
    with pytest.raises(ValueError, match="block_size must be a positive int or a pair"):
        pairwise_sequence_distances([x, y], block_size=(1, 2, 3))
    with pytest.raises(ValueError, match=r"metric='nope' is not known; choose one of \[.*'dtw'"):
        pairwise_sequence_distances([x, y], metric="nope")
    with pytest.raises(ValueError, match="unbalanced must be a number or a pair"):
        sinkhorn(x, y, unbalanced=(1.0, 2.0, 3.0))


def test_get_metric_returns_the_registered_entry():
    from seqot.distances import available_metrics, get_metric, register_metric
    from seqot.distances._pairwise import _METRICS

    for name in available_metrics():
        assert get_metric(name) is _METRICS[name]
    assert get_metric("sinkhorn")._seqot_constraints["reg"]  # checked entry
    fn = get_metric("dtw")
    assert get_metric(fn) is fn  # a callable is its own entry
    for bad in ("nope", 3, None):
        with pytest.raises(ValueError, match=r"is not known; choose one of \[.*'sinkhorn'"):
            get_metric(bad)
    assert register_metric.__module__ == get_metric.__module__


def test_distance_transformer_in_a_pipeline_with_gridsearch():
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline

    rng = np.random.default_rng(12)
    X = [rng.normal(size=(int(rng.integers(3, 8)), 2)) + 2 * (i % 2) for i in range(30)]
    y = np.arange(30) % 2
    pipe = Pipeline([("d", SequenceDistanceTransformer(metric="sinkhorn", device="cpu")),
                     ("knn", KNeighborsClassifier(1, metric="precomputed"))])
    grid = GridSearchCV(pipe, {"d__metric_params": [{"reg": 0.1}, {"reg": 1.0}]}, cv=3)
    grid.fit(X, y)
    assert grid.best_score_ > 0.8
    D = SequenceDistanceTransformer(metric="emd").fit(X).transform(X[:4])
    np.testing.assert_allclose(D, pairwise_sequence_distances(X[:4], X, metric="emd"))


@pytest.mark.slow
@pytest.mark.parametrize("metric, floor", [("emd", 0.94)])
def test_japanese_vowels_1nn(metric, floor):
    from seqot.datasets import load_japanese_vowels
    from seqot.neighbors import KNeighborsSequenceClassifier

    jv = load_japanese_vowels()
    clf = KNeighborsSequenceClassifier(metric=metric, device="cpu", n_jobs=2)
    acc = clf.fit(jv.X_train, jv.y_train).score(jv.X_test, jv.y_test)
    assert acc >= floor  # published reference about 0.951 for an order-blind EMD


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean", "cosine"])
def test_pairwise_frame_cost_layouts_agree(cost):
    from seqot.ot import pairwise_frame_cost

    rng = np.random.default_rng(13)
    X = torch.tensor(rng.normal(size=(4, 5, 3)))
    Y = torch.tensor(rng.normal(size=(3, 6, 3)))
    X[0, 4] = 0.0  # a zero (padding) frame
    first = pairwise_frame_cost(X, Y, cost)
    last = pairwise_frame_cost(X, Y, cost, problems_last=True)
    assert last.shape == (5, 6, 4, 3) and last.is_contiguous()
    np.testing.assert_allclose(last.permute(2, 3, 0, 1).numpy(), first.numpy(), atol=1e-12)
    brute = {"sqeuclidean": ot.dist(X[1].numpy(), Y[2].numpy()),
             "euclidean": ot.dist(X[1].numpy(), Y[2].numpy(), metric="euclidean"),
             "cosine": ot.dist(X[1].numpy(), Y[2].numpy(), metric="cosine")}[cost]
    np.testing.assert_allclose(first[1, 2].numpy(), brute, atol=1e-10)


# ---------------------------------------------------------------------------
# Convergence reports of the Sinkhorn-based distances (issue 17)
# ---------------------------------------------------------------------------
def _convergence_warnings(fn, *args, action="always", **kwargs):
    """fn(*args, **kwargs) and the SinkhornConvergenceWarnings a user would see under the
    warning filter ``action`` ("default" is Python's own, outside pytest)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        value = fn(*args, **kwargs)
    return value, [w for w in caught if issubclass(w.category, SinkhornConvergenceWarning)]


@pytest.mark.parametrize("fn, failing, converging", [
    (sinkhorn, dict(reg=1e-6), dict(reg=1.0, max_iter=1000)),
    (tcot, dict(reg=1e-5, max_iter=20, tol=1e-9), {}),
    (opw, dict(tol=1e-9, max_iter=20), dict(tol=1e-9, max_iter=5000)),
    (cmot, dict(reg=1e-5, max_iter=10), {}),
])
def test_distances_warn_when_their_solve_did_not_converge(fn, failing, converging):
    """Before, sinkhorn(x, y, reg=1e-6) returned a bare float from a plan with rows off by
    70% (below the EMD, and != d(y, x)). Now an unconverged solve warns, a converged one
    does not."""
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    value, caught = _convergence_warnings(fn, x, y, **failing)
    assert np.isfinite(value) and len(caught) == 1
    message = str(caught[0].message)
    assert fn.__name__ in message and "did not converge" in message
    _, caught = _convergence_warnings(fn, x, y, **converging)
    assert not caught


def test_opw_at_the_authors_fixed_iterations_is_not_checked():
    """tol=0 (OPW's default: the authors' 20 iterations) runs the fixed procedure, unchecked."""
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    _, caught = _convergence_warnings(opw, x, y)
    assert not caught


@pytest.mark.parametrize("metric, params", [
    ("sinkhorn", dict(reg=1e-6)),
    ("tcot", dict(reg=1e-5, max_iter=20, tol=1e-9)),
    ("opw", dict(tol=1e-9, max_iter=20)),
    ("cmot", dict(reg=1e-5, max_iter=10)),
])
def test_pairwise_distances_warn_once_per_call(metric, params):
    """The warning's text depends on the metric and its parameters only, so the default filter
    shows it once for a pairwise call, however many blocks warn."""
    X = ragged(15, 6)
    D, caught = _convergence_warnings(pairwise_sequence_distances, X, metric=metric,
                                      block_size=2, action="default", **params)
    assert np.isfinite(D).all() and len(caught) == 1
    # several blocks did warn: under "always" each one shows
    _, caught = _convergence_warnings(pairwise_sequence_distances, X, metric=metric,
                                      block_size=2, action="always", **params)
    assert len(caught) > 1
