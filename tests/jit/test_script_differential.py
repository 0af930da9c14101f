"""ember.jit.script against torch.jit.script on the same source (tests/jit/script_programs.py,
loaded once with PyTorch and once with ember as `torch`): scripted ember matches eager ember,
eager PyTorch and scripted PyTorch (values, dtypes, shapes and Python number types), its
gradients match eager's, and it survives save/load. Each case here is a bug such a
comparison found."""
import importlib.util
import os
import re

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
              pytest.mark.filterwarnings("ignore::ember.jit.TracerWarning")]

_SOURCE = os.path.join(os.path.dirname(__file__), "script_programs.py")


def _load(lib, name: str):
    spec = importlib.util.spec_from_file_location(f"_script_programs_{name}", _SOURCE)
    module = importlib.util.module_from_spec(spec)
    module._LIB = lib
    spec.loader.exec_module(module)
    return module


OURS, THEIRS = _load(ember, "ember"), _load(torch, "torch")


def _to(lib, obj, grad=False):
    """numpy arrays as tensors of `lib` (float ones requiring grad when asked), nested."""
    if isinstance(obj, np.ndarray):
        t = lib.tensor(obj)
        return t.requires_grad_(True) if grad and obj.dtype.kind == "f" else t
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(lib, o, grad) for o in obj)
    if isinstance(obj, dict):
        return {k: _to(lib, v, grad) for k, v in obj.items()}
    return obj


def _leaves(obj):
    """The leaves of a result with its structure: containers as (type, length or keys)."""
    if isinstance(obj, dict):
        return [("dict", list(obj))] + [x for v in obj.values() for x in _leaves(v)]
    if isinstance(obj, (list, tuple)):
        return [(type(obj).__name__, len(obj))] + [x for v in obj for x in _leaves(v)]
    return [obj]


def _same(got, want) -> None:
    got, want = _leaves(got), _leaves(want)
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        if isinstance(w, (torch.Tensor, ember.Tensor)):
            assert isinstance(g, ember.Tensor), (g, w)
            assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape), (g, w)
            np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-5,
                                       atol=1e-6)
        else:
            assert type(g) is type(w) and g == w, (g, w)


def _grads(result, inputs):
    """d(sum of the result's float tensors)/d(each input requiring grad); [] when no output
    requires grad."""
    outs = [t for t in _leaves(result) if isinstance(t, ember.Tensor) and t.requires_grad]
    if not outs:
        return []
    sum(o.sum() for o in outs).backward()
    return [t.grad for t in _leaves(inputs) if isinstance(t, ember.Tensor) and t.requires_grad]


def _differential(name: str, calls: list, tmp_path, torch_script: bool = True) -> None:
    """Script `name` from both modules and run each (args, kwargs) of `calls` through all four
    ways; then through the saved and loaded ember script, and backward."""
    ours = ember.jit.script(getattr(OURS, name))
    theirs = torch.jit.script(getattr(THEIRS, name)) if torch_script else None
    for args, kwargs in calls:
        got = ours(*_to(ember, args), **_to(ember, kwargs))
        _same(got, getattr(OURS, name)(*_to(ember, args), **_to(ember, kwargs)))
        _same(got, getattr(THEIRS, name)(*_to(torch, args), **_to(torch, kwargs)))
        if theirs is not None:
            _same(got, theirs(*_to(torch, args), **_to(torch, kwargs)))
        path = str(tmp_path / f"{name}.pt")
        ours.save(path)
        _same(ember.jit.load(path)(*_to(ember, args), **_to(ember, kwargs)), got)
        inputs = _to(ember, (args, kwargs), grad=True)
        if any(isinstance(t, ember.Tensor) and t.requires_grad for t in _leaves(inputs)):
            want = _grads(getattr(OURS, name)(*inputs[0], **inputs[1]), inputs)
            inputs = _to(ember, (args, kwargs), grad=True)
            _same(_grads(ours(*inputs[0], **inputs[1]), inputs), want)


X = np.array([[1.5, -0.5, 0.25], [0.75, -2.0, 1.0]], dtype=np.float32)

CASES = {
    # returning on both paths of a tensor condition picks the taken path's value
    "return_under_tensor_condition": [((X,), {}), ((-X - 3,), {})],
    # float(t), int(t) and t.item() are numbers: no gradient flows through them
    "clamp_to_own_range": [((X,), {}), ((X * 3 - 1,), {})],
    # a raise after other statements in a branch (also in a helper, or in a loop) fails only
    # the calls that reach it; it used to fail compiling whenever the branch was compiled
    "raise_after_work": [((X,), {})],
    "raise_in_helper": [((-X - 3,), {})],
    "raise_in_while": [((X - 1,), {}), ((X + 8,), {})],
    # a tensor written in place under a tensor condition (also inside a loop) holds the
    # if's result for every name that refers to it; it used to fail compiling
    "fill_positive_rows": [((X,), {})],
    "write_in_both_branches": [((X,), {}), ((-X,), {})],
    "signed_row_sum": [((X,), {}), ((X - 1,), {})],
    # augmented assignment to items of tensors, lists and dicts (it was refused)
    "add_into_items": [((X,), {})],
    # control flow on number arguments that a graph cannot hold (None or a tensor; a list
    # growing by a number of steps) compiles a graph per value of them (it was refused, and
    # `return None` came back as zeros)
    "maybe_none": [((X, True), {}), ((X, False), {}), ((X,), {"skip": True})],
    "scaled_copies": [((X, 2), {}), ((X, 0), {}), ((X, 2), {})],
    "halvings": [((X, 3), {}), ((X, 0), {})],
}

# (name, args that reach the raise, message)
RAISING = [("raise_after_work", (X + 100,), "RuntimeError: too big: 2"),
           ("raise_in_helper", (X,), "ValueError: want a vector"),
           ("raise_in_while", (X - 10,), "RuntimeError: no convergence")]


@pytest.mark.parametrize("name", list(CASES))
def test_scripted_matches_eager_and_torch(name, tmp_path):
    _differential(name, CASES[name], tmp_path)


@pytest.mark.parametrize("name, what", [("none_or_tensor_by_tensor", "NoneType and Tensor"),
                                        ("rows_by_tensor", "Float(1, 3) and Float(2, 3)")])
def test_return_values_a_graph_cannot_merge_are_refused(name, what):
    # they used to come back as zeros from the path not taken; torch types them Optional or
    # of dynamic shape, which a graph of sized tensors cannot hold
    scripted = ember.jit.script(getattr(OURS, name))
    message = rf"(?s)the return value different types {re.escape(f'({what})')}.*if x.sum\(\) > 0:"
    with pytest.raises(ember.jit.NotSupportedError, match=message):
        scripted(ember.tensor(X))


@pytest.mark.parametrize("name, args, message", RAISING, ids=[r[0] for r in RAISING])
def test_a_raise_in_a_tensor_dependent_block_fails_the_calls_that_reach_it(name, args, message):
    ours = ember.jit.script(getattr(OURS, name))
    ours(*_to(ember, CASES[name][0][0]))  # compiled on a call that does not raise
    with pytest.raises(ember.jit.Error, match=re.escape(message)):
        ours(*_to(ember, args))
    with pytest.raises(torch.jit.Error, match=re.escape(message.split(": ")[1])):
        torch.jit.script(getattr(THEIRS, name))(*_to(torch, args))
    with pytest.raises(Exception, match=re.escape(message.split(": ")[1])):
        getattr(OURS, name)(*_to(ember, args))


def test_an_unused_method_under_a_flag_fails_only_when_called(tmp_path):
    torch.manual_seed(0)
    theirs = THEIRS.UnusedUnderFlag()
    ours = OURS.UnusedUnderFlag()
    ours.load_state_dict({k: ember.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    scripted, x = ember.jit.script(ours), X.copy()
    _same(scripted(ember.tensor(x)), torch.jit.script(theirs)(torch.tensor(x)))
    with pytest.raises(torch.jit.Error):
        torch.jit.script(theirs)(torch.tensor(x), True)
    with pytest.raises(ember.jit.Error, match="debug is marked @ember.jit.unused"):
        scripted(ember.tensor(x), True)
    scripted.save(str(tmp_path / "m.pt"))
    loaded = ember.jit.load(str(tmp_path / "m.pt"))
    _same(loaded(ember.tensor(x)), scripted(ember.tensor(x)))
    with pytest.raises(ember.jit.Error, match="debug is marked @ember.jit.unused"):
        loaded(ember.tensor(x), True)


def test_a_buffer_written_under_a_tensor_condition_saves_and_loads(tmp_path):
    eager, scripted = OURS.CountsPositive(), ember.jit.script(OURS.CountsPositive())
    inputs = [ember.tensor(a) for a in (X, -X, X, X)]
    for x in inputs[:2]:
        _same(scripted(x), eager(x))
    scripted.save(str(tmp_path / "m.pt"))  # the if node has no outputs: it failed to load
    loaded = ember.jit.load(str(tmp_path / "m.pt"))
    for x in inputs[2:]:
        _same(loaded(x), eager(x))
    _same(loaded.count, eager.count)


def test_sizes_and_counts_come_back_as_python_ints_and_print_as_code(tmp_path):
    scripted, x = ember.jit.script(OURS.sizes_and_count), ember.tensor(X)
    got = scripted(x)  # x.size() used to fail: only tensors could be outputs
    assert got == ((2, 3), (3,), 1) and type(got[2]) is int
    assert got == OURS.sizes_and_count(x)
    assert [list(s) if isinstance(s, tuple) else s for s in got] == \
        list(torch.jit.script(THEIRS.sizes_and_count)(torch.tensor(X)))
    code = scripted.code  # number outputs used to break it
    assert "int(" in code and "return (" in code
    scripted.save(str(tmp_path / "f.pt"))
    loaded = ember.jit.load(str(tmp_path / "f.pt"))
    assert loaded(x) == got and "int(" in loaded.code
    # the sizes are constants of this graph: other shapes are refused, not answered wrongly
    with pytest.raises(RuntimeError, match="keeps sizes computed from them"):
        loaded(ember.ones(5, 3))


def test_a_graph_specialized_on_a_number_argument_refuses_other_values_after_loading(tmp_path):
    scripted, x = ember.jit.script(OURS.scaled_copies), ember.tensor(X)
    for n in (2, 3):
        _same(scripted(x, n), OURS.scaled_copies(x, n))
    assert len({id(m) for m in scripted._script.graphs.values()}) == 2
    scripted.save(str(tmp_path / "f.pt"))  # the graph of the last call, n=3
    loaded = ember.jit.load(str(tmp_path / "f.pt"))
    _same(loaded(x, 3), OURS.scaled_copies(x, 3))
    with pytest.raises(RuntimeError, match="was scripted for n=3, not 2"):
        loaded(x, 2)


def test_round_of_number_arguments_is_pythons():
    """round() of int and float arguments follows Python (half to even; an int without
    ndigits; negative ndigits for ints), at every call's values."""
    def f(x, a: float, n: int):
        return x * round(a) + round(a, 2) + round(n, -2) + round(n)

    scripted = ember.jit.script(f)
    for a, n in ((2.567, 1250), (2.5, 1350), (-3.5, -49), (0.125, 7)):
        np.testing.assert_allclose(scripted(ember.ones(2), a, n).numpy(),
                                   f(ember.ones(2), a, n).numpy(), rtol=1e-6)


def test_strings_are_formatted_with_each_calls_values_as_torchscript(tmp_path):
    """f-strings, % and str.format with numbers computed from tensors, number arguments and
    sizes give torch.jit.script's text on every call (floats as TorchScript prints them),
    also after save and load; they used to fail to compile or be returned as the source."""
    ours = ember.jit.script(OURS.describe)
    theirs = torch.jit.script(THEIRS.describe)
    for args in ((X, 3, 2.0), (X * 3, -1, 0.1), (X - 7, 0, 1e-8)):
        got = ours(*_to(ember, args))
        assert got == theirs(*_to(torch, args))
        path = str(tmp_path / "describe.pt")
        ours.save(path)
        assert ember.jit.load(path)(*_to(ember, args)) == got
    assert "render(" in ours.code


def test_raise_and_assert_messages_show_each_calls_values(tmp_path):
    ours = ember.jit.script(OURS.check_total)
    theirs = torch.jit.script(THEIRS.check_total)
    _same(ours(ember.tensor(X), 100.0), theirs(torch.tensor(X), 100.0))
    ours.save(str(tmp_path / "check.pt"))
    loaded = ember.jit.load(str(tmp_path / "check.pt"))
    for run in (ours, loaded):
        for limit, shown in ((1.0, "1."), (2.5, "2.5")):
            with pytest.raises(torch.jit.Error) as want:
                theirs(torch.tensor(X), limit)
            message = want.value.args[0].strip().splitlines()[-1].split("builtins.")[1]
            assert message == f"ValueError: total 6. above {shown} for [2, 3]"
            with pytest.raises(ember.jit.Error, match=re.escape(message) + "$"):
                run(ember.tensor(X), limit)
        with pytest.raises(AssertionError, match=r"^total 0 is not positive$"):
            run(ember.tensor(X * 0), 1.0)


def test_a_returned_size_in_text_is_never_baked_in(tmp_path):
    def f(x):
        return f"rows={x.size(0)}"

    scripted = ember.jit.script(f)
    assert [scripted(ember.ones(n, 2)) for n in (2, 3, 5)] == ["rows=2", "rows=3", "rows=5"]
    scripted.save(str(tmp_path / "f.pt"))
    with pytest.raises(RuntimeError, match="keeps sizes computed from them"):
        ember.jit.load(str(tmp_path / "f.pt"))(ember.ones(4, 2))


def test_format_errors_are_compile_errors():
    def f(x, k: int):
        return "{} {} {}".format(k, x.size(0))  # noqa: F524 - one argument short

    with pytest.raises(ember.jit.NotSupportedError, match="formatting failed: IndexError"):
        ember.jit.script(f)(ember.ones(2), 3)


def test_a_string_computed_from_tensors_under_a_tensor_condition_is_refused_by_name():
    def f(x):
        if bool(x.sum() > 0):
            msg = f"positive {x.sum().item()}"
        else:
            msg = "negative"
        return msg

    with pytest.raises(ember.jit.NotSupportedError,
                       match=r"different types \(str computed from tensors and str\)"):
        ember.jit.script(f)(ember.ones(2))
