"""Fused pointwise kernels on the GPU: a fusion group's chain becomes one CuPy
ElementwiseKernel whose CUDA C operation computes every node of the chain per element, so
the chain reads its operands and writes its results once instead of once per op.

`cuda_source(node)` writes the kernel (parameters, operation, helpers) from the C forms below,
one per fusable op, in the compute dtype of each node (float or double, as the CPU kernels);
None when an op of the group has no C form. CuPy broadcasts the operands into the group's
shape and caches compiled kernels on disk by their source, so a second process starts warm.
`CudaFusedKernel` runs it, and falls back to running the group op by op (each OpDef's forward
on CuPy arrays) when CuPy cannot build the kernel.

NaN handling follows torch: maximum, minimum and clamp propagate NaN (CUDA's fmaxf/fminf
would drop it), relu and where pass it through.
"""
from __future__ import annotations

import hashlib
import math
import warnings

from .. import _dtype as D
from .ir import Graph, Node, Value
from .kernels import add_form, gelu_expression

# Helpers the operations call; EMBER_DEVICE is __device__ in a CUDA build (tests compile the
# same text for the host with it empty).
PREAMBLE = """#ifndef EMBER_DEVICE
#define EMBER_DEVICE __device__
#endif
template <typename T> EMBER_DEVICE inline T ember_max(T a, T b) {
    return (a != a) ? a : ((b != b) ? b : (a > b ? a : b));
}
template <typename T> EMBER_DEVICE inline T ember_min(T a, T b) {
    return (a != a) ? a : ((b != b) ? b : (a < b ? a : b));
}
template <typename T> EMBER_DEVICE inline T ember_clamp(T x, T lo, T hi) {
    T t = x < lo ? lo : x;
    return t > hi ? hi : t;
}
"""

_C_TYPES = {D.float32: "float", D.float64: "double", D.bool: "bool"}


def _math(name):
    """A libm function: the float variant (expf) in float32, the double one in float64."""
    return lambda a, attrs, lit, t: f"{name}f({a[0]})" if t == "float" else f"{name}({a[0]})"


def _pow(a, attrs, lit, t):
    fn = "powf" if t == "float" else "pow"
    return f"{fn}({a[0]}, {a[1]})"


def _gelu(a, attrs, lit, t):
    f = "f" if t == "float" else ""
    return gelu_expression(a[0], attrs.get("approximate", "none"), lit, f"tanh{f}", f"erf{f}")


def _clamp(a, attrs, lit, t):
    which = attrs.get("which", "both")
    if which == "min":
        return f"ember_max<{t}>({a[0]}, {a[1]})"
    if which == "max":
        return f"ember_min<{t}>({a[0]}, {a[1]})"
    return f"ember_clamp<{t}>({a[0]}, {a[1]}, {a[2]})"


def _compare(sym):
    return lambda a, attrs, lit, t: f"{a[0]} {sym} {a[1]}"


# op -> form(args as C expressions, attrs, literal maker, C compute type) -> C expression
C_FORMS = {
    "add": add_form("+"),
    "sub": add_form("-"),
    "mul": lambda a, attrs, lit, t: f"{a[0]} * {a[1]}",
    "div": lambda a, attrs, lit, t: f"{a[0]} / {a[1]}",
    "pow": _pow,
    "neg": lambda a, attrs, lit, t: f"-{a[0]}",
    "abs": lambda a, attrs, lit, t: f"{'fabsf' if t == 'float' else 'fabs'}({a[0]})",
    "sign": lambda a, attrs, lit, t: (f"({a[0]} > {lit(0)} ? {lit(1)} : "
                                      f"({a[0]} < {lit(0)} ? {lit(-1)} : {lit(0)}))"),
    "sqrt": _math("sqrt"),
    "exp": _math("exp"),
    "log": _math("log"),
    "sin": _math("sin"),
    "cos": _math("cos"),
    "tanh": _math("tanh"),
    "erf": _math("erf"),
    "sigmoid": lambda a, attrs, lit, t: (f"{lit(1)} / ({lit(1)} + "
                                         f"{'expf' if t == 'float' else 'exp'}(-{a[0]}))"),
    "relu": lambda a, attrs, lit, t: f"({a[0]} < {lit(0)} ? {lit(0)} : {a[0]})",
    "gelu": _gelu,
    "maximum": lambda a, attrs, lit, t: f"ember_max<{t}>({a[0]}, {a[1]})",
    "minimum": lambda a, attrs, lit, t: f"ember_min<{t}>({a[0]}, {a[1]})",
    "reciprocal": lambda a, attrs, lit, t: f"{lit(1)} / {a[0]}",
    "rsqrt": lambda a, attrs, lit, t: (f"{lit(1)} / "
                                       f"{'sqrtf' if t == 'float' else 'sqrt'}({a[0]})"),
    "clamp": _clamp,
    "where": lambda a, attrs, lit, t: f"({a[0]} ? {a[1]} : {a[2]})",
    "eq": _compare("=="),
    "ne": _compare("!="),
    "lt": _compare("<"),
    "le": _compare("<="),
    "gt": _compare(">"),
    "ge": _compare(">="),
}


def _literal(x, ctype: str) -> str:
    """A Python number as a C constant of type `ctype` (NaN and infinities by division)."""
    value = float(x)
    if math.isnan(value):
        return f"(({ctype})0.0 / ({ctype})0.0)"
    if math.isinf(value):
        return f"(({ctype}){'-' if value < 0 else ''}1.0 / ({ctype})0.0)"
    text = repr(value)
    return f"{text}f" if ctype == "float" else text


class CudaSource:
    """A fusion group as an ElementwiseKernel: `in_params`/`out_params` (CuPy's "dtype name"
    lists), the C `operation`, the `preamble` and a `name` from a hash of the three."""

    def __init__(self, in_params: str, out_params: str, operation: str):
        self.in_params = in_params
        self.out_params = out_params
        self.operation = operation
        self.preamble = PREAMBLE
        digest = hashlib.sha256("\n".join((in_params, out_params, operation)).encode())
        self.name = f"ember_fused_{digest.hexdigest()[:16]}"


def cuda_source(node: Node) -> CudaSource | None:
    """The kernel of a fusion node (see the module doc), or None where an op of its chain has
    no C form or a value's dtype has no C type here."""
    from .kernels import compute_dtype
    body: Graph = node.body
    names = {v.id: f"x{k}" for k, v in enumerate(body.inputs)}
    params = []
    for k, v in enumerate(body.inputs):
        if v.type.dtype not in _C_TYPES:
            return None
        params.append(f"{v.type.dtype.name} x{k}")
    lines = []
    for k, n in enumerate(body.nodes):
        form = C_FORMS.get(n.op)
        cdt = compute_dtype(n, any_device=True)
        if form is None or cdt is None:
            return None
        ctype = _C_TYPES[cdt]
        args = [names[a.id] if isinstance(a, Value) else _literal(a, ctype) for a in n.args]
        if n.op == "pow" and not isinstance(n.args[1], Value) and n.args[1] in (2, 3, 0.5, -0.5):
            root = f"{'sqrtf' if ctype == 'float' else 'sqrt'}({args[0]})"
            expr = (root if n.args[1] == 0.5 else f"{_literal(1, ctype)} / {root}"
                    if n.args[1] == -0.5 else " * ".join([args[0]] * int(n.args[1])))
        else:
            expr = form(args, n.attrs, lambda x, c=ctype: _literal(x, c), ctype)
        out = n.outputs[0]
        otype = _C_TYPES[out.type.dtype]
        names[out.id] = f"t{k}"
        lines.append(f"{otype} t{k} = ({otype})({expr});")
    outs = []
    for k, v in enumerate(body.outputs):
        if v.type.dtype not in _C_TYPES:
            return None
        outs.append(f"{v.type.dtype.name} y{k}")
        lines.append(f"y{k} = {names[v.id]};")
    return CudaSource(", ".join(params), ", ".join(outs), "\n".join(lines))


class CudaFusedKernel:
    """Callable running one fused node on CuPy arrays; returns a tuple of output arrays
    (written into `out` where given)."""

    def __init__(self, node: Node):
        from .codegen import compile_graph
        self.unfused = compile_graph(node.body, [], "unfused", memory=False).fn
        self.source = cuda_source(node)
        self.kernel = None
        if self.source is not None:
            import cupy
            s = self.source
            self.kernel = cupy.ElementwiseKernel(s.in_params, s.out_params, s.operation,
                                                 s.name, preamble=s.preamble)

    def __call__(self, *arrays, out=None):
        from .kernels import _into
        if self.kernel is not None:
            try:
                got = self.kernel(*arrays)
                return _into(got if type(got) is tuple else (got,), out)
            except Exception as e:  # noqa: BLE001 - a build failure: run op by op for good
                warnings.warn(f"ember.jit: CuPy could not build a fused kernel "
                              f"({type(e).__name__}: {str(e)[:200]}); running it op by op",
                              RuntimeWarning, stacklevel=2)
                self.kernel = None
        return _into(tuple(self.unfused(list(arrays), [])), out)
