"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1, confusion."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(true: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, Any]:
    labels = list(range(n_classes))
    return {
        "accuracy": float((true == pred).mean()) if len(true) else 0.0,
        "macro_f1": float(f1_score(true, pred, labels=labels, average="macro", zero_division=0)),
    }


def per_class_table(true: np.ndarray, pred: np.ndarray, classes: tuple[str, ...]) -> list[dict]:
    labels = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    return [
        {
            "class": c,
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, c in enumerate(classes)
    ]


def confusion(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    return confusion_matrix(true, pred, labels=list(range(n_classes)))
