"""Small models and functions the JIT tests trace."""
import ember
from ember import nn


class MLP(nn.Module):
    """Linear -> relu -> Linear -> relu -> Linear."""

    def __init__(self, sizes=(8, 16, 12, 4)):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], sizes[3])

    def forward(self, x):
        return self.fc3(ember.relu(self.fc2(ember.relu(self.fc1(x)))))


class Stats(nn.Module):
    """Updates buffers in place, like BatchNorm's running statistics."""

    def __init__(self):
        super().__init__()
        self.register_buffer("running", ember.zeros(3))
        self.register_buffer("count", ember.tensor(0))

    def forward(self, x):
        self.running.mul_(0.9).add_(x.mean(0) * 0.1)
        self.count += 1
        return x - self.running


def gelu_chain(x, w, b):
    """gelu(x * w + b), the erf form, from ember ops."""
    y = x * w + b
    return 0.5 * y * (1 + ember.erf(y / 2 ** 0.5))


class LSTMLM(nn.Module):
    """Embedding -> 2-layer LSTM -> Linear language model. `forward` scores `tokens`, then
    decodes greedily for up to `steps` more tokens, stopping early once the model is sure
    (a tensor-dependent break): it returns the logits, the decoded tokens' total
    log-probability and how many were decoded."""

    def __init__(self, vocab=20, dim=8, hidden=12):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, num_layers=2, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens, steps: int = 0, sure: float = 0.5):
        h, state = self.lstm(self.emb(tokens))
        logits = self.out(h)
        last = logits[:, -1]
        total = ember.zeros(tokens.shape[0])
        decoded = 0
        for _ in range(steps):
            logp = last.log_softmax(-1)
            best = logp.max(-1)
            if best.values.exp().min() > sure:
                break
            total = total + best.values
            step, state = self.lstm(self.emb(best.indices.unsqueeze(1)), state)
            last = self.out(step[:, -1])
            decoded += 1
        return logits, total, decoded


class TinyTransformer(nn.Module):
    """Embedding -> 2-layer TransformerEncoder (dropout 0) -> Linear, with data-dependent
    control flow: a shared refinement layer runs while the mean of feature 0 stays above
    `limit` (at most `max_refine` times), and the sign of feature 1 picks the output head."""

    def __init__(self, vocab=20, dim=16, heads=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.refine = nn.TransformerEncoderLayer(dim, heads, 32, dropout=0.0,
                                                 batch_first=True)
        self.head = nn.Linear(dim, vocab)
        self.other = nn.Linear(dim, vocab)

    def forward(self, tokens, limit: float = 0.0, max_refine: int = 3):
        x = self.encoder(self.emb(tokens))
        n = 0
        while n < max_refine and x[..., 0].mean() > limit:
            x = self.refine(x) + 0.1
            n += 1
        if x[..., 1].sum() > 0:
            return self.head(x), n
        return self.other(x), n


def assert_compiled_trains_as_eager(make, *inputs):
    """ember.compile(make()) and an eager twin with the same weights give the same parameter
    gradients of mean(out ** 2), one step per input (inputs of changing sizes make the
    compiled graphs dynamic)."""
    import numpy as np
    net, ref = make(), make()
    ref.load_state_dict(net.state_dict())
    fast = ember.compile(net, fullgraph=True)
    for x in inputs:
        for model, call in ((net, fast), (ref, ref)):
            model.zero_grad()
            call(x).square().mean().backward()
        for p, q in zip(net.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
