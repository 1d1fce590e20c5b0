"""Intro detector: failure causes found on tuning seed 31 (session 4, second pass), each on synthetic data.

* a copy cut straight into its next scene, whose first seconds resemble a moment a few seconds into a
  sibling's next scene (after that sibling's pause): :func:`reviewer.detect.align.resumed_after` took them
  for the resumed ending of a shortened copy, the chained link ran 3–12 s into the scenes, and its end was
  carried to every sibling (a whole series' ends 3–12 s late);
* a shortened copy cut straight into the end credits, whose sibling rolls its credits 36 s after its theme:
  :func:`reviewer.detect.intro_graph.chain` joined the theme match and the credits match as a shortened cut's
  skip across the sibling's pause and scene; the 50 s "end credits" node then covered the copy's start, and the
  start fell back 3.8 s late.
"""

from __future__ import annotations

import numpy as np

from reviewer.detect import align
from test_intro import babble, episode, room, tune


def _profile(y: np.ndarray) -> align.Profile:
    return align.spectral_profile(y + 0.003 * np.random.default_rng(0).standard_normal(y.size).astype(np.float32),
                                  align.SR)


def test_no_resumed_ending_across_a_pause_of_the_full_copy():
    """A cuts from the theme straight into a scene that opens on a 4 s sting; B's theme ends at a pause, and the
    same sting plays 7 s into B's next scene. A plays on from its match, B "skips" 7.6 s: the shape of a
    shortened cut, but B's copy ended at the pause, so nothing resumed."""
    rng = np.random.default_rng(5)
    theme = tune(np.random.default_rng(91), 24.0)
    sting = tune(np.random.default_rng(92), 4.0, drums=False)
    ya, _ = episode(rng, [("s", babble(rng, 20)), ("intro", theme), ("m", sting), ("s", babble(rng, 30))])
    yb, _ = episode(rng, [("s", babble(rng, 30)), ("intro", theme), ("p", room(0.6)), ("s", babble(rng, 7)),
                          ("m", sting), ("s", babble(rng, 30))])
    pa, pb = _profile(ya), _profile(yb)
    head = [m for m in align.match_pair(pa, pb) if abs(m.a_start - 20.0) < 1.0]
    assert head and abs(head[0].a_end - 44.0) < 1.0 and abs(head[0].b_end - 54.0) < 1.0
    assert align.resumed_after(pa, pb, head[0]) is None
    # the same sting with B playing on (no pause: the theme's skipped part) is a resumed ending
    yc, _ = episode(rng, [("s", babble(rng, 30)), ("intro", theme), ("m", tune(np.random.default_rng(93), 7.6)),
                          ("m", sting), ("s", babble(rng, 30))])
    pc = _profile(yc)
    head = [m for m in align.match_pair(pa, pc) if abs(m.a_start - 20.0) < 1.0]
    assert head
    r = align.resumed_after(pa, pc, head[0])
    assert r is not None and abs(r.a_start - 44.0) < 1.0 and abs(r.b_start - 61.6) < 1.0


def test_chain_does_not_skip_across_a_pause_of_the_full_side():
    """Episode A plays a shortened theme, cut straight into its end credits; episode B plays the full theme, a
    pause, a scene, then the same credits. The credits match starts right where A's theme match ends (A goes on)
    and 36 s later in B: the shape of a shortened cut's skip. B pauses in the part it skips, so its theme ended
    there: two items (theme, credits), not one 50 s region that then covers A's theme start as end credits."""
    from reviewer.detect.align import Match
    from reviewer.detect.intro_graph import chain

    hop = align.HOP / align.SR
    theme = Match(162.05, 179.7, 152.75, 196.1, 1.0, 0.8)
    credits = Match(179.85, 212.65, 232.2, 265.0, 1.0, 0.9)
    qa = np.zeros(int(230 / hop), bool)
    qb = np.zeros(int(280 / hop), bool)
    qb[int(196.4 / hop) : int(197.0 / hop)] = True  # B's pause after its theme
    assert len(chain([theme, credits], quiet_a=qa, quiet_b=qb, hop=hop)) == 2
    # B playing on through the skipped part (a full copy of the theme) is one shortened region
    [(a, b, _)] = chain([theme, credits], quiet_a=qa, quiet_b=np.zeros_like(qb), hop=hop)
    assert a == (162.05, 212.65) and b == (152.75, 265.0)
