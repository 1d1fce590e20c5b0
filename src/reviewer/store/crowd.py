"""Crowd pools, tasks, answers and worker skills.

Every function takes the session first and only keywords. Nothing here
decides *who may see what*: the services build annotator views that leave out
golden references and other people's answers.

A *valid* answer (the kind that counts towards overlap and aggregation) has a
region, was not flagged ``too_fast`` and comes from a user who is not
suspended.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reviewer.errors import NotFoundError, ValidationError
from reviewer.frames import validate_interval
from reviewer.store.checks import check_choice, check_nonneg, check_text
from reviewer.store.crowd_tables import (
    ANSWER_SKIP_REASONS,
    POOL_KINDS,
    TASK_STATUSES,
    CrowdAnswer,
    CrowdPool,
    CrowdTask,
    User,
    WorkerSkill,
)
from reviewer.store.items import get_item
from reviewer.store.tables import LABEL_KINDS, MediaItem, utcnow

__all__ = [
    "add_answer",
    "add_crowd_task",
    "add_pool",
    "answered_task_ids",
    "disliked_genres",
    "get_answer",
    "get_crowd_task",
    "get_pool",
    "list_crowd_tasks",
    "list_pools",
    "list_skills",
    "pool_answers",
    "task_candidates",
    "update_crowd_task",
    "upsert_skill",
    "user_answers",
]

logger = logging.getLogger(__name__)


def _check_fraction(value: Any, *, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be a number in [0, 1]; got {value!r}") from exc
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise ValidationError(f"{what} must be in [0, 1]; got {value!r}")
    return x


def _check_count(value: Any, *, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{what} must be an integer >= {minimum}; got {value!r}")
    return value


def add_pool(
    *,
    session: Session,
    name: str,
    kind: str = "song",
    label_kind: str = "interest",
    genres: Iterable[str] | None = None,
    overlap: int = 3,
    dynamic_overlap: bool = False,
    max_overlap: int = 5,
    target_agreement: float = 0.5,
    min_region: float = 5.0,
    max_region: float = 30.0,
    min_listen_seconds: float = 20.0,
    golden_rate: float = 0.1,
    suspend_below: float = 0.3,
    min_golden: int = 3,
    created_by: str | None = None,
) -> CrowdPool:
    """Create a pool (its tasks are added with :func:`add_crowd_task`).

    Raises
    ------
    ValidationError
        A taken name, an unknown kind, ``min_region >= max_region``, an
        overlap above ``max_overlap`` under dynamic overlap, or a rate outside ``[0, 1]``.
    """
    check_text(name, what="pool name")
    check_choice(kind, POOL_KINDS, what="pool kind")
    check_choice(label_kind, LABEL_KINDS, what="pool label kind")
    _check_count(overlap, what="overlap")
    _check_count(max_overlap, what="max_overlap")
    _check_count(min_golden, what="min_golden", minimum=0)
    if dynamic_overlap and max_overlap < overlap:
        raise ValidationError(f"max_overlap {max_overlap} is below the overlap {overlap}")
    lo = check_nonneg(min_region, what="min_region", allow_none=False)
    hi = check_nonneg(max_region, what="max_region", allow_none=False)
    if not lo < hi:
        raise ValidationError(f"min_region {lo} s must be below max_region {hi} s")
    listen = check_nonneg(min_listen_seconds, what="min_listen_seconds", allow_none=False)
    if session.exec(select(CrowdPool).where(CrowdPool.name == name)).first() is not None:
        raise ValidationError(f"a crowd pool called {name!r} exists already")
    pool = CrowdPool(
        name=name, kind=kind, label_kind=label_kind, genres=sorted(set(genres)) if genres else None,
        overlap=overlap, dynamic_overlap=bool(dynamic_overlap), max_overlap=max_overlap,
        target_agreement=_check_fraction(target_agreement, what="target_agreement"),
        min_region=lo, max_region=hi, min_listen_seconds=listen,
        golden_rate=_check_fraction(golden_rate, what="golden_rate"),
        suspend_below=_check_fraction(suspend_below, what="suspend_below"), min_golden=min_golden,
        created_by=created_by,
    )
    session.add(pool)
    session.flush()
    return pool


def get_pool(*, session: Session, pool_id: int) -> CrowdPool:
    """The pool with id ``pool_id``.

    Raises
    ------
    NotFoundError
    """
    pool = session.get(CrowdPool, pool_id)
    if pool is None:
        raise NotFoundError(f"no crowd pool with id {pool_id!r}")
    return pool


def list_pools(*, session: Session, active: bool | None = None) -> list[CrowdPool]:
    """Pools, oldest first, optionally only active (or inactive) ones."""
    q = select(CrowdPool)
    if active is not None:
        q = q.where(col(CrowdPool.active).is_(bool(active)))
    return list(session.exec(q.order_by(col(CrowdPool.id))).all())


def add_crowd_task(
    *,
    session: Session,
    pool_id: int,
    item_id: int,
    is_golden: bool = False,
    golden_start: float | None = None,
    golden_end: float | None = None,
) -> CrowdTask:
    """Add an item to a pool, as a regular or a golden task.

    Raises
    ------
    ValidationError
        An item of another kind than the pool's, a golden task without a
        valid reference region, or the item already in the pool.
    NotFoundError
    """
    pool = get_pool(session=session, pool_id=pool_id)
    item = get_item(session=session, item_id=item_id)
    if item.kind != pool.kind:
        raise ValidationError(f"item {item.key!r} is a {item.kind}, pool {pool.name!r} takes {pool.kind}s")
    if is_golden:
        if golden_start is None or golden_end is None:
            raise ValidationError(f"golden task of {item.key!r} needs golden_start and golden_end")
        golden_start, golden_end = validate_interval(golden_start, golden_end, duration=item.duration,
                                                     what=f"golden region of {item.key!r}")
    elif golden_start is not None or golden_end is not None:
        raise ValidationError("golden_start / golden_end only apply to golden tasks")
    dup = session.exec(select(CrowdTask).where(CrowdTask.pool_id == pool_id, CrowdTask.item_id == item_id,
                                               col(CrowdTask.is_golden).is_(bool(is_golden)))).first()
    if dup is not None:
        raise ValidationError(f"item {item.key!r} is already in pool {pool.name!r} (task {dup.id})")
    task = CrowdTask(pool_id=pool_id, item_id=item_id, genre=item.genre, is_golden=bool(is_golden),
                     golden_start=golden_start, golden_end=golden_end, overlap_target=pool.overlap)
    session.add(task)
    session.flush()
    return task


def get_crowd_task(*, session: Session, task_id: int) -> CrowdTask:
    """The task with id ``task_id``.

    Raises
    ------
    NotFoundError
    """
    task = session.get(CrowdTask, task_id)
    if task is None:
        raise NotFoundError(f"no crowd task with id {task_id!r}")
    return task


def list_crowd_tasks(*, session: Session, pool_id: int, status: str | None = None,
                     is_golden: bool | None = None) -> list[CrowdTask]:
    """Tasks of a pool by id, optionally of one status / golden or not."""
    q = select(CrowdTask).where(CrowdTask.pool_id == pool_id)
    if status is not None:
        check_choice(status, TASK_STATUSES, what="task status")
        q = q.where(CrowdTask.status == status)
    if is_golden is not None:
        q = q.where(col(CrowdTask.is_golden).is_(bool(is_golden)))
    return list(session.exec(q.order_by(col(CrowdTask.id))).all())


def update_crowd_task(*, session: Session, task_id: int, status: str | None = None,
                      overlap_target: int | None = None) -> CrowdTask:
    """Close / reopen a task or change its overlap target."""
    task = get_crowd_task(session=session, task_id=task_id)
    if status is not None:
        task.status = check_choice(status, TASK_STATUSES, what="task status")
    if overlap_target is not None:
        task.overlap_target = _check_count(overlap_target, what="overlap_target")
    task.version += 1
    session.add(task)
    session.flush()
    return task


def get_answer(*, session: Session, answer_id: int) -> CrowdAnswer:
    """The answer with id ``answer_id``.

    Raises
    ------
    NotFoundError
    """
    answer = session.get(CrowdAnswer, answer_id)
    if answer is None:
        raise NotFoundError(f"no crowd answer with id {answer_id!r}")
    return answer


def add_answer(
    *,
    session: Session,
    task_id: int,
    user_id: int,
    start: float | None = None,
    end: float | None = None,
    skip_reason: str | None = None,
    listened_seconds: float = 0.0,
    too_fast: bool = False,
) -> CrowdAnswer:
    """Store one answer: a region inside the item, or a skip with a reason.

    Raises
    ------
    ValidationError
        Both or neither of region and skip reason, a region outside the item,
        or a second answer of the same user to the same task (also when two
        saves race: the database refuses the loser).
    NotFoundError
    """
    task = get_crowd_task(session=session, task_id=task_id)
    item = get_item(session=session, item_id=task.item_id)
    has_region = start is not None or end is not None
    if has_region == (skip_reason is not None):
        raise ValidationError("an answer is either a region (start, end) or a skip_reason, not both or neither")
    if skip_reason is not None:
        check_choice(skip_reason, ANSWER_SKIP_REASONS, what="skip reason")
    else:
        start, end = validate_interval(start, end, duration=item.duration, what=f"answer for {item.key!r}")
    listened = check_nonneg(listened_seconds, what="listened_seconds", allow_none=False)
    answered = session.exec(select(CrowdAnswer.id).where(CrowdAnswer.task_id == task_id,
                                                         CrowdAnswer.user_id == user_id)).first()
    if answered is not None:
        raise ValidationError(f"you have already answered task {task_id}")
    answer = CrowdAnswer(task_id=task_id, user_id=user_id, start=start, end=end, skip_reason=skip_reason,
                         listened_seconds=listened, too_fast=bool(too_fast))
    session.add(answer)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ValidationError(f"you have already answered task {task_id}") from exc
    return answer


def _valid_answer_clause():
    return and_(col(CrowdAnswer.start).is_not(None), col(CrowdAnswer.too_fast).is_(False),
                col(User.suspended).is_(False))


def pool_answers(
    *,
    session: Session,
    pool_id: int,
    is_golden: bool | None = False,
    valid_only: bool = True,
    task_ids: Iterable[int] | None = None,
) -> list[tuple[CrowdAnswer, CrowdTask, User]]:
    """Answers of a pool with their task and author, oldest first.

    Parameters
    ----------
    is_golden : bool or None
        Regular tasks only (False, default), golden only (True) or both (None).
    valid_only : bool
        Keep only valid answers (a region, not too fast, author not suspended).
    task_ids : iterable of int, optional
        Only these tasks.
    """
    q = (select(CrowdAnswer, CrowdTask, User)
         .join(CrowdTask, CrowdTask.id == CrowdAnswer.task_id)
         .join(User, User.id == CrowdAnswer.user_id)
         .where(CrowdTask.pool_id == pool_id))
    if is_golden is not None:
        q = q.where(col(CrowdTask.is_golden).is_(bool(is_golden)))
    if valid_only:
        q = q.where(_valid_answer_clause())
    if task_ids is not None:
        q = q.where(col(CrowdTask.id).in_(list(task_ids)))
    return [tuple(r) for r in session.exec(q.order_by(col(CrowdAnswer.id))).all()]


def user_answers(*, session: Session, user_id: int, pool_id: int | None = None) -> list[tuple[CrowdAnswer, CrowdTask]]:
    """One user's answers with their tasks, oldest first."""
    q = select(CrowdAnswer, CrowdTask).join(CrowdTask, CrowdTask.id == CrowdAnswer.task_id).where(
        CrowdAnswer.user_id == user_id)
    if pool_id is not None:
        q = q.where(CrowdTask.pool_id == pool_id)
    return [tuple(r) for r in session.exec(q.order_by(col(CrowdAnswer.id))).all()]


def answered_task_ids(*, session: Session, user_id: int, pool_id: int | None = None) -> set[int]:
    """Ids of the tasks a user has answered (skips included)."""
    return {t.id for _, t in user_answers(session=session, user_id=user_id, pool_id=pool_id)}


def disliked_genres(*, session: Session, user_id: int) -> set[str]:
    """Genres of the items a user skipped with ``"dislike_genre"`` (in any pool)."""
    q = (select(MediaItem.genre).join(CrowdTask, CrowdTask.item_id == MediaItem.id)
         .join(CrowdAnswer, CrowdAnswer.task_id == CrowdTask.id)
         .where(CrowdAnswer.user_id == user_id, CrowdAnswer.skip_reason == "dislike_genre"))
    return {g for g in session.exec(q).all() if g}


def task_candidates(
    *,
    session: Session,
    pool_id: int,
    user_id: int,
    is_golden: bool,
    exclude_genres: Iterable[str] = (),
) -> list[tuple[CrowdTask, int]]:
    """Tasks a user may take next, with their count of valid answers.

    Open tasks of the pool (golden tasks never close) that the user has not
    answered and whose genre is not excluded, those with the most valid
    answers first (finish tasks before starting new ones), then by id.
    Tasks whose valid answers already reach their overlap target are left out
    (golden tasks have no target).
    """
    valid = (select(CrowdAnswer.task_id, func.count().label("n"))
             .join(User, User.id == CrowdAnswer.user_id)
             .where(_valid_answer_clause()).group_by(CrowdAnswer.task_id).subquery())
    mine = select(CrowdAnswer.task_id).where(CrowdAnswer.user_id == user_id)
    n = func.coalesce(valid.c.n, 0)
    q = (select(CrowdTask, n).outerjoin(valid, valid.c.task_id == CrowdTask.id)
         .where(CrowdTask.pool_id == pool_id, col(CrowdTask.is_golden).is_(bool(is_golden)),
                col(CrowdTask.id).not_in(mine)))
    if not is_golden:
        q = q.where(CrowdTask.status == "open", n < CrowdTask.overlap_target)
    genres = [g for g in exclude_genres if g]
    if genres:
        q = q.where((col(CrowdTask.genre).is_(None)) | (col(CrowdTask.genre).not_in(genres)))
    q = q.order_by(n.desc(), col(CrowdTask.id))
    return [(t, int(c)) for t, c in session.exec(q).all()]


def upsert_skill(
    *,
    session: Session,
    user_id: int,
    pool_id: int | None,
    golden_n: int,
    golden_iou: float | None,
    consensus_n: int,
    consensus_iou: float | None,
    skill: float | None,
) -> WorkerSkill:
    """Create or update a worker's skill record in one pool (None = all pools)."""
    row = session.exec(select(WorkerSkill).where(WorkerSkill.user_id == user_id,
                                                 WorkerSkill.pool_id == pool_id)).first()
    if row is None:
        row = WorkerSkill(user_id=user_id, pool_id=pool_id)
    row.golden_n, row.golden_iou = int(golden_n), golden_iou
    row.consensus_n, row.consensus_iou = int(consensus_n), consensus_iou
    row.skill, row.updated_at = skill, utcnow()
    session.add(row)
    session.flush()
    return row


def list_skills(*, session: Session, pool_id: int | None = None) -> list[tuple[WorkerSkill, User]]:
    """Skill records of one pool (None = the all-pools records) with their users, by user name."""
    q = select(WorkerSkill, User).join(User, User.id == WorkerSkill.user_id)
    q = q.where(col(WorkerSkill.pool_id).is_(None) if pool_id is None else WorkerSkill.pool_id == pool_id)
    return [tuple(r) for r in session.exec(q.order_by(User.name)).all()]
