"""ember.utils.checkpoint against torch.utils.checkpoint: gradients, recomputation counts,
RNG replay, memory, warnings and errors, for the reentrant and non-reentrant forms.

ember's random streams are not torch's (see ember/_ops/random.py), so comparisons with torch
use dropout p=0; dropout masks are checked between ember's own forward and recompute."""
import contextlib
import gc
import warnings
import weakref

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tcp

import ember
import ember.utils.checkpoint as ecp
from ember.utils.checkpoint import checkpoint as ember_checkpoint

FORMS = [True, False]
LIBS = {"ember": (ember, ecp), "torch": (torch, tcp)}


def close(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=atol,
                               rtol=1e-7)


def mlp(lib, p):
    """A small MLP with dropout; weights from a fixed torch seed, shared by both libraries."""
    torch.manual_seed(0)
    layers = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Dropout(p),
                                 torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Dropout(p),
                                 torch.nn.Linear(8, 3)).double()
    if lib is torch:
        return layers
    model = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.GELU(), ember.nn.Dropout(p),
                                ember.nn.Linear(8, 8), ember.nn.Tanh(), ember.nn.Dropout(p),
                                ember.nn.Linear(8, 3)).double()
    return load_from_torch(model, layers)


def load_from_torch(model, reference):
    model.load_state_dict({k: ember.tensor(v.detach().numpy())
                           for k, v in reference.state_dict().items()})
    return model


def transformer_block(lib):
    torch.manual_seed(1)
    block = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).double()
    if lib is torch:
        return block
    ours = ember.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).double()
    return load_from_torch(ours, block)


def data(lib, *shape):
    return lib.tensor(np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape),
                      dtype=lib.float64, requires_grad=True)


def all_grads(x, model) -> list:
    """The gradient of the input, then of each parameter."""
    return [x.grad] + [p.grad for p in model.parameters()]


def run_model(name, make, shape, use_reentrant, checkpointed=True):
    lib, cp = LIBS[name]
    model = make(lib)
    x = data(lib, *shape)
    if checkpointed:
        out = cp.checkpoint(model, x, use_reentrant=use_reentrant)
    else:
        out = model(x)
    out.pow(2).sum().backward()
    return out, all_grads(x, model)


@pytest.mark.parametrize("use_reentrant", FORMS)
@pytest.mark.parametrize("make,shape", [(lambda lib: mlp(lib, 0.0), (4, 6)),
                                        (transformer_block, (2, 3, 8))],
                         ids=["mlp", "transformer_block"])
def test_grads_equal_unchecked_and_torch(make, shape, use_reentrant):
    out, ours = run_model("ember", make, shape, use_reentrant)
    plain_out, plain = run_model("ember", make, shape, use_reentrant, checkpointed=False)
    ref_out, theirs = run_model("torch", make, shape, use_reentrant)
    close(out, ref_out)
    np.testing.assert_array_equal(np.asarray(out.detach()), np.asarray(plain_out.detach()))
    assert len(ours) == len(theirs)
    for o, p, t in zip(ours, plain, theirs):
        np.testing.assert_allclose(np.asarray(o), np.asarray(p), rtol=1e-12, atol=1e-14)
        close(o, t)


@pytest.mark.parametrize("use_reentrant", FORMS)
def test_dropout_mask_is_replayed_in_the_recomputation(use_reentrant):
    def run(checkpointed, preserve=True):
        model = mlp(ember, 0.5)
        x = data(ember, 4, 6)
        ember.manual_seed(123)
        if checkpointed:
            out = ember_checkpoint(model, x, use_reentrant=use_reentrant,
                                   preserve_rng_state=preserve)
        else:
            out = model(x)
        out.pow(2).sum().backward()
        after = ember.rand(3)  # the stream continues as if nothing was recomputed
        return out, all_grads(x, model), after
    out, grads, after = run(True)
    plain_out, plain_grads, plain_after = run(False)
    np.testing.assert_array_equal(np.asarray(out.detach()), np.asarray(plain_out.detach()))
    for g, p in zip(grads, plain_grads):
        np.testing.assert_allclose(np.asarray(g), np.asarray(p), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.asarray(after), np.asarray(plain_after))
    _, unpreserved, _ = run(True, preserve=False)
    assert not all(np.allclose(np.asarray(g), np.asarray(p))
                   for g, p in zip(unpreserved, plain_grads))


@pytest.mark.parametrize("use_reentrant", FORMS)
def test_forward_runs_again_once_per_backward(use_reentrant):
    def counts(name):
        lib, cp = LIBS[name]
        x = data(lib, 3)
        calls = [0]

        def f(a):
            calls[0] += 1
            return a.sin().exp()
        out = cp.checkpoint(f, x, use_reentrant=use_reentrant)
        first = calls[0]
        out.sum().backward(retain_graph=True)
        second = calls[0]
        out.sum().backward()
        with lib.no_grad():
            cp.checkpoint(f, x, use_reentrant=use_reentrant)
        return first, second, calls[0], x.grad
    ours, theirs = counts("ember"), counts("torch")
    assert ours[:3] == theirs[:3] == (1, 2, 4)
    close(ours[3], theirs[3])


def _intermediates(weak):
    def f(a):
        b = a.sin()
        c = b.sin()  # saves b
        weak.extend([weakref.ref(b._data), weakref.ref(c._data)])
        return c.sin()  # saves c
    return f


@pytest.mark.parametrize("use_reentrant", FORMS + [None])
def test_segment_intermediates_are_not_kept(use_reentrant):
    x = data(ember, 64)
    weak = []
    f = _intermediates(weak)
    if use_reentrant is None:
        out = f(x)  # without checkpointing both arrays stay alive for backward
    else:
        out = ember_checkpoint(f, x, use_reentrant=use_reentrant)
    gc.collect()
    alive = [w() is not None for w in weak]
    assert alive == ([True, True] if use_reentrant is None else [False, False])
    out.sum().backward()
    reference = torch.tensor(np.asarray(x.detach()), requires_grad=True)
    reference.sin().sin().sin().sum().backward()
    close(x.grad, reference.grad)


def test_non_reentrant_saves_nothing_through_outer_hooks():
    """The segment's ops save into the checkpoint's own hooks: an outer counting hook sees only
    the ops outside the segment, as in torch."""
    def count(name, checkpointed):
        lib, cp = LIBS[name]
        x = data(lib, 5)
        calls = [0]
        with lib.autograd.graph.saved_tensors_hooks(lambda t: calls.__setitem__(0, calls[0] + 1)
                                                    or t, lambda t: t):
            def seg(a):
                return (a.sin() * a).exp()
            h = cp.checkpoint(seg, x, use_reentrant=False) if checkpointed else seg(x)
            out = h.tanh().sum()
        out.backward()
        return calls[0], x.grad
    for checkpointed in (False, True):
        (ours, ogx), (theirs, tgx) = count("ember", checkpointed), count("torch", checkpointed)
        assert ours == theirs
        close(ogx, tgx)
    assert count("ember", True)[0] == 2  # the checkpoint's input and tanh's output


def test_use_reentrant_must_be_explicit():
    for name in LIBS:
        lib, cp = LIBS[name]
        x = data(lib, 3)
        with pytest.warns(UserWarning, match="use_reentrant parameter should be passed "
                                             "explicitly"):
            out = cp.checkpoint(lambda a: a.sin(), x)
        assert "CheckpointFunctionBackward" in type(out.grad_fn).__name__  # default: reentrant
        with pytest.warns(UserWarning, match="checkpoint_sequential: the use_reentrant"):
            cp.checkpoint_sequential([lib.nn.Tanh(), lib.nn.Tanh()], 2, x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cp.checkpoint(lambda a: a.sin(), x, use_reentrant=False)


def test_reentrant_without_input_grads_warns_and_gives_no_grad():
    for name in LIBS:
        lib, cp = LIBS[name]
        x = lib.ones(3)
        with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. "
                                             "Gradients will be None"):
            out = cp.checkpoint(lambda a: a.sin(), x, use_reentrant=True)
        assert not out.requires_grad


@pytest.mark.parametrize("name", sorted(LIBS))
def test_argument_errors(name):
    lib, cp = LIBS[name]
    x = data(lib, 3)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        cp.checkpoint(lambda a, foo: a, x, use_reentrant=True, foo=1)
    with pytest.raises(ValueError, match="`context_fn` or `debug` is only supported when "
                                         "use_reentrant=False"):
        cp.checkpoint(lambda a: a, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match=r"determinism_check should be one of \['default', "
                                         r"'none'\], but got foo"):
        cp.checkpoint(lambda a: a, x, use_reentrant=False, determinism_check="foo")
    with pytest.raises(ValueError, match="Unexpected keyword arguments: bar"):
        cp.checkpoint_sequential([lib.nn.Tanh()], 1, x, use_reentrant=False, bar=2)


@pytest.mark.parametrize("name", sorted(LIBS))
def test_reentrant_refuses_grad_and_backward_inputs(name):
    lib, cp = LIBS[name]
    x = data(lib, 3)
    out = cp.checkpoint(lambda a: a.sin(), x, use_reentrant=True).sum()
    with pytest.raises(RuntimeError, match="incompatible with .grad\\(\\) or passing an "
                                           "`inputs` parameter"):
        lib.autograd.grad(out, x, retain_graph=True)
    with pytest.raises(RuntimeError, match="incompatible with .grad"):
        out.backward(inputs=[x])


def test_non_reentrant_works_with_grad_and_kwargs():
    def run(name):
        lib, cp = LIBS[name]
        x, w = data(lib, 2, 3), data(lib, 3, 3)
        out = cp.checkpoint(lambda a, weight, scale: (a @ weight).tanh() * scale, x,
                            use_reentrant=False, weight=w, scale=2.0)
        return lib.autograd.grad(out.sum(), (x, w))
    for o, t in zip(run("ember"), run("torch")):
        close(o, t)


@pytest.mark.parametrize("name", sorted(LIBS))
def test_non_deterministic_recomputation_is_caught(name):
    lib, cp = LIBS[name]
    x = data(lib, 3)
    calls = [0]

    def grows(a):
        calls[0] += 1
        return a.repeat(calls[0]).sin()
    with pytest.raises(cp.CheckpointError, match="Recomputed values for the following tensors "
                                                 "have different metadata"):
        cp.checkpoint(grows, x, use_reentrant=False).sum().backward()
    calls[0] = 0

    def fewer(a):
        calls[0] += 1
        b = a.sin()
        if calls[0] == 1:
            b = b.sin()
        return b.exp()
    with pytest.raises(cp.CheckpointError, match="A different number of tensors was saved "
                                                 "during the original forward and "
                                                 "recomputation"):
        cp.checkpoint(fewer, x, use_reentrant=False).sum().backward()
    assert issubclass(cp.CheckpointError, RuntimeError)


def test_debug_lists_the_ops_of_both_runs():
    x = data(ember, 3)
    calls = [0]

    def fewer(a):
        calls[0] += 1
        b = a.sin()
        if calls[0] == 1:
            b = b.cos()
        return b.exp()
    out = ember_checkpoint(fewer, x, use_reentrant=False, debug=True).sum()
    with pytest.raises(ecp.CheckpointError) as info:
        out.backward()
    message = str(info.value)
    forward, recomputed = message.split("Operations executed during recomputation:")
    assert "cos" in forward and "cos" not in recomputed and "exp" in recomputed
    calls[0] = 0
    with ecp.set_checkpoint_debug_enabled(True):
        out = ember_checkpoint(fewer, x, use_reentrant=False).sum()
    with pytest.raises(ecp.CheckpointError, match="Operations executed during the original"):
        out.backward()


def test_determinism_check_none_skips_the_metadata_comparison():
    x = data(ember, 3)
    calls = [0]

    def retyped(a):
        calls[0] += 1
        return (a.float() if calls[0] > 1 else a).sin()
    out = ember_checkpoint(retyped, x, use_reentrant=False, determinism_check="none")
    out.sum().backward()
    close(x.grad, torch.tensor(np.asarray(x.detach())).cos(), atol=1e-6)


def test_early_stop_skips_the_rest_of_the_segment():
    def run(name, early):
        lib, cp = LIBS[name]
        x = data(lib, 3)
        tail = [0]

        def f(a):
            b = a.sin()
            tail[0] += 1  # after the last op that saves anything
            return b + 1
        with cp.set_checkpoint_early_stop(early):
            out = cp.checkpoint(f, x, use_reentrant=False)
        out.sum().backward()
        return tail[0]
    for early in (True, False):
        assert run("ember", early) == run("torch", early) == (1 if early else 2)


def test_context_fn_wraps_forward_and_recomputation():
    entered = []

    @contextlib.contextmanager
    def mark(name):
        entered.append(name)
        yield

    x = data(ember, 3)
    out = ember_checkpoint(lambda a: a.sin(), x, use_reentrant=False,
                           context_fn=lambda: (mark("forward"), mark("recompute")))
    assert entered == ["forward"]
    out.sum().backward()
    assert entered == ["forward", "recompute"]


@pytest.mark.parametrize("use_reentrant", FORMS)
def test_tuple_and_non_tensor_outputs(use_reentrant):
    def run(name):
        lib, cp = LIBS[name]
        x, w = data(lib, 3), data(lib, 3)

        def f(a, scale, b):
            return a.sin() * scale, "tag", (a * b).exp()
        y, tag, z = cp.checkpoint(f, x, 3.0, w, use_reentrant=use_reentrant)
        assert tag == "tag"
        (y.sum() + z.sum()).backward()
        return x.grad, w.grad
    for o, t in zip(run("ember"), run("torch")):
        close(o, t)


def test_gradcheck_through_checkpoint():
    """Non-reentrant only: gradcheck uses autograd.grad, which the reentrant form refuses."""
    x, w = data(ember, 2, 3), data(ember, 3, 2)

    def f(a, b):
        return ember_checkpoint(lambda p, q: (p @ q).tanh().exp(), a, b, use_reentrant=False)
    assert ember.autograd.gradcheck(f, (x, w))


def test_nested_non_reentrant_checkpoints():
    def run(name):
        lib, cp = LIBS[name]
        x = data(lib, 4)

        def inner(a):
            return a.sin().exp()

        def outer(a):
            return cp.checkpoint(inner, a.tanh(), use_reentrant=False).cos()
        cp.checkpoint(outer, x, use_reentrant=False).sum().backward()
        return x.grad
    close(run("ember"), run("torch"))


@pytest.mark.parametrize("use_reentrant", FORMS)
def test_checkpoint_sequential(use_reentrant):
    def run(name, segments, as_list):
        lib, cp = LIBS[name]
        model = mlp(lib, 0.0)
        calls = [0]
        for m in model:
            m.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
        x = data(lib, 4, 6)
        functions = list(model) if as_list else model
        out = cp.checkpoint_sequential(functions, segments, x, use_reentrant=use_reentrant)
        out.pow(2).sum().backward()
        return calls[0], all_grads(x, model)
    for segments, as_list in ((1, False), (2, True), (3, False)):
        ours, ogs = run("ember", segments, as_list)
        theirs, tgs = run("torch", segments, as_list)
        assert ours == theirs
        for o, t in zip(ogs, tgs):
            close(o, t)


def test_importable_as_torch_is():
    from ember.utils.checkpoint import checkpoint, checkpoint_sequential  # noqa: F401
    assert ember.utils.checkpoint.checkpoint is checkpoint


def test_save_on_cpu_around_a_checkpoint():
    """The checkpoint's inputs go through the outer hooks; the segment's saves do not."""
    def run(name):
        lib, cp = LIBS[name]
        x = data(lib, 2, 3)
        with lib.autograd.graph.save_on_cpu():
            out = cp.checkpoint(lambda a: (a.sin() * a).exp(), x * 2, use_reentrant=False)
        out.sum().backward()
        return x.grad
    close(run("ember"), run("torch"))
