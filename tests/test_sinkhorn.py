"""seqot.ot.sinkhorn against POT, per problem of a mixed-size batch, and its gradients."""

import math
import warnings

import numpy as np
import ot
import pytest
import torch

from seqot.ot import SinkhornConvergenceWarning, emd, sinkhorn


def mixed_batch(seed, sizes=((5, 7), (8, 10), (10, 4), (1, 3), (6, 6)), garbage=True):
    rng = np.random.default_rng(seed)
    B, n, m = len(sizes), max(s[0] for s in sizes), max(s[1] for s in sizes)
    C, A, Bw = np.zeros((B, n, m)), np.zeros((B, n)), np.zeros((B, m))
    for k, (p, q) in enumerate(sizes):
        C[k, :p, :q] = rng.uniform(0, 2, (p, q))
        A[k, :p] = rng.dirichlet(np.ones(p))
        Bw[k, :q] = rng.dirichlet(np.ones(q))
        if garbage:  # anything finite on padding must not matter
            C[k, p:, :] = 1e6
            C[k, :, q:] = -1e6
    return C, A, Bw, sizes


def gen_kl(p, q):
    return np.sum(p * np.log(p / q) - p + q)


@pytest.mark.parametrize("reg", [0.03, 0.2, 1.0])
def test_balanced_matches_pot_per_problem(reg):
    C, A, Bw, sizes = mixed_batch(0)
    res = sinkhorn(C, A, Bw, reg=reg, max_iter=50000, tol=1e-14)
    assert res.converged.all()
    for k, (p, q) in enumerate(sizes):
        a, b, c = A[k, :p], Bw[k, :q], C[k, :p, :q]
        ref = ot.sinkhorn2(a, b, c, reg, method="sinkhorn_log", numItermax=50000, stopThr=1e-15)
        plan = ot.sinkhorn(a, b, c, reg, method="sinkhorn_log", numItermax=50000,
                           stopThr=1e-15)
        assert abs(res.value_linear[k] - ref) <= 1e-8 * abs(ref)
        np.testing.assert_allclose(res.plan[k, :p, :q], plan, rtol=1e-8, atol=1e-13)
        assert res.plan[k, p:].sum() == 0 and res.plan[k, :, q:].sum() == 0
        # full objective: <P,C> + reg KL(P || ab)
        expected = ref + reg * gen_kl(plan, np.outer(a, b))
        assert abs(res.value[k] - expected) <= 1e-8 * abs(expected)


@pytest.mark.parametrize("reg, tau", [(0.05, 0.3), (0.05, 5.0), (0.5, 1.0)])
def test_unbalanced_matches_pot_per_problem(reg, tau):
    C, A, Bw, sizes = mixed_batch(1)
    res = sinkhorn(C, A, Bw, reg=reg, unbalanced=tau, max_iter=50000, tol=1e-15)
    for k, (p, q) in enumerate(sizes):
        a, b, c = A[k, :p], Bw[k, :q], C[k, :p, :q]
        plan = ot.unbalanced.sinkhorn_unbalanced(a, b, c, reg, tau, numItermax=200000,
                                                 stopThr=1e-15)
        np.testing.assert_allclose(res.plan[k, :p, :q], plan, rtol=1e-8, atol=1e-14)
        lin = np.sum(plan * c)
        assert abs(res.value_linear[k] - lin) <= 1e-8 * abs(lin)
        # POT's own "total_cost" omits the mass terms of the generalised KL (it is ~0 at the
        # optimum); compare with the true objective evaluated on POT's plan.
        total = (lin + reg * gen_kl(plan, np.outer(a, b)) + tau * gen_kl(plan.sum(1), a)
                 + tau * gen_kl(plan.sum(0), b))
        assert abs(res.value[k] - total) <= 1e-8 * abs(total)


def test_semi_relaxed_matches_pot_and_keeps_the_hard_marginal():
    C, A, Bw, sizes = mixed_batch(2)
    reg, tau = 0.1, 0.5
    res = sinkhorn(C, A, Bw, reg=reg, unbalanced=(None, tau), max_iter=50000, tol=1e-15)
    for k, (p, q) in enumerate(sizes):
        a, b, c = A[k, :p], Bw[k, :q], C[k, :p, :q]
        plan = ot.unbalanced.sinkhorn_unbalanced(a, b, c, reg, (np.inf, tau),
                                                 numItermax=200000, stopThr=1e-15)
        np.testing.assert_allclose(res.plan[k, :p, :q], plan, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(res.plan[k, :p, :q].sum(1), a, rtol=1e-10)


def test_batched_equals_single_problem_solves():
    C, A, Bw, sizes = mixed_batch(3, garbage=False)
    res = sinkhorn(C, A, Bw, reg=0.1, tol=1e-12, max_iter=5000)
    for k, (p, q) in enumerate(sizes):
        one = sinkhorn(C[k, :p, :q], A[k, :p], Bw[k, :q], reg=0.1, tol=1e-12, max_iter=5000)
        # converged problems are frozen, so the batch never changes a problem's answer
        np.testing.assert_allclose(res.plan[k, :p, :q], one.plan, rtol=1e-12, atol=1e-15)
        assert res.value[k] == pytest.approx(one.value, rel=1e-12)


def test_fixed_iterations_and_potentials():
    C, A, Bw, sizes = mixed_batch(4)
    res = sinkhorn(C, A, Bw, reg=0.2, max_iter=7, tol=0)
    assert res.n_iter == 7 and not res.converged.any()
    f, g = res.potentials
    eps = 0.2
    for k, (p, q) in enumerate(sizes):
        rebuilt = (np.outer(A[k, :p], Bw[k, :q])
                   * np.exp((f[k, :p, None] + g[k, None, :q] - C[k, :p, :q]) / eps))
        np.testing.assert_allclose(res.plan[k, :p, :q], rebuilt, rtol=1e-12)
        assert np.all(f[k, p:] == 0) and np.all(g[k, q:] == 0)
    # warm start from converged potentials needs one check period
    done = sinkhorn(C, A, Bw, reg=0.2, tol=1e-10)
    again = sinkhorn(C, A, Bw, reg=0.2, tol=1e-10, warm_start=done.potentials)
    assert again.n_iter <= 10
    np.testing.assert_allclose(again.plan, done.plan, atol=1e-9)


def test_numpy_and_torch_io_and_dtypes():
    C, A, Bw, _ = mixed_batch(5)
    r_np = sinkhorn(C, A, Bw, reg=0.1)
    assert isinstance(r_np.plan, np.ndarray) and r_np.plan.dtype == np.float64
    r_t = sinkhorn(torch.tensor(C), torch.tensor(A), torch.tensor(Bw), reg=0.1)
    assert isinstance(r_t.plan, torch.Tensor)
    np.testing.assert_allclose(r_t.plan.numpy(), r_np.plan)
    r32 = sinkhorn(torch.tensor(C, dtype=torch.float32), torch.tensor(A, dtype=torch.float32),
                   torch.tensor(Bw, dtype=torch.float32), reg=0.1, tol=1e-6)
    assert r32.plan.dtype == torch.float32
    np.testing.assert_allclose(r32.value_linear.numpy(), r_np.value_linear, rtol=1e-4)
    single = sinkhorn(C[0], reg=0.1)
    assert single.plan.shape == C[0].shape and np.ndim(single.value) == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("unbalanced", [None, 1.0, (None, 0.5)])
def test_tiny_reg_large_costs_stay_finite(dtype, unbalanced):
    rng = np.random.default_rng(6)
    C = torch.tensor(rng.uniform(0, 100, (3, 9, 6)), dtype=dtype, requires_grad=True)
    a = torch.tensor(np.r_[np.full(7, 1 / 7), 0, 0], dtype=dtype)
    with warnings.catch_warnings():  # 300 iterations at max C / reg = 1e6: not converged
        warnings.simplefilter("ignore", SinkhornConvergenceWarning)
        res = sinkhorn(C, a, None, reg=1e-4, max_iter=300, unbalanced=unbalanced)
    assert torch.isfinite(res.plan).all() and torch.isfinite(res.value).all()
    res.value.sum().backward()
    assert torch.isfinite(C.grad).all()


def test_gradcheck_autodiff():
    rng = np.random.default_rng(7)
    C = torch.tensor(rng.uniform(0, 1, (2, 4, 3)), requires_grad=True)
    a = torch.tensor(rng.dirichlet(np.ones(4), size=2), requires_grad=True)
    b = torch.tensor(rng.dirichlet(np.ones(3), size=2), requires_grad=True)
    a_pad = torch.tensor([[0.2, 0.3, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float64)
    for unb in (None, 0.7, (None, 0.7)):
        def fn(C, a, b):
            r = sinkhorn(C, a, b, reg=0.3, max_iter=30, tol=0, unbalanced=unb)
            return r.value, r.value_linear, r.plan

        assert torch.autograd.gradcheck(fn, (C, a, b), atol=1e-7)

        def fn_padded(C):  # padding rows: gradients through C stay exact and finite
            r = sinkhorn(C, a_pad, None, reg=0.3, max_iter=30, tol=0, unbalanced=unb)
            return r.value, r.plan

        assert torch.autograd.gradcheck(fn_padded, (C,), atol=1e-7)


@pytest.mark.parametrize("unbalanced", [None, 0.8, (None, 0.8)])
def test_envelope_gradients_equal_autodiff_at_convergence(unbalanced):
    rng = np.random.default_rng(8)
    C0 = rng.uniform(0, 1, (3, 5, 4))
    a0 = rng.dirichlet(np.ones(5), size=3)
    b0 = rng.dirichlet(np.ones(4), size=3)
    grads = {}
    for mode in ("autodiff", "envelope"):
        C = torch.tensor(C0, requires_grad=True)
        a = torch.tensor(a0, requires_grad=True)
        b = torch.tensor(b0, requires_grad=True)
        r = sinkhorn(C, a, b, reg=0.2, max_iter=5000, tol=1e-13, unbalanced=unbalanced, grad=mode)
        r.value.sum().backward()
        grads[mode] = (C.grad, a.grad, b.grad, r.plan.detach())
    ad, env = grads["autodiff"], grads["envelope"]
    np.testing.assert_allclose(env[0], ad[3], atol=1e-10)  # dvalue/dC = plan
    np.testing.assert_allclose(env[0].numpy(), ad[0].numpy(), atol=1e-8)
    for x, y in zip(env[1:3], ad[1:3]):
        x, y = x.numpy(), y.numpy()
        if unbalanced is None:
            # balanced OT is defined on equal masses only: compare mass-preserving parts
            assert np.abs(x.sum(1)).max() < 1e-12  # envelope gradients are centred
            y = y - y.mean(1, keepdims=True)
        np.testing.assert_allclose(x, y, atol=1e-8)


def test_detach_and_envelope_keep_no_graph():
    C = torch.rand(2, 3, 3, requires_grad=True)
    r = sinkhorn(C, reg=0.1, grad="detach")
    assert not r.value.requires_grad and not r.plan.requires_grad
    r = sinkhorn(C, reg=0.1, grad="envelope")
    assert r.value.requires_grad and not r.plan.requires_grad


def _sinkhorn_constraint_cases():
    from seqot.utils.estimator_checks import function_constraint_cases

    return function_constraint_cases(sinkhorn, (np.ones((2, 2)),), {"reg": 0.1},
                                     skip=("C", "a", "b"))


@pytest.mark.parametrize("func, args, kwargs, name", _sinkhorn_constraint_cases(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_parameter_constraints(func, args, kwargs, name):
    from seqot.utils.estimator_checks import check_function_constraint

    check_function_constraint(func, args, kwargs, name)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reg": [0.1, -1.0]}, "reg must be a finite number > 0 for every problem"),
        ({"reg": [0.1, 0.2, 0.3]}, "one value per problem"),
        ({"reg": 0.1, "unbalanced": (1.0, 2.0, 3.0)}, "unbalanced must be a number or a pair"),
        ({"reg": 0.1, "unbalanced": (1.0, -1.0)}, "unbalanced must be"),
        ({"reg": 0.1, "epsilon_scaling": True, "tol": 0.0}, "epsilon_scaling=True needs tol > 0"),
    ],
)
def test_semantic_parameter_errors(kwargs, match):
    """What a constraint cannot say: per-problem values, pairs, relations between parameters."""
    with pytest.raises(ValueError, match=match):
        sinkhorn(np.ones((2, 2, 2)), **kwargs)


def test_input_errors():
    with pytest.raises(ValueError, match="C must be a"):
        sinkhorn(np.ones(3), reg=0.1)
    with pytest.raises(ValueError, match="a must have shape"):
        sinkhorn(np.ones((2, 2)), np.ones(3) / 3, reg=0.1)
    with pytest.raises(ValueError, match="a must be finite and non-negative"):
        sinkhorn(np.ones((2, 2)), np.array([1.5, -0.5]), reg=0.1)
    with pytest.raises(ValueError, match=r"b\[0\] has no mass"):
        sinkhorn(np.ones((2, 2)), None, np.zeros(2), reg=0.1)
    C = np.ones((2, 2))
    C[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity on entries that carry mass"):
        sinkhorn(C, reg=0.1)
    C[0, 0] = 1.0
    C[1, 1] = np.inf  # but on padding it is fine
    res = sinkhorn(C, None, np.array([1.0, 0.0]), reg=0.1)
    assert np.isfinite(res.plan).all()


def test_per_problem_reg_equals_separate_solves():
    C, A, Bw, sizes = mixed_batch(9, garbage=False)
    regs = np.array([0.05, 0.1, 0.5, 1.0, 2.0])
    for unb in (None, 0.5):
        res = sinkhorn(C, A, Bw, reg=regs, tol=1e-12, max_iter=20000, unbalanced=unb)
        for k, (p, q) in enumerate(sizes):
            one = sinkhorn(C[k, :p, :q], A[k, :p], Bw[k, :q], reg=regs[k], tol=1e-12,
                           max_iter=20000, unbalanced=unb)
            np.testing.assert_allclose(res.plan[k, :p, :q], one.plan, rtol=1e-10, atol=1e-14)
            assert res.value[k] == pytest.approx(one.value, rel=1e-10)
    with pytest.raises(ValueError, match="one value per problem"):
        sinkhorn(C, A, Bw, reg=np.ones(3))
    with pytest.raises(ValueError, match="finite number > 0 for every problem"):
        sinkhorn(C, A, Bw, reg=np.array([0.1, 0.1, 0.0, 0.1, 0.1]))


# ---------------------------------------------------------------------------
# The fast matrix-scaling iterations against the log-domain iterations: the same iterates,
# computed independently (the log domain runs whenever autograd records the iterations)
# ---------------------------------------------------------------------------
def _log_domain_reference(C, A, Bw, **kw):
    Ct = torch.tensor(C, requires_grad=True)  # recording autograd -> log-domain iterations
    res = sinkhorn(Ct, torch.tensor(A), torch.tensor(Bw), grad="autodiff", **kw)
    return res


def _force_layout(monkeypatch, inner):
    """Make every solve use one mat-vec layout: batch-innermost (CPU) or bmm (other devices)."""
    import seqot.ot._sinkhorn as sk

    class Forced(sk._Scalings):
        def __init__(self, *args, **kwargs):
            kwargs["inner"] = inner
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sk, "_Scalings", Forced)


@pytest.mark.parametrize("inner", [True, False])
@pytest.mark.parametrize("unbalanced", [None, 0.7, (None, 0.4)])
@pytest.mark.parametrize("reg", [0.01, 0.3])
def test_scaling_layouts_equal_log_domain_iterates(monkeypatch, inner, unbalanced, reg):
    """Both mat-vec layouts (batch-innermost on CPU, bmm elsewhere), with padding, re-absorption
    of drifting scalings and the floored kernel, give the log-domain iterates to 1e-10 after a
    fixed number of iterations, from cold and warm starts far from the solution."""
    _force_layout(monkeypatch, inner)
    C, A, Bw, sizes = mixed_batch(3)
    rng = np.random.default_rng(1)
    warm = (rng.normal(0, 3, A.shape), rng.normal(0, 3, Bw.shape))
    for warm_start in (None, warm):
        kw = dict(reg=reg, max_iter=37, tol=0, unbalanced=unbalanced, warm_start=warm_start)
        ref = _log_domain_reference(C, A, Bw, **kw)
        res = sinkhorn(torch.tensor(C), torch.tensor(A), torch.tensor(Bw), **kw)
        for k, (p, q) in enumerate(sizes):
            np.testing.assert_allclose(res.plan[k, :p, :q], ref.plan[k, :p, :q].detach(),
                                       rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(res.potentials[0][k, :p],
                                       ref.potentials[0][k, :p].detach(), rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(res.value, ref.value.detach(), rtol=1e-10, atol=1e-14)
        assert float(res.plan[0, sizes[0][0]:].abs().max()) == 0.0  # padding carries nothing


@pytest.mark.parametrize("inner", [True, False])
def test_scaling_layouts_freeze_converged_problems(monkeypatch, inner):
    """With tol > 0, converged problems stop moving while the others iterate: each problem's
    result equals its own solve, in both layouts."""
    _force_layout(monkeypatch, inner)
    C, A, Bw, sizes = mixed_batch(4)
    reg = np.array([1.0, 0.02, 0.5, 0.3, 0.05])  # very different convergence speeds
    res = sinkhorn(C, A, Bw, reg=reg, max_iter=3000, tol=1e-9, check_every=5)
    assert res.converged.all()
    for k, (p, q) in enumerate(sizes):
        one = sinkhorn(C[k, :p, :q], A[k, :p], Bw[k, :q], reg=reg[k], max_iter=3000, tol=1e-9,
                       check_every=5)
        np.testing.assert_allclose(res.plan[k, :p, :q], one.plan, rtol=1e-6, atol=1e-9)


def test_fixed_iterations_with_underflowing_kernel_equal_log_domain():
    """Cold starts with reg << cost: kernel entries underflow when absorbed, and the scalings
    then grow by e^hundreds within one chunk. The fast iterations must still give the log-domain
    iterates (found by review: a floored or dropped entry once dominated a column)."""
    C = torch.tensor([[0.6, 10.2], [3.3, 18.1]], dtype=torch.float64)
    a = torch.tensor([0.02, 0.98], dtype=torch.float64)
    b = torch.tensor([0.004, 0.996], dtype=torch.float64)
    for max_iter in (2, 10, 100):
        fast = sinkhorn(C, a, b, reg=0.018, max_iter=max_iter, tol=0)
        ref = sinkhorn(C.clone().requires_grad_(True), a, b, reg=0.018, max_iter=max_iter, tol=0)
        torch.testing.assert_close(fast.plan, ref.plan.detach(), rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(fast.value, ref.value.detach(), rtol=1e-10, atol=0)

    # relaxed marginals: a row's mass can sit far below every marginal weight, so a dropped
    # entry must be judged against the mat-vec itself (found by review: g off by 90 at max_iter=1)
    C = torch.tensor([[696.7, 10.8], [744.0, 616.0], [642.9, 54.3]], dtype=torch.float64)
    a = torch.tensor([0.5262244580205473, 0.4720532577852759, 0.001722284194176806],
                     dtype=torch.float64)
    b = torch.tensor([0.013676865696724261, 0.9863231343032757], dtype=torch.float64)
    for unbalanced in (1.0, (None, 1.0), (1.0, None)):
        for max_iter in (1, 2, 5, 20):
            kw = dict(reg=1.0, max_iter=max_iter, tol=0, unbalanced=unbalanced, check_every=2)
            fast = sinkhorn(C, a, b, **kw)
            ref = sinkhorn(C.clone().requires_grad_(True), a, b, grad="autodiff", **kw)
            for p_fast, p_ref in zip(fast.potentials, ref.potentials):
                torch.testing.assert_close(p_fast, p_ref.detach(), rtol=1e-10, atol=1e-9)
            torch.testing.assert_close(fast.plan, ref.plan.detach(), rtol=1e-9, atol=1e-300)

    rng = np.random.default_rng(0)
    for trial in range(60):
        n, m = rng.integers(2, 6, size=2)
        x, y = rng.normal(0, 3, (n, 1)), rng.normal(0, 1, (m, 1))
        Cn = (x - y.T) ** 2
        reg = Cn.max() / (300.0, 1000.0, 1.5e4)[trial % 3]
        an = rng.uniform(size=n) ** 3 + 1e-3
        bn = rng.uniform(size=m) ** 3 + 1e-3
        an, bn = an / an.sum(), bn / bn.sum()
        for max_iter in (2, 5, 10, 40):
            kw = dict(reg=reg, max_iter=max_iter, tol=0)
            truth = sinkhorn(torch.tensor(Cn, requires_grad=True), an, bn, grad="autodiff", **kw)
            truth = truth.plan.detach().numpy()
            fast64 = sinkhorn(Cn, an, bn, **kw).plan
            assert np.abs(fast64 - truth).sum() <= 1e-9
            # float32: within the documented precision, max|C|/reg * 2^-24 per plan entry
            # (relative); a dropped kernel entry used to be off by up to 1e9 here
            C32 = torch.tensor(Cn, dtype=torch.float32)
            a32, b32 = torch.tensor(an, dtype=torch.float32), torch.tensor(bn, dtype=torch.float32)
            fast32 = sinkhorn(C32, a32, b32, **kw).plan.double().numpy()
            assert np.abs(fast32 - truth).sum() <= 4 * Cn.max() / reg * 2.0**-24 + 1e-5


@pytest.mark.parametrize("order", [(0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1)])
def test_costs_in_any_memory_layout(order):
    """Costs that are a permuted view (as the cosine cost builder returns) solve exactly like
    contiguous ones, with and without padding (regression: a RuntimeError in the scalings)."""
    C, A, Bw, _ = mixed_batch(3)
    Ct = torch.tensor(C)
    # the same values, stored in another axis order
    perm = Ct.permute(order).contiguous().permute(tuple(np.argsort(order)))
    assert torch.equal(perm, Ct) and (perm.is_contiguous() == (order == (0, 1, 2)))
    for a, b in ((torch.tensor(A), torch.tensor(Bw)), (None, None)):
        ref = sinkhorn(Ct, a, b, reg=0.1, max_iter=40, tol=0)
        got = sinkhorn(perm, a, b, reg=0.1, max_iter=40, tol=0)
        torch.testing.assert_close(got.plan, ref.plan, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(got.value, ref.value, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("ratio", [1e17, 1e20])
def test_costs_beyond_float64_resolution_warn_and_stay_a_coupling(ratio):
    """Regression: with max C / reg above 2^53 the exponents' rounding exceeds 1, and the plan
    had mass up to 1e20 (a transport value 1e19 times the largest cost). Now a warning says
    so, and the plan is rescaled to the column weights: mass 1, value within the costs."""
    rng = np.random.default_rng(2)
    C = rng.uniform(0.1, 1.0, (4, 9)) * ratio
    with pytest.warns(UserWarning, match="reg"):
        res = sinkhorn(C, reg=1.0, max_iter=100)
    np.testing.assert_allclose(res.plan.sum(0), np.full(9, 1 / 9), rtol=1e-12)
    assert C.min() <= res.value_linear <= C.max()
    # float32 costs are solved in float64 and cast back: finite, not inf
    with pytest.warns(UserWarning, match="reg"):
        res32 = sinkhorn(C.astype(np.float32), reg=1.0, max_iter=100)
    assert np.isfinite(res32.value_linear) and res32.value_linear <= C.max() * (1 + 1e-6)


def test_large_cost_ratios_below_the_limit_are_unchanged(monkeypatch):
    """From max C / reg = 1e10 the plan is rescaled to its column weights: a change of the
    order of the exponents' rounding (ratio * 2^-53) while they are nearly exact (the last
    update fitted the columns), checked against the same solve without the rescaling."""
    import warnings

    import seqot.ot._sinkhorn as sk

    C, A, Bw, sizes = mixed_batch(4, garbage=False)
    C = C * 1e12
    reg = 1e2
    kw = dict(reg=reg, max_iter=300, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = sinkhorn(C, A, Bw, **kw)
        monkeypatch.setattr(sk, "_RENORMALISE_RATIO", math.inf)
        plain = sinkhorn(C, A, Bw, **kw)
    # the two differ by the exponents' rounding only, and the rescaled plan fits the columns
    ratio = float((C.max((1, 2)) / reg).max())
    np.testing.assert_allclose(res.plan, plain.plan, rtol=20 * ratio * 2.0 ** -53, atol=1e-300)
    np.testing.assert_allclose(res.plan.sum(1), Bw, rtol=1e-13, atol=1e-16)


# ---------------------------------------------------------------------------
# Small reg: epsilon scaling reaches the marginals, or a SinkhornConvergenceWarning says it did
# not (issue 17)
# ---------------------------------------------------------------------------
def _solve_recording(C, **kw):
    """sinkhorn(C, **kw) and the SinkhornConvergenceWarnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sinkhorn(C, **kw)
    return res, [w for w in caught if issubclass(w.category, SinkhornConvergenceWarning)]


def _check_against_emd(C, res, reg, slack):
    """The bound on the linear part of an entropic plan P of a balanced, uniform problem.

    P = diag(u) K diag(v) minimises <P, C> + reg KL(P || r c^T) over the couplings of its own
    marginals r = P1, c = P^T 1, so <P, C> - OT(r, c) <= reg I(P*) <= reg min(log n, log m)
    (I the mutual information of the optimal coupling P*), and OT is max C-Lipschitz in the
    L1 distance of the marginals: with E = |r - a|_1 + |c - b|_1,

        -max C * E  <=  <P, C> - OT(a, b)  <=  reg * min(log n, log m) + max C * E,

    plus ``slack`` for rounding."""
    n, m = C.shape
    P = np.asarray(res.plan, dtype=np.float64)
    E = np.abs(P.sum(1) - 1 / n).sum() + np.abs(P.sum(0) - 1 / m).sum()
    gap = float(res.value_linear) - float(emd(C.astype(np.float64)).value)
    assert -C.max() * E - slack <= gap <= reg * math.log(min(n, m)) + C.max() * E + slack


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(6, 7), (8, 8), (20, 30), (50, 40)])
def test_small_reg_is_within_the_entropic_bound_of_emd_or_warns(dtype, shape):
    """For reg from 1e-2 to 1e-8 on random costs in [0, 1): either the plan is within
    marginal_tol of its marginals (the documented rule) and <P, C> within the entropic bound of
    the exact optimum, or one SinkhornConvergenceWarning is emitted. Before, reg <= 1e-3 gave
    plans with rows off by 70% and values below the optimum, silently."""
    C = np.random.default_rng(sum(shape)).random(shape).astype(dtype)
    slack = 1e-10 if dtype == np.float64 else 1e-4
    for reg in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        res, caught = _solve_recording(C, reg=reg)
        assert len(caught) <= 1
        if caught:
            assert res.marginal_error > res.marginal_tol and not res.converged
            assert f"reg={reg:.3g}" in str(caught[0].message)
            continue
        assert res.marginal_error <= res.marginal_tol
        assert res.marginal_tol <= max(1e-9 / reg, 1e-6, 2e-3)
        _check_against_emd(C, res, reg, slack)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_issue_example_6x7_at_reg_1e_6(dtype):
    """The issue's example: rows summed to 0.286 ... 0.071 instead of 1/6, with no warning.
    Epsilon scaling now reaches them: within marginal_tol = tol / reg = 1e-3 (relative L1) at
    the default tol, and within 1e-6 of 1/6 at tol = 1e-12."""
    C = np.random.default_rng(0).random((6, 7)).astype(dtype)
    res, caught = _solve_recording(C, reg=1e-6)
    assert not caught and res.converged
    assert res.marginal_tol == pytest.approx(1e-3)
    assert res.marginal_error <= res.marginal_tol
    _check_against_emd(C, res, 1e-6, 1e-6)
    res, caught = _solve_recording(C, reg=1e-6, tol=1e-12)
    assert not caught and res.converged
    np.testing.assert_allclose(res.plan.sum(1), 1 / 6, atol=1e-6)
    np.testing.assert_allclose(res.plan.sum(0), 1 / 7, atol=1e-6)
    _check_against_emd(C, res, 1e-6, 1e-6)
    assert float(res.value_linear) - float(emd(C.astype(np.float64)).value) <= 1e-6


def test_large_costs_at_moderate_reg_converge():
    """Costs ~1e10 at reg = 0.1 (the issue's other example) are the 6x7 problem scaled."""
    C = np.random.default_rng(0).random((6, 7)) * 1e10
    res, caught = _solve_recording(C, reg=0.1)
    assert not caught and res.converged and res.marginal_error <= res.marginal_tol
    assert float(res.value_linear) == pytest.approx(float(emd(C).value), rel=1e-6)


def test_unconverged_problems_warn_once_per_call_and_can_be_silenced():
    C = np.random.default_rng(1).random((4, 30, 20))
    res, caught = _solve_recording(C, reg=1e-6, max_iter=20)
    assert len(caught) == 1 and issubclass(caught[0].category, UserWarning)
    message = str(caught[0].message)
    assert "4 of 4 problem(s)" in message and "max_iter=20" in message and "reg=1e-06" in message
    assert "seqot.ot.emd" in message and "epsilon scaling" in message
    assert (res.marginal_error > res.marginal_tol).all() and not res.converged.any()
    _, caught = _solve_recording(C, reg=1e-6, max_iter=20, warn=False)
    assert not caught
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=SinkhornConvergenceWarning)
        sinkhorn(C, reg=1e-6, max_iter=20)


def test_fixed_iterations_are_not_checked():
    """tol = 0 asks for exactly max_iter plain iterations: no epsilon scaling, no warning."""
    C = np.random.default_rng(0).random((6, 7))
    res, caught = _solve_recording(C, reg=1e-6, max_iter=30, tol=0)
    assert not caught and res.n_iter == 30 and math.isinf(res.marginal_tol)
    assert res.marginal_error > 0.1  # far off: that is what was asked
    with pytest.raises(ValueError, match="needs tol > 0"):
        sinkhorn(C, reg=1e-6, tol=0, epsilon_scaling=True)


def test_small_reg_no_longer_stops_with_the_mass_misplaced():
    """reg << tol: the potentials crept by O(reg) per iteration, under tol, and the solve
    'converged' after 10 iterations with 48% of the mass misplaced (reg = 1e-12). A problem
    now also needs its potentials to move less than 1e-2 reg."""
    C = np.random.default_rng(0).random((6, 7))
    res, caught = _solve_recording(C, reg=1e-12)
    assert caught or (res.converged and res.marginal_error <= 1e-2)
    res, caught = _solve_recording(C, reg=1e-12, epsilon_scaling=False)
    assert res.n_iter > 10 and (caught or res.marginal_error <= 1e-2)


def test_epsilon_scaling_leaves_converged_problems_bit_identical():
    """'auto' re-solves only the problems whose plain solve failed: in a batch mixing both, the
    others keep exactly the plain solver's plan, value, potentials and gradient."""
    C, A, Bw, sizes = mixed_batch(0, garbage=False)
    reg = np.array([1e-4, 0.2, 1e-5, 0.5, 1e-3])
    out = {}
    for mode in ("auto", False):
        Ct = torch.tensor(C, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SinkhornConvergenceWarning)
            res = sinkhorn(Ct, torch.tensor(A), torch.tensor(Bw), reg=reg, max_iter=2000,
                           epsilon_scaling=mode)
        res.value.sum().backward()
        out[mode] = res, Ct.grad
    (auto, g_auto), (plain, g_plain) = out["auto"], out[False]
    for k in (1, 3):  # reg 0.2 and 0.5: converged by the plain iterations
        assert plain.converged[k]
        assert torch.equal(auto.plan[k], plain.plan[k]) and torch.equal(g_auto[k], g_plain[k])
        assert torch.equal(auto.value[k], plain.value[k])
        assert all(torch.equal(p[k], q[k]) for p, q in zip(auto.potentials, plain.potentials))
    assert not plain.converged[[0, 2]].any() and auto.converged[[0, 2]].all()
    assert (auto.marginal_error[[0, 2]] <= auto.marginal_tol[[0, 2]]).all()
    # epsilon_scaling=True on a problem the plain iterations solve: the same optimum
    both = sinkhorn(C[1], A[1], Bw[1], reg=0.2, tol=1e-12, max_iter=5000)
    scaled = sinkhorn(C[1], A[1], Bw[1], reg=0.2, tol=1e-12, max_iter=5000, epsilon_scaling=True)
    np.testing.assert_allclose(scaled.plan, both.plan, atol=1e-10)


@pytest.mark.parametrize("unbalanced", [None, 1.0, (None, 0.5)])
def test_epsilon_scaled_problems_do_not_depend_on_their_batch(unbalanced):
    """Stages and iteration budgets are per problem, so a batch gives each problem the result
    of its own solve, converged or not (pairwise distances must not depend on blocks)."""
    C, A, Bw, sizes = mixed_batch(0)
    reg = np.array([1e-4, 0.2, 1e-5, 0.5, 1e-3])
    for max_iter in (300, 2000):
        kw = dict(unbalanced=unbalanced, max_iter=max_iter, warn=False)
        res = sinkhorn(C, A, Bw, reg=reg, **kw)
        for k, (p, q) in enumerate(sizes):
            one = sinkhorn(C[k, :p, :q], A[k, :p], Bw[k, :q], reg=reg[k], **kw)
            np.testing.assert_allclose(res.plan[k, :p, :q], one.plan, rtol=1e-8, atol=1e-10)
            assert res.converged[k] == one.converged


@pytest.mark.parametrize("unbalanced, reg", [(0.05, 1e-4), ((None, 0.5), 1e-3)])
def test_epsilon_scaling_with_relaxed_marginals_meets_their_optimality(unbalanced, reg):
    """Relaxed marginals: the fixed point P1 = a exp(-f / tau) is what marginal_error measures;
    the epsilon-scaled solve meets it and agrees with a long plain solve. (Relaxed problems
    converge at the rate kappa = tau / (tau + reg) whatever the warm start, so they need more
    iterations; with 1000 + 1000 iterations plain Sinkhorn left up to 40x the marginal error
    of the epsilon-scaled solve at reg 1e-4..1e-6, comparable in one case, measured.)"""
    C, A, Bw, sizes = mixed_batch(2, garbage=False)
    res, caught = _solve_recording(C, a=A, b=Bw, reg=reg, unbalanced=unbalanced, max_iter=5000)
    assert not caught and res.converged.all()
    assert (res.marginal_error <= res.marginal_tol).all()
    f, g = res.potentials
    tau_a, tau_b = (unbalanced, unbalanced) if np.isscalar(unbalanced) else unbalanced
    rows = A if tau_a is None else A * np.exp(-f / tau_a)
    np.testing.assert_allclose(res.plan.sum(2), rows, atol=1e-5)
    ref = sinkhorn(C, A, Bw, reg=reg, unbalanced=unbalanced, max_iter=200000,
                   epsilon_scaling=False, warn=False)
    ok = ref.converged
    assert ok.any()
    np.testing.assert_allclose(res.value[ok], ref.value[ok], rtol=1e-5, atol=1e-7)


def test_gradients_through_epsilon_scaling():
    """Only the last stage is recorded; the value's gradient w.r.t. C is the plan (the envelope
    gradient) in both autodiff and envelope modes, where an unrolled short last stage was off
    by 0.4 on entries <= 0.2; the plan itself stays differentiable (finite gradients)."""
    C, A, Bw, _ = mixed_batch(0, garbage=False)
    reg = np.array([1e-4, 0.2, 1e-5, 0.5, 1e-3])
    for mode in ("autodiff", "envelope"):
        Ct = torch.tensor(C, requires_grad=True)
        res = sinkhorn(Ct, torch.tensor(A), torch.tensor(Bw), reg=reg, max_iter=3000, grad=mode,
                       warn=False)
        res.value.sum().backward()
        ok = res.converged
        torch.testing.assert_close(Ct.grad[ok], res.plan.detach()[ok], rtol=0, atol=1e-8)
    Ct = torch.tensor(C, requires_grad=True)
    res = sinkhorn(Ct, torch.tensor(A), torch.tensor(Bw), reg=reg, max_iter=3000, warn=False)
    res.plan.sum().backward()
    assert torch.isfinite(Ct.grad).all()


@pytest.mark.parametrize("unbalanced", [None, 0.5, (None, 1.0)])
def test_engines_reach_the_same_fixed_point(unbalanced):
    """method="log" and method="scaling" run the same updates: results agree to rounding,
    with padding and per-problem sizes (the engine table changes speed, never the answer)."""
    rng = np.random.default_rng(3)
    C = rng.random((4, 7, 6))
    a, b = rng.random((4, 7)), rng.random((4, 6))
    a[1, 5:] = 0.0
    b[2, 4:] = 0.0
    a, b = a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True)
    out = {m: sinkhorn(C, a, b, reg=0.05, tol=1e-12, max_iter=5000, unbalanced=unbalanced,
                       method=m) for m in ("log", "scaling", "auto")}
    for m in ("scaling", "auto"):
        np.testing.assert_allclose(out[m].plan, out["log"].plan, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(out[m].value, out["log"].value, rtol=1e-9)
        assert np.all(out[m].converged)


def test_scaling_engine_refuses_autograd_and_log_records_it():
    C = torch.rand(2, 4, 5, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="method='scaling' cannot be recorded by autograd"):
        sinkhorn(C, reg=0.1, method="scaling")
    # the same solve without a graph is fine, and the log engine differentiates
    sinkhorn(C, reg=0.1, method="scaling", grad="envelope").value.sum().backward()
    g_env = C.grad.clone()
    C.grad = None
    sinkhorn(C, reg=0.1, method="log", tol=1e-12, max_iter=5000).value.sum().backward()
    np.testing.assert_allclose(C.grad.numpy(), g_env.numpy(), atol=1e-6)


def test_zero_dim_array_reg_is_a_number():
    """np.array(0.5) passes the "array-like" constraint: it is read as the number it holds,
    like a 0-d tensor (it used to be refused as 'not a finite number')."""
    C = np.random.default_rng(0).random((3, 4))
    ref = sinkhorn(C, reg=0.5)
    for reg in (np.array(0.5), torch.tensor(0.5, dtype=torch.float64), np.float64(0.5)):
        np.testing.assert_array_equal(sinkhorn(C, reg=reg).plan, ref.plan)
    with pytest.raises(ValueError, match="reg must be a finite number > 0"):
        sinkhorn(C, reg=np.array(-0.5))
