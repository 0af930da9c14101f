"""`python -m ember.testing.coverage`: the op registry as a table of what each op is tested for.

Every row comes from the OpDefs and composite samples themselves, so the table cannot drift
from what tests/_ops/test_registry.py actually runs.
"""
from __future__ import annotations

import sys


def rows():
    """One dict per registry op and composite: name, kind, dtypes, and the checks that run."""
    from .. import nn  # noqa: F401 - nn.functional registers its composites on import
    from .._ops import REGISTRY
    from .._ops.registry import COMPOSITES
    out = []
    for name, op in sorted(REGISTRY.items()):
        out.append(_row(name, "primitive", op.samples, op))
    for name, samples in sorted(COMPOSITES.items()):
        out.append(_row(name, "composite", samples, None))
    return out


def _row(name, kind, samples, op):
    dtypes = sorted({d for s in samples for d in s.dtypes})
    grad = any(s.grad for s in samples)
    return {
        "name": name,
        "kind": kind + (" view" if op is not None and op.is_view else "")
        + (" pointwise" if op is not None and op.pointwise else ""),
        "samples": len(samples),
        "dtypes": dtypes,
        "forward": bool(samples),
        "backward": grad,
        "gradcheck": grad,
        "gradgradcheck": any(s.grad and s.gradgrad for s in samples),
        "onnx": getattr(op, "onnx", None) if op is not None else None,
    }


def public_names():
    """Public functions in the `ember` namespace and public Tensor methods/properties."""
    import ember
    funcs = sorted(n for n in dir(ember) if not n.startswith("_"))
    methods = sorted(n for n in dir(ember.Tensor) if not n.startswith("_")
                     or n in ("__add__", "__getitem__", "__setitem__", "__matmul__"))
    return funcs, methods


def main(argv=None) -> int:
    table = rows()
    short = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
             "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8",
             "bool": "b"}
    print(f"{'op':24s} {'kind':22s} {'n':>3s}  {'fwd bwd gc ggc':14s} {'onnx':14s} dtypes")
    for r in table:
        flags = " ".join("x" if r[k] else "-" for k in ("forward", "backward", "gradcheck",
                                                        "gradgradcheck"))
        print(f"{r['name']:24s} {r['kind']:22s} {r['samples']:3d}  {flags:14s} "
              f"{str(r['onnx'] or '-'):14s} {','.join(short.get(d, d) for d in r['dtypes'])}")
    funcs, methods = public_names()
    prim = sum(r["kind"].startswith("primitive") for r in table)
    print(f"\n{prim} primitives, {len(table) - prim} composites; "
          f"{sum(r['backward'] for r in table)} with gradient checks, "
          f"{sum(r['gradgradcheck'] for r in table)} with double-backward checks")
    print(f"{len(funcs)} public ember.* names, {len(methods)} public Tensor attributes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
