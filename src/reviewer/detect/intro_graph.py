"""The recurring-item graph of a series: pairwise matches chained, clustered per episode, linked across episodes.

:func:`series_links` aligns every pair of episodes (:func:`reviewer.detect.align.match_pair`)
and :func:`chain` joins the pieces of one shared region (a shortened cut, a match
broken by a dip); :func:`items_of` clusters each episode's linked intervals into
:class:`Node` s and joins nodes linked by a match into recurring :class:`Item` s
(connected components over the episodes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from reviewer.detect import align
from reviewer.detect.align import AlignConfig, Match, Profile


@dataclass
class Link:
    """A chained match between episodes i and j (pieces of a shortened copy joined)."""

    i: int
    j: int
    a: tuple[float, float]
    b: tuple[float, float]
    score: float


def chain(matches: Sequence[Match], *, max_gap: float = 2.0, max_skip: float = 40.0, max_dip: float = 4.0,
          max_len: float = 120.0, quiet_a: np.ndarray | None = None, quiet_b: np.ndarray | None = None,
          hop: float = align.HOP / align.SR) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """Join the pieces of one pair's matches that belong to one shared region.

    * A shortened copy matches a full one in pieces that continue each other on
      the short side (gap ≤ ``max_gap``) and skip ahead on the full side: the
      diagonal moves by 3 s or more, the skip is at most ``max_skip`` s, and
      the full side does not pause in the part it skips (the theme plays on). A theme
      repeats its own phrases, so the piece after the cut often matches from a
      phrase *earlier* on the short side (an overlap instead of a touch), and a
      phrase matches its own repeat (the full side continues, the short side
      steps back): any gap up to ``max_gap`` counts as continuing.
    * A piece inside the region on both sides (a phrase matched to its own
      repeat) is absorbed.
    * A match broken by a dip continues on the same diagonal (``max_dip``: the
      longest break, seconds, both sides alike) — the region's corner's, or any
      of its pieces' (after a phrase matched to its own repeat the corner lies
      off the last piece's diagonal, on which a shortened copy's ending goes on).

    Anything else stays apart: a cue followed by the theme after pauses that
    differ by less than 3 s is not a skip, so it is two items. Nothing is joined
    across a pause (``quiet_a`` / ``quiet_b``: :func:`reviewer.detect.align.quiet_mask`
    of each episode, ``hop`` seconds per frame): a cut inside a theme is a
    cross-fade, a pause between pieces is a boundary between items (the theme,
    then the end credits of an episode that rolls them right after it). A pause
    in one episode only joins pieces on the same diagonal within 0.15 s (the
    other copy is talked over there); a diagonal that moves across it is a cue
    played right before the theme in one episode and a moment earlier in the other.

    Returns
    -------
    list of ((a0, a1), (b0, b1), score)
    """
    def paused(q: np.ndarray | None, t0: float, t1: float) -> bool:
        if q is None or t1 <= t0:
            return False
        i0, i1 = max(0, int((t0 - 0.25) / hop)), min(q.size, int(np.ceil((t1 + 0.25) / hop)))
        return bool(q[i0:i1].any())

    def continues(p: Match, m: Match) -> bool:
        # m goes on from piece p on p's diagonal (a dip), as ``same_diag`` below for the region's corner
        ga, gb = m.a_start - p.a_end, m.b_start - p.b_end
        pz_a, pz_b = paused(quiet_a, p.a_end, m.a_start), paused(quiet_b, p.b_end, m.b_start)
        return (abs(ga - gb) < (0.15 if pz_a or pz_b else 0.5) and -max_gap <= max(ga, gb) <= max_dip
                and not (pz_a and pz_b) and m.a_end >= p.a_end + 1.0 and m.b_end >= p.b_end + 1.0)

    out: list[list] = []
    for m in sorted(matches, key=lambda m: m.a_start):
        for g in reversed(out):
            (a0, a1), (b0, b1), sc, w, _ = g
            ga, gb = m.a_start - a1, m.b_start - b1
            if not (m.a_start > a0 and m.b_start > b0 and max(a1, m.a_end) - a0 <= max_len):
                continue
            inside = m.a_end <= a1 + max_gap and m.b_end <= b1 + max_gap
            lo_gap, hi_gap = min(ga, gb), max(ga, gb)
            # the region goes on, on one side at least: the piece starts within max_gap of its end there (or
            # inside it) and carries it ≥ 1 s further, without a pause at the junction
            cont_a = ga <= max_gap and m.a_end >= a1 + 1.0 and not paused(quiet_a, a1, m.a_start)
            cont_b = gb <= max_gap and m.b_end >= b1 + 1.0 and not paused(quiet_b, b1, m.b_start)
            # a dip inside one shared region keeps its diagonal; a pause at the junction in one episode only
            # (the other plays on, or pauses less) is two items laid out apart there: a cue, then the theme
            pz_a, pz_b = paused(quiet_a, a1, m.a_start), paused(quiet_b, b1, m.b_start)
            # the skipping side's full copy plays on through the part the cut left out: a pause there is its end
            # (the theme, a scene, then the end credits that the other episode rolls right after its theme)
            skip = (lo_gap <= max_gap and 3.0 <= hi_gap - lo_gap and hi_gap <= max_skip and (cont_a or cont_b)
                    and not (pz_a or pz_b))
            same_diag = (abs(ga - gb) < (0.15 if pz_a or pz_b else 0.5) and -max_gap <= max(ga, gb) <= max_dip
                         and not (pz_a and pz_b))
            # the region's last piece may lie off the region's corner: a phrase matched to its own repeat (the
            # short side stepped back) ends where the shortened copy's ending goes on, on that piece's diagonal
            if not (inside or skip or same_diag):
                same_diag = any(continues(p, m) for p in g[4])
            if inside or skip or same_diag:
                g[:] = [(a0, max(a1, m.a_end)), (b0, max(b1, m.b_end)),
                        (sc * w + m.score * m.length) / (w + m.length), w + m.length, g[4] + [m]]
                break
        else:
            out.append([(m.a_start, m.a_end), (m.b_start, m.b_end), m.score, m.length, [m]])
    return [(a, b, s) for a, b, s, _, _ in out]


def _iou(x: tuple[float, float], y: tuple[float, float]) -> float:
    inter = max(0.0, min(x[1], y[1]) - max(x[0], y[0]))
    union = max(x[1], y[1]) - min(x[0], y[0])
    return inter / union if union > 0 else 0.0


class _Find:
    def __init__(self) -> None:
        self.parent: dict = {}

    def __call__(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, x, y) -> None:
        self.parent[self(x)] = self(y)


@dataclass
class Node:
    ep: int
    a: tuple[float, float]
    links: list = field(default_factory=list)  # (link, side) with side 0 = this episode is i


def nodes_of(links: list[Link], n_eps: int) -> list[Node]:
    """Cluster each episode's linked intervals (IoU ≥ 0.4) into nodes."""
    per_ep: dict[int, list[tuple[tuple[float, float], Link, int]]] = defaultdict(list)
    for lk in links:
        per_ep[lk.i].append((lk.a, lk, 0))
        per_ep[lk.j].append((lk.b, lk, 1))
    nodes: list[Node] = []
    for ep in range(n_eps):
        mine: list[Node] = []
        for iv, lk, side in sorted(per_ep.get(ep, []), key=lambda t: -(t[0][1] - t[0][0])):
            for nd in mine:
                if _iou(nd.a, iv) >= 0.4:
                    nd.links.append((lk, side))
                    break
            else:
                mine.append(Node(ep, iv, [(lk, side)]))
        nodes.extend(mine)
    return nodes


def node_interval(nd: Node, others: Sequence[Node] = ()) -> tuple[float, float]:
    """Start = earliest, end = latest boundary over the node's links (each link is cut by the worse copy).

    A boundary that reaches into another recurring item of the same episode
    (a cue played right before the theme in two episodes) falls back to the next
    later start / earlier end among the links.
    """
    ivs = [lk.a if side == 0 else lk.b for lk, side in nd.links]
    starts = sorted(s for s, _ in ivs)
    ends = sorted((e for _, e in ivs), reverse=True)

    def covered(lo: float, hi: float) -> bool:
        return hi - lo > 0.5 and any(min(hi, o.a[1]) - max(lo, o.a[0]) >= 0.5 * (hi - lo) for o in others)

    s0 = starts[0]
    for k in range(len(starts) - 1):
        if covered(starts[k], starts[k + 1]):
            s0 = starts[k + 1]
        else:
            break
    e0 = ends[0]
    for k in range(len(ends) - 1):
        if covered(ends[k + 1], ends[k]):
            e0 = ends[k + 1]
        else:
            break
    return s0, e0


@dataclass
class Item:
    """A recurring item of one series: nodes in several episodes linked by matches."""

    nodes: list[Node]
    score: float = 0.0
    reason: str = ""
    #: the scorer's mean intro probability over the copies (None without a scorer); set by ``rate_item``
    prob: float | None = None


def occurrences(nodes: Sequence[Node], ivs: Sequence[tuple[float, float]], *, gap: float = 2.0) -> int:
    """Disjoint occurrences over episodes: a node's intervals that overlap or touch within ``gap`` s are one.

    (Self-similar halves of one theme matched to each other are not a cue that recurs.)
    """
    return sum(occurrences_per_episode(nodes, ivs, gap=gap).values())


def occurrences_per_episode(nodes: Sequence[Node], ivs: Sequence[tuple[float, float]], *,
                            gap: float = 2.0) -> dict[int, int]:
    """Disjoint occurrences in each episode (as :func:`occurrences`)."""
    per_ep: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for nd, iv in zip(nodes, ivs):
        per_ep[nd.ep].append(iv)
    out = {}
    for ep, spans in per_ep.items():
        count, end = 0, -np.inf
        for s, e in sorted(spans):
            if s > end + gap:
                count += 1
            end = max(end, e)
        out[ep] = count
    return out


def items_of(links: list[Link], n_eps: int) -> list[Item]:
    nodes = nodes_of(links, n_eps)
    find = _Find()
    owner: dict[tuple[int, int], int] = {}
    for k, nd in enumerate(nodes):
        find(k)
        for lk, side in nd.links:
            owner.setdefault((id(lk), side), k)
    for lk_side, k in owner.items():
        other = owner.get((lk_side[0], 1 - lk_side[1]))
        if other is not None:
            find.union(k, other)
    groups: dict[int, list[Node]] = defaultdict(list)
    for k, nd in enumerate(nodes):
        groups[find(k)].append(nd)
    return [Item(g) for g in groups.values()]


def resumed_pieces(pa: Profile, pb: Profile, ms: Sequence[Match], *, config: AlignConfig) -> list[Match]:
    """The resumed endings of shortened copies after the pair's matches, on either side (:func:`align.resumed_after`).

    :func:`chain` joins each to the match it follows (a skip on the full side); a
    piece the pair's matches already hold is left out.
    """
    out: list[Match] = []
    for m in ms:
        ml = config.resumed_min_len
        for r in (resumed_ending(pa, pb, m, config=config, min_len=ml),
                  _swapped(resumed_ending(pb, pa, m.swapped(), config=config, min_len=ml))):
            if r is None or any(align._overlap(r.a_start, r.a_end, k.a_start, k.a_end) >= 0.5 * r.length
                                and align._overlap(r.b_start, r.b_end, k.b_start, k.b_end) >= 0.5 * (r.b_end - r.b_start)
                                for k in list(ms) + out):
                continue
            out.append(r)
    return out


def resumed_ending(pa: Profile, pb: Profile, m: Match, *, config: AlignConfig, min_skip: float = 3.0,
                   max_skip: float = 40.0, reach: float = 1.0, window: float = 8.0, min_len: float = 2.0,
                   threshold: float = 0.6) -> Match | None:
    """:func:`align.resumed_after`, with the resumed piece's start held after the junction when its refinement walks back.

    The same search (a run of ≥ ``min_len`` s starting within ``reach`` s of A's
    junction ``m.a_end``, found ``min_skip``–``max_skip`` s further in B, no pause
    in A or B across the junction, refined like a match). The refinement walks
    the piece's diagonal outward from that run; back across the junction A
    plays the phrase before the cut while B plays the end of the part the cut
    left out. A theme that repeats itself (the skipped part ends on a variant of
    the phrase before the cut) keeps that walk going for seconds before the
    junction, and those weakly similar seconds pull the piece's mean similarity
    under ``config.min_score``; :func:`align.resumed_after` then drops it (its
    start lies before the junction anyway) and the copy seems to end at the cut.
    A's part before the junction is ``m``'s already: here a piece that walked
    back more than ``reach`` + 1 s before the junction is cut back to where the
    run after the junction starts (on the refined diagonal) and scored there.
    Otherwise the result is :func:`align.resumed_after`'s.
    """
    return align.find_resumed(pa, pb, m, config=config, min_skip=min_skip, max_skip=max_skip, reach=reach,
                              window=window, min_len=min_len, threshold=threshold, hold_start=True)


def _swapped(m: Match | None) -> Match | None:
    return None if m is None else m.swapped()


def series_links(profiles: list[Profile], *, config: AlignConfig) -> tuple[list[Link], float]:
    links: list[Link] = []
    n = len(profiles)
    for i in range(n):
        for j in range(i + 1, n):
            ms = align.match_pair(profiles[i], profiles[j], config=config)
            ms = ms + resumed_pieces(profiles[i], profiles[j], ms, config=config)
            for a, b, s in chain(ms, quiet_a=align.quiet_mask(profiles[i]), quiet_b=align.quiet_mask(profiles[j]),
                                 hop=profiles[i].hop):
                links.append(Link(i, j, a, b, s))
    return links, 0.0


def best_node(item: Item, e: int, *, nested: float = 0.9) -> Node | None:
    """Episode ``e``'s node of ``item`` with the most links (then the longest), a node counting the links of the
    nodes it holds (``nested`` of their length inside it) too: a full copy matched whole by one sibling holds the
    ending that two shortened copies match (their intervals' IoU is under the 0.4 that joins nodes)."""
    mine = [nd for nd in item.nodes if nd.ep == e]

    def inside(x: Node, y: Node) -> bool:
        ov = min(x.a[1], y.a[1]) - max(x.a[0], y.a[0])
        return x is not y and ov >= nested * (x.a[1] - x.a[0])

    def key(nd: Node):
        held = {id(lk) for o in mine if o is nd or inside(o, nd) for lk, _ in o.links}
        return len(held), nd.a[1] - nd.a[0]

    return max(mine, key=key) if mine else None


def match_evidence(nd: Node, keys: list[str]) -> list[dict]:
    out = []
    for lk, side in nd.links:
        mine, other, ok = (lk.a, lk.b, lk.j) if side == 0 else (lk.b, lk.a, lk.i)
        out.append({"other_key": keys[ok], "start": round(mine[0], 3), "end": round(mine[1], 3),
                    "other_start": round(other[0], 3), "other_end": round(other[1], 3), "score": round(lk.score, 4)})
    return out
