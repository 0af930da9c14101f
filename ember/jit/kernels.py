"""Fused pointwise kernels: one generated function runs a whole chain of elementwise ops
(on the CPU; cuda_kernels.py builds them for CUDA devices).

Each fusable op has a lowering here: a scalar expression for numba kernels and a NumPy ufunc
for the fallback. (OpDefs carry `pointwise=True` but no scalar form, so the forms live in this
table; an op without an entry is simply not fused.)

With numba installed (`pip install 'ember[jit]'`) a fused node becomes an
`njit(parallel=True, fastmath={"nsz", "contract"}, error_model="numpy", cache=True)` loop
nest (NaN and infinities kept as eager has them) whose source is
written to a file named by a hash of the fused group's IR (and of this generator and numba's
version) in the cache directory (`cache_dir()`: EMBER_CACHE_DIR, default ~/.cache/ember) and
imported, so numba's on-disk cache makes a second process start warm (`cache_info()` counts
the hits). Without numba (or with EMBER_JIT_FUSER=numpy) the chain runs as NumPy ufunc calls
that write into reused buffers (`out=`).

A kernel takes optional output arrays (`out=`, from the memory plan) and writes its results
there; an output array may be one of its full-shape operands (elementwise, so in place).

A kernel checks its inputs' shapes against the broadcasting pattern it was built for and runs
the chain op by op (each OpDef's forward) when they do not fit. Below NUMBA_MIN elements the
NumPy form runs (numba's call overhead is larger than the work); from PARALLEL_MIN on, the
parallel loop, unless the graph also runs BLAS products (OpDef.blas): OpenBLAS's threads spin
between its calls and numba's OpenMP threads spin after each parallel loop, so alternating
them slowed both several-fold (a jit MLP at batch 512 took 44-52 ms with parallel kernels,
37-41 ms with sequential ones; eager 35-38 ms). Inside such a graph running its products on
numba's threads (openblas.threaded) the parallel loop runs again, from THREADED_MIN on.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import sys
import tempfile
import warnings

import numpy as np

from .. import _dtype as D
from .._backend import conv_kernels as CK
from .._backend import gemm, openblas
from .._backend.accel import cpu_fuser as backend
from .._ops.conv import check_kernel_fits, pool_window
from .._ops.dispatch import _as_array
from .._ops.registry import REGISTRY
from .ir import Graph, Node, Value, encode, substitute

NUMBA_MIN = 1 << 14
PARALLEL_MIN = 1 << 18
ROWS_CONV_MAX_BATCH = 4
_FLOATS = (D.float32, D.float64)


class _Lowering:
    """How one op is written inside a fused kernel."""

    __slots__ = ("arity", "scalar", "ufunc", "attrs", "bool_args", "bool_out", "fast64")

    def __init__(self, arity, scalar, ufunc=None, attrs=(), bool_args=(), bool_out=False,
                 fast64=True):
        self.arity = arity if isinstance(arity, tuple) else (arity,)
        self.scalar = scalar
        self.ufunc = ufunc
        self.attrs = attrs
        self.bool_args = bool_args
        self.bool_out = bool_out
        self.fast64 = fast64


def _binary(sym, ufunc):
    return _Lowering(2, lambda a, attrs, typed, f32: f"{a[0]} {sym} {a[1]}", ufunc)


def _compare(sym, ufunc):
    return _Lowering(2, lambda a, attrs, typed, f32: f"{a[0]} {sym} {a[1]}", ufunc,
                     bool_out=True)


def _unary(template, ufunc, **kw):
    return _Lowering(1, lambda a, attrs, typed, f32: template.format(a[0]), ufunc, **kw)


def _math(fn, fn32, ufunc):
    return _Lowering(1, lambda a, attrs, typed, f32: f"{fn32 if f32 else fn}({a[0]})", ufunc,
                     fast64=False)


def add_form(sign):
    """a + b (or a - b), times alpha when there is one: source text for numba and C alike."""
    def scalar(a, attrs, typed, f32):
        alpha = attrs.get("alpha", 1)
        return f"{a[0]} {sign} {a[1]}" if alpha == 1 else f"{a[0]} {sign} {typed(alpha)} * {a[1]}"
    return scalar


def _pow(a, attrs, typed, f32):
    return f"{a[0]} ** {a[1]}"


def _sigmoid(a, attrs, typed, f32):
    return f"{typed(1)} / ({typed(1)} + {'exp32' if f32 else 'math.exp'}(-{a[0]}))"


def _relu(a, attrs, typed, f32):
    return f"({typed(0)} if {a[0]} < {typed(0)} else {a[0]})"


def gelu_expression(x: str, approximate: str, typed, tanh: str, erf: str) -> str:
    """gelu of the expression `x` as source text (numba's Python and CUDA C alike): constants
    through `typed`, with the named tanh and erf functions."""
    if approximate == "tanh":
        inner = f"{typed(0.7978845608028654)} * ({x} + {typed(0.044715)} * {x} * {x} * {x})"
        return f"{typed(0.5)} * {x} * ({typed(1)} + {tanh}({inner}))"
    return f"{typed(0.5)} * {x} * ({typed(1)} + {erf}({x} * {typed(0.7071067811865476)}))"


def _gelu(a, attrs, typed, f32):
    return gelu_expression(a[0], attrs.get("approximate", "none"), typed,
                           "tanh32" if f32 else "math.tanh", "erf32" if f32 else "math.erf")


def _clamp(a, attrs, typed, f32):
    which = attrs.get("which", "both")
    if which == "min":
        return f"max({a[0]}, {a[1]})"
    if which == "max":
        return f"min({a[0]}, {a[1]})"
    return f"min(max({a[0]}, {a[1]}), {a[2]})"


LOWERINGS = {
    "add": _Lowering(2, add_form("+"), "add", attrs=("alpha",)),
    "sub": _Lowering(2, add_form("-"), "subtract", attrs=("alpha",)),
    "mul": _binary("*", "multiply"),
    "div": _Lowering(2, lambda a, attrs, typed, f32: f"{a[0]} / {a[1]}", "true_divide",
                     attrs=("rounding_mode",)),
    "pow": _Lowering(2, _pow, "power", fast64=False),
    "neg": _unary("-{}", "negative"),
    "abs": _unary("abs({})", "absolute"),
    "sign": _Lowering(1, lambda a, attrs, typed, f32: (  # torch: the sign of NaN is 0
        f"({typed(1)} if {a[0]} > {typed(0)} else ({typed(-1)} if {a[0]} < {typed(0)} "
        f"else {typed(0)}))"), None),
    "sqrt": _unary("math.sqrt({})", "sqrt"),
    "exp": _math("math.exp", "exp32", "exp"),
    "log": _math("math.log", "math.log", "log"),
    "sin": _math("math.sin", "math.sin", "sin"),
    "cos": _math("math.cos", "math.cos", "cos"),
    "tanh": _math("math.tanh", "tanh32", "tanh"),
    "erf": _math("math.erf", "erf32", None),
    "sigmoid": _Lowering(1, _sigmoid, None, fast64=False),
    "relu": _Lowering(1, _relu, None),
    "gelu": _Lowering(1, _gelu, None, attrs=("approximate",), fast64=False),
    # NaN wins either way round, as in torch (Python's max keeps its first argument)
    "maximum": _Lowering(2, lambda a, attrs, typed, f32: (
        f"({a[0]} if ({a[0]} != {a[0]} or {a[0]} > {a[1]}) else {a[1]})"), "maximum"),
    "minimum": _Lowering(2, lambda a, attrs, typed, f32: (
        f"({a[0]} if ({a[0]} != {a[0]} or {a[0]} < {a[1]}) else {a[1]})"), "minimum"),
    "reciprocal": _Lowering(1, lambda a, attrs, typed, f32: f"{typed(1)} / {a[0]}",
                            "reciprocal"),
    "rsqrt": _Lowering(1, lambda a, attrs, typed, f32: f"{typed(1)} / math.sqrt({a[0]})", None),
    "clamp": _Lowering((2, 3), _clamp, None, attrs=("which",)),
    "where": _Lowering(3, lambda a, attrs, typed, f32: f"({a[1]} if {a[0]} else {a[2]})",
                       None, bool_args=(0,)),
    "eq": _compare("==", "equal"),
    "ne": _compare("!=", "not_equal"),
    "lt": _compare("<", "less"),
    "le": _compare("<=", "less_equal"),
    "gt": _compare(">", "greater"),
    "ge": _compare(">=", "greater_equal"),
}


def compute_dtype(node: Node, any_device: bool = False):
    """The float dtype a fusable node computes in, or None when it is not fusable (on the CPU,
    or a CUDA device where cuda_kernels has its C form; `any_device`: wherever it is)."""
    low = LOWERINGS.get(node.op)
    opdef = REGISTRY.get(node.op)
    if low is None or opdef is None or not opdef.pointwise or node.inplace or \
            len(node.args) not in low.arity or len(node.outputs) != 1 or node.result is not None:
        return None
    if any(k not in low.attrs for k in node.attrs) or \
            node.attrs.get("rounding_mode") is not None or \
            node.attrs.get("approximate", "none") not in ("none", "tanh") or \
            (node.op == "clamp" and len(node.args) != (3 if node.attrs.get(
                "which", "both") == "both" else 2)):
        return None
    if "alpha" in node.attrs and type(node.attrs["alpha"]) not in (int, float):
        return None
    dtypes = {a.type.dtype for i, a in enumerate(node.args)
              if isinstance(a, Value) and i not in low.bool_args}
    cdt = node.compute or (dtypes.pop() if len(dtypes) == 1 else None)
    if cdt not in _FLOATS or any(d is not cdt for d in dtypes):
        return None
    for i, a in enumerate(node.args):
        if i in low.bool_args:
            if not isinstance(a, Value) or a.type.dtype is not D.bool:
                return None
        elif not isinstance(a, Value) and type(a) not in (int, float, bool):
            return None
    out = node.outputs[0].type
    if out.dtype is not (D.bool if low.bool_out else cdt):
        return None
    if not any_device and out.device != "cpu":
        from .cuda_kernels import C_FORMS
        if not out.device.startswith("cuda") or node.op not in C_FORMS:
            return None
    return cdt


# ---- backends ------------------------------------------------------------------------------
def cache_dir() -> str:
    """Where generated kernel files live: EMBER_JIT_CACHE when set, else the `jit` folder of
    EMBER_CACHE_DIR (default ~/.cache/ember, or $XDG_CACHE_HOME/ember)."""
    folder = os.environ.get("EMBER_JIT_CACHE")
    if folder:
        return folder
    root = os.environ.get("EMBER_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        root = os.path.join(base, "ember")
    return os.path.join(root, "jit")


_CACHE_COUNTS = {"kernel_files_found": 0, "kernel_files_written": 0}
_generator_hash = None


def cache_info() -> dict:
    """On-disk cache activity of this process: kernel files found or written, and numba's
    compiled-code cache hits and misses over the fused kernels called so far."""
    hits = misses = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("ember_jit_fused_"):
            continue
        for fn in vars(module).values():
            stats = getattr(fn, "stats", None)
            if stats is not None and hasattr(stats, "cache_hits"):
                hits += sum(stats.cache_hits.values())
                misses += sum(stats.cache_misses.values())
    return dict(_CACHE_COUNTS, numba_cache_hits=hits, numba_cache_misses=misses)


def ir_hash(body: Graph) -> str:
    """A hash of a fused group's IR (op names, literals, promotion dtypes and value types,
    values numbered by position), of this generator's code and of numba's version: equal
    groups in any process get the same kernel file."""
    global _generator_hash
    if _generator_hash is None:
        import numba

        from . import _numba_math
        digest = hashlib.sha256(numba.__version__.encode())
        for path in (__file__, _numba_math.__file__):
            with open(path, "rb") as fh:
                digest.update(fh.read())
        _generator_hash = digest.hexdigest()
    order = {v.id: k for k, v in enumerate(body.inputs)}

    def slot(v):
        return Value(order[v.id], v.type)
    rows = [[v.type.to_json() for v in body.inputs]]
    for node in body.nodes:
        for v in node.outputs:
            order[v.id] = len(order)
        rows.append([node.op, encode(substitute(node.args, slot)),
                     encode(substitute(node.attrs, slot)),
                     node.compute and node.compute.name, node.result and node.result.name,
                     [v.type.to_json() for v in node.outputs]])
    rows.append([order[v.id] for v in body.outputs])
    text = json.dumps(rows, sort_keys=True) + _generator_hash
    return hashlib.sha256(text.encode()).hexdigest()


class _Plan:
    """The static facts of one fused node: operand roles and the scalar program."""

    def __init__(self, node: Node):
        body: Graph = node.body
        self.body = body
        out0 = body.outputs[0].type
        self.shape = out0.shape
        self.ndim = len(self.shape)
        self.out_dtypes = [v.type.dtype for v in body.outputs]
        self.inputs = body.inputs
        # per operand: "full" (the group's shape), "unit" (one element) or a broadcast pattern
        self.roles = []
        for v in body.inputs:
            s = v.type.shape
            if s == self.shape:
                self.roles.append("full")
            elif _numel(s) == 1 and self.ndim:
                self.roles.append("unit")
            else:
                pad = (1,) * (self.ndim - len(s)) + s
                self.roles.append(tuple(d != 1 for d in pad))
        self.anchor = self.roles.index("full")
        self.f64_slow = any(not LOWERINGS[n.op].fast64 and compute_dtype(n) is D.float64
                            for n in body.nodes)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _typed(x, dtype) -> str:
    """A Python scalar as a float constant of `dtype` in numba source."""
    value = float(x)
    name = "np.float32" if dtype is D.float32 else "np.float64"
    if math.isfinite(value):
        return f"{name}({value!r})"
    return f"{name}({'np.nan' if math.isnan(value) else ('np.inf' if value > 0 else '-np.inf')})"


def _scalar_program(plan: _Plan, loads: list[str]) -> list[str]:
    """Lines computing every body value from the operand loads `loads` (one per input);
    every float result is cast to its dtype so numba never widens float32 math."""
    names = {v.id: f"x{k}" for k, v in enumerate(plan.inputs)}
    lines = [f"x{k} = {load}" for k, load in enumerate(loads)]
    for k, node in enumerate(plan.body.nodes):
        low = LOWERINGS[node.op]
        cdt = compute_dtype(node)
        f32 = cdt is D.float32
        args = [names[a.id] if isinstance(a, Value) else _typed(a, cdt) for a in node.args]
        if node.op == "pow" and not isinstance(node.args[1], Value) and \
                node.args[1] in (2, 3, 0.5, -0.5):
            exponent = node.args[1]
            expr = (f"math.sqrt({args[0]})" if exponent == 0.5
                    else f"{_typed(1, cdt)} / math.sqrt({args[0]})" if exponent == -0.5
                    else " * ".join([args[0]] * int(exponent)))
        else:
            expr = low.scalar(args, node.attrs, lambda x, cdt=cdt: _typed(x, cdt), f32)
        names[node.outputs[0].id] = f"t{k}"
        cast = "" if low.bool_out else ("np.float32" if f32 else "np.float64")
        lines.append(f"t{k} = {cast}({expr})")
    plan.value_names = names
    return lines


def _numba_source(plan: _Plan) -> str:
    n_out = len(plan.body.outputs)
    outs = [f"o{k}" for k in range(n_out)]
    ins = [f"a{k}" for k in range(len(plan.inputs))]
    params = ", ".join(outs + ins)
    text = ["import math", "", "import numpy as np", "from numba import njit, prange", "",
            "from ember.jit._numba_math import erf32, exp32, tanh32  # noqa: F401", ""]
    # only sign-of-zero freedom and multiply-add contraction: the no-NaN/no-inf assumptions
    # broke erf(inf), 1 / 0 and maximum with NaN, and approximate reciprocals 1 / sqrt(0)
    opts = ('fastmath={"nsz", "contract"}, error_model="numpy", '
            'cache=True')
    variants = []
    flat_ok = all(r in ("full", "unit") for r in plan.roles)
    if flat_ok:
        loads = [f"a{k}[i]" if r == "full" else f"a{k}[0]" for k, r in enumerate(plan.roles)]
        variants.append(("flat", loads))
    nd = max(plan.ndim, 1)
    idx = [f"i{j}" for j in range(nd)]
    loads = []
    for k, r in enumerate(plan.roles):
        if r == "full":
            sub = idx
        elif r == "unit":
            sub = ["0"] * nd
        else:
            sub = [i if keep else "0" for i, keep in zip(idx, r)]
        loads.append(f"a{k}[{', '.join(sub)}]")
    variants.append(("nd", loads))
    for kind, loads in variants:
        body = _scalar_program(plan, loads)
        target = "i" if kind == "flat" else ", ".join(idx)
        stores = [f"o{k}[{target}] = {plan.value_names[v.id]}"
                  for k, v in enumerate(plan.body.outputs)]
        for parallel in (True, False):
            name = f"{kind}_{'par' if parallel else 'seq'}"
            text.append(f"@njit(parallel={parallel}, {opts})")
            text.append(f"def {name}({params}):")
            loop_vars = ["i"] if kind == "flat" else idx
            indent = "    "
            for j, var in enumerate(loop_vars):
                rng = "prange" if parallel and j == 0 else "range"
                text.append(f"{indent}for {var} in {rng}(o0.shape[{j}]):")
                indent += "    "
            text += [indent + line for line in body + stores]
            text.append("")
            text.append("")
    return "\n".join(text).rstrip() + "\n"


def _load_module(key: str, source: str):
    """Import generated kernel source from a file named by `key` (numba caches per file, so
    the file is written once and a later process finds numba's compiled code next to it)."""
    name = f"ember_jit_fused_{key[:24]}"
    if name in sys.modules:
        return sys.modules[name]
    folder = cache_dir()
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        folder = os.path.join(tempfile.gettempdir(), "ember-jit")
        os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".py")
    if os.path.exists(path):
        _CACHE_COUNTS["kernel_files_found"] += 1
    else:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
        _CACHE_COUNTS["kernel_files_written"] += 1
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


# ---- the NumPy fallback ----------------------------------------------------------------------
def _numpy_source(plan: _Plan, fn_name: str, bind) -> str:
    """A function running the chain with ufuncs, writing into buffers that are free again;
    output k goes into the array `o<k>` when one is given (the memory plan's buffer)."""
    body = plan.body
    names = {v.id: f"x{k}" for k, v in enumerate(plan.inputs)}
    last_use: dict[int, int] = {}
    for k, node in enumerate(body.nodes):
        for v in node.inputs():
            last_use[v.id] = k
    keep = {v.id: k for k, v in enumerate(body.outputs)}
    temps: dict[str, D.dtype] = {}
    params = [names[v.id] for v in plan.inputs] + [f"o{k}=None" for k in range(len(keep))]
    lines = [f"def {fn_name}({', '.join(params)}):", "    ctx = Context()"]
    for k, node in enumerate(body.nodes):
        low = LOWERINGS[node.op]
        out = node.outputs[0]
        opdef = REGISTRY[node.op]
        cdt = compute_dtype(node)
        args = [names[a.id] if isinstance(a, Value) else _np_literal(a, bind) for a in node.args]
        ufunc = low.ufunc or ("maximum" if node.op == "relu" else None)
        if node.op == "relu":
            args.append("0")
        if node.attrs or node.op == "pow" and node.args[1] in (0.5, -0.5):
            ufunc = None  # the OpDef's forward: attributes, or torch's (reciprocal) square root
        reuse = None
        if plan.ndim and ufunc:
            for a in node.args:
                if isinstance(a, Value) and names.get(a.id) in temps and \
                        temps[names[a.id]] is out.type.dtype and last_use[a.id] == k and \
                        a.id not in keep:
                    reuse = names[a.id]
                    break
        given = f"o{keep[out.id]}" if out.id in keep and plan.ndim else None
        target = reuse or f"t{k}"
        if ufunc:
            dest = given or reuse
            call = f"np.{ufunc}({', '.join(args)}" + (f", out={dest})" if dest else ")")
            # only ufunc results are fresh buffers that later nodes may write into
            temps[target] = out.type.dtype
            given = None
        else:
            positions = range(len(args)) if opdef.promote_args is None else opdef.promote_args
            args = [bind(_as_array(a, cdt, np, opdef)) if i in positions and
                    not isinstance(a, Value) else text
                    for i, (a, text) in enumerate(zip(node.args, args))]
            kw = "".join(f", {key}={bind(val)}" for key, val in node.attrs.items())
            call = f"{bind(opdef.forward)}(ctx, np, {', '.join(args)}{kw})"
        lines.append(f"    {target} = {call}")
        if given:
            lines.append(f"    if {given} is not None:")
            lines.append(f"        {given}[...] = {target}")
            lines.append(f"        {target} = {given}")
        names[out.id] = target
    rets = [names[v.id] for v in body.outputs]
    if not plan.ndim:
        rets = [f"np.asarray({r})" for r in rets]
    lines.append(f"    return ({''.join(r + ', ' for r in rets)})")
    return "\n".join(lines) + "\n"


def _np_literal(a, bind) -> str:
    if type(a) in (int, bool) or type(a) is float and math.isfinite(a):
        return repr(a)
    return bind(a)


class FusedKernel:
    """Callable running one fused node on raw arrays; returns a tuple of output arrays."""

    def __init__(self, node: Node, use_numba: bool, parallel: bool = True):
        from .codegen import RunContext, compile_graph
        plan = _Plan(node)
        self.plan = plan
        self.parallel = parallel
        self.unfused = compile_graph(node.body, [], "unfused", fused_builder=None, memory=False).fn
        glob = {"np": np, "Context": RunContext}

        def bind(obj):
            name = f"g{len(glob)}"
            glob[name] = obj
            return name
        self.numpy_source = _numpy_source(plan, "fused", bind)
        exec(compile(self.numpy_source, "<ember.jit fused>", "exec"), glob)  # noqa: S102
        self.numpy_fn = glob["fused"]
        self.numba = None
        self.numba_source = None
        if use_numba and not plan.f64_slow and plan.ndim:
            self.numba_source = _numba_source(plan)
            try:
                self.numba = _load_module(ir_hash(node.body), self.numba_source)
            except Exception as e:  # noqa: BLE001 - any failure means: run with NumPy
                warnings.warn(f"ember.jit: numba could not load a fused kernel ({e}); "
                              "running it with NumPy", RuntimeWarning, stacklevel=2)
        self.expected = self._shape_checks()
        self.flat_ok = self.numba is not None and hasattr(self.numba, "flat_par")

    def _shape_checks(self):
        """Per operand: None (must equal the anchor's shape), 'unit', or a function of the
        anchor shape giving the operand's required shape."""
        checks = []
        plan = self.plan
        for v, role in zip(plan.inputs, plan.roles):
            if role in ("full", "unit"):
                checks.append(role)
            else:
                rank = len(v.type.shape)
                keep = role[plan.ndim - rank:]
                checks.append((rank, keep))
        return checks

    def _fits(self, arrays, shape) -> bool:
        for arr, check in zip(arrays, self.expected):
            if check == "full":
                if arr.shape != shape:
                    return False
            elif check == "unit":
                if arr.size != 1:
                    return False
            else:
                rank, keep = check
                tail = shape[len(shape) - rank:]
                if arr.ndim != rank or any(a != (t if k else 1)
                                           for a, t, k in zip(arr.shape, tail, keep)):
                    return False
        return True

    def __call__(self, *arrays, out=None):
        """Run on `arrays`; `out` optionally gives, per output, an array of the output's
        shape and dtype to write into (None: allocate)."""
        plan = self.plan
        anchor = arrays[plan.anchor]
        shape = anchor.shape
        if len(shape) != plan.ndim or not self._fits(arrays, shape):
            return _into(self.unfused(list(arrays), []), out)
        size = anchor.size
        if self.numba is None or size < NUMBA_MIN:
            return self.numpy_fn(*arrays, *out) if out is not None else self.numpy_fn(*arrays)
        outs = [np.empty(shape, dt.np) for dt in plan.out_dtypes] if out is None else \
            [np.empty(shape, dt.np) if o is None else o for o, dt in zip(out, plan.out_dtypes)]
        if self.flat_ok and all(r != "full" or a.flags.c_contiguous
                                for a, r in zip(arrays, plan.roles)) and \
                all(o.flags.c_contiguous for o in outs):
            args = [o.reshape(-1) for o in outs] + [a.reshape(-1) for a in arrays]
            kind = "flat"
        else:
            args = outs + [_padded(a, plan.ndim) for a in arrays]
            kind = "nd"
        parallel = (size >= PARALLEL_MIN and self.parallel
                    or size >= openblas.THREADED_MIN and openblas.threaded())
        fn = getattr(self.numba, f"{kind}_{'par' if parallel else 'seq'}")
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - a numba typing failure: fall back for good
            warnings.warn(f"ember.jit: numba failed on a fused kernel ({type(e).__name__}: "
                          f"{str(e)[:200]}); running it with NumPy", RuntimeWarning,
                          stacklevel=2)
            self.numba = None
            return self(*arrays, out=out)
        return tuple(outs)


def _into(results, out):
    """`results` copied into the given output arrays (where given)."""
    if out is None:
        return results
    done = []
    for r, o in zip(results, out):
        if o is not None:
            o[...] = r
            r = o
        done.append(r)
    return tuple(done)


def _padded(arr, ndim: int):
    if arr.ndim == ndim:
        return arr
    return arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)


def build_fused(node: Node, device: str, parallel: bool = True):
    """The callable that runs a fused node on `device`: numba or NumPy on the CPU, a CuPy
    ElementwiseKernel on CUDA devices (cuda_kernels.py). `parallel=False` keeps numba kernels
    on one thread (beside BLAS products: OpDef.blas)."""
    if device.startswith("cuda"):
        from .cuda_kernels import CudaFusedKernel
        return CudaFusedKernel(node)
    if device != "cpu":
        raise RuntimeError(f"fused pointwise kernels run on the CPU and CUDA devices only "
                           f"(got {device})")
    return FusedKernel(node, backend() == "numba", parallel)


# ---- out= forms of other ops (used by the memory plan) --------------------------------------
def matmul_into(a, b, out):
    """a @ b written into `out`; with b 2-D, a contiguous batch of rows runs as one GEMM, and
    a few rows times a transposed matrix as gemm.matmul does."""
    if b.ndim > 2:
        return gemm.batched(np, a, b, out=out)
    if a.ndim > 2 and a.flags.c_contiguous and out.flags.c_contiguous:
        gemm.matmul(np, a.reshape(-1, a.shape[-1]), b, out=out.reshape(-1, out.shape[-1]))
        return out
    if a.ndim == 2:
        return gemm.matmul(np, a, b, out=out)
    return np.matmul(a, b, out=out)


def max_pool_values(x, kernel, stride, padding, dilation, ceil_mode=False, outs=None,
                    out=None):
    """The values of the max_pool op without its argmax indices (inference needs only these).
    A max over a window box is a max over each of its dimensions in turn, so this runs
    sum(kernel) elementwise maxima instead of prod(kernel); NaN propagates, as in torch.
    2x2 windows at stride 2 take the numba kernel where it applies."""
    if outs is None:
        padding, outs = pool_window(x.shape[1:], kernel, stride, padding, dilation, ceil_mode)
    fast = CK.max_pool_2x2(np, x, kernel, stride, padding, dilation, outs, indices=False,
                           out=out)
    if fast is not None:
        return fast[0]
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    cur = CK.pad(np, x, padding, lowest)
    nd = len(kernel)
    for d in reversed(range(nd)):
        k, s, dil, o = kernel[d], stride[d], dilation[d], outs[d]
        lead = (slice(None),) * (cur.ndim - nd + d)
        views = [cur[lead + (slice(j * dil, j * dil + (o - 1) * s + 1, s),)] for j in range(k)]
        dest = out if d == 0 else None
        if k == 1:
            # the result must not be a view of the input (or of the padding scratch)
            if d == 0:
                cur = np.array(views[0]) if dest is None else _into((views[0],), (dest,))[0]
            else:
                cur = views[0]
            continue
        cur = np.maximum(views[0], views[1], out=dest)
        for v in views[2:]:
            np.maximum(cur, v, out=cur)
    return cur


def conv2d_values(x, w, b, stride, padding, dilation, groups, out=None):
    """The convolution op's forward for inference, into `out` when given. A stride-1 2-D
    convolution of a small batch runs as one GEMM over rows of the padded input: each column
    holds a whole padded row span (so the im2col copy moves long contiguous runs), the bias
    rides along as a row of ones, and the columns past the output width are dropped at the
    end. Other cases run the op's kernel."""
    check_kernel_fits(x.shape[2:], padding, w.shape[2:], dilation)
    n, c = x.shape[:2]
    if x.ndim != 4 or groups != 1 or tuple(stride) != (1, 1) or n > ROWS_CONV_MAX_BATCH or \
            x.dtype != w.dtype or x.dtype.kind != "f" or x.dtype.itemsize < 4:
        y, _ = CK.conv(np, x, w, b, stride, padding, dilation, groups)
        return _into((y,), None if out is None else (out,))[0]
    o, _, kh, kw = w.shape
    (top, bottom), (left, right) = padding
    dh, dw = dilation
    hp, wp = x.shape[2] + top + bottom, x.shape[3] + left + right
    ho, wo = hp - (kh - 1) * dh, wp - (kw - 1) * dw
    plane = hp * wp + (kw - 1) * dw
    flat = np.zeros((n, c, plane), x.dtype)
    flat[:, :, :hp * wp].reshape(n, c, hp, wp)[:, :, top:top + x.shape[2],
                                               left:left + x.shape[3]] = x
    span = ho * wp
    item = flat.itemsize
    runs = np.lib.stride_tricks.as_strided(
        flat, (n, c, kh, kw, span),
        (c * plane * item, plane * item, dh * wp * item, dw * item, item), writeable=False)
    k = c * kh * kw
    cols = np.empty((n, k + (b is not None), span), x.dtype)
    cols[:, :k].reshape(n, c, kh, kw, span)[...] = runs
    weights = w.reshape(o, k)
    if b is not None:
        cols[:, k] = 1
        weights = np.concatenate([weights, b.reshape(o, 1).astype(w.dtype)], axis=1)
    y = np.matmul(weights, cols).reshape(n, o, ho, wp)
    if out is None:
        out = np.empty((n, o, ho, wo), x.dtype)
    out[...] = y[..., :wo]
    return out
