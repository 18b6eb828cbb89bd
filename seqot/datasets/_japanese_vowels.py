"""The UCI/UEA JapaneseVowels speaker-identification data, bundled as a compressed .npz."""

from __future__ import annotations

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from ..utils._param_validation import POSITIVE_INT, RANDOM_STATE, validate_params
from ._synthetic import _check_int_range, _check_rng, _int_or_range

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


#: What a ``dtype`` argument may be (a scalar type such as ``np.float32``, a ``np.dtype`` or
#: a name); :func:`_check_float_dtype` then checks that it names a float dtype.
_DTYPE = [type, np.dtype, str]


def _check_float_dtype(dtype):
    """``dtype`` as a numpy float dtype: the kind check that the type-level :data:`_DTYPE`
    constraint cannot make (``np.int32`` and ``"foo"`` are of the accepted types)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dtype is None or dt is None or dt.kind != "f":
        raise ValueError(f"dtype must be a numpy float dtype (e.g. np.float32, np.float64); "
                         f"got {dtype!r}.")
    return dt


def _split(frames, lengths):
    return np.split(frames, np.cumsum(lengths)[:-1])


@validate_params({"dtype": _DTYPE}, prefer_skip_nested_validation=True)
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
    dtype = _check_float_dtype(dtype)
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


@validate_params(
    {"n_videos": POSITIVE_INT, "n_speakers": _int_or_range(1, 9),
     "n_utterances": _int_or_range(1), "dtype": _DTYPE, "random_state": RANDOM_STATE},
    prefer_skip_nested_validation=True,
)
def make_japanese_vowels_videos(n_videos=30, *, n_speakers=(3, 5), n_utterances=(3, 6),
                                dtype=np.float64, random_state=None):
    """Untrimmed "videos" made of JapaneseVowels utterances, labelled by speaker per frame.

    A real-data stand-in for action segmentation: each video chains ``n_speakers`` distinct
    speakers (drawn from the 9, in random order), each speaking ``n_utterances`` utterances of
    /ae/ back to back (drawn without replacement from the training and test sets pooled), so a
    video is a sequence of speaker segments of 20 to 170 frames of 12-D LPC cepstra, with no
    canonical order and with each video using a subset of the speakers.

    Parameters
    ----------
    n_videos : int, default=30
    n_speakers : int or (int, int), default=(3, 5)
        Speakers (segments) per video, or an inclusive range drawn per video.
    n_utterances : int or (int, int), default=(3, 6)
        Utterances per segment, or an inclusive range drawn per segment.
    dtype : numpy float dtype, default=np.float64
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState

    Returns
    -------
    X : list of (N_i, 12) arrays
    y : list of (N_i,) int arrays
        Speaker index 0..8 of every frame.

    Examples
    --------
    >>> from seqot.datasets import make_japanese_vowels_videos
    >>> X, y = make_japanese_vowels_videos(n_videos=2, random_state=0)
    >>> len(X), X[0].shape[1], len(X[0]) == len(y[0])
    (2, 12, True)
    """
    n_videos = int(n_videos)
    s_lo, s_hi = _check_int_range("n_speakers", n_speakers, 1)
    u_lo, u_hi = _check_int_range("n_utterances", n_utterances, 1)
    rng = _check_rng(random_state)
    if s_hi > 9:  # the constraint bounds an int; a pair's upper end is checked here
        raise ValueError(f"n_speakers must be at most 9 (the data has 9 speakers); got "
                         f"{n_speakers!r}.")
    data = load_japanese_vowels(dtype=dtype)
    X = data.X_train + data.X_test
    y = np.concatenate([data.y_train, data.y_test])
    speakers = np.unique(y)
    members = {s: np.flatnonzero(y == s) for s in speakers}
    if u_hi > min(len(m) for m in members.values()):
        raise ValueError(f"n_utterances exceeds the utterances of some speaker; got "
                         f"{n_utterances!r}.")
    videos, labels = [], []
    for _ in range(int(n_videos)):
        chosen = rng.choice(speakers, size=int(rng.integers(s_lo, s_hi + 1)), replace=False)
        frames, frame_labels = [], []
        for s in chosen:
            for i in rng.choice(members[s], size=int(rng.integers(u_lo, u_hi + 1)),
                                replace=False):
                frames.append(X[i])
                frame_labels.append(np.full(len(X[i]), int(np.searchsorted(speakers, s))))
        videos.append(np.concatenate(frames))
        labels.append(np.concatenate(frame_labels))
    return videos, labels
