"""The CUDA C that ember.jit.cuda_kernels writes for fused pointwise groups, checked on the
host: each group's operation and helpers are compiled as C++ (EMBER_DEVICE empty) into a loop
over elements and compared with the group run op by op, NaN and infinities included, in
float32 and float64. Every C form is exercised. Runs where a C++ compiler is installed. On a
machine with CuPy and a GPU, the chains also run traced on the device as CuPy kernels."""
from __future__ import annotations

import ctypes
import inspect
import shutil
import subprocess

import numpy as np
import pytest

import ember
from ember.jit.cuda_kernels import C_FORMS, cuda_source
from ember.jit.interpreter import run_graph
from ember.jit.ir import FUSION_GROUP
from ember.jit.passes import optimize

from .pointwise_chains import CHAINS

CXX = shutil.which("c++") or shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler to build the kernels")

_TYPES = {"float32": ("float", np.float32), "float64": ("double", np.float64),
          "bool": ("bool", np.bool_)}


def _groups(fn, x, y):
    graph = ember.jit.trace(fn, (x, y), check_trace=False).graph.copy()
    optimize(graph)
    return [n for n in graph.nodes if n.op == FUSION_GROUP]


def _params(text: str) -> list[tuple[str, str]]:
    return [tuple(p.split()) for p in text.split(", ")] if text else []


def _host_kernel(source, tmp_path):
    """The kernel's operation compiled for the host: run(n, inputs..., outputs...)."""
    ins, outs = _params(source.in_params), _params(source.out_params)
    args = ["long n"] + [f"const {_TYPES[t][0]}* p_{name}" for t, name in ins] + \
        [f"{_TYPES[t][0]}* p_{name}" for t, name in outs]
    loads = "".join(f"{_TYPES[t][0]} {name} = p_{name}[i]; " for t, name in ins)
    decls = "".join(f"{_TYPES[t][0]} {name}; " for t, name in outs)
    stores = "".join(f"p_{name}[i] = {name}; " for _, name in outs)
    text = ("#define EMBER_DEVICE\n#include <math.h>\n" + source.preamble +
            f'extern "C" void run({", ".join(args)}) {{\n'
            f"  for (long i = 0; i < n; ++i) {{ {loads}{decls}\n{source.operation}\n"
            f"  {stores}}}\n}}\n")
    cpp, lib = tmp_path / f"{source.name}.cpp", tmp_path / f"{source.name}.so"
    cpp.write_text(text)
    subprocess.run([CXX, "-O1", "-shared", "-fPIC", "-o", str(lib), str(cpp)], check=True,
                   capture_output=True)
    return ctypes.CDLL(str(lib)).run, ins, outs


@needs_cxx
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("chain", CHAINS, ids=lambda f: f.__name__)
def test_generated_cuda_c_matches_the_ops(chain, dtype, tmp_path):
    rng = np.random.default_rng(0)
    xt, yt = (ember.tensor(rng.uniform(-2, 2, (4, 8)), dtype=getattr(ember, dtype))
              for _ in range(2))
    groups = _groups(chain, xt, yt)
    assert groups, "the chain should fuse"
    for node in groups:
        source = cuda_source(node)
        assert source is not None
        run, ins, outs = _host_kernel(source, tmp_path)
        shape = tuple(node.outputs[0].type.shape)
        operands = [_rand_like(v.type, rng) for v in node.body.inputs]
        expected = [t.numpy() for t in run_graph(
            node.body, [ember.from_numpy(a) for a in operands], {})]
        inputs = [np.ascontiguousarray(np.broadcast_to(a, shape)) for a in operands]
        got = [np.empty(shape, _TYPES[t][1]) for t, _ in outs]
        run(ctypes.c_long(got[0].size), *[a.ctypes.data_as(ctypes.c_void_p) for a in inputs],
            *[g.ctypes.data_as(ctypes.c_void_p) for g in got])
        for g, e in zip(got, expected):
            tol = dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12,
                                                                             atol=1e-12)
            np.testing.assert_allclose(g, np.broadcast_to(e, g.shape), equal_nan=True, **tol)


def _rand_like(t, rng):
    """Operand data of a value's type: uniform draws with NaN, infinities, zero and a value
    every operand shares (equal pairs for ==, <=, >=) among them."""
    dt = _TYPES[t.dtype.name][1]
    if dt is np.bool_:
        return rng.random(tuple(t.shape)) > 0.5
    a = rng.uniform(-2, 2, tuple(t.shape))
    flat = a.reshape(-1)
    flat[0] = 0.75
    special = [np.nan, np.inf, -np.inf, 0.0][:flat.size - 1]
    flat[1 + rng.permutation(flat.size - 1)[:len(special)]] = special
    return a.astype(dt)


def test_every_c_form_is_exercised():
    seen = set()
    x = ember.randn(4, 8)
    for chain in CHAINS:
        for node in _groups(chain, x, ember.randn(4, 8)):
            seen |= {n.op for n in node.body.nodes}
    assert set(C_FORMS) <= seen, f"chains never use {sorted(set(C_FORMS) - seen)}"


@pytest.mark.gpu
@pytest.mark.skipif(not ember._backend.cuda_available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("chain", CHAINS, ids=lambda f: f.__name__)
def test_fused_chains_run_as_one_cuda_kernel(chain):
    from ember.jit.cuda_kernels import CudaFusedKernel
    from .pointwise_chains import special_operands
    x, y = special_operands(4096, np.random.default_rng(0))
    xt, yt = (ember.tensor(a, dtype=ember.float32, device="cuda") for a in (x, y))
    traced = ember.jit.trace(chain, (xt, yt), check_trace=False)
    got = traced(xt, yt)
    _, _, _, code, _, _ = traced._methods["forward"].compiled()
    fused = [k for k in inspect.unwrap(code.fn).__globals__.values()
             if isinstance(k, CudaFusedKernel)]
    assert fused and all(k.kernel is not None for k in fused)  # built, no fallback
    np.testing.assert_allclose(got.cpu().numpy(), chain(xt, yt).cpu().numpy(), rtol=1e-5,
                               atol=1e-6, equal_nan=True)
