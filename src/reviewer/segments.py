"""Fixed windows over an item: 3 s segments every 1.5 s (seed 000 §2, §4, §7).

The grid follows the seed's ``make_segments``: starts at ``0, hop, 2 hop, ...``
while a full window fits (``start <= duration - segment_len``), ends clipped to
the duration, and one short segment ``(0, duration)`` when the item is shorter
than a window.

One addition to the seed: when the grid leaves the tail of the item uncovered
(e.g. 10 s with 3 s / 1.5 s windows ends at 9 s), a final full-length segment
``(duration - segment_len, duration)`` is appended, so the end of the item is
always covered. Its start is off the hop grid; every other segment is on it.
A tail shorter than 1 µs is not worth a segment: the last end is snapped to
the duration instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from reviewer.errors import ValidationError
from reviewer.frames import n_windows

#: tails shorter than this (seconds) are absorbed by snapping the last end to the duration
TAIL_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Segments:
    """Segment boundaries of one item, sorted by start.

    Attributes
    ----------
    starts : np.ndarray [shape=(n,), float64]
        Segment starts in seconds, strictly increasing, ``starts[0] == 0``.
    ends : np.ndarray [shape=(n,), float64]
        Segment ends in seconds, ``ends[-1] == duration``.
    duration : float
        Item duration in seconds.
    segment_len : float
        Nominal window length in seconds.
    hop : float
        Nominal hop between window starts in seconds.
    """

    starts: np.ndarray
    ends: np.ndarray
    duration: float
    segment_len: float
    hop: float

    def __post_init__(self) -> None:
        starts = np.asarray(self.starts, dtype=np.float64)
        ends = np.asarray(self.ends, dtype=np.float64)
        if starts.ndim != 1 or starts.shape != ends.shape or starts.size == 0:
            raise ValidationError(
                f"segments need matching non-empty 1-D starts/ends, got shapes {starts.shape} and {ends.shape}"
            )
        if np.any(ends <= starts):
            bad = int(np.argmax(ends <= starts))
            raise ValidationError(f"segment {bad} is empty: start {starts[bad]:.3f} s >= end {ends[bad]:.3f} s")
        starts.setflags(write=False)
        ends.setflags(write=False)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "ends", ends)

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def centers(self) -> np.ndarray:
        """Segment centres in seconds, shape ``(n,)``."""
        return (self.starts + self.ends) / 2.0

    @property
    def lengths(self) -> np.ndarray:
        """Actual segment lengths in seconds, shape ``(n,)`` (the short-item segment may be < segment_len)."""
        return self.ends - self.starts

    def pairs(self) -> list[tuple[float, float]]:
        """The segments as ``[(start, end), ...]`` in seconds (the seed's return value)."""
        return [(float(s), float(e)) for s, e in zip(self.starts, self.ends)]

    def index_at(self, t: float | np.ndarray) -> int | np.ndarray:
        """Index of the segment that "owns" time ``t``.

        Segments overlap, so a time lies in up to ``segment_len / hop`` of them;
        the owner is the *latest-starting* segment containing ``t``. The owners
        partition ``[0, duration]``; ``t == duration`` belongs to the last segment.

        Parameters
        ----------
        t : float or np.ndarray
            Seconds in ``[0, duration]``.

        Raises
        ------
        ValidationError
            if ``t`` is NaN or outside ``[0, duration]``.
        """
        arr = np.asarray(t, dtype=np.float64)
        if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > self.duration + TAIL_TOLERANCE):
            raise ValidationError(f"time {t!r} s is outside the item [0, {self.duration:.3f}] s")
        idx = np.searchsorted(self.starts, arr, side="right") - 1
        idx = np.clip(idx, 0, len(self) - 1)
        return int(idx) if idx.ndim == 0 else idx.astype(np.int64)

    def to_dicts(self) -> list[dict[str, Any]]:
        """``[{"index": i, "start": s, "end": e}, ...]`` as in the seed-000 §14 meta.json."""
        return [{"index": i, "start": float(s), "end": float(e)} for i, (s, e) in enumerate(zip(self.starts, self.ends))]

    def subset(self, indices: np.ndarray) -> list[dict[str, Any]]:
        """The records of ``indices`` only, in the given order."""
        return [{"index": int(i), "start": float(self.starts[i]), "end": float(self.ends[i])} for i in indices]


def _check_seconds(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a number of seconds, got {value!r}") from exc
    if not math.isfinite(v) or v <= 0:
        raise ValidationError(f"{name} must be a positive finite number of seconds, got {value!r}")
    return v


def make_segments(duration: float, segment_len: float = 3.0, hop: float = 1.5) -> Segments:
    """Cut ``[0, duration]`` into windows of ``segment_len`` seconds every ``hop`` seconds.

    Parameters
    ----------
    duration : float
        Item duration in seconds, > 0.
    segment_len : float
        Window length in seconds, > 0.
    hop : float
        Step between window starts in seconds, ``0 < hop <= segment_len``.

    Returns
    -------
    Segments
        ``n = floor((duration - segment_len) / hop) + 1`` grid segments, plus one
        tail segment ``(duration - segment_len, duration)`` when the grid does not
        reach the end; one segment ``(0, duration)`` when ``duration < segment_len``.

    Raises
    ------
    ValidationError
        for a zero, negative or NaN duration, or a bad window/hop.

    Examples
    --------
    >>> make_segments(10.0).pairs()[-2:]
    [(6.0, 9.0), (7.0, 10.0)]
    """
    d = _check_seconds("duration", duration)
    L = _check_seconds("segment_len", segment_len)
    h = _check_seconds("hop", hop)
    if h > L:
        raise ValidationError(f"hop {h} s must not exceed segment_len {L} s (the segments would leave gaps)")
    n = n_windows(d, win=L, hop=h, tol=TAIL_TOLERANCE)
    starts = np.arange(n, dtype=np.float64) * h
    ends = np.minimum(starts + L, d)
    gap = d - ends[-1]
    if gap > TAIL_TOLERANCE:
        starts = np.append(starts, d - L)
        ends = np.append(ends, d)
    else:
        ends[-1] = d
    return Segments(starts=starts, ends=ends, duration=d, segment_len=L, hop=h)


def segments_from_config(duration: float, config: Any) -> Segments:
    """:func:`make_segments` with a :class:`reviewer.config.SegmentConfig`."""
    return make_segments(duration, segment_len=config.segment_len, hop=config.hop)
