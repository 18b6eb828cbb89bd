"""Bundled real data and synthetic generators for the papers' reproductions."""

from ._basic_motions import load_basic_motions
from ._digits import make_digits_local_features
from ._japanese_vowels import load_japanese_vowels, make_japanese_vowels_videos
from ._synthetic import (
    make_order_only_sequences,
    make_reversal_tasks,
    make_segmented_sequences,
    make_warped_sequences,
    true_alignment,
)

__all__ = [
    "load_basic_motions",
    "load_japanese_vowels",
    "make_digits_local_features",
    "make_japanese_vowels_videos",
    "make_order_only_sequences",
    "make_reversal_tasks",
    "make_segmented_sequences",
    "make_warped_sequences",
    "true_alignment",
]
