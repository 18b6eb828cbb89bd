"""The main job: every method on bundled real data and synthetic reproductions, one table.

Each entry of ``DEMOS`` is a function ``(quick: bool, verbose: bool) -> list of rows``; a row is
``(task, method, metric, value)``. Issues that add a method add its rows here.
"""

from __future__ import annotations

import time

import numpy as np

from .datasets import (
    load_japanese_vowels,
    make_digits_local_features,
    make_japanese_vowels_videos,
    make_reversal_tasks,
    make_segmented_sequences,
)
from .distances import pairwise_sequence_distances
from .fewshot import (
    DeepEMDClassifier,
    EpisodeSampler,
    SequenceNearestCentroid,
    evaluate_episodes,
)
from .neighbors import KNeighborsSequenceClassifier
from .segmentation import ASOTSegmenter, asot_segment, segmentation_scores

DEMOS = []


def demo(fn):
    DEMOS.append(fn)
    return fn


@demo
def japanese_vowels_1nn(quick=False, verbose=False):
    jv = load_japanese_vowels()
    rows = []
    for metric in ("mean_euclidean", "dtw", "emd"):
        clf = KNeighborsSequenceClassifier(metric=metric, device="auto")
        acc = clf.fit(jv.X_train, jv.y_train).score(jv.X_test, jv.y_test)
        rows.append(("JapaneseVowels speaker id (370 test)", f"1-NN {metric}",
                     "accuracy", f"{acc:.3f}"))
    return rows


@demo
def japanese_vowels_fewshot(quick=False, verbose=False):
    jv = load_japanese_vowels()
    X, y = jv.X_train + jv.X_test, list(jv.y_train) + list(jv.y_test)
    sampler = EpisodeSampler(n_way=5, n_shot=1, n_query=5,
                             n_episodes=100 if quick else 600, random_state=0)
    res = evaluate_episodes(KNeighborsSequenceClassifier(metric="mean_euclidean", device="auto"),
                            X, y, sampler, verbose=verbose)
    return [("JapaneseVowels 5-way 1-shot episodes", "nearest mean-pooled prototype",
             "episode accuracy ± 95% CI", str(res))]


@demo
def cmot_tradeoff(quick=False, verbose=False):
    """CMOT's Table 1 on make_reversal_tasks: content- vs ordering-dominated 5-way 1-shot."""
    rows = []
    methods = {"mean pooling": ("mean_euclidean", {}), "DTW": ("dtw", {"cost": "euclidean"}),
               "CMOT alpha=0 (Sinkhorn)": ("cmot", {"alpha": 0.0}),
               "CMOT alpha=1": ("cmot", {"alpha": 1.0})}
    for setting in ("content", "ordering"):
        X, y = make_reversal_tasks(n_classes=10, n_per_class=5 if quick else 10,
                                   setting=setting, random_state=0)
        sampler = EpisodeSampler(n_way=5, n_shot=1, n_query=1,
                                 n_episodes=200 if quick else 1000, random_state=1)
        for name, (metric, params) in methods.items():
            D = pairwise_sequence_distances(X, metric=metric, **params)
            res = evaluate_episodes(SequenceNearestCentroid(metric="precomputed"), D, y, sampler)
            rows.append((f"CMOT trade-off, {setting}-dominated (synthetic)", name,
                         "5-way 1-shot accuracy ± 95% CI", str(res)))
    return rows


@demo
def asot_segmentation(quick=False, verbose=False):
    """ASOT: decoding a noisy cost (solver only) and unsupervised speaker segmentation."""
    rows = []
    X, y, P = make_segmented_sequences(n_sequences=5 if quick else 20, noise=1.0,
                                       random_state=0, return_prototypes=True)
    costs = [1.0 - x @ P.T for x in X]
    truth = np.concatenate(y)
    for name, labels in (("per-frame argmax", [c.argmin(1) for c in costs]),
                         ("ASOT decoding", asot_segment(costs))):
        rows.append(("ASOT decoding of a noisy cost (synthetic, sigma=1)", name,
                     "frame accuracy", f"{np.mean(np.concatenate(labels) == truth):.3f}"))
    X, y = make_japanese_vowels_videos(n_videos=10 if quick else 30, random_state=0)
    from sklearn.cluster import KMeans

    km = KMeans(9, n_init=10, random_state=0).fit(np.concatenate(X))
    methods = {
        "k-means per frame": np.split(km.labels_, np.cumsum([len(x) for x in X])[:-1]),
        "balanced OT, no GW": ASOTSegmenter(
            n_actions=9, rho=0.0, balanced=True, alpha_train=0.0, alpha_eval=0.0,
            max_epochs=5 if quick else 15, random_state=0, verbose=verbose).fit_predict(X),
        "ASOTSegmenter": ASOTSegmenter(
            n_actions=9, rho=0.0, max_epochs=5 if quick else 15, random_state=0,
            verbose=verbose).fit_predict(X),
    }
    for name, labels in methods.items():
        sc = segmentation_scores(y, labels)
        rows.append(("JapaneseVowels speaker videos, unsupervised", name, "MoF / F1@50 / mIoU",
                     f"{sc['mof']:.3f} / {sc['f1@50']:.3f} / {sc['miou']:.3f}"))
    return rows


@demo
def deepemd_digits(quick=False, verbose=False):
    """DeepEMD (spec §7.2): local features of a tiny CNN pre-trained on the digits 0-4,
    5-way episodes on the novel digits 5-9."""
    # on the CPU, where the features repeat bit for bit (the tiny CNN gains nothing on a GPU)
    X, y = make_digits_local_features(max_epochs=10 if quick else 30, random_state=0,
                                      device="cpu")
    novel = y >= 5
    X, y = X[novel], y[novel]
    methods = {
        1: {"global prototype (Euclidean)": SequenceNearestCentroid(metric="mean_euclidean",
                                                                    device="auto"),
            "DeepEMD, cross-reference": DeepEMDClassifier(device="auto"),
            "local KNN (DN4, k=3)": SequenceNearestCentroid(metric="local_knn", device="auto")},
        5: {"global ProtoNet": SequenceNearestCentroid(metric="mean_euclidean",
                                                       class_distance="prototype",
                                                       device="auto"),
            "DeepEMD, EMD+NN": DeepEMDClassifier(shot_strategy="nearest", device="auto"),
            "DeepEMD, SFC": DeepEMDClassifier(random_state=0, device="auto")},
    }
    rows = []
    for n_shot, group in methods.items():
        n_episodes = (100 if quick else 600) if n_shot == 1 else (20 if quick else 100)
        sampler = EpisodeSampler(n_way=5, n_shot=n_shot, n_query=15, n_episodes=n_episodes,
                                 random_state=0)
        for name, est in group.items():
            res = evaluate_episodes(est, X, y, sampler, verbose=verbose)
            rows.append((f"digits 5-9, tiny-CNN local features, 5-way {n_shot}-shot", name,
                         "episode accuracy ± 95% CI", str(res)))
    return rows


@demo
def tap_japanese_vowels(quick=False, verbose=False):
    """TAP: the learned alignment distance against fixed ones, JapaneseVowels 1-NN and MAP."""
    from sklearn.metrics import average_precision_score

    from .metric_learning import TAPMetricLearner

    jv = load_japanese_vowels(dtype=np.float32)

    def scores(D):
        acc = np.mean(jv.y_train[D.argmin(1)] == jv.y_test)
        ap = np.mean([average_precision_score(jv.y_train == c, -d)
                      for d, c in zip(D, jv.y_test)])
        return f"{acc:.3f} / {ap:.3f}"

    if quick:  # the first 120 test utterances
        jv.X_test, jv.y_test = jv.X_test[:120], jv.y_test[:120]
    task = f"JapaneseVowels retrieval ({len(jv.X_test)} test x 270 train)"
    rows = [(task, "DTW", "1-NN / MAP",
             scores(pairwise_sequence_distances(jv.X_test, jv.X_train, metric="dtw")))]
    config = dict(init="identity", standardize="global", l2_normalize=False, channels=(16, 16),
                  hidden=(256, 256), batch_size=32, random_state=0, verbose=verbose)
    for name, epochs, extra in (("TAP untrained", 1, {"lr": 1e-12}),
                                (f"TAP trained ({2 if quick else 10} epochs)",
                                 2 if quick else 10, {})):
        tap = TAPMetricLearner(max_epochs=epochs, **config, **extra).fit(jv.X_train, jv.y_train)
        rows.append((task, name, "1-NN / MAP",
                     scores(tap.pairwise_distances(jv.X_test, jv.X_train))))
    return rows


@demo
def acot_japanese_vowels(quick=False, verbose=False):
    """ACOT subspace pooling + Grassmann kernel SVM against mean and PCA pooling."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC, LinearSVC

    try:
        import pymanopt  # noqa: F401
    except ImportError:
        return [("JapaneseVowels subspace pooling", "ACOT", "accuracy",
                 "skipped: pip install 'seqot[manifold]'")]
    from .subspace import ACOTSubspacePooling, GrassmannKernel, MeanPooling, PCASubspacePooling

    jv = load_japanese_vowels()
    task = "JapaneseVowels subspace pooling (k=3)"
    mean = GridSearchCV(Pipeline([("pool", MeanPooling()), ("svm", LinearSVC(max_iter=20000))]),
                        {"svm__C": [0.1, 1, 10]}, cv=3).fit(jv.X_train, jv.y_train)
    rows = [(task, "mean pooling + linear SVM", "accuracy",
             f"{mean.score(jv.X_test, jv.y_test):.3f}")]
    grid = {"kernel__gamma": [0.1, 1.0, 10.0], "svm__C": [1, 10, 100]}
    svm = Pipeline([("kernel", GrassmannKernel(kernel="rbf")), ("svm", SVC(kernel="precomputed"))])
    pools = {"PCA subspace + kernel SVM": PCASubspacePooling(n_components=3),
             "ACOT (adversarial) + kernel SVM": ACOTSubspacePooling(
                 n_components=3, activation="identity", lr=1e-3,
                 classifier_max_epochs=300 if quick else 2000, max_epochs=60 if quick else 1000,
                 lambda_adv=1.0, lambda_norm=0.1, random_state=0, verbose=verbose)}
    for name, pool in pools.items():
        U_train = pool.fit(jv.X_train, jv.y_train).transform(jv.X_train)
        search = GridSearchCV(svm, grid, cv=3).fit(U_train, jv.y_train)
        rows.append((task, name, "accuracy",
                     f"{search.score(pool.transform(jv.X_test), jv.y_test):.3f}"))
    return rows


def run_demo(quick=False, verbose=True, out=None):
    """Run every demo and return the rows; print the table to ``out`` (a text stream)."""
    rows, times = [], []
    for fn in DEMOS:
        t0 = time.perf_counter()
        rows.extend(fn(quick=quick, verbose=verbose))
        times.append((fn.__name__, time.perf_counter() - t0))
    if out is not None:
        out.write(format_table(rows) + "\n")
        out.write("  ".join(f"{n}: {t:.1f}s" for n, t in times) + "\n")
    return rows


def format_table(rows):
    header = ("task", "method", "metric", "value")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(4)]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths))  # noqa: E731
    return "\n".join([fmt(header), line, *map(fmt, rows)])
