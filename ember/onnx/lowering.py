"""How registry ops become ONNX: each OpDef's `onnx` attribute.

An OpDef's `onnx` is None (no lowering), an ONNX op name (an op of the same arity taking the
op's tensor arguments, lowered generically), or a `Lowering`: a function of the lowering
context (see ember.onnx.export: it holds the builder and the node) with the opset range it
supports. The lowering functions live in ember/onnx/ops/ and are attached to the OpDefs with
`@lowers(name)` when ember.onnx is imported, so the op files stay free of ONNX code.
"""
from __future__ import annotations

import inspect

from .. import _dtype as D
from .._ops.registry import REGISTRY
from .errors import Unsupported

OPSETS = (11, 21)


class Lowering:
    """A lowering function, the opsets (lo, hi) it supports and what it emits (`via`, for the
    coverage table)."""

    __slots__ = ("fn", "opsets", "via")

    def __init__(self, fn, opsets: tuple[int, int] = OPSETS, via: str = ""):
        self.fn = fn
        self.opsets = opsets
        self.via = via

    def supports(self, opset: int) -> bool:
        return self.opsets[0] <= opset <= self.opsets[1]

    def __call__(self, ctx):
        return self.fn(ctx)

    def __repr__(self) -> str:
        return f"<onnx lowering via {self.via or self.fn.__name__}, opsets {self.opsets}>"


# Lowerings by op name, including ones whose op is not (or no longer) in the registry.
LOWERINGS: dict[str, Lowering] = {}
_GENERIC: dict[tuple, Lowering] = {}


def lowers(name: str, opsets: tuple[int, int] = OPSETS, via: str = ""):
    """Decorator: make `fn(ctx)` the ONNX lowering of registry op `name`."""
    def wrap(fn):
        low = Lowering(fn, opsets, via)
        LOWERINGS[name] = low
        opdef = REGISTRY.get(name)
        if opdef is not None:
            opdef.onnx = low
        return fn
    return wrap


def attach_all() -> None:
    """Attach every known lowering to its OpDef (for ops registered after ember.onnx)."""
    for name, low in LOWERINGS.items():
        opdef = REGISTRY.get(name)
        if opdef is not None and not isinstance(opdef.onnx, Lowering):
            opdef.onnx = low


def lowering_of(opdef) -> Lowering | None:
    """The Lowering of an OpDef, building the generic one for a plain ONNX op name."""
    onnx = opdef.onnx
    if isinstance(onnx, Lowering) or onnx is None:
        return onnx
    if isinstance(onnx, str):
        key = (opdef.name, onnx)
        low = _GENERIC.get(key)
        if low is None:
            low = _GENERIC[key] = Lowering(_generic(onnx, _attr_defaults(opdef)),
                                           _schema_opsets(onnx), onnx)
        return low
    if callable(onnx):
        return Lowering(onnx, OPSETS, getattr(onnx, "__name__", "custom"))
    raise TypeError(f"OpDef {opdef.name!r} has an unusable onnx attribute {onnx!r}")


def _attr_defaults(opdef) -> dict:
    """The defaults of forward's keyword attributes: a generic lowering accepts only these."""
    try:
        params = inspect.signature(opdef.forward).parameters.values()
    except (AttributeError, TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty}


def _schema_opsets(op_type: str) -> tuple[int, int]:
    """The opsets within ember's range where the default ONNX domain has `op_type`."""
    try:
        from onnx import defs
    except ImportError:
        return OPSETS
    found = [v for v in range(OPSETS[0], OPSETS[1] + 1) if _has_schema(defs, op_type, v)]
    return (found[0], found[-1]) if found else (0, -1)


def _has_schema(defs, op_type: str, version: int) -> bool:
    try:
        defs.get_schema(op_type, version)
    except defs.SchemaError:
        return False
    return True


def _generic(op_type: str, defaults: dict):
    """The lowering of an op named by a plain ONNX op name: promoted tensor arguments in,
    one ONNX node, attributes only at their defaults."""
    def lower(ctx):
        for key, value in ctx.node.attrs.items():
            if key not in defaults or not _same(value, defaults[key]):
                raise Unsupported(f"attribute {key}={value!r} has no ONNX {op_type} equivalent")
        out_bool = ctx.out_dtype(0) is D.bool
        return ctx.b.op(op_type, ctx.promoted(), dtype=D.bool if out_bool else None)
    lower.__name__ = f"generic_{op_type}"
    return lower


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return False
