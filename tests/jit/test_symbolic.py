"""Dynamic graphs (ember/jit/symbolic.py): sizes that change become symbols, one compiled graph
serves every size whose capture conforms to it, and anything that does not fit falls back to
a graph of its own, with results equal to eager code throughout."""
import copy

import numpy as np
import pytest

import ember
from ember import nn
from ember.jit.symbolic import SymInt, _fit

from .test_compile import TinyGPT, _close


def test_fit_prefers_the_simplest_expression():
    samples = {"s0": (16, 8), "s1": (64, 32)}
    assert repr(_fit(64, 32, samples)) == "s1"  # not 4*s0, though the ratio fits too
    assert repr(_fit(1024, 256, samples)) == "s0*s1"
    assert repr(_fit(128, 64, samples)) == "2*s1"
    assert repr(_fit(17, 9, {"s0": (16, 8)})) == "s0 + 1"
    assert _fit(5, 7, {"s0": (16, 8)}) is None
    assert repr(_fit(6, 28, {"s0": (2, 4), "s1": (4, 8)})) == "s0*s1 - s0"  # B * (T - 1)
    # an image's height stepped by 4 (symbol H = h / 4): 4*H, not (B + 2) * W by coincidence
    assert repr(_fit(24, 20, {"s0": (2, 3), "s1": (6, 5), "s2": (6, 4)})) == "4*s1"
    n = SymInt(18, ((("s0",), 3), ((), -6)))
    assert n == 18 and n.evaluate({"s0": 10}) == 24 and repr(n) == "3*s0 - 6"


def _step(model, forward, idx):
    model.zero_grad()
    out = forward(idx)
    (out ** 2).mean().backward()
    return out, [p.grad.clone() for p in model.parameters()]


def _steps_match(model, twin, compiled, inputs) -> None:
    """A training step of the compiled twin on each input gives eager's output and grads."""
    for x in inputs:
        out, grads = _step(twin, compiled, x)
        ref, ref_grads = _step(model, model, x)
        assert _close(out, ref)
        assert all(_close(g, r, atol=1e-5) for g, r in zip(grads, ref_grads))


def test_gpt_batch_and_sequence_sizes_share_one_dynamic_graph(capsys):
    ember.manual_seed(0)
    model = TinyGPT()
    twin = copy.deepcopy(model)
    compiled = ember.compile(twin, fullgraph=True, explain=True)
    sizes = [(4, 8), (2, 6), (3, 7), (3, 7), (5, 3), (2, 6)]
    _steps_match(model, twin, compiled, [ember.randint(0, 11, size) for size in sizes])
    guarded = compiled._compiled
    assert guarded.compiled == 2  # the first size's graph, then one dynamic graph
    err = capsys.readouterr().err
    assert "compiled a dynamic graph (s0 = input 0 dim 0, s1 = input 0 dim 1)" in err
    assert "the dynamic graph runs it (s0 = 3, s1 = 7)" in err
    (family,) = guarded.families.values()
    forward, backward = family.symbolic
    assert str(forward.inputs[0].type) == "Long(s0, s1)"
    assert forward.symbols == {"s0": (0, 0, 1, 0), "s1": (0, 1, 1, 0)}
    assert any("s0*s1" in str(v.type) for n in backward.nodes for v in n.outputs)
    # the causal mask and the positions are rebuilt at each call's sizes, not constants
    assert {"full", "arange"} <= {n.op for n in forward.nodes}
    # a size seen before runs the shared code without capturing again
    entry = guarded.cache[next(k for k in guarded.cache if k[2][0][0] == (3, 7))]
    assert entry.call is family.call


def test_dynamic_training_matches_eager_with_a_short_last_batch():
    ember.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3))
    twin = copy.deepcopy(net)
    compiled = ember.compile(twin)
    data = ember.randn(40, 6)
    target = ember.randint(0, 3, (40,))

    def epoch(m, fwd):
        opt = ember.optim.Adam(m.parameters(), lr=1e-2)
        losses = []
        for _ in range(2):
            for start in range(0, 40, 12):  # batches of 12, 12, 12, 4
                opt.zero_grad()
                loss = nn.functional.cross_entropy(fwd(data[start:start + 12]),
                                                   target[start:start + 12])
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return losses
    assert np.allclose(epoch(twin, compiled), epoch(net, net), rtol=1e-5, atol=1e-6)
    assert compiled._compiled.compiled == 2


def test_a_size_the_fit_does_not_explain_gets_its_own_graph(capsys):
    def f(x):  # a size that grows with the square of the input's: not an affine fit
        n = x.shape[0]
        return x.sum() + ember.ones(n * n).sum()
    cf = ember.compile(f, explain=True)
    for n in (2, 3, 4, 4):
        assert cf(ember.ones(n)).item() == n + n * n
    err = capsys.readouterr().err
    assert "compiled a dynamic graph" in err
    assert "no dynamic graph:" in err and "16 where the dynamic graph has 5*s0 - 6 = 14" in err
    assert cf._ember_compiled.compiled == 3


def test_sizes_zero_and_one_are_specialized(capsys):
    cf = ember.compile(lambda x: (x * 2).sum(0), explain=True)
    for n in (1, 3, 4, 5, 1):
        assert _close(cf(ember.ones(n, 2)), ember.full((2,), 2.0 * n))
    err = capsys.readouterr().err
    assert "sizes 0 and 1 are compiled specially" in err
    assert "dynamic graph runs it (s0 = 5)" in err
    assert cf._ember_compiled.compiled == 3  # sizes 1, 3, then the dynamic graph


def test_dynamic_false_specializes_every_size():
    cf = ember.compile(lambda x: x + 1, dynamic=False)
    for n in (2, 3, 4):
        cf(ember.ones(n))
    assert cf._ember_compiled.compiled == 3 and not cf._ember_compiled.families


def test_dynamic_argument_is_checked():
    assert ember.compile(lambda x: x + 1, dynamic=True)(ember.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="dynamic must be None, True or False, not str"):
        ember.compile(lambda x: x, dynamic="yes")


class ShiftedTokens(nn.Module):
    """Next-token style slicing: the model sees T - 1 positions and flattens B * (T - 1) rows,
    so its backward graph only holds T - 1 sized values and must read T from them."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.lin = nn.Linear(8, 8)

    def forward(self, idx):
        x = self.emb(idx[:, :-1])
        b, t, c = x.shape
        y = self.lin(x).reshape(b * t, c)
        return y.sum(0) + y[:b].sum(0)


def test_sizes_read_from_shifted_dims_share_one_dynamic_graph():
    ember.manual_seed(0)
    model = ShiftedTokens()
    twin = copy.deepcopy(model)
    compiled = ember.compile(twin, fullgraph=True)
    rng = np.random.default_rng(0)
    for b, t in [(2, 4), (4, 8), (3, 5), (5, 9), (6, 3)]:
        idx = ember.from_numpy(rng.integers(0, 50, (b, t)))
        got, got_grads = _step(twin, compiled, idx)
        want, want_grads = _step(model, model, idx)
        assert _close(got, want)
        assert all(_close(g, w) for g, w in zip(got_grads, want_grads))
    assert compiled._compiled.compiled == 2  # the first size, then one dynamic graph


def test_multi_scale_training_of_a_strided_net_shares_one_dynamic_graph():
    """A stride-2 conv and a 2x2 pool, flattened: the sizes (h + 1) // 2 // 2 follow no
    expression of h, but are exact at heights and widths 4 apart (the forward graph's total
    stride), so images of 32x32, 64x48, 96x40 and 40x40 train through one dynamic graph."""
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten())
    twin = copy.deepcopy(net)
    compiled = ember.compile(twin)
    shapes = [(2, 3, 32, 32), (2, 3, 64, 48), (2, 3, 96, 40), (2, 3, 40, 40)]
    _steps_match(net, twin, compiled, [ember.randn(*shape) for shape in shapes])
    guarded = compiled._compiled
    assert guarded.compiled == 2  # the first size's graph, then one dynamic graph
    (family,) = guarded.families.values()
    assert str(family.symbolic[0].inputs[0].type) == "Float(2, 3, 4*s0, 4*s1)"


def test_floor_factors_evaluate_print_and_round_trip():
    """A factor (s, a, m) is floor((s + a) / m): a strided layer's output size (ceil(H / 4)
    is floor((H + 3) / 4)); JSON keeps it, and malformed factors are refused."""
    from ember.jit.ir import GraphError
    from ember.jit.symbolic import _floor_terms
    n = SymInt(9, ((("s0", ("s1", 3, 4)), 2), ((), 1)))
    assert [n.evaluate({"s0": 2, "s1": h}) for h in (5, 8, 9)] == [9, 9, 13]
    assert repr(n) == "2*s0*((s1 + 3) // 4) + 1" and n.symbols() == {"s0", "s1"}
    assert eval(n.source(), {"s0": 3, "s1": 17}) == n.evaluate({"s0": 3, "s1": 17}) == 31
    back = SymInt.from_json(n.to_json()["$sym"])
    assert back.terms == n.terms and back == 9
    with pytest.raises(GraphError, match="malformed size expression"):
        SymInt.from_json({"value": 1, "terms": [[[["s1", 3, 0]], 1]]})
    # sizes 16..24 through two ceil-mode halvings, a plain line, and the padding h % 2 that
    # avg_pool's ceil mode adds (h - 2 * floor(h / 2))
    series = [(h, -(-h // 4)) for h in range(16, 25)]
    assert _floor_terms("s1", series)[0] == [(("s1", 3, 4), 1)]
    assert _floor_terms("s1", [(h, 2 * h + 1) for h in range(3, 7)]) == [[("s1", 2)]]
    assert _floor_terms("s1", [(h, h % 2) for h in range(4, 9)])[0] == \
        [("s1", 1), (("s1", 0, 2), -2)]
    # (h + 1) // 2 % 2, period 4: one floor per step of the sweep
    series = [(h, (h + 1) // 2 % 2) for h in range(4, 9)]
    assert _floor_terms("s1", series) == [[(("s1", 3, 4), 1), (("s1", 1, 4), -1)]]
    assert _floor_terms("s1", [(3, 1), (4, 2), (6, 4)]) == []
