"""TAP (temporal alignment prediction) on the CPU: distance throughput, scaling and training.

Three measurements, every baseline run in the same process on the same data:

1. Pairwise distance throughput (pairs/s): 100 x 100 random sequences (L = 40, d = 16) and,
   unless ``--quick``, the JapaneseVowels test x train matrix (370 x 270). TAP with an
   untrained ``AlignmentPredictor()`` (channels 30/30, the paper's) and with channels 16/16,
   seqot's ``dtw`` and ``soft_dtw`` (gamma 1), tslearn's ``cdist_dtw`` and ``cdist_soft_dtw``.
   Ratios are relative to TAP (30/30); the paper's Table 2 inference figures (TITAN V GPU for
   TAP and SoftDTW) are printed beside them.
2. A Fig. 3 analogue on a reduced grid: one 8 x 8 block of pairs at L = 50, 100, 200 and
   d = 100, TAP (30/30) against seqot's soft-DTW. TAP's CNN costs O(L^2 C^2 k^2) per pair
   (about 24k multiply-adds per cell), soft-DTW's DP O(L^2 d) for the costs plus O(L^2) for
   the recursion, so on a CPU the paper's GPU speed claim is expected to reverse.
3. Training time per epoch on JapaneseVowels train (``--quick``: a 64-sequence subset):
   ``TAPMetricLearner(batch_size=32, channels=(16, 16), hidden=(256, 256))`` against a minimal
   soft-DTW metric learner written here: the same frame MLP (L2-normalised output), the same
   binomial-deviance loss over all ordered pairs of a batch of 32 and the same optimiser
   (Adam, lr 1e-4, weight decay 1e-4, the shared ``seqot.nn.train`` loop), the distances being
   seqot's differentiable ``soft_dtw`` (gamma 1) of the embedded batch, no augmentation term.
   (TAP's time includes its self-supervised augmentation term, as in the paper.)

seqot computes in float32 (TAP's modules are float32); tslearn always in float64. TAP is
evaluated under ``torch.no_grad()`` (inference). Timings are medians after a warm-up run
(``_timing.median_time``); the expensive rows (TAP, tslearn, training) use fewer repeats.
tslearn runs with its default ``n_jobs=None`` (one thread; its ``n_jobs`` dispatches one
joblib task per pair, which costs more than it saves here).

Run from the repository root: ``python benchmarks/bench_tap.py`` (about 2-3 minutes on two
quiet cores) or ``python benchmarks/bench_tap.py --quick`` (smoke run, under a minute).
``--threads 1`` gives the one-core comparison. On a machine whose other core is busy the
two-thread TAP timings collapse (OpenMP threads wait for the descheduled one): measure on
quiet cores.
"""

import argparse
import platform
import time

import numpy as np
import torch

from _timing import median_time

import seqot
from seqot.datasets import load_japanese_vowels
from seqot.distances import pairwise_sequence_distances
from seqot.metric_learning import TAPMetricLearner, binomial_deviance_loss
from seqot.nn import AlignmentPredictor, build_frame_mlp, train

try:
    import tslearn
    from tslearn.metrics import cdist_dtw, cdist_soft_dtw
except ImportError:  # tslearn is optional: its rows are then skipped
    tslearn = None

# Paper, Table 2 (seconds; TAP and SoftDTW "both running on GPU", a single TITAN V).
PAPER_RUN = {  # one test sequence against the whole training set
    "Action3D": {"SoftDTW": 0.217, "TAP": 0.138},
    "SAD": {"SoftDTW": 4.922, "TAP": 3.009},
    "ChaLearn": {"SoftDTW": 4.959, "TAP": 3.033},
}
PAPER_EPOCH = {  # training time per epoch (triplet/HM loss)
    "Action3D": {"SoftDTW": 23.28, "TAP": 35.78},
    "SAD": {"SoftDTW": 508.39, "TAP": 876.75},
    "ChaLearn": {"SoftDTW": 544.30, "TAP": 901.46},
}


def _predictor(channels, seed=0):
    """An untrained predictor, deterministically initialised, in evaluation mode."""
    torch.manual_seed(seed)
    return AlignmentPredictor(channels=channels).eval()


# --------------------------------------------------------------------------- 1. throughput
def distance_methods(gamma=1.0):
    """``name -> fn(X, Y)`` for seqot inputs (float32) and tslearn inputs (float64)."""
    p30, p16 = _predictor((30, 30)), _predictor((16, 16))

    def tap(pred):
        def fn(X, Y):
            with torch.no_grad():
                return pairwise_sequence_distances(X, Y, metric="tap", predictor=pred)
        return fn

    methods = {
        "TAP, channels 30/30": ("seqot", tap(p30)),
        "TAP, channels 16/16": ("seqot", tap(p16)),
        "seqot dtw": ("seqot", lambda X, Y: pairwise_sequence_distances(X, Y, metric="dtw")),
        f"seqot soft_dtw (gamma {gamma:g})": (
            "seqot", lambda X, Y: pairwise_sequence_distances(X, Y, metric="soft_dtw",
                                                              gamma=gamma)),
    }
    if tslearn is not None:
        methods["tslearn cdist_dtw"] = ("tslearn", lambda X, Y: cdist_dtw(X, Y))
        methods[f"tslearn cdist_soft_dtw (gamma {gamma:g})"] = (
            "tslearn", lambda X, Y: cdist_soft_dtw(X, Y, gamma=gamma))
    return methods


def _tslearn_form(X):
    """tslearn's input: an equal-length float64 array, or a list of variable-length ones."""
    if isinstance(X, np.ndarray):
        return X.astype(np.float64)
    return [np.asarray(x, dtype=np.float64) for x in X]


def _rel_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def throughput(workloads, repeat_cheap, repeat_heavy):
    """``[(workload, method, pairs/s, agreement)]`` for every workload ``(name, X, Y)``.

    ``agreement``: max relative difference of tslearn's values from seqot's (tslearn's DTW is
    the square root of seqot's), else None.
    """
    methods = distance_methods()
    rows = []
    for wname, X, Y in workloads:
        pairs = len(X) * len(Y)
        Xt, Yt = _tslearn_form(X), _tslearn_form(Y)
        values = {}
        for mname, (lib, fn) in methods.items():
            args = (Xt, Yt) if lib == "tslearn" else (X, Y)
            heavy = mname.startswith("TAP") or lib == "tslearn"
            repeat = repeat_heavy if heavy else repeat_cheap

            def run(fn=fn, args=args, mname=mname):
                values[mname] = fn(*args)

            t = median_time(run, repeat)
            agree = None
            if mname == "tslearn cdist_dtw":
                agree = _rel_diff(values[mname] ** 2, values["seqot dtw"])
            elif mname.startswith("tslearn cdist_soft_dtw"):
                agree = _rel_diff(values[mname], values[mname.replace("tslearn cdist_",
                                                                      "seqot ")])
            rows.append((wname, mname, pairs / t, agree))
    return rows


# --------------------------------------------------------------------------- 2. Fig. 3
def scaling(lengths, dim, n, repeat, gamma=1.0):
    """``[(L, TAP seconds, soft-DTW seconds)]`` for one n x n block of random sequences."""
    rng = np.random.default_rng(1)
    pred = _predictor((30, 30))
    out = []
    for L in lengths:
        X = rng.standard_normal((n, L, dim)).astype(np.float32)
        Y = rng.standard_normal((n, L, dim)).astype(np.float32)

        def tap():
            with torch.no_grad():
                return pairwise_sequence_distances(X, Y, metric="tap", predictor=pred)

        t_tap = median_time(tap, repeat)
        t_sdtw = median_time(
            lambda: pairwise_sequence_distances(X, Y, metric="soft_dtw", gamma=gamma), repeat)
        out.append((L, t_tap, t_sdtw))
    return out


# --------------------------------------------------------------------------- 3. training
class _L2Embedding(torch.nn.Module):
    """The frame MLP with L2-normalised output frames, as TAPMetricLearner's ``h``."""

    def __init__(self, mlp):
        super().__init__()
        self.mlp = mlp

    def forward(self, x):
        return torch.nn.functional.normalize(self.mlp(x), dim=-1)


def _pad(seqs):
    lengths = np.array([len(s) for s in seqs])
    data = np.zeros((len(seqs), lengths.max(), seqs[0].shape[1]), dtype=np.float32)
    for i, s in enumerate(seqs):
        data[i, : len(s)] = s
    return torch.from_numpy(data), lengths.tolist()


def fit_soft_dtw_learner(X, y, *, batch_size=32, hidden=(256, 256), max_epochs=1, gamma=1.0,
                         lr=1e-4, weight_decay=1e-4, seed=0):
    """A minimal soft-DTW metric learner: frame MLP + binomial loss over all ordered pairs.

    The same loop as TAPMetricLearner (permute, drop the last incomplete batch, embed, all
    pairwise distances, the loss with the diagonal excluded), only the distance differs.
    """
    seqs = [np.asarray(x, dtype=np.float32) for x in X]
    labels_all = torch.as_tensor(np.unique(y, return_inverse=True)[1])
    gen = torch.Generator().manual_seed(seed)
    embedding = _L2Embedding(build_frame_mlp(seqs[0].shape[1], hidden, seqs[0].shape[1],
                                             dtype=torch.float32, device="cpu",
                                             generator=gen))
    rng = np.random.default_rng(seed)
    bs = min(batch_size, len(seqs))
    n_batches = max(1, len(seqs) // bs)
    order = []

    def step(i):
        nonlocal order
        if i % n_batches == 0:
            order = rng.permutation(len(seqs))
        idx = order[(i % n_batches) * bs:(i % n_batches + 1) * bs]
        data, lengths = _pad([seqs[k] for k in idx])
        Z = embedding(data)
        # a list of tensors keeps the result a (differentiable) tensor; Y = None lets seqot
        # use soft-DTW's symmetry
        D = pairwise_sequence_distances([Z[k, :n] for k, n in enumerate(lengths)],
                                        metric="soft_dtw", gamma=gamma)
        eye = torch.eye(len(idx), dtype=torch.bool)
        # no augmentation: the diagonal (self-distances) is no positive pair, as in
        # TAPMetricLearner(augment=False)
        D = torch.where(eye, torch.full_like(D, 1e4), D)
        return binomial_deviance_loss(D, labels_all[torch.as_tensor(idx)])

    train(step, [embedding], max_epochs=max_epochs * n_batches, optimizer="adam", lr=lr,
          optimizer_params={"weight_decay": weight_decay})
    return embedding


def training(X, y, repeat):
    """Seconds per epoch of TAPMetricLearner and of the soft-DTW learner."""
    tap = TAPMetricLearner(batch_size=32, channels=(16, 16), hidden=(256, 256), max_epochs=1,
                           validation_fraction=None, device="cpu", random_state=0)
    t_tap = median_time(lambda: tap.fit(X, y), repeat)
    t_sdtw = median_time(lambda: fit_soft_dtw_learner(X, y), repeat)
    return t_tap, t_sdtw, len(X) // 32


# --------------------------------------------------------------------------- report
def _table(header, rows):
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    line = "  ".join(f"{h:<{w}}" if k == 0 else f"{h:>{w}}"
                     for k, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(f"{c:<{w}}" if k == 0 else f"{c:>{w}}"
                        for k, (c, w) in enumerate(zip(r, widths))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: no JapaneseVowels matrix, 64 training sequences, "
                             "fewer repeats")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads (default 2: the two-core comparison)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    repeat_cheap, repeat_heavy = (1, 1) if args.quick else (3, 1)

    print(f"seqot {seqot.__version__}, torch {torch.__version__}, "
          f"tslearn {tslearn.__version__ if tslearn is not None else 'not installed'}, "
          f"numpy {np.__version__}, python {platform.python_version()}; "
          f"torch threads {torch.get_num_threads()}")
    if tslearn is None:
        print("tslearn is not installed: its rows are skipped")
    print("seqot in float32 (TAP under torch.no_grad); tslearn in float64 with its default "
          "n_jobs=None (one thread: a Python loop over pairs of numba kernels); median of "
          f"{repeat_cheap} (TAP, tslearn, training: {repeat_heavy}) after one warm-up run\n")

    jv = load_japanese_vowels(dtype=np.float32)
    rng = np.random.default_rng(0)
    n_rand = 100
    workloads = [(f"random {n_rand}x{n_rand}, L=40, d=16",
                  rng.standard_normal((n_rand, 40, 16)).astype(np.float32),
                  rng.standard_normal((n_rand, 40, 16)).astype(np.float32))]
    if not args.quick:
        workloads.append(("JapaneseVowels test x train (370x270, L=7..29, d=12)",
                          jv.X_test, jv.X_train))

    # 1. throughput ----------------------------------------------------------------------
    print("1. Pairwise distance throughput (CPU)")
    rows = throughput(workloads, repeat_cheap, repeat_heavy)
    for wname, *_ in workloads:
        mine = [(m, r, a) for w, m, r, a in rows if w == wname]
        ref = next(r for m, r, _ in mine if m == "TAP, channels 30/30")
        print(f"\n{wname}")
        _table(("distance", "pairs/s", "speed vs TAP 30/30", "max rel diff vs seqot"),
               [(m, f"{r:,.0f}", f"{r / ref:.2f}x", "" if a is None else f"{a:.1e}")
                for m, r, a in mine])
    print("\nPaper, Table 2 (TITAN V GPU; seconds for one test sequence against the whole "
          "training set, l ~ 40):")
    _table(("data set", "SoftDTW s", "TAP s", "SoftDTW / TAP"),
           [(k, f"{v['SoftDTW']:g}", f"{v['TAP']:g}", f"{v['SoftDTW'] / v['TAP']:.2f}x")
            for k, v in PAPER_RUN.items()])
    print("(on the GPU TAP is 1.57-1.64x faster than SoftDTW; above, on the CPU, "
          "'speed vs TAP 30/30' > 1 means faster than TAP)\n")

    # 2. Fig. 3 analogue -----------------------------------------------------------------
    lengths, dim, n = (50, 100, 200), 100, 8
    print(f"2. Fig. 3 analogue: one {n}x{n} block of random pairs, d = {dim}, time vs L (CPU)")
    res = scaling(lengths, dim, n, repeat_cheap)
    base_tap, base_sdtw = res[0][1], res[0][2]
    _table(("L", "TAP 30/30 ms", "soft_dtw ms", "TAP / soft_dtw", "TAP growth",
            "soft_dtw growth"),
           [(str(L), f"{tt * 1e3:.1f}", f"{ts * 1e3:.1f}", f"{tt / ts:.1f}x",
             f"{tt / base_tap:.1f}x", f"{ts / base_sdtw:.1f}x") for L, tt, ts in res])
    print(f"(growth relative to L = {lengths[0]}; the cell count grows "
          f"{', '.join(f'{(L / lengths[0]) ** 2:.0f}x' for L in lengths)}. Paper, Fig. 3 "
          "(GPU): SoftDTW's time 'grows rapidly' with L, TAP's 'does not change much', TAP "
          "'consistently about 10 times faster' across d)\n")

    # 3. training ------------------------------------------------------------------------
    if args.quick:
        sub = np.random.default_rng(0).permutation(len(jv.X_train))[:64]
        X_tr, y_tr = [jv.X_train[i] for i in sub], jv.y_train[sub]
    else:
        X_tr, y_tr = jv.X_train, jv.y_train
    print(f"3. Training time per epoch, JapaneseVowels train ({len(X_tr)} sequences, "
          f"batch 32, binomial loss, MLP 12-256-256-12, Adam 1e-4; CPU)")
    t_tap, t_sdtw, n_batches = training(X_tr, y_tr, repeat_heavy)
    _table(("learner", "s/epoch", "s/batch", "vs soft-DTW"),
           [("TAPMetricLearner (channels 16/16, with SSL term)", f"{t_tap:.2f}",
             f"{t_tap / n_batches:.3f}", f"{t_tap / t_sdtw:.2f}x slower"),
            ("soft-DTW learner (gamma 1, no augmentation)", f"{t_sdtw:.2f}",
             f"{t_sdtw / n_batches:.3f}", "1.00x")])
    print("\nPaper, Table 2 (TITAN V GPU, triplet/HM loss, seconds per epoch):")
    _table(("data set", "SoftDTW", "TAP", "TAP / SoftDTW"),
           [(k, f"{v['SoftDTW']:g}", f"{v['TAP']:g}", f"{v['TAP'] / v['SoftDTW']:.2f}x")
            for k, v in PAPER_EPOCH.items()])
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
