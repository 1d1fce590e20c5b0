"""The pre-chorus cut by the chorus's own chords (a song opening with its chorus), on synthetic audio."""

from __future__ import annotations

import pytest
from test_hooks_refine import _render

from reviewer.detect.hooks import split_at_template


@pytest.fixture(scope="module")
def opening_chorus_song():
    # chorus first; later choruses follow a pre-chorus as loud as they are (no level rise at the chorus)
    return _render([("chorus", 1.0), ("verse", 0.4), ("pre", 1.0), ("chorus", 1.0), ("verse", 0.4), ("pre", 1.0),
                    ("chorus", 1.0), ("free", 0.5)], seed=3)


def test_prechorus_merged_into_later_choruses_is_cut_where_the_opening_chorus_matches(opening_chorus_song):
    """The opening chorus has no pre-chorus, the later occurrences carry theirs; they are cut where the
    opening chorus's chords start in them, the heads become pre-choruses."""
    sa, starts = opening_chorus_song
    c0, p1, c1, p2, c2 = starts[0], starts[2], starts[3], starts[5], starts[6]
    occ = [(c0, c0 + 16.0), (p1, c1 + 16.0), (p2, c2 + 16.0)]
    res = split_at_template(occ, sa.analysis.chroma, resolution=0.5)
    assert res is not None
    chorus, pre = res
    assert chorus[0] == occ[0]
    assert [abs(s - c) for (s, _), c in zip(chorus[1:], (c1, c2))] == [pytest.approx(0.0, abs=1.0)] * 2
    assert [e for _, e in chorus] == [e for _, e in occ]
    assert [a for a, _ in pre] == [p1, p2]


def test_occurrences_that_open_with_the_chorus_stay_whole(opening_chorus_song):
    """An occurrence that already starts with the chorus (a chorus followed by more music) is not cut, nor
    two choruses back to back."""
    sa, starts = opening_chorus_song
    c0, c1, c2 = starts[0], starts[3], starts[6]
    assert split_at_template([(c0, c0 + 16.0), (c1, c1 + 24.0), (c2, c2 + 24.0)], sa.analysis.chroma,
                             resolution=0.5) is None
