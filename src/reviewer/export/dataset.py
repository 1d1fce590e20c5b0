"""Write a labelled dataset to a new folder, atomically, with a checksummed manifest.

:func:`write_dataset` builds everything in a hidden temporary folder next to
the destination and renames it into place at the end, so a reader never sees
half an export. It never overwrites: the folder name is new (a UTC timestamp
by default) and an existing name is refused.

Layout of ``<root>/<name>/``::

    labels.csv  labels.jsonl  labels.parquet  items.jsonl
    train_labels.json  test_labels.json  (val_labels.json)     seed 001, episodes
    label_studio.json  label_studio_config.xml
    audacity/<key>.txt                                         one per item
    jams/<key>.jams                                            songs
    packages/<key>_features.npy _mask.npy _meta.json           seed 000, when packaged
    clips/<key>__<kind>_<start>-<end>.wav                      optional
    manifest.json                                              counts, filters, digests, SHA-256 of every file
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf

from reviewer import store
from reviewer.errors import PackageError, ValidationError
from reviewer.export.formats import label_table, write_audacity, write_intro_json, write_jams, write_tables
from reviewer.export.labelstudio import label_studio_config, to_label_studio
from reviewer.export.select import ExportFilters, SplitPlan, assign_split, collect

__all__ = ["FORMATS", "MANIFEST", "ExportResult", "file_sha256", "verify_manifest", "write_dataset"]

logger = logging.getLogger(__name__)

#: Optional parts of an export (``formats`` argument); tables and the manifest are always written.
FORMATS = ("seed001", "label_studio", "audacity", "jams", "packages", "clips")
MANIFEST = "manifest.json"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and what it holds."""

    path: Path
    name: str
    counts: dict[str, Any]
    files: int


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _new_name(name: str | None) -> str:
    if name is None:
        return "dataset-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    if not name or set(name) - _NAME_OK or name.startswith("."):
        raise ValidationError(f"export name must be [A-Za-z0-9._-] and not start with '.'; got {name!r}")
    return name


def _copy_packages(session, items, out_dir: Path) -> dict[str, Any]:
    folder = out_dir / "packages"
    copied, missing, digests = 0, [], set()
    for it in items:
        rec = store.latest_package(session=session, item_id=it.item_id)
        src = None if rec is None else Path(rec.path)
        files = [src / f"{it.key}_{s}" for s in ("features.npy", "mask.npy", "meta.json")] if src else []
        if not files or not all(f.is_file() for f in files):
            missing.append(it.key)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy2(f, folder / f.name)
        copied += 1
        digests.add((rec.config_digest, rec.artifact_digest))
    if missing:
        logger.warning("%d exported item(s) have no npy+json package (e.g. %s)", len(missing), missing[0])
    return {"copied": copied, "missing": missing,
            "digests": [{"config_digest": c, "artifact_digest": a} for c, a in sorted(digests, key=str)]}


def _cut_clips(items, labels, out_dir: Path, sr: int) -> dict[str, Any]:
    from reviewer.services.audio_clips import read_window

    by_id = {it.item_id: it for it in items}
    folder = out_dir / "clips"
    written, failed = 0, []
    for lb in labels:
        it = by_id[lb.item_id]
        try:
            y = read_window(it.path, lb.start, lb.end, sr=sr)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, the export goes on
            failed.append(f"{it.key}: {exc}")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{it.key}__{lb.kind}_{lb.start:.3f}-{lb.end:.3f}_{lb.label_id}.wav", y, sr)
        written += 1
    if failed:
        logger.warning("%d clip(s) could not be cut, e.g. %s", len(failed), failed[0])
    return {"written": written, "failed": failed[:20], "sample_rate": sr}


def write_dataset(
    *,
    session,
    root: str | Path,
    filters: ExportFilters = ExportFilters(),
    split: SplitPlan = SplitPlan(),
    formats: Sequence[str] = ("seed001", "label_studio", "audacity", "jams", "packages"),
    name: str | None = None,
    clip_sr: int = 22050,
    digests: dict[str, Any] | None = None,
) -> ExportResult:
    """Export the labels that pass ``filters`` into ``<root>/<name>``.

    Parameters
    ----------
    formats : sequence of str
        Optional parts from :data:`FORMATS` (``"clips"`` cuts one WAV per label).
    name : str, optional
        Folder name (default ``dataset-<UTC timestamp>``); must not exist.
    digests : dict, optional
        Config / model digests to record in the manifest.

    Raises
    ------
    ValidationError
        An existing name, an unknown format, or nothing to export.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValidationError(f"unknown export format(s) {unknown}; choose from {list(FORMATS)}")
    root = Path(root)
    name = _new_name(name)
    final = root / name
    if final.exists():
        raise ValidationError(f"export {str(final)!r} exists already; exports are never overwritten")
    items, labels, preds = collect(session, filters)
    if not items:
        raise ValidationError(f"nothing to export: no item has a label passing the filters {filters.to_dict()}")
    items = assign_split(items, split)
    split_of = {it.item_id: it.split for it in items}
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=root))
    try:
        table = label_table(items, labels)
        write_tables(table, tmp)
        with (tmp / "items.jsonl").open("w", encoding="utf-8") as f:
            for it in items:
                f.write(json.dumps(dataclasses.asdict(it), ensure_ascii=False) + "\n")
        extra: dict[str, Any] = {}
        if "seed001" in formats:
            write_intro_json(items, labels, tmp)
        if "label_studio" in formats:
            tasks = to_label_studio(items, labels, preds)
            (tmp / "label_studio.json").write_text(json.dumps(tasks, indent=1, ensure_ascii=False), encoding="utf-8")
            (tmp / "label_studio_config.xml").write_text(label_studio_config(), encoding="utf-8")
        if "audacity" in formats:
            write_audacity(items, labels, tmp)
        if "jams" in formats:
            write_jams(items, labels, tmp)
        if "packages" in formats:
            extra["packages"] = _copy_packages(session, items, tmp)
        if "clips" in formats:
            extra["clips"] = _cut_clips(items, labels, tmp, clip_sr)
        groups: dict[str, set[str]] = {}
        for it in items:
            groups.setdefault(it.split or "all", set()).add(it.group)
        manifest = {
            "name": name,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "filters": filters.to_dict(),
            "split": {**dataclasses.asdict(split), "items": dict(Counter(it.split or "all" for it in items)),
                      "groups": {k: sorted(v) for k, v in sorted(groups.items())}},
            "counts": {"items": len(items), "labels": len(labels), "predictions": len(preds),
                       "by_source": dict(Counter(lb.source for lb in labels)),
                       "by_kind": dict(Counter(lb.kind for lb in labels)),
                       "by_split": dict(Counter(split_of[lb.item_id] or "all" for lb in labels)),
                       "item_kinds": dict(Counter(it.kind for it in items))},
            "formats": list(formats),
            "digests": digests or {},
            **extra,
            "files": {str(p.relative_to(tmp).as_posix()): {"sha256": file_sha256(p), "bytes": p.stat().st_size}
                      for p in sorted(tmp.rglob("*")) if p.is_file()},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8")
        if final.exists():
            raise ValidationError(f"export {str(final)!r} appeared while writing; exports are never overwritten")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("exported %d item(s), %d label(s) to %s", len(items), len(labels), final)
    return ExportResult(path=final, name=name, counts=manifest["counts"], files=len(manifest["files"]))


def verify_manifest(folder: str | Path) -> list[str]:
    """Problems found when checking an export against its manifest (empty list: all good).

    Reports files whose SHA-256 or size differs, files listed but missing and
    files present but not listed.

    Raises
    ------
    PackageError
        No readable manifest.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PackageError(f"{str(folder)!r} has no readable {MANIFEST}: {exc}") from exc
    problems = []
    listed = manifest.get("files", {})
    for rel, info in sorted(listed.items()):
        p = folder / rel
        if not p.is_file():
            problems.append(f"missing: {rel}")
        elif p.stat().st_size != info["bytes"] or file_sha256(p) != info["sha256"]:
            problems.append(f"checksum mismatch: {rel}")
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"not in manifest: {rel}")
    return problems


def new_export_id() -> str:
    """A short random id (for callers that want unique names of their own)."""
    return uuid.uuid4().hex[:8]
