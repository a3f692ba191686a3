"""Synthetic datasets made by our own code, used as labelled offline fallbacks.

Nothing here pretends to be a real dataset: every generator's output is
described as synthetic wherever it is used.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["SHAPE_CLASSES", "draw_digits", "make_credit_like", "make_shapes", "make_survey"]

SHAPE_CLASSES = ["disk", "ring", "square", "triangle", "cross", "star", "crescent", "arrow", "L-shape", "flag"]


def make_shapes(num_images: int, size: int = 32, seed: int = 0, *, mirror: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour images of 10 shapes (disk, ring, ..., flag) on varied backgrounds: the CIFAR-10 stand-in.

    Each image has a background (a colour gradient in a random direction with
    blotchy low-frequency colour and fine noise), in half of them a small
    distracting blob, and one object of the class: a soft-edged silhouette at a
    random position, size (half to four fifths of the image across) and tilt (up
    to 15 degrees), lit more brightly on one side, in one image of ten partly
    hidden behind a blob. Colours are drawn independently of the class (a grey
    level plus a tint), so a model has to see the shape. Four shapes are not
    mirror-symmetric (crescent, arrow, L-shape, flag); each image shows them
    mirrored with probability 1/2, so the distribution of every class is
    unchanged by a horizontal flip: as in CIFAR-10, a flip is a true invariance.
    A small CNN trained on a thousand of these images stays far from 100%. They
    are drawn, not photographed: no textures, parts or viewpoints of real objects.

    Args:
        num_images, size: how many images, and their height and width.
        seed: the random seed; the same seed gives the same images.
        mirror: False draws the asymmetric shapes always the same way round, so that
            a flip does change the distribution (for tests of the flip invariance).

    Returns:
        images: uint8 tensor (N, 3, size, size); labels: int64 tensor (N,), balanced.
    """
    g = torch.Generator().manual_seed(seed)
    labels = (torch.arange(num_images) % len(SHAPE_CLASSES))[torch.randperm(num_images, generator=g)]
    chunks = [_draw_shapes(part, size, g, mirror) for part in labels.split(1000)]  # parts stay in the CPU cache
    return torch.cat(chunks) if chunks else torch.empty(0, 3, size, size, dtype=torch.uint8), labels


def _draw_shapes(labels: torch.Tensor, size: int, g: torch.Generator, mirror: bool) -> torch.Tensor:
    """The images of `make_shapes` for these labels, drawn with the random numbers of `g`."""
    n = len(labels)

    def rand(low, high, *shape):  # one random value per image (or per image and channel)
        return low + (high - low) * torch.rand(n, *shape, generator=g)

    def one(low, high):  # shaped (n, 1, 1) to broadcast over pixels
        return rand(low, high).view(n, 1, 1)

    def colour():  # a grey level plus a random tint, shaped (n, 3, 1, 1)
        tint = 0.35 * torch.randn(n, 3, 1, 1, generator=g)
        return (rand(0.1, 0.9, 1, 1, 1) + tint - tint.mean(dim=1, keepdim=True)).clamp(0, 1)

    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size  # pixel centres in (0, 1)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (H, W)
    soft = 1.0 / size  # edges about one pixel wide

    def paint(images, mask, paint_colour):  # mask (n, H, W) in [0, 1]: 1 paints, 0 keeps the image
        return torch.lerp(images, paint_colour.expand_as(images), mask.unsqueeze(1))

    def blob(cx, cy, radius, aspect, angle):  # a soft ellipse
        dx, dy = xx - cx, yy - cy
        u = (dx * torch.cos(angle) + dy * torch.sin(angle)) / (radius * aspect)
        v = (dy * torch.cos(angle) - dx * torch.sin(angle)) * aspect / radius
        return torch.sigmoid((1 - torch.sqrt(u**2 + v**2)) * radius / soft)

    start, end, direction = colour(), colour(), one(0, 2 * math.pi)
    t = ((xx - 0.5) * torch.cos(direction) + (yy - 0.5) * torch.sin(direction) + 0.5).clamp(0, 1)
    images = start + (end - start) * t.unsqueeze(1)
    blotches = torch.randn(n, 3, 4, 4, generator=g)
    images = images + 0.05 * F.interpolate(blotches, size=(size, size), mode="bicubic", align_corners=False)
    distractor = (torch.rand(n, 1, 1, generator=g) < 0.5).float()  # behind the object
    images = paint(images, distractor * blob(one(0, 1), one(0, 1), one(0.04, 0.12), one(0.5, 2), one(0, math.pi)),
                   colour())

    cx, cy, scale = one(0.3, 0.7), one(0.3, 0.7), one(0.28, 0.42)
    tilt = one(-15, 15) * math.pi / 180
    flip = torch.rand(n, 1, 1, generator=g) < 0.5
    mirror = torch.where(flip & mirror, -1.0, 1.0)  # -1: the shape mirrored left to right
    dx, dy = xx - cx, yy - cy
    u = (dx * torch.cos(tilt) + dy * torch.sin(tilt)) / scale * mirror  # the object's own frame
    v = (dy * torch.cos(tilt) - dx * torch.sin(tilt)) / scale
    mask = torch.empty(n, size, size)
    for label in range(len(SHAPE_CLASSES)):
        index = (labels == label).nonzero().squeeze(1)
        distance = _shape_distance(label, u[index], v[index]) * scale[index]  # in image widths
        mask[index] = torch.sigmoid(-distance / soft)
    foreground = colour()
    middle = (start + end) / 2
    too_close = (foreground - middle).abs().sum(dim=1, keepdim=True) < 0.5
    foreground = torch.where(too_close, 1 - foreground, foreground)  # keep the object visible
    light = 1 + 0.25 * one(-1, 1) * u.clamp(-1, 1)  # brighter on one side
    images = paint(images, mask, (foreground * light.unsqueeze(1)).clamp(0, 1))
    occluded = (torch.rand(n, 1, 1, generator=g) < 0.1).float()  # a blob in front of the object
    images = paint(images, occluded * blob(cx + one(-0.2, 0.2), cy + one(-0.2, 0.2), one(0.05, 0.1), one(0.5, 2),
                                           one(0, math.pi)), colour())
    images = images + 0.03 * torch.randn(images.shape, generator=g)
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def _box(u, v, left, right, top, bottom):
    """Approximate signed distance to an axis-aligned box (negative inside)."""
    return torch.maximum(torch.maximum(left - u, u - right), torch.maximum(top - v, v - bottom))


def _shape_distance(label: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Approximate signed distance to class `label`'s silhouette, in the object's frame (about [-1, 1]^2).

    v grows downwards, as image rows do. Negative inside the shape.
    """
    r = torch.sqrt(u**2 + v**2)
    if label == 0:  # disk
        return r - 0.85
    if label == 1:  # ring
        return (r - 0.68).abs() - 0.2
    if label == 2:  # square
        return _box(u, v, -0.72, 0.72, -0.72, 0.72)
    if label == 3:  # triangle pointing up
        side = math.hypot(1.6, 1)
        return torch.maximum(v - 0.7, torch.maximum((-1.6 * u - v - 0.9) / side, (1.6 * u - v - 0.9) / side))
    if label == 4:  # cross
        return torch.minimum(_box(u, v, -0.9, 0.9, -0.25, 0.25), _box(u, v, -0.25, 0.25, -0.9, 0.9))
    if label == 5:  # five-pointed star
        angle = torch.atan2(v, u) + math.pi / 2
        return 0.7 * (r - 0.42 - 0.5 * (0.5 + 0.5 * torch.cos(5 * angle)) ** 2)
    if label == 6:  # crescent, open to the right
        return torch.maximum(r - 0.85, 0.68 - torch.sqrt((u - 0.45) ** 2 + (v + 0.05) ** 2))
    if label == 7:  # arrow pointing right
        head = torch.maximum(torch.maximum(0.1 - u, (v.abs() - (0.95 - u) * 0.75) / 1.25), u - 0.95)
        return torch.minimum(_box(u, v, -0.9, 0.15, -0.18, 0.18), head)
    if label == 8:  # L-shape, foot to the right
        return torch.minimum(_box(u, v, -0.7, -0.25, -0.9, 0.9), _box(u, v, -0.7, 0.75, 0.45, 0.9))
    if label == 9:  # flag: a pole with the cloth to its right
        return torch.minimum(_box(u, v, -0.75, -0.6, -0.95, 0.95), _box(u, v, -0.6, 0.7, -0.95, -0.1))
    raise ValueError(f"no shape for label {label}")


def draw_digits(digits: torch.Tensor, copies: int, seed: int = 0) -> torch.Tensor:
    """Draw small digit images into MNIST's 28x28 frame, each `copies` times, moved a little at random.

    Each digit (an (N, 1, h, w) tensor of ink in [0, 1], e.g. scikit-learn's 8x8
    handwritten digits) is enlarged smoothly, its strokes are sharpened (a steep
    sigmoid of the ink), and it is drawn into a 20x20 box centred in 28x28, as
    MNIST's digits are, then moved by a random shift of up to 2 pixels, a
    rotation of up to 8 degrees, a shear and a scale of 0.9 to 1.1. Returns
    float images (N * copies, 1, 28, 28) in [0, 1]; copies of one digit are
    consecutive.
    """
    g = torch.Generator().manual_seed(seed)
    source = digits.float().repeat_interleave(copies, dim=0)
    n = len(source)
    ink = F.interpolate(source, size=(64, 64), mode="bicubic", align_corners=False).clamp(0, 1)
    ink = torch.sigmoid(12 * (ink - 0.45))  # crisp stroke edges, grey only at the border

    def rand(low, high):
        return low + (high - low) * torch.rand(n, generator=g)

    angle = rand(-8, 8) * math.pi / 180
    shear, scale = rand(-0.15, 0.15), rand(0.9, 1.1) * 20 / 28  # the digit box is 20 of 28 pixels
    shift = torch.stack([rand(-2, 2), rand(-2, 2)], dim=1) * 2 / 28  # pixels -> [-1, 1] coordinates
    cos, sin = torch.cos(angle), torch.sin(angle)
    forward = torch.stack([torch.stack([cos, cos * shear - sin], dim=1),
                           torch.stack([sin, sin * shear + cos], dim=1)], dim=1) * scale.view(n, 1, 1)
    inverse = torch.linalg.inv(forward)  # grid_sample asks, for each output pixel, where to read
    theta = torch.cat([inverse, -(inverse @ shift.unsqueeze(2))], dim=2)
    grid = F.affine_grid(theta, [n, 1, 28, 28], align_corners=False)
    return F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp(0, 1)


def make_survey(num_rows: int = 143, seed: int = 0):
    """A synthetic stand-in for the Somerville Happiness Survey.

    Six ratings from 1 to 5 (X1..X6) and a 0/1 answer D drawn from a logistic
    model of the ratings, so the columns look like the real file's.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    ratings = rng.integers(1, 6, size=(num_rows, 6))
    weights = np.array([0.9, 0.1, 0.3, 0.6, 0.2, 0.5])
    logits = (ratings - 3) @ weights
    happy = (rng.random(num_rows) < 1 / (1 + np.exp(-logits))).astype(int)
    frame = pd.DataFrame(ratings, columns=[f"X{i}" for i in range(1, 7)])
    frame.insert(0, "D", happy)
    return frame


def make_credit_like(num_rows: int = 30000, positive_rate: float = 0.2212, seed: int = 0):
    """A synthetic, imbalanced binary classification table with 23 features.

    Generated by scikit-learn's `make_classification` with 5% label noise and,
    on average, the positive rate of the credit-card default data (22.12%);
    column names are generic (F1..F23).
    """
    import pandas as pd
    from sklearn.datasets import make_classification

    flip = 0.05  # label noise: this share of rows gets a random label, half of them positive
    base_rate = (positive_rate - flip / 2) / (1 - flip)  # so that the final rate is `positive_rate`
    x, y = make_classification(n_samples=num_rows, n_features=23, n_informative=8, n_redundant=6,
                               weights=[1 - base_rate], flip_y=flip, class_sep=0.8, random_state=seed)
    frame = pd.DataFrame(x, columns=[f"F{i}" for i in range(1, 24)])
    frame["default payment next month"] = y
    return frame
