"""Tests for course_utils.graphs: captured and recorded graphs, their listing and drawing."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from course_utils.graphs import autograd_graph, draw_levels, format_graph, fx_graph  # noqa: E402


def e_of(a, b):
    c = a + b
    d = b + 1
    return c * d


class EModule(nn.Module):
    def forward(self, a, b):
        return e_of(a, b)


def test_format_graph_lists_fx_nodes_in_order():
    assert format_graph(torch.fx.symbolic_trace(e_of)).splitlines() == [
        "a = input", "b = input", "add = a + b", "add_1 = b + 1", "mul = add * add_1", "return mul"]


def test_format_graph_names_aten_operators_of_an_export():
    exported = torch.export.export(EModule(), (torch.tensor(2.0), torch.tensor(1.0)))
    lines = format_graph(exported).splitlines()
    assert "add = aten.add.Tensor(a, b)" in lines
    assert "mul = aten.mul.Tensor(add, add_1)" in lines


def test_format_graph_shows_methods_keywords_and_indexing():
    lines = format_graph(torch.fx.symbolic_trace(lambda x: x.sum(dim=0)[1])).splitlines()
    assert "sum_1 = x.sum(dim=0)" in lines and "getitem = sum_1[1]" in lines


def test_format_graph_shortens_long_lines():
    def many(x):
        return torch.cat([x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x])

    lines = format_graph(torch.fx.symbolic_trace(many), width=40).splitlines()
    assert max(len(line) for line in lines) <= 40 and any(line.endswith("[...]") for line in lines)


def test_fx_graph_edges_point_from_producer_to_user():
    graph = fx_graph(torch.fx.symbolic_trace(e_of))
    assert set(graph.edges) == {("a", "add"), ("b", "add"), ("b", "add_1"), ("add", "mul"),
                                ("add_1", "mul"), ("mul", "output")}
    assert [sorted(level) for level in nx.topological_generations(graph)] == [
        ["a", "b"], ["add", "add_1"], ["mul"], ["output"]]
    assert graph.nodes["a"]["kind"] == "input" and graph.nodes["output"]["kind"] == "output"
    assert graph.nodes["add"]["label"] == "add\na + b"


def test_autograd_graph_has_one_node_per_function():
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    graph = autograd_graph(e_of(a, b), {"a": a, "b": b})
    labels = sorted(data["label"] for _, data in graph.nodes(data=True))
    assert labels == ["AccumulateGrad\n(a)", "AccumulateGrad\n(b)", "AddBackward0", "AddBackward0",
                      "MulBackward0"]
    leaf_b = next(node for node, data in graph.nodes(data=True) if data["label"] == "AccumulateGrad\n(b)")
    assert graph.in_degree(leaf_b) == 2  # b is used twice: one node, two incoming edges
    assert graph.number_of_edges() == 5


def test_autograd_graph_counts_a_reused_result_once():
    x = torch.tensor(3.0, requires_grad=True)
    u = x * 2
    assert autograd_graph(u * u).number_of_nodes() == 3  # Mul, Mul, AccumulateGrad


@pytest.mark.parametrize("tensor", [torch.tensor(1.0, requires_grad=True), torch.tensor(1.0) + 1])
def test_autograd_graph_explains_a_tensor_without_history(tensor):
    with pytest.raises(ValueError, match="requires_grad=True"):
        autograd_graph(tensor)


def test_unknown_graph_objects_get_a_clear_error():
    with pytest.raises(TypeError, match="symbolic_trace"):
        format_graph("not a graph")


def test_draw_levels_puts_each_level_in_one_column():
    graph = fx_graph(torch.fx.symbolic_trace(e_of))
    fig, ax = plt.subplots()
    draw_levels(graph, ax, "e = (a + b)(b + 1)")
    columns = {text.get_text(): text.get_position()[0] for text in ax.texts}
    assert columns["add\na + b"] == columns["add_1\nb + 1"] == 1
    assert columns["a"] == columns["b"] == 0 and columns["return mul"] == 3
    assert ax.get_title() == "e = (a + b)(b + 1)" and ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["input", "operation", "output"]
    assert len([child for child in ax.get_children() if hasattr(child, "arrow_patch")]) == 6  # edges
    plt.close(fig)
