"""Benchmark the Review page's server side for a 1-hour item after the pipeline has run.

Usage::

    python bench/app.py                    # 60-minute generated episode, rms + pitch extractors
    python bench/app.py --minutes 5        # quicker
    python bench/app.py --all-extractors   # the default extractor set (slower pipeline, same page cost)

Steps: generate a programme (bench/extract.py's generator), ingest it into a
temporary database, run the extract stage (segment table), store a prediction
with per-segment scores, then time :func:`reviewer.services.review.review_data`
on the first open (the extract stage already built the waveform peaks; the
page loads them from disk) and warm (peaks in memory), and measure the JSON size of the figures the page sends: the
waveform overview and the segment timeline. Targets: warm ≤ 1 s, waveform
payload ≤ 300 KB.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

log = logging.getLogger("bench.app")

TARGET_SECONDS = 1.0
TARGET_BYTES = 300_000


def _prepare(home: Path, seconds: float, extractors: tuple[str, ...] | None):
    from extract import generate  # bench/extract.py

    from reviewer import store
    from reviewer.config import load_config
    from reviewer.pipeline import extract_item
    from reviewer.settings import Settings

    (home / "db").mkdir(parents=True)
    cfg_path = None
    if extractors:
        cfg_path = home / "pipeline.toml"
        cfg_path.write_text("[features]\nextractors = [" + ", ".join(f'"{e}"' for e in extractors) + "]\n")
    settings = Settings(home=home, data_dir=home / "data", db_url=f"sqlite:///{home / 'db' / 'bench.db'}",
                        config_path=cfg_path, workers=1)
    (home / "media").mkdir()
    media = generate(home / "media" / "long_episode.wav", seconds=seconds)
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    t0 = time.perf_counter()
    res = extract_item(media, key="long_episode", config=load_config(cfg_path), settings=settings)
    pipeline_s = time.perf_counter() - t0
    n = res.num_segments
    with store.session_scope(engine) as s:
        item = store.upsert_item(session=s, key="long_episode", path=str(media), kind="episode", series="Bench",
                                 season=1, episode=1, duration=res.duration, content_hash=res.content_hash)
        store.set_item_status(session=s, item_id=item.id, status="extracted")
        store.add_label(session=s, item_id=item.id, kind="intro", start=30.0, end=75.0, source="truth")
        times = [[i * 1.5, i * 1.5 + 3.0] for i in range(n)]
        store.add_prediction(session=s, item_id=item.id, model_version_id=None, task="intro", start=31.0, end=76.5,
                             confidence=0.81, payload={"method": "bench", "model_version": "bench-1",
                                                       "segment_times": times,
                                                       "segment_scores": [float(i % 7) / 7 for i in range(n)]})
        item_id = item.id
    return engine, settings, item_id, pipeline_s, res.timings.get("peaks", float("nan")), n


def _figures(data, engine, settings):
    from reviewer.services import review
    from reviewer.ui.review_widgets import regions  # noqa: F401 - imports streamlit, as the page does
    from reviewer.ui.waveform import Region, timeline_figure, waveform_figure

    ov = data.overview
    view = (0.0, data.item.duration)
    marks = [Region(p.start, p.end, "prediction", "p") for p in data.predictions.values() if p.has_region]
    wave = waveform_figure(ov.times, ov.mins, ov.maxs, view=view, regions=marks)
    tl = data.timeline
    pred = data.prediction_for("intro")
    timeline = timeline_figure(tl.starts, tl.ends, tl.importance, tl.chosen, tl.reasons, hop=tl.hop, view=view,
                               parts=dict(tl.parts), scores=(pred.segment_times, pred.segment_scores))
    zoom = review.waveform_window(data.item.id, 600.0, 660.0, engine=engine, settings=settings)
    zfig = waveform_figure(zoom.times, zoom.mins, zoom.maxs, view=(600.0, 660.0))
    return len(wave.to_json()), len(timeline.to_json()), len(zfig.to_json()), len(ov), len(zoom)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--all-extractors", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from reviewer.services import review

    with tempfile.TemporaryDirectory(prefix="bench_app_") as tmp:
        engine, settings, item_id, pipeline_s, peaks_s, n = _prepare(
            Path(tmp), args.minutes * 60.0, None if args.all_extractors else ("rms", "pitch"))
        log.info("pipeline (extract stage) for %.0f min: %.1f s, %d segments (%.1f s of it building the waveform peaks)",
                 args.minutes, pipeline_s, n, peaks_s)
        t0 = time.perf_counter()
        data = review.review_data(item_id, engine=engine, settings=settings)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            data = review.review_data(item_id, engine=engine, settings=settings)
            warm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        clip = review.clip_for(item_id, 31.0, 76.5, engine=engine)
        clip_s = time.perf_counter() - t0
        wave_b, tl_b, zoom_b, n_over, n_zoom = _figures(data, engine, settings)
        peaks_file = next((Path(tmp) / "data" / "cache" / "peaks").glob("*.npz"))
        warm_med = statistics.median(warm)
        log.info("review_data first open (peaks from the extract stage's cache): %.2f s", cold)
        log.info("review_data warm (median of %d): %.3f s   target <= %.1f s  %s", len(warm), warm_med,
                 TARGET_SECONDS, "OK" if warm_med <= TARGET_SECONDS else "MISSED")
        log.info("waveform overview figure: %d points, %.1f KB   target <= %d KB  %s", n_over, wave_b / 1e3,
                 TARGET_BYTES // 1000, "OK" if wave_b <= TARGET_BYTES else "MISSED")
        log.info("segment timeline figure: %d segments, %.1f KB; waveform + timeline: %.1f KB", n, tl_b / 1e3,
                 (wave_b + tl_b) / 1e3)
        log.info("zoomed window (60 s): %d points, %.1f KB", n_zoom, zoom_b / 1e3)
        log.info("peaks cache on disk: %.1f KB; intro clip with 2 s pre-roll: %.0f KB in %.3f s",
                 peaks_file.stat().st_size / 1e3, len(clip.data) / 1e3, clip_s)
        ok = warm_med <= TARGET_SECONDS and wave_b <= TARGET_BYTES
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
