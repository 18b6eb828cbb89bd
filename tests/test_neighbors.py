"""The pairwise driver and the k-NN sequence classifier, against brute force."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from seqot.datasets import load_japanese_vowels
from seqot.distances import available_metrics, pairwise_sequence_distances
from seqot.neighbors import KNeighborsSequenceClassifier


def ragged(seed, n, d=4):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(T), d)) for T in rng.integers(1, 12, size=n)]


def brute_mean_euclidean(X, Y):
    return np.array([[np.linalg.norm(x.mean(0) - y.mean(0)) for y in Y] for x in X])


@pytest.mark.parametrize("block_size", [None, 1, 3, (2, 5)])
def test_pairwise_matches_brute_force_in_any_blocking(block_size):
    X, Y = ragged(0, 9), ragged(1, 7)
    D = pairwise_sequence_distances(X, Y, metric="mean_euclidean", block_size=block_size,
                                    n_jobs=2)
    np.testing.assert_allclose(D, brute_mean_euclidean(X, Y), atol=1e-12)
    assert isinstance(D, np.ndarray) and D.shape == (9, 7)


def test_pairwise_self_torch_and_padding():
    X = ragged(2, 6)
    D = pairwise_sequence_distances(X)
    np.testing.assert_allclose(D, D.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(D), 0, atol=1e-7)
    Xt = [torch.tensor(x) for x in X]
    Dt = pairwise_sequence_distances(Xt)
    assert isinstance(Dt, torch.Tensor)
    np.testing.assert_allclose(Dt.numpy(), D)
    T = max(map(len, X)) + 4
    padded = np.full((len(X), T, 4), np.nan)
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    np.testing.assert_allclose(pairwise_sequence_distances(padded), D, atol=1e-12)


def test_pairwise_errors():
    with pytest.raises(ValueError, match="metric='nope' is not known"):
        pairwise_sequence_distances(ragged(0, 2), metric="nope")
    with pytest.raises(ValueError, match="Y has 3 features, but the estimator is expecting 4"):
        pairwise_sequence_distances(ragged(0, 2), ragged(1, 2, d=3))
    with pytest.raises(ValueError, match="'block_size' parameter of pairwise_sequence_distances"):
        pairwise_sequence_distances(ragged(0, 2), block_size=0)
    assert "mean_euclidean" in available_metrics()


def test_knn_matches_brute_force_vote():
    X, Xq = ragged(3, 30), ragged(4, 10)
    y = np.arange(30) % 3
    clf = KNeighborsSequenceClassifier(n_neighbors=5, metric="mean_euclidean", device="cpu").fit(X, y)
    D = brute_mean_euclidean(Xq, X)
    nn = np.argsort(D, axis=1, kind="stable")[:, :5]
    expected = np.array([np.bincount(y[r], minlength=3) / 5 for r in nn])
    np.testing.assert_allclose(clf.predict_proba(Xq), expected)
    dist, idx = clf.kneighbors(Xq)
    np.testing.assert_array_equal(idx, nn)
    np.testing.assert_allclose(dist, np.take_along_axis(D, nn, 1))


def test_knn_distance_weights_exact_match_wins():
    X = [np.zeros((3, 2)), np.ones((3, 2)), np.ones((4, 2)) * 1.1]
    clf = KNeighborsSequenceClassifier(3, weights="distance", metric="mean_euclidean",
                                       device="cpu").fit(X, [0, 1, 1])
    np.testing.assert_allclose(clf.predict_proba([np.zeros((2, 2))]), [[1.0, 0.0]])


def test_knn_semantic_checks_at_fit():
    """What the constraints (tests/test_common.py) cannot say: the count against the data
    and the metric registry."""
    X, y = ragged(0, 4), [0, 1, 0, 1]
    for params, match in [({"n_neighbors": 5}, "larger than the 4 training"),
                          ({"metric": "nope"}, "metric='nope' is not known")]:
        with pytest.raises(ValueError, match=match):
            KNeighborsSequenceClassifier(device="cpu", **params).fit(X, y)


def test_knn_gridsearch_with_ragged_lists():
    X, y = ragged(5, 24), np.arange(24) % 2
    grid = GridSearchCV(KNeighborsSequenceClassifier(device="cpu"),
                        {"n_neighbors": [1, 3]}, cv=3).fit(X, y)
    assert grid.best_params_["n_neighbors"] in (1, 3)


def test_knn_real_data_mean_pooling_baseline():
    """1-NN on mean-pooled JapaneseVowels frames: an order-blind baseline well above chance."""
    jv = load_japanese_vowels()
    acc = KNeighborsSequenceClassifier(metric="mean_euclidean", device="cpu").fit(
        jv.X_train, jv.y_train).score(
        jv.X_test, jv.y_test)
    assert acc > 0.85  # chance is 1/9; DTW reaches about 0.95


def test_symmetric_metric_fills_lower_blocks_from_upper():
    X = ragged(7, 11)
    full = brute_mean_euclidean(X, X)
    for bs in (1, 2, 4, (3, 5)):
        np.testing.assert_allclose(pairwise_sequence_distances(X, metric="mean_euclidean", block_size=bs), full, atol=1e-12)


def test_length_groups_limit_padding_and_keep_every_sequence():
    from seqot.distances._pairwise import _chunks, _length_groups

    rng = np.random.default_rng(8)
    lx = np.r_[rng.integers(4, 8, 50), rng.integers(60, 64, 50)]
    rng.shuffle(lx)
    gx, gy = _length_groups(lx, lx, "frames", same=True)
    assert len(gx) >= 2  # short and long sequences are not padded together
    for grp in gx:
        assert lx[grp].max() <= 2 * lx[grp].min() + 4
    np.testing.assert_array_equal(np.sort(np.concatenate(gx)), np.arange(100))
    # equal lengths: one group; pooled metrics: one group
    assert len(_length_groups(np.full(30, 9), np.full(30, 9), "frames", same=True)[0]) == 1
    assert len(_length_groups(lx, lx, "pooled", same=True)[0]) == 1
    chunks = _chunks(gx, lx, 64, "frames", 7)
    assert all(len(c) <= 7 for c in chunks)
    np.testing.assert_array_equal(np.sort(np.concatenate(chunks)), np.arange(100))


def test_kneighbors_checks_n_neighbors_and_infinite_distances_vote_equally():
    """Regressions: kneighbors(n_neighbors=-1) returned "all but the last" neighbours and 10
    returned all 3; a set_params after fit went unchecked; with weights="distance" and every
    neighbour at an infinite (overflowed) distance, predict_proba was 0/0 = NaN."""
    X = [np.array([[0.0]]), np.array([[1.0]]), np.array([[5.0]])]
    y = [0, 1, 1]
    clf = KNeighborsSequenceClassifier(1, metric="dtw", device="cpu").fit(X, y)
    for k in (-1, 0, 2.5, 10):
        with pytest.raises(ValueError, match="n_neighbors"):
            clf.kneighbors(X[:1], n_neighbors=k)
    clf.set_params(n_neighbors=10)
    with pytest.raises(ValueError, match="n_neighbors=10 is larger than the 3"):
        clf.predict(X[:1])
    # features of 1e200 are now refused by the cost builders (their squares overflow), so the
    # infinite distances come from a user metric
    def far(xb, yb):
        return torch.full((xb.n_sequences, yb.n_sequences), float("inf"), dtype=xb.data.dtype)

    clf = KNeighborsSequenceClassifier(2, metric=far, weights="distance", device="cpu")
    proba = clf.fit(X, y).predict_proba([np.array([[3.0]])])
    np.testing.assert_array_equal(proba, [[0.5, 0.5]])
    with pytest.raises(ValueError, match="Euclidean frame costs support"):
        KNeighborsSequenceClassifier(2, metric="dtw", device="cpu").fit(X, y).predict(
            [np.array([[1e200]])])


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_vote_matches_brute_force_loop(weights):
    """The one k-NN vote (also used by TAPMetricLearner.predict) against a loop: stable
    neighbour order (ties to the earlier fitted sequence), exact matches win outright, and
    argmax ties go to the smaller class index."""
    from seqot.neighbors._classification import knn_vote

    rng = np.random.default_rng(11)
    # integer distances: many ties, some zeros
    D = rng.integers(0, 4, size=(40, 13)).astype(float)
    y_fit = rng.integers(0, 4, size=13)
    for k in (1, 2, 5, 13):
        proba = knn_vote(D, y_fit, k, weights, n_classes=5)
        for q in range(len(D)):
            order = sorted(range(13), key=lambda j: (D[q, j], j))[:k]
            votes = np.zeros(5)
            zeros = [j for j in order if D[q, j] == 0]
            for j in order:
                if weights == "uniform":
                    votes[y_fit[j]] += 1.0
                elif zeros:
                    votes[y_fit[j]] += 1.0 if D[q, j] == 0 else 0.0
                else:
                    votes[y_fit[j]] += 1.0 / D[q, j]
            np.testing.assert_allclose(proba[q], votes / votes.sum(), rtol=1e-14)
            best = max(range(5), key=lambda c: (votes[c], -c))
            assert np.argmax(proba[q]) == best
