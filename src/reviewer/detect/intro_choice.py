"""Which recurring item is the theme: the rating of :class:`~reviewer.detect.intro_graph.Item` s.

Recaps, credits, idents and recurring cues repeat too; :func:`rate_item` rejects
or down-weights them with the reason recorded as evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reviewer.aggregate import SegmentTable
from reviewer.detect.intro_graph import Item, node_interval, occurrences_per_episode

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
    """Score a recurring item as the theme (0 = rejected, with the reason).

    * Copies that end where their episode ends are end credits; they are set
      aside (a show may play its theme under the credits too) and the item is
      judged on the others: when those are too few, it is the credits.
    * Too short (ident, sting), too long, or in too few episodes (a recap clip): rejected.
    * Heard more than once per episode on average (``multiplicity`` > 1.25,
      disjoint copies), or twice, apart, in any one episode: a recurring cue,
      rejected — the theme plays once per episode (its copies under the end
      credits are set aside above). A cue heard exactly once in every episode
      still passes: telling it from a theme is the scorer's job.
    * Otherwise ``coverage × min(1, length / 30 s) × (1 − position / 2)`` (× the
      scorer's mean probability when a scorer is given): the theme is in most
      episodes, long, early. How faithfully the copies match is not theme-ness
      (a cue copied sample for sample matches better than a varied theme), so it
      only gates the matches (``AlignConfig.min_score``).
    """
    at_end = [(not truncated[nd.ep]) and node_interval(nd)[1] >= durations[nd.ep] - 3.0 for nd in item.nodes]
    kept = [nd for nd, end in zip(item.nodes, at_end) if not end]
    if any(at_end):
        if n_eps >= 2 and len({nd.ep for nd in kept}) < max(2, config.min_coverage * n_eps):
            item.score, item.reason = 0.0, "ends where the episode ends: end credits"
            return
        item.nodes = kept
    eps = {nd.ep for nd in item.nodes}
    ivs = [node_interval(nd) for nd in item.nodes]
    lengths = np.array([e - s for s, e in ivs])
    length = float(np.median(lengths))
    coverage = len(eps) / n_eps
    per_ep = occurrences_per_episode(item.nodes, ivs)
    multiplicity = sum(per_ep.values()) / max(1, len(eps))
    twice = sum(1 for c in per_ep.values() if c >= 2)
    rel = float(np.median([iv[0] / max(durations[nd.ep], 1e-6) for nd, iv in zip(item.nodes, ivs)]))
    if length < config.min_len:
        item.score, item.reason = 0.0, f"too short ({length:.1f} s): ident, sting or cue"
        return
    if length > config.max_len:
        item.score, item.reason = 0.0, f"too long ({length:.1f} s)"
        return
    if n_eps >= 3 and coverage < config.min_coverage:
        item.score, item.reason = 0.0, f"in {len(eps)} of {n_eps} episodes only: recap clip or chance"
        return
    if multiplicity > 1.25:
        item.score, item.reason = 0.0, f"recurs {multiplicity:.1f}× per episode: a recurring cue"
        return
    if twice:
        item.score, item.reason = 0.0, f"heard twice, apart, in {twice} episode(s): a recurring cue"
        return
    score = coverage * min(1.0, length / 30.0) * (1.0 - 0.5 * min(1.0, rel))
    reason = f"in {len(eps)}/{n_eps} episodes, {length:.1f} s, position {rel:.2f}"
    p = [scorer_mean(probs[nd.ep], tables[nd.ep], iv) for nd, iv in zip(item.nodes, ivs)]
    p = [x for x in p if x is not None]
    if p:
        score *= 0.25 + 0.75 * float(np.mean(p))
        reason += f", scorer {np.mean(p):.2f}"
    item.score, item.reason = float(score), reason
