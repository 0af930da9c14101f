"""ember.jit.script: compile the Python source of a function or of a Module's forward into a
graph with control flow (prim::If / prim::Loop blocks).

A small AST interpreter walks the source. Every tensor is a placeholder (a real tensor with
the shape and dtype of the first call's inputs) bound to an IR value; each call of an ember
function, tensor method or library module runs for real on placeholders while the tracer's
recorder appends the ops it dispatches to the current block. Control flow that depends on
tensor values (or on `.item()`/`int()`/... of them) becomes blocks: both branches of an `if`
are compiled, `while` and `for ... in range(...)` become loops with loop-carried values
(tensors, numbers, and tuples/lists/dicts of them). `for` over lists, tuples, dicts and
ModuleLists, and range loops whose body needs its counter as a Python int, are unrolled.
Python values that do not depend on tensors (module attributes, `self.training`, shapes,
lists of modules) are evaluated at compile time, as a trace would, so a graph is built per
input signature (dtypes, shapes, which optional arguments are None).

`return`, `break` and `continue` set flags in the frame's variables (see _RET below); when a
flag depends on tensors the rest of the block runs under a prim::If on it, and a loop hands
"no flag set and the condition holds" to its next iteration. Lists and dicts are values:
`d[k] = v` and `xs.append(v)` rebind the local name to a changed copy, so each path through
the graph sees its own contents.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import inspect
import operator
import textwrap
import types
import typing


from .. import _dtype as D
from .._ops.checks import Assert, Print, ScriptAssertionError, ScriptError, quiet_prints
from .._ops.dispatch import apply
from .._ops.python_call import PythonCall, PythonCallOp, Slot, fill
from .._ops.sizes import Size as SizeOp
from .._tensor import Tensor
from ..autograd.grad_mode import inference_mode, no_grad, set_grad_enabled
from ..nn.modules.container import ModuleList, Sequential
from ..nn.modules.module import Module
from .codegen import identifier, python_code
from .frontend import _module_state, _structure, _tensors_of, sized_graph
from .interpreter import run_graph, run_loop
from .ir import IF, LOOP, Graph, TensorType, Value, substitute
from .passes.dce import eliminate_dead_code
from .runtime import ScriptFunction, ScriptModule, _Method, fits_symbols, module_layout
from .strings import RuntimeStr, StrBuilder, as_text, concat, format_call, joined, percent
from .schema import (SCALAR_DTYPES, SCALAR_CAST, CallSchema, as_number, check_arg, flat_inputs,
                     scalar_tensor, tensor_items)
from .guarded import is_compiling
from .tracer import (NumberLeaf, _Recorder, _Tracing, flatten, is_tracing, record_graph_call,
                     suspended)

_MARK = "_ember_jit_mark"


class NotSupportedError(RuntimeError):
    """A construct ember.jit.script cannot compile (the message quotes the source line)."""


class _TypesDiffer(NotSupportedError):
    """The paths of an if, or the iterations of a loop, give a variable values of types (or
    shapes, or list lengths) one graph value cannot hold."""


_SIZE_READS = ("shape", "size", "numel")  # Tensor attributes that read its sizes
_GRAD_OFF = (no_grad, inference_mode, set_grad_enabled)  # what a scripted 'with' may enter


# ---- decorators ------------------------------------------------------------------------------
def ignore(drop=False, **kwargs):
    """Leave a function to Python: script does not compile its source; the graph calls it
    in Python on every run (so a scripted module calling it cannot be saved). With drop=True
    it is @unused instead. Usable as `@ignore` or `@ignore(drop=...)`."""
    if callable(drop):
        setattr(drop, _MARK, "ignore")
        return drop

    def mark(fn):
        setattr(fn, _MARK, "unused" if drop else "ignore")
        return fn
    return mark


def is_scripting() -> bool:
    """False when run as Python; True in code ember.jit.script compiles, which evaluates the
    call as a constant (torch.jit.is_scripting), so eager-only code can be guarded by it."""
    return False


def unused(fn):
    """Never compile this function: a scripted path that reaches it is a compile error
    (guard its call with a condition known at compile time, e.g. `if self.training:`)."""
    setattr(fn, _MARK, "unused")
    return fn


def export(fn):
    """Compile this method too: the scripted module gets it as a callable attribute."""
    setattr(fn, _MARK, "export")
    return fn


# ---- values the interpreter handles -----------------------------------------------------------
class _Scalar:
    """A Python int/float/bool that depends on tensor data: a 0-d tensor placeholder."""

    __slots__ = ("t", "kind")

    def __init__(self, t: Tensor, kind: type):
        self.t = t
        self.kind = kind


def _kind_of_dtype(dt) -> type:
    if dt is D.bool:
        return bool
    return float if dt.category >= D._FLOAT else int


def _as_tensor(x):
    if isinstance(x, _Scalar):
        return x.t
    if isinstance(x, (bool, int, float)) and not isinstance(x, Tensor):
        return scalar_tensor(x)
    return x


def _unwrap(obj):
    """Arguments for a real call: scalar placeholders become their 0-d tensors."""
    if isinstance(obj, _Scalar):
        return obj.t
    if type(obj) in (tuple, list):
        return type(obj)(_unwrap(o) for o in obj)
    if type(obj) is dict:
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _is_view_of(item, base) -> bool:
    """Whether `item` (base[i]) is a tensor view of the tensor `base` (they share its version
    counter), not a copy (advanced indexing) or an item of a list."""
    return isinstance(item, Tensor) and isinstance(base, Tensor) and item._vbox is base._vbox


def _snapshot(t: Tensor) -> Tensor:
    """`t` as `float(t)`/`int(t)`/`t.item()` see it in Python: a copy (later in-place writes to
    `t` do not change the number) that gradients do not flow through."""
    return t.detach().clone()


def _fresh(t: Tensor) -> Tensor:
    return Tensor._wrap(t._data.copy(), t._dtype, t._device)


# ---- the recorder with block scopes -----------------------------------------------------------
class _ScriptGraph(Graph):
    """A graph whose value ids come from a counter shared by all blocks of one compile."""

    def __init__(self, counter: list):
        super().__init__()
        self._counter = counter

    def new_value(self, type, node=None, index=0, name=None) -> Value:
        v = Value(self._counter[0], type, node, index, name)
        self._counter[0] += 1
        self._next = self._counter[0]
        return v


class _Scope:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.defined: set[int] = set()
        self.caps: list = []
        self.cap_map: dict[int, Value] = {}
        self.before = None
        self.after = None


class _ScriptRecorder(_Recorder):
    """The tracer's recorder, writing into the innermost open block; values of enclosing
    blocks that a block reads become its inputs (captured), so blocks are self-contained.
    Factory calls in the source (ember.zeros(n)) are recorded as ops, so every call builds
    its own tensor (a loop may write into it)."""

    def __init__(self, graph: Graph, state: dict):
        super().__init__(graph, state)
        self.scopes = [_Scope(graph)]
        self.tensors: dict[int, Tensor] = {}
        self.paused = False
        self.scalar_inputs: dict[int, str] = {}  # id of a number argument's tensor -> name
        self.specialized: set[str] = set()  # number arguments library code turned into Python

    def conversion(self, what: str, t: Tensor) -> None:
        """A number argument (or a value computed from number arguments alone) that library
        code (not compiled from source: nn.functional) reads as a Python value specializes
        the graph on their values; anything else is baked with the tracer's warning."""
        if self.paused:  # Python run unrecorded (an ignored function): nothing is baked
            return
        name = self.scalar_inputs.get(id(t))
        names = {name} if name is not None else self.number_arguments([t])
        if names:  # computed from number arguments alone (zeros(n + 1)): a graph per value
            self.specialized |= names
        else:
            super().conversion(what, t)

    @property
    def root(self) -> Graph:
        return self.scopes[0].graph

    def bind(self, t, v) -> None:
        super().bind(t, v)
        self.tensors[v.id] = t

    def define(self, v: Value) -> None:
        self.scopes[-1].defined.add(v.id)

    def __call__(self, op, args, attrs, outputs) -> None:
        if self.paused:
            return
        n = len(self.graph.nodes)
        super().__call__(op, args, attrs, outputs)
        for node in self.graph.nodes[n:]:
            for v in node.outputs:
                self.define(v)

    def value_of(self, t, check=True) -> Value:
        return self.local(super().value_of(t, check))

    def capture(self, obj):
        return substitute(super().capture(obj), self.local)

    def _new_value_for(self, t) -> Value:
        graph, self.graph = self.graph, self.root
        try:
            v = super()._new_value_for(t)
        finally:
            self.graph = graph
        if self.root.constant_name(v) is not None:
            self.scopes[0].defined.add(v.id)
        return v

    def local(self, v: Value) -> Value:
        """`v` as seen from the innermost block (adding captured inputs on the way)."""
        scopes = self.scopes
        if v.id in scopes[-1].defined:
            return v
        depth = next((d for d in range(len(scopes) - 1, -1, -1) if v.id in scopes[d].defined),
                     None)
        if depth is None:
            raise RuntimeError(f"ember.jit.script: value %{v.id} is used outside its scope")
        for scope in scopes[depth + 1:]:
            inner = scope.cap_map.get(v.id)
            if inner is None:
                inner = scope.graph.add_input(v.type)
                self.tensors[inner.id] = self.tensors.get(v.id)
                scope.defined.add(inner.id)
                scope.caps.append((v, inner))
                scope.cap_map[v.id] = inner
                if v.id in self.dynamic:
                    self.dynamic.add(inner.id)
            v = inner
        return v

    def bindings(self):
        return dict(self.by_tensor), dict(self.by_array), dict(self.versions)

    def restore(self, saved) -> None:
        self.by_tensor, self.by_array, self.versions = (dict(s) for s in saved)

    def open(self, scope: _Scope | None = None) -> _Scope:
        self.settle()
        if scope is None:
            scope = _Scope(_ScriptGraph(self.root._counter))
            scope.before = self.bindings()
        else:
            self.restore(scope.after)
        self.scopes.append(scope)
        self.graph = scope.graph
        return scope

    def close(self) -> None:
        self.settle()
        scope = self.scopes.pop()
        scope.after = self.bindings()
        self.restore(scope.before)
        self.graph = self.scopes[-1].graph

    def depends_on(self, value: Value, ids: set) -> bool:
        """Whether `value` is computed from one of the values `ids` (across blocks)."""
        outer = {inner.id: v for scope in self.scopes for v, inner in scope.caps}
        stack, seen = [value], set()
        while stack:
            v = stack.pop()
            if v.id in ids:
                return True
            if v.id in seen:
                continue
            seen.add(v.id)
            if v.node is not None:
                stack += v.node.inputs()
            elif v.id in outer:
                stack.append(outer[v.id])
        return False

    def number_arguments(self, tensors) -> set[str]:
        """The number arguments (names) that the values of `tensors` are computed from; empty
        when they also depend on a tensor argument or on a loop's values."""
        outer = {inner.id: v for scope in self.scopes for v, inner in scope.caps}
        names: set[str] = set()
        seen: set[int] = set()
        stack = [v for v in map(self.lookup, tensors) if v is not None]  # None: a constant
        while stack:
            v = stack.pop()
            while v.id in outer:  # a block's captured value: the value it captured
                v = outer[v.id]
            if v.id in seen:
                continue
            seen.add(v.id)
            if v.node is not None:
                if v.node.blocks:
                    return set()
                stack += v.node.inputs()
                continue
            name = self.scalar_inputs.get(id(self.tensors.get(v.id)))
            if name is not None:
                names.add(name)
            elif self.root.constant_name(v) is None:
                return set()  # a tensor argument, or a loop's own input
        return names

    def run_concrete(self, fn, *args):
        """Run interpreter code on real tensors without recording it."""
        self.settle()
        self.paused = True
        try:
            with quiet_prints():
                return fn(*args)
        finally:
            self.paused = False


# ---- the AST interpreter ----------------------------------------------------------------------
class _Function:
    """A parsed function: its AST, where its source lives and the names it can see."""

    def __init__(self, fn, what: str):
        fn = inspect.unwrap(fn)
        self.fn = fn
        self.name = fn.__name__
        try:
            lines, start = inspect.getsourcelines(fn)
        except (OSError, TypeError) as e:
            raise NotSupportedError(
                f"ember.jit.script: cannot read the source of {what} {fn.__qualname__} ({e}); "
                "script needs functions defined in a .py file. Mark it with "
                "@ember.jit.ignore to run it without compiling.") from None
        self.filename = inspect.getsourcefile(fn) or "<unknown>"
        self.lines = lines
        self.start = start
        try:
            self.tree = ast.parse(textwrap.dedent("".join(lines))).body[0]
        except SyntaxError:  # a lambda's lines cut out of a larger expression
            self.tree = None
        if not isinstance(self.tree, ast.FunctionDef):
            raise self.error(self.tree, f"{what} {fn.__qualname__} is not a plain def "
                                        "(lambdas and async functions are not supported)",
                             "Define it with a plain def.")
        self.globals = fn.__globals__
        closure = inspect.getclosurevars(fn)
        self.closure = dict(closure.nonlocals)
        _Checker(self).visit(self.tree)

    def line_of(self, node) -> tuple[int, str]:
        k = getattr(node, "lineno", 1) - 1
        text = self.lines[k].strip() if 0 <= k < len(self.lines) else ""
        return self.start + k, text

    def error(self, node, what: str, fix: str, kind=NotSupportedError) -> NotSupportedError:
        line, text = self.line_of(node)
        return kind(
            f"ember.jit.script: {what}\n  File \"{self.filename}\", line {line}, in "
            f"{self.name}:\n    {text}\n{fix}")


_UNSUPPORTED = {
    ast.Lambda: ("lambda expressions are not supported", "Define a function with def."),
    ast.Try: ("try/except is not supported", "Remove the try/except around tensor code."),
    ast.Global: ("'global' is not supported", "Pass the value as an argument."),
    ast.Nonlocal: ("'nonlocal' is not supported", "Pass the value as an argument."),
    ast.Yield: ("generators are not supported", "Return a tuple or a list instead."),
    ast.YieldFrom: ("generators are not supported", "Return a tuple or a list instead."),
    ast.Await: ("async code is not supported", "Use a plain function."),
    ast.ClassDef: ("class definitions inside a scripted function are not supported",
                   "Define the class at module level."),
    ast.FunctionDef: ("nested function definitions are not supported",
                      "Define the function at module level (or as a method) and call it."),
    ast.SetComp: ("sets are not supported", "Use a list or a tuple."),
    ast.Set: ("sets are not supported", "Use a list or a tuple."),
    ast.NamedExpr: ("':=' is not supported", "Assign in a statement of its own."),
}


class _Checker(ast.NodeVisitor):
    """Refuse constructs script never compiles, before anything runs."""

    def __init__(self, fn: _Function):
        self.fn = fn
        self.top = True
        self.hinted: set[int] = set()  # the x.tolist() calls whose result type is annotated
        self.returns = False  # whether the function annotates its return type

    def generic_visit(self, node):
        entry = _UNSUPPORTED.get(type(node))
        if entry is not None and not (self.top and isinstance(node, ast.FunctionDef)):
            raise self.fn.error(node, entry[0], entry[1])
        if self.top and isinstance(node, ast.FunctionDef):
            self.returns = node.returns is not None
        self.top = False
        if isinstance(node, ast.AnnAssign) or isinstance(node, ast.Return) and self.returns:
            self.hinted.add(id(node.value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "tolist" and id(node) not in self.hinted:
            raise self.fn.error(node, "the result of .tolist() needs a type hint",
                                "Assign it to an annotated name (xs: List[float] = "
                                "x.tolist()) or return it from a function annotated "
                                "-> List[...].")
        if isinstance(node, ast.FunctionDef):
            a = node.args
            if a.vararg or a.kwarg:
                raise self.fn.error(node, "*args and **kwargs parameters are not supported",
                                    "List the parameters explicitly.")
        super().generic_visit(node)


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow, ast.MatMult: operator.matmul, ast.BitAnd: operator.and_,
           ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift,
           ast.RShift: operator.rshift}
_CMPOPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
           ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}


def _is_user_code(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return not (module == "ember" or module.startswith("ember.") or module == "builtins")


# Exits are flags in a frame's variables: True or False when known at compile time, a bool
# _Scalar when they depend on tensors. After a statement that may have left its block, the rest
# of the block runs under a guard (a prim::If on the flag), so every path of the graph sees
# exactly the statements Python would run.
_RET, _RETVAL, _BRK, _CONT, _NEXT = "$return", "$retval", "$break", "$continue", "$next"
_FLAGS = (_RET, _BRK, _CONT)
_MAX_UNROLL = 256
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "update",
                       "setdefault", "popitem", "reverse", "sort"})


class _Grows(Exception):
    """A loop body changed the sizes of carried tensors (`after`: leaf position -> the
    tensor after one iteration; `names`: their variables); `body` is what its build
    recorded (ops, and sizes read), to compare with a build at the new sizes."""

    def __init__(self, after: dict, body: tuple, names: list):
        super().__init__(names)
        self.after, self.body, self.names = after, body, names


def _varying_reads(first: list, second: list) -> dict:
    """The size reads of two builds of a loop body (at its sizes before and after an
    iteration) that differ: position -> the dims that changed; empty when the builds read
    sizes in different places (then no read explains the difference)."""
    if len(first) != len(second) or any(a[0] != b[0] or len(a[1]) != len(b[1])
                                         for a, b in zip(first, second)):
        return {}
    return {k: tuple(d for d, (n, m) in enumerate(zip(a[1], b[1])) if n != m)
            for k, (a, b) in enumerate(zip(first, second)) if a[1] != b[1]}


def _resized(a: TensorType, b: TensorType) -> bool:
    """Whether b is a with other sizes (same dtype, rank and device)."""
    return a.dtype is b.dtype and a.device == b.device and len(a.shape) == len(b.shape)


class _PathRaises(Exception):
    """A `raise` (or a call of an @unused function) reached while compiling: every run that
    gets here raises. The nearest block whose running depends on tensors (an if's branch, a
    loop's body) ends with a check that fails there; reached outside all of them, the call
    fails while compiling with `at_top`."""

    def __init__(self, message: str, error: str, at_top: Exception):
        super().__init__(message)
        self.message, self.error, self.at_top = message, error, at_top


class _Specialize(Exception):
    """Control flow decided by number arguments alone (`names`) that a graph cannot hold (an
    if whose branches give values of different types, a loop that grows a list): the call is
    compiled again with those arguments' values baked in, one graph per value."""

    def __init__(self, names: set[str]):
        super().__init__(", ".join(sorted(names)))
        self.names = names


class _Missing:
    """A variable one branch of an if does not define."""


_MISSING = _Missing()


class _Conflict:
    """A variable the paths through an if left with types that cannot merge: reading it
    after the if raises the error kept here (Python allows it as long as nothing reads it),
    or specializes the call when the if's condition `cond` depends on number arguments alone."""

    def __init__(self, error: NotSupportedError, cond):
        self.error, self.cond = error, cond


def _assigned(stmts) -> list[str]:
    """Names a statement list assigns or mutates (in order of first assignment): plain
    assignments, `name[k] = v` and `name.append(...)`-style calls on lists and dicts."""
    names: list[str] = []

    def add(name):
        if name not in names:
            names.append(name)
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                add(node.id)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and \
                    isinstance(node.value, ast.Name):
                add(node.value.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in _MUTATORS and isinstance(node.func.value, ast.Name):
                add(node.func.value.id)
    return names


def _raised(stmts):
    """The exception name when a statement list is exactly `raise Name(...)` or `raise
    Name`, else None."""
    if len(stmts) != 1 or not isinstance(stmts[0], ast.Raise) or stmts[0].exc is None:
        return None
    exc = stmts[0].exc
    target = exc.func if isinstance(exc, ast.Call) else exc
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _exits(stmts) -> bool:
    """Whether a statement list always leaves its block (return, break, continue or
    raise)."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Break, ast.Continue, ast.Raise)):
        return True
    return isinstance(last, ast.If) and _exits(last.body) and _exits(last.orelse)


def _breaks(stmts) -> bool:
    """Whether a loop body has a break of its own (not one of a nested loop's)."""
    for s in stmts:
        if isinstance(s, ast.Break):
            return True
        if isinstance(s, ast.If) and (_breaks(s.body) or _breaks(s.orelse)):
            return True
    return False


def _contains(stmts, kind) -> bool:
    return any(isinstance(node, kind) for s in stmts for node in ast.walk(s))


def _map_leaves(value, fn):
    """`value` with each tensor, number and scalar placeholder replaced by fn(leaf) (tuples,
    lists and dict values walked; anything else kept)."""
    if isinstance(value, (Tensor, _Scalar, bool, int, float)):
        return fn(value)
    if type(value) in (tuple, list):
        return type(value)(_map_leaves(v, fn) for v in value)
    if type(value) is dict:
        return {k: _map_leaves(v, fn) for k, v in value.items()}
    return value


def _split(value):
    """A carried value as (structure, leaves): tensors and scalar placeholders are leaves;
    tuples, lists and dicts are walked; anything else is a static part of the structure."""
    if isinstance(value, Tensor):
        return ("leaf", Tensor), [value]
    if isinstance(value, _Scalar):
        return ("leaf", value.kind), [value]
    if type(value) in (tuple, list):
        parts = [_split(v) for v in value]
        return (type(value), [p[0] for p in parts]), [x for p in parts for x in p[1]]
    if type(value) is dict:
        parts = [_split(v) for v in value.values()]
        return (dict, list(value), [p[0] for p in parts]), [x for p in parts for x in p[1]]
    return ("static", value), []


def _join(spec, leaves):
    """The inverse of `_split`, leaves given as tensors (scalars are re-wrapped)."""
    if spec[0] == "leaf":
        t = next(leaves)
        return t if spec[1] is Tensor else _Scalar(t, spec[1])
    if spec[0] == "static":
        return spec[1]
    if spec[0] is dict:
        return {k: _join(s, leaves) for k, s in zip(spec[1], spec[2])}
    return spec[0](_join(s, leaves) for s in spec[1])


def _same_spec(a, b) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "leaf":
        return a[1] is b[1]
    if a[0] == "static":
        return type(a[1]) is type(b[1]) and (a[1] is b[1] or a[1] == b[1])
    if a[0] is dict and a[1] != b[1]:
        return False
    sa, sb = a[-1], b[-1]
    return len(sa) == len(sb) and all(_same_spec(x, y) for x, y in zip(sa, sb))


def _describe(value) -> str:
    """A value's type for messages: Tensor, int, float, bool, or a container of them."""
    if isinstance(value, (Tensor, _Scalar)):
        return _type_name(value)
    if type(value) in (tuple, list):
        return f"{type(value).__name__}[{', '.join(_describe(v) for v in value)}]"
    if type(value) is dict:
        return "dict{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in value.items()) + "}"
    return f"{type(value).__name__} {value!r:.40}"


def _filler(like: Tensor) -> Tensor:
    """A value of `like`'s type for a path where the variable is never read (a branch that
    returned): a broadcast zero, so the graph holds no data for it."""
    zero = like.new_zeros(())
    return zero.expand(tuple(like.shape)) if like.dim() else zero


class _Frame:
    def __init__(self, fn: _Function, env: dict):
        self.fn = fn
        self.env = env


class _Compiler:
    """Walks the AST, building the graph through the recorder."""

    def __init__(self, rec: _ScriptRecorder):
        self.rec = rec
        self.depth = 0
        self.size_reads: list = []  # (where, shape) of each size the source reads of a tensor
        self.grown: set[int] = set()  # values of tensors a loop grew (their sizes vary)
        self.dynamic_reads: dict = {}  # position in size_reads -> dims read as graph values

    # -- functions
    def call_function(self, fn: _Function, env: dict):
        self.depth += 1
        frame = _Frame(fn, env)
        env[_RET] = False
        try:
            self.exec_stmts(fn.tree.body, frame)
        except _PathRaises as raised:
            if self.depth == 1:
                # reached whatever the tensors hold: this call fails as its check would
                raise raised.at_top from None
            raise
        finally:
            self.depth -= 1
        returned = frame.env[_RET]
        if returned is False:
            return None
        value = frame.env.get(_RETVAL)  # none where every path that returns raises
        if returned is not True and value is not None:
            raise fn.error(fn.tree, f"some paths through {fn.name}() return a value and others "
                                    "reach its end without a return",
                           "Add a return statement at the end of the function.")
        return value

    def inline(self, fn, args, kwargs, node, frame, self_obj=None):
        if self.depth >= 50:
            raise frame.fn.error(node, f"{fn.__qualname__} calls itself (or the calls nest "
                                       "50 deep); recursion is not supported",
                                 "Write the recursion as a loop.")
        parsed = _Function(fn, "function")
        sig = inspect.signature(fn)
        try:
            bound = sig.bind(*((self_obj,) if self_obj is not None else ()), *args, **kwargs)
        except TypeError as e:
            raise frame.fn.error(node, f"bad call of {fn.__qualname__}: {e}",
                                 "Pass the arguments its signature expects.") from None
        bound.apply_defaults()
        return self.call_function(parsed, dict(bound.arguments))

    # -- statements and exits
    def exec_stmts(self, stmts, frame: _Frame) -> None:
        stmts = list(stmts)
        for i, s in enumerate(stmts):
            rest = stmts[i + 1:]
            if isinstance(s, ast.If) and rest and _exits(s.body) != _exits(s.orelse):
                # the statements after an if that one branch always leaves belong to the
                # other branch: no flag and no guard needed
                self.exec_stmt(ast.copy_location(ast.If(
                    test=s.test, body=s.body + ([] if _exits(s.body) else rest),
                    orelse=s.orelse + ([] if _exits(s.orelse) else rest)), s), frame)
                return  # the rest ran inside the branch that does not leave
            self.exec_stmt(s, frame)
            if self.exit_state(frame) is not None:
                if rest:
                    self.proceed(frame, s, lambda rest=rest: self.exec_stmts(rest, frame))
                return

    @staticmethod
    def exit_state(frame: _Frame):
        """None when no exit flag is set, True when one surely is, else a flag's name."""
        dynamic = None
        for flag in _FLAGS:
            value = frame.env.get(flag, False)
            if value is True:
                return True
            if value is not False and dynamic is None:
                dynamic = flag
        return dynamic

    def proceed(self, frame: _Frame, node, then) -> None:
        """Run `then()` on the paths where no exit flag is set (under guards as needed)."""
        state = self.exit_state(frame)
        if state is None:
            then()
            return
        if state is True:
            return
        _, cond = self.condition(frame.env[state], node, frame)

        def leave():
            frame.env[state] = True

        def stay():
            frame.env[state] = False
            self.proceed(frame, node, then)
        self.branch(node, frame, cond, leave, stay)

    def exec_stmt(self, s, frame: _Frame) -> None:
        fn = frame.fn
        if isinstance(s, ast.Return):
            frame.env[_RETVAL] = None if s.value is None else self.eval(s.value, frame)
            frame.env[_RET] = True
        elif isinstance(s, ast.Break):
            frame.env[_BRK] = True
        elif isinstance(s, ast.Continue):
            frame.env[_CONT] = True
        elif isinstance(s, ast.Assign):
            value = self.eval(s.value, frame)
            for target in s.targets:
                self.assign(target, value, frame)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.assign(s.target, self.eval(s.value, frame), frame)
        elif isinstance(s, ast.AugAssign):
            target = s.target
            if isinstance(target, ast.Attribute) and self.buffer_of(target, frame) is None:
                raise fn.error(s, "augmented assignment to an attribute is not supported",
                               "Update a buffer in place (self.buf.add_(y)), or assign to a "
                               "local name.")
            # as Python: x[i] += y is x[i] = x[i].__iadd__(y)
            item = self.eval(target, frame)
            new = self.binop(s.op, item, self.eval(s.value, frame), s, frame, inplace=True)
            if isinstance(target, ast.Subscript) and new is item and _is_view_of(
                    item, self.eval(target.value, frame)):
                return  # a view of the tensor, updated in place: writing it back changes nothing
            self.assign(target, new, frame)
        elif isinstance(s, ast.Delete):
            for target in s.targets:
                self.delete(target, frame)
        elif isinstance(s, ast.Expr):
            if not isinstance(s.value, ast.Constant):
                self.eval(s.value, frame)
        elif isinstance(s, ast.Pass):
            pass
        elif isinstance(s, ast.If):
            self.exec_if(s, frame)
        elif isinstance(s, ast.While):
            self.exec_while(s, frame)
        elif isinstance(s, ast.For):
            self.exec_for(s, frame)
        elif isinstance(s, ast.With):
            self.exec_with(s, frame)
        elif isinstance(s, ast.Assert):
            test = self.eval(s.test, frame)
            if isinstance(test, (Tensor, _Scalar)):  # checked on each call's values
                _, cond = self.condition(test, s.test, frame)
                self.runtime_check(cond, self.message(s.msg, frame) if s.msg else
                                   fn.line_of(s)[1], "AssertionError")
            elif not test:
                raise ScriptAssertionError(_text_now(self.message(s.msg, frame)) if s.msg
                                           else fn.line_of(s)[1])
        elif isinstance(s, ast.Raise):
            error = _raised([s])
            if error is None:
                raise fn.error(s, "only `raise SomeError(message)` is supported",
                               "Name the exception class in the raise.")
            exc = s.exc
            message = self.message(exc.args[0] if isinstance(exc, ast.Call) and exc.args
                                   else None, frame)
            text = _text_now(message)
            raise _PathRaises(message, error, ScriptError(f"{error}: {text}" if text else error))
        else:
            raise fn.error(s, f"the statement {type(s).__name__} is not supported",
                           "Rewrite it with assignments, if/while/for-range and calls.")

    def exec_with(self, s: ast.With, frame: _Frame) -> None:
        """`with ember.no_grad():` (or inference_mode(), set_grad_enabled(False)) around a
        block: its ops are marked to run without recording autograd, as in TorchScript.
        Other context managers have effects a graph cannot replay."""
        fn = frame.fn
        managers = []
        for item in s.items:
            manager = self.eval(item.context_expr, frame)
            if not isinstance(manager, _GRAD_OFF) or \
                    isinstance(manager, set_grad_enabled) and manager.mode:
                raise fn.error(item.context_expr, "'with' is supported only for ember.no_grad(), "
                                                  "inference_mode() and set_grad_enabled(False)",
                               "Scripted code runs in its caller's grad mode; move the block "
                               "out of the 'with' (or into an @ember.jit.ignore method).")
            managers.append(manager)
            if item.optional_vars is not None:
                self.assign(item.optional_vars, None, frame)
        with contextlib.ExitStack() as stack:
            for manager in managers:
                stack.enter_context(manager)
            self.exec_stmts(s.body, frame)

    def print_call(self, args, kwargs, e, frame: _Frame) -> None:
        """print(...): a Print node writing the text, filled from each call's values, when
        the graph runs (recorded, not run while compiling, which may build several times)."""
        if set(kwargs) - {"sep", "end"} or not all(
                isinstance(v, str) for v in kwargs.values()):
            raise frame.fn.error(e, "print() takes only sep= and end= (strings) here",
                                 "Drop the other keyword arguments.")
        text = self.strings(e, frame, joined, args, kwargs.get("sep", " "))
        leaves, attrs = ([], {"template": text}) if isinstance(text, str) else (
            text.leaves, {"template": text.template, "formats": [list(f) for f in text.formats]})
        attrs["end"] = kwargs.get("end", "\n")
        self.rec(Print, leaves, attrs, [scalar_tensor(True)])

    def read_sizes(self, t: Tensor, what: str, e, frame: _Frame):
        """The source reads sizes of `t` (`what`: shape, size, numel or len): Python ints,
        logged so a loop whose body reads sizes it changes is found. A read build_loop found
        to vary per iteration (dynamic_reads) gives those dims as graph values instead (what
        to return; None: the plain read). Refused for a tensor computed from one a loop
        grew, whose sizes vary per call."""
        varying = self.dynamic_reads.get(len(self.size_reads), ())
        shape = tuple(t.shape)
        self.size_reads.append((id(e), tuple(None if d in varying else n
                                             for d, n in enumerate(shape))))
        value = self.rec.lookup(t)
        if self.grown and value is not None and self.rec.depends_on(value, self.grown):
            raise frame.fn.error(e, "this reads the size of a tensor computed from one a "
                                    "loop grew, whose sizes differ from call to call",
                                 "Compute what you need from the sizes inside the loop, or "
                                 "return the tensor and read its size outside.")
        if not varying:
            return None
        if what == "numel":
            raise frame.fn.error(e, "numel() of a tensor a loop grows is not supported",
                                 "Multiply its sizes (x.shape[0] * x.shape[1]).")
        sizes = tuple(_Scalar(apply(SizeOp, t, dim=d), int) if d in varying else n
                      for d, n in enumerate(shape))
        if what == "len":
            return sizes[0]
        if what == "shape":
            return sizes
        return lambda dim=None: sizes if dim is None else sizes[dim]

    def python_call(self, func, args, kwargs, frame: _Frame):
        """A call of an @ignore'd function: a python_call node that runs it in Python on each
        call's values. It runs once now, unrecorded, for the types of what it returns."""
        inputs = []

        def slot(value):
            if not isinstance(value, (Tensor, _Scalar)):
                return value
            leaf = value.t if isinstance(value, _Scalar) else value
            inputs.append(leaf)
            return Slot(len(inputs) - 1, value.kind if isinstance(value, _Scalar) else None)
        template = _map_leaves((tuple(args), dict(kwargs)), slot)
        call_args, call_kwargs = fill(template, [_fresh(t) for t in inputs])
        result = self.rec.run_concrete(lambda: func(*call_args, **call_kwargs))
        outputs, kinds = [], []

        def output(leaf):
            kind = None if isinstance(leaf, Tensor) else type(leaf)
            t = _fresh(leaf) if kind is None else scalar_tensor(leaf)
            outputs.append(t)
            kinds.append((kind, t.dtype))
            return t if kind is None else _Scalar(t, kind)
        placeholder = _map_leaves(result, output)
        name = getattr(func, "__qualname__", None) or type(func).__qualname__
        if not outputs:  # a node needs an output
            outputs.append(scalar_tensor(True))
        self.rec(PythonCallOp, inputs, {"call": PythonCall(func, name, template, kinds)},
                 outputs)
        return placeholder

    def runtime_check(self, ok: Tensor, message: str | RuntimeStr, error: str) -> None:
        """Record a check that raises `error` (AssertionError, or ScriptError naming it) when
        `ok` is false on a call's values."""
        leaves, attrs = _check_attrs(message, error)
        apply(Assert, ok, *leaves, **attrs)

    def specialize_on(self, error: NotSupportedError, values) -> None:
        """Called where control flow decided by `values` failed to compile as graph blocks
        with `error`: raises _Specialize when the types differ (_TypesDiffer) and `values`
        depend on number arguments alone."""
        names = self.rec.number_arguments([_as_tensor(v) for v in values
                                           if isinstance(v, (Tensor, _Scalar))])
        if names and isinstance(error, _TypesDiffer):
            raise _Specialize(names) from None

    def guarded(self, run, frame: _Frame) -> _PathRaises | None:
        """Run `run()`, the body of a block whose running depends on tensors; when it surely
        raises (_PathRaises, returned), end the block with a check that always fails (recorded,
        not run now: the placeholders need not take this path) and mark the block as left,
        its variables as never read."""
        try:
            run()
        except _PathRaises as raised:
            leaves, attrs = _check_attrs(raised.message, raised.error)
            self.rec(Assert, [scalar_tensor(False), *leaves], attrs, [scalar_tensor(True)])
            frame.env[_RET] = True
            frame.env.pop(_RETVAL, None)
            return raised
        return None

    def message(self, node, frame: _Frame) -> str | RuntimeStr:
        """A raise's or assert's message: its text where it is known at compile time, else a
        RuntimeStr whose parts computed from tensors are filled in on each call."""
        if node is None:
            return ""
        return self.strings(node, frame, as_text, self.eval(node, frame))

    def strings(self, node, frame: _Frame, build, *args) -> str | RuntimeStr:
        """`build(StrBuilder, *args)` (strings.py): a string with run-time parts."""
        try:
            return build(StrBuilder(_str_leaf), *args)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as err:
            raise frame.fn.error(node, f"formatting failed: {type(err).__name__}: {err}",
                                 "Fix the format string or its arguments.") from None

    def joined(self, e: ast.JoinedStr, frame: _Frame) -> str | RuntimeStr:
        """An f-string: each {value!conversion:spec} filled now or on each call."""
        parts = []
        for v in e.values:
            if not isinstance(v, ast.FormattedValue):
                parts.append((v.value, "", None))
                continue
            spec = "" if v.format_spec is None else self.eval(v.format_spec, frame)
            if not isinstance(spec, str):
                raise frame.fn.error(v, "a format spec computed from tensors is not supported",
                                     "Write the spec literally.")
            parts.append((self.eval(v.value, frame), spec,
                          None if v.conversion == -1 else chr(v.conversion)))

        def build(builder):
            for value, spec, conversion in parts:
                builder.add(value, spec, conversion)
            return builder.result()
        return self.strings(e, frame, build)

    def assign(self, target, value, frame: _Frame) -> None:
        fn = frame.fn
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Tensor):
                value = tuple(value.unbind(0))
            if not isinstance(value, (tuple, list)) or len(value) != len(target.elts):
                raise fn.error(target, "cannot unpack this value into "
                                       f"{len(target.elts)} names",
                               "Unpack a tuple of the same length.")
            for t, v in zip(target.elts, value):
                self.assign(t, v, frame)
        elif isinstance(target, ast.Subscript):
            base = self.eval(target.value, frame)
            index = self.eval(target.slice, frame)
            if isinstance(base, Tensor):
                base[_unwrap(index)] = _unwrap(value)
                return
            if type(base) not in (list, dict):
                raise fn.error(target, f"item assignment into a {type(base).__name__} is not "
                                       "supported", "Build a new tuple instead.")
            if isinstance(index, (Tensor, _Scalar)):
                raise fn.error(target, "the index of a list or dict item assignment depends "
                                       "on tensors", "Index with a value known at compile time.")
            if type(base) is dict and not isinstance(index, str):
                raise fn.error(target, "dict keys must be strings", "Use string keys.")
            new = self.copy_on_write(target.value, base, frame)
            try:
                new[index] = value
            except IndexError as err:
                raise fn.error(target, f"IndexError: {err}", "Fix the index.") from None
        elif isinstance(target, ast.Attribute) and self.buffer_of(target, frame) is not None:
            self.write_buffer(target, value, frame)
        else:
            raise fn.error(target, "assignment to an attribute is not supported",
                           "Assign to a local name; register buffers in __init__ and "
                           "update them with in-place ops (buf.copy_(...)).")

    def buffer_of(self, target: ast.Attribute, frame: _Frame):
        """The registered buffer `target` (self.name) names, or None."""
        owner = self.eval(target.value, frame)
        return owner._buffers.get(target.attr) if isinstance(owner, Module) else None

    def write_buffer(self, target: ast.Attribute, value, frame: _Frame) -> None:
        """`self.buf = value`, as TorchScript allows: written into the buffer in place (the
        graph's state), so it must keep the buffer's shape and dtype."""
        buf = self.buffer_of(target, frame)
        if not isinstance(value, (Tensor, _Scalar)):
            raise frame.fn.error(target, f"buffer {target.attr!r} can only be assigned a tensor",
                                 "Assign a tensor of its shape and dtype.")
        value = _as_tensor(value)
        if value.shape != buf.shape or value.dtype is not buf.dtype:
            raise frame.fn.error(target, f"assigning buffer {target.attr!r} a "
                                         f"{TensorType.of(value)} tensor: a scripted buffer "
                                         f"keeps its {TensorType.of(buf)}",
                                 "Assign a tensor of the buffer's shape and dtype.")
        if value is not buf:
            buf.copy_(value)

    def delete(self, target, frame: _Frame) -> None:
        """`del name` unbinds a local; `del xs[i]` / `del d[k]` (a key known at compile time)
        removes an item from a local list or dict."""
        if isinstance(target, ast.Name) and target.id in frame.env:
            del frame.env[target.id]
            return
        if isinstance(target, ast.Subscript):
            container = self.eval(target.value, frame)
            key = self.eval(target.slice, frame)
            if type(container) in (list, dict) and not isinstance(key, (Tensor, _Scalar)):
                del self.copy_on_write(target.value, container, frame)[key]
                return
        raise frame.fn.error(target, "'del' of this target is not supported",
                             "Delete a local name, or an item of a local list or dict at "
                             "a key known at compile time.")

    def copy_on_write(self, holder, container, frame: _Frame):
        """A copy of a list or dict about to be changed, bound to the local name that held
        it: each path through the graph then sees its own contents."""
        if not isinstance(holder, ast.Name):
            raise frame.fn.error(holder, "changing a list or dict that is not held by a local "
                                         "name is not supported",
                                 "Copy it into a local variable first, change that and use it.")
        new = type(container)(container)
        frame.env[holder.id] = new
        return new

    # -- conditions
    def condition(self, value, node, frame):
        """(static truth, None) or (None, 0-d bool placeholder)."""
        if isinstance(value, _Scalar):
            t = value.t if value.kind is bool else value.t != 0
            return None, t
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise frame.fn.error(node, f"the truth value of a tensor of shape "
                                           f"{list(value.shape)} is ambiguous",
                                     "Reduce it first (.any(), .all(), .sum() > 0).")
            t = value.reshape(())
            return None, t if t.dtype is D.bool else t != 0
        return bool(value), None

    def exec_if(self, s: ast.If, frame: _Frame) -> None:
        static, cond = self.condition(self.eval(s.test, frame), s.test, frame)
        if cond is None:
            self.exec_stmts(s.body if static else s.orelse, frame)
            return
        for raising, rest, raises_when_true in ((s.body, s.orelse, True),
                                                (s.orelse, s.body, False)):
            error = _raised(raising)
            if error is not None:  # validation: a check on each call's values, then the rest
                exc = raising[0].exc
                message = exc.args[0] if isinstance(exc, ast.Call) and exc.args else None
                self.runtime_check(cond.logical_not() if raises_when_true else cond,
                                   self.message(message, frame), error)
                self.exec_stmts(rest, frame)
                return
        try:
            self.branch(s, frame, cond, lambda: self.exec_stmts(s.body, frame),
                        lambda: self.exec_stmts(s.orelse, frame))
        except NotSupportedError as err:
            self.specialize_on(err, [cond])
            raise

    def branch(self, s, frame: _Frame, cond: Tensor, run_then, run_else) -> None:
        """A prim::If on `cond`: compile both sides, then merge the variables they set."""
        rec = self.rec
        cond_v = rec.value_of(cond)
        sides, raised = [], []
        for run in (run_then, run_else):
            scope = rec.open()
            outer, frame.env = frame.env, dict(frame.env)
            try:
                raised.append(self.guarded(run, frame))
            finally:
                env, frame.env = frame.env, outer
                rec.close()
            sides.append((scope, env))
        if raised[0] and raised[1]:
            raise raised[0]  # both paths raise: so does reaching the if
        (s1, env1), (s2, env2) = sides
        returned = (env1.get(_RET) is True, env2.get(_RET) is True)
        # a side's variables are never read after it surely returned; its return value is
        # never read where it surely did not return
        unreturned = (env1.get(_RET, False) is False, env2.get(_RET, False) is False)
        names, plans = [], []
        for n in list(env1) + [n for n in env2 if n not in env1]:
            a, b = env1.get(n, _MISSING), env2.get(n, _MISSING)
            old = frame.env.get(n, _MISSING)
            if a is old and b is old and not _written(old, (s1, s2)):
                continue
            if (a is _MISSING or b is _MISSING) and not (
                    n == _RETVAL or returned[0 if a is _MISSING else 1]):
                continue  # defined on one path only: not defined after the if
            if isinstance(a, _Conflict) or isinstance(b, _Conflict):
                frame.env[n] = a if isinstance(a, _Conflict) else b
                continue
            try:
                plans.append(self.merge_plan(a, b, s, frame, *(
                    (unreturned, "the return value") if n == _RETVAL else (returned, repr(n)))))
            except NotSupportedError as err:
                if n in _FLAGS or n == _RETVAL:
                    raise
                frame.env[n] = _Conflict(err, cond)  # an error only if read after the if
                continue
            names.append(n)
        values = self.merge_if(frame, cond, cond_v, s1, s2, plans)
        for n, v in zip(names, values):
            frame.env[n] = v

    def merge_if(self, frame, cond, cond_v, s1, s2, plan):
        rec = self.rec
        leaves = [leaf for p in plan for leaf in _leaves(p)]
        outs = {}
        for scope, side in ((s1, 0), (s2, 1)):
            rec.open(scope)
            try:
                # each side's values as it left them: a tensor both sides write in place has
                # the other side's writes on its version counter too (check=False)
                outs[side] = [rec.value_of(_as_tensor(
                    _filler(_as_tensor(pair[1 - side])) if pair[side] is _MISSING
                    else pair[side]), check=False) for pair in leaves]
            finally:
                rec.close()
        caps = _align_captures([s1, s2])
        node = rec.graph.add_node(IF, [cond_v] + caps, {}, [v.type for v in outs[0]])
        s1.graph.outputs, s2.graph.outputs = outs[0], outs[1]
        node.blocks = [s1.graph, s2.graph]
        real = [rec.tensors[v.id] for v in caps]
        chosen = node.blocks[0 if bool(cond._data.item()) else 1]
        results = rec.run_concrete(run_graph, chosen, real, {})
        return self.rebuild(plan, node, results, leaves)

    def merge_plan(self, a, b, s, frame, dead=(False, False), what="a variable"):
        """How two branch values of `what` merge: ("static", v), ("tuple", type, [plans]),
        ("dict", keys, [plans]) or ("leaf", (a, b), kind) where kind is Tensor or a scalar
        type. A side that lacks the value, or whose value is `dead` (never read after the if)
        and of another type, takes the other side's."""
        if a is _MISSING:
            return self.fill_plan(b, 0)
        if b is _MISSING:
            return self.fill_plan(a, 1)
        try:
            return self.plain_merge(a, b, s, frame, what)
        except NotSupportedError:
            if dead[0] or dead[1]:
                return self.fill_plan(b, 0) if dead[0] else self.fill_plan(a, 1)
            raise

    def plain_merge(self, a, b, s, frame, what):
        if not isinstance(a, (Tensor, _Scalar)) and not isinstance(b, (Tensor, _Scalar)):
            if type(a) is type(b) and isinstance(a, (tuple, list)) and len(a) == len(b):
                return ("tuple", type(a), [self.plain_merge(x, y, s, frame, what)
                                           for x, y in zip(a, b)])
            if type(a) is dict and type(b) is dict and list(a) == list(b):
                return ("dict", list(a), [self.plain_merge(a[k], b[k], s, frame, what)
                                          for k in a])
            if type(a) is type(b) and (a is b or a == b):
                return ("static", a)
        ka, kb = _scalar_kind(a), _scalar_kind(b)
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            kind = Tensor
        elif ka is not None and ka is kb:
            kind = ka
        else:
            raise frame.fn.error(s, f"the branches of this if give {what} different "
                                    f"types ({_type_name(a)} and {_type_name(b)})",
                                 "Give it the same type in both branches (Optional values "
                                 "must be decided by conditions known at compile time).",
                                 _TypesDiffer)
        ta, tb = TensorType.of(_as_tensor(a)), TensorType.of(_as_tensor(b))
        if ta != tb:
            raise frame.fn.error(s, f"the branches of this if give {what} different types "
                                    f"({ta} and {tb})",
                                 "Make both branches produce the same dtype and shape.",
                                 _TypesDiffer)
        return ("leaf", (a, b), kind)

    def fill_plan(self, value, missing: int):
        """The merge of `value` with a side where it is never read."""
        if isinstance(value, (Tensor, _Scalar)):
            pair = (_MISSING, value) if missing == 0 else (value, _MISSING)
            return ("leaf", pair, _scalar_kind(value) or Tensor)
        if type(value) in (tuple, list):
            return ("tuple", type(value), [self.fill_plan(v, missing) for v in value])
        if type(value) is dict:
            return ("dict", list(value), [self.fill_plan(v, missing) for v in value.values()])
        return ("static", value)

    def rebuild(self, plan_list, node, results, leaves):
        rec = self.rec
        made = []
        for v, t, pair in zip(node.outputs, results, leaves):
            if pair[0] is pair[1] and isinstance(pair[0], Tensor):
                # one tensor, written in place on some path: it holds the merged value, so
                # every name (and view) that refers to it reads the if's result
                p = pair[0]
                p._data[...] = t._data
            else:
                p = _fresh(t)
            rec.bind(p, v)
            rec.define(v)
            made.append(p)
        it = iter(zip(made, leaves))

        def build(p):
            if p[0] == "static":
                return p[1]
            if p[0] == "tuple":
                return p[1](build(x) for x in p[2])
            if p[0] == "dict":
                return {k: build(x) for k, x in zip(p[1], p[2])}
            t, _ = next(it)
            return t if p[2] is Tensor else _Scalar(t, p[2])
        return [build(p) for p in plan_list]

    # -- loops
    def carried(self, stmts, frame, extra=()) -> list[str]:
        """The variables a loop body assigns that exist before the loop: loop-carried.
        Python numbers among them become scalar placeholders (their value changes)."""
        names = [n for n in _assigned(stmts) if n in frame.env and n not in extra and
                 not isinstance(frame.env[n], _Conflict)]
        for n in names:
            v = frame.env[n]
            if isinstance(v, (bool, int, float)) and not isinstance(v, Tensor):
                frame.env[n] = _Scalar(scalar_tensor(v), _scalar_kind(v))
        return names

    def exec_while(self, s: ast.While, frame: _Frame) -> None:
        if s.orelse:
            raise frame.fn.error(s, "while ... else is not supported",
                                 "Set a flag before each break and test it after the loop.")
        before = dict(frame.env)
        # a Python condition on a variable the body updates (a counter) can be unrolled
        counted = {n.id for n in ast.walk(s.test) if isinstance(n, ast.Name)} & \
            set(_assigned(s.body))
        known = bool(counted) and not isinstance(self.eval(s.test, frame), (Tensor, _Scalar))
        names = self.carried(s.body, frame)
        static, cond = self.condition(self.eval(s.test, frame), s.test, frame)
        if cond is None and not static:
            return
        try:
            self.build_loop(s, frame, names, None, cond, None)
        except NotSupportedError as err:
            if not known:
                self.specialize_on(err, [cond])
                raise
            # the condition is known at compile time (a Python counter): unroll, testing it
            # each time, so the body may grow a list or use the counter as a Python int
            frame.env.update({n: before[n] for n in names})
            self.unrolled_while(s, frame)
            return
        if cond is None and not _breaks(s.body) and _contains(s.body, (ast.Return, ast.Raise)):
            frame.env[_RET] = True  # `while True:` without a break ends only by returning

    def unrolled_while(self, s: ast.While, frame: _Frame) -> None:
        """A while loop whose condition is known at compile time at each test, unrolled (at
        most _MAX_UNROLL times)."""
        def begin(done):
            static, cond = self.condition(self.eval(s.test, frame), s.test, frame)
            if cond is not None:
                raise frame.fn.error(s.test, "the loop condition came to depend on tensor "
                                             "values while the loop was being unrolled",
                                     "Keep the condition a Python value, or keep each "
                                     "variable's type the same across iterations.")
            if static and done == _MAX_UNROLL:
                raise frame.fn.error(s, f"the loop runs more than {_MAX_UNROLL} times at "
                                        "compile time", "Loop over tensors instead.")
            return static
        self.unrolled(s, frame, begin)

    def exec_for(self, s: ast.For, frame: _Frame) -> None:
        fn = frame.fn
        if s.orelse:
            raise fn.error(s, "for ... else is not supported",
                           "Set a flag before each break and test it after the loop.")
        it = s.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                it.func.id == "range" and self.lookup("range", frame, it) is range:
            bounds = [self.eval(a, frame) for a in it.args]
            if not 1 <= len(bounds) <= 3 or it.keywords:
                raise fn.error(it, "range() takes 1 to 3 positional arguments", "Fix the call.")
            start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (
                bounds[0], bounds[1], bounds[2] if len(bounds) == 3 else 1)
            if not isinstance(step, int) or step == 0:
                raise fn.error(it, "range() needs a nonzero step known at compile time",
                               "Use a constant step.")
            if not isinstance(s.target, ast.Name):
                raise fn.error(s, "a range loop needs a single loop variable", "Use one name.")
            before = dict(frame.env)
            names = self.carried(s.body, frame, extra=(s.target.id,))
            if all(isinstance(b, int) for b in (start, stop)):
                trip = max(0, -(-(stop - start) // step))
                try:
                    self.build_loop(s, frame, names, trip, None, (s.target.id, start, step))
                except NotSupportedError:
                    if trip > _MAX_UNROLL:
                        raise
                    # the body needs its counter as a Python int (indexing a list, sizes) or
                    # grows a list: with a trip count known now, unroll it instead
                    frame.env.update({n: before[n] for n in names})
                    self.unrolled_items(s, frame, list(range(start, stop, step)))
                return
            else:
                span = _as_tensor(stop) if isinstance(start, int) and start == 0 else \
                    _as_tensor(stop) - _as_tensor(start)
                if step != 1:
                    span = (span + (step - 1 if step > 0 else step + 1)) // step
                trip = span.clamp(min=0).to(D.int64)
            try:
                self.build_loop(s, frame, names, trip, None, (s.target.id, start, step))
            except NotSupportedError as err:
                self.specialize_on(err, [start, stop])
                raise
            return
        seq = self.eval(it, frame)
        if isinstance(seq, _Scalar) or isinstance(seq, Tensor) and seq.dim() == 0:
            raise fn.error(it, "iteration over a 0-d tensor (a number computed from tensors)",
                           "Loop over range(n) with n known at compile time, or use tensor "
                           "ops.")
        if isinstance(seq, Tensor):  # its first dim is known here: one step per row
            self.unrolled_items(s, frame, list(seq.unbind(0)))
            return
        self.unrolled_items(s, frame, self.items(seq, it, frame))

    def items(self, seq, node, frame) -> list:
        """The items of a sequence known at compile time (list, tuple, dict, ModuleList...)."""
        if isinstance(seq, (Sequential, ModuleList)):
            return list(seq)
        try:
            return list(seq)
        except TypeError:
            raise frame.fn.error(node, f"cannot iterate over a {type(seq).__name__}",
                                 "Iterate over range(...), a list, a tuple, a dict or a "
                                 "ModuleList.") from None

    def unrolled(self, s, frame: _Frame, begin, last=None) -> None:
        """A loop known at compile time, unrolled: `begin(k)` readies iteration k (binds the
        loop variable, tests the condition) and says whether it runs; `last`, when known, is
        the final k. After an iteration that may have broken out (or returned) the rest runs
        under a guard."""
        saved = {f: frame.env.get(f, _MISSING) for f in (_BRK, _CONT)}

        def run(k):
            while begin(k):
                frame.env[_CONT] = False
                self.exec_stmts(s.body, frame)
                frame.env[_CONT] = False
                k += 1
                if self.exit_state(frame) is not None:
                    if last is None or k <= last:
                        self.proceed(frame, s, lambda k=k: run(k))
                    return
        frame.env[_BRK] = False
        run(0)
        for f, v in saved.items():
            if v is _MISSING:
                frame.env.pop(f, None)
            else:
                frame.env[f] = v

    def unrolled_items(self, s: ast.For, frame: _Frame, items: list) -> None:
        """A for loop over a sequence known at compile time, unrolled."""
        def begin(k):
            if k == len(items):
                return False
            self.assign(s.target, items[k], frame)
            return True
        self.unrolled(s, frame, begin, len(items) - 1)

    def build_loop(self, s, frame, names, trip, cond, counter) -> None:
        """A prim::Loop. Its body carries the loop variables (flattened into leaves), and when
        the body can return, the return flag and value; break and return end the loop
        through the condition the body hands to the next iteration.

        A carried tensor whose sizes the body changes (torch.cat growth) is carried at
        varying sizes when a second build of the body, at the sizes after one iteration,
        records the same ops and reads no size that changed: then no size is baked in."""
        build = functools.partial(self.build_loop_at, s, frame, names, trip, cond, counter)
        try:
            return build()
        except _Grows as first:
            at_start = first
        try:
            return build(at_start.after, at_start.body)
        except _Grows as second:
            refused = second
            varying = _varying_reads(at_start.body[1], second.body[1])
        if varying:  # the body reads sizes that change: build it reading them as values
            try:
                return build(dynamic=varying)
            except _Grows as first:
                at_start = first
            try:
                return build(at_start.after, at_start.body, varying)
            except _Grows as second:
                refused = second
        raise frame.fn.error(s, f"the loop changes the sizes of {refused.names} and its body "
                                f"keeps sizes that change (ops whose arguments follow them)",
                             "Loop-carried tensors may grow where the body's ops do not "
                             "depend on their sizes (grow with torch.cat/stack, index from "
                             "the end).", _TypesDiffer) from None

    def build_loop_at(self, s, frame, names, trip, cond, counter, grown=None,
                      expected=None, dynamic=None) -> None:
        """build_loop, with the carried leaves `grown` (position -> tensor) taking the sizes
        of those tensors and the body's size reads `dynamic` (position among them -> dims)
        read as graph values; raises _Grows when sizes change unlike in `expected`."""
        outer_reads = self.dynamic_reads
        if dynamic:
            start = len(self.size_reads)
            self.dynamic_reads = {**outer_reads,
                                  **{start + k: dims for k, dims in dynamic.items()}}
        try:
            self.build_loop_in(s, frame, names, trip, cond, counter, grown, expected)
        finally:
            self.dynamic_reads = outer_reads

    def build_loop_in(self, s, frame, names, trip, cond, counter, grown, expected) -> None:
        """build_loop_at's work."""
        rec = self.rec
        fn = frame.fn
        can_return = _contains(s.body, (ast.Return, ast.Raise))
        carried = [(n, frame.env[n]) for n in names]
        if can_return and _RETVAL in frame.env:
            carried.append((_RETVAL, frame.env[_RETVAL]))
        specs, init = [], []
        for _, v in carried:
            spec, leaves = _split(v)
            specs.append(spec)
            init += leaves
        init_t = [_as_tensor(v) for v in init]
        if can_return:
            init_t.append(scalar_tensor(False))
        init_v = [rec.value_of(t) for t in init_t]
        trip_arg = trip if trip is None or isinstance(trip, int) else rec.value_of(trip)
        if cond is None:
            cond = scalar_tensor(True)
        cond_v = rec.value_of(cond)
        scope = rec.open()
        outer, frame.env = frame.env, dict(frame.env)
        try:
            g = scope.graph
            it_in = g.add_input(TensorType(D.int64, ()), "iteration")
            cond_in = g.add_input(TensorType(D.bool, ()), "cond")
            it_t = scalar_tensor(0)
            for v, t in ((it_in, it_t), (cond_in, scalar_tensor(True))):
                rec.bind(t, v)
                rec.define(v)
            placeholders = []
            reads_from = len(self.size_reads)
            for k, t0 in enumerate(init_t):
                t0 = grown.get(k, t0) if grown else t0
                v = g.add_input(TensorType.of(t0))
                p = _fresh(t0)
                rec.bind(p, v)
                rec.define(v)
                rec.dynamic.add(v.id)
                placeholders.append(p)
            leaves = iter(placeholders)
            for (n, _), spec in zip(carried, specs):
                frame.env[n] = _join(spec, leaves)
            # each iteration starts with no exit taken (the condition stopped the loop else)
            frame.env.update({_BRK: False, _CONT: False, _RET: False})
            if counter is not None:
                target, start, step = counter
                i = _Scalar(it_t, int)
                if step != 1:
                    i = self.binop(ast.Mult(), i, step, s, frame)
                if not (isinstance(start, int) and start == 0):
                    i = self.binop(ast.Add(), i, start, s, frame)
                frame.env[target] = i
            self.guarded(lambda: self.exec_stmts(s.body, frame), frame)
            frame.env[_CONT] = False
            frame.env[_NEXT] = False
            self.proceed(frame, s, lambda: frame.env.__setitem__(_NEXT, self.next_cond(s, frame)))
            going = frame.env.pop(_NEXT)
            if going is True and trip is None:
                raise fn.error(s, "this loop never ends: its condition does not depend on "
                                  "tensors or on values the loop changes, and no break or "
                                  "return leaves it",
                               "Make the condition read a value the loop updates, or break.")
            outs = [rec.value_of(_as_tensor(going) if not isinstance(going, _Scalar)
                                 else going.t)]
            for (n, v0), spec in zip(carried, specs):
                new = frame.env[n]
                if isinstance(new, _Conflict):
                    raise new.error
                new_spec, leaves = _split(new)
                if not _same_spec(spec, new_spec):
                    raise fn.error(s, f"the loop changes the type of {n!r} (from "
                                      f"{_describe(v0)} to {_describe(new)})",
                                   "Keep each variable's type (and a list's or tuple's "
                                   "length) the same across iterations.", _TypesDiffer)
                outs += [rec.value_of(_as_tensor(x)) for x in leaves]
            late = []
            if can_return:
                outs.append(rec.value_of(_as_tensor(frame.env[_RET])))
                if _RETVAL in frame.env and all(n != _RETVAL for n, _ in carried):
                    # the first return in this loop: its value becomes carried from here on
                    spec, leaves = _split(frame.env[_RETVAL])
                    at = len(placeholders) + 2
                    for k, x in enumerate(leaves):
                        t = _as_tensor(x)
                        g.inputs.insert(at + k, g.new_value(TensorType.of(t)))
                        outs.append(rec.value_of(t))
                        late.append(t)
                    carried.append((_RETVAL, None))
                    specs.append(spec)
            owners = [n for (n, v), spec in zip(carried, specs) if v is not None
                      for _ in _split(v)[1]]
            resized = {k: rec.tensors[b.id] for k, (a, b) in
                       enumerate(zip(g.inputs[2:2 + len(owners)], outs[1:]))
                       if a.type != b.type and _resized(a.type, b.type)}
            if resized:
                body = (_structure(g), self.size_reads[reads_from:])
                if grown is None or set(resized) != set(grown) or body != expected:
                    raise _Grows(resized, body, sorted({owners[k] for k in resized}))
            for k, (n, a, b) in enumerate(zip(owners, init_v, outs[1:])):
                if a.type != b.type and k not in resized:
                    raise fn.error(s, f"the loop changes {n!r} from {a.type} to {b.type}",
                                   "Loop-carried tensors must keep their dtype and shape.",
                                   _TypesDiffer)
            g.outputs = outs
        finally:
            frame.env = outer
            rec.close()
        fill = [_filler(t) for t in late]
        init_t += fill
        init_v += [rec.value_of(t) for t in fill]
        caps = [outer_v for outer_v, _ in scope.caps]
        node = rec.graph.add_node(LOOP, [trip_arg, cond_v] + init_v + caps,
                                  {"carried": len(init_v)}, [v.type for v in init_v])
        node.blocks = [scope.graph]
        real = [trip, cond] + init_t + [rec.tensors[v.id] for v in caps]
        results = rec.run_concrete(run_loop, node, real)
        made = []
        for k, (v, t) in enumerate(zip(node.outputs, results)):
            p = _fresh(t)
            if grown and k in grown:
                v.type = TensorType.of(t)
                self.grown.add(v.id)
            rec.bind(p, v)
            rec.define(v)
            made.append(p)
        n_plain = sum(len(_split(v)[1]) for _, v in carried if v is not None)
        values = iter(made[:n_plain])
        for (n, v), spec in zip(carried, specs):
            if v is not None:
                frame.env[n] = _join(spec, values)
        if can_return:
            frame.env[_RET] = _Scalar(made[n_plain], bool)
            if late:
                frame.env[_RETVAL] = _join(specs[-1], iter(made[n_plain + 1:]))

    def next_cond(self, s, frame):
        """Whether the loop goes on after this iteration: the while test, re-evaluated."""
        if not isinstance(s, ast.While):
            return True
        static, cond = self.condition(self.eval(s.test, frame), s.test, frame)
        return static if cond is None else _Scalar(cond, bool)

    # -- expressions
    def lookup(self, name, frame, node):
        if name in frame.env:
            value = frame.env[name]
            if isinstance(value, _Conflict):
                self.specialize_on(value.error, [value.cond])
                raise value.error
            return value
        for space in (frame.fn.closure, frame.fn.globals, vars(builtins)):
            if name in space:
                return space[name]
        raise frame.fn.error(node, f"name {name!r} is not defined here",
                             "Define it on every path before this line (a variable assigned "
                             "in only one branch of an if, or only inside a loop, is not "
                             "defined after it).")

    def eval(self, e, frame: _Frame):
        fn = frame.fn
        if isinstance(e, ast.Constant):
            return e.value
        if isinstance(e, ast.Name):
            return self.lookup(e.id, frame, e)
        if isinstance(e, ast.Attribute):
            base = self.eval(e.value, frame)
            if isinstance(base, _Scalar):
                raise fn.error(e, "attributes of a scalar are not supported",
                               "Use it in arithmetic or pass it to an ember function.")
            if isinstance(base, Tensor) and e.attr in _SIZE_READS:
                read = self.read_sizes(base, e.attr, e, frame)
                if read is not None:
                    return read
            try:
                return getattr(base, e.attr)
            except AttributeError as err:
                raise fn.error(e, str(err), "Check the attribute name.") from None
        if isinstance(e, (ast.Tuple, ast.List)):
            items = [self.eval(x, frame) for x in e.elts]
            return tuple(items) if isinstance(e, ast.Tuple) else items
        if isinstance(e, ast.Dict):
            keys = [self.eval(k, frame) if k is not None else None for k in e.keys]
            if not all(isinstance(k, str) for k in keys):
                raise fn.error(e, "dict keys must be strings", "Use string keys.")
            return {k: self.eval(v, frame) for k, v in zip(keys, e.values)}
        if isinstance(e, ast.BinOp):
            return self.binop(e.op, self.eval(e.left, frame), self.eval(e.right, frame),
                              e, frame)
        if isinstance(e, ast.UnaryOp):
            return self.unary(e, self.eval(e.operand, frame), frame)
        if isinstance(e, ast.BoolOp):
            return self.boolop(e, frame)
        if isinstance(e, ast.Compare):
            return self.compare(e, frame)
        if isinstance(e, ast.IfExp):
            static, cond = self.condition(self.eval(e.test, frame), e.test, frame)
            if cond is None:
                return self.eval(e.body if static else e.orelse, frame)
            a, b = self.eval(e.body, frame), self.eval(e.orelse, frame)
            kind = _scalar_kind(a)
            if not all(isinstance(v, (Tensor, _Scalar, bool, int, float)) for v in (a, b)):
                raise frame.fn.error(e, f"a conditional expression on a value computed from "
                                        f"tensors picks between tensors or numbers, not "
                                        f"{_type_name(a)} and {_type_name(b)}",
                                     "Use an if statement, or build both and pick outside.")
            picked = _as_tensor(a).where(cond, _as_tensor(b))
            return picked if kind is None or isinstance(a, Tensor) else _Scalar(picked, kind)
        if isinstance(e, ast.Subscript):
            base = self.eval(e.value, frame)
            index = self.eval(e.slice, frame)
            if isinstance(base, Tensor):
                if any(isinstance(k, slice) and any(isinstance(b, (_Scalar, Tensor)) for b in
                                                    (k.start, k.stop, k.step))
                       for k in (index if type(index) is tuple else (index,))):
                    raise fn.error(e, "slicing a tensor with a bound computed from tensors or "
                                      "from a loop is not supported: the result's shape would "
                                      "depend on values",
                                   "Return the whole tensor and the bound (x, n) and slice "
                                   "outside, or use ember.where / a mask.")
                return base[_unwrap(index)]
            bounds = [index] if not isinstance(index, slice) else \
                [index.start, index.stop, index.step]
            if any(isinstance(b, (_Scalar, Tensor)) for b in bounds):
                # a list (not a tuple or ModuleList, as in TorchScript) indexed by number
                # arguments alone gets a graph per value
                what = "slicing" if isinstance(index, slice) else "indexing"
                err = fn.error(e, f"{what} a {type(base).__name__} with a value computed "
                                  "from tensors is not supported",
                               "Index with a value known at compile time.",
                               _TypesDiffer if type(base) is list else NotSupportedError)
                self.specialize_on(err, bounds)
                raise err
            return base[index]
        if isinstance(e, ast.Slice):
            parts = [None if p is None else self.eval(p, frame) for p in
                     (e.lower, e.upper, e.step)]
            return slice(*parts)
        if isinstance(e, ast.Call):
            return self.call(e, frame)
        if isinstance(e, (ast.ListComp, ast.DictComp, ast.GeneratorExp)):
            return self.comprehension(e, frame)
        if isinstance(e, ast.Starred):
            raise fn.error(e, "starred expressions are supported only as call arguments "
                              "(f(*args, **kwargs))", "Build the list or tuple explicitly.")
        if isinstance(e, ast.JoinedStr):
            return self.joined(e, frame)
        raise fn.error(e, f"the expression {type(e).__name__} is not supported",
                       "Rewrite it with calls, arithmetic and comparisons.")

    def comprehension(self, e, frame):
        """A list or dict comprehension over sequences known at compile time, unrolled; its
        loop variables stay local to it, as in Python. A generator expression (any(...),
        tuple(...), unpacking) gives the list of its items: scripted code has no side
        effects whose order laziness would change."""
        fn = frame.fn
        out = {} if isinstance(e, ast.DictComp) else []
        outer, frame.env = frame.env, dict(frame.env)

        def walk(k):
            if k == len(e.generators):
                if isinstance(e, ast.DictComp):
                    key = self.eval(e.key, frame)
                    if not isinstance(key, str):
                        raise fn.error(e, "dict keys must be strings", "Use string keys.")
                    out[key] = self.eval(e.value, frame)
                else:
                    out.append(self.eval(e.elt, frame))
                return
            gen = e.generators[k]
            seq = self.eval(gen.iter, frame)
            if isinstance(seq, (Tensor, _Scalar)):
                raise fn.error(gen.iter, "a comprehension over a tensor is not supported",
                               "Iterate over range(x.size(0)) and index, or use tensor ops.")
            for item in self.items(seq, gen.iter, frame):
                self.assign(gen.target, item, frame)
                keep = True
                for test in gen.ifs:
                    static, cond = self.condition(self.eval(test, frame), test, frame)
                    if cond is not None:
                        raise fn.error(test, "a comprehension's filter depends on tensor "
                                             "values, so the list's length would too",
                                       "Use a for loop and select values with an if (or "
                                       "ember.where) instead.")
                    keep = keep and static
                if keep:
                    walk(k + 1)
        try:
            walk(0)
        finally:
            frame.env = outer
        return out

    def binop(self, op, a, b, node, frame, inplace=False):
        fn = _BINOPS.get(type(op))
        if fn is None:
            raise frame.fn.error(node, f"operator {type(op).__name__} is not supported",
                                 "Use an ember function instead.")
        if isinstance(op, ast.Mod) and isinstance(a, str):
            return self.strings(node, frame, percent, a, b)
        if isinstance(op, ast.Add) and (isinstance(a, RuntimeStr) or isinstance(b, RuntimeStr)):
            return self.strings(node, frame, concat, a, b)
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            if inplace and isinstance(a, Tensor):
                ifn = getattr(operator, "i" + fn.__name__.strip("_"), None)
                if ifn is not None:
                    return ifn(a, _unwrap(b))
            return fn(_unwrap(a), _unwrap(b))
        if isinstance(a, _Scalar) or isinstance(b, _Scalar):
            return self.scalar_op(fn, a, b)
        try:
            return fn(a, b)
        except Exception as err:
            raise frame.fn.error(node, f"{type(err).__name__}: {err}", "Fix the operands.") \
                from None

    def scalar_op(self, fn, a, b):
        ka, kb = _scalar_kind(a), _scalar_kind(b)
        ta, tb = _as_tensor(a), _as_tensor(b)
        if fn in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
                  operator.ne):
            return _Scalar(fn(ta, tb), bool)
        if fn in (operator.and_, operator.or_, operator.xor) and ka is bool and kb is bool:
            return _Scalar(fn(ta, tb), bool)
        if fn is operator.truediv:
            return _Scalar(fn(ta.to(D.float64), tb.to(D.float64)), float)
        kind = float if float in (ka, kb) else int
        ta, tb = (t.to(D.int64) if t.dtype is D.bool else t for t in (ta, tb))
        return _Scalar(fn(ta, tb), kind)

    def unary(self, e, v, frame):
        op = e.op
        if isinstance(op, ast.Not):
            static, cond = self.condition(v, e, frame)
            return (not static) if cond is None else _Scalar(cond.logical_not(), bool)
        if isinstance(v, _Scalar):
            if isinstance(op, ast.USub):
                t = v.t.to(D.int64) if v.kind is bool else v.t
                return _Scalar(-t, int if v.kind is bool else v.kind)
            if isinstance(op, ast.UAdd):
                return v
            raise frame.fn.error(e, "~ on a scalar is not supported", "Use ember ops.")
        fns = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
        return fns[type(op)](v)

    def boolop(self, e, frame):
        is_and = isinstance(e.op, ast.And)
        result = None
        for part in e.values:
            static, cond = self.condition(self.eval(part, frame), part, frame)
            if cond is None:
                if static != is_and:
                    return (not is_and) if result is None else \
                        _Scalar(scalar_tensor(not is_and), bool)
                continue
            result = cond if result is None else (
                result.logical_and(cond) if is_and else result.logical_or(cond))
        return is_and if result is None else _Scalar(result, bool)

    def compare(self, e, frame):
        left = self.eval(e.left, frame)
        result = None
        for op, right_e in zip(e.ops, e.comparators):
            right = self.eval(right_e, frame)
            if isinstance(op, (ast.Is, ast.IsNot)):
                value = (left is right) == isinstance(op, ast.Is)
            elif isinstance(op, (ast.In, ast.NotIn)):
                if isinstance(right, (Tensor, _Scalar)) or isinstance(left, (Tensor, _Scalar)):
                    raise frame.fn.error(e, "'in' with tensors is not supported",
                                         "Use ember.isin or comparisons.")
                value = (left in right) == isinstance(op, ast.In)
            else:
                value = self.binop_cmp(op, left, right, e, frame)
            if result is None:
                result = value
            else:
                result = self.boolop_values(result, value)
            left = right
        return result

    def binop_cmp(self, op, a, b, node, frame):
        fn = _CMPOPS[type(op)]
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            return fn(_unwrap(a), _unwrap(b))
        if isinstance(a, _Scalar) or isinstance(b, _Scalar):
            return self.scalar_op(fn, a, b)
        return fn(a, b)

    def boolop_values(self, a, b):
        if not isinstance(a, (Tensor, _Scalar)) and not a:
            return False
        if not isinstance(b, (Tensor, _Scalar)):
            return a if b else False
        if not isinstance(a, (Tensor, _Scalar)):
            return b
        return _Scalar(_as_tensor(a).logical_and(_as_tensor(b)).reshape(()), bool)

    # -- calls
    def call(self, e: ast.Call, frame: _Frame):
        fn = frame.fn
        if isinstance(e.func, ast.Attribute):
            base = self.eval(e.func.value, frame)
            if isinstance(base, (Tensor, _Scalar)) and e.func.attr in ("item", "tolist"):
                if e.func.attr == "tolist":
                    return self.as_list(base, e, frame)
                return self.to_scalar(base, None, e, frame)
            if isinstance(base, _Scalar):
                raise fn.error(e, "methods of a scalar are not supported",
                               "Use arithmetic or an ember function.")
            if isinstance(base, RuntimeStr):
                raise fn.error(e, f"str.{e.func.attr}() of a string computed from tensors "
                                  "(its text is only known on each call) is not supported",
                               "Apply it to the parts known while compiling (the literal "
                               "text) before formatting the values in.")
            if type(base) in (list, dict) and e.func.attr in _MUTATORS:
                base = self.copy_on_write(e.func.value, base, frame)
            read = self.read_sizes(base, e.func.attr, e, frame) if isinstance(
                base, Tensor) and e.func.attr in _SIZE_READS else None
            try:
                func = getattr(base, e.func.attr) if read is None else read
            except AttributeError as err:
                raise fn.error(e, str(err), "Check the attribute name.") from None
        else:
            func = self.eval(e.func, frame)
        args, kwargs = [], {}
        for a in e.args:
            if isinstance(a, ast.Starred):
                args += self.unpacked(a.value, (list, tuple), frame)
            else:
                args.append(self.eval(a, frame))
        for k in e.keywords:
            if k.arg is None:
                kwargs.update(self.unpacked(k.value, (dict,), frame))
            else:
                kwargs[k.arg] = self.eval(k.value, frame)
        return self.apply_call(func, args, kwargs, e, frame)

    def unpacked(self, e, kinds: tuple, frame):
        """The value of `*e` or `**e` in a call: a list, tuple or dict known at compile time."""
        value = self.eval(e, frame)
        if not isinstance(value, kinds):
            raise frame.fn.error(e, f"*{'*' if dict in kinds else ''}{type(value).__name__} in a "
                                    "call is not supported: only a list, tuple or dict known "
                                    "at compile time unpacks",
                                 "Pass the arguments one by one.")
        return value

    def as_list(self, v, node, frame):
        """x.tolist(): nested lists (as long as x's dims, known while compiling) of numbers
        computed from x on each call."""
        if isinstance(v, _Scalar) or v.dim() == 0:
            return self.to_scalar(v, None, node, frame)
        return [self.as_list(row, node, frame) for row in v.unbind(0)]

    def to_scalar(self, v, kind, node, frame):
        if isinstance(v, _Scalar):
            t, have = v.t, v.kind
        else:
            if v.numel() != 1:
                raise frame.fn.error(node, f"cannot convert a tensor of shape "
                                           f"{list(v.shape)} to a Python number",
                                     "Convert a one-element tensor.")
            t, have = _snapshot(v.reshape(())), _kind_of_dtype(v.dtype)
        kind = kind or have
        if kind is bool:
            return _Scalar(t if t.dtype is D.bool else t != 0, bool)
        dt = SCALAR_DTYPES[kind]
        if kind is int and t.dtype.category >= D._FLOAT:
            t = t.trunc()
        return _Scalar(t if t.dtype is dt else t.to(dt), kind)

    @staticmethod
    def rounded(number: _Scalar, ndigits=None) -> _Scalar:
        """round() of a number argument, as Python's: half to even, to an int without ndigits,
        else to ndigits decimals in the number's own kind."""
        t, kind = number.t, number.kind
        if ndigits is None:
            return _Scalar(t.round().to(SCALAR_DTYPES[int]) if kind is float else t, int)
        if kind is float:
            return _Scalar(t.round(decimals=int(ndigits)), float)
        if ndigits >= 0:
            return number
        step = 10 ** -int(ndigits)
        return _Scalar(((t / step).round() * step).to(SCALAR_DTYPES[int]), int)

    def apply_call(self, func, args, kwargs, e, frame):
        fn = frame.fn
        mark = getattr(func, _MARK, None) or getattr(getattr(func, "__func__", None), _MARK,
                                                     None)
        if mark == "unused":  # a run that gets here fails, as in TorchScript
            name = getattr(func, '__qualname__', func)
            raise _PathRaises(f"{name} is marked @ember.jit.unused and cannot run in scripted "
                              "code", "RuntimeError",
                              fn.error(e, f"{name} is marked @ember.jit.unused but this call is "
                                          "compiled", "Guard the call with a condition, or drop "
                                                      "the @unused mark."))
        if func in (int, float, bool) and len(args) == 1 and \
                isinstance(args[0], (Tensor, _Scalar)):
            return self.to_scalar(args[0], func, e, frame)
        if func is round and args and isinstance(args[0], _Scalar):
            return self.rounded(*args, **kwargs)
        if func in (min, max, abs) and any(isinstance(a, _Scalar) for a in args):
            ts = [_as_tensor(a) for a in args]
            kind = float if any(_scalar_kind(a) is float for a in args) else int
            if func is abs:
                return _Scalar(ts[0].abs(), kind)
            out = ts[0]
            for t in ts[1:]:
                out = out.maximum(t) if func is max else out.minimum(t)
            return _Scalar(out.to(SCALAR_DTYPES[kind]), kind)
        if func is print:
            self.print_call(args, kwargs, e, frame)
            return None
        if func is str and len(args) == 1 and not kwargs:
            return self.strings(e, frame, as_text, args[0])
        if isinstance(getattr(func, "__self__", None), str) and \
                getattr(func, "__name__", None) == "format":
            return self.strings(e, frame, format_call, func.__self__, args, kwargs)
        if func is is_scripting:
            return True
        if func is range and any(isinstance(a, _Scalar) for a in args):
            err = fn.error(e, "range() with a bound computed from tensors can only be "
                              "iterated by a for loop", "Use it directly in `for i in ...`.",
                           _TypesDiffer)  # the length of what it makes would differ per call
            self.specialize_on(err, args)
            raise err
        if func is len and args and isinstance(args[0], Tensor):
            read = self.read_sizes(args[0], "len", e, frame)
            return len(args[0]) if read is None else read
        if mark != "ignore":
            if isinstance(func, (Sequential,)) and type(func) is Sequential:
                value = args[0] if args else None
                for m in func:
                    value = self.apply_call(m, [value], {}, e, frame)
                return value
            if isinstance(func, Module) and _is_user_code(type(func)):
                forward = type(func).forward
                if getattr(forward, _MARK, None) == "ignore":
                    return self.python_call(func, args, kwargs, frame)
                return self.inline(forward, args, kwargs, e, frame, self_obj=func)
            if isinstance(func, types.MethodType) and isinstance(func.__func__,
                                                                  types.FunctionType) \
                    and _is_user_code(func.__func__):
                return self.inline(func.__func__, args, kwargs, e, frame,
                                   self_obj=func.__self__)
            if isinstance(func, types.FunctionType) and _is_user_code(func):
                return self.inline(func, args, kwargs, e, frame)
            if isinstance(func, StrongScriptFunction):  # a @script function's source inlines
                return self.inline(func._script.fn, args, kwargs, e, frame)
        else:
            return self.python_call(func, args, kwargs, frame)
        if type(getattr(func, "__self__", None)) in (list, dict) and \
                getattr(func, "__name__", None) in _MUTATORS:
            return func(*args, **kwargs)  # a list keeps its numbers computed from tensors
        try:
            return func(*_unwrap(args), **_unwrap(kwargs))
        except NotSupportedError:
            raise
        except Exception as err:
            raise fn.error(e, f"calling {getattr(func, '__name__', func)!s} failed while "
                              f"compiling ({type(err).__name__}: {err})",
                           "Check the arguments; a value computed from tensors cannot stand "
                           "where the function needs a Python number (sizes, dims).") \
                from err


def _written(value, scopes) -> bool:
    """Whether a tensor in `value` was written in place in one of `scopes` (closed blocks):
    the value it is bound to there differs from the one before."""
    def bound(bindings, t):
        return bindings[0].get(id(t), (None, None))[1]
    return any(bound(scope.after, t) is not bound(scope.before, t)
               for t in _split(value)[1] if isinstance(t, Tensor) for scope in scopes)


def _leaves(plan):
    if plan[0] == "leaf":
        return [plan[1]]
    if plan[0] in ("tuple", "dict"):
        return [x for p in plan[2] for x in _leaves(p)]
    return []


def _scalar_kind(v):
    if isinstance(v, _Scalar):
        return v.kind
    if isinstance(v, bool):
        return bool
    if isinstance(v, int) and not isinstance(v, Tensor):
        return int
    if isinstance(v, float):
        return float
    return None


def _str_leaf(value):
    """(tensor, kind) for a string part known only at run time, None for one known now."""
    if isinstance(value, Tensor):
        return value, "tensor"
    if isinstance(value, _Scalar):
        return value.t, value.kind.__name__
    return None


def _text_now(message: str | RuntimeStr) -> str:
    return message.now() if isinstance(message, RuntimeStr) else message


def _check_attrs(message: str | RuntimeStr, error: str) -> tuple[list, dict]:
    """The extra inputs and the attributes of an Assert raising `error` with `message`."""
    if isinstance(message, RuntimeStr):
        return message.leaves, {"message": message.template, "error": error,
                                "formats": [list(f) for f in message.formats]}
    return [], {"message": message, "error": error}


def _type_name(v) -> str:
    if isinstance(v, Tensor):
        return "Tensor"
    if isinstance(v, _Scalar):
        return v.kind.__name__
    if isinstance(v, RuntimeStr):
        return "str computed from tensors"
    return type(v).__name__


def _align_captures(scopes) -> list[Value]:
    """One list of captured outer values for all blocks of a node; each block's inputs are
    reordered (and padded with unused inputs) to match it."""
    order: list[Value] = []
    seen: set[int] = set()
    for scope in scopes:
        for v, _ in scope.caps:
            if v.id not in seen:
                seen.add(v.id)
                order.append(v)
    for scope in scopes:
        inputs = []
        for v in order:
            inner = scope.cap_map.get(v.id)
            if inner is None:
                inner = scope.graph.new_value(v.type)
            inputs.append(inner)
        scope.graph.inputs = inputs
    return order


# ---- signatures and compiling one call --------------------------------------------------------
def _arg_kind(name: str, annotation, default) -> str:
    """tensor, optional, int, float, bool, tensors (list/tuple/dict of tensors) or static.
    As in TorchScript, a parameter without annotation is a Tensor (None may be its default);
    a default of another type needs an annotation."""
    empty = inspect.Parameter.empty
    if annotation is empty:
        if default is empty or default is None or isinstance(default, Tensor):
            return "optional" if default is None else "tensor"
        raise _BadDefault(
            f"Expected a default value of type Tensor (inferred) on parameter \"{name}\". "
            f"Because \"{name}\" was not annotated with an explicit type it is assumed to be "
            f"type 'Tensor'.", f"Annotate it: `{name}: {type(default).__name__} = "
                               f"{default!r}`.")
    if annotation in (int, float, bool):
        fits = {int: (int,), float: (int, float), bool: (bool,)}[annotation]
        if default is not empty and not isinstance(default, fits):
            raise _BadDefault(f"Expected a default value of type {annotation.__name__} on "
                              f"parameter \"{name}\" (got {default!r}).",
                              "Give it a default of the annotated type.")
        return annotation.__name__
    if annotation is Tensor:
        return "optional" if default is None else "tensor"
    origin = typing.get_origin(annotation)
    targs = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in targs:
        rest = [a for a in targs if a is not type(None)]
        return "optional" if rest == [Tensor] else "static"
    if origin in (list, tuple) and targs and all(a in (Tensor, Ellipsis) for a in targs):
        return "tensors"
    if origin is dict and targs == (str, Tensor):
        return "tensors"
    return "static"


class _BadDefault(Exception):
    """A parameter's default does not fit its (annotated or inferred) type."""

    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.what, self.fix = what, fix


class _Signature:
    def __init__(self, fn, skip_self: bool, parsed: "_Function"):
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1 if skip_self else 0:]
        self.sig = sig.replace(parameters=params)
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - resolved one by one below, to name the culprit
            hints = {}
        self.kinds = {}
        for p in params:
            annotation = hints.get(p.name, p.annotation)
            for _ in range(2):  # a string annotation under `from __future__ import annotations`
                if not isinstance(annotation, str):
                    break
                try:
                    annotation = eval(annotation, fn.__globals__, dict(parsed.closure))
                except Exception as e:  # noqa: BLE001 - any failure: the name is unknown
                    raise parsed.error(parsed.tree, f"cannot resolve the annotation "
                                                    f"{annotation!r} of parameter {p.name!r} "
                                                    f"({type(e).__name__}: {e})",
                                       "Import the names it uses at module level.") from None
            try:
                self.kinds[p.name] = _arg_kind(p.name, annotation, p.default)
            except _BadDefault as e:
                raise parsed.error(parsed.tree, e.what, e.fix) from None
        self.name = fn.__name__
        # number arguments library code reads as Python values: graphs are per value of these
        self.specialized: set[str] = set()

    def bind(self, args, kwargs) -> dict:
        bound = self.sig.bind(*args, **kwargs)
        bound.apply_defaults()
        out = {name: as_number(self.kinds[name], value)
               for name, value in bound.arguments.items()}
        for name, value in out.items():
            check_arg(self.name, name, self.kinds[name], value)
        return out

    def key(self, bound: dict, sizes: bool = True) -> tuple:
        """What a graph is built for: tensor dtypes, shapes (ranks only without `sizes`) and
        devices, and the values of the arguments the graph bakes in."""
        def shape(t):
            return tuple(t.shape) if sizes else t.dim()
        parts = []
        for name, value in bound.items():
            kind = self.kinds[name]
            if isinstance(value, Tensor):
                parts.append(("T", value.dtype.name, shape(value), str(value.device)))
            elif kind == "tensors":
                parts.append(("L", type(value).__name__, tuple(
                    (k, v.dtype.name, shape(v), str(v.device))
                    for k, v in tensor_items(value))))
            elif kind in ("int", "float", "bool") and name not in self.specialized:
                parts.append(("S", kind))
            else:
                parts.append(("V", repr(value)))
        return tuple(parts)


def _batched_tensors(bound: dict, kinds: dict) -> list:
    """The tensors among bound arguments (inside tensor lists and dicts too)."""
    return [v for n, v in bound.items() if isinstance(v, Tensor)] + [
        t for n, v in bound.items() if kinds[n] == "tensors" for _, t in tensor_items(v)]


def _resized_arguments(bound: dict, kinds: dict, resize) -> dict:
    """Bound arguments with each tensor t replaced by resize(t) (frontend.sized_graph)."""
    out = {}
    for name, value in bound.items():
        if isinstance(value, Tensor):
            out[name] = resize(value)
        elif kinds[name] == "tensors":
            items = {k: resize(t) for k, t in tensor_items(value)}
            out[name] = items if type(value) is dict else type(value)(items.values())
        else:
            out[name] = value
    return out


def compile_call(fn, sig: _Signature, bound: dict, self_obj, state: dict) -> Graph:
    """Build the graph of one call signature of `fn` (a function, or a method with self);
    number arguments whose values decide control flow a graph cannot hold are added to
    `sig.specialized` on the way (their values are then baked in)."""
    while True:
        try:
            return _compile_once(fn, sig, bound, self_obj, state)
        except _Specialize as s:
            if s.names <= sig.specialized:
                raise RuntimeError(f"ember.jit.script: {sig.name}() specialized on {s} "
                                   "twice") from None
            sig.specialized |= s.names


def _compile_once(fn, sig: _Signature, bound: dict, self_obj, state: dict) -> Graph:
    parsed = _Function(fn, "method" if self_obj is not None else "function")
    root = _ScriptGraph([0])
    rec = _ScriptRecorder(root, state)
    env = {} if self_obj is None else {parsed.tree.args.args[0].arg: self_obj}
    for name, value in bound.items():
        kind = sig.kinds[name]
        if isinstance(value, Tensor):
            env[name] = _input(rec, value, name)
        elif kind == "tensors":
            made = {k: _input(rec, v, f"{name}_{k}") for k, v in tensor_items(value)}
            env[name] = made if type(value) is dict else type(value)(made.values())
        elif kind in ("int", "float", "bool"):
            t = _input(rec, scalar_tensor(SCALAR_CAST[kind](value)), name)
            rec.scalar_inputs[id(t)] = name
            env[name] = SCALAR_CAST[kind](value) if name in sig.specialized else \
                _Scalar(t, SCALAR_CAST[kind])
        else:
            env[name] = value
    flat_in = len(root.inputs)
    saved = [(t, t._data.copy()) for t, _, _ in state.values()]
    try:
        with no_grad(), _Tracing(rec):
            result = _Compiler(rec).call_function(parsed, env)
            rec.settle()
            flat, spec = flatten(_output(result), "output", strict=False, none=True)
            root.outputs = [rec.value_of(t) for t in flat]
    finally:
        for t, data in saved:
            t._data[...] = data
    root.output_spec = spec
    root.input_spec = ["tuple", [["tensor"]] * flat_in]
    _finish(root, root._counter[0])
    return root, rec.specialized


def _output(obj):
    """What a scripted call returns: numbers (known or computed) as 0-d tensors that come
    back to the caller as Python numbers, strings as templates filled on each call (their
    text can hold sizes: a graph for other sizes must not bake it in), as TorchScript
    returns them."""
    if isinstance(obj, str):
        return RuntimeStr(obj.replace("{", "{{").replace("}", "}}"), [], [])
    if isinstance(obj, _Scalar):
        return NumberLeaf(obj.t, obj.kind)
    if isinstance(obj, (bool, int, float)) and not isinstance(obj, Tensor):
        return NumberLeaf(scalar_tensor(obj), type(obj))
    if type(obj) is list:
        return [_output(o) for o in obj]
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple keeps its type
        return type(obj)(*(_output(o) for o in obj))
    if isinstance(obj, tuple):  # x.size() too: it comes back as a tuple
        return tuple(_output(o) for o in obj)
    if type(obj) is dict:
        return {k: _output(v) for k, v in obj.items()}
    return obj


def _input(rec, value: Tensor, name: str) -> Tensor:
    p = _fresh(value.detach())
    v = rec.root.add_input(TensorType.of(p), name)
    rec.bind(p, v)
    rec.define(v)
    rec.dynamic.add(v.id)
    return p


def _finish(graph: Graph, top: int) -> None:
    """Plain Graphs from here on, dead code dropped in every block, verified."""
    graph.__class__ = Graph
    graph.__dict__.pop("_counter", None)
    graph._next = top
    for node in graph.nodes:
        for block in node.blocks:
            _finish(block, top)
    eliminate_dead_code(graph)
    graph.verify()


# ---- the scripted objects ---------------------------------------------------------------------
class _ScriptedMethod:
    """A compiled method: one graph per input signature, built on first use."""

    def __init__(self, fn, self_obj, owner, name: str, transform=None):
        parsed = _Function(fn, "method" if self_obj is not None else "function")
        self.fn = fn
        self.self_obj = self_obj
        self.owner = owner
        self.name = name
        self.transform = transform  # what each new graph goes through (freezing)
        self.traced: dict = {}  # graphs for calls inside ember.jit.trace, at exact sizes
        self.sig = _Signature(fn, self_obj is not None, parsed)
        self.graphs: dict = {}
        self.dynamic: dict = {}  # key without sizes -> methods whose graphs have size symbols
        self.last = None

    def method_for(self, bound: dict):
        key = self._key(bound)
        method = self.graphs.get(key) or self._dynamic_for(bound)
        if method is None:
            state = {}
            if self.self_obj is not None:
                state = _module_state(self.self_obj)
            graph, specialized = compile_call(self.fn, self.sig, bound, self.self_obj, state)
            self.sig.specialized |= specialized
            # sizes baked in from the batch size become expressions of it, so a saved copy
            # serves other batch sizes too (or refuses them when none fits)
            kinds = self.sig.kinds
            graph = sized_graph(graph, _batched_tensors(bound, kinds), lambda resize: (
                compile_call(self.fn, self.sig, _resized_arguments(bound, kinds, resize),
                             self.self_obj, state)[0]))
            graph.call_schema = CallSchema.of(self.name if self.self_obj is not None
                                              else self.sig.name, self.sig.sig,
                                              self.sig.kinds, bound, self.sig.specialized)
            method = self._adopt(graph, self._key(bound, sizes=False))
            key = self._key(bound)  # with the values of arguments it specialized on
        self.graphs[key] = method
        self.last = method
        return method

    def _adopt(self, graph: Graph, unsized_key: tuple | None = None):
        """A method of the owner running `graph` (after the transform); with `unsized_key`,
        found again for other sizes when the graph has size symbols."""
        if self.transform is not None:
            graph = self.transform(graph)
        method = _Method(graph, self.name, self.owner if isinstance(self.owner, Module) else None)
        if graph.symbols and unsized_key is not None:
            self.dynamic.setdefault(unsized_key, []).append(method)
        return method

    def rebuilt(self, owner, transform) -> "_ScriptedMethod":
        """This method's code for another owner whose graphs go through `transform`; the
        graphs built so far are carried over through it."""
        other = _ScriptedMethod(self.fn, self.self_obj, owner, self.name, transform)
        other.sig = self.sig
        adopted = {}

        def adopt(method):
            if id(method) not in adopted:
                adopted[id(method)] = other._adopt(method.graph)
            return adopted[id(method)]
        other.graphs = {key: adopt(m) for key, m in self.graphs.items()}
        other.dynamic = {key: [adopt(m) for m in ms] for key, ms in self.dynamic.items()}
        other.last = adopt(self.last) if self.last is not None else None
        return other

    def _dynamic_for(self, bound: dict):
        """A method built at other sizes whose size expressions cover these arguments (its
        graph was checked at several sizes: frontend.generalized), or None."""
        methods = self.dynamic.get(self._key(bound, sizes=False), ())
        if not methods:
            return None
        shapes = [tuple(getattr(a, "shape", ())) for a in flat_inputs(self.sig.kinds, bound)]
        return next((m for m in methods if fits_symbols(m.graph, shapes)), None)

    def _key(self, bound: dict, sizes: bool = True) -> tuple:
        key = self.sig.key(bound, sizes)
        if self.self_obj is not None:
            key += (tuple(m.training for m in self.self_obj.modules()),)
        return key

    def __call__(self, *args, **kwargs):
        if is_compiling():
            # ember.compile captures the Python code (its graph breaks where values decide)
            return self.fn(*(() if self.self_obj is None else (self.self_obj,)), *args,
                           **kwargs)
        if self.self_obj is not None:
            _sync_training(self.owner, self.self_obj)
        bound = self.sig.bind(args, kwargs)
        if is_tracing():
            return self._traced_call(bound)
        method = self.method_for(bound)
        if self.owner is not None and hasattr(self.owner, "_methods"):
            self.owner._methods[self.name] = method
        return method.run(*flat_inputs(self.sig.kinds, bound))

    def _traced_call(self, bound: dict):
        """A call inside ember.jit.trace: the graph built for these arguments (at their very
        sizes: the trace generalizes sizes itself) goes into the trace with its control
        flow, as torch's traced code calling script code."""
        flat = flat_inputs(self.sig.kinds, bound)
        with suspended():
            key = self._key(bound)
            method = self.traced.get(key)
            if method is None:
                state = {} if self.self_obj is None else _module_state(self.self_obj)
                graph, specialized = compile_call(self.fn, self.sig, bound, self.self_obj,
                                                  state)
                self.sig.specialized |= specialized
                method = self.traced[key] = _Method(
                    graph, self.name, self.owner if isinstance(self.owner, Module) else None)
            result = method.run(*flat)
        names = method.state_names
        record_graph_call(method.graph, flat, dict(zip(names, method._state(names))),
                          flatten(result, "output")[0])
        return result

    @property
    def graph(self) -> Graph:
        if self.last is None:
            raise RuntimeError(
                f"ember.jit.script: {self.name}() has no graph yet: ember builds it for the "
                "shapes and dtypes of the first call. Call it once, or pass example_inputs= "
                "to ember.jit.script.")
        return self.last.graph

    @property
    def code(self) -> str:
        return _code_of(self.graph)


def _sync_training(script_mod: Module, original: Module) -> None:
    """The original module (whose code is compiled) follows script.train()/eval()."""
    for path, m in script_mod.named_modules():
        try:
            original.get_submodule(path).training = m.training
        except AttributeError:
            continue


class RecursiveScriptModule(ScriptModule):
    """A scripted module: forward (and @export methods) compiled from source."""

    def forward(self, *args, **kwargs):
        return self._script_methods["forward"](*args, **kwargs)

    @property
    def graph(self) -> Graph:
        return self._script_methods["forward"].graph

    @property
    def code(self) -> str:
        return _code_of(self.graph)

    def _rebuilt(self, layout: dict, tensors: dict, transform) -> "RecursiveScriptModule":
        """A module of this layout and these tensors running this one's code, each of its
        graphs (those built so far, and later ones on first use) passed through `transform`."""
        mod = RecursiveScriptModule._build(layout, tensors, {})
        methods = {n: m.rebuilt(mod, transform) for n, m in self._script_methods.items()}
        _attach(mod, methods)
        for name, method in methods.items():
            if method.last is not None:
                mod._methods[name] = method.last
        return mod


def _attach(mod: "RecursiveScriptModule", methods: dict) -> None:
    """Give a scripted module its methods: forward, then @export ones as attributes."""
    object.__setattr__(mod, "_script_methods", methods)
    for name in list(methods)[1:]:
        object.__setattr__(mod, name, methods[name])


class StrongScriptFunction(ScriptFunction):
    """A scripted function (see `script`)."""

    def __init__(self, fn):
        self._script = _ScriptedMethod(fn, None, self, "forward")
        self._methods = {}
        self.name = self.__name__ = fn.__name__

    def __call__(self, *args, **kwargs):
        return self._script(*args, **kwargs)

    @property
    def graph(self) -> Graph:
        return self._script.graph

    @property
    def code(self) -> str:
        return _code_of(self.graph)


def _code_of(graph: Graph) -> str:
    return python_code(graph, identifier("forward"), method=True)


def script_if_tracing(fn):
    """`fn` as it is, except inside ember.jit.trace, where it runs scripted (compiled on that
    first call) so that its control flow stays in the traced graph, as torch's does.

    >>> import ember
    >>> @ember.jit.script_if_tracing
    ... def halve_until_small(x):
    ...     while x.abs().max() > 1:
    ...         x = x / 2
    ...     return x
    >>> traced = ember.jit.trace(lambda x: halve_until_small(x) + 1, ember.tensor([0.5]))
    >>> traced(ember.tensor([6.0]))
    tensor([1.7500])
    """
    scripted = None

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        nonlocal scripted
        if not is_tracing():
            return fn(*args, **kwargs)
        if scripted is None:
            scripted = script(fn)
        return scripted(*args, **kwargs)
    return wrapper


def _marked_methods(cls) -> dict:
    """Each method of a Module class (its own or inherited) marked by export, ignore or unused,
    with its mark."""
    marks = {}
    for klass in reversed(cls.__mro__):
        for n, f in vars(klass).items():
            marks.pop(n, None)
            if getattr(f, _MARK, None) is not None:
                marks[n] = getattr(f, _MARK)
    return marks


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Compile a function or a Module's forward from its Python source.

    Tensor-dependent `if`, `while` and `for i in range(n)` (with `break`, `continue` and
    `return` anywhere in them) become prim::If / prim::Loop blocks that run for every input;
    everything that does not depend on tensor values (flags, module lists, shapes) is
    evaluated at compile time, so a graph is built per input signature on first use (or
    from `example_inputs`: a tuple of arguments, or a list of such tuples). As in
    TorchScript, unannotated parameters are Tensors (a default other than None needs an
    annotation); int/float/bool annotations make Python-number inputs, List/Tuple/Dict of
    Tensor annotations tensor containers. Unsupported code raises NotSupportedError quoting
    the file, line and text, and what to write instead.

    >>> import ember
    >>> def halve(x):
    ...     while x.norm() > 1:
    ...         x = x / 2
    ...     return x
    >>> f = ember.jit.script(halve)
    >>> f(ember.tensor([3., 4.]))
    tensor([0.3750, 0.5000])
    """
    if isinstance(obj, (ScriptModule, ScriptFunction)):
        return obj
    examples = [] if example_inputs is None else (
        list(example_inputs) if isinstance(example_inputs, list) else [example_inputs])
    if isinstance(obj, Module):
        mod = RecursiveScriptModule._build(module_layout(obj), _tensors_of(obj), {})
        marks = _marked_methods(type(obj))
        names = ["forward"] + [n for n, mark in marks.items() if mark == "export"]
        _attach(mod, {n: _ScriptedMethod(getattr(type(obj), n), obj, mod, n) for n in names})
        for n, mark in marks.items():  # as in TorchScript, Python can still call these
            if mark in ("ignore", "unused"):  # (on the original: its submodules run Python)
                object.__setattr__(mod, n, getattr(obj, n))
        for ex in examples:
            mod(*(ex if isinstance(ex, tuple) else (ex,)))
        return mod
    if not isinstance(obj, types.FunctionType):
        raise NotSupportedError(f"ember.jit.script expects a function or an nn.Module, got "
                                f"{type(obj).__name__}")
    fn = StrongScriptFunction(obj)
    for ex in examples:
        fn(*(ex if isinstance(ex, tuple) else (ex,)))
    return fn
