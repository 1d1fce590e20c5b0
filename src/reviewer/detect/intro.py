"""Intro (opening theme) detection over the episodes of a series (seed 001).

Two signals:

(a) repetition across sibling episodes — every pair of episodes is aligned
    (:func:`reviewer.detect.align.match_pair`); the regions they share are linked
    into *recurring items* (connected components over the episodes). The theme
    is the item that recurs once in most episodes, early, 10–120 s long; items
    that end at the end of the file (end credits), recur several times inside
    one episode (cues), are too short (idents, recap stings) or shared by few
    episodes (recap clips) lose.
(b) the learned per-segment ``"intro"`` probability of a
    :class:`~reviewer.models.scorer.SegmentScorer`, when given: it weighs the
    recurring items, and it is used alone for an episode without siblings.

Episodes where nothing intro-like recurs get "no intro" (start = end = None).
Boundaries come from the fine (50 ms) alignment walk, below the 1.5 s hop.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from reviewer.aggregate import SegmentTable
from reviewer.audio_io import Audio, load_audio
from reviewer.detect import align
from reviewer.detect.align import AlignConfig, Match, Profile
from reviewer.errors import ConfigError, ValidationError

log = logging.getLogger(__name__)

METHOD_REPEAT = "repetition"
METHOD_SCORER = "scorer"
METHOD_NONE = "none"


@dataclass(frozen=True)
class IntroConfig:
    """Intro detector parameters (seconds unless said otherwise).

    Attributes
    ----------
    search_window : float
        Only the first N seconds of each episode are searched (cold opens of a few minutes).
    min_len, max_len : float
        Shortest and longest intro.
    confidence_threshold : float
        Seed 001: below this the prediction is "unsure" (the UI flags it).
    min_coverage : float
        Share of a series' episodes a recurring item must appear in (series of ≥ 3 episodes).
    score_threshold : float
        Minimum scorer probability of a run when the scorer is used alone.
    align : AlignConfig
        Alignment search parameters.
    """

    search_window: float = 360.0
    min_len: float = 10.0
    max_len: float = 120.0
    confidence_threshold: float = 0.7
    min_coverage: float = 0.5
    score_threshold: float = 0.5
    align: AlignConfig = field(default_factory=AlignConfig)

    def __post_init__(self) -> None:
        if not 0 < self.min_len < self.max_len:
            raise ConfigError(f"intro: need 0 < min_len < max_len, got {self.min_len!r}, {self.max_len!r}")
        if self.search_window <= self.min_len:
            raise ConfigError(f"intro: search_window must exceed min_len, got {self.search_window!r}")
        for name in ("confidence_threshold", "min_coverage", "score_threshold"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"intro: {name} must be in [0, 1], got {v!r}")


@dataclass(frozen=True)
class Episode:
    """One episode to search: a key, its series, and its audio (a path or decoded samples).

    ``table`` (the segment table) is needed only when a scorer is given.
    """

    key: str
    series: str
    path: str | None = None
    audio: Audio | None = None
    table: SegmentTable | None = None

    def __post_init__(self) -> None:
        if self.path is None and self.audio is None:
            raise ValidationError(f"episode {self.key!r} needs a path or decoded audio")


@dataclass(frozen=True)
class IntroPrediction:
    """The intro of one episode (start = end = None: no intro), with its evidence.

    Attributes
    ----------
    key : str
    start, end : float or None
        Seconds.
    confidence : float
        In [0, 1]; below ``IntroConfig.confidence_threshold`` = unsure.
    method : str
        ``"repetition"``, ``"scorer"`` or ``"none"``.
    model_version : str
        The scorer's version, ``"none"`` without a scorer.
    segment_times : list of [s, e]
        Segments the scorer scored (empty without a scorer).
    segment_scores : list of float
        Per-segment intro probability (empty without a scorer).
    evidence : dict
        ``{"matches": [...], "candidates": [...]}`` as in the ARCHITECTURE payload schema.
    """

    key: str
    start: float | None
    end: float | None
    confidence: float
    method: str
    model_version: str = "none"
    segment_times: list = field(default_factory=list)
    segment_scores: list = field(default_factory=list)
    evidence: dict = field(default_factory=lambda: {"matches": [], "candidates": []})

    @property
    def found(self) -> bool:
        return self.start is not None

    @property
    def unsure(self) -> bool:
        return self.confidence < IntroConfig().confidence_threshold

    def to_payload(self) -> dict:
        """The ``payload`` of a task-``"intro"`` Prediction row (a fresh copy)."""
        return {
            "method": self.method,
            "model_version": self.model_version,
            "segment_times": [list(map(float, t)) for t in self.segment_times],
            "segment_scores": [float(s) for s in self.segment_scores],
            "evidence": {"matches": [dict(m) for m in self.evidence.get("matches", [])],
                         "candidates": [dict(c) for c in self.evidence.get("candidates", [])]},
        }


# --------------------------------------------------------------------------- repetition


@dataclass
class _Link:
    """A chained match between episodes i and j (pieces of a shortened copy joined)."""

    i: int
    j: int
    a: tuple[float, float]
    b: tuple[float, float]
    score: float


def chain(matches: Sequence[Match], *, max_gap: float = 2.0, max_skip: float = 40.0, max_dip: float = 4.0,
          max_len: float = 120.0) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """Join consecutive pieces of one pair's matches.

    A shortened copy matches a full one in pieces that are contiguous on the short
    side (gap ≤ ``max_gap``) and skip 3–``max_skip`` s on the full side; a match
    broken by a dip continues on the same diagonal. Anything else stays apart (a
    cue followed by the theme after a different pause is two items). ``max_dip``: the
    longest break (seconds, both sides alike) joined on one diagonal.

    Returns
    -------
    list of ((a0, a1), (b0, b1), score)
    """
    out: list[list] = []
    for m in sorted(matches, key=lambda m: m.a_start):
        if out:
            (a0, a1), (b0, b1), sc, w = out[-1]
            ga, gb = m.a_start - a1, m.b_start - b1
            ok = m.a_start > a0 and m.b_start > b0 and max(a1, m.a_end) - a0 <= max_len
            skip = (abs(ga) <= max_gap and 3.0 <= gb <= max_skip) or (abs(gb) <= max_gap and 3.0 <= ga <= max_skip)
            same_diag = abs(ga - gb) < 0.5 and max(ga, gb) <= max_dip
            if ok and (skip or same_diag):
                out[-1] = [(a0, max(a1, m.a_end)), (b0, max(b1, m.b_end)),
                           (sc * w + m.score * m.length) / (w + m.length), w + m.length]
                continue
        out.append([(m.a_start, m.a_end), (m.b_start, m.b_end), m.score, m.length])
    return [(a, b, s) for a, b, s, _ in out]


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
class _Node:
    ep: int
    a: tuple[float, float]
    links: list = field(default_factory=list)  # (link, side) with side 0 = this episode is i


def _nodes(links: list[_Link], n_eps: int) -> list[_Node]:
    """Cluster each episode's linked intervals (IoU ≥ 0.4) into nodes."""
    per_ep: dict[int, list[tuple[tuple[float, float], _Link, int]]] = defaultdict(list)
    for lk in links:
        per_ep[lk.i].append((lk.a, lk, 0))
        per_ep[lk.j].append((lk.b, lk, 1))
    nodes: list[_Node] = []
    for ep in range(n_eps):
        mine: list[_Node] = []
        for iv, lk, side in sorted(per_ep.get(ep, []), key=lambda t: -(t[0][1] - t[0][0])):
            for nd in mine:
                if _iou(nd.a, iv) >= 0.4:
                    nd.links.append((lk, side))
                    break
            else:
                mine.append(_Node(ep, iv, [(lk, side)]))
        nodes.extend(mine)
    return nodes


def _node_interval(nd: _Node, others: Sequence[_Node] = ()) -> tuple[float, float]:
    """Start = earliest, end = latest boundary over the node's links (each link is cut by the worse copy).

    A boundary that reaches into another recurring item of the same episode
    (a cue played right before the theme in two episodes) falls back to the next
    later start / earlier end among the links.
    """
    ivs = [lk.a if side == 0 else lk.b for lk, side in nd.links]
    starts = sorted(s for s, _ in ivs)
    ends = sorted((e for _, e in ivs), reverse=True)

    def covered(lo: float, hi: float) -> bool:
        return hi - lo > 1.0 and any(min(hi, o.a[1]) - max(lo, o.a[0]) >= 0.5 * (hi - lo) for o in others)

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
class _Item:
    """A recurring item of one series: nodes in several episodes linked by matches."""

    nodes: list[_Node]
    score: float = 0.0
    reason: str = ""


def _scorer_mean(probs: np.ndarray | None, table: SegmentTable | None, iv: tuple[float, float]) -> float | None:
    if probs is None or table is None:
        return None
    seg = table.segments
    mid = (np.asarray(seg.starts) + np.asarray(seg.ends)) / 2
    sel = (mid >= iv[0]) & (mid <= iv[1])
    return float(np.mean(probs[sel])) if sel.any() else None


def _occurrences(nodes: Sequence[_Node], ivs: Sequence[tuple[float, float]], *, gap: float = 2.0) -> int:
    """Disjoint occurrences over episodes: a node's intervals that overlap or touch within ``gap`` s are one.

    (Self-similar halves of one theme matched to each other are not a cue that recurs.)
    """
    per_ep: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for nd, iv in zip(nodes, ivs):
        per_ep[nd.ep].append(iv)
    count = 0
    for spans in per_ep.values():
        end = -np.inf
        for s, e in sorted(spans):
            if s > end + gap:
                count += 1
            end = max(end, e)
    return count


def _rate(item: _Item, *, n_eps: int, durations: list[float], truncated: list[bool], probs: list, tables: list,
          config: IntroConfig) -> None:
    """Score a recurring item as the theme (0 = rejected, with the reason)."""
    eps = {nd.ep for nd in item.nodes}
    ivs = [_node_interval(nd) for nd in item.nodes]
    lengths = np.array([e - s for s, e in ivs])
    length = float(np.median(lengths))
    coverage = len(eps) / n_eps
    multiplicity = _occurrences(item.nodes, ivs) / max(1, len(eps))
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
    p = [_scorer_mean(probs[nd.ep], tables[nd.ep], iv) for nd, iv in zip(item.nodes, ivs)]
    p = [x for x in p if x is not None]
    if p:
        score *= 0.25 + 0.75 * float(np.mean(p))
        reason += f", scorer {np.mean(p):.2f}"
    item.score, item.reason = float(score), reason


def _items(links: list[_Link], n_eps: int) -> list[_Item]:
    nodes = _nodes(links, n_eps)
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
    groups: dict[int, list[_Node]] = defaultdict(list)
    for k, nd in enumerate(nodes):
        groups[find(k)].append(nd)
    return [_Item(g) for g in groups.values()]


def _series_repetition(profiles: list[Profile], *, config: IntroConfig) -> tuple[list[_Link], float]:
    links: list[_Link] = []
    n = len(profiles)
    for i in range(n):
        for j in range(i + 1, n):
            ms = align.match_pair(profiles[i], profiles[j], config=config.align)
            for a, b, s in chain(ms):
                links.append(_Link(i, j, a, b, s))
    return links, 0.0


def _best_node(item: _Item, e: int) -> _Node | None:
    mine = [nd for nd in item.nodes if nd.ep == e]
    return max(mine, key=lambda nd: (len({id(lk) for lk, _ in nd.links}), nd.a[1] - nd.a[0])) if mine else None


def _carry_boundaries(chosen: _Item, items: list[_Item], durations: list[float], *,
                      reach: float = 3.0) -> dict[int, tuple[float, float]]:
    """Each episode's theme interval, its ends carried over from the siblings through the alignment.

    A fade or dialogue over the end of one copy cuts every match of that copy early;
    a sibling whose copy ends cleanly knows where the theme ends. Each link maps the
    partner's own boundary into this episode (``a = a1 + (b − b1) / ratio``); the median
    of those (two siblings at least), when later (earlier for starts) by at most ``reach`` seconds, wins.
    """
    base: dict[int, tuple[_Node, tuple[float, float]]] = {}
    for e in sorted({nd.ep for nd in chosen.nodes}):
        nd = _best_node(chosen, e)
        others = [o for it in items if it is not chosen for o in it.nodes if o.ep == e]
        base[e] = (nd, _node_interval(nd, others))
    out = {}
    for e, (nd, (s, t)) in base.items():
        starts, ends = [], []
        for lk, side in nd.links:
            mine, theirs, other = (lk.a, lk.b, lk.j) if side == 0 else (lk.b, lk.a, lk.i)
            if other not in base or mine[1] - mine[0] <= 0 or theirs[1] - theirs[0] <= 0:
                continue
            ratio = (theirs[1] - theirs[0]) / (mine[1] - mine[0])
            os_, ot = base[other][1]
            starts.append(mine[0] + (os_ - theirs[0]) / ratio)
            ends.append(mine[1] + (ot - theirs[1]) / ratio)
        if len(ends) >= 2:
            t2 = float(np.median(ends))
            if t < t2 <= t + reach:
                t = min(t2, durations[e])
        if len(starts) >= 2:
            s2 = float(np.median(starts))
            if s - reach <= s2 < s:
                s = max(0.0, s2)
        out[e] = (s, t)
    return out


def _match_evidence(nd: _Node, keys: list[str]) -> list[dict]:
    out = []
    for lk, side in nd.links:
        mine, other, ok = (lk.a, lk.b, lk.j) if side == 0 else (lk.b, lk.a, lk.i)
        out.append({"other_key": keys[ok], "start": round(mine[0], 3), "end": round(mine[1], 3),
                    "other_start": round(other[0], 3), "other_end": round(other[1], 3), "score": round(lk.score, 4)})
    return out


# --------------------------------------------------------------------------- scorer


def _scorer_only(probs: np.ndarray, table: SegmentTable, *, config: IntroConfig) -> tuple[float, float, float] | None:
    """The longest run of segments with probability ≥ ``score_threshold`` inside the window and length limits."""
    seg = table.segments
    starts, ends = np.asarray(seg.starts), np.asarray(seg.ends)
    on = (probs >= config.score_threshold) & (starts < config.search_window)
    best = None
    k = 0
    while k < on.size:
        if not on[k]:
            k += 1
            continue
        m = k
        while m + 1 < on.size and on[m + 1]:
            m += 1
        s, e = float(starts[k]), float(ends[m])
        if config.min_len <= e - s <= config.max_len and (best is None or e - s > best[1] - best[0]):
            best = (s, e, float(probs[k : m + 1].mean()))
        k = m + 1
    return best


def _segment_payload(table: SegmentTable | None, probs: np.ndarray | None) -> tuple[list, list]:
    if table is None or probs is None:
        return [], []
    seg = table.segments
    return ([[round(float(s), 3), round(float(e), 3)] for s, e in zip(seg.starts, seg.ends)],
            [round(float(p), 4) for p in probs])


# --------------------------------------------------------------------------- the detector


def _load(ep: Episode, *, config: IntroConfig) -> tuple[Profile, float, bool]:
    if ep.audio is not None:
        y, sr = ep.audio.y, ep.audio.sr
        if sr != align.SR:
            import soxr

            y = soxr.resample(y, sr, align.SR).astype(np.float32)
        y = y[: int(config.search_window * align.SR)]
        truncated = ep.audio.duration > config.search_window
    else:
        audio = load_audio(ep.path, sr=align.SR, max_seconds=config.search_window)
        y, truncated = audio.y, audio.truncated
    return align.spectral_profile(y, align.SR), len(y) / align.SR, bool(truncated)


def detect_series(episodes: Sequence[Episode], *, config: IntroConfig, scorer=None) -> list[IntroPrediction]:
    """Detect the intros of the episodes of one series (see :func:`detect_intros`)."""
    # the products here are small: a multi-threaded BLAS spends 100× more time spinning than computing
    with _single_thread_blas():
        return _detect_series(episodes, config=config, scorer=scorer)


def _single_thread_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _detect_series(episodes: Sequence[Episode], *, config: IntroConfig, scorer=None) -> list[IntroPrediction]:
    keys = [ep.key for ep in episodes]
    loaded = [_load(ep, config=config) for ep in episodes]
    profiles = [p for p, _, _ in loaded]
    durations = [d for _, d, _ in loaded]
    truncated = [t for _, _, t in loaded]
    version = getattr(scorer, "model_version", "none") if scorer is not None else "none"
    probs = [np.asarray(scorer.score(ep.table), dtype=np.float32) if scorer is not None and ep.table is not None else None
             for ep in episodes]
    tables = [ep.table for ep in episodes]
    n = len(episodes)
    chosen: _Item | None = None
    items: list[_Item] = []
    if n >= 2:
        links, _ = _series_repetition(profiles, config=config)
        items = _items(links, n)
        for it in items:
            _rate(it, n_eps=n, durations=durations, truncated=truncated, probs=probs, tables=tables, config=config)
        items.sort(key=lambda it: -it.score)
        if items and items[0].score > 0:
            chosen = items[0]
    carried = _carry_boundaries(chosen, items, durations) if chosen is not None else {}
    out = []
    for e, ep in enumerate(episodes):
        seg_t, seg_s = _segment_payload(tables[e], probs[e])
        cands = []
        for it in items:
            for nd in it.nodes:
                if nd.ep == e:
                    s, t = _node_interval(nd)
                    cands.append({"start": round(s, 3), "end": round(t, 3), "score": round(it.score, 4), "reason": it.reason})
        mine = [nd for nd in chosen.nodes if nd.ep == e] if chosen is not None else []
        if mine:
            nd = max(mine, key=lambda nd: (len({id(lk) for lk, _ in nd.links}), nd.a[1] - nd.a[0]))
            others = [o for it in items if it is not chosen for o in it.nodes if o.ep == e]
            s, t = carried.get(e, _node_interval(nd, others))
            partners = len({(lk.i, lk.j) for lk, _ in nd.links})
            sc = float(np.mean([lk.score for lk, _ in nd.links]))
            conf = min(1.0, sc * (0.55 + 0.45 * partners / max(1, n - 1)) + 0.1)
            out.append(IntroPrediction(ep.key, round(max(0.0, s), 3), round(t, 3), round(conf, 4), METHOD_REPEAT, version,
                                       seg_t, seg_s, {"matches": _match_evidence(nd, keys), "candidates": cands}))
            continue
        if probs[e] is not None and (n == 1 or chosen is None):
            run = _scorer_only(probs[e], tables[e], config=config)
            if run is not None:
                out.append(IntroPrediction(ep.key, round(run[0], 3), round(run[1], 3), round(run[2], 4), METHOD_SCORER,
                                           version, seg_t, seg_s, {"matches": [], "candidates": cands}))
                continue
        conf = 0.9 if chosen is not None else (0.5 if n == 1 else 0.7)
        out.append(IntroPrediction(ep.key, None, None, conf, METHOD_NONE, version, seg_t, seg_s,
                                   {"matches": [], "candidates": cands}))
    return out


def detect_intros(episodes: Sequence[Episode], *, config: IntroConfig = IntroConfig(), scorer=None) -> list[IntroPrediction]:
    """Intro start/end (or "no intro") for every episode, grouped by series.

    Parameters
    ----------
    episodes : sequence of Episode
        Any number of series; episodes of one series share ``series``.
    config : IntroConfig
    scorer : SegmentScorer or None
        Any object with ``score(table) -> (N,)`` intro probabilities and a
        ``model_version``; used for episodes that carry a ``table``.

    Returns
    -------
    list of IntroPrediction
        In the order of ``episodes``.
    """
    if scorer is not None and not callable(getattr(scorer, "score", None)):
        raise ValidationError(f"scorer must have a score(table) method, got {type(scorer).__name__}")
    by_series: dict[str, list[int]] = defaultdict(list)
    for k, ep in enumerate(episodes):
        by_series[ep.series].append(k)
    result: dict[int, IntroPrediction] = {}
    for series, idx in by_series.items():
        log.debug("series %r: %d episode(s)", series, len(idx))
        for k, pred in zip(idx, detect_series([episodes[k] for k in idx], config=config, scorer=scorer)):
            result[k] = pred
    return [result[k] for k in range(len(episodes))]
