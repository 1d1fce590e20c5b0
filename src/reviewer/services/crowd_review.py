"""Crowd results for reviewers: aggregation, skills, suspensions, the disagreement queue.

Every function here needs an engineer, PM or admin
(:func:`~reviewer.services.auth.require_role`); an annotator gets
:class:`~reviewer.services.auth.PermissionDeniedError`. The CLI passes
:data:`~reviewer.services.auth.SYSTEM_USER`.

:func:`aggregate_pool` is the whole loop::

    answers (valid ones) → RegionConsensus (crowd-kit) → consensus Label rows (source "crowd")
        → skills (golden IoU + IoU with consensus) → suspensions → consensus again without them

Consensus labels are new rows and never overwrite: when a task's consensus
changes, the new label supersedes the previous consensus label of the item;
an unchanged consensus writes nothing. The label's ``note`` is JSON with the
pool, task, method, answer count and agreement, so exports can filter by agreement.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict

import pandas as pd

from reviewer import store
from reviewer.crowd.aggregate import METHODS, RegionConsensus
from reviewer.crowd.agreement import task_agreement
from reviewer.crowd.skills import GoldenSkill, combine_skill
from reviewer.errors import ValidationError
from reviewer.services.auth import REVIEWER_ROLES, SessionUser, require_role
from reviewer.services.crowd import suspend, suspension_reason
from reviewer.services.crowd_resolve import resolved_task_ids
from reviewer.services.crowd_views import (
    AggregationResult,
    AnswerRow,
    ConsensusRow,
    DisagreementRow,
    SkillRow,
    TaskReport,
)

__all__ = ["CONSENSUS_AUTHOR_PREFIX", "aggregate_pool", "disagreement_queue", "pool_skills", "reinstate_user",
           "task_report"]

logger = logging.getLogger(__name__)

#: ``Label.author`` of consensus labels is this prefix plus the method (``"crowd-consensus:mv"``).
CONSENSUS_AUTHOR_PREFIX = "crowd-consensus:"


def _answers_frame(rows) -> pd.DataFrame:
    return pd.DataFrame([{"task": t.id, "worker": u.id, "start": a.start, "end": a.end} for a, t, u in rows],
                        columns=["task", "worker", "start", "end"])


def _consensus(s, pool, method: str, weighted: bool):
    rows = store.pool_answers(session=s, pool_id=pool.id)
    by_task = defaultdict(list)
    for a, t, u in rows:
        by_task[t.id].append((a, t, u))
    durations = {}
    for task_id, group in by_task.items():
        item = store.get_item(session=s, item_id=group[0][1].item_id)
        durations[task_id] = float(item.duration)
    skills = None
    if weighted and method == "mv":
        known = {sk.user_id: sk.skill for sk, _ in store.list_skills(session=s, pool_id=pool.id) if sk.skill is not None}
        skills = pd.Series(known, dtype=float) if known else None
    frame = _answers_frame(rows)
    regions = RegionConsensus(method).fit_predict(frame, durations, skills) if len(frame) else None
    return by_task, durations, regions


def _update_skills(s, pool, by_task, regions) -> list[str]:
    """Golden + consensus skill per worker; returns the names of workers suspended now."""
    gold_rows = store.pool_answers(session=s, pool_id=pool.id, is_golden=True)
    gold = GoldenSkill().fit_predict(pd.DataFrame(
        [{"worker": u.id, "task": t.id, "start": a.start, "end": a.end, "ref_start": t.golden_start,
          "ref_end": t.golden_end} for a, t, u in gold_rows],
        columns=["worker", "task", "start", "end", "ref_start", "ref_end"]))
    cons_records = []
    if regions is not None:
        for task_id, group in by_task.items():
            if task_id in regions.index and len(group) >= 2 and not bool(regions.loc[task_id, "tie"]):
                r = regions.loc[task_id]  # a tie says nothing about who was right
                cons_records += [{"worker": u.id, "task": task_id, "start": a.start, "end": a.end,
                                  "ref_start": float(r["start"]), "ref_end": float(r["end"])} for a, _, u in group]
    cons = GoldenSkill().fit_predict(pd.DataFrame(cons_records, columns=["worker", "task", "start", "end",
                                                                         "ref_start", "ref_end"]))
    suspended = []
    for worker in sorted(set(gold.index) | set(cons.index)):
        g_n = int(gold.loc[worker, "n"]) if worker in gold.index else 0
        g_iou = float(gold.loc[worker, "iou"]) if g_n else None
        c_n = int(cons.loc[worker, "n"]) if worker in cons.index else 0
        c_iou = float(cons.loc[worker, "iou"]) if c_n else None
        skill = combine_skill(golden_iou=g_iou, golden_n=g_n, consensus_iou=c_iou, consensus_n=c_n)
        store.upsert_skill(session=s, user_id=int(worker), pool_id=pool.id, golden_n=g_n, golden_iou=g_iou,
                           consensus_n=c_n, consensus_iou=c_iou, skill=skill)
        reason = suspension_reason(pool, golden_n=g_n, golden_iou=g_iou, consensus_n=c_n, skill=skill)
        user = store.get_user(session=s, user_id=int(worker))
        if reason is not None and not user.suspended:
            suspend(s, user_id=user.id, reason=reason)
            suspended.append(user.name)
    return suspended


def _skill_rows(s, pool_id: int) -> tuple[SkillRow, ...]:
    return tuple(SkillRow(user_id=u.id, name=u.name, golden_n=sk.golden_n, golden_iou=sk.golden_iou,
                          consensus_n=sk.consensus_n, consensus_iou=sk.consensus_iou, skill=sk.skill,
                          suspended=u.suspended, suspended_reason=u.suspended_reason)
                 for sk, u in store.list_skills(session=s, pool_id=pool_id))


def _write_label(s, *, pool, task, item, start: float, end: float, method: str, note: dict) -> int | None:
    author = CONSENSUS_AUTHOR_PREFIX + method
    heads = [lb for lb in store.current_labels(session=s, item_id=item.id, kind=pool.label_kind, source="crowd",
                                               include_rejected=True)
             if (lb.author or "").startswith(CONSENSUS_AUTHOR_PREFIX)]
    history = [lb for lb in store.label_history(session=s, item_id=item.id, kind=pool.label_kind)
               if lb.source == "crowd" and (lb.author or "").startswith(CONSENSUS_AUTHOR_PREFIX)]
    if history and abs(history[-1].start - start) < 1e-6 and abs(history[-1].end - end) < 1e-6:
        return None  # unchanged since the last aggregation (even if a reviewer has corrected it since)
    prev = heads[0] if heads else None
    label = store.add_label(session=s, item_id=item.id, kind=pool.label_kind, start=start, end=end, source="crowd",
                            author=author, note=json.dumps(note, sort_keys=True),
                            supersedes_id=None if prev is None else prev.id,
                            expected_version=None if prev is None else prev.version)
    return label.id


def aggregate_pool(
    user: SessionUser,
    *,
    engine,
    pool_id: int,
    method: str = "mv",
    weighted: bool = True,
    min_answers: int = 2,
    write_labels: bool = True,
) -> AggregationResult:
    """Consensus regions, skills and suspensions for one pool.

    Parameters
    ----------
    method : str
        ``"mv"``, ``"em"`` or ``"rasa"`` (see :class:`~reviewer.crowd.aggregate.RegionConsensus`).
    weighted : bool
        ``mv`` only: weight votes by the workers' current skills.
    min_answers : int
        Tasks with fewer valid answers get no consensus (listed in ``skipped_tasks``).
    write_labels : bool
        Write consensus labels (source ``"crowd"``, kind = the pool's label kind).

    Raises
    ------
    PermissionDeniedError, ValidationError, NotFoundError
    """
    require_role(user, *REVIEWER_ROLES)
    if method not in METHODS:
        raise ValidationError(f"aggregation method must be one of {METHODS}; got {method!r}")
    with store.session_scope(engine) as s:
        pool = store.get_pool(session=s, pool_id=pool_id)
        by_task, durations, regions = _consensus(s, pool, method, weighted)
        newly = _update_skills(s, pool, by_task, regions)
        if newly:  # their answers no longer count: aggregate again without them
            by_task, durations, regions = _consensus(s, pool, method, weighted)
            _update_skills(s, pool, by_task, regions)
        rows, skipped, written = [], {}, 0
        for task in store.list_crowd_tasks(session=s, pool_id=pool.id, is_golden=False):
            group = by_task.get(task.id, [])
            if len(group) < min_answers or regions is None or task.id not in regions.index:
                skipped[task.id] = f"{len(group)} valid answer(s), need {min_answers}"
                continue
            r = regions.loc[task.id]
            if bool(r["tie"]):
                skipped[task.id] = (f"{len(group)} valid answers that tie (no region has a majority): "
                                    "resolve it in the disagreement queue")
                continue
            start, end = float(r["start"]), float(r["end"])
            agr = task_agreement([(a.start, a.end) for a, _, _ in group], duration=durations[task.id])
            item = store.get_item(session=s, item_id=task.item_id)
            label_id = None
            if write_labels:
                note = {"pool_id": pool.id, "task_id": task.id, "method": method, "n_answers": len(group),
                        "mean_iou": _finite(agr.mean_iou), "alpha": _finite(agr.alpha)}
                label_id = _write_label(s, pool=pool, task=task, item=item, start=start, end=end, method=method,
                                        note=note)
                written += label_id is not None
            rows.append(ConsensusRow(task_id=task.id, item_id=item.id, item_key=item.key, start=start, end=end,
                                     n_answers=len(group), mean_iou=agr.mean_iou, alpha=agr.alpha,
                                     fallback=bool(r["fallback"]), label_id=label_id))
        logger.info("pool %s: %d consensus region(s), %d label(s) written, suspended %s", pool.name, len(rows),
                    written, newly or "nobody")
        return AggregationResult(pool_id=pool.id, method=method, consensus=tuple(rows), labels_written=written,
                                 newly_suspended=tuple(newly), skills=_skill_rows(s, pool.id), skipped_tasks=skipped)


def _finite(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


def pool_skills(user: SessionUser, *, engine, pool_id: int) -> list[SkillRow]:
    """Measured skills of the pool's workers, by name."""
    require_role(user, *REVIEWER_ROLES)
    with store.session_scope(engine) as s:
        store.get_pool(session=s, pool_id=pool_id)
        return list(_skill_rows(s, pool_id))


def task_report(user: SessionUser, *, engine, task_id: int) -> TaskReport:
    """A task with every answer (valid or not), its golden reference and agreement."""
    require_role(user, *REVIEWER_ROLES)
    with store.session_scope(engine) as s:
        task = store.get_crowd_task(session=s, task_id=task_id)
        item = store.get_item(session=s, item_id=task.item_id)
        rows = store.pool_answers(session=s, pool_id=task.pool_id, is_golden=None, valid_only=False,
                                  task_ids=[task.id])
        answers = tuple(AnswerRow(answer_id=a.id, user_id=u.id, user_name=u.name, start=a.start, end=a.end,
                                  skip_reason=a.skip_reason, listened_seconds=a.listened_seconds,
                                  too_fast=a.too_fast, user_suspended=u.suspended, created_at=a.created_at)
                        for a, _, u in rows)
        valid = [(a.start, a.end) for a, _, u in rows if a.start is not None and not a.too_fast and not u.suspended]
        agr = task_agreement(valid, duration=float(item.duration))
        golden = (task.golden_start, task.golden_end) if task.is_golden else None
        return TaskReport(task_id=task.id, pool_id=task.pool_id, item_id=item.id, item_key=item.key,
                          title=item.title, genre=item.genre, duration=item.duration, is_golden=task.is_golden,
                          golden=golden, status=task.status, overlap_target=task.overlap_target, answers=answers,
                          mean_iou=agr.mean_iou, alpha=agr.alpha)


def disagreement_queue(
    user: SessionUser,
    *,
    engine,
    pool_id: int | None = None,
    threshold: float | None = None,
    limit: int = 50,
    include_resolved: bool = False,
) -> list[DisagreementRow]:
    """Tasks whose valid answers disagree, worst first: what reviewers should settle in the Review page.

    Parameters
    ----------
    threshold : float, optional
        Mean pairwise IoU below which a task is listed (default: each pool's target agreement).
    include_resolved : bool
        Also list tasks a reviewer already resolved
        (:func:`reviewer.services.crowd_resolve.resolve_disagreement`); they leave the queue by default.
    """
    require_role(user, *REVIEWER_ROLES)
    out: list[DisagreementRow] = []
    with store.session_scope(engine) as s:
        pools = store.list_pools(session=s) if pool_id is None else [store.get_pool(session=s, pool_id=pool_id)]
        for pool in pools:
            limit_iou = pool.target_agreement if threshold is None else float(threshold)
            by_task = defaultdict(list)
            for a, t, u in store.pool_answers(session=s, pool_id=pool.id):
                by_task[t.id].append((a, t, u))
            resolved = set() if include_resolved else resolved_task_ids(
                s, pool=pool, task_ids=[t for t, g in by_task.items() if len(g) >= 2])
            for task_id, group in by_task.items():
                if len(group) < 2 or task_id in resolved:
                    continue
                item = store.get_item(session=s, item_id=group[0][1].item_id)
                agr = task_agreement([(a.start, a.end) for a, _, _ in group], duration=float(item.duration))
                if agr.mean_iou < limit_iou:
                    out.append(DisagreementRow(
                        task_id=task_id, pool_id=pool.id, item_id=item.id, item_key=item.key, title=item.title,
                        genre=item.genre, n_answers=len(group), mean_iou=agr.mean_iou, alpha=agr.alpha,
                        regions=tuple((u.name, a.start, a.end) for a, _, u in group)))
    out.sort(key=lambda r: (r.mean_iou, r.task_id))
    return out[: max(0, int(limit))]


def reinstate_user(admin: SessionUser, *, engine, user_id: int) -> None:
    """Lift a suspension (admins only); the user's answers count again from the next aggregation."""
    require_role(admin, "admin")
    with store.session_scope(engine) as s:
        store.set_user_suspended(session=s, user_id=user_id, suspended=False)
