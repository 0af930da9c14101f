"""Chains of fusable pointwise ops, for the fused-kernel tests (CPU and CUDA C): composite
chains, and each op on its own scaled by 1.5 so that it fuses, where no other term hides
what it does with NaN, infinities and signed zeros."""
from __future__ import annotations

import numpy as np

import ember
import ember.nn.functional as F


def chain_arith(x, y):
    return (x + 2 * y - y / 3).abs().sqrt().exp().log() * x.neg()


def chain_trig(x, y):
    return ember.where(x > y, x.sin(), y.cos()).tanh() + x.sigmoid() + x.erf()


def chain_activations(x, y):
    return F.gelu(x) + F.gelu(y, approximate="tanh") + F.relu(x - y) + x.sign() * y


def chain_clamps(x, y):
    return x.clamp(-0.5, 0.5) * y.clamp(min=0) + x.clamp(max=0.2) + ember.maximum(x, y) \
        - ember.minimum(x, y)


def chain_powers(x, y):
    return x ** 2 + y ** 3 + x.abs() ** 0.5 + x.abs().pow(y) + x.reciprocal() + \
        y.abs().rsqrt() + x.sub(y, alpha=0.5) + x.add(y, alpha=2)


def chain_compares(x, y):
    a = ember.where(x == y, x, ember.where(x <= y, y, x - 1))
    b = ember.where(x != y, a, y)
    return ember.where(x >= y, b, a * 2) + ember.where(x < y, a, b)


# each C form on its own (then scaled, so that it fuses), where no other term hides what it
# does with NaN, infinities and signed zeros
SINGLE = {
    "add": lambda x, y: x.add(y, alpha=2) * 1.5, "sub": lambda x, y: (x - y) * 1.5,
    "mul": lambda x, y: x * y * 1.5, "div": lambda x, y: x / y * 1.5,
    "pow": lambda x, y: x.pow(y) * 1.5, "square": lambda x, y: (x ** 2) * 1.5,
    "cube": lambda x, y: (x ** 3) * 1.5, "root": lambda x, y: (x ** 0.5) * 1.5,
    "inverse_root": lambda x, y: (x ** -0.5) * 1.5,
    "neg": lambda x, y: -x * 1.5, "abs": lambda x, y: x.abs() * 1.5,
    "sign": lambda x, y: x.sign() * 1.5, "sqrt": lambda x, y: x.sqrt() * 1.5,
    "exp": lambda x, y: x.exp() * 1.5, "log": lambda x, y: x.log() * 1.5,
    "sin": lambda x, y: x.sin() * 1.5, "cos": lambda x, y: x.cos() * 1.5,
    "tanh": lambda x, y: x.tanh() * 1.5, "erf": lambda x, y: x.erf() * 1.5,
    "sigmoid": lambda x, y: x.sigmoid() * 1.5, "relu": lambda x, y: F.relu(x) * 1.5,
    "gelu": lambda x, y: F.gelu(x) * 1.5,
    "gelu_tanh": lambda x, y: F.gelu(x, approximate="tanh") * 1.5,
    "maximum": lambda x, y: ember.maximum(x, y) * 1.5,
    "minimum": lambda x, y: ember.minimum(x, y) * 1.5,
    "reciprocal": lambda x, y: x.reciprocal() * 1.5, "rsqrt": lambda x, y: x.rsqrt() * 1.5,
    "clamp": lambda x, y: x.clamp(-0.5, 0.5) * 1.5,
    "clamp_min": lambda x, y: x.clamp(min=0.25) * 1.5,
    "clamp_max": lambda x, y: x.clamp(max=0.25) * 1.5,
    "clamp_crossed": lambda x, y: x.clamp(0.5, -0.5) * 1.5,
    "where": lambda x, y: ember.where(x > y, x, y) * 1.5,
    "eq": lambda x, y: ember.where(x == y, x, y) * 1.5,
    "ne": lambda x, y: ember.where(x != y, x, y) * 1.5,
    "lt": lambda x, y: ember.where(x < y, x, y) * 1.5,
    "le": lambda x, y: ember.where(x <= y, x, y) * 1.5,
    "ge": lambda x, y: ember.where(x >= y, x, y) * 1.5,
}
for _name, _fn in SINGLE.items():
    _fn.__name__ = f"single_{_name}"
CHAINS = [chain_arith, chain_trig, chain_activations, chain_clamps, chain_powers,
          chain_compares, *SINGLE.values()]


def special_operands(n: int, rng) -> tuple:
    """Two float64 arrays of n uniform draws in [-2, 2] led by NaN, infinities, signed zeros
    and an equal pair."""
    x, y = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    x[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.75]
    y[:6] = [1.0, np.nan, np.inf, -0.0, 0.0, 0.75]
    return x, y
