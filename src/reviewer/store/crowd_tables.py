"""Tables of accounts and crowd labelling (Toloka-style pools, tasks, answers, skills).

They share ``SQLModel.metadata`` with :mod:`reviewer.store.tables`, so
:func:`reviewer.store.init_db` creates them once this module is imported
(:mod:`reviewer.store` imports it).

Privacy rule: a golden task's reference bounds (``golden_start`` /
``golden_end``) and other people's answers never leave the store through an
annotator-facing service; :mod:`reviewer.services.crowd` builds separate view
records for annotators.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from reviewer.store.tables import UTCDateTime, utcnow

__all__ = [
    "ANSWER_SKIP_REASONS",
    "POOL_KINDS",
    "TASK_STATUSES",
    "USER_ROLES",
    "CrowdAnswer",
    "CrowdPool",
    "CrowdTask",
    "User",
    "WorkerSkill",
]

#: ``User.role`` values, from least to most privileged.
USER_ROLES = ("annotator", "engineer", "pm", "admin")
#: ``CrowdPool.kind`` values: which items a pool labels (``MediaItem.kind``).
POOL_KINDS = ("song", "episode", "other")
#: ``CrowdTask.status`` values.
TASK_STATUSES = ("open", "done")
#: ``CrowdAnswer.skip_reason`` values (an answer has bounds or a skip reason, never both).
ANSWER_SKIP_REASONS = ("dislike_genre", "cannot_judge", "broken_audio")


def _created():
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class User(SQLModel, table=True):
    """A local account: a unique name, an argon2 password hash and one role.

    A suspended user cannot take crowd tasks and their answers are left out of
    aggregation; ``suspended_reason`` says why (shown to admins).
    """

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    password_hash: str
    role: str = Field(default="annotator", index=True)
    suspended: bool = Field(default=False, index=True)
    suspended_reason: str | None = Field(default=None, sa_type=Text)
    suspended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = _created()
    version: int = Field(default=1, nullable=False)


class CrowdPool(SQLModel, table=True):
    """A batch of "most interesting region" tasks over items of one kind, balanced by genre.

    Region bounds (``min_region`` … ``max_region`` seconds) and the minimum
    listening time apply to every answer; an item shorter than ``min_region``
    is answered with the whole item (seed 002: short tracks → whole track).
    ``overlap`` answers are collected per task; with ``dynamic_overlap`` the
    target grows by one (up to ``max_overlap``) while the task's mean pairwise
    IoU is below ``target_agreement``. ``golden_rate`` is the share of served
    tasks that are golden; a worker whose skill falls below
    ``suspend_below`` (after ``min_golden`` golden answers) is suspended.
    """

    __tablename__ = "crowd_pool"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=128)
    kind: str = Field(default="song", index=True)
    label_kind: str = Field(default="interest")
    genres: list | None = Field(default=None, sa_type=JSON)
    overlap: int = 3
    dynamic_overlap: bool = False
    max_overlap: int = 5
    target_agreement: float = 0.5
    min_region: float = 5.0
    max_region: float = 30.0
    min_listen_seconds: float = 20.0
    golden_rate: float = 0.1
    suspend_below: float = 0.3
    min_golden: int = 3
    active: bool = Field(default=True, index=True)
    created_by: str | None = None
    created_at: dt.datetime = _created()


class CrowdTask(SQLModel, table=True):
    """One item to label inside a pool.

    Golden tasks (honeypots) carry the reference region in ``golden_start`` /
    ``golden_end``: never shown to annotators. ``overlap_target`` starts at
    the pool's overlap and grows under dynamic overlap; ``status`` turns
    ``"done"`` when enough agreeing answers are in.
    """

    __tablename__ = "crowd_task"
    __table_args__ = (
        UniqueConstraint("pool_id", "item_id", "is_golden", name="uq_crowd_task_pool_item_golden"),
        Index("ix_crowd_task_pool_status", "pool_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pool_id: int = Field(foreign_key="crowd_pool.id", index=True)
    item_id: int = Field(foreign_key="media_item.id", index=True)
    genre: str | None = Field(default=None, index=True)
    is_golden: bool = Field(default=False, index=True)
    golden_start: float | None = None
    golden_end: float | None = None
    overlap_target: int = 3
    status: str = Field(default="open", index=True)
    created_at: dt.datetime = _created()
    version: int = Field(default=1, nullable=False)


class CrowdAnswer(SQLModel, table=True):
    """One annotator's answer to one task: a region ``[start, end)`` or a skip with a reason.

    ``too_fast`` is set when ``listened_seconds`` is below the pool's minimum
    listening time; such answers are kept but left out of aggregation. At most
    one answer per (task, user): the database refuses a second one.
    """

    __tablename__ = "crowd_answer"
    __table_args__ = (UniqueConstraint("task_id", "user_id", name="uq_crowd_answer_task_user"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="crowd_task.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    start: float | None = None
    end: float | None = None
    skip_reason: str | None = None
    listened_seconds: float = 0.0
    too_fast: bool = Field(default=False, index=True)
    created_at: dt.datetime = _created()


class WorkerSkill(SQLModel, table=True):
    """A worker's measured quality in one pool (``pool_id`` None = over all pools).

    ``golden_iou`` is the mean IoU of their golden answers with the reference,
    ``consensus_iou`` the mean IoU of their regular answers with the crowd
    consensus; ``skill`` combines both (see :func:`reviewer.crowd.skills.combine_skill`).
    """

    __tablename__ = "worker_skill"
    __table_args__ = (UniqueConstraint("user_id", "pool_id", name="uq_worker_skill_user_pool"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    pool_id: int | None = Field(default=None, foreign_key="crowd_pool.id", index=True)
    golden_n: int = 0
    golden_iou: float | None = None
    consensus_n: int = 0
    consensus_iou: float | None = None
    skill: float | None = None
    updated_at: dt.datetime = _created()
