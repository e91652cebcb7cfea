"""A small multinomial logistic regression over sparse features, trained with Adam in numpy.

The matcher's similarity scores say how close a message is to the nearest examples; this
model learns which features tell the topics (and "out of scope") apart, summing evidence over
the whole message. It is deterministic (zero start, fixed steps) and trains in a fraction of
a second on the shipped knowledge; the matcher blends its probabilities into the scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPOCHS = 100
LEARNING_RATE = 0.2
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Weights per (feature, class) and a bias per class."""

    classes: tuple[str, ...]
    features: dict[str, int]
    weights: np.ndarray
    bias: np.ndarray

    def probabilities(self, vector: dict[str, float]) -> dict[str, float]:
        """Class probabilities for one weighted feature vector."""
        known = [(self.features[f], v) for f, v in vector.items() if f in self.features]
        logits = self.bias.copy()
        if known:
            rows, values = zip(*known, strict=True)
            logits += np.asarray(values) @ self.weights[list(rows)]
        logits -= logits.max()
        exp = np.exp(logits)
        probs = exp / exp.sum()
        return dict(zip(self.classes, probs.tolist(), strict=True))


def train(
    rows: Sequence[dict[str, float]], labels: Sequence[str], *, c: float = 10.0
) -> LinearModel:
    """Fit softmax regression minimising ``c * log-loss + ||W||^2 / 2`` (scikit-learn's C)."""
    classes = tuple(sorted(set(labels)))
    class_index = {name: i for i, name in enumerate(classes)}
    features: dict[str, int] = {}
    row_idx: list[int] = []
    feat_idx: list[int] = []
    values: list[float] = []
    for r, row in enumerate(rows):
        for feature, value in row.items():
            row_idx.append(r)
            feat_idx.append(features.setdefault(feature, len(features)))
            values.append(value)
    n, f, k = len(rows), len(features), len(classes)
    # float32 and sums over contiguous runs (np.add.reduceat): rows are listed row by row, and
    # a copy sorted by feature gives the gradient the same shape. All classes at once, so the
    # cost grows with the non-zeros, barely with the number of classes.
    rows_a = np.asarray(row_idx, dtype=np.int64)
    feats_a = np.asarray(feat_idx, dtype=np.int64)
    vals_a = np.asarray(values, dtype=np.float32)[:, None]
    row_starts = np.flatnonzero(np.r_[True, rows_a[1:] != rows_a[:-1]])
    rows_present = rows_a[row_starts]
    order = np.argsort(feats_a, kind="stable")
    feats_sorted, rows_by_feature, vals_by_feature = feats_a[order], rows_a[order], vals_a[order]
    feature_starts = np.flatnonzero(np.r_[True, feats_sorted[1:] != feats_sorted[:-1]])
    features_present = feats_sorted[feature_starts]
    target = np.zeros((n, k), dtype=np.float32)
    target[np.arange(n), [class_index[label] for label in labels]] = 1.0
    weights = np.zeros((f, k), dtype=np.float32)
    bias = np.zeros(k, dtype=np.float32)
    moments = [
        np.zeros_like(weights),
        np.zeros_like(weights),
        np.zeros_like(bias),
        np.zeros_like(bias),
    ]
    for step in range(1, EPOCHS + 1):
        logits = np.zeros((n, k), dtype=np.float32)
        logits[rows_present] = np.add.reduceat(vals_a * weights[feats_a], row_starts, axis=0)
        logits += bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        error = probs - target
        grad_w = np.zeros((f, k), dtype=np.float32)
        grad_w[features_present] = np.add.reduceat(
            vals_by_feature * error[rows_by_feature], feature_starts, axis=0
        )
        grad_w = c * grad_w + weights
        grad_b = c * error.sum(axis=0)
        for param, grad, m, v in ((weights, grad_w, 0, 1), (bias, grad_b, 2, 3)):
            moments[m] = BETA1 * moments[m] + (1 - BETA1) * grad
            moments[v] = BETA2 * moments[v] + (1 - BETA2) * grad * grad
            m_hat = moments[m] / (1 - BETA1**step)
            v_hat = moments[v] / (1 - BETA2**step)
            param -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + EPSILON)
    return LinearModel(
        classes=classes,
        features=features,
        weights=weights.astype(np.float64),
        bias=bias.astype(np.float64),
    )
