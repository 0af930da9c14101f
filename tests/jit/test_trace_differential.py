"""ember.jit.trace / save / load / freeze / optimize_for_inference run side by side with eager
ember and torch.jit on models written once against either library (`lib`), with torch's
initial weights copied into ember: regressions for what that comparison found."""
import io
import os
import stat
import warnings
import zipfile

import numpy as np
import pytest

import ember
from ember import jit

torch = pytest.importorskip("torch")


def _to_ember(t):
    return ember.tensor(t.detach().numpy().copy())


def _pair(build):
    """The same model built with torch and with ember, ember holding torch's weights."""
    torch.manual_seed(0)
    theirs, ours = build(torch), build(ember)
    ours.load_state_dict({k: _to_ember(v) for k, v in theirs.state_dict().items()})
    return theirs.eval(), ours.eval()


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))


def _saved(tmp_path, name="net.pt"):
    _, ours = _pair(_mlp)
    path = tmp_path / name
    jit.trace(ours, ember.randn(2, 8)).save(path)
    return path


# ---- save / load -----------------------------------------------------------------------------
def test_a_corrupt_compressed_graph_is_a_clear_error(tmp_path):
    raw = _saved(tmp_path).read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        info = zf.getinfo("ir.json")
    start = info.header_offset + 30 + len(info.filename) + 8  # inside the deflated data
    bad = raw[:start] + bytes([raw[start] ^ 0xFF]) + raw[start + 1:]
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        jit.load(io.BytesIO(bad))


def test_every_flipped_byte_loads_or_is_a_runtime_error(tmp_path):
    raw = _saved(tmp_path).read_bytes()
    for pos in range(0, len(raw), 11):
        bad = raw[:pos] + bytes([raw[pos] ^ 0xFF]) + raw[pos + 1:]
        try:
            jit.load(io.BytesIO(bad))
        except RuntimeError:
            pass


def test_a_torchscript_archive_is_named_as_such(tmp_path):
    path = tmp_path / "torchscript.pt"
    torch.jit.save(torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2)), str(path))
    with pytest.raises(RuntimeError, match="TorchScript archive"):
        jit.load(path)


def test_saved_files_follow_the_umask_like_torch(tmp_path):
    ours, theirs = tmp_path / "ours.pt", tmp_path / "theirs.pt"
    jit.trace(ember.nn.Linear(2, 2), ember.ones(1, 2)).save(ours)
    torch.jit.save(torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2)), str(theirs))
    assert stat.S_IMODE(os.stat(ours).st_mode) == stat.S_IMODE(os.stat(theirs).st_mode)


def test_save_errors_name_the_path_not_a_temporary_file(tmp_path):
    script = jit.trace(ember.nn.Linear(2, 2), ember.ones(1, 2))
    with pytest.raises(RuntimeError, match="Parent directory"):
        script.save(tmp_path / "missing" / "net.pt")
    with pytest.raises(IsADirectoryError) as info:
        script.save(tmp_path)
    assert info.value.filename == str(tmp_path)
    assert os.listdir(tmp_path) == []


# ---- .code -----------------------------------------------------------------------------------
def _keywords_and_shadowing(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"if": nn.Linear(3, 3), "conv-1": nn.Linear(3, 3)})

        def forward(self, ops, s0, _0, Tensor):
            y = self.heads["if"](ops) + self.heads["conv-1"](s0) * _0
            return y * ops.shape[0] + Tensor
    return Net()


class _Ops:
    """`ops.<name>(...)` of the printed code: the registry op called through apply."""

    def __getattr__(self, name):
        from ember._ops.dispatch import apply
        from ember._ops.registry import REGISTRY
        return lambda *args, **attrs: apply(REGISTRY[name], *args, **attrs)


def test_code_is_python_that_computes_the_graph_whatever_the_names():
    """A submodule named by a keyword, and inputs named like the names the code itself uses
    (ops, Tensor, the temporaries _0 and size symbols s0), print as valid Python that still
    computes what the graph does."""
    theirs, ours = _pair(_keywords_and_shadowing)
    args = [torch.randn(2, 3) for _ in range(4)]
    traced = jit.trace(ours, tuple(_to_ember(a) for a in args))
    code = traced.code
    namespace = {"ops": _Ops(), "Tensor": ember.Tensor, "ember": ember}
    exec(compile(code, "<code>", "exec"), namespace)
    for batch in (2, 5):
        args = [torch.randn(batch, 3) for _ in range(4)]
        got = namespace["forward"](traced, *(_to_ember(a) for a in args))
        np.testing.assert_allclose(got.detach().numpy(), theirs(*args).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


# ---- gradients -------------------------------------------------------------------------------
def _squared_through_a_function(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = lib.nn.Linear(3, 3)
            self.last = lib.nn.Linear(3, 2)

        def forward(self, x):
            return self.last(Square.apply(self.first(x)))
    return Net()


def test_tracing_a_custom_function_that_needs_gradients_warns_it_passes_none():
    """The graph holds a custom Function's forward ops, not its backward: where parameters
    before it would get gradients (torch's traced module calls the backward), say so."""
    _, ours = _pair(_squared_through_a_function)
    ours.train()
    with pytest.warns(jit.TracerWarning, match="Square is traced as the ops of its forward"):
        traced = jit.trace(ours, ember.randn(4, 3))
    traced(ember.randn(4, 3)).sum().backward()
    assert ours.first.weight.grad is None and ours.last.weight.grad is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ember.no_grad():
            jit.trace(ours, ember.randn(4, 3))
