"""Pairwise DTW / soft-DTW throughput: seqot (torch wavefront) against tslearn (numba).

Run from the repository root::

    python benchmarks/bench_dtw.py                # 200 x 200 pairs, T = 50, d = 12
    python benchmarks/bench_dtw.py --threads 1 --tslearn-n-jobs 1   # one core each
    python benchmarks/bench_dtw.py --tslearn-n-jobs 2                # two cores each

Both libraries get the same float64 data; tslearn's numba kernels are compiled (warmed up)
before timing, and each timing is the median of ``--repeats`` runs. seqot's DTW is the
summed squared-Euclidean cost, tslearn's the square root of it, so ``dtw`` values are
compared as ``seqot == tslearn ** 2``; soft-DTW values are compared directly.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def _median_time(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-x", type=int, default=200)
    p.add_argument("--n-y", type=int, default=200)
    p.add_argument("--length", type=int, default=50)
    p.add_argument("--dim", type=int, default=12)
    p.add_argument("--gamma", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads for seqot (default: torch's default)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="dtype of seqot's computation (tslearn always uses float64)")
    p.add_argument("--tslearn-n-jobs", type=int, default=None,
                   help="n_jobs of tslearn's cdist_* (default: tslearn's default, one thread)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from tslearn.metrics import cdist_dtw, cdist_soft_dtw

    from seqot.distances import pairwise_sequence_distances

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.n_x, args.length, args.dim))
    Y = rng.standard_normal((args.n_y, args.length, args.dim))
    Xs, Ys = X.astype(args.dtype), Y.astype(args.dtype)
    pairs = args.n_x * args.n_y

    # warm-up: numba compilation for tslearn, first-call allocations for torch
    cdist_dtw(X[:2], Y[:2])
    cdist_soft_dtw(X[:2], Y[:2], gamma=args.gamma)
    pairwise_sequence_distances(Xs[:2], Ys[:2], metric="dtw")
    pairwise_sequence_distances(Xs[:2], Ys[:2], metric="soft_dtw", gamma=args.gamma)

    rows = []
    t_s, D_s = _median_time(lambda: pairwise_sequence_distances(Xs, Ys, metric="dtw"),
                            args.repeats)
    t_t, D_t = _median_time(lambda: cdist_dtw(X, Y, n_jobs=args.tslearn_n_jobs), args.repeats)
    err = float(np.max(np.abs(D_s - D_t**2) / np.maximum(1.0, np.abs(D_t**2))))
    rows.append(("dtw", t_s, t_t, err))

    t_s, S_s = _median_time(
        lambda: pairwise_sequence_distances(Xs, Ys, metric="soft_dtw", gamma=args.gamma),
        args.repeats)
    t_t, S_t = _median_time(
        lambda: cdist_soft_dtw(X, Y, gamma=args.gamma, n_jobs=args.tslearn_n_jobs), args.repeats)
    err_soft = float(np.max(np.abs(S_s - S_t) / np.maximum(1.0, np.abs(S_t))))
    rows.append((f"soft_dtw (gamma={args.gamma:g})", t_s, t_t, err_soft))

    print(f"{args.n_x} x {args.n_y} pairs, T = {args.length}, d = {args.dim}, seqot dtype "
          f"{args.dtype}, torch threads = {torch.get_num_threads()}, median of "
          f"{args.repeats}; tslearn n_jobs = {args.tslearn_n_jobs}")
    head = (f"{'distance':<22} {'seqot pairs/s':>14} {'tslearn pairs/s':>16} "
            f"{'seqot/tslearn':>14} {'max rel diff':>13}")
    print(head)
    print("-" * len(head))
    for name, ts, tt, e in rows:
        print(f"{name:<22} {pairs / ts:>14,.0f} {pairs / tt:>16,.0f} {tt / ts:>13.2f}x "
              f"{e:>13.1e}")
    tol = 1e-8 if args.dtype == "float64" else 1e-3
    bad = [name for name, *_, e in rows if e > tol]
    if bad:
        raise SystemExit(f"values disagree with tslearn for: {', '.join(bad)}")


if __name__ == "__main__":
    main()
