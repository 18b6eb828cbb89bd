"""Property-based robustness tests of every public estimator: malformed and extreme input.

The contract: ``fit``/``predict``/``predict_proba``/``decision_function``/``transform``/
``score`` either work, giving finite output of the right shape, or raise a ``ValueError``/
``TypeError`` raised by seqot's own code (or by scikit-learn's target validation) whose
message names the problem. Never NaN/inf output, a hang or a raw torch/POT/numpy exception.

Deterministic malformed cases (empty collections, NaN inside a sequence, mixed feature
dimensions, ...) are plain parametrized tests; random valid collections (any scale from 1e-8
to 1e8, constant and duplicate sequences, float16/int/float32 data, list/3-D/torch forms)
and extreme hyper-parameters are drawn by hypothesis.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import is_classifier

from seqot.utils import all_estimators
from seqot.utils._test_common import TEST_PARAMS

from _hypothesis_utils import assert_clean_error, raise_location, sequence

ESTIMATORS = dict(all_estimators())
# GrassmannKernel takes subspace bases, not sequences: it has its own tests below.
SEQUENCE_ESTIMATORS = sorted(n for n in ESTIMATORS if n != "GrassmannKernel")
CLASSIFIERS = sorted(n for n in SEQUENCE_ESTIMATORS if is_classifier(ESTIMATORS[n]()))
# Estimators whose fit needs labels of at least two classes.
NEEDS_LABELS = sorted(set(CLASSIFIERS) | {"EpisodicEncoder"})
METHODS = ("predict", "predict_proba", "decision_function", "transform")

_SKLEARN_VALIDATION = os.sep + os.path.join("sklearn", "utils") + os.sep

_FAST = settings(max_examples=8, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def make(name, **params):
    """``name`` with its small test parameters (ACOT with random negatives: no WGAN)."""
    base = dict(TEST_PARAMS.get(name, {}))
    if name == "ACOTSubspacePooling":
        base["noise"] = "random"
    base.update(params)
    return ESTIMATORS[name](**base)


def assert_clean(exc, match=None):
    """A clean error: seqot's own, or scikit-learn's target validation (``sklearn.utils``)."""
    if isinstance(exc, (ValueError, TypeError)) and _SKLEARN_VALIDATION in raise_location(exc):
        assert str(exc).strip()
        return exc
    return assert_clean_error(exc, match=match)


def clean_or_result(fn, *args, **kwargs):
    """``(True, result)`` if ``fn`` works, ``(False, exc)`` after checking a clean error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return True, fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - classified by assert_clean
        assert_clean(exc)
        return False, exc


def _as_float_array(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _finite(a, what):
    arr = _as_float_array(a)
    assert np.all(np.isfinite(arr)), f"{what} is not finite: {arr}"
    return arr


def _per_sequence(out, X_len, lengths, what):
    """Per-frame output in list form: one ``(T_i, ...)`` block per sequence, all finite."""
    if isinstance(out, (list, tuple)):
        assert len(out) == X_len, what
        for o, t in zip(out, lengths):
            o = _finite(o, what)
            assert o.shape[0] == t, f"{what}: {o.shape} for a sequence of {t} frames"
        return out
    arr = _as_float_array(out)  # 3-D NaN-padded (padded input)
    assert arr.shape[0] == X_len, what
    for i, t in enumerate(lengths):
        _finite(arr[i, :t], what)
    return out


def check_outputs(name, est, X, lengths, n_fit=None):
    """Call every prediction method of a fitted ``est`` on ``X``: finite, right shape."""
    n = len(lengths)
    for method in METHODS:
        if not hasattr(est, method):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(est, method)(X)
        what = f"{name}.{method}"
        if name == "ASOTSegmenter":
            if method == "predict" and not isinstance(out, (list, tuple)):
                out = _finite(out, what)
                assert out.shape == (n,)
            else:
                _per_sequence(out, n, lengths, what)
            if method == "predict":
                labels = np.concatenate([np.ravel(np.asarray(o)) for o in out])
                assert labels.min() >= 0 and labels.max() < est.n_actions, what
            continue
        if name in ("EpisodicEncoder", "TAPMetricLearner") and method == "transform":
            _per_sequence(out, n, lengths, what)
            continue
        arr = _finite(out if method != "predict" else np.zeros(len(out)), what)
        if method == "predict":
            assert len(out) == n, what
            assert set(np.asarray(out).tolist()) <= set(est.classes_.tolist()), what
        elif method == "predict_proba":
            assert arr.shape == (n, len(est.classes_)), what
            np.testing.assert_allclose(arr.sum(1), 1.0, rtol=1e-5, err_msg=what)
            assert arr.min() >= 0, what
        elif method == "decision_function":
            k = len(est.classes_)
            assert arr.shape == ((n,) if k == 2 else (n, k)), what
        elif method == "transform":
            assert arr.shape[0] == n, what
            if name == "SequenceDistanceTransformer":
                assert arr.shape == (n, n_fit), what
                # soft-DTW and OTAM are soft minima of alignment costs: they can be < 0
                if est.metric not in ("soft_dtw", "otam"):
                    assert arr.min() >= -1e-6 * max(1.0, np.abs(arr).max()), what
    if is_classifier(est):
        score = est.score(X, est.predict(X))
        assert np.isfinite(score)


def fit_labels(n):
    """Two or three classes with at least two sequences each (EpisodicEncoder needs 2)."""
    k = 2 if n < 6 else 3
    return np.arange(n) % k


def _good(n=6, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((int(rng.integers(3, 7)), d)) for _ in range(n)]


_FITTED = {}


def fitted(name):
    """A fitted instance on a small valid set (cached; never mutated by the tests)."""
    if name not in _FITTED:
        X = _good()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITTED[name] = make(name).fit(X, fit_labels(len(X)))
    return _FITTED[name]


# ---------------------------------------------------------------------------
# malformed collections, deterministic (fit side and predict side)
# ---------------------------------------------------------------------------
def _with(i, item, d=2):
    X = _good(d=d)
    X[i] = item
    return X


def _malformed():
    obj = np.empty(2, dtype=object)
    obj[0] = np.empty(1, dtype=object)
    obj[0][0] = np.zeros((2, 2))
    obj[1] = np.zeros((2, 2))
    gap = np.random.default_rng(0).standard_normal((6, 5, 2))
    gap[2, 1] = np.nan
    all_nan = np.random.default_rng(0).standard_normal((6, 4, 2))
    all_nan[3] = np.nan
    t_nan = torch.randn(6, 4, 2, dtype=torch.float64)
    t_nan[1, 2, 0] = float("nan")
    return {
        "empty_list": ([], r"empty"),
        "empty_3d": (np.zeros((0, 3, 2)), r"empty"),
        "empty_2d": (np.zeros((0, 2)), r"empty"),
        "zero_length": (_with(2, np.zeros((0, 2))), r"zero length"),
        "zero_features": ([np.zeros((3, 0))] * 6, r"feature"),
        "nan_inside": (_with(1, np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 2.0]])), r"NaN"),
        "inf_inside": (_with(4, np.array([[0.0, 1.0], [1.0, np.inf]])), r"infinity"),
        "neg_inf_frame": (_with(0, np.full((1, 2), -np.inf)), r"infinity"),
        "mixed_dims": (_with(3, np.ones((4, 3))), r"features"),
        "nested_object": ([obj[0], obj[1]], r"nested|dimension"),
        "strings": ([np.array([["a", "b"], ["c", "d"]])] * 6, r"numeric"),
        "complex": ([np.ones((3, 2)) * 1j] * 6, r"complex"),
        "scalar_item": ([np.asarray(1.0)] + _good(5), r"scalar|dimension"),
        "three_d_item": (_with(0, np.zeros((2, 2, 2))), r"dimension"),
        "one_d_array": (np.ones(6), r"dimension"),
        "four_d_array": (np.ones((6, 2, 2, 2)), r"dimension"),
        "nan_gap_padded": (gap, r"padding"),
        "all_nan_padded": (all_nan, r"zero length"),
        "torch_nan": (t_nan, r"NaN"),
        "torch_1d": (torch.zeros(6), r"-D tensor|dimension"),
        "none": (None, r"None|numeric|sequence"),
    }


MALFORMED = _malformed()


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("name", SEQUENCE_ESTIMATORS)
def test_malformed_fit_raises_clean_error(name, kind):
    X, match = MALFORMED[kind]
    y = np.arange(6) % 2
    with pytest.raises((ValueError, TypeError)) as exc_info:
        make(name).fit(X, y)
    assert_clean(exc_info.value, match=match)


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("name", SEQUENCE_ESTIMATORS)
def test_malformed_predict_raises_clean_error(name, kind):
    X, match = MALFORMED[kind]
    est = fitted(name)
    for method in METHODS:
        if hasattr(est, method):
            with pytest.raises((ValueError, TypeError)) as exc_info:
                getattr(est, method)(X)
            assert_clean(exc_info.value, match=match)


@pytest.mark.parametrize("name", SEQUENCE_ESTIMATORS)
def test_feature_dim_differs_between_fit_and_predict(name):
    est = fitted(name)
    for method in METHODS:
        if hasattr(est, method):
            with pytest.raises(ValueError) as exc_info:
                getattr(est, method)(_good(3, d=3))
            assert_clean(exc_info.value, match=r"3 features.*expecting 2")


@pytest.mark.parametrize("name", SEQUENCE_ESTIMATORS)
def test_object_array_of_sequences_works(name):
    X = _good()
    obj = np.empty(len(X), dtype=object)
    for i, x in enumerate(X):
        obj[i] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make(name).fit(obj, fit_labels(len(X)))
    check_outputs(name, est, obj, [len(x) for x in X], n_fit=len(X))


# ---------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NEEDS_LABELS)
def test_single_class_raises(name):
    X = _good()
    with pytest.raises(ValueError) as exc_info:
        make(name).fit(X, np.zeros(len(X), dtype=int))
    assert_clean(exc_info.value, match=r"class")


# scikit-learn's type_of_target casts NaN labels to int while classifying them
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("name", NEEDS_LABELS)
@pytest.mark.parametrize("bad", ["short", "long", "nan", "none", "two_d", "continuous"])
def test_bad_labels_raise(name, bad):
    X = _good()
    y = {
        "short": np.arange(5) % 2,
        "long": np.arange(7) % 2,
        "nan": np.array([0.0, 1.0, np.nan, 0.0, 1.0, 0.0]),
        "none": None,
        "two_d": np.zeros((6, 2)),
        "continuous": np.linspace(0.1, 0.9, 6),
    }[bad]
    with pytest.raises(ValueError) as exc_info:
        make(name).fit(X, y)
    assert_clean(exc_info.value)


@pytest.mark.parametrize("name", NEEDS_LABELS)
def test_string_labels_work(name):
    X = _good()
    y = np.array(["walk", "run", "jump"])[fit_labels(len(X))]
    est = make(name).fit(X, y)
    check_outputs(name, est, X, [len(x) for x in X])
    if hasattr(est, "predict"):
        assert set(est.predict(X)) <= {"walk", "run", "jump"}


@pytest.mark.parametrize("name", sorted(set(SEQUENCE_ESTIMATORS) - set(NEEDS_LABELS)))
def test_unsupervised_estimators_ignore_y(name):
    X = _good()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make(name).fit(X)
    check_outputs(name, est, X, [len(x) for x in X], n_fit=len(X))


# ---------------------------------------------------------------------------
# random valid collections: extreme scales, dtypes, forms, constant/duplicate sequences
# ---------------------------------------------------------------------------
_DTYPES = [np.float64, np.float32, np.float16, np.int64]
_SCALES = [1e-8, 1e-4, 1.0, 1e4, 1e8]


@st.composite
def valid_problems(draw, max_len=8):
    """``(X_fit, y, X_pred, lengths_pred)``: a valid labelled set and a query set."""
    n = draw(st.integers(4, 7))
    d = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(_DTYPES))
    scale = draw(st.sampled_from(_SCALES))
    if dtype == np.float16:
        scale = min(max(scale, 1e-3), 1e4)  # float16 holds 6e-8 .. 65504
    kinds = draw(st.lists(st.sampled_from(["normal", "normal", "constant", "ramp", "zeros"]),
                          min_size=n + 2, max_size=n + 2))
    lens = draw(st.lists(st.integers(1, max_len), min_size=n + 2, max_size=n + 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def one(t, kind):
        x = sequence(rng, t, d, scale, kind)
        if dtype == np.int64:
            x = np.rint(x)
        return x.astype(dtype)

    seqs = [one(t, k) for t, k in zip(lens, kinds)]
    if draw(st.booleans()):  # duplicate sequences
        seqs[1] = seqs[0].copy()
    lens = [len(s) for s in seqs]
    X, Xq = seqs[:n], seqs[n:]
    form = draw(st.sampled_from(["list", "padded", "torch"]))
    if form == "padded" and dtype != np.int64:
        X = _pad_nan(X)
        Xq = _pad_nan(Xq)
    elif form == "torch":
        tdt = {np.float64: torch.float64, np.float32: torch.float32,
               np.float16: torch.float16, np.int64: torch.int64}[dtype]
        X = [torch.as_tensor(x, dtype=tdt) for x in X]
        Xq = [torch.as_tensor(x, dtype=tdt) for x in Xq]
    return X, fit_labels(n), Xq, lens[n:], lens[:n]


def _pad_nan(seqs):
    T = max(len(s) for s in seqs)
    dt = np.result_type(seqs[0].dtype, np.float32)
    out = np.full((len(seqs), T, seqs[0].shape[1]), np.nan, dtype=dt)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


def _may_refuse(name, est, lens_fit, exc):
    """The few documented refusals of valid data (each with its message)."""
    msg = str(exc)
    if name == "ASOTSegmenter" and sum(lens_fit) < est.n_actions:
        return "n_actions" in msg
    if name == "PCASubspacePooling" or name == "ACOTSubspacePooling":
        return "n_components" in msg
    if name == "SequenceNearestCentroid" or name == "CMOTNearestCentroid":
        return "prototype" in msg
    return False


@pytest.mark.parametrize("name", SEQUENCE_ESTIMATORS)
@_FAST
@given(problem=valid_problems())
def test_valid_collections_work(name, problem):
    X, y, Xq, lens_q, lens_fit = problem
    est = make(name)
    ok, res = clean_or_result(est.fit, X, y)
    if not ok:
        assert _may_refuse(name, est, lens_fit, res), f"{name} refused valid data: {res}"
        return
    check_outputs(name, est, Xq, lens_q, n_fit=len(lens_fit))
    check_outputs(name, est, X, lens_fit, n_fit=len(lens_fit))


# ---------------------------------------------------------------------------
# extreme and invalid hyper-parameters
# ---------------------------------------------------------------------------
_TINY, _HUGE = 1e-8, 1e8
_BAD_INTS = [0, -1, 2.5, True]
HYPERPARAMETERS = {
    "KNeighborsSequenceClassifier": dict(
        n_neighbors=[1, 3, 6, 7, 100, *_BAD_INTS], weights=["distance", "bad"],
        metric=["dtw", "sinkhorn", "cmot", "opw", "soft_dtw", "otam", "tcot", "emd",
                "mean_cosine", "local_knn", "bad"],
        block_size=[1, 0, -2]),
    "SequenceDistanceTransformer": dict(
        metric=["dtw", "sinkhorn", "cmot", "opw", "soft_dtw", "otam", "tcot", "bad", 3],
        block_size=[1, 0], metric_params=["bad", [1]]),
    "SequenceNearestCentroid": dict(
        metric=["dtw", "sinkhorn", "cmot", "soft_dtw", "bad", 3],
        class_distance=["prototype", "bad"], temperature=[_TINY, _HUGE, 0, -1, np.inf, np.nan],
        n_segments=[1, 2, 100, *_BAD_INTS], metric_params=["bad"]),
    "CMOTNearestCentroid": dict(
        alpha=[0, _TINY, _HUGE, -1, np.inf, np.nan], sigma=[_TINY, _HUGE, 0, np.inf],
        reg=[_TINY, _HUGE, 0, -1, np.nan], lambda_scale=[_TINY, _HUGE, 0],
        temperature=[_TINY, _HUGE, 0], distance=["regularized", "bad"],
        cost=["sqeuclidean", "cosine", "bad"], max_iter=[1, *_BAD_INTS], tol=[0, _HUGE, -1],
        n_segments=[1, 2, 100, 0], segment_weights=[[1, 1], [0, 0], [-1, 1]],
        class_distance=["prototype"]),
    "EpisodicEncoder": dict(
        metric=["sinkhorn", "soft_dtw", "mean_euclidean", "dtw", "bad"],
        metric_params=[{"alpha": _HUGE}, {"alpha": 0}, {"sigma": _TINY}, {"reg": _TINY},
                       {"reg": _HUGE}, {"lambda_scale": _TINY}, "bad"],
        hidden=[(), (0,), "ab", (2.5,)], n_components=[1, 100, 0], init=["whiten", "bad"],
        whiten_shrinkage=[0, _HUGE, -1], n_way=[2, 100, 1], n_shot=[2, 5, 0],
        n_query=[1, 100, 0], max_epochs=[1, 0], lr=[_HUGE, 1e-12, 0],
        optimizer=["sgd", "rmsprop", "bad"], lr_step_size=[1, 0], lr_gamma=[_TINY, 0],
        validation_fraction=[0.5, 0.99, 1.0, -0.1], patience=[1, 0], validate_every=[1, 0],
        learn_temperature=[False, "yes"]),
    "DeepEMDClassifier": dict(
        temperature=[_TINY, _HUGE, 0], shot_strategy=["mean", "nearest", "fusion", "bad"],
        weights=["uniform", "bad"], weight_eps=[0, _HUGE, -1], solver=["sinkhorn", "bad"],
        reg=[_TINY, _HUGE, 0], max_iter=[1, 0], max_epochs=[0, 10, -1],
        lr=[_HUGE, 1e-12, 0], lr_scale=[_HUGE, _TINY], batch_size=[1, 100, 0],
        sfc_init=["kmeans", "nodewise_mean", "bad"], center=[False, "x"]),
    "TAPMetricLearner": dict(
        loss=["hm", "lifted", "alignment", "bad"], hidden=[(), (0,)],
        lr=[_HUGE, 1e-12, 0], weight_decay=[_HUGE, -1], ssl_weight=[_HUGE, 0, -1],
        batch_size=[2, 100, 1], max_epochs=[1, 0], validation_fraction=[0.5, 0.9, 1.0],
        n_neighbors=[3, 100, 0], channels=[(), (3,), (0,)],
        kernel_sizes=[(1, 1, 1), (9, 9, 9), (), (0, 0, 0)], init=["identity", "bad"],
        standardize=["global", "per_sequence", True], augment=[False], l2_normalize=[False],
        patience=[1, 0]),
    "ASOTSegmenter": dict(
        n_actions=[1, 2, 8, 40, 10_000, 0, None], hidden=[(), (0,)], n_components=[1, 0],
        temperature=[_TINY, _HUGE, 0], alpha_train=[0, 0.999, 1.0],
        alpha_eval=[0, 0.999, 1.0], reg_train=[_TINY, _HUGE, 0], reg_eval=[_TINY, _HUGE, 0],
        lambda_train=[0, _TINY, _HUGE], lambda_eval=[0, _HUGE, -1], radius=[_TINY, 1.0, 0, 2],
        rho=[0, _HUGE], rho_eval=[0, _HUGE, -1], balanced=[True, "x"], max_iter=[1, 0],
        n_frames=[1, 1000, 0], batch_size=[1, 100, 0], max_epochs=[1, 0], lr=[_HUGE, 1e-12],
        weight_decay=[_HUGE, -1], init=["random", "bad"],
        standardize=["global", "per_sequence", True]),
    "ACOTSubspacePooling": dict(
        n_components=[2, 3, 0], negatives_per_frame=[1, 20, 0],
        noise_distribution=["uniform", "bad"], alpha=[0, _TINY, _HUGE, -1],
        beta_distortion=[0, _HUGE], beta_order=[0, _HUGE], eta=[0, _HUGE],
        order_loss=["squared_hinge", "bad"], cg_max_iter=[1, 0], outer_max_iter=[2, 0],
        reg=[_TINY, _HUGE, 0], use_ot=[False], normalize_frames=[False],
        activation=["identity", "bad"]),
    "MeanPooling": dict(normalize=[False, "x"]),
    "PCASubspacePooling": dict(n_components=[2, 3, 0], normalize_frames=[False, 1]),
    "RankPooling": dict(C=[_TINY, _HUGE, 0, np.inf], nonlinearity=["ssr", "bad"],
                        bidirectional=[True], normalize=[False]),
}
# metric_params drawn together with the metric they belong to
_METRIC_PARAMS = {
    "sinkhorn": [{"reg": _TINY}, {"reg": _HUGE}, {"reg": 0}, {"max_iter": 1},
                 {"unbalanced": _TINY}, {"unbalanced": _HUGE}, {"cost": "cosine"}],
    "cmot": [{"alpha": 0}, {"alpha": _HUGE}, {"sigma": _TINY}, {"sigma": _HUGE},
             {"reg": _TINY}, {"reg": _HUGE}, {"lambda_scale": _TINY}],
    "opw": [{"lambda1": _TINY}, {"lambda1": _HUGE}, {"reg": _TINY}, {"reg": _HUGE},
            {"delta": _TINY}, {"delta": _HUGE}, {"reg": 0}],
    "soft_dtw": [{"gamma": _TINY}, {"gamma": _HUGE}, {"gamma": 0}],
    "otam": [{"gamma": _TINY}, {"gamma": _HUGE}],
    "tcot": [{"reg": _HUGE}, {"reg": _TINY}],
    "local_knn": [{"n_neighbors": 100}, {"n_neighbors": 0}],
    "dtw": [{"bogus": 1}],
}
_DATA = {
    "normal": lambda rng: [rng.standard_normal((int(t), 2)) for t in rng.integers(2, 7, 6)],
    "tiny": lambda rng: [1e-8 * rng.standard_normal((int(t), 2)) for t in rng.integers(2, 7, 6)],
    "huge": lambda rng: [1e8 * rng.standard_normal((int(t), 2)) for t in rng.integers(2, 7, 6)],
    "constant": lambda rng: [np.full((int(t), 2), 3.0) for t in rng.integers(2, 7, 6)],
    "length_one": lambda rng: [rng.standard_normal((1, 2)) for _ in range(6)],
}


@st.composite
def hyperparameters(draw, name):
    grid = HYPERPARAMETERS[name]
    params = draw(st.fixed_dictionaries(
        {}, optional={k: st.sampled_from(v) for k, v in grid.items()}))
    metric = params.get("metric")
    if isinstance(metric, str) and metric in _METRIC_PARAMS and draw(st.booleans()):
        params["metric_params"] = draw(st.sampled_from(_METRIC_PARAMS[metric]))
    return params


@pytest.mark.parametrize("name", SEQUENCE_ESTIMATORS)
@settings(_FAST, max_examples=15)
@given(data=st.data())
def test_extreme_hyperparameters(name, data):
    params = data.draw(hyperparameters(name), label="params")
    kind = data.draw(st.sampled_from(sorted(_DATA)), label="data")
    X = _DATA[kind](np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed")))
    y = fit_labels(len(X))
    est = make(name, **params)
    ok, _ = clean_or_result(est.fit, X, y)
    if not ok:
        return
    lengths = [len(x) for x in X]
    for method in METHODS:  # each either works (checked below) or fails cleanly
        if hasattr(est, method):
            clean_or_result(getattr(est, method), X)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_outputs(name, est, X, lengths, n_fit=len(X))
    except (ValueError, TypeError) as exc:  # an invalid parameter only checked at predict
        assert_clean(exc)


# Extreme but valid settings must work: the grid test above accepts a clean refusal, so it
# alone could not catch a validator that wrongly rejects a legitimate value.
MUST_WORK = [
    ("CMOTNearestCentroid", {"alpha": 0.0}), ("CMOTNearestCentroid", {"alpha": _HUGE}),
    ("CMOTNearestCentroid", {"sigma": _TINY}), ("CMOTNearestCentroid", {"sigma": _HUGE}),
    ("CMOTNearestCentroid", {"reg": _HUGE}), ("CMOTNearestCentroid", {"temperature": _TINY}),
    ("CMOTNearestCentroid", {"temperature": _HUGE}),
    ("SequenceNearestCentroid", {"metric": "sinkhorn", "metric_params": {"reg": _TINY}}),
    ("SequenceNearestCentroid", {"metric": "sinkhorn", "metric_params": {"reg": _HUGE}}),
    ("KNeighborsSequenceClassifier", {"metric": "soft_dtw", "metric_params": {"gamma": _TINY}}),
    ("KNeighborsSequenceClassifier", {"metric": "soft_dtw", "metric_params": {"gamma": _HUGE}}),
    ("KNeighborsSequenceClassifier", {"metric": "opw", "metric_params": {"reg": _TINY}}),
    ("SequenceDistanceTransformer", {"metric": "otam", "metric_params": {"gamma": _HUGE}}),
    ("DeepEMDClassifier", {"temperature": _TINY}), ("DeepEMDClassifier", {"temperature": _HUGE}),
    ("ASOTSegmenter", {"alpha_eval": 0.0}), ("ASOTSegmenter", {"alpha_eval": 0.999}),
    ("ASOTSegmenter", {"reg_eval": _TINY}), ("ASOTSegmenter", {"reg_eval": _HUGE}),
    ("ASOTSegmenter", {"lambda_eval": 0.0}), ("ASOTSegmenter", {"lambda_eval": _HUGE}),
    ("ASOTSegmenter", {"rho_eval": _HUGE}), ("ASOTSegmenter", {"n_actions": 40, "init": "random"}),
]


@pytest.mark.parametrize("name, params", MUST_WORK,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}"
                              for n, p in MUST_WORK])
def test_extreme_valid_hyperparameters_work(name, params):
    X = _DATA["normal"](np.random.default_rng(0))
    est = make(name, **params).fit(X, fit_labels(len(X)))
    check_outputs(name, est, X, [len(x) for x in X], n_fit=len(X))


# ---------------------------------------------------------------------------
# regressions of failures found by the tests above
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["soft_dtw", "otam"])
def test_knn_distance_weights_refuse_negative_soft_dtw(metric):
    """soft-DTW/OTAM values can be negative: 1/d votes gave probabilities outside [0, 1].
    Signed metrics are refused at fit; a callable that returns a negative value, at predict."""
    from seqot.distances import pairwise_sequence_distances
    from seqot.neighbors import KNeighborsSequenceClassifier

    X = [np.full((t, 2), 3.0) for t in (2, 3, 4, 5, 6, 2)]
    y = fit_labels(6)
    with pytest.raises(ValueError) as exc_info:
        KNeighborsSequenceClassifier(3, metric=metric, weights="distance", device="cpu").fit(X, y)
    assert_clean(exc_info.value, match=r"soft\s+minimum|non-negative")

    def signed(xb, yb):  # the same values through a callable: only predict can see the sign
        return pairwise_sequence_distances(xb, yb, metric=metric)

    clf = KNeighborsSequenceClassifier(3, metric=signed, weights="distance",
                                       device="cpu").fit(X, y)
    for method in ("predict", "predict_proba"):
        with pytest.raises(ValueError) as exc_info:
            getattr(clf, method)(X)
        assert_clean(exc_info.value, match=r"non-negative distances")
    # uniform votes do not care about the sign
    proba = clf.set_params(weights="uniform").predict_proba(X)
    assert np.all(proba >= 0) and np.allclose(proba.sum(1), 1.0)


def test_knn_distance_weights_accept_rounding_below_zero():
    """mean_cosine of identical means was -2e-16: distance weights must read that as 0."""
    from seqot.neighbors import KNeighborsSequenceClassifier

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(4, 3)) for _ in range(4)] * 2
    y = np.array([0, 1, 0, 1] * 2)

    def rounded(xb, yb):  # exact zeros nudged below 0, as rounding does
        from seqot.distances import pairwise_sequence_distances

        D = pairwise_sequence_distances(xb, yb, metric="mean_euclidean")
        return torch.where(D == 0, torch.full_like(D, -2e-16), D)

    clf = KNeighborsSequenceClassifier(2, metric=rounded, weights="distance",
                                       device="cpu").fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), y)
    proba = clf.predict_proba(X)
    assert np.all(proba >= 0) and np.allclose(proba.sum(1), 1.0)


# ---------------------------------------------------------------------------
# specific edge cases
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("query_form", ["torch", "float16", "float32", "int", "padded", "rows"])
@pytest.mark.parametrize("name", SEQUENCE_ESTIMATORS)
def test_query_in_another_form_than_fit(name, query_form):
    """Fitted on float64 lists, queried with tensors, other dtypes, 3-D or 2-D arrays."""
    est = fitted(name)
    Xq = _good(3, seed=1)
    if query_form == "torch":
        Xq = [torch.as_tensor(x) for x in Xq]
    elif query_form == "float16":
        Xq = [x.astype(np.float16) for x in Xq]
    elif query_form == "float32":
        Xq = [x.astype(np.float32) for x in Xq]
    elif query_form == "int":
        Xq = [np.rint(3 * x).astype(np.int64) for x in Xq]
    elif query_form == "padded":
        Xq = _pad_nan(Xq)
    lengths = [len(x) for x in _good(3, seed=1)]
    if query_form == "rows":
        Xq = np.random.default_rng(1).standard_normal((3, 2))
        lengths = [1, 1, 1]
    check_outputs(name, est, Xq, lengths, n_fit=6)


@pytest.mark.parametrize("k", [6, 7, 100])
def test_knn_n_neighbors_vs_training_size(k):
    from seqot.neighbors import KNeighborsSequenceClassifier

    X = _good()
    clf = KNeighborsSequenceClassifier(k, device="cpu")
    if k <= len(X):
        check_outputs("KNeighborsSequenceClassifier", clf.fit(X, fit_labels(6)), X,
                      [len(x) for x in X])
    else:
        with pytest.raises(ValueError) as exc_info:
            clf.fit(X, fit_labels(6))
        assert_clean(exc_info.value, match=r"n_neighbors")


@pytest.mark.parametrize("init", ["kmeans", "random"])
def test_asot_more_actions_than_frames_of_a_video(init):
    """K larger than every video (but not than all frames together) still segments."""
    from seqot.segmentation import ASOTSegmenter

    X = [np.random.default_rng(i).standard_normal((3, 2)) for i in range(4)]
    seg = make("ASOTSegmenter", n_actions=8, init=init).fit(X)
    check_outputs("ASOTSegmenter", seg, X, [3] * 4)
    check_outputs("ASOTSegmenter", seg, [np.ones((1, 2))], [1])
    assert isinstance(seg, ASOTSegmenter)


def test_asot_more_actions_than_all_frames():
    X = [np.random.default_rng(i).standard_normal((2, 2)) for i in range(3)]
    with pytest.raises(ValueError) as exc_info:
        make("ASOTSegmenter", n_actions=7).fit(X)
    assert_clean(exc_info.value, match=r"n_actions")
    # random prototypes need no frames to start from
    seg = make("ASOTSegmenter", n_actions=7, init="random").fit(X)
    check_outputs("ASOTSegmenter", seg, X, [2] * 3)


def test_acot_adversarial_noise_labels():
    X = _good(4)
    est = make("ACOTSubspacePooling", noise="adversarial")
    with pytest.raises(ValueError) as exc_info:
        est.fit(X)
    assert_clean(exc_info.value, match=r"needs y")
    with pytest.raises(ValueError) as exc_info:
        est.fit(X, [0, 1, 0])
    assert_clean(exc_info.value, match=r"inconsistent")
    # the generator needs two classes (issue 17: one was accepted); string labels work
    with pytest.raises(ValueError) as exc_info:
        est.fit(X, np.zeros(4, dtype=int))
    assert_clean(exc_info.value, match=r"one class")
    U = est.fit(X, np.array(["a", "b", "a", "b"])).transform(X)
    assert _finite(U, "ACOT bases").shape == (4, 2, 1)


# ---------------------------------------------------------------------------
# GrassmannKernel: subspace bases, not sequences
# ---------------------------------------------------------------------------
def _bases(n=4, d=3, k=1, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((n, d, k)))[0]


def _grassmann_malformed():
    nan = _bases()
    nan[1, 0, 0] = np.nan
    inf = _bases()
    inf[0, 1, 0] = np.inf
    return {
        "empty_3d": (np.zeros((0, 3, 1)), r"0 sample|empty|minimum"),
        "empty_2d": (np.zeros((0, 3)), r"0 sample|empty|minimum"),
        "zero_d": (np.zeros((2, 0, 1)), r"d >= 1"),
        "nan": (nan, r"NaN"),
        "inf": (inf, r"infinity|NaN"),
        "not_orthonormal": (2.0 * _bases(), r"orthonormal"),
        "k_gt_d": (np.ones((2, 2, 3)), r"k <= d|orthonormal"),
        "one_d": (np.ones(3), r"2D|dimension"),
        "four_d": (np.ones((2, 3, 1, 1)), r"dim"),
        "strings": (np.array([["a", "b"]]), r"numeric|convert|string"),
        "complex": (_bases() * 1j, r"[Cc]omplex"),
        "ragged": ([[1.0, 0.0], [1.0]], r"array|sequence|inhomogeneous"),
        "flat_bad_norm": (np.full((2, 4), 0.3), r"infer k|n_components"),
    }


GRASSMANN_MALFORMED = _grassmann_malformed()


def _assert_clean_sklearn_ok(exc, match):
    """GrassmannKernel validates with scikit-learn's check_array: its errors are clean too."""
    assert isinstance(exc, (ValueError, TypeError)), repr(exc)
    where = raise_location(exc)
    assert (os.sep + "seqot" + os.sep in where or _SKLEARN_VALIDATION in where), where
    assert re_search(match, str(exc)), str(exc)


def re_search(pattern, text):
    import re

    return re.search(pattern, text, flags=re.IGNORECASE) is not None


@pytest.mark.parametrize("kind", sorted(GRASSMANN_MALFORMED))
def test_grassmann_malformed_bases(kind):
    from seqot.subspace import GrassmannKernel

    X, match = GRASSMANN_MALFORMED[kind]
    with pytest.raises((ValueError, TypeError)) as exc_info:
        GrassmannKernel().fit(X)
    _assert_clean_sklearn_ok(exc_info.value, match)
    gk = GrassmannKernel().fit(_bases())
    if kind != "k_gt_d":  # (2, 2, 3) is first refused for its d
        with pytest.raises((ValueError, TypeError)) as exc_info:
            gk.transform(X)
        _assert_clean_sklearn_ok(exc_info.value, match + r"|fitted on|features")


@pytest.mark.parametrize("name", ["GrassmannKernel"])
@_FAST
@given(kernel=st.sampled_from(["projection", "rbf"]),
       gamma=st.sampled_from([_TINY, 1e-3, 1.0, 1e3, _HUGE]),
       d=st.integers(1, 4), k=st.integers(1, 4), seed=st.integers(0, 2**16),
       flat=st.booleans(), dtype=st.sampled_from([np.float64, np.float32]))
def test_grassmann_kernel_extreme_gamma(name, kernel, gamma, d, k, seed, flat, dtype):
    from seqot.subspace import GrassmannKernel, bases_to_flat

    k = min(k, d)
    U = _bases(5, d, k, seed).astype(dtype)
    X = bases_to_flat(U) if flat else U
    gk = GrassmannKernel(kernel, gamma=gamma, n_components=k if flat else None)
    K = _finite(gk.fit_transform(X), "Gram")
    assert K.shape == (5, 5)
    Kq = _finite(gk.transform(X[:2]), "kernel")
    assert Kq.shape == (2, 5)
    tol = 1e-3 if dtype == np.float32 else 1e-9
    assert K.min() >= -tol and K.max() <= (k if kernel == "projection" else 1.0) + tol


# (the parameters' types and ranges: test_common's constraint-driven check)
@pytest.mark.parametrize("params, match", [
    (dict(n_components=2), r"n_components|k="),
])
def test_grassmann_n_components_must_match_the_bases(params, match):
    from seqot.subspace import GrassmannKernel

    with pytest.raises(ValueError) as exc_info:
        GrassmannKernel(**params).fit(_bases())
    assert_clean(exc_info.value, match=match)


# Invalid metric parameters used to pass fit and fail only at predict/transform time.
@pytest.mark.parametrize("name, params, match", [
    ("KNeighborsSequenceClassifier", {"metric": "dtw", "metric_params": {"gama": 1.0}},
     "metric_params"),
    ("KNeighborsSequenceClassifier", {"metric": "soft_dtw", "metric_params": {"gamma": -1.0}},
     "gamma"),
    ("SequenceDistanceTransformer", {"metric": "sinkhorn", "metric_params": {"reg": 0.0}},
     "reg"),
    ("SequenceNearestCentroid", {"metric": "opw", "metric_params": {"foo": 1}},
     "metric_params"),
    ("CMOTNearestCentroid", {"distance": "nonsense"}, "distance"),
    ("CMOTNearestCentroid", {"cost": "manhattan"}, "cost"),
    ("CMOTNearestCentroid", {"max_iter": 0}, "max_iter"),
    ("CMOTNearestCentroid", {"tol": -1.0}, "tol"),
])
def test_invalid_metric_params_fail_at_fit(name, params, match):
    est = dict(all_estimators())[name](**{**TEST_PARAMS.get(name, {}), **params})
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(t, 2)) for t in (3, 4, 5, 6)]
    y = np.array([0, 0, 1, 1])
    with pytest.raises((ValueError, TypeError), match=match) as exc_info:
        est.fit(X, y)
    assert_clean(exc_info.value)


def test_knn_distance_weights_negative_check_survives_infinite_distances():
    """An infinite neighbour distance made the rounding tolerance infinite, so a clearly
    negative distance was taken as an exact match."""
    from seqot.neighbors import KNeighborsSequenceClassifier

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(3, 2)) for _ in range(6)]
    y = np.array([0, 1] * 3)

    def metric(xb, yb):
        D = torch.ones((xb.n_sequences, yb.n_sequences), dtype=torch.float64)
        D[:, :1] = -5.0
        D[:, 1:2] = float("inf")
        return D

    clf = KNeighborsSequenceClassifier(6, metric=metric, weights="distance",
                                       device="cpu").fit(X, y)
    with pytest.raises(ValueError) as exc_info:
        clf.predict_proba(X[:1])
    assert_clean(exc_info.value, match="non-negative distances")


def test_metric_dry_run_keeps_errors_raised_inside_a_user_metric():
    """A TypeError from a bug inside a callable metric is the user's error, not a
    metric_params mismatch: it must surface unchanged."""
    from seqot.neighbors import KNeighborsSequenceClassifier

    def buggy(xb, yb):
        return torch.cat(3, 4)  # a TypeError inside the metric

    X = [np.ones((3, 2)), np.zeros((3, 2))]
    with pytest.raises(TypeError, match="cat"):
        KNeighborsSequenceClassifier(1, metric=buggy, device="cpu").fit(X, [0, 1])
