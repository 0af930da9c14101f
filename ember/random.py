"""ember.random: torch.random's seeding functions and `fork_rng`, over the generators of
ember._ops.random (one default CPU generator, one per GPU made on first use).

    >>> import ember
    >>> _ = ember.random.manual_seed(0)
    >>> with ember.random.fork_rng():
    ...     a = ember.rand(2)
    >>> bool((ember.rand(2) == a).all())
    True
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterable, Iterator

from ._device import to_device
from ._ops.random import (Generator, default_generator, default_generator_for, get_rng_state,
                          initial_seed, manual_seed, seed, set_rng_state)

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "fork_rng"]


def _device_count(device_type: str) -> int:
    """How many devices of `device_type` ember can draw on (GPUs through CuPy only)."""
    if device_type != "cuda":
        return 0
    from . import cuda
    return cuda.device_count()


def _fork_devices(devices, device_type: str, caller: str, devices_kw: str) -> list:
    """The device indices whose generators fork_rng saves: all visible ones by default, with
    torch's warning when that is more than one."""
    count = _device_count(device_type)
    if devices is None:
        if count > 1:
            warnings.warn(f"{device_type.upper()} reports that you have {count} available "
                          f"devices, and you have used {caller} without explicitly specifying "
                          f"which devices are being used. For safety, we initialize *every* "
                          f"{device_type.upper()} device by default, which can be quite slow. "
                          f"To silence this warning, pass {devices_kw}=list(range({count})) "
                          f"or the devices you use.", stacklevel=3)
        return list(range(count))
    indices = [to_device(d).index if not isinstance(d, int) else d for d in devices]
    if indices and count == 0:
        raise AssertionError(f"fork_rng(): devices {indices} were given but ember sees no "
                             f"{device_type} device (CuPy with a GPU is needed for 'cuda')")
    return [i or 0 for i in indices]


@contextlib.contextmanager
def fork_rng(devices: Iterable | None = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str | None = None) -> Iterator[None]:
    """Run the block with forked random streams: on exit the CPU generator and those of
    `devices` (default: every visible `device_type` device) get their states back.

    Args:
        devices: device indices whose generators to restore (CPU's always is).
        enabled: if False, the block runs with no forking.
        device_type: the accelerator type of `devices` (default 'cuda', ember's only one).
    """
    if not enabled:
        yield
        return
    device_type = device_type or "cuda"
    indices = _fork_devices(devices, device_type, _caller, _devices_kw)
    generators = [default_generator] + [default_generator_for(f"{device_type}:{i}")
                                        for i in indices]
    states = [g.get_state() for g in generators]
    try:
        yield
    finally:
        for g, state in zip(generators, states):
            g.set_state(state)
