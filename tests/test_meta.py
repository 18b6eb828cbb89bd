"""EpisodicEncoder: episodic meta-training of a frame encoder through CMOT."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline

from seqot.fewshot import (
    CMOTNearestCentroid,
    EpisodeSampler,
    EpisodicEncoder,
    evaluate_episodes,
)
from seqot.utils.estimator_checks import make_check_data

FAST = dict(hidden=(8,), max_epochs=5, metric_params={"max_iter": 20}, device="cpu")


def noisy_task(n_classes, n_per_class, seed, d=16, noise=3.0):
    """Classes differ only in 2 of d dimensions; the other d - 2 are large-variance noise.

    Raw CMOT distances are dominated by the noise dimensions, while a linear map that
    suppresses them separates the classes; novel classes drawn from the same generator need
    the same map.
    """
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c in range(n_classes):
        angle = rng.uniform(0, 2 * np.pi)
        mean = np.array([np.cos(angle), np.sin(angle)])
        for _ in range(n_per_class):
            T = int(rng.integers(4, 7))
            x = np.empty((T, d))
            x[:, :2] = mean + 0.2 * rng.normal(size=(T, 2))
            x[:, 2:] = noise * rng.normal(size=(T, d - 2))
            X.append(x)
            y.append(c)
    return X, np.asarray(y)


@pytest.fixture(scope="module")
def data():
    return make_check_data(n_classes=4, n_per_class=8, random_state=0)


def test_training_decreases_loss_and_transfers_to_novel_classes():
    X_base, y_base = noisy_task(10, 10, seed=0)
    X_novel, y_novel = noisy_task(10, 10, seed=1)
    enc = EpisodicEncoder(hidden=(), n_way=5, n_query=3, max_epochs=60, lr=0.1,
                          metric_params={"max_iter": 30}, validation_fraction=None,
                          device="cpu", random_state=0).fit(X_base, y_base)
    loss = np.asarray(enc.history_.loss)
    assert len(loss) == 60 and enc.history_.n_steps == 60
    assert loss[-10:].mean() < 0.8 * loss[:10].mean()

    sampler = EpisodeSampler(n_way=5, n_shot=1, n_query=3, n_episodes=100, random_state=0)
    clf = CMOTNearestCentroid(device="cpu")
    raw, _ = evaluate_episodes(clf, X_novel, y_novel, sampler)
    learned, _ = evaluate_episodes(clf, enc.transform(X_novel), y_novel, sampler)
    assert raw < 0.4  # the noise dimensions make raw features close to chance (0.2)
    assert learned > raw + 0.2


def test_pipeline_with_cmot_nearest_centroid(data):
    X, y = data
    model = Pipeline([("enc", EpisodicEncoder(n_way=4, random_state=0, **FAST)),
                      ("clf", CMOTNearestCentroid(device="cpu"))])
    pred = model.fit(X, y).predict(X)
    assert pred.shape == (len(X),) and set(pred) <= set(y)
    assert model.score(X, y) > 0.5


def test_same_random_state_is_bit_identical_and_global_rng_untouched(data):
    X, y = data
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    a = EpisodicEncoder(random_state=3, **FAST).fit(X, y)
    b = EpisodicEncoder(random_state=3, **FAST).fit(X, y)
    c = EpisodicEncoder(random_state=4, **FAST).fit(X, y)
    assert torch.equal(torch_state, torch.get_rng_state())
    after = np.random.get_state()
    assert np_state[0] == after[0] and np.array_equal(np_state[1], after[1])
    assert np_state[2:] == after[2:]
    za, zb, zc = (np.concatenate(e.transform(X)) for e in (a, b, c))
    assert np.array_equal(za, zb)
    assert a.history_.loss == b.history_.loss
    assert not np.array_equal(za, zc)


def test_output_forms_dtypes_and_pickle(data):
    X, y = data
    enc = EpisodicEncoder(n_components=5, random_state=0, **FAST).fit(X, y)
    assert enc.n_features_in_ == 3 and enc.n_components_ == 5
    assert np.array_equal(enc.classes_, np.unique(y))

    Z = enc.transform(X)  # list in -> list out
    assert isinstance(Z, list) and len(Z) == len(X)
    assert all(z.shape == (len(x), 5) and z.dtype == np.float64 for z, x in zip(Z, X))

    Z32 = enc.transform([x.astype(np.float32) for x in X])
    assert all(z.dtype == np.float32 for z in Z32)
    np.testing.assert_allclose(np.concatenate(Z32), np.concatenate(Z), rtol=1e-4, atol=1e-5)

    X2 = np.stack([x[0] for x in X])  # 2-D: length-1 sequences
    Z2 = enc.transform(X2)
    assert Z2.shape == (len(X), 5)
    np.testing.assert_allclose(Z2, np.stack([z[0] for z in Z]), rtol=1e-12)

    Zt = enc.transform([torch.as_tensor(x) for x in X])  # torch in -> torch out
    assert isinstance(Zt, list) and isinstance(Zt[0], torch.Tensor)
    np.testing.assert_allclose(Zt[0].numpy(), Z[0])

    loaded = pickle.loads(pickle.dumps(enc))
    assert all(np.array_equal(a, b) for a, b in zip(loaded.transform(X), Z))
    assert all(isinstance(v, np.ndarray) for v in enc.encoder_state_.values())


def _nan_padded(X, extra=0):
    T = max(len(x) for x in X) + extra
    out = np.full((len(X), T, X[0].shape[1]), np.nan)
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return out


def test_padding_invariance_of_transform(data):
    X, y = data
    enc = EpisodicEncoder(random_state=0, **FAST).fit(X, y)
    Z = enc.transform(X)
    for extra in (0, 4):
        Zp = enc.transform(_nan_padded(X, extra))  # 3-D in -> 3-D NaN-padded out
        assert Zp.shape == (len(X), max(len(x) for x in X), 3)
        for z, zp in zip(Z, Zp):
            np.testing.assert_allclose(zp[: len(z)], z, rtol=1e-12, atol=1e-12)
            assert np.isnan(zp[len(z):]).all()
    # training on padded data gives the same encoder
    enc_p = EpisodicEncoder(random_state=0, **FAST).fit(_nan_padded(X, 3), y)
    for a, b in zip(enc_p.transform(X), Z):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_validation_early_stopping_and_temperature():
    X, y = make_check_data(n_classes=3, n_per_class=15, random_state=1)
    enc = EpisodicEncoder(max_epochs=30, validate_every=3, patience=2, lr=0.05,
                          random_state=0, **{k: v for k, v in FAST.items()
                                             if k != "max_epochs"}).fit(X, y)
    h = enc.history_
    assert len(h.validation) >= 1 and h.best_step is not None
    assert all(np.isfinite(v) for _, v in h.validation)
    assert enc.temperature_ > 0 and enc.n_way_ == 3  # n_way=5 > 3 classes: all are used

    no_val = EpisodicEncoder(validation_fraction=None, learn_temperature=False,
                             random_state=0, **FAST).fit(X, y)
    assert no_val.history_.validation == [] and no_val.temperature_ == 1.0


def test_residual_encoder_starts_at_identity(data):
    X, y = data
    enc = EpisodicEncoder(lr=1e-12, max_epochs=1, device="cpu", random_state=0).fit(X, y)
    for z, x in zip(enc.transform(X), X):
        np.testing.assert_allclose(z, x, atol=1e-9)


def test_whiten_init_matches_closed_form_and_whitens_within_class_scatter(data):
    X, y = data
    enc = EpisodicEncoder(init="whiten", whiten_shrinkage=0.0, lr=1e-12, max_epochs=1,
                          validation_fraction=None, device="cpu", random_state=0).fit(X, y)
    # oracle: the mean of the per-class frame covariances, inverse square root by SVD
    covs = [np.cov(np.concatenate([x for x, c in zip(X, y) if c == k]).T) for k in np.unique(y)]
    sigma = np.mean(covs, axis=0)
    u, s, _ = np.linalg.svd(sigma)
    expected = u @ np.diag(s ** -0.5) @ u.T
    np.testing.assert_allclose(enc.whitening_, expected, rtol=1e-6, atol=1e-8)
    # the encoded frames have identity mean within-class covariance (the encoder is ~identity)
    Z = enc.transform(X)
    covs_z = [np.cov(np.concatenate([z for z, c in zip(Z, y) if c == k]).T) for k in np.unique(y)]
    np.testing.assert_allclose(np.mean(covs_z, axis=0), np.eye(X[0].shape[1]), atol=1e-6)
    assert EpisodicEncoder(**FAST).fit(X, y).whitening_ is None


def test_whiten_init_is_finite_with_fewer_frames_than_dimensions():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(2, 40)) for _ in range(6)]
    y = np.repeat([0, 1], 3)
    enc = EpisodicEncoder(init="whiten", validation_fraction=None, **FAST).fit(X, y)
    assert np.isfinite(enc.whitening_).all()
    assert all(np.isfinite(z).all() for z in enc.transform(X))


@pytest.mark.slow
def test_meta_training_helps_on_japanese_vowels_novel_speakers():
    """Issue 4: base speakers 1-4, novel 5-9, 5-way 1-shot CMOT episodes on the novel ones.

    Measured (600 episodes): raw 84.1 +- 0.7%, whitening 86.8 +- 0.6%, whitening + 150
    episodes of training 87.3 +- 0.7% (the learned part adds +0.5 points, paired).
    """
    from seqot.datasets import load_japanese_vowels

    jv = load_japanese_vowels(dtype=np.float32)
    X = jv.X_train + jv.X_test
    y = np.concatenate([jv.y_train, jv.y_test])
    base = np.isin(y, [1, 2, 3, 4])
    X_base, y_base = [X[i] for i in np.flatnonzero(base)], y[base]
    X_novel, y_novel = [X[i] for i in np.flatnonzero(~base)], y[~base]
    sampler = EpisodeSampler(n_way=5, n_shot=1, n_query=5, n_episodes=600, random_state=0)
    clf = CMOTNearestCentroid(device="cpu")

    def encoded_scores(max_epochs):
        enc = EpisodicEncoder(init="whiten", hidden=(), n_way=4, n_shot=5,
                              max_epochs=max_epochs, validation_fraction=None, device="cpu",
                              random_state=0).fit(X_base, y_base)
        return evaluate_episodes(clf, enc.transform(X_novel), y_novel, sampler)

    raw = evaluate_episodes(clf, X_novel, y_novel, sampler)
    whitened = encoded_scores(1)
    trained = encoded_scores(150)
    # a margin outside both 95% intervals
    assert trained.mean - trained.ci95 > raw.mean + raw.ci95, (raw, trained)
    # and the episodic training adds to the whitening it starts from (same episodes)
    assert np.mean(trained.scores - whitened.scores) > 0, (whitened, trained)


def test_too_few_examples_per_class():
    X, y = make_check_data(n_classes=3, n_per_class=2, random_state=0)
    with pytest.raises(ValueError, match="n_shot"):
        EpisodicEncoder(n_shot=2, **FAST).fit(X, y)


@pytest.mark.parametrize("param, value", [
    ("metric", "nope"), ("hidden", (0,)), ("hidden", (4, 2.5)), ("device", "tpu:x"),
])
def test_semantic_parameter_checks_name_them(data, param, value):
    """What the constraints (tests/test_common.py) cannot say: a registered metric name,
    every hidden width a positive int, a device torch knows."""
    X, y = data
    enc = EpisodicEncoder(**FAST).set_params(**{param: value})
    name = "metric" if param == "metric" else param
    with pytest.raises(ValueError, match=name):
        enc.fit(X, y)


def test_transform_checks_input(data):
    X, y = data
    enc = EpisodicEncoder(random_state=0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        enc.transform([x[:, :2] for x in X])
    with pytest.raises(ValueError, match="sequence 1"):
        enc.transform([X[0], np.full((3, 3), np.nan)])
