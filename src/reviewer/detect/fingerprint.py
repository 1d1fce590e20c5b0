"""The cheap candidate pre-filter of cross-episode alignment: vote on (offset, ratio).

Dense refinement (:func:`reviewer.detect.align.refine`) is the expensive step of
matching two episodes. Before it, every speed ratio of the grid gets a coarse
(0.5 s) similarity matrix from representations computed once per episode, and
the cells above the threshold vote for their diagonal (the B − A offset), like a
landmark matcher's offset histogram. Only the best-voted diagonals (and their
neighbours, for the drift a ratio off the grid leaves) are searched for runs, and
only those runs are refined.

Pure array → array functions; frames are coarse frames (0.5 s) throughout.
"""

from __future__ import annotations

import numpy as np


def voted_diagonals(sim: np.ndarray, *, threshold: float, top: int, min_votes: float = 0.0) -> np.ndarray:
    """The offsets (B-frame − A-frame) with the most similarity mass above ``threshold``.

    Parameters
    ----------
    sim : np.ndarray [shape=(n, m)]
        Coarse frame similarities (A rows, B columns).
    threshold : float
        Cells at or above it vote with weight ``sim − threshold + 0.1``.
    top : int
        Best-voted peaks kept (a peak = a local maximum of the ±1-smoothed histogram).
    min_votes : float
        Peaks with less weight are dropped.

    Returns
    -------
    np.ndarray [shape=(k,), int]
        Offsets ``d`` (diagonal ``sim[i, i + d]``), each peak with its two neighbours, sorted, unique.
    """
    n, m = sim.shape
    if n == 0 or m == 0:
        return np.zeros(0, int)
    i, j = np.nonzero(sim >= threshold)
    if i.size == 0:
        return np.zeros(0, int)
    hist = np.bincount(j - i + (n - 1), weights=sim[i, j] - threshold + 0.1, minlength=n + m - 1)
    h3 = hist.copy()
    h3[1:] += hist[:-1]
    h3[:-1] += hist[1:]
    left = np.concatenate([[-1.0], h3[:-1]])
    right = np.concatenate([h3[1:], [-1.0]])
    peaks = np.nonzero((h3 >= left) & (h3 > right) & (h3 > min_votes))[0]
    peaks = peaks[np.argsort(-h3[peaks])[:top]]
    ds = np.unique(np.clip(np.concatenate([peaks - 1, peaks, peaks + 1]), 0, n + m - 2))
    return ds - (n - 1)


def runs_on_diagonals(sim: np.ndarray, offsets: np.ndarray, *, smooth: int, threshold: float,
                      min_len: int) -> list[tuple[int, int, int, float]]:
    """Runs whose moving average exceeds ``threshold`` along the given diagonals only.

    Same output as :func:`reviewer.detect.align.diagonal_runs` restricted to ``offsets``:
    a list of ``(i0, i1, d, mean)`` — A-frames ``[i0, i1)`` matched to B-frames
    ``[i0 + d, i1 + d)`` and their mean similarity.
    """
    n, m = sim.shape
    if n == 0 or m == 0 or len(offsets) == 0:
        return []
    offsets = np.asarray(offsets, int)
    rows = np.arange(n)[None, :]
    cols = rows + offsets[:, None]
    inside = (cols >= 0) & (cols < m)
    diag = np.where(inside, sim[np.broadcast_to(rows, cols.shape), np.clip(cols, 0, m - 1)], -1.0).astype(np.float32)
    return runs_in_diagonals(diag, offsets, smooth=smooth, threshold=threshold, min_len=min_len, dtype=np.float64)


def runs_in_diagonals(diag: np.ndarray, offsets: np.ndarray, *, smooth: int, threshold: float, min_len: int,
                      dtype=np.float64) -> list[tuple[int, int, int, float]]:
    """Runs of ``diag`` rows whose ``smooth``-frame moving average reaches ``threshold``.

    ``diag[r, i]`` is the similarity of A-frame ``i`` and B-frame ``i + offsets[r]`` (-1 outside B).
    Returns ``(i0, i1, offsets[r], mean)`` for runs of at least ``min_len`` frames, row by row.
    The cumulative sums use ``dtype`` (float32 halves the memory of a full diagonal scan).
    """
    n = diag.shape[1]
    c = np.zeros((diag.shape[0], n + 1), dtype)
    np.cumsum(diag, axis=1, out=c[:, 1:])
    h = smooth // 2
    idx = np.arange(n)
    lo = np.clip(idx - h, 0, n)
    hi = np.clip(idx - h + smooth, 0, n)
    avg = (c[:, hi] - c[:, lo]) / np.maximum(hi - lo, 1)
    above = np.zeros((diag.shape[0], n + 2), np.int8)
    above[:, 1:-1] = avg >= threshold
    edges = np.diff(above, axis=1)
    sr_, sc = np.nonzero(edges == 1)
    ec = np.nonzero(edges == -1)[1]  # row-major order: starts and ends pair up
    out = []
    for r, s0, s1 in zip(sr_, sc, ec):
        if s1 - s0 >= min_len:
            out.append((int(s0), int(s1), int(offsets[r]), float((c[r, s1] - c[r, s0]) / (s1 - s0))))
    return out
