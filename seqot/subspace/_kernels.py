r"""Kernels on the Grassmann manifold: similarities between linear subspaces.

A point of the Grassmann manifold :math:`\mathcal G(d, k)` is a ``k``-dimensional linear
subspace of :math:`\mathbb R^d`, represented by a ``(d, k)`` matrix :math:`\mathbf U` with
orthonormal columns (:math:`\mathbf U^\top\mathbf U=\mathbf I_k`). Any other orthonormal basis
of the same subspace is :math:`\mathbf U\mathbf R` with :math:`\mathbf R\in O(k)`, and both
kernels here depend on the subspace only.

Two layouts of a collection of ``n`` bases are accepted everywhere:

* **3-D** ``(n, d, k)``: ``U[i]`` is the ``(d, k)`` basis of subspace ``i``;
* **flat 2-D** ``(n, k * d)``: row ``i`` is ``U_i.T.ravel()``, the ``k`` basis vectors (each of
  length ``d``) concatenated one after the other. This is what the subspace-pooling
  transformers return (:class:`~seqot.subspace.PCASubspacePooling`), so that pipelines pass
  2-D arrays between steps. ``n_components`` tells ``k``; left to ``None`` it is inferred
  from the squared norm of the rows, which is ``||U_i||_F^2 = k`` for orthonormal bases.
  :func:`bases_to_flat` and :func:`flat_to_bases` convert between the two.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..utils._param_validation import (
    POSITIVE,
    POSITIVE_INT,
    StrOptions,
    check_estimator_params,
    validate_params,
)
from ..utils._validation import check_float_array

__all__ = ["GrassmannKernel", "bases_to_flat", "flat_to_bases", "grassmann_kernel"]

#: The parameters of grassmann_kernel and of GrassmannKernel.
_KERNEL_CONSTRAINTS = {
    "kernel": [StrOptions({"projection", "rbf"})],
    "gamma": POSITIVE,
    "n_components": [*POSITIVE_INT, None],
    "check_orthonormal": ["boolean"],
}
# Entries of the (n1*k, n2*k) block of inner products computed at once (bounds memory).
_CHUNK_ENTRIES = 1 << 22


# ---------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------
@validate_params({"U": ["array-like"]}, prefer_skip_nested_validation=True)
def bases_to_flat(U):
    """Stack of bases ``(n, d, k)`` → flat rows ``(n, k * d)``, row ``i`` = ``U[i].T.ravel()``.

    Parameters
    ----------
    U : ndarray of shape (n, d, k)

    Returns
    -------
    ndarray of shape (n, k * d)
        The ``k`` basis vectors of each subspace, concatenated.
    """
    return _bases_to_flat(U)


def _bases_to_flat(U):
    U = np.asarray(U)
    if U.ndim != 3:
        raise ValueError(f"U must be a 3-D (n, d, k) stack of bases; got shape {U.shape}.")
    n, d, k = U.shape
    return np.ascontiguousarray(U.transpose(0, 2, 1)).reshape(n, k * d)


@validate_params({"X": ["array-like"], "n_components": POSITIVE_INT},
                 prefer_skip_nested_validation=True)
def flat_to_bases(X, n_components=1):
    """Flat rows ``(n, k * d)`` → stack of bases ``(n, d, k)`` (inverse of :func:`bases_to_flat`).

    Parameters
    ----------
    X : array-like of shape (n, k * d)
        Row ``i`` is ``U_i.T.ravel()``: ``k`` basis vectors of length ``d`` one after the other.
    n_components : int, default=1
        ``k``, the dimension of the subspaces.

    Returns
    -------
    ndarray of shape (n, d, k)
    """
    return _flat_to_bases(X, n_components)


def _flat_to_bases(X, n_components):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"flat bases must be a 2-D (n, k*d) array; got shape {X.shape}.")
    n, p = X.shape
    if p % n_components:
        raise ValueError(
            f"flat bases have {p} columns, which is not a multiple of n_components="
            f"{n_components}; row i must be U_i.T.ravel() with k*d entries."
        )
    return X.reshape(n, n_components, p // n_components).transpose(0, 2, 1)


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _orthonormality_tolerance(dtype):
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-6


def _check_orthonormal(U, name):
    """Raise unless every ``U[i]`` has orthonormal columns (to a dtype-dependent tolerance)."""
    k = U.shape[2]
    gram = np.matmul(U.transpose(0, 2, 1), U, dtype=np.float64)
    err = np.abs(gram - np.eye(k)).max(axis=(1, 2))
    tol = _orthonormality_tolerance(U.dtype)
    bad = np.flatnonzero(err > tol)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"basis {i} of {name} does not have orthonormal columns: max |U_i^T U_i - I| = "
            f"{err[i]:.3g} > {tol:g}. Pass orthonormal bases (e.g. from PCASubspacePooling; "
            "for flat input check n_components), or set check_orthonormal=False to use the "
            "kernel formula on any matrices."
        )


def _infer_k(flat, name):
    """``k`` of flat orthonormal bases: every row has squared norm ``||U_i||_F^2 = k``."""
    sq = np.einsum("ij,ij->i", flat, flat, dtype=np.float64)
    ks = np.rint(sq)
    k = int(ks[0])
    p = flat.shape[1]
    if k < 1 or np.any(ks != k) or p % k or k > p // k:
        raise ValueError(
            f"cannot infer k from the flat bases of {name}: their rows should all have squared "
            f"norm k (k orthonormal vectors of length d, k*d = {p} columns), but the squared "
            f"norms range over [{sq.min():.4g}, {sq.max():.4g}]. Pass n_components=k, or "
            "orthonormal bases."
        )
    return k


def _as_bases(U, *, n_components, name, check_orthonormal, flat_k=None):
    """Validate a 3-D stack or a flat 2-D array of bases; return a float ``(n, d, k)`` array.

    Flat input is read with ``k = n_components``, else ``flat_k``, else ``k`` inferred from
    the row norms.
    """
    arr = check_float_array(U, name, dtype=None)
    if arr.ndim == 3:
        arr = _check_array(arr, name, allow_nd=True)
        _check_stack_shape(arr, name, n_components)
    elif arr.ndim == 2:
        arr = _check_array(arr, name)
        k = n_components if n_components is not None else flat_k
        arr = _flat_to_bases(arr, _infer_k(arr, name) if k is None else k)
    else:
        raise ValueError(
            f"{name} has {arr.ndim} dimension(s) (shape {arr.shape}); expected a 3-D (n, d, k) "
            "stack of orthonormal bases or a 2-D (n, k*d) array of flat bases (row i = "
            "U_i.T.ravel())."
        )
    _check_bases_values(arr, name, check_orthonormal)
    return arr


def _check_stack_shape(arr, name, n_components):
    """A 3-D ``(n, d, k)`` stack: non-empty bases, ``k`` equal to ``n_components`` if given."""
    n, d, k = arr.shape
    if d == 0 or k == 0:
        raise ValueError(f"{name} has shape {arr.shape}; bases need d >= 1 and k >= 1.")
    if n_components is not None and k != n_components:
        raise ValueError(
            f"{name} holds bases with k={k} columns, but n_components={n_components}."
        )


def _check_bases_values(arr, name, check_orthonormal):
    """``k <= d`` and orthonormal bases, or (unchecked matrices) entries whose kernel cannot
    overflow."""
    _, d, k = arr.shape
    if k > d:
        raise ValueError(
            f"{name} holds (d, k) = ({d}, {k}) bases; a k-dimensional subspace of R^d needs "
            "k <= d (for flat input, check n_components)."
        )
    if check_orthonormal:
        _check_orthonormal(arr, name)
        return
    # ||U1 U1^T - U2 U2^T||_F^2 <= 4 k^2 d^2 max|U|^4 must stay finite
    limit = (np.finfo(arr.dtype).max / (4.0 * k * k * d * d)) ** 0.25
    if arr.size and np.abs(arr).max() > limit:
        raise ValueError(
            f"{name} has entries up to {np.abs(arr).max():.3g}; the kernel of such "
            f"matrices overflows {arr.dtype} (limit {limit:.3g}). Rescale the bases."
        )


def _check_array(arr, name, **kwargs):
    """scikit-learn's ``check_array`` (float64/float32), its errors re-raised naming ``name``."""
    try:
        return check_array(arr, dtype=[np.float64, np.float32], input_name=name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None


# ---------------------------------------------------------------------------
# computation
# ---------------------------------------------------------------------------
def _squared_overlaps(A, B):
    r"""``S[i, j] = ||A_i^T B_j||_F^2`` for stacks ``A`` ``(n1, d, k)`` and ``B`` ``(n2, d, k)``.

    One matrix product of the stacked basis vectors, ``(n1 k, d) @ (d, n2 k)``, squared and
    summed over each ``k x k`` block; rows of ``A`` are processed in chunks to bound memory.
    """
    n1, d, k = A.shape
    n2 = B.shape[0]
    dtype = np.result_type(A.dtype, B.dtype)
    a = np.ascontiguousarray(A.transpose(0, 2, 1), dtype=dtype).reshape(n1 * k, d)
    b = np.ascontiguousarray(B.transpose(0, 2, 1), dtype=dtype).reshape(n2 * k, d)
    out = np.empty((n1, n2), dtype=dtype)
    step = max(1, _CHUNK_ENTRIES // max(1, n2 * k * k))
    for start in range(0, n1, step):
        stop = min(n1, start + step)
        g = a[start * k: stop * k] @ b.T  # (m k, n2 k)
        g *= g
        out[start:stop] = g.reshape(stop - start, k, n2, k).sum(axis=(1, 3))
    return out


def _self_overlaps(A):
    """``||A_i^T A_i||_F^2`` for each basis of the stack (``k`` for orthonormal bases)."""
    g = np.matmul(A.transpose(0, 2, 1), A)
    return (g * g).sum(axis=(1, 2))


def _gram(A, B, kernel, gamma):
    """The kernel matrix between the stacks ``A`` and ``B`` (``None``: ``A``, symmetric).

    The RBF kernel is evaluated as ``exp(-gamma/2 * ||A_i A_i^T - B_j B_j^T||_F^2)`` with
    ``||P_1 - P_2||_F^2 = ||A_i^T A_i||^2 + ||B_j^T B_j||^2 - 2 ||A_i^T B_j||^2`` (clipped at 0),
    which is ``exp(gamma * (||A_i^T B_j||^2 - k))`` for orthonormal bases and stays a bounded
    Gaussian kernel of the embedding ``U U^T`` for any other matrices.
    """
    symmetric = B is None
    S = _squared_overlaps(A, A if symmetric else B)
    if symmetric:
        S = 0.5 * (S + S.T)
    if kernel == "projection":
        return S
    na = _self_overlaps(A).astype(S.dtype, copy=False)
    nb = na if symmetric else _self_overlaps(B).astype(S.dtype, copy=False)
    d2 = na[:, None] + nb[None, :] - 2 * S
    np.maximum(d2, 0, out=d2)
    if symmetric:
        np.fill_diagonal(d2, 0)
    return np.exp(-0.5 * gamma * d2).astype(S.dtype, copy=False)


@validate_params(_KERNEL_CONSTRAINTS, prefer_skip_nested_validation=True)
def grassmann_kernel(U1, U2=None, *, kernel="projection", gamma=1.0, n_components=None,
                     check_orthonormal=True):
    r"""Gram matrix of a Grassmann kernel between two collections of subspaces.

    With :math:`\mathbf U_1,\mathbf U_2\in\mathbb R^{d\times k}` orthonormal bases,

    * ``kernel="projection"``: :math:`K=\|\mathbf U_1^\top\mathbf U_2\|_F^2
      =\langle\mathbf U_1\mathbf U_1^\top,\mathbf U_2\mathbf U_2^\top\rangle_F\in[0,k]`, the
      linear kernel on the projection embedding :math:`\mathbf U\mapsto\mathbf U\mathbf U^\top`
      (the sum of the squared cosines of the principal angles);
    * ``kernel="rbf"``: the projection RBF kernel of Harandi et al. (2014), used by
      ACOT (Cherian & Aeron 2020, eq. 14), :math:`\exp(\gamma\|\mathbf U_1^\top\mathbf U_2\|_F^2)`,
      computed in the normalised form

      .. math:: K=\exp\big(\gamma(\|\mathbf U_1^\top\mathbf U_2\|_F^2-k)\big)
               =\exp\big(-\tfrac{\gamma}{2}\|\mathbf U_1\mathbf U_1^\top
               -\mathbf U_2\mathbf U_2^\top\|_F^2\big)\in(0,1],

      a Gaussian kernel on the projection (chordal) distance, with a unit diagonal and no
      overflow. It is the paper's kernel times the constant :math:`e^{-\gamma k}`; an SVM with
      the paper's kernel and penalty ``C`` equals an SVM with this one and ``C * exp(gamma * k)``.

    Both kernels are positive semi-definite and invariant to :math:`\mathbf U\to\mathbf U\mathbf R`,
    :math:`\mathbf R\in O(k)`, so the sign (or rotation) of a basis never matters.

    Parameters
    ----------
    U1 : array-like of shape (n1, d, k) or (n1, k * d)
        Orthonormal bases, as a 3-D stack or flat rows (row ``i`` = ``U_i.T.ravel()``).
        A single basis ``U`` is ``U[None]``.
    U2 : array-like of shape (n2, d, k) or (n2, k * d), optional
        The second collection; ``None`` means ``U1`` (the square, exactly symmetric Gram matrix).
    kernel : {"projection", "rbf"}, default="projection"
    gamma : float, default=1.0
        Bandwidth of the RBF kernel (> 0); ignored by the projection kernel.
    n_components : int, optional
        ``k`` for flat input; ``None`` infers it from the rows' squared norm (``k`` for
        orthonormal bases). For 3-D input it is read from the shape and, if given, must match.
    check_orthonormal : bool, default=True
        Raise ``ValueError`` unless every basis has orthonormal columns (to 1e-6, 1e-4 in
        float32). With ``False`` any ``(d, k)`` matrices are accepted: the projection kernel
        is then the linear kernel of the embeddings :math:`\mathbf U\mathbf U^\top` and the
        RBF kernel :math:`\exp(-\tfrac\gamma2\|\mathbf U_1\mathbf U_1^\top
        -\mathbf U_2\mathbf U_2^\top\|_F^2)` (the form in which it is always computed),
        both still positive semi-definite.

    Returns
    -------
    K : ndarray of shape (n1, n2)
        float32 if both inputs are float32, else float64.

    Raises
    ------
    ValueError
        Wrong number of dimensions, NaN or infinity, ``k > d``, bases of different ``(d, k)``
        in ``U1`` and ``U2``, non-orthonormal bases, an unknown kernel or ``gamma <= 0``; with
        ``check_orthonormal=False``, entries so large that the kernel would overflow.
    TypeError
        Non-numeric bases.

    References
    ----------
    M. Harandi, M. Salzmann, S. Jayasumana, R. Hartley and H. Li. Expanding the family of
    Grassmannian kernels: an embedding perspective. ECCV 2014.

    A. Cherian and S. Aeron. Representation learning via adversarially-contrastive optimal
    transport. ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.subspace import grassmann_kernel
    >>> U = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 5, 2)))[0]   # 3 bases of R^5
    >>> K = grassmann_kernel(U, kernel="rbf", gamma=0.5)
    >>> K.shape, np.allclose(np.diag(K), 1.0)
    ((3, 3), True)
    """
    A = _as_bases(U1, n_components=n_components, name="U1",
                  check_orthonormal=check_orthonormal)
    k = A.shape[2]
    if U2 is None:
        return _gram(A, None, kernel, gamma)
    B = _as_bases(U2, n_components=n_components, name="U2",
                  check_orthonormal=check_orthonormal, flat_k=k)
    if B.shape[1:] != A.shape[1:]:
        raise ValueError(
            f"U1 holds (d, k) = {A.shape[1:]} bases but U2 holds {B.shape[1:]}; both "
            "collections must be subspaces of the same dimension k in the same R^d."
        )
    return _gram(A, B, kernel, gamma)


# ---------------------------------------------------------------------------
# the transformer
# ---------------------------------------------------------------------------
class GrassmannKernel(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Subspaces → their Grassmann kernel values against the subspaces seen in ``fit``.

    ``fit(U)`` stores the training bases; ``transform(U)`` returns the ``(n_query, n_fit)``
    Gram matrix of :func:`grassmann_kernel`, which is what ``SVC(kernel="precomputed")``
    expects, so ``Pipeline([pooling, GrassmannKernel(), SVC(kernel="precomputed")])`` is a
    Grassmann kernel SVM whose ``gamma`` is a grid-search parameter. ``fit_transform`` on the
    training bases gives the square, exactly symmetric training Gram matrix.

    Kernels, with :math:`\mathbf U_1,\mathbf U_2` orthonormal ``(d, k)`` bases:

    * ``"projection"``: :math:`K=\|\mathbf U_1^\top\mathbf U_2\|_F^2\in[0,k]`;
    * ``"rbf"``: :math:`K=\exp(\gamma(\|\mathbf U_1^\top\mathbf U_2\|_F^2-k))\in(0,1]`, the
      projection RBF kernel of Harandi et al. (2014) used by ACOT (Cherian & Aeron 2020,
      eq. 14), normalised to a unit diagonal. The paper's unnormalised
      :math:`\exp(\gamma\|\mathbf U_1^\top\mathbf U_2\|_F^2)` is this kernel times
      :math:`e^{\gamma k}`: to reproduce an SVM with the paper's kernel and penalty ``C``,
      use this one with ``C * exp(gamma * k)``.

    Parameters
    ----------
    kernel : {"projection", "rbf"}, default="projection"
    gamma : float, default=1.0
        Bandwidth of the RBF kernel (> 0); ignored by the projection kernel.
    n_components : int, optional
        ``k``. For flat input ``(n, k * d)`` (row ``i`` = ``U_i.T.ravel()``, the layout of
        :class:`~seqot.subspace.PCASubspacePooling`), ``None`` infers it at ``fit`` from the
        rows' squared norm, which is ``||U_i||_F^2 = k`` for orthonormal bases (give it
        explicitly with ``check_orthonormal=False``). For 3-D input ``(n, d, k)`` it is read
        from the shape and, if given, must match.
    check_orthonormal : bool, default=True
        Raise ``ValueError`` on bases whose columns are not orthonormal (to 1e-6, 1e-4 in
        float32). With ``False`` any ``(d, k)`` matrices are accepted: the projection kernel
        is then the linear kernel of the embeddings :math:`\mathbf U\mathbf U^\top` and the
        RBF kernel :math:`\exp(-\tfrac\gamma2\|\mathbf U_1\mathbf U_1^\top
        -\mathbf U_2\mathbf U_2^\top\|_F^2)` (the form in which it is always computed),
        both still positive semi-definite.

    Attributes
    ----------
    bases_fit_ : ndarray of shape (n_fit, d, k)
        The training bases.
    n_components_ : int
        ``k``.
    ambient_dim_ : int
        ``d``.
    n_features_in_ : int
        ``k * d``, the width of the flat layout.

    See Also
    --------
    grassmann_kernel : the same kernels as a function.

    References
    ----------
    M. Harandi, M. Salzmann, S. Jayasumana, R. Hartley and H. Li. Expanding the family of
    Grassmannian kernels: an embedding perspective. ECCV 2014.

    A. Cherian and S. Aeron. Representation learning via adversarially-contrastive optimal
    transport. ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> from seqot.subspace import GrassmannKernel, PCASubspacePooling
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(int(rng.integers(5, 9)), 4)) + 3 * (i % 2) for i in range(20)]
    >>> y = np.arange(20) % 2
    >>> model = make_pipeline(PCASubspacePooling(n_components=2),
    ...                       GrassmannKernel(kernel="rbf", gamma=2.0),
    ...                       SVC(kernel="precomputed"))
    >>> model.fit(X, y).predict(X[:4]).shape
    (4,)
    """

    _parameter_constraints: dict = dict(_KERNEL_CONSTRAINTS)

    def __init__(self, kernel="projection", *, gamma=1.0, n_components=None,
                 check_orthonormal=True):
        self.kernel = kernel
        self.gamma = gamma
        self.n_components = n_components
        self.check_orthonormal = check_orthonormal

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _validate_bases(self, X, *, reset):
        """Validate 3-D or flat bases (recording or checking d, k and n_features_in_)."""
        if sp.issparse(X) or hasattr(X, "columns"):
            three_d = None
        else:
            try:
                arr = np.asarray(X)
            except ValueError as exc:
                raise ValueError(f"X could not be read as an array of bases: {exc}") from None
            three_d = arr if arr.ndim == 3 else None
        if three_d is not None:
            bases = check_array(three_d, allow_nd=True, dtype=[np.float64, np.float32])
            _check_stack_shape(bases, "X", self.n_components)
            d, k = bases.shape[1:]
            if not reset and (d, k) != (self.ambient_dim_, self.n_components_):
                raise ValueError(
                    f"X holds (d, k) = ({d}, {k}) bases, but {type(self).__name__} was fitted "
                    f"on ({self.ambient_dim_}, {self.n_components_}) bases."
                )
            validate_data(self, _bases_to_flat(bases), reset=reset,
                          dtype=[np.float64, np.float32])
        else:
            flat = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
            if not reset:
                k = self.n_components_
            elif self.n_components is None:
                k = _infer_k(flat, "X")
            else:
                k = self.n_components
            bases = _flat_to_bases(flat, k)
        if reset:
            self.n_components_ = int(bases.shape[2])
            self.ambient_dim_ = int(bases.shape[1])
        _check_bases_values(bases, "X", self.check_orthonormal)
        return bases

    def fit(self, X, y=None):
        """Store the training bases.

        Parameters
        ----------
        X : array-like of shape (n_fit, d, k) or (n_fit, k * d)
            Orthonormal bases, 3-D or flat (row ``i`` = ``U_i.T.ravel()``).
        y : ignored

        Returns
        -------
        self
        """
        check_estimator_params(self)
        self.bases_fit_ = np.array(self._validate_bases(X, reset=True), copy=True)
        return self

    def transform(self, X):
        """Kernel values ``(n_query, n_fit)`` between the bases of ``X`` and the fitted ones.

        Parameters
        ----------
        X : array-like of shape (n_query, d, k) or (n_query, k * d)
            Bases with the fitted ``d`` and ``k``.

        Returns
        -------
        K : ndarray of shape (n_query, n_fit)
        """
        check_is_fitted(self)
        check_estimator_params(self)
        bases = self._validate_bases(X, reset=False)
        return _gram(bases, self.bases_fit_, self.kernel, self.gamma)

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return its square, exactly symmetric Gram matrix ``(n, n)``."""
        self.fit(X, y)
        return _gram(self.bases_fit_, None, self.kernel, self.gamma)

    @property
    def _n_features_out(self):
        return self.bases_fit_.shape[0]

