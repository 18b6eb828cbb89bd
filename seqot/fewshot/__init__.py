"""Few-shot classification: episodes, accuracy ± 95% CI, and (later) CMOT and DeepEMD."""

from ._episodes import EpisodeSampler, EpisodeScores, evaluate_episodes

__all__ = ["EpisodeSampler", "EpisodeScores", "evaluate_episodes"]
