"""Segment debugger services: why each segment of an item was chosen, what the model saw and said.

Everything returns plain records (DataFrames, dicts of lists) the Segment
debugger page renders with :mod:`reviewer.ui.debug_widgets`. Nothing here
computes features: the segment table is the one the extract stage saved
(:func:`reviewer.pipeline.load_table`); selection is re-run from it, which is
cheap and deterministic (no random generator).

Model-level views (predictions vs labels, worst items) are in
:mod:`reviewer.services.debug_eval` and re-exported here.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from reviewer import store
from reviewer.aggregate import EMBEDDING_TRACKS, SegmentTable
from reviewer.config import PipelineConfig, SelectionConfig, load_config
from reviewer.errors import NotFoundError, ValidationError
from reviewer.pipeline import load_table, table_path
from reviewer.selection import select_segments
from reviewer.services.debug_eval import (  # noqa: F401  (re-exported)
    LABEL_KIND_OF_TASK,
    predictions_vs_labels,
    version_label,
    worst_items,
)
from reviewer.settings import Settings

__all__ = [
    "FEATURE_SETS",
    "default_max_seq_len",
    "ItemInfo",
    "feature_heatmap",
    "item_choices",
    "item_info",
    "missing_features",
    "prediction_evidence",
    "predictions_vs_labels",
    "segment_table_view",
    "strategy_comparison",
    "worst_items",
]

log = logging.getLogger(__name__)

#: Named column sets for the heatmap / table (``"summary"`` leaves out the wide vector groups).
FEATURE_SETS: tuple[str, ...] = ("summary", "mfcc", "chroma", "mel64", "spectral_contrast", "all")
_WIDE = ("mel64", "mfcc", "chroma", "spectral_contrast") + EMBEDDING_TRACKS


@dataclass(frozen=True)
class ItemInfo:
    """What the debugger shows about one item besides its segments."""

    id: int
    key: str
    kind: str
    title: str
    duration: float | None
    status: str
    labels: tuple[dict[str, Any], ...]
    predictions: tuple[dict[str, Any], ...]


def _item_id(item_id: object) -> int:
    if isinstance(item_id, bool):
        raise ValidationError(f"item id must be a whole number; got {item_id!r}")
    try:
        value = int(item_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"item id must be a whole number; got {item_id!r}") from None
    if value < 1:
        raise ValidationError(f"item id must be >= 1; got {item_id!r}")
    return value


def _config(settings: Settings, config: PipelineConfig | None) -> PipelineConfig:
    return config if config is not None else load_config(settings.config_path)


def _pred_dict(p: Any, versions: Mapping[int, Any]) -> dict[str, Any]:
    payload = p.payload or {}
    return {"id": p.id, "task": p.task, "start": p.start, "end": p.end, "confidence": p.confidence,
            "model_version_id": p.model_version_id, "model": version_label(versions.get(p.model_version_id), payload),
            "method": payload.get("method"), "created_at": p.created_at}


def item_info(item_id: object, *, engine) -> ItemInfo:
    """The item's identity, current labels and predictions (newest first).

    Raises
    ------
    ValidationError
        an id that is not a whole number.
    NotFoundError
        no such item.
    """
    iid = _item_id(item_id)
    with store.session_scope(engine) as s:
        item = store.get_item(session=s, item_id=iid)
        labels = tuple({"id": lb.id, "kind": lb.kind, "start": lb.start, "end": lb.end, "source": lb.source,
                        "author": lb.author} for lb in store.current_labels(session=s, item_id=iid))
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
        preds = tuple(_pred_dict(p, versions) for p in store.predictions_for(session=s, item_id=iid))
    title = item.title or item.key
    who = item.series or item.artist
    return ItemInfo(iid, item.key, item.kind, f"{who} — {title}" if who else title, item.duration, item.status,
                    labels, preds)


def item_choices(*, engine, kind: str | None = None, search: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Items to pick from (id, key, kind, label), at most ``limit``, filtered like the library page."""
    with store.session_scope(engine) as s:
        rows, _total = store.list_items(session=s, kind=kind or None, search=search or None, offset=0, limit=limit)
    return [{"id": r.id, "key": r.key, "kind": r.kind,
             "label": f"#{r.id} · {r.kind} · {(r.series or r.artist or '')} {r.title or r.key}".strip()} for r in rows]


def _table(info: ItemInfo, settings: Settings, config: PipelineConfig) -> SegmentTable:
    path = table_path(settings, info.key, config)
    if not path.is_file():
        raise NotFoundError(
            f"item #{info.id} ({info.key!r}, status {info.status!r}) has no segment table for the current config; "
            "run `python -m reviewer extract` first"
        )
    return load_table(path)


def default_max_seq_len(*, settings: Settings, config: PipelineConfig | None = None) -> int:
    """The configured ``selection.max_seq_len`` (the debugger's starting value)."""
    return int(_config(settings, config).selection.max_seq_len)


def _selection_config(config: PipelineConfig, max_seq_len: int | None) -> SelectionConfig:
    sel = config.selection
    if max_seq_len is None or int(max_seq_len) == sel.max_seq_len:
        return sel
    m = int(max_seq_len)
    if m < 2:
        raise ValidationError(f"max_seq_len must be >= 2; got {max_seq_len!r}")
    k = min(sel.k_start, sel.k_end, m // 4)
    return dataclasses.replace(sel, max_seq_len=m, k_start=k, k_end=k)


def _label_kinds(table: SegmentTable, labels: tuple[dict[str, Any], ...]) -> list[str]:
    starts, ends = table.segments.starts, table.segments.ends
    out = []
    for s, e in zip(starts, ends):
        kinds = sorted({lb["kind"] for lb in labels if min(e, lb["end"]) - max(s, lb["start"]) > 0.5 * (e - s)})
        out.append(", ".join(kinds))
    return out


def segment_table_view(
    item_id: object, *, engine, settings: Settings, config: PipelineConfig | None = None,
    max_seq_len: int | None = None, feature_set: str = "all",
) -> pd.DataFrame:
    """The item's segment table with the selection's verdict on every segment.

    Parameters
    ----------
    max_seq_len : int, optional
        Re-run the selection as if ``max_seq_len`` were this (default: the config's).
        Items shorter than it keep every segment (reason ``"all"``).
    feature_set : str
        Which aggregated feature columns to include (:data:`FEATURE_SETS`).

    Returns
    -------
    pandas.DataFrame
        One row per segment: ``segment, start, end, labels, chosen, reason,
        importance, importance_<part>...``, the features, then ``<group>_missing``.

    Raises
    ------
    ValidationError, NotFoundError
        bad id, unknown item, not extracted yet.
    """
    cfg = _config(settings, config)
    info = item_info(item_id, engine=engine)
    table = _table(info, settings, cfg)
    sel = select_segments(table, _selection_config(cfg, max_seq_len))
    n = len(table)
    reason = np.full(n, "", dtype=object)
    for r in sel.reasons:
        reason[r.index] = r.reason
    head = pd.DataFrame({
        "segment": np.arange(n), "start": table.segments.starts, "end": table.segments.ends,
        "labels": _label_kinds(table, info.labels), "chosen": reason != "", "reason": reason,
        "importance": sel.importance,
    })
    for name, part in sel.parts.items():
        head[f"importance_{name}"] = part
    cols = _feature_columns(table, feature_set)
    feats = pd.DataFrame(table.values[:, [table.columns.index(c) for c in cols]], columns=cols)
    miss = pd.DataFrame(table.missing, columns=[f"{g}_missing" for g in table.groups])
    return pd.concat([head, feats, miss], axis=1)


def _feature_columns(table: SegmentTable, feature_set: str) -> list[str]:
    if feature_set not in FEATURE_SETS:
        raise ValidationError(f"feature set must be one of {FEATURE_SETS}; got {feature_set!r}")
    if feature_set == "all":
        return list(table.columns)
    if feature_set == "summary":
        return [c for g, cs in table.groups.items() if g not in _WIDE for c in cs]
    return list(table.groups.get(feature_set, ()))


def missing_features(item_id: object, *, engine, settings: Settings, config: PipelineConfig | None = None) -> pd.DataFrame:
    """Why each feature group is missing: ``group, columns, missing_share, reason`` (present groups too).

    A model-backed group (wav2vec, clap, whisper, emotion) without a configured
    local model is missing with the extractor's own reason — never filled in.
    """
    cfg = _config(settings, config)
    info = item_info(item_id, engine=engine)
    table = _table(info, settings, cfg)
    rows = []
    for gi, (group, cols) in enumerate(table.groups.items()):
        share = float(table.missing[:, gi].mean()) if len(table) else 1.0
        reason = table.missing_reasons.get(group)
        if reason is None and share > 0:
            reason = f"no frames in {int(table.missing[:, gi].sum())} of {len(table)} segments"
        rows.append({"group": group, "columns": len(cols), "missing_share": share,
                     "reason": f"{group}: {reason}" if reason else ""})
    return pd.DataFrame(rows)


def feature_heatmap(
    item_id: object, *, engine, settings: Settings, config: PipelineConfig | None = None, feature_set: str = "summary",
) -> dict[str, Any]:
    """Features × segments, z-scored per feature within the item, and the groups × segments missing map.

    Returns
    -------
    dict
        ``times`` (N segment centres, s), ``features`` (F names), ``z`` (F × N, NaN where missing;
        a constant feature is all 0), ``groups`` (G names), ``missing`` (G × N, 0/1),
        ``reasons`` (group → reason or None).
    """
    cfg = _config(settings, config)
    info = item_info(item_id, engine=engine)
    table = _table(info, settings, cfg)
    cols = _feature_columns(table, feature_set)
    x = table.values[:, [table.columns.index(c) for c in cols]].astype(np.float64).T if cols else np.zeros((0, len(table)))
    with np.errstate(invalid="ignore", divide="ignore"):
        present = np.isfinite(x)
        cnt = present.sum(axis=1, keepdims=True)
        mean = np.where(cnt > 0, np.nansum(np.where(present, x, 0.0), axis=1, keepdims=True) / np.maximum(cnt, 1), 0.0)
        var = np.nansum(np.where(present, (x - mean) ** 2, 0.0), axis=1, keepdims=True) / np.maximum(cnt, 1)
        std = np.sqrt(var)
        z = np.where(std > 1e-12, (x - mean) / np.where(std > 1e-12, std, 1.0), 0.0)
    z = np.where(present, z, np.nan)
    return {
        "times": ((table.segments.starts + table.segments.ends) / 2).tolist(),
        "features": cols,
        "z": z,
        "groups": list(table.groups),
        "missing": table.missing.T.astype(np.int8),
        "reasons": dict(table.missing_reasons),
        "item": info.key,
    }


def _prediction_scores(pred: Mapping[str, Any], table: SegmentTable) -> np.ndarray | None:
    """The prediction's per-segment scores mapped onto the table's segments (nearest start), or None."""
    payload = pred.get("payload") or {}
    scores = payload.get("segment_scores")
    times = payload.get("segment_times")
    if not scores:
        return None
    sc = np.asarray(scores, dtype=np.float64)
    if times and len(times) == sc.size:
        starts = np.asarray([t[0] for t in times], dtype=np.float64)
    elif sc.size == len(table):
        return sc
    else:
        log.warning("prediction %s: %d scores without matching segment_times; ignored", pred.get("id"), sc.size)
        return None
    order = np.argsort(starts)
    starts, sc = starts[order], sc[order]
    idx = np.clip(np.searchsorted(starts, table.segments.starts), 0, sc.size - 1)
    prev = np.clip(idx - 1, 0, sc.size - 1)
    use_prev = np.abs(starts[prev] - table.segments.starts) < np.abs(starts[idx] - table.segments.starts)
    return sc[np.where(use_prev, prev, idx)]


def _load_prediction(engine, item_id: int, prediction_id: int | None) -> dict[str, Any] | None:
    with store.session_scope(engine) as s:
        preds = store.predictions_for(session=s, item_id=item_id)
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
    if prediction_id is not None:
        preds = [p for p in preds if p.id == prediction_id]
        if not preds:
            raise NotFoundError(f"item #{item_id} has no prediction with id {prediction_id!r}")
    with_scores = [p for p in preds if (p.payload or {}).get("segment_scores")]
    if not with_scores:
        return None
    p = with_scores[0]
    return {**_pred_dict(p, versions), "payload": p.payload or {}}


def strategy_comparison(
    item_id: object, *, engine, settings: Settings, config: PipelineConfig | None = None,
    max_seq_len: int | None = None, prediction_id: int | None = None,
) -> dict[str, Any]:
    """Which segments each selection strategy keeps, side by side.

    Strategies: ``uniform``, ``boundary_importance`` and, when a prediction of
    the item has per-segment scores, ``model`` (the ``max_seq_len`` best-scored
    segments of the newest such prediction, or of ``prediction_id``).

    Returns
    -------
    dict
        ``frame`` (DataFrame: segment, start, end, labels, one bool column per
        strategy, ``importance``, ``model_score``), ``summary`` (list of dicts:
        strategy, chosen, labelled segments kept / total), ``max_seq_len``,
        ``n_segments``, ``model`` (label of the scoring model or None).
    """
    cfg = _config(settings, config)
    info = item_info(item_id, engine=engine)
    table = _table(info, settings, cfg)
    sel_cfg = _selection_config(cfg, max_seq_len)
    m, n = sel_cfg.max_seq_len, len(table)
    frame = pd.DataFrame({"segment": np.arange(n), "start": table.segments.starts, "end": table.segments.ends,
                          "labels": _label_kinds(table, info.labels)})
    for strategy in ("uniform", "boundary_importance"):
        sel = select_segments(table, sel_cfg, strategy=strategy)
        mask = np.zeros(n, dtype=bool)
        mask[sel.indices] = True
        frame[strategy] = mask
        frame["importance"] = sel.importance
    pred = _load_prediction(engine, info.id, prediction_id)
    scores = _prediction_scores(pred, table) if pred else None
    frame["model_score"] = scores if scores is not None else np.nan
    strategies = ["uniform", "boundary_importance"]
    if scores is not None:
        top = np.lexsort((np.arange(n), -np.nan_to_num(scores, nan=-np.inf)))[: min(m, n)]
        mask = np.zeros(n, dtype=bool)
        mask[top] = True
        frame["model"] = mask
        strategies.append("model")
    labelled = frame["labels"] != ""
    summary = [{"strategy": st, "chosen": int(frame[st].sum()),
                "labelled_kept": int((frame[st] & labelled).sum()), "labelled_total": int(labelled.sum())}
               for st in strategies]
    return {"frame": frame, "summary": summary, "max_seq_len": m, "n_segments": n, "strategies": strategies,
            "model": pred["model"] if (pred and scores is not None) else None}


def prediction_evidence(item_id: object, *, engine, prediction_id: int | None = None) -> list[dict[str, Any]]:
    """The evidence behind each prediction of an item (newest first), ready to plot.

    Each dict has ``id, task, model, method, start, end, confidence`` and, when
    the payload has them: ``ssm`` (``times``, ``matrix``) and ``repetitions``
    (songs), ``chorus`` / ``prechorus`` / ``fallback_reason`` (hooks), ``matches``
    and ``candidates`` (intros: cross-episode alignment, intervals with ``start`` / ``end``),
    ``section_candidates`` (hooks: the ranked repeated-section candidates, each ``{"chorus": [[s, e], ...],
    "k", "score"}``), ``segment_times`` and
    ``segment_scores`` (the model's per-segment scores). Missing parts are
    empty, never invented. An item without predictions gives ``[]``.
    """
    iid = _item_id(item_id)
    with store.session_scope(engine) as s:
        store.get_item(session=s, item_id=iid)
        preds = store.predictions_for(session=s, item_id=iid)
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
    if prediction_id is not None:
        preds = [p for p in preds if p.id == prediction_id]
        if not preds:
            raise NotFoundError(f"item #{iid} has no prediction with id {prediction_id!r}")
    out = []
    for p in preds:
        payload = p.payload or {}
        ev = payload.get("evidence") or {}
        ssm = ev.get("ssm") or {}
        times = payload.get("segment_times") or []
        scores = payload.get("segment_scores") or []
        if len(times) != len(scores):
            log.warning("prediction %s: %d segment_times vs %d segment_scores; scores not shown", p.id, len(times), len(scores))
            times, scores = [], []
        cands = list(ev.get("candidates") or [])
        out.append({
            **_pred_dict(p, versions),
            "ssm": {"times": list(ssm.get("times") or []), "matrix": ssm.get("matrix") or []} if ssm.get("matrix") else None,
            "repetitions": list(ev.get("repetitions") or []),
            "matches": list(ev.get("matches") or []),
            "candidates": [c for c in cands if "start" in c and "end" in c],
            "section_candidates": [c for c in cands if c.get("chorus")],
            "chorus": list(payload.get("chorus") or []),
            "prechorus": list(payload.get("prechorus") or []),
            "fallback_reason": payload.get("fallback_reason") if payload.get("fallback") else None,
            "segment_times": list(times),
            "segment_scores": list(scores),
        })
    return out
