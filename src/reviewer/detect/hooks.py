"""Chorus and hook detector (seed 002): every chorus occurrence and the hook snippet of one song.

The chain:

1. frame tracks (chroma, MFCC, RMS, onset strength; 32 ms) pooled onto a
   ``resolution`` grid (:func:`reviewer.detect.ssm.sync_frames`);
2. key-shift-invariant self-similarity (chroma under 12 shifts, MFCC timbre
   and a loudness affinity: a verse over the chorus's chords differs from the
   chorus mostly in level), time-lag repetitions and novelty
   (:func:`reviewer.detect.ssm.analyse`);
3. structural segmentations with several label counts
   (:func:`reviewer.detect.structure.spectral_structures`); every label that occurs at
   least twice (occurrences ≥ ``min_repeat`` s) is a chorus *candidate*; an
   occurrence is cut where the key changes inside it (a half chorus run into the
   last chorus a key higher, :func:`split_key_change`), and one about j× the
   typical length into j back-to-back choruses when the parts are equally loud
   (not a chorus + a quiet outro over its chords); when every occurrence of a
   candidate (but a back-to-back repeat) starts with a pre-chorus merged into it (a
   common novelty peak ≥ ``split_min_prechorus`` s in, where the level rises),
   the split candidate is added too (:func:`split_merged_prechorus`; the
   pre-chorus share is of a typical occurrence, so a pre-chorus + half chorus still splits); so is the
   candidate whose longer occurrences are cut where the shortest one (a song's opening chorus) matches
   them in chroma, the heads being pre-choruses without a level rise (:func:`split_at_template`), and the
   one cut where the aligned novelty peaks and the head does not recur inside the occurrence (a pre-chorus
   as loud as its chorus: a chorus repeats its first bars, a pre-chorus does not;
   :func:`split_unrepeated_head`); an occurrence 1.3–1.75× the typical length whose half part is the
   chorus's first half in chroma is cut where the song's chorus-start timbre (a crash, a fill) places
   the full chorus (a half chorus joined to a full one, :func:`chorus_start_cut`);
4. candidates are ranked by a learned :class:`~reviewer.detect.ranker.HookRanker`
   when given, else by :func:`~reviewer.detect.ranker.heuristic_score`; an
   optional learned :class:`~reviewer.models.scorer.SegmentScorer` feeds the
   ranking through the candidates' mean score;
   an occurrence of the chosen candidate that starts inside a loud section (no level rise at its
   start: a chorus's repeated second phrase) moves back to the rise opening that section when the
   stretch in between is as loud and recurs in the chorus (:func:`snap_to_level_rise`; a small rise
   counts when it is not the tail of a pre-chorus's landing, and a double chorus cut in halves from a
   late start is cut again from the moved one; an occurrence with no rise before it starts as much
   earlier as another one moved when the stretch before it repeats the one gained); a first
   occurrence starting up to 10 s into the song after a stretch as loud that recurs in it starts at 0
   (a song opening with its chorus, :func:`extend_opening_chorus`);
   the chosen candidate's short occurrences whose missing head matches the others' heads in
   chroma (a re-timbred first phrase labelled apart) get it back (:func:`extend_short_heads`); a
   further stretch repeating a full-length occurrence in chroma, at most 3 dB quieter and with the same
   level contour, that no label grouped with it is added (:func:`add_missed_occurrences`), and so is a
   stretch as loud repeating the first half of a full-length occurrence (a half chorus,
   :func:`add_missed_half_choruses`); an occurrence's parts bounded by level steps and ≥ 2 dB quieter
   than the rest, under the chorus level, are cut out (a verse over the chorus's chords merged with a
   chorus, :func:`trim_quiet_parts`), and what is left split where a pre-chorus as loud as the chorus
   ends (:func:`split_unrepeated_head`); a
   first occurrence over 2 dB quieter than the others' median (a verse or intro over the chorus's
   chords) is dropped (:func:`drop_quiet_first`); an occurrence whose head repeats the pre-chorus
   split off before two others or more carries it merged in and starts after it
   (:func:`propagate_prechorus`);
5. snippet = pre-chorus + chorus of the first occurrence (the seed's
   hypothesis), ``snippet_len`` seconds, with at most ``max_prechorus_share``
   of it before the chorus (a verse taken for the pre-chorus), starting a typical chorus
   length before the first occurrence's end when that occurrence is only a chorus's tail
   (:func:`snippet_start`); when that snippet would hold under half (pre-)chorus (a short chorus
   without a pre-chorus) and a chorus is played twice in a row, it starts at that pair instead; the
   whole track when shorter. A
   track shorter than the snippet that repeats nothing (or whose repetition is an intro and a quiet
   outro over the chorus's chords: occurrences over 3 dB apart) gets its main section
   (from the strongest level rise of ≥ 3 dB in its first third, else its strongest novelty peak there,
   to the strongest novelty peak of its last third) as its
   one chorus, flagged ``evidence["chorus_source"] = "short-track main section
   (heuristic)"``.

:func:`analyse_song` + :func:`predict_from_analysis` are the two halves of
:func:`detect_hooks` (the ranker is trained on the first).

Fallbacks (``fallback=True`` with a reason): when no section repeats, the
snippet is the most energetic window of ``snippet_len`` seconds, weighted up
where the novelty is high and kept out of the first and last 10 % of the track
(a heuristic for through-composed pieces and genres without repetition, as the
seed suggests); no chorus is claimed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from reviewer.audio_io import Audio
from reviewer.detect import ssm
from reviewer.detect.ranker import FEATURES, Candidate, HookRanker, candidate_features, heuristic_score
from reviewer.errors import ValidationError
from reviewer.features.base import FrameFeatures

log = logging.getLogger(__name__)

METHOD = "ssm-timelag+spectral"
TRACKS_NEEDED: tuple[str, ...] = ("chroma", "mfcc", "rms", "onset")


@dataclass(frozen=True)
class HookConfig:
    """Parameters of :func:`detect_hooks` (seconds unless said otherwise)."""

    snippet_len: float = 30.0
    min_repeat: float = 6.0
    resolution: float = 0.5
    smooth: float = 4.0
    line_quantile: float = 0.9
    chroma_weight: float = 0.75
    #: share of the loudness affinity (verse over the chorus's chords vs the louder chorus)
    loudness_weight: float = 0.2
    key_shifts: bool = True
    k_values: tuple[int, ...] = (3, 4, 5, 6)
    min_section: float = 4.0
    max_prechorus: float = 20.0
    #: at most this share of the snippet lies before the chorus (a verse taken for the pre-chorus)
    max_prechorus_share: float = 0.4
    #: a snippet at the first (pre-chorus +) chorus holding less than this share of (pre-)chorus starts at the
    #: first chorus played twice in a row instead, if any (a short chorus without a pre-chorus leaves the snippet's
    #: second half to the next verse); None: never
    double_chorus_below_share: float | None = 0.5
    #: a pre-chorus merged into every occurrence: split where the aligned novelty peaks and the level rises
    split_prechorus: bool = True
    split_min_rise_db: float = 0.5
    split_min_novelty: float = 0.3
    #: shortest pre-chorus a split may cut off (a chorus's first phrase is shorter)
    split_min_prechorus: float = 6.0
    #: a pre-chorus as loud as its chorus: split where the aligned novelty peaks and the head does not recur
    #: inside the occurrence (a chorus repeats its first bars, a pre-chorus does not)
    split_unrepeated_head: bool = True
    head_max_recur: float = 0.8
    #: occurrences longer than the shortest one (a song opening with its chorus) cut where it matches them
    #: (chroma), when the head before does not sound like it (a pre-chorus without a level rise)
    split_at_template: bool = True
    template_min_sim: float = 0.8
    template_max_head_sim: float = 0.75
    #: ... or when the head matches the template's head this much less than the chorus found later matches the
    #: template (a pre-chorus sharing some of the chorus's chords); None: the head's own threshold only
    template_head_margin: float | None = 0.1
    #: a further stretch repeating the whole chorus (chroma) as loudly, left out of the chosen candidate, is added
    add_missed: bool = True
    missed_min_sim: float = 0.8
    missed_max_level_gap_db: float = 3.0
    #: a further stretch repeating the first half of the chorus (chroma, ± 1 s of tempo drift) as loudly
    #: is added as a half chorus
    add_missed_half: bool = True
    missed_half_min_sim: float = 0.85
    missed_half_max_level_gap_db: float = 1.5
    #: cut an occurrence where the key changes inside it (a half chorus joined to a chorus a key higher)
    split_key_change: bool = True
    key_change_min_sim: float = 0.8
    #: an occurrence j× the typical length is cut into j back-to-back choruses only if the parts' levels
    #: differ by at most this (a quiet outro over the chorus's chords is not a chorus)
    multiple_max_level_gap_db: float = 3.0
    #: an occurrence 1.3–1.75× the typical length (a half chorus joined to a full one) is cut where the song's
    #: chorus-start timbre (a crash, a fill) places the full chorus's start
    split_half_chorus: bool = True
    #: a short occurrence whose missing head matches the others' heads (chroma) gets it back
    extend_short_heads: bool = True
    head_min_sim: float = 0.75
    #: an occurrence starting inside a loud section (no level rise at its start) moves back to the rise
    #: that opens the section, up to this many seconds before (a repeated line, a chorus's second half)
    snap_to_rise: bool = True
    snap_window: float = 10.0
    snap_min_rise_db: float = 1.5
    snap_max_own_rise_db: float = 1.0
    snap_max_level_gap_db: float = 1.5
    snap_min_sim: float = 0.85
    snap_recur_min_rise_db: float | None = 0.4
    #: when the snap moves back the start of the first of two equally long back-to-back occurrences (a double
    #: chorus cut in equal halves from a late start), the pair is cut again in equal halves from the new start
    snap_resplit_pairs: bool = True
    #: the small-rise pass of the snap skips rises (< snap_min_rise_db) less than 4 s after a marked one
    #: whose stretch does not recur in the chorus (a pre-chorus landing): its tail
    snap_recur_clean_only: bool = True
    #: an occurrence the snap did not move starts as many seconds earlier as another one moved back, when the
    #: stretch before it repeats the stretch that one gained (chroma ≥ snap_min_sim, as loud)
    snap_align_moves: bool = True
    #: a first occurrence starting less than this many seconds into the song, after a stretch as loud whose chords
    #: recur in it (a song opening with its chorus, its first bars labelled apart), starts at 0; None: never
    opening_chorus_window: float | None = 10.0
    #: a first occurrence this many dB below the others' median level is not a chorus (a verse or intro
    #: over the chorus's chords); None keeps it
    quiet_first_gap_db: float | None = 2.0
    #: in a track shorter than the snippet, a repetition whose occurrences' mean levels differ by more than this
    #: (an intro and a quiet outro over the chorus's chords) is not a chorus: the main section is; None keeps it
    short_track_max_level_gap_db: float | None = 3.0
    #: a short track's main section starts at the strongest level rise in its first third when that rise (2 s
    #: mean dB after minus before) is at least this (a quieter intro), else at the strongest novelty peak; None:
    #: the novelty peak only
    main_section_min_rise_db: float | None = 3.0
    #: the chosen occurrences lose their parts (≥ ``trim_quiet_min_part`` s, bounded by level steps) that are
    #: ≥ ``trim_quiet_min_gap_db`` quieter than the rest and more than ``trim_quiet_max_loud_gap_db`` under the
    #: chorus level (a verse over the chorus's chords merged with a chorus); the loud parts left are then
    #: split where a pre-chorus as loud as the chorus ends (the unrepeated-head split) when
    #: ``trim_quiet_split_prechorus``
    trim_quiet: bool = True
    trim_quiet_min_gap_db: float = 2.0
    trim_quiet_min_part: float = 6.0
    trim_quiet_max_loud_gap_db: float = 1.5
    trim_quiet_split_prechorus: bool = True
    #: an occurrence without a pre-chorus whose head repeats the pre-chorus found before the other occurrences
    #: (mean key-invariant chroma similarity ≥ ``propagate_pre_min_sim``, and ``propagate_pre_margin`` above the
    #: head's similarity to the choruses' heads) carries that pre-chorus merged in: the chorus starts after it
    #: (:func:`propagate_prechorus`); None: off
    propagate_pre_min_sim: float | None = 0.8
    propagate_pre_margin: float = 0.05
    #: when the best-ranked candidate has no pre-chorus and its pre-chorus-split version (every occurrence
    #: starting 3–12 s later, ending within 1 s) scores within this margin, the split version is taken
    #: (:func:`prefer_split_version`); None: the ranking alone
    split_tie_margin: float | None = 0.05
    #: below this chroma similarity between occurrences (smoothed cosine, key-shift invariant) nothing "really" repeats
    min_repeat_similarity: float = 0.6
    segment_len: float = 3.0
    segment_hop: float = 1.5
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.snippet_len <= 0 or self.min_repeat <= 0 or self.resolution <= 0:
            raise ValidationError(f"snippet_len, min_repeat and resolution must be positive seconds, got "
                                  f"{self.snippet_len}, {self.min_repeat}, {self.resolution}")


@dataclass(frozen=True)
class SongFeatures:
    """The frame tracks of one song, as :func:`detect_hooks` needs them.

    Attributes
    ----------
    key : str
    duration : float
        Seconds.
    tracks : dict of str to FrameFeatures
        At least ``chroma`` (n, 12), ``mfcc`` (n, d), ``rms`` (n,), ``onset_strength`` (n,).
    table : SegmentTable or None
        Segment table for a learned scorer (built from the tracks when None).
    """

    key: str
    duration: float
    tracks: Mapping[str, FrameFeatures]
    table: Any = None


@dataclass(frozen=True)
class HookPrediction:
    """What the detector says about one song (times in seconds)."""

    key: str
    snippet: tuple[float, float]
    chorus: list[tuple[float, float]]
    prechorus: list[tuple[float, float]]
    confidence: float
    fallback: bool
    fallback_reason: str | None
    method: str
    model_version: str
    segment_times: list[tuple[float, float]]
    segment_scores: list[float]
    evidence: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_payload(self) -> dict:
        """The ``Prediction.payload`` of task ``"hook"`` (docs/ARCHITECTURE.md)."""
        r = lambda iv: [round(float(iv[0]), 3), round(float(iv[1]), 3)]  # noqa: E731
        return {
            "method": self.method,
            "model_version": self.model_version,
            "chorus": [r(c) for c in self.chorus],
            "prechorus": [r(c) for c in self.prechorus],
            "fallback": bool(self.fallback),
            "fallback_reason": self.fallback_reason,
            "segment_times": [r(t) for t in self.segment_times],
            "segment_scores": [round(float(s), 4) for s in self.segment_scores],
            "evidence": self.evidence,
        }


def load_song(source: str | Path | Audio, *, key: str | None = None, sample_rate: int = 16000, cache: Any = None) -> SongFeatures:
    """Decode a media file (or take decoded audio) and extract the tracks the detector needs.

    Raises
    ------
    InvalidMediaError
        when the file cannot be decoded.
    """
    from reviewer.config import AudioConfig, FeaturesConfig
    from reviewer.features.run import extract_tracks

    res = extract_tracks(source, audio_config=AudioConfig(sample_rate=sample_rate), features_config=FeaturesConfig(),
                         settings=None, cache=cache, names=TRACKS_NEEDED)
    name = key if key is not None else (str(source) if not isinstance(source, Audio) else (source.source or "<array>"))
    return SongFeatures(key=name, duration=float(res.duration), tracks=res.tracks)


def _grid_track(song: SongFeatures, name: str, grid_res: float) -> np.ndarray:
    tr = song.tracks.get(name)
    if tr is None or tr.is_missing:
        raise ValidationError(f"song {song.key!r} lacks the {name!r} track the hook detector needs")
    return ssm.sync_frames(tr.times, tr.values, duration=song.duration, resolution=grid_res)[1]


def chorus_start_cut(span: tuple[float, float], refs: Sequence[tuple[float, float]], timbre: np.ndarray, *,
                     resolution: float, chroma_sim: np.ndarray | None = None, length: float = 1.0, search: float = 1.0,
                     min_score: float = 0.5, min_margin: float = 0.5, min_sim: float = 0.8) -> float | None:
    """Where the full chorus starts inside an occurrence of 1.5 choruses (a half chorus played into a full
    one, or a full one followed by a half), or None when the song does not say.

    In chroma a half + full chorus is three equal phrases, like a chorus and a half. What marks where a
    chorus begins is how the song opens its choruses (a cymbal crash, a fill, the lead coming in): the
    timbre (z-scored ``timbre`` frames, e.g. MFCC) over ``length`` s at the starts of the full-length
    occurrences ``refs`` (the start signature) differs from the timbre half a chorus in (the middle
    signature). The two readings put the full chorus's start one typical length before the end (half +
    full) or one typical length after the start (full + half); at each (± ``search`` s) the grid step
    scored as (distance to the middle signature − distance to the start signature) is taken, and the
    better reading wins when it scores ≥ ``min_score`` and ``min_margin`` above the other. The
    references must agree (each one's start scores ≥ ``min_score``), and with ``chroma_sim`` the
    half part must be the chorus's first half in chroma (mean ≥ ``min_sim`` against the references'
    heads): a pre-chorus + chorus, also about 1.5 choruses long, is not cut.
    """
    refs = [(float(a), float(b)) for a, b in refs]
    if len(refs) < 2:
        return None
    m, w = timbre.shape[0], max(1, int(round(length / resolution)))
    z = (timbre - timbre.mean(0)) / (timbre.std(0) + 1e-9)
    T = float(np.median([b - a for a, b in refs]))
    s, e = float(span[0]), float(span[1])

    def sig(t: float) -> np.ndarray | None:
        i = int(round(t / resolution))
        return z[i:i + w].mean(0) if 0 <= i and i + w <= m else None

    starts = [sig(a) for a, _ in refs]
    mids = [sig(a + T / 2) for a, _ in refs]
    if any(x is None for x in starts + mids):
        return None
    S, M = np.mean(starts, axis=0), np.mean(mids, axis=0)
    if min(float(np.linalg.norm(f - M) - np.linalg.norm(f - S)) for f in starts) < min_score:
        return None  # the references do not open alike

    def best_near(t0: float) -> tuple[float, float]:
        ts = [t for t in np.arange(t0 - search, t0 + search + 1e-9, resolution) if s + 0.3 * T <= t <= e - 0.3 * T]
        sc = [(float(np.linalg.norm(f - M) - np.linalg.norm(f - S)), float(t)) for t in ts
              if (f := sig(t)) is not None]
        return max(sc) if sc else (-np.inf, t0)

    def half_matches(h0: float, h1: float) -> bool:  # the half part against the references' heads
        if chroma_sim is None:
            return True
        n, i0 = int(round((h1 - h0) / resolution)), int(round(h0 / resolution))
        if n < 1 or i0 + n > chroma_sim.shape[0]:
            return False
        u = np.arange(n)
        sims = [float(np.mean(chroma_sim[i0 + u, int(round(a / resolution)) + u])) for a, _ in refs
                if int(round(a / resolution)) + n <= chroma_sim.shape[0]]
        return bool(sims) and float(np.mean(sims)) >= min_sim

    a, b = best_near(e - T), best_near(s + T)  # half + full, full + half
    (top, t), other = (a, b[0]) if a[0] >= b[0] else (b, a[0])
    if top < min_score or top - other < min_margin:
        return None
    t = round(t / resolution) * resolution
    return t if (half_matches(s, t) if a[0] >= b[0] else half_matches(t, e)) else None


def _split_multiples(occ: list[tuple[float, float]], rms: np.ndarray | None = None, *, resolution: float = 0.5,
                     max_level_gap_db: float = 3.0, timbre: np.ndarray | None = None,
                     chroma_sim: np.ndarray | None = None) -> list[tuple[float, float]]:
    """Cut an occurrence about j× (j ≥ 2) the typical length into j equal parts (back-to-back choruses).

    Back-to-back choruses are equally loud; when the parts' mean levels (grid ``rms``) differ by more
    than ``max_level_gap_db`` the tail is something else over the chorus's chords (a quiet outro), and
    the occurrence is kept whole. With ``timbre``, an occurrence 1.3–1.75× the typical length (a half
    chorus joined to a full one) is cut where the full chorus starts when the song's chorus-start
    timbre says where (:func:`chorus_start_cut`), instead of equally or not at all.
    """
    if len(occ) < 2:
        return occ
    typical = float(np.median([e - s for s, e in occ]))
    db = None if rms is None else _level_db(rms)
    refs = [(s, e) for s, e in occ if abs((e - s) - typical) <= 0.2 * typical]
    out = []
    for s, e in occ:
        if timbre is not None and 1.3 * typical <= e - s <= 1.75 * typical:
            c = chorus_start_cut((s, e), refs, timbre, resolution=resolution, chroma_sim=chroma_sim)
            if c is not None:
                out.extend([(s, c), (c, e)])
                continue
        j = int(round((e - s) / typical))
        if j >= 2 and abs((e - s) / j - typical) < 0.25 * typical:
            parts = [(s + i * (e - s) / j, s + (i + 1) * (e - s) / j) for i in range(j)]
            if db is not None:
                lev = [float(np.mean(db[int(a / resolution):max(int(a / resolution) + 1, int(b / resolution))]))
                       for a, b in parts if int(a / resolution) < db.size]
                if lev and max(lev) - min(lev) > max_level_gap_db:
                    out.append((s, e))
                    continue
            out.extend(parts)
        else:
            out.append((s, e))
    return out


def split_key_change(span: tuple[float, float], shifts: np.ndarray, chroma_sim: np.ndarray, *, resolution: float,
                     min_part: float = 6.0, min_sim: float = 0.8, min_contrast: float = 0.5) -> float | None:
    """Time of a key change inside one occurrence (a half chorus or a chorus joined to the next one
    sung a key higher), or None.

    A chorus repeats its own chords, so the occurrence is self-similar; across a key change the
    best chroma shift of its well-matching cells (``chroma_sim`` ≥ ``min_sim``, off the main
    diagonal) is non-zero, on either side of it zero. The cut ``c`` (each part ≥ ``min_part`` s)
    maximises the share of non-zero-shift cells across ``c`` minus the share within the parts; it
    is kept when that contrast is ≥ ``min_contrast``.
    """
    i0, i1 = int(round(span[0] / resolution)), min(int(round(span[1] / resolution)), shifts.shape[0])
    n, lo = i1 - i0, int(np.ceil(min_part / resolution))
    if n < 2 * lo:
        return None
    ii, jj = np.indices((n, n))
    band = max(1, int(round(2.0 / resolution)))
    strong = (chroma_sim[i0:i1, i0:i1] >= min_sim) & (np.abs(ii - jj) >= band)
    moved = strong & (shifts[i0:i1, i0:i1] != 0)
    S, M = np.cumsum(np.cumsum(strong, 0), 1), np.cumsum(np.cumsum(moved, 0), 1)

    def block(C, a, b):  # cells with row < a and col < b (prefix sums)
        return float(C[a - 1, b - 1]) if a > 0 and b > 0 else 0.0

    contrasts = np.full(n + 1, -np.inf)
    for c in range(lo, n - lo + 1):
        cross_s = block(S, c, n) - block(S, c, c)  # rows < c, cols ≥ c
        cross_m = block(M, c, n) - block(M, c, c)
        within_s = block(S, c, c) + (block(S, n, n) - 2 * block(S, c, n) + block(S, c, c))
        within_m = block(M, c, c) + (block(M, n, n) - 2 * block(M, c, n) + block(M, c, c))
        if cross_s < lo:
            continue
        contrasts[c] = cross_m / cross_s - (within_m / within_s if within_s > 0 else 0.0)
    best = float(contrasts.max())
    if best < min_contrast:
        return None
    top = np.flatnonzero(contrasts >= best - 0.02)  # the middle of a plateau of near-equal cuts
    return span[0] + float(np.median(top)) * resolution


def _split_key_changes(occ: list[tuple[float, float]], an: ssm.SsmAnalysis | None, config: HookConfig
                       ) -> list[tuple[float, float]]:
    """Each occurrence cut where the key changes inside it (:func:`split_key_change`)."""
    if an is None or an.chroma is None or not config.split_key_change:
        return occ
    out = []
    for s, e in occ:
        c = split_key_change((s, e), an.shifts, an.chroma, resolution=config.resolution, min_part=config.min_repeat,
                             min_sim=config.key_change_min_sim)
        out.extend([(s, e)] if c is None else [(s, c), (c, e)])
    return out


def split_at_template(occ: Sequence[tuple[float, float]], chroma_sim: np.ndarray, *, resolution: float,
                      min_part: float = 6.0, min_sim: float = 0.8, max_head_sim: float = 0.75,
                      head_margin: float | None = None
                      ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
    """Occurrences that carry a pre-chorus, cut where the chorus itself (the shortest occurrence) starts.

    A song that opens with its chorus has one occurrence without a pre-chorus; the others, labelled
    with their pre-chorus, are longer. When the pre-chorus → chorus change has no level rise or
    novelty peak, :func:`split_merged_prechorus` cannot find it, but the chords can: the shortest
    occurrence (the template, ≥ ``min_part`` s) is slid over each occurrence at least ``min_part`` s
    longer (key-invariant chroma, mean along the diagonal), and the earliest offset ≥ ``min_part`` s
    where it matches (≥ ``min_sim`` and within 0.02 of the best) is where the chorus starts — provided
    the head before it does not itself sound like the template's head (mean < ``max_head_sim``):
    a chorus repeating its first phrase, or a half chorus played into a full one, has a head that
    matches and stays whole. With ``head_margin``, a head matching at least that much worse than the
    chorus found after it (a pre-chorus sharing some of the chorus's chords) does not count as a match.

    Returns (choruses, pre-choruses) or None when no occurrence is cut.
    """
    occ = [(float(s), float(e)) for s, e in occ]
    if len(occ) < 2:
        return None
    m = chroma_sim.shape[0]
    r = int(np.argmin([e - s for s, e in occ]))
    t0 = int(round(occ[r][0] / resolution))
    L = min(int(round((occ[r][1] - occ[r][0]) / resolution)), m - t0)
    lo = int(round(min_part / resolution))
    if L < lo:
        return None
    u = np.arange(L)
    out, pre = [], []
    for k, (s, e) in enumerate(occ):
        i0, n = int(round(s / resolution)), int(round((e - s) / resolution))
        j = int(round(n / L))
        if k == r or n < L + lo or i0 + n > m or (j >= 2 and abs(n / j - L) <= 0.1 * L):  # back-to-back choruses
            out.append((s, e))
            continue
        offs = np.arange(lo, n - L + 1)
        match = np.array([float(np.mean(chroma_sim[t0 + u, i0 + d + u])) for d in offs])
        best = float(match.max())
        if best < min_sim:
            out.append((s, e))
            continue
        d = int(offs[np.flatnonzero(match >= best - 0.02)[0]])
        head = float(np.mean(chroma_sim[t0 + u, i0 + u]))  # the occurrence already opens with the chorus
        if head >= max_head_sim and (head_margin is None or best - head < head_margin):
            out.append((s, e))
            continue
        out.append((s + d * resolution, e))
        pre.append((s, s + d * resolution))
    return (out, pre) if pre else None


def _candidates(structures: Sequence[ssm.Structure], *, config: HookConfig, duration: float,
                novelty: np.ndarray | None = None, rms: np.ndarray | None = None,
                an: ssm.SsmAnalysis | None = None, timbre: np.ndarray | None = None) -> list[Candidate]:
    if not config.split_half_chorus:
        timbre = None
    csim = an.chroma if an is not None else None
    seen: set[tuple[int, ...]] = set()
    out = []
    for st in structures:
        secs = st.sections
        for lab in sorted({s[2] for s in secs}):
            idx = [i for i, s in enumerate(secs) if s[2] == lab and s[1] - s[0] >= config.min_repeat]
            if len(idx) < 2:
                continue
            raw = _split_key_changes([(secs[i][0], secs[i][1]) for i in idx], an, config)
            occ = _split_multiples(raw, rms, resolution=config.resolution,
                                   max_level_gap_db=config.multiple_max_level_gap_db, timbre=timbre,
                                   chroma_sim=csim)
            tsplit = None
            if config.split_at_template and an is not None and an.chroma is not None:
                tsplit = split_at_template(raw, an.chroma, resolution=config.resolution, min_part=config.split_min_prechorus,
                                           min_sim=config.template_min_sim, max_head_sim=config.template_max_head_sim,
                                           head_margin=config.template_head_margin)
            sig = tuple(int(round(s / 2.0)) for s, _ in occ)
            if sig in seen:
                continue
            seen.add(sig)
            prev = [secs[i - 1] for i in idx if i > 0]
            pre: list[tuple[float, float]] = []
            if prev:
                labs = [p[2] for p in prev]
                common = max(set(labs), key=labs.count)
                if labs.count(common) >= 2 and common != lab:
                    pre = [(p[0], p[1]) for p in prev if p[2] == common and p[1] - p[0] <= config.max_prechorus]
                    if len(pre) < 2:
                        pre = []
            out.append(Candidate(occurrences=occ, prechorus=pre, k=st.k))
            if tsplit is not None:
                tocc = _split_multiples(tsplit[0], rms, resolution=config.resolution,
                                        max_level_gap_db=config.multiple_max_level_gap_db, timbre=timbre,
                                        chroma_sim=csim)
                tsig = tuple(int(round(s / 2.0)) for s, _ in tocc)
                if tsig not in seen:
                    seen.add(tsig)
                    out.append(Candidate(occurrences=tocc, prechorus=tsplit[1], k=st.k))
            if novelty is not None and config.split_prechorus:
                sp = split_merged_prechorus(occ, novelty, rms, resolution=config.resolution,
                                            min_rise_db=config.split_min_rise_db, min_novelty=config.split_min_novelty,
                                            min_part=config.split_min_prechorus)
                if sp is not None:
                    out.append(Candidate(occurrences=sp[0], prechorus=sp[1], k=st.k))
            if novelty is not None and config.split_unrepeated_head and an is not None and an.chroma is not None:
                # on the occurrences before the back-to-back split: a pre-chorus + two choruses is cut in two
                # only once the pre-chorus is off
                uh = split_unrepeated_head(raw, novelty, an.chroma, resolution=config.resolution,
                                           min_part=config.split_min_prechorus, min_novelty=config.split_min_novelty,
                                           max_recur=config.head_max_recur)
                if uh is not None:
                    uocc = _split_multiples(uh[0], rms, resolution=config.resolution,
                                            max_level_gap_db=config.multiple_max_level_gap_db, timbre=timbre,
                                            chroma_sim=csim)
                    # not registered in ``seen``: a later structure's own label with these starts is still added
                    if tuple(int(round(s / 2.0)) for s, _ in uocc) not in seen:
                        out.append(Candidate(occurrences=uocc, prechorus=uh[1], k=st.k))
    return out


def _segments_scores(duration: float, chorus, prechorus, rms_grid: np.ndarray, grid_res: float, config: HookConfig,
                     scorer_seg: np.ndarray | None) -> tuple[list[tuple[float, float]], list[float]]:
    from reviewer.segments import make_segments

    segs = make_segments(duration, config.segment_len, min(config.segment_hop, config.segment_len))
    r = rms_grid.ravel()
    rn = (r - r.min()) / (np.ptp(r) + 1e-9)
    scores = []
    for s, e in zip(segs.starts, segs.ends):
        def cover(ivs):
            return sum(max(0.0, min(e, b) - max(s, a)) for a, b in ivs) / max(e - s, 1e-9)
        i0, i1 = int(s / grid_res), max(int(s / grid_res) + 1, int(np.ceil(e / grid_res)))
        val = 0.6 * min(1.0, cover(chorus)) + 0.25 * min(1.0, cover(prechorus)) + 0.15 * float(np.mean(rn[i0:i1]))
        scores.append(val)
    sc = np.clip(np.asarray(scores), 0.0, 1.0)
    if scorer_seg is not None and scorer_seg.shape[0] == sc.shape[0]:
        sc = 0.5 * sc + 0.5 * np.clip(np.nan_to_num(scorer_seg, nan=0.0), 0.0, 1.0)
    return [(float(a), float(b)) for a, b in zip(segs.starts, segs.ends)], [float(x) for x in sc]


def _fallback_window(duration: float, rms_grid: np.ndarray, nov: np.ndarray, grid_res: float, length: float) -> tuple[float, float]:
    """Most energetic window of ``length`` s (novelty-weighted), away from the first/last 10 %."""
    n = max(1, int(round(length / grid_res)))
    e = rms_grid.ravel() * (1.0 + 0.5 * nov)
    if e.size <= n:
        return 0.0, duration
    csum = np.concatenate([[0.0], np.cumsum(e)])
    win = (csum[n:] - csum[:-n]) / n
    starts = np.arange(win.size) * grid_res
    ok = (starts >= 0.1 * duration) & (starts + length <= 0.9 * duration + 1e-9)
    if not ok.any():
        ok[:] = True
    i = int(np.flatnonzero(ok)[np.argmax(win[ok])])
    s = float(starts[i])
    return s, min(duration, s + length)


def _main_section(nov: np.ndarray, grid_res: float, duration: float, rms: np.ndarray | None = None,
                  min_rise_db: float | None = None, rise_len: float = 2.0) -> tuple[float, float]:
    """The body of a short track that repeats nothing: from the strongest novelty peak in its first third
    to the strongest in its last third (an intro and an outro around one main section).

    With ``rms`` and ``min_rise_db``, the start is the strongest level rise in the first third (mean dB over
    ``rise_len`` s after minus before) when it reaches ``min_rise_db``: an intro quieter than the main
    section ends there, while the strongest novelty can be a change inside the section."""
    t = np.arange(nov.size) * grid_res
    head = (t >= 1.0) & (t <= duration / 3)
    tail = (t >= 2 * duration / 3) & (t <= duration - 1.0)
    s = float(t[head][np.argmax(nov[head])]) if head.any() else 0.0
    if rms is not None and min_rise_db is not None and head.any():
        db, w = _level_db(rms), max(1, int(round(rise_len / grid_res)))
        idx = np.flatnonzero(head)
        idx = idx[(idx >= 1) & (idx < db.size)]
        rises = [float(np.mean(db[i:i + w]) - np.mean(db[max(0, i - w):i])) for i in idx]
        if rises and max(rises) >= min_rise_db:
            s = float(idx[int(np.argmax(rises))] * grid_res)
    e = float(t[tail][np.argmax(nov[tail])]) if tail.any() else float(duration)
    return (s, e) if e > s else (0.0, float(duration))


def snippet_start(chorus: Sequence[tuple[float, float]], prechorus: Sequence[tuple[float, float]], *,
                  resolution: float, snippet_len: float, max_share: float, short_share: float = 0.7,
                  double_below_share: float | None = None) -> float:
    """Start of the hook snippet: the pre-chorus right before the first chorus, if any, but at most
    ``max_share`` of the snippet before the chorus (a long verse taken for the pre-chorus would
    otherwise fill the snippet).

    A first occurrence under ``short_share`` of the others' median length is only the tail of its
    chorus (the head fell into another section): the snippet then starts that median length
    before its end.

    With ``double_below_share``, when that snippet would hold less than that share of chorus and
    pre-chorus (a short chorus without a pre-chorus: the rest is the next verse) and two occurrences
    follow each other without a gap (a chorus played twice, often the last one a key higher), the snippet
    starts at the first such pair if it holds more."""
    start = _first_snippet_start(chorus, prechorus, resolution=resolution, snippet_len=snippet_len,
                                 max_share=max_share, short_share=short_share)
    if double_below_share is not None and len(chorus) >= 2:
        # a pre-chorus longer than the cap is a verse taken for one: it does not count
        held_in = list(chorus) + [(s, e) for s, e in prechorus if e - s <= max_share * snippet_len]

        def held(s0: float) -> float:
            return sum(max(0.0, min(s0 + snippet_len, e) - max(s0, s)) for s, e in held_in)
        if held(start) < double_below_share * snippet_len:
            pair = next((s0 for (s0, e0), (s1, _) in zip(chorus, chorus[1:]) if abs(s1 - e0) <= 2 * resolution), None)
            if pair is not None and held(pair) > held(start):
                return float(pair)
    return start


def _first_snippet_start(chorus: Sequence[tuple[float, float]], prechorus: Sequence[tuple[float, float]], *,
                         resolution: float, snippet_len: float, max_share: float, short_share: float) -> float:
    """:func:`snippet_start` at the first occurrence."""
    first = chorus[0]
    if len(chorus) >= 2:
        typical = float(np.median([e - s for s, e in chorus[1:]]))
        if first[1] - first[0] < short_share * typical:
            return float(max(0.0, first[1] - typical))
    pre_first = [p for p in prechorus if abs(p[1] - first[0]) <= 2 * resolution]
    start = pre_first[0][0] if pre_first else first[0]
    return float(max(start, first[0] - max_share * snippet_len))


def split_merged_prechorus(occ: Sequence[tuple[float, float]], novelty: np.ndarray, rms: np.ndarray, *,
                           resolution: float, min_rise_db: float = 1.0, min_novelty: float = 0.3,
                           min_part: float = 4.0, max_share: float = 0.45
                           ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
    """Split a pre-chorus merged into every occurrence of a candidate.

    Aligns the occurrences at their starts, averages novelty and level (dB) over them, and
    looks for an offset between ``min_part`` s and ``max_share`` of the shortest occurrence where
    the mean novelty peaks (≥ ``min_novelty``) and the level after it is ``min_rise_db`` above
    the level before (a chorus lands louder than its pre-chorus). Inside a chorus the
    level stays put, so its internal phrase repeats do not qualify.

    An occurrence that starts where the previous one ends (a chorus played twice in a row) has no
    pre-chorus of its own: it is left out of the alignment and kept whole.

    Returns (choruses, pre-choruses) or None when no such offset exists.
    """
    occ = list(occ)
    free = [not (i > 0 and abs(occ[i][0] - occ[i - 1][1]) <= 2 * resolution) for i in range(len(occ))]
    sp = _split_aligned([o for o, f in zip(occ, free) if f], novelty, rms, resolution=resolution,
                        min_rise_db=min_rise_db, min_novelty=min_novelty, min_part=min_part, max_share=max_share)
    if sp is None:
        return None
    cut = iter(sp[0])
    return [next(cut) if f else o for o, f in zip(occ, free)], sp[1]


def _split_aligned(occ: Sequence[tuple[float, float]], novelty: np.ndarray, rms: np.ndarray, *, resolution: float,
                   min_rise_db: float, min_novelty: float, min_part: float, max_share: float
                   ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
    """:func:`split_merged_prechorus` on occurrences that all carry the pre-chorus."""
    if len(occ) < 2:
        return None
    n = int(min(e - s for s, e in occ) / resolution)
    w = max(2, int(round(2.0 / resolution)))
    # the pre-chorus share is of a typical occurrence (a pre-chorus + half chorus is short), leaving the
    # shortest one room for the level after the cut
    typical = float(np.median([e - s for s, e in occ])) / resolution
    lo, hi = int(min_part / resolution), min(int(max_share * typical), n - 2 * w - 1)
    if hi <= lo:
        return None
    db = 20.0 * np.log10(np.asarray(rms, dtype=np.float64).ravel() + 1e-9)
    idx = [int(round(s / resolution)) for s, _ in occ]
    if any(i + n > novelty.size for i in idx):
        return None
    nov = np.mean([novelty[i:i + n] for i in idx], axis=0)
    lev = np.mean([db[i:i + n] for i in idx], axis=0)
    best, best_nov = None, min_novelty
    for j in range(lo, hi + 1):
        seg = nov[max(0, j - 1):j + 2]
        if nov[j] < best_nov or nov[j] < seg.max():
            continue
        rise = float(np.mean(lev[j + 1:j + 1 + 2 * w]) - np.mean(lev[max(0, j - 2 * w):j - 1]))
        if rise >= min_rise_db:
            best, best_nov = j, float(nov[j])
    if best is None:
        return None
    off = best * resolution
    return [(s + off, e) for s, e in occ], [(s, s + off) for s, _ in occ]


def split_unrepeated_head(occ: Sequence[tuple[float, float]], novelty: np.ndarray, chroma_sim: np.ndarray, *,
                          resolution: float, min_part: float = 6.0, max_share: float = 0.45, min_novelty: float = 0.3,
                          max_recur: float = 0.8) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
    """Split a pre-chorus merged into every occurrence when it is as loud as the chorus.

    :func:`split_merged_prechorus` needs a level rise where the chorus lands; a pre-chorus that
    builds up to the chorus's level (electronic songs) has none. The chords tell them apart instead:
    a chorus repeats its own phrases, so a chorus's first bars recur later inside the occurrence,
    while a pre-chorus's do not. The occurrences (but a back-to-back repeat, which has no pre-chorus
    of its own) are aligned at their starts; among the offsets between ``min_part`` s and
    ``max_share`` of a typical occurrence where the mean novelty peaks (≥ ``min_novelty``), the
    strongest one whose head recurs in no occurrence (best mean key-invariant chroma similarity of
    the head to an equally long stretch starting after it < ``max_recur``) is where the chorus
    starts. A cut inside a chorus, or inside a pre-chorus that repeats its own bars, leaves a head
    that recurs. A first occurrence whose head recurs and that is shorter by about the head (a song
    opening with its chorus) is kept whole.

    Returns (choruses, pre-choruses) or None.
    """
    occ = [(float(s), float(e)) for s, e in occ]
    free = [not (i > 0 and abs(occ[i][0] - occ[i - 1][1]) <= 2 * resolution) for i in range(len(occ))]
    al = [o for o, f in zip(occ, free) if f]
    if len(al) < 2:
        return None
    m = min(novelty.size, chroma_sim.shape[0])
    n = int(min(e - s for s, e in al) / resolution)
    typical = float(np.median([e - s for s, e in al])) / resolution
    idx = [int(round(s / resolution)) for s, _ in al]
    ends = [min(m, int(round(e / resolution))) for _, e in al]
    lo = int(round(min_part / resolution))
    hi = min(int(max_share * typical), n - lo)
    if hi < lo or any(i + n > m for i in idx):
        return None
    nov = np.mean([novelty[i:i + n] for i in idx], axis=0)
    peaks = [j for j in range(lo, hi + 1) if nov[j] >= min_novelty and nov[j] >= nov[max(0, j - 1):j + 2].max()]
    for j in sorted(peaks, key=lambda j: -nov[j]):
        # the head must have room to recur after itself; a first occurrence a head shorter than typical whose
        # head recurs already opens with the chorus (a song opening with its chorus) and stays whole
        rec = [_recurs_inside(chroma_sim, i, i + j, e) if e - i >= 2 * j else None for i, e in zip(idx, ends)]
        opens = [k == 0 and r is not None and r >= max_recur and e - i <= typical - 0.5 * j
                 for k, (r, i, e) in enumerate(zip(rec, idx, ends))]
        cut = [not o for o in opens]
        if (sum(cut) >= 2 and any(r is not None for r, c in zip(rec, cut) if c)
                and all(r is None or r < max_recur for r, c in zip(rec, cut) if c)):
            off = j * resolution
            parts = iter([(s + off, e) if c else (s, e) for (s, e), c in zip(al, cut)])
            return ([next(parts) if f else o for o, f in zip(occ, free)],
                    [(s, s + off) for (s, _), c in zip(al, cut) if c])
    return None


def _snippet(start: float, duration: float, length: float) -> tuple[float, float]:
    if duration <= length:
        return 0.0, float(duration)
    s = min(max(0.0, start), duration - length)
    return float(s), float(s + length)


def _scorer_curves(song: SongFeatures, scorer: Any, grid: np.ndarray, grid_res: float, config: HookConfig):
    """(grid curve (m,), per-segment scores) of a learned scorer, or (None, None)."""
    if scorer is None:
        return None, None
    from reviewer.aggregate import aggregate
    from reviewer.segments import make_segments

    table = song.table
    if table is None:
        table = aggregate(song.tracks, make_segments(song.duration, config.segment_len, min(config.segment_hop, config.segment_len)))
    p = np.asarray(scorer.score(table), dtype=np.float64).ravel()
    if p.shape[0] != len(table.segments):
        raise ValidationError(f"scorer returned {p.shape[0]} scores for {len(table.segments)} segments")
    mids = 0.5 * (table.segments.starts + table.segments.ends)
    curve = np.interp(grid + 0.5 * grid_res, mids, np.nan_to_num(p, nan=0.0))
    return curve, p


@dataclass(frozen=True)
class SongAnalysis:
    """Intermediate results of one song: the SSM analysis, grid tracks and the chorus candidates with features."""

    song: SongFeatures
    analysis: ssm.SsmAnalysis
    rms: np.ndarray
    candidates: list[Candidate]
    features: np.ndarray
    scorer_segments: np.ndarray | None


def analyse_song(song: SongFeatures | str | Path | Audio, *, config: HookConfig = HookConfig(), scorer: Any = None) -> SongAnalysis:
    """Self-similarity analysis, structures and chorus candidates (with :data:`~reviewer.detect.ranker.FEATURES`).

    This is what the ranker is trained on (:func:`reviewer.detect.ranker.train_ranker`).
    """
    # the products here are small (m × 12, m × m with m ≈ 400): a multi-threaded BLAS on a busy machine
    # spends far more time spinning than computing (12 chroma products: 0.5 s vs 5 ms)
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    with threadpool_limits(limits=1, user_api="blas"):
        return _analyse_song(song, config=config, scorer=scorer)


def _analyse_song(song: SongFeatures | str | Path | Audio, *, config: HookConfig, scorer: Any) -> SongAnalysis:
    if not isinstance(song, SongFeatures):
        song = load_song(song)
    dur, res = float(song.duration), config.resolution
    if dur <= 0:
        raise ValidationError(f"song {song.key!r} has no audio (duration {dur})")
    grid = np.arange(max(1, int(np.ceil(dur / res - 1e-9)))) * res
    chroma, mfcc = _grid_track(song, "chroma", res), _grid_track(song, "mfcc", res)
    rms, onset = _grid_track(song, "rms", res).ravel(), _grid_track(song, "onset_strength", res).ravel()
    an = ssm.analyse(chroma, mfcc, resolution=res, smooth=config.smooth, min_len=config.min_repeat,
                     min_lag=config.min_repeat, quantile=config.line_quantile, chroma_weight=config.chroma_weight,
                     key_shifts=config.key_shifts, rms=rms, loudness_weight=config.loudness_weight)
    structures = ssm.spectral_structures(an.affinity, mfcc, resolution=res, k_values=config.k_values,
                                         min_section=config.min_section, random_state=config.random_state)
    curve, seg_p = _scorer_curves(song, scorer, grid, res, config)
    cands = _candidates(structures, config=config, duration=dur, novelty=an.novelty, rms=rms, an=an, timbre=mfcc)
    feats = []
    for c in cands:
        st = next(s for s in structures if s.k == c.k)
        lab_rms = [float(np.mean(rms[st.labels == lab])) for lab in np.unique(st.labels)]
        feats.append(candidate_features(c.occurrences, c.prechorus, k=c.k, duration=dur, grid=grid, rms=rms,
                                        onset=onset, affinity=an.chroma, shifts=an.shifts, novelty=an.novelty,
                                        label_rms=lab_rms, scorer_curve=curve))
    F = np.vstack(feats) if feats else np.zeros((0, len(FEATURES)))
    return SongAnalysis(song=song, analysis=an, rms=rms, candidates=cands, features=F, scorer_segments=seg_p)


def detect_hooks(song: SongFeatures | str | Path | Audio, *, config: HookConfig = HookConfig(), scorer: Any = None,
                 ranker: HookRanker | None = None) -> HookPrediction:
    """Chorus occurrences, pre-choruses, the hook snippet and per-segment interest of one song.

    Parameters
    ----------
    song : SongFeatures, path or Audio
        Tracks (see :func:`load_song`), or media to extract them from.
    config : HookConfig
    scorer : SegmentScorer or None
        Any object with ``score(table) -> (N,)`` probabilities (task chorus/interest)
        and a ``model_version``; blended into the candidate ranking and the segment scores.
    ranker : HookRanker or None
        Learned candidate ranking (:func:`reviewer.detect.ranker.load_ranker`); the
        heuristic ranking when None.

    Returns
    -------
    HookPrediction
    """
    t0 = time.perf_counter()
    sa = analyse_song(song, config=config, scorer=scorer)
    return predict_from_analysis(sa, config=config, scorer=scorer, ranker=ranker, t0=t0)


def predict_from_analysis(sa: SongAnalysis, *, config: HookConfig = HookConfig(), scorer: Any = None,
                          ranker: HookRanker | None = None, t0: float | None = None) -> HookPrediction:
    """The prediction of :func:`detect_hooks` from an :func:`analyse_song` result (ranking, snippet, segments)."""
    t0 = time.perf_counter() if t0 is None else t0
    song, an, rms, cands, seg_p = sa.song, sa.analysis, sa.rms, sa.candidates, sa.scorer_segments
    dur, res = float(song.duration), config.resolution
    versions = [METHOD] + ([ranker.model_version] if ranker is not None else ["heuristic"])
    if scorer is not None:
        versions.append(str(getattr(scorer, "model_version", "scorer")))
    chorus: list[tuple[float, float]] = []
    pre: list[tuple[float, float]] = []
    fallback, reason = False, None
    F = sa.features
    if cands and float(np.max(F[:, FEATURES.index("rep_strength")])) < config.min_repeat_similarity:
        cands = []
    if cands:
        scores = ranker.score(F) if ranker is not None else heuristic_score(F)
        best = int(np.argmax(scores))
        if config.split_tie_margin is not None:
            best = prefer_split_version(cands, scores, best, margin=config.split_tie_margin)
        best_rep = float(F[best, FEATURES.index("rep_strength")])
        chorus, pre = cands[best].occurrences, cands[best].prechorus
        if config.snap_to_rise:
            chorus = snap_to_level_rise(chorus, rms, resolution=res, window=config.snap_window,
                                        min_rise_db=config.snap_min_rise_db,
                                        max_own_rise_db=config.snap_max_own_rise_db,
                                        max_level_gap_db=config.snap_max_level_gap_db, chroma_sim=an.chroma,
                                        min_sim=config.snap_min_sim, min_recur_rise_db=config.snap_recur_min_rise_db,
                                        resplit_pairs=config.snap_resplit_pairs,
                                        clean_only=config.snap_recur_clean_only,
                                        align_moves=config.snap_align_moves)
        if config.opening_chorus_window is not None and an.chroma is not None:
            chorus = extend_opening_chorus(chorus, rms, an.chroma, resolution=res, window=config.opening_chorus_window,
                                           max_level_gap_db=config.snap_max_level_gap_db, min_sim=config.snap_min_sim)
        if config.extend_short_heads and an.chroma is not None:
            chorus = extend_short_heads(chorus, an.chroma, resolution=res, min_sim=config.head_min_sim)
        if config.add_missed and an.chroma is not None:
            chorus = add_missed_occurrences(chorus, an.chroma, rms, resolution=res, min_sim=config.missed_min_sim,
                                            max_level_gap_db=config.missed_max_level_gap_db)
        if config.add_missed_half and an.chroma is not None:
            chorus = add_missed_half_choruses(chorus, an.chroma, rms, resolution=res,
                                              min_sim=config.missed_half_min_sim,
                                              max_level_gap_db=config.missed_half_max_level_gap_db)
        if config.trim_quiet:
            trimmed = trim_quiet_parts(chorus, rms, resolution=res, min_gap_db=config.trim_quiet_min_gap_db,
                                       min_part=config.trim_quiet_min_part,
                                       max_loud_gap_db=config.trim_quiet_max_loud_gap_db)
            if trimmed != chorus and config.trim_quiet_split_prechorus and an.chroma is not None:
                # the loud parts left may still carry a pre-chorus as loud as the chorus
                uh = split_unrepeated_head(trimmed, an.novelty, an.chroma, resolution=res,
                                           min_part=config.split_min_prechorus, min_novelty=config.split_min_novelty,
                                           max_recur=config.head_max_recur)
                if uh is not None:
                    trimmed, pre = uh[0], sorted(set(pre) | set(uh[1]))
            chorus = trimmed
        if config.quiet_first_gap_db is not None:
            kept = drop_quiet_first(chorus, rms, resolution=res, max_gap_db=config.quiet_first_gap_db)
            if len(kept) < len(chorus):  # with the pre-chorus that led into the dropped occurrence
                pre = [(a, b) for a, b in pre if abs(b - chorus[0][0]) > 2 * res]
            chorus = kept
        chorus = disjoint_occurrences(chorus)
        if config.propagate_pre_min_sim is not None and an.chroma is not None and pre:
            chorus, pre = propagate_prechorus(chorus, pre, an.chroma, resolution=res,
                                              min_sim=config.propagate_pre_min_sim,
                                              margin=config.propagate_pre_margin)
        # a pre-chorus ends where its (moved) chorus starts; one left inside a chorus is dropped
        pre = [(a, min(b, next((s for s, _ in chorus if a < s < b), b))) for a, b in pre]
        pre = [(a, b) for a, b in pre if b - a >= 2 * res and not any(s <= a + res and a < e for s, e in chorus)]
        if ranker is not None:
            conf = float(np.clip(scores[best], 0.05, 0.99))
        else:
            z = np.exp(scores - scores.max())
            conf = float(np.clip(0.3 + 0.7 * (1.0 / z.sum()) ** 0.5, 0.05, 0.99))
        snippet = _snippet(snippet_start(chorus, pre, resolution=res, snippet_len=config.snippet_len,
                                         max_share=config.max_prechorus_share,
                                         double_below_share=config.double_chorus_below_share), dur, config.snippet_len)
    else:
        fallback = True
        reason = (f"no section of ≥ {config.min_repeat:g} s repeats (chroma similarity < {config.min_repeat_similarity:g}): "
                  "most energetic novel window (heuristic)")
        snippet = _fallback_window(dur, rms, an.novelty, res, config.snippet_len) if dur > config.snippet_len else (0.0, dur)
        conf = 0.2
    chorus_source = "repetition" if chorus else None
    if dur <= config.snippet_len:
        snippet = (0.0, dur)
        if (chorus and config.short_track_max_level_gap_db is not None
                and level_spread_db(chorus, rms, resolution=res) > config.short_track_max_level_gap_db):
            chorus, pre = [], []
        if not chorus:
            reason = "track shorter than the snippet: whole track; chorus = its main section (heuristic)"
            fallback, conf = False, 0.5
            chorus = [_main_section(an.novelty, res, dur, rms, config.main_section_min_rise_db)]
            chorus_source = "short-track main section (heuristic)"
    seg_times, seg_scores = _segments_scores(dur, chorus, pre, rms, res, config, seg_p)
    evidence = {
        "chorus_source": chorus_source,
        "best_rep": round(best_rep, 4) if cands else None,
        "ssm": an.downsampled(max_size=200),
        "repetitions": [r.to_dict() for r in an.repetitions[:50]],
        "candidates": [{"chorus": [[round(a, 3), round(b, 3)] for a, b in c.occurrences], "k": c.k,
                        "score": round(float(s), 4)} for c, s in zip(cands, scores)][:30] if cands else [],
    }
    return HookPrediction(
        key=song.key, snippet=(round(snippet[0], 3), round(snippet[1], 3)), chorus=chorus, prechorus=pre,
        confidence=round(conf, 4), fallback=fallback, fallback_reason=reason, method=METHOD,
        model_version="+".join(versions), segment_times=seg_times, segment_scores=seg_scores, evidence=evidence,
        seconds=time.perf_counter() - t0,
    )


def disjoint_occurrences(occ: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Occurrences sorted by start, each ending where the next one starts if it ran into it.

    The refinements may leave two occurrences overlapping by up to a second (an added repeat
    tolerates ``max_overlap``); one chorus ends where the next begins.
    """
    out = sorted((float(s), float(e)) for s, e in occ)
    for k in range(len(out) - 1):
        if out[k][1] > out[k + 1][0]:
            out[k] = (out[k][0], max(out[k][0], out[k + 1][0]))
    return [(s, e) for s, e in out if e > s]


def is_split_version(whole: Candidate, split: Candidate, *, min_shift: float = 3.0, max_shift: float = 12.0,
                     end_tol: float = 1.0) -> bool:
    """True when ``split`` is ``whole`` with a pre-chorus cut off every occurrence's head.

    Same number of occurrences, each starting ``min_shift``–``max_shift`` s later and ending within
    ``end_tol`` s of ``whole``'s, and ``split`` has pre-choruses while ``whole`` has none.
    """
    a, b = whole.occurrences, split.occurrences
    if whole.prechorus or not split.prechorus or len(a) != len(b) or not a:
        return False
    return all(abs(e1 - e2) <= end_tol and min_shift <= s2 - s1 <= max_shift for (s1, e1), (s2, e2) in zip(a, b))


def prefer_split_version(cands: Sequence[Candidate], scores: np.ndarray, best: int, *, margin: float = 0.05) -> int:
    """The candidate to take when the ranking cannot tell a pre-chorus + chorus from the chorus alone.

    When ``cands[best]`` has no pre-chorus and a candidate that is it with the pre-chorus cut off every
    occurrence (:func:`is_split_version`) scores at least ``scores[best] - margin``, that one is taken
    (the best-scoring such); otherwise ``best``. A chorus is what a pre-chorus leads into, so the split
    reading also explains the merged one; the ranker's features see the two as nearly alike.
    """
    alts = [i for i, c in enumerate(cands)
            if i != best and float(scores[i]) >= float(scores[best]) - margin and is_split_version(cands[best], c)]
    return max(alts, key=lambda i: float(scores[i])) if alts else best


def propagate_prechorus(occ: Sequence[tuple[float, float]], pre: Sequence[tuple[float, float]],
                        chroma_sim: np.ndarray, *, resolution: float, min_sim: float = 0.8, margin: float = 0.05,
                        search: float = 1.5, min_rest: float = 4.0, min_templates: int = 2
                        ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Cut the pre-chorus off the occurrences that carry it merged in, when others have it apart.

    The repetition that gives a candidate its occurrences can cover a pre-chorus + chorus in one
    occurrence and the chorus alone in another (the pre-chorus was split off only where a level
    rise or a novelty peak said so). The pre-choruses that end where an occurrence starts are the
    templates (length L, their median; at least ``min_templates`` of them: one pre-chorus alone may
    be a chorus's first bars taken for one). An occurrence with no pre-chorus of its own, not played
    right after another occurrence, not at the song's start (a song opening with its chorus) and
    longer than L + ``min_rest`` s, whose first L s repeat the templates (mean key-invariant chroma
    similarity along the diagonal ≥ ``min_sim``) better than they repeat any chorus's own first L s
    (by ≥ ``margin``) starts with the pre-chorus: it is cut
    where its rest best repeats the choruses' heads (within ± ``search`` s of L) and the head
    becomes its pre-chorus.

    Returns (choruses, pre-choruses), both in time order.
    """
    occ = sorted((float(s), float(e)) for s, e in occ)
    pre = sorted((float(a), float(b)) for a, b in pre)
    tol = 2 * resolution
    m = chroma_sim.shape[0]
    tmpl = [(a, b) for a, b in pre if any(abs(b - s) <= tol for s, _ in occ)]
    heads = [s for s, _ in occ if any(abs(b - s) <= tol for _, b in tmpl)]
    if len(tmpl) < min_templates or not heads:
        return occ, pre
    L = int(round(float(np.median([b - a for a, b in tmpl])) / resolution))
    w = max(2, int(round(search / resolution)))
    if L < 2:
        return occ, pre

    def sim(i: int, j: int, n: int = L) -> float | None:
        if i < 0 or j < 0 or i + n > m or j + n > m:
            return None
        return float(np.mean(chroma_sim[i + np.arange(n), j + np.arange(n)]))

    t_idx = [int(round(a / resolution)) for a, _ in tmpl]
    h_idx = [int(round(s / resolution)) for s in heads]
    out, new_pre = [], list(pre)
    for k, (s, e) in enumerate(occ):
        i = int(round(s / resolution))
        own = any(abs(b - s) <= tol for _, b in pre)
        after = k > 0 and abs(occ[k - 1][1] - s) <= tol
        if own or after or s < 1.0 or e - s < (L * resolution) + min_rest:
            out.append((s, e))
            continue
        sp = [x for x in (sim(i, j) for j in t_idx if j != i) if x is not None]
        sc = [x for x in (sim(i, j) for j in h_idx if j != i) if x is not None]
        if not sp or float(np.mean(sp)) < min_sim or (sc and float(np.mean(sp)) < float(np.max(sc)) + margin):
            out.append((s, e))
            continue
        n = int(round(min_rest / resolution))
        best, best_d = -np.inf, None
        for d in range(max(1, L - w), L + w + 1):
            v = [x for x in (sim(i + d, j, n) for j in h_idx if j != i + d) if x is not None]
            if v and float(np.mean(v)) > best:
                best, best_d = float(np.mean(v)), d
        if best_d is None or s + best_d * resolution > e - min_rest:
            out.append((s, e))
            continue
        cut = s + best_d * resolution
        out.append((cut, e))
        new_pre.append((s, cut))
    return out, sorted(new_pre)


def extend_short_heads(occ: Sequence[tuple[float, float]], chroma_sim: np.ndarray, *, resolution: float,
                       short_share: float = 0.7, min_sim: float = 0.75, min_ratio: float = 0.9
                       ) -> list[tuple[float, float]]:
    """Occurrences that lost their head to another section moved back to a typical length.

    An occurrence under ``short_share`` of the others' median length is either a half chorus or a
    chorus whose first bars were labelled apart (a changed lead or sound over the same chords). The
    stretch that would complete it (the typical length back from its end) is compared, end-aligned,
    with the same stretch of every longer occurrence in the key-invariant chroma similarity: when it
    matches (mean ≥ ``min_sim`` and ≥ ``min_ratio`` × the match of the occurrence's own body), it is
    the chorus's head and the occurrence starts there (not before the previous occurrence's end). A
    half chorus is preceded by its pre-chorus, which matches the chorus's first half poorly.
    """
    occ = [(float(s), float(e)) for s, e in occ]
    if len(occ) < 2:
        return occ
    m = chroma_sim.shape[0]
    out = list(occ)
    for i, (s, e) in enumerate(occ):
        others = [o for j, o in enumerate(occ) if j != i]
        typical = float(np.median([b - a for a, b in others]))
        if e - s >= short_share * typical:
            continue
        start = max(e - typical, out[i - 1][1] if i > 0 else 0.0)
        if s - start < 2 * resolution:
            continue
        full = [(a, b) for a, b in others if b - a >= e - start - resolution]
        if not full:
            continue

        def match(t0: float, t1: float) -> float:
            ts = np.arange(int(round(t0 / resolution)), int(round(t1 / resolution)))
            vals = [chroma_sim[ts[ts < m], np.clip(ts[ts < m] + int(round((b - e) / resolution)), 0, m - 1)]
                    for _, b in full]
            return float(np.mean(np.concatenate(vals))) if vals else 0.0

        head, body = match(start, s), match(s, e)
        if head >= min_sim and head >= min_ratio * body:
            out[i] = (start, e)
    return out


def _level_db(rms) -> np.ndarray:
    """Frame RMS as dB (floored at -100 dB), as a flat float64 array."""
    return 20.0 * np.log10(np.maximum(np.asarray(rms, dtype=np.float64).ravel(), 1e-5))


def _mean_level(db: np.ndarray, s: float, e: float, resolution: float) -> float:
    """Mean dB of the grid cells of ``[s, e)`` (at least the first cell)."""
    return float(np.mean(db[int(s / resolution):max(int(s / resolution) + 1, int(e / resolution))]))


def _recurs_inside(chroma_sim: np.ndarray, t: int, i: int, j: int) -> float:
    """Best mean similarity of grid stretch [t, i) to an equally long stretch starting in [i, j)."""
    n, m = i - t, chroma_sim.shape[0]
    best = 0.0
    for a in range(i, min(j, m) - n + 1):
        best = max(best, float(np.mean(chroma_sim[np.arange(t, i), np.arange(a, a + n)])))
    return best


def snap_to_level_rise(occ: Sequence[tuple[float, float]], rms: np.ndarray, *, resolution: float, window: float = 10.0,
                       min_rise_db: float = 1.5, max_own_rise_db: float = 1.0, max_level_gap_db: float = 1.5,
                       rise_len: float = 4.0, min_move: float = 1.0, chroma_sim: np.ndarray | None = None,
                       min_sim: float = 0.85, min_recur_rise_db: float | None = None,
                       resplit_pairs: bool = False, clean_only: bool = False,
                       align_moves: bool = False) -> list[tuple[float, float]]:
    """Occurrences that start inside their section moved back to the level rise that opens it.

    A candidate made of a chorus's repeated second half (or a line inside it) starts where the
    level does not change. A chorus lands louder than what precedes it, so when an occurrence's
    own start has a level rise (mean dB over ``rise_len`` s after minus before) under
    ``max_own_rise_db``, the strongest rise of at least ``min_rise_db`` within ``window`` s before it
    (not before the previous occurrence's end) is taken as the section's start, provided the
    stretch between that rise and the occurrence is as loud as the occurrence (within
    ``max_level_gap_db``) and, given ``chroma_sim`` (key-invariant chroma), recurs after the
    occurrence's start (a chorus repeats its phrases: the best mean similarity to an equally long
    stretch starting inside the occurrence, or within twice the stretch's length after its start when
    the occurrence is short, is ≥ ``min_sim``): a quieter stretch, or one whose chords are not heard
    again in the chorus, is a pre-chorus or verse and stays outside. Failing that, with
    ``min_recur_rise_db`` and ``chroma_sim``, the strongest rise of at least ``min_recur_rise_db``
    among the earlier starts whose stretch recurs (≥ ``min_sim``) is taken: a chorus out of a
    pre-chorus as loud as it lands with a small rise, and the pre-chorus's chords do not recur.
    With ``clean_only`` a rise under ``min_rise_db`` must not lie within ``rise_len`` s after a rise
    of at least ``min_rise_db`` whose stretch does not recur (the landing of a pre-chorus: the small rise is
    its tail, its "before" window still reaching back before the pre-chorus).

    With ``align_moves``, an occurrence left where it was starts ``d`` s earlier when another one
    moved back by ``d`` and the ``d`` s before it repeat (mean chroma similarity ≥ ``min_sim``) the
    stretch the other one gained, as loud (the repetition's boundaries are the same in every copy; a
    chorus after a section as loud has no rise to find).

    With ``resplit_pairs``, an occurrence moved back that was the first of two equally long
    back-to-back ones (a double chorus cut in equal halves, :func:`_split_multiples`, from a late
    start) and the one after it are cut again in equal halves of the pair's new span, when the moved
    one is now over 1.25× the median length of the other occurrences (a half chorus after a full one,
    found as two halves, is left as the snap made it: a full chorus and a half).
    """
    occ = [(float(s), float(e)) for s, e in occ]
    db = _level_db(rms)
    m, w = db.size, max(1, int(round(rise_len / resolution)))

    def rise(i: int) -> float:
        return float(np.mean(db[i:i + w]) - np.mean(db[max(0, i - w):i])) if 1 <= i < m else 0.0

    def as_loud(t: int, i: int, j: int) -> bool:  # grid stretch [t, i) as loud as the occurrence [i, j)
        return float(np.mean(db[t:i])) >= float(np.mean(db[i:j])) - max_level_gap_db

    out = []
    for k, (s, e) in enumerate(occ):
        i, j = int(round(s / resolution)), min(m, int(round(e / resolution)))
        lo_t = max(s - window, out[k - 1][1] if k > 0 else 0.0)
        lo, hi = int(np.ceil(lo_t / resolution)), i - int(round(min_move / resolution))
        if i >= m or j <= i or hi < max(lo, 1) or rise(i) >= max_own_rise_db:
            out.append((s, e))
            continue
        cand = np.arange(max(lo, 1), hi + 1)
        rises = np.array([rise(int(t)) for t in cand])
        t = int(cand[int(np.argmax(rises))])
        level_ok = lambda t: as_loud(t, i, j)
        recurs = lambda t: _recurs_inside(chroma_sim, t, i, max(j, i + 2 * (i - t)))
        if rises.max() >= min_rise_db and level_ok(t) and (chroma_sim is None or recurs(t) >= min_sim):
            out.append((t * resolution, e))
            continue
        if chroma_sim is not None and min_recur_rise_db is not None:
            # a small rise less than ``rise_len`` s after a larger marked one (≥ ``min_rise_db``) whose own stretch
            # does not recur (a pre-chorus landing) is that rise's tail
            clean = lambda t: rise(t) >= min_rise_db or not any(rise(q) >= min_rise_db and recurs(q) < min_sim
                                                                for q in range(max(1, t - w), t - w // 2 + 1))
            # a chorus landing without a marked level rise (out of a pre-chorus as loud as it): the
            # strongest small rise among the earlier starts whose stretch still recurs in the chorus
            ok = np.array([rises[q] >= min_recur_rise_db and (not clean_only or clean(int(t)))
                           and recurs(int(t)) >= min_sim for q, t in enumerate(cand)])
            if ok.any():
                t = int(cand[ok][int(np.argmax(rises[ok]))])
                if level_ok(t):
                    out.append((t * resolution, e))
                    continue
        out.append((s, e))
    if align_moves and chroma_sim is not None:
        # an occurrence the snap left where it was, while another one of the same repetition moved back by d:
        # when the d s before it repeat the stretch the other one gained (chroma), it starts d s earlier too
        moved = [(occ[q][0] - out[q][0], q) for q in range(len(occ)) if occ[q][0] - out[q][0] >= min_move]
        snapped = list(out)
        for k, (s, e) in enumerate(occ):
            if snapped[k] != (s, e) or not moved:
                continue
            i, j = int(round(s / resolution)), min(m, int(round(e / resolution)))
            if j <= i:
                continue
            best = None
            for d, q in moved:
                n, iq = int(round(d / resolution)), int(round(occ[q][0] / resolution))
                t = i - n
                if t < 0 or (k > 0 and t * resolution < out[k - 1][1] - 1e-9) or iq - n < 0:
                    continue
                sim = float(np.mean(chroma_sim[np.arange(t, i), np.arange(iq - n, iq)]))
                if sim >= min_sim and as_loud(t, i, j) and (best is None or sim > best[0]):
                    best = (sim, t * resolution)
            if best is not None:
                out[k] = (best[1], e)
    if resplit_pairs:
        for k in range(len(occ) - 1):
            (s0, e0), (s1, e1) = occ[k], occ[k + 1]
            rest = [b - a for q, (a, b) in enumerate(out) if q not in (k, k + 1)]
            first_moved = out[k][0] < s0 - 1e-9 and out[k + 1] == occ[k + 1]
            # the moved first part now too long for one chorus (a full chorus joined to the half after it is not)
            too_long = bool(rest) and out[k][1] - out[k][0] > 1.25 * float(np.median(rest))
            if first_moved and too_long and abs(e0 - s1) < 1e-6 and abs((e0 - s0) - (e1 - s1)) <= resolution:
                mid = 0.5 * (out[k][0] + e1)
                out[k], out[k + 1] = (out[k][0], mid), (mid, e1)
    return out


def extend_opening_chorus(occ: Sequence[tuple[float, float]], rms: np.ndarray, chroma_sim: np.ndarray, *,
                          resolution: float, window: float = 10.0, max_level_gap_db: float = 1.5, min_sim: float = 0.85,
                          min_move: float = 1.0) -> list[tuple[float, float]]:
    """The first occurrence moved back to the song's start when the song opens with its chorus.

    :func:`snap_to_level_rise` needs a level rise where the chorus starts; a song opening with its
    chorus has nothing before it to rise from, and its first bars (labelled apart: the first chorus
    often sounds thinner) are lost. When the first occurrence starts ``min_move`` to ``window`` s into
    the song, and the stretch before it is as loud (within ``max_level_gap_db`` of the occurrence's
    mean dB) and recurs inside the occurrence (best mean key-invariant chroma similarity ≥ ``min_sim``,
    as in :func:`snap_to_level_rise`), the occurrence starts at 0. An intro is quieter, or its chords
    are not the chorus's.
    """
    occ = [(float(s), float(e)) for s, e in occ]
    if not occ or not min_move <= occ[0][0] <= window:
        return occ
    db = _level_db(rms)
    (s, e), m = occ[0], min(db.size, chroma_sim.shape[0])
    i, j = int(round(s / resolution)), min(m, int(round(e / resolution)))
    if j <= i or i >= m:
        return occ
    loud = float(np.mean(db[:i])) >= float(np.mean(db[i:j])) - max_level_gap_db
    if loud and _recurs_inside(chroma_sim, 0, i, max(j, 2 * i)) >= min_sim:
        occ[0] = (0.0, e)
    return occ


def _templates(occ: Sequence[tuple[float, float]]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The occurrences in time order, and the full-length ones (≥ 80 % of the longest): the templates a
    search for missed occurrences matches against."""
    occ = sorted((float(s), float(e)) for s, e in occ)
    longest = max((e - s for s, e in occ), default=0.0)
    return occ, [(s, e) for s, e in occ if e - s >= 0.8 * longest]


def add_missed_occurrences(occ: Sequence[tuple[float, float]], chroma_sim: np.ndarray, rms: np.ndarray, *,
                           resolution: float, min_sim: float = 0.8, max_level_gap_db: float = 3.0,
                           max_overlap: float = 1.0, max_step_db: float = 1.5) -> list[tuple[float, float]]:
    """The occurrences plus every further stretch that repeats the whole chorus and is as loud.

    The structural labels can put a chorus into another group (two back-to-back last choruses read
    as their own section). The full-length occurrences (≥ 80 % of the longest) are the templates; a
    stretch of the templates' length elsewhere (overlapping no occurrence by more than
    ``max_overlap`` s) whose mean key-invariant chroma similarity to them along the diagonal is
    ≥ ``min_sim`` and whose mean level is within ``max_level_gap_db`` of the occurrences' median (a
    verse or outro over the chorus's chords is quieter) and whose level contour is the chorus's (the
    second half minus the first within ``max_step_db`` of the templates': a quiet verse over the chorus's
    chords running into a half chorus steps up) is added, best match first.
    """
    occ, tmpl = _templates(occ)
    if len(occ) < 2:
        return occ
    m = chroma_sim.shape[0]
    db = _level_db(rms)
    L = int(round(min(e - s for s, e in tmpl) / resolution))
    starts = [int(round(s / resolution)) for s, _ in tmpl]
    if L < 2 or any(i + L > m for i in starts):
        return occ
    u = np.arange(L)
    h = L // 2

    def step(t: int) -> float:  # level of the second half minus the first (a quiet verse + a chorus steps up)
        return float(np.mean(db[t + h:t + L]) - np.mean(db[t:t + h]))

    tmpl_step = float(np.mean([step(i) for i in starts]))
    scores = np.full(m, -np.inf)
    for t in _free_loud_starts(occ, db, L, m, resolution=resolution, max_level_gap_db=max_level_gap_db,
                               max_overlap=max_overlap):
        if abs(step(t) - tmpl_step) <= max_step_db:
            scores[t] = float(np.mean([np.mean(chroma_sim[i + u, t + u]) for i in starts]))
    return sorted(occ + _best_stretches(scores, L, min_sim=min_sim, resolution=resolution, max_overlap=max_overlap))


def _free_loud_starts(occ: Sequence[tuple[float, float]], db: np.ndarray, length: int, m: int, *, resolution: float,
                      max_level_gap_db: float, max_overlap: float) -> list[int]:
    """Grid starts of the stretches of ``length`` cells overlapping no occurrence by more than ``max_overlap`` s
    whose mean level (dB) is within ``max_level_gap_db`` of the occurrences' median level."""
    lev = [_mean_level(db, s, e, resolution) for s, e in occ]
    floor = float(np.median(lev)) - max_level_gap_db
    ov = int(round(max_overlap / resolution))
    taken = [(int(round(s / resolution)), int(round(e / resolution))) for s, e in occ]
    return [t for t in range(0, m - length + 1)
            if not any(t < b - ov and t + length > a + ov for a, b in taken)
            and float(np.mean(db[t:t + length])) >= floor]


def _best_stretches(scores: np.ndarray, length: int, *, min_sim: float, resolution: float,
                    max_overlap: float) -> list[tuple[float, float]]:
    """Stretches of ``length`` cells by score (≥ ``min_sim``), best first, each overlapping no better one by more
    than ``max_overlap`` s."""
    scores = scores.copy()
    ov = int(round(max_overlap / resolution))
    added = []
    while True:
        t = int(np.argmax(scores))
        if not np.isfinite(scores[t]) or scores[t] < min_sim:
            break
        added.append((t * resolution, (t + length) * resolution))
        scores[max(0, t - length + ov + 1):max(0, t + length - ov)] = -np.inf
    return added


def add_missed_half_choruses(occ: Sequence[tuple[float, float]], chroma_sim: np.ndarray, rms: np.ndarray, *,
                             resolution: float, min_sim: float = 0.85, max_level_gap_db: float = 1.5,
                             max_shift: float = 1.0, min_len: float = 4.0,
                             max_overlap: float = 1.0) -> list[tuple[float, float]]:
    """The occurrences plus every further stretch as loud that repeats the first half of the chorus.

    A half chorus (the chorus's first half, then the bridge or the outro) is too short for a
    full-length match (:func:`add_missed_occurrences`) and is often labelled apart. The templates are
    the full-length occurrences (≥ 80 % of the longest, at least two); a stretch of half their length
    overlapping no occurrence by more than ``max_overlap`` s whose key-invariant chroma similarity to
    each template's first half along the diagonal (that template's start moved by up to ``max_shift``
    s: tempo drift) averages ≥ ``min_sim`` and whose mean level is within ``max_level_gap_db`` of the
    occurrences' median (a half chorus is played as loud as the chorus, a verse or outro over its
    chords is quieter: the second half of such a verse was 2.8 dB under) is added, best first.
    """
    occ, tmpl = _templates(occ)
    if len(occ) < 2:
        return occ
    m = chroma_sim.shape[0]
    db = _level_db(rms)
    H = int(round(min(e - s for s, e in tmpl) / resolution)) // 2
    if len(tmpl) < 2 or H * resolution < min_len:
        return occ
    sh = int(round(max_shift / resolution))
    starts = [[i + d for d in range(-sh, sh + 1) if 0 <= i + d and i + d + H <= m]
              for i in (int(round(s / resolution)) for s, _ in tmpl)]
    if any(not st for st in starts):
        return occ
    u = np.arange(H)
    scores = np.full(m, -np.inf)
    for t in _free_loud_starts(occ, db, H, m, resolution=resolution, max_level_gap_db=max_level_gap_db,
                               max_overlap=max_overlap):
        scores[t] = float(np.mean([max(float(np.mean(chroma_sim[i + u, t + u])) for i in st) for st in starts]))
    return sorted(occ + _best_stretches(scores, H, min_sim=min_sim, resolution=resolution, max_overlap=max_overlap))


def level_spread_db(occ: Sequence[tuple[float, float]], rms: np.ndarray, *, resolution: float) -> float:
    """Loudest minus quietest occurrence (mean dB of the grid ``rms`` over each); 0 for fewer than two."""
    db = _level_db(rms)
    lev = [_mean_level(db, s, e, resolution) for s, e in occ if int(s / resolution) < db.size]
    return max(lev) - min(lev) if len(lev) >= 2 else 0.0


def drop_quiet_first(occ: Sequence[tuple[float, float]], rms: np.ndarray, *, resolution: float,
                     max_gap_db: float = 2.0) -> list[tuple[float, float]]:
    """The occurrences without the first one when it is more than ``max_gap_db`` quieter (mean dB) than
    the median of the others (at least two others).

    A chorus is the loudest repeated section; an opening stretch over the chorus's chords (an intro, a
    verse) joins the chorus's label in chroma but not in level, and would otherwise place the snippet.
    """
    occ = [(float(s), float(e)) for s, e in occ]
    if len(occ) < 3:
        return occ
    db = _level_db(rms)
    lev = [_mean_level(db, s, e, resolution) for s, e in occ]
    return occ[1:] if lev[0] < float(np.median(lev[1:])) - max_gap_db else occ


def trim_quiet_parts(occ: Sequence[tuple[float, float]], rms: np.ndarray, *, resolution: float,
                     min_gap_db: float = 2.0, min_part: float = 6.0, max_loud_gap_db: float = 1.5,
                     step_len: float = 4.0, min_step_db: float = 1.5) -> list[tuple[float, float]]:
    """The occurrences without their quiet parts (a verse over the chorus's chords merged with a chorus).

    A verse played over the chorus's chords matches the chorus in chroma, so a label can hold a chorus
    and the verse next to it as one occurrence; what tells them apart is the melody and the arrangement,
    and with them the level (the chorus is the loud part). Each occurrence is segmented by level: among
    its stretches (a head, a tail or a middle part; every part ≥ ``min_part`` s) whose mean level (dB)
    differs from the rest's by ≥ ``min_gap_db`` and whose ends are level steps (the mean over
    ``step_len`` s after the cut minus before it ≥ ``min_step_db`` in the right direction: a quiet moment
    averaged into a longer part is no step), the one explaining most of the level's variance is cut out,
    and the parts are segmented again. Parts more than ``max_loud_gap_db`` below the chorus level (the
    median over the occurrences of their loudest part) are removed, an occurrence losing a middle part
    becoming two. An occurrence quiet throughout (an intro and a verse) stays whole (left to
    :func:`drop_quiet_first`).
    """
    occ = [(float(s), float(e)) for s, e in occ]
    if len(occ) < 2:
        return occ
    db = _level_db(rms)
    lo, w = int(round(min_part / resolution)), max(1, int(round(step_len / resolution)))

    def segment(i: int, j: int) -> list[tuple[int, int]]:
        n = j - i
        if n < 2 * lo:
            return [(i, j)]
        c = np.concatenate([[0.0], np.cumsum(db[i:j])])
        a, b = np.triu_indices(n + 1, lo)  # stretches [a, b), the parts around them empty or ≥ lo
        ok = (b - a <= n - lo) & ((a == 0) | (a >= lo)) & ((b == n) | (b <= n - lo))
        a, b = a[ok], b[ok]
        d = (c[b] - c[a]) / (b - a) - (c[n] - c[b] + c[a]) / (n - b + a)  # the stretch's level minus the rest's
        t = np.arange(w, n - w + 1)
        step = np.zeros(n + 1)  # level over w cells after a cut minus w cells before it
        step[t] = (c[t + w] - 2 * c[t] + c[t - w]) / w

        def sharp(x: np.ndarray, sign: np.ndarray) -> np.ndarray:
            return (x == 0) | (x == n) | (sign * step[x] >= min_step_db)

        valid = (np.abs(d) >= min_gap_db) & sharp(a, np.sign(d)) & sharp(b, -np.sign(d))
        if not valid.any():
            return [(i, j)]
        q = int(np.argmax(np.where(valid, (b - a) * (n - b + a) * d ** 2, -1.0)))  # most variance explained
        cuts = (0, int(a[q]), int(b[q]), n)
        return [p for x, y in zip(cuts, cuts[1:]) if y > x for p in segment(i + x, i + y)]

    parts = []
    for s, e in occ:
        i, j = int(round(s / resolution)), min(db.size, int(round(e / resolution)))
        parts.append([(a, b, float(np.mean(db[a:b]))) for a, b in segment(i, j)] if j > i else [])
    if not any(parts):
        return occ
    ref = float(np.median([max(lev for _, _, lev in p) for p in parts if p]))
    out = []
    for (s, e), p in zip(occ, parts):
        loud = [(a, b) for a, b, lev in p if lev >= ref - max_loud_gap_db]
        if not loud or len(loud) == len(p):
            out.append((s, e))
            continue
        runs: list[list[int]] = []
        for a, b in loud:  # adjacent loud parts stay one occurrence
            if runs and runs[-1][1] == a:
                runs[-1][1] = b
            else:
                runs.append([a, b])
        out.extend((s if a == p[0][0] else a * resolution, e if b == p[-1][1] else b * resolution) for a, b in runs)
    return out

