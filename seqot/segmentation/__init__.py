"""Temporal action segmentation: ASOT (solver post-processing and the unsupervised
:class:`ASOTSegmenter`), baselines and the evaluation metrics of the field."""

from ._decode import asot_segment, viterbi_segment
from ._segmenter import ASOTSegmenter
from .io import load_mstcn_dataset, write_mstcn_predictions
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
    "ASOTSegmenter",
    "aggregate_over_activities",
    "asot_segment",
    "edit_score",
    "f1_unsup_score",
    "hungarian_match",
    "load_mstcn_dataset",
    "miou_score",
    "mof_score",
    "segmental_f1_score",
    "segmentation_scores",
    "viterbi_segment",
    "write_mstcn_predictions",
]
