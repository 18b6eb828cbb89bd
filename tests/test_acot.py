"""ACOT's per-sequence subspace problem and ACOTSubspacePooling (issue 8, in progress)."""

import numpy as np
import pytest

pytest.importorskip("pymanopt")

from seqot.subspace._acot import (  # noqa: E402
    acot_closed_form,
    acot_cost,
    acot_euclidean_gradient,
    barycentric_targets,
    pca_basis,
    random_negatives,
    solve_u_step,
)
from seqot.datasets import make_order_only_sequences  # noqa: E402
from seqot.subspace import acot_subspace  # noqa: E402
from seqot.subspace._estimator import ACOTSubspacePooling  # noqa: E402
from seqot.utils.estimator_checks import (  # noqa: E402
    check_function_constraint,
    function_constraint_cases,
)


def _problem(seed=0, d=20, n=15, k=2):
    import ot

    rng = np.random.default_rng(seed)
    X = np.abs(rng.normal(size=(d, n)))
    X /= np.linalg.norm(X, axis=0)
    Y = random_negatives(X, rng)
    C = ((X[:, :, None] - Y[:, None, :]) ** 2).sum(0)
    plan = ot.emd(np.full(n, 1 / n), np.full(Y.shape[1], 1 / Y.shape[1]), C / C.max())
    return X, Y, plan, barycentric_targets(Y, plan), k


def _principal_cosines(A, B):
    return np.linalg.svd(A.T @ B, compute_uv=False)


def _retract(U, V):
    Q, R = np.linalg.qr(U + V)
    return Q * np.sign(np.diag(R))


@pytest.mark.parametrize("order_loss", ["squared_hinge", "hinge"])
def test_riemannian_gradient_matches_finite_differences(order_loss):
    X, _, _, Y_hat, k = _problem()
    rng = np.random.default_rng(1)
    U = pca_basis(X, k)
    E = rng.normal(size=U.shape)
    E -= U @ (U.T @ E)
    g = acot_euclidean_gradient(U, X, Y_hat, order_loss=order_loss)
    h = 1e-6
    fd = (acot_cost(_retract(U, h * E), X, Y_hat, order_loss=order_loss)
          - acot_cost(_retract(U, -h * E), X, Y_hat, order_loss=order_loss)) / (2 * h)
    np.testing.assert_allclose(fd, np.sum((g - U @ (U.T @ g)) * E), rtol=1e-5)


def test_barycentric_identity():
    """sum_ij pi_ij ||UU^T x_i - y_j||^2 - (1/n)||UU^T X - Y_hat||^2 does not depend on U."""
    X, Y, plan, Y_hat, k = _problem()
    rng = np.random.default_rng(2)
    n = X.shape[1]
    diffs = []
    for _ in range(2):
        U, _ = np.linalg.qr(rng.normal(size=(X.shape[0], k)))
        P = U @ (U.T @ X)
        full = np.sum(plan * ((P[:, :, None] - Y[:, None, :]) ** 2).sum(0))
        diffs.append(full - np.sum((P - Y_hat) ** 2) / n)
    np.testing.assert_allclose(diffs[0], diffs[1], atol=1e-12)


def test_cg_without_order_term_reaches_the_closed_form():
    X, _, _, Y_hat, k = _problem()
    U, costs = solve_u_step(X, Y_hat, pca_basis(X, k), beta_order=0.0,
                            max_iterations=300)
    closed = acot_closed_form(X, Y_hat, k)
    np.testing.assert_allclose(_principal_cosines(U, closed), 1.0, atol=1e-6)
    assert acot_cost(closed, X, Y_hat, beta_order=0.0) <= min(costs) + 1e-9


def test_closed_form_is_the_top_eigenvectors_of_the_dense_matrix():
    """Oracle: eigh of the dense d x d M_pi. Where M_pi is indefinite in span([X, Y_hat]) and k
    exceeds its positive eigenvalues, the zero eigenvalues outside the span come before the
    negative ones (regression: they came after, a worse cost by up to 5)."""
    rng = np.random.default_rng(0)
    cases = [(np.array([[1.0], [0.0], [0.0]]), np.array([[0.0], [1.0], [0.0]]), 2)]
    for _ in range(200):
        d, n = rng.integers(1, 7), rng.integers(1, 5)
        cases.append((rng.normal(size=(d, n)), rng.normal(size=(d, n)), rng.integers(1, d + 1)))
    for X, Y_hat, k in cases:
        for alpha, beta_distortion in ((1.0, 1.0), (2.0, 0.5)):
            M = (alpha + beta_distortion) * X @ X.T - alpha * (X @ Y_hat.T + Y_hat @ X.T)
            best = np.linalg.eigvalsh(M)[::-1][:k].sum()
            U = acot_closed_form(X, Y_hat, k, alpha=alpha, beta_distortion=beta_distortion)
            np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-10)
            np.testing.assert_allclose(np.trace(U.T @ M @ U), best, rtol=1e-10, atol=1e-10)


def test_reduction_to_pca():
    X, _, _, Y_hat, k = _problem(seed=3)
    rng = np.random.default_rng(0)
    U0, _ = np.linalg.qr(rng.normal(size=(X.shape[0], k)))
    U, _ = solve_u_step(X, Y_hat, U0, alpha=0.0, beta_order=0.0, max_iterations=300)
    np.testing.assert_allclose(_principal_cosines(U, pca_basis(X, k)), 1.0, atol=1e-6)
    g = acot_euclidean_gradient(pca_basis(X, k), X, Y_hat, alpha=0.0, beta_order=0.0)
    P = pca_basis(X, k)
    assert np.linalg.norm(g - P @ (P.T @ g)) < 1e-10


@pytest.mark.parametrize("order_loss", ["hinge", "squared_hinge"])
def test_cg_costs_do_not_increase(order_loss):
    X, _, _, Y_hat, k = _problem(seed=4)
    _, costs = solve_u_step(X, Y_hat, pca_basis(X, k), order_loss=order_loss,
                            max_iterations=20)
    assert np.all(np.diff(costs) <= 1e-12)


def test_objective_is_rotation_invariant():
    X, _, _, Y_hat, k = _problem()
    U = pca_basis(X, k)
    R, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(k, k)))
    assert acot_cost(U @ R, X, Y_hat) == pytest.approx(acot_cost(U, X, Y_hat), abs=1e-10)


def test_random_negatives_are_nonnegative_unit_vectors():
    X, _, _, _, _ = _problem()
    Y = random_negatives(X, np.random.default_rng(0), per_frame=3)
    assert Y.shape == (X.shape[0], 3 * X.shape[1])
    assert (Y >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(Y, axis=0), 1.0, atol=1e-8)


def _order_only(n_seq=40, d=12, seed=0):
    return make_order_only_sequences(n_sequences=n_seq, n_features=d, random_state=seed)


def test_estimator_outputs_orthonormal_bases_for_any_length():
    rng = np.random.default_rng(0)
    X = [rng.random((n, 6)) for n in (1, 2, 5, 9)]
    U = ACOTSubspacePooling(noise="random", n_components=3, random_state=0).fit_transform(X)
    assert U.shape == (4, 6, 3)
    for u in U:
        np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-8)


def test_estimator_determinism_and_n_jobs():
    X, _ = _order_only(n_seq=6)
    a = ACOTSubspacePooling(noise="random", n_components=2, random_state=3).fit_transform(X)
    b = ACOTSubspacePooling(noise="random", n_components=2, random_state=3,
                            n_jobs=2).fit_transform(X)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_order_term_separates_order_only_classes():
    """Issue 8: same frames, different order. Mean pooling (linear SVM) and ACOT without its
    order term sit at chance; ACOT with it, through a Grassmann kernel SVM, far above."""
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC, LinearSVC

    X, y = _order_only(n_seq=80)

    def accuracy(U):
        K = np.exp((np.einsum("idk,jdl->ijkl", U, U) ** 2).sum((2, 3)) - 1.0)
        return cross_val_score(SVC(kernel="precomputed"), K, y, cv=5).mean()

    mean_pool = cross_val_score(LinearSVC(), np.stack([x.mean(0) for x in X]), y, cv=5).mean()
    with_order = accuracy(ACOTSubspacePooling(noise="random", random_state=0).fit_transform(X))
    without = accuracy(ACOTSubspacePooling(noise="random", beta_order=0.0,
                                           random_state=0).fit_transform(X))
    assert with_order >= 0.75, with_order  # measured 0.81 (5-fold CV, 80 sequences)
    assert abs(mean_pool - 0.5) <= 0.15, mean_pool
    assert abs(without - 0.5) <= 0.15, without


def test_without_pymanopt_the_error_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pymanopt", None)
    X, _ = _order_only(n_seq=2)
    with pytest.raises(ImportError, match=r"seqot\[manifold\]"):
        ACOTSubspacePooling(noise="random").fit(X)


def test_entropic_ot_step_runs():
    X, _ = _order_only(n_seq=3)
    U = ACOTSubspacePooling(noise="random", reg=0.05, random_state=0).fit_transform(X)
    np.testing.assert_allclose(np.einsum("idk,idl->ikl", U, U), 1.0, atol=1e-8)


@pytest.mark.slow
def test_adversarial_generator_fools_the_frame_classifier():
    """Spec §9.19: after WGAN training the fooling rate exceeds its initial value, and the
    perturbation energy shrinks when lambda_norm grows."""
    from seqot.subspace._noise import train_adversarial_generator

    rng = np.random.default_rng(0)
    centers = np.abs(rng.normal(size=(3, 8)))
    labels = np.repeat(np.arange(3), 200)
    frames = np.abs(centers[labels] + 0.3 * rng.normal(size=(600, 8)))
    frames /= np.linalg.norm(frames, axis=1, keepdims=True)
    # the paper's lambda_adv = 0.1 does not flip classes on these separable toy frames within
    # 150 steps (fooling 0.0); a stronger classifier term does (measured 0.68)
    common = dict(max_epochs=150, classifier_max_epochs=300, batch_size=64, lr=1e-3,
                  lambda_adv=1.0, random_state=0)
    out = train_adversarial_generator(frames, labels, 3, lambda_norm=0.1, **common)
    assert 0.0 <= out["classifier_accuracy"] <= 1.0 and out["classifier_accuracy"] > 0.6
    assert out["fooling_rate"] > out["fooling_rate_initial"] + 0.2, out
    strong = train_adversarial_generator(frames, labels, 3, lambda_norm=100.0, **common)

    def energy(state):
        from seqot.subspace._noise import generator_negatives

        x = frames[:50].T
        reps = x.T
        h = reps + 0.01 * np.random.default_rng(1).normal(size=reps.shape)
        for k in range(3):
            h = h @ state[f"{2 * k}.weight"].T + state[f"{2 * k}.bias"]
            if k < 2:
                h = np.maximum(h, 0.0)
        assert generator_negatives(x, state, np.random.default_rng(0)).shape == (8, 100)
        return np.mean((h ** 2).sum(1))

    assert energy(strong["generator"]) < energy(out["generator"])


def test_adversarial_pooling_fits_and_is_deterministic():
    X, y = _order_only(n_seq=8)
    kw = dict(max_epochs=3, classifier_max_epochs=5, batch_size=32, device="cpu", random_state=0)
    a = ACOTSubspacePooling(**kw).fit(X, y)
    b = ACOTSubspacePooling(**kw).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert 0.0 <= a.fooling_rate_ <= 1.0
    with pytest.raises(ValueError, match="needs y"):
        ACOTSubspacePooling(**kw).fit(X)


def test_pipeline_with_grassmann_kernel_in_grid_search_on_ragged_lists():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from seqot.subspace import GrassmannKernel

    X, y = _order_only(n_seq=24)
    model = Pipeline([("pool", ACOTSubspacePooling(noise="random", random_state=0)),
                      ("kernel", GrassmannKernel(kernel="rbf")),
                      ("svm", SVC(kernel="precomputed"))])
    search = GridSearchCV(model, {"kernel__gamma": [0.5, 2.0], "svm__C": [1.0, 10.0]}, cv=3)
    search.fit(X, y)
    assert search.predict(X[:4]).shape == (4,)
    assert search.best_score_ > 0.6


def test_rescaled_sequences_get_the_same_basis():
    """Spec §9.14: with normalize_frames=True, c * x gives the basis of x (same seed), since
    the negatives are seeded from the normalised frames (regression: from the raw ones)."""
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(t, 4)) for t in (5, 7, 6)]
    est = ACOTSubspacePooling(n_components=2, noise="random", random_state=0).fit(X)
    U = est.transform(X)
    V = est.transform([3.7 * X[0], 1e-3 * X[1], X[2]])
    for u, v in zip(U, V):
        np.testing.assert_allclose(u @ u.T, v @ v.T, atol=1e-9)


@pytest.mark.parametrize("n_seq", [1, 4])
def test_adversarial_noise_refuses_one_class_naming_the_random_option(n_seq):
    """Regression (issue 17): the generator learns to make a frame classifier pick the least
    likely class, which needs two classes; one class (or one sequence) was accepted and
    trained a meaningless generator (a one-class softmin is constant: fooling rate 1)."""
    X, _ = _order_only(n_seq=4)
    X = X[:n_seq]
    kw = dict(max_epochs=2, classifier_max_epochs=3, batch_size=16, device="cpu", random_state=0)
    what = "1 sample" if n_seq == 1 else "one class"
    for y in (np.zeros(n_seq, dtype=int), np.full(n_seq, "walk")):
        with pytest.raises(ValueError, match=what) as info:
            ACOTSubspacePooling(**kw).fit(X, y)
        msg = str(info.value)
        assert 'noise="adversarial"' in msg and 'noise="random"' in msg
        assert "two classes" in msg
        if n_seq > 1:
            assert repr(y[0]) in msg  # names the class it got
    # the same data with random negatives fits (they need no labels)
    U = ACOTSubspacePooling(noise="random", random_state=0).fit(X, np.zeros(n_seq)).transform(X)
    assert U.shape[0] == n_seq and np.isfinite(U).all()
    # two classes are enough
    if n_seq > 1:
        ACOTSubspacePooling(**kw).fit(X, [0, 1, 0, 1])


def _acot_valid_calls():
    X, Y, _, Y_hat, k = _problem(d=6, n=5)
    return [(acot_closed_form, (X, Y_hat, k)), (acot_cost, (pca_basis(X, k), X, Y_hat)),
            (acot_subspace, (X, Y, k)), (random_negatives, (X, 0))]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, args in _acot_valid_calls() for c in function_constraint_cases(func, args)])
def test_parameter_constraints(case):
    check_function_constraint(*case)


def test_k_above_d_is_refused_naming_both():
    """Semantic check (no constraint can say it): k <= d."""
    from seqot.subspace import acot_subspace

    X, Y, _, Y_hat, _ = _problem(d=4, n=5)
    for call in (lambda: acot_subspace(X, Y, 5), lambda: acot_closed_form(X, Y_hat, 5)):
        with pytest.raises(ValueError, match=r"k=5 exceeds the feature dimension d=4"):
            call()
    with pytest.raises(ValueError, match=r"n_components=5 exceeds the feature dimension 4"):
        ACOTSubspacePooling(n_components=5, noise="random").fit(
            [np.ones((3, 4))]).transform([np.ones((3, 4))])
