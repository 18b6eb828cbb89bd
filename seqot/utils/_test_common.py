"""Where the test-suite instances of every estimator are configured, in one place.

``TEST_PARAMS`` keeps expensive estimators small in tests; ``EXPECTED_FAILED_CHECKS`` lists
each scikit-learn check an estimator is known to fail, with the reason. Both are read by
``tests/test_common.py``, which discovers the estimators itself.
"""

from __future__ import annotations

TEST_PARAMS: dict[str, dict] = {
    "KNeighborsSequenceClassifier": {"device": "cpu"},
    "SequenceDistanceTransformer": {"device": "cpu"},
    "SequenceNearestCentroid": {"device": "cpu"},
    "CMOTNearestCentroid": {"device": "cpu"},
    "EpisodicEncoder": {"device": "cpu", "hidden": (8,), "max_epochs": 4,
                        "metric_params": {"max_iter": 20}, "random_state": 0},
    "DeepEMDClassifier": {"device": "cpu", "max_epochs": 5, "random_state": 0},
    "TAPMetricLearner": {"device": "cpu", "hidden": (8,), "channels": (3, 3), "batch_size": 8,
                         "max_epochs": 2, "validation_fraction": None, "random_state": 0},
    "GrassmannKernel": {"n_components": 1, "check_orthonormal": False},
    "ACOTSubspacePooling": {"random_state": 0, "max_epochs": 2, "classifier_max_epochs": 3,
                            "batch_size": 16, "device": "cpu"},
    "ASOTSegmenter": {"device": "cpu", "n_actions": 3, "hidden": (8,), "n_components": 4,
                      "max_epochs": 2, "n_frames": 16, "random_state": 0},
}

# sklearn reads max_iter as fit's budget and wants n_iter_ after fit
_PREDICT_TIME_BUDGET = (
    "max_iter bounds the Sinkhorn/EMD solves that predict runs; fit solves nothing, so an n_iter_ "
    "after fit would be invented (each solve reports its own count in OTResult.n_iter)")

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "CMOTNearestCentroid": {"check_non_transformer_estimators_n_iter": _PREDICT_TIME_BUDGET},
    "DeepEMDClassifier": {"check_non_transformer_estimators_n_iter": (
        "max_iter bounds each of the many EMD/Sinkhorn solves (in SFC training and at "
        "predict), so no single n_iter_ answers to it; the training length is max_epochs, "
        "reported per epoch by loss_curve_")},
}


def construct_instance(cls):
    """An instance of ``cls`` with its test parameters."""
    return cls(**TEST_PARAMS.get(cls.__name__, {}))


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})
