"""Tests for the synthetic generators in seqot.datasets._synthetic."""

import numpy as np
import pytest

from seqot.datasets import (
    make_order_only_sequences,
    make_reversal_tasks,
    make_segmented_sequences,
    make_warped_sequences,
)
from seqot.datasets._synthetic import true_alignment
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


# --------------------------------------------------------------------------------------
# make_reversal_tasks
# --------------------------------------------------------------------------------------
def test_reversal_shapes_dtypes_labels():
    X, y, rev = make_reversal_tasks(
        n_classes=4, n_per_class=3, n_segments=5, n_features=7, random_state=0,
        return_is_reversed=True,
    )
    n = 2 * 4 * 3
    assert X.shape == (n, 5, 7) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert rev.shape == (n,) and rev.dtype == bool
    assert not rev[: n // 2].any() and rev[n // 2:].all()
    base = np.repeat(np.arange(4), 3)
    np.testing.assert_array_equal(y, np.concatenate([base, base + 4]))
    assert len(make_reversal_tasks(random_state=0)) == 2


def test_reversal_second_half_is_reversed_first_half():
    X, _ = make_reversal_tasks(n_classes=3, n_per_class=4, swap_prob=0.5, random_state=1)
    h = X.shape[0] // 2
    np.testing.assert_array_equal(X[h:], X[:h, ::-1])
    assert not np.allclose(X[h:], X[:h])


@pytest.mark.parametrize("random_state", [0, 7])
def test_reversal_pool_identical_across_settings(random_state):
    Xo, yo = make_reversal_tasks(n_classes=5, n_per_class=2, setting="ordering",
                                 random_state=random_state)
    Xc, yc = make_reversal_tasks(n_classes=5, n_per_class=2, setting="content",
                                 random_state=random_state)
    np.testing.assert_array_equal(Xo, Xc)
    h = len(yo) // 2
    np.testing.assert_array_equal(yc[:h], yc[h:])
    np.testing.assert_array_equal(yo[h:], yo[:h] + 5)
    np.testing.assert_array_equal(yo[:h], yc[:h])
    assert set(yo.tolist()) == set(range(10)) and set(yc.tolist()) == set(range(5))


def test_reversal_noise_free_no_swap_equals_template():
    X, y = make_reversal_tasks(n_classes=3, n_per_class=4, n_features=16, noise=0.0,
                               swap_prob=0.0, random_state=3)
    h = len(y) // 2
    for c in range(3):
        block = X[:h][y[:h] == c]
        # every original of a class is the same template ...
        np.testing.assert_array_equal(block, np.broadcast_to(block[0], block.shape))
    # ... with ~N(0, 1/D) entries: rows of norm ~1, distinct classes differ
    norms = np.linalg.norm(X[:h], axis=2)
    assert 0.5 < norms.mean() < 1.5
    assert not np.allclose(X[0], X[4])


def test_reversal_noise_scale():
    # same seed -> same templates; the noise is s * N(0, 1/D) elementwise
    kw = dict(n_classes=4, n_per_class=25, n_segments=4, n_features=32, swap_prob=0.0,
              random_state=8)
    X0, _ = make_reversal_tasks(noise=0.0, **kw)
    X1, _ = make_reversal_tasks(noise=0.6, **kw)
    resid = X1 - X0
    assert resid.mean() == pytest.approx(0.0, abs=0.01)
    assert resid.std() == pytest.approx(0.6 / np.sqrt(32), rel=0.05)
    assert np.std(X0) == pytest.approx(1 / np.sqrt(32), rel=0.2)


def test_reversal_swap_prob_one_swaps_one_adjacent_pair():
    kw = dict(n_classes=2, n_per_class=5, n_segments=6, noise=0.0, random_state=4)
    X0, y = make_reversal_tasks(swap_prob=0.0, **kw)
    X1, _ = make_reversal_tasks(swap_prob=1.0, **kw)
    h = len(y) // 2
    for i in range(h):
        template = X0[i]
        differ = np.flatnonzero(np.any(X1[i] != template, axis=1))
        assert differ.size == 2 and differ[1] == differ[0] + 1
        p = differ[0]
        np.testing.assert_array_equal(X1[i][[p, p + 1]], template[[p + 1, p]])


def test_reversal_determinism_and_random_state_types():
    a = make_reversal_tasks(n_classes=2, n_per_class=2, random_state=11)[0]
    b = make_reversal_tasks(n_classes=2, n_per_class=2, random_state=11)[0]
    c = make_reversal_tasks(n_classes=2, n_per_class=2, random_state=12)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    g1 = make_reversal_tasks(n_classes=2, n_per_class=2,
                             random_state=np.random.default_rng(5))[0]
    g2 = make_reversal_tasks(n_classes=2, n_per_class=2,
                             random_state=np.random.default_rng(5))[0]
    np.testing.assert_array_equal(g1, g2)
    r1 = make_reversal_tasks(n_classes=2, n_per_class=2,
                             random_state=np.random.RandomState(5))[0]
    r2 = make_reversal_tasks(n_classes=2, n_per_class=2,
                             random_state=np.random.RandomState(5))[0]
    np.testing.assert_array_equal(r1, r2)
    assert make_reversal_tasks(n_classes=2, n_per_class=2)[0].shape == (8, 4, 32)


def test_generators_leave_global_rng_alone():
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    make_reversal_tasks(n_classes=2, n_per_class=2, random_state=np.random.RandomState(0))
    make_segmented_sequences(n_sequences=2, n_frames=100, n_segments=2, random_state=None)
    make_warped_sequences(n_classes=2, n_per_class=2, random_state=None)
    np.testing.assert_array_equal(np.random.random(3), expected)


# --------------------------------------------------------------------------------------
# make_segmented_sequences
# --------------------------------------------------------------------------------------
def _segments(labels):
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    return labels[starts], ends - starts


def test_segmented_structure():
    X, y, P = make_segmented_sequences(
        n_sequences=15, n_frames=(150, 260), n_actions=4, n_features=10, n_segments=(3, 6),
        min_segment_length=25, noise=0.5, random_state=0, return_prototypes=True,
    )
    assert len(X) == len(y) == 15
    assert P.shape == (4, 10) and P.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0)
    lengths, n_segs = set(), set()
    for x, t in zip(X, y):
        assert x.dtype == np.float64 and t.dtype == np.int64
        assert x.shape == (len(t), 10) and 150 <= len(t) <= 260
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
        assert t.min() >= 0 and t.max() < 4
        # segments as runs of equal labels: consecutive runs always differ by
        # construction, so the run count must equal a drawn number of segments
        actions, seg_len = _segments(t)
        assert 3 <= len(actions) <= 6
        assert seg_len.min() >= 25
        lengths.add(len(t))
        n_segs.add(len(actions))
    assert len(lengths) > 1 and len(n_segs) > 1


def test_segmented_segments_never_repeat_consecutively():
    # with 2 actions, consecutive-equal segments would merge into runs; the run count
    # then falls below the drawn segment count, which n_segments=5 pins exactly
    _, y = make_segmented_sequences(n_sequences=30, n_frames=100, n_actions=2,
                                    n_segments=5, min_segment_length=20, random_state=1)
    for t in y:
        actions, seg_len = _segments(t)
        assert len(actions) == 5
        np.testing.assert_array_equal(seg_len, 20)
        np.testing.assert_array_equal(actions, [actions[0], 1 - actions[0]] * 2 + [actions[0]])


def test_segmented_noise_free_frames_are_prototypes():
    X, y, P = make_segmented_sequences(n_sequences=3, n_frames=120, noise=0.0,
                                       n_segments=3, random_state=2, return_prototypes=True)
    for x, t in zip(X, y):
        np.testing.assert_allclose(x, P[t])


def _argmax_accuracy(noise, seed=0):
    X, y, P = make_segmented_sequences(n_sequences=20, noise=noise, random_state=seed,
                                       return_prototypes=True)
    return np.mean([np.mean(np.argmax(x @ P.T, axis=1) == t) for x, t in zip(X, y)])


def test_segmented_argmax_accuracy_matches_spec_table():
    # ASOT spec §7.1: argmax frame accuracy 0.947 / 0.610 / 0.382 at sigma 0.3 / 0.6 / 1.0
    a03, a06, a10 = (_argmax_accuracy(s) for s in (0.3, 0.6, 1.0))
    assert a03 >= 0.85
    assert 0.45 <= a06 <= 0.75
    assert 0.25 <= a10 <= 0.5
    assert a03 > a06 > a10


def test_segmented_determinism():
    a = make_segmented_sequences(n_sequences=3, n_frames=(100, 200), n_segments=(2, 4),
                                 random_state=5)
    b = make_segmented_sequences(n_sequences=3, n_frames=(100, 200), n_segments=(2, 4),
                                 random_state=5)
    c = make_segmented_sequences(n_sequences=3, n_frames=(100, 200), n_segments=(2, 4),
                                 random_state=6)
    for xa, xb in zip(a[0], b[0]):
        np.testing.assert_array_equal(xa, xb)
    for ya, yb in zip(a[1], b[1]):
        np.testing.assert_array_equal(ya, yb)
    assert any(xa.shape != xc.shape or not np.allclose(xa, xc) for xa, xc in zip(a[0], c[0]))


# what the declared constraints cannot say (see test_parameter_constraints for the rest):
# the content of a (low, high) pair and the relations between parameters
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_frames=(300, 200)), "n_frames"),
        (dict(n_frames=(100, 2.5)), "n_frames"),
        (dict(n_frames=(100, 200, 300)), "n_frames"),
        (dict(n_actions=1), "n_actions"),
        (dict(n_segments=(0, 3)), "n_segments"),
        (dict(n_segments=(5, 4)), "n_segments"),
        (dict(n_frames=100, n_segments=(4, 7), min_segment_length=20), "min_segment_length"),
    ],
)
def test_segmented_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_segmented_sequences(**kwargs)


def test_segmented_single_segment_allows_one_action():
    X, y = make_segmented_sequences(n_sequences=2, n_frames=50, n_actions=1, n_segments=1,
                                    min_segment_length=50, random_state=0)
    assert all(np.all(t == 0) for t in y)


# --------------------------------------------------------------------------------------
# make_warped_sequences and true_alignment
# --------------------------------------------------------------------------------------
def test_warped_shapes_and_warps():
    X, y, W = make_warped_sequences(n_classes=3, n_per_class=4, n_features=5, length=(20, 40),
                                    random_state=0, return_warps=True)
    assert len(X) == len(W) == 12
    assert y.dtype == np.int64 and y.shape == (12,)
    np.testing.assert_array_equal(y, np.repeat(np.arange(3), 4))
    for x, w in zip(X, W):
        assert x.dtype == np.float64 and x.shape == (len(w), 5)
        assert 20 <= len(w) <= 40
        assert w[0] == 0.0 and w[-1] == 1.0
        assert np.all(np.diff(w) > 0)
        assert np.all((w >= 0) & (w <= 1))
    # warps are random (not the uniform grid) and lengths vary
    assert max(np.abs(w - np.linspace(0, 1, len(w))).max() for w in W) > 0.02
    assert len({len(w) for w in W}) > 1
    assert len(make_warped_sequences(n_classes=2, n_per_class=2, random_state=0)) == 2


def test_warped_fixed_length():
    X, _ = make_warped_sequences(n_classes=2, n_per_class=3, length=17, random_state=0)
    assert all(x.shape[0] == 17 for x in X)


def test_warped_noise_free_frames_follow_template():
    X, y, W = make_warped_sequences(n_classes=3, n_per_class=5, length=(60, 90), noise=0.0,
                                    random_state=1, return_warps=True)
    for c in range(3):
        idx = np.flatnonzero(y == c)
        for a, b in zip(idx[:-1], idx[1:]):
            # the endpoints show f_c(0) and f_c(1) in every instance of the class
            np.testing.assert_allclose(X[a][[0, -1]], X[b][[0, -1]], atol=1e-12)
            A = true_alignment(W[a], W[b])
            assert A.shape == (len(X[a]), len(X[b]))
            assert np.all(A >= 0)
            np.testing.assert_allclose(A.sum(axis=1), 1.0)
            err = np.mean((A @ X[b] - X[a]) ** 2) / np.var(X[a])
            assert err < 0.02
            # ignoring the warps (uniform-time alignment) is much worse
            U = true_alignment(np.linspace(0, 1, len(X[a])), np.linspace(0, 1, len(X[b])))
            err_u = np.mean((U @ X[b] - X[a]) ** 2) / np.var(X[a])
            assert err_u > err
    # different classes have different templates
    assert not np.allclose(X[0][0], X[5][0])


def test_warped_noise_level():
    X0, _ = make_warped_sequences(n_classes=2, n_per_class=3, noise=0.0, random_state=2)
    X1, _ = make_warped_sequences(n_classes=2, n_per_class=3, noise=0.5, random_state=2)
    resid = np.concatenate([a - b for a, b in zip(X1, X0)])
    assert resid.std() == pytest.approx(0.5, rel=0.1)


def test_warped_swaps_move_frames_with_warps():
    kw = dict(n_classes=2, n_per_class=4, length=(20, 30), noise=0.0, random_state=3,
              return_warps=True)
    X0, _, W0 = make_warped_sequences(n_swaps=0, **kw)
    X3, _, W3 = make_warped_sequences(n_swaps=3, **kw)
    for x0, w0, x3, w3 in zip(X0, W0, X3, W3):
        # same warp values, permuted; exactly 3 out-of-order pairs (distinct adjacent swaps)
        np.testing.assert_array_equal(np.sort(w3), w0)
        inversions = np.sum(w3[:, None] > w3[None, :], where=np.triu(np.ones((len(w3),) * 2, bool)))
        assert inversions == 3
        # frames travel with their template times
        perm = np.argsort(w3)
        np.testing.assert_allclose(x3[perm], x0, atol=1e-12)
        # the ground-truth alignment to the unswapped version is the swap permutation
        A = true_alignment(w3, w0)
        np.testing.assert_allclose(A @ x0, x3, atol=1e-12)
        np.testing.assert_array_equal(A, np.eye(len(w0))[perm.argsort()])


def test_warped_determinism():
    a, _, wa = make_warped_sequences(n_classes=2, n_per_class=2, random_state=9, return_warps=True)
    b, _, wb = make_warped_sequences(n_classes=2, n_per_class=2, random_state=9, return_warps=True)
    c, _, _ = make_warped_sequences(n_classes=2, n_per_class=2, random_state=10, return_warps=True)
    for xa, xb, u, v in zip(a, b, wa, wb):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(u, v)
    assert any(xa.shape != xc.shape or not np.allclose(xa, xc) for xa, xc in zip(a, c))


def test_true_alignment_values():
    A = true_alignment([0.0, 0.5, 1.0], [0.0, 0.25, 1.0])
    expected = np.array([[1.0, 0.0, 0.0], [0.0, 2 / 3, 1 / 3], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(A, expected)
    # identical warps give the identity; an unsorted warp_y is handled by template time
    w = np.array([0.0, 0.3, 0.7, 1.0])
    np.testing.assert_allclose(true_alignment(w, w), np.eye(4))
    B = true_alignment([0.5], [1.0, 0.0])
    np.testing.assert_allclose(B, [[0.5, 0.5]])
    # out-of-range times clamp to the nearest end; a single-frame y takes everything
    np.testing.assert_allclose(true_alignment([-1.0, 2.0], [0.0, 1.0]), [[1, 0], [0, 1]])
    np.testing.assert_allclose(true_alignment([0.1, 0.9], [0.4]), [[1.0], [1.0]])


@pytest.mark.parametrize(
    "args, name",
    [
        (([[0.0, 1.0]], [0.0, 1.0]), "warp_x"),
        (([0.0, 1.0], []), "warp_y"),
        (([0.0, np.nan], [0.0, 1.0]), "warp_x"),
    ],
)
def test_true_alignment_bad_input(args, name):
    with pytest.raises(ValueError, match=name):
        true_alignment(*args)


# the content of a (low, high) pair, which no declared constraint can say
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(length=(30, 20)), "length"),
        (dict(length=(1, 20)), "length"),
        (dict(length=[True, 20]), "length"),
        (dict(length=np.array([[2, 3], [4, 5]])), "length"),
    ],
)
def test_warped_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_warped_sequences(**kwargs)


# --------------------------------------------------------------------------------------
# declared parameter constraints of every generator
# --------------------------------------------------------------------------------------
_VALID_CALLS = [
    (make_reversal_tasks, (), dict(n_classes=2, n_per_class=1, random_state=0)),
    (make_segmented_sequences, (), dict(n_sequences=1, n_frames=60, n_segments=2,
                                        min_segment_length=5, random_state=0)),
    (make_warped_sequences, (), dict(n_classes=1, n_per_class=1, random_state=0)),
    (make_order_only_sequences, (), dict(n_sequences=2, random_state=0)),
    (true_alignment, ([0.0, 1.0], [0.0, 0.5, 1.0]), {}),
]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, args, kwargs in _VALID_CALLS
    for c in function_constraint_cases(func, args, kwargs)])
def test_parameter_constraints(case):
    check_function_constraint(*case)


@pytest.mark.parametrize("func, args, kwargs", _VALID_CALLS,
                         ids=[c[0].__name__ for c in _VALID_CALLS])
def test_constraint_base_calls_are_valid(func, args, kwargs):
    # the base calls above are valid, so each case fails for its one bad value only
    func(*args, **kwargs)
