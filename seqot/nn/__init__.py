"""Shared torch parts: frame encoders and the one training loop."""

from ._modules import FrameMLP, build_frame_mlp
from ._alignment_predictor import AlignmentPredictor
from ._training import TrainingHistory, make_optimizer, train

__all__ = [
    "AlignmentPredictor",
    "FrameMLP",
    "TrainingHistory",
    "build_frame_mlp",
    "make_optimizer",
    "train",
]
