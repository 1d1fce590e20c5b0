"""Intro detector, session 7: a shortened copy at 0 s whose ending is talked over leaves under 2 s of it clean.

Tuning seed 111 Night_Ward_2 E02 (and the same cause on seed 109 Campus_Lab E05): a shortened copy at 0 s (the
theme's first 12 s, then its last 6.4 s) with a line spoken from 1.9 s after the cut to 0.5 s before the end. Every link
stopped at the cut (12.05 s), the resumed ending after it (:func:`reviewer.detect.intro_graph.resumed_ending`) was
searched for runs of >= 2 s, and only ~1.9 s of it is clean: the intro ended at the cut, 6.4 s early. Now runs of
``AlignConfig.resumed_min_len`` (1.5 s) are searched, with the same refined score (>= ``min_score``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from reviewer.detect.align import AlignConfig
from reviewer.detect.intro import IntroConfig, detect_intros
from test_intro import SR, as_episodes, babble, episode, room, tune


def _series(*, talked_over: bool):
    rng = np.random.default_rng(81)
    theme = tune(np.random.default_rng(82), 30.0)
    head, tail = theme[: 12 * SR], theme[int(23.6 * SR) :]
    short = np.concatenate([head, tail]).copy()
    if talked_over:  # a line from 1.6 s after the cut to 0.5 s before the end, louder than the theme
        line = babble(rng, tail.size / SR - 2.1)
        at = head.size + int(1.6 * SR)
        short[at : at + line.size] += line * (2.0 * np.std(theme) / max(np.std(line), 1e-9))
    else:  # the copy stops at the cut: a scene follows straight away
        short = head
    return [
        episode(rng, [("intro", short), ("s", babble(rng, 30))]),
        episode(rng, [("s", babble(rng, 20)), ("p", room(0.8)), ("intro", theme), ("p", room(0.8)), ("s", babble(rng, 25))]),
        episode(rng, [("s", babble(rng, 12)), ("p", room(0.8)), ("intro", theme), ("p", room(0.8)), ("s", babble(rng, 30))]),
        episode(rng, [("s", babble(rng, 26)), ("p", room(0.8)), ("intro", theme), ("p", room(0.8)), ("s", babble(rng, 20))]),
    ]


def test_a_shortened_copy_talked_over_after_the_cut_ends_at_its_end():
    eps = _series(talked_over=True)
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    span, p = eps[0][1], preds[0]
    assert p.start is not None and abs(p.start - span[0]) <= 1.0 and abs(p.end - span[1]) <= 1.0, (span, p.start, p.end)
    # runs of >= 2 s only (before): the ending's clean 1.6 s is no resumed piece, the copy ends at the cut
    old = IntroConfig(align=dataclasses.replace(AlignConfig(), resumed_min_len=2.0))
    q = detect_intros(as_episodes(eps), config=old)[0]
    assert q.end is not None and q.end < span[1] - 3.0, (span, q.end)


def test_a_copy_cut_at_the_junction_still_ends_there():
    eps = _series(talked_over=False)
    preds = detect_intros(as_episodes(eps), config=IntroConfig())
    span, p = eps[0][1], preds[0]
    assert p.start is not None and abs(p.start - span[0]) <= 1.0 and abs(p.end - span[1]) <= 1.0, (span, p.start, p.end)
