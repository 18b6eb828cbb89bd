"""DTW, soft-DTW and OTAM: engine against brute force, tslearn, gradcheck, pairwise driver."""

import numpy as np
import pytest
import torch

from seqot.distances import _dtw as dtw_mod
from seqot.distances import dtw, otam, pairwise_sequence_distances, soft_dtw
from seqot.ot import _alignment as alignment_mod
from seqot.ot._alignment import batched_alignment_dp

METRICS = ("sqeuclidean", "euclidean", "cosine")
LENGTHS = [(1, 1), (1, 6), (7, 1), (5, 5), (9, 4), (3, 12)]


# ---------------------------------------------------------------------------
# brute-force references (plain double loops over the definitions)
# ---------------------------------------------------------------------------
def np_cost(x, y, metric):
    x, y = np.asarray(x, float), np.asarray(y, float)
    C = np.empty((len(x), len(y)))
    for i in range(len(x)):
        for j in range(len(y)):
            if metric == "sqeuclidean":
                C[i, j] = np.sum((x[i] - y[j]) ** 2)
            elif metric == "euclidean":
                C[i, j] = np.sqrt(np.sum((x[i] - y[j]) ** 2))
            else:
                C[i, j] = 1.0 - x[i] @ y[j] / (np.linalg.norm(x[i]) * np.linalg.norm(y[j]))
    return C


def softmin(values, gamma):
    a = -np.asarray(values, float) / gamma
    mx = a.max()
    return -gamma * (mx + np.log(np.exp(a - mx).sum()))


def brute_dp(C, gamma=None):
    n, m = C.shape
    R = np.full((n + 1, m + 1), np.inf)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            preds = [R[i - 1, j - 1], R[i - 1, j], R[i, j - 1]]
            best = min(preds) if gamma is None else softmin(preds, gamma)
            R[i, j] = C[i - 1, j - 1] + best
    return R[n, m]


def brute_otam(D, gamma):
    """The few-shot toolbox's OTAM_cum_dist, one pair, with a stable soft-min."""
    L, M = D.shape
    Dp = np.pad(D, ((0, 0), (1, 1)))
    cum = np.zeros((L, M + 2))
    for m in range(1, M + 2):
        cum[0, m] = Dp[0, m] + cum[0, m - 1]
    for l in range(1, L):
        cum[l, 1] = Dp[l, 1] + softmin([cum[l - 1, 0], cum[l - 1, 1], cum[l, 0]], gamma)
        for m in range(2, M + 1):
            cum[l, m] = Dp[l, m] + softmin([cum[l - 1, m - 1], cum[l, m - 1]], gamma)
        cum[l, -1] = Dp[l, -1] + softmin([cum[l - 1, -2], cum[l - 1, -1], cum[l, -2]], gamma)
    return cum[-1, -1]


def random_pair(rng, tx, ty, d=3):
    return rng.standard_normal((tx, d)), rng.standard_normal((ty, d))


def ragged(rng, n, d=3, lo=1, hi=9):
    return [rng.standard_normal((int(t), d)) for t in rng.integers(lo, hi, size=n)]


# ---------------------------------------------------------------------------
# DTW
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("metric", METRICS)
def test_dtw_matches_brute_force(metric):
    rng = np.random.default_rng(0)
    for tx, ty in LENGTHS:
        x, y = random_pair(rng, tx, ty)
        assert dtw(x, y, cost=metric) == pytest.approx(brute_dp(np_cost(x, y, metric)),
                                                         rel=1e-12, abs=1e-12)


def test_dtw_path_is_a_valid_optimal_path():
    rng = np.random.default_rng(1)
    for tx, ty in LENGTHS:
        x, y = random_pair(rng, tx, ty)
        value, path = dtw(x, y, return_path=True)
        assert path[0] == (0, 0) and path[-1] == (tx - 1, ty - 1)
        steps = {(i1 - i0, j1 - j0) for (i0, j0), (i1, j1) in zip(path, path[1:])}
        assert steps <= {(1, 0), (0, 1), (1, 1)}
        C = np_cost(x, y, "sqeuclidean")
        assert sum(C[i, j] for i, j in path) == pytest.approx(value, rel=1e-12)


def test_dtw_relation_to_tslearn():
    tsm = pytest.importorskip("tslearn.metrics")
    rng = np.random.default_rng(2)
    x, y = random_pair(rng, 8, 11)
    assert np.sqrt(dtw(x, y)) == pytest.approx(tsm.dtw(x, y), rel=1e-12)


def test_dtw_univariate_list_input_and_torch_output():
    assert dtw([0.0, 1.0, 2.0], [0.0, 2.0]) == 1.0
    v = dtw(torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), np.array([0.0, 2.0]))
    assert isinstance(v, torch.Tensor) and v.ndim == 0 and float(v) == 1.0


def test_dtw_gradient_is_path_indicator():
    rng = np.random.default_rng(3)
    C = torch.tensor(rng.random((1, 6, 5)), requires_grad=True)
    batched_alignment_dp(C).sum().backward()
    _, E = batched_alignment_dp(C.detach(), return_alignment=True)
    assert torch.equal(C.grad, E)
    assert set(torch.unique(E).tolist()) <= {0.0, 1.0}
    assert float(E[0, 0, 0]) == 1.0 and float(E[0, -1, -1]) == 1.0
    torch.autograd.gradcheck(lambda c: batched_alignment_dp(c), (C,))


# ---------------------------------------------------------------------------
# soft-DTW
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.01, 0.1, 1.0, 10.0])
def test_soft_dtw_matches_tslearn(gamma):
    tsm = pytest.importorskip("tslearn.metrics")
    rng = np.random.default_rng(4)
    for tx, ty in LENGTHS + [(20, 17)]:
        x, y = random_pair(rng, tx, ty)
        assert soft_dtw(x, y, gamma=gamma) == pytest.approx(tsm.soft_dtw(x, y, gamma=gamma),
                                                            rel=1e-12, abs=1e-10)


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_soft_dtw_alignment_matches_tslearn(gamma):
    tsm = pytest.importorskip("tslearn.metrics")
    rng = np.random.default_rng(5)
    for tx, ty in [(1, 4), (6, 6), (9, 5)]:
        x, y = random_pair(rng, tx, ty)
        value, E = soft_dtw(x, y, gamma=gamma, return_alignment=True)
        E_ref, v_ref = tsm.soft_dtw_alignment(x, y, gamma=gamma)
        assert value == pytest.approx(v_ref, rel=1e-12, abs=1e-10)
        np.testing.assert_allclose(E, E_ref, rtol=1e-9, atol=1e-12)


def test_soft_dtw_alignment_is_gradient_of_value_wrt_costs():
    rng = np.random.default_rng(6)
    C = torch.tensor(rng.random((1, 5, 7)), requires_grad=True)
    batched_alignment_dp(C, gamma=0.5).sum().backward()
    _, E = batched_alignment_dp(C.detach(), gamma=0.5, return_alignment=True)
    torch.testing.assert_close(C.grad, E)


def test_gradcheck_soft_dtw_ragged_batch():
    rng = np.random.default_rng(7)
    C = torch.tensor(rng.random((4, 5, 6)), requires_grad=True)
    lx, ly = torch.tensor([5, 2, 1, 4]), torch.tensor([6, 3, 5, 1])
    for gamma in (0.1, 1.0):
        assert torch.autograd.gradcheck(
            lambda c: batched_alignment_dp(c, lx, ly, gamma=gamma), (C,))
    # entries outside each problem get exactly zero gradient
    batched_alignment_dp(C, lx, ly, gamma=1.0).sum().backward()
    mask = (torch.arange(5)[None, :, None] < lx[:, None, None]) & (
        torch.arange(6)[None, None, :] < ly[:, None, None])
    assert torch.all(C.grad[~mask] == 0) and torch.all(C.grad[mask] > 0)


def test_gradcheck_masked_otam_problem():
    rng = np.random.default_rng(8)
    C = torch.tensor(rng.random((3, 4, 5)), requires_grad=True)
    lx, ly = torch.tensor([4, 2, 3]), torch.tensor([5, 1, 3])
    assert torch.autograd.gradcheck(
        lambda c: dtw_mod._otam_values(c, lx, ly, 0.1, True), (C,))


def test_soft_dtw_tends_to_dtw():
    rng = np.random.default_rng(9)
    x, y = random_pair(rng, 7, 9)
    exact = dtw(x, y)
    gaps = [abs(soft_dtw(x, y, gamma=g) - exact) for g in (1.0, 1e-1, 1e-3)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-2
    # soft-min lower bound: exact - gamma * log(3) * (T_x + T_y) <= soft <= exact
    assert exact - 1e-3 * np.log(3) * 16 <= soft_dtw(x, y, gamma=1e-3) <= exact + 1e-12


def test_padding_never_changes_values():
    rng = np.random.default_rng(10)
    C = torch.tensor(rng.random((3, 6, 7)))
    lx, ly = torch.tensor([6, 3, 2]), torch.tensor([4, 7, 1])
    junk = C.clone()
    for b in range(3):
        junk[b, lx[b]:, :] = -1e3
        junk[b, :, ly[b]:] = 1e6
    for gamma in (None, 0.5):
        torch.testing.assert_close(batched_alignment_dp(C, lx, ly, gamma=gamma),
                                   batched_alignment_dp(junk, lx, ly, gamma=gamma))
        ref = [brute_dp(C[b, : lx[b], : ly[b]].numpy(), gamma) for b in range(3)]
        np.testing.assert_allclose(batched_alignment_dp(junk, lx, ly, gamma=gamma).numpy(),
                                   ref, rtol=1e-12)


def test_cache_chunking_gives_same_values_and_grads(monkeypatch):
    rng = np.random.default_rng(11)
    C = torch.tensor(rng.random((7, 5, 4)))
    lx, ly = torch.tensor([5, 1, 3, 5, 2, 4, 5]), torch.tensor([4, 4, 1, 2, 3, 4, 4])
    results = []
    for cells in (1 << 21, 2 * 7 * 6):  # one pass; three passes of two problems + one
        monkeypatch.setattr(alignment_mod, "_CHUNK_CELLS", cells)
        for gamma in (None, 0.3):
            c = C.clone().requires_grad_(True)
            batched_alignment_dp(c, lx, ly, gamma=gamma).sum().backward()
            results.append((batched_alignment_dp(C, lx, ly, gamma=gamma), c.grad))
    for (v0, g0), (v1, g1) in zip(results[:2], results[2:]):
        torch.testing.assert_close(v0, v1)
        torch.testing.assert_close(g0, g1)


# ---------------------------------------------------------------------------
# OTAM
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "sqeuclidean"])
def test_otam_matches_toolbox_brute_force(metric):
    rng = np.random.default_rng(12)
    for tx, ty in LENGTHS + [(8, 8)]:
        x, y = random_pair(rng, tx, ty)
        D = np_cost(x, y, metric)
        for gamma in (0.1, 1.0):
            assert otam(x, y, gamma=gamma, cost=metric) == pytest.approx(
                brute_otam(D, gamma), rel=1e-12, abs=1e-12)
        both = otam(x, y, cost=metric, bidirectional=True)
        assert both == pytest.approx(brute_otam(D, 0.1) + brute_otam(D.T, 0.1), rel=1e-12,
                                     abs=1e-12)
        assert both == pytest.approx(otam(y, x, cost=metric, bidirectional=True), rel=1e-12)


def test_otam_is_free_at_start_and_end():
    # a support that matches a middle stretch of the query costs (almost) nothing
    rng = np.random.default_rng(13)
    x = rng.standard_normal((10, 4))
    assert abs(otam(x, x[3:6], cost="sqeuclidean", gamma=1e-3)) < 1e-2
    assert dtw(x, x[3:6]) > 1.0


# ---------------------------------------------------------------------------
# pairwise driver
# ---------------------------------------------------------------------------
PAIRWISE = [
    ("dtw", {}, lambda x, y: dtw(x, y)),
    ("dtw", {"cost": "cosine"}, lambda x, y: dtw(x, y, cost="cosine")),
    ("dtw", {"cost": "euclidean"}, lambda x, y: dtw(x, y, cost="euclidean")),
    ("soft_dtw", {"gamma": 0.3}, lambda x, y: soft_dtw(x, y, gamma=0.3)),
    ("otam", {}, lambda x, y: otam(x, y)),
    ("otam", {"bidirectional": True, "gamma": 0.5},
     lambda x, y: otam(x, y, bidirectional=True, gamma=0.5)),
]


@pytest.mark.parametrize("name,params,single", PAIRWISE)
def test_pairwise_matches_per_pair(name, params, single):
    rng = np.random.default_rng(14)
    X, Y = ragged(rng, 5), ragged(rng, 4)
    ref = np.array([[single(x, y) for y in Y] for x in X])
    ref_xx = np.array([[single(a, b) for b in X] for a in X])
    for bs in (None, 1, 3):
        D = pairwise_sequence_distances(X, Y, metric=name, block_size=bs, **params)
        np.testing.assert_allclose(D, ref, rtol=1e-12, atol=1e-12)
        D = pairwise_sequence_distances(X, metric=name, block_size=bs, **params)
        np.testing.assert_allclose(D, ref_xx, rtol=1e-12, atol=1e-12)


def test_pairwise_dtw_self_distances_are_zero_and_nonnegative():
    rng = np.random.default_rng(19)
    X = [10.0 * x for x in ragged(rng, 12, d=5, lo=3, hi=12)]
    for cost in METRICS:
        D = pairwise_sequence_distances(X, metric="dtw", cost=cost)
        assert np.all(D >= 0)
        # the GEMM form |x|^2 + |y|^2 - 2<x, y> leaves rounding noise on exact matches
        # (relative 1e-15 for squared costs, its square root for "euclidean")
        scale = np.median(D)
        tol = 1e-7 if cost == "euclidean" else 1e-13
        np.testing.assert_allclose(np.diag(D), 0, atol=tol * scale)


def test_pairwise_sub_blocks(monkeypatch):
    rng = np.random.default_rng(15)
    X, Y = ragged(rng, 6), ragged(rng, 5)
    ref = pairwise_sequence_distances(X, Y, metric="soft_dtw")
    monkeypatch.setattr(dtw_mod, "_CHUNK_CELLS", 3 * 11 * 11)  # 3 pairs per engine pass
    np.testing.assert_allclose(pairwise_sequence_distances(X, Y, metric="soft_dtw"), ref,
                               rtol=1e-12)


@pytest.mark.parametrize("name,params", [(n, p) for n, p, _ in PAIRWISE])
def test_nan_padding_leaves_distances_unchanged(name, params):
    rng = np.random.default_rng(16)
    X, Y = ragged(rng, 4), ragged(rng, 3)
    D = pairwise_sequence_distances(X, Y, metric=name, **params)

    def pad(seqs, extra):
        out = np.full((len(seqs), max(len(s) for s in seqs) + extra, 3), np.nan)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = s
        return out

    D_pad = pairwise_sequence_distances(pad(X, 4), pad(Y, 2), metric=name, **params)
    np.testing.assert_allclose(D_pad, D, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,params,single", [PAIRWISE[0], PAIRWISE[3], PAIRWISE[5]])
def test_pairwise_torch_gradients_match_per_pair(name, params, single):
    rng = np.random.default_rng(17)
    X = [torch.tensor(a, requires_grad=True) for a in ragged(rng, 3)]
    Y = [torch.tensor(a, requires_grad=True) for a in ragged(rng, 2)]
    D = pairwise_sequence_distances(X, Y, metric=name, **params)
    assert isinstance(D, torch.Tensor) and D.requires_grad
    W = torch.tensor(rng.random(D.shape))
    grads = torch.autograd.grad((D * W).sum(), X + Y)
    total = sum(W[i, j] * single(x, y) for i, x in enumerate(X) for j, y in enumerate(Y))
    ref = torch.autograd.grad(total, X + Y)
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g, r)


def test_float32_close_to_float64():
    rng = np.random.default_rng(18)
    X, Y = ragged(rng, 4, hi=20), ragged(rng, 3, hi=20)
    for name, params, _ in PAIRWISE:
        D64 = pairwise_sequence_distances(X, Y, metric=name, **params)
        D32 = pairwise_sequence_distances([x.astype(np.float32) for x in X],
                                          [y.astype(np.float32) for y in Y],
                                          metric=name, **params)
        assert D32.dtype == np.float32 and np.all(np.isfinite(D32))
        np.testing.assert_allclose(D32, D64, rtol=1e-4, atol=1e-4)
    x = torch.tensor(X[0], dtype=torch.float32)
    v = soft_dtw(x, torch.tensor(Y[0], dtype=torch.float32), gamma=0.01)
    assert v.dtype == torch.float32 and torch.isfinite(v)


# ---------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------
def _constraint_cases():
    """Every declared constraint of the module's public functions, violated once."""
    from seqot.utils.estimator_checks import function_constraint_cases

    x = np.zeros((3, 2))
    C = torch.zeros(1, 3, 4, dtype=torch.float64)
    return [case for fn, args in ((dtw, (x, x)), (soft_dtw, (x, x)), (otam, (x, x)),
                                  (batched_alignment_dp, (C,)))
            for case in function_constraint_cases(fn, args)]


@pytest.mark.parametrize("func, args, kwargs, name", _constraint_cases(),
                         ids=lambda v: getattr(v, "__name__", v) if isinstance(v, str)
                         or callable(v) else None)
def test_functions_refuse_every_constraint_violation(func, args, kwargs, name):
    from seqot.utils.estimator_checks import check_function_constraint

    check_function_constraint(func, args, kwargs, name)


@pytest.mark.parametrize("metric", ["dtw", "soft_dtw", "otam"])
def test_the_pairwise_metrics_share_the_function_checks(metric):
    """The registered metrics check the constraints of the function of the same name, once per
    pairwise call however many blocks it has, and run their blocks unchecked."""
    from seqot.distances import _pairwise
    from seqot.utils._param_validation import InvalidParameterError
    from seqot.utils.estimator_checks import invalid_parameter_values

    fn = getattr(dtw_mod, metric)
    x = np.zeros((3, 2))
    cases = [(name, bad) for name, entry in fn._skl_parameter_constraints.items()
             if name in _pairwise._METRICS[metric]._seqot_constraints
             for bad in invalid_parameter_values(entry)]
    assert {name for name, _ in cases} >= {"cost"}
    for name, bad in cases:
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {metric}"):
            pairwise_sequence_distances([x, x], metric=metric, **{name: bad})


def test_metric_parameters_are_checked_once_per_pairwise_call(monkeypatch):
    from seqot.distances import _pairwise

    checks, blocks = [], []
    check = _pairwise._check_metric_param_values
    monkeypatch.setattr(_pairwise, "_check_metric_param_values",
                        lambda fn, params: (checks.append(1), check(fn, params))[1])
    entry = _pairwise._METRICS["soft_dtw"]
    impl = entry._seqot_unchecked
    monkeypatch.setattr(entry, "_seqot_unchecked",
                        lambda xb, yb, **p: (blocks.append(1), impl(xb, yb, **p))[1])
    X = ragged(np.random.default_rng(3), 6)
    pairwise_sequence_distances(X, metric="soft_dtw", block_size=2, gamma=0.5)
    assert len(blocks) == 6 and len(checks) == 1  # 3 x 3 blocks, those above the diagonal


def test_the_solver_lives_in_seqot_ot_and_distances_reexports_it():
    """The DP solver is the solver core's: ot never imports from distances."""
    import ast
    import inspect

    assert dtw_mod.batched_alignment_dp is batched_alignment_dp
    tree = ast.parse(inspect.getsource(alignment_mod))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [m for m in imported if "distances" in m], imported


def test_parameter_validation():
    """What no constraint says: the data, the lengths and the move mask."""
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="features"):
        dtw(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        dtw(x, np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        dtw(np.zeros((2, 3, 4)), x)
    with pytest.raises(ValueError, match="allowed"):
        batched_alignment_dp(torch.zeros(2, 3, 4), allowed=torch.ones(5, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="len_x"):
        batched_alignment_dp(torch.zeros(2, 3, 4), len_x=torch.tensor([1, 4]))


# ---------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_japanese_vowels_1nn_dtw():
    from seqot.datasets import load_japanese_vowels
    from seqot.neighbors import KNeighborsSequenceClassifier

    jv = load_japanese_vowels()
    clf = KNeighborsSequenceClassifier(metric="dtw", device="cpu")
    acc = clf.fit(jv.X_train, jv.y_train).score(jv.X_test, jv.y_test)
    assert acc >= 0.94  # published 1-NN DTW: ~0.949


@pytest.mark.parametrize("scale", [1e160, 1e-160, 1e300])
def test_cosine_dtw_is_scale_free_at_extreme_magnitudes(scale):
    """Regression: the no-autograd pairwise path normalised frames by their norm, which
    overflows for frames of 1e160 (every cosine cost came out 1) and loses digits for tiny
    ones; it now uses seqot.ot's unit rows, as the cost tensor paths do."""
    rng = np.random.default_rng(20)
    X = ragged(rng, 4, lo=2, hi=8)
    scaled = [x * scale for x in X]
    for params in ({}, {"gamma": 0.1}):
        name = "soft_dtw" if params else "dtw"
        ref = pairwise_sequence_distances(X, metric=name, cost="cosine", **params)
        D = pairwise_sequence_distances(scaled, metric=name, cost="cosine", **params)
        assert np.all(np.isfinite(D))
        np.testing.assert_allclose(D, ref, rtol=1e-10, atol=1e-10)
    assert dtw(scaled[0], scaled[1], cost="cosine") == pytest.approx(
        dtw(X[0], X[1], cost="cosine"), rel=1e-10, abs=1e-10)
    Xg = [torch.tensor(x, requires_grad=True) for x in scaled]  # the cost tensor path
    np.testing.assert_allclose(pairwise_sequence_distances(Xg, metric="dtw", cost="cosine")
                               .detach().numpy(), pairwise_sequence_distances(
                                   X, metric="dtw", cost="cosine"), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_frame_costs_keep_their_digits_far_from_the_origin(metric):
    """Features around 100 that differ by ~0.01: the Gram formula |x|^2 + |y|^2 - 2<x, y>
    taken from the origin cancels every float32 digit (DTW came out 0, or 3x too large);
    measured from a point among the frames it keeps them. Oracle: float64 differences of the
    same float32 inputs."""
    from seqot.ot import frame_cost, pairwise_frame_cost

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3, 5, 4)) * 0.01 + 100).astype(np.float32)
    Y = (rng.normal(size=(2, 6, 4)) * 0.01 + 100).astype(np.float32)
    diff = X.astype(np.float64)[:, None, :, None] - Y.astype(np.float64)[None, :, None, :]
    ref = (diff ** 2).sum(-1)
    if metric == "euclidean":
        ref = np.sqrt(ref)
    tol = dict(rtol=1e-4, atol=0)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    np.testing.assert_allclose(pairwise_frame_cost(Xt, Yt, metric).numpy(), ref, **tol)
    last = pairwise_frame_cost(Xt, Yt, metric, problems_last=True).permute(2, 3, 0, 1)
    np.testing.assert_allclose(last.numpy(), ref, **tol)
    paired = frame_cost(Xt[:, None].expand(-1, 2, -1, -1).reshape(6, 5, 4),
                        Yt[None].expand(3, -1, -1, -1).reshape(6, 6, 4), metric)
    np.testing.assert_allclose(paired.numpy().reshape(3, 2, 5, 6), ref, **tol)
    # DTW: per pair, all pairs (the no-autograd engine builds costs per anti-diagonal) and
    # all pairs with autograd (cost tensor), against the brute-force DP on the exact costs
    dp = np.array([[brute_dp(ref[i, j]) for j in range(2)] for i in range(3)])
    per_pair = np.array([[dtw(X[i], Y[j], cost=metric) for j in range(2)] for i in range(3)])
    np.testing.assert_allclose(per_pair, dp, **tol)
    np.testing.assert_allclose(pairwise_sequence_distances(list(X), list(Y), metric="dtw",
                                                           cost=metric), dp, **tol)
    Xg = torch.tensor(X, requires_grad=True)
    D = pairwise_sequence_distances(Xg, Yt, metric="dtw", cost=metric)
    np.testing.assert_allclose(D.detach().numpy(), dp, **tol)
