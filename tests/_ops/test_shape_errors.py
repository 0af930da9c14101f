"""The two commonest shape mistakes (matrix products with mismatched inner sizes, operands that
do not broadcast) raise torch's exception type with torch's exact message."""
from __future__ import annotations

import pytest
import torch

import ember

CASES = {
    "linear_2d": lambda m: m.nn.functional.linear(m.ones(4, 3), m.ones(2, 5)),
    "linear_3d": lambda m: m.nn.functional.linear(m.ones(2, 4, 3), m.ones(2, 5)),
    "linear_4d_bias": lambda m: m.nn.functional.linear(m.ones(2, 2, 4, 3), m.ones(2, 5),
                                                       m.ones(2)),
    "linear_1d_input": lambda m: m.nn.functional.linear(m.ones(3), m.ones(2, 5)),
    "linear_1d_weight": lambda m: m.nn.functional.linear(m.ones(4, 3), m.ones(5)),
    "Linear": lambda m: m.nn.Linear(5, 2)(m.ones(4, 3)),
    "mm": lambda m: m.mm(m.ones(4, 3), m.ones(5, 2)),
    "addmm": lambda m: m.addmm(m.ones(4, 2), m.ones(4, 3), m.ones(5, 2)),
    "matmul_3d_2d": lambda m: m.matmul(m.ones(2, 4, 3), m.ones(5, 2)),
    "matmul_3d_3d": lambda m: m.matmul(m.ones(2, 4, 3), m.ones(2, 5, 2)),
    "matmul_batch": lambda m: m.matmul(m.ones(2, 4, 3), m.ones(3, 3, 2)),
    "matmul_batch_4d": lambda m: m.matmul(m.ones(5, 2, 4, 3), m.ones(3, 1, 3, 2)),
    "matmul_1d_1d": lambda m: m.matmul(m.ones(3), m.ones(4)),
    "matmul_1d_2d": lambda m: m.matmul(m.ones(3), m.ones(4, 2)),
    "matmul_operator": lambda m: m.ones(4, 3) @ m.ones(5, 2),
    "mv": lambda m: m.mv(m.ones(4, 3), m.ones(4)),
    "dot": lambda m: m.dot(m.ones(3), m.ones(4)),
    "bmm": lambda m: m.bmm(m.ones(2, 4, 3), m.ones(2, 5, 2)),
    "bmm_batch": lambda m: m.bmm(m.ones(2, 4, 3), m.ones(3, 3, 2)),
    "add": lambda m: m.ones(2, 3) + m.ones(2, 4),
    "mul_3d": lambda m: m.mul(m.ones(2, 3), m.ones(4, 1, 5)),
    "sub_1d": lambda m: m.ones(3) - m.ones(4),
    "div": lambda m: m.ones(2, 3) / m.ones(3, 2),
    "pow": lambda m: m.pow(m.ones(2, 3), m.ones(2, 4)),
    "atan2": lambda m: m.atan2(m.ones(2, 3), m.ones(2, 4)),
    "lt": lambda m: m.ones(2, 3) < m.ones(2, 4),
    "eq": lambda m: m.eq(m.ones(2, 3), m.ones(2, 4)),
    "maximum": lambda m: m.maximum(m.ones(2, 3), m.ones(2, 4)),
    "where_input": lambda m: m.where(m.ones(2, 3) > 0, m.ones(2, 4), m.ones(2, 3)),
    "where_other": lambda m: m.where(m.ones(2, 3) > 0, m.ones(2, 3), m.ones(4, 3)),
    "lerp": lambda m: m.lerp(m.ones(2, 3), m.ones(2, 4), 0.5),
    "add_out": lambda m: m.add(m.ones(2, 3), m.ones(2, 4), out=m.empty(2, 3)),
    "broadcast_tensors": lambda m: m.broadcast_tensors(m.ones(3, 1), m.ones(2, 4)),
    "allclose": lambda m: m.allclose(m.ones(2, 3), m.ones(2, 4)),
    "add_": lambda m: m.ones(2, 3).add_(m.ones(2, 4)),
    "add_grows": lambda m: m.ones(2, 3).add_(m.ones(4, 2, 3)),
    "mul_grows": lambda m: m.ones(1, 3).mul_(m.ones(2, 3)),
    "iadd_grows": lambda m: m.ones(2, 3).__iadd__(m.ones(2, 1, 3)),
    "sub_int_grows": lambda m: m.ones(2, 3).int().sub_(m.ones(4, 2, 3).int()),
    "clamp_": lambda m: m.ones(2, 3).clamp_(m.ones(2, 4)),
    "add_grows_grad": lambda m: m.ones(2, 3, requires_grad=True).clone().add_(m.ones(4, 2, 3)),
    "add_grad": lambda m: m.ones(2, 3, requires_grad=True).clone().add_(m.ones(2, 4)),
    "copy_": lambda m: m.ones(2, 3).copy_(m.ones(2, 4)),
    "copy_grows": lambda m: m.ones(2, 3).copy_(m.ones(4, 2, 3)),
    "masked_fill_grows": lambda m: m.ones(2, 3).masked_fill_(m.ones(4, 2, 3) > 0, 1.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shape_error_matches_torch(name):
    call = CASES[name]
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(ember)
    assert type(ours.value).__name__ == type(theirs.value).__name__
    assert str(ours.value) == str(theirs.value)
