"""Review services: everything the annotators' Review page shows and saves.

The page reads :func:`review_data` (item, waveform overview, segment timeline,
predictions, labels, history), cuts clips and zoom windows through
:func:`waveform_window` / :func:`clip_for` / :func:`spectrogram_window`, and
saves through :func:`save_correction`, :func:`accept`, :func:`reject` and
:func:`undo`. Every save is a *new* label row; a correction supersedes the
label it was based on, and an edit based on an outdated version raises
:class:`~reviewer.errors.StaleEditError` whose message says who saved first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reviewer import store, waveform
from reviewer.config import load_config
from reviewer.errors import NotFoundError, PackageError, ReviewerError, StaleEditError, ValidationError
from reviewer.frames import validate_interval
from reviewer.pipeline import load_table, table_path
from reviewer.selection import select_segments
from reviewer.services import audio_clips
from reviewer.services.review_views import (
    ItemInfo,
    LabelView,
    PredictionView,
    Timeline,
    item_info,
    label_view,
    prediction_view,
)
from reviewer.settings import Settings

__all__ = [
    "LABEL_TYPES", "TASK_OF_KIND", "ReviewData",
    "accept", "clip_for", "next_unreviewed", "reject", "review_data", "save_correction",
    "spectrogram_window", "undo", "waveform_window", "ItemChoice", "item_choices", "review_facets", "iou",
]

log = logging.getLogger(__name__)

#: Label types an annotator can choose.
LABEL_TYPES = ("intro", "chorus", "hook", "recap", "credits", "other")
#: Which prediction task proposes each label type.
TASK_OF_KIND = {"intro": "intro", "hook": "hook", "chorus": "hook"}
#: Prediction tasks the page shows.
TASKS = ("intro", "hook")
#: The label type an item kind is reviewed for by default.
PRIMARY_KIND = {"episode": "intro", "song": "hook", "other": "other"}
#: Bins of the overview waveform (the whole item).
OVERVIEW_POINTS = 2000


@dataclass(frozen=True)
class ReviewData:
    """Everything the Review page renders for one item (plain values, no sessions).

    Attributes
    ----------
    overview : waveform.WaveformView or None
        Peaks of the whole item; None with ``waveform_error`` when the file cannot be read.
    timeline : Timeline or None
        The segment timeline; None with ``timeline_note`` before extraction.
    predictions : dict of str to PredictionView
        The newest prediction per task (``"intro"``, ``"hook"``).
    labels : list of LabelView
        Current labels (heads, rejected ones excluded), by start.
    history : list of LabelView
        Every label row of the item, newest first.
    """

    item: ItemInfo
    overview: waveform.WaveformView | None
    waveform_error: str | None
    timeline: Timeline | None
    timeline_note: str | None
    predictions: dict[str, PredictionView]
    labels: list[LabelView]
    history: list[LabelView]
    primary_kind: str
    reviewed: bool
    messages: list[str] = field(default_factory=list)

    def labels_of(self, kind: str) -> list[LabelView]:
        """Current labels of one type."""
        return [lb for lb in self.labels if lb.kind == kind]

    def prediction_for(self, kind: str) -> PredictionView | None:
        """The prediction that proposes ``kind`` (intro → intro, hook/chorus → hook)."""
        task = TASK_OF_KIND.get(kind)
        return self.predictions.get(task) if task else None

    def proposal(self, kind: str, label_id: int | None = None) -> tuple[float, float, str] | None:
        """The region the editor starts from: a label, else the prediction; ``(start, end, what)``."""
        for lb in self.labels_of(kind):
            if lb.id == label_id:
                return lb.start, lb.end, f"{lb.source} label #{lb.id} v{lb.version}"
        pred = self.prediction_for(kind)
        if pred is not None:
            if kind == "chorus" and pred.chorus:
                return pred.chorus[0][0], pred.chorus[0][1], f"predicted chorus ({pred.model_version})"
            if kind != "chorus" and pred.has_region:
                return pred.start, pred.end, f"prediction ({pred.model_version})"
        return None


def _config(settings: Settings):
    return load_config(settings.config_path)


def _timeline(item, settings: Settings) -> tuple[Timeline | None, str | None]:
    config = _config(settings)
    path = table_path(settings, item.key, config)
    if not path.exists():
        return None, "No segment table yet: run `python -m reviewer extract` for this item."
    try:
        table = load_table(path)
    except PackageError as exc:
        return None, str(exc)
    sel = select_segments(table, config.selection)
    chosen = np.zeros(len(table), dtype=bool)
    chosen[sel.indices] = True
    reasons = [""] * len(table)
    for r in sel.reasons:
        reasons[r.index] = r.reason
    seg = table.segments
    return Timeline(starts=np.asarray(seg.starts, dtype=np.float32), ends=np.asarray(seg.ends, dtype=np.float32),
                    importance=np.asarray(sel.importance, dtype=np.float32),
                    parts={k: np.asarray(v, dtype=np.float32) for k, v in sel.parts.items()},
                    chosen=chosen, reasons=reasons, strategy=sel.strategy, hop=float(seg.hop)), None


def _peaks(item, settings: Settings) -> waveform.Peaks:
    return waveform.load_or_build_peaks(item.path, cache_dir=settings.cache_dir, content_hash=item.content_hash)


def review_data(item_id: Any, *, engine, settings: Settings) -> ReviewData:
    """Load everything the Review page shows for one item.

    Parameters
    ----------
    item_id : int
        The item (anything int-like; the page passes the query parameter).

    Raises
    ------
    ValidationError
        ``item_id`` is not an integer.
    NotFoundError
        no such item (deleted?).
    """
    iid = _as_id(item_id)
    with store.session_scope(engine) as s:
        item = store.get_item(session=s, item_id=iid)
        info = item_info(item)
        preds: dict[str, PredictionView] = {}
        for task in TASKS:
            rows = store.predictions_for(session=s, item_id=iid, task=task)
            if rows:
                mv = store.get_model_version(session=s, model_version_id=rows[0].model_version_id) \
                    if rows[0].model_version_id is not None else None
                preds[task] = prediction_view(rows[0], mv, n_versions=len(rows))
        heads = store.current_labels(session=s, item_id=iid)
        history = store.label_history(session=s, item_id=iid)
        replaced = {lb.supersedes_id for lb in history if lb.supersedes_id is not None}
        labels = [label_view(lb, current=True) for lb in heads]
        hist = [label_view(lb, current=lb.id not in replaced) for lb in reversed(history)]
    overview, werr = None, None
    try:
        overview = _peaks(info, settings).window(0.0, None, max_points=OVERVIEW_POINTS)
    except (ReviewerError, OSError) as exc:
        werr = f"The waveform is not available: {exc}"
    timeline, tnote = _timeline(info, settings)
    messages = []
    if not preds:
        messages.append("No prediction yet for this item: review the labels or mark the region yourself.")
    return ReviewData(item=info, overview=overview, waveform_error=werr, timeline=timeline, timeline_note=tnote,
                      predictions=preds, labels=labels, history=hist,
                      primary_kind=PRIMARY_KIND.get(info.kind, "other"),
                      reviewed=any(h.source == "human" for h in hist), messages=messages)


def _as_id(item_id: Any) -> int:
    try:
        iid = int(str(item_id).strip())
    except (TypeError, ValueError):
        raise ValidationError(f"item id must be a whole number; got {item_id!r}") from None
    if iid < 1:
        raise ValidationError(f"item id must be >= 1; got {iid}")
    return iid


def _item_or_gone(session, item_id: int):
    try:
        return store.get_item(session=session, item_id=item_id)
    except NotFoundError:
        raise NotFoundError(f"item {item_id} no longer exists (deleted meanwhile?); nothing was saved") from None


def waveform_window(item_id: int, start: float, end: float, *, engine, settings: Settings,
                    max_points: int = OVERVIEW_POINTS) -> waveform.WaveformView:
    """Peaks of ``[start, end)`` of an item at the finest level that fits ``max_points`` (zoom)."""
    with store.session_scope(engine) as s:
        info = item_info(store.get_item(session=s, item_id=_as_id(item_id)))
    return _peaks(info, settings).window(start, end, max_points=max_points)


def spectrogram_window(item_id: int, start: float, end: float, *, engine, sr: int = 16000,
                       max_seconds: float = 120.0) -> waveform.Spectrogram:
    """The spectrogram of ``[start, end)`` (at most ``max_seconds``, else a ValidationError)."""
    with store.session_scope(engine) as s:
        info = item_info(store.get_item(session=s, item_id=_as_id(item_id)))
    if end - start > max_seconds:
        raise ValidationError(f"zoom in to at most {max_seconds:.0f} s to see the spectrogram "
                              f"(the view is {end - start:.0f} s)")
    y = audio_clips.read_window(info.path, start, end, sr=sr)
    return waveform.spectrogram(y, sr=sr, offset=start)


def clip_for(item_id: int, start: float, end: float, *, engine, preroll: float = audio_clips.DEFAULT_PREROLL,
             fmt: str = "wav") -> audio_clips.Clip:
    """The region ``[start, end)`` with ``preroll`` seconds before it, encoded for a player."""
    with store.session_scope(engine) as s:
        info = item_info(store.get_item(session=s, item_id=_as_id(item_id)))
    return audio_clips.cut_clip(info.path, start, end, duration=info.duration, preroll=preroll, fmt=fmt)


# --------------------------------------------------------------------------- saving


def _check_author(author: str | None) -> str:
    name = (author or "").strip()
    if not name:
        raise ValidationError("enter your name (author) before saving, so the history says who changed what")
    if len(name) > 100:
        raise ValidationError(f"author name is too long ({len(name)} characters; at most 100)")
    return name


def _check_kind(kind: str) -> str:
    if kind not in LABEL_TYPES:
        raise ValidationError(f"label type must be one of {', '.join(LABEL_TYPES)}; got {kind!r}")
    return kind


def _stale(exc: StaleEditError, start: float, end: float) -> StaleEditError:
    return StaleEditError(f"{exc} Your edit ({start:.3f}–{end:.3f} s) was not saved and is still in the form.")


def save_correction(*, engine, item_id: int, kind: str, start: float, end: float, author: str | None,
                    note: str | None = None, base_label_id: int | None = None, base_version: int | None = None,
                    status: str = "accepted", expect_no_label: bool = False) -> LabelView:
    """Save a region (fix & accept, a new label, or a rejection) as a new label row.

    Parameters
    ----------
    start, end : float
        Seconds, ``0 <= start < end <= duration``.
    base_label_id, base_version : int, optional
        The label the editor showed; the new row supersedes it and is refused
        if someone saved a newer version meanwhile.
    expect_no_label : bool
        The editor showed no label of this type: refuse if one appeared meanwhile.

    Raises
    ------
    ValidationError
        bad bounds (NaN, start >= end, outside the item), no author, unknown type.
    NotFoundError
        the item was deleted meanwhile.
    StaleEditError
        someone else saved first (the message names them; nothing is overwritten).
    """
    kind = _check_kind(kind)
    name = _check_author(author)
    with store.session_scope(engine) as s:
        if expect_no_label:  # two editors adding the first label at once: the second waits, then sees the first's
            store.lock_row(session=s, table="media_item", row_id=int(item_id))
        item = _item_or_gone(s, int(item_id))
        st_, en = validate_interval(start, end, duration=item.duration, what=f"the {kind} region")
        if base_label_id is None and expect_no_label:
            others = store.current_labels(session=s, item_id=item.id, kind=kind)
            if others:
                lb = others[0]
                raise StaleEditError(f"{lb.author or lb.source} added a {kind} label (#{lb.id}) while you were "
                                     f"editing; reload to see it. Your edit ({st_:.3f}–{en:.3f} s) is still in the form.")
        try:
            label = store.add_label(session=s, item_id=item.id, kind=kind, start=st_, end=en, source="human",
                                    author=name, status=status, note=(note or "").strip() or None,
                                    supersedes_id=base_label_id, expected_version=base_version)
        except StaleEditError as exc:
            raise _stale(exc, st_, en) from None
        view = label_view(label, current=True)
    log.info("item %s: %s %s [%.3f, %.3f] by %s", item_id, status, kind, st_, en, name)
    return view


def accept(*, engine, item_id: int, kind: str, author: str | None, prediction_id: int | None = None,
           base_label_id: int | None = None, base_version: int | None = None, note: str | None = None,
           expect_no_label: bool = False) -> LabelView:
    """Accept the proposal as it is: the prediction's region, else the base label's.

    Raises
    ------
    ValidationError
        nothing to accept (no prediction region and no label), or a bad author.
    NotFoundError, StaleEditError
        as :func:`save_correction`.
    """
    start = end = None
    with store.session_scope(engine) as s:
        _item_or_gone(s, int(item_id))
        if prediction_id is not None:
            rows = [p for p in store.predictions_for(session=s, item_id=int(item_id)) if p.id == prediction_id]
            if not rows:
                raise NotFoundError(f"prediction {prediction_id} of item {item_id} no longer exists; reload")
            start, end = rows[0].start, rows[0].end
            if kind == "chorus" and rows[0].payload and rows[0].payload.get("chorus"):
                start, end = rows[0].payload["chorus"][0]
        elif base_label_id is not None:
            base = store.get_label(session=s, label_id=base_label_id)
            start, end = base.start, base.end
    if start is None or end is None:
        raise ValidationError(f"there is no {kind} region to accept: mark one (drag on the waveform or type the "
                              "bounds) and use 'Fix & accept', or 'Reject'")
    return save_correction(engine=engine, item_id=item_id, kind=kind, start=start, end=end, author=author, note=note,
                           base_label_id=base_label_id, base_version=base_version, expect_no_label=expect_no_label)


def reject(*, engine, item_id: int, kind: str, start: float, end: float, author: str | None,
           note: str | None = None, base_label_id: int | None = None, base_version: int | None = None) -> LabelView:
    """Record that the shown region is wrong: a ``"rejected"`` row (superseding the base label, if any)."""
    return save_correction(engine=engine, item_id=item_id, kind=kind, start=start, end=end, author=author,
                           note=note, base_label_id=base_label_id, base_version=base_version, status="rejected")


def undo(*, engine, item_id: int, author: str | None) -> LabelView:
    """Undo ``author``'s latest change to an item, as a new row (nothing is deleted).

    A correction is undone by restoring the label it replaced; a new label is
    undone by a ``"rejected"`` row. Undoing twice redoes.

    Raises
    ------
    ValidationError
        no author, or nothing of theirs to undo.
    StaleEditError
        someone changed that label after them.
    """
    name = _check_author(author)
    with store.session_scope(engine) as s:
        item = _item_or_gone(s, int(item_id))
        mine = [lb for lb in store.label_history(session=s, item_id=item.id) if lb.source == "human" and lb.author == name]
        if not mine:
            raise ValidationError(f"{name} has no change on this item to undo")
        last = mine[-1]
        newer = store.superseded_by(session=s, label_id=last.id)
        if newer is not None:
            raise StaleEditError(f"your last change (label #{last.id}) was changed again by {newer.author or newer.source} "
                                 f"(label #{newer.id}); undo would overwrite it — edit the current label instead")
        if last.supersedes_id is not None:
            prev = store.get_label(session=s, label_id=last.supersedes_id)
            kind, start, end, status = prev.kind, prev.start, prev.end, prev.status
            note = f"undo: restores label #{prev.id}"
        else:
            kind, start, end, status = last.kind, last.start, last.end, "rejected"
            note = f"undo: withdraws label #{last.id}"
        label = store.add_label(session=s, item_id=item.id, kind=kind, start=start, end=end, source="human",
                                author=name, status=status, note=note, supersedes_id=last.id,
                                expected_version=last.version)
        return label_view(label, current=True)


def next_unreviewed(*, engine, after_id: int | None = None, kind: str | None = None,
                    series: str | None = None) -> int | None:
    """The next item (by id, wrapping around) that has no human label, or None when all are reviewed."""
    with store.session_scope(engine) as s:
        for after in ((after_id, None) if after_id is not None else (None,)):
            rows, _ = store.review_candidates(session=s, kind=kind or None, series=series or None,
                                              review_state="unreviewed", after_id=after, limit=1)
            if rows:
                return int(rows[0][0].id)
    return None


def iou(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float:
    """Intersection over union of two intervals (two "no region"s agree: 1.0; one of them: 0.0)."""
    if a is None or b is None:
        return 1.0 if a is None and b is None else 0.0
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 and math.isfinite(union) else 0.0


# --------------------------------------------------------------------------- picking an item

#: Values of the ``status`` filter besides the pipeline statuses.
REVIEW_FILTERS = ("unreviewed", "reviewed")
#: Below this IoU a prediction and the current label "disagree".
DISAGREEMENT_IOU = 0.5


@dataclass(frozen=True)
class ItemChoice:
    """One row of the item picker."""

    id: int
    label: str
    kind: str
    reviewed: bool
    confidence: float | None
    agreement: float | None


def item_choices(*, engine, kind: str | None = None, series: str | None = None, status: str | None = None,
                 confidence: tuple[float, float] | None = None, disagreement: bool = False,
                 limit: int = 200) -> tuple[list[ItemChoice], int]:
    """Items matching the picker's filters, in id order, and how many match (before ``limit``).

    Parameters
    ----------
    status : str, optional
        ``"unreviewed"`` / ``"reviewed"`` (has a human label) or a pipeline status.
    confidence : (low, high), optional
        Keep items whose newest prediction's confidence is in the range.
    disagreement : bool
        Keep items whose newest prediction and current label of the item's main
        type overlap with IoU < 0.5 (or only one of them marks a region).
    """
    review_state = status if status in REVIEW_FILTERS else None
    pipeline_status = status if status and status not in REVIEW_FILTERS else None
    lo, hi = (None, None) if confidence is None else (float(confidence[0]), float(confidence[1]))
    if lo is not None and (not 0.0 <= lo <= hi <= 1.0):
        raise ValidationError(f"confidence range must satisfy 0 <= low <= high <= 1; got {confidence!r}")
    out: list[ItemChoice] = []
    with store.session_scope(engine) as s:
        offset, total = 0, 0
        while len(out) < limit:
            page, total = store.review_candidates(
                session=s, kind=kind or None, series=series or None, status=pipeline_status,
                review_state=review_state, tasks=TASKS, confidence_min=lo, confidence_max=hi,
                offset=offset, limit=500)
            if not page:
                break
            ids = [it.id for it, _ in page]
            reviewed = store.reviewed_item_ids(session=s, item_ids=ids)
            heads = store.heads_for_items(session=s, item_ids=ids) if disagreement else {}
            for it, pred in page:
                agree = None
                if disagreement:
                    if pred is None:
                        continue
                    want = PRIMARY_KIND.get(it.kind, "other")
                    lab = next(((lb.start, lb.end) for lb in heads.get(it.id, []) if lb.kind == want), None)
                    region = (pred.start, pred.end) if pred.start is not None else None
                    agree = iou(region, lab)
                    if agree >= DISAGREEMENT_IOU:
                        continue
                name = item_info(it).display_name
                mark = "✓ " if it.id in reviewed else ""
                conf = f" · {pred.confidence:.0%}" if pred is not None and pred.confidence is not None else ""
                out.append(ItemChoice(id=it.id, label=f"{mark}#{it.id} {name}{conf}", kind=it.kind,
                                      reviewed=it.id in reviewed, confidence=None if pred is None else pred.confidence,
                                      agreement=agree))
                if len(out) >= limit:
                    break
            offset += len(page)
            if offset >= total:
                break
        if disagreement:
            total = len(out)
    return out, int(total)


def review_facets(*, engine) -> dict[str, list[str]]:
    """Choices for the picker's filters: kinds, series/artists, statuses."""
    with store.session_scope(engine) as s:
        names = store.series_and_artists(session=s)
    return {"kind": list(store.ITEM_KINDS), "series": names,
            "status": list(REVIEW_FILTERS) + list(store.ITEM_STATUSES)}
