"""Declarative parameter validation, on scikit-learn's own machinery.

Every public estimator declares ``_parameter_constraints`` (a dict from each constructor
parameter to a list of accepted constraints) and every public function is wrapped in
:func:`validate_params`. The checks run once, in one place: :func:`validate_sequences` (the one
input-validation path of the sequence estimators) calls :func:`check_estimator_params` before it
reads any data, both in ``fit`` and in ``predict``/``transform``, so a ``set_params`` after fit
cannot slip a bad value past them.

The constraint objects are scikit-learn's (``Interval``, ``StrOptions``, ``Options``,
``HasMethods``, ``"boolean"``, ``"random_state"``, ...), imported here and nowhere else, so that a
change in scikit-learn's private module is fixed in one file. Two additions:

* :class:`Interval` refuses booleans (``True`` is an ``Integral`` to Python, never a block size);
* named constraint lists for the shared vocabulary (:data:`DEVICE`, :data:`RANDOM_STATE`,
  :data:`N_JOBS`, :data:`BLOCK_SIZE`, :data:`LAYOUT`, ...), so each is written once.

Errors are :class:`InvalidParameterError` (a subclass of both ``ValueError`` and ``TypeError``)
and read ``The 'reg' parameter of sinkhorn must be a float in the range (0.0, inf). Got -1
instead.``
"""

from __future__ import annotations

import functools
import inspect
import threading
from numbers import Integral, Real

import numpy as np
import torch
from sklearn import get_config as _sklearn_get_config
from sklearn.base import _fit_context  # noqa: F401  (re-exported for estimators)
from sklearn.utils._param_validation import HasMethods, Hidden, InvalidParameterError, Options
from sklearn.utils._param_validation import Interval as _SklearnInterval
from sklearn.utils._param_validation import RealNotInt, StrOptions
from sklearn.utils._param_validation import generate_invalid_param_val as _sk_invalid_value
from sklearn.utils._param_validation import make_constraint, validate_parameter_constraints

__all__ = [
    "BLOCK_SIZE",
    "DEVICE",
    "HasMethods",
    "Hidden",
    "Integral",
    "Interval",
    "InvalidParameterError",
    "LAYOUT",
    "N_JOBS",
    "Options",
    "RANDOM_STATE",
    "Real",
    "RealNotInt",
    "StrOptions",
    "VERBOSE",
    "check_estimator_params",
    "generate_invalid_param_val",
    "make_constraint",
    "validate_params",
]


class Interval(_SklearnInterval):
    """scikit-learn's ``Interval``, except that a bool is never in it.

    ``Interval(Integral, 1, None, closed="left")`` would otherwise take ``True`` for 1.
    """

    def is_satisfied_by(self, val):
        if isinstance(val, (bool, np.bool_)):
            return False
        return super().is_satisfied_by(val)


def finite(kind=Real, low=None, high=None, closed="neither"):
    """An interval that also refuses infinity (``np.inf`` stands in for a missing bound)."""
    if kind is Integral:
        return Interval(kind, low, high, closed=closed)
    return Interval(kind, -np.inf if low is None else low, np.inf if high is None else high,
                    closed=closed)


#: A positive finite real (a regulariser, a temperature, a learning rate, a bandwidth).
POSITIVE = [finite(Real, 0, None, closed="neither")]
#: A non-negative finite real (a weight that may switch a term off).
NON_NEGATIVE = [finite(Real, 0, None, closed="left")]
#: A fraction in [0, 1].
UNIT_INTERVAL = [Interval(Real, 0, 1, closed="both")]
#: An int >= 1 (counts: iterations, epochs, components).
POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]
#: A convergence tolerance: 0 (run max_iter iterations) or a positive finite real.
TOL = NON_NEGATIVE
#: ``"auto"`` (CUDA when available, else CPU), a device string or a :class:`torch.device`.
DEVICE = [str, torch.device, None]
#: Everything :func:`seqot.utils.check_random_state` takes.
RANDOM_STATE = ["random_state", np.random.Generator, np.random.SeedSequence,
                np.random.BitGenerator]
#: joblib's ``n_jobs``: None, a positive count or a negative count from the end (-1: all).
N_JOBS = [Interval(Integral, 1, None, closed="left"), Interval(Integral, None, -1, closed="right"),
          None]
#: Pairs per chunk of the pairwise driver (None: chosen from the memory budget).
BLOCK_SIZE = [Interval(Integral, 1, None, closed="left"), None]
#: How a collection stores its frames.
LAYOUT = [StrOptions({"time_first", "channels_first"})]
#: A bool or a non-negative int verbosity level.
VERBOSE = ["verbose"]


def validate_params(parameter_constraints, *, prefer_skip_nested_validation=True):
    """Decorate a public function so that its arguments are checked against constraints.

    The same contract as scikit-learn's ``validate_params`` (the constraints are stored as
    ``func._skl_parameter_constraints``, the error is scikit-learn's ``InvalidParameterError``
    with its message, the global ``skip_parameter_validation`` configuration is honoured), at
    a few microseconds per call instead of about a hundred: the signature and the constraint
    objects are built once, only the arguments actually passed are checked (defaults are
    valid by construction), and nested validated calls are skipped through a thread-local
    depth counter instead of a configuration context. Per-pair distances sit in user loops,
    where scikit-learn's per-call cost would exceed the computation.

    Arguments not named in ``parameter_constraints`` are not checked (data, validated by the
    function itself). Parameters of estimators are not affected by the nesting: an estimator
    fitted inside a validated function still checks its own ``_parameter_constraints``.
    """
    if not isinstance(prefer_skip_nested_validation, bool):
        raise ValueError("prefer_skip_nested_validation must be a bool.")

    def decorator(func):
        func._skl_parameter_constraints = parameter_constraints
        sig = inspect.signature(func)
        unknown = set(parameter_constraints) - set(sig.parameters)
        if unknown:
            raise ValueError(f"constraints of {func.__qualname__} name parameters it does not "
                             f"have: {sorted(unknown)}.")
        positional = [p.name for p in sig.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        constraints = {name: [make_constraint(c) for c in cs]
                       for name, cs in parameter_constraints.items() if cs != "no_validation"}

        def check(name, value):
            cs = constraints.get(name)
            if cs is None:
                return
            for c in cs:
                if c.is_satisfied_by(value):
                    return
            # scikit-learn's own message (the hidden constraints left out, as there)
            validate_parameter_constraints({name: parameter_constraints[name]}, {name: value},
                                           caller_name=func.__qualname__)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if _NESTING.depth or _sklearn_get_config()["skip_parameter_validation"]:
                return func(*args, **kwargs)
            for name, value in zip(positional, args):
                check(name, value)
            for name, value in kwargs.items():
                check(name, value)
            if not prefer_skip_nested_validation:
                return func(*args, **kwargs)
            _NESTING.depth += 1
            try:
                return func(*args, **kwargs)
            finally:
                _NESTING.depth -= 1

        return wrapper

    return decorator


class _Nesting(threading.local):
    depth = 0


_NESTING = _Nesting()


def check_estimator_params(estimator):
    """Check every constructor parameter of ``estimator`` against its ``_parameter_constraints``.

    Called at the start of ``fit`` and of every method that reads parameters, so values set
    after fit are checked where they are used. Honours scikit-learn's
    ``skip_parameter_validation`` configuration.
    """
    from sklearn import get_config

    if get_config().get("skip_parameter_validation", False):
        return
    constraints = getattr(type(estimator), "_parameter_constraints", None)
    if constraints is None:
        return
    validate_parameter_constraints(constraints, estimator.get_params(deep=False),
                                   caller_name=type(estimator).__name__)


def generate_invalid_param_val(constraint):
    """A value that violates ``constraint`` (scikit-learn's generator, aware of bool-free
    intervals and infinity-free bounds)."""
    if isinstance(constraint, _SklearnInterval) and constraint.type is not Integral:
        if constraint.right == np.inf and constraint.closed in ("left", "neither"):
            return np.inf
        if constraint.left == -np.inf and constraint.closed in ("right", "neither"):
            return -np.inf
    return _sk_invalid_value(constraint)
