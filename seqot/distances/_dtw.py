r"""Dynamic-programming alignment distances: DTW, soft-DTW and OTAM.

All three are the same recursion over a cost matrix :math:`C \in \mathbb{R}^{n \times m}`,

.. math::

    R_{i,j} = C_{i,j} + \operatorname{min}_\gamma\{R_{i-1,j-1},\; R_{i-1,j},\; R_{i,j-1}\},
    \qquad R_{-1,-1} = 0,\quad R_{-1,j} = R_{i,-1} = +\infty,

with the hard minimum (:math:`\gamma = 0`, DTW) or the soft minimum
:math:`\operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma}` (soft-DTW, OTAM), and
optionally a per-problem, per-column mask of the allowed predecessors (OTAM's restricted
moves).

The engine
----------
:func:`batched_alignment_dp` solves ``B`` such problems at once. Cell ``(i, j)`` only depends
on cells of the two previous anti-diagonals ``i + j = k - 1, k - 2``, so the Python loop runs
over the ``n + m - 1`` anti-diagonals and each step is a handful of tensor operations over all
problems and all cells of the diagonal. The tables live in a ``(n + 2, m + 2, B)`` layout
(problems innermost, one border row/column on each side): an anti-diagonal is then a strided
*view* ``(L, B)`` whose rows are contiguous runs of ``B`` numbers, so no gather/scatter is
needed, and its three predecessors are the same view shifted by a constant offset.
Each problem has its own lengths; cells beyond them are padding, never influence the cells
inside (a cell only depends on cells above and to the left) and the value of problem ``b`` is
read at its own end cell ``(len_x[b] - 1, len_y[b] - 1)``.

Soft recursions are run on :math:`N = -R/\gamma`, for which the soft minimum is a log-sum-exp
computed with two stable ``torch.logaddexp`` calls per diagonal.

The pairwise metrics ``"dtw"``, ``"soft_dtw"`` and ``"otam"`` (registered with
:func:`~seqot.distances.register_metric`) solve all pairs of a block in passes of about
``_CHUNK_CELLS`` table cells. Without autograd, DTW/soft-DTW never build the
``(n_x n_y, T_x, T_y)`` cost tensor: each anti-diagonal's costs come from one batched GEMM
of augmented frames, just before they are used. With autograd (and for OTAM) the block's
cost tensor is built problems-last (the layout of :func:`seqot.ot.pairwise_frame_cost`,
transposed) and differentiated through the custom backward below.

Gradients
---------
* soft (``gamma > 0``): a custom :class:`torch.autograd.Function` whose backward is the
  expected-alignment recursion of Cuturi & Blondel (2017, Algorithm 2),
  :math:`E = \partial R_{n,m} / \partial C`, run as a reverse anti-diagonal wavefront on the
  saved table (no autograd graph through the forward loop: memory is one table per problem);
* hard (DTW): the optimal warping path's indicator matrix, a subgradient of the value w.r.t.
  ``C`` (ties are broken in the order diagonal, vertical, horizontal), obtained by a reverse
  wavefront that follows the arg-min predecessors. (It is the :math:`\gamma \to 0` limit of
  soft-DTW's :math:`E` when the optimal path is unique.)

References
----------
H. Sakoe and S. Chiba. Dynamic programming algorithm optimization for spoken word
recognition. IEEE Trans. Acoustics, Speech and Signal Processing 26(1):43-49, 1978.

M. Cuturi and M. Blondel. Soft-DTW: a differentiable loss function for time-series. ICML 2017.

K. Cao, J. Ji, Z. Cao, C.-Y. Chang and J. C. Niebles. Few-shot video classification via
temporal alignment. CVPR 2020.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..ot._costs import _METRIC as _COST
from ..ot._costs import _translated, frame_cost, pairwise_frame_cost
from ..utils._param_validation import POSITIVE, validate_params
from ..utils._validation import check_sequence
from ._pairwise import register_metric

__all__ = ["dtw", "soft_dtw", "otam", "batched_alignment_dp"]

# Cells of the (n + 2) x (m + 2) table times problems that one engine pass works on: large
# enough to amortise the per-diagonal Python/dispatch overhead, small enough to stay near the
# CPU's cache (measured on 2 cores, T = 50: 4M cells beat 2M and 8M).
_CHUNK_CELLS = 1 << 22

_DIAG, _UP, _LEFT = 0, 1, 2


# ---------------------------------------------------------------------------
# the anti-diagonal wavefront engine
# ---------------------------------------------------------------------------
class _Layout:
    """Offsets of anti-diagonal views in a contiguous ``(n + 2, m + 2, b)`` table.

    Grid cell ``(i, j)`` (0-based) lives at table position ``(i + 1, j + 1)``; row/column 0
    are the ``-1`` border and row ``n + 1``/column ``m + 1`` are an "after the end" border.
    """

    def __init__(self, n, m, b):
        self.n, self.m, self.b = n, m, b
        self.W = m + 2
        self.stride = ((self.W - 1) * b, 1)  # down-left along an anti-diagonal

    def diag(self, k):
        """``(shape, offset, pen_offset, lo)`` of anti-diagonal ``k`` (``i + j = k``, rows from
        ``lo``)."""
        n, m, b = self.n, self.m, self.b
        lo, hi = max(0, k - m + 1), min(n - 1, k)
        shape = (hi - lo + 1, b)
        off = ((lo + 1) * self.W + (k - lo + 1)) * b
        # penalties are stored column-flipped ((m + 2, b), row m - j for column j) so that the
        # columns of an anti-diagonal, which decrease along it, are an increasing slice
        pen_off = (m - k + lo) * b
        return shape, off, pen_off, lo

    def view(self, t, shape, off):
        return t.as_strided(shape, self.stride, off)


def _problems_last(C):
    """``C (b, n, m)`` as an ``(n, m, b)`` view with unit stride along problems (copy if not)."""
    Cn = C.permute(1, 2, 0)
    s0, s1, s2 = Cn.stride()
    if (s2 != 1 and Cn.shape[2] > 1) or s0 < s1:
        Cn = Cn.contiguous()
    return Cn


class _TensorCost:
    """Costs given as a tensor ``C (b, n, m)``; an anti-diagonal is a strided view (no copy
    when ``C`` is already problems-last, as the pairwise path builds it)."""

    def __init__(self, C):
        self.b, self.n, self.m = C.shape
        self.dtype, self.device = C.dtype, C.device
        self.Cn = _problems_last(C)
        s0, s1, s2 = self.Cn.stride()
        self._base, self._s1, self._stride = self.Cn.storage_offset(), s1, (s0 - s1, s2)

    def diag(self, k, lo, shape):
        return self.Cn.as_strided(shape, self._stride,
                                  self._base + k * self._s1 + lo * self._stride[0])


class _FrameCost:
    """Costs of all pairs ``(X[p], Y[q])`` of two padded batches, one anti-diagonal at a time.

    The cost of cell ``(i, j)`` for every pair is a dot product of augmented frames
    (``[-2x, |x|^2, 1] . [y, 1, |y|^2] = |x - y|^2``; ``[-x/|x|, 1] . [y/|y|, 1] = 1 - cos``), so
    an anti-diagonal is one batched GEMM ``(L, r, d') x (L, d', c)`` over its ``L`` cells: the
    ``(n, m, r c)`` cost tensor never exists and the pass stays in cache. No autograd.
    Problem ``p * c + q`` compares ``X[p]`` with ``Y[q]``.
    """

    def __init__(self, X, Y, metric):
        r, n, d = X.shape
        c, m, _ = Y.shape
        self.r, self.c, self.b, self.n, self.m = r, c, r * c, n, m
        self.dtype, self.device, self.metric = X.dtype, X.device, metric
        one_x = torch.ones((r, n, 1), dtype=X.dtype, device=X.device)
        one_y = torch.ones((c, m, 1), dtype=X.dtype, device=X.device)
        if metric == "cosine":
            tiny = torch.finfo(X.dtype).tiny
            Xa = torch.cat([-X / X.norm(dim=-1, keepdim=True).clamp_min(tiny), one_x], -1)
            Ya = torch.cat([Y / Y.norm(dim=-1, keepdim=True).clamp_min(tiny), one_y], -1)
        else:
            X, Y = _translated(X, Y, paired=False)  # norms of the spread, not the offset
            Xa = torch.cat([-2.0 * X, (X * X).sum(-1, keepdim=True), one_x], -1)
            Ya = torch.cat([Y, one_y, (Y * Y).sum(-1, keepdim=True)], -1)
        self.Xa = Xa.transpose(0, 1).contiguous()  # (n, r, d')
        # (m, d', c), frames reversed so that an anti-diagonal's columns are a forward slice
        self.Ya = Ya.transpose(0, 1).flip(0).transpose(1, 2).contiguous()
        self.buf = torch.empty(min(n, m) * self.b, dtype=X.dtype, device=X.device)

    def diag(self, k, lo, shape):
        L = shape[0]
        f = self.m - 1 - k + lo
        out = self.buf[: L * self.b].view(L, self.r, self.c)
        torch.bmm(self.Xa[lo : lo + L], self.Ya[f : f + L], out=out)
        v = out.view(shape).clamp_min_(0.0)  # rounding: |x|^2 + |y|^2 - 2<x, y> may be < 0
        if self.metric == "euclidean":
            v.sqrt_()
        return v


def _flipped_penalties(allowed, b, m, bad, dtype, device):
    """``allowed`` (broadcastable to (b, m, 3), bool) -> per move ``(m + 2, b)`` or None."""
    if allowed is None:
        return (None, None, None)
    allowed = torch.as_tensor(allowed, device=device, dtype=torch.bool)
    allowed = torch.broadcast_to(allowed, (b, m, 3))
    out = []
    for move in range(3):
        a = allowed[:, :, move]
        if bool(a.all()):
            out.append(None)
            continue
        pen = torch.zeros((m + 2, b), dtype=dtype, device=device)
        pen[1 : m + 1] = torch.where(
            a.T.flip(0),
            torch.zeros((), dtype=dtype, device=device),
            torch.full((), bad, dtype=dtype, device=device),
        )
        out.append(pen)
    return tuple(out)


def _workspace(work, name, shape, dtype, device):
    """A buffer of ``shape``: a view of ``work[name]`` (grown as needed), or a fresh tensor."""
    numel = int(np.prod(shape))
    if work is None:
        return torch.empty(shape, dtype=dtype, device=device)
    t = work.get(name)
    if t is None or t.numel() < numel or t.dtype != dtype or t.device != device:
        t = work[name] = torch.empty(numel, dtype=dtype, device=device)
    return t[:numel].view(shape)


def _forward_chunk(cost, len_x, len_y, gamma, allowed, keep=False, work=None):
    """One engine pass over ``cost`` (a _TensorCost or _FrameCost).

    Returns (values (b,), state for the backward pass or None). ``work`` (a dict) lends
    buffers across passes when no state is kept.
    """
    b, n, m = cost.b, cost.n, cost.m
    dt, dev = cost.dtype, cost.device
    soft = gamma is not None
    inf = float("inf")
    lay = _Layout(n, m, b)
    if keep:
        work = None
    # A holds R (hard) or N = -R / gamma (soft)
    A = _workspace(work, "A", (n + 2, m + 2, b), dt, dev)
    border = -inf if soft else inf
    A[0].fill_(border)
    A[:, 0].fill_(border)
    A[0, 0].fill_(0.0)
    pens = _flipped_penalties(allowed, b, m, border, dt, dev)
    W = lay.W
    shifts = ((W + 1) * b, W * b, b)  # diag, up, left predecessors
    buf = _workspace(work, "t", (min(n, m) * b,), dt, dev)
    pbuf = [torch.empty(min(n, m) * b, dtype=dt, device=dev) if p is not None else None
            for p in pens]
    for k in range(n + m - 1):
        shape, off, poff, lo = lay.diag(k)
        numel = shape[0] * b
        preds = []
        for move in range(3):
            v = lay.view(A, shape, off - shifts[move])
            if pens[move] is not None:
                v = torch.add(v, pens[move].as_strided(shape, (b, 1), poff),
                              out=pbuf[move][:numel].view(shape))
            preds.append(v)
        t = buf[:numel].view(shape)
        cell = lay.view(A, shape, off)
        c = cost.diag(k, lo, shape)
        if soft:
            torch.logaddexp(preds[0], preds[1], out=t)
            torch.logaddexp(t, preds[2], out=t)
            torch.sub(t, c, alpha=1.0 / gamma, out=cell)
        else:
            torch.minimum(preds[0], preds[1], out=t)
            torch.minimum(t, preds[2], out=t)
            torch.add(t, c, out=cell)
    idx = torch.arange(b, device=dev)
    vals = A[len_x, len_y, idx]
    vals = vals * (-gamma) if soft else vals.clone()
    state = (A, cost.Cn, pens, len_x, len_y, gamma) if keep else None
    return vals, state


def _backward_chunk(state):
    """``E = dR[end]/dC`` of one pass, shape ``(b, n, m)`` (the state is left intact)."""
    A, Cn, pens, len_x, len_y, gamma = state
    n2, W, b = A.shape
    n, m = n2 - 2, W - 2
    dt, dev = A.dtype, A.device
    lay = _Layout(n, m, b)
    E = torch.zeros((n + 2, m + 2, b), dtype=dt, device=dev)
    idx = torch.arange(b, device=dev)
    E[len_x, len_y, idx] = 1.0
    t = torch.empty(min(n, m) * b, dtype=dt, device=dev)
    if gamma is not None:
        # Expected alignment (Cuturi & Blondel 2017, Alg. 2), pulled from the successors:
        # E[p] = sum_s E[s] * P(s picks p),  P = exp(N[p] - Nv[s]),  Nv = N + C/gamma the
        # log-sum-exp of s's predecessors. Nv = +inf after the end so those weights vanish.
        Nv = torch.empty_like(A)
        torch.add(A[1 : n + 1, 1 : m + 1], Cn, alpha=1.0 / gamma, out=Nv[1 : n + 1, 1 : m + 1])
        Nv[n + 1].fill_(float("inf"))
        Nv[:, m + 1].fill_(float("inf"))
        # successor of p by each move: (offset shift, penalty column shift)
        succ = ((_UP, W * b, 0), (_LEFT, b, -b), (_DIAG, (W + 1) * b, -b))
        for k in range(n + m - 2, -1, -1):
            shape, off, poff, lo = lay.diag(k)
            tt = t[: shape[0] * b].view(shape)
            Np = lay.view(A, shape, off)
            Ep = lay.view(E, shape, off)
            for move, shift, pshift in succ:
                torch.sub(Np, lay.view(Nv, shape, off + shift), out=tt)
                if pens[move] is not None:
                    tt.add_(pens[move].as_strided(shape, (b, 1), poff + pshift))
                # a probability: log <= 0. Nv = N + C/gamma cancels catastrophically when
                # C/gamma is huge (float32, tiny gamma), which can push the difference above
                # 0 and exp to inf; an unreachable predecessor (-inf - -inf) has weight 0.
                tt.nan_to_num_(nan=-math.inf, posinf=0.0).clamp_max_(0.0)
                tt.exp_()
                Ep.addcmul_(tt, lay.view(E, shape, off + shift))
    else:
        # Optimal path: push each cell's weight to its arg-min predecessor
        # (ties: diagonal, then vertical, then horizontal).
        t2 = torch.empty(min(n, m) * b, dtype=dt, device=dev)
        shifts = ((W + 1) * b, W * b, b)
        for k in range(n + m - 2, -1, -1):
            shape, off, poff, lo = lay.diag(k)
            numel = shape[0] * b
            preds = []
            for move in range(3):
                v = lay.view(A, shape, off - shifts[move])
                if pens[move] is not None:
                    v = v + pens[move].as_strided(shape, (b, 1), poff)
                preds.append(v)
            mn = torch.minimum(preds[0], preds[1], out=t[:numel].view(shape))
            torch.minimum(mn, preds[2], out=mn)
            Es = lay.view(E, shape, off)
            is_d = preds[0] == mn
            is_u = (preds[1] == mn) & ~is_d
            is_l = ~(is_d | is_u)
            w = t2[:numel].view(shape)
            for move, sel in ((_DIAG, is_d), (_UP, is_u), (_LEFT, is_l)):
                torch.mul(Es, sel, out=w)
                lay.view(E, shape, off - shifts[move]).add_(w)
    return E[1 : n + 1, 1 : m + 1].permute(2, 0, 1)


def _chunks(C):
    b, n, m = C.shape
    size = max(1, _CHUNK_CELLS // ((n + 2) * (m + 2)))
    return [(s, min(s + size, b)) for s in range(0, b, size)]


def _forward(C, len_x, len_y, gamma, allowed, keep):
    vals, states, work = [], [], {}
    full_allowed = None
    if allowed is not None:
        shape = (C.shape[0], C.shape[2], 3)
        try:
            full_allowed = torch.broadcast_to(
                torch.as_tensor(allowed, device=C.device, dtype=torch.bool), shape)
        except RuntimeError:
            raise ValueError(f"allowed must be broadcastable to (B, m, 3) = {shape}; got "
                             f"shape {tuple(torch.as_tensor(allowed).shape)}.") from None
    for s, e in _chunks(C):
        al = None if full_allowed is None else full_allowed[s:e]
        v, st = _forward_chunk(_TensorCost(C[s:e]), len_x[s:e], len_y[s:e], gamma, al,
                               keep=keep, work=work)
        vals.append(v)
        if keep:
            states.append(st)
    return torch.cat(vals) if len(vals) > 1 else vals[0], states


def _backward(states):
    Es = [_backward_chunk(st) for st in states]
    return torch.cat(Es) if len(Es) > 1 else Es[0]


class _AlignmentDP(torch.autograd.Function):
    """Values of B alignment problems; backward = expected alignment / optimal path."""

    @staticmethod
    def forward(ctx, C, len_x, len_y, gamma, allowed):
        vals, states = _forward(C, len_x, len_y, gamma, allowed, keep=ctx.needs_input_grad[0])
        ctx.states = states
        return vals

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        E = _backward(ctx.states)
        return grad[:, None, None] * E, None, None, None, None


def _check_lengths(C, len_x, len_y):
    if C.ndim != 3:
        raise ValueError(f"C must be a (B, n, m) tensor; got shape {tuple(C.shape)}.")
    b, n, m = C.shape
    if b == 0 or n == 0 or m == 0:
        raise ValueError(f"C must be non-empty; got shape {tuple(C.shape)}.")

    def _lens(v, full, name):
        if v is None:
            return torch.full((b,), full, dtype=torch.long, device=C.device)
        v = torch.as_tensor(v, device=C.device).to(torch.long).reshape(-1)
        if v.shape[0] != b:
            raise ValueError(f"{name} has {v.shape[0]} entries for {b} problems.")
        if bool(((v < 1) | (v > full)).any()):
            raise ValueError(f"{name} must lie in [1, {full}].")
        return v

    return _lens(len_x, n, "len_x"), _lens(len_y, m, "len_y")


@validate_params({"gamma": [*POSITIVE, None], "return_alignment": ["boolean"]},
                 prefer_skip_nested_validation=True)
def batched_alignment_dp(C, len_x=None, len_y=None, *, gamma=None, allowed=None,
                         return_alignment=False):
    r"""Solve ``B`` DTW-type recursions at once with an anti-diagonal wavefront.

    .. math::

        R_{i,j} = C_{i,j} + \operatorname{min}_\gamma\{R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1}\}
        \quad\text{(allowed moves only)},\qquad R_{-1,-1} = 0,

    with the hard minimum for ``gamma=None`` and
    :math:`\operatorname{min}_\gamma(a) = -\gamma\log\sum_k e^{-a_k/\gamma}` otherwise.

    Parameters
    ----------
    C : Tensor of shape (B, n, m)
        Local costs; cells beyond a problem's lengths are padding and never change its value.
    len_x, len_y : Tensor of shape (B,), optional
        Each problem's numbers of rows and columns (default ``n`` and ``m``). The value of
        problem ``b`` is ``R[b, len_x[b] - 1, len_y[b] - 1]``.
    gamma : float or None
        Soft-min temperature, > 0; ``None`` is the hard minimum.
    allowed : bool Tensor broadcastable to (B, m, 3), optional
        ``allowed[b, j, move]``: whether a cell of column ``j`` of problem ``b`` may be entered
        by ``move`` (0 diagonal from ``(i-1, j-1)``, 1 vertical from ``(i-1, j)``,
        2 horizontal from ``(i, j-1)``). Every cell must keep at least one reachable
        predecessor. ``None`` allows all three.
    return_alignment : bool, default=False
        Also return ``E = dR_end / dC`` (soft: expected alignment; hard: the optimal path's
        indicator), shape ``(B, n, m)``, zero outside each problem.

    Returns
    -------
    values : Tensor of shape (B,)
        Differentiable w.r.t. ``C`` (custom backward, see the module docstring).
    E : Tensor of shape (B, n, m)
        Only with ``return_alignment=True`` (detached).

    Examples
    --------
    >>> import torch
    >>> C = torch.tensor([[[0., 4.], [1., 1.], [4., 0.]]], dtype=torch.float64)
    >>> batched_alignment_dp(C)
    tensor([1.], dtype=torch.float64)
    """
    return _batched_alignment_dp(C, len_x, len_y, gamma=gamma, allowed=allowed,
                                 return_alignment=return_alignment)


def _batched_alignment_dp(C, len_x=None, len_y=None, *, gamma=None, allowed=None,
                          return_alignment=False):
    """:func:`batched_alignment_dp` without its parameter validation (internal callers)."""
    if gamma is not None:
        gamma = float(gamma)
    len_x, len_y = _check_lengths(C, len_x, len_y)
    if return_alignment:
        with torch.no_grad():
            vals, states = _forward(C.detach(), len_x, len_y, gamma, allowed, keep=True)
            E = _backward(states)
        return vals, E
    if torch.is_grad_enabled() and C.requires_grad:
        return _AlignmentDP.apply(C, len_x, len_y, gamma, allowed)
    with torch.no_grad():
        return _forward(C, len_x, len_y, gamma, allowed, keep=False)[0]


# ---------------------------------------------------------------------------
# OTAM's padded problem
# ---------------------------------------------------------------------------
def _otam_problem(C, len_y):
    """Zero-pad one column on each side of each problem's support axis; OTAM's move mask.

    Returns the padded costs ``(B, n, m + 2)`` (zero in column 0 and in columns
    ``>= len_y + 1``), the ``allowed`` mask and the padded lengths ``len_y + 2``.
    """
    b, n, m = C.shape
    dev = C.device
    cols = torch.arange(m, device=dev)
    real = cols[None, :] < len_y[:, None]  # (b, m)
    Cr = torch.where(real[:, None, :], C, torch.zeros((), dtype=C.dtype, device=dev))
    Cp = torch.nn.functional.pad(Cr, (1, 1))
    pcols = torch.arange(m + 2, device=dev)
    # vertical moves: the padded first column, the first real column and the padded column
    # after each problem's last real column (the toolbox's "first and last columns")
    up = (pcols[None, :] <= 1) | (pcols[None, :] == (len_y[:, None] + 1))
    allowed = torch.ones((b, m + 2, 3), dtype=torch.bool, device=dev)
    allowed[:, :, _UP] = up
    return Cp, allowed, len_y + 2


def _otam_values(C, len_x, len_y, gamma, bidirectional):
    Cp, allowed, ly = _otam_problem(C, len_y)
    out = _batched_alignment_dp(Cp, len_x, ly, gamma=gamma, allowed=allowed)
    if bidirectional:
        Ct = C.transpose(1, 2)
        Cp, allowed, lx = _otam_problem(Ct, len_x)
        out = out + _batched_alignment_dp(Cp, len_y, lx, gamma=gamma, allowed=allowed)
    return out


# ---------------------------------------------------------------------------
# parameter constraints and the one-pair front end
# ---------------------------------------------------------------------------
#: Constraints of the metric parameters, shared by each function and its registered metric.
_DTW_CONSTRAINTS = {"cost": _COST}
_SOFT_DTW_CONSTRAINTS = {"gamma": POSITIVE, "cost": _COST}
_OTAM_CONSTRAINTS = {"gamma": POSITIVE, "cost": _COST, "bidirectional": ["boolean"]}


def _pair(x, y):
    """Validate one pair -> (x (T_x, d) tensor, y (T_y, d) tensor, torch_in)."""
    torch_in = isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor)
    xb = check_sequence(x, name="x")
    yb = check_sequence(y, name="y", n_features=xb.n_features)
    dev = None
    for b in (xb, yb):
        if b.is_torch:
            dev = b.data.device
            break
    xb, yb = xb.to_torch(dev), yb.to_torch(dev)
    dt = torch.promote_types(xb.data.dtype, yb.data.dtype)
    return xb.data[0].to(dt), yb.data[0].to(dt), torch_in


def _out(value, torch_in):
    value = value.reshape(())
    return value if torch_in else float(value.detach().cpu())


def _matrix_out(M, torch_in):
    return M if torch_in else M.detach().cpu().numpy()


@validate_params({**_DTW_CONSTRAINTS, "return_path": ["boolean"]},
                 prefer_skip_nested_validation=True)
def dtw(x, y, *, cost="sqeuclidean", return_path=False):
    r"""Dynamic time warping between two sequences (Sakoe & Chiba 1978).

    .. math::

        \mathrm{DTW}(x, y) = \min_{\pi} \sum_{(i,j) \in \pi} c(x_i, y_j),
        \qquad R_{i,j} = c(x_i, y_j) + \min\{R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1}\},

    over warping paths :math:`\pi` from :math:`(0, 0)` to :math:`(T_x - 1, T_y - 1)` with
    steps in :math:`\{(1,1), (1,0), (0,1)\}` (monotone, continuous, boundary-respecting);
    :math:`R_{-1,-1} = 0`, the other borders :math:`+\infty`, value :math:`R_{T_x-1,T_y-1}`.

    No square root is taken: with ``cost="sqeuclidean"``, ``tslearn.metrics.dtw(x, y)``
    equals ``sqrt(dtw(x, y))``.

    Parameters
    ----------
    x : array-like or Tensor of shape (T_x, d) or (T_x,)
    y : array-like or Tensor of shape (T_y, d) or (T_y,)
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        Frame cost ``c``.
    return_path : bool, default=False
        Also return the optimal path as a list of ``(i, j)`` pairs.

    Returns
    -------
    value : float or 0-dim Tensor
        A tensor (with autograd; the gradient w.r.t. the costs is the optimal path's
        indicator) when ``x`` or ``y`` is a tensor, else a float.
    path : list of (int, int)
        Only with ``return_path=True``.

    References
    ----------
    H. Sakoe and S. Chiba. Dynamic programming algorithm optimization for spoken word
    recognition. IEEE Trans. ASSP 26(1):43-49, 1978.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import dtw
    >>> dtw(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0]))
    1.0
    >>> dtw([0.0, 1.0, 2.0], [0.0, 2.0], return_path=True)[1]
    [(0, 0), (1, 0), (2, 1)]
    """
    x, y, torch_in = _pair(x, y)
    C = frame_cost(x, y, cost)[None]
    value = _batched_alignment_dp(C)
    value = _out(value, torch_in)
    if not return_path:
        return value
    _, E = _batched_alignment_dp(C.detach(), return_alignment=True)
    path = [(int(i), int(j)) for i, j in np.argwhere(E[0].cpu().numpy() > 0.5)]
    return value, path


@validate_params({**_SOFT_DTW_CONSTRAINTS, "return_alignment": ["boolean"]},
                 prefer_skip_nested_validation=True)
def soft_dtw(x, y, *, gamma=1.0, cost="sqeuclidean", return_alignment=False):
    r"""Soft-DTW between two sequences (Cuturi & Blondel 2017).

    .. math::

        R_{i,j} = c(x_i, y_j) + \operatorname{min}_\gamma\{R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1}\},
        \qquad \operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma},

    :math:`R_{-1,-1} = 0`, other borders :math:`+\infty`; the value is
    :math:`R_{T_x-1,T_y-1}` (it can be negative). With the default squared Euclidean cost
    this is ``tslearn.metrics.soft_dtw(x, y, gamma)``; as :math:`\gamma \to 0` it tends to
    :func:`dtw`.

    Parameters
    ----------
    x : array-like or Tensor of shape (T_x, d) or (T_x,)
    y : array-like or Tensor of shape (T_y, d) or (T_y,)
    gamma : float, default=1.0
        Soft-min temperature, > 0.
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        Frame cost ``c``.
    return_alignment : bool, default=False
        Also return the expected alignment :math:`E = \partial R_{T_x-1,T_y-1}/\partial C`
        (shape ``(T_x, T_y)``, detached for tensors), computed by the backward recursion of
        Cuturi & Blondel (2017, Algorithm 2).

    Returns
    -------
    value : float or 0-dim Tensor
        A tensor with autograd (custom backward, no graph through the recursion) when ``x``
        or ``y`` is a tensor, else a float.
    E : ndarray or Tensor of shape (T_x, T_y)
        Only with ``return_alignment=True``.

    References
    ----------
    M. Cuturi and M. Blondel. Soft-DTW: a differentiable loss function for time-series.
    ICML 2017.

    Examples
    --------
    >>> from seqot.distances import soft_dtw
    >>> round(soft_dtw([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], gamma=1.0), 4)
    -0.8954
    """
    x, y, torch_in = _pair(x, y)
    C = frame_cost(x, y, cost)[None]
    value = _out(_batched_alignment_dp(C, gamma=gamma), torch_in)
    if not return_alignment:
        return value
    _, E = _batched_alignment_dp(C.detach(), gamma=gamma, return_alignment=True)
    return value, _matrix_out(E[0], torch_in)


@validate_params(_OTAM_CONSTRAINTS, prefer_skip_nested_validation=True)
def otam(x, y, *, gamma=0.1, cost="cosine", bidirectional=False):
    r"""Ordered temporal alignment (OTAM; Cao et al. 2020), as in the few-shot toolbox code.

    The cost matrix :math:`D_{l,m} = c(x_l, y_m)` (default :math:`1 - \cos`) gets one zero
    column on each side of the support (``y``) axis, :math:`m = 0` and :math:`m = T_y + 1`,
    so the alignment may start and end anywhere along ``x``. Then, with
    :math:`\operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma}`,

    .. math::

        \Gamma_{0,m} &= \textstyle\sum_{m' \le m} D_{0,m'}, \qquad \Gamma_{l,0} = 0,\\
        \Gamma_{l,m} &= D_{l,m} + \operatorname{min}_\gamma\{\Gamma_{l-1,m-1},
            \Gamma_{l,m-1}\} \quad (2 \le m \le T_y),\\
        \Gamma_{l,m} &= D_{l,m} + \operatorname{min}_\gamma\{\Gamma_{l-1,m-1},
            \Gamma_{l-1,m}, \Gamma_{l,m-1}\} \quad (m \in \{1, T_y + 1\}),

    and the distance is :math:`\Gamma_{T_x-1, T_y+1}`. The vertical move is allowed in the
    first real column and in the padded last column, exactly as in the toolbox's
    ``OTAM_cum_dist`` (its padded first column stays zero; its ``cos_sim`` also adds 0.01 to
    the cosine's denominator, here the exact cosine is used). Few-shot use sums both
    directions: ``bidirectional=True`` returns ``otam(x, y) + otam(y, x)``.

    In :func:`~seqot.distances.pairwise_sequence_distances` the metric ``"otam"`` (params
    ``gamma``, ``cost``, ``bidirectional``) is registered as non-symmetric, because one
    direction is not; with ``bidirectional=True`` the result is symmetric but every block is
    still computed.

    Parameters
    ----------
    x : array-like or Tensor of shape (T_x, d) or (T_x,)
        Query (rows).
    y : array-like or Tensor of shape (T_y, d) or (T_y,)
        Support (padded columns).
    gamma : float, default=0.1
        Soft-min temperature :math:`\gamma > 0` (as in :func:`soft_dtw`; the paper's
        :math:`\lambda`).
    cost : {"cosine", "sqeuclidean", "euclidean"}, default="cosine"
        Frame cost.
    bidirectional : bool, default=False
        Sum both directions (symmetric).

    Returns
    -------
    float or 0-dim Tensor
        A tensor with autograd when ``x`` or ``y`` is a tensor. Like soft-DTW it is a soft
        minimum, not a distance: it can be negative (identical constant sequences give
        :math:`-\gamma` times the log of the number of paths), so distance-weighted votes
        (``KNeighborsSequenceClassifier(weights="distance")``) refuse it.

    References
    ----------
    K. Cao, J. Ji, Z. Cao, C.-Y. Chang and J. C. Niebles. Few-shot video classification via
    temporal alignment. CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import otam
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> round(otam(x, x[1:]), 4)
    -0.0887
    >>> round(otam(x, x[1:], bidirectional=True), 4)
    0.4269
    """
    x, y, torch_in = _pair(x, y)
    C = frame_cost(x, y, cost)[None]
    one = torch.ones(1, dtype=torch.long, device=C.device)
    lx, ly = one * C.shape[1], one * C.shape[2]
    return _out(_otam_values(C, lx, ly, float(gamma), bidirectional), torch_in)


# ---------------------------------------------------------------------------
# pairwise metrics
# ---------------------------------------------------------------------------
def _block_costs(X, Y, metric):
    """All-pairs frame costs in the engine's layout ``(T_x, T_y, n_x, n_y)``, contiguous."""
    return pairwise_frame_cost(X, Y, metric, problems_last=True)


def _pairwise_blocks(xb, yb, metric, gamma=None, otam=None):
    """All-pairs values, computed on cache-sized sub-blocks of ``r x c`` pairs.

    Without autograd, DTW/soft-DTW costs are made per anti-diagonal (:class:`_FrameCost`)
    and the tables are reused from one sub-block to the next. With autograd (or for OTAM,
    whose padded problems need the cost tensor), the sub-block's cost tensor is built
    problems-last (:func:`_block_costs`) and goes through :func:`_batched_alignment_dp`.
    ``otam`` is ``(gamma, bidirectional)``. The parameters were checked by the caller (the
    registry's entry, or the pairwise driver once per call).
    """
    n_x, n_y = xb.n_sequences, yb.n_sequences
    per_pair = (xb.max_length + 2) * (yb.max_length + 2)
    pairs = max(1, _CHUNK_CELLS // per_pair)
    cols = min(n_y, pairs)
    rows = min(n_x, max(1, pairs // cols))
    grad = torch.is_grad_enabled() and (xb.data.requires_grad or yb.data.requires_grad)
    work = {}
    out_rows = []
    for i0 in range(0, n_x, rows):
        xs = xb.take(np.arange(i0, min(i0 + rows, n_x)))
        parts = []
        for j0 in range(0, n_y, cols):
            ys = yb.take(np.arange(j0, min(j0 + cols, n_y)))
            r, c = xs.n_sequences, ys.n_sequences
            lx = xs.lengths.repeat_interleave(c)
            ly = ys.lengths.repeat(r)
            if otam is None and not grad:
                with torch.no_grad():
                    v, _ = _forward_chunk(_FrameCost(xs.data, ys.data, metric), lx, ly, gamma,
                                          None, work=work)
            else:
                C = _block_costs(xs.data, ys.data, metric)
                C = C.view(xs.max_length, ys.max_length, r * c).permute(2, 0, 1)
                if otam is None:
                    v = _batched_alignment_dp(C, lx, ly, gamma=gamma)
                else:
                    v = _otam_values(C, lx, ly, *otam)
            parts.append(v.view(r, c))
        out_rows.append(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])
    return torch.cat(out_rows, dim=0) if len(out_rows) > 1 else out_rows[0]


# The frame cost is the parameter ``cost``, as in every seqot distance, since ``metric``
# already names the sequence distance in pairwise_sequence_distances.
@register_metric("dtw", working_set="frames", symmetric=True, constraints=_DTW_CONSTRAINTS)
def _pairwise_dtw(xb, yb, cost="sqeuclidean"):
    """DTW (:func:`dtw`) between all pairs; ``cost`` is the frame cost."""
    return _pairwise_blocks(xb, yb, cost)


@register_metric("soft_dtw", working_set="frames", symmetric=True, signed=True,
                 constraints=_SOFT_DTW_CONSTRAINTS)
def _pairwise_soft_dtw(xb, yb, gamma=1.0, cost="sqeuclidean"):
    """Soft-DTW (:func:`soft_dtw`) between all pairs; params ``gamma``, ``cost``."""
    return _pairwise_blocks(xb, yb, cost, gamma=float(gamma))


# OTAM is not symmetric in one direction, so it is registered symmetric=False even though
# bidirectional=True gives a symmetric value (the driver then simply computes every block).
@register_metric("otam", working_set="frames", symmetric=False, signed=True,
                 constraints=_OTAM_CONSTRAINTS)
def _pairwise_otam(xb, yb, gamma=0.1, cost="cosine", bidirectional=False):
    """OTAM (:func:`otam`) from each ``x`` (query) to each ``y`` (support); params ``gamma``,
    ``cost``, ``bidirectional``."""
    return _pairwise_blocks(xb, yb, cost, otam=(float(gamma), bidirectional))
