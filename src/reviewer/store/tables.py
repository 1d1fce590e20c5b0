"""Every table of the project, in one module.

Times are stored as UTC and come back timezone-aware (:class:`UTCDateTime`);
durations and interval bounds are seconds (float). JSON columns hold plain
dicts/lists: assign a new object to change one, never mutate it in place.

Rows a person can edit carry a ``version`` column used for optimistic
locking; labels are never edited in place — a correction is a new row that
supersedes the old one (``Label.supersedes_id``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "ARTIFACT_KINDS",
    "ITEM_KINDS",
    "ITEM_STATUSES",
    "LABEL_KINDS",
    "LABEL_SOURCES",
    "LABEL_STATUSES",
    "RECORD_STATUSES",
    "RUN_STATUSES",
    "SPLITS",
    "Artifact",
    "Label",
    "MediaItem",
    "ModelVersion",
    "PackageRecord",
    "PipelineRun",
    "Prediction",
    "ProcessingRecord",
    "UTCDateTime",
    "utcnow",
]

#: ``MediaItem.kind`` values.
ITEM_KINDS = ("episode", "song", "other")
#: ``MediaItem.status`` values, in pipeline order (``failed`` at any stage).
ITEM_STATUSES = ("new", "extracted", "packaged", "failed")
#: ``MediaItem.split`` values (``None`` = not assigned).
SPLITS = ("train", "val", "test")
#: ``PipelineRun.status`` values.
RUN_STATUSES = ("running", "done", "failed", "interrupted")
#: ``ProcessingRecord.status`` values.
RECORD_STATUSES = ("ok", "failed", "skipped")
#: ``Label.kind`` values (intervals a person or the ground truth can mark).
LABEL_KINDS = ("intro", "recap", "credits", "chorus", "prechorus", "verse", "hook", "interest", "other")
#: ``Label.source`` values (``crowd_resolved``: a reviewer settled a crowd disagreement, see
#: :mod:`reviewer.services.crowd_resolve`).
LABEL_SOURCES = ("truth", "human", "crowd", "import", "crowd_resolved")
#: ``Label.status`` values.
LABEL_STATUSES = ("accepted", "rejected", "proposed")
#: Common ``Artifact.kind`` values (free text; these are the ones the pipeline writes).
ARTIFACT_KINDS = ("transforms", "scaler", "pca", "other")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """A datetime column that is always UTC and always timezone-aware in Python.

    Aware values are converted to UTC before they are stored; naive values are
    taken to be UTC already. SQLite keeps no zone, so values read back get
    ``tzinfo=UTC`` attached; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _json() -> Any:
    return Field(default=None, sa_type=JSON, nullable=True)


class MediaItem(SQLModel, table=True):
    """One media file of the library (an episode, a song, or other audio).

    ``key`` is the stable external id (``[A-Za-z0-9._-]``, used in package
    file names); ``duration`` is the decoded audio length in seconds and
    ``source_duration`` what the container claims.
    """

    __tablename__ = "media_item"
    __table_args__ = (
        Index("ix_media_item_kind_series", "kind", "series"),
        Index("ix_media_item_status_kind", "status", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=255)
    path: str
    kind: str = Field(default="other", index=True)
    series: str | None = Field(default=None, index=True)
    season: int | None = None
    episode: int | None = None
    artist: str | None = Field(default=None, index=True)
    title: str | None = None
    genre: str | None = Field(default=None, index=True)
    duration: float | None = None
    source_duration: float | None = None
    content_hash: str | None = Field(default=None, index=True)
    status: str = Field(default="new", index=True)
    split: str | None = Field(default=None, index=True)
    extra: dict | None = _json()
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()
    version: int = Field(default=1, nullable=False)


class PipelineRun(SQLModel, table=True):
    """One batch run of a pipeline stage over many items."""

    __tablename__ = "pipeline_run"

    id: int | None = Field(default=None, primary_key=True)
    stage: str = Field(index=True)
    config_digest: str = Field(index=True)
    config: dict | None = _json()
    started_at: dt.datetime = _created()
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="running", index=True)
    n_ok: int = 0
    n_failed: int = 0
    n_skipped: int = 0
    host: str | None = None
    pid: int | None = None
    note: str | None = Field(default=None, sa_type=Text)


class ProcessingRecord(SQLModel, table=True):
    """The outcome of one item in one run (seed 004's success / failure records).

    ``timings`` maps extractor or stage name → seconds; ``wall_seconds`` is the
    item's total wall time and ``audio_seconds`` the audio length processed.
    """

    __tablename__ = "processing_record"
    __table_args__ = (Index("ix_processing_record_item_stage_digest", "item_id", "stage", "config_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="pipeline_run.id", index=True)
    item_id: int = Field(foreign_key="media_item.id")
    stage: str
    config_digest: str
    status: str = Field(index=True)
    error: str | None = Field(default=None, sa_type=Text)
    timings: dict | None = _json()
    wall_seconds: float | None = None
    audio_seconds: float | None = None
    started_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: dt.datetime = _created()


class PackageRecord(SQLModel, table=True):
    """A package written for one item (a folder of npy + meta.json, or a shard)."""

    __tablename__ = "package_record"
    __table_args__ = (Index("ix_package_record_item_digest", "item_id", "config_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="media_item.id")
    run_id: int | None = Field(default=None, foreign_key="pipeline_run.id")
    path: str
    config_digest: str
    artifact_digest: str | None = None
    feature_dim: int | None = None
    num_segments: int | None = None
    num_selected: int | None = None
    created_at: dt.datetime = _created()


class Artifact(SQLModel, table=True):
    """A saved, fitted object (PCA + scaler transforms, ...) with its digest."""

    __tablename__ = "artifact"
    __table_args__ = (Index("ix_artifact_kind_digest", "kind", "config_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    path: str
    digest: str = Field(index=True)
    config_digest: str
    created_at: dt.datetime = _created()
    meta: dict | None = _json()


class ModelVersion(SQLModel, table=True):
    """A trained model (intro / chorus / interest detector) that can make predictions."""

    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("task", "name", "version", name="uq_model_version_task_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    task: str = Field(index=True)
    name: str
    version: str
    path: str | None = None
    config: dict | None = _json()
    metrics: dict | None = _json()
    is_active: bool = Field(default=False, index=True)
    created_at: dt.datetime = _created()


class Prediction(SQLModel, table=True):
    """A model's interval for one item, stamped with the model version that made it.

    ``payload`` holds the evidence (per-segment scores, candidates, ...).
    """

    __tablename__ = "prediction"
    __table_args__ = (Index("ix_prediction_item_task", "item_id", "task"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="media_item.id")
    model_version_id: int | None = Field(default=None, foreign_key="model_version.id", index=True)
    task: str
    #: None for both means "no region" (e.g. an episode predicted to have no intro)
    start: float | None = None
    end: float | None = None
    confidence: float | None = None
    payload: dict | None = _json()
    created_at: dt.datetime = _created()


class Label(SQLModel, table=True):
    """A labelled interval ``[start, end)`` of an item.

    Corrections are new rows whose ``supersedes_id`` points at the label they
    replace; the *head* of a chain (a label nothing supersedes) is the current
    one. ``version`` counts the edits in a chain (1 for a fresh label). A
    label can be superseded once (unique ``supersedes_id``), so two people
    correcting the same label cannot both win.
    """

    __tablename__ = "label"
    __table_args__ = (Index("ix_label_item_kind", "item_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="media_item.id")
    kind: str
    start: float
    end: float
    source: str = Field(default="human")
    author: str | None = None
    status: str = Field(default="accepted")
    note: str | None = Field(default=None, sa_type=Text)
    supersedes_id: int | None = Field(default=None, foreign_key="label.id", unique=True)
    version: int = Field(default=1, nullable=False)
    created_at: dt.datetime = _created()


#: ``Preference.chosen`` values: snippet A, snippet B, or no difference.
PREFERENCE_CHOICES = ("a", "b", "same")


class Rating(SQLModel, table=True):
    """A listener's 1–5 opinion of one predicted snippet (Mean Opinion Score input).

    ``model_version_id`` is copied from the prediction when the rating is saved,
    so the MOS per model version needs no join. No foreign keys: ratings are
    history and outlive a deleted item or prediction.
    """

    __tablename__ = "rating"
    __table_args__ = (Index("ix_rating_model_version", "model_version_id"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(index=True)
    prediction_id: int = Field(index=True)
    model_version_id: int | None = None
    rating: int
    comment: str | None = Field(default=None, sa_type=Text)
    author: str | None = Field(default=None, index=True)
    created_at: dt.datetime = _created()


class Preference(SQLModel, table=True):
    """A blind A/B judgement between two predictions (two model versions) of one item.

    ``chosen`` is ``"a"``, ``"b"`` or ``"same"``; A and B are the predictions in the
    order the listener heard them. No foreign keys, as for :class:`Rating`.
    """

    __tablename__ = "preference"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(index=True)
    prediction_a_id: int = Field(index=True)
    prediction_b_id: int = Field(index=True)
    chosen: str
    author: str | None = Field(default=None, index=True)
    created_at: dt.datetime = _created()
