"""A half chorus joined to a full one, cut where the song's chorus-start timbre says (session 5), on synthetic
audio."""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks import SR, _section

from reviewer.audio_io import Audio
from reviewer.detect.hooks import _grid_track, _split_multiples, chorus_start_cut, load_song

CHORUS = (3, 4, 0, 5, 3, 4, 0, 5)  # two equal 4-bar phrases: a half chorus + a chorus is three equal phrases


def _crash(n: int, rng: np.random.Generator) -> np.ndarray:
    """A cymbal crash: bright noise decaying over about a second."""
    y = np.diff(rng.standard_normal(n + 1)) * np.exp(-np.arange(n) / (0.6 * SR))
    return 0.5 * y / np.max(np.abs(y))


def song_audio(parts, *, chorus, crash: bool = False, seed: int = 0, source: str = "half"):
    """``parts`` = kinds verse / chorus / half / quiet_half (the chorus's first half at the verse's level, no
    drums) / free; every chorus and (loud) half chorus opens with a crash when ``crash``. Returns the song
    (loaded, features extracted) and each part's (start, end)."""
    rng = np.random.default_rng(seed)
    verse_m, chorus_m = rng.integers(0, 7, 16), rng.integers(2, 9, 8)
    ys, spans, t = [], [], 0.0
    for kind in parts:
        if kind in ("chorus", "half", "quiet_half"):
            loud = kind != "quiet_half"
            y = _section(chorus if kind == "chorus" else chorus[:4], chorus_m, key=0, gain=1.0 if loud else 0.4,
                         drums=loud, rng=rng)
            if crash and loud:
                y[:SR * 2] += _crash(SR * 2, rng)
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
    return load_song(Audio.from_array(y, SR, source=f"{source}-{seed}"), key=source), spans


def _song(parts, *, crash: bool, seed: int = 0):
    """The MFCC grid (0.5 s) of :func:`song_audio` with this file's chorus, and each part's (start, end)."""
    song, spans = song_audio(parts, chorus=CHORUS, crash=crash, seed=seed)
    return _grid_track(song, "mfcc", 0.5), spans


@pytest.mark.parametrize("order", ["half+full", "full+half"])
def test_half_chorus_joined_to_a_full_one_is_cut_at_the_crash(order):
    """Chroma cannot say where a half + full chorus (three equal phrases) splits; the crash that opens the
    song's other choruses (absent half a chorus in) can: the cut lands on the full chorus's start, and
    without a cut the equal split (or none) would be a phrase off."""
    tail = ["half", "chorus"] if order == "half+full" else ["chorus", "half"]
    mfcc, spans = _song(["free", "verse", "chorus", "verse", "chorus", "verse"] + tail + ["free"], crash=True)
    refs = [spans[2], spans[4]]
    joined = (spans[6][0], spans[7][1])
    true_cut = spans[7][0]
    assert chorus_start_cut(joined, refs, mfcc, resolution=0.5) == pytest.approx(true_cut, abs=1.0)
    out = _split_multiples(refs + [joined], resolution=0.5, timbre=mfcc)
    assert out[:2] == refs and len(out) == 4
    assert out[2][1] == pytest.approx(true_cut, abs=1.0) and out[3] == (out[2][1], joined[1])


def test_no_chorus_start_signature_no_cut():
    """Choruses with no mark at their start (no crash): the song does not say where the full chorus starts,
    so nothing is cut."""
    mfcc, spans = _song(["free", "verse", "chorus", "verse", "chorus", "verse", "half", "chorus", "free"], crash=False)
    assert chorus_start_cut((spans[6][0], spans[7][1]), [spans[2], spans[4]], mfcc, resolution=0.5) is None
