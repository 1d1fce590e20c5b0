"""Pipeline services: package the library, report status. Calls the composer and the store."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from reviewer import store
from reviewer.config import PipelineConfig
from reviewer.pipeline import PackageRun, extract_digest, package_items
from reviewer.settings import Settings

log = logging.getLogger(__name__)


def package_library(*, engine, config: PipelineConfig, settings: Settings, kind: str | None = None,
                    out_dir: Path | None = None) -> PackageRun:
    """Package every extracted item (of ``kind``); transforms are fitted on the train split."""
    edigest = extract_digest(config)
    with store.session_scope(engine) as s:
        done = store.done_item_ids(session=s, stage="extract", config_digest=edigest)
        items = [i for i in store.items_by_id(session=s, item_ids=sorted(done)).values() if kind is None or i.kind == kind]
        pairs = [(i.key, i.split) for i in sorted(items, key=lambda i: i.key)]
        ids = {i.key: i.id for i in items}
        run = store.start_run(session=s, stage="package", config_digest=config.digest(), config=config.to_dict())
        run_id = run.id
    t0 = time.perf_counter()
    status = "failed"
    try:
        res = package_items(pairs, config=config, settings=settings, out_dir=out_dir)
        status = "done"
    finally:
        with store.session_scope(engine) as s:
            if status == "done":
                store.add_artifact(session=s, kind="transforms", path=res.artifacts_dir, digest=res.artifact_digest,
                                   config_digest=config.digest(), meta={"n_items": len(res.items)})
                now = dt.datetime.now(dt.timezone.utc)
                for p in res.items:
                    store.add_package_record(
                        session=s, item_id=ids[p.key], run_id=run_id, path=p.path, config_digest=config.digest(),
                        artifact_digest=res.artifact_digest, feature_dim=p.feature_dim, num_segments=p.num_segments,
                        num_selected=p.num_selected,
                    )
                    store.record_processing(session=s, run_id=run_id, item_id=ids[p.key], stage="package",
                                            config_digest=config.digest(), status="ok", started_at=now, finished_at=now)
                    store.set_item_status(session=s, item_id=ids[p.key], status="packaged")
            store.finish_run(session=s, run_id=run_id, status=status,
                             n_ok=len(res.items) if status == "done" else 0,
                             n_failed=len(res.failed) if status == "done" else len(pairs), n_skipped=0)
    log.info("packaged %d items in %.1f s", len(res.items), time.perf_counter() - t0)
    return res


def pipeline_status(*, engine) -> dict[str, Any]:
    """Counts per kind / series / status, the recent runs and the latest failures."""
    with store.session_scope(engine) as s:
        summary = store.series_summary(session=s)
        runs = [
            {"id": r.id, "stage": r.stage, "status": r.status, "n_ok": r.n_ok, "n_failed": r.n_failed,
             "n_skipped": r.n_skipped, "started_at": r.started_at, "finished_at": r.finished_at}
            for r in store.list_runs(session=s, limit=10)
        ]
        failures = []
        for rec in store.failures(session=s):
            item = store.get_item(session=s, item_id=rec.item_id)
            failures.append({"key": item.key, "stage": rec.stage, "error": rec.error, "at": rec.finished_at})
        counts = store.status_counts(session=s)
    return {"summary": summary, "runs": runs, "failures": failures, "counts": counts}
