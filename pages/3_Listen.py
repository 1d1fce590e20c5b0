"""Listen (product managers): play predicted snippets, rate them 1–5 (MOS per model version), blind A/B."""

from __future__ import annotations

import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.services import listen
from reviewer.ui import listen_widgets as lw
from reviewer.ui import state
from reviewer.ui.resources import engine, settings

st.set_page_config(page_title="Listen · reviewer", page_icon="🎧", layout="wide")
st.title("Listen")
st.caption("Play the predicted snippets — song hooks and episode intros — and rate each 1–5. "
           "The Mean Opinion Score (MOS) per model version updates as you rate. "
           "Blind A/B plays two model versions' snippets of the same track without saying which is which.")

eng, db_url = engine(), settings().db_url
RATING_LABELS = {1: "1 · bad", 2: "2 · poor", 3: "3 · fair", 4: "4 · good", 5: "5 · excellent"}
CHOICE_LABELS = {"a": "A is better", "b": "B is better", "same": "No difference"}

flash = st.session_state.pop(state.LISTEN_FLASH, None)
if flash:
    getattr(st, flash[0], st.info)(flash[1])

with st.sidebar:
    author = st.text_input("Your name", key=state.LISTEN_AUTHOR, placeholder="e.g. anna.pm",
                           help="Stored with your ratings; lets you hide snippets you already rated.")
mode = st.radio("Mode", ["Queue", "Blind A/B"], horizontal=True, key=state.LISTEN_MODE)
left, right = st.columns([3, 2], gap="large")


def _show_mos() -> None:
    try:
        mos = listen.mos_by_model_version(engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    st.subheader("MOS per model version")
    if mos.empty:
        st.info("No ratings yet — rate a snippet and the score appears here.")
        return
    st.table(lw.mos_table(mos))
    st.plotly_chart(lw.mos_figure(mos), key="listen.chart.mos")


def _queue() -> None:
    try:
        versions = listen.model_version_choices(engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    labels = {0: "all model versions", **{(v["id"] if v["id"] is not None else -1): v["label"] for v in versions}}
    f1, f2, f3 = st.columns([3, 3, 2])
    kind = f1.selectbox("Kind", ["", "song", "episode"], key=state.LISTEN_KIND,
                        format_func=lambda k: {"": "songs + episodes", "song": "songs (hooks)", "episode": "episodes (intros)"}[k])
    version = f2.selectbox("Model version", list(labels), key=state.LISTEN_VERSION, format_func=labels.get)
    unrated = f3.checkbox("Unrated by me", key=state.LISTEN_UNRATED, disabled=not author.strip())
    if version == -1:
        st.caption("Baseline predictions are listed under 'all model versions'.")
    try:
        q = listen.snippet_queue(engine=eng, kind=kind or None, model_version_id=version if version > 0 else None,
                                 unrated_by=author if unrated else None, page_size=200)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    if not q["rows"]:
        if not versions:
            st.info("No predictions yet. Once the detectors have run (`python -m reviewer predict`), their "
                    "predicted hooks and intros queue up here to be played and rated.")
        else:
            st.info("Nothing to play with these filters" + (" — you rated them all. 🎉" if unrated else "."))
        return
    rows = {r["prediction_id"]: r for r in q["rows"]}
    pending = st.session_state.pop(state.LISTEN_NEXT, None)
    if pending in rows:
        st.session_state[state.LISTEN_CURRENT] = pending
    if st.session_state.get(state.LISTEN_CURRENT) not in rows:
        st.session_state.pop(state.LISTEN_CURRENT, None)
    pid = st.selectbox(
        f"Now playing ({q['total']} snippet(s) in the queue)", list(rows), key=state.LISTEN_CURRENT,
        format_func=lambda p: f"{rows[p]['title']} · {rows[p]['task']} {rows[p]['start']:.1f}–{rows[p]['end']:.1f} s "
                              f"· {rows[p]['model']} · rated {rows[p]['ratings']}×")
    row = rows[pid]
    try:
        snip = listen.snippet(pid, engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    st.markdown(lw.snippet_caption(snip) + f" · model **{row['model']}**")
    lw.play_snippet(pid, engine=eng, db_url=db_url)
    with st.form(state.LISTEN_FORM, clear_on_submit=True):
        rating = st.radio("How good is this snippet as the track's hook / the episode's intro?", list(RATING_LABELS),
                          index=None, horizontal=True, format_func=RATING_LABELS.get, key=state.LISTEN_RATING)
        comment = st.text_input("Comment (optional)", key=state.LISTEN_COMMENT, max_chars=2000)
        submitted = st.form_submit_button("Save rating", type="primary")
    if submitted:
        if rating is None:
            st.error("Pick a rating from 1 to 5 first.")
            return
        try:
            saved = listen.rate(row["item_id"], pid, int(rating), comment or None, author.strip() or None, engine=eng)
        except ReviewerError as exc:
            st.error(f"Not saved: {exc}")
            return
        ids = list(rows)
        nxt = ids[(ids.index(pid) + 1) % len(ids)]
        st.session_state[state.LISTEN_NEXT] = nxt
        st.session_state[state.LISTEN_FLASH] = ("success", f"Saved: {RATING_LABELS[saved['rating']]} for "
                                                f"{row['title']} ({row['model']}). Next snippet ▶")
        st.rerun()
    with st.expander(f"Queue ({q['total']})"):
        st.dataframe(q["rows"], hide_index=True, width="stretch",
                     column_order=["title", "kind", "task", "model", "start", "end", "confidence", "ratings", "mos"])


def _ab() -> None:
    if st.session_state.get(state.LISTEN_AB_ITEM) is None:
        try:
            pair = listen.ab_pair(engine=eng, author=author.strip() or None)
        except ReviewerError as exc:
            st.error(str(exc))
            return
        if pair is None:
            st.info("Blind A/B needs a track with snippets from two model versions. There is none yet — "
                    "it appears once a second model version has made predictions (`python -m reviewer predict`).")
            return
        st.session_state[state.LISTEN_AB_ITEM] = pair["item_id"]
        st.session_state[state.LISTEN_AB_A] = pair["a"]
        st.session_state[state.LISTEN_AB_B] = pair["b"]
    iid = st.session_state[state.LISTEN_AB_ITEM]
    a, b = st.session_state[state.LISTEN_AB_A], st.session_state[state.LISTEN_AB_B]
    try:
        sa, sb = listen.snippet(a, engine=eng), listen.snippet(b, engine=eng)
    except ReviewerError as exc:
        st.error(f"{exc} — picking another pair.")
        for k in (state.LISTEN_AB_ITEM, state.LISTEN_AB_A, state.LISTEN_AB_B):
            st.session_state.pop(k, None)
        return
    st.markdown(f"**{sa.title}** · {sa.kind} — two model versions chose these snippets. Which one is the better "
                f"{sa.task}?")
    ca, cb = st.columns(2)
    with ca:
        st.markdown(f"### A  \n{sa.start:.1f}–{sa.end:.1f} s")
        lw.play_snippet(a, engine=eng, db_url=db_url)
    with cb:
        st.markdown(f"### B  \n{sb.start:.1f}–{sb.end:.1f} s")
        lw.play_snippet(b, engine=eng, db_url=db_url)
    with st.form(state.LISTEN_AB_FORM, clear_on_submit=True):
        choice = st.radio("Your preference", list(CHOICE_LABELS), index=None, horizontal=True,
                          format_func=CHOICE_LABELS.get, key=state.LISTEN_AB_CHOICE)
        submitted = st.form_submit_button("Save preference", type="primary")
    if st.button("Skip — another pair", key=state.LISTEN_AB_SKIP):
        for k in (state.LISTEN_AB_ITEM, state.LISTEN_AB_A, state.LISTEN_AB_B):
            st.session_state.pop(k, None)
        st.rerun()
    if submitted:
        if choice is None:
            st.error("Pick A, B or 'No difference' first.")
            return
        try:
            res = listen.record_preference(iid, a, b, choice, author.strip() or None, engine=eng)
        except ReviewerError as exc:
            st.error(f"Not saved: {exc}")
            return
        for k in (state.LISTEN_AB_ITEM, state.LISTEN_AB_A, state.LISTEN_AB_B):
            st.session_state.pop(k, None)
        st.session_state[state.LISTEN_FLASH] = (
            "success", f"Saved: {CHOICE_LABELS[choice]}. A was **{res['a_model']}**, B was **{res['b_model']}**. "
                       "Here is the next pair.")
        st.rerun()


with left:
    if mode == "Queue":
        _queue()
    else:
        _ab()
with right:
    _show_mos()
    if mode == "Blind A/B":
        try:
            stats = listen.preference_stats(engine=eng)
        except ReviewerError as exc:
            st.error(str(exc))
        else:
            st.subheader("A/B results")
            if stats.empty:
                st.info("No A/B judgements yet.")
            else:
                st.dataframe(stats, hide_index=True, width="stretch",
                             column_config={"x_win_rate": st.column_config.NumberColumn("first wins", format="percent")})
                st.plotly_chart(lw.preference_figure(stats), key="listen.chart.ab")
