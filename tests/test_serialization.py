"""Checkpoints: PyTorch's zip format both ways, the legacy format, safety, atomicity, errors."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import ember


def _to_torch(path_e, tmp_path):
    return torch.load(path_e, weights_only=True)


def test_ember_checkpoint_loads_in_torch(tmp_path):
    base = ember.arange(12, dtype=ember.float32).view(3, 4)
    obj = {"w": base, "row": base[1], "col": base[:, 2], "i": ember.tensor([1, 2]),
           "b": ember.tensor([True, False]), "h": ember.ones(2, dtype=ember.float16),
           "bf": ember.tensor([1.5, -2.0], dtype=ember.bfloat16),
           "p": ember.nn.Parameter(ember.ones(2)), "n": 3, "s": "text", "l": [1.5, None],
           "size": base.shape, "dt": ember.float64}
    path = tmp_path / "e.pt"
    ember.save(obj, path)
    got = torch.load(path, weights_only=True)
    assert torch.equal(got["w"], torch.arange(12.).view(3, 4))
    assert torch.equal(got["row"], torch.arange(4., 8.))
    assert torch.equal(got["col"], torch.tensor([2., 6., 10.]))
    assert got["row"].untyped_storage().data_ptr() == got["w"].untyped_storage().data_ptr()
    assert got["i"].dtype == torch.int64 and got["b"].dtype == torch.bool
    assert got["h"].dtype == torch.float16
    assert got["bf"].dtype == torch.bfloat16 and got["bf"].tolist() == [1.5, -2.0]
    assert isinstance(got["p"], torch.nn.Parameter) and got["p"].requires_grad
    assert got["n"] == 3 and got["s"] == "text" and got["l"] == [1.5, None]
    assert got["size"] == torch.Size([3, 4]) and got["dt"] is torch.float64


def test_torch_checkpoint_loads_in_ember(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    x = torch.arange(6.).view(2, 3)
    path = tmp_path / "t.pt"
    torch.save({"sd": model.state_dict(), "x": x, "xt": x.t(), "x1": x[1],
                "bf": torch.ones(2, dtype=torch.bfloat16), "dt": torch.int32}, path)
    got = ember.load(path)
    sd = got["sd"]
    assert list(sd) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(sd[k].numpy(), v.numpy())
        assert str(sd[k].dtype) == str(v.dtype)
    assert sd._metadata[""]["version"] == model.state_dict()._metadata[""]["version"]
    np.testing.assert_array_equal(got["xt"].numpy(), x.t().numpy())
    assert got["x1"].tolist() == [3.0, 4.0, 5.0]
    got["x"][1, 0] = 100.0
    assert got["x1"][0].item() == 100.0, "views of one storage share memory after loading"
    assert got["bf"].dtype is ember.bfloat16 and got["dt"] is ember.int32


def test_roundtrip_in_ember_and_file_objects():
    buf = io.BytesIO()
    ember.save([ember.zeros(0), ember.tensor(3.5), ember.ones(2, 3).t()], buf)
    buf.seek(0)
    empty, scalar, t = ember.load(buf)
    assert empty.shape == (0,) and scalar.item() == 3.5 and t.shape == (3, 2)


def test_legacy_format_loads(tmp_path):
    path = tmp_path / "legacy.pt"
    x = torch.arange(5.)
    torch.save({"x": x, "y": torch.tensor([1, 2])}, path, _use_new_zipfile_serialization=False)
    got = ember.load(path)
    assert got["x"].tolist() == x.tolist() and got["y"].dtype is ember.int64


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"x": torch.ones(1), "evil": Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        ember.load(path)
    assert not marker.exists()
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises((pickle.UnpicklingError, RuntimeError)):
        ember.load(plain)
    assert not marker.exists()


def test_corrupt_and_truncated_files(tmp_path):
    path = tmp_path / "ok.pt"
    ember.save({"w": ember.ones(100)}, path)
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="not a valid checkpoint"):
        ember.load(tmp_path / "trunc.pt")
    (tmp_path / "junk.pt").write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(RuntimeError, match="not a valid checkpoint"):
        ember.load(tmp_path / "junk.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(RuntimeError):
        ember.load(tmp_path / "empty.pt")
    with pytest.raises(FileNotFoundError):
        ember.load(tmp_path / "missing.pt")


def test_out_of_bounds_tensor_geometry_is_rejected(tmp_path):
    """A crafted file whose tensor strides reach past its storage must not read memory."""
    path = tmp_path / "ok.pt"
    ember.save(ember.ones(4), path)
    with zipfile.ZipFile(path) as zf:
        records = {n: zf.read(n) for n in zf.namelist()}
    pkl = records["archive/data.pkl"]
    assert b"K\x04\x85" in pkl
    records["archive/data.pkl"] = pkl.replace(b"K\x04\x85", b"K\x40\x85", 1)
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, d in records.items():
            zf.writestr(n, d)
    with pytest.raises(RuntimeError, match="corrupt checkpoint"):
        ember.load(bad)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    ember.save({"v": ember.ones(3)}, path)
    before = path.read_bytes()
    from ember import serialization

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(serialization, "_zip_write", crash)
    with pytest.raises(KeyboardInterrupt):
        ember.save({"v": ember.zeros(3)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"], "temporary file left behind"


def test_mmap_and_map_location(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"w": torch.arange(10.)}, path)
    got = ember.load(path, mmap=True, map_location="cpu")
    assert got["w"].tolist() == list(map(float, range(10)))
    got["w"][0] = 5.0
    assert torch.load(path)["w"][0].item() == 0.0, "mmap loads are copy-on-write"
    got = ember.load(path, map_location={"cpu": "cpu"})
    assert got["w"].device == ember.device("cpu")


def test_parent_directory_must_exist(tmp_path):
    with pytest.raises(RuntimeError, match="does not exist"):
        ember.save(ember.ones(1), tmp_path / "nope" / "x.pt")


def test_every_atomic_save_follows_the_umask_and_names_the_users_path(tmp_path):
    """ember.save, ember.jit.save and safetensors.save_file write through one temporary file
    beside the target: the file ends with torch.save's permissions (the umask's), and errors
    name the user's path; nothing is left behind."""
    import stat

    from ember.utils import safetensors
    torch.save({"w": torch.ones(2)}, str(tmp_path / "theirs.pt"))
    want = stat.S_IMODE(os.stat(tmp_path / "theirs.pt").st_mode)
    savers = {"ember.save": lambda p: ember.save({"w": ember.ones(2)}, p),
              "safetensors": lambda p: safetensors.save_file({"w": ember.ones(2)}, p),
              "jit.save": lambda p: ember.jit.trace(ember.nn.Linear(2, 2),
                                                    ember.ones(1, 2)).save(p)}
    for name, save in savers.items():
        save(tmp_path / f"{name}.out")
        assert stat.S_IMODE(os.stat(tmp_path / f"{name}.out").st_mode) == want, name
        with pytest.raises(RuntimeError, match="Parent directory"):
            save(tmp_path / "missing" / "x.out")
        (tmp_path / "folder").mkdir(exist_ok=True)
        with pytest.raises(IsADirectoryError) as info:
            save(tmp_path / "folder")
        assert info.value.filename == str(tmp_path / "folder")
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["theirs.pt", "folder"] + [f"{n}.out" for n in savers])


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"])
def test_unsigned_shell_dtypes_round_trip_with_torch(tmp_path, name):
    """torch writes uint16/32/64 storages untyped and names the dtype in _rebuild_tensor_v3;
    ember reads torch's files and writes files torch reads, views and strides kept."""
    big = int(np.iinfo(name).max)
    theirs = torch.tensor([[0, 5, big], [7, 8, 9]], dtype=getattr(torch, name))
    torch.save({"t": theirs, "col": theirs[:, 1:], "dtype": getattr(torch, name)},
               tmp_path / "torch.pt")
    loaded = ember.load(tmp_path / "torch.pt")
    assert loaded["dtype"] is getattr(ember, name)
    for key in ("t", "col"):
        assert loaded[key].dtype is getattr(ember, name)
        assert loaded[key].tolist() == ({"t": theirs, "col": theirs[:, 1:]}[key]).tolist()
    ours = ember.tensor([[0, 5, big], [7, 8, 9]], dtype=getattr(ember, name))
    ember.save({"t": ours.t(), "col": ours[:, 1:]}, tmp_path / "ember.pt")
    back = torch.load(tmp_path / "ember.pt", weights_only=True)
    assert back["t"].dtype == getattr(torch, name)
    assert back["t"].tolist() == theirs.t().tolist()
    assert back["col"].tolist() == theirs[:, 1:].tolist()
    assert ember.load(tmp_path / "ember.pt")["t"].tolist() == theirs.t().tolist()
