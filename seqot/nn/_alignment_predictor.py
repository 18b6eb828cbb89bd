r"""TAP's alignment predictor and the TAP distance, batched over pairs with masks.

Temporal Alignment Prediction (Su and Wen, ICLR 2022) replaces the optimisation of an
alignment distance by a feed-forward prediction. For sequences :math:`X` (:math:`L_X` frames)
and :math:`Y` (:math:`L_Y`):

.. math::

    D_{ij} = \lVert x_i - y_j \rVert_2,\qquad
    D^t_{ij} = \Bigl|\frac{i}{L_X} - \frac{j}{L_Y}\Bigr|\ (1\text{-based}),\qquad
    A = \mathrm{softmax}_{\text{rows}}\bigl(-(D + g([D, D^t]))\bigr),

    T = A / L_X,\qquad d(X, Y) = \langle T, D\rangle
      = \frac{1}{L_X}\sum_i \sum_j A_{ij} D_{ij},

with :math:`g` a small CNN over the two-channel "image" (three convolutions with kernels
5/5/3, channels 30/30/1, ReLU after the first two). Every row of :math:`A` sums to one, so
:math:`d` is the mean over the source frames of an attention-weighted average of their
distances to the target frames; it is asymmetric.

Many pairs of different lengths share one CNN call: each pair is padded to the batch's
largest box and the activations outside the pair's valid box are zeroed after every
convolution, so a padded pair gives exactly its unpadded result.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AlignmentPredictor", "tap_alignment"]


class AlignmentPredictor(nn.Module):
    r"""TAP's predictor :math:`g`: a CNN over ``[D, D^t]`` that keeps the spatial size.

    Parameters
    ----------
    channels : sequence of int, default=(30, 30)
        Output channels of the hidden convolutions (the paper: 30, 30 supervised; 64, 64
        few-shot); a last convolution maps to one channel.
    kernel_sizes : sequence of int, default=(5, 5, 3)
        Odd kernel sizes, one per convolution (``len(channels) + 1``), with "same" zero
        padding and stride 1.
    final_activation : {None, "relu"}, default=None
        The authors' code applies none after the last convolution (the paper's text says
        ReLU after all three).

    Notes
    -----
    With the defaults the module has 24,331 parameters (the paper's "0.0231M" is an
    arithmetic slip). ``zero_()`` makes :math:`g \equiv 0`, i.e. :math:`A =
    \mathrm{softmax}_{\text{rows}}(-D)`.
    """

    def __init__(self, channels=(30, 30), kernel_sizes=(5, 5, 3), final_activation=None):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if len(kernel_sizes) != len(channels) + 1:
            raise ValueError(f"kernel_sizes needs len(channels) + 1 = {len(channels) + 1} "
                             f"entries; got {kernel_sizes}.")
        if any(c < 1 for c in channels) or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"channels must be positive and kernel_sizes odd and positive; got "
                             f"{channels} and {kernel_sizes}.")
        if final_activation not in (None, "relu"):
            raise ValueError(f'final_activation must be None or "relu"; got '
                             f"{final_activation!r}.")
        widths = (2, *channels, 1)
        self.convs = nn.ModuleList(
            nn.Conv2d(widths[k], widths[k + 1], kernel_sizes[k], padding=kernel_sizes[k] // 2)
            for k in range(len(kernel_sizes)))
        self.final_activation = final_activation

    def forward(self, D, Dt, box):
        """``g([D, Dt])`` of shape (B, L_X, L_Y), zero outside each pair's valid ``box``."""
        h = torch.stack([D, Dt], dim=1) * box[:, None]
        last = len(self.convs) - 1
        for k, conv in enumerate(self.convs):
            h = conv(h)
            if k < last or self.final_activation == "relu":
                h = torch.relu(h)
            # zero outside the valid box, so padded cells never feed the next layer
            h = h * box[:, None]
        return h[:, 0]

    def zero_(self):
        """Set every weight and bias to zero (:math:`g \\equiv 0`)."""
        with torch.no_grad():
            for p in self.parameters():
                p.zero_()
        return self


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
    predictor : AlignmentPredictor or None
        ``None`` means :math:`g \equiv 0`.

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


def check_predictor(predictor):
    """``predictor`` or a ValueError naming it (an :class:`AlignmentPredictor` or None)."""
    if predictor is not None and not isinstance(predictor, nn.Module):
        raise ValueError(f"predictor must be an AlignmentPredictor (torch module) or None; got "
                         f"{type(predictor).__name__}.")
    return predictor
