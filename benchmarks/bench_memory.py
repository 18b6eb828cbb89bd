"""Peak memory of pairwise_sequence_distances: bounded by the block size, not by n².

Workload (issue 3): 2000 x 2000 pairs of length-100, d = 64 sequences. Each run happens in a
fresh child process and reports its peak resident set size (ru_maxrss), beside the size
that a dense, unchunked computation of the same metric would need.

Run: ``python benchmarks/bench_memory.py`` (``--n 500`` for a smoke run).
"""

import argparse
import multiprocessing as mp
import resource
import time


def child(metric, n, length, d, params, queue):
    import numpy as np
    import torch

    from seqot.distances import pairwise_sequence_distances

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, length, d)).astype(np.float32)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    D = pairwise_sequence_distances(X, metric=metric, device="cpu", **params)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((base, peak, elapsed, D.shape, bool(np.isfinite(D).all()),
               torch.get_num_threads()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--metrics", default="dtw,soft_dtw")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(f"{args.n} x {args.n} pairs, length {args.length}, d = {args.d}, float32")
    print(f"{'metric':<12}{'time (s)':>10}{'peak RSS (MB)':>16}{'input+libs (MB)':>18}"
          f"{'dense would need (GB)':>24}")
    for metric in args.metrics.split(","):
        queue = ctx.Queue()
        proc = ctx.Process(target=child, args=(metric, args.n, args.length, args.d, {}, queue))
        proc.start()
        base, peak, elapsed, shape, finite, threads = queue.get()
        proc.join()
        # a dense computation holds at least the (n, n, T, T) cost tensor in float32
        dense_gb = args.n * args.n * args.length * args.length * 4 / 1e9
        assert shape == (args.n, args.n) and finite
        print(f"{metric:<12}{elapsed:>10.1f}{peak:>16.0f}{base:>18.0f}{dense_gb:>24.0f}")


if __name__ == "__main__":
    main()
