"""Numerical stress: long sequences in bounded memory.

Each case runs in a fresh interpreter and reads its own peak resident set size, so the bound
is on everything the computation allocates (torch's CPU allocator included, which
``tracemalloc`` would not see). The bounds are the documented ones (doc/security.rst,
"Resource use"); ``benchmarks/bench_long_sequences.py`` prints the full tables.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PRELUDE = """
import json, resource, numpy as np, torch
torch.set_num_threads(1)
import seqot.ot, seqot.distances
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rng = np.random.default_rng(0)
"""


def _run(body):
    out = subprocess.run([sys.executable, "-c", _PRELUDE + body], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_asot_on_100k_frames_runs_in_bounded_memory():
    """ASOT is O(NK) per iteration: 100,000 frames x 20 actions (a 7.6 MB float32 cost) stay
    far below the 40 GB that a dense N x N frame-structure matrix would need."""
    res = _run("""
seqot.ot.asot(rng.random((500, 20)).astype(np.float32))  # torch's one-off allocations
N, K = 100_000, 20
C = rng.random((N, K)).astype(np.float32)
base = peak_mb()
out = seqot.ot.asot(C)
P = np.asarray(out.plan)
labels = P.argmax(1)
print(json.dumps(dict(extra=peak_mb() - base, finite=bool(np.isfinite(P).all()),
                      dtype=str(P.dtype), rows=float(np.abs(P.sum(1) - 1).max()),
                      n_labels=int(len(np.unique(labels))))))
""")
    assert res["finite"] and res["dtype"] == "float32"
    assert res["rows"] < 1e-3  # frame marginal (the plan is returned as N T: rows sum to 1)
    assert res["n_labels"] > 1
    # documented bound: 160 bytes per cost entry, linear in N (measured: 64-98 bytes for
    # N = 25k-200k, K = 20); a dense structure matrix would need 40 GB
    assert res["extra"] < 160 * 100_000 * 20 / 2**20, res


@pytest.mark.slow
def test_pairwise_sinkhorn_on_2000_frame_sequences_runs_in_bounded_memory():
    """Three 2,000-frame pairs: a block holds at most 16M cost entries, so the peak does not
    grow with the number of pairs (the full scaling is in bench_long_sequences.py)."""
    res = _run("""
T, d = 2000, 16
X = [rng.normal(size=(T, d)).astype(np.float32) for _ in range(2)]
base = peak_mb()
D = seqot.distances.pairwise_sequence_distances(X, metric="sinkhorn", reg=0.5, max_iter=10)
print(json.dumps(dict(extra=peak_mb() - base, finite=bool(np.isfinite(D).all()),
                      D=D.tolist())))
""")
    assert res["finite"]
    D = res["D"]
    assert D[0][1] == pytest.approx(D[1][0], rel=1e-3)  # 10 iterations: nearly symmetric
    assert D[0][1] > 10 * max(D[0][0], D[1][1])
    # documented bound: 1 GiB for a block of 16M float32 entries and its Sinkhorn buffers
    assert res["extra"] < 1024, res
