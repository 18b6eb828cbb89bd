"""Few-shot classification: episodes, accuracy ± 95% CI, and (later) CMOT and DeepEMD."""

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
