"""Queries behind the Review page: which items are reviewed, candidates for review, latest predictions.

An item is *reviewed* when it has at least one label whose source is
``"human"`` (an acceptance, a correction or a rejection). Every function takes
the session first and only keywords, and works in pages of bounded size so
100k items stay fast.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from reviewer.errors import ValidationError
from reviewer.store.checks import check_choice
from reviewer.store.tables import ITEM_KINDS, ITEM_STATUSES, Label, MediaItem, Prediction

__all__ = [
    "REVIEW_STATES",
    "heads_for_items",
    "latest_predictions",
    "review_candidates",
    "reviewed_item_ids",
    "series_and_artists",
]

logger = logging.getLogger(__name__)

#: ``review_candidates(review_state=...)`` values.
REVIEW_STATES = ("reviewed", "unreviewed")

_CHUNK = 500


def _reviewed_clause():
    return exists().where(Label.item_id == MediaItem.id, Label.source == "human")


def review_candidates(
    *,
    session: Session,
    kind: str | None = None,
    series: str | None = None,
    status: str | None = None,
    review_state: str | None = None,
    tasks: Sequence[str] | None = None,
    confidence_min: float | None = None,
    confidence_max: float | None = None,
    after_id: int | None = None,
    offset: int = 0,
    limit: int = 200,
) -> tuple[list[tuple[MediaItem, Prediction | None]], int]:
    """Items to review with their latest prediction, in id order, and how many match.

    Parameters
    ----------
    kind, status : str, optional
        Exact item kind / pipeline status.
    series : str, optional
        Matches the item's series or its artist.
    review_state : {"reviewed", "unreviewed"}, optional
        Whether the item has a human label.
    tasks : sequence of str, optional
        Prediction tasks considered for "latest prediction" (all when None).
    confidence_min, confidence_max : float, optional
        Keep items whose latest prediction's confidence is in the range
        (items without a prediction are dropped when either bound is given).
    after_id : int, optional
        Only items with a larger id (for "next").
    offset, limit : int
        The page (``1 <= limit <= 1000``).

    Returns
    -------
    rows : list of (MediaItem, Prediction or None)
    total : int
        Matching items over all pages.
    """
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError(f"limit must be an integer in 1..1000; got {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"offset must be an integer >= 0; got {offset!r}")
    pred = aliased(Prediction)
    newest = select(func.max(Prediction.id)).where(Prediction.item_id == MediaItem.id)
    if tasks:
        newest = newest.where(col(Prediction.task).in_(list(tasks)))
    q = select(MediaItem, pred).outerjoin(pred, pred.id == newest.correlate(MediaItem).scalar_subquery())
    where = []
    if kind:
        where.append(MediaItem.kind == check_choice(kind, ITEM_KINDS, what="item kind"))
    if status:
        where.append(MediaItem.status == check_choice(status, ITEM_STATUSES, what="item status"))
    if series:
        where.append(or_(MediaItem.series == series, MediaItem.artist == series))
    if review_state:
        check_choice(review_state, REVIEW_STATES, what="review state")
        where.append(_reviewed_clause() if review_state == "reviewed" else ~_reviewed_clause())
    if confidence_min is not None:
        where.append(pred.confidence >= float(confidence_min))
    if confidence_max is not None:
        where.append(pred.confidence <= float(confidence_max))
    if after_id is not None:
        where.append(MediaItem.id > int(after_id))
    q = q.where(*where)
    total = session.exec(select(func.count()).select_from(q.subquery())).one()
    rows = session.exec(q.order_by(MediaItem.id).offset(offset).limit(limit)).all()
    return [(item, p) for item, p in rows], int(total)


def reviewed_item_ids(*, session: Session, item_ids: Iterable[int]) -> set[int]:
    """The ids among ``item_ids`` that have at least one human label."""
    ids = sorted({int(i) for i in item_ids})
    out: set[int] = set()
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        out.update(session.exec(
            select(Label.item_id).where(col(Label.item_id).in_(chunk), Label.source == "human").distinct()
        ).all())
    return out


def latest_predictions(
    *, session: Session, item_ids: Iterable[int], tasks: Sequence[str] | None = None
) -> dict[tuple[int, str], Prediction]:
    """The newest prediction per (item, task) for the given items."""
    ids = sorted({int(i) for i in item_ids})
    out: dict[tuple[int, str], Prediction] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        sub = select(func.max(Prediction.id)).where(col(Prediction.item_id).in_(chunk))
        if tasks:
            sub = sub.where(col(Prediction.task).in_(list(tasks)))
        sub = sub.group_by(Prediction.item_id, Prediction.task)
        for p in session.exec(select(Prediction).where(col(Prediction.id).in_(sub))).all():
            out[(p.item_id, p.task)] = p
    return out


def heads_for_items(
    *, session: Session, item_ids: Iterable[int], kinds: Sequence[str] | None = None
) -> dict[int, list[Label]]:
    """Current (head, not rejected) labels of many items, ``{item_id: [Label, ...]}`` by start time."""
    ids = sorted({int(i) for i in item_ids})
    newer = aliased(Label)
    out: dict[int, list[Label]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        q = select(Label).where(
            col(Label.item_id).in_(chunk), Label.status != "rejected",
            ~exists().where(newer.supersedes_id == Label.id),
        )
        if kinds:
            q = q.where(col(Label.kind).in_(list(kinds)))
        for lb in session.exec(q.order_by(Label.item_id, Label.start, Label.id)).all():
            out.setdefault(lb.item_id, []).append(lb)
    return out


def series_and_artists(*, session: Session, kind: str | None = None) -> list[str]:
    """Distinct non-empty series and artist names (optionally of one item kind), sorted."""
    names: set[str] = set()
    for column in (MediaItem.series, MediaItem.artist):
        q = select(column).where(column.isnot(None)).distinct()
        if kind:
            q = q.where(MediaItem.kind == check_choice(kind, ITEM_KINDS, what="item kind"))
        names.update(v for v in session.exec(q).all() if v)
    return sorted(names)
