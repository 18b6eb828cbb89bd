"""Few-shot episodes: the sampler's guarantees and accuracy ± 95% CI."""

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from seqot.fewshot import EpisodeSampler, evaluate_episodes
from seqot.neighbors import KNeighborsSequenceClassifier
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


def labels(n_classes=8, per=6):
    return np.repeat(np.arange(n_classes), per)


def test_episode_structure():
    y = labels()
    sampler = EpisodeSampler(n_way=5, n_shot=2, n_query=3, n_episodes=50, random_state=0)
    for support, query in sampler.split(None, y):
        assert len(support) == 10 and len(query) == 15
        assert not set(support) & set(query)
        assert len(np.unique(support)) == 10  # without replacement
        classes = np.unique(y[support])
        assert len(classes) == 5
        np.testing.assert_array_equal(np.unique(y[query]), classes)
        for c in classes:
            assert np.sum(y[support] == c) == 2 and np.sum(y[query] == c) == 3


def test_int_seed_repeats_and_covers_classes():
    y = labels()
    sampler = EpisodeSampler(n_way=3, n_shot=1, n_query=1, n_episodes=200, random_state=7)
    a = [np.concatenate(e) for e in sampler.split(None, y)]
    b = [np.concatenate(e) for e in sampler.split(None, y)]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    seen = np.unique(np.concatenate([y[e] for e in a]))
    np.testing.assert_array_equal(seen, np.arange(8))
    c = [np.concatenate(e) for e in EpisodeSampler(3, 1, 1, 200, random_state=8).split(None, y)]
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


def test_classes_too_small_are_skipped_or_rejected():
    y = np.array([0] * 5 + [1] * 5 + [2] * 1)
    eps = list(EpisodeSampler(2, 1, 3, 20, random_state=0).split(None, y))
    assert all(2 not in y[np.concatenate(e)] for e in eps)
    with pytest.raises(ValueError, match="need 3 classes with at least 4 examples"):
        list(EpisodeSampler(3, 1, 3, 5).split(None, y))
    with pytest.raises(ValueError, match="needs the labels"):
        list(EpisodeSampler().split(None))


def test_ci_formula_and_unpacking():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(10, 4)) * 3
    y = labels(10, 8)
    X = [centers[c] + rng.normal(size=(5, 4)) for c in y]
    sampler = EpisodeSampler(n_way=5, n_shot=1, n_query=3, n_episodes=40, random_state=0)
    res = evaluate_episodes(KNeighborsSequenceClassifier(device="cpu"), X, y, sampler)
    mean, ci = res
    assert res.scores.shape == (40,)
    assert mean == pytest.approx(res.scores.mean())
    assert ci == pytest.approx(1.96 * res.scores.std() / np.sqrt(40))
    assert 0.8 < mean <= 1.0  # well-separated classes
    # each episode equals a hand-run fit/score on its split
    s, q = next(iter(sampler.split(None, y)))
    clf = KNeighborsSequenceClassifier(device="cpu").fit([X[i] for i in s], y[s])
    assert res.scores[0] == pytest.approx(clf.score([X[i] for i in q], y[q]))
    # same result in parallel and through sklearn's cross_val_score
    par = evaluate_episodes(KNeighborsSequenceClassifier(device="cpu"), X, y, sampler, n_jobs=2)
    np.testing.assert_array_equal(par.scores, res.scores)
    cv = cross_val_score(KNeighborsSequenceClassifier(device="cpu"), X, y, cv=sampler)
    np.testing.assert_allclose(cv, res.scores)


def test_sampler_constraints_are_checked_in_split_and_get_n_splits():
    """A splitter, not an estimator: its _parameter_constraints are checked by its methods
    (every constraint violated once, the error naming the parameter)."""
    from seqot.utils._param_validation import InvalidParameterError
    from seqot.utils.estimator_checks import invalid_parameter_values

    y = labels()
    n = 0
    for name, entry in EpisodeSampler._parameter_constraints.items():
        for bad in invalid_parameter_values(entry):
            sampler = EpisodeSampler(3, 1, 1, 4, random_state=0)
            setattr(sampler, name, bad)
            for call in (lambda: list(sampler.split(None, y)), sampler.get_n_splits):
                with pytest.raises(InvalidParameterError,
                                   match=f"'{name}' parameter of EpisodeSampler"):
                    call()
            n += 1
    assert n >= 10


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}") for c in function_constraint_cases(
        evaluate_episodes, (KNeighborsSequenceClassifier(device="cpu"),
                            [np.zeros((2, 1)) + k for k in labels(4, 3)], labels(4, 3),
                            EpisodeSampler(2, 1, 1, 2, random_state=0)))])
def test_parameter_constraints(case):
    check_function_constraint(*case)


def test_evaluate_episodes_leaves_the_estimator_checks_on():
    """The episodes' estimator checks its own parameters (nested validation is not
    skipped: evaluate_episodes does not check them)."""
    X, y = [np.zeros((2, 1)) + c for c in labels(4, 3)], labels(4, 3)
    with pytest.raises(ValueError, match="'weights' parameter"):
        evaluate_episodes(KNeighborsSequenceClassifier(weights="nope", device="cpu"), X, y,
                          EpisodeSampler(2, 1, 1, 2, random_state=0))


def test_one_episode_drawer_and_int_seed_draws_kept():
    """EpisodeSampler and EpisodicEncoder draw through the same function; an int seed keeps
    numpy's legacy RandomState stream (the episodes of every published table)."""
    from seqot.fewshot._episodes import _draw_episode

    y = labels(7, 5)
    members = [np.flatnonzero(y == c) for c in range(7)]
    got = list(EpisodeSampler(3, 2, 2, 5, random_state=11).split(None, y))
    rng = np.random.RandomState(11)
    for support, query in got:
        s, q, lab = _draw_episode(rng, members, np.arange(7), 3, 2, 2)
        np.testing.assert_array_equal(support, s)
        np.testing.assert_array_equal(query, q)
        np.testing.assert_array_equal(lab, np.repeat([0, 1, 2], 2))
    # the same draws as before the one drawer: RandomState.choice, classes then members
    rng = np.random.RandomState(11)
    chosen = rng.choice(np.arange(7), size=3, replace=False)
    picked = [rng.choice(members[c], size=4, replace=False) for c in chosen]
    np.testing.assert_array_equal(got[0][0], np.concatenate([p[:2] for p in picked]))
    np.testing.assert_array_equal(got[0][1], np.concatenate([p[2:] for p in picked]))
    # Generators and SeedSequences go through seqot.utils.check_random_state
    a = list(EpisodeSampler(3, 1, 1, 3, random_state=np.random.SeedSequence(5)).split(None, y))
    b = list(EpisodeSampler(3, 1, 1, 3, random_state=np.random.default_rng(
        np.random.SeedSequence(5))).split(None, y))
    for (s1, q1), (s2, q2) in zip(a, b):
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(q1, q2)


def test_precomputed_matrix_blocks():
    """A pairwise estimator gets the (query, support) block of a precomputed matrix."""
    rng = np.random.default_rng(1)
    y = labels(6, 5)
    Z = rng.normal(size=(6, 3))[y] + 0.5 * rng.normal(size=(len(y), 3))
    D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    sampler = EpisodeSampler(n_way=3, n_shot=2, n_query=2, n_episodes=30, random_state=0)
    pre = evaluate_episodes(KNeighborsClassifier(1, metric="precomputed"), D, y, sampler)
    raw = evaluate_episodes(KNeighborsClassifier(1), Z, y, sampler)
    np.testing.assert_array_equal(pre.scores, raw.scores)
