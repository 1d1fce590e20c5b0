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
    recurring items that are close on the repetition evidence
    (:func:`~reviewer.detect.intro_choice.choose_theme`), and it is used alone
    for an episode without siblings (its run refined to the pauses around it).

Episodes where nothing intro-like recurs get "no intro" (start = end = None).
Boundaries come from the fine (50 ms) alignment walk, below the 1.5 s hop,
carried over from siblings whose copy is clean there and moved to the pauses
around the theme.

Modules: :mod:`~reviewer.detect.intro_graph` (pairwise matches chained into
links, nodes and recurring items), :mod:`~reviewer.detect.intro_choice` (which
item is the theme, with the reasons the others lose),
:mod:`~reviewer.detect.intro_bounds` (boundaries); this module holds the API.
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
from reviewer.detect.align import AlignConfig, Profile
from reviewer.detect.intro_bounds import (carry_boundaries, copy_pauses, sibling_held_starts, snap_to_pauses,
                                          theme_tail, trim_shared_overruns)
from reviewer.detect.intro_choice import choose_theme, rate_item
from reviewer.detect.intro_graph import Item, best_node, items_of, match_evidence, node_interval, series_links
from reviewer.errors import ConfigError, InvalidMediaError, ValidationError

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
    strict_coverage : float
        Share of a series' episodes an item missing from two of them or more must appear in (series of
        ≥ 3 episodes): a theme plays in nearly every episode, a scene cue of a series without a theme in some.
    max_first_position : float
        An item whose earliest copy in a whole (not truncated) episode starts past this share of that episode is a
        mid-episode cue, not an opening theme (1.0: no such rule). A theme opens the show after a cold open, so some
        copy is early; a themeless series' scene cue heard once in most episodes sits wherever its scene does.
        Truncated episodes (longer than ``search_window``) say nothing: their position is relative to the window.
    position_trust_prob : float
        With a scorer: an item whose copies' mean intro probability reaches this is exempt from
        ``max_first_position`` (a theme after cold opens of a few minutes starts past 0.35 of a short episode; the
        scorer hears it as theme music, a themeless series' scene cue it does not, see ``scorer_veto``). 1.0
        exempts only items scored 1 everywhere.
    scorer_veto : float
        With a scorer: the chosen recurring item whose copies' mean intro probability (each copy's mean over the
        segments inside it, as :func:`~reviewer.detect.intro_choice.rate_item` weighs it) is under this is no theme
        and the series gets none, unless another item that passed the repetition rules scores at least this
        (:func:`~reviewer.detect.intro_choice.choose_theme`). A themeless series' scene cue heard once per episode,
        one copy early, passes every repetition rule, but the scorer hears it as no theme (0.0: no veto; without a
        scorer there is none either).
    hold_sibling_starts : bool
        A copy's start that two links or more begin at, each where its partner's own settled start is, moves back
        to an earlier pause by 0.5 s at most: :func:`~reviewer.detect.intro_bounds.sibling_held_starts`.
    score_threshold : float
        Minimum scorer probability of a run when the scorer is used alone (an episode without
        siblings): of its core, and on average over the run refined to the pauses around it.
    align : AlignConfig
        Alignment search parameters.
    """

    search_window: float = 360.0
    min_len: float = 10.0
    max_len: float = 120.0
    confidence_threshold: float = 0.7
    min_coverage: float = 0.5
    strict_coverage: float = 0.7
    max_first_position: float = 0.35
    position_trust_prob: float = 0.5
    scorer_veto: float = 0.1
    hold_sibling_starts: bool = True
    score_threshold: float = 0.5
    align: AlignConfig = field(default_factory=AlignConfig)

    def __post_init__(self) -> None:
        if not 0 < self.min_len < self.max_len:
            raise ConfigError(f"intro: need 0 < min_len < max_len, got {self.min_len!r}, {self.max_len!r}")
        if self.search_window <= self.min_len:
            raise ConfigError(f"intro: search_window must exceed min_len, got {self.search_window!r}")
        for name in ("confidence_threshold", "min_coverage", "strict_coverage", "max_first_position",
                     "position_trust_prob", "scorer_veto", "score_threshold"):
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


# --------------------------------------------------------------------------- scorer


def _scorer_runs(probs: np.ndarray, *, high: float, low: float) -> list[tuple[int, int]]:
    """Runs of segments (first, last) whose probability reaches ``high``, grown while it stays ≥ ``low``."""
    out: list[tuple[int, int]] = []
    k = 0
    while k < probs.size:
        if probs[k] < high:
            k += 1
            continue
        a, m = k, k
        while a > 0 and probs[a - 1] >= low and (not out or a - 1 > out[-1][1]):
            a -= 1
        while m + 1 < probs.size and probs[m + 1] >= low:
            m += 1
        out.append((a, m))
        k = m + 1
    return out


def _scorer_only(probs: np.ndarray, table: SegmentTable, *, config: IntroConfig, duration: float | None = None,
                 truncated: bool = True, profile: Profile | None = None) -> tuple[float, float, float] | None:
    """The scorer alone: the best run of intro segments, refined on the audio; None when there is none.

    * Runs of segments with probability ≥ ``score_threshold``, grown while it
      stays ≥ ``score_threshold / 2`` (the scorer's probability fades over the
      3 s segments that straddle a boundary).
    * A run that ends where a (whole, not truncated) episode ends is its end
      credits, not its intro: the scorer scores any theme-like music, and shows
      play music under their credits.
    * With the episode's ``profile``: :func:`_refine_run` moves the run's edges
      to the pauses around the music it covers (the scorer's edges are seconds
      inside the theme), then the length limits apply, and the refined span's
      mean probability must still reach ``score_threshold`` (a scene's cue
      the scorer believes in part, grown to its pauses, does not pass).
    * The best run: most probability mass (Σ p), early (× ``1 − position / 2``).

    Returns
    -------
    (start, end, mean probability) or None
    """
    seg = table.segments
    starts, ends = np.asarray(seg.starts), np.asarray(seg.ends)
    best, best_score = None, 0.0
    for k, m in _scorer_runs(probs, high=config.score_threshold, low=config.score_threshold / 2):
        s, e = float(starts[k]), float(ends[m])
        if s >= config.search_window:
            continue
        if duration is not None and not truncated and e >= duration - 3.0:
            continue  # end credits
        if profile is not None:
            s, e = _refine_run(s, e, profile)
        if not config.min_len <= e - s <= config.max_len:
            continue
        mid = (starts + ends) / 2
        span = probs[(mid >= s) & (mid <= e)]
        mean = float(span.mean()) if span.size else 0.0
        if mean < config.score_threshold:  # the refined span must still be intro-like on average, not just a core
            continue
        rel = s / duration if duration else 0.0
        score = float(probs[k : m + 1].sum()) * (1.0 - 0.5 * min(1.0, rel))
        if score > best_score:
            best, best_score = (s, e, mean), score
    return best


def _refine_run(start: float, end: float, profile: Profile, *, reach_start: float = 12.0, reach_end: float = 20.0,
                slack: float = 1.5) -> tuple[float, float]:
    """A scorer run's edges moved out to the pauses that bound the music it covers.

    The scorer's probability rises seconds after the theme starts and falls
    seconds before it ends (its segments are 3 s long and a fade, dialogue or
    ambience over an edge looks less like an intro). The theme plays through
    without a pause; around it the episode pauses (room tone, a gap between two
    lines of the cold open, or a scene's ambience far under the theme: the
    pauses of :func:`~reviewer.detect.intro_bounds.copy_pauses` relative to the
    run). The start moves to the end of the last pause that ends before
    ``start + slack`` (within ``reach_start`` s), the end to the first pause that
    starts after ``end − slack`` (within ``reach_end`` s); then
    :func:`~reviewer.detect.intro_bounds.snap_to_pauses` settles them as for a
    repeated copy.
    """
    hop = profile.hop
    quiet = copy_pauses(profile.level_db, start, end, hop=hop)
    n = quiet.size
    if n == 0:
        return start, end
    i0, i1 = max(0, int((start - reach_start) / hop)), min(n, int(np.ceil((start + slack) / hop)))
    edges = np.flatnonzero(quiet[i0:i1] & ~np.append(quiet[i0 + 1 : i1 + 1], False)[: max(0, i1 - i0)])
    s2 = (i0 + edges[-1] + 1) * hop if edges.size else (0.0 if i0 == 0 else start)  # no pause before: at 0 s
    j0, j1 = max(0, int((end - slack) / hop)), min(n, int(np.ceil((end + reach_end) / hop)))
    hit = np.flatnonzero(quiet[j0:j1])
    e2 = (j0 + hit[0]) * hop if hit.size else end
    if e2 - s2 < (end - start) / 2:  # the pauses contradict the run: keep it
        s2, e2 = start, end
    return snap_to_pauses(s2, e2, quiet, hop=hop, level_db=profile.level_db, quiet_before=align.quiet_mask(profile))


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


def detect_series(episodes: Sequence[Episode], *, config: IntroConfig, scorer=None,
                  errors: dict[str, str] | None = None) -> list[IntroPrediction]:
    """Detect the intros of the episodes of one series (see :func:`detect_intros`, also for ``errors``)."""
    # the products here are small: a multi-threaded BLAS spends 100× more time spinning than computing
    with _single_thread_blas():
        if errors is None:
            return _detect_series(episodes, config=config, scorer=scorer)
        good, loaded = [], []
        for ep in episodes:
            try:
                loaded.append(_load(ep, config=config))
            except InvalidMediaError as exc:
                errors[ep.key] = str(exc)
                log.warning("intro: leaving out %s: %s", ep.key, exc)
                continue
            good.append(ep)
        return _detect_series(good, config=config, scorer=scorer, loaded=loaded) if good else []


def _single_thread_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _detect_series(episodes: Sequence[Episode], *, config: IntroConfig, scorer=None,
                   loaded: list[tuple[Profile, float, bool]] | None = None) -> list[IntroPrediction]:
    keys = [ep.key for ep in episodes]
    if loaded is None:
        loaded = [_load(ep, config=config) for ep in episodes]
    profiles = [p for p, _, _ in loaded]
    durations = [d for _, d, _ in loaded]
    truncated = [t for _, _, t in loaded]
    version = getattr(scorer, "model_version", "none") if scorer is not None else "none"
    probs = [np.asarray(scorer.score(ep.table), dtype=np.float32) if scorer is not None and ep.table is not None else None
             for ep in episodes]
    tables = [ep.table for ep in episodes]
    n = len(episodes)
    chosen: Item | None = None
    items: list[Item] = []
    if n >= 2:
        links, _ = series_links(profiles, config=config.align)
        items = items_of(links, n)
        repetition = [rate_item(it, n_eps=n, durations=durations, truncated=truncated, probs=probs, tables=tables,
                                config=config) for it in items]
        chosen = choose_theme(items, repetition, veto=config.scorer_veto)
        items.sort(key=lambda it: (it is not chosen, -it.score))
    def settle(e: int, s: float, t: float, hold_start: bool = False) -> tuple[float, float]:
        hop = profiles[e].hop
        return snap_to_pauses(s, t, copy_pauses(profiles[e].level_db, s, t, hop=hop), hop=hop,
                              level_db=profiles[e].level_db, quiet_before=align.quiet_mask(profiles[e]),
                              hold_start=hold_start)

    def pauses(e: int, s: float, t: float) -> np.ndarray:
        return copy_pauses(profiles[e].level_db, s, t, hop=profiles[e].hop)

    if chosen is not None:  # two copies cut hard into alike scenes match on past the cut: end them at its pause
        trim_shared_overruns(chosen, pauses, hop=profiles[0].hop)
    carried = (carry_boundaries(chosen, items, durations, settle=settle, pauses=pauses, hop=profiles[0].hop)
               if chosen is not None else {})
    # starts the siblings' clean starts fix through the links: the pause search moves them back by 0.5 s at most
    held = (sibling_held_starts(chosen, items, {e: s for e, (s, _) in carried.items()}, settle=settle)
            if chosen is not None and config.hold_sibling_starts else set())
    bounds: dict[int, tuple[float, float]] = {}
    for e in range(n):
        mine = [nd for nd in chosen.nodes if nd.ep == e] if chosen is not None else []
        if mine:
            nd = best_node(chosen, e)
            others = [o for it in items if it is not chosen for o in it.nodes if o.ep == e]
            bounds[e] = settle(e, *carried.get(e, node_interval(nd, others)), hold_start=e in held)
    if bounds:
        hop = profiles[0].hop
        tails = theme_tail({e: t for e, (_, t) in bounds.items()},
                           {e: align.quiet_mask(profiles[e]) for e in bounds}, hop=hop)
        bounds = {e: (s, min(tails[e], durations[e])) for e, (s, _) in bounds.items()}
    out = []
    for e, ep in enumerate(episodes):
        seg_t, seg_s = _segment_payload(tables[e], probs[e])
        cands = []
        for it in items:
            for nd in it.nodes:
                if nd.ep == e:
                    s, t = node_interval(nd)
                    cands.append({"start": round(s, 3), "end": round(t, 3), "score": round(it.score, 4), "reason": it.reason})
        mine = [nd for nd in chosen.nodes if nd.ep == e] if chosen is not None else []
        if mine:
            nd = best_node(chosen, e)
            s, t = bounds[e]
            partners = len({(lk.i, lk.j) for lk, _ in nd.links})
            sc = float(np.mean([lk.score for lk, _ in nd.links]))
            conf = min(1.0, sc * (0.55 + 0.45 * partners / max(1, n - 1)) + 0.1)
            out.append(IntroPrediction(ep.key, round(max(0.0, s), 3), round(t, 3), round(conf, 4), METHOD_REPEAT, version,
                                       seg_t, seg_s, {"matches": match_evidence(nd, keys), "candidates": cands}))
            continue
        # the scorer alone answers only for an episode without siblings: with siblings, a theme recurs, and when
        # nothing recurring is the theme the series has none (its credits, cues and scene music score as intros too)
        if probs[e] is not None and n == 1:
            run = _scorer_only(probs[e], tables[e], config=config, duration=durations[e], truncated=truncated[e],
                               profile=profiles[e])
            if run is not None:
                out.append(IntroPrediction(ep.key, round(run[0], 3), round(run[1], 3), round(run[2], 4), METHOD_SCORER,
                                           version, seg_t, seg_s, {"matches": [], "candidates": cands}))
                continue
        conf = 0.9 if chosen is not None else (0.5 if n == 1 else 0.7)
        out.append(IntroPrediction(ep.key, None, None, conf, METHOD_NONE, version, seg_t, seg_s,
                                   {"matches": [], "candidates": cands}))
    return out


def detect_intros(episodes: Sequence[Episode], *, config: IntroConfig = IntroConfig(), scorer=None,
                  errors: dict[str, str] | None = None) -> list[IntroPrediction]:
    """Intro start/end (or "no intro") for every episode, grouped by series.

    Parameters
    ----------
    episodes : sequence of Episode
        Any number of series; episodes of one series share ``series``.
    config : IntroConfig
    scorer : SegmentScorer or None
        Any object with ``score(table) -> (N,)`` intro probabilities and a
        ``model_version``; used for episodes that carry a ``table``.
    errors : dict or None
        None: an episode that cannot be decoded raises :class:`~reviewer.errors.InvalidMediaError`. A dict:
        such an episode is left out of its series (its siblings are still matched with each other), gets no
        prediction, and ``errors[key]`` says why.

    Returns
    -------
    list of IntroPrediction
        In the order of ``episodes`` (without the ones recorded in ``errors``).
    """
    if scorer is not None and not callable(getattr(scorer, "score", None)):
        raise ValidationError(f"scorer must have a score(table) method, got {type(scorer).__name__}")
    by_series: dict[str, list[int]] = defaultdict(list)
    for k, ep in enumerate(episodes):
        by_series[ep.series].append(k)
    result: dict[int, IntroPrediction] = {}
    for series, idx in by_series.items():
        log.debug("series %r: %d episode(s)", series, len(idx))
        preds = detect_series([episodes[k] for k in idx], config=config, scorer=scorer, errors=errors)
        if errors is None:
            result.update(zip(idx, preds))
        else:  # episodes left out have no prediction: match the rest by key
            by_key = {p.key: p for p in preds}
            result.update({k: by_key[episodes[k].key] for k in idx if episodes[k].key in by_key})
    return [result[k] for k in range(len(episodes)) if k in result]
