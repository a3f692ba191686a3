"""Classification metrics: accuracy per batch, and scikit-learn's scores on whole predictions;
and the confidence band that judges a mean over a few seeds."""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["accuracy", "binary_accuracy", "classification_scores", "confusion_matrix", "mean_and_band"]


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is at the target class.

    Args:
        logits: (B, C) scores, one per class (or (B, C, L...) with one class per position).
        targets: (B,) class indices (or (B, L...)); one-hot or class-probability rows of
            the logits' shape are read as the class with the largest value.
    """
    if logits.ndim < 2 or logits.shape[1] < 2:
        raise ValueError(f"accuracy needs scores of shape (batch, classes) with at least two classes, got "
                         f"{tuple(logits.shape)}; for one output per row (BCEWithLogitsLoss) use binary_accuracy.")
    targets = torch.as_tensor(targets, device=logits.device)
    expected = (logits.shape[0], *logits.shape[2:])
    if targets.shape == logits.shape and targets.is_floating_point():
        targets = targets.argmax(dim=1)  # one-hot or class probabilities
    elif targets.shape != expected:  # (B, 1) would be compared with every row: a wrong number, no error
        hint = "; use targets.squeeze(1)" if targets.shape == (*expected, 1) else ""
        raise ValueError(f"accuracy expects one class index per row, of shape {expected}, got targets of shape "
                         f"{tuple(targets.shape)}{hint}.")
    return (logits.argmax(dim=1) == targets).float().mean().item()


def binary_accuracy(outputs: torch.Tensor, targets: torch.Tensor, threshold: float = 0.0) -> float:
    """Accuracy of a one-output binary classifier.

    Args:
        outputs: (B,) or (B, 1) logits (threshold 0.0) or probabilities (pass threshold=0.5;
            as a Runner metric: `functools.partial(binary_accuracy, threshold=0.5)`).
        targets: 0/1 labels of the same number of rows (float labels: above 0.5 is 1).
    """
    outputs = torch.as_tensor(outputs).reshape(-1)
    targets = torch.as_tensor(targets, device=outputs.device).reshape(-1)
    if len(targets) != len(outputs):
        raise ValueError(f"binary_accuracy got {len(outputs)} outputs but {len(targets)} targets.")
    if threshold == 0.0 and len(outputs) and 0 <= outputs.min() and outputs.max() <= 1:
        warnings.warn("binary_accuracy: every output lies in [0, 1], as probabilities do (a Sigmoid at the "
                      "end of the model). The default threshold 0 is for logits and would call every row "
                      "positive: pass threshold=0.5 for probabilities.", stacklevel=2)
    if targets.is_floating_point():
        targets = targets > 0.5  # soft or smoothed labels (0.9 / 0.1)
    return ((outputs > threshold) == targets.bool()).float().mean().item()


def _numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def classification_scores(targets, predictions, average: str = "binary") -> dict:
    """Accuracy, precision, recall and F1 of predicted class labels.

    Args:
        targets: true labels. predictions: predicted labels (not scores).
        average: "binary" for two classes (class 1 is positive), "macro" or "weighted" for more.
    """
    from sklearn import metrics as skm  # imported here: importing scikit-learn takes seconds

    y_true, y_pred = _numpy(targets), _numpy(predictions)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
    return {"accuracy": float(skm.accuracy_score(y_true, y_pred)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}


def confusion_matrix(targets, predictions, num_classes: int | None = None) -> np.ndarray:
    """Counts: row = true class, column = predicted class (classes 0 .. num_classes - 1 when given)."""
    from sklearn import metrics as skm

    y_true, y_pred = _numpy(targets), _numpy(predictions)
    labels = None if num_classes is None else list(range(num_classes))
    if labels is not None:  # scikit-learn would silently leave out rows with other labels
        values = np.concatenate([y_true.ravel(), y_pred.ravel()])
        outside = np.unique(values[(values < 0) | (values >= num_classes)])
        if len(outside):
            raise ValueError(f"confusion_matrix got label(s) {outside[:5].tolist()} but num_classes={num_classes} "
                             f"(classes 0..{num_classes - 1}); raise num_classes or check the labels.")
    return skm.confusion_matrix(y_true, y_pred, labels=labels)


def mean_and_band(values, confidence: float = 0.95) -> tuple[float, float]:
    """The mean of a few per-seed values and the half-width of its confidence interval.

    The half-width is t * s / sqrt(n): s the values' standard deviation, n their number and t the
    (1 + confidence) / 2 quantile of Student's t distribution with n - 1 degrees of freedom. With few
    seeds t is large (for 95%: 4.30 with 3 values, 2.78 with 5, 1.96 only in the limit), so "twice the
    standard error" would cover far less than 95%. A mean whose size exceeds the band is beyond the
    seed-to-seed spread at that confidence.

    Args:
        values: at least two numbers (list, array or tensor), e.g. a gain per seed.
        confidence: the interval's coverage, between 0 and 1.
    """
    from scipy import stats  # imported here, like scikit-learn above

    x = _numpy(values).astype(float).reshape(-1)
    if len(x) < 2:
        raise ValueError(f"mean_and_band needs at least two values (one per seed) to measure their spread, "
                         f"got {len(x)}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}.")
    t = stats.t.ppf((1 + confidence) / 2, df=len(x) - 1)
    return float(x.mean()), float(t * x.std(ddof=1) / np.sqrt(len(x)))
