"""Sequence distances built on the solver core, and the chunked pairwise driver."""

from ._pairwise import (
    available_metrics,
    masked_mean,
    pairwise_sequence_distances,
    register_metric,
)

__all__ = [
    "available_metrics",
    "masked_mean",
    "pairwise_sequence_distances",
    "register_metric",
]
