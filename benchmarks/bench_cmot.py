"""CMOT pairwise distances for one few-shot episode: seqot against POT's batched solver.

Workload (issue 4): a 5-way 5-shot episode with 75 queries (75 x 25 pairs), 8 segments per
video, d = 2048 (C3D/ResNet-sized features), 100 Sinkhorn iterations.

* seqot: ``pairwise_sequence_distances(Q, S, metric="cmot", ...)`` from the raw features:
  semantic costs (one GEMM), positional costs, per-pair median rule, batched Sinkhorn;
* POT: ``ot.batch.solve_batch(method="log_sinkhorn")`` on the same fused costs, built
  beforehand (so POT's time excludes cost building). POT's batch solver takes one ``reg``, so
  both run with the same fixed ``reg`` here; seqot's default per-pair median rule is timed too.

Run: ``python benchmarks/bench_cmot.py``.
"""

import argparse

import numpy as np
import ot
import torch

from _timing import median_time

from seqot.distances import pairwise_sequence_distances, positional_cost
from seqot.ot import pairwise_frame_cost




def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    rng = np.random.default_rng(0)
    n_q, n_s, M, d, alpha, sigma = 75, 25, 8, 2048, 0.4, 1.2
    Q = torch.tensor(rng.normal(size=(n_q, M, d)) / np.sqrt(d), dtype=dtype)
    S = torch.tensor(rng.normal(size=(n_s, M, d)) / np.sqrt(d), dtype=dtype)

    def fused():
        C = pairwise_frame_cost(Q, S, "euclidean")
        po = positional_cost(torch.full((n_q,), M), torch.full((n_s,), M), sigma, dtype=dtype)
        return (C + alpha * po).reshape(n_q * n_s, M, M)

    C = fused()
    reg = float(C.median()) / 7

    def seqot_fixed():
        return pairwise_sequence_distances(Q, S, metric="cmot", alpha=alpha, sigma=sigma,
                                           reg=reg, max_iter=100, tol=0, device="cpu")

    def seqot_median():
        return pairwise_sequence_distances(Q, S, metric="cmot", alpha=alpha, sigma=sigma,
                                           max_iter=100, tol=0, device="cpu")

    def pot_batch():
        return ot.batch.solve_batch(C, reg=reg, max_iter=100, tol=0, method="log_sinkhorn",
                                    grad="detach")

    def pot_with_costs():
        return ot.batch.solve_batch(fused(), reg=reg, max_iter=100, tol=0,
                                    method="log_sinkhorn", grad="detach")

    t_fixed = median_time(seqot_fixed, args.repeat)
    t_median = median_time(seqot_median, args.repeat)
    t_pot = median_time(pot_batch, args.repeat)
    t_pot_c = median_time(pot_with_costs, args.repeat)
    diff = float((seqot_fixed().reshape(-1) - pot_batch().value_linear).abs().max()
                 / pot_batch().value_linear.abs().max())
    print(f"torch {torch.__version__}, POT {ot.__version__}, threads {torch.get_num_threads()}, "
          f"{args.dtype}")
    print("CMOT, 5-way 5-shot episode, 75 queries x 25 supports, 8 segments, d = 2048, 100 it")
    rows = [
        ("seqot, fixed reg (costs included)", t_fixed, 1.0),
        ("seqot, per-pair median rule (costs included)", t_median, t_median / t_fixed),
        ("POT solve_batch(log_sinkhorn), costs given", t_pot, t_pot / t_fixed),
        ("POT solve_batch, cost building included", t_pot_c, t_pot_c / t_fixed),
    ]
    for name, t, ratio in rows:
        print(f"  {name:<46} {t * 1e3:8.1f} ms   {ratio:5.2f}x")
    print(f"  max relative difference seqot vs POT: {diff:.1e}")


if __name__ == "__main__":
    main()
