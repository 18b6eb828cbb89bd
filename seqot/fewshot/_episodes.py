"""N-way K-shot episodes: a cross-validation splitter and the papers' accuracy ± 95% CI."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils.metaestimators import _safe_split

from ..utils._param_validation import (
    N_JOBS,
    POSITIVE_INT,
    RANDOM_STATE,
    VERBOSE,
    HasMethods,
    Interval,
    validate_parameter_constraints,
    validate_params,
)
from ..utils._torch import check_random_state

__all__ = ["EpisodeSampler", "EpisodeScores", "evaluate_episodes"]


def _draw_episode(rng, members, eligible, n_way, n_shot, n_query):
    """One N-way K-shot episode: the one episode drawer of seqot.

    ``n_way`` classes are drawn from ``eligible`` without replacement, then for each class
    ``n_shot + n_query`` of its ``members`` (fewer queries when the class has fewer), without
    replacement: the first ``n_shot`` are its supports, the rest its queries.

    Parameters
    ----------
    rng : numpy Generator or RandomState
    members : list of ndarray
        The example indices of each class.
    eligible : ndarray
        The classes that may be drawn (each with at least ``n_shot + 1`` members).
    n_way, n_shot, n_query : int

    Returns
    -------
    support : ndarray of shape (n_way * n_shot,)
        Class-major: the supports of the first drawn class, then of the second, ...
    query : ndarray
        The queries, class-major.
    labels : ndarray of int64
        The episode class (``0 .. n_way - 1``, in drawing order) of every query.
    """
    chosen = rng.choice(eligible, size=n_way, replace=False)
    support, query, labels = [], [], []
    for k, c in enumerate(chosen):
        size = min(n_shot + n_query, len(members[c]))
        picked = rng.choice(members[c], size=size, replace=False)
        support.append(picked[:n_shot])
        query.append(picked[n_shot:])
        labels.append(np.full(size - n_shot, k, dtype=np.int64))
    return np.concatenate(support), np.concatenate(query), np.concatenate(labels)


class EpisodeSampler:
    """Draw few-shot episodes: ``n_way`` classes, ``n_shot`` support and ``n_query`` query each.

    A scikit-learn cross-validation splitter: ``split(X, y)`` yields ``(support_idx, query_idx)``
    index arrays, so it also works as ``cv=`` of :func:`~sklearn.model_selection.cross_val_score`
    (every episode then fits the estimator on its support set and scores it on its queries).

    Parameters
    ----------
    n_way : int, default=5
        Classes per episode.
    n_shot : int, default=1
        Support examples per class.
    n_query : int, default=15
        Query examples per class.
    n_episodes : int, default=1000
        Number of episodes (how many to draw; not a training length).
    random_state : None, int, RandomState, Generator, SeedSequence or BitGenerator, \
default=None
        With an int (in ``[0, 2**32 - 1]``), every call to ``split`` yields the same
        episodes; a RandomState or Generator is used as is (and advanced); anything else
        goes through :func:`seqot.utils.check_random_state`.

    Notes
    -----
    Only classes with at least ``n_shot + n_query`` examples take part. Within an episode the
    support and query sets are disjoint, drawn without replacement.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.fewshot import EpisodeSampler
    >>> y = np.repeat(np.arange(6), 4)
    >>> sampler = EpisodeSampler(n_way=3, n_shot=1, n_query=2, n_episodes=2, random_state=0)
    >>> [(len(s), len(q)) for s, q in sampler.split(np.zeros((24, 1)), y)]
    [(3, 6), (3, 6)]
    """

    _parameter_constraints: dict = {
        "n_way": [Interval(Integral, 2, None, closed="left")],
        "n_shot": POSITIVE_INT,
        "n_query": POSITIVE_INT,
        "n_episodes": POSITIVE_INT,
        "random_state": RANDOM_STATE,
    }

    def __init__(self, n_way=5, n_shot=1, n_query=15, n_episodes=1000, random_state=None):
        self.n_way = n_way
        self.n_shot = n_shot
        self.n_query = n_query
        self.n_episodes = n_episodes
        self.random_state = random_state

    def __repr__(self):
        return (
            f"EpisodeSampler(n_way={self.n_way}, n_shot={self.n_shot}, n_query={self.n_query}, "
            f"n_episodes={self.n_episodes}, random_state={self.random_state!r})"
        )

    def _check_params(self):
        # a splitter, not an estimator (no get_params): its constraints are checked directly
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__)

    def get_n_splits(self, X=None, y=None, groups=None):
        """The number of episodes, ``n_episodes``."""
        self._check_params()
        return int(self.n_episodes)

    def _rng(self):
        rs = self.random_state
        # An int seeds numpy's legacy RandomState, as it always did, so that the episodes of
        # an int seed (the demo's, the published tables') stay the same; a RandomState is
        # used as is. Everything else goes through the one converter.
        if isinstance(rs, Integral):
            return np.random.RandomState(int(rs))
        if isinstance(rs, np.random.RandomState):
            return rs
        return check_random_state(rs)

    def split(self, X=None, y=None, groups=None):
        """Yield ``(support_idx, query_idx)`` for each episode.

        Parameters
        ----------
        X : ignored, present for the splitter API.
        y : array-like of shape (n_samples,)
            Class labels.
        groups : ignored.
        """
        self._check_params()
        if y is None:
            raise ValueError("EpisodeSampler.split needs the labels y.")
        y = _check_labels(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        counts = np.bincount(y_idx, minlength=len(classes))
        need = self.n_shot + self.n_query
        eligible = np.flatnonzero(counts >= need)
        if len(eligible) < self.n_way:
            raise ValueError(
                f"{self.n_way}-way {self.n_shot}-shot episodes with {self.n_query} queries need "
                f"{self.n_way} classes with at least {need} examples each; only "
                f"{len(eligible)} of the {len(classes)} classes have that many."
            )
        members = [np.flatnonzero(y_idx == c) for c in range(len(classes))]
        rng = self._rng()
        for _ in range(self.n_episodes):
            support, query, _labels = _draw_episode(rng, members, eligible, self.n_way,
                                                    self.n_shot, self.n_query)
            yield support, query


def _check_labels(y):
    """``y`` as a 1-D array of sortable labels without NaN, or a clean error."""
    try:
        y = np.asarray(y)
    except ValueError as exc:
        raise ValueError(f"y could not be read as a 1-D array of labels: {exc}") from None
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels; got shape {y.shape}.")
    if y.dtype.kind == "c":
        raise ValueError("y holds complex numbers; class labels must be ints or strings.")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError("y contains NaN; every example needs a class label.")
    if y.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and v != v) for v in y):
            raise ValueError("y contains None or NaN; every example needs a class label.")
        try:
            np.unique(y)
        except TypeError:
            raise TypeError("y mixes label types that cannot be sorted together (e.g. strings "
                            "and numbers); use labels of one type.") from None
    return y


@dataclass(frozen=True)
class EpisodeScores:
    """Few-shot accuracy as the papers report it.

    Unpacks as ``mean, ci95 = evaluate_episodes(...)``.

    Attributes
    ----------
    mean : float
        Mean accuracy over episodes.
    ci95 : float
        Half-width of the 95% confidence interval, ``1.96 * std / sqrt(n_episodes)``.
    scores : ndarray of shape (n_episodes,)
        The accuracy of each episode.
    """

    mean: float
    ci95: float
    scores: np.ndarray = field(repr=False)

    def __iter__(self):
        yield self.mean
        yield self.ci95

    def __str__(self):
        return f"{100 * self.mean:.1f} ± {100 * self.ci95:.1f}%"


def _run_episode(estimator, X, y, support, query):
    est = clone(estimator)
    X_s, y_s = _safe_split(est, X, y, support)
    X_q, y_q = _safe_split(est, X, y, query, support)
    est.fit(X_s, y_s)
    return float(np.mean(est.predict(X_q) == y_q))


@validate_params(
    {
        "estimator": [HasMethods(["get_params", "fit", "predict"])],
        "X": "no_validation",
        "y": "no_validation",
        "sampler": [HasMethods(["split", "get_n_splits"])],
        "n_jobs": N_JOBS,
        "verbose": VERBOSE,
    },
    # the estimator's own parameters are not checked here: its fit and predict must check them
    prefer_skip_nested_validation=False,
)
def evaluate_episodes(estimator, X, y, sampler, *, n_jobs=None, verbose=False):
    """Mean accuracy and 95% CI of a classifier over few-shot episodes.

    In each episode a clone of ``estimator`` is fitted on the support set and predicts the
    queries. An estimator whose tags say ``pairwise`` (``metric="precomputed"``) receives the
    matching blocks of a precomputed ``(n, n)`` matrix ``X``, so expensive distances can be
    computed once for all episodes.

    Parameters
    ----------
    estimator : classifier
        Any scikit-learn compatible classifier; seqot's accept ragged lists of sequences.
    X : sequences or (n, n) precomputed matrix
    y : array-like of shape (n,)
    sampler : EpisodeSampler
    n_jobs : int, optional
        Episodes run in parallel through joblib (so ``joblib.parallel_backend("dask")``
        spreads them over a cluster).
    verbose : bool or int, default=False
        Show a progress bar over episodes.

    Returns
    -------
    EpisodeScores
        ``mean``, ``ci95`` (= 1.96·std/√n_episodes) and the per-episode ``scores``.
    """
    y = _check_labels(y)
    n_X = X.shape[0] if hasattr(X, "shape") and len(X.shape) else (
        len(X) if hasattr(X, "__len__") else None)
    if n_X is None:
        raise TypeError(f"X must be a collection of sequences or an (n, n) matrix; got "
                        f"{type(X).__name__}.")
    if n_X != len(y):
        raise ValueError(f"X has {n_X} examples but y has {len(y)} labels.")
    episodes = sampler.split(X, y)
    if verbose:
        from tqdm.auto import tqdm

        episodes = tqdm(episodes, total=sampler.get_n_splits(), desc="episodes")
    scores = Parallel(n_jobs=n_jobs)(
        delayed(_run_episode)(estimator, X, y, s, q) for s, q in episodes
    )
    scores = np.asarray(scores, dtype=np.float64)
    ci = 1.96 * scores.std() / np.sqrt(len(scores))
    return EpisodeScores(float(scores.mean()), float(ci), scores)
