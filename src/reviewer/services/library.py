"""Library services: ingest media, import ground truth, build the demo library, summaries."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from reviewer import store
from reviewer.errors import ValidationError
from reviewer.ingest import read_intro_labels, scan_media
from reviewer.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSummary:
    added: int
    updated: int
    kinds: Mapping[str, int]
    keys: tuple[str, ...]


def ingest_paths(paths: Iterable[str | Path], *, engine, kind: str = "auto", root: str | Path | None = None,
                 split: str | None = None) -> IngestSummary:
    """Register media files (files or folders) as items; idempotent by key."""
    cands = scan_media(paths, kind=kind, root=root)
    added = updated = 0
    kinds: dict[str, int] = {}
    with store.session_scope(engine) as s:
        existing = store.items_by_key(session=s, keys=[c.key for c in cands])
        for c in cands:
            store.upsert_item(
                session=s, key=c.key, path=str(c.path), kind=c.kind, series=c.series, season=c.season,
                episode=c.episode, artist=c.artist, title=c.title, split=split,
                extra={"rel_path": c.rel_path},
            )
            if c.key in existing:
                updated += 1
            else:
                added += 1
            kinds[c.kind] = kinds.get(c.kind, 0) + 1
    return IngestSummary(added, updated, kinds, tuple(c.key for c in cands))


def _resolve(refs_to_items: Mapping[str, Any], ref: str):
    """Find the item a label file's id refers to: by key, relative path, or file stem."""
    if ref in refs_to_items:
        return refs_to_items[ref]
    stem = Path(ref).stem
    return refs_to_items.get(stem)


def _ref_index(session) -> dict[str, Any]:
    from reviewer.ingest import make_key

    index: dict[str, Any] = {}
    for item in store.iter_items(session=session):
        index[item.key] = item
        rel = (item.extra or {}).get("rel_path")
        if rel:
            index[rel] = item
            index[make_key(rel)] = item
        index.setdefault(Path(item.path).stem, item)
    return index


def import_intro_labels(path: str | Path, *, engine, split: str | None = None, source: str = "truth") -> dict[str, int]:
    """Import a seed-001 ``train_labels.json`` / ``test_labels.json`` as intro labels.

    Entries with null start/end mean "no intro" and are stored as the item's
    ``extra["has_intro"] = False``. Unknown ids are counted, not fatal.
    """
    entries = read_intro_labels(path)
    counts = {"labels": 0, "no_intro": 0, "unknown": 0}
    with store.session_scope(engine) as s:
        index = _ref_index(s)
        for e in entries:
            item = _resolve(index, e.ref)
            if item is None:
                counts["unknown"] += 1
                continue
            if split is not None:
                store.assign_splits(session=s, splits={item.id: split})
            if e.start is None:
                store.update_item_extra(session=s, item_id=item.id, extra={"has_intro": False})
                counts["no_intro"] += 1
                continue
            store.replace_truth_labels(session=s, item_id=item.id, kind="intro", intervals=[(e.start, e.end)], source=source)
            store.update_item_extra(session=s, item_id=item.id, extra={"has_intro": True})
            counts["labels"] += 1
    if counts["unknown"]:
        log.warning("%s: %d label(s) name no ingested item", path, counts["unknown"])
    return counts


def import_song_truth(path: str | Path, *, engine, source: str = "truth") -> dict[str, int]:
    """Import the demo ``songs_truth.json``: chorus / pre-chorus sections and the hook as labels."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"song truth {str(p)!r} is not readable JSON: {exc}") from exc
    counts = {"songs": 0, "labels": 0, "unknown": 0}
    with store.session_scope(engine) as s:
        index = _ref_index(s)
        for ref, truth in data.items():
            item = _resolve(index, ref)
            if item is None:
                counts["unknown"] += 1
                continue
            split = truth.get("split")
            if split:
                store.assign_splits(session=s, splits={item.id: split})
            if truth.get("genre") or truth.get("artist"):
                store.upsert_item(session=s, key=item.key, path=item.path, kind=item.kind,
                                  artist=truth.get("artist") or item.artist, title=truth.get("title") or item.title,
                                  genre=truth.get("genre"))
            by_kind: dict[str, list[tuple[float, float]]] = {}
            for sec in truth.get("sections", []):
                lab = str(sec.get("label", "")).replace("_", "-")
                kind = {"chorus": "chorus", "pre-chorus": "prechorus", "prechorus": "prechorus"}.get(lab)
                if kind:
                    by_kind.setdefault(kind, []).append((float(sec["start"]), float(sec["end"])))
            hook = truth.get("hook")
            if hook and hook.get("start") is not None:
                by_kind["hook"] = [(float(hook["start"]), float(hook["end"]))]
            for kind, intervals in by_kind.items():
                store.replace_truth_labels(session=s, item_id=item.id, kind=kind, intervals=intervals, source=source)
                counts["labels"] += len(intervals)
            store.update_item_extra(session=s, item_id=item.id, extra={"sections": truth.get("sections", [])})
            counts["songs"] += 1
    return counts


def build_demo_library(
    *, engine, settings: Settings, quick: bool = False, seed: int = 0, out_dir: Path | None = None,
    log_fn: Callable[[str], None] = log.info,
) -> dict[str, Any]:
    """Generate the demo library (if needed), ingest it and import its ground truth."""
    from reviewer.demo import build_demo

    out = Path(out_dir) if out_dir is not None else settings.demo_dir
    log_fn(f"building the demo library in {out} (quick={quick}) ...")
    manifest = build_demo(out, seed=seed, quick=quick, workers=settings.workers)
    media = [d for d in (out / "series", out / "songs") if d.is_dir()]  # not assets/ (themes, stings, ...)
    summary = ingest_paths(media or [out], engine=engine, root=out)
    result: dict[str, Any] = {"ingest": summary.__dict__, "out_dir": str(out)}
    for name, split in (("train_labels.json", "train"), ("test_labels.json", "test")):
        f = out / name
        if f.exists():
            result[name] = import_intro_labels(f, engine=engine, split=split)
    f = out / "songs_truth.json"
    if f.exists():
        result["songs_truth.json"] = import_song_truth(f, engine=engine)
    result["manifest"] = getattr(manifest, "__dict__", manifest) if not isinstance(manifest, dict) else manifest
    return result


#: seed of the generated series the default intro scorer trains on besides the demo's (``reviewer bootstrap``);
#: never a detector tuning or held-out seed (docs/experiments.md lists them)
SCORER_LIBRARY_SEED = 10


def training_library_settings(settings: Settings) -> Settings:
    """The home of the extra intro-training library: ``<data_dir>/scorer_library`` with its own db and data."""
    home = settings.data_dir / "scorer_library"
    return settings.with_(home=home, data_dir=home / "data", db_url=f"sqlite:///{(home / 'db' / 'reviewer.db').as_posix()}")


def build_training_library(
    *, settings: Settings, n_series: int = 16, episodes_per_series: int = 4, seed: int = SCORER_LIBRARY_SEED,
    quick: bool = False, log_fn: Callable[[str], None] = log.info,
) -> Settings:
    """Generate, ingest, label and extract a library of series used only to train the intro scorer.

    The demo library has four series; a scorer trained on its two training
    series learns those themes, not what an intro sounds like, and used alone
    (an episode without siblings) finds about half of the intros of unseen
    series (docs/experiments.md, "intro scorer: more training series"). This
    library adds ``n_series`` generated series (``seed``; no songs) in a home of
    its own, :func:`training_library_settings`; pass the returned settings to
    :func:`~reviewer.services.training.train_task` as an ``extra_sources`` entry.
    Re-running reuses what is built and extracted. ``quick``: 2 series × 3 short
    episodes (tests).

    Raises
    ------
    ValidationError
        when ``n_series`` < 2 or ``episodes_per_series`` < 2.
    """
    from reviewer.batch import run_extract_batch
    from reviewer.config import PipelineConfig
    from reviewer.demo import build_demo

    if n_series < 2 or episodes_per_series < 2:
        raise ValidationError(f"a training library needs >= 2 series of >= 2 episodes, got {n_series} × {episodes_per_series}")
    lib = training_library_settings(settings)
    (lib.home / "db").mkdir(parents=True, exist_ok=True)
    engine = store.make_engine(lib.db_url)
    store.init_db(engine)
    out = lib.data_dir / "series_library"
    log_fn(f"building the intro training library ({n_series} series × {episodes_per_series}, seed {seed}) in {out} ...")
    build_demo(out, seed=seed, n_series=n_series, episodes_per_series=episodes_per_series, n_songs=0,
               workers=settings.workers, quick=quick)
    ingest_paths([out / "series"], engine=engine, root=out)
    for name, split in (("train_labels.json", "train"), ("test_labels.json", "test")):
        import_intro_labels(out / name, engine=engine, split=split)
    summ = run_extract_batch(engine=engine, config=PipelineConfig(), settings=lib, workers=settings.workers)
    if summ.failed:
        from reviewer.errors import ExtractionError

        raise ExtractionError(f"feature extraction failed for {summ.failed} episode(s) of the training library")
    log_fn(f"  training library: {summ.ok} extracted, {summ.skipped} already done ({summ.wall_seconds:.0f} s)")
    return lib


def library_page(
    *, engine, kind: str | None = None, series: str | None = None, status: str | None = None,
    search: str | None = None, page: int = 1, page_size: int = 50,
) -> dict[str, Any]:
    """One page of the library table plus the facets the filters offer.

    Returns ``{"rows": [dict], "total": int, "page": int, "pages": int, "facets": {...}, "counts": {...}}``.
    """
    if page_size < 1 or page_size > 1000:
        raise ValidationError(f"page_size must be in 1..1000, got {page_size!r}")
    page = max(1, int(page))
    with store.session_scope(engine) as s:
        rows, total = store.list_items(session=s, kind=kind or None, series=series or None, status=status or None,
                                       search=search or None, offset=(page - 1) * page_size, limit=page_size)
        out_rows = [
            {"id": r.id, "key": r.key, "kind": r.kind, "series": r.series or r.artist, "season": r.season,
             "episode": r.episode, "title": r.title, "genre": r.genre,
             "duration_s": round(r.duration, 1) if r.duration else None, "status": r.status, "split": r.split}
            for r in rows
        ]
        summary = store.series_summary(session=s)
        counts = store.status_counts(session=s)
    facets = {
        "kind": sorted({r["kind"] for r in summary}),
        "series": sorted({r["series"] for r in summary if r.get("series")}),
        "status": sorted({k for r in summary for k in r["by_status"]}),
    }
    pages = max(1, -(-total // page_size))
    return {"rows": out_rows, "total": total, "page": min(page, pages), "pages": pages, "facets": facets, "counts": counts}


def library_overview(*, engine) -> dict[str, Any]:
    """Label progress per series / artist and the model versions with their held-out metrics."""
    with store.session_scope(engine) as s:
        progress = store.label_progress(session=s)
        versions = [
            {"task": v.task, "name": v.name, "version": v.version, "active": v.is_active,
             "created": v.created_at, **{k: round(float(x), 3) for k, x in (v.metrics or {}).items()
                                         if isinstance(x, (int, float))}}
            for v in store.list_model_versions(session=s)
        ]
    return {"progress": progress, "model_versions": versions}
