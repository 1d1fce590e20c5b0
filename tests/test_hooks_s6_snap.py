"""Session 6: a chorus landing out of a pre-chorus nearly as loud as it (a small level rise) gets its late starts back."""

from __future__ import annotations

import pytest
from test_hooks_refine import _render

from reviewer.detect.hooks import snap_to_level_rise


@pytest.fixture(scope="module")
def loud_prechorus_song():
    """Verse (quiet) → pre-chorus nearly as loud as the chorus (other chords) → chorus, twice."""
    plan = [("free", 0.5), ("verse", 0.4), ("pre", 0.85), ("chorus", 1.0), ("verse", 0.4), ("pre", 0.85),
            ("chorus", 1.0), ("free", 0.5)]
    return _render(plan, seed=3)


def test_late_starts_move_back_to_the_small_rise_into_the_chorus(loud_prechorus_song):
    sa, starts = loud_prechorus_song
    c1, c2 = starts[3], starts[6]
    occ = [(c1 + 4.0, c1 + 16.0), (c2 + 4.0, c2 + 16.0)]  # 4 s late: the chorus's first bars left out
    # the rise into the chorus is under the 1.5 dB of the first pass, the verse → pre-chorus rise does not recur
    assert snap_to_level_rise(occ, sa.rms, resolution=0.5, chroma_sim=sa.analysis.chroma) == occ
    out = snap_to_level_rise(occ, sa.rms, resolution=0.5, chroma_sim=sa.analysis.chroma, min_recur_rise_db=0.5)
    assert [s for s, _ in out] == [pytest.approx(c1, abs=1.0), pytest.approx(c2, abs=1.0)]
    assert [e for _, e in out] == [e for _, e in occ]


def test_starts_on_the_chorus_stay_and_the_prechorus_stays_outside(loud_prechorus_song):
    sa, starts = loud_prechorus_song
    occ = [(starts[3], starts[3] + 16.0), (starts[6], starts[6] + 16.0)]
    assert snap_to_level_rise(occ, sa.rms, resolution=0.5, chroma_sim=sa.analysis.chroma,
                              min_recur_rise_db=0.5) == occ
