"""Property-based tests of seqot's public functions: segmentation metrics and decoders,
few-shot episodes, Grassmann kernels and ACOT's subspace maths, data generators and the
shared torch parts.

Contract (see ``_hypothesis_utils``): every call returns finite, correct output of the
right shape, or raises a clean ``ValueError``/``TypeError`` from seqot naming the problem.
"""

import numpy as np
import pytest
import torch
from _hypothesis_utils import assert_clean_error, assert_finite, raises_clean, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

from seqot.datasets import (
    make_japanese_vowels_videos,
    make_order_only_sequences,
    make_reversal_tasks,
    make_segmented_sequences,
    make_warped_sequences,
)
from seqot.fewshot import EpisodeSampler, SequenceNearestCentroid, evaluate_episodes
from seqot.nn import FrameMLP, build_frame_mlp, make_optimizer, train
from seqot.segmentation import (
    aggregate_over_activities,
    asot_segment,
    edit_score,
    f1_unsup_score,
    hungarian_match,
    miou_score,
    mof_score,
    segmental_f1_score,
    segmentation_scores,
    viterbi_segment,
)
from seqot.subspace import (
    acot_closed_form,
    acot_cost,
    acot_subspace,
    bases_to_flat,
    grassmann_kernel,
    random_negatives,
)


# ===========================================================================
# segmentation metrics
# ===========================================================================
SCORE_FNS = [mof_score, miou_score, f1_unsup_score, segmental_f1_score, edit_score]
ALL_METRIC_FNS = SCORE_FNS + [segmentation_scores, hungarian_match]


@st.composite
def label_videos(draw, max_videos=4, max_len=15, max_classes=4, background=False):
    """``(y_true, y_pred)``: lists of 1-D int label arrays of equal lengths pairwise."""
    n = draw(st.integers(1, max_videos))
    rng = np.random.default_rng(draw(seeds))
    n_true = draw(st.integers(1, max_classes))
    n_pred = draw(st.integers(1, max_classes + 2))
    low = -1 if background else 0
    y_true, y_pred = [], []
    for _ in range(n):
        t = draw(st.integers(1, max_len))
        # piecewise-constant GT, like real videos, plus noisy predictions
        bounds = np.sort(rng.integers(0, t, size=rng.integers(0, 4)))
        seg = np.searchsorted(bounds, np.arange(t), side="right")
        y_true.append(rng.integers(low, n_true, size=seg.max() + 1)[seg])
        y_pred.append(rng.integers(0, n_pred, size=t) * draw(st.sampled_from([1, 3])))
    if background and all(np.all(t == -1) for t in y_true):
        y_true[0][0] = 0
    return y_true, y_pred


def _check_scores(scores):
    for key, value in scores.items():
        if key in ("n_frames", "n_videos"):
            assert isinstance(value, int) and value >= 1
        else:
            assert np.isfinite(value) and 0.0 <= value <= 1.0, (key, value)


@settings(max_examples=25)
@given(data=label_videos(), matching=st.sampled_from(["global", "per_video", None]))
def test_metric_scores_in_unit_interval(data, matching):
    y_true, y_pred = data
    for fn in SCORE_FNS:
        value = fn(y_true, y_pred, matching=matching)
        assert np.isfinite(value) and 0.0 <= value <= 1.0, (fn.__name__, value)
    _check_scores(segmentation_scores(y_true, y_pred, matching=matching))


@settings(max_examples=15)
@given(data=label_videos(background=True), matching=st.sampled_from(["global", "per_video"]))
def test_metric_scores_with_background(data, matching):
    y_true, y_pred = data
    try:
        scores = segmentation_scores(y_true, y_pred, matching=matching, background=-1)
    except ValueError as exc:  # every frame background
        assert_clean_error(exc, match="background|no frames")
        return
    _check_scores(scores)


@settings(max_examples=20)
@given(data=label_videos(), seed=seeds)
def test_perfect_prediction_up_to_permutation_scores_one(data, seed):
    y_true, _ = data
    classes = np.unique(np.concatenate(y_true))
    perm = np.random.default_rng(seed).permutation(classes.size) * 7 + 100
    y_pred = [perm[np.searchsorted(classes, t)] for t in y_true]
    scores = segmentation_scores(y_true, y_pred)
    for key in ("mof", "miou", "f1@10", "f1@25", "f1@50", "edit"):
        assert scores[key] == pytest.approx(1.0), key
    assert f1_unsup_score(y_true, y_pred, matching="per_video") == pytest.approx(1.0)
    mapping, mapped = hungarian_match(y_true, y_pred)
    for t, m in zip(y_true, mapped):
        np.testing.assert_array_equal(t, m)


@settings(max_examples=20)
@given(data=label_videos(), seed=seeds, matching=st.sampled_from(["global", "per_video"]))
def test_scores_invariant_to_relabelling_clusters(data, seed, matching):
    y_true, y_pred = data
    ids = np.unique(np.concatenate(y_pred))
    new = np.random.default_rng(seed).permutation(ids.size) + 50
    relabelled = [new[np.searchsorted(ids, p)] for p in y_pred]
    a = segmentation_scores(y_true, y_pred, matching=matching)
    b = segmentation_scores(y_true, relabelled, matching=matching)
    for key in a:
        assert a[key] == pytest.approx(b[key]), key


def test_miou_invariant_to_relabelling_with_tied_matchings():
    # Matching A->1, B->0 and A->0, B->1 both cover 2 frames: linear_sum_assignment broke the
    # tie by cluster id, so relabelling the clusters changed mIoU (1/3 vs 1/4) and edit.
    y_true = [np.array([1, 1, 0, 1])]
    a = segmentation_scores(y_true, [np.array([1, 0, 1, 1])])
    b = segmentation_scores(y_true, [np.array([0, 1, 0, 0])])
    assert a == pytest.approx(b)
    assert hungarian_match(y_true, [np.array([1, 0, 1, 1])])[0] == {1: 1}


METRIC_MALFORMED = {
    "length_mismatch": ([np.array([0, 1, 1])], [np.array([0, 1])], r"frames"),
    "video_count_mismatch": ([np.array([0, 1])], [np.array([0, 1]), np.array([1])], r"videos"),
    "empty_video": ([np.array([], int)], [np.array([], int)], r"no frames"),
    "empty_lists": ([], [], r"empty"),
    "non_integer_floats": ([np.array([0.5, 1.0])], [np.array([0, 1])], r"integer"),
    "nan_labels": ([np.array([np.nan, 1.0])], [np.array([0, 1])], r"NaN"),
    "inf_labels": ([np.array([np.inf, 1.0])], [np.array([0, 1])], r"NaN|infinity"),
    "negative_labels": ([np.array([-2, 1])], [np.array([0, 1])], r"negative"),
    "string_labels": ([np.array(["a", "b"])], [np.array(["a", "b"])], r"integer"),
    "bool_labels": ([np.array([True, False])], [np.array([0, 1])], r"integer"),
    "two_d_video": ([np.zeros((2, 2), int)], [np.zeros((2, 2), int)], r"1-D"),
    "two_d_array": (np.zeros((2, 2), int), np.zeros((2, 2), int), r"1-D"),
    "scalar": (3, 3, r"1-D"),
    "mixed_scalars_and_videos": ([0, [1]], [0, [1]], r"mixes"),
    "huge_float_labels": ([np.array([1e30, 0.0])], [np.array([0, 1])], r"64-bit"),
    "huge_uint_labels": ([np.array([2**63, 0], dtype=np.uint64)], [np.array([0, 1])],
                         r"64-bit"),
}


@pytest.mark.parametrize("kind", sorted(METRIC_MALFORMED))
@pytest.mark.parametrize("fn", ALL_METRIC_FNS, ids=lambda f: f.__name__)
def test_metric_malformed_labels(fn, kind):
    y_true, y_pred, match = METRIC_MALFORMED[kind]
    raises_clean(match, fn, y_true, y_pred)


@pytest.mark.parametrize("fn", ALL_METRIC_FNS, ids=lambda f: f.__name__)
def test_metric_float_labels_and_single_label_work(fn):
    out = fn([np.array([0.0, 1.0, 1.0])], [np.array([2.0, 5.0, 5.0])])
    assert out is not None
    out = fn([np.zeros(5, int)], [np.zeros(5, int)])
    if fn is not hungarian_match:
        value = out["mof"] if isinstance(out, dict) else out
        assert value == pytest.approx(1.0)


# plain bad values of the metrics' parameters are driven by their declared constraints in
# tests/test_segmentation_metrics.py; what remains is the element check of a collection
@pytest.mark.parametrize("kwargs, match", [
    (dict(background=[[1]]), r"background"), (dict(background=[0, "a"]), r"background"),
    (dict(background=[True]), r"background"),
])
@pytest.mark.parametrize("fn", ALL_METRIC_FNS, ids=lambda f: f.__name__)
def test_metric_bad_parameters(fn, kwargs, match):
    raises_clean(match, fn, [0, 1, 1], [1, 0, 0], **kwargs)


def test_metric_every_frame_background_raises():
    for fn in SCORE_FNS + [segmentation_scores]:
        raises_clean(r"background", fn, [np.array([-1, -1])], [np.array([0, 0])],
                      background=-1)


@pytest.mark.parametrize("overlaps", [(np.nan,), (0.1, 0.0), (0.5, True)])
def test_segmentation_scores_bad_overlaps(overlaps):
    # the thresholds inside the sequence (the constraint only says array-like)
    raises_clean(r"overlaps", segmentation_scores, [0, 1], [1, 0], overlaps=overlaps)


def test_f1_sampled_takes_a_generator():
    gen = np.random.default_rng(0)
    assert 0 <= f1_unsup_score([0, 1, 1], [1, 0, 0], method="sampled", random_state=gen) <= 1


def test_huge_labels_are_rejected_not_wrapped():
    # 1e30 used to be cast to int64 with a RuntimeWarning, 2**63 to wrap to a negative label
    raises_clean(r"64-bit", mof_score, [np.array([1e30, 0.0])], [np.array([0, 1])])
    raises_clean(r"64-bit", mof_score, [np.array([2**63, 0], dtype=np.uint64)],
                  [np.array([0, 1])])
    assert mof_score([np.array([2**62, 0])], [np.array([0, 2**62])]) == 1.0


@pytest.mark.parametrize("scores, match", [
    ([], r"empty"), ({}, r"empty"), (None, r"scores|iterable|NoneType"),
    ([1, 2], r"dict"), ("ab", r"dict"),
    ([{"mof": 0.5}], r"n_frames"), ([{"mof": 0.5, "n_frames": 0}], r"positive"),
    ([{"mof": 0.5, "n_frames": 10}, {"mof": 1.0}], r"keys"),
    ([{"mof": "a", "n_frames": 3}], r"finite number"),
    ([{"mof": np.nan, "n_frames": 3}], r"finite number"),
    ([{"mof": np.inf, "n_frames": 3}], r"finite number"),
    ([{"mof": 0.5, "n_frames": np.inf}], r"finite number"),
    ([{"mof": 0.5, "n_frames": np.nan}], r"finite number"),
    ([{"mof": 0.5, "n_frames": 3.5}], r"count"),
    ([{"f1": 0.5, "n_videos": -1}], r"count"),
])
def test_aggregate_over_activities_malformed(scores, match):
    raises_clean(match, aggregate_over_activities, scores)


@settings(max_examples=15)
@given(data=st.lists(label_videos(), min_size=1, max_size=3),
       weighting=st.sampled_from(["default", "frames", "unweighted"]))
def test_aggregate_over_activities_valid(data, weighting):
    per = {f"a{i}": segmentation_scores(t, p) for i, (t, p) in enumerate(data)}
    out = aggregate_over_activities(per, weighting=weighting)
    assert set(out) == set(next(iter(per.values())))
    for key, value in out.items():
        lo = min(s[key] for s in per.values())
        hi = max(s[key] for s in per.values())
        if key in ("n_frames", "n_videos"):
            assert value == sum(s[key] for s in per.values())
        else:
            assert lo - 1e-12 <= value <= hi + 1e-12


# ===========================================================================
# segmentation decoders
# ===========================================================================
@st.composite
def cost_matrices(draw, max_n=12, max_k=5):
    n, k = draw(st.integers(1, max_n)), draw(st.integers(1, max_k))
    rng = np.random.default_rng(draw(seeds))
    scale = draw(st.sampled_from([1e-8, 1e-2, 1.0, 1e3, 1e100, 1e300]))
    kind = draw(st.sampled_from(["random", "random", "constant", "negative"]))
    C = rng.random((n, k))
    if kind == "constant":
        C[:] = C[0, 0]
    elif kind == "negative":
        C -= 1.0
    return C * scale


def _check_labels(labels, n, k):
    labels = np.asarray(labels)
    assert labels.shape == (n,) and labels.dtype.kind in "iu"
    assert labels.min() >= 0 and labels.max() < k


@settings(max_examples=20)
@given(C=cost_matrices(), temperature=st.sampled_from([1e-300, 1e-3, 0.1, 10.0, 1e300]),
       stay=st.sampled_from([None, 1e-9, 0.5, 1 - 1e-9]))
def test_viterbi_labels_in_range(C, temperature, stay):
    labels = viterbi_segment(C, temperature=temperature, stay_probability=stay)
    _check_labels(labels, *C.shape)


@settings(max_examples=15)
@given(C=cost_matrices(max_n=10),
       params=st.fixed_dictionaries({"alpha": st.sampled_from([0.0, 0.3, 0.9]),
                                     "reg": st.sampled_from([1e-3, 0.04, 10.0]),
                                     "balanced": st.booleans(),
                                     "max_iter": st.sampled_from([1, 5])}))
def test_asot_segment_labels_in_range(C, params):
    if np.abs(C).max() > 1e100:  # asot rejects costs it cannot normalise; checked below
        return
    labels, plan = asot_segment(C, return_plan=True, **params)
    _check_labels(labels, *C.shape)
    assert_finite(plan, "plan")


def test_decoders_list_of_videos():
    rng = np.random.default_rng(0)
    costs = [rng.random((5, 3)), rng.random((1, 3)), rng.random((2, 3))]
    for fn in (asot_segment, viterbi_segment):
        out = fn(costs)
        assert len(out) == 3
        for c, lab in zip(costs, out):
            _check_labels(lab, *c.shape)


def test_decoders_more_actions_than_frames_and_one_action():
    rng = np.random.default_rng(1)
    for fn in (asot_segment, viterbi_segment):
        _check_labels(fn(rng.random((2, 6))), 2, 6)
        _check_labels(fn(rng.random((4, 1))), 4, 1)
        _check_labels(fn(rng.random((1, 3))), 1, 3)


_C = np.random.default_rng(0).random((6, 3))
DECODER_MALFORMED = {
    "nan": (np.where(np.eye(6, 3) > 0, np.nan, _C), r"NaN"),
    "inf": (np.where(np.eye(6, 3) > 0, np.inf, _C), r"NaN|infinite"),
    "zero_frame_video": ([_C, np.zeros((0, 3))], r"frames|non-empty|N = 0"),
    "empty_list": ([], r"empty"),
    "one_d": (_C[0], r"matrix|shape"),
    "no_actions": (np.zeros((3, 0)), r"K = 0|non-empty|action"),
    "strings": (np.array([["a", "b"]]), r"numeric"),
    "none": (np.array([[None]]), r"None|numeric"),
    "complex": (_C * 1j, r"[Cc]omplex"),
}


@pytest.mark.parametrize("kind", sorted(DECODER_MALFORMED))
@pytest.mark.parametrize("fn", [asot_segment, viterbi_segment], ids=lambda f: f.__name__)
def test_decoder_malformed_costs(fn, kind):
    C, match = DECODER_MALFORMED[kind]
    raises_clean(match, fn, C)


def test_viterbi_huge_cost_range_does_not_overflow():
    # -C / temperature used to overflow (RuntimeWarning) and give NaN emissions
    labels = viterbi_segment(np.array([[1e308, -1e308], [0.0, 1.0]]))
    _check_labels(labels, 2, 2)
    assert labels[0] == 1
    C = np.random.default_rng(0).random((6, 3))
    np.testing.assert_array_equal(viterbi_segment(C * 1e300, temperature=1e-10),
                                  C.argmin(1))


def test_viterbi_complex_and_non_numeric_cost_are_clean_errors():
    raises_clean(r"[Cc]omplex", viterbi_segment, np.ones((3, 2)) * 1j)
    raises_clean(r"cost is not numeric", viterbi_segment, np.array([["a", "b"]]))


# plain bad values of viterbi_segment's and asot_segment's parameters are driven by their
# declared constraints in tests/test_segmenter.py


# ===========================================================================
# few-shot episodes
# ===========================================================================
@st.composite
def episode_problems(draw):
    n_classes = draw(st.integers(2, 6))
    sizes = draw(st.lists(st.integers(1, 6), min_size=n_classes, max_size=n_classes))
    y = np.repeat(np.arange(n_classes), sizes)
    if draw(st.booleans()):
        y = np.array([f"c{v}" for v in y])
    y = y[np.random.default_rng(draw(seeds)).permutation(y.size)]
    params = dict(n_way=draw(st.integers(2, 4)), n_shot=draw(st.integers(1, 3)),
                  n_query=draw(st.integers(1, 3)), n_episodes=draw(st.integers(1, 4)),
                  random_state=draw(seeds))
    return y, params


@settings(max_examples=25)
@given(problem=episode_problems())
def test_episode_sampler_valid_or_clean(problem):
    y, params = problem
    sampler = EpisodeSampler(**params)
    classes, counts = np.unique(y, return_counts=True)
    need = params["n_shot"] + params["n_query"]
    if (counts >= need).sum() < params["n_way"]:
        raises_clean(r"classes", lambda: list(sampler.split(None, y)))
        return
    episodes = list(sampler.split(None, y))
    assert len(episodes) == params["n_episodes"] == sampler.get_n_splits()
    for support, query in episodes:
        assert support.size == params["n_way"] * params["n_shot"]
        assert query.size == params["n_way"] * params["n_query"]
        assert not set(support) & set(query)
        assert len(set(support)) == support.size and len(set(query)) == query.size
        assert set(y[support]) == set(y[query]) and len(set(y[support])) == params["n_way"]
        for c in set(y[support]):
            assert (y[support] == c).sum() == params["n_shot"]
            assert (y[query] == c).sum() == params["n_query"]
    again = list(EpisodeSampler(**params).split(None, y))
    for (s1, q1), (s2, q2) in zip(episodes, again):
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(q1, q2)


_Y = np.repeat(np.arange(4), 3)


# the parameters' own constraints: tests/test_episodes.py (every constraint violated once)
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_way=5), r"classes"), (dict(n_shot=2, n_query=2), r"classes"),
])
def test_episode_sampler_bad_parameters(kwargs, match):
    sampler = EpisodeSampler(**{**dict(n_way=2, n_shot=1, n_query=1, n_episodes=2), **kwargs})
    raises_clean(match, lambda: list(sampler.split(None, _Y)))


@pytest.mark.parametrize("y, match", [
    (np.zeros(12), r"classes"), (_Y.reshape(3, 4), r"1-D"), (_Y[:, None], r"1-D"),
    (np.array([]), r"classes"), (np.array([np.nan] * 6 + [1.0] * 6), r"NaN"),
    (np.array([1, "a"] * 6, dtype=object), r"sorted|type"), (None, r"needs the labels"),
    (3, r"1-D"), ([[1], [1, 2]], r"1-D|labels"),
])
def test_episode_sampler_bad_labels(y, match):
    sampler = EpisodeSampler(n_way=2, n_shot=1, n_query=1, n_episodes=1, random_state=0)
    raises_clean(match, lambda: list(sampler.split(None, y)))


def test_episode_sampler_accepts_generator_random_state():
    # a numpy Generator used to fail inside scikit-learn's check_random_state
    sampler = EpisodeSampler(n_way=2, n_shot=1, n_query=1, n_episodes=3,
                             random_state=np.random.default_rng(0))
    assert len(list(sampler.split(None, _Y))) == 3


def _episode_data():
    X = [np.random.default_rng(i).random((3, 2)) + (i % 4) for i in range(12)]
    return X, np.arange(12) % 4


def test_evaluate_episodes_valid():
    X, y = _episode_data()
    res = evaluate_episodes(SequenceNearestCentroid(), X, y,
                            EpisodeSampler(n_way=2, n_shot=1, n_query=1, n_episodes=3,
                                           random_state=0))
    assert 0.0 <= res.mean <= 1.0 and np.isfinite(res.ci95) and res.scores.shape == (3,)


# estimator, sampler, n_jobs, verbose: evaluate_episodes' constraints, tests/test_episodes.py
@pytest.mark.parametrize("case, match", [
    ("y_short", r"examples|labels"), ("X_short", r"examples|labels"),
])
def test_evaluate_episodes_bad_input(case, match):
    X, y = _episode_data()
    est = SequenceNearestCentroid()
    sampler = EpisodeSampler(n_way=2, n_shot=1, n_query=1, n_episodes=2, random_state=0)
    kwargs = {}
    if case == "y_short":
        y = y[:6]  # used to run on the first 6 labels silently
    elif case == "X_short":
        X = X[:5]  # used to raise IndexError
    raises_clean(match, evaluate_episodes, est, X, y, sampler, **kwargs)


# ===========================================================================
# Grassmann kernels and ACOT's subspace maths
# ===========================================================================
def _bases(n, d, k, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((n, d, k)))[0]


@settings(max_examples=20)
@given(n1=st.integers(1, 4), n2=st.integers(1, 4), d=st.integers(1, 5), k=st.integers(1, 5),
       seed=seeds, kernel=st.sampled_from(["projection", "rbf"]),
       gamma=st.sampled_from([1e-300, 1e-3, 1.0, 1e3, 1e300]), flat=st.booleans())
def test_grassmann_kernel_function_valid(n1, n2, d, k, seed, kernel, gamma, flat):
    k = min(k, d)
    A, B = _bases(n1, d, k, seed), _bases(n2, d, k, seed + 1)
    if flat:
        A, B = bases_to_flat(A), bases_to_flat(B)
    K = assert_finite(grassmann_kernel(A, kernel=kernel, gamma=gamma,
                                       n_components=k if flat else None), "Gram")
    assert K.shape == (n1, n1)
    np.testing.assert_allclose(K, K.T, atol=0)
    assert np.linalg.eigvalsh(K).min() >= -1e-8 * max(1.0, np.abs(K).max())
    top = k if kernel == "projection" else 1.0
    assert K.min() >= -1e-9 and K.max() <= top + 1e-9
    K12 = assert_finite(grassmann_kernel(A, B, kernel=kernel, gamma=gamma,
                                         n_components=k if flat else None), "kernel")
    assert K12.shape == (n1, n2)


_U = _bases(3, 4, 2, 0)
_Unan = _U.copy()
_Unan[0, 0, 0] = np.nan
GRASSMANN_FN_MALFORMED = {
    "nan": (_Unan, r"NaN"),
    "inf": (_U * np.inf, r"NaN|infinity"),
    "empty": (np.zeros((0, 4, 2)), r"0 sample|empty|minimum"),
    "k_gt_d": (np.ones((2, 2, 3)), r"k <= d"),
    "strings": (np.array([["a"]]), r"numeric"),
    "complex": (_U * 1j, r"[Cc]omplex"),
    "one_d": (np.ones(3), r"dimension"),
    "none": (None, r"None|dimension"),
    "object_none": (np.array([[None, 1.0]]), r"None"),
    "ragged": ([[1.0], [1.0, 2.0]], r"array"),
    "flat_nan": (np.full((2, 4), np.nan), r"NaN"),
    "not_orthonormal": (2 * _U, r"orthonormal"),
}


@pytest.mark.parametrize("kind", sorted(GRASSMANN_FN_MALFORMED))
def test_grassmann_kernel_function_malformed(kind):
    U, match = GRASSMANN_FN_MALFORMED[kind]
    raises_clean(match, grassmann_kernel, U)
    if U is not None:  # U2=None means U1
        raises_clean(match + r"|U2", grassmann_kernel, _U, U, kernel="rbf")


def test_grassmann_kernel_nan_is_a_clean_seqot_error():
    # used to be scikit-learn's "Input U1 contains NaN" raised inside check_array
    raises_clean(r"U1 contains NaN", grassmann_kernel, _Unan)


def test_grassmann_kernel_huge_unchecked_bases_do_not_overflow():
    # check_orthonormal=False with entries ~1e200 used to overflow in matmul
    raises_clean(r"overflow", grassmann_kernel, _U * 1e200, check_orthonormal=False)
    K = assert_finite(grassmann_kernel(_U * 1e3, check_orthonormal=False, kernel="rbf"))
    assert K.shape == (3, 3)


def test_grassmann_kernel_function_n_components_must_match_the_bases():
    # semantic (the parameters' types and ranges: tests/test_subspace_kernels.py)
    raises_clean(r"n_components", grassmann_kernel, _U, n_components=3)


def _orthonormal(U, k):
    assert_finite(U, "basis")
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-6)


@st.composite
def frame_matrices(draw, max_d=5, max_n=8):
    d, n = draw(st.integers(1, max_d)), draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(seeds))
    kind = draw(st.sampled_from(["normal", "normal", "constant", "zeros", "rank_one"]))
    scale = draw(st.sampled_from([1e-8, 1.0, 1e4, 1e50]))
    if kind == "constant":
        X = np.repeat(rng.standard_normal((d, 1)), n, axis=1)
    elif kind == "zeros":
        X = np.zeros((d, n))
    elif kind == "rank_one":
        X = rng.standard_normal((d, 1)) @ rng.random((1, n))
    else:
        X = rng.standard_normal((d, n))
    k = draw(st.integers(1, d))
    return X * scale, k, draw(seeds)


@settings(max_examples=12)
@given(problem=frame_matrices(), use_ot=st.booleans(),
       reg=st.sampled_from([None, 0.1]), per_frame=st.integers(1, 2))
def test_acot_subspace_orthonormal(problem, use_ot, reg, per_frame):
    X, k, seed = problem
    Y = random_negatives(X, np.random.default_rng(seed), per_frame=per_frame)
    assert Y.shape == (X.shape[0], per_frame * X.shape[1])
    assert_finite(Y, "negatives")
    U, costs = acot_subspace(X, Y, k, use_ot=use_ot, reg=reg, cg_max_iter=3)
    assert U.shape == (X.shape[0], k)
    _orthonormal(U, k)
    assert len(costs) >= 1
    assert_finite(costs, "costs")
    Uc = acot_closed_form(X, Y[:, : X.shape[1]], k)
    _orthonormal(Uc, k)
    assert np.isfinite(acot_cost(U, X, Y[:, : X.shape[1]]))


def test_acot_k_greater_than_d_raises():
    # used to return a (d, d) basis instead of (d, k)
    X = np.random.default_rng(0).standard_normal((4, 6))
    Y = random_negatives(X, np.random.default_rng(0))
    raises_clean(r"k=5 exceeds", acot_subspace, X, Y, 5)
    raises_clean(r"k=5 exceeds", acot_closed_form, X, Y[:, :6], 5)


def test_acot_nan_frames_raise():
    # used to be numpy's LinAlgError "SVD did not converge"
    X = np.full((4, 6), np.nan)
    Y = np.ones((4, 12))
    raises_clean(r"X contains NaN", acot_subspace, X, Y, 2)
    raises_clean(r"X contains NaN", acot_closed_form, X, Y[:, :6], 2)
    raises_clean(r"X contains NaN", random_negatives, X, np.random.default_rng(0))


_X = np.random.default_rng(0).standard_normal((4, 6))
_YN = random_negatives(_X, np.random.default_rng(0))


# (the parameters' types and ranges: tests/test_acot.py's constraint-driven test)
@pytest.mark.parametrize("args, kwargs, match", [
    ((_X, _YN[:3], 2), {}, r"rows"), ((_X, _YN[0], 2), {}, r"2-D"),
    ((_X, np.zeros((4, 0)), 2), {}, r"column"), ((np.zeros((4, 0)), _YN, 2), {}, r"column"),
    ((_X * 1e200, _YN, 2), {}, r"overflow|Rescale"), ((_X * 1j, _YN, 2), {}, r"[Cc]omplex"),
    ((_X, _YN[:, :7], 2), dict(use_ot=False), r"use_ot=False"),
])
def test_acot_subspace_bad_input(args, kwargs, match):
    raises_clean(match, acot_subspace, *args, **kwargs)


@pytest.mark.parametrize("X, rng, match", [
    (_X[0], 0, r"2-D"), (np.zeros((0, 6)), 0, r"zero"),
    (np.array([["a"]]), 0, r"numeric"), (_X.tolist(), 0, None),
])
def test_random_negatives_input(X, rng, match):
    if match is None:
        assert_finite(random_negatives(X, rng), "negatives")
    else:
        raises_clean(match, random_negatives, X, rng)


def test_acot_cost_shapes():
    U = acot_closed_form(_X, _X, 2)
    assert np.isfinite(acot_cost(U, _X, _X))
    raises_clean(r"Y_hat", acot_cost, U, _X, _X[:, :2])
    raises_clean(r"\bU\b", acot_cost, U[:2], _X, _X)
    raises_clean(r"NaN", acot_cost, U * np.nan, _X, _X)


# ===========================================================================
# data generators
# ===========================================================================
@settings(max_examples=15)
@given(n_sequences=st.integers(1, 3), lo=st.integers(1, 12), extra=st.integers(0, 5),
       n_actions=st.integers(2, 4), n_features=st.integers(1, 3), seg_hi=st.integers(1, 3),
       min_len=st.integers(1, 3), noise=st.sampled_from([0.0, 0.5, 1e3]), seed=seeds)
def test_make_segmented_sequences_valid_or_clean(n_sequences, lo, extra, n_actions, n_features,
                                                 seg_hi, min_len, noise, seed):
    kwargs = dict(n_sequences=n_sequences, n_frames=(lo, lo + extra), n_actions=n_actions,
                  n_features=n_features, n_segments=(1, seg_hi), min_segment_length=min_len,
                  noise=noise, random_state=seed)
    if seg_hi * min_len > lo:
        raises_clean(r"min_segment_length", make_segmented_sequences, **kwargs)
        return
    X, y, P = make_segmented_sequences(return_prototypes=True, **kwargs)
    assert len(X) == len(y) == n_sequences and P.shape == (n_actions, n_features)
    for x, t in zip(X, y):
        assert x.shape == (len(t), n_features) and lo <= len(t) <= lo + extra
        assert_finite(x)
        assert t.min() >= 0 and t.max() < n_actions
    X2, y2 = make_segmented_sequences(**kwargs)
    for a, b in zip(X, X2):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=10)
@given(n_classes=st.integers(1, 3), n_per_class=st.integers(1, 2), n_features=st.integers(1, 3),
       lo=st.integers(2, 6), extra=st.integers(0, 3), n_swaps=st.integers(0, 3), seed=seeds)
def test_make_warped_sequences_valid(n_classes, n_per_class, n_features, lo, extra, n_swaps,
                                     seed):
    X, y, W = make_warped_sequences(n_classes=n_classes, n_per_class=n_per_class,
                                    n_features=n_features, length=(lo, lo + extra),
                                    n_swaps=n_swaps, random_state=seed, return_warps=True)
    assert len(X) == len(W) == y.size == n_classes * n_per_class
    for x, w in zip(X, W):
        assert x.shape == (w.size, n_features) and lo <= w.size <= lo + extra
        assert_finite(x)
        assert w.min() >= 0 and w.max() <= 1


@settings(max_examples=10)
@given(n_classes=st.integers(1, 3), n_per_class=st.integers(1, 2), n_segments=st.integers(2, 4),
       n_features=st.integers(1, 3), setting=st.sampled_from(["ordering", "content"]),
       seed=seeds)
def test_make_reversal_tasks_valid(n_classes, n_per_class, n_segments, n_features, setting,
                                   seed):
    X, y = make_reversal_tasks(n_classes=n_classes, n_per_class=n_per_class,
                               n_segments=n_segments, n_features=n_features, setting=setting,
                               random_state=seed)
    n = 2 * n_classes * n_per_class
    assert X.shape == (n, n_segments, n_features) and y.shape == (n,)
    np.testing.assert_array_equal(X[n // 2:], X[: n // 2, ::-1])
    assert np.unique(y).size == (2 if setting == "ordering" else 1) * n_classes


@settings(max_examples=10)
@given(n_sequences=st.integers(1, 4), n_features=st.integers(1, 3), lo=st.integers(1, 5),
       extra=st.integers(0, 3), seed=seeds)
def test_make_order_only_sequences_valid(n_sequences, n_features, lo, extra, seed):
    X, y = make_order_only_sequences(n_sequences=n_sequences, n_features=n_features,
                                     length=(lo, lo + extra), random_state=seed)
    assert len(X) == y.size == n_sequences
    for i, x in enumerate(X):
        assert x.shape[1] == n_features and lo <= len(x) <= lo + extra and y[i] == i % 2
        assert_finite(x)


def test_make_japanese_vowels_videos_valid():
    X, y = make_japanese_vowels_videos(n_videos=2, n_speakers=(1, 2), n_utterances=1,
                                       dtype=np.float32, random_state=0)
    assert len(X) == len(y) == 2
    for x, t in zip(X, y):
        assert x.dtype == np.float32 and x.shape == (t.size, 12)
        assert t.min() >= 0 and t.max() <= 8


# plain bad values of the generators' parameters are driven by their declared constraints in
# tests/test_synthetic.py and tests/test_japanese_vowels.py; what remains is what no constraint
# expresses: the content of an "int or (low, high)" pair, the relations between parameters,
# the data's own bounds, a dtype name that is no float dtype, and the random_state values that
# only seqot.utils.check_random_state refuses (or that the generated cases leave out)
_BAD_RANGES = [(3, 2), (1, 2, 3), (0, 2), (1.5, 2), ("a", 2), [None, 2], np.array([[1, 2]])]
GENERATOR_PARAMS = {  # a valid base call and its "int or (low, high)" parameters
    make_segmented_sequences: (dict(n_sequences=1, n_frames=10, n_actions=3, n_features=2,
                                    n_segments=2, min_segment_length=2),
                               ["n_frames", "n_segments"]),
    make_warped_sequences: (dict(n_classes=1, n_per_class=1, n_features=2, length=4),
                            ["length"]),
    make_reversal_tasks: (dict(n_classes=1, n_per_class=1, n_segments=3, n_features=2), []),
    make_order_only_sequences: (dict(n_sequences=2, n_features=2, length=(3, 4)), ["length"]),
    make_japanese_vowels_videos: (dict(n_videos=1, n_speakers=1, n_utterances=1),
                                  ["n_speakers", "n_utterances"]),
}


@pytest.mark.parametrize("fn", [f for f, (_, names) in GENERATOR_PARAMS.items() if names],
                         ids=lambda f: f.__name__)
def test_generator_bad_ranges(fn):
    base, names = GENERATOR_PARAMS[fn]
    for name in names:
        for value in _BAD_RANGES:
            raises_clean(name, fn, random_state=0, **{**base, name: value})


@pytest.mark.parametrize("fn", list(GENERATOR_PARAMS), ids=lambda f: f.__name__)
@pytest.mark.parametrize("random_state", [-1, 1.5, "a", np.nan, True])
def test_generator_bad_random_state(fn, random_state):
    base, _ = GENERATOR_PARAMS[fn]
    raises_clean(r"random_state", fn, random_state=random_state, **base)


@pytest.mark.parametrize("fn, kwargs, match", [
    (make_segmented_sequences, dict(n_frames=5, n_segments=3, min_segment_length=2),
     r"min_segment_length"),
    (make_segmented_sequences, dict(n_actions=1, n_segments=2), r"n_actions"),
    (make_japanese_vowels_videos, dict(n_speakers=10), r"n_speakers"),
    (make_japanese_vowels_videos, dict(n_speakers=(2, 10)), r"n_speakers"),
    (make_japanese_vowels_videos, dict(n_utterances=1000), r"n_utterances"),
    (make_japanese_vowels_videos, dict(dtype=np.int32), r"dtype"),
    (make_japanese_vowels_videos, dict(dtype="foo"), r"dtype"),
])
def test_generator_bad_parameters(fn, kwargs, match):
    raises_clean(match, fn, random_state=0, **kwargs)


def test_make_order_only_sequences_int_length_and_bad_length():
    # an int length used to fail with "cannot unpack non-iterable int object"
    X, _ = make_order_only_sequences(n_sequences=2, length=3, random_state=0)
    assert [len(x) for x in X] == [3, 3]
    raises_clean(r"length", make_order_only_sequences, length=(1, 2, 3))
    raises_clean(r"length", make_order_only_sequences, length=(5, 2))


def test_make_japanese_vowels_videos_bad_ranges_name_the_parameter():
    # used to be "too many values to unpack" / "'NoneType' object is not iterable"
    raises_clean(r"n_speakers", make_japanese_vowels_videos, n_speakers=(1, 2, 3))
    raises_clean(r"n_utterances", make_japanese_vowels_videos, n_utterances=None)


# ===========================================================================
# torch building blocks and the training loop
# ===========================================================================
# plain bad values of FrameMLP's and build_frame_mlp's parameters are driven by their declared
# constraints in tests/test_nn.py; what remains is what no constraint expresses
@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden=(0,)), r"hidden"), (dict(hidden=(-2,)), r"hidden"),
    (dict(hidden=(2.5,)), r"hidden"), (dict(residual=True, out_features=3), r"residual"),
])
def test_frame_mlp_bad_parameters(kwargs, match):
    base = dict(in_features=2, hidden=(3,))
    raises_clean(match, FrameMLP, **{**base, **kwargs})
    base = dict(in_features=2, hidden=(3,), out_features=2, dtype=torch.float64, device="cpu",
                generator=torch.Generator().manual_seed(0))
    raises_clean(match, build_frame_mlp, **{**base, **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    (dict(dtype=torch.int64), r"dtype"), (dict(device="nope"), r"device"),
])
def test_build_frame_mlp_bad_arguments(kwargs, match):
    base = dict(dtype=torch.float64, device="cpu")
    raises_clean(match, build_frame_mlp, 2, (3,), 2, **{**base, **kwargs})


@settings(max_examples=10)
@given(d_in=st.integers(1, 4), hidden=st.lists(st.integers(1, 4), max_size=2),
       d_out=st.integers(1, 4), residual=st.booleans(), seed=seeds,
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_build_frame_mlp_valid(d_in, hidden, d_out, residual, seed, dtype):
    if residual:
        d_out = d_in
    gen = torch.Generator().manual_seed(seed % 2**63)
    m = build_frame_mlp(d_in, hidden, d_out, residual, dtype=dtype, device="cpu", generator=gen)
    out = m(torch.randn(2, 3, d_in, dtype=dtype, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, 3, d_out) and out.dtype == dtype
    assert_finite(out, "MLP output")


def _toy():
    m = FrameMLP(2, (3,))
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    return m, (lambda i: ((m(x) - 1) ** 2).mean())


# every plain bad value of train's parameters is driven by its declared constraints in
# tests/test_nn.py; what remains here is what no constraint can express
@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer_params={"momentum": -1}), r"optimizer"),
    (dict(optimizer="sgd", optimizer_params={"momentum": -1}), r"momentum|optimizer"),
    (dict(validate=lambda: "a"), r"validate"),
])
def test_train_bad_parameters(kwargs, match):
    m, step = _toy()
    before = [p.detach().clone() for p in m.parameters()]
    raises_clean(match, train, step, m, **{**dict(max_epochs=2, validate=lambda: 1.0), **kwargs})
    if "validate" not in kwargs:  # rejected before any update
        for p, q in zip(m.parameters(), before):
            assert torch.equal(p, q)


@pytest.mark.parametrize("case, match", [
    ("modules_int", r"modules"), ("modules_none", r"modules"), ("modules_empty", r"modules"),
    ("no_parameters", r"parameters"), ("step_float", r"step\(0\)"), ("step_no_grad", r"step\(0\)"),
    ("step_vector", r"step\(0\)"), ("diverging_lr", r"loss became"),
])
def test_train_bad_modules_and_steps(case, match):
    m, step = _toy()
    modules = m
    if case == "modules_int":
        modules = 3
    elif case == "modules_none":
        modules = None
    elif case == "modules_empty":
        modules = []
    elif case == "no_parameters":
        modules = torch.nn.ReLU()
    elif case == "step_float":
        step = lambda i: 1.0  # noqa: E731
    elif case == "step_no_grad":
        step = lambda i: torch.tensor(1.0)  # noqa: E731
    elif case == "step_vector":
        step = lambda i: m(torch.ones(3, 2)).sum(1)  # noqa: E731
    kwargs = dict(lr=1e30) if case == "diverging_lr" else {}
    raises_clean(match, train, step, modules, max_epochs=3, **kwargs)


def test_make_optimizer_without_parameters_is_a_clean_error():
    # used to be torch's "optimizer got an empty parameter list"
    raises_clean(r"no parameters", make_optimizer, [], "adam", 0.1)


@settings(max_examples=8)
@given(max_epochs=st.integers(1, 5), lr=st.sampled_from([1e-4, 1e-2]),
       optimizer=st.sampled_from(["adam", "sgd", "adamw", "rmsprop"]),
       validate_every=st.sampled_from([None, 1, 2]), patience=st.sampled_from([None, 1, 3]),
       lr_step_size=st.sampled_from([None, 1, 2]), clip=st.sampled_from([None, 1.0]))
def test_train_valid(max_epochs, lr, optimizer, validate_every, patience, lr_step_size, clip):
    m, step = _toy()
    hist = train(step, m, max_epochs=np.int64(max_epochs), lr=np.float32(lr), optimizer=optimizer,
                 validate=lambda: float(step(0)), validate_every=validate_every,
                 patience=patience, lr_step_size=lr_step_size, clip_grad_norm=clip)
    assert 1 <= hist.n_steps <= max_epochs and len(hist.loss) == hist.n_steps
    assert_finite(hist.loss, "loss")
    for p in m.parameters():
        assert_finite(p, "parameters")


# ---------------------------------------------------------------------------
# regressions of the review of the validation layer: valid input it refused or changed
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [np.random.SeedSequence(0), np.random.PCG64(0), [1, 2], (3,),
                                  np.array([4])])
def test_check_generator_takes_every_seed_default_rng_takes(seed):
    from seqot.utils import check_random_state as check_generator

    a = check_generator(seed).integers(1 << 30, size=3)
    fresh = seed if not isinstance(seed, np.random.BitGenerator) else np.random.PCG64(0)
    b = np.random.default_rng(fresh).integers(1 << 30, size=3)
    np.testing.assert_array_equal(a, b)


def test_random_negatives_draws_from_a_random_state_as_is():
    """A RandomState is drawn from directly (as before the validation layer), not re-seeded."""
    X = np.ones((3, 4))
    rs = np.random.RandomState(0)
    out = random_negatives(X, rs)
    # the value the function gave before check_generator existed (commit ec51af9)
    assert out.sum() == pytest.approx(10.495139375759253, rel=1e-12)
    assert not np.array_equal(rs.get_state()[1], np.random.RandomState(0).get_state()[1])


def test_train_accepts_optimizer_factories_and_array_scores():
    import functools

    from seqot.nn import train

    lin = torch.nn.Linear(2, 1)
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    history = train(lambda i: (lin(x) ** 2).mean(), lin, max_epochs=4,
                    optimizer=functools.partial(torch.optim.SGD, momentum=0.9),
                    validate=lambda: np.array(0.5), validate_every=2)
    assert history.validation == [(2, 0.5), (4, 0.5)]
    history = train(lambda i: (lin(x) ** 2).mean(), lin, max_epochs=1,
                    validate=lambda: np.float32(0.25), validate_every=1)
    assert history.validation == [(1, 0.25)]


def test_check_generator_takes_seeds_beyond_64_bits():
    from seqot.utils import check_random_state as check_generator

    a = check_generator([2**64, 3]).integers(1 << 30, size=3)
    np.testing.assert_array_equal(a, np.random.default_rng([2**64, 3]).integers(1 << 30, size=3))


def test_grassmann_kernel_takes_bfloat16_tensors():
    U = torch.linalg.qr(torch.randn(2, 4, 2, generator=torch.Generator().manual_seed(0)))[0]
    # bfloat16 keeps ~3 digits: the orthonormality check refuses it cleanly, and without the
    # check the kernel is computed
    raises_clean("orthonormal", grassmann_kernel, U.bfloat16())
    K = grassmann_kernel(U.bfloat16(), check_orthonormal=False)
    assert K.shape == (2, 2) and np.all(np.isfinite(K))
