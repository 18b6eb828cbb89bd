"""Batched Sinkhorn and exact EMD: seqot against POT, measured in the same run.

Workload (issue 3): a 5-way few-shot scoring pass, 75 query x 25 support sequences of
8 segments, d = 512, 100 Sinkhorn iterations, the same ``reg`` for everyone.

* seqot: ``pairwise_sequence_distances(Q, S, metric="sinkhorn")`` from the raw features, so
  validation and cost building are included;
* POT batched: ``ot.batch.solve_batch(method="log_sinkhorn")`` on the same (precomputed) costs;
* POT loop: ``ot.sinkhorn2(method="sinkhorn_log")`` pair by pair (on a subset, extrapolated);
* variable lengths 4..16 (which POT's batch solver cannot take unpadded): seqot's time
  against its equal-length time;
* exact EMD: 1-NN-style all pairs of JapaneseVowels-sized problems, seqot's batched network
  simplex against a loop of ``ot.emd2``.

Run: ``python benchmarks/bench_ot.py`` (add ``--quick`` for a smoke run).
"""

import argparse
import time

import numpy as np
import ot
import torch

from _timing import median_time

from seqot.distances import pairwise_sequence_distances
from seqot.ot import emd, pairwise_frame_cost




def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    dtype = getattr(torch, args.dtype)
    rng = np.random.default_rng(0)
    n_q, n_s, T, d, max_iter = 75, 25, 8, 512, 100

    Q = torch.tensor(rng.normal(size=(n_q, T, d)) / np.sqrt(d), dtype=dtype)
    S = torch.tensor(rng.normal(size=(n_s, T, d)) / np.sqrt(d), dtype=dtype)
    C = pairwise_frame_cost(Q, S).reshape(n_q * n_s, T, T)
    reg = float(C.median()) / 7  # CMOT's rule of thumb, same for every solver

    def seqot_run():
        return pairwise_sequence_distances(Q, S, metric="sinkhorn", reg=reg, max_iter=max_iter,
                                           tol=0, device="cpu")

    def pot_batch():
        return ot.batch.solve_batch(C, reg=reg, max_iter=max_iter, tol=0,
                                    method="log_sinkhorn", grad="detach")

    t_seqot = median_time(seqot_run, repeat)
    t_batch = median_time(pot_batch, repeat)
    # agreement (both fixed 100 iterations from zero potentials)
    d_seqot = seqot_run().reshape(-1)
    d_pot = pot_batch().value_linear
    agree = float((d_seqot - d_pot).abs().max() / d_pot.abs().max())

    Cn = C.double().numpy()
    u = np.full(T, 1.0 / T)
    n_loop = 60 if args.quick else 200
    t0 = time.perf_counter()
    for k in range(n_loop):
        ot.sinkhorn2(u, u, Cn[k], reg, method="sinkhorn_log", numItermax=max_iter, stopThr=0,
                     warn=False)
    t_loop = (time.perf_counter() - t0) / n_loop * (n_q * n_s)

    # variable lengths 4..16
    lengths_q = rng.integers(4, 17, size=n_q)
    lengths_s = rng.integers(4, 17, size=n_s)
    Qv = [torch.tensor(rng.normal(size=(t, d)) / np.sqrt(d), dtype=dtype) for t in lengths_q]
    Sv = [torch.tensor(rng.normal(size=(t, d)) / np.sqrt(d), dtype=dtype) for t in lengths_s]

    def seqot_var():
        return pairwise_sequence_distances(Qv, Sv, metric="sinkhorn", reg=reg, max_iter=max_iter,
                                           tol=0, device="cpu")

    t_var = median_time(seqot_var, repeat)

    def equal(length):
        Qe = torch.tensor(rng.normal(size=(n_q, length, d)) / np.sqrt(d), dtype=dtype)
        Se = torch.tensor(rng.normal(size=(n_s, length, d)) / np.sqrt(d), dtype=dtype)
        return lambda: pairwise_sequence_distances(Qe, Se, metric="sinkhorn", reg=reg,
                                                   max_iter=max_iter, tol=0, device="cpu")

    t_eq10 = median_time(equal(10), repeat)  # same mean length as the ragged workload
    t_eq16 = median_time(equal(16), repeat)  # everything padded to the longest (POT's way)
    mean_area = float(np.mean(lengths_q[:, None] * lengths_s[None, :]))

    # exact EMD on JapaneseVowels-sized problems (lengths 7..29, d = 12)
    n_emd = 2000 if args.quick else 10000
    le = rng.integers(7, 30, size=(n_emd, 2))
    Ce = np.zeros((n_emd, 29, 29))
    Ae, Be = np.zeros((n_emd, 29)), np.zeros((n_emd, 29))
    for k, (p, q) in enumerate(le):
        Ce[k, :p, :q] = rng.uniform(size=(p, q))
        Ae[k, :p], Be[k, :q] = 1.0 / p, 1.0 / q
    t0 = time.perf_counter()
    r = emd(Ce, Ae, Be)
    t_emd = time.perf_counter() - t0
    n_ref = min(n_emd, 1000)
    t0 = time.perf_counter()
    ref = [ot.emd2(Ae[k, :p], Be[k, :q], Ce[k, :p, :q]) for k, (p, q) in enumerate(le[:n_ref])]
    t_emd_loop = (time.perf_counter() - t0) / n_ref * n_emd
    emd_err = float(np.max(np.abs(r.value[:n_ref] - np.array(ref))))

    rows = [
        ("Sinkhorn 75x25, T=8, d=512, 100 it (" + args.dtype + ")", "", ""),
        ("  seqot pairwise (cost building included)", f"{t_seqot * 1e3:9.1f} ms", "1.00"),
        ("  POT ot.batch.solve_batch(log_sinkhorn)", f"{t_batch * 1e3:9.1f} ms",
         f"{t_batch / t_seqot:.2f}x slower"),
        ("  POT loop of ot.sinkhorn2(sinkhorn_log)", f"{t_loop * 1e3:9.1f} ms",
         f"{t_loop / t_seqot:.0f}x slower"),
        ("  max relative difference seqot vs POT batch", f"{agree:.1e}", ""),
        ("Sinkhorn, lengths 4..16 (POT batch: not supported)", "", ""),
        ("  seqot pairwise, ragged", f"{t_var * 1e3:9.1f} ms",
         f"{t_var / t_seqot:.2f}x the T=8 time (cells: {mean_area / T**2:.2f}x)"),
        ("  seqot pairwise, all T=10 (same mean length)", f"{t_eq10 * 1e3:9.1f} ms",
         f"ragged = {t_var / t_eq10:.2f}x this"),
        ("  seqot pairwise, all padded to T=16", f"{t_eq16 * 1e3:9.1f} ms",
         f"ragged = {t_var / t_eq16:.2f}x this"),
        (f"Exact EMD, {n_emd} problems of 7..29 x 7..29", "", ""),
        ("  seqot.ot.emd (batched network simplex)", f"{t_emd * 1e3:9.1f} ms", "1.00"),
        ("  POT loop of ot.emd2", f"{t_emd_loop * 1e3:9.1f} ms",
         f"{t_emd_loop / t_emd:.1f}x slower"),
        ("  max |difference|", f"{emd_err:.1e}", ""),
    ]
    print(f"torch {torch.__version__}, POT {ot.__version__}, threads {torch.get_num_threads()}")
    width = max(len(r[0]) for r in rows)
    for name, t, ratio in rows:
        print(f"{name:<{width}}  {t:>12}  {ratio}")


if __name__ == "__main__":
    main()
