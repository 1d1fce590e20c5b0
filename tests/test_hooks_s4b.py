"""The hook snippet of a song with short choruses and no pre-chorus: a chorus played twice in a row fills it."""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks import SR, _section

from reviewer.audio_io import Audio
from reviewer.detect.hooks import HookConfig, detect_hooks, load_song, snippet_start

KW = dict(resolution=0.5, snippet_len=30.0, max_share=0.4, double_below_share=0.5)


def test_snippet_moves_to_a_chorus_played_twice_when_one_chorus_fills_less_than_half():
    """14 s choruses, no pre-chorus: a snippet at the first chorus is mostly the next verse; the last two
    choruses follow each other, so the snippet starts there."""
    chorus = [(24.0, 38.0), (54.0, 68.0), (98.0, 112.0), (112.0, 126.0)]
    assert snippet_start(chorus, [], **KW) == pytest.approx(98.0)
    # without the option (and at HEAD): the first chorus
    assert snippet_start(chorus, [], **{**KW, "double_below_share": None}) == pytest.approx(24.0)
    # a pre-chorus before the first chorus fills the snippet with (pre-)chorus: it stays there
    assert snippet_start(chorus, [(14.0, 24.0), (44.0, 54.0)], **KW) == pytest.approx(14.0)
    # a "pre-chorus" longer than the 40 % cap is a verse taken for one: it does not count as held
    assert snippet_start(chorus, [(10.0, 24.0), (40.0, 54.0)], **KW) == pytest.approx(98.0)
    # long choruses fill half the snippet on their own
    long = [(24.0, 40.0), (56.0, 72.0), (100.0, 116.0), (116.0, 132.0)]
    assert snippet_start(long, [], **KW) == pytest.approx(24.0)
    # no two choruses in a row: nothing better to go to
    assert snippet_start(chorus[:3], [], **KW) == pytest.approx(24.0)
    assert HookConfig().double_chorus_below_share == pytest.approx(0.5)


@pytest.fixture(scope="module")
def short_choruses_last_twice():
    """intro, verse, 12 s chorus, verse, chorus, bridge, chorus, the same chorus a key higher, outro."""
    rng = np.random.default_rng(11)
    verse_m, chorus_m, other_m = rng.integers(0, 7, 16), rng.integers(2, 9, 16), rng.integers(0, 7, 16)
    prog = (3, 4, 0, 5, 1, 6)  # 6 bars, 12 s
    plan = [("other", 0), ("verse", 0), ("chorus", 0), ("verse", 0), ("chorus", 0), ("other", 0),
            ("chorus", 0), ("chorus", 2), ("other", 2)]
    ys, spans, t = [], [], 0.0
    for kind, key in plan:
        if kind == "chorus":
            y = _section(prog, chorus_m, key=key, gain=1.0, drums=True, rng=rng)
        elif kind == "verse":
            y = _section((0, 5, 1, 4, 0, 5, 1, 4), verse_m, key=key, gain=0.45, drums=False, rng=rng)
        else:
            y = _section((6, 2, 6, 2), other_m, key=key + 3, gain=0.5, drums=False, rng=rng)
        spans.append((kind, t, t + len(y) / SR))
        ys.append(y)
        t += len(y) / SR
    y = np.concatenate(ys)
    y = (0.3 * y / np.max(np.abs(y)) + 0.002 * rng.standard_normal(y.size)).astype(np.float32)
    return load_song(Audio.from_array(y, SR, source="twice"), key="twice"), [(s, e) for k, s, e in spans if k == "chorus"]


def test_short_chorus_song_snippet_lies_in_the_choruses(short_choruses_last_twice):
    """On the audio: the snippet lies mostly inside the choruses (at the first chorus ≤ 12 of its 30 s would)."""
    song, ch = short_choruses_last_twice
    p = detect_hooks(song)
    inside = sum(max(0.0, min(p.snippet[1], e) - max(p.snippet[0], s)) for s, e in ch)
    assert inside >= 0.5 * (p.snippet[1] - p.snippet[0]), (p.snippet, p.chorus, ch)
    q = detect_hooks(song, config=HookConfig(double_chorus_below_share=None))
    assert q.snippet != p.snippet  # the option is what moves it
