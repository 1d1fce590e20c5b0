"""Choruses left out of the chosen candidate found again by their chords and level, on synthetic audio."""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks import SR, _section

from reviewer.audio_io import Audio
from reviewer.detect.hooks import add_missed_occurrences, analyse_song, load_song

CHORUS = (3, 4, 0, 5, 1, 6, 2, 5)  # 8 bars, 16 s


@pytest.fixture(scope="module")
def quieter_last_choruses():
    """intro, verse over the chorus's chords (quiet), chorus, verse, chorus, bridge, two last choruses
    ~2.5 dB quieter than the first ones (a ballad's ending), outro."""
    rng = np.random.default_rng(5)
    verse_m, chorus_m, other_m = rng.integers(0, 7, 16), rng.integers(2, 9, 16), rng.integers(0, 7, 16)
    plan = [("other", 0.5), ("verse_cc", 0.35), ("chorus", 1.0), ("verse", 0.4), ("chorus", 1.0), ("other", 0.5),
            ("chorus", 0.75), ("chorus", 0.75), ("other", 0.4)]
    ys, starts, t = [], [], 0.0
    for kind, gain in plan:
        if kind == "chorus":
            y = _section(CHORUS, chorus_m, key=0, gain=gain, drums=True, rng=rng)
        elif kind == "verse_cc":  # the chorus's chords under the verse's melody, no drums
            y = _section(CHORUS, verse_m, key=0, gain=gain, drums=False, rng=rng)
        elif kind == "verse":
            y = _section((0, 5, 1, 4, 0, 5, 1, 4), verse_m, key=0, gain=gain, drums=False, rng=rng)
        else:
            y = _section((6, 2, 6, 2), other_m, key=3, gain=gain, drums=False, rng=rng)
        starts.append(t)
        ys.append(y)
        t += len(y) / SR
    y = np.concatenate(ys)
    y = (0.3 * y / np.max(np.abs(y)) + 0.002 * rng.standard_normal(y.size)).astype(np.float32)
    return analyse_song(load_song(Audio.from_array(y, SR, source="missed"), key="missed")), starts


def test_choruses_left_out_of_the_candidate_are_added(quieter_last_choruses):
    """The candidate holds the first two choruses; the two quieter last ones repeat them and are added,
    the quiet verse over the chorus's chords is not."""
    sa, starts = quieter_last_choruses
    c1, c2, c3, c4 = starts[2], starts[4], starts[6], starts[7]
    out = add_missed_occurrences([(c1, c1 + 16.0), (c2, c2 + 16.0)], sa.analysis.chroma, sa.rms, resolution=0.5)
    assert len(out) == 4
    assert [abs(s - c) for (s, _), c in zip(out, (c1, c2, c3, c4))] == [pytest.approx(0.0, abs=1.0)] * 4
    assert not any(s < c1 - 1.0 for s, _ in out)  # the verse over the chorus's chords stays out
    # the last choruses are ~2.5 dB quieter: with a 2 dB level tolerance they are not choruses
    assert len(add_missed_occurrences([(c1, c1 + 16.0), (c2, c2 + 16.0)], sa.analysis.chroma, sa.rms, resolution=0.5,
                                      max_level_gap_db=2.0)) == 2
