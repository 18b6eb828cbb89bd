"""Property-based tests of the OT solvers, cost builders and sequence distances.

Contract: every call returns finite output of the right shape, or raises a clean
``ValueError``/``TypeError`` from seqot naming the problem (see ``_hypothesis_utils``).
"""

import numpy as np
import pytest
import torch
from _hypothesis_utils import (
    assert_finite,
    raises_clean,
    seeds,
    sequence_collections,
    to_nan_padded,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from seqot.distances import available_metrics, pairwise_sequence_distances
from seqot.distances import otam as otam_distance
from seqot.distances import sinkhorn as sinkhorn_distance
from seqot.distances import soft_dtw as soft_dtw_distance
from seqot.ot import asot, emd, frame_cost, pairwise_frame_cost, sinkhorn


# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------
@st.composite
def cost_problems(draw, max_n=6, max_m=6, batch=True):
    """``(C, a, b)`` numpy: costs spanning up to 6 decades, random weights with padding."""
    B = draw(st.integers(1, 3)) if batch else 1
    n, m = draw(st.integers(1, max_n)), draw(st.integers(1, max_m))
    rng = np.random.default_rng(draw(seeds))
    spread = draw(st.sampled_from([0, 3, 6]))
    offset = draw(st.sampled_from([0.0, 1.0, 1e3]))
    C = rng.random((B, n, m)) * 10.0 ** rng.uniform(-spread / 2, spread / 2, (B, n, m)) + offset
    if draw(st.booleans()):
        C[:] = C[:, :1, :1]  # constant costs
    a = rng.random((B, n)) + 1e-3
    b = rng.random((B, m)) + 1e-3
    if draw(st.booleans()) and n > 1:
        a[:, -1] = 0.0  # padding
    a /= a.sum(1, keepdims=True)
    b /= b.sum(1, keepdims=True)
    return C, a, b


_REGS = st.sampled_from([1e-6, 1e-3, 1e-1, 1.0, 1e3, 1e6])
_UNBALANCED = st.sampled_from([None, 1e-3, 1.0, 1e3, (None, 1.0), (1.0, None)])


# ---------------------------------------------------------------------------
# sinkhorn
# ---------------------------------------------------------------------------
@settings(max_examples=20)
@given(cost_problems(), _REGS, _UNBALANCED, st.sampled_from([torch.float32, torch.float64]))
def test_sinkhorn_finite_for_extreme_reg_and_costs(problem, reg, unbalanced, dtype):
    C, a, b = problem
    Ct, at, bt = (torch.as_tensor(v, dtype=dtype) for v in (C, a, b))
    res = sinkhorn(Ct, at, bt, reg=reg, unbalanced=unbalanced, max_iter=200)
    for v in (res.plan, res.value, res.value_linear, *res.potentials):
        assert_finite(v)
    assert res.plan.shape == C.shape
    assert bool((res.plan >= 0).all())
    # padding carries no mass
    assert not bool(res.plan[torch.as_tensor(a) == 0].any())
    if unbalanced is None:
        mass = res.plan.sum((1, 2))
        torch.testing.assert_close(mass, torch.ones_like(mass), rtol=1e-3, atol=1e-3)


@settings(max_examples=15)
@given(cost_problems(max_n=4, max_m=4), _REGS, _UNBALANCED,
       st.sampled_from(["autodiff", "envelope"]), st.sampled_from([torch.float32, torch.float64]))
def test_sinkhorn_gradients_are_finite(problem, reg, unbalanced, grad, dtype):
    C, a, b = problem
    Ct = torch.tensor(C, dtype=dtype, requires_grad=True)
    at = torch.tensor(a, dtype=dtype, requires_grad=True)
    bt = torch.tensor(b, dtype=dtype, requires_grad=True)
    res = sinkhorn(Ct, at, bt, reg=reg, unbalanced=unbalanced, grad=grad, max_iter=50)
    (res.value.sum() + res.value_linear.sum()).backward()
    for t in (Ct, at, bt):
        assert t.grad is not None
        assert_finite(t.grad, "gradient")


def test_sinkhorn_detach_returns_constants():
    C = torch.rand(3, 4, requires_grad=True)
    res = sinkhorn(C, reg=0.1, grad="detach")
    assert not res.value.requires_grad and not res.plan.requires_grad


@pytest.mark.parametrize("kwargs, match", [
    (dict(reg=-1.0), "reg"),
    (dict(reg=0.0), "reg"),
    (dict(reg=np.nan), "reg"),
    (dict(reg=np.inf), "reg"),
    (dict(reg="0.1"), "reg"),
    (dict(reg=None), "reg"),
    (dict(reg=[0.1, -0.1]), "reg"),
    (dict(reg=np.array([0.1, 0.1, 0.1])), "reg"),
    (dict(reg=0.1, max_iter=0), "max_iter"),
    (dict(reg=0.1, max_iter=2.5), "max_iter"),
    (dict(reg=0.1, tol=-1.0), "tol"),
    (dict(reg=0.1, tol=np.nan), "tol"),
    (dict(reg=0.1, check_every=0), "check_every"),
    (dict(reg=0.1, grad="backprop"), "grad"),
    (dict(reg=0.1, unbalanced=-1.0), "unbalanced"),
    (dict(reg=0.1, unbalanced=np.nan), "unbalanced"),
    (dict(reg=0.1, unbalanced=(1.0, 2.0, 3.0)), "unbalanced"),
    (dict(reg=0.1, a=[0.5, 0.5]), r"\ba\b.*shape"),
    (dict(reg=0.1, a=np.ones((4, 1))), r"\ba\b.*shape"),
    (dict(reg=0.1, b=-np.ones(5)), r"\bb\b.*non-negative"),
    (dict(reg=0.1, a=np.zeros(4)), r"\ba\b.*mass"),
    (dict(reg=0.1, a=np.full(4, np.nan)), r"\ba\b.*finite"),
    (dict(reg=0.1, a=["x"] * 4), r"\ba\b.*numeric"),
    (dict(reg=0.1, b=np.ones(5) * 1j), r"complex.*\bb\b"),
    (dict(reg=0.1, warm_start=5), "warm_start"),
    (dict(reg=0.1, warm_start=(np.zeros(3), np.zeros(5))), "warm_start"),
    (dict(reg=0.1, warm_start=(np.zeros(4), np.full(5, np.inf))), "warm_start"),
])
def test_sinkhorn_bad_hyper_parameters(kwargs, match):
    C = np.random.default_rng(0).random((4, 5))
    raises_clean(match, sinkhorn, C, **kwargs)


@pytest.mark.parametrize("C, match", [
    (np.zeros((0, 3)), "empty"),
    (np.zeros(3), "shape"),
    (np.zeros((2, 2, 2, 2)), "shape"),
    (np.array([[0.0, np.nan]]), "NaN"),
    (np.array([[0.0, np.inf]]), "infinity"),
    ([[1.0, "a"]], r"\bC\b.*numeric"),
    (np.array([[1 + 1j]]), "complex"),
    (torch.zeros((2, 2), dtype=torch.complex64), "complex"),
    (None, r"\bC\b"),
    ("abc", r"\bC\b"),
    (np.array([np.zeros(2), np.zeros(3)], dtype=object), r"\bC\b"),
])
@pytest.mark.parametrize("solver", ["sinkhorn", "emd"])
def test_malformed_costs(C, match, solver):
    if solver == "sinkhorn":
        raises_clean(match, sinkhorn, C, reg=0.1)
    else:
        raises_clean(match, emd, C)


def test_sinkhorn_warm_start_of_wrong_size_is_a_clean_error():
    """Regression: a warm start of the wrong size raised a raw torch RuntimeError."""
    raises_clean("warm_start", sinkhorn, np.ones((4, 5)), reg=0.1,
                  warm_start=(np.zeros(3), np.zeros(5)))


def test_sinkhorn_non_numeric_weights_are_a_clean_error():
    """Regression: string weights raised torch's "can't convert np.ndarray" TypeError."""
    raises_clean(r"\ba\b.*numeric", sinkhorn, np.ones((2, 2)), ["x", "y"], reg=0.1)


def test_sinkhorn_complex_cost_is_rejected_not_truncated():
    """Regression: a complex numpy cost was cast to real with only a torch warning."""
    raises_clean("complex", sinkhorn, np.array([[1.0 + 1.0j, 0.0]]), reg=0.1)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_])
def test_sinkhorn_and_emd_accept_low_precision_and_integer_costs(dtype):
    C = (np.arange(6).reshape(2, 3) % 2).astype(dtype)
    for res in (sinkhorn(C, reg=0.5), emd(C)):
        assert_finite(res.value)
        assert res.plan.dtype in (np.float32, np.float64)


# ---------------------------------------------------------------------------
# emd
# ---------------------------------------------------------------------------
@settings(max_examples=20)
@given(cost_problems(), st.sampled_from([1e-8, 1.0, 1e8]))
def test_emd_finite_and_feasible(problem, scale):
    C, a, b = problem
    res = emd(C * scale, a, b)
    assert_finite(res.value)
    assert_finite(res.plan)
    assert np.all(res.value >= 0)
    np.testing.assert_allclose(res.plan.sum(2), a, atol=1e-9)
    # gradients through torch
    Ct = torch.tensor(C * scale, requires_grad=True)
    emd(Ct, torch.as_tensor(a), torch.as_tensor(b)).value.sum().backward()
    assert_finite(Ct.grad)


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_iter=0), "max_iter"),
    (dict(a=np.ones(4), b=np.ones(5)), "mass"),
    (dict(a=-np.ones(4)), "non-negative"),
    (dict(a=np.zeros(4)), "mass"),
])
def test_emd_bad_parameters(kwargs, match):
    raises_clean(match, emd, np.ones((4, 5)), **kwargs)


# ---------------------------------------------------------------------------
# cost builders
# ---------------------------------------------------------------------------
@settings(max_examples=20)
@given(sequence_collections(max_n=3, max_len=5, kinds=("normal", "zeros", "constant")),
       st.sampled_from(["sqeuclidean", "euclidean", "cosine"]), st.booleans(),
       st.sampled_from([torch.float32, torch.float64]))
def test_cost_builders_finite_with_zero_and_duplicate_frames(seqs, metric, problems_last,
                                                             dtype):
    Xp = np.nan_to_num(to_nan_padded(seqs))
    X = torch.tensor(Xp, dtype=dtype, requires_grad=True)
    C = pairwise_frame_cost(X, X, metric, problems_last=problems_last)
    assert_finite(C)
    assert bool((C >= 0).all())
    C.sum().backward()
    assert_finite(X.grad, "gradient")
    X.grad = None
    Cp = frame_cost(X, X, metric)
    assert_finite(Cp)
    Cp.sum().backward()
    assert_finite(X.grad, "gradient")
    expected = C.detach().permute(2, 3, 0, 1) if problems_last else C.detach()
    diag = torch.stack([expected[i, i] for i in range(len(seqs))])
    Cp = Cp.detach()
    if metric == "euclidean":
        # both come from |x|^2 + |y|^2 - 2<x, y>: compare the squares, where the rounding
        # error is eps * |x|^2 (the square root amplifies it near zero)
        Cp, diag = Cp ** 2, diag ** 2
    scale = float((X.detach() ** 2).sum(-1).max()) if metric != "cosine" else 1.0
    tol = 64 * torch.finfo(dtype).eps
    torch.testing.assert_close(Cp, diag, rtol=tol, atol=tol * scale + 1e-30)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cosine_cost_is_scale_free(scale, dtype):
    """Regression: cosine costs of float32 frames ~1e20 were NaN (the norms overflowed)."""
    X = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]], dtype=dtype) * scale
    for C in (frame_cost(X, X, "cosine"), pairwise_frame_cost(X, X, "cosine")[0, 0],
              pairwise_frame_cost(X, X, "cosine", problems_last=True)[:, :, 0, 0]):
        expected = torch.tensor([[0.0, 1 - 2 ** -0.5], [1 - 2 ** -0.5, 0.0]], dtype=dtype)
        torch.testing.assert_close(C[0] if C.ndim == 3 else C, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("X, Y, match", [
    (torch.zeros(1, 2, 2), torch.zeros(1, 2, 3), "feature dimension"),
    (torch.zeros(2, 2, 2), torch.zeros(3, 2, 2), "problems"),
    (np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), "torch.Tensor"),
    (torch.zeros(2, 2), torch.zeros(1, 2, 2), "3-D"),
    (torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long), "floating"),
])
def test_frame_cost_bad_input(X, Y, match):
    """Regression: mismatched feature dimensions raised a raw torch bmm RuntimeError."""
    raises_clean(match, frame_cost, X, Y)


def test_pairwise_frame_cost_mismatched_dims():
    raises_clean("feature dimension", pairwise_frame_cost, torch.zeros(1, 2, 2),
                  torch.zeros(1, 2, 3))
    raises_clean("feature dimension", pairwise_frame_cost, torch.zeros(1, 2, 2),
                  torch.zeros(1, 2, 3), problems_last=True)


# ---------------------------------------------------------------------------
# asot
# ---------------------------------------------------------------------------
@st.composite
def asot_problems(draw):
    N, K = draw(st.integers(1, 10)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(seeds))
    kind = draw(st.sampled_from(["random", "constant", "wide", "huge"]))
    if kind == "constant":
        C = np.full((N, K), draw(st.sampled_from([0.0, 1.0, -3.0])))
    elif kind == "wide":
        C = rng.random((N, K)) * 10.0 ** rng.uniform(-3, 3, (N, K))
    elif kind == "huge":
        C = rng.standard_normal((N, K)) * 1e6
    else:
        C = rng.random((N, K))
    return C


@settings(max_examples=25)
@given(asot_problems(),
       st.sampled_from([0.0, 1e-9, 0.3, 0.999]),
       st.sampled_from([1e-9, 0.05, 1e6]),
       st.sampled_from([1e-8, 0.07, 1e3]),
       st.booleans(), st.sampled_from([torch.float32, torch.float64]))
def test_asot_finite_plans(C, alpha, lam, eps, balanced, dtype):
    res = asot(torch.as_tensor(C, dtype=dtype), alpha=alpha, lambda_actions=lam, reg=eps,
               balanced=balanced, max_iter=5, sinkhorn_max_iter=20)
    assert_finite(res.plan)
    assert_finite(res.objective)
    assert_finite(res.step_size)
    assert res.plan.shape == C.shape
    torch.testing.assert_close(res.plan.sum(1), torch.ones(C.shape[0], dtype=dtype),
                               rtol=1e-3, atol=1e-3)


# plain bad values of asot's parameters are driven by its declared constraints in
# tests/test_asot_solver.py; the mask is data
@pytest.mark.parametrize("kwargs, match", [
    (dict(mask=np.ones(6)), "mask.*boolean"),
    (dict(mask=np.ones(5, dtype=bool)), "mask.*shape"),
    (dict(mask=np.array([True, False, True, True, True, True])), "mask.*prefix"),
])
def test_asot_bad_masks(kwargs, match):
    raises_clean(match, asot, np.random.default_rng(0).random((6, 3)), **kwargs)


@pytest.mark.parametrize("cost, match", [
    (np.zeros((0, 3)), "no frames"), (np.zeros((3, 0)), "K = 0"),
    (np.array([[np.nan, 0.0]]), "NaN"), ([], "empty"), (np.zeros(3), "shape"),
    ([np.ones((2, 3)), np.ones((2, 4))], "same number of actions"),
    ([np.ones((2, 3)), np.zeros((0, 3))], r"cost\[1\].*no frames"),
    ("abc", r"cost.*numeric"), ([[1.0, "a"]], r"cost.*numeric"),
    (np.ones((2, 2)) * 1j, "complex"),
])
def test_asot_malformed_costs(cost, match):
    raises_clean(match, asot, cost)


# ---------------------------------------------------------------------------
# distances through the pairwise driver
# ---------------------------------------------------------------------------
_SIGNED = {"soft_dtw", "otam", "tap"}  # may be negative (soft minima / learned alignments)
_SELF_ZERO = {"dtw", "emd", "mean_euclidean"}
_METRIC_PARAMS = {"sinkhorn": dict(reg=1e-6)}


def test_every_registered_metric_is_covered():
    expected = {"dtw", "soft_dtw", "otam", "sinkhorn", "emd", "opw", "tcot", "cmot",
                "mean_euclidean", "deepemd", "mean_cosine", "local_knn", "tap"}
    assert expected <= set(available_metrics())


@pytest.mark.parametrize("metric", sorted(available_metrics()))
@settings(max_examples=6)
@given(data=st.data())
def test_pairwise_distances_finite_on_ragged_collections(metric, data):
    X = data.draw(sequence_collections(max_n=4, max_len=8, max_dim=3))
    d = X[0].shape[1]
    Y = data.draw(st.one_of(st.none(), sequence_collections(max_n=3, max_len=8, dim=d)))
    D = pairwise_sequence_distances(X, Y, metric=metric)
    n_y = len(X) if Y is None else len(Y)
    assert D.shape == (len(X), n_y)
    assert_finite(D, f"{metric} distances")
    if metric not in _SIGNED:
        scale = max(1.0, float(np.abs(D).max()))
        assert np.all(D >= -1e-6 * scale), f"{metric} gave negative values: {D.min()}"
    if metric in _SELF_ZERO and Y is None:
        np.testing.assert_allclose(np.diag(D), 0.0, atol=1e-9 * max(1.0, float(D.max())))


@pytest.mark.parametrize("metric", sorted(available_metrics()))
def test_pairwise_distances_length_one_and_constant_sequences(metric):
    X = [np.zeros((1, 2)), np.ones((1, 2)), np.ones((5, 2)), np.full((3, 2), 1e8)]
    D = pairwise_sequence_distances(X, metric=metric)
    assert D.shape == (4, 4)
    assert_finite(D)


@pytest.mark.parametrize("metric", sorted(available_metrics()))
def test_pairwise_distances_mismatched_feature_dims(metric):
    X = [np.zeros((3, 2))]
    Y = [np.zeros((3, 3))]
    raises_clean("features", pairwise_sequence_distances, X, Y, metric=metric)


@pytest.mark.parametrize("metric", sorted(available_metrics()))
def test_pairwise_distances_float32_extreme_scales(metric):
    rng = np.random.default_rng(0)
    for scale in (1e-8, 1e8):
        X = [(rng.standard_normal((t, 2)) * scale).astype(np.float32) for t in (1, 4, 7)]
        D = pairwise_sequence_distances(X, metric=metric)
        assert D.dtype == np.float32
        assert_finite(D, f"{metric} at scale {scale}")


@pytest.mark.parametrize("metric, params, match", [
    ("soft_dtw", dict(gamma=0.0), "gamma"), ("soft_dtw", dict(gamma=-1.0), "gamma"),
    ("soft_dtw", dict(gamma=np.nan), "gamma"), ("otam", dict(gamma=0.0), "gamma"),
    ("sinkhorn", dict(reg=-1.0), "reg"), ("sinkhorn", dict(reg=np.nan), "reg"),
    ("sinkhorn", dict(max_iter=0), "max_iter"), ("opw", dict(reg=0.0), "reg"),
    ("opw", dict(lambda1=-1.0), "lambda1"), ("opw", dict(delta=0.0), "delta"),
    ("tcot", dict(reg=0.0), "reg"), ("cmot", dict(sigma=0.0), "sigma"),
    ("dtw", dict(cost="l1"), "cost|metric"), ("emd", dict(cost="l1"), "cost|metric"),
    ("local_knn", dict(n_neighbors=0), "n_neighbors"),
    ("deepemd", dict(solver="cg"), "solver"), ("tap", dict(direction="up"), "direction"),
])
def test_pairwise_bad_metric_params(metric, params, match):
    X = [np.zeros((3, 2)), np.ones((2, 2))]
    raises_clean(match, pairwise_sequence_distances, X, metric=metric, **params)


@pytest.mark.parametrize("metric, params", [
    ("soft_dtw", dict(gamma=1e-6)), ("soft_dtw", dict(gamma=1e6)),
    ("otam", dict(gamma=1e-6)), ("otam", dict(gamma=1e6)),
    ("opw", dict(lambda1=1e-9, reg=1e-6)), ("opw", dict(lambda1=1e6, reg=1e6)),
    ("opw", dict(delta=1e-6)), ("tcot", dict(reg=1e-6)), ("tcot", dict(reg=1e6)),
    ("sinkhorn", dict(reg=1e-8)), ("sinkhorn", dict(reg=1e8)),
    ("sinkhorn", dict(reg=1e-3, unbalanced=1e-6)),
    ("cmot", dict(alpha=0.0, sigma=1e-6)), ("cmot", dict(reg=1e-6, lambda_scale=1e6)),
    ("deepemd", dict(solver="sinkhorn", reg=1e-8)), ("local_knn", dict(n_neighbors=100)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_extreme_metric_params(metric, params, dtype):
    rng = np.random.default_rng(1)
    X = [rng.standard_normal((t, 2)).astype(dtype) * s for t, s in ((1, 1.0), (5, 1e3), (8, 1e-3))]
    D = pairwise_sequence_distances(X, metric=metric, **params)
    assert_finite(D, f"{metric} {params}")


# ---------------------------------------------------------------------------
# gradients at the edges
# ---------------------------------------------------------------------------
def _grad_of(fn, x, y):
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    out = fn(xt, yt)
    assert_finite(out)
    out.backward()
    assert_finite(xt.grad, "grad x")
    assert_finite(yt.grad, "grad y")


_EDGE_PAIRS = {
    "identical": lambda rng: (lambda x: (x, x.copy()))(rng.standard_normal((4, 2))),
    "length_one": lambda rng: (rng.standard_normal((1, 2)), rng.standard_normal((1, 2))),
    "one_vs_many": lambda rng: (rng.standard_normal((1, 2)), rng.standard_normal((6, 2))),
    "constant": lambda rng: (np.ones((3, 2)), np.ones((5, 2))),
    "zeros": lambda rng: (np.zeros((3, 2)), np.zeros((2, 2))),
    "huge": lambda rng: (rng.standard_normal((3, 2)) * 1e4, rng.standard_normal((4, 2)) * 1e4),
}


@pytest.mark.parametrize("edge", sorted(_EDGE_PAIRS))
@pytest.mark.parametrize("name, fn", [
    ("soft_dtw", lambda x, y: soft_dtw_distance(x, y, gamma=1.0)),
    ("soft_dtw_tiny_gamma", lambda x, y: soft_dtw_distance(x, y, gamma=1e-6)),
    ("soft_dtw_euclidean", lambda x, y: soft_dtw_distance(x, y, gamma=1e-3, cost="euclidean")),
    ("sinkhorn", lambda x, y: sinkhorn_distance(x, y, reg=0.1)),
    ("sinkhorn_tiny_reg", lambda x, y: sinkhorn_distance(x, y, reg=1e-6)),
    ("sinkhorn_euclidean", lambda x, y: sinkhorn_distance(x, y, reg=1e-2, cost="euclidean")),
    ("otam", lambda x, y: otam_distance(x, y, gamma=0.1)),
    ("otam_tiny", lambda x, y: otam_distance(x, y, gamma=1e-6, bidirectional=True)),
])
def test_distance_gradients_finite_at_edges(edge, name, fn):
    x, y = _EDGE_PAIRS[edge](np.random.default_rng(0))
    _grad_of(fn, x, y)


@settings(max_examples=10)
@given(sequence_collections(max_n=3, max_len=6, max_dim=3),
       st.sampled_from(["soft_dtw", "sinkhorn", "otam", "dtw", "emd"]))
def test_pairwise_gradients_finite(seqs, metric):
    ts = [torch.tensor(s, requires_grad=True) for s in seqs]
    D = pairwise_sequence_distances(ts, metric=metric)
    assert_finite(D)
    D.sum().backward()
    for t in ts:
        assert_finite(t.grad, f"{metric} gradient")


def test_asot_list_with_an_empty_video_is_a_clean_error():
    """Regression: a zero-frame video in a list was solved silently (an empty plan)."""
    raises_clean(r"cost\[1\].*no frames", asot, [np.ones((2, 3)), np.zeros((0, 3))])


def test_sinkhorn_float32_tiny_reg_keeps_the_marginals():
    """Regression: float32 at reg=1e-6 lost ~1% of the mass (exponents C/reg ~ 6e5 rounded)."""
    C = torch.tensor([[0.63696169], [0.26978671]], dtype=torch.float32)
    a = torch.tensor([0.47121416, 0.52878584], dtype=torch.float32)
    res = sinkhorn(C, a, reg=1e-6)
    assert res.plan.dtype == torch.float32
    torch.testing.assert_close(res.plan[:, 0], a)
    torch.testing.assert_close(res.value_linear, (a * C[:, 0]).sum())


def test_mean_euclidean_self_distance_gradient_is_finite():
    """Regression: sqrt at a zero distance gave a NaN gradient (identical means)."""
    x = torch.tensor([[1.25730221e-09]], dtype=torch.float32, requires_grad=True)
    D = pairwise_sequence_distances([x], metric="mean_euclidean")
    D.sum().backward()
    assert_finite(x.grad)


@pytest.mark.parametrize("metric, params, seqs", [
    ("soft_dtw", dict(gamma=1e-6), [[[18.90533818], [-52.27484415]]]),
    ("soft_dtw", dict(gamma=1e6), [[[12573022.1]], [[-13210486.3], [64042265.0]]]),
    ("soft_dtw", dict(gamma=1e-3, cost="euclidean"), [[[12573022.1], [-13210486.3],
                                                       [64042265.0]]]),
    ("otam", dict(gamma=1e-6, cost="euclidean", bidirectional=True),
     [[[1257.30221], [-1321.04863], [6404.22650]]]),
    ("otam", dict(gamma=10.0), [[[12573022.1]], [[-13210486.3], [64042265.0]]]),
])
def test_soft_alignment_gradients_finite_in_float32_at_extreme_gamma(metric, params, seqs):
    """Regression: the soft-DTW backward exponentiated N - (N + C/gamma), which cancels
    catastrophically in float32 when C/gamma is huge: exp overflowed and 0 * inf gave NaN."""
    ts = [torch.tensor(s, dtype=torch.float32, requires_grad=True) for s in seqs]
    D = pairwise_sequence_distances(ts, metric=metric, **params)
    assert_finite(D)
    D.sum().backward()
    for t in ts:
        assert_finite(t.grad, "gradient")


@settings(max_examples=10)
@given(sequence_collections(max_n=3, max_len=5, max_dim=2, dtype=np.float32),
       st.sampled_from([("soft_dtw", dict(gamma=1e-6)), ("soft_dtw", dict(gamma=1e6)),
                        ("otam", dict(gamma=1e-6)), ("sinkhorn", dict(reg=1e-6)),
                        ("mean_euclidean", {}), ("opw", dict(reg=1e-6))]))
def test_float32_gradients_finite_at_extreme_params(seqs, case):
    metric, params = case
    ts = [torch.tensor(s, requires_grad=True) for s in seqs]
    D = pairwise_sequence_distances(ts, metric=metric, **params)
    assert_finite(D)
    D.sum().backward()
    for t in ts:
        assert_finite(t.grad, f"{metric} gradient")


def test_sinkhorn_accepts_a_zero_dim_tensor_reg():
    """Regression (review): reg=torch.tensor(0.1) fell through to the scalar check."""
    C = np.random.default_rng(0).random((4, 5))
    a = sinkhorn(C, reg=torch.tensor(0.1)).value
    b = sinkhorn(C, reg=float(torch.tensor(0.1))).value  # the same float32-rounded reg
    np.testing.assert_allclose(a, b, rtol=1e-12)
