"""ember.compile's guards on plain Python values (ember/jit/pyguards.py): a graph runs only
while the numbers, strings and flags its capture read still hold, and assigning one inside
captured code breaks the graph instead of being lost."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.jit.aot import GraphBreak
from ember.nn.modules.module import Module

OFFSET = 0.0


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.scale = 1.0

    def forward(self, x):
        return self.norm(self.lin(x)) * self.scale + OFFSET


def _check(compiled, model, x):
    np.testing.assert_allclose(compiled(x).detach().numpy(), model(x).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_changed_attribute_global_and_submodule_value_recompile(capsys):
    global OFFSET
    model = Scaled()
    fast = ember.compile(model, explain=True)
    x = ember.randn(5, 4)
    _check(fast, model, x)
    _check(fast, model, x)
    assert fast._compiled.compiled == 1  # unchanged values: the graph runs
    model.scale = 2.5
    _check(fast, model, x)
    assert "Scaled.scale changed (1.0 -> 2.5)" in capsys.readouterr().err
    model.norm.eps = 0.5
    _check(fast, model, x)
    assert "LayerNorm.eps changed" in capsys.readouterr().err
    try:
        OFFSET = 1.5
        _check(fast, model, x)
        assert "global OFFSET changed (0.0 -> 1.5)" in capsys.readouterr().err
    finally:
        OFFSET = 0.0
    assert fast._compiled.compiled == 4


def test_closure_values_of_a_function_are_guarded():
    def make(power):
        def fn(x):
            return x ** power
        return fn
    fn = make(2)
    fast = ember.compile(fn)
    x = ember.tensor([1.0, 2.0, 3.0])
    assert fast(x).tolist() == [1.0, 4.0, 9.0]
    fn.__closure__[0].cell_contents = 3
    assert fast(x).tolist() == [1.0, 8.0, 27.0]


def test_gradients_follow_the_new_value():
    model = Scaled()
    fast = ember.compile(model)
    x = ember.randn(5, 4)
    fast(x).sum().backward()
    model.scale = -2.0
    model.zero_grad()
    fast(x).sum().backward()
    got = model.lin.weight.grad.numpy().copy()
    model.zero_grad()
    model(x).sum().backward()
    np.testing.assert_allclose(got, model.lin.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.mode = "fast"

    def forward(self, x):
        self.calls += 1
        self.mode = "fast"  # the value it already has: no side effect
        return x * 2


def test_assigning_a_python_value_breaks_the_graph():
    model = Counting()
    fast = ember.compile(model)
    for _ in range(3):
        assert fast(ember.ones(2)).tolist() == [2.0, 2.0]
    assert model.calls == 3  # ran eagerly: every call counted
    with pytest.raises(GraphBreak, match="Counting.calls is assigned a Python value"):
        ember.compile(Counting(), fullgraph=True)(ember.ones(2))


def test_module_hooks_are_removed_after_capture():
    fast = ember.compile(Counting(), fullgraph=True)
    with pytest.raises(GraphBreak):
        fast(ember.ones(2))
    assert "__getattribute__" not in Module.__dict__
    model = Scaled()
    ember.compile(model)(ember.randn(2, 4))
    assert "__getattribute__" not in Module.__dict__
    model.scale = 4.0  # ordinary assignment works again outside capture
    assert model.scale == 4.0


def test_other_threads_are_not_part_of_the_capture():
    import threading
    other = Counting()
    done = []

    class Sync:  # a class's events: state the capture does not watch for changes
        capturing, finished = threading.Event(), threading.Event()

    def work():
        Sync.capturing.wait(10)
        done.append(other(ember.ones(1)))
        Sync.finished.set()

    class Waits(nn.Module):
        def __init__(self):
            super().__init__()
            self.factor = 3.0

        def forward(self, x):
            Sync.capturing.set()
            Sync.finished.wait(10)
            return x * self.factor

    worker = threading.Thread(target=work)
    worker.start()
    fast = ember.compile(Waits(), fullgraph=True)
    assert fast(ember.ones(2)).tolist() == [3.0, 3.0]
    worker.join()
    assert other.calls == 1 and len(done) == 1  # its assignment was not a graph break
    (entry,) = fast._compiled.cache.values()
    assert [label for label, _, _ in entry.guards.entries
            if label.startswith(("Waits", "Counting"))] == ["Waits.factor"]


class RunningMean(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", ember.zeros(2))

    def forward(self, x):
        self.mean = self.mean * 0.5 + x.mean(0) * 0.5
        return x - self.mean


def test_assigning_a_tensor_attribute_breaks_the_graph():
    model, twin = RunningMean(), RunningMean()
    fast = ember.compile(twin)
    for k in range(3):
        x = ember.full((4, 2), float(k))
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy())
    np.testing.assert_allclose(twin.mean.numpy(), model.mean.numpy())
    with pytest.raises(GraphBreak, match="RunningMean.mean is assigned a tensor"):
        ember.compile(RunningMean(), fullgraph=True)(ember.ones(4, 2))


def test_a_changed_value_drops_the_graphs_of_every_size():
    model = Scaled()
    fast = ember.compile(model)
    for scale in (1.0, 3.0):
        model.scale = scale
        for n in (2, 3, 5, 7):
            _check(fast, model, ember.randn(n, 4))
    # per value: one graph for the first size, one dynamic graph for the others
    assert fast._compiled.compiled == 4 and len(fast._compiled.cache) == 4


# ---- side effects on Python containers and objects ---------------------------------------------
class KeepsFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.features = []
        self.stats = {"norms": []}

    def forward(self, x):
        h = self.lin(x)
        self.features.append(h)
        self.stats["norms"].append(h.norm())
        return h.relu()


def test_appending_to_a_module_list_runs_every_call():
    ember.manual_seed(0)
    model = KeepsFeatures()
    twin = KeepsFeatures()
    twin.load_state_dict(model.state_dict())
    fast = ember.compile(twin)
    for _ in range(3):
        x = ember.randn(2, 3)
        _check(fast, model, x)
        fast(x).sum().backward()
    assert len(twin.features) == len(twin.stats["norms"]) == 6  # eager: each call appends
    np.testing.assert_allclose(twin.features[-1].detach().numpy(),
                               model.features[-1].detach().numpy(), rtol=1e-6)
    assert twin.lin.weight.grad is not None
    with pytest.raises(GraphBreak, match=r"KeepsFeatures.features \(a list\) is changed"):
        ember.compile(KeepsFeatures(), fullgraph=True)(ember.ones(1, 3))


class Tally:
    def __init__(self):
        self.calls = 0


LOG: dict = {}
TALLY = Tally()


def _remember(key, value):
    LOG[key] = value


def test_changes_to_globals_closures_helpers_and_arguments_are_kept(capsys):
    seen = []

    def step(x, out):
        y = x * 2
        seen.append(y.sum())
        _remember(len(seen), y)  # a helper the function calls, changing a global dict
        TALLY.calls += 1
        out.append(y + 1)
        return y

    fast = ember.compile(step, explain=True)
    out = []
    for k in range(3):
        fast(ember.full((2,), float(k)), out)
    assert [float(v) for v in seen] == [0.0, 4.0, 8.0]
    assert sorted(LOG) == [1, 2, 3] and LOG[3].tolist() == [4.0, 4.0]
    assert TALLY.calls == 3 and [o.tolist() for o in out] == [[1.0, 1.0], [3.0, 3.0],
                                                              [5.0, 5.0]]
    report = capsys.readouterr().err
    assert "is changed inside the compiled" in report and "def step" in report


def test_a_mutable_default_argument_is_watched():
    def collect(x, acc=[]):  # noqa: B006 - the pattern under test
        acc.append(x)
        return x + 1
    fast = ember.compile(collect)
    for _ in range(3):
        fast(ember.ones(1))
    assert len(collect.__defaults__[0]) == 3


class Sized(nn.Module):
    def __init__(self):
        super().__init__()
        self.sizes = [3, 3]
        self.table = {"scale": 2.0}
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return self.lin(x).view(-1, *self.sizes[1:]) * self.table["scale"]


def test_reading_containers_without_changing_them_keeps_one_graph():
    fast = ember.compile(Sized(), fullgraph=True)
    for _ in range(3):
        fast(ember.randn(2, 3))
    assert fast._compiled.compiled == 1 and fast.graph_breaks == []


# ---- tensors the code reads that are no input, parameter or buffer ----------------------------
BIAS = ember.zeros(2)
TOTAL = ember.zeros(2)


def test_a_global_tensor_is_read_live_and_guarded(capsys):
    global BIAS
    fast = ember.compile(lambda x: x + BIAS, explain=True)
    assert fast(ember.ones(2)).tolist() == [1.0, 1.0]
    BIAS.fill_(2.0)  # changed in place outside: the graph reads its current value
    assert fast(ember.ones(2)).tolist() == [3.0, 3.0]
    BIAS = ember.full((2,), 5.0)  # the name rebound: the graph is captured again
    assert fast(ember.ones(2)).tolist() == [6.0, 6.0]
    assert "BIAS, a tensor the graph reads, is another object now" in capsys.readouterr().err


def test_writing_into_a_global_tensor_happens_every_call():
    def accumulate(x):
        TOTAL.add_(x)
        return TOTAL * 2
    fast = ember.compile(accumulate)
    for _ in range(3):
        out = fast(ember.ones(2))
    assert TOTAL.tolist() == [3.0, 3.0] and out.tolist() == [6.0, 6.0]


class Table(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = ember.ones(2)  # a plain tensor attribute, not a buffer
        self.shifts = {"shift": ember.zeros(2)}

    def forward(self, x):
        return x * self.scale + self.shifts["shift"]


def test_tensor_attributes_and_tensors_in_containers_are_read_live():
    model = Table()
    fast = ember.compile(model, fullgraph=True)
    assert fast(ember.ones(2)).tolist() == [1.0, 1.0]
    model.scale.fill_(3.0)
    assert fast(ember.ones(2)).tolist() == [3.0, 3.0]
    model.scale = ember.full((2,), 4.0)
    assert fast(ember.ones(2)).tolist() == [4.0, 4.0]
    model.shifts["shift"] = ember.ones(2)
    assert fast(ember.ones(2)).tolist() == [5.0, 5.0]
    assert fast._compiled.compiled == 3


# ---- random generators and iterators the code advances -----------------------------------------
def _three_calls(fn):
    fast = ember.compile(fn)
    return [fast(ember.ones(1)).item() for _ in range(3)]


def test_python_and_numpy_random_draws_happen_every_call():
    import random
    rng = np.random.default_rng(0)
    for draw in (random.random, np.random.rand, rng.random):
        values = _three_calls(lambda x, draw=draw: x * float(draw()))
        assert len(set(values)) == 3, draw  # new numbers each call, as in eager
    with pytest.raises(GraphBreak, match="global random generator.*is advanced"):
        ember.compile(lambda x: x * random.random(), fullgraph=True)(ember.ones(1))


def test_iterators_and_generators_advance_every_call():
    items = iter([1.0, 2.0, 3.0])
    assert _three_calls(lambda x: x * next(items)) == [1.0, 2.0, 3.0]

    def counting():
        k = 0
        while True:
            k += 1
            yield float(k)
    numbers = counting()
    assert _three_calls(lambda x: x * next(numbers)) == [1.0, 2.0, 3.0]


# ---- what the graph read from containers and objects ------------------------------------------
class Reshaping(nn.Module):
    def __init__(self):
        super().__init__()
        self.dims = [2, 3]
        self.cfg = {"scale": 2.0}

    def forward(self, x):
        return x.view(*self.dims) * self.cfg["scale"]


SCALES = [1.0]


class Settings:
    def __init__(self):
        self.scale = 1.0
        self.step = 0


SETTINGS = Settings()


def test_changed_container_contents_recompile(capsys):
    model = Reshaping()
    fast = ember.compile(model, explain=True)
    assert fast(ember.ones(6)).shape == (2, 3)
    model.dims[0], model.dims[1] = 3, 2
    model.cfg["scale"] = 5.0
    out = fast(ember.ones(6))
    assert out.shape == (3, 2) and out[0, 0].item() == 5.0
    assert "changed since the graph was captured" in capsys.readouterr().err
    model.dims = [6]  # a new list: the attribute's identity is guarded too
    assert fast(ember.ones(6)).shape == (6,)
    scaled = ember.compile(lambda x: x * SCALES[0])
    assert scaled(ember.ones(1)).item() == 1.0
    SCALES[0] = 7.0
    assert scaled(ember.ones(1)).item() == 7.0


def test_attributes_read_from_plain_objects_are_guarded_one_by_one():
    fast = ember.compile(lambda x: x * SETTINGS.scale)
    assert fast(ember.ones(1)).item() == 1.0
    SETTINGS.step += 1  # not read by the graph: no recompile
    assert fast(ember.ones(1)).item() == 1.0 and fast._ember_compiled.compiled == 1
    SETTINGS.scale = 3.0
    assert fast(ember.ones(1)).item() == 3.0 and fast._ember_compiled.compiled == 2
    assert "__getattribute__" not in Settings.__dict__  # the class is given back


# ---- gradients, optimizers and imports inside compiled code ------------------------------------
def _train_pair(update, steps=4):
    """Two copies of a model take `steps` backward passes on new data each; `update(model,
    compiled)` runs after each, eagerly for one copy and through ember.compile for the other.
    Returns the largest weight and gradient differences."""
    ember.manual_seed(0)
    eager, twin = nn.Linear(4, 3), nn.Linear(4, 3)
    twin.load_state_dict(eager.state_dict())
    fast = ember.compile(lambda: update(twin))
    for _ in range(steps):
        x = ember.randn(5, 4)
        for model, run in ((eager, lambda: update(eager)), (twin, fast)):
            model.zero_grad()
            model(x).pow(2).mean().backward()
            run()
    return fast, max((a - b).abs().max().item() for pair in (
        (eager.weight, twin.weight), (eager.weight.grad, twin.weight.grad),
        (eager.bias.grad, twin.bias.grad)) for a, b in [pair])


def test_gradients_read_inside_compiled_code_are_the_current_ones():
    """clip_grad_norm_ compiled reads each step's new .grad, not the capture's."""
    fast, diff = _train_pair(lambda m: nn.utils.clip_grad_norm_(m.parameters(), 0.1))
    assert diff == 0.0
    assert ember.compiler.graph_breaks(fast) == [] and fast._ember_compiled.compiled == 1


def test_a_hand_written_update_reads_gradients_live():
    def sgd(model):
        for p in model.parameters():
            p.sub_(p.grad * 0.1)
    fast, diff = _train_pair(lambda m: ember.no_grad()(sgd)(m))
    assert diff < 1e-7 and fast._ember_compiled.compiled == 1


def test_a_gradient_that_becomes_none_recompiles(capsys):
    w = nn.Parameter(ember.ones(2))
    fast = ember.compile(lambda: ember.zeros(2) if w.grad is None else w.grad * 2,
                         explain=True)
    (w * 3).sum().backward()
    assert fast().tolist() == [6.0, 6.0]
    w.grad = None
    assert fast().tolist() == [0.0, 0.0]
    (w * 5).sum().backward()
    assert fast().tolist() == [10.0, 10.0]
    assert "the .grad of a tensor of shape [2] changed" in capsys.readouterr().err


def test_setting_grad_inside_compiled_code_breaks_the_graph():
    model = nn.Linear(4, 3)
    fast = ember.compile(lambda: model.zero_grad() or model.weight * 2)
    for _ in range(3):
        model(ember.ones(1, 4)).sum().backward()
        fast()
        assert model.weight.grad is None
    (_, _, reason, what), = ember.compiler.graph_breaks(fast)
    assert ".grad is set inside the compiled code" in reason and what.startswith("it runs eagerly")


@pytest.mark.parametrize("make", [lambda p: ember.optim.AdamW(p, lr=0.01),
                                  lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9)])
def test_an_optimizer_step_inside_compiled_code_runs_eagerly(make):
    """A step updates raw arrays a graph does not record: it must not be replayed as a graph
    that does nothing (or applies the first step's gradients)."""
    optims = {}

    def step(model):
        optims.setdefault(id(model), make(model.parameters())).step()
    fast, diff = _train_pair(step)
    assert diff == 0.0
    (_, _, reason, what), = ember.compiler.graph_breaks(fast)
    assert "optimizer's step() is called inside the compiled code" in reason


def test_print_is_not_replaced_while_capturing():
    """print stays the builtin while a capture runs: a library imported meanwhile (numba
    registers print by name) must find it, and other threads print as usual."""
    import builtins
    seen = []
    fast = ember.compile(lambda x: seen.append(builtins.print) or x + 1)
    fast(ember.ones(1))
    assert seen == [print]


def test_a_scheduler_step_inside_compiled_code_happens_every_call():
    model = nn.Linear(2, 1)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fast = ember.compile(lambda: sched.step())
    for _ in range(3):
        opt.step()
        fast()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    assert "changed inside the compiled code" in ember.compiler.graph_breaks(fast)[0][2]


def test_a_learning_rate_read_from_an_optimizer_is_guarded():
    w = nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([w], lr=0.5)

    @ember.no_grad()
    def update():
        w.sub_(w.grad * opt.param_groups[0]["lr"])
    fast = ember.compile(update)
    (w * 2).sum().backward()
    fast()
    opt.param_groups[0]["lr"] = 0.25
    fast()
    assert w.tolist() == [-0.5, -0.5]


def test_requires_grad_inside_compiled_code_runs_eagerly():
    """Which tensors record gradients is fixed at capture: flipping an input's flag inside
    compiled code must happen on every call, not only when capturing."""
    def f(x):
        x.requires_grad_()
        return (x * x).sum()
    fast = ember.compile(f)
    for i in range(3):
        x = ember.ones(3) * (i + 1)
        fast(x).backward()
        assert x.grad.tolist() == [2.0 * (i + 1)] * 3
    assert "requires_grad_() is called" in ember.compiler.graph_breaks(fast)[0][2]


def test_parameters_and_submodules_replaced_under_a_compiled_function():
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    @ember.compile
    def scores(x):  # the module is a global the function names, not an argument
        return net(x).sum(-1)
    x = ember.randn(2, 4)
    assert ember.allclose(scores(x), net(x).sum(-1))
    net[0].weight = nn.Parameter(ember.zeros(8, 4))  # a parameter replaced
    assert ember.allclose(scores(x), net(x).sum(-1))
    net[0].bias = None
    assert ember.allclose(scores(x), net(x).sum(-1))
    net[2] = nn.Linear(8, 5)  # a submodule replaced by index
    assert ember.allclose(scores(x), net(x).sum(-1))
    net.add_module("squash", nn.Tanh())  # and one added
    assert ember.allclose(scores(x), net(x).sum(-1))
