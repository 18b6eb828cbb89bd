"""Shared torch parts: frame encoders and the one training loop."""

from ._modules import FrameMLP, build_frame_mlp
from ._tap import AlignmentPredictor, tap_alignment
from ._training import TrainingHistory, make_optimizer, train

__all__ = [
    "AlignmentPredictor",
    "FrameMLP",
    "TrainingHistory",
    "build_frame_mlp",
    "make_optimizer",
    "tap_alignment",
    "train",
]
