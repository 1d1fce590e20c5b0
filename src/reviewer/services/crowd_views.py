"""The records crowd services hand to pages.

Two families, kept apart on purpose:

* **annotator views** (:class:`PoolChoice`, :class:`TaskView`,
  :class:`AnswerReceipt`, :class:`MyAnswer`, :class:`AnnotatorStats`) carry
  nothing about other people's answers, whether a task is golden, or a golden
  reference region — there is no field that could hold them;
* **reviewer reports** (everything else) are only returned to engineers, PMs
  and admins (:func:`reviewer.services.auth.require_role`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = [
    "ANNOTATOR_VIEWS",
    "AggregationResult",
    "AnnotatorStats",
    "AnswerReceipt",
    "AnswerRow",
    "ConsensusRow",
    "DisagreementRow",
    "MyAnswer",
    "PoolChoice",
    "PoolSummary",
    "SkillRow",
    "TaskReport",
    "TaskView",
]


# ----------------------------------------------------------------- annotator views


@dataclass(frozen=True)
class PoolChoice:
    """A pool an annotator may work in."""

    pool_id: int
    name: str
    kind: str
    genres: tuple[str, ...]
    min_region: float
    max_region: float


@dataclass(frozen=True)
class TaskView:
    """The task page of an annotator: what to play and the answer's rules.

    ``audio_path`` is the item's media path for the player. Region bounds:
    ``min_region`` … ``max_region`` seconds (for an item shorter than the pool's
    minimum, ``min_region`` is the item's duration: answer with the whole
    item); submit after ``min_listen_seconds`` of listening.
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
    audio_path: str
    label_kind: str
    min_region: float
    max_region: float
    min_listen_seconds: float
    skip_reasons: tuple[str, ...]


@dataclass(frozen=True)
class AnswerReceipt:
    """What an annotator is told after submitting."""

    answer_id: int
    task_id: int
    start: float | None
    end: float | None
    skip_reason: str | None
    too_fast: bool
    message: str


@dataclass(frozen=True)
class MyAnswer:
    """One of the annotator's own answers."""

    answer_id: int
    task_id: int
    pool_id: int
    item_id: int
    start: float | None
    end: float | None
    skip_reason: str | None
    too_fast: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class AnnotatorStats:
    """An annotator's own counters (no skill: it would reveal golden results)."""

    name: str
    answered: int
    with_region: int
    skipped: int
    too_fast: int
    suspended: bool
    suspended_reason: str | None


#: Every record type an annotator-facing service may return (tests check their fields).
ANNOTATOR_VIEWS = (PoolChoice, TaskView, AnswerReceipt, MyAnswer, AnnotatorStats)


# ----------------------------------------------------------------- reviewer reports


@dataclass(frozen=True)
class PoolSummary:
    """A pool with its settings and progress."""

    pool_id: int
    name: str
    kind: str
    label_kind: str
    genres: tuple[str, ...]
    active: bool
    n_tasks: int
    n_golden: int
    n_done: int
    n_answers: int
    per_genre: dict[str, int]
    settings: dict


@dataclass(frozen=True)
class AnswerRow:
    """One answer as a reviewer sees it."""

    answer_id: int
    user_id: int
    user_name: str
    start: float | None
    end: float | None
    skip_reason: str | None
    listened_seconds: float
    too_fast: bool
    user_suspended: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class TaskReport:
    """A task with every answer, its golden reference and its agreement (reviewers only)."""

    task_id: int
    pool_id: int
    item_id: int
    item_key: str
    title: str | None
    genre: str | None
    duration: float | None
    is_golden: bool
    golden: tuple[float, float] | None
    status: str
    overlap_target: int
    answers: tuple[AnswerRow, ...]
    mean_iou: float
    alpha: float


@dataclass(frozen=True)
class ConsensusRow:
    """The consensus of one task."""

    task_id: int
    item_id: int
    item_key: str
    start: float
    end: float
    n_answers: int
    mean_iou: float
    alpha: float
    fallback: bool
    label_id: int | None


@dataclass(frozen=True)
class SkillRow:
    """A worker's measured skill in a pool."""

    user_id: int
    name: str
    golden_n: int
    golden_iou: float | None
    consensus_n: int
    consensus_iou: float | None
    skill: float | None
    suspended: bool
    suspended_reason: str | None


@dataclass(frozen=True)
class AggregationResult:
    """What :func:`reviewer.services.crowd_review.aggregate_pool` did."""

    pool_id: int
    method: str
    consensus: tuple[ConsensusRow, ...]
    labels_written: int
    newly_suspended: tuple[str, ...]
    skills: tuple[SkillRow, ...]
    skipped_tasks: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DisagreementRow:
    """A task whose answers disagree: for the reviewers' queue."""

    task_id: int
    pool_id: int
    item_id: int
    item_key: str
    title: str | None
    genre: str | None
    n_answers: int
    mean_iou: float
    alpha: float
    regions: tuple[tuple[str, float, float], ...]
