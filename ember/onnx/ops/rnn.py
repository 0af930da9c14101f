"""Lowering of `rnn_layer` (one layer and direction of an RNN, LSTM or GRU over all time steps)
as an ONNX Scan whose body is one step: the input projection is already in `xg`, so the body
adds the recurrent matmul and the gate equations as ember's step does (torch's gate order,
GRU's reset gate applied after the recurrent matmul, LSTM projections)."""
from __future__ import annotations

from ..dynamic import base_of
from ..lowering import lowers

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _step(sub, mode: str, x: str, h: str, c: str | None, w_hh_t: str, b_hh: str | None,
          w_hr_t: str | None, hidden: int):
    """One time step in the body builder: (new h, new c or None)."""
    rec = sub.op("MatMul", [h, w_hh_t])
    if mode in ("RNN_TANH", "RNN_RELU"):
        a = sub.op("Add", [x, rec])
        return sub.op("Tanh" if mode == "RNN_TANH" else "Relu", [a]), None
    if mode == "LSTM":
        a_i, a_f, a_g, a_o = sub.split(sub.op("Add", [x, rec]), [hidden] * 4, 1)
        i, f, o = (sub.op("Sigmoid", [t]) for t in (a_i, a_f, a_o))
        g = sub.op("Tanh", [a_g])
        c_new = sub.op("Add", [sub.op("Mul", [f, c]), sub.op("Mul", [i, g])])
        h_new = sub.op("Mul", [o, sub.op("Tanh", [c_new])])
        if w_hr_t is not None:
            h_new = sub.op("MatMul", [h_new, w_hr_t])
        return h_new, c_new
    if b_hh is not None:
        rec = sub.op("Add", [rec, b_hh])
    x_r, x_z, x_n = sub.split(x, [hidden] * 3, 1)
    h_r, h_z, h_n = sub.split(rec, [hidden] * 3, 1)
    r = sub.op("Sigmoid", [sub.op("Add", [x_r, h_r])])
    z = sub.op("Sigmoid", [sub.op("Add", [x_z, h_z])])
    n = sub.op("Tanh", [sub.op("Add", [x_n, sub.op("Mul", [r, h_n])])])
    return sub.op("Add", [n, sub.op("Mul", [z, sub.op("Sub", [h, n])])]), None


@lowers("rnn_layer", via="Scan (one step per iteration)")
def _rnn_layer(ctx):
    b = ctx.b
    mode = ctx.attr("mode")
    reverse = bool(ctx.attr("reverse"))
    steps = base_of(ctx.attr_dyn("batch_sizes"))  # None: padded input, every row each step
    if steps is not None and len(set(steps)) > 1:
        ctx.unsupported("packed sequences (time steps with different batch sizes)")
    xg, h0 = ctx.input(0), ctx.input(1)
    dt = b.dtype(xg)
    c0 = ctx.input(2, dt) if ctx.is_tensor(2) else None
    w_hh_t = b.op("Transpose", [ctx.input(3, dt)], perm=[1, 0])
    b_hh = ctx.input(4, dt) if ctx.is_tensor(4) else None
    w_hr_t = b.op("Transpose", [ctx.input(5, dt)], perm=[1, 0]) if ctx.is_tensor(5) else None
    gates_width = ctx.shape(0)[1]
    hidden = gates_width // _GATES[mode]
    out_width = ctx.shape(1)[1]
    batch = ctx.size(1, 0)
    seq = b.op("Reshape", [xg, ctx.ints([-1, batch, gates_width])])

    sub = b.subgraph()
    h = sub.declare("h", dt)
    c = sub.declare("c", dt) if c0 is not None else None
    x = sub.declare("x_t", dt)
    h_new, c_new = _step(sub, mode, x, h, c, w_hh_t, b_hh, w_hr_t, hidden)
    y = sub.op("Identity", [h_new])
    states = [h] + ([c] if c is not None else [])
    new_states = [h_new] + ([c_new] if c is not None else [])
    body = b.body(sub, [(n, dt) for n in states + [x]], new_states + [y], rank=2)
    inits = [h0] + ([c0] if c0 is not None else [])
    outs = b.op("Scan", inits + [seq], outputs=len(inits) + 1, dtype=dt, body=body,
                num_scan_inputs=1, scan_input_directions=[int(reverse)],
                scan_output_directions=[int(reverse)])
    out = b.op("Reshape", [outs[-1], b.ints([-1, out_width])])
    return [out] + list(outs[:-1])
