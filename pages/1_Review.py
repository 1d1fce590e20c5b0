"""Review: annotators check the predicted intro / chorus / hook of an item, fix its bounds, accept or reject.

Reviewers (engineers, PMs, admins) also settle crowd disagreements here (sidebar toggle, or ``?crowd_task=ID``).
"""

from __future__ import annotations

import streamlit as st

from reviewer.errors import ReviewerError, StaleEditError
from reviewer.services import review
from reviewer.services.audio_clips import DEFAULT_PREROLL
from reviewer.ui import disagreement
from reviewer.ui import review_widgets as w
from reviewer.ui import state
from reviewer.ui.resources import engine, settings
from reviewer.ui.waveform import box_range, spectrogram_figure, timeline_figure, waveform_figure

st.set_page_config(page_title="Review · reviewer", page_icon="🎧", layout="wide")
eng, cfg = engine(), settings()
ss = st.session_state

# ---------------------------------------------------------------- crowd disagreements (reviewers only)
disagreement.open_from_query()
if st.sidebar.toggle("Crowd disagreement queue", key=state.REVIEW_CROWD_MODE,
                     help="Tasks whose crowd answers disagree, worst first: compare them and resolve (log-in needed)"):
    disagreement.section(eng, cfg)
    st.stop()

# ---------------------------------------------------------------- which item
if state.REVIEW_ITEM not in ss and "item" in st.query_params:
    ss[state.REVIEW_ITEM] = st.query_params["item"]
current = w.current_item()
first = w.picker(eng, current=current)
st.sidebar.text_input("Your name", key=state.REVIEW_AUTHOR, placeholder="shown in the history")
st.sidebar.number_input("Pre-roll (s)", 0.0, 30.0, DEFAULT_PREROLL, 0.5, key=state.REVIEW_PREROLL)
st.sidebar.checkbox("Loop the region", value=True, key=state.REVIEW_LOOP)
if current is None and first is not None:
    ss[state.REVIEW_ITEM] = current = first
if current is not None and st.query_params.get("item") != str(current):
    st.query_params["item"] = str(current)

st.title("Review")
w.show_flash()
if current is None:
    st.info("The library is empty (or no item matches the filters). Build the demo library on the home page, "
            "or ingest media with `python -m reviewer ingest PATH`.")
    st.stop()
try:
    data = review.review_data(current, engine=eng, settings=cfg)
except ReviewerError as exc:
    st.error(f"Cannot open item {current!r}: {exc}. Pick another item in the sidebar.")
    ss.pop(state.REVIEW_ITEM, None)
    st.stop()

item = data.item
badge = "✓ reviewed" if data.reviewed else "not reviewed yet"
st.subheader(f"{item.display_name}")
st.caption(f"#{item.id} · {item.kind} · {item.duration:.1f} s · pipeline: {item.status} · {badge} · `{item.key}`")
for msg in data.messages:
    st.info(msg)
st.markdown("**1.** Look and listen: the orange box is the model's guess, blue/green boxes are labels, the red dashed "
            "box is the region you are editing. **2.** Fix the bounds: drag on the waveform, type milliseconds, "
            "nudge, or set them at the play head. **3.** *Accept* the guess, *Fix & accept* your region, or *Reject*.")

# ---------------------------------------------------------------- what is being edited
c1, c2, c3 = st.columns([1, 2, 3])
types = list(review.LABEL_TYPES)
if (ss.get(state.REVIEW_DRAFT_FOR) or "").split(":")[0] != str(item.id):
    ss[state.REVIEW_LABEL_TYPE] = data.primary_kind if data.primary_kind in types else "other"
    ss[state.REVIEW_TARGET] = next((lb.id for lb in data.labels_of(ss[state.REVIEW_LABEL_TYPE])), 0)
    ss.pop(state.REVIEW_NOTE, None)  # a note belongs to one item
if state.REVIEW_RELOAD in ss:  # after a save: edit the row just saved (its note went with it)
    ss[state.REVIEW_TARGET] = ss.pop(state.REVIEW_RELOAD)
    ss.pop(state.REVIEW_NOTE, None)
kind = c1.selectbox("Label type", types, key=state.REVIEW_LABEL_TYPE)
existing = {lb.id: lb for lb in data.labels_of(kind)}
targets = [0] + list(existing)
if ss.get(state.REVIEW_TARGET) not in targets:
    if (ss.get(state.REVIEW_DRAFT_FOR) or "").startswith(f"{item.id}:{kind}:") and ss.get(state.REVIEW_TARGET):
        targets.append(ss[state.REVIEW_TARGET])  # the label changed under us: keep the user's edit, saving will say so
    else:
        ss[state.REVIEW_TARGET] = targets[1] if len(targets) > 1 else 0
target = c2.selectbox(
    "Editing", targets, key=state.REVIEW_TARGET,
    format_func=lambda i: "a new region" if i == 0 else (
        f"{existing[i].source} label #{i} · {existing[i].start:.2f}–{existing[i].end:.2f} s · v{existing[i].version}"
        if i in existing else f"label #{i} (changed by someone else: reload)"))
w.ensure_draft(data, kind, target)
pred = data.prediction_for(kind)
if pred is None:
    c3.markdown(f"**Prediction:** no prediction yet for *{kind}*.")
elif not pred.has_region and kind != "chorus":
    c3.markdown(f"**Prediction:** no {kind} in this item ({pred.confidence_text}, {pred.model_version}).")
else:
    where = f"{pred.start:.2f}–{pred.end:.2f} s" if pred.has_region else f"{len(pred.chorus)} chorus section(s)"
    c3.markdown(f"**Prediction:** {where} · {pred.confidence_text} · {pred.model_version} ({pred.method})")

# ---------------------------------------------------------------- waveform, zoom, timeline
region = w.draft()
dur = max(item.duration, 0.01)
zoom = st.slider("Zoom (visible range, s)", 0.0, float(round(dur, 2)), (0.0, float(round(dur, 2))), step=0.5,
                 key=state.REVIEW_ZOOM)
view = (float(zoom[0]), float(zoom[1])) if zoom[1] > zoom[0] else (0.0, dur)
if data.waveform_error:
    st.warning(data.waveform_error)
else:
    peaks = data.overview if view == (0.0, round(dur, 2)) else review.waveform_window(item.id, *view, engine=eng,
                                                                                       settings=cfg)
    fig = waveform_figure(peaks.times, peaks.mins, peaks.maxs, view=view, regions=w.regions(data, kind, region),
                          playhead=ss.get(state.REVIEW_PLAYHEAD))
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("box",), key=state.REVIEW_WAVE_CHART,
                            config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d"]})
    box = box_range(event)
    if box is not None and ss.get(state.REVIEW_LAST_BOX) != f"{box[0]:.3f}:{box[1]:.3f}":
        ss[state.REVIEW_LAST_BOX] = f"{box[0]:.3f}:{box[1]:.3f}"
        w.set_draft(max(0.0, box[0]), min(dur, box[1]))
        st.rerun()
if st.checkbox("Show the spectrogram of the visible range", key=state.REVIEW_SPECTRO):
    try:
        spec = review.spectrogram_window(item.id, *view, engine=eng)
        st.plotly_chart(spectrogram_figure(spec.times, spec.freqs, spec.db, view=view), config={"displaylogo": False})
    except ReviewerError as exc:
        st.info(str(exc))
tl = data.timeline
if tl is None:
    st.caption(data.timeline_note or "No segment timeline.")
else:
    scores = (pred.segment_times, pred.segment_scores) if pred is not None and pred.segment_scores else None
    st.caption(f"Segments ({len(tl)} × 3 s, hop {tl.hop:g} s) coloured by importance; ▼ = chosen for the model "
               f"({int(tl.chosen.sum())}, {tl.strategy})" + ("; orange line = model score" if scores else ""))
    st.plotly_chart(timeline_figure(tl.starts, tl.ends, tl.importance, tl.chosen, tl.reasons, hop=tl.hop, view=view,
                                    parts=dict(tl.parts), scores=scores), config={"displaylogo": False})

# ---------------------------------------------------------------- player and bounds
left, right = st.columns([1, 1.3])
with left:
    st.markdown("**Listen**")
    w.player(eng, item, region, view)
with right:
    st.markdown(f"**Your {kind} region**")
    w.bounds_editor()

with st.form(state.REVIEW_FORM, border=True):
    st.text_input("Note (optional)", key=state.REVIEW_NOTE, placeholder="e.g. intro starts after the cold open")
    b1, b2, b3, _ = st.columns([1, 1, 1, 2])
    accept_label = "✔ Confirm label" if ss.get(state.REVIEW_BASE_ID) else "✔ Accept prediction"
    do_accept = b1.form_submit_button(accept_label, key=state.REVIEW_ACCEPT, help="alt+a: save the "
                                      "shown prediction (or label) as it is", width="stretch")
    do_fix = b2.form_submit_button("✎ Fix & accept", key=state.REVIEW_FIX, type="primary", width="stretch",
                                   help="alt+f: save your region above")
    do_reject = b3.form_submit_button("✖ Reject", key=state.REVIEW_REJECT, width="stretch",
                                      help="alt+r: the region is wrong / there is no such part")
if do_accept or do_fix or do_reject:
    start, end = w.draft()
    base_id, base_ver = ss.get(state.REVIEW_BASE_ID), ss.get(state.REVIEW_BASE_VERSION)
    expect_empty = base_id is None and bool(ss.get(state.REVIEW_EXPECT_EMPTY))
    common = {"engine": eng, "item_id": item.id, "kind": kind, "author": ss.get(state.REVIEW_AUTHOR),
              "note": ss.get(state.REVIEW_NOTE), "base_label_id": base_id, "base_version": base_ver}
    try:
        if do_accept:
            saved = review.accept(prediction_id=pred.id if pred is not None and base_id is None else None,
                                  expect_no_label=expect_empty, **common)
        elif do_fix:
            saved = review.save_correction(start=start, end=end, expect_no_label=expect_empty, **common)
        else:
            saved = review.reject(start=start, end=end, **common)
    except StaleEditError as exc:
        st.error(f"Not saved — someone else changed this label first. {exc}")
    except ReviewerError as exc:
        st.error(f"Not saved: {exc}")
    else:
        w.flash("success", f"Saved: {saved.kind} {saved.start:.3f}–{saved.end:.3f} s, {saved.status} "
                           f"(label #{saved.id} v{saved.version}).")
        ss[state.REVIEW_RELOAD] = saved.id if saved.status != "rejected" else 0
        ss[state.REVIEW_DRAFT_FOR] = f"{item.id}:reload"
        st.rerun()

# ---------------------------------------------------------------- history and undo
h1, h2 = st.columns([4, 1], vertical_alignment="bottom")
h1.markdown("**History** — who changed what and when (newest first)")
if h2.button("↶ Undo my last change", key=state.REVIEW_UNDO, help="alt+z", width="stretch"):
    try:
        undone = review.undo(engine=eng, item_id=item.id, author=ss.get(state.REVIEW_AUTHOR))
    except ReviewerError as exc:
        st.error(f"Cannot undo: {exc}")
    else:
        w.flash("success", f"Undone ({undone.note}).")
        ss[state.REVIEW_RELOAD] = undone.id if undone.status != "rejected" else 0
        ss[state.REVIEW_DRAFT_FOR] = f"{item.id}:reload"
        st.rerun()
w.history(data)
st.caption("Shortcuts: alt+a accept · alt+f fix & accept · alt+r reject · alt+n next unreviewed · alt+z undo · "
           "alt+j/k start ∓0.1 s · alt+u/i end ∓0.1 s · alt+s/e start/end at the play head")
w.shortcuts()
