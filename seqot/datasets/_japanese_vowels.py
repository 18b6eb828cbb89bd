"""The UCI/UEA JapaneseVowels speaker-identification data, bundled as a compressed .npz."""

from __future__ import annotations

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_japanese_vowels"]

_DESCR = """\
JapaneseVowels (UCI Machine Learning Repository; UEA multivariate time-series archive)
------------------------------------------------------------------------------------
Nine male speakers uttered the Japanese vowels /ae/ in succession. Each utterance was
analysed by 12-degree linear prediction, giving one 12-D vector of LPC cepstrum
coefficients per frame. The task is to identify the speaker.

* classes: 9 speakers, labelled 1..9
* train: 270 utterances (30 per speaker); test: 370 utterances (24..88 per speaker)
* frames: 12 features; lengths 7..29 (the archive's zero padding is removed)

Converted once from the UEA ``.ts`` files distributed inside the sktime/aeon wheels
(tools/convert_japanese_vowels.py); no network access is needed.

References
----------
M. Kudo, J. Toyama and M. Shimbo. Multidimensional curve classification using
passing-through regions. Pattern Recognition Letters 20(11-13):1103-1111, 1999.

A. Bagnall et al. The UEA multivariate time series classification archive, 2018.
arXiv:1811.00075.
"""


def _split(frames, lengths):
    return np.split(frames, np.cumsum(lengths)[:-1])


def load_japanese_vowels(*, dtype=np.float64):
    """Load the JapaneseVowels speaker-identification data set (bundled, offline).

    Parameters
    ----------
    dtype : numpy float dtype, default=np.float64
        dtype of the returned frames.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (list of 270 arrays of shape ``(T_i, 12)``), ``y_train`` (270,),
        ``X_test`` (list of 370 arrays), ``y_test`` (370,), ``target_names`` (the speakers
        1..9), ``feature_names`` and ``DESCR``.

    Notes
    -----
    Published 1-NN accuracies on the test split: about 0.949 with DTW and 0.951 with an
    order-blind exact EMD between frame sets.

    References
    ----------
    .. [1] M. Kudo, J. Toyama and M. Shimbo. Multidimensional curve classification using
       passing-through regions. Pattern Recognition Letters 20(11-13):1103-1111, 1999.

    Examples
    --------
    >>> from seqot.datasets import load_japanese_vowels
    >>> jv = load_japanese_vowels()
    >>> len(jv.X_train), len(jv.X_test), jv.X_train[0].shape[1]
    (270, 370, 12)
    """
    path = resources.files("seqot.datasets").joinpath("data/japanese_vowels.npz")
    with resources.as_file(path) as p, np.load(p, allow_pickle=False) as f:
        X_train = [x.astype(dtype) for x in _split(f["X_train"], f["lengths_train"])]
        X_test = [x.astype(dtype) for x in _split(f["X_test"], f["lengths_test"])]
        y_train, y_test = f["y_train"].copy(), f["y_test"].copy()
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=np.arange(1, 10),
        feature_names=[f"lpc_{k}" for k in range(1, 13)],
        DESCR=_DESCR,
    )
