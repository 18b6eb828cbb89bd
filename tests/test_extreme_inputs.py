"""No public callable returns NaN (or inf) for finite input, and NaN/inf input is refused.

The callables are enumerated from the ``__all__`` of every public (sub)package, not from a
hand list: a new public function or estimator without an entry in ``CALLS`` (or a reasoned
``NO_NUMERIC_INPUT`` exemption) fails ``test_every_public_callable_is_covered``. Each one is
called with data holding NaN, +inf, -inf, one entry of 1e200 (float64) / 1e20 (float32), and
all of it scaled to those magnitudes. The contract:

* NaN or infinite data: a ``ValueError`` (that names the input);
* finite data of extreme magnitude: a finite result, or a ``ValueError`` that names the
  supported range.

Estimators are called in ``fit`` with the extreme data, and, fitted on ordinary data, in
every output method with it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import warnings

import numpy as np
import pytest
import torch

MODULES = ["seqot", "seqot.ot", "seqot.distances", "seqot.neighbors", "seqot.fewshot",
           "seqot.segmentation", "seqot.segmentation.metrics", "seqot.segmentation.io",
           "seqot.metric_learning", "seqot.subspace", "seqot.nn", "seqot.datasets",
           "seqot.utils", "seqot.utils.estimator_checks", "seqot.plotting"]

# Callables whose arguments hold no numeric data to corrupt, with the reason.
NO_NUMERIC_INPUT = {
    "check_random_state": "a seed converter: takes no data",
    "spawn_random_states": "a seed converter: takes no data",
    "check_parameter_constraints": "a test harness over an estimator, takes no data",
    "OTResult": "a result container, built by the solvers",
    "ASOTResult": "a result container, built by the solver",
    "SinkhornConvergenceWarning": "a warning class",
    "SequenceInputMixin": "a tag mixin",
    "SequenceBatch": "the validated container check_sequences builds (its data is checked there)",
    "EpisodeScores": "a result container of evaluate_episodes",
    "TrainingHistory": "a result container of train",
    "available_metrics": "no arguments",
    "register_metric": "a decorator taking a name",
    "get_metric": "looks a metric up by name",
    "all_estimators": "introspection",
    "resolve_device": "takes a device name",
    "seed_from_random_state": "takes a seed",
    "torch_generator": "takes a seed",
    "check_layout": "takes a layout name",
    "check_positive": "checks one parameter value (not data); tested in test_validation",
    "make_optimizer": "takes modules and hyper-parameters",
    "build_frame_mlp": "takes layer sizes",
    "FrameMLP": "a torch module built from layer sizes (its forward is plain torch)",
    "AlignmentPredictor": "a torch module built from layer sizes (tap_alignment is covered)",
    "EpisodeSampler": "draws indices; its data is the labels",
    "train": "a training loop over a user step function",
    "load_mstcn_dataset": "reads files (non-finite features are tested in test_segmentation_io)",
    "write_mstcn_predictions": "writes integer labels",
    "load_basic_motions": "bundled data, no input",
    "load_japanese_vowels": "bundled data, no input",
    "make_digits_local_features": "a generator of its own data",
    "make_japanese_vowels_videos": "a generator of its own data",
    "make_order_only_sequences": "a generator of its own data",
    "make_reversal_tasks": "a generator of its own data",
    "make_segmented_sequences": "a generator of its own data",
    "make_warped_sequences": "a generator of its own data",
    "true_alignment": "takes lengths and a warp of its own generator",
    "relative_positions": "takes integer lengths",
    "position_gap": "takes integer lengths",
    "pairwise_position_gap": "takes integer lengths",
    "positional_cost": "takes integer lengths",
    "hungarian_match": "takes integer labels",
    "mof_score": "takes integer labels",
    "miou_score": "takes integer labels",
    "f1_unsup_score": "takes integer labels",
    "segmental_f1_score": "takes integer labels",
    "edit_score": "takes integer labels",
    "segmentation_scores": "takes integer labels",
    "plot_segmentation": "takes integer labels",
    "make_check_data": "a generator of its own data",
    "parametrize_with_sequence_checks": "builds pytest parameters",
    "yield_sequence_checks": "yields checks",
    "check_sequence_estimator": "runs the checks on their own data",
    "check_channels_first_layout": "an estimator check on its own data",
    "check_float32_preserved": "an estimator check on its own data",
    "check_list_vs_padded": "an estimator check on its own data",
    "check_padding_invariance": "an estimator check on its own data",
    "check_pickle_roundtrip": "an estimator check on its own data",
    "check_random_state_determinism": "an estimator check on its own data",
    "check_refit_forgets_previous_fit": "an estimator check on its own data",
    "check_torch_input_with_grad": "an estimator check on its own data",
    "check_variable_length": "an estimator check on its own data",
    "function_constraint_cases": "builds calls from a function's declared constraints",
    "check_function_constraint": "makes one call that must be refused",
    "invalid_parameter_values": "builds values from a constraint list",
}


def public_callables():
    """(name, object) of every callable in the ``__all__`` of MODULES, each object once.

    The name is the bare one, or ``module.name`` where two public objects share it
    (``seqot.ot.sinkhorn`` the solver, ``seqot.distances.sinkhorn`` the sequence distance).
    """
    seen, found = set(), []
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if callable(obj) and id(obj) not in seen:
                seen.add(id(obj))
                found.append((mod_name, name, obj))
    counts = {}
    for _, name, _ in found:
        counts[name] = counts.get(name, 0) + 1
    return [(name if counts[name] == 1 else f"{mod}.{name}", obj) for mod, name, obj in found]


# Building blocks on tensors (and converters, reshapes, plots) that pass non-finite values
# through as torch and numpy operations do: they are called on data the estimators and
# distances validated. Finite extreme input must still give a finite result or a ValueError.
PROPAGATES_NON_FINITE = {
    "to_numpy": "a conversion: returns its input's values",
    "bases_to_flat": "a reshape",
    "flat_to_bases": "a reshape",
    "plot_alignment": "draws NaN cells blank, as matplotlib does",
    "plot_kernel_matrix": "draws NaN cells blank, as matplotlib does",
    "plot_transport_plan": "draws NaN cells blank, as matplotlib does",
    "frame_cost": "a tensor building block of the validated distances",
    "pairwise_frame_cost": "a tensor building block of the validated distances",
    "tap_alignment": "a tensor building block of the TAP distance",
    "asot_structure_product": "a tensor building block of the ASOT solver",
    "binomial_deviance_loss": "a training loss on a distance matrix the learner computed",
    "hard_mining_loss": "a training loss on a distance matrix the learner computed",
    "lifted_structure_loss": "a training loss on a distance matrix the learner computed",
    "augment_sequence": "a training augmentation of a validated sequence",
    "random_blur": "a training augmentation of a validated sequence",
    "random_merge": "a training augmentation of a validated sequence",
}


# ---------------------------------------------------------------------------- corruptions
@dataclasses.dataclass(frozen=True)
class Extreme:
    """How the data is corrupted: ``value`` at one entry, or everything scaled to it."""

    name: str
    value: float
    dtype: type
    scaled: bool = False

    @property
    def finite(self):
        return bool(np.isfinite(self.value))

    def __call__(self, x):
        """A corrupted copy of the float array (or tensor) ``x``, in this case's dtype."""
        if isinstance(x, torch.Tensor):
            return torch.from_numpy(self(x.detach().cpu().numpy()))
        a = np.array(x, dtype=np.float64)
        if self.scaled:
            peak = np.abs(a).max()
            a = a / (peak if peak > 0 else 1.0) * self.value
        else:
            a.flat[a.size // 2] = self.value
        return a.astype(self.dtype)

    def seqs(self, X):
        """A list of sequences with sequence 1 corrupted (the others ordinary)."""
        X = [np.asarray(x, dtype=self.dtype) for x in X]
        X[1] = self(X[1])
        return X

    def all_seqs(self, X):
        return [self(x) for x in X] if self.scaled else self.seqs(X)


EXTREMES = [
    Extreme("nan", np.nan, np.float64),
    Extreme("+inf", np.inf, np.float64),
    Extreme("-inf", -np.inf, np.float32),
    Extreme("1e200-entry", 1e200, np.float64),
    Extreme("-1e200-entry", -1e200, np.float64),
    Extreme("1e20-entry-f32", 1e20, np.float32),
    Extreme("1e200-scaled", 1e200, np.float64, scaled=True),
    Extreme("1e20-scaled-f32", 1e20, np.float32, scaled=True),
    Extreme("1e-200-scaled", 1e-200, np.float64, scaled=True),
]


# ---------------------------------------------------------------------------- data
RNG = np.random.default_rng(0)
SEQS = [RNG.normal(size=(t, 3)) for t in (5, 7, 6, 4, 8, 6)]
LABELS = np.array([0, 1, 0, 1, 0, 1])
X1, X2 = SEQS[0], SEQS[1]
COST = RNG.random((5, 6))
SETS = RNG.normal(size=(6, 4, 3))  # DeepEMD sets of local features
D6 = np.abs(RNG.normal(size=(6, 6))) + 0.1


def _bases(n=4, d=5, k=2, seed=1):
    q = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, d, d)))[0]
    return q[:, :, :k]


def _batch(X, e=None, dtype=None):
    from seqot.utils import check_sequences

    return check_sequences(X if e is None else e.seqs(X), device="cpu", dtype=dtype)


def _seq_pair(fn, **kw):
    """fn(x, y) with x corrupted."""
    return lambda e: fn(e(X1), X2.astype(e.dtype), **kw)


def _tap_predictor():
    from seqot.nn import AlignmentPredictor

    return AlignmentPredictor(channels=(2, 2)).double()


CALLS = {
    # solvers and costs
    "seqot.ot.sinkhorn": lambda e: _dispatch_sinkhorn(e),
    "seqot.ot.emd": lambda e: _dispatch_emd(e),
    "seqot.distances.sinkhorn": lambda e: _quiet(__import__("seqot").distances.sinkhorn,
                                                 e(X1), X2.astype(e.dtype)),
    "seqot.distances.emd": lambda e: __import__("seqot").distances.emd(
        e(X1), X2.astype(e.dtype)),
    "asot": lambda e: __import__("seqot").ot.asot(e(COST)),
    "asot_structure_product": lambda e: __import__("seqot").ot.asot_structure_product(
        e(COST / COST.sum(1, keepdims=True)), 0.04),
    "batched_alignment_dp": lambda e: __import__("seqot").ot.batched_alignment_dp(
        __import__("seqot").ot.frame_cost(torch.as_tensor(e(X1)),
                                          torch.as_tensor(X2.astype(e.dtype)))[None]),
    "frame_cost": lambda e: __import__("seqot").ot.frame_cost(
        torch.as_tensor(e(X1)), torch.as_tensor(X2.astype(e.dtype))),
    "pairwise_frame_cost": lambda e: __import__("seqot").ot.pairwise_frame_cost(
        torch.as_tensor(e(np.stack([X1[:4], X2[:4]]))),
        torch.as_tensor(np.stack([X2[:4]]).astype(e.dtype)), "euclidean"),
    # sequence distances
    "cmot": lambda e: __import__("seqot").distances.cmot(e(X1), X2.astype(e.dtype)),
    "dtw": lambda e: __import__("seqot").distances.dtw(e(X1), X2.astype(e.dtype)),
    "soft_dtw": lambda e: __import__("seqot").distances.soft_dtw(e(X1), X2.astype(e.dtype)),
    "otam": lambda e: __import__("seqot").distances.otam(e(X1), X2.astype(e.dtype)),
    "opw": lambda e: __import__("seqot").distances.opw(e(X1), X2.astype(e.dtype)),
    "tcot": lambda e: __import__("seqot").distances.tcot(e(X1), X2.astype(e.dtype)),
    "mean_euclidean": lambda e: __import__("seqot").distances.mean_euclidean(
        e(X1), X2.astype(e.dtype)),
    "deepemd": lambda e: __import__("seqot").distances.deepemd(e(X1), X2.astype(e.dtype)),
    "tap": lambda e: __import__("seqot").distances.tap(e(X1), X2.astype(e.dtype),
                                                       predictor=_tap_predictor()),
    "cross_reference_weights": lambda e: __import__("seqot").distances.cross_reference_weights(
        _batch(SEQS[:3], e), _batch(SEQS[3:], dtype=e.dtype)),
    "deepemd_problems": lambda e: __import__("seqot").distances.deepemd_problems(
        _batch(SEQS[:3], e), _batch(SEQS[3:], dtype=e.dtype)),
    "masked_mean": lambda e: __import__("seqot").distances.masked_mean(_batch(SEQS, e)),
    "segment_pool": lambda e: __import__("seqot").distances.segment_pool(_batch(SEQS, e), 2),
    "pairwise_sequence_distances": lambda e: __import__("seqot").distances
    .pairwise_sequence_distances(e.all_seqs(SEQS), SEQS[:2], metric="dtw"),
    # segmentation
    "asot_segment": lambda e: __import__("seqot").segmentation.asot_segment(e(COST)),
    "viterbi_segment": lambda e: __import__("seqot").segmentation.viterbi_segment(e(COST)),
    "aggregate_over_activities": lambda e: __import__("seqot").segmentation
    .aggregate_over_activities({"a": {"mof": float(e(np.array([0.5]))[0]), "n_frames": 10},
                                "b": {"mof": 0.25, "n_frames": 5}}),
    # metric learning
    "augment_sequence": lambda e: __import__("seqot").metric_learning.augment_sequence(
        e(SEQS[4]), np.random.default_rng(0)),
    "random_blur": lambda e: __import__("seqot").metric_learning.random_blur(
        e(SEQS[4]), np.random.default_rng(0)),
    "random_merge": lambda e: __import__("seqot").metric_learning.random_merge(
        e(SEQS[4]), np.random.default_rng(0)),
    "binomial_deviance_loss": lambda e: __import__("seqot").metric_learning
    .binomial_deviance_loss(torch.as_tensor(e(D6)), torch.as_tensor(LABELS)),
    "hard_mining_loss": lambda e: __import__("seqot").metric_learning.hard_mining_loss(
        torch.as_tensor(e(D6)), torch.as_tensor(LABELS)),
    "lifted_structure_loss": lambda e: __import__("seqot").metric_learning
    .lifted_structure_loss(torch.as_tensor(e(D6)), torch.as_tensor(LABELS)),
    # subspaces
    "acot_closed_form": lambda e: __import__("seqot").subspace.acot_closed_form(
        e(SEQS[4].T), SEQS[4][::-1].T.astype(e.dtype), 2),
    "acot_cost": lambda e: __import__("seqot").subspace.acot_cost(
        np.linalg.qr(RNG.normal(size=(3, 2)))[0], e(SEQS[4].T),
        SEQS[4][::-1].T.astype(e.dtype)),
    "acot_subspace": lambda e: _acot_subspace(e),
    "bases_to_flat": lambda e: __import__("seqot").subspace.bases_to_flat(e(_bases())),
    "flat_to_bases": lambda e: __import__("seqot").subspace.flat_to_bases(
        e(__import__("seqot").subspace.bases_to_flat(_bases())), n_components=2),
    "grassmann_kernel": lambda e: __import__("seqot").subspace.grassmann_kernel(
        e(_bases()), kernel="rbf", check_orthonormal=False),
    "random_negatives": lambda e: __import__("seqot").subspace.random_negatives(
        e(SEQS[4].T), np.random.default_rng(0)),
    # distances (the TAP building block)
    "tap_alignment": lambda e: _tap_alignment(e),
    # utils
    "check_sequences": lambda e: __import__("seqot").utils.check_sequences(e.all_seqs(SEQS)),
    "check_sequence": lambda e: __import__("seqot").utils.check_sequence(e(X1)),
    "check_frame_weights": lambda e: __import__("seqot").utils.check_frame_weights(
        [e(np.ones(len(x))) for x in SEQS[:2]], _batch(SEQS[:2])),
    "from_aeon": lambda e: __import__("seqot").utils.from_aeon([e(x.T) for x in SEQS]),
    "to_aeon": lambda e: __import__("seqot").utils.to_aeon(e.all_seqs(SEQS)),
    "to_numpy": lambda e: __import__("seqot").utils.to_numpy(torch.as_tensor(e(X1))),
    "validate_sequences": lambda e: __import__("seqot").utils.validate_sequences(
        _Dummy(), e.all_seqs(SEQS), reset=True),
    "validate_sequences_targets": lambda e: __import__("seqot").utils
    .validate_sequences_targets(_Dummy(), e.all_seqs(SEQS), LABELS),
    "evaluate_episodes": lambda e: _evaluate_episodes(e),
    # plotting: a figure of non-finite values is refused; huge ones are drawn
    "plot_alignment": lambda e: _plot("plot_alignment", e(COST)),
    "plot_kernel_matrix": lambda e: _plot("plot_kernel_matrix", e(D6)),
    "plot_transport_plan": lambda e: _plot("plot_transport_plan", e(COST)),
}


class _Dummy:
    pass


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # non-convergence is warned, not NaN
        return fn(*args, **kwargs)


def _dispatch_sinkhorn(e):
    from seqot.ot import sinkhorn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # non-convergence is warned, not NaN
        return sinkhorn(e(COST), reg=0.1)


def _dispatch_emd(e):
    from seqot.ot import emd

    return emd(e(COST))


def _acot_subspace(e):
    pytest.importorskip("pymanopt")
    from seqot.subspace import acot_subspace

    return acot_subspace(e(SEQS[4].T), SEQS[2].T.astype(e.dtype), 2, cg_max_iter=2)


def _tap_alignment(e):
    from seqot.distances import tap_alignment

    D = torch.as_tensor(e(COST))[None]
    Dt = torch.as_tensor(np.abs(np.subtract.outer(np.arange(5) / 5, np.arange(6) / 6)))[None]
    return tap_alignment(D, Dt.to(D.dtype), torch.ones(1, 5, dtype=torch.bool),
                         torch.ones(1, 6, dtype=torch.bool))


def _evaluate_episodes(e):
    from seqot.fewshot import EpisodeSampler, evaluate_episodes
    from seqot.neighbors import KNeighborsSequenceClassifier

    sampler = EpisodeSampler(n_way=2, n_shot=1, n_query=1, n_episodes=3, random_state=0)
    return evaluate_episodes(KNeighborsSequenceClassifier(metric="dtw", device="cpu"),
                             e.all_seqs(SEQS), LABELS, sampler)


def _plot(name, value):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqot import plotting

    before = set(plt.get_fignums())
    try:
        return getattr(plotting, name)(value)
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


# ---------------------------------------------------------------------------- estimators
def _estimators():
    from seqot.utils import all_estimators

    return {name: cls for name, cls in all_estimators()}


ESTIMATOR_PARAMS = {
    # extreme entries make the bases non-orthonormal: the kernel arithmetic itself is tested
    "GrassmannKernel": dict(kernel="rbf", check_orthonormal=False),
    "ACOTSubspacePooling": dict(n_components=2, noise="random", cg_max_iter=2),
    "ASOTSegmenter": dict(n_actions=2, max_epochs=1, random_state=0),
    "DeepEMDClassifier": dict(max_epochs=3),
    "EpisodicEncoder": dict(n_way=2, n_shot=1, n_query=1, max_epochs=2,
                            validation_fraction=None, random_state=0),
    "TAPMetricLearner": dict(max_epochs=1, hidden=(4,), channels=(2, 2), batch_size=6,
                             validation_fraction=None, random_state=0),
}


def _estimator(name):
    cls = _estimators()[name]
    params = dict(ESTIMATOR_PARAMS.get(name, {}))
    if "device" in inspect.signature(cls).parameters:
        params["device"] = "cpu"
    params = {k: v for k, v in params.items() if k in inspect.signature(cls).parameters}
    return cls(**params)


_OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform",
                   "score_samples", "pairwise_distances", "mean_average_precision", "score")


def _estimator_data(name):
    if name == "DeepEMDClassifier":
        return list(SETS), LABELS
    if name == "GrassmannKernel":
        return _bases(6), None
    return SEQS, LABELS


def _call_estimator(name, stage, e):
    est = _estimator(name)
    X, y = _estimator_data(name)
    corrupt = (lambda Z: e(Z)) if name == "GrassmannKernel" else e.all_seqs
    if stage == "fit":
        return est.fit(corrupt(X), y) if y is not None else est.fit(corrupt(X))
    est.fit(X, y) if y is not None else est.fit(X)
    outs = []
    for method in _OUTPUT_METHODS:
        if not hasattr(est, method):
            continue
        if method in ("score", "mean_average_precision"):
            if y is None or name == "ASOTSegmenter":
                continue
            outs.append(getattr(est, method)(corrupt(X), y))
        else:
            outs.append(getattr(est, method)(corrupt(X)))
    return outs


# ---------------------------------------------------------------------------- checks
def _non_finite(value, path="result", depth=0):
    """The path of the first non-finite float in a (nested) result, or None."""
    if depth > 6 or value is None or isinstance(value, (str, bytes, bool)):
        return None
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, (float, np.floating)):
        return None if np.isfinite(value) else path
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            return path
        if value.dtype == object:
            for i, v in enumerate(value.ravel()[:1000]):
                bad = _non_finite(v, f"{path}[{i}]", depth + 1)
                if bad:
                    return bad
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            bad = _non_finite(v, f"{path}[{i}]", depth + 1)
            if bad:
                return bad
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            bad = _non_finite(v, f"{path}[{k!r}]", depth + 1)
            if bad:
                return bad
        return None
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            bad = _non_finite(getattr(value, f.name), f"{path}.{f.name}", depth + 1)
            if bad:
                return bad
        return None
    if hasattr(value, "get_params"):  # a fitted estimator: its learned arrays
        for k, v in vars(value).items():
            if k.endswith("_") and not k.startswith("_"):
                bad = _non_finite(v, f"{path}.{k}", depth + 1)
                if bad:
                    return bad
    return None


def _assert_contract(call, e, what, propagates=False):
    if propagates and not e.finite:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                call()
            except ValueError:
                pass
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings may accompany a finite answer
        try:
            out = call()
        except ValueError as exc:
            msg = str(exc)
            assert msg, f"{what}: an empty ValueError"
            return
        except TypeError as exc:
            if not e.finite:
                pytest.fail(f"{what}: {e.name} input raised TypeError, not ValueError: {exc}")
            raise
    assert e.finite, f"{what}: {e.name} input was accepted (returned {type(out).__name__})"
    bad = _non_finite(out)
    assert bad is None, f"{what}: finite {e.name} input gave a non-finite {bad}"


def test_every_public_callable_is_covered():
    estimators = set(_estimators())
    missing = [name for name, obj in public_callables()
               if name not in CALLS and name not in NO_NUMERIC_INPUT and name not in estimators]
    assert not missing, f"public callables without an extreme-input case: {missing}"
    names = {name for name, _ in public_callables()}
    stale = sorted((set(CALLS) | set(NO_NUMERIC_INPUT) | set(PROPAGATES_NON_FINITE)) - names)
    assert not stale, f"cases for callables that are gone: {stale}"
    assert set(PROPAGATES_NON_FINITE) <= set(CALLS)


def _ids(e):
    return e.name


ORDINARY = [Extreme("ordinary", 1.0, np.float64, scaled=True),
            Extreme("ordinary-f32", 1.0, np.float32, scaled=True)]


@pytest.mark.parametrize("e", ORDINARY, ids=_ids)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_case_runs_on_ordinary_data(name, e):
    """The sweep cannot pass vacuously: each case gives a finite result on ordinary data, so
    a ValueError under an extreme comes from the extreme, not from a malformed call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = CALLS[name](e)
    assert _non_finite(out) is None


@pytest.mark.parametrize("e", ORDINARY, ids=_ids)
@pytest.mark.parametrize("stage", ["fit", "predict"])
@pytest.mark.parametrize("name", ["ACOTSubspacePooling", "ASOTSegmenter", "CMOTNearestCentroid",
                                  "DeepEMDClassifier", "EpisodicEncoder", "GrassmannKernel",
                                  "KNeighborsSequenceClassifier", "MeanPooling",
                                  "PCASubspacePooling", "RankPooling",
                                  "SequenceDistanceTransformer", "SequenceNearestCentroid",
                                  "TAPMetricLearner"])
def test_every_estimator_case_runs_on_ordinary_data(name, stage, e):
    if name == "ACOTSubspacePooling":
        pytest.importorskip("pymanopt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _call_estimator(name, stage, e)
    assert _non_finite(out) is None


@pytest.mark.parametrize("e", EXTREMES, ids=_ids)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_function_never_returns_nan(name, e):
    _assert_contract(lambda: CALLS[name](e), e, name, name in PROPAGATES_NON_FINITE)


ESTIMATOR_NAMES = sorted({"ACOTSubspacePooling", "ASOTSegmenter", "CMOTNearestCentroid",
                          "DeepEMDClassifier", "EpisodicEncoder", "GrassmannKernel",
                          "KNeighborsSequenceClassifier", "MeanPooling", "PCASubspacePooling",
                          "RankPooling", "SequenceDistanceTransformer",
                          "SequenceNearestCentroid", "TAPMetricLearner"})


def test_estimator_list_is_every_estimator():
    assert set(ESTIMATOR_NAMES) == set(_estimators())


@pytest.mark.parametrize("e", EXTREMES, ids=_ids)
@pytest.mark.parametrize("stage", ["fit", "predict"])
@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_estimator_never_returns_nan(name, stage, e):
    if name == "ACOTSubspacePooling":
        pytest.importorskip("pymanopt")
    _assert_contract(lambda: _call_estimator(name, stage, e), e, f"{name}.{stage}")


def test_the_sweep_counts():
    """How many public callables the sweep calls with data (reported in the closing note):
    functions in CALLS and every estimator, out of all public callables."""
    names = [n for n, _ in public_callables()]
    called = [n for n in names if n in CALLS or n in _estimators()]
    assert len(called) == len(CALLS) + len(_estimators())
    assert len(called) + len([n for n in names if n in NO_NUMERIC_INPUT]) == len(names)


def test_half_precision_costs_are_not_refused():
    """The overflow guard of the Euclidean costs leaves float16 to torch's own semantics
    (its limit with the sums' headroom would refuse every realistic half tensor)."""
    from seqot.ot import frame_cost, pairwise_frame_cost

    X, Y = torch.rand(2, 5, 8).half(), torch.rand(3, 6, 8).half()
    for metric in ("sqeuclidean", "euclidean"):
        assert torch.isfinite(pairwise_frame_cost(X, Y, metric)).all()
        assert torch.isfinite(frame_cost(X[0], Y[0], metric)).all()


def test_cross_reference_weights_of_diverged_features_do_not_crash():
    """Infinite features in a hand-built batch (no validation) gave an OverflowError in the
    power-of-two scaling; they now stay a torch result."""
    from seqot.distances import cross_reference_weights
    from seqot.utils import SequenceBatch

    data = torch.ones(2, 3, 2, dtype=torch.float64)
    data[0, 0, 0] = float("inf")
    batch = SequenceBatch(data, torch.tensor([3, 3]))
    a, b = cross_reference_weights(batch, batch)
    assert a.shape == (2, 2, 3) and b.shape == (2, 2, 3)
