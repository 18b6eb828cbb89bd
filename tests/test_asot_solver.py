"""seqot.ot.asot: the solver invariants of the ASOT specification (§9, items 1-14).

Every property is checked against an oracle that does not share code with the solver: POT for
the alpha = 0 cases, a dense N x N NumPy re-implementation of the whole projected
mirror-descent iteration (spec §2.8, step by step) for alpha > 0, the dense C^v T C^a of Eq. 5
for the prefix-sum structure product, per-video solves for batches, and the true labels of
synthetic piecewise-constant videos for temporal consistency.
"""

import numpy as np
import ot
import pytest
import torch
from scipy.special import logsumexp, softmax

from seqot.datasets import make_segmented_sequences
from seqot.ot import ASOTResult, asot, asot_structure_product
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


# --------------------------------------------------------------------------------------
# Independent dense oracles (spec §2.5-2.8), NumPy float64
# --------------------------------------------------------------------------------------
def dense_frame_structure(n, radius, alpha=1.0):
    """Dense C^v of Eq. 5: 1/r for 1 <= |i-k| <= w, w = floor(N r) (>= 1 when alpha > 0)."""
    w = int(np.floor(n * radius))
    if alpha > 0:
        w = max(w, 1)
    gap = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return np.where((gap >= 1) & (gap <= w), 1.0 / radius, 0.0)


def dense_action_structure(k):
    return np.ones((k, k)) - np.eye(k)


def temporal_prior(n, k):
    """R_ij = |i/N - j/K|, 0-based (spec §2.6 and §8 #9)."""
    return np.abs(np.arange(n)[:, None] / n - np.arange(k)[None, :] / k)


def dense_asot(C, *, alpha, radius, eps, lam, rho=0.0, max_iter=25, gamma=1.0, step=None,
               balanced=False):
    """The whole ASOT iteration with a dense C^v: returns (N T, objective trace, step)."""
    N, K = C.shape
    Cv, Ca = dense_frame_structure(N, radius, alpha), dense_action_structure(K)
    C_lin = (1.0 - alpha) * (C + rho * temporal_prior(N, K))
    p, q = np.full(N, 1.0 / N), np.full(K, 1.0 / K)

    def phi(T):
        return Cv @ T @ Ca

    def gradient(T, log_T):
        m = T.sum(0)
        return gamma * alpha * phi(T) + C_lin + eps * log_T + lam * (np.log(m / q) + 1.0)

    def objective(T, log_T):
        value = 0.5 * gamma * alpha * np.sum(phi(T) * T) + np.sum(C_lin * T)
        value += eps * np.sum(T * log_T)
        if not balanced:
            m = T.sum(0)
            value += lam * np.sum(m * np.log(m / q))
        return value

    T = np.outer(p, q)
    log_T = np.log(T)
    if step is None:
        G0 = gradient(T, log_T)
        eta = 4.0 / G0.max() if G0.max() > 0 else 4.0 / np.abs(G0).max()
        eta = min(eta, 1.0 / eps, 1.0 / lam if (lam > 0 and not balanced) else np.inf)
    else:
        eta = step
    trace = [objective(T, log_T)]
    for _ in range(max_iter):
        if balanced:  # Peyré et al.'s entropic-GW step with an exact Sinkhorn projection
            T = ot.sinkhorn(p, q, gamma * alpha * phi(T) + C_lin, eps, method="sinkhorn_log",
                            numItermax=100000, stopThr=1e-14)
            log_T = np.log(T)
        else:  # mirror step, then the KL projection onto {T 1 = p} (row normalisation)
            L = log_T - eta * gradient(T, log_T)
            log_T = L - logsumexp(L, axis=1, keepdims=True) + np.log(p)[:, None]
            T = np.exp(log_T)
        trace.append(objective(T, log_T))
    return N * T, np.array(trace), eta


def n_segments(labels):
    return 1 + int(np.count_nonzero(np.diff(labels)))


def column_kl(plan):
    m = plan.sum(0) / plan.sum()
    m = m[m > 0]
    return float(np.sum(m * np.log(m * plan.shape[1])))


@pytest.fixture(scope="module")
def videos():
    """Four noisy piecewise-constant videos (spec §7.1, sigma = 1.0) and their costs."""
    X, y, P = make_segmented_sequences(n_sequences=4, n_frames=500, noise=1.0, random_state=0,
                                       return_prototypes=True)
    return [1.0 - x @ P.T for x in X], y


def random_cost(seed, n=30, k=5, low=0.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, (n, k))


# --------------------------------------------------------------------------------------
# 1. Feasibility
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("balanced", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7])
def test_feasibility(alpha, balanced):
    C = random_cost(0, n=60, k=6)
    res = asot(C, alpha=alpha, balanced=balanced, reg=0.07, sinkhorn_max_iter=500)
    assert isinstance(res, ASOTResult)
    assert res.plan.shape == (60, 6) and res.objective.shape == (26,)
    assert np.isfinite(res.plan).all() and (res.plan >= 0).all()
    np.testing.assert_allclose(res.plan.sum(1), 1.0, atol=1e-6)
    if balanced:
        np.testing.assert_allclose(res.plan.sum(0), 60 / 6, rtol=1e-6)
    else:  # the column marginal is free: not uniform on a random cost
        assert np.abs(res.plan.sum(0) - 10.0).max() > 1e-3


def test_balanced_rows_sum_to_one_with_defaults(videos):
    """The documented contract (rows sum to one) and spec §9 #1 hold for balanced mode with the
    default sinkhorn_max_iter, not only with a long projection; the structure product assumes it
    too ((T C^a) = p - T needs exact row sums)."""
    for C in videos[0][:2]:
        res = asot(C, alpha=0.6, radius=0.04, reg=0.04, balanced=True)
        np.testing.assert_allclose(res.plan.sum(1), 1.0, atol=1e-6)


# --------------------------------------------------------------------------------------
# 2-4. alpha = 0: row softmax, POT semi-relaxed UOT, POT Sinkhorn
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_no_gw_no_kl_is_row_softmax(eps):
    C = random_cost(1, n=50, k=7)
    res = asot(C, alpha=0.0, lambda_actions=0.0, reg=eps, max_iter=300)
    np.testing.assert_allclose(res.plan, softmax(-C / eps, axis=1), rtol=0, atol=1e-9)


def test_no_gw_no_kl_argmax_is_argmin_after_25_iterations(videos):
    for C, _ in zip(*videos):
        res = asot(C, alpha=0.0, lambda_actions=0.0, reg=0.04, max_iter=25)
        np.testing.assert_array_equal(res.plan.argmax(1), C.argmin(1))


@pytest.mark.parametrize("lam,max_iter", [(0.05, 300), (0.5, 300), (5.0, 2500)])
def test_no_gw_matches_pot_semi_relaxed(lam, max_iter):
    N, K, eps = 40, 6, 0.1
    C = random_cost(2, n=N, k=K)
    p, q = np.full(N, 1.0 / N), np.full(K, 1.0 / K)
    ref = ot.unbalanced.sinkhorn_unbalanced(p, q, C, reg=eps, reg_m=(np.inf, lam),
                                            reg_type="kl", numItermax=100000, stopThr=1e-16)
    res = asot(C, alpha=0.0, reg=eps, lambda_actions=lam, max_iter=max_iter)
    np.testing.assert_allclose(res.plan / N, ref, rtol=1e-8, atol=1e-14)
    # lambda really acted: the plan is neither the row softmax nor POT's at another lambda
    assert np.abs(res.plan - softmax(-C / eps, axis=1)).max() > 1e-3


def test_no_gw_balanced_matches_pot_sinkhorn():
    N, K, eps = 40, 6, 0.1
    C = random_cost(3, n=N, k=K)
    p, q = np.full(N, 1.0 / N), np.full(K, 1.0 / K)
    ref = ot.sinkhorn(p, q, C, eps, method="sinkhorn_log", numItermax=100000, stopThr=1e-15)
    res = asot(C, alpha=0.0, reg=eps, balanced=True, max_iter=5, sinkhorn_max_iter=1000)
    np.testing.assert_allclose(res.plan / N, ref, rtol=1e-8, atol=1e-14)
    # large lambda approaches the balanced solution (spec §9 #4), small lambda does not
    gaps = [np.abs(asot(C, alpha=0.0, reg=eps, lambda_actions=lam, max_iter=max_iter).plan / N
                   - ref).max() for lam, max_iter in ((0.05, 300), (0.5, 300), (5.0, 2500))]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.1 * gaps[0]


# --------------------------------------------------------------------------------------
# 5. Prefix-sum structure product = dense C^v T C^a (Eq. 5)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("radius", [0.01, 0.04, 0.13, 0.5, 1.0])
def test_structure_product_matches_dense(radius):
    rng = np.random.default_rng(4)
    T = rng.uniform(size=(37, 5))
    dense = dense_frame_structure(37, radius) @ T @ dense_action_structure(5)
    np.testing.assert_allclose(asot_structure_product(T, radius), dense, rtol=1e-12, atol=1e-12)


def test_structure_product_masked_batch_and_list():
    rng = np.random.default_rng(5)
    lengths, K, radius = [9, 30, 51, 1], 4, 0.07  # w = 1 (floor 0.63 -> 1), 2, 3, 1
    B, N = len(lengths), max(lengths)
    T = rng.uniform(size=(B, N, K))
    mask = np.arange(N)[None, :] < np.array(lengths)[:, None]
    T_garbage = np.where(mask[:, :, None], T, 1e3)  # padded rows must be ignored
    out = asot_structure_product(T_garbage, radius, mask)
    out_list = asot_structure_product([T[b, :n] for b, n in enumerate(lengths)], radius)
    for b, n in enumerate(lengths):
        dense = dense_frame_structure(n, radius) @ T[b, :n] @ dense_action_structure(K)
        np.testing.assert_allclose(out[b, :n], dense, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out_list[b], dense, rtol=1e-12, atol=1e-12)
        assert (out[b, n:] == 0).all()


def test_structure_product_alpha_zero_keeps_floor():
    """alpha only decides whether w = floor(N r) = 0 is raised to 1 (spec §8 #4)."""
    T = np.random.default_rng(6).uniform(size=(20, 3))
    np.testing.assert_allclose(asot_structure_product(T, 0.04, alpha=0.0), 0.0, atol=1e-12)
    dense = dense_frame_structure(20, 0.04, alpha=1.0) @ T @ dense_action_structure(3)
    np.testing.assert_allclose(asot_structure_product(T, 0.04), dense, rtol=1e-12)
    assert np.abs(dense).max() > 0


def test_structure_product_ignores_nonfinite_padding():
    """Padded rows are documented as ignored; NaN/inf there must not leak into valid rows."""
    rng = np.random.default_rng(7)
    T = rng.uniform(size=(2, 12, 3))
    mask = np.ones((2, 12), dtype=bool)
    mask[1, 8:] = False
    clean = asot_structure_product(np.where(mask[:, :, None], T, 0.0), 0.1, mask)
    T[1, 8:] = np.nan
    T[1, 10, 1] = np.inf
    dirty = asot_structure_product(T, 0.1, mask)
    np.testing.assert_allclose(dirty, clean, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------------
# The whole iteration against the dense oracle (alpha > 0), and the objective trace
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n,params",
    [
        (23, dict(alpha=0.3, radius=0.04, eps=0.07, lam=0.05)),  # w = max(1, 0) = 1
        (37, dict(alpha=0.6, radius=0.1, eps=0.04, lam=0.01)),  # w = 3
        (37, dict(alpha=0.6, radius=0.1, eps=0.04, lam=0.01, rho=0.5)),
        (30, dict(alpha=0.5, radius=0.2, eps=0.1, lam=0.2, rho=0.2, gamma=2.0)),
        (30, dict(alpha=0.5, radius=0.2, eps=0.1, lam=0.0)),
        (30, dict(alpha=0.9, radius=1.0, eps=0.5, lam=3.0)),  # step capped at 1/lambda
        (26, dict(alpha=0.4, radius=0.08, eps=0.05, lam=0.1, step=1.5)),
        (24, dict(alpha=0.3, radius=0.1, eps=0.07, lam=0.05, shift=-5.0)),  # max G0 < 0
    ],
)
def test_iteration_matches_dense_reference(n, params):
    rng = np.random.default_rng(n)
    C = rng.uniform(0, 2, (n, 5))
    C[: n // 2, 1] -= 0.5  # a little structure, so the GW term has something to do
    C[n // 2:, 3] -= 0.5
    params = dict(params)
    C += params.pop("shift", 0.0)
    ref_plan, ref_trace, ref_eta = dense_asot(C, max_iter=30, **params)
    res = asot(C, alpha=params["alpha"], radius=params["radius"], reg=params["eps"],
               lambda_actions=params["lam"], rho=params.get("rho", 0.0), max_iter=30,
               gw_grad_scale=params.get("gamma", 1.0), step_size=params.get("step"))
    assert res.step_size == pytest.approx(ref_eta, rel=1e-12)
    np.testing.assert_allclose(res.plan, ref_plan, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.objective, ref_trace, rtol=1e-10, atol=1e-12)
    # the structural term acted (the oracle is not trivially the alpha = 0 plan)
    plain, _, _ = dense_asot(C, max_iter=30, **{**params, "alpha": 0.0})
    assert np.abs(ref_plan - plain).max() > 1e-3


def test_balanced_iteration_matches_dense_reference():
    rng = np.random.default_rng(8)
    C = rng.uniform(0, 2, (28, 4))
    ref_plan, ref_trace, _ = dense_asot(C, alpha=0.4, radius=0.1, eps=0.1, lam=0.0, max_iter=8,
                                        balanced=True)
    res = asot(C, alpha=0.4, radius=0.1, reg=0.1, balanced=True, max_iter=8,
               sinkhorn_max_iter=3000)
    np.testing.assert_allclose(res.plan, ref_plan, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.objective, ref_trace, rtol=1e-7, atol=1e-9)


def test_objective_at_init_closed_form():
    """T0 = 1/(NK): objective = gamma*alpha/2 <Phi,T0> + <C_lin,T0> - eps log(NK) (KL = 0)."""
    N, K, alpha, r, eps, gamma = 40, 4, 0.5, 0.1, 0.07, 2.0
    C = random_cost(9, n=N, k=K)
    res = asot(C, alpha=alpha, radius=r, reg=eps, gw_grad_scale=gamma, max_iter=1)
    w = int(np.floor(N * r))
    neighbours = sum(min(i + w, N - 1) - max(i - w, 0) for i in range(N))  # pairs 1<=|i-k|<=w
    gw = neighbours * (1 / r) * (1 / (N * K)) ** 2 * K * (K - 1)
    expected = 0.5 * gamma * alpha * gw + (1 - alpha) * C.mean() - eps * np.log(N * K)
    assert res.objective[0] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------
# 6-8. Equivariances and invariances
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("balanced", [False, True])
def test_column_permutation_equivariance(balanced):
    C = random_cost(10, n=45, k=6)
    perm = np.array([3, 0, 5, 1, 4, 2])
    kw = dict(alpha=0.5, radius=0.1, reg=0.07, lambda_actions=0.05, balanced=balanced)
    res, res_p = asot(C, **kw), asot(C[:, perm], **kw)
    np.testing.assert_allclose(res_p.plan, res.plan[:, perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res_p.objective, res.objective, rtol=1e-12)


def test_time_reversal_equivariance():
    C = random_cost(11, n=45, k=6)
    kw = dict(alpha=0.5, radius=0.1, reg=0.07, lambda_actions=0.05)
    res, res_r = asot(C, **kw), asot(C[::-1].copy(), **kw)
    np.testing.assert_allclose(res_r.plan, res.plan[::-1], rtol=1e-10, atol=1e-12)
    # the temporal prior breaks the symmetry, as it should
    with_prior = asot(C, rho=1.0, **kw).plan
    with_prior_r = asot(C[::-1].copy(), rho=1.0, **kw).plan
    assert np.abs(with_prior_r - with_prior[::-1]).max() > 1e-3


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_row_shift_invariance_with_fixed_step(alpha):
    C = random_cost(12, n=40, k=5)
    shift = np.random.default_rng(13).normal(scale=3.0, size=(40, 1))
    kw = dict(alpha=alpha, radius=0.1, reg=0.07, lambda_actions=0.05, step_size=2.0)
    np.testing.assert_allclose(asot(C + shift, **kw).plan, asot(C, **kw).plan, rtol=1e-9,
                               atol=1e-11)
    # with the auto step a constant offset changes the step, hence the plan (spec §8 #5a)
    auto = {k: v for k, v in kw.items() if k != "step_size"}
    assert abs(asot(C + 1.0, **auto).step_size - asot(C, **auto).step_size) > 0.1


@pytest.mark.parametrize("s", [0.1, 7.0])
def test_joint_scaling_at_alpha_zero(s):
    C = random_cost(14, n=40, k=5)
    kw = dict(alpha=0.0, radius=0.1, max_iter=25)
    res = asot(C, reg=0.07, lambda_actions=0.05, **kw)
    res_s = asot(s * C, reg=s * 0.07, lambda_actions=s * 0.05, **kw)
    np.testing.assert_allclose(res_s.plan, res.plan, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res_s.objective, s * res.objective, rtol=1e-10)
    assert res_s.step_size == pytest.approx(res.step_size / s, rel=1e-12)


# --------------------------------------------------------------------------------------
# 9-10. Temporal consistency and unbalancedness on synthetic videos (spec §7.1)
# --------------------------------------------------------------------------------------
def test_temporal_consistency(videos):
    costs, labels = videos
    acc_asot, acc_argmax, seg_asot, seg_argmax, seg_true = [], [], [], [], []
    for C, y in zip(costs, labels):
        pred = asot(C, alpha=0.6, radius=0.04, reg=0.04, lambda_actions=0.01).plan.argmax(1)
        acc_asot.append(np.mean(pred == y))
        acc_argmax.append(np.mean(C.argmin(1) == y))
        seg_asot.append(n_segments(pred))
        seg_argmax.append(n_segments(C.argmin(1)))
        seg_true.append(n_segments(y))
    assert np.mean(acc_argmax) <= 0.5
    assert np.mean(acc_asot) >= 0.9 and min(acc_asot) >= 0.85
    assert np.mean(seg_asot) < 2 * np.mean(seg_true)
    assert np.mean(seg_argmax) > 20 * np.mean(seg_asot)


def test_segments_non_increasing_in_alpha(videos):
    costs, _ = videos
    mean_segments = [
        np.mean([n_segments(asot(C, alpha=a, radius=0.04, reg=0.04,
                                 lambda_actions=0.01).plan.argmax(1)) for C in costs])
        for a in (0.0, 0.1, 0.3, 0.6)
    ]
    assert all(b <= a for a, b in zip(mean_segments, mean_segments[1:])), mean_segments
    assert mean_segments[-1] < 0.1 * mean_segments[0]


def test_unbalanced_uses_a_subset_of_actions():
    X, y, P = make_segmented_sequences(n_sequences=3, n_frames=400, n_segments=(3, 3),
                                       noise=0.6, random_state=1, return_prototypes=True)
    for x, truth in zip(X, y):
        C = 1.0 - x @ P.T
        present = np.unique(truth)
        assert len(present) < 8
        pred = asot(C, alpha=0.6, radius=0.04, reg=0.04, lambda_actions=0.01).plan.argmax(1)
        assert set(np.unique(pred)) == set(present)
        balanced = asot(C, alpha=0.6, radius=0.04, reg=0.04, balanced=True).plan
        assert len(np.unique(balanced.argmax(1))) > len(present)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_column_kl_decreases_with_lambda(alpha):
    X, _, P = make_segmented_sequences(n_sequences=1, n_frames=300, n_segments=(3, 3),
                                       noise=0.6, random_state=2, return_prototypes=True)
    C = 1.0 - X[0] @ P.T
    kls = [column_kl(asot(C, alpha=alpha, reg=0.05, lambda_actions=lam, max_iter=300).plan)
           for lam in (0.0, 0.01, 0.1, 1.0, 10.0)]
    assert all(b < a for a, b in zip(kls, kls[1:])), kls
    assert kls[-1] < 0.05 * kls[0]


# --------------------------------------------------------------------------------------
# 11. Degenerate inputs and validation
# --------------------------------------------------------------------------------------
def test_single_action():
    res = asot(random_cost(15, n=20, k=1), alpha=0.5)
    np.testing.assert_allclose(res.plan, 1.0, rtol=1e-12)
    assert np.isfinite(res.objective).all()


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_single_frame(alpha):
    """N = 1 has no neighbours, so alpha > 0 is alpha = 0 with cost (1-alpha) C."""
    C = np.array([[0.3, 1.2, 0.7, 0.1]])
    lam, eps = 0.2, 0.1
    res = asot(C, alpha=alpha, reg=eps, lambda_actions=lam, max_iter=500)
    ref = ot.unbalanced.sinkhorn_unbalanced(np.ones(1), np.full(4, 0.25), (1 - alpha) * C,
                                            reg=eps, reg_m=(np.inf, lam), reg_type="kl",
                                            numItermax=100000, stopThr=1e-16)
    np.testing.assert_allclose(res.plan, ref, rtol=1e-8)


def test_empty_video_in_masked_batch():
    rng = np.random.default_rng(16)
    C = rng.uniform(0, 2, (3, 20, 4))
    mask = np.zeros((3, 20), dtype=bool)
    mask[0, :20] = True
    mask[2, :11] = True  # video 1 has no valid frame
    C[1] = np.nan  # never looked at
    kw = dict(alpha=0.5, radius=0.1, rho=0.3)
    res = asot(C, mask, **kw)
    assert np.isfinite(res.plan).all() and np.isfinite(res.objective).all()
    assert (res.plan[1] == 0).all() and (res.plan[2, 11:] == 0).all()
    np.testing.assert_allclose(res.plan[0], asot(C[0], **kw).plan, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.plan[2, :11], asot(C[2, :11], **kw).plan, rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_cost_raises(bad):
    C = random_cost(17, n=10, k=3)
    C[4, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        asot(C)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(mask=np.ones(9, dtype=bool)), "mask"),
        (dict(mask=np.ones(10, dtype=int)), "mask"),
    ],
)
def test_bad_masks_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        asot(random_cost(18, n=10, k=3), **kwargs)


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, args in [(asot, (random_cost(18, n=10, k=3),)),
                       (asot_structure_product, (random_cost(18, n=10, k=3), 0.1))]
    for c in function_constraint_cases(func, args)])
def test_parameter_constraints(case):
    check_function_constraint(*case)


@pytest.mark.parametrize(
    "cost,kwargs,match",
    [
        ([], {}, "cost"),
        ([np.ones((5, 3)), np.ones((6, 4))], {}, "number of actions K"),
        ([np.ones((5, 3)), np.ones(6)], {}, r"cost\[1\]"),
        ([np.ones((5, 3))], dict(mask=np.ones(5, dtype=bool)), "mask"),
        (np.ones(5), {}, "cost"),
        (np.ones((2, 5, 3)), dict(mask=np.ones((2, 4), dtype=bool)), "mask"),
        (np.ones((5, 0)), {}, "K = 0"),
        (np.ones((0, 3)), {}, "N = 0"),
    ],
)
def test_bad_inputs_raise(cost, kwargs, match):
    with pytest.raises(ValueError, match=match):
        asot(cost, **kwargs)


# --------------------------------------------------------------------------------------
# 12. Monotone objective (soft)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [0.0, 0.05, 0.2])
@pytest.mark.parametrize("alpha", [0.3, 0.6])
def test_objective_non_increasing(videos, alpha, lam):
    for C in videos[0][:2]:
        trace = asot(C, alpha=alpha, reg=0.07, lambda_actions=lam).objective
        assert np.all(np.diff(trace) <= 1e-6 * np.abs(trace[:-1])), np.diff(trace).max()
        assert trace[-1] < trace[0] - 1e-2


# --------------------------------------------------------------------------------------
# 13. Batch = loop
# --------------------------------------------------------------------------------------
def ragged_costs(seed=19, lengths=(30, 55, 80, 7), K=5):
    rng = np.random.default_rng(seed)
    costs = [rng.uniform(0, 2, (n, K)) * scale for n, scale in zip(lengths, (1, 3, 0.5, 2))]
    N = max(lengths)
    batch = np.full((len(lengths), N, K), np.nan)  # padding must never be read
    mask = np.zeros((len(lengths), N), dtype=bool)
    for b, c in enumerate(costs):
        batch[b, :len(c)] = c
        mask[b, :len(c)] = True
    return costs, batch, mask


@pytest.mark.parametrize(
    "kw",
    [
        dict(alpha=0.5, radius=0.04, reg=0.07, lambda_actions=0.05, rho=0.3),
        dict(alpha=0.3, radius=0.1, reg=0.05, lambda_actions=0.0, gw_grad_scale=2.0),
        dict(alpha=0.5, radius=0.04, reg=0.1, balanced=True, max_iter=10),
    ],
)
def test_batch_equals_loop(kw):
    costs, batch, mask = ragged_costs()
    singles = [asot(c, **kw) for c in costs]
    res_batch, res_list = asot(batch, mask, **kw), asot(costs, **kw)
    steps = [s.step_size for s in singles]
    assert len(set(np.round(steps, 8))) == len(steps)  # per-video steps really differ
    for b, (c, single) in enumerate(zip(costs, singles)):
        n = len(c)
        np.testing.assert_allclose(res_batch.plan[b, :n], single.plan, rtol=1e-10, atol=1e-12)
        assert (res_batch.plan[b, n:] == 0).all()
        np.testing.assert_allclose(res_batch.objective[b], single.objective, rtol=1e-10)
        assert res_batch.step_size[b] == pytest.approx(single.step_size, rel=1e-12)
        assert res_list.plan[b].shape == (n, 5)
        np.testing.assert_allclose(res_list.plan[b], single.plan, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res_list.objective[b], single.objective, rtol=1e-10)
        assert float(res_list.step_size[b]) == pytest.approx(single.step_size, rel=1e-12)


def test_mask_with_holes_is_rejected_or_compacted():
    """A mask that is not a prefix (True..True False..False) per video must not silently give
    an answer that is neither the compacted video's nor an error: the window and the temporal
    prior count frame indices across the hole."""
    C = random_cost(21, n=30, k=4)
    mask = np.ones(30, dtype=bool)
    mask[10:14] = False
    kw = dict(alpha=0.5, radius=0.1, rho=0.3)
    try:
        plan = asot(C, mask, **kw).plan
    except ValueError as err:
        assert "mask" in str(err)
    else:
        np.testing.assert_allclose(plan[mask], asot(C[mask], **kw).plan, rtol=1e-10,
                                   atol=1e-12)
        assert (plan[~mask] == 0).all()


def test_padding_is_not_part_of_the_video():
    """Solving a short video padded without a mask gives a different answer (non-tautology)."""
    costs, batch, mask = ragged_costs()
    padded = np.where(mask[:, :, None], batch, 1.0)
    kw = dict(alpha=0.5, radius=0.04, rho=0.3)
    assert np.abs(asot(padded[0], **kw).plan[:30] - asot(costs[0], **kw).plan).max() > 1e-3


# --------------------------------------------------------------------------------------
# 14. Backends and dtypes
# --------------------------------------------------------------------------------------
def test_numpy_torch_parity():
    costs, batch, mask = ragged_costs()
    kw = dict(alpha=0.5, radius=0.04, reg=0.07, lambda_actions=0.05, rho=0.3)
    res_np = asot(batch, mask, **kw)
    res_t = asot(torch.from_numpy(batch), torch.from_numpy(mask), **kw)
    for field in ("plan", "objective", "step_size"):
        value = getattr(res_t, field)
        assert isinstance(value, torch.Tensor) and value.dtype == torch.float64
        np.testing.assert_allclose(value.numpy(), getattr(res_np, field), rtol=1e-6,
                                   atol=1e-12)
    res_list = asot([torch.from_numpy(c) for c in costs], **kw)
    assert isinstance(res_list.plan, list) and isinstance(res_list.plan[0], torch.Tensor)
    np.testing.assert_allclose(res_list.plan[1].numpy(), res_np.plan[1, :55], rtol=1e-6,
                               atol=1e-12)


def test_torch_input_with_grad_is_detached_and_single_stays_2d():
    C = torch.tensor(random_cost(20, n=25, k=4), requires_grad=True)
    res = asot(C, alpha=0.4)
    assert isinstance(res.plan, torch.Tensor) and res.plan.shape == (25, 4)
    assert not res.plan.requires_grad and res.objective.shape == (26,)


def test_list_of_numpy_returns_lists():
    costs, _, _ = ragged_costs()
    res = asot(costs, alpha=0.3)
    assert isinstance(res.plan, list) and len(res.plan) == 4
    assert all(isinstance(p, np.ndarray) and p.shape == c.shape
               for p, c in zip(res.plan, costs))
    assert isinstance(res.objective, list) and res.objective[0].shape == (26,)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_float32_large_video(backend):
    X, y, P = make_segmented_sequences(n_sequences=1, n_frames=5000, n_segments=(10, 10),
                                       min_segment_length=100, noise=0.6, random_state=3,
                                       return_prototypes=True)
    C64 = 1.0 - X[0] @ P.T
    C32 = C64.astype(np.float32)
    kw = dict(alpha=0.6, radius=0.04, reg=0.04, lambda_actions=0.01)
    res32 = asot(torch.from_numpy(C32) if backend == "torch" else C32, **kw)
    plan32 = res32.plan.numpy() if backend == "torch" else res32.plan
    assert plan32.dtype == np.float32 and res32.objective.dtype in (np.float32, torch.float32)
    assert np.isfinite(plan32).all() and np.isfinite(np.asarray(res32.objective)).all()
    np.testing.assert_allclose(plan32.sum(1), 1.0, atol=1e-5)
    plan64 = asot(C64, **kw).plan
    assert np.mean(plan32.argmax(1) == plan64.argmax(1)) > 0.995
    assert np.mean(plan32.argmax(1) == y[0]) > 0.95


@pytest.mark.parametrize("balanced", [False, True])
def test_a_video_without_valid_frames_gets_a_zero_plan(balanced):
    """Regression: the balanced solve passed the empty video's zero masses to Sinkhorn, which
    refused them (a ValueError about an internal ``a[1]``). Its plan is 0 and the other
    videos are solved as if alone."""
    C = np.random.default_rng(2).random((3, 10, 3))
    M = np.ones((3, 10), bool)
    M[1] = False
    M[2, 6:] = False
    plan = asot(C, M, alpha=0.5, balanced=balanced).plan
    assert np.all(plan[1] == 0)
    for i in (0, 2):
        alone = asot(C[i:i + 1], M[i:i + 1], alpha=0.5, balanced=balanced).plan[0]
        np.testing.assert_allclose(plan[i], alone, atol=1e-12)
