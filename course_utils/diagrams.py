"""Teaching diagrams drawn with Matplotlib: boxes, arrows, networks, number grids, graphs.

Every diagram in the book is drawn by code on the page, so it is reproducible
and needs no image from elsewhere. The primitives come in two kinds:

* *pieces* that draw into axes you already have and return the artist:
  `draw_box`, `draw_node`, `draw_arrow`;
* *whole diagrams* that take `ax=None` (a new figure is made) and return
  `(fig, ax)`: `new_diagram`, `draw_network`, `draw_number_grid`,
  `draw_computational_graph`.

Coordinates are plain data units on axes with equal aspect and hidden spines,
so a box at (2, 1) sits two units right of one at (0, 1). Nothing is shown or
saved here: call `plt.show()` in the notebook. Example::

    fig, ax = new_diagram(6, 2, title="A neuron")
    draw_box(ax, (1, 1), "x")
    draw_node(ax, (3, 1), r"$\\sigma$")
    draw_arrow(ax, (1.5, 1), (2.6, 1), label="w")
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

__all__ = ["COLOURS", "draw_arrow", "draw_box", "draw_computational_graph", "draw_network", "draw_node",
           "draw_number_grid", "new_diagram"]

COLOURS = {"input": "#cfe8ff", "hidden": "#ffe3b3", "output": "#d5f5d5", "box": "#f2f2f2",
           "highlight": "#ffb3b3", "gradient": "#c0392b"}


def _axes(ax, figsize, title):
    """Return (fig, ax): the given axes' figure, or a new figure with one axes."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    fig.patch.set_alpha(1.0)  # opaque background: readable in dark mode
    if title:
        ax.set_title(title)
    return fig, ax


def _blank(ax):
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def new_diagram(width: float, height: float, title: str = "", ax=None, scale: float = 1.0):
    """Empty axes for a diagram, `width` x `height` data units, no ticks or frame.

    Args:
        width, height: the drawing area in data units (x from 0 to width, y from 0 to height).
        title: the figure's title.
        ax: draw into these axes instead of a new figure.
        scale: inches per data unit of the new figure.

    Returns:
        (fig, ax)
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width} and {height}.")
    fig, ax = _axes(ax, (max(2.0, width * scale), max(1.5, height * scale + 0.5)), title)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    _blank(ax)
    return fig, ax


def draw_box(ax, center, text: str, width: float = 1.0, height: float = 0.6,
             color: str = COLOURS["box"], fontsize: float = 11):
    """A rounded box with a centred label; returns the patch."""
    x, y = center
    box = FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                         boxstyle="round,pad=0.02,rounding_size=0.1", facecolor=color,
                         edgecolor="black", linewidth=1.2, zorder=2)
    ax.add_patch(box)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3)
    return box


def draw_node(ax, center, text: str = "", radius: float = 0.3,
              color: str = COLOURS["hidden"], fontsize: float = 11):
    """A circle (a neuron or a graph node) with a centred label; returns the patch."""
    circle = Circle(center, radius, facecolor=color, edgecolor="black", linewidth=1.2, zorder=2)
    ax.add_patch(circle)
    if text:
        ax.text(*center, text, ha="center", va="center", fontsize=fontsize, zorder=3)
    return circle


def draw_arrow(ax, start, end, label: str = "", color: str = "black", fontsize: float = 10,
               label_offset: float = 0.15, linestyle: str = "-"):
    """An arrow from `start` to `end`, with an optional label beside its middle; returns the patch."""
    arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color=color,
                            linewidth=1.3, linestyle=linestyle, zorder=1)
    ax.add_patch(arrow)
    if label:
        (x0, y0), (x1, y1) = start, end
        length = max(np.hypot(x1 - x0, y1 - y0), 1e-9)
        # Shift the label sideways (perpendicular to the arrow), to the arrow's left.
        nx_, ny_ = -(y1 - y0) / length, (x1 - x0) / length
        ax.text((x0 + x1) / 2 + label_offset * nx_, (y0 + y1) / 2 + label_offset * ny_, label,
                ha="center", va="center", fontsize=fontsize, color=color, zorder=3,
                bbox=dict(facecolor="white", edgecolor="none", pad=0.5, alpha=0.8))
    return arrow


def draw_network(layer_sizes, layer_names=None, node_labels=None, title: str = "A layered network",
                 ax=None, edge_labels=None, spacing: float = 2.0):
    """A fully connected layered network: a column of neurons per layer, every pair linked.

    Args:
        layer_sizes: neurons per layer, e.g. [3, 4, 1].
        layer_names: a caption under each column, e.g. ["input", "hidden", "output"].
        node_labels: per layer, a list of labels for its neurons (e.g. [["$x_1$", "$x_2$"], ...]).
        edge_labels: {(layer, i, j): text} labels on the link from neuron i of `layer`
            to neuron j of `layer + 1`.
        spacing: horizontal distance between layers.

    Returns:
        (fig, ax)
    """
    sizes = list(layer_sizes)
    if len(sizes) < 1 or any(int(n) != n or n < 1 for n in sizes):
        raise ValueError(f"layer_sizes must be positive integers, got {layer_sizes}.")
    sizes = [int(n) for n in sizes]  # 3.0 -> 3
    for name, value in (("layer_names", layer_names), ("node_labels", node_labels)):
        if value is not None and len(value) != len(sizes):
            raise ValueError(f"{name} needs one entry per layer ({len(sizes)}), got {len(value)}.")
    tallest = max(sizes)
    fig, ax = new_diagram(spacing * (len(sizes) - 1) + 2, tallest + 1.2, title, ax=ax, scale=0.9)
    positions = [[(1 + spacing * k, (tallest + 1.2) / 2 + (n - 1) / 2 - i) for i in range(n)]
                 for k, n in enumerate(sizes)]
    for k in range(len(sizes) - 1):
        for i, start in enumerate(positions[k]):
            for j, end in enumerate(positions[k + 1]):
                text = (edge_labels or {}).get((k, i, j), "")
                draw_arrow(ax, (start[0] + 0.3, start[1]), (end[0] - 0.3, end[1]), label=text,
                           color="#555555")
    for k, column in enumerate(positions):
        kind = "input" if k == 0 else "output" if k == len(sizes) - 1 else "hidden"
        for i, center in enumerate(column):
            label = node_labels[k][i] if node_labels is not None else ""
            draw_node(ax, center, label, color=COLOURS[kind])
        if layer_names is not None:
            ax.text(column[0][0], 0.15, layer_names[k], ha="center", va="bottom", fontsize=10)
    return fig, ax


def draw_number_grid(values, highlight=None, title: str = "A grid of numbers", ax=None,
                     fmt: str = "{:g}", highlight_color: str = COLOURS["highlight"],
                     cmap: str | None = None):
    """A 2-D array drawn as a grid of cells with its numbers, e.g. an image or a kernel.

    Args:
        values: a 2-D array-like (NumPy array, nested list or tensor).
        highlight: (row, col, height, width) of a window to outline and tint, e.g. where a
            convolution kernel sits.
        fmt: the format of each number.
        cmap: colour the cells by value with this colormap (e.g. "Greys"); default plain white.

    Returns:
        (fig, ax)
    """
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"values must be 2-D (rows x columns), got shape {array.shape}.")
    rows, cols = array.shape
    fig, ax = new_diagram(cols, rows, title, ax=ax, scale=0.55)
    colour_map = plt.get_cmap(cmap) if cmap else None
    span = float(array.max() - array.min()) or 1.0
    for r in range(rows):
        for c in range(cols):
            shade = colour_map((array[r, c] - array.min()) / span) if colour_map else "white"
            # Row 0 at the top, like a matrix or an image.
            ax.add_patch(Rectangle((c, rows - 1 - r), 1, 1, facecolor=shade, edgecolor="grey"))
            dark = colour_map is not None and np.mean(shade[:3]) < 0.5
            ax.text(c + 0.5, rows - 0.5 - r, fmt.format(array[r, c]), ha="center", va="center",
                    fontsize=10, color="white" if dark else "black")
    if highlight is not None:
        r, c, h, w = highlight
        if r < 0 or c < 0 or r + h > rows or c + w > cols:
            raise ValueError(f"highlight {highlight} does not fit in a {rows}x{cols} grid.")
        ax.add_patch(Rectangle((c, rows - r - h), w, h, facecolor=highlight_color, alpha=0.35,
                               edgecolor="red", linewidth=2.5, zorder=3))
    return fig, ax


def _edge_point(center, toward, half_width, half_height):
    """Where the segment from `center` to `toward` leaves a box of the given half sizes."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    t = min(half_width / abs(dx) if dx else np.inf, half_height / abs(dy) if dy else np.inf)
    return center[0] + t * dx, center[1] + t * dy


def draw_computational_graph(nodes, edges, edge_labels=None, positions=None,
                             title: str = "A computational graph", ax=None, node_colors=None,
                             node_width: float = 1.4, node_height: float = 0.6,
                             edge_label_color: str = COLOURS["gradient"]):
    """A computational graph from a list of nodes and edges, drawn left (inputs) to right.

    Args:
        nodes: node names, or (name, label) pairs; the label is what is written in the node.
        edges: (source, target) pairs of node names: data flows from source to target.
        edge_labels: {(source, target): text}, e.g. the local gradient on each edge.
        positions: {name: (x, y)}; by default each column is a level of the graph
            (`networkx.topological_generations`), inputs on the left.
        node_colors: {name: colour}; by default inputs blue, outputs green, the rest orange.
        node_width, node_height: size of each node's box (enlarge it for long or
            two-line labels).

    Returns:
        (fig, ax)
    """
    import networkx as nx  # here, not at the top: ~300 modules that only this diagram needs

    graph = nx.DiGraph()
    for node in nodes:
        name, label = node if isinstance(node, tuple) else (node, node)
        graph.add_node(name, label=label)
    for source, target in edges:
        if source not in graph or target not in graph:
            missing = source if source not in graph else target
            raise ValueError(f"edge ({source!r}, {target!r}) names {missing!r}, which is not in "
                             "nodes: add it to the node list.")
        graph.add_edge(source, target)
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError("the edges form a cycle; a computational graph must be acyclic.")
    if positions is None:
        positions = {}
        for level, names in enumerate(nx.topological_generations(graph)):
            for i, name in enumerate(names):
                positions[name] = ((node_width + 1.4) * level,
                                   -(node_height + 0.9) * (i - (len(names) - 1) / 2))
    xs, ys = zip(*positions.values())
    width = max(xs) - min(xs) + node_width + 0.6
    height = max(ys) - min(ys) + node_height + 1.0
    fig, ax = _axes(ax, (max(4.0, 1.1 * width), max(2.0, 1.1 * height + 0.4)), title)
    half_width, half_height = node_width / 2 + 0.05, node_height / 2 + 0.05
    for source, target in graph.edges:
        start = _edge_point(positions[source], positions[target], half_width, half_height)
        end = _edge_point(positions[target], positions[source], half_width, half_height)
        text = (edge_labels or {}).get((source, target), "")
        draw_arrow(ax, start, end, label=text, color="black" if not text else edge_label_color,
                   label_offset=0.25)
    for name in graph.nodes:
        default = ("input" if graph.in_degree(name) == 0
                   else "output" if graph.out_degree(name) == 0 else "hidden")
        colour = (node_colors or {}).get(name, COLOURS[default])
        draw_box(ax, positions[name], graph.nodes[name]["label"], width=node_width, height=node_height,
                 color=colour, fontsize=10)
    ax.set_xlim(min(xs) - node_width / 2 - 0.3, max(xs) + node_width / 2 + 0.3)
    ax.set_ylim(min(ys) - node_height / 2 - 0.5, max(ys) + node_height / 2 + 0.5)
    _blank(ax)
    return fig, ax
