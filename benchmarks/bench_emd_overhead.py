"""Exact EMD: seqot's batched call against a bare loop of POT's network simplex, same process.

Workload (issue 19): 10,000 problems of JapaneseVowels sizes (7..29 frames a side, padded at
the end to 29), uniform weights, random costs. The anchor is the cheapest possible use of POT:
a Python loop calling ``ot.lp.emd_wrap.emd_c`` on problems already unpadded and contiguous
(what ``ot.emd2`` ends in, without its per-call backend dispatch). seqot's time includes
validation, the padded-batch plumbing, the plans and the centred duals; the goal is at most
1.2x the bare loop. Single-threaded (n_jobs=None).

Run: ``python benchmarks/bench_emd_overhead.py`` (``--quick``: 2,000 problems).
"""

import argparse

import numpy as np
from _timing import median_time
from ot.lp.emd_wrap import emd_c

from seqot.ot import emd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    B, T = (2000 if args.quick else 10000), 29
    rng = np.random.default_rng(0)
    lens_a, lens_b = rng.integers(7, T + 1, B), rng.integers(7, T + 1, B)
    C = rng.random((B, T, T))
    a, b = np.zeros((B, T)), np.zeros((B, T))
    for k in range(B):
        a[k, : lens_a[k]] = 1.0 / lens_a[k]
        b[k, : lens_b[k]] = 1.0 / lens_b[k]
    problems = [(a[k, : lens_a[k]].copy(), b[k, : lens_b[k]].copy(),
                 np.ascontiguousarray(C[k, : lens_a[k], : lens_b[k]])) for k in range(B)]

    def bare():
        return np.array([emd_c(x, y, M, 100000, 1, None, None)[1] for x, y, M in problems])

    def seqot_emd():
        return emd(C, a, b).value

    diff = float(np.abs(bare() - seqot_emd()).max())
    # interleaved, so that load drifts hit both alike
    t_bare, t_seqot = [], []
    for _ in range(args.repeat):
        t_bare.append(median_time(bare, 1))
        t_seqot.append(median_time(seqot_emd, 1))
    tb, ts = float(np.median(t_bare)), float(np.median(t_seqot))
    print(f"{B} problems, sizes 7..{T}, one thread")
    print(f"  bare emd_c loop (anchor)   {tb * 1e3:8.1f} ms   {tb / B * 1e6:6.1f} us/problem")
    print(f"  seqot.ot.emd (batched)     {ts * 1e3:8.1f} ms   {ts / B * 1e6:6.1f} us/problem")
    print(f"  ratio seqot / bare: {ts / tb:.2f}x (goal <= 1.2x); max |value diff| {diff:.1e}")


if __name__ == "__main__":
    main()
