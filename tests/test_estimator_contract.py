"""Regressions from a review of the estimators' scikit-learn contract (what the generic checks
in seqot.utils.estimator_checks did not reach: parameter changes between fits, random_state
instances, too many neighbours)."""

import numpy as np
import pytest

from seqot import DeepEMDClassifier, TAPMetricLearner
from seqot.fewshot import CMOTNearestCentroid, SequenceNearestCentroid


def _data(seed=0, n=12, d=4):
    rng = np.random.RandomState(seed)
    X = [rng.randn(rng.randint(5, 9), d) for _ in range(n)]
    return X, np.repeat([0, 1, 2], n // 3)


def _fitted_names(est):
    return {n for n in vars(est) if n.endswith("_") and not n.startswith("_")}


def test_deepemd_refit_without_sfc_forgets_the_sfc_attributes():
    X, y = _data()
    clf = DeepEMDClassifier(max_epochs=5, random_state=0, device="cpu").fit(X, y)  # 4-shot
    assert clf.lr_ is not None
    clf.fit(X[::4], ["a", "b", "c"])  # 1-shot: no SFC layer
    fresh = DeepEMDClassifier(max_epochs=5, random_state=0, device="cpu").fit(X[::4],
                                                                              ["a", "b", "c"])
    assert _fitted_names(clf) == _fitted_names(fresh)
    assert getattr(clf, "lr_", None) == getattr(fresh, "lr_", None)


@pytest.mark.parametrize("cls", [CMOTNearestCentroid, SequenceNearestCentroid])
def test_centroid_refit_forgets_prototypes(cls):
    X, y = _data()
    X = [x[:5] for x in X]  # equal lengths: class prototypes are defined
    est = cls(class_distance="prototype").fit(X, y)
    assert hasattr(est, "prototypes_")
    est.set_params(class_distance="mean").fit(X, y)
    assert not hasattr(est, "prototypes_")


def test_centroid_refit_on_precomputed_forgets_the_support_set():
    X, y = _data()
    est = SequenceNearestCentroid().fit(X, y)
    assert hasattr(est, "X_fit_")
    D = np.abs(np.subtract.outer(np.arange(12.0), np.arange(12.0)))
    est.set_params(metric="precomputed").fit(D, y)
    assert not hasattr(est, "X_fit_")


def test_acot_unsupervised_refit_forgets_the_supervised_fit():
    pytest.importorskip("pymanopt")
    from seqot import ACOTSubspacePooling

    X, y = _data()
    est = ACOTSubspacePooling(max_epochs=2, classifier_max_epochs=3, batch_size=16,
                              random_state=0, device="cpu").fit(X, y)
    assert hasattr(est, "classes_") and hasattr(est, "fooling_rate_")
    est.set_params(noise="random").fit(X[:6])
    assert _fitted_names(est) == {"n_features_in_", "generator_state_"}


@pytest.mark.parametrize("random_state", [None, np.random.RandomState(0)])
def test_acot_repeated_transforms_agree_for_any_random_state(random_state):
    """The negatives' seed is drawn once, in fit (it was redrawn in every transform, so two
    transforms differed by up to 6e-4 unless random_state was an int)."""
    pytest.importorskip("pymanopt")
    import pickle

    from seqot import ACOTSubspacePooling

    X, y = _data()
    est = ACOTSubspacePooling(noise="random", random_state=random_state).fit(X, y)
    first = est.transform(X)
    np.testing.assert_array_equal(est.transform(X), first)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), first)


def test_tap_refuses_more_neighbours_than_fitted_sequences():
    """As KNeighborsSequenceClassifier and scikit-learn do; TAP used min(k, n), so every vote
    was the class counts and every prediction the first class."""
    X, y = _data()
    params = dict(hidden=(8,), channels=(3, 3), batch_size=8, max_epochs=1,
                  validation_fraction=None, random_state=0, device="cpu")
    with pytest.raises(ValueError, match="n_neighbors=50 is larger than the 12"):
        TAPMetricLearner(n_neighbors=50, **params).fit(X, y)
    est = TAPMetricLearner(n_neighbors=3, **params).fit(X, y)
    est.set_params(n_neighbors=13)
    with pytest.raises(ValueError, match="n_neighbors=13"):
        est.predict(X)
