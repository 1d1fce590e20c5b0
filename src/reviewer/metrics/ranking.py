"""Regression and ranking metrics, and Mean Opinion Score."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from reviewer.errors import ValidationError


def _pair(y_true: Sequence[float], y_pred: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValidationError(f"need two 1-D arrays of equal length, got shapes {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValidationError("need at least one value")
    return a, b


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(a - b)))


def rmse(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def spearman(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Spearman rank correlation (NaN when either side is constant)."""
    from scipy.stats import spearmanr

    a, b = _pair(y_true, y_pred)
    if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


def mos(ratings: Sequence[int | float]) -> dict[str, float]:
    """Mean Opinion Score of 1–5 ratings with a 95 % normal-approximation interval."""
    r = np.asarray(ratings, dtype=np.float64)
    if r.size and (np.any(r < 1) or np.any(r > 5) or not np.all(np.isfinite(r))):
        raise ValidationError(f"ratings must be in 1..5, got {r[(r < 1) | (r > 5) | ~np.isfinite(r)][:5].tolist()}")
    if r.size == 0:
        return {"mos": float("nan"), "n": 0.0, "ci95": float("nan")}
    ci = 1.96 * float(r.std(ddof=1)) / math.sqrt(r.size) if r.size > 1 else float("nan")
    return {"mos": float(r.mean()), "n": float(r.size), "ci95": ci}


def evaluate_regression(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    return {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "spearman": spearman(y_true, y_pred)}
