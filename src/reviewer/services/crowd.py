"""Crowd tasks for annotators: pools, the next task, answers (Toloka-style, built in).

What a crowd page calls, all with the logged-in :class:`~reviewer.services.auth.SessionUser`::

    pools = available_pools(user, engine=engine)
    task = next_task(user, engine=engine, pool_id=pools[0].pool_id)   # None: nothing left
    receipt = submit_answer(user, engine=engine, task_id=task.task_id, start=41.0, end=63.5,
                            listened_seconds=75.0)

Rules enforced here:

* each annotator gets tasks they have not done, up to the task's overlap
  target of valid answers (default 3; dynamic overlap raises the target
  while agreement is below the pool's target);
* genres the annotator skipped with ``"dislike_genre"`` are not offered again;
* golden tasks are mixed in at the pool's rate, indistinguishable from others;
* an answer is one region (pool bounds, inside the item; an item shorter
  than the minimum is answered whole) or a skip with a reason; an answer
  submitted before the minimum listening time is kept but flagged ``too_fast``
  and left out of aggregation; one answer per annotator per task;
* a golden answer updates the annotator's golden skill; below the pool's
  threshold (after ``min_golden`` golden answers) the account is suspended.

Annotator-facing functions return only the records of
:mod:`reviewer.services.crowd_views` that hold nothing about other people's
answers or golden references. Reviewer-side functions (aggregation, skills,
the disagreement queue) are in :mod:`reviewer.services.crowd_review`.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from reviewer import store
from reviewer.crowd.agreement import mean_pairwise_iou
from reviewer.crowd.skills import combine_skill
from reviewer.errors import ValidationError
from reviewer.metrics.intervals import iou
from reviewer.services.auth import REVIEWER_ROLES, PermissionDeniedError, SessionUser, require_role
from reviewer.services.crowd_views import (
    AnnotatorStats,
    AnswerReceipt,
    MyAnswer,
    PoolChoice,
    PoolSummary,
    TaskView,
)
from reviewer.store.crowd_tables import ANSWER_SKIP_REASONS

__all__ = [
    "available_pools",
    "create_pool",
    "my_answers",
    "my_stats",
    "next_task",
    "pool_summary",
    "submit_answer",
]

logger = logging.getLogger(__name__)

_ANY_ROLE = ("annotator", "engineer", "pm", "admin")


def _active_user(s, user: SessionUser):
    """The user's row, refusing suspended accounts (the session record may be older than a suspension)."""
    require_role(user, *_ANY_ROLE)
    row = store.get_user(session=s, user_id=user.user_id)
    if row.suspended:
        raise PermissionDeniedError(f"account {row.name!r} is suspended: {row.suspended_reason}")
    return row


# ----------------------------------------------------------------- pools


def _balanced(items: list, *, per_genre: int | None, rng: np.random.Generator) -> list:
    by_genre: dict[str, list] = defaultdict(list)
    for it in items:
        by_genre[it.genre or "unknown"].append(it)
    if not by_genre:
        return []
    n = min(len(v) for v in by_genre.values())
    if per_genre is not None:
        n = min(n, per_genre)
    chosen = []
    for genre in sorted(by_genre):
        group = sorted(by_genre[genre], key=lambda it: it.key)
        idx = rng.permutation(len(group))[:n]
        chosen.extend(group[i] for i in sorted(idx))
    return chosen


def create_pool(
    user: SessionUser,
    *,
    engine,
    name: str,
    kind: str = "song",
    genres: Iterable[str] | None = None,
    item_ids: Iterable[int] | None = None,
    per_genre: int | None = None,
    golden: Mapping[int, tuple[float, float]] | None = None,
    golden_label_kind: str | None = None,
    n_golden: int | None = None,
    seed: int = 0,
    **settings,
) -> PoolSummary:
    """Create a pool over items of one kind, balanced by genre.

    Parameters
    ----------
    user : SessionUser
        An engineer, PM or admin.
    genres : iterable of str, optional
        Only items of these genres (default: every genre of the kind).
    item_ids : iterable of int, optional
        Choose among these items only.
    per_genre : int, optional
        At most this many items per genre. Every genre gets the same number of
        tasks (the size of the smallest genre, or ``per_genre``), drawn with ``seed``.
    golden : mapping of item id → (start, end), optional
        Golden tasks with their reference regions.
    golden_label_kind, n_golden : optional
        Also make golden tasks from items that have a current ``truth`` or
        ``human`` label of this kind (at most ``n_golden`` of them).
    **settings
        Pool settings passed to :func:`reviewer.store.add_pool` (``overlap``,
        ``dynamic_overlap``, ``max_overlap``, ``target_agreement``,
        ``min_region``, ``max_region``, ``min_listen_seconds``, ``golden_rate``,
        ``suspend_below``, ``min_golden``, ``label_kind``).

    Raises
    ------
    PermissionDeniedError, ValidationError
        (no item matches, unknown setting, bad values).
    """
    require_role(user, *REVIEWER_ROLES)
    rng = np.random.default_rng(seed)
    wanted = set(genres) if genres else None
    with store.session_scope(engine) as s:
        pool = store.add_pool(session=s, name=name, kind=kind, genres=wanted, created_by=user.name, **settings)
        items = [it for it in store.iter_items(session=s, kind=kind) if it.duration]
        if item_ids is not None:
            ids = set(item_ids)
            items = [it for it in items if it.id in ids]
        if wanted is not None:
            items = [it for it in items if it.genre in wanted]
        gold = dict(golden or {})
        if golden_label_kind is not None:
            for it in items:
                if n_golden is not None and len(gold) >= n_golden:
                    break
                labels = [lb for lb in store.current_labels(session=s, item_id=it.id, kind=golden_label_kind)
                          if lb.source in ("truth", "human") and it.id not in gold]
                if labels:
                    gold[it.id] = (labels[0].start, labels[0].end)
        regular = _balanced([it for it in items if it.id not in gold], per_genre=per_genre, rng=rng)
        if not regular and not gold:
            raise ValidationError(f"no {kind} item matches the pool's filters (genres {sorted(wanted or [])})")
        for it in regular:
            store.add_crowd_task(session=s, pool_id=pool.id, item_id=it.id)
        for item_id, (gs, ge) in sorted(gold.items()):
            store.add_crowd_task(session=s, pool_id=pool.id, item_id=item_id, is_golden=True,
                                 golden_start=gs, golden_end=ge)
        logger.info("pool %r: %d task(s) over %d genre(s), %d golden", name, len(regular),
                    len({it.genre for it in regular}), len(gold))
        return _summary(s, pool)


def _summary(s, pool) -> PoolSummary:
    tasks = store.list_crowd_tasks(session=s, pool_id=pool.id)
    answers = store.pool_answers(session=s, pool_id=pool.id, is_golden=None, valid_only=False)
    settings = {k: getattr(pool, k) for k in ("overlap", "dynamic_overlap", "max_overlap", "target_agreement",
                                               "min_region", "max_region", "min_listen_seconds", "golden_rate",
                                               "suspend_below", "min_golden")}
    return PoolSummary(
        pool_id=pool.id, name=pool.name, kind=pool.kind, label_kind=pool.label_kind,
        genres=tuple(pool.genres or ()), active=pool.active, n_tasks=sum(not t.is_golden for t in tasks),
        n_golden=sum(t.is_golden for t in tasks), n_done=sum(t.status == "done" and not t.is_golden for t in tasks),
        n_answers=len(answers), per_genre=dict(Counter(t.genre or "unknown" for t in tasks if not t.is_golden)),
        settings=settings,
    )


def pool_summary(user: SessionUser, *, engine, pool_id: int | None = None) -> list[PoolSummary]:
    """Pools with settings and progress (engineers, PMs, admins)."""
    require_role(user, *REVIEWER_ROLES)
    with store.session_scope(engine) as s:
        pools = store.list_pools(session=s) if pool_id is None else [store.get_pool(session=s, pool_id=pool_id)]
        return [_summary(s, p) for p in pools]


def available_pools(user: SessionUser, *, engine) -> list[PoolChoice]:
    """Active pools the user may work in."""
    with store.session_scope(engine) as s:
        _active_user(s, user)
        return [PoolChoice(pool_id=p.id, name=p.name, kind=p.kind, genres=tuple(p.genres or ()),
                           min_region=p.min_region, max_region=p.max_region)
                for p in store.list_pools(session=s, active=True)]


# ----------------------------------------------------------------- the next task


def _wants_golden(pool, mine: list) -> bool:
    if pool.golden_rate <= 0:
        return False
    n_golden = sum(t.is_golden for _, t in mine)
    return n_golden < pool.golden_rate * (len(mine) + 1)


def _task_view(s, task, pool) -> TaskView:
    item = store.get_item(session=s, item_id=task.item_id)
    duration = float(item.duration)
    return TaskView(
        task_id=task.id, pool_id=pool.id, pool_name=pool.name, item_id=item.id, item_key=item.key,
        title=item.title, artist=item.artist, genre=item.genre, duration=duration, audio_path=item.path,
        label_kind=pool.label_kind, min_region=min(pool.min_region, duration),
        max_region=min(pool.max_region, duration), min_listen_seconds=min(pool.min_listen_seconds, duration),
        skip_reasons=ANSWER_SKIP_REASONS,
    )


def next_task(user: SessionUser, *, engine, pool_id: int | None = None) -> TaskView | None:
    """The next task for this annotator, or None when there is nothing left for them.

    Parameters
    ----------
    pool_id : int, optional
        Work in this pool; default: the first active pool with work left.

    Raises
    ------
    PermissionDeniedError
        Not logged in, or suspended.
    """
    with store.session_scope(engine) as s:
        row = _active_user(s, user)
        pools = [store.get_pool(session=s, pool_id=pool_id)] if pool_id is not None else store.list_pools(
            session=s, active=True)
        disliked = store.disliked_genres(session=s, user_id=row.id)
        for pool in pools:
            if not pool.active:
                raise ValidationError(f"pool {pool.name!r} is closed")
            regular = store.task_candidates(session=s, pool_id=pool.id, user_id=row.id, is_golden=False,
                                            exclude_genres=disliked)
            if not regular:
                continue
            mine = store.user_answers(session=s, user_id=row.id, pool_id=pool.id)
            if _wants_golden(pool, mine):
                golden = store.task_candidates(session=s, pool_id=pool.id, user_id=row.id, is_golden=True,
                                               exclude_genres=disliked)
                if golden:
                    task = golden[row.id % len(golden)][0]  # spread the honeypots between annotators
                    return _task_view(s, task, pool)
            return _task_view(s, regular[0][0], pool)
        return None


# ----------------------------------------------------------------- answers


def _check_region(pool, item, start: float, end: float) -> None:
    length = float(end) - float(start)
    lo = min(pool.min_region, float(item.duration))
    if length < lo - 1e-6:
        raise ValidationError(f"the region is {length:.1f} s long; choose at least {lo:.1f} s")
    if length > pool.max_region + 1e-6:
        raise ValidationError(f"the region is {length:.1f} s long; choose at most {pool.max_region:.1f} s")


def submit_answer(
    user: SessionUser,
    *,
    engine,
    task_id: int,
    start: float | None = None,
    end: float | None = None,
    skip_reason: str | None = None,
    listened_seconds: float = 0.0,
) -> AnswerReceipt:
    """Save one answer of the logged-in annotator.

    Parameters
    ----------
    start, end : float, optional
        The chosen region in seconds (within the pool's bounds and the item).
    skip_reason : str, optional
        ``"dislike_genre"``, ``"cannot_judge"`` or ``"broken_audio"`` instead of a region.
    listened_seconds : float
        How long the annotator listened (the page measures it).

    Returns
    -------
    AnswerReceipt
        ``too_fast`` says the answer came before the minimum listening time.

    Raises
    ------
    ValidationError
        A region outside the bounds or the item, both or neither of region and
        skip reason, a second answer to the same task, a closed pool.
    PermissionDeniedError
        Not logged in or suspended.
    NotFoundError
        Unknown task.
    """
    with store.session_scope(engine) as s:
        row = _active_user(s, user)
        task = store.get_crowd_task(session=s, task_id=task_id)
        pool = store.get_pool(session=s, pool_id=task.pool_id)
        if not pool.active:
            raise ValidationError(f"pool {pool.name!r} is closed")
        item = store.get_item(session=s, item_id=task.item_id)
        if skip_reason is None and start is not None and end is not None:
            _check_region(pool, item, start, end)
        need = min(pool.min_listen_seconds, float(item.duration or 0.0))
        too_fast = skip_reason is None and float(listened_seconds) < need
        answer = store.add_answer(session=s, task_id=task.id, user_id=row.id, start=start, end=end,
                                  skip_reason=skip_reason, listened_seconds=listened_seconds, too_fast=too_fast)
        message = "thanks: answer saved" if skip_reason is None else f"skipped ({skip_reason})"
        if too_fast:
            message = (f"answer saved but flagged: you listened {float(listened_seconds):.0f} s, "
                       f"at least {need:.0f} s are expected")
        if task.is_golden and answer.start is not None and not too_fast:
            if golden_check(s, pool=pool, user_id=row.id):
                message += "; your account has been suspended for low quality"
        elif not task.is_golden and answer.start is not None and not too_fast:
            _settle_task(s, task=task, pool=pool)
        return AnswerReceipt(answer_id=answer.id, task_id=task.id, start=answer.start, end=answer.end,
                             skip_reason=answer.skip_reason, too_fast=too_fast, message=message)


def _settle_task(s, *, task, pool) -> None:
    """Close a task that has its overlap, or raise its target under dynamic overlap."""
    rows = store.pool_answers(session=s, pool_id=pool.id, task_ids=[task.id])
    if len(rows) < task.overlap_target:
        return
    agreement = mean_pairwise_iou([(a.start, a.end) for a, _, _ in rows])
    if pool.dynamic_overlap and task.overlap_target < pool.max_overlap and not agreement >= pool.target_agreement:
        store.update_crowd_task(session=s, task_id=task.id, overlap_target=task.overlap_target + 1)
        logger.info("task %s: agreement %.2f below %.2f, overlap raised to %d", task.id, agreement,
                    pool.target_agreement, task.overlap_target)
    else:
        store.update_crowd_task(session=s, task_id=task.id, status="done")


def golden_check(s, *, pool, user_id: int) -> bool:
    """Recompute a user's golden skill in a pool and suspend them below the threshold.

    Returns
    -------
    bool
        True when the user was suspended now.
    """
    rows = [(a, t) for a, t in store.user_answers(session=s, user_id=user_id, pool_id=pool.id)
            if t.is_golden and a.start is not None and not a.too_fast]
    ious = [iou((t.golden_start, t.golden_end), (a.start, a.end)) for a, t in rows]
    golden_iou = float(np.mean(ious)) if ious else None
    prev = {sk.user_id: sk for sk, _ in store.list_skills(session=s, pool_id=pool.id)}.get(user_id)
    c_n, c_iou = (prev.consensus_n, prev.consensus_iou) if prev is not None else (0, None)
    skill = combine_skill(golden_iou=golden_iou, golden_n=len(ious), consensus_iou=c_iou, consensus_n=c_n)
    store.upsert_skill(session=s, user_id=user_id, pool_id=pool.id, golden_n=len(ious), golden_iou=golden_iou,
                       consensus_n=c_n, consensus_iou=c_iou, skill=skill)
    reason = suspension_reason(pool, golden_n=len(ious), golden_iou=golden_iou, consensus_n=c_n, skill=skill)
    if reason is None:
        return False
    suspend(s, user_id=user_id, reason=reason)
    return True


def suspension_reason(pool, *, golden_n: int, golden_iou: float | None, consensus_n: int,
                      skill: float | None) -> str | None:
    """Why a worker should be suspended in ``pool``, or None.

    Suspended when the golden IoU over at least ``min_golden`` golden answers is
    below ``suspend_below``, or when the combined skill is, with evidence worth
    at least ``2 * min_golden`` golden answers (golden answers count double).
    """
    if golden_iou is not None and golden_n >= max(1, pool.min_golden) and golden_iou < pool.suspend_below:
        return (f"golden IoU {golden_iou:.2f} over {golden_n} golden task(s) in pool {pool.name!r} "
                f"is below {pool.suspend_below:.2f}")
    evidence = 2 * golden_n + consensus_n
    if skill is not None and evidence >= 2 * max(1, pool.min_golden) and skill < pool.suspend_below:
        return f"skill {skill:.2f} in pool {pool.name!r} is below {pool.suspend_below:.2f}"
    return None


def suspend(s, *, user_id: int, reason: str) -> None:
    """Suspend a user and reopen the tasks whose valid answers drop below their target."""
    user = store.set_user_suspended(session=s, user_id=user_id, suspended=True, reason=reason)
    touched = {t.id: t for _, t in store.user_answers(session=s, user_id=user_id) if not t.is_golden}
    for task in touched.values():
        if task.status == "done":
            n = len(store.pool_answers(session=s, pool_id=task.pool_id, task_ids=[task.id]))
            if n < task.overlap_target:
                store.update_crowd_task(session=s, task_id=task.id, status="open")
    logger.warning("suspended %s: %s", user.name, reason)


# ----------------------------------------------------------------- the annotator's own records


def my_answers(user: SessionUser, *, engine, pool_id: int | None = None) -> list[MyAnswer]:
    """The logged-in user's own answers, oldest first (never anyone else's)."""
    require_role(user, *_ANY_ROLE)
    with store.session_scope(engine) as s:
        return [MyAnswer(answer_id=a.id, task_id=t.id, pool_id=t.pool_id, item_id=t.item_id, start=a.start,
                         end=a.end, skip_reason=a.skip_reason, too_fast=a.too_fast, created_at=a.created_at)
                for a, t in store.user_answers(session=s, user_id=user.user_id, pool_id=pool_id)]


def my_stats(user: SessionUser, *, engine) -> AnnotatorStats:
    """The logged-in user's own counters (works for a suspended account, to show the reason)."""
    require_role(user, *_ANY_ROLE)
    with store.session_scope(engine) as s:
        row = store.get_user(session=s, user_id=user.user_id)
        mine = [a for a, _ in store.user_answers(session=s, user_id=row.id)]
        return AnnotatorStats(name=row.name, answered=len(mine), with_region=sum(a.start is not None for a in mine),
                              skipped=sum(a.skip_reason is not None for a in mine),
                              too_fast=sum(a.too_fast for a in mine), suspended=row.suspended,
                              suspended_reason=row.suspended_reason)
