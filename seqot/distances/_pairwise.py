"""Pairwise sequence distances: one chunked, batched driver over a registry of metrics.

A metric is a function ``fn(xb, yb, **params) -> Tensor (n_x, n_y)`` on two torch
:class:`~seqot.utils.SequenceBatch` es (zero-padded, with lengths) on the same device. The
driver validates the input once, moves it to the device, cuts the ``(n_x, n_y)`` matrix into
blocks whose working memory is bounded, and returns numpy for numpy input and torch for
torch input.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from joblib import Parallel, delayed

from ..ot._costs import pairwise_frame_cost
from ..utils._torch import resolve_device
from ..utils._validation import SequenceBatch, check_sequences

__all__ = ["pairwise_sequence_distances", "available_metrics", "register_metric"]

_METRICS: dict[str, Callable] = {}
# Elements of the per-pair working set (pairs x T_x x T_y) one block may hold.
_BLOCK_ELEMENTS = 2**24


def register_metric(name, *, working_set="frames", symmetric=False, width=1, signed=False):
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
    """

    def deco(fn):
        fn._seqot_working_set = working_set
        fn._seqot_symmetric = symmetric
        fn._seqot_width = width
        fn._seqot_signed = signed
        _METRICS[name] = fn
        return fn

    return deco


def _accepts_n_jobs(fn):
    import inspect

    try:
        return "n_jobs" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def available_metrics():
    """Names accepted by ``metric=``."""
    return sorted(_METRICS)


def _get_metric(metric):
    if callable(metric):
        return metric
    if metric not in _METRICS:
        raise ValueError(f"metric={metric!r} is not known; choose one of {available_metrics()}.")
    return _METRICS[metric]


def check_metric_params(metric, batch: SequenceBatch, params, *, device="cpu", max_frames=32):
    """Fail at ``fit``, not at ``predict``: run ``metric`` once on the first fitted sequence.

    Estimators that store sequences and compute distances later call this in ``fit``, so that
    an unknown or invalid metric parameter raises there. The dry run compares the first
    sequence (at most ``max_frames`` of its frames) with itself on ``device`` (the
    estimator's): one small pair.
    """
    fn = _get_metric(metric)
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"metric_params must be a dict or None; got {type(params).__name__}.")
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
        A name from :func:`available_metrics` or a function ``fn(xb, yb, **params)`` of two
        padded torch batches returning the ``(n_x, n_y)`` matrix.
    block_size : int or (int, int), optional
        Sequences of ``X`` (and of ``Y``) per block. By default blocks are sized so that the
        per-block working set holds about 16M elements (a few hundred MB at most), whatever
        the number of sequences. Sequences are grouped by length first, so that a block of
        short sequences is not padded to the longest one.
    n_jobs : int, optional
        Blocks are computed in parallel by joblib threads (torch releases the GIL).
    device : "auto", str or torch.device, default="auto"
        Where to compute. ``"auto"`` (or None) computes where a tensor input already is, and
        otherwise on CUDA when it is available, else on the CPU.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of ``X`` and ``Y``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.
    **metric_params
        Passed to the metric.

    Returns
    -------
    D : ndarray or Tensor of shape (n_x, n_y)
        numpy when ``X`` is not a tensor (or tensors, or a torch-backed SequenceBatch); a
        tensor on ``X``'s device otherwise.
    """
    fn = _get_metric(metric)
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
        rows, cols = (block_size, block_size) if np.isscalar(block_size) else block_size
        if int(rows) < 1 or int(cols) < 1:
            raise ValueError(f"block_size must be positive; got {block_size!r}.")
        sizes = (int(rows), int(cols))
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
        return fn(xb.take(x_chunks[r]), yb.take(y_chunks[c]), **metric_params)

    if len(blocks) == 1:
        # one block: the threads go to the metric itself when it can use them (exact EMDs)
        if n_jobs is not None and "n_jobs" not in metric_params and _accepts_n_jobs(fn):
            parts = [fn(xb.take(x_chunks[0]), yb.take(y_chunks[0]), n_jobs=n_jobs,
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
