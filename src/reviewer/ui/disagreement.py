"""The Review page's crowd disagreement queue: pick a task, compare every answer with the consensus, resolve it.

Only engineers, PMs and admins get past the services
(:func:`reviewer.services.crowd_review.disagreement_queue`,
:mod:`reviewer.services.crowd_resolve`); an annotator sees the services'
refusal and nothing else. The view the reviewer resolves from (the task's
answer ids and current resolution) is captured when the task is opened, so a
resolution made on an out-of-date view is refused by the service.
"""

from __future__ import annotations

import logging

import streamlit as st

from reviewer.errors import ReviewerError, StaleEditError
from reviewer.metrics.intervals import iou
from reviewer.services import crowd, crowd_resolve, crowd_review, review
from reviewer.services.auth import PermissionDeniedError, SessionUser
from reviewer.ui import crowd_widgets, state
from reviewer.ui import review_widgets as rw
from reviewer.ui.waveform import ANSWER_COLOURS, Region, box_range, timeline_figure, waveform_figure

log = logging.getLogger(__name__)

CHOICE_TEXT = {"consensus": "Accept the consensus", "annotator": "Use one annotator's region",
               "corrected": "Set a corrected region"}
_LANES = (0.52, 0.98)  # answers are drawn as lanes in the upper half of the waveform


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(float(seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"


def _span(region: tuple[float, float] | None) -> str:
    return "none" if region is None else f"{_fmt(region[0])}–{_fmt(region[1])} ({region[1] - region[0]:.1f} s)"


def open_from_query() -> None:
    """``?crowd_task=ID`` opens the queue on that task (links from the Crowd page)."""
    ss = st.session_state
    raw = st.query_params.get("crowd_task")
    if raw is not None and str(raw).strip().isdigit() and ss.get(state.REVIEW_CROWD_TASK) is None:
        ss[state.REVIEW_CROWD_MODE] = True
        ss[state.REVIEW_CROWD_TASK] = int(str(raw).strip())


def overlays(d: crowd_resolve.DisagreementDetail, *, draft: tuple[float, float] | None = None) -> list[Region]:
    """Consensus (full height), each answer in its own lane and colour, the resolution and the draft."""
    out: list[Region] = []
    if d.consensus is not None:
        out.append(Region(*d.consensus, "consensus", f"consensus ({d.consensus_source})"))
    if d.resolution is not None:
        r = d.resolution
        out.append(Region(r.start, r.end, "resolved", f"resolved by {r.author}"))
    regions = [a for a in d.answers if a.start is not None]
    lo, hi = _LANES
    step = (hi - lo) / max(1, len(regions))
    for i, a in enumerate(regions):
        flag = "" if a.valid else (" · too fast" if a.too_fast else " · suspended")
        out.append(Region(a.start, a.end, f"answer{i % len(ANSWER_COLOURS)}", f"{a.user_name}{flag}",
                          y0=lo + i * step + 0.01, y1=lo + (i + 1) * step - 0.01))
    if draft is not None and draft[1] > draft[0]:
        out.append(Region(*draft, "draft", "your corrected region"))
    return out


def _seen(d: crowd_resolve.DisagreementDetail) -> str:
    return f"{d.task_id}:{','.join(map(str, d.answer_ids))}:{d.resolution_id or 0}"


def _parse_seen(tag: str) -> tuple[tuple[int, ...], int | None]:
    _, ids, res = tag.split(":")
    return tuple(int(i) for i in ids.split(",") if i), (int(res) or None)


def _open(d: crowd_resolve.DisagreementDetail) -> None:
    """Capture what the reviewer is looking at and preset the form (on opening a task, or after a reload)."""
    ss = st.session_state
    ss[state.REVIEW_CROWD_SEEN] = _seen(d)
    base = d.resolution and (d.resolution.start, d.resolution.end) or d.consensus or (0.0, min(d.duration, 15.0))
    ss[state.REVIEW_CROWD_START], ss[state.REVIEW_CROWD_END] = round(base[0], 2), round(base[1], 2)
    ss[state.REVIEW_CROWD_CHOICE] = "consensus" if d.consensus is not None else "annotator"
    for key in (state.REVIEW_CROWD_ANSWER, state.REVIEW_CROWD_LAST_BOX, state.REVIEW_CROWD_LISTEN,
                state.REVIEW_CROWD_COMMENT):
        ss.pop(key, None)


def _reload() -> None:
    st.session_state.pop(state.REVIEW_CROWD_SEEN, None)


def _pick_task() -> None:
    st.session_state.pop(state.REVIEW_CROWD_SEEN, None)


def queue(engine, user: SessionUser) -> int | None:
    """Pool and threshold filters, the queue (worst first) and the task picker; returns the chosen task id."""
    ss = st.session_state
    pools = crowd.pool_summary(user, engine=engine)  # raises PermissionDeniedError for annotators
    names = {0: "every pool"} | {p.pool_id: p.name for p in pools}
    c1, c2 = st.columns([1, 2])
    pool_id = c1.selectbox("Pool", list(names), key=state.REVIEW_CROWD_POOL, format_func=names.get)
    thr = c2.slider("List tasks whose mean pairwise IoU is below", 0.0, 1.0, 0.5, 0.05,
                    key=state.REVIEW_CROWD_THRESHOLD)
    rows = crowd_review.disagreement_queue(user, engine=engine, pool_id=pool_id or None, threshold=thr)
    current = ss.get(state.REVIEW_CROWD_TASK)
    if not rows:
        st.success(f"No unresolved crowd task has a mean pairwise IoU below {thr:.2f}: nothing to settle.")
    else:
        st.caption(f"{len(rows)} unresolved task(s) below {thr:.2f}, worst agreement first.")
        st.dataframe([{"task": r.task_id, "item": r.title or r.item_key, "genre": r.genre, "answers": r.n_answers,
                       "mean IoU": round(r.mean_iou, 3), "alpha": round(r.alpha, 3),
                       "regions": "; ".join(f"{n} {_fmt(s)}–{_fmt(e)}" for n, s, e in r.regions)} for r in rows],
                     hide_index=True, width="stretch", height=min(36 * (len(rows) + 1) + 2, 250))
    ids = [r.task_id for r in rows]
    labels = {r.task_id: f"#{r.task_id} · {r.title or r.item_key} · IoU {r.mean_iou:.2f} · {r.n_answers} answers"
              for r in rows}
    if isinstance(current, int) and current not in labels:
        ids.insert(0, current)
        labels[current] = f"#{current} (not in the queue: resolved, or above the threshold)"
    if not ids:
        return None
    if current not in labels:
        ss[state.REVIEW_CROWD_TASK] = ids[0]
    return st.selectbox("Task to resolve", ids, key=state.REVIEW_CROWD_TASK, format_func=labels.get,
                        on_change=_pick_task)


def _waveform(engine, settings, d: crowd_resolve.DisagreementDetail, draft) -> None:
    ss = st.session_state
    dur = max(d.duration, 0.01)
    try:
        data = review.review_data(d.item_id, engine=engine, settings=settings)
    except ReviewerError as exc:
        st.warning(f"The waveform is not available: {exc}")
        return
    if data.waveform_error:
        st.warning(data.waveform_error)
    else:
        peaks = data.overview
        fig = waveform_figure(peaks.times, peaks.mins, peaks.maxs, view=(0.0, dur), regions=overlays(d, draft=draft),
                              height=260)
        event = st.plotly_chart(fig, on_select="rerun", selection_mode=("box",), key=state.REVIEW_CROWD_WAVE,
                                config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d"]})
        box = box_range(event)
        if box is not None and ss.get(state.REVIEW_CROWD_LAST_BOX) != f"{box[0]:.2f}:{box[1]:.2f}":
            ss[state.REVIEW_CROWD_LAST_BOX] = f"{box[0]:.2f}:{box[1]:.2f}"
            ss[state.REVIEW_CROWD_START], ss[state.REVIEW_CROWD_END] = round(max(0.0, box[0]), 2), round(
                min(dur, box[1]), 2)
            ss[state.REVIEW_CROWD_CHOICE] = "corrected"
            st.rerun()
    tl = data.timeline
    if tl is not None:
        fig = timeline_figure(tl.starts, tl.ends, tl.importance, tl.chosen, tl.reasons, hop=tl.hop, view=(0.0, dur),
                              parts=dict(tl.parts), height=130)
        if d.consensus is not None:
            fig.add_vrect(x0=d.consensus[0], x1=d.consensus[1], fillcolor="rgba(44,160,44,0.15)",
                          line={"color": "rgb(20,120,20)", "dash": "dash", "width": 1})
        for i, a in enumerate(x for x in d.answers if x.start is not None):
            fig.add_shape(type="line", x0=a.start, x1=a.end, y0=1.02 + 0.05 * i, y1=1.02 + 0.05 * i, yref="paper",
                          line={"color": ANSWER_COLOURS[i % len(ANSWER_COLOURS)], "width": 4})
        st.caption("Segment timeline (importance); the dashed green band is the consensus, the coloured bars above "
                   "it the answers.")
        st.plotly_chart(fig, config={"displaylogo": False})


def _answers_table(d: crowd_resolve.DisagreementDetail) -> None:
    rows = []
    for a in d.answers:
        status = ("counted" if a.valid else f"skipped: {a.skip_reason}" if a.start is None
                  else "too fast (not counted)" if a.too_fast else "annotator suspended (not counted)")
        rows.append({"annotator": a.user_name, "start": _fmt(a.start), "end": _fmt(a.end),
                     "length (s)": None if a.start is None else round(a.end - a.start, 1),
                     "IoU with consensus": (None if a.start is None or d.consensus is None
                                            else round(iou((a.start, a.end), d.consensus), 3)),
                     "status": status, "answered": f"{a.created_at:%Y-%m-%d %H:%M}"})
    st.dataframe(rows, hide_index=True, width="stretch")


def _player(engine, d: crowd_resolve.DisagreementDetail, draft) -> None:
    options: dict[str, tuple[str, tuple[float, float]]] = {}
    if d.consensus is not None:
        options["consensus"] = ("the consensus", d.consensus)
    for a in d.answers:
        if a.start is not None:
            options[f"answer:{a.answer_id}"] = (f"{a.user_name}'s region", (a.start, a.end))
    if draft[1] > draft[0]:
        options["corrected"] = ("your corrected region", draft)
    if not options:
        return
    key = st.selectbox("Listen to", list(options), key=state.REVIEW_CROWD_LISTEN,
                       format_func=lambda k: f"{options[k][0]} · {_span(options[k][1])}")
    s, e = options.get(key, next(iter(options.values())))[1]
    try:
        clip = review.clip_for(d.item_id, s, e, engine=engine, preroll=2.0)
    except ReviewerError as exc:
        st.warning(f"Cannot play this region: {exc}")
        return
    st.caption(f"Plays {_fmt(clip.start)}–{_fmt(clip.end)} (2 s of pre-roll).")
    st.audio(clip.data, format=clip.mime)


def _resolve_form(engine, user: SessionUser, d: crowd_resolve.DisagreementDetail, *, reload_shown: bool) -> None:
    ss = st.session_state
    picks = {a.answer_id: a for a in d.answers if a.start is not None}
    choices = [c for c in crowd_resolve.RESOLUTION_CHOICES
               if not (c == "consensus" and d.consensus is None) and not (c == "annotator" and not picks)]
    if ss.get(state.REVIEW_CROWD_CHOICE) not in choices:
        ss[state.REVIEW_CROWD_CHOICE] = choices[0]
    choice = st.radio("Resolution", choices, key=state.REVIEW_CROWD_CHOICE, horizontal=True,
                      format_func=CHOICE_TEXT.get)
    answer_id = None
    if choice == "consensus":
        st.caption(f"The consensus: {_span(d.consensus)}.")
    elif choice == "annotator":
        ids = list(picks)
        if ss.get(state.REVIEW_CROWD_ANSWER) not in ids:
            ss[state.REVIEW_CROWD_ANSWER] = ids[0]
        answer_id = st.selectbox("Annotator", ids, key=state.REVIEW_CROWD_ANSWER,
                                 format_func=lambda i: f"{picks[i].user_name} · {_span((picks[i].start, picks[i].end))}"
                                 + ("" if picks[i].valid else " · not counted"))
    else:
        c1, c2 = st.columns(2)
        c1.number_input("Start (s)", min_value=0.0, max_value=float(d.duration), step=0.5, format="%.2f",
                        key=state.REVIEW_CROWD_START)
        c2.number_input("End (s)", min_value=0.0, max_value=float(d.duration), step=0.5, format="%.2f",
                        key=state.REVIEW_CROWD_END)
        st.caption("Or drag across the waveform above.")
    st.text_input("Note (optional)", key=state.REVIEW_CROWD_COMMENT, placeholder="why this region")
    if not st.button("Resolve", key=state.REVIEW_CROWD_RESOLVE, type="primary"):
        return
    seen_answers, seen_res = _parse_seen(ss[state.REVIEW_CROWD_SEEN])
    try:
        res = crowd_resolve.resolve_disagreement(
            user, engine=engine, task_id=d.task_id, choice=choice, seen_answers=seen_answers,
            seen_resolution=seen_res, answer_id=answer_id, start=ss.get(state.REVIEW_CROWD_START),
            end=ss.get(state.REVIEW_CROWD_END), comment=ss.get(state.REVIEW_CROWD_COMMENT))
    except StaleEditError as exc:
        st.error(f"Not saved — the task changed while you were looking at it. {exc}")
        if not reload_shown:
            st.button("Reload the task", key=state.REVIEW_CROWD_RELOAD, on_click=_reload)
        return
    except ReviewerError as exc:
        st.error(f"Not saved: {exc}")
        return
    who = f" ({res.annotator}'s region)" if res.annotator else ""
    rw.flash("success", f"Task #{d.task_id} resolved: {CHOICE_TEXT[res.choice].lower()}{who}, "
                        f"{_span((res.start, res.end))}, saved as {res.kind} label #{res.label_id} by {res.author}.")
    for key in (state.REVIEW_CROWD_TASK, state.REVIEW_CROWD_SEEN):
        ss.pop(key, None)
    st.query_params.pop("crowd_task", None)
    st.rerun()


def section(engine, settings) -> None:
    """The whole disagreement view: log-in, queue, the chosen task, its resolution."""
    ss = st.session_state
    st.title("Review · crowd disagreements")
    rw.show_flash()
    user = crowd_widgets.login(engine, purpose="settle crowd disagreements (engineers, PMs and admins)")
    if user is None:
        return
    try:
        task_id = queue(engine, user)
    except PermissionDeniedError as exc:
        st.error(f"{exc}. Annotators take tasks on the Crowd page; other people's answers are never shown to them.")
        return
    except ReviewerError as exc:
        st.error(str(exc))
        return
    if task_id is None:
        return
    try:
        d = crowd_resolve.disagreement_detail(user, engine=engine, task_id=task_id)
    except ReviewerError as exc:
        st.error(f"Cannot open task #{task_id}: {exc}")
        ss.pop(state.REVIEW_CROWD_TASK, None)
        return
    reload_shown = False
    if not str(ss.get(state.REVIEW_CROWD_SEEN) or "").startswith(f"{d.task_id}:"):
        _open(d)
    elif ss[state.REVIEW_CROWD_SEEN] != _seen(d):
        reload_shown = True
        st.warning("New answers or a resolution arrived since you opened this task: the figures below are current, "
                   "but resolving needs a reload.")
        st.button("Reload the task", key=state.REVIEW_CROWD_RELOAD, on_click=_reload)
    st.subheader(f"Task #{d.task_id}: {d.title or d.item_key}")
    st.caption(f"{d.pool_name} · {d.genre or 'no genre'} · {_fmt(d.duration)} · label kind *{d.label_kind}* · "
               f"[open the item in Review](Review?item={d.item_id})")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Mean pairwise IoU", f"{d.mean_iou:.2f}")
    m2.metric("Krippendorff's α", "—" if d.alpha != d.alpha else f"{d.alpha:.2f}")
    m3.metric("Counted answers", f"{len(d.valid_answers)} of {len(d.answers)}")
    m4.metric("Consensus", "none" if d.consensus is None else f"{_fmt(d.consensus[0])}–{_fmt(d.consensus[1])}",
              help="crowd-kit majority vote: from the last aggregation (label) or computed now")
    if d.resolution is not None:
        r = d.resolution
        st.info(f"Already resolved by **{r.author}** ({r.created_at:%Y-%m-%d %H:%M} UTC): {CHOICE_TEXT.get(r.choice, r.choice).lower()}, "
                f"{_span((r.start, r.end))}. Resolving again replaces it.")
    draft = (float(ss.get(state.REVIEW_CROWD_START) or 0.0), float(ss.get(state.REVIEW_CROWD_END) or 0.0))
    shown = draft if ss.get(state.REVIEW_CROWD_CHOICE) == "corrected" else None
    _waveform(engine, settings, d, shown)
    _answers_table(d)
    left, right = st.columns([1, 1.3])
    with left:
        st.markdown("**Listen**")
        _player(engine, d, draft)
    with right:
        st.markdown("**Resolve**")
        _resolve_form(engine, user, d, reload_shown=reload_shown)
