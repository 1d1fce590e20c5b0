"""Which recurring item is the theme: the rating of :class:`~reviewer.detect.intro_graph.Item` s.

Recaps, credits, idents and recurring cues repeat too; :func:`rate_item` rejects
or down-weights them with the reason recorded as evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewer.aggregate import SegmentTable
from reviewer.detect.intro_graph import Item, node_interval, occurrences

if TYPE_CHECKING:  # pragma: no cover
    from reviewer.detect.intro import IntroConfig


def scorer_mean(probs: np.ndarray | None, table: SegmentTable | None, iv: tuple[float, float]) -> float | None:
    if probs is None or table is None:
        return None
    seg = table.segments
    mid = (np.asarray(seg.starts) + np.asarray(seg.ends)) / 2
    sel = (mid >= iv[0]) & (mid <= iv[1])
    return float(np.mean(probs[sel])) if sel.any() else None


def rate_item(item: Item, *, n_eps: int, durations: list[float], truncated: list[bool], probs: list, tables: list,
          config: IntroConfig) -> None:
    """Score a recurring item as the theme (0 = rejected, with the reason)."""
    eps = {nd.ep for nd in item.nodes}
    ivs = [node_interval(nd) for nd in item.nodes]
    lengths = np.array([e - s for s, e in ivs])
    length = float(np.median(lengths))
    coverage = len(eps) / n_eps
    multiplicity = occurrences(item.nodes, ivs) / max(1, len(eps))
    at_end = np.mean([(not truncated[nd.ep]) and iv[1] >= durations[nd.ep] - 3.0 for nd, iv in zip(item.nodes, ivs)])
    rel = float(np.median([iv[0] / max(durations[nd.ep], 1e-6) for nd, iv in zip(item.nodes, ivs)]))
    link_score = float(np.mean([lk.score for nd in item.nodes for lk, _ in nd.links]))
    if length < config.min_len:
        item.score, item.reason = 0.0, f"too short ({length:.1f} s): ident, sting or cue"
        return
    if length > config.max_len:
        item.score, item.reason = 0.0, f"too long ({length:.1f} s)"
        return
    if at_end >= 0.5:
        item.score, item.reason = 0.0, "ends where the episode ends: end credits"
        return
    if n_eps >= 3 and coverage < config.min_coverage:
        item.score, item.reason = 0.0, f"in {len(eps)} of {n_eps} episodes only: recap clip or chance"
        return
    score = coverage * min(1.0, length / 20.0) * link_score * (1.0 - 0.5 * min(1.0, rel))
    reason = f"in {len(eps)}/{n_eps} episodes, {length:.1f} s, position {rel:.2f}"
    if multiplicity > 1.25:
        score *= 0.3
        reason += f", recurs {multiplicity:.1f}× per episode (cue?)"
    p = [scorer_mean(probs[nd.ep], tables[nd.ep], iv) for nd, iv in zip(item.nodes, ivs)]
    p = [x for x in p if x is not None]
    if p:
        score *= 0.25 + 0.75 * float(np.mean(p))
        reason += f", scorer {np.mean(p):.2f}"
    item.score, item.reason = float(score), reason
