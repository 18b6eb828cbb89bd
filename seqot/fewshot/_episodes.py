"""N-way K-shot episodes: a cross-validation splitter and the papers' accuracy ± 95% CI."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import _safe_split

__all__ = ["EpisodeSampler", "EpisodeScores", "evaluate_episodes"]


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
        Number of episodes.
    random_state : None, int or RandomState, default=None
        With an int, every call to ``split`` yields the same episodes.

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
        for name, low in (("n_way", 2), ("n_shot", 1), ("n_query", 1), ("n_episodes", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")

    def get_n_splits(self, X=None, y=None, groups=None):
        return int(self.n_episodes)

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
        y = np.asarray(y)
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
        rng = check_random_state(
            self.random_state
            if not isinstance(self.random_state, numbers.Integral)
            else int(self.random_state)
        )
        for _ in range(self.n_episodes):
            chosen = rng.choice(eligible, size=self.n_way, replace=False)
            support, query = [], []
            for c in chosen:
                picked = rng.choice(members[c], size=need, replace=False)
                support.append(picked[: self.n_shot])
                query.append(picked[self.n_shot :])
            yield np.concatenate(support), np.concatenate(query)


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
    verbose : bool, default=False
        Show a progress bar over episodes.

    Returns
    -------
    EpisodeScores
        ``mean``, ``ci95`` (= 1.96·std/√n_episodes) and the per-episode ``scores``.
    """
    y = np.asarray(y)
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
