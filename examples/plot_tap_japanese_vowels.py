"""
TAP: a learned alignment distance, on JapaneseVowels and on warped sequences
============================================================================

Temporal Alignment Prediction (Su and Wen, ICLR 2022) predicts the alignment of two sequences
with a small CNN over their frame-distance image instead of solving an optimisation, and
learns it together with a frame network from class labels.

Part 1: 1-NN accuracy and mean average precision (test sequences query the training set) on
JapaneseVowels, for the fixed distances (mean pooling, DTW, soft-DTW, OPW) and for TAP before
and after training. JapaneseVowels has only 270 training utterances, so the learner starts from
the fixed distance it improves on: ``init="identity"`` (a residual frame network and a predictor
whose last layer is zero, i.e. the untrained model is :math:`A = \\mathrm{softmax}(-D)` on
standardised frames), with a validation split choosing the epoch.

Part 2 (the paper's Table 4 analogue): on ``make_warped_sequences``, whose true time warps are
known, the mean squared error between predicted and true alignments of same-class test pairs,
for the alignment-only TAP trained on augmentations of the training split, the same predictor
untrained, and soft-DTW's expected alignment (as is, and with its rows normalised to sum to one
like TAP's).
Set the environment variable ``SEQOT_EXAMPLES_QUICK=1`` for a quick, smaller run (the
documentation build does).
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import average_precision_score

from seqot import TAPMetricLearner
from seqot.datasets import load_japanese_vowels, make_warped_sequences, true_alignment
from seqot.distances import pairwise_sequence_distances
from seqot.plotting import plot_alignment

QUICK = bool(os.environ.get("SEQOT_EXAMPLES_QUICK"))  # smaller sizes for the doc build

jv = load_japanese_vowels(dtype=np.float32)
X_test, y_test = jv.X_test, jv.y_test
if QUICK:  # every fourth test utterance
    X_test, y_test = X_test[::4], y_test[::4]


def scores(D):
    acc = np.mean(jv.y_train[D.argmin(1)] == y_test)
    ap = np.mean([average_precision_score(jv.y_train == c, -d) for d, c in zip(D, y_test)])
    return f"1-NN {acc:.4f}   MAP {ap:.4f}"


# %%
# Part 1: JapaneseVowels (370 test x 270 train)
mu = np.concatenate(jv.X_train).mean(0)
sd = np.concatenate(jv.X_train).std(0)
train_std = [(x - mu) / sd for x in jv.X_train]
test_std = [(x - mu) / sd for x in X_test]
for name, metric, params in [("mean pooling", "mean_euclidean", {}), ("DTW", "dtw", {}),
                             ("soft-DTW (gamma=1)", "soft_dtw", {"gamma": 1.0}),
                             ("OPW", "opw", {})]:
    print(f"{name:34s} raw {scores(pairwise_sequence_distances(X_test, jv.X_train, metric=metric, **params))}"
          f"   standardised {scores(pairwise_sequence_distances(test_std, train_std, metric=metric, **params))}")

config = dict(init="identity", standardize="global", l2_normalize=False, channels=(16, 16),
              hidden=(256, 256), batch_size=32, random_state=0)
untrained = TAPMetricLearner(max_epochs=1, lr=1e-12, **config).fit(jv.X_train, jv.y_train)
print(f"{'TAP untrained':34s} {scores(untrained.pairwise_distances(X_test, jv.X_train))}")
max_epochs = 1 if QUICK else 30
trained = TAPMetricLearner(max_epochs=max_epochs, **config).fit(jv.X_train, jv.y_train)
print(f"{f'TAP trained (binomial, {max_epochs} epochs)':34s} {scores(trained.pairwise_distances(X_test, jv.X_train))}")

# %%
# Part 2: alignments against the true warps
from tslearn.metrics import soft_dtw_alignment  # noqa: E402  (test/benchmark dependency)

X, y, warps = make_warped_sequences(n_classes=5, n_per_class=20, length=(15, 30),
                                    random_state=0, return_warps=True)
X = [x.astype(np.float32) for x in X]
rng = np.random.default_rng(0)
test = np.zeros(len(X), dtype=bool)
for c in range(5):
    test[rng.choice(np.flatnonzero(y == c), 5, replace=False)] = True
X_train = [x for x, t in zip(X, test) if not t]
pairs = [(i, j) for i in np.flatnonzero(test) for j in np.flatnonzero(test)
         if i != j and y[i] == y[j]]
# the paper's alignment-only TAP: the predictor alone learns to reproduce the known
# alignments of augmented training sequences (the true warps are never used for training)
small = dict(loss="alignment", channels=(16, 16), batch_size=16, validation_fraction=None,
             random_state=0)
learned = TAPMetricLearner(max_epochs=5 if QUICK else 30, lr=3e-3, **small).fit(X_train)
initial = TAPMetricLearner(max_epochs=1, lr=1e-12, **small).fit(X_train)
aligners = {
    "TAP trained": lambda a, b: learned.predict_alignment(a, b, normalized=False),
    "TAP untrained": lambda a, b: initial.predict_alignment(a, b, normalized=False),
    "soft-DTW expected alignment (gamma=1)": lambda a, b: soft_dtw_alignment(a, b, gamma=1.0)[0],
    "soft-DTW expected alignment (gamma=0.1)": lambda a, b: soft_dtw_alignment(a, b,
                                                                               gamma=0.1)[0],
    "soft-DTW (gamma=1), rows normalised": lambda a, b: (
        lambda E: E / E.sum(1, keepdims=True))(soft_dtw_alignment(a, b, gamma=1.0)[0]),
}
print()
for name, align in aligners.items():
    mse = [np.mean((align(X[i], X[j]) - true_alignment(warps[i], warps[j])) ** 2)
           for i, j in pairs]
    print(f"{name:42s} alignment MSE {np.mean(mse):.4f} ± {1.96 * np.std(mse) / np.sqrt(len(mse)):.4f}")

# %%
# One same-class test pair: the trained TAP alignment (grey) and the true alignment derived
# from the known warps (red), next to soft-DTW's expected alignment.
i, j = pairs[0]
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
truth = true_alignment(warps[i], warps[j])
plot_alignment(learned.predict_alignment(X[i], X[j]), truth, ax=axes[0],
               title="TAP (trained), true path in red")
plot_alignment(soft_dtw_alignment(X[i], X[j], gamma=1.0)[0], truth, ax=axes[1],
               title="soft-DTW expected alignment")
fig.tight_layout()
plt.show()
