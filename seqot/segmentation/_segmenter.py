r"""Unsupervised action segmentation by self-training on ASOT pseudo-labels (Xu and Gould 2024)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..nn import build_frame_mlp, train
from ..ot._asot import _asot
from ..utils._param_validation import (
    DEVICE,
    LAYOUT,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    RANDOM_STATE,
    VERBOSE,
    Interval,
    Options,
    Real,
    StrOptions,
)
from ..utils._torch import (
    check_random_state,
    load_module_state,
    module_state,
    resolve_device,
    spawn_random_states,
    torch_generator,
)
from ..utils._validation import (
    SequenceBatch,
    SequenceInputMixin,
    check_hidden,
    input_form,
    restore_form,
    validate_sequences,
)

__all__ = ["ASOTSegmenter"]

# Videos decoded at once by predict/predict_proba (bounds the padded working set).
_DECODE_CHUNK = 16
# Frames encoded at once.
_ENCODE_CHUNK = 1 << 16


class _Prototypes(nn.Module):
    def __init__(self, centers):
        super().__init__()
        self.weight = nn.Parameter(centers)

    def forward(self):
        return self.weight


def _bin_sample(length, n_frames, rng):
    """One frame index drawn uniformly from each of ``n_frames`` equal bins of the video.

    Videos of at most ``n_frames`` frames keep all of them (the authors pad those by repeating
    the last frame with a zero mask, which is the same thing).
    """
    if length <= n_frames:
        return np.arange(length)
    edges = np.linspace(0, length - 1, n_frames + 1).astype(np.int64)
    lo, hi = edges[:-1], np.maximum(edges[1:], edges[:-1] + 1)
    return lo + np.floor(rng.random(n_frames) * (hi - lo)).astype(np.int64)


def _standardize_per_sequence(batch: SequenceBatch):
    """Per-video z-scores over the non-all-zero frames, divided by :math:`\\sqrt d`."""
    data, mask = batch.data, batch.mask
    nonzero = mask & (data != 0).any(-1)
    w = nonzero[:, :, None].to(data.dtype)
    count = w.sum(1, keepdim=True).clamp_min(1.0)
    mean = (data * w).sum(1, keepdim=True) / count
    var = (((data - mean) * w) ** 2).sum(1, keepdim=True) / count
    std = torch.sqrt(var)
    z = torch.where(std > 0, (data - mean) / torch.where(std > 0, std, torch.ones_like(std)),
                    torch.zeros_like(data))
    z = z * w / math.sqrt(data.shape[-1])
    return SequenceBatch(z, batch.lengths)


def _global_statistics(batch: SequenceBatch):
    """Per-feature mean and standard deviation (1 where it is 0) over every frame of ``batch``,
    in float64."""
    seqs = [np.asarray(s, dtype=np.float64) for s in batch.to_numpy().to_list()]
    n_frames = sum(len(s) for s in seqs)
    mean = sum(s.sum(0) for s in seqs) / n_frames
    std = np.sqrt(sum(((s - mean) ** 2).sum(0) for s in seqs) / n_frames)
    return mean, np.where(std > 0, std, 1.0)


class ASOTSegmenter(SequenceInputMixin, TransformerMixin, BaseEstimator):
    r"""Unsupervised temporal action segmentation with ASOT pseudo-labels.

    Learns a frame encoder :math:`f_\theta` (an MLP, output L2-normalised) and ``n_actions``
    unit-norm action prototypes :math:`A` from unlabelled videos by self-training (Xu and
    Gould 2024, Sec. 5): for a minibatch of videos, each subsampled to ``n_frames`` frames,
    the pseudo-labels :math:`T` are the :func:`seqot.ot.asot` plans of the cost
    :math:`1 - XA^\top + \rho R` (no gradient through them), and the loss is the cross-entropy
    between them and the temperature-softmax of the affinities,

    .. math::

        P_{ij} = \frac{\exp(x_i^\top a_j/\tau)}{\sum_l \exp(x_i^\top a_l/\tau)},\qquad
        \mathcal L = -\frac{1}{\sum_b N_b} \sum_b \sum_{i,j} T^b_{ij} \log P^b_{ij}.

    The prototypes start at k-means centres of the untrained embeddings and are renormalised
    before every step. ``predict`` runs ASOT on whole videos with the (sharper, more
    structured) evaluation hyper-parameters and takes each frame's argmax.

    Parameters
    ----------
    n_actions : int
        Number of actions :math:`K` (clusters) shared by the videos of one activity.
    hidden : sequence of int, default=(128,)
        Hidden widths of the frame MLP.
    n_components : int, default=40
        Embedding dimension :math:`E`.
    temperature : float > 0, default=0.1
        Softmax temperature :math:`\tau` of the predictions (it divides the affinities).
    alpha_train, alpha_eval : float in [0, 1), default=0.3, 0.6
        ASOT structure weight for pseudo-labels and for decoding.
    reg_train, reg_eval : float > 0, default=0.07, 0.04
        ASOT entropic regularisation for pseudo-labels and for decoding.
    lambda_train, lambda_eval : float >= 0, default=0.1, 0.01
        Weight of the KL pull of the action marginal towards uniform.
    radius : float in (0, 1], default=0.04
        ASOT temporal radius (fraction of the video length).
    rho : float >= 0, default=0.15
        Weight of the global temporal prior :math:`R_{ij} = |i/N - j/K|` in the pseudo-label
        cost (a canonical action order across videos; 0 for activities without one).
    rho_eval : float >= 0, optional
        The prior's weight at decoding; ``None`` uses ``rho`` (the authors' code does).
    balanced : bool, default=False
        Balanced OT instead of the semi-relaxed problem at both stages (the paper's "Balanced
        OT" ablation; with ``alpha_*=0`` the TOT/SeLa-style baseline).
    max_iter : int, default=25
        ASOT iterations at both stages.
    n_frames : int, default=256
        Frames sampled per video per training step (one per equal-width bin).
    batch_size : int, default=2
        Videos per step.
    max_epochs : int, default=15
        Training epochs; one epoch is one pass over the videos in minibatches of
        ``batch_size`` (each video subsampled to ``n_frames`` frames). There is no early
        stopping: every epoch runs.
    lr, weight_decay : float, default=1e-3, 1e-4
        Adam's learning rate (> 0) and weight decay (>= 0).
    init : {"kmeans", "random"}, default="kmeans"
        Prototype initialisation: k-means of the untrained embeddings of a bin sample of every
        video, or random unit vectors (the paper's "No k-means" ablation).
    standardize : {False, "global", "per_sequence"}, default=False
        Feature standardisation before the encoder. ``"global"``: z-scores with the mean and
        standard deviation of every feature over all training frames (stored as ``mean_``
        and ``scale_`` at fit and applied to every later ``X``). ``"per_sequence"``: each
        video z-scored over its own non-zero frames and divided by :math:`\sqrt d` (the
        authors do this for Breakfast), at fit and at predict alike.
    device : {"auto", "cpu", "cuda", ...}, default="auto"
    random_state : None, int, RandomState or Generator, default=None
        Seeds the frame sampling, the video order, the MLP initialisation and k-means through
        local generators.
    verbose : bool, default=False
        Progress bar over the training steps.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_actions, n_components)
        The unit-norm prototypes.
    encoder_state_ : dict of str to ndarray
        The MLP's parameters (CPU numpy, so a model fitted on a GPU loads anywhere).
    loss_curve_ : ndarray of shape (max_epochs,)
        Mean training loss per epoch.
    n_iter_ : int
        The number of training epochs run (``max_epochs``: there is no early stopping);
        ``max_iter`` is the ASOT solver's budget, not this one.
    history_ : seqot.nn.TrainingHistory
        Per-step losses.
    mean_, scale_ : ndarray of shape (n_features,)
        The training frames' per-feature mean and standard deviation (1 where it is 0);
        only with ``standardize="global"``.
    n_features_in_ : int

    Notes
    -----
    The paper trains and evaluates on the same videos (transductive); ``fit_predict`` does
    that. Frame labels are cluster indices: compare them with ground truth through
    :func:`seqot.segmentation.hungarian_match` or :func:`~seqot.segmentation.segmentation_scores`.
    The network runs in float32 whatever the input precision; outputs take the input's.

    References
    ----------
    .. [1] M. Xu and S. Gould. Temporally consistent unbalanced optimal transport for
       unsupervised action segmentation. CVPR 2024.
    .. [2] S. Kumar et al. Unsupervised action segmentation by joint representation learning
       and online clustering (TOT). CVPR 2022.

    Examples
    --------
    >>> from seqot.datasets import make_segmented_sequences
    >>> from seqot.segmentation import ASOTSegmenter, mof_score
    >>> X, y = make_segmented_sequences(n_sequences=6, n_frames=200, n_actions=4,
    ...                                 noise=0.3, random_state=0)
    >>> seg = ASOTSegmenter(n_actions=4, max_epochs=3, device="cpu", random_state=0)
    >>> labels = seg.fit_predict(X)
    >>> len(labels), labels[0].shape
    (6, (200,))
    >>> mof_score(y, labels) > 0.8
    True
    """

    _parameter_constraints: dict = {
        "n_actions": POSITIVE_INT,
        "hidden": [tuple, list],  # widths >= 1: check_hidden in fit
        "n_components": POSITIVE_INT,
        "temperature": POSITIVE,
        "alpha_train": [Interval(Real, 0, 1, closed="left")],
        "alpha_eval": [Interval(Real, 0, 1, closed="left")],
        "reg_train": POSITIVE,
        "reg_eval": POSITIVE,
        "lambda_train": NON_NEGATIVE,
        "lambda_eval": NON_NEGATIVE,
        "radius": [Interval(Real, 0, 1, closed="right")],
        "rho": NON_NEGATIVE,
        "rho_eval": [*NON_NEGATIVE, None],
        "balanced": ["boolean"],
        "max_iter": POSITIVE_INT,
        "n_frames": POSITIVE_INT,
        "batch_size": POSITIVE_INT,
        "max_epochs": POSITIVE_INT,
        "lr": POSITIVE,
        "weight_decay": NON_NEGATIVE,
        "init": [StrOptions({"kmeans", "random"})],
        "standardize": [Options(bool, {False}), StrOptions({"global", "per_sequence"})],
        "device": DEVICE,
        "random_state": RANDOM_STATE,
        "verbose": VERBOSE,
        "layout": LAYOUT,
    }

    def __init__(self, n_actions=None, *, hidden=(128,), n_components=40, temperature=0.1,
                 alpha_train=0.3, alpha_eval=0.6, reg_train=0.07, reg_eval=0.04,
                 lambda_train=0.1, lambda_eval=0.01, radius=0.04, rho=0.15, rho_eval=None,
                 balanced=False, max_iter=25, n_frames=256, batch_size=2, max_epochs=15, lr=1e-3,
                 weight_decay=1e-4, init="kmeans", standardize=False, device="auto",
                 random_state=None, verbose=False, layout="time_first"):
        self.layout = layout
        self.n_actions = n_actions
        self.hidden = hidden
        self.n_components = n_components
        self.temperature = temperature
        self.alpha_train = alpha_train
        self.alpha_eval = alpha_eval
        self.reg_train = reg_train
        self.reg_eval = reg_eval
        self.lambda_train = lambda_train
        self.lambda_eval = lambda_eval
        self.radius = radius
        self.rho = rho
        self.rho_eval = rho_eval
        self.balanced = balanced
        self.max_iter = max_iter
        self.n_frames = n_frames
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.init = init
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags

    def _solver_params(self, stage):
        if stage == "train":
            params = dict(alpha=self.alpha_train, reg=self.reg_train,
                          lambda_actions=self.lambda_train, rho=self.rho)
        else:
            params = dict(alpha=self.alpha_eval, reg=self.reg_eval,
                          lambda_actions=self.lambda_eval,
                          rho=self.rho if self.rho_eval is None else self.rho_eval)
        return dict(radius=float(self.radius), balanced=bool(self.balanced),
                    max_iter=int(self.max_iter), step_size=None, gw_grad_scale=1.0,
                    sinkhorn_max_iter=100, **{k: float(v) for k, v in params.items()})

    def _preprocess(self, batch: SequenceBatch, dev):
        """The frames as float32 on ``dev``, standardised as at fit."""
        tb = batch.to_torch(device=dev, dtype=torch.float32)
        if self._standardize_fit == "per_sequence":
            return _standardize_per_sequence(tb)
        if self._standardize_fit == "global":
            mean = torch.as_tensor(self.mean_, dtype=torch.float32, device=dev)
            scale = torch.as_tensor(self.scale_, dtype=torch.float32, device=dev)
            z = (tb.data - mean) / scale * tb.mask[:, :, None].to(torch.float32)
            return SequenceBatch(z, tb.lengths)
        return tb

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Learn the frame encoder and the action prototypes from unlabelled videos.

        Parameters
        ----------
        X : sequences
            Ragged list of ``(N_i, d)`` frame-feature arrays (one per video), a 3-D
            NaN-padded array, or a 2-D array of one-frame videos.
        y : ignored

        Returns
        -------
        self
        """
        batch = validate_sequences(self, X, reset=True)  # checks the parameters first
        hidden = check_hidden(self.hidden)
        dev = resolve_device(self.device)
        K = int(self.n_actions)
        n_videos = batch.n_sequences
        lengths = batch.lengths.tolist() if not batch.is_torch else batch.lengths.cpu().tolist()
        self._standardize_fit = self.standardize
        if self.standardize == "global":
            self.mean_, self.scale_ = _global_statistics(batch)
        else:
            self.__dict__.pop("mean_", None)
            self.__dict__.pop("scale_", None)
        tb = self._preprocess(batch, dev)

        ss_sample, ss_init, ss_kmeans = spawn_random_states(self.random_state, 3)
        rng = check_random_state(ss_sample)
        gen = torch_generator(ss_init, "cpu")

        encoder = build_frame_mlp(batch.n_features, hidden, int(self.n_components),
                                  dtype=torch.float32, device=dev, generator=gen)

        def embed(data):
            return nn.functional.normalize(encoder(data), dim=-1)

        def sample(videos):
            """Padded (B, n, d) frames of a bin sample of ``videos`` and its mask."""
            idx = [_bin_sample(lengths[v], int(self.n_frames), rng) for v in videos]
            n = max(len(i) for i in idx)
            rows = np.zeros((len(videos), n), dtype=np.int64)
            mask = np.zeros((len(videos), n), dtype=bool)
            for k, i in enumerate(idx):
                rows[k, :len(i)] = i
                mask[k, :len(i)] = True
            vid = torch.as_tensor(np.asarray(videos), device=dev)[:, None]
            frames = tb.data[vid, torch.as_tensor(rows, device=dev)]
            return frames, torch.as_tensor(mask, device=dev)

        centers = self._initial_centers(sample, embed, n_videos, K, gen, ss_kmeans, dev)
        prototypes = _Prototypes(centers)

        n_batches = math.ceil(n_videos / int(self.batch_size))
        orders = {}
        train_params = self._solver_params("train")

        def step(i):
            epoch, b = divmod(i, n_batches)
            if epoch not in orders:
                orders.clear()
                orders[epoch] = rng.permutation(n_videos)
            videos = orders[epoch][b * int(self.batch_size):(b + 1) * int(self.batch_size)]
            frames, mask = sample(videos)
            with torch.no_grad():
                prototypes.weight.copy_(nn.functional.normalize(prototypes.weight, dim=-1))
            affinity = embed(frames) @ prototypes.weight.T  # (B, n, K)
            if not bool(torch.isfinite(affinity).all()):  # before ASOT refuses its cost
                raise ValueError(
                    f"the frame embeddings became NaN or infinite at training step {i}; lower "
                    f"the learning rate (lr={self.lr}) or check the input scale.")
            with torch.no_grad():
                targets = _asot(1.0 - affinity.detach(), mask, **train_params).plan
            log_p = torch.log_softmax(affinity / float(self.temperature), dim=-1)
            per_frame = -(targets * log_p).sum(-1)
            return (per_frame * mask).sum() / mask.sum()

        self.history_ = train(
            step, [encoder, prototypes], max_epochs=int(self.max_epochs) * n_batches,
            optimizer="adam", lr=float(self.lr),
            optimizer_params={"weight_decay": float(self.weight_decay)},
            verbose=self.verbose, desc=type(self).__name__)
        losses = np.asarray(self.history_.loss, dtype=np.float64)
        self.loss_curve_ = losses[: (len(losses) // n_batches) * n_batches].reshape(
            -1, n_batches).mean(1)
        self.n_iter_ = len(self.loss_curve_)
        with torch.no_grad():
            self.cluster_centers_ = nn.functional.normalize(
                prototypes.weight, dim=-1).cpu().numpy().astype(np.float64)
        self.encoder_state_ = module_state(encoder)
        self._hidden_fit = hidden
        return self

    def _initial_centers(self, sample, embed, n_videos, K, gen, ss_kmeans, dev):
        if self.init == "random":
            centers = torch.randn((K, int(self.n_components)), generator=gen,
                                  dtype=torch.float32)
            return nn.functional.normalize(centers, dim=-1).to(dev)
        with torch.no_grad():
            parts = []
            for start in range(0, n_videos, 64):
                frames, mask = sample(list(range(start, min(start + 64, n_videos))))
                parts.append(embed(frames)[mask])
            Z = torch.cat(parts).double().cpu().numpy()
        if len(Z) < K:
            raise ValueError(
                f"{type(self).__name__} needs at least n_actions={K} frames to initialise the "
                f"prototypes by k-means; got n_samples = {len(Z)} frames. Lower n_actions.")
        with warnings.catch_warnings():
            # fewer distinct embeddings than K: duplicated centres are separated below
            warnings.simplefilter("ignore", ConvergenceWarning)
            km = KMeans(n_clusters=K, n_init=1,
                        random_state=int(ss_kmeans.generate_state(1)[0] >> 1)).fit(Z)
        centers = km.cluster_centers_
        _, first = np.unique(np.round(centers, 9), axis=0, return_index=True)
        duplicate = np.setdiff1d(np.arange(K), first)
        if len(duplicate):  # identical prototypes would get identical gradients forever
            noise = torch.randn((len(duplicate), centers.shape[1]), generator=gen,
                                dtype=torch.float64).numpy()
            centers[duplicate] += 1e-2 * noise
        return torch.as_tensor(centers, dtype=torch.float32, device=dev)

    # ------------------------------------------------------------------ inference
    def _encoder(self, dev):
        module = build_frame_mlp(self.n_features_in_, self._hidden_fit, int(self.n_components),
                                 dtype=torch.float32, device=dev)
        load_module_state(module, self.encoder_state_)
        module.eval()
        return module

    def _embed_batch(self, X):
        """(validated batch, input kind, torch_in, embeddings as a float32 SequenceBatch)."""
        check_is_fitted(self, "encoder_state_")
        batch = validate_sequences(self, X, reset=False)
        kind, torch_in = input_form(X, batch, self.layout)
        dev = resolve_device(self.device)
        tb = self._preprocess(batch, dev)
        encoder = self._encoder(dev)
        with torch.no_grad():
            t_max = max(int(tb.lengths.max()), 1)
            data = tb.data[:, :t_max].reshape(-1, tb.data.shape[-1])
            z = torch.cat([encoder(data[i:i + _ENCODE_CHUNK])
                           for i in range(0, len(data), _ENCODE_CHUNK)])
            z = nn.functional.normalize(z, dim=-1).reshape(tb.n_sequences, t_max, -1)
            z = z * tb.mask[:, :t_max, None].to(z.dtype)
        return batch, kind, torch_in, SequenceBatch(z, tb.lengths)

    def _output(self, values: SequenceBatch, batch, kind, torch_in):
        """Per-frame values in the input's form and float dtype."""
        dtype = batch.data.dtype
        if torch_in:
            out = SequenceBatch(values.data.to(device=batch.data.device, dtype=dtype),
                                values.lengths.to(batch.data.device))
        else:
            np_dtype = batch.data.dtype if not batch.is_torch else np.float64
            out = SequenceBatch(values.data.cpu().numpy().astype(np_dtype, copy=False),
                                values.lengths.cpu().numpy())
        return restore_form(out, kind, self.layout)

    def _plans(self, z: SequenceBatch):
        centers = torch.as_tensor(self.cluster_centers_, dtype=z.data.dtype, device=z.data.device)
        affinity = z.data @ centers.T
        plans = torch.zeros_like(affinity)
        params = self._solver_params("eval")
        for start in range(0, z.n_sequences, _DECODE_CHUNK):
            sl = slice(start, start + _DECODE_CHUNK)
            n = max(int(z.lengths[sl].max()), 1)
            mask = z.mask[sl, :n]
            plans[sl, :n] = _asot(1.0 - affinity[sl, :n], mask, **params).plan
        return plans, affinity

    def transform(self, X):
        """L2-normalised frame embeddings :math:`f_\\theta(x)/\\lVert f_\\theta(x)\\rVert`.

        Returns
        -------
        Z : list of (N_i, n_components) arrays (or the input's form)
        """
        batch, kind, torch_in, z = self._embed_batch(X)
        return self._output(z, batch, kind, torch_in)

    def decision_function(self, X):
        """Frame-to-prototype cosine affinities :math:`XA^\\top` (list of (N_i, K))."""
        batch, kind, torch_in, z = self._embed_batch(X)
        centers = torch.as_tensor(self.cluster_centers_, dtype=z.data.dtype, device=z.data.device)
        return self._output(SequenceBatch(z.data @ centers.T, z.lengths), batch, kind, torch_in)

    def predict_proba(self, X):
        """Soft frame assignments: the ASOT plans of whole videos, rows summing to one.

        Returns
        -------
        P : list of (N_i, n_actions) arrays (or the input's form)
        """
        batch, kind, torch_in, z = self._embed_batch(X)
        plans, _ = self._plans(z)
        return self._output(SequenceBatch(plans, z.lengths), batch, kind, torch_in)

    def predict(self, X):
        """Frame labels: each frame's argmax of its video's ASOT plan.

        Returns
        -------
        labels : list of (N_i,) int arrays; a 1-D array for 2-D input (one-frame videos)
        """
        batch, kind, torch_in, z = self._embed_batch(X)
        plans, _ = self._plans(z)
        labels = plans.argmax(-1).cpu().numpy()
        lengths = z.lengths.cpu().numpy()
        if kind == "rows":
            return labels[:, 0]
        return [labels[i, :n].astype(np.int64) for i, n in enumerate(lengths)]

    def fit_predict(self, X, y=None):
        """``fit(X)`` then ``predict(X)``: the paper's transductive protocol."""
        return self.fit(X).predict(X)
