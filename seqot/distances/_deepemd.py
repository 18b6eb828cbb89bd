r"""DeepEMD: the earth mover's distance between sets of local features with cross-reference
node weights (Zhang, Cai, Lin and Shen, CVPR 2020 / TPAMI 2022).

For two sets :math:`U = \{u_i\}_{i \le m}` and :math:`V = \{v_j\}_{j \le n}` of local features
(the cells of a CNN feature map, image patches, the segments of a video; order plays no part):

.. math::

    c_{ij} = 1 - \cos(\bar u_i, \bar v_j),\qquad
    s_i \propto \max\!\Bigl(u_i^\top \tfrac1n \textstyle\sum_j v_j,\ 0\Bigr) + \delta,\qquad
    d_j \propto \max\!\Bigl(v_j^\top \tfrac1m \textstyle\sum_i u_i,\ 0\Bigr) + \delta,

    W(U, V) = \min_{X \ge 0,\ X\mathbf 1 = s,\ X^\top\mathbf 1 = d} \langle C, X\rangle,\qquad
    \ell(U, V) = T\,(1 - W(U, V)),

where :math:`\bar u` is :math:`u` centred over its channels (the authors' code; the cost is
then one minus the Pearson correlation), the weights use the raw features and are normalised
to unit mass, :math:`\delta` = ``weight_eps`` and :math:`T` the temperature of the logits.
Since the flow has unit mass, :math:`1 - W = \sum_{ij}(1 - c_{ij})\tilde x_{ij}` is the
paper's similarity score (Eq. 3) and :math:`\ell \in [-T, T]`.

The exact solver is POT's network simplex through :func:`seqot.ot.emd`, whose gradients (the
plan w.r.t. the cost, centred dual potentials w.r.t. the weights) are the implicit KKT
gradients of the paper's Eqs. 8-10; ``solver="sinkhorn"`` uses the batched entropic solver.
"""

from __future__ import annotations

import math

import torch

from ..ot._costs import pairwise_frame_cost
from ..ot._emd import _emd
from ..ot._sinkhorn import _sinkhorn
from ..utils._param_validation import (
    N_JOBS,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from ..utils._validation import SequenceBatch
from ._ot_distances import _grad_mode, pair_distance, report_unconverged
from ._pairwise import register_metric

__all__ = ["cross_reference_weights", "deepemd", "deepemd_problems"]

#: Constraints of DeepEMD's parameters: :func:`deepemd`, :func:`deepemd_problems`,
#: :func:`cross_reference_weights`, the ``"deepemd"`` metric and
#: :class:`~seqot.fewshot.DeepEMDClassifier` share them.
_DEEPEMD_CONSTRAINTS = {
    "weights": [StrOptions({"cross_reference", "uniform"})],
    "center": ["boolean"],
    "weight_eps": NON_NEGATIVE,
    "solver": [StrOptions({"emd", "sinkhorn"})],
    "reg": POSITIVE,
    "max_iter": POSITIVE_INT,
    "weight_grad": ["boolean"],
    "n_jobs": N_JOBS,
}
_BATCH = [SequenceBatch]


def _check_deepemd_params(params):
    """The checks of :func:`deepemd`, for the undecorated hot path (the pairwise metric)."""
    validate_parameter_constraints(_DEEPEMD_CONSTRAINTS, params, caller_name="deepemd")


def _masked_mean(batch: SequenceBatch):
    m = batch.mask.to(batch.data.dtype)
    return (batch.data * m[:, :, None]).sum(1) / batch.lengths.to(batch.data.dtype)[:, None]


@validate_params({"xb": _BATCH, "yb": _BATCH, "weight_eps": NON_NEGATIVE},
                 prefer_skip_nested_validation=True)
def cross_reference_weights(xb: SequenceBatch, yb: SequenceBatch, *, weight_eps=1e-3):
    r"""Cross-reference node weights of every (x, y) pair (DeepEMD's Eqs. 11-12).

    A node's weight is its (rectified) dot product with the mean node of the *other* set, plus
    ``weight_eps``, normalised to unit mass over the set's nodes: nodes that resemble nothing
    in the other set (background, clutter) carry little mass, which makes the matching partial.

    Parameters
    ----------
    xb, yb : SequenceBatch
        Torch batches of ``n_x`` and ``n_y`` sets (padded nodes have zero weight).
    weight_eps : float, default=1e-3
        :math:`\delta`, which keeps an all-negative response finite (it then gives uniform
        weights). It is absolute (the authors' code), while the responses scale as
        :math:`k^2` under a feature scale :math:`k`: the weights are scale-free only with
        ``weight_eps=0`` (:class:`~seqot.fewshot.DeepEMDClassifier` passes a relative one).

    Returns
    -------
    a : Tensor of shape (n_x, n_y, T_x)
    b : Tensor of shape (n_x, n_y, T_y)
    """
    return _cross_reference_weights(xb, yb, weight_eps=weight_eps)


def _cross_reference_weights(xb: SequenceBatch, yb: SequenceBatch, *, weight_eps):
    dt = xb.data.dtype
    # Power-of-two scales s_x, s_y keep the responses representable (features of 1e20 in
    # float32, 1e200 in float64 overflowed to inf/inf = NaN weights): normalised weights are
    # unchanged by relu(r / (s_x s_y)) + weight_eps / (s_x s_y), and the scaling is exact.
    s_x, s_y = _pow2_scale(xb.data), _pow2_scale(yb.data)
    X, Y = xb.data / s_x, yb.data / s_y
    # responses of the scaled frames are at most d: beyond 2^100 the delta makes the
    # weights uniform to rounding anyway, and tiny features must not overflow it to inf
    eps = min(weight_eps / s_x / s_y, 2.0 ** 100)
    mean_x = _masked_mean(SequenceBatch(X, xb.lengths))  # (n_x, d)
    mean_y = _masked_mean(SequenceBatch(Y, yb.lengths))  # (n_y, d)
    # a[p, q, i] = relu(x_p,i . mean(y_q)); b[p, q, j] = relu(y_q,j . mean(x_p))
    a = torch.einsum("pid,qd->pqi", X, mean_y).clamp_min(0.0) + eps
    b = torch.einsum("qjd,pd->pqj", Y, mean_x).clamp_min(0.0) + eps
    a = a * xb.mask.to(dt)[:, None, :]
    b = b * yb.mask.to(dt)[None, :, :]
    # a weight sum of zero (weight_eps = 0 and no positive response): fall back to uniform
    a = torch.where(a.sum(-1, keepdim=True) > 0, a, xb.mask.to(dt)[:, None, :].expand_as(a))
    b = torch.where(b.sum(-1, keepdim=True) > 0, b, yb.mask.to(dt)[None, :, :].expand_as(b))
    return a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True)


def _pow2_scale(data):
    """The power of two at or above ``max |data|`` (1 for all-zero data), a float."""
    with torch.no_grad():
        peak = float(data.detach().abs().amax()) if data.numel() else 0.0
    # NaN/inf (diverged features in a hand-built batch) keep scale 1: they stay NaN/inf
    return 2.0 ** math.ceil(math.log2(peak)) if 0 < peak < math.inf else 1.0


def _centre(batch: SequenceBatch):
    data = batch.data - batch.data.mean(-1, keepdim=True)
    return data * batch.mask[:, :, None].to(data.dtype)


@validate_params({"xb": _BATCH, "yb": _BATCH, **{k: _DEEPEMD_CONSTRAINTS[k] for k in (
    "weights", "center", "weight_eps")}}, prefer_skip_nested_validation=True)
def deepemd_problems(xb: SequenceBatch, yb: SequenceBatch, *, weights="cross_reference",
                     center=True, weight_eps=1e-3):
    """Costs and node weights of every (x, y) pair, flattened to ``(n_x * n_y, T_x, T_y)``.

    Returns
    -------
    C : Tensor of shape (n_x * n_y, T_x, T_y)
        :math:`1 - \\cos` of the (channel-centred) nodes.
    a, b : Tensors of shape (n_x * n_y, T_x), (n_x * n_y, T_y)
        Unit-mass node weights, zero on padding.
    """
    return _deepemd_problems(xb, yb, weights=weights, center=center, weight_eps=weight_eps)


def _deepemd_problems(xb, yb, *, weights, center, weight_eps):
    nx_, ny_ = xb.n_sequences, yb.n_sequences
    X = _centre(xb) if center else xb.data
    Y = _centre(yb) if center else yb.data
    C = pairwise_frame_cost(X, Y, "cosine").reshape(nx_ * ny_, xb.max_length, yb.max_length)
    dt = xb.data.dtype
    if weights == "uniform":
        wa = xb.mask.to(dt) / xb.lengths[:, None].to(dt)
        wb = yb.mask.to(dt) / yb.lengths[:, None].to(dt)
        a = wa[:, None, :].expand(nx_, ny_, -1)
        b = wb[None, :, :].expand(nx_, ny_, -1)
    else:
        a, b = _cross_reference_weights(xb, yb, weight_eps=weight_eps)
    return C, a.reshape(nx_ * ny_, -1), b.reshape(nx_ * ny_, -1)


@register_metric("deepemd", symmetric=lambda params: params.get("solver", "emd") == "emd")
def _deepemd_metric(xb, yb, *, weights="cross_reference", center=True, weight_eps=1e-3,
                    solver="emd", reg=0.01, max_iter=1000, weight_grad=True, n_jobs=None):
    _check_deepemd_params(dict(weights=weights, center=center, weight_eps=weight_eps,
                               solver=solver, reg=reg, max_iter=max_iter,
                               weight_grad=weight_grad, n_jobs=n_jobs))
    return _deepemd_block(xb, yb, weights=weights, center=center, weight_eps=weight_eps,
                          solver=solver, reg=reg, max_iter=max_iter, weight_grad=weight_grad,
                          n_jobs=n_jobs)


def _deepemd_block(xb, yb, *, weights="cross_reference", center=True, weight_eps=1e-3,
                   solver="emd", reg=0.01, max_iter=1000, weight_grad=True, n_jobs=None):
    """The ``"deepemd"`` metric without the parameter checks (for callers that made them)."""
    C, a, b = _deepemd_problems(xb, yb, weights=weights, center=center, weight_eps=weight_eps)
    if not weight_grad:  # the authors' OpenCV path: flows and weights are constants
        a, b = a.detach(), b.detach()
    if solver == "emd":
        value = _emd(C, a, b, n_jobs=n_jobs).value
    else:
        res = _sinkhorn(C, a, b, reg=reg, max_iter=max_iter, grad=_grad_mode(xb, yb), warn=False)
        report_unconverged(res, "deepemd", f"solver='sinkhorn', reg={reg:g}, max_iter={max_iter}",
                           "raise max_iter or reg, or use solver='emd'")
        value = res.value_linear
    return value.reshape(xb.n_sequences, yb.n_sequences)


@validate_params({k: v for k, v in _DEEPEMD_CONSTRAINTS.items()
                  if k not in ("weight_grad", "n_jobs")}, prefer_skip_nested_validation=True)
def deepemd(x, y, *, weights="cross_reference", center=True, weight_eps=1e-3, solver="emd",
            reg=0.01, max_iter=1000):
    r"""DeepEMD distance :math:`W(U, V)` between two sets of local features.

    The similarity score of the paper is :math:`1 - W` and its logit :math:`T(1 - W)` (see
    :mod:`seqot.distances._deepemd`). Order-blind: permuting the rows of either set leaves
    the value unchanged.

    Parameters
    ----------
    x, y : array-like of shape (m, d), (n, d)
        The two sets (rows are local features; m and n may differ).
    weights : {"cross_reference", "uniform"}, default="cross_reference"
        Node weights: the paper's cross-reference relevance, or equal weights.
    center : bool, default=True
        Centre every node over its channels before the cosine (the authors' code).
    weight_eps : float, default=1e-3
        :math:`\delta` added to the rectified cross-reference responses; absolute, so
        :math:`W` is invariant to a positive scale of ``x`` or ``y`` only with
        ``weight_eps=0`` (approximately when the responses are much larger than it).
    solver : {"emd", "sinkhorn"}, default="emd"
        Exact network simplex (POT) or entropic OT (biased upwards by about
        :math:`\varepsilon\log(mn)`).
    reg, max_iter : Sinkhorn's :math:`\varepsilon` and iterations (``solver="sinkhorn"`` only).

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable w.r.t. both sets)

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import deepemd
    >>> rng = np.random.default_rng(0)
    >>> U = rng.normal(size=(25, 8))
    >>> round(deepemd(U, U), 12), round(deepemd(U, U[::-1]), 12)   # self-match, order-blind
    (0.0, 0.0)
    """
    # checked by the decorator: straight to the unchecked block
    return pair_distance(_deepemd_block, x, y, weights=weights, center=center,
                         weight_eps=weight_eps, solver=solver, reg=reg, max_iter=max_iter)


# ---------------------------------------------------------------------------
# baselines on the same set inputs
# ---------------------------------------------------------------------------
@register_metric("mean_cosine", working_set="pooled", symmetric=True)
def _mean_cosine_metric(xb, yb):
    """:math:`1 - \\cos` between the mean-pooled sets (the global-average cosine baseline)."""
    from ._pairwise import masked_mean

    mx = torch.nn.functional.normalize(masked_mean(xb), dim=-1)
    my = torch.nn.functional.normalize(masked_mean(yb), dim=-1)
    return (1.0 - mx @ my.T).clamp_min(0.0)  # rounding would make identical means negative


@register_metric("local_knn")
def _local_knn_metric(xb, yb, *, n_neighbors=3):
    r"""Naive-Bayes nearest-neighbour image-to-image distance over local descriptors (DN4).

    :math:`1 - \frac{1}{m k}\sum_i \sum_{j \in \mathrm{kNN}_k(u_i)} \cos(u_i, v_j)`: every
    node of the query votes with its ``n_neighbors`` most similar nodes of the reference
    (fewer when the reference is smaller). Asymmetric.
    """
    validate_parameter_constraints({"n_neighbors": POSITIVE_INT}, {"n_neighbors": n_neighbors},
                                   caller_name="local_knn")
    sim = 1.0 - pairwise_frame_cost(xb.data, yb.data, "cosine")  # (n_x, n_y, T_x, T_y)
    sim = sim.masked_fill(~yb.mask[None, :, None, :], float("-inf"))
    k = min(n_neighbors, yb.max_length)
    top = sim.topk(k, dim=-1).values  # (n_x, n_y, T_x, k)
    k_eff = yb.lengths.clamp_max(k).to(sim.dtype)  # neighbours that exist per reference
    top = torch.where(torch.isfinite(top), top, torch.zeros((), dtype=top.dtype,
                                                             device=top.device))
    per_node = top.sum(-1) / k_eff[None, :, None]
    mx = xb.mask.to(sim.dtype)[:, None, :]
    return 1.0 - (per_node * mx).sum(-1) / xb.lengths.to(sim.dtype)[:, None]
