"""seqot's joblib loops run unchanged on a dask cluster (issue 9, item 4).

Every CPU-parallel loop of seqot goes through ``joblib.Parallel``; under
``joblib.parallel_backend("dask")`` its tasks are shipped to the cluster's workers. The
``prefer="threads"`` hints of the pairwise driver and the EMD solver are only hints: joblib
ignores them when a backend is set explicitly, so those loops reach dask too. Each test checks
that the cluster result equals the local one *exactly* and that tasks reached the workers.
"""
import os

import joblib
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from seqot.datasets import make_reversal_tasks  # noqa: E402
from seqot.distances import pairwise_sequence_distances  # noqa: E402
from seqot.fewshot import EpisodeSampler, SequenceNearestCentroid, evaluate_episodes  # noqa: E402
from seqot.ot import emd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # in-process workers by default: they start in well under a second (worker processes take
    # ~15 s on 2 busy CPU cores to spawn and import torch); the tasks still go through dask's
    # scheduler and joblib's dask backend. SEQOT_DASK_PROCESSES=1 runs the same tests on
    # worker processes, which also exercises pickling of every task.
    processes = os.environ.get("SEQOT_DASK_PROCESSES", "0") == "1"
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                       dashboard_address=None)
    cl = distributed.Client(cluster)
    try:
        yield cl
    finally:
        cl.close()
        cluster.close()


def on_dask(client, fn):
    """Run ``fn`` under the dask joblib backend; return its result and the task count."""
    with distributed.get_task_stream(client) as ts:
        with joblib.parallel_backend("dask"):
            out = fn()
    return out, len(ts.data)


@pytest.fixture(scope="module")
def sequences():
    X, y = make_reversal_tasks(n_classes=4, n_per_class=5, random_state=0)
    return X, np.asarray(y)


def test_pairwise_blocks_run_on_dask(client, sequences):
    X, _ = sequences
    Y = X[:9]

    def run():
        return pairwise_sequence_distances(X, Y, metric="dtw", n_jobs=2, block_size=4,
                                           device="cpu")

    local = run()
    remote, n_tasks = on_dask(client, run)
    assert n_tasks > 0  # prefer="threads" does not keep the blocks off the cluster
    np.testing.assert_array_equal(remote, local)
    # the symmetric X-vs-X path (upper-triangle blocks) too
    local = pairwise_sequence_distances(X, metric="dtw", n_jobs=2, block_size=4, device="cpu")
    remote, n_tasks = on_dask(client, lambda: pairwise_sequence_distances(
        X, metric="dtw", n_jobs=2, block_size=4, device="cpu"))
    assert n_tasks > 0
    np.testing.assert_array_equal(remote, local)


def test_exact_emd_batch_runs_on_dask(client):
    rng = np.random.default_rng(0)
    C = rng.random((12, 6, 7))
    a = rng.random((12, 6))
    b = rng.random((12, 7))
    a /= a.sum(1, keepdims=True)
    b /= b.sum(1, keepdims=True)
    local = emd(C, a, b, n_jobs=2)
    remote, n_tasks = on_dask(client, lambda: emd(C, a, b, n_jobs=2))
    assert n_tasks > 0
    np.testing.assert_array_equal(remote.value, local.value)
    np.testing.assert_array_equal(remote.plan, local.plan)
    for r, lo in zip(remote.potentials, local.potentials):
        np.testing.assert_array_equal(r, lo)


def test_acot_subspaces_run_on_dask(client, sequences):
    pytest.importorskip("pymanopt")
    from seqot.subspace import ACOTSubspacePooling

    X, _ = sequences
    X = X[:6]

    def run(n_jobs):
        return ACOTSubspacePooling(noise="random", n_components=2, n_jobs=n_jobs,
                                   random_state=0).fit_transform(X)

    # local reference run sequentially: a cold loky pool costs ~15 s on 2 busy cores, and
    # the result does not depend on n_jobs (tests/test_acot.py checks n_jobs=2 locally)
    local = run(None)
    remote, n_tasks = on_dask(client, lambda: run(2))
    assert n_tasks > 0
    np.testing.assert_array_equal(remote, local)


def test_episode_evaluation_runs_on_dask(client, sequences):
    X, y = sequences
    D = pairwise_sequence_distances(X, metric="dtw", device="cpu")
    sampler = EpisodeSampler(n_way=3, n_shot=1, n_query=2, n_episodes=20, random_state=0)

    def run(n_jobs):
        return evaluate_episodes(SequenceNearestCentroid(metric="precomputed"), D, y, sampler,
                                 n_jobs=n_jobs)

    local = run(None)  # sequential reference (episodes are seeded by the sampler, not n_jobs)
    remote, n_tasks = on_dask(client, lambda: run(2))
    assert n_tasks > 0
    np.testing.assert_array_equal(remote.scores, local.scores)
    assert remote.mean == local.mean and remote.ci95 == local.ci95


def test_nested_episodes_on_raw_sequences(client, sequences):
    # episodes on dask, each fitting an estimator whose own pairwise loop is parallel too
    X, y = sequences
    sampler = EpisodeSampler(n_way=3, n_shot=1, n_query=2, n_episodes=6, random_state=1)
    est = SequenceNearestCentroid(metric="dtw", block_size=2, n_jobs=2, device="cpu")

    local = evaluate_episodes(est, X, y, sampler)  # sequential episodes, threaded blocks
    remote, n_tasks = on_dask(client, lambda: evaluate_episodes(est, X, y, sampler, n_jobs=2))
    assert n_tasks > 0
    np.testing.assert_array_equal(remote.scores, local.scores)
