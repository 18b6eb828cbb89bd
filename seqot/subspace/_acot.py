r"""ACOT's per-sequence subspace problem (Cherian and Aeron, ICML 2020): the maths.

For one sequence :math:`X \in \mathbb R^{d\times n}` (columns are frames) and negatives
:math:`Y \in \mathbb R^{d\times m}`, ACOT looks for a :math:`k`-dimensional subspace (an
orthonormal basis :math:`U`, a point of the Grassmann manifold) that keeps the projected frames
far, in optimal transport, from the negatives, while reconstructing the frames well and making
the projected energy grow along the sequence. With the plan :math:`\pi` of the OT step fixed and
the barycentric targets :math:`\hat y_t = \sum_j \pi_{tj} y_j / \sum_j \pi_{tj}`, the U-step
minimises (the specification's corrected Eq. 13)

.. math::

    F_\pi(U) = -\frac{\alpha}{n}\lVert UU^\top X - \hat Y\rVert_F^2
        + \frac{\beta_1}{n}\lVert UU^\top X - X\rVert_F^2
        + \frac{\beta_2}{n-1}\sum_{t=1}^{n-1}\phi\bigl(\lVert U^\top x_t\rVert^2 + \eta
        - \lVert U^\top x_{t+1}\rVert^2\bigr),

:math:`\phi` the hinge :math:`[a]_+` (paper) or its square (authors' code); the functions
call :math:`\beta_1` ``beta_distortion`` and :math:`\beta_2` ``beta_order``. On the manifold
the first two terms equal :math:`-\frac1n\operatorname{tr}(U^\top M_\pi U)` + const with
:math:`M_\pi = (\alpha + \beta_1) XX^\top - \alpha(X\hat Y^\top + \hat YX^\top)`; without the
order term the minimiser is the top-:math:`k` eigenvectors of :math:`M_\pi`, and with
:math:`\alpha = 0` the uncentred PCA basis. Costs and gradients here never form a
:math:`d \times d` matrix: every evaluation is :math:`O(dnk)`.
"""

from __future__ import annotations

import numpy as np

from ..utils._param_validation import (
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    RANDOM_STATE,
    TOL,
    StrOptions,
    validate_params,
)
from ..utils._torch import check_random_state
from ..utils._validation import check_float_array

__all__ = [
    "acot_cost",
    "acot_euclidean_gradient",
    "acot_closed_form",
    "barycentric_targets",
    "pca_basis",
    "random_negatives",
    "acot_subspace",
    "solve_u_step",
]

_ORDER_LOSSES = ("hinge", "squared_hinge")
_BETA_RULES = ("FletcherReeves", "HagerZhang", "HestenesStiefel", "PolakRibiere", "LiuStorey")
#: Constraints of the objective's weights, shared by the functions and ACOTSubspacePooling.
WEIGHT_CONSTRAINTS = {
    "alpha": NON_NEGATIVE,
    "beta_distortion": NON_NEGATIVE,
    "beta_order": NON_NEGATIVE,
    "eta": NON_NEGATIVE,
    "order_loss": [StrOptions(set(_ORDER_LOSSES))],
}
#: Constraints of the negatives, shared by random_negatives and ACOTSubspacePooling.
NOISE_DISTRIBUTIONS = [StrOptions({"gaussian", "uniform"})]
ACTIVATIONS = [StrOptions({"relu", "identity"})]
#: Constraints of the alternating optimisation, shared by acot_subspace and the estimator.
SOLVER_CONSTRAINTS = {
    "cg_max_iter": POSITIVE_INT,
    "outer_max_iter": POSITIVE_INT,
    "use_ot": ["boolean"],
    "reg": [*POSITIVE, None],
}
# Entries beyond this make the quadratic terms (sums of squares and products) overflow float64.
_MAX_ABS = 1e100


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _as_matrix(X, name, *, rows=None, cols=None, min_cols=1):
    """``X`` as a finite float64 ``(d, n)`` matrix (columns are frames), or a clean error."""
    a = check_float_array(X, name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (d, n) matrix whose columns are frames; got "
                         f"shape {a.shape}.")
    if a.shape[0] == 0:
        raise ValueError(f"{name} has shape {a.shape}: zero features (d = 0).")
    if a.shape[1] < min_cols:
        raise ValueError(f"{name} has shape {a.shape}: it needs at least {min_cols} column(s).")
    if rows is not None and a.shape[0] != rows:
        raise ValueError(f"{name} has {a.shape[0]} rows but X has {rows} (the feature "
                         "dimension d must match).")
    if cols is not None and a.shape[1] != cols:
        raise ValueError(f"{name} has {a.shape[1]} columns but X has {cols} (one per frame).")
    if a.size and np.abs(a).max() > _MAX_ABS:
        raise ValueError(f"{name} has entries up to {np.abs(a).max():.3g}; the ACOT terms "
                         f"(squares of the frames) overflow above {_MAX_ABS:g}. Rescale it.")
    return a


def _check_k(k, d):
    """Semantic check (the type and range of ``k`` are the callers' constraints)."""
    if k > d:
        raise ValueError(f"k={k} exceeds the feature dimension d={d}: a k-dimensional "
                         "subspace of R^d needs k <= d.")
    return int(k)


def _check_basis(U, X):
    U = _as_matrix(U, "U", rows=X.shape[0])
    if U.shape[1] > X.shape[0]:
        raise ValueError(f"U has shape {U.shape}; a basis of R^d needs k <= d={X.shape[0]}.")
    return U


def pca_basis(X, k):
    """Top-``k`` left singular vectors of the uncentred ``X`` (d, n), sign-fixed so that the
    frames' projections on every basis vector sum to a non-negative number; when ``n < k``
    the basis is completed deterministically (QR of ``[U_n, I_d]``)."""
    X = _as_matrix(X, "X")
    d, n = X.shape
    k = _check_k(k, d)
    Uf, _, _ = np.linalg.svd(X, full_matrices=False)
    U = Uf[:, : min(k, Uf.shape[1])]
    if U.shape[1] < k:
        Q, _ = np.linalg.qr(np.concatenate([U, np.eye(d)], axis=1))
        U = np.concatenate([U, Q[:, U.shape[1]:k]], axis=1)
    signs = np.sign(U.T @ X.sum(1))
    return U * np.where(signs == 0, 1.0, signs)


def perturbed_unit_negatives(reps, z, activation, axis):
    r""":math:`\mathrm{nrm}(\gamma(x - z))` along ``axis``, the one construction of ACOT's
    negatives (random and generator noise): :math:`\gamma` ReLU or the identity,
    :math:`\mathrm{nrm}(v) = v / (\lVert v\rVert + 10^{-10})`."""
    y = reps - z
    if activation == "relu":
        y = np.maximum(y, 0.0)
    return y / (np.linalg.norm(y, axis=axis, keepdims=True) + 1e-10)


@validate_params(
    {"rng": RANDOM_STATE, "per_frame": POSITIVE_INT, "distribution": NOISE_DISTRIBUTIONS,
     "activation": ACTIVATIONS},
    prefer_skip_nested_validation=True,
)
def random_negatives(X, rng, *, per_frame=2, distribution="gaussian", activation="relu"):
    r"""ACOT's random negatives ("COT + Random"): per frame, ``per_frame`` perturbed copies
    :math:`y = \mathrm{nrm}(\gamma(x - z))`.

    ``distribution="gaussian"``: :math:`z \sim \mathcal N(0, \max(x)^2 I)` (the paper,
    standard deviation the frame's largest coordinate); ``"uniform"``: :math:`z = e \max(X)`,
    :math:`e \sim U[0, 1)^d` (the authors' code). :math:`\gamma` is ReLU or the identity (for
    signed features); :math:`\mathrm{nrm}(v) = v / (\lVert v\rVert + 10^{-10})`.

    Returns ``Y`` of shape (d, per_frame * n), column ``r * n + t`` generated from frame ``t``.
    ``rng`` is a numpy Generator or RandomState (drawn from as is), or a seed for a Generator.
    """
    return _random_negatives(X, rng, per_frame=per_frame, distribution=distribution,
                             activation=activation)


def _random_negatives(X, rng, *, per_frame=2, distribution="gaussian", activation="relu"):
    """:func:`random_negatives` without the parameter validation (per sequence, in the
    estimator)."""
    X = _as_matrix(X, "X")
    if not isinstance(rng, np.random.RandomState):
        rng = check_random_state(rng, "rng")
    reps = np.tile(X, (1, per_frame))
    if distribution == "gaussian":
        scale = np.tile(np.abs(X).max(0), per_frame)
        z = rng.normal(size=reps.shape) * scale[None, :]
    else:
        z = rng.random(reps.shape) * np.abs(X).max()
    return perturbed_unit_negatives(reps, z, activation, axis=0)


def barycentric_targets(Y, plan):
    r""":math:`\hat y_t = \sum_j \pi_{tj} y_j / \sum_j \pi_{tj}`, shape (d, n); a frame that
    receives no mass keeps a zero target."""
    mass = plan.sum(1)
    return (Y @ plan.T) / np.where(mass > 0, mass, 1.0)[None, :]


def _order_terms(U, X, eta, order_loss):
    energy = ((U.T @ X) ** 2).sum(0)  # ||U^T x_t||^2
    a = energy[:-1] + eta - energy[1:]
    if order_loss == "hinge":
        return a, np.maximum(a, 0.0), (a > 0).astype(float)
    return a, np.maximum(a, 0.0) ** 2, 2.0 * np.maximum(a, 0.0)


@validate_params(WEIGHT_CONSTRAINTS, prefer_skip_nested_validation=True)
def acot_cost(U, X, Y_hat, *, alpha=1.0, beta_distortion=1.0, beta_order=10.0, eta=0.01,
              order_loss="hinge"):
    r""":math:`F_\pi(U)` of the module docstring (the Frobenius form, exact for any ``U``);
    ``beta_distortion`` is :math:`\beta_1` and ``beta_order`` :math:`\beta_2`."""
    X = _as_matrix(X, "X")
    Y_hat = _as_matrix(Y_hat, "Y_hat", rows=X.shape[0], cols=X.shape[1])
    U = _check_basis(U, X)
    return _acot_cost(U, X, Y_hat, alpha=alpha, beta_distortion=beta_distortion,
                      beta_order=beta_order, eta=eta, order_loss=order_loss)


def _acot_cost(U, X, Y_hat, *, alpha, beta_distortion, beta_order, eta, order_loss):
    """:func:`acot_cost` on validated arrays (every CG cost evaluation)."""
    n = X.shape[1]
    P = U @ (U.T @ X)
    value = (-alpha / n * np.sum((P - Y_hat) ** 2)
             + beta_distortion / n * np.sum((P - X) ** 2))
    if beta_order > 0 and n > 1:
        _, phi, _ = _order_terms(U, X, eta, order_loss)
        value += beta_order / (n - 1) * phi.sum()
    return float(value)


def acot_euclidean_gradient(U, X, Y_hat, *, alpha=1.0, beta_distortion=1.0, beta_order=10.0,
                            eta=0.01, order_loss="hinge"):
    r"""Euclidean gradient of the trace form of :math:`F_\pi` (equal to the Frobenius form on
    the manifold, with the same Riemannian gradient):
    :math:`-\frac2n M_\pi U + \frac{2\beta_2}{n-1} X\,\mathrm{diag}(w)\,X^\top U`,
    :math:`w = \sum_t \phi'(a_t)(e_t - e_{t+1})`, in :math:`O(dnk)`."""
    n = X.shape[1]
    XtU, YtU = X.T @ U, Y_hat.T @ U
    MU = (alpha + beta_distortion) * X @ XtU - alpha * (X @ YtU + Y_hat @ XtU)
    grad = -2.0 / n * MU
    if beta_order > 0 and n > 1:
        _, _, dphi = _order_terms(U, X, eta, order_loss)
        w = np.zeros(n)
        w[:-1] += dphi
        w[1:] -= dphi
        grad += 2.0 * beta_order / (n - 1) * X @ (w[:, None] * XtU)
    return grad


@validate_params(
    {"k": POSITIVE_INT, "alpha": NON_NEGATIVE, "beta_distortion": NON_NEGATIVE},
    prefer_skip_nested_validation=True,
)
def acot_closed_form(X, Y_hat, k, *, alpha=1.0, beta_distortion=1.0):
    """The exact U-step without the order term: the top-``k`` eigenvectors of
    :math:`M_\\pi`, computed in the span of ``[X, Y_hat]`` (no d x d matrix)."""
    X = _as_matrix(X, "X")
    Y_hat = _as_matrix(Y_hat, "Y_hat", rows=X.shape[0], cols=X.shape[1])
    k = _check_k(k, X.shape[0])
    B = np.concatenate([X, Y_hat], axis=1)
    Q, _ = np.linalg.qr(B)
    XQ, YQ = Q.T @ X, Q.T @ Y_hat
    M = (alpha + beta_distortion) * XQ @ XQ.T - alpha * (XQ @ YQ.T + YQ @ XQ.T)
    evals, evecs = np.linalg.eigh(M)
    evals, V = evals[::-1], Q @ evecs[:, ::-1]  # descending
    n_pos = int(np.count_nonzero(evals > 0))
    if k <= n_pos:
        return V[:, :k]
    # M_pi is 0 outside span(Q): those directions (eigenvalue 0) rank above the span's negative
    # eigenvalues, so they come before them (completed deterministically)
    d, r = X.shape[0], Q.shape[1]
    Qc, _ = np.linalg.qr(np.concatenate([Q, np.eye(d)], axis=1))
    return np.concatenate([V[:, :n_pos], Qc[:, r:d], V[:, n_pos:]], axis=1)[:, :k]


def require_pymanopt():
    """Import pymanopt or raise an ImportError that says how to install it."""
    try:
        import pymanopt  # noqa: F401
    except ImportError as exc:
        raise ImportError("ACOT's subspace optimisation needs pymanopt, which is in seqot's "
                          "'manifold' extra: pip install 'seqot[manifold]' (or pip install "
                          "pymanopt).") from exc


def solve_u_step(X, Y_hat, U0, *, alpha=1.0, beta_distortion=1.0, beta_order=10.0, eta=0.01,
                 order_loss="hinge", max_iterations=5, beta_rule="FletcherReeves"):
    """Riemannian conjugate gradient on the Grassmann manifold (pymanopt) from ``U0``.

    Returns ``(U, costs)``: the final basis and the cost after every iteration (pymanopt's
    line searches never accept an increase, so the costs are non-increasing). Note that
    pymanopt's ``max_iterations=5`` performs 4 updates. ``X`` and ``Y_hat`` are validated
    ``(d, n)`` float64 matrices.
    """
    require_pymanopt()
    import pymanopt
    from pymanopt.manifolds import Grassmann
    from pymanopt.optimizers import ConjugateGradient

    d, k = U0.shape
    manifold = Grassmann(d, k)
    params = dict(alpha=alpha, beta_distortion=beta_distortion, beta_order=beta_order, eta=eta,
                  order_loss=order_loss)

    @pymanopt.function.numpy(manifold)
    def cost(U):
        return _acot_cost(U, X, Y_hat, **params)

    @pymanopt.function.numpy(manifold)
    def gradient(U):
        return acot_euclidean_gradient(U, X, Y_hat, **params)

    problem = pymanopt.Problem(manifold, cost, euclidean_gradient=gradient)
    optimizer = ConjugateGradient(max_iterations=int(max_iterations), beta_rule=beta_rule,
                                  verbosity=0, log_verbosity=1)
    result = optimizer.run(problem, initial_point=U0)
    costs = [float(c) for c in result.log["iterations"]["cost"]]
    return np.asarray(result.point), costs


@validate_params(
    {"k": POSITIVE_INT, **WEIGHT_CONSTRAINTS, **SOLVER_CONSTRAINTS, "outer_tol": TOL,
     "beta_rule": [StrOptions(set(_BETA_RULES))]},
    prefer_skip_nested_validation=True,
)
def acot_subspace(X, Y, k, *, alpha=1.0, beta_distortion=1.0, beta_order=10.0, eta=0.01,
                  order_loss="hinge", cg_max_iter=5, outer_max_iter=1, outer_tol=1e-5,
                  use_ot=True, reg=None, beta_rule="FletcherReeves"):
    r"""ACOT's alternating optimisation for one sequence: ``(U, costs)``.

    The first OT step pairs the raw frames :math:`X` (d, n) with the negatives :math:`Y`
    (d, m) by exact OT (:func:`seqot.ot.emd`, uniform weights, squared-Euclidean cost divided
    by its maximum); the U-step then runs :func:`solve_u_step` (``cg_max_iter`` pymanopt
    iterations) from the uncentred PCA basis, minimising the objective of the module
    docstring with the weights ``alpha``, ``beta_distortion`` (:math:`\beta_1`),
    ``beta_order`` (:math:`\beta_2`) and the margin ``eta``. Further rounds
    (``outer_max_iter > 1``) recompute the plan with the projected frames and warm-start CG,
    stopping once the cost changes by less than ``outer_tol`` (the max-min is not a descent
    scheme: only each U-step is monotone). ``use_ot=False`` is the paper's "No OT" ablation:
    each frame's target is the mean of its own negatives (``Y`` built by
    :func:`random_negatives`, column ``r * n + t`` from frame ``t``). ``reg`` replaces the
    exact plan by entropic OT (:func:`seqot.ot.sinkhorn`) with that regularisation on the
    max-normalised cost, like the authors' code.
    """
    return _acot_subspace(X, Y, k, alpha=alpha, beta_distortion=beta_distortion,
                          beta_order=beta_order, eta=eta, order_loss=order_loss,
                          cg_max_iter=cg_max_iter, outer_max_iter=outer_max_iter,
                          outer_tol=outer_tol, use_ot=use_ot, reg=reg, beta_rule=beta_rule)


def _acot_subspace(X, Y, k, *, alpha, beta_distortion, beta_order, eta, order_loss,
                   cg_max_iter, outer_max_iter, outer_tol=1e-5, use_ot=True, reg=None,
                   beta_rule="FletcherReeves"):
    """:func:`acot_subspace` without the parameter validation (per sequence, in the
    estimator)."""
    from ..ot._emd import _emd
    from ..ot._sinkhorn import _sinkhorn

    X = _as_matrix(X, "X")
    Y = _as_matrix(Y, "Y", rows=X.shape[0])
    d, n = X.shape
    m = Y.shape[1]
    k = _check_k(k, d)
    if not use_ot and m % n:
        raise ValueError(f"use_ot=False takes each frame's own negatives (Y built by "
                         f"random_negatives, per_frame * n columns); Y has {m} columns for "
                         f"n={n} frames.")
    U = pca_basis(X, k)
    costs = []
    previous = None
    for round_ in range(int(outer_max_iter)):
        if use_ot:
            P = X if round_ == 0 else U @ (U.T @ X)
            C = (P * P).sum(0)[:, None] - 2.0 * P.T @ Y + (Y * Y).sum(0)[None, :]
            C = np.maximum(C, 0.0)
            C = C / C.max() if C.max() > 0 else C
            a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
            if reg is None:
                plan = _emd(C, a, b).plan
            else:
                plan = _sinkhorn(C, a, b, reg=float(reg), max_iter=1000).plan
            Y_hat = barycentric_targets(Y, plan)
        else:
            Y_hat = Y.reshape(d, m // n, n).mean(1)
        U, trace = solve_u_step(X, Y_hat, U, alpha=alpha, beta_distortion=beta_distortion,
                                beta_order=beta_order, eta=eta, order_loss=order_loss,
                                max_iterations=cg_max_iter, beta_rule=beta_rule)
        costs.extend(trace)
        if previous is not None and abs(previous - trace[-1]) < outer_tol:
            break
        previous = trace[-1]
    return U, costs
