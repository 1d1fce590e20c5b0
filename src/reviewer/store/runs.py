"""Pipeline runs, per-item processing records, packages and fitted artifacts.

A batch opens a run (:func:`start_run`), writes one :class:`ProcessingRecord`
per item (seed 004's success / failure records with timings), and closes the
run (:func:`finish_run`). :func:`done_item_ids` tells a resumed batch which
items it can skip: those whose latest record for the same stage and config
digest is ``ok``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from reviewer.errors import NotFoundError, ValidationError
from reviewer.store.checks import check_choice, check_nonneg, check_text
from reviewer.store.items import get_item
from reviewer.store.tables import (
    RECORD_STATUSES,
    RUN_STATUSES,
    Artifact,
    PackageRecord,
    PipelineRun,
    ProcessingRecord,
    utcnow,
)

__all__ = [
    "add_artifact",
    "add_package_record",
    "done_item_ids",
    "failures",
    "finish_run",
    "get_run",
    "latest_artifact",
    "latest_package",
    "latest_records",
    "list_runs",
    "record_processing",
    "run_records",
    "start_run",
]

logger = logging.getLogger(__name__)

_COUNTER = {"ok": "n_ok", "failed": "n_failed", "skipped": "n_skipped"}


def start_run(*, session: Session, stage: str, config_digest: str, config: dict | None = None,
              note: str | None = None) -> PipelineRun:
    """Open a run of ``stage`` with status ``running``, stamped with this host and pid.

    Parameters
    ----------
    stage : str
        ``"extract"``, ``"package"``, ...
    config_digest : str
        Digest of the pipeline config the run uses.
    config : dict, optional
        The config itself (as plain data), for the record.
    """
    check_text(stage, what="stage")
    check_text(config_digest, what="config_digest")
    run = PipelineRun(stage=stage, config_digest=config_digest, config=config, status="running",
                      host=socket.gethostname(), pid=os.getpid(), note=note)
    session.add(run)
    session.flush()
    logger.info("run %s started: %s (%s)", run.id, stage, config_digest)
    return run


def get_run(*, session: Session, run_id: int) -> PipelineRun:
    """The run with id ``run_id``.

    Raises
    ------
    NotFoundError
        naming the id.
    """
    run = session.get(PipelineRun, run_id)
    if run is None:
        raise NotFoundError(f"no pipeline run with id {run_id!r}")
    return run


def finish_run(
    *,
    session: Session,
    run_id: int,
    status: str = "done",
    note: str | None = None,
    n_ok: int | None = None,
    n_failed: int | None = None,
    n_skipped: int | None = None,
) -> PipelineRun:
    """Close a run: set its final status and finish time and its counts.

    Parameters
    ----------
    status : str
        ``"done"``, ``"failed"`` or ``"interrupted"``.
    note : str, optional
        Replaces the run's note.
    n_ok, n_failed, n_skipped : int, optional
        Counts to store; each one left as None is recounted from the run's
        processing records.
    """
    check_choice(status, [s for s in RUN_STATUSES if s != "running"], what="final run status")
    run = get_run(session=session, run_id=run_id)
    session.flush()
    counts = dict(
        session.exec(
            select(ProcessingRecord.status, func.count())
            .where(ProcessingRecord.run_id == run_id)
            .group_by(ProcessingRecord.status)
        ).all()
    )
    session.refresh(run)
    given = {"ok": n_ok, "failed": n_failed, "skipped": n_skipped}
    for name, value in given.items():
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValidationError(f"n_{name} must be an integer >= 0; got {value!r}")
    run.n_ok, run.n_failed, run.n_skipped = (
        int(counts.get(k, 0)) if given[k] is None else given[k] for k in ("ok", "failed", "skipped")
    )
    run.status = status
    run.finished_at = utcnow()
    if note is not None:
        run.note = note
    session.add(run)
    session.flush()
    logger.info("run %s %s: %d ok, %d failed, %d skipped", run_id, status, run.n_ok, run.n_failed, run.n_skipped)
    return run


def list_runs(*, session: Session, limit: int = 20, stage: str | None = None) -> list[PipelineRun]:
    """The most recent runs first."""
    q = select(PipelineRun)
    if stage is not None:
        q = q.where(PipelineRun.stage == stage)
    return list(session.exec(q.order_by(col(PipelineRun.id).desc()).limit(max(1, int(limit)))).all())


def record_processing(
    *,
    session: Session,
    run_id: int | None,
    item_id: int,
    stage: str,
    config_digest: str,
    status: str,
    error: str | None = None,
    timings: dict[str, float] | None = None,
    wall_seconds: float | None = None,
    audio_seconds: float | None = None,
    started_at: dt.datetime | None = None,
    finished_at: dt.datetime | None = None,
) -> ProcessingRecord:
    """Record how one item fared in one run, and bump the run's live counters.

    Parameters
    ----------
    status : str
        ``"ok"``, ``"failed"`` or ``"skipped"``.
    error : str, optional
        What went wrong (for ``failed``) or why it was skipped.
    timings : dict of str to float, optional
        Seconds per extractor / sub-stage.
    wall_seconds, audio_seconds : float, optional
        Total wall time spent on the item; length of the audio processed.

    Raises
    ------
    ValidationError, NotFoundError
    """
    check_choice(status, RECORD_STATUSES, what="record status")
    check_text(stage, what="stage")
    check_text(config_digest, what="config_digest")
    check_nonneg(wall_seconds, what="wall_seconds")
    check_nonneg(audio_seconds, what="audio_seconds")
    if timings is not None:
        if not isinstance(timings, dict):
            raise ValidationError(f"timings must be a dict of name -> seconds; got {type(timings).__name__}")
        timings = {str(k): check_nonneg(v, what=f"timings[{k!r}]") for k, v in timings.items()}
    get_item(session=session, item_id=item_id)
    if run_id is not None:
        get_run(session=session, run_id=run_id)
    rec = ProcessingRecord(
        run_id=run_id, item_id=item_id, stage=stage, config_digest=config_digest, status=status,
        error=error, timings=timings, wall_seconds=wall_seconds, audio_seconds=audio_seconds,
        started_at=started_at, finished_at=finished_at or utcnow(),
    )
    session.add(rec)
    if run_id is not None:
        counter = getattr(PipelineRun, _COUNTER[status])
        session.exec(update(PipelineRun).where(PipelineRun.id == run_id).values({counter: counter + 1}))
    session.flush()
    return rec


def _latest_ids(stage: str, config_digest: str):
    # The latest decisive (ok / failed) record per item; "skipped" never changes what is done.
    return (
        select(func.max(ProcessingRecord.id).label("rid"))
        .where(ProcessingRecord.stage == stage, ProcessingRecord.config_digest == config_digest,
               col(ProcessingRecord.status).in_(("ok", "failed")))
        .group_by(ProcessingRecord.item_id)
    )


def done_item_ids(*, session: Session, stage: str, config_digest: str) -> set[int]:
    """Items whose latest ``ok``/``failed`` record for ``stage`` and ``config_digest`` is ``ok``.

    A failure after a success makes the item not done again; a success after a
    failure makes it done. ``skipped`` records are ignored.
    """
    latest = _latest_ids(stage, config_digest).subquery()
    q = select(ProcessingRecord.item_id).where(
        col(ProcessingRecord.id).in_(select(latest.c.rid)), ProcessingRecord.status == "ok"
    )
    return set(session.exec(q).all())


def failures(*, session: Session, run_id: int | None = None, stage: str | None = None,
             limit: int = 1000) -> list[ProcessingRecord]:
    """Failed records, newest first, optionally of one run or one stage."""
    q = select(ProcessingRecord).where(ProcessingRecord.status == "failed")
    if run_id is not None:
        q = q.where(ProcessingRecord.run_id == run_id)
    if stage is not None:
        q = q.where(ProcessingRecord.stage == stage)
    return list(session.exec(q.order_by(col(ProcessingRecord.id).desc()).limit(limit)).all())


def run_records(*, session: Session, run_id: int) -> list[ProcessingRecord]:
    """Every record of one run, in the order they were written."""
    return list(session.exec(
        select(ProcessingRecord).where(ProcessingRecord.run_id == run_id).order_by(ProcessingRecord.id)
    ).all())


def latest_records(*, session: Session, item_id: int) -> dict[str, ProcessingRecord]:
    """The newest record of an item per stage, as ``{stage: record}``."""
    rows = session.exec(
        select(ProcessingRecord).where(ProcessingRecord.item_id == item_id).order_by(ProcessingRecord.id)
    ).all()
    return {rec.stage: rec for rec in rows}


def add_package_record(
    *,
    session: Session,
    item_id: int,
    path: str,
    config_digest: str,
    run_id: int | None = None,
    artifact_digest: str | None = None,
    feature_dim: int | None = None,
    num_segments: int | None = None,
    num_selected: int | None = None,
) -> PackageRecord:
    """Record a package written for an item (folder or shard path)."""
    check_text(path, what="package path")
    check_text(config_digest, what="config_digest")
    get_item(session=session, item_id=item_id)
    for name, v in (("feature_dim", feature_dim), ("num_segments", num_segments), ("num_selected", num_selected)):
        if v is not None and (int(v) != v or v < 0):
            raise ValidationError(f"{name} must be an integer >= 0; got {v!r}")
    rec = PackageRecord(item_id=item_id, run_id=run_id, path=str(path), config_digest=config_digest,
                        artifact_digest=artifact_digest, feature_dim=feature_dim, num_segments=num_segments,
                        num_selected=num_selected)
    session.add(rec)
    session.flush()
    return rec


def latest_package(*, session: Session, item_id: int, config_digest: str | None = None) -> PackageRecord | None:
    """The newest package record of an item (optionally for one config digest), or None."""
    q = select(PackageRecord).where(PackageRecord.item_id == item_id)
    if config_digest is not None:
        q = q.where(PackageRecord.config_digest == config_digest)
    return session.exec(q.order_by(col(PackageRecord.id).desc()).limit(1)).first()


def add_artifact(*, session: Session, kind: str, path: str, digest: str, config_digest: str,
                 meta: dict[str, Any] | None = None) -> Artifact:
    """Record a saved artifact (fitted transforms, ...) with its content digest."""
    check_text(kind, what="artifact kind")
    check_text(path, what="artifact path")
    check_text(digest, what="artifact digest")
    check_text(config_digest, what="config_digest")
    art = Artifact(kind=kind, path=str(path), digest=digest, config_digest=config_digest, meta=meta)
    session.add(art)
    session.flush()
    return art


def latest_artifact(*, session: Session, kind: str, config_digest: str) -> Artifact | None:
    """The newest artifact of ``kind`` fitted under ``config_digest``, or None if there is none."""
    return session.exec(
        select(Artifact).where(Artifact.kind == kind, Artifact.config_digest == config_digest)
        .order_by(col(Artifact.id).desc()).limit(1)
    ).first()
