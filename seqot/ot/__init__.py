"""The solver core: batched, masked, differentiable optimal transport (torch).

Entropic OT (:func:`sinkhorn`, with an engine table), exact OT (:func:`emd`), ASOT's fused
Gromov-Wasserstein solver (:func:`asot`), the batched dynamic-programming alignment solver
behind DTW, soft-DTW and OTAM (:func:`batched_alignment_dp`), and the frame and position
costs; the result object and the array plumbing are shared (``_base.py``).
numpy in → numpy out; torch in → torch out on the input's device.
"""

from ._alignment import batched_alignment_dp
from ._asot import ASOTResult, asot, asot_structure_product
from ._costs import (
    frame_cost,
    pairwise_frame_cost,
    pairwise_position_gap,
    position_gap,
    relative_positions,
)
from ._base import OTResult
from ._emd import emd
from ._sinkhorn import SinkhornConvergenceWarning, sinkhorn

__all__ = [
    "ASOTResult",
    "asot",
    "asot_structure_product",
    "batched_alignment_dp",
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
