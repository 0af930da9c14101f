"""torch.backends.mps: ember has no Apple Metal backend."""


def is_available() -> bool:
    """False: ember runs on CPUs (NumPy) and NVIDIA GPUs (CuPy) only."""
    return False


def is_built() -> bool:
    """False: no MPS support is built into ember."""
    return False
