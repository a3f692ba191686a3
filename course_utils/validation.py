"""Clear errors for the mistakes students make most with losses and targets."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["check_loss_inputs"]

_CLASS_INDEX_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)
_SAME_SHAPE_LOSSES = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss, nn.BCEWithLogitsLoss)
_FUNCTIONS = {F.cross_entropy: nn.CrossEntropyLoss, F.nll_loss: nn.NLLLoss, F.mse_loss: nn.MSELoss,
              F.l1_loss: nn.L1Loss, F.binary_cross_entropy: nn.BCELoss,
              F.binary_cross_entropy_with_logits: nn.BCEWithLogitsLoss}


def check_loss_inputs(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    """Raise a ValueError that explains the fix when `loss_fn(outputs, targets)` would be wrong.

    PyTorch accepts some wrong combinations silently (MSELoss broadcasts a
    (B, 1) output against (B,) targets into a (B, B) matrix) and reports
    others with messages that do not say what to change. Losses this function
    does not know are not checked.

    Args:
        loss_fn: a loss module such as `nn.CrossEntropyLoss()` or a function such as `F.mse_loss`.
        outputs: the model's output for one batch.
        targets: the targets for the same batch.
    """
    kind = _FUNCTIONS.get(loss_fn, type(loss_fn))
    name = kind.__name__
    out_shape, target_shape = tuple(outputs.shape), tuple(targets.shape)
    if issubclass(kind, _CLASS_INDEX_LOSSES):
        if targets.is_floating_point():
            if target_shape == out_shape:
                return  # class probabilities (soft labels) are allowed
            raise ValueError(
                f"{name} got float targets of shape {target_shape} ({targets.dtype}) for outputs of shape "
                f"{out_shape}. Class targets must be integer class indices: convert them with `targets.long()` "
                f"(float targets are only valid as class probabilities with the same shape as the outputs).")
        if outputs.ndim < 1 or targets.ndim != outputs.ndim - 1:
            hint = " Use `targets.squeeze(1)`." if targets.ndim == outputs.ndim and target_shape[1:2] == (1,) else ""
            raise ValueError(
                f"{name} needs outputs of shape (batch, classes) and targets of shape (batch,); got outputs "
                f"{out_shape} and targets {target_shape}.{hint}")
        if outputs.shape[0] != targets.shape[0]:
            raise ValueError(f"{name}: the model returned {outputs.shape[0]} rows for a batch of "
                             f"{targets.shape[0]} targets; check reshapes inside the model's forward.")
        num_classes = outputs.shape[1]
        if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= num_classes):
            raise ValueError(
                f"{name}: target class indices must lie in 0..{num_classes - 1} for {num_classes} outputs, "
                f"found {int(targets.min())}..{int(targets.max())}. Give the last layer one output per class.")
    elif issubclass(kind, _SAME_SHAPE_LOSSES):
        if out_shape != target_shape:
            hint = ""
            if out_shape == target_shape + (1,):
                hint = " Use `outputs.squeeze(1)` or `targets.unsqueeze(1)`."
            elif target_shape == out_shape + (1,):
                hint = " Use `targets.squeeze(1)`."
            raise ValueError(
                f"{name} needs outputs and targets of the same shape; got outputs {out_shape} and targets "
                f"{target_shape}, which PyTorch would broadcast into a wrong loss.{hint}")
        if not targets.is_floating_point():
            raise ValueError(f"{name} needs float targets, got {targets.dtype}: convert them with `targets.float()`.")
