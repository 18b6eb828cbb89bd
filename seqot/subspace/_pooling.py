r"""Order-free and order-aware pooling of a sequence into one descriptor (ACOT's baselines).

Each transformer maps a collection of sequences (a ragged list of ``(T_i, d)`` arrays, a 3-D
NaN-padded array, or a 2-D array of length-1 sequences; see :mod:`seqot.utils`) to one row per
sequence:

* :class:`MeanPooling`: the (L2-normalised) mean frame, ``(n, d)``; order-free;
* :class:`PCASubspacePooling`: the span of the top-``k`` left singular vectors of the uncentred
  frame matrix, as flat orthonormal bases ``(n, k * d)`` for
  :class:`~seqot.subspace.GrassmannKernel`; order-free;
* :class:`RankPooling`: the parameters of a linear function that orders the smoothed frames in
  time (Fernando et al.), ``(n, d)`` or ``(n, 2 d)``; order-aware.

All are deterministic numpy computations (float32 in gives float32 out; torch input is
converted to numpy). ``fit`` only records ``n_features_in_``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._param_validation import LAYOUT, POSITIVE, POSITIVE_INT, StrOptions
from ..utils._validation import SequenceInputMixin, validate_sequences

__all__ = ["MeanPooling", "PCASubspacePooling", "RankPooling"]


def _l2_normalize(a, axis=-1):
    """``a / ||a||`` along ``axis``; all-zero vectors stay zero (no division warning)."""
    norm = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
    return a / np.where(norm > 0, norm, 1)


class _PoolingBase(SequenceInputMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                   BaseEstimator):
    """Shared fit/validation of the pooling transformers (stateless beyond ``n_features_in_``).

    The parameters are checked against ``_parameter_constraints`` by ``validate_sequences``
    at ``fit`` and ``transform``; subclasses may add ``_check_params(n_features)``, a check of
    a parameter against the data, called after it."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def fit(self, X, y=None):
        """Validate the sequences and record ``n_features_in_`` (nothing is learned).

        Parameters
        ----------
        X : list of array-like of shape (T_i, d), array-like of shape (n, T, d) or (n, d)
            The sequences.
        y : ignored

        Returns
        -------
        self
        """
        batch = validate_sequences(self, X, reset=True)
        self._check_params(batch.n_features)
        return self

    def _check_params(self, n_features):
        """Checks of a parameter against the data (none by default)."""

    def _batch(self, X):
        check_is_fitted(self)
        batch = validate_sequences(self, X, reset=False).to_numpy()
        self._check_params(self.n_features_in_)
        return batch


class MeanPooling(_PoolingBase):
    r"""Sequences → their mean frame (average pooling).

    .. math:: \bar{\mathbf x}=\frac1{T}\sum_{t=1}^{T}\mathbf x_t,\qquad
              \text{output } \bar{\mathbf x}/\|\bar{\mathbf x}\|_2 \text{ if normalize}

    (an all-zero mean stays zero). It ignores the order of the frames: it is the baseline
    ":math:`\mathcal L_R` = MSE ⇒ mean" of ACOT (Cherian & Aeron 2020, eq. 1), to be followed
    by a linear classifier.

    Parameters
    ----------
    normalize : bool, default=True
        L2-normalise the mean.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    n_features_in_ : int
        ``d``.

    References
    ----------
    A. Cherian and S. Aeron. Representation learning via adversarially-contrastive optimal
    transport. ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.subspace import MeanPooling
    >>> MeanPooling(normalize=False).fit_transform([np.array([[0.0, 2.0], [2.0, 0.0]])])
    array([[1., 1.]])
    """

    _parameter_constraints: dict = {"normalize": ["boolean"], "layout": LAYOUT}

    def __init__(self, normalize=True, *, layout="time_first"):
        self.layout = layout
        self.normalize = normalize

    def transform(self, X):
        """The mean frame of each sequence.

        Parameters
        ----------
        X : list of array-like of shape (T_i, d), array-like of shape (n, T, d) or (n, d)

        Returns
        -------
        ndarray of shape (n, d)
        """
        batch = self._batch(X)
        data = batch.data
        mean = data.sum(axis=1) / batch.lengths[:, None].astype(data.dtype)
        if self.normalize:
            mean = _l2_normalize(mean)
        return mean.astype(data.dtype, copy=False)

    @property
    def _n_features_out(self):
        return self.n_features_in_


def _complete_basis(Q, k):
    """Extend the orthonormal columns of ``Q`` ``(d, r)`` to ``k`` columns, deterministically.

    Gram-Schmidt (two passes) over ``e_1, ..., e_d``, skipping the vectors that already lie in
    the span: the QR factorisation of ``[Q, I_d]`` without the dependent columns.
    """
    d = Q.shape[0]
    cols = [Q[:, j] for j in range(Q.shape[1])]
    for i in range(d):
        if len(cols) == k:
            break
        v = np.zeros(d)
        v[i] = 1.0
        for _ in range(2):
            for c in cols:
                v = v - (c @ v) * c
        norm = np.linalg.norm(v)
        if norm > 1e-6:
            cols.append(v / norm)
    return np.stack(cols, axis=1)


def _fix_signs(U, frames):
    """Flip each column ``u`` of ``U`` so that ``sum_t u^T x_t >= 0``.

    When that sum is zero (to rounding), the entry of ``u`` largest in magnitude is made
    positive instead, so the result never depends on the SVD's arbitrary signs.
    """
    proj = frames.sum(axis=0) @ U  # (k,)
    scale = np.abs(frames).sum() * 1e-12
    tie = np.abs(proj) <= scale
    biggest = U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])]
    sign = np.where(tie, np.sign(biggest), np.sign(proj))
    return U * np.where(sign < 0, -1.0, 1.0)


def _pca_basis(frames, k):
    """Top-``k`` left singular vectors of the ``d x T`` frame matrix (rows of ``frames``).

    Returns ``(U, rank)``; when the frames span fewer than ``k`` dimensions, the basis of
    their span is completed by :func:`_complete_basis`.
    """
    T, d = frames.shape
    _, s, vt = np.linalg.svd(frames, full_matrices=False)
    tol = (s[0] if s.size else 0.0) * max(T, d) * np.finfo(np.float64).eps
    rank = int(np.sum(s > tol)) if s.size and s[0] > 0 else 0
    r = min(rank, k)
    U = _fix_signs(vt[:r].T, frames)
    if r < k:
        U = _complete_basis(U, k)
    return U, rank


class PCASubspacePooling(_PoolingBase):
    r"""Sequences → the span of their top-``k`` principal directions (uncentred PCA).

    For a sequence with frames :math:`\mathbf x_1,\dots,\mathbf x_T\in\mathbb R^d` (each
    L2-normalised first if ``normalize_frames``), stacked as the columns of
    :math:`\mathbf X\in\mathbb R^{d\times T}`, the descriptor is the orthonormal basis
    :math:`\mathbf U\in\mathbb R^{d\times k}` of the top-``k`` left singular vectors of the
    **uncentred** :math:`\mathbf X`, i.e.

    .. math:: \mathbf U=\arg\min_{\mathbf U^\top\mathbf U=\mathbf I_k}
              \sum_t\|\mathbf x_t-\mathbf U\mathbf U^\top\mathbf x_t\|^2,

    a point of the Grassmann manifold :math:`\mathcal G(d,k)`. It is ACOT's initialisation and
    the ACOT objective without the contrastive and order terms (Cherian & Aeron 2020); it
    ignores the order of the frames. Classify it with
    :class:`~seqot.subspace.GrassmannKernel` and ``SVC(kernel="precomputed")``.

    Conventions:

    * output is flat, ``(n, k * d)``: row ``i`` is ``U_i.T.ravel()`` (the ``k`` basis vectors
      one after the other, by decreasing singular value); give ``GrassmannKernel`` the same
      ``n_components``, or recover ``(n, d, k)`` with :func:`~seqot.subspace.flat_to_bases`;
    * signs are fixed so that :math:`\sum_t\mathbf u_j^\top\mathbf x_t\ge0` for every column
      (if that sum is zero, the largest-magnitude entry of :math:`\mathbf u_j` is positive):
      the output is deterministic, and for ``k = 1`` it is a usable vector descriptor;
    * a sequence whose frames span fewer than ``k`` dimensions (in particular one with fewer
      than ``k`` frames) keeps the singular vectors of its span, completed to ``k``
      orthonormal columns by Gram-Schmidt over :math:`\mathbf e_1,\dots,\mathbf e_d` (the QR
      factorisation of :math:`[\mathbf U_r, \mathbf I_d]`), with a ``UserWarning``: the
      output shape never changes.

    Parameters
    ----------
    n_components : int, default=1
        ``k``, the dimension of the subspaces, ``1 <= k <= d``.
    normalize_frames : bool, default=True
        L2-normalise every frame first (all-zero frames stay zero); the result is then
        invariant to rescaling each frame.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    n_features_in_ : int
        ``d``.

    References
    ----------
    A. Cherian and S. Aeron. Representation learning via adversarially-contrastive optimal
    transport. ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.subspace import PCASubspacePooling, flat_to_bases
    >>> X = [np.random.default_rng(i).normal(size=(6, 4)) for i in range(3)]
    >>> Z = PCASubspacePooling(n_components=2).fit_transform(X)
    >>> Z.shape
    (3, 8)
    >>> U = flat_to_bases(Z, 2)
    >>> np.allclose(U[0].T @ U[0], np.eye(2))
    True
    """

    _parameter_constraints: dict = {
        "n_components": POSITIVE_INT,
        "normalize_frames": ["boolean"],
        "layout": LAYOUT,
    }

    def __init__(self, n_components=1, *, normalize_frames=True, layout="time_first"):
        self.layout = layout
        self.n_components = n_components
        self.normalize_frames = normalize_frames

    def _check_params(self, n_features):
        if self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} exceeds the number of features d="
                f"{n_features}; a k-dimensional subspace of R^d needs k <= d."
            )

    def transform(self, X):
        """The top-``k`` principal subspace of each sequence, as flat orthonormal bases.

        Parameters
        ----------
        X : list of array-like of shape (T_i, d), array-like of shape (n, T, d) or (n, d)

        Returns
        -------
        ndarray of shape (n, k * d)
            Row ``i`` is ``U_i.T.ravel()``.
        """
        batch = self._batch(X)
        k, d = self.n_components, batch.n_features
        out = np.empty((batch.n_sequences, k * d), dtype=batch.dtype)
        deficient = []
        for i, length in enumerate(batch.lengths.tolist()):
            frames = np.array(batch.data[i, :length], dtype=np.float64)
            if self.normalize_frames:
                frames = _l2_normalize(frames)
            U, rank = _pca_basis(frames, k)
            if rank < k:
                deficient.append((i, length, rank))
            out[i] = U.T.ravel()
        if deficient:
            i, length, rank = deficient[0]
            warnings.warn(
                f"{len(deficient)} of {batch.n_sequences} sequence(s) span fewer than "
                f"n_components={k} dimensions (first: sequence {i}, {length} frame(s), rank "
                f"{rank}); their bases were completed deterministically to {k} orthonormal "
                "columns.", UserWarning, stacklevel=3)
        return out

    @property
    def _n_features_out(self):
        return self.n_components * self.n_features_in_


def _ssr(a):
    return np.sign(a) * np.sqrt(np.abs(a))


def _reverse_frames(data, lengths):
    """Each sequence's real frames in reverse order (padding stays at the end)."""
    T = data.shape[1]
    t = np.arange(T)[None, :]
    idx = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return np.take_along_axis(data, idx[:, :, None], axis=1)


def _ridge_rank(V, C):
    """``w = argmin 1/2 ||w||^2 + C/2 sum_t (w^T v_t - t)^2`` for the rows ``v_t`` of ``V``.

    Closed form ``w = (V^T V + I/C)^{-1} V^T tau = V^T (V V^T + I/C)^{-1} tau`` with
    ``tau = (1, ..., T)``; the smaller of the two systems is solved.
    """
    T, d = V.shape
    tau = np.arange(1, T + 1, dtype=np.float64)
    if T <= d:
        alpha = np.linalg.solve(V @ V.T + np.eye(T) / C, tau)
        return V.T @ alpha
    return np.linalg.solve(V.T @ V + np.eye(d) / C, V.T @ tau)


class RankPooling(_PoolingBase):
    r"""Sequences → the parameters of a function that orders their frames in time.

    Rank pooling (Fernando et al. 2015, 2017), in its ridge-regression variant:

    1. time-varying mean smoothing,
       :math:`\mathbf v_t=\mathrm{nrm}(\psi(\frac1t\sum_{\tau\le t}\mathbf x_\tau))`,
       with :math:`\mathrm{nrm}(\mathbf v)=\mathbf v/\|\mathbf v\|_2` (zero stays zero) and
       :math:`\psi` the identity or, with ``nonlinearity="ssr"``, the signed square root
       :math:`\mathrm{sign}(v)\sqrt{|v|}`;
    2. regression of the frame index on the smoothed frames,

       .. math:: \mathbf w=\arg\min_{\mathbf w}\ \tfrac12\|\mathbf w\|^2
                 +\tfrac C2\sum_{t=1}^{T}(t-\mathbf w^\top\mathbf v_t)^2
                 =(\mathbf V^\top\mathbf V+\mathbf I/C)^{-1}\mathbf V^\top\boldsymbol\tau,

       :math:`\boldsymbol\tau=(1,\dots,T)`, computed in closed form (through the ``T x T``
       dual system when ``T <= d``). The paper's support vector regression
       :math:`\tfrac12\|\mathbf w\|^2+C\sum_t[|t-\mathbf w^\top\mathbf v_t|-\epsilon]_+` is
       replaced by this squared loss (its cheap, deterministic variant);
    3. the descriptor is :math:`\mathbf w` (L2-normalised if ``normalize``), optionally
       concatenated with the :math:`\mathbf w` of the time-reversed sequence
       (``bidirectional``). Classify it with a linear classifier.

    Unlike :class:`MeanPooling` and :class:`PCASubspacePooling` it depends on the order of
    the frames: a sequence and its reversal give different descriptors.

    Parameters
    ----------
    C : float, default=1.0
        Weight of the regression loss (> 0); the ridge penalty is ``1 / C``.
    nonlinearity : {None, "ssr"}, default=None
        Feature map applied to the running mean before normalisation.
    bidirectional : bool, default=False
        Concatenate the forward and backward descriptors, output ``(n, 2 d)``.
    normalize : bool, default=True
        L2-normalise each descriptor (forward and backward separately). Raw :math:`\mathbf w`
        grows with the sequence length, since the targets are ``1, ..., T``.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    n_features_in_ : int
        ``d``.

    References
    ----------
    B. Fernando, E. Gavves, J. Oramas, A. Ghodrati and T. Tuytelaars. Modeling video
    evolution for action recognition. CVPR 2015.

    B. Fernando, E. Gavves, J. Oramas, A. Ghodrati and T. Tuytelaars. Rank pooling for action
    recognition. IEEE TPAMI 39(4), 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.subspace import RankPooling
    >>> x = np.random.default_rng(0).normal(size=(8, 3))
    >>> w = RankPooling().fit_transform([x, x[::-1]])
    >>> w.shape, bool(np.allclose(w[0], w[1]))
    ((2, 3), False)
    """

    _parameter_constraints: dict = {
        "C": POSITIVE,
        "nonlinearity": [StrOptions({"ssr"}), None],
        "bidirectional": ["boolean"],
        "normalize": ["boolean"],
        "layout": LAYOUT,
    }

    def __init__(self, C=1.0, *, nonlinearity=None, bidirectional=False, normalize=True,
                 layout="time_first"):
        self.layout = layout
        self.C = C
        self.nonlinearity = nonlinearity
        self.bidirectional = bidirectional
        self.normalize = normalize

    def _descriptors(self, data, lengths):
        T = data.shape[1]
        running = np.cumsum(data, axis=1) / np.arange(1, T + 1, dtype=np.float64)[None, :, None]
        if self.nonlinearity == "ssr":
            running = _ssr(running)
        V = _l2_normalize(running)
        W = np.empty((data.shape[0], data.shape[2]))
        for i, length in enumerate(lengths.tolist()):
            W[i] = _ridge_rank(np.ascontiguousarray(V[i, :length]), float(self.C))
        if self.normalize:
            W = _l2_normalize(W)
        return W

    def transform(self, X):
        """The rank-pooling descriptor of each sequence.

        Parameters
        ----------
        X : list of array-like of shape (T_i, d), array-like of shape (n, T, d) or (n, d)

        Returns
        -------
        ndarray of shape (n, d), or (n, 2 d) if ``bidirectional``
            ``[w_forward, w_backward]`` in the bidirectional case.
        """
        batch = self._batch(X)
        data = np.asarray(batch.data, dtype=np.float64)
        lengths = np.asarray(batch.lengths)
        W = self._descriptors(data, lengths)
        if self.bidirectional:
            W = np.hstack([W, self._descriptors(_reverse_frames(data, lengths), lengths)])
        return W.astype(batch.dtype, copy=False)

    @property
    def _n_features_out(self):
        return (2 if self.bidirectional else 1) * self.n_features_in_
