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
4. :func:`~reviewer.detect.timelag.time_lag` turns the time–time matrix into a
   time–lag matrix where a repetition is a horizontal line;
   :func:`~reviewer.detect.timelag.find_repetitions` keeps lines at least
   ``min_len`` seconds long above an adaptive threshold (module
   :mod:`reviewer.detect.timelag`).
5. :func:`novelty` is Foote's checkerboard novelty on the affinity, for
   section boundaries.

:func:`analyse` runs the chain and returns an :class:`SsmAnalysis` record.
Sections and their labels are in :mod:`reviewer.detect.structure`; those names
(and the time-lag ones) are re-exported here for existing callers.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import numpy as np

from reviewer.detect.structure import Structure, recurrence_graph, spectral_structures  # noqa: F401 (re-export)
from reviewer.detect.timelag import Repetition, find_repetitions, time_lag  # noqa: F401 (re-export)
from reviewer.errors import ValidationError

log = logging.getLogger(__name__)

_EPS = 1e-8


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
    ok = np.all(np.isfinite(vals), axis=1)
    io, vo = idx[ok], vals[ok]
    # sums in frame order (as np.add.at), then means; an empty step copies the last step with frames (0 before any)
    out = np.empty((m, vals.shape[1]))
    for j in range(vals.shape[1]):
        out[:, j] = np.bincount(io, weights=vo[:, j], minlength=m)
    cnt = np.bincount(io, minlength=m).astype(np.float64)
    full = cnt > 0
    out[full] /= cnt[full, None]
    last = np.maximum.accumulate(np.where(full, np.arange(m), -1))
    gap = ~full & (last >= 0)
    out[gap] = out[last[gap]]
    out[~full & (last < 0)] = 0.0
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
    acc = np.zeros((m, m), np.float32)
    for d in range(width):
        acc += P[d:d + m, d:d + m]
    return acc / _diagonal_counts(m, width)


_COUNTS: dict[tuple[int, int], np.ndarray] = {}


def _diagonal_counts(m: int, width: int) -> np.ndarray:
    """How many cells of an (m, m) matrix each cell's centred diagonal window of ``width`` covers (≥ 1), float32.

    The same for every matrix of one song: computed once per (m, width) (a song's analysis smooths ~16 matrices).
    """
    key = (m, width)
    got = _COUNTS.get(key)
    if got is None:
        h0, h1 = width // 2, width - 1 - width // 2
        ones = np.pad(np.ones((m, m), np.float32), ((h0, h1), (h0, h1)))
        cnt = np.zeros((m, m), np.float32)
        for d in range(width):
            cnt += ones[d:d + m, d:d + m]
        got = np.maximum(cnt, 1.0)
        got.flags.writeable = False
        if len(_COUNTS) >= 8:
            _COUNTS.clear()
        _COUNTS[key] = got
    return got


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
        np.copyto(best_S, Sk, where=upd)
        np.copyto(best_k, k if k <= 6 else k - 12, where=upd)
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


def loudness_affinity(rms: np.ndarray, *, width: int, sigma_db: float = 3.0) -> np.ndarray:
    """Gaussian affinity of grid-step loudness (dB of the linear RMS), smoothed along diagonals.

    A verse over the chorus's chords is told apart by its level (the chorus is
    the loud part), which neither chroma nor MFCCs without c0 see.

    Parameters
    ----------
    rms : np.ndarray [shape=(m,)]
        Linear RMS per grid step.
    width : int
    sigma_db : float
        Level difference (dB) at which the affinity falls to ``exp(-1/2)``.

    Returns
    -------
    np.ndarray [shape=(m, m), float32]
    """
    d = 20.0 * np.log10(np.maximum(np.asarray(rms, dtype=np.float64).ravel(), 1e-5))
    return diagonal_smooth(np.exp(-0.5 * ((d[:, None] - d[None, :]) / sigma_db) ** 2), width)


def combine_affinities(chroma_S: np.ndarray, timbre_S: np.ndarray | None, *, chroma_weight: float = 0.75,
                       loudness_S: np.ndarray | None = None, loudness_weight: float = 0.0) -> np.ndarray:
    """Weighted mean of the affinities, each rank-normalised to [0, 1] first.

    Rank normalisation puts them on one scale whatever their raw spread.
    ``loudness_weight`` is taken off the chroma and timbre shares in proportion.
    """
    ranks = rank_normalise
    if timbre_S is None:
        out = ranks(chroma_S)
    else:
        out = chroma_weight * ranks(chroma_S) + (1.0 - chroma_weight) * ranks(timbre_S)
    if loudness_S is not None and loudness_weight > 0:
        out = (1.0 - loudness_weight) * out + loudness_weight * ranks(loudness_S)
    return out


def _stable_order(flat: np.ndarray) -> np.ndarray:
    """``np.argsort(flat, kind="stable")`` for float32 ``flat``, from one sort of 64-bit keys.

    Each key is the value's bits mapped to an unsigned integer that sorts like the float (-0.0 taken as
    +0.0, every NaN as the largest value, as numpy sorts them) in the high 32 bits and the index in the
    low 32: the keys are distinct, so an unstable sort of them gives the stable order (~2.5× faster than
    numpy's stable float sort, which is a merge sort; the integer sort is vectorised).
    """
    n = flat.size
    u = (flat + np.float32(0.0)).view(np.uint32)  # -0.0 + 0.0 == +0.0
    key = np.where(u >= np.uint32(0x80000000), ~u, u | np.uint32(0x80000000))
    nan = np.isnan(flat)
    if nan.any():
        key[nan] = np.uint32(0xFFFFFFFF)
    k = key.astype(np.uint64)
    k <<= np.uint64(32)
    k |= np.arange(n, dtype=np.uint64)
    k.sort()
    k &= np.uint64(0xFFFFFFFF)
    return k.astype(np.intp)


def rank_normalise(S: np.ndarray) -> np.ndarray:
    """Each cell's rank among all cells (ties in row-major order), scaled to [0, 1], float32, shape of ``S``."""
    flat = S.ravel()
    if flat.dtype == np.float32 and flat.size < (1 << 32):
        order = _stable_order(flat)
    else:
        order = np.argsort(flat, kind="stable")
    r = np.empty(flat.size, np.float32)
    r[order] = _rank_values(flat.size)
    return r.reshape(S.shape)


@functools.lru_cache(maxsize=4)
def _rank_values(n: int) -> np.ndarray:
    """``np.linspace(0, 1, n)`` in float32, read-only: one per matrix size (a song ranks five matrices of one size)."""
    v = np.linspace(0.0, 1.0, n, dtype=np.float32)
    v.flags.writeable = False
    return v


def novelty_kernel(S: np.ndarray, half: int) -> tuple[int, np.ndarray, np.ndarray]:
    """The half size used for ``S``, the Gaussian-tapered checkerboard kernel and ``S`` padded with its mean."""
    half = max(1, min(half, S.shape[0] // 2))
    g = np.exp(-0.5 * (np.linspace(-2, 2, 2 * half)) ** 2)
    K = np.outer(g, g)
    sign = np.ones((2 * half, 2 * half))
    sign[:half, half:] = -1
    sign[half:, :half] = -1
    K = K * sign
    return half, K, np.pad(S, half, mode="constant", constant_values=float(np.mean(S)))


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
    half, K, P = novelty_kernel(S, half)
    i = np.arange(m)
    # every step's window at once (a contiguous copy each, summed as one block: the same sums as window by window)
    W = np.lib.stride_tricks.sliding_window_view(P, (2 * half, 2 * half))[i, i]
    nov = np.sum(W * K, axis=(1, 2))
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
    rms: np.ndarray | None = None,
    loudness_weight: float = 0.0,
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
    rms : np.ndarray [shape=(m,)] or None
        Grid-synchronous linear RMS for the loudness affinity.
    loudness_weight : float
        Share of the loudness affinity in the combined affinity (0: off).

    Returns
    -------
    SsmAnalysis
    """
    m = chroma.shape[0]
    w = max(1, int(round(smooth / resolution)))
    Sc, best = chroma_affinity(chroma, width=w, shifts=key_shifts)
    St = timbre_affinity(mfcc, width=w) if mfcc is not None and mfcc.shape[0] == m else None
    Sl = loudness_affinity(rms, width=w) if rms is not None and loudness_weight > 0 and len(rms) == m else None
    S = combine_affinities(Sc, St, chroma_weight=chroma_weight, loudness_S=Sl, loudness_weight=loudness_weight)
    L = time_lag(S)
    reps, thr = find_repetitions(L, best, resolution=resolution, min_len=min_len, min_lag=min_lag, quantile=quantile)
    raw = combine_affinities(chroma_affinity(chroma, width=1, shifts=False)[0],
                             timbre_affinity(mfcc, width=1) if St is not None else None, chroma_weight=0.5)
    nov = novelty(raw, half=max(1, int(round(novelty_half / resolution))))
    log.debug("ssm: %d steps, %d repetitions above %.3f", m, len(reps), thr)
    return SsmAnalysis(times=np.arange(m) * resolution, resolution=resolution, affinity=S, shifts=best, lag=L,
                       repetitions=reps, novelty=nov, threshold=thr, chroma=Sc)
