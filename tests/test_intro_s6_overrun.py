"""Intro detector, session 6: two copies cut hard at the same point keep matching each other into the next scene.

Tuning seed 13 Kitchen_Rivals_2: two shortened copies (E04, E05) are both cut hard into a scene whose set sounds
alike (the same ambience, lines over it); their link runs 1.4 s past the cut, while the links to the full copies
stop at the pause where the theme's sound stops. Their node ends, snapped to the next pause, were +3.2/+3.6 s late,
and carried the full copies' ends (E01 +1.1 s, E03 +1.4 s) too.
:func:`reviewer.detect.intro_bounds.trim_shared_overruns` ends such links at the pause.
"""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.detect import align
from reviewer.detect.intro_bounds import carry_boundaries, copy_pauses, trim_shared_overruns
from reviewer.detect.intro_graph import Link, node_interval
from test_intro import SR, babble, episode, room, tune
from test_intro_bounds_cues import _item


def _ambience(seconds: float) -> np.ndarray:
    """A scene's room sound right after a hard cut: ~25 dB under the theme."""
    return (0.006 * np.random.default_rng(7).standard_normal(int(seconds * SR))).astype(np.float32)


def _profile(parts, seed: int) -> align.Profile:
    y, _ = episode(np.random.default_rng(seed), parts)
    return align.spectral_profile(y, align.SR)


def _pauses(profs):
    def pauses(e, s, t):
        return copy_pauses(profs[e].level_db, s, t, hop=profs[e].hop)

    return pauses


def _two_cut_copies():
    """Episodes 0 and 1: the theme's first 20 s cut hard into a scene (0.7 s of ambience, then lines); episode 2: the
    full theme (30 s) then a pause. Episodes 0 and 1 match each other 1.8 s past the cut; the full copy's links
    stop at it (episode 2's copy plays on differently)."""
    rng = np.random.default_rng(3)
    theme = tune(np.random.default_rng(21), 30.0)
    p0 = _profile([("s", babble(rng, 20)), ("intro", theme[: 20 * SR]), ("s", _ambience(0.7)), ("s", babble(rng, 20))], 1)
    p1 = _profile([("s", babble(rng, 50)), ("intro", theme[: 20 * SR]), ("s", _ambience(0.7)), ("s", babble(rng, 20))], 2)
    p2 = _profile([("s", babble(rng, 10)), ("intro", theme), ("s", room(1.0)), ("s", babble(rng, 20))], 3)
    l01 = Link(0, 1, (20.0, 41.8), (50.0, 71.8), 0.85)
    l02 = Link(0, 2, (20.0, 40.0), (10.0, 30.0), 0.8)
    l12 = Link(1, 2, (50.0, 70.05), (10.0, 30.05), 0.8)
    item = _item({0: ((20.0, 41.8), [(l01, 0), (l02, 0)]), 1: ((50.0, 71.8), [(l01, 1), (l12, 0)]),
                  2: ((10.0, 30.05), [(l02, 1), (l12, 1)])})
    return item, [p0, p1, p2], l01


def test_link_through_the_cut_of_both_copies_ends_at_the_pause():
    item, profs, l01 = _two_cut_copies()
    before = carry_boundaries(item, [], [300.0] * 3)
    assert before[0][1] == pytest.approx(41.8)  # without the trim the node ends in the next scene's first line
    assert trim_shared_overruns(item, _pauses(profs), hop=profs[0].hop) == 1
    assert l01.a[1] == pytest.approx(40.0, abs=0.3)
    assert l01.b[1] == pytest.approx(70.0, abs=0.3)
    out = carry_boundaries(item, [], [300.0] * 3, pauses=_pauses(profs), hop=profs[0].hop)
    assert out[0][1] == pytest.approx(40.0, abs=0.3)
    assert out[1][1] == pytest.approx(70.0, abs=0.3)
    assert node_interval(item.nodes[2])[1] == pytest.approx(30.05)


def test_break_before_the_last_hit_crossed_by_most_links_is_kept():
    """A theme that stops for 0.5 s before its last hit (38-38.5 s): two full copies match through the break, one
    copy cut hard at the break stops there. The break is the theme's own: nothing is cut."""
    rng = np.random.default_rng(5)
    theme = tune(np.random.default_rng(21), 20.0)
    hit = tune(np.random.default_rng(22), 1.5)
    full = np.concatenate([theme[: 18 * SR], room(0.5), hit])
    p0 = _profile([("s", babble(rng, 20)), ("intro", full), ("s", room(1.0)), ("s", babble(rng, 20))], 1)
    p1 = _profile([("s", babble(rng, 50)), ("intro", full), ("s", room(1.0)), ("s", babble(rng, 20))], 2)
    p2 = _profile([("s", babble(rng, 10)), ("intro", full), ("s", room(1.0)), ("s", babble(rng, 20))], 3)
    p3 = _profile([("s", babble(rng, 30)), ("intro", theme[: 18 * SR]), ("s", _ambience(0.7)), ("s", babble(rng, 20))], 4)
    l01 = Link(0, 1, (20.0, 40.0), (50.0, 70.0), 0.9)
    l02 = Link(0, 2, (20.0, 40.0), (10.0, 30.0), 0.9)
    l03 = Link(0, 3, (20.0, 38.0), (30.0, 48.0), 0.85)
    l12 = Link(1, 2, (50.0, 70.0), (10.0, 30.0), 0.9)
    item = _item({0: ((20.0, 40.0), [(l01, 0), (l02, 0), (l03, 0)]), 1: ((50.0, 70.0), [(l01, 1), (l12, 0)]),
                  2: ((10.0, 30.0), [(l02, 1), (l12, 1)]), 3: ((30.0, 48.0), [(l03, 1)])})
    profs = [p0, p1, p2, p3]
    q = copy_pauses(p0.level_db, 20.0, 40.0, hop=p0.hop)
    assert q[int(38.2 / p0.hop)]  # the break is a pause of the copy
    assert trim_shared_overruns(item, _pauses(profs), hop=p0.hop) == 0
    assert (l01.a, l02.a) == ((20.0, 40.0), (20.0, 40.0))
