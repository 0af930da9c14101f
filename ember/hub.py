"""ember.hub: torch.hub's checkpoint cache (load_state_dict_from_url, get_dir/set_dir).

A checkpoint named by a URL is looked up in `<hub dir>/checkpoints` under the URL's file name,
and downloaded there only when it is missing, so scripts run offline once the file is in place.
The hub directory is, as in torch, `$TORCH_HOME/hub` with TORCH_HOME defaulting to
`$XDG_CACHE_HOME/torch` (`~/.cache/torch`): ember shares torch's cache. `EMBER_HOME`, when
set, takes the place of TORCH_HOME, for a cache of ember's own; set_dir overrides both.

    >>> import ember, os
    >>> os.path.basename(ember.hub.get_dir())
    'hub'
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["get_dir", "set_dir", "load_state_dict_from_url", "download_url_to_file",
           "CheckpointUnavailable"]

# torch's naming convention for checkpoints: `name-<first hex digits of its sha256>.ext`
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")
_CHUNK = 1 << 16
_hub_dir: str | None = None


class CheckpointUnavailable(urllib.error.URLError, FileNotFoundError):
    """A checkpoint neither in the cache nor downloadable: a URLError (what torch raises
    there) that is also a FileNotFoundError, with a message saying where to put the file."""

    def __str__(self) -> str:
        return str(self.reason)


def _cache_home() -> str:
    """EMBER_HOME, else TORCH_HOME, else `$XDG_CACHE_HOME/torch` (~/.cache/torch)."""
    home = os.getenv("EMBER_HOME") or os.getenv("TORCH_HOME")
    if home is None:
        home = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return os.path.expanduser(home)


def get_dir() -> str:
    """The hub directory: set_dir's path, else `<cache home>/hub` (see the module doc)."""
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_cache_home(), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use `d` as the hub directory from now on (its `checkpoints` folder holds the files)."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def _progress_bar(total: int | None, enabled: bool):
    """A tqdm byte counter on stderr when tqdm is installed and progress is wanted."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024)


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Download `url` to the path `dst` (through a temporary file beside it, so `dst` never
    holds a partial download); with `hash_prefix`, the file's sha256 must start with it."""
    dst = os.path.expanduser(os.fspath(dst))
    request = urllib.request.Request(url, headers={"User-Agent": "ember.hub"})
    with urllib.request.urlopen(request) as response:
        length = response.headers.get("Content-Length") if response.headers else None
        bar = _progress_bar(int(length) if length else None, progress)
        sha256 = hashlib.sha256()
        tmp = tempfile.NamedTemporaryFile(delete=False, dir=os.path.dirname(dst) or ".",
                                          prefix=os.path.basename(dst) + ".", suffix=".partial")
        try:
            with tmp:
                while chunk := response.read(_CHUNK):
                    tmp.write(chunk)
                    sha256.update(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            digest = sha256.hexdigest()
            if hash_prefix is not None and not digest.startswith(hash_prefix):
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                   f'"{digest}")')
            shutil.move(tmp.name, dst)
        finally:
            if bar is not None:
                bar.close()
            if os.path.exists(tmp.name):
                os.remove(tmp.name)


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location=None,
                             progress: bool = True, check_hash: bool = False,
                             file_name: str | None = None, weights_only: bool = False) -> dict:
    """Load the checkpoint that `url` names from the hub cache, downloading it there first
    when it is missing.

    Args:
        url: where the file lives; its last path component names the cached file.
        model_dir: the folder to look in (default `get_dir()/checkpoints`).
        map_location, weights_only: passed to ember.load.
        progress: show a download progress bar (with tqdm).
        check_hash: after a download, check the sha256 prefix the file name carries
            (`name-<hex>.pth`).
        file_name: the cached file's name, instead of the URL's.
    """
    from . import load
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    name = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    cached = os.path.join(model_dir, name)
    if not os.path.exists(cached):
        match = _HASH_IN_NAME.search(name) if check_hash else None
        if progress:
            sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        try:
            download_url_to_file(url, cached, match.group(1) if match else None, progress)
        except (OSError, ValueError) as err:
            raise CheckpointUnavailable(
                f"load_state_dict_from_url: {cached} is not there and downloading {url} failed "
                f"({type(err).__name__}: {err}). Without network access, fetch the file "
                f"elsewhere and place it at {cached} (the folder is ember.hub.get_dir()/"
                "checkpoints: set EMBER_HOME or TORCH_HOME, or call ember.hub.set_dir, to move "
                "it; or pass model_dir).") from err
    return load(cached, map_location=map_location, weights_only=weights_only)
