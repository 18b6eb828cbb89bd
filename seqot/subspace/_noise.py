r"""ACOT's adversarial noise: a WGAN generator of class-destroying perturbations.

A negative of frame :math:`x` is :math:`y = \mathrm{nrm}(\gamma(x - g_\theta(z)))` with
:math:`z = x + \sigma\epsilon` (the authors' "frame" pivot) or :math:`\bar X + \sigma\epsilon`
("mean"). The generator is trained once on all training frames (Cherian and Aeron 2020,
Eq. 9, in the form of the specification's §2.4): a WGAN whose critic :math:`h` (weights clipped
to :math:`\pm c`) tells real frames from negatives,

.. math::

    \mathcal L_h = \mathbb E[h(y)] - \mathbb E[h(x)],\qquad
    \mathcal L_g = -\mathbb E[h(y)]
      + \lambda_1\,\mathbb E\bigl[-\log \mathrm{softmin}(\zeta(y))_\ell\bigr]
      + \lambda_2\,\mathbb E\lVert g_\theta(z)\rVert^2,

where :math:`\zeta` is a linear frame classifier trained first on the frames' sequence labels
and then frozen: the generator learns perturbations that make the class of a frame the
*least* likely one while staying small and looking like real frames.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..nn import make_optimizer, train
from ..utils._torch import check_random_state, init_parameters_, module_state
from ._acot import perturbed_unit_negatives

__all__ = ["train_adversarial_generator", "generator_negatives"]


def _mlp(widths, generator, dtype, device):
    """Linear/ReLU stack initialised like ``nn.Linear`` from a local generator."""
    layers = []
    with torch.device("meta"):
        for k in range(len(widths) - 1):
            layers.append(nn.Linear(widths[k], widths[k + 1]))
            if k < len(widths) - 2:
                layers.append(nn.ReLU())
        mlp = nn.Sequential(*layers)
    return init_parameters_(mlp.to_empty(device=device).to(dtype), generator)


def _negatives_torch(x, perturbation, activation):
    """:func:`seqot.subspace._acot.perturbed_unit_negatives` on torch rows (the training
    graph)."""
    y = x - perturbation
    if activation == "relu":
        y = torch.relu(y)
    return y / (y.norm(dim=-1, keepdim=True) + 1e-10)


def train_adversarial_generator(frames, labels, n_classes, *, sigma=0.01, activation="relu",
                                lambda_adv=0.1, lambda_norm=1.0, max_epochs=1000,
                                classifier_max_epochs=500, n_critic=5, clip_value=0.01,
                                batch_size=256, lr=1e-4, device="cpu", random_state=None,
                                verbose=False):
    """Train the frame classifier, then the WGAN generator; all on the shared training loop.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, d)
        Training frames (already L2-normalised if the pooling normalises).
    labels : int ndarray of shape (n_frames,)
        The label of each frame's sequence, in ``0..n_classes-1``.

    Returns
    -------
    dict
        ``generator`` and ``classifier`` state dicts (CPU numpy), ``classifier_accuracy``,
        ``fooling_rate`` (after training, on the training frames), ``fooling_rate_initial``
        and ``history`` (per-step losses of the classifier and of the generator).
    """
    rng = check_random_state(random_state)
    # two CPU torch streams (initial weights, generator input noise) seeded by draws of rng:
    # the seeds the fitted generators have always had (torch_generator derives its seed from
    # a SeedSequence, which would change them)
    gen, noise_gen = (torch.Generator(device="cpu").manual_seed(int(rng.integers(2**62)))
                      for _ in range(2))
    dtype = torch.float32
    X = torch.as_tensor(frames, dtype=dtype, device=device)
    L = torch.as_tensor(labels, dtype=torch.long, device=device)
    n, d = X.shape
    bs = min(int(batch_size), n)

    classifier = _mlp((d, n_classes), gen, dtype, device)
    generator = _mlp((d, d, d, d), gen, dtype, device)
    critic = _mlp((d, d, d, 1), gen, dtype, device)

    def batch():
        idx = torch.as_tensor(rng.choice(n, size=bs, replace=bs > n), device=device)
        return X[idx], L[idx]

    def noisy(x):
        eps = torch.randn(x.shape, generator=noise_gen, dtype=dtype).to(device)
        return x + sigma * eps

    def classifier_step(i):
        x, lab = batch()
        return nn.functional.cross_entropy(classifier(x), lab)

    h_cls = train(classifier_step, [classifier], max_epochs=int(classifier_max_epochs),
                  optimizer="rmsprop", lr=lr, verbose=verbose, desc="ACOT frame classifier")
    for p in classifier.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        accuracy = float((classifier(X).argmax(1) == L).double().mean())

    def fooling_rate():
        with torch.no_grad():
            y = _negatives_torch(X, generator(noisy(X)), activation)
            return float((classifier(X).argmax(1) == classifier(y).argmin(1)).double().mean())

    initial_fooling = fooling_rate()
    critic_opt = make_optimizer(critic.parameters(), "rmsprop", lr=lr)

    def generator_step(i):
        # more critic updates at the start and every 500th step (the reference WGAN schedule)
        inner = 100 if (i < 25 or (i + 1) % 500 == 0) else int(n_critic)
        for _ in range(inner):
            with torch.no_grad():
                for p in critic.parameters():
                    p.clamp_(-clip_value, clip_value)
            x, _ = batch()
            with torch.no_grad():
                y = _negatives_torch(x, generator(noisy(x)), activation)
            critic_opt.zero_grad()
            loss_h = critic(y).mean() - critic(x).mean()
            loss_h.backward()
            critic_opt.step()
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-clip_value, clip_value)
        x, lab = batch()
        perturbation = generator(noisy(x))
        y = _negatives_torch(x, perturbation, activation)
        fool = nn.functional.cross_entropy(-classifier(y), lab)  # softmin cross-entropy
        return (-critic(y).mean() + lambda_adv * fool
                + lambda_norm * (perturbation ** 2).sum(-1).mean())

    for p in critic.parameters():
        p.requires_grad_(True)
    h_gen = train(generator_step, [generator], max_epochs=int(max_epochs), optimizer="rmsprop",
                  lr=lr, verbose=verbose, desc="ACOT noise generator")
    return {
        "generator": module_state(generator),
        "classifier": module_state(classifier),
        "classifier_accuracy": accuracy,
        "fooling_rate_initial": initial_fooling,
        "fooling_rate": fooling_rate(),
        "history": {"classifier": h_cls.loss, "generator": h_gen.loss},
    }


def generator_negatives(X, state, rng, *, per_frame=2, sigma=0.01, pivot="frame",
                        activation="relu"):
    r"""Negatives of one sequence ``X`` (d, n) from a trained generator, in numpy.

    Column ``r * n + t`` is :math:`\mathrm{nrm}(\gamma(x_t - g(z)))` with
    :math:`z = x_t + \sigma\epsilon` (``pivot="frame"``) or :math:`\bar X + \sigma\epsilon`.
    """
    d, n = X.shape
    reps = np.tile(X, (1, per_frame)).T  # (R n, d)
    centre = reps if pivot == "frame" else np.tile(X.mean(1), (per_frame * n, 1))
    z = centre + sigma * rng.normal(size=reps.shape)
    h = z
    n_layers = len([k for k in state if k.endswith("weight")])
    for k in range(n_layers):
        key = str(2 * k)
        h = h @ state[f"{key}.weight"].T.astype(np.float64) + state[f"{key}.bias"]
        if k < n_layers - 1:
            h = np.maximum(h, 0.0)
    return perturbed_unit_negatives(reps, h, activation, axis=1).T
