"""Programs written as PyTorch users write TorchScript, for tests/jit/test_script_differential.py.

The module is loaded twice from this one source: once with `torch` bound to PyTorch and once
to ember (the loader binds `_LIB`), so torch.jit.script and ember.jit.script compile the same
text. It is not imported on its own.
"""
torch = _LIB  # noqa: F821 - bound by the loader
nn = torch.nn
F = torch.nn.functional
Tensor = torch.Tensor


def return_under_tensor_condition(x):
    if x.sum() > 0:
        return x * 2
    return x - 1


def none_or_tensor_by_tensor(x):
    if x.sum() > 0:
        return None
    return x


def rows_by_tensor(x):
    if x.sum() > 0:
        return x[:1]
    return x


def clamp_to_own_range(x):
    lo = float(x.min())
    hi = float(x.max())
    return x.clamp(lo, (lo + hi) / 2) * x.sum().item(), int(x.argmax())
