r"""Exact optimal transport (EMD) through POT's network simplex, batched and differentiable.

.. math::

    W(\mathbf a, \mathbf b, C) = \min_{P \ge 0,\ P\mathbf 1 = \mathbf a,\ P^\top \mathbf 1 = \mathbf b}
    \langle P, C\rangle

Each problem of a batch is solved by POT's C++ network simplex on its non-padded part (zero
weights are padding); problems are spread over joblib workers in chunks. As a torch autograd
function the value has the envelope gradients POT's ``ot.emd2`` attaches: the optimal plan
w.r.t. ``C`` and the dual potentials, each minus its mean, w.r.t. ``a`` and ``b``.
"""

from __future__ import annotations

import numpy as np
import torch
from joblib import Parallel, delayed

from ..utils._param_validation import N_JOBS, POSITIVE_INT, validate_params
from ._base import OTResult, _output, _prepare

try:  # the network simplex itself, without ot.emd's per-call backend dispatch
    from ot.lp.emd_wrap import emd_c as _emd_c
except ImportError:  # pragma: no cover - a POT without the private wrapper
    _emd_c = None

__all__ = ["emd"]

# POT's result codes: 1 = optimal
_OPTIMAL = 1


def _simplex(a_s, b_s, M, max_iter):
    """One network simplex on an unpadded problem whose ``b_s`` carries ``a_s``'s mass."""
    if _emd_c is not None:
        return _emd_c(a_s, b_s, M, max_iter, 1, None, None)
    import ot  # pragma: no cover

    G, log = ot.emd(a_s, b_s, M, numItermax=max_iter, log=True)  # pragma: no cover
    return G, log["cost"], log["u"], log["v"], int(log["result_code"])  # pragma: no cover


def _solve_chunk(A, Bw, C, max_iter, prefix):
    """``(plan, cost, u, v, codes)`` of a chunk of problems (returned, not written in place,
    so that any joblib backend, processes and dask included, can run it). When every
    problem's mass sits on a prefix of its rows and columns (sequences padded at the end),
    the problems are plain slices; otherwise index arrays select them."""
    B, n, m = C.shape
    plan = np.zeros((B, n, m))
    u_out, v_out = np.zeros((B, n)), np.zeros((B, m))
    cost, codes = np.zeros(B), np.zeros(B, dtype=int)
    if prefix:
        na, nb = (A > 0).sum(1), (Bw > 0).sum(1)
        for k in range(B):
            r, c = int(na[k]), int(nb[k])
            M = np.ascontiguousarray(C[k, :r, :c])
            G, cost[k], u, v, codes[k] = _simplex(A[k, :r], Bw[k, :c], M, max_iter)
            plan[k, :r, :c], u_out[k, :r], v_out[k, :c] = G, u, v
    else:
        for k in range(B):
            rows, cols = np.flatnonzero(A[k] > 0), np.flatnonzero(Bw[k] > 0)
            M = np.ascontiguousarray(C[k][np.ix_(rows, cols)], dtype=np.float64)
            G, cost[k], u, v, codes[k] = _simplex(A[k, rows], Bw[k, cols], M, max_iter)
            plan[k, rows[:, None], cols[None, :]], u_out[k, rows], v_out[k, cols] = G, u, v
    return plan, cost, u_out, v_out, codes


def _is_prefix(mask):
    """Whether each row's True entries are exactly its first ones."""
    return bool((mask == (np.arange(mask.shape[1]) < mask.sum(1)[:, None])).all())


def _solve_batch(A, Bw, C, max_iter, n_jobs):
    """All problems of a batch, the per-problem work reduced to the simplex itself: masses
    equalised and duals centred (as ``ot.emd2``) for the whole batch at once."""
    B, n, m = C.shape
    mask_a, mask_b = A > 0, Bw > 0
    prefix = _is_prefix(mask_a) and _is_prefix(mask_b)
    Bw = Bw * (A.sum(1) / Bw.sum(1))[:, None]  # exact equal mass for the simplex
    n_chunks = 1 if n_jobs in (None, 1) else max(1, min(B, 8 * abs(int(n_jobs))))
    bounds = np.linspace(0, B, n_chunks + 1).astype(int)
    spans = [(i, j) for i, j in zip(bounds[:-1], bounds[1:]) if j > i]
    if len(spans) == 1:  # nothing to parallelise: no joblib (or dask) round-trip
        plan, cost, u_all, v_all, codes = _solve_chunk(A, Bw, C, max_iter, prefix)
    else:
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_solve_chunk)(A[i:j], Bw[i:j], C[i:j], max_iter, prefix)
            for i, j in spans)
        plan, cost, u_all, v_all, codes = (np.concatenate(x) for x in zip(*parts))
    u_all -= (u_all.sum(1) / mask_a.sum(1))[:, None] * mask_a
    v_all -= (v_all.sum(1) / mask_b.sum(1))[:, None] * mask_b
    return plan, cost, u_all, v_all, codes


class _EMDValue(torch.autograd.Function):
    """Exact OT value with POT's envelope gradients (plan; centred dual potentials)."""

    @staticmethod
    def forward(ctx, C, a, b, max_iter, n_jobs):
        plan, cost, u, v, codes = _solve_batch(
            a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy(),
            C.detach().cpu().double().numpy(), max_iter, n_jobs)
        to = dict(dtype=C.dtype, device=C.device)
        plan_t = torch.as_tensor(plan, **to)
        u_t, v_t = torch.as_tensor(u, **to), torch.as_tensor(v, **to)
        ctx.save_for_backward(plan_t, u_t, v_t)
        codes_t = torch.as_tensor(codes, device=C.device)
        # one call: a second mark_non_differentiable replaces the first
        ctx.mark_non_differentiable(plan_t, u_t, v_t, codes_t)
        return torch.as_tensor(cost, **to), plan_t, u_t, v_t, codes_t

    @staticmethod
    def backward(ctx, grad_value, *_):
        plan, u, v = ctx.saved_tensors
        g = grad_value
        return g[:, None, None] * plan, g[:, None] * u, g[:, None] * v, None, None


@validate_params(
    {"C": ["array-like"], "a": ["array-like", None], "b": ["array-like", None],
     "max_iter": POSITIVE_INT, "n_jobs": N_JOBS},
    prefer_skip_nested_validation=True,
)
def emd(C, a=None, b=None, *, max_iter=100000, n_jobs=None):
    r"""Exact optimal transport for a batch of problems (POT's network simplex).

    Parameters
    ----------
    C : array or Tensor of shape (B, n, m) or (n, m)
        Costs; entries of zero-weight rows/columns (padding) are ignored.
    a, b : array or Tensor of shape (B, n)/(n,) and (B, m)/(m,), optional
        Non-negative weights with equal total mass per problem; zero = padding. ``None`` is
        uniform.
    max_iter : int, default=100000
        Network-simplex iteration limit per problem (POT's ``numItermax``).
    n_jobs : int, optional
        Problems are solved in chunks by joblib workers (threads by default; any joblib
        backend, e.g. dask, applies).

    Returns
    -------
    OTResult
        ``plan`` (no gradient, as in POT), ``value`` = ``value_linear`` = the optimal cost
        (with gradients for torch input: the plan w.r.t. ``C`` and the centred dual potentials
        w.r.t. ``a``/``b``, as ``ot.emd2``), ``potentials`` (centred duals, zero on padding),
        ``converged`` (the simplex reached optimality).

    Raises
    ------
    ValueError
        If a problem's ``a`` and ``b`` have different total mass.

    References
    ----------
    .. [1] N. Bonneel, M. van de Panne, S. Paris and W. Heidrich. Displacement interpolation
       using Lagrangian mass transport. ACM Transactions on Graphics 30(6), 2011.
    .. [2] R. Flamary et al. POT: Python Optimal Transport. JMLR 22(78), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.ot import emd
    >>> C = np.array([[0.0, 2.0], [1.0, 0.0]])
    >>> res = emd(C, [0.5, 0.5], [0.25, 0.75])
    >>> float(res.value)   # row 0 must send 0.25 to column 1, at cost 2
    0.5
    >>> res.plan
    array([[0.25, 0.25],
           [0.  , 0.5 ]])
    """
    C, a, b, mask_a, mask_b, numpy_in, single = _prepare(C, a, b)
    sa, sb = a.detach().sum(1), b.detach().sum(1)
    # rounding of normalised float32 weights reaches a few ulps; the solver rescales b anyway
    rtol = 1e-7 if a.dtype == torch.float64 else 16 * torch.finfo(a.dtype).eps
    bad = (sa - sb).abs() > rtol * torch.maximum(sa, sb)
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0, 0])
        raise ValueError(
            f"problem {k}: a sums to {float(sa[k]):.6g} but b sums to {float(sb[k]):.6g}; exact "
            "OT needs equal masses (normalise the weights, or use sinkhorn(..., unbalanced=))."
        )
    value, plan, u, v, codes = _EMDValue.apply(C, a, b, int(max_iter), n_jobs)
    res = OTResult(plan=plan, value=value, value_linear=value, potentials=(u, v), n_iter=0,
                   converged=codes == _OPTIMAL)
    return _output(res, numpy_in, single)


#: :func:`emd` without its parameter validation, for internal callers on hot paths.
_emd = emd.__wrapped__
