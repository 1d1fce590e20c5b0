"""A pychorus-style chorus finder: chroma time-lag lines, the non-ML baseline of seed 002.

Written from the published description ("Finding choruses in songs with
Python"), not from its code:

1. chroma pooled onto a grid of ``resolution`` seconds;
2. time–time similarity ``1 - ||c_i - c_j|| / sqrt(12)`` of max-normalised chroma;
3. time–lag matrix ``L[l, t] = S[t, t - l]``;
4. denoising: each cell minus the larger of the mean of its horizontal and
   vertical neighbourhoods (keeps lines, removes blobs and plateaus);
5. horizontal lines at least ``min_len`` seconds long where the denoised,
   smoothed row is above a threshold;
6. the chorus is the line whose span is covered by the most other lines (ties:
   the longer, then the stronger); its occurrences are the spans of every line
   that overlaps it, and the snippet starts at its first occurrence.

It has no key-change handling, no timbre and no learning: that is the point of
a baseline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter, uniform_filter1d

from reviewer.detect.ssm import sync_frames, time_lag
from reviewer.errors import ValidationError

log = logging.getLogger(__name__)

METHOD = "pychorus-style-timelag"


@dataclass(frozen=True)
class PychorusResult:
    """Baseline output for one song (seconds).

    Attributes
    ----------
    snippet : (float, float)
    chorus : list of (float, float)
    confidence : float
    seconds : float
        Wall time of the detection.
    """

    snippet: tuple[float, float]
    chorus: list[tuple[float, float]]
    confidence: float
    seconds: float


def _lines(D: np.ndarray, *, n_min: int, lo: int, thr: float) -> list[tuple[int, int, int, float]]:
    """(lag, start, end, score) of runs ≥ ``n_min`` steps on rows ``lag ≥ lo`` above ``thr``."""
    m = D.shape[0]
    out = []
    for lag in range(lo, m):
        row = uniform_filter1d(D[lag], size=max(1, n_min // 2))
        on = row > thr
        on[:lag] = False
        d = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
        for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
            if e - s >= n_min:
                out.append((lag, int(s), int(e), float(D[lag, s:e].mean())))
    return out


def detect_chorus_pychorus(
    chroma: np.ndarray,
    times: np.ndarray,
    *,
    duration: float,
    snippet_len: float = 30.0,
    min_len: float = 10.0,
    resolution: float = 0.5,
    quantile: float = 0.95,
) -> PychorusResult:
    """Find the chorus of one song from its chroma track.

    Parameters
    ----------
    chroma : np.ndarray [shape=(n, 12)]
        Frame chroma (non-negative).
    times : np.ndarray [shape=(n,)]
        Frame centres in seconds.
    duration : float
        Song length in seconds.
    snippet_len : float
        Snippet length in seconds (whole track when the song is shorter).
    min_len : float
        Shortest line (repetition) in seconds.
    resolution : float
        Grid step in seconds.
    quantile : float
        Line threshold: this quantile of the denoised time-lag cells.

    Returns
    -------
    PychorusResult
    """
    t0 = time.perf_counter()
    if chroma.ndim != 2 or chroma.shape[1] != 12:
        raise ValidationError(f"chroma must have shape (n, 12), got {chroma.shape}")
    _, C = sync_frames(times, chroma, duration=duration, resolution=resolution)
    C = C / np.maximum(C.max(axis=1, keepdims=True), 1e-8)
    d = np.sqrt(np.maximum(np.sum(C ** 2, 1)[:, None] + np.sum(C ** 2, 1)[None, :] - 2 * C @ C.T, 0.0))
    S = 1.0 - d / np.sqrt(12.0)
    L = time_lag(S)
    w = max(3, int(round(2.0 / resolution)) | 1)
    horiz = uniform_filter(L, size=(1, w))
    vert = uniform_filter(L, size=(w, 1))
    D = L - np.maximum(horiz, vert) + horiz  # keeps horizontal lines, flattens vertical blobs
    D = D - uniform_filter(D, size=(w, 1))  # line vs its neighbouring lags
    m = L.shape[0]
    n_min = max(2, int(round(min_len / resolution)))
    lo = n_min
    if m <= lo + n_min:
        return PychorusResult((0.0, float(duration)) if duration <= snippet_len else (0.0, snippet_len), [], 0.0,
                              time.perf_counter() - t0)
    valid = np.concatenate([D[l, l:] for l in range(lo, m)])
    thr = float(np.quantile(valid, quantile))
    lines = _lines(D, n_min=n_min, lo=lo, thr=thr)
    if not lines:
        snip = (0.0, float(duration)) if duration <= snippet_len else (0.0, snippet_len)
        return PychorusResult(snip, [], 0.0, time.perf_counter() - t0)
    spans = [(s - lag, e - lag, s, e) for lag, s, e, _ in lines]

    def covered(a: int, b: int) -> int:
        return sum(1 for a0, a1, b0, b1 in spans for x0, x1 in ((a0, a1), (b0, b1)) if min(b, x1) - max(a, x0) > 0.5 * (b - a))

    best = max(range(len(lines)), key=lambda i: (covered(spans[i][2], spans[i][3]), spans[i][3] - spans[i][2], lines[i][3]))
    b0, b1 = spans[best][2], spans[best][3]
    occ: list[tuple[int, int]] = []
    for a0, a1, c0, c1 in spans:
        for x0, x1 in ((a0, a1), (c0, c1)):
            if min(b1, x1) - max(b0, x0) > 0.5 * (b1 - b0) or any(
                    min(o1, x1) - max(o0, x0) > 0.5 * (o1 - o0) for o0, o1 in [(spans[best][0], spans[best][1])]):
                occ.append((x0, x1))
    occ.sort()
    merged: list[tuple[int, int]] = []
    for s, e in occ:
        if merged and s - merged[-1][0] < n_min // 2:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    chorus = [(s * resolution, min(duration, e * resolution)) for s, e in merged if e * resolution > s * resolution]
    start = chorus[0][0] if chorus else 0.0
    if duration <= snippet_len:
        snip = (0.0, float(duration))
    else:
        s = min(max(0.0, start), duration - snippet_len)
        snip = (float(s), float(s + snippet_len))
    conf = float(np.clip(lines[best][3] / (abs(thr) + 1e-6) / 4.0, 0.0, 1.0))
    return PychorusResult(snip, chorus, conf, time.perf_counter() - t0)
