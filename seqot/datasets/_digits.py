"""Local CNN features of scikit-learn's 8x8 digits: a CPU-sized stand-in for DeepEMD's FCN.

DeepEMD (Zhang et al., CVPR 2020) compares images as sets of local feature vectors, the cells
of a fully convolutional network's last feature map, pre-trained on base classes and
evaluated on novel ones. :func:`make_digits_local_features` reproduces that pipeline at toy
scale (the DeepEMD specification's Section 7.2 recipe): a tiny CNN is pre-trained on the
base digits with the shared :func:`seqot.nn.train` loop, and its 4x4x64 map gives every
image a set of 16 local vectors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..nn import train
from ..utils._param_validation import DEVICE, POSITIVE_INT, RANDOM_STATE, validate_params
from ..utils._torch import (
    check_random_state,
    init_parameters_,
    resolve_device,
    seed_from_random_state,
)

__all__ = ["make_digits_local_features"]

_BATCH_SIZE = 8


class _DigitsFCN(nn.Module):
    """conv(1->32)-BN-ReLU, conv(32->64)-BN-ReLU, maxpool 2, conv(64->64)-BN-ReLU (+ GAP head)."""

    def __init__(self, n_classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        )
        self.head = nn.Linear(64, n_classes)

    def forward(self, x):
        """Logits of the base classes from the global average of the feature map."""
        return self.head(self.body(x).mean((2, 3)))


def _build_fcn(n_classes, device, generator):
    """The CNN built on the meta device and initialised from ``generator`` (never torch's
    global RNG), with PyTorch's default initialisation: weights and biases of convolutions and
    linear layers uniform in :math:`\\pm 1/\\sqrt{\\text{fan-in}}`, batch norms at the
    identity."""
    with torch.device("meta"):
        module = _DigitsFCN(n_classes)
    return init_parameters_(module.to_empty(device=device), generator)


@validate_params({"base_classes": ["array-like"], "max_epochs": POSITIVE_INT,
                  "random_state": RANDOM_STATE, "device": DEVICE, "return_global": ["boolean"]},
                 prefer_skip_nested_validation=True)
def make_digits_local_features(base_classes=(0, 1, 2, 3, 4), max_epochs=30, random_state=0,
                               device="auto", return_global=False):
    """Sets of 16 local CNN features for the 1,797 scikit-learn digits (DeepEMD's FCN, tiny).

    The recipe of the DeepEMD specification (Section 7.2), a CPU-sized analogue of
    DeepEMD-FCN [1]_: the 8x8 images of :func:`sklearn.datasets.load_digits` (scaled to
    [0, 1]) go through conv(1->32)-BN-ReLU, conv(32->64)-BN-ReLU, 2x2 max pooling and
    conv(64->64)-BN-ReLU (3x3 kernels, padding 1), giving a 4x4x64 feature map, i.e. 16 local
    vectors of 64 channels. Global average pooling and a linear head classify the
    ``base_classes``; the network is pre-trained on the base-class images only (SGD, lr 0.05,
    momentum 0.9, weight decay 5e-4, minibatches of 8, ``max_epochs`` epochs) with
    :func:`seqot.nn.train`. The feature maps of *all* images, base and novel, are then read
    out in evaluation mode, so few-shot episodes on the other classes (5-9 by default) test
    transfer to unseen classes, as in the paper.

    All randomness (initialisation, minibatch order) comes from local generators seeded from
    ``random_state``; torch's and numpy's global RNG states are untouched.

    Parameters
    ----------
    base_classes : sequence of int, default=(0, 1, 2, 3, 4)
        Digits used for pre-training (at least two distinct values in 0..9).
    max_epochs : int, default=30
        Pre-training epochs over the base-class images (one epoch: every base image once,
        in minibatches of 8; no early stopping).
    random_state : None, int, RandomState or Generator, default=0
        Seeds the initialisation and the minibatch order. With an int the features are
        reproducible on the CPU for a given torch version, whatever torch's thread count: on
        the CPU the function trains on one intra-op thread (tiny convolutions gain nothing
        from more) and restores the caller's setting afterwards.
    device : {"auto", "cpu", "cuda", ...}, default="auto"
        Where the network is trained (``"auto"``: CUDA when available). The features are
        reproducible bit for bit on the CPU; on a GPU they depend on its kernels.
    return_global : bool, default=False
        Also return the global-average-pooled vectors (the mean of each set).

    Returns
    -------
    X : ndarray of shape (1797, 16, 64), float32
        Local features of every image: node ``4 * r + c`` is cell ``(r, c)`` of the map.
    y : ndarray of shape (1797,), int
        Digit labels.
    G : ndarray of shape (1797, 64), float32
        Global (GAP) features; only when ``return_global=True``.

    Notes
    -----
    With the defaults, pre-training takes about 10 s on one CPU core. On the novel digits
    5-9 (5-way 1-shot, 15 queries per class) the specification measured about 69% for
    DeepEMD on these local features against about 51% for prototypes of the global vectors:
    the local view transfers, the pooled one does not.

    References
    ----------
    .. [1] C. Zhang, Y. Cai, G. Lin and C. Shen. DeepEMD: few-shot image classification with
       differentiable earth mover's distance and structured classifiers. CVPR 2020.

    Examples
    --------
    >>> from seqot.datasets import make_digits_local_features
    >>> X, y = make_digits_local_features(max_epochs=1, device="cpu")
    >>> X.shape, X.dtype, y.shape
    ((1797, 16, 64), dtype('float32'), (1797,))
    """
    from sklearn.datasets import load_digits

    base = np.unique(np.asarray(base_classes))
    if base.ndim != 1 or len(base) < 2 or not np.all(np.isin(base, np.arange(10))):
        raise ValueError(f"base_classes must hold at least two distinct digits in 0..9; got "
                         f"{base_classes!r}.")
    dev = resolve_device(device)
    seed = seed_from_random_state(random_state)
    # one seed for both streams (initialisation and minibatch order), used as is: the
    # published features (and the demo's digits rows) come from these two generators
    gen = torch.Generator().manual_seed(seed)
    rng = check_random_state(seed)

    digits = load_digits()
    images = torch.as_tensor(digits.images / 16.0, dtype=torch.float32)[:, None].to(dev)
    y = digits.target.astype(np.int64)
    idx = np.flatnonzero(np.isin(y, base))

    # One intra-op thread while the CPU trains: the convolutions are tiny (threads only add
    # synchronisation, up to 25x slower on a busy 2-core machine), and float reductions split
    # over threads change the outcome of thousands of SGD steps, so the thread count would
    # change the features. Restored afterwards.
    n_threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1)
    try:
        return _pretrain_and_extract(images, y, base, idx, dev, gen, rng, int(max_epochs),
                                     bool(return_global))
    finally:
        torch.set_num_threads(n_threads)


def _pretrain_and_extract(images, y, base, idx, dev, gen, rng, max_epochs, return_global):
    X_base = images[torch.as_tensor(idx, device=dev)]
    y_base = torch.as_tensor(np.searchsorted(base, y[idx]), device=dev)
    model = _build_fcn(len(base), dev, gen)
    n_batches = -(-len(idx) // _BATCH_SIZE)
    order = None

    def step(i):
        nonlocal order
        k = i % n_batches
        if k == 0:  # a new epoch: a fresh permutation of the base images
            order = rng.permutation(len(idx))
        b = torch.as_tensor(order[k * _BATCH_SIZE:(k + 1) * _BATCH_SIZE], device=dev)
        return nn.functional.cross_entropy(model(X_base[b]), y_base[b])

    train(step, model, max_epochs=max_epochs * n_batches, optimizer="sgd", lr=0.05,
          optimizer_params={"momentum": 0.9, "weight_decay": 5e-4},
          desc="digits FCN pre-training")
    model.eval()
    with torch.no_grad():
        fmap = torch.cat([model.body(images[i:i + 512]) for i in range(0, len(images), 512)])
    X = fmap.flatten(2).transpose(1, 2).contiguous().cpu().numpy().astype(np.float32)
    if return_global:
        return X, y, X.mean(axis=1)
    return X, y
