"""CMOT (compromised metric via OT): the invariants of specs/cmot.md §9 and independent oracles.

Oracles are written here from the spec, not from the implementation: the positional cost from
Eq. 10 (and the centred positions of §8 A5 for unequal lengths), the semantic cost from
``ot.dist``, the transport / regularised values from POT's log-domain Sinkhorn, the hard-OT
limit from ``ot.emd2``, and segment pooling by hand.
"""

import numpy as np
import ot
import pytest
import torch

from seqot.distances import cmot, pairwise_sequence_distances, positional_cost, segment_pool
from seqot.distances._cmot import cmot_block
from seqot.ot import pairwise_frame_cost
from seqot.ot import sinkhorn as seqot_sinkhorn
from seqot.utils import check_sequences
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases

SIGMA = 1.2
DIAG = 0.4993518  # e^{-1/sigma^2}, sigma = 1.2 (Appendix)
MARGIN = 0.0813247  # mean anti-diagonal minus mean diagonal of C^PO, M = 4, sigma = 1.2
TIGHT = dict(max_iter=5000, tol=1e-12)
HARD = dict(lambda_scale=1e4, max_iter=20000, tol=1e-13)  # the hard-OT limit (S4, I4, I6)

SPEC_TABLE = np.array([
    [0.4994, 0.5202, 0.5738, 0.6412],
    [0.5202, 0.4994, 0.5202, 0.5738],
    [0.5738, 0.5202, 0.4994, 0.5202],
    [0.6412, 0.5738, 0.5202, 0.4994],
])


# ---------------------------------------------------------------------------
# helpers (independent of the implementation)
# ---------------------------------------------------------------------------
def unit_rows(rng, M, D=32):
    """M segments of unit norm in R^D (the spec's prototype data)."""
    x = rng.normal(size=(M, D))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def unif(n):
    return np.full(n, 1.0 / n)


def cpo_eq10(M, sigma=SIGMA):
    """Eq. 10 literally: exp(-1/(sigma^2 ((p/M - q/M)^2 + 1))), p, q in [M]."""
    p = np.arange(1, M + 1)
    r = p[:, None] / M - p[None, :] / M
    return np.exp(-1.0 / (sigma ** 2 * (r ** 2 + 1.0)))


def cpo_centred(M1, M2, sigma=SIGMA):
    """§8 A5: r_pq = (p - 1/2)/M1 - (q - 1/2)/M2."""
    p = (np.arange(1, M1 + 1) - 0.5) / M1
    q = (np.arange(1, M2 + 1) - 0.5) / M2
    r = p[:, None] - q[None, :]
    return np.exp(-1.0 / (sigma ** 2 * (r ** 2 + 1.0)))


def fused_cost(x, y, alpha=0.4, sigma=SIGMA, metric="euclidean"):
    C = ot.dist(x, y, metric=metric)
    if alpha > 0:
        C = C + alpha * cpo_centred(len(x), len(y), sigma)
    return C


def pot_plan(C, reg, a=None, b=None, max_iter=20000, stop=1e-13):
    a = unif(C.shape[0]) if a is None else a
    b = unif(C.shape[1]) if b is None else b
    return ot.sinkhorn(a, b, C, reg, method="sinkhorn_log", numItermax=max_iter, stopThr=stop)


def batch(seqs):
    return check_sequences(list(seqs), device="cpu")


def plan_of(x, y, **kw):
    _, T = cmot_block(batch([x]), batch([y]), return_plan=True, **kw)
    return T[0, 0].numpy()


def hand_pool(x, n):
    """Docstring of segment_pool: segment k = frames floor(kT/n) .. floor((k+1)T/n) - 1, or the
    single frame floor(kT/n) when that range is empty."""
    T = len(x)
    out = []
    for k in range(n):
        s, e = (k * T) // n, ((k + 1) * T) // n
        e = max(e, s + 1)
        out.append(x[s:e].mean(0))
    return np.stack(out)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20240601)


# ---------------------------------------------------------------------------
# C1-C2: positional cost
# ---------------------------------------------------------------------------
def test_c1_positional_table_and_reference_values():
    P = positional_cost(4, 4, SIGMA).numpy()
    assert P.shape == (4, 4)
    np.testing.assert_allclose(P, SPEC_TABLE, atol=5e-5)  # the §2.4 table to 4 decimals
    np.testing.assert_allclose(P, cpo_eq10(4), rtol=1e-13)  # Eq. 10 for M1 = M2
    np.testing.assert_allclose(P, P.T, rtol=0, atol=1e-15)
    for k in range(-3, 4):  # Toeplitz: constant along every diagonal
        d = np.diagonal(P, k)
        np.testing.assert_allclose(d, d[0], rtol=0, atol=1e-15)
    assert np.exp(-1 / SIGMA ** 2) == pytest.approx(DIAG, abs=5e-8)
    np.testing.assert_allclose(np.diag(P), DIAG, atol=5e-8)
    assert P[0, 3] == pytest.approx(0.6411804, abs=5e-8)
    anti = P[::-1].diagonal().mean()
    assert anti == pytest.approx(0.5806764, abs=5e-8)
    assert anti - np.diag(P).mean() == pytest.approx(MARGIN, abs=5e-8)


@pytest.mark.parametrize("M, margin", [(8, 0.08326), (16, 0.08374)])
def test_c1_reversal_margin_longer_sequences(M, margin):
    P = positional_cost(M, M, SIGMA).numpy()
    np.testing.assert_allclose(P, cpo_eq10(M), rtol=1e-13)
    assert P[::-1].diagonal().mean() - np.diag(P).mean() == pytest.approx(margin, abs=5e-6)


def test_c1_positional_unequal_lengths_centred():
    for M1, M2 in [(3, 5), (4, 7), (1, 4)]:
        P = positional_cost(M1, M2, 0.9).numpy()
        np.testing.assert_allclose(P, cpo_centred(M1, M2, 0.9), rtol=1e-13)
        np.testing.assert_allclose(positional_cost(M2, M1, 0.9).numpy(), P.T, rtol=1e-13)
        # joint reversal (needed for I3): C^PO[::-1, ::-1] == C^PO
        np.testing.assert_allclose(P[::-1, ::-1], P, rtol=1e-13)


def test_c1_positional_batched_layout():
    lx, ly = torch.tensor([2, 4, 3]), torch.tensor([4, 1])
    P = positional_cost(lx, ly, SIGMA, dtype=torch.float64)
    assert P.shape == (3, 2, 4, 4)
    for i, m1 in enumerate([2, 4, 3]):
        for j, m2 in enumerate([4, 1]):
            np.testing.assert_allclose(P[i, j, :m1, :m2].numpy(), cpo_centred(m1, m2),
                                       rtol=1e-13)


def test_c2_positional_bounds_monotone_and_limits():
    for sigma in [0.3, 0.9, 1.2, 3.0]:
        P = positional_cost(6, 6, sigma).numpy()
        lo = np.exp(-1 / sigma ** 2)
        assert (P >= lo - 1e-15).all() and (P < 1).all()
        row = P[0]  # depends on |p - q| only: strictly increasing in the gap
        assert (np.diff(row) > 0).all()
    np.testing.assert_allclose(positional_cost(4, 4, 1e4).numpy(), 1.0, rtol=0, atol=1e-7)
    assert (positional_cost(4, 4, 0.05).numpy() < 1e-100).all()


def test_c2_position_effect_largest_at_intermediate_sigma():
    sigmas = np.linspace(0.5, 1.5, 1001)
    Ps = [positional_cost(4, 4, float(s)).numpy() for s in sigmas]
    margins = np.array([P[::-1].diagonal().mean() - np.diag(P).mean() for P in Ps])
    ranges = np.array([np.ptp(P) for P in Ps])
    assert sigmas[margins.argmax()] == pytest.approx(0.909, abs=2e-3)
    assert margins.max() == pytest.approx(0.0924, abs=5e-5)
    assert sigmas[ranges.argmax()] == pytest.approx(0.898, abs=2e-3)
    assert np.ptp(positional_cost(4, 4, SIGMA).numpy()) == pytest.approx(0.142, abs=5e-4)


# ---------------------------------------------------------------------------
# C4: semantic cost (the plain Euclidean distance between segments)
# ---------------------------------------------------------------------------
def test_c4_semantic_cost(rng):
    x, y = rng.normal(size=(4, 5)) * 3, rng.normal(size=(6, 5))
    X, Y = torch.as_tensor(x[None]), torch.as_tensor(y[None])
    Cxy = pairwise_frame_cost(X, Y, "euclidean")[0, 0].numpy()
    Cyx = pairwise_frame_cost(Y, X, "euclidean")[0, 0].numpy()
    np.testing.assert_allclose(Cxy, ot.dist(x, y, metric="euclidean"), rtol=1e-10)
    np.testing.assert_allclose(Cyx, Cxy.T, rtol=1e-12)
    assert (Cxy >= 0).all()
    Cxx = pairwise_frame_cost(X, X, "euclidean")[0, 0].numpy()
    assert (Cxx >= 0).all()
    np.testing.assert_allclose(np.diag(Cxx), 0.0, atol=1e-7 * (1 + np.abs(x).max()))


# ---------------------------------------------------------------------------
# POT oracle on the fused cost (S3 and beyond)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("alpha, sigma, lengths", [
    (0.4, 1.2, (4, 4)), (1.0, 0.8, (4, 4)), (0.8, 1.2, (3, 5)), (2.0, 1.5, (6, 4)),
])
def test_matches_pot_on_fused_cost_median_rule(rng, alpha, sigma, lengths):
    for _ in range(3):
        x, y = rng.normal(size=(lengths[0], 5)), rng.normal(size=(lengths[1], 5))
        C = fused_cost(x, y, alpha, sigma)
        eps = np.median(C) / 7
        ref = ot.sinkhorn2(unif(len(x)), unif(len(y)), C, eps, method="sinkhorn_log",
                           numItermax=20000, stopThr=1e-13)
        got = cmot(x, y, alpha=alpha, sigma=sigma, **TIGHT)
        assert got == pytest.approx(float(ref), rel=1e-8)
        # at the default 100 iterations the value is already within the spec's rtol 1e-4
        assert cmot(x, y, alpha=alpha, sigma=sigma) == pytest.approx(float(ref), rel=1e-4)


@pytest.mark.parametrize("lengths", [(4, 4), (5, 3)])
def test_s3_alpha0_matches_pot_sinkhorn(rng, lengths):
    for _ in range(3):
        x, y = unit_rows(rng, lengths[0]), unit_rows(rng, lengths[1])
        Cse = ot.dist(x, y, metric="euclidean")
        ref = ot.sinkhorn2(unif(len(x)), unif(len(y)), Cse, np.median(Cse) / 7,
                           method="sinkhorn_log", numItermax=20000, stopThr=1e-13)
        assert cmot(x, y, alpha=0.0, **TIGHT) == pytest.approx(float(ref), rel=1e-8)


@pytest.mark.parametrize("reg", [0.25, 1.0])
def test_matches_pot_fixed_reg(rng, reg):
    for lengths in [(4, 4), (3, 6)]:
        x, y = rng.normal(size=(lengths[0], 3)), rng.normal(size=(lengths[1], 3))
        C = fused_cost(x, y, 0.7)
        ref = ot.sinkhorn2(unif(len(x)), unif(len(y)), C, reg, method="sinkhorn_log",
                           numItermax=20000, stopThr=1e-13)
        assert cmot(x, y, alpha=0.7, reg=reg, **TIGHT) == pytest.approx(float(ref), rel=1e-8)


def test_lambda_scale_and_cost_options_match_pot(rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    for ls in [5.0, 9.0]:
        C = fused_cost(x, y, 0.4)
        ref = ot.sinkhorn2(unif(4), unif(5), C, np.median(C) / ls, method="sinkhorn_log",
                           numItermax=20000, stopThr=1e-13)
        assert cmot(x, y, lambda_scale=ls, **TIGHT) == pytest.approx(float(ref), rel=1e-8)
    C = fused_cost(x, y, 0.4, metric="sqeuclidean")
    ref = ot.sinkhorn2(unif(4), unif(5), C, np.median(C) / 7, method="sinkhorn_log",
                       numItermax=20000, stopThr=1e-13)
    assert cmot(x, y, cost="sqeuclidean", **TIGHT) == pytest.approx(float(ref), rel=1e-8)


@pytest.mark.parametrize("reg", [None, 0.2])
def test_regularized_value_from_pot_plan(rng, reg):
    for lengths in [(4, 4), (5, 3)]:
        x, y = rng.normal(size=(lengths[0], 4)), rng.normal(size=(lengths[1], 4))
        C = fused_cost(x, y, 0.6)
        eps = np.median(C) / 7 if reg is None else reg
        T = pot_plan(C, eps)
        H = -np.sum(T * np.log(T))
        ref = np.sum(T * C) - eps * H
        got = cmot(x, y, alpha=0.6, reg=reg, distance="regularized", **TIGHT)
        assert got == pytest.approx(ref, rel=1e-8)
        # and it differs from the transport value by exactly eps H(T)
        tr = cmot(x, y, alpha=0.6, reg=reg, **TIGHT)
        assert tr - got == pytest.approx(eps * H, rel=1e-7)


def test_regularized_self_distance_can_be_negative(rng):
    x = unit_rows(rng, 4)
    assert cmot(x, x, distance="regularized") < 0  # §8 A2 (prototype -0.109)


# ---------------------------------------------------------------------------
# S1, S2, S4: the plan
# ---------------------------------------------------------------------------
def test_s1_plan_is_a_coupling(rng):
    x, y = unit_rows(rng, 4), unit_rows(rng, 4)
    pairs = [(x, y), (x, x), (x, x[::-1]), (x, unit_rows(rng, 6))]
    for u, v in pairs:
        for kw, atol in [({}, 1e-3), (dict(max_iter=3000, tol=1e-12), 1e-6)]:
            T = plan_of(u, v, **kw)
            assert T.shape == (len(u), len(v))
            assert (T >= 0).all()
            assert T.sum() == pytest.approx(1.0, abs=1e-6)
            np.testing.assert_allclose(T.sum(1), unif(len(u)), atol=atol)
            np.testing.assert_allclose(T.sum(0), unif(len(v)), atol=atol)


def test_s1_plan_in_padded_batch_is_zero_on_padding(rng):
    X = [rng.normal(size=(m, 3)) for m in (2, 5)]
    Y = [rng.normal(size=(m, 3)) for m in (4, 3, 6)]
    D, T = cmot_block(batch(X), batch(Y), return_plan=True, max_iter=3000, tol=1e-12)
    assert T.shape == (2, 3, 5, 6)
    for i, x in enumerate(X):
        for j, y in enumerate(Y):
            P = T[i, j].numpy()
            assert np.abs(P[len(x):]).max(initial=0) == 0 and np.abs(P[:, len(y):]).max(
                initial=0) == 0
            Pv = P[:len(x), :len(y)]
            np.testing.assert_allclose(Pv.sum(1), unif(len(x)), atol=1e-6)
            np.testing.assert_allclose(Pv.sum(0), unif(len(y)), atol=1e-6)
            C = fused_cost(x, y, 0.4)
            np.testing.assert_allclose(Pv, pot_plan(C, np.median(C) / 7), atol=1e-9)
            assert float(D[i, j]) == pytest.approx(np.sum(Pv * C), rel=1e-9)


def test_s2_constant_shift_with_fixed_reg(rng):
    """Adding c to the fused cost: same plan, value + c (fixed reg); not so under the median
    rule, which changes eps (so the median must be taken on the fused C)."""
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    C = fused_cost(x, y, 0.4)
    r0 = seqot_sinkhorn(C, reg=0.1, max_iter=5000, tol=1e-13)
    r1 = seqot_sinkhorn(C + 2.5, reg=0.1, max_iter=5000, tol=1e-13)
    np.testing.assert_allclose(r1.plan, r0.plan, atol=1e-10)
    assert float(r1.value_linear) == pytest.approx(float(r0.value_linear) + 2.5, rel=1e-10)
    # the same through cmot: sigma -> inf makes alpha C^PO the constant alpha (I8 below)
    d0 = cmot(x, y, alpha=0.0, reg=0.1, **TIGHT)
    d1 = cmot(x, y, alpha=2.5, sigma=1e4, reg=0.1, **TIGHT)
    assert d1 == pytest.approx(d0 + 2.5, abs=1e-7)
    # under the median rule the plan changes (eps goes from med(C^SE)/7 to (med + alpha)/7)
    m0 = cmot(x, y, alpha=0.0, **TIGHT)
    m1 = cmot(x, y, alpha=2.5, sigma=1e4, **TIGHT)
    assert abs(m1 - (m0 + 2.5)) > 1e-3


@pytest.mark.parametrize("lengths", [(4, 4), (4, 5), (3, 5)])
def test_s4_hard_limit_is_emd(rng, lengths):
    for alpha in [0.0, 0.8]:
        x, y = unit_rows(rng, lengths[0]), unit_rows(rng, lengths[1])
        C = fused_cost(x, y, alpha)
        ref = ot.emd2(unif(len(x)), unif(len(y)), C)
        # generic pairs converge slowly at eps = med/1e4 (measured worst |err| 4e-5 over 360
        # draws at 20000 iterations), while lambda = 7 is visibly above the EMD value
        assert cmot(x, y, alpha=alpha, **HARD) == pytest.approx(ref, abs=1e-4)
        assert cmot(x, y, alpha=alpha) - ref > 1e-3


# ---------------------------------------------------------------------------
# I1-I13: the distance
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("lengths", [(4, 4), (3, 5), (7, 2)])
def test_i1_symmetry(rng, lengths):
    for alpha in [0.0, 0.4, 1.5]:
        x, y = rng.normal(size=(lengths[0], 4)), rng.normal(size=(lengths[1], 4))
        assert cmot(x, y, alpha=alpha) == pytest.approx(cmot(y, x, alpha=alpha), rel=1e-4)
        assert cmot(x, y, alpha=alpha, **TIGHT) == pytest.approx(
            cmot(y, x, alpha=alpha, **TIGHT), rel=1e-9)
        assert cmot(x, y, alpha=alpha, distance="regularized", **TIGHT) == pytest.approx(
            cmot(y, x, alpha=alpha, distance="regularized", **TIGHT), rel=1e-9)


def test_i2_bounds(rng):
    assert 0.4 * np.exp(-1 / SIGMA ** 2) == pytest.approx(0.19974, abs=5e-6)
    for alpha, sigma, lengths in [(0.4, 1.2, (4, 4)), (1.0, 0.7, (3, 6)), (3.0, 2.0, (5, 5))]:
        for _ in range(4):
            x, y = rng.normal(size=(lengths[0], 3)), rng.normal(size=(lengths[1], 3))
            P = cpo_centred(*lengths, sigma)
            C = ot.dist(x, y, metric="euclidean") + alpha * P
            for kw in [{}, dict(reg=0.05), dict(lambda_scale=50.0, max_iter=1000)]:
                d = cmot(x, y, alpha=alpha, sigma=sigma, **kw)
                assert alpha * P.min() - 1e-12 <= d <= C.max() + 1e-12
                assert d >= alpha * np.exp(-1 / sigma ** 2) - 1e-12


@pytest.mark.parametrize("lengths", [(4, 4), (3, 5), (6, 4)])
def test_i3_joint_reversal(rng, lengths):
    for alpha in [0.4, 2.0]:
        x, y = rng.normal(size=(lengths[0], 4)), rng.normal(size=(lengths[1], 4))
        d = cmot(x, y, alpha=alpha)
        assert cmot(x[::-1], y[::-1], alpha=alpha) == pytest.approx(d, rel=1e-9)
        # ...but reversing one side changes it (order matters for alpha > 0)
        assert abs(cmot(x[::-1], y, alpha=alpha) - d) > 1e-6


def test_i4_self_distance(rng):
    bound = 0.4 * DIAG
    for _ in range(3):
        x = unit_rows(rng, 4)
        # hard-OT limit: alpha e^{-1/sigma^2}, the global minimum over y
        hard = cmot(x, x, **HARD)
        assert hard == pytest.approx(bound, abs=1e-6)
        for _ in range(2):  # below any other y (the global minimum; I2 is the general bound)
            assert cmot(x, unit_rows(rng, 4), lambda_scale=1e4, max_iter=2000) > hard + 1.0
        # at lambda = 7/med(C): slightly above, not 0 (prototype 0.2101)
        d = cmot(x, x)
        assert bound < d < bound + 0.025
        # alpha = 0: hard limit 0, entropic value small and positive (prototype 0.0052)
        assert cmot(x, x, alpha=0.0, **HARD) == pytest.approx(0.0, abs=1e-6)
        assert 0 < cmot(x, x, alpha=0.0) < 0.01


@pytest.mark.parametrize("lengths", [(4, 4), (5, 3)])
def test_i5_order_invariance_at_alpha0(rng, lengths):
    for _ in range(3):
        x, y = rng.normal(size=(lengths[0], 4)), rng.normal(size=(lengths[1], 4))
        d = cmot(x, y, alpha=0.0)
        px, py = x[rng.permutation(len(x))], y[rng.permutation(len(y))]
        assert cmot(px, py, alpha=0.0) == pytest.approx(d, rel=1e-9)
        # abs: exact matches cost sqrt(rounding) ~ 1e-8 with the Gram trick, not 0
        assert cmot(x, x[::-1], alpha=0.0) == pytest.approx(cmot(x, x, alpha=0.0), rel=1e-9,
                                                            abs=1e-7)
        # with alpha > 0 a permutation is seen
        assert abs(cmot(x[::-1], y) - cmot(x, y)) > 1e-6


@pytest.mark.parametrize("alpha", [0.4, 1.0])
def test_i6_reversal_sensitivity(rng, alpha):
    for _ in range(3):
        x = unit_rows(rng, 4)  # well separated: gaps ~1.4 >> alpha * 0.142
        hard_gap = cmot(x, x[::-1], alpha=alpha, **HARD) - cmot(x, x, alpha=alpha, **HARD)
        assert hard_gap == pytest.approx(MARGIN * alpha, abs=1e-6)
        gap = cmot(x, x[::-1], alpha=alpha) - cmot(x, x, alpha=alpha)
        # positive and close to the hard margin (prototype: 0.0357 vs 0.0325, 0.0938 vs 0.0813)
        assert 0.8 * MARGIN * alpha < gap < 1.4 * MARGIN * alpha


def test_i7_alpha0_and_sigma0_limits(rng):
    for lengths in [(4, 4), (3, 5)]:
        x, y = rng.normal(size=(lengths[0], 4)), rng.normal(size=(lengths[1], 4))
        d0 = cmot(x, y, alpha=0.0)
        # sigma -> 0: C^PO < 1e-100, so C is C^SE to machine precision
        assert cmot(x, y, alpha=1.0, sigma=0.05) == pytest.approx(d0, rel=1e-13)
        assert cmot(x, y, alpha=5.0, sigma=0.05, distance="regularized") == pytest.approx(
            cmot(x, y, alpha=0.0, distance="regularized"), rel=1e-13)


def test_i8_sigma_infinity_fixed_reg(rng):
    for lengths in [(4, 4), (3, 5)]:
        x, y = rng.normal(size=(lengths[0], 4)), rng.normal(size=(lengths[1], 4))
        for alpha in [0.4, 2.0]:
            d0 = cmot(x, y, alpha=0.0, reg=0.2)
            assert cmot(x, y, alpha=alpha, sigma=1e4, reg=0.2) == pytest.approx(
                d0 + alpha, abs=1e-6)
            T0 = plan_of(x, y, alpha=0.0, reg=0.2, **TIGHT)
            T1 = plan_of(x, y, alpha=alpha, sigma=1e4, reg=0.2, **TIGHT)
            np.testing.assert_allclose(T1, T0, atol=1e-7)


@pytest.mark.parametrize("c", [0.25, 3.7])
def test_i9_scale_covariance(rng, c):
    for lengths in [(4, 4), (3, 5)]:
        x, y = rng.normal(size=(lengths[0], 4)), rng.normal(size=(lengths[1], 4))
        for alpha in [0.0, 0.4]:
            d = cmot(x, y, alpha=alpha)
            assert cmot(c * x, c * y, alpha=alpha * c) == pytest.approx(c * d, rel=1e-4)
            exact = dict(max_iter=150, tol=0.0)  # same iterations: equal to rounding
            assert cmot(c * x, c * y, alpha=alpha * c, **exact) == pytest.approx(
                c * cmot(x, y, alpha=alpha, **exact), rel=1e-10)
            assert cmot(c * x, c * y, alpha=alpha * c, distance="regularized",
                        **exact) == pytest.approx(
                c * cmot(x, y, alpha=alpha, distance="regularized", **exact), rel=1e-9)
        np.testing.assert_allclose(plan_of(c * x, c * y, alpha=0.0, max_iter=150, tol=0.0),
                                   plan_of(x, y, alpha=0.0, max_iter=150, tol=0.0), atol=1e-12)


def test_i10_rigid_motion_invariance(rng):
    D = 5
    Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    t = 2.0 * rng.normal(size=D)
    for lengths in [(4, 4), (3, 6)]:
        x, y = rng.normal(size=(lengths[0], D)), rng.normal(size=(lengths[1], D))
        for kw in [{}, dict(reg=0.1), dict(distance="regularized")]:
            d = cmot(x, y, **kw)
            assert cmot(x @ Q.T + t, y @ Q.T + t, **kw) == pytest.approx(d, rel=1e-4)
            assert cmot(x @ Q.T + t, y @ Q.T + t, **kw, **TIGHT) == pytest.approx(
                cmot(x, y, **kw, **TIGHT), rel=1e-8)


def test_i11_regularized_monotone_in_alpha(rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    kw = dict(reg=0.1, distance="regularized", **TIGHT)
    alphas = np.linspace(0.0, 3.0, 13)
    vals = np.array([cmot(x, y, alpha=float(a), **kw) for a in alphas])
    assert (np.diff(vals) > 0).all()
    # envelope theorem: d dis / d alpha = <T*, C^PO>
    P = cpo_centred(4, 5)
    for a in [0.3, 1.5]:
        h = 1e-5
        fd = (cmot(x, y, alpha=a + h, **kw) - cmot(x, y, alpha=a - h, **kw)) / (2 * h)
        T = plan_of(x, y, alpha=a, reg=0.1, **TIGHT)
        assert fd == pytest.approx(np.sum(T * P), rel=1e-6)


def test_i12_positional_only_is_constant(rng):
    ref = 0.52805
    vals = []
    for D in [1, 3, 8]:
        vals.append(cmot(np.zeros((4, D)), np.zeros((4, D)), alpha=1.0, reg=0.1))
        c = rng.normal(size=D)  # identical segments: C^SE == 0 (up to Gram-trick rounding)
        vals.append(cmot(np.tile(c, (4, 1)), np.tile(c, (4, 1)), alpha=1.0, reg=0.1))
    np.testing.assert_allclose(vals, ref, atol=5e-6)
    assert np.ptp(vals) < 1e-6
    # POT on C^PO alone agrees
    pot = ot.sinkhorn2(unif(4), unif(4), cpo_eq10(4), 0.1, method="sinkhorn_log",
                       numItermax=20000, stopThr=1e-13)
    assert vals[0] == pytest.approx(float(pot), rel=1e-6)


# ---------------------------------------------------------------------------
# I13: gradients
# ---------------------------------------------------------------------------
def _t(a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=grad)


def test_torch_input_returns_differentiable_scalar(rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    xt = _t(x, True)
    d = cmot(xt, _t(y))
    assert isinstance(d, torch.Tensor) and d.ndim == 0 and d.requires_grad
    assert float(d.detach()) == pytest.approx(cmot(x, y), rel=1e-12)
    d.backward()
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0


@pytest.mark.parametrize("distance", ["transport", "regularized"])
@pytest.mark.parametrize("lengths", [(3, 3), (3, 4)])
def test_i13_gradcheck_fixed_reg(rng, distance, lengths):
    x, y = rng.normal(size=(lengths[0], 2)), rng.normal(size=(lengths[1], 2))
    yt = _t(y)

    def f(xt):
        return cmot(xt, yt, alpha=0.7, reg=0.3, max_iter=40, tol=0.0, distance=distance)

    assert torch.autograd.gradcheck(f, (_t(x, True),), eps=1e-6, atol=1e-6, rtol=1e-5)

    def g(yt_):
        return cmot(_t(x), yt_, alpha=0.7, reg=0.3, max_iter=40, tol=0.0, distance=distance)

    assert torch.autograd.gradcheck(g, (_t(y, True),), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("distance", ["transport", "regularized"])
def test_i13_median_rule_gradient_treats_eps_as_constant(rng, distance):
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    alpha, it = 0.5, dict(max_iter=40, tol=0.0)
    eps0 = float(np.median(fused_cost(x, y, alpha)) / 7)
    yt = _t(y)

    def fixed(xt):
        return cmot(xt, yt, alpha=alpha, reg=eps0, distance=distance, **it)

    # the fixed-reg function at eps0 is the median-rule function with eps frozen
    assert torch.autograd.gradcheck(fixed, (_t(x, True),), eps=1e-6, atol=1e-6, rtol=1e-5)
    xa, xb = _t(x, True), _t(x, True)
    dm = cmot(xa, yt, alpha=alpha, distance=distance, **it)
    df = fixed(xb)
    assert float(dm.detach()) == pytest.approx(float(df.detach()), rel=1e-12)
    dm.backward()
    df.backward()
    assert torch.isfinite(xa.grad).all()
    np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_i13_regularized_gradient_is_envelope(rng):
    """d dis_reg / dC = T*: the gradient w.r.t. x equals that of <T*, C(x)> with T* frozen."""
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    alpha, reg = 0.6, 0.2
    xt = _t(x, True)
    d = cmot(xt, _t(y), alpha=alpha, reg=reg, distance="regularized", max_iter=500, tol=0.0)
    d.backward()
    T = torch.as_tensor(plan_of(x, y, alpha=alpha, reg=reg, **TIGHT))
    xe = _t(x, True)
    C = torch.sqrt(((xe[:, None, :] - _t(y)[None, :, :]) ** 2).sum(-1)) + alpha * torch.as_tensor(
        cpo_centred(4, 5))
    (T * C).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xe.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_i13_self_distance_gradient_is_finite(rng):
    x = rng.normal(size=(4, 3))
    x_dup = np.concatenate([x[:2], x[:1], x[3:]])  # a repeated segment
    for u in [x, x_dup]:
        for kw in [{}, dict(alpha=0.0), dict(distance="regularized"), dict(reg=0.1)]:
            xt = _t(u, True)
            cmot(xt, xt, **kw).backward()
            assert torch.isfinite(xt.grad).all(), kw
            xa, xb = _t(u, True), _t(u, True)
            cmot(xa, xb, **kw).backward()
            assert torch.isfinite(xa.grad).all() and torch.isfinite(xb.grad).all(), kw
    # pairwise driver with tensor input
    Xt = _t(np.stack([x, x_dup]), True)
    pairwise_sequence_distances(Xt, metric="cmot").sum().backward()
    assert torch.isfinite(Xt.grad).all()


# ---------------------------------------------------------------------------
# batched == per pair, padding
# ---------------------------------------------------------------------------
def _ragged(rng, lengths, d=4):
    return [rng.normal(size=(m, d)) for m in lengths]


@pytest.mark.parametrize("params", [
    {}, dict(alpha=1.2, sigma=0.9), dict(alpha=0.0), dict(reg=0.5),
    dict(distance="regularized"), dict(lambda_scale=5.0, alpha=0.8, max_iter=300),
])
def test_batched_equals_per_pair(rng, params):
    # atol: C^SE uses the Gram trick (spec §3.1), so an exact match (x vs x) costs
    # sqrt(rounding) ~ 1e-8 instead of 0, and the rounding depends on the GEMM's shape
    tols = dict(rtol=1e-9, atol=1e-7)
    X = _ragged(rng, [3, 4, 6, 2, 5])
    Y = _ragged(rng, [4, 7, 3])
    D = pairwise_sequence_distances(X, Y, metric="cmot", **params)
    assert D.shape == (5, 3)
    ref = np.array([[cmot(x, y, **params) for y in Y] for x in X])
    np.testing.assert_allclose(D, ref, **tols)
    # Y = None, several blocks: every entry is dis(x_i, x_j) itself, whatever the blocks.
    # dis(y, x) equals dis(x, y) only to the Sinkhorn tolerance (I1, the spec's rtol 1e-4 at
    # 100 iterations), so no block may be filled by mirroring another.
    S = pairwise_sequence_distances(X, metric="cmot", block_size=2, **params)
    refS = np.array([[cmot(x, y, **params) for y in X] for x in X])
    np.testing.assert_allclose(S, refS, **tols)
    np.testing.assert_allclose(S, S.T, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(np.diag(S), np.diag(refS), **tols)

    # NaN-padded 3-D arrays (extra all-NaN frames appended) change nothing
    def nan_pad(seqs, T):
        out = np.full((len(seqs), T, seqs[0].shape[1]), np.nan)
        for i, s in enumerate(seqs):
            out[i, :len(s)] = s
        return out

    Dp = pairwise_sequence_distances(nan_pad(X, 9), nan_pad(Y, 10), metric="cmot", **params)
    np.testing.assert_allclose(Dp, D, **tols)
    Sp = pairwise_sequence_distances(nan_pad(X, 8), metric="cmot", **params)
    np.testing.assert_allclose(Sp, S, **tols)


def test_batched_matches_pot_oracle(rng):
    X = _ragged(rng, [3, 5, 4])
    Y = _ragged(rng, [6, 2])
    D = pairwise_sequence_distances(X, Y, metric="cmot", alpha=0.9, **TIGHT)
    for i, x in enumerate(X):
        for j, y in enumerate(Y):
            C = fused_cost(x, y, 0.9)
            ref = ot.sinkhorn2(unif(len(x)), unif(len(y)), C, np.median(C) / 7,
                               method="sinkhorn_log", numItermax=20000, stopThr=1e-13)
            assert D[i, j] == pytest.approx(float(ref), rel=1e-8)


# ---------------------------------------------------------------------------
# n_segments pooling, segment_weights
# ---------------------------------------------------------------------------
def test_segment_pool_by_hand(rng):
    X = _ragged(rng, [10, 8, 3, 13, 4], d=3)
    pooled = segment_pool(batch(X), 4)
    assert pooled.data.shape == (5, 4, 3)
    assert (pooled.lengths.numpy() == 4).all()
    for i, x in enumerate(X):
        np.testing.assert_allclose(pooled.data[i].numpy(), hand_pool(x, 4), rtol=1e-13)
    np.testing.assert_allclose(hand_pool(X[1], 4), X[1].reshape(4, 2, 3).mean(1))


def test_n_segments_equals_cmot_on_pooled(rng):
    X = _ragged(rng, [10, 8, 3, 13], d=3)
    Y = _ragged(rng, [7, 16, 4], d=3)
    kw = dict(alpha=0.8)
    for x in X:
        for y in Y:
            assert cmot(x, y, n_segments=4, **kw) == pytest.approx(
                cmot(hand_pool(x, 4), hand_pool(y, 4), **kw), rel=1e-10)
    D = pairwise_sequence_distances(X, Y, metric="cmot", n_segments=4, **kw)
    ref = pairwise_sequence_distances([hand_pool(x, 4) for x in X],
                                      [hand_pool(y, 4) for y in Y], metric="cmot", **kw)
    np.testing.assert_allclose(D, ref, rtol=1e-10)


def test_segment_weights_marginals_and_pot(rng):
    w = np.array([1.0, 2.0, 3.0, 4.0])
    mu = w / w.sum()
    X = [rng.normal(size=(4, 3)) for _ in range(3)]
    Y = [rng.normal(size=(4, 3)) for _ in range(2)]
    for kw, atol in [({}, 1e-3), (TIGHT, 1e-6)]:
        D, T = cmot_block(batch(X), batch(Y), segment_weights=w, return_plan=True, **kw)
        for i, x in enumerate(X):
            for j, y in enumerate(Y):
                P = T[i, j].numpy()
                assert (P >= 0).all() and P.sum() == pytest.approx(1.0, abs=1e-6)
                np.testing.assert_allclose(P.sum(1), mu, atol=atol)
                np.testing.assert_allclose(P.sum(0), mu, atol=atol)
                if kw:
                    C = fused_cost(x, y, 0.4)
                    ref = ot.sinkhorn2(mu, mu, C, np.median(C) / 7, method="sinkhorn_log",
                                       numItermax=20000, stopThr=1e-13)
                    assert float(D[i, j]) == pytest.approx(float(ref), rel=1e-8)
    # the weights matter, and the per-pair / pairwise entry points agree
    x, y = X[0], Y[0]
    assert abs(cmot(x, y, segment_weights=w) - cmot(x, y)) > 1e-4
    Dw = pairwise_sequence_distances([x], [y], metric="cmot", segment_weights=w)
    assert cmot(x, y, segment_weights=w) == pytest.approx(float(Dw[0, 0]), rel=1e-10)
    assert cmot(x, y, segment_weights=np.ones(4)) == pytest.approx(cmot(x, y), rel=1e-12)
    # with n_segments, variable-length sequences are pooled first, then weighted
    a, b = rng.normal(size=(9, 3)), rng.normal(size=(6, 3))
    assert cmot(a, b, n_segments=4, segment_weights=w) == pytest.approx(
        cmot(hand_pool(a, 4), hand_pool(b, 4), segment_weights=w), rel=1e-10)


# ---------------------------------------------------------------------------
# parameter validation
# ---------------------------------------------------------------------------
_X, _Y = np.split(np.random.default_rng(0).normal(size=(9, 3)), [4])


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, args, kwargs in [(cmot, (_X, _Y), {}), (positional_cost, (4, 5), {}),
                               (segment_pool, (batch([_X, _Y]),), {"n_segments": 2})]
    for c in function_constraint_cases(func, args, kwargs)])
def test_parameter_constraints(case):
    check_function_constraint(*case)


def test_the_pairwise_metric_shares_the_function_checks(rng):
    """The registered "cmot" metric (undecorated: called per block) checks cmot's constraints."""
    from seqot.distances._cmot import _CMOT_CONSTRAINTS
    from seqot.utils._param_validation import InvalidParameterError
    from seqot.utils.estimator_checks import invalid_parameter_values

    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    for name, entry in _CMOT_CONSTRAINTS.items():
        for bad in invalid_parameter_values(entry):
            with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of cmot"):
                pairwise_sequence_distances([x, x], [y], metric="cmot", **{name: bad})


@pytest.mark.parametrize("kw, name", [
    (dict(segment_weights=[1.0, 2.0, 3.0]), "segment_weights"),
    (dict(segment_weights=[1.0, -2.0, 3.0, 1.0]), "segment_weights"),
    (dict(segment_weights=[0.0, 0.0, 0.0, 0.0]), "segment_weights"),
])
def test_bad_segment_weights_raise(rng, kw, name):
    """Semantic checks (the weights' values and count against the data), on both entries."""
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match=name):
        cmot(x, y, **kw)
    with pytest.raises(ValueError, match=name):
        pairwise_sequence_distances([x, x], [y], metric="cmot", **kw)


def test_segment_weights_need_matching_lengths(rng):
    with pytest.raises(ValueError, match="segment_weights"):
        cmot(rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), segment_weights=np.ones(4))
