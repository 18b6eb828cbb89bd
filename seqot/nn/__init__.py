"""Shared torch parts: frame encoders and the one training loop."""

from ._modules import FrameMLP, build_frame_mlp
from ._training import TrainingHistory, make_optimizer, train

__all__ = ["FrameMLP", "build_frame_mlp", "TrainingHistory", "make_optimizer", "train"]
