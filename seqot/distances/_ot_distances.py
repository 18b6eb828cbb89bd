r"""Optimal-transport distances between sequences: Sinkhorn, exact EMD, OPW and TCOT.

All of them compare the frames of two sequences with uniform frame weights
(:math:`a_i = 1/T_x`, :math:`b_j = 1/T_y`) and differ in the cost and in how time enters:

* ``sinkhorn`` / ``emd``: order-blind; the cost is the frame cost alone;
* ``tcot`` (temporally coupled OT): :math:`C_{ij} = \|x_i - y_j\|^2 (1 + |i/T_x - j/T_y|)`;
* ``opw`` (order-preserving Wasserstein): entropic OT with an inverse-difference-moment reward
  and a KL pull towards a Gaussian band around the diagonal.

Positions are relative to each sequence's own length, ``(i+1)/T``. Each metric is registered
for :func:`~seqot.distances.pairwise_sequence_distances`, which batches every pair of a block into
one solver call; the per-pair functions below are thin wrappers over the same code.

The Sinkhorn-based metrics report solves that end, after their ``max_iter`` budget, with plans
off their marginals (see :func:`seqot.ot.sinkhorn`) by a
:class:`~seqot.ot.SinkhornConvergenceWarning` whose text depends on the metric and its
parameters only, so that Python's default warning filter shows it once however many blocks
a pairwise call solves.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import torch

from ..ot._costs import _METRIC as _COST
from ..ot._costs import pairwise_frame_cost, pairwise_position_gap
from ..ot._emd import _emd
from ..ot._sinkhorn import SinkhornConvergenceWarning, _sinkhorn
from ..utils._param_validation import (
    N_JOBS,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    TOL,
    Interval,
    StrOptions,
    validate_params,
)
from ..utils._validation import SequenceBatch, check_sequence
from ._pairwise import _unchecked, get_metric, register_metric

__all__ = ["sinkhorn", "emd", "opw", "tcot", "mean_euclidean", "pair_distance"]


# ---------------------------------------------------------------------------
# shared block helpers
# ---------------------------------------------------------------------------
def block_problems(xb: SequenceBatch, yb: SequenceBatch, cost="sqeuclidean"):
    """Every (x, y) pair of two batches as OT problems.

    Returns
    -------
    C : Tensor (n_x·n_y, T_x, T_y)
        Frame costs (finite on padding).
    a, b : Tensors (n_x·n_y, T_x), (n_x·n_y, T_y)
        Uniform frame weights, zero on padding.
    """
    nx_, ny_ = xb.n_sequences, yb.n_sequences
    C = pairwise_frame_cost(xb.data, yb.data, cost).reshape(nx_ * ny_, xb.max_length,
                                                              yb.max_length)
    dt = xb.data.dtype
    wa = xb.mask.to(dt) / xb.lengths[:, None].to(dt)
    wb = yb.mask.to(dt) / yb.lengths[:, None].to(dt)
    a = wa[:, None, :].expand(nx_, ny_, -1).reshape(nx_ * ny_, -1)
    b = wb[None, :, :].expand(nx_, ny_, -1).reshape(nx_ * ny_, -1)
    return C, a, b


def block_position_gap(xb, yb):
    """|(i+1)/T_x − (j+1)/T_y| for every pair, (n_x·n_y, T_x, T_y)."""
    gap = pairwise_position_gap(xb.lengths, yb.lengths, xb.max_length, yb.max_length,
                                dtype=xb.data.dtype)
    return gap.reshape(-1, xb.max_length, yb.max_length)


def _grad_mode(xb, yb):
    needs = xb.data.requires_grad or yb.data.requires_grad
    return ("autodiff" if needs else "detach")


def report_unconverged(res, metric, settings, advice="raise max_iter or reg"):
    """Warn (SinkhornConvergenceWarning) when some solve of a block did not converge.

    ``res`` comes from ``seqot.ot.sinkhorn(..., warn=False)``; a problem is reported as the
    solver would report it (``converged`` False and ``marginal_error > marginal_tol``). The
    message names the metric and ``settings`` (its parameters, the same for every block of a
    pairwise call) and no per-block number: the default filter shows it once per location and
    text, so a pairwise call over many blocks warns once.
    """
    failed = ~res.converged & (res.marginal_error > res.marginal_tol)
    if bool(failed.any()):
        warnings.warn(
            f"{metric} distance: the Sinkhorn solve of some pairs did not converge ({settings}):"
            " their plans miss the marginals by more than the tolerance, so those distances "
            f"are not the entropic optimum's; {advice}. seqot.ot.sinkhorn gives each problem's "
            "marginal error.", SinkhornConvergenceWarning, stacklevel=2)


def pair_distance(distance, x, y, /, **params):
    """One distance between two sequences through a registered block metric.

    numpy in → float out; torch in → 0-dim tensor out (differentiable where the metric is).
    The parameters are not checked here: the public per-pair functions are decorated with
    their constraints and call the registered metric's own, unchecked function.
    """
    fn = _unchecked(get_metric(distance))
    torch_in = isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor)
    device = x.device if isinstance(x, torch.Tensor) else (
        y.device if isinstance(y, torch.Tensor) else "cpu")
    xb = check_sequence(x, name="x", device=device)
    yb = check_sequence(y, name="y", n_features=xb.n_features, device=device)
    if yb.data.dtype != xb.data.dtype:
        common = torch.promote_types(xb.data.dtype, yb.data.dtype)
        xb, yb = xb.to_torch(dtype=common), yb.to_torch(dtype=common)
    value = fn(xb, yb, **params)[0, 0]
    return value if torch_in else float(value.detach().cpu())


# ---------------------------------------------------------------------------
# Sinkhorn and EMD
# ---------------------------------------------------------------------------
_VALUES = ("transport", "regularized")

#: Constraints of each distance's parameters, shared by the function and its registered metric.
_SINKHORN_CONSTRAINTS = {
    "reg": POSITIVE,
    "cost": _COST,
    "max_iter": POSITIVE_INT,
    "tol": TOL,
    "value": [StrOptions(set(_VALUES))],
    # as seqot.ot.sinkhorn's; the entries of a pair are checked by the solver
    "unbalanced": [Interval(Real, 0, None, closed="neither"), tuple, list, None],
}
_EMD_CONSTRAINTS = {"cost": _COST}
_TCOT_CONSTRAINTS = {"reg": POSITIVE, "max_iter": POSITIVE_INT, "tol": TOL, "cost": _COST}
_OPW_CONSTRAINTS = {"lambda1": NON_NEGATIVE, "reg": POSITIVE, "delta": POSITIVE,
                    "max_iter": POSITIVE_INT, "tol": TOL, "cost": _COST}


# not symmetric before convergence
@register_metric("sinkhorn", constraints=_SINKHORN_CONSTRAINTS)
def _sinkhorn_metric(xb, yb, *, reg=0.1, cost="sqeuclidean", max_iter=100, tol=1e-9,
                     value="transport", unbalanced=None):
    C, a, b = block_problems(xb, yb, cost)
    res = _sinkhorn(C, a, b, reg=reg, max_iter=max_iter, tol=tol, unbalanced=unbalanced,
                    grad=_grad_mode(xb, yb), warn=False)
    report_unconverged(res, "sinkhorn", f"reg={reg:g}, max_iter={max_iter}, tol={tol:g}",
                       "raise max_iter or reg, or use metric='emd'")
    out = res.value_linear if value == "transport" else res.value
    return out.reshape(xb.n_sequences, yb.n_sequences)


@validate_params(_SINKHORN_CONSTRAINTS, prefer_skip_nested_validation=True)
def sinkhorn(x, y, *, reg=0.1, cost="sqeuclidean", max_iter=100, tol=1e-9, value="transport",
             unbalanced=None):
    r"""Sinkhorn distance between the frame sets of two sequences (order-blind).

    .. math::

        d(x, y) = \langle P^\star, C\rangle,\quad
        P^\star = \arg\min_{P \in U(\mathbf a, \mathbf b)} \langle P, C\rangle
        + \varepsilon\,\mathrm{KL}(P\,\|\,\mathbf a\mathbf b^\top),\quad
        a_i = \tfrac1{T_x},\ b_j = \tfrac1{T_y}

    Parameters
    ----------
    x, y : array-like of shape (T_x, d), (T_y, d)
    reg : float, default=0.1
        :math:`\varepsilon`, in the units of the cost.
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        Frame-to-frame ground cost.
    max_iter, tol : Sinkhorn iterations and tolerance (see :func:`seqot.ot.sinkhorn`). A pair
        whose solve ends unconverged, its plan off the marginals, is re-solved with epsilon
        scaling where ``reg`` is small against its costs, and reported by a
        :class:`~seqot.ot.SinkhornConvergenceWarning` if it still fails (``reg`` is in cost
        units: with unnormalised features the default ``reg=0.1, max_iter=100`` may well be).
    value : {"transport", "regularized"}, default="transport"
        ``"transport"`` returns :math:`\langle P^\star, C\rangle` (Cuturi's Sinkhorn distance, what
        ``ot.sinkhorn2`` returns); ``"regularized"`` the full objective.
    unbalanced : None, float or pair
        KL marginal relaxation (see :func:`seqot.ot.sinkhorn`).

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable)

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import sinkhorn
    >>> x = np.array([[0.0], [1.0]])
    >>> round(sinkhorn(x, x[::-1], reg=0.01), 4)   # order-blind: a reversal costs nothing
    0.0
    """
    return pair_distance("sinkhorn", x, y, reg=reg, cost=cost, max_iter=max_iter, tol=tol,
                         value=value, unbalanced=unbalanced)


@register_metric("emd", symmetric=True, constraints={**_EMD_CONSTRAINTS, "n_jobs": N_JOBS})
def _emd_metric(xb, yb, *, cost="sqeuclidean", n_jobs=None):
    C, a, b = block_problems(xb, yb, cost)
    res = _emd(C, a, b, n_jobs=n_jobs)
    return res.value.reshape(xb.n_sequences, yb.n_sequences)


@validate_params(_EMD_CONSTRAINTS, prefer_skip_nested_validation=True)
def emd(x, y, *, cost="sqeuclidean"):
    r"""Exact optimal-transport (earth mover's) distance between the frame sets of two sequences.

    .. math::

        d(x, y) = \min_{P \in U(\mathbf a, \mathbf b)} \langle P, C\rangle,\quad
        a_i = \tfrac1{T_x},\ b_j = \tfrac1{T_y}

    Order-blind (Kolouri et al. 2017's OT baseline); solved by POT's network simplex, with the
    plan as gradient w.r.t. the cost for torch input.

    Parameters
    ----------
    x, y : array-like of shape (T_x, d), (T_y, d)
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        Frame-to-frame ground cost.

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable)

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import emd
    >>> emd(np.array([[0.0], [2.0]]), np.array([[1.0]]))
    1.0
    """
    return pair_distance("emd", x, y, cost=cost)


# ---------------------------------------------------------------------------
# TCOT and OPW (Su & Hua)
# ---------------------------------------------------------------------------
@register_metric("tcot", constraints=_TCOT_CONSTRAINTS)
def _tcot_metric(xb, yb, *, reg=1.0, max_iter=100, tol=5e-3, cost="sqeuclidean"):
    C, a, b = block_problems(xb, yb, cost)
    C = C * (1.0 + block_position_gap(xb, yb))
    res = _sinkhorn(C, a, b, reg=reg, max_iter=max_iter, tol=tol, grad=_grad_mode(xb, yb),
                    warn=False)
    report_unconverged(res, "tcot", f"reg={reg:g}, max_iter={max_iter}, tol={tol:g}",
                       "raise max_iter or reg")
    return res.value_linear.reshape(xb.n_sequences, yb.n_sequences)


@validate_params(_TCOT_CONSTRAINTS, prefer_skip_nested_validation=True)
def tcot(x, y, *, reg=1.0, max_iter=100, tol=5e-3, cost="sqeuclidean"):
    r"""Temporally coupled optimal transport (Su & Hua 2019).

    .. math::

        C_{ij} = \|x_i - y_j\|^2 \Bigl(1 + \Bigl|\tfrac{i}{T_x} - \tfrac{j}{T_y}\Bigr|\Bigr),\qquad
        d(x, y) = \langle P^\star, C\rangle

    with :math:`P^\star` the entropic plan of kernel :math:`e^{-C/\varepsilon}` and uniform
    marginals, :math:`\varepsilon` = ``reg`` (the authors' :math:`\lambda` is
    :math:`1/\varepsilon`). Defaults follow the authors' code: :math:`\varepsilon = 1`, at most
    100 iterations, tolerance 5e-3. A solve still unconverged after ``max_iter`` iterations,
    with its plan off the marginals, is reported by a
    :class:`~seqot.ot.SinkhornConvergenceWarning`.

    Parameters
    ----------
    x, y : array-like of shape (T_x, d), (T_y, d)
    reg : float, default=1.0
        :math:`\varepsilon`, in the units of the cost (the authors' :math:`\lambda` is its
        inverse: ``reg = 1 / lambda``).
    max_iter : int, default=100
        Sinkhorn iterations.
    tol : float, default=5e-3
        Sinkhorn tolerance (see :func:`seqot.ot.sinkhorn`).
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        Frame cost in place of :math:`\|x_i - y_j\|^2`.

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable)

    References
    ----------
    .. [1] B. Su and G. Hua. Order-preserving optimal transport for distances between
       sequences. IEEE TPAMI 41(12), 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import tcot
    >>> x = np.array([[0.0], [1.0], [2.0]])
    >>> tcot(x, x[::-1]) > tcot(x, x)
    True
    """
    return pair_distance("tcot", x, y, reg=reg, max_iter=max_iter, tol=tol, cost=cost)


def opw_cost(C, gap_rel, len_x, len_y, lambda1, reg, delta):
    r"""The OPW problem as plain entropic OT: cost :math:`C' = D - S - \varepsilon \log P`, reg
    :math:`\varepsilon`. ``gap_rel`` is :math:`i/T_x - j/T_y` (signed or absolute)."""
    S = lambda1 / (gap_rel ** 2 + 1.0)
    ell = gap_rel.abs() / torch.sqrt(1.0 / len_x.to(C.dtype) ** 2
                                     + 1.0 / len_y.to(C.dtype) ** 2)[:, None, None]
    log_prior = -(ell ** 2) / (2.0 * delta ** 2) - math.log(delta * math.sqrt(2.0 * math.pi))
    return C - S - reg * log_prior


@register_metric("opw", constraints=_OPW_CONSTRAINTS)
def _opw_metric(xb, yb, *, lambda1=50.0, reg=0.1, delta=1.0, max_iter=20, tol=0.0,
                cost="sqeuclidean"):
    D, a, b = block_problems(xb, yb, cost)
    gap = block_position_gap(xb, yb)
    nx_, ny_ = xb.n_sequences, yb.n_sequences
    lx = xb.lengths[:, None].expand(nx_, ny_).reshape(-1)
    ly = yb.lengths[None, :].expand(nx_, ny_).reshape(-1)
    Cp = opw_cost(D, gap, lx, ly, lambda1, reg, delta)
    res = _sinkhorn(Cp, a, b, reg=reg, max_iter=max_iter, tol=tol, grad=_grad_mode(xb, yb),
                    warn=False)
    report_unconverged(res, "opw", f"reg={reg:g}, max_iter={max_iter}, tol={tol:g}",
                       "raise max_iter or reg")
    return (res.plan * D).sum((1, 2)).reshape(nx_, ny_)


@validate_params(_OPW_CONSTRAINTS, prefer_skip_nested_validation=True)
def opw(x, y, *, lambda1=50.0, reg=0.1, delta=1.0, max_iter=20, tol=0.0, cost="sqeuclidean"):
    r"""Order-preserving Wasserstein distance (Su & Hua 2017).

    .. math::

        P^\star = \arg\min_{P \in U(\mathbf a, \mathbf b)} \langle P, D\rangle
        - \lambda_1 I(P) + \varepsilon\, \mathrm{KL}(P \,\|\, \Pi),\qquad
        d(x, y) = \langle P^\star, D\rangle

    with the inverse difference moment :math:`I(P) = \sum_{ij} P_{ij} / ((i/T_x - j/T_y)^2 + 1)`
    and the Gaussian band prior
    :math:`\Pi_{ij} = e^{-\ell_{ij}^2/(2\delta^2)}/(\delta\sqrt{2\pi})`,
    :math:`\ell_{ij} = |i/T_x - j/T_y| / \sqrt{1/T_x^2 + 1/T_y^2}`. It is entropic OT with
    cost :math:`D - \lambda_1/((i/T_x - j/T_y)^2+1) - \varepsilon\log\Pi` and regularisation
    :math:`\varepsilon` = ``reg`` (the authors' :math:`\lambda_2`: the entropic regulariser
    and the weight of the KL pull towards the prior), solved by the shared log-domain Sinkhorn.
    Defaults follow the authors' code: :math:`\lambda_1 = 50`, :math:`\varepsilon = 0.1`,
    :math:`\delta = 1`, 20 iterations, :math:`D` the squared Euclidean cost.

    With the default ``tol=0`` the 20 iterations run as the authors' code runs them, with no
    convergence check: their plan is typically far from the marginals (relative L1 error
    0.19 median, 0.47 at most, over the pairs of 12 random 3-d sequences of 5-40 frames), so
    the value is that of the 20-iteration procedure, not of the OPW optimum. ``tol > 0`` stops
    on convergence instead, with epsilon scaling where ``reg`` is small against the costs,
    and a :class:`~seqot.ot.SinkhornConvergenceWarning` for pairs that still fail
    (e.g. ``max_iter=1000, tol=1e-9``).

    Parameters
    ----------
    x, y : array-like of shape (T_x, d), (T_y, d)
    lambda1 : float, default=50.0
        :math:`\lambda_1 \ge 0`, the weight of the inverse difference moment (0: no reward).
    reg : float, default=0.1
        :math:`\varepsilon > 0`, the entropic regulariser and the weight of the KL prior.
    delta : float, default=1.0
        :math:`\delta > 0`, the width of the Gaussian band.
    max_iter : int, default=20
        Sinkhorn iterations.
    tol : float, default=0.0
        Sinkhorn tolerance; 0 runs all ``max_iter`` iterations.
    cost : {"sqeuclidean", "euclidean", "cosine"}, default="sqeuclidean"
        The frame cost :math:`D`.

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable)

    References
    ----------
    .. [1] B. Su and G. Hua. Order-preserving Wasserstein distance for sequence matching.
       CVPR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import opw
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> opw(x, x[::-1]) > opw(x, x)
    True
    """
    return pair_distance("opw", x, y, lambda1=lambda1, reg=reg, delta=delta,
                         max_iter=max_iter, tol=tol, cost=cost)


@validate_params({}, prefer_skip_nested_validation=True)  # no parameters beyond the data
def mean_euclidean(x, y):
    """Euclidean distance between the mean frames of two sequences (aggregation baseline).

    Parameters
    ----------
    x, y : array-like of shape (T_x, d), (T_y, d)

    Returns
    -------
    float (numpy input) or 0-dim Tensor (torch input, differentiable)

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.distances import mean_euclidean
    >>> mean_euclidean(np.array([[0.0], [2.0]]), np.array([[4.0]]))
    3.0
    """
    return pair_distance("mean_euclidean", x, y)

