"""ScriptModule.save / ember.jit.load: the archive, a fresh process without the model's source,
and refusals of bad files."""
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import ember
from ember import jit, nn

from .models import MLP, Stats, gelu_chain

MODEL_SOURCE = textwrap.dedent("""
    import ember
    from ember import nn


    class TinyMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(6, 10)
            self.fc2 = nn.Linear(10, 3)

        def forward(self, x):
            return self.fc2(ember.relu(self.fc1(x)))
""")


def _roundtrip(script):
    buf = io.BytesIO()
    script.save(buf)
    buf.seek(0)
    return jit.load(buf)


def _same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and bool((a == b).all())


def test_archive_layout_has_no_pickle(tmp_path):
    s = jit.trace(MLP().eval(), ember.randn(2, 8))
    path = tmp_path / "mlp.ember"
    s.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["ir.json", "weights.safetensors"]
        ir = json.loads(zf.read("ir.json"))
        assert not any(zf.read(n).startswith(b"\x80") for n in zf.namelist())
    assert ir["format"] == "ember.jit" and ir["format_version"] == 6
    assert ir["ember_version"] == ember.__version__
    sig = ir["methods"]["forward"]["signature"]
    assert sig["inputs"] == [{"dtype": "float32", "shape": [2, 8], "device": "cpu"}]
    assert sig["outputs"][0]["shape"] == [2, 4]


def test_module_round_trip(tmp_path):
    m = MLP().eval()
    s = jit.trace(m, ember.randn(2, 8))
    s.save(str(tmp_path / "m.pt"))
    loaded = jit.load(str(tmp_path / "m.pt"))
    assert isinstance(loaded, jit.ScriptModule)
    assert list(loaded.state_dict()) == list(m.state_dict())
    assert not loaded.training
    x = ember.randn(5, 8)
    with ember.no_grad():
        assert _same(loaded(x), m(x))
    assert str(loaded.graph) == str(s.graph)
    out = loaded(x)
    out.sum().backward()
    assert loaded.fc1.weight.grad is not None


def test_function_frozen_and_buffers_round_trip():
    f = jit.trace(gelu_chain, (ember.randn(3, 4), ember.randn(4), ember.randn(4)))
    g = _roundtrip(f)
    args = (ember.randn(3, 4), ember.randn(4), ember.randn(4))
    assert isinstance(g, jit.ScriptFunction) and _same(g(*args), f(*args))
    frozen = jit.freeze(jit.trace(MLP().eval(), ember.randn(2, 8)))
    back = _roundtrip(frozen)
    x = ember.randn(2, 8)
    assert _same(back(x), frozen(x)) and not list(back.parameters())
    stats = jit.trace(Stats(), ember.ones(2, 3), check_trace=False)
    back = _roundtrip(stats)
    with ember.no_grad():
        back(ember.ones(2, 3))
    assert int(back.count) == int(stats.count) + 1


def test_tied_weights_stay_tied():
    m = MLP((4, 4, 4, 4)).eval()
    m.fc2.weight = m.fc1.weight
    back = _roundtrip(jit.trace(m, ember.randn(2, 4)))
    assert back.fc1.weight is back.fc2.weight


def test_map_location():
    s = jit.trace(MLP().eval(), ember.randn(2, 8))
    buf = io.BytesIO()
    jit.save(s, buf)
    buf.seek(0)
    back = jit.load(buf, map_location="cpu")
    assert back.fc1.weight.device.type == "cpu"


def test_fresh_process_without_the_model_source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "tiny_model_for_jit.py").write_text(MODEL_SOURCE)
    sys.path.insert(0, str(src))
    try:
        import tiny_model_for_jit
        model = tiny_model_for_jit.TinyMLP().eval()
    finally:
        sys.path.remove(str(src))
        sys.modules.pop("tiny_model_for_jit", None)
    x = ember.randn(4, 6)
    traced = jit.trace(model, ember.randn(2, 6))
    path = tmp_path / "tiny.ember"
    traced.save(path)
    np.save(tmp_path / "x.npy", x.numpy())
    with ember.no_grad():
        expected = model(x).numpy()
    (src / "tiny_model_for_jit.py").unlink()
    code = textwrap.dedent(f"""
        import importlib.util, sys
        import numpy as np
        import ember
        assert importlib.util.find_spec("tiny_model_for_jit") is None
        m = ember.jit.load({str(path)!r})
        x = ember.from_numpy(np.load({str(tmp_path / 'x.npy')!r}))
        with ember.no_grad():
            np.save({str(tmp_path / 'out.npy')!r}, m(x).numpy())
        assert "tiny_model_for_jit" not in sys.modules
        print(type(m).__name__, m.original_name)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root
    run = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["ScriptModule", "TinyMLP"]
    got = np.load(tmp_path / "out.npy")
    assert got.dtype == expected.dtype and np.array_equal(got, expected)


def _archive(ir=None, weights=None, names=("ir.json", "weights.safetensors"), s=None):
    s = s or jit.trace(MLP().eval(), ember.randn(2, 8))
    buf = io.BytesIO()
    s.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    data = json.loads(parts["ir.json"])
    if ir is not None:
        ir(data)
    parts["ir.json"] = json.dumps(data).encode()
    if weights is not None:
        parts["weights.safetensors"] = weights
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n in names:
            zf.writestr(n, parts[n])
    return out.getvalue()


def _load_bytes(raw, tmp_path):
    path = tmp_path / "bad.ember"
    path.write_bytes(raw)
    return jit.load(str(path))


def test_truncated_and_corrupt_files(tmp_path):
    good = _archive()
    for raw in (good[:len(good) // 2], good[:-30], b"", b"not a zip at all"):
        with pytest.raises(RuntimeError, match="truncated or corrupt"):
            _load_bytes(raw, tmp_path)
    flipped = bytearray(good)
    start = good.index(b"weights.safetensors") + 40
    flipped[start + 100] ^= 0xFF
    with pytest.raises(RuntimeError, match="corrupt"):
        _load_bytes(bytes(flipped), tmp_path)


def test_newer_format_and_foreign_files(tmp_path):
    def newer(d):
        d["format_version"] = 99
    with pytest.raises(RuntimeError, match="format version 99.*Upgrade ember"):
        _load_bytes(_archive(newer), tmp_path)

    def foreign(d):
        d["format"] = "something-else"
    with pytest.raises(RuntimeError, match="does not describe"):
        _load_bytes(_archive(foreign), tmp_path)
    with pytest.raises(RuntimeError, match="not an ember.jit archive"):
        _load_bytes(_archive(names=("ir.json",)), tmp_path)
    buf = io.BytesIO()
    ember.save({"a": ember.ones(2)}, buf)
    with pytest.raises(RuntimeError, match="not an ember.jit archive"):
        _load_bytes(buf.getvalue(), tmp_path)


def test_unknown_ops_and_code_in_the_file_are_refused(tmp_path):
    def evil(d):
        d["methods"]["forward"]["nodes"][0]["op"] = "__import__('os').system('echo pwned')"
    with pytest.raises(RuntimeError, match="registry does not have"):
        _load_bytes(_archive(evil), tmp_path)

    def bad_literal(d):
        d["methods"]["forward"]["nodes"][0]["attrs"]["dim0"] = {"$pickle": "gASV"}
    with pytest.raises(RuntimeError, match="malformed literal"):
        _load_bytes(_archive(bad_literal), tmp_path)

    def dangling(d):
        d["methods"]["forward"]["nodes"][0]["args"] = [{"$value": 12345}]
    with pytest.raises(RuntimeError, match="undefined value"):
        _load_bytes(_archive(dangling), tmp_path)


def _rows(x):
    return x.view(x.shape[0], -1).sum(1)


def test_size_symbols_in_the_file_are_checked(tmp_path):
    """A graph that generalizes over the batch size saves its size expressions ({"$sym"})
    and where each symbol is read; malformed ones, undefined symbols and symbols read from
    no input are refused."""
    traced = jit.trace(_rows, ember.ones(2, 8))
    loaded = _load_bytes(_archive(s=traced), tmp_path)
    assert loaded(ember.ones(5, 8)).tolist() == [8.0] * 5

    def view_node(d):
        return next(n for n in d["methods"]["forward"]["nodes"] if n["op"] == "view")

    def bad_name(d):
        view_node(d)["attrs"]["shape"]["$tuple"][0]["$sym"]["terms"] = [[["os.system"], 1]]

    def undefined(d):
        d["methods"]["forward"]["symbols"] = {}

    def nowhere(d):
        d["methods"]["forward"]["symbols"] = {"s0": [3, 0, 1, 0]}

    def floor(d):
        d["methods"]["forward"]["min_sizes"] = {"s0": 0}
    for change, message in ((bad_name, "malformed size expression"),
                            (undefined, "uses size symbols it does not define"),
                            (nowhere, "reads no input dim"), (floor, "malformed min_sizes")):
        with pytest.raises(RuntimeError, match=message):
            _load_bytes(_archive(change, s=traced), tmp_path)


def test_weights_must_match_the_graph(tmp_path):
    from ember.utils import safetensors
    s = jit.trace(MLP().eval(), ember.randn(2, 8))
    wrong = {k: ember.zeros(1) for k in s.state_dict()}
    with pytest.raises(RuntimeError, match="typed Float\\(16, 8\\)"):
        _load_bytes(_archive(weights=safetensors.save(wrong)), tmp_path)
    with pytest.raises(RuntimeError, match="corrupt"):
        _load_bytes(_archive(weights=b"\x01\x02"), tmp_path)


def test_graphs_saved_from_a_gpu_load_where_the_machine_can(tmp_path):
    """Weights go back to the device their graph was saved from, as torch.jit.load does; a
    file saved from a GPU loads on a machine without one through map_location='cpu', and
    without it the error says so. (The weights file holds no device; the IR does.)"""
    def on_gpu(d):
        text = json.dumps(d).replace('"device": "cpu"', '"device": "cuda:0"')
        d.clear()
        d.update(json.loads(text))
    raw = _archive(on_gpu)
    path = tmp_path / "gpu.ember"
    path.write_bytes(raw)
    x = ember.randn(3, 8)
    back = jit.load(str(path), map_location="cpu")
    assert back.fc1.weight.device.type == "cpu"
    assert back(x).shape == (3, 4)
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="saved from cuda:0.*map_location='cpu'"):
            jit.load(str(path))


def test_max_pool_saved_with_its_older_attributes_still_runs(tmp_path):
    """Graphs saved before max_pool took ceil_mode hold its swept (low, high) padding and its
    output size instead; they load and run at their traced shape."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(3, 2, 1, ceil_mode=True)).eval()
    x = ember.randn(1, 1, 8, 7)
    traced = jit.trace(net, x)

    def older(d):
        node = next(n for n in d["methods"]["forward"]["nodes"] if n["op"] == "max_pool")
        attrs = node["attrs"]
        del attrs["ceil_mode"]
        attrs["padding"] = {"$tuple": [{"$tuple": [1, 2]}, {"$tuple": [1, 1]}]}
        attrs["outs"] = {"$tuple": [4, 3]}
    loaded = _load_bytes(_archive(older, s=traced), tmp_path)
    with ember.no_grad():
        np.testing.assert_array_equal(loaded(x).numpy(), net(x).numpy())


def test_free_dims_in_the_file_are_checked(tmp_path):
    """A graph kept as traced whose spatial dims are free saves which input dims those are;
    pairs that name no input dim are refused."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.MaxPool2d(2)).eval()
    traced = jit.trace(net, ember.randn(1, 1, 9, 9))
    loaded = _load_bytes(_archive(s=traced), tmp_path)
    x = ember.randn(2, 1, 13, 11)
    with ember.no_grad():
        np.testing.assert_array_equal(loaded(x).numpy(), net(x).numpy())

    def outside(d):
        d["methods"]["forward"]["free_dims"] = [[0, 7]]
    with pytest.raises(RuntimeError, match="malformed free_dims"):
        _load_bytes(_archive(outside, s=traced), tmp_path)


class ComplexWeights(nn.Module):
    """Complex parameters, buffers (one not contiguous) and a traced complex constant."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ember.randn(3, dtype=ember.complex64))
        self.register_buffer("c", ember.randn(2, 3, dtype=ember.complex128).t())

    def forward(self, x):
        k = ember.tensor([1 + 2j, 3j, 1], dtype=ember.complex128)
        return (x * self.w).real + (x[:, None] * self.c).imag.sum(1) + (x * k).real


@pytest.mark.parametrize("make", [lambda m, x: jit.trace(m, x), lambda m, x: jit.script(m)],
                         ids=["trace", "script"])
def test_complex_weights_round_trip_exactly(make, tmp_path):
    """safetensors has no complex128: complex tensors are stored as their real views and come
    back with their dtypes and values (saving used to fail)."""
    ember.manual_seed(0)
    m, x = ComplexWeights(), ember.randn(3)
    s = make(m, x)
    s(x)
    s.save(tmp_path / "c.ember")
    loaded = jit.load(str(tmp_path / "c.ember"))
    for name in ("w", "c"):
        assert _same(getattr(loaded, name), getattr(m, name))
    assert isinstance(loaded.w, nn.Parameter) and loaded.w.requires_grad
    with ember.no_grad():
        assert _same(loaded(x), m(x))


def test_archives_without_complex_weights_still_load_and_bad_notes_are_refused(tmp_path):
    def older(d):
        d["format_version"] = 5
        del d["complex_weights"]
    x = ember.randn(2, 8)
    net = MLP().eval()
    with ember.no_grad():
        assert _same(_load_bytes(_archive(older, s=jit.trace(net, x)), tmp_path)(x), net(x))

    def wrong_dtype(d):
        d["complex_weights"]["w"] = "complex128"
    with pytest.raises(RuntimeError, match="complex weight 'w' is missing or malformed"):
        _load_bytes(_archive(wrong_dtype, s=jit.trace(ComplexWeights(), ember.randn(3))),
                    tmp_path)


def test_extra_files_are_saved_beside_the_graph_and_read_back_by_name(tmp_path):
    """torch.jit.save/load's _extra_files: str or bytes in, bytes out; a name the archive
    lacks is refused by name."""
    x = ember.randn(2, 8)
    s = jit.trace(MLP().eval(), x)
    path = tmp_path / "m.pt"
    jit.save(s, path, _extra_files={"meta.json": '{"v": 1}', "raw.bin": b"\x00\x01"})
    extra = {"meta.json": "", "raw.bin": ""}
    loaded = jit.load(path, map_location="cpu", _extra_files=extra)
    assert extra == {"meta.json": b'{"v": 1}', "raw.bin": b"\x00\x01"}
    assert _same(loaded(x), s(x))
    buf = io.BytesIO()
    jit.script(gelu_chain, example_inputs=(x, x, x)).save(buf, _extra_files={"a.txt": "hi"})
    with pytest.raises(RuntimeError, match="has no extra file 'b.txt'"):
        jit.load(io.BytesIO(buf.getvalue()), _extra_files={"b.txt": ""})


class UnsignedLookup(nn.Module):
    """A uint16 buffer and a bit reinterpretation as uint32 (torch's shell unsigned dtypes)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("lut", ember.tensor([5, 65535, 9], dtype=ember.uint16))

    def forward(self, x):
        return x * self.lut.float() + x.view(ember.uint32).double().float()


def test_shell_unsigned_dtypes_round_trip():
    """uint16/uint32 buffers and values keep their dtypes in the graph text and the archive."""
    m = UnsignedLookup()
    x = ember.tensor([1.0, -2.0, 3.0])
    traced = jit.trace(m, (x,))
    assert "UInt16(3)" in str(traced.graph) and "UInt32(3)" in str(traced.graph)
    loaded = _roundtrip(traced)
    assert loaded.lut.dtype is ember.uint16 and loaded.lut.tolist() == [5, 65535, 9]
    assert ember.equal(loaded(x), m(x))
