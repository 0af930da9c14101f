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


MODULES = '''
import os
from typing import Dict, List, Optional, Tuple
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from typing_extensions import Final


@torch.jit.script
def gelu_residual(x: Tensor, y: Tensor, alpha: float = 0.5) -> Tensor:
    return x + alpha * F.gelu(y)


def not_scriptable_stats(x):
    return {"mean": float(x.mean()), "max": float(x.max())}


class Block(nn.Module):
    __constants__ = ["use_norm"]
    scale: Final[float]

    def __init__(self, dim, use_norm):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.use_norm = use_norm
        self.scale = 0.5

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc(x)
        if self.use_norm:
            h = self.norm(h)
        return gelu_residual(x, h, self.scale)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(4, i % 2 == 0) for i in range(3)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "reg": nn.Linear(4, 1)})
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Dict[str, Tensor]:
        feats: List[Tensor] = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i > 0:
                feats.append(x)
        if mask is not None:
            x = x.masked_fill(mask.unsqueeze(-1), 0.0)
        out: Dict[str, Tensor] = {}
        for name, head in self.heads.items():
            out[name] = head(x)
        out["feat"] = torch.stack(feats).sum(0)
        return out

    @torch.jit.export
    def embed(self, x: Tensor, depth: int = 2) -> Tensor:
        for i, block in enumerate(self.blocks):
            if i < depth:
                x = block(x)
        return x

    @torch.jit.export
    def pair(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        y = self.embed(x, 1)
        return y, self.heads["cls"](y)

    @torch.jit.ignore
    def stats(self, x: Tensor) -> Dict[str, float]:
        return not_scriptable_stats(x)

    @torch.jit.unused
    def debug(self, x: Tensor) -> Tensor:
        import numpy
        return torch.from_numpy(numpy.asarray(x.detach()))


torch.manual_seed(0)
net = sync(Net()).eval()
scripted = torch.jit.script(net)
x = torch.linspace(-2, 2, 24).reshape(2, 3, 4)
mask = torch.tensor([[True, False, False], [False, False, True]])
out["fwd_nomask"] = scripted(x)["cls"].detach().numpy()
res = scripted(x, mask)  # ember saves the graph of the last call's form (mask given)
out["fwd"] = {k: v.detach().numpy() for k, v in res.items()}
out["embed"] = scripted.embed(x).detach().numpy()
out["embed3"] = scripted.embed(x, 3).detach().numpy()
out["pair"] = [t.detach().numpy() for t in scripted.pair(x)]
out["stats"] = scripted.stats(x)
try:
    scripted.debug(x)
except Exception as e:
    out["unused"] = type(e).__name__
out["code"] = len(scripted.code) > 0 and len(str(scripted.graph)) > 0
out["embed_code"] = len(scripted.embed.code) > 0
out["constant"] = scripted.blocks[0].use_norm
path = os.path.join(TMP, "net.pt")
scripted.save(path)
loaded = torch.jit.load(path)
out["loaded"] = loaded(x, mask)["reg"].detach().numpy()
out["loaded_embed"] = loaded.embed(x, 1).detach().numpy()
torch.jit.save(scripted, path)
out["loaded2"] = torch.jit.load(path).pair(x)[1].detach().numpy()
out["loaded_names"] = sorted(k for k, _ in loaded.named_parameters())[:3]
'''


def _same(expect, got, key=""):
    if isinstance(expect, dict):
        assert expect.keys() == got.keys(), key
        for k in expect:
            _same(expect[k], got[k], f"{key}.{k}")
    elif isinstance(expect, (list, tuple)) and expect and not isinstance(expect[0], str):
        assert len(expect) == len(got), key
        for e, g in zip(expect, got):
            _same(e, g, key)
    elif hasattr(expect, "shape") or isinstance(expect, float):
        close(expect, got)
    else:
        assert expect == got, key


def test_modules_with_exports_constants_and_containers(tmp_path):
    expect, got = run_both(MODULES, tmp_path, as_module=True)
    _same(expect, got)
