"""Batch augmentation decides per image, at random, with the requested probability (issue 11, point 8)."""

import pytest
import torch

from course_utils import random_horizontal_flip


def _flipped(images: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Which images of the batch came out flipped; fails unless each is exactly kept or exactly flipped."""
    kept = (out == images).flatten(1).all(1)
    flipped = (out == images.flip(-1)).flatten(1).all(1)
    assert bool((kept ^ flipped).all()), "an image was neither kept whole nor flipped whole"
    return flipped


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_random_flip_flips_each_image_independently(p):
    """4,000 images: the flipped share is p within 5 standard errors, and the choices carry no pattern
    (neighbours agree, and two calls agree, as often as independent coins would: p^2 + (1-p)^2)."""
    torch.manual_seed(0)
    n = 4000
    images = torch.rand(n, 3, 4, 5)  # no image equals its mirror image
    first = _flipped(images, random_horizontal_flip(images, p))
    second = _flipped(images, random_horizontal_flip(images, p))
    agree = p ** 2 + (1 - p) ** 2
    tolerance = lambda q: 5 * (q * (1 - q) / n) ** 0.5  # noqa: E731 (5 standard errors of a share)
    assert abs(first.float().mean().item() - p) < tolerance(p)  # one coin per batch: 0 or 1
    neighbours = (first[1:] == first[:-1]).float().mean().item()
    assert abs(neighbours - agree) < tolerance(agree)  # alternating or blocked choices
    assert abs((first == second).float().mean().item() - agree) < tolerance(agree)  # the same choice every call
