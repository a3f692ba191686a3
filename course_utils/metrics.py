"""Classification metrics: accuracy per batch, and scikit-learn's scores on whole predictions."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["accuracy", "binary_accuracy", "classification_scores", "confusion_matrix"]


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is at the target class.

    Args:
        logits: (B, C) scores, one per class.
        targets: (B,) class indices.
    """
    return (logits.argmax(dim=1) == targets).float().mean().item()


def binary_accuracy(outputs: torch.Tensor, targets: torch.Tensor, threshold: float = 0.0) -> float:
    """Accuracy of a one-output binary classifier.

    Args:
        outputs: (B,) or (B, 1) logits (threshold 0.0) or probabilities (pass threshold=0.5).
        targets: 0/1 labels of the same number of rows.
    """
    predictions = (outputs.reshape(-1) > threshold).long()
    return (predictions == targets.reshape(-1).long()).float().mean().item()


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
    """Counts: row = true class, column = predicted class."""
    from sklearn import metrics as skm

    labels = None if num_classes is None else list(range(num_classes))
    return skm.confusion_matrix(_numpy(targets), _numpy(predictions), labels=labels)
