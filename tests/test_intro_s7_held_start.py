"""Intro detector, session 7: a cold open loud up to the theme, with a room-tone gap between its last lines.

Tuning seed 110 Harbor_Watch_2 E03: every link starts the copy at 37.3 s (the theme at 37.35 s), each where its
partner's own settled start is; the cold open's ambience runs loud (-13.5 dB: neither room tone nor 16 dB under the
copy) up to the theme, so :func:`reviewer.detect.intro_bounds.snap_to_pauses` found no pause right before it and moved
the start back to the last room-tone pause within 4 s: the gap between the cold open's last two lines (-3.85 s).
Now a start that two links begin at, each at its partner's own start
(:func:`reviewer.detect.intro_bounds.sibling_held_starts`), is not moved back.
"""

from __future__ import annotations

import numpy as np

from reviewer.detect.intro import IntroConfig, detect_intros
from test_intro import SR, as_episodes, babble, episode, room, tune


def _series():
    rng = np.random.default_rng(91)
    theme = tune(np.random.default_rng(92), 24.0)
    bed = rng.standard_normal(int(3.6 * SR)).astype(np.float32) * 0.2 * float(np.std(theme))  # ~14 dB under the theme
    last = bed.copy()
    last[: int(2.8 * SR)] += babble(rng, 2.8)  # the cold open's last line over its bed, then 0.8 s of the bed alone
    first = [("s", babble(rng, 12)), ("p", room(0.8)), ("s", last), ("intro", theme), ("p", room(0.8)), ("s", babble(rng, 30))]
    return [
        episode(rng, first),
        episode(rng, [("s", babble(rng, 20)), ("p", room(0.8)), ("intro", theme), ("p", room(0.8)), ("s", babble(rng, 25))]),
        episode(rng, [("s", babble(rng, 10)), ("p", room(0.8)), ("intro", theme), ("p", room(0.8)), ("s", babble(rng, 30))]),
        episode(rng, [("s", babble(rng, 26)), ("p", room(0.8)), ("intro", theme), ("p", room(0.8)), ("s", babble(rng, 20))]),
    ]


def test_a_start_the_siblings_fix_is_not_moved_back_to_a_gap_in_the_cold_open():
    eps = _series()
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    for (_, span), p in zip(eps, preds):
        assert p.start is not None and abs(p.start - span[0]) <= 1.0 and abs(p.end - span[1]) <= 1.0, (span, p.start, p.end)
    # without it, the start moves back to the room-tone gap 3.6 s before the theme
    old = detect_intros(as_episodes(eps), config=IntroConfig(hold_sibling_starts=False))[0]
    assert old.start is not None and old.start < eps[0][1][0] - 3.0, (eps[0][1], old.start)


def test_copies_talked_over_at_their_start_still_move_back_to_the_pause_before_them():
    rng = np.random.default_rng(93)
    theme = tune(np.random.default_rng(94), 24.0)

    def over(y):  # a line over the copy's first 3.5 s: every link starts after it
        y = y.copy()
        line = babble(rng, 3.5)
        y[int(0.3 * SR) : int(3.8 * SR)] += line * (2.0 * float(np.std(theme)) / float(np.std(line)))
        return y

    eps = [episode(rng, [("s", babble(rng, lead)), ("p", room(0.8)), ("intro", over(theme)), ("p", room(0.8)),
                         ("s", babble(rng, tail))])
           for lead, tail in ((20, 25), (12, 30), (26, 20))]
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    for (_, span), p in zip(eps, preds):
        assert p.start is not None and abs(p.start - span[0]) <= 1.0 and abs(p.end - span[1]) <= 1.0, (span, p.start, p.end)
        # the matches start after the line: the pause before the copy gives the start
        assert min(c["start"] for c in p.evidence["candidates"]) > span[0] + 1.5
