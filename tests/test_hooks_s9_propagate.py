"""Session 9: a pre-chorus split off before some occurrences is cut off the one that carries it merged in.

Synthetic grid (0.5 s): one chord label per 4 s; the similarity matrix is 1 for the same label and 0.2
otherwise, so each case is exact.
"""

from __future__ import annotations

import numpy as np

from reviewer.detect.hooks import HookConfig, propagate_prechorus

RES = 0.5

VERSE = ("V1", "V2", "V3", "V4")
PRE = ("P1", "P2")
CHORUS = ("C1", "C2", "C3", "C4")


def _sim(parts):
    """``parts`` = [labels, ...], each label 4 s → chroma similarity on the 0.5 s grid."""
    per = int(round(4.0 / RES))
    lab = np.asarray([x for labels in parts for x in labels for _ in range(per)])
    return np.where(lab[:, None] == lab[None, :], 1.0, 0.2)


# verse 0-16, pre 16-24, chorus 24-40, verse 40-56, pre 56-64, chorus 64-80, verse 80-88, pre 88-96, chorus 96-112
SONG = _sim([VERSE, PRE, CHORUS, VERSE, PRE, CHORUS, VERSE[:2], PRE, CHORUS, ("O1", "O2")])


def test_the_merged_pre_chorus_is_cut_off_where_the_chorus_starts():
    occ = [(24.0, 40.0), (56.0, 80.0), (96.0, 112.0)]
    pre = [(16.0, 24.0), (88.0, 96.0)]
    chorus, pre_out = propagate_prechorus(occ, pre, SONG, resolution=RES)
    assert chorus == [(24.0, 40.0), (64.0, 80.0), (96.0, 112.0)]
    assert pre_out == [(16.0, 24.0), (56.0, 64.0), (88.0, 96.0)]


def test_one_pre_chorus_alone_is_not_enough_evidence():
    occ = [(24.0, 40.0), (56.0, 80.0), (96.0, 112.0)]
    chorus, pre_out = propagate_prechorus(occ, [(16.0, 24.0)], SONG, resolution=RES)
    assert chorus == occ and pre_out == [(16.0, 24.0)]


def test_an_occurrence_whose_head_is_the_chorus_is_left_whole():
    # (64, 88) is a chorus running into a verse: its head is a chorus head, not the pre-chorus
    occ = [(24.0, 40.0), (64.0, 88.0), (96.0, 112.0)]
    pre = [(16.0, 24.0), (88.0, 96.0)]
    chorus, _ = propagate_prechorus(occ, pre, SONG, resolution=RES)
    assert chorus == occ


def test_an_occurrence_right_after_another_or_at_the_song_start_is_left_whole():
    # pre 0-8, chorus 8-24, pre 24-32, chorus 32-48 played twice, pre 64-72, chorus 72-88
    sim = _sim([PRE, CHORUS, PRE, CHORUS, CHORUS, PRE, CHORUS])
    occ = [(0.0, 24.0), (32.0, 48.0), (48.0, 64.0), (72.0, 88.0)]
    pre = [(24.0, 32.0), (64.0, 72.0)]
    chorus, _ = propagate_prechorus(occ, pre, sim, resolution=RES)
    assert chorus == occ  # (0, 24) opens the song; (48, 64) follows a chorus
    # the same first occurrence one verse later is cut
    sim2 = _sim([VERSE, PRE, CHORUS, PRE, CHORUS, PRE, CHORUS])
    occ2 = [(16.0, 40.0), (48.0, 64.0), (72.0, 88.0)]
    pre2 = [(40.0, 48.0), (64.0, 72.0)]
    chorus2, pre_out2 = propagate_prechorus(occ2, pre2, sim2, resolution=RES)
    assert chorus2 == [(24.0, 40.0), (48.0, 64.0), (72.0, 88.0)]
    assert (16.0, 24.0) in pre_out2


def test_it_is_on_by_default_and_can_be_switched_off():
    assert HookConfig().propagate_pre_min_sim is not None
    assert HookConfig(propagate_pre_min_sim=None).propagate_pre_min_sim is None


# ---------------------------------------------------------------- the ranking's near-tie between merged and split

def _cand(occ, pre=()):
    from reviewer.detect.ranker import Candidate

    return Candidate(occurrences=list(occ), prechorus=list(pre), k=3)


def test_a_near_tie_goes_to_the_pre_chorus_split_version():
    from reviewer.detect.hooks import prefer_split_version

    merged = _cand([(25.0, 47.5), (96.0, 110.0)])
    split = _cand([(31.5, 47.5), (102.5, 110.0)], [(25.0, 31.5), (96.0, 102.5)])
    other = _cand([(63.0, 79.5), (79.5, 96.0)])
    cands = [merged, other, split]
    assert prefer_split_version(cands, np.array([0.61, 0.2, 0.60]), 0, margin=0.05) == 2
    # beyond the margin the ranking stands
    assert prefer_split_version(cands, np.array([0.70, 0.2, 0.60]), 0, margin=0.05) == 0
    # a candidate that is not the merged one with its heads cut off does not count
    moved = _cand([(31.5, 40.0), (102.5, 110.0)], [(25.0, 31.5), (96.0, 102.5)])  # an end moved 7.5 s
    assert prefer_split_version([merged, other, moved], np.array([0.61, 0.2, 0.60]), 0, margin=0.05) == 0
    # a best candidate that already has its pre-chorus keeps it
    assert prefer_split_version([split, other, merged], np.array([0.61, 0.2, 0.60]), 0, margin=0.05) == 0


def test_the_split_version_rule_is_on_by_default_and_can_be_switched_off():
    assert HookConfig().split_tie_margin is not None
    assert HookConfig(split_tie_margin=None).split_tie_margin is None
