"""Sequence distances built on the solver core, and the chunked pairwise driver.

Per-pair functions (``dtw(x, y)``, ``sinkhorn(x, y, reg=...)``, ...) return a float for numpy
input and a differentiable 0-dim tensor for torch input. For collections use
:func:`pairwise_sequence_distances` with ``metric=`` one of :func:`available_metrics`.
"""

from . import _dtw  # noqa: F401  (registers "dtw", "soft_dtw", "otam")
from ._cmot import cmot, positional_cost, segment_pool
from ._deepemd import cross_reference_weights, deepemd, deepemd_problems
from ._dtw import dtw, otam, soft_dtw
from ._pairwise import (
    available_metrics,
    get_metric,
    masked_mean,
    pairwise_sequence_distances,
    register_metric,
)
from ._ot_distances import emd, mean_euclidean, opw, sinkhorn, tcot
from ._tap_distance import tap, tap_alignment
from ._transformer import SequenceDistanceTransformer

__all__ = [
    "SequenceDistanceTransformer",
    "available_metrics",
    "cmot",
    "cross_reference_weights",
    "deepemd",
    "deepemd_problems",
    "dtw",
    "emd",
    "get_metric",
    "masked_mean",
    "mean_euclidean",
    "opw",
    "otam",
    "pairwise_sequence_distances",
    "positional_cost",
    "register_metric",
    "segment_pool",
    "soft_dtw",
    "sinkhorn",
    "tap",
    "tap_alignment",
    "tcot",
]
