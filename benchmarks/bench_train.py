"""Training steps against torch in one run: the same model in both libraries (torch's initial
weights copied into ember), full steps (zero_grad, forward, loss, backward, optimizer step)
timed interleaved. Workloads: an MLP with Adam, a small CNN with SGD momentum, a char-level GPT
with AdamW and a word-level LSTM language model with SGD.

`python -m benchmarks.bench_train [mlp cnn gpt lstm]` runs a subset."""
from __future__ import annotations

import os
import sys

from benchmarks.common import interleaved_rounds, report


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 8 * 8, 10))


def _gpt(lib, vocab: int, block: int, d_model: int, heads: int, layers: int):
    """A minimal GPT, one source for both libraries: token + position embeddings, pre-norm
    blocks with causal self-attention and a GELU MLP, a final LayerNorm and an untied head."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)
            self.ln2 = nn.LayerNorm(d_model)
            self.fc = nn.Linear(d_model, 4 * d_model)
            self.out = nn.Linear(4 * d_model, d_model)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
            q, k, v = (z.view(b, t, heads, c // heads).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, c))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d_model)
            self.pos = nn.Embedding(block, d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab, bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1], device=idx.device))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln_f(x))

    return GPT()


def _lstm_lm(lib, vocab: int, hidden: int, layers: int):
    nn = lib.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(vocab, hidden)
            self.rnn = nn.LSTM(hidden, hidden, layers)
            self.decoder = nn.Linear(hidden, vocab)

        def forward(self, tokens):
            out, _ = self.rnn(self.encoder(tokens))
            return self.decoder(out)

    return LM()


def _workloads():
    """name -> (model builder(lib), optimizer builder(lib, params), input shape/kind, loss fn
    (lib, output, target), steps per timing round, target ratio)."""
    ce = lambda lib, out, y: lib.nn.functional.cross_entropy(  # noqa: E731
        out.reshape(-1, out.shape[-1]), y.reshape(-1))
    return {
        "mlp": ("MLP 784-512-256-10 b128 Adam", _mlp,
                lambda lib, p: lib.optim.Adam(p, lr=1e-3),
                ("float", (128, 784)), ("class", (128,), 10), ce, 20, 1.3),
        "cnn": ("CNN 2x(conv+pool) 3x32x32 b64 SGD-m", _cnn,
                lambda lib, p: lib.optim.SGD(p, lr=0.01, momentum=0.9),
                ("float", (64, 3, 32, 32)), ("class", (64,), 10), ce, 8, 2.0),
        "gpt": ("char GPT 4L 4H d128 T64 b16 AdamW",
                lambda lib: _gpt(lib, vocab=65, block=64, d_model=128, heads=4, layers=4),
                lambda lib, p: lib.optim.AdamW(p, lr=3e-4),
                ("class", (16, 64), 65), ("class", (16, 64), 65), ce, 6, 2.0),
        "lstm": ("LSTM LM h256 2L T35 b20 V10k SGD",
                 lambda lib: _lstm_lm(lib, vocab=10000, hidden=256, layers=2),
                 lambda lib, p: lib.optim.SGD(p, lr=1.0),
                 ("class", (35, 20), 10000), ("class", (35, 20), 10000), ce, 4, 2.0),
    }


def _array(rng, spec):
    import numpy as np
    if spec[0] == "float":
        return rng.standard_normal(spec[1]).astype(np.float32)
    return rng.integers(0, spec[2], spec[1]).astype(np.int64)


def build(key: str, device: str = "cpu"):
    """The two models, optimizers and step closures of one workload, with identical weights
    and data, on `device`; returns (title, ember_step, torch_step, steps per round, target)."""
    import numpy as np
    import torch

    import ember
    title, model, optim, x_spec, y_spec, loss_fn, number, target = _workloads()[key]
    torch.manual_seed(0)
    tm = model(torch)
    em = model(ember)
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    tm.to(device)
    em.to(device)
    rng = np.random.default_rng(0)
    x, y = _array(rng, x_spec), _array(rng, y_spec)

    def stepper(lib, net, xa, ya):
        opt = optim(lib, net.parameters())
        xs, ys = lib.from_numpy(xa).to(device), lib.from_numpy(ya).to(device)

        def step():
            opt.zero_grad()
            loss = loss_fn(lib, net(xs), ys)
            loss.backward()
            opt.step()
            return loss
        return step

    e_step, t_step = stepper(ember, em, x, y), stepper(torch, tm, x, y)
    le, lt = e_step().item(), t_step().item()
    if abs(le - lt) > 1e-3 * max(1.0, abs(lt)):
        raise AssertionError(f"{title}: first-step losses differ: ember {le}, torch {lt}")
    return title, e_step, t_step, number, target


def run(keys=None) -> list:
    import torch
    print(f"train: torch threads {torch.get_num_threads()}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}, OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')} (on a loaded machine, compare with "
          "OMP_NUM_THREADS=1: two-thread GEMMs slow down ~10x when another process competes)")
    return timed_rows(keys, "cpu")


def timed_rows(keys, device: str) -> list:
    """(title, ember seconds, torch seconds, target) per workload, trained on `device`; GPU
    rows have no target."""
    rows = []
    for key in keys or _workloads():
        title, e_step, t_step, number, target = build(key, device)
        e, t = interleaved_rounds((e_step, t_step), number,
                                  finish=lambda loss: loss.item())  # waits for a GPU
        rows.append((f"{device} train {title}" if device != "cpu" else f"train {title}", e, t,
                     target if device == "cpu" else None))
    return rows


if __name__ == "__main__":
    report(run(sys.argv[1:]))
