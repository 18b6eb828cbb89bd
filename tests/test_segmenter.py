"""ASOTSegmenter, asot_segment and the Viterbi baseline (issue 5)."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from seqot import ASOTSegmenter
from seqot.datasets import make_japanese_vowels_videos, make_segmented_sequences
from seqot.segmentation import (
    asot_segment,
    mof_score,
    segmentation_scores,
    viterbi_segment,
)
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


def n_segments(labels):
    return 1 + int(np.count_nonzero(np.diff(labels)))


@pytest.fixture(scope="module")
def noisy_videos():
    X, y, P = make_segmented_sequences(n_sequences=10, n_frames=500, n_actions=8, noise=1.0,
                                       random_state=0, return_prototypes=True)
    return [1.0 - x @ P.T for x in X], y


def test_asot_decoding_of_a_noisy_cost_beats_argmax(noisy_videos):
    """Spec §7.1 at sigma = 1: argmax ~0.38 frame accuracy, ASOT ~0.98."""
    costs, y = noisy_videos
    argmax = [c.argmin(1) for c in costs]
    labels = asot_segment(costs)  # a ragged list: each video solved on its own
    acc_argmax = np.mean(np.concatenate(argmax) == np.concatenate(y))
    acc_asot = np.mean(np.concatenate(labels) == np.concatenate(y))
    assert acc_argmax <= 0.5
    assert acc_asot >= 0.9, (acc_argmax, acc_asot)
    seg_true = np.mean([n_segments(t) for t in y])
    assert np.mean([n_segments(lab) for lab in labels]) < 2 * seg_true
    assert np.mean([n_segments(lab) for lab in argmax]) > 20 * seg_true


def test_asot_segment_forms_and_plan(noisy_videos):
    costs, _ = noisy_videos
    labels, plans = asot_segment(costs[:2], return_plan=True)
    assert isinstance(labels, list) and labels[0].dtype.kind == "i"
    np.testing.assert_allclose(plans[0].sum(1), 1.0, atol=1e-9)
    single = asot_segment(costs[0])
    np.testing.assert_array_equal(single, labels[0])
    t = asot_segment(torch.as_tensor(costs[0]))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(t.numpy(), labels[0])


def _viterbi_brute_force(cost, stay, temperature):
    N, K = cost.shape
    z = -cost / temperature
    emission = z - np.log(np.exp(z).sum(1, keepdims=True))
    best, best_path = -np.inf, None
    for path in itertools.product(range(K), repeat=N):
        score = emission[0, path[0]] - np.log(K)
        for t in range(1, N):
            move = np.log(stay) if path[t] == path[t - 1] else np.log((1 - stay) / (K - 1))
            score += move + emission[t, path[t]]
        if score > best:
            best, best_path = score, path
    return np.asarray(best_path)


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    cost = rng.random((6, 3))
    stay = float(rng.uniform(0.3, 0.95))
    np.testing.assert_array_equal(viterbi_segment(cost, stay_probability=stay, temperature=0.2),
                                  _viterbi_brute_force(cost, stay, 0.2))


def test_viterbi_errors():
    with pytest.raises(ValueError, match="NaN"):
        viterbi_segment(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="empty list"):
        viterbi_segment([])
    assert viterbi_segment(np.zeros((4, 1))).tolist() == [0, 0, 0, 0]


def test_viterbi_temperature_divides_the_cost():
    """temperature divides (issue 18's vocabulary): scaling the cost and the temperature
    together changes nothing."""
    cost = np.random.default_rng(3).random((30, 4))
    np.testing.assert_array_equal(viterbi_segment(cost * 5.0, temperature=0.5),
                                  viterbi_segment(cost, temperature=0.1))


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func in (asot_segment, viterbi_segment)
    for c in function_constraint_cases(func, (np.random.default_rng(0).random((6, 3)),))])
def test_parameter_constraints(case):
    check_function_constraint(*case)


# ---------------------------------------------------------------------------- the estimator
SYNTH = dict(n_actions=6, rho=0.0, lambda_train=0.2, max_epochs=10, device="cpu")


@pytest.fixture(scope="module")
def synthetic():
    return make_segmented_sequences(n_sequences=20, n_frames=(300, 600), n_actions=6,
                                    noise=0.6, random_state=0)


@pytest.fixture(scope="module")
def fitted(synthetic):
    X, _ = synthetic
    return ASOTSegmenter(random_state=0, **SYNTH).fit(X)


def test_unsupervised_mof_and_baselines(synthetic, fitted):
    """Issue 5: MoF >= 0.8 unsupervised; better than k-means per frame and than training
    without the structural term (the paper's "No GW (train & test)" ablation)."""
    X, y = synthetic
    mof = mof_score(y, fitted.predict(X))
    km = KMeans(6, n_init=10, random_state=0).fit(np.concatenate(X))
    km_labels = np.split(km.labels_, np.cumsum([len(x) for x in X])[:-1])
    mof_km = mof_score(y, km_labels)
    no_gw = ASOTSegmenter(random_state=0, **{**SYNTH, "alpha_train": 0.0, "alpha_eval": 0.0})
    mof_no_gw = mof_score(y, no_gw.fit_predict(X))
    assert mof >= 0.8, mof
    assert mof > mof_km + 0.1, (mof, mof_km)
    assert mof > mof_no_gw + 0.1, (mof, mof_no_gw)


def test_fitted_attributes_and_outputs(synthetic, fitted):
    X, _ = synthetic
    assert fitted.cluster_centers_.shape == (6, 40)
    np.testing.assert_allclose(np.linalg.norm(fitted.cluster_centers_, axis=1), 1.0, atol=1e-6)
    assert fitted.loss_curve_.shape == (10,)
    assert fitted.loss_curve_[-1] < fitted.loss_curve_[0]
    labels = fitted.predict(X[:3])
    assert [len(lab) for lab in labels] == [len(x) for x in X[:3]]
    assert all(lab.min() >= 0 and lab.max() < 6 for lab in labels)
    proba = fitted.predict_proba(X[:3])
    for p, lab in zip(proba, labels):
        np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(p.argmax(1), lab)
    Z = fitted.transform(X[:3])
    np.testing.assert_allclose(np.linalg.norm(Z[0], axis=1), 1.0, atol=1e-5)
    A = fitted.decision_function(X[:1])[0]
    np.testing.assert_allclose(A, Z[0] @ fitted.cluster_centers_.T, atol=1e-5)


def test_pickle_and_determinism(synthetic, fitted):
    X, _ = synthetic
    loaded = pickle.loads(pickle.dumps(fitted))
    for a, b in zip(fitted.predict(X[:4]), loaded.predict(X[:4])):
        np.testing.assert_array_equal(a, b)
    again = ASOTSegmenter(random_state=0, **SYNTH).fit(X)
    np.testing.assert_array_equal(again.cluster_centers_, fitted.cluster_centers_)
    other = ASOTSegmenter(random_state=1, **SYNTH).fit(X)
    assert not np.array_equal(other.cluster_centers_, fitted.cluster_centers_)


def test_global_rng_untouched(synthetic):
    X, _ = synthetic
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    ASOTSegmenter(n_actions=3, max_epochs=1, device="cpu", random_state=0).fit(X[:4])
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


@pytest.mark.parametrize("standardize", ["per_sequence", "global"])
def test_short_videos_and_standardize(standardize):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(int(n), 5)) for n in rng.integers(1, 12, size=8)]
    seg = ASOTSegmenter(n_actions=3, max_epochs=2, standardize=standardize, init="random",
                        device="cpu", random_state=0).fit(X)
    labels = seg.predict(X)
    assert [len(lab) for lab in labels] == [len(x) for x in X]
    assert hasattr(seg, "mean_") == (standardize == "global")


def test_global_standardize_uses_the_training_statistics():
    """"global": z-scores with the mean and deviation of all training frames, stored at fit
    and applied unchanged at predict; an affine change of the features is undone exactly."""
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(int(n), 4)) for n in rng.integers(20, 40, size=6)]
    X[0][:, 2] = 0.0  # a feature constant on one video only keeps a positive deviation
    frames = np.concatenate(X)
    params = dict(n_actions=3, max_epochs=2, standardize="global", device="cpu",
                  random_state=0, hidden=(8,), n_components=4)
    seg = ASOTSegmenter(**params).fit(X)
    np.testing.assert_allclose(seg.mean_, frames.mean(0))
    np.testing.assert_allclose(seg.scale_, frames.std(0))
    shifted = [3.0 * x - 7.0 for x in X]
    other = ASOTSegmenter(**params).fit(shifted)
    for a, b in zip(seg.transform(X), other.transform(shifted)):
        np.testing.assert_allclose(a, b, atol=1e-4)
    # a video at predict is standardised with the training statistics, not its own: two
    # constant videos (all zero z-scores per sequence) embed differently
    low, high = seg.transform([np.full((3, 4), -1.0), np.full((3, 4), 1.0)])
    assert np.abs(low - high).max() > 1e-3
    per_video = ASOTSegmenter(**{**params, "standardize": "per_sequence"}).fit(X)
    low, high = per_video.transform([np.full((3, 4), -1.0), np.full((3, 4), 1.0)])
    np.testing.assert_array_equal(low, high)
    seg_constant = ASOTSegmenter(**params).fit([np.ones((5, 2)), np.ones((7, 2))])
    np.testing.assert_array_equal(seg_constant.scale_, [1.0, 1.0])
    # refitting without standardisation forgets the statistics
    assert not hasattr(seg.set_params(standardize=False).fit(X), "mean_")


@pytest.mark.slow
def test_japanese_vowels_speaker_videos():
    """Real data: speaker segmentation of concatenated utterances (numbers in the closing
    note of issue 5). ASOT beats per-frame k-means by a wide margin."""
    X, y = make_japanese_vowels_videos(n_videos=30, random_state=0)
    labels = ASOTSegmenter(n_actions=9, rho=0.0, device="cpu", random_state=0).fit_predict(X)
    scores = segmentation_scores(y, labels)
    km = KMeans(9, n_init=10, random_state=0).fit(np.concatenate(X))
    km_scores = segmentation_scores(y, np.split(km.labels_, np.cumsum([len(x) for x in X])[:-1]))
    assert scores["mof"] > km_scores["mof"] + 0.15, (scores, km_scores)
    assert scores["f1@50"] > km_scores["f1@50"] + 0.3, (scores, km_scores)


def test_parameters_set_after_fit_are_checked_at_predict():
    """The evaluation hyper-parameters are read by predict: a bad value set after fit is
    refused there, naming it (issue 18)."""
    X = [np.random.default_rng(i).normal(size=(12, 3)) for i in range(4)]
    seg = ASOTSegmenter(n_actions=2, max_epochs=1, device="cpu", random_state=0).fit(X)
    for param, value in [("balanced", "yes"), ("max_iter", 2.5), ("reg_eval", 0.0),
                         ("rho_eval", np.nan), ("standardize", True)]:
        bad = pickle.loads(pickle.dumps(seg)).set_params(**{param: value})
        for method in ("predict", "predict_proba"):
            with pytest.raises(ValueError, match=f"'{param}' parameter of ASOTSegmenter"):
                getattr(bad, method)(X)


@pytest.mark.parametrize("lr", [1e30, 1e300])
def test_diverging_learning_rate_is_named(lr):
    """A huge lr blows the embeddings up: the error names lr, not ASOT's cost (issue 18)."""
    X = [np.random.default_rng(i).normal(size=(30, 3)) for i in range(4)]
    seg = ASOTSegmenter(n_actions=2, max_epochs=3, lr=lr, device="cpu", random_state=0)
    with pytest.raises(ValueError, match="lr"):
        seg.fit(X)


def test_hidden_widths_must_be_positive():
    # the element check no constraint expresses (the constraint only says tuple or list)
    X = [np.zeros((5, 2)) + i for i in range(4)]
    with pytest.raises(ValueError, match="hidden"):
        ASOTSegmenter(n_actions=2, hidden=(0,), max_epochs=1, device="cpu").fit(X)


def test_too_few_frames_and_wrong_dimension():
    with pytest.raises(ValueError, match="n_actions=5"):
        ASOTSegmenter(n_actions=5, device="cpu").fit([np.zeros((2, 3))])
    seg = ASOTSegmenter(n_actions=2, max_epochs=1, device="cpu", random_state=0)
    seg.fit([np.random.default_rng(0).normal(size=(10, 3))])
    with pytest.raises(ValueError, match="features"):
        seg.predict([np.zeros((4, 2))])
