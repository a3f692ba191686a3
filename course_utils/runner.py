"""The Runner: train / evaluate / predict / save / load, in the lineage of NNDL's RunnerV3.

RunnerV1 solved linear regression in closed form, RunnerV2 added gradient
descent, dev-set evaluation and best-model saving, RunnerV3 added mini-batches
from a DataLoader and `state_dict` saving (chapter 5 tells the story). This
Runner keeps RunnerV3's names and adds what a real training run needs:
callbacks, early stopping, gradient clipping, a learning-rate scheduler, and
checkpoints that let a killed run resume exactly where it stopped.

It never waits for the GPU inside a training step: losses and outputs are
summed where they are computed and read once per log line or evaluation.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm  # the text bar (terminals, and notebooks without ipywidgets)

from .callbacks import BestModelSaver, Callback
from .checkpoint import (atomic_save, get_rng_state, load_checkpoint, load_state_dict_checked, plain_numbers,
                         set_rng_state)
from .utils import get_device
from .validation import (check_loss_inputs, check_optimizer_holds_model, check_runner_arguments, dataset_targets,
                         explain_forward_error)

__all__ = ["Runner"]

_OFF, _ON = {"0", "false", "no", "off"}, {"1", "true", "yes", "on"}


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    # Colab's shell is a subclass of Jupyter's ZMQInteractiveShell
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


def progress_wanted(progress: bool | None = None) -> bool:
    """Whether `Runner.train` shows a progress bar.

    `progress=True/False` decides. Otherwise the environment variable
    COURSE_PROGRESS does (1 on, 0 off); without it, bars show in a notebook or
    a terminal and stay quiet in CI (the CI variable is set) and wherever
    stderr goes to a log. `make` sets COURSE_PROGRESS=0 for the book builds and
    the notebook tests, so the website and CI logs carry no bars.
    """
    if progress is not None:
        return bool(progress)
    setting = os.environ.get("COURSE_PROGRESS", "").strip().lower()
    if setting in _OFF | _ON:
        return setting in _ON
    if setting:
        raise ValueError(f"COURSE_PROGRESS={setting!r} is not understood: use 1 (show progress bars) or 0 (hide).")
    if os.environ.get("CI"):
        return False
    return _in_notebook() or sys.stderr.isatty()


def _progress_bar():
    """tqdm's widget bar in a notebook with ipywidgets, else its text bar (it redraws in place in Jupyter too)."""
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
            from tqdm.notebook import tqdm as notebook_tqdm
            return notebook_tqdm
        except ImportError:
            pass
    return tqdm


class Runner:
    """Runs the training loop so a chapter can focus on the model and the data.

    Args:
        model: the network.
        optimizer: an optimizer over `model.parameters()` (None for a runner that only evaluates).
        loss_fn: e.g. `nn.CrossEntropyLoss()`; called as `loss_fn(outputs, targets)`. A loss
            module goes to the device with the model, so its class weights go along.
        metrics: name -> function(outputs, targets) giving a number, e.g. `{"acc": accuracy}`.
            Metrics see whole sets at once: `evaluate` applies them to all outputs of the
            loader, and the `train_<name>` values to all training outputs since the last
            evaluation (taken in training mode, e.g. with dropout on), so F1 or balanced
            accuracy are exact, not batch averages. (To bound memory, the training outputs
            are scored in chunks of 2**24 numbers, and the chunks' scores averaged: only a
            very large output, such as a segmentation map or a big vocabulary, makes the
            `train_` value of F1 or IoU a chunk average; `evaluate` is always exact.)
        device: a device or its name; by default `get_device()` (CUDA, MPS, CPU).
        scheduler: optional learning-rate scheduler, stepped every epoch
            (or every step with `scheduler_interval="step"`).
        callbacks: extra `Callback` objects (e.g. `EarlyStopping`).
        grad_clip: if set, clip the gradients' global norm to this value.
        amp: run the forward pass under bfloat16 autocast (mixed precision). It pays off
            on CUDA GPUs with bfloat16 tensor cores (compute capability 8.0 and up, e.g.
            A100, H100; not Colab's T4) when the model keeps the GPU busy computing, as
            full-width CNNs do; small models gain nothing. It also works on a CPU, where
            it is usually slower. Off by default.
        channels_last: store the model and 4-D inputs channels-last (NHWC), the layout
            GPU convolution kernels prefer. Off by default; works on CUDA and CPU. On
            other devices (Apple's MPS) both options are turned off, with a warning.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, loss_fn,
                 metrics: dict | None = None, device=None, scheduler=None, scheduler_interval: str = "epoch",
                 callbacks=(), grad_clip: float | None = None, amp: bool = False,
                 channels_last: bool = False) -> None:
        check_runner_arguments(model, optimizer, loss_fn, metrics, scheduler_interval, scheduler)
        if isinstance(device, torch.device) and device.type not in ("cpu", "cuda", "mps"):
            self.device = device  # e.g. "meta", for checking shapes without data: used as given
        else:  # checks that the device exists here, with a clear message if not
            self.device = get_device(None if device is None else str(device))
        if (amp or channels_last) and self.device.type not in ("cuda", "cpu"):
            # speed options, not part of the lesson: a chapter that asks for them still runs on a Mac
            warnings.warn(f"Runner: amp and channels_last are used on CUDA and CPU devices only; on "
                          f"{self.device} they are off (PyTorch's support there is incomplete). "
                          "Training is otherwise the same.", stacklevel=2)
            amp = channels_last = False
        self.amp, self.channels_last = amp, channels_last
        memory_format = torch.channels_last if channels_last else torch.preserve_format
        self.model = model.to(self.device, memory_format=memory_format)
        if isinstance(loss_fn, nn.Module):  # e.g. CrossEntropyLoss(weight=...) keeps its weights on the GPU too
            loss_fn = loss_fn.to(self.device)
        self.optimizer, self.loss_fn, self.metrics = optimizer, loss_fn, dict(metrics or {})
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.callbacks, self.grad_clip = list(callbacks), grad_clip
        self.history: dict[str, list] = {}
        self.stop_training = False
        self.epoch = self.global_step = 0
        self._bar = None
        self.verbose = True

    # ---- moving data and computing the loss ------------------------------------------
    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _autocast(self):
        """bfloat16 autocast when `amp` is on; otherwise no context at all (it costs microseconds a step)."""
        if self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _split(self, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("Each batch must be a pair (inputs, targets); wrap your tensors in "
                             "torch.utils.data.TensorDataset(inputs, targets).")
        return self._to_device(batch[0]), batch[1].to(self.device, non_blocking=True)

    def _forward_loss(self, x: torch.Tensor, y: torch.Tensor, check: bool = False, all_targets=None):
        try:
            with self._autocast():
                outputs = self.model(x)
        except RuntimeError as error:
            clearer = explain_forward_error(error, x)
            if clearer is None:
                raise
            raise clearer from error
        outputs = _full_precision(outputs)
        if check:  # on a loader's first batch: a clear message instead of a cryptic one (or none)
            check_loss_inputs(self.loss_fn, outputs, y, all_targets=all_targets)
        try:
            return outputs, self.loss_fn(outputs, y)
        except (IndexError, RuntimeError):  # e.g. a bad label in a later batch: say which, if we can
            check_loss_inputs(self.loss_fn, outputs, y)
            raise

    def _metrics(self, outputs, y) -> dict:
        return {name: float(fn(outputs, y)) for name, fn in self.metrics.items()}

    # ---- training --------------------------------------------------------------------
    def train(self, train_loader, dev_loader=None, num_epochs: int = 1, log_steps: int | None = None,
              eval_steps: int | None = None, save_path=None, monitor: str = "dev_loss", mode: str | None = None,
              checkpoint_path=None, progress: bool | None = None, verbose: bool = True) -> dict:
        """Train for `num_epochs` epochs and return the history.

        Args:
            train_loader: DataLoader (or DeviceLoader) of (inputs, targets) batches.
            dev_loader: optional loader for evaluation on the dev (validation) set.
            num_epochs: total number of epochs (a resumed run counts the finished ones).
            log_steps: print the training loss every `log_steps` steps.
            eval_steps: evaluate every `eval_steps` steps (and at the end) instead of every epoch.
            save_path: save the best model's weights here, judged by `monitor`.
            monitor: logged value that decides "best", e.g. "dev_loss" or "dev_acc".
            mode: "min" or "max"; by default "min" for losses and errors, "max" for scores.
            checkpoint_path: write a full checkpoint here after every epoch. If the file exists
                when training starts, training resumes from it exactly (model, optimizer and its
                learning rate, scheduler, callbacks, random state). A run that already finished
                (all `num_epochs` done, or stopped early) trains no further: re-running the cell
                gives back the finished run's history. Delete the file to start over.
            progress: show a progress bar; by default in a notebook or a terminal unless
                COURSE_PROGRESS=0 or CI is set (see `progress_wanted`).
            verbose: print the log lines ([Train], [Evaluate], [Saver], ...); False keeps quiet.

        A loss that becomes NaN or infinite stops training with a warning at the next
        evaluation (the best model saved before it stays on disk).

        Returns:
            The history: a dict of lists, one entry per evaluation ("epoch", "step",
            "train_loss", "dev_loss", one per metric, "lr", "time").
        """
        if self.optimizer is None:
            raise ValueError("This Runner has no optimizer, so it cannot train: pass one, e.g. "
                             "Runner(model, torch.optim.Adam(model.parameters()), loss_fn).")
        if not isinstance(num_epochs, int) or num_epochs < 1:
            raise ValueError(f"num_epochs must be a whole number of at least 1, got {num_epochs!r}.")
        if hasattr(train_loader, "__len__") and len(train_loader) == 0:
            raise ValueError("train_loader gives no batches: the training set is empty, or smaller than one "
                             "batch with drop_last=True. Check the split sizes and the batch size.")
        check_optimizer_holds_model(self.optimizer, self.model)
        callbacks = list(self.callbacks)
        if save_path is not None:
            saver = BestModelSaver(save_path, monitor, mode)
            past = [v for v in self.history.get(monitor, []) if math.isfinite(v)]
            if past and Path(save_path).exists():  # a second train() call: keep the best model saved so far
                saver.best = min(past) if saver.mode == "min" else max(past)
            callbacks.append(saver)
        callbacks.sort(key=lambda cb: cb.order)
        self.stop_training, start_epoch, self.verbose = False, 0, verbose
        # the learning rates this run starts from, saved with its checkpoints (a scheduler may lower them)
        self._start_lrs = [group.get("initial_lr", group["lr"]) for group in self.optimizer.param_groups]
        if checkpoint_path is not None and Path(checkpoint_path).exists():
            start_epoch = self._resume(checkpoint_path, callbacks)
            if self.stop_training or start_epoch >= num_epochs:
                why = "stopped early" if self.stop_training else f"already holds all {num_epochs} epochs"
                self.log(f"[Resume] the run in {checkpoint_path} {why}; nothing to train (delete the file to "
                         f"train again{'' if self.stop_training else ', or ask for more epochs'}).")
                return self.history
            self.log(f"[Resume] continuing from {checkpoint_path} after epoch {start_epoch}")
        all_targets = dataset_targets(train_loader)  # to check every label once, not only the first batch's
        show_bar = progress_wanted(progress)
        elapsed = self.history["time"][-1] if start_epoch and self.history.get("time") else 0.0
        self._start_time = time.perf_counter() - elapsed  # a resumed run's clock goes on where it stopped
        for cb in callbacks:
            cb.on_train_begin(self)
        for epoch in range(start_epoch, num_epochs):
            self.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(self, epoch)
            self._train_epoch(train_loader, dev_loader, num_epochs, log_steps, eval_steps, callbacks, show_bar,
                              all_targets if epoch == start_epoch else None)
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self._step_scheduler()
            for cb in callbacks:
                cb.on_epoch_end(self, epoch)
            if checkpoint_path is not None:
                self.save_checkpoint(checkpoint_path, epoch + 1, callbacks)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end(self)
        return self.history

    def _train_epoch(self, train_loader, dev_loader, num_epochs, log_steps, eval_steps, callbacks, show_bar,
                     all_targets):
        self.model.train()
        window = _Window(self.metrics, self.device)  # training values since the last evaluation
        bar = _progress_bar() if show_bar else None
        self._bar = bar(train_loader, desc=f"epoch {self.epoch + 1}/{num_epochs}", leave=False) if bar else None
        last_step = len(train_loader) - 1 if eval_steps else None
        i = -1
        for i, batch in enumerate(self._bar or train_loader):
            x, y = self._split(batch)
            outputs, loss = self._forward_loss(x, y, check=i == 0, all_targets=all_targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            self.global_step += 1
            loss = loss.detach()
            window.add(loss, outputs, y, _mean_denominator(self.loss_fn, y))
            if self._bar is not None and window.time_to_show():  # a bar's number waits for the GPU
                self._bar.set_postfix(loss=f"{loss.item():.4f}")
            if log_steps and self.global_step % log_steps == 0:
                self.log(f"[Train] epoch {self.epoch + 1}/{num_epochs} step {self.global_step}: "
                         f"loss {loss.item():.4f}")
            for cb in callbacks:
                cb.on_step_end(self, self.global_step, loss)
            at_end = self.stop_training and eval_steps  # stopping mid-epoch still gets a final evaluation
            if eval_steps and (self.global_step % eval_steps == 0 or i == last_step or at_end):
                self._log_evaluation(window.values(), dev_loader, num_epochs, callbacks)
                window = _Window(self.metrics, self.device)
                self.model.train()
            if self.stop_training:
                break
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if i < 0:
            raise ValueError("train_loader gave no batches: the training set is empty. Check the split sizes.")
        if window.count:
            self._log_evaluation(window.values(), dev_loader, num_epochs, callbacks)

    def _log_evaluation(self, train_values: dict, dev_loader, num_epochs: int, callbacks) -> None:
        logs = {f"train_{k}": v for k, v in train_values.items()}
        if dev_loader is not None:
            logs.update({f"dev_{k}": v for k, v in self.evaluate(dev_loader).items()})
        row = {"epoch": self.epoch + 1, "step": self.global_step, **logs,
               "lr": float(self.optimizer.param_groups[0]["lr"]), "time": time.perf_counter() - self._start_time}
        for key, value in row.items():
            self.history.setdefault(key, []).append(value)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
        self.log(f"[Evaluate] epoch {self.epoch + 1}/{num_epochs} step {self.global_step}: {shown}")
        if not math.isfinite(logs["train_loss"]):
            self.stop_training = True
            warnings.warn(f"The training loss became {logs['train_loss']} by step {self.global_step} (epoch "
                          f"{self.epoch + 1}), so training stopped. Usual causes: a learning rate that is too "
                          f"high, a log or division of zero in the loss, or NaN values in the data.",
                          RuntimeWarning, stacklevel=4)
            return  # nothing to compare: callbacks would treat NaN as a value
        for cb in callbacks:
            cb.on_evaluate(self, logs)

    def _step_scheduler(self) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            key = "dev_loss" if "dev_loss" in self.history else "train_loss"
            self.scheduler.step(self.history[key][-1])
        else:
            self.scheduler.step()

    # ---- evaluation and prediction -----------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data_loader) -> dict:
        """Loss and metrics (computed on all outputs at once) over `data_loader`.

        The loss is what `loss_fn` would give on the whole set in one batch, whatever the batch
        size: batch means are weighted by what each mean divides by (the batch size; for a
        class-weighted or `ignore_index` cross-entropy, the kept targets' total weight).

        The model's previous train/eval mode is restored afterwards.
        """
        was_training = self.model.training
        self.model.eval()
        window = _Window(self.metrics, self.device, max_elements=None)
        try:
            for i, batch in enumerate(data_loader):
                x, y = self._split(batch)
                every_label = dataset_targets(data_loader) if i == 0 else None
                outputs, loss = self._forward_loss(x, y, check=i == 0, all_targets=every_label)
                window.add(loss, outputs, y, _mean_denominator(self.loss_fn, y))
        finally:  # also when a batch raises (a bad label, a wrong shape)
            self.model.train(was_training)
        if not window.count:
            raise ValueError("evaluate() got an empty data loader: check the dataset split sizes.")
        return window.values()

    @torch.no_grad()
    def predict(self, data, batch_size: int = 1024) -> torch.Tensor:
        """Model outputs for `data` (a tensor of inputs, or a DataLoader), as a CPU tensor.

        The model's previous train/eval mode is restored afterwards.
        """
        was_training = self.model.training
        self.model.eval()
        if isinstance(data, torch.Tensor):
            batches = data.split(batch_size)
        else:
            batches = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in data)
        outputs = []
        try:
            for x in batches:
                with self._autocast():
                    outputs.append(_full_precision(self.model(self._to_device(x))))
        finally:
            self.model.train(was_training)
        return torch.cat(outputs).cpu()  # one copy back to the CPU, not one per batch

    # ---- saving and loading ------------------------------------------------------------
    def save_model(self, save_path) -> None:
        """Save the model's `state_dict` (weights only), atomically."""
        atomic_save(self.model.state_dict(), save_path)

    def load_model(self, model_path) -> None:
        """Load weights saved by `save_model` (or a training checkpoint) into the model."""
        state = load_checkpoint(model_path, map_location=self.device)
        if "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        load_state_dict_checked(self.model, state, source=f"checkpoint {model_path}")

    def save_checkpoint(self, path, epoch: int, callbacks=()) -> None:
        """Everything needed to resume: model, optimizer, scheduler, epoch, history, RNG states."""
        atomic_save(plain_numbers({  # NumPy numbers (an lr from np.logspace) would make it unreadable
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": epoch, "global_step": self.global_step, "history": self.history,
            "stopped_early": self.stop_training, "start_lrs": getattr(self, "_start_lrs", None),
            "callbacks": {key: cb.state_dict() for key, cb in _keyed(callbacks)},
            "rng": get_rng_state(),
        }), path)

    def _resume(self, path, callbacks) -> int:
        state = load_checkpoint(path, map_location="cpu")
        missing = [key for key in ("model", "optimizer", "epoch", "global_step", "history", "rng")
                   if key not in state]
        if missing:
            raise ValueError(f"{path} is not a training checkpoint (it lacks {', '.join(missing)}); a file written "
                             f"by save_model() or save_path= holds weights only. Load such weights with "
                             f"runner.load_model(path), or use another checkpoint_path to train from scratch.")
        load_state_dict_checked(self.model, state["model"], source=f"checkpoint {path}")
        _warn_if_hyperparameters_differ(self.optimizer, state["optimizer"], path, state.get("start_lrs"))
        self._start_lrs = state.get("start_lrs") or self._start_lrs
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for key, cb in _keyed(callbacks):
            if key in state.get("callbacks", {}):  # a callback added since the checkpoint starts fresh
                cb.load_state_dict(state["callbacks"][key])
        self.history, self.global_step = state["history"], state["global_step"]
        self.stop_training = bool(state.get("stopped_early", False))
        set_rng_state(state["rng"])
        return state["epoch"]

    def log(self, message: str) -> None:
        """Print a line without breaking an active progress bar (nothing when `verbose` is off)."""
        if not self.verbose:
            return
        if self._bar is not None:
            tqdm.write(message)
        else:
            print(message)


class _Window:
    """The loss and outputs of the steps since the last evaluation, summed on the device.

    Nothing here waits for the GPU until `values()` reads the sums, once per evaluation.
    Outputs are kept for the metrics (flushed every `max_elements` numbers to bound memory).
    """

    def __init__(self, metrics: dict, device: torch.device, max_elements: int | None = 1 << 24) -> None:
        self.metrics, self.max_elements = metrics, max_elements
        self.loss_sum, self.loss_weight = torch.zeros((), device=device), 0
        self.count, self.buffered, self._last_shown = 0, 0, 0.0
        self.outputs, self.targets, self.metric_sums, self.metric_count = [], [], {}, 0

    def add(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor, weight) -> None:
        """`weight`: what the batch's mean loss divides by (`_mean_denominator`), a number or a tensor."""
        if isinstance(weight, torch.Tensor):  # a batch whose targets are all ignored has a NaN mean: it adds 0
            self.loss_sum.add_(torch.where(weight > 0, loss * weight, 0.0))
        else:
            self.loss_sum.add_(loss, alpha=weight)  # one kernel
        self.loss_weight = self.loss_weight + weight
        self.count += len(targets)
        if self.metrics:
            self.outputs.append(outputs.detach())
            self.targets.append(targets)
            self.buffered += outputs.numel()
            if self.max_elements is not None and self.buffered >= self.max_elements:
                self._flush()

    def _flush(self) -> None:
        outputs, targets = torch.cat(self.outputs), torch.cat(self.targets)
        for name, fn in self.metrics.items():
            self.metric_sums[name] = self.metric_sums.get(name, 0.0) + float(fn(outputs, targets)) * len(targets)
        self.metric_count += len(targets)
        self.outputs, self.targets, self.buffered = [], [], 0

    def values(self) -> dict:
        if self.outputs:
            self._flush()
        metrics = {name: total / self.metric_count for name, total in self.metric_sums.items()}
        return {"loss": float(self.loss_sum / self.loss_weight), **metrics}

    def time_to_show(self) -> bool:
        now = time.perf_counter()
        if now - self._last_shown < 0.5:
            return False
        self._last_shown = now
        return True


def _mean_denominator(loss_fn, targets: torch.Tensor):
    """What `loss_fn`'s mean over this batch divides by, so that batch means add up to the set's mean.

    The batch size, except for a cross-entropy (or NLL) loss over class indices: it divides by the
    number of targets (tokens, pixels) not equal to `ignore_index`, each counted with its class's
    `weight`. That sum is a tensor on the device (no waiting for the GPU); it is only computed when
    a class weight or an `ignore_index` other than the default was set.
    """
    if not (isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)) and loss_fn.reduction == "mean"
            and not targets.is_floating_point()):
        return len(targets)
    if loss_fn.weight is None and loss_fn.ignore_index == -100:  # the defaults: every target counts once
        return targets.numel()
    kept = targets != loss_fn.ignore_index
    if loss_fn.weight is None:
        return kept.sum()
    return (loss_fn.weight[targets.where(kept, 0)] * kept).sum()


def _full_precision(outputs: torch.Tensor) -> torch.Tensor:
    """float32 for half-precision outputs (autocast), so losses and metrics are computed in full precision."""
    return outputs.float() if outputs.dtype in (torch.float16, torch.bfloat16) else outputs


def _warn_if_hyperparameters_differ(optimizer, saved: dict, path, start_lrs=None) -> None:
    """A resumed run keeps the checkpoint's settings; say so when the new optimizer asked for others.

    Learning rates are compared with those the saved run started from (`start_lrs`), since a scheduler
    such as ReduceLROnPlateau may have lowered them on the way.
    """
    changed = {}
    for index, (new, old) in enumerate(zip(optimizer.param_groups, saved.get("param_groups", []))):
        for key in new:
            if key not in ("params", "lr", "initial_lr") and key in old and _differs(old[key], new[key]):
                changed[key] = (old[key], new[key])
        new_lr, old_lr = new.get("initial_lr", new["lr"]), old.get("initial_lr", old.get("lr"))
        if start_lrs is not None and index < len(start_lrs):
            old_lr = start_lrs[index]
        if _differs(old_lr, new_lr):
            changed["lr"] = (old_lr, new_lr)
    if changed:
        shown = ", ".join(f"{key} {old} (not {new})" for key, (old, new) in changed.items())
        warnings.warn(f"Resuming from {path} continues that run with its own settings: {shown}. To train with "
                      f"the new settings, delete the checkpoint or use a new checkpoint_path.", UserWarning,
                      stacklevel=4)


def _differs(a, b) -> bool:
    try:
        return bool(a != b)
    except (RuntimeError, TypeError, ValueError):  # tensors of several values: compare them as such
        return not torch.equal(torch.as_tensor(a), torch.as_tensor(b))


def _keyed(callbacks):
    """(key, callback) pairs with keys like "EarlyStopping:0" that survive changes in list order."""
    seen: dict[str, int] = {}
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, -1) + 1
        yield f"{name}:{seen[name]}", cb
