"""ember.jit.script: compile the Python source of a function or of a Module's forward into a
graph with control flow (prim::If / prim::Loop blocks).

A small AST interpreter walks the source. Every tensor is a placeholder (a real tensor with
the shape and dtype of the first call's inputs) bound to an IR value; each call of an ember
function, tensor method or library module runs for real on placeholders while the tracer's
recorder appends the ops it dispatches to the current block. Control flow that depends on
tensor values (or on `.item()`/`int()`/... of them) becomes blocks: both branches of an `if`
are compiled, `while` and `for ... in range(...)` become loops with loop-carried values.
Python values that do not depend on tensors (module attributes, `self.training`, shapes,
lists of modules) are evaluated at compile time, as a trace would, so a graph is built per
input signature (dtypes, shapes, which optional arguments are None).
"""
from __future__ import annotations

import ast
import builtins
import inspect
import operator
import textwrap
import types
import typing

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..nn.modules.container import ModuleList, Sequential
from ..nn.modules.module import Module
from .codegen import identifier, python_code
from .frontend import _module_state, _tensors_of
from .interpreter import run_graph, run_loop
from .ir import IF, LOOP, Graph, TensorType, Value, substitute
from .passes.dce import eliminate_dead_code
from .runtime import ScriptFunction, ScriptModule, _Method, module_layout
from .tracer import _Recorder, _Tracing, flatten

_MARK = "_ember_jit_mark"


class NotSupportedError(RuntimeError):
    """A construct ember.jit.script cannot compile (the message quotes the source line)."""


# ---- decorators ------------------------------------------------------------------------------
def ignore(drop=False, **kwargs):
    """Leave a function to Python: script does not compile its source but runs it on the
    placeholders, recording the ops it dispatches (its own Python control flow is fixed at
    compile time, as in a trace). Usable as `@ignore` or `@ignore(drop=...)`."""
    if callable(drop):
        setattr(drop, _MARK, "ignore")
        return drop

    def mark(fn):
        setattr(fn, _MARK, "unused" if drop else "ignore")
        return fn
    return mark


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


_SCALAR_DTYPES = {int: D.int64, float: D.float64, bool: D.bool}


def _kind_of_dtype(dt) -> type:
    if dt is D.bool:
        return bool
    return float if dt.category >= D._FLOAT else int


def _const_tensor(x) -> Tensor:
    kind = bool if isinstance(x, bool) else (int if isinstance(x, int) else float)
    return Tensor._wrap_array(np.asarray(x, dtype=_SCALAR_DTYPES[kind].np))


def _as_tensor(x):
    if isinstance(x, _Scalar):
        return x.t
    if isinstance(x, (bool, int, float)) and not isinstance(x, Tensor):
        return _const_tensor(x)
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
    blocks that a block reads become its inputs (captured), so blocks are self-contained."""

    def __init__(self, graph: Graph, state: dict):
        super().__init__(graph, state)
        self.scopes = [_Scope(graph)]
        self.tensors: dict[int, Tensor] = {}
        self.paused = False

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

    def run_concrete(self, fn, *args):
        """Run interpreter code on real tensors without recording it."""
        self.settle()
        self.paused = True
        try:
            return fn(*args)
        finally:
            self.paused = False


# ---- the AST interpreter ----------------------------------------------------------------------
class _Return:
    def __init__(self, value):
        self.value = value


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
        tree = ast.parse(textwrap.dedent("".join(lines)))
        self.tree = tree.body[0]
        if not isinstance(self.tree, ast.FunctionDef):
            raise NotSupportedError(f"ember.jit.script: {what} {fn.__qualname__} is not a "
                                    "plain def (lambdas and async functions are not supported)")
        self.globals = fn.__globals__
        closure = inspect.getclosurevars(fn)
        self.closure = dict(closure.nonlocals)
        _Checker(self).visit(self.tree)

    def line_of(self, node) -> tuple[int, str]:
        k = getattr(node, "lineno", 1) - 1
        text = self.lines[k].strip() if 0 <= k < len(self.lines) else ""
        return self.start + k, text

    def error(self, node, what: str, fix: str) -> NotSupportedError:
        line, text = self.line_of(node)
        return NotSupportedError(
            f"ember.jit.script: {what}\n  File \"{self.filename}\", line {line}, in "
            f"{self.name}:\n    {text}\n{fix}")


_UNSUPPORTED = {
    ast.Lambda: ("lambda expressions are not supported", "Define a function with def."),
    ast.With: ("'with' statements are not supported", "Move the block out of the 'with'."),
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
    ast.Break: ("'break' is not supported", "Put the exit test into the while condition "
                                            "(e.g. `while i < n and not done:`)."),
    ast.Continue: ("'continue' is not supported", "Wrap the rest of the loop body in an "
                                                  "if statement instead."),
    ast.Delete: ("'del' is not supported", "Assign a new value instead."),
    ast.ListComp: ("list comprehensions are not supported", "Use a for loop over the list."),
    ast.DictComp: ("dict comprehensions are not supported", "Use a for loop."),
    ast.SetComp: ("sets are not supported", "Use a list or a tuple."),
    ast.Set: ("sets are not supported", "Use a list or a tuple."),
    ast.GeneratorExp: ("generator expressions are not supported", "Use a for loop."),
    ast.Starred: ("starred expressions (*args) are not supported",
                  "Pass the arguments one by one."),
    ast.NamedExpr: ("':=' is not supported", "Assign in a statement of its own."),
}


class _Checker(ast.NodeVisitor):
    """Refuse constructs script never compiles, before anything runs."""

    def __init__(self, fn: _Function):
        self.fn = fn
        self.top = True

    def generic_visit(self, node):
        entry = _UNSUPPORTED.get(type(node))
        if entry is not None and not (self.top and isinstance(node, ast.FunctionDef)):
            raise self.fn.error(node, entry[0], entry[1])
        self.top = False
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


def _assigned(stmts) -> list[str]:
    """Names a statement list assigns (in order of first assignment)."""
    names: list[str] = []
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and \
                    node.id not in names:
                names.append(node.id)
    return names


def _returns(stmts) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and _returns(last.body) and _returns(last.orelse)


class _Frame:
    def __init__(self, fn: _Function, env: dict):
        self.fn = fn
        self.env = env


class _Compiler:
    """Walks the AST, building the graph through the recorder."""

    def __init__(self, rec: _ScriptRecorder):
        self.rec = rec
        self.depth = 0

    # -- functions
    def call_function(self, fn: _Function, env: dict):
        self.depth += 1
        if self.depth > 50:
            raise NotSupportedError(f"ember.jit.script: {fn.name} calls itself; recursion is "
                                    "not supported")
        try:
            ret = self.exec_stmts(fn.tree.body, _Frame(fn, env))
        finally:
            self.depth -= 1
        return None if ret is None else ret.value

    def inline(self, fn, args, kwargs, node, frame, self_obj=None):
        parsed = _Function(fn, "function")
        sig = inspect.signature(fn)
        try:
            bound = sig.bind(*((self_obj,) if self_obj is not None else ()), *args, **kwargs)
        except TypeError as e:
            raise frame.fn.error(node, f"bad call of {fn.__qualname__}: {e}",
                                 "Pass the arguments its signature expects.") from None
        bound.apply_defaults()
        return self.call_function(parsed, dict(bound.arguments))

    # -- statements
    def exec_stmts(self, stmts, frame: _Frame):
        stmts = list(stmts)
        for i, s in enumerate(stmts):
            rest = stmts[i + 1:]
            if isinstance(s, ast.If) and rest and _returns(s.body) != _returns(s.orelse):
                # early return: the statements after the if belong to the other branch
                s = ast.copy_location(ast.If(
                    test=s.test, body=s.body + ([] if _returns(s.body) else rest),
                    orelse=s.orelse + ([] if _returns(s.orelse) else rest)), s)
                return self.exec_stmt(s, frame)
            ret = self.exec_stmt(s, frame)
            if ret is not None:
                return ret
        return None

    def exec_stmt(self, s, frame: _Frame):
        fn = frame.fn
        if isinstance(s, ast.Return):
            return _Return(None if s.value is None else self.eval(s.value, frame))
        if isinstance(s, ast.Assign):
            value = self.eval(s.value, frame)
            for target in s.targets:
                self.assign(target, value, frame)
            return None
        if isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.assign(s.target, self.eval(s.value, frame), frame)
            return None
        if isinstance(s, ast.AugAssign):
            target = s.target
            if not isinstance(target, ast.Name):
                raise fn.error(s, "augmented assignment to an attribute or item is not "
                                  "supported", "Write `x = x + y` with a plain name.")
            value = self.binop(s.op, self.eval(target, frame), self.eval(s.value, frame),
                               s, frame, inplace=True)
            frame.env[target.id] = value
            return None
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant):
                return None
            self.eval(s.value, frame)
            return None
        if isinstance(s, ast.Pass):
            return None
        if isinstance(s, ast.If):
            return self.exec_if(s, frame)
        if isinstance(s, ast.While):
            return self.exec_while(s, frame)
        if isinstance(s, ast.For):
            return self.exec_for(s, frame)
        if isinstance(s, ast.Assert):
            test = self.eval(s.test, frame)
            if isinstance(test, (Tensor, _Scalar)):
                raise fn.error(s, "assert on a tensor value is not supported",
                               "Assert only on values known at compile time (shapes, flags).")
            if not test:
                raise AssertionError(self.eval(s.msg, frame) if s.msg else fn.line_of(s)[1])
            return None
        if isinstance(s, ast.Raise):
            raise fn.error(s, "a reachable 'raise' is not supported",
                           "Only raise under a condition known at compile time.")
        raise fn.error(s, f"the statement {type(s).__name__} is not supported",
                       "Rewrite it with assignments, if/while/for-range and calls.")

    def assign(self, target, value, frame: _Frame) -> None:
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Tensor):
                value = tuple(value.unbind(0))
            if not isinstance(value, (tuple, list)) or len(value) != len(target.elts):
                raise frame.fn.error(target, "cannot unpack this value into "
                                             f"{len(target.elts)} names",
                                     "Unpack a tuple of the same length.")
            for t, v in zip(target.elts, value):
                self.assign(t, v, frame)
        elif isinstance(target, ast.Subscript):
            base = self.eval(target.value, frame)
            index = self.eval(target.slice, frame)
            if not isinstance(base, Tensor):
                raise frame.fn.error(target, "item assignment is only supported on tensors",
                                     "Build a new list or tuple instead.")
            base[_unwrap(index)] = _unwrap(value)
        else:
            raise frame.fn.error(target, "assignment to an attribute is not supported",
                                 "Assign to a local name; register buffers in __init__ and "
                                 "update them with in-place ops (buf.copy_(...)).")

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

    def exec_if(self, s: ast.If, frame: _Frame):
        static, cond = self.condition(self.eval(s.test, frame), s.test, frame)
        if cond is None:
            return self.exec_stmts(s.body if static else s.orelse, frame)
        rec = self.rec
        cond_v = rec.value_of(cond)
        branches = []
        for stmts in (s.body, s.orelse):
            scope = rec.open()
            outer, frame.env = frame.env, dict(frame.env)
            try:
                ret = self.exec_stmts(stmts, frame)
            finally:
                env, frame.env = frame.env, outer
                rec.close()
            branches.append((scope, env, ret))
        (s1, env1, r1), (s2, env2, r2) = branches
        if (r1 is None) != (r2 is None):
            raise frame.fn.error(s, "only one branch of this if returns",
                                 "Make both branches return (add an else that returns), or "
                                 "assign a variable in both and return it after the if.")
        if r1 is not None:
            values = self.merge_if(s, frame, cond, cond_v, s1, s2, [r1.value], [r2.value])
            return _Return(values[0])
        names = [n for n in _assigned(s.body + s.orelse)
                 if n in env1 and n in env2 and
                 (env1[n] is not frame.env.get(n) or env2[n] is not frame.env.get(n))]
        values = self.merge_if(s, frame, cond, cond_v, s1, s2, [env1[n] for n in names],
                               [env2[n] for n in names])
        for n, v in zip(names, values):
            frame.env[n] = v
        for n in set(env1) ^ set(env2):
            frame.env.pop(n, None)
        return None

    def merge_if(self, s, frame, cond, cond_v, s1, s2, then_vals, else_vals):
        rec = self.rec
        plan = [self.merge_plan(a, b, s, frame) for a, b in zip(then_vals, else_vals)]
        leaves = [leaf for p in plan for leaf in _leaves(p)]
        outs = {}
        for scope, side in ((s1, 0), (s2, 1)):
            rec.open(scope)
            try:
                outs[side] = [rec.value_of(_as_tensor(pair[side])) for pair in leaves]
            finally:
                rec.close()
        for a, b in zip(outs[0], outs[1]):
            if a.type != b.type:
                raise frame.fn.error(s, f"the branches of this if give a variable different "
                                        f"types ({a.type} and {b.type})",
                                     "Make both branches produce the same dtype and shape.")
        caps = _align_captures([s1, s2])
        node = rec.graph.add_node(IF, [cond_v] + caps, {}, [v.type for v in outs[0]])
        s1.graph.outputs, s2.graph.outputs = outs[0], outs[1]
        node.blocks = [s1.graph, s2.graph]
        real = [rec.tensors[v.id] for v in caps]
        chosen = node.blocks[0 if bool(cond._data.item()) else 1]
        results = rec.run_concrete(run_graph, chosen, real, {})
        return self.rebuild(plan, node, results, leaves)

    def merge_plan(self, a, b, s, frame):
        """How two branch values merge: ("static", v), ("tuple", [plans]) or
        ("leaf", (a, b), kind) where kind is Tensor or a scalar type."""
        if not isinstance(a, (Tensor, _Scalar)) and not isinstance(b, (Tensor, _Scalar)):
            if type(a) is type(b) and isinstance(a, (tuple, list)) and len(a) == len(b):
                return ("tuple", type(a), [self.merge_plan(x, y, s, frame)
                                           for x, y in zip(a, b)])
            if type(a) is type(b) and (a is b or a == b):
                return ("static", a)
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            return ("leaf", (a, b), Tensor)
        ka, kb = _scalar_kind(a), _scalar_kind(b)
        if ka is not None and ka is kb:
            return ("leaf", (a, b), ka)
        raise frame.fn.error(s, f"the branches of this if give a variable values of "
                                f"different types ({_type_name(a)} and {_type_name(b)})",
                             "Give it the same type in both branches (Optional values must "
                             "be decided by conditions known at compile time).")

    def rebuild(self, plan_list, node, results, leaves):
        rec = self.rec
        made = []
        for v, t in zip(node.outputs, results):
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
            t, _ = next(it)
            return t if p[2] is Tensor else _Scalar(t, p[2])
        return [build(p) for p in plan_list]

    # -- loops
    def carried(self, stmts, frame, extra=()) -> list[str]:
        names = [n for n in _assigned(stmts) if n in frame.env and n not in extra]
        for n in names:
            v = frame.env[n]
            if isinstance(v, (bool, int, float)) and not isinstance(v, Tensor):
                frame.env[n] = _Scalar(_const_tensor(v), _scalar_kind(v))
            elif not isinstance(v, (Tensor, _Scalar)):
                raise frame.fn.error(stmts[0], f"the loop assigns {n!r}, a "
                                               f"{type(v).__name__}; loops can only carry "
                                               "tensors and numbers", "Carry tensors instead.")
        return names

    def exec_while(self, s: ast.While, frame: _Frame):
        if s.orelse:
            raise frame.fn.error(s, "while ... else is not supported", "Remove the else.")
        names = self.carried(s.body, frame)
        static, cond = self.condition(self.eval(s.test, frame), s.test, frame)
        if cond is None:
            if not static:
                return None
            raise frame.fn.error(s, "this while condition does not depend on tensors or on "
                                    "values the loop changes, so the loop never ends",
                                 "Make the condition read a value the loop updates.")
        return self.build_loop(s, frame, names, None, cond, None)

    def exec_for(self, s: ast.For, frame: _Frame):
        fn = frame.fn
        if s.orelse:
            raise fn.error(s, "for ... else is not supported", "Remove the else.")
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
            names = self.carried(s.body, frame, extra=(s.target.id,))
            if all(isinstance(b, int) for b in (start, stop)):
                trip = max(0, -(-(stop - start) // step))
            else:
                span = _as_tensor(stop) if isinstance(start, int) and start == 0 else \
                    _as_tensor(stop) - _as_tensor(start)
                if step != 1:
                    span = (span + (step - 1 if step > 0 else step + 1)) // step
                trip = span.clamp(min=0).to(D.int64)
            return self.build_loop(s, frame, names, trip, None, (s.target.id, start, step))
        seq = self.eval(it, frame)
        if isinstance(seq, (Tensor, _Scalar)):
            raise fn.error(it, "iterating over a tensor is not supported",
                           "Loop over range(x.size(0)) and index, or use tensor ops.")
        if isinstance(seq, (Sequential, ModuleList)):
            seq = list(seq)
        try:
            items = list(seq)
        except TypeError:
            raise fn.error(it, f"cannot iterate over a {type(seq).__name__}",
                           "Iterate over range(...), a list, a tuple or a ModuleList.") from None
        for item in items:
            self.assign(s.target, item, frame)
            ret = self.exec_stmts(s.body, frame)
            if ret is not None:
                raise fn.error(s, "return inside a loop is not supported",
                               "Assign the result to a variable and return after the loop.")
        return None

    def build_loop(self, s, frame, names, trip, cond, counter):
        rec = self.rec
        fn = frame.fn
        init = [frame.env[n] for n in names]
        init_t = [_as_tensor(v) for v in init]
        init_v = [rec.value_of(t) for t in init_t]
        trip_arg = trip if trip is None or isinstance(trip, int) else rec.value_of(trip)
        if cond is None:
            cond = _const_tensor(True)
        cond_v = rec.value_of(cond)
        scope = rec.open()
        outer, frame.env = frame.env, dict(frame.env)
        try:
            g = scope.graph
            it_in = g.add_input(TensorType(D.int64, ()), "iteration")
            cond_in = g.add_input(TensorType(D.bool, ()), "cond")
            it_t = _const_tensor(0)
            cond_t = _const_tensor(True)
            for v, t in ((it_in, it_t), (cond_in, cond_t)):
                rec.bind(t, v)
                rec.define(v)
            for n, v0, t0 in zip(names, init, init_t):
                v = g.add_input(TensorType.of(t0))
                p = _fresh(t0)
                rec.bind(p, v)
                rec.define(v)
                rec.dynamic.add(v.id)
                frame.env[n] = p if isinstance(v0, Tensor) else _Scalar(p, _scalar_kind(v0))
            if counter is not None:
                target, start, step = counter
                i = _Scalar(it_t, int)
                if step != 1:
                    i = self.binop(ast.Mult(), i, step, s, frame)
                if not (isinstance(start, int) and start == 0):
                    i = self.binop(ast.Add(), i, start, s, frame)
                frame.env[target] = i
            if self.exec_stmts(s.body, frame) is not None:
                raise fn.error(s, "return inside a loop is not supported",
                               "Assign the result to a variable and return after the loop.")
            if isinstance(s, ast.While):
                static, c = self.condition(self.eval(s.test, frame), s.test, frame)
                c = _const_tensor(static) if c is None else c
            else:
                c = cond_t
            outs = [rec.value_of(c)]
            for n, v0 in zip(names, init):
                new = frame.env[n]
                if isinstance(v0, Tensor) != isinstance(new, Tensor) or (
                        not isinstance(v0, Tensor) and _scalar_kind(new) is not v0.kind):
                    raise fn.error(s, f"the loop changes the type of {n!r} (from "
                                      f"{_type_name(v0)} to {_type_name(new)})",
                                   "Keep each variable's type the same across iterations.")
                outs.append(rec.value_of(_as_tensor(new)))
            for n, a, b in zip(names, init_v, outs[1:]):
                if a.type != b.type:
                    raise fn.error(s, f"the loop changes {n!r} from {a.type} to {b.type}",
                                   "Loop-carried tensors must keep their dtype and shape.")
            g.outputs = outs
        finally:
            frame.env = outer
            rec.close()
        caps = [outer_v for outer_v, _ in scope.caps]
        node = rec.graph.add_node(LOOP, [trip_arg, cond_v] + init_v + caps,
                                  {"carried": len(names)}, [v.type for v in init_v])
        node.blocks = [scope.graph]
        real = [trip if trip is None or isinstance(trip, int) else trip, cond] + init_t + \
            [rec.tensors[v.id] for v in caps]
        results = rec.run_concrete(run_loop, node, real)
        for n, v0, v, t in zip(names, init, node.outputs, results):
            p = _fresh(t)
            rec.bind(p, v)
            rec.define(v)
            frame.env[n] = p if isinstance(v0, Tensor) else _Scalar(p, v0.kind)
        return None

    # -- expressions
    def lookup(self, name, frame, node):
        if name in frame.env:
            return frame.env[name]
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
            picked = _as_tensor(a).where(cond, _as_tensor(b))
            return picked if kind is None or isinstance(a, Tensor) else _Scalar(picked, kind)
        if isinstance(e, ast.Subscript):
            base = self.eval(e.value, frame)
            index = self.eval(e.slice, frame)
            if isinstance(base, Tensor):
                return base[_unwrap(index)]
            if isinstance(index, _Scalar) or isinstance(index, Tensor):
                raise fn.error(e, "indexing a list or tuple with a value computed from "
                                  "tensors is not supported",
                               "Index with a value known at compile time.")
            return base[index]
        if isinstance(e, ast.Slice):
            parts = [None if p is None else self.eval(p, frame) for p in
                     (e.lower, e.upper, e.step)]
            return slice(*parts)
        if isinstance(e, ast.Call):
            return self.call(e, frame)
        if isinstance(e, ast.JoinedStr):
            return "".join(str(self.eval(v, frame)) for v in e.values)
        if isinstance(e, ast.FormattedValue):
            return self.eval(e.value, frame)
        raise fn.error(e, f"the expression {type(e).__name__} is not supported",
                       "Rewrite it with calls, arithmetic and comparisons.")

    def binop(self, op, a, b, node, frame, inplace=False):
        fn = _BINOPS.get(type(op))
        if fn is None:
            raise frame.fn.error(node, f"operator {type(op).__name__} is not supported",
                                 "Use an ember function instead.")
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
                        _Scalar(_const_tensor(not is_and), bool)
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
                    raise fn.error(e, ".tolist() is not supported", "Use tensor ops.")
                return self.to_scalar(base, None, e, frame)
            if isinstance(base, _Scalar):
                raise fn.error(e, "methods of a scalar are not supported",
                               "Use arithmetic or an ember function.")
            func = self.eval(e.func, frame)
        else:
            func = self.eval(e.func, frame)
        args = [self.eval(a, frame) for a in e.args]
        kwargs = {k.arg: self.eval(k.value, frame) for k in e.keywords}
        return self.apply_call(func, args, kwargs, e, frame)

    def to_scalar(self, v, kind, node, frame):
        if isinstance(v, _Scalar):
            t, have = v.t, v.kind
        else:
            if v.numel() != 1:
                raise frame.fn.error(node, f"cannot convert a tensor of shape "
                                           f"{list(v.shape)} to a Python number",
                                     "Convert a one-element tensor.")
            t, have = v.reshape(()), _kind_of_dtype(v.dtype)
        kind = kind or have
        if kind is bool:
            return _Scalar(t if t.dtype is D.bool else t != 0, bool)
        dt = _SCALAR_DTYPES[kind]
        if kind is int and t.dtype.category >= D._FLOAT:
            t = t.trunc()
        return _Scalar(t if t.dtype is dt else t.to(dt), kind)

    def apply_call(self, func, args, kwargs, e, frame):
        fn = frame.fn
        mark = getattr(func, _MARK, None) or getattr(getattr(func, "__func__", None), _MARK,
                                                     None)
        if mark == "unused":
            raise fn.error(e, f"{getattr(func, '__qualname__', func)} is marked "
                              "@ember.jit.unused but this call is compiled",
                           "Guard the call with a condition known at compile time, or drop "
                           "the @unused mark.")
        if func in (int, float, bool) and len(args) == 1 and \
                isinstance(args[0], (Tensor, _Scalar)):
            return self.to_scalar(args[0], func, e, frame)
        if func in (min, max, abs) and any(isinstance(a, _Scalar) for a in args):
            ts = [_as_tensor(a) for a in args]
            kind = float if any(_scalar_kind(a) is float for a in args) else int
            if func is abs:
                return _Scalar(ts[0].abs(), kind)
            out = ts[0]
            for t in ts[1:]:
                out = out.maximum(t) if func is max else out.minimum(t)
            return _Scalar(out.to(_SCALAR_DTYPES[kind]), kind)
        if func is print:
            return None
        if func is range and any(isinstance(a, _Scalar) for a in args):
            raise fn.error(e, "range() with a bound computed from tensors can only be "
                              "iterated by a for loop", "Use it directly in `for i in ...`.")
        if func is len and args and isinstance(args[0], Tensor):
            return len(args[0])
        if mark != "ignore":
            if isinstance(func, (Sequential,)) and type(func) is Sequential:
                value = args[0] if args else None
                for m in func:
                    value = self.apply_call(m, [value], {}, e, frame)
                return value
            if isinstance(func, Module) and _is_user_code(type(func)):
                forward = type(func).forward
                if getattr(forward, _MARK, None) == "ignore":
                    return func(*_unwrap(args), **_unwrap(kwargs))
                return self.inline(forward, args, kwargs, e, frame, self_obj=func)
            if isinstance(func, types.MethodType) and isinstance(func.__func__,
                                                                  types.FunctionType) \
                    and _is_user_code(func.__func__):
                return self.inline(func.__func__, args, kwargs, e, frame,
                                   self_obj=func.__self__)
            if isinstance(func, types.FunctionType) and _is_user_code(func):
                return self.inline(func, args, kwargs, e, frame)
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


def _leaves(plan):
    if plan[0] == "leaf":
        return [plan[1]]
    if plan[0] == "tuple":
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


def _type_name(v) -> str:
    if isinstance(v, Tensor):
        return "Tensor"
    if isinstance(v, _Scalar):
        return v.kind.__name__
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
def _arg_kind(annotation, default) -> str:
    """tensor, optional, int, float, bool, tensors (list/tuple of tensors) or static."""
    if annotation is inspect.Parameter.empty:
        if default is inspect.Parameter.empty:
            return "tensor"
        if default is None:
            return "optional"
        for kind in (bool, int, float):
            if type(default) is kind:
                return kind.__name__
        return "static"
    if annotation in (int, float, bool):
        return annotation.__name__
    if annotation is Tensor:
        return "tensor"
    origin = typing.get_origin(annotation)
    targs = typing.get_args(annotation)
    if origin is typing.Union and type(None) in targs:
        rest = [a for a in targs if a is not type(None)]
        return "optional" if rest == [Tensor] else "static"
    if origin in (list, tuple) and targs and all(a in (Tensor, Ellipsis) for a in targs):
        return "tensors"
    return "static"


class _Signature:
    def __init__(self, fn, skip_self: bool):
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1 if skip_self else 0:]
        self.sig = sig.replace(parameters=params)
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - unresolvable annotations: treat as absent
            hints = {}
        self.kinds = {p.name: _arg_kind(hints.get(p.name, inspect.Parameter.empty)
                                        if not isinstance(p.annotation, str) or
                                        p.name in hints else inspect.Parameter.empty,
                                        p.default) for p in params}
        self.name = fn.__name__

    def bind(self, args, kwargs) -> dict:
        bound = self.sig.bind(*args, **kwargs)
        bound.apply_defaults()
        out = dict(bound.arguments)
        for name, value in out.items():
            self._check(name, self.kinds[name], value)
        return out

    def _check(self, name, kind, value) -> None:
        ok = {"tensor": isinstance(value, Tensor),
              "optional": value is None or isinstance(value, Tensor),
              "int": type(value) is int, "bool": type(value) is bool,
              "float": type(value) in (int, float),
              "tensors": isinstance(value, (list, tuple)) and all(
                  isinstance(v, Tensor) for v in value),
              "static": True}[kind]
        if not ok:
            want = {"tensor": "Tensor (inferred)", "optional": "Optional[Tensor]",
                    "tensors": "List[Tensor]"}.get(kind, kind)
            raise RuntimeError(f"{self.name}() Expected a value of type '{want}' for argument "
                               f"'{name}' but instead found type '{type(value).__name__}'.")

    def key(self, bound: dict) -> tuple:
        parts = []
        for name, value in bound.items():
            kind = self.kinds[name]
            if isinstance(value, Tensor):
                parts.append(("T", value.dtype.name, tuple(value.shape), str(value.device)))
            elif kind == "tensors":
                parts.append(("L", type(value).__name__, tuple(
                    (v.dtype.name, tuple(v.shape), str(v.device)) for v in value)))
            elif kind in ("int", "float", "bool"):
                parts.append(("S", kind))
            else:
                parts.append(("V", repr(value)))
        return tuple(parts)

    def flat(self, bound: dict) -> list[Tensor]:
        """The graph's inputs for a call: tensors, and numbers as 0-d tensors."""
        out = []
        for name, value in bound.items():
            kind = self.kinds[name]
            if isinstance(value, Tensor):
                out.append(value)
            elif kind == "tensors":
                out += list(value)
            elif kind in ("int", "float", "bool"):
                out.append(_const_tensor(_SCALAR_CAST[kind](value)))
        return out


_SCALAR_CAST = {"int": int, "float": float, "bool": bool}


def compile_call(fn, sig: _Signature, bound: dict, self_obj, state: dict) -> Graph:
    """Build the graph of one call signature of `fn` (a function, or a method with self)."""
    parsed = _Function(fn, "method" if self_obj is not None else "function")
    root = _ScriptGraph([0])
    rec = _ScriptRecorder(root, state)
    env = {} if self_obj is None else {parsed.tree.args.args[0].arg: self_obj}
    for name, value in bound.items():
        kind = sig.kinds[name]
        if isinstance(value, Tensor):
            env[name] = _input(rec, value, name)
        elif kind == "tensors":
            env[name] = type(value)(_input(rec, v, f"{name}_{k}") for k, v in
                                    enumerate(value))
        elif kind in ("int", "float", "bool"):
            t = _input(rec, _const_tensor(_SCALAR_CAST[kind](value)), name)
            env[name] = _Scalar(t, _SCALAR_CAST[kind])
        else:
            env[name] = value
    flat_in = len(root.inputs)
    saved = [(t, t._data.copy()) for t, _, _ in state.values()]
    try:
        with no_grad(), _Tracing(rec):
            result = _Compiler(rec).call_function(parsed, env)
            rec.settle()
            if isinstance(result, _Scalar):
                result = result.t
            result = _unwrap(result)
            flat, spec = flatten(result, "output")
            root.outputs = [rec.value_of(t) for t in flat]
    finally:
        for t, data in saved:
            t._data[...] = data
    root.output_spec = spec
    root.input_spec = ["tuple", [["tensor"]] * flat_in]
    _finish(root, root._counter[0])
    return root


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

    def __init__(self, fn, self_obj, owner, name: str):
        _Function(fn, "method" if self_obj is not None else "function")
        self.fn = fn
        self.self_obj = self_obj
        self.owner = owner
        self.name = name
        self.sig = _Signature(fn, skip_self=self_obj is not None)
        self.graphs: dict = {}
        self.last = None

    def method_for(self, bound: dict):
        key = self.sig.key(bound)
        if self.self_obj is not None:
            key += (tuple(m.training for m in self.self_obj.modules()),)
        method = self.graphs.get(key)
        if method is None:
            state = {}
            if self.self_obj is not None:
                state = _module_state(self.self_obj)
            graph = compile_call(self.fn, self.sig, bound, self.self_obj, state)
            owner = self.owner if isinstance(self.owner, Module) else None
            method = self.graphs[key] = _Method(graph, self.name, owner)
        self.last = method
        return method

    def __call__(self, *args, **kwargs):
        if self.self_obj is not None:
            _sync_training(self.owner, self.self_obj)
        bound = self.sig.bind(args, kwargs)
        method = self.method_for(bound)
        if self.owner is not None and hasattr(self.owner, "_methods"):
            self.owner._methods[self.name] = method
        return method(*self.sig.flat(bound))

    @property
    def graph(self) -> Graph:
        if self.last is None:
            raise RuntimeError(
                f"ember.jit.script: {self.name}() has no graph yet: ember builds it for the "
                "shapes and dtypes of the first call. Call it once, or pass example_inputs= "
                "to ember.jit.script.")
        return self.last.graph


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
    if any(n.blocks for n in graph.nodes):
        raise RuntimeError("ember.jit.script: .code is not available for graphs with control "
                           "flow; print .graph to see the blocks")
    return python_code(graph, identifier("forward"), method=True)


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Compile a function or a Module's forward from its Python source.

    Tensor-dependent `if`, `while` and `for i in range(n)` become prim::If / prim::Loop
    blocks that run for every input; everything that does not depend on tensor values
    (flags, module lists, shapes) is evaluated at compile time, so a graph is built per input
    signature on first use (or from `example_inputs`: a tuple of arguments, or a list of
    such tuples). Unannotated parameters are Tensors, or have their default's type;
    int/float/bool annotations make Python-number inputs.

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
        names = ["forward"] + [n for n, f in vars(type(obj)).items()
                               if getattr(f, _MARK, None) == "export"]
        methods = {n: _ScriptedMethod(getattr(type(obj), n), obj, mod, n) for n in names}
        object.__setattr__(mod, "_script_methods", methods)
        for n in names[1:]:
            object.__setattr__(mod, n, methods[n])
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
