"""ember.compile on the training workloads of bench_train: full steps (zero_grad, forward,
loss, backward, optimizer step) with the model compiled, against ember eager and torch eager
from the same initial weights, timed interleaved; and the time of the first (capturing and
compiling) call. Targets for the GPT: compiled at least 1.5x faster than ember eager and at
least as fast as torch eager; compile time under 2 s for each model.

`python -m benchmarks.bench_compile [gpt lstm mlp cnn]` runs a subset."""
from __future__ import annotations

import copy
import sys

from benchmarks.bench_train import _array, _workloads
from benchmarks.common import interleaved_rounds, report

TARGETS = {"gpt": (1 / 1.5, 1.0)}  # (vs ember eager, vs torch eager)


def build(key: str):
    """(title, capture+compile seconds, [ember eager, ember compiled, torch eager] step
    closures, steps per timing round)."""
    import numpy as np
    import torch

    import ember
    title, model, optim, x_spec, y_spec, loss_fn, number, _ = _workloads()[key]
    torch.manual_seed(0)
    tm = model(torch)
    em = model(ember)
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    twin = copy.deepcopy(em)
    compiled = ember.compile(twin, fullgraph=True)
    rng = np.random.default_rng(0)
    x, y = _array(rng, x_spec), _array(rng, y_spec)

    def stepper(lib, net, call):
        opt = optim(lib, net.parameters())
        xs, ys = lib.from_numpy(x), lib.from_numpy(y)

        def step():
            opt.zero_grad()
            loss = loss_fn(lib, call(xs), ys)
            loss.backward()
            opt.step()
            return loss
        return step
    steps = [stepper(ember, em, em), stepper(ember, twin, compiled), stepper(torch, tm, tm)]
    first = [s().item() for s in steps]
    second = steps[1]().item()  # the first call captured; this one runs the compiled graphs
    (entry,) = compiled._compiled.cache.values()
    if abs(first[0] - first[1]) > 1e-4 * max(1.0, abs(first[0])) or \
            abs(steps[0]().item() - second) > 1e-4 * max(1.0, abs(second)):
        raise AssertionError(f"{title}: compiled losses differ from eager")
    return title, entry.seconds, steps, number


def run(keys=None) -> list:
    rows = []
    for key in keys or ("gpt", "lstm"):
        title, seconds, steps, number = build(key)
        eager, compiled, torch_eager = interleaved_rounds(steps, number)
        vs_eager, vs_torch = TARGETS.get(key, (None, None))
        rows.append((f"compile {key} step vs ember eager", compiled, eager, vs_eager))
        rows.append((f"compile {key} step vs torch eager", compiled, torch_eager, vs_torch))
        rows.append((f"compile {key} capture+compile vs 2 s", seconds, 2.0, 1.0))
    return rows


if __name__ == "__main__":
    report(run(sys.argv[1:]))
