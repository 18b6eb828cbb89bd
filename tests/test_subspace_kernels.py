"""Grassmann kernels (GrassmannKernel, grassmann_kernel) and the pooling baselines of ACOT."""

import warnings

import numpy as np
import pytest
from scipy.linalg import subspace_angles
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import SVC, LinearSVC

from seqot.subspace._kernels import (
    GrassmannKernel,
    bases_to_flat,
    flat_to_bases,
    grassmann_kernel,
)
from seqot.subspace._pooling import MeanPooling, PCASubspacePooling, RankPooling
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


def _bases(rng, n, d, k):
    """``n`` random orthonormal ``(d, k)`` bases."""
    return np.linalg.qr(rng.normal(size=(n, d, k)))[0]


def _orthogonal(rng, n, k):
    """``n`` random elements of O(k), reflections included."""
    Q = np.linalg.qr(rng.normal(size=(n, k, k)))[0]
    Q[:, :, 0] *= rng.choice([-1.0, 1.0], size=(n, 1))
    return Q


def _loop_overlaps(U1, U2):
    """||U1_i^T U2_j||_F^2 by an explicit loop over pairs."""
    S = np.empty((len(U1), len(U2)))
    for i in range(len(U1)):
        for j in range(len(U2)):
            S[i, j] = np.linalg.norm(U1[i].T @ U2[j], "fro") ** 2
    return S


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["projection", "rbf"])
def test_kernel_invariant_to_basis_rotation(kernel):
    rng = np.random.default_rng(0)
    U1, U2 = _bases(rng, 6, 7, 3), _bases(rng, 5, 7, 3)
    R1, R2 = _orthogonal(rng, 6, 3), _orthogonal(rng, 5, 3)
    K = grassmann_kernel(U1, U2, kernel=kernel, gamma=0.7)
    K_rot = grassmann_kernel(U1 @ R1, U2 @ R2, kernel=kernel, gamma=0.7)
    np.testing.assert_allclose(K_rot, K, atol=1e-12)
    # sign flips of single basis vectors (the SVD sign ambiguity) are a special case
    np.testing.assert_allclose(grassmann_kernel(-U1, U2, kernel=kernel, gamma=0.7), K, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.01, 1.0, 50.0])
def test_rbf_kernel_has_unit_diagonal(gamma):
    rng = np.random.default_rng(1)
    U = _bases(rng, 8, 6, 2)
    K = grassmann_kernel(U, kernel="rbf", gamma=gamma)
    np.testing.assert_array_equal(np.diag(K), 1.0)
    assert np.all(K <= 1.0) and np.all(K > 0.0)
    gk = GrassmannKernel(kernel="rbf", gamma=gamma)
    np.testing.assert_array_equal(np.diag(gk.fit_transform(U)), 1.0)
    np.testing.assert_allclose(np.diag(gk.transform(U)), 1.0, atol=1e-12)


@pytest.mark.parametrize("kernel, gamma", [("projection", 1.0), ("rbf", 0.1), ("rbf", 1.0),
                                           ("rbf", 10.0)])
@pytest.mark.parametrize("d, k", [(5, 1), (6, 2), (8, 4)])
def test_gram_matrix_is_psd(kernel, gamma, d, k):
    rng = np.random.default_rng(d * 10 + k)
    U = _bases(rng, 25, d, k)
    K = grassmann_kernel(U, kernel=kernel, gamma=gamma)
    np.testing.assert_array_equal(K, K.T)
    eig = np.linalg.eigvalsh(K)
    assert eig.min() >= -1e-10 * np.abs(K).max()


@pytest.mark.parametrize("d, k", [(4, 1), (6, 3), (5, 5)])
def test_squared_overlap_in_zero_k(d, k):
    rng = np.random.default_rng(2)
    U1, U2 = _bases(rng, 10, d, k), _bases(rng, 9, d, k)
    S = grassmann_kernel(U1, U2, kernel="projection")
    assert np.all(S >= 0) and np.all(S <= k + 1e-12)
    # the extremes: the same subspace gives k, orthogonal subspaces give 0
    np.testing.assert_allclose(np.diag(grassmann_kernel(U1)), k, atol=1e-12)
    if 2 * k <= d:
        Q = np.linalg.qr(rng.normal(size=(d, 2 * k)))[0]
        S01 = grassmann_kernel(Q[None, :, :k], Q[None, :, k:])
        np.testing.assert_allclose(S01, 0.0, atol=1e-12)


def test_kernels_equal_an_independent_loop_over_pairs():
    rng = np.random.default_rng(3)
    k, gamma = 3, 0.4
    U1, U2 = _bases(rng, 7, 9, k), _bases(rng, 4, 9, k)
    S = _loop_overlaps(U1, U2)
    np.testing.assert_allclose(grassmann_kernel(U1, U2, kernel="projection"), S, atol=1e-12)
    K = grassmann_kernel(U1, U2, kernel="rbf", gamma=gamma)
    np.testing.assert_allclose(K, np.exp(gamma * (S - k)), rtol=1e-12, atol=1e-14)
    # the paper's form exp(gamma ||U1^T U2||^2) is the same kernel times exp(gamma k) ...
    np.testing.assert_allclose(K * np.exp(gamma * k), np.exp(gamma * S), rtol=1e-12)
    # ... and a Gaussian kernel of the projection (chordal) distance
    chordal = np.array([[np.linalg.norm(a @ a.T - b @ b.T, "fro") ** 2 for b in U2] for a in U1])
    np.testing.assert_allclose(K, np.exp(-gamma / 2 * chordal), rtol=1e-12, atol=1e-14)


def test_raw_and_normalised_rbf_give_the_same_svm():
    rng = np.random.default_rng(4)
    k, gamma, C = 2, 1.5, 0.8
    centers = _bases(rng, 2, 6, k)
    U = np.concatenate([np.linalg.qr(centers[c] + 0.5 * rng.normal(size=(20, 6, k)))[0]
                        for c in (0, 1)])
    y = np.repeat([0, 1], 20)
    Uq = np.linalg.qr(centers[rng.integers(0, 2, 15)] + 0.7 * rng.normal(size=(15, 6, k)))[0]
    K, Kq = grassmann_kernel(U, kernel="rbf", gamma=gamma), grassmann_kernel(
        Uq, U, kernel="rbf", gamma=gamma)
    c = np.exp(gamma * k)
    raw = SVC(kernel="precomputed", C=C, tol=1e-10).fit(c * K, y)
    norm = SVC(kernel="precomputed", C=C * c, tol=1e-10).fit(K, y)
    np.testing.assert_array_equal(raw.predict(c * Kq), norm.predict(Kq))
    np.testing.assert_allclose(raw.decision_function(c * Kq), norm.decision_function(Kq),
                               rtol=1e-5, atol=1e-6)


def test_flat_layout_convention_and_equivalence():
    rng = np.random.default_rng(5)
    U1, U2 = _bases(rng, 6, 5, 2), _bases(rng, 3, 5, 2)
    F1 = bases_to_flat(U1)
    # row i is U_i.T.ravel(): the k basis vectors of length d one after the other
    np.testing.assert_array_equal(F1[2], U1[2].T.ravel())
    np.testing.assert_array_equal(F1[2, :5], U1[2][:, 0])
    np.testing.assert_array_equal(flat_to_bases(F1, 2), U1)
    F2 = bases_to_flat(U2)
    for kernel in ("projection", "rbf"):
        ref = grassmann_kernel(U1, U2, kernel=kernel)
        np.testing.assert_allclose(grassmann_kernel(F1, F2, kernel=kernel, n_components=2), ref,
                                   atol=1e-14)
        np.testing.assert_allclose(grassmann_kernel(F1, F2, kernel=kernel), ref, atol=1e-14)
        np.testing.assert_allclose(grassmann_kernel(F1, U2, kernel=kernel), ref, atol=1e-14)
        # transformer: fitted on one layout, queried with the other
        gk = GrassmannKernel(kernel=kernel).fit(U2)
        np.testing.assert_allclose(gk.transform(F1), ref, atol=1e-14)
        gk_flat = GrassmannKernel(kernel=kernel, n_components=2).fit(F2)
        np.testing.assert_allclose(gk_flat.transform(U1), ref, atol=1e-14)
        assert (gk_flat.n_components_, gk_flat.ambient_dim_, gk_flat.n_features_in_) == (2, 5, 10)
    # k is inferred from the rows' squared norm (= k for orthonormal bases)
    assert GrassmannKernel().fit(F1).n_components_ == 2


def test_transformer_gram_matrices():
    rng = np.random.default_rng(6)
    U, Uq = _bases(rng, 9, 6, 2), _bases(rng, 4, 6, 2)
    gk = GrassmannKernel(kernel="rbf", gamma=0.3)
    K = gk.fit_transform(U)
    assert K.shape == (9, 9)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(gk.transform(U), K, atol=1e-14)
    Kq = gk.transform(Uq)
    assert Kq.shape == (4, 9)
    np.testing.assert_allclose(Kq, grassmann_kernel(Uq, U, kernel="rbf", gamma=0.3), atol=1e-15)
    assert gk.get_feature_names_out().shape == (9,)
    K32 = GrassmannKernel(kernel="rbf").fit(U.astype(np.float32)).transform(Uq.astype(np.float32))
    assert K32.dtype == np.float32


def _bad_kernel_inputs():
    rng = np.random.default_rng(7)
    U = _bases(rng, 4, 5, 2)
    nan = U.copy()
    nan[1, 2, 0] = np.nan
    inf = U.copy()
    inf[0, 0, 1] = np.inf
    return U, [
        ("nan", lambda: GrassmannKernel().fit(nan), "NaN"),
        ("inf", lambda: GrassmannKernel().fit(inf), "infinity"),
        ("1d", lambda: GrassmannKernel().fit(U[0, :, 0]), "1D array"),
        ("4d", lambda: GrassmannKernel().fit(U[None]), "dim 4"),
        ("k>d", lambda: grassmann_kernel(np.ones((2, 2, 3))), "k <= d"),
        ("not orthonormal", lambda: GrassmannKernel().fit(2 * U), "orthonormal"),
        ("flat, wrong k", lambda: GrassmannKernel(n_components=1).fit(bases_to_flat(U)),
         "orthonormal"),
        ("flat, k not a divisor", lambda: GrassmannKernel(n_components=3).fit(bases_to_flat(U)),
         "multiple of n_components"),
        ("flat, k not inferable", lambda: GrassmannKernel().fit(rng.normal(size=(4, 10))),
         "cannot infer k"),
        ("3-D vs n_components", lambda: GrassmannKernel(n_components=3).fit(U),
         "n_components=3"),
        ("d at transform", lambda: GrassmannKernel().fit(U).transform(_bases(rng, 2, 6, 2)),
         r"\(d, k\) = \(6, 2\)"),
        ("k at transform", lambda: GrassmannKernel().fit(U).transform(_bases(rng, 2, 5, 1)),
         r"\(d, k\) = \(5, 1\)"),
        ("flat width at transform",
         lambda: GrassmannKernel().fit(U).transform(np.ones((2, 12))), "features"),
        ("U1 vs U2", lambda: grassmann_kernel(U, _bases(rng, 2, 6, 2)), "same dimension"),
        ("empty", lambda: GrassmannKernel().fit(np.zeros((0, 5, 2))), "0 sample"),
        ("ragged", lambda: GrassmannKernel().fit([np.eye(3)[:, :1], np.eye(4)[:, :1]]),
         "could not be read"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_kernel_inputs()[1])),
                         ids=[c[0] for c in _bad_kernel_inputs()[1]])
def test_kernel_bad_inputs_raise(case):
    _, cases = _bad_kernel_inputs()
    _, call, match = cases[case]
    with pytest.raises(ValueError, match=match):
        call()


_U = _bases(np.random.default_rng(9), 3, 4, 2)


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, args, kwargs in [
        (grassmann_kernel, (_U,), {}), (bases_to_flat, (), {"U": _U}),
        (flat_to_bases, (), {"X": bases_to_flat(_U), "n_components": 2})]
    for c in function_constraint_cases(func, args, kwargs)])
def test_parameter_constraints(case):
    check_function_constraint(*case)


@pytest.mark.parametrize("method", ["transform", "fit_transform"])
def test_kernel_parameters_set_after_fit_are_checked(method):
    """Regression (issue 18): set_params(kernel="bogus") after fit was computed as rbf."""
    from seqot.utils._param_validation import InvalidParameterError

    U = _bases(np.random.default_rng(9), 3, 4, 2)
    gk = GrassmannKernel().fit(U).set_params(kernel="bogus")
    with pytest.raises(InvalidParameterError, match="'kernel' parameter of GrassmannKernel"):
        getattr(gk, method)(U)


def test_check_orthonormal_false_accepts_any_matrices():
    rng = np.random.default_rng(8)
    A = rng.normal(size=(6, 4, 2))
    K = grassmann_kernel(A, kernel="rbf", check_orthonormal=False)
    assert np.all(np.isfinite(K)) and np.all(K <= 1.0)
    assert np.linalg.eigvalsh(K).min() >= -1e-10


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------
def _ragged(rng, n, d, lengths=(3, 9)):
    return [rng.normal(size=(int(rng.integers(*lengths)), d)) for _ in range(n)]


def test_mean_pooling():
    rng = np.random.default_rng(10)
    X = _ragged(rng, 5, 3)
    raw = MeanPooling(normalize=False).fit_transform(X)
    np.testing.assert_allclose(raw, [x.mean(axis=0) for x in X], atol=1e-14)
    out = MeanPooling().fit(X).transform(X)
    np.testing.assert_allclose(out, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-14)
    # all-zero sequences stay zero, without warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(MeanPooling().fit_transform([np.zeros((3, 2))]), 0.0)


def _unflat(Z, k):
    return flat_to_bases(Z, k)


@pytest.mark.parametrize("normalize_frames", [True, False])
def test_pca_pooling_orthonormal_for_every_length(normalize_frames):
    rng = np.random.default_rng(11)
    d, k = 5, 3
    X = [rng.normal(size=(T, d)) for T in range(1, 8)] + [np.zeros((4, d)),
                                                          np.ones((6, d))]
    pool = PCASubspacePooling(n_components=k, normalize_frames=normalize_frames).fit(X)
    with pytest.warns(UserWarning, match="completed deterministically"):
        Z = pool.transform(X)
    assert Z.shape == (len(X), k * d) and np.all(np.isfinite(Z))
    U = _unflat(Z, k)
    for Ui in U:
        assert np.abs(Ui.T @ Ui - np.eye(k)).max() < 1e-8
    # the completed bases still contain the frames' span
    for x, Ui in zip(X[:2], U[:2]):
        np.testing.assert_allclose(Ui @ (Ui.T @ x.T), x.T, atol=1e-10)
    with pytest.warns(UserWarning, match="4 of 9 sequence"):
        np.testing.assert_array_equal(pool.transform(X), Z)  # deterministic
    # k = d gives an orthonormal basis of R^d
    Zd = PCASubspacePooling(n_components=d).fit_transform([rng.normal(size=(9, d))])
    Ud = _unflat(Zd, d)[0]
    np.testing.assert_allclose(Ud @ Ud.T, np.eye(d), atol=1e-10)


def test_pca_pooling_warns_only_when_rank_deficient():
    rng = np.random.default_rng(12)
    X = _ragged(rng, 6, 4, lengths=(3, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PCASubspacePooling(n_components=3).fit_transform(X)


@pytest.mark.parametrize("normalize_frames", [True, False])
def test_pca_pooling_spans_top_singular_vectors(normalize_frames):
    rng = np.random.default_rng(13)
    k = 2
    X = [rng.normal(size=(T, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.3, 0.1]) + 0.5
         for T in (7, 12, 30)]
    Z = PCASubspacePooling(n_components=k, normalize_frames=normalize_frames).fit_transform(X)
    for x, Ui in zip(X, _unflat(Z, k)):
        frames = x / np.linalg.norm(x, axis=1, keepdims=True) if normalize_frames else x
        ref = np.linalg.svd(frames.T)[0][:, :k]  # left singular vectors of the d x T matrix
        assert subspace_angles(Ui, ref).max() < 1e-8
        # uncentred: the centred PCA subspace is a different one
        centred = np.linalg.svd((frames - frames.mean(0)).T)[0][:, :k]
        assert subspace_angles(Ui, centred).max() > 1e-3
        # signs: the frames project non-negatively on every basis vector
        assert np.all(frames.sum(axis=0) @ Ui >= 0)


def test_pca_pooling_scale_invariance():
    rng = np.random.default_rng(14)
    X = _ragged(rng, 6, 4, lengths=(4, 10))
    scaled = [x * rng.uniform(0.01, 100.0, size=(len(x), 1)) for x in X]  # every frame
    pool = PCASubspacePooling(n_components=2)
    np.testing.assert_allclose(pool.fit_transform(scaled), pool.fit_transform(X), atol=1e-10)
    # without frame normalisation, a global scale of a sequence changes nothing either
    raw = PCASubspacePooling(n_components=2, normalize_frames=False)
    np.testing.assert_allclose(raw.fit_transform([7.5 * x for x in X]), raw.fit_transform(X),
                               atol=1e-10)


def _rank_pool_reference(x, C, ssr=False):
    """Independent rank pooling: explicit running means and the primal ridge solution."""
    T, d = x.shape
    V = np.empty((T, d))
    for t in range(T):
        m = x[: t + 1].mean(axis=0)
        if ssr:
            m = np.sign(m) * np.sqrt(np.abs(m))
        V[t] = m / np.linalg.norm(m)
    tau = np.arange(1, T + 1)
    return np.linalg.solve(V.T @ V + np.eye(d) / C, V.T @ tau)


@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_rank_pooling_equals_closed_form_ridge(C):
    rng = np.random.default_rng(15)
    X = [rng.normal(size=(T, 5)) + 0.3 for T in (2, 4, 5, 9, 20)]  # T < d, T = d and T > d
    W = RankPooling(C=C, normalize=False).fit_transform(X)
    for x, w in zip(X, W):
        np.testing.assert_allclose(w, _rank_pool_reference(x, C), rtol=1e-9, atol=1e-10)
    Wn = RankPooling(C=C).fit_transform(X)
    np.testing.assert_allclose(Wn, W / np.linalg.norm(W, axis=1, keepdims=True), atol=1e-12)
    Ws = RankPooling(C=C, nonlinearity="ssr", normalize=False).fit_transform(X)
    for x, w in zip(X, Ws):
        np.testing.assert_allclose(w, _rank_pool_reference(x, C, ssr=True), rtol=1e-9,
                                   atol=1e-10)


def test_rank_pooling_bidirectional():
    rng = np.random.default_rng(16)
    X = _ragged(rng, 4, 3)
    W = RankPooling(bidirectional=True).fit_transform(X)
    assert W.shape == (4, 6)
    fwd = RankPooling().fit_transform(X)
    bwd = RankPooling().fit_transform([x[::-1] for x in X])
    np.testing.assert_allclose(W, np.hstack([fwd, bwd]), atol=1e-12)
    # padded input reverses only the real frames
    Xp = np.full((4, 12, 3), np.nan)
    for i, x in enumerate(X):
        Xp[i, : len(x)] = x
    np.testing.assert_allclose(RankPooling(bidirectional=True).fit_transform(Xp), W, atol=1e-12)


def test_order_free_vs_order_aware_descriptors():
    rng = np.random.default_rng(17)
    X = _ragged(rng, 4, 3, lengths=(5, 9))
    rev = [x[::-1] for x in X]
    for pool in (MeanPooling(), PCASubspacePooling(n_components=2)):
        np.testing.assert_allclose(pool.fit_transform(rev), pool.fit_transform(X), atol=1e-12)
    assert np.abs(RankPooling().fit_transform(rev) - RankPooling().fit_transform(X)).max() > 0.1


def _bad_pooling_inputs():
    X = [np.ones((3, 2)), np.arange(8.0).reshape(4, 2)]
    nan = [np.ones((3, 2)), np.array([[1.0, 2.0], [np.nan, 0.0]])]
    return [
        ("k > d", lambda: PCASubspacePooling(n_components=3).fit(X), "exceeds the number"),
        ("nan", lambda: RankPooling().fit(nan), "sequence 1 of X contains NaN"),
        ("empty", lambda: MeanPooling().fit([]), "empty"),
        ("mixed d", lambda: MeanPooling().fit([np.ones((3, 2)), np.ones((3, 3))]),
         "sequence 1 of X has 3 features"),
        ("d at transform", lambda: PCASubspacePooling().fit(X).transform([np.ones((3, 5))]),
         "expecting 2 features"),
        ("zero-length", lambda: RankPooling().fit([np.ones((3, 2)), np.ones((0, 2))]),
         "zero length"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_pooling_inputs())),
                         ids=[c[0] for c in _bad_pooling_inputs()])
def test_pooling_bad_inputs_raise(case):
    _, call, match = _bad_pooling_inputs()[case]
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------
# composition
# ---------------------------------------------------------------------------
def _two_subspace_classes(rng, n_per_class, d=6, k=2):
    """Ragged sequences whose frames lie near one of two class subspaces."""
    centers = _bases(rng, 2, d, k)
    X, y = [], []
    for c in (0, 1):
        for _ in range(n_per_class):
            T = int(rng.integers(4, 12))
            X.append(rng.normal(size=(T, k)) @ centers[c].T + 0.1 * rng.normal(size=(T, d)))
            y.append(c)
    return X, np.asarray(y)


def test_pipeline_in_grid_search_with_ragged_lists():
    rng = np.random.default_rng(20)
    X, y = _two_subspace_classes(rng, 15)
    Xt, yt = _two_subspace_classes(np.random.default_rng(20), 15)  # same class subspaces
    model = Pipeline([("pool", PCASubspacePooling(n_components=2)),
                      ("kernel", GrassmannKernel(kernel="rbf")),
                      ("svm", SVC(kernel="precomputed"))])
    search = GridSearchCV(model, {"kernel__gamma": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
    assert search.best_params_["kernel__gamma"] in (0.1, 1.0, 10.0)
    assert search.best_estimator_.named_steps["kernel"].n_components_ == 2
    assert search.score(Xt, yt) >= 0.9
    assert search.predict(Xt[:3]).shape == (3,)


def _forward_reversed(rng, n, A, B, *, both_orders):
    """Sequences drifting from near A to near B (class 0) and the reverse drift (class 1).

    With ``both_orders`` every sequence appears forward (class 0) and reversed (class 1), so the
    two classes hold exactly the same sets of frames; otherwise sequence ``i`` appears once,
    reversed when ``i`` is odd.
    """
    d = len(A)
    X, y = [], []
    for i in range(n):
        T = int(rng.integers(8, 17))
        s = np.linspace(0.0, 1.0, T)[:, None]
        a, b = A + 0.3 * rng.normal(size=d), B + 0.3 * rng.normal(size=d)
        x = (1 - s) * a + s * b + 0.2 * rng.normal(size=(T, d))
        if both_orders:
            X += [x, x[::-1].copy()]
            y += [0, 1]
        else:
            X.append(x[::-1].copy() if i % 2 else x)
            y.append(i % 2)
    return X, np.asarray(y)


def test_order_only_classes_need_rank_pooling():
    """Same frames, opposite order: order-free pooling is at chance, rank pooling is not."""
    rng = np.random.default_rng(21)
    A, B = rng.normal(size=6), rng.normal(size=6)
    X, y = _forward_reversed(rng, 60, A, B, both_orders=False)
    Xt, yt = _forward_reversed(rng, 30, A, B, both_orders=True)  # 60 test sequences
    mean = make_pipeline(MeanPooling(), LinearSVC()).fit(X, y)
    pca = make_pipeline(PCASubspacePooling(n_components=2), GrassmannKernel(kernel="rbf"),
                        SVC(kernel="precomputed")).fit(X, y)
    rank = make_pipeline(RankPooling(), LinearSVC()).fit(X, y)
    assert abs(mean.score(Xt, yt) - 0.5) <= 0.15
    assert abs(pca.score(Xt, yt) - 0.5) <= 0.15
    assert rank.score(Xt, yt) >= 0.8
