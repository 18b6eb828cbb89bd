"""Temporal action segmentation: evaluation metrics (and, later, ASOT)."""

from .metrics import (
    aggregate_over_activities,
    edit_score,
    f1_unsup_score,
    hungarian_match,
    miou_score,
    mof_score,
    segmental_f1_score,
    segmentation_scores,
)

__all__ = [
    "aggregate_over_activities",
    "edit_score",
    "f1_unsup_score",
    "hungarian_match",
    "miou_score",
    "mof_score",
    "segmental_f1_score",
    "segmentation_scores",
]
