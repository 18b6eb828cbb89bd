"""Nearest-neighbour classification of sequences under seqot distances."""

from ._classification import KNeighborsSequenceClassifier

__all__ = ["KNeighborsSequenceClassifier"]
