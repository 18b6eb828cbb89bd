"""The solver core: batched, masked, differentiable optimal transport (torch).

numpy in → numpy out; torch in → torch out on the input's device.
"""

from ._asot import ASOTResult, asot, asot_structure_product
from ._costs import (
    frame_cost,
    pairwise_frame_cost,
    pairwise_position_gap,
    position_gap,
    relative_positions,
)
from ._emd import emd
from ._base import OTResult
from ._sinkhorn import SinkhornConvergenceWarning, sinkhorn

__all__ = [
    "ASOTResult",
    "asot",
    "asot_structure_product",
    "OTResult",
    "emd",
    "frame_cost",
    "pairwise_frame_cost",
    "pairwise_position_gap",
    "position_gap",
    "relative_positions",
    "SinkhornConvergenceWarning",
    "sinkhorn",
]
