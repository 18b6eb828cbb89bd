"""ASOT solver: seqot's O(NK) prefix-sum iteration against dense and conv1d structure products.

Workload (issue): one video of N = 16,000 frames (the longest 50 Salads video), K = 19
actions, 25 mirror-descent iterations, float32 on the CPU with torch's default number of
threads, the solver's default hyper-parameters (alpha = 0.3, r = 0.04, reg = 0.07,
lambda = 0.05); then N = 64,000. Targets: seqot <= 0.25 s at 16k and
time(64k) / time(16k) <= 5 (linear is 4). The cost is 1 - cos of noisy piecewise-constant
frames to their prototypes (``make_segmented_sequences``).

Anchors, run in the same process on the same cost: re-implementations (not seqot's code) of the
same iteration (spec §2.8: T0 = 1/(NK), step 4 / max G0 capped at min(1/reg, 1/lambda),
log-domain mirror step, row projection, subnormals flushed as seqot does) that differ only in
how the structure product Phi = C^v (T C^a) is computed:

* dense: C^v as an N x N float32 matrix and a matmul, O(N^2 K) time and O(N^2) memory
  (1 GB at 16k; skipped at 64k, where C^v alone would need 16 GB);
* conv1d: the reference code's approach, a box filter along time with a (2w + 1)-tap kernel
  (centre tap zero), O(N^2 K r) time. At 64k one structure product takes seconds, so the
  25-iteration time is extrapolated from one product (26 products per solve) plus seqot's
  element-wise time.

seqot is called on the torch float32 cost (validation included). Its memory is the increase of
the process's peak resident set (ru_maxrss) over its first 64k solve, which runs before anything
else allocates more than the costs.

Run: ``python benchmarks/bench_asot.py`` (``--quick``: 4k and 16k frames, for a smoke run).
"""

import argparse
import math
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F

from _timing import median_time

from seqot.datasets import make_segmented_sequences
from seqot.ot import asot

ALPHA, RADIUS, REG, LAM, N_ITER, K = 0.3, 0.04, 0.07, 0.05, 25, 19


def make_cost(n_frames, seed=0):
    X, _, P = make_segmented_sequences(n_sequences=1, n_frames=n_frames, n_actions=K,
                                       n_segments=(12, 20), min_segment_length=n_frames // 40,
                                       noise=0.6, random_state=seed, return_prototypes=True)
    return torch.from_numpy(1.0 - X[0] @ P.T).to(torch.float32)


def half_width(n):
    return max(1, int(n * RADIUS))


def dense_structure(n, dtype=torch.float32):
    """Phi = C^v (T C^a) with the dense N x N C^v of Eq. 5 and the dense K x K C^a."""
    w = half_width(n)
    Cv = torch.zeros((n, n), dtype=dtype)
    for d in range(1, w + 1):
        Cv.diagonal(d).fill_(1.0 / RADIUS)
        Cv.diagonal(-d).fill_(1.0 / RADIUS)
    Ca = torch.ones((K, K), dtype=dtype) - torch.eye(K, dtype=dtype)
    return lambda T: Cv @ (T @ Ca)


def conv_structure(n, dtype=torch.float32):
    """Phi by a (2w + 1)-tap box filter along time per action, centre tap excluded."""
    w = half_width(n)
    kernel = torch.ones((1, 1, 2 * w + 1), dtype=dtype)
    kernel[0, 0, w] = 0.0

    def phi(T):
        Y = T.sum(1, keepdim=True) - T  # T C^a
        return F.conv1d(Y.T[:, None, :], kernel, padding=w)[:, 0, :].T / RADIUS

    return phi


def reference_asot(C, structure, max_iter=N_ITER):
    """Spec §2.8 for one video, semi-relaxed, auto step: returns N T (rows sum to one)."""
    n, k = C.shape
    log_p = -math.log(n)
    floor = math.log(torch.finfo(C.dtype).tiny)
    C_lin = (1.0 - ALPHA) * C
    log_T = torch.full((n, k), log_p - math.log(k), dtype=C.dtype)
    T = torch.exp(log_T)

    def gradient(T, log_T):
        m = T.sum(0)
        return (ALPHA * structure(T) + C_lin + REG * log_T
                + LAM * (torch.log(m * k) + 1.0))

    g_max = float(gradient(T, log_T).max())
    assert g_max > 0
    eta = min(4.0 / g_max, 1.0 / REG, 1.0 / LAM)
    for _ in range(max_iter):
        logits = log_T - eta * gradient(T, log_T)
        log_T = logits - torch.logsumexp(logits, dim=1, keepdim=True) + log_p
        T = torch.exp(log_T).masked_fill_(log_T < floor, 0.0)
    return torch.exp(log_T - log_p)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def seqot_solve(C):
    return asot(C, alpha=ALPHA, radius=RADIUS, reg=REG, lambda_actions=LAM, max_iter=N_ITER).plan


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    small, large = (4000, 16000) if args.quick else (16000, 64000)
    repeat_small, repeat_large = (3, 2) if args.quick else (7, 3)

    C_small, C_large = make_cost(small), make_cost(large)

    # memory first: nothing big has been allocated yet
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seqot_solve(C_large)
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_kb) / 1024
    nk_mb = large * K * 4 / 2**20

    t_small = median_time(lambda: seqot_solve(C_small), repeat_small)
    t_large = median_time(lambda: seqot_solve(C_large), repeat_large)
    plan_small = seqot_solve(C_small)

    # anchors at the small size: full 25-iteration solves, timed once
    t_build, dense_phi = timed(lambda: dense_structure(small))
    t_dense, plan_dense = timed(lambda: reference_asot(C_small, dense_phi))
    del dense_phi
    conv_phi = conv_structure(small)
    t_conv, plan_conv = timed(lambda: reference_asot(C_small, conv_phi))

    # conv1d at the large size: one structure product, extrapolated
    conv_phi_large = conv_structure(large)
    T_large = torch.full((large, K), 1.0 / (large * K))
    t_product, _ = timed(lambda: conv_phi_large(T_large))
    t_conv_large = (N_ITER + 1) * t_product + t_large

    def diff(a, b):
        return float((a - b).abs().max())

    def labels_agree(a, b):
        return float((a.argmax(1) == b.argmax(1)).float().mean())

    ratio = t_large / t_small
    ratio_target, time_target = 5.0, 0.25
    t_16k = t_small if small == 16000 else t_large
    rows = [
        (f"ASOT N={small:,} x K={K}, {N_ITER} it, float32 (w={half_width(small)})", "", ""),
        ("  seqot.ot.asot (prefix sums, O(NK))", f"{t_small * 1e3:9.1f} ms", "1.00"),
        (f"  dense C^v matmul (O(N^2 K), C^v {small**2 * 4 / 1e9:.1f} GB)",
         f"{t_dense * 1e3:9.1f} ms",
         f"{t_dense / t_small:.0f}x slower (+ {t_build * 1e3:.0f} ms to build C^v)"),
        (f"  conv1d box filter, {2 * half_width(small) + 1} taps (O(N^2 K r))",
         f"{t_conv * 1e3:9.1f} ms", f"{t_conv / t_small:.0f}x slower"),
        ("  max |plan diff| seqot vs dense / vs conv1d",
         f"{diff(plan_small, plan_dense):.1e}", f"/ {diff(plan_small, plan_conv):.1e}"),
        ("  argmax agreement seqot vs dense / vs conv1d",
         f"{labels_agree(plan_small, plan_dense):.4f}",
         f"/ {labels_agree(plan_small, plan_conv):.4f}"),
        (f"ASOT N={large:,} x K={K} (w={half_width(large)})", "", ""),
        ("  seqot.ot.asot", f"{t_large * 1e3:9.1f} ms", "1.00"),
        ("  dense C^v matmul", "skipped",
         f"C^v alone would need {large**2 * 4 / 1e9:.1f} GB"
         + (" (and --quick)" if args.quick else "")),
        (f"  conv1d, {2 * half_width(large) + 1} taps (est.: {N_ITER + 1} x one product)",
         f"{t_conv_large * 1e3:9.1f} ms", f"{t_conv_large / t_large:.0f}x slower"),
        (f"  seqot peak memory, one {large:,}-frame solve", f"{peak_mb:9.1f} MB",
         f"ru_maxrss increase = {peak_mb / nk_mb:.1f} N x K float32 arrays"),
        ("Targets", "", ""),
        (f"  seqot time({large // 1000}k) / time({small // 1000}k) <= {ratio_target:g}",
         f"{ratio:9.2f}", ("PASS" if ratio <= ratio_target else "FAIL") + " (linear: "
         f"{large / small:.2f})"),
        (f"  seqot at 16k <= {time_target:g} s", f"{t_16k * 1e3:9.1f} ms",
         "PASS" if t_16k <= time_target else "FAIL"),
    ]
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads "
          f"{torch.get_num_threads()}; alpha={ALPHA}, r={RADIUS}, reg={REG}, lambda={LAM}")
    width = max(len(r[0]) for r in rows)
    for name, t, ratio_text in rows:
        print(f"{name:<{width}}  {t:>12}  {ratio_text}")


if __name__ == "__main__":
    main()
