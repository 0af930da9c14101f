"""ember.jit against torch in one run: inference latency at batch 1 and 64 of an MLP and a
CNN (conv + BN + relu + pool twice, then linear; eval mode), eager and compiled
(ember.jit.trace + optimize_for_inference against torch.jit.trace + freeze +
optimize_for_inference, as torch users deploy), their compile times, and a fused pointwise
chain gelu(x * w + b) on 4M floats, compiled vs eager. Thread counts follow the environment
(run once with OMP_NUM_THREADS=1 and once without)."""
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


def _cnn(lib):
    class CNN(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = lib.nn.Conv2d(3, 16, 3, padding=1), lib.nn.BatchNorm2d(16)
            self.c2, self.b2 = lib.nn.Conv2d(16, 32, 3, padding=1), lib.nn.BatchNorm2d(32)
            self.fc = lib.nn.Linear(32 * 8 * 8, 10)

        def forward(self, x):
            pool = lib.nn.functional.max_pool2d
            x = pool(lib.relu(self.b1(self.c1(x))), 2)
            x = pool(lib.relu(self.b2(self.c2(x))), 2)
            return self.fc(x.flatten(1))
    model = CNN()
    for bn in (model.b1, model.b2):
        with lib.no_grad():
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    return model.eval()


MODELS = {"MLP 784-512-256-10": (_mlp, (784,)), "CNN 2x(conv-bn-relu-pool)+fc": (_cnn, (3, 32, 32))}


def _gelu(lib):
    """gelu(y) = 0.5 y (1 + erf(y / sqrt(2))) from elementwise ops (tanh form without erf)."""
    if hasattr(lib, "erf"):
        return lambda y: 0.5 * y * (1 + lib.erf(y / math.sqrt(2.0)))
    return lambda y: 0.5 * y * (1 + lib.tanh(0.7978845608028654 * (y + 0.044715 * y * y * y)))


def _model_rows(title, em, tm, shape, batch: int) -> list:
    """Eager and compiled latency of the same weights in ember and torch."""
    import numpy as np
    import torch

    import ember
    data = np.random.default_rng(0).standard_normal((batch,) + shape).astype(np.float32)
    xe, xt = ember.from_numpy(data), torch.from_numpy(data)
    start = time.perf_counter()
    je = ember.jit.optimize_for_inference(ember.jit.trace(em, xe))
    je(xe)
    compile_e = time.perf_counter() - start
    start = time.perf_counter()
    jt = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(tm, xt)))
    jt(xt)
    jt(xt)
    compile_t = time.perf_counter() - start
    name = title.split()[0]
    print(f"{name} b={batch}: trace+optimize+first call ember {compile_e:.2f} s, "
          f"torch {compile_t:.2f} s")
    got, want = je(xe).numpy(), jt(xt).numpy()
    assert np.allclose(got, want, rtol=1e-3, atol=1e-4), f"{name}: ember.jit != torch"
    number = 1000 if batch == 1 else 30
    rows = []
    e, t = interleaved(lambda: em(xe), lambda: tm(xt), number=number)
    rows.append((f"{title} b={batch}: eager", e, t, None))
    e, t = interleaved(lambda: je(xe), lambda: jt(xt), number=number)
    rows.append((f"{name} b={batch}: ember.jit vs torch.jit.trace", e, t,
                 1.0 if batch == 1 else None))
    return rows


def run() -> list:
    import numpy as np
    import torch

    import ember
    rows = []
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(default)')}, "
          f"torch {torch.get_num_threads()}")
    with ember.no_grad(), torch.no_grad():
        for title, (make, shape) in MODELS.items():
            em, tm = make(ember), make(torch)
            tm.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                for k, v in em.state_dict().items()})
            for batch in (1, 64):
                rows += _model_rows(title, em, tm, shape, batch)

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
