r"""TAP's alignment predictor :math:`g` (Su and Wen, ICLR 2022), a small CNN over a pair's
cost image.

The TAP distance it feeds, with the masks that batch pairs of different lengths, is
:func:`seqot.distances.tap_alignment` (the maths lives in :mod:`seqot.distances`).
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils._param_validation import StrOptions, validate_params
from ..utils._validation import check_hidden

__all__ = ["AlignmentPredictor"]


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

    @validate_params({"channels": ["array-like"], "kernel_sizes": ["array-like"],
                      "final_activation": [StrOptions({"relu"}), None]},
                     prefer_skip_nested_validation=True)
    def __init__(self, channels=(30, 30), kernel_sizes=(5, 5, 3), final_activation=None):
        super().__init__()
        # the entries (positive ints; odd kernels, one more than the hidden convolutions)
        channels = tuple(int(c) for c in check_hidden(channels, "channels"))
        kernel_sizes = tuple(int(k) for k in check_hidden(kernel_sizes, "kernel_sizes"))
        if len(kernel_sizes) != len(channels) + 1:
            raise ValueError(f"kernel_sizes needs len(channels) + 1 = {len(channels) + 1} "
                             f"entries; got {kernel_sizes}.")
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd (\"same\" padding); got {kernel_sizes}.")
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
