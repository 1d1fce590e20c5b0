"""A pre-chorus as loud as its chorus, merged into every occurrence: cut where the head stops recurring
(session 5), on synthetic audio."""

from __future__ import annotations

import pytest
from test_hooks_refine import _render

from reviewer.detect.hooks import split_merged_prechorus, split_unrepeated_head


@pytest.fixture(scope="module")
def loud_prechorus_song():
    # verse (quiet) -> pre-chorus as loud as the chorus -> chorus (two equal phrases), twice
    return _render([("free", 0.5), ("verse", 0.4), ("pre", 1.0), ("chorus", 1.0), ("verse", 0.4), ("pre", 1.0),
                    ("chorus", 1.0), ("free", 0.5)], seed=3)


def test_loud_prechorus_is_cut_where_the_chorus_starts(loud_prechorus_song):
    """No level rise where the chorus lands, so the level-based split finds nothing; the pre-chorus's
    chords never recur after it inside the occurrence (the chorus's first phrase does), so the cut is at
    the chorus start and the heads become pre-choruses."""
    sa, starts = loud_prechorus_song
    p1, c1, p2, c2 = starts[2], starts[3], starts[5], starts[6]
    occ = [(p1, c1 + 16.0), (p2, c2 + 16.0)]
    assert split_merged_prechorus(occ, sa.analysis.novelty, sa.rms, resolution=0.5, min_rise_db=0.5,
                                  min_novelty=0.3, min_part=6.0) is None
    res = split_unrepeated_head(occ, sa.analysis.novelty, sa.analysis.chroma, resolution=0.5)
    assert res is not None
    chorus, pre = res
    assert [abs(s - c) for (s, _), c in zip(chorus, (c1, c2))] == [pytest.approx(0.0, abs=1.0)] * 2
    assert [e for _, e in chorus] == [e for _, e in occ]
    assert [a for a, _ in pre] == [p1, p2]


def test_choruses_that_repeat_their_head_stay_whole(loud_prechorus_song):
    """Occurrences that are the choruses themselves: every cut leaves a head that recurs later in the
    chorus, so nothing is cut."""
    sa, starts = loud_prechorus_song
    c1, c2 = starts[3], starts[6]
    assert split_unrepeated_head([(c1, c1 + 16.0), (c2, c2 + 16.0)], sa.analysis.novelty, sa.analysis.chroma,
                                 resolution=0.5) is None


def test_opening_chorus_stays_whole_while_the_others_lose_their_prechorus():
    """A song opening with its chorus: that occurrence is a pre-chorus shorter and its head recurs, so it
    stays whole; the later ones are cut at their chorus."""
    sa, starts = _render([("chorus", 1.0), ("verse", 0.4), ("pre", 1.0), ("chorus", 1.0), ("verse", 0.4),
                          ("pre", 1.0), ("chorus", 1.0), ("free", 0.5)], seed=3)
    c0, p1, c1, p2, c2 = starts[0], starts[2], starts[3], starts[5], starts[6]
    occ = [(c0, c0 + 16.0), (p1, c1 + 16.0), (p2, c2 + 16.0)]
    res = split_unrepeated_head(occ, sa.analysis.novelty, sa.analysis.chroma, resolution=0.5)
    assert res is not None
    chorus, pre = res
    assert chorus[0] == occ[0]
    assert [abs(s - c) for (s, _), c in zip(chorus[1:], (c1, c2))] == [pytest.approx(0.0, abs=1.0)] * 2
    assert [a for a, _ in pre] == [p1, p2]
