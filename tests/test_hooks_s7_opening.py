"""Session 7 (B): a song opening with its chorus, on synthetic audio: the first occurrence gets its first bars
back (the song's start), and a pre-chorus sharing a good part of the chorus's sound is cut off the later
occurrences by the opening chorus's chords."""

from __future__ import annotations

import pytest
from test_hooks_refine import _render

from reviewer.detect.hooks import extend_opening_chorus, split_at_template


@pytest.fixture(scope="module")
def opening_chorus_song():
    # chorus first; later choruses follow a pre-chorus as loud as they are
    return _render([("chorus", 1.0), ("verse", 0.4), ("pre", 1.0), ("chorus", 1.0), ("verse", 0.4), ("pre", 1.0),
                    ("chorus", 1.0), ("free", 0.5)], seed=3)


def test_opening_chorus_gets_its_first_bars_back(opening_chorus_song):
    sa, starts = opening_chorus_song
    c0, c1, c2 = starts[0], starts[3], starts[6]
    occ = [(c0 + 4.0, c0 + 16.0), (c1, c1 + 16.0), (c2, c2 + 16.0)]  # the first 4 s labelled apart
    out = extend_opening_chorus(occ, sa.rms, sa.analysis.chroma, resolution=0.5)
    assert out == [(0.0, c0 + 16.0)] + occ[1:]


def test_an_intro_stays_outside_the_opening_chorus():
    # a quiet intro of other chords, then the chorus: the first occurrence keeps its start
    sa, starts = _render([("free", 0.5), ("chorus", 1.0), ("verse", 0.4), ("chorus", 1.0), ("free", 0.5)], seed=3)
    occ = [(starts[1], starts[1] + 16.0), (starts[3], starts[3] + 16.0)]
    assert extend_opening_chorus(occ, sa.rms, sa.analysis.chroma, resolution=0.5) == occ
    # as loud as the chorus, but other chords: still outside
    sa, starts = _render([("free", 1.0), ("chorus", 1.0), ("verse", 0.4), ("chorus", 1.0), ("free", 0.5)], seed=3)
    occ = [(starts[1], starts[1] + 16.0), (starts[3], starts[3] + 16.0)]
    assert extend_opening_chorus(occ, sa.rms, sa.analysis.chroma, resolution=0.5) == occ


def test_a_head_matching_far_worse_than_the_chorus_after_it_is_cut(opening_chorus_song):
    """The head of a pre-chorus + chorus matches the opening chorus's head moderately (half of it is the chorus's
    repeated first phrase against its second); with a head threshold that lets it pass as "already a chorus", the
    occurrence stays whole, unless it matches ``head_margin`` worse than the chorus found after it."""
    sa, starts = opening_chorus_song
    c0, p1, c1, p2, c2 = starts[0], starts[2], starts[3], starts[5], starts[6]
    occ = [(c0, c0 + 16.0), (p1, c1 + 16.0), (p2, c2 + 16.0)]
    assert split_at_template(occ, sa.analysis.chroma, resolution=0.5, max_head_sim=0.5) is None
    res = split_at_template(occ, sa.analysis.chroma, resolution=0.5, max_head_sim=0.5, head_margin=0.1)
    assert res is not None
    assert [s for s, _ in res[0][1:]] == [pytest.approx(c1, abs=1.0), pytest.approx(c2, abs=1.0)]
    assert [a for a, _ in res[1]] == [p1, p2]


def test_occurrences_opening_with_the_chorus_stay_whole_with_the_margin(opening_chorus_song):
    sa, starts = opening_chorus_song
    c0, c1, c2 = starts[0], starts[3], starts[6]
    assert split_at_template([(c0, c0 + 16.0), (c1, c1 + 24.0), (c2, c2 + 24.0)], sa.analysis.chroma,
                             resolution=0.5, max_head_sim=0.5, head_margin=0.1) is None
