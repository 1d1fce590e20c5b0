"""Settle crowd disagreements from the Review page: one task's answers, consensus, agreement, the resolution.

Reviewers (engineers, PMs, admins — :data:`~reviewer.services.auth.REVIEWER_ROLES`)
open a task from :func:`reviewer.services.crowd_review.disagreement_queue`,
look at every answer and the consensus, and resolve it::

    detail = disagreement_detail(user, engine=engine, task_id=7)
    resolve_disagreement(user, engine=engine, task_id=7, choice="consensus",
                         seen_answers=detail.answer_ids, seen_resolution=detail.resolution_id)

A resolution is a new :class:`~reviewer.store.tables.Label` of the pool's
label kind with source :data:`RESOLVED_SOURCE`, the reviewer's name as author
(``created_at`` says when) and a JSON note naming the task, the choice, the
answers it was based on and their agreement. When the task has a consensus
label (from :func:`~reviewer.services.crowd_review.aggregate_pool`) the
resolution supersedes it, so the consensus chain keeps its history. A resolved
task leaves the disagreement queue.

A resolution is refused (:class:`~reviewer.errors.StaleEditError`) when the
reviewer's view is out of date: someone else resolved the task first, or the
valid answers changed since the task was opened. Annotators get
:class:`~reviewer.services.auth.PermissionDeniedError` from every function here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass

import pandas as pd

from reviewer import store
from reviewer.crowd.aggregate import RegionConsensus
from reviewer.crowd.agreement import task_agreement
from reviewer.errors import StaleEditError, ValidationError
from reviewer.services.auth import REVIEWER_ROLES, SessionUser, require_role

__all__ = [
    "RESOLUTION_CHOICES",
    "RESOLVED_SOURCE",
    "CrowdAnswerRegion",
    "DisagreementDetail",
    "Resolution",
    "disagreement_detail",
    "resolve_disagreement",
    "resolved_task_ids",
]

logger = logging.getLogger(__name__)

#: ``Label.source`` of a reviewer's resolution of a crowd disagreement.
RESOLVED_SOURCE = "crowd_resolved"
#: How a disagreement can be resolved: the consensus, one annotator's region, or a corrected region.
RESOLUTION_CHOICES = ("consensus", "annotator", "corrected")
_CONSENSUS_PREFIX = "crowd-consensus:"  # crowd_review.CONSENSUS_AUTHOR_PREFIX (imported lazily: no cycle)


@dataclass(frozen=True)
class CrowdAnswerRegion:
    """One answer of the task as the reviewer sees it (``valid`` = counted in consensus and agreement)."""

    answer_id: int
    user_name: str
    start: float | None
    end: float | None
    skip_reason: str | None
    too_fast: bool
    user_suspended: bool
    created_at: dt.datetime

    @property
    def valid(self) -> bool:
        return self.start is not None and not self.too_fast and not self.user_suspended


@dataclass(frozen=True)
class Resolution:
    """A saved resolution (the label row)."""

    label_id: int
    task_id: int
    item_id: int
    kind: str
    start: float
    end: float
    choice: str
    author: str
    created_at: dt.datetime
    version: int
    annotator: str | None = None


@dataclass(frozen=True)
class DisagreementDetail:
    """Everything the Review page shows for one disagreeing task.

    ``consensus`` is the current consensus label's region when the pool was
    aggregated (``consensus_source == "label"``), else a majority vote
    (crowd-kit) over the valid answers computed now (``"computed"``), or None
    with fewer than two valid answers. ``answer_ids`` and ``resolution_id``
    are what the view is based on: pass them back to
    :func:`resolve_disagreement` so a stale view is refused.
    """

    task_id: int
    pool_id: int
    pool_name: str
    item_id: int
    item_key: str
    title: str | None
    artist: str | None
    genre: str | None
    duration: float
    label_kind: str
    min_region: float
    max_region: float
    answers: tuple[CrowdAnswerRegion, ...]
    mean_iou: float
    alpha: float
    consensus: tuple[float, float] | None
    consensus_source: str | None
    answer_ids: tuple[int, ...]
    resolution: Resolution | None

    @property
    def valid_answers(self) -> tuple[CrowdAnswerRegion, ...]:
        return tuple(a for a in self.answers if a.valid)

    @property
    def resolution_id(self) -> int | None:
        return None if self.resolution is None else self.resolution.label_id


def _note(label) -> dict:
    try:
        data = json.loads(label.note or "")
    except (json.JSONDecodeError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _task_heads(s, *, task, pool) -> tuple[object | None, object | None]:
    """(consensus label head, resolution label head) of a task's item, by the task id in their notes."""
    consensus = resolution = None
    for lb in store.current_labels(session=s, item_id=task.item_id, kind=pool.label_kind, include_rejected=True):
        note = _note(lb)
        if lb.source == RESOLVED_SOURCE and note.get("task_id") == task.id:
            resolution = lb
        elif (lb.source == "crowd" and (lb.author or "").startswith(_CONSENSUS_PREFIX)
              and note.get("task_id") == task.id):
            consensus = lb
    return consensus, resolution


def resolved_task_ids(s, *, pool, task_ids) -> set[int]:
    """Which of ``task_ids`` (tasks of ``pool``) have a current resolution (inside a store session)."""
    out = set()
    for task_id in task_ids:
        task = store.get_crowd_task(session=s, task_id=task_id)
        if _task_heads(s, task=task, pool=pool)[1] is not None:
            out.add(task_id)
    return out


def _resolution(label, task_id: int) -> Resolution:
    note = _note(label)
    return Resolution(label_id=label.id, task_id=task_id, item_id=label.item_id, kind=label.kind,
                      start=float(label.start), end=float(label.end), choice=str(note.get("choice", "?")),
                      author=label.author or "?", created_at=label.created_at, version=label.version,
                      annotator=note.get("annotator"))


def _computed_consensus(s, *, pool, answers: list[CrowdAnswerRegion], user_ids: dict[int, int],
                        duration: float) -> tuple[float, float] | None:
    valid = [a for a in answers if a.valid]
    if len(valid) < 2:
        return None
    frame = pd.DataFrame([{"task": 0, "worker": user_ids[a.answer_id], "start": a.start, "end": a.end} for a in valid])
    known = {sk.user_id: sk.skill for sk, _ in store.list_skills(session=s, pool_id=pool.id) if sk.skill is not None}
    skills = pd.Series(known, dtype=float) if known else None
    regions = RegionConsensus("mv").fit_predict(frame, {0: duration}, skills)
    if bool(regions.loc[0, "tie"]):
        return None  # equals who do not overlap: there is nothing to accept, a reviewer picks
    return float(regions.loc[0, "start"]), float(regions.loc[0, "end"])


def _load(s, task_id: int):
    task = store.get_crowd_task(session=s, task_id=task_id)
    pool = store.get_pool(session=s, pool_id=task.pool_id)
    item = store.get_item(session=s, item_id=task.item_id)
    rows = store.pool_answers(session=s, pool_id=pool.id, is_golden=None, valid_only=False, task_ids=[task.id])
    answers = [CrowdAnswerRegion(answer_id=a.id, user_name=u.name, start=a.start, end=a.end,
                                 skip_reason=a.skip_reason, too_fast=bool(a.too_fast),
                                 user_suspended=bool(u.suspended), created_at=a.created_at) for a, _, u in rows]
    user_ids = {a.id: u.id for a, _, u in rows}
    return task, pool, item, answers, user_ids


def disagreement_detail(user: SessionUser, *, engine, task_id: int) -> DisagreementDetail:
    """One task's answers (every one, valid or not), consensus, agreement and current resolution.

    Raises
    ------
    PermissionDeniedError
        The user is not an engineer, PM or admin (annotators never see others' answers).
    NotFoundError
        Unknown task.
    ValidationError
        A golden task (its reference is the answer; it is not settled here).
    """
    require_role(user, *REVIEWER_ROLES)
    with store.session_scope(engine) as s:
        task, pool, item, answers, user_ids = _load(s, task_id)
        if task.is_golden:
            raise ValidationError(f"task {task.id} is a golden task: its reference region is fixed")
        duration = float(item.duration)
        valid = [a for a in answers if a.valid]
        agr = task_agreement([(a.start, a.end) for a in valid], duration=duration)
        cons_label, res_label = _task_heads(s, task=task, pool=pool)
        if cons_label is not None:
            consensus, how = (float(cons_label.start), float(cons_label.end)), "label"
        else:
            consensus = _computed_consensus(s, pool=pool, answers=answers, user_ids=user_ids, duration=duration)
            how = None if consensus is None else "computed"
        return DisagreementDetail(
            task_id=task.id, pool_id=pool.id, pool_name=pool.name, item_id=item.id, item_key=item.key,
            title=item.title, artist=item.artist, genre=item.genre, duration=duration, label_kind=pool.label_kind,
            min_region=float(pool.min_region), max_region=float(pool.max_region), answers=tuple(answers),
            mean_iou=agr.mean_iou, alpha=agr.alpha, consensus=consensus, consensus_source=how,
            answer_ids=tuple(sorted(a.answer_id for a in valid)),
            resolution=None if res_label is None else _resolution(res_label, task.id))


def _finite(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


def resolve_disagreement(
    user: SessionUser,
    *,
    engine,
    task_id: int,
    choice: str,
    seen_answers: tuple[int, ...] | list[int],
    seen_resolution: int | None = None,
    answer_id: int | None = None,
    start: float | None = None,
    end: float | None = None,
    comment: str | None = None,
) -> Resolution:
    """Resolve a task: save the chosen region as a ``crowd_resolved`` label by ``user``.

    Parameters
    ----------
    choice : str
        ``"consensus"`` (the region :func:`disagreement_detail` shows as consensus),
        ``"annotator"`` (the region of answer ``answer_id``) or ``"corrected"``
        (``start`` … ``end`` seconds).
    seen_answers : sequence of int
        ``DisagreementDetail.answer_ids`` the reviewer was looking at.
    seen_resolution : int, optional
        ``DisagreementDetail.resolution_id`` (None when the task was unresolved).
    comment : str, optional
        Kept in the label's note.

    Raises
    ------
    PermissionDeniedError
        Not an engineer, PM or admin.
    StaleEditError
        Someone resolved the task first, or its valid answers changed since it was opened.
    ValidationError
        Unknown choice, a skipped / invalid / foreign answer, no consensus, a bad region.
    NotFoundError
        Unknown task or answer.
    """
    require_role(user, *REVIEWER_ROLES)
    if choice not in RESOLUTION_CHOICES:
        raise ValidationError(f"resolution choice must be one of {RESOLUTION_CHOICES}; got {choice!r}")
    seen = tuple(sorted(int(i) for i in seen_answers))
    with store.session_scope(engine) as s:
        # two reviewers resolving the same task at once: the second waits here, then sees the first's resolution
        store.lock_row(session=s, table="crowd_task", row_id=int(task_id))
        task, pool, item, answers, user_ids = _load(s, task_id)
        if task.is_golden:
            raise ValidationError(f"task {task.id} is a golden task: its reference region is fixed")
        duration = float(item.duration)
        cons_label, res_label = _task_heads(s, task=task, pool=pool)
        if res_label is not None and res_label.id != seen_resolution:
            raise StaleEditError(
                f"task {task.id} was already resolved by {res_label.author} "
                f"({res_label.created_at:%Y-%m-%d %H:%M:%S} UTC: {res_label.start:.2f}–{res_label.end:.2f} s); "
                "reload the queue")
        if res_label is None and seen_resolution is not None:
            raise StaleEditError(f"the resolution #{seen_resolution} of task {task.id} was replaced; reload the queue")
        valid = [a for a in answers if a.valid]
        now = tuple(sorted(a.answer_id for a in valid))
        if now != seen:
            new, gone = len(set(now) - set(seen)), len(set(seen) - set(now))
            raise StaleEditError(f"the answers of task {task.id} changed since you opened it ({new} new, {gone} no "
                                 "longer counted); reload it and look again")
        annotator = None
        if choice == "consensus":
            if cons_label is not None:
                region = (float(cons_label.start), float(cons_label.end))
            else:
                region = _computed_consensus(s, pool=pool, answers=answers, user_ids=user_ids, duration=duration)
            if region is None:
                raise ValidationError(f"task {task.id} has no consensus (fewer than two valid answers, or answers "
                                      "that tie); "
                                      "pick an annotator's region or set a corrected one")
        elif choice == "annotator":
            pick = next((a for a in answers if a.answer_id == answer_id), None)
            if pick is None:
                raise ValidationError(f"answer {answer_id!r} is not an answer to task {task.id}")
            if pick.start is None:
                raise ValidationError(f"{pick.user_name} skipped task {task.id} ({pick.skip_reason}): "
                                      "there is no region to pick")
            region, annotator = (float(pick.start), float(pick.end)), pick.user_name
        else:
            if start is None or end is None:
                raise ValidationError("a corrected region needs a start and an end")
            region = (float(start), float(end))
        agr = task_agreement([(a.start, a.end) for a in valid], duration=duration)
        note = {"task_id": task.id, "pool_id": pool.id, "choice": choice, "annotator": annotator,
                "answer_ids": list(now), "n_answers": len(now), "mean_iou": _finite(agr.mean_iou),
                "alpha": _finite(agr.alpha), "comment": (comment or "").strip() or None,
                "consensus_label_id": None if cons_label is None else cons_label.id}
        base = res_label if res_label is not None else cons_label
        label = store.add_label(session=s, item_id=item.id, kind=pool.label_kind, start=region[0], end=region[1],
                                source=RESOLVED_SOURCE, author=user.name, note=json.dumps(note, sort_keys=True),
                                supersedes_id=None if base is None else base.id,
                                expected_version=None if base is None else base.version)
        logger.info("task %s resolved by %s: %s %.2f–%.2f s (label %s)", task.id, user.name, choice, region[0],
                    region[1], label.id)
        return _resolution(label, task.id)
