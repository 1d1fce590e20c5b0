"""Intro detector: failure causes found on the tuning libraries in session 4, each on synthetic data.

* a copy talked over at its start: of its two siblings' links, one (to a shortened copy, matched from a
  self-similar phrase) carried a start *inside* the matched copy, and the median of the two stayed late (ends alike);
* a cue, then the theme at another speed, in one coarse run: the theme lay 1 s off the cue's diagonal, beyond the
  0.5 s its refinement searched, and was lost (a shortened copy then matched nothing but a phrase's repeat);
* a shortened copy whose ending is short and talked over (or faded, then cut into the end credits) matched its
  siblings up to the cut only: the copy ended 4–7 s early.
"""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.detect import align
from reviewer.detect.intro import IntroConfig, detect_intros
from reviewer.detect.intro_bounds import carry_boundaries
from reviewer.detect.intro_graph import Link
from test_intro import as_episodes, babble, episode, room, speed, tune
from test_intro_bounds_cues import _item


def test_a_link_that_carries_a_start_inside_the_matched_copy_has_no_say():
    """Episode 0's copy (from 137.7 s) is talked over for 4 s: it matches from 141.85 s. Episode 1's clean copy
    carries the start back to 137.7 s; the chained link to episode 2's shortened copy begins with a phrase matched
    to its repeat, and would put the start at 146.9 s, after the matched start: its median with the good one
    stayed after 141.85 s, so nothing moved."""
    l01 = Link(0, 1, (141.85, 183.55), (35.44, 77.14), 0.85)
    l02 = Link(0, 2, (150.35, 186.15), (71.95, 89.27), 0.81)
    l12 = Link(1, 2, (31.32, 52.0), (68.5, 89.25), 0.9)
    it = _item({0: ((141.85, 183.55), [(l01, 0), (l02, 0)]), 1: ((31.32, 77.14), [(l01, 1), (l12, 0)]),
                2: ((68.5, 89.27), [(l02, 1), (l12, 1)])})
    out = carry_boundaries(it, [], [300.0] * 3)
    assert out[0][0] == pytest.approx(141.85 - (35.44 - 31.32), abs=0.05)
    assert out[1][0] == pytest.approx(31.32) and out[2][0] == pytest.approx(68.5)
    # without the contradiction rule (a tolerance wider than the error) the start stays late
    assert carry_boundaries(it, [], [300.0] * 3, contradict=10.0)[0][0] == pytest.approx(141.85)


def _profile(y: np.ndarray) -> align.Profile:
    return align.spectral_profile(y + 0.003 * np.random.default_rng(0).standard_normal(y.size).astype(np.float32),
                                  align.SR)


def test_theme_right_after_a_cue_found_off_the_cue_s_diagonal():
    """Both episodes play a cue, then the theme: right after it in A, after a 0.8 s pause in B, and 2 % faster in B.
    The coarse search holds both in one run on the cue's diagonal; the theme lies 0.8 s off it."""
    rng = np.random.default_rng(0)
    cue = tune(np.random.default_rng(72), 16.0, drums=False)
    theme = tune(np.random.default_rng(73), 12.0)
    pa = _profile(np.concatenate([babble(rng, 20), cue, theme, babble(rng, 20)]))
    pb = _profile(np.concatenate([babble(rng, 30), cue, room(0.8), speed(theme, 1.02), babble(rng, 20)]))
    ms = align.match_pair(pa, pb)
    assert any(abs(m.a_start - 20.0) < 1.0 and abs(m.b_start - 30.0) < 1.0 for m in ms)  # the cue
    hit = [m for m in ms if abs(m.a_start - 36.0) < 1.0 and abs(m.a_end - 48.0) < 1.0]
    assert hit, [(m.a_start, m.a_end, m.b_start, m.b_end) for m in ms]
    m = hit[0]
    assert abs(m.b_start - (m.a_start - 36.0) / 1.02 - 46.8) < 0.3 and m.ratio == pytest.approx(1 / 1.02, abs=0.01)


def _shortened_series(rng):
    theme = tune(np.random.default_rng(81), 30.0)
    short = np.concatenate([theme[: 14 * 8000], theme[25 * 8000 :]])  # head + first phrase, then the 5 s ending
    talked = short.copy()
    talked[-28000:-8000] += 2.0 * babble(rng, 2.5)  # a line over the ending, until 1 s before the cut
    return [
        episode(rng, [("s", babble(rng, 25)), ("intro", theme), ("p", room(1.0)), ("s", babble(rng, 30))]),
        episode(rng, [("s", babble(rng, 40)), ("intro", theme * 0.7), ("p", room(0.8)), ("s", babble(rng, 30))]),
        episode(rng, [("intro", speed(theme, 1.02)), ("p", room(1.2)), ("s", babble(rng, 40))]),
        episode(rng, [("s", babble(rng, 30)), ("intro", talked), ("s", babble(rng, 40))]),  # cut straight in
    ]


def test_resumed_ending_of_a_shortened_copy_found_after_the_cut():
    rng = np.random.default_rng(3)
    eps = _shortened_series(rng)
    pa, pb = _profile(eps[3][0]), _profile(eps[0][0])
    head = [m for m in align.match_pair(pa, pb) if abs(m.a_start - 30.0) < 1.0]
    assert head and abs(head[0].a_end - 44.0) < 1.0  # the head + first phrase only: the ending is no match
    r = align.resumed_after(pa, pb, head[0])
    assert r is not None and abs(r.a_start - 44.0) < 0.6 and r.a_end > 47.0
    assert abs(r.b_start - (r.a_start - 44.0) - 50.0) < 0.3  # B skipped the 11 s the cut left out
    # after a whole copy (a pause follows it) nothing resumes
    whole = [m for m in align.match_pair(pb, _profile(eps[1][0])) if abs(m.a_start - 25.0) < 1.0]
    assert whole and align.resumed_after(pb, _profile(eps[1][0]), whole[0]) is None


def test_shortened_copy_with_a_talked_over_ending_ends_at_its_end():
    rng = np.random.default_rng(3)
    eps = _shortened_series(rng)
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    for (_, span), p in zip(eps, preds):
        assert p.start is not None and abs(p.start - span[0]) <= 1.0 and abs(p.end - span[1]) <= 1.0, \
            (span, p.start, p.end)


def test_a_link_that_carries_an_end_inside_the_matched_copy_has_no_say():
    """The mirror case: episode 0's copy is talked over at its end (matched until 180 s, the theme ends at 184 s);
    episode 1's clean copy carries the end on; the link to episode 2 stops 10 s earlier and carries episode 2's
    end to 172 s, inside the match: their median (178 s) moved nothing."""
    l01 = Link(0, 1, (140.0, 180.0), (30.0, 70.0), 0.85)  # episode 1's copy ends at 74 s
    l02 = Link(0, 2, (140.0, 170.0), (60.0, 90.0), 0.81)  # episode 2's copy ends at 92 s
    l12 = Link(1, 2, (30.0, 74.0), (48.0, 92.0), 0.9)
    it = _item({0: ((140.0, 180.0), [(l01, 0), (l02, 0)]), 1: ((30.0, 74.0), [(l01, 1), (l12, 0)]),
                2: ((48.0, 92.0), [(l02, 1), (l12, 1)])})
    out = carry_boundaries(it, [], [300.0] * 3)
    assert out[0][1] == pytest.approx(184.0, abs=0.05), out[0]
    assert out[1][1] == pytest.approx(74.0) and out[2][1] == pytest.approx(92.0)
    assert carry_boundaries(it, [], [300.0] * 3, contradict=100.0)[0][1] == pytest.approx(180.0)
