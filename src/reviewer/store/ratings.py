"""Listening judgements: 1–5 ratings of predicted snippets and blind A/B preferences.

Both are new rows, never edits. The listen queue query (which predicted
snippets there are to play, newest per item, task and model version) lives
here too, because it is counted against the ratings::

    with session_scope(engine) as session:
        add_rating(session=session, item_id=3, prediction_id=17, rating=4, author="pm")
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from reviewer.errors import NotFoundError, ValidationError
from reviewer.store.items import get_item
from reviewer.store.tables import PREFERENCE_CHOICES, MediaItem, Prediction, Preference, Rating

__all__ = [
    "SNIPPET_TASKS",
    "add_preference",
    "add_rating",
    "get_prediction",
    "list_preferences",
    "list_ratings",
    "newest_predictions",
    "predictions_by_id",
    "rating_summary",
    "snippet_predictions",
]

logger = logging.getLogger(__name__)

#: Which prediction task is "the snippet" of which item kind.
SNIPPET_TASKS: dict[str, str] = {"song": "hook", "episode": "intro"}
#: Longest comment kept.
MAX_COMMENT = 2000


def get_prediction(*, session: Session, prediction_id: int) -> Prediction:
    """One prediction by id.

    Raises
    ------
    NotFoundError
        naming the id.
    """
    pred = session.get(Prediction, prediction_id)
    if pred is None:
        raise NotFoundError(f"no prediction with id {prediction_id!r} (deleted or re-predicted meanwhile?)")
    return pred


def predictions_by_id(*, session: Session, prediction_ids: Iterable[int]) -> dict[int, Prediction]:
    """The predictions that exist among ``prediction_ids``, by id (missing ids are left out)."""
    ids = sorted({int(i) for i in prediction_ids})
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Prediction).where(col(Prediction.id).in_(ids))).all()}


def _prediction_of(session: Session, *, item_id: int, prediction_id: int) -> Prediction:
    item = get_item(session=session, item_id=item_id)
    pred = get_prediction(session=session, prediction_id=prediction_id)
    if pred.item_id != item.id:
        raise ValidationError(f"prediction {prediction_id} belongs to item {pred.item_id}, not to item {item_id} ({item.key!r})")
    return pred


def _clean_author(author: str | None) -> str | None:
    if author is None:
        return None
    if not isinstance(author, str):
        raise ValidationError(f"author must be a string; got {author!r}")
    return author.strip()[:100] or None


def add_rating(
    *,
    session: Session,
    item_id: int,
    prediction_id: int,
    rating: int,
    comment: str | None = None,
    author: str | None = None,
) -> Rating:
    """Store one 1–5 rating of a predicted snippet.

    Parameters
    ----------
    rating : int
        1 (bad) .. 5 (excellent); a float must be a whole number.
    comment : str, optional
        Free text, at most :data:`MAX_COMMENT` characters (blank → None).

    Raises
    ------
    ValidationError
        rating outside 1..5, a prediction of another item, a comment too long.
    NotFoundError
        unknown item or prediction.
    """
    if isinstance(rating, bool) or not isinstance(rating, (int, float)):
        raise ValidationError(f"rating must be a whole number 1..5; got {rating!r}")
    if not (math.isfinite(rating) and float(rating).is_integer() and 1 <= rating <= 5):
        raise ValidationError(f"rating must be a whole number 1..5; got {rating!r}")
    if comment is not None:
        if not isinstance(comment, str):
            raise ValidationError(f"comment must be text; got {type(comment).__name__}")
        if len(comment) > MAX_COMMENT:
            raise ValidationError(f"comment is {len(comment)} characters; at most {MAX_COMMENT} are kept")
        comment = comment.strip() or None
    pred = _prediction_of(session, item_id=item_id, prediction_id=prediction_id)
    row = Rating(item_id=item_id, prediction_id=pred.id, model_version_id=pred.model_version_id, rating=int(rating),
                 comment=comment, author=_clean_author(author))
    session.add(row)
    session.flush()
    logger.debug("rating %s: prediction %s of item %s = %s by %s", row.id, pred.id, item_id, row.rating, row.author)
    return row


def list_ratings(
    *,
    session: Session,
    item_id: int | None = None,
    prediction_id: int | None = None,
    author: str | None = None,
    limit: int | None = None,
) -> list[Rating]:
    """Ratings, newest first, optionally of one item / prediction / author."""
    q = select(Rating)
    if item_id is not None:
        q = q.where(Rating.item_id == item_id)
    if prediction_id is not None:
        q = q.where(Rating.prediction_id == prediction_id)
    if author is not None:
        q = q.where(Rating.author == author)
    q = q.order_by(col(Rating.id).desc())
    if limit is not None:
        q = q.limit(int(limit))
    return list(session.exec(q).all())


def rating_summary(*, session: Session, by: str = "model_version") -> list[tuple[Any, int, float, list[int]]]:
    """Every rating grouped by ``"model_version"`` (id, None for baselines) or ``"prediction"``.

    Returns
    -------
    list of (key, n, mean, ratings)
        ``ratings`` are the raw values (for a confidence interval).
    """
    column = {"model_version": Rating.model_version_id, "prediction": Rating.prediction_id}.get(by)
    if column is None:
        raise ValidationError(f"rating_summary by must be 'model_version' or 'prediction'; got {by!r}")
    groups: dict[Any, list[int]] = {}
    for key, value in session.exec(select(column, Rating.rating)).all():
        groups.setdefault(key, []).append(int(value))
    return [(k, len(v), sum(v) / len(v), v) for k, v in groups.items()]


def add_preference(
    *,
    session: Session,
    item_id: int,
    prediction_a_id: int,
    prediction_b_id: int,
    chosen: str,
    author: str | None = None,
) -> Preference:
    """Store a blind A/B judgement between two predictions of one item.

    Raises
    ------
    ValidationError
        ``chosen`` not in :data:`~reviewer.store.tables.PREFERENCE_CHOICES`, A == B,
        or a prediction of another item.
    NotFoundError
        unknown item or prediction.
    """
    if chosen not in PREFERENCE_CHOICES:
        raise ValidationError(f"preference must be one of {PREFERENCE_CHOICES}; got {chosen!r}")
    if prediction_a_id == prediction_b_id:
        raise ValidationError(f"A and B are the same prediction ({prediction_a_id}); nothing to compare")
    a = _prediction_of(session, item_id=item_id, prediction_id=prediction_a_id)
    b = _prediction_of(session, item_id=item_id, prediction_id=prediction_b_id)
    row = Preference(item_id=item_id, prediction_a_id=a.id, prediction_b_id=b.id, chosen=chosen,
                     author=_clean_author(author))
    session.add(row)
    session.flush()
    return row


def list_preferences(*, session: Session, item_id: int | None = None) -> list[Preference]:
    """A/B preferences, oldest first, optionally of one item."""
    q = select(Preference)
    if item_id is not None:
        q = q.where(Preference.item_id == item_id)
    return list(session.exec(q.order_by(col(Preference.id))).all())


def _snippet_clause(kinds: Sequence[str] | None):
    pairs = [(k, t) for k, t in SNIPPET_TASKS.items() if kinds is None or k in kinds]
    if not pairs:
        raise ValidationError(f"item kind must be one of {tuple(SNIPPET_TASKS)}; got {kinds!r}")
    return or_(*[and_(MediaItem.kind == k, Prediction.task == t) for k, t in pairs])


def snippet_predictions(
    *,
    session: Session,
    kinds: Sequence[str] | None = None,
    series: str | None = None,
    model_version_ids: Iterable[int | None] | None = None,
    unrated_by: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[tuple[Prediction, MediaItem]], int]:
    """The listen queue: the newest snippet prediction per (item, task, model version).

    A snippet is a song's ``hook`` or an episode's ``intro`` prediction with a region
    (predictions of "no intro" are not playable and are left out).

    Parameters
    ----------
    kinds : sequence of str, optional
        ``"song"`` and/or ``"episode"``; None = both.
    series : str, optional
        Series (episodes) or artist (songs).
    model_version_ids : iterable of int or None, optional
        Keep these model versions (None in the list = non-ML baselines).
    unrated_by : str, optional
        Leave out snippets this author has rated.
    offset, limit : int
        Paging, ordered by item key then prediction id.

    Returns
    -------
    (rows, total)
        ``rows`` are (prediction, item) pairs; ``total`` counts every match.
    """
    if limit < 1 or limit > 1000 or offset < 0:
        raise ValidationError(f"need 0 <= offset and 1 <= limit <= 1000; got offset={offset!r}, limit={limit!r}")
    newest = (
        select(func.max(Prediction.id))
        .where(col(Prediction.start).is_not(None))
        .group_by(Prediction.item_id, Prediction.task, Prediction.model_version_id)
    )
    conds = [col(Prediction.id).in_(newest), Prediction.item_id == MediaItem.id, _snippet_clause(kinds)]
    if series:
        conds.append(or_(MediaItem.series == series, MediaItem.artist == series))
    if model_version_ids is not None:
        ids = list(model_version_ids)
        real = [i for i in ids if i is not None]
        parts = [col(Prediction.model_version_id).in_(real)] if real else []
        if None in ids:
            parts.append(col(Prediction.model_version_id).is_(None))
        conds.append(or_(*parts) if parts else Prediction.id == -1)
    if unrated_by:
        rated = select(Rating.prediction_id).where(Rating.author == unrated_by)
        conds.append(col(Prediction.id).not_in(rated))
    total = session.exec(select(func.count()).select_from(Prediction).join(MediaItem, Prediction.item_id == MediaItem.id)
                         .where(*conds)).one()
    q = (select(Prediction, MediaItem).where(*conds).order_by(MediaItem.key, col(Prediction.id))
         .offset(int(offset)).limit(int(limit)))
    return [(p, i) for p, i in session.exec(q).all()], int(total)


def newest_predictions(
    *, session: Session, tasks: Sequence[str] | None = None, model_version_id: int | None = None,
    baseline_only: bool = False,
) -> list[tuple[Prediction, MediaItem]]:
    """The newest prediction per (item, task, model version) across the library, with its item.

    Parameters
    ----------
    tasks : sequence of str, optional
        Keep these tasks.
    model_version_id : int, optional
        Keep one model version; ``baseline_only`` keeps the non-ML baselines (None) instead.
    """
    newest = select(func.max(Prediction.id)).group_by(Prediction.item_id, Prediction.task, Prediction.model_version_id)
    q = select(Prediction, MediaItem).where(col(Prediction.id).in_(newest), Prediction.item_id == MediaItem.id)
    if tasks:
        q = q.where(col(Prediction.task).in_(list(tasks)))
    if baseline_only:
        q = q.where(col(Prediction.model_version_id).is_(None))
    elif model_version_id is not None:
        q = q.where(Prediction.model_version_id == model_version_id)
    return [(p, i) for p, i in session.exec(q.order_by(MediaItem.key, col(Prediction.id))).all()]
