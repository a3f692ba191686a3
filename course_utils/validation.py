"""Clear errors for the mistakes students make most with models, losses, targets and the Runner."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["check_loss_inputs", "check_optimizer_holds_model", "check_runner_arguments", "dataset_targets",
           "explain_forward_error"]

_CLASS_INDEX_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)
_SAME_SHAPE_LOSSES = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss, nn.BCEWithLogitsLoss)
_FUNCTIONS = {F.cross_entropy: nn.CrossEntropyLoss, F.nll_loss: nn.NLLLoss, F.mse_loss: nn.MSELoss,
              F.l1_loss: nn.L1Loss, F.binary_cross_entropy: nn.BCELoss,
              F.binary_cross_entropy_with_logits: nn.BCEWithLogitsLoss}


def check_loss_inputs(loss_fn, outputs: torch.Tensor, targets: torch.Tensor, all_targets=None) -> None:
    """Raise a ValueError that explains the fix when `loss_fn(outputs, targets)` would be wrong.

    PyTorch accepts some wrong combinations silently (MSELoss broadcasts a
    (B, 1) output against (B,) targets into a (B, B) matrix) and reports
    others with messages that do not say what to change. Losses this function
    does not know are not checked.

    Args:
        loss_fn: a loss module such as `nn.CrossEntropyLoss()` or a function such as `F.mse_loss`.
        outputs: the model's output for one batch.
        targets: the targets for the same batch.
        all_targets: optionally every target of the dataset, so that a bad class index in a later
            batch is found now (one check per dataset, not per batch).
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
        if targets.dtype not in (torch.int64, torch.uint8):
            raise ValueError(f"{name} needs class indices as int64 (long) tensors, got {targets.dtype}: convert "
                             f"them with `targets.long()` (or build them with dtype=torch.long).")
        num_classes = outputs.shape[1]
        every = targets if all_targets is None else all_targets
        every = every[every != getattr(loss_fn, "ignore_index", -100)]  # e.g. padding: allowed
        low, high = (int(v) for v in torch.aminmax(every.reshape(-1))) if every.numel() else (0, 0)
        if low < 0 or high >= num_classes:
            where = "the dataset's targets" if all_targets is not None else "this batch's targets"
            raise ValueError(
                f"{name}: target class indices must lie in 0..{num_classes - 1} for {num_classes} outputs, "
                f"found {low}..{high} in {where}. Give the last layer one output per class, or fix the labels.")
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


def check_runner_arguments(model, optimizer, loss_fn, metrics, scheduler_interval: str, scheduler=None) -> None:
    """Catch the Runner's most common wrong arguments with a message that says the fix."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    if isinstance(loss_fn, type):
        raise TypeError(f"loss_fn must be a loss object, not the class {loss_fn.__name__}: add brackets, "
                        f"e.g. {loss_fn.__name__}().")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(outputs, targets), got {type(loss_fn).__name__}.")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim optimizer (or None to only evaluate), got "
                        f"{type(optimizer).__name__}; e.g. torch.optim.SGD(model.parameters(), lr=0.1).")
    if metrics is not None and not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict of name -> function, e.g. {{'acc': accuracy}}, got "
                        f"{type(metrics).__name__}.")
    for name, fn in (metrics or {}).items():
        if not callable(fn):
            raise TypeError(f"metric {name!r} must be a function(outputs, targets), got {type(fn).__name__}.")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}.")
    if scheduler_interval == "step" and isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise ValueError("ReduceLROnPlateau lowers the learning rate when the loss stops improving, so it needs "
                         "a loss to look at: the Runner steps it once per epoch with the last dev_loss (train_loss "
                         "without a dev set). Use scheduler_interval='epoch'.")


def check_optimizer_holds_model(optimizer, model: nn.Module) -> None:
    """Refuse an optimizer that would update none of the model's parameters (it would train nothing)."""
    own = {id(p) for p in model.parameters()}
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if own and not own & held:
        raise ValueError("The optimizer holds none of this model's parameters, so training would change nothing. "
                         "Build it from the same model you give the Runner: "
                         "torch.optim.SGD(model.parameters(), ...), after creating that model.")


def dataset_targets(loader):
    """All targets of a loader when they are one tensor already (TensorDataset, DeviceLoader, ImageDataset)."""
    targets = getattr(loader, "targets", None)  # DeviceLoader
    if targets is None:
        dataset = getattr(loader, "dataset", None)
        if getattr(dataset, "target_transform", None) is not None:
            return None  # the batches' labels are not the stored ones (e.g. "is it a 5?" from MNIST)
        tensors = getattr(dataset, "tensors", None)  # TensorDataset
        targets = tensors[1] if tensors is not None and len(tensors) == 2 else getattr(dataset, "targets", None)
    return targets if isinstance(targets, torch.Tensor) else None


def explain_forward_error(error: RuntimeError, inputs: torch.Tensor):
    """A clearer error for a model that cannot take the batch's shape, or None to keep the original."""
    message = str(error)
    if "shapes cannot be multiplied" in message and inputs.ndim > 2:
        return ValueError(f"The model got inputs of shape {tuple(inputs.shape)}, but an nn.Linear layer needs "
                          f"(batch, features). Add nn.Flatten() before the first nn.Linear (or reshape the "
                          f"inputs). PyTorch said: {message}")
    if "shapes cannot be multiplied" in message:
        return ValueError(f"A layer got inputs of the wrong size: {message}. The number of input features of "
                          f"an nn.Linear must equal the size of what reaches it (inputs {tuple(inputs.shape)}).")
    if inputs.dtype == torch.float64 and ("same dtype" in message or "should be the same" in message):
        return TypeError(f"The inputs are float64 but the model's weights are float32. NumPy arrays are float64 "
                         f"by default: convert the inputs with x.float(), or build them with "
                         f"torch.as_tensor(array, dtype=torch.float32). PyTorch said: {message}")
    return None
