"""Which labels go into an export, and the train / val / test split without leakage.

:func:`collect` reads the current labels (chain heads, not rejected) of the
items that pass :class:`ExportFilters`, with the item facts an export needs.
:func:`assign_split` splits the items **by group** (series for episodes,
artist for songs: a series or artist is never on two sides) or **by upload
date** (the newest dates are held out, or everything uploaded on or after a
fixed cut-off date), or
keeps the store's own split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from reviewer import store
from reviewer.errors import ValidationError
from reviewer.store.tables import ITEM_KINDS, LABEL_KINDS, LABEL_SOURCES

__all__ = ["SPLIT_MODES", "ExportFilters", "ItemRecord", "LabelRecord", "PredictionRecord", "SplitPlan",
           "assign_split", "collect", "item_group"]

logger = logging.getLogger(__name__)

#: ``SplitPlan.by`` values.
SPLIT_MODES = ("group", "upload_date", "store", "none")


@dataclass(frozen=True)
class ExportFilters:
    """What to export. Empty tuples mean "all".

    Attributes
    ----------
    kinds : tuple of str
        Item kinds (``"episode"``, ``"song"``, ``"other"``).
    series, artists : tuple of str
        Only items of these series / artists.
    sources : tuple of str
        Label sources (``"truth"``, ``"human"``, ``"crowd"``, ``"import"``).
    label_kinds : tuple of str
        Label kinds (``"intro"``, ``"chorus"``, ``"interest"``, ...).
    min_agreement : float, optional
        Crowd labels whose recorded mean pairwise IoU is below this are left out.
    model_version : str, optional
        Only items predicted by this model version (id, ``version`` or
        ``name:version``); its predictions go into the Label Studio file.
    """

    kinds: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    artists: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    label_kinds: tuple[str, ...] = ()
    min_agreement: float | None = None
    model_version: str | None = None

    def __post_init__(self) -> None:
        for name, allowed in (("kinds", ITEM_KINDS), ("sources", LABEL_SOURCES), ("label_kinds", LABEL_KINDS)):
            bad = [v for v in getattr(self, name) if v not in allowed]
            if bad:
                raise ValidationError(f"export filter {name}: unknown value(s) {bad}; allowed: {list(allowed)}")
        if self.min_agreement is not None and not 0.0 <= float(self.min_agreement) <= 1.0:
            raise ValidationError(f"min_agreement must be in [0, 1]; got {self.min_agreement!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the manifest)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class ItemRecord:
    """An exported item."""

    item_id: int
    key: str
    path: str
    kind: str
    series: str | None
    season: int | None
    episode: int | None
    artist: str | None
    title: str | None
    genre: str | None
    duration: float
    upload_date: str | None
    store_split: str | None
    has_intro: bool | None
    group: str
    split: str | None = None


@dataclass(frozen=True)
class LabelRecord:
    """One exported label (a row of labels.csv)."""

    label_id: int
    item_id: int
    key: str
    kind: str
    start: float
    end: float
    source: str
    author: str | None
    status: str
    version: int
    created_at: str
    agreement: float | None


@dataclass(frozen=True)
class PredictionRecord:
    """A model prediction shown as a Label Studio prediction."""

    prediction_id: int
    item_id: int
    task: str
    start: float
    end: float
    confidence: float | None
    model_version: str


@dataclass(frozen=True)
class SplitPlan:
    """How to split: ``by`` one of :data:`SPLIT_MODES`, the held-out fractions and the seed.

    ``cutoff`` (``by="upload_date"`` only, ``YYYY-MM-DD``): items uploaded on or
    after this date are held out (``test``) whatever ``test_fraction`` says; the
    validation share is then taken from the newest dates before it.
    """

    by: str = "group"
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    seed: int = 0
    cutoff: str | None = None

    def __post_init__(self) -> None:
        if self.by not in SPLIT_MODES:
            raise ValidationError(f"split must be one of {SPLIT_MODES}; got {self.by!r}")
        if self.cutoff is not None:
            import datetime as _dt

            if self.by != "upload_date":
                raise ValidationError(f"a cut-off date needs split by upload_date, not {self.by!r}")
            try:
                day = _dt.date.fromisoformat(str(self.cutoff)[:10])
            except ValueError:
                raise ValidationError(f"cut-off must be a date YYYY-MM-DD; got {self.cutoff!r}") from None
            object.__setattr__(self, "cutoff", day.isoformat())
        if not (0.0 <= self.test_fraction < 1.0 and 0.0 <= self.val_fraction < 1.0
                and self.test_fraction + self.val_fraction < 1.0):
            raise ValidationError(f"split fractions must be in [0, 1) and sum below 1; got test "
                                  f"{self.test_fraction}, val {self.val_fraction}")


def item_group(item: Any) -> str:
    """The unit of a leakage-free split: series, else artist, else the item itself."""
    if getattr(item, "series", None):
        return f"series:{item.series}"
    if getattr(item, "artist", None):
        return f"artist:{item.artist}"
    return f"item:{item.key}"


def _agreement(label) -> float | None:
    if label.source != "crowd" or not label.note:
        return None
    try:
        value = json.loads(label.note).get("mean_iou")
    except (json.JSONDecodeError, AttributeError):
        return None
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _model_version(session, ref: str):
    versions = store.list_model_versions(session=session)
    for mv in versions:
        if ref in (str(mv.id), mv.version, f"{mv.name}:{mv.version}"):
            return mv
    raise ValidationError(f"no model version matches {ref!r} (give an id, a version or name:version)")


def collect(session, filters: ExportFilters) -> tuple[list[ItemRecord], list[LabelRecord], list[PredictionRecord]]:
    """Items, their current labels and predictions that pass the filters.

    Items without a label that passes (and, for episodes, no "no intro" mark)
    are left out.
    """
    mv = _model_version(session, filters.model_version) if filters.model_version else None
    mv_names = {m.id: f"{m.name}:{m.version}" for m in store.list_model_versions(session=session)}
    items, labels, preds = [], [], []
    for item in store.iter_items(session=session):
        if filters.kinds and item.kind not in filters.kinds:
            continue
        if filters.series and item.series not in filters.series:
            continue
        if filters.artists and item.artist not in filters.artists:
            continue
        if not item.duration:
            continue
        item_preds = store.predictions_for(session=session, item_id=item.id,
                                           model_version_id=None if mv is None else mv.id)
        if mv is not None and not item_preds:
            continue
        rows = []
        for lb in store.current_labels(session=session, item_id=item.id):
            if filters.sources and lb.source not in filters.sources:
                continue
            if filters.label_kinds and lb.kind not in filters.label_kinds:
                continue
            agreement = _agreement(lb)
            if filters.min_agreement is not None and lb.source == "crowd" and (
                    agreement is None or agreement < filters.min_agreement):
                continue
            rows.append(LabelRecord(label_id=lb.id, item_id=item.id, key=item.key, kind=lb.kind, start=lb.start,
                                    end=lb.end, source=lb.source, author=lb.author, status=lb.status,
                                    version=lb.version, created_at=lb.created_at.isoformat(), agreement=agreement))
        extra = item.extra or {}
        has_intro = extra.get("has_intro") if item.kind == "episode" else None
        if not rows and has_intro is not False:
            continue
        labels.extend(rows)
        items.append(ItemRecord(item_id=item.id, key=item.key, path=item.path, kind=item.kind, series=item.series,
                                season=item.season, episode=item.episode, artist=item.artist, title=item.title,
                                genre=item.genre, duration=float(item.duration),
                                upload_date=str(extra["upload_date"])[:10] if extra.get("upload_date") else None,
                                store_split=item.split, has_intro=has_intro, group=item_group(item)))
        seen_tasks: set[str] = set()
        for p in item_preds:  # newest first: keep the newest per task
            if p.start is None or p.task in seen_tasks:
                continue
            seen_tasks.add(p.task)
            preds.append(PredictionRecord(prediction_id=p.id, item_id=item.id, task=p.task, start=p.start,
                                          end=p.end, confidence=p.confidence,
                                          model_version=mv_names.get(p.model_version_id, "baseline")))
    logger.info("export selection: %d item(s), %d label(s), %d prediction(s)", len(items), len(labels), len(preds))
    return items, labels, preds


def _hash(text: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def assign_split(items: list[ItemRecord], plan: SplitPlan) -> list[ItemRecord]:
    """Copies of ``items`` with ``split`` set (``"train"``, ``"val"``, ``"test"``, or None for ``by="none"``).

    Raises
    ------
    ValidationError
        ``by="upload_date"`` with items that have no ``extra["upload_date"]``.
    """
    if plan.by == "none":
        return [dataclasses.replace(it, split=None) for it in items]
    if plan.by == "store":
        return [dataclasses.replace(it, split=it.store_split or "train") for it in items]
    if plan.by == "upload_date":
        undated = [it.key for it in items if not it.upload_date]
        if undated:
            raise ValidationError(f"{len(undated)} item(s) have no upload_date (e.g. {undated[0]!r}); split by group")
        units = {it.upload_date: it.upload_date for it in items}
        order = sorted(units)  # oldest first: the newest dates are held out
    else:
        units = {it.group: it.group for it in items}
        order = sorted(units, key=lambda g: _hash(g, plan.seed))
    sizes = {u: 0 for u in order}
    for it in items:
        sizes[it.upload_date if plan.by == "upload_date" else it.group] += 1
    total = len(items)
    split_of: dict[str, str] = {}
    held = {"test": plan.test_fraction * total, "val": plan.val_fraction * total}
    taken = {"test": 0, "val": 0}
    if plan.by == "upload_date" and plan.cutoff is not None:  # a fixed date: on/after it is held out
        split_of = {d: "test" for d in order if d >= plan.cutoff}
        order = [d for d in order if d < plan.cutoff]
        held["test"] = 0.0
    for unit in reversed(order):  # newest dates / last hashed groups go to test, then val
        for name in ("test", "val"):
            if taken[name] < held[name] and (taken[name] + sizes[unit] <= held[name] + 0.5 * sizes[unit]
                                             or taken[name] == 0):
                split_of[unit] = name
                taken[name] += sizes[unit]
                break
        else:
            split_of[unit] = "train"
    if plan.cutoff is None and len(order) > 1 and all(v != "train" for v in split_of.values()):
        split_of[order[0]] = "train"
    return [dataclasses.replace(it, split=split_of[it.upload_date if plan.by == "upload_date" else it.group])
            for it in items]
