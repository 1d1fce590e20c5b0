"""Boundary refinement of the chosen chorus candidate, on synthetic audio."""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks import SR, _section

from reviewer.audio_io import Audio
from reviewer.detect.hooks import analyse_song, load_song, snap_to_level_rise

CHORUS = (3, 4, 0, 5, 3, 4, 0, 5)  # two equal 4-bar phrases (8 s each at 2 s a bar)


def _render(parts, *, seed: int = 0):
    """``parts`` = [(kind, gain), ...] with kind verse / pre / chorus / free; returns the song's tracks
    and the start of every part in seconds."""
    rng = np.random.default_rng(seed)
    verse_m, pre_m, chorus_m = rng.integers(0, 7, 16), rng.integers(0, 7, 16), rng.integers(2, 9, 8)
    ys, starts, t = [], [], 0.0
    for kind, gain in parts:
        if kind == "chorus":
            y = _section(CHORUS, chorus_m, key=0, gain=gain, drums=True, rng=rng)
        elif kind == "verse":
            y = _section((0, 5, 1, 4, 0, 5, 1, 4), verse_m, key=0, gain=gain, drums=False, rng=rng)
        elif kind == "pre":  # other chords than the chorus, never heard inside it
            y = _section((1, 6, 2, 6), pre_m, key=0, gain=gain, drums=True, rng=rng)
        else:
            y = _section(tuple(rng.integers(0, 7, 4)), rng.integers(0, 7, 16), key=int(rng.integers(0, 12)),
                         gain=gain, drums=False, rng=rng)
        starts.append(t)
        ys.append(y)
        t += len(y) / SR
    y = np.concatenate(ys)
    y = (0.3 * y / np.max(np.abs(y)) + 0.002 * rng.standard_normal(y.size)).astype(np.float32)
    return analyse_song(load_song(Audio.from_array(y, SR, source=f"refine-{seed}"), key="refine")), starts


@pytest.fixture(scope="module")
def verse_chorus_song():
    return _render([("free", 0.5), ("verse", 0.4), ("chorus", 1.0), ("verse", 0.4), ("chorus", 1.0), ("free", 0.5)])


def test_occurrence_inside_a_chorus_snaps_back_to_its_level_rise(verse_chorus_song):
    """A candidate made of the choruses' second phrases (the first one repeated inside each chorus)
    starts where the level does not change; both occurrences move back to the rise out of the
    quieter verse, where the chorus starts."""
    sa, starts = verse_chorus_song
    c1, c2 = starts[2], starts[4]
    occ = [(c1 + 8.0, c1 + 16.0), (c2 + 8.0, c2 + 16.0)]
    out = snap_to_level_rise(occ, sa.rms, resolution=0.5, chroma_sim=sa.analysis.chroma)
    assert [abs(s - c) for (s, _), c in zip(out, (c1, c2))] == [pytest.approx(0.0, abs=1.0)] * 2
    assert [e for _, e in out] == [e for _, e in occ]
    # an occurrence already at the chorus start (the rise is its own) stays
    assert snap_to_level_rise([(c1, c1 + 16.0), (c2, c2 + 16.0)], sa.rms, resolution=0.5,
                              chroma_sim=sa.analysis.chroma) == [(c1, c1 + 16.0), (c2, c2 + 16.0)]


def test_equally_loud_prechorus_stays_outside_the_chorus():
    """Verse (quiet) → pre-chorus as loud as the chorus → chorus: the level rises at the pre-chorus,
    not at the chorus, but the pre-chorus's chords do not recur inside the chorus, so the chorus
    occurrences keep their starts (without the chroma check they would move back to the pre-chorus)."""
    plan = [("free", 0.5), ("verse", 0.4), ("pre", 1.0), ("chorus", 1.0), ("verse", 0.4), ("pre", 1.0),
            ("chorus", 1.0), ("free", 0.5)]
    sa, starts = _render(plan, seed=3)
    occ = [(starts[3], starts[3] + 16.0), (starts[6], starts[6] + 16.0)]
    assert snap_to_level_rise(occ, sa.rms, resolution=0.5, chroma_sim=sa.analysis.chroma) == occ
    moved = snap_to_level_rise(occ, sa.rms, resolution=0.5, chroma_sim=None)
    assert [s for s, _ in moved] == [pytest.approx(starts[2], abs=1.0), pytest.approx(starts[5], abs=1.0)]


def test_quiet_first_occurrence_over_the_chorus_chords_is_dropped():
    """A song opening with a quiet verse over the chorus's chords: chroma puts it in the chorus's label,
    but it is far quieter than the choruses, so it is not the first chorus (nor the snippet's place)."""
    from test_hooks import make_song

    from reviewer.detect.hooks import drop_quiet_first

    plan = [("verse-cc", 0), ("verse", 0), ("chorus", 0), ("verse", 0), ("chorus", 0), ("free", 0), ("chorus", 0)]
    audio, chorus = make_song(plan, seed=5)
    sa = analyse_song(load_song(audio, key="quiet-first"))
    quiet = (0.0, 16.0)  # the verse over the chorus's chords, 8 bars
    assert drop_quiet_first([quiet] + chorus, sa.rms, resolution=0.5) == chorus
    # the choruses themselves are kept, and so is a quiet first one when only one other is left to compare
    assert drop_quiet_first(chorus, sa.rms, resolution=0.5) == chorus
    assert drop_quiet_first([quiet] + chorus[:1], sa.rms, resolution=0.5) == [quiet] + chorus[:1]
