"""Listen services: a queue of predicted snippets, 1–5 ratings (MOS), and blind A/B comparisons.

A *snippet* is a song's predicted ``hook`` or an episode's predicted ``intro``
(:data:`reviewer.store.SNIPPET_TASKS`). Ratings and preferences are new rows
in the store; the Mean Opinion Score per model version comes from
:func:`reviewer.metrics.ranking.mos`.

Blind A/B: :func:`ab_pair` picks a track that has snippets from two model
versions and returns them as "A" and "B" in random order, with prediction ids
only — the versions are revealed by :func:`record_preference`, after the vote.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reviewer import store
from reviewer.errors import ValidationError
from reviewer.metrics.ranking import mos
from reviewer.services.debug_eval import version_key, version_label

__all__ = [
    "Snippet",
    "SnippetAudio",
    "ab_pair",
    "model_version_choices",
    "mos_by_model_version",
    "preference_stats",
    "rate",
    "record_preference",
    "snippet",
    "snippet_audio",
    "snippet_queue",
]

log = logging.getLogger(__name__)

#: Seconds of audio kept around a snippet in the player (the listener can scrub into it).
CONTEXT_SECONDS = 5.0


@dataclass(frozen=True)
class Snippet:
    """One predicted snippet to play (no model version: A/B stays blind until the vote)."""

    prediction_id: int
    item_id: int
    key: str
    kind: str
    title: str
    task: str
    start: float
    end: float
    confidence: float | None


@dataclass(frozen=True)
class SnippetAudio:
    """Audio of a snippet with context, and where the snippet is inside it.

    ``start_time`` / ``end_time`` are whole seconds into ``data`` (``st.audio``
    rounds floats down, so the end is rounded up to keep the whole snippet).
    """

    data: bytes
    mime: str
    start_time: int
    end_time: int
    clip_start: float
    clip_end: float


def _title(item: Any) -> str:
    return " — ".join(x for x in (item.series or item.artist, item.title) if x) or item.key


def _snip(p: Any, item: Any) -> Snippet:
    return Snippet(p.id, item.id, item.key, item.kind, _title(item), p.task, float(p.start), float(p.end), p.confidence)


def model_version_choices(*, engine) -> list[dict[str, Any]]:
    """Model versions that have snippet predictions: ``[{"id", "label"}]`` (id None = baselines)."""
    with store.session_scope(engine) as s:
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
        pairs = store.newest_predictions(session=s, tasks=sorted(set(store.SNIPPET_TASKS.values())))
    seen: dict[Any, str] = {}
    for p, _item in pairs:
        seen.setdefault(p.model_version_id, version_label(versions.get(p.model_version_id), p.payload))
    return [{"id": k, "label": v} for k, v in sorted(seen.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]


def snippet_queue(
    *, engine, kind: str | None = None, series: str | None = None, model_version_id: int | None = None,
    unrated_by: str | None = None, page: int = 1, page_size: int = 50,
) -> dict[str, Any]:
    """One page of predicted snippets across items, with their ratings so far.

    Parameters
    ----------
    kind : {"song", "episode"}, optional
    series : str, optional
        Series or artist.
    model_version_id : int, optional
        Only this model version's snippets.
    unrated_by : str, optional
        Hide snippets this listener already rated.

    Returns
    -------
    dict
        ``rows`` (list of dicts: prediction_id, item_id, title, kind, task, model,
        start, end, length, confidence, ratings, mos), ``total``, ``page``, ``pages``.
    """
    if kind and kind not in store.SNIPPET_TASKS:
        raise ValidationError(f"kind must be one of {tuple(store.SNIPPET_TASKS)}; got {kind!r}")
    page = max(1, int(page))
    with store.session_scope(engine) as s:
        rows, total = store.snippet_predictions(
            session=s, kinds=[kind] if kind else None, series=series or None,
            model_version_ids=None if model_version_id is None else [int(model_version_id)],
            unrated_by=(unrated_by or "").strip() or None, offset=(page - 1) * page_size, limit=page_size)
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
        by_pred = {k: (n, mean) for k, n, mean, _v in store.rating_summary(session=s, by="prediction")}
    out = []
    for p, item in rows:
        n, mean = by_pred.get(p.id, (0, math.nan))
        out.append({"prediction_id": p.id, "item_id": item.id, "title": _title(item), "kind": item.kind,
                    "task": p.task, "model": version_label(versions.get(p.model_version_id), p.payload),
                    "start": round(float(p.start), 2), "end": round(float(p.end), 2),
                    "length": round(float(p.end - p.start), 2), "confidence": p.confidence,
                    "ratings": n, "mos": mean})
    pages = max(1, -(-total // page_size))
    return {"rows": out, "total": total, "page": min(page, pages), "pages": pages}


def snippet(prediction_id: object, *, engine) -> Snippet:
    """The snippet of one prediction.

    Raises
    ------
    NotFoundError
        no such prediction (or its item is gone).
    ValidationError
        a prediction without a region ("no intro") or a bad id.
    """
    pid = _int_id(prediction_id, what="prediction id")
    with store.session_scope(engine) as s:
        pred = store.get_prediction(session=s, prediction_id=pid)
        item = store.get_item(session=s, item_id=pred.item_id)
    if pred.start is None or pred.end is None:
        raise ValidationError(f"prediction {pid} of {item.key!r} has no region (predicted: no {pred.task}); nothing to play")
    return _snip(pred, item)


def snippet_audio(prediction_id: object, *, engine, context: float = CONTEXT_SECONDS) -> SnippetAudio:
    """Decode the snippet with ``context`` seconds either side, as WAV bytes for ``st.audio``.

    Raises
    ------
    NotFoundError, ValidationError
        as :func:`snippet`.
    InvalidMediaError
        the media file is gone or unreadable.
    """
    from reviewer.services.audio_clips import cut_clip

    snip = snippet(prediction_id, engine=engine)
    with store.session_scope(engine) as s:
        item = store.get_item(session=s, item_id=snip.item_id)
    clip = cut_clip(item.path, snip.start, snip.end, duration=item.duration, preroll=context, postroll=context,
                    sr=22050, fmt="wav")
    start_time = int(math.floor(snip.start - clip.start))
    end_time = max(start_time + 1, int(math.ceil(snip.end - clip.start)))
    return SnippetAudio(clip.data, clip.mime, start_time, end_time, clip.start, clip.end)


def _int_id(value: object, *, what: str) -> int:
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be a whole number; got {value!r}")
    try:
        out = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be a whole number; got {value!r}") from None
    return out


def rate(item_id: object, prediction_id: object, rating: int, comment: str | None = None, author: str | None = None,
         *, engine) -> dict[str, Any]:
    """Save a 1–5 rating of a snippet; returns the stored rating as a dict.

    Raises
    ------
    ValidationError
        rating outside 1..5, a prediction of another item, a too-long comment.
    NotFoundError
        the item or prediction was deleted meanwhile.
    """
    iid, pid = _int_id(item_id, what="item id"), _int_id(prediction_id, what="prediction id")
    with store.session_scope(engine) as s:
        row = store.add_rating(session=s, item_id=iid, prediction_id=pid, rating=rating, comment=comment, author=author)
    log.info("rated prediction %s of item %s: %s", pid, iid, row.rating)
    return {"id": row.id, "item_id": iid, "prediction_id": pid, "rating": row.rating, "comment": row.comment,
            "author": row.author, "model_version_id": row.model_version_id}


def mos_by_model_version(*, engine) -> pd.DataFrame:
    """Mean Opinion Score per model version: ``model, model_version_id, ratings, mos, ci95`` (best first)."""
    with store.session_scope(engine) as s:
        groups = store.rating_summary(session=s, by="model_version")
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
    rows = []
    for mv_id, n, _mean, values in groups:
        m = mos(values)
        mv = versions.get(mv_id)
        rows.append({"model": version_label(mv) if mv is not None or mv_id is None else f"deleted model #{mv_id}",
                     "model_version_id": mv_id, "ratings": n, "mos": m["mos"], "ci95": m["ci95"]})
    cols = ["model", "model_version_id", "ratings", "mos", "ci95"]
    return pd.DataFrame(rows, columns=cols).sort_values("mos", ascending=False).reset_index(drop=True)


def ab_pair(*, engine, kind: str | None = None, item_id: object | None = None, author: str | None = None,
            rng: np.random.Generator | None = None) -> dict[str, Any] | None:
    """Pick a track with snippets from two different model versions, in random order, balancing judgements.

    Among every (track, version pair) that can be compared, the version pair
    with the fewest judgements so far goes first, then the track with the
    fewest judgements of that pair, so three or more versions are compared
    evenly and no track is judged twice while another waits. ``author``'s own
    past judgements are skipped while other comparisons remain. Ties are
    broken at random and A/B order is random.

    Parameters
    ----------
    kind : {"song", "episode"}, optional
    item_id : int, optional
        Use this item (it must have two model versions' snippets).
    author : str, optional
        Prefer comparisons this person has not judged yet.
    rng : numpy.random.Generator, optional
        For a reproducible pick; a fresh one otherwise.

    Returns
    -------
    dict or None
        ``{"item_id", "title", "a": prediction id, "b": prediction id}`` — no
        versions; None when no item has two versions' snippets.
    """
    rng = rng if rng is not None else np.random.default_rng()
    with store.session_scope(engine) as s:
        tasks = [store.SNIPPET_TASKS[kind]] if kind else sorted(set(store.SNIPPET_TASKS.values()))
        pairs = store.newest_predictions(session=s, tasks=tasks)
        prefs = store.list_preferences(session=s)
        judged = store.predictions_by_id(session=s, prediction_ids={i for p in prefs
                                                                     for i in (p.prediction_a_id, p.prediction_b_id)})
    by_item: dict[int, dict[int, Any]] = {}
    titles: dict[int, str] = {}
    for p, item in pairs:
        if p.model_version_id is None or p.start is None or store.SNIPPET_TASKS.get(item.kind) != p.task:
            continue
        if kind and item.kind != kind:
            continue
        by_item.setdefault(item.id, {}).setdefault(p.model_version_id, p)
        titles[item.id] = _title(item)
    eligible = sorted(i for i, v in by_item.items() if len(v) >= 2)
    if item_id is not None:
        iid = _int_id(item_id, what="item id")
        if iid not in eligible:
            raise ValidationError(f"item #{iid} has no snippets from two model versions to compare")
        eligible = [iid]
    if not eligible:
        return None
    per_pair: dict[tuple[int, int], int] = {}
    per_item_pair: dict[tuple[int, tuple[int, int]], int] = {}
    mine: set[tuple[int, tuple[int, int]]] = set()
    who = (author or "").strip()
    for pref in prefs:
        pa, pb = judged.get(pref.prediction_a_id), judged.get(pref.prediction_b_id)
        if pa is None or pb is None or pa.model_version_id is None or pb.model_version_id is None:
            continue
        vp = tuple(sorted((int(pa.model_version_id), int(pb.model_version_id))))
        per_pair[vp] = per_pair.get(vp, 0) + 1
        per_item_pair[(pref.item_id, vp)] = per_item_pair.get((pref.item_id, vp), 0) + 1
        if who and (pref.author or "").strip() == who:
            mine.add((pref.item_id, vp))
    options = [(iid, (va, vb)) for iid in eligible for va in sorted(by_item[iid]) for vb in sorted(by_item[iid])
               if va < vb]
    fresh = [o for o in options if o not in mine]
    options = fresh or options
    keys = np.array([(per_pair.get(vp, 0), per_item_pair.get((iid, vp), 0)) for iid, vp in options])
    best = [o for o, k in zip(options, keys) if tuple(k) == min(map(tuple, keys))]
    iid, (va, vb) = best[int(rng.integers(len(best)))]
    first, second = (va, vb) if rng.random() < 0.5 else (vb, va)
    return {"item_id": int(iid), "title": titles[iid], "a": int(by_item[iid][first].id),
            "b": int(by_item[iid][second].id)}


def record_preference(item_id: object, prediction_a_id: object, prediction_b_id: object, chosen: str,
                      author: str | None = None, *, engine) -> dict[str, Any]:
    """Save a blind A/B preference and reveal which model version each side was.

    Returns
    -------
    dict
        ``{"id", "chosen", "a_model", "b_model"}``.

    Raises
    ------
    ValidationError, NotFoundError
        as :func:`reviewer.store.add_preference`.
    """
    iid = _int_id(item_id, what="item id")
    a, b = _int_id(prediction_a_id, what="prediction id"), _int_id(prediction_b_id, what="prediction id")
    with store.session_scope(engine) as s:
        row = store.add_preference(session=s, item_id=iid, prediction_a_id=a, prediction_b_id=b, chosen=chosen,
                                   author=author)
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
        found = store.predictions_by_id(session=s, prediction_ids=[a, b])
        pa, pb = found[a], found[b]
        labels = [version_label(versions.get(p.model_version_id), p.payload) for p in (pa, pb)]
    return {"id": row.id, "chosen": row.chosen, "a_model": labels[0], "b_model": labels[1]}


def preference_stats(*, engine) -> pd.DataFrame:
    """Blind A/B results per model version pair (order-independent).

    Returns
    -------
    pandas.DataFrame
        ``model_x, model_y, judgements, x_preferred, y_preferred, same, x_win_rate``
        (x is the lower version key; win rate excludes "same").
    """
    with store.session_scope(engine) as s:
        prefs = store.list_preferences(session=s)
        ids = {i for p in prefs for i in (p.prediction_a_id, p.prediction_b_id)}
        preds = store.predictions_by_id(session=s, prediction_ids=ids)
        versions = {mv.id: mv for mv in store.list_model_versions(session=s)}
    stats: dict[tuple[str, str], dict[str, Any]] = {}
    for pref in prefs:
        pa, pb = preds.get(pref.prediction_a_id), preds.get(pref.prediction_b_id)
        if pa is None or pb is None:
            continue  # a prediction was deleted since: the judgement cannot be attributed
        sides = [(version_key(p.model_version_id, p.payload), version_label(versions.get(p.model_version_id), p.payload))
                 for p in (pa, pb)]
        (ka, la), (kb, lb) = sides
        swap = ka > kb
        x, y = ((kb, lb), (ka, la)) if swap else ((ka, la), (kb, lb))
        st = stats.setdefault((x[0], y[0]), {"model_x": x[1], "model_y": y[1], "judgements": 0, "x_preferred": 0,
                                             "y_preferred": 0, "same": 0})
        st["judgements"] += 1
        if pref.chosen == "same":
            st["same"] += 1
        elif (pref.chosen == "a") != swap:
            st["x_preferred"] += 1
        else:
            st["y_preferred"] += 1
    cols = ["model_x", "model_y", "judgements", "x_preferred", "y_preferred", "same", "x_win_rate"]
    rows = []
    for st in stats.values():
        decided = st["x_preferred"] + st["y_preferred"]
        rows.append({**st, "x_win_rate": st["x_preferred"] / decided if decided else math.nan})
    return pd.DataFrame(rows, columns=cols)
