"""Widgets for the Listen page: the snippet player, MOS and A/B result charts.

The decoded snippet audio is cached (bounded) per prediction id so reruns and
the A/B players do not decode the same clip again.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.services import listen

__all__ = ["mos_figure", "mos_table", "play_snippet", "preference_figure", "snippet_caption"]


@st.cache_data(max_entries=24, ttl=600, show_spinner=False)
def _audio(prediction_id: int, db_url: str, _engine: Any) -> listen.SnippetAudio:
    return listen.snippet_audio(prediction_id, engine=_engine)


def play_snippet(prediction_id: int, *, engine: Any, db_url: str, label: str | None = None) -> bool:
    """Render an ``st.audio`` player positioned on the snippet; False (with a message) when it cannot play."""
    try:
        audio = _audio(int(prediction_id), db_url, engine)
    except ReviewerError as exc:
        st.error(f"Cannot play this snippet: {exc}")
        return False
    if label:
        st.markdown(label)
    st.audio(audio.data, format=audio.mime, start_time=audio.start_time, end_time=audio.end_time)
    st.caption(f"Plays the snippet ({audio.end_time - audio.start_time} s); the clip holds "
               f"{audio.clip_end - audio.clip_start:.0f} s with context — scrub back for the lead-in.")
    return True


def snippet_caption(snip: listen.Snippet) -> str:
    """One line describing a snippet (no model version: keeps A/B blind)."""
    conf = f" · confidence {snip.confidence:.2f}" if snip.confidence is not None else ""
    return f"**{snip.title}** · {snip.kind} · predicted {snip.task} {snip.start:.1f}–{snip.end:.1f} s{conf}"


def mos_table(mos: pd.DataFrame) -> pd.DataFrame:
    """The MOS frame formatted for a small static table (model, ratings, MOS, ± 95 %)."""
    ci = ["—" if (isinstance(v, float) and math.isnan(v)) else f"± {v:.2f}" for v in mos["ci95"]]
    return pd.DataFrame({"model version": mos["model"], "ratings": mos["ratings"].astype(int),
                         "MOS": [f"{m:.2f}" for m in mos["mos"]], "95 % interval": ci}).set_index("model version")


def mos_figure(mos: pd.DataFrame) -> go.Figure:
    """MOS per model version with 95 % intervals (single ratings have none)."""
    err = [0.0 if (v is None or (isinstance(v, float) and math.isnan(v))) else v for v in mos["ci95"]]
    fig = go.Figure(go.Bar(
        x=mos["mos"], y=mos["model"], orientation="h", error_x=dict(type="data", array=err),
        text=[f"{m:.2f} (n={n})" for m, n in zip(mos["mos"], mos["ratings"])], textposition="inside", insidetextanchor="start",
        marker_color="#4c78a8", hovertemplate="%{y}: MOS %{x:.2f}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, 5.2], title="Mean Opinion Score (1–5)")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=90 + 40 * len(mos), margin=dict(l=10, r=10, t=10, b=40))
    return fig


def preference_figure(stats: pd.DataFrame) -> go.Figure:
    """Stacked bars of A/B outcomes per model version pair."""
    pairs = [f"{x} vs {y}" for x, y in zip(stats["model_x"], stats["model_y"])]
    fig = go.Figure()
    for col, name, colour in (("x_preferred", "first preferred", "#4c78a8"), ("same", "no difference", "#bab0ac"),
                              ("y_preferred", "second preferred", "#f58518")):
        fig.add_bar(y=pairs, x=stats[col], name=name, orientation="h", marker_color=colour)
    fig.update_layout(barmode="stack", height=110 + 40 * len(stats), margin=dict(l=10, r=10, t=10, b=40),
                      legend=dict(orientation="h", y=-0.3), xaxis_title="judgements")
    return fig
