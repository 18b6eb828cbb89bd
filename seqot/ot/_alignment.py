r"""The batched dynamic-programming alignment solver behind DTW, soft-DTW and OTAM.

:func:`batched_alignment_dp` solves ``B`` recursions over cost matrices
:math:`C \in \mathbb{R}^{n \times m}` at once,

.. math::

    R_{i,j} = C_{i,j} + \operatorname{min}_\gamma\{R_{i-1,j-1},\; R_{i-1,j},\; R_{i,j-1}\},
    \qquad R_{-1,-1} = 0,\quad R_{-1,j} = R_{i,-1} = +\infty,

with the hard minimum (``gamma=None``: DTW) or the soft minimum
:math:`\operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma}` (soft-DTW, OTAM), and
optionally a per-problem, per-column mask of the allowed predecessors (OTAM's restricted
moves). The sequence distances built on it are in :mod:`seqot.distances` (``dtw``,
``soft_dtw``, ``otam``); this module knows nothing of sequences or frame costs.

The engine
----------
Cell ``(i, j)`` only depends on cells of the two previous anti-diagonals
``i + j = k - 1, k - 2``, so the Python loop runs over the ``n + m - 1`` anti-diagonals and
each step is a handful of tensor operations over all problems and all cells of the diagonal.
The tables live in a ``(n + 2, m + 2, B)`` layout (problems innermost, one border row/column
on each side): an anti-diagonal is then a strided *view* ``(L, B)`` whose rows are contiguous
runs of ``B`` numbers, so no gather/scatter is needed, and its three predecessors are the same
view shifted by a constant offset. Each problem has its own lengths; cells beyond them are
padding, never influence the cells inside (a cell only depends on cells above and to the
left) and the value of problem ``b`` is read at its own end cell
``(len_x[b] - 1, len_y[b] - 1)``. Problems are solved in passes of about ``_CHUNK_CELLS``
table cells.

Soft recursions are run on :math:`N = -R/\gamma`, for which the soft minimum is a log-sum-exp
computed with two stable ``torch.logaddexp`` calls per diagonal.

One pass (:func:`_forward_chunk`) reads its costs from a *cost source*: an object with
``b, n, m, dtype, device`` and ``diag(k, lo, shape)`` returning anti-diagonal ``k``'s costs
as a ``(L, b)`` tensor (``Cn``, the ``(n, m, b)`` costs, too when the pass keeps its state for
a backward). :class:`_TensorCost` serves a cost tensor; the pairwise DTW metrics of
:mod:`seqot.distances` serve costs computed per anti-diagonal, without a cost tensor.

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
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..utils._param_validation import POSITIVE, validate_params

__all__ = ["batched_alignment_dp"]

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
    """One engine pass over ``cost`` (a cost source, see the module docstring).

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
        preds = _predecessors(lay, A, shape, off, poff, pens, shifts, b, pbuf)
        t = buf[:numel].view(shape)
        cell = lay.view(A, shape, off)
        c = cost.diag(k, lo, shape)
        if soft:
            torch.logaddexp(preds[0], preds[1], out=t)
            torch.logaddexp(t, preds[2], out=t)
            torch.sub(t, c, alpha=1.0 / gamma, out=cell)
        else:
            torch.add(_min3(preds, t), c, out=cell)
    idx = torch.arange(b, device=dev)
    vals = A[len_x, len_y, idx]
    vals = vals * (-gamma) if soft else vals.clone()
    state = (A, cost.Cn, pens, len_x, len_y, gamma) if keep else None
    return vals, state


def _predecessors(lay, A, shape, off, poff, pens, shifts, b, bufs=None):
    """The diagonal, vertical and horizontal predecessors of an anti-diagonal's cells, each
    plus its move penalty where moves are restricted (written to ``bufs[move]`` if given)."""
    preds = []
    for move in range(3):
        v = lay.view(A, shape, off - shifts[move])
        if pens[move] is not None:
            pen = pens[move].as_strided(shape, (b, 1), poff)
            v = v + pen if bufs is None else torch.add(v, pen,
                                                       out=bufs[move][: v.numel()].view(shape))
        preds.append(v)
    return preds


def _min3(preds, out):
    """Elementwise minimum of three predecessors, into ``out``."""
    torch.minimum(preds[0], preds[1], out=out)
    return torch.minimum(out, preds[2], out=out)


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
            preds = _predecessors(lay, A, shape, off, poff, pens, shifts, b)
            mn = _min3(preds, t[:numel].view(shape))
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
