"""A fine-tuning loop in the Hugging Face style: AdamW over named_parameters() split into
decay/no-decay groups by name, a linear warmup schedule written with LambdaLR, gradient
accumulation, clip_grad_norm_, torch.utils.checkpoint on blocks, and a mid-run save and resume
of model, optimizer, scheduler and RNG state with torch.save/torch.load.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)
V, D, T, C = 23, 16, 10, 3

def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps,
                                    last_epoch=-1):
    def lr_lambda(current_step: int):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step)
                   / float(max(1, num_training_steps - num_warmup_steps)))
    return LambdaLR(optimizer, lr_lambda, last_epoch)

class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(D, 2, batch_first=True)
        self.LayerNorm = nn.LayerNorm(D, eps=1e-12)
        self.intermediate = nn.Linear(D, 2 * D)
        self.output = nn.Linear(2 * D, D)
        self.output_norm = nn.LayerNorm(D, eps=1e-12)

    def forward(self, hidden, attention_mask):
        attn, _ = self.attention(hidden, hidden, hidden, key_padding_mask=attention_mask == 0,
                                 need_weights=False)
        hidden = self.LayerNorm(hidden + attn)
        return self.output_norm(hidden + self.output(F.gelu(self.intermediate(hidden))))

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = nn.Embedding(V, D, padding_idx=0)
        self.position_embeddings = nn.Embedding(T, D)
        self.layers = nn.ModuleList([Layer() for _ in range(2)])
        self.pooler = nn.Linear(D, D)
        self.classifier = nn.Linear(D, C)
        self.gradient_checkpointing = False

    def forward(self, input_ids, attention_mask, labels=None):
        positions = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        hidden = self.embeddings(input_ids) + self.position_embeddings(positions)
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                hidden = checkpoint(layer, hidden, attention_mask, use_reentrant=False)
            else:
                hidden = layer(hidden, attention_mask)
        pooled = torch.tanh(self.pooler(hidden[:, 0]))
        logits = self.classifier(pooled)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}

def make_optimizer(model):
    no_decay = ["bias", "LayerNorm.weight", "output_norm.weight"]
    grouped = [
        {"params": [p for n, p in model.named_parameters()
                    if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters()
                    if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(grouped, lr=5e-3, eps=1e-8)

rng = np.random.default_rng(1)
N = 32
lengths = rng.integers(3, T + 1, N)
ids = np.zeros((N, T), dtype=np.int64)
for i, n in enumerate(lengths):
    ids[i, :n] = rng.integers(1, V, n)
input_ids = torch.from_numpy(ids)
attention_mask = (input_ids != 0).long()
labels = torch.from_numpy(rng.integers(0, C, N))

model = Classifier()
sync(model)
model.gradient_checkpointing = True
optimizer = make_optimizer(model)
assert len(optimizer.param_groups[1]["params"]) > 0
total_steps, accum, bs = 8, 2, 4
scheduler = get_linear_schedule_with_warmup(optimizer, 2, total_steps)
ckpt_path = os.path.join(TMP, "checkpoint.pt")

def train(model, optimizer, scheduler, start, stop, losses, lrs, norms):
    model.train()
    for step in range(start, stop):
        for micro in range(accum):
            lo = ((step * accum + micro) * bs) % N
            batch = slice(lo, lo + bs)
            outputs = model(input_ids[batch], attention_mask[batch], labels=labels[batch])
            loss = outputs["loss"] / accum
            loss.backward()
            losses.append(loss.item())
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        lrs.append(scheduler.get_last_lr()[0])

losses, lrs, norms = [], [], []
train(model, optimizer, scheduler, 0, 4, losses, lrs, norms)
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng_state": torch.get_rng_state(),
            "step": 4}, ckpt_path)
after_save = torch.rand(3)
train(model, optimizer, scheduler, 4, total_steps, losses, lrs, norms)
straight = model(input_ids, attention_mask)["logits"].detach()

ckpt = torch.load(ckpt_path, weights_only=False)
resumed = Classifier()
resumed.load_state_dict(ckpt["model"])
resumed.gradient_checkpointing = True
opt2 = make_optimizer(resumed)
sched2 = get_linear_schedule_with_warmup(opt2, 2, total_steps)
opt2.load_state_dict(ckpt["optimizer"])
sched2.load_state_dict(ckpt["scheduler"])
torch.set_rng_state(ckpt["rng_state"])
assert torch.equal(torch.rand(3), after_save)
assert sched2.last_epoch == 4 and opt2.param_groups[0]["lr"] == lrs[3]
losses2, lrs2, norms2 = [], [], []
train(resumed, opt2, sched2, ckpt["step"], total_steps, losses2, lrs2, norms2)
torch.testing.assert_close(resumed(input_ids, attention_mask)["logits"].detach(), straight)
assert lrs2 == lrs[4:]

resumed.eval()
with torch.no_grad():
    logits = resumed(input_ids, attention_mask)["logits"]
    accuracy = (logits.argmax(dim=-1) == labels).float().mean().item()
out.update(losses=losses, lrs=lrs, norms=norms, resumed=losses2, logits=logits.numpy(),
           accuracy=accuracy)
'''


def test_finetune_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["resumed"], ours["resumed"], rtol=1e-4, atol=1e-5)
    close(theirs["norms"], ours["norms"], rtol=1e-4, atol=1e-5)
    close(theirs["lrs"], ours["lrs"], rtol=1e-12, atol=0)
    close(theirs["logits"], ours["logits"], rtol=1e-4, atol=1e-4)
    assert theirs["accuracy"] == ours["accuracy"]
