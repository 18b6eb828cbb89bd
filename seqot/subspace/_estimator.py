r"""ACOTSubspacePooling: one contrastive-OT subspace per sequence (Cherian and Aeron, 2020)."""

from __future__ import annotations

import hashlib

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._param_validation import (
    DEVICE,
    LAYOUT,
    N_JOBS,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    RANDOM_STATE,
    VERBOSE,
    StrOptions,
)
from ..utils._torch import check_random_state, resolve_device, seed_from_random_state
from ..utils._validation import SequenceInputMixin, validate_sequences, validate_sequences_targets
from ._acot import (
    ACTIVATIONS,
    NOISE_DISTRIBUTIONS,
    SOLVER_CONSTRAINTS,
    WEIGHT_CONSTRAINTS,
    _acot_subspace,
    _random_negatives,
    require_pymanopt,
)
from ._noise import generator_negatives, train_adversarial_generator
from ._pooling import _l2_normalize

__all__ = ["ACOTSubspacePooling"]


def _sequence_seed(base, frames):
    """A seed from ``random_state`` and the sequence's own values: a sequence gets the same
    negatives whatever its position in the input, the batch or ``n_jobs``."""
    digest = hashlib.blake2b(frames.tobytes(), digest_size=16).digest()
    words = np.frombuffer(digest, dtype=np.uint32).tolist()
    return np.random.SeedSequence([int(base) & 0xFFFFFFFF, int(base) >> 32, *words])


def _normalized(frames, normalize):
    """The frames as a float64 ``(d, n)`` matrix (columns are frames), L2-normalised."""
    X = np.asarray(frames, dtype=np.float64)
    return (_l2_normalize(X) if normalize else X).T


def _one_sequence(frames, seed, params, generator_state):
    X = _normalized(frames, params["normalize_frames"])
    rng = check_random_state(seed)
    if generator_state is not None:
        Y = generator_negatives(X, generator_state, rng, per_frame=params["negatives_per_frame"],
                                sigma=params["noise_sigma"], pivot=params["pivot"],
                                activation=params["activation"])
    else:
        Y = _random_negatives(X, rng, per_frame=params["negatives_per_frame"],
                              distribution=params["noise_distribution"],
                              activation=params["activation"])
    U, _ = _acot_subspace(X, Y, params["n_components"], alpha=params["alpha"],
                          beta_distortion=params["beta_distortion"],
                          beta_order=params["beta_order"], eta=params["eta"],
                          order_loss=params["order_loss"], cg_max_iter=params["cg_max_iter"],
                          outer_max_iter=params["outer_max_iter"], use_ot=params["use_ot"],
                          reg=params["reg"])
    return U


class ACOTSubspacePooling(SequenceInputMixin, TransformerMixin, BaseEstimator):
    r"""Pool each sequence of frame features into a subspace by contrastive optimal transport.

    For every sequence, ACOT finds the :math:`k`-dimensional subspace :math:`U` that maximises
    the optimal-transport distance between the projected frames and negatives made from the
    sequence, while reconstructing the frames (distortion weight :math:`\beta_1`) and making
    the projected energy :math:`\lVert U^\top x_t\rVert^2` grow along the sequence by a margin
    :math:`\eta` (order weight :math:`\beta_2`); see :mod:`seqot.subspace._acot` for the
    objective. One OT step (exact EMD between frames and negatives) alternates with Riemannian
    conjugate gradient on the Grassmann manifold (pymanopt) started from the uncentred PCA
    basis; sequences are independent and run in parallel (joblib).

    Parameters
    ----------
    n_components : int, default=1
        Subspace dimension :math:`k` (the paper: 1-8).
    noise : {"adversarial", "random"}, default="adversarial"
        Negatives: ``"adversarial"`` trains, in ``fit``, the paper's WGAN generator of
        perturbations that make a linear frame classifier pick the least likely class
        (:mod:`seqot.subspace._noise`; needs ``y``); ``"random"`` perturbs every frame
        randomly (the paper's "COT + Random"; ``fit`` then only validates).
    negatives_per_frame : int, default=2
        :math:`m = R n` negatives ("twice the number of positives").
    noise_distribution : {"gaussian", "uniform"}, default="gaussian"
        Random perturbation :math:`\mathcal N(0, \max(x)^2)` per frame (paper) or
        :math:`U[0, 1)\max(X)` (authors' code).
    noise_sigma : float, default=0.01
        Standard deviation :math:`\sigma` of the generator's input noise.
    pivot : {"frame", "mean"}, default="frame"
        Generator input :math:`x_t + \sigma\epsilon` (authors' code) or
        :math:`\bar X + \sigma\epsilon` (paper).
    activation : {"relu", "identity"}, default="relu"
        :math:`\gamma` applied to the perturbed frames; ``"identity"`` for signed features.
    alpha : float, default=1.0
        Contrastive weight (0 turns ACOT into PCA / generalized rank pooling).
    beta_distortion : float, default=1.0
        :math:`\beta_1`.
    beta_order : float, default=10.0
        :math:`\beta_2`.
    eta : float, default=0.01
        Order margin :math:`\eta`.
    order_loss : {"hinge", "squared_hinge"}, default="hinge"
    cg_max_iter : int, default=5
        pymanopt's ``max_iterations`` of each U-step (5 performs 4 updates, as the authors'
        code does; the truncation keeps the result near the PCA start).
    outer_max_iter : int, default=1
        OT / U-step rounds.
    reg : float, optional
        ``None``: exact OT between frames and negatives (the paper's IPOT converges to it);
        a float: entropic OT with that regularisation on the max-normalised cost.
    use_ot : bool, default=True
        ``False`` is the paper's "No OT" ablation (each frame against its own negatives).
    normalize_frames : bool, default=True
        L2-normalise every frame first.
    lambda_adv, lambda_norm : float, default=0.1, 1.0
        Weights :math:`\lambda_1` (fool the frame classifier) and :math:`\lambda_2`
        (perturbation energy) of the generator loss.
    max_epochs : int, default=1000
        Generator training length; one epoch is one generator step on one minibatch, after
        ``n_critic`` critic steps (100 for the first 25 epochs and every 500th).
    classifier_max_epochs : int, default=500
        Frame-classifier training length (one epoch: one step on one minibatch).
    n_critic : int, default=5
    batch_size : int, default=256
        Training minibatch of frames (of the classifier, the critic and the generator).
    lr : float, default=1e-4
        RMSprop learning rate of the classifier, the critic and the generator (a training
        loss that becomes NaN or infinite raises a ``ValueError`` naming it).
    n_jobs : int, optional
        Sequences solved in parallel (joblib processes; results do not depend on it).
    device : {"auto", "cpu", "cuda", ...}, default="auto"
        Where the WGAN trains (transform runs in numpy).
    random_state : None, int, RandomState or Generator, default=None
        Seeds the negatives: a sequence's generator is seeded from ``random_state`` and a
        hash of its own frames (after ``normalize_frames``), so its basis does not depend on
        the other sequences, their order or ``n_jobs``, nor on its scale when the frames are
        normalised.

    verbose : bool, default=False
        Progress bars of the WGAN training.
    layout : {"time_first", "channels_first"}, default="time_first"
        Axis order of every ``X``: ``(T_i, d)`` sequences and ``(n, T, d)`` arrays, or
        aeon's and sktime's ``(d, T_i)`` and ``(n, d, T)`` (see
        :func:`seqot.utils.check_sequences`); per-frame outputs come back in it.

    Attributes
    ----------
    n_features_in_ : int
    generator_state_ : dict of str to ndarray or None
        The trained generator (``noise="adversarial"``).
    classifier_train_accuracy_, fooling_rate_ : float
        Training accuracy of the frame classifier; share of training frames whose clean class
        becomes the least likely one after perturbation (the paper's Fig. 5 measure).
    history_ : dict

    Notes
    -----
    ``transform`` returns ``(n, d, k)`` orthonormal bases, the input of
    :class:`seqot.subspace.GrassmannKernel`.

    References
    ----------
    .. [1] A. Cherian and S. Aeron. Representation learning via adversarially-contrastive
       optimal transport. ICML 2020.
    """

    _parameter_constraints: dict = {
        "n_components": POSITIVE_INT,
        "noise": [StrOptions({"adversarial", "random"})],
        "negatives_per_frame": POSITIVE_INT,
        "noise_distribution": NOISE_DISTRIBUTIONS,
        "noise_sigma": NON_NEGATIVE,
        "pivot": [StrOptions({"frame", "mean"})],
        "activation": ACTIVATIONS,
        **WEIGHT_CONSTRAINTS,
        **SOLVER_CONSTRAINTS,
        "normalize_frames": ["boolean"],
        "lambda_adv": NON_NEGATIVE,
        "lambda_norm": NON_NEGATIVE,
        "max_epochs": POSITIVE_INT,
        "classifier_max_epochs": POSITIVE_INT,
        "n_critic": POSITIVE_INT,
        "batch_size": POSITIVE_INT,
        "lr": POSITIVE,
        "n_jobs": N_JOBS,
        "device": DEVICE,
        "random_state": RANDOM_STATE,
        "verbose": VERBOSE,
        "layout": LAYOUT,
    }

    def __init__(self, n_components=1, *, noise="adversarial", negatives_per_frame=2,
                 noise_distribution="gaussian", noise_sigma=0.01, pivot="frame",
                 activation="relu", alpha=1.0, beta_distortion=1.0, beta_order=10.0, eta=0.01,
                 order_loss="hinge", cg_max_iter=5, outer_max_iter=1, use_ot=True, reg=None,
                 normalize_frames=True, lambda_adv=0.1, lambda_norm=1.0, max_epochs=1000,
                 classifier_max_epochs=500, n_critic=5, batch_size=256, lr=1e-4,
                 n_jobs=None, device="auto", random_state=None, verbose=False,
                 layout="time_first"):
        self.layout = layout
        self.n_components = n_components
        self.noise = noise
        self.negatives_per_frame = negatives_per_frame
        self.noise_distribution = noise_distribution
        self.noise_sigma = noise_sigma
        self.pivot = pivot
        self.activation = activation
        self.alpha = alpha
        self.beta_distortion = beta_distortion
        self.beta_order = beta_order
        self.eta = eta
        self.order_loss = order_loss
        self.cg_max_iter = cg_max_iter
        self.outer_max_iter = outer_max_iter
        self.use_ot = use_ot
        self.reg = reg
        self.normalize_frames = normalize_frames
        self.lambda_adv = lambda_adv
        self.lambda_norm = lambda_norm
        self.max_epochs = max_epochs
        self.classifier_max_epochs = classifier_max_epochs
        self.n_critic = n_critic
        self.batch_size = batch_size
        self.lr = lr
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        """Train the adversarial noise generator (``noise="adversarial"``), or only validate
        the sequences and record ``n_features_in_`` (random negatives need no training).

        Parameters
        ----------
        X : sequences
            Ragged list of ``(T_i, d)`` arrays, a 3-D NaN-padded array, or 2-D (one frame
            per sequence).
        y : array-like of shape (n,), optional
            Sequence labels; required by ``noise="adversarial"``, ignored otherwise.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            With ``noise="adversarial"``: when ``y`` is missing, or holds fewer than two
            classes (a single sequence included), since the generator is trained to make a
            frame classifier pick the least likely class (``noise="random"`` works then).
        """
        if self.noise == "adversarial" and y is not None:
            batch, y = validate_sequences_targets(self, X, y, min_classes=1)
        else:  # validation checks the parameters first
            validate_sequences(self, X, reset=True)
            if self.noise == "adversarial":
                raise ValueError('noise="adversarial" trains its generator on labelled frames: '
                                 'fit(X, y) needs y (or use noise="random").')
        require_pymanopt()
        # transform's negatives are seeded from this (with each sequence's frames): drawn once
        # here, so that repeated transforms agree whatever random_state is (None, an instance)
        self._negatives_seed = seed_from_random_state(self.random_state)
        if self.noise != "adversarial":
            self.generator_state_ = None
            return self
        # the generator is trained to make a frame classifier pick the *least* likely class:
        # with one class that class is also the least likely, the fooling term is constant
        # and the "adversarial" negatives carry no class information
        hint = ('noise="random" (random perturbations of every frame) needs no labels and '
                'works with any number of sequences and classes.')
        if batch.n_sequences < 2:
            raise ValueError(
                f'noise="adversarial" trains its generator against a frame classifier of at '
                f"least two classes; got 1 sample (sequence). Use {hint}")
        if len(self.classes_) < 2:
            raise ValueError(
                f'noise="adversarial" trains its generator against a frame classifier of at '
                f"least two classes; got one class in y: {self.classes_[0]!r}. Use {hint}")
        nb = batch.to_numpy()
        y_idx = np.searchsorted(self.classes_, y)
        frames = [_normalized(nb.data[i, : nb.lengths[i]], self.normalize_frames).T
                  for i in range(nb.n_sequences)]
        labels = np.concatenate([np.full(len(f), c) for f, c in zip(frames, y_idx)])
        out = train_adversarial_generator(
            np.concatenate(frames), labels, len(self.classes_), sigma=float(self.noise_sigma),
            activation=self.activation, lambda_adv=float(self.lambda_adv),
            lambda_norm=float(self.lambda_norm), max_epochs=int(self.max_epochs),
            classifier_max_epochs=int(self.classifier_max_epochs), n_critic=int(self.n_critic),
            batch_size=int(self.batch_size), lr=float(self.lr),
            device=resolve_device(self.device),
            random_state=self._negatives_seed, verbose=self.verbose)
        self.generator_state_ = out["generator"]
        self.classifier_train_accuracy_ = out["classifier_accuracy"]
        self.fooling_rate_ = out["fooling_rate"]
        self.history_ = {"fooling_rate_initial": out["fooling_rate_initial"], **out["history"]}
        return self

    def transform(self, X):
        """One orthonormal basis per sequence, ``(n, d, k)``.

        Parameters
        ----------
        X : sequences
            Ragged list of ``(T_i, d)`` arrays, a 3-D NaN-padded array, or 2-D (one frame
            per sequence).
        """
        check_is_fitted(self, "generator_state_")
        batch = validate_sequences(self, X, reset=False).to_numpy()
        if self.n_components > batch.n_features:  # semantic: k <= d
            raise ValueError(f"n_components={self.n_components} exceeds the feature dimension "
                             f"{batch.n_features}.")
        base = self._negatives_seed
        params = dict(n_components=int(self.n_components),
                      negatives_per_frame=int(self.negatives_per_frame),
                      noise_distribution=self.noise_distribution, activation=self.activation,
                      alpha=float(self.alpha), beta_distortion=float(self.beta_distortion),
                      beta_order=float(self.beta_order), eta=float(self.eta),
                      order_loss=self.order_loss, cg_max_iter=int(self.cg_max_iter),
                      outer_max_iter=int(self.outer_max_iter), use_ot=bool(self.use_ot),
                      normalize_frames=bool(self.normalize_frames),
                      noise_sigma=float(self.noise_sigma), pivot=self.pivot,
                      reg=None if self.reg is None else float(self.reg))
        generator_state = self.generator_state_ if self.noise == "adversarial" else None
        frames = [np.ascontiguousarray(batch.data[i, : batch.lengths[i]], dtype=np.float64)
                  for i in range(batch.n_sequences)]
        # seeded from the frames as ACOT sees them (normalised when normalize_frames), so that
        # rescaling a sequence leaves its basis unchanged (spec §9.14); hashed in float32, as
        # c * x normalises to x only up to float64 rounding
        seeds = [_sequence_seed(base, np.ascontiguousarray(
            _normalized(f, params["normalize_frames"]), dtype=np.float32)) for f in frames]
        bases = Parallel(n_jobs=self.n_jobs)(
            delayed(_one_sequence)(f, seed, params, generator_state)
            for f, seed in zip(frames, seeds))
        # computed in float64 (thin SVDs, CG); returned in the input's float precision
        out_dtype = batch.data.dtype if batch.data.dtype in (np.float32, np.float64) else \
            np.float64
        return np.stack(bases).astype(out_dtype, copy=False)
