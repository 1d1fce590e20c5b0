"""Structural segmentation: sections of a song and which of them share a label.

:func:`spectral_structures` is Laplacian segmentation (after McFee & Ellis 2014)
on the key-invariant affinity of :mod:`reviewer.detect.ssm`; one
:class:`Structure` per label count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
