"""Library-wide summaries for the home page: label progress per series / artist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func
from sqlmodel import Session, select

from reviewer.store.tables import Label, MediaItem


def label_progress(*, session: Session) -> list[dict[str, Any]]:
    """Per (kind, series or artist): items, and how many have truth / human / crowd labels.

    Returns
    -------
    list of dict
        ``{"kind", "group", "items", "truth", "human", "crowd"}`` where the label
        counts are numbers of distinct items with at least one label of that source.
        An episode whose imported truth says "no intro" (``extra["has_intro"] is
        False``, no label row) counts as having truth.
    """
    group = func.coalesce(MediaItem.series, MediaItem.artist)
    items = session.exec(select(MediaItem.kind, group, func.count()).group_by(MediaItem.kind, group)).all()
    out: dict[tuple[str, str | None], dict[str, Any]] = {
        (k, g): {"kind": k, "group": g, "items": int(n), "truth": 0, "human": 0, "crowd": 0} for k, g, n in items
    }
    rows = session.exec(
        select(MediaItem.kind, group, Label.source, func.count(distinct(Label.item_id)))
        .join(MediaItem, MediaItem.id == Label.item_id)
        .group_by(MediaItem.kind, group, Label.source)
    ).all()
    for k, g, source, n in rows:
        row = out.get((k, g))
        if row is not None and source in ("truth", "human", "crowd"):
            row[source] = int(n)
    labelled = select(Label.item_id).where(Label.source == "truth")
    for k, g, extra in session.exec(
        select(MediaItem.kind, group, MediaItem.extra).where(MediaItem.id.not_in(labelled))  # type: ignore[union-attr]
    ).all():
        if isinstance(extra, dict) and extra.get("has_intro") is False and (k, g) in out:
            out[(k, g)]["truth"] += 1
    return [out[k] for k in sorted(out, key=lambda k: (k[0], k[1] is None, k[1] or ""))]
