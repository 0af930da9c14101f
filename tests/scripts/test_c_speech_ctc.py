"""A small speech-recognition pipeline: log-mel features from torch.stft with a Hann window and
a triangular mel filterbank built from tensor ops, per-utterance normalization, a Conv1d + BiGRU
acoustic model over padded batches, nn.CTCLoss with input/target lengths, greedy CTC decoding
with unique_consecutive, and istft reconstruction of the waveform.
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
SR, N_FFT, HOP, N_MELS, VOCAB = 1600, 64, 16, 12, 5  # blank = 0

def hz_to_mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)

def mel_filterbank(n_freqs, n_mels, sr):
    mel_pts = torch.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2)
    hz_pts = 700.0 * (10 ** (mel_pts / 2595.0) - 1.0)
    freqs = torch.linspace(0, sr / 2, n_freqs)
    down = (freqs.unsqueeze(1) - hz_pts[:-2]) / (hz_pts[1:-1] - hz_pts[:-2])
    up = (hz_pts[2:] - freqs.unsqueeze(1)) / (hz_pts[2:] - hz_pts[1:-1])
    return torch.clamp(torch.minimum(down, up), min=0.0)

window = torch.hann_window(N_FFT)
fbank = mel_filterbank(N_FFT // 2 + 1, N_MELS, SR)

def log_mel(wave):
    spec = torch.stft(wave, n_fft=N_FFT, hop_length=HOP, window=window, center=True,
                      return_complex=True)
    power = spec.abs().pow(2)
    mel = torch.matmul(power.transpose(-1, -2), fbank)
    feats = torch.log(mel + 1e-6)
    return (feats - feats.mean(dim=0, keepdim=True)) / (feats.std(dim=0, keepdim=True) + 1e-5)

rng = np.random.default_rng(4)
tones = {1: 200.0, 2: 400.0, 3: 600.0, 4: 750.0}
waves, targets = [], []
for _ in range(6):
    labels = rng.integers(1, VOCAB, rng.integers(2, 4)).tolist()
    t = torch.arange(int(0.12 * SR)) / SR
    pieces = [torch.sin(2 * math.pi * tones[k] * t) for k in labels]
    noise = torch.tensor(rng.standard_normal(len(pieces) * len(t)) * 0.05, dtype=torch.float32)
    waves.append(torch.cat(pieces) + noise)
    targets.append(torch.tensor(labels))

feats = [log_mel(w) for w in waves]
feat_lengths = torch.tensor([f.shape[0] for f in feats])
x = nn.utils.rnn.pad_sequence(feats, batch_first=True)
target_lengths = torch.tensor([len(t) for t in targets])
flat_targets = torch.cat(targets)

class AcousticModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(N_MELS, 16, kernel_size=3, padding=1)
        self.rnn = nn.GRU(16, 12, batch_first=True, bidirectional=True)
        self.out = nn.Linear(24, VOCAB)

    def forward(self, x, lengths):
        h = F.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True,
                                                   enforce_sorted=False)
        h, _ = self.rnn(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True)
        return self.out(h).log_softmax(dim=-1)

model = AcousticModel()
sync(model)
ctc = nn.CTCLoss(blank=0, zero_infinity=True)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
losses = []
for step in range(8):
    log_probs = model(x, feat_lengths)
    loss = ctc(log_probs.transpose(0, 1), flat_targets, feat_lengths, target_lengths)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

def greedy_decode(log_probs, lengths):
    best = log_probs.argmax(dim=-1)
    hyps = []
    for seq, n in zip(best, lengths):
        collapsed = torch.unique_consecutive(seq[:n])
        hyps.append(collapsed[collapsed != 0].tolist())
    return hyps

model.eval()
with torch.no_grad():
    log_probs = model(x, feat_lengths)
    hyps = greedy_decode(log_probs, feat_lengths)
    per_utt = F.ctc_loss(log_probs.transpose(0, 1), flat_targets, feat_lengths, target_lengths,
                         reduction="none")
spec = torch.stft(waves[0], n_fft=N_FFT, hop_length=HOP, window=window, return_complex=True)
recon = torch.istft(spec, n_fft=N_FFT, hop_length=HOP, window=window, length=len(waves[0]))
torch.testing.assert_close(recon, waves[0], atol=1e-4, rtol=1e-4)
out.update(losses=losses, feats=x.numpy(), per_utt=per_utt.numpy(), hyps=hyps,
           fbank=fbank.numpy())
'''


def test_speech_ctc_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["fbank"], ours["fbank"], rtol=1e-5, atol=1e-5)
    close(theirs["feats"], ours["feats"], rtol=1e-3, atol=1e-3)
    close(theirs["losses"], ours["losses"], rtol=1e-3, atol=1e-4)
    close(theirs["per_utt"], ours["per_utt"], rtol=1e-3, atol=1e-3)
    assert theirs["hyps"] == ours["hyps"]
    assert ours["losses"][-1] < ours["losses"][0]
