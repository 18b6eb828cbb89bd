"""Reading and writing the on-disk layout of the action-segmentation benchmarks.

Breakfast, 50 Salads and GTEA are distributed, with precomputed frame features, in the layout
introduced with MS-TCN (Farha and Gall 2019) and reused by most later work, ASOT's code
included: one ``.npy`` feature file and one text ground-truth file per video, a
``mapping.txt`` from action ids to names, and text "bundles" listing the videos of each split.
:func:`load_mstcn_dataset` reads it into the ragged lists that :class:`ASOTSegmenter` and the
metrics of :mod:`seqot.segmentation.metrics` take; :func:`write_mstcn_predictions` writes
frame labels back as one ``<video>.txt`` per video, in the ground-truth format.

References
----------
.. [1] Y. A. Farha and J. Gall, "MS-TCN: Multi-Stage Temporal Convolutional Network for
   Action Segmentation", CVPR 2019.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..utils._files import write_text_atomically
from ..utils._param_validation import POSITIVE_INT, StrOptions, validate_params
from ..utils._validation import check_frame_labels

__all__ = ["load_mstcn_dataset", "write_mstcn_predictions"]

_LENGTH_POLICIES = ("error", "truncate")
_NON_FINITE_POLICIES = ("error", "zero")
# Suffixes stripped from video names given in bundles or in ``videos``.
_NAME_SUFFIXES = (".txt", ".npy")
_PATH = [str, os.PathLike]


# --------------------------------------------------------------------------- helpers


def _strip_suffix(name):
    for suffix in _NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _read_lines(path):
    """The lines of a text file (UTF-8, any newline convention), trailing blanks removed."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark is no label
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a UTF-8 text file ({exc}).") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _read_mapping(path):
    """``[(id, name), ...]`` from a ``"<id> <name>"`` file, sorted by id."""
    entries, seen_ids, seen_names = [], {}, {}
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line:
            continue
        parts = line.split(maxsplit=1)
        try:
            if len(parts) != 2:
                raise ValueError
            idx = int(parts[0])
        except ValueError:
            raise ValueError(
                f"{path}, line {lineno}: expected '<integer id> <action name>'; got {line!r}."
            ) from None
        name = parts[1].strip()
        if idx in seen_ids:
            raise ValueError(f"{path}, line {lineno}: id {idx} already given to "
                             f"{seen_ids[idx]!r} (line {seen_names[seen_ids[idx]]}).")
        if name in seen_names:
            raise ValueError(f"{path}, line {lineno}: action {name!r} already listed "
                             f"(line {seen_names[name]}).")
        seen_ids[idx], seen_names[name] = name, lineno
        entries.append((idx, name))
    if not entries:
        raise ValueError(f"{path} lists no actions.")
    return sorted(entries)


def _read_bundle(path):
    names, seen = [], {}
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line:
            continue
        name = _strip_suffix(line)
        if name in seen:
            raise ValueError(f"{path}, line {lineno}: video {name!r} already listed "
                             f"(line {seen[name]}).")
        seen[name] = lineno
        names.append(name)
    if not names:
        raise ValueError(f"split bundle {path} lists no videos.")
    return names


def _check_video_name(name, what):
    if not isinstance(name, str) or not name or name in (".", "..") or any(
            sep in name for sep in ("/", "\\", os.sep)):
        raise ValueError(f"{what}: video names must be non-empty file names without a "
                         f"directory part; got {name!r}.")


def _parse_background(background, names, mapping_path):
    if background is None:
        return set()
    # the container's type is a declared constraint; its entries are checked here
    values = [background] if isinstance(background, str) else list(background)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"background must be None, an action name or a collection of action "
                         f"names; got {background!r}.")
    for v in values:
        if v not in names:
            raise ValueError(f"background action {v!r} is not in the mapping {mapping_path}.")
    return set(values)


def _load_features(path, *, transpose, dtype, non_finite):
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as exc:  # object arrays, pickles, corrupt headers, empty
        raise ValueError(f"cannot read features {path}: {exc or 'empty file'}") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive under a .npy name
        if hasattr(arr, "close"):
            arr.close()
        raise ValueError(f"features {path} must hold one array (np.save), not an archive.")
    if arr.ndim != 2:
        raise ValueError(f"features {path} must be 2-D ({'(D, T)' if transpose else '(T, D)'});"
                         f" got shape {arr.shape}.")
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"features {path} must be numeric; got dtype {arr.dtype}.")
    X = np.ascontiguousarray(arr.T if transpose else arr, dtype=dtype)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"features {path} are empty: shape {arr.shape}.")
    finite = np.isfinite(X)
    if not finite.all():
        if non_finite == "error":
            t = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise ValueError(f"features {path} contain NaN or infinity (first at frame {t}); "
                             f"pass non_finite='zero' to replace them by 0.")
        X[~finite] = 0
    return X


def _find_gt(gt_root, video):
    for candidate in (gt_root / f"{video}.txt", gt_root / video):
        if candidate.is_file():
            return candidate
    return None


def _read_gt(path, name_to_label):
    lines = _read_lines(path)
    if not lines:
        raise ValueError(f"ground truth {path} is empty.")
    labels = np.empty(len(lines), dtype=np.int64)
    for t, line in enumerate(lines):
        try:
            labels[t] = name_to_label[line]
        except KeyError:
            raise ValueError(f"{path}, line {t + 1}: action {line!r} is not in the mapping."
                             if line else f"{path}, line {t + 1}: empty line inside the file."
                             ) from None
    return labels


# --------------------------------------------------------------------------- public API


@validate_params({"root": _PATH, "split": [*_PATH, None], "videos": [list, tuple, None],
                  "mapping": _PATH, "features_dir": _PATH, "gt_dir": _PATH,
                  "splits_dir": _PATH, "background": [str, list, tuple, set, frozenset, None],
                  "length_mismatch": [StrOptions(set(_LENGTH_POLICIES))],
                  "subsample": POSITIVE_INT, "transpose": ["boolean"],
                  "non_finite": [StrOptions(set(_NON_FINITE_POLICIES))]},
                 prefer_skip_nested_validation=True)
def load_mstcn_dataset(root, *, split=None, videos=None, mapping="mapping/mapping.txt",
                       features_dir="features", gt_dir="groundTruth", splits_dir="splits",
                       background=None, length_mismatch="error", subsample=1, transpose=True,
                       non_finite="error", dtype=np.float32):
    r"""Load an action-segmentation data set stored in the MS-TCN layout.

    The layout of the Breakfast, 50 Salads and GTEA downloads distributed with MS-TCN [1]_
    (also read by ASOT's code)::

        root/
        ├── features/
        │   ├── <video>.npy        float array of shape (D, T): one column per frame
        │   └── ...
        ├── groundTruth/           optional (without it, y is None)
        │   ├── <video>.txt        T lines, one action name per frame
        │   └── ...
        ├── mapping/
        │   └── mapping.txt        lines "<id> <action name>", e.g. "0 SIL"
        └── splits/                optional
            ├── train.split1.bundle    one "<video>.txt" per line
            └── test.split1.bundle

    Parameters
    ----------
    root : str or path-like
        The data set's folder (e.g. ``data/breakfast``).
    split : str or path-like, optional
        A bundle file, e.g. ``"test.split1.bundle"``, looked up in ``root/splits_dir``
        (an absolute path is used as is): only its videos are loaded, in its order. The
        listed names may carry a ``.txt`` (or ``.npy``) suffix.
    videos : list or tuple of str, optional
        The videos to load, in this order (same suffix rule). Exclusive with ``split``.
        By default every ``*.npy`` file of the features folder is loaded, sorted by name.
    mapping : str or path-like, default="mapping/mapping.txt"
        The id-to-name file, relative to ``root`` (or absolute). Required when ground truth is
        read; without ground truth a missing mapping gives ``action_names=None``.
    features_dir, gt_dir, splits_dir : str or path-like
        Folders relative to ``root`` (or absolute). Data sets whose features are stored per
        activity (ASOT's Breakfast copy: ``features/<activity>/<video>.npy``) are read one
        activity at a time with ``features_dir="features/<activity>"``. Ground-truth files
        are ``<video>.txt``, or ``<video>`` without a suffix (ASOT's copies). When the
        ground-truth folder does not exist, only features are loaded (``y=None``).
    background : str, or list, tuple or set of str, optional
        Action names whose frames get the label ``-1``, the background convention of
        :mod:`seqot.segmentation.metrics` (evaluate with ``background=-1``), e.g.
        ``"background"`` for GTEA or ``"Background"`` for Desktop Assembly. Mapping entries
        with a negative id are background as well.
    length_mismatch : {"error", "truncate"}, default="error"
        What to do when a ground-truth file and its features have different numbers of
        frames (some benchmark files are a few frames off). ``"error"`` raises a
        ``ValueError`` naming the video; ``"truncate"`` cuts both to the shorter length
        (dropping the extra frames at the end).
    subsample : int, default=1
        Keep every ``subsample``-th frame (features and labels alike), starting with the
        first. Breakfast's features are at 15 fps, and a factor of 2 to 10 is common.
    transpose : bool, default=True
        The feature files hold ``(D, T)`` arrays (MS-TCN); ``False`` for ``(T, D)`` files.
    non_finite : {"error", "zero"}, default="error"
        NaN or infinite feature values raise a ``ValueError`` naming the file, or become 0
        (what ASOT's standardisation does for Breakfast).
    dtype : numpy float dtype, default=np.float32
        dtype of the returned features.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``
            list of ``(T_i, D)`` feature arrays, one per video.
        ``y``
            list of ``(T_i,)`` int64 label arrays (indices into ``action_names``, ``-1`` for
            background frames), or ``None`` without a ground-truth folder.
        ``video_names``
            list of str, the videos in the order of ``X``.
        ``action_names``
            list of str, ``action_names[k]`` is the name of label ``k`` (background actions
            excluded), or ``None`` without a mapping file. When the mapping's ids are
            ``0..n-1`` and there is no background they are the file's ids; otherwise the
            remaining actions are renumbered ``0..K-1`` in the order of their ids.
        ``background_names``
            list of str, the actions mapped to ``-1``.
        ``root``
            :class:`pathlib.Path` of ``root``.
        ``split``
            the ``split`` argument (``None`` when not given).

    Raises
    ------
    ValueError
        On any problem with the layout, naming the file: missing or empty features folder,
        a listed video without features, features that are not 2-D or not finite, a missing
        ground-truth file for a video when the folder exists, an action name (or an empty
        line) in a ground-truth file that the mapping lacks, a malformed mapping, a length
        mismatch under ``length_mismatch="error"``, invalid arguments (scikit-learn's
        ``InvalidParameterError``, a ``ValueError``, for an option of the wrong type or out
        of its range).

    See Also
    --------
    write_mstcn_predictions : write frame labels in the ground-truth format.
    seqot.segmentation.segmentation_scores : evaluate predictions against ``y``.

    Notes
    -----
    Files are read with ``np.load(..., allow_pickle=False)``: an object or pickled array is
    rejected. Empty lines at the end of text files are ignored.

    References
    ----------
    .. [1] Y. A. Farha and J. Gall, "MS-TCN: Multi-Stage Temporal Convolutional Network for
       Action Segmentation", CVPR 2019.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from seqot.segmentation import load_mstcn_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name)
    >>> for sub in ("features", "groundTruth", "mapping"):
    ...     (root / sub).mkdir()
    >>> _ = (root / "mapping" / "mapping.txt").write_text("0 pour\n1 stir\n")
    >>> np.save(root / "features" / "v1.npy", np.zeros((4, 5)))  # (D, T)
    >>> _ = (root / "groundTruth" / "v1.txt").write_text("pour\npour\nstir\nstir\nstir\n")
    >>> data = load_mstcn_dataset(root)
    >>> data.video_names, data.X[0].shape, data.y[0], data.action_names
    (['v1'], (5, 4), array([0, 0, 1, 1, 1]), ['pour', 'stir'])
    >>> tmp.cleanup()
    """
    # the option parameters are declared constraints (validate_params); what no constraint
    # expresses is checked here: the dtype's kind, split and videos exclusive, the videos'
    # names, background names that the mapping must hold
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype must be a floating dtype; got {dtype!r}.")
    if split is not None and videos is not None:
        raise ValueError("pass either split or videos, not both.")

    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"data set folder {root} does not exist.")
    feat_root = root / features_dir
    if not feat_root.is_dir():
        raise ValueError(f"features folder {feat_root} does not exist.")

    # ---- which videos
    if split is not None:
        bundle = Path(split)
        if not bundle.is_absolute():
            bundle = root / splits_dir / bundle
        if not bundle.is_file():
            folder = bundle.parent
            found = sorted(p.name for p in folder.glob("*.bundle")) if folder.is_dir() else []
            raise ValueError(f"split bundle {bundle} does not exist"
                             + (f"; found {found}." if found else "."))
        names = _read_bundle(bundle)
        source = f"split bundle {bundle}"
    elif videos is not None:
        names = [_strip_suffix(v) if isinstance(v, str) else v for v in videos]
        if not names:
            raise ValueError("videos is empty: pass at least one video name.")
        if len(set(names)) != len(names):
            raise ValueError(f"videos lists a video more than once: {names!r}.")
        source = "videos"
    else:
        names = sorted(p.stem for p in feat_root.glob("*.npy") if p.is_file())
        if not names:
            raise ValueError(f"features folder {feat_root} holds no .npy files.")
        source = str(feat_root)
    for name in names:
        _check_video_name(name, source)

    # ---- mapping and ground truth
    gt_root = root / gt_dir
    has_gt = gt_root.is_dir()
    mapping_path = root / mapping
    action_names, background_names, name_to_label = None, [], None
    if mapping_path.is_file():
        entries = _read_mapping(mapping_path)
        all_names = {name for _, name in entries}
        bg = _parse_background(background, all_names, mapping_path)
        bg |= {name for idx, name in entries if idx < 0}
        action_names = [name for idx, name in entries if name not in bg]
        background_names = [name for _, name in entries if name in bg]
        name_to_label = {name: k for k, name in enumerate(action_names)}
        name_to_label.update({name: -1 for name in background_names})
    elif has_gt:
        raise ValueError(f"mapping file {mapping_path} does not exist; it is needed to read "
                         f"the ground truth in {gt_root}.")
    elif background is not None:
        raise ValueError(f"background needs the mapping file {mapping_path}, which does not "
                         f"exist.")

    # ---- per video
    X, y = [], ([] if has_gt else None)
    for name in names:
        feat_path = feat_root / f"{name}.npy"
        if not feat_path.is_file():
            raise ValueError(f"video {name!r} (from {source}) has no features file "
                             f"{feat_path}.")
        x = _load_features(feat_path, transpose=transpose, dtype=dtype, non_finite=non_finite)
        if has_gt:
            gt_path = _find_gt(gt_root, name)
            if gt_path is None:
                raise ValueError(f"video {name!r} has no ground-truth file "
                                 f"{gt_root / (name + '.txt')}.")
            labels = _read_gt(gt_path, name_to_label)
            if len(labels) != len(x):
                if length_mismatch == "error":
                    raise ValueError(
                        f"video {name!r}: ground truth {gt_path} has {len(labels)} frames but "
                        f"features {feat_path} have {len(x)}; pass length_mismatch='truncate' "
                        f"to cut both to the shorter.")
                n = min(len(labels), len(x))
                x, labels = x[:n], labels[:n]
            y.append(np.ascontiguousarray(labels[::subsample]))
        X.append(np.ascontiguousarray(x[::subsample]))

    return Bunch(X=X, y=y, video_names=list(names), action_names=action_names,
                 background_names=background_names, root=root, split=split)


@validate_params({"out_dir": _PATH, "video_names": [list, tuple],
                  "action_names": [list, tuple, Mapping, None], "background_name": [str, None]},
                 prefer_skip_nested_validation=True)
def write_mstcn_predictions(out_dir, video_names, labels, action_names=None, *,
                            background_name=None):
    """Write frame labels as one ``<video>.txt`` per video, one action name per line.

    The format of the MS-TCN ground-truth files, so predictions can be read back by
    :func:`load_mstcn_dataset` (``gt_dir=out_dir``) and by the benchmark's evaluation
    scripts. Every file is written to a temporary file in ``out_dir`` and moved into place
    with :func:`os.replace`, so no half-written file is left behind on failure; all inputs
    are validated before anything is written.

    Parameters
    ----------
    out_dir : str or path-like
        Output folder, created if missing. Existing files of the same names are replaced.
    video_names : list or tuple of str
        One file name stem per video.
    labels : sequence of 1-D int arrays
        Frame labels, one array per video.
    action_names : list or tuple of str, or mapping of int to str, optional
        ``action_names[k]`` is written for label ``k`` (e.g. ``data.action_names`` from
        :func:`load_mstcn_dataset`). By default the integer labels themselves are written
        (e.g. unmatched cluster ids).
    background_name : str, optional
        Written for negative labels (the background convention); required when a label is
        negative and ``action_names`` is given.

    Returns
    -------
    paths : list of pathlib.Path
        The written files, in the order of ``video_names``.

    Raises
    ------
    ValueError
        Mismatched numbers of videos and label arrays, duplicate or invalid video names,
        labels that are not 1-D integers, or a label without a name (scikit-learn's
        ``InvalidParameterError``, a ``ValueError``, for an argument of the wrong type).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from seqot.segmentation.io import write_mstcn_predictions
    >>> tmp = tempfile.TemporaryDirectory()
    >>> paths = write_mstcn_predictions(tmp.name, ["v1"], [np.array([0, 0, 1])],
    ...                                 ["pour", "stir"])
    >>> paths[0].name, paths[0].read_text().splitlines()
    ('v1.txt', ['pour', 'pour', 'stir'])
    >>> tmp.cleanup()
    """
    video_names = list(video_names)
    if isinstance(labels, np.ndarray) and labels.dtype != object:
        labels = [labels] if labels.ndim == 1 else list(labels)
    labels = list(labels)
    if len(video_names) != len(labels):
        raise ValueError(f"video_names has {len(video_names)} entries but labels has "
                         f"{len(labels)}.")
    seen = set()
    for name in video_names:
        _check_video_name(name, "video_names")
        if name in seen:
            raise ValueError(f"video_names lists {name!r} more than once.")
        seen.add(name)
    if background_name is not None and (not background_name.strip()
                                        or "\n" in background_name or "\r" in background_name):
        raise ValueError(f"background_name must be a one-line non-empty string; got "
                         f"{background_name!r}.")

    def name_of(k, video):
        if k < 0:
            if background_name is not None:
                return background_name
            if action_names is None:
                return str(k)
            raise ValueError(f"video {video!r}: label {k} is negative (background) but "
                             f"background_name is not given.")
        if action_names is None:
            return str(k)
        try:
            out = action_names[k]
        except (IndexError, KeyError):
            raise ValueError(f"video {video!r}: label {k} has no entry in action_names.") from None
        if not isinstance(out, str) or not out.strip() or "\n" in out or "\r" in out:
            raise ValueError(f"action_names[{k}] must be a one-line non-empty string; got "
                             f"{out!r}.")
        return out

    if action_names is not None and not isinstance(action_names, Mapping):
        action_names = list(action_names)
    contents = []
    for name, lab in zip(video_names, labels):
        a = check_frame_labels(lab, f"video {name!r}")
        table = {int(k): name_of(int(k), name) for k in np.unique(a)}
        contents.append("".join(table[int(k)] + "\n" for k in a))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in zip(video_names, contents):
        target = out_dir / f"{name}.txt"
        write_text_atomically(target, text)
        paths.append(target)
    return paths
