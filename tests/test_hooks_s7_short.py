"""Session 7 (B): a track shorter than the snippet whose only repetition is a quiet intro and outro over the
chorus's chords gets its main section as its chorus."""

from __future__ import annotations

import numpy as np
import pytest
from test_hooks_refine import _render

from reviewer.detect.hooks import HookConfig, level_spread_db, predict_from_analysis


def test_quiet_intro_and_outro_over_the_chorus_chords_give_the_main_section():
    # quiet chorus chords, the chorus, quiet chorus chords: 48 s, shorter than a 60 s snippet
    sa, starts = _render([("chorus", 0.15), ("chorus", 1.0), ("chorus", 0.15)], seed=1)
    kept = predict_from_analysis(sa, config=HookConfig(snippet_len=60.0, short_track_max_level_gap_db=None))
    assert kept.evidence["chorus_source"] == "repetition"
    assert level_spread_db(kept.chorus, sa.rms, resolution=0.5) > 3.0
    p = predict_from_analysis(sa, config=HookConfig(snippet_len=60.0))
    assert p.evidence["chorus_source"] == "short-track main section (heuristic)"
    assert len(p.chorus) == 1
    assert p.chorus[0] == (pytest.approx(starts[1], abs=1.0), pytest.approx(starts[2], abs=1.0))


def test_equally_loud_repeats_in_a_short_track_stay_the_chorus():
    sa, _ = _render([("chorus", 0.9), ("chorus", 1.0), ("chorus", 0.9)], seed=1)
    p = predict_from_analysis(sa, config=HookConfig(snippet_len=60.0))
    assert p.evidence["chorus_source"] == "repetition"
    assert len(p.chorus) >= 2
    assert p.chorus == predict_from_analysis(sa, config=HookConfig(snippet_len=60.0,
                                                                   short_track_max_level_gap_db=None)).chorus


def test_main_section_starts_at_the_level_rise_out_of_a_quiet_intro():
    """25 s: a quiet 3.5 s intro, the main section with a change inside it (the strongest novelty, at 7.5 s),
    a quiet outro from 18 s."""
    from reviewer.detect.hooks import _main_section

    t = np.arange(50) * 0.5
    nov = np.where(t == 7.5, 1.0, np.where(t == 3.5, 0.6, np.where(t == 18.0, 0.8, 0.05)))
    rms = np.where((t >= 3.5) & (t < 18.0), 0.1, 0.02)  # 14 dB louder
    assert _main_section(nov, 0.5, 25.0) == (7.5, 18.0)
    assert _main_section(nov, 0.5, 25.0, rms, 3.0) == (3.5, 18.0)
    # no marked rise (the intro as loud): the novelty peak
    assert _main_section(nov, 0.5, 25.0, np.full(50, 0.1), 3.0) == (7.5, 18.0)
