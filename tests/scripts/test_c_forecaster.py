"""A time-series GRU forecaster over variable-length series: a Dataset of numpy series, a custom
Sampler that buckets by length, a collate_fn with nn.utils.rnn.pad_sequence, a DataLoader with
batch_sampler, pack_padded_sequence(enforce_sorted=False) into a 2-layer GRU, pad_packed_sequence,
gathering each series' last step, a masked MSE on multi-step targets and StepLR.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset, Sampler

torch.manual_seed(0)
HORIZON = 3

class SeriesDataset(Dataset):
    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(n):
            length = int(rng.integers(5, 16))
            t = np.arange(length + HORIZON, dtype=np.float32)
            freq, phase = rng.uniform(0.2, 0.6), rng.uniform(0, 3)
            series = np.sin(freq * t + phase) + 0.05 * rng.standard_normal(t.shape)
            feats = np.stack([series, np.cos(freq * t)], axis=1).astype(np.float32)
            self.items.append((feats[:length], series[length:].astype(np.float32)))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        x, y = self.items[i]
        return torch.from_numpy(x), torch.from_numpy(y)

class BucketBatchSampler(Sampler):
    """Batches of similar lengths, longest first, so padding stays small."""

    def __init__(self, lengths, batch_size):
        self.order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        self.batch_size = batch_size

    def __iter__(self):
        for i in range(0, len(self.order), self.batch_size):
            yield self.order[i:i + self.batch_size]

    def __len__(self):
        return (len(self.order) + self.batch_size - 1) // self.batch_size

def collate(batch):
    xs, ys = zip(*batch)
    lengths = torch.tensor([len(x) for x in xs], dtype=torch.long)
    return pad_sequence(xs, batch_first=True, padding_value=0.0), lengths, torch.stack(ys)

class Forecaster(nn.Module):
    def __init__(self, n_features=2, hidden=12):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden, num_layers=2, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, HORIZON))

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, h_n = self.gru(packed)
        out, out_lengths = pad_packed_sequence(packed_out, batch_first=True)
        assert torch.equal(out_lengths, lengths)
        idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.size(2))
        last = out.gather(1, idx).squeeze(1)
        torch.testing.assert_close(last, h_n[-1])
        return self.head(last)

train_set, val_set = SeriesDataset(40, 1), SeriesDataset(12, 2)
lengths = [len(train_set.items[i][0]) for i in range(len(train_set))]
train_loader = DataLoader(train_set, batch_sampler=BucketBatchSampler(lengths, 8),
                          collate_fn=collate)
val_loader = DataLoader(val_set, batch_size=5, shuffle=False, collate_fn=collate)
assert len(train_loader) == 5 and len(val_loader) == 3
x0, l0, y0 = next(iter(train_loader))
assert x0.shape[0] == 8 and x0.shape[1] == int(l0.max()) and y0.shape == (8, HORIZON)
assert x0.dtype == torch.float32 and l0.dtype == torch.int64

model = Forecaster()
sync(model)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
criterion = nn.MSELoss()
losses, val_losses, lrs = [], [], []
for epoch in range(4):
    model.train()
    for x, lens, y in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(x, lens), y)
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.5)
        optimizer.step()
        losses.append(loss.item())
    scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
    model.eval()
    with torch.no_grad():
        total, count = 0.0, 0
        for x, lens, y in val_loader:
            total += nn.functional.mse_loss(model(x, lens), y, reduction="sum").item()
            count += y.numel()
    val_losses.append(total / count)

with torch.no_grad():
    x, lens, _ = collate([val_set[i] for i in range(len(val_set))])
    forecast = model(x, lens)
    # padding must not change a series' forecast
    x_longer = torch.cat([x, torch.full((x.size(0), 4, x.size(2)), 9.0)], dim=1)
    torch.testing.assert_close(model(x_longer, lens), forecast)
out.update(losses=losses, val=val_losses, lrs=lrs, forecast=forecast.numpy())
'''


def test_forecaster_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-5)
    close(theirs["val"], ours["val"], rtol=1e-4, atol=1e-5)
    close(theirs["lrs"], ours["lrs"], rtol=1e-12, atol=0)
    close(theirs["forecast"], ours["forecast"], rtol=1e-4, atol=1e-5)
    assert ours["val"][-1] < ours["val"][0]
