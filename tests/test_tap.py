"""TAP (Su & Wen, ICLR 2022): the alignment predictor, the distance, augmentations, losses and
TAPMetricLearner, checked against independent oracles (spec ``tap.md`` §2, §3.2, §8, §9).

The per-pair reference ``ref_tap`` below is written from the equations with plain torch
(``cdist``-free Euclidean distances, ``F.conv2d`` with the module's weights, no masks) and is
never routed through seqot's own TAP code.
"""

import copy
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score
from torch import nn

from seqot.distances import pairwise_sequence_distances, tap, tap_alignment
from seqot.distances._tap_distance import tap_block_alignments, tap_paired_alignments
from seqot.metric_learning import (
    TAPMetricLearner,
    augment_sequence,
    binomial_deviance_loss,
    hard_mining_loss,
    lifted_structure_loss,
    random_blur,
    random_merge,
)
from seqot.neighbors import KNeighborsSequenceClassifier
from seqot.nn import AlignmentPredictor
from seqot.utils import SequenceBatch
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases


# --------------------------------------------------------------------------- oracles
def ref_tap(x, y, predictor=None):
    """TAP for one unpadded pair from the equations: returns (A, d) (torch, differentiable)."""
    Lx, Ly = x.shape[0], y.shape[0]
    D = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1).sqrt()
    p = torch.arange(1, Lx + 1, dtype=x.dtype) / Lx
    q = torch.arange(1, Ly + 1, dtype=x.dtype) / Ly
    Dt = (p[:, None] - q[None, :]).abs()
    G = torch.zeros_like(D)
    if predictor is not None:
        h = torch.stack([D, Dt])[None]
        convs = list(predictor.convs)
        for k, conv in enumerate(convs):
            w = conv.weight.to(x.dtype)
            b = conv.bias.to(x.dtype)
            h = F.conv2d(h, w, b, stride=1, padding=w.shape[-1] // 2)
            if k < len(convs) - 1 or predictor.final_activation == "relu":
                h = torch.relu(h)
        G = h[0, 0]
    A = torch.softmax(-(D + G), dim=1)
    return A, (A * D).sum() / Lx


def np_softmax_rows(S):
    S = S - S.max(1, keepdims=True)
    E = np.exp(S)
    return E / E.sum(1, keepdims=True)


def np_euclid(x, y):
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def make_predictor(seed, channels=(4, 4), kernel_sizes=(5, 5, 3), final_activation=None):
    """A float64 predictor with PyTorch's default init, seeded without leaking global RNG."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return AlignmentPredictor(channels, kernel_sizes,
                                  final_activation=final_activation).double()


def pad_stack(seqs):
    T = max(s.shape[0] for s in seqs)
    data = torch.stack([F.pad(s, (0, 0, 0, T - s.shape[0])) for s in seqs])
    return SequenceBatch(data, torch.tensor([s.shape[0] for s in seqs]))


def rand_seqs(rng, lengths, d=2):
    return [torch.tensor(rng.normal(size=(n, d))) for n in lengths]


# --------------------------------------------------------------------------- closed form (§9.4)
X0 = np.array([[0.0], [1.0]])
Y0 = np.array([[0.0], [1.0], [2.0]])
A0 = np.array([[0.665241, 0.244728, 0.090031], [0.211942, 0.576117, 0.211942]])


@pytest.mark.parametrize("zeroed", [False, True])
def test_closed_form_g_zero(zeroed):
    g = AlignmentPredictor().zero_() if zeroed else None
    assert tap(X0, Y0, predictor=g) == pytest.approx(0.424336, abs=1e-6)
    assert tap(Y0, X0, predictor=g) == pytest.approx(0.602275, abs=1e-6)
    # the same numbers from first principles (softmax over the target axis, /L_X)
    D = np_euclid(X0, Y0)
    A = np_softmax_rows(-D)
    np.testing.assert_allclose(A, A0, atol=1e-6)
    assert (A * D).sum() / 2 == pytest.approx(0.424336, abs=1e-6)
    # the alignment itself, batched API, torch float64
    xb = SequenceBatch(torch.tensor(X0)[None], torch.tensor([2]))
    yb = SequenceBatch(torch.tensor(Y0)[None], torch.tensor([3]))
    with torch.no_grad():
        A_b, d_b = tap_block_alignments(xb, yb, None if g is None else g.double())
    np.testing.assert_allclose(A_b[0].detach().numpy(), A0, atol=1e-6)
    assert d_b.shape == (1, 1) and float(d_b[0, 0]) == pytest.approx(0.424336, abs=1e-6)
    # torch input -> 0-dim tensor
    t = tap(torch.tensor(X0), torch.tensor(Y0), predictor=g)
    assert isinstance(t, torch.Tensor) and t.ndim == 0
    assert float(t.detach()) == pytest.approx(0.424336, abs=1e-6)


# --------------------------------------------------------------------------- §9.1-3 shapes, rows
def test_shapes_rows_and_convexity_bound():
    rng = np.random.default_rng(0)
    g = make_predictor(1)
    lx, ly = [1, 2, 5, 3], [1, 4, 6]
    xs, ys = rand_seqs(rng, lx), rand_seqs(rng, ly)
    with torch.no_grad():
        A, d = tap_block_alignments(pad_stack(xs), pad_stack(ys), g)
    assert A.shape == (len(lx) * len(ly), max(lx), max(ly)) and d.shape == (len(lx), len(ly))
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            a = A[i * len(ly) + j]
            Lx, Ly = len(x), len(y)
            box = a[:Lx, :Ly]
            assert (box > 0).all()
            assert (a[Lx:] == 0).all() and (a[:, Ly:] == 0).all()
            np.testing.assert_allclose(box.sum(1).numpy(), np.ones(Lx), atol=1e-12)
            T = box / Lx
            np.testing.assert_allclose(T.sum(1).numpy(), np.full(Lx, 1 / Lx), atol=1e-12)
            assert float(T.sum()) == pytest.approx(1.0, abs=1e-12)
            D = np_euclid(x.numpy(), y.numpy())
            row = (box.numpy() * D).sum(1)
            assert np.all(D.min(1) - 1e-12 <= row) and np.all(row <= D.max(1) + 1e-12)
            di = float(d[i, j])
            assert D.min(1).mean() - 1e-12 <= di <= D.max(1).mean() + 1e-12 and di >= 0
            assert di == pytest.approx(row.mean(), abs=1e-12)
    # g keeps the spatial size, for any box including 1 x 1 and non-square
    for Lx, Ly in [(1, 1), (1, 7), (6, 1), (3, 8)]:
        D = torch.rand(2, Lx, Ly, dtype=torch.float64)
        box = torch.ones(2, Lx, Ly, dtype=torch.float64)
        assert g(D, D, box).shape == (2, Lx, Ly)


# --------------------------------------------------------------------------- §9.5-7
def test_asymmetry_mean_symmetric_and_sum():
    rng = np.random.default_rng(2)
    g = make_predictor(3)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    dxy, dyx = tap(x, y, predictor=g), tap(y, x, predictor=g)
    assert abs(dxy - dyx) > 1e-6
    m_xy = tap(x, y, predictor=g, direction="mean")
    assert m_xy == tap(y, x, predictor=g, direction="mean")  # exact
    assert m_xy == pytest.approx(0.5 * (dxy + dyx), abs=1e-12)
    assert tap(x, y, predictor=g, direction="sum") == pytest.approx(dxy + dyx, abs=1e-12)
    X = [rng.normal(size=(n, 3)) for n in (2, 5, 3, 7)]
    S = pairwise_sequence_distances(X, metric="tap", predictor=g)
    M = pairwise_sequence_distances(X, metric="tap", predictor=g, direction="mean")
    U = pairwise_sequence_distances(X, metric="tap", predictor=g, direction="sum")
    assert not np.allclose(S, S.T)
    np.testing.assert_allclose(M, M.T, rtol=0, atol=1e-14)
    np.testing.assert_allclose(M, 0.5 * (S + S.T), atol=1e-12)
    np.testing.assert_allclose(U, S + S.T, atol=1e-12)
    with pytest.raises(ValueError, match="direction"):
        tap(x, y, direction="source_is_X")


def test_translation_invariance():
    rng = np.random.default_rng(4)
    g = make_predictor(5)
    xs, ys = rand_seqs(rng, [3, 5], d=3), rand_seqs(rng, [4, 2], d=3)
    c = torch.tensor([3.0, -1.5, 0.25], dtype=torch.float64)
    A1, d1 = tap_block_alignments(pad_stack(xs), pad_stack(ys), g)
    A2, d2 = tap_block_alignments(pad_stack([x + c for x in xs]), pad_stack([y + c for y in ys]),
                                  g)
    torch.testing.assert_close(d1, d2, atol=1e-10, rtol=0)
    torch.testing.assert_close(A1, A2, atol=1e-10, rtol=0)


def test_self_distance_positive_and_g_zero_formula():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 2))
    D = np_euclid(x, x)
    expected = (np_softmax_rows(-D) * D).sum(1).mean()
    assert expected > 0.01
    assert tap(x, x) == pytest.approx(expected, abs=1e-10)
    assert tap(x, x, predictor=make_predictor(7)) > 0


# --------------------------------------------------------------------------- §9.8-9 batched
@pytest.mark.parametrize("final_activation", [None, "relu"])
def test_batched_equals_per_pair_values_and_gradients(final_activation):
    rng = np.random.default_rng(8)
    lx, ly = [1, 4, 2, 6], [3, 1, 5]
    g = make_predictor(9, channels=(3, 4), final_activation=final_activation)
    g_ref = copy.deepcopy(g)
    xs = [x.requires_grad_() for x in rand_seqs(rng, lx)]
    ys = [y.requires_grad_() for y in rand_seqs(rng, ly)]
    xs_ref = [x.detach().clone().requires_grad_() for x in xs]
    ys_ref = [y.detach().clone().requires_grad_() for y in ys]
    W = torch.tensor(rng.normal(size=(len(lx), len(ly))))

    A, d = tap_block_alignments(pad_stack(xs), pad_stack(ys), g)
    (d * W).sum().backward()

    total = 0.0
    for i, x in enumerate(xs_ref):
        for j, y in enumerate(ys_ref):
            a_ref, d_ref = ref_tap(x, y, g_ref)
            torch.testing.assert_close(d[i, j], d_ref, atol=1e-10, rtol=1e-10)
            torch.testing.assert_close(A[i * len(ly) + j, : len(x), : len(y)], a_ref,
                                       atol=1e-10, rtol=1e-10)
            total = total + W[i, j] * d_ref
    total.backward()
    for a, b in zip(xs + ys, xs_ref + ys_ref):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-9, rtol=1e-8)
    for (name, p), p_ref in zip(g.named_parameters(), g_ref.parameters()):
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p_ref.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, p_ref.grad, atol=1e-9, rtol=1e-8, msg=name)


def test_paired_alignments_equal_reference_and_order_independent():
    rng = np.random.default_rng(10)
    g = make_predictor(11, channels=(3, 3))
    xs, ys = rand_seqs(rng, [2, 6, 1, 4]), rand_seqs(rng, [5, 1, 3, 4])
    A, d = tap_paired_alignments(pad_stack(xs), pad_stack(ys), g)
    for b, (x, y) in enumerate(zip(xs, ys)):
        a_ref, d_ref = ref_tap(x, y, g)
        torch.testing.assert_close(d[b], d_ref.detach(), atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(A[b, : len(x), : len(y)], a_ref.detach(), atol=1e-10,
                                   rtol=1e-10)
    perm = [2, 0, 3, 1]
    A_p, d_p = tap_paired_alignments(pad_stack([xs[k] for k in perm]),
                                     pad_stack([ys[k] for k in perm]), g)
    torch.testing.assert_close(d_p, d[perm], atol=1e-12, rtol=0)
    # block form: permuting sources and targets permutes the matrix
    _, D = tap_block_alignments(pad_stack(xs), pad_stack(ys), g)
    _, D_p = tap_block_alignments(pad_stack([xs[k] for k in perm]),
                                  pad_stack([ys[k] for k in perm[::-1]]), g)
    torch.testing.assert_close(D_p, D[perm][:, perm[::-1]], atol=1e-12, rtol=0)


def test_tap_alignment_ignores_finite_garbage_on_padding():
    """tap_alignment's contract: D may hold any finite value on padding."""
    rng = np.random.default_rng(12)
    g = make_predictor(13, channels=(3, 3))
    x, y = rand_seqs(rng, [3, 2])
    Dv = ((x[:, None] - y[None]) ** 2).sum(-1).sqrt()
    a_ref, d_ref = ref_tap(x, y, g)
    D = torch.full((1, 6, 5), 123.0, dtype=torch.float64)
    Dt = torch.full((1, 6, 5), -7.0, dtype=torch.float64)
    D[0, :3, :2] = Dv
    p = torch.arange(1, 4, dtype=torch.float64) / 3
    q = torch.arange(1, 3, dtype=torch.float64) / 2
    Dt[0, :3, :2] = (p[:, None] - q[None]).abs()
    mx = torch.tensor([[True] * 3 + [False] * 3])
    my = torch.tensor([[True] * 2 + [False] * 3])
    A, d = tap_alignment(D, Dt, mx, my, g)
    torch.testing.assert_close(d[0], d_ref.detach(), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(A[0, :3, :2], a_ref.detach(), atol=1e-10, rtol=1e-10)
    assert (A[0, 3:] == 0).all() and (A[0, :, 2:] == 0).all()


# --------------------------------------------------------------------------- §9.10 gradients
def test_gradcheck_inputs_and_parameters():
    rng = np.random.default_rng(14)
    g = make_predictor(15, channels=(2, 2), kernel_sizes=(3, 3, 3))
    x = torch.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(4, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: tap(a, b, predictor=g), (x, y))
    assert torch.autograd.gradcheck(lambda a, b: tap(a, b), (x, y))

    names = [n for n, _ in g.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in g.parameters())
    xd, yd = x.detach()[None], y.detach()[None]
    D = ((xd[:, :, None] - yd[:, None]) ** 2).sum(-1).sqrt()
    p = torch.arange(1, 4, dtype=torch.float64) / 3
    q = torch.arange(1, 5, dtype=torch.float64) / 4
    Dt = (p[:, None] - q[None]).abs()[None]
    mx, my = torch.ones(1, 3, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool)

    def f(*ps):
        pred = lambda D_, Dt_, box: torch.func.functional_call(  # noqa: E731
            g, dict(zip(names, ps)), (D_, Dt_, box))
        return tap_alignment(D, Dt, mx, my, pred)[1]

    assert torch.autograd.gradcheck(f, params)


@pytest.mark.parametrize("with_g", [False, True])
def test_gradients_finite_on_identical_frames(with_g):
    g = make_predictor(16, channels=(3, 3)) if with_g else None
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], dtype=torch.float64,
                     requires_grad=True)
    y = torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    (tap(x, y, predictor=g) + tap(x, x, predictor=g, direction="sum")).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    assert y.grad.abs().sum() > 0
    if with_g:
        for p in g.parameters():
            assert torch.isfinite(p.grad).all()


# --------------------------------------------------------------------------- §9.11-12
@pytest.mark.parametrize("channels, kernels, expected", [
    ((30, 30), (5, 5, 3), 24_331),
    ((64, 64), (5, 5, 3), 106_305),
    ((30, 30), (7, 7, 5), 47_790 + 61),
    ((30, 30, 30), (5, 5, 5, 3), 24_331 + 22_530),
])
def test_parameter_counts(channels, kernels, expected):
    with torch.device("meta"):
        g = AlignmentPredictor(channels, kernels)
    assert sum(p.numel() for p in g.parameters()) == expected


def test_default_predictor_count():
    with torch.device("meta"):
        assert sum(p.numel() for p in AlignmentPredictor().parameters()) == 24_331


class _Recorder(nn.Module):
    """A g that records its inputs and predicts 0."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, D, Dt, box):
        self.calls.append((D.detach().clone(), Dt.detach().clone(), box.detach().clone()))
        return torch.zeros_like(D)


def test_position_channel_and_cost_channel():
    rng = np.random.default_rng(17)
    lx, ly = [1, 3, 4], [2, 4, 5]
    xs, ys = rand_seqs(rng, lx), rand_seqs(rng, ly)
    rec = _Recorder()
    _, d_rec = tap_block_alignments(pad_stack(xs), pad_stack(ys), rec)
    _, d_none = tap_block_alignments(pad_stack(xs), pad_stack(ys), None)
    torch.testing.assert_close(d_rec, d_none, atol=1e-14, rtol=0)
    (D, Dt, box), = rec.calls
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            k = i * len(ly) + j
            Lx, Ly = len(x), len(y)
            p = np.arange(1, Lx + 1) / Lx
            q = np.arange(1, Ly + 1) / Ly
            np.testing.assert_allclose(Dt[k, :Lx, :Ly].numpy(), np.abs(p[:, None] - q[None]),
                                       atol=1e-15)
            assert float(Dt[k, 0, 0]) == pytest.approx(abs(1 / Lx - 1 / Ly), abs=1e-15)
            assert (float(Dt[k, 0, 0]) == 0) == (Lx == Ly)
            assert float(Dt[k, Lx - 1, Ly - 1]) == 0
            assert (Dt[k, Lx:] == 0).all() and (Dt[k, :, Ly:] == 0).all()
            np.testing.assert_allclose(D[k, :Lx, :Ly].numpy(), np_euclid(x.numpy(), y.numpy()),
                                       atol=1e-12)
            assert (D[k, Lx:] == 0).all() and (D[k, :, Ly:] == 0).all()
            assert box[k, :Lx, :Ly].all() and box[k].sum() == Lx * Ly
    # D_t is independent of the features
    rec2 = _Recorder()
    tap_block_alignments(pad_stack([5 * x + 1 for x in xs]), pad_stack(ys), rec2)
    assert torch.equal(rec2.calls[0][1], Dt)


def test_pairwise_driver_equals_per_pair_and_ignores_nan_padding():
    rng = np.random.default_rng(18)
    g = make_predictor(19, channels=(3, 3))
    X = [rng.normal(size=(n, 2)) for n in (3, 1, 6, 4)]
    Y = [rng.normal(size=(n, 2)) for n in (5, 2, 1)]
    P = pairwise_sequence_distances(X, Y, metric="tap", predictor=g)
    loop = np.array([[tap(x, y, predictor=g) for y in Y] for x in X])
    ref = np.array([[float(ref_tap(torch.tensor(x), torch.tensor(y), g)[1].detach())
                     for y in Y] for x in X])
    assert P.shape == (4, 3)
    np.testing.assert_allclose(P, loop, atol=1e-12)
    np.testing.assert_allclose(P, ref, atol=1e-10)

    def nan_pad(S, extra):
        out = np.full((len(S), max(len(s) for s in S) + extra, 2), np.nan)
        for i, s in enumerate(S):
            out[i, : len(s)] = s
        return out

    P_nan = pairwise_sequence_distances(nan_pad(X, 3), nan_pad(Y, 2), metric="tap",
                                        predictor=g)
    np.testing.assert_allclose(P_nan, P, atol=1e-12)


def test_distance_call_does_not_mutate_the_predictor():
    """BUG: seqot.distances.tap (via tap_block_alignments) converts the caller's predictor
    in place (``predictor.to(dtype)``) when its dtype differs from the data's: a float32
    predictor passed float64 (numpy) data silently becomes float64, which e.g. breaks the
    Adam state of a predictor being trained."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        g = AlignmentPredictor((3, 3))
    assert next(g.parameters()).dtype == torch.float32
    x, y = np.random.default_rng(0).normal(size=(3, 2)), np.ones((4, 2))
    tap(x, y, predictor=g)
    assert all(p.dtype == torch.float32 for p in g.parameters())


# --------------------------------------------------------------------------- augmentation §9.13-16
def _check_ground_truth(x, xt, T):
    L = len(x)
    assert T.shape == (L, len(xt)) and xt.shape[1] == x.shape[1]
    assert np.all(T >= 0)
    np.testing.assert_allclose(T.sum(0), 1.0, atol=1e-12)
    assert np.array_equal(xt, T.T @ x)
    # and by explicit loops over the non-zeros
    for t in range(len(xt)):
        acc = np.zeros(x.shape[1])
        for r in range(L):
            if T[r, t] != 0:
                acc += T[r, t] * x[r]
        np.testing.assert_allclose(xt[t], acc, atol=1e-12)


def _check_blur(x, xt, T):
    L = len(x)
    col0 = np.flatnonzero(T[:, 0])
    k = len(col0)
    assert col0[0] == 0 and np.array_equal(col0, np.arange(k)) and k in (3, 5)
    K = T[:k, 0]
    np.testing.assert_allclose(K, K[::-1], atol=0)
    assert K.sum() == pytest.approx(1.0, abs=1e-12)
    assert K.argmax() == k // 2 and np.all(K[k // 2] >= K)
    n_out = T.shape[1]
    s = int(np.flatnonzero(T[:, 1])[0]) if n_out > 1 else None  # stride unseen for 1 frame
    assert s in (1, 2, 3, None)
    if s is not None:
        assert n_out == (L - k) // s + 1
    else:
        assert L - k < 3  # a single output frame means L - k < stride <= 3
    for t in range(n_out):
        expected = np.zeros(L)
        start = t * (s or 1)
        expected[start: start + k] = K
        np.testing.assert_array_equal(T[:, t], expected)
        np.testing.assert_allclose(xt[t], sum(K[r] * x[start + r] for r in range(k)),
                                   atol=1e-12)
    assert np.all(np.abs(xt).sum(1) > 0)  # the authors' k = 5 bug left all-zero frames
    return k, s


def _check_merge(x, xt, T):
    L = len(x)
    n_out = T.shape[1]
    assert int(np.floor(0.5 * L)) <= n_out <= int(np.floor(0.8 * L))
    assert np.all((T != 0).sum(1) == 1)
    cols = np.array([np.flatnonzero(T[r])[0] for r in range(L)])
    assert cols[0] == 0 and cols[-1] == n_out - 1
    assert np.all(np.diff(cols) >= 0) and np.all(np.diff(cols) <= 1)


def test_augmentations_ground_truth_many_lengths():
    seen_k, seen_s = set(), set()
    for seed in range(60):
        rng = np.random.default_rng(seed)
        L = int(rng.integers(3, 41))
        x = rng.normal(size=(L, 3))
        xt, T = random_blur(x, rng)
        _check_ground_truth(x, xt, T)
        k, s = _check_blur(x, xt, T)
        seen_k.add(k)
        seen_s.add(s)
        xt, T = random_merge(x, rng)
        _check_ground_truth(x, xt, T)
        _check_merge(x, xt, T)
        xt, T = augment_sequence(x, rng)
        _check_ground_truth(x, xt, T)
    assert seen_k == {3, 5} and seen_s == {1, 2, 3, None}


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_blur_lengths_and_kernel_every_size(k, s):
    rng = np.random.default_rng(100 * k + s)
    for L in range(k, 14):
        x = rng.normal(size=(L, 2))
        xt, T = random_blur(x, rng, size=k, stride=s)
        _check_ground_truth(x, xt, T)
        assert _check_blur(x, xt, T) == (k, s if len(xt) > 1 else None)
        assert len(xt) == (L - k) // s + 1


def test_blur_kernel_peak_in_the_middle_rare_draw():
    """BUG (spec §2.7 / §9.15): the 5-tap kernel draws m ~ U(0.33, 0.5) and
    c1 ~ U(0.16, (1 - m)/2); for m < 1/3, c1 can exceed m, so the maximum is not in the
    middle (seed 523: K = [0.0017, 0.3326, 0.3314, 0.3326, 0.0017]). The draw is rare
    (~0.04% of 5-tap kernels), hence a fixed seed."""
    x = np.random.default_rng(0).normal(size=(9, 2))
    xt, T = random_blur(x, np.random.default_rng(523), size=5, stride=1)
    K = T[:5, 0]
    assert K.argmax() == 2, K


def test_short_sequences_and_small_lengths():
    rng = np.random.default_rng(20)
    for L in (1, 2):
        x = rng.normal(size=(L, 3))
        xt, T = augment_sequence(x, rng)
        assert np.array_equal(xt, x) and xt is not x
        assert np.array_equal(T, np.eye(L))
    for L in (3, 4):  # the kernel-valued ground truth holds there too (spec rec, §9.13)
        for seed in range(10):
            r = np.random.default_rng(seed)
            x = r.normal(size=(L, 3))
            xt, T = augment_sequence(x, r)
            _check_ground_truth(x, xt, T)
            _check_blur(x, xt, T)


def test_augmentation_reproducible_from_seed():
    x = np.random.default_rng(21).normal(size=(12, 3))
    outs = [augment_sequence(x, np.random.default_rng(s)) for s in (7, 7, 8, 9, 10)]
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])
    assert any(o[1].shape != outs[0][1].shape or not np.array_equal(o[1], outs[0][1])
               for o in outs[2:])
    for fn in (random_blur, random_merge):
        a, b = fn(x, np.random.default_rng(3)), fn(x, np.random.default_rng(3))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# --------------------------------------------------------------------------- losses §9.17-18
ALPHA, BETA, M, THR = 40.0, 2.0, 0.1, 0.5


def _is_pos(y, n, k, skip_self):
    return y[k] == y[n] and not (skip_self and k == n)


def loop_lifted(D, y, skip_self=False):
    total = D.new_zeros(())
    B = len(y)
    for n in range(B):
        pos = [D[n, k] for k in range(B) if _is_pos(y, n, k, skip_self)]
        neg = [D[n, k] for k in range(B) if y[k] != y[n]]
        if not neg:
            continue
        q = torch.stack(neg)
        # stable log-sum-exp written out: log Σ e^{a} = c + log Σ e^{a - c}
        b = -ALPHA * q
        ln = b.max().detach() + torch.log(torch.exp(b - b.max().detach()).sum())
        total = total + 2.0 / ALPHA * ln
        if pos:
            a = BETA * torch.stack(pos)
            lp = a.max().detach() + torch.log(torch.exp(a - a.max().detach()).sum())
            total = total + 2.0 / BETA * lp
    return total


def loop_mined(D, y, skip_self=False):
    """Mined sets by loops, thresholds as plain floats (no gradient)."""
    B = len(y)
    D = D.detach()
    out = []
    for n in range(B):
        ds = min(float(D[n, k]) for k in range(B) if y[k] != y[n]) if any(
            y[k] != y[n] for k in range(B)) else math.inf
        dl = max((float(D[n, k]) for k in range(B) if _is_pos(y, n, k, skip_self)),
                 default=-math.inf)
        P = [k for k in range(B) if _is_pos(y, n, k, skip_self) and float(D[n, k]) > ds - M]
        N = [k for k in range(B) if y[k] != y[n] and float(D[n, k]) < dl + M]
        out.append((P, N))
    return out


def loop_hm(D, y, skip_self=False):
    total = D.new_zeros(())
    for n, (P, N) in enumerate(loop_mined(D, y, skip_self)):
        if not N:
            continue
        pos = sum(D[n, k] for k in P) / len(P) if P else 0.0
        neg = sum(M - D[n, k] for k in N) / len(N)
        total = total + pos + neg
    return total


def loop_binomial(D, y, skip_self=False):
    total = D.new_zeros(())
    for n, (P, N) in enumerate(loop_mined(D, y, skip_self)):
        if not P or not N:
            continue
        pos = sum(torch.log1p(torch.exp(BETA * (D[n, k] - THR))) for k in P)
        neg = sum(torch.log1p(torch.exp(-ALPHA * (D[n, k] - THR))) for k in N)
        total = total + 2.0 / (BETA * len(P)) * pos + 2.0 / (ALPHA * len(N)) * neg
    return total


LOSS_PAIRS = [(lifted_structure_loss, loop_lifted), (hard_mining_loss, loop_hm),
              (binomial_deviance_loss, loop_binomial)]


def _loss_problem(seed, B=7, hi=2.0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 0, 1, 1, 2, 0, 1][:B])
    D = torch.tensor(rng.uniform(0, hi, size=(B, B)))
    return D, y


@pytest.mark.parametrize("lib, loop", LOSS_PAIRS, ids=["lifted", "hm", "binomial"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("self_positive", [True, False])
def test_losses_equal_loop_forms_values_and_gradients(lib, loop, seed, self_positive):
    """self_positive=False (training without augmentations) leaves the diagonal out; class 2
    is then an anchor without positives. Regression: the learner wrote 1e4 on the diagonal,
    which stayed a positive (lifted: no gradient on the real positive pairs at all)."""
    D, y = _loss_problem(seed)
    D1 = D.clone().requires_grad_()
    D2 = D.clone().requires_grad_()
    v1 = lib(D1, torch.tensor(y), self_positive=self_positive)
    v2 = loop(D2, y, skip_self=not self_positive)
    assert torch.isfinite(v1)
    torch.testing.assert_close(v1, v2, atol=1e-10, rtol=1e-10)
    v1.backward()
    v2.backward()
    torch.testing.assert_close(D1.grad, D2.grad, atol=1e-10, rtol=1e-10)
    assert D1.grad.abs().sum() > 0


@pytest.mark.parametrize("lib, loop", LOSS_PAIRS[1:], ids=["hm", "binomial"])
def test_mining_is_stable_and_carries_no_gradient(lib, loop):
    rng = np.random.default_rng(3)
    y = np.array([0, 0, 1, 1, 2, 0, 1])
    same = y[:, None] == y[None, :]
    # mostly easy (positives close, negatives far) with overlaps: only some pairs are mined
    D = torch.tensor(np.where(same, rng.uniform(0.0, 0.6, same.shape),
                              rng.uniform(0.5, 1.5, same.shape)))
    mined = loop_mined(D, y)
    mask = torch.zeros_like(D, dtype=torch.bool)
    for n, (P, N) in enumerate(mined):
        if N and (P or lib is hard_mining_loss):
            mask[n, P + N] = True
    assert 0 < mask.sum() < mask.numel() - len(y)  # some pairs mined, some not
    for eps in (0.0, 1e-7, -1e-7):
        Dp = (D + eps * torch.tensor(np.random.default_rng(4).normal(size=D.shape)))
        Dp = Dp.requires_grad_()
        lib(Dp, torch.tensor(y)).backward()
        assert torch.equal(Dp.grad != 0, mask)  # same mined pairs
        Dq = Dp.detach().clone().requires_grad_()
        loop(Dq, y).backward()
        torch.testing.assert_close(Dp.grad, Dq.grad, atol=1e-10, rtol=1e-10)


def test_losses_finite_and_empty_mined_sets_give_zero():
    y = torch.tensor([0, 0, 1, 1, 2])
    for hi in (2.0, 60.0):
        D, _ = _loss_problem(5, B=5, hi=hi)
        D[0, 2] = 0.0
        for lib, _ in LOSS_PAIRS:
            assert torch.isfinite(lib(D, y)), (lib.__name__, hi)
    # every negative farther than every positive by more than the margin: nothing mined
    same = y[:, None] == y[None, :]
    D = torch.where(same, torch.full((5, 5), 0.2, dtype=torch.float64),
                    torch.full((5, 5), 1.5, dtype=torch.float64))
    assert float(hard_mining_loss(D, y)) == 0.0
    assert float(binomial_deviance_loss(D, y)) == 0.0
    assert float(lifted_structure_loss(D, y)) != 0.0
    # a single class: no anchor has negatives
    one = torch.zeros(4, dtype=torch.long)
    Dd = torch.rand(4, 4, dtype=torch.float64)
    for lib, _ in LOSS_PAIRS:
        assert float(lib(Dd, one)) == 0.0


# --------------------------------------------------------------------------- declared constraints
_D, _LABELS = torch.rand(4, 4, dtype=torch.float64), torch.tensor([0, 0, 1, 1])
_SEQ = np.random.default_rng(0).normal(size=(9, 2))
_VALID_CALLS = [
    *((loss, (_D, _LABELS), {})
      for loss in (binomial_deviance_loss, hard_mining_loss, lifted_structure_loss)),
    *((aug, (_SEQ,), {"rng": np.random.default_rng(0)})
      for aug in (random_blur, random_merge, augment_sequence)),
    (tap, (X0, Y0), {}),
    (tap_alignment, (torch.rand(1, 3, 2, dtype=torch.float64),
                     torch.rand(1, 3, 2, dtype=torch.float64),
                     torch.ones(1, 3, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)), {}),
]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}")
    for func, args, kwargs in _VALID_CALLS for c in function_constraint_cases(func, args, kwargs)])
def test_parameter_constraints(case):
    check_function_constraint(*case)


# --------------------------------------------------------------------------- learner
FAST = dict(hidden=(8,), channels=(3, 3), batch_size=8, max_epochs=2, lr=1e-3,
            validation_fraction=None, device="cpu", random_state=0)


def separable(n_per_class, seed, labels=("a", "c"), d=3):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c, lab in enumerate(labels):
        for _ in range(n_per_class):
            L = int(rng.integers(4, 9))
            t = np.linspace(0, 1, L)[:, None]
            mean = np.zeros(d)
            mean[c % d] = 3.0
            X.append(mean + t * (1 - 2 * c) + 0.3 * rng.normal(size=(L, d)))
            y.append(lab)
    return X, np.asarray(y)


@pytest.fixture(scope="module")
def data():
    Xtr, ytr = separable(4, 0)
    Xte, yte = separable(3, 1)
    return Xtr, ytr, Xte, yte


@pytest.fixture(scope="module")
def fitted(data):
    Xtr, ytr, _, _ = data
    return TAPMetricLearner(**FAST).fit(Xtr, ytr)


@pytest.fixture(scope="module")
def noisy():
    """Random labels on noise: the nearest neighbour hinges on the exact distances."""
    rng = np.random.default_rng(30)
    X = [rng.normal(size=(int(rng.integers(4, 9)), 3)) for _ in range(20)]
    y = np.array(["a", "c"] * 4)
    est = TAPMetricLearner(**{**FAST, "max_epochs": 1}).fit(X[:8], y)
    return est, X[:8], y, X[8:]


def _torch_modules(est):
    s = {k: torch.tensor(v, dtype=torch.float64) for k, v in est.embedding_state_.items()}
    g = AlignmentPredictor(est.channels, est.kernel_sizes).double()
    g.load_state_dict({k: torch.tensor(v) for k, v in est.predictor_state_.items()})

    mean = np.asarray(getattr(est, "mean_", 0.0))  # optional input standardisation
    scale = np.asarray(getattr(est, "scale_", 1.0))
    residual = getattr(est, "init", "random") == "identity"

    def h(x):
        x = torch.as_tensor((np.asarray(x) - mean) / scale, dtype=torch.float64)
        z = torch.relu(x @ s["mlp.net.0.weight"].T + s["mlp.net.0.bias"])
        z = z @ s["mlp.net.2.weight"].T + s["mlp.net.2.bias"]
        z = z + x if residual else z
        return z / z.norm(dim=-1, keepdim=True) if est.l2_normalize else z

    return h, g


def test_transform_unit_norm_and_matches_manual_mlp(fitted, data):
    Xtr, _, Xte, _ = data
    Z = fitted.transform(Xte)
    h, _ = _torch_modules(fitted)
    assert isinstance(Z, list) and len(Z) == len(Xte)
    for z, x in zip(Z, Xte):
        assert z.shape == x.shape
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(z, h(x).numpy(), atol=1e-5)
    D = fitted.pairwise_distances(Xte, Xtr)
    assert D.shape == (len(Xte), len(Xtr))
    assert np.all(D >= 0) and np.all(D <= 2 + 1e-6)
    raw = TAPMetricLearner(**{**FAST, "max_epochs": 1, "l2_normalize": False}).fit(*data[:2])
    norms = np.concatenate([np.linalg.norm(z, axis=1) for z in raw.transform(Xte)])
    assert np.abs(norms - 1).max() > 1e-2


@pytest.mark.parametrize("options", [{"init": "identity"}, {"standardize": "global"},
                                     {"init": "identity", "standardize": "global"}])
def test_transform_and_distances_with_init_options(options, data):
    if not set(options) <= set(TAPMetricLearner().get_params()):
        pytest.skip("option not available in this version")
    Xtr, ytr, Xte, _ = data
    est = TAPMetricLearner(**{**FAST, "max_epochs": 1, **options}).fit(Xtr, ytr)
    h, g = _torch_modules(est)
    for z, x in zip(est.transform(Xte), Xte):
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(z, h(x).numpy(), atol=1e-5)
    S = est.pairwise_distances(Xte[:2], Xtr[:3])
    ref = np.array([[float(ref_tap(h(x), h(y), g)[1].detach()) for y in Xtr[:3]]
                    for x in Xte[:2]])
    np.testing.assert_allclose(S, ref, atol=1e-5)


def test_pairwise_distances_against_reference_and_directions(fitted, data):
    Xtr, _, Xte, _ = data
    h, g = _torch_modules(fitted)
    S = fitted.pairwise_distances(Xte[:3], Xtr[:4])
    ref = np.array([[float(ref_tap(h(x), h(y), g)[1].detach()) for y in Xtr[:4]]
                    for x in Xte[:3]])
    np.testing.assert_allclose(S, ref, atol=1e-5)
    back = fitted.pairwise_distances(Xtr[:4], Xte[:3])
    np.testing.assert_allclose(fitted.pairwise_distances(Xte[:3], Xtr[:4], direction="mean"),
                               0.5 * (S + back.T), atol=1e-6)
    np.testing.assert_allclose(fitted.pairwise_distances(Xte[:3], Xtr[:4], direction="sum"),
                               S + back.T, atol=1e-6)
    np.testing.assert_allclose(fitted.pairwise_distances(Xte[:3]),
                               fitted.pairwise_distances(Xte[:3], Xte[:3]), atol=0)
    with pytest.raises(ValueError, match="direction"):
        fitted.pairwise_distances(Xte[:3], direction="both")


def test_predict_labels_and_argmin_rule(fitted, data):
    Xtr, ytr, Xte, yte = data
    pred = fitted.predict(Xte)
    assert pred.dtype == ytr.dtype and set(pred) <= set(fitted.classes_)
    D = fitted.pairwise_distances(Xte, Xtr)
    np.testing.assert_array_equal(pred, ytr[D.argmin(1)])
    assert fitted.score(Xte, yte) == np.mean(pred == yte)
    assert fitted.score(Xte, yte) >= 0.8  # well separated classes


def test_predict_argmin_rule_on_noise(noisy):
    est, Xtr, ytr, Xq = noisy
    D = est.pairwise_distances(Xq, Xtr)
    np.testing.assert_array_equal(est.predict(Xq), ytr[D.argmin(1)])
    knn = KNeighborsSequenceClassifier(n_neighbors=1, metric=est.block_distance,
                                       device="cpu").fit(Xtr, ytr)
    np.testing.assert_array_equal(knn.predict(Xq), est.predict(Xq))
    # k = 3 votes of the learner match a k-NN over its own distance matrix
    est3 = copy.deepcopy(est).set_params(n_neighbors=3)
    votes = np.array([[np.sum(ytr[np.argsort(d, kind="stable")[:3]] == c) for c in est.classes_]
                      for d in D])
    np.testing.assert_array_equal(est3.predict(Xq), est.classes_[votes.argmax(1)])


def test_predict_alignment_rows(fitted, data):
    Xtr, _, Xte, _ = data
    x, y = Xte[0], Xtr[1]
    T = fitted.predict_alignment(x, y)
    A = fitted.predict_alignment(x, y, normalized=False)
    assert T.shape == A.shape == (len(x), len(y))
    np.testing.assert_allclose(T.sum(1), 1 / len(x), atol=1e-6)
    np.testing.assert_allclose(A.sum(1), 1.0, atol=1e-6)
    assert np.all(A > 0)
    h, g = _torch_modules(fitted)
    np.testing.assert_allclose(A, ref_tap(h(x), h(y), g)[0].detach().numpy(), atol=1e-5)


def test_block_distance_as_knn_metric(fitted, data):
    Xtr, ytr, Xte, _ = data
    knn = KNeighborsSequenceClassifier(n_neighbors=1, metric=fitted.block_distance,
                                       device="cpu").fit(Xtr, ytr)
    np.testing.assert_array_equal(knn.predict(Xte), fitted.predict(Xte))


def test_mean_average_precision_brute_force(fitted, data):
    Xtr, ytr, Xte, yte = data
    D = fitted.pairwise_distances(Xte, Xtr)
    aps = [average_precision_score(ytr == q, -d) for d, q in zip(D, yte)]
    assert fitted.mean_average_precision(Xte, yte) == pytest.approx(np.mean(aps), abs=1e-12)


def test_mean_average_precision_refuses_query_labels_absent_from_the_references(fitted, data):
    """Regression (issue 17): a query whose label no fitted sequence has has no relevant
    reference and an undefined AP; it was skipped, so that queries of absent labels only gave
    a mean of nothing, NaN (labels of another type than the fitted ones, ints against
    strings, made every query absent). Now a ValueError naming the labels. Also the earlier
    regression: "b" (between "a" and "c") must not be scored as "c" by a sorted lookup."""
    Xtr, ytr, Xte, _ = data
    with pytest.raises(ValueError, match=r"no relevant reference.*'b'") as info:
        fitted.mean_average_precision(Xte[:3], np.array(["a", "b", "c"]))
    assert "'a'" not in str(info.value).split("labels")[-1]  # only the absent ones named
    with pytest.raises(ValueError, match=r"'b', 'z'"):
        fitted.mean_average_precision(Xte[:3], ["z", "b", "z"])
    with pytest.raises(ValueError, match=r"no relevant reference.*0, 1"):
        fitted.mean_average_precision(Xte[:3], [0, 1, 1])  # ints against string classes
    # present labels only: the brute-force mean, finite
    yq = np.array(["c", "a", "c"])
    D = fitted.pairwise_distances(Xte[:3], Xtr)
    want = np.mean([average_precision_score(ytr == q, -d) for d, q in zip(D, yq)])
    got = fitted.mean_average_precision(Xte[:3], list(yq))
    assert np.isfinite(got) and got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("n_labels", [2, 4])
def test_mean_average_precision_checks_the_length_of_y(fitted, data, n_labels):
    """Regression (issue 17): a y shorter than X was zipped away (the last queries dropped
    without a word); longer or shorter, a ValueError naming both lengths."""
    _, _, Xte, yte = data
    with pytest.raises(ValueError, match=rf"3 sequences.*{n_labels} labels"):
        fitted.mean_average_precision(Xte[:3], yte[:n_labels] if n_labels < 3 else
                                      np.concatenate([yte[:3], yte[:1]]))
    with pytest.raises(ValueError, match="1-D"):
        fitted.mean_average_precision(Xte[:3], yte[:3, None])


@pytest.mark.parametrize("loss", ["binomial", "lifted", "hm"])
def test_fit_reduces_training_loss(loss):
    # one full batch per epoch and no augmentation: the loss is a function of the parameters.
    # Overlapping classes, so that hard mining finds pairs (on the well-separated `data` it
    # rightly finds none, a zero loss, once the diagonal is out of the loss).
    from seqot.utils.estimator_checks import make_check_data

    X, y = make_check_data(n_classes=2, n_per_class=4, random_state=0)
    X = [x + 1.5 * np.random.default_rng(10).normal(size=x.shape) for x in X]
    est = TAPMetricLearner(loss, **{**FAST, "max_epochs": 3, "lr": 1e-2, "augment": False})
    est.fit(X, y)
    loss_curve = est.history_.loss
    assert len(loss_curve) == 3 and np.all(np.isfinite(loss_curve))
    assert loss_curve[0] > 0 and loss_curve[-1] < loss_curve[0]


def test_validation_early_stopping_keeps_best_step(data):
    Xtr, ytr, _, _ = data
    kw = {**FAST, "max_epochs": 3, "batch_size": 4, "validation_fraction": 0.25}
    est = TAPMetricLearner(**kw).fit(Xtr, ytr)
    h = est.history_
    assert h.best_step is not None and h.validation
    steps, scores = zip(*h.validation)
    assert h.best_step == steps[int(np.argmin(scores))]
    n_batches = h.n_steps // 3
    assert h.best_step < h.n_steps, "configuration must make restoring matter"
    # the same run stopped at the best epoch ends with the kept parameters
    short = TAPMetricLearner(**{**kw, "max_epochs": h.best_step // n_batches}).fit(Xtr, ytr)
    assert short.history_.best_step == h.best_step
    for k, v in est.embedding_state_.items():
        np.testing.assert_array_equal(v, short.embedding_state_[k])
    for k, v in est.predictor_state_.items():
        np.testing.assert_array_equal(v, short.predictor_state_[k])
    # with no split there is no selection
    assert TAPMetricLearner(**{**FAST, "max_epochs": 1}).fit(Xtr, ytr).history_.best_step is None


def _rng_states():
    return np.random.get_state()[1].copy(), torch.get_rng_state().clone(), random.getstate()


def _same_states(a, b):
    return np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2]


def test_inference_leaves_global_rng_untouched(fitted, data):
    Xtr, _, Xte, _ = data
    before = _rng_states()
    fitted.transform(Xte)
    fitted.predict(Xte)
    fitted.pairwise_distances(Xte, Xtr, direction="mean")
    fitted.predict_alignment(Xte[0], Xtr[0])
    assert _same_states(before, _rng_states())


def test_fit_leaves_global_rng_untouched(data):
    """BUG: fit validates channels/kernel_sizes by constructing a real AlignmentPredictor in
    _check_params, whose nn.Conv2d initialisation draws from torch's global RNG."""
    Xtr, ytr, _, _ = data
    before = _rng_states()
    TAPMetricLearner(**{**FAST, "max_epochs": 1}).fit(Xtr, ytr)
    after = _rng_states()
    assert np.array_equal(before[0], after[0]) and before[2] == after[2]
    assert torch.equal(before[1], after[1])


def test_same_random_state_bit_identical(data):
    Xtr, ytr, Xte, _ = data
    kw = {**FAST, "max_epochs": 1}
    D1 = TAPMetricLearner(**kw).fit(Xtr, ytr).pairwise_distances(Xte, Xtr)
    D2 = TAPMetricLearner(**kw).fit(Xtr, ytr).pairwise_distances(Xte, Xtr)
    D3 = TAPMetricLearner(**{**kw, "random_state": 1}).fit(Xtr, ytr).pairwise_distances(Xte,
                                                                                         Xtr)
    assert np.array_equal(D1, D2)
    assert not np.array_equal(D1, D3)


# plain bad values of every parameter are driven by _parameter_constraints in
# tests/test_common.py; these are the checks no constraint expresses (the entries of the
# layer-size sequences)
@pytest.mark.parametrize("params, name", [
    ({"hidden": (0,)}, "hidden"),
    ({"channels": (3, 0)}, "channels"),
    ({"channels": (3, 3), "kernel_sizes": (5, 3)}, "kernel_sizes"),
    ({"kernel_sizes": (4, 5, 3)}, "kernel_sizes"),
])
def test_layer_size_entries_are_checked(params, name, data):
    Xtr, ytr, _, _ = data
    with pytest.raises(ValueError, match=name):
        TAPMetricLearner(**{**FAST, **params}).fit(Xtr, ytr)


@pytest.mark.parametrize("max_epochs", [1, 2])
def test_huge_learning_rate_is_a_value_error_naming_lr(max_epochs, data):
    """Regression (issue 18): lr=1e300 passes the constraint (finite, > 0) and reached the
    optimiser (a raw torch overflow error, or NaN distances after one epoch)."""
    Xtr, ytr, _, _ = data
    with pytest.raises(ValueError, match=r"learning rate lr \(lr=1e\+300\)"):
        TAPMetricLearner(**{**FAST, "max_epochs": max_epochs, "lr": 1e300}).fit(Xtr, ytr)


@pytest.mark.parametrize("standardize", [True, 1, "yes", None])
def test_standardize_takes_exactly_its_three_values(standardize, data):
    Xtr, ytr, _, _ = data
    with pytest.raises(ValueError, match="'standardize' parameter"):
        TAPMetricLearner(**{**FAST, "standardize": standardize}).fit(Xtr, ytr)


def test_per_sequence_standardization_z_scores_every_sequence_on_its_own(data):
    """standardize="per_sequence": each sequence (training or query) is z-scored with its own
    frames' statistics, so a sequence and any affine rescaling of it (per feature, positive
    scale) are the same input; "global" uses the training frames' statistics (mean_/scale_)."""
    Xtr, ytr, Xte, _ = data
    kw = {**FAST, "max_epochs": 1, "init": "identity", "l2_normalize": False}
    est = TAPMetricLearner(**kw, standardize="per_sequence").fit(Xtr, ytr)
    assert np.array_equal(est.mean_, np.zeros(3)) and np.array_equal(est.scale_, np.ones(3))
    a, b = np.array([2.0, 0.5, 10.0]), np.array([-3.0, 7.0, 0.1])
    moved = [x * a + b for x in Xte]
    np.testing.assert_allclose(est.pairwise_distances(moved, Xtr),
                               est.pairwise_distances(Xte, Xtr), atol=1e-5)
    # the untrained residual h is the identity: transform gives the z-scores themselves
    zero = TAPMetricLearner(**{**kw, "lr": 1e-12}, standardize="per_sequence").fit(Xtr, ytr)
    for z, x in zip(zero.transform(Xte), Xte):
        np.testing.assert_allclose(z, (x - x.mean(0)) / x.std(0), atol=1e-4)
    glob = TAPMetricLearner(**kw, standardize="global").fit(Xtr, ytr)
    frames = np.concatenate(Xtr)
    np.testing.assert_array_equal(glob.mean_, frames.mean(0))
    np.testing.assert_array_equal(glob.scale_, frames.std(0))
    assert not np.allclose(glob.pairwise_distances(moved, Xtr),
                           glob.pairwise_distances(Xte, Xtr), atol=1e-3)


def test_architecture_is_the_fitted_one_after_set_params(fitted, data):
    """The fitted weights are rebuilt with the fit-time layer sizes: a valid set_params
    after fit (other channels) used to fail loading the stored weights in a raw torch error."""
    Xtr, _, Xte, _ = data
    est = copy.deepcopy(fitted)
    before = est.pairwise_distances(Xte, Xtr)
    est.set_params(channels=(5, 5), hidden=(3, 3))
    np.testing.assert_array_equal(est.pairwise_distances(Xte, Xtr), before)


def test_learner_without_augmentation_and_alignment_only_use_the_right_data():
    """augment=False: the diagonal is out of the loss (it was a 1e4 positive: losses ~1e5).
    loss="alignment": no validation, so validation_fraction holds nothing out (10% of the
    sequences were silently dropped)."""
    from seqot.utils.estimator_checks import make_check_data

    X, y = make_check_data(n_classes=3, n_per_class=6, random_state=0)
    small = dict(hidden=(8,), channels=(3, 3), max_epochs=1, device="cpu", random_state=0)
    t = TAPMetricLearner("lifted", batch_size=6, augment=False, validation_fraction=None,
                         **small).fit(X, y)
    assert np.all(np.asarray(t.history_.loss) < 100)
    steps = [TAPMetricLearner("alignment", batch_size=2, validation_fraction=vf, **small)
             .fit(X).history_.n_steps for vf in (None, 0.5)]
    assert steps == [9, 9]
