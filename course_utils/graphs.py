"""Dataflow graphs for chapter 2: collect them from PyTorch, list them, draw them in levels.

Two kinds of graph come out of PyTorch:

* the *forward* graph that `torch.fx.symbolic_trace` or `torch.export` captures
  (nodes are inputs and operations, edges carry tensors from producer to user);
* the *backward* graph that autograd records while the code runs (the chain of
  `grad_fn` objects that `backward()` walks from the output to the leaves).

Both become a `networkx.DiGraph`, so the chapter can ask graph questions
(which nodes are independent?) and draw the graph with `draw_levels`: each
column is one level of `networkx.topological_generations`, and the nodes of a
column do not depend on each other.
"""

from __future__ import annotations

import operator
import textwrap

import networkx as nx
import torch
from matplotlib.patches import Patch

__all__ = ["autograd_graph", "draw_levels", "format_graph", "fx_graph"]

_SYMBOLS = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
            operator.pow: "**", operator.matmul: "@"}
_COLOURS = {"input": "#cfe8ff", "operation": "#ffe3b3", "output": "#d5f5d5",  # forward graphs
            "grad_fn of the output": "#d5f5d5", "backward function": "#ffe3b3",  # backward graphs
            "leaf (AccumulateGrad)": "#cfe8ff"}


def _graph_of(graph_module) -> torch.fx.Graph:
    if isinstance(graph_module, torch.fx.Graph):
        return graph_module
    if isinstance(graph_module, torch.fx.GraphModule):
        return graph_module.graph
    if hasattr(graph_module, "graph_module"):  # a torch.export ExportedProgram
        return graph_module.graph_module.graph
    raise TypeError(f"expected a torch.fx GraphModule, Graph or ExportedProgram, got "
                    f"{type(graph_module).__name__}; capture one with torch.fx.symbolic_trace(fn) "
                    "or torch.export.export(module, args)")


def _target_name(node: torch.fx.Node) -> str:
    text = str(node.target)
    if text.startswith("aten."):  # an ATen operator overload, e.g. aten.add.Tensor
        return text
    return getattr(node.target, "__name__", text)


def _expression(node: torch.fx.Node) -> str:
    """One node as a short line of code, e.g. 'add = a + b' or 'mul = aten.mul.Tensor(add, add_1)'."""
    args = [str(arg) for arg in node.args]
    keywords = [f"{key}={value}" for key, value in node.kwargs.items()]
    if node.op == "placeholder":
        return f"{node.name} = input"
    if node.op == "output":
        return f"return {args[0]}"
    if node.op == "get_attr":
        return f"{node.name} = self.{node.target}"
    if node.op == "call_module":
        return f"{node.name} = self.{node.target}({', '.join(args + keywords)})"
    if node.op == "call_method":
        return f"{node.name} = {args[0]}.{node.target}({', '.join(args[1:] + keywords)})"
    if node.target in _SYMBOLS and len(args) == 2 and not keywords:
        return f"{node.name} = {args[0]} {_SYMBOLS[node.target]} {args[1]}"
    if node.target is operator.getitem:
        return f"{node.name} = {args[0]}[{args[1]}]"
    return f"{node.name} = {_target_name(node)}({', '.join(args + keywords)})"


def format_graph(graph_module, width: int = 78) -> str:
    """The nodes of a captured graph, one line each, in execution order.

    Lines longer than `width` characters are shortened with "[...]".
    """
    return "\n".join(textwrap.shorten(_expression(node), width)
                     for node in _graph_of(graph_module).nodes)


def fx_graph(graph_module) -> nx.DiGraph:
    """The forward dataflow graph of a torch.fx GraphModule, Graph or ExportedProgram.

    Nodes are named like the fx nodes and carry `kind` ("input", "operation", "output")
    and `label` (a short text for drawing). An edge u -> v means v uses u's tensor.
    """
    graph = nx.DiGraph()
    for node in _graph_of(graph_module).nodes:
        kind = {"placeholder": "input", "output": "output"}.get(node.op, "operation")
        label = node.name if kind == "input" else _expression(node).replace(" = ", "\n", 1)
        graph.add_node(node.name, kind=kind, label=label)
        for producer in node.all_input_nodes:
            graph.add_edge(producer.name, node.name)
    return graph


def autograd_graph(output: torch.Tensor, names: dict | None = None) -> nx.DiGraph:
    """The backward graph autograd recorded for `output`: its `grad_fn` and everything behind it.

    Args:
        output: a tensor computed from tensors that require gradients.
        names: optional {name: leaf tensor}, to label each leaf's AccumulateGrad node.

    An edge u -> v means the gradient flows from u to v during `backward()`. A node
    reached along two paths (a tensor used by two different operations) appears once, with
    two incoming edges; `x * x` is one operation, so a single edge (the graph has no parallel edges).
    """
    if not isinstance(output, torch.Tensor) or output.grad_fn is None:
        raise ValueError("autograd_graph needs a tensor computed from tensors with requires_grad=True "
                         "(its grad_fn is None: it is a leaf, or it was computed under torch.no_grad())")
    leaf_names = {id(tensor): name for name, tensor in (names or {}).items()}
    graph, stack = nx.DiGraph(), [output.grad_fn]
    while stack:
        function = stack.pop()
        if function in graph and graph.nodes[function].get("label"):
            continue
        label = type(function).__name__
        variable = getattr(function, "variable", None)  # only AccumulateGrad has one
        if variable is not None and id(variable) in leaf_names:
            label += f"\n({leaf_names[id(variable)]})"
        kind = ("leaf (AccumulateGrad)" if variable is not None else
                "grad_fn of the output" if function is output.grad_fn else "backward function")
        graph.add_node(function, kind=kind, label=label)
        for next_function, _ in function.next_functions:
            if next_function is not None:  # None: an input that needs no gradient, e.g. a constant
                graph.add_edge(function, next_function)
                stack.append(next_function)
    return graph


def draw_levels(graph: nx.DiGraph, ax, title: str, xlabel: str = "level (steps from the inputs)"):
    """Draw `graph` with one column per topological level; nodes in a column are independent.

    Every edge must point from a lower level to a higher one, which holds for any DAG
    drawn this way: arrows run from the right side of a box to the left side of the next.
    """
    levels = list(nx.topological_generations(graph))
    boxes = {}
    for x, level in enumerate(levels):
        for i, node in enumerate(sorted(level, key=lambda n: graph.nodes[n].get("label", str(n)))):
            data = graph.nodes[node]
            boxes[node] = ax.text(x, (len(level) - 1) / 2 - i, data.get("label", str(node)),
                                  ha="center", va="center", fontsize=8,
                                  bbox=dict(boxstyle="round,pad=0.4", ec="0.3",
                                            fc=_COLOURS.get(data.get("kind"), "white")))
    for u, v in graph.edges:  # from the right middle of u's box to the left middle of v's
        ax.annotate("", xy=(0, 0.5), xycoords=boxes[v], xytext=(1, 0.5), textcoords=boxes[u],
                    arrowprops=dict(arrowstyle="-|>", color="0.3", shrinkA=4, shrinkB=4))
    tallest = max(len(level) for level in levels)
    ax.set(xlim=(-0.6, len(levels) - 0.4), ylim=(-tallest / 2 - 0.7, tallest / 2 + 0.2),
           xticks=range(len(levels)), yticks=[], title=title, xlabel=xlabel,
           ylabel="nodes of one level")
    kinds = [kind for kind in _COLOURS if any(d.get("kind") == kind for _, d in graph.nodes(data=True))]
    ax.legend(handles=[Patch(fc=_COLOURS[k], ec="0.3", label=k) for k in kinds], loc="lower right",
              fontsize=7)
    return ax
