"""Peak memory of the long-sequence cases: ASOT on very long videos, Sinkhorn on long pairs.

* ASOT (``seqot.ot.asot``, float32, K = 20 actions, 25 iterations): N from 25,000 to 200,000
  frames. Memory must grow linearly in N·K; a dense frame-structure matrix (the reference
  code's way) would need 4·N² bytes.
* Pairwise Sinkhorn (``pairwise_sequence_distances(metric="sinkhorn")``, float32, d = 16,
  20 iterations): sequences of T = 500 … 2,000 frames, 2 and 4 sequences. A block holds at
  most 16M cost entries, so the peak depends on T but not on the number of pairs.

Each case runs in a fresh child process, after a small warm-up solve, and reports the growth
of its peak resident set size (ru_maxrss) over the warm-up peak.

Run: ``python benchmarks/bench_long_sequences.py`` (``--quick`` for a smoke run).
"""

import argparse
import json
import subprocess
import sys

_CHILD = """
import json, resource, time, numpy as np, torch
torch.set_num_threads({threads})
import seqot.ot, seqot.distances
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rng = np.random.default_rng(0)
case, a, b = {case!r}, {a}, {b}
if case == "asot":
    seqot.ot.asot(rng.random((500, b)).astype(np.float32))
    C = rng.random((a, b)).astype(np.float32)
    base = peak_mb(); t0 = time.perf_counter()
    out = np.asarray(seqot.ot.asot(C).plan)
    finite = bool(np.isfinite(out).all())
else:
    seqot.distances.pairwise_sequence_distances(
        [rng.normal(size=(50, 16)).astype(np.float32)] * 2, metric="sinkhorn", max_iter=5)
    X = [rng.normal(size=(a, 16)).astype(np.float32) for _ in range(b)]
    base = peak_mb(); t0 = time.perf_counter()
    D = seqot.distances.pairwise_sequence_distances(X, metric="sinkhorn", reg=0.5, max_iter=20)
    finite = bool(np.isfinite(D).all())
print(json.dumps(dict(extra=peak_mb() - base, seconds=time.perf_counter() - t0,
                      finite=finite)))
"""


def _child(case, a, b, threads):
    code = _CHILD.format(case=case, a=a, b=b, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    K = 20
    frames = (25_000, 50_000) if args.quick else (25_000, 50_000, 100_000, 200_000)
    print(f"ASOT, float32, K = {K}, 25 iterations, {args.threads} thread(s)")
    print(f"{'N':>9}{'time (s)':>10}{'peak growth (MB)':>18}{'bytes / (N K)':>15}"
          f"{'dense C^v (GB)':>16}")
    for N in frames:
        r = _child("asot", N, K, args.threads)
        assert r["finite"]
        print(f"{N:>9,}{r['seconds']:>10.2f}{r['extra']:>18.0f}"
              f"{r['extra'] * 2**20 / (N * K):>15.0f}{4 * N * N / 1e9:>16.1f}")

    lengths = (500, 1000) if args.quick else (500, 1000, 2000)
    print(f"\npairwise Sinkhorn, float32, d = 16, 20 iterations, {args.threads} thread(s)")
    print(f"{'T':>6}{'sequences':>11}{'pairs':>7}{'time (s)':>10}{'peak growth (MB)':>18}"
          f"{'all costs at once (MB)':>24}")
    for T in lengths:
        for n in (2, 4):
            r = _child("sinkhorn", T, n, args.threads)
            assert r["finite"]
            pairs = n * (n + 1) // 2
            print(f"{T:>6}{n:>11}{pairs:>7}{r['seconds']:>10.2f}{r['extra']:>18.0f}"
                  f"{pairs * T * T * 4 / 2**20:>24.0f}")


if __name__ == "__main__":
    main()
