"""Torch helpers shared by every estimator: devices, local generators, conversions."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = [
    "resolve_device",
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


def seed_from_random_state(random_state) -> int:
    """Draw a 63-bit seed from ``random_state`` without touching global RNG state.

    ``None`` draws from fresh OS entropy (a new ``RandomState``), an int is used
    deterministically, a ``RandomState``/``Generator`` instance is advanced.
    """
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> 1)
    if isinstance(random_state, numbers.Integral):
        # An int maps to a fixed seed so that results repeat bit for bit.
        return int(np.random.SeedSequence(int(random_state)).generate_state(1, np.uint64)[0] >> 1)
    rs = check_random_state(random_state)
    return int(rs.randint(0, 2**31 - 1)) * (2**31) + int(rs.randint(0, 2**31 - 1))


def torch_generator(random_state, device="cpu") -> torch.Generator:
    """A local :class:`torch.Generator` seeded from ``random_state`` (never the global one)."""
    gen = torch.Generator(device=resolve_device(device))
    gen.manual_seed(seed_from_random_state(random_state))
    return gen


def is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def to_numpy(x):
    """Detach, move to the CPU and convert to numpy; numpy input is returned as is."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x
