"""The bundled JapaneseVowels data: shapes, lengths, classes, and that it is the real set;
the parameter checks of the bundled-data functions (JapaneseVowels, its videos, BasicMotions)."""

import numpy as np
import pytest

from seqot.datasets import load_basic_motions, load_japanese_vowels, make_japanese_vowels_videos
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


def test_shapes_lengths_classes():
    jv = load_japanese_vowels()
    assert len(jv.X_train) == 270 and len(jv.y_train) == 270
    assert len(jv.X_test) == 370 and len(jv.y_test) == 370
    lengths = [len(x) for x in jv.X_train + jv.X_test]
    assert min(lengths) == 7 and max(lengths) == 29
    assert all(x.ndim == 2 and x.shape[1] == 12 for x in jv.X_train + jv.X_test)
    assert all(np.isfinite(x).all() for x in jv.X_train + jv.X_test)
    assert set(np.unique(jv.y_train)) == set(range(1, 10))
    assert set(np.unique(jv.y_test)) == set(range(1, 10))
    np.testing.assert_array_equal(np.bincount(jv.y_train)[1:], 30)  # 30 per speaker
    np.testing.assert_array_equal(np.bincount(jv.y_test)[1:], [31, 35, 88, 44, 29, 24, 40, 50, 29])
    # the archive's zero padding is gone: no trailing all-zero frame
    assert not any(np.all(x[-1] == 0) for x in jv.X_train + jv.X_test)
    assert "Kudo" in jv.DESCR


def test_first_utterance_matches_archive():
    # the first training utterance starts with these LPC values in the UEA .ts file
    x = load_japanese_vowels().X_train[0]
    assert x.shape == (20, 12)
    np.testing.assert_allclose(x[:3, 0], [1.860936, 1.891651, 1.939205])
    np.testing.assert_allclose(x[0, 1], -0.207383)


def test_dtype_and_fresh_copies():
    a = load_japanese_vowels(dtype=np.float32)
    assert a.X_train[0].dtype == np.float32
    b = load_japanese_vowels()
    b.X_train[0][:] = 0
    assert not np.all(load_japanese_vowels().X_train[0] == 0)


_VALID_CALLS = [
    (load_japanese_vowels, {}),
    (load_basic_motions, {}),
    (make_japanese_vowels_videos, dict(n_videos=1, n_speakers=1, n_utterances=1, random_state=0)),
]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, kwargs in _VALID_CALLS for c in function_constraint_cases(func, (), kwargs)])
def test_parameter_constraints(case):
    check_function_constraint(*case)


# what the declared constraints cannot say: that a dtype of an accepted type is a float dtype,
# the content of a (low, high) pair, and the bounds set by the data itself
@pytest.mark.parametrize("func, kwargs, match", [
    (load_japanese_vowels, dict(dtype=np.int32), "dtype"),
    (load_japanese_vowels, dict(dtype="foo"), "dtype"),
    (load_basic_motions, dict(dtype=np.dtype("int64")), "dtype"),
    (load_basic_motions, dict(dtype=int), "dtype"),
    (make_japanese_vowels_videos, dict(dtype="int16"), "dtype"),
    (make_japanese_vowels_videos, dict(n_speakers=10), "n_speakers"),
    (make_japanese_vowels_videos, dict(n_speakers=(2, 10)), "at most 9"),
    (make_japanese_vowels_videos, dict(n_speakers=(3, 2)), "low <= high"),
    (make_japanese_vowels_videos, dict(n_speakers=(0, 2)), "n_speakers"),
    (make_japanese_vowels_videos, dict(n_utterances=(1, 2, 3)), "n_utterances"),
    (make_japanese_vowels_videos, dict(n_utterances=(1.0, 2)), "n_utterances"),
    (make_japanese_vowels_videos, dict(n_utterances=1000), "n_utterances exceeds"),
])
def test_bad_parameters(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


def test_videos_with_a_float32_dtype_and_ranges():
    X, y = make_japanese_vowels_videos(n_videos=2, n_speakers=[9, 9], n_utterances=np.array([1, 2]),
                                       dtype="float32", random_state=0)
    assert all(x.dtype == np.float32 for x in X)
    assert all(np.unique(t).size == 9 for t in y)
