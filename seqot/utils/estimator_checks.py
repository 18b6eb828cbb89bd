"""seqot's own estimator checks: what scikit-learn's checks cannot see about sequences.

Each check takes ``(name, estimator)`` like scikit-learn's and raises ``AssertionError`` on a
violation. They run on small ragged data with a class structure:

* :func:`check_list_vs_padded` — a ragged list and the same data as a 3-D NaN-padded array
  give identical results;
* :func:`check_padding_invariance` — appending all-NaN padding frames changes nothing;
* :func:`check_variable_length` — fit on length ``T``, predict on length ``T' != T``;
* :func:`check_float32_preserved` — float32 in gives float32 out (transformers) and works;
* :func:`check_random_state_determinism` — the same ``random_state`` gives identical results;
* :func:`check_pickle_roundtrip` — a pickled and reloaded fitted model predicts identically;
* :func:`check_torch_input_with_grad` — tensors that require grad (features out of a network)
  fit and predict like the same numpy data, and their ``.grad`` stays untouched;
* :func:`check_refit_forgets_previous_fit` — a refit on other data (other ``d``, other classes)
  equals a fresh fit: same outputs and the same fitted attributes, none left over;
* :func:`check_channels_first_layout` — ``layout="channels_first"`` on aeon-style ``(d, T_i)``
  sequences and ``(n, d, T)`` arrays gives the results of the time-first data, and a list of
  ``(d, T_i)`` sequences without it is refused with an error naming the option;
* :func:`check_parameter_constraints` — ``_parameter_constraints`` names every constructor
  parameter, and each constraint violated once (a value of no accepted type, each constraint's
  own out-of-range values, NaN and infinity for reals) raises a ``ValueError``/``TypeError``
  naming the parameter, in ``fit`` and, set after fit, in every output method.

For public functions wrapped in ``validate_params``, :func:`function_constraint_cases` lists
every declared constraint violated once and :func:`check_function_constraint` asserts that one
such call raises naming the parameter.

Use :func:`parametrize_with_sequence_checks` in a test module, or
:func:`check_sequence_estimator` to run everything at once.
"""

from __future__ import annotations

import functools
import pickle

import numpy as np
from sklearn.base import clone

__all__ = [
    "check_channels_first_layout",
    "check_float32_preserved",
    "check_function_constraint",
    "check_list_vs_padded",
    "check_padding_invariance",
    "check_parameter_constraints",
    "check_pickle_roundtrip",
    "check_random_state_determinism",
    "check_refit_forgets_previous_fit",
    "check_sequence_estimator",
    "check_torch_input_with_grad",
    "check_variable_length",
    "function_constraint_cases",
    "invalid_parameter_values",
    "make_check_data",
    "parametrize_with_sequence_checks",
    "yield_sequence_checks",
]

_OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform", "score_samples")


def make_check_data(n_classes=3, n_per_class=6, length=(4, 9), n_features=3, random_state=0,
                    dtype=np.float64):
    """Small ragged sequences whose class is set by their mean and their temporal trend."""
    rng = np.random.default_rng(random_state)
    centers = rng.normal(size=(n_classes, n_features)) * 2.0
    trends = rng.normal(size=(n_classes, n_features))
    X, y = [], []
    for c in range(n_classes):
        for _ in range(n_per_class):
            T = length if np.isscalar(length) else int(rng.integers(length[0], length[1] + 1))
            t = np.linspace(0.0, 1.0, T)[:, None]
            X.append((centers[c] + t * trends[c] + 0.3 * rng.normal(size=(T, n_features)))
                     .astype(dtype))
            y.append(c)
    return X, np.asarray(y)


def _nan_padded(X, extra=0):
    T = max(len(x) for x in X) + extra
    out = np.full((len(X), T, X[0].shape[1]), np.nan, dtype=X[0].dtype)
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return out


def _outputs(est, X):
    out = {}
    for method in _OUTPUT_METHODS:
        if hasattr(est, method):
            out[method] = getattr(est, method)(X)
    if not out:
        raise AssertionError(f"{type(est).__name__} has none of {_OUTPUT_METHODS}.")
    return out


def _as_list(value):
    """Outputs as a list of arrays; a 3-D float output is a NaN-padded batch of sequences
    (a transformer returning sequences in the input's form), compared sequence by sequence."""
    if isinstance(value, (list, tuple)):
        return [np.asarray(v) for v in value]
    value = np.asarray(value)
    if value.ndim == 3 and value.dtype.kind == "f":
        real = ~np.all(np.isnan(value), axis=2)
        return [v[: (np.flatnonzero(r)[-1] + 1 if r.any() else 0)] for v, r in zip(value, real)]
    return [value]


def _assert_same(a, b, *, exact, what):
    for method in a:
        va, vb = _as_list(a[method]), _as_list(b[method])
        assert len(va) == len(vb), f"{what}: {method} returned different numbers of outputs"
        for xa, xb in zip(va, vb):
            if exact or xa.dtype.kind not in "fc":
                np.testing.assert_array_equal(xa, xb, err_msg=f"{what}: {method} differs")
            else:
                tol = 1e-5 if xa.dtype == np.float32 else 1e-9
                np.testing.assert_allclose(xa, xb, rtol=tol, atol=tol,
                                           err_msg=f"{what}: {method} differs")


def _fitted(est, X, y):
    return clone(est).fit(X, y)


def _seeded(estimator):
    est = clone(estimator)
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    return est


def check_list_vs_padded(name, estimator):
    X, y = make_check_data()
    Xp = _nan_padded(X)
    a = _outputs(_fitted(estimator, X, y), X)
    b = _outputs(_fitted(estimator, Xp, y), Xp)
    _assert_same(a, b, exact=False, what=f"{name}: list vs 3-D NaN-padded input")


def check_padding_invariance(name, estimator):
    X, y = make_check_data(random_state=1)
    est = _fitted(estimator, X, y)
    a = _outputs(est, _nan_padded(X))
    b = _outputs(est, _nan_padded(X, extra=7))
    _assert_same(a, b, exact=False, what=f"{name}: extra trailing NaN padding at predict")
    c = _outputs(_fitted(estimator, _nan_padded(X, extra=5), y), X)
    d = _outputs(est, X)
    _assert_same(c, d, exact=False, what=f"{name}: extra trailing NaN padding at fit")


def check_variable_length(name, estimator):
    X, y = make_check_data(length=6, random_state=2)
    Xq, _ = make_check_data(length=9, n_per_class=2, random_state=3)
    est = _fitted(estimator, X, y)
    for method, value in _outputs(est, Xq).items():
        for v in _as_list(value):
            if v.dtype.kind == "f":
                assert np.all(np.isfinite(v)), f"{name}.{method} not finite on longer sequences"
        n = len(value) if isinstance(value, (list, tuple)) else np.asarray(value).shape[0]
        assert n == len(Xq), f"{name}.{method} returned {n} outputs for {len(Xq)} sequences"


def check_float32_preserved(name, estimator):
    X, y = make_check_data(dtype=np.float32, random_state=4)
    est = _fitted(estimator, X, y)
    for method, value in _outputs(est, X).items():
        for v in _as_list(value):
            if v.dtype.kind == "f":
                assert np.all(np.isfinite(v)), f"{name}.{method} not finite on float32 input"
        if method == "transform":
            for v in _as_list(value):
                assert v.dtype == np.float32, (
                    f"{name}.transform turned float32 input into {v.dtype}"
                )


def check_random_state_determinism(name, estimator):
    X, y = make_check_data(random_state=5)
    est = _seeded(estimator)
    a = _outputs(clone(est).fit(X, y), X)
    b = _outputs(clone(est).fit(X, y), X)
    _assert_same(a, b, exact=True, what=f"{name}: two fits with the same random_state")


def check_pickle_roundtrip(name, estimator):
    X, y = make_check_data(random_state=6)
    est = _fitted(estimator, X, y)
    loaded = pickle.loads(pickle.dumps(est))
    _assert_same(_outputs(est, X), _outputs(loaded, X), exact=True,
                 what=f"{name}: pickle round trip")


def check_torch_input_with_grad(name, estimator):
    import torch

    X, y = make_check_data(random_state=7)
    Xt = [torch.tensor(x, requires_grad=True) for x in X]
    est = _seeded(estimator)
    a = _outputs(clone(est).fit(X, y), X)
    fitted = clone(est).fit(Xt, y)
    b = _outputs(fitted, Xt)
    b = {k: [np.asarray(t.detach().cpu()) if isinstance(t, torch.Tensor) else t
             for t in (v if isinstance(v, (list, tuple)) else [v])] for k, v in b.items()}
    a = {k: (v if isinstance(v, (list, tuple)) else [v]) for k, v in a.items()}
    _assert_same(a, b, exact=False, what=f"{name}: numpy vs torch tensors requiring grad")
    assert all(x.grad is None for x in Xt), f"{name} back-propagated into its input"


def _fitted_names(est):
    return sorted(n for n in vars(est) if n.endswith("_") and not n.startswith("_"))


def check_refit_forgets_previous_fit(name, estimator):
    X1, y1 = make_check_data(n_classes=3, n_features=3, random_state=8)
    X2, y2 = make_check_data(n_classes=2, n_features=2, random_state=9)
    est = _seeded(estimator)
    refit = clone(est).fit(X1, y1).fit(X2, y2)
    fresh = clone(est).fit(X2, y2)
    assert _fitted_names(refit) == _fitted_names(fresh), (
        f"{name}: a refit keeps {sorted(set(_fitted_names(refit)) - set(_fitted_names(fresh)))}"
        f" and lacks {sorted(set(_fitted_names(fresh)) - set(_fitted_names(refit)))}")
    _assert_same(_outputs(fresh, X2), _outputs(refit, X2), exact=True,
                 what=f"{name}: refit vs fresh fit")


def _time_first(value, reference):
    """A channels-first output back in the time-first form of ``reference``: per-frame
    outputs (``transform``, ``predict_proba`` of a segmenter) come back in the input's layout,
    ``(k, T_i)`` for ``(T_i, k)`` and ``(n, k, T)`` for ``(n, T, k)``; labels, tables and
    bases as they are."""
    if isinstance(value, (list, tuple)):
        return [np.asarray(v).T if np.ndim(v) == 2 else v for v in value]
    value = np.asarray(value)
    sequences = isinstance(reference, (list, tuple)) or (value.ndim == 3 and np.isnan(
        np.asarray(reference, dtype=float)).any())
    return np.swapaxes(value, 1, 2) if value.ndim == 3 and sequences else value


def check_channels_first_layout(name, estimator):
    if "layout" not in estimator.get_params():
        return
    X, y = make_check_data(random_state=10)  # d = 3, lengths 4..9: never square
    est = _seeded(estimator)
    tf = clone(est).set_params(layout="time_first").fit(X, y)
    a = _outputs(tf, X)
    cf = clone(est).set_params(layout="channels_first")
    Xc = [x.T for x in X]
    b = _outputs(cf.fit(Xc, y), Xc)
    b = {k: _time_first(v, a[k]) for k, v in b.items()}
    _assert_same(a, b, exact=False, what=f"{name}: channels-first (d, T_i) sequences")
    a_padded = _outputs(tf, _nan_padded(X))
    Xp = np.swapaxes(_nan_padded(X), 1, 2)  # (n, d, T), NaN-padded along time
    c = {k: _time_first(v, a_padded[k]) for k, v in _outputs(cf, Xp).items()}
    _assert_same(a_padded, c, exact=False, what=f"{name}: channels-first (n, d, T) array")
    Xu = [x[:4].T for x in X]  # aeon-style (d, T_i), equal d, varying T_i, read time first
    Xu = [np.concatenate([x, x[:, :i % 3]], axis=1) for i, x in enumerate(Xu)]
    try:
        clone(est).set_params(layout="time_first").fit(Xu, y)
    except ValueError as exc:
        assert "channels_first" in str(exc), (
            f"{name}: (d, T_i) sequences read time first fail without naming the layout "
            f"option: {exc}")
    else:
        raise AssertionError(f"{name} silently read (d, T_i) sequences as (T_i, d)")


def invalid_parameter_values(constraints):
    """Values that violate every constraint in ``constraints`` (a ``_parameter_constraints``
    entry): an object of no accepted type, each constraint's own out-of-range values
    (scikit-learn's generator, plus infinity beyond a finite-only bound), NaN and infinity
    where no constraint accepts them, and ``True`` where a number is expected."""
    from numbers import Real

    from ._param_validation import Interval, StrOptions, generate_invalid_param_val
    from ._param_validation import make_constraint

    if isinstance(constraints, str) and constraints == "no_validation":
        return []
    made = [make_constraint(c) for c in constraints]
    candidates = [type("BadType", (), {})()]
    for c in constraints:
        if isinstance(c, (Interval, StrOptions)):
            try:
                candidates.append(generate_invalid_param_val(c))
            except NotImplementedError:  # e.g. an interval over all reals: nothing out of range
                pass
        if isinstance(c, Interval):
            candidates += [np.nan, np.inf, -np.inf, True]
            if c.type is not Real and c.type.__name__ == "Integral":
                candidates.append(1.5)
        if isinstance(c, StrOptions):
            candidates.append("not-an-option")
    out, seen = [], set()
    for v in candidates:
        key = repr(v) if not type(v).__name__ == "BadType" else "BadType"
        if key in seen or any(m.is_satisfied_by(v) for m in made):
            continue
        seen.add(key)
        out.append(v)
    return out


def function_constraint_cases(func, args=(), kwargs=None, *, skip=()):
    """Calls of a validated public function with each declared constraint violated once.

    Parameters
    ----------
    func : callable
        A function wrapped in :func:`seqot.utils._param_validation.validate_params` (it carries
        ``_skl_parameter_constraints``).
    args, kwargs
        A valid call. A parameter given positionally in ``args`` gets its bad value there, any
        other as a keyword.
    skip : iterable of str
        Parameters to leave alone (data whose constraint only says "array-like").

    Returns
    -------
    list of (func, args, kwargs, name)
        One valid-but-for-``name`` call per bad value of :func:`invalid_parameter_values`.
    """
    import inspect

    kwargs = dict(kwargs or {})
    names = list(inspect.signature(func).parameters)
    cases = []
    for name, entry in func._skl_parameter_constraints.items():
        if name in skip:
            continue
        position = names.index(name)
        for bad in invalid_parameter_values(entry):
            if position < len(args):
                cases.append((func, args[:position] + (bad,) + args[position + 1:], kwargs, name))
            else:
                cases.append((func, args, {**kwargs, name: bad}, name))
    return cases


def check_function_constraint(func, args, kwargs, name):
    """``func(*args, **kwargs)`` raises ``InvalidParameterError`` naming ``name`` and ``func``."""
    import re

    from ._param_validation import InvalidParameterError

    try:
        func(*args, **kwargs)
    except InvalidParameterError as exc:
        expected = f"'{name}' parameter of {func.__qualname__}"
        assert re.search(re.escape(expected), str(exc)), (
            f"{func.__qualname__}: a bad {name!r} raised, but the message does not name it: "
            f"{exc}")
    else:
        raise AssertionError(f"{func.__qualname__} accepted an invalid {name!r}: "
                             f"{ {k: v for k, v in kwargs.items() if k == name} or args}")


def _constraint_data(estimator):
    from ._validation import SequenceInputMixin

    if isinstance(estimator, SequenceInputMixin):
        return make_check_data(random_state=11)
    rng = np.random.default_rng(11)
    return rng.normal(size=(12, 4)), np.repeat([0, 1, 2], 4)


def _raises_naming(call, param, what):
    try:
        call()
    except (ValueError, TypeError) as exc:
        assert f"'{param}'" in str(exc) or param in str(exc), (
            f"{what}: the error does not name {param!r}: {exc}")
        return
    raise AssertionError(f"{what} did not raise")


def check_parameter_constraints(name, estimator):
    params = estimator.get_params(deep=False)
    constraints = getattr(type(estimator), "_parameter_constraints", None)
    assert isinstance(constraints, dict), f"{name} has no _parameter_constraints"
    assert set(constraints) == set(params), (
        f"{name}: _parameter_constraints misses {sorted(set(params) - set(constraints))} and "
        f"has extra {sorted(set(constraints) - set(params))}")
    X, y = _constraint_data(estimator)
    fitted = _fitted(_seeded(estimator), X, y)
    methods = [m for m in _OUTPUT_METHODS if hasattr(fitted, m)]
    n_checked = 0
    for param, entry in constraints.items():
        for bad in invalid_parameter_values(entry):
            n_checked += 1
            est = clone(estimator).set_params(**{param: bad})
            _raises_naming(lambda: est.fit(X, y), param, f"{name}(fit, {param}={bad!r})")
            original = fitted.get_params(deep=False)[param]
            fitted.set_params(**{param: bad})
            try:
                for method in methods:
                    _raises_naming(lambda: getattr(fitted, method)(X), param,
                                   f"{name}.{method} after set_params({param}={bad!r})")
            finally:
                fitted.set_params(**{param: original})
    return n_checked


_ALL_CHECKS = (
    check_list_vs_padded,
    check_padding_invariance,
    check_variable_length,
    check_float32_preserved,
    check_random_state_determinism,
    check_pickle_roundtrip,
    check_torch_input_with_grad,
    check_refit_forgets_previous_fit,
    check_channels_first_layout,
)


def yield_sequence_checks(estimator):
    """Yield each sequence check bound to the estimator's class name."""
    name = type(estimator).__name__
    for check in _ALL_CHECKS:
        yield functools.partial(check, name)


def check_sequence_estimator(estimator):
    """Run every sequence check on ``estimator``; raise on the first failure."""
    for check in yield_sequence_checks(estimator):
        check(estimator)


def parametrize_with_sequence_checks(estimators):
    """A ``pytest.mark.parametrize`` decorator over (estimator, check) pairs.

    Examples
    --------
    >>> from seqot.utils.estimator_checks import parametrize_with_sequence_checks
    >>> from seqot.neighbors import KNeighborsSequenceClassifier
    >>> @parametrize_with_sequence_checks([KNeighborsSequenceClassifier(device="cpu")])
    ... def test_sequences(estimator, check):
    ...     check(estimator)
    """
    import pytest

    def ids(obj):
        if isinstance(obj, functools.partial):
            return obj.func.__name__
        return type(obj).__name__

    pairs = [(est, check) for est in estimators for check in yield_sequence_checks(est)]
    return pytest.mark.parametrize("estimator, check", pairs, ids=ids)
