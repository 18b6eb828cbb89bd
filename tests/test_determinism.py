"""Determinism: the same ``random_state`` gives bit-identical results, in this process and in
two fresh ones, and seqot never reads or advances the global random state of ``numpy``,
``torch`` or ``random``.

Bit-identity is promised on the CPU for a fixed torch thread count (reductions may be summed
in another order on another count); the tests pin one thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone

from seqot.utils import all_estimators
from seqot.utils._test_common import construct_instance
from seqot.utils.estimator_checks import make_check_data

ESTIMATORS = [construct_instance(cls) for _, cls in all_estimators()]
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform")


def _data(est):
    X, y = make_check_data(random_state=21)
    if type(est).__name__ == "GrassmannKernel":
        from seqot.subspace import PCASubspacePooling

        X = PCASubspacePooling(n_components=est.n_components).fit_transform(X)
    return X, y


def fingerprint(est):
    """sha256 of everything the fitted estimator outputs on its training data."""
    X, y = _data(est)
    if "random_state" in est.get_params():
        est = clone(est).set_params(random_state=0)
    model = clone(est).fit(X, y)
    h = hashlib.sha256()
    for m in OUTPUT_METHODS:
        if hasattr(model, m):
            value = getattr(model, m)(X)
            for v in value if isinstance(value, list) else [value]:
                v = np.ascontiguousarray(np.asarray(v))
                h.update(m.encode() + str(v.dtype).encode() + str(v.shape).encode())
                h.update(v.tobytes())
    return h.hexdigest()


_SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_determinism import ESTIMATORS, fingerprint
print(json.dumps({{type(e).__name__: fingerprint(e) for e in ESTIMATORS}}))
"""


def _fingerprints_in_subprocess(hash_seed):
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed), OMP_NUM_THREADS="1")
    script = _SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)))
    return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_same_random_state_is_bit_identical_across_processes():
    """Two fresh interpreters (different hash seeds) and this one agree bit for bit."""
    procs = [_fingerprints_in_subprocess(seed) for seed in (1, 2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    here = {type(e).__name__: fingerprint(e) for e in ESTIMATORS}
    assert set(results[0]) == set(here)
    for name in here:
        assert results[0][name] == results[1][name] == here[name], name


def _global_states():
    return (np.random.get_state()[1].copy(), np.random.get_state()[2], torch.get_rng_state(),
            random.getstate())


def _assert_states_equal(before, after, what):
    np.testing.assert_array_equal(before[0], after[0], err_msg=f"{what} moved numpy's RNG")
    assert before[1] == after[1], f"{what} moved numpy's RNG"
    assert torch.equal(before[2], after[2]), f"{what} moved torch's global RNG"
    assert before[3] == after[3], f"{what} moved Python's random module"


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_estimators_leave_global_rng_untouched(est):
    X, y = _data(est)
    np.random.seed(123)
    torch.manual_seed(123)
    random.seed(123)
    before = _global_states()
    model = clone(est).fit(X, y)
    for m in OUTPUT_METHODS:
        if hasattr(model, m):
            getattr(model, m)(X)
    _assert_states_equal(before, _global_states(), type(est).__name__)


def _random_functions():
    """Every public function of seqot that takes a ``random_state``, with small arguments."""
    from seqot import datasets
    from seqot.fewshot import EpisodeSampler
    from seqot.metric_learning import augment_sequence
    from seqot.subspace._acot import random_negatives

    X, y = make_check_data(random_state=0)
    yield "augment_sequence", lambda: augment_sequence(X[0], np.random.default_rng(0))
    yield "random_negatives", lambda: random_negatives(X[0], np.random.default_rng(0))
    yield "make_segmented_sequences", lambda: datasets.make_segmented_sequences(
        n_sequences=2, n_frames=60, n_segments=(2, 3), min_segment_length=5, random_state=0)
    yield "make_warped_sequences", lambda: datasets.make_warped_sequences(
        n_classes=2, n_per_class=2, random_state=0)
    yield "make_reversal_tasks", lambda: datasets.make_reversal_tasks(
        n_classes=2, n_per_class=2, random_state=0)
    yield "make_order_only_sequences", lambda: datasets.make_order_only_sequences(
        n_sequences=4, random_state=0)
    yield "make_japanese_vowels_videos", lambda: datasets.make_japanese_vowels_videos(
        n_videos=2, random_state=0)
    yield "EpisodeSampler", lambda: list(EpisodeSampler(
        n_way=2, n_shot=1, n_query=1, n_episodes=3, random_state=0).split(X, y))


@pytest.mark.parametrize("name, call", list(_random_functions()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_random_functions_leave_global_rng_untouched_and_repeat(name, call):
    np.random.seed(7)
    torch.manual_seed(7)
    random.seed(7)
    before = _global_states()
    first = call()
    _assert_states_equal(before, _global_states(), name)
    second = call()
    assert _digest(first) == _digest(second), f"{name} is not deterministic"


def _digest(obj):
    h = hashlib.sha256()

    def feed(o):
        if isinstance(o, dict):
            for k in sorted(o, key=str):
                h.update(str(k).encode())
                feed(o[k])
        elif isinstance(o, (list, tuple)):
            for v in o:
                feed(v)
        elif isinstance(o, torch.Tensor):
            feed(o.detach().cpu().numpy())
        elif isinstance(o, np.ndarray) or np.isscalar(o):
            a = np.ascontiguousarray(np.asarray(o))
            h.update(str(a.dtype).encode() + a.tobytes())
        elif hasattr(o, "__dict__"):
            feed(vars(o))
        else:
            h.update(repr(o).encode())

    feed(obj)
    return h.hexdigest()


def test_random_state_none_draws_fresh_entropy_without_the_global_rng():
    """``random_state=None`` must not mean "the global RNG" (sklearn's check_random_state(None)
    does): EpisodeSampler used it and moved numpy's global state."""
    from seqot import datasets
    from seqot.fewshot import EpisodeSampler

    X, y = make_check_data(random_state=0)
    calls = {
        "EpisodeSampler": lambda: list(EpisodeSampler(
            n_way=2, n_shot=1, n_query=1, n_episodes=3, random_state=None).split(X, y)),
        "make_order_only_sequences": lambda: datasets.make_order_only_sequences(
            n_sequences=4, random_state=None),
    }
    for est in ESTIMATORS:
        if "random_state" in est.get_params():
            Xe, ye = _data(est)
            calls[type(est).__name__] = (
                lambda est=est, Xe=Xe, ye=ye: clone(est).set_params(random_state=None).fit(Xe, ye))
    for name, call in calls.items():
        np.random.seed(5)
        torch.manual_seed(5)
        random.seed(5)
        before = _global_states()
        call()
        _assert_states_equal(before, _global_states(), f"{name} with random_state=None")
