"""Knowledge distillation: a teacher trained briefly, then frozen in eval() under torch.no_grad;
a student (with dropout and BatchNorm) trained on KLDivLoss(reduction='batchmean',
log_target=False) of log_softmax(student/T) against softmax(teacher/T), scaled by T*T, plus
cross-entropy, with SGD (nesterov) under a OneCycleLR schedule stepped per batch; the logits'
gradient is clamped by a tensor hook registered after retain_grad (which must see the result).
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import OneCycleLR
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
rng = np.random.default_rng(11)
N, D, C, T, alpha = 96, 10, 4, 4.0, 0.7
centers = rng.normal(size=(C, D)) * 2
y_np = rng.integers(0, C, N)
x_np = (centers[y_np] + rng.normal(size=(N, D))).astype(np.float32)
dataset = TensorDataset(torch.from_numpy(x_np), torch.from_numpy(y_np))
loader = DataLoader(dataset, batch_size=16, shuffle=False)

teacher = sync(nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                             nn.Linear(64, C)))
student = sync(nn.Sequential(nn.Linear(D, 16), nn.BatchNorm1d(16), nn.ReLU(),
                             nn.Dropout(p=0.0), nn.Linear(16, C)))

opt_t = torch.optim.Adam(teacher.parameters(), lr=1e-2)
teacher_losses = []
for epoch in range(3):
    for xb, yb in loader:
        loss = F.cross_entropy(teacher(xb), yb)
        opt_t.zero_grad()
        loss.backward()
        opt_t.step()
        teacher_losses.append(loss.item())

kl = nn.KLDivLoss(reduction="batchmean", log_target=False)
epochs = 4
optimizer = torch.optim.SGD(student.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                            weight_decay=5e-4)
scheduler = OneCycleLR(optimizer, max_lr=0.2, epochs=epochs, steps_per_epoch=len(loader),
                       pct_start=0.3, anneal_strategy="cos")
teacher.eval()
losses, lrs, moms, kls, logit_grads = [], [], [], [], []
for epoch in range(epochs):
    student.train()
    for xb, yb in loader:
        with torch.no_grad():
            soft_targets = F.softmax(teacher(xb) / T, dim=-1)
        logits = student(xb)
        logits.retain_grad()
        logits.register_hook(lambda g: g.clamp(-0.02, 0.02))
        distill = kl(F.log_softmax(logits / T, dim=-1), soft_targets) * (T * T)
        loss = alpha * distill + (1 - alpha) * F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        kls.append(distill.item())
        logit_grads.append(logits.grad.abs().max().item())
        lrs.append(scheduler.get_last_lr()[0])
        moms.append(optimizer.param_groups[0]["momentum"])

manual = (soft_targets * (soft_targets.log() - F.log_softmax(logits / T, -1))).sum() / xb.size(0)
torch.testing.assert_close(manual * T * T, distill, rtol=1e-4, atol=1e-5)
student.eval()
with torch.no_grad():
    x_all = torch.from_numpy(x_np)
    agree = (student(x_all).argmax(1) == teacher(x_all).argmax(1)).float().mean().item()
    running = student[1].running_mean.clone()
out.update(teacher=teacher_losses, losses=losses, logit_grads=logit_grads, kls=kls, lrs=lrs,
           moms=moms, agree=agree, running=running.numpy())
'''


def test_distillation_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["teacher"], ours["teacher"], rtol=1e-4, atol=1e-5)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["kls"], ours["kls"], rtol=1e-4, atol=1e-5)
    close(theirs["logit_grads"], ours["logit_grads"], rtol=1e-4, atol=1e-7)
    assert max(ours["logit_grads"]) <= 0.02  # .grad is the hook's clamped gradient
    close(theirs["lrs"], ours["lrs"], rtol=1e-10, atol=0)
    close(theirs["moms"], ours["moms"], rtol=1e-10, atol=0)
    close(theirs["running"], ours["running"], rtol=1e-4, atol=1e-5)
    assert theirs["agree"] == ours["agree"]
