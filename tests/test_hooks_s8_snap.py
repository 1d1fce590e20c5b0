"""Session 8: the level-rise snap re-cuts a double chorus it moved, and skips the tail of a pre-chorus's landing.

Synthetic grid tracks (0.5 s resolution): a level curve in dB and a chord label per frame whose
similarity matrix is 1 for the same chord and 0.2 otherwise, so each case is exact.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks_s6_snap import loud_prechorus_song  # noqa: F401  (fixture)

from reviewer.detect.hooks import HookConfig, snap_to_level_rise

RES = 0.5


def _tracks(parts):
    """``parts`` = [(seconds, dB, chord labels per 4 s), ...] → (rms, chroma similarity, section starts)."""
    db, chords, starts, t = [], [], [], 0.0
    for secs, level, labels in parts:
        n = int(round(secs / RES))
        db += [level] * n
        per = int(round(4.0 / RES))
        chords += [labels[(k // per) % len(labels)] for k in range(n)]
        starts.append(t)
        t += secs
    rms = 10 ** (np.asarray(db) / 20.0)
    lab = np.asarray(chords)
    sim = np.where(lab[:, None] == lab[None, :], 1.0, 0.2)
    return rms, sim, starts


# chorus: C1 C2 C1 C2 (4 s each); verse: V1 V2; a pre-chorus nearly as loud whose second half is the chorus's opening
VERSE = (20.0, -24.0, ("V1", "V2"))
CHORUS = (16.0, -16.5, ("C1", "C2"))
PRE_INTO_CHORUS = (8.0, -17.0, ("P1", "C1"))


def test_a_double_chorus_cut_from_a_late_start_is_cut_again_from_the_moved_start():
    rms, sim, starts = _tracks([VERSE, CHORUS, VERSE, CHORUS, CHORUS, VERSE])
    c1, c2, c3 = starts[1], starts[3], starts[4]
    # the first chorus 4 s late; the back-to-back pair 10 s late, cut in equal halves of the late span
    occ = [(c1 + 4.0, c1 + 16.0), (c2 + 10.0, c2 + 21.0), (c2 + 21.0, c3 + 16.0)]
    kept = snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim)
    assert kept == [(c1, c1 + 16.0), (c2, c2 + 21.0), (c2 + 21.0, c3 + 16.0)]  # the split stays 5 s late
    out = snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim, resplit_pairs=True)
    assert out == [(c1, c1 + 16.0), (c2, c3), (c3, c3 + 16.0)]


def test_a_full_chorus_and_the_half_after_it_keep_the_snapped_split():
    """Found as two halves, a full chorus moved back to its start is one chorus long: no new cut."""
    half = (8.0, -16.5, ("C1", "C2"))
    rms, sim, starts = _tracks([VERSE, CHORUS, VERSE, CHORUS, half, VERSE])
    c1, c2, h = starts[1], starts[3], starts[4]
    occ = [(c1, c1 + 16.0), (c2 + 8.0, h), (h, h + 8.0)]
    out = snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim, resplit_pairs=True)
    assert out == [(c1, c1 + 16.0), (c2, h), (h, h + 8.0)]


def test_a_pair_whose_first_start_does_not_move_keeps_its_split():
    rms, sim, starts = _tracks([VERSE, CHORUS, VERSE, CHORUS, CHORUS, VERSE])
    c1, c2, c3 = starts[1], starts[3], starts[4]
    occ = [(c1, c1 + 16.0), (c2, c3), (c3, c3 + 16.0)]
    assert snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim, resplit_pairs=True) == occ


def test_the_tail_of_the_prechorus_rise_is_no_chorus_landing():
    """Out of a pre-chorus whose second half plays the chorus's opening chords, the only small
    "rise" whose stretch recurs in the chorus is the tail of the verse → pre-chorus rise (its 4 s
    window still reaches back into the verse, whose own stretch does not recur), so the start stays."""
    rms, sim, starts = _tracks([VERSE, PRE_INTO_CHORUS, CHORUS, VERSE, PRE_INTO_CHORUS, CHORUS, VERSE])
    occ = [(starts[2], starts[2] + 16.0), (starts[5], starts[5] + 16.0)]
    old = snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim, min_recur_rise_db=0.5)
    assert [s for s, _ in old] == [starts[2] - 4.5, starts[5] - 4.5]  # into the pre-chorus
    assert snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim, min_recur_rise_db=0.5,
                              clean_only=True) == occ


def test_a_real_small_landing_is_a_peak_and_still_moves(loud_prechorus_song):  # noqa: F811
    sa, starts = loud_prechorus_song
    c1, c2 = starts[3], starts[6]
    occ = [(c1 + 4.0, c1 + 16.0), (c2 + 4.0, c2 + 16.0)]
    out = snap_to_level_rise(occ, sa.rms, resolution=0.5, chroma_sim=sa.analysis.chroma, min_recur_rise_db=0.5,
                             clean_only=True)
    assert [s for s, _ in out] == [pytest.approx(c1, abs=1.0), pytest.approx(c2, abs=1.0)]


def test_the_detector_uses_both_by_default():
    cfg = HookConfig()
    assert cfg.snap_resplit_pairs and cfg.snap_recur_clean_only and cfg.snap_align_moves


LOUD_BRIDGE = (16.0, -16.5, ("B1", "B2"))  # as loud as the chorus: no level rise into the chorus after it


def test_an_occurrence_without_a_rise_follows_the_move_of_its_repetition():
    rms, sim, starts = _tracks([VERSE, CHORUS, LOUD_BRIDGE, CHORUS, VERSE])
    c1, c2 = starts[1], starts[3]
    occ = [(c1 + 4.0, c1 + 16.0), (c2 + 4.0, c2 + 16.0)]  # both 4 s late; only the first has a rise before it
    assert snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim) == [(c1, c1 + 16.0), occ[1]]
    out = snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim, align_moves=True)
    assert out == [(c1, c1 + 16.0), (c2, c2 + 16.0)]


def test_an_occurrence_after_other_chords_does_not_follow():
    rms, sim, starts = _tracks([VERSE, CHORUS, LOUD_BRIDGE, CHORUS, VERSE])
    c1, c2 = starts[1], starts[3]
    occ = [(c1 + 4.0, c1 + 16.0), (c2, c2 + 16.0)]  # the second is right: the bridge's chords before it
    out = snap_to_level_rise(occ, rms, resolution=RES, chroma_sim=sim, align_moves=True)
    assert out == [(c1, c1 + 16.0), (c2, c2 + 16.0)]


def test_occurrences_that_run_into_the_next_end_where_it_starts():
    from reviewer.detect.hooks import disjoint_occurrences

    assert disjoint_occurrences([(130.5, 141.5), (30.0, 44.0), (141.0, 152.0)]) == [
        (30.0, 44.0), (130.5, 141.0), (141.0, 152.0)]
    assert disjoint_occurrences([(30.5, 52.0), (51.5, 73.0), (72.5, 83.0)]) == [
        (30.5, 51.5), (51.5, 72.5), (72.5, 83.0)]
    assert disjoint_occurrences([(10.0, 20.0), (10.0, 15.0)]) == [(10.0, 20.0)]  # a duplicate start: the longer
    assert disjoint_occurrences([]) == []
