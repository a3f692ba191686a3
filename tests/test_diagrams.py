"""Tests for course_utils.diagrams: each primitive draws, returns its figure/axes, shows its labels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

from course_utils.diagrams import (  # noqa: E402
    draw_arrow, draw_box, draw_computational_graph, draw_network, draw_node, draw_number_grid,
    new_diagram)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_new_diagram_has_blank_axes_of_the_given_size():
    fig, ax = new_diagram(6, 2, title="A neuron")
    assert fig is ax.figure
    assert ax.get_title() == "A neuron"
    assert ax.get_xlim() == (0, 6) and ax.get_ylim() == (0, 2)
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    with pytest.raises(ValueError, match="positive"):
        new_diagram(0, 2)


def test_pieces_add_patches_and_labels():
    fig, ax = new_diagram(5, 2)
    box = draw_box(ax, (1, 1), "x")
    node = draw_node(ax, (3, 1), "sum")
    arrow = draw_arrow(ax, (1.5, 1), (2.7, 1), label="w")
    assert isinstance(box, FancyBboxPatch) and isinstance(node, Circle)
    assert isinstance(arrow, FancyArrowPatch)
    assert {box, node, arrow} <= set(ax.patches)
    assert texts(ax) == ["x", "sum", "w"]
    fig.canvas.draw()  # renders without error


def test_draw_network_draws_every_neuron_and_connection():
    fig, ax = draw_network([3, 4, 1], layer_names=["input", "hidden", "output"],
                           node_labels=[["$x_1$", "$x_2$", "$x_3$"], ["", "", "", ""], ["$y$"]],
                           edge_labels={(1, 0, 0): "$v_1$"}, title="MLP")
    assert ax.get_title() == "MLP"
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(circles) == 3 + 4 + 1
    assert len(arrows) == 3 * 4 + 4 * 1
    for label in ["input", "hidden", "output", "$x_1$", "$y$", "$v_1$"]:
        assert label in texts(ax)
    fig.canvas.draw()


def test_draw_network_rejects_bad_input():
    with pytest.raises(ValueError, match="positive integers"):
        draw_network([3, 0])
    with pytest.raises(ValueError, match="one entry per layer"):
        draw_network([2, 1], layer_names=["only one"])


def test_draw_number_grid_writes_every_value_and_the_window():
    values = np.arange(12).reshape(3, 4)
    fig, ax = draw_number_grid(values, highlight=(1, 1, 2, 2), title="Image", cmap="Greys")
    assert ax.get_title() == "Image"
    assert texts(ax) == [str(v) for v in range(12)]
    cells = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(cells) == 12 + 1  # the cells and the window
    window = cells[-1]
    assert window.get_xy() == (1, 0) and window.get_width() == 2 and window.get_height() == 2
    fig.canvas.draw()
    # Tensors work too, into existing axes.
    fig2, ax2 = plt.subplots()
    assert draw_number_grid(torch.eye(2), ax=ax2, fmt="{:.0f}") == (fig2, ax2)
    assert texts(ax2) == ["1", "0", "0", "1"]


def test_draw_number_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        draw_number_grid([1, 2, 3])
    with pytest.raises(ValueError, match="does not fit"):
        draw_number_grid(np.zeros((3, 3)), highlight=(2, 2, 2, 2))


def test_draw_computational_graph_lays_out_levels_and_gradients():
    nodes = [("a", "$a$"), ("b", "$b$"), ("c", "$c=a+b$"), ("d", "$d=b+1$"), ("e", r"$e=c\,d$")]
    edges = [("a", "c"), ("b", "c"), ("b", "d"), ("c", "e"), ("d", "e")]
    grads = {("c", "e"): r"$\partial e/\partial c=d$", ("d", "e"): r"$\partial e/\partial d=c$"}
    fig, ax = draw_computational_graph(nodes, edges, edge_labels=grads, title="e = (a+b)(b+1)")
    assert ax.get_title() == "e = (a+b)(b+1)"
    labels = texts(ax)
    for label in ["$a$", "$b$", "$c=a+b$", r"$e=c\,d$", *grads.values()]:
        assert label in labels
    assert len([p for p in ax.patches if isinstance(p, FancyBboxPatch)]) == 5
    assert len([p for p in ax.patches if isinstance(p, FancyArrowPatch)]) == 5
    # Inputs in the first column, the output in the last.
    x_of = {t.get_text(): t.get_position()[0] for t in ax.texts}
    assert x_of["$a$"] == x_of["$b$"] < x_of["$c=a+b$"] < x_of[r"$e=c\,d$"]
    fig.canvas.draw()


def test_draw_computational_graph_rejects_bad_input():
    with pytest.raises(ValueError, match="not in nodes"):
        draw_computational_graph(["x"], [("x", "y")])
    with pytest.raises(ValueError, match="cycle"):
        draw_computational_graph(["x", "y"], [("x", "y"), ("y", "x")])


def test_computational_graph_box_size_and_colours():
    from course_utils.diagrams import COLOURS
    fig, ax = draw_computational_graph([("x", "x\ntwo lines"), "y"], [("x", "y")],
                                       node_width=2.0, node_height=0.9,
                                       node_colors={"y": COLOURS["highlight"]})
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 2
    assert all(abs(box.get_width() - 2.0) < 1e-9 and abs(box.get_height() - 0.9) < 1e-9
               for box in boxes)
    assert matplotlib.colors.same_color(boxes[1].get_facecolor(), COLOURS["highlight"])
    fig.canvas.draw()
