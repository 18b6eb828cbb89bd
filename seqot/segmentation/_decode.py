"""Frame labels from frame-to-action costs: ASOT decoding and the baselines beside it."""

from __future__ import annotations

import numpy as np

from ..ot._asot import _ASOT_CONSTRAINTS, _asot
from ..utils._param_validation import POSITIVE, Interval, Real, validate_params
from ..utils._validation import check_float_array

__all__ = ["asot_segment", "viterbi_segment"]


def _labels(plan):
    if isinstance(plan, list):
        return [_labels(p) for p in plan]
    return plan.argmax(-1)


@validate_params({**_ASOT_CONSTRAINTS, "return_plan": ["boolean"]},
                 prefer_skip_nested_validation=True)
def asot_segment(cost, mask=None, *, alpha=0.6, radius=0.04, reg=0.04, lambda_actions=0.05,
                 balanced=False, rho=0.0, max_iter=25, step_size=None, gw_grad_scale=1.0,
                 sinkhorn_max_iter=100, return_plan=False):
    r"""Temporally consistent frame labels from any frame-to-action cost, by ASOT.

    Post-processing of a supervised model's frame-wise outputs (cost :math:`1 - P` or
    :math:`-\log P`) or of an unsupervised model's affinities (:math:`1 - \cos`): the labels
    are the row argmax of the :func:`seqot.ot.asot` plan, which penalises label changes within
    ``radius`` of each frame while letting each video use only the actions it needs.

    Parameters
    ----------
    cost : array or Tensor of shape (N, K) or (B, N, K), or list of (N_i, K)
        Frame-to-action costs, lower is better.
    mask : bool array of shape (B, N), optional
        Valid frames of a padded batch.
    alpha, radius, reg, lambda_actions, balanced, rho, max_iter, step_size, gw_grad_scale, sinkhorn_max_iter
        As in :func:`seqot.ot.asot`; the defaults here are the post-processing preset of the
        ASOT specification (structure weight 0.6, sharper entropy 0.04) rather than the
        solver's pseudo-labelling defaults.
    return_plan : bool, default=False
        Also return the soft assignment (rows sum to one).

    Returns
    -------
    labels : int array of shape (N,) or (B, N), or list of (N_i,)
        ``-1``-free labels in ``0..K-1``; on padded frames of a batch the label is 0 and
        meaningless.
    plan : same form as ``cost``, only if ``return_plan``

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.segmentation import asot_segment
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([2, 0, 1], 50)
    >>> probs = rng.dirichlet(np.ones(3), size=150) * 0.7
    >>> probs[np.arange(150), truth] += 0.3
    >>> float((probs.argmax(1) == truth).mean()) < 0.8
    True
    >>> labels = asot_segment(1 - probs)
    >>> float((labels == truth).mean()) > 0.95
    True
    """
    res = _asot(cost, mask, alpha=alpha, radius=radius, reg=reg, lambda_actions=lambda_actions,
                balanced=balanced, rho=rho, max_iter=max_iter, step_size=step_size,
                gw_grad_scale=gw_grad_scale, sinkhorn_max_iter=sinkhorn_max_iter)
    labels = _labels(res.plan)
    return (labels, res.plan) if return_plan else labels


def _cost_matrix(cost):
    """``cost`` as a finite float64 ``(N, K)`` array with N, K >= 1, or a clean error."""
    C = check_float_array(cost, "cost", finite=False)
    if C.ndim != 2 or C.shape[0] == 0 or C.shape[1] == 0:
        raise ValueError(f"cost must be a non-empty (N, K) matrix; got shape {C.shape}.")
    if not np.isfinite(C).all():
        raise ValueError("cost contains NaN or infinite values.")
    return C


def _log_softmax_neg(C, temperature):
    """Row-wise ``log softmax(-C / temperature)`` without overflow.

    Each row is shifted by its minimum and scaled by the largest magnitude first, so the
    exponent is ``-(C - min) / temperature`` in [-inf, 0]; entries so far above their row's
    minimum that the exponent overflows get ``-inf`` (probability 0), as they should.
    """
    scale = float(np.abs(C).max())
    if scale == 0:
        return np.full(C.shape, -np.log(C.shape[1]))
    shifted = C / scale
    shifted = shifted - shifted.min(1, keepdims=True)  # in [0, 2]
    with np.errstate(over="ignore"):
        factor = min(np.float64(scale) / np.float64(temperature), np.finfo(np.float64).max)
        z = -(shifted * factor)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


@validate_params({"stay_probability": [Interval(Real, 0, 1, closed="neither"), None],
                  "mean_segment_length": [Interval(Real, 1, 1e16, closed="neither")],
                  "temperature": POSITIVE}, prefer_skip_nested_validation=True)
def viterbi_segment(cost, *, stay_probability=None, mean_segment_length=80, temperature=0.1):
    r"""Order-free sticky-HMM Viterbi decoding of a frame-to-action cost (a baseline).

    An ergodic HMM whose state persists with probability :math:`s` and otherwise jumps
    uniformly to one of the other :math:`K - 1` states, with emission log-likelihoods
    :math:`\log\mathrm{softmax}_j(-C_{ij}/\tau)`. The dynamic program runs over frames
    (vectorised over states), :math:`O(NK)` memory for the back-pointers.

    Parameters
    ----------
    cost : array of shape (N, K), or list of them
    stay_probability : float in (0, 1), optional
        :math:`s`; default :math:`1 - 1/L` with ``mean_segment_length`` :math:`L`.
    mean_segment_length : float in (1, 1e16), default=80
        :math:`L`, used only when ``stay_probability`` is None.
    temperature : float > 0, default=0.1
        :math:`\tau`, which divides the cost.

    Returns
    -------
    labels : int array of shape (N,), or list of them
    """
    if stay_probability is None:
        stay_probability = 1.0 - 1.0 / mean_segment_length
    if isinstance(cost, (list, tuple)):
        if len(cost) == 0:
            raise ValueError("cost is an empty list; expected at least one (N_i, K) matrix.")
        return [_viterbi(c, stay_probability, float(temperature)) for c in cost]
    return _viterbi(cost, stay_probability, float(temperature))


def _viterbi(cost, stay_probability, temperature):
    """Viterbi labels of one ``(N, K)`` cost (parameters already checked)."""
    C = _cost_matrix(cost)
    N, K = C.shape
    emission = _log_softmax_neg(C, temperature)
    if K == 1:
        return np.zeros(N, dtype=np.int64)
    log_stay = np.log(stay_probability)
    log_move = np.log((1.0 - stay_probability) / (K - 1))
    score = emission[0] - np.log(K)
    back = np.empty((N, K), dtype=np.int64)
    back[0] = np.arange(K)
    for t in range(1, N):  # a recursion over time; each step is vectorised over the K states
        best_other = np.argmax(score)
        # the best predecessor of j among i != j: the overall best, or the runner-up for j itself
        masked = score.copy()
        masked[best_other] = -np.inf
        second = np.argmax(masked)
        from_other = np.where(np.arange(K) == best_other, second, best_other)
        stay = score + log_stay
        move = score[from_other] + log_move
        take_stay = stay >= move
        back[t] = np.where(take_stay, np.arange(K), from_other)
        score = np.where(take_stay, stay, move) + emission[t]
    labels = np.empty(N, dtype=np.int64)
    labels[-1] = int(np.argmax(score))
    for t in range(N - 1, 0, -1):
        labels[t - 1] = back[t, labels[t]]
    return labels
