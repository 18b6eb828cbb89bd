"""Command line: ``seqot demo``, ``seqot segment`` and ``seqot fewshot``.

Also run as ``python -m seqot ...``. Every sub-command explains its options with ``--help``.
Problems with the input (missing folders or files, wrong shapes, bad option values) end the
command with exit status 2 and a one-line message on stderr naming the problem (and the
option at fault). The outputs are written only once everything has been computed, and as a
whole: a failed or interrupted run leaves an existing output exactly as it was, and no new
one behind.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from .utils._files import make_parents, remove_empty, replace_folder, write_text_atomically

__all__ = ["main"]

_METHODS = ("cmot", "deepemd", "dtw", "mean")
# What every code path of --random-state accepts (EpisodeSampler: a RandomState seed).
_MAX_SEED = 2**32 - 1


class _UsageError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with errors in one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------- option types
# argparse reports an ArgumentTypeError raised here as "argument --flag: <message>".


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; got {text!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _nonneg_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0; got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0; got {text!r}")
    return value


def _seed(text):
    expected = f"expected an integer from 0 to 2**32 - 1 = {_MAX_SEED}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{expected}; got {text!r}") from None
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"{expected}; got {value}")
    return value


# --------------------------------------------------------------------------- helpers


def _one_line(exc):
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _resolve_device(device):
    from .utils._torch import resolve_device

    try:
        return resolve_device(device)
    except ValueError as exc:
        raise _UsageError(f"--device: {_one_line(exc)}") from None


def _check_output_path(path, *, kind):
    """Fail early (before any work) when ``path`` (``--output``) cannot be written as a
    ``kind`` ("folder", replaced as a whole, or "file")."""
    if path.exists():
        if kind == "folder" and not path.is_dir():
            raise _UsageError(f"--output: {path} exists and is not a folder.")
        if kind == "file" and path.is_dir():
            raise _UsageError(f"--output: {path} is a folder; give a file name such as "
                              f"{path / 'results.json'}.")
        if kind == "folder":
            _check_replaceable(path)
        targets = [path.parent, path] if kind == "folder" else [path.parent]
    else:
        target = path.parent
        while not target.exists():
            target = target.parent
        if not target.is_dir():
            raise _UsageError(f"--output: cannot create {path}: {target} is not a folder.")
        targets = [target]
    for target in targets:
        if not os.access(target, os.W_OK | os.X_OK):
            raise _UsageError(f"--output: cannot write {path}: no write permission in "
                              f"{target}.")


def _check_replaceable(folder):
    """The existing predictions folder is replaced as a whole: refuse one that holds
    anything else (a mistyped --output such as the data set's folder or ``.``)."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = None
    real = folder.resolve()
    if cwd is not None and (real == cwd or real in cwd.parents):
        raise _UsageError(f"--output: {folder} is (or holds) the current folder; it would be "
                          f"replaced as a whole. Give a predictions folder.")
    try:
        others = sorted(p.name for p in folder.iterdir()
                        if not (p.name.endswith(".txt") and p.is_file()))
    except OSError as exc:
        raise _UsageError(f"--output: cannot read {folder}: {_one_line(exc)}") from None
    if others:
        raise _UsageError(f"--output: {folder} holds {others[0]!r}, which is not a "
                          f"<video>.txt prediction file; the folder would be replaced as a "
                          f"whole. Give a new folder or one that holds only predictions.")


def _progress(iterable, *, enabled, **kwargs):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def _say(args, message):
    if not args.quiet:
        print(message, file=sys.stderr)


# --------------------------------------------------------------------------- segment


_SEGMENT_EPILOG = """\
layout of <mstcn-root> (MS-TCN, as distributed for Breakfast, 50 Salads, GTEA):
  features/<video>.npy       (D, T) frame features (--time-major for (T, D) files)
  groundTruth/<video>.txt    optional: T lines, one action name per frame
  mapping/mapping.txt        "<id> <action name>" lines (needed with groundTruth)
  splits/<name>.bundle       optional: the videos of a split, one per line

ASOT is fitted on all loaded videos and predicts the same videos (the paper's transductive
protocol). One <video>.txt per video is written to the output folder, one label per frame:
with ground truth, each cluster is named after the action it is matched to by the global
Hungarian matching (unmatched clusters as "cluster_<id>") and MoF, F1, F1@{10,25,50}, mIoU
and edit are printed; without it, the cluster ids themselves are written.

example:
  seqot segment data/gtea --n-actions 11 --background background --subsample 2
"""


def _add_segment_parser(sub):
    p = sub.add_parser(
        "segment", help="unsupervised action segmentation (ASOT) of an MS-TCN data set",
        description="Segment the videos of a data set in the MS-TCN layout into K actions "
                    "with ASOT (Xu and Gould, CVPR 2024) and write per-video predictions.",
        epilog=_SEGMENT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", metavar="mstcn-root", help="the data set's folder")
    p.add_argument("--n-actions", "-K", type=_int_at_least(1), required=True, metavar="K",
                   help="number of actions (clusters) to segment into (required)")
    p.add_argument("--features-dir", default="features", metavar="DIR",
                   help="feature folder, relative to the root (default: %(default)s); e.g. "
                        "features/<activity> for data stored per activity")
    p.add_argument("--split", metavar="NAME.bundle",
                   help="only the videos of this bundle in <root>/splits (default: every "
                        ".npy file of the feature folder)")
    p.add_argument("--output", "-o", metavar="DIR",
                   help="where to write <video>.txt predictions (default: "
                        "<root>/predictions). An existing folder is replaced as a whole, "
                        "only once the run has succeeded: files in it that the run does not "
                        "write are removed, and a folder holding anything but .txt files is "
                        "refused")
    p.add_argument("--epochs", type=_int_at_least(1), default=15, metavar="N",
                   help="training passes over the videos (default: %(default)s)")
    p.add_argument("--rho", type=_nonneg_float, default=0.15, metavar="R",
                   help="weight of the global temporal prior (default: %(default)s; 0 for "
                        "activities without a canonical action order)")
    p.add_argument("--background", nargs="+", metavar="NAME",
                   help="action names of the mapping that are background: not evaluated, "
                        "not matched to clusters")
    p.add_argument("--length-mismatch", choices=("error", "truncate"), default="error",
                   help="when a ground-truth file and its features differ in length: stop "
                        "with an error, or cut both to the shorter (default: %(default)s)")
    p.add_argument("--subsample", type=_int_at_least(1), default=1, metavar="k",
                   help="keep every k-th frame (default: %(default)s); predictions and "
                        "metrics are at the subsampled rate")
    p.add_argument("--standardize", action="store_true",
                   help="z-score every video's features (the authors do this for Breakfast)")
    p.add_argument("--time-major", action="store_true",
                   help="feature files hold (T, D) arrays instead of MS-TCN's (D, T)")
    p.add_argument("--random-state", type=_seed, default=0, metavar="S",
                   help="seed of sampling, initialisation and k-means, from 0 to 2**32 - 1 "
                        "(default: %(default)s)")
    p.add_argument("--device", default="auto",
                   help="torch device: auto (CUDA when available), cpu, cuda, cuda:N "
                        "(default: %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bars or messages; only the metrics are printed")
    p.set_defaults(func=_run_segment)
    return p


def _write_predictions_atomically(out, video_names, labels, names):
    """All files or none: ``out`` is replaced as a whole (see :func:`seqot.utils._files.replace_folder`)."""
    from .segmentation import write_mstcn_predictions

    replace_folder(out, lambda folder: write_mstcn_predictions(folder, video_names, labels,
                                                                names))
    return [out / f"{v}.txt" for v in video_names]


def _run_segment(args):
    root = Path(args.root)
    if not root.is_dir():
        raise _UsageError(f"data set folder {root} does not exist.")
    out = Path(args.output) if args.output is not None else root / "predictions"
    _check_output_path(out, kind="folder")
    device = _resolve_device(args.device)

    from .segmentation import (ASOTSegmenter, hungarian_match, load_mstcn_dataset,
                               segmentation_scores)

    try:
        data = load_mstcn_dataset(root, split=args.split, features_dir=args.features_dir,
                                  background=args.background,
                                  length_mismatch=args.length_mismatch,
                                  subsample=args.subsample, transpose=not args.time_major)
    except ValueError as exc:  # the loader's hints name its Python arguments: name the flags
        message = _one_line(exc).replace(
            "pass length_mismatch='truncate'", "pass --length-mismatch truncate").replace(
            "; pass non_finite='zero' to replace them by 0", "")
        for start, flag in (("features folder ", "--features-dir"), ("split bundle ", "--split"),
                            ("background ", "--background")):
            if message.startswith(start):
                message = f"{flag}: {message}"
        raise _UsageError(message) from None
    n_frames = sum(len(x) for x in data.X)
    has_gt = data.y is not None
    _say(args, f"loaded {len(data.X)} videos, {n_frames} frames of {data.X[0].shape[1]} "
               f"features from {root}" + (f"; ground truth with {len(data.action_names)} "
                                          f"actions" if has_gt else "; no ground truth"))
    if n_frames < args.n_actions:
        raise _UsageError(f"--n-actions {args.n_actions} is more than the {n_frames} frames "
                          f"loaded.")

    seg = ASOTSegmenter(n_actions=args.n_actions, max_epochs=args.epochs, rho=args.rho,
                        standardize="per_sequence" if args.standardize else False,
                        device=str(device),
                        random_state=args.random_state, verbose=not args.quiet)
    labels = [lab.astype("int64") for lab in seg.fit_predict(data.X)]

    scores, names = None, None
    if has_gt:
        background = -1 if any((y < 0).any() for y in data.y) else None
        if all((y < 0).all() for y in data.y):
            raise _UsageError("every ground-truth frame is background (--background): "
                              "nothing to evaluate.")
        scores = segmentation_scores(data.y, labels, background=background)
        mapping, _ = hungarian_match(data.y, labels, background=background)
        names = {c: data.action_names[mapping[c]] if c in mapping else f"cluster_{c}"
                 for c in range(args.n_actions)}

    paths = _write_predictions_atomically(out, data.video_names, labels, names)
    _say(args, f"wrote {len(paths)} prediction files to {out}")
    if scores is not None:
        keys = [("MoF", "mof"), ("F1", "f1"), ("F1@10", "f1@10"), ("F1@25", "f1@25"),
                ("F1@50", "f1@50"), ("mIoU", "miou"), ("Edit", "edit")]
        print("  ".join(f"{label:>6}" for label, _ in keys))
        print("  ".join(f"{100 * scores[key]:6.1f}" for _, key in keys))
        print(f"({scores['n_videos']} videos, {scores['n_frames']} evaluated frames, global "
              f"Hungarian matching of {args.n_actions} clusters)")
    else:
        print(f"{len(paths)} videos segmented into {args.n_actions} clusters (no ground "
              f"truth: no metrics); predictions in {out}")
    return 0


# --------------------------------------------------------------------------- fewshot


_FEWSHOT_EPILOG = """\
input:
  <features-dir>/<video>.npy   one (T, d) array per video (--transpose for (d, T) files);
                               T may differ between videos, d may not
  labels.csv                   a header line with the columns video,label (others are
                               ignored), then one row per video

methods:
  cmot     CMOT nearest centroid (segment-pooled, --n-segments)
  deepemd  DeepEMD (EMD between the sets of frames)
  dtw      nearest centroid under dynamic time warping
  mean     nearest centroid of the time-averaged features

Every episode draws n-way classes with n-shot support and n-query query videos each (only
classes with at least n-shot + n-query videos take part) and the accuracy over the queries
is averaged over episodes; "mean ± 1.96 std / sqrt(episodes)" is printed.

example:
  seqot fewshot feats/ --labels labels.csv --n-way 5 --n-shot 1 --output results.json
"""


def _add_fewshot_parser(sub):
    p = sub.add_parser(
        "fewshot", help="N-way K-shot episodes over a folder of per-video .npy features",
        description="Few-shot classification of videos: accuracy ± 95% CI over random "
                    "N-way K-shot episodes.",
        epilog=_FEWSHOT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("features_dir", metavar="features-dir",
                   help="folder of <video>.npy feature files")
    p.add_argument("--labels", required=True, metavar="CSV",
                   help="CSV file with a header and the columns video,label (required)")
    p.add_argument("--n-way", type=_int_at_least(2), default=5, metavar="N",
                   help="classes per episode (default: %(default)s)")
    p.add_argument("--n-shot", type=_int_at_least(1), default=1, metavar="K",
                   help="support videos per class (default: %(default)s)")
    p.add_argument("--n-query", type=_int_at_least(1), default=5, metavar="Q",
                   help="query videos per class (default: %(default)s)")
    p.add_argument("--episodes", type=_int_at_least(1), default=600, metavar="E",
                   help="number of episodes (default: %(default)s)")
    p.add_argument("--method", choices=_METHODS, default="cmot",
                   help="classifier (default: %(default)s); see below")
    p.add_argument("--n-segments", type=_int_at_least(0), default=8, metavar="S",
                   help="cmot: average every video over S temporal segments, 0 for no "
                        "pooling, at most the longest video's length (default: %(default)s)")
    p.add_argument("--transpose", action="store_true",
                   help="feature files hold (d, T) arrays")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="also write the results (per-episode accuracies included) to this "
                        "JSON file")
    p.add_argument("--random-state", type=_seed, default=0, metavar="S",
                   help="seed of the episodes, from 0 to 2**32 - 1 (default: %(default)s)")
    p.add_argument("--device", default="auto",
                   help="torch device: auto (CUDA when available), cpu, cuda, cuda:N "
                        "(default: %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bars or messages; only the accuracy is printed")
    p.set_defaults(func=_run_fewshot)
    return p


def _read_labels(path):
    """``[(video, label), ...]`` from the CSV, validated."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError:
        raise _UsageError(f"--labels file {path} is not a UTF-8 text file.") from None
    except csv.Error as exc:
        raise _UsageError(f"--labels file {path}: {_one_line(exc)}") from None
    rows = [(n, row) for n, row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise _UsageError(f"--labels file {path} is empty; expected a header 'video,label'.")
    header = [cell.strip().lower() for cell in rows[0][1]]
    missing = [c for c in ("video", "label") if c not in header]
    if missing:
        raise _UsageError(f"--labels file {path} lacks the column{'s' if len(missing) > 1 else ''}"
                          f" {', '.join(missing)}: its header line is {rows[0][1]!r}; expected "
                          f"a header 'video,label'.")
    iv, il = header.index("video"), header.index("label")
    entries, seen = [], {}
    for lineno, row in rows[1:]:
        if len(row) <= max(iv, il):
            raise _UsageError(f"--labels file {path}, line {lineno}: expected {len(header)} "
                              f"columns; got {row!r}.")
        video, label = row[iv].strip(), row[il].strip()
        if video.endswith(".npy") and len(video) > 4:
            video = video[:-4]
        if not video or not label:
            raise _UsageError(f"--labels file {path}, line {lineno}: empty "
                              f"{'video' if not video else 'label'}.")
        if video in (".", "..") or "/" in video or "\\" in video or os.sep in video:
            raise _UsageError(f"--labels file {path}, line {lineno}: video names must be file "
                              f"names without a folder part; got {video!r}.")
        if video in seen:
            raise _UsageError(f"--labels file {path}, line {lineno}: video {video!r} is already "
                              f"listed on line {seen[video]}.")
        seen[video] = lineno
        entries.append((video, label))
    if not entries:
        raise _UsageError(f"--labels file {path} has a header but no rows.")
    return entries


def _check_classes(entries, args, labels_path):
    from collections import Counter

    # classes with fewer than n_shot + n_query videos take no part (as --help says): the
    # sampler skips them, and the run reports how many
    counts = Counter(label for _, label in entries)
    if len(counts) < args.n_way:
        raise _UsageError(f"--n-way {args.n_way} is more than the {len(counts)} classes in "
                          f"{labels_path}.")
    need = args.n_shot + args.n_query
    eligible = [c for c, n in counts.items() if n >= need]
    if len(eligible) < args.n_way:
        raise _UsageError(f"{args.n_way}-way {args.n_shot}-shot episodes with {args.n_query} "
                          f"queries need {args.n_way} classes with at least {need} videos; "
                          f"only {len(eligible)} of the {len(counts)} classes have that many "
                          f"(lower --n-query or --n-way).")
    return counts, eligible


def _load_video(path, transpose):
    import numpy as np

    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _UsageError(f"cannot read features {path}: {_one_line(exc)}") from None
    if not isinstance(arr, np.ndarray):
        if hasattr(arr, "close"):
            arr.close()
        raise _UsageError(f"features {path} must hold one array (np.save), not an archive.")
    layout = "(d, T)" if transpose else "(T, d)"
    if arr.ndim != 2:
        raise _UsageError(f"features {path} must be a 2-D {layout} array; got shape "
                          f"{arr.shape}.")
    if arr.dtype.kind not in "fiub":
        raise _UsageError(f"features {path} must be numeric; got dtype {arr.dtype}.")
    X = np.ascontiguousarray(arr.T if transpose else arr, dtype=np.float32)
    if X.size == 0:
        raise _UsageError(f"features {path} are empty: shape {arr.shape}.")
    if not np.isfinite(X).all():
        raise _UsageError(f"features {path} contain NaN or infinity.")
    return X


def _make_classifier(args, device):
    from .fewshot import CMOTNearestCentroid, DeepEMDClassifier, SequenceNearestCentroid

    if args.method == "cmot":
        return CMOTNearestCentroid(n_segments=args.n_segments or None, device=device)
    if args.method == "deepemd":
        return DeepEMDClassifier(device=device, random_state=args.random_state)
    if args.method == "dtw":
        return SequenceNearestCentroid(metric="dtw", device=device)
    return SequenceNearestCentroid(metric="mean_euclidean", device=device)


def _write_json_atomically(path, payload):
    """The whole file or, on any failure, no change (and no new folders above it)."""
    made = make_parents(path)
    try:
        write_text_atomically(path, json.dumps(payload, indent=2) + "\n")
    except BaseException:
        remove_empty(made)
        raise


def _run_fewshot(args):
    feat_dir = Path(args.features_dir)
    if not feat_dir.is_dir():
        raise _UsageError(f"features folder {feat_dir} does not exist.")
    labels_path = Path(args.labels)
    if not labels_path.is_file():
        raise _UsageError(f"--labels file {labels_path} does not exist.")
    out = Path(args.output) if args.output is not None else None
    if out is not None:
        _check_output_path(out, kind="file")
    device = str(_resolve_device(args.device))

    entries = _read_labels(labels_path)
    counts, eligible = _check_classes(entries, args, labels_path)
    missing = [v for v, _ in entries if not (feat_dir / f"{v}.npy").is_file()]
    if missing:
        shown = ", ".join(repr(v) for v in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise _UsageError(f"{len(missing)} video(s) of {labels_path} have no features file "
                          f"<video>.npy in {feat_dir}: {shown}{more}.")

    X, first = [], None
    for video, _ in _progress(entries, enabled=not args.quiet, desc="loading", unit="video"):
        path = feat_dir / f"{video}.npy"
        x = _load_video(path, args.transpose)
        if first is None:
            first = (path, x.shape[1])
        elif x.shape[1] != first[1]:
            raise _UsageError(f"features {path} have d={x.shape[1]} features per frame but "
                              f"{first[0]} has d={first[1]}; every video needs the same d"
                              + (" (drop --transpose for (T, d) files)" if args.transpose else
                                 " (pass --transpose for (d, T) files)") + ".")
        X.append(x)
    longest = max(len(x) for x in X)
    if args.method == "cmot" and args.n_segments > longest:
        raise _UsageError(f"--n-segments {args.n_segments} is more than the {longest} frames "
                          f"of the longest video.")
    y = [label for _, label in entries]
    left_out = len(counts) - len(eligible)
    _say(args, f"loaded {len(X)} videos of {len(counts)} classes (d={first[1]}, T from "
               f"{min(len(x) for x in X)} to {max(len(x) for x in X)})"
         + (f"; {left_out} class(es) with fewer than {args.n_shot + args.n_query} videos take "
            f"no part" if left_out else ""))

    from .fewshot import EpisodeSampler, evaluate_episodes

    clf = _make_classifier(args, device)
    sampler = EpisodeSampler(n_way=args.n_way, n_shot=args.n_shot, n_query=args.n_query,
                             n_episodes=args.episodes, random_state=args.random_state)
    res = evaluate_episodes(clf, X, y, sampler, verbose=not args.quiet)
    print(f"{args.method}: {args.n_way}-way {args.n_shot}-shot accuracy "
          f"{100 * res.mean:.2f} ± {100 * res.ci95:.2f}% (95% CI over {args.episodes} "
          f"episodes, {args.n_query} queries per class)")
    if out is not None:
        _write_json_atomically(out, {
            "method": args.method,
            "n_way": args.n_way, "n_shot": args.n_shot, "n_query": args.n_query,
            "n_episodes": args.episodes,
            "n_segments": args.n_segments if args.method == "cmot" else None,
            "random_state": args.random_state,
            "accuracy": res.mean, "ci95": res.ci95,
            "episode_accuracies": res.scores.tolist(),
            "n_videos": len(X), "n_classes": len(counts), "n_features": first[1],
            "features_dir": str(feat_dir), "labels": str(labels_path),
        })
        _say(args, f"wrote {out}")
    return 0


# --------------------------------------------------------------------------- demo and main


def _run_demo(args):
    from ._demo import run_demo

    run_demo(quick=args.quick, verbose=not args.quiet, out=sys.stdout)
    return 0


def _build_parser():
    parser = _Parser(
        prog="seqot", description="Optimal transport for sequences: demos and tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command",
                                parser_class=_Parser)
    p_demo = sub.add_parser(
        "demo", help="run every method on bundled real data and synthetic reproductions",
        description="Run every method on bundled real data and synthetic reproductions and "
                    "print one results table.")
    p_demo.add_argument("--quick", action="store_true", help="fewer episodes/iterations")
    p_demo.add_argument("--quiet", action="store_true", help="no progress bars")
    p_demo.set_defaults(func=_run_demo)
    _add_segment_parser(sub)
    _add_fewshot_parser(sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (0 success, 2 bad input)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return args.func(args)
    except (_UsageError, ValueError, OSError) as exc:
        print(f"seqot {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seqot {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
