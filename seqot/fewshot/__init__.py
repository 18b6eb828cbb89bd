"""Few-shot classification: N-way K-shot episodes and accuracy ± 95% CI, the CMOT and
sequence-distance nearest-class classifiers, DeepEMD, and episodic encoder training."""

from ._centroid import CMOTNearestCentroid, SequenceNearestCentroid
from ._deepemd import DeepEMDClassifier
from ._episodes import EpisodeSampler, EpisodeScores, evaluate_episodes
from ._meta import EpisodicEncoder

__all__ = [
    "DeepEMDClassifier",
    "CMOTNearestCentroid",
    "EpisodeSampler",
    "EpisodeScores",
    "EpisodicEncoder",
    "SequenceNearestCentroid",
    "evaluate_episodes",
]
