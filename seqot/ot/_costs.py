"""Cost builders: frame-to-frame and relative-position costs, batched, via matrix products.

Two layouts:

* **paired**: ``X (B, n, d)`` and ``Y (B, m, d)`` → ``(B, n, m)`` (problem b compares X[b], Y[b]);
* **all pairs**: ``X (n_x, T_x, d)`` and ``Y (n_y, T_y, d)`` → ``(n_x, n_y, T_x, T_y)``, computed
  with **one** GEMM of all frames of X against all frames of Y, then a view — never a
  ``(B, n, m, d)`` intermediate.

Padded frames (zeros in a :class:`~seqot.utils.SequenceBatch`) give finite costs; masks decide
later that they carry no mass.

Precision: the Euclidean costs come from ``‖x−s‖² + ‖y−s‖² − 2⟨x−s, y−s⟩`` with ``s`` a point
among the frames, so their absolute error is about ``eps·spread²`` (the frames' spread around
``s``, not their distance from the origin). Frames whose differences are below ``sqrt(eps)``
times that spread (float64: 1e-8; float32: 2.4e-4) keep only a few digits of their cost, as
with any GEMM-based distance (scikit-learn's ``euclidean_distances`` likewise). The
Euclidean cost, whose square root would turn that error into ``sqrt(eps)`` times the spread
near zero, recomputes those near-duplicate entries from the frame differences, so identical
frames cost exactly 0.
"""

from __future__ import annotations

import math
from numbers import Integral

import torch

from ..utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "frame_cost",
    "pairwise_frame_cost",
    "relative_positions",
    "position_gap",
    "pairwise_position_gap",
    "COST_METRICS",
]

COST_METRICS = ("sqeuclidean", "euclidean", "cosine")


_METRIC = [StrOptions(set(COST_METRICS))]
_SIZE = [Interval(Integral, 0, None, closed="left")]


def _check_frames(X, Y, layout):
    """Both tensors, floating, of matching layout (3-D, or 2-D for paired), with equal d."""
    for name, Z in (("X", X), ("Y", Y)):
        if not isinstance(Z, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(Z).__name__} (the cost "
                            "builders work on tensors: use torch.as_tensor).")
        if not Z.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got {Z.dtype}.")
    dims = (2, 3) if layout == "paired" else (3,)
    if X.ndim not in dims or Y.ndim != X.ndim:
        raise ValueError(f"X and Y must both be {' or '.join(map(str, dims))}-D; got shapes "
                         f"{tuple(X.shape)} and {tuple(Y.shape)}.")
    if X.shape[-1] != Y.shape[-1]:
        raise ValueError(f"X and Y have different feature dimensions: {X.shape[-1]} and "
                         f"{Y.shape[-1]}.")
    if layout == "paired" and X.ndim == 3 and X.shape[0] != Y.shape[0]:
        raise ValueError(f"paired costs need as many problems in X as in Y; got "
                         f"{X.shape[0]} and {Y.shape[0]}.")


def _unit_rows(Z):
    """Rows scaled to unit norm; zero rows stay zero, with zero gradient."""
    scale = Z.detach().abs().amax(dim=1, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    Z = Z / scale  # no overflow (huge entries) or underflow (tiny ones) in the norm
    n = Z.norm(dim=1, keepdim=True)
    positive = n > 0
    return torch.where(positive, Z / torch.where(positive, n, torch.ones_like(n)),
                       torch.zeros_like(Z))


def _reference_point(X, Y, paired):
    """A point s near the frames (a constant: no gradient), to measure them from.

    Squared distances are translation invariant, but the Gram formula
    ``‖x‖² + ‖y‖² − 2⟨x, y⟩`` loses about ``eps·(‖x‖² + ‖y‖²)`` to cancellation: frames far
    from the origin (features around 100 that differ by 0.01) would lose every digit, in
    float32 all of them. Measured from a point among the frames, the norms are of the order
    of the data's spread instead. s is the mean of the sequences' first frames (never
    padding), per problem for paired costs, so padding never moves it.
    """
    with torch.no_grad():
        if paired:  # (B, n, d), (B, m, d)
            s = (X[:, :1] + Y[:, :1]) * 0.5
        else:  # all pairs: one point for every frame of X and Y
            s = (X[:, 0].sum(0) + Y[:, 0].sum(0)) / (X.shape[0] + Y.shape[0])
    return s


# Squared costs are summed over up to this many cells (a DP path, a plan) without overflow.
_SUM_HEADROOM = 2.0 ** 20


def _check_spread(X, Y):
    """Refuse frames too far apart for squared costs in their dtype (``X``, ``Y`` translated).

    ``‖x − y‖²`` of frames spread over ``M`` reaches ``4·d·M²``: above
    ``sqrt(max / (4·d·2^20))`` (float64: about 1e148, float32: about 4e15 for d = 1) the costs,
    or their sums along an alignment, overflow to inf and every distance built on them would
    be inf or NaN. A ``ValueError`` naming the range instead.
    """
    if X.numel() == 0 or Y.numel() == 0 or X.dtype in (torch.float16, torch.bfloat16):
        # half precision overflows at any realistic headroom: torch's own semantics there
        return
    with torch.no_grad():
        spread = float(torch.maximum(X.detach().abs().amax(), Y.detach().abs().amax()))
    if math.isnan(spread) or math.isinf(spread):
        raise ValueError("frames contain NaN or infinity; Euclidean frame costs need finite "
                         "frames.")
    d = X.shape[-1]
    limit = math.sqrt(torch.finfo(X.dtype).max / (4.0 * d * _SUM_HEADROOM))
    if not spread <= limit:
        raise ValueError(
            f"frame values spread over {spread:.3g} around their centre, beyond the "
            f"{limit:.3g} that Euclidean frame costs support in {X.dtype} for d={d} (their "
            "squares, or sums of them along an alignment, would overflow); rescale the "
            "features (e.g. standardise each channel), use float64, or cost='cosine'.")


def _translated(X, Y, paired):
    s = _reference_point(X, Y, paired)
    X, Y = X - s, Y - s
    _check_spread(X, Y)
    return X, Y


# Squared distances below this fraction of ‖x−s‖² + ‖y−s‖² lost most of their digits to the
# Gram formula's cancellation; the Euclidean cost recomputes them from the differences.
_CANCELLED = 2.0 ** -10
# Entries recomputed per gather (bounds the (k, d) temporaries).
_REFINE_CHUNK = 2 ** 18


def _recompute_cancelled(sq, sums, both_zero, difference):
    """Squared distances ``sq`` with the cancellation-dominated entries recomputed exactly.

    ``sqrt`` turns the Gram formula's absolute error ``eps·(‖x−s‖² + ‖y−s‖²)`` into an error
    of ``sqrt(eps)`` times the spread near zero (float32 self-distances of 1e-4, mean
    distances of identical means 1.5e-8 in float64). Entries with ``sq`` below
    ``_CANCELLED · sums`` are recomputed as ``‖x − y‖²`` from ``difference(index)`` (the frame
    differences of those entries); pairs of all-zero frames (padding) are exactly 0. Near
    duplicates are rare in real data, so only a few entries are gathered.
    """
    with torch.no_grad():
        cand = sq <= sums.mul(_CANCELLED)
        cand &= ~both_zero
        idx = cand.nonzero(as_tuple=True)
        del cand
        any_zero = bool(both_zero.any())
    grad = sq.requires_grad
    if any_zero:
        sq = sq.masked_fill(both_zero, 0.0) if grad else sq.masked_fill_(both_zero, 0.0)
    k = int(idx[0].numel())
    if k == 0:
        return sq
    # the exact values of every candidate first, then one write into the cost tensor
    values = torch.cat([
        (lambda diff: (diff * diff).sum(-1))(
            difference(tuple(ix[start:start + _REFINE_CHUNK] for ix in idx)))
        for start in range(0, k, _REFINE_CHUNK)])
    return sq.index_put(idx, values) if grad else sq.index_put_(idx, values)


def _finish(sq_or_dot, x_sq, y_sq, metric, refine=None):
    """``‖x‖² + ‖y‖² − 2⟨x, y⟩`` (clamped at 0) for ``sqeuclidean``, its root for
    ``euclidean``; ``refine=(both_zero, difference)`` recomputes the cancelled entries first
    (see :func:`_recompute_cancelled`)."""
    sq = (x_sq + y_sq - 2.0 * sq_or_dot).clamp_min(0.0)
    if metric == "sqeuclidean":
        return sq
    if refine is not None:
        sq = _recompute_cancelled(sq, x_sq + y_sq, *refine)
    # sqrt has an infinite derivative at 0: keep gradients finite on exact matches
    return torch.where(sq > 0, sq, torch.ones_like(sq)).sqrt() * (sq > 0)


def _augmented_frames(X, Y, metric):
    """Augmented frames whose dot products are the frame costs before their last step.

    ``[-2x, |x|^2, 1] . [y, 1, |y|^2] = |x - y|^2`` (frames translated first, so the norms are
    those of the spread, not of a common offset) and ``[-x/|x|, 1] . [y/|y|, 1] = 1 - cos``
    (unit rows: no overflow of huge norms, zero frames stay zero and cost 1). Returns
    ``(Xa, Ya)`` of shapes ``(r, n, d')`` and ``(c, m, d')`` for ``X`` ``(r, n, d)`` and ``Y``
    ``(c, m, d)``; a caller that multiplies them (e.g. one anti-diagonal at a time, never
    holding the whole cost tensor) finishes with :func:`_finish_augmented`.
    """
    r, n, d = X.shape
    c, m, _ = Y.shape
    one_x = torch.ones((r, n, 1), dtype=X.dtype, device=X.device)
    one_y = torch.ones((c, m, 1), dtype=X.dtype, device=X.device)
    if metric == "cosine":
        Xa = torch.cat([-_unit_rows(X.reshape(r * n, d)).view(r, n, d), one_x], -1)
        Ya = torch.cat([_unit_rows(Y.reshape(c * m, d)).view(c, m, d), one_y], -1)
    else:
        X, Y = _translated(X, Y, paired=False)
        Xa = torch.cat([-2.0 * X, (X * X).sum(-1, keepdim=True), one_x], -1)
        Ya = torch.cat([Y, one_y, (Y * Y).sum(-1, keepdim=True)], -1)
    return Xa, Ya


def _finish_augmented(v, metric):
    """In place: dot products of :func:`_augmented_frames` -> the frame costs."""
    v.clamp_min_(0.0)  # rounding: |x|^2 + |y|^2 - 2<x, y> may be < 0
    if metric == "euclidean":
        v.sqrt_()
    return v


def _zero_frames(Z):
    """True on frames that are all zero (padding, or genuinely zero): (..., T)."""
    with torch.no_grad():
        return (Z == 0).all(-1)


@validate_params({"metric": _METRIC},
                 prefer_skip_nested_validation=True)
def frame_cost(X, Y, metric="sqeuclidean"):
    """Paired frame costs ``C[b, i, j] = c(X[b, i], Y[b, j])``.

    Parameters
    ----------
    X : Tensor of shape (B, n, d) or (n, d)
    Y : Tensor of shape (B, m, d) or (m, d)
    metric : {"sqeuclidean", "euclidean", "cosine"}
        ``‖x − y‖²``, ``‖x − y‖`` or ``1 − cos(x, y)``.

    Returns
    -------
    Tensor of shape (B, n, m) (or (n, m) for 2-D input)
    """
    _check_frames(X, Y, "paired")
    squeeze = X.ndim == 2
    if squeeze:
        X, Y = X[None], Y[None]
    if metric == "cosine":
        # unit rows first: the norms of huge (or tiny) frames would overflow (underflow)
        Xn, Yn = _unit_rows(X.reshape(-1, X.shape[-1])), _unit_rows(Y.reshape(-1, Y.shape[-1]))
        dot = torch.bmm(Xn.view(X.shape), Yn.view(Y.shape).transpose(1, 2))
        out = (1.0 - dot).clamp_min(0.0)
    else:
        refine = None
        if metric == "euclidean":
            both_zero = _zero_frames(X)[:, :, None] & _zero_frames(Y)[:, None, :]
        X, Y = _translated(X, Y, paired=True)
        if metric == "euclidean":
            refine = (both_zero, lambda ix: X[ix[0], ix[1]] - Y[ix[0], ix[2]])
        dot = torch.bmm(X, Y.transpose(1, 2))
        out = _finish(dot, (X * X).sum(-1)[:, :, None], (Y * Y).sum(-1)[:, None, :], metric,
                      refine)
    return out[0] if squeeze else out


@validate_params({"metric": _METRIC,
                  "problems_last": ["boolean"]}, prefer_skip_nested_validation=True)
def pairwise_frame_cost(X, Y, metric="sqeuclidean", *, problems_last=False):
    """Frame costs between every sequence of X and every sequence of Y, from one GEMM.

    Parameters
    ----------
    X : Tensor of shape (n_x, T_x, d)
    Y : Tensor of shape (n_y, T_y, d)
    metric : {"sqeuclidean", "euclidean", "cosine"}
    problems_last : bool, default=False
        Return the contiguous ``(T_x, T_y, n_x, n_y)`` layout that anti-diagonal dynamic
        programs read (built directly from frame-major stacks, with no extra copy).

    Returns
    -------
    Tensor of shape (n_x, n_y, T_x, T_y), or (T_x, T_y, n_x, n_y) with ``problems_last``
    """
    _check_frames(X, Y, "all pairs")
    if problems_last:
        return _pairwise_cost_problems_last(X, Y, metric)
    nx, tx, d = X.shape
    ny, ty, _ = Y.shape
    if metric == "cosine":
        # unit rows first: the norms of huge (or tiny) frames would overflow (underflow)
        Xn, Yn = _unit_rows(X.reshape(nx * tx, d)), _unit_rows(Y.reshape(ny * ty, d))
        dot = (Xn @ Yn.T).view(nx, tx, ny, ty).permute(0, 2, 1, 3)
        return (1.0 - dot).clamp_min(0.0)
    refine = None
    if metric == "euclidean":
        both_zero = _zero_frames(X)[:, None, :, None] & _zero_frames(Y)[None, :, None, :]
    X, Y = _translated(X, Y, paired=False)
    if metric == "euclidean":
        refine = (both_zero, lambda ix: X[ix[0], ix[2]] - Y[ix[1], ix[3]])
    dot = (X.reshape(nx * tx, d) @ Y.reshape(ny * ty, d).T).view(nx, tx, ny, ty)
    dot = dot.permute(0, 2, 1, 3)
    x_sq = (X * X).sum(-1)[:, None, :, None]
    y_sq = (Y * Y).sum(-1)[None, :, None, :]
    return _finish(dot, x_sq, y_sq, metric, refine)


def _pairwise_cost_problems_last(X, Y, metric):
    """One GEMM of the frame-major stacks ``(T_x n_x, d) x (d, T_y n_y)`` gives
    ``(T_x, n_x, T_y, n_y)``; one pass that swaps the middle axes finishes the cost."""
    nx, tx, d = X.shape
    ny, ty, _ = Y.shape
    Xf = X.transpose(0, 1).reshape(tx * nx, d)
    Yf = Y.transpose(0, 1).reshape(ty * ny, d)
    grad = torch.is_grad_enabled() and (X.requires_grad or Y.requires_grad)
    out = None if grad else torch.empty((tx, ty, nx, ny), dtype=X.dtype, device=X.device)

    def to_layout(G):
        return G.view(tx, nx, ty, ny).permute(0, 2, 1, 3)

    if metric == "cosine":
        Xn, Yn = _unit_rows(Xf), _unit_rows(Yf)
        # 1 - cos; zero (padding) frames have cosine 0 with everything, so cost 1
        G = torch.addmm(torch.ones((), dtype=X.dtype, device=X.device), Xn, Yn.T, alpha=-1.0)
        if grad:
            return to_layout(G).contiguous().clamp_min(0.0)
        return out.copy_(to_layout(G)).clamp_min_(0.0)
    if metric == "euclidean":
        both_zero = (_zero_frames(Xf).view(tx, 1, nx, 1)
                     & _zero_frames(Yf).view(1, ty, 1, ny))
    shift = _reference_point(X, Y, paired=False)
    Xf, Yf = Xf - shift, Yf - shift
    _check_spread(Xf, Yf)
    x_sq = (Xf * Xf).sum(1)
    y_sq = (Yf * Yf).sum(1)
    G = torch.addmm(y_sq[None, :], Xf, Yf.T, alpha=-2.0)  # |y|^2 - 2 <x, y>
    x_term = x_sq.view(tx, 1, nx, 1)
    if grad:
        sq = (to_layout(G) + x_term).contiguous().clamp_min(0.0)
    else:
        sq = torch.add(to_layout(G), x_term, out=out).clamp_min_(0.0)
    if metric == "euclidean":
        sq = _recompute_cancelled(
            sq, x_term + y_sq.view(1, ty, 1, ny), both_zero,
            lambda ix: Xf[ix[0] * nx + ix[2]] - Yf[ix[1] * ny + ix[3]])
        # sqrt has an infinite derivative at 0: keep gradients finite on exact matches
        pos = sq > 0
        sq = torch.where(pos, sq, torch.ones_like(sq)).sqrt() * pos
    return sq


@validate_params({"lengths": [torch.Tensor], "max_length": _SIZE, "dtype": [torch.dtype]},
                 prefer_skip_nested_validation=True)
def relative_positions(lengths, max_length, dtype=torch.float64):
    """Positions ``(i + 1) / T`` of each frame within its own sequence, 0 on padding.

    Parameters
    ----------
    lengths : Tensor of shape (B,)
    max_length : int

    Returns
    -------
    Tensor of shape (B, max_length)
    """
    ar = torch.arange(1, max_length + 1, device=lengths.device, dtype=dtype)
    pos = ar[None, :] / lengths[:, None].to(dtype)
    return torch.where(ar[None, :] <= lengths[:, None], pos, torch.zeros((), dtype=dtype,
                                                                          device=pos.device))


@validate_params({"len_x": [torch.Tensor], "len_y": [torch.Tensor], "tx": _SIZE, "ty": _SIZE,
                  "dtype": [torch.dtype]}, prefer_skip_nested_validation=True)
def position_gap(len_x, len_y, tx, ty, dtype=torch.float64):
    """Paired relative-position gaps ``|(i+1)/T_x − (j+1)/T_y|``, shape ``(B, tx, ty)``."""
    px = relative_positions(len_x, tx, dtype)
    py = relative_positions(len_y, ty, dtype)
    return (px[:, :, None] - py[:, None, :]).abs()


@validate_params({"len_x": [torch.Tensor], "len_y": [torch.Tensor], "tx": _SIZE, "ty": _SIZE,
                  "dtype": [torch.dtype]}, prefer_skip_nested_validation=True)
def pairwise_position_gap(len_x, len_y, tx, ty, dtype=torch.float64):
    """All-pairs relative-position gaps, shape ``(n_x, n_y, tx, ty)``."""
    px = relative_positions(len_x, tx, dtype)
    py = relative_positions(len_y, ty, dtype)
    return (px[:, None, :, None] - py[None, :, None, :]).abs()
