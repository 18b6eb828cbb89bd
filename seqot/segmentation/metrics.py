"""Evaluation metrics for (unsupervised) temporal action segmentation.

Unsupervised segmentation predicts *cluster ids*, not class labels, so the clusters are first
matched one-to-one to ground-truth (GT) classes by the Hungarian algorithm
(:func:`hungarian_match`), and the metrics are computed on the remapped predictions:

* :func:`mof_score`: mean over frames (frame accuracy after matching);
* :func:`miou_score`: mean intersection over union over the GT classes present;
* :func:`f1_unsup_score`: the segment-wise F1 of the unsupervised protocol (TOT/CTE/ASOT);
* :func:`segmental_f1_score` and :func:`edit_score`: the supervised MS-TCN metrics F1@k and
  the segmental edit score;
* :func:`segmentation_scores`: all of the above from one matching;
* :func:`aggregate_over_activities`: combine per-activity results (Breakfast, YTI).

Conventions shared by every function
------------------------------------
``y_true`` and ``y_pred`` are lists of 1-D integer label arrays, one per video, with equal
lengths pairwise; a single 1-D array (or a flat list of ints) is one video. Float arrays are
accepted when every value is a whole number.

``matching`` is ``"global"`` (one matching over all videos together: the paper's standard
"Unsup. full" setting), ``"per_video"`` (a separate matching per video: "Unsup. per") or
``None`` (no matching: predictions are already class labels, the supervised setting).

``background`` is a GT label, or a collection of labels, whose frames are removed from
evaluation together with the predictions made on them (the spec's ``exclude_labels``; YouTube
Instructions uses ``background=-1``). Negative labels are allowed only as background labels.
After removal, a segment never continues across the removed frames.

Every score is a fraction in [0, 1] (MS-TCN reports the same numbers times 100).

References
----------
.. [1] M. Xu and S. Gould, "Temporally Consistent Unbalanced Optimal Transport for
   Unsupervised Action Segmentation", CVPR 2024.
.. [2] Y. A. Farha and J. Gall, "MS-TCN: Multi-Stage Temporal Convolutional Network for
   Action Segmentation", CVPR 2019.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..utils._param_validation import (
    POSITIVE_INT,
    RANDOM_STATE,
    Integral,
    Interval,
    Real,
    StrOptions,
    validate_params,
)
from ..utils._torch import check_random_state
from ..utils._validation import check_frame_labels

__all__ = [
    "hungarian_match",
    "mof_score",
    "miou_score",
    "f1_unsup_score",
    "segmental_f1_score",
    "edit_score",
    "segmentation_scores",
    "aggregate_over_activities",
]

#: How cluster ids become classes (``None``: they already are; see the module docstring).
_MATCHING = [StrOptions({"global", "per_video"}), None]
#: A GT label or a collection of them (each an int: checked by ``_parse_background``).
_BACKGROUND = [Interval(Integral, None, None, closed="neither"), "array-like", None]
#: An IoU threshold of the segmental F1@k.
_OVERLAP = [Interval(Real, 0, 1, closed="right")]


# --------------------------------------------------------------------------- validation


def _parse_background(background):
    """The background labels as a sorted int64 array (empty for ``None``)."""
    if background is None:
        return np.empty(0, dtype=np.int64)
    if isinstance(background, np.ndarray):
        values = list(background.ravel()) if background.ndim <= 1 else [background]
    elif isinstance(background, Iterable):  # a list, tuple, set, ...
        values = list(background)
    else:
        values = [background]
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)):
            raise ValueError(
                f"background must be None, an integer label or a collection of integer labels; "
                f"got {background!r}."
            )
    return np.unique(np.asarray([int(v) for v in values], dtype=np.int64))


def _as_videos(y, name):
    """Split ``y`` into a list of per-video objects; the flag says whether it was one video."""
    if isinstance(y, np.ndarray) and y.dtype == object:
        y = list(y)
    if isinstance(y, (list, tuple)):
        if len(y) == 0:
            raise ValueError(f"{name} is empty: pass at least one video.")
        scalar = [np.ndim(e) == 0 for e in y]
        if all(scalar):
            return [y], True
        if any(scalar):
            raise ValueError(
                f"{name} mixes scalars and sequences: pass one 1-D array (one video) or a list "
                f"of 1-D arrays (one per video)."
            )
        return list(y), False
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D label array (one video) or a list of 1-D arrays (one per "
            f"video); got an array of shape {a.shape}."
        )
    return [a], True


def _as_labels(x, name, i, background):
    a = check_frame_labels(x, f"{name}, video {i}")
    where = f"{name}, video {i}"
    negative = a[a < 0]
    bad = negative[~np.isin(negative, background)]
    if bad.size:
        raise ValueError(
            f"{where}: negative label {int(bad[0])}; negative labels are allowed only as "
            f"background labels (pass background={int(bad[0])} to exclude them)."
        )
    return a


def _check_labels(y_true, y_pred, background):
    """Validate the inputs. Returns ``(trues, preds, single, background)``."""
    bg = _parse_background(background)
    trues, _ = _as_videos(y_true, "y_true")
    preds, single = _as_videos(y_pred, "y_pred")
    if len(trues) != len(preds):
        raise ValueError(f"y_true has {len(trues)} videos but y_pred has {len(preds)}.")
    trues = [_as_labels(t, "y_true", i, bg) for i, t in enumerate(trues)]
    preds = [_as_labels(p, "y_pred", i, bg) for i, p in enumerate(preds)]
    for i, (t, p) in enumerate(zip(trues, preds)):
        if t.shape != p.shape:
            raise ValueError(f"video {i}: y_true has {t.size} frames but y_pred has {p.size}.")
    return trues, preds, single, bg


# --------------------------------------------------------------------------- matching


def _match(t, p):
    """Hungarian matching on one (concatenated) pair of kept label arrays.

    Returns ``{cluster: class}``; pairs with zero overlap are not matches.
    """
    if t.size == 0:
        return {}
    pred_u, first, pi = np.unique(p, return_index=True, return_inverse=True)
    true_u, ti = np.unique(t, return_inverse=True)
    overlap = np.bincount(pi * true_u.size + ti, minlength=pred_u.size * true_u.size)
    overlap = overlap.reshape(pred_u.size, true_u.size)
    # Rows in order of first appearance, not of cluster id: ties between optimal matchings
    # are then broken the same way whatever the ids, so every score is invariant to a
    # relabelling of the clusters.
    order = np.argsort(first, kind="stable")
    pred_u, overlap = pred_u[order], overlap[order]
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return dict(sorted(
        (int(pred_u[r]), int(true_u[c])) for r, c in zip(rows, cols) if overlap[r, c] > 0
    ))


def _lookup(values, keys, table):
    """``table[k]`` for each value, with ``keys`` sorted and containing every value."""
    return table[np.searchsorted(keys, values)]


def _remap_tables(trues, preds, bg, mappings):
    """Per-video lookup tables (over all predicted labels) for the given mappings.

    A cluster without a match becomes ``offset + rank`` where ``offset`` exceeds every GT and
    background label and ``rank`` is its position among all predicted labels: distinct clusters
    stay distinct, and never equal a GT class.
    """
    pred_u = np.unique(np.concatenate(preds))
    top = max(int(np.concatenate(trues).max()), int(bg.max()) if bg.size else -1)
    offset = max(top + 1, 0)
    tables = []
    for mapping in mappings:
        table = offset + np.arange(pred_u.size, dtype=np.int64)
        for a, g in mapping.items():
            table[np.searchsorted(pred_u, a)] = g
        tables.append(table)
    return pred_u, tables


def _keep_masks(trues, bg):
    return [~np.isin(t, bg) for t in trues]


def _mappings(trues, preds, keep, matching):
    if matching == "global":
        t = np.concatenate([t[k] for t, k in zip(trues, keep)])
        p = np.concatenate([p[k] for p, k in zip(preds, keep)])
        return [_match(t, p)]
    return [_match(t[k], p[k]) for t, p, k in zip(trues, preds, keep)]


@validate_params({"matching": [StrOptions({"global", "per_video"})], "background": _BACKGROUND},
                 prefer_skip_nested_validation=True)
def hungarian_match(y_true, y_pred, matching="global", background=None):
    r"""Match predicted clusters one-to-one to ground-truth classes, maximising the overlap.

    With the overlap counts :math:`M_{ag}=\#\{t: \hat y_t=a,\ y_t=g\}` over the evaluated
    frames (background frames removed), the matching is the one-to-one partial assignment
    :math:`\pi` maximising :math:`\sum_a M_{a\pi(a)}`, solved with
    :func:`scipy.optimize.linear_sum_assignment` (``maximize=True``). With more clusters than
    classes (or the reverse) some clusters (classes) stay unmatched. An assigned pair with
    zero overlap is dropped: it changes no frame count, and keeping it would make the
    segmental metrics depend on the solver's arbitrary tie-breaking. Ties between optimal
    matchings are broken by the order in which the clusters first appear (not by their ids),
    so the matching, and every score computed from it, is invariant to a relabelling of the
    clusters.

    Parameters
    ----------
    y_true, y_pred : list of 1-D int arrays, or one 1-D int array
        Ground-truth labels and predicted cluster ids, one array per video.
    matching : {"global", "per_video"}, default "global"
        One matching over all videos together (the paper's "Unsup. full"), or one per video
        ("Unsup. per").
    background : int or collection of int, optional
        GT labels whose frames take no part in the matching.

    Returns
    -------
    mapping : dict or list of dict
        ``{cluster id: GT class}`` for the matched clusters: one dict for ``"global"``, a
        list with one dict per video for ``"per_video"``.
    y_mapped : ndarray or list of ndarray
        The predictions with each matched cluster replaced by its class, in the form of
        ``y_pred``. Every frame is remapped, background frames included. An unmatched cluster
        becomes a label larger than every GT and background label (distinct clusters stay
        distinct), so it never counts as correct.

    References
    ----------
    M. Xu and S. Gould, "Temporally Consistent Unbalanced Optimal Transport for Unsupervised
    Action Segmentation", CVPR 2024, Sec. 6.

    Examples
    --------
    >>> import numpy as np
    >>> mapping, y_mapped = hungarian_match(np.array([0, 0, 1, 1, 1]), np.array([7, 7, 7, 3, 3]))
    >>> mapping
    {3: 1, 7: 0}
    >>> y_mapped
    array([0, 0, 0, 1, 1])
    """
    trues, preds, single, bg = _check_labels(y_true, y_pred, background)
    keep = _keep_masks(trues, bg)
    mappings = _mappings(trues, preds, keep, matching)
    pred_u, tables = _remap_tables(trues, preds, bg, mappings)
    if matching == "global":
        tables = tables * len(preds)
    mapped = [_lookup(p, pred_u, table) for p, table in zip(preds, tables)]
    mapping = mappings[0] if matching == "global" else mappings
    return mapping, (mapped[0] if single else mapped)


# --------------------------------------------------------------------------- shared preparation


@dataclass
class _Prepared:
    """The evaluated frames of each video (videos with none are dropped), after matching."""

    trues: list  # kept GT labels
    preds: list  # kept predictions, remapped to GT labels (unmatched: never a GT label)
    positions: list  # frame index of each kept frame in its video
    background: np.ndarray
    per_video: bool

    @property
    def n_frames(self):
        return int(sum(t.size for t in self.trues))


def _prepare(y_true, y_pred, matching, background):
    trues, preds, _, bg = _check_labels(y_true, y_pred, background)
    keep = _keep_masks(trues, bg)
    if not any(k.any() for k in keep):
        raise ValueError("no frames left to evaluate: every GT label is a background label.")
    if matching is not None:
        mappings = _mappings(trues, preds, keep, matching)
        pred_u, tables = _remap_tables(trues, preds, bg, mappings)
        if matching == "global":
            tables = tables * len(preds)
        preds = [_lookup(p, pred_u, table) for p, table in zip(preds, tables)]
    out_t, out_p, out_pos = [], [], []
    for t, p, k in zip(trues, preds, keep):
        if k.any():
            out_t.append(t[k])
            out_p.append(p[k])
            out_pos.append(np.flatnonzero(k))
    return _Prepared(out_t, out_p, out_pos, bg, matching == "per_video")


def _segments(labels, positions):
    """Maximal runs of equal label that do not cross removed frames.

    Returns ``(label, first, stop)`` arrays: indices into the kept arrays, ``stop`` exclusive.
    """
    brk = np.flatnonzero((labels[1:] != labels[:-1]) | (np.diff(positions) != 1)) + 1
    first = np.concatenate([[0], brk])
    stop = np.concatenate([brk, [labels.size]])
    return labels[first], first, stop


def _mean(values):
    return float(np.mean(values))


# --------------------------------------------------------------------------- MoF, mIoU


def _mof(t, p):
    return float(np.count_nonzero(t == p)) / t.size


def _miou(t, p):
    classes, ti = np.unique(t, return_inverse=True)
    pos = np.searchsorted(classes, p)
    pos_clip = np.minimum(pos, classes.size - 1)
    in_classes = classes[pos_clip] == p
    n_true = np.bincount(ti, minlength=classes.size)
    n_pred = np.bincount(pos_clip[in_classes], minlength=classes.size)
    inter = np.bincount(ti[t == p], minlength=classes.size)
    return float(np.mean(inter / (n_true + n_pred - inter)))


def _pooled_or_mean(prep, fn):
    if prep.per_video:
        return _mean([fn(t, p) for t, p in zip(prep.trues, prep.preds)])
    return fn(np.concatenate(prep.trues), np.concatenate(prep.preds))


@validate_params({"matching": _MATCHING, "background": _BACKGROUND},
                 prefer_skip_nested_validation=True)
def mof_score(y_true, y_pred, matching="global", background=None):
    r"""Mean over frames (MoF): the frame accuracy after Hungarian matching.

    .. math:: \mathrm{MoF} = \frac{\sum_{(a,g)\in\pi} M_{ag}}{N}

    where :math:`M` are the cluster/class overlap counts, :math:`\pi` the matching and
    :math:`N` the number of evaluated (non-background) frames. With ``matching="per_video"``
    it is computed per video and averaged **unweighted** over videos; with ``matching=None``
    it is the plain frame accuracy.

    Parameters
    ----------
    y_true, y_pred : list of 1-D int arrays, or one 1-D int array
        Ground-truth labels and predicted labels (cluster ids), one array per video.
    matching : {"global", "per_video", None}, default "global"
        See :func:`hungarian_match`; ``None`` compares the labels as they are.
    background : int or collection of int, optional
        GT labels whose frames are not evaluated. Videos with no evaluated frame are left
        out of per-video averages.

    Returns
    -------
    float
        MoF in [0, 1].

    References
    ----------
    M. Xu and S. Gould, CVPR 2024, Sec. 6 ("Metrics").

    Examples
    --------
    >>> import numpy as np
    >>> y_true = [np.array([0, 0, 0, 1, 1]), np.array([1, 1, 2, 2, 2])]
    >>> y_pred = [np.array([5, 5, 3, 3, 3]), np.array([3, 3, 3, 9, 9])]
    >>> mof_score(y_true, y_pred)  # 5 -> 0, 3 -> 1, 9 -> 2: 8 of 10 frames correct
    0.8
    >>> mof_score(y_true, y_pred, matching="per_video")  # (4/5 + 4/5) / 2
    0.8
    """
    return _pooled_or_mean(_prepare(y_true, y_pred, matching, background), _mof)


@validate_params({"matching": _MATCHING, "background": _BACKGROUND},
                 prefer_skip_nested_validation=True)
def miou_score(y_true, y_pred, matching="global", background=None):
    r"""Mean intersection over union over the GT classes present.

    .. math::
        \mathrm{mIoU} = \frac{1}{|\mathcal G|}\sum_{(a,g)\in\pi}
        \frac{M_{ag}}{|\{\hat y=a\}| + |\{y=g\}| - M_{ag}}

    where :math:`\mathcal G` is the set of GT classes present among the evaluated frames
    (ASOT spec §5.3). Unmatched GT classes count 0; unmatched clusters appear only through the
    frames they take from the classes. The average is over GT classes, not over the union of
    GT and predicted labels. With ``matching="per_video"``, :math:`\mathcal G` is each video's
    classes and the result is the unweighted mean over videos.

    Parameters
    ----------
    y_true, y_pred : list of 1-D int arrays, or one 1-D int array
        Ground-truth labels and predicted labels (cluster ids), one array per video.
    matching : {"global", "per_video", None}, default "global"
        See :func:`hungarian_match`.
    background : int or collection of int, optional
        GT labels whose frames are not evaluated.

    Returns
    -------
    float
        mIoU in [0, 1].

    References
    ----------
    M. Xu and S. Gould, CVPR 2024, Sec. 6 ("Metrics").
    """
    return _pooled_or_mean(_prepare(y_true, y_pred, matching, background), _miou)


# --------------------------------------------------------------------------- unsupervised F1


def _f1(precision, recall):
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _f1_exact(trues, preds, positions):
    tp = n_segments = 0
    for t, p, pos in zip(trues, preds, positions):
        _, first, stop = _segments(t, pos)
        correct = np.concatenate([[0], np.cumsum(t == p)])
        tp += int(np.count_nonzero(2 * (correct[stop] - correct[first]) > stop - first))
        n_segments += first.size
    n_actions = np.unique(np.concatenate(trues)).size
    precision = min(1.0, tp / (len(trues) * n_actions))
    return _f1(precision, tp / n_segments)


def _f1_sampled(trues, preds, rng, n_experiments, n_samples):
    t, p = np.concatenate(trues), np.concatenate(preds)
    change = np.flatnonzero(t[1:] != t[:-1]) + 1
    bounds = np.concatenate([[0], change, [t.size - 1]])
    lo, up = bounds[:-1], bounds[1:]  # inclusive on both ends, as in the reference code
    idx = rng.integers(lo[:, None, None], up[:, None, None] + 1,
                       size=(lo.size, n_experiments, n_samples))
    hits = (p[idx] == t[lo][:, None, None]).sum(axis=-1) * 2 > n_samples
    tp = int(hits.sum())
    n_actions = np.unique(t).size
    precision = tp / (len(trues) * n_actions * n_experiments)
    return _f1(precision, tp / (lo.size * n_experiments))


def _f1_unsup(prep, method, n_experiments, n_samples, random_state):
    if method == "exact":
        if prep.per_video:
            return _mean([_f1_exact([t], [p], [pos])
                          for t, p, pos in zip(prep.trues, prep.preds, prep.positions)])
        return _f1_exact(prep.trues, prep.preds, prep.positions)
    rng = check_random_state(random_state)
    n_experiments, n_samples = int(n_experiments), int(n_samples)
    if prep.per_video:
        return _mean([_f1_sampled([t], [p], rng, n_experiments, n_samples)
                      for t, p in zip(prep.trues, prep.preds)])
    return _f1_sampled(prep.trues, prep.preds, rng, n_experiments, n_samples)


@validate_params({"matching": _MATCHING, "background": _BACKGROUND,
                  "method": [StrOptions({"exact", "sampled"})], "n_experiments": POSITIVE_INT,
                  "n_samples": POSITIVE_INT, "random_state": RANDOM_STATE},
                 prefer_skip_nested_validation=True)
def f1_unsup_score(y_true, y_pred, matching="global", background=None, *, method="exact",
                   n_experiments=50, n_samples=15, random_state=0):
    r"""F1 of the unsupervised protocol (CTE/TOT/ASOT): GT segments recovered by their cluster.

    A GT segment (a maximal run of one class :math:`g`) is a true positive if more than half
    of its frames are predicted as the cluster matched to :math:`g`; with no cluster matched
    to :math:`g` it is not. With :math:`TP` true positives out of :math:`S` GT segments,

    .. math::
        R = \frac{TP}{S},\qquad P = \frac{TP}{n_{videos}\, n_{actions}},\qquad
        F_1 = \frac{2PR}{P+R}

    where :math:`n_{actions}` is the number of GT classes present. The precision denominator
    is the reference code's heuristic stand-in for the number of predicted segments (exact
    when every video shows every class once); it ignores over-segmentation. With
    ``matching="per_video"``, :math:`n_{videos}=1` and :math:`n_{actions}` is the video's own
    number of classes, and the F1 is averaged unweighted over videos.

    Parameters
    ----------
    y_true, y_pred : list of 1-D int arrays, or one 1-D int array
        Ground-truth labels and predicted labels (cluster ids), one array per video.
    matching : {"global", "per_video", None}, default "global"
        See :func:`hungarian_match`.
    background : int or collection of int, optional
        GT labels whose frames are not evaluated.
    method : {"exact", "sampled"}, default "exact"
        ``"exact"`` (deterministic): segments are taken per video (a segment also ends
        where background frames were removed), the test is on the exact fraction of correct
        frames, and :math:`P` is clipped to 1, so the score lies in [0, 1]; perfect
        prediction scores 1 whenever every video contains every GT class (always, per video).
        ``"sampled"`` mirrors the reference procedure for parity: segments are runs of the
        concatenated evaluated frames (runs merge across video boundaries), each segment's
        sampling range includes the first frame of the next segment, and for each of
        ``n_experiments`` repeats ``n_samples`` frames per segment are drawn uniformly with
        replacement; the segment counts as a TP in a repeat if more than half of its samples
        are correct. :math:`P` and :math:`R` divide by ``n_experiments`` too, and :math:`P`
        is not clipped (it can exceed 1 when a class occurs in several segments of a video).
    n_experiments, n_samples : int, default 50 and 15
        Repeats and samples per segment of ``method="sampled"`` (the reference values).
    random_state : int, numpy Generator or None, default 0
        Seed of ``method="sampled"``; the default makes it deterministic.

    Returns
    -------
    float
        The F1 score.

    References
    ----------
    M. Xu and S. Gould, CVPR 2024, Sec. 6 ("Metrics"); the procedure follows the TOT/CTE
    evaluation code used by the ASOT reference implementation.
    """
    prep = _prepare(y_true, y_pred, matching, background)
    return _f1_unsup(prep, method, n_experiments, n_samples, random_state)


# --------------------------------------------------------------------------- MS-TCN metrics


def _pred_segments(prep, p, pos):
    labels, first, stop = _segments(p, pos)
    fg = ~np.isin(labels, prep.background)
    return labels[fg], first[fg], stop[fg]


def _f1_counts(gt, pred, overlap):
    """MS-TCN's greedy matching of predicted to GT segments at one IoU threshold."""
    gl, gs, ge = gt
    pl, ps, pe = pred
    if pl.size == 0:
        return 0, 0, gl.size
    inter = np.clip(np.minimum(pe[:, None], ge[None]) - np.maximum(ps[:, None], gs[None]), 0, None)
    union = np.maximum(pe[:, None], ge[None]) - np.minimum(ps[:, None], gs[None])
    iou = np.where(pl[:, None] == gl[None], inter / union, 0.0)
    best = iou.argmax(axis=1)
    best_iou = iou[np.arange(pl.size), best]
    used = np.zeros(gl.size, dtype=bool)
    tp = fp = 0
    for j in range(pl.size):
        if best_iou[j] >= overlap and not used[best[j]]:
            tp += 1
            used[best[j]] = True
        else:
            fp += 1
    return tp, fp, gl.size - tp


def _check_overlaps(overlaps):
    """The thresholds of an ``overlaps`` sequence (an element check no constraint expresses)."""
    if not all(_OVERLAP[0].is_satisfied_by(o) for o in overlaps):
        raise ValueError(f"The 'overlaps' parameter of segmentation_scores must be a sequence "
                         f"of IoU thresholds in (0, 1]. Got {overlaps!r} instead.")
    return [float(o) for o in overlaps]


def _segmental_f1(prep, overlaps):
    counts = np.zeros((len(overlaps), 3), dtype=np.int64)
    for t, p, pos in zip(prep.trues, prep.preds, prep.positions):
        gl, gf, gs = _segments(t, pos)
        gt = (gl, pos[gf], pos[gs - 1] + 1)  # frame coordinates, stop exclusive
        pl, pf, ps = _pred_segments(prep, p, pos)
        pred = (pl, pos[pf], pos[ps - 1] + 1)
        for i, o in enumerate(overlaps):
            counts[i] += _f1_counts(gt, pred, o)
    out = []
    for tp, fp, fn in counts:
        precision = float(tp / (tp + fp)) if tp + fp else 0.0
        out.append(_f1(precision, float(tp / (tp + fn))))
    return out


def _levenshtein(a, b):
    """Edit distance between two label sequences, one NumPy row at a time."""
    row = np.arange(b.size + 1)
    cols = np.arange(b.size + 1)
    for i in range(1, a.size + 1):
        sub = row[:-1] + (b != a[i - 1])
        best = np.concatenate([[i], np.minimum(row[1:] + 1, sub)])
        # insertions: row[j] = min_k<=j (best[k] + j - k)
        row = np.minimum.accumulate(best - cols) + cols
    return int(row[-1])


def _edit(prep):
    scores = []
    for t, p, pos in zip(prep.trues, prep.preds, prep.positions):
        gl = _segments(t, pos)[0]
        pl = _pred_segments(prep, p, pos)[0]
        scores.append(1.0 - _levenshtein(pl, gl) / max(pl.size, gl.size))
    return _mean(scores)


@validate_params({"overlap": _OVERLAP, "matching": _MATCHING, "background": _BACKGROUND},
                 prefer_skip_nested_validation=True)
def segmental_f1_score(y_true, y_pred, overlap=0.5, matching="global", background=None):
    r"""Segmental F1@k of MS-TCN at the IoU threshold ``overlap`` (k = 100 * overlap).

    Segments are maximal runs of one label in each video. Each predicted segment, in order, is
    compared with the GT segments of the same class and takes the one of highest IoU
    (intersection over union of the frame intervals); it is a true positive if that IoU is at
    least ``overlap`` and the GT segment was not taken before, otherwise a false positive.
    False negatives are the GT segments never taken. :math:`TP, FP, FN` are summed over all
    videos, then

    .. math::
        P = \frac{TP}{TP+FP},\qquad R = \frac{TP}{TP+FN},\qquad F_1 = \frac{2PR}{P+R}

    (0 when :math:`TP=0`). Predicted segments labelled as background are ignored, like
    MS-TCN's ``bg_class``; background GT frames are removed and split the segments around them.
    The last segment of a video ends after its last frame (MS-TCN's ``eval.py`` ends it one
    frame early).

    Parameters
    ----------
    y_true, y_pred : list of 1-D int arrays, or one 1-D int array
        Ground-truth labels and predicted labels (cluster ids), one array per video.
    overlap : float, default 0.5
        IoU threshold in (0, 1]; MS-TCN reports 0.1, 0.25 and 0.5.
    matching : {"global", "per_video", None}, default "global"
        How cluster ids become class labels before the segments are compared; ``None`` for
        supervised predictions. The counts are summed over videos in every mode.
    background : int or collection of int, optional
        GT labels whose frames are not evaluated.

    Returns
    -------
    float
        F1@k in [0, 1].

    References
    ----------
    Y. A. Farha and J. Gall, "MS-TCN: Multi-Stage Temporal Convolutional Network for Action
    Segmentation", CVPR 2019; C. Lea et al., "Temporal Convolutional Networks for Action
    Segmentation and Detection", CVPR 2017.
    """
    prep = _prepare(y_true, y_pred, matching, background)
    return _segmental_f1(prep, [float(overlap)])[0]


@validate_params({"matching": _MATCHING, "background": _BACKGROUND},
                 prefer_skip_nested_validation=True)
def edit_score(y_true, y_pred, matching="global", background=None):
    r"""Segmental edit score of MS-TCN, as a fraction.

    Each video's labels are collapsed to their sequence of segment labels, :math:`s_{gt}` and
    :math:`s_{pred}`, and

    .. math::
        \mathrm{Edit} = 1 - \frac{\mathrm{Levenshtein}(s_{pred}, s_{gt})}
        {\max(|s_{pred}|, |s_{gt}|)}

    averaged unweighted over the videos. It penalises over-segmentation and wrong order but
    not boundary offsets. MS-TCN reports it times 100. Predicted segments labelled as background
    are dropped; removed background GT frames split the segments around them, so
    ``[a, bg, a]`` has the segment sequence ``[a, a]`` as in MS-TCN.

    Parameters
    ----------
    y_true, y_pred : list of 1-D int arrays, or one 1-D int array
        Ground-truth labels and predicted labels (cluster ids), one array per video.
    matching : {"global", "per_video", None}, default "global"
        How cluster ids become class labels; ``None`` for supervised predictions.
    background : int or collection of int, optional
        GT labels whose frames are not evaluated.

    Returns
    -------
    float
        Edit score in [0, 1].

    References
    ----------
    Y. A. Farha and J. Gall, CVPR 2019; C. Lea et al., CVPR 2017.
    """
    return _edit(_prepare(y_true, y_pred, matching, background))


# --------------------------------------------------------------------------- summaries


def _f1_key(overlap):
    return f"f1@{round(100 * float(overlap), 6):g}"


@validate_params({"matching": _MATCHING, "background": _BACKGROUND, "overlaps": ["array-like"],
                  "f1_method": [StrOptions({"exact", "sampled"})], "random_state": RANDOM_STATE},
                 prefer_skip_nested_validation=True)
def segmentation_scores(y_true, y_pred, matching="global", background=None, *,
                        overlaps=(0.1, 0.25, 0.5), f1_method="exact", random_state=0):
    """All segmentation metrics from one matching.

    Parameters
    ----------
    y_true, y_pred : list of 1-D int arrays, or one 1-D int array
        Ground-truth labels and predicted labels (cluster ids), one array per video.
    matching : {"global", "per_video", None}, default "global"
        See :func:`hungarian_match`; the same matching serves every metric.
    background : int or collection of int, optional
        GT labels whose frames are not evaluated (YouTube Instructions: ``-1``).
    overlaps : sequence of float, default (0.1, 0.25, 0.5)
        IoU thresholds of the segmental F1@k.
    f1_method : {"exact", "sampled"}, default "exact"
        See :func:`f1_unsup_score`.
    random_state : int, numpy Generator or None, default 0
        Seed of ``f1_method="sampled"``.

    Returns
    -------
    dict
        ``"mof"`` (:func:`mof_score`), ``"miou"`` (:func:`miou_score`), ``"f1"``
        (:func:`f1_unsup_score`), ``"f1@10"``, ``"f1@25"``, ``"f1@50"``
        (:func:`segmental_f1_score`, one key per overlap), ``"edit"`` (:func:`edit_score`),
        all fractions in [0, 1]; plus ``"n_frames"`` and ``"n_videos"``, the numbers of
        evaluated frames and videos (used by :func:`aggregate_over_activities`).

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    >>> y_pred = np.array([4, 4, 4, 6, 6, 6, 6, 5, 5, 5])
    >>> scores = segmentation_scores(y_true, y_pred)
    >>> {k: round(v, 3) for k, v in scores.items()}
    {'mof': 0.9, 'miou': 0.833, 'f1': 1.0, 'f1@10': 1.0, 'f1@25': 1.0, 'f1@50': 1.0,
     'edit': 1.0, 'n_frames': 10, 'n_videos': 1}
    """
    overlaps = _check_overlaps(overlaps)
    prep = _prepare(y_true, y_pred, matching, background)
    scores = {
        "mof": _pooled_or_mean(prep, _mof),
        "miou": _pooled_or_mean(prep, _miou),
        "f1": _f1_unsup(prep, f1_method, 50, 15, random_state),
    }
    for o, value in zip(overlaps, _segmental_f1(prep, overlaps)):
        scores[_f1_key(o)] = value
    scores["edit"] = _edit(prep)
    scores["n_frames"] = prep.n_frames
    scores["n_videos"] = len(prep.trues)
    return scores


_COUNT_KEYS = ("n_frames", "n_videos")


@validate_params({"weighting": [StrOptions({"default", "frames", "unweighted"})]},
                 prefer_skip_nested_validation=True)
def aggregate_over_activities(scores, weighting="default"):
    """Combine the scores of activities evaluated separately (Breakfast, YouTube Instructions).

    The paper trains and evaluates per activity and says only that the results are
    "aggregated". The default follows the ASOT spec (§8 #12): MoF is weighted by the number of
    evaluated frames, which equals pooling the frames since the per-activity matchings are
    disjoint; every other score is an unweighted mean over activities.

    Parameters
    ----------
    scores : mapping of activity -> dict, or sequence of dict
        Per-activity results of :func:`segmentation_scores` (any dicts of floats with the
        same keys; frame weighting needs their ``"n_frames"``).
    weighting : {"default", "frames", "unweighted"}, default "default"
        ``"frames"`` weights every score by ``n_frames``; ``"unweighted"`` averages every
        score plainly. Report both when comparing with papers that do not say.

    Returns
    -------
    dict
        The aggregated scores, with ``"n_frames"`` and ``"n_videos"`` summed when present.

    Examples
    --------
    >>> aggregate_over_activities([{"mof": 0.5, "f1": 0.25, "n_frames": 300},
    ...                            {"mof": 1.0, "f1": 0.75, "n_frames": 100}])
    {'mof': 0.625, 'f1': 0.5, 'n_frames': 400}
    """
    items = list(scores.values()) if isinstance(scores, Mapping) else list(scores)
    if not items:
        raise ValueError("scores is empty: pass the results of at least one activity.")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValueError(
                f"activity {i} is a {type(item).__name__}, not a dict of scores; pass a "
                "mapping activity -> dict or a sequence of dicts (segmentation_scores output)."
            )
    keys = list(items[0])
    for i, item in enumerate(items):
        if set(item) != set(keys):
            raise ValueError(
                f"activity {i} has the keys {sorted(item)}, expected {sorted(keys)}."
            )
    metric_keys = [k for k in keys if k not in _COUNT_KEYS]
    for k in keys:
        values = [item[k] for item in items]
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                   and np.isfinite(v) for v in values):
            raise ValueError(f"every activity's {k!r} must be a finite number; got {values!r}.")
        if k in _COUNT_KEYS and any(v < 0 or v != int(v) for v in values):
            raise ValueError(f"every activity's {k!r} must be a non-negative count; got "
                             f"{values!r}.")
    needs_frames = weighting == "frames" or (weighting == "default" and "mof" in metric_keys)
    if needs_frames:
        if "n_frames" not in keys:
            raise ValueError(
                "frame weighting needs an 'n_frames' entry in every activity's scores."
            )
        frames = np.asarray([item["n_frames"] for item in items], dtype=float)
        if np.any(frames <= 0):
            raise ValueError("every activity's 'n_frames' must be positive.")
    out = {}
    for k in metric_keys:
        values = np.asarray([item[k] for item in items], dtype=float)
        if weighting == "frames" or (weighting == "default" and k == "mof"):
            out[k] = float(np.sum(frames * values) / frames.sum())
        else:
            out[k] = float(values.mean())
    for k in _COUNT_KEYS:
        if k in keys:
            out[k] = int(sum(item[k] for item in items))
    return out
