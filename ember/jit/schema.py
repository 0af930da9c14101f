"""The call schema of a scripted method: how its arguments become its graph's inputs.

ember.jit.script builds one graph per form of the arguments: which Optional tensors are None,
the values it bakes in (a string, a tuple of sizes), the layout of a list of tensors. The schema
(each parameter's name, kind and default, and the form this graph was built for) travels with
the graph, in memory and in saved files, so a loaded module is called as the original was:
positional or keyword arguments, defaults filled in, numbers passed as Python numbers.
"""
from __future__ import annotations

import inspect
import json

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor

_UNSAVED = object()  # the default of a parameter whose default could not be saved
KINDS = ("tensor", "optional", "int", "float", "bool", "tensors", "static")
SCALAR_CAST = {"int": int, "float": float, "bool": bool}
SCALAR_DTYPES = {int: D.int64, float: D.float64, bool: D.bool}
_WANT = {"tensor": "Tensor (inferred)", "optional": "Optional[Tensor]",
         "tensors": "List[Tensor] or Dict[str, Tensor]"}


def scalar_tensor(x) -> Tensor:
    """A Python bool, int or float as the 0-d tensor a graph takes it as."""
    kind = bool if isinstance(x, bool) else (int if isinstance(x, int) else float)
    return Tensor._wrap_array(np.asarray(x, dtype=SCALAR_DTYPES[kind].np))


def tensor_items(value) -> list:
    """(label, tensor) pairs of a list, tuple or dict of tensors."""
    return list(value.items()) if type(value) is dict else list(enumerate(value))


def as_number(kind: str, value):
    """A one-element tensor passed for an int, float or bool parameter as that Python number
    (TorchScript converts it); any other value as it is."""
    if kind in SCALAR_CAST and isinstance(value, Tensor) and value.numel() == 1:
        return SCALAR_CAST[kind](value.item())
    return value


def check_arg(fn_name: str, name: str, kind: str, value) -> None:
    """TorchScript's error for an argument whose Python type does not fit its parameter."""
    ok = {"tensor": isinstance(value, Tensor),
          "optional": value is None or isinstance(value, Tensor),
          "int": isinstance(value, int) and not isinstance(value, Tensor),
          "bool": type(value) is bool,
          "float": type(value) in (int, float),
          "tensors": isinstance(value, (list, tuple)) and all(
              isinstance(v, Tensor) for v in value) or isinstance(value, dict) and all(
              isinstance(k, str) and isinstance(v, Tensor) for k, v in value.items()),
          "static": True}[kind]
    if not ok:
        raise RuntimeError(f"{fn_name}() Expected a value of type '{_WANT.get(kind, kind)}' for "
                           f"argument '{name}' but instead found type '{type(value).__name__}'.")


def flat_inputs(kinds: dict, bound: dict) -> list[Tensor]:
    """The graph's inputs for bound arguments: tensors, and numbers as 0-d tensors."""
    out = []
    for name, value in bound.items():
        kind = kinds[name]
        if isinstance(value, Tensor):
            out.append(value)
        elif kind == "tensors":
            out += [v for _, v in tensor_items(value)]
        elif kind in SCALAR_CAST:
            out.append(scalar_tensor(SCALAR_CAST[kind](value)))
    return out


def _plain(value):
    """value as JSON data (tuples as lists), or None when it has no JSON form."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None


def _form(kind: str, value, fixed: bool = False):
    """What a graph fixes about an argument of this kind: whether an Optional was a tensor, a
    tensor list's type and keys, a baked-in value (its JSON form, else its repr; numbers only
    when `fixed`, as library code read them as Python values)."""
    if kind in SCALAR_CAST:
        if not fixed:
            return None
        number = value.item() if isinstance(value, Tensor) else value
        return {"value": _plain(SCALAR_CAST[kind](number))}
    if kind == "optional":
        return value is not None
    if kind == "tensors":
        return {"type": type(value).__name__, "keys": [k for k, _ in tensor_items(value)]}
    if kind == "static":
        plain = _plain(value)
        return {"value": plain} if plain is not None or value is None else {"repr": repr(value)}
    return None


class CallSchema:
    """Parameters (name, kind, default) of a scripted method and the argument form its graph
    was built for; `flatten(args, kwargs)` gives the graph's inputs for a call."""

    def __init__(self, name: str, params: list[dict]):
        self.name = name
        self.params = params
        self.kinds = {p["name"]: p["kind"] for p in params}
        self.signature = inspect.Signature([
            inspect.Parameter(p["name"], inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              default=p["default"] if "default" in p else
                              _UNSAVED if "unsaved_default" in p else inspect.Parameter.empty)
            for p in params])

    @classmethod
    def of(cls, name: str, sig: inspect.Signature, kinds: dict, bound: dict,
           specialized: set = frozenset()) -> "CallSchema":
        """The schema of a graph built for `bound`; `specialized` names the number arguments
        whose values it bakes in."""
        params = []
        for p in sig.parameters.values():
            entry = {"name": p.name, "kind": kinds[p.name]}
            if p.default is not inspect.Parameter.empty:
                plain = _plain(p.default)
                if plain is not None or p.default is None:
                    entry["default"] = plain
                else:
                    entry["unsaved_default"] = repr(p.default)
            form = _form(entry["kind"], bound[p.name], p.name in specialized)
            if form is not None:
                entry["form"] = form
            params.append(entry)
        return cls(name, params)

    def flatten(self, args: tuple, kwargs: dict) -> list[Tensor]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.name}(): {e}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        for p in self.params:
            name, kind = p["name"], p["kind"]
            value = values[name] = as_number(kind, values[name])
            if value is _UNSAVED:
                raise TypeError(f"{self.name}(): pass argument '{name}': its default "
                                f"({p['unsaved_default']}) has no form a file can keep")
            check_arg(self.name, name, kind, value)
            if "form" in p and _form(kind, value, True) != p["form"]:
                raise RuntimeError(
                    f"{self.name}() was scripted for {name}={_shown(kind, p['form'])}, not "
                    f"{_shown(kind, _form(kind, value, True))}: a graph serves one form of "
                    "such arguments, and save() writes the one of the last call. Call the "
                    "scripted module that way just before saving it.")
        return flat_inputs(self.kinds, values)

    def arity(self) -> int:
        """How many graph inputs a call gives (a check on a loaded file)."""
        count = {"tensor": 1, "int": 1, "float": 1, "bool": 1, "static": 0}
        total = 0
        for p in self.params:
            form = p.get("form")
            if p["kind"] == "optional":
                total += form
            elif p["kind"] == "tensors":
                total += len(form["keys"])
            else:
                total += count[p["kind"]]
        return total

    def to_json(self) -> dict:
        return {"name": self.name, "params": self.params}

    @classmethod
    def from_json(cls, data) -> "CallSchema":
        """The schema saved in a file; ValueError naming what is malformed."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or \
                not isinstance(data.get("params"), list):
            raise ValueError("malformed call schema")
        seen = set()
        for p in data["params"]:
            if not isinstance(p, dict) or not isinstance(p.get("name"), str) or \
                    not p["name"].isidentifier() or p["name"] in seen or \
                    p.get("kind") not in KINDS or not _form_fits(p["kind"], p.get("form")):
                raise ValueError(f"malformed call schema parameter {p!r}")
            seen.add(p["name"])
        return cls(data["name"], data["params"])


def _form_fits(kind: str, form) -> bool:
    """Whether a loaded parameter's form has the shape `_form` gives for its kind."""
    if kind == "optional":
        return type(form) is bool
    if kind == "tensors":
        return isinstance(form, dict) and form.get("type") in ("list", "tuple", "dict") and \
            isinstance(form.get("keys"), list)
    if kind == "static":
        return isinstance(form, dict) and len(form) == 1 and ("value" in form or (
            isinstance(form.get("repr"), str)))
    return form is None or isinstance(form, dict) and len(form) == 1 and "value" in form


def _shown(kind: str, form) -> str:
    if kind == "optional":
        return "a tensor" if form else "None"
    if kind == "tensors":
        return f"a {form['type']} with keys {form['keys']}"
    return repr(form.get("value", form.get("repr")))
