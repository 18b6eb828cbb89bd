"""What every solver of :mod:`seqot.ot` shares: the result object and the array plumbing.

A solver takes numpy or torch, one problem ``(n, m)`` or a batch ``(B, n, m)``; internally it
works on ``(B, n, m)`` tensors with ``(B, n)``/``(B, m)`` weights whose zeros mark padding.
:func:`_prepare` brings any input to that form and :func:`_output` shapes a result back
(numpy in -> numpy out; torch in -> torch out on the input's device).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..utils._validation import check_float_tensor

__all__ = ["OTResult"]


@dataclass
class OTResult:
    r"""Result of a batched OT solve (numpy for numpy input, torch for torch input).

    Attributes
    ----------
    plan : (B, n, m) or (n, m)
        The transport plans; zero on padded rows/columns.
    value : (B,) or scalar
        The full objective: transport cost plus the regularisation and marginal terms.
    value_linear : (B,) or scalar
        The transport cost :math:`\langle P, C\rangle` alone (what ``ot.sinkhorn2`` returns).
    potentials : tuple (f, g)
        Dual potentials, ``(B, n)`` and ``(B, m)``, zero on padding, with
        :math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij})/\varepsilon)`.
    n_iter : int
        Iterations run (the most any problem of the batch needed; with epsilon scaling, the
        plain attempt plus, per stage, the most any problem of the stage ran: each problem
        stays within its own budget).
    converged : (B,) bool or bool
        Whether each problem met ``tol``.
    marginal_error : (B,) or scalar, optional
        Relative L1 violation of the optimality conditions on the marginals (Sinkhorn only),
        the larger of the two sides:
        :math:`\|P\mathbf 1 - \mathbf a \odot e^{-f/\tau_a}\|_1 / \|\mathbf a\|_1` and
        the same for the columns (:math:`e^{-f/\tau} = 1` for a hard marginal, where it is
        the plain marginal error :math:`\|P\mathbf 1 - \mathbf a\|_1/\|\mathbf a\|_1`).
    marginal_tol : (B,) or scalar, optional
        The marginal error a solve converged at ``tol`` may have (Sinkhorn only; see
        :func:`sinkhorn`); ``inf`` when ``tol=0`` (not checked). A problem with
        ``converged`` False and ``marginal_error > marginal_tol`` is reported by a
        :class:`SinkhornConvergenceWarning`.
    """

    plan: Any
    value: Any
    value_linear: Any
    potentials: tuple
    n_iter: int
    converged: Any
    marginal_error: Any = None
    marginal_tol: Any = None


# ---------------------------------------------------------------------------
# input handling shared by the public solvers
# ---------------------------------------------------------------------------
def _prepare(C, a, b):
    """Tensors (B, n, m), (B, n), (B, m) + how to shape the outputs back."""
    numpy_in = not isinstance(C, torch.Tensor)
    C = check_float_tensor(C, "C")
    if C.ndim not in (2, 3):
        raise ValueError(f"C must be a (n, m) or (B, n, m) cost; got shape {tuple(C.shape)}.")
    single = C.ndim == 2
    if single:
        C = C[None]
    B, n, m = C.shape
    if n == 0 or m == 0:
        raise ValueError(f"C has an empty side: shape {tuple(C.shape)}.")

    def weights(w, size, name):
        if w is None:
            return torch.full((B, size), 1.0 / size, dtype=C.dtype, device=C.device)
        w = check_float_tensor(w, name, device=C.device, dtype=C.dtype)
        if w.ndim == 1:
            w = w[None].expand(B, -1)
        if w.shape != (B, size):
            raise ValueError(f"{name} must have shape ({size},) or ({B}, {size}); "
                             f"got {tuple(w.shape)}.")
        wd = w.detach()
        if not bool(torch.isfinite(wd).all()) or bool((wd < 0).any()):
            raise ValueError(f"{name} must be finite and non-negative.")
        if bool((wd.sum(-1) <= 0).any()):
            i = int(torch.nonzero(wd.sum(-1) <= 0)[0, 0])
            raise ValueError(f"{name}[{i}] has no mass: every problem needs a positive weight.")
        return w

    a = weights(a, n, "a")
    b = weights(b, m, "b")
    mask_a, mask_b = a.detach() > 0, b.detach() > 0
    # a finite sum (one fast pass) proves every entry finite; otherwise look closer, as
    # padding may hold anything
    if not bool(torch.isfinite(C.detach().sum())) and not bool(
            (torch.isfinite(C.detach()) | ~(mask_a[:, :, None] & mask_b[:, None, :])).all()):
        raise ValueError("C contains NaN or infinity on entries that carry mass.")
    return C, a, b, mask_a, mask_b, numpy_in, single



def _output(res: OTResult, numpy_in, single):
    def conv(x):
        if x is None:
            return None
        if single:
            x = x[0]
        if numpy_in:
            x = x.detach().cpu().numpy()
            return x[()] if x.ndim == 0 else x
        return x

    conv_bool = (lambda c: bool(c[0]) if single else c.cpu().numpy()) if numpy_in else (
        lambda c: c[0] if single else c)
    return OTResult(
        plan=conv(res.plan),
        value=conv(res.value),
        value_linear=conv(res.value_linear),
        potentials=tuple(conv(p) for p in res.potentials),
        n_iter=res.n_iter,
        converged=conv_bool(res.converged),
        marginal_error=conv(res.marginal_error),
        marginal_tol=conv(res.marginal_tol),
    )
