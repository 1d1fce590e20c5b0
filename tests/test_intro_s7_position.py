"""Intro detector, session 7: a themeless series' scene cue heard once, mid-episode, in most episodes.

Tuning seed 108 Desert_Frontier_2 (a series without a theme): its 15.5 s scene cue plays once in 4 of 5 episodes, at
0.40-0.51 of each, and passed every repetition rule (in 4 of 5 episodes, never twice, >= 10 s): the "intro" of 4
episodes. A theme opens the show (after a cold open), so some copy of it is early; now an item whose every copy in a
whole episode starts past ``IntroConfig.max_first_position`` of its episode is a mid-episode cue
(:func:`reviewer.detect.intro_choice.rate_item`).
"""

from __future__ import annotations

import numpy as np

from reviewer.detect.intro import IntroConfig, detect_intros
from test_intro import SR, as_episodes, babble, episode, room, tune


def _cue_series():
    rng = np.random.default_rng(71)
    cue = tune(np.random.default_rng(72), 13.0, drums=False)
    return [episode(rng, [("s", babble(rng, lead)), ("p", room(0.4)), ("c", cue), ("p", room(0.6)),
                          ("s", babble(rng, tail))])
            for lead, tail in ((28, 22), (25, 26), (31, 20), (27, 24))]


def test_a_cue_heard_once_mid_episode_in_every_episode_is_no_intro():
    eps = _cue_series()
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    assert all(p.start is None for p in preds), [(p.start, p.end) for p in preds]
    # without the rule (1.0), the cue passes every repetition rule and is every episode's "intro"
    loose = detect_intros(as_episodes(eps), config=IntroConfig(max_first_position=1.0))
    assert all(p.start is not None for p in loose)


def test_a_theme_late_in_most_episodes_but_early_in_one_is_kept():
    rng = np.random.default_rng(73)
    theme = tune(np.random.default_rng(74), 20.0)
    eps = [episode(rng, [("s", babble(rng, lead)), ("p", room(0.8)), ("intro", theme), ("p", room(0.8)),
                         ("s", babble(rng, tail))])
           for lead, tail in ((32, 20), (6, 40), (30, 22), (34, 18))]
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    for (_, span), p in zip(eps, preds):
        assert p.start is not None
        assert abs(p.start - span[0]) <= 1.0 and abs(p.end - span[1]) <= 1.0, (span, p.start, p.end)


def test_a_theme_after_long_cold_opens_is_kept_when_the_scorer_hears_it():
    """Seeds 53 / 59 (retired into tuning, session 7): themes after cold opens of 61-145 s started past 0.36 / 0.42
    of every episode, the position rule rejected them and 8 episodes got no intro. With a scorer that hears the
    item as theme music (mean >= ``position_trust_prob``) the rule does not apply; a themeless series' cue is left
    to the scorer veto (``test_intro_s7_veto``)."""
    from test_intro_s7_veto import _series  # noqa: PLC0415 (a test helper)
    from test_intro_scorer_s4 import ColumnScorer  # noqa: PLC0415

    theme = tune(np.random.default_rng(75), 20.0)
    leads = (30.0, 36.0, 33.0, 38.0)  # every copy starts at 0.37-0.47 of its ~81 s episode
    heard = detect_intros(_series(theme, leads, scored=True), config=IntroConfig(), scorer=ColumnScorer())
    for lead, p in zip(leads, heard):
        assert p.start is not None, [(q.start, q.end) for q in heard]
        assert abs(p.start - (lead + 0.6)) <= 1.0 and abs(p.end - (lead + 20.6)) <= 1.0, (lead, p.start, p.end)
    # without a scorer, or one that does not hear it, the rule rejects the late item as a mid-episode cue
    assert all(p.start is None for p in detect_intros(_series(theme, leads, scored=True), config=IntroConfig()))
    unheard = detect_intros(_series(theme, leads, scored=False), config=IntroConfig(), scorer=ColumnScorer())
    assert all(p.start is None for p in unheard)
