"""
Few-shot speaker identification on JapaneseVowels
=================================================

The bundled JapaneseVowels utterances (12-D LPC frames, 7-29 frames each) as a few-shot
problem: 5-way 1-shot episodes over the nine speakers, scored the way the papers report
few-shot accuracy (mean over episodes ± 1.96·std/√episodes). The classifier is a 1-NN on
mean-pooled frames, the order-blind aggregation baseline every later method is compared to.
"""

from seqot.datasets import load_japanese_vowels
from seqot.fewshot import EpisodeSampler, evaluate_episodes
from seqot.neighbors import KNeighborsSequenceClassifier

jv = load_japanese_vowels()
X = jv.X_train + jv.X_test
y = list(jv.y_train) + list(jv.y_test)

for n_shot in (1, 5):
    sampler = EpisodeSampler(n_way=5, n_shot=n_shot, n_query=5, n_episodes=300, random_state=0)
    scores = evaluate_episodes(
        KNeighborsSequenceClassifier(metric="mean_euclidean", device="cpu"), X, y, sampler)
    print(f"5-way {n_shot}-shot, mean-pooled 1-NN: {scores}")
