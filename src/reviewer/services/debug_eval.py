"""Predictions vs the current labels: IoU per task and model version, and the worst items.

A *version key* names who made a prediction: ``"mv:<id>"`` for a registered
model version, ``"baseline:<method>"`` for a non-ML baseline (no model version).

The reference of a prediction is the item's current label of the matching kind
(:data:`LABEL_KIND_OF_TASK`), the best-overlapping one when there are several.
An episode marked as having no intro (``extra["has_intro"] is False``) is
scored too: a "no intro" prediction gets IoU 1, a predicted region 0. Items
without a reference are counted but not scored.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import pandas as pd

from reviewer import store
from reviewer.errors import ValidationError
from reviewer.metrics.intervals import iou

__all__ = ["LABEL_KIND_OF_TASK", "parse_version_key", "predictions_vs_labels", "version_key", "version_label", "worst_items"]

log = logging.getLogger(__name__)

#: Which label kind a prediction task is compared with.
LABEL_KIND_OF_TASK: dict[str, str] = {"intro": "intro", "hook": "hook", "chorus": "chorus"}


def version_label(mv: Any | None, payload: Mapping[str, Any] | None = None) -> str:
    """A human name for who made a prediction: ``"name version"`` or ``"baseline (method)"``."""
    if mv is not None:
        return f"{mv.name} {mv.version}"
    method = (payload or {}).get("method") or "unknown"
    return f"baseline ({method})"


def version_key(model_version_id: int | None, payload: Mapping[str, Any] | None = None) -> str:
    """``"mv:<id>"`` or ``"baseline:<method>"``."""
    if model_version_id is not None:
        return f"mv:{int(model_version_id)}"
    return f"baseline:{(payload or {}).get('method') or 'unknown'}"


def parse_version_key(key: str) -> tuple[int | None, str | None]:
    """``"mv:3"`` → ``(3, None)``; ``"baseline:pychorus"`` → ``(None, "pychorus")``.

    Raises
    ------
    ValidationError
        anything else.
    """
    if isinstance(key, str) and key.startswith("mv:") and key[3:].isdigit():
        return int(key[3:]), None
    if isinstance(key, str) and key.startswith("baseline:") and key[9:]:
        return None, key[9:]
    raise ValidationError(f"model version key must look like 'mv:3' or 'baseline:<method>'; got {key!r}")


def _scored_rows(engine, tasks: list[str], mv_id: int | None = None, baseline: bool = False) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with store.session_scope(engine) as s:
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
        pairs = store.newest_predictions(session=s, tasks=tasks, model_version_id=mv_id, baseline_only=baseline)
        labels_cache: dict[tuple[int, str], list[tuple[float, float]]] = {}
        for pred, item in pairs:
            kind = LABEL_KIND_OF_TASK[pred.task]
            if (item.id, kind) not in labels_cache:
                labels_cache[(item.id, kind)] = [
                    (lb.start, lb.end) for lb in store.current_labels(session=s, item_id=item.id, kind=kind)
                ]
            refs = labels_cache[(item.id, kind)]
            no_region = kind == "intro" and not refs and (item.extra or {}).get("has_intro") is False
            has_pred = pred.start is not None and pred.end is not None
            if refs and has_pred:
                score = max(iou(r, (pred.start, pred.end)) for r in refs)
                ref = max(refs, key=lambda r: iou(r, (pred.start, pred.end)))
            elif refs:
                score, ref = 0.0, refs[0]
            elif no_region:
                score, ref = (0.0 if has_pred else 1.0), None
            else:
                score, ref = np.nan, None
            rows.append({
                "task": pred.task, "version_key": version_key(pred.model_version_id, pred.payload),
                "model": version_label(versions.get(pred.model_version_id), pred.payload),
                "item_id": item.id, "key": item.key, "kind": item.kind,
                "title": " — ".join(x for x in (item.series or item.artist, item.title) if x) or item.key,
                "prediction_id": pred.id, "pred_start": pred.start, "pred_end": pred.end,
                "confidence": pred.confidence, "label_start": ref[0] if ref else None,
                "label_end": ref[1] if ref else None, "iou": score,
            })
    return rows


def _tasks(task: str | None) -> list[str]:
    if task is None:
        return list(LABEL_KIND_OF_TASK)
    if task not in LABEL_KIND_OF_TASK:
        raise ValidationError(f"task must be one of {tuple(LABEL_KIND_OF_TASK)}; got {task!r}")
    return [task]


def predictions_vs_labels(*, engine, task: str | None = None) -> pd.DataFrame:
    """IoU of the newest predictions against the current labels, per task and model version.

    Returns
    -------
    pandas.DataFrame
        ``task, model, version_key, items, scored, iou_mean, iou_median, hit_rate``
        (share with IoU >= 0.5), best first within a task; empty without predictions.
    """
    rows = _scored_rows(engine, _tasks(task))
    cols = ["task", "model", "version_key", "items", "scored", "iou_mean", "iou_median", "hit_rate"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    out = []
    for (t, key), g in df.groupby(["task", "version_key"], sort=True):
        scored = g["iou"].dropna()
        out.append({
            "task": t, "model": g["model"].iloc[0], "version_key": key, "items": len(g), "scored": len(scored),
            "iou_mean": float(scored.mean()) if len(scored) else np.nan,
            "iou_median": float(scored.median()) if len(scored) else np.nan,
            "hit_rate": float((scored >= 0.5).mean()) if len(scored) else np.nan,
        })
    res = pd.DataFrame(out, columns=cols)
    return res.sort_values(["task", "iou_mean"], ascending=[True, False], na_position="last").reset_index(drop=True)


def worst_items(task: str, version_key_: str, n: int = 10, *, engine) -> pd.DataFrame:
    """The ``n`` scored items with the lowest IoU for one task and model version.

    Parameters
    ----------
    task : str
        ``"intro"``, ``"hook"`` or ``"chorus"``.
    version_key_ : str
        ``"mv:<id>"`` or ``"baseline:<method>"`` (see :func:`version_key`).
    n : int
        1..500.

    Returns
    -------
    pandas.DataFrame
        ``item_id, key, title, iou, pred_start, pred_end, label_start, label_end,
        confidence, prediction_id``, lowest IoU first (open ``item_id`` in Review).
    """
    tasks = _tasks(task)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 500:
        raise ValidationError(f"n must be a whole number in 1..500; got {n!r}")
    mv_id, _method = parse_version_key(version_key_)
    rows = _scored_rows(engine, tasks, mv_id=mv_id, baseline=mv_id is None)
    cols = ["item_id", "key", "title", "iou", "pred_start", "pred_end", "label_start", "label_end", "confidence",
            "prediction_id"]
    rows = [r for r in rows if r["version_key"] == version_key_ and not np.isnan(r["iou"])]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows).sort_values(["iou", "key"]).head(n)
    return df[cols].reset_index(drop=True)
