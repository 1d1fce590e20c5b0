"""The one composer: media file → tracks → segments → segment table → package.

It reads like the flow in DESIGN.md. The CLI, the services, the batch runner and
the tests all call these functions; nothing here touches the database.

Two stages, because the transforms are fitted on the train split of *all* items:

* :func:`extract_item` — decode, frame features (cached), segments, per-segment
  aggregates; the segment table is saved under ``cache/tables/<digest>/``.
* :func:`package_items` — fit PCA + scaler on the train items' tables (saved as
  artifacts), then per item: transform, select ≤ max_seq_len segments with
  reasons, write the npy + meta.json package (or tar shards).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from reviewer.aggregate import SegmentTable, aggregate
from reviewer.config import PipelineConfig, digest
from reviewer.errors import PackageError
from reviewer.features.cache import FeatureCache
from reviewer.features.run import extract_tracks
from reviewer.package import ShardWriter, build_package, write_package
from reviewer.segments import Segments, make_segments
from reviewer.selection import Selection, select_segments
from reviewer.settings import Settings
from reviewer.transforms import FittedTransforms, apply_transforms, fit_transforms
from reviewer.waveform import load_or_build_peaks

log = logging.getLogger(__name__)


def extract_digest(config: PipelineConfig) -> str:
    """Digest of what the extract stage depends on (audio, features, segments)."""
    return digest({"audio": config.audio, "features": config.features, "segments": config.segments})


# --------------------------------------------------------------------------- segment tables on disk


def table_path(settings: Settings, key: str, config: PipelineConfig) -> Path:
    return settings.cache_dir / "tables" / extract_digest(config) / f"{key}.npz"


def save_table(table: SegmentTable, path: Path) -> Path:
    """Write a segment table atomically as one ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "columns": list(table.columns),
        "groups": {g: list(c) for g, c in table.groups.items()},
        "missing_reasons": dict(table.missing_reasons),
        "duration": table.segments.duration,
        "segment_len": table.segments.segment_len,
        "hop": table.segments.hop,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(
            f,
            values=table.values,
            missing=table.missing,
            starts=table.segments.starts,
            ends=table.segments.ends,
            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        )
    os.replace(tmp, path)
    return path


def load_table(path: Path) -> SegmentTable:
    """Read a segment table written by :func:`save_table`."""
    try:
        with np.load(path) as z:
            header = json.loads(bytes(z["header"]).decode())
            segs = Segments(
                starts=z["starts"], ends=z["ends"], duration=header["duration"],
                segment_len=header["segment_len"], hop=header["hop"],
            )
            return SegmentTable(
                segments=segs,
                columns=tuple(header["columns"]),
                values=z["values"],
                groups={g: tuple(c) for g, c in header["groups"].items()},
                missing=z["missing"],
                missing_reasons=header["missing_reasons"],
            )
    except (OSError, KeyError, ValueError) as exc:
        raise PackageError(f"segment table {str(path)!r} is unreadable ({exc}); re-run `reviewer extract`") from exc


# --------------------------------------------------------------------------- stage 1: extract


@dataclass(frozen=True)
class ExtractedItem:
    """What the extract stage produced for one item."""

    key: str
    table_path: str
    duration: float
    source_duration: float
    content_hash: str
    num_segments: int
    timings: Mapping[str, float]
    missing: Mapping[str, str]
    wall_seconds: float


def extract_item(path: str | Path, *, key: str, config: PipelineConfig, settings: Settings, use_cache: bool = True) -> ExtractedItem:
    """media file → frame tracks → segments → segment table (saved to disk), plus the waveform peaks.

    Raises
    ------
    InvalidMediaError
        when the file cannot be decoded (the batch runner records it and goes on).
    """
    t0 = time.perf_counter()
    cache = FeatureCache(settings.cache_dir / "frames") if use_cache else None
    result = extract_tracks(
        Path(path), audio_config=config.audio, features_config=config.features, settings=settings, cache=cache
    )
    t1 = time.perf_counter()
    segments = make_segments(result.duration, config.segments.segment_len, config.segments.hop)
    table = aggregate(result.tracks, segments, asr_confidence_threshold=config.features.asr_confidence_threshold)
    out = save_table(table, table_path(settings, key, config))
    timings = dict(result.timings)
    timings["aggregate"] = time.perf_counter() - t1
    # The Review page draws the waveform from these; building them here keeps a
    # long item's first open from streaming the whole file again.
    t2 = time.perf_counter()
    load_or_build_peaks(path, cache_dir=settings.cache_dir, content_hash=result.content_hash)
    timings["peaks"] = time.perf_counter() - t2
    missing = {g: r for g, r in table.missing_reasons.items() if r}
    return ExtractedItem(
        key=key,
        table_path=str(out),
        duration=float(result.duration),
        source_duration=float(result.source_duration),
        content_hash=result.content_hash,
        num_segments=len(segments),
        timings=timings,
        missing=missing,
        wall_seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- stage 2: package


@dataclass(frozen=True)
class PackagedItem:
    key: str
    path: str
    num_segments: int
    num_selected: int
    feature_dim: int


@dataclass(frozen=True)
class PackageRun:
    """Result of :func:`package_items`: the fitted transforms and one record per item."""

    artifacts_dir: str
    artifact_digest: str
    config_digest: str
    items: Sequence[PackagedItem]
    failed: Mapping[str, str] = field(default_factory=dict)


def fit_item_transforms(tables: Sequence[SegmentTable], *, config: PipelineConfig, settings: Settings) -> tuple[FittedTransforms, Path]:
    """Fit PCA + scaler on (train) tables and save them as artifacts."""
    fitted = fit_transforms(list(tables), config.transforms)
    out = settings.artifacts_dir / "transforms" / config.digest()
    fitted.save(out)
    return fitted, out


def package_items(
    items: Iterable[tuple[str, str | None]],
    *,
    config: PipelineConfig,
    settings: Settings,
    out_dir: Path | None = None,
    rng: np.random.Generator | None = None,
) -> PackageRun:
    """Fit transforms on the train split, then write one package per item.

    Parameters
    ----------
    items : iterable of (key, split)
        Extracted items. Transforms are fitted on ``split == "train"`` items
        (all items when none is marked train, with a warning).
    rng : np.random.Generator or None
        Only for training-time stochastic selection; None is deterministic.
    """
    items = list(items)
    tables: dict[str, SegmentTable] = {}
    failed: dict[str, str] = {}
    for key, _split in items:
        try:
            tables[key] = load_table(table_path(settings, key, config))
        except PackageError as exc:
            failed[key] = str(exc)
    train = [tables[k] for k, s in items if s == "train" and k in tables]
    if not train:
        log.warning("no item is in the train split: fitting transforms on all %d items", len(tables))
        train = list(tables.values())
    if not train:
        raise PackageError("nothing to package: no extracted item has a readable segment table; run `reviewer extract` first")
    fitted, art_dir = fit_item_transforms(train, config=config, settings=settings)
    out_dir = Path(out_dir) if out_dir is not None else settings.packages_dir / config.digest()
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = ShardWriter(out_dir, shard_size=config.package.shard_size) if config.package.storage_format == "webdataset" else None
    done: list[PackagedItem] = []
    try:
        for key, _split in items:
            if key not in tables:
                continue
            pkg = package_one(key, tables[key], fitted=fitted, config=config, rng=rng)
            if shards is not None:
                shards.write(pkg)
                where = str(out_dir)
            else:
                write_package(pkg, out_dir)
                where = str(out_dir)
            done.append(PackagedItem(key, where, len(tables[key]), int(pkg.mask.sum()), int(pkg.features.shape[1])))
    finally:
        if shards is not None:
            shards.close()
    return PackageRun(str(art_dir), fitted.digest, config.digest(), done, failed)


def package_one(key: str, table: SegmentTable, *, fitted: FittedTransforms, config: PipelineConfig, rng: np.random.Generator | None = None):
    """segment table → transformed features → selection → :class:`~reviewer.package.Package`."""
    features, columns = apply_transforms(table, fitted)
    selection: Selection = select_segments(table, config.selection, rng=rng)
    return build_package(
        key, table, selection, features, columns,
        config=config, duration=table.segments.duration, artifact_digests=fitted.artifact_digests,
    )
