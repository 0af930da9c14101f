"""Run the same code through torch and ember and compare values and gradients.

`compare(fn, args)` calls fn(lib, *tensors) for lib = torch and ember on identical inputs
(Arg specs from ember.testing.opinfo), then checks outputs (values, shapes, dtypes) and the
gradients of every differentiable input for a random cotangent.
`compare_modules(make, inputs)` does the same for a module built by make(lib), with the ember
module loaded from the torch module's state_dict.
"""
from __future__ import annotations

import copy
import io

import numpy as np
import torch

import ember
from ember.testing.opinfo import Arg

TOL = {"float32": (1e-5, 1e-5), "float64": (1e-9, 1e-7), "float16": (1e-2, 1e-2),
       "bfloat16": (5e-2, 5e-2)}
GRAD_TOL = {"float32": (1e-4, 1e-4), "float64": (1e-9, 1e-7)}


def arrays(args, dtype: str, seed: int = 0) -> list:
    """Host data for each argument: (array, dtype, requires_grad) for Args, else the value."""
    rng = np.random.default_rng(seed)
    out = []
    for a in args:
        if isinstance(a, tuple):
            a = Arg(a)
        if not isinstance(a, Arg):
            out.append(a)
            continue
        dt = a.dtype or dtype
        if a.values is not None:
            arr = np.array(a.values)
        elif dt == "bool":
            arr = rng.random(a.shape) > 0.5
        elif dt.startswith(("int", "uint")):
            arr = rng.integers(int(np.ceil(a.low)), int(np.ceil(a.high)) + 1, size=a.shape)
        else:
            arr = rng.uniform(a.low, a.high, size=a.shape).astype(np.float32).astype(np.float64)
        out.append((arr, dt, a.grad and not dt.startswith(("int", "uint", "bool"))))
    return out


def build(lib, data, requires_grad: bool = True) -> list:
    out = []
    for d in data:
        if not isinstance(d, tuple):
            out.append(d)
            continue
        arr, dt, grad = d
        t = lib.tensor(arr.tolist() if arr.ndim == 0 else arr, dtype=getattr(lib, dt))
        if grad and requires_grad:
            t.requires_grad_(True)
        out.append(t)
    return out


def flat(out) -> list:
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in flat(x)]
    return [out]


def to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    if isinstance(x, ember.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == ember.bfloat16 else x).numpy()
    return np.asarray(x)


def assert_close(ours, theirs, atol: float, rtol: float, what: str = "") -> None:
    ours, theirs = flat(ours), flat(theirs)
    assert len(ours) == len(theirs), f"{what}: {len(ours)} outputs vs {len(theirs)}"
    for k, (o, t) in enumerate(zip(ours, theirs)):
        if isinstance(t, torch.Tensor):
            assert isinstance(o, ember.Tensor), f"{what}[{k}]: {type(o)} is not a Tensor"
            assert str(o.dtype) == str(t.dtype), f"{what}[{k}]: dtype {o.dtype} vs {t.dtype}"
            assert tuple(o.shape) == tuple(t.shape), \
                f"{what}[{k}]: shape {tuple(o.shape)} vs {tuple(t.shape)}"
        a, b = to_numpy(o), to_numpy(t)
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), atol=atol,
                                       rtol=rtol, equal_nan=True, err_msg=f"{what}[{k}]")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{what}[{k}]")


def _grads(lib, outs, wrt, seed=1):
    outs = [o for o in flat(outs) if isinstance(o, (torch.Tensor, ember.Tensor))
            and o.requires_grad]
    if not outs or not wrt:
        return []
    rng = np.random.default_rng(seed)
    cots = [lib.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype) for o in outs]
    return lib.autograd.grad(outs, wrt, cots, allow_unused=True)


def compare(fn, args, dtypes=("float32", "float64"), grad: bool = True, atol=None, rtol=None,
            seed: int = 0, what: str = "") -> None:
    """fn(lib, *tensors) agrees between torch and ember: outputs and input gradients."""
    for dt in dtypes:
        data = arrays(args, dt, seed)
        t_args, e_args = build(torch, data), build(ember, data)
        t_out, e_out = fn(torch, *t_args), fn(ember, *e_args)
        tol = TOL[dt]
        assert_close(e_out, t_out, atol if atol is not None else tol[0],
                     rtol if rtol is not None else tol[1], f"{what or fn} [{dt}]")
        if not grad or dt not in GRAD_TOL:
            continue
        t_wrt = [a for a in t_args if isinstance(a, torch.Tensor) and a.requires_grad]
        e_wrt = [a for a in e_args if isinstance(a, ember.Tensor) and a.requires_grad]
        t_g, e_g = _grads(torch, t_out, t_wrt), _grads(ember, e_out, e_wrt)
        for k, (g_e, g_t) in enumerate(zip(e_g, t_g)):
            if g_t is None:
                assert g_e is None or not to_numpy(g_e).any(), f"grad {k}: torch has none"
                continue
            assert g_e is not None, f"grad {k}: ember produced none"
            assert_close(g_e, g_t, *GRAD_TOL[dt], f"{what or fn} grad {k} [{dt}]")


def to_ember_state(module: torch.nn.Module) -> dict:
    return {k: ember.tensor(v.detach().numpy()) for k, v in module.state_dict().items()}


def compare_modules(make, inputs, dtypes=("float32", "float64"), train: bool = True,
                    grad: bool = True, steps: int = 1, what: str = "") -> tuple:
    """make(lib) builds the same module in both libraries; the ember copy is loaded from the
    torch one's state_dict. Runs `steps` forwards (and backwards) on inputs (Arg specs),
    comparing outputs, input and parameter gradients and the final state_dict. A copy of the
    ember module under ember.compile takes the same steps, and one more on new values (its
    first call captures; the others run the graphs), and must agree with torch too. Scripted
    and traced copies, and their saved files, must agree with the ember module
    (`check_jit`)."""
    for dt in dtypes:
        t_mod, e_mod = make(torch).to(getattr(torch, dt)), make(ember).to(getattr(ember, dt))
        with torch.no_grad():
            for p in t_mod.parameters():
                p.uniform_(-1.0, 1.0)
        e_mod.load_state_dict(to_ember_state(t_mod))
        c_mod = copy.deepcopy(e_mod)
        fast = ember.compile(c_mod)
        t_mod.train(train)
        e_mod.train(train)
        c_mod.train(train)
        tol, gtol = TOL[dt], GRAD_TOL[dt]
        for step in range(max(steps, 2)):
            data = arrays(inputs, dt, seed=step)
            t_in = build(torch, data)
            t_out = t_mod(*t_in)
            t_wrt = [a for a in t_in if isinstance(a, torch.Tensor) and a.requires_grad]
            t_wrt += [p for p in t_mod.parameters() if p.requires_grad]
            t_grads = _grads(torch, t_out, t_wrt, step) if grad else []
            for name, mod, call in (("", e_mod, e_mod), (" compiled", c_mod, fast)):
                e_in = build(ember, data)
                e_out = call(*e_in)
                assert_close(e_out, t_out, *tol, f"{what}{name} output step {step} [{dt}]")
                if grad:
                    e_wrt = [a for a in e_in if isinstance(a, ember.Tensor) and a.requires_grad]
                    e_wrt += [p for p in mod.parameters() if p.requires_grad]
                    for k, (g_e, g_t) in enumerate(zip(_grads(ember, e_out, e_wrt, step),
                                                       t_grads)):
                        if g_t is not None:
                            assert_close(g_e, g_t, *gtol,
                                         f"{what}{name} grad {k} step {step} [{dt}]")
        check_jit(e_mod, inputs, dt, f"{what} [{dt}]")
        t_sd = t_mod.state_dict()
        for name, mod in (("", e_mod), (" compiled", c_mod)):
            e_sd = mod.state_dict()
            assert list(e_sd) == list(t_sd), \
                f"{what}: state_dict keys {list(e_sd)} vs {list(t_sd)}"
            for key in t_sd:
                assert_close(e_sd[key], t_sd[key], *tol, f"{what}{name} state {key} [{dt}]")
    return t_mod, e_mod


def check_jit(module, inputs, dtype: str, what: str = "") -> None:
    """ember.jit.script and ember.jit.trace of a copy of `module`, and the files they save,
    give the module's own outputs on values other than the example (each compiled copy and
    its eager twin take the same calls, so buffers such as running statistics agree), and,
    where the saved graph keeps sizes as expressions (s0, s1), at other sizes too.
    Modules that draw random numbers in their current mode are left out, and so is a trace
    that check_trace refuses (the module reads a value into Python: batch norm's
    momentum=None divides by its batch count)."""
    tol = TOL[dtype]
    example, later, last = (build(ember, arrays(inputs, dtype, seed=s), requires_grad=False)
                            for s in (7, 8, 9))
    twin = copy.deepcopy(module)
    if not _deterministic(module, example):
        return
    for kind in ("script", "trace"):
        mod, ref = copy.deepcopy(module), copy.deepcopy(twin)
        if kind == "script":
            compiled = ember.jit.script(mod)
            compiled(*example)
        else:
            try:
                compiled = ember.jit.trace(mod, tuple(example))
            except ember.jit.TracingCheckError:
                continue
        ref(*example)
        assert_close(compiled(*later), ref(*later), *tol, f"{what} {kind}d")
        buffer = io.BytesIO()
        compiled.save(buffer)
        loaded = ember.jit.load(io.BytesIO(buffer.getvalue()))
        ref = copy.deepcopy(ref)
        assert_close(loaded(*last), ref(*last), *tol, f"{what} {kind}d, loaded")
        other = _other_sizes(loaded.graph, last)
        if other is not None:
            assert_close(loaded(*other), ref(*other), *tol, f"{what} {kind}d, at other sizes")


def _other_sizes(graph, inputs):
    """`inputs` grown in every dim a saved graph holds as a size expression (symbol + 2,
    entries repeated in turn), or None when the graph has no symbols or the inputs are not
    its flat tensors."""
    from ember.jit.ir import SymInt
    from ember.jit.symbolic import symbol_sizes
    if not graph.symbols or len(inputs) != len(graph.inputs) or \
            not all(isinstance(t, ember.Tensor) for t in inputs):
        return None
    sizes = {s: n + 2 for s, n in symbol_sizes(graph, [t.shape for t in inputs]).items()}
    out = []
    for t, v in zip(inputs, graph.inputs):
        t = t.detach()
        for d, dim in enumerate(v.type.shape):
            if type(dim) is SymInt:
                index = ember.arange(dim.evaluate(sizes)) % t.shape[d]
                t = t.index_select(d, index)
        out.append(t)
    return out


def _deterministic(module, example) -> bool:
    a, b = (copy.deepcopy(module)(*example) for _ in range(2))
    return all(np.array_equal(to_numpy(x), to_numpy(y), equal_nan=True)
               for x, y in zip(flat(a), flat(b)))
