"""Property-based tests of the input contract, :func:`seqot.utils.check_sequences`.

Malformed input must raise a clean ``ValueError``/``TypeError`` (raised by seqot, naming the
problem); valid input of any scale and dtype must round-trip exactly.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqot.utils import check_frame_weights, check_sequence, check_sequences

from _hypothesis_utils import (
    MALFORMED_KINDS,
    assert_clean_error,
    malformed_collections,
    seeds,
    sequence_collections,
    to_nan_padded,
)


# ---------------------------------------------------------------------------
# malformed input
# ---------------------------------------------------------------------------
@given(malformed_collections())
def test_malformed_collections_raise_clean_errors(case):
    kind, X = case
    with pytest.raises((ValueError, TypeError)) as exc_info:
        check_sequences(X)
    assert_clean_error(exc_info, match=MALFORMED_KINDS[kind])


@pytest.mark.parametrize("kind", sorted(MALFORMED_KINDS))
@settings(max_examples=5)
@given(data=st.data())
def test_every_malformed_kind_raises_clean_error(kind, data):
    _, X = data.draw(malformed_collections(kinds=[kind]))
    with pytest.raises((ValueError, TypeError)) as exc_info:
        check_sequences(X)
    assert_clean_error(exc_info, match=MALFORMED_KINDS[kind])


@given(malformed_collections(kinds=["nan_inside", "inf_inside", "zero_length", "mixed_dims"]))
def test_malformed_error_names_the_sequence(case):
    kind, X = case
    with pytest.raises(ValueError) as exc_info:
        check_sequences(X)
    assert_clean_error(exc_info, match=r"sequence \d+")


@given(sequence_collections(max_n=4, max_len=6), st.sampled_from([np.nan, np.inf, -np.inf]),
       seeds)
def test_nonfinite_value_in_torch_or_padded_input_is_rejected(seqs, val, seed):
    rng = np.random.default_rng(seed)
    i = int(rng.integers(len(seqs)))
    t = int(rng.integers(len(seqs[i])))
    f = int(rng.integers(seqs[i].shape[1]))
    seqs = [s.copy() for s in seqs]
    seqs[i][t, f] = val
    Xp = to_nan_padded(seqs)
    whole_trailing = np.isnan(val) and np.isnan(Xp[i, t:]).all()
    with pytest.raises(ValueError) as exc_info:
        check_sequences([torch.as_tensor(s) for s in seqs])
    assert_clean_error(exc_info, match=r"NaN|infinity")
    # nested Python lists read like np.asarray: equal lengths make a 3-D array, where a
    # whole trailing NaN frame is padding
    nested = [s.tolist() for s in seqs]
    if whole_trailing and t > 0:
        try:
            batch = check_sequences(nested)
        except ValueError as exc:  # ragged lists: univariate sequences, NaN is not padding
            assert_clean_error(exc, match=r"NaN|infinity")
        else:
            assert batch.lengths[i] == t
    else:
        with pytest.raises(ValueError) as exc_info:
            check_sequences(nested)
        assert_clean_error(exc_info, match=r"NaN|infinity|padding|zero length")
    # 3-D: NaN is padding only as whole trailing frames
    for X in (Xp, torch.as_tensor(Xp)):
        if whole_trailing and t > 0:  # a whole-NaN trailing frame is padding
            assert check_sequences(X).lengths[i] == t
            continue
        with pytest.raises(ValueError) as exc_info:
            check_sequences(X)
        assert_clean_error(exc_info, match=r"NaN|infinity|padding|zero length")


@pytest.mark.parametrize("X, match", [
    ([], "empty"),
    (np.zeros((0, 4, 2)), "empty"),
    (torch.zeros((0, 4, 2)), "empty"),
    (torch.zeros((0, 2)), "empty"),
    (torch.zeros((2, 0, 2)), "zero length"),
    (torch.zeros((2, 3, 0)), "feature"),
    ([torch.zeros((0, 2))], "zero length"),
    ([torch.zeros((3, 2)), np.zeros((3, 3))], "features"),
    (np.array([np.zeros((2, 2)), np.zeros((3, 2))], dtype=object)[:, None], "object array"),
    (np.empty((2, 2), dtype=object), "None"),
    ([None, None], "None"),
    ([np.zeros((2, 2)), None], "None"),
    (None, "numeric|dimension|None"),
    ("abc", "numeric|dimension"),
    (5.0, "dimension"),
    ([torch.zeros(())], "scalar"),
    ([torch.zeros((2, 2, 2))], "dimension"),
])
def test_malformed_examples_raise_clean_errors(X, match):
    with pytest.raises((ValueError, TypeError)) as exc_info:
        check_sequences(X)
    assert_clean_error(exc_info, match=match)


def test_n_features_mismatch_names_the_dimension():
    with pytest.raises(ValueError) as exc_info:
        check_sequences([np.zeros((3, 2))], n_features=3)
    assert_clean_error(exc_info, match="features")


@pytest.mark.parametrize("min_length", [2, 5])
def test_min_length_is_enforced(min_length):
    with pytest.raises(ValueError) as exc_info:
        check_sequences([np.zeros((8, 2)), np.zeros((1, 2))], min_length=min_length)
    assert_clean_error(exc_info, match="sequence 1")


def test_check_sequence_rejects_a_collection():
    with pytest.raises(ValueError) as exc_info:
        check_sequence(np.zeros((2, 3, 2)))
    assert_clean_error(exc_info, match="one sequence")


# ---------------------------------------------------------------------------
# valid input round-trips
# ---------------------------------------------------------------------------
@given(sequence_collections())
def test_list_round_trip(seqs):
    batch = check_sequences(seqs)
    assert batch.n_sequences == len(seqs)
    assert batch.dtype == np.float64
    np.testing.assert_array_equal(batch.lengths, [len(s) for s in seqs])
    for s, out in zip(seqs, batch.to_list()):
        np.testing.assert_array_equal(out, s)
    # padding is zeros
    assert not batch.data[~batch.mask].any()


@given(sequence_collections())
def test_nan_padded_round_trip(seqs):
    Xp = to_nan_padded(seqs)
    for X in (Xp, torch.as_tensor(Xp)):
        batch = check_sequences(X).to_numpy()
        np.testing.assert_array_equal(batch.lengths, [len(s) for s in seqs])
        for s, out in zip(seqs, batch.to_list()):
            np.testing.assert_array_equal(out, s)
        np.testing.assert_array_equal(check_sequences(X).to_numpy().to_nan_padded(), Xp)


@given(sequence_collections())
def test_torch_list_round_trip_keeps_gradients(seqs):
    ts = [torch.tensor(s, requires_grad=True) for s in seqs]
    batch = check_sequences(ts)
    assert batch.is_torch and batch.data.dtype == torch.float64
    batch.data.sum().backward()
    for t in ts:
        assert torch.all(t.grad == 1)


@given(sequence_collections(max_len=1))
def test_two_d_rows_are_length_one_sequences(seqs):
    X = np.concatenate(seqs, axis=0)
    for Xin in (X, torch.as_tensor(X), X.tolist()):
        batch = check_sequences(Xin).to_numpy()
        assert batch.max_length == 1
        np.testing.assert_array_equal(batch.lengths, np.ones(len(seqs)))
        np.testing.assert_array_equal(batch.data[:, 0], X)


@given(sequence_collections(), st.sampled_from([np.float16, np.float32, np.int64, np.int8,
                                                np.bool_, np.uint8]))
def test_dtype_policy(seqs, dtype):
    seqs = [np.clip(s, -6e4, 6e4).astype(dtype) if dtype != np.bool_ else s > 0 for s in seqs]
    batch = check_sequences(seqs)
    expected = np.float32 if dtype in (np.float16, np.float32) else np.float64
    assert batch.dtype == expected
    for s, out in zip(seqs, batch.to_list()):
        np.testing.assert_array_equal(out, s.astype(expected))


@given(sequence_collections(), st.sampled_from([torch.float16, torch.bfloat16, torch.int32,
                                                torch.float32]))
def test_torch_dtype_policy(seqs, dtype):
    ts = [torch.as_tensor(np.clip(s, -6e4, 6e4)).to(dtype) for s in seqs]
    batch = check_sequences(ts)
    expected = torch.float64 if dtype == torch.int32 else torch.float32
    assert batch.data.dtype == expected
    assert torch.isfinite(batch.data).all()


@given(sequence_collections(scale=1e8), st.sampled_from([np.float32, np.float64]))
def test_extreme_scale_is_kept(seqs, dtype):
    seqs = [s.astype(dtype) for s in seqs]
    batch = check_sequences(seqs)
    for s, out in zip(seqs, batch.to_list()):
        np.testing.assert_array_equal(out, s)


def test_object_array_of_numbers_is_numeric():
    batch = check_sequences([np.arange(6).reshape(3, 2).astype(object)])
    assert batch.dtype == np.float64
    np.testing.assert_array_equal(batch.data[0], np.arange(6).reshape(3, 2))


def test_two_d_object_array_of_sequences_is_a_clean_error():
    """Regression: a (n, 1) object array of sequences reached np.isfinite (raw TypeError)."""
    X = np.array([np.zeros((2, 2)), np.zeros((3, 2))], dtype=object)[:, None]
    with pytest.raises(ValueError) as exc_info:
        check_sequences(X)
    assert_clean_error(exc_info, match="object array")


def test_object_array_of_none_is_a_clean_error():
    """Regression: None in an object array became NaN and was reported as 'NaN or infinity'."""
    with pytest.raises(TypeError) as exc_info:
        check_sequences(np.empty((2, 3), dtype=object))
    assert_clean_error(exc_info, match="None")


def test_float16_overflow_to_inf_is_rejected():
    """float16 holds at most 65504: a value cast to inf is infinity inside the sequence."""
    x = np.array([[1.0], [np.inf]], dtype=np.float16)
    with pytest.raises(ValueError) as exc_info:
        check_sequences([x])
    assert_clean_error(exc_info, match="infinity")


# ---------------------------------------------------------------------------
# frame weights
# ---------------------------------------------------------------------------
@st.composite
def _bad_weights(draw):
    seqs = draw(sequence_collections(max_n=3, max_len=5))
    lens = [len(s) for s in seqs]
    kind = draw(st.sampled_from(["count", "length", "negative", "nan", "zero", "inf", "2d"]))
    w = [np.ones(t) for t in lens]
    i = draw(st.integers(0, len(lens) - 1))
    if kind == "count":
        w = w + [np.ones(2)]
        match = "entries"
    elif kind == "length":
        w[i] = np.ones(lens[i] + 1)
        match = "entries"
    elif kind == "negative":
        w[i][0] = -1.0
        match = "non-negative"
    elif kind == "nan":
        w[i][0] = np.nan
        match = "finite"
    elif kind == "inf":
        w[i][0] = np.inf
        match = "finite"
    elif kind == "2d":
        w[i] = np.ones((lens[i], 2))
        match = "entries|shape|dimension"
    else:
        w[i] = np.zeros(lens[i])
        match = "zero"
    return seqs, w, match


@given(_bad_weights())
def test_bad_frame_weights_raise_clean_errors(case):
    seqs, w, match = case
    batch = check_sequences(seqs)
    with pytest.raises(ValueError) as exc_info:
        check_frame_weights(w, batch)
    assert_clean_error(exc_info, match=match)


@given(sequence_collections(max_n=3, max_len=5), seeds)
def test_frame_weights_normalise(seqs, seed):
    rng = np.random.default_rng(seed)
    batch = check_sequences(seqs)
    w = [rng.uniform(0, 1e8, len(s)) + 1e-300 for s in seqs]
    out = check_frame_weights(w, batch)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(1), 1.0)
    assert not out[~batch.mask].any()


def test_frame_weights_of_wrong_type_raise_clean_error():
    """Regression: a scalar ``weights`` raised a raw TypeError from ``len()``."""
    batch = check_sequences([np.zeros((2, 1))])
    for w in (5.0, [["a", "b"]], [None]):
        with pytest.raises((ValueError, TypeError)) as exc_info:
            check_frame_weights(w, batch)
        assert_clean_error(exc_info, match="weights")
