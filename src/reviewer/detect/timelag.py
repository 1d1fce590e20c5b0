"""Time-lag lines: where a stretch of the song recurs later, and how far apart.

:func:`time_lag` turns a time–time affinity into a time–lag matrix where a
repetition is a horizontal line; :func:`find_repetitions` keeps lines at least
``min_len`` seconds long above an adaptive threshold, with non-maximum
suppression across neighbouring lags (:class:`Repetition` records).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_closing


@dataclass(frozen=True)
class Repetition:
    """One detected repetition: the span ``a`` recurs as ``b`` (``b`` later), ``lag`` seconds apart.

    Attributes
    ----------
    a, b : tuple of float
        (start, end) in seconds; same length.
    lag : float
        ``b[0] - a[0]`` in seconds.
    score : float
        Mean smoothed affinity along the line, in [0, 1].
    shift : int
        Chroma shift in semitones that matched best (0 = same key).
    """

    a: tuple[float, float]
    b: tuple[float, float]
    lag: float
    score: float
    shift: int = 0

    def to_dict(self) -> dict:
        return {"a": [round(self.a[0], 3), round(self.a[1], 3)], "b": [round(self.b[0], 3), round(self.b[1], 3)],
                "score": round(float(self.score), 4), "lag": round(self.lag, 3), "shift": int(self.shift)}


def time_lag(S: np.ndarray) -> np.ndarray:
    """``L[l, t] = S[t, t - l]`` for ``t >= l``, else 0 (no wrap-around).

    Parameters
    ----------
    S : np.ndarray [shape=(m, m)]

    Returns
    -------
    np.ndarray [shape=(m, m)]
    """
    m = S.shape[0]
    L = np.zeros_like(S)
    for lag in range(m):
        L[lag, lag:] = np.diagonal(S, offset=-lag)
    return L


def find_repetitions(
    L: np.ndarray,
    shifts: np.ndarray | None,
    *,
    resolution: float,
    min_len: float,
    min_lag: float,
    quantile: float = 0.9,
    gap: float = 1.0,
) -> tuple[list[Repetition], float]:
    """Horizontal lines of the time-lag matrix at least ``min_len`` seconds long.

    Parameters
    ----------
    L : np.ndarray [shape=(m, m)]
        Time-lag affinity (:func:`time_lag`).
    shifts : np.ndarray [shape=(m, m)] or None
        Best chroma shift per time-time cell (reported per line).
    resolution : float
        Seconds per grid step.
    min_len, min_lag : float
        Seconds.
    quantile : float
        Cells above this quantile of the valid lag cells (lag ≥ ``min_lag``) count as "on".
    gap : float
        Holes up to this many seconds inside a line are bridged.

    Returns
    -------
    repetitions : list of Repetition
        Sorted by score, best first.
    threshold : float
    """
    m = L.shape[0]
    lo = max(1, int(round(min_lag / resolution)))
    n_min = max(2, int(round(min_len / resolution)))
    if lo >= m - n_min:
        return [], float("nan")
    valid = np.concatenate([L[l, l:] for l in range(lo, m)])
    thr = float(np.quantile(valid, quantile))
    on = np.zeros_like(L, dtype=bool)
    for l in range(lo, m):
        on[l, l:] = L[l, l:] >= thr
    g = max(1, int(round(gap / resolution)))
    # bridge holes of up to ``gap`` seconds: a binary closing along time
    closed = binary_closing(on, structure=np.ones((1, 2 * g + 1), bool)) | on
    runs: list[tuple[float, int, int, int]] = []
    for l in range(lo, m):
        row = closed[l]
        row[:l] = False
        d = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        for s, e in zip(starts, ends):
            if e - s >= n_min:
                runs.append((float(L[l, s:e].mean()), l, int(s), int(e)))
    runs.sort(reverse=True)
    kept: list[tuple[float, int, int, int]] = []
    for sc, l, s, e in runs:  # non-maximum suppression across nearby lags
        clash = False
        for _, l2, s2, e2 in kept:
            if abs(l - l2) <= max(2, int(round(1.5 / resolution))):
                ov = min(e, e2) - max(s, s2)
                if ov > 0.5 * min(e - s, e2 - s2):
                    clash = True
                    break
        if not clash:
            kept.append((sc, l, s, e))
    reps = []
    for sc, l, s, e in kept:
        if shifts is not None:
            cells = shifts[np.arange(s, e), np.arange(s, e) - l]
            vals, cnt = np.unique(cells, return_counts=True)
            sh = int(vals[np.argmax(cnt)])
        else:
            sh = 0
        reps.append(Repetition(a=((s - l) * resolution, (e - l) * resolution), b=(s * resolution, e * resolution),
                               lag=l * resolution, score=sc, shift=sh))
    return reps, thr
