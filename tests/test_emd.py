"""seqot.ot.emd against ot.emd2 (values and POT-backend gradients), batched with padding."""

import numpy as np
import ot
import pytest
import torch

from seqot.ot import emd
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


def mixed(seed, sizes=((5, 7), (8, 10), (10, 4), (1, 3), (6, 6))):
    rng = np.random.default_rng(seed)
    B, n, m = len(sizes), max(s[0] for s in sizes), max(s[1] for s in sizes)
    C, A, Bw = np.full((B, n, m), 7e5), np.zeros((B, n)), np.zeros((B, m))
    for k, (p, q) in enumerate(sizes):
        C[k, :p, :q] = rng.uniform(0, 2, (p, q))
        A[k, :p] = rng.dirichlet(np.ones(p))
        Bw[k, :q] = rng.dirichlet(np.ones(q))
    return C, A, Bw, sizes


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_values_and_plans_match_pot(n_jobs):
    C, A, Bw, sizes = mixed(0)
    res = emd(C, A, Bw, n_jobs=n_jobs)
    assert res.converged.all()
    for k, (p, q) in enumerate(sizes):
        ref = ot.emd2(A[k, :p], Bw[k, :q], C[k, :p, :q])
        assert abs(res.value[k] - ref) <= 1e-9 * max(1.0, abs(ref))
        G = res.plan[k]
        np.testing.assert_allclose(G[:p, :q].sum(1), A[k, :p], atol=1e-12)
        np.testing.assert_allclose(G[:p, :q].sum(0), Bw[k, :q], atol=1e-12)
        assert G[p:].sum() == 0 and G[:, q:].sum() == 0
        assert np.sum(G[:p, :q] * C[k, :p, :q]) == pytest.approx(ref, rel=1e-12)


def test_gradients_match_pot_torch_backend():
    C, A, Bw, sizes = mixed(1)
    Ct = torch.tensor(C, requires_grad=True)
    At = torch.tensor(A, requires_grad=True)
    Bt = torch.tensor(Bw, requires_grad=True)
    res = emd(Ct, At, Bt)
    weights = torch.arange(1.0, len(sizes) + 1, dtype=torch.float64)
    (res.value * weights).sum().backward()
    for k, (p, q) in enumerate(sizes):
        c = torch.tensor(C[k, :p, :q], requires_grad=True)
        a = torch.tensor(A[k, :p], requires_grad=True)
        b = torch.tensor(Bw[k, :q], requires_grad=True)
        v = ot.emd2(a, b, c)
        (v * weights[k]).backward()
        assert abs(float(res.value[k].detach()) - float(v.detach())) <= 1e-9
        np.testing.assert_allclose(Ct.grad[k, :p, :q].numpy(), c.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(At.grad[k, :p].numpy(), a.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(Bt.grad[k, :q].numpy(), b.grad.numpy(), atol=1e-9)
        assert torch.all(Ct.grad[k, p:] == 0) and torch.all(At.grad[k, p:] == 0)


def test_plan_gradient_is_a_true_derivative_of_the_value():
    # W is piecewise linear in C: along a small direction dC, W(C + t dC) - W(C) = t <P, dC>
    rng = np.random.default_rng(2)
    C = rng.uniform(size=(6, 5))
    dC = rng.normal(size=(6, 5))
    P = emd(C).plan
    t = 1e-7
    fd = (emd(C + t * dC).value - emd(C).value) / t
    assert fd == pytest.approx(np.sum(P * dC), rel=1e-5)


def test_float32_torch_and_single_problem():
    C = torch.rand(4, 3, dtype=torch.float32)
    r = emd(C)
    assert r.value.dtype == torch.float32 and r.plan.shape == (4, 3)
    assert float(r.value) == pytest.approx(ot.emd2(np.full(4, .25), np.full(3, 1 / 3),
                                                   C.double().numpy()), rel=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="problem 0: a sums to 1 but b sums to 2"):
        emd(np.ones((2, 2)), [0.5, 0.5], [1.0, 1.0])


@pytest.mark.parametrize("case", [pytest.param(c, id=c[3]) for c in function_constraint_cases(
    emd, (np.ones((2, 2)),), skip=("C", "a", "b"))])
def test_parameter_constraints(case):
    check_function_constraint(*case)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_padding_at_the_end_and_holes_give_pots_answers(n_jobs):
    """Problems padded at the end (the sliced fast path) and problems with zero weights
    anywhere (the indexed path) both equal ot.emd2 on their unpadded part, with the
    duals centred on the real entries and zero on padding."""
    rng = np.random.default_rng(7)
    B, n, m = 12, 9, 7
    C = rng.random((B, n, m))
    for holes in (False, True):
        a, b = rng.random((B, n)), rng.random((B, m))
        for k in range(B):
            if holes:
                a[k, rng.choice(n, 3, replace=False)] = 0.0
                b[k, rng.choice(m, 2, replace=False)] = 0.0
            else:
                a[k, rng.integers(2, n + 1):] = 0.0
                b[k, rng.integers(2, m + 1):] = 0.0
        a, b = a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True)
        res = emd(C, a, b, n_jobs=n_jobs)
        for k in range(B):
            r, c = a[k] > 0, b[k] > 0
            M = C[k][np.ix_(r, c)]
            assert float(res.value[k]) == pytest.approx(ot.emd2(a[k, r], b[k, c], M), rel=1e-12)
            np.testing.assert_allclose(res.plan[k][np.ix_(r, c)],
                                       ot.emd(a[k, r], b[k, c], M), atol=1e-12)
            assert np.all(res.plan[k][~r] == 0) and np.all(res.plan[k][:, ~c] == 0)
            f, g = res.potentials[0][k], res.potentials[1][k]
            assert abs(f[r].sum()) < 1e-12 and abs(g[c].sum()) < 1e-12
            assert np.all(f[~r] == 0) and np.all(g[~c] == 0)
