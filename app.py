"""reviewer — home: the library by kind and series, with pipeline status."""

from __future__ import annotations

import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.services.library import build_demo_library, library_overview, library_page
from reviewer.ui import state
from reviewer.ui.resources import engine, settings

st.set_page_config(page_title="reviewer", page_icon="🎧", layout="wide")
st.title("reviewer")
st.caption("Find TV intros and song hooks, review them, collect labels.")

eng = engine()
first = library_page(engine=eng, page_size=1)

if first["total"] == 0:
    st.info("The library is empty. Build the demo library (generated series and songs with ground truth) "
            "or ingest your own media with `python -m reviewer ingest PATH`.")
    quick = st.checkbox("Quick demo (tiny, ~30 s)", value=False)
    if st.button("Build the demo library", type="primary"):
        with st.spinner("Generating, ingesting and importing ground truth ..."):
            try:
                res = build_demo_library(engine=eng, settings=settings(), quick=quick)
            except ReviewerError as exc:
                st.error(str(exc))
            else:
                st.success(f"Added {res['ingest']['added']} items. Run `python -m reviewer extract` to compute features.")
                st.rerun()
    st.stop()

counts = first["counts"]
cols = st.columns(4)
cols[0].metric("Items", first["total"])
cols[1].metric("Extracted", counts.get("extracted", 0) + counts.get("packaged", 0))
cols[2].metric("Packaged", counts.get("packaged", 0))
cols[3].metric("Failed", counts.get("failed", 0))

overview = library_overview(engine=eng)
left, right = st.columns([3, 2])
with left:
    st.subheader("Label progress")
    st.dataframe(
        [{"kind": r["kind"], "series / artist": r["group"] or "—", "items": r["items"], "truth": r["truth"],
          "human": r["human"], "crowd": r["crowd"]} for r in overview["progress"]],
        hide_index=True, width="stretch",
    )
with right:
    st.subheader("Model versions")
    if overview["model_versions"]:
        st.dataframe(overview["model_versions"], hide_index=True, width="stretch")
    else:
        st.caption("No trained model yet: `python -m reviewer train --task intro --activate`.")

st.subheader("Items")
facets = first["facets"]
f1, f2, f3, f4, f5 = st.columns([1, 2, 1, 2, 1])
kind = f1.selectbox("Kind", [""] + facets["kind"], key=state.HOME_KIND, format_func=lambda x: x or "all")
series = f2.selectbox("Series / artist", [""] + facets["series"], key=state.HOME_SERIES, format_func=lambda x: x or "all")
status = f3.selectbox("Status", [""] + facets["status"], key=state.HOME_STATUS, format_func=lambda x: x or "all")
search = f4.text_input("Search key or title", key=state.HOME_SEARCH)
page_no = f5.number_input("Page", min_value=1, value=1, step=1, key=state.HOME_PAGE)

try:
    page = library_page(engine=eng, kind=kind, series=series, status=status, search=search, page=int(page_no), page_size=50)
except ReviewerError as exc:
    st.error(str(exc))
    st.stop()

st.dataframe(page["rows"], hide_index=True, width="stretch")
st.caption(f"{page['total']} item(s) · page {page['page']} of {page['pages']}")
