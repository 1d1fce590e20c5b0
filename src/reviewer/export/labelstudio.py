"""Label Studio JSON: audio regions as annotations, model output as predictions.

The export is a list of tasks, the shape Label Studio imports and exports::

    {"id": 12, "data": {"audio": "/media/a.mp3", "key": "a.mp3", ...},
     "annotations": [{"completed_by": "alice", "ground_truth": false, "result": [
         {"id": "L301", "from_name": "label", "to_name": "audio", "type": "labels", "origin": "manual",
          "value": {"start": 41.0, "end": 63.5, "channel": 0, "labels": ["chorus"]},
          "meta": {"source": "human", "author": "alice", "label_id": 301}}]}],
     "predictions": [{"model_version": "crnn:3", "score": 0.82, "result": [...]}]}

with one annotation per (source, author) and the matching labelling config
(``<Labels name="label" toName="audio">`` over ``<Audio name="audio" value="$audio"/>``).
:func:`read_label_studio` reads annotations back (predictions are not labels
and are ignored), so export → import gives the same intervals.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reviewer.errors import ValidationError
from reviewer.export.select import ItemRecord, LabelRecord, PredictionRecord
from reviewer.store.tables import LABEL_KINDS

__all__ = ["PREDICTION_LABEL", "label_studio_config", "read_label_studio", "to_label_studio"]

#: Label Studio label of a prediction of task ``t`` (intro → intro, hook → hook, ...).
PREDICTION_LABEL = {"intro": "intro", "hook": "hook", "chorus": "chorus", "interest": "interest"}


def label_studio_config(kinds: Sequence[str] = LABEL_KINDS) -> str:
    """The labelling config XML matching the exported regions."""
    labels = "\n".join(f'    <Label value="{k}"/>' for k in kinds)
    return (f'<View>\n  <Labels name="label" toName="audio">\n{labels}\n  </Labels>\n'
            f'  <Audio name="audio" value="$audio"/>\n</View>\n')


def _region(rid: str, start: float, end: float, kind: str, **extra: Any) -> dict[str, Any]:
    out = {"id": rid, "from_name": "label", "to_name": "audio", "type": "labels",
           "value": {"start": float(start), "end": float(end), "channel": 0, "labels": [kind]}}
    out.update(extra)
    return out


def to_label_studio(items: Sequence[ItemRecord], labels: Sequence[LabelRecord],
                    predictions: Sequence[PredictionRecord] = ()) -> list[dict[str, Any]]:
    """Label Studio tasks for the items (see the module docstring)."""
    by_item: dict[int, dict[tuple[str, str], list[LabelRecord]]] = defaultdict(lambda: defaultdict(list))
    for lb in labels:
        by_item[lb.item_id][(lb.source, lb.author or "")].append(lb)
    preds: dict[int, dict[str, list[PredictionRecord]]] = defaultdict(lambda: defaultdict(list))
    for p in predictions:
        preds[p.item_id][p.model_version].append(p)
    tasks = []
    for it in items:
        annotations = []
        for n, ((source, author), group) in enumerate(sorted(by_item[it.item_id].items()), 1):
            result = [_region(f"L{lb.label_id}", lb.start, lb.end, lb.kind, origin="manual",
                              meta={"source": lb.source, "author": lb.author, "label_id": lb.label_id,
                                    "status": lb.status, "agreement": lb.agreement})
                      for lb in sorted(group, key=lambda x: (x.start, x.label_id))]
            annotations.append({"id": n, "completed_by": author or source, "ground_truth": source == "truth",
                                "created_at": max(lb.created_at for lb in group), "result": result})
        predictions_out = []
        for version, group in sorted(preds[it.item_id].items()):
            scores = [p.confidence for p in group if p.confidence is not None]
            predictions_out.append({
                "model_version": version, "score": min(scores) if scores else None,
                "result": [_region(f"P{p.prediction_id}", p.start, p.end, PREDICTION_LABEL.get(p.task, "other"),
                                   origin="prediction", score=p.confidence) for p in group]})
        tasks.append({"id": it.item_id,
                      "data": {"audio": it.path, "key": it.key, "title": it.title, "series": it.series,
                               "artist": it.artist, "genre": it.genre, "duration": it.duration, "split": it.split},
                      "annotations": annotations, "predictions": predictions_out})
    return tasks


def read_label_studio(path: str | Path) -> dict[str, list[tuple[str, float, float]]]:
    """Item key → ``(kind, start, end)`` of every annotated audio region.

    Tasks are matched by ``data.key`` (else the file name of ``data.audio``).
    Cancelled annotations are skipped; predictions are ignored.

    Raises
    ------
    ValidationError
        Unreadable JSON, a task without a key, or a region with an unknown label.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{p.name} is not readable Label Studio JSON: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    out: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for n, task in enumerate(data):
        info = task.get("data") or {}
        key = info.get("key") or (Path(str(info["audio"])).name if info.get("audio") else None)
        if not key:
            raise ValidationError(f"{p.name}: task #{n} has no data.key or data.audio to match an item")
        for ann in task.get("annotations") or []:
            if ann.get("was_cancelled"):
                continue
            for res in ann.get("result") or []:
                value = res.get("value") or {}
                if res.get("type") != "labels" or "start" not in value:
                    continue
                kinds = [str(x).lower() for x in value.get("labels") or ["other"]]
                bad = [k for k in kinds if k not in LABEL_KINDS]
                if bad:
                    raise ValidationError(f"{p.name}: task {key!r} has region label(s) {bad}, not in {list(LABEL_KINDS)}")
                for kind in kinds:
                    out[key].append((kind, float(value["start"]), float(value["end"])))
    return dict(out)
