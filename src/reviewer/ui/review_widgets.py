"""Widgets of the Review page: item picker, bounds editor with nudges, player, history.

They read and write only the ``review.*`` keys of :mod:`reviewer.ui.state`
(ids and scalars) and call :mod:`reviewer.services.review` for data.
"""

from __future__ import annotations

import logging
import math

import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.services import review
from reviewer.services.audio_clips import DEFAULT_PREROLL, MAX_CLIP_SECONDS
from reviewer.ui import state
from reviewer.ui.waveform import Region

log = logging.getLogger(__name__)

try:  # the audix player ships its frontend in the wheel and reports the play-head time
    from streamlit_advanced_audio import WaveSurferOptions, audix
except ImportError:  # pragma: no cover - optional dependency
    audix = None
try:  # keyboard shortcuts that click buttons by key
    from streamlit_shortcuts import add_shortcuts
except ImportError:  # pragma: no cover - optional dependency
    add_shortcuts = None

#: Keyboard shortcuts: widget key → keys (see the page's help text).
SHORTCUTS = {
    state.REVIEW_ACCEPT: "alt+a", state.REVIEW_FIX: "alt+f", state.REVIEW_REJECT: "alt+r",
    state.REVIEW_NEXT: "alt+n", state.REVIEW_UNDO: "alt+z",
    f"{state.REVIEW_NUDGE}_start_-100": "alt+j", f"{state.REVIEW_NUDGE}_start_100": "alt+k",
    f"{state.REVIEW_NUDGE}_end_-100": "alt+u", f"{state.REVIEW_NUDGE}_end_100": "alt+i",
    state.REVIEW_SET_START: "alt+s", state.REVIEW_SET_END: "alt+e",
}
NUDGES_MS = (-1000, -100, 100, 1000)


def flash(level: str, message: str) -> None:
    """Show ``message`` after the next rerun (level: success / error / warning / info)."""
    st.session_state[state.REVIEW_FLASH] = (level, message)


def show_flash() -> None:
    """Show and clear the pending flash message."""
    msg = st.session_state.pop(state.REVIEW_FLASH, None)
    if msg:
        getattr(st, msg[0], st.info)(msg[1])


def current_item() -> int | str | None:
    """The item on screen: an int id, or the raw value when it is not a valid id (the page reports it)."""
    value = st.session_state.get(state.REVIEW_ITEM)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
        st.session_state[state.REVIEW_ITEM] = value
    return value


def _on_pick() -> None:
    st.session_state[state.REVIEW_ITEM] = st.session_state.get(state.REVIEW_PICK)


def _on_next(engine, kind: str | None, series: str | None) -> None:
    cur = st.session_state.get(state.REVIEW_ITEM)
    nxt = review.next_unreviewed(engine=engine, after_id=cur if isinstance(cur, int) else None, kind=kind,
                                 series=series)
    if nxt is None:
        flash("info", "Every matching item has been reviewed.")
    else:
        st.session_state[state.REVIEW_ITEM] = nxt


def picker(engine, *, current: int | str | None) -> int | None:
    """Sidebar: filters, the item list and "Next unreviewed".

    Choosing an item or pressing "Next" sets ``review.item_id`` (in callbacks).
    Returns the first matching item id (the page opens it when none is chosen yet).
    """
    sb = st.sidebar
    sb.header("Find an item")
    facets = review.review_facets(engine=engine)
    kind = sb.selectbox("Kind", [""] + facets["kind"], key=state.REVIEW_FILTER_KIND, format_func=lambda x: x or "all")
    series = sb.selectbox("Series / artist", [""] + facets["series"], key=state.REVIEW_FILTER_SERIES,
                          format_func=lambda x: x or "all")
    status = sb.selectbox("Status", [""] + facets["status"], key=state.REVIEW_FILTER_STATUS,
                          format_func=lambda x: x or "all")
    conf = sb.slider("Prediction confidence", 0.0, 1.0, (0.0, 1.0), step=0.05, key=state.REVIEW_FILTER_CONF,
                     help="Narrowing it keeps only items that have a prediction in this range.")
    disagree = sb.checkbox("Only where prediction and label disagree (IoU < 0.5)", key=state.REVIEW_FILTER_DISAGREE)
    confidence = None if tuple(conf) == (0.0, 1.0) else tuple(conf)
    try:
        choices, total = review.item_choices(engine=engine, kind=kind or None, series=series or None,
                                             status=status or None, confidence=confidence, disagreement=disagree)
    except ReviewerError as exc:
        sb.error(str(exc))
        choices, total = [], 0
    sb.button("Next unreviewed ▶", key=state.REVIEW_NEXT, type="primary", help="alt+n", width="stretch",
              on_click=_on_next, args=(engine, kind or None, series or None))
    ids = [c.id for c in choices]
    names = {c.id: c.label for c in choices}
    if isinstance(current, int) and current not in names:
        ids = [current] + ids
        names[current] = f"#{current} (outside the filters)"
    if not ids:
        sb.info("No item matches these filters.")
        return None
    if isinstance(current, int):
        st.session_state[state.REVIEW_PICK] = current
    elif st.session_state.get(state.REVIEW_PICK) not in names:
        st.session_state[state.REVIEW_PICK] = ids[0]
    sb.selectbox(f"Item ({total} match; ✓ = reviewed)", ids, key=state.REVIEW_PICK, on_change=_on_pick,
                 format_func=lambda i: names.get(i, f"#{i}"))
    return ids[0]


def ensure_draft(data: review.ReviewData, kind: str, target: int) -> None:
    """Load the editor's bounds from the proposal when the item, type or target changed.

    The base label and its version are captured *now*, so a later save is
    checked against what the annotator was looking at (stale edits are refused).
    """
    tag = f"{data.item.id}:{kind}:{target}"
    if st.session_state.get(state.REVIEW_DRAFT_FOR) == tag:
        return
    prop = data.proposal(kind, label_id=target or None)
    base = next((lb for lb in data.labels_of(kind) if lb.id == target), None)
    if prop is None:
        st.session_state[state.REVIEW_START_MS] = 0
        st.session_state[state.REVIEW_END_MS] = int(min(data.item.duration, 10.0) * 1000)
    else:
        st.session_state[state.REVIEW_START_MS] = int(round(prop[0] * 1000))
        st.session_state[state.REVIEW_END_MS] = int(round(prop[1] * 1000))
    st.session_state[state.REVIEW_BASE_ID] = base.id if base else None
    st.session_state[state.REVIEW_BASE_VERSION] = base.version if base else None
    st.session_state[state.REVIEW_EXPECT_EMPTY] = not data.labels_of(kind)
    st.session_state[state.REVIEW_DRAFT_FOR] = tag


def draft() -> tuple[float, float]:
    """The bounds in the editor, seconds."""
    return (float(st.session_state.get(state.REVIEW_START_MS) or 0) / 1000.0,
            float(st.session_state.get(state.REVIEW_END_MS) or 0) / 1000.0)


def set_draft(start: float, end: float) -> None:
    """Put seconds into the editor (before its inputs are drawn, or from a callback)."""
    st.session_state[state.REVIEW_START_MS] = int(round(start * 1000))
    st.session_state[state.REVIEW_END_MS] = int(round(end * 1000))


def _nudge(which: str, delta_ms: int) -> None:
    key = state.REVIEW_START_MS if which == "start" else state.REVIEW_END_MS
    st.session_state[key] = max(0, int(st.session_state.get(key) or 0) + delta_ms)


def _at_playhead(which: str) -> None:
    ph = st.session_state.get(state.REVIEW_PLAYHEAD)
    if ph is None:
        flash("warning", "Play the audio (or type a play-head time) first.")
        return
    key = state.REVIEW_START_MS if which == "start" else state.REVIEW_END_MS
    st.session_state[key] = int(round(float(ph) * 1000))


def bounds_editor() -> None:
    """Millisecond inputs for start and end, nudge buttons and "set at play head"."""
    for which, key, label, setter in (("start", state.REVIEW_START_MS, "Start (ms)", state.REVIEW_SET_START),
                                      ("end", state.REVIEW_END_MS, "End (ms)", state.REVIEW_SET_END)):
        cols = st.columns([2.2, 1, 1, 1, 1, 1.6], vertical_alignment="bottom")
        cols[0].number_input(label, min_value=0, step=100, key=key, help=f"{which} of the region, milliseconds")
        for col, d in zip(cols[1:5], NUDGES_MS):
            col.button(f"{d / 1000:+g} s", key=f"{state.REVIEW_NUDGE}_{which}_{d}", on_click=_nudge, args=(which, d),
                       width="stretch", help=SHORTCUTS.get(f"{state.REVIEW_NUDGE}_{which}_{d}"))
        cols[5].button(f"{which.capitalize()} = play head", key=setter, on_click=_at_playhead, args=(which,),
                       width="stretch", help=SHORTCUTS[setter])
    s, e = draft()
    st.caption(f"Region {s:.3f} – {e:.3f} s ({e - s:.3f} s). Drag on the waveform to select a region.")


def player(engine, item: review.ItemInfo, region: tuple[float, float], view: tuple[float, float]) -> None:
    """Play the region with a pre-roll (and loop); the play head feeds "set at play head"."""
    pre = float(st.session_state.get(state.REVIEW_PREROLL, DEFAULT_PREROLL))
    loop = bool(st.session_state.get(state.REVIEW_LOOP, True))
    s, e = region
    if not (math.isfinite(s) and math.isfinite(e) and 0 <= s < e <= item.duration + 1e-6):
        s, e = view
    if e - s > MAX_CLIP_SECONDS:
        s, e = view[0], min(view[1], view[0] + MAX_CLIP_SECONDS)
    try:
        clip = review.clip_for(item.id, s, e, engine=engine, preroll=pre)
    except ReviewerError as exc:
        st.warning(f"Cannot play this region: {exc}")
        return
    st.caption(f"Plays {clip.start:.2f} – {clip.end:.2f} s: the region with {s - clip.start:.1f} s of pre-roll"
               + (", looped" if loop else ""))
    if audix is not None:
        opts = WaveSurferOptions(height=48, wave_color="#9aa7bd", progress_color="#4a5d7e")
        # one component per item and clip: a reused one kept showing the previous item's clip
        res = audix(clip.data, loop=loop, wavesurfer_options=opts,
                    key=f"{state.REVIEW_PLAYER}.{item.id}.{clip.start:.2f}.{clip.end:.2f}")
        if isinstance(res, dict) and res.get("currentTime") is not None:
            now = round(clip.to_item_time(float(res["currentTime"])), 3)
            if st.session_state.get(state.REVIEW_PLAYER_LAST) != now:
                st.session_state[state.REVIEW_PLAYER_LAST] = now
                st.session_state[state.REVIEW_PLAYHEAD] = now
    else:
        st.audio(clip.data, format=clip.mime, loop=loop)
    st.number_input("Play head (s)", min_value=0.0, max_value=float(item.duration), step=0.1, format="%.3f",
                    key=state.REVIEW_PLAYHEAD, value=None, placeholder="pause the player, or type a time",
                    help="Updated when you pause or seek in the player above.")


def regions(data: review.ReviewData, kind: str, region: tuple[float, float]) -> list[Region]:
    """The overlays: predictions (with confidence), current labels and the region being edited."""
    out: list[Region] = []
    for task, pred in data.predictions.items():
        if pred.has_region:
            out.append(Region(pred.start, pred.end, "prediction", f"predicted {task} · {pred.confidence_text}"))
        out.extend(Region(s, e, "chorus", "predicted chorus") for s, e in pred.chorus)
        out.extend(Region(s, e, "prechorus", "predicted pre-chorus") for s, e in pred.prechorus)
    for lb in data.labels:
        if lb.kind == kind:
            role = "human" if lb.source in ("human", "crowd_resolved") else "truth"
        else:
            role = lb.kind if lb.kind in ("chorus", "prechorus") else "other"
        out.append(Region(lb.start, lb.end, role, f"{lb.kind} label ({lb.source})"))
    s, e = region
    if 0 <= s < e:
        out.append(Region(s, e, "draft", f"your {kind} region"))
    return out


def history(data: review.ReviewData) -> None:
    """Who changed what and when (newest first)."""
    if not data.history:
        st.caption("No labels yet.")
        return
    st.dataframe([h.to_row() for h in data.history], hide_index=True, width="stretch",
                 height=min(36 * (len(data.history) + 1) + 2, 320))


def shortcuts() -> None:
    """Register the keyboard shortcuts (streamlit-shortcuts clicks the buttons by key)."""
    if add_shortcuts is None:
        return
    add_shortcuts(**{key.replace(".", "-"): combo for key, combo in SHORTCUTS.items()})
