"""Recurrent layers: torch's functional RNN core (`lstm`, `gru`, `rnn_tanh`, `rnn_relu` and their
`*_cell` forms), the code behind nn.RNN/LSTM/GRU and their cells.

The input projection of every time step is one matmul per layer and direction; the time loop
then runs as one primitive, `rnn_layer`, whose forward walks the steps on raw arrays and whose
backward (`rnn_layer_backward`) runs backpropagation through time as one more array kernel.
When a graph is being built during backward (`create_graph=True`), the same step equations run
on ember Tensors instead, so higher-order gradients work. The equations are written once, over
a small math interface (`_ArrayMath` for arrays, `_TensorMath` for Tensors).

Time steps may hold fewer rows as the sequence goes on (packed sequences, sorted by decreasing
length): `batch_sizes[t]` rows are active at step t, and the rows of time step t follow those of
step t - 1 in the 2-d `xg` input. A row that is not active keeps its hidden state.
"""
from __future__ import annotations


from .._backend import gemm
from .._tensor import Tensor
from ..autograd.grad_mode import GradState
from ..testing.opinfo import Arg, Sample
from .dispatch import apply
from .linalg import addmm, mm
from .random import DropoutNoise
from .registry import OpDef, register
from .shape import cat, stack

__all__ = ["rnn_tanh", "rnn_relu", "lstm", "gru", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell",
           "gru_cell"]

# ---- the step equations, over arrays or Tensors ---------------------------------------------
class _ArrayMath:
    """Step math on raw NumPy/CuPy arrays (the fast path)."""

    def __init__(self, xp):
        self.xp = xp

    def mm_t(self, a, w):
        return gemm.matmul(self.xp, a, w.T)

    def mm(self, a, w):
        return a @ w

    def sigmoid(self, x):
        e = self.xp.exp(-x)
        e += 1
        return self.xp.reciprocal(e, out=e)

    def tanh(self, x):
        return self.xp.tanh(x)

    def relu(self, x):
        return self.xp.maximum(x, 0)

    def chunk(self, x, n):
        size = x.shape[1] // n
        return [x[:, k * size:(k + 1) * size] for k in range(n)]

    def cat(self, xs, dim):
        return self.xp.concatenate(xs, axis=dim)

    def split_rows(self, x, sizes):
        out, start = [], 0
        for b in sizes:
            out.append(x[start:start + b])
            start += b
        return out

    def head(self, state, b):
        return state if b == state.shape[0] else state[:b]

    def merge(self, new, state):
        b = new.shape[0]
        return new if b == state.shape[0] else self.xp.concatenate([new, state[b:]])

    def grad_mm(self, g, x):
        """g^T x: a weight gradient summed over all rows."""
        return g.T @ x

    def sum_rows(self, g):
        return g.sum(axis=0)


class _TensorMath:
    """The same math in ember ops, for differentiable gradients (create_graph=True)."""

    def mm_t(self, a, w):
        return a.matmul(w.t())

    def mm(self, a, w):
        return a.matmul(w)

    def sigmoid(self, x):
        return x.sigmoid()

    def tanh(self, x):
        return x.tanh()

    def relu(self, x):
        return x.relu()

    def chunk(self, x, n):
        return list(x.chunk(n, 1))

    def cat(self, xs, dim):
        return xs[0] if len(xs) == 1 else cat(xs, dim)

    def split_rows(self, x, sizes):
        return list(x.split(list(sizes))) if len(sizes) > 1 else [x]

    def head(self, state, b):
        return state if b == state.shape[0] else state[:b]

    def merge(self, new, state):
        b = new.shape[0]
        return new if b == state.shape[0] else self.cat([new, state[b:]], 0)

    def grad_mm(self, g, x):
        return g.t().matmul(x)

    def sum_rows(self, g):
        return g.sum(0)


def _rnn_step(K, relu, x, h, c, w_hh, b_hh, w_hr):
    a = x + K.mm_t(h, w_hh)
    y = K.relu(a) if relu else K.tanh(a)
    return y, None, (y, h)


def _rnn_step_grad(K, relu, tape, dh, dc, w_hh, w_hr):
    y, _ = tape
    da = dh * (y > 0) if relu else dh * (1 - y * y)
    return da, None, K.mm(da, w_hh), None, None


def _lstm_step(K, relu, x, h, c, w_hh, b_hh, w_hr):
    a_i, a_f, a_g, a_o = K.chunk(x + K.mm_t(h, w_hh), 4)
    i, f, g, o = K.sigmoid(a_i), K.sigmoid(a_f), K.tanh(a_g), K.sigmoid(a_o)
    c_new = f * c + i * g
    tc = K.tanh(c_new)
    h_new = o * tc
    if w_hr is not None:
        h_new = K.mm_t(h_new, w_hr)
    return h_new, c_new, (i, f, g, o, tc, c, h)


def _lstm_step_grad(K, relu, tape, dh, dc, w_hh, w_hr):
    i, f, g, o, tc, c, _ = tape
    dm = dh if w_hr is None else K.mm(dh, w_hr)
    dm_o = dm * o
    dc = dc + dm_o * (1 - tc * tc)
    dc_i = dc * i
    gates = K.cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc_i * (1 - g * g),
                   dm * tc * o * (1 - o)], 1)
    return gates, None, K.mm(gates, w_hh), dc * f, dh


def _gru_step(K, relu, x, h, c, w_hh, b_hh, w_hr):
    hg = K.mm_t(h, w_hh)
    if b_hh is not None:
        hg = hg + b_hh
    x_r, x_z, x_n = K.chunk(x, 3)
    h_r, h_z, h_n = K.chunk(hg, 3)
    r = K.sigmoid(x_r + h_r)
    z = K.sigmoid(x_z + h_z)
    n = K.tanh(x_n + r * h_n)
    return n + z * (h - n), None, (r, z, n, h_n, h)


def _gru_step_grad(K, relu, tape, dh, dc, w_hh, w_hr):
    r, z, n, h_n, h = tape
    da_n = dh * (1 - z) * (1 - n * n)
    da_r = da_n * h_n * r * (1 - r)
    da_z = dh * (h - n) * z * (1 - z)
    gx = K.cat([da_r, da_z, da_n], 1)
    gh = K.cat([da_r, da_z, da_n * r], 1)
    return gx, gh, dh * z + K.mm(gh, w_hh), None, None


_STEPS = {"RNN_TANH": (_rnn_step, _rnn_step_grad), "RNN_RELU": (_rnn_step, _rnn_step_grad),
          "LSTM": (_lstm_step, _lstm_step_grad), "GRU": (_gru_step, _gru_step_grad)}


def _order(n: int, reverse: bool) -> list:
    return list(range(n - 1, -1, -1) if reverse else range(n))


def _steps(batch_sizes, rows: int, batch: int) -> tuple:
    """The rows active at each time step: `batch_sizes` (packed input), or, for None, every
    one of the `batch` rows at each of rows // batch steps: an op of padded input keeps no
    sequence length or batch size of its own, so traced graphs follow the input's."""
    return batch_sizes if batch_sizes is not None else (batch,) * (rows // batch)


def _run_layer(K, mode, xg, h0, c0, w_hh, b_hh, w_hr, batch_sizes, reverse):
    """The forward time loop: (out rows in time order, h_n, c_n, tapes by time step)."""
    step = _STEPS[mode][0]
    relu = mode == "RNN_RELU"
    batch_sizes = _steps(batch_sizes, xg.shape[0], h0.shape[0])
    xs = K.split_rows(xg, batch_sizes)
    h, c = h0, c0
    outs = [None] * len(xs)
    tapes = [None] * len(xs)
    for t in _order(len(xs), reverse):
        b = batch_sizes[t]
        h_new, c_new, tapes[t] = step(K, relu, xs[t], K.head(h, b),
                                      None if c is None else K.head(c, b), w_hh, b_hh, w_hr)
        outs[t] = h_new
        h = K.merge(h_new, h)
        if c is not None:
            c = K.merge(c_new, c)
    return K.cat(outs, 0), h, c, tapes


def _layer_grads(K, mode, tapes, dout, dh, dc, w_hh, w_hr, batch_sizes, reverse):
    """Backpropagation through time: grads of (xg, h0, c0, w_hh, b_hh, w_hr); b_hh only for
    GRU (other modes fold it into xg), w_hr only for LSTM with projections."""
    grad_step = _STEPS[mode][1]
    relu = mode == "RNN_RELU"
    batch_sizes = _steps(batch_sizes, dout.shape[0], dh.shape[0])
    douts = K.split_rows(dout, batch_sizes)
    n = len(douts)
    gx, gh, gm = [None] * n, [None] * n, [None] * n
    for t in _order(n, not reverse):
        b = batch_sizes[t]
        dht = K.head(dh, b) + douts[t]
        gx[t], gh[t], dh_prev, dc_prev, gm[t] = grad_step(
            K, relu, tapes[t], dht, None if dc is None else K.head(dc, b), w_hh, w_hr)
        dh = K.merge(dh_prev, dh)
        if dc is not None:
            dc = K.merge(dc_prev, dc)
    g_xg = K.cat(gx, 0)
    g_hidden = g_xg if mode != "GRU" else K.cat(gh, 0)
    hprev = K.cat([tape[-1] for tape in tapes], 0)
    g_whh = K.grad_mm(g_hidden, hprev)
    g_bhh = K.sum_rows(g_hidden) if mode == "GRU" else None
    g_whr = None
    if w_hr is not None:
        m = K.cat([tape[3] * tape[4] for tape in tapes], 0)
        g_whr = K.grad_mm(K.cat(gm, 0), m)
    return g_xg, dh, dc, g_whh, g_bhh, g_whr


# ---- the primitives ---------------------------------------------------------------------------
def _layer_samples():
    def cell(name):
        return lambda t, x, h, w, wh, b, bh: getattr(t, name)(x, h, w, wh, b, bh)

    lstm_cell_fn = lambda t, x, h, c, w, wh, b, bh: t.lstm_cell(x, (h, c), w, wh, b, bh)  # noqa
    return (
        Sample(cell("rnn_tanh_cell"), ((3, 4), (3, 2), (2, 4), (2, 2), (2,), (2,))),
        Sample(cell("rnn_relu_cell"), ((3, 4), (3, 2), (2, 4), (2, 2), (2,), (2,)),
               name="relu_cell"),
        Sample(cell("gru_cell"), ((3, 4), (3, 2), (6, 4), (6, 2), (6,), (6,)), name="gru_cell"),
        Sample(lstm_cell_fn, ((3, 4), (3, 2), (3, 2), (8, 4), (8, 2), (8,), (8,)),
               name="lstm_cell"),
        Sample(lambda t, x, h, c, w, wh, b, bh, wr, w2, wh2, b2, bh2, wr2: t.lstm(
            x, (h, c), (w, wh, b, bh, wr, w2, wh2, b2, bh2, wr2), True, 1, 0.0, True, True,
            False), ((3, 2, 3), (2, 2, 2), (2, 2, 3), (12, 3), (12, 2), (12,), (12,), (2, 3),
                     (12, 3), (12, 2), (12,), (12,), (2, 3)), name="lstm_proj_bidirectional"),
        Sample(lambda t, x, h, w, wh, w2, wh2: t.gru(x, h, (w, wh, w2, wh2), False, 2, 0.0,
                                                      True, False, True),
               ((2, 3, 3), (2, 2, 2), (6, 3), (6, 2), (6, 2), (6, 2)), name="gru_two_layers"),
        Sample(lambda t, x, s, h, w, wh, b, bh, w2, wh2, b2, bh2: t.rnn_tanh(
            x, s, h, (w, wh, b, bh, w2, wh2, b2, bh2), True, 1, 0.0, True, True),
            ((6, 3), Arg(values=[3, 2, 1], dtype="int64", grad=False), (2, 3, 2), (2, 3),
             (2, 2), (2,), (2,), (2, 3), (2, 2), (2,), (2,)), name="packed_bidirectional"),
        Sample(lambda t, x, s, h, c, w, wh, b, bh: t.lstm(
            x, s, (h, c), (w, wh, b, bh), True, 1, 0.0, True, False)[1:],
            ((4, 3), Arg(values=[2, 1, 1], dtype="int64", grad=False), (1, 2, 2), (1, 2, 2),
             (8, 3), (8, 2), (8,), (8,)), name="packed_lstm_state"),
    )


def _grad_samples():
    def grads(fn):
        def run(t, *args):
            args = [a.requires_grad_() if a.dtype.is_floating_point else a for a in args]
            outs = fn(t, *args)
            outs = outs if isinstance(outs, tuple) else (outs,)
            loss = sum((o * o).sum() for o in outs)
            return t.autograd.grad(loss, [a for a in args if a.requires_grad])
        return run

    return (
        Sample(grads(lambda t, x, h, c, w, wh, b, bh: t.lstm_cell(x, (h, c), w, wh, b, bh)),
               ((3, 4), (3, 2), (3, 2), (8, 4), (8, 2), (8,), (8,)), grad=False),
        Sample(grads(lambda t, x, s, h, w, wh, b, bh: t.gru(x, s, h, (w, wh, b, bh), True, 1,
                                                             0.0, True, False)),
               ((5, 3), Arg(values=[2, 2, 1], dtype="int64"), (1, 2, 2), (6, 3), (6, 2), (6,),
                (6,)), grad=False, name="gru_packed"),
        Sample(grads(lambda t, x, h, w, wh, w2, wh2: t.rnn_relu(
            x, h, (w, wh, w2, wh2), False, 1, 0.0, True, True, True)),
            ((2, 3, 3), (2, 2, 2), (2, 3), (2, 2), (2, 3), (2, 2)), grad=False,
            name="relu_bidirectional"),
        Sample(grads(lambda t, x, h, c, w, wh, wr: t.lstm(x, (h, c), (w, wh, wr), False, 1, 0.0,
                                                           True, False, False)),
               ((3, 2, 3), (1, 2, 1), (1, 2, 2), (8, 3), (8, 1), (1, 2)), grad=False,
               name="lstm_proj"),
    )


@register("rnn_layer", promote=None, complex=False, samples=_layer_samples())
class RnnLayer(OpDef):
    """One layer and direction of an RNN over all time steps. Inputs: xg, the input projection
    of every step (rows grouped by time step; biases folded in except GRU's b_hh); h0 and c0
    (LSTM only); w_hh; b_hh (GRU only); w_hr (LSTM projections only). Outputs: the hidden
    state of every row, h_n, and c_n (LSTM)."""

    blas = True

    def forward(ctx, xp, xg, h0, c0, w_hh, b_hh, w_hr, mode, batch_sizes, reverse):
        K = _ArrayMath(xp)
        out, h, c, tapes = _run_layer(K, mode, xg, h0, c0, w_hh, b_hh, w_hr, batch_sizes,
                                      reverse)
        ctx.mode, ctx.batch_sizes, ctx.reverse = mode, batch_sizes, reverse
        tape = [K.cat([tp[k] for tp in tapes], 0) for k in range(len(tapes[0]))]
        ctx.save(xg, h0, c0, w_hh, b_hh, w_hr, *tape)
        # bfloat16 matmuls give float32: the outputs keep the input's dtype
        return tuple(a.astype(xg.dtype, copy=False) for a in (out, h, c) if a is not None)

    def backward(ctx, dout, dh, dc=None):
        xg, h0, c0, w_hh, b_hh, w_hr, *tape = ctx.saved
        steps = (ctx.batch_sizes, ctx.reverse)
        if GradState.enabled:
            K = _TensorMath()
            tapes = _run_layer(K, ctx.mode, xg, h0, c0, w_hh, b_hh, w_hr, *steps)[3]
            return _layer_grads(K, ctx.mode, tapes, dout, dh, dc, w_hh, w_hr, *steps)
        grads = apply(RnnLayerBackward, dout, dh, dc, w_hh, w_hr, *tape, mode=ctx.mode,
                      batch_sizes=ctx.batch_sizes, reverse=ctx.reverse)
        g_xg, g_h, g_c, g_whh, g_bhh, g_whr = _unpack_grads(ctx.mode, w_hr is not None, grads)
        return g_xg, g_h, g_c, g_whh, (g_bhh if b_hh is not None else None), g_whr


def _unpack_grads(mode, proj, grads):
    """The fixed 6-slot gradient tuple from rnn_layer_backward's mode-dependent outputs."""
    if mode == "LSTM":
        return grads[:4] + (None, grads[4] if proj else None)
    if mode == "GRU":
        return grads[0], grads[1], None, grads[2], grads[3], None
    return grads[0], grads[1], None, grads[2], None, None


@register("rnn_layer_backward", promote=None, differentiable=False, samples=_grad_samples())
class RnnLayerBackward(OpDef):
    """Backpropagation through time for rnn_layer on raw arrays: grads of xg, h0, (c0), w_hh,
    (b_hh for GRU), (w_hr for LSTM projections)."""

    blas = True

    def forward(ctx, xp, dout, dh, dc, w_hh, w_hr, *tape, mode, batch_sizes, reverse):
        K = _ArrayMath(xp)
        batch_sizes = _steps(batch_sizes, dout.shape[0], dh.shape[0])
        pieces = [K.split_rows(item, batch_sizes) for item in tape]
        tapes = list(zip(*pieces))
        g_xg, g_h, g_c, g_whh, g_bhh, g_whr = _layer_grads(K, mode, tapes, dout, dh, dc, w_hh,
                                                           w_hr, batch_sizes, reverse)
        if mode == "LSTM":
            grads = (g_xg, g_h, g_c, g_whh) + ((g_whr,) if w_hr is not None else ())
        elif mode == "GRU":
            grads = g_xg, g_h, g_whh, g_bhh
        else:
            grads = g_xg, g_h, g_whh
        return tuple(g.astype(dout.dtype, copy=False) for g in grads)


# ---- the functional API -------------------------------------------------------------------
def _projection(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """x @ w_ih^T + bias for all time steps at once."""
    return mm(x, w_ih.t()) if bias is None else addmm(bias, x, w_ih.t())


def _dropout(x: Tensor, p: float) -> Tensor:
    """Dropout between layers (training only): zero with probability p, scale by 1/(1-p)
    (dropout's noise op, so compiled graphs draw it anew each call)."""
    if p == 1:
        return x * 0
    return x * apply(DropoutNoise, size=tuple(x.shape), p=p, dtype=x._dtype, device=x._device,
                     alpha=False)


def _run(mode, input, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
         bidirectional, batch_first):
    """Shared driver of rnn_tanh, rnn_relu, lstm and gru (padded or packed input)."""
    h0 = hx[0]
    c0 = hx[1] if mode == "LSTM" else None
    proj = mode == "LSTM" and h0.shape[-1] != c0.shape[-1]
    if batch_sizes is None:
        seq = input.transpose(0, 1) if batch_first else input
        steps, batch = seq.shape[0], seq.shape[1]
        sizes = (batch,) * steps
        # every row at each step: rnn_layer keeps no length or batch size (unless empty)
        layer_steps = None if batch else sizes
        x = seq.reshape(steps * batch, seq.shape[2])
    else:
        sizes = layer_steps = tuple(int(b) for b in batch_sizes.tolist())
        x = input
    if not sizes:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    directions = 2 if bidirectional else 1
    per = (4 if has_biases else 2) + (1 if proj else 0)
    if len(params) != per * num_layers * directions:
        raise RuntimeError(f"{mode.lower()}: expected {per * num_layers * directions} "
                           f"parameter tensors, got {len(params)}")
    h0s = h0.unbind(0)
    c0s = c0.unbind(0) if c0 is not None else None
    h_n, c_n = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            w = params[k * per:(k + 1) * per]
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
            bias = b_ih if mode == "GRU" or b_ih is None else b_ih + b_hh
            xg = _projection(x, w_ih, bias)
            res = apply(RnnLayer, xg, h0s[k], None if c0s is None else c0s[k], w_hh,
                        b_hh if mode == "GRU" else None, w[-1] if proj else None, mode=mode,
                        batch_sizes=layer_steps, reverse=d == 1)
            outs.append(res[0])
            h_n.append(res[1])
            if c0s is not None:
                c_n.append(res[2])
        x = outs[0] if directions == 1 else cat(outs, 1)
        if dropout and train and layer < num_layers - 1:
            x = _dropout(x, dropout)
    if batch_sizes is None:
        x = x.reshape(steps, batch, x.shape[-1])
        if batch_first:
            x = x.transpose(0, 1)
    return (x, stack(h_n)) + ((stack(c_n),) if c0s is not None else ())


def _split_overload(args, kwargs, name):
    """torch's two overloads: (input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first) and (data, batch_sizes, hx, params, ..., bidirectional)."""
    if len(args) > 1 and isinstance(args[1], Tensor) and not (args[1].is_floating_point()
                                                             or args[1].is_complex()):
        data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, \
            bidirectional = _fill(args, kwargs, name, ("data", "batch_sizes", "hx", "params",
                                                       "has_biases", "num_layers", "dropout",
                                                       "train", "bidirectional"))
        return data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, \
            bidirectional, False
    input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = \
        _fill(args, kwargs, name, ("input", "hx", "params", "has_biases", "num_layers",
                                   "dropout", "train", "bidirectional", "batch_first"))
    return input, None, hx, params, has_biases, num_layers, dropout, train, bidirectional, \
        batch_first


def _fill(args, kwargs, name, names):
    if len(args) > len(names):
        raise TypeError(f"{name}() takes {len(names)} arguments but {len(args)} were given")
    values = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names or key in values:
            raise TypeError(f"{name}() got an unexpected or repeated argument '{key}'")
        values[key] = value
    missing = [n for n in names if n not in values]
    if missing:
        raise TypeError(f"{name}() missing required arguments: {missing}")
    return tuple(values[n] for n in names)


def rnn_tanh(*args, **kwargs):
    """A multi-layer Elman RNN with tanh: (output, h_n). torch's functional core of nn.RNN;
    call as (input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first) or with packed data (data, batch_sizes, hx, params, ..., bidirectional)."""
    a = _split_overload(args, kwargs, "rnn_tanh")
    return _run("RNN_TANH", a[0], a[1], (a[2],), *a[3:])


def rnn_relu(*args, **kwargs):
    """rnn_tanh with ReLU as the nonlinearity: (output, h_n)."""
    a = _split_overload(args, kwargs, "rnn_relu")
    return _run("RNN_RELU", a[0], a[1], (a[2],), *a[3:])


def gru(*args, **kwargs):
    """A multi-layer GRU (same arguments as rnn_tanh): (output, h_n)."""
    a = _split_overload(args, kwargs, "gru")
    return _run("GRU", a[0], a[1], (a[2],), *a[3:])


def lstm(*args, **kwargs):
    """A multi-layer LSTM: hx is (h0, c0); projections (weight_hr) follow each layer's
    weights when h0's last size differs from c0's. Returns (output, h_n, c_n).

    >>> import ember
    >>> x, h = ember.zeros(5, 3, 4), ember.zeros(1, 3, 2)
    >>> w = [ember.zeros(8, 4), ember.zeros(8, 2)]
    >>> [tuple(o.shape) for o in ember.lstm(x, (h, h), w, False, 1, 0.0, False, False, False)]
    [(5, 3, 2), (1, 3, 2), (1, 3, 2)]
    """
    a = _split_overload(args, kwargs, "lstm")
    return _run("LSTM", a[0], a[1], tuple(a[2]), *a[3:])


def _check_cell(input, hx, w_ih, w_hh, names=("hidden0",)):
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected "
                           f"{w_ih.shape[1]}")
    for name, h in zip(names, hx):
        if input.shape[0] != h.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match {name} batch "
                               f"size {h.shape[0]}")
        if h.shape[1] != w_hh.shape[1]:
            raise RuntimeError(f"{name} has inconsistent hidden_size: got {h.shape[1]}, "
                               f"expected {w_hh.shape[1]}")


def _cell(mode, input, hx, cx, w_ih, w_hh, b_ih, b_hh):
    bias = b_ih if mode == "GRU" or b_ih is None or b_hh is None else b_ih + b_hh
    xg = _projection(input, w_ih, bias)
    return apply(RnnLayer, xg, hx, cx, w_hh, b_hh if mode == "GRU" else None, None, mode=mode,
                 batch_sizes=(input.shape[0],), reverse=False)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of an Elman RNN: tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    _check_cell(input, (hx,), w_ih, w_hh)
    return _cell("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)[1]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of an Elman RNN with ReLU."""
    _check_cell(input, (hx,), w_ih, w_hh)
    return _cell("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[1]


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (gates r, z, n in the rows of w_ih and w_hh)."""
    _check_cell(input, (hx,), w_ih, w_hh)
    return _cell("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[1]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (gates i, f, g, o in the rows of w_ih and w_hh): returns (h, c)."""
    h, c = hx
    _check_cell(input, (h, c), w_ih, w_hh, ("hidden0", "hidden1"))
    return _cell("LSTM", input, h, c, w_ih, w_hh, b_ih, b_hh)[1:]
