r"""TAP's self-supervision: temporal augmentations with known ground-truth alignments.

Each augmentation returns :math:`\tilde X` (:math:`\tilde L` frames) and the alignment
:math:`\tilde T \in \mathbb R_+^{L \times \tilde L}` with :math:`\tilde X = \tilde T^\top X`
exactly: every new frame is a convex combination of old frames (columns of :math:`\tilde T`
sum to one). Su and Wen (ICLR 2022, Appendix A.1); the mix of the authors' code (merge 50%,
3-tap blur 30%, 5-tap blur 20%), with its 5-tap blur fixed: there the blurred frames are never
written and the "augmented" sequence is all zeros.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ..utils._param_validation import POSITIVE_INT, Options, validate_params

__all__ = ["random_blur", "random_merge", "augment_sequence"]

_RNG = {"rng": [np.random.Generator]}


def _blur_kernel(size, rng):
    if size == 3:
        m = rng.uniform(0.55, 0.9)
        c = (1.0 - m) / 2.0
        return np.array([c, m, c])
    m = rng.uniform(0.33, 0.5)
    c1 = rng.uniform(0.16, min(m, (1.0 - m) / 2.0))  # never above the centre tap
    c2 = (1.0 - m) / 2.0 - c1
    return np.array([c2, c1, m, c1, c2])


@validate_params({**_RNG, "size": [Options(Integral, {3, 5}), None],
                  "stride": [*POSITIVE_INT, None]}, prefer_skip_nested_validation=True)
def random_blur(x, rng, *, size=None, stride=None):
    r"""Blur along time with a random symmetric kernel (values peak in the middle, sum to
    one), no padding, stride 1-3: :math:`\tilde x_t = \sum_r K_r x_{ts + r}`.

    ``size`` (3 or 5; default: 3 with probability 0.6) is shortened to the longest odd
    length that fits; ``stride`` defaults to a draw in 1..3. ``rng`` is a numpy Generator.
    Returns ``(x_tilde, T_tilde)`` with ``T_tilde[t*s + r, t] = K_r``.
    """
    L = len(x)
    size = size if size is not None else (3 if rng.random() < 0.6 else 5)
    size = min(size, L if L % 2 else L - 1)
    size = max(size, 1)
    kernel = _blur_kernel(size, rng) if size in (3, 5) else np.ones(1)
    stride = stride if stride is not None else int(rng.integers(1, 4))
    n_out = (L - size) // stride + 1
    T = np.zeros((L, n_out), dtype=np.float64)
    rows = np.arange(n_out)[None, :] * stride + np.arange(size)[:, None]  # (size, n_out)
    T[rows, np.broadcast_to(np.arange(n_out), rows.shape)] = kernel[:, None]
    return T.T @ x, T


@validate_params(_RNG, prefer_skip_nested_validation=True)
def random_merge(x, rng):
    r"""Merge contiguous segments into single frames with random softmax weights.

    :math:`\tilde L \sim U\{\lfloor L/2\rfloor..\lfloor 0.8L\rfloor\}` segments cut at
    :math:`\tilde L - 1` distinct points; a segment's frame is a softmax(Gaussian)-weighted
    average of its frames. Returns ``(x_tilde, T_tilde)``.
    """
    L = len(x)
    lo, hi = max(1, L // 2), max(1, int(np.floor(0.8 * L)))
    n_out = int(rng.integers(lo, hi + 1))
    cuts = np.sort(rng.choice(np.arange(1, L), size=n_out - 1, replace=False)) if n_out > 1 \
        else np.array([], dtype=np.int64)
    segment = np.zeros(L, dtype=np.int64)
    segment[cuts] = 1
    segment = np.cumsum(segment)
    z = rng.normal(size=L)
    w = np.exp(z - z.max())
    totals = np.bincount(segment, weights=w, minlength=n_out)
    T = np.zeros((L, n_out), dtype=np.float64)
    T[np.arange(L), segment] = w / totals[segment]
    return T.T @ x, T


@validate_params(_RNG, prefer_skip_nested_validation=True)
def augment_sequence(x, rng):
    """One of TAP's augmentations of ``x`` (L, d): merge 50%, blur 50% (3-tap 60% of those).

    Sequences of two frames or fewer are returned unchanged with the identity alignment.
    """
    x = np.asarray(x, dtype=np.float64)
    L = len(x)
    if L <= 2:
        return x.copy(), np.eye(L)
    # the undecorated implementations: TAPMetricLearner calls this for every sequence of
    # every step
    if L >= 5 and rng.random() < 0.5:
        return random_merge.__wrapped__(x, rng)
    return random_blur.__wrapped__(x, rng)
