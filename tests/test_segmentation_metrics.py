"""Temporal action segmentation metrics: hand-worked examples, invariants and oracles."""

import itertools

import numpy as np
import pytest

from seqot.segmentation import (
    aggregate_over_activities,
    edit_score,
    f1_unsup_score,
    hungarian_match,
    miou_score,
    mof_score,
    segmental_f1_score,
    segmentation_scores,
)
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases

# Hand-worked 10-frame video (over-segmented prediction, one spurious cluster).
#   frame:  0 1 2 3 4 5 6 7 8 9
#   y_true: 0 0 0 0 0 1 1 1 1 1
#   y_pred: 4 4 6 4 4 4 7 7 7 7
# Overlaps: cluster 4 -> {0: 4, 1: 1}, cluster 6 -> {0: 1}, cluster 7 -> {1: 4}.
# Best matching 4->0, 7->1 (total 8); cluster 6 stays unmatched.
# Remapped: 0 0 U 0 0 0 1 1 1 1 (U = unmatched, never correct).
HAND_TRUE = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
HAND_PRED = np.array([4, 4, 6, 4, 4, 4, 7, 7, 7, 7])


def piecewise(rng, n_classes, n_segments, min_len=3, max_len=9):
    """A label sequence of n_segments runs, consecutive runs of different classes."""
    labels, prev = [], -1
    for _ in range(n_segments):
        c = int(rng.choice([k for k in range(n_classes) if k != prev]))
        labels += [c] * int(rng.integers(min_len, max_len + 1))
        prev = c
    return np.array(labels)


def noisy(rng, y, n_clusters, flip=0.2):
    """y relabelled by a random injection into cluster ids, with a fraction of random frames."""
    ids = rng.permutation(n_clusters)
    p = ids[y % n_clusters].copy()
    m = rng.random(y.size) < flip
    p[m] = rng.integers(0, n_clusters, m.sum())
    return p


# --------------------------------------------------------------------------- hand-worked


def test_hand_worked_video():
    mapping, mapped = hungarian_match(HAND_TRUE, HAND_PRED)
    assert mapping == {4: 0, 7: 1}
    assert mapped[2] not in (0, 1) and np.array_equal(np.delete(mapped, 2),
                                                      [0, 0, 0, 0, 0, 1, 1, 1, 1])
    # MoF: 8 of 10 frames correct.
    assert mof_score(HAND_TRUE, HAND_PRED) == pytest.approx(0.8)
    # IoU class 0: inter 4, |pred 4| = 5, |true 0| = 5 -> 4 / 6; class 1: 4 / (4 + 5 - 4) = 4 / 5.
    assert miou_score(HAND_TRUE, HAND_PRED) == pytest.approx((4 / 6 + 4 / 5) / 2)
    # Unsupervised F1: both GT segments have 4/5 > 1/2 correct frames: TP = 2, S = 2,
    # P = 2 / (1 video * 2 actions) = 1, R = 1.
    assert f1_unsup_score(HAND_TRUE, HAND_PRED) == pytest.approx(1.0)
    # Predicted segments (label, [start, stop)): (0,[0,2)) (U,[2,3)) (0,[3,6)) (1,[6,10));
    # GT segments: (0,[0,5)) (1,[5,10)). Best IoUs: 2/5, 0 (no same label), 2/6 = 1/3, 4/5.
    # @50: only the last is a TP -> TP 1, FP 3, FN 1: P 1/4, R 1/2, F1 = 1/3.
    assert segmental_f1_score(HAND_TRUE, HAND_PRED, 0.5) == pytest.approx(1 / 3)
    # @25: seg 1 (0.4) takes GT 0; seg 3 (1/3) finds GT 0 used -> FP; seg 4 TP.
    # TP 2, FP 2, FN 0: P 1/2, R 1, F1 = 2/3. @10 is the same.
    assert segmental_f1_score(HAND_TRUE, HAND_PRED, 0.25) == pytest.approx(2 / 3)
    assert segmental_f1_score(HAND_TRUE, HAND_PRED, 0.1) == pytest.approx(2 / 3)
    # Edit: [0, U, 0, 1] vs [0, 1]: 2 deletions, 1 - 2 / 4 = 0.5.
    assert edit_score(HAND_TRUE, HAND_PRED) == pytest.approx(0.5)

    scores = segmentation_scores(HAND_TRUE, HAND_PRED)
    assert scores == pytest.approx({
        "mof": 0.8, "miou": (4 / 6 + 4 / 5) / 2, "f1": 1.0, "f1@10": 2 / 3, "f1@25": 2 / 3,
        "f1@50": 1 / 3, "edit": 0.5, "n_frames": 10, "n_videos": 1,
    })


def test_hand_worked_too_few_clusters():
    # y_true 0 0 0 1 1 2, one cluster: it matches class 0 (overlap 3).
    y_true, y_pred = np.array([0, 0, 0, 1, 1, 2]), np.zeros(6, dtype=int)
    s = segmentation_scores(y_true, y_pred)
    assert s["mof"] == pytest.approx(3 / 6)
    # IoU: class 0: 3 / 6; classes 1 and 2 are unmatched -> 0; mean over 3 classes.
    assert s["miou"] == pytest.approx(1 / 6)
    # Unsup F1: 1 of 3 segments recovered, P = 1 / (1 * 3), R = 1 / 3.
    assert s["f1"] == pytest.approx(1 / 3)
    # F1@50: one predicted segment [0, 6) vs GT 0 [0, 3): IoU 1/2 -> TP; FN 2: P 1, R 1/3.
    assert s["f1@50"] == pytest.approx(0.5)
    # Edit: [0] vs [0, 1, 2]: distance 2, 1 - 2/3.
    assert s["edit"] == pytest.approx(1 / 3)


def test_supervised_mode_compares_labels_without_matching():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([1, 1, 0, 0])  # a perfect clustering, but every label wrong
    assert mof_score(y_true, y_pred) == 1.0
    assert mof_score(y_true, y_pred, matching=None) == 0.0
    assert miou_score(y_true, y_pred, matching=None) == 0.0
    assert segmental_f1_score(y_true, y_pred, 0.1, matching=None) == 0.0
    # Edit sees only the order: [1, 0] vs [0, 1] needs 2 substitutions.
    assert edit_score(y_true, y_pred, matching=None) == 0.0
    assert edit_score(y_true, np.array([0, 0, 0, 1]), matching=None) == 1.0


def test_per_video_and_global_matching_differ():
    # Video 1 labels its classes 0->0, 1->1; video 2 swaps them.
    y_true = [np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 1])]
    y_pred = [np.array([0, 0, 0, 1, 1, 1]), np.array([1, 1, 0, 0])]
    # Global overlaps: cluster 0 -> {0: 3, 1: 2}, cluster 1 -> {0: 2, 1: 3}: identity wins,
    # 6 of 10 frames correct.
    mapping, mapped = hungarian_match(y_true, y_pred)
    assert mapping == {0: 0, 1: 1}
    assert mof_score(y_true, y_pred) == pytest.approx(0.6)
    mapping, mapped = hungarian_match(y_true, y_pred, matching="per_video")
    assert mapping == [{0: 0, 1: 1}, {0: 1, 1: 0}]
    assert all(np.array_equal(m, t) for m, t in zip(mapped, y_true))
    s = segmentation_scores(y_true, y_pred, matching="per_video")
    assert all(s[k] == 1.0 for k in ("mof", "miou", "f1", "f1@10", "f1@50", "edit"))


def test_per_video_average_is_unweighted():
    # Video 1 (2 frames): one cluster on two classes, 1/2 correct. Video 2 (8 frames): perfect.
    # Per video: unweighted mean (1/2 + 1) / 2 = 3/4.
    y_true = [np.array([0, 1]), np.array([0] * 4 + [1] * 4)]
    y_pred = [np.array([5, 5]), np.array([5] * 4 + [6] * 4)]
    assert mof_score(y_true, y_pred, matching="per_video") == pytest.approx(0.75)
    # Global: cluster 5 -> {0: 5, 1: 1}, cluster 6 -> {1: 4}; 5->0, 6->1: 9 of 10 frames.
    assert mof_score(y_true, y_pred) == pytest.approx(0.9)


# --------------------------------------------------------------------------- invariants


def test_perfect_prediction_up_to_permutation_scores_one():
    rng = np.random.default_rng(0)
    y_true, y_pred = [], []
    perm = np.array([3, 0, 2, 1]) + 10
    for _ in range(3):  # every video holds every class (so the heuristic precision is 1)
        order = rng.permutation(4)
        y = np.repeat(order, rng.integers(20, 30, 4))
        y_true.append(y)
        y_pred.append(perm[y])
    for matching in ("global", "per_video"):
        for method in ("exact", "sampled"):
            s = segmentation_scores(y_true, y_pred, matching, f1_method=method)
            assert {k: s[k] for k in ("mof", "miou", "f1", "f1@10", "f1@25", "f1@50",
                                      "edit")} == dict.fromkeys(
                ("mof", "miou", "f1", "f1@10", "f1@25", "f1@50", "edit"), 1.0)


def test_global_f1_heuristic_precision_below_one_when_a_video_lacks_a_class():
    # Perfect prediction, but video 2 lacks class 2: TP = S = 5, P = 5 / (2 videos * 3 actions)
    # = 5/6, R = 1, F1 = 2 * (5/6) / (11/6) = 10/11. Per video it is 1.
    y_true = [np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 1])]
    assert f1_unsup_score(y_true, y_true) == pytest.approx(10 / 11)
    assert f1_unsup_score(y_true, y_true, matching="per_video") == pytest.approx(1.0)


@pytest.mark.parametrize("matching", ["global", "per_video"])
def test_invariant_to_relabelling_predictions(matching):
    rng = np.random.default_rng(1)
    y_true = [piecewise(rng, 5, 6, 8, 20) for _ in range(4)]
    y_pred = [noisy(rng, y, 6) for y in y_true]
    relabel = rng.permutation(6) * 3 + 100  # an injective relabelling onto other ids
    permuted = [relabel[p] for p in y_pred]
    for method in ("exact", "sampled"):
        a = segmentation_scores(y_true, y_pred, matching, f1_method=method)
        b = segmentation_scores(y_true, permuted, matching, f1_method=method)
        assert a == b
    assert a["mof"] < 1.0 and a["edit"] < 1.0  # a nontrivial case


def test_per_video_matching_dominates_global_frame_weighted():
    rng = np.random.default_rng(2)
    for _ in range(20):
        y_true = [piecewise(rng, 4, 4) for _ in range(3)]
        y_pred = [rng.integers(0, 4, y.size) for y in y_true]
        _, glob = hungarian_match(y_true, y_pred)
        _, per = hungarian_match(y_true, y_pred, matching="per_video")
        for t, g, p in zip(y_true, glob, per):
            assert np.sum(p == t) >= np.sum(g == t)


def _best_total_overlap(t, p):
    """Exhaustive search over all injective cluster -> class assignments."""
    clusters, classes = np.unique(p), np.unique(t)
    M = np.array([[np.sum((p == a) & (t == g)) for g in classes] for a in clusters])
    if len(clusters) <= len(classes):
        return max(M[np.arange(len(clusters)), list(c)].sum()
                   for c in itertools.permutations(range(len(classes)), len(clusters)))
    return max(M[list(r), np.arange(len(classes))].sum()
               for r in itertools.permutations(range(len(clusters)), len(classes)))


def test_hungarian_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(60):
        n_classes, n_clusters = rng.integers(1, 5, 2)
        y_true = [rng.integers(0, n_classes, rng.integers(3, 12)) for _ in range(3)]
        y_pred = [rng.integers(0, n_clusters, y.size) + 5 for y in y_true]
        mapping, mapped = hungarian_match(y_true, y_pred)
        assert len(set(mapping.values())) == len(mapping)  # one-to-one
        t, p, m = map(np.concatenate, (y_true, y_pred, mapped))
        assert np.sum(m == t) == _best_total_overlap(t, p)
        assert mof_score(y_true, y_pred) == pytest.approx(_best_total_overlap(t, p) / t.size)
        mapping, mapped = hungarian_match(y_true, y_pred, matching="per_video")
        for t, p, m in zip(y_true, y_pred, mapped):
            assert np.sum(m == t) == _best_total_overlap(t, p)


def test_unmatched_clusters_get_distinct_labels_above_every_class():
    y_true = np.array([0, 0, 1, 1, -1, -1])
    y_pred = np.array([3, 4, 5, 5, 6, 0])  # 4 unmatched; 6, 0 only on background frames
    mapping, mapped = hungarian_match(y_true, y_pred, background=-1)
    assert mapping == {3: 0, 5: 1}
    assert np.array_equal(mapped[[0, 2, 3]], [0, 1, 1])
    others = mapped[[1, 4, 5]]
    assert len(set(others)) == 3 and others.min() > 1


def test_zero_overlap_assignment_is_not_a_match():
    # y_true 0 0 0 0 1, y_pred 5 5 5 6 5: overlaps 5 -> {0: 3, 1: 1}, 6 -> {0: 1, 1: 0}.
    # The optimum 5->0 (3) pairs 6 with 1 at zero overlap; that pair is dropped.
    y_true, y_pred = np.array([0, 0, 0, 0, 1]), np.array([5, 5, 5, 6, 5])
    mapping, mapped = hungarian_match(y_true, y_pred)
    assert mapping == {5: 0} and mapped[3] > 1
    # Edit: [0, U, 0] vs [0, 1]: distance 2, 1 - 2/3 (a 6->1 pair would give [0, 1, 0]: 2/3).
    assert edit_score(y_true, y_pred) == pytest.approx(1 / 3)


def test_levenshtein_matches_naive_dp():
    from seqot.segmentation.metrics import _levenshtein

    def naive(a, b):
        d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                              d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
        return d[-1][-1]

    rng = np.random.default_rng(4)
    for _ in range(200):
        a = rng.integers(0, 3, rng.integers(0, 8))
        b = rng.integers(0, 3, rng.integers(0, 8))
        assert _levenshtein(a, b) == naive(list(a), list(b))
    assert _levenshtein(np.array([1, 2, 3]), np.array([3, 1, 2])) == 2


# --------------------------------------------------------------------------- background


def test_background_frames_are_excluded():
    # Background label 2 is an ordinary nonnegative id (Desktop Assembly style).
    y_true = np.array([2, 2, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 0, 1, 1])
    # Without exclusion: cluster 0 -> {2: 2, 0: 2}, cluster 1 -> {1: 2}: 4 of 6.
    assert mof_score(y_true, y_pred) == pytest.approx(4 / 6)
    assert mof_score(y_true, y_pred, background=2) == 1.0
    assert segmentation_scores(y_true, y_pred, background=[2])["n_frames"] == 4
    # Several background labels at once, negative and not.
    y_true, y_pred = np.array([2, -1, 0, 0, 1, 1]), np.array([1, 1, 0, 0, 1, 1])
    assert mof_score(y_true, y_pred, background={-1, 2}) == 1.0
    assert mof_score(y_true, y_pred, background=-1) == pytest.approx(4 / 5)


def test_predictions_on_background_frames_do_not_matter():
    rng = np.random.default_rng(5)
    y_true = [piecewise(rng, 4, 6, 5, 12) for _ in range(3)]
    y_pred = [noisy(rng, y, 5) for y in y_true]
    bg_true, bg_pred_a, bg_pred_b = [], [], []
    for t, p in zip(y_true, y_pred):
        t, p = t.copy(), p.copy()
        t[rng.random(t.size) < 0.2] = -1
        bg_true.append(t)
        bg_pred_a.append(p)
        q = p.copy()
        q[t == -1] = rng.integers(0, 9, np.sum(t == -1))
        bg_pred_b.append(q)
    for matching in ("global", "per_video", None):
        a = segmentation_scores(bg_true, bg_pred_a, matching, background=-1, f1_method="sampled")
        b = segmentation_scores(bg_true, bg_pred_b, matching, background=-1, f1_method="sampled")
        assert a == b


def test_background_at_the_ends_equals_trimming():
    y_true = np.r_[[-1] * 3, HAND_TRUE, [-1] * 2]
    y_pred = np.r_[[9, 9, 4], HAND_PRED, [7, 6]]
    assert segmentation_scores(y_true, y_pred, background=-1) == \
        segmentation_scores(HAND_TRUE, HAND_PRED)


def test_background_gap_splits_segments():
    # y_true 0 0 bg bg 0 0 -> two GT segments [0, 0]; the prediction says 0 throughout.
    y_true, y_pred = np.array([0, 0, -1, -1, 0, 0]), np.zeros(6, dtype=int)
    s = segmentation_scores(y_true, y_pred, matching=None, background=-1)
    assert s["edit"] == 1.0 and s["f1@50"] == 1.0
    # Without the split, the prediction [0] against GT [0, 0] would give edit 1/2.
    # A predicted background segment is ignored (MS-TCN bg_class): GT [0, 0] vs pred [0].
    y_pred = np.array([0, 0, 0, -1, -1, -1])
    s = segmentation_scores(y_true, y_pred, matching=None, background=-1)
    assert s["edit"] == pytest.approx(0.5) and s["mof"] == pytest.approx(0.5)
    # F1@50: one predicted segment matches the first GT segment; FN 1 -> P 1, R 1/2.
    assert s["f1@50"] == pytest.approx(2 / 3)


def test_all_background_video_is_skipped_in_per_video_means():
    y_true = [np.array([-1, -1, -1]), np.array([0, 0, 1, 1])]
    y_pred = [np.array([0, 1, 2]), np.array([3, 3, 4, 4])]
    s = segmentation_scores(y_true, y_pred, "per_video", background=-1)
    assert s["mof"] == 1.0 and s["n_videos"] == 1 and s["n_frames"] == 4


# --------------------------------------------------------------------------- unsupervised F1


def test_exact_and_sampled_f1_differ_as_documented():
    # Two single-class videos, perfect prediction. Exact: segments per video, TP = S = 2,
    # P = min(1, 2 / (2 * 1)) = 1 -> F1 = 1. Sampled: the concatenation is one run, so
    # TP = 1 per repeat, P = 1 / (2 videos * 1 action), R = 1 -> F1 = 2 * 0.5 / 1.5 = 2/3.
    y = [np.zeros(5, dtype=int), np.zeros(5, dtype=int)]
    assert f1_unsup_score(y, y, method="exact") == 1.0
    assert f1_unsup_score(y, y, method="sampled") == pytest.approx(2 / 3)


def test_sampled_precision_is_not_clipped():
    # One video 0^10 1^10 0^10, perfect prediction: 3 segments, 2 actions. Sampled:
    # P = 3 / 2, R = 1 -> F1 = 2 * 1.5 / 2.5 = 1.2. Exact clips P to 1 -> F1 = 1.
    y = np.repeat([0, 1, 0], 10)
    assert f1_unsup_score(y, y, method="sampled") == pytest.approx(1.2)
    assert f1_unsup_score(y, y, method="exact") == 1.0


def test_sampled_range_includes_the_next_segments_first_frame():
    # y = 0 1^20, perfect prediction. The sampled range of segment 0 is frames {0, 1}, so it
    # is a TP only when more than 7 of 15 draws hit frame 0 (about half of the repeats).
    # Excluding frame 1 would make every repeat a TP and F1 = 1.
    y = np.r_[0, np.ones(20, dtype=int)]
    assert f1_unsup_score(y, y, method="exact") == 1.0
    assert 0.6 < f1_unsup_score(y, y, method="sampled") < 0.9


def test_sampled_f1_is_seeded_and_exact_threshold_is_strict():
    rng = np.random.default_rng(6)
    y_true = [piecewise(rng, 3, 5) for _ in range(3)]
    y_pred = [noisy(rng, y, 3, flip=0.5) for y in y_true]
    a = f1_unsup_score(y_true, y_pred, method="sampled", random_state=7)
    assert a == f1_unsup_score(y_true, y_pred, method="sampled", random_state=7)
    vals = {f1_unsup_score(y_true, y_pred, method="sampled", random_state=s) for s in range(5)}
    assert len(vals) > 1  # the sampling does matter here
    # Exactly half of the frames correct is not "more than half": 0 0 | 1 1 vs 0 9 | 1 9.
    y_true, y_pred = np.array([0, 0, 1, 1]), np.array([0, 9, 1, 8])
    assert f1_unsup_score(y_true, y_pred, matching=None) == 0.0
    # One of two segments recovered: P = 1 / (1 * 2), R = 1/2 -> F1 = 1/2.
    assert f1_unsup_score(y_true, np.array([0, 0, 1, 8]), matching=None) == pytest.approx(0.5)


# --------------------------------------------------------------------------- input forms


def test_input_forms_agree():
    ref = segmentation_scores(HAND_TRUE, HAND_PRED)
    assert segmentation_scores([HAND_TRUE], [HAND_PRED]) == ref
    assert segmentation_scores(HAND_TRUE.tolist(), HAND_PRED.tolist()) == ref
    assert segmentation_scores(tuple([HAND_TRUE]), HAND_PRED.astype(float)) == ref
    obj = np.empty(1, dtype=object)
    obj[0] = HAND_PRED
    assert segmentation_scores([HAND_TRUE], obj) == ref
    _, mapped = hungarian_match([HAND_TRUE], [HAND_PRED])
    assert isinstance(mapped, list) and len(mapped) == 1
    _, mapped = hungarian_match(HAND_TRUE, HAND_PRED)
    assert isinstance(mapped, np.ndarray) and mapped.shape == (10,)


def test_aggregate_over_activities():
    # Activity A: 4 frames; cluster 0 -> {0: 1, 1: 2}, cluster 1 -> {0: 1}; 0->1, 1->0 gives
    # 3 correct. B: 6 frames, all correct.
    a = segmentation_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 0]))
    b = segmentation_scores(np.array([0, 0, 0, 1, 1, 1]), np.array([4, 4, 4, 3, 3, 3]))
    assert a["mof"] == pytest.approx(0.75) and b["mof"] == 1.0
    agg = aggregate_over_activities({"A": a, "B": b})
    assert agg["mof"] == pytest.approx((3 + 6) / 10)  # pooled frames
    assert agg["miou"] == pytest.approx((a["miou"] + b["miou"]) / 2)
    assert agg["n_frames"] == 10 and agg["n_videos"] == 2
    unw = aggregate_over_activities([a, b], weighting="unweighted")
    assert unw["mof"] == pytest.approx((0.75 + 1) / 2)
    fr = aggregate_over_activities([a, b], weighting="frames")
    assert fr["edit"] == pytest.approx((4 * a["edit"] + 6 * b["edit"]) / 10)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("y_true, y_pred, match", [
    ([], [], "y_true is empty"),
    ([np.array([0, 1])], [], "y_pred is empty"),
    ([np.array([0, 1]), np.array([0])], [np.array([0, 1])], "y_true has 2 videos but y_pred has 1"),
    ([np.array([0, 1]), np.array([0, 1, 1])], [np.array([0, 1]), np.array([0, 1])],
     "video 1: y_true has 3 frames but y_pred has 2"),
    (np.array([0, 0.5]), np.array([0, 1]), "y_true, video 0: labels must be integers"),
    (np.array([0, np.nan]), np.array([0, 1]), "NaN"),
    (np.array(["a", "b"]), np.array([0, 1]), "labels must be integers; got dtype"),
    (np.array([True, False]), np.array([0, 1]), "labels must be integers"),
    (np.array([0, -1]), np.array([0, 1]), "negative label -1"),
    (np.array([0, 1]), np.array([0, -2]), "y_pred, video 0: negative label -2"),
    ([np.array([0, 1]), np.array([], dtype=int)], [np.array([0, 1]), np.array([], dtype=int)],
     "y_true, video 1: the video has no frames"),
    (np.zeros((2, 3), dtype=int), np.zeros((2, 3), dtype=int), "1-D label array"),
    ([0, np.array([1, 2])], [0, np.array([1, 2])], "mixes scalars and sequences"),
])
def test_invalid_labels_raise(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        segmentation_scores(y_true, y_pred)


def test_invalid_parameters_raise():
    """What no declared constraint expresses: the background labels' type, and the inputs."""
    y = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="background must be"):
        mof_score(y, y, background=[0, 1.5])
    with pytest.raises(ValueError, match="no frames left to evaluate"):
        mof_score(np.array([-1, -1]), np.array([0, 1]), background=-1)
    with pytest.raises(ValueError, match="'overlaps' parameter of segmentation_scores"):
        segmentation_scores(y, y, overlaps=(0.5, 50))
    with pytest.raises(ValueError, match="scores is empty"):
        aggregate_over_activities([])
    with pytest.raises(ValueError, match="activity 1 has the keys"):
        aggregate_over_activities([{"mof": 1.0, "n_frames": 3}, {"mof": 1.0}])
    with pytest.raises(ValueError, match="needs an 'n_frames'"):
        aggregate_over_activities([{"mof": 1.0}])


_Y = np.array([0, 0, 1, 1])


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, args in [*((f, (_Y, _Y)) for f in (
        hungarian_match, mof_score, miou_score, f1_unsup_score, segmental_f1_score, edit_score,
        segmentation_scores)), (aggregate_over_activities, ([{"mof": 1.0, "n_frames": 3}],))]
    for c in function_constraint_cases(func, args)])
def test_parameter_constraints(case):
    check_function_constraint(*case)
