"""torch.compile in ordinary training code, run with torch and with ember from one set of
initial weights: `model = torch.compile(model)` training loops whose losses match eager step
for step (BatchNorm's running statistics, gradient accumulation, clip_grad_norm_, autocast,
batch sizes that change, the DataLoader's last partial batch), train/eval switching, no_grad
and inference_mode, Dropout, `@torch.compile` functions (a data-dependent branch and masked
selection that must break the graph, fullgraph=True refusing the branch, in-place writes),
torch.cond, noise drawn inside a compiled forward, heads replaced after compile, compiled
train steps, modes, resets, and state_dict with torch's `_orig_mod.` prefix.

Each program stores (eager, compiled) pairs, so ember's compiled run is checked against
torch's eager one. On the torch side,
torch.compile runs with backend="aot_eager" (Dynamo's capture and AOT autograd, without
Inductor's C++ builds, which take about a minute per program on this machine): a compiled
model must give eager's values whatever the backend."""
import functools

import numpy as np
import pytest
import torch

from tests.scripts._harness import run_both


_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@pytest.fixture(autouse=True)
def _torch_compile_aot_eager(monkeypatch):
    compile_ = torch.compile

    def aot_eager(model=None, **options):
        if options.get("mode") in _MODES:  # torch checks an unknown mode with Inductor only
            options.setdefault("backend", "aot_eager")
        if model is None:
            return functools.partial(aot_eager, **options)
        return compile_(model, **options)
    monkeypatch.setattr(torch, "compile", aot_eager)
    yield
    torch._dynamo.reset()


def _match(a, b, rtol=1e-4, atol=1e-5, where="out"):
    """a and b (nested dicts, lists, tuples, arrays, numbers, strings) agree."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{where}: keys differ"
        for k in a:
            _match(a[k], b[k], rtol, atol, f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)) and not all(isinstance(x, (int, float)) for x in a):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for k, (x, y) in enumerate(zip(a, b)):
            _match(x, y, rtol, atol, f"{where}[{k}]")
    elif isinstance(a, (str, bool, type(None))) or isinstance(b, (str, bool, type(None))):
        assert a == b, f"{where}: {a!r} vs {b!r}"
    else:
        np.testing.assert_allclose(np.asarray(b, dtype=np.float64),
                                   np.asarray(a, dtype=np.float64), rtol=rtol, atol=atol,
                                   err_msg=where)

# a conv net with BatchNorm trained with gradient accumulation over micro-batches and
# clip_grad_norm_; eval/no_grad inference; state_dict saved from the compiled model (keys
# `_orig_mod.`-prefixed) loaded into a plain and a compiled model
TRAIN_BATCHNORM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc1 = nn.Linear(8 * 4 * 4, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.0)
        self.fc2 = nn.Linear(32, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.bn1(self.fc1(x))))
        return self.fc2(x)

rng = np.random.default_rng(0)
X = torch.tensor(rng.standard_normal((40, 3, 8, 8)), dtype=torch.float32)
Y = torch.tensor(rng.integers(0, 5, 40))

torch.manual_seed(0)
eager = sync(Net())
compiled_base = sync(Net())
model = torch.compile(compiled_base)
res = {}
for name, m, base in (("eager", eager, eager), ("compiled", model, compiled_base)):
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    losses, norms = [], []
    m.train()
    for step in range(4):
        opt.zero_grad()
        # two micro-batches of 4 then accumulate
        for k in range(2):
            i = step * 8 + k * 4
            loss = F.cross_entropy(m(X[i:i + 4]), Y[i:i + 4]) / 2
            loss.backward()
            losses.append(loss.item())
        norms.append(float(torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)))
        opt.step()
    res[name] = (losses, norms, base.bn.running_mean.clone(), base.bn.running_var.clone(),
                 base.bn.num_batches_tracked.item(), base.bn1.running_mean.clone())
    m.eval()
    with torch.no_grad():
        ev = m(X[:7])
    res[name] += (ev, ev.requires_grad)
    m.train()
    tr = m(X[:6])
    res[name] += (tr.requires_grad,)

out["losses"] = (res["eager"][0], res["compiled"][0])
out["norms"] = (res["eager"][1], res["compiled"][1])
for j in (2, 3, 5, 6):
    out[f"stat{j}"] = (res["eager"][j].detach().numpy(), res["compiled"][j].detach().numpy())
out["nbt"] = (res["eager"][4], res["compiled"][4])
out["flags"] = (res["eager"][7:], res["compiled"][7:])
sd = model.state_dict()
out["keys"] = sorted(sd.keys())[:4]
out["bkeys"] = sorted(compiled_base.state_dict().keys())[:4]
torch.save(model.state_dict(), TMP + "/c.pt")
fresh = Net()
try:
    fresh.load_state_dict(torch.load(TMP + "/c.pt"))
    out["strict_load"] = "ok"
except RuntimeError as e:
    out["strict_load"] = ("Missing key" in str(e), "Unexpected key" in str(e))
saved = torch.load(TMP + "/c.pt")
fresh.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in saved.items()})
fresh.eval()
model.eval()
with torch.no_grad():
    out["reload"] = (fresh(X[:3]).numpy(), model(X[:3]).numpy())
model2 = torch.compile(Net())
model2.load_state_dict(torch.load(TMP + "/c.pt"))
model2.eval()
with torch.no_grad():
    out["reload2"] = model2(X[:3]).numpy()
model2._orig_mod.load_state_dict(fresh.state_dict())
out["orig_type"] = type(model._orig_mod).__name__
'''

def test_training_with_batchnorm_accumulation_and_checkpoints(tmp_path):
    want, got = run_both(TRAIN_BATCHNORM, tmp_path)
    _match(want, got)


# @torch.compile functions with gradients, a data-dependent branch, fullgraph=True
# refusing it with a RuntimeError, in-place writes into inputs, buffers and parameters,
# modes, and the resets
FUNCTIONS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

@torch.compile
def gelu_mlp(x, w, b):
    return F.gelu(x @ w + b).sum(dim=-1)

x = torch.linspace(-2, 2, 12).reshape(3, 4)
w = torch.linspace(-1, 1, 20).reshape(4, 5).requires_grad_()
b = torch.zeros(5, requires_grad=True)
y = gelu_mlp(x, w, b)
y.sum().backward()
out["fn"] = y.detach().numpy()
out["fn_gw"] = w.grad.numpy()
out["fn_gb"] = b.grad.numpy()
y2 = gelu_mlp(x[:2], w, b)
out["fn2"] = y2.detach().numpy()

def branchy(x):
    if x.sum() > 0:
        return x * 2
    return x - 1

cb = torch.compile(branchy)
out["br_pos"] = cb(torch.ones(3)).numpy()
out["br_neg"] = cb(-torch.ones(3)).numpy()
out["br_pos2"] = cb(torch.tensor([3., -1., 0.])).numpy()

def branchy2(x):
    if x.sum() > 0:
        return x * 2
    return x - 1

fg = torch.compile(branchy2, fullgraph=True)
try:
    fg(torch.ones(3))
    out["fullgraph"] = "no error"
except Exception as e:
    out["fullgraph"] = "raised"
    out["fullgraph_rt"] = isinstance(e, RuntimeError)

@torch.compile
def inplace_input(x):
    x.add_(1)
    x.mul_(2)
    return x.sum()

t = torch.ones(4)
s = inplace_input(t)
out["inp"] = (t.numpy().copy(), s.item())
s = inplace_input(t)
out["inp2"] = (t.numpy().copy(), s.item())

class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.register_buffer("count", torch.zeros(()))

    def forward(self, x):
        self.count += 1
        return x * self.w

m = torch.compile(Scale())
o = m(torch.ones(2, 3))
o.sum().backward()
out["cnt"] = m.count.item()
with torch.no_grad():
    m.w.mul_(3)
o = m(torch.ones(2, 3))
out["after_param_inplace"] = o.detach().numpy()
out["cnt2"] = m._orig_mod.count.item()
out["w_grad"] = m.w.grad.numpy()

for mode in ("reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs", "default"):
    mm = torch.compile(nn.Linear(3, 2), mode=mode)
    out["mode_" + mode] = tuple(mm(torch.ones(4, 3)).shape)
try:
    torch.compile(nn.Linear(3, 2), mode="fast")
    out["badmode"] = "none"
except RuntimeError as e:
    out["badmode"] = "RuntimeError"

torch._dynamo.reset()
torch.compiler.reset()
out["after_reset"] = cb(torch.ones(2)).numpy()
out["is_compiling"] = torch.compiler.is_compiling()
'''

def test_compiled_functions_branches_inplace_modes_and_reset(tmp_path):
    want, got = run_both(FUNCTIONS, tmp_path)
    _match(want, got)


# autocast(bfloat16) around a compiled model over a DataLoader whose last batch is
# partial (default and dynamic=True), an lr scheduler, Dropout's statistics in train mode and
# eval-mode equality, train()/eval() switching after compile
AMP_DYNAMIC_DROPOUT = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

class MLP(nn.Module):
    def __init__(self, p=0.0):
        super().__init__()
        self.fc1 = nn.Linear(10, 64)
        self.ln = nn.LayerNorm(64)
        self.drop = nn.Dropout(p)
        self.fc2 = nn.Linear(64, 3)

    def forward(self, x):
        return self.fc2(self.drop(F.gelu(self.ln(self.fc1(x)))))

rng = np.random.default_rng(1)
X = torch.tensor(rng.standard_normal((50, 10)), dtype=torch.float32)
Y = torch.tensor(rng.integers(0, 3, 50))
loader = DataLoader(TensorDataset(X, Y), batch_size=16, shuffle=False)

res = {}
for kind in ("eager", "compiled", "dynamic"):
    torch.manual_seed(0)
    base = sync(MLP())
    model = base if kind == "eager" else torch.compile(base, dynamic=(kind == "dynamic") or None)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    losses, shapes = [], []
    for epoch in range(2):
        for xb, yb in loader:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
            shapes.append((tuple(logits.shape), str(logits.dtype)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
    with torch.no_grad():
        plain = model(X[:5])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            amp = model(X[:5])  # a new autocast state: compiled again
    res[kind] = (losses, shapes, plain.numpy(), str(plain.dtype), amp.float().numpy(),
                 str(amp.dtype),
                 base.fc1.weight.detach().numpy().copy())

for kind in ("compiled", "dynamic"):
    out[kind + "_losses"] = (res["eager"][0], res[kind][0])
    out[kind + "_shapes"] = repr(res["eager"][1]) == repr(res[kind][1])
    out[kind + "_plain"] = (res["eager"][2], res[kind][2])
    out[kind + "_dt"] = (res["eager"][3], res[kind][3], res[kind][5])
    out[kind + "_w"] = (res["eager"][6], res[kind][6])
out["eager_shapes"] = res["eager"][1]

# dropout in train mode through a compiled model
torch.manual_seed(0)
dm = MLP(p=0.5)
cm = torch.compile(dm)
cm.train()
ones = torch.ones(200, 64)
drop = torch.compile(nn.Dropout(0.25))
y = drop(ones)
out["drop_vals"] = sorted(set(np.round(y.numpy().ravel(), 4).tolist()))
out["drop_frac"] = abs((y == 0).float().mean().item() - 0.25) < 0.03
y2 = drop(ones)
out["drop_differs"] = not torch.equal(y, y2)
drop.eval()
out["drop_eval"] = torch.equal(drop(ones), ones)
a = cm(X)
b = cm(X)
out["train_differs"] = not torch.allclose(a, b)
cm.eval()
out["eval_same"] = torch.allclose(cm(X), dm(X)) and torch.allclose(cm(X), cm(X))
cm.train()
out["train_again_differs"] = not torch.allclose(cm(X), cm(X))
out["training_flags"] = (cm.training, dm.training, dm.drop.training)
cm.eval()
out["training_flags2"] = (cm.training, dm.training, dm.drop.training)
'''

def test_autocast_partial_batches_and_dropout(tmp_path):
    want, got = run_both(AMP_DYNAMIC_DROPOUT, tmp_path)
    _match(want, got, rtol=2e-2, atol=2e-3)


# a tied-weights model returning a dict, called with keyword arguments; parameters
# frozen, clamped through .data and replaced after compile; a batch of one refused by
# BatchNorm as in eager; inference_mode
FINETUNE = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8, padding_idx=0)
        self.fc = nn.Linear(8, 8)
        self.bn = nn.BatchNorm1d(8, momentum=None)
        self.head = nn.Linear(8, 20, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids, mask=None, return_dict=True):
        h = self.emb(ids).mean(1)
        h = F.relu(self.bn(self.fc(h)))
        logits = self.head(h)
        if mask is not None:
            logits = logits.masked_fill(~mask, -1e4)
        return {"logits": logits, "h": h} if return_dict else logits

rng = np.random.default_rng(2)
ids = torch.tensor(rng.integers(0, 20, (24, 5)))
tgt = torch.tensor(rng.integers(0, 20, 24))
mask = torch.tensor(rng.random((24, 20)) > 0.2)
mask[torch.arange(24), tgt] = True

res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    base = sync(Net())
    model = base if kind == "eager" else torch.compile(base)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    log = []

    def step(i, **kw):
        xb, yb, mb = ids[i * 6:(i + 1) * 6], tgt[i * 6:(i + 1) * 6], mask[i * 6:(i + 1) * 6]
        o = model(xb, mask=mb, **kw)
        logits = o["logits"] if isinstance(o, dict) else o
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())

    step(0)
    step(1, return_dict=False)
    # freeze the embedding (and the tied head) after compile
    for p in base.emb.parameters():
        p.requires_grad = False
    step(2)
    log.append(base.emb.weight.grad is None or float(base.emb.weight.grad.abs().sum()))
    # WGAN-style clamp of weights through .data outside the compiled code
    for p in base.fc.parameters():
        p.data.clamp_(-0.05, 0.05)
    step(3)
    # swap a parameter for a new one
    base.fc.bias = nn.Parameter(torch.full((8,), 0.5))
    opt.add_param_group({"params": [base.fc.bias]})
    step(0)
    log.append(base.fc.bias.grad.numpy().copy())
    step(1)
    step(2)
    log.append((base.bn.running_mean.numpy().copy(), base.bn.running_var.numpy().copy(),
                base.bn.num_batches_tracked.item()))
    # batch of one in train mode must refuse like eager
    try:
        model(ids[:1])
        log.append("no error")
    except ValueError as e:
        log.append("ValueError")
    model.eval()
    with torch.inference_mode():
        inf = model(ids[:4], return_dict=False)
    log.append((inf.numpy(), inf.is_inference()))
    model.train()
    step(3)
    res[kind] = log

out["log"] = res
'''

def test_finetuning_changes_after_compile(tmp_path):
    want, got = run_both(FINETUNE, tmp_path)
    _match(want, got)


# an EMA copy made by deepcopy of the compiled model, a module attribute changed
# between steps, model.apply(init) and model.to(float64) after compile
EMA_AND_CASTS = '''
import copy
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.fc = nn.Linear(4 * 6 * 6, 3)
        self.temperature = 1.0

    def forward(self, x):
        x = self.body(x)
        return self.fc(x.view(x.size(0), -1)) / self.temperature

rng = np.random.default_rng(3)
X = torch.tensor(rng.standard_normal((20, 1, 8, 8)), dtype=torch.float32)
Y = torch.tensor(rng.integers(0, 3, 20))

res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    base = sync(Net())
    model = base if kind == "eager" else torch.compile(base)
    ema = copy.deepcopy(model)
    ema.eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    log = [[n for n, _ in model.named_parameters()][:2], sorted(model.state_dict())[:2],
           [n for n, _ in ema.named_buffers()][:2]]
    for i in range(4):
        xb, yb = X[i * 5:(i + 1) * 5], Y[i * 5:(i + 1) * 5]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(0.9).add_(pm.detach(), alpha=0.1)
        log.append(loss.item())
        if i == 1:
            base.temperature = 2.0
    with torch.no_grad():
        log.append(ema(X[:3]).numpy())
    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.01)
            nn.init.zeros_(m.bias)
    model.apply(init)
    log.append(model(X[:2]).detach().numpy())
    model.to(torch.float64)
    y64 = model(X[:2].double())
    log.append((y64.detach().numpy(), str(y64.dtype)))
    res[kind] = log

out["log"] = res
'''

def test_ema_copy_apply_and_dtype_change(tmp_path):
    want, got = run_both(EMA_AND_CASTS, tmp_path)
    _match(want, got)


# a whole train step (zero_grad, backward, clipping, optimizer step) under
# @torch.compile, and a compiled loss with keyword arguments that change
TRAIN_STEP = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng(4)
X = torch.tensor(rng.standard_normal((32, 6)), dtype=torch.float32)
Y = torch.tensor(rng.standard_normal((32, 1)), dtype=torch.float32)

res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    model = sync(nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def train_step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        return loss.detach()

    step = train_step if kind == "eager" else torch.compile(train_step)
    log = []
    for i in range(5):
        log.append(step(X[i * 6:(i + 1) * 6], Y[i * 6:(i + 1) * 6]).item())
    log.append(step(X[30:], Y[30:]).item())  # partial batch
    log.append(model[0].weight.detach().numpy().copy())

    # compiled loss function with kwargs and a Python float that changes
    @torch.compile
    def smooth_l1(pred, target, beta=1.0, reduction="mean"):
        return F.smooth_l1_loss(pred, target, beta=beta, reduction=reduction)
    pred = model(X[:8])
    vals = [smooth_l1(pred, Y[:8], beta=b).item() for b in (1.0, 0.5, 0.25, 0.1)]
    vals.append(smooth_l1(pred, Y[:8], reduction="sum").item())
    vals.append(smooth_l1(pred, Y[:8], beta=0.5, reduction="none").detach().numpy())
    log.append(vals)

    res[kind] = log

out["log"] = res
'''

def test_compiled_train_step_and_loss(tmp_path):
    want, got = run_both(TRAIN_STEP, tmp_path)
    _match(want, got)


# a small language model (TransformerEncoder with causal and padding masks,
# checkpointed LSTM, .item() statistics inside forward) over batches whose sequence length
# changes, default and dynamic=False
LANGUAGE_MODEL = '''
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

class TinyLM(nn.Module):
    def __init__(self, vocab=30, d=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, 32, d))
        layer = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, vocab)
        self.stats = []

    def forward(self, ids, pad_mask):
        T = ids.size(1)
        h = self.emb(ids) * math.sqrt(self.emb.embedding_dim) + self.pos[:, :T]
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        h = self.enc(h, mask=causal, src_key_padding_mask=pad_mask)
        h = checkpoint(lambda t: self.lstm(t)[0], h, use_reentrant=False)
        with torch.no_grad():
            self.stats.append(h.abs().mean().item())
        return self.out(self.norm(h))

rng = np.random.default_rng(5)
batches = []
for T in (7, 9, 7, 12, 5, 9):
    ids = torch.tensor(rng.integers(1, 30, (3, T)))
    lens = torch.tensor(rng.integers(2, T + 1, 3))
    pad = torch.arange(T)[None, :] >= lens[:, None]
    ids = ids.masked_fill(pad, 0)
    batches.append((ids, pad))

res = {}
for kind in ("eager", "compiled", "static"):
    torch.manual_seed(0)
    base = sync(TinyLM())
    dynamic = False if kind == "static" else None
    model = base if kind == "eager" else torch.compile(base, dynamic=dynamic)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for ids, pad in batches:
        logits = model(ids[:, :-1], pad[:, :-1])
        tgt = ids[:, 1:].masked_fill(pad[:, 1:], -100)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1),
                               ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        ev = model(batches[0][0], batches[0][1])
    res[kind] = (losses, ev.numpy(), len(base.stats), base.stats[:3])

for kind in ("compiled", "static"):
    out[kind + "_losses"] = (res["eager"][0], res[kind][0])
    out[kind + "_eval"] = (res["eager"][1], res[kind][1])
    out[kind + "_nstats"] = (res["eager"][2], res[kind][2])
    out[kind + "_stats"] = (res["eager"][3], res[kind][3])
'''

def test_language_model_with_changing_lengths(tmp_path):
    want, got = run_both(LANGUAGE_MODEL, tmp_path)
    _match(want, got)


# a compiled loss that selects the non-padding positions with a boolean mask (a
# result sized by data: the graph breaks) over a compiled GRU tagger
MASKED_LOSS = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(40, 16, padding_idx=0)
        self.gru = nn.GRU(16, 16, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 5)

    def forward(self, ids):
        h, _ = self.gru(self.emb(ids))
        return self.head(h)

@torch.compile
def masked_loss(logits, tags, ids):
    keep = ids != 0                       # padding positions do not count
    return F.cross_entropy(logits[keep], tags[keep])

rng = np.random.default_rng(8)
data = []
for T in (6, 6, 8, 6):
    ids = torch.tensor(rng.integers(1, 40, (4, T)))
    ids[:, T - rng.integers(0, 3):] = 0
    ids[0, -1] = 0
    data.append((ids, torch.tensor(rng.integers(0, 5, (4, T)))))

res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    base = sync(Tagger())
    model = base if kind == "eager" else torch.compile(base)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-2)
    losses, acc = [], []
    for epoch in range(2):
        for ids, tags in data:
            logits = model(ids)
            loss = masked_loss(logits, tags, ids)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            with torch.no_grad():
                keep = ids != 0
                acc.append((logits.argmax(-1)[keep] == tags[keep]).float().mean().item())
    res[kind] = (losses, acc)
out["losses"] = (res["eager"][0], res["compiled"][0])
out["acc"] = (res["eager"][1], res["compiled"][1])
'''

def test_masked_loss_on_padding(tmp_path):
    want, got = run_both(MASKED_LOSS, tmp_path)
    _match(want, got)


# knowledge distillation inside one compiled module (a frozen teacher under no_grad, a
# temperature argument that changes), then FGSM examples: enable_grad under no_grad and
# autograd.grad with respect to the compiled model's input
DISTILL_ADVERSARIAL = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.teacher = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 3))
        self.student = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 3))
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def forward(self, x, T=2.0):
        with torch.no_grad():
            soft = F.softmax(self.teacher(x) / T, dim=-1)
        logits = self.student(x)
        kd = F.kl_div(F.log_softmax(logits / T, dim=-1), soft, reduction="batchmean") * T * T
        return logits, kd

rng = np.random.default_rng(9)
X = torch.tensor(rng.standard_normal((24, 6)), dtype=torch.float32)
Y = torch.tensor(rng.integers(0, 3, 24))
res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    base = sync(Student())
    model = base if kind == "eager" else torch.compile(base)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    log = []
    for i in range(4):
        xb, yb = X[i * 6:(i + 1) * 6], Y[i * 6:(i + 1) * 6]
        logits, kd = model(xb, T=2.0 + i)
        loss = 0.5 * F.cross_entropy(logits, yb) + 0.5 * kd
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((loss.item(), kd.item()))
    log.append(base.teacher[0].weight.grad is None)
    # FGSM adversarial examples in eval mode, under no_grad with enable_grad inside
    model.eval()
    with torch.no_grad():
        with torch.enable_grad():
            x = X[:6].clone().requires_grad_(True)
            logits, _ = model(x)
            (g,) = torch.autograd.grad(F.cross_entropy(logits, Y[:6]), x)
        adv = x + 0.1 * g.sign()
        adv_logits, _ = model(adv)
    log.append((g.numpy(), adv_logits.numpy(), adv_logits.requires_grad))
    res[kind] = log
out["res"] = (res["eager"], res["compiled"])
'''


def test_distillation_and_adversarial_examples(tmp_path):
    want, got = run_both(DISTILL_ADVERSARIAL, tmp_path)
    _match(want, got)


# gradient hooks on parameters (clamping, post-accumulate) with zero_grad(set_to_none=
# False) and accumulation over micro-batches through a compiled model
GRADIENT_HOOKS = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng(10)
X = torch.tensor(rng.standard_normal((16, 5)), dtype=torch.float32)
Y = torch.tensor(rng.standard_normal((16, 2)), dtype=torch.float32)
res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    base = sync(nn.Sequential(nn.Linear(5, 8), nn.ELU(), nn.Linear(8, 2)))
    model = base if kind == "eager" else torch.compile(base)
    for p in base.parameters():
        p.register_hook(lambda g: g.clamp(-0.05, 0.05))
    counts = []
    base[2].weight.register_post_accumulate_grad_hook(lambda p: counts.append(p.grad.norm().item()))
    opt = torch.optim.Adagrad(model.parameters(), lr=0.1)
    log = []
    for i in range(4):
        opt.zero_grad(set_to_none=False)
        for k in range(2):
            j = i * 4 + k * 2
            loss = F.huber_loss(model(X[j:j + 2]), Y[j:j + 2], delta=0.5)
            loss.backward()
        log.append((loss.item(), base[0].weight.grad.numpy().copy()))
        opt.step()
    log.append(counts)
    res[kind] = log
out["res"] = (res["eager"], res["compiled"])
'''


def test_gradient_hooks_and_accumulation_into_existing_grads(tmp_path):
    want, got = run_both(GRADIENT_HOOKS, tmp_path)
    _match(want, got)


# a VAE trained through a compiled model that draws its noise (randn_like) inside forward,
# then sampled in eval mode: with one seed, the compiled run draws what eager code draws
VAE = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 8))
        self.dec = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 12))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar

def vae_loss(recon, x, mu, logvar):
    rec = F.mse_loss(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (rec + kld) / x.size(0)

rng = np.random.default_rng(11)
X = torch.tensor(rng.standard_normal((40, 12)), dtype=torch.float32)
res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    base = sync(VAE())
    model = base if kind == "eager" else torch.compile(base)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    torch.manual_seed(1)
    for i in range(5):
        xb = X[i * 8:(i + 1) * 8] if i < 4 else X[32:37]
        recon, mu, logvar = model(xb)
        loss = vae_loss(recon, xb, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        mu = model(X[:4])[1]
        torch.manual_seed(5)
        samples = base.dec(torch.randn(3, 4))
    res[kind] = (losses, mu.numpy(), tuple(samples.shape))
# the noise differs between torch and ember; within one of them compiled equals eager
out["same"] = bool(np.allclose(res["eager"][0], res["compiled"][0], rtol=1e-4, atol=1e-5)
                   and np.allclose(res["eager"][1], res["compiled"][1], rtol=1e-4, atol=1e-5))
out["shape"] = res["compiled"][2]
out["finite"] = bool(np.isfinite(res["compiled"][0]).all())
'''


def test_vae_noise_drawn_inside_the_compiled_forward(tmp_path):
    want, got = run_both(VAE, tmp_path)
    _match(want, got)
    assert got["same"]


# torch.cond routing a batch to one of two heads by the data, in a model compiled with
# fullgraph=True (an `if` on the tensor would refuse), trained against its eager twin
COND = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class Gated(nn.Module):
    """Rows whose mean is positive go through one head, the rest through another."""
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 3)
        self.b = nn.Linear(6, 3)

    def forward(self, x):
        return torch.cond(x.mean() > 0, lambda t: self.a(t).relu(), lambda t: self.b(t).tanh(),
                          (x,))

rng = np.random.default_rng(12)
X = torch.tensor(rng.standard_normal((30, 6)), dtype=torch.float32)
Y = torch.tensor(rng.standard_normal((30, 3)), dtype=torch.float32)
res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    base = sync(Gated())
    model = base if kind == "eager" else torch.compile(base, fullgraph=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for i in range(6):
        xb, yb = X[i * 5:(i + 1) * 5], Y[i * 5:(i + 1) * 5]
        loss = F.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    res[kind] = (losses, base.a.weight.detach().numpy().copy(), base.b.bias.detach().numpy())
out["res"] = (res["eager"], res["compiled"])
'''


def test_cond_branch_in_a_fullgraph_model(tmp_path):
    want, got = run_both(COND, tmp_path)
    _match(want, got)


# transfer learning after compile: a pretrained net's head replaced by index (net[1] = ...)
# and its backbone frozen, under a compiled model and a compiled loss that names the net
TRANSFER = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

backbone = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
net = nn.Sequential(backbone, nn.Linear(16, 4))

rng = np.random.default_rng(13)
X = torch.tensor(rng.standard_normal((24, 8)), dtype=torch.float32)
Y4 = torch.tensor(rng.integers(0, 4, 24))
Y6 = torch.tensor(rng.integers(0, 6, 24))

@torch.compile
def loss_of(x, y):
    return F.cross_entropy(net(x), y)

res = {}
for kind in ("eager", "compiled"):
    torch.manual_seed(0)
    sync(net)
    model = net if kind == "eager" else torch.compile(net)
    lossf = (lambda x, y: F.cross_entropy(net(x), y)) if kind == "eager" else loss_of
    log = []
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for i in range(3):  # pretraining on 4 classes
        loss = lossf(X[i * 8:(i + 1) * 8], Y4[i * 8:(i + 1) * 8])
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())
    # transfer: a new 6-class head set by index, the backbone frozen
    torch.manual_seed(1)
    net[1] = sync(nn.Linear(16, 6))
    for p in backbone.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(net[1].parameters(), lr=1e-2)
    for i in range(3):
        logits = model(X[i * 8:(i + 1) * 8])
        loss = lossf(X[i * 8:(i + 1) * 8], Y6[i * 8:(i + 1) * 8])
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((tuple(logits.shape), loss.item(), backbone[0].weight.grad is None))
    for p in backbone.parameters():
        p.requires_grad_(True)
    res[kind] = (log, net[1].weight.detach().numpy().copy())
    net[1] = nn.Linear(16, 4)  # back to the pretraining shape for the next run
out["res"] = (res["eager"], res["compiled"])
'''


def test_head_replaced_after_compile(tmp_path):
    want, got = run_both(TRANSFER, tmp_path)
    _match(want, got)

