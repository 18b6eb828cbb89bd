"""Shared torch building blocks."""

from __future__ import annotations

import torch
from torch import nn

from ..utils._param_validation import DEVICE, POSITIVE_INT, validate_params
from ..utils._torch import init_parameters_, resolve_device
from ..utils._validation import check_hidden

__all__ = ["FrameMLP", "build_frame_mlp"]


#: The layer constraints shared by :class:`FrameMLP` and :func:`build_frame_mlp` (``hidden``'s
#: entries, each an int >= 1, are checked by :func:`check_hidden`).
_LAYERS = {
    "in_features": POSITIVE_INT,
    "hidden": ["array-like"],
    "out_features": [*POSITIVE_INT, None],
    "residual": ["boolean"],
}
FRAME_MLP_CONSTRAINTS = {**_LAYERS, "activation": [callable]}
#: ``dtype`` must also be floating (checked in the function).
BUILD_FRAME_MLP_CONSTRAINTS = {**_LAYERS, "dtype": [torch.dtype], "device": DEVICE,
                               "generator": [torch.Generator, None]}


class FrameMLP(nn.Module):
    """An MLP applied to every frame of a padded batch ``(n, T, d) -> (n, T, d_out)``.

    Parameters
    ----------
    in_features : int
        Input width, >= 1.
    hidden : sequence of int
        Widths of the hidden layers, each >= 1 (may be empty: a linear map).
    out_features : int, optional
        Output width, >= 1; ``None`` means ``in_features``.
    activation : type of nn.Module, default=nn.ReLU
        Called with no argument to make each hidden layer's activation.
    residual : bool, default=False
        Add the input to the output (needs ``in_features == out_features``); with zero-initialised
        last layer the module starts as the identity, so training can only improve on the raw
        features it starts from.
    """

    @validate_params(FRAME_MLP_CONSTRAINTS, prefer_skip_nested_validation=True)
    def __init__(self, in_features, hidden=(), out_features=None, activation=nn.ReLU,
                 residual=False):
        super().__init__()
        in_features = int(in_features)
        out_features = in_features if out_features is None else int(out_features)
        hidden = tuple(int(h) for h in check_hidden(hidden))
        residual = bool(residual)
        if residual and out_features != in_features:
            raise ValueError("residual=True needs out_features == in_features.")
        dims = [in_features, *hidden, out_features]
        layers = []
        for k in range(len(dims) - 1):
            layers.append(nn.Linear(dims[k], dims[k + 1]))
            if k < len(dims) - 2:
                layers.append(activation())
        self.net = nn.Sequential(*layers)
        self.residual = residual
        if residual:
            nn.init.zeros_(layers[-1].weight)
            nn.init.zeros_(layers[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out + x if self.residual else out


@validate_params(BUILD_FRAME_MLP_CONSTRAINTS, prefer_skip_nested_validation=True)
def build_frame_mlp(in_features, hidden, out_features, residual=False, *, dtype, device,
                    generator=None):
    """A :class:`FrameMLP` built without touching torch's global RNG.

    The module is created on the meta device (so ``nn.Linear``'s default initialisation draws
    nothing) and then, with ``generator``, initialised as ``nn.Linear`` does (uniform in
    :math:`\\pm 1/\\sqrt{\\text{fan-in}}`), keeping the zero last layer of a residual encoder.
    ``dtype`` is a torch floating dtype, ``device`` anything :func:`seqot.utils.resolve_device`
    accepts, ``generator`` a ``torch.Generator`` or None.
    """
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a torch floating dtype (e.g. torch.float32); got "
                         f"{dtype!r}.")
    if device is not None:
        device = resolve_device(device)
    with torch.device("meta"):
        module = FrameMLP(in_features, hidden, out_features, residual=residual)
    module = module.to_empty(device=device).to(dtype)
    if generator is not None:
        linears = [m for m in module.net if isinstance(m, nn.Linear)]
        init_parameters_(module, generator, skip=linears[-1:] if residual else ())
    return module
