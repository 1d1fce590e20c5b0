"""Crowd: annotators mark the most interesting region of a track (or skip it); reviewers watch pools and agreement."""

from __future__ import annotations

import time

import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.services import crowd, crowd_review, review
from reviewer.services.auth import SessionUser
from reviewer.ui import crowd_widgets as w
from reviewer.ui import state
from reviewer.ui.resources import engine, settings
from reviewer.ui.waveform import box_range, waveform_figure

st.set_page_config(page_title="Crowd · reviewer", page_icon="🎧", layout="wide")
eng, cfg = engine(), settings()
ss = st.session_state


@st.cache_data(max_entries=4, show_spinner="Loading the track ...")
def _clip(item_id: int, duration: float) -> tuple[bytes, str]:
    clip = review.clip_for(item_id, 0.0, duration, engine=eng, preroll=0.0)  # WAV: libsndfile's Vorbis encoder crashed on full tracks
    return clip.data, clip.mime


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(float(seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"


def task_view(user: SessionUser) -> None:
    """Take tasks: one region per track, or a skip with a reason."""
    try:
        stats = crowd.my_stats(user, engine=eng)
        pools = crowd.available_pools(user, engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    st.caption(f"Your answers so far: {stats.answered} ({stats.with_region} regions, {stats.skipped} skipped"
               + (f", {stats.too_fast} flagged as too fast" if stats.too_fast else "") + ").")
    if not pools:
        st.info("There are no open task pools yet. An engineer creates one with "
                "`python -m reviewer crowd create-pool NAME`.")
        return
    names = {0: "any pool"} | {p.pool_id: f"{p.name} ({p.kind}, {', '.join(p.genres) or 'all genres'})" for p in pools}
    pool_id = st.selectbox("Pool", list(names), key=state.CROWD_POOL, format_func=names.get)
    try:
        task = crowd.next_task(user, engine=eng, pool_id=pool_id or None)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    if task is None:
        st.success("All done: there is no task left for you in this pool. Thank you!")
        return
    if ss.get(state.CROWD_TASK) != task.task_id:  # a new task: reset the timer and the region
        ss[state.CROWD_TASK], ss[state.CROWD_SHOWN_AT] = task.task_id, time.time()
        w.set_region(0.0, 0.0)
        for key in (state.CROWD_PLAYHEAD, state.CROWD_LAST_BOX):
            ss.pop(key, None)
    dur = float(task.duration)
    what = " · ".join(x for x in (task.title, task.artist, task.genre) if x) or task.item_key
    st.subheader(f"Task #{task.task_id}: {what}")
    st.markdown(f"**Listen to the track and mark its most interesting part** — one region of "
                f"**{task.min_region:g}–{task.max_region:g} s** (the part you would play to make someone like the "
                f"song). Drag across the waveform, or pause the player and use *Start/End = play head*, or type "
                f"the times. If you cannot answer, skip with a reason below.")
    elapsed = time.time() - float(ss.get(state.CROWD_SHOWN_AT) or time.time())
    st.caption(f"Track length {_fmt_time(dur)} · please listen at least **{task.min_listen_seconds:.0f} s** before "
               f"you submit (answers sooner are saved but flagged and not counted) · on this task for {elapsed:.0f} s")

    start, end = w.draft_region()
    length = end - start
    ok = task.min_region - 1e-6 <= length <= task.max_region + 1e-6 and 0 <= start < end <= dur + 1e-6
    try:
        peaks = review.waveform_window(task.item_id, 0.0, dur, engine=eng, settings=cfg)
    except (ReviewerError, OSError) as exc:
        st.warning(f"The waveform is not available ({exc}); use the player and the time inputs.")
    else:
        fig = waveform_figure(peaks.times, peaks.mins, peaks.maxs, view=(0.0, dur),
                              regions=w.draft_regions(start, end, ok=ok), playhead=ss.get(state.CROWD_PLAYHEAD),
                              height=200)
        event = st.plotly_chart(fig, on_select="rerun", selection_mode=("box",), key=state.CROWD_WAVE_CHART,
                                config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d"]})
        box = box_range(event)
        if box is not None and ss.get(state.CROWD_LAST_BOX) != f"{box[0]:.2f}:{box[1]:.2f}":
            ss[state.CROWD_LAST_BOX] = f"{box[0]:.2f}:{box[1]:.2f}"
            s, e = max(0.0, box[0]), min(dur, box[1])
            if e - s > task.max_region:
                e = s + task.max_region
                w.flash(state.CROWD_FLASH, "info", f"The selection was longer than {task.max_region:g} s: "
                                                   f"trimmed to {_fmt_time(s)}–{_fmt_time(e)}.")
            w.set_region(s, e)
            st.rerun()

    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Listen**")
        try:
            data, mime = _clip(task.item_id, dur)
        except ReviewerError as exc:
            st.warning(f"Cannot play this track: {exc}. Skip it with *broken audio*.")
        else:
            w.player(data, mime, duration=dur)
    with right:
        st.markdown("**Your region**")
        c1, c2 = st.columns(2)
        c1.number_input("Start (s)", min_value=0.0, max_value=dur, step=0.5, format="%.2f", key=state.CROWD_START)
        c2.number_input("End (s)", min_value=0.0, max_value=dur, step=0.5, format="%.2f", key=state.CROWD_END)
        c1.button("Start = play head", key=state.CROWD_MARK_START, on_click=w.mark, args=("start",), width="stretch")
        c2.button("End = play head", key=state.CROWD_MARK_END, on_click=w.mark, args=("end",), width="stretch")
        if end <= start:
            st.caption("No region chosen yet.")
        elif ok:
            st.caption(f"✓ {_fmt_time(start)} – {_fmt_time(end)} ({length:.1f} s)")
        else:
            st.warning(f"{_fmt_time(start)} – {_fmt_time(end)} is {length:.1f} s long: choose "
                       f"{task.min_region:g}–{task.max_region:g} s.")
        submit = st.button("Submit my region", key=state.CROWD_SUBMIT, type="primary", width="stretch")

    with st.expander("Skip this track"):
        reason = st.radio("Reason", list(task.skip_reasons), key=state.CROWD_SKIP_REASON,
                          format_func=lambda r: w.SKIP_TEXT.get(r, r))
        skip = st.button("Skip", key=state.CROWD_SKIP)

    if submit or skip:
        listened = time.time() - float(ss.get(state.CROWD_SHOWN_AT) or time.time())
        if submit and end <= start:
            st.error("Choose a region first: drag on the waveform, use the play-head buttons or type the times.")
            return
        try:
            if skip:
                receipt = crowd.submit_answer(user, engine=eng, task_id=task.task_id, skip_reason=reason,
                                              listened_seconds=listened)
            else:
                receipt = crowd.submit_answer(user, engine=eng, task_id=task.task_id, start=start, end=end,
                                              listened_seconds=listened)
        except ReviewerError as exc:
            st.error(f"Not saved: {exc}")
            return
        level = "warning" if receipt.too_fast or "suspended" in receipt.message else "success"
        w.flash(state.CROWD_FLASH, level, f"Task #{task.task_id}: {receipt.message}.")
        ss.pop(state.CROWD_TASK, None)
        st.rerun()


def _review_link(item_id: int) -> str:
    return f"Review?item={item_id}"


def reviewer_view(user: SessionUser) -> None:
    """Pools, per-task agreement, the disagreement queue, skills and suspensions, aggregation."""
    try:
        pools = crowd.pool_summary(user, engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    if not pools:
        st.info("No task pools yet. Create one with `python -m reviewer crowd create-pool NAME "
                "[--genre pop --per-genre 10 --overlap 3 --golden-from hook]`.")
        return
    st.dataframe([{"id": p.pool_id, "pool": p.name, "kind": p.kind, "label": p.label_kind,
                   "genres": f"{len(p.per_genre)}: " + ", ".join(f"{g} {n}" for g, n in p.per_genre.items()), "tasks": p.n_tasks,
                   "golden": p.n_golden, "done": p.n_done, "answers": p.n_answers,
                   "open": "yes" if p.active else "closed"} for p in pools], hide_index=True, width="stretch")
    names = {p.pool_id: p.name for p in pools}
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    busiest = max(range(len(pools)), key=lambda i: pools[i].n_answers)  # open on the pool with the most answers
    pool_id = c1.selectbox("Pool", list(names), index=busiest, key=state.CROWD_ADMIN_POOL, format_func=names.get)
    method = c2.selectbox("Aggregation", ["mv", "em", "rasa"], key=state.CROWD_METHOD,
                          format_func={"mv": "majority vote", "em": "EM", "rasa": "RASA"}.get)
    if c3.button("Run aggregation", key=state.CROWD_AGGREGATE, type="primary", width="stretch"):
        try:
            res = crowd_review.aggregate_pool(user, engine=eng, pool_id=pool_id, method=method)
        except ReviewerError as exc:
            st.error(f"Aggregation failed: {exc}")
        else:
            st.success(f"{len(res.consensus)} consensus region(s), {res.labels_written} crowd label(s) written"
                       + (f"; newly suspended: {', '.join(res.newly_suspended)}" if res.newly_suspended else "")
                       + (f"; {len(res.skipped_tasks)} task(s) without a consensus (too few answers, or answers "
                          "that tie: settle those in the disagreement queue)" if res.skipped_tasks else ""))
    pool = next(p for p in pools if p.pool_id == pool_id)
    target = float(pool.settings.get("target_agreement", 0.5))

    links = {"review": st.column_config.LinkColumn("review", display_text="open in Review")}
    tab_q, tab_all, tab_people = st.tabs(["Disagreement queue", "Agreement per task", "Annotators"])
    with tab_q:
        thr = st.slider("List tasks whose mean pairwise IoU is below", 0.0, 1.0, target, 0.05,
                        key=state.CROWD_THRESHOLD)
        try:
            queue = crowd_review.disagreement_queue(user, engine=eng, pool_id=pool_id, threshold=thr)
        except ReviewerError as exc:
            st.error(str(exc))
            queue = []
        if not queue:
            st.caption("No task with two or more answers disagrees that much.")
        else:
            st.dataframe([{"task": r.task_id, "item": r.item_key, "genre": r.genre, "answers": r.n_answers,
                           "mean IoU": round(r.mean_iou, 3), "alpha": round(r.alpha, 3),
                           "regions": "; ".join(f"{n} {s:.0f}–{e:.0f}" if s is not None else f"{n} skip"
                                                for n, s, e in r.regions),
                           "review": f"Review?crowd_task={r.task_id}"} for r in queue],
                         hide_index=True, width="stretch",
                         column_config={"review": st.column_config.LinkColumn("review", display_text="resolve in Review")})
    with tab_all:
        try:
            rows = crowd_review.disagreement_queue(user, engine=eng, pool_id=pool_id, threshold=1.01, limit=1000,
                                                   include_resolved=True)
        except ReviewerError as exc:
            st.error(str(exc))
            rows = []
        if not rows:
            st.caption("No task has two answers yet.")
        else:
            st.dataframe([{"task": r.task_id, "item": r.item_key, "genre": r.genre, "answers": r.n_answers,
                           "mean IoU": round(r.mean_iou, 3), "alpha": round(r.alpha, 3),
                           "review": _review_link(r.item_id)} for r in sorted(rows, key=lambda r: r.task_id)],
                         hide_index=True, width="stretch", column_config=links)
    with tab_people:
        try:
            skills = crowd_review.pool_skills(user, engine=eng, pool_id=pool_id)
        except ReviewerError as exc:
            st.error(str(exc))
            skills = []
        suspended = [k for k in skills if k.suspended]
        if suspended:
            st.warning("Suspended (answers left out of aggregation): "
                       + "; ".join(f"**{k.name}** — {k.suspended_reason}" for k in suspended))
        if skills:
            st.dataframe([{"annotator": k.name, "golden answers": k.golden_n,
                           "golden IoU": None if k.golden_iou is None else round(k.golden_iou, 3),
                           "consensus answers": k.consensus_n,
                           "consensus IoU": None if k.consensus_iou is None else round(k.consensus_iou, 3),
                           "skill": None if k.skill is None else round(k.skill, 3),
                           "suspended": "yes" if k.suspended else ""} for k in skills],
                         hide_index=True, width="stretch")
        else:
            st.caption("No skills yet: run the aggregation once answers come in.")


st.title("Crowd tasks")
user = w.login(eng, purpose="take crowd tasks (annotators) or follow the pools (engineers, PMs, admins)")
if user is None:
    st.stop()
w.show_flash(state.CROWD_FLASH)
if user.is_reviewer:
    tab_review, tab_tasks = st.tabs(["Pools & agreement", "Take tasks"])
    with tab_review:
        reviewer_view(user)
    with tab_tasks:
        task_view(user)
else:
    task_view(user)
