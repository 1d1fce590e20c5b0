"""Held-out evaluation of per-segment scores: segment P/R/F1 and the predicted regions.

Per-segment precision / recall / F1 are micro-averaged over every segment of
every item (scikit-learn). Regions are runs of consecutive segments whose
score is ``>= threshold``; a run covers ``[first centre - hop/2, last centre +
hop/2]`` clipped to the item. The *main region* of an item is the run with
the largest score mass. Interval metrics come from :mod:`reviewer.metrics`:

* every task: ``region_iou`` — mean over items with a reference of the best
  IoU between the main region and a reference interval (0 when nothing is predicted);
* intro: :func:`reviewer.metrics.intro.evaluate` on the main regions
  (``intro_detected``, ``intro_false_positive_rate``, ``intro_mae_start``, ...);
* chorus: mean per-frame F1 (:func:`~reviewer.metrics.intervals.frame_prf`) and
  chorus occurrence F at 3 s (:func:`~reviewer.metrics.intervals.occurrence_prf`)
  of all regions.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from reviewer.metrics import intro as intro_metrics
from reviewer.metrics.intervals import frame_prf, iou, occurrence_prf
from reviewer.segments import Segments
from reviewer.train.datasets import TrainingItem


def score_regions(segments: Segments, scores: np.ndarray, *, threshold: float = 0.5,
                  min_segments: int = 1) -> list[tuple[float, float, float]]:
    """Runs of segments scoring ``>= threshold`` as ``(start, end, score mass)``, by start time."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size != len(segments):
        raise ValueError(f"{scores.size} scores for {len(segments)} segments")
    on = scores >= threshold
    if not on.any():
        return []
    centres = (segments.starts + segments.ends) / 2
    half = segments.hop / 2
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    runs = []
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if b - a < min_segments:
            continue
        s = max(0.0, float(centres[a] - half))
        e = min(float(segments.duration), float(centres[b - 1] + half))
        if e > s:
            runs.append((s, e, float(scores[a:b].sum())))
    return runs


def main_region(segments: Segments, scores: np.ndarray, *, threshold: float = 0.5) -> tuple[float, float] | None:
    """The run with the largest score mass, or None."""
    runs = score_regions(segments, scores, threshold=threshold)
    if not runs:
        return None
    s, e, _ = max(runs, key=lambda r: r[2])
    return (s, e)


def evaluate_scores(task: str, items: Sequence[TrainingItem], scores: Mapping[str, np.ndarray], *,
                    threshold: float = 0.5) -> dict[str, float]:
    """Metrics of per-segment ``scores`` (key → (N,)) against the items' targets and intervals.

    Returns
    -------
    dict of str to float
        ``n_items, n_segments, positive_rate, precision, recall, f1, region_iou`` plus the
        task-specific interval metrics described in the module docstring.
    """
    y_true = np.concatenate([it.targets for it in items]) if items else np.zeros(0)
    y_pred = np.concatenate([np.asarray(scores[it.key]) >= threshold for it in items]) if items else np.zeros(0)
    out: dict[str, float] = {"n_items": float(len(items)), "n_segments": float(y_true.size),
                             "positive_rate": float(y_true.mean()) if y_true.size else float("nan")}
    if y_true.size:
        p, r, f, _ = precision_recall_fscore_support(y_true.astype(int), y_pred.astype(int), average="binary",
                                                     zero_division=0)
        out.update(precision=float(p), recall=float(r), f1=float(f))
    ious = []
    refs: dict[str, tuple[float, float] | None] = {}
    ests: dict[str, tuple[float, float] | None] = {}
    frame_f, occ_f = [], []
    for it in items:
        segs = it.table.segments
        region = main_region(segs, scores[it.key], threshold=threshold)
        if it.intervals:
            ious.append(max(iou(ref, region) for ref in it.intervals) if region else 0.0)
        if task == "intro":
            refs[it.key] = (min(s for s, _ in it.intervals), max(e for _, e in it.intervals)) if it.intervals else None
            ests[it.key] = region
        elif task == "chorus" and segs.duration > 0:
            est = np.array([(s, e) for s, e, _ in score_regions(segs, scores[it.key], threshold=threshold,
                                                                min_segments=2)]).reshape(-1, 2)
            ref = np.array(it.intervals, dtype=np.float64).reshape(-1, 2)
            frame_f.append(frame_prf(ref, est, duration=segs.duration)[2])
            occ_f.append(occurrence_prf(ref, est, window=3.0)[2])
    out["region_iou"] = float(np.mean(ious)) if ious else float("nan")
    if task == "intro" and refs:
        out.update({f"intro_{k}": float(v) for k, v in intro_metrics.evaluate(refs, ests).items()})
    if task == "chorus" and frame_f:
        out["chorus_frame_f1"] = float(np.mean(frame_f))
        out["chorus_occurrence_f"] = float(np.mean(occ_f))
    return out
