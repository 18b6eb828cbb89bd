"""Shared torch parts: frame encoders and the one training loop."""

from ._modules import FrameMLP
from ._training import TrainingHistory, make_optimizer, train

__all__ = ["FrameMLP", "TrainingHistory", "make_optimizer", "train"]
