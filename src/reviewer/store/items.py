"""Media items: create or update by key, look up, list with filters and pages, count.

Every function takes the session first and only keywords::

    with session_scope(engine) as session:
        item = upsert_item(session=session, key="show_s01e01.mp3", path="show/s01e01.mp3", kind="episode")
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePath
from typing import Any

from sqlalchemy import delete, func, nulls_last, or_
from sqlmodel import Session, col, select

from reviewer.errors import NotFoundError, StaleEditError, ValidationError
from reviewer.store.checks import check_choice, check_nonneg, check_text
from reviewer.store.tables import (
    ITEM_KINDS,
    ITEM_STATUSES,
    SPLITS,
    Label,
    MediaItem,
    PackageRecord,
    Prediction,
    ProcessingRecord,
    utcnow,
)

__all__ = [
    "ITEM_ORDERS",
    "MAX_PAGE",
    "assign_splits",
    "delete_item",
    "get_item",
    "get_item_by_key",
    "item_ids",
    "item_key_from_path",
    "items_by_id",
    "items_by_key",
    "iter_items",
    "list_items",
    "series_summary",
    "set_item_status",
    "status_counts",
    "update_item_extra",
    "upsert_item",
    "validate_key",
]

logger = logging.getLogger(__name__)

_KEY_RE = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: Largest page :func:`list_items` returns.
MAX_PAGE = 1000

#: ``order`` values of :func:`list_items` (a leading ``-`` means descending).
ITEM_ORDERS = {
    "key": (MediaItem.key,),
    "id": (MediaItem.id,),
    "title": (MediaItem.title, MediaItem.key),
    "series": (MediaItem.series, MediaItem.season, MediaItem.episode, MediaItem.key),
    "artist": (MediaItem.artist, MediaItem.title, MediaItem.key),
    "duration": (MediaItem.duration, MediaItem.key),
    "status": (MediaItem.status, MediaItem.key),
    "created_at": (MediaItem.created_at, MediaItem.id),
    "updated_at": (MediaItem.updated_at, MediaItem.id),
}


def validate_key(key: object) -> str:
    """Return ``key`` if it is a valid item key (1–255 chars of ``[A-Za-z0-9._-]``).

    Raises
    ------
    ValidationError
        naming the key and the first bad character.
    """
    if not isinstance(key, str) or not _KEY_RE.match(key) or key in (".", ".."):
        bad = _UNSAFE.search(key) if isinstance(key, str) else None
        hint = f" (bad character {bad.group(0)[0]!r}; see item_key_from_path)" if bad else ""
        raise ValidationError(f"item key must be 1-255 characters of [A-Za-z0-9._-], got {key!r}{hint}")
    return key


def item_key_from_path(path: str | PurePath, *, root: str | PurePath | None = None) -> str:
    """A stable item key from a path relative to the library root.

    Folder separators become ``__`` and other characters outside
    ``[A-Za-z0-9._-]`` become ``_``; when anything had to be replaced a short
    digest of the original relative path is appended so distinct paths keep
    distinct keys.

    Parameters
    ----------
    path : str or PurePath
        The media file.
    root : str or PurePath, optional
        The library root ``path`` is made relative to.

    Returns
    -------
    str
        e.g. ``"Show__S01__e01.mp3"`` or ``"My_Show__e_01.mp3-1a2b3c4d"``.
    """
    p = PurePath(path)
    if root is not None:
        try:
            p = p.relative_to(PurePath(root))
        except ValueError as exc:
            raise ValidationError(f"{str(path)!r} is not inside the library root {str(root)!r}") from exc
    rel = p.as_posix().strip("/")
    if not rel:
        raise ValidationError(f"cannot derive an item key from {str(path)!r}")
    parts = [_UNSAFE.sub("_", part) for part in rel.split("/")]
    key = "__".join(parts)
    if key != rel.replace("/", "__") or len(key) > 240:
        digest = hashlib.sha1(rel.encode("utf-8")).hexdigest()[:8]
        key = f"{key[:240]}-{digest}"
    return validate_key(key)


def _check_item_fields(fields: dict[str, Any]) -> None:
    if "kind" in fields:
        check_choice(fields["kind"], ITEM_KINDS, what="item kind")
    if "split" in fields:
        check_choice(fields["split"], SPLITS, what="item split", allow_none=True)
    if "path" in fields:
        check_text(fields["path"], what="item path")
    for name in ("duration", "source_duration"):
        if name in fields:
            check_nonneg(fields[name], what=name)
    for name in ("season", "episode"):
        if fields.get(name) is not None and (not isinstance(fields[name], int) or fields[name] < 0):
            raise ValidationError(f"{name} must be an integer >= 0 or None; got {fields[name]!r}")
    if fields.get("extra") is not None and not isinstance(fields["extra"], dict):
        raise ValidationError(f"extra must be a dict or None; got {type(fields['extra']).__name__}")


def upsert_item(
    *,
    session: Session,
    key: str,
    path: str,
    kind: str,
    duration: float | None = None,
    source_duration: float | None = None,
    content_hash: str | None = None,
    series: str | None = None,
    season: int | None = None,
    episode: int | None = None,
    artist: str | None = None,
    title: str | None = None,
    genre: str | None = None,
    split: str | None = None,
    extra: dict | None = None,
) -> MediaItem:
    """Create the item ``key`` or update its metadata (idempotent by key).

    Arguments left as ``None`` keep the stored value; ``extra`` is merged
    into the stored dict (its keys win), so ingesting again does not drop
    what other steps added to ``extra``. ``version`` and
    ``updated_at`` change only when some value actually changed, so running
    the same ingest twice changes nothing.

    Returns
    -------
    MediaItem
        The stored row (flushed, so ``id`` is set).

    Raises
    ------
    ValidationError
        For a bad key, kind, split, path or negative duration.
    """
    validate_key(key)
    given = {
        "path": str(path), "kind": kind, "duration": duration, "source_duration": source_duration,
        "content_hash": content_hash, "series": series, "season": season, "episode": episode,
        "artist": artist, "title": title, "genre": genre, "split": split, "extra": extra,
    }
    given = {k: v for k, v in given.items() if v is not None}
    _check_item_fields(given)
    for name in ("duration", "source_duration"):
        if name in given:
            given[name] = float(given[name])
    item = session.exec(select(MediaItem).where(MediaItem.key == key)).first()
    if item is not None and "extra" in given:
        given["extra"] = {**(item.extra or {}), **given["extra"]}
    if item is None:
        item = MediaItem(key=key, **given)
        session.add(item)
        session.flush()
        logger.debug("new item %s (id %s)", key, item.id)
        return item
    changed = [name for name, value in given.items() if getattr(item, name) != value]
    if changed:
        for name in changed:
            setattr(item, name, given[name])
        item.version += 1
        item.updated_at = utcnow()
        session.add(item)
        session.flush()
        logger.debug("updated item %s: %s", key, ", ".join(changed))
    return item


def get_item(*, session: Session, item_id: int) -> MediaItem:
    """The item with id ``item_id``.

    Raises
    ------
    NotFoundError
        naming the id.
    """
    item = session.get(MediaItem, item_id)
    if item is None:
        raise NotFoundError(f"no media item with id {item_id!r}")
    return item


def get_item_by_key(*, session: Session, key: str) -> MediaItem:
    """The item with key ``key``.

    Raises
    ------
    NotFoundError
        naming the key.
    """
    item = session.exec(select(MediaItem).where(MediaItem.key == key)).first()
    if item is None:
        raise NotFoundError(f"no media item with key {key!r}")
    return item


def items_by_id(*, session: Session, item_ids: Iterable[int]) -> dict[int, MediaItem]:
    """The items among ``item_ids`` that exist, as ``{id: item}`` in ascending id order."""
    ids = sorted(set(int(i) for i in item_ids))
    out: dict[int, MediaItem] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for item in session.exec(select(MediaItem).where(col(MediaItem.id).in_(chunk)).order_by(MediaItem.id)):
            out[item.id] = item
    return out


def iter_items(
    *, session: Session, kind: str | None = None, status: str | None = None, split: str | None = None,
    batch_size: int = 1000,
) -> Iterator[MediaItem]:
    """Every item matching the filters, in id order, fetched ``batch_size`` rows at a time."""
    where = _filters(kind, None, status, split, None)
    last = 0
    while True:
        rows = session.exec(
            select(MediaItem).where(*where, col(MediaItem.id) > last).order_by(MediaItem.id).limit(batch_size)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def update_item_extra(*, session: Session, item_id: int, extra: Mapping[str, Any]) -> MediaItem:
    """Merge ``extra`` into an item's ``extra`` dict (given keys win; a None value is stored as null).

    Raises
    ------
    NotFoundError, ValidationError
    """
    if not isinstance(extra, Mapping):
        raise ValidationError(f"extra must be a mapping; got {type(extra).__name__}")
    item = get_item(session=session, item_id=item_id)
    merged = {**(item.extra or {}), **dict(extra)}
    if merged != (item.extra or {}):
        item.extra = merged
        item.version += 1
        item.updated_at = utcnow()
        session.add(item)
        session.flush()
    return item


def items_by_key(*, session: Session, keys: Iterable[str]) -> dict[str, MediaItem]:
    """The items among ``keys`` that exist, as ``{key: item}`` (missing keys are absent)."""
    keys = list(dict.fromkeys(keys))
    out: dict[str, MediaItem] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for item in session.exec(select(MediaItem).where(col(MediaItem.key).in_(chunk))):
            out[item.key] = item
    return out


def _filters(kind, series, status, split, search) -> list:
    where = []
    if kind is not None:
        where.append(MediaItem.kind == check_choice(kind, ITEM_KINDS, what="item kind"))
    if series is not None:
        where.append(MediaItem.series == series)
    if status is not None:
        where.append(MediaItem.status == check_choice(status, ITEM_STATUSES, what="item status"))
    if split is not None:
        where.append(MediaItem.split == check_choice(split, SPLITS, what="item split"))
    if search:
        needle = str(search).strip().lower()
        where.append(
            or_(*(func.lower(c).contains(needle, autoescape=True)
                  for c in (MediaItem.key, MediaItem.title, MediaItem.series, MediaItem.artist)))
        )
    return where


def list_items(
    *,
    session: Session,
    kind: str | None = None,
    series: str | None = None,
    status: str | None = None,
    split: str | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int = 50,
    order: str = "key",
) -> tuple[list[MediaItem], int]:
    """One page of items matching every given filter, and how many match in all.

    Parameters
    ----------
    kind, series, status, split : str, optional
        Exact filters.
    search : str, optional
        Case-insensitive substring of the key, title, series or artist.
    offset, limit : int
        The page: ``0 <= offset``, ``1 <= limit <= MAX_PAGE``.
    order : str
        One of :data:`ITEM_ORDERS`, ``-`` prefixed for descending.

    Returns
    -------
    rows : list of MediaItem
    total : int
        Matching rows over all pages.
    """
    if not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"offset must be an integer >= 0; got {offset!r}")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be an integer in 1..{MAX_PAGE}; got {limit!r}")
    desc = order.startswith("-")
    columns = ITEM_ORDERS.get(order.lstrip("-"))
    if columns is None:
        raise ValidationError(f"order must be one of {sorted(ITEM_ORDERS)} (optionally '-' prefixed); got {order!r}")
    where = _filters(kind, series, status, split, search)
    total = session.exec(select(func.count()).select_from(MediaItem).where(*where)).one()
    ordering = [nulls_last(c.desc() if desc else c.asc()) for c in columns]
    rows = session.exec(select(MediaItem).where(*where).order_by(*ordering).offset(offset).limit(limit)).all()
    return list(rows), int(total)


def item_ids(
    *, session: Session, kind: str | None = None, status: str | None = None, split: str | None = None
) -> list[int]:
    """Ids of every item matching the filters, ascending (for batch runs)."""
    where = _filters(kind, None, status, split, None)
    return list(session.exec(select(MediaItem.id).where(*where).order_by(MediaItem.id)).all())


def set_item_status(
    *,
    session: Session,
    item_id: int,
    status: str,
    duration: float | None = None,
    source_duration: float | None = None,
    content_hash: str | None = None,
    expected_version: int | None = None,
) -> MediaItem:
    """Move an item to ``status``, recording what the stage learned about it.

    Parameters
    ----------
    expected_version : int, optional
        If given, the edit is refused when the stored ``version`` differs.

    Raises
    ------
    NotFoundError, ValidationError, StaleEditError
    """
    check_choice(status, ITEM_STATUSES, what="item status")
    check_nonneg(duration, what="duration")
    check_nonneg(source_duration, what="source_duration")
    item = get_item(session=session, item_id=item_id)
    if expected_version is not None and item.version != expected_version:
        raise StaleEditError(
            f"item {item.key!r} was changed by someone else (version {item.version}, "
            f"you edited version {expected_version}, saved at {item.updated_at:%Y-%m-%d %H:%M:%S} UTC): reload it"
        )
    item.status = status
    if duration is not None:
        item.duration = float(duration)
    if source_duration is not None:
        item.source_duration = float(source_duration)
    if content_hash is not None:
        item.content_hash = content_hash
    item.version += 1
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    return item


def assign_splits(*, session: Session, splits: Mapping[int, str | None]) -> int:
    """Set ``split`` for many items at once (``{item_id: "train" | "val" | "test" | None}``).

    Returns
    -------
    int
        How many items changed.
    """
    for item_id, split in splits.items():
        check_choice(split, SPLITS, what=f"split of item {item_id}", allow_none=True)
    changed = 0
    for item_id, split in splits.items():
        item = get_item(session=session, item_id=item_id)
        if item.split != split:
            item.split = split
            item.version += 1
            item.updated_at = utcnow()
            session.add(item)
            changed += 1
    session.flush()
    return changed


def delete_item(*, session: Session, item_id: int) -> None:
    """Delete an item with its processing records, packages, predictions and labels.

    Raises
    ------
    NotFoundError
        naming the id.
    """
    item = get_item(session=session, item_id=item_id)
    for table in (ProcessingRecord, PackageRecord, Prediction):
        session.exec(delete(table).where(table.item_id == item_id))
    session.exec(delete(Label).where(Label.item_id == item_id))
    session.delete(item)
    session.flush()
    logger.info("deleted item %s (id %s)", item.key, item_id)


def status_counts(*, session: Session, kind: str | None = None) -> dict[str, int]:
    """Number of items per status (every status present, zeros included)."""
    where = _filters(kind, None, None, None, None)
    counts = {s: 0 for s in ITEM_STATUSES}
    rows = session.exec(select(MediaItem.status, func.count()).where(*where).group_by(MediaItem.status)).all()
    for status, n in rows:
        counts[status] = int(n)
    return counts


def series_summary(*, session: Session) -> list[dict[str, Any]]:
    """Item counts and total duration per (kind, series), with counts per status.

    Returns
    -------
    list of dict
        ``{"kind", "series", "items", "duration", "by_status": {status: n}}``,
        ordered by kind then series (items without a series last).
    """
    rows = session.exec(
        select(MediaItem.kind, MediaItem.series, MediaItem.status, func.count(), func.sum(MediaItem.duration))
        .group_by(MediaItem.kind, MediaItem.series, MediaItem.status)
    ).all()
    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    for kind, series, status, n, dur in rows:
        g = groups.setdefault(
            (kind, series),
            {"kind": kind, "series": series, "items": 0, "duration": 0.0, "by_status": {s: 0 for s in ITEM_STATUSES}},
        )
        g["items"] += int(n)
        g["duration"] += float(dur or 0.0)
        g["by_status"][status] = g["by_status"].get(status, 0) + int(n)
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1] is None, k[1] or ""))]
