"""Self-similarity and time-lag analysis of one song: what repeats, and where.

The chain (all times in seconds, all matrices on one analysis grid):

1. :func:`sync_frames` pools 32 ms frame tracks onto a coarse grid (default 0.5 s).
2. :func:`chroma_affinity` compares every grid step with every other on
   L2-normalised chroma under all 12 circular shifts, smooths each shifted
   matrix along its diagonals, and keeps the best shift per cell, so a chorus
   sung a tone higher at the end still forms a stripe (key-change robust).
3. :func:`timbre_affinity` does the same (no shift) for standardised MFCCs;
   :func:`combine_affinities` mixes both (chroma dominates, so an instrument
   swap in the last chorus does not break the stripe).
4. :func:`time_lag` turns the time–time matrix into a time–lag matrix where a
   repetition is a horizontal line; :func:`find_repetitions` keeps lines at
   least ``min_len`` seconds long above an adaptive threshold, with
   non-maximum suppression across neighbouring lags.
5. :func:`novelty` is Foote's checkerboard novelty on the affinity, for
   section boundaries.

:func:`analyse` runs the chain and returns an :class:`SsmAnalysis` record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import binary_closing

from reviewer.errors import ValidationError

log = logging.getLogger(__name__)

_EPS = 1e-8


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


@dataclass(frozen=True)
class SsmAnalysis:
    """Self-similarity analysis of one song on a grid of ``resolution`` seconds.

    Attributes
    ----------
    times : np.ndarray [shape=(m,)]
        Grid step starts in seconds.
    resolution : float
        Grid step in seconds.
    affinity : np.ndarray [shape=(m, m), float32]
        Combined, diagonally smoothed affinity in [0, 1].
    shifts : np.ndarray [shape=(m, m), int8]
        Best chroma shift (semitones) per cell.
    lag : np.ndarray [shape=(m, m), float32]
        ``lag[l, t] = affinity[t, t - l]`` (0 where ``t < l``).
    repetitions : list of Repetition
    novelty : np.ndarray [shape=(m,)]
        Checkerboard novelty in [0, 1].
    threshold : float
        Affinity threshold used for the lines.
    chroma : np.ndarray [shape=(m, m), float32] or None
        Smoothed key-shift-invariant chroma cosine (absolute scale, for "does it really repeat").
    """

    times: np.ndarray
    resolution: float
    affinity: np.ndarray
    shifts: np.ndarray
    lag: np.ndarray
    repetitions: list[Repetition] = field(default_factory=list)
    novelty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    threshold: float = 0.0
    chroma: np.ndarray | None = None

    def downsampled(self, *, max_size: int = 200) -> dict:
        """The affinity average-pooled to at most ``max_size`` × ``max_size`` for the payload."""
        m = self.affinity.shape[0]
        f = max(1, int(np.ceil(m / max_size)))
        k = int(np.ceil(m / f))
        pad = k * f - m
        A = np.pad(self.affinity, ((0, pad), (0, pad)), mode="edge") if pad else self.affinity
        A = A.reshape(k, f, k, f).mean(axis=(1, 3))
        t = self.times[::f][:k]
        return {"times": [round(float(x), 3) for x in t], "matrix": np.round(A, 3).tolist()}


def sync_frames(times: np.ndarray, values: np.ndarray, *, duration: float, resolution: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Average frame values over consecutive grid steps of ``resolution`` seconds.

    Parameters
    ----------
    times : np.ndarray [shape=(n,)]
        Frame centres in seconds.
    values : np.ndarray [shape=(n,) or (n, d)]
    duration : float
        Seconds; the grid covers ``[0, duration)``.
    resolution : float
        Grid step in seconds, > 0.

    Returns
    -------
    grid : np.ndarray [shape=(m,)]
        Step starts in seconds, ``m = ceil(duration / resolution)``.
    pooled : np.ndarray [shape=(m, d)]
        Mean per step; empty steps copy the previous one (0 at the start).
    """
    if resolution <= 0 or duration <= 0:
        raise ValidationError(f"resolution and duration must be positive seconds, got {resolution!r}, {duration!r}")
    times = np.asarray(times, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[:, None]
    if vals.shape[0] != times.shape[0]:
        raise ValidationError(f"times ({times.shape[0]}) and values ({vals.shape[0]}) differ in length")
    m = max(1, int(np.ceil(duration / resolution - 1e-9)))
    idx = np.clip((times / resolution).astype(np.int64), 0, m - 1)
    out = np.zeros((m, vals.shape[1]))
    cnt = np.zeros(m)
    ok = np.all(np.isfinite(vals), axis=1)
    np.add.at(out, idx[ok], vals[ok])
    np.add.at(cnt, idx[ok], 1.0)
    for i in range(m):
        if cnt[i] > 0:
            out[i] /= cnt[i]
        elif i > 0:
            out[i] = out[i - 1]
    return np.arange(m) * resolution, out


def diagonal_smooth(S: np.ndarray, width: int) -> np.ndarray:
    """Mean of ``S`` over a centred diagonal window of ``width`` cells (edges use what exists).

    Parameters
    ----------
    S : np.ndarray [shape=(m, m)]
    width : int
        Window length in grid steps (≥ 1).

    Returns
    -------
    np.ndarray [shape=(m, m)]
    """
    if width <= 1:
        return S.astype(np.float32)
    m = S.shape[0]
    h0, h1 = width // 2, width - 1 - width // 2
    P = np.pad(S.astype(np.float32), ((h0, h1), (h0, h1)))
    ones = np.pad(np.ones((m, m), np.float32), ((h0, h1), (h0, h1)))
    acc = np.zeros((m, m), np.float32)
    cnt = np.zeros((m, m), np.float32)
    for d in range(width):
        acc += P[d:d + m, d:d + m]
        cnt += ones[d:d + m, d:d + m]
    return acc / np.maximum(cnt, 1.0)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(n, _EPS)


def chroma_affinity(chroma: np.ndarray, *, width: int, shifts: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Key-shift-invariant chroma affinity, smoothed along diagonals.

    Parameters
    ----------
    chroma : np.ndarray [shape=(m, 12)]
        Grid-synchronous chroma (non-negative).
    width : int
        Diagonal smoothing window in grid steps.
    shifts : bool
        Try all 12 circular shifts (True) or only the same key.

    Returns
    -------
    S : np.ndarray [shape=(m, m), float32]
        Cosine similarity in [0, 1] (of the best shift after smoothing).
    best : np.ndarray [shape=(m, m), int8]
        Shift in semitones (``-5..6``) that gave ``S``.
    """
    if chroma.ndim != 2 or chroma.shape[1] != 12:
        raise ValidationError(f"chroma must have shape (m, 12), got {chroma.shape}")
    X = chroma - chroma.mean(axis=1, keepdims=True) * 0.5  # soften the flat component
    X = _unit_rows(np.maximum(X, 0.0))
    ks = range(12) if shifts else (0,)
    best_S = np.full((X.shape[0],) * 2, -1.0, np.float32)
    best_k = np.zeros((X.shape[0],) * 2, np.int8)
    for k in ks:
        Sk = diagonal_smooth(np.clip(X @ np.roll(X, k, axis=1).T, 0.0, 1.0), width)
        if k:
            Sk *= 0.97  # prefer the same key on ties
        upd = Sk > best_S
        best_S[upd] = Sk[upd]
        best_k[upd] = k if k <= 6 else k - 12
    return best_S, best_k


def timbre_affinity(mfcc: np.ndarray, *, width: int) -> np.ndarray:
    """Cosine affinity of standardised MFCCs (c1 and up), mapped to [0, 1] and smoothed along diagonals.

    Parameters
    ----------
    mfcc : np.ndarray [shape=(m, d)]
    width : int

    Returns
    -------
    np.ndarray [shape=(m, m), float32]
    """
    X = mfcc[:, 1:] if mfcc.shape[1] > 1 else mfcc
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-6)
    X = _unit_rows(X)
    return diagonal_smooth(0.5 * (1.0 + X @ X.T), width)


def combine_affinities(chroma_S: np.ndarray, timbre_S: np.ndarray | None, *, chroma_weight: float = 0.75) -> np.ndarray:
    """Weighted mean of the two affinities, each rank-normalised to [0, 1] first.

    Rank normalisation puts both on one scale whatever their raw spread.
    """
    def ranks(S: np.ndarray) -> np.ndarray:
        flat = S.ravel()
        r = np.empty(flat.size, np.float32)
        r[np.argsort(flat, kind="stable")] = np.linspace(0.0, 1.0, flat.size, dtype=np.float32)
        return r.reshape(S.shape)

    if timbre_S is None:
        return ranks(chroma_S)
    return chroma_weight * ranks(chroma_S) + (1.0 - chroma_weight) * ranks(timbre_S)


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


def novelty(S: np.ndarray, *, half: int) -> np.ndarray:
    """Foote checkerboard novelty of an affinity matrix, scaled to [0, 1].

    Parameters
    ----------
    S : np.ndarray [shape=(m, m)]
    half : int
        Half kernel size in grid steps.

    Returns
    -------
    np.ndarray [shape=(m,)]
    """
    m = S.shape[0]
    half = max(1, min(half, m // 2))
    g = np.exp(-0.5 * (np.linspace(-2, 2, 2 * half)) ** 2)
    K = np.outer(g, g)
    sign = np.ones((2 * half, 2 * half))
    sign[:half, half:] = -1
    sign[half:, :half] = -1
    K = K * sign
    P = np.pad(S, half, mode="constant", constant_values=float(np.mean(S)))
    nov = np.array([float(np.sum(P[i:i + 2 * half, i:i + 2 * half] * K)) for i in range(m)])
    nov = np.maximum(nov, 0.0)
    return nov / nov.max() if nov.max() > 0 else nov


def analyse(
    chroma: np.ndarray,
    mfcc: np.ndarray | None,
    *,
    resolution: float,
    smooth: float = 4.0,
    min_len: float = 8.0,
    min_lag: float = 8.0,
    quantile: float = 0.9,
    chroma_weight: float = 0.75,
    key_shifts: bool = True,
    novelty_half: float = 4.0,
) -> SsmAnalysis:
    """Self-similarity, time-lag lines and novelty on grid-synchronous features.

    Parameters
    ----------
    chroma : np.ndarray [shape=(m, 12)]
    mfcc : np.ndarray [shape=(m, d)] or None
    resolution : float
        Seconds per grid step.
    smooth : float
        Diagonal smoothing window in seconds.
    min_len, min_lag : float
        Shortest repetition and shortest lag in seconds.
    quantile : float
        Line threshold as a quantile of the time-lag cells.
    chroma_weight : float
        Share of chroma in the combined affinity (rest: MFCC timbre).
    key_shifts : bool
        Match chroma under the 12 circular shifts (key-change robust).
    novelty_half : float
        Half checkerboard kernel in seconds.

    Returns
    -------
    SsmAnalysis
    """
    m = chroma.shape[0]
    w = max(1, int(round(smooth / resolution)))
    Sc, best = chroma_affinity(chroma, width=w, shifts=key_shifts)
    St = timbre_affinity(mfcc, width=w) if mfcc is not None and mfcc.shape[0] == m else None
    S = combine_affinities(Sc, St, chroma_weight=chroma_weight)
    L = time_lag(S)
    reps, thr = find_repetitions(L, best, resolution=resolution, min_len=min_len, min_lag=min_lag, quantile=quantile)
    raw = combine_affinities(chroma_affinity(chroma, width=1, shifts=False)[0],
                             timbre_affinity(mfcc, width=1) if St is not None else None, chroma_weight=0.5)
    nov = novelty(raw, half=max(1, int(round(novelty_half / resolution))))
    log.debug("ssm: %d steps, %d repetitions above %.3f", m, len(reps), thr)
    return SsmAnalysis(times=np.arange(m) * resolution, resolution=resolution, affinity=S, shifts=best, lag=L,
                       repetitions=reps, novelty=nov, threshold=thr, chroma=Sc)


# --------------------------------------------------------------------------- structure (sections + labels)


@dataclass(frozen=True)
class Structure:
    """One labelling of the song into sections (spectral clustering with ``k`` labels).

    Attributes
    ----------
    k : int
        Number of clusters asked for.
    labels : np.ndarray [shape=(m,), int]
        Label per grid step.
    sections : list of (float, float, int)
        Contiguous runs ``(start s, end s, label)``.
    """

    k: int
    labels: np.ndarray
    sections: list[tuple[float, float, int]]


def recurrence_graph(S: np.ndarray, *, k_neighbours: int, exclude: int) -> np.ndarray:
    """Mutual k-nearest-neighbour recurrence from an affinity, weighted by the affinity.

    Parameters
    ----------
    S : np.ndarray [shape=(m, m)]
    k_neighbours : int
        Neighbours kept per row.
    exclude : int
        Cells with ``|i - j| < exclude`` are not recurrences (the main diagonal band).

    Returns
    -------
    np.ndarray [shape=(m, m), float32]
    """
    m = S.shape[0]
    A = S.astype(np.float32).copy()
    ii, jj = np.indices((m, m))
    A[np.abs(ii - jj) < exclude] = 0.0
    k = max(1, min(k_neighbours, m - 1))
    kth = -np.partition(-A, k - 1, axis=1)[:, k - 1:k]
    R = (A >= kth) & (A > 0)
    R = R & R.T
    return np.where(R, A, 0.0).astype(np.float32)


def spectral_structures(
    S: np.ndarray,
    timbre: np.ndarray | None,
    *,
    resolution: float,
    k_values: tuple[int, ...] = (3, 4, 5, 6, 7),
    k_neighbours: int | None = None,
    min_section: float = 4.0,
    random_state: int = 0,
) -> list[Structure]:
    """Laplacian structural segmentation (after McFee & Ellis 2014) on our key-invariant affinity.

    The graph joins repeated grid steps (mutual nearest neighbours of the
    smoothed affinity) and consecutive steps (timbre continuity); the first
    ``k`` eigenvectors of its normalised Laplacian are clustered with k-means,
    and runs shorter than ``min_section`` are merged into a neighbour.

    Parameters
    ----------
    S : np.ndarray [shape=(m, m)]
        Combined, smoothed affinity.
    timbre : np.ndarray [shape=(m, d)] or None
        Grid-synchronous MFCCs for the sequence links.
    resolution : float
        Seconds per grid step.
    k_values : tuple of int
        Label counts to try.
    k_neighbours : int or None
        Recurrence neighbours per step (default ``~ 2 sqrt(m)``).
    min_section : float
        Seconds.
    random_state : int
        Seed of the k-means restarts (the result is deterministic for a seed).

    Returns
    -------
    list of Structure
    """
    from scipy.cluster.vq import kmeans2
    from scipy.linalg import eigh

    m = S.shape[0]
    if m < 8:
        return []
    kn = k_neighbours or int(2 * np.ceil(np.sqrt(m)))
    R = recurrence_graph(S, k_neighbours=kn, exclude=max(2, int(round(4.0 / resolution))))
    if timbre is not None and timbre.shape[0] == m:
        X = (timbre - timbre.mean(0)) / (timbre.std(0) + 1e-6)
        d2 = np.sum(np.diff(X, axis=0) ** 2, axis=1)
        path = np.exp(-d2 / (np.median(d2) + 1e-9))
    else:
        path = np.ones(m - 1)
    P = np.diag(path, 1) + np.diag(path, -1)
    deg_r, deg_p = R.sum(1), P.sum(1)
    mu = float(deg_p.dot(deg_r + deg_p) / max(np.sum((deg_r + deg_p) ** 2), 1e-9))
    A = mu * R + (1 - mu) * P
    d = A.sum(1)
    dinv = 1.0 / np.sqrt(np.maximum(d, 1e-9))
    Lap = np.eye(m) - (dinv[:, None] * A * dinv[None, :])
    kmax = min(max(k_values), m - 1)
    _, evecs = eigh(Lap, subset_by_index=[0, kmax - 1])
    from scipy.ndimage import median_filter

    evecs = median_filter(evecs, size=(max(1, int(round(2.0 / resolution))) | 1, 1))
    cum = np.sqrt(np.cumsum(evecs ** 2, axis=1))
    out = []
    n_min = max(1, int(round(min_section / resolution)))
    for k in k_values:
        if k > kmax:
            continue
        Xk = evecs[:, :k] / (cum[:, k - 1:k] + 1e-9)
        best, best_cost = None, np.inf
        for run in range(3):  # a few seeded restarts, keep the tightest
            cent, lab = kmeans2(Xk, k, minit="++", seed=np.random.default_rng([random_state, k, run]))
            cost = float(np.sum((Xk - cent[lab]) ** 2))
            if cost < best_cost:
                best, best_cost = lab, cost
        labels = np.asarray(best)
        labels = _merge_short_runs(labels, n_min)
        out.append(Structure(k=k, labels=labels, sections=_runs(labels, resolution, m)))
    return out


def _runs(labels: np.ndarray, resolution: float, m: int) -> list[tuple[float, float, int]]:
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [m]])
    return [(float(s * resolution), float(e * resolution), int(labels[s])) for s, e in zip(starts, ends)]


def _merge_short_runs(labels: np.ndarray, n_min: int) -> np.ndarray:
    """Give runs shorter than ``n_min`` steps the label of their longer neighbour."""
    labels = labels.copy()
    for _ in range(len(labels)):
        change = np.flatnonzero(np.diff(labels)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(labels)]])
        lens = ends - starts
        short = np.flatnonzero(lens < n_min)
        if short.size == 0 or len(starts) == 1:
            break
        i = int(short[np.argmin(lens[short])])
        left = lens[i - 1] if i > 0 else -1
        right = lens[i + 1] if i + 1 < len(starts) else -1
        src = i - 1 if left >= right else i + 1
        labels[starts[i]:ends[i]] = labels[starts[src]]
    return labels
