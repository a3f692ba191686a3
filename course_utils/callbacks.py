"""Callbacks: small objects the Runner calls at fixed moments of training.

Events, in the order they happen: `on_train_begin`, `on_epoch_begin`,
`on_step_end` (after each optimizer step), `on_evaluate` (after each
evaluation, with the logged values), `on_epoch_end`, `on_train_end`. A
callback stops training by setting `runner.stop_training = True`. Callbacks
run in increasing `order`.
"""

from __future__ import annotations

import math

__all__ = ["BestModelSaver", "Callback", "EarlyStopping", "resolve_mode"]


# Words in a logged name that say which way is better ("dev_bal_acc" -> acc -> higher).
LOWER_IS_BETTER = {"loss", "error", "err", "mae", "mse", "rmse", "nll", "perplexity", "ppl", "cost", "regret",
                   "brier"}  # checked first: "dev_brier_score" is an error, not a score
HIGHER_IS_BETTER = {"acc", "accuracy", "f1", "fbeta", "precision", "recall", "auc", "r2", "score", "iou", "dice",
                    "reward", "return", "bleu", "map"}


def resolve_mode(monitor: str, mode: str | None) -> str:
    """'min' or 'max' for `monitor`: given, or read from its name (losses and errors 'min', scores 'max').

    Raises:
        ValueError: for a mode other than 'min'/'max', or a name that does not say which way is better
            (pass `mode` then, rather than have a guess run the comparison backwards).
    """
    if mode is None:
        words = set(monitor.lower().split("_"))
        if words & LOWER_IS_BETTER:
            mode = "min"
        elif words & HIGHER_IS_BETTER:
            mode = "max"
        else:
            raise ValueError(f"Cannot tell whether a lower or a higher {monitor!r} is better: pass mode='min' "
                             f"(e.g. for an error) or mode='max' (e.g. for an accuracy).")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max' (or None to infer it from {monitor!r}), got {mode!r}.")
    return mode


class Callback:
    """Base class: override the events you need. `order` sets the calling order."""

    order = 0

    def on_train_begin(self, runner) -> None: ...
    def on_epoch_begin(self, runner, epoch: int) -> None: ...
    def on_step_end(self, runner, step: int, loss) -> None:
        """`loss` is the step's loss as a 0-dim tensor on the device; `loss.item()` waits for the GPU."""
    def on_evaluate(self, runner, logs: dict) -> None: ...
    def on_epoch_end(self, runner, epoch: int) -> None: ...
    def on_train_end(self, runner) -> None: ...

    def state_dict(self) -> dict:
        """What a resumed run needs to continue where this callback left off."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class _Monitor(Callback):
    """Tracks the best value of one logged quantity, lower or higher being better."""

    def __init__(self, monitor: str, mode: str | None, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = min_delta
        self.best = math.inf if self.mode == "min" else -math.inf

    def _value(self, logs: dict) -> float:
        if self.monitor not in logs:
            raise KeyError(f"{type(self).__name__} monitors {self.monitor!r}, but the logged values are "
                           f"{sorted(logs)}. Pass a dev_loader to train() or monitor one of those names.")
        return logs[self.monitor]

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state["best"]


class BestModelSaver(_Monitor):
    """Save the model's weights to `save_path` whenever `monitor` improves."""

    order = 10

    def __init__(self, save_path, monitor: str = "dev_loss", mode: str | None = None) -> None:
        super().__init__(monitor, mode)
        self.save_path = save_path

    def on_evaluate(self, runner, logs: dict) -> None:
        value = self._value(logs)
        if self.improved(value):
            self.best = value
            runner.save_model(self.save_path)
            runner.log(f"[Saver] best {self.monitor} so far {value:.4f}: model saved to {self.save_path}")


class EarlyStopping(_Monitor):
    """Stop training when `monitor` has not improved for `patience` evaluations in a row.

    Each `train()` call counts the patience afresh (the best value so far is kept); a run
    resumed from a checkpoint goes on with the count it had saved.
    """

    order = 20

    def __init__(self, monitor: str = "dev_loss", patience: int = 3, mode: str | None = None,
                 min_delta: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        if patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}.")
        self.patience = patience
        self.wait, self._resumed = 0, False

    def on_train_begin(self, runner) -> None:
        if not self._resumed:
            self.wait = 0
        self._resumed = False

    def on_evaluate(self, runner, logs: dict) -> None:
        value = self._value(logs)
        if self.improved(value):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            runner.stop_training = True
            runner.log(f"[EarlyStopping] no improvement of {self.monitor} in {self.patience} evaluations; "
                       f"stopping (best {self.best:.4f}).")

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait, self._resumed = state["best"], state["wait"], True
