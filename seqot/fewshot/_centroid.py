r"""Few-shot nearest-class classifiers over sequence distances: CMOT and its baselines.

A query's distance to class :math:`n` is the mean of its distances to the class's support
sequences (CMOT's Eq. 15, ``class_distance="mean"``) or its distance to the class prototype,
the segment-wise mean of the class's supports (``"prototype"``); with one shot they coincide.
Class probabilities are :math:`\mathrm{softmax}(-\mathrm{DIS}/t)` (Eq. 14, temperature
:math:`t = 1` in the paper).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..distances._cmot import _CMOT_CONSTRAINTS, _segment_pool
from ..distances._pairwise import check_metric_params, pairwise_sequence_distances
from ..distances._pairwise import get_metric as _get_metric
from ..utils._param_validation import (
    BLOCK_SIZE,
    DEVICE,
    LAYOUT,
    N_JOBS,
    POSITIVE,
    POSITIVE_INT,
    StrOptions,
    check_estimator_params,
)
from ..utils._validation import (
    SequenceBatch,
    SequenceInputMixin,
    validate_sequences,
    validate_sequences_targets,
)

__all__ = ["SequenceNearestCentroid", "CMOTNearestCentroid"]

#: The parameters both nearest-class classifiers share.
_COMMON_CONSTRAINTS = {
    "class_distance": [StrOptions({"mean", "prototype"})],
    "temperature": POSITIVE,
    "n_segments": [*POSITIVE_INT, None],
    "block_size": BLOCK_SIZE,
    "n_jobs": N_JOBS,
    "device": DEVICE,
    "layout": LAYOUT,
}


def _numpy(D):
    return D.detach().cpu().numpy() if isinstance(D, torch.Tensor) else np.asarray(D)


class _LogitClassifierMixin:
    """``decision_function`` and ``predict_proba`` from ``_logits(X)``, ``(n, n_classes)``."""

    def decision_function(self, X):
        """The class logits, ``(n, n_classes)``; for two classes scikit-learn's ``(n,)`` score
        of ``classes_[1]`` (the difference of the two columns)."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X):
        """Softmax of the class logits."""
        z = self._logits(X)
        return torch.softmax(torch.from_numpy(np.asarray(z, dtype=np.float64)), dim=1).numpy()


class _NearestClassBase(_LogitClassifierMixin, SequenceInputMixin, ClassifierMixin,
                        BaseEstimator):
    """Shared fit/predict logic; subclasses say which metric and parameters to use."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self._metric() == "precomputed"
        return tags

    def _fit_precomputed(self, X, y):
        from sklearn.utils.validation import check_array, column_or_1d

        D = check_array(X, ensure_all_finite=True)
        if D.shape[0] != D.shape[1]:
            raise ValueError(f"metric='precomputed' needs the (n_support, n_support) distance "
                             f"matrix at fit; got shape {D.shape}.")
        if self.class_distance != "mean":
            raise ValueError("metric='precomputed' supports class_distance='mean' only.")
        _, y = validate_sequences_targets(self, D, y)
        self.n_features_in_ = D.shape[1]
        self.y_fit_ = np.searchsorted(self.classes_, column_or_1d(y))
        return self

    # subclasses provide _metric() (a metric name) and _metric_params() (its keyword arguments)
    def _n_segments(self):
        return None

    def _prepare(self, batch: SequenceBatch) -> SequenceBatch:
        n_seg = self._n_segments()
        if n_seg is None:
            return batch
        return _segment_pool(batch.to_torch(), n_seg).to_numpy()

    def fit(self, X, y):
        """Store the support set (and the class prototypes).

        Parameters
        ----------
        X : sequences
            Any N-way K-shot support set: a ragged list of ``(T_i, d)`` arrays, a 3-D
            NaN-padded array, or 2-D (length-1 sequences).
        y : array-like of shape (n,)
        """
        check_estimator_params(self)
        if self._metric() == "precomputed":
            return self._fit_precomputed(X, y)
        _get_metric(self._metric())
        batch, y = validate_sequences_targets(self, X, y)
        # numpy state: a model fitted on GPU tensors pickles device-free
        batch = self._prepare(batch).to_numpy()
        check_metric_params(self._metric(), batch, self._metric_params(), device=self.device)
        self.y_fit_ = np.searchsorted(self.classes_, y)
        self.X_fit_ = batch
        if self.class_distance == "prototype":
            lengths = np.asarray(batch.lengths)
            protos, proto_len = [], []
            for c in range(len(self.classes_)):
                idx = np.flatnonzero(self.y_fit_ == c)
                if len(np.unique(lengths[idx])) > 1:
                    raise ValueError(
                        f"class_distance='prototype' averages the supports of a class segment "
                        f"by segment, but class {self.classes_[c]!r} has sequences of lengths "
                        f"{sorted(set(lengths[idx].tolist()))}; set n_segments or use "
                        "class_distance='mean'.")
                T = int(lengths[idx[0]])
                protos.append(batch.data[idx, :T].mean(axis=0))
                proto_len.append(T)
            T_max = max(proto_len)
            data = np.zeros((len(protos), T_max, batch.n_features), dtype=batch.data.dtype)
            for c, p in enumerate(protos):
                data[c, : len(p)] = p
            self.prototypes_ = SequenceBatch(data, np.asarray(proto_len, dtype=np.int64))
        return self

    def class_distances(self, X):
        """:math:`\\mathrm{DIS}(x; n)` for every sequence of X and class, ``(n, n_classes)``."""
        check_is_fitted(self)
        if self._metric() == "precomputed":
            from sklearn.utils.validation import check_array

            check_estimator_params(self)  # read no sequences: validate_sequences does not run
            D = check_array(X, ensure_all_finite=True)
            if D.shape[1] != len(self.y_fit_):
                raise ValueError(f"X has {D.shape[1]} columns, but {type(self).__name__} is "
                                 f"expecting {len(self.y_fit_)} features as input (one "
                                 "distance per support sequence).")
            return self._mean_over_classes(D)
        batch = self._prepare(validate_sequences(self, X, reset=False))
        params = dict(metric=self._metric(), block_size=self.block_size, n_jobs=self.n_jobs,
                      device=self.device, **self._metric_params())
        # tensor queries give tensor distances on their device; the class scores are numpy
        if self.class_distance == "prototype":
            return _numpy(pairwise_sequence_distances(batch, self.prototypes_, **params))
        return self._mean_over_classes(_numpy(pairwise_sequence_distances(batch, self.X_fit_,
                                                                          **params)))

    def _mean_over_classes(self, D):
        n_classes = len(self.classes_)
        sums = np.zeros((D.shape[0], n_classes), dtype=np.float64)
        np.add.at(sums.T, self.y_fit_, D.T.astype(np.float64))
        return sums / np.bincount(self.y_fit_, minlength=n_classes)

    def _logits(self, X):
        """``-DIS / temperature`` (CMOT's Eq. 14)."""
        return -self.class_distances(X) / self.temperature

    def predict(self, X):
        """The class at the smallest distance (ties: the first class in ``classes_``)."""
        D = self.class_distances(X)
        return self.classes_[np.argmin(D, axis=1)]


class SequenceNearestCentroid(_NearestClassBase):
    """Few-shot nearest-class classifier under any seqot sequence distance.

    With ``metric="mean_euclidean"`` it is the aggregation (mean-pooled prototype) baseline,
    with ``"otam"``/``"dtw"`` the temporal-matching baselines, with ``"cmot"`` CMOT (see
    :class:`CMOTNearestCentroid` for its named parameters).

    Parameters
    ----------
    metric : str or callable, default="dtw"
        A name of :func:`seqot.distances.available_metrics` (``"mean_euclidean"`` for the
        mean-pooled prototype baseline), a block metric, or
        ``"precomputed"``: ``X`` is then the ``(n_support, n_support)`` distance matrix at fit
        and ``(n_query, n_support)`` at predict, so that :func:`evaluate_episodes` computes
        expensive distances once for all episodes.
    metric_params : dict, optional
        Keyword arguments of the metric.
    class_distance : {"mean", "prototype"}, default="mean"
        Mean distance to the class's supports, or distance to their segment-wise mean.
    temperature : float, default=1.0
        Softmax temperature of ``predict_proba``: the class scores are ``-DIS / temperature``
        (a divisor, as everywhere in seqot).
    n_segments : int, optional
        Average every sequence over this many temporal segments first.
    block_size, n_jobs, device
        As in :func:`~seqot.distances.pairwise_sequence_distances`.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    classes_, n_features_in_, X_fit_ (the support set), y_fit_ (class indices),
    prototypes_ (with ``class_distance="prototype"``).

    Examples
    --------
    >>> from seqot.datasets import make_reversal_tasks
    >>> from seqot.fewshot import SequenceNearestCentroid
    >>> X, y = make_reversal_tasks(n_classes=5, n_per_class=2, random_state=0)
    >>> clf = SequenceNearestCentroid(metric="dtw", device="cpu").fit(X[::2], y[::2])
    >>> clf.predict(X[1::2]).shape
    (10,)
    """

    _parameter_constraints: dict = {
        "metric": [str, callable],
        "metric_params": [dict, None],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(self, metric="dtw", *, metric_params=None, class_distance="mean",
                 temperature=1.0, n_segments=None, block_size=None, n_jobs=None, device="auto",
                 layout="time_first"):
        self.layout = layout
        self.metric = metric
        self.metric_params = metric_params
        self.class_distance = class_distance
        self.temperature = temperature
        self.n_segments = n_segments
        self.block_size = block_size
        self.n_jobs = n_jobs
        self.device = device

    def _metric(self):
        return self.metric

    def _metric_params(self):
        return dict(self.metric_params or {})

    def _n_segments(self):
        return self.n_segments


class CMOTNearestCentroid(_NearestClassBase):
    r"""Few-shot classification with CMOT, the compromised semantic + temporal OT distance.

    ``fit`` stores an N-way K-shot support set; a query's distance to a class is the mean of
    its CMOT distances to the class's supports (Eq. 15), all query × support pairs being solved
    in one batched Sinkhorn call; ``predict_proba`` is the softmax of the negative distances.

    Parameters
    ----------
    alpha : float, default=0.4
        Weight of the positional cost; 0 is order-blind Sinkhorn on the semantic cost. The
        paper uses 0.4 (UCF-101, HMDB-51) and 0.8 (SMSM-V2); the positional cost lies in
        :math:`[e^{-1/\sigma^2}, 1)`, so alpha is relative to the scale of the features.
    sigma : float, default=1.2
        Positional scale (the paper's value on all data sets).
    reg : float, optional
        Fixed entropic regularisation; default: per pair ``median(C) / lambda_scale``.
    lambda_scale : float, default=7.0
    class_distance : {"mean", "prototype"}, default="mean"
    temperature : float, default=1.0
        Softmax temperature: ``predict_proba`` is the softmax of ``-DIS / temperature``.
    distance : {"transport", "regularized"}, default="transport"
    cost : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
    max_iter : int, default=100
        Sinkhorn iterations.
    tol : float, default=1e-6
    n_segments : int, optional
        Average every sequence over this many temporal segments (the paper: 4 segments).
    segment_weights : array-like of shape (n_segments,), optional
    block_size, n_jobs, device
        As in :func:`~seqot.distances.pairwise_sequence_distances`.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    See Also
    --------
    seqot.distances.cmot : the distance itself, with its equations.
    SequenceNearestCentroid : the same classifier under other distances (the baselines).

    References
    ----------
    .. [1] S. Lu, H.-J. Ye and D.-C. Zhan. Few-shot action recognition with compromised
       metric via optimal transport. arXiv:2104.03737, 2021.

    Examples
    --------
    >>> from seqot.datasets import make_reversal_tasks
    >>> from seqot import CMOTNearestCentroid
    >>> X, y = make_reversal_tasks(n_classes=5, n_per_class=2, random_state=0)
    >>> clf = CMOTNearestCentroid(alpha=1.0, device="cpu").fit(X[::2], y[::2])
    >>> float(clf.score(X[1::2], y[1::2])) > 0.8
    True
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in _CMOT_CONSTRAINTS.items() if k != "n_segments"},
        **_COMMON_CONSTRAINTS,
    }

    def __init__(self, alpha=0.4, sigma=1.2, *, reg=None, lambda_scale=7.0,
                 class_distance="mean", temperature=1.0, distance="transport",
                 cost="euclidean", max_iter=100, tol=1e-6, n_segments=None, segment_weights=None,
                 block_size=None, n_jobs=None, device="auto", layout="time_first"):
        self.layout = layout
        self.alpha = alpha
        self.sigma = sigma
        self.reg = reg
        self.lambda_scale = lambda_scale
        self.class_distance = class_distance
        self.temperature = temperature
        self.distance = distance
        self.cost = cost
        self.max_iter = max_iter
        self.tol = tol
        self.n_segments = n_segments
        self.segment_weights = segment_weights
        self.block_size = block_size
        self.n_jobs = n_jobs
        self.device = device

    def _metric(self):
        return "cmot"

    def _metric_params(self):
        return dict(alpha=self.alpha, sigma=self.sigma, reg=self.reg,
                    lambda_scale=self.lambda_scale, cost=self.cost, max_iter=self.max_iter,
                    tol=self.tol, distance=self.distance, segment_weights=self.segment_weights)

    def _n_segments(self):
        return self.n_segments

