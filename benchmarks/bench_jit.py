"""ember.jit against torch in one run: MLP inference latency (eager and traced, batch 1 and
64) and a fused pointwise chain gelu(x * w + b) on 4M floats, compiled vs eager."""
from __future__ import annotations

import math
import os
import time

from benchmarks.common import interleaved, report


def _mlp(lib):
    class MLP(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lib.nn.Linear(784, 512)
            self.fc2 = lib.nn.Linear(512, 256)
            self.fc3 = lib.nn.Linear(256, 10)

        def forward(self, x):
            return self.fc3(lib.relu(self.fc2(lib.relu(self.fc1(x)))))
    return MLP().eval()


def _gelu(lib):
    """gelu(y) = 0.5 y (1 + erf(y / sqrt(2))) from elementwise ops (tanh form without erf)."""
    if hasattr(lib, "erf"):
        return lambda y: 0.5 * y * (1 + lib.erf(y / math.sqrt(2.0)))
    return lambda y: 0.5 * y * (1 + lib.tanh(0.7978845608028654 * (y + 0.044715 * y * y * y)))


def _mlp_rows(em, tm, batch: int) -> list:
    """Eager and traced latency of the same MLP weights in ember and torch."""
    import numpy as np
    import torch

    import ember
    data = np.random.default_rng(0).standard_normal((batch, 784)).astype(np.float32)
    xe, xt = ember.from_numpy(data), torch.from_numpy(data)
    start = time.perf_counter()
    je = ember.jit.freeze(ember.jit.trace(em, xe))
    je(xe)
    compile_e = time.perf_counter() - start
    start = time.perf_counter()
    jt = torch.jit.trace(tm, xt)
    jt(xt)
    jt(xt)
    compile_t = time.perf_counter() - start
    print(f"MLP b={batch}: trace+freeze+first call ember {compile_e:.2f} s, "
          f"torch.jit.trace {compile_t:.2f} s")
    number = 2000 if batch == 1 else 300
    rows = []
    e, t = interleaved(lambda: em(xe), lambda: tm(xt), number=number)
    rows.append((f"MLP 784-512-256-10 b={batch}: eager", e, t, None))
    e, t = interleaved(lambda: je(xe), lambda: jt(xt), number=number)
    rows.append((f"MLP b={batch}: ember.jit vs torch.jit.trace", e, t,
                 1.0 if batch == 1 else None))
    return rows


def run() -> list:
    import numpy as np
    import torch

    import ember
    rows = []
    with ember.no_grad(), torch.no_grad():
        em, tm = _mlp(ember), _mlp(torch)
        tm.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in em.state_dict().items()})
        for batch in (1, 64):
            rows += _mlp_rows(em, tm, batch)

        n = 2048
        rng = np.random.default_rng(1)
        arrays = [rng.standard_normal(shape).astype(np.float32)
                  for shape in ((n, n), (n,), (n,))]
        x, w, b = (ember.from_numpy(a) for a in arrays)
        tx, tw, tb = (torch.from_numpy(a) for a in arrays)
        ge, gt = _gelu(ember), _gelu(torch)

        def chain_e(x, w, b):
            return ge(x * w + b)

        def chain_t(x, w, b):
            return gt(x * w + b)
        start = time.perf_counter()
        fused = ember.jit.trace(chain_e, (x, w, b))
        fused(x, w, b)
        compile_s = time.perf_counter() - start
        from ember.jit import kernels
        print(f"gelu chain: trace+compile {compile_s:.2f} s with the {kernels.backend()} "
              f"fuser (EMBER_JIT_FUSER={os.environ.get('EMBER_JIT_FUSER', '')!r})")
        e, t = interleaved(lambda: fused(x, w, b), lambda: chain_e(x, w, b), number=3, rounds=5)
        rows.append(("gelu(x*w+b) 4M f32: ember.jit / ember eager", e, t, 1 / 3))
        e, t = interleaved(lambda: fused(x, w, b), lambda: chain_t(tx, tw, tb), number=3,
                           rounds=5)
        rows.append(("gelu(x*w+b) 4M f32: ember.jit vs torch eager", e, t, None))
    return rows


if __name__ == "__main__":
    report(run())
