"""The sequence input contract: one validation path used by every estimator and solver.

Accepted forms of a collection ``X`` of sequences
------------------------------------------------
* a list/tuple (or 1-D object array) of arrays or tensors, each ``(T_i, d)``; a 1-D
  element is a univariate sequence ``(T_i, 1)``;
* a 3-D array ``(n, T, d)``; trailing frames that are entirely NaN are padding
  (tslearn's convention), so sequences of different lengths fit in one array;
* a 2-D array ``(n, d)``: ``n`` sequences of length one (scikit-learn's meaning of
  2-D input, which is what lets every estimator pass scikit-learn's own checks);
* torch tensors of those shapes (kept as torch, on their device).

These are the ``layout="time_first"`` forms (the default, tslearn's). With
``layout="channels_first"`` (aeon's and sktime's ``numpy3D``) a 3-D array is ``(n, d, T)``,
a list holds ``(d, T_i)`` arrays and a 2-D array is ``(n, T)``: ``n`` univariate series.
They are transposed on the way in; sequences returned by ``transform`` go back the same way.

A nested Python list whose rows are lists of numbers is read like ``np.asarray``
would (``X.tolist()`` of a 2-D or 3-D array round-trips); only if the rows are
ragged are they univariate sequences.

Everything comes out as a :class:`SequenceBatch`: a zero-padded ``(n, T_max, d)``
array plus the true lengths. Padding is never data: every OT problem gives padded
frames zero mass.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ._torch import check_random_state, resolve_device
from ._param_validation import check_estimator_params

__all__ = [
    "SequenceBatch",
    "check_sequences",
    "check_sequence",
    "check_frame_weights",
    "validate_sequences",
    "validate_sequences_targets",
    "check_positive",
    "check_hidden",
    "check_float_array",
    "check_float_tensor",
    "SequenceInputMixin",
    "input_form",
    "restore_form",
    "check_layout",
    "LAYOUTS",
]

#: Axis orders of a sequence: ``(T, d)`` (seqot's and tslearn's) or ``(d, T)`` (aeon, sktime).
LAYOUTS = ("time_first", "channels_first")
_LAYOUT_HINT = ("; if your sequences are stored channels first (aeon and sktime: (n, d, T) "
                "arrays or lists of (d, T_i) arrays), pass layout='channels_first' or convert "
                "them with seqot.utils.from_aeon")


def check_layout(layout, name="layout"):
    """``layout`` if it is one of :data:`LAYOUTS`, else a ``ValueError`` naming ``name``."""
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"{name} must be one of {LAYOUTS}; got {layout!r}.")
    return layout


class SequenceInputMixin:
    """scikit-learn tags of an estimator that reads sequences through :func:`check_sequences`.

    3-D (NaN-padded) input is accepted; NaN is padding, never a missing value, so
    ``allow_nan`` stays False (scikit-learn's checks would otherwise inject NaN into 2-D data).
    Put it first in the bases: ``class Est(SequenceInputMixin, ClassifierMixin, BaseEstimator)``.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags


@dataclass(eq=False)
class SequenceBatch:
    """A padded batch of sequences.

    Attributes
    ----------
    data : ndarray or Tensor of shape (n, T_max, d)
        The frames; padded frames hold zeros.
    lengths : ndarray or Tensor of shape (n,), int64
        The number of real frames of each sequence, all >= 1.
    """

    data: Any
    lengths: Any

    # -- shape -------------------------------------------------------------
    @property
    def is_torch(self) -> bool:
        return isinstance(self.data, torch.Tensor)

    @property
    def n_sequences(self) -> int:
        return int(self.data.shape[0])

    @property
    def max_length(self) -> int:
        return int(self.data.shape[1])

    @property
    def n_features(self) -> int:
        return int(self.data.shape[2])

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self) -> int:
        return self.n_sequences

    @property
    def mask(self):
        """Boolean ``(n, T_max)``: True on real frames, False on padding."""
        if self.is_torch:
            ar = torch.arange(self.max_length, device=self.data.device)
            return ar[None, :] < self.lengths[:, None]
        return np.arange(self.max_length)[None, :] < np.asarray(self.lengths)[:, None]

    # -- conversions -------------------------------------------------------
    def to_torch(self, device=None, dtype=None) -> SequenceBatch:
        """The same batch as torch tensors on ``device`` (``None`` keeps a tensor's device)."""
        if self.is_torch:
            data, lengths = self.data, self.lengths
        else:
            data, lengths = torch.from_numpy(self.data), torch.from_numpy(self.lengths)
        dev = None if device is None else resolve_device(device)
        if dev is not None or dtype is not None:
            data = data.to(device=dev if dev is not None else data.device, dtype=dtype)
            lengths = lengths.to(dev if dev is not None else lengths.device)
        return SequenceBatch(data, lengths)

    def to_numpy(self) -> SequenceBatch:
        if not self.is_torch:
            return self
        return SequenceBatch(
            self.data.detach().cpu().numpy(), self.lengths.detach().cpu().numpy()
        )

    def to_list(self) -> list:
        """The sequences without padding, as a list of ``(T_i, d)`` arrays or tensors."""
        lengths = self.lengths.tolist()
        return [self.data[i, : lengths[i]] for i in range(self.n_sequences)]

    def to_nan_padded(self):
        """A 3-D array with NaN in padded frames (tslearn's layout); numpy only."""
        out = np.array(self.to_numpy().data, copy=True)
        out[~self.to_numpy().mask] = np.nan
        return out

    def take(self, indices) -> SequenceBatch:
        """A sub-batch, trimmed to its own longest sequence."""
        if self.is_torch:
            idx = torch.as_tensor(indices, device=self.data.device, dtype=torch.long)
            lengths = self.lengths[idx]
            t_max = int(lengths.max()) if len(idx) else 0
        else:
            idx = np.asarray(indices, dtype=np.int64)
            lengths = self.lengths[idx]
            t_max = int(lengths.max()) if len(idx) else 0
        return SequenceBatch(self.data[idx, :t_max], lengths)


# ---------------------------------------------------------------------------
# dtype handling
# ---------------------------------------------------------------------------
_TORCH_FLOATS = (torch.float32, torch.float64)


def _target_numpy_dtype(dtypes, requested):
    if requested is not None:
        return np.dtype(requested)
    floats = [dt for dt in dtypes if dt in (np.float32, np.float64)]
    if floats and len(floats) == len(dtypes):
        return np.result_type(*floats)
    if all(dt in (np.float16, np.float32) for dt in dtypes):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _target_torch_dtype(dtypes, requested):
    if requested is not None:
        if isinstance(requested, torch.dtype):
            return requested
        return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
            np.dtype(requested)
        ]
    if all(dt in _TORCH_FLOATS for dt in dtypes):
        return torch.float64 if torch.float64 in dtypes else torch.float32
    if all(dt in (torch.float16, torch.bfloat16, torch.float32) for dt in dtypes):
        return torch.float32
    return torch.float64


def _numeric_array(x, where):
    """np.asarray with clear errors for non-numeric and complex content."""
    if sp.issparse(x):
        raise TypeError(
            f"{where} is a sparse matrix; seqot needs dense sequences (call .toarray())."
        )
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{where} could not be read as an array: {exc}") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {where} is complex.")
    if arr.dtype.kind in "OUSV":
        if arr.dtype.kind == "O" and arr.ndim >= 1 and _holds_arrays(arr):
            return arr  # object array of sequences; the caller unpacks it
        if arr.dtype.kind == "O" and any(v is None for v in arr.flat):
            raise TypeError(f"{where} holds None; seqot needs numbers (no missing values).")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where} is not numeric: {exc}") from None
    if arr.dtype.kind == "M" or arr.dtype.kind == "m":
        raise TypeError(f"{where} holds dates or times, not numbers.")
    return arr


def _holds_arrays(arr) -> bool:
    first = arr.flat[0] if arr.size else None
    return isinstance(first, (np.ndarray, torch.Tensor, list, tuple))


# ---------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------
def _split_collection(X, input_name):
    """Return ("padded", array_or_tensor_3d) or ("list", [2-D items]) or ("rows", 2-D)."""
    if isinstance(X, torch.Tensor):
        if X.is_complex():
            raise ValueError(f"Complex data not supported: {input_name} is a complex tensor.")
        if X.ndim == 3:
            return "padded", X
        if X.ndim == 2:
            return "rows", X
        raise ValueError(
            f"{input_name} is a {X.ndim}-D tensor; expected a 3-D (n, T, d) batch, a 2-D "
            "(n, d) tensor of length-1 sequences, or a list of (T_i, d) sequences."
        )
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{input_name} is empty: it needs at least one sequence.")
        if any(isinstance(x, (np.ndarray, torch.Tensor)) for x in X):
            return "list", list(X)
        # Nested Python lists: scikit-learn reads them as a 2-D/3-D array; keep that meaning
        # unless they are ragged, in which case they can only be univariate sequences.
        try:
            arr = np.asarray(X)
        except ValueError:
            return "list", list(X)
        if arr.dtype == object:
            return "list", list(X)
        X = arr
    if not isinstance(X, np.ndarray):
        X = _numeric_array(X, input_name)
    if X.dtype == object and X.ndim == 1 and X.size and _holds_arrays(X):
        return "list", list(X)
    X = _numeric_array(X, input_name)
    if X.dtype == object:  # an object array of sequences, but not a 1-D one
        raise ValueError(
            f"{input_name} is a {X.ndim}-D object array (shape {X.shape}) of sequences; "
            "expected a 1-D list or object array of (T_i, d) sequences."
        )
    if X.ndim == 3:
        return "padded", X
    if X.ndim == 2:
        return "rows", X
    if X.ndim == 1 and X.dtype == object:
        return "list", list(X)
    raise ValueError(
        f"{input_name} has {X.ndim} dimension(s) (shape {X.shape}); expected a list of (T_i, d) "
        "sequences, a 3-D (n, T, d) array with trailing all-NaN frames as padding, or a 2-D "
        "(n, d) array of length-1 sequences. Reshape your data: a single sequence x is [x] "
        "or x[None]."
    )


def _check_item(x, i, input_name):
    """One element of a list: a 2-D numeric array/tensor (T_i, d)."""
    where = f"{input_name}[{i}]"
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"Complex data not supported: {where} is complex.")
        arr = x
    else:
        arr = _numeric_array(x, where)
        if arr.dtype == object:
            raise ValueError(f"{where} is nested too deeply; expected a (T_i, d) array.")
    if arr.ndim == 0:
        raise ValueError(f"{where} is a scalar; each sequence must be (T_i, d) or (T_i,).")
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise ValueError(
            f"{where} has {arr.ndim} dimensions (shape {tuple(arr.shape)}); each sequence "
            "must be a (T_i, d) array."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"sequence {i} of {input_name} has zero length; every sequence needs "
                         "at least one frame.")
    return arr


def _first_bad_frame(finite_rows, i, input_name, what="NaN or infinity"):
    t = int(np.flatnonzero(~np.asarray(finite_rows))[0])
    return ValueError(
        f"sequence {i} of {input_name} contains {what} (first at frame {t}); NaN is only "
        "allowed as whole trailing padding frames of a 3-D array."
    )


def _parse_padded(X, input_name):
    """3-D (n, T, d) with trailing all-NaN frames as padding -> (data, lengths)."""
    n, T, d = X.shape
    if n == 0:
        raise ValueError(f"{input_name} is empty: 0 sequences (shape {tuple(X.shape)}).")
    if d == 0:
        raise ValueError(
            f"0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 is required."
        )
    if T == 0:
        raise ValueError(f"sequence 0 of {input_name} has zero length (shape {tuple(X.shape)}).")
    if isinstance(X, torch.Tensor):
        Xd = X.detach()
        nan = torch.isnan(Xd)
        pad = nan.all(dim=2)  # (n, T)
        real = ~pad
        # Last real frame + 1 = length; padding must be trailing.
        idx = torch.arange(1, T + 1, device=X.device)
        lengths = (real * idx).amax(dim=1)
        trailing_ok = (real.sum(dim=1) == lengths)
        finite = torch.isfinite(Xd).all(dim=2) | pad
        bad = ~(trailing_ok & finite.all(dim=1) & (lengths > 0))
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0, 0])
            _raise_padded_problem(
                i, int(lengths[i]), real[i].cpu().numpy(), finite[i].cpu().numpy(), input_name
            )
        data = torch.where(pad[:, :, None], torch.zeros((), dtype=X.dtype, device=X.device), X)
        return data, lengths.to(torch.int64)
    nan = np.isnan(X)
    pad = nan.all(axis=2)
    real = ~pad
    lengths = (real * np.arange(1, T + 1)).max(axis=1).astype(np.int64)
    trailing_ok = real.sum(axis=1) == lengths
    finite = np.isfinite(X).all(axis=2) | pad
    bad = ~(trailing_ok & finite.all(axis=1) & (lengths > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _raise_padded_problem(i, int(lengths[i]), real[i], finite[i], input_name)
    data = np.where(pad[:, :, None], 0, X).astype(X.dtype, copy=False)
    return data, lengths


def _raise_padded_problem(i, length, real, finite, input_name):
    if length == 0:
        raise ValueError(
            f"sequence {i} of {input_name} has zero length (all of its frames are NaN padding)."
        )
    if not np.all(finite):
        raise _first_bad_frame(finite, i, input_name)
    t = int(np.flatnonzero(~real[:length])[0])
    raise ValueError(
        f"sequence {i} of {input_name} has an all-NaN frame at {t} followed by real frames; "
        "padding must be trailing."
    )


def _from_channels_first(X, input_name):
    """A channels-first collection in the equivalent time-first form (views, no copies).

    ``(n, d, T)`` becomes ``(n, T, d)``, each ``(d, T_i)`` of a list ``(T_i, d)`` and a 2-D
    ``(n, T)`` the univariate ``(n, T, 1)``; 1-D list items are univariate either way.
    Anything else is left for the parser to reject with its own message.
    """
    if isinstance(X, SequenceBatch):  # already validated: time first inside
        return X

    def whole(A):
        if A.ndim == 3:
            return A.transpose(1, 2) if isinstance(A, torch.Tensor) else np.swapaxes(A, 1, 2)
        if A.ndim == 2:
            return A[:, :, None]
        return A

    if isinstance(X, torch.Tensor):
        return whole(X)
    if isinstance(X, (list, tuple)) and len(X) == 0:
        return X  # the parser says "empty"
    if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object
                                        and X.ndim == 1 and X.size and _holds_arrays(X)):
        items = list(X)
        if not any(isinstance(x, (np.ndarray, torch.Tensor)) for x in items):
            try:  # nested lists of numbers: an array, as in the time-first reading
                arr = np.asarray(items)
            except ValueError:
                arr = None
            if arr is not None and arr.dtype != object:
                return whole(_numeric_array(arr, input_name))
        out = []
        for i, x in enumerate(items):
            if not isinstance(x, torch.Tensor):
                x = _numeric_array(x, f"{input_name}[{i}]")
            out.append(x.T if x.ndim == 2 else x)
        return out
    return whole(_numeric_array(X, input_name))


def check_sequences(
    X,
    *,
    n_features=None,
    dtype=None,
    device=None,
    min_length=1,
    input_name="X",
    estimator_name=None,
    layout="time_first",
) -> SequenceBatch:
    """Validate a collection of sequences and return it as a padded batch.

    Parameters
    ----------
    X : list of array-like of shape (T_i, d), array-like of shape (n, T, d) or (n, d), or Tensor
        The sequences. See the module docstring for every accepted form.
    n_features : int, optional
        The expected feature dimension ``d`` (an estimator's ``n_features_in_``).
    dtype : numpy or torch float dtype, optional
        Cast to this dtype. By default float32 and float64 are kept, float16 becomes float32
        and integers/booleans become float64.
    device : None, "auto", str or torch.device, optional
        ``None`` keeps the input's kind: numpy stays numpy, a tensor stays on its device.
        Anything else returns torch tensors on that device.
    min_length : int, default=1
        Shortest allowed sequence.
    input_name : str, default="X"
        Name used in error messages.
    estimator_name : str, optional
        Name used in the feature-count error message.
    layout : {"time_first", "channels_first"}, default="time_first"
        The axis order of ``X``: ``(n, T, d)`` arrays and ``(T_i, d)`` sequences (seqot's and
        tslearn's), or ``(n, d, T)`` arrays, ``(d, T_i)`` sequences and ``(n, T)`` univariate
        2-D arrays (aeon's and sktime's). A :class:`SequenceBatch` is always time first.

    Returns
    -------
    SequenceBatch
        Zero-padded data ``(n, T_max, d)`` and ``lengths`` ``(n,)``.

    Raises
    ------
    ValueError
        Naming the sequence index and the problem: empty collection, zero-length or too short
        sequence, mismatched ``d``, NaN/inf inside a sequence, wrong number of dimensions,
        complex data, a feature count other than ``n_features``.
    TypeError
        Sparse or non-numeric input.
    """
    if check_layout(layout) == "channels_first":
        X = _from_channels_first(X, input_name)
    if isinstance(X, SequenceBatch):  # already validated: only dtype/device/n_features
        batch = _finish(X.data, X.lengths, dtype, device)
        kind = None
    else:
        kind, payload = _split_collection(X, input_name)
    if kind == "rows":
        n, d = payload.shape
        if n == 0:
            raise ValueError(
                f"{input_name} is empty: 0 sample(s) (shape={tuple(payload.shape)}) while a "
                "minimum of 1 is required."
            )
        if d == 0:
            raise ValueError(
                f"0 feature(s) (shape={tuple(payload.shape)}) while a minimum of 1 is required."
            )
        if isinstance(payload, torch.Tensor):
            finite = torch.isfinite(payload.detach()).all(dim=1)
            if not bool(finite.all()):
                i = int(torch.nonzero(~finite)[0, 0])
                raise ValueError(f"sequence {i} of {input_name} (row {i}) contains NaN or "
                                 "infinity; 2-D input holds one frame per row and no padding.")
            data = payload[:, None, :]
            lengths = torch.ones(n, dtype=torch.int64, device=payload.device)
        else:
            finite = np.isfinite(payload).all(axis=1)
            if not finite.all():
                i = int(np.flatnonzero(~finite)[0])
                raise ValueError(f"sequence {i} of {input_name} (row {i}) contains NaN or "
                                 "infinity; 2-D input holds one frame per row and no padding.")
            data = payload[:, None, :]
            lengths = np.ones(n, dtype=np.int64)
    elif kind == "padded":
        data, lengths = _parse_padded(payload, input_name)
    elif kind == "list":
        data, lengths = _pad_list(payload, input_name, hint_layout=layout == "time_first")
    if kind is not None:
        batch = _finish(data, lengths, dtype, device)
    if n_features is not None and batch.n_features != n_features:
        who = estimator_name or "the estimator"
        raise ValueError(
            f"{input_name} has {batch.n_features} features, but {who} is expecting "
            f"{n_features} features as input."
        )
    if min_length > 1:
        short = np.flatnonzero(np.asarray(batch.to_numpy().lengths) < min_length)
        if short.size:
            i = int(short[0])
            raise ValueError(
                f"sequence {i} of {input_name} has {int(batch.to_numpy().lengths[i])} frame(s); "
                f"at least {min_length} are needed."
            )
    return batch


def check_sequence(x, *, name="x", n_features=None, device=None) -> SequenceBatch:
    """Validate ONE sequence ``(T, d)`` (or ``(T,)``) and return it as a batch of one.

    The per-pair distance functions use it, so that a 3-D array passed where one sequence is
    expected is an error rather than a collection.
    """
    arr = x if isinstance(x, torch.Tensor) else _numeric_array(x, name)
    if arr.ndim not in (1, 2) or arr.dtype == object:
        raise ValueError(f"{name} must be one sequence of shape (T, d) or (T,); got shape "
                         f"{tuple(arr.shape)}.")
    return check_sequences([arr], input_name=name, n_features=n_features, device=device)


def _pad_list(items, input_name, hint_layout=True):
    arrs = [_check_item(x, i, input_name) for i, x in enumerate(items)]
    d0 = arrs[0].shape[1]
    for i, a in enumerate(arrs):
        if a.shape[1] != d0:
            # equal first axes and varying second ones: (d, T_i) series read as (T_i, d)
            transposed = hint_layout and len({int(b.shape[0]) for b in arrs}) == 1
            raise ValueError(
                f"sequence {i} of {input_name} has {a.shape[1]} features, but sequence 0 has "
                f"{d0}; all sequences must share the feature dimension d"
                + (f" (here every sequence has {int(a.shape[0])} frames while the "
                   f"feature counts vary){_LAYOUT_HINT}." if transposed else ".")
            )
    if d0 == 0:
        raise ValueError(
            f"0 feature(s) (shape=({len(arrs)}, T, 0)) while a minimum of 1 is required."
        )
    use_torch = any(isinstance(a, torch.Tensor) for a in arrs)
    lengths_list = [int(a.shape[0]) for a in arrs]
    T = max(lengths_list)
    n = len(arrs)
    if use_torch:
        ref = next(a for a in arrs if isinstance(a, torch.Tensor))
        tens = [a if isinstance(a, torch.Tensor) else torch.as_tensor(a, device=ref.device)
                for a in arrs]
        tdt = _target_torch_dtype({t.dtype for t in tens}, None)
        # pad_sequence keeps autograd through every element
        data = torch.nn.utils.rnn.pad_sequence([t.to(tdt) for t in tens], batch_first=True)
        # one reduction over the zero-padded batch instead of a check (and a host sync) per
        # sequence: a finite total means every frame is finite; a non-finite one (or an
        # overflow of finite values) is located sequence by sequence
        if not bool(torch.isfinite(data.detach().sum())):
            for i, t in enumerate(tens):
                fin = torch.isfinite(t.detach()).all(dim=1)
                if not bool(fin.all()):
                    raise _first_bad_frame(fin.cpu().numpy(), i, input_name)
        lengths = torch.tensor(lengths_list, dtype=torch.int64, device=ref.device)
        return data, lengths
    ndt = _target_numpy_dtype({a.dtype for a in arrs}, None)
    data = np.zeros((n, T, d0), dtype=ndt)
    for i, a in enumerate(arrs):
        fin = np.isfinite(a).all(axis=1)
        if not fin.all():
            raise _first_bad_frame(fin, i, input_name)
        data[i, : a.shape[0]] = a
    return data, np.asarray(lengths_list, dtype=np.int64)


def _finish(data, lengths, dtype, device):
    """Apply the dtype policy and move to the requested device."""
    if isinstance(data, torch.Tensor):
        target = _target_torch_dtype({data.dtype}, dtype)
        if data.dtype != target:
            data = data.to(target)
        batch = SequenceBatch(data, lengths)
        return batch.to_torch(device) if device is not None else batch
    target = _target_numpy_dtype({data.dtype}, dtype)
    if data.dtype != target:
        data = data.astype(target)
    batch = SequenceBatch(data, lengths)
    if device is not None:
        batch = batch.to_torch(device)
    return batch


# ---------------------------------------------------------------------------
# frame weights (OT marginals)
# ---------------------------------------------------------------------------
def check_frame_weights(weights, batch: SequenceBatch, *, input_name="weights"):
    """Validate per-sequence frame weights and return them padded, normalised to sum to one.

    Parameters
    ----------
    weights : None or list of array-like of shape (T_i,)
        Non-negative weights of the frames of each sequence; ``None`` gives uniform weights.
    batch : SequenceBatch
        The sequences the weights belong to.

    Returns
    -------
    ndarray or Tensor of shape (n, T_max)
        Zero on padding; each row sums to one. Same kind/device/dtype as ``batch.data``.
    """
    n, T = batch.n_sequences, batch.max_length
    if weights is not None and (isinstance(weights, (str, bytes)) or not hasattr(weights,
                                                                              "__len__")):
        raise TypeError(f"{input_name} must be a list of per-sequence weight arrays (one per "
                        f"sequence); got {type(weights).__name__}.")
    if weights is None:
        mask = batch.mask
        if batch.is_torch:
            w = mask.to(batch.data.dtype)
            return w / batch.lengths[:, None].to(batch.data.dtype)
        w = mask.astype(batch.data.dtype)
        return w / batch.lengths[:, None].astype(batch.data.dtype)
    if len(weights) != n:
        raise ValueError(f"{input_name} has {len(weights)} entries but there are {n} sequences.")
    lengths = np.asarray(batch.to_numpy().lengths)
    out = np.zeros((n, T), dtype=np.float64)
    for i, w in enumerate(weights):
        try:
            w = np.asarray(w.detach().cpu() if isinstance(w, torch.Tensor) else w,
                           dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{input_name}[{i}] is not an array of numbers: {exc}") from None
        if w.ndim > 1 and sum(s > 1 for s in w.shape) > 1:
            raise ValueError(f"{input_name}[{i}] must be 1-D (one weight per frame); got shape "
                             f"{w.shape}.")
        w = w.reshape(-1)
        if w.shape[0] != lengths[i]:
            raise ValueError(
                f"{input_name}[{i}] has {w.shape[0]} entries but sequence {i} has "
                f"{lengths[i]} frames."
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"{input_name}[{i}] must be finite and non-negative.")
        total = w.sum()
        if total <= 0:
            raise ValueError(f"{input_name}[{i}] sums to zero; a sequence needs positive mass.")
        out[i, : lengths[i]] = w / total
    if batch.is_torch:
        return torch.as_tensor(out, dtype=batch.data.dtype, device=batch.data.device)
    return out.astype(batch.data.dtype, copy=False)


# ---------------------------------------------------------------------------
# estimator-facing helpers
# ---------------------------------------------------------------------------
def validate_sequences(estimator, X, *, reset: bool, **kwargs) -> SequenceBatch:
    """``check_sequences`` for an estimator: sets or checks ``n_features_in_``.

    First checks the estimator's parameters against its ``_parameter_constraints`` (in
    ``fit`` and in every method that reads them, so values set after fit are checked too).

    The estimator's ``layout`` parameter (if it has one) says how ``X`` is laid out.
    With ``reset=True`` (``fit``) it first forgets every fitted attribute of a previous fit,
    then records ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame); with
    ``reset=False`` it checks ``X`` against them.

    Tensors are detached: an estimator learns its own parameters, and an input's autograd
    graph (features straight out of a network) must not enter its training losses (a second
    backward through that graph fails) or its outputs.
    """
    check_estimator_params(estimator)
    if reset:
        _forget_fit(estimator)
    kwargs.setdefault("layout", getattr(estimator, "layout", "time_first"))
    if kwargs["layout"] == "channels_first":
        # a table's columns are then time points, not features: no feature names
        if reset and hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    else:
        _check_feature_names(estimator, X, reset)
    if reset:
        batch = _detached(check_sequences(X, **kwargs))
        estimator.n_features_in_ = batch.n_features
        return batch
    return _detached(check_sequences(
        X,
        n_features=getattr(estimator, "n_features_in_", None),
        estimator_name=type(estimator).__name__,
        **kwargs,
    ))


def _forget_fit(estimator):
    """Drop the fitted attributes (public names ending in ``_``) of a previous fit: a refit
    whose parameters or data no longer produce one of them must not leave it behind (e.g. the
    ``classes_`` of a supervised fit after an unsupervised refit)."""
    for name in [n for n in vars(estimator) if n.endswith("_") and not n.startswith("_")]:
        delattr(estimator, name)


def _detached(batch):
    if batch.is_torch and batch.data.requires_grad:
        return SequenceBatch(batch.data.detach(), batch.lengths)
    return batch


def _check_feature_names(estimator, X, reset):
    # Only 2-D tables have column names; scikit-learn's helper keeps its semantics.
    if hasattr(X, "columns") and getattr(X, "ndim", 2) == 2:
        from sklearn.utils.validation import _check_feature_names as _sk

        _sk(estimator, X, reset=reset)
    elif reset and hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    elif not reset and hasattr(estimator, "feature_names_in_"):
        from sklearn.utils.validation import _check_feature_names as _sk

        _sk(estimator, X, reset=False)


def validate_sequences_targets(estimator, X, y, *, classifier=True, min_classes=2, **kwargs):
    """Validate ``X`` (resetting ``n_features_in_``) and the per-sequence targets ``y``.

    Returns ``(batch, y)`` where for classifiers ``y`` is a 1-D array and
    ``estimator.classes_`` is set.
    """
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None."
        )
    batch = validate_sequences(estimator, X, reset=True, **kwargs)
    y = column_or_1d(y, warn=True)
    if len(y) != batch.n_sequences:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: {batch.n_sequences} "
            f"sequences in X but {len(y)} labels in y."
        )
    if classifier:
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < min_classes:
            raise ValueError(
                f"{type(estimator).__name__} needs at least {min_classes} classes in y; got "
                f"{len(classes)} class: {', '.join(map(str, classes))}."
            )
        estimator.classes_ = classes
    return batch, y


def check_frame_labels(x, where):
    """One video's frame labels as a non-empty 1-D int64 array.

    Integers, and floats that hold finite integral values (labels read from text or from a
    float array), are accepted; ``where`` prefixes every error ("y_true, video 3").
    Torch tensors (any device) are read too.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{where}: labels must be 1-D, got shape {a.shape}.")
    if a.size == 0:
        raise ValueError(f"{where}: the video has no frames.")
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{where}: label {int(a.max())} does not fit in a 64-bit integer.")
        return a.astype(np.int64)
    if a.dtype.kind != "f":
        raise ValueError(f"{where}: labels must be integers; got dtype {a.dtype}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{where}: labels contain NaN or infinity.")
    if not np.all(a == np.round(a)):
        raise ValueError(f"{where}: labels must be integers; got non-integer values.")
    big = np.abs(a) >= 2.0**63
    if big.any():
        raise ValueError(f"{where}: label {a[big][0]!r} does not fit in a 64-bit integer.")
    return a.astype(np.int64)


def check_positive(value, name, *, strict=True, allow_none=False):
    """Raise ``ValueError`` unless ``value`` is a finite real > 0 (>= 0 if not strict)."""
    if value is None and allow_none:
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or (value <= 0 if strict else value < 0)
    ):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")
    return value


def check_float_array(x, name, *, dtype=np.float64, finite=True):
    """A real floating-point numpy array from array-like or tensor input, or a clean error.

    The numpy twin of :func:`check_float_tensor`, for the functions that compute in numpy
    (decoders, subspace methods, kernels): sparse, complex, ragged, non-numeric and ``None``
    content raise naming ``name``.

    Parameters
    ----------
    x : array-like or Tensor
    name : str
        The argument's name, used in error messages.
    dtype : numpy float dtype or None, default=np.float64
        Cast to this dtype; ``None`` keeps float32/float64 and makes anything else float64.
    finite : bool, default=True
        Also reject NaN and infinity.

    Returns
    -------
    ndarray
    """
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"Complex data not supported: {name} is complex.")
        x = x.detach().cpu()
        x = (x.float() if x.dtype == torch.bfloat16 else x).numpy()  # numpy has no bfloat16
    if x is None:
        raise TypeError(f"{name} must be an array of numbers; got None.")
    arr = _numeric_array(x, name)
    if arr.dtype == object:
        raise ValueError(f"{name} could not be read as a numeric array (it holds arrays).")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = arr.astype(dtype, copy=False)
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return arr


def check_float_tensor(x, name, *, device=None, dtype=None, ndim=None, finite=False):
    """A real floating-point tensor from array-like or tensor input, or a clean error.

    The solvers' entry point for costs, weights and potentials: numpy, nested lists and
    tensors are accepted; non-numeric, complex, sparse or ragged input raises here, naming
    ``name``, instead of deep inside torch.

    Parameters
    ----------
    x : array-like or Tensor
    name : str
        The argument's name, used in error messages.
    device : torch.device, optional
        Move to this device (default: keep a tensor's device, CPU for arrays).
    dtype : torch.dtype, optional
        Cast to this dtype. By default float32/float64 are kept, float16/bfloat16 become
        float32 and integers/booleans float64.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    finite : bool, default=False
        Also reject NaN and infinity.

    Returns
    -------
    Tensor
        Keeps autograd for tensor input.
    """
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"Complex data not supported: {name} is a complex tensor.")
        t = x
    else:
        if x is None:
            raise TypeError(f"{name} must be an array of numbers; got None.")
        arr = _numeric_array(x, name)
        if arr.dtype == object:
            raise ValueError(f"{name} could not be read as a numeric array (it holds arrays).")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if dtype is None:
        if t.dtype in (torch.float16, torch.bfloat16):
            dtype = torch.float32
        elif not t.is_floating_point():
            dtype = torch.float64
    if dtype is not None or device is not None:
        t = t.to(device=device if device is not None else t.device,
                 dtype=dtype if dtype is not None else t.dtype)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if t.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s); "
                             f"got shape {tuple(t.shape)}.")
    if finite and not bool(torch.isfinite(t.detach()).all()):
        raise ValueError(f"{name} contains NaN or infinity.")
    return t


def check_hidden(hidden, name="hidden"):
    """The hidden layer widths of an MLP as a tuple of positive ints, or a ``ValueError``."""
    try:
        widths = tuple(hidden)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers; got "
                         f"{hidden!r}.") from None
    if any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in widths):
        raise ValueError(f"{name} must be a sequence of positive integers; got {hidden!r}.")
    return widths


def input_form(X, batch: SequenceBatch, layout="time_first"):
    """``(kind, torch_in)`` of a collection already validated into ``batch``.

    ``kind`` is ``"batch"``, ``"list"``, ``"padded"`` or ``"rows"``; per-frame outputs go back
    to the user in that form (and ``layout``) through :func:`restore_form`.
    """
    if isinstance(X, SequenceBatch):
        return "batch", batch.is_torch
    if layout == "channels_first":
        X = _from_channels_first(X, "X")
    kind, payload = _split_collection(X, "X")
    torch_in = isinstance(payload, torch.Tensor) or (
        kind == "list" and any(isinstance(x, torch.Tensor) for x in payload))
    return kind, torch_in


def restore_form(out: SequenceBatch, kind, layout="time_first"):
    """Per-frame outputs ``out`` in the form (``kind``) and ``layout`` the input came in.

    A list gives a list of ``(T_i, ...)`` arrays, a 3-D padded input a NaN-padded 3-D array,
    2-D rows (length-1 sequences) a 2-D array, a :class:`SequenceBatch` a batch; with
    ``layout="channels_first"`` the sequences are ``(..., T_i)`` and the array ``(n, ..., T)``.
    """
    if kind == "batch":
        return out
    if kind == "rows":
        return out.data[:, 0, :]
    channels_first = layout == "channels_first"
    if kind == "list":
        seqs = out.to_list()
        return [s.T for s in seqs] if channels_first else seqs
    # "padded": NaN on padded frames
    if out.is_torch:
        nan = torch.full((), float("nan"), dtype=out.data.dtype, device=out.data.device)
        padded = torch.where(out.mask[:, :, None], out.data, nan)
        return padded.transpose(1, 2) if channels_first else padded
    padded = out.to_nan_padded()
    return np.swapaxes(padded, 1, 2) if channels_first else padded
