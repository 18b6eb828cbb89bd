"""Torch helpers shared by every estimator: devices, local generators, conversions."""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = [
    "check_random_state",
    "init_parameters_",
    "load_module_state",
    "module_state",
    "resolve_device",
    "spawn_random_states",
    "torch_generator",
    "seed_from_random_state",
    "to_numpy",
    "is_torch",
]


def resolve_device(device=None) -> torch.device:
    """Turn a user's ``device`` argument into a :class:`torch.device`.

    Parameters
    ----------
    device : None, "auto", str or torch.device
        ``None`` and ``"auto"`` pick CUDA when it is available and the CPU otherwise.
        A string such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"`` is used as given.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the string names no device, or names CUDA on a machine without it.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
            ) from exc
    else:
        raise ValueError(f"device must be None, 'auto', a string or a torch.device; got {device!r}.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for CUDA, but torch sees no CUDA device here; "
            "use device='auto' or 'cpu'."
        )
    if dev.type == "meta":
        raise ValueError(f"device={device!r} holds no data (shapes only); use 'auto', 'cpu' "
                         "or 'cuda'.")
    if dev.type != "cpu":
        # fail here, naming the device, rather than deep inside a fit (no such backend in this
        # torch build, CUDA index out of range, ...)
        try:
            torch.empty(1, device=dev)
        except (RuntimeError, AssertionError, NotImplementedError) as exc:
            raise ValueError(f"device={device!r} is not usable here: "
                             f"{' '.join(str(exc).split()) or type(exc).__name__}") from None
    return dev


def check_random_state(random_state, name="random_state") -> np.random.Generator:
    """The one converter of a user's ``random_state``: a local numpy Generator.

    The global RNG is never touched.

    Parameters
    ----------
    random_state : None, int >= 0, sequence of ints >= 0, numpy Generator, SeedSequence, \
BitGenerator or RandomState
        A Generator is used (and advanced) as is; ints, int sequences, SeedSequences and
        BitGenerators seed a Generator as ``np.random.default_rng`` does; a RandomState is
        advanced by one draw that seeds a fresh Generator; None draws fresh OS entropy.
    name : str, default="random_state"
        The argument's name, used in the error message.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**31 - 1)))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)):
        if random_state < 0:
            raise ValueError(f"{name} must be a non-negative int; got {random_state!r}.")
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, (list, tuple, np.ndarray)) and len(random_state) and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
            for v in np.asarray(random_state, dtype=object).ravel()):
        try:  # exactly what default_rng does with it (arbitrarily large ints included)
            return np.random.default_rng(random_state)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{name}={random_state!r} is not a valid seed: {exc}") from None
    raise ValueError(
        f"{name} must be None, a non-negative int (or a sequence of them), a numpy Generator, "
        f"SeedSequence, BitGenerator or RandomState; got {random_state!r}."
    )


def seed_from_random_state(random_state) -> int:
    """A 63-bit seed from ``random_state`` (see :func:`check_random_state`).

    An int and a SeedSequence map to a fixed seed (``SeedSequence(n).generate_state``), so
    results repeat bit for bit; a Generator or RandomState is advanced; None draws fresh OS
    entropy.
    """
    if random_state is None:
        random_state = np.random.SeedSequence()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int; got {random_state!r}.")
        random_state = np.random.SeedSequence(int(random_state))
    if isinstance(random_state, np.random.SeedSequence):
        return int(random_state.generate_state(1, np.uint64)[0] >> 1)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1)) * (2**31) + int(
            random_state.randint(0, 2**31 - 1))
    return int(check_random_state(random_state).integers(0, 2**63 - 1))


def spawn_random_states(random_state, n):
    """``n`` independent SeedSequences drawn from ``random_state``: one stream per use
    (data split, batches, augmentation, initialisation), so that changing one use leaves the
    others' draws unchanged."""
    return np.random.SeedSequence(seed_from_random_state(random_state)).spawn(int(n))


def torch_generator(random_state, device="cpu") -> torch.Generator:
    """A local :class:`torch.Generator` seeded from ``random_state`` (never the global one).

    ``random_state`` is anything :func:`seed_from_random_state` takes, a SeedSequence from
    :func:`spawn_random_states` included.
    """
    gen = torch.Generator(device=resolve_device(device))
    gen.manual_seed(seed_from_random_state(random_state))
    return gen


def init_parameters_(module, generator, *, skip=()):
    r"""PyTorch's default initialisation of ``module``'s linear and convolution layers, drawn
    from a local ``generator`` (torch's global RNG is never used).

    Weights and biases are uniform in :math:`\pm 1/\sqrt{\text{fan-in}}`, drawn in float64
    (weight, then bias, layer by layer in ``module.modules()`` order) and cast to the layer's
    dtype; batch norms are reset to the identity. Layers in ``skip`` are set to zero and draw
    nothing. Build the module on the meta device first (``with torch.device("meta")``,
    then ``to_empty``) so that torch's own initialisation draws nothing either.
    """
    from torch import nn

    skip_ids = {id(m) for m in skip}
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                params = [p for p in (m.weight, m.bias) if p is not None]
                if id(m) in skip_ids:
                    for p in params:
                        p.zero_()
                    continue
                bound = 1.0 / np.sqrt(m.weight[0].numel())
                for p in params:
                    u = torch.rand(p.shape, generator=generator, dtype=torch.float64,
                                   device=generator.device)
                    p.copy_(((2.0 * u - 1.0) * bound).to(p.dtype))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                m.reset_parameters()
    return module


def module_state(module) -> dict:
    """A fitted module's ``state_dict`` as CPU numpy arrays (pickles anywhere, loads on CPU)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_module_state(module, state):
    """Load a :func:`module_state` dict into ``module`` (on its device and dtype)."""
    module.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return module


def is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def to_numpy(x):
    """Detach, move to the CPU and convert to numpy; numpy input is returned as is."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x
