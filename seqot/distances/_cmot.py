r"""CMOT: the compromised semantic + temporal optimal-transport distance (Lu, Ye, Zhan 2021).

For two sequences of segment features :math:`x \in \mathbb R^{M_1\times D}`,
:math:`y \in \mathbb R^{M_2\times D}`:

.. math::

    C^{SE}_{pq} = \|x_p - y_q\|_2,\qquad
    C^{PO}_{pq} = \exp\Bigl(-\frac{1}{\sigma^2\,(r_{pq}^2 + 1)}\Bigr),\qquad
    r_{pq} = \frac{p - \frac12}{M_1} - \frac{q - \frac12}{M_2}

    C = C^{SE} + \alpha\, C^{PO},\qquad
    T^\star = \arg\min_{T \in U(\mu_1, \mu_2)} \langle T, C\rangle - \varepsilon H(T),\qquad
    \mathrm{dis}(x, y) = \langle T^\star, C\rangle

with :math:`\varepsilon = \mathrm{med}(C)/\lambda` per pair (:math:`\lambda = 7`, the paper's
:math:`\lambda = 7/\mathrm{med}(C)` rule) unless a fixed ``reg`` is given. The positional term
grows with the relative position gap, so mass moving across time costs more: ``alpha`` trades
content (order-blind OT at :math:`\alpha = 0`) against order. For :math:`M_1 = M_2 = M`,
:math:`r_{pq} = (p - q)/M` is the paper's Eq. 10; the centred positions keep the distance
symmetric and invariant to reversing both inputs when lengths differ.

All pairs of a block are solved by one call of the shared batched Sinkhorn.
"""

from __future__ import annotations

import torch

from ..ot._costs import COST_METRICS, pairwise_frame_cost
from ..ot._sinkhorn import _sinkhorn
from ..utils._param_validation import (
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    TOL,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from ..utils._validation import SequenceBatch
from ._ot_distances import pair_distance, report_unconverged
from ._pairwise import register_metric

__all__ = ["cmot", "positional_cost", "segment_pool"]

_N_SEGMENTS = [*POSITIVE_INT, None]

#: Constraints of CMOT's parameters: :func:`cmot`, the ``"cmot"`` metric and
#: :class:`~seqot.fewshot.CMOTNearestCentroid` share them.
_CMOT_CONSTRAINTS = {
    "alpha": NON_NEGATIVE,
    "sigma": POSITIVE,
    "reg": [*POSITIVE, None],
    "lambda_scale": POSITIVE,
    "cost": [StrOptions(set(COST_METRICS))],
    "max_iter": POSITIVE_INT,
    "tol": TOL,
    "distance": [StrOptions({"transport", "regularized"})],
    "n_segments": _N_SEGMENTS,
    "segment_weights": ["array-like", None],
}


def _check_cmot_params(params):
    """The checks of :func:`cmot`, for the undecorated hot paths (the pairwise metric)."""
    validate_parameter_constraints(_CMOT_CONSTRAINTS, params, caller_name="cmot")


def _centred_positions(lengths, max_length, dtype):
    ar = torch.arange(max_length, device=lengths.device, dtype=dtype)
    return (ar[None, :] + 0.5) / lengths[:, None].to(dtype)


@validate_params({"sigma": POSITIVE}, prefer_skip_nested_validation=True)
def positional_cost(len_x, len_y, sigma=1.2, *, max_x=None, max_y=None, dtype=torch.float64):
    r"""CMOT's positional cost :math:`C^{PO}` for every pair of lengths, ``(n_x, n_y, T_x, T_y)``.

    Parameters
    ----------
    len_x, len_y : int or Tensor of shape (n_x,), (n_y,)
        Sequence lengths (numbers of segments).
    sigma : float, default=1.2

    Returns
    -------
    Tensor
        ``(T_x, T_y)`` for two ints, else ``(n_x, n_y, max_x, max_y)``.

    Examples
    --------
    >>> from seqot.distances import positional_cost
    >>> positional_cost(4, 4, 1.2)[0].numpy().round(4)
    array([0.4994, 0.5202, 0.5738, 0.6412])
    """
    return _positional_cost(len_x, len_y, sigma, max_x=max_x, max_y=max_y, dtype=dtype)


def _positional_cost(len_x, len_y, sigma, *, max_x=None, max_y=None, dtype=torch.float64):
    scalar = isinstance(len_x, int) and isinstance(len_y, int)
    lx = torch.as_tensor([len_x] if scalar else len_x).reshape(-1)
    ly = torch.as_tensor([len_y] if scalar else len_y).reshape(-1)
    tx = int(lx.max()) if max_x is None else max_x
    ty = int(ly.max()) if max_y is None else max_y
    px = _centred_positions(lx, tx, dtype)
    py = _centred_positions(ly, ty, dtype)
    r = px[:, None, :, None] - py[None, :, None, :]
    out = torch.exp(-1.0 / (sigma ** 2 * (r * r + 1.0)))
    return out[0, 0] if scalar else out


@validate_params({"batch": [SequenceBatch], "n_segments": POSITIVE_INT},
                 prefer_skip_nested_validation=True)
def segment_pool(batch: SequenceBatch, n_segments: int) -> SequenceBatch:
    """Average each sequence over ``n_segments`` contiguous, near-equal temporal segments.

    Segment ``k`` of a sequence of length ``T`` covers frames ``floor(kT/n) .. floor((k+1)T/n)-1``;
    when ``T < n`` a segment takes the single frame at ``floor(kT/n)``. Differentiable (a batched
    weight-matrix product), so it can sit inside training.

    Returns
    -------
    SequenceBatch
        ``(n, n_segments, d)``, every length ``n_segments``.
    """
    return _segment_pool(batch, n_segments)


def _segment_pool(batch: SequenceBatch, n_segments: int) -> SequenceBatch:
    n_segments = int(n_segments)
    data, lengths = batch.data, batch.lengths
    dt = data.dtype
    k = torch.arange(n_segments, device=data.device)
    T = lengths[:, None]
    start = torch.div(k[None, :] * T, n_segments, rounding_mode="floor")
    end = torch.div((k[None, :] + 1) * T, n_segments, rounding_mode="floor")
    end = torch.maximum(end, start + 1)
    t = torch.arange(batch.max_length, device=data.device)
    W = ((t[None, None, :] >= start[:, :, None]) & (t[None, None, :] < end[:, :, None])).to(dt)
    W = W / W.sum(2, keepdim=True)
    pooled = torch.bmm(W, data)
    return SequenceBatch(pooled, torch.full_like(lengths, n_segments))


def _median_and_max(C, lx, ly):
    """numpy's median (mean of the two middle values) and the largest |entry| over each
    problem's valid entries."""
    B, tx, ty = C.shape
    valid = ((torch.arange(tx, device=C.device)[None, :, None] < lx[:, None, None])
             & (torch.arange(ty, device=C.device)[None, None, :] < ly[:, None, None]))
    flat = torch.where(valid, C, torch.full((), float("inf"), dtype=C.dtype, device=C.device))
    srt = flat.reshape(B, -1).sort(dim=1).values
    count = (lx * ly).to(torch.long)
    lo = torch.gather(srt, 1, ((count - 1) // 2)[:, None])[:, 0]
    hi = torch.gather(srt, 1, (count // 2)[:, None])[:, 0]
    biggest = torch.where(valid, C.abs(), torch.zeros((), dtype=C.dtype,
                                                      device=C.device)).amax((1, 2))
    return 0.5 * (lo + hi), biggest


def cmot_block(xb, yb, *, return_plan=False, **params):
    """CMOT distances between every sequence of two padded batches, ``(n_x, n_y)``.

    ``params`` are those of :func:`cmot`, checked here (the pairwise metric's entry).
    """
    _check_cmot_params(params)
    return _cmot_block(xb, yb, return_plan=return_plan, **params)


def _cmot_block(xb, yb, *, alpha=0.4, sigma=1.2, reg=None, lambda_scale=7.0, cost="euclidean",
                max_iter=100, tol=1e-6, distance="transport", n_segments=None,
                segment_weights=None, return_plan=False):
    """:func:`cmot_block` without the parameter checks (for callers that made them)."""
    if n_segments is not None:
        xb, yb = _segment_pool(xb, n_segments), _segment_pool(yb, n_segments)
    nx_, ny_ = xb.n_sequences, yb.n_sequences
    tx, ty = xb.max_length, yb.max_length
    dt = xb.data.dtype
    C = pairwise_frame_cost(xb.data, yb.data, cost).reshape(nx_ * ny_, tx, ty)
    if alpha > 0:
        po = _positional_cost(xb.lengths, yb.lengths, sigma, max_x=tx, max_y=ty, dtype=dt)
        C = C + alpha * po.reshape(nx_ * ny_, tx, ty)
    lx = xb.lengths[:, None].expand(nx_, ny_).reshape(-1)
    ly = yb.lengths[None, :].expand(nx_, ny_).reshape(-1)
    a, b = _weights(xb, segment_weights, "x"), _weights(yb, segment_weights, "y")
    a = a[:, None, :].expand(nx_, ny_, tx).reshape(-1, tx)
    b = b[None, :, :].expand(nx_, ny_, ty).reshape(-1, ty)
    if reg is None:
        med, biggest = _median_and_max(C.detach(), lx, ly)
        # a per-pair floor keeps eps > 0 when most entries coincide (alpha = 0, identical
        # segments) and keeps each distance a function of its own pair only
        eps = torch.maximum(med / lambda_scale, 1e-9 * (1.0 + biggest))
    else:
        eps = reg
    needs_grad = xb.data.requires_grad or yb.data.requires_grad
    res = _sinkhorn(C, a, b, reg=eps, max_iter=max_iter, tol=tol,
                    grad="autodiff" if needs_grad else "detach", warn=False)
    if reg is None:
        settings, advice = f"reg=median/{lambda_scale:g} per pair", "lower lambda_scale"
    else:
        settings, advice = f"reg={float(reg):g}", "reg"
    report_unconverged(res, "cmot", f"{settings}, max_iter={max_iter}, tol={tol:g}",
                       f"raise max_iter or {advice}")
    value = res.value_linear
    if distance == "regularized":
        T = res.plan
        ent = torch.where(T > 0, T * torch.log(torch.where(T > 0, T, torch.ones_like(T))),
                          torch.zeros_like(T)).sum((1, 2))
        eps_t = torch.as_tensor(eps, dtype=dt, device=C.device)
        value = value + eps_t * ent  # <T, C> - eps H(T), H(T) = -sum T log T
    out = value.reshape(nx_, ny_)
    if return_plan:
        return out, res.plan.reshape(nx_, ny_, tx, ty)
    return out


def _weights(batch, segment_weights, which):
    dt = batch.data.dtype
    if segment_weights is None:
        return batch.mask.to(dt) / batch.lengths[:, None].to(dt)
    w = torch.as_tensor(segment_weights, dtype=dt, device=batch.data.device).reshape(-1)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError("segment_weights must be finite, non-negative and not all zero.")
    bad = batch.lengths != w.numel()
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0, 0])
        raise ValueError(
            f"segment_weights has {w.numel()} entries but sequence {i} of {which} has "
            f"{int(batch.lengths[i])} segments; use n_segments={w.numel()} to pool sequences "
            "to that many segments.")
    w = w / w.sum()
    return w[None, :].expand(batch.n_sequences, -1)


@register_metric("cmot")  # Sinkhorn stopped early: d(x, y) != d(y, x)
def _cmot_metric(xb, yb, **params):
    return cmot_block(xb, yb, **params)


@validate_params(_CMOT_CONSTRAINTS, prefer_skip_nested_validation=True)
def cmot(x, y, *, alpha=0.4, sigma=1.2, reg=None, lambda_scale=7.0, cost="euclidean",
         max_iter=100, tol=1e-6, distance="transport", n_segments=None, segment_weights=None):
    r"""CMOT distance between two sequences of segment features.

    Parameters
    ----------
    x, y : array-like of shape (M_1, D), (M_2, D)
    alpha : float, default=0.4
        Weight of the positional cost (0 = order-blind entropic OT on the semantic cost).
    sigma : float, default=1.2
        Positional scale; the effect of order is largest near ``sigma = 0.9``.
    reg : float, optional
        A fixed entropic regularisation :math:`\varepsilon`. By default
        :math:`\varepsilon = \mathrm{med}(C)/\lambda` for each pair (scale-free).
    lambda_scale : float, default=7.0
        :math:`\lambda` of the median rule (the paper tries 5, 7, 9).
    cost : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Semantic cost between segments (the paper: Euclidean, not squared).
    max_iter, tol : Sinkhorn iterations (default 100) and tolerance. A pair whose solve ends
        unconverged, its plan off the marginals (see :func:`seqot.ot.sinkhorn`), is reported by
        a :class:`~seqot.ot.SinkhornConvergenceWarning`.
    distance : {"transport", "regularized"}, default="transport"
        :math:`\langle T^\star, C\rangle`, or the regularised objective
        :math:`\langle T^\star, C\rangle - \varepsilon H(T^\star)`.
    n_segments : int, optional
        First average each sequence over this many contiguous temporal segments (for
        variable-length frame sequences).
    segment_weights : array-like of shape (M,), optional
        Marginals :math:`\mu` (normalised); uniform by default.

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable)

    References
    ----------
    .. [1] S. Lu, H.-J. Ye and D.-C. Zhan. Few-shot action recognition with compromised
       metric via optimal transport. arXiv:2104.03737, 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import cmot
    >>> x = np.eye(4)
    >>> cmot(x, x[::-1], alpha=1.0) > cmot(x, x, alpha=1.0)   # order matters with alpha > 0
    True
    >>> abs(cmot(x, x[::-1], alpha=0.0) - cmot(x, x, alpha=0.0)) < 1e-6   # not at alpha = 0
    True
    """
    # checked by the decorator: straight to the unchecked block
    return pair_distance(_cmot_block, x, y, alpha=alpha, sigma=sigma, reg=reg,
                         lambda_scale=lambda_scale, cost=cost, max_iter=max_iter, tol=tol,
                         distance=distance, n_segments=n_segments,
                         segment_weights=segment_weights)
