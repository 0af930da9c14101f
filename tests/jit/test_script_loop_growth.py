"""Scripted loops whose carried tensors grow (torch.cat per iteration, as greedy decoding
does) against torch.jit.script: values per call at several lengths, gradients, and after
save/load; a body or later code that reads a size that varies is refused."""
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

    return dict(UntilSum=UntilSum, Columns=Columns, Pairs=Pairs)


_CASES = {"UntilSum": [([1.0, 2.0],), ([10.0, 20.0],), ([0.5, 0.25, 1.0],)],
          "Columns": [([1.0, 2.0],), ([5.0, 6.0, 7.0],), ([0.0],)],
          "Pairs": [([1.0, 2.0], 3), ([0.5, -1.0], 0), ([2.0, 1.0], 5)]}


def _args(lib, case, grad=False):
    return [lib.tensor(a, requires_grad=grad) if isinstance(a, list) else lib.tensor(a)
            for a in case]


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


def test_growth_that_keeps_sizes_is_refused():
    def fixed(x):
        out = x.unsqueeze(0)
        while bool(out.sum() < 50):
            out = ember.cat([out, ember.ones(1, 2) * out.shape[0]], 0)
        return out

    with pytest.raises(ember.jit.NotSupportedError, match="changes the sizes of \\['out'\\]"):
        ember.jit.script(fixed)(ember.tensor([1.0, 2.0]))
