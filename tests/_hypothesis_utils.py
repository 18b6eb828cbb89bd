"""Shared hypothesis strategies and assertions for seqot's property-based tests.

The contract every public entry point must honour: a call either works (finite output of the
right shape) or raises a ``ValueError``/``TypeError`` *from seqot's own code* whose message
names the problem. :func:`assert_clean_error` checks the second half; the strategies below
produce valid ragged collections and malformed variants of them.

Strategies return plain Python/numpy data so that the same draws can feed list, 3-D padded
and torch forms of the input.
"""

from __future__ import annotations

import os
import re

import numpy as np
import torch
from hypothesis import strategies as st

__all__ = [
    "assert_clean_error",
    "raises_clean",
    "assert_finite",
    "raise_location",
    "seeds",
    "dims",
    "lengths",
    "scales",
    "sequence",
    "sequence_collections",
    "ragged_collections",
    "collection_params",
    "malformed_collections",
    "to_nan_padded",
    "MALFORMED_KINDS",
]

_SEQOT_DIR = os.sep + "seqot" + os.sep
_FOREIGN = tuple(f"{site}{os.sep}{pkg}{os.sep}"
                 for site in ("site-packages", "dist-packages")
                 for pkg in ("torch", "ot", "numpy", "scipy", "sklearn", "joblib"))


# ---------------------------------------------------------------------------
# assertions
# ---------------------------------------------------------------------------
def raise_location(exc: BaseException) -> str:
    """Filename of the innermost traceback frame of ``exc`` (where it was raised)."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def assert_clean_error(exc_info, *, match=None, types=(ValueError, TypeError)):
    """Assert a pytest ``ExceptionInfo`` (or an exception) is a clean seqot error.

    Clean means: the type is one of ``types`` (ValueError/TypeError by default), it was raised
    by a frame inside the ``seqot`` package (not re-raised raw from torch/numpy/POT), and its
    message is non-empty (and matches the regex ``match`` when given, case-insensitively).

    Parameters
    ----------
    exc_info : pytest.ExceptionInfo or BaseException
        What ``pytest.raises`` captured, or the exception itself.
    match : str, optional
        Regular expression the message must contain (``re.search``, ignoring case).
    types : tuple of type, default=(ValueError, TypeError)
        The allowed exception types.
    """
    exc = exc_info.value if hasattr(exc_info, "value") else exc_info
    assert isinstance(exc, types), (
        f"expected {[t.__name__ for t in types]}, got {type(exc).__name__}: {exc}")
    from seqot.utils._param_validation import InvalidParameterError

    where = raise_location(exc)
    # seqot's declarative validation raises through scikit-learn's validator on purpose:
    # its message names the parameter, which is what a clean error means
    assert isinstance(exc, InvalidParameterError) or (
        _SEQOT_DIR in where and not any(f in where for f in _FOREIGN)), (
        f"{type(exc).__name__} raised outside seqot (at {where}): {exc}")
    msg = str(exc)
    assert msg.strip(), f"{type(exc).__name__} from seqot has an empty message"
    if match is not None:
        assert re.search(match, msg, flags=re.IGNORECASE), (
            f"message {msg!r} does not match {match!r}")
    return exc


def raises_clean(match, fn, *args, **kwargs):
    """Call ``fn``; it must raise a clean seqot error whose message matches ``match``."""
    import pytest

    with pytest.raises((ValueError, TypeError)) as exc_info:
        fn(*args, **kwargs)
    return assert_clean_error(exc_info, match=match)


def assert_finite(value, name="output"):
    """Assert every entry of a numpy array, tensor or float is finite (no NaN, no inf)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    assert np.all(np.isfinite(arr)), f"{name} is not finite: {arr}"
    return arr


def run_clean(fn, *args, **kwargs):
    """Call ``fn``; return its result, or ``None`` after checking the error is clean."""
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - classified by assert_clean_error
        assert_clean_error(exc)
        return None


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------
seeds = st.integers(min_value=0, max_value=2**32 - 1)
dims = st.integers(min_value=1, max_value=4)
lengths = st.integers(min_value=1, max_value=12)
#: magnitudes of the data, 1e-8 .. 1e8 (decades) plus 1
scales = st.sampled_from([1e-8, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e8])


def sequence(rng: np.random.Generator, length: int, dim: int, scale: float = 1.0,
             kind: str = "normal", dtype=np.float64) -> np.ndarray:
    """One ``(length, dim)`` sequence.

    ``kind``: ``"normal"`` (Gaussian), ``"constant"`` (one repeated frame), ``"ramp"``
    (monotone in time) or ``"zeros"``.
    """
    if kind == "constant":
        x = np.repeat(rng.standard_normal((1, dim)), length, axis=0)
    elif kind == "ramp":
        x = np.linspace(0.0, 1.0, length)[:, None] * rng.standard_normal((1, dim))
    elif kind == "zeros":
        x = np.zeros((length, dim))
    else:
        x = rng.standard_normal((length, dim))
    return (x * scale).astype(dtype)


@st.composite
def collection_params(draw, max_n=5, max_len=12, max_dim=4, min_len=1):
    """``dict(n, dim, lengths, scale, seed)`` describing a valid ragged collection."""
    n = draw(st.integers(1, max_n))
    dim = draw(st.integers(1, max_dim))
    lens = draw(st.lists(st.integers(min_len, max_len), min_size=n, max_size=n))
    return dict(n=n, dim=dim, lengths=lens, scale=draw(scales), seed=draw(seeds))


@st.composite
def sequence_collections(draw, max_n=5, max_len=12, max_dim=4, min_len=1, dim=None,
                         dtype=np.float64, kinds=("normal", "normal", "constant", "ramp"),
                         scale=None, allow_duplicates=True):
    """A valid ragged list of ``(T_i, d)`` float arrays.

    Mixes Gaussian, constant and ramp sequences, optionally duplicates one sequence, and
    draws the data scale from 1e-8..1e8 unless ``scale`` is given.
    """
    n = draw(st.integers(1, max_n))
    d = dim if dim is not None else draw(st.integers(1, max_dim))
    lens = draw(st.lists(st.integers(min_len, max_len), min_size=n, max_size=n))
    sc = scale if scale is not None else draw(scales)
    rng = np.random.default_rng(draw(seeds))
    out = [sequence(rng, t, d, sc, draw(st.sampled_from(kinds)), dtype) for t in lens]
    if allow_duplicates and n > 1 and draw(st.booleans()):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        out[j] = out[i].copy()
    return out


def ragged_collections(**kwargs):
    """Alias of :func:`sequence_collections` (the name the estimator tests use)."""
    return sequence_collections(**kwargs)


def to_nan_padded(seqs) -> np.ndarray:
    """A list of ``(T_i, d)`` arrays as a 3-D NaN-padded ``(n, T_max, d)`` float array."""
    T = max(len(s) for s in seqs)
    d = seqs[0].shape[1]
    out = np.full((len(seqs), T, d), np.nan, dtype=np.result_type(seqs[0].dtype, np.float32))
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


# ---------------------------------------------------------------------------
# malformed input
# ---------------------------------------------------------------------------
#: kind -> regex the error message must match
MALFORMED_KINDS = {
    "empty_list": r"empty",
    "empty_array": r"empty",
    "zero_length": r"zero length",
    "nan_inside": r"NaN|infinity",
    "inf_inside": r"NaN|infinity",
    "mixed_dims": r"features|dimension",
    "zero_features": r"feature",
    "nested_object": r"nested|dimension|sequence|numeric",
    "strings": r"numeric|not",
    "complex": r"complex",
    "scalar_item": r"scalar",
    "three_d_item": r"dimension",
    "nan_gap_padded": r"padding|NaN",
    "all_nan_padded": r"zero length|NaN",
    "one_d_array": r"dimension",
    "four_d_array": r"dimension",
    "torch_nan": r"NaN|infinity",
    "torch_1d": r"-D tensor|dimension",
}


@st.composite
def malformed_collections(draw, kinds=None):
    """``(kind, X)``: a malformed collection and the name of what is wrong with it.

    Every ``X`` must be rejected by :func:`seqot.utils.check_sequences` with a clean
    ``ValueError``/``TypeError`` whose message matches ``MALFORMED_KINDS[kind]``.
    """
    kind = draw(st.sampled_from(sorted(kinds or MALFORMED_KINDS)))
    n = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    lens = draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))
    seqs = [rng.standard_normal((t, d)) for t in lens]
    bad = draw(st.integers(0, n - 1))
    if kind == "empty_list":
        X = draw(st.sampled_from([[], ()]))
    elif kind == "empty_array":
        X = draw(st.sampled_from([np.zeros((0, 3, d)), np.zeros((0, d))]))
    elif kind == "zero_length":
        seqs[bad] = np.zeros((0, d))
        X = seqs
    elif kind in ("nan_inside", "inf_inside"):
        val = np.nan if kind == "nan_inside" else draw(st.sampled_from([np.inf, -np.inf]))
        t = draw(st.integers(0, lens[bad] - 1))
        f = draw(st.integers(0, d - 1))
        seqs[bad][t, f] = val
        X = seqs
    elif kind == "mixed_dims":
        if n == 1:
            seqs.append(rng.standard_normal((3, d + 1)))
        else:
            seqs[bad] = rng.standard_normal((lens[bad], d + 1))
            if bad == 0:
                seqs[1] = rng.standard_normal((lens[1], d))
        X = seqs
    elif kind == "zero_features":
        X = draw(st.sampled_from([[np.zeros((3, 0))], np.zeros((2, 3, 0)), np.zeros((2, 0))]))
    elif kind == "nested_object":
        obj = np.empty(2, dtype=object)
        obj[0] = np.empty(1, dtype=object)
        obj[0][0] = np.zeros((2, d))
        obj[1] = np.zeros((2, d))
        X = [obj[0], obj[1]]
    elif kind == "strings":
        X = draw(st.sampled_from([[np.array([["a", "b"], ["c", "d"]])], ["abc", "de"],
                                  np.array([[["x"]]])]))
    elif kind == "complex":
        X = [s.astype(np.complex128) for s in seqs]
        if draw(st.booleans()):
            X = torch.as_tensor(np.stack([np.zeros((2, d))]).astype(np.complex64))
    elif kind == "scalar_item":
        X = [np.asarray(1.0), np.zeros((2, d))]
    elif kind == "three_d_item":
        X = [np.zeros((2, 2, d)), np.zeros((2, d))]
    elif kind == "nan_gap_padded":
        T = max(lens) + 2
        Xp = rng.standard_normal((n, T, d))
        Xp[bad, 1, :] = np.nan  # an all-NaN frame followed by real frames
        X = Xp
    elif kind == "all_nan_padded":
        Xp = rng.standard_normal((n, 4, d))
        Xp[bad] = np.nan
        X = Xp
    elif kind == "one_d_array":
        X = rng.standard_normal(5)
    elif kind == "four_d_array":
        X = rng.standard_normal((2, 3, 2, d))
    elif kind == "torch_nan":
        Xt = torch.as_tensor(rng.standard_normal((n, 5, d)))
        Xt[bad, 0, 0] = float("nan")
        X = Xt if draw(st.booleans()) else [t for t in Xt]
    elif kind == "torch_1d":
        X = torch.zeros(5)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return kind, X
