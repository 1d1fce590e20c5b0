"""Session 7: a verse over the chorus's chords merged with a chorus loses its quiet part, on synthetic audio."""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks import SR, _section

from reviewer.audio_io import Audio
from reviewer.detect.hooks import _grid_track, load_song, trim_quiet_parts

CHORUS = (3, 4, 0, 5, 3, 4, 0, 5)  # 8 bars of 2 s


def _render(parts, *, seed: int = 0):
    """``parts`` = kinds chorus (hook motif, drums) / verse (the chorus's chords, a low melody, 0.7× the gain, no
    drums: the same chroma as the chorus, ~3 dB quieter) / pre (other chords, as loud as the chorus) / free / blip
    (2 s of near silence); returns the grid RMS (0.5 s) and each part's (start, end)."""
    rng = np.random.default_rng(seed)
    hook_m, verse_m, pre_m = rng.integers(4, 11, 8), rng.integers(0, 5, 16), rng.integers(2, 7, 8)
    ys, spans, t = [], [], 0.0
    for kind in parts:
        if kind == "chorus":
            y = _section(CHORUS, hook_m, key=0, gain=1.0, drums=True, rng=rng)
        elif kind == "verse":
            y = _section(CHORUS, verse_m, key=0, gain=0.7, drums=False, rng=rng)
        elif kind == "pre":
            y = _section((1, 6, 2, 6), pre_m, key=0, gain=1.0, drums=True, rng=rng)
        elif kind == "blip":
            y = 0.01 * rng.standard_normal(2 * SR)
        else:
            y = _section(tuple(rng.integers(0, 7, 4)), rng.integers(0, 7, 16), key=5, gain=0.5, drums=False, rng=rng)
        spans.append((t, t + len(y) / SR))
        ys.append(y)
        t += len(y) / SR
    y = np.concatenate(ys)
    y = (0.3 * y / np.max(np.abs(y)) + 0.002 * rng.standard_normal(y.size)).astype(np.float32)
    song = load_song(Audio.from_array(y, SR, source=f"verse-{seed}"), key="verse")
    return _grid_track(song, "rms", 0.5).ravel(), spans


@pytest.fixture(scope="module")
def song():
    return _render(["free", "verse", "chorus", "verse", "chorus", "free", "chorus", "free"])


def test_verse_after_a_chorus_is_cut_off(song):
    """The first occurrence holds a chorus and the verse over its chords that follows it (one label in chroma):
    it keeps only the chorus, cut within 1 s of the verse's start; the others stay."""
    rms, sp = song
    occ = [(sp[2][0], sp[3][1]), sp[4], sp[6]]
    out = trim_quiet_parts(occ, rms, resolution=0.5)
    assert len(out) == 3
    assert out[0][0] == sp[2][0] and out[0][1] == pytest.approx(sp[3][0], abs=1.0)
    assert out[1:] == occ[1:]


def test_verse_between_two_choruses_is_cut_out(song):
    """chorus + verse + chorus as one occurrence becomes the two choruses."""
    rms, sp = song
    out = trim_quiet_parts([(sp[2][0], sp[4][1]), sp[6]], rms, resolution=0.5)
    assert len(out) == 3
    assert out[0] == (sp[2][0], pytest.approx(sp[3][0], abs=1.0))
    assert out[1] == (pytest.approx(sp[4][0], abs=1.0), sp[4][1])
    assert out[2] == sp[6]


def test_choruses_and_quiet_occurrences_stay_whole(song):
    """Guard: choruses alone, a verse + intro quiet throughout (left to drop_quiet_first) and a chorus with a
    2 s quiet edge (shorter than a part) are not cut."""
    rms, sp = song
    occ = [sp[2], sp[4], sp[6]]
    assert trim_quiet_parts(occ, rms, resolution=0.5) == occ
    quiet = [(sp[0][0], sp[1][1]), sp[4], sp[6]]
    assert trim_quiet_parts(quiet, rms, resolution=0.5) == quiet
    rms2, sp2 = _render(["free", "verse", "chorus", "blip", "chorus", "verse", "chorus"], seed=1)
    edge = [sp2[2], (sp2[3][0], sp2[4][1]), sp2[6]]
    assert trim_quiet_parts(edge, rms2, resolution=0.5) == edge


def test_prechorus_as_loud_as_the_chorus_stays():
    """Guard: a pre-chorus as loud as its chorus has no level step; the occurrence stays whole (the chord-based
    splits handle it), while the verse before it, 3 dB quieter, is cut off."""
    rms, sp = _render(["free", "verse", "pre", "chorus", "verse", "pre", "chorus", "free"], seed=2)
    occ = [(sp[2][0], sp[3][1]), (sp[5][0], sp[6][1])]
    assert trim_quiet_parts(occ, rms, resolution=0.5) == occ
    merged = [(sp[1][0], sp[3][1]), (sp[5][0], sp[6][1])]
    out = trim_quiet_parts(merged, rms, resolution=0.5)
    assert out[0] == (pytest.approx(sp[2][0], abs=1.0), sp[3][1]) and out[1] == merged[1]
