"""Batch extraction over a local process pool: resumable, idempotent, per-item records.

The parent process owns the database (one writer); workers only run the
composer (:func:`reviewer.pipeline.extract_item`) and return plain results.
Every item ends with a processing record — ok with timings, or failed with the
error (seed 004's success / failure records) — and the batch goes on after a
failure. Re-running skips items whose latest record for the same config digest
is ok. Beyond one machine the same task function (:func:`extract_task`) can be
mapped by Ray or Dask; nothing here is specific to the pool.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import logging
import os
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from reviewer.config import PipelineConfig
from reviewer.parallel import neutral_main, spawn_executor
from reviewer.errors import ReviewerError
from reviewer.pipeline import extract_digest, extract_item
from reviewer.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractTask:
    item_id: int
    key: str
    path: str


@dataclass(frozen=True)
class TaskResult:
    item_id: int
    key: str
    ok: bool
    error: str | None = None
    duration: float | None = None
    source_duration: float | None = None
    content_hash: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    wall_seconds: float = 0.0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


def extract_task(task: ExtractTask, config_dict: dict[str, Any], settings: Settings) -> TaskResult:
    """Run the extract stage on one item; never raises (errors become a failed result)."""
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    config = PipelineConfig.from_dict(config_dict)
    try:
        out = extract_item(task.path, key=task.key, config=config, settings=settings)
    except ReviewerError as exc:
        return TaskResult(task.item_id, task.key, False, error=f"{type(exc).__name__}: {exc}",
                          wall_seconds=time.perf_counter() - t0, started_at=started,
                          finished_at=dt.datetime.now(dt.timezone.utc))
    except Exception as exc:  # noqa: BLE001 - a batch records unexpected failures and goes on
        log.exception("unexpected failure on %s", task.path)
        tb = traceback.format_exc(limit=3)
        return TaskResult(task.item_id, task.key, False, error=f"{type(exc).__name__}: {exc}\n{tb}",
                          wall_seconds=time.perf_counter() - t0, started_at=started,
                          finished_at=dt.datetime.now(dt.timezone.utc))
    return TaskResult(
        task.item_id, task.key, True, duration=out.duration, source_duration=out.source_duration,
        content_hash=out.content_hash, timings=dict(out.timings), missing=dict(out.missing),
        wall_seconds=out.wall_seconds, started_at=started, finished_at=dt.datetime.now(dt.timezone.utc),
    )


@dataclass(frozen=True)
class BatchSummary:
    run_id: int
    ok: int
    failed: int
    skipped: int
    audio_seconds: float
    wall_seconds: float
    failures: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_extract_batch(
    *,
    engine,
    config: PipelineConfig,
    settings: Settings,
    item_ids: Sequence[int] | None = None,
    workers: int | None = None,
    force: bool = False,
    progress: Callable[[int, int, TaskResult | None], None] | None = None,
) -> BatchSummary:
    """Extract every (selected) item not done yet for this config, recording each outcome.

    Parameters
    ----------
    engine : sqlalchemy Engine
        The store.
    item_ids : sequence of int or None
        Restrict to these items (default: all items).
    workers : int or None
        Pool size (default ``settings.workers``); 1 runs in-process.
    force : bool
        Re-extract items that are already done.
    progress : callable or None
        Called as ``progress(done, total, result)`` after each item.
    """
    from reviewer import store

    cdigest = extract_digest(config)
    cdict = config.to_dict()
    with store.session_scope(engine) as s:
        ids = list(item_ids) if item_ids is not None else store.item_ids(session=s)
        done = set() if force else store.done_item_ids(session=s, stage="extract", config_digest=cdigest)
        todo, skipped = [], 0
        for item in store.items_by_id(session=s, item_ids=ids).values():
            if item.id in done:
                skipped += 1
            else:
                todo.append(ExtractTask(item.id, item.key, item.path))
        run = store.start_run(session=s, stage="extract", config_digest=cdigest, config=cdict)
        run_id = run.id
    todo.sort(key=lambda t: t.key)
    n_workers = max(1, min(workers or settings.workers, len(todo) or 1))
    log.info("extract run %d: %d to do, %d already done, %d workers", run_id, len(todo), skipped, n_workers)
    ok = failed = 0
    audio_s = 0.0
    failures: dict[str, str] = {}
    t0 = time.perf_counter()

    def record(res: TaskResult) -> None:
        nonlocal ok, failed, audio_s
        with store.session_scope(engine) as s:
            store.record_processing(
                session=s, run_id=run_id, item_id=res.item_id, stage="extract", config_digest=cdigest,
                status="ok" if res.ok else "failed", error=res.error, timings=res.timings,
                wall_seconds=res.wall_seconds, audio_seconds=res.duration, started_at=res.started_at,
                finished_at=res.finished_at,
            )
            if res.ok:
                store.set_item_status(session=s, item_id=res.item_id, status="extracted", duration=res.duration,
                                      source_duration=res.source_duration, content_hash=res.content_hash)
                # which feature groups are missing and why: shown by the debugger, never invented
                store.update_item_extra(session=s, item_id=res.item_id, extra={"missing_features": res.missing})
            else:
                store.set_item_status(session=s, item_id=res.item_id, status="failed")
        if res.ok:
            ok += 1
            audio_s += res.duration or 0.0
        else:
            failed += 1
            failures[res.key] = res.error or "failed"
            log.warning("failed: %s: %s", res.key, (res.error or "").splitlines()[0] if res.error else "")
        if progress:
            progress(ok + failed, len(todo), res)

    status = "done"
    try:
        if n_workers == 1:
            for task in todo:
                record(extract_task(task, cdict, settings))
        else:
            with spawn_executor(n_workers) as pool:
                with neutral_main():  # workers start on submit; see reviewer.parallel
                    futs = {pool.submit(extract_task, t, cdict, settings): t for t in todo}
                try:
                    for fut in cf.as_completed(futs):
                        t = futs[fut]
                        try:
                            res = fut.result()
                        except Exception as exc:  # noqa: BLE001 - a dead worker fails one item, not the batch
                            res = TaskResult(t.item_id, t.key, False, error=f"worker died: {type(exc).__name__}: {exc}")
                        record(res)
                except BaseException:
                    for f in futs:
                        f.cancel()
                    raise
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        with store.session_scope(engine) as s:
            store.finish_run(session=s, run_id=run_id, status=status if failed == 0 or status != "done" else "done",
                             n_ok=ok, n_failed=failed, n_skipped=skipped)
    return BatchSummary(run_id, ok, failed, skipped, audio_s, time.perf_counter() - t0, failures)


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1))
