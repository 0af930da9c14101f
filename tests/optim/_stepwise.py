"""Run an optimizer in torch and in ember from the same parameters and gradients, and compare
parameters and optimizer state after every step."""
import numpy as np
import torch

import ember

LIBS = (torch, ember)
# float32 agrees to rounding (ember's and torch's float32 reductions and lerp round
# differently in the last bit); float64 agrees to ~1e-12.
TOLERANCES = {"float32": dict(rtol=1e-6, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}


def mlp_arrays(seed: int = 0, dtype: str = "float64"):
    """Weights (6x4, 6, 3x6, 3) of a two-layer MLP, a batch of inputs and targets."""
    rng = np.random.default_rng(seed)
    shapes = [(6, 4), (6,), (3, 6), (3,)]
    weights = [(rng.standard_normal(s) * 0.5).astype(dtype) for s in shapes]
    return weights, rng.standard_normal((5, 4)).astype(dtype), \
        rng.standard_normal((5, 3)).astype(dtype)


def mlp_loss(lib, params, x, y):
    """Mean squared error of tanh MLP outputs against the targets."""
    w1, b1, w2, b2 = params
    hidden = lib.tanh(x @ w1.T + b1)
    return ((hidden @ w2.T + b2 - y) ** 2).mean()


def snapshot(params, optimizers):
    """Copies of each parameter and of its state in whichever optimizer holds it."""
    out = []
    for p in params:
        state = next((opt.state[p] for opt in optimizers if p in opt.state), {})
        out.append((p.detach().numpy().copy(), {k: v.numpy().copy() for k, v in state.items()}))
    return out


def train_mlp(build, steps: int = 12, seed: int = 0, dtype: str = "float64"):
    """Per library, the snapshots after each of `steps` MLP training steps; `build(lib,
    params)` gives the optimizers. Each library takes its own autograd's gradients."""
    weights, x, y = mlp_arrays(seed, dtype)
    traces = {}
    for lib in LIBS:
        params = [lib.nn.Parameter(lib.tensor(w)) for w in weights]
        optimizers = build(lib, params)
        xs, ys = lib.tensor(x), lib.tensor(y)
        trace = []
        for _ in range(steps):
            for opt in optimizers:
                opt.zero_grad()
            mlp_loss(lib, params, xs, ys).backward()
            for opt in optimizers:
                opt.step()
            trace.append(snapshot(params, optimizers))
        traces[lib.__name__] = trace
    return traces["ember"], traces["torch"]


def train_on_gradients(build, inits, grads, dtype: str = "float64"):
    """Per library, the snapshots after each step with the parameters' gradients set to
    `grads[step]` (arrays), from parameters `inits`."""
    traces = {}
    for lib in LIBS:
        params = [lib.nn.Parameter(lib.tensor(a.astype(dtype))) for a in inits]
        optimizers = build(lib, params)
        trace = []
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = lib.tensor(g.astype(dtype))
            for opt in optimizers:
                opt.step()
            trace.append(snapshot(params, optimizers))
        traces[lib.__name__] = trace
    return traces["ember"], traces["torch"]


def assert_same_trajectory(ours, theirs, rtol: float, atol: float):
    """Parameters and state (keys, dtypes, shapes, values) agree after every step."""
    assert len(ours) == len(theirs)
    for step, (ours_step, theirs_step) in enumerate(zip(ours, theirs)):
        for i, ((p, state), (p_ref, state_ref)) in enumerate(zip(ours_step, theirs_step)):
            where = f"step {step} param {i}"
            np.testing.assert_allclose(p, p_ref, rtol=rtol, atol=atol, err_msg=where)
            assert state.keys() == state_ref.keys(), where
            for key, ref in state_ref.items():
                mine = state[key]
                assert mine.dtype == ref.dtype and mine.shape == ref.shape, (where, key)
                np.testing.assert_allclose(mine, ref, rtol=rtol, atol=atol,
                                           err_msg=f"{where} state {key}")


def raised(make):
    """(exception type, message) that `make()` raises, or None."""
    try:
        make()
    except Exception as error:  # noqa: BLE001 - any exception is the result compared
        return type(error), str(error)
    return None
