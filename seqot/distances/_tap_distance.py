r"""The TAP distance: alignments and distances, batched over pairs with masks.

Temporal Alignment Prediction (Su and Wen, ICLR 2022) replaces the optimisation of an
alignment distance by a feed-forward prediction. For sequences :math:`X` (:math:`L_X` frames)
and :math:`Y` (:math:`L_Y`):

.. math::

    D_{ij} = \lVert x_i - y_j \rVert_2,\qquad
    D^t_{ij} = \Bigl|\frac{i}{L_X} - \frac{j}{L_Y}\Bigr|\ (1\text{-based}),\qquad
    A = \mathrm{softmax}_{\text{rows}}\bigl(-(D + g([D, D^t]))\bigr),

    T = A / L_X,\qquad d(X, Y) = \langle T, D\rangle
      = \frac{1}{L_X}\sum_i \sum_j A_{ij} D_{ij},

with :math:`g` (:class:`seqot.nn.AlignmentPredictor`, a torch module) a small CNN over the
two-channel "image" (three convolutions with kernels 5/5/3, channels 30/30/1, ReLU after the
first two). Every row of :math:`A` sums to one, so
:math:`d` is the mean over the source frames of an attention-weighted average of their
distances to the target frames; it is asymmetric (``X`` is the source; ``direction="mean"``
averages both).

Many pairs of different lengths share one CNN call: each pair is padded to the batch's
largest box and the activations outside the pair's valid box are zeroed after every
convolution, so a padded pair gives exactly its unpadded result.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ot._costs import pairwise_frame_cost
from ..utils._param_validation import (
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from ._ot_distances import block_position_gap, pair_distance
from ._pairwise import register_metric

__all__ = ["tap", "tap_alignment", "tap_block_alignments", "tap_paired_alignments"]

_DIRECTIONS = ("source", "mean", "sum")

#: Constraints of the TAP distance's parameters (:func:`tap` and the ``"tap"`` metric).
_TAP_CONSTRAINTS = {"predictor": [nn.Module, None], "direction": [StrOptions(set(_DIRECTIONS))]}


# tap_alignment's predictor is any callable g(D, Dt, box), not only _TAP_CONSTRAINTS' module:
# tap_block_alignments and tap_paired_alignments pass a module cast to D's dtype and device
# as a functional call (_matching), and a functional call of a module is how gradients with
# respect to given parameters are taken.
@validate_params({"D": [torch.Tensor], "Dt": [torch.Tensor], "mask_x": [torch.Tensor],
                  "mask_y": [torch.Tensor], "predictor": [callable, None]},
                 prefer_skip_nested_validation=True)
def tap_alignment(D, Dt, mask_x, mask_y, predictor=None):
    r"""TAP alignments and distances of a batch of padded pairs.

    Parameters
    ----------
    D : Tensor of shape (B, L_X, L_Y)
        Euclidean frame distances (any finite value on padding).
    Dt : Tensor of shape (B, L_X, L_Y)
        Relative-position gaps :math:`|i/L_X - j/L_Y|`.
    mask_x, mask_y : bool Tensors of shape (B, L_X), (B, L_Y)
        Valid frames of each pair's source and target.
    predictor : AlignmentPredictor, callable or None
        :math:`g`, called as ``predictor(D, Dt, box)`` with ``box`` the float mask of each
        pair's valid box (an :class:`~seqot.nn.AlignmentPredictor`, or e.g. a
        ``torch.func.functional_call`` of one); ``None`` means :math:`g \equiv 0`.

    Returns
    -------
    A : Tensor of shape (B, L_X, L_Y)
        Row-stochastic alignments (valid rows sum to one; zero outside the valid box).
    d : Tensor of shape (B,)
        :math:`\frac{1}{L_X}\sum_{ij} A_{ij} D_{ij}`.
    """
    box = (mask_x[:, :, None] & mask_y[:, None, :]).to(D.dtype)
    zero = torch.zeros((), dtype=D.dtype, device=D.device)
    D = D * box
    scores = -D if predictor is None else -(D + predictor(D, Dt * box, box))
    scores = scores.masked_fill(~mask_y[:, None, :], float("-inf"))
    # rows of padded source frames: any finite values, then zeroed
    scores = torch.where(mask_x[:, :, None], scores, zero)
    A = torch.softmax(scores, dim=-1) * box
    n_x = mask_x.sum(1).clamp_min(1).to(D.dtype)
    return A, (A * D).sum((1, 2)) / n_x


def _matching(predictor, D):
    """``predictor`` evaluated in ``D``'s dtype and device, without changing the module.

    Casting the user's module in place (``.to``) would, e.g., turn a predictor under
    training into float64 behind its optimiser's back; a functional call with cast
    parameters keeps gradients flowing to the original ones.
    """
    if predictor is None:
        return None
    p = next(predictor.parameters(), None)
    if p is None or (p.dtype == D.dtype and p.device == D.device):
        return predictor
    params = {k: v.to(dtype=D.dtype, device=D.device) for k, v in predictor.named_parameters()}

    def call(*args):
        return torch.func.functional_call(predictor, params, args)

    return call


def tap_block_alignments(xb, yb, predictor=None):
    """Alignments ``A`` (n_x·n_y, T_x, T_y) and distances ``d`` (n_x, n_y) of every pair.

    Internal: its callers pass a validated ``predictor`` (``_tap_metric`` checks
    ``_TAP_CONSTRAINTS``, :class:`~seqot.metric_learning.TAPMetricLearner` its own module).
    """
    nx_, ny_ = xb.n_sequences, yb.n_sequences
    D = pairwise_frame_cost(xb.data, yb.data, "euclidean").reshape(nx_ * ny_, xb.max_length,
                                                                   yb.max_length)
    # block_position_gap uses 1-based relative positions (i+1)/T, as TAP does
    Dt = block_position_gap(xb, yb).to(D.dtype)
    mask_x = xb.mask[:, None, :].expand(nx_, ny_, -1).reshape(nx_ * ny_, -1)
    mask_y = yb.mask[None, :, :].expand(nx_, ny_, -1).reshape(nx_ * ny_, -1)
    A, d = tap_alignment(D, Dt, mask_x, mask_y, _matching(predictor, D))
    return A, d.reshape(nx_, ny_)


# about 2 + 30 + 30 + 1 channels, plus autograd temporaries, per cell of a pair's box
@register_metric("tap", width=128)
def _tap_metric(xb, yb, *, predictor=None, direction="source"):
    validate_parameter_constraints(_TAP_CONSTRAINTS, {"predictor": predictor,
                                                      "direction": direction},
                                   caller_name="tap")
    _, d = tap_block_alignments(xb, yb, predictor)
    if direction == "source":
        return d
    _, d_back = tap_block_alignments(yb, xb, predictor)
    total = d + d_back.T
    return total if direction == "sum" else 0.5 * total


@validate_params(_TAP_CONSTRAINTS, prefer_skip_nested_validation=True)
def tap(x, y, *, predictor=None, direction="source"):
    r"""TAP distance from ``x`` (source) to ``y``.

    Parameters
    ----------
    x, y : array-like of shape (L_X, d), (L_Y, d)
    predictor : seqot.nn.AlignmentPredictor, optional
        The learned alignment predictor :math:`g`; ``None`` means :math:`g \equiv 0`, i.e.
        :math:`A = \mathrm{softmax}_{\text{rows}}(-D)`.
    direction : {"source", "mean", "sum"}, default="source"
        :math:`d(x, y)`, :math:`(d(x, y) + d(y, x))/2` or their sum (few-shot scoring).

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable)

    Examples
    --------
    The closed form with :math:`g \equiv 0` (TAP specification, §9):

    >>> import numpy as np
    >>> from seqot.distances import tap
    >>> X, Y = np.array([[0.0], [1.0]]), np.array([[0.0], [1.0], [2.0]])
    >>> round(tap(X, Y), 6), round(tap(Y, X), 6)
    (0.424336, 0.602275)
    """
    return pair_distance("tap", x, y, predictor=predictor, direction=direction)


def tap_paired_alignments(xb, yb, predictor=None):
    """Alignments ``A`` (B, T_x, T_y) and distances ``d`` (B,) of the pairs ``(x_b, y_b)``.

    Internal, like :func:`tap_block_alignments` (the learner passes its own module).
    """
    from ..ot._costs import frame_cost, position_gap

    if xb.n_sequences != yb.n_sequences:
        raise ValueError(f"paired TAP needs as many sources as targets; got {xb.n_sequences} "
                         f"and {yb.n_sequences}.")
    D = frame_cost(xb.data, yb.data, "euclidean")
    Dt = position_gap(xb.lengths, yb.lengths, xb.max_length, yb.max_length,
                      dtype=D.dtype).to(D.device)
    return tap_alignment(D, Dt, xb.mask, yb.mask, _matching(predictor, D))
