"""k-nearest-neighbour classification of sequences under any seqot distance."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..distances._pairwise import check_metric_params, pairwise_sequence_distances
from ..distances._pairwise import get_metric as _get_metric
from ..utils._param_validation import (
    BLOCK_SIZE,
    DEVICE,
    LAYOUT,
    N_JOBS,
    POSITIVE_INT,
    StrOptions,
    check_estimator_params,
    validate_parameter_constraints,
)
from ..utils._validation import (
    SequenceInputMixin,
    validate_sequences,
    validate_sequences_targets,
)

__all__ = ["KNeighborsSequenceClassifier"]


class _NegativeDistanceError(ValueError):
    """A distance-weighted vote met a negative distance (its value is ``args[0]``)."""


def _nearest(D, k):
    """Indices of the ``k`` smallest entries of each row of ``D``, nearest first.

    A stable sort: ties go to the earlier training sequence, as in scikit-learn.
    """
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def knn_vote(D, y_fit, n_neighbors, weights="uniform", *, n_classes=None):
    """The k-nearest-neighbour vote: the one implementation in seqot.

    Parameters
    ----------
    D : ndarray of shape (n_queries, n_fit)
        Distances from each query to each fitted sequence.
    y_fit : ndarray of int of shape (n_fit,)
        Class index (into ``classes_``) of each fitted sequence.
    n_neighbors : int
        How many neighbours vote (``1 <= n_neighbors <= n_fit``, checked by the caller).
    weights : {"uniform", "distance"}, default="uniform"
        ``"distance"`` weighs each vote by ``1 / distance``; a query with neighbours at
        distance 0 takes only their votes, and one whose neighbours are all infinitely far
        (an overflowing cost) gives them equal votes (the limit of equal huge distances, not
        ``0 / 0``).
    n_classes : int, optional
        Number of classes (default ``y_fit.max() + 1``).

    Returns
    -------
    ndarray of shape (n_queries, n_classes)
        The share of (weighted) votes per class; the predicted class is its ``argmax``
        (ties go to the smaller class index, as scikit-learn's ``weighted_mode`` and
        ``KNeighborsClassifier`` break them). Neighbours are found by a stable sort, so
        equally distant fitted sequences are taken in their fitted order.

    Raises
    ------
    ValueError
        With ``weights="distance"``, if a neighbour's distance is negative beyond rounding
        (``1 / d`` would be a negative vote).
    """
    D = np.asarray(D)
    y_fit = np.asarray(y_fit)
    if n_classes is None:
        n_classes = int(y_fit.max()) + 1 if y_fit.size else 0
    idx = _nearest(D, n_neighbors)
    dist = np.take_along_axis(D, idx, axis=1)
    if weights == "uniform":
        w = np.ones_like(dist, dtype=np.float64)
    else:
        # rounding may leave identical sequences at -1e-16: that is a distance of 0
        finite = np.abs(dist[np.isfinite(dist)])
        tiny = 1e-9 * (float(finite.max()) if finite.size else 0.0) + 1e-15
        if dist.size and np.min(dist) < -tiny:
            # 1 / d of a negative value (soft-DTW is a soft minimum, not a distance) would be
            # a negative vote, and the "probabilities" would leave [0, 1]
            raise _NegativeDistanceError(float(np.min(dist)))
        with np.errstate(divide="ignore"):
            w = 1.0 / np.maximum(dist.astype(np.float64), 0.0)
        exact = np.isinf(w)
        rows = exact.any(axis=1)
        w[rows] = exact[rows].astype(np.float64)
        w[~(w > 0).any(axis=1)] = 1.0
    proba = np.zeros((len(idx), n_classes))
    np.add.at(proba, (np.arange(len(idx))[:, None], y_fit[idx]), w)
    return proba / proba.sum(axis=1, keepdims=True)


class KNeighborsSequenceClassifier(SequenceInputMixin, ClassifierMixin, BaseEstimator):
    """k-NN classifier for variable-length sequences under a seqot sequence distance.

    Parameters
    ----------
    n_neighbors : int, default=1
        Number of neighbours that vote.
    metric : str or callable, default="dtw"
        Any name of :func:`seqot.distances.available_metrics`, or a callable accepted by
        :func:`seqot.distances.pairwise_sequence_distances`.
    metric_params : dict, optional
        Keyword arguments of the metric (``reg``, ``gamma``, ...). A dict rather than
        ``**kwargs`` so that ``get_params``/``clone``/``GridSearchCV`` see them
        (``metric_params={"gamma": 0.1}``).
    weights : {"uniform", "distance"}, default="uniform"
        ``"distance"`` weighs each vote by ``1 / distance`` (an exact match wins outright).
    block_size : int, optional
        Block size of the pairwise computation (see
        :func:`~seqot.distances.pairwise_sequence_distances`).
    n_jobs : int, optional
        Parallel blocks.
    device : str, default="auto"
        Where distances are computed.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    X_fit_ : SequenceBatch
        The training sequences (numpy, so the fitted model pickles anywhere).
    y_fit_ : ndarray of shape (n_train,)
        Class indices into ``classes_``.

    Examples
    --------
    >>> from seqot.datasets import load_japanese_vowels
    >>> from seqot.neighbors import KNeighborsSequenceClassifier
    >>> jv = load_japanese_vowels()
    >>> clf = KNeighborsSequenceClassifier(metric="mean_euclidean", device="cpu")
    >>> clf.fit(jv.X_train, jv.y_train).score(jv.X_test, jv.y_test) > 0.8
    True
    """

    _parameter_constraints: dict = {
        "n_neighbors": POSITIVE_INT,
        "metric": [str, callable],
        "metric_params": [dict, None],
        "weights": [StrOptions({"uniform", "distance"})],
        "block_size": BLOCK_SIZE,
        "n_jobs": N_JOBS,
        "device": DEVICE,
        "layout": LAYOUT,
    }

    def __init__(
        self,
        n_neighbors=1,
        *,
        metric="dtw",
        metric_params=None,
        weights="uniform",
        block_size=None,
        n_jobs=None,
        device="auto",
        layout="time_first",
    ):
        self.layout = layout
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.metric_params = metric_params
        self.weights = weights
        self.block_size = block_size
        self.n_jobs = n_jobs
        self.device = device

    @staticmethod
    def _check_n_neighbors(k, n_train):
        # the type and range are the constructor's constraint; the count against the data
        # is semantic
        if k > n_train:
            raise ValueError(
                f"n_neighbors={k} is larger than the {n_train} training sequences."
            )
        return int(k)

    def _check_params(self, n_train):
        # the constraints are checked by validate_sequences_targets; what they cannot say:
        self._check_n_neighbors(self.n_neighbors, n_train)
        fn = _get_metric(self.metric)  # metric_params are checked by a dry run in fit
        if self.weights == "distance" and getattr(fn, "_seqot_signed", False):
            raise ValueError(
                f"weights='distance' votes with 1 / d, but metric={self.metric!r} is a soft "
                "minimum that can be negative; use weights='uniform' or a non-negative metric.")

    def fit(self, X, y):
        """Store the training sequences.

        Parameters
        ----------
        X : sequences
            Ragged list of ``(T_i, d)`` arrays, a 3-D NaN-padded array, or a 2-D array of
            length-1 sequences.
        y : array-like of shape (n,)
            Class labels.
        """
        batch, y = validate_sequences_targets(self, X, y)
        self._check_params(batch.n_sequences)
        self.X_fit_ = batch.to_numpy()
        check_metric_params(self.metric, self.X_fit_, self.metric_params, device=self.device)
        self.y_fit_ = np.searchsorted(self.classes_, y)
        return self

    def _distances(self, X):
        check_is_fitted(self)
        batch = validate_sequences(self, X, reset=False)
        return pairwise_sequence_distances(
            batch.to_numpy(),
            self.X_fit_,
            metric=self.metric,
            block_size=self.block_size,
            n_jobs=self.n_jobs,
            device=self.device,
            **(self.metric_params or {}),
        )

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """Indices (and distances) of the nearest training sequences of each sequence of X."""
        check_is_fitted(self)
        # before any distance: the parameters (set_params after fit) and an explicit count
        # (-1 would slice "all but the last")
        check_estimator_params(self)
        if n_neighbors is not None:
            validate_parameter_constraints(
                {"n_neighbors": POSITIVE_INT}, {"n_neighbors": n_neighbors},
                caller_name=f"{type(self).__name__}.kneighbors")
        k = self._check_n_neighbors(self.n_neighbors if n_neighbors is None else n_neighbors,
                                    self.X_fit_.n_sequences)
        D = self._distances(X)
        idx = _nearest(D, k)
        if return_distance:
            return np.take_along_axis(D, idx, axis=1), idx
        return idx

    def predict_proba(self, X):
        """Share of (weighted) neighbour votes per class, ``(n, n_classes)``."""
        check_is_fitted(self)
        check_estimator_params(self)  # before any distance (set_params after fit)
        k = self._check_n_neighbors(self.n_neighbors, self.X_fit_.n_sequences)
        D = self._distances(X)
        try:
            return knn_vote(D, self.y_fit_, k, self.weights, n_classes=len(self.classes_))
        except _NegativeDistanceError as err:
            raise ValueError(
                f"weights='distance' needs non-negative distances, but metric="
                f"{self.metric!r} gave {err.args[0]:.4g} for a neighbour; use "
                "weights='uniform' or a non-negative metric.") from None

    def predict(self, X):
        """Class of each sequence: the (weighted) majority of its neighbours."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
