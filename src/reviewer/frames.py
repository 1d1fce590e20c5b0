"""All second / frame / sample arithmetic in one audited place.

Conventions (used by every module):

* time is in seconds (float), samples and frames are integer indices;
* frame ``i`` of an STFT-like analysis with ``hop_length`` is centred at
  ``i * hop_length / sr`` seconds (librosa's ``center=True`` convention);
* a time interval is half-open ``[start, end)``.
"""

from __future__ import annotations

import math

import numpy as np

from reviewer.errors import ValidationError


def _check_sr(sr: float) -> None:
    if not (isinstance(sr, (int, float, np.integer, np.floating)) and sr > 0 and math.isfinite(sr)):
        raise ValidationError(f"sample rate must be a positive finite number, got {sr!r}")


def time_to_samples(t: float | np.ndarray, *, sr: float) -> int | np.ndarray:
    """Seconds → sample index (floor). Negative times are clipped to 0."""
    _check_sr(sr)
    if np.isscalar(t):
        return max(0, int(math.floor(float(t) * sr + 1e-6)))
    return np.maximum(0, np.floor(np.asarray(t, dtype=np.float64) * sr + 1e-6).astype(np.int64))


def samples_to_time(n: int | np.ndarray, *, sr: float) -> float | np.ndarray:
    """Sample index → seconds."""
    _check_sr(sr)
    if np.isscalar(n):
        return float(n) / float(sr)
    return np.asarray(n, dtype=np.float64) / float(sr)


def frames_to_time(frames: int | np.ndarray, *, sr: float, hop_length: int) -> float | np.ndarray:
    """Frame index → seconds of the frame centre."""
    _check_sr(sr)
    if hop_length <= 0:
        raise ValidationError(f"hop_length must be positive, got {hop_length!r}")
    if np.isscalar(frames):
        return float(frames) * hop_length / float(sr)
    return np.asarray(frames, dtype=np.float64) * hop_length / float(sr)


def time_to_frames(t: float | np.ndarray, *, sr: float, hop_length: int) -> int | np.ndarray:
    """Seconds → index of the frame whose centre is nearest."""
    _check_sr(sr)
    if hop_length <= 0:
        raise ValidationError(f"hop_length must be positive, got {hop_length!r}")
    if np.isscalar(t):
        return max(0, int(round(float(t) * sr / hop_length)))
    return np.maximum(0, np.round(np.asarray(t, dtype=np.float64) * sr / hop_length).astype(np.int64))


def n_frames(n_samples: int, *, hop_length: int) -> int:
    """Number of centred frames librosa produces for ``n_samples`` samples."""
    if n_samples < 0:
        raise ValidationError(f"n_samples must be >= 0, got {n_samples!r}")
    return 1 + n_samples // hop_length


def duration_of(n_samples: int, *, sr: float) -> float:
    """Duration in seconds of ``n_samples`` samples."""
    return float(samples_to_time(n_samples, sr=sr))


def slice_times(times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Indices of ``times`` inside the half-open interval ``[start, end)``.

    ``times`` must be sorted ascending. Returns an empty index array (never None)
    when nothing falls inside.
    """
    times = np.asarray(times)
    lo = int(np.searchsorted(times, start, side="left"))
    hi = int(np.searchsorted(times, end, side="left"))
    return np.arange(lo, max(lo, hi))


def validate_interval(start: float, end: float, *, duration: float | None = None, what: str = "interval") -> tuple[float, float]:
    """Check ``0 <= start < end <= duration`` and return the pair as floats.

    Raises
    ------
    ValidationError
        naming the bad value: NaN, negative start, start >= end, end past duration.
    """
    try:
        s, e = float(start), float(end)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what}: bounds must be numbers in seconds, got {start!r}, {end!r}") from exc
    if not (math.isfinite(s) and math.isfinite(e)):
        raise ValidationError(f"{what}: bounds must be finite seconds, got start={start!r}, end={end!r}")
    if s < 0:
        raise ValidationError(f"{what}: start {s:.3f} s is negative")
    if s >= e:
        raise ValidationError(f"{what}: start {s:.3f} s must be before end {e:.3f} s")
    if duration is not None and e > float(duration) + 1e-6:
        raise ValidationError(
            f"{what}: end {e:.3f} s is past the item's duration {float(duration):.3f} s (did you pass milliseconds?)"
        )
    return s, e


def slice_bounds(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`slice_times` for many half-open intervals at once.

    Parameters
    ----------
    times : np.ndarray [shape=(n,)]
        Sorted ascending timestamps in seconds.
    starts, ends : np.ndarray [shape=(m,)]
        Interval bounds in seconds.

    Returns
    -------
    lo, hi : np.ndarray [shape=(m,), int64]
        ``times[lo[i]:hi[i]]`` are the times inside ``[starts[i], ends[i])``;
        ``hi >= lo`` always (an empty slice has ``hi == lo``).
    """
    times = np.asarray(times, dtype=np.float64)
    lo = np.searchsorted(times, np.asarray(starts, dtype=np.float64), side="left").astype(np.int64)
    hi = np.searchsorted(times, np.asarray(ends, dtype=np.float64), side="left").astype(np.int64)
    return lo, np.maximum(lo, hi)


def n_windows(duration: float, *, win: float, hop: float, tol: float = 1e-6) -> int:
    """Number of full windows of ``win`` s starting every ``hop`` s inside ``duration``.

    The seed-000 grid: starts ``0, hop, 2 hop, ...`` up to ``duration - win``
    (with tolerance ``tol``), i.e. ``floor((duration - win) / hop + tol) + 1``;
    a duration shorter than one window gives one (short) window.
    """
    if not (math.isfinite(duration) and duration > 0):
        raise ValidationError(f"duration must be a positive finite number of seconds, got {duration!r}")
    if not (math.isfinite(win) and win > 0 and math.isfinite(hop) and hop > 0):
        raise ValidationError(f"window and hop must be positive seconds, got win={win!r}, hop={hop!r}")
    if duration < win:
        return 1
    return int(math.floor((duration - win) / hop + tol / hop)) + 1
