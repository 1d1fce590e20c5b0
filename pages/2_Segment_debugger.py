"""Segment debugger (ML engineers): why each segment was chosen, what features it has, what the models saw."""

from __future__ import annotations

import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.services import debug
from reviewer.ui import debug_widgets as dw
from reviewer.ui import state
from reviewer.ui.resources import engine, settings

st.set_page_config(page_title="Segment debugger · reviewer", page_icon="🔬", layout="wide")
st.title("Segment debugger")
st.caption("Which segments the selection keeps and why, every segment's features and missing flags, "
           "strategies side by side, the evidence behind each prediction, and how each model version scores.")

eng, sett = engine(), settings()

# ----------------------------------------------------------------------------- item picker (sidebar)
with st.sidebar:
    st.subheader("Item")
    kind = st.selectbox("Kind", ["", "episode", "song"], key=state.DEBUG_KIND, format_func=lambda x: x or "all")
    search = st.text_input("Search key or title", key=state.DEBUG_SEARCH)
    try:
        choices = debug.item_choices(engine=eng, kind=kind or None, search=search or None)
    except ReviewerError as exc:
        st.error(str(exc))
        st.stop()
    by_id = {c["id"]: c["label"] for c in choices}
    wanted = st.query_params.get("item")
    if wanted is not None and state.DEBUG_PICK not in st.session_state:
        try:
            st.session_state[state.DEBUG_PICK] = int(wanted)
        except ValueError:
            st.warning(f"?item={wanted!r} is not an item id")
    picked = st.session_state.get(state.DEBUG_PICK)
    ids = list(by_id)
    if picked is not None and picked not in by_id:
        ids = [picked] + ids  # e.g. from ?item=ID beyond the first page of choices (checked below)
    if not ids:
        st.info("No items match." if (kind or search) else "The library is empty.")
item_id = st.sidebar.selectbox("Pick an item", ids, key=state.DEBUG_PICK,
                               format_func=lambda i: by_id.get(i, f"#{i}")) if ids else None

tab_item, tab_models = st.tabs(["One item", "Model versions (IoU, worst items)"])

# ----------------------------------------------------------------------------- model-level view
with tab_models:
    try:
        vs = debug.predictions_vs_labels(engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
        vs = None
    if vs is not None and vs.empty:
        st.info("No predictions yet. Once the detectors have run (`python -m reviewer predict`), every model "
                "version's IoU against the current labels appears here, with its worst items.")
    elif vs is not None:
        st.markdown("**Predictions vs current labels** (newest prediction per item and model version; "
                    "hit rate = share with IoU ≥ 0.5)")
        st.dataframe(vs.drop(columns=["version_key"]), hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.2f") for c in ("iou_mean", "iou_median", "hit_rate")})
        c1, c2, c3 = st.columns([1, 2, 1])
        task = c1.selectbox("Task", sorted(vs["task"].unique()), key=state.DEBUG_TASK)
        versions = vs[vs["task"] == task]
        labels = dict(zip(versions["version_key"], versions["model"]))
        vkey = c2.selectbox("Model version", list(labels), key=state.DEBUG_VERSION, format_func=labels.get)
        n = c3.number_input("Show", min_value=1, max_value=500, value=10, key=state.DEBUG_WORST_N)
        try:
            worst = debug.worst_items(task, vkey, int(n), engine=eng)
        except ReviewerError as exc:
            st.error(str(exc))
        else:
            st.markdown(f"**Worst items** for {labels.get(vkey)} — lowest IoU first; open one in Review to fix its label, "
                        "or in this debugger to see why.")
            worst.insert(0, "review", [f"Review?item={i}" for i in worst["item_id"]])
            worst.insert(1, "debug", [f"Segment_debugger?item={i}" for i in worst["item_id"]])
            st.dataframe(worst, hide_index=True, width="stretch", column_config={
                "review": st.column_config.LinkColumn("Review", display_text="open in Review"),
                "debug": st.column_config.LinkColumn("Debug", display_text="debug"),
                "iou": st.column_config.ProgressColumn("IoU", min_value=0.0, max_value=1.0, format="%.2f"),
            })

# ----------------------------------------------------------------------------- one item
with tab_item:
    if item_id is None:
        st.info("Pick an item in the sidebar. On an empty database, build the demo library on the Home page first.")
        st.stop()
    try:
        info = debug.item_info(item_id, engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
        st.stop()
    st.subheader(f"#{info.id} · {info.title}")
    dur = f"{info.duration:.1f} s" if info.duration else "unknown length"
    lab = ", ".join(f"{lb['kind']} {lb['start']:.1f}–{lb['end']:.1f} s" for lb in info.labels) or "none"
    st.markdown(f"{info.kind} · {dur} · status **{info.status}** · labels: {lab} · "
                f"{len(info.predictions)} prediction(s) · [open in Review](Review?item={info.id})")

    t_sel, t_feat, t_strat, t_ev = st.tabs(["Segments & selection", "Features & missing", "Strategies", "Prediction evidence"])
    with t_sel:
        c1, c2 = st.columns([1, 3])
        max_len = c1.number_input("max_seq_len (what if?)", min_value=2, max_value=4096,
                                  value=debug.default_max_seq_len(settings=sett), step=8,
                                  key=state.DEBUG_MAX_SEQ_LEN,
                                  help="The config keeps at most this many segments. Lower it to see which segments "
                                       "boundary + importance would drop on this item.")
        only = c2.checkbox("Only chosen segments in the table", key=state.DEBUG_ONLY_CHOSEN)
        try:
            df = debug.segment_table_view(info.id, engine=eng, settings=sett, max_seq_len=int(max_len), feature_set="summary")
        except ReviewerError as exc:
            st.error(str(exc))
            df = None
        if df is not None:
            counts = df[df["chosen"]]["reason"].value_counts().to_dict()
            m = st.columns(5)
            m[0].metric("Segments", len(df))
            m[1].metric("Chosen", int(df["chosen"].sum()))
            for col, reason in zip(m[2:], ("boundary_start", "boundary_end", "importance")):
                col.metric(reason.replace("_", " "), counts.get(reason, 0))
            if counts.get("all"):
                st.caption(f"The item has {len(df)} segments ≤ max_seq_len, so every segment is kept (reason \"all\"). "
                           "Lower max_seq_len to see the selection at work.")
            st.plotly_chart(dw.importance_figure(df, info.labels), key="debug.chart.importance")
            shown = df[df["chosen"]] if only else df
            st.dataframe(shown, hide_index=True, width="stretch", height=360,
                         column_config={"chosen": st.column_config.CheckboxColumn("chosen")})
    with t_feat:
        fs = st.selectbox("Feature set", debug.FEATURE_SETS, key=state.DEBUG_FEATURE_SET)
        try:
            hm = debug.feature_heatmap(info.id, engine=eng, settings=sett, feature_set=fs)
            miss = debug.missing_features(info.id, engine=eng, settings=sett)
        except ReviewerError as exc:
            st.error(str(exc))
        else:
            st.plotly_chart(dw.feature_heatmap_figure(hm), key="debug.chart.heatmap")
            st.plotly_chart(dw.missing_map_figure(hm), key="debug.chart.missing")
            st.markdown("**Missing features and why** (model-backed features stay missing until a local model is configured — never invented)")
            st.dataframe(miss[miss["missing_share"] > 0], hide_index=True, width="stretch",
                         column_config={"missing_share": st.column_config.ProgressColumn("missing", min_value=0.0, max_value=1.0, format="percent")})
    with t_strat:
        try:
            cmp = debug.strategy_comparison(info.id, engine=eng, settings=sett, max_seq_len=int(max_len))
        except ReviewerError as exc:
            st.error(str(exc))
        else:
            st.plotly_chart(dw.strategy_figure(cmp, info.labels), key="debug.chart.strategies")
            st.dataframe(cmp["summary"], hide_index=True)
            if cmp["model"] is None:
                st.info("No model scores yet for this item: a prediction with per-segment scores adds a third row.")
    with t_ev:
        if not info.predictions:
            st.info("No predictions yet for this item. Run the detectors (`python -m reviewer predict`); the "
                    "self-similarity matrix, cross-episode matches and per-segment scores will show here.")
        else:
            opts = {p["id"]: (f"#{p['id']} · {p['task']} · {p['model']} · "
                              + (f"{p['start']:.1f}–{p['end']:.1f} s" if p["start"] is not None else f"no {p['task']}")
                              + (f" · conf {p['confidence']:.2f}" if p["confidence"] is not None else ""))
                    for p in info.predictions}
            pid = st.selectbox("Prediction", list(opts), key=state.DEBUG_PREDICTION, format_func=opts.get)
            try:
                evs = debug.prediction_evidence(info.id, engine=eng, prediction_id=pid)
            except ReviewerError as exc:
                st.error(str(exc))
                evs = []
            for ev in evs:
                if ev["fallback_reason"]:
                    st.warning(f"Fallback: {ev['fallback_reason']}")
                shown_any = False
                if ev["segment_scores"]:
                    st.plotly_chart(dw.scores_figure(ev, info.labels), key=f"debug.chart.scores.{ev['id']}")
                    shown_any = True
                if ev["ssm"]:
                    st.plotly_chart(dw.ssm_figure(ev), key=f"debug.chart.ssm.{ev['id']}")
                    shown_any = True
                if ev["matches"] or ev["candidates"]:
                    st.plotly_chart(dw.matches_figure(ev, info.labels), key=f"debug.chart.matches.{ev['id']}")
                    shown_any = True
                if ev["section_candidates"]:
                    st.plotly_chart(dw.section_candidates_figure(ev, info.labels),
                                    key=f"debug.chart.candidates.{ev['id']}")
                    shown_any = True
                if not shown_any:
                    st.info(f"Prediction #{ev['id']} ({ev['method'] or 'unknown method'}) stored no evidence "
                            "(no per-segment scores, SSM or matches).")
