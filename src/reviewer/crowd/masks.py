"""A region of an item ↔ a boolean mask over a fixed time grid.

The grid has cells of ``resolution`` seconds (0.5 s by default): cell ``i``
covers ``[i r, (i + 1) r)`` and the last one is cut at the item's duration.
A region ``[start, end)`` marks the cells whose *centre* lies inside it, so a
mask boundary is within ``r / 2`` of the region's. Masks are ``(1, N)``
arrays because crowd-kit's segmentation aggregators expect images; one row
works for time.

Back from a mask, the consensus region is the longest contiguous run of
marked cells (ties: the run with more votes, then the earlier one).
"""

from __future__ import annotations

import math

import numpy as np

from reviewer.errors import ValidationError
from reviewer.frames import validate_interval

__all__ = ["DEFAULT_RESOLUTION", "mask_runs", "mask_to_region", "n_cells", "region_mask", "region_of_votes"]

#: Grid cell length in seconds.
DEFAULT_RESOLUTION = 0.5


def _check_resolution(resolution: float) -> float:
    r = float(resolution)
    if not (math.isfinite(r) and r > 0):
        raise ValidationError(f"resolution must be a positive number of seconds; got {resolution!r}")
    return r


def n_cells(duration: float, *, resolution: float = DEFAULT_RESOLUTION) -> int:
    """Number of grid cells of an item of ``duration`` seconds (at least 1)."""
    r = _check_resolution(resolution)
    d = float(duration)
    if not (math.isfinite(d) and d > 0):
        raise ValidationError(f"duration must be a positive number of seconds; got {duration!r}")
    return max(1, int(math.ceil(d / r - 1e-9)))


def region_mask(start: float, end: float, *, duration: float, resolution: float = DEFAULT_RESOLUTION) -> np.ndarray:
    """The cells whose centre lies in ``[start, end)``.

    A region shorter than one cell still marks the cell holding its middle, so
    no valid answer becomes an empty mask.

    Returns
    -------
    np.ndarray [shape=(1, n_cells), dtype=bool]

    Raises
    ------
    ValidationError
        An interval outside ``[0, duration]``.
    """
    s, e = validate_interval(start, end, duration=duration, what="region")
    r = _check_resolution(resolution)
    n = n_cells(duration, resolution=r)
    centres = (np.arange(n) + 0.5) * r
    mask = (centres >= s) & (centres < e)
    if not mask.any():
        mask[min(n - 1, int((s + e) / 2 // r))] = True
    return mask[None, :]


def mask_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of True as ``(first, stop)`` cell indices (``stop`` exclusive)."""
    m = np.asarray(mask, dtype=bool).reshape(-1)
    if m.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist()))


def mask_to_region(
    mask: np.ndarray,
    *,
    duration: float,
    resolution: float = DEFAULT_RESOLUTION,
    votes: np.ndarray | None = None,
) -> tuple[float, float] | None:
    """The longest contiguous run of a mask, in seconds; None for an empty mask.

    Parameters
    ----------
    mask : np.ndarray [shape=(1, n) or (n,), bool]
    votes : np.ndarray [shape=(1, n) or (n,)], optional
        Per-cell vote counts; among runs of equal length the one with more
        votes wins (then the earlier one).

    Returns
    -------
    (start, end) or None
        ``end`` is clipped to ``duration``.
    """
    r = _check_resolution(resolution)
    runs = mask_runs(mask)
    if not runs:
        return None
    v = None if votes is None else np.asarray(votes, dtype=np.float64).reshape(-1)

    def rank(run: tuple[int, int]) -> tuple[float, float, int]:
        a, b = run
        return (b - a, 0.0 if v is None else float(v[a:b].sum()), -a)

    a, b = max(runs, key=rank)
    return float(a * r), float(min(b * r, float(duration)))


def region_of_votes(
    votes: np.ndarray,
    *,
    duration: float,
    resolution: float = DEFAULT_RESOLUTION,
) -> tuple[float, float] | None:
    """Fallback consensus when no cell has a majority: the longest run of the most-voted cells."""
    v = np.asarray(votes, dtype=np.float64).reshape(-1)
    if v.size == 0 or v.max() <= 0:
        return None
    return mask_to_region(v >= v.max(), duration=duration, resolution=resolution, votes=v)
