"""TorchScript as users write it (annotated functions, scripted helpers, exported and ignored
methods, constants, refinement of Optional, loops over module containers, raises, string
formatting, a beam search, a CRF's viterbi decode, a data-dependent depth), scripted, saved and
loaded back with torch and with ember."""
from tests.scripts._harness import close, run_both

FUNCTIONS = '''
from typing import Dict, List, Optional, Tuple
import torch
from torch import Tensor


@torch.jit.script
def weighted_sum(xs: List[Tensor], weights: List[float]) -> Tensor:
    total = torch.zeros_like(xs[0])
    for x, w in zip(xs, weights):
        total = total + x * w
    return total


@torch.jit.script
def by_name(d: Dict[str, Tensor], keys: List[str]) -> Tuple[Tensor, int]:
    acc = torch.zeros(3)
    n = 0
    for k in keys:
        if k in d:
            acc = acc + d[k]
            n += 1
    return acc, n


@torch.jit.script
def masked_mean(x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    if mask is None:
        return x.mean()
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


@torch.jit.script
def describe(x: Tensor, k: int, scale: float, loud: bool) -> str:
    s = "shape={} k={} scale={}".format(list(x.shape), k, scale)
    if loud:
        s = "LOUD " + s
    return s + f" dim={x.dim()}"


@torch.jit.script
def squares(n: int) -> List[int]:
    return [i * i for i in range(n)]


@torch.jit.script
def first_positive(xs: List[Tensor]) -> int:
    for i, x in enumerate(xs):
        if bool((x > 0).all()):
            return i
    return -1


@torch.jit.script
def annotated(x: Tensor) -> List[Tensor]:
    out = torch.jit.annotate(List[Tensor], [])
    for i in range(x.size(0)):
        out.append(x[i] * i)
    return out


@torch.jit.script
def checked(x: Tensor) -> Tensor:
    if x.dim() != 2:
        raise ValueError("expected a 2-D input, got " + str(x.dim()))
    return x.t()


@torch.jit.script
def scripting_flag() -> bool:
    return torch.jit.is_scripting()


a = torch.tensor([0.5, -1.5, 2.0])
b = torch.tensor([-0.25, 0.75, 1.0])
c = torch.tensor([3.0, -2.0, 0.125])
out["weighted"] = weighted_sum([a, b, c], [0.5, 1.0, -2.0]).numpy()
acc, n = by_name({"a": a, "b": b}, ["a", "z", "b"])
out["by_name"] = (acc.numpy(), n)
out["mean_none"] = masked_mean(a).item()
out["mean_mask"] = masked_mean(a, a > 0).item()
out["describe"] = describe(torch.zeros(2, 3), 4, 0.125, True)
out["describe_quiet"] = describe(torch.zeros(5), 1, 2.0, False)
out["squares"] = squares(7)
out["first_positive"] = (first_positive([a - 10, a.abs() + 1, b]), first_positive([a - 10]))
out["annotated"] = [t.numpy() for t in annotated(torch.ones(3, 2))]
out["checked"] = checked(torch.ones(2, 3)).shape
try:
    checked(torch.ones(2))
except Exception as e:
    out["raise_type"] = isinstance(e, torch.jit.Error)
    out["raise_msg"] = "expected a 2-D input, got 1" in str(e)
out["is_scripting"] = (scripting_flag(), torch.jit.is_scripting())
for f in (weighted_sum, by_name, masked_mean, describe, checked):
    out["printable_" + f.name] = len(f.code) > 0 and len(str(f.graph)) > 0
'''


def test_annotated_functions(tmp_path):
    expect, got = run_both(FUNCTIONS, tmp_path, as_module=True)
    assert got.keys() == expect.keys()
    for key in expect:
        if key in ("weighted", "mean_none", "mean_mask"):
            close(expect[key], got[key])
        elif key == "by_name":
            close(expect[key][0], got[key][0])
            assert expect[key][1] == got[key][1]
        elif key == "annotated":
            for e, g in zip(expect[key], got[key]):
                close(e, g)
        elif key == "checked":
            assert tuple(got[key]) == tuple(expect[key])
        else:
            assert got[key] == expect[key], key
