"""Plain records the Review page renders: an item, a prediction, a label, the segment timeline.

They are built from store rows inside a session and carry no session, so the
page can keep them across reruns and tests can build them by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = ["ItemInfo", "LabelView", "PredictionView", "Timeline", "item_info", "label_view", "prediction_view"]


@dataclass(frozen=True)
class ItemInfo:
    """The item's metadata (what the header shows)."""

    id: int
    key: str
    kind: str
    title: str | None
    series: str | None
    artist: str | None
    season: int | None
    episode: int | None
    genre: str | None
    duration: float
    status: str
    split: str | None
    path: str
    content_hash: str | None

    @property
    def display_name(self) -> str:
        """``"Series S01E02"`` for an episode, ``"Artist – Title"`` for a song, else the key."""
        if self.kind == "episode" and self.series:
            se = f" S{self.season or 0:02d}E{self.episode or 0:02d}" if self.episode is not None else ""
            return f"{self.series}{se}"
        if self.artist or self.title:
            return " – ".join(x for x in (self.artist, self.title) if x)
        return self.key


@dataclass(frozen=True)
class PredictionView:
    """The newest prediction of one task for an item.

    ``start``/``end`` are None when the model says "no region"; ``chorus`` and
    ``prechorus`` list the predicted sections of a song; ``segment_times`` /
    ``segment_scores`` are the model's per-segment scores, when it gave them.
    """

    id: int
    task: str
    start: float | None
    end: float | None
    confidence: float | None
    model_version: str
    method: str
    created_at: dt.datetime | None
    chorus: list[tuple[float, float]] = field(default_factory=list)
    prechorus: list[tuple[float, float]] = field(default_factory=list)
    fallback_reason: str | None = None
    segment_times: list[tuple[float, float]] = field(default_factory=list)
    segment_scores: list[float] = field(default_factory=list)
    n_versions: int = 1
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_region(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def confidence_text(self) -> str:
        return "confidence n/a" if self.confidence is None else f"confidence {self.confidence:.0%}"


@dataclass(frozen=True)
class LabelView:
    """One label row (current or superseded)."""

    id: int
    kind: str
    start: float
    end: float
    source: str
    author: str | None
    status: str
    note: str | None
    version: int
    supersedes_id: int | None
    created_at: dt.datetime | None
    current: bool

    @property
    def action(self) -> str:
        """What this row did, for the history table."""
        if self.note and self.note.startswith("undo"):
            return self.note
        if self.status == "rejected":
            return f"rejected #{self.supersedes_id}" if self.supersedes_id else "rejected the prediction"
        if self.supersedes_id:
            return f"corrected #{self.supersedes_id}"
        return "imported" if self.source in ("truth", "import") else "added"

    def to_row(self) -> dict[str, Any]:
        """A flat dict for ``st.dataframe``."""
        when = f"{self.created_at:%Y-%m-%d %H:%M:%S}" if self.created_at else ""
        return {"when (UTC)": when, "who": self.author or self.source, "action": self.action, "type": self.kind,
                "start s": round(self.start, 3), "end s": round(self.end, 3), "status": self.status,
                "label": f"#{self.id} v{self.version}", "current": self.current, "note": self.note or ""}


@dataclass(frozen=True)
class Timeline:
    """The item's segments with their importance and selection.

    Attributes
    ----------
    starts, ends : np.ndarray [shape=(N,), float32]
        Segment bounds in seconds.
    importance : np.ndarray [shape=(N,)]
        ``sum(parts)``.
    parts : Mapping[str, np.ndarray [shape=(N,)]]
        Weighted contributions (``rms``, ``voiced_fraction``).
    chosen : np.ndarray [shape=(N,), bool]
        Selected for the model input.
    reasons : list of str
        Why each chosen segment was chosen ("" when not chosen).
    """

    starts: np.ndarray
    ends: np.ndarray
    importance: np.ndarray
    parts: Mapping[str, np.ndarray]
    chosen: np.ndarray
    reasons: list[str]
    strategy: str
    hop: float

    def __len__(self) -> int:
        return int(self.starts.size)


def item_info(item: Any) -> ItemInfo:
    """An :class:`ItemInfo` from a ``MediaItem`` row."""
    return ItemInfo(id=int(item.id), key=item.key, kind=item.kind, title=item.title, series=item.series,
                    artist=item.artist, season=item.season, episode=item.episode, genre=item.genre,
                    duration=float(item.duration or 0.0), status=item.status, split=item.split, path=item.path,
                    content_hash=item.content_hash)


def _pairs(value: Any) -> list[tuple[float, float]]:
    out = []
    for pair in value or []:
        try:
            s, e = float(pair[0]), float(pair[1])
        except (TypeError, ValueError, IndexError):
            continue
        if np.isfinite(s) and np.isfinite(e) and e > s:
            out.append((s, e))
    return out


def prediction_view(pred: Any, model_version: Any | None, *, n_versions: int = 1) -> PredictionView:
    """A :class:`PredictionView` from a ``Prediction`` row (payload per docs/ARCHITECTURE.md)."""
    payload = dict(pred.payload or {})
    if model_version is not None:
        mv = f"{model_version.name} {model_version.version}"
    else:
        mv = str(payload.get("model_version") or "baseline")
    scores = payload.get("segment_scores") or []
    times = _pairs(payload.get("segment_times"))
    if len(times) != len(scores):
        times, scores = [], []
    return PredictionView(
        id=int(pred.id), task=pred.task, start=pred.start, end=pred.end, confidence=pred.confidence,
        model_version=mv, method=str(payload.get("method") or ("model" if model_version is not None else "baseline")),
        created_at=pred.created_at, chorus=_pairs(payload.get("chorus")), prechorus=_pairs(payload.get("prechorus")),
        fallback_reason=payload.get("fallback_reason") if payload.get("fallback") else None,
        segment_times=times, segment_scores=[float(x) for x in scores], n_versions=n_versions, payload=payload,
    )


def label_view(label: Any, *, current: bool) -> LabelView:
    """A :class:`LabelView` from a ``Label`` row."""
    return LabelView(id=int(label.id), kind=label.kind, start=float(label.start), end=float(label.end),
                     source=label.source, author=label.author, status=label.status, note=label.note,
                     version=int(label.version), supersedes_id=label.supersedes_id, created_at=label.created_at,
                     current=current)
