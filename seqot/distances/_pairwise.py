"""Pairwise sequence distances: one chunked, batched driver over a registry of metrics.

A metric is a function ``fn(xb, yb, **params) -> Tensor (n_x, n_y)`` on two torch
:class:`~seqot.utils.SequenceBatch` es (zero-padded, with lengths) on the same device. The
driver validates the input once, moves it to the device, cuts the ``(n_x, n_y)`` matrix into
blocks whose working memory is bounded, and returns numpy for numpy input and torch for
torch input.
"""

from __future__ import annotations

import functools
import math
from numbers import Integral
from typing import Callable

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn import get_config

from ..ot._costs import pairwise_frame_cost
from ..utils._param_validation import (
    BLOCK_SIZE,
    DEVICE,
    LAYOUT,
    N_JOBS,
    Interval,
    make_constraint,
    validate_parameter_constraints,
    validate_params,
)
from ..utils._torch import resolve_device
from ..utils._validation import SequenceBatch, check_sequences

__all__ = ["pairwise_sequence_distances", "available_metrics", "get_metric", "register_metric"]

_METRICS: dict[str, Callable] = {}
_POSITIVE_COUNT = Interval(Integral, 1, None, closed="left")
# Elements of the per-pair working set (pairs x T_x x T_y) one block may hold.
_BLOCK_ELEMENTS = 2**24


def register_metric(name, *, working_set="frames", symmetric=False, width=1, signed=False,
                    constraints=None):
    """Register ``fn(xb, yb, **params) -> (n_x, n_y) Tensor`` under ``name``.

    ``working_set`` tells the driver how memory grows per pair: ``"frames"`` (T_x·T_y, the
    alignment/OT metrics) or ``"pooled"`` (O(1) per pair, pooled representations); ``width``
    is the number of values held per frame pair (e.g. the channels of a CNN over the cost
    image), which shrinks the blocks accordingly.
    ``symmetric=True`` declares ``d(x, y) = d(y, x)`` to rounding, so ``Y=None`` computes only
    the blocks on and above the diagonal and mirrors them; it may also be a function of the
    metric's parameters (``symmetric=lambda params: ...``). Declare it only for exact
    computations (dynamic programs, exact EMD, closed forms): an iterative solver stopped
    before convergence gives ``d(x, y) != d(y, x)``, and mirroring would make the matrix
    depend on ``block_size``. ``signed=True`` declares that values can be negative (soft
    minima such as soft-DTW), so consumers that need a non-negative distance refuse it.

    ``constraints`` (a dict from parameter names to lists of scikit-learn constraints, as in
    ``validate_params``) declares the metric's parameters:
    the registered entry (what :func:`get_metric` returns) then checks the ``params`` it is
    called with, and :func:`pairwise_sequence_distances` checks them once per call and runs
    every block on ``fn`` itself, unchecked. Without it, ``fn`` checks its own parameters.
    The decorator returns the registered entry.
    """

    def deco(fn):
        entry = fn if constraints is None else _checked_entry(fn, name, constraints)
        entry._seqot_working_set = working_set
        entry._seqot_symmetric = symmetric
        entry._seqot_width = width
        entry._seqot_signed = signed
        _METRICS[name] = entry
        return entry

    return deco


def _checked_entry(fn, name, constraints):
    """``fn`` behind a check of its declared parameters (the registry's entry for ``name``)."""

    @functools.wraps(fn)
    def entry(xb, yb, **params):
        _check_metric_param_values(entry, params)
        return fn(xb, yb, **params)

    entry._seqot_name = name
    entry._seqot_constraints = constraints
    entry._seqot_compiled = {k: [make_constraint(c) for c in v] for k, v in constraints.items()}
    entry._seqot_unchecked = fn
    return entry


def _check_metric_param_values(fn, params):
    """Check ``params`` against the constraints ``fn`` was registered with (if any).

    The error names the parameter and the metric (``The 'gamma' parameter of soft_dtw must be
    ...``); parameters without a constraint are left to the call itself. Honours
    scikit-learn's ``skip_parameter_validation`` configuration.
    """
    compiled = getattr(fn, "_seqot_compiled", None)
    if not compiled or not params or get_config()["skip_parameter_validation"]:
        return
    for key, value in params.items():
        cs = compiled.get(key)
        if cs is not None and not any(c.is_satisfied_by(value) for c in cs):
            validate_parameter_constraints({key: fn._seqot_constraints[key]}, {key: value},
                                           caller_name=fn._seqot_name)


def _unchecked(fn):
    """What a caller that checked the parameters already runs: the entry's own function."""
    return getattr(fn, "_seqot_unchecked", fn)


def _accepts_n_jobs(fn):
    import inspect

    try:
        return "n_jobs" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def available_metrics():
    """Names accepted by ``metric=`` (look one up with :func:`get_metric`)."""
    return sorted(_METRICS)


def get_metric(name):
    """The registered metric function of ``name``.

    Parameters
    ----------
    name : str or callable
        A name from :func:`available_metrics`. A callable (a metric function of one's own,
        ``fn(xb, yb, **params)``) is returned as it is, so that code accepting
        ``metric=`` may look every value up.

    Returns
    -------
    callable
        ``fn(xb, yb, **params) -> Tensor (n_x, n_y)`` of two padded torch
        :class:`~seqot.utils.SequenceBatch` es, as registered by :func:`register_metric`.
        Entries registered with ``constraints`` check ``params``. Its attributes describe it
        to the pairwise driver: ``_seqot_symmetric``, ``_seqot_signed``, ...

    Raises
    ------
    ValueError
        If ``name`` is neither a registered name nor a callable; the message lists the
        registered names.

    Examples
    --------
    >>> from seqot.distances import get_metric
    >>> get_metric("dtw")._seqot_symmetric
    True
    >>> get_metric("soft_dtw")._seqot_signed
    True
    """
    if callable(name):
        return name
    if not isinstance(name, str) or name not in _METRICS:
        raise ValueError(f"metric={name!r} is not known; choose one of {available_metrics()}.")
    return _METRICS[name]


def check_metric_params(metric, batch: SequenceBatch, params, *, device="cpu", max_frames=32):
    """Fail at ``fit``, not at ``predict``: run ``metric`` once on the first fitted sequence.

    Estimators that store sequences and compute distances later call this in ``fit``, so that
    an unknown or invalid metric parameter raises there. The dry run compares the first
    sequence (at most ``max_frames`` of its frames) with itself on ``device`` (the
    estimator's): one small pair.
    """
    fn = get_metric(metric)  # params: a dict or None, validated by every caller's constraints
    first = batch.to_numpy().take([0])
    T = min(int(first.lengths[0]), max_frames)
    probe = SequenceBatch(np.ascontiguousarray(first.data[:, :T]),
                          np.minimum(first.lengths, T))
    try:
        pairwise_sequence_distances(probe, probe, metric=fn, device=device, **(params or {}))
    except TypeError as exc:
        # the call itself did not fit the parameters (not an error inside the metric)
        msg = str(exc)
        call_error = ("unexpected keyword argument" in msg or "multiple values for" in msg
                      or ("missing" in msg and "argument" in msg))
        if params and call_error:
            raise ValueError(f"metric_params {sorted(params)} do not fit metric={metric!r}: "
                             f"{exc}") from None
        raise


# A block's fixed cost (launches, bookkeeping), in padded cells of work: grouping sequences by
# length pays only when it saves more cells than this per extra block.
_BLOCK_OVERHEAD = 2**18


def _length_groups(lx, ly, working, same, max_groups=4):
    """Split each side, sorted by length, into contiguous groups that limit padding.

    Every block pairs a group of X with a group of Y, so the padded work is
    (Σ_g n_g·T_g of X) · (Σ_g n_g·T_g of Y) plus a per-block overhead; each side picks its
    number of equal-count groups (1..max_groups) to minimise that model.
    """

    def candidates(lengths):
        order = np.argsort(lengths, kind="stable")
        n = len(order)
        out = []
        for g in range(1, min(max_groups, n) + 1):
            groups = [grp for grp in np.array_split(order, g) if len(grp)]
            out.append((groups, sum(len(grp) * int(lengths[grp].max()) for grp in groups)))
        return out

    if working != "frames":
        return [np.arange(len(lx))], [np.arange(len(ly))]
    cx = candidates(lx)
    cy = cx if same else candidates(ly)
    best = min(((gx, gy) for gx in cx for gy in cy),
               key=lambda p: p[0][1] * p[1][1] + _BLOCK_OVERHEAD * len(p[0][0]) * len(p[1][0]))
    return best[0][0], best[1][0]


def _chunks(groups, lengths, other_max, working, size, width=1):
    """Cut each length group into chunks whose blocks stay within _BLOCK_ELEMENTS."""
    out = []
    for grp in groups:
        if size is None:
            t = int(lengths[grp].max())
            per_pair = (t * other_max if working == "frames" else 1) * width
            size_g = max(1, int(math.sqrt(_BLOCK_ELEMENTS / max(per_pair, 1))))
        else:
            size_g = size
        out.extend(grp[i:i + size_g] for i in range(0, len(grp), size_g))
    return out


def _to_device_batch(X, device, dtype, input_name, n_features=None, layout="time_first"):
    return check_sequences(X, device=device, dtype=dtype, input_name=input_name,
                           n_features=n_features, layout=layout)


@validate_params(
    {
        "metric": [str, callable],
        "block_size": [*BLOCK_SIZE, tuple],
        "n_jobs": N_JOBS,
        "device": DEVICE,
        "layout": LAYOUT,
    },
    prefer_skip_nested_validation=True,
)
def pairwise_sequence_distances(
    X,
    Y=None,
    metric="dtw",
    *,
    block_size=None,
    n_jobs=None,
    device="auto",
    layout="time_first",
    **metric_params,
):
    """Distances between every sequence of ``X`` and every sequence of ``Y``.

    Parameters
    ----------
    X : sequences, see :func:`seqot.utils.check_sequences`
        ``n_x`` sequences (ragged list, 3-D NaN-padded array, 2-D array, tensors).
    Y : sequences, optional
        ``n_y`` sequences; ``None`` means ``Y = X``.
    metric : str or callable, default="dtw"
        A name from :func:`available_metrics` (see :func:`get_metric`) or a function
        ``fn(xb, yb, **params)`` of two padded torch batches returning the ``(n_x, n_y)``
        matrix.
    block_size : int or (int, int), optional
        Sequences of ``X`` (and of ``Y``) per block. By default blocks are sized so that the
        per-block working set holds about 16M elements (a few hundred MB at most), whatever
        the number of sequences. Sequences are grouped by length first, so that a block of
        short sequences is not padded to the longest one.
    n_jobs : int, optional
        Blocks are computed in parallel by joblib threads (torch releases the GIL); -1 uses
        every core.
    device : "auto", str or torch.device, default="auto"
        Where to compute. ``"auto"`` (or None) computes where a tensor input already is, and
        otherwise on CUDA when it is available, else on the CPU.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of ``X`` and ``Y``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.
    **metric_params
        Passed to the metric, and checked once (not per block) against the constraints it
        was registered with.

    Returns
    -------
    D : ndarray or Tensor of shape (n_x, n_y)
        numpy when ``X`` is not a tensor (or tensors, or a torch-backed SequenceBatch); a
        tensor on ``X``'s device otherwise.
    """
    fn = get_metric(metric)
    _check_metric_param_values(fn, metric_params)
    impl = _unchecked(fn)  # the blocks run unchecked: the parameters were checked above
    torch_in = isinstance(X, torch.Tensor) or (
        isinstance(X, (list, tuple)) and len(X) and isinstance(X[0], torch.Tensor)
    ) or (isinstance(X, SequenceBatch) and X.is_torch)
    if device is None or (isinstance(device, str) and device == "auto"):
        if isinstance(X, torch.Tensor):
            device = X.device
        elif isinstance(X, SequenceBatch) and X.is_torch:
            device = X.data.device
        elif isinstance(X, (list, tuple)) and len(X) and isinstance(X[0], torch.Tensor):
            device = X[0].device
        else:
            device = "auto"
    dev = resolve_device(device)
    xb = _to_device_batch(X, dev, None, "X", layout=layout)
    yb = xb if Y is None else _to_device_batch(Y, dev, None, "Y", n_features=xb.n_features,
                                               layout=layout)
    if yb.data.dtype != xb.data.dtype:
        common = torch.promote_types(xb.data.dtype, yb.data.dtype)
        xb, yb = xb.to_torch(dtype=common), yb.to_torch(dtype=common)

    n_x, n_y = xb.n_sequences, yb.n_sequences
    working = getattr(fn, "_seqot_working_set", "frames")
    width = max(1, int(getattr(fn, "_seqot_width", 1)))
    symmetric = getattr(fn, "_seqot_symmetric", False)
    if callable(symmetric):
        symmetric = symmetric(metric_params)
    symmetric = Y is None and bool(symmetric)
    if block_size is not None:
        # the constraint says int or tuple; what it cannot say is the tuple's contents
        sizes = (block_size, block_size) if not isinstance(block_size, tuple) else block_size
        if len(sizes) != 2 or not all(_POSITIVE_COUNT.is_satisfied_by(s) for s in sizes):
            raise ValueError(f"block_size must be a positive int or a pair (rows, cols) of "
                             f"positive ints; got {block_size!r}.")
        sizes = (int(sizes[0]), int(sizes[1]))
    else:
        sizes = None
    lx = xb.lengths.detach().cpu().numpy()
    ly = lx if Y is None else yb.lengths.detach().cpu().numpy()
    x_groups, y_groups = _length_groups(lx, ly, working, same=Y is None)
    x_chunks = _chunks(x_groups, lx, int(ly.max()), working, None if sizes is None else sizes[0],
                       width)
    if Y is None and (symmetric or sizes is None or sizes[0] == sizes[1]):
        y_chunks = x_chunks
    else:
        y_chunks = _chunks(y_groups, ly, int(lx.max()), working,
                           None if sizes is None else sizes[1], width)
    if symmetric and y_chunks is not x_chunks:
        y_chunks = x_chunks = _chunks(x_groups, lx, int(lx.max()), working, min(sizes), width)
    blocks = [(r, c) for r in range(len(x_chunks)) for c in range(len(y_chunks))
              if not symmetric or c >= r]

    def run(r, c):
        return impl(xb.take(x_chunks[r]), yb.take(y_chunks[c]), **metric_params)

    if len(blocks) == 1:
        # one block: the threads go to the metric itself when it can use them (exact EMDs)
        if n_jobs is not None and "n_jobs" not in metric_params and _accepts_n_jobs(impl):
            parts = [impl(xb.take(x_chunks[0]), yb.take(y_chunks[0]), n_jobs=n_jobs,
                          **metric_params)]
        else:
            parts = [run(*blocks[0])]
    else:
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(run)(*b) for b in blocks)
    dev_out = parts[0].device
    D = torch.empty((n_x, n_y), dtype=parts[0].dtype, device=dev_out)
    for (r, c), part in zip(blocks, parts):
        ri = torch.as_tensor(x_chunks[r], device=dev_out)
        ci = torch.as_tensor(y_chunks[c], device=dev_out)
        D[ri[:, None], ci[None, :]] = part
        if symmetric and r != c:
            D[ci[:, None], ri[None, :]] = part.T
    if torch_in:
        return D
    return D.detach().cpu().numpy()


# ---------------------------------------------------------------------------
# metrics that need no solver
# ---------------------------------------------------------------------------
def masked_mean(batch: SequenceBatch) -> torch.Tensor:
    """Mean of each sequence's real frames, ``(n, d)``; padding excluded."""
    mask = batch.mask.to(batch.data.dtype)
    return (batch.data * mask[..., None]).sum(1) / batch.lengths[:, None].to(batch.data.dtype)


@register_metric("mean_euclidean", working_set="pooled", symmetric=True)
def _mean_euclidean(xb, yb):
    """Euclidean distance between mean-pooled sequences (order-blind aggregation baseline)."""
    # the means as one-frame sequences: the cost builder's precision guards apply
    D = pairwise_frame_cost(masked_mean(xb)[:, None], masked_mean(yb)[:, None], "euclidean")
    return D[:, :, 0, 0]
