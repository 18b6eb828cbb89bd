"""The channels-first layout (aeon, sktime) and the converters to and from it."""

import numpy as np
import pytest
import torch

from seqot.datasets import load_basic_motions, load_japanese_vowels
from seqot.distances import pairwise_sequence_distances
from seqot.neighbors import KNeighborsSequenceClassifier
from seqot.utils import check_sequences, from_aeon, to_aeon


def _ragged(n=5, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(3, 9)), d)) for _ in range(n)]


def _same_batch(a, b):
    np.testing.assert_array_equal(np.asarray(a.lengths), np.asarray(b.lengths))
    np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data))


def test_channels_first_forms_read_like_their_transposes():
    X = _ragged()
    ref = check_sequences(X)
    _same_batch(check_sequences([x.T for x in X], layout="channels_first"), ref)
    _same_batch(check_sequences(tuple(x.T.tolist() for x in X), layout="channels_first"), ref)
    obj = np.empty(len(X), dtype=object)
    obj[:] = [x.T for x in X]
    _same_batch(check_sequences(obj, layout="channels_first"), ref)
    padded = np.full((len(X), 3, 8), np.nan)
    for i, x in enumerate(X):
        padded[i, :, : len(x)] = x.T
    _same_batch(check_sequences(padded, layout="channels_first"), ref)
    t = check_sequences(torch.from_numpy(padded), layout="channels_first")
    _same_batch(t.to_numpy(), ref)
    tl = check_sequences([torch.from_numpy(x.T) for x in X], layout="channels_first")
    _same_batch(tl.to_numpy(), ref)
    # nested lists of an equal-length (n, d, T) array, and 2-D (n, T): univariate series
    eq = np.random.default_rng(1).normal(size=(4, 2, 6))
    _same_batch(check_sequences(eq.tolist(), layout="channels_first"),
                check_sequences(np.swapaxes(eq, 1, 2)))
    uni = np.random.default_rng(2).normal(size=(4, 6))
    b = check_sequences(uni, layout="channels_first")
    assert b.data.shape == (4, 6, 1)
    np.testing.assert_array_equal(b.data[:, :, 0], uni)
    # 1-D items are univariate in either layout
    _same_batch(check_sequences([np.arange(3.0), np.arange(5.0)], layout="channels_first"),
                check_sequences([np.arange(3.0), np.arange(5.0)]))


def test_channels_first_errors_still_name_the_sequence():
    X = [x.T for x in _ragged()]
    X[2] = X[2].copy()
    X[2][1, 1] = np.nan
    with pytest.raises(ValueError, match="sequence 2 of X contains NaN"):
        check_sequences(X, layout="channels_first")
    with pytest.raises(ValueError, match="sequence 1 of X has 4 features"):
        check_sequences([np.zeros((3, 5)), np.zeros((4, 5))], layout="channels_first")


@pytest.mark.parametrize("bad", ["channels_last", "TIME_FIRST", None, 1])
def test_unknown_layout_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="layout must be one of"):
        check_sequences(_ragged(), layout=bad)
    # estimators check it declaratively: "The 'layout' parameter of ... must be ..."
    with pytest.raises(ValueError, match=r"'layout' parameter|layout must be one of"):
        KNeighborsSequenceClassifier(layout=bad).fit(_ragged(), [0, 1, 0, 1, 0])


def test_aeon_style_list_read_time_first_names_the_option():
    """(d, T_i) series with a constant first axis and varying second one cannot be (T_i, d)
    sequences of one feature dimension: the error says which option reads them."""
    X = [np.zeros((12, t)) for t in (20, 26, 22)]
    with pytest.raises(ValueError, match="layout='channels_first'.*from_aeon"):
        check_sequences(X)
    with pytest.raises(ValueError, match="layout='channels_first'"):
        pairwise_sequence_distances(X, metric="dtw")
    # sequences that merely differ in d (varying first axes too) get the plain message
    with pytest.raises(ValueError, match="share the feature dimension d.$"):
        check_sequences([np.zeros((3, 2)), np.zeros((4, 5))])


def test_converters_round_trip():
    X = _ragged()
    A = to_aeon(X)
    assert [a.shape for a in A] == [x.T.shape for x in X]
    back = from_aeon(A)
    for x, z in zip(X, back):
        np.testing.assert_array_equal(x, z)
    eq = np.random.default_rng(3).normal(size=(4, 7, 2))
    assert to_aeon(eq).shape == (4, 2, 7)
    np.testing.assert_array_equal(from_aeon(to_aeon(eq)), eq)
    np.testing.assert_array_equal(to_aeon(to_aeon(eq), layout="channels_first"),
                                  to_aeon(eq))


def test_pairwise_distances_take_the_layout():
    X, Y = _ragged(4), _ragged(3, seed=5)
    ref = pairwise_sequence_distances(X, Y, metric="dtw")
    out = pairwise_sequence_distances([x.T for x in X], [y.T for y in Y], metric="dtw",
                                      layout="channels_first")
    np.testing.assert_array_equal(out, ref)


def test_transform_returns_sequences_in_the_input_layout():
    from seqot.metric_learning import TAPMetricLearner

    X = _ragged(6)
    y = [0, 1, 0, 1, 0, 1]
    params = dict(max_epochs=1, hidden=(4,), batch_size=6, validation_fraction=None,
                  random_state=0, device="cpu")
    Z = TAPMetricLearner(**params).fit(X, y).transform(X)
    Zc = TAPMetricLearner(layout="channels_first", **params).fit(
        [x.T for x in X], y).transform([x.T for x in X])
    for z, zc in zip(Z, Zc):
        np.testing.assert_allclose(zc, z.T, rtol=1e-12)


def test_bundled_basic_motions_one_nn_dtw():
    bm = load_basic_motions()
    assert bm.X_train.shape == (40, 100, 6) and bm.X_test.shape == (40, 100, 6)
    assert sorted(set(bm.y_train)) == ["Badminton", "Running", "Standing", "Walking"]
    acc = KNeighborsSequenceClassifier(metric="dtw").fit(bm.X_train, bm.y_train).score(
        bm.X_test, bm.y_test)
    assert acc == pytest.approx(0.975)  # 39 of 40, the archive's published 1-NN DTW result


# -- aeon's own loaders (aeon is a test-only dependency: pip install -e ".[test,aeon]")
def test_aeon_basic_motions_channels_first_equals_the_transposed_data():
    datasets = pytest.importorskip("aeon.datasets")
    X_train, y_train = datasets.load_basic_motions(split="train")
    X_test, y_test = datasets.load_basic_motions(split="test")
    assert X_train.shape == (40, 6, 100)  # aeon: channels first
    bm = load_basic_motions()
    np.testing.assert_array_equal(np.swapaxes(X_train, 1, 2), bm.X_train)
    clf = KNeighborsSequenceClassifier(metric="dtw", layout="channels_first")
    acc = clf.fit(X_train, y_train).score(X_test, y_test)
    own = KNeighborsSequenceClassifier(metric="dtw").fit(bm.X_train, bm.y_train).score(
        bm.X_test, bm.y_test)
    assert acc == own == pytest.approx(0.975)
    # the converter gives the same
    assert KNeighborsSequenceClassifier(metric="dtw").fit(from_aeon(X_train), y_train).score(
        from_aeon(X_test), y_test) == acc


def test_aeon_japanese_vowels_channels_first_equals_the_bundled_data():
    datasets = pytest.importorskip("aeon.datasets")
    X_train, y_train = datasets.load_japanese_vowels(split="train")
    X_test, y_test = datasets.load_japanese_vowels(split="test")
    assert isinstance(X_train, list) and X_train[0].shape[0] == 12  # (12, T_i)
    with pytest.raises(ValueError, match="layout='channels_first'"):
        KNeighborsSequenceClassifier().fit(X_train, y_train)
    jv = load_japanese_vowels()
    for a, b in zip(from_aeon(X_train), jv.X_train):
        np.testing.assert_array_equal(a, b)
    clf = KNeighborsSequenceClassifier(metric="dtw", layout="channels_first")
    pred = clf.fit(X_train, y_train).predict(X_test)
    own = KNeighborsSequenceClassifier(metric="dtw").fit(jv.X_train, jv.y_train).predict(
        jv.X_test)
    np.testing.assert_array_equal(pred.astype(int), own)


def test_channels_first_dataframe_records_no_feature_names():
    """A wide (n, T) table read channels first holds n univariate series: its columns are
    time points, so a query table with other columns (another T) must work."""
    pd = pytest.importorskip("pandas")
    from seqot.subspace import MeanPooling

    rng = np.random.default_rng(4)
    fit = pd.DataFrame(rng.normal(size=(5, 10)), columns=[f"t{i}" for i in range(10)])
    query = pd.DataFrame(rng.normal(size=(3, 12)), columns=[f"t{i}" for i in range(12)])
    est = MeanPooling(layout="channels_first").fit(fit)
    assert not hasattr(est, "feature_names_in_") and est.n_features_in_ == 1
    np.testing.assert_allclose(est.transform(query),
                               MeanPooling(layout="channels_first").fit(
                                   fit.to_numpy()).transform(query.to_numpy()))


def test_empty_channels_first_collection_says_empty():
    with pytest.raises(ValueError, match="empty"):
        check_sequences([], layout="channels_first")
