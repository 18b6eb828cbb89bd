"""The bundled JapaneseVowels data: shapes, lengths, classes, and that it is the real set."""

import numpy as np

from seqot.datasets import load_japanese_vowels


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
