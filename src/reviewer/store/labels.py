"""Labels: intervals from the ground truth, annotators and the crowd.

Labels are never edited in place. A correction (new bounds, a rejection, an
acceptance of a proposal) is a new row whose ``supersedes_id`` names the label
it replaces; the current labels are the *heads* of those chains. Every row in
a chain carries the chain's edit count in ``version``, and an edit based on an
older head raises :class:`~reviewer.errors.StaleEditError` naming who saved
first. Intervals are checked (``0 <= start < end <= duration``) before
anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from reviewer.errors import NotFoundError, StaleEditError, ValidationError
from reviewer.frames import validate_interval
from reviewer.store.checks import check_choice
from reviewer.store.items import get_item, items_by_key
from reviewer.store.tables import LABEL_KINDS, LABEL_SOURCES, LABEL_STATUSES, Label

__all__ = [
    "add_label",
    "current_labels",
    "get_label",
    "import_truth_labels",
    "label_history",
    "replace_truth_labels",
    "superseded_by",
]

logger = logging.getLogger(__name__)


def _who(label: Label) -> str:
    when = f"{label.created_at:%Y-%m-%d %H:%M:%S} UTC" if label.created_at else "an unknown time"
    return f"{label.author or 'an unnamed ' + label.source + ' author'} (label {label.id}, version {label.version}, saved {when})"


def get_label(*, session: Session, label_id: int) -> Label:
    """The label with id ``label_id``.

    Raises
    ------
    NotFoundError
        naming the id.
    """
    label = session.get(Label, label_id)
    if label is None:
        raise NotFoundError(f"no label with id {label_id!r}")
    return label


def superseded_by(*, session: Session, label_id: int) -> Label | None:
    """The label that replaced ``label_id``, or None if it is still the head of its chain."""
    return session.exec(select(Label).where(Label.supersedes_id == label_id)).first()


def _chain_head(session: Session, label: Label) -> Label:
    head = label
    while (nxt := superseded_by(session=session, label_id=head.id)) is not None:
        head = nxt
    return head


def add_label(
    *,
    session: Session,
    item_id: int,
    kind: str,
    start: float,
    end: float,
    source: str,
    author: str | None = None,
    status: str = "accepted",
    note: str | None = None,
    supersedes_id: int | None = None,
    expected_version: int | None = None,
) -> Label:
    """Add a label, or a correction of one (``supersedes_id``).

    Parameters
    ----------
    item_id : int
        The item the interval belongs to.
    kind : str
        One of :data:`~reviewer.store.tables.LABEL_KINDS`.
    start, end : float
        Seconds, ``0 <= start < end <= item.duration``.
    source : str
        ``"truth"``, ``"human"``, ``"crowd"`` or ``"import"``.
    author : str, optional
        Who made it (shown in stale-edit messages).
    status : str
        ``"accepted"``, ``"rejected"`` or ``"proposed"``.
    supersedes_id : int, optional
        The label this one corrects; it must be the current head of its chain
        and belong to the same item.
    expected_version : int, optional
        The ``version`` of the label the editor was looking at; the edit is
        refused if the chain has moved on since.

    Returns
    -------
    Label
        The new row (flushed, ``id`` set).

    Raises
    ------
    ValidationError
        Bad kind / source / status or interval, or a correction of another item's label.
    NotFoundError
        Unknown item or superseded label.
    StaleEditError
        Someone else corrected the label first (the message names them). When
        this is detected by the database (a concurrent save) the session has
        been rolled back.
    """
    check_choice(kind, LABEL_KINDS, what="label kind")
    check_choice(source, LABEL_SOURCES, what="label source")
    check_choice(status, LABEL_STATUSES, what="label status")
    item = get_item(session=session, item_id=item_id)
    s, e = validate_interval(start, end, duration=item.duration, what=f"{kind} label of item {item.key!r}")
    version = 1
    if supersedes_id is not None:
        old = get_label(session=session, label_id=supersedes_id)
        if old.item_id != item_id:
            raise ValidationError(f"label {supersedes_id} belongs to item {old.item_id}, not to item {item_id}")
        newer = superseded_by(session=session, label_id=old.id)
        if newer is not None:
            head = _chain_head(session, newer)
            raise StaleEditError(
                f"label {old.id} was already corrected by {_who(head)}; reload the item and edit the latest version"
            )
        if expected_version is not None and old.version != expected_version:
            raise StaleEditError(
                f"label {old.id} is at version {old.version} but your edit was based on version "
                f"{expected_version}; last saved by {_who(old)}"
            )
        version = old.version + 1
    elif expected_version is not None:
        raise ValidationError("expected_version only applies to a correction (pass supersedes_id)")
    label = Label(item_id=item_id, kind=kind, start=s, end=e, source=source, author=author, status=status,
                  note=note, supersedes_id=supersedes_id, version=version)
    session.add(label)
    try:
        session.flush()
    except IntegrityError:
        if supersedes_id is None:
            raise
        session.rollback()
        winner = superseded_by(session=session, label_id=supersedes_id)
        if winner is None:
            raise
        raise StaleEditError(
            f"label {supersedes_id} was corrected by {_who(winner)} while you were saving; reload and try again"
        ) from None
    logger.debug("label %s: item %s %s [%.3f, %.3f) by %s", label.id, item_id, kind, s, e, author)
    return label


def current_labels(
    *,
    session: Session,
    item_id: int,
    kind: str | None = None,
    source: str | None = None,
    include_rejected: bool = False,
) -> list[Label]:
    """The heads of an item's label chains (labels nothing supersedes), by start time.

    Parameters
    ----------
    kind, source : str, optional
        Keep only heads of this kind / source.
    include_rejected : bool
        Also return heads whose status is ``"rejected"`` (hidden by default).
    """
    newer = aliased(Label)
    q = select(Label).where(
        Label.item_id == item_id,
        ~exists().where(newer.supersedes_id == Label.id),
    )
    if kind is not None:
        q = q.where(Label.kind == kind)
    if source is not None:
        q = q.where(Label.source == source)
    if not include_rejected:
        q = q.where(Label.status != "rejected")
    return list(session.exec(q.order_by(Label.start, Label.id)).all())


def label_history(*, session: Session, item_id: int, kind: str | None = None) -> list[Label]:
    """Every label of an item, superseded ones included, in the order they were saved."""
    q = select(Label).where(Label.item_id == item_id)
    if kind is not None:
        q = q.where(Label.kind == kind)
    return list(session.exec(q.order_by(col(Label.id))).all())


def _as_triple(entry: Any, key: str) -> tuple[str, float, float]:
    if isinstance(entry, Mapping):
        try:
            return str(entry["kind"]), entry["start"], entry["end"]
        except KeyError as exc:
            raise ValidationError(f"truth label of {key!r} lacks {exc.args[0]!r}: {dict(entry)!r}") from exc
    try:
        kind, start, end = entry
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"truth label of {key!r} must be (kind, start, end); got {entry!r}") from exc
    return str(kind), start, end


def import_truth_labels(
    *,
    session: Session,
    labels: Mapping[str, Iterable[Any]],
    source: str = "truth",
    author: str | None = "ground-truth",
) -> int:
    """Load known intervals (demo ground truth, an imported dataset) for many items.

    Parameters
    ----------
    labels : mapping of str to iterable
        Item key → intervals, each ``(kind, start, end)`` or ``{"kind", "start", "end"}``.
    source : str
        ``"truth"`` (default) or ``"import"``.
    author : str, optional
        Stored on every new label.

    Returns
    -------
    int
        How many labels were added. An interval already present as a current
        label of the same item, kind and source is not added again, so the
        import is idempotent.

    Raises
    ------
    NotFoundError
        naming the keys that are not in the library (nothing is written).
    ValidationError
        for a malformed entry or an interval outside its item.
    """
    check_choice(source, LABEL_SOURCES, what="label source")
    items = items_by_key(session=session, keys=labels.keys())
    missing = [k for k in labels if k not in items]
    if missing:
        shown = ", ".join(repr(k) for k in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise NotFoundError(f"{len(missing)} labelled item key(s) are not in the library: {shown}")
    plan: list[tuple[int, str, float, float]] = []
    for key, entries in labels.items():
        item = items[key]
        for entry in entries:
            kind, start, end = _as_triple(entry, key)
            check_choice(kind, LABEL_KINDS, what=f"label kind of {key!r}")
            s, e = validate_interval(start, end, duration=item.duration, what=f"{kind} label of {key!r}")
            plan.append((item.id, kind, s, e))
    added = 0
    existing: dict[int, list[Label]] = {}
    for item_id, kind, s, e in plan:
        if item_id not in existing:
            existing[item_id] = current_labels(session=session, item_id=item_id, source=source)
        if any(lb.kind == kind and abs(lb.start - s) < 1e-6 and abs(lb.end - e) < 1e-6 for lb in existing[item_id]):
            continue
        label = add_label(session=session, item_id=item_id, kind=kind, start=s, end=e, source=source, author=author)
        existing[item_id].append(label)
        added += 1
    logger.info("imported %d %s label(s) for %d item(s)", added, source, len(labels))
    return added


def _same(label: Label, s: float, e: float) -> bool:
    return abs(label.start - s) < 1e-6 and abs(label.end - e) < 1e-6


def replace_truth_labels(
    *,
    session: Session,
    item_id: int,
    kind: str,
    intervals: Iterable[tuple[float, float]],
    source: str = "truth",
    author: str | None = "ground-truth",
) -> int:
    """Make ``intervals`` the current ``source`` labels of one kind of one item.

    Nothing is overwritten: a current label whose interval is no longer listed
    is superseded by a ``"rejected"`` row, a listed interval that is missing
    is added, and one already present is left alone (so calling it twice
    changes nothing). Labels from other sources are untouched.

    Parameters
    ----------
    intervals : iterable of (start, end)
        Seconds; every one is validated against the item's duration first.

    Returns
    -------
    int
        Labels added (new intervals plus rejections).

    Raises
    ------
    ValidationError, NotFoundError
    """
    check_choice(kind, LABEL_KINDS, what="label kind")
    check_choice(source, LABEL_SOURCES, what="label source")
    item = get_item(session=session, item_id=item_id)
    wanted: list[tuple[float, float]] = []
    for pair in intervals:
        try:
            start, end = pair
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{kind} interval of item {item.key!r} must be (start, end); got {pair!r}") from exc
        wanted.append(validate_interval(start, end, duration=item.duration, what=f"{kind} label of {item.key!r}"))
    heads = current_labels(session=session, item_id=item_id, kind=kind, source=source)
    written = 0
    for head in heads:
        if not any(_same(head, s, e) for s, e in wanted):
            add_label(session=session, item_id=item_id, kind=kind, start=head.start, end=head.end, source=source,
                      author=author, status="rejected", note="replaced by a new import",
                      supersedes_id=head.id, expected_version=head.version)
            written += 1
    for s, e in wanted:
        if not any(_same(head, s, e) for head in heads):
            heads.append(add_label(session=session, item_id=item_id, kind=kind, start=s, end=e, source=source,
                                   author=author))
            written += 1
    return written
