r"""TAPMetricLearner: a learned, feed-forward sequence distance (Su and Wen, ICLR 2022)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.metrics import average_precision_score
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..distances._pairwise import pairwise_sequence_distances
from ..distances._tap_distance import tap_block_alignments, tap_paired_alignments
from ..neighbors._classification import knn_vote
from ..nn import AlignmentPredictor, build_frame_mlp, train
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
    StrOptions,
    check_estimator_params,
)
from ..utils._torch import (
    check_random_state,
    init_parameters_,
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
    validate_sequences_targets,
)
from ._augment import augment_sequence
from ._losses import LOSSES

__all__ = ["TAPMetricLearner"]

_ENCODE_CHUNK = 1 << 15
# undecorated: called for every sequence of every step, with the learner's own generator
_augment = augment_sequence.__wrapped__


class _Embedding(nn.Module):
    """TAP's frame network :math:`h`: an MLP, optionally L2-normalised per frame."""

    def __init__(self, mlp, l2_normalize):
        super().__init__()
        self.mlp = mlp
        self.l2_normalize = l2_normalize

    def forward(self, x):
        z = self.mlp(x)
        return nn.functional.normalize(z, dim=-1) if self.l2_normalize else z


def _pad(seqs, device, dtype):
    """A SequenceBatch of numpy sequences (zero padding)."""
    lengths = np.asarray([len(s) for s in seqs], dtype=np.int64)
    data = np.zeros((len(seqs), int(lengths.max()), seqs[0].shape[1]))
    for i, s in enumerate(seqs):
        data[i, : len(s)] = s
    return SequenceBatch(torch.as_tensor(data, dtype=dtype, device=device),
                         torch.as_tensor(lengths, device=device))


def _pad_matrices(mats, device, dtype):
    rows = max(m.shape[0] for m in mats)
    cols = max(m.shape[1] for m in mats)
    out = np.zeros((len(mats), rows, cols))
    for i, m in enumerate(mats):
        out[i, : m.shape[0], : m.shape[1]] = m
    return torch.as_tensor(out, dtype=dtype, device=device)


def _as_numpy(D):
    return (D.detach().cpu().numpy() if isinstance(D, torch.Tensor) else np.asarray(D)).astype(
        np.float64)


def _zscore_per_sequence(data, mask):
    """Each sequence of a padded batch z-scored over its own valid frames (per feature; a
    constant feature is only centred), zero on padding."""
    w = mask[:, :, None].to(data.dtype)
    count = w.sum(1, keepdim=True).clamp_min(1.0)
    mean = (data * w).sum(1, keepdim=True) / count
    std = torch.sqrt((((data - mean) * w) ** 2).sum(1, keepdim=True) / count)
    return (data - mean) / torch.where(std > 0, std, torch.ones_like(std)) * w


def _masked_mse(A, T, mask_rows, mask_cols):
    """Per-pair mean squared error over each pair's valid box, summed over pairs."""
    box = (mask_rows[:, :, None] & mask_cols[:, None, :]).to(A.dtype)
    return (((A - T) ** 2) * box).sum((1, 2)) / box.sum((1, 2))


class TAPMetricLearner(SequenceInputMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    r"""Learn TAP: a frame network and an alignment predictor, trained end to end.

    The distance from :math:`X` to :math:`Y` is :math:`d(h(X), h(Y); g)` of
    :func:`seqot.distances.tap`: the Euclidean frame distances of the embedded sequences,
    weighted by the row-softmax alignment :math:`A = \mathrm{softmax}(-(D + g([D, D^t])))`
    that the CNN :math:`g` predicts. ``fit`` trains the per-frame MLP :math:`h` (output
    L2-normalised, so :math:`D \in [0, 2]`) and :math:`g` jointly with a metric-learning loss
    over all ordered pairs of a mini-batch (anchors as sources), plus TAP's self-supervised
    term: each training sequence is augmented (random merge/blur, :mod:`._augment`) with a
    known alignment :math:`\tilde T`, and

    .. math::

        \mathcal L = \mathcal L_{\text{metric}} + w \sum_n \Bigl[d(h X_n, h\tilde X_n)
        + d(h\tilde X_n, hX_n) + \mathrm{MSE}(A_n, \tilde T_n)
        + \mathrm{MSE}(A^d_n, \tilde T_n^\top)\Bigr],

    the augmentation being anchor :math:`n`'s own positive (its symmetrised distance fills
    the diagonal of the batch's distance matrix).

    Parameters
    ----------
    loss : {"binomial", "hm", "lifted", "alignment"}, default="binomial"
        Binomial deviance with hard mining (:math:`\alpha = 40, \beta = 2`, threshold 0.5),
        triplet with hard mining (margin 0.1) or the lifted-structure log-sum-exp loss.
        ``"alignment"`` trains only the predictor :math:`g` (no frame network: :math:`h` is
        the identity on the, optionally standardised, frames) to reproduce the known
        alignments of augmented training sequences, both directions (the paper's
        "alignment-only TAP" of Table 4); labels are then optional.
    hidden : sequence of int, default=(1024, 1024)
        Hidden widths of :math:`h` (output dimension = input dimension, as in the paper).
    l2_normalize : bool, default=True
        L2-normalise every embedded frame (the authors' code; the loss constants assume it).
    channels, kernel_sizes : default=(30, 30), (5, 5, 3)
        The predictor :math:`g` (:class:`seqot.nn.AlignmentPredictor`).
    init : {"random", "identity"}, default="random"
        ``"random"``: PyTorch's default initialisation (the paper). ``"identity"``: a residual
        :math:`h(x) = x + \mathrm{MLP}(x)` whose last layer starts at zero and a predictor
        whose last convolution starts at zero, so the untrained model is the fixed distance
        with :math:`A = \mathrm{softmax}(-D)` on the (standardised) input frames and training
        starts from it; useful when the training set is small.
    standardize : {False, "global", "per_sequence"}, default=False
        Z-score every feature before :math:`h`: ``"global"`` with the mean and standard
        deviation of all the training frames (stored as ``mean_``/``scale_``, applied to
        every later sequence too), ``"per_sequence"`` each sequence (training or query) with
        its own frames' statistics. A feature of standard deviation 0 is only centred.
    augment : bool, default=True
        Add the self-supervised augmentation term (without it the diagonal of the distance
        matrix is left out of the loss).
    ssl_weight : float, optional
        :math:`w`; ``None`` is :math:`1/B^2` (the authors' code).
    batch_size : int, default=64
        Sequences per step (:math:`B(B-1) + 2B` TAP evaluations each); the last incomplete
        batch of an epoch is dropped unless it is the only one.
    max_epochs : int, default=100
        Passes over the training sequences (each ``n_train // batch_size`` steps); with a
        validation split and ``patience`` training may stop earlier.
    lr : float, default=1e-4
        Adam's learning rate; one so large that the loss or the parameters overflow raises a
        ``ValueError`` naming ``lr``.
    weight_decay : float, default=1e-4
        Adam's (coupled) L2 penalty.
    validation_fraction : float or None, default=0.1
        Share of the training sequences held out (stratified); :math:`1 -` the mean average
        precision of retrieving their classes among the other training sequences, computed
        after every epoch, selects the parameters kept (early stopping with ``patience``) —
        never the test set. ``None`` trains on everything and keeps the
        final parameters, as does ``loss="alignment"`` (nothing to validate).
    patience : int, optional
        Stop after this many epochs without improvement of the validation error.
    n_neighbors : int, default=1
        Neighbours of ``predict``/``score`` (k-NN against the fitted sequences, the query
        being the source).
    device : {"auto", "cpu", "cuda", ...}, default="auto"
    random_state : None, int, RandomState or Generator, default=None
        Seeds the initialisation, the batches, the augmentations and the split (local
        generators only).
    verbose : bool, default=False
        Progress bar.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    classes_, n_features_in_
    embedding_state_, predictor_state_ : dict of str to ndarray
        The trained :math:`h` and :math:`g` (CPU numpy; rebuilt on the estimator's device).
    history_ : seqot.nn.TrainingHistory
        Per-step losses and per-epoch validation scores (:math:`1 -` MAP).

    Notes
    -----
    Small training sets: the paper's defaults learn :math:`h` from a random start, which
    on JapaneseVowels (270 utterances) gave 1-NN 0.954 after 10 epochs; starting from the fixed
    distance instead (``init="identity", standardize="global", l2_normalize=False``, channels
    16/16) gave 0.970 untrained and 0.973 (MAP 0.80 -> 0.83) after 10-30 epochs, against DTW's
    0.949. On a CPU the CNN over every pair's cost image costs about 24k multiply-adds per cell
    (30/30 channels), tens to hundreds of times the work of DTW; use channels (16, 16) or a GPU.

    Use the learned distance elsewhere through :meth:`block_distance`, e.g.
    ``KNeighborsSequenceClassifier(metric=learner.block_distance)`` or
    ``SequenceNearestCentroid(metric=learner.block_distance,
    metric_params={"direction": "sum"})`` for few-shot episodes (the paper's Eq. 8 sums both
    directions).

    References
    ----------
    .. [1] B. Su and J.-R. Wen. Temporal alignment prediction for supervised representation
       learning and few-shot sequence classification. ICLR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.metric_learning import TAPMetricLearner
    >>> from seqot.utils.estimator_checks import make_check_data
    >>> X, y = make_check_data(n_classes=3, n_per_class=6, random_state=0)
    >>> tap = TAPMetricLearner(hidden=(16,), channels=(4, 4), batch_size=9, max_epochs=2,
    ...                        validation_fraction=None, device="cpu", random_state=0)
    >>> tap.fit(X, y).pairwise_distances(X[:2], X[:3]).shape
    (2, 3)
    """

    _parameter_constraints = {
        "loss": [StrOptions({*LOSSES, "alignment"})],
        # the entries of hidden/channels/kernel_sizes are checked in fit (check_hidden and
        # AlignmentPredictor: positive ints, odd kernels, one kernel more than channels)
        "hidden": ["array-like"],
        "l2_normalize": ["boolean"],
        "channels": ["array-like"],
        "kernel_sizes": ["array-like"],
        "init": [StrOptions({"random", "identity"})],
        "standardize": [Options(bool, {False}), StrOptions({"global", "per_sequence"})],
        "augment": ["boolean"],
        "ssl_weight": [*NON_NEGATIVE, None],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": POSITIVE_INT,
        "lr": POSITIVE,
        "weight_decay": NON_NEGATIVE,
        "validation_fraction": [Interval(Real, 0, 1, closed="left"), None],
        "patience": [*POSITIVE_INT, None],
        "n_neighbors": POSITIVE_INT,
        "device": DEVICE,
        "random_state": RANDOM_STATE,
        "verbose": VERBOSE,
        "layout": LAYOUT,
    }

    def __init__(self, loss="binomial", *, hidden=(1024, 1024), l2_normalize=True,
                 channels=(30, 30), kernel_sizes=(5, 5, 3), init="random", standardize=False,
                 augment=True, ssl_weight=None,
                 batch_size=64, max_epochs=100, lr=1e-4, weight_decay=1e-4,
                 validation_fraction=0.1, patience=None, n_neighbors=1, device="auto",
                 random_state=None, verbose=False, layout="time_first"):
        self.layout = layout
        self.loss = loss
        self.hidden = hidden
        self.l2_normalize = l2_normalize
        self.channels = channels
        self.kernel_sizes = kernel_sizes
        self.init = init
        self.standardize = standardize
        self.augment = augment
        self.ssl_weight = ssl_weight
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.n_neighbors = n_neighbors
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _architecture(self):
        """The fit-time architecture, after the checks no constraint expresses: the entries
        of ``hidden``, ``channels`` and ``kernel_sizes`` (positive ints, odd kernels, one
        kernel more than hidden convolutions, all checked by ``AlignmentPredictor``)."""
        hidden = check_hidden(self.hidden)
        with torch.device("meta"):  # validates both without drawing initial weights
            AlignmentPredictor(self.channels, self.kernel_sizes)
        return {"hidden": tuple(int(h) for h in hidden),
                "channels": tuple(int(c) for c in self.channels),
                "kernel_sizes": tuple(int(k) for k in self.kernel_sizes),
                "identity": self.init == "identity", "l2_normalize": bool(self.l2_normalize),
                "alignment_only": self.loss == "alignment",
                "per_sequence": self.standardize == "per_sequence"}

    @staticmethod
    def _modules(n_features, arch, dev, generator=None):
        identity = arch["identity"]
        # the MLP is drawn even for loss="alignment" (h is then the identity map), so that
        # the predictor's initial weights do not depend on the loss
        mlp = build_frame_mlp(n_features, arch["hidden"], n_features, residual=identity,
                              dtype=torch.float32, device=dev, generator=generator)
        embedding = _Embedding(nn.Identity() if arch["alignment_only"] else mlp,
                               arch["l2_normalize"] and not arch["alignment_only"])
        with torch.device("meta"):
            predictor = AlignmentPredictor(arch["channels"], arch["kernel_sizes"])
        predictor = predictor.to_empty(device=dev).to(torch.float32)
        if generator is not None:  # PyTorch's default conv init, from the local generator
            init_parameters_(predictor, generator)
            if identity:  # g starts at zero: the untrained model is softmax(-D)
                with torch.no_grad():
                    predictor.convs[-1].weight.zero_()
                    predictor.convs[-1].bias.zero_()
        return embedding, predictor

    # ------------------------------------------------------------------ fit
    def _split(self, y_idx, rng):
        vf = self.validation_fraction or 0.0
        if vf <= 0:
            return np.arange(len(y_idx)), np.arange(0)
        train_idx, val_idx = [], []
        for c in np.unique(y_idx):
            members = rng.permutation(np.flatnonzero(y_idx == c))
            n_val = int(round(vf * len(members)))
            n_val = min(n_val, len(members) - 1)
            val_idx.append(members[:n_val])
            train_idx.append(members[n_val:])
        val = np.sort(np.concatenate(val_idx))
        if len(val) == 0:
            return np.arange(len(y_idx)), np.arange(0)
        return np.sort(np.concatenate(train_idx)), val

    def fit(self, X, y=None):
        """Train :math:`h` and :math:`g` on labelled sequences (labels optional with
        ``loss="alignment"``).

        Parameters
        ----------
        X : sequences
            Ragged list of ``(L_i, d)`` arrays, a 3-D NaN-padded array, or 2-D.
        y : array-like of shape (n,), optional

        Returns
        -------
        self
        """
        alignment_only = self.loss == "alignment"
        if alignment_only and y is None:  # self-supervised: no labels needed
            batch = validate_sequences(self, X, reset=True)
            y = np.zeros(batch.n_sequences, dtype=np.int64)
            self.classes_ = np.zeros(1, dtype=np.int64)
        else:
            batch, y = validate_sequences_targets(self, X, y)
        arch = self._architecture()
        dev = resolve_device(self.device)
        y_idx = np.searchsorted(self.classes_, y)
        self._check_n_neighbors(batch.n_sequences)
        nb = batch.to_numpy()
        seqs = [np.asarray(nb.data[i, : nb.lengths[i]], dtype=np.float64)
                for i in range(nb.n_sequences)]
        frames = np.concatenate(seqs)
        is_global = self.standardize == "global"
        self.mean_ = frames.mean(0) if is_global else np.zeros(frames.shape[1])
        scale = frames.std(0) if is_global else np.ones(frames.shape[1])
        self.scale_ = np.where(scale > 0, scale, 1.0)
        seqs = [(s - self.mean_) / self.scale_ for s in seqs]
        if arch["per_sequence"]:
            padded = _pad(seqs, "cpu", torch.float64)
            z = _zscore_per_sequence(padded.data, padded.mask).numpy()
            seqs = [z[i, : len(s)] for i, s in enumerate(seqs)]

        ss_split, ss_batches, ss_aug, ss_init = spawn_random_states(self.random_state, 4)
        if alignment_only:  # nothing to validate: every sequence trains
            train_idx, val_idx = np.arange(len(y_idx)), np.arange(0)
        else:
            train_idx, val_idx = self._split(y_idx, check_random_state(ss_split))
        rng_batches = check_random_state(ss_batches)
        rng_aug = check_random_state(ss_aug)
        embedding, predictor = self._modules(batch.n_features, arch, dev,
                                             torch_generator(ss_init, "cpu"))

        n_train = len(train_idx)
        bs = min(int(self.batch_size), n_train)
        n_batches = max(1, n_train // bs)
        labels_all = torch.as_tensor(y_idx, device=dev)
        loss_fn = LOSSES.get(self.loss)
        order = []

        def embed(b: SequenceBatch):
            z = embedding(b.data) * b.mask[:, :, None].to(b.data.dtype)
            return SequenceBatch(z, b.lengths)

        def alignment_step(idx):
            """Paper's Table 4 (right): only g, MSE to the augmentations' true alignments."""
            xb = _pad([seqs[k] for k in idx], dev, torch.float32)
            augmented = [_augment(seqs[k], rng_aug) for k in idx]
            ab = _pad([a for a, _ in augmented], dev, torch.float32)
            truth = _pad_matrices([t for _, t in augmented], dev, torch.float32)
            A, _ = tap_paired_alignments(xb, ab, predictor)
            A_back, _ = tap_paired_alignments(ab, xb, predictor)
            mse = (_masked_mse(A, truth, xb.mask, ab.mask)
                   + _masked_mse(A_back, truth.transpose(1, 2), ab.mask, xb.mask))
            return mse.mean()

        def step(i):
            nonlocal order
            if i % n_batches == 0:
                order = rng_batches.permutation(train_idx)
            idx = order[(i % n_batches) * bs:(i % n_batches + 1) * bs]
            if alignment_only:
                return alignment_step(idx)
            xb = _pad([seqs[k] for k in idx], dev, torch.float32)
            E = embed(xb)
            _, D = tap_block_alignments(E, E, predictor)
            labels = labels_all[torch.as_tensor(idx, device=dev)]
            B = len(idx)
            eye = torch.eye(B, dtype=torch.bool, device=dev)
            if not self.augment:
                # no augmentation: the diagonal (self-distances) is no pair of the loss
                return loss_fn(D, labels, self_positive=False)
            augmented = [_augment(seqs[k], rng_aug) for k in idx]
            ab = _pad([a for a, _ in augmented], dev, torch.float32)
            truth = _pad_matrices([t for _, t in augmented], dev, torch.float32)
            Ea = embed(ab)
            A, d_fwd = tap_paired_alignments(E, Ea, predictor)
            A_back, d_back = tap_paired_alignments(Ea, E, predictor)
            D = torch.where(eye, torch.diag(0.5 * (d_fwd + d_back)), D)
            w = 1.0 / B**2 if self.ssl_weight is None else float(self.ssl_weight)
            mse = (_masked_mse(A, truth, E.mask, Ea.mask)
                   + _masked_mse(A_back, truth.transpose(1, 2), Ea.mask, E.mask))
            return loss_fn(D, labels) + w * ((d_fwd + d_back).sum() + mse.sum())

        validate = None
        if len(val_idx) and not alignment_only:
            val_X = [seqs[k] for k in val_idx]
            tr_X = [seqs[k] for k in train_idx]

            def validate():
                embedding.eval()
                Zv = self._embed_list(val_X, embedding, dev)
                Zt = self._embed_list(tr_X, embedding, dev)
                D = pairwise_sequence_distances(Zv, Zt, metric="tap", predictor=predictor,
                                                device=dev)
                D = _as_numpy(D)
                y_tr, y_val = y_idx[train_idx], y_idx[val_idx]
                embedding.train()
                # 1 - MAP of retrieving same-class training sequences: unlike the 1-NN error
                # of a few dozen held-out sequences, it still ranks models once both are
                # perfect at 1-NN
                aps = [average_precision_score(y_tr == c, -d) for d, c in zip(D, y_val)]
                return 1.0 - float(np.mean(aps))

        self.history_ = train(
            step, [predictor] if alignment_only else [embedding, predictor],
            max_epochs=int(self.max_epochs) * n_batches,
            optimizer="adam", lr=float(self.lr),
            optimizer_params={"weight_decay": float(self.weight_decay)},
            validate=validate, validate_every=n_batches,
            patience=self.patience if validate is not None else None,
            verbose=self.verbose, desc=type(self).__name__)
        self.embedding_state_ = module_state(embedding)
        self.predictor_state_ = module_state(predictor)
        self._architecture_fit = arch
        fitted = self._embed_list(seqs, embedding, dev)
        self.X_fit_embedded_ = [z.detach().cpu().numpy() for z in fitted]
        self.y_fit_ = y_idx
        return self

    @staticmethod
    def _embed_list(seqs, embedding, dev):
        with torch.no_grad():
            b = _pad(seqs, dev, torch.float32)
            z = torch.cat([embedding(b.data[i:i + _ENCODE_CHUNK])
                           for i in range(0, b.n_sequences, _ENCODE_CHUNK)])
            return [z[i, :n] for i, n in enumerate(b.lengths.tolist())]

    # ------------------------------------------------------------------ fitted modules
    def _fitted_modules(self, dev):
        # the fit-time architecture: set_params after fit cannot mismatch the stored weights
        embedding, predictor = self._modules(self.n_features_in_, self._architecture_fit, dev)
        load_module_state(embedding, self.embedding_state_)
        load_module_state(predictor, self.predictor_state_)
        return embedding.eval(), predictor.eval()

    def _standardized(self, tb: SequenceBatch):
        mean = torch.as_tensor(self.mean_, dtype=tb.data.dtype, device=tb.data.device)
        scale = torch.as_tensor(self.scale_, dtype=tb.data.dtype, device=tb.data.device)
        data = (tb.data - mean) / scale * tb.mask[:, :, None].to(tb.data.dtype)
        if self._architecture_fit["per_sequence"]:
            data = _zscore_per_sequence(data, tb.mask)
        return SequenceBatch(data, tb.lengths)

    def _embed_batch(self, X, reset=False):
        batch = validate_sequences(self, X, reset=reset)
        dev = resolve_device(self.device)
        embedding, _ = self._fitted_modules(dev)
        # in the input's precision: float64 input gets outputs that do not depend on how the
        # queries are batched (float32 GEMMs round differently for different batch sizes)
        dtype = batch.data.dtype if batch.is_torch else torch.from_numpy(batch.data[:0]).dtype
        tb = self._standardized(batch.to_torch(device=dev, dtype=dtype))
        embedding = embedding.to(dtype)
        with torch.no_grad():
            z = embedding(tb.data) * tb.mask[:, :, None].to(dtype)
        return batch, SequenceBatch(z, tb.lengths)

    # ------------------------------------------------------------------ public API
    def transform(self, X):
        """Embedded sequences :math:`h(X)` (frames L2-normalised), in the input's form."""
        check_is_fitted(self, "embedding_state_")
        batch, z = self._embed_batch(X)
        kind, torch_in = input_form(X, batch, self.layout)
        dtype = batch.data.dtype
        if torch_in:
            out = SequenceBatch(z.data.to(device=batch.data.device, dtype=dtype),
                                z.lengths.to(batch.data.device))
        else:
            np_dtype = dtype if not batch.is_torch else np.float64
            out = SequenceBatch(z.data.cpu().numpy().astype(np_dtype, copy=False),
                                z.lengths.cpu().numpy())
        return restore_form(out, kind, self.layout)

    def block_distance(self, xb, yb, *, direction="source"):
        """The learned distance between two padded batches, ``(n_x, n_y)``: a block metric
        for ``metric=`` of seqot's estimators (raw features in, embedded inside)."""
        check_is_fitted(self, "embedding_state_")
        dev = xb.data.device
        embedding, predictor = self._fitted_modules(dev)
        embedding, predictor = embedding.to(xb.data.dtype), predictor.to(xb.data.dtype)
        xb, yb = self._standardized(xb), self._standardized(yb)
        with torch.no_grad():
            ex = SequenceBatch(embedding(xb.data) * xb.mask[:, :, None].to(xb.data.dtype),
                               xb.lengths)
            ey = SequenceBatch(embedding(yb.data) * yb.mask[:, :, None].to(yb.data.dtype),
                               yb.lengths)
        from ..distances._tap_distance import _tap_metric

        return _tap_metric(ex, ey, predictor=predictor, direction=direction)

    def pairwise_distances(self, X, Y=None, *, direction="source"):
        """Learned TAP distances from every sequence of ``X`` (sources) to every one of
        ``Y`` (default ``X``); ``direction="mean"`` symmetrises, ``"sum"`` adds both."""
        check_is_fitted(self, "embedding_state_")
        check_estimator_params(self)
        dev = resolve_device(self.device)
        _, predictor = self._fitted_modules(dev)
        _, zx = self._embed_batch(X)
        zy = zx if Y is None else self._embed_batch(Y)[1]
        D = pairwise_sequence_distances(zx, zy, metric="tap", predictor=predictor,
                                        direction=direction, device=dev)
        return _as_numpy(D)

    def predict_alignment(self, x, y, *, normalized=True):
        """The alignment of ``x`` onto ``y``: :math:`T = A/L_X` (or :math:`A` if not
        ``normalized``), shape ``(L_x, L_y)``."""
        check_is_fitted(self, "embedding_state_")
        check_estimator_params(self)
        dev = resolve_device(self.device)
        _, predictor = self._fitted_modules(dev)
        _, zx = self._embed_batch([np.asarray(x)])
        _, zy = self._embed_batch([np.asarray(y)])
        with torch.no_grad():
            A, _ = tap_paired_alignments(zx, zy, predictor)
        A = A[0, : int(zx.lengths[0]), : int(zy.lengths[0])].cpu().numpy().astype(np.float64)
        return A / A.shape[0] if normalized else A

    def _neighbour_distances(self, X):
        check_is_fitted(self, "embedding_state_")
        check_estimator_params(self)
        dev = resolve_device(self.device)
        _, predictor = self._fitted_modules(dev)
        _, zx = self._embed_batch(X)
        fitted = [torch.as_tensor(z, device=dev) for z in self.X_fit_embedded_]
        D = pairwise_sequence_distances(zx, fitted, metric="tap", predictor=predictor,
                                        device=dev)
        return _as_numpy(D)

    def _check_n_neighbors(self, n_fit):
        # more neighbours than fitted sequences would make every vote the class counts
        if int(self.n_neighbors) > n_fit:
            raise ValueError(f"n_neighbors={self.n_neighbors} is larger than the {n_fit} "
                             "fitted sequences.")

    def predict(self, X):
        """k-NN labels against the fitted sequences (each query the source)."""
        check_is_fitted(self, "embedding_state_")
        check_estimator_params(self)
        self._check_n_neighbors(len(self.X_fit_embedded_))
        D = self._neighbour_distances(X)
        votes = knn_vote(D, self.y_fit_, int(self.n_neighbors), n_classes=len(self.classes_))
        return self.classes_[votes.argmax(1)]

    def mean_average_precision(self, X, y):
        """MAP of retrieving the fitted sequences of the same class, ranked by distance.

        Every sequence of ``X`` queries the fitted sequences (the query is the source); its
        relevant references are those of its own label, and
        :math:`AP_q` = ``average_precision_score(y_fit == y_q, -dist_q)``.

        Parameters
        ----------
        X : sequences
            The queries.
        y : array-like of shape (n_queries,)
            Their labels, each one of ``classes_``.

        Returns
        -------
        float
            The mean of :math:`AP_q` over all queries.

        Raises
        ------
        ValueError
            If ``y`` is not 1-D with one label per sequence of ``X``, or if a query's label
            is not among the fitted labels: such a query has no relevant reference and an
            undefined AP (skipping it would change what the mean is over, and give NaN when
            every query is skipped).
        """
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per query); got shape {y.shape}.")
        D = self._neighbour_distances(X)
        if len(y) != D.shape[0]:
            raise ValueError(f"X has {D.shape[0]} sequences but y has {len(y)} labels; "
                             "mean_average_precision needs one label per query.")
        # membership by Python equality: numpy's == between labels of different types
        # (ints against string classes) is not an elementwise test everywhere
        known = set(self.classes_.tolist())
        absent = sorted({lab for lab in y.tolist() if lab not in known}, key=repr)
        if absent:
            shown = ", ".join(map(repr, absent[:10])) + (", ..." if len(absent) > 10 else "")
            raise ValueError(
                f"{len(absent)} query label(s) have no relevant reference among the fitted "
                f"sequences (fitted classes: {self.classes_.tolist()!r}), so their average "
                f"precision is undefined; labels: {shown}.")
        y_fit = self.classes_[self.y_fit_]
        aps = [average_precision_score(y_fit == c, -d) for d, c in zip(D, y)]
        return float(np.mean(aps))
