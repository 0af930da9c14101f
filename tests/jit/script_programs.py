"""Programs written as PyTorch users write TorchScript, for tests/jit/test_script_differential.py.

The module is loaded twice from this one source: once with `torch` bound to PyTorch and once
to ember (the loader binds `_LIB`), so torch.jit.script and ember.jit.script compile the same
text. It is not imported on its own.
"""
from typing import Dict, List

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


def raise_after_work(x):
    if x.sum() > 100:
        y = x * 2
        raise RuntimeError("too big: " + str(y.shape[0]))
    return x + 1


def _vector(x):
    if x.dim() > 1:
        raise ValueError("want a vector")
    return x


def raise_in_helper(x):
    if x.sum() > 0:
        y = _vector(x)
        return y
    return -x


def raise_in_while(x):
    n = 0
    while x.sum() < 10:
        x = x + 1
        n += 1
        if n > 5:
            x = x * 2
            raise RuntimeError("no convergence")
    return x, n


class UnusedUnderFlag(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    @torch.jit.unused
    def debug(self, x):
        return x * 100

    def forward(self, x, use: bool = False):
        if use:
            return self.debug(x)
        return self.lin(x)


def fill_positive_rows(x):
    out = torch.zeros_like(x)
    for i in range(x.size(0)):
        if x[i, 0] > 0:
            out[i] = x[i] * 2
    return out


def write_in_both_branches(x):
    out = torch.zeros_like(x)
    alias = out
    if x.sum() > 0:
        out[0] = 1.0
    else:
        out.add_(2)
    return out, alias + 1


def signed_row_sum(x):
    acc = torch.zeros(x.size(1))
    for i in range(x.size(0)):
        if x[i].sum() > 0:
            acc += x[i]
        else:
            acc.sub_(x[i])
    return acc


class CountsPositive(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros(1))

    def forward(self, x):
        if x.sum() > 0:
            self.count.add_(1)
        return x * self.count


def sizes_and_count(x):
    n = 0
    for i in range(x.size(0)):
        if x[i].sum() > 0:
            n += 1
    return x.size(), x.shape[1:], n


def add_into_items(x):
    y = x.clone()
    y[:, 1] += 1
    y[0] *= 2
    xs = [x, x * 2]
    xs[1] += x
    d: Dict[str, Tensor] = {"a": x + 1}
    d["a"] -= 1
    counts = [0, 1]
    counts[1] += 5
    return y, xs, d, counts[1]


def maybe_none(x, skip: bool):
    if skip:
        return None
    return x * 2


def scaled_copies(x, n: int):
    outs: List[Tensor] = []
    for i in range(n + 1):
        outs.append(x * i)
    return torch.stack(outs).sum(0), len(outs)


def halvings(x, n: int):
    outs: List[Tensor] = []
    i = 0
    while i < n:
        x = x / 2
        outs.append(x)
        i += 1
    return outs


def describe(x, k: int, scale: float):
    total = x.sum().item()
    return (f"sum={total} k={k} scale={scale} rows={x.size(0)} shape={x.shape}",
            "k=%d scale=%s rows=%d" % (k, scale, int(x.abs().sum())),
            "{} and {}".format(k * 2, float(x.max())) + " / " + str(scale))


def check_total(x, limit: float):
    total = x.abs().sum()
    if total > limit:
        raise ValueError(f"total {float(total)} above {limit} for {x.shape}")
    assert bool(total > 0), "total {} is not positive".format(int(total))
    return x * 2
