"""Scripted loops whose carried tensors grow (torch.cat per iteration, as greedy decoding
does) against torch.jit.script: values per call at several lengths, gradients, and after
save/load; the body may read the sizes that grow (each iteration sees its own). Code after
the loop that reads a grown size, and a body whose ops keep such a size, are refused."""
import io

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
              pytest.mark.filterwarnings("ignore:`torch.jit.save` is deprecated"),
              pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")]


def _programs(lib):
    nn = lib.nn

    class UntilSum(nn.Module):
        def forward(self, x):
            out = x.unsqueeze(0)
            while bool(out.sum() < 50):
                out = lib.cat([out, out[-1:] * 2], 0)
            return out

    class Columns(nn.Module):
        def forward(self, x):
            seq = x.unsqueeze(1)
            i = 0
            while bool(seq.sum() < 30):
                seq = lib.cat([seq, seq[:, -1:] + 1], dim=1)
                i += 1
            return seq, i

    class Pairs(nn.Module):
        """Two carried tensors growing in different dims; one grows by a stacked pair."""

        def forward(self, x, n):
            rows = x.unsqueeze(0)
            log = x[:1]
            for _ in range(int(n)):
                step = lib.stack([rows[-1] * 0.5, rows[-1] + 1.0]).mean(0, keepdim=True)
                rows = lib.cat([rows, step], 0)
                log = lib.cat([log, step.sum(1)], 0)
            return rows.softmax(0), log

    class Greedy(nn.Module):
        """Greedy decoding: stops when every row produced `eos` or at `max_len` tokens."""

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 8)
            self.out = nn.Linear(8, 10)
            with lib.no_grad():
                self.emb.weight.copy_(lib.arange(80.0).reshape(10, 8).sin())
                self.out.weight.copy_(lib.arange(80.0).reshape(10, 8).cos())
                self.out.bias.zero_()

        def forward(self, tokens, eos: int = 9, max_len: int = 6):
            done = lib.zeros(tokens.shape[0], dtype=lib.bool)
            while not bool(done.all()) and tokens.shape[1] < max_len:
                h = self.emb(tokens).mean(1)
                nxt = self.out(h).argmax(-1, keepdim=True)
                tokens = lib.cat([tokens, nxt], 1)
                done = done | (nxt.squeeze(1) == eos)
            return tokens

    class Counted(nn.Module):
        """The body reads the growing length in several ways."""

        def forward(self, x):
            out = x.unsqueeze(0)
            while bool(out.sum() < 100) and len(out) < 7:
                out = lib.cat([out, out[-1:] + out.size(0) * out.shape[1]], 0)
            return out

    return dict(UntilSum=UntilSum, Columns=Columns, Pairs=Pairs, Greedy=Greedy,
                Counted=Counted)


_CASES = {"UntilSum": [([1.0, 2.0],), ([10.0, 20.0],), ([0.5, 0.25, 1.0],)],
          "Columns": [([1.0, 2.0],), ([5.0, 6.0, 7.0],), ([0.0],)],
          "Pairs": [([1.0, 2.0], 3), ([0.5, -1.0], 0), ([2.0, 1.0], 5)],
          "Greedy": [([[1, 2], [3, 4]],), ([[5, 1], [0, 2]],), ([[7, 7], [8, 9], [0, 0]],)],
          "Counted": [([1.0, 2.0],), ([0.0, 0.5, 0.25],), ([30.0, 40.0],)]}


def _args(lib, case, grad=False):
    return [lib.tensor(a, requires_grad=grad and isinstance(a[0], float))
            if isinstance(a, list) else lib.tensor(a) for a in case]


def _flat(out):
    return [o.detach().numpy() if hasattr(o, "detach") else o
            for o in (out if isinstance(out, tuple) else (out,))]


def _same(ours, theirs):
    for a, b in zip(_flat(ours), _flat(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(_CASES))
def test_growing_loop_matches_torch(name):
    ours = ember.jit.script(_programs(ember)[name]())
    theirs = torch.jit.script(_programs(torch)[name]())
    for case in _CASES[name]:
        _same(ours(*_args(ember, case)), theirs(*_args(torch, case)))
    buffers = []
    for lib, scripted in ((ember, ours), (torch, theirs)):
        buffer = io.BytesIO()
        lib.jit.save(scripted, buffer)
        buffer.seek(0)
        buffers.append(lib.jit.load(buffer))
    case = _CASES[name][-1]
    _same(buffers[0](*_args(ember, case)), buffers[1](*_args(torch, case)))


def test_growing_loop_gradients_match_torch():
    grads = []
    for lib in (ember, torch):
        scripted = lib.jit.script(_programs(lib)["Pairs"]())
        x, n = _args(lib, _CASES["Pairs"][0], grad=True)
        rows, log = scripted(x, n)
        ((rows * lib.arange(8.0).reshape(4, 2)).sum() + log.pow(2).sum()).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_reading_a_grown_size_is_refused():
    def after(x):
        out = x.unsqueeze(0)
        while bool(out.sum() < 50):
            out = ember.cat([out, out[-1:] * 2], 0)
        return out.reshape(out.shape[0] * 2, -1)

    with pytest.raises(ember.jit.NotSupportedError, match="size of a tensor computed from"):
        ember.jit.script(after)(ember.tensor([1.0, 2.0]))


def test_growth_whose_ops_keep_sizes_is_refused():
    def fixed(x):
        out = x.unsqueeze(0)
        while bool(out.sum() < 50):
            out = ember.cat([out, ember.zeros(out.shape[0], 2)[:1] + 3], 0)
        return out

    with pytest.raises(ember.jit.NotSupportedError, match="changes the sizes of \\['out'\\]"):
        ember.jit.script(fixed)(ember.tensor([1.0, 2.0]))
