"""The one training loop every torch estimator of seqot uses.

An estimator supplies ``step(i) -> loss`` (a scalar tensor: one episode, one minibatch, one
critic/generator round...) and the parameters to optimise; the loop owns the optimiser, the
learning-rate schedule, gradient clipping, the progress bar, the NaN guard, the loss history,
and validation-based early stopping that restores the best parameters.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from ..utils._param_validation import (
    POSITIVE,
    POSITIVE_INT,
    VERBOSE,
    StrOptions,
    validate_params,
)

__all__ = ["TrainingHistory", "make_optimizer", "train"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


@dataclass
class TrainingHistory:
    """What happened during :func:`train`.

    Attributes
    ----------
    loss : list of float
        Training loss of every step.
    validation : list of (step, float)
        Validation scores (lower is better) where computed.
    best_step : int or None
        Step whose parameters were kept (early stopping), else None.
    n_steps : int
        Steps run (calls of ``step``; at most ``max_epochs``).
    stopped_early : bool
    """

    loss: list = field(default_factory=list)
    validation: list = field(default_factory=list)
    best_step: int | None = None
    n_steps: int = 0
    stopped_early: bool = False


#: An optimiser by name, or a torch.optim.Optimizer class or factory (functools.partial).
_OPTIMIZER = [StrOptions(set(_OPTIMIZERS)), callable]

#: The constraints of :func:`make_optimizer`'s scalar arguments.
MAKE_OPTIMIZER_CONSTRAINTS = {"params": "no_validation", "optimizer": _OPTIMIZER, "lr": POSITIVE}

#: The constraints of :func:`train`'s arguments (``modules`` is checked by hand: a module or
#: a non-empty list of them).
TRAIN_CONSTRAINTS = {
    "step": [callable],
    "modules": "no_validation",
    "max_epochs": POSITIVE_INT,
    "optimizer": _OPTIMIZER,
    "lr": POSITIVE,
    "optimizer_params": [Mapping, None],
    "lr_step_size": [*POSITIVE_INT, None],
    "lr_gamma": POSITIVE,
    "clip_grad_norm": [*POSITIVE, None],
    "validate": [callable, None],
    "validate_every": [*POSITIVE_INT, None],
    "patience": [*POSITIVE_INT, None],
    "verbose": VERBOSE,
    "desc": [str],
}


@validate_params(MAKE_OPTIMIZER_CONSTRAINTS, prefer_skip_nested_validation=True)
def make_optimizer(params, optimizer="adam", lr=1e-3, **kwargs):
    """An optimiser by name (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``) or class.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to optimise (at least one).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or callable, default="adam"
        A name, a ``torch.optim.Optimizer`` class or a factory (``functools.partial`` of one).
    lr : float, default=1e-3
        Finite and > 0.
    **kwargs
        Extra optimiser arguments (momentum, weight_decay, ...).
    """
    params = list(params)
    if not params:
        raise ValueError("there are no parameters to optimise (the modules have no trainable "
                         "parameters).")
    if isinstance(optimizer, str):
        optimizer = _OPTIMIZERS[optimizer]
    try:
        return optimizer(params, lr=float(lr), **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"invalid optimizer arguments for "
                        f"{getattr(optimizer, '__name__', repr(optimizer))} "
                        f"({kwargs!r}): {exc}") from None


@validate_params(TRAIN_CONSTRAINTS, prefer_skip_nested_validation=True)
def train(
    step,
    modules,
    *,
    max_epochs,
    optimizer="adam",
    lr=1e-3,
    optimizer_params=None,
    lr_step_size=None,
    lr_gamma=0.1,
    clip_grad_norm=None,
    validate=None,
    validate_every=None,
    patience=None,
    verbose=False,
    desc="training",
):
    """Optimise ``modules`` by calling ``step`` up to ``max_epochs`` times.

    One epoch of this loop is one call of ``step`` (one optimiser update); an estimator that
    trains over minibatches passes ``max_epochs = its epochs * batches per epoch`` and counts
    its own epochs in ``step``.

    Parameters
    ----------
    step : callable ``step(i) -> Tensor``
        Computes the loss of step ``i`` (the loop calls ``backward`` and the optimiser). It may
        return ``None`` to skip the update (e.g. a step that did its own inner updates).
    modules : torch.nn.Module or list of them
        Whose parameters are optimised (and snapshotted for early stopping).
    max_epochs : int
        >= 1; the number of calls of ``step`` unless early stopping ends the loop first.
    optimizer : str or torch.optim.Optimizer class, default="adam"
    lr : float, default=1e-3
        Finite and > 0.
    optimizer_params : dict, optional
        Extra optimiser arguments (momentum, weight_decay, ...).
    lr_step_size, lr_gamma : int, float
        Multiply the learning rate by ``lr_gamma`` (finite, > 0) every ``lr_step_size`` steps
        (an int >= 1, or None for a constant rate).
    clip_grad_norm : float, optional
        Finite and > 0.
    validate : callable ``validate() -> float``, optional
        A score where lower is better (validation loss or error), evaluated without gradients
        every ``validate_every`` steps (an int >= 1; default ``max_epochs // 20``); a NaN score
        never counts as an improvement.
    patience : int, optional
        >= 1.
        Stop after this many validations without improvement; the best parameters are restored.
    verbose : bool
        Show a tqdm progress bar with the running loss.
    desc : str
        Label of the progress bar.

    Returns
    -------
    TrainingHistory

    Raises
    ------
    ValueError
        If the loss or the parameters become NaN or infinite (with the step number, naming
        ``lr``), e.g. from too large a learning rate, or if a parameter is invalid.
    """
    max_epochs = int(max_epochs)
    mods = list(modules) if isinstance(modules, (list, tuple)) else [modules]
    bad = [m for m in mods if not isinstance(m, torch.nn.Module)]
    if not mods or bad:
        raise TypeError(f"modules must be a torch.nn.Module or a non-empty list of them; got "
                        f"{modules!r}.")
    params = [p for m in mods for p in m.parameters() if p.requires_grad]
    opt = make_optimizer(params, optimizer, lr, **(optimizer_params or {}))
    sched = (torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step_size, gamma=lr_gamma)
             if lr_step_size else None)
    history = TrainingHistory()
    every = validate_every or max(1, max_epochs // 20)
    best, best_state, bad = math.inf, None, 0
    for m in mods:
        m.train()
    steps = range(max_epochs)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        steps = bar = tqdm(steps, desc=desc, leave=False)
    try:
        for i in steps:
            opt.zero_grad(set_to_none=True)
            loss = step(i)
            if loss is not None:
                if not (isinstance(loss, torch.Tensor) and loss.numel() == 1
                        and loss.requires_grad):
                    raise ValueError(
                        f"step({i}) must return None or a one-element loss tensor that requires "
                        f"grad (computed from the modules' parameters); got {loss!r}."
                    )
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise ValueError(
                        f"the training loss became {value} at step {i}; lower the learning rate "
                        f"lr (lr={lr}) or check the input scale."
                    )
                loss.backward()
                if clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
                try:
                    opt.step()
                except RuntimeError as exc:  # torch: "value cannot be converted ... overflow"
                    if "overflow" not in str(exc):
                        raise
                    raise ValueError(
                        f"the optimiser update of step {i} overflows the parameters' dtype; "
                        f"lower the learning rate lr (lr={lr})."
                    ) from None
                history.loss.append(value)
                if bar is not None:
                    bar.set_postfix(loss=f"{value:.4g}")
            if sched is not None:
                sched.step()
            history.n_steps = i + 1
            if validate is not None and ((i + 1) % every == 0 or i + 1 == max_epochs):
                for m in mods:
                    m.eval()
                with torch.no_grad():
                    score = validate()
                if isinstance(score, (torch.Tensor, np.ndarray, np.generic)) and int(
                        np.prod(score.shape)) == 1:
                    score = score.item()
                if isinstance(score, bool) or not isinstance(score, numbers.Real):
                    raise ValueError(f"validate() must return a number (lower is better); got "
                                     f"{score!r} after step {i + 1}.")
                score = float(score)
                for m in mods:
                    m.train()
                history.validation.append((i + 1, score))
                if score < best:
                    best, bad, history.best_step = score, 0, i + 1
                    best_state = [copy.deepcopy(m.state_dict()) for m in mods]
                else:
                    bad += 1
                    if patience is not None and bad >= patience:
                        history.stopped_early = True
                        break
    finally:
        if bar is not None:
            bar.close()
        for m in mods:
            m.eval()
    if best_state is not None:
        for m, state in zip(mods, best_state):
            m.load_state_dict(state)
    # the last update can overflow the parameters while every loss it saw was finite (one
    # step at lr=1e300): a model that can only give NaN is an error, not a result
    with torch.no_grad():
        finite = all(bool(torch.isfinite(p).all()) for p in params)
    if not finite:
        raise ValueError(f"the parameters became NaN or infinite after {history.n_steps} "
                         f"step(s); lower the learning rate lr (lr={lr}) or check the input "
                         "scale.")
    return history
