r"""ASOT: temporally consistent unbalanced fused Gromov-Wasserstein OT, in O(N K) per iteration.

For a video of :math:`N` frames and :math:`K` actions with frame-to-action cost :math:`C`, ASOT
(Xu and Gould, CVPR 2024) solves

.. math::

    \min_{T \ge 0,\ T\mathbf 1_K = p}\ \frac{\gamma\alpha}{2}\,\langle C^v T C^a, T\rangle
    + (1-\alpha)\,\langle \hat C, T\rangle
    + \lambda\,\mathrm{KL}(T^\top \mathbf 1_N \,\|\, q) - \varepsilon H(T),

with :math:`p = \mathbf 1_N/N`, :math:`q = \mathbf 1_K/K`, :math:`\hat C = C + \rho R`,
:math:`R_{ij} = |i/N - j/K|` (0-based), :math:`H(T) = -\sum T_{ij}\log T_{ij}`, the frame
structure :math:`C^v_{ik} = 1/r` for :math:`1 \le |i-k| \le w` (else 0) and the action
structure :math:`C^a = \mathbf 1\mathbf 1^\top - I`. :math:`\gamma` is ``gw_grad_scale``: the
authors' solver uses :math:`\alpha C^v T C^a` as the gradient of the structural term, i.e. it
minimises the objective with GW weight :math:`\alpha/2`; :math:`\gamma = 1` keeps that
convention and :math:`\gamma = 2` gives the exact gradient of :math:`\alpha\langle C^vTC^a,
T\rangle`.

The solver is projected mirror descent in the KL geometry, in the log domain: from
:math:`T^{(0)} = pq^\top`,

.. math::

    G = \gamma\alpha\,C^v (T C^a) + (1-\alpha)\hat C + \varepsilon \log T
        + \lambda\,\mathbf 1_N (\log(K\,T^\top\mathbf 1_N) + 1)^\top,\qquad
    T \leftarrow \mathrm{diag}(p)\,\mathrm{softmax}_{\text{rows}}(\log T - \eta G),

with the step :math:`\eta = 4/\max_{ij} G^{(0)}_{ij}` computed per video and capped at
:math:`\min(1/\varepsilon, 1/\lambda)`. :math:`(T C^a)_{kj} = p_k - T_{kj}` and
:math:`C^v Y` is a box filter along time with the centre tap excluded, evaluated with prefix
sums: :math:`O(NK)` time and memory per iteration whatever the radius, never an
:math:`N \times N` matrix. The balanced variant replaces the mirror step and row projection by
an entropic projection onto both marginals of :math:`\exp(-(\gamma\alpha\Phi +
(1-\alpha)\hat C)/\varepsilon)` with :func:`seqot.ot.sinkhorn` (Peyré et al. 2016's
entropic-GW iteration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..utils._param_validation import NON_NEGATIVE, POSITIVE, POSITIVE_INT, Interval, Real
from ..utils._param_validation import validate_params
from ..utils._validation import check_float_tensor
from ._sinkhorn import _sinkhorn

__all__ = ["ASOTResult", "asot", "asot_structure_product"]


@dataclass
class ASOTResult:
    """Result of :func:`asot` (numpy for numpy input, torch for torch input).

    Attributes
    ----------
    plan : (B, N, K), (N, K) or list of (N_i, K)
        The transport plan rescaled so that every valid row sums to one (:math:`N\\,T`); zero
        on padded frames. The hard labels are its row argmax.
    objective : (B, max_iter + 1), (max_iter + 1,) or list
        The objective of the module docstring at :math:`T^{(0)}, \\dots, T^{(n\\_iter)}` (per
        video, with :math:`T` of total mass one).
    step_size : (B,), scalar or list
        The mirror-descent step :math:`\\eta` used for each video.
    """

    plan: Any
    objective: Any
    step_size: Any


def _prepare_costs(cost, mask):
    """(B, N, K) tensor, (B, N) bool mask, and how to shape the outputs back."""
    if isinstance(cost, (list, tuple)):
        if len(cost) == 0:
            raise ValueError("cost is an empty list; expected at least one (N_i, K) matrix.")
        if mask is not None:
            raise ValueError("mask cannot be combined with a list of cost matrices; the list "
                             "already gives each video's length.")
        items = [check_float_tensor(c, f"cost[{i}]") for i, c in enumerate(cost)]
        for i, c in enumerate(items):
            if c.ndim != 2:
                raise ValueError(f"cost[{i}] must be a 2-D (N, K) matrix; got shape "
                                 f"{tuple(c.shape)}.")
            if c.shape[0] == 0:
                raise ValueError(f"cost[{i}] has no frames (N = 0); every video needs at least "
                                 "one frame.")
        ks = {int(c.shape[1]) for c in items}
        if len(ks) != 1:
            raise ValueError(f"all cost matrices must have the same number of actions K; got "
                             f"{sorted(ks)}.")
        numpy_in = not isinstance(cost[0], torch.Tensor)
        device = items[0].device
        dtype = items[0].dtype
        for c in items[1:]:
            dtype = torch.promote_types(dtype, c.dtype)
        if not dtype.is_floating_point:
            dtype = torch.float64
        lengths = [int(c.shape[0]) for c in items]
        n_max, k = max(lengths), ks.pop()
        C = torch.zeros((len(items), n_max, k), dtype=dtype, device=device)
        M = torch.zeros((len(items), n_max), dtype=torch.bool, device=device)
        for i, c in enumerate(items):
            C[i, :lengths[i]] = c.to(device=device, dtype=dtype)
            M[i, :lengths[i]] = True
        return C, M, ("list", numpy_in, lengths)
    numpy_in = not isinstance(cost, torch.Tensor)
    C = check_float_tensor(cost, "cost")
    if C.ndim not in (2, 3):
        raise ValueError(f"cost must be an (N, K) matrix, a (B, N, K) batch or a list of "
                         f"(N_i, K) matrices; got shape {tuple(C.shape)}.")
    if not C.is_floating_point():
        C = C.to(torch.float64)
    single = C.ndim == 2
    if single:
        C = C[None]
    B, N, _ = C.shape
    if mask is None:
        M = torch.ones((B, N), dtype=torch.bool, device=C.device)
    else:
        if not isinstance(mask, torch.Tensor):
            mask_arr = np.asarray(mask)
            if mask_arr.dtype != bool:
                raise ValueError(f"mask must be boolean (True on valid frames); got "
                                 f"{mask_arr.dtype}.")
            mask = torch.from_numpy(np.ascontiguousarray(mask_arr))
        M = mask.to(device=C.device)
        if single and M.ndim == 1:
            M = M[None]
        if tuple(M.shape) != (B, N):
            raise ValueError(f"mask must have shape {(B, N) if not single else (N,)} (videos, "
                             f"frames); got {tuple(M.shape)}.")
        if M.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True on valid frames); got {M.dtype}.")
        if bool((M[:, 1:] & ~M[:, :-1]).any()):
            raise ValueError("mask must mark a prefix of each video's frames (padding at the "
                             "end only); a False frame followed by a True one was found.")
    return C, M, ("single" if single else "batch", numpy_in, None)


def _shape_output(x, form, *, per_frame):
    kind, numpy_in, lengths = form
    to = (lambda t: t.detach().cpu().numpy()) if numpy_in else (lambda t: t)
    if kind == "single":
        return to(x[0])
    if kind == "batch":
        return to(x)
    if per_frame:
        return [to(x[i, :n]) for i, n in enumerate(lengths)]
    return [to(x[i]) for i in range(len(lengths))]


def _window_half_widths(lengths, radius, alpha):
    """:math:`w = \\lfloor N r \\rfloor`, at least 1 when the structural term is on.

    The authors' ``int(N * r)`` is 0 for :math:`N < 1/r` (24 frames at r = 0.04), which
    silently turned ASOT into plain unbalanced OT on short videos.
    """
    w = torch.floor(lengths.to(torch.float64) * radius).to(torch.long)
    if alpha > 0:
        w = w.clamp_min(1)
    return w


def _structure_product(T, p, half_width, radius):
    r""":math:`C^v (T C^a)` for plans whose valid rows sum to ``p``, by prefix sums.

    ``T`` is (B, N, K) with zero padded rows, ``p`` (B, N, 1) the row masses, ``half_width``
    (B,) the window half-widths :math:`w`. :math:`(TC^a)_{kj} = p_k - T_{kj}`; the window sum
    over :math:`1 \le |i - k| \le w` is a difference of two prefix sums minus the centre,
    truncated at the video's ends (padded rows hold zeros).
    """
    Y = p - T  # T C^a; zero on padded rows because p and T both are
    B, N, K = Y.shape
    S = torch.nn.functional.pad(Y.cumsum(dim=1), (0, 0, 1, 0))  # S[:, i] = sum_{k < i} Y[:, k]
    idx = torch.arange(N, device=Y.device)
    hi = (idx[None, :] + half_width[:, None] + 1).clamp_max(N)
    lo = (idx[None, :] - half_width[:, None]).clamp_min(0)
    upper = torch.gather(S, 1, hi[:, :, None].expand(B, N, K))
    lower = torch.gather(S, 1, lo[:, :, None].expand(B, N, K))
    return (upper - lower - Y) / radius


#: The temporal radius r of the frame structure matrix, a fraction of the video length.
_RADIUS = [Interval(Real, 0, 1, closed="right")]


@validate_params({"radius": _RADIUS, "alpha": NON_NEGATIVE}, prefer_skip_nested_validation=True)
def asot_structure_product(T, radius, mask=None, *, alpha=1.0):
    r"""The structural gradient :math:`\Phi = C^v T C^a` of ASOT, in :math:`O(NK)`.

    Exposed for tests and for users building their own objectives; :func:`asot` uses the same
    routine.

    Parameters
    ----------
    T : array or Tensor of shape (B, N, K) or (N, K)
        Plans (rows of padded frames are ignored).
    radius : float
        The radius :math:`r \in (0, 1]` of the frame structure matrix.
    mask : bool array of shape (B, N) or (N,), optional
        Valid frames; the window is truncated at each video's own end.
    alpha : float >= 0, default=1.0
        Only whether it is positive matters: then the half-width is at least one frame.

    Returns
    -------
    Phi : same shape and type as ``T``
        :math:`(C^v T C^a)_{ij} = \frac1r \sum_{k:\,1\le|i-k|\le w} \bigl(\sum_l T_{kl} -
        T_{kj}\bigr)`, zero on padded rows.
    """
    C, M, form = _prepare_costs(T, mask)
    zero = torch.zeros((), dtype=C.dtype, device=C.device)
    Tm = torch.where(M[:, :, None], C, zero)
    half_width = _window_half_widths(M.sum(1), radius, alpha)
    Phi = _structure_product(Tm, Tm.sum(-1, keepdim=True), half_width, radius)
    return _shape_output(torch.where(M[:, :, None], Phi, zero), form, per_frame=True)


def _objective(T, Phi, C_lin, log_T, gw_weight, eps, lam, balanced, K):
    """Per-video objective (module docstring) of plans ``T`` of total mass one."""
    value = 0.5 * gw_weight * (Phi * T).sum((1, 2)) + (C_lin * T).sum((1, 2))
    value = value + eps * (T * log_T).sum((1, 2))
    if not balanced and lam > 0:
        m = T.sum(1)
        kl = torch.where(m > 0, m * torch.log(m * K), torch.zeros_like(m)).sum(-1)
        value = value + lam * kl
    return value


#: Constraints of :func:`asot`'s scalar parameters (shared with ``asot_segment``).
_ASOT_CONSTRAINTS = {
    "alpha": [Interval(Real, 0, 1, closed="left")],
    "radius": _RADIUS,
    "reg": POSITIVE,
    "lambda_actions": NON_NEGATIVE,
    "balanced": ["boolean"],
    "rho": NON_NEGATIVE,
    "max_iter": POSITIVE_INT,
    "step_size": [*POSITIVE, None],
    "gw_grad_scale": POSITIVE,
    "sinkhorn_max_iter": POSITIVE_INT,
}


@validate_params(_ASOT_CONSTRAINTS, prefer_skip_nested_validation=True)
def asot(cost, mask=None, *, alpha=0.3, radius=0.04, reg=0.07, lambda_actions=0.05,
         balanced=False, rho=0.0, max_iter=25, step_size=None, gw_grad_scale=1.0,
         sinkhorn_max_iter=100):
    r"""ASOT: temporally consistent (un)balanced fused-GW optimal transport of frames to actions.

    Solves the problem of :mod:`seqot.ot._asot` (ASOT, Xu and Gould 2024, Eq. 4 with the
    entropy of Sec. 4.4) for every video of a batch, by projected mirror descent with
    :math:`O(NK)` time and memory per iteration.

    Parameters
    ----------
    cost : array or Tensor of shape (N, K) or (B, N, K), or list of (N_i, K)
        Frame-to-action costs, lower is better (e.g. :math:`1 - \cos`, :math:`1 - P`). A list
        holds videos of different lengths; a 3-D batch uses ``mask``.
    mask : bool array of shape (B, N) or (N,), optional
        True on valid frames of a padded batch. Each video is solved exactly as it would be
        alone (own length, radius, step size, temporal prior).
    alpha : float in [0, 1), default=0.3
        Weight of the structural (GW) term against the visual cost; 0 is plain
        (semi-relaxed) entropic OT.
    radius : float in (0, 1], default=0.04
        Temporal radius :math:`r` as a fraction of the video length: frames within
        :math:`w = \max(1, \lfloor N r\rfloor)` of each other pay for different actions.
    reg : float > 0, default=0.07
        Entropic regularisation :math:`\varepsilon`.
    lambda_actions : float >= 0, default=0.05
        Weight :math:`\lambda` of the KL penalty pulling the action marginal towards uniform
        (semi-relaxed problem). Small values let videos use a subset of actions.
    balanced : bool, default=False
        Enforce the uniform action marginal as a hard constraint instead (the "Balanced OT"
        ablation); ``lambda_actions`` is then unused.
    rho : float >= 0, default=0.0
        Weight of the global temporal prior :math:`R_{ij} = |i/N - j/K|` added to the cost
        (a canonical action order shared across videos).
    max_iter : int, default=25
        Mirror-descent iterations (the paper: converges within 25).
    step_size : float > 0, optional
        Fixed step :math:`\eta`. ``None``: :math:`4/\max_{ij} G^{(0)}_{ij}` per video (the
        authors' rule; it depends on the cost's offset, so adding a constant to the cost
        changes the result), capped at :math:`\min(1/\varepsilon, 1/\lambda)` so that large
        :math:`\lambda` does not diverge.
    gw_grad_scale : float > 0, default=1.0
        :math:`\gamma`: 1 is the authors' convention (GW weight effectively :math:`\alpha/2`),
        2 the exact gradient of :math:`\alpha\langle C^vTC^a, T\rangle`.
    sinkhorn_max_iter : int, default=100
        Balanced only: Sinkhorn iterations of each projection (warm-started, stopping early
        at convergence); 1 reproduces the authors' inexact one-step projection.

    Returns
    -------
    ASOTResult
        ``plan`` (rows sum to one, zero on padding), ``objective`` trace and ``step_size``,
        in the input's form (numpy / torch on the input's device / list).

    Notes
    -----
    With ``alpha=0`` and ``lambda_actions=0`` the plan is the row softmax of
    :math:`-C/\varepsilon`; with ``alpha=0`` it converges to the semi-relaxed entropic OT
    plan of POT's ``ot.unbalanced.sinkhorn_unbalanced(p, q, C, reg, reg_m=(inf, lambda))``.
    The structural term is non-convex: the solver finds a stationary point from the uniform
    plan.

    References
    ----------
    .. [1] M. Xu and S. Gould. Temporally consistent unbalanced optimal transport for
       unsupervised action segmentation. CVPR 2024.
    .. [2] G. Peyré, M. Cuturi and J. Solomon. Gromov-Wasserstein averaging of kernel and
       distance matrices. ICML 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.ot import asot
    >>> rng = np.random.default_rng(0)
    >>> truth = np.repeat([0, 2, 1], 40)
    >>> cost = 1.0 + 0.5 * rng.normal(size=(120, 3))
    >>> cost[np.arange(120), truth] -= 0.5
    >>> bool((cost.argmin(1) == truth).mean() < 0.8)
    True
    >>> res = asot(cost, alpha=0.6, reg=0.04, lambda_actions=0.01)
    >>> np.allclose(res.plan.sum(1), 1.0), bool((res.plan.argmax(1) == truth).mean() > 0.95)
    (True, True)
    """
    return _asot(cost, mask, alpha=alpha, radius=radius, reg=reg,
                 lambda_actions=lambda_actions, balanced=balanced, rho=rho, max_iter=max_iter,
                 step_size=step_size, gw_grad_scale=gw_grad_scale,
                 sinkhorn_max_iter=sinkhorn_max_iter)


def _asot(cost, mask=None, *, alpha, radius, reg, lambda_actions, balanced, rho, max_iter,
          step_size, gw_grad_scale, sinkhorn_max_iter):
    """:func:`asot` without the parameter checks (for seqot's own per-batch callers)."""
    C, M, form = _prepare_costs(cost, mask)
    B, N, K = C.shape
    if K < 1:
        raise ValueError("cost has no action columns (K = 0).")
    if N == 0:
        raise ValueError("cost has no frames (N = 0).")
    maskf = M[:, :, None].to(C.dtype)
    valid = M[:, :, None].expand(B, N, K)
    if not bool(torch.isfinite(torch.where(valid, C, torch.zeros((), dtype=C.dtype,
                                                                 device=C.device))).all()):
        raise ValueError("cost contains NaN or infinite values on valid frames.")
    with torch.no_grad():
        plan, trace, steps = _solve(C.detach(), M, maskf, alpha=float(alpha),
                                    radius=float(radius), eps=float(reg),
                                    lam=float(lambda_actions), balanced=bool(balanced),
                                    rho=float(rho), max_iter=int(max_iter), step_size=step_size,
                                    gamma=float(gw_grad_scale),
                                    n_sinkhorn_iter=int(sinkhorn_max_iter))
    return ASOTResult(plan=_shape_output(plan, form, per_frame=True),
                      objective=_shape_output(trace, form, per_frame=False),
                      step_size=_shape_output(steps, form, per_frame=False))


def _exp_no_subnormals(x):
    """``exp(x)`` with results below the smallest normal float flushed to zero.

    Subnormal floats make every later CPU operation on them one to two orders of magnitude
    slower (a 16,000-frame float32 solve took 4.5 s instead of 0.1 s); mass this small is
    below the solver's precision anyway.
    """
    floor = math.log(torch.finfo(x.dtype).tiny)
    return torch.exp(x).masked_fill_(x < floor, 0.0)


def _solve(C, M, maskf, *, alpha, radius, eps, lam, balanced, rho, max_iter, step_size, gamma,
           n_sinkhorn_iter):
    B, N, K = C.shape
    dtype, device = C.dtype, C.device
    lengths = M.sum(1)  # (B,)
    n_valid = lengths.clamp_min(1).to(dtype)
    p = maskf / n_valid[:, None, None]  # (B, N, 1) row masses, 0 on padding
    # padded rows keep log p = 0 so that no -inf ever meets arithmetic; they are masked out
    log_p = torch.where(M[:, :, None], torch.log(p.clamp_min(torch.finfo(dtype).tiny)),
                        torch.zeros((), dtype=dtype, device=device))

    C_lin = (1.0 - alpha) * torch.where(M[:, :, None], C, torch.zeros((), dtype=dtype,
                                                                     device=device))
    if rho > 0:
        frame_pos = torch.arange(N, device=device, dtype=dtype)[None, :] / n_valid[:, None]
        action_pos = torch.arange(K, device=device, dtype=dtype) / K
        prior = (frame_pos[:, :, None] - action_pos[None, None, :]).abs()
        C_lin = C_lin + (1.0 - alpha) * rho * prior * maskf
    half_width = _window_half_widths(lengths, radius, alpha)
    gw = gamma * alpha
    logK = math.log(K)

    log_T = (log_p - logK).expand(B, N, K).clone()
    T = torch.exp(log_T) * maskf
    trace = torch.zeros((B, max_iter + 1), dtype=dtype, device=device)

    def structure(T):
        if gw == 0:
            return torch.zeros_like(T)
        return _structure_product(T, p, half_width, radius)

    def marginal_term(T):
        return lam * torch.log((T.sum(1) * K).clamp_min(torch.finfo(dtype).tiny))  # (B, K)

    Phi = structure(T)
    if step_size is None:
        G0 = gw * Phi + C_lin + eps * log_T
        if not balanced:
            G0 = G0 + lam * (marginal_term(T)[:, None, :] + 1.0)
        big = torch.finfo(dtype).max
        g_max = torch.where(M[:, :, None], G0, torch.full((), -big, dtype=dtype,
                                                          device=device)).amax((1, 2))
        g_abs = torch.where(M[:, :, None], G0.abs(), torch.zeros((), dtype=dtype,
                                                                 device=device)).amax((1, 2))
        denom = torch.where(g_max > 0, g_max, g_abs)
        eta = torch.where(denom > 0, 4.0 / denom.clamp_min(torch.finfo(dtype).tiny),
                          torch.ones((), dtype=dtype, device=device))
        cap = 1.0 / eps if (balanced or lam == 0) else min(1.0 / eps, 1.0 / lam)
        eta = eta.clamp_max(cap)
    else:
        eta = torch.full((B,), float(step_size), dtype=dtype, device=device)
    eta3 = eta[:, None, None]

    a = p[:, :, 0]
    b = torch.where(lengths[:, None] > 0, torch.full((B, K), 1.0 / K, dtype=dtype,
                                                     device=device), torch.zeros((), dtype=dtype, device=device))
    potentials = None
    # videos without a valid frame have no mass to transport: the balanced solve leaves them out
    # (their plan stays 0), as Sinkhorn needs positive masses
    solved = None if bool((lengths > 0).all()) else torch.nonzero(lengths > 0).squeeze(1)
    for t in range(max_iter + 1):
        trace[:, t] = _objective(T, Phi, C_lin, log_T * maskf, gw, eps, lam, balanced, K)
        if t == max_iter:
            break
        if balanced:
            rows = slice(None) if solved is None else solved  # a view when none is empty
            plan = torch.zeros_like(T)
            if solved is None or solved.numel():
                # inexact inner solves by design (each outer step warm-starts from the last
                # one's potentials): no convergence warning per outer step
                res = _sinkhorn((gw * Phi + C_lin)[rows], a[rows], b[rows], reg=eps,
                                max_iter=n_sinkhorn_iter,
                                tol=1e-9 if n_sinkhorn_iter > 1 else 0.0, grad="detach",
                                warm_start=potentials, warn=False)
                potentials = res.potentials
                plan[rows] = res.plan
            # the Sinkhorn plan ends on the column update: make the rows exact, as the output
            # contract and the (T C^a) = p - T identity of the structure product need
            T = plan * (p / plan.sum(-1, keepdim=True).clamp_min(torch.finfo(dtype).tiny))
            T = T * maskf
            log_T = torch.log(T.clamp_min(torch.finfo(dtype).tiny))
        else:
            logits = log_T - eta3 * (gw * Phi + C_lin + eps * log_T
                                     + marginal_term(T)[:, None, :])
            log_T = logits - torch.logsumexp(logits, dim=-1, keepdim=True) + log_p
            T = _exp_no_subnormals(log_T) * maskf
        Phi = structure(T)

    if balanced:
        plan = T * n_valid[:, None, None]
    else:
        plan = torch.exp(log_T - log_p) * maskf
    return plan, trace, eta
