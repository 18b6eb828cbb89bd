r"""Batched, masked, log-domain Sinkhorn for balanced, semi-relaxed and unbalanced OT.

The problem solved for every ``b`` of a batch (POT's ``ot.solve`` convention, reference measure
:math:`\mathbf a \mathbf b^\top` for the entropy):

.. math::

    \min_{P \ge 0}\ \langle P, C\rangle + \varepsilon\,\mathrm{KL}(P \,\|\, \mathbf a\mathbf b^\top)
    + \tau_a\,\mathrm{KL}(P\mathbf 1 \,\|\, \mathbf a) + \tau_b\,\mathrm{KL}(P^\top\mathbf 1 \,\|\, \mathbf b)

with :math:`\mathrm{KL}(x\|y) = \sum x\log(x/y) - x + y`; :math:`\tau = \infty` turns a marginal
into a hard constraint (balanced: both; semi-relaxed: one). In the dual potentials
:math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij})/\varepsilon)` and the updates are

.. math::

    f_i = -\kappa_a\,\varepsilon \log \sum_j b_j e^{(g_j - C_{ij})/\varepsilon},\qquad
    g_j = -\kappa_b\,\varepsilon \log \sum_i a_i e^{(f_i - C_{ij})/\varepsilon},\qquad
    \kappa = \frac{\tau}{\tau + \varepsilon}\ (\kappa = 1 \text{ if } \tau = \infty)

(Chizat et al. 2018; Séjourné et al. 2019), evaluated with log-sum-exp so that tiny ``reg``
stays finite. Entries with zero weight are padding: they get zero mass and never produce NaN,
so problems of different sizes share one batch. Where ``reg`` is so small against the costs
that the plain iterations stall off the marginals, the problems concerned are re-solved by
epsilon scaling, and any still off them are reported by a :class:`SinkhornConvergenceWarning`
(see :func:`sinkhorn`'s Notes).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from numbers import Real

import numpy as np
import torch

from ..utils._param_validation import (
    POSITIVE,
    POSITIVE_INT,
    TOL,
    Interval,
    StrOptions,
    validate_params,
)
from ..utils._validation import check_float_tensor, check_positive
from ._base import OTResult, _output, _prepare

__all__ = ["OTResult", "SinkhornConvergenceWarning", "sinkhorn"]

_GRAD_MODES = ("autodiff", "envelope", "detach")


class SinkhornConvergenceWarning(UserWarning):
    """A Sinkhorn solve ended, after its iteration budget, with its plan off its marginals.

    Emitted (once per call) by :func:`seqot.ot.sinkhorn` and the Sinkhorn-based distances of
    :mod:`seqot.distances`; filter it with
    ``warnings.filterwarnings("ignore", category=SinkhornConvergenceWarning)``.
    """


def _check_reg(reg, C):
    """reg as a (B,) tensor of positive finite values (no gradient)."""
    B = C.shape[0]
    if isinstance(reg, np.ndarray) and reg.ndim == 0:
        reg = reg.item()  # a numpy 0-d array is a number, as a 0-d tensor is
    if isinstance(reg, torch.Tensor) or (isinstance(reg, (np.ndarray, list, tuple)) and np.ndim(
            reg if not isinstance(reg, (list, tuple)) else np.empty(len(reg))) > 0):
        r = check_float_tensor(reg.detach() if isinstance(reg, torch.Tensor) else reg, "reg",
                               device=C.device, dtype=C.dtype).reshape(-1)
        if r.numel() == 1:
            r = r.expand(B)
        if r.shape != (B,):
            raise ValueError(f"reg must be a number or have one value per problem ({B}); "
                             f"got shape {tuple(r.shape)}.")
        if not bool(torch.isfinite(r).all()) or bool((r <= 0).any()):
            raise ValueError("reg must be a finite number > 0 for every problem.")
        return r
    return torch.full((B,), float(check_positive(reg, "reg")), dtype=C.dtype, device=C.device)


def _check_warm_start(warm_start, mask_a, mask_b):
    """``(f, g)`` as tensors of the batch's shapes ``(B, n)``, ``(B, m)``, or None."""
    if warm_start is None:
        return None
    if not isinstance(warm_start, (tuple, list)) or len(warm_start) != 2:
        raise ValueError("warm_start must be a pair (f, g) of dual potentials; got "
                         f"{type(warm_start).__name__}.")
    out = []
    for p, name, mask in ((warm_start[0], "warm_start[0] (f)", mask_a),
                          (warm_start[1], "warm_start[1] (g)", mask_b)):
        t = check_float_tensor(p.detach() if isinstance(p, torch.Tensor) else p, name,
                               device=mask.device)
        B, size = mask.shape
        if t.numel() != B * size:
            raise ValueError(f"{name} must have shape ({size},) or ({B}, {size}); got "
                             f"{tuple(t.shape)}.")
        t = t.reshape(B, size)
        if not bool(torch.isfinite(t[mask]).all()):
            raise ValueError(f"{name} contains NaN or infinity.")
        out.append(t)
    return tuple(out)


def _unbalanced_pair(unbalanced):
    if unbalanced is None:
        return math.inf, math.inf
    if isinstance(unbalanced, (tuple, list)):
        if len(unbalanced) != 2:
            raise ValueError("unbalanced must be a number or a pair (tau_a, tau_b).")
        pair = unbalanced
    else:
        pair = (unbalanced, unbalanced)
    out = []
    for tau in pair:
        if tau is None or tau == math.inf:
            out.append(math.inf)
        else:
            out.append(float(check_positive(tau, "unbalanced")))
    return tuple(out)


# ---------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------
def _kl_terms(log_ratio, x, y):
    """Σ x·log(x/y) − x + y per problem, given log(x/y) on the support (x > 0)."""
    return (torch.where(x > 0, x * log_ratio, torch.zeros_like(x)) - x + y).sum(-1)


def _exp_floor(dtype):
    """log of the smallest normal number: exp below it underflows, and CPUs take a slow path
    (about 7x) on such inputs; flooring changes results by less than that number."""
    return math.log(torch.finfo(dtype).tiny) + 1.0


def _lse(x, dim):
    """log-sum-exp; the shift is detached, so the gradient is exactly the softmax."""
    m = x.detach().amax(dim, keepdim=True)
    return (x - m).clamp_min(_exp_floor(x.dtype)).exp().sum(dim).log() + m.squeeze(dim)


def _log_steps(logK, la, lb, fs, gs, upd_a, upd_b, kappa_a, kappa_b, k):
    """k iterations in the log domain (always finite). Returns the last two iterates."""
    pf, pg = fs, gs
    for _ in range(k):
        pf, pg = fs, gs
        fs = torch.where(upd_a, -kappa_a * _lse(logK + (gs + lb)[:, None, :], 2), fs)
        gs = torch.where(upd_b, -kappa_b * _lse(logK + (fs + la)[:, :, None], 1), gs)
    return fs, gs, pf, pg


# Re-absorb the scalings into the kernel once they leave [e^-20, e^20] at the end of a chunk.
# (Within a chunk they may move further, e.g. from a cold start: overflow then shows as a
# non-finite iterate and the chunk is redone in the log domain.)
_ABSORB_LOG = 20.0


class _Scalings:
    """Sinkhorn iterations as matrix scalings of an absorbed kernel (Schmitzer 2019).

    With potentials ``f0, g0`` absorbed, A = exp(logK + f0 + g0 + log a + log b) is the plan at
    absorption (entries <= 1), and the scalings u = exp(f - f0), v = exp(g - g0) stay near 1.
    The log-domain update f = -kappa * LSE_j(logK + g + log b) then reads
    u = e^{(kappa-1) f0 + kappa log a} (A v)^{-kappa}, i.e. u = a / (A v) for a hard marginal:
    one batched mat-vec and one division instead of the five passes of a log-sum-exp.

    Padding costs no extra operation per iteration: the numerators are 0 on padded rows and
    columns, so padded scalings are exactly 0 and drop out of every product, and A is 1 on
    padded entries, so a padded row's A v (a sum of valid v's) is positive, never 0/0.
    A is rebuilt only when the scalings drift beyond ``_ABSORB_LOG`` or after a log-domain
    redo, not every chunk: near convergence the scalings barely move, and a rebuild costs
    several passes over the (B, n, m) kernel.

    On CPU, a batch of problems is stored batch-innermost, A as (n, m, B) and Aᵀ as (m, n, B),
    and the mat-vecs are a product and a sum over the middle axis: SIMD runs across problems,
    which is 2-4x faster than ``torch.bmm`` with one right-hand side (measured on a 2-core
    AVX-512 CPU, torch 2.13, from 1875 8x8 to 4 1000x1000 problems). A single problem keeps
    ``bmm`` (a GEMV, faster there), and so do other devices, whose batched GEMMs are
    efficient.
    """

    def __init__(self, logK, keep, la, lb, mask_a, mask_b, kappa_a, kappa_b, hard_a, hard_b,
                 inner=None):
        self.logK, self.keep, self.la, self.lb = logK, keep, la, lb
        self.mask_a, self.mask_b = mask_a, mask_b
        self.kappa_a, self.kappa_b, self.hard_a, self.hard_b = kappa_a, kappa_b, hard_a, hard_b
        if inner is None:
            inner = logK.device.type == "cpu" and logK.shape[0] > 1
        self.inner = inner
        # state layout of the scalings: (n, B) batch-innermost, else (B, n, 1) for bmm
        self._state = (lambda x: x.t().contiguous()) if inner else (lambda x: x[:, :, None])
        self._unstate = (lambda x: x.t()) if inner else (lambda x: x.squeeze(2))
        # exponents of the relaxed updates, broadcastable against the state layout
        self.pow_a = self._state(-kappa_a.expand(-1, 1)) if inner else -kappa_a[:, :, None]
        self.pow_b = self._state(-kappa_b.expand(-1, 1)) if inner else -kappa_b[:, :, None]
        # Zeroed kernel entries (< e^floor) leave a mat-vec exact to rounding while
        # m e^floor max_j v_j <= eps * (A v)_i for every row (and likewise for columns):
        # the largest allowed ratio max v / min (A v), per side
        dt = logK.dtype
        log_eps = math.log(torch.finfo(dt).eps) - _exp_floor(dt)
        self.max_ratio_rows = math.exp(min(log_eps - math.log(logK.shape[2]), 700.0))
        self.max_ratio_cols = math.exp(min(log_eps - math.log(logK.shape[1]), 700.0))
        self.A = None

    def _absorb(self, fs, gs):
        """Build A from (fs, gs); False when the kernel domain cannot represent it."""
        logA = (self.logK + (fs + self.la)[:, :, None]).add_((gs + self.lb)[:, None, :])
        dt = logA.dtype
        # exp is 7-20x slower on inputs whose result is subnormal or 0, so exp never sees them
        # (see below). A row (column) whose largest entry is itself within ~1/eps of that floor
        # (all entries tiny, e.g. zero potentials with reg << cost) is left to the log domain,
        # as underflow was.
        floor = _exp_floor(dt)
        low = floor - math.log(torch.finfo(dt).eps) + 10.0
        degenerate = (((logA.amax(2) < low) & self.mask_a).any()
                      | ((logA.amax(1) < low) & self.mask_b).any())
        if bool(degenerate):
            return False
        if self.keep is not None:
            logA.mul_(self.keep)  # padded entries: exp(0) = 1 (see the class notes)
        # Entries below the floor are exactly 0, as if exp had underflowed: a floored value
        # would be wrong by up to e^700, and the scalings can grow that much within a chunk.
        # The 0/1 mask is built with float ops (boolean ops are ~20x slower on CPU), and only
        # when some entry is that small.
        underflow = None
        if bool(logA.amin() < floor):
            underflow = (logA - floor).sign_().clamp_min_(0.0)
        A = logA.clamp_min_(floor).exp_()
        # Those zeros are exact only while e^floor * (scaling) stays negligible next to the
        # mat-vec it is dropped from: with zeroed entries, run() tracks the largest scalings
        # and smallest mat-vecs and hands the chunk to the log domain when that bound fails
        # (a cold start with reg << cost can move the scalings by e^hundreds).
        self.track = underflow is not None
        if self.track:
            A.mul_(underflow)
        if self.inner:
            self.A = A.permute(1, 2, 0).contiguous()
            self.At = A.permute(2, 1, 0).contiguous()
            # A's storage holds the products of both mat-vecs from now on (unless a permute
            # above was already contiguous and returned A itself)
            shared = A.data_ptr() in (self.A.data_ptr(), self.At.data_ptr())
            # a flat buffer: A may be non-contiguous (costs built as a permuted view)
            self._buf = (A.view(-1) if A.is_contiguous() and not shared
                         else torch.empty(A.numel(), dtype=dt, device=A.device))
        else:
            self.A = A
            self.At = A.transpose(1, 2).contiguous()
        zero = torch.zeros((), dtype=dt, device=fs.device)
        # e^{(kappa-1) f0 + kappa log a}: a itself for a hard marginal, 0 on padding
        self.ea = self._state(torch.where(
            self.mask_a, torch.exp((self.kappa_a - 1.0) * fs + self.kappa_a * self.la), zero))
        self.eb = self._state(torch.where(
            self.mask_b, torch.exp((self.kappa_b - 1.0) * gs + self.kappa_b * self.lb), zero))
        self.f0, self.g0 = fs, gs
        u = self._state(self.mask_a.to(dt))
        v = self._state(self.mask_b.to(dt))
        self.pad_a, self.pad_b = 1.0 - u, 1.0 - v
        # Every iteration writes into these buffers (two per scaling: the last two iterates),
        # not into fresh tensors: on CPU, a fresh output of a few 100 kB costs page faults
        # (the allocator hands freed memory back) worth several times the arithmetic.
        self.u_bufs, self.v_bufs = (u, torch.empty_like(u)), (v, torch.empty_like(v))
        self.u, self.v = u, v
        self.Av, self.Atu = torch.empty_like(u), torch.empty_like(v)
        return True

    def _matvec(self, K, x, out):
        """K x per problem, in the state layout, written to ``out``."""
        if not self.inner:
            return torch.bmm(K, x, out=out)
        buf = self._buf.view(K.shape)
        torch.mul(K, x[None], out=buf)
        return torch.sum(buf, 1, out=out)

    @staticmethod
    def _scale(e, Kx, power, hard, out):
        """e / Kx for a hard marginal, e * Kx^power for a relaxed one, written to ``out``."""
        if hard:
            return torch.div(e, Kx, out=out)
        return torch.pow(Kx, power, out=out).mul_(e)

    @staticmethod
    def _other(bufs, x):
        return bufs[1] if x is bufs[0] else bufs[0]

    def run(self, fs, gs, k, active, previous):
        """k iterations from (fs, gs). Returns the last iterate of the scaled potentials, the
        one before it (only if ``previous``, else None) and whether they are usable: True,
        False (non-finite, or dropped kernel entries that matter: the chunk is left to the log
        domain), or None (no kernel can be absorbed at (fs, gs); nothing was computed)."""
        if self.A is None and not self._absorb(fs, gs):
            return None, None, None, None, None
        A, At, ea, eb, u, v = self.A, self.At, self.ea, self.eb, self.u, self.v
        frozen = None
        if active is not None:
            frozen = ~active[None, :] if self.inner else ~active[:, None, None]
        pu, pv = u, v
        if self.track:
            umax, vmax = u.clone(), v.clone()
            Av_min = torch.full_like(self.Av, math.inf)
            Atu_min = torch.full_like(self.Atu, math.inf)
        for _ in range(k):
            pu, pv = u, v
            Av = self._matvec(A, v, self.Av)
            u = self._scale(ea, Av, self.pow_a, self.hard_a, self._other(self.u_bufs, pu))
            if frozen is not None:
                torch.where(frozen, pu, u, out=u)
            Atu = self._matvec(At, u, self.Atu)
            v = self._scale(eb, Atu, self.pow_b, self.hard_b, self._other(self.v_bufs, pv))
            if frozen is not None:
                torch.where(frozen, pv, v, out=v)
            if self.track:
                torch.maximum(umax, u, out=umax)
                torch.maximum(vmax, v, out=vmax)
                torch.minimum(Av_min, Av, out=Av_min)
                torch.minimum(Atu_min, Atu, out=Atu_min)
        self.u, self.v = u, v

        # padded scalings are 0: adding 1 there makes their log exactly 0 (no -inf pass)
        def log_scaling(x, pad):
            return self._unstate((x + pad).log())

        lu, lv = log_scaling(u, self.pad_a), log_scaling(v, self.pad_b)
        f_new, g_new = self.f0 + lu, self.g0 + lv
        if previous:
            pf = self.f0 + log_scaling(pu, self.pad_a)
            pg = self.g0 + log_scaling(pv, self.pad_b)
        else:
            pf = pg = None
        # one host sync: finite, and whether the scalings drifted far enough to re-absorb
        drift = torch.maximum(lu.abs().amax(), lv.abs().amax())
        # A finite total means every entry is finite (NaN and inf propagate through sums): two
        # reductions instead of the ~10 passes of isfinite().all() per iterate. A non-finite
        # total may also be an overflow of finite entries; the exact test below decides then.
        checks = [torch.isfinite(f_new.sum() + g_new.sum()), drift <= _ABSORB_LOG]
        if self.track:  # zeroed entries stayed negligible in every mat-vec, per problem
            rows = self._unstate(vmax).amax(1) / self._unstate(Av_min).amin(1)
            cols = self._unstate(umax).amax(1) / self._unstate(Atu_min).amin(1)
            checks.append((rows <= self.max_ratio_rows).all()
                          & (cols <= self.max_ratio_cols).all())
        finite, near, *bounded = torch.stack(checks).tolist()
        if not finite:
            finite = bool(torch.isfinite(f_new).all() & torch.isfinite(g_new).all())
        ok = finite and all(bounded)
        if not ok or not near:
            self.A = None  # rebuilt from the next chunk's starting potentials
        return f_new, g_new, pf, pg, ok


# The Sinkhorn engines: how a chunk of iterations is run. An engine is a factory called with
# (logK, keep, la, lb, mask_a, mask_b, kappa_a, kappa_b, hard_a, hard_b) that returns an object
# whose run(fs, gs, k, active, previous) advances the scaled potentials k iterations and returns
# (fs, gs, fs_prev, gs_prev, ok); ok False (non-finite) or None (nothing computed) hands the
# chunk to the log domain, which is always there and is the engine None. A compiled or GPU
# engine is one more entry here (and in _METHODS).
_ENGINES = {
    "log": None,         # log-sum-exp updates throughout: differentiable, bounded gradients
    "scaling": _Scalings,  # matrix scalings of an absorbed kernel, log-domain redo on overflow
}
_METHODS = ("auto", *_ENGINES)


def _engine(method, recording):
    """The engine of ``method``; "auto" is the log domain when autograd records, else scalings."""
    if method == "auto":
        return None if recording else _ENGINES["scaling"]
    if method == "scaling" and recording:
        # back-propagating through x^-k overflows where a marginal entry is tiny
        raise ValueError(
            "method='scaling' cannot be recorded by autograd (the gradient of the scalings "
            "overflows on small marginal entries): use method='log' or 'auto', or "
            "grad='envelope' / 'detach', or call under torch.no_grad().")
    return _ENGINES[method]


def _iterate(logK, keep, la, lb, mask_a, mask_b, eps, kappa_a, kappa_b, max_iter, tol,
             check_every, fs, gs, hard_a=True, hard_b=True, stop=None, active=None,
             budget=None, method="auto"):
    """Scaled potentials fs = f/eps, gs = g/eps after the Sinkhorn iterations.

    Iterations run in chunks of ``check_every``: matrix scalings of an absorbed kernel
    (:class:`_Scalings`), with a log-domain redo of any chunk that under/overflows (log domain
    throughout when autograd records the iterations). Each chunk costs one host sync (the
    finiteness test, plus the convergence test when ``tol > 0``); iterations cost none.
    ``stop`` (B,), if given, replaces ``tol`` as each problem's threshold on the change of its
    potentials (cost units); ``tol`` must then be > 0. ``active`` (B,), if given, leaves the
    problems where it is False as they are, and ``budget`` (B,) stops each problem after that
    many iterations (multiples of ``check_every``; both need ``tol > 0``): with them, each
    problem's iterates are those of its own solve, whatever the batch.

    Returns ``fs, gs``, the iterations run, the converged mask and, with ``budget``, the
    iterations each problem ran (else None).
    """
    zero = torch.zeros((), dtype=logK.dtype, device=logK.device)
    all_from_start = active is None and budget is None
    if active is None:
        active = torch.ones(logK.shape[0], dtype=torch.bool, device=logK.device)
    counts = None if budget is None else torch.zeros_like(budget)
    running = active  # not converged, and (with a budget) not out of it
    # Back-propagating through scalings overflows where a (relaxed) marginal entry is tiny
    # (d/dx x^-k ~ x^-(k+1)), while the log-domain gradient is a softmax, always bounded: unroll
    # in the log domain when autograd records, use the fast scalings otherwise.
    recording = torch.is_grad_enabled() and (logK.requires_grad or la.requires_grad
                                             or lb.requires_grad)
    engine = _engine(method, recording)
    scalings = None if engine is None else engine(logK, keep, la, lb, mask_a, mask_b, kappa_a,
                                                  kappa_b, hard_a, hard_b)
    it = 0
    while it < max_iter:
        k = min(check_every, max_iter - it)
        all_active = tol == 0 or (it == 0 and all_from_start) or bool(running.all())

        def log_steps(fs, gs, k):
            # the masks only the log domain needs (two boolean passes: ~20x a float op on CPU)
            upd_a, upd_b = mask_a & running[:, None], mask_b & running[:, None]
            return _log_steps(logK, la, lb, fs, gs, upd_a, upd_b, kappa_a, kappa_b, k)

        ok = False
        if scalings is not None:
            f_new, g_new, pf, pg, ok = scalings.run(fs, gs, k, None if all_active else running,
                                                      previous=tol > 0)
            if ok is None and k > 1:
                # No kernel at these potentials (typically a cold start with reg << cost):
                # one log-domain iteration normalises rows and columns, then the scalings
                # take the rest of the chunk.
                f1, g1, _, _ = log_steps(fs, gs, 1)
                f_new, g_new, pf, pg, ok = scalings.run(
                    f1, g1, k - 1, None if all_active else running, previous=tol > 0)
        if not ok:
            f_new, g_new, pf, pg = log_steps(fs, gs, k)
        it += k
        fs, gs = f_new, g_new
        if counts is not None:
            counts = counts + k * running
        if tol > 0:
            # change of the potentials over the chunk's last iteration, in cost units
            with torch.no_grad():
                change = torch.maximum(
                    torch.where(mask_a, (f_new - pf).abs(), zero).amax(1),
                    torch.where(mask_b, (g_new - pg).abs(), zero).amax(1),
                ) * eps
                moved = change > (tol if stop is None else stop)
                if counts is None:
                    active = running = active & moved
                else:  # a problem frozen by its budget has not converged
                    active = active & (moved | ~running)
                    running = active & (counts < budget)
            if not bool(running.any()):
                break
    return fs, gs, it, ~active, counts


@validate_params(
    {
        "C": ["array-like"],
        "a": ["array-like", None],
        "b": ["array-like", None],
        "reg": [*POSITIVE, "array-like"],
        "max_iter": POSITIVE_INT,
        "tol": TOL,
        "unbalanced": [Interval(Real, 0, None, closed="neither"), tuple, list, None],
        "grad": [StrOptions(set(_GRAD_MODES))],
        "check_every": POSITIVE_INT,
        "warm_start": [tuple, list, None],
        "epsilon_scaling": [StrOptions({"auto"}), "boolean"],
        "method": [StrOptions(set(_METHODS))],
        "warn": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def sinkhorn(
    C,
    a=None,
    b=None,
    *,
    reg,
    max_iter=1000,
    tol=1e-9,
    unbalanced=None,
    grad="autodiff",
    check_every=10,
    warm_start=None,
    epsilon_scaling="auto",
    method="auto",
    warn=True,
):
    r"""Entropic optimal transport, batched over problems of different sizes.

    Parameters
    ----------
    C : array or Tensor of shape (B, n, m) or (n, m)
        Costs. Entries whose row or column has zero weight are padding and may hold anything
        finite. float32 and float64 are kept; float16/bfloat16 are solved and returned in
        float32, integers in float64. A float32 problem whose largest cost exceeds
        ``1.6e4 * reg`` is solved in float64 and cast back: in float32 the exponents
        :math:`(f + g - C)/\varepsilon` would lose about ``max|C|/reg * 2**-24`` to rounding,
        visibly breaking the marginals (on a GPU such a solve pays float64 speed).
    a, b : array or Tensor of shape (B, n)/(n,) and (B, m)/(m,), optional
        Non-negative weights; zero = padding. ``None`` is uniform over all ``n`` (``m``) entries.
        For balanced OT each problem's ``a`` and ``b`` should have the same total mass.
    reg : float or array of shape (B,)
        Entropic regularisation :math:`\varepsilon > 0` (POT's ``reg``), one for all problems
        or one per problem (e.g. relative to each problem's median cost).
    max_iter : int, default=1000
        Maximum number of iterations (one ``f`` and one ``g`` update each). Epsilon scaling
        (below) has a budget of ``max_iter`` more.
    tol : float, default=1e-9
        Stop a problem once its potentials move less than ``tol`` (cost units) in one
        iteration, and less than ``0.01 * reg`` (see Notes: without it, ``reg << tol`` would
        stop with most of the mass misplaced); checked every ``check_every`` iterations, with
        one host synchronisation per check. Converged problems are frozen, so a problem's
        result does not depend on the rest of its batch. ``tol=0`` runs exactly ``max_iter``
        iterations with no synchronisation: convergence is then not checked (no epsilon
        scaling, no warning).
    unbalanced : None, float or (float or None, float or None), default=None
        KL marginal relaxation :math:`\tau` (POT's ``reg_m``). ``None`` = balanced; a number
        relaxes both marginals; a pair relaxes each side, ``None``/``inf`` keeping it hard
        (``(None, tau)`` is semi-relaxed on the columns).
    grad : {"autodiff", "envelope", "detach"}, default="autodiff"
        ``"autodiff"`` back-propagates through the iterations (plan and values are
        differentiable). ``"envelope"`` runs the iterations without a graph and attaches the
        envelope-theorem gradients of ``value`` (w.r.t. ``C``: the plan; w.r.t. ``a``, ``b``:
        from the dual, centred per problem for balanced OT, whose value is only defined for
        equal masses), which is exact at convergence and uses no memory per iteration;
        ``value_linear`` then carries the plan as its gradient w.r.t. ``C`` (first-order) and
        ``plan`` carries none. ``"detach"`` returns constants. For the problems solved by
        epsilon scaling, ``"autodiff"`` records only the last stage (the iterations at
        ``reg``, started from the previous stage's potentials taken as constants): ``plan``
        carries that stage's unrolled gradient, an approximation, while ``value`` and
        ``value_linear`` carry the envelope gradients as with ``"envelope"`` (a last stage of
        a few iterations at small ``reg`` mixes too slowly for its unrolled gradient to
        approach the plan).
    check_every : int, default=10
    warm_start : tuple (f, g), optional
        Initial dual potentials in the convention of ``OTResult.potentials`` (not used by
        epsilon scaling, which starts from zero at a large regularisation).
    epsilon_scaling : {"auto", True, False}, default="auto"
        Solve at decreasing regularisations, each stage warm-started from the previous one
        (see Notes). ``"auto"``: only for the problems whose plain solve ends unconverged,
        with ``marginal_error > marginal_tol`` and a cost range above ``100 * reg``; the
        others are left exactly as the plain solve returned them. ``True``: every problem
        (needs ``tol > 0``). ``False``: never.
    method : {"auto", "log", "scaling"}, default="auto"
        The engine that runs the iterations (as POT's ``method``; the same fixed point, so the
        results agree to rounding). ``"log"``: log-sum-exp updates of the potentials
        throughout (Peyré & Cuturi §4.4): stable at any ``reg``, and what autograd records.
        ``"scaling"``: the matrix scalings :math:`u \leftarrow a / K v` of a kernel with the
        current potentials absorbed (Schmitzer 2019), several times faster per iteration, any
        chunk that under- or overflows redone in the log domain; it cannot be recorded by
        autograd (``ValueError``). ``"auto"``: ``"log"`` when autograd records the iterations
        (``grad="autodiff"`` on inputs that require gradients), ``"scaling"`` otherwise.
    warn : bool, default=True
        Emit one :class:`SinkhornConvergenceWarning` per call when some problem ends
        unconverged with ``marginal_error > marginal_tol``. ``False`` leaves it to the caller
        (the fields are in the result).

    Returns
    -------
    OTResult
        ``plan``, ``value`` (full objective), ``value_linear`` (:math:`\langle P, C\rangle`),
        ``potentials``, ``n_iter``, ``converged``, ``marginal_error``, ``marginal_tol``.
        numpy in → numpy out; torch in → torch out on the same device.

    Notes
    -----
    ``value_linear`` of the balanced problem equals
    ``ot.sinkhorn2(a, b, C, reg, method="sinkhorn_log")``; the plan of the unbalanced problem
    equals ``ot.unbalanced.sinkhorn_unbalanced(a, b, C, reg, reg_m)`` (``reg_type="kl"``).

    **Marginal error.** After the last iteration (a ``g`` update) the columns fit; the rows fit
    to the extent the potentials have converged. At a fixed point of the updates
    :math:`P\mathbf 1 = \mathbf a \odot e^{-f/\tau_a}` (:math:`= \mathbf a` for a hard
    marginal), and ``marginal_error`` is the relative L1 violation of these conditions, the
    larger of the two sides. One more iteration would move :math:`f_i` by about
    :math:`\varepsilon \log((P\mathbf 1)_i / a_i)`, so a problem stopped when its potentials
    move less than :math:`\min(\mathrm{tol}, 10^{-2}\varepsilon)` has a marginal error of
    about :math:`\min(\mathrm{tol}/\varepsilon, 10^{-2})` at most (the second term binds
    only for :math:`\varepsilon < 100\,\mathrm{tol}`, where potentials creeping by
    :math:`O(\varepsilon)` per iteration once passed for converged). ``marginal_tol`` is

    .. math::

        \min\Bigl(\max\bigl(\mathrm{tol}/\varepsilon,\ 10^{-6},\
        u\,(1 + \max|C|/\varepsilon)\bigr),\ 10^{-2}\Bigr)

    with :math:`u` the unit roundoff of the working dtype (the exponents' rounding limits
    what any solve can reach: measured below :math:`0.15\,u\,(1 + \max|C|/\varepsilon)`
    in float32; beyond :math:`\max|C|/\varepsilon \approx 10^{-2}/u` nothing resolves the
    marginals, and that is reported too). The warning reports the problems with
    ``converged`` False and ``marginal_error > marginal_tol``: the budget ran out with the
    plan visibly off its marginals (at small ``reg`` plain Sinkhorn needs
    :math:`O(\max C/\varepsilon)` iterations and stalls far from the optimum).

    **Epsilon scaling** (Schmitzer 2019; POT's ``sinkhorn_epsilon_scaling``): stages at

    .. math::

        \varepsilon_k = \max\bigl(\varepsilon,\ (\max C - \min C)\, 4^{-k}\bigr),
        \qquad k = 0, 1, \dots, K - 1,\quad
        K = \Bigl\lceil \log_4 \frac{\max C - \min C}{\varepsilon} \Bigr\rceil

    (per problem, over its valid entries; problems that reach :math:`\varepsilon` early stay
    there), then the stage at :math:`\varepsilon` itself. Each stage starts from the previous
    stage's potentials :math:`(f, g)` (cost units), which are close to its own as the
    potentials converge to the unregularised dual as :math:`\varepsilon \to 0`. An
    intermediate stage stops once its potentials move less than :math:`10^{-2}\varepsilon_k`
    per iteration (marginals within about 1%: looser hand-overs cost more iterations later,
    measured) or when the budget left is down to a quarter of ``max_iter`` (kept for the last
    stage) plus ``check_every`` per stage to come; the last stage gets the rest of the
    ``max_iter`` budget and the stopping rule of ``tol``. The stages are batched like the
    plain iterations: one loop over stages, not over problems.

    References
    ----------
    .. [1] M. Cuturi. Sinkhorn distances: lightspeed computation of optimal transport. NeurIPS 2013.
    .. [2] L. Chizat, G. Peyré, B. Schmitzer and F.-X. Vialard. Scaling algorithms for unbalanced
       optimal transport problems. Mathematics of Computation 87, 2018.
    .. [3] G. Peyré and M. Cuturi. Computational Optimal Transport. 2019, §4.4 (log domain).
    .. [4] B. Schmitzer. Stabilized sparse scaling algorithms for entropy regularized transport
       problems. SIAM J. Sci. Comput. 41(3), 2019 (epsilon scaling).

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.ot import sinkhorn
    >>> C = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = sinkhorn(C, reg=0.1)
    >>> np.round(res.plan, 4)
    array([[0.5, 0. ],
           [0. , 0.5]])
    >>> float(res.value_linear)  # the off-diagonal entries carry about exp(-1/0.1) each
    4.5397...e-05

    At a tiny ``reg`` the plain iterations stall (rows off by up to 70%); epsilon scaling
    reaches the marginals, to about ``tol / reg`` (relative L1):

    >>> C = np.random.default_rng(0).random((6, 7))
    >>> res = sinkhorn(C, reg=1e-6, tol=1e-12)
    >>> bool(res.converged), bool(res.marginal_error < 1e-6)
    (True, True)
    >>> bool(np.abs(res.plan.sum(1) - 1 / 6).max() < 1e-6)
    True
    """
    if epsilon_scaling is True and float(tol) == 0:
        raise ValueError("epsilon_scaling=True needs tol > 0 (its stages end on convergence).")
    tau_a, tau_b = _unbalanced_pair(unbalanced)
    C, a, b, mask_a, mask_b, numpy_in, single = _prepare(C, a, b)
    eps = _check_reg(reg, C)
    warm_start = _check_warm_start(warm_start, mask_a, mask_b)
    out_dtype = C.dtype
    Cz, keep = _zero_padding(C, mask_a, mask_b)
    work, ratios = _working_dtype(Cz, eps)
    ratio = float(ratios.max())
    if work != out_dtype:
        Cz, a, b, eps = Cz.to(work), a.to(work), b.to(work), eps.to(work)
        keep = None if keep is None else keep.to(work)
        ratios = ratios.to(work)
    if ratio > _FLOAT64_MAX_RATIO:
        warnings.warn(
            f"costs reach {ratio:.1e} times reg: beyond {_FLOAT64_MAX_RATIO:.0e}, float64 "
            "rounding of the plan's exponents (C - f - g)/reg exceeds 1, so the plan is "
            "dominated by rounding (it is rescaled to the column weights, which keeps its "
            "value within the costs' range). Increase reg (e.g. a few % of the median cost) or "
            "use the exact seqot.ot.emd.", UserWarning, stacklevel=2)
    res, failed, scaled = _solve(
        Cz, keep, a, b, mask_a, mask_b, eps, tau_a, tau_b, int(max_iter), float(tol),
        int(check_every), grad, warm_start,
        renormalise=ratio > _RENORMALISE_RATIO and math.isinf(tau_b), ratios=ratios,
        epsilon_scaling=epsilon_scaling, method=method)
    if warn and failed is not None:
        _warn_unconverged(res, failed, scaled, eps, int(max_iter))
    if work != out_dtype:
        res = OTResult(plan=res.plan.to(out_dtype), value=res.value.to(out_dtype),
                       value_linear=res.value_linear.to(out_dtype),
                       potentials=tuple(p.to(out_dtype) for p in res.potentials),
                       n_iter=res.n_iter, converged=res.converged,
                       marginal_error=res.marginal_error.to(out_dtype),
                       marginal_tol=res.marginal_tol.to(out_dtype))
    return _output(res, numpy_in, single)



#: :func:`sinkhorn` without its parameter validation, for internal callers on hot paths.
_sinkhorn = sinkhorn.__wrapped__


def _warn_unconverged(res, failed, scaled, eps, max_iter):
    """One SinkhornConvergenceWarning for the whole batch, naming its worst problem.

    ``failed`` is None when nothing was checked, else a 0-dim flag (any failure) and the
    (B,) mask, computed with the solve's single end-of-solve synchronisation."""
    any_failed, mask = failed
    if not any_failed:
        return
    err = torch.where(mask, res.marginal_error, torch.full_like(res.marginal_error, -1.0))
    k = int(err.argmax())
    tried = " (epsilon scaling included)" if scaled else ""
    warnings.warn(
        f"Sinkhorn did not converge for {int(mask.sum())} of {mask.numel()} problem(s) within "
        f"max_iter={max_iter} iterations{tried}: the plan misses its marginals by "
        f"{float(res.marginal_error[k]):.1e} (relative L1, tolerance "
        f"{float(res.marginal_tol[k]):.1e}) at reg={float(eps[k]):.3g}, so values and plans are "
        "not the entropic optimum. Raise max_iter, raise reg (e.g. a few % of the median cost), "
        "or use the exact seqot.ot.emd.", SinkhornConvergenceWarning, stacklevel=3)


# Largest cost/reg ratio a float32 solve resolves: the exponents (f + g - C)/reg carry a
# rounding error of about ratio * 2^-24, i.e. ~0.1% on every plan entry at 1.7e4.
_FLOAT32_MAX_RATIO = 1.6e4
# In float64 the same rounding, ratio * 2^-53, reaches 1e-6 at 1e10: from there the plan of a
# hard column marginal is rescaled to it exactly (a no-op to rounding when the exponents are
# exact, as the last update fitted the columns). Beyond 2^53 ~ 9e15 the rounding exceeds 1:
# the plan is dominated by it (plans of mass 1e20 were returned), hence the warning.
_RENORMALISE_RATIO = 1e10
_FLOAT64_MAX_RATIO = 2.0 ** 53

# Convergence report (see sinkhorn's Notes): the smallest marginal tolerance, and the
# multiple of u * max|C|/reg that rounding of the exponents may cost the marginals.
_MARGINAL_RTOL = 1e-6
_MARGINAL_ROUNDING = 1.0
# The loosest relative marginal accuracy a converged solve may have: a problem stops once its
# potentials move less than min(tol, _MARGINAL_CAP * reg) per iteration. Without the second
# term, reg << tol "converged" while the potentials crept by O(reg) per iteration with half
# the mass misplaced. It binds only for reg < tol / _MARGINAL_CAP (1e-7 at the default tol).
# An intermediate stage of epsilon scaling hands over at that accuracy too.
_MARGINAL_CAP = 1e-2
# Epsilon scaling: "auto" engages it only above this cost range / reg (below, plain Sinkhorn
# converges geometrically and a failure is a budget matter), and the factor between stages.
_EPS_SCALING_MIN_RATIO = 100.0
_EPS_SCALING_FACTOR = 0.25
_EPS_STAGE_RTOL = 1e-2


def _working_dtype(Cz, eps):
    """The dtype to solve in, and each problem's ratio ``max|C| / reg`` (B,).

    In float32 the plan's exponents lose ``max|C|/reg * 2^-24`` to rounding: at reg = 1e-6
    and costs ~1 that is several percent of every entry, and the marginals are visibly
    violated. Such problems are solved in float64 and the results cast back. ``Cz`` is the
    cost with zeros on padding.
    """
    Cd = Cz.detach()
    span = torch.maximum(Cd.amax((1, 2)), -Cd.amin((1, 2)))  # max |C| without a |C| copy
    ratios = span / eps
    if Cz.dtype != torch.float64 and float(ratios.max()) > _FLOAT32_MAX_RATIO:
        return torch.float64, ratios
    return Cz.dtype, ratios


def _cost_range(Cd, keep):
    """Smallest and largest cost over each problem's entries with mass, (B,) each."""
    if keep is None:
        return Cd.amin((1, 2)), Cd.amax((1, 2))
    off = torch.sub(1.0, keep).mul_(torch.finfo(Cd.dtype).max)  # padding out of reach
    return (Cd + off).amin((1, 2)), (Cd - off).amax((1, 2))


def _marginal_tol(tol, eps, ratios):
    """The marginal error a solve converged at ``tol`` may have, (B,) (see sinkhorn's Notes);
    inf for ``tol = 0`` (not checked)."""
    if tol == 0:
        return torch.full_like(eps, math.inf)
    u = torch.finfo(eps.dtype).eps
    # capped: beyond max|C|/reg ~ 1e-2/u no solve resolves the marginals, and that is reported
    return torch.maximum((tol / eps).clamp(_MARGINAL_RTOL, _MARGINAL_CAP),
                         _MARGINAL_ROUNDING * u * (1.0 + ratios)).clamp_max(_MARGINAL_CAP)


def _marginal_error(rows, cols, a, b, f, g, tau_a, tau_b, mask_a, mask_b):
    """Relative L1 violation of P1 = a e^{-f/tau_a} and P^T 1 = b e^{-g/tau_b}, the larger
    side, (B,); f, g in cost units."""
    zero = torch.zeros((), dtype=rows.dtype, device=rows.device)
    out = []
    for marg, w, pot, tau, mask in ((rows, a, f, tau_a, mask_a), (cols, b, g, tau_b, mask_b)):
        w = w.detach()
        target = w if math.isinf(tau) else torch.where(mask, w * torch.exp(-pot / tau), zero)
        out.append((marg.detach() - target).abs().sum(1) / w.sum(1))
    return torch.maximum(*out)


def _zero_padding(C, mask_a, mask_b):
    """The cost with zeros on entries without mass, and the 0/1 float mask of the entries with
    mass (None when every entry has mass).

    Padding is handled by multiplying with this float mask rather than by boolean selection:
    on CPU, ``torch.where`` and ``masked_fill`` with a boolean mask cost 10-20x a float
    multiply over the (B, n, m) tensors.
    """
    if bool(mask_a.all() & mask_b.all()):
        return C, None
    keep = mask_a.to(C.dtype)[:, :, None] * mask_b.to(C.dtype)[:, None, :]
    # a finite sum means every entry is finite (NaN and inf propagate); padding may hold
    # anything, so a non-finite sum takes the selecting path
    if bool(torch.isfinite(C.detach().sum())):
        return C * keep, keep
    return torch.where(keep > 0, C, torch.zeros((), dtype=C.dtype, device=C.device)), keep


def _solve(Cz, keep, a, b, mask_a, mask_b, eps, tau_a, tau_b, max_iter, tol, check_every, grad,
           warm_start, renormalise=False, ratios=None, epsilon_scaling=False, method="auto"):
    """Sinkhorn on costs ``Cz`` that are zero on padding; ``keep`` is the float mask of the
    entries with mass (None without padding).

    Returns the result (in the working dtype), ``failed`` (None when ``tol = 0``, else the
    pair (any, (B,) mask) of the problems to report) and whether epsilon scaling ran."""
    dtype = Cz.dtype
    neg = torch.finfo(dtype).min / 4  # finite "-inf": keeps padded rows NaN-free in backward
    zero = torch.zeros((), dtype=dtype, device=Cz.device)
    floor = _exp_floor(dtype)
    hard_a, hard_b = math.isinf(tau_a), math.isinf(tau_b)
    if ratios is None:
        ratios = _working_dtype(Cz, eps)[1]

    def kappas(e):
        one = torch.ones_like(e)
        return ((one if hard_a else tau_a / (tau_a + e))[:, None],
                (one if hard_b else tau_b / (tau_b + e))[:, None])

    def log_weights(w, mask):
        return torch.where(mask, torch.log(torch.where(mask, w, torch.ones_like(w))), zero)

    def log_kernel(Cz, keep, e):
        logK = Cz / -e[:, None, None]
        if keep is not None:
            # padded entries: exp(.) = 0, in every pass (in place: division needs no output
            # for its gradient)
            logK.add_(torch.sub(1.0, keep).mul_(neg))
        return logK

    def init():
        if warm_start is None:
            return (torch.zeros(mask_a.shape, dtype=dtype, device=Cz.device),
                    torch.zeros(mask_b.shape, dtype=dtype, device=Cz.device))
        f0, g0 = (p.to(dtype) for p in warm_start)
        return (torch.where(mask_a, f0, zero) / eps[:, None],
                torch.where(mask_b, g0, zero) / eps[:, None])

    def stop(e):
        # tol, or less where it would allow more than _MARGINAL_CAP of marginal error (equal
        # to tol, hence the same comparisons, wherever reg >= tol / _MARGINAL_CAP)
        return (_MARGINAL_CAP * e).clamp_max(tol) if tol > 0 else None

    def plain(Cz, keep, la, lb, mask_a, mask_b, e):
        logK = log_kernel(Cz, keep, e)
        fs, gs = init()
        fs, gs, it, conv, _ = _iterate(logK, keep, la, lb, mask_a, mask_b, e, *kappas(e),
                                       max_iter, tol, check_every, fs, gs, hard_a, hard_b,
                                       stop=stop(e), method=method)
        return logK, fs, gs, it, conv

    def scaling(Cz, keep, la, lb, mask_a, mask_b, e):
        """Epsilon scaling (see sinkhorn's Notes): intermediate stages without a graph, the
        last one at ``e`` recorded when autograd is on. Each problem has its own stages and
        iteration budget, so that its result does not depend on its batch."""
        lo, hi = _cost_range(Cz.detach(), keep)
        e0 = torch.maximum(hi - lo, e)
        q = _EPS_SCALING_FACTOR
        # stages above each problem's reg (1e-9: a ratio of exactly 4^k needs k stages)
        stages = ((e0 / e).log() / -math.log(q) - 1e-9).ceil().clamp_min(0).long()
        n_stages = int(stages.max())
        # budgets in whole chunks: a quarter of max_iter kept for the last stage, and at least a
        # chunk for each stage
        chunks = max(max_iter // check_every, 1)
        reserve = chunks // 4
        f = torch.zeros(mask_a.shape, dtype=dtype, device=Cz.device)
        g = torch.zeros(mask_b.shape, dtype=dtype, device=Cz.device)
        used = torch.zeros_like(stages)  # chunks each problem has run
        it_total = 0
        with torch.no_grad():
            Cd, la_d, lb_d = Cz.detach(), la.detach(), lb.detach()
            for k in range(n_stages):
                # a problem already at its own reg waits for the last stage
                above = stages > k
                ek = torch.maximum(e, e0 * q ** k)
                left = stages - 1 - k  # its intermediate stages still to come
                cap = (chunks - used - reserve - left).clamp_min(1) * check_every
                fs, gs, it, _, counts = _iterate(
                    log_kernel(Cd, keep, ek), keep, la_d, lb_d, mask_a, mask_b, ek,
                    *kappas(ek), int(cap.max()), 1.0, check_every, f / ek[:, None],
                    g / ek[:, None], hard_a, hard_b, stop=_EPS_STAGE_RTOL * ek, active=above,
                    budget=cap, method=method)
                f, g = fs * ek[:, None], gs * ek[:, None]
                used = used + counts // check_every
                it_total += it
        logK = log_kernel(Cz, keep, e)
        cap = (chunks - used).clamp_min(1) * check_every
        fs, gs, it, conv, _ = _iterate(logK, keep, la, lb, mask_a, mask_b, e, *kappas(e),
                                       int(cap.max()), tol, check_every, f / e[:, None],
                                       g / e[:, None], hard_a, hard_b, stop=stop(e),
                                       budget=cap, method=method)
        return logK, fs, gs, it_total + it, conv

    def dot(x, y):
        """<x, y> per problem, without a (B, n, m) product."""
        return torch.bmm(x.reshape(x.shape[0], 1, -1), y.reshape(y.shape[0], -1, 1))[:, 0, 0]

    def primal(logK, la, lb, fs, gs, Cz, a, b, keep, mask_a, mask_b, e, inplace):
        # padded entries of log_plan stay near `neg` (finite), so no selection is needed
        log_plan = logK + (fs + la)[:, :, None]
        if inplace:  # fewer fresh (B, n, m) buffers: each costs page faults on CPU
            plan = log_plan.add_((gs + lb)[:, None, :]).clamp_min_(floor).exp_()
            log_plan = None
            if keep is not None:
                plan.mul_(keep)
        else:
            log_plan = log_plan + (gs + lb)[:, None, :]
            plan = torch.exp(log_plan.clamp_min(floor))  # no slow exp path on underflow
            if keep is not None:
                plan = plan * keep
        if renormalise:  # exponents rounded by up to ratio * 2^-53 (see _RENORMALISE_RATIO)
            cols = plan.sum(1)
            plan = plan * torch.where(cols > 0, b / cols.clamp_min(torch.finfo(dtype).tiny),
                                      zero)[:, None, :]
        value_linear = dot(plan, Cz)
        rows, cols = plan.sum(2), plan.sum(1)
        mass = rows.sum(1)
        # KL(P || a b^T) = sum P (logK + fs + gs) - |P| + |a||b|: log(P / ab) = logK + fs + gs
        # on the support, and logK is finite everywhere (P = 0 off the support)
        kl_plan = (dot(plan, logK) + (rows * fs).sum(1) + (cols * gs).sum(1)
                   - mass + a.sum(1) * b.sum(1))
        value = value_linear + e * kl_plan
        for tau, mask, w, lw, dim in ((tau_a, mask_a, a, la, 2), (tau_b, mask_b, b, lb, 1)):
            if math.isinf(tau):
                continue
            marg = rows if dim == 2 else cols
            if log_plan is None:
                log_plan = logK + (fs + la)[:, :, None] + (gs + lb)[:, None, :]
            log_marg = torch.logsumexp(log_plan, dim=dim)
            log_ratio = torch.where(mask, log_marg - lw, zero)
            value = value + tau * _kl_terms(log_ratio, marg, w)
        error = _marginal_error(rows, cols, a, b, fs.detach() * e[:, None],
                                gs.detach() * e[:, None], tau_a, tau_b, mask_a, mask_b)
        return plan, value, value_linear, error

    def envelope(value, value_linear, plan, Cz, a, b, fs, gs, e, mask_a, mask_b):
        """value and value_linear with the envelope-theorem gradients (see sinkhorn's grad)."""
        if not (Cz.requires_grad or a.requires_grad or b.requires_grad):
            return value, value_linear
        valid = mask_a[:, :, None] & mask_b[:, None, :]
        dual = _dual(Cz, a, b, fs.detach() * e[:, None], gs.detach() * e[:, None], valid, e,
                     tau_a, tau_b, mask_a, mask_b)
        plan = plan.detach()
        return (value.detach() + (dual - dual.detach()),
                value_linear.detach() + ((plan * Cz).sum((1, 2))
                                         - (plan * Cz.detach()).sum((1, 2))))

    def block(Cz, keep, a, b, mask_a, mask_b, e, iterations):
        """Iterations and primal quantities of a (sub-)batch; a graph only for autodiff."""
        record = grad == "autodiff"
        Cz0, a0, b0 = Cz, a, b
        if not record:
            Cz, a, b = Cz.detach(), a.detach(), b.detach()
        with contextlib.nullcontext() if record else torch.no_grad():
            la, lb = log_weights(a, mask_a), log_weights(b, mask_b)
            logK, fs, gs, it, conv = iterations(Cz, keep, la, lb, mask_a, mask_b, e)
            plan, value, value_linear, error = primal(logK, la, lb, fs, gs, Cz, a, b, keep,
                                                      mask_a, mask_b, e, inplace=not record)
        if grad == "envelope" or (record and iterations is scaling):
            # Epsilon scaling: the last stage, unrolled from constants, mixes slowly at small
            # reg, so its gradient would stay that of its warm start (measured off the plan
            # by 0.4 on entries <= 0.2): value and value_linear take the envelope gradients.
            value, value_linear = envelope(value, value_linear, plan, Cz0, a0, b0, fs, gs, e,
                                           mask_a, mask_b)
        return (fs, gs, conv, plan, value, value_linear, error), it

    state, it = block(Cz, keep, a, b, mask_a, mask_b, eps,
                      scaling if epsilon_scaling is True else plain)
    marginal_tol = _marginal_tol(tol, eps, ratios)
    scaled = epsilon_scaling is True
    failed = None
    if tol > 0:
        conv, error = state[2], state[-1]
        mask = ~conv & (error > marginal_tol)
        failed = (bool(mask.any()), mask)  # the one synchronisation of the report
        if failed[0] and epsilon_scaling == "auto":
            lo, hi = _cost_range(Cz.detach(), keep)
            retry = mask & (hi - lo > _EPS_SCALING_MIN_RATIO * eps)
            if bool(retry.any()):
                # re-solve only those (the others keep their plain result, bit for bit)
                idx = torch.nonzero(retry).squeeze(1)

                def sub(x):
                    return None if x is None else x.index_select(0, idx)

                part, it_part = block(sub(Cz), sub(keep), sub(a), sub(b), sub(mask_a),
                                      sub(mask_b), sub(eps), scaling)
                state = tuple(x.index_copy(0, idx, p) for x, p in zip(state, part))
                it += it_part
                scaled = True
                mask = ~state[2] & (state[-1] > marginal_tol)
                failed = (bool(mask.any()), mask)
    fs, gs, conv, plan, value, value_linear, error = state
    f = torch.where(mask_a, fs * eps[:, None], zero)
    g = torch.where(mask_b, gs * eps[:, None], zero)
    if grad != "autodiff":
        f, g, plan = f.detach(), g.detach(), plan.detach()
    res = OTResult(plan=plan, value=value, value_linear=value_linear, potentials=(f, g),
                   n_iter=it, converged=conv, marginal_error=error, marginal_tol=marginal_tol)
    return res, failed, scaled


def _dual(Cz, a, b, f, g, valid, eps, tau_a, tau_b, mask_a, mask_b):
    """The dual objective at fixed potentials, differentiable in C, a and b (envelope)."""
    zero = torch.zeros((), dtype=Cz.dtype, device=Cz.device)
    expo = torch.where(valid, (f[:, :, None] + g[:, None, :] - Cz) / eps[:, None, None], zero)
    ab = a[:, :, None] * b[:, None, :]
    out = -eps * torch.where(valid, ab * (torch.exp(expo) - 1.0), zero).sum((1, 2))
    balanced = math.isinf(tau_a) and math.isinf(tau_b)
    for tau, w, pot, mask in ((tau_a, a, f, mask_a), (tau_b, b, g, mask_b)):
        if math.isinf(tau):
            if balanced:
                # only mass-preserving changes of a, b are meaningful: centre the gradient
                # (as POT does for emd2) so it has no component along the all-ones direction
                pot = torch.where(mask, pot - (pot * mask).sum(1, keepdim=True)
                                  / mask.sum(1, keepdim=True), zero)
            out = out + (w * pot).sum(1)
        else:
            out = out - tau * torch.where(mask, w * (torch.exp(-pot / tau) - 1.0), zero).sum(1)
    return out
