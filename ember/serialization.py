"""ember.save / ember.load in PyTorch's own checkpoint format.

A checkpoint is a zip archive: `data.pkl` (a protocol-2 pickle whose tensors refer to storages
by persistent id) plus one raw little-endian record per storage under `data/`. Loading uses a
restricted unpickler by default: only tensors, containers and primitive values can be built,
and any other global is refused by name without being imported or executed. PyTorch's legacy
(pre-1.6, non-zip) format can be read too.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import uuid
import zipfile

import numpy as np

from . import _dtype as D
from ._device import CPU, to_device
from ._tensor import Size, Tensor

_STORAGE_NAMES = {
    D.float32: "FloatStorage", D.float64: "DoubleStorage", D.float16: "HalfStorage",
    D.bfloat16: "BFloat16Storage", D.int64: "LongStorage", D.int32: "IntStorage",
    D.int16: "ShortStorage", D.int8: "CharStorage", D.uint8: "ByteStorage",
    D.bool: "BoolStorage", D.complex64: "ComplexFloatStorage",
    D.complex128: "ComplexDoubleStorage"}
_STORAGE_DTYPES = {name: dt for dt, name in _STORAGE_NAMES.items()}
_ALIGNMENT = 64
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class _Global:
    """A module-level name written into the pickle without importing it (e.g. torch.Size)."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise TypeError(f"{self.module}.{self.name} is only a name written into a checkpoint")


_REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
# dtypes with no typed storage class (uint16/32/64): torch writes their storages untyped, as
# bytes, and names the dtype in _rebuild_tensor_v3
_REBUILD_TENSOR_V3 = _Global("torch._utils", "_rebuild_tensor_v3")
_UNTYPED_STORAGE = _Global("torch.storage", "UntypedStorage")


class _Storage:
    """One storage being written: the flat array and its archive key."""

    __slots__ = ("key", "array", "dtype")

    def __init__(self, key: str, array: np.ndarray, dtype: D.dtype):
        self.key, self.array, self.dtype = key, array, dtype


def _root_array(arr: np.ndarray) -> np.ndarray:
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


class _CheckpointPickler(pickle._Pickler):
    """Writes ember objects as torch writes the equivalent torch objects."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, storages: dict):
        super().__init__(file, protocol=2)
        self.storages = storages

    def _save_global(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[_Global] = _save_global

    def _save_dtype(self, obj: D.dtype) -> None:
        self._save_global(_Global("torch", obj.name))

    dispatch[D.dtype] = _save_dtype

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            if obj.dtype not in _STORAGE_NAMES:
                return ("storage", _UNTYPED_STORAGE, obj.key, "cpu", int(obj.array.nbytes))
            return ("storage", _Global("torch", _STORAGE_NAMES[obj.dtype]), obj.key, "cpu",
                    int(obj.array.size))
        return None

    def reducer_override(self, obj):
        from .nn.parameter import Parameter
        if isinstance(obj, Parameter):
            plain = Tensor._wrap(obj._data, obj._dtype, obj._device)
            return (_REBUILD_PARAMETER, (plain, obj.requires_grad, collections.OrderedDict()))
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, Size):
            return (_Global("torch", "Size"), (tuple(obj),))
        from ._device import device
        if isinstance(obj, device):
            return (_Global("torch", "device"), (str(obj),))
        return NotImplemented

    def _reduce_tensor(self, t: Tensor):
        arr = np.asarray(t.numpy(force=True))
        itemsize = arr.dtype.itemsize
        root = _root_array(arr)
        shareable = (root.flags.c_contiguous and root.dtype == arr.dtype
                     and all(s >= 0 for s in arr.strides) and arr.size > 0)
        if not shareable:
            root = np.ascontiguousarray(arr).reshape(-1).copy()
            arr = root.reshape(arr.shape)
        storage = self.storages.get(id(root))
        if storage is None:
            storage = _Storage(str(len(self.storages)), root, t.dtype)
            self.storages[id(root)] = storage
        offset = (arr.__array_interface__["data"][0]
                  - root.__array_interface__["data"][0]) // itemsize
        strides = tuple(s // itemsize for s in arr.strides)
        args = (storage, int(offset), tuple(arr.shape), strides, t.requires_grad,
                collections.OrderedDict())
        if t.dtype not in _STORAGE_NAMES:
            return (_REBUILD_TENSOR_V3, args + (t.dtype,))
        return (_REBUILD_TENSOR, args)


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """Write a stored (uncompressed) record whose data starts at a 64-byte boundary."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    header = 30 + len(name.encode("utf-8"))
    start = zf.fp.tell() + header + 4
    pad = (-start) % _ALIGNMENT
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    zf.writestr(info, data)


def _write_checkpoint(obj, fileobj) -> None:
    buffer = io.BytesIO()
    storages: dict = {}
    _CheckpointPickler(buffer, storages).dump(obj)
    with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_STORED) as zf:
        _zip_write(zf, "archive/data.pkl", buffer.getvalue())
        _zip_write(zf, "archive/.format_version", b"1")
        _zip_write(zf, "archive/.storage_alignment", str(_ALIGNMENT).encode())
        _zip_write(zf, "archive/byteorder", b"little")
        for storage in storages.values():
            _zip_write(zf, f"archive/data/{storage.key}",
                       np.ascontiguousarray(storage.array).astype(
                           storage.array.dtype.newbyteorder("<")).tobytes())
        _zip_write(zf, "archive/version", b"3\n")
        _zip_write(zf, "archive/.data/serialization_id",
                   str(uuid.uuid4().int).zfill(40)[:40].encode())


def save(obj, f, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record=False) -> None:
    """Save `obj` (tensors, state_dicts, containers, numbers) in PyTorch's checkpoint format.

    Writing to a path is atomic: the data goes to a temporary file beside it, which then
    replaces the target, so a crash mid-save leaves any previous file intact.

    >>> import ember, io
    >>> buf = io.BytesIO(); ember.save({"w": ember.ones(2)}, buf); _ = buf.seek(0)
    >>> ember.load(buf)
    {'w': tensor([1., 1.])}
    """
    if not _use_new_zipfile_serialization:
        raise ValueError("ember.save writes only the zip checkpoint format (PyTorch >= 1.6); "
                         "the legacy format can be loaded but not written")
    if isinstance(f, (str, os.PathLike)):
        write_atomically(f, lambda out: _write_checkpoint(obj, out))
    else:
        _write_checkpoint(obj, f)


def write_atomically(path, write) -> None:
    """Create the file `path` by `write(binary file)` into a temporary file beside it, renamed
    over it once complete and flushed to disk: a failed save leaves `path` as it was. The file
    gets the permissions a plain open() gives (the umask's; tempfile.mkstemp's would stay
    private), and errors name `path`, not the temporary file (a missing folder raises
    RuntimeError, as torch.save does)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RuntimeError(f"Parent directory {folder} does not exist.")
    tmp = os.path.join(folder, f".ember-save-{uuid.uuid4().hex}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from None
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise OSError(e.errno, e.strerror, path) from None
        raise


# ---- loading ------------------------------------------------------------------------------
class _StorageType:
    """What `torch.FloatStorage` and friends unpickle to: they only carry a dtype."""

    def __init__(self, dtype: D.dtype):
        self.dtype = dtype


class _LoadedStorage:
    """A storage read from a checkpoint and the device its tensors are to be placed on."""

    __slots__ = ("array", "device")

    def __init__(self, array: np.ndarray, device):
        self.array, self.device = array, device


def _rebuild_tensor_v2(loaded, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """Build a tensor viewing a loaded storage (bounds checked: a file cannot reach outside)."""
    if not isinstance(loaded, _LoadedStorage):
        raise pickle.UnpicklingError("corrupt checkpoint: a tensor's storage is not a storage")
    storage = loaded.array
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = int(storage_offset)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise RuntimeError(f"corrupt checkpoint: invalid tensor geometry size={size}, "
                           f"stride={stride}, offset={offset}")
    n = int(np.prod(size)) if size else 1
    if n:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= storage.size:
            raise RuntimeError(f"corrupt checkpoint: tensor of size {list(size)} reaches "
                               f"element {last} of a storage of {storage.size}")
    itemsize = storage.dtype.itemsize
    base = storage[offset:] if n else storage[:0]
    arr = np.lib.stride_tricks.as_strided(base, shape=size,
                                          strides=tuple(st * itemsize for st in stride))
    arr = arr if n else np.zeros(size, dtype=storage.dtype)
    t = Tensor._wrap(arr, D.from_numpy_dtype(arr.dtype), CPU)
    if loaded.device != CPU:
        t = t.to(loaded.device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(loaded, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    """A tensor of `dtype` viewing a loaded untyped (byte) storage, as torch writes uint16/32/64
    ones."""
    if not isinstance(loaded, _LoadedStorage) or not isinstance(dtype, D.dtype):
        raise pickle.UnpicklingError("corrupt checkpoint: a tensor's storage or dtype is not one")
    if loaded.array.dtype.itemsize != 1 or loaded.array.size % dtype.itemsize:
        raise RuntimeError(f"corrupt checkpoint: a storage of {loaded.array.nbytes} bytes "
                           f"cannot hold {dtype} elements")
    typed = _LoadedStorage(loaded.array.view(dtype.np), loaded.device)
    return _rebuild_tensor_v2(typed, storage_offset, size, stride, requires_grad)


def _rebuild_parameter(data, requires_grad, backward_hooks=None, *state):
    from .nn.parameter import Parameter
    return Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data, requires_grad)


def _rebuild_from_type_v2(func, new_type, args, state):
    return func(*args)


def _rebuild_tensor(array, dtype_name, requires_grad):
    """Inverse of Tensor.__reduce_ex__ (plain pickling, deepcopy, multiprocessing)."""
    dtype = D.to_dtype(dtype_name)
    t = Tensor._wrap(np.array(array, dtype=dtype.np), dtype, CPU)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _allowed_globals() -> dict:
    from ._device import device
    allowed = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch.storage", "UntypedStorage"): _StorageType(D.uint8),
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Tensor"): Tensor,
        ("torch", "Size"): Size,
        ("torch", "device"): device,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice,
        ("builtins", "complex"): complex,
        ("_codecs", "encode"): _latin1_encode,
        ("ember.serialization", "_rebuild_tensor"): _rebuild_tensor,
    }
    for name, dt in _STORAGE_DTYPES.items():
        allowed[("torch", name)] = _StorageType(dt)
    for dt in D.ALL_DTYPES:
        allowed[("torch", dt.name)] = dt
    for alias, dt in D._ALIASES.items():
        allowed[("torch", alias)] = dt
    allowed.update(_SAFE_GLOBALS)
    return allowed


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """What protocol-2 pickles use to carry bytes: `_codecs.encode(str, 'latin1')`."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"Weights only load failed: _codecs.encode with "
                                     f"encoding {encoding!r} is not allowed")
    return text.encode("latin1", errors)


_SAFE_GLOBALS: dict = {}


def add_safe_globals(safe_globals: list) -> None:
    """Allow these classes/functions (you trust) to be built by weights_only loading."""
    for obj in safe_globals:
        _SAFE_GLOBALS[(obj.__module__, obj.__qualname__)] = obj


def clear_safe_globals() -> None:
    _SAFE_GLOBALS.clear()


def get_safe_globals() -> list:
    return list(_SAFE_GLOBALS.values())


class UnsafeGlobalError(pickle.UnpicklingError):
    """weights_only loading met a global that is not allow-listed (it was not imported)."""


class _WeightsUnpickler(pickle.Unpickler):
    """Builds only allow-listed globals; refuses everything else by name, never importing it."""

    def __init__(self, file, persistent_load, weights_only: bool):
        super().__init__(file, encoding="utf-8")
        self._persistent = persistent_load
        self._weights_only = weights_only
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str):
        found = self._allowed.get((module, name))
        if found is not None:
            return found
        if self._weights_only:
            raise UnsafeGlobalError(
                f"Weights only load failed: unsupported global: GLOBAL {module}.{name} was not "
                "an allowed global, so it was neither imported nor run. Load with "
                "weights_only=False only if you trust the file, or allow-list it with "
                "ember.serialization.add_safe_globals([...]).")
        if module.startswith("torch"):
            raise pickle.UnpicklingError(f"ember cannot rebuild torch object {module}.{name}")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return self._persistent(pid)


def _storage_from_pid(pid, read_record, map_location) -> _LoadedStorage:
    if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
        raise pickle.UnpicklingError(f"corrupt checkpoint: unknown persistent id {pid!r}")
    storage_type, key, location, numel = pid[1], pid[2], pid[3], pid[4]
    if not isinstance(storage_type, _StorageType):
        raise pickle.UnpicklingError(f"corrupt checkpoint: {storage_type!r} is not a storage "
                                     "type")
    array = read_record(str(key), storage_type.dtype, int(numel))
    if array.size < int(numel):
        raise RuntimeError(f"corrupt checkpoint: storage {key} holds {array.size} elements, "
                           f"{numel} expected")
    return _LoadedStorage(array, _target_device(str(location), map_location))


def _target_device(location: str, map_location):
    """Where a storage saved on `location` goes: map_location may be a device, a string, a
    {saved: target} dict or a function(storage, location) returning a device or None."""
    if map_location is None:
        target = location
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif callable(map_location):
        target = map_location(None, location) or location
        target = getattr(target, "device", target)
    else:
        target = map_location
    return to_device(target if not isinstance(target, str) else target)


def _zip_loader(zf: zipfile.ZipFile, raw, mmap: bool, map_location, weights_only: bool):
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("data.pkl")]
    if not pkl:
        raise RuntimeError("not a valid checkpoint: the archive has no data.pkl")
    prefix = pkl[0][: -len("data.pkl")]
    byteorder = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in names \
        else "little"
    cache: dict = {}

    def read_record(key, dtype, numel):
        if key in cache:
            return cache[key]
        name = f"{prefix}data/{key}"
        if name not in names:
            raise RuntimeError(f"corrupt checkpoint: record {name} is missing")
        np_dtype = dtype.np.newbyteorder("<" if byteorder == "little" else ">")
        info = zf.getinfo(name)
        if mmap and info.compress_type == zipfile.ZIP_STORED and isinstance(raw, str):
            with open(raw, "rb") as fh:
                fh.seek(info.header_offset)
                header = fh.read(30)
                start = info.header_offset + 30 + struct.unpack("<H", header[26:28])[0] \
                    + struct.unpack("<H", header[28:30])[0]
            count = info.file_size // dtype.itemsize
            array = np.memmap(raw, dtype=np_dtype, mode="c", offset=start, shape=(count,)) \
                if count else np.zeros(0, np_dtype)
        else:
            data = bytearray(zf.read(name))
            array = np.frombuffer(data, dtype=np_dtype)
        if byteorder != "little":
            array = array.astype(dtype.np)
        cache[key] = array
        return array

    def persistent_load(pid):
        return _storage_from_pid(pid, read_record, map_location)

    with zf.open(pkl[0]) as fh:
        obj = _WeightsUnpickler(fh, persistent_load, weights_only).load()
    return obj


def _legacy_loader(fh, map_location, weights_only: bool):
    """PyTorch's pre-1.6 format: magic, protocol, sys info, the object pickle, the storage
    keys, then each storage as an int64 count and raw data. The object pickle comes before
    the data it refers to, so it is read twice: once to reach the data, once to build."""
    def header_only(pid):
        raise pickle.UnpicklingError("corrupt checkpoint: persistent id in a legacy header")

    def read(persistent):
        return _WeightsUnpickler(fh, persistent, weights_only).load()

    if read(header_only) != _LEGACY_MAGIC:
        raise RuntimeError("Invalid magic number; corrupt file?")
    if read(header_only) != _LEGACY_PROTOCOL:
        raise RuntimeError("Invalid protocol version in legacy checkpoint")
    read(header_only)
    body = fh.tell()
    dtypes: dict = {}

    def placeholder(key, dtype, numel):
        dtypes[key] = dtype
        return np.broadcast_to(np.zeros(1, dtype.np), (numel,))

    read(lambda pid: _storage_from_pid(_legacy_pid(pid), placeholder, None))
    arrays = {}
    for key in read(header_only):
        (count,) = struct.unpack("<q", fh.read(8))
        dtype = dtypes[str(key)]
        data = fh.read(count * dtype.itemsize)
        if count < 0 or len(data) != count * dtype.itemsize:
            raise RuntimeError("corrupt checkpoint: legacy storage data is truncated")
        arrays[str(key)] = np.frombuffer(bytearray(data), dtype=dtype.np)
    end = fh.tell()
    fh.seek(body)

    def stored(key, dtype, numel):
        return arrays[key]

    obj = read(lambda pid: _storage_from_pid(_legacy_pid(pid), stored, map_location))
    fh.seek(end)
    return obj


def _legacy_pid(pid):
    """Legacy ids carry view metadata after the five fields of the zip format; views of
    storages are not produced by any supported writer."""
    if isinstance(pid, tuple) and len(pid) > 5 and pid[5] is not None:
        raise RuntimeError("legacy checkpoints with storage views are not supported")
    return pid[:5] if isinstance(pid, tuple) else pid


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None,
         mmap: bool | None = None, **pickle_load_args):
    """Load a checkpoint written by ember.save or torch.save (zip or legacy format).

    weights_only (default True) refuses any global other than tensors, containers and primitive
    types, naming it in the error; nothing from the file is imported or executed. mmap=True maps
    storages from the file instead of reading them (copy-on-write).

    >>> import ember, io
    >>> buf = io.BytesIO(); ember.save([ember.arange(3)], buf); _ = buf.seek(0)
    >>> ember.load(buf)
    [tensor([0, 1, 2])]
    """
    weights_only = True if weights_only is None else weights_only
    path = os.fspath(f) if isinstance(f, (str, os.PathLike)) else None
    if path is not None and not os.path.exists(path):
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'")
    try:
        if path is not None:
            with open(path, "rb") as fh:
                return _load_stream(fh, path, mmap, map_location, weights_only)
        return _load_stream(f, None, mmap, map_location, weights_only)
    except (UnsafeGlobalError, FileNotFoundError):
        raise
    except (zipfile.BadZipFile, EOFError, struct.error, KeyError, ValueError,
            pickle.PickleError, UnicodeDecodeError, OSError) as e:
        where = path if path is not None else "the given file object"
        raise RuntimeError(f"ember.load: {where} is not a valid checkpoint (truncated or "
                           f"corrupt): {type(e).__name__}: {e}") from None


def _load_stream(fh, path, mmap, map_location, weights_only):
    start = fh.tell() if hasattr(fh, "tell") else 0
    head = fh.read(4)
    fh.seek(start)
    if head[:2] == b"PK":
        with zipfile.ZipFile(fh) as zf:
            return _zip_loader(zf, path, bool(mmap), map_location, weights_only)
    if mmap:
        raise RuntimeError("mmap can only be used with files saved in the zip format")
    if not head:
        raise EOFError("the file is empty")
    return _legacy_loader(fh, map_location, weights_only)
