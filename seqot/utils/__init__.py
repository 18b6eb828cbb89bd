"""Input contract, torch helpers and estimator discovery shared across seqot."""

from ._layout import from_aeon, to_aeon
from ._torch import (
    check_random_state,
    resolve_device,
    seed_from_random_state,
    spawn_random_states,
    to_numpy,
    torch_generator,
)
from ._validation import (
    SequenceBatch,
    LAYOUTS,
    SequenceInputMixin,
    check_frame_weights,
    check_layout,
    check_positive,
    check_sequence,
    check_sequences,
    validate_sequences,
    validate_sequences_targets,
)
from .discovery import all_estimators

__all__ = [
    "LAYOUTS",
    "SequenceBatch",
    "SequenceInputMixin",
    "all_estimators",
    "check_frame_weights",
    "check_layout",
    "check_positive",
    "check_random_state",
    "check_sequence",
    "check_sequences",
    "from_aeon",
    "resolve_device",
    "seed_from_random_state",
    "spawn_random_states",
    "to_aeon",
    "to_numpy",
    "torch_generator",
    "validate_sequences",
    "validate_sequences_targets",
]
