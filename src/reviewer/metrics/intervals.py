"""Interval metrics. Intervals are ``(start, end)`` in seconds; lists of them are ``(n, 2)`` arrays."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from reviewer.errors import ValidationError

Interval = tuple[float, float]


def validate_interval(iv: Sequence[float], *, what: str = "interval") -> Interval:
    """Check ``0 <= start < end`` (finite seconds) and return floats."""
    try:
        s, e = float(iv[0]), float(iv[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise ValidationError(f"{what} must be a (start, end) pair in seconds, got {iv!r}") from exc
    if not (math.isfinite(s) and math.isfinite(e)) or s < 0 or e <= s:
        hint = " (did you pass milliseconds or swap start and end?)" if e <= s or e > 1e5 else ""
        raise ValidationError(f"{what} must satisfy 0 <= start < end, got ({s}, {e}){hint}")
    return s, e


def validate_intervals(ivs: Iterable[Sequence[float]] | np.ndarray, *, what: str = "intervals") -> np.ndarray:
    """An ``(n, 2)`` float array of valid intervals sorted by start (n may be 0)."""
    arr = np.asarray(list(ivs) if not isinstance(ivs, np.ndarray) else ivs, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValidationError(f"{what} must have shape (n, 2), got {arr.shape}")
    for i, iv in enumerate(arr):
        validate_interval(iv, what=f"{what}[{i}]")
    return arr[np.argsort(arr[:, 0], kind="stable")]


def overlap(a: Interval, b: Interval) -> float:
    """Length of the intersection in seconds."""
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def iou(ref: Interval, est: Interval) -> float:
    """Intersection over union of two intervals, in [0, 1]."""
    ref, est = validate_interval(ref, what="reference"), validate_interval(est, what="estimate")
    inter = overlap(ref, est)
    union = (ref[1] - ref[0]) + (est[1] - est[0]) - inter
    return inter / union if union > 0 else 0.0


def boundary_errors(ref: Interval, est: Interval) -> tuple[float, float]:
    """Absolute start and end errors in seconds."""
    ref, est = validate_interval(ref, what="reference"), validate_interval(est, what="estimate")
    return abs(est[0] - ref[0]), abs(est[1] - ref[1])


def both_within(ref: Interval, est: Interval, tolerance: float) -> bool:
    """True when start and end are both within ``tolerance`` seconds."""
    ds, de = boundary_errors(ref, est)
    return ds <= tolerance and de <= tolerance


def fraction_inside(est: Interval, refs: np.ndarray) -> float:
    """Share of ``est`` covered by the union of ``refs`` (which may overlap)."""
    est = validate_interval(est, what="estimate")
    refs = validate_intervals(refs, what="references")
    if refs.shape[0] == 0:
        return 0.0
    covered, cur_s, cur_e = 0.0, None, None
    for s, e in refs:  # merge, then intersect
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                covered += overlap(est, (cur_s, cur_e))
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    covered += overlap(est, (cur_s, cur_e))
    return covered / (est[1] - est[0])


def frame_prf(ref: np.ndarray, est: np.ndarray, *, duration: float, resolution: float = 0.5) -> tuple[float, float, float]:
    """Per-frame precision, recall, F1 of interval sets sampled every ``resolution`` seconds."""
    if duration <= 0:
        raise ValidationError(f"duration must be positive seconds, got {duration!r}")
    ref, est = validate_intervals(ref, what="reference"), validate_intervals(est, what="estimate")
    t = np.arange(0.0, duration, resolution) + resolution / 2
    r = np.zeros(t.size, bool)
    e = np.zeros(t.size, bool)
    for s, en in ref:
        r |= (t >= s) & (t < en)
    for s, en in est:
        e |= (t >= s) & (t < en)
    tp = float(np.sum(r & e))
    p = tp / e.sum() if e.sum() else (1.0 if not r.any() else 0.0)
    rc = tp / r.sum() if r.sum() else (1.0 if not e.any() else 0.0)
    f = 2 * p * rc / (p + rc) if p + rc else 0.0
    return p, rc, f


def occurrence_prf(ref: np.ndarray, est: np.ndarray, *, window: float = 3.0) -> tuple[float, float, float]:
    """P/R/F of occurrences (e.g. choruses) matched one-to-one by start time within ``window`` seconds.

    Uses mir_eval's bipartite event matching.
    """
    import mir_eval

    ref, est = validate_intervals(ref, what="reference"), validate_intervals(est, what="estimate")
    if ref.shape[0] == 0 and est.shape[0] == 0:
        return 1.0, 1.0, 1.0
    if ref.shape[0] == 0 or est.shape[0] == 0:
        return 0.0, 0.0, 0.0
    matches = mir_eval.util.match_events(ref[:, 0], est[:, 0], window)
    p = len(matches) / est.shape[0]
    r = len(matches) / ref.shape[0]
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f
