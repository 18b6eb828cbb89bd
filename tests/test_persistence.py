"""Persistence of every fitted estimator: pickle, joblib, device-free state, repr/params/clone.

Every public estimator is discovered automatically (as in ``test_common.py``), fitted on
small ragged data, and must

* predict identically after ``pickle`` and ``joblib.dump``/``joblib.load`` round trips;
* hold its fitted state as numpy arrays and Python scalars only, so that a model fitted on a
  GPU pickles without CUDA storages. The GPU side is simulated: every torch storage that a
  pickle might contain is tagged ``cuda:0`` (what ``torch`` writes for a CUDA tensor), and the
  pickle must still load and predict on this CPU-only process;
* survive ``repr``/``get_params``/``clone`` with non-default parameters.
"""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
import torch
import torch.serialization
from sklearn.base import clone

from seqot.utils import all_estimators
from seqot.utils._test_common import construct_instance
from seqot.utils.estimator_checks import make_check_data

ESTIMATORS = [construct_instance(cls) for _, cls in all_estimators()]
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform")


def _data(est, torch_input=False):
    X, y = make_check_data(random_state=11)
    if type(est).__name__ == "GrassmannKernel":
        from seqot.subspace import PCASubspacePooling

        X = PCASubspacePooling(n_components=est.n_components).fit_transform(X)
    elif torch_input:
        X = [torch.from_numpy(x) for x in X]
    return X, y


def _outputs(est, X):
    out = {}
    for m in OUTPUT_METHODS:
        if hasattr(est, m):
            value = getattr(est, m)(X)
            out[m] = [np.asarray(v) for v in value] if isinstance(value, list) else [
                np.asarray(value)]
    assert out, f"{type(est).__name__} has no output method"
    return out


def _assert_identical(a, b, what):
    assert a.keys() == b.keys()
    for m in a:
        assert len(a[m]) == len(b[m])
        for u, v in zip(a[m], b[m]):
            np.testing.assert_array_equal(u, v, err_msg=f"{what}: {m} differs")


def _ids(est):
    return type(est).__name__


def _tensors_in(obj, path="est", seen=None):
    """Paths of every torch tensor or module reachable from a fitted estimator's state."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        return [path]
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += _tensors_in(v, f"{path}[{k!r}]", seen)
    elif isinstance(obj, (list, tuple, set)):
        for i, v in enumerate(obj):
            found += _tensors_in(v, f"{path}[{i}]", seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        # what pickle stores: the object's __getstate__ when it defines one
        state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
        if not isinstance(state, dict):
            state = vars(obj)
        for k, v in state.items():
            found += _tensors_in(v, f"{path}.{k}", seen)
    return found


@pytest.fixture(scope="module")
def fitted():
    """Each estimator fitted once on numpy input (shared by the tests of this module)."""
    out = {}
    for est in ESTIMATORS:
        X, y = _data(est)
        out[type(est).__name__] = (clone(est).fit(X, y), X)
    return out


@pytest.fixture(scope="module")
def fitted_on_tensors():
    """Each sequence estimator fitted once on a list of torch tensors."""
    out = {}
    for est in ESTIMATORS:
        if type(est).__name__ == "GrassmannKernel":
            continue  # takes subspace bases, not sequences
        X, y = _data(est, torch_input=True)
        out[type(est).__name__] = (clone(est).fit(X, y), X)
    return out


@pytest.mark.parametrize("est", ESTIMATORS, ids=_ids)
def test_pickle_and_joblib_round_trips_predict_identically(est, fitted, tmp_path):
    model, X = fitted[type(est).__name__]
    expected = _outputs(model, X)
    _assert_identical(expected, _outputs(pickle.loads(pickle.dumps(model)), X), "pickle")
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    _assert_identical(expected, _outputs(joblib.load(path), X), "joblib")
    path_c = tmp_path / "model_compressed.joblib"
    joblib.dump(model, path_c, compress=3)
    _assert_identical(expected, _outputs(joblib.load(path_c), X), "joblib compressed")


def _model(est, torch_input, fitted, fitted_on_tensors):
    if not torch_input:
        return fitted[type(est).__name__]
    if type(est).__name__ not in fitted_on_tensors:
        pytest.skip("GrassmannKernel takes subspace bases, not sequences")
    return fitted_on_tensors[type(est).__name__]


TORCH_INPUT = pytest.mark.parametrize("torch_input", [False, True],
                                      ids=["numpy_fit", "tensor_fit"])


@TORCH_INPUT
@pytest.mark.parametrize("est", ESTIMATORS, ids=_ids)
def test_pickled_state_holds_no_tensors(est, torch_input, fitted, fitted_on_tensors):
    """What pickle stores is numpy: nothing in it remembers the device it was trained on."""
    model, _ = _model(est, torch_input, fitted, fitted_on_tensors)
    assert _tensors_in(model) == []


@pytest.fixture
def storages_tagged_cuda(monkeypatch):
    """Make every torch storage pickle as if it lived on ``cuda:0``."""
    real = torch.serialization.location_tag
    monkeypatch.setattr(torch.serialization, "location_tag",
                        lambda storage: "cuda:0" if real(storage) == "cpu" else real(storage))


def test_cuda_tagging_simulation_is_real(storages_tagged_cuda):
    """The simulation bites: a bare tensor pickled this way does not load without a GPU."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: a cuda-tagged pickle loads here")
    blob = pickle.dumps(torch.ones(3))
    with pytest.raises(RuntimeError, match="CUDA"):
        pickle.loads(blob)


@TORCH_INPUT
@pytest.mark.parametrize("est", ESTIMATORS, ids=_ids)
def test_model_pickled_on_gpu_loads_and_predicts_on_cpu(est, torch_input, fitted,
                                                        fitted_on_tensors, storages_tagged_cuda):
    model, X = _model(est, torch_input, fitted, fitted_on_tensors)
    blob = pickle.dumps(model)  # every storage in it would say cuda:0
    loaded = pickle.loads(blob)
    _assert_identical(_outputs(model, X), _outputs(loaded, X), "cuda-tagged pickle on CPU")


# ---------------------------------------------------------------------------
# repr / get_params / clone
# ---------------------------------------------------------------------------
def _non_default_params(est):
    """A copy of ``est`` with every int/float/bool parameter changed to another valid value."""
    params = {}
    for name, value in est.get_params(deep=False).items():
        if isinstance(value, bool):
            continue  # flipping a flag may need other params; the ints/floats suffice
        if isinstance(value, int) and name in ("random_state",):
            params[name] = value + 7
        elif isinstance(value, float) and np.isfinite(value) and value > 0:
            params[name] = value * 0.5
    return params


@pytest.mark.parametrize("est", ESTIMATORS, ids=_ids)
def test_repr_get_params_clone(est):
    changed = clone(est).set_params(**_non_default_params(est))
    params = changed.get_params(deep=False)
    text = repr(changed)
    assert text.startswith(type(est).__name__ + "(")
    # the repr rebuilds an estimator with the same parameters (sklearn shows changed ones)
    namespace = {type(est).__name__: type(est), "np": np, "inf": np.inf, "nan": np.nan}
    rebuilt = eval(text, namespace)  # noqa: S307 - our own repr, in a test
    assert _same_params(rebuilt.get_params(deep=False), params)
    twin = clone(changed)
    assert twin is not changed
    assert _same_params(twin.get_params(deep=False), params)
    for name, value in params.items():
        if isinstance(value, (dict, list, np.ndarray)):
            assert getattr(twin, name) is not value or value is None, name


def _same_params(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or (np.isnan(x) and np.isnan(y))):
                return False
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("est", ESTIMATORS, ids=_ids)
def test_unfitted_clone_and_pickle_keep_no_fitted_state(est, fitted):
    model, X = fitted[type(est).__name__]
    twin = clone(model)
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(twin))
    # the fitted original is untouched by cloning
    _assert_identical(_outputs(model, X), _outputs(model, X), "after clone")
