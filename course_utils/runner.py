"""The Runner: train / evaluate / predict / save / load, in the lineage of NNDL's RunnerV3.

RunnerV1 solved linear regression in closed form, RunnerV2 added gradient
descent, dev-set evaluation and best-model saving, RunnerV3 added mini-batches
from a DataLoader and `state_dict` saving (chapter 5 tells the story). This
Runner keeps RunnerV3's names and adds what a real training run needs:
callbacks, early stopping, gradient clipping, a learning-rate scheduler, and
checkpoints that let a killed run resume exactly where it stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm  # plain bars: they are only shown in a terminal

from .callbacks import BestModelSaver, Callback
from .checkpoint import atomic_save, get_rng_state, load_checkpoint, load_state_dict_checked, set_rng_state
from .utils import get_device
from .validation import check_loss_inputs

__all__ = ["Runner"]


class Runner:
    """Runs the training loop so a chapter can focus on the model and the data.

    Args:
        model: the network.
        optimizer: an optimizer over `model.parameters()`.
        loss_fn: e.g. `nn.CrossEntropyLoss()`; called as `loss_fn(outputs, targets)`.
        metrics: name -> function(outputs, targets) giving a float, e.g.
            `{"acc": accuracy}`. `evaluate` applies it to the whole set at once;
            the `train_<name>` values logged during training average it over batches
            (exact for accuracy, approximate for metrics such as F1).
        device: a device or its name; by default `get_device()` (CUDA, MPS, CPU).
        scheduler: optional learning-rate scheduler, stepped every epoch
            (or every step with `scheduler_interval="step"`).
        callbacks: extra `Callback` objects (e.g. `EarlyStopping`).
        grad_clip: if set, clip the gradients' global norm to this value.
        amp: run the forward pass under bfloat16 autocast (mixed precision). Fast on
            CUDA GPUs with tensor cores; it also works on a CPU, where it is usually
            slower, so chapters turn it on only on a GPU (`amp=ON_GPU`). Off by default.
        channels_last: store the model and 4-D inputs channels-last (NHWC), the layout
            GPU convolution kernels prefer. Off by default; works on CUDA and CPU.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn, metrics: dict | None = None,
                 device=None, scheduler=None, scheduler_interval: str = "epoch", callbacks=(),
                 grad_clip: float | None = None, amp: bool = False, channels_last: bool = False) -> None:
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}.")
        self.device = device if isinstance(device, torch.device) else get_device(device)
        if (amp or channels_last) and self.device.type not in ("cuda", "cpu"):
            raise ValueError(f"amp and channels_last are supported on CUDA and CPU devices, not on "
                             f"{self.device}; leave them off (the default) there.")
        self.amp, self.channels_last = amp, channels_last
        self.model = model.to(self.device, memory_format=torch.channels_last) if self.channels_last \
            else model.to(self.device)
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

    def _split(self, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("Each batch must be a pair (inputs, targets); wrap your tensors in "
                             "torch.utils.data.TensorDataset(inputs, targets).")
        return self._to_device(batch[0]), batch[1].to(self.device, non_blocking=True)

    def _forward_loss(self, x: torch.Tensor, y: torch.Tensor, check: bool = False):
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            outputs = self.model(x)
        outputs = outputs.float()
        if check:  # on a loader's first batch: a clear message instead of a cryptic one (or none)
            check_loss_inputs(self.loss_fn, outputs, y)
        return outputs, self.loss_fn(outputs, y)

    def _metrics(self, outputs, y) -> dict:
        return {name: float(fn(outputs, y)) for name, fn in self.metrics.items()}

    # ---- training --------------------------------------------------------------------
    def train(self, train_loader, dev_loader=None, num_epochs: int = 1, log_steps: int | None = None,
              eval_steps: int | None = None, save_path=None, monitor: str = "dev_loss", mode: str | None = None,
              checkpoint_path=None, progress: bool | None = None, verbose: bool = True) -> dict:
        """Train for `num_epochs` epochs and return the history.

        Args:
            train_loader: DataLoader of (inputs, targets) batches.
            dev_loader: optional DataLoader for evaluation on the dev (validation) set.
            num_epochs: total number of epochs (a resumed run counts the finished ones).
            log_steps: print the training loss every `log_steps` steps.
            eval_steps: evaluate every `eval_steps` steps (and at the end) instead of every epoch.
            save_path: save the best model's weights here, judged by `monitor`.
            monitor: logged value that decides "best", e.g. "dev_loss" or "dev_acc".
            mode: "min" or "max"; by default "min" for losses, "max" otherwise.
            checkpoint_path: write a full checkpoint here after every epoch; if the file
                exists when training starts, training resumes from it.
            progress: show a progress bar; by default only in an interactive terminal.
            verbose: print the log lines ([Train], [Evaluate], [Saver], ...); False keeps quiet.

        Returns:
            The history: a dict of lists, one entry per evaluation ("epoch", "step",
            "train_loss", "dev_loss", one per metric, "lr", "time").
        """
        callbacks = list(self.callbacks)
        if save_path is not None:
            callbacks.append(BestModelSaver(save_path, monitor, mode))
        callbacks.sort(key=lambda cb: cb.order)
        self.stop_training, start_epoch, self.verbose = False, 0, verbose
        if checkpoint_path is not None and Path(checkpoint_path).exists():
            start_epoch = self._resume(checkpoint_path, callbacks)
            self.log(f"[Resume] continuing from {checkpoint_path} after epoch {start_epoch}")
        show_bar = progress if progress is not None else sys.stderr.isatty()
        self._start_time = time.perf_counter()
        for cb in callbacks:
            cb.on_train_begin(self)
        for epoch in range(start_epoch, num_epochs):
            self.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(self, epoch)
            self._train_epoch(train_loader, dev_loader, num_epochs, log_steps, eval_steps, callbacks, show_bar)
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

    def _train_epoch(self, train_loader, dev_loader, num_epochs, log_steps, eval_steps, callbacks, show_bar):
        self.model.train()
        sums, count = {}, 0  # sample-weighted running sums since the last evaluation
        self._bar = tqdm(train_loader, desc=f"epoch {self.epoch + 1}/{num_epochs}", leave=False) if show_bar else None
        last_step = len(train_loader) - 1 if eval_steps else None
        for i, batch in enumerate(self._bar or train_loader):
            x, y = self._split(batch)
            outputs, loss = self._forward_loss(x, y, check=i == 0)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            self.global_step += 1
            n = len(y)
            values = {"loss": loss.item(), **self._metrics(outputs.detach(), y)}
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value * n
            count += n
            if self._bar is not None:
                self._bar.set_postfix(loss=f"{values['loss']:.4f}")
            if log_steps and self.global_step % log_steps == 0:
                self.log(f"[Train] epoch {self.epoch + 1}/{num_epochs} step {self.global_step}: "
                         f"loss {values['loss']:.4f}")
            for cb in callbacks:
                cb.on_step_end(self, self.global_step, values["loss"])
            at_end = self.stop_training and eval_steps  # stopping mid-epoch still gets a final evaluation
            if eval_steps and (self.global_step % eval_steps == 0 or i == last_step or at_end):
                self._log_evaluation({k: v / count for k, v in sums.items()}, dev_loader, num_epochs, callbacks)
                sums, count = {}, 0
                self.model.train()
            if self.stop_training:
                break
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not eval_steps and count:
            self._log_evaluation({k: v / count for k, v in sums.items()}, dev_loader, num_epochs, callbacks)

    def _log_evaluation(self, train_values: dict, dev_loader, num_epochs: int, callbacks) -> None:
        logs = {f"train_{k}": v for k, v in train_values.items()}
        if dev_loader is not None:
            logs.update({f"dev_{k}": v for k, v in self.evaluate(dev_loader).items()})
        row = {"epoch": self.epoch + 1, "step": self.global_step, **logs,
               "lr": self.optimizer.param_groups[0]["lr"], "time": time.perf_counter() - self._start_time}
        for key, value in row.items():
            self.history.setdefault(key, []).append(value)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
        self.log(f"[Evaluate] epoch {self.epoch + 1}/{num_epochs} step {self.global_step}: {shown}")
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
        """Loss (averaged over samples) and metrics (computed on all outputs at once) over `data_loader`.

        The model's previous train/eval mode is restored afterwards.
        """
        was_training = self.model.training
        self.model.eval()
        loss_sum, all_outputs, all_targets = 0.0, [], []
        for i, batch in enumerate(data_loader):
            x, y = self._split(batch)
            outputs, loss = self._forward_loss(x, y, check=i == 0)
            loss_sum += loss.item() * len(y)
            all_outputs.append(outputs)
            all_targets.append(y)
        self.model.train(was_training)
        if not all_targets:
            raise ValueError("evaluate() got an empty data loader: check the dataset split sizes.")
        outputs, targets = torch.cat(all_outputs), torch.cat(all_targets)
        # metrics see the whole set at once, so F1 or balanced accuracy are exact, not batch averages
        return {"loss": loss_sum / len(targets), **self._metrics(outputs, targets)}

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
        for x in batches:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                outputs.append(self.model(self._to_device(x)).float().cpu())
        self.model.train(was_training)
        return torch.cat(outputs)

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
        atomic_save({
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": epoch, "global_step": self.global_step, "history": self.history,
            "callbacks": {key: cb.state_dict() for key, cb in _keyed(callbacks)},
            "rng": get_rng_state(),
        }, path)

    def _resume(self, path, callbacks) -> int:
        state = load_checkpoint(path, map_location="cpu")
        load_state_dict_checked(self.model, state["model"], source=f"checkpoint {path}")
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for key, cb in _keyed(callbacks):
            if key in state["callbacks"]:  # a callback added since the checkpoint starts fresh
                cb.load_state_dict(state["callbacks"][key])
        self.history, self.global_step = state["history"], state["global_step"]
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


def _keyed(callbacks):
    """(key, callback) pairs with keys like "EarlyStopping:0" that survive changes in list order."""
    seen: dict[str, int] = {}
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, -1) + 1
        yield f"{name}:{seen[name]}", cb
