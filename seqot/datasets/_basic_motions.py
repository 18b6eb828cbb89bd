"""The UEA BasicMotions activity-recognition data, bundled as a compressed .npz."""

from __future__ import annotations

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from ..utils._param_validation import validate_params
from ._japanese_vowels import _DTYPE, _check_float_dtype

__all__ = ["load_basic_motions"]

_DESCR = """\
BasicMotions (UEA multivariate time-series archive)
---------------------------------------------------
Four students performed four activities (standing, walking, running, badminton) five times
each while wearing a smart watch, which recorded a 3-D accelerometer and a 3-D gyroscope at
10 Hz for 10 seconds.

* classes: 4 activities ("Badminton", "Running", "Standing", "Walking")
* train: 40 recordings (10 per class); test: 40 recordings (10 per class)
* frames: 6 channels (accelerometer x, y, z; gyroscope x, y, z); 100 frames each

Converted once from the UEA ``.ts`` files distributed inside the sktime/aeon wheels
(tools/convert_basic_motions.py); no network access is needed. seqot holds the frames in
rows, ``(T, d)``: aeon's and sktime's copies are ``(d, T)`` (see
:func:`seqot.utils.from_aeon` and ``layout="channels_first"``).

References
----------
A. Bagnall et al. The UEA multivariate time series classification archive, 2018.
arXiv:1811.00075.
"""

_CHANNELS = ["accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z"]


@validate_params({"dtype": _DTYPE}, prefer_skip_nested_validation=True)
def load_basic_motions(*, dtype=np.float64):
    """Load the BasicMotions activity-recognition data set (bundled, offline).

    Parameters
    ----------
    dtype : numpy float dtype, default=np.float64
        dtype of the returned frames.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (array of shape ``(40, 100, 6)``, time first), ``y_train`` (40,) class
        names, ``X_test`` ``(40, 100, 6)``, ``y_test`` (40,), ``target_names``,
        ``feature_names`` and ``DESCR``.

    Notes
    -----
    1-NN with (squared-Euclidean) DTW classifies 39 of the 40 test recordings correctly
    (0.975), as in the archive's published results.

    References
    ----------
    .. [1] A. Bagnall et al. The UEA multivariate time series classification archive, 2018.
       arXiv:1811.00075.

    Examples
    --------
    >>> from seqot.datasets import load_basic_motions
    >>> bm = load_basic_motions()
    >>> bm.X_train.shape, bm.X_test.shape
    ((40, 100, 6), (40, 100, 6))
    """
    dtype = _check_float_dtype(dtype)
    path = resources.files("seqot.datasets").joinpath("data/basic_motions.npz")
    with resources.as_file(path) as p, np.load(p, allow_pickle=False) as f:
        X_train, X_test = f["X_train"].astype(dtype), f["X_test"].astype(dtype)
        y_train, y_test = f["y_train"].astype(object), f["y_test"].astype(object)
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=np.unique(y_train),
        feature_names=list(_CHANNELS),
        DESCR=_DESCR,
    )
