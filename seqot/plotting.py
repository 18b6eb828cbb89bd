"""Plots of segmentations, transport plans, alignments and kernel matrices (matplotlib).

matplotlib is an optional dependency (``pip install seqot[plot]``); it is imported only when
a function of this module is called, so ``import seqot`` works without it. Every function
draws into the given ``ax`` (a new figure and axes by default) and returns that Axes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .utils._param_validation import POSITIVE, HasMethods, StrOptions, validate_params
from .utils._validation import check_frame_labels

__all__ = [
    "plot_alignment",
    "plot_kernel_matrix",
    "plot_segmentation",
    "plot_transport_plan",
]

# Colour of negative (background) labels in plot_segmentation.
_BACKGROUND_COLOR = (0.85, 0.85, 0.85, 1.0)

# Constraints of the drawing options (the data arguments are checked by each function). They
# name no matplotlib class, so that this module imports without matplotlib: an Axes is what
# has the Axes methods drawn with, a Colormap is a callable, a colour is a name or a sequence
# of RGB(A) values (matplotlib itself tells a bad name).
_AX = [HasMethods(["imshow", "barh", "plot", "set_title"]), None]
_CMAP = [str, callable]
_COLOR = [str, tuple, list, np.ndarray]
_ASPECT = [StrOptions({"auto", "equal"}), *POSITIVE, None]
_TITLE = [str, None]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "seqot.plotting needs matplotlib: install it with `pip install seqot[plot]` "
            "(or `pip install matplotlib`)."
        ) from exc
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    else:
        _pyplot()
    return ax


def _to_numpy(a):
    """A numpy view of an array-like, torch tensors (any device) included."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _labels_1d(y, name):
    return check_frame_labels(y, f"{name} (one video)")


def _matrix(M, name):
    a = _to_numpy(M)
    if a.ndim != 2 or 0 in a.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array; got shape {a.shape}.")
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric; got dtype {a.dtype}.")
    return a


def _auto_aspect(shape, aspect):
    if aspect is not None:
        return aspect
    n, m = shape
    return "auto" if max(n, m) > 3 * min(n, m) else "equal"


def _runs(labels):
    """(starts, lengths, values) of the constant runs of a 1-D array."""
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [labels.size])))
    return starts, lengths, labels[starts]


@validate_params({"ax": _AX, "action_names": [list, tuple, np.ndarray, Mapping, None],
                  "cmap": _CMAP, "title": _TITLE}, prefer_skip_nested_validation=True)
def plot_segmentation(y_pred, y_true=None, *, ax=None, action_names=None, cmap="tab20",
                      title=None):
    """Draw frame labels of one video as horizontal colour bars, one row per labelling.

    Parameters
    ----------
    y_pred : 1-D int array or dict of str to 1-D int array
        Predicted frame labels, or several predictions as ``{name: labels}`` (one row each,
        in the dict's order).
    y_true : 1-D int array, optional
        Ground-truth labels, drawn as the top row ("ground truth").
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    action_names : list, tuple or array of str, or dict of int to str, optional
        Names of the labels; when given, a legend lists the labels present. Negative labels
        are called "background" unless a dict names them.
    cmap : str or matplotlib Colormap, default="tab20"
        Colours of the labels. The same label has the same colour in every row: the k-th
        smallest label present takes the colormap's k-th colour (cycling through qualitative
        maps such as "tab20", whose 10 darker colours come first). Negative labels
        (background) are light grey.
    title : str, optional

    Returns
    -------
    ax : matplotlib Axes
        One bar patch per constant segment of each row (``ax.patches``, row by row from the
        top); the rows are the y-ticks, labelled, from the top, "ground truth", then
        "prediction" or the dict's keys.

    Raises
    ------
    ValueError
        Rows of different lengths, labels that are not 1-D integers, a label missing from
        ``action_names``, or an empty dict.

    Notes
    -----
    Unsupervised predictions are cluster ids: match them to the ground-truth classes first
    with :func:`seqot.segmentation.hungarian_match` so that matched segments share a colour.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from seqot.plotting import plot_segmentation
    >>> ax = plot_segmentation([0, 0, 1, 1, 2], [0, 0, 0, 1, 2], action_names=["a", "b", "c"])
    >>> len(ax.patches)
    6
    >>> plt.close(ax.figure)
    """
    if isinstance(y_pred, Mapping):
        if not y_pred:
            raise ValueError("y_pred is an empty dict: pass at least one prediction.")
        rows = [(str(k), _labels_1d(v, f"y_pred[{k!r}]")) for k, v in y_pred.items()]
    else:
        rows = [("prediction", _labels_1d(y_pred, "y_pred"))]
    if y_true is not None:
        rows.insert(0, ("ground truth", _labels_1d(y_true, "y_true")))
    n_frames = rows[0][1].size
    for name, labels in rows:
        if labels.size != n_frames:
            raise ValueError(f"all rows must have the same number of frames; {rows[0][0]!r} "
                             f"has {n_frames} but {name!r} has {labels.size}.")

    present = np.unique(np.concatenate([labels for _, labels in rows]))

    def label_name(k):
        if action_names is None:
            return f"label {k}"
        if k < 0 and not (isinstance(action_names, Mapping) and k in action_names):
            return "background"  # never a sequence's negative (from-the-end) index
        try:
            return str(action_names[k])
        except (IndexError, KeyError, TypeError):
            raise ValueError(f"label {k} has no entry in action_names.") from None

    legend_names = {int(k): label_name(int(k)) for k in present} if action_names is not None \
        else None

    ax = _axes(ax)
    import matplotlib as mpl
    from matplotlib.patches import Patch

    colormap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    actions = present[present >= 0]
    if isinstance(colormap, mpl.colors.ListedColormap) and colormap.N < 64:
        # qualitative ("tab10", "tab20", "Set3", ...): one entry per label, cycling
        n = colormap.N
        # 20-colour maps come in light/dark pairs: take the dark ones first
        slots = ([*range(0, n, 2), *range(1, n, 2)] if n == 20 else list(range(n)))
        colours = {int(k): colormap(slots[i % n]) for i, k in enumerate(actions)}
    else:
        denom = max(len(actions) - 1, 1)
        colours = {int(k): colormap(i / denom) for i, k in enumerate(actions)}
    colours.update({int(k): _BACKGROUND_COLOR for k in present[present < 0]})

    n_rows = len(rows)
    for r, (_, labels) in enumerate(rows):
        starts, lengths, values = _runs(labels)
        ax.barh(np.full(len(starts), n_rows - 1 - r), lengths, left=starts, height=0.8,
                color=[colours[int(v)] for v in values], edgecolor="none", align="center")
    ax.set_yticks(np.arange(n_rows), [name for name, _ in rows][::-1])
    ax.set_ylim(-0.5, n_rows - 0.5)
    ax.set_xlim(0, n_frames)
    ax.set_xlabel("frame")
    if legend_names is not None:
        handles = [Patch(facecolor=colours[k], label=legend_names[k]) for k in legend_names]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


@validate_params({"ax": _AX, "x_label": [str], "y_label": [str], "title": _TITLE,
                  "cmap": _CMAP, "aspect": _ASPECT, "colorbar": ["boolean"]},
                 prefer_skip_nested_validation=True)
def plot_transport_plan(plan, *, ax=None, x_label="action", y_label="frame", title=None,
                        cmap="viridis", aspect=None, colorbar=True):
    """Heat-map of a transport plan or any matrix (frames x actions, or n x m).

    Parameters
    ----------
    plan : array-like of shape (n, m)
        The matrix, e.g. one video's plan from :func:`seqot.ot.asot` or
        :meth:`seqot.ASOTSegmenter.predict_proba` (a torch tensor is moved to the CPU).
        Row ``i`` is drawn at height ``i`` from the top.
    ax : matplotlib Axes, optional
    x_label, y_label : str, default="action", "frame"
        Axis labels (columns, rows).
    title : str, optional
    cmap : str or matplotlib Colormap, default="viridis"
    aspect : {"auto", "equal"} or positive float, optional
        By default ``"auto"`` (fill the axes) when one side is more than three times the
        other, as for a long video's plan over a few actions, else ``"equal"``.
    colorbar : bool, default=True
        Add a colour bar next to the axes.

    Returns
    -------
    ax : matplotlib Axes
        The heat-map is ``ax.images[0]``; its array is ``plan``.

    Raises
    ------
    ValueError
        If ``plan`` is not a non-empty numeric 2-D array.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from seqot.plotting import plot_transport_plan
    >>> ax = plot_transport_plan(np.eye(3) / 3)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('action', 'frame')
    >>> plt.close(ax.figure)
    """
    P = _matrix(plan, "plan")
    ax = _axes(ax)
    im = ax.imshow(P, aspect=_auto_aspect(P.shape, aspect), cmap=cmap,
                   interpolation="nearest", origin="upper")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if colorbar:
        ax.figure.colorbar(im, ax=ax)
    if title is not None:
        ax.set_title(title)
    return ax


def _path_points(true_path, shape):
    """(rows, cols) of a ground-truth path: index pairs, or a matrix's row barycentres."""
    a = _to_numpy(true_path)
    if a.ndim == 2 and a.shape == tuple(shape) and not (a.shape[1] == 2 and a.dtype.kind in "iu"):
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError("true_path as a matrix must be finite and non-negative.")
        mass = a.sum(1)
        keep = mass > 0
        if not keep.any():
            raise ValueError("true_path as a matrix has no mass.")
        cols = (a[keep] @ np.arange(shape[1])) / mass[keep]
        return np.flatnonzero(keep).astype(np.float64), cols
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] == 0:
        raise ValueError(f"true_path must be an (L, 2) array of (row, column) index pairs or "
                         f"a matrix of the plan's shape {tuple(shape)}; got shape {a.shape}.")
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise ValueError(f"true_path index pairs must be integers; got dtype {a.dtype}.")
    rows, cols = a[:, 0], a[:, 1]
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= shape[0] or cols.max() >= shape[1]:
        raise ValueError(f"true_path has indices outside the plan's shape {tuple(shape)}.")
    return rows.astype(np.float64), cols.astype(np.float64)


@validate_params({"ax": _AX, "x_label": [str], "y_label": [str], "title": _TITLE,
                  "cmap": _CMAP, "aspect": _ASPECT, "colorbar": ["boolean"],
                  "path_color": _COLOR}, prefer_skip_nested_validation=True)
def plot_alignment(plan, true_path=None, *, ax=None, x_label="sequence 2 (frame)",
                   y_label="sequence 1 (frame)", title=None, cmap="Greys", aspect=None,
                   colorbar=True, path_color="tab:red"):
    r"""Heat-map of an alignment between two sequences, with an optional ground-truth path.

    Parameters
    ----------
    plan : array-like of shape (n, m)
        Alignment or transport plan between the ``n`` frames of a first sequence (rows) and
        the ``m`` frames of a second (columns), e.g. a TAP alignment.
    true_path : array-like, optional
        The ground truth, drawn as a line over the heat-map: an ``(L, 2)`` integer array of
        ``(row, column)`` index pairs (a warping path, like tslearn's ``dtw_path``), or an
        ``(n, m)`` float matrix such as :func:`seqot.datasets.true_alignment`'s, drawn through the
        barycentre :math:`\sum_j A_{ij} j / \sum_j A_{ij}` of each row with mass.
    ax : matplotlib Axes, optional
    x_label, y_label : str
        Axis labels (columns, rows).
    title : str, optional
    cmap : str or matplotlib Colormap, default="Greys"
    aspect : {"auto", "equal"} or positive float, optional
        As in :func:`plot_transport_plan`.
    colorbar : bool, default=True
    path_color : matplotlib colour, default="tab:red"

    Returns
    -------
    ax : matplotlib Axes
        The heat-map is ``ax.images[0]``; the path, when given, is ``ax.lines[0]`` (x: columns,
        y: rows), labelled "ground truth".

    Raises
    ------
    ValueError
        If ``plan`` is not a non-empty numeric 2-D array, or ``true_path`` has the wrong
        shape or indices outside the plan.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from seqot.plotting import plot_alignment
    >>> ax = plot_alignment(np.eye(4), true_path=[[0, 0], [1, 1], [2, 2], [3, 3]])
    >>> ax.lines[0].get_xydata().tolist()
    [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    >>> plt.close(ax.figure)
    """
    P = _matrix(plan, "plan")
    points = _path_points(true_path, P.shape) if true_path is not None else None
    ax = plot_transport_plan(P, ax=ax, x_label=x_label, y_label=y_label, title=title,
                             cmap=cmap, aspect=aspect, colorbar=colorbar)
    if points is not None:
        rows, cols = points
        ax.plot(cols, rows, color=path_color, linewidth=1.5, label="ground truth")
        ax.set_xlim(-0.5, P.shape[1] - 0.5)
        ax.set_ylim(P.shape[0] - 0.5, -0.5)
        ax.legend(loc="upper right", fontsize="small")
    return ax


@validate_params({"ax": _AX, "title": _TITLE, "cmap": _CMAP, "colorbar": ["boolean"],
                  "boundary_color": _COLOR}, prefer_skip_nested_validation=True)
def plot_kernel_matrix(K, labels=None, *, ax=None, title=None, cmap="viridis", colorbar=True,
                       boundary_color="white"):
    """Heat-map of a Gram (kernel or distance) matrix, sorted by label with class boundaries.

    Parameters
    ----------
    K : array-like of shape (n, n)
        The matrix between ``n`` samples.
    labels : array-like of shape (n,), optional
        Class labels (numbers or strings). When given, rows and columns are sorted by label
        (stably, so samples keep their order within a class), lines mark the class
        boundaries and the ticks name the classes at the centre of their blocks.
    ax : matplotlib Axes, optional
    title : str, optional
    cmap : str or matplotlib Colormap, default="viridis"
    colorbar : bool, default=True
    boundary_color : matplotlib colour, default="white"

    Returns
    -------
    ax : matplotlib Axes
        The heat-map is ``ax.images[0]`` (the sorted matrix); with ``c`` classes there are
        ``c - 1`` horizontal and ``c - 1`` vertical boundary lines in ``ax.lines``.

    Raises
    ------
    ValueError
        If ``K`` is not a non-empty square numeric matrix, or ``labels`` is not 1-D of length
        ``n``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from seqot.plotting import plot_kernel_matrix
    >>> ax = plot_kernel_matrix(np.eye(4), labels=[1, 0, 1, 0])
    >>> len(ax.lines)
    2
    >>> plt.close(ax.figure)
    """
    M = _matrix(K, "K")
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"K must be square; got shape {M.shape}.")
    n = M.shape[0]
    lab = None
    if labels is not None:
        lab = _to_numpy(labels)
        if lab.ndim != 1 or lab.size != n:
            raise ValueError(f"labels must be 1-D of length {n} (the size of K); got shape "
                             f"{lab.shape}.")
        order = np.argsort(lab, kind="stable")
        M, lab = M[np.ix_(order, order)], lab[order]
    ax = plot_transport_plan(M, ax=ax, x_label="sample", y_label="sample", title=title,
                             cmap=cmap, aspect="equal", colorbar=colorbar)
    if lab is not None:
        starts = np.concatenate(([0], np.flatnonzero(lab[1:] != lab[:-1]) + 1))
        ends = np.concatenate((starts[1:], [n]))
        for b in starts[1:]:
            ax.axhline(b - 0.5, color=boundary_color, linewidth=1.0)
            ax.axvline(b - 0.5, color=boundary_color, linewidth=1.0)
        centres = (starts + ends - 1) / 2.0
        names = [str(v) for v in lab[starts]]
        ax.set_xticks(centres, names)
        ax.set_yticks(centres, names)
        ax.set_xlabel("class")
        ax.set_ylabel("class")
    return ax
