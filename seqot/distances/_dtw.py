r"""Dynamic-programming alignment distances: DTW, soft-DTW and OTAM.

All three are the same recursion over a cost matrix :math:`C \in \mathbb{R}^{n \times m}`,

.. math::

    R_{i,j} = C_{i,j} + \operatorname{min}_\gamma\{R_{i-1,j-1},\; R_{i-1,j},\; R_{i,j-1}\},
    \qquad R_{-1,-1} = 0,\quad R_{-1,j} = R_{i,-1} = +\infty,

with the hard minimum (:math:`\gamma = 0`, DTW) or the soft minimum
:math:`\operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma}` (soft-DTW, OTAM), and
optionally a per-problem, per-column mask of the allowed predecessors (OTAM's restricted
moves).

The recursion is solved, for many problems at once, by the batched anti-diagonal solver
:func:`seqot.ot.batched_alignment_dp` (its engine and its gradients are described
there); this module builds the problems and their costs.

The pairwise metrics ``"dtw"``, ``"soft_dtw"`` and ``"otam"`` (registered with
:func:`~seqot.distances.register_metric`) solve all pairs of a block in passes of about
``_CHUNK_CELLS`` table cells. Without autograd, DTW/soft-DTW never build the
``(n_x n_y, T_x, T_y)`` cost tensor: each anti-diagonal's costs come from one batched GEMM
of augmented frames, just before they are used. With autograd (and for OTAM) the block's
cost tensor is built problems-last (the layout of :func:`seqot.ot.pairwise_frame_cost`,
transposed) and differentiated through the solver's custom backward: the gradient of
soft-DTW w.r.t. the costs is the expected alignment (Cuturi & Blondel 2017, Algorithm 2), that
of DTW the optimal path's indicator.

References
----------
H. Sakoe and S. Chiba. Dynamic programming algorithm optimization for spoken word
recognition. IEEE Trans. Acoustics, Speech and Signal Processing 26(1):43-49, 1978.

M. Cuturi and M. Blondel. Soft-DTW: a differentiable loss function for time-series. ICML 2017.

K. Cao, J. Ji, Z. Cao, C.-Y. Chang and J. C. Niebles. Few-shot video classification via
temporal alignment. CVPR 2020.
"""

from __future__ import annotations

import numpy as np
import torch

from ..ot._alignment import (  # noqa: F401  (batched_alignment_dp: still importable from here)
    _CHUNK_CELLS,
    _UP,
    _batched_alignment_dp,
    _forward_chunk,
    batched_alignment_dp,
)
from ..ot._costs import _METRIC as _COST
from ..ot._costs import (
    _augmented_frames,
    _finish_augmented,
    frame_cost,
    pairwise_frame_cost,
)
from ..utils._param_validation import POSITIVE, validate_params
from ..utils._validation import check_sequence
from ._pairwise import register_metric

__all__ = ["dtw", "soft_dtw", "otam", "batched_alignment_dp"]


# ---------------------------------------------------------------------------
# OTAM's padded problem
# ---------------------------------------------------------------------------
def _otam_problem(C, len_y):
    """Zero-pad one column on each side of each problem's support axis; OTAM's move mask.

    Returns the padded costs ``(B, n, m + 2)`` (zero in column 0 and in columns
    ``>= len_y + 1``), the ``allowed`` mask and the padded lengths ``len_y + 2``.
    """
    b, n, m = C.shape
    dev = C.device
    cols = torch.arange(m, device=dev)
    real = cols[None, :] < len_y[:, None]  # (b, m)
    Cr = torch.where(real[:, None, :], C, torch.zeros((), dtype=C.dtype, device=dev))
    Cp = torch.nn.functional.pad(Cr, (1, 1))
    pcols = torch.arange(m + 2, device=dev)
    # vertical moves: the padded first column, the first real column and the padded column
    # after each problem's last real column (the toolbox's "first and last columns")
    up = (pcols[None, :] <= 1) | (pcols[None, :] == (len_y[:, None] + 1))
    allowed = torch.ones((b, m + 2, 3), dtype=torch.bool, device=dev)
    allowed[:, :, _UP] = up
    return Cp, allowed, len_y + 2


def _otam_values(C, len_x, len_y, gamma, bidirectional):
    Cp, allowed, ly = _otam_problem(C, len_y)
    out = _batched_alignment_dp(Cp, len_x, ly, gamma=gamma, allowed=allowed)
    if bidirectional:
        Ct = C.transpose(1, 2)
        Cp, allowed, lx = _otam_problem(Ct, len_x)
        out = out + _batched_alignment_dp(Cp, len_y, lx, gamma=gamma, allowed=allowed)
    return out


# ---------------------------------------------------------------------------
# parameter constraints and the one-pair front end
# ---------------------------------------------------------------------------
#: Constraints of the metric parameters, shared by each function and its registered metric.
_DTW_CONSTRAINTS = {"cost": _COST}
_SOFT_DTW_CONSTRAINTS = {"gamma": POSITIVE, "cost": _COST}
_OTAM_CONSTRAINTS = {"gamma": POSITIVE, "cost": _COST, "bidirectional": ["boolean"]}


def _pair(x, y):
    """Validate one pair -> (x (T_x, d) tensor, y (T_y, d) tensor, torch_in)."""
    torch_in = isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor)
    xb = check_sequence(x, name="x")
    yb = check_sequence(y, name="y", n_features=xb.n_features)
    dev = None
    for b in (xb, yb):
        if b.is_torch:
            dev = b.data.device
            break
    xb, yb = xb.to_torch(dev), yb.to_torch(dev)
    dt = torch.promote_types(xb.data.dtype, yb.data.dtype)
    return xb.data[0].to(dt), yb.data[0].to(dt), torch_in


def _out(value, torch_in):
    value = value.reshape(())
    return value if torch_in else float(value.detach().cpu())


def _matrix_out(M, torch_in):
    return M if torch_in else M.detach().cpu().numpy()


@validate_params({**_DTW_CONSTRAINTS, "return_path": ["boolean"]},
                 prefer_skip_nested_validation=True)
def dtw(x, y, *, cost="sqeuclidean", return_path=False):
    r"""Dynamic time warping between two sequences (Sakoe & Chiba 1978).

    .. math::

        \mathrm{DTW}(x, y) = \min_{\pi} \sum_{(i,j) \in \pi} c(x_i, y_j),
        \qquad R_{i,j} = c(x_i, y_j) + \min\{R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1}\},

    over warping paths :math:`\pi` from :math:`(0, 0)` to :math:`(T_x - 1, T_y - 1)` with
    steps in :math:`\{(1,1), (1,0), (0,1)\}` (monotone, continuous, boundary-respecting);
    :math:`R_{-1,-1} = 0`, the other borders :math:`+\infty`, value :math:`R_{T_x-1,T_y-1}`.

    No square root is taken: with ``cost="sqeuclidean"``, ``tslearn.metrics.dtw(x, y)``
    equals ``sqrt(dtw(x, y))``.

    Parameters
    ----------
    x : array-like or Tensor of shape (T_x, d) or (T_x,)
    y : array-like or Tensor of shape (T_y, d) or (T_y,)
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        Frame cost ``c``.
    return_path : bool, default=False
        Also return the optimal path as a list of ``(i, j)`` pairs.

    Returns
    -------
    value : float or 0-dim Tensor
        A tensor (with autograd; the gradient w.r.t. the costs is the optimal path's
        indicator) when ``x`` or ``y`` is a tensor, else a float.
    path : list of (int, int)
        Only with ``return_path=True``.

    References
    ----------
    H. Sakoe and S. Chiba. Dynamic programming algorithm optimization for spoken word
    recognition. IEEE Trans. ASSP 26(1):43-49, 1978.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import dtw
    >>> dtw(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0]))
    1.0
    >>> dtw([0.0, 1.0, 2.0], [0.0, 2.0], return_path=True)[1]
    [(0, 0), (1, 0), (2, 1)]
    """
    x, y, torch_in = _pair(x, y)
    C = frame_cost(x, y, cost)[None]
    value = _batched_alignment_dp(C)
    value = _out(value, torch_in)
    if not return_path:
        return value
    _, E = _batched_alignment_dp(C.detach(), return_alignment=True)
    path = [(int(i), int(j)) for i, j in np.argwhere(E[0].cpu().numpy() > 0.5)]
    return value, path


@validate_params({**_SOFT_DTW_CONSTRAINTS, "return_alignment": ["boolean"]},
                 prefer_skip_nested_validation=True)
def soft_dtw(x, y, *, gamma=1.0, cost="sqeuclidean", return_alignment=False):
    r"""Soft-DTW between two sequences (Cuturi & Blondel 2017).

    .. math::

        R_{i,j} = c(x_i, y_j) + \operatorname{min}_\gamma\{R_{i-1,j-1}, R_{i-1,j}, R_{i,j-1}\},
        \qquad \operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma},

    :math:`R_{-1,-1} = 0`, other borders :math:`+\infty`; the value is
    :math:`R_{T_x-1,T_y-1}` (it can be negative). With the default squared Euclidean cost
    this is ``tslearn.metrics.soft_dtw(x, y, gamma)``; as :math:`\gamma \to 0` it tends to
    :func:`dtw`.

    Parameters
    ----------
    x : array-like or Tensor of shape (T_x, d) or (T_x,)
    y : array-like or Tensor of shape (T_y, d) or (T_y,)
    gamma : float, default=1.0
        Soft-min temperature, > 0.
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        Frame cost ``c``.
    return_alignment : bool, default=False
        Also return the expected alignment :math:`E = \partial R_{T_x-1,T_y-1}/\partial C`
        (shape ``(T_x, T_y)``, detached for tensors), computed by the backward recursion of
        Cuturi & Blondel (2017, Algorithm 2).

    Returns
    -------
    value : float or 0-dim Tensor
        A tensor with autograd (custom backward, no graph through the recursion) when ``x``
        or ``y`` is a tensor, else a float.
    E : ndarray or Tensor of shape (T_x, T_y)
        Only with ``return_alignment=True``.

    References
    ----------
    M. Cuturi and M. Blondel. Soft-DTW: a differentiable loss function for time-series.
    ICML 2017.

    Examples
    --------
    >>> from seqot.distances import soft_dtw
    >>> round(soft_dtw([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], gamma=1.0), 4)
    -0.8954
    """
    x, y, torch_in = _pair(x, y)
    C = frame_cost(x, y, cost)[None]
    value = _out(_batched_alignment_dp(C, gamma=gamma), torch_in)
    if not return_alignment:
        return value
    _, E = _batched_alignment_dp(C.detach(), gamma=gamma, return_alignment=True)
    return value, _matrix_out(E[0], torch_in)


@validate_params(_OTAM_CONSTRAINTS, prefer_skip_nested_validation=True)
def otam(x, y, *, gamma=0.1, cost="cosine", bidirectional=False):
    r"""Ordered temporal alignment (OTAM; Cao et al. 2020), as in the few-shot toolbox code.

    The cost matrix :math:`D_{l,m} = c(x_l, y_m)` (default :math:`1 - \cos`) gets one zero
    column on each side of the support (``y``) axis, :math:`m = 0` and :math:`m = T_y + 1`,
    so the alignment may start and end anywhere along ``x``. Then, with
    :math:`\operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma}`,

    .. math::

        \Gamma_{0,m} &= \textstyle\sum_{m' \le m} D_{0,m'}, \qquad \Gamma_{l,0} = 0,\\
        \Gamma_{l,m} &= D_{l,m} + \operatorname{min}_\gamma\{\Gamma_{l-1,m-1},
            \Gamma_{l,m-1}\} \quad (2 \le m \le T_y),\\
        \Gamma_{l,m} &= D_{l,m} + \operatorname{min}_\gamma\{\Gamma_{l-1,m-1},
            \Gamma_{l-1,m}, \Gamma_{l,m-1}\} \quad (m \in \{1, T_y + 1\}),

    and the distance is :math:`\Gamma_{T_x-1, T_y+1}`. The vertical move is allowed in the
    first real column and in the padded last column, exactly as in the toolbox's
    ``OTAM_cum_dist`` (its padded first column stays zero; its ``cos_sim`` also adds 0.01 to
    the cosine's denominator, here the exact cosine is used). Few-shot use sums both
    directions: ``bidirectional=True`` returns ``otam(x, y) + otam(y, x)``.

    In :func:`~seqot.distances.pairwise_sequence_distances` the metric ``"otam"`` (params
    ``gamma``, ``cost``, ``bidirectional``) is registered as non-symmetric, because one
    direction is not; with ``bidirectional=True`` the result is symmetric but every block is
    still computed.

    Parameters
    ----------
    x : array-like or Tensor of shape (T_x, d) or (T_x,)
        Query (rows).
    y : array-like or Tensor of shape (T_y, d) or (T_y,)
        Support (padded columns).
    gamma : float, default=0.1
        Soft-min temperature :math:`\gamma > 0` (as in :func:`soft_dtw`; the paper's
        :math:`\lambda`).
    cost : {"cosine", "sqeuclidean", "euclidean"}, default="cosine"
        Frame cost.
    bidirectional : bool, default=False
        Sum both directions (symmetric).

    Returns
    -------
    float or 0-dim Tensor
        A tensor with autograd when ``x`` or ``y`` is a tensor. Like soft-DTW it is a soft
        minimum, not a distance: it can be negative (identical constant sequences give
        :math:`-\gamma` times the log of the number of paths), so distance-weighted votes
        (``KNeighborsSequenceClassifier(weights="distance")``) refuse it.

    References
    ----------
    K. Cao, J. Ji, Z. Cao, C.-Y. Chang and J. C. Niebles. Few-shot video classification via
    temporal alignment. CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import otam
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> round(otam(x, x[1:]), 4)
    -0.0887
    >>> round(otam(x, x[1:], bidirectional=True), 4)
    0.4269
    """
    x, y, torch_in = _pair(x, y)
    C = frame_cost(x, y, cost)[None]
    one = torch.ones(1, dtype=torch.long, device=C.device)
    lx, ly = one * C.shape[1], one * C.shape[2]
    return _out(_otam_values(C, lx, ly, float(gamma), bidirectional), torch_in)


# ---------------------------------------------------------------------------
# pairwise metrics
# ---------------------------------------------------------------------------
class _FrameCost:
    """Costs of all pairs ``(X[p], Y[q])`` of two padded batches, one anti-diagonal at a time.

    The cost of cell ``(i, j)`` for every pair is a dot product of seqot.ot's augmented frames
    (``[-2x, |x|^2, 1] . [y, 1, |y|^2] = |x - y|^2``; ``[-x/|x|, 1] . [y/|y|, 1] = 1 - cos``), so
    an anti-diagonal is one batched GEMM ``(L, r, d') x (L, d', c)`` over its ``L`` cells: the
    ``(n, m, r c)`` cost tensor never exists and the pass stays in cache. No autograd.
    Problem ``p * c + q`` compares ``X[p]`` with ``Y[q]``.
    """

    def __init__(self, X, Y, metric):
        r, n, d = X.shape
        c, m, _ = Y.shape
        self.r, self.c, self.b, self.n, self.m = r, c, r * c, n, m
        self.dtype, self.device, self.metric = X.dtype, X.device, metric
        Xa, Ya = _augmented_frames(X, Y, metric)
        self.Xa = Xa.transpose(0, 1).contiguous()  # (n, r, d')
        # (m, d', c), frames reversed so that an anti-diagonal's columns are a forward slice
        self.Ya = Ya.transpose(0, 1).flip(0).transpose(1, 2).contiguous()
        self.buf = torch.empty(min(n, m) * self.b, dtype=X.dtype, device=X.device)

    def diag(self, k, lo, shape):
        L = shape[0]
        f = self.m - 1 - k + lo
        out = self.buf[: L * self.b].view(L, self.r, self.c)
        torch.bmm(self.Xa[lo : lo + L], self.Ya[f : f + L], out=out)
        return _finish_augmented(out.view(shape), self.metric)


def _block_costs(X, Y, metric):
    """All-pairs frame costs in the engine's layout ``(T_x, T_y, n_x, n_y)``, contiguous."""
    return pairwise_frame_cost(X, Y, metric, problems_last=True)


def _pairwise_blocks(xb, yb, metric, gamma=None, otam=None):
    """All-pairs values, computed on cache-sized sub-blocks of ``r x c`` pairs.

    Without autograd, DTW/soft-DTW costs are made per anti-diagonal (:class:`_FrameCost`)
    and the tables are reused from one sub-block to the next. With autograd (or for OTAM,
    whose padded problems need the cost tensor), the sub-block's cost tensor is built
    problems-last (:func:`_block_costs`) and goes through :func:`_batched_alignment_dp`.
    ``otam`` is ``(gamma, bidirectional)``. The parameters were checked by the caller (the
    registry's entry, or the pairwise driver once per call).
    """
    n_x, n_y = xb.n_sequences, yb.n_sequences
    per_pair = (xb.max_length + 2) * (yb.max_length + 2)
    pairs = max(1, _CHUNK_CELLS // per_pair)
    cols = min(n_y, pairs)
    rows = min(n_x, max(1, pairs // cols))
    grad = torch.is_grad_enabled() and (xb.data.requires_grad or yb.data.requires_grad)
    work = {}
    out_rows = []
    for i0 in range(0, n_x, rows):
        xs = xb.take(np.arange(i0, min(i0 + rows, n_x)))
        parts = []
        for j0 in range(0, n_y, cols):
            ys = yb.take(np.arange(j0, min(j0 + cols, n_y)))
            r, c = xs.n_sequences, ys.n_sequences
            lx = xs.lengths.repeat_interleave(c)
            ly = ys.lengths.repeat(r)
            if otam is None and not grad:
                with torch.no_grad():
                    v, _ = _forward_chunk(_FrameCost(xs.data, ys.data, metric), lx, ly, gamma,
                                          None, work=work)
            else:
                C = _block_costs(xs.data, ys.data, metric)
                C = C.view(xs.max_length, ys.max_length, r * c).permute(2, 0, 1)
                if otam is None:
                    v = _batched_alignment_dp(C, lx, ly, gamma=gamma)
                else:
                    v = _otam_values(C, lx, ly, *otam)
            parts.append(v.view(r, c))
        out_rows.append(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])
    return torch.cat(out_rows, dim=0) if len(out_rows) > 1 else out_rows[0]


# The frame cost is the parameter ``cost``, as in every seqot distance, since ``metric``
# already names the sequence distance in pairwise_sequence_distances.
@register_metric("dtw", working_set="frames", symmetric=True, constraints=_DTW_CONSTRAINTS)
def _pairwise_dtw(xb, yb, cost="sqeuclidean"):
    """DTW (:func:`dtw`) between all pairs; ``cost`` is the frame cost."""
    return _pairwise_blocks(xb, yb, cost)


@register_metric("soft_dtw", working_set="frames", symmetric=True, signed=True,
                 constraints=_SOFT_DTW_CONSTRAINTS)
def _pairwise_soft_dtw(xb, yb, gamma=1.0, cost="sqeuclidean"):
    """Soft-DTW (:func:`soft_dtw`) between all pairs; params ``gamma``, ``cost``."""
    return _pairwise_blocks(xb, yb, cost, gamma=float(gamma))


# OTAM is not symmetric in one direction, so it is registered symmetric=False even though
# bidirectional=True gives a symmetric value (the driver then simply computes every block).
@register_metric("otam", working_set="frames", symmetric=False, signed=True,
                 constraints=_OTAM_CONSTRAINTS)
def _pairwise_otam(xb, yb, gamma=0.1, cost="cosine", bidirectional=False):
    """OTAM (:func:`otam`) from each ``x`` (query) to each ``y`` (support); params ``gamma``,
    ``cost``, ``bidirectional``."""
    return _pairwise_blocks(xb, yb, cost, otam=(float(gamma), bidirectional))
