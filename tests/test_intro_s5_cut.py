"""Intro detector, session 5 round 2: an end carried past a hard cut, on synthetic audio.

A copy cut hard into the next scene stops sounding where its match ends; a partner whose copy repeats its last
bar (a shortened, faded copy matched one bar off) carries the end a bar further. With a third link dropped as a
contradiction, the two-link median put the end 0.9 s into the next scene, and the pause snap then took the gap
after the scene's first line (tuning seed 101 Campus_Lab_2 E01, +2.98 s; seed 104 Star_Freighter_2 E02, +2.94 s).
:func:`reviewer.detect.intro_bounds.carry_boundaries` now never carries an end past a pause of this copy that
begins where its match ends and is over before the carried end.
"""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.detect import align
from reviewer.detect.intro_bounds import carry_boundaries, copy_pauses, sound_stops
from reviewer.detect.intro_graph import Link
from test_intro import SR, babble, episode, room, tune
from test_intro_bounds_cues import _item


def _levels(parts) -> align.Profile:
    y, _ = episode(np.random.default_rng(4), parts)
    return align.spectral_profile(y, align.SR)


def _ambience(seconds: float) -> np.ndarray:
    """A scene's room sound right after a hard cut: ~25 dB under the theme."""
    return (0.006 * np.random.default_rng(7).standard_normal(int(seconds * SR))).astype(np.float32)


def _item_ending_at_40():
    """Episode 0's copy is matched 20-40 s; both partners' links stop 1.2 s before their copies' ends (one repeated
    bar off), so both carry episode 0's end to 41.2 s."""
    l01 = Link(0, 1, (20.0, 40.0), (50.0, 70.0), 0.85)  # episode 1's copy ends at 71.2 s
    l02 = Link(0, 2, (20.0, 40.0), (10.0, 30.0), 0.85)  # episode 2's copy ends at 31.2 s
    l12 = Link(1, 2, (50.0, 71.2), (10.0, 31.2), 0.9)
    return _item({0: ((20.0, 40.0), [(l01, 0), (l02, 0)]), 1: ((50.0, 71.2), [(l01, 1), (l12, 0)]),
                  2: ((10.0, 31.2), [(l02, 1), (l12, 1)])})


def _carry(prof: align.Profile) -> tuple[float, float]:
    def pauses(e, s, t):
        if e == 0:
            return copy_pauses(prof.level_db, s, t, hop=prof.hop)
        return np.zeros(4000, bool)

    return carry_boundaries(_item_ending_at_40(), [], [300.0] * 3, pauses=pauses, hop=prof.hop)[0]


def test_end_not_carried_past_the_pause_where_a_hard_cut_copy_stops():
    """The theme (20-40 s) cuts hard to a scene: 0.7 s of its ambience, then a line. The carried end (41.2 s) lies
    in that line; the pause that begins where the copy's match ends says the copy stopped at 40 s."""
    rng = np.random.default_rng(1)
    prof = _levels([("s", babble(rng, 20)), ("intro", tune(np.random.default_rng(21), 20.0)),
                    ("s", _ambience(0.7)), ("s", babble(rng, 20))])
    q = copy_pauses(prof.level_db, 20.0, 40.0, hop=prof.hop)
    assert sound_stops(q, 40.0, 41.2, hop=prof.hop)
    assert _carry(prof)[1] == pytest.approx(40.0)
    # without the pauses the end is carried into the scene's first line
    assert carry_boundaries(_item_ending_at_40(), [], [300.0] * 3)[0][1] == pytest.approx(41.2)


def test_end_still_carried_over_a_line_or_a_long_pause():
    """The same links; the copy's end talked over (no pause), or a fade into a pause that runs past the carried
    end: the end is carried as before."""
    rng = np.random.default_rng(2)
    theme = tune(np.random.default_rng(21), 21.2)
    talked = theme.copy()
    talked[int(20.0 * SR):] += babble(rng, 1.2)[: talked.size - int(20.0 * SR)] * 2.0
    prof = _levels([("s", babble(rng, 20)), ("intro", talked), ("s", babble(rng, 20))])
    assert _carry(prof)[1] == pytest.approx(41.2)
    prof = _levels([("s", babble(rng, 20)), ("intro", tune(np.random.default_rng(21), 20.0)), ("s", room(3.0)),
                    ("s", babble(rng, 20))])
    assert _carry(prof)[1] == pytest.approx(41.2)
