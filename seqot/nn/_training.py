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

from ..utils._validation import check_int, check_positive

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
        Steps run.
    stopped_early : bool
    """

    loss: list = field(default_factory=list)
    validation: list = field(default_factory=list)
    best_step: int | None = None
    n_steps: int = 0
    stopped_early: bool = False


def make_optimizer(params, optimizer="adam", lr=1e-3, **kwargs):
    """An optimiser by name (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``) or class."""
    params = list(params)
    if not params:
        raise ValueError("there are no parameters to optimise (the modules have no trainable "
                         "parameters).")
    if isinstance(optimizer, str):
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}; got {optimizer!r}.")
        optimizer = _OPTIMIZERS[optimizer]
    elif not callable(optimizer):
        raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, a "
                         f"torch.optim.Optimizer class or a factory (e.g. functools.partial of "
                         f"one); got {optimizer!r}.")
    if isinstance(lr, bool) or not (isinstance(lr, numbers.Real) and math.isfinite(lr)
                                    and lr > 0):
        raise ValueError(f"lr must be a finite number > 0; got {lr!r}.")
    try:
        return optimizer(params, lr=float(lr), **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"invalid optimizer arguments for "
                        f"{getattr(optimizer, '__name__', repr(optimizer))} "
                        f"({kwargs!r}): {exc}") from None


def train(
    step,
    modules,
    *,
    n_steps,
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
    """Optimise ``modules`` by calling ``step`` ``n_steps`` times.

    Parameters
    ----------
    step : callable ``step(i) -> Tensor``
        Computes the loss of step ``i`` (the loop calls ``backward`` and the optimiser). It may
        return ``None`` to skip the update (e.g. a step that did its own inner updates).
    modules : torch.nn.Module or list of them
        Whose parameters are optimised (and snapshotted for early stopping).
    n_steps : int
        >= 1.
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
        every ``validate_every`` steps (an int >= 1; default ``n_steps // 20``); a NaN score
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
        If the loss becomes NaN or infinite (with the step number), e.g. from too large ``lr``,
        or if a parameter is invalid.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ValueError(f"the number of training steps n_steps must be a positive integer; "
                         f"got {n_steps!r}.")
    n_steps = int(n_steps)
    if not callable(step):
        raise TypeError(f"step must be a callable step(i) -> loss; got {step!r}.")
    mods = list(modules) if isinstance(modules, (list, tuple)) else [modules]
    bad = [m for m in mods if not isinstance(m, torch.nn.Module)]
    if not mods or bad:
        raise TypeError(f"modules must be a torch.nn.Module or a non-empty list of them; got "
                        f"{modules!r}.")
    if optimizer_params is not None and not isinstance(optimizer_params, Mapping):
        raise ValueError(f"optimizer_params must be a dict or None; got {optimizer_params!r}.")
    check_int(lr_step_size, "lr_step_size", 1, allow_none=True)
    check_positive(lr_gamma, "lr_gamma")
    check_positive(clip_grad_norm, "clip_grad_norm", allow_none=True)
    if validate is not None and not callable(validate):
        raise TypeError(f"validate must be None or a callable validate() -> float; got "
                        f"{validate!r}.")
    check_int(validate_every, "validate_every", 1, allow_none=True)
    check_int(patience, "patience", 1, allow_none=True)
    params = [p for m in mods for p in m.parameters() if p.requires_grad]
    opt = make_optimizer(params, optimizer, lr, **(optimizer_params or {}))
    sched = (torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step_size, gamma=lr_gamma)
             if lr_step_size else None)
    history = TrainingHistory()
    every = validate_every or max(1, n_steps // 20)
    best, best_state, bad = math.inf, None, 0
    for m in mods:
        m.train()
    steps = range(n_steps)
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
                        f"(lr={lr}) or check the input scale."
                    )
                loss.backward()
                if clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
                opt.step()
                history.loss.append(value)
                if bar is not None:
                    bar.set_postfix(loss=f"{value:.4g}")
            if sched is not None:
                sched.step()
            history.n_steps = i + 1
            if validate is not None and ((i + 1) % every == 0 or i + 1 == n_steps):
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
    return history
