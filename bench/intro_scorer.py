"""The trained intro scorer for the benchmarks: trained the way the app trains it, and the segment tables it reads.

``reviewer bootstrap`` (``scripts/run.sh``) trains the shipped intro scorer on
the seed-0 demo library: ``build_demo_library`` (seed 0, default size: 4 series
× 4 episodes, the last series held out) → ``run_extract_batch`` →
``build_training_library`` (seed 10, 16 series × 4 episodes, no songs) →
``train_task("intro", arch="crnn", activate=True, extra_sources=[that library])``. :func:`trained_scorer` runs
exactly those functions in a scratch store under ``work`` (its own database
and data dir), so no benchmark seed is ever trained on, and reuses the active
model version on reruns. :func:`segment_tables` extracts (and caches) the
segment tables of a library's episodes, the scorer's input.

Seeds 3, 5, 11, 13, 15, 17, 19, 31 and 100-119 tune the intro detector, 7 and
the other seeds from 20 to 99 are held out: the scorer sees seeds 0 and 10 only.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from pathlib import Path

from reviewer import store
from reviewer.batch import ExtractTask, extract_task, run_extract_batch
from reviewer.config import PipelineConfig
from reviewer.errors import ReviewerError
from reviewer.models.registry import load_active_scorer
from reviewer.parallel import neutral_main, spawn_executor
from reviewer.pipeline import load_table, table_path
from reviewer.services.library import SCORER_LIBRARY_SEED, build_demo_library, build_training_library
from reviewer.services.training import train_task
from reviewer.settings import get_settings

log = logging.getLogger(__name__)

TRAIN_SEED = 0  # the app's demo library (``reviewer demo``): never a tuning or held-out seed


def _settings(work: Path):
    work = Path(work).resolve()
    return get_settings().with_(data_dir=work / "data", db_url=f"sqlite:///{work / 'reviewer.db'}", workers=2)


def trained_scorer(work: str | Path, *, workers: int = 2, scorer_series: int = 16, log_fn=print):
    """The intro scorer trained like ``reviewer bootstrap`` in ``work`` (cached): the seed-0 demo library's
    training series and ``scorer_series`` series of the training library (``bootstrap --scorer-series``).

    Returns
    -------
    (scorer, info) : (SegmentScorer, dict)
        ``info``: ``{"version", "trained": bool, "build_s", "extract_s", "train_s" (wall), "train_cpu_s",
        "n_train", "n_val", "n_test", "test_metrics"}``.
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    settings = _settings(work)
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    scorer = load_active_scorer("intro", engine=engine, settings=settings)
    if scorer is not None:
        return scorer, {"version": scorer.model_version, "trained": False}
    t0 = time.perf_counter()
    log_fn(f"training the intro scorer like `reviewer bootstrap`: seed-{TRAIN_SEED} demo library"
           + (f" + {scorer_series} series of seed {SCORER_LIBRARY_SEED}" if scorer_series else "") + f" in {work} ...")
    build_demo_library(engine=engine, settings=settings, seed=TRAIN_SEED, out_dir=work / "demo", log_fn=log.info)
    t1 = time.perf_counter()
    with store.session_scope(engine) as s:
        ids = [it.id for it in store.iter_items(session=s, kind="episode")]  # the intro task reads episodes only
    run_extract_batch(engine=engine, config=PipelineConfig(), settings=settings, item_ids=ids, workers=workers)
    t2 = time.perf_counter()
    extra = [build_training_library(settings=settings, n_series=scorer_series, log_fn=log_fn)] if scorer_series else []
    t2b = time.perf_counter()
    summ = train_task("intro", engine=engine, settings=settings, arch="crnn", activate=True, extra_sources=extra)
    t3 = time.perf_counter()
    scorer = load_active_scorer("intro", engine=engine, settings=settings)
    info = {"version": summ.version, "trained": True, "build_s": t1 - t0, "extract_s": t2 - t1,
            "training_library_s": t2b - t2, "train_s": t3 - t2b,
            "train_cpu_s": summ.train_seconds, "split": summ.split, "test_metrics": summ.test_metrics}
    log_fn(f"  {summ.version}: demo build {t1 - t0:.0f} s, episode features {t2 - t1:.0f} s, training library "
           f"{t2b - t2:.0f} s, training {t3 - t2b:.0f} s ({summ.epochs_run} epochs, best {summ.best_epoch}); split {summ.split}")
    return scorer, info


def segment_tables(root: str | Path, keys, *, work: str | Path, workers: int = 2) -> tuple[dict, float]:
    """Segment tables of the episodes ``keys`` (paths relative to ``root``), extracted once into ``work``.

    Returns
    -------
    (tables, seconds) : (dict, float)
        ``{key: SegmentTable}`` and the wall seconds spent extracting (0 when all were cached).
    """
    root = Path(root)
    settings = _settings(work)
    config = PipelineConfig()
    cdict = config.to_dict()
    todo = [k for k in keys if not table_path(settings, k, config).is_file()]
    t0 = time.perf_counter()
    if todo:
        tasks = [ExtractTask(0, k, str(root / k)) for k in todo]
        if workers <= 1:
            results = [extract_task(t, cdict, settings) for t in tasks]
        else:
            with spawn_executor(min(workers, len(tasks))) as pool:
                with neutral_main():
                    futs = [pool.submit(extract_task, t, cdict, settings) for t in tasks]
                results = [f.result() for f in cf.as_completed(futs)]
        bad = [r for r in results if not r.ok]
        if bad:
            raise ReviewerError(f"feature extraction failed for {len(bad)} episode(s), e.g. {bad[0].key}: {bad[0].error}")
    seconds = time.perf_counter() - t0
    return {k: load_table(table_path(settings, k, config)) for k in keys}, seconds
