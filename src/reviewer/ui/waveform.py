"""Plotly figures of the Review page: waveform with overlays, segment timeline, spectrogram.

The figures only draw what the services computed (peaks, regions, importance);
they never read audio. Drag-selecting on the waveform works through
``dragmode="select"`` + ``selectdirection="h"``; the page reads the box from
``st.plotly_chart(..., on_select="rerun", selection_mode=("box",))``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

__all__ = ["Region", "box_range", "spectrogram_figure", "timeline_figure", "waveform_figure"]

#: Overlay styles by region role: (fill colour, line colour, dash)
STYLES = {
    "prediction": ("rgba(255,140,0,0.22)", "rgb(230,120,0)", "solid"),
    "chorus": ("rgba(148,103,189,0.20)", "rgb(148,103,189)", "dot"),
    "prechorus": ("rgba(188,189,34,0.18)", "rgb(160,160,20)", "dot"),
    "truth": ("rgba(31,119,180,0.16)", "rgb(31,119,180)", "solid"),
    "human": ("rgba(44,160,44,0.22)", "rgb(44,160,44)", "solid"),
    "draft": ("rgba(214,39,40,0.10)", "rgb(214,39,40)", "dash"),
    "other": ("rgba(127,127,127,0.10)", "rgb(127,127,127)", "dot"),
    "consensus": ("rgba(44,160,44,0.16)", "rgb(20,120,20)", "dash"),
    "resolved": ("rgba(31,119,180,0.18)", "rgb(31,119,180)", "solid"),
}
#: Crowd answers of one task (one colour per annotator: roles ``answer0`` … ``answer7``).
ANSWER_COLOURS = ("rgb(214,39,40)", "rgb(148,103,189)", "rgb(140,86,75)", "rgb(227,119,194)",
                  "rgb(188,189,34)", "rgb(23,190,207)", "rgb(255,127,14)", "rgb(127,127,127)")
STYLES.update({f"answer{i}": (c.replace("rgb", "rgba").replace(")", ",0.45)"), c, "solid")
               for i, c in enumerate(ANSWER_COLOURS)})


@dataclass(frozen=True)
class Region:
    """One overlay: ``role`` picks the style (see :data:`STYLES`), ``text`` is its legend entry.

    ``y0`` … ``y1`` is the band it covers (fractions of the plot height; the
    whole height by default): crowd answers each get their own lane.
    """

    start: float
    end: float
    role: str
    text: str
    y0: float = 0.0
    y1: float = 1.0


def _axis_range(start: float, end: float) -> list[float]:
    return [float(start), float(end)]


def waveform_figure(times: np.ndarray, mins: np.ndarray, maxs: np.ndarray, *, view: tuple[float, float],
                    regions: Iterable[Region] = (), playhead: float | None = None, height: int = 250) -> go.Figure:
    """The min/max envelope of the visible window with regions drawn over it.

    Parameters
    ----------
    times, mins, maxs : np.ndarray [shape=(n,)]
        Peaks from :meth:`reviewer.waveform.Peaks.window`.
    view : (start, end)
        Visible range in seconds.
    regions : iterable of Region
        Predictions, labels and the draft being edited.
    playhead : float, optional
        Seconds; drawn as a vertical line.
    """
    fig = go.Figure()
    t = np.asarray(times, dtype=np.float32)
    fig.add_trace(go.Scatter(x=t, y=np.asarray(maxs, dtype=np.float32), mode="lines", line={"width": 0.6, "color": "#4a5d7e"},
                             hoverinfo="skip", showlegend=False, name="max"))
    fig.add_trace(go.Scatter(x=t, y=np.asarray(mins, dtype=np.float32), mode="lines", line={"width": 0.6, "color": "#4a5d7e"},
                             fill="tonexty", fillcolor="rgba(74,93,126,0.55)", hovertemplate="%{x:.2f} s<extra></extra>",
                             showlegend=False, name="waveform"))
    seen: set[str] = set()
    for r in regions:
        fill, line, dash = STYLES.get(r.role, STYLES["draft"])
        first = r.text not in seen
        seen.add(r.text)
        fig.add_shape(type="rect", x0=r.start, x1=r.end, y0=r.y0, y1=r.y1, yref="paper", fillcolor=fill,
                      line={"color": line, "width": 2 if r.role == "draft" else 1, "dash": dash},
                      layer="below" if (r.y0, r.y1) == (0.0, 1.0) else "above",
                      name=r.text, showlegend=first, legendgroup=r.role)
    if playhead is not None:
        fig.add_shape(type="line", x0=playhead, x1=playhead, y0=0, y1=1, yref="paper",
                      line={"color": "black", "width": 1.5}, name="play head", showlegend=True)
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 30}, dragmode="select", selectdirection="h",
        hovermode="x", legend={"orientation": "h", "y": -0.22, "x": 0, "font": {"size": 11}},
        xaxis={"range": _axis_range(*view), "title": None, "ticksuffix": " s", "showgrid": True},
        yaxis={"range": [-1.05, 1.05], "showticklabels": False, "fixedrange": True, "zeroline": False},
        plot_bgcolor="white",
    )
    return fig


def timeline_figure(starts: np.ndarray, ends: np.ndarray, importance: np.ndarray, chosen: np.ndarray,
                    reasons: Sequence[str], *, hop: float, view: tuple[float, float],
                    parts: dict[str, np.ndarray] | None = None, scores: tuple[list, list] | None = None,
                    height: int = 170) -> go.Figure:
    """Segments (3 s, 1.5 s hop) as bars coloured by importance; chosen segments marked ▼.

    Each bar covers the first ``hop`` seconds of its segment so bars do not overlap.
    ``scores`` = (segment_times, segment_scores) of a prediction, drawn as a line.
    """
    starts = np.asarray(starts, dtype=np.float32)
    imp = np.asarray(importance, dtype=np.float32)
    width = float(hop) if hop > 0 else float(np.median(ends - starts))
    parts = parts or {}
    custom = np.stack([np.asarray(ends, dtype=np.float32)] + [np.asarray(v, dtype=np.float32) for v in parts.values()], axis=1)
    part_txt = "".join(f"<br>{name}: %{{customdata[{i + 1}]:.2f}}" for i, name in enumerate(parts))
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=starts + width / 2, y=imp, width=width, customdata=custom, name="importance",
        marker={"color": imp, "colorscale": "Viridis", "cmin": 0, "cmax": max(1.0, float(imp.max()) if imp.size else 1.0),
                "line": {"width": 0}, "colorbar": {"title": {"text": "imp."}, "thickness": 10, "len": 0.9}},
        hovertemplate="%{x:.1f} s – %{customdata[0]:.1f} s<br>importance %{y:.2f}" + part_txt + "<extra></extra>",
        showlegend=False,
    ))
    chosen = np.asarray(chosen, dtype=bool)
    if chosen.any():
        top = float(imp.max()) * 1.12 if imp.size and imp.max() > 0 else 1.0
        idx = np.flatnonzero(chosen)
        fig.add_trace(go.Scatter(
            x=starts[idx] + width / 2, y=np.full(idx.size, top, dtype=np.float32), mode="markers",
            marker={"symbol": "triangle-down", "size": 6, "color": "crimson"}, name="chosen segment",
            text=[reasons[i] for i in idx], hovertemplate="chosen: %{text}<extra></extra>",
        ))
    if scores is not None and scores[0]:
        centers = np.array([(s + e) / 2 for s, e in scores[0]], dtype=np.float32)
        fig.add_trace(go.Scatter(x=centers, y=np.asarray(scores[1], dtype=np.float32), mode="lines", yaxis="y2",
                                 line={"color": "rgb(230,120,0)", "width": 1.5}, name="model score"))
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 30}, bargap=0, dragmode=False,
        legend={"orientation": "h", "y": -0.3, "x": 0, "font": {"size": 11}},
        xaxis={"range": _axis_range(*view), "ticksuffix": " s"},
        yaxis={"title": None, "fixedrange": True, "showticklabels": False},
        yaxis2={"overlaying": "y", "side": "right", "range": [0, 1.05], "showticklabels": False, "fixedrange": True},
        plot_bgcolor="white",
    )
    return fig


def spectrogram_figure(times: np.ndarray, freqs: np.ndarray, db: np.ndarray, *, view: tuple[float, float],
                       height: int = 200, max_bins: int = 128) -> go.Figure:
    """A dB heatmap (quantised to 8 bits so the payload stays small)."""
    step = max(1, int(np.ceil(db.shape[0] / max_bins)))
    z = np.clip((np.asarray(db[::step], dtype=np.float32) + 80.0) * (255.0 / 80.0), 0, 255).astype(np.uint8)
    fig = go.Figure(go.Heatmap(x=np.asarray(times, dtype=np.float32), y=np.asarray(freqs[::step], dtype=np.float32),
                               z=z, colorscale="Magma", zmin=0, zmax=255, showscale=False,
                               hovertemplate="%{x:.2f} s, %{y:.0f} Hz<extra></extra>"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 30},
                      xaxis={"range": _axis_range(*view), "ticksuffix": " s"},
                      yaxis={"title": "Hz", "fixedrange": True})
    return fig


def box_range(event: object) -> tuple[float, float] | None:
    """The ``[start, end]`` of a horizontal box selection in a plotly_chart event, or None."""
    try:
        boxes = event["selection"]["box"]  # type: ignore[index]
    except (KeyError, TypeError, AttributeError):
        return None
    if not boxes:
        return None
    try:
        x = boxes[0]["x"]
        start, end = sorted((float(x[0]), float(x[1])))
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if not (np.isfinite(start) and np.isfinite(end)) or end <= start:
        return None
    return start, end
