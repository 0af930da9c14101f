"""Collation: merge a list of samples into a batch (`default_collate`) or convert one sample's
NumPy arrays and scalars to tensors (`default_convert`), recursing through containers."""
from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable

import numpy as np

import ember

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map"]

_STR_OR_OBJECT_DTYPE = re.compile(r"[SaUO]")
_ERR_FORMAT = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
               "lists; found {}")


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _rebuild_mapping(elem, values: dict):
    """A mapping of `elem`'s type holding `values` (a plain dict when the type can't be built)."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _rebuild_sequence(elem, values: list):
    """A sequence of `elem`'s type holding `values` (a list when the type can't be built)."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, value in enumerate(values):
                clone[i] = value
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def collate(batch: list, *, collate_fn_map: dict | None = None):
    """Merge samples into a batch, dispatching on the first sample's type.

    `collate_fn_map` maps a type (or tuple of types) to `fn(batch, *, collate_fn_map)`; an exact
    type match wins, then the first isinstance match. Mappings, namedtuples and other sequences
    are collated field by field.
    """
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {key: collate([d[key] for d in batch],
                                                    collate_fn_map=collate_fn_map)
                                       for key in elem})
    if _is_namedtuple(elem):
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(samples, collate_fn_map=collate_fn_map)
                   for samples in zip(*batch)]
        # Tuples come back as lists, as in PyTorch.
        return columns if isinstance(elem, tuple) else _rebuild_sequence(elem, columns)
    raise TypeError(_ERR_FORMAT.format(elem_type))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    return ember.stack(batch, 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    if _STR_OR_OBJECT_DTYPE.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERR_FORMAT.format(batch[0].dtype))
    return collate([ember.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return ember.as_tensor(batch)


def collate_float_fn(batch, *, collate_fn_map=None):
    return ember.tensor(batch, dtype=ember.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return ember.tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    ember.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch: list):
    """Merge a list of samples into a batch, the DataLoader's default when batching.

    Tensors are stacked along a new first dimension; NumPy arrays and scalars become tensors;
    Python floats become float64 and ints int64 tensors; strings are grouped as they are;
    dicts, namedtuples and sequences are collated field by field (tuples come back as lists).

    >>> from ember.utils.data import default_collate
    >>> default_collate([(0, 1.5), (1, 2.5)])
    [tensor([0, 1]), tensor([1.5000, 2.5000], dtype=torch.float64)]
    >>> default_collate([{"id": 0, "tag": "a"}, {"id": 1, "tag": "b"}])
    {'id': tensor([0, 1]), 'tag': ['a', 'b']}
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Turn NumPy arrays and scalars inside one sample into tensors (DataLoader's default
    without batching); containers are converted element by element, tuples to lists.

    >>> import numpy as np
    >>> from ember.utils.data import default_convert
    >>> default_convert({"x": np.arange(2), "tag": "a"})
    {'x': tensor([0, 1]), 'tag': 'a'}
    """
    elem_type = type(data)
    if isinstance(data, ember.Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_"):
        if isinstance(data, np.ndarray) and _STR_OR_OBJECT_DTYPE.search(data.dtype.str):
            return data
        return ember.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if _is_namedtuple(data):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data
