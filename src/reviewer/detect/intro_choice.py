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
              config: IntroConfig) -> float:
    """Score a recurring item as the theme (0 = rejected, with the reason).

    * Copies that end where their episode ends are end credits; they are set
      aside (a show may play its theme under the credits too) and the item is
      judged on the others: when those are too few, it is the credits.
    * Too short (ident, sting), too long, or in too few episodes (a recap clip): rejected. Missing
      from two episodes or more, an item must be in ``strict_coverage`` of them: the theme plays in
      nearly every episode of a series; a series without one has scene cues that play in some episodes,
      once (a cue heard in 3 of 5 episodes is no theme).
    * Heard more than once per episode on average (``multiplicity`` > 1.25,
      disjoint copies), or twice, apart, in any one episode: a recurring cue,
      rejected — the theme plays once per episode (its copies under the end
      credits are set aside above). A cue heard exactly once in every episode
      still passes unless every copy (in a whole episode) starts past ``max_first_position`` of its
      episode: a theme opens the show, after a cold open, so at least one copy is early; a scene cue
      sits wherever its scene does (mid-episode in every episode is no opening theme). An item the scorer
      hears as theme music (copies' mean probability ≥ ``position_trust_prob``) is exempt: a theme after
      a long cold open starts past that share too (a themeless series' cue is left to ``scorer_veto``).
    * Otherwise ``coverage × min(1, length / 30 s) × (1 − position / 2)`` (× the
      scorer's mean probability when a scorer is given): the theme is in most
      episodes, long, early. How faithfully the copies match is not theme-ness
      (a cue copied sample for sample matches better than a varied theme), so it
      only gates the matches (``AlignConfig.min_score``).

    Returns
    -------
    float
        The score from the repetition evidence alone (before the scorer's weight; 0 = rejected):
        :func:`choose_theme` lets the scorer decide only among items that are close on it.
    """
    at_end = [(not truncated[nd.ep]) and node_interval(nd)[1] >= durations[nd.ep] - 3.0 for nd in item.nodes]
    kept = [nd for nd, end in zip(item.nodes, at_end) if not end]
    if any(at_end):
        if n_eps >= 2 and len({nd.ep for nd in kept}) < max(2, config.min_coverage * n_eps):
            item.score, item.reason = 0.0, "ends where the episode ends: end credits"
            return 0.0
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
        return 0.0
    if length > config.max_len:
        item.score, item.reason = 0.0, f"too long ({length:.1f} s)"
        return 0.0
    if n_eps >= 3 and coverage < config.min_coverage:
        item.score, item.reason = 0.0, f"in {len(eps)} of {n_eps} episodes only: recap clip or chance"
        return 0.0
    if n_eps >= 3 and coverage < config.strict_coverage and n_eps - len(eps) >= 2:
        item.score, item.reason = 0.0, f"missing from {n_eps - len(eps)} of {n_eps} episodes: a scene cue, not a theme"
        return 0.0
    if multiplicity > 1.25:
        item.score, item.reason = 0.0, f"recurs {multiplicity:.1f}× per episode: a recurring cue"
        return 0.0
    if twice:
        item.score, item.reason = 0.0, f"heard twice, apart, in {twice} episode(s): a recurring cue"
        return 0.0
    p = [scorer_mean(probs[nd.ep], tables[nd.ep], iv) for nd, iv in zip(item.nodes, ivs)]
    p = [x for x in p if x is not None]
    prob = float(np.mean(p)) if p else None
    heard = prob is not None and prob >= config.position_trust_prob
    whole = [iv[0] / durations[nd.ep] for nd, iv in zip(item.nodes, ivs) if not truncated[nd.ep] and durations[nd.ep] > 0]
    if whole and min(whole) > config.max_first_position and not heard:
        item.score = 0.0
        item.reason = f"every copy starts past {min(whole):.2f} of its episode: a mid-episode cue, not an opening theme"
        return 0.0
    base = coverage * min(1.0, length / 30.0) * (1.0 - 0.5 * min(1.0, rel))
    score = base
    reason = f"in {len(eps)}/{n_eps} episodes, {length:.1f} s, position {rel:.2f}"
    if prob is not None:
        item.prob = prob
        score *= 0.25 + 0.75 * prob
        reason += f", scorer {prob:.2f}"
    item.score, item.reason = float(score), reason
    return float(base)


#: an item whose repetition score is below this share of the best item's cannot become the theme, whatever the scorer
CONTENDER_SHARE = 0.5


def choose_theme(items: list[Item], repetition: list[float], *, share: float = CONTENDER_SHARE,
                 veto: float = 0.0) -> Item | None:
    """The theme among rated items: the scorer chooses among the contenders of the repetition evidence only.

    ``repetition[k]`` is :func:`rate_item`'s return value for ``items[k]`` (its score before the
    scorer's weight). An item is a contender when that is at least ``share`` × the best one's; the
    contender with the highest (scorer-weighted) ``score`` wins. A scorer trained on a few series can
    score a theme it never heard as low as speech and a short cue as high as a theme: it breaks near
    ties of the repetition evidence (a recap clip, a jingle or a cue as long and as widespread as the
    theme), it does not overturn a clear verdict (a 12 s cue against a 49 s theme in every episode).
    Losing items get the reason in their ``reason``. None when no item scores above 0.

    ``veto`` (``IntroConfig.scorer_veto``; 0: none): with a scorer, the chosen item whose copies' mean probability
    (``Item.prob``) is under it is no theme, and the series gets none, unless the scorer hears another item that
    passed the repetition rules as theme music (≥ ``veto``): then it is the scorer that misses a theme it never heard
    (tuning seed 19), and the repetition verdict stands. A themeless series' scene cue heard once per episode, one
    copy early, passes every repetition rule; the scorer hears it at ~0.00 and true themes at 0.9+ (session 7).
    """
    if not items:
        return None
    best_rep = max(repetition)
    if best_rep <= 0:
        return None
    contenders = [it for it, r in zip(items, repetition) if it.score > 0 and r >= share * best_rep]
    if not contenders:
        return None
    chosen = max(contenders, key=lambda it: it.score)
    if veto > 0 and chosen.prob is not None and chosen.prob < veto:
        heard = [it for it, r in zip(items, repetition) if it is not chosen and r > 0 and it.prob is not None
                 and it.prob >= veto]
        if not heard:
            chosen.reason += (f"; scorer {chosen.prob:.2f} < {veto:g} and no recurring item heard as theme music: "
                              "a scene cue, the series has no theme")
            return None
    for it, r in zip(items, repetition):
        if it.score > 0 and r < share * best_rep and it.score > chosen.score:
            it.reason += f"; repetition {r:.2f} < {share:g} × the best {best_rep:.2f}: the scorer alone cannot make it the theme"
    return chosen
