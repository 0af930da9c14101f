"""The main job: fit a model with ember's autograd and watch the loss fall.

Run with `bash scripts/demo` (or `python -m ember.demo`).
"""
from __future__ import annotations

import ember


def fit_polynomial(steps: int = 200, lr: float = 0.1, seed: int = 0) -> list[float]:
    """Fit y = 1.5 x^2 - 2 x + 0.5 with gradient descent on three parameters; returns losses."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = ember.tensor(rng.uniform(-1, 1, 256), dtype=ember.float32)
    y = 1.5 * x ** 2 - 2 * x + 0.5
    params = [ember.zeros(1, requires_grad=True) for _ in range(3)]
    losses = []
    for step in range(steps):
        a, b, c = params
        loss = ((a * x ** 2 + b * x + c - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= lr * p.grad
        losses.append(loss.item())
        if step % 40 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.6f}")
    print("fitted:", [round(p.item(), 3) for p in params], "(target [1.5, -2.0, 0.5])")
    return losses


def main() -> None:
    print("ember", ember.__version__, "- fitting a polynomial with define-by-run autograd")
    losses = fit_polynomial()
    assert losses[-1] < losses[0] * 1e-2, "the loss did not fall"


if __name__ == "__main__":
    main()
