"""Intro detector, session 7: the scorer vetoes a themeless series' scene cue that passes every repetition rule.

Tuning seeds 112 (Harbor_Watch_3: a 15.3 s cue once in all 5 episodes, earliest at 0.27 of its episode) and 113
(Campus_Lab_2: once in 4 of 5, one copy at 0.10): the cue recurs exactly like a theme that follows a cold open, and
with siblings the trained scorer only broke near ties, so it was every episode's "intro". The shipped scorer gives
such a cue ~0.00 mean probability and true themes 0.9+; now, with a scorer, an item whose copies' mean probability is
under ``IntroConfig.scorer_veto`` is rejected (:func:`reviewer.detect.intro_choice.rate_item`).
"""

from __future__ import annotations

import numpy as np

from reviewer.detect.intro import IntroConfig, detect_intros
from test_intro import SR, babble, room, tune
from test_intro_scorer_s4 import ColumnScorer, _episode


def _series(music, leads, scored: bool):
    """Episodes with one copy of ``music`` after a first scene of ``leads[k]`` s; the scorer's column is 1 on it when
    ``scored`` (a theme), 0 everywhere otherwise (a scene cue)."""
    rng = np.random.default_rng(81)
    eps = []
    for k, lead in enumerate(leads):
        parts = [babble(rng, lead), room(0.6), music, room(0.6), babble(rng, 60.0 - lead)]
        a = lead + 0.6
        eps.append(_episode(f"e{k}", "S", parts, [(a, a + music.size / SR)] if scored else []))
    return eps


def _spans(preds):
    return [(p.start, p.end) for p in preds]


def test_a_cue_the_scorer_hears_as_no_theme_is_vetoed():
    cue = tune(np.random.default_rng(82), 14.0, drums=False)
    eps = _series(cue, (8.0, 20.0, 14.0, 24.0), scored=False)  # one copy early (0.12): the position rule keeps it
    preds = detect_intros(eps, config=IntroConfig(), scorer=ColumnScorer())
    assert all(p.start is None for p in preds), _spans(preds)
    assert any("the series has no theme" in c["reason"] for p in preds for c in p.evidence["candidates"])
    # without the veto the cue passes every repetition rule and is every episode's "intro"
    loose = detect_intros(eps, config=IntroConfig(scorer_veto=0.0), scorer=ColumnScorer())
    assert all(p.start is not None for p in loose), _spans(loose)
    # without a scorer there is no veto either
    plain = detect_intros(eps, config=IntroConfig())
    assert all(p.start is not None for p in plain), _spans(plain)


def test_a_theme_the_scorer_hears_as_intro_is_kept():
    theme = tune(np.random.default_rng(83), 20.0)
    eps = _series(theme, (8.0, 20.0, 14.0, 24.0), scored=True)
    preds = detect_intros(eps, config=IntroConfig(), scorer=ColumnScorer())
    for lead, p in zip((8.0, 20.0, 14.0, 24.0), preds):
        assert p.start is not None and p.method == "repetition", _spans(preds)
        assert abs(p.start - (lead + 0.6)) <= 1.0 and abs(p.end - (lead + 20.6)) <= 1.0, (lead, p.start, p.end)
