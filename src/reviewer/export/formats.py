"""File formats of a labelled dataset: tables, seed-001 intro labels, Audacity labels, JAMS.

* ``labels.csv`` / ``labels.jsonl`` / ``labels.parquet``: one row per label
  with its item's facts and split;
* seed 001 ``train_labels.json`` / ``test_labels.json`` (``val_labels.json``):
  ``{item key: {"start": "H:MM:SS.mmm", "end": ..., "start_sec", "end_sec",
  "series", "season", "episode"}}``, null bounds for "no intro";
* Audacity label files: ``start<TAB>end<TAB>text`` per line, seconds with six
  decimals (Audacity's own export style); the text is the label kind;
* JAMS (songs): one ``segment_open`` annotation per (source, author), the
  observation value is the label kind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from reviewer.errors import ValidationError
from reviewer.export.select import ItemRecord, LabelRecord
from reviewer.ingest import format_timestamp
from reviewer.store.tables import LABEL_KINDS

__all__ = ["label_table", "read_audacity", "write_audacity", "write_intro_json", "write_jams", "write_tables"]

logger = logging.getLogger(__name__)

_ITEM_COLUMNS = ("series", "season", "episode", "artist", "title", "genre", "duration", "upload_date", "group", "split")


def label_table(items: Sequence[ItemRecord], labels: Sequence[LabelRecord]) -> pd.DataFrame:
    """One row per label with the item's facts (the content of labels.csv / .jsonl / .parquet)."""
    by_id = {it.item_id: it for it in items}
    rows = []
    for lb in labels:
        it = by_id[lb.item_id]
        row = dataclasses.asdict(lb)
        row["item_kind"] = it.kind
        row.update({c: getattr(it, c) for c in _ITEM_COLUMNS})
        rows.append(row)
    cols = [f.name for f in dataclasses.fields(LabelRecord)] + ["item_kind", *_ITEM_COLUMNS]
    return pd.DataFrame(rows, columns=cols)


def write_tables(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """labels.csv, labels.jsonl and labels.parquet."""
    out = [out_dir / "labels.csv", out_dir / "labels.jsonl", out_dir / "labels.parquet"]
    table.to_csv(out[0], index=False)
    with out[1].open("w", encoding="utf-8") as f:
        for rec in table.to_dict(orient="records"):
            clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
            f.write(json.dumps(clean, ensure_ascii=False, default=str) + "\n")
    table.to_parquet(out[2], index=False)
    return out


def write_intro_json(items: Sequence[ItemRecord], labels: Sequence[LabelRecord], out_dir: Path) -> list[Path]:
    """Seed-001 ``<split>_labels.json`` files for the episodes (one intro per episode)."""
    intros: dict[int, LabelRecord] = {}
    for lb in labels:
        if lb.kind == "intro":
            prev = intros.get(lb.item_id)
            if prev is None or (lb.source != "truth", lb.label_id) > (prev.source != "truth", prev.label_id):
                intros[lb.item_id] = lb  # a person's correction wins over the truth it corrects
    per_split: dict[str, dict] = defaultdict(dict)
    for it in items:
        if it.kind != "episode":
            continue
        lb = intros.get(it.item_id)
        if lb is None and it.has_intro is not False:
            continue
        entry = {"series": it.series, "season": it.season, "episode": it.episode}
        if lb is None:
            entry.update(start=None, end=None, start_sec=None, end_sec=None)
        else:
            entry.update(start=format_timestamp(lb.start), end=format_timestamp(lb.end),
                         start_sec=round(lb.start, 3), end_sec=round(lb.end, 3))
        per_split[it.split or "train"][it.key] = entry
    out = []
    for split, data in sorted(per_split.items()):
        p = out_dir / f"{split}_labels.json"
        p.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        out.append(p)
    return out


def write_audacity(items: Sequence[ItemRecord], labels: Sequence[LabelRecord], out_dir: Path) -> list[Path]:
    """One Audacity label file per item: ``audacity/<key>.txt``."""
    by_item: dict[int, list[LabelRecord]] = defaultdict(list)
    for lb in labels:
        by_item[lb.item_id].append(lb)
    folder = out_dir / "audacity"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for it in items:
        rows = sorted(by_item.get(it.item_id, []), key=lambda lb: (lb.start, lb.end, lb.kind))
        if not rows:
            continue
        p = folder / f"{it.key}.txt"
        p.write_text("".join(f"{lb.start:.6f}\t{lb.end:.6f}\t{lb.kind}\n" for lb in rows), encoding="utf-8")
        out.append(p)
    return out


def read_audacity(path: str | Path) -> list[tuple[str, float, float]]:
    """``(kind, start, end)`` from an Audacity label file.

    Lines of the extended format (frequency ranges, starting with ``\\``) are
    skipped; point labels (start == end) are refused because a label here is
    an interval.

    Raises
    ------
    ValidationError
        naming the file and line of a malformed entry or an unknown kind.
    """
    p = Path(path)
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("\\"):
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValidationError(f"{p.name}:{n}: expected start<TAB>end<TAB>label, got {line!r}")
        try:
            start, end = float(parts[0]), float(parts[1])
        except ValueError as exc:
            raise ValidationError(f"{p.name}:{n}: start and end must be seconds, got {line!r}") from exc
        text = parts[2].strip().lower() if len(parts) > 2 else ""
        kind = text.split()[0] if text else "other"
        if kind not in LABEL_KINDS:
            raise ValidationError(f"{p.name}:{n}: label {text!r} is not a label kind {list(LABEL_KINDS)}")
        if end <= start:
            raise ValidationError(f"{p.name}:{n}: a point label (start {start} == end {end}) is not an interval")
        out.append((kind, start, end))
    return out


def write_jams(items: Sequence[ItemRecord], labels: Sequence[LabelRecord], out_dir: Path) -> list[Path]:
    """One JAMS file per song: ``jams/<key>.jams``."""
    import jams

    by_item: dict[int, list[LabelRecord]] = defaultdict(list)
    for lb in labels:
        by_item[lb.item_id].append(lb)
    folder = out_dir / "jams"
    out = []
    for it in items:
        rows = by_item.get(it.item_id, [])
        if it.kind != "song" or not rows:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        jam = jams.JAMS()
        jam.file_metadata.duration = it.duration
        jam.file_metadata.title = it.title or it.key
        jam.file_metadata.artist = it.artist or ""
        jam.file_metadata.identifiers = {"reviewer_key": it.key}
        groups: dict[tuple[str, str], list[LabelRecord]] = defaultdict(list)
        for lb in rows:
            groups[(lb.source, lb.author or "")].append(lb)
        for (source, author), group in sorted(groups.items()):
            ann = jams.Annotation(namespace="segment_open", time=0, duration=it.duration)
            ann.annotation_metadata.data_source = source
            ann.annotation_metadata.annotator = {"name": author}
            for lb in sorted(group, key=lambda x: x.start):
                ann.append(time=lb.start, duration=lb.end - lb.start, value=lb.kind, confidence=1.0)
            jam.annotations.append(ann)
        p = folder / f"{it.key}.jams"
        with warnings.catch_warnings():  # jams validates with a jsonschema call that jsonschema deprecates
            warnings.simplefilter("ignore", DeprecationWarning)
            jam.save(str(p))
        out.append(p)
    return out
