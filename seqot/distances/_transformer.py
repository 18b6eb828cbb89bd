"""Distances to a fitted set of sequences, for precomputed-metric estimators."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._param_validation import BLOCK_SIZE, DEVICE, LAYOUT, N_JOBS
from ..utils._validation import SequenceInputMixin, validate_sequences
from ._pairwise import check_metric_params, pairwise_sequence_distances
from ._pairwise import get_metric as _get_metric

__all__ = ["SequenceDistanceTransformer"]


class SequenceDistanceTransformer(SequenceInputMixin, TransformerMixin, BaseEstimator):
    """Sequences → their distances to the sequences seen in ``fit``.

    ``transform(X)`` returns the ``(len(X), n_fit)`` matrix of
    :func:`~seqot.distances.pairwise_sequence_distances`, which is what
    ``KNeighborsClassifier(metric="precomputed")`` and, through a kernel such as
    ``exp(-gamma * D)``, ``SVC(kernel="precomputed")`` expect, so distance hyper-parameters
    become grid-search parameters of a ``Pipeline``.

    Parameters
    ----------
    metric : str or callable, default="dtw"
        A name of :func:`~seqot.distances.available_metrics` or a block metric function.
    metric_params : dict, optional
        Keyword arguments of the metric (a dict so that ``get_params``/``GridSearchCV`` see
        them: ``metric_params={"reg": 0.05}``).
    block_size, n_jobs, device
        As in :func:`~seqot.distances.pairwise_sequence_distances`.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    X_fit_ : SequenceBatch
        The reference sequences (numpy).
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from seqot.datasets import load_japanese_vowels
    >>> from seqot.distances import SequenceDistanceTransformer
    >>> jv = load_japanese_vowels()
    >>> model = make_pipeline(SequenceDistanceTransformer(metric="dtw", device="cpu"),
    ...                       KNeighborsClassifier(1, metric="precomputed"))
    >>> model.fit(jv.X_train, jv.y_train).score(jv.X_test, jv.y_test) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "metric": [str, callable],
        "metric_params": [dict, None],
        "block_size": BLOCK_SIZE,
        "n_jobs": N_JOBS,
        "device": DEVICE,
        "layout": LAYOUT,
    }

    def __init__(self, metric="dtw", *, metric_params=None, block_size=None, n_jobs=None,
                 device="auto", layout="time_first"):
        self.layout = layout
        self.metric = metric
        self.metric_params = metric_params
        self.block_size = block_size
        self.n_jobs = n_jobs
        self.device = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def fit(self, X, y=None):
        """Store the reference sequences."""
        batch = validate_sequences(self, X, reset=True).to_numpy()
        _get_metric(self.metric)  # a registered name (the registry grows at run time)
        check_metric_params(self.metric, batch, self.metric_params, device=self.device)
        self.X_fit_ = batch
        return self

    def transform(self, X):
        """Distances ``(len(X), n_fit)`` from each sequence of X to each reference sequence."""
        check_is_fitted(self)
        batch = validate_sequences(self, X, reset=False).to_numpy()
        return pairwise_sequence_distances(
            batch, self.X_fit_, metric=self.metric, block_size=self.block_size,
            n_jobs=self.n_jobs, device=self.device, **(self.metric_params or {}))
