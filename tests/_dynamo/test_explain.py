"""ember._dynamo.explain against torch._dynamo.explain: graph, break and op counts of the
same functions and modules, break reasons that name the user's line, and the report text."""
import pytest
import torch

import ember
import ember._dynamo


def _sin_cos(x):
    return x.sin().cos() + 1


def _branchy(x):
    y = x.sin()
    if y.sum() > 0:  # the break
        y = y * 2
    return y.cos()


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_explain_counts_one_graph_without_breaks(lib):
    out = lib._dynamo.explain(_sin_cos)(lib.ones(3))
    assert (out.graph_count, out.graph_break_count) == (1, 0)
    # torch counts the functions its graph calls (not tensor methods); ember every op
    assert out.op_count == sum(map(len, out.ops_per_graph)) >= 1
    assert len(out.graphs) == len(out.ops_per_graph) == 1
    assert out.break_reasons == []
    assert "Graph Count: 1" in str(out) and "Graph Break Count: 0" in str(out)


def test_explain_names_ops_of_each_graph():
    out = ember._dynamo.explain(_sin_cos)(ember.ones(3))
    assert out.ops_per_graph == [["sin", "cos", "add"]]


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_explain_reports_a_data_dependent_branch(lib):
    out = lib._dynamo.explain(_branchy)(lib.ones(3))
    assert out.graph_break_count >= 1
    line = _branchy.__code__.co_firstlineno + 2
    stacks = [str(frame) for r in out.break_reasons for frame in r.user_stack]
    assert any(f"{line}" in s for s in stacks)
    assert all(r.graph_break for r in out.break_reasons)
    assert "Break Reason 1:" in str(out)


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_explain_a_module(lib):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU())
    out = lib._dynamo.explain(net)(lib.ones(2, 3))
    assert (out.graph_count, out.graph_break_count) == (1, 0)
    assert out.op_count >= 2


def test_explain_with_arguments_given_at_once_and_module_breaks():
    out = ember._dynamo.explain(_sin_cos, ember.ones(2))
    assert out.graph_count == 1

    class Net(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = ember.nn.Linear(3, 3), ember.nn.Linear(3, 3)

        def forward(self, x):
            x = self.a(x)
            if x.sum() > 0:
                x = -x
            return self.b(x)
    out = ember._dynamo.explain(Net())(ember.ones(2, 3))
    # the module's own code breaks; its two submodules are compiled on their own
    assert (out.graph_count, out.graph_break_count) == (2, 1)
    assert "Python boolean" in out.break_reasons[0].reason
