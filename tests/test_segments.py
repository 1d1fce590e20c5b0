"""Segments (seed 000 §11: make_segments for 0.5 s, 3 s, 10 s, 420 s) and frame arithmetic properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.errors import ValidationError
from reviewer.frames import (
    frames_to_time,
    n_frames,
    n_windows,
    samples_to_time,
    slice_bounds,
    slice_times,
    time_to_frames,
    time_to_samples,
)
from reviewer.segments import make_segments

SAMPLE_RATES = st.sampled_from([8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000])


def test_short_item_is_one_segment():
    seg = make_segments(0.5)
    assert seg.pairs() == [(0.0, 0.5)]
    assert len(seg) == 1
    assert seg.lengths[0] == pytest.approx(0.5)


def test_exactly_one_window():
    assert make_segments(3.0).pairs() == [(0.0, 3.0)]


def test_ten_seconds_gets_a_tail_segment():
    seg = make_segments(10.0)
    assert seg.pairs() == [(0.0, 3.0), (1.5, 4.5), (3.0, 6.0), (4.5, 7.5), (6.0, 9.0), (7.0, 10.0)]


def test_420_seconds_grid_reaches_the_end():
    seg = make_segments(420.0)
    assert len(seg) == 279  # (420 - 3) / 1.5 + 1, no tail needed
    assert seg.starts[-1] == pytest.approx(417.0)
    assert seg.ends[-1] == 420.0
    assert np.allclose(np.diff(seg.starts), 1.5)
    assert np.allclose(seg.lengths, 3.0)


def test_one_hour_has_2400_segments():
    assert len(make_segments(3600.0)) == 2399  # floor(3597 / 1.5) + 1, the grid ends exactly at 3600 s


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "abc", None])
def test_bad_duration_raises(bad):
    with pytest.raises(ValidationError, match="duration"):
        make_segments(bad)


def test_hop_longer_than_window_raises():
    with pytest.raises(ValidationError, match="must not exceed segment_len"):
        make_segments(10.0, segment_len=1.0, hop=2.0)


def test_index_at_and_dicts():
    seg = make_segments(10.0)
    assert seg.index_at(0.0) == 0
    assert seg.index_at(1.4) == 0
    assert seg.index_at(1.5) == 1
    assert seg.index_at(9.5) == 5
    assert seg.index_at(10.0) == 5
    assert list(seg.index_at(np.array([0.1, 3.2]))) == [0, 2]
    assert seg.to_dicts()[1] == {"index": 1, "start": 1.5, "end": 4.5}
    with pytest.raises(ValidationError, match="outside the item"):
        seg.index_at(10.5)
    with pytest.raises(ValidationError, match="outside the item"):
        seg.index_at(float("nan"))


def test_segments_are_immutable():
    seg = make_segments(10.0)
    with pytest.raises(ValueError):
        seg.starts[0] = 1.0


@settings(max_examples=150, deadline=None)
@given(
    duration=st.floats(min_value=0.01, max_value=7200.0, allow_nan=False),
    segment_len=st.sampled_from([1.0, 2.0, 3.0, 5.0]),
    hop_ratio=st.sampled_from([0.25, 0.5, 1.0]),
)
def test_segments_cover_item_in_order(duration, segment_len, hop_ratio):
    hop = segment_len * hop_ratio
    seg = make_segments(duration, segment_len=segment_len, hop=hop)
    starts, ends = seg.starts, seg.ends
    assert starts[0] == 0.0
    assert ends[-1] == duration
    assert np.all(np.diff(starts) > 0)
    assert np.all(ends > starts)
    assert np.all(ends <= duration)
    assert np.all(ends - starts <= segment_len + 1e-9)
    # consecutive segments touch or overlap: no gap anywhere in [0, duration]
    assert np.all(starts[1:] <= ends[:-1] + 1e-9)
    # count formula: grid windows (+1 tail when the grid stops short)
    n = n_windows(duration, win=segment_len, hop=hop)
    grid_end = min((n - 1) * hop + segment_len, duration)
    assert len(seg) == n + (1 if duration - grid_end > 1e-6 else 0)
    if duration >= segment_len:
        assert np.allclose(ends - starts, segment_len)


@settings(max_examples=100, deadline=None)
@given(sr=SAMPLE_RATES, n=st.integers(min_value=0, max_value=10**8))
def test_samples_time_round_trip(sr, n):
    assert time_to_samples(samples_to_time(n, sr=sr), sr=sr) == n


@settings(max_examples=100, deadline=None)
@given(sr=SAMPLE_RATES, hop=st.sampled_from([128, 256, 441, 512, 1024]), i=st.integers(0, 10**6))
def test_frames_time_round_trip(sr, hop, i):
    t = frames_to_time(i, sr=sr, hop_length=hop)
    assert time_to_frames(t, sr=sr, hop_length=hop) == i
    arr = np.arange(i, i + 5)
    assert np.array_equal(time_to_frames(frames_to_time(arr, sr=sr, hop_length=hop), sr=sr, hop_length=hop), arr)


@settings(max_examples=80, deadline=None)
@given(sr=SAMPLE_RATES, duration=st.floats(min_value=0.05, max_value=900.0, allow_nan=False))
def test_frames_fall_into_segments(sr, duration):
    hop_length = 512
    count = n_frames(int(math.floor(duration * sr)), hop_length=hop_length)
    times = frames_to_time(np.arange(count), sr=sr, hop_length=hop_length)
    seg = make_segments(duration)
    lo, hi = slice_bounds(times, seg.starts, seg.ends)
    for i in {0, len(seg) // 2, len(seg) - 1}:
        idx = slice_times(times, seg.starts[i], seg.ends[i])
        assert (lo[i], hi[i]) == ((idx[0], idx[-1] + 1) if idx.size else (lo[i], lo[i]))
        assert np.all((times[lo[i] : hi[i]] >= seg.starts[i]) & (times[lo[i] : hi[i]] < seg.ends[i]))
    # every frame before the end of the item lies in at least one segment
    inside = times[times < duration]
    covered = np.zeros(inside.size, dtype=bool)
    for a, b in zip(lo, hi):
        covered[a : min(b, inside.size)] = True
    assert covered.all()


def test_regression_time_to_samples_float_rounding():
    # samples_to_time(33403109, sr=8000) * 8000 is 33403108.99999... in binary floating point
    from reviewer.frames import samples_to_time, time_to_samples

    assert time_to_samples(samples_to_time(33403109, sr=8000), sr=8000) == 33403109
