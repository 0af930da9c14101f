"""ember.hub and ember.utils.model_zoo: the checkpoint cache, offline (files placed in a
temporary cache, downloads from file:// URLs), compared with torch.hub where it applies."""
import hashlib
import os

import pytest
import torch

import ember


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty TORCH_HOME for both libraries, with no set_dir or EMBER_HOME in effect."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EMBER_HOME", raising=False)
    monkeypatch.setattr(ember.hub, "_hub_dir", None)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path


def test_get_dir_follows_torch(cache, monkeypatch):
    assert ember.hub.get_dir() == torch.hub.get_dir() == str(cache / "home" / "hub")
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache / "xdg"))
    assert ember.hub.get_dir() == torch.hub.get_dir()
    monkeypatch.setenv("EMBER_HOME", str(cache / "ember"))
    assert ember.hub.get_dir() == str(cache / "ember" / "hub")
    ember.hub.set_dir(cache / "mine")
    torch.hub.set_dir(cache / "mine")
    assert ember.hub.get_dir() == torch.hub.get_dir() == str(cache / "mine")


def _place(cache_dir, name: str, state: dict) -> str:
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, name)
    torch.save(state, path)
    return path


def test_loads_placed_file_without_network(cache):
    state = {"weight": torch.randn(3, 2), "bias": torch.arange(3)}
    _place(cache / "home" / "hub" / "checkpoints", "net-0123abcd.pth", state)
    url = "https://example.invalid/models/net-0123abcd.pth?download=1"
    for load in (ember.hub.load_state_dict_from_url, ember.utils.model_zoo.load_url):
        ours = load(url, progress=False)
        assert set(ours) == {"weight", "bias"}
        assert ember.equal(ours["weight"], ember.tensor(state["weight"].numpy()))
        assert ours["bias"].dtype == ember.int64
    theirs = torch.hub.load_state_dict_from_url(url, progress=False)
    assert torch.equal(theirs["weight"], state["weight"])


def test_model_dir_file_name_and_map_location(cache):
    _place(cache / "elsewhere", "custom.pt", {"w": torch.ones(2)})
    out = ember.hub.load_state_dict_from_url("https://example.invalid/x.pt",
                                             model_dir=str(cache / "elsewhere"),
                                             file_name="custom.pt", map_location="cpu",
                                             weights_only=True)
    assert out["w"].tolist() == [1.0, 1.0]


def test_missing_file_names_where_to_put_it(cache):
    url = (cache / "nowhere" / "resnet-abc.pth").as_uri()
    with pytest.raises(OSError) as theirs:
        torch.hub.load_state_dict_from_url(url, progress=False)
    with pytest.raises(FileNotFoundError) as ours:  # and a URLError, as torch raises
        ember.hub.load_state_dict_from_url(url, progress=False)
    assert isinstance(ours.value, theirs.type)
    expected = str(cache / "home" / "hub" / "checkpoints" / "resnet-abc.pth")
    assert expected in str(ours.value) and "place it" in str(ours.value)


def test_downloads_once_into_cache_and_checks_hash(cache):
    source = cache / "server" / "model.pth"
    os.makedirs(source.parent)
    torch.save({"w": torch.arange(4.0)}, source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    good = source.parent / f"model-{digest[:8]}.pth"
    os.rename(source, good)
    out = ember.hub.load_state_dict_from_url(good.as_uri(), progress=False, check_hash=True)
    assert out["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    cached = cache / "home" / "hub" / "checkpoints" / good.name
    assert cached.read_bytes() == good.read_bytes()
    os.remove(good)  # the cached copy serves from now on
    assert ember.hub.load_state_dict_from_url(good.as_uri(), progress=False)["w"].shape == (4,)

    bad = source.parent / "model-ffffffff.pth"
    torch.save({"w": torch.zeros(1)}, bad)
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="invalid hash value"):
            lib.hub.load_state_dict_from_url(bad.as_uri(), progress=False, check_hash=True)
    assert not any(p.name.startswith("model-ffffffff")
                   for p in (cache / "home" / "hub" / "checkpoints").iterdir())


def test_download_url_to_file(cache):
    src = cache / "a.bin"
    src.write_bytes(b"x" * 100_000)
    dst = cache / "b.bin"
    ember.hub.download_url_to_file(src.as_uri(), str(dst), progress=False)
    assert dst.read_bytes() == src.read_bytes()
