"""Plotly figures for the Segment debugger: heatmaps, importance, strategies, evidence.

Pure figure builders over the records of :mod:`reviewer.services.debug` (no
service calls, no streamlit state), so they are easy to test and reuse.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "LABEL_COLOURS",
    "REASON_COLOURS",
    "feature_heatmap_figure",
    "importance_figure",
    "matches_figure",
    "missing_map_figure",
    "scores_figure",
    "ssm_figure",
    "strategy_figure",
]

#: one colour per selection reason (legend of the importance bars)
REASON_COLOURS: dict[str, str] = {
    "boundary_start": "#6a3d9a", "boundary_end": "#b15928", "importance": "#2ca02c",
    "random_replacement": "#bcbd22", "uniform": "#9467bd", "all": "#7f7f7f", "": "#d0d0d0",
}
#: label kinds drawn as regions
LABEL_COLOURS: dict[str, str] = {
    "intro": "rgba(255,127,14,0.18)", "hook": "rgba(214,39,40,0.16)", "chorus": "rgba(44,160,44,0.16)",
    "prechorus": "rgba(148,103,189,0.16)",
}
_H = 320


def _base(fig: go.Figure, *, title: str, height: int = _H, x_title: str = "time (s)") -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), height=height, margin=dict(l=10, r=10, t=40, b=40),
                      xaxis_title=x_title, legend=dict(orientation="h", y=-0.25))
    return fig


def _label_regions(fig: go.Figure, labels: Iterable[Mapping[str, Any]], *, kinds: Sequence[str] | None = None) -> None:
    for lb in labels:
        if kinds is not None and lb["kind"] not in kinds:
            continue
        fig.add_vrect(x0=lb["start"], x1=lb["end"], fillcolor=LABEL_COLOURS.get(lb["kind"], "rgba(127,127,127,0.12)"),
                      line_width=0, layer="below", annotation_text=f"label: {lb['kind']}",
                      annotation_position="top left", annotation_font_size=10)


def feature_heatmap_figure(hm: Mapping[str, Any]) -> go.Figure:
    """Features × segments, z-scored per feature (missing cells blank)."""
    z = np.asarray(hm["z"], dtype=float)
    zz = np.where(np.isfinite(z), np.clip(z, -3, 3), None).tolist()
    fig = go.Figure(go.Heatmap(
        z=zz, x=list(hm["times"]), y=list(hm["features"]), colorscale="RdBu_r", zmin=-3, zmax=3, zmid=0,
        colorbar=dict(title="z", thickness=10), hovertemplate="%{y}<br>t=%{x:.1f} s<br>z=%{z:.2f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=9))
    return _base(fig, title="Features × segments (z-score within the item; blank = missing)",
                 height=max(260, 14 * len(hm["features"]) + 90))


def missing_map_figure(hm: Mapping[str, Any]) -> go.Figure:
    """Feature groups × segments: dark where the group has no data, with the reason on hover."""
    miss = np.asarray(hm["missing"], dtype=int)
    reasons = hm.get("reasons") or {}
    text = [[reasons.get(g) or ("no frames in this segment" if v else "present") for v in row]
            for g, row in zip(hm["groups"], miss)]
    fig = go.Figure(go.Heatmap(
        z=miss.tolist(), x=list(hm["times"]), y=list(hm["groups"]), zmin=0, zmax=1, showscale=False,
        colorscale=[[0, "#e8f4e8"], [1, "#444444"]], text=text,
        hovertemplate="%{y} at %{x:.1f} s: %{text}<extra></extra>", xgap=0, ygap=1,
    ))
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=10))
    return _base(fig, title="Missing-feature map (dark = missing; hover for the reason)",
                 height=max(220, 18 * len(hm["groups"]) + 90))


def importance_figure(df: pd.DataFrame, labels: Iterable[Mapping[str, Any]] = ()) -> go.Figure:
    """Stacked importance parts per segment; chosen segments marked by reason under the bars."""
    centres = ((df["start"] + df["end"]) / 2).to_numpy()
    fig = go.Figure()
    parts = [c for c in df.columns if c.startswith("importance_")]
    palette = ["#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"]
    for i, c in enumerate(parts):
        fig.add_bar(x=centres, y=df[c], name=c.replace("importance_", "part: "), marker_color=palette[i % len(palette)],
                    width=1.4, hovertemplate=f"{c}=%{{y:.3f}}<extra></extra>")
    for reason, g in df[df["chosen"]].groupby("reason"):
        fig.add_scatter(x=((g["start"] + g["end"]) / 2), y=np.full(len(g), -0.06), mode="markers",
                        marker=dict(symbol="square", size=7, color=REASON_COLOURS.get(reason, "#333")),
                        name=f"chosen: {reason}", hovertemplate="segment %{text}<extra></extra>",
                        text=g["segment"].astype(str))
    _label_regions(fig, labels)
    fig.update_layout(barmode="stack", bargap=0)
    fig.update_yaxes(title="importance", rangemode="tozero")
    return _base(fig, title="Importance = Σ weighted parts · squares = chosen segments (colour = reason)")


def strategy_figure(cmp: Mapping[str, Any], labels: Iterable[Mapping[str, Any]] = ()) -> go.Figure:
    """One row per strategy, a tick for every segment it keeps, label regions behind."""
    fr: pd.DataFrame = cmp["frame"]
    names = {"uniform": "uniform", "boundary_importance": "boundary + importance", "model": f"model scores ({cmp.get('model')})"}
    fig = go.Figure()
    for i, st in enumerate(cmp["strategies"]):
        kept = fr[fr[st]]
        fig.add_bar(x=(kept["end"] - kept["start"]).to_numpy() * 0 + 1.5, base=kept["start"].to_numpy(),
                    y=[names[st]] * len(kept), orientation="h", name=names[st],
                    marker_color=["#9467bd", "#2ca02c", "#d62728"][i % 3], showlegend=False,
                    hovertemplate="%{base:.1f} s<extra>" + names[st] + "</extra>")
    _label_regions(fig, labels)
    fig.update_yaxes(autorange="reversed")
    return _base(fig, title=f"Which segments each strategy keeps (max_seq_len {cmp['max_seq_len']} of {cmp['n_segments']})",
                 height=110 + 55 * len(cmp["strategies"]))


def ssm_figure(ev: Mapping[str, Any]) -> go.Figure:
    """The self-similarity matrix with detected repetitions drawn as segments (song evidence)."""
    ssm = ev["ssm"]
    t = list(ssm["times"])
    fig = go.Figure(go.Heatmap(z=ssm["matrix"], x=t, y=t, colorscale="Viridis", colorbar=dict(title="sim", thickness=10),
                               hovertemplate="%{x:.1f} s vs %{y:.1f} s: %{z:.2f}<extra></extra>"))
    for k, rep in enumerate(ev.get("repetitions") or []):
        (a0, a1), (b0, b1) = rep["a"], rep["b"]
        for x0, x1, y0, y1 in ((a0, a1, b0, b1), (b0, b1, a0, a1)):
            fig.add_scatter(x=[x0, x1], y=[y0, y1], mode="lines", line=dict(color="#ff4136", width=3),
                            name=f"repetition {k + 1} (score {rep.get('score', float('nan')):.2f})", showlegend=x0 == a0,
                            hoverinfo="name")
    if t:
        fig.update_xaxes(range=[t[0], t[-1]], constrain="domain")
        fig.update_yaxes(range=[t[-1], t[0]])
    else:
        fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(scaleanchor="x", title="time (s)")
    return _base(fig, title="Self-similarity matrix · red = detected repetitions", height=460)


def matches_figure(ev: Mapping[str, Any], labels: Iterable[Mapping[str, Any]] = ()) -> go.Figure:
    """Cross-episode alignment: where this episode matched each other episode (intro evidence)."""
    fig = go.Figure()
    for m in ev.get("matches") or []:
        fig.add_bar(x=[m["end"] - m["start"]], base=[m["start"]], y=[m["other_key"]], orientation="h",
                    marker_color="#ff7f0e", showlegend=False,
                    hovertemplate=(f"here {m['start']:.1f}–{m['end']:.1f} s ↔ there {m['other_start']:.1f}–"
                                   f"{m['other_end']:.1f} s, score {m.get('score', float('nan')):.2f}<extra></extra>"))
    for c in ev.get("candidates") or []:
        fig.add_bar(x=[c["end"] - c["start"]], base=[c["start"]], y=["candidates"], orientation="h",
                    marker_color="#c7c7c7", showlegend=False,
                    hovertemplate=f"{c.get('reason', '')} score {c.get('score', float('nan')):.2f}<extra></extra>")
    if ev.get("start") is not None:
        fig.add_vrect(x0=ev["start"], x1=ev["end"], line=dict(color="#d62728", width=2), fillcolor="rgba(0,0,0,0)",
                      annotation_text="predicted intro", annotation_position="top right")
    _label_regions(fig, labels, kinds=("intro",))
    return _base(fig, title="Cross-episode matches (bars = the same audio found in another episode)",
                 height=140 + 28 * max(1, len(ev.get("matches") or [])))


def section_candidates_figure(ev: Mapping[str, Any], labels: Iterable[Mapping[str, Any]] = (), *,
                              top: int = 8) -> go.Figure:
    """The hook ranker's repeated-section candidates, best first: each candidate's occurrences on its own row."""
    fig = go.Figure()
    cands = sorted(ev.get("section_candidates") or [], key=lambda c: -float(c.get("score", float("-inf"))))[:top]
    rows = []
    for rank, c in enumerate(cands, 1):
        row = f"#{rank} score {float(c.get('score', float('nan'))):.2f}"
        rows.append(row)
        for s, e in c.get("chorus") or []:
            fig.add_bar(x=[e - s], base=[s], y=[row], orientation="h", showlegend=False,
                        marker_color="#2ca02c" if rank == 1 else "#c7c7c7",
                        hovertemplate=f"{row}: {s:.1f}–{e:.1f} s<extra></extra>")
    _label_regions(fig, labels, kinds=("chorus", "hook"))
    fig.update_yaxes(categoryorder="array", categoryarray=rows[::-1])
    return _base(fig, title="Ranked chorus candidates (bars = the occurrences of each; green = the one chosen first)",
                 height=140 + 28 * max(1, len(rows)))


def scores_figure(ev: Mapping[str, Any], labels: Iterable[Mapping[str, Any]] = ()) -> go.Figure:
    """The model's per-segment scores vs the labelled regions, with the predicted region outlined."""
    times = np.asarray(ev["segment_times"], dtype=float)
    centres = times.mean(axis=1) if times.size else np.zeros(0)
    fig = go.Figure(go.Scatter(x=centres, y=ev["segment_scores"], mode="lines+markers", name="segment score",
                               line=dict(color="#1f77b4"), marker=dict(size=4)))
    _label_regions(fig, labels)
    if ev.get("start") is not None:
        fig.add_vrect(x0=ev["start"], x1=ev["end"], line=dict(color="#d62728", width=2), fillcolor="rgba(0,0,0,0)",
                      annotation_text=f"predicted {ev['task']}", annotation_position="top right")
    for k, (s, e) in enumerate(ev.get("chorus") or []):
        fig.add_shape(type="line", x0=s, x1=e, y0=-0.05, y1=-0.05, line=dict(color="#2ca02c", width=5))
    fig.update_yaxes(title="score", range=[-0.1, 1.05])
    note = " · green bars = predicted chorus" if ev.get("chorus") else ""
    return _base(fig, title=f"Per-segment scores of {ev['model']} vs labels (shaded){note}")
