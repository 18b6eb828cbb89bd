"""The sequence input contract: every accepted form and every error path."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator

from seqot.utils import (
    SequenceBatch,
    check_frame_weights,
    check_positive,
    check_sequences,
    resolve_device,
    seed_from_random_state,
    torch_generator,
    validate_sequences,
    validate_sequences_targets,
)


def ragged(seed=0, n=4, d=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(T), d)) for T in rng.integers(2, 9, size=n)]


def nan_pad(X, extra=0):
    T = max(len(x) for x in X) + extra
    out = np.full((len(X), T, X[0].shape[1]), np.nan)
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return out


# ---------------------------------------------------------------------------
# accepted forms
# ---------------------------------------------------------------------------
def test_ragged_list_is_padded_with_zeros_and_lengths():
    X = ragged()
    b = check_sequences(X)
    assert isinstance(b, SequenceBatch)
    assert b.data.shape == (4, max(map(len, X)), 3)
    np.testing.assert_array_equal(b.lengths, [len(x) for x in X])
    for i, x in enumerate(X):
        np.testing.assert_array_equal(b.data[i, : len(x)], x)
        assert np.all(b.data[i, len(x):] == 0)
    np.testing.assert_array_equal(b.mask.sum(1), b.lengths)
    for x, back in zip(X, b.to_list()):
        np.testing.assert_array_equal(x, back)


def test_nan_padded_3d_equals_list():
    X = ragged(1)
    a, b = check_sequences(X), check_sequences(nan_pad(X, extra=3))
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.data, b.data[:, : a.max_length])
    assert np.all(b.data[:, a.max_length:] == 0)
    np.testing.assert_array_equal(b.to_nan_padded()[:, : a.max_length], nan_pad(X))


def test_2d_is_length_one_sequences():
    X = np.arange(12.0).reshape(4, 3)
    b = check_sequences(X)
    assert b.data.shape == (4, 1, 3)
    np.testing.assert_array_equal(b.lengths, 1)


def test_1d_elements_are_univariate():
    b = check_sequences([np.arange(3.0), np.arange(5.0)])
    assert b.data.shape == (2, 5, 1)
    np.testing.assert_array_equal(b.lengths, [3, 5])


def test_nested_lists_keep_sklearn_meaning():
    X = np.random.default_rng(0).normal(size=(5, 4))
    b = check_sequences(X.tolist())
    assert b.data.shape == (5, 1, 4)
    X3 = np.random.default_rng(0).normal(size=(5, 6, 2))
    assert check_sequences(X3.tolist()).data.shape == (5, 6, 2)
    # ragged nested lists of numbers can only be univariate sequences
    b = check_sequences([[1.0, 2.0], [1.0, 2.0, 3.0]])
    assert b.data.shape == (2, 3, 1)


def test_object_array_of_sequences():
    X = ragged(2)
    obj = np.empty(len(X), dtype=object)
    obj[:] = X
    np.testing.assert_array_equal(check_sequences(obj).data, check_sequences(X).data)


def test_tuple_and_array_like():
    class ArrayLike:
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    X = np.ones((3, 2))
    assert check_sequences(ArrayLike(X)).data.shape == (3, 1, 2)
    assert check_sequences(tuple(ragged())).n_sequences == 4


def test_dtypes():
    X = ragged()
    assert check_sequences([x.astype(np.float32) for x in X]).dtype == np.float32
    assert check_sequences(X).dtype == np.float64
    assert check_sequences([x.astype(np.float16) for x in X]).dtype == np.float32
    assert check_sequences([np.ones((3, 2), dtype=int)]).dtype == np.float64
    # mixed float32/float64 promotes
    assert check_sequences([X[0].astype(np.float32), X[1]]).dtype == np.float64
    assert check_sequences(X, dtype=np.float32).dtype == np.float32


def test_torch_in_torch_out_keeps_autograd():
    X = [torch.randn(4, 3, requires_grad=True), torch.randn(6, 3, requires_grad=True)]
    b = check_sequences(X)
    assert b.is_torch and b.data.shape == (2, 6, 3)
    b.data.sum().backward()
    assert torch.all(X[0].grad == 1) and torch.all(X[1].grad == 1)
    Xt = torch.tensor(nan_pad(ragged()), dtype=torch.float32)
    bt = check_sequences(Xt)
    assert bt.is_torch and bt.dtype == torch.float32
    np.testing.assert_array_equal(bt.lengths.numpy(), check_sequences(ragged()).lengths)
    assert check_sequences(torch.ones(3, 2)).data.shape == (3, 1, 2)


def test_device_conversion_and_batch_roundtrip():
    b = check_sequences(ragged(), device="cpu")
    assert b.is_torch and b.data.device.type == "cpu"
    back = b.to_numpy()
    np.testing.assert_array_equal(back.data, check_sequences(ragged()).data)
    sub = back.take([1, 3])
    assert sub.max_length == max(back.lengths[[1, 3]])
    # an already validated batch passes through
    assert check_sequences(back).data is back.data


# ---------------------------------------------------------------------------
# every error path, each naming the sequence and the problem
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, match",
    [
        ([], "empty"),
        (np.empty((0, 3)), "0 sample"),
        (np.empty((0, 4, 3)), "empty"),
        (np.empty((3, 0)), r"0 feature\(s\)"),
        (np.empty((2, 4, 0)), r"0 feature\(s\)"),
        ([np.ones((3, 2)), np.ones((0, 2))], "sequence 1 of X has zero length"),
        ([np.ones((3, 2)), np.ones((4, 5))], "sequence 1 of X has 5 features, but sequence 0 has 2"),
        ([np.ones((3, 2)), np.array([[1.0, np.nan]])], r"sequence 1 of X contains NaN.*frame 0"),
        ([np.ones((3, 2)), np.array([[1.0, 2], [np.inf, 0]])], r"sequence 1 .*frame 1"),
        (np.ones(5), "1 dimension"),
        (np.ones((2, 2, 2, 2)), "4 dimension"),
        ([np.ones((3, 2)), np.ones((2, 2, 2))], r"X\[1\] has 3 dimensions"),
        ([np.ones((3, 2)), np.float64(3.0)], r"X\[1\] is a scalar"),
        (np.ones((3, 2)) + 1j, "Complex"),
        (np.array([[1.0, np.nan], [1, 2]]), "sequence 0 of X .*contains NaN"),
        (torch.ones(4), "1-D tensor"),
    ],
)
def test_bad_input_raises_value_error(X, match):
    with pytest.raises(ValueError, match=match):
        check_sequences(X)


def test_nan_padding_errors():
    X = nan_pad(ragged(), extra=2)
    bad = X.copy()
    bad[2] = np.nan
    with pytest.raises(ValueError, match="sequence 2 of X has zero length"):
        check_sequences(bad)
    gap = X.copy()
    gap[1, 0] = np.nan  # an all-NaN frame before real ones
    with pytest.raises(ValueError, match="sequence 1 of X has an all-NaN frame at 0"):
        check_sequences(gap)
    partial = X.copy()
    partial[3, 1, 0] = np.nan  # one NaN value inside a real frame
    with pytest.raises(ValueError, match=r"sequence 3 of X contains NaN.*frame 1"):
        check_sequences(partial)
    inf = X.copy()
    inf[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="sequence 0 of X contains NaN or infinity"):
        check_sequences(inf)
    with pytest.raises(ValueError, match="sequence 3 of X contains NaN"):
        check_sequences(torch.tensor(partial))
    with pytest.raises(ValueError, match="sequence 2 of X has zero length"):
        check_sequences(torch.tensor(bad))


def test_torch_list_errors():
    with pytest.raises(ValueError, match="sequence 1 of X contains NaN"):
        check_sequences([torch.ones(3, 2), torch.tensor([[1.0, float("nan")]])])
    with pytest.raises(ValueError, match="row 1"):
        check_sequences(torch.tensor([[1.0, 2.0], [float("inf"), 0.0]]))
    # +inf and -inf in different sequences: their total is NaN, and the error names the first
    with pytest.raises(ValueError, match=r"sequence 1 of X contains NaN or infinity \(first at "
                                         r"frame 2\)"):
        check_sequences([torch.ones(2, 1), torch.tensor([[0.0], [1.0], [float("inf")]]),
                         torch.tensor([[-float("inf")]])])


def test_torch_list_of_huge_finite_values_is_accepted():
    """The batch-wide finiteness test overflows here (3e38 + 3e38 = inf in float32); the
    per-sequence test must then clear the input, not reject it."""
    big = torch.full((3, 2), 3e38)
    batch = check_sequences([big, -big[:2], big[:1]])
    assert torch.equal(batch.data[0], big)
    assert batch.lengths.tolist() == [3, 2, 1]


def test_type_errors():
    with pytest.raises(TypeError, match="sparse"):
        check_sequences(sp.csr_matrix(np.ones((3, 2))))
    with pytest.raises(ValueError, match=r"X\[0\] is not numeric"):
        check_sequences([np.array([["a", "b"]], dtype=object)])


def test_n_features_and_min_length():
    with pytest.raises(ValueError, match="X has 3 features, but Foo is expecting 4 features"):
        check_sequences(ragged(), n_features=4, estimator_name="Foo")
    with pytest.raises(ValueError, match=r"sequence \d+ of X has \d frame\(s\); at least 20"):
        check_sequences(ragged(), min_length=20)


def test_input_name_in_messages():
    with pytest.raises(ValueError, match="sequence 0 of Y has zero length"):
        check_sequences([np.ones((0, 2))], input_name="Y")


# ---------------------------------------------------------------------------
# frame weights, estimator helpers, scalars
# ---------------------------------------------------------------------------
def test_frame_weights():
    X = ragged()
    b = check_sequences(X)
    w = check_frame_weights(None, b)
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert np.all(w[~b.mask] == 0)
    given = [np.arange(1, len(x) + 1) for x in X]
    w = check_frame_weights(given, b)
    np.testing.assert_allclose(w[0, : len(X[0])], given[0] / given[0].sum())
    with pytest.raises(ValueError, match=r"weights\[1\] has"):
        check_frame_weights([given[0], given[0][:1]] + given[2:], b)
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite and non-negative"):
        check_frame_weights([-g for g in given], b)
    with pytest.raises(ValueError, match=r"weights\[0\] sums to zero"):
        check_frame_weights([0 * g for g in given], b)
    with pytest.raises(ValueError, match="3 entries but there are 4"):
        check_frame_weights(given[:3], b)
    wt = check_frame_weights(None, b.to_torch())
    assert isinstance(wt, torch.Tensor)


class _Est(BaseEstimator):
    pass


def test_validate_sequences_sets_and_checks_n_features():
    est = _Est()
    validate_sequences(est, ragged(), reset=True)
    assert est.n_features_in_ == 3
    with pytest.raises(ValueError, match="X has 2 features, but _Est is expecting 3"):
        validate_sequences(est, [np.ones((2, 2))], reset=False)


def test_validate_targets():
    est = _Est()
    X = ragged()
    with pytest.raises(ValueError, match="requires y"):
        validate_sequences_targets(est, X, None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        validate_sequences_targets(est, X, [0, 1])
    with pytest.raises(ValueError, match="at least 2 classes in y; got 1 class: 1"):
        validate_sequences_targets(est, X, [1, 1, 1, 1])
    with pytest.raises(ValueError, match="Unknown label type"):
        validate_sequences_targets(est, X, [0.1, 0.2, 0.3, 0.4])
    _, y = validate_sequences_targets(est, X, ["a", "b", "a", "b"])
    assert list(est.classes_) == ["a", "b"]


@pytest.mark.parametrize("value", [0, -1.0, np.nan, np.inf, "1", True, None])
def test_check_positive_rejects(value):
    with pytest.raises(ValueError, match="reg must be a finite number > 0"):
        check_positive(value, "reg")


def test_check_positive_accepts():
    assert check_positive(0.5, "reg") == 0.5
    assert check_positive(0, "rho", strict=False) == 0
    assert check_positive(None, "reg", allow_none=True) is None


def test_devices_and_generators():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="not a device"):
        resolve_device("gpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
    assert seed_from_random_state(3) == seed_from_random_state(3)
    assert seed_from_random_state(3) != seed_from_random_state(4)
    g1, g2 = torch_generator(0), torch_generator(0)
    assert torch.equal(torch.rand(5, generator=g1), torch.rand(5, generator=g2))
    # no global state touched
    state = torch.get_rng_state().clone()
    np_state = np.random.get_state()[1].copy()
    torch.rand(3, generator=torch_generator(None))
    seed_from_random_state(None)
    assert torch.equal(state, torch.get_rng_state())
    assert np.array_equal(np_state, np.random.get_state()[1])


def test_check_sequence_takes_exactly_one_sequence():
    from seqot.utils import check_sequence

    b = check_sequence(np.arange(5.0))
    assert b.data.shape == (1, 5, 1)
    assert check_sequence(np.ones((4, 3))).data.shape == (1, 4, 3)
    with pytest.raises(ValueError, match="y must be one sequence of shape"):
        check_sequence(np.ones((2, 3, 4)), name="y")
    with pytest.raises(ValueError, match="y has 2 features, but the estimator is expecting 3"):
        check_sequence(np.ones((4, 2)), name="y", n_features=3)
    with pytest.raises(ValueError, match="sequence 0 of x contains NaN"):
        check_sequence(np.array([[1.0, np.nan]]))
