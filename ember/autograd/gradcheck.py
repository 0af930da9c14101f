"""gradcheck / gradgradcheck: compare autograd's gradients with central finite differences."""
from __future__ import annotations

import numpy as np

from .._backend import to_numpy


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _differentiable_outputs(outputs):
    return [o for o in _as_tuple(outputs) if hasattr(o, "_data") and o.requires_grad]


def _host(array) -> np.ndarray:
    """A flat float64 host copy (Jacobians are assembled with NumPy, for GPU tensors too)."""
    return to_numpy(array).astype(np.float64).ravel()


def _numerical_jacobian(func, inputs, i, eps):
    """d(all outputs, flattened)/d(inputs[i]) by central differences, shape (n_in, n_out)."""
    x = inputs[i]
    flat = x._data.reshape(-1)
    cols = []
    for k in range(flat.size):
        orig = flat[k].item()
        flat[k] = orig + eps
        plus = [_host(o._data) for o in _differentiable_like(func(*inputs))]
        flat[k] = orig - eps
        minus = [_host(o._data) for o in _differentiable_like(func(*inputs))]
        flat[k] = orig
        cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
                    if plus else np.zeros(0))
    return np.stack(cols) if cols else np.zeros((0, 0))


def _differentiable_like(outputs):
    return [o for o in _as_tuple(outputs) if hasattr(o, "_data") and o.requires_grad]


def _analytical_jacobian(func, inputs, wrt):
    """Row j: gradient of flattened output element j w.r.t. each input in `wrt`."""
    from . import grad
    from .._ops.creation import zeros_like
    outputs = _differentiable_outputs(func(*inputs))
    rows = {i: [] for i in wrt}
    for out in outputs:
        for j in range(out.numel()):
            seed = zeros_like(out)
            seed._data.reshape(-1)[j] = 1
            gs = grad([out], [inputs[i] for i in wrt], [seed], retain_graph=True,
                      allow_unused=True)
            for i, g in zip(wrt, gs):
                rows[i].append(np.zeros(inputs[i].numel()) if g is None else _host(g._data))
    return {i: np.stack(r, axis=1) if r else np.zeros((inputs[i].numel(), 0))
            for i, r in rows.items()}


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, **unused) -> bool:
    """Check gradients of `func` at `inputs` (float64 tensors) against finite differences.

    >>> import ember
    >>> x = ember.tensor([0.5, 1.5], dtype=ember.float64, requires_grad=True)
    >>> ember.autograd.gradcheck(lambda t: (t * t).exp(), (x,))
    True
    """
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if hasattr(x, "_data") and x.requires_grad]
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            import warnings
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; the check "
                          "may fail from rounding alone", stacklevel=2)
    analytical = _analytical_jacobian(func, inputs, wrt)
    for i in wrt:
        numerical = _numerical_jacobian(func, inputs, i, eps)
        a = analytical[i]
        if numerical.shape != a.shape or not np.allclose(a, numerical, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                 f"numerical:{numerical}\nanalytical:{a}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, **unused) -> bool:
    """Check second-order gradients of `func` by running gradcheck on its vector-Jacobian product.
    """
    from . import grad
    from .._ops.creation import tensor
    inputs = _as_tuple(inputs)
    outputs = _differentiable_outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(tensor(rng.standard_normal(o.shape), dtype=o.dtype,
                                    requires_grad=True) for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)
    wrt = [i for i, x in enumerate(inputs) if hasattr(x, "_data") and x.requires_grad]

    def vjp(*args):
        ins, gos = args[:n], args[n:]
        outs = _differentiable_outputs(func(*ins))
        gs = grad(outs, [ins[i] for i in wrt], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(vjp, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
