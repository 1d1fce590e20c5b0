"""Intro detector, session 6: a cue played right before the theme, with no pause, in two episodes.

Tuning seed 105 Night_Ward_2: E01 and E02 play the same 12 s cue straight into the theme; E01 plays that cue once
more later on. The E01-E02 link covers cue + theme; in E02 the cue is another recurring item (linked to E01's later
cue), so E02's copy starts at the theme, and the link's lead-in is no theme in E01 either, but the lead-in (12 s)
was longer than the 2 s a partner's cold-open bed may cut, so E01's intro started at the cue (−12.1 s).
:func:`reviewer.detect.intro_bounds.carry_boundaries` now cuts a longer lead-in when a second link starts there.
"""

from __future__ import annotations

import numpy as np

from reviewer.detect.intro import IntroConfig, detect_intros
from test_intro import SR, as_episodes, babble, episode, room, tune


def test_cue_played_into_the_theme_in_two_episodes_is_no_intro():
    rng = np.random.default_rng(61)
    theme = tune(np.random.default_rng(62), 24.0)
    cue = tune(np.random.default_rng(63), 12.0, drums=False)
    eps = [
        episode(rng, [("s", babble(rng, 20)), ("c", cue), ("intro", theme), ("p", room(1.0)), ("s", babble(rng, 25)),
                      ("c", cue), ("s", babble(rng, 15))]),
        episode(rng, [("s", babble(rng, 35)), ("c", cue), ("intro", theme), ("p", room(1.0)), ("s", babble(rng, 30))]),
        episode(rng, [("s", babble(rng, 15)), ("p", room(1.0)), ("intro", theme), ("p", room(1.0)), ("s", babble(rng, 40))]),
        episode(rng, [("s", babble(rng, 30)), ("p", room(1.0)), ("intro", theme), ("p", room(1.0)), ("s", babble(rng, 30))]),
    ]
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    for (_, span), p in zip(eps, preds):
        assert p.start is not None
        assert abs(p.start - span[0]) <= 1.0 and abs(p.end - span[1]) <= 1.0, (span, p.start, p.end)
