"""
Few-shot speaker identification on JapaneseVowels
=================================================

The bundled JapaneseVowels utterances (12-D LPC frames, 7-29 frames each) as a few-shot
problem: 5-way 1-shot episodes over the nine speakers, scored the way the papers report
few-shot accuracy (mean over episodes ± 1.96·std/√episodes). The classifier is a 1-NN on
mean-pooled frames, the order-blind aggregation baseline every later method is compared to.

A picture: the matrix of mean-pooled distances between utterances, sorted by speaker.

Set the environment variable ``SEQOT_EXAMPLES_QUICK=1`` for a quick, smaller run (the
documentation build does).
"""

import os

import matplotlib.pyplot as plt

from seqot.datasets import load_japanese_vowels
from seqot.distances import pairwise_sequence_distances
from seqot.fewshot import EpisodeSampler, evaluate_episodes
from seqot.neighbors import KNeighborsSequenceClassifier
from seqot.plotting import plot_kernel_matrix

QUICK = bool(os.environ.get("SEQOT_EXAMPLES_QUICK"))  # smaller sizes for the doc build

jv = load_japanese_vowels()
X = jv.X_train + jv.X_test
y = list(jv.y_train) + list(jv.y_test)

for n_shot in (1, 5):
    sampler = EpisodeSampler(n_way=5, n_shot=n_shot, n_query=5,
                             n_episodes=50 if QUICK else 300, random_state=0)
    scores = evaluate_episodes(
        KNeighborsSequenceClassifier(metric="mean_euclidean", device="cpu"), X, y, sampler)
    print(f"5-way {n_shot}-shot, mean-pooled 1-NN: {scores}")

# %%
# Mean-pooled Euclidean distances between the training utterances, sorted by speaker: the
# blocks on the diagonal are what a 1-NN exploits.
D = pairwise_sequence_distances(jv.X_train, metric="mean_euclidean")
plot_kernel_matrix(D, jv.y_train, title="mean-pooled distances (train), by speaker")
plt.show()
