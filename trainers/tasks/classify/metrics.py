"""Evaluation metrics on numpy arrays of multi-hot targets [N, K] and scores [N, K].

Multi-label scores follow Zhao et al. 2018 on Reuters: exact-match ratio and sample-averaged
precision, recall and F1. A sample with no predicted label has precision 0 (it predicted
nothing right); targets always hold at least one label.
"""

from __future__ import annotations

import numpy as np


def multi_hot(examples, label_names: list[str]) -> np.ndarray:
    """Targets [N, K] of parsed examples (lines.Examples): 1 where the example has the label."""
    index = {name: i for i, name in enumerate(label_names)}
    targets = np.zeros((len(examples), len(label_names)), dtype=np.float32)
    for row, labels in enumerate(examples.labels):
        targets[row, [index[label] for label in labels]] = 1.0
    return targets


def predictions(scores: np.ndarray, multi_label: bool, threshold: float) -> np.ndarray:
    """Multi-hot predictions: argmax for single-label, scores >= threshold for multi-label."""
    if multi_label:
        return (scores >= threshold).astype(np.float32)
    picked = np.zeros_like(scores, dtype=np.float32)
    picked[np.arange(len(scores)), scores.argmax(axis=1)] = 1.0
    return picked


def single_label_accuracy(targets: np.ndarray, scores: np.ndarray) -> float:
    return float(np.mean(targets.argmax(axis=1) == scores.argmax(axis=1)))


def multi_label_scores(targets: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    hits = (targets * predicted).sum(axis=1)
    n_pred = predicted.sum(axis=1)
    n_true = targets.sum(axis=1)
    precision = np.divide(hits, n_pred, out=np.zeros_like(hits), where=n_pred > 0)
    recall = np.divide(hits, n_true, out=np.zeros_like(hits), where=n_true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(hits), where=denom > 0)
    return {
        "exact_match": float(np.mean(np.all(targets == predicted, axis=1))),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
    }


def evaluate(targets: np.ndarray, scores: np.ndarray, multi_label: bool, threshold: float) -> dict[str, float]:
    """accuracy (exact match for multi-label) plus the multi-label scores when they apply."""
    if not multi_label:
        return {"accuracy": single_label_accuracy(targets, scores)}
    result = multi_label_scores(targets, predictions(scores, True, threshold))
    return {"accuracy": result["exact_match"], **result}
