"""A missed half chorus (the chorus's first half, then the outro), added by matching the chorus's first half as loud
(session 5), on synthetic audio."""

from __future__ import annotations

import pytest
from test_hooks_s5_half import song_audio

from reviewer.detect.hooks import add_missed_half_choruses, add_missed_occurrences, analyse_song

CHORUS = (3, 4, 0, 5, 2, 6, 0, 5)  # two different 4-bar phrases: the half chorus is the first one


def _song(parts, seed: int = 0):
    """``parts`` as :func:`test_hooks_s5_half.song_audio` (no crashes). Returns the analysis and each part's
    (start, end)."""
    song, spans = song_audio(parts, chorus=CHORUS, seed=seed, source="halfadd")
    return analyse_song(song), spans


def test_missed_half_chorus_before_the_outro_is_added():
    """Verse, chorus, verse, chorus, bridge, half chorus, outro: the half chorus is too short for a full-length
    match (nothing added by add_missed_occurrences) but repeats the chorus's first half as loudly."""
    sa, spans = _song(["free", "verse", "chorus", "verse", "chorus", "free", "half", "free"])
    refs = [spans[2], spans[4]]
    assert add_missed_occurrences(refs, sa.analysis.chroma, sa.rms, resolution=0.5) == refs
    out = add_missed_half_choruses(refs, sa.analysis.chroma, sa.rms, resolution=0.5)
    assert out[:2] == refs and len(out) == 3
    assert out[2][0] == pytest.approx(spans[6][0], abs=1.0) and out[2][1] == pytest.approx(spans[6][1], abs=1.5)


def test_quiet_stretch_over_the_chorus_chords_is_not_a_half_chorus():
    """The same first phrase played quietly without drums (a verse or outro over the chorus's chords) is not added."""
    sa, spans = _song(["free", "verse", "chorus", "verse", "chorus", "free", "quiet_half", "free"])
    refs = [spans[2], spans[4]]
    assert add_missed_half_choruses(refs, sa.analysis.chroma, sa.rms, resolution=0.5) == refs
