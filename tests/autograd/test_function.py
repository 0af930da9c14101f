"""Custom autograd.Function: the same Function definitions run under torch and ember."""
import numpy as np
import pytest
import torch

import ember
from ember._ops import dispatch


def both(make):
    """Run `make(lib)` for torch and ember; returns (torch result, ember result)."""
    return make(torch), make(ember)


def close(ours, theirs, atol=1e-6):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), atol=atol,
                               rtol=1e-6)


def cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g
    return Cube


def scale(lib):
    """Non-tensor argument (passes through) plus arbitrary ctx attributes."""
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, *, shift=0.0):
            ctx.k = k
            return x * k + shift

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None
    return Scale


# ---- basics -------------------------------------------------------------------------------
def test_forward_backward_matches_torch():
    def run(lib):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = cube(lib).apply(x)
        y.sum().backward()
        return y, x.grad
    (ty, tg), (ey, eg) = both(run)
    close(ey, ty)
    close(eg, tg)


def test_grad_fn_name_and_edges():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = cube(ember).apply(x * 2)
    assert y.grad_fn.name() == "CubeBackward"
    assert type(y.grad_fn).__name__ == "CubeBackward"
    assert not y.is_leaf and y.requires_grad
    (child, nr), = y.grad_fn.next_functions
    assert child.name() == "MulBackward0" and nr == 0


def test_non_tensor_args_pass_through():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = scale(lib).apply(x, 3.0)
        y.sum().backward()
        return y, x.grad
    (ty, tg), (ey, eg) = both(run)
    close(ey, ty)
    close(eg, tg)


def test_keyword_arguments_reach_forward():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = scale(ember).apply(x, 3.0, shift=1.0)
    assert y.tolist() == [4.0, 7.0]
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_setup_context_binds_defaults_into_inputs():
    def run(lib):
        seen = []

        class Pow(lib.autograd.Function):
            @staticmethod
            def forward(x, p=2.0):
                return x ** p

            @staticmethod
            def setup_context(ctx, inputs, output):
                seen.append(len(inputs))
                ctx.save_for_backward(inputs[0])
                ctx.p = inputs[1]

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * ctx.p * x ** (ctx.p - 1), None
        x = lib.tensor([1.0, 3.0], requires_grad=True)
        Pow.apply(x).sum().backward()
        return x.grad, seen
    (tg, ts), (eg, es) = both(run)
    close(eg, tg)
    assert es == ts == [2]


def test_forward_runs_without_grad_and_sees_caller_tensors():
    seen = {}

    class Probe(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen["grad_enabled"] = ember.is_grad_enabled()
            seen["x"] = x
            y = x * 2
            seen["inner_requires_grad"] = y.requires_grad
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = ember.ones(2, requires_grad=True)
    Probe.apply(x)
    assert seen == {"grad_enabled": False, "x": x, "inner_requires_grad": False}
    assert ember.is_grad_enabled()


def test_no_record_without_grad():
    x = ember.ones(2)
    assert not cube(ember).apply(x).requires_grad
    xg = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = cube(ember).apply(xg)
    assert not y.requires_grad and y.grad_fn is None


def test_needs_input_grad():
    def run(lib):
        seen = []

        class N(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, flag):
                seen.append(tuple(ctx.needs_input_grad))
                return x + y

            @staticmethod
            def backward(ctx, g):
                seen.append(tuple(ctx.needs_input_grad))
                return g, None, None
        x = lib.ones(2, requires_grad=True)
        N.apply(x, lib.ones(2), True).sum().backward()
        with lib.no_grad():
            N.apply(x, lib.ones(2), True)
        return seen
    t, e = both(run)
    assert e == t == [(True, False, False)] * 3


def test_double_backward_through_custom_backward():
    def run(lib):
        x = lib.tensor([0.5, 1.5], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(cube(lib).apply(x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return g, gg
    (tg, tgg), (eg, egg) = both(run)
    close(eg, tg)
    close(egg, tgg)


def test_gradcheck_on_custom_function():
    x = ember.tensor([0.3, -0.7, 1.1], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(cube(ember).apply, (x,))


# ---- multiple outputs, non-tensor outputs -------------------------------------------------
def test_multiple_outputs_and_materialized_zero_grads():
    def run(lib):
        seen = []

        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, 5, x * 3

            @staticmethod
            def backward(ctx, g1, g_int, g2):
                seen.append((g1.tolist(), g_int, g2.tolist()))
                return g1 * 2 + g2 * 3
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, five, b = Two.apply(x)
        assert five == 5
        a.sum().backward()
        return a, b, x.grad, seen
    (ta, tb, tg, ts), (ea, eb, eg, es) = both(run)
    close(ea, ta)
    close(eb, tb)
    close(eg, tg)
    assert es == ts == [([1.0, 1.0], None, [0.0, 0.0])]
    assert ea.grad_fn is eb.grad_fn and (ea.output_nr, eb.output_nr) == (0, 1)


def test_set_materialize_grads_false():
    def run(lib):
        seen = []

        class M(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append(g2)
                return g1 * 2 if g2 is None else g1 * 2 + g2 * 3
        x = lib.tensor([1.0, -1.0], requires_grad=True)
        a, _ = M.apply(x)
        a.sum().backward()
        return x.grad, seen
    (tg, ts), (eg, es) = both(run)
    close(eg, tg)
    assert es == ts == [None]


def test_mark_non_differentiable():
    def run(lib):
        seen = []

        class Split(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                pos = x * 2
                ctx.mark_non_differentiable(pos)
                return pos, x * 3, (x > 0).long()

            @staticmethod
            def backward(ctx, g_pos, g, g_idx):
                seen.append((g_pos.tolist(), g_idx.tolist()))
                return g * 3
        x = lib.tensor([1.0, -1.0], requires_grad=True)
        pos, y, idx = Split.apply(x)
        flags = (pos.requires_grad, y.requires_grad, idx.requires_grad, str(idx.dtype))
        y.sum().backward()
        return flags, x.grad, seen
    (tf, tg, ts), (ef, eg, es) = both(run)
    assert ef == tf == (False, True, False, "torch.int64")
    close(eg, tg)
    assert es == ts


def test_single_non_tensor_output():
    class Count(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.numel()

        @staticmethod
        def backward(ctx, g):
            return None
    assert Count.apply(ember.ones(3, requires_grad=True)) == 3


# ---- inputs returned as-is, views ---------------------------------------------------------
def identity(lib):
    class Id(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2
    return Id


def test_input_returned_as_is_becomes_a_view():
    for make_leaf in (True, False):
        x = ember.ones(2, requires_grad=True)
        a = x if make_leaf else x * 1
        y = identity(ember).apply(a)
        assert y is not a
        assert y._base is a
        assert y._version == a._version
        assert y.grad_fn.name() == "IdBackward"
        y.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]


def test_input_returned_as_is_shares_version_counter():
    x = ember.ones(2, requires_grad=True)
    a = x * 1
    y = identity(ember).apply(a)
    a.mul_(2)
    assert y._version == a._version == 1


# ---- saved tensors ------------------------------------------------------------------------
def test_saved_output_unpacks_with_grad_fn():
    class Exp(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            assert y.grad_fn is not None and y.grad_fn.name() == "ExpBackward"
            return g * y
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    Exp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]), rtol=1e-6)


def test_saved_input_modified_in_place_raises():
    def run(lib):
        class S(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 2
        x = lib.tensor([1.0, -1.0], requires_grad=True)
        a = x * 1
        y = S.apply(a)
        a.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    both(run)


def test_saved_output_modified_in_place_raises():
    def run(lib):
        class E(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y
        x = lib.tensor([1.0, -1.0], requires_grad=True)
        y = E.apply(x)
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    both(run)


def test_saved_tensors_freed_after_backward():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = cube(lib).apply(x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()
        x.grad = None
        y = cube(lib).apply(x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return x.grad
    t, e = both(run)
    close(e, t)


def test_save_for_backward_rejects_non_tensors():
    def run(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x, 3)
                return x * 1
        with pytest.raises(TypeError, match="save_for_backward can only save variables, but "
                                            "argument 1 is of type int"):
            Bad.apply(lib.ones(2, requires_grad=True))
    both(run)


def test_save_none_and_intermediate():
    class F(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            s = x.sin()
            ctx.save_for_backward(None, s, x)
            return s * x

        @staticmethod
        def backward(ctx, g):
            none, s, x = ctx.saved_tensors
            assert none is None
            return g * (s + x * x.cos())
    x = ember.tensor([0.3, 1.2], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(F.apply, (x,))


# ---- in-place Functions (mark_dirty) -------------------------------------------------------
def dirty_double(lib):
    class DoubleInPlace(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2
    return DoubleInPlace


def test_mark_dirty_moves_input_onto_graph():
    def run(lib):
        x = lib.tensor([1.0, 3.0], requires_grad=True)
        a = x * 1
        v0 = a._version
        b = dirty_double(lib).apply(a)
        assert b is a
        assert a.grad_fn.name() == "DoubleInPlaceBackward"
        (a * a).sum().backward()
        return a, a._version - v0, x.grad
    (ta, tv, tg), (ea, ev, eg) = both(run)
    close(ea, ta)
    close(eg, tg)
    assert ev == tv


def test_mark_dirty_on_leaf_raises():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            dirty_double(lib).apply(x)
    both(run)


def test_mark_dirty_on_view_rebases_base():
    def run(lib):
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        base = x * 1
        dirty_double(lib).apply(base[1:3])
        (base * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return base, x.grad
    (tb, tg), (eb, eg) = both(run)
    close(eb, tb)
    close(eg, tg)


def test_mark_dirty_not_returned_raises():
    def run(lib):
        class Forgot(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.mark_dirty(x)
                return x * 2
        with pytest.raises(RuntimeError, match="marked as dirty during the forward method were "
                                               "not returned as output"):
            Forgot.apply(lib.ones(2, requires_grad=True) * 1)
    both(run)


# ---- setup_context style ------------------------------------------------------------------
def test_setup_context_style():
    def run(lib):
        class Mul(lib.autograd.Function):
            @staticmethod
            def forward(x, y):
                return x * y

            @staticmethod
            def setup_context(ctx, inputs, output):
                x, y = inputs
                ctx.save_for_backward(x, y)
                ctx.out_shape = tuple(output.shape)

            @staticmethod
            def backward(ctx, g):
                x, y = ctx.saved_tensors
                assert ctx.out_shape == (2,)
                return g * y, g * x
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.tensor([3.0, -4.0], requires_grad=True)
        Mul.apply(x, y).sum().backward()
        return x.grad, y.grad
    (tx, ty), (ex, ey) = both(run)
    close(ex, tx)
    close(ey, ty)


def test_vjp_instead_of_backward():
    class V(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 5

        @staticmethod
        def vjp(ctx, g):
            return g * 5
    x = ember.ones(2, requires_grad=True)
    V.apply(x).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


# ---- errors from backward -----------------------------------------------------------------
def test_wrong_number_of_grads():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            scale_one(lib).apply(x, 2).sum().backward()
        return str(info.value)
    t, e = both(run)
    assert e == t == ("function ScaleBackward returned an incorrect number of gradients "
                      "(expected 2, got 1)")


def scale_one(lib):
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k
    return Scale


def test_extra_none_grads_are_allowed():
    def run(lib):
        class Ex(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, None
        x = lib.ones(2, requires_grad=True)
        Ex.apply(x).sum().backward()
        return x.grad
    t, e = both(run)
    close(e, t)


def test_grad_for_non_tensor_input_raises():
    def run(lib):
        class G(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g, g
        with pytest.raises(RuntimeError) as info:
            G.apply(lib.ones(3, requires_grad=True), 2).sum().backward()
        return str(info.value)
    t, e = both(run)
    assert e == t


def test_invalid_grad_shape_raises():
    def run(lib):
        class H(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.sum(0)

            @staticmethod
            def backward(ctx, g):
                return g[:1]
        with pytest.raises(RuntimeError) as info:
            H.apply(lib.ones(3, 2, requires_grad=True)).sum().backward()
        return str(info.value)
    t, e = both(run)
    assert e == t


def test_broadcast_grad_is_reduced_and_cast():
    def run(lib):
        class Bc(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g.expand(3, 2).to(lib.float64)
        x = lib.ones(2, requires_grad=True)
        Bc.apply(x).sum().backward()
        return x.grad
    t, e = both(run)
    assert str(e.dtype) == str(t.dtype) == "torch.float32"
    close(e, t)


def test_non_tensor_grad_raises():
    class Sc(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return 3.0
    with pytest.raises(RuntimeError, match="expected Variable or None"):
        Sc.apply(ember.ones(2, requires_grad=True)).sum().backward()


def test_missing_backward_and_forward():
    class NoBackward(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2
    with pytest.raises(NotImplementedError, match="backward or vjp"):
        NoBackward.apply(ember.ones(2, requires_grad=True)).sum().backward()

    class NoForward(ember.autograd.Function):
        pass
    with pytest.raises(NotImplementedError, match="forward function"):
        NoForward.apply(ember.ones(2))


def test_legacy_instance_call_raises():
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        cube(ember)()(ember.ones(2))


def test_forward_errors_propagate_unchanged():
    class Fails(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            raise ValueError("bad input for Fails")
    with pytest.raises(ValueError, match="^bad input for Fails$"):
        Fails.apply(ember.ones(2))


# ---- once_differentiable ------------------------------------------------------------------
def once(lib):
    from_mod = lib.autograd.function.once_differentiable

    class Sq(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @from_mod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not lib.is_grad_enabled()
            return 2 * x * g
    return Sq


def test_once_differentiable_first_order():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        once(lib).apply(x).sum().backward()
        return x.grad
    t, e = both(run)
    close(e, t)


def test_once_differentiable_double_backward_raises():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = once(lib).apply(x)
        g_out = lib.ones(2, requires_grad=True)
        (g,) = lib.autograd.grad(y, x, g_out, create_graph=True)
        assert g.requires_grad
        with pytest.raises(RuntimeError, match="trying to differentiate twice a function that "
                                               "was marked with @once_differentiable"):
            g.sum().backward()
    both(run)


# ---- goes through apply like any op -------------------------------------------------------
def test_custom_function_is_seen_by_apply_observers():
    seen = []

    def observe(op, args, attrs, outputs):
        seen.append(op.name)

    dispatch.observers.append(observe)
    try:
        x = ember.ones(2, requires_grad=True)
        cube(ember).apply(x)
    finally:
        dispatch.observers.remove(observe)
    assert "Cube" in seen and "pow" in seen


def test_opdef_is_built_once_and_not_registered():
    from ember._ops.registry import REGISTRY
    Cube = cube(ember)
    x = ember.ones(2, requires_grad=True)
    a, b = Cube.apply(x), Cube.apply(x)
    assert type(a.grad_fn) is type(b.grad_fn)
    assert "Cube" not in REGISTRY


def test_opdef_forward_replays_from_raw_arrays():
    Cube = cube(ember)
    Cube.apply(ember.ones(1))
    op = Cube._opdef
    from ember.autograd.graph import Context
    out = op.forward(Context(), np, np.array([2.0]))
    assert out.tolist() == [8.0]


def test_nested_custom_functions():
    def run(lib):
        class Outer(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return cube(lib).apply(x) + 1

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x * x
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = Outer.apply(x)
        y.sum().backward()
        return y, x.grad
    (ty, tg), (ey, eg) = both(run)
    close(ey, ty)
    close(eg, tg)


def test_anomaly_traceback_points_at_custom_function_call():
    class NanBack(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")
    x = ember.ones(2, requires_grad=True)
    with pytest.warns(UserWarning), ember.autograd.detect_anomaly():
        y = NanBack.apply(x)  # the forward line the error shows
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    msg = str(info.value)
    assert "Function 'NanBackBackward' returned nan values in its 0th output" in msg
    assert "y = NanBack.apply(x)  # the forward line the error shows" in msg
