"""Every public estimator, discovered automatically, against scikit-learn's and seqot's checks."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from seqot.utils import all_estimators
from seqot.utils._test_common import construct_instance, expected_failed_checks
from seqot.utils._validation import SequenceInputMixin
from seqot.utils.estimator_checks import parametrize_with_sequence_checks

ESTIMATORS = [construct_instance(cls) for _, cls in all_estimators()]


def test_discovery_finds_the_estimators():
    names = {name for name, _ in all_estimators()}
    assert "KNeighborsSequenceClassifier" in names
    assert names >= {"KNeighborsSequenceClassifier", "SequenceDistanceTransformer"}
    # nothing private or foreign slips in
    assert all(not n.startswith("_") for n in names)
    assert all(cls.__module__.startswith("seqot.") for _, cls in all_estimators())


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# estimators over sequences; GrassmannKernel takes subspace bases instead
SEQUENCE_ESTIMATORS = [e for e in ESTIMATORS if isinstance(e, SequenceInputMixin)]


@parametrize_with_sequence_checks(SEQUENCE_ESTIMATORS)
def test_sequence_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_parameter_constraints(estimator):
    """Every constructor parameter is declared, and every declared constraint, violated once,
    raises naming the parameter in fit and (set after fit) in every output method."""
    from seqot.utils.estimator_checks import check_parameter_constraints

    assert check_parameter_constraints(type(estimator).__name__, estimator) > 0


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_sklearn_param_validation(estimator):
    """scikit-learn's own parameter-validation check (not part of its check_estimator)."""
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation(type(estimator).__name__, estimator)


def test_constraint_check_catches_an_unchecked_parameter():
    """The harness must fail an estimator that declares a constraint but never applies it."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin

    from seqot.utils._param_validation import POSITIVE
    from seqot.utils.estimator_checks import check_parameter_constraints

    class Unchecked(ClassifierMixin, BaseEstimator):
        _parameter_constraints = {"reg": POSITIVE}

        def __init__(self, reg=1.0):
            self.reg = reg

        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.repeat(self.classes_[0], len(X))

    with pytest.raises(AssertionError, match="did not raise"):
        check_parameter_constraints("Unchecked", Unchecked())


def test_sequence_checks_catch_a_padding_bug():
    """The harness must fail an estimator that lets padding leak into its result."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin

    from seqot.utils.estimator_checks import check_padding_invariance

    class LeakyMean(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            Xp = np.nan_to_num(np.asarray(_pad(X)))
            self.classes_ = np.unique(y)
            self.means_ = Xp.mean(axis=1)  # averages padding zeros too: wrong
            self.y_ = np.asarray(y)
            return self

        def predict(self, X):
            m = np.nan_to_num(np.asarray(_pad(X))).mean(axis=1)
            d = ((m[:, None] - self.means_[None]) ** 2).sum(-1)
            return self.y_[d.argmin(1)]

    def _pad(X):
        if isinstance(X, np.ndarray):
            return X
        T = max(len(x) for x in X)
        out = np.full((len(X), T, X[0].shape[1]), np.nan)
        for i, x in enumerate(X):
            out[i, : len(x)] = x
        return out

    with pytest.raises(AssertionError):
        check_padding_invariance("LeakyMean", LeakyMean())
