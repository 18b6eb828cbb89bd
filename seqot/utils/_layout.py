"""Converters between seqot's time-first sequences and aeon's / sktime's channels-first ones.

aeon and sktime (``numpy3D``) hold a collection as ``(n_cases, n_channels, n_timepoints)``
and an unequal-length one as a list of ``(n_channels, T_i)`` arrays; seqot, like tslearn,
holds frames in rows: ``(n, T, d)`` and ``(T_i, d)``. Every estimator also reads the aeon
form directly with ``layout="channels_first"``.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_sequences

__all__ = ["from_aeon", "to_aeon"]


def from_aeon(X):
    """An aeon/sktime collection as seqot sequences.

    Parameters
    ----------
    X : array-like of shape (n, d, T) or (n, T), or list of array-like of shape (d, T_i)
        Channels first; a 2-D array holds ``n`` univariate series.

    Returns
    -------
    ndarray of shape (n, T, d) when every series has the same length, else a list of
    ``(T_i, d)`` arrays (torch tensors stay tensors, on their device).

    Raises
    ------
    ValueError
        As :func:`seqot.utils.check_sequences` does (NaN inside a series, mismatched
        channel counts, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.utils import from_aeon
    >>> from_aeon(np.zeros((4, 6, 100))).shape
    (4, 100, 6)
    >>> [x.shape for x in from_aeon([np.zeros((12, 20)), np.zeros((12, 7))])]
    [(20, 12), (7, 12)]
    """
    batch = check_sequences(X, layout="channels_first")
    lengths = [int(t) for t in batch.lengths.tolist()]
    if len(set(lengths)) == 1:
        return batch.data
    return batch.to_list()


def to_aeon(X, *, layout="time_first"):
    """seqot sequences as an aeon/sktime collection (numpy, channels first).

    Parameters
    ----------
    X : sequences
        Any form :func:`seqot.utils.check_sequences` reads (in ``layout``).
    layout : {"time_first", "channels_first"}, default="time_first"

    Returns
    -------
    ndarray of shape (n, d, T) when every sequence has the same length, else a list of
    ``(d, T_i)`` arrays: aeon's ``numpy3D`` and ``np-list`` forms.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.utils import to_aeon
    >>> to_aeon(np.zeros((4, 100, 6))).shape
    (4, 6, 100)
    """
    batch = check_sequences(X, layout=layout).to_numpy()
    lengths = batch.lengths.tolist()
    if len(set(lengths)) == 1:
        return np.ascontiguousarray(np.swapaxes(batch.data, 1, 2))
    return [np.ascontiguousarray(x.T) for x in batch.to_list()]
