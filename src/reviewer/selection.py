"""Choosing at most ``max_seq_len`` segments, with the reasons as data (seed 000 §4, §7, §11).

* ``N <= max_seq_len``: every segment, in time order (reason ``"all"``).
* ``"boundary_importance"`` (default): the first ``k_start`` and last ``k_end``
  segments, plus the middle segments with the highest importance
  ``sum_f w_f * minmax(f)`` over ``config.importance_weights`` (``rms`` reads
  ``rms_mean``; NaN counts as 0; a constant feature normalises to 1, as in the
  seed). Ties go to the earlier segment.
* ``"uniform"``: ``max_seq_len`` evenly spaced segments, first and last included.
* Training: with an explicit ``numpy.random.Generator``, ``replace_fraction`` of
  the importance-chosen segments are swapped for random other middle segments
  (reason ``"random_replacement"``). Without a generator the result is fully
  deterministic.

The importance is normalised over all N segments of the item (not only the
middle ones, as in the seed's sketch) so the UI can show comparable values for
every segment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from reviewer.aggregate import SegmentTable
from reviewer.config import SelectionConfig
from reviewer.errors import ValidationError

log = logging.getLogger(__name__)

REASONS: tuple[str, ...] = ("all", "boundary_start", "boundary_end", "importance", "uniform", "random_replacement")
STRATEGIES: tuple[str, ...] = ("boundary_importance", "uniform")


@dataclass(frozen=True)
class SegmentReason:
    """Why one segment was chosen.

    Attributes
    ----------
    index : int
        Segment index in the item.
    start, end : float
        Segment bounds in seconds.
    reason : str
        One of :data:`REASONS`.
    importance : float
        The segment's importance in [0, sum of weights].
    parts : Mapping[str, float]
        Weighted normalised contributions, e.g. ``{"rms": 0.6 * norm_rms, "voiced_fraction": 0.4 * norm_vf}``.
    """

    index: int
    start: float
    end: float
    reason: str
    importance: float
    parts: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValidationError(f"unknown selection reason {self.reason!r}; expected one of {REASONS}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": int(self.index),
            "start": float(self.start),
            "end": float(self.end),
            "reason": self.reason,
            "importance": float(self.importance),
            "parts": {k: float(v) for k, v in self.parts.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SegmentReason":
        return cls(
            index=int(data["index"]),
            start=float(data["start"]),
            end=float(data["end"]),
            reason=str(data["reason"]),
            importance=float(data["importance"]),
            parts=dict(data.get("parts", {})),
        )


@dataclass(frozen=True)
class Selection:
    """The chosen segments of one item.

    Attributes
    ----------
    indices : np.ndarray [shape=(k,), int64]
        Chosen segment indices, sorted by time, ``k <= max_seq_len``.
    reasons : tuple of SegmentReason
        One per chosen index, same order.
    strategy : str
        ``"all"``, ``"boundary_importance"`` or ``"uniform"``.
    importance : np.ndarray [shape=(N,), float64]
        Importance of every segment of the item.
    parts : Mapping[str, np.ndarray [shape=(N,)]]
        Weighted normalised contributions per importance feature, every segment.
    max_seq_len : int
    n_segments : int
        N, segments in the item.
    stochastic : bool
        True when a random generator took part (training).
    """

    indices: np.ndarray
    reasons: tuple[SegmentReason, ...]
    strategy: str
    importance: np.ndarray
    parts: Mapping[str, np.ndarray]
    max_seq_len: int
    n_segments: int
    stochastic: bool = False

    def __len__(self) -> int:
        return int(self.indices.size)

    def reason_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reasons:
            out[r.reason] = out.get(r.reason, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (chosen indices and reasons) for meta.json and logs."""
        return {
            "strategy": self.strategy,
            "max_seq_len": self.max_seq_len,
            "n_segments": self.n_segments,
            "stochastic": self.stochastic,
            "indices": [int(i) for i in self.indices],
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _minmax(x: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = x.min(), x.max()
    if hi - lo <= 0:
        return np.ones_like(x)
    return (x - lo) / (hi - lo)


def importance_parts(table: SegmentTable, weights: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Weighted min-max-normalised importance features, ``{name: (N,)}``.

    A weight key names a column (``"voiced_fraction"``) or a group whose
    ``<key>_mean`` column is used (``"rms"`` → ``rms_mean``).
    """
    parts: dict[str, np.ndarray] = {}
    for key, w in weights.items():
        col = key if key in table.columns else f"{key}_mean"
        if col not in table.columns:
            raise ValidationError(f"importance weight {key!r} names no column (tried {key!r} and {col!r})")
        parts[key] = float(w) * _minmax(table.column(col))
    return parts


def _top(candidates: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` candidates with the highest score; ties → earlier segment."""
    order = np.lexsort((candidates, -score[candidates]))
    return candidates[order[:k]]


def select_segments(
    table: SegmentTable,
    config: SelectionConfig,
    *,
    rng: np.random.Generator | None = None,
    strategy: str | None = None,
) -> Selection:
    """Choose at most ``config.max_seq_len`` segments of one item.

    Parameters
    ----------
    table : SegmentTable
        The item's N segments with at least the importance columns.
    config : SelectionConfig
        ``max_seq_len``, ``k_start``, ``k_end``, ``importance_weights``, ``replace_fraction``.
    rng : np.random.Generator, optional
        Training only: enables random replacement. None → deterministic.
    strategy : str, optional
        Overrides ``config.strategy`` (``"boundary_importance"`` or ``"uniform"``).

    Returns
    -------
    Selection
        ``min(N, max_seq_len)`` indices sorted by time, with a reason each.
    """
    strategy = strategy or config.strategy
    if strategy not in STRATEGIES:
        raise ValidationError(f"unknown selection strategy {strategy!r}; expected one of {STRATEGIES}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValidationError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    n, m = len(table), config.max_seq_len
    parts = importance_parts(table, config.importance_weights)
    importance = np.sum(list(parts.values()), axis=0) if parts else np.zeros(n)
    reason = np.full(n, "", dtype=object)

    if n <= m:
        reason[:] = "all"
        strategy_used = "all"
    elif strategy == "uniform":
        reason[np.unique(np.round(np.linspace(0, n - 1, m)).astype(np.int64))] = "uniform"
        strategy_used = "uniform"
    else:
        strategy_used = "boundary_importance"
        ks, ke = config.k_start, config.k_end
        reason[:ks] = "boundary_start"
        reason[n - ke :] = "boundary_end"
        middle = np.arange(ks, n - ke)
        chosen = _top(middle, importance, m - ks - ke)
        reason[chosen] = "importance"
        if rng is not None and chosen.size:
            k = int(round(config.replace_fraction * chosen.size))
            free = np.setdiff1d(middle, chosen)
            k = min(k, free.size)
            if k:
                drop = rng.choice(chosen, size=k, replace=False)
                add = rng.choice(free, size=k, replace=False)
                reason[drop] = ""
                reason[add] = "random_replacement"

    indices = np.flatnonzero(reason != "").astype(np.int64)
    seg = table.segments
    reasons = tuple(
        SegmentReason(
            index=int(i),
            start=float(seg.starts[i]),
            end=float(seg.ends[i]),
            reason=str(reason[i]),
            importance=float(importance[i]),
            parts={k: float(v[i]) for k, v in parts.items()},
        )
        for i in indices
    )
    log.debug("selection %s: %d of %d segments", strategy_used, indices.size, n)
    return Selection(
        indices=indices,
        reasons=reasons,
        strategy=strategy_used,
        importance=importance,
        parts=parts,
        max_seq_len=m,
        n_segments=n,
        stochastic=rng is not None and strategy_used == "boundary_importance",
    )
