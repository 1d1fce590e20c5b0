"""A missed half chorus (the chorus's first half, then the outro), added by matching the chorus's first half as loud
(session 5), on synthetic audio."""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks import SR, _section

from reviewer.audio_io import Audio
from reviewer.detect.hooks import add_missed_half_choruses, add_missed_occurrences, analyse_song, load_song

CHORUS = (3, 4, 0, 5, 2, 6, 0, 5)  # two different 4-bar phrases: the half chorus is the first one


def _song(parts, seed: int = 0):
    """``parts`` = kinds verse / chorus / half / quiet_half (the chorus's first phrase at the verse's level) / free.
    Returns the analysis and each part's (start, end)."""
    rng = np.random.default_rng(seed)
    verse_m, chorus_m = rng.integers(0, 7, 16), rng.integers(2, 9, 8)
    ys, spans, t = [], [], 0.0
    for kind in parts:
        if kind == "chorus":
            y = _section(CHORUS, chorus_m, key=0, gain=1.0, drums=True, rng=rng)
        elif kind in ("half", "quiet_half"):
            y = _section(CHORUS[:4], chorus_m, key=0, gain=1.0 if kind == "half" else 0.4,
                         drums=kind == "half", rng=rng)
        elif kind == "verse":
            y = _section((0, 5, 1, 4, 0, 5, 1, 4), verse_m, key=0, gain=0.5, drums=False, rng=rng)
        else:
            y = _section(tuple(rng.integers(0, 7, 4)), rng.integers(0, 7, 16), key=int(rng.integers(0, 12)),
                         gain=0.5, drums=False, rng=rng)
        spans.append((t, t + len(y) / SR))
        ys.append(y)
        t += len(y) / SR
    y = np.concatenate(ys)
    y = (0.3 * y / np.max(np.abs(y)) + 0.002 * rng.standard_normal(y.size)).astype(np.float32)
    return analyse_song(load_song(Audio.from_array(y, SR, source=f"halfadd-{seed}"), key="halfadd")), spans


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
