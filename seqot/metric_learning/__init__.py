"""Learned sequence distances: TAP (temporal alignment prediction) and its training pieces."""

from ._augment import augment_sequence, random_blur, random_merge
from ._losses import binomial_deviance_loss, hard_mining_loss, lifted_structure_loss
from ._tap_learner import TAPMetricLearner

__all__ = [
    "TAPMetricLearner",
    "augment_sequence",
    "binomial_deviance_loss",
    "hard_mining_loss",
    "lifted_structure_loss",
    "random_blur",
    "random_merge",
]
