r"""DeepEMD few-shot classifier: EMD between sets of local features, k-shot through the
Structured Fully Connected layer (Zhang et al., CVPR 2020 / TPAMI 2022)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..distances._deepemd import _DEEPEMD_CONSTRAINTS, _deepemd_block
from ..distances._pairwise import pairwise_sequence_distances
from ..nn import train
from ..utils._param_validation import (
    BLOCK_SIZE,
    DEVICE,
    LAYOUT,
    N_JOBS,
    POSITIVE,
    POSITIVE_INT,
    RANDOM_STATE,
    VERBOSE,
    Interval,
    StrOptions,
)
from ..utils._torch import check_random_state, resolve_device, seed_from_random_state
from ._centroid import _LogitClassifierMixin
from ..utils._validation import (
    SequenceBatch,
    SequenceInputMixin,
    validate_sequences,
    validate_sequences_targets,
)

__all__ = ["DeepEMDClassifier"]


class _SFC(nn.Module):
    """The Structured Fully Connected layer: one set of nodes :math:`\\Phi_c` per class."""

    def __init__(self, init):
        super().__init__()
        self.weight = nn.Parameter(init)


class DeepEMDClassifier(_LogitClassifierMixin, SequenceInputMixin, ClassifierMixin,
                        BaseEstimator):
    r"""Few-shot classification of sets of local features by DeepEMD.

    A query set :math:`U` (the 5x5 cells of a CNN feature map, patches, the segments of a
    video, ...) is scored against every class by the logit :math:`\ell(U, \Phi_c) =
    (1 - W(U, \Phi_c)) / T` of :func:`seqot.distances.deepemd` (EMD with cross-reference node
    weights and a :math:`1-\cos` cost), and classified by the softmax of the logits. With one
    shot per class the prototype :math:`\Phi_c` is the class's support set. With several,
    ``shot_strategy`` decides:

    * ``"sfc"`` (the paper's Algorithm 1): a Structured Fully Connected layer, one learnable
      set :math:`\Phi_c` per class initialised at the node-wise mean of the class's supports
      and fine-tuned by SGD (momentum 0.9, dampening 0.9) on the support set with the
      cross-entropy of the logits, ``max_epochs`` mini-batches of ``batch_size`` supports;
    * ``"mean"``: the node-wise mean prototype (SFC with zero steps);
    * ``"nearest"``: the most similar support of the class (EMD+NN);
    * ``"fusion"``: the mean distance to the class's supports (EMD+Fusion).

    DeepEMD ignores the order of the local features: a set is a set (append positional
    features if order should count).

    The classifier is invariant to a global positive scale of the features (supports and
    queries alike), whatever ``shot_strategy``: the cosine cost and the unit-mass weights are
    scale-free, ``weight_eps`` is taken relative to the support's mean squared node norm (the
    cross-reference responses are dot products, quadratic in the scale), and the default SFC
    rate scales with the squared node norm, as the cosine's gradient needs. Only an explicit
    ``lr`` is in absolute units.

    Parameters
    ----------
    temperature : float, default=0.08
        :math:`T` of the logits :math:`(1 - W) / T`, a divisor as everywhere in seqot (the
        authors' code multiplies by 12.5 = 1 / 0.08; the paper does not state it). It affects
        ``predict_proba`` and SFC training, not 1-shot predictions.
    shot_strategy : {"sfc", "mean", "nearest", "fusion"}, default="sfc"
        How classes with several shots are scored (see above).
    weights : {"cross_reference", "uniform"}, default="cross_reference"
        Node weights of the EMD.
    center : bool, default=True
        Centre nodes over their channels before the cosine (authors' code).
    weight_eps : float, default=1e-3
        :math:`\delta` of the cross-reference weights, relative to the mean squared norm of
        the support nodes (the distance gets the absolute ``weight_eps_``). An absolute
        :math:`\delta` (the authors' code) next to responses :math:`u_i^\top\bar v` that
        scale as :math:`k^2` would turn the weights uniform for small features and vanish
        for large ones. For features of unit mean squared norm the two agree.
    solver : {"emd", "sinkhorn"}, default="emd"
        Exact network simplex (POT, parallel over pairs with ``n_jobs`` threads) or batched
        entropic OT with ``reg`` and ``max_iter``.
    reg : float, default=0.01
    max_iter : int, default=1000
    max_epochs : int, default=100
        Length of the SFC fine-tuning; one epoch is one SFC optimiser step (an SGD step on a
        mini-batch of ``batch_size`` supports; the paper: 100 iterations). 0 leaves the
        starting prototype (``"sfc"`` is then ``"mean"``).
    lr : float, optional
        SFC learning rate. The cosine's gradient scales as :math:`1/\lVert\phi\rVert`, so a
        fixed rate means different things for different feature scales; ``None`` uses
        ``lr_scale`` times the mean squared norm of the initial (centred) nodes, a
        scale-free rate.
    lr_scale : float, default=1.0
        The scale-free rate used when ``lr`` is None.
    batch_size : int, default=5
        Supports per SFC step, the training mini-batch (the paper: 5; the authors' code: 4).
        Not the pairwise chunk size, which is ``block_size``.
    sfc_init : {"auto", "nodewise_mean", "kmeans"}, default="auto"
        Starting prototype of ``"sfc"`` and the prototype of ``"mean"``: the node-wise mean
        of the class's supports (the paper; node ``i`` of every shot must be the same
        location, so the shots need equally many nodes), or k-means of the class's pooled
        support nodes into the median node count of its shots (for unordered sets, such as
        random patches or video segments of different counts). ``"auto"`` takes the node-wise
        mean when a class's shots have equally many nodes and k-means otherwise.
    sfc_weight_grad : bool, default=False
        Back-propagate through the node weights (exact EMD gradients) during SFC; ``False``
        treats flows and weights as constants, as the authors' OpenCV path does.
    block_size : int, optional
        Sets per block of the pairwise computation (see
        :func:`~seqot.distances.pairwise_sequence_distances`).
    n_jobs : int, optional
        Threads for the exact EMDs (joblib).
    device : {"auto", "cpu", "cuda", ...}, default="auto"
    random_state : None, int, RandomState or Generator, default=None
        Order of the SFC mini-batches.
    verbose : bool, default=False
        Progress bar of the SFC steps.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    classes_ : ndarray
    prototypes_ : SequenceBatch
        One set per class (``"sfc"``/``"mean"`` or one-shot), or every support
        (``"nearest"``/``"fusion"``); numpy arrays.
    loss_curve_ : ndarray of shape (max_epochs,) or None
        Support-set loss of every SFC step (None when SFC did not run).
    weight_eps_ : float
        The absolute :math:`\delta` of the cross-reference weights: ``weight_eps`` times the
        mean squared norm of the support nodes (``weight_eps`` itself when every support node
        is zero).
    n_features_in_ : int

    References
    ----------
    .. [1] C. Zhang, Y. Cai, G. Lin and C. Shen. DeepEMD: few-shot image classification with
       differentiable earth mover's distance and structured classifiers. CVPR 2020; extended
       in IEEE TPAMI 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from seqot.fewshot import DeepEMDClassifier
    >>> rng = np.random.default_rng(0)
    >>> parts = rng.normal(size=(3, 4, 8))          # 3 classes, 4 part vectors each
    >>> def sample(c):                                 # a shuffled, noisy set of its parts
    ...     return rng.permutation(parts[c] + 0.3 * rng.normal(size=(4, 8)))
    >>> X = [sample(c) for c in range(3) for _ in range(2)]
    >>> y = np.repeat([0, 1, 2], 2)
    >>> clf = DeepEMDClassifier(shot_strategy="nearest", device="cpu").fit(X, y)
    >>> clf.predict([sample(2), sample(0)]).tolist()
    [2, 0]
    """

    _parameter_constraints: dict = {
        "temperature": POSITIVE,
        "shot_strategy": [StrOptions({"sfc", "mean", "nearest", "fusion"})],
        **{k: _DEEPEMD_CONSTRAINTS[k] for k in ("weights", "center", "weight_eps", "solver",
                                                 "reg", "max_iter")},
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "lr": [*POSITIVE, None],
        "lr_scale": POSITIVE,
        "batch_size": POSITIVE_INT,
        "sfc_init": [StrOptions({"auto", "nodewise_mean", "kmeans"})],
        "sfc_weight_grad": ["boolean"],
        "block_size": BLOCK_SIZE,
        "n_jobs": N_JOBS,
        "device": DEVICE,
        "random_state": RANDOM_STATE,
        "verbose": VERBOSE,
        "layout": LAYOUT,
    }

    def __init__(self, *, temperature=0.08, shot_strategy="sfc", weights="cross_reference",
                 center=True, weight_eps=1e-3, solver="emd", reg=0.01, max_iter=1000,
                 max_epochs=100, lr=None, lr_scale=1.0, batch_size=5,
                 sfc_init="auto",
                 sfc_weight_grad=False, block_size=None, n_jobs=None, device="auto",
                 random_state=None, verbose=False, layout="time_first"):
        self.layout = layout
        self.temperature = temperature
        self.shot_strategy = shot_strategy
        self.weights = weights
        self.center = center
        self.weight_eps = weight_eps
        self.solver = solver
        self.reg = reg
        self.max_iter = max_iter
        self.max_epochs = max_epochs
        self.lr = lr
        self.lr_scale = lr_scale
        self.batch_size = batch_size
        self.sfc_init = sfc_init
        self.sfc_weight_grad = sfc_weight_grad
        self.block_size = block_size
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # one-node sets of 2-3 channels (scikit-learn's check data) keep almost nothing after
        # channel centring: the score is the Pearson correlation of two tiny vectors
        tags.classifier_tags.poor_score = True
        return tags

    def _metric_params(self):
        return dict(weights=self.weights, center=bool(self.center),
                    weight_eps=float(self.weight_eps_), solver=self.solver,
                    reg=float(self.reg), max_iter=int(self.max_iter))

    def _relative_weight_eps(self, batch: SequenceBatch):
        """``weight_eps`` in the units of the responses: times the support's mean squared node
        norm, so that a global scale k of the features (responses ∝ k²) leaves the weights as
        they are."""
        nodes = np.asarray(batch.data, dtype=np.float64)[np.asarray(batch.mask)]
        top = float(np.abs(nodes).max()) if nodes.size else 0.0
        if not (np.isfinite(top) and top > 0):  # all-zero supports: no scale to take
            return float(self.weight_eps)
        # divided by the largest entry first, so that tiny features do not underflow
        msq = top * top * float(np.mean(np.sum((nodes / top) ** 2, axis=1)))
        return float(self.weight_eps) * msq if np.isfinite(msq) else float(self.weight_eps)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Store the support set and build the class prototypes (SFC fine-tuning for k-shot).

        Parameters
        ----------
        X : sets of local features
            A ragged list of ``(n_nodes_i, d)`` arrays, a 3-D ``(n, n_nodes, d)`` array
            (NaN rows pad smaller sets), or 2-D (one node per set).
        y : array-like of shape (n,)

        Returns
        -------
        self
        """
        batch, y = validate_sequences_targets(self, X, y)
        batch = batch.to_numpy()
        self.weight_eps_ = self._relative_weight_eps(batch)
        y_idx = np.searchsorted(self.classes_, y)
        n_classes = len(self.classes_)
        shots = np.bincount(y_idx, minlength=n_classes)
        self.loss_curve_ = None
        if self.shot_strategy in ("nearest", "fusion") or shots.max() == 1:
            order = np.argsort(y_idx, kind="stable")
            self.prototypes_ = batch.take(order)
            self.prototype_labels_ = y_idx[order]
            return self
        lengths = np.asarray(batch.lengths)
        seed = seed_from_random_state(self.random_state)
        means = []
        for c in range(n_classes):
            idx = np.flatnonzero(y_idx == c)
            equal = len(np.unique(lengths[idx])) == 1
            if self.sfc_init == "nodewise_mean" and not equal:
                raise ValueError(
                    f"sfc_init='nodewise_mean' averages the supports of a class node by node, "
                    f"but class {self.classes_[c]!r} has sets of "
                    f"{sorted(set(lengths[idx].tolist()))} nodes; use sfc_init='kmeans' (or "
                    "'auto'), or shot_strategy='nearest' or 'fusion'.")
            if self.sfc_init == "nodewise_mean" or (self.sfc_init == "auto" and equal):
                means.append(batch.data[idx, : lengths[idx[0]]].mean(axis=0))
            else:
                nodes = np.concatenate([batch.data[i, : lengths[i]] for i in idx])
                n_nodes = min(int(np.median(lengths[idx])), len(np.unique(nodes, axis=0)))
                km = KMeans(n_clusters=max(n_nodes, 1), n_init=3,
                            random_state=seed % (2**32)).fit(nodes)
                means.append(km.cluster_centers_.astype(batch.data.dtype))
        n_max = max(len(m) for m in means)
        data = np.zeros((n_classes, n_max, batch.n_features), dtype=batch.data.dtype)
        for c, m in enumerate(means):
            data[c, : len(m)] = m
        proto = SequenceBatch(data, np.asarray([len(m) for m in means], dtype=np.int64))
        if self.shot_strategy == "sfc" and int(self.max_epochs) > 0:
            proto = self._fine_tune(batch, y_idx, proto, seed)
        self.prototypes_ = proto
        self.prototype_labels_ = np.arange(n_classes)
        return self

    def _fine_tune(self, batch: SequenceBatch, y_idx, proto: SequenceBatch, seed):
        """Algorithm 1: SGD on the support set's cross-entropy, over the SFC parameters."""
        dev = resolve_device(self.device)
        support = batch.to_torch(device=dev)
        phi_lengths = torch.as_tensor(proto.lengths, device=dev)
        init = torch.as_tensor(proto.data, device=dev)
        sfc = _SFC(init.clone())
        if self.lr is None:
            nodes = init[torch.as_tensor(np.asarray(proto.mask), device=dev)]
            if self.center:
                nodes = nodes - nodes.mean(-1, keepdim=True)
            msq = float((nodes * nodes).sum(-1).mean())
            # no absolute floor (it would break the scale invariance for tiny features); all
            # nodes constant over their channels leaves no scale, and no cosine gradient
            lr = float(self.lr_scale) * (msq if msq > 0 else 1.0)
        else:
            lr = float(self.lr)
        rng = check_random_state(seed)
        n_support = support.n_sequences
        labels = torch.as_tensor(y_idx, device=dev)
        bs = min(int(self.batch_size), n_support)
        order = []
        params = dict(self._metric_params(), weight_grad=bool(self.sfc_weight_grad),
                      n_jobs=self.n_jobs)
        # (1 - W) / T as a product with 1 / T: for T = 0.08 exactly the authors' 12.5 (1 - W)
        inv_t = 1.0 / float(self.temperature)

        def step(i):
            nonlocal order
            if len(order) < bs:  # epochs over the support set (the authors' code)
                order = list(order) + list(rng.permutation(n_support))
            idx, order = np.asarray(order[:bs]), order[bs:]
            W = _deepemd_block(support.take(idx), SequenceBatch(sfc.weight, phi_lengths),
                               **params)
            logits = (1.0 - W) * inv_t
            return nn.functional.cross_entropy(logits, labels[torch.as_tensor(idx, device=dev)])

        history = train(step, [sfc], max_epochs=int(self.max_epochs), optimizer="sgd", lr=lr,
                        optimizer_params={"momentum": 0.9, "dampening": 0.9},
                        verbose=self.verbose, desc=f"{type(self).__name__} SFC")
        self.loss_curve_ = np.asarray(history.loss, dtype=np.float64)
        self.lr_ = lr
        data = sfc.weight.detach().cpu().numpy().astype(proto.data.dtype, copy=False)
        return SequenceBatch(data, np.asarray(proto.lengths))

    # ------------------------------------------------------------------ predict
    def class_distances(self, X):
        """EMD :math:`W` of every set of X to every class, ``(n, n_classes)`` (the class's
        prototype, nearest support, or mean over supports, per ``shot_strategy``)."""
        check_is_fitted(self, "prototypes_")
        batch = validate_sequences(self, X, reset=False)
        D = pairwise_sequence_distances(batch, self.prototypes_, metric="deepemd",
                                        block_size=self.block_size, n_jobs=self.n_jobs,
                                        device=self.device, **self._metric_params())
        D = np.asarray(D, dtype=np.float64)
        n_classes = len(self.classes_)
        if D.shape[1] == n_classes and np.array_equal(self.prototype_labels_,
                                                      np.arange(n_classes)):
            return D
        out = np.empty((D.shape[0], n_classes))
        for c in range(n_classes):
            cols = D[:, self.prototype_labels_ == c]
            out[:, c] = cols.mean(1) if self.shot_strategy == "fusion" else cols.min(1)
        return out

    def _logits(self, X):
        """:math:`(1 - W) / T`."""
        W = self.class_distances(X)  # checks the parameters first
        return (1.0 - W) * (1.0 / float(self.temperature))

    def predict(self, X):
        """The class with the largest logit (ties: the first class in ``classes_``)."""
        z = self._logits(X)
        return self.classes_[np.argmax(z, axis=1)]
