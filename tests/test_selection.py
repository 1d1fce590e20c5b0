"""Segment selection (seed 000 §7, §11): exactly max_seq_len, first/last K kept, reasons as data."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.aggregate import SegmentTable, aggregate
from reviewer.config import SelectionConfig
from reviewer.errors import ValidationError
from reviewer.features.base import FrameFeatures
from reviewer.segments import make_segments
from reviewer.selection import REASONS, SegmentReason, select_segments

HOP_S = 0.032


def make_table(duration: float, *, seed: int = 0, loud: tuple[float, float] | None = None) -> SegmentTable:
    rng = np.random.default_rng(seed)
    t = np.arange(0, duration, HOP_S)
    rms = rng.random(t.size).astype(np.float32) * 0.1
    if loud is not None:
        rms[(t >= loud[0]) & (t < loud[1])] += 1.0
    f0 = (rng.random(t.size) * 200 + 100).astype(np.float32)
    f0[rng.random(t.size) < 0.5] = np.nan
    tracks = {"rms": FrameFeatures("rms", t, rms), "f0": FrameFeatures("f0", t, f0)}
    return aggregate(tracks, make_segments(duration))


CFG = SelectionConfig()  # 128 / 16 / 16


@pytest.fixture(scope="module")
def long_table() -> SegmentTable:
    return make_table(600.0, loud=(300.0, 330.0))  # 399 segments


def test_short_item_keeps_everything():
    table = make_table(60.0)
    sel = select_segments(table, CFG)
    assert sel.strategy == "all" and len(sel) == len(table) == 39
    assert list(sel.indices) == list(range(39))
    assert {r.reason for r in sel.reasons} == {"all"}


def test_long_item_exactly_max_seq_len_with_boundaries(long_table):
    sel = select_segments(long_table, CFG)
    n = len(long_table)
    assert len(sel) == 128 and sel.n_segments == n
    assert np.all(np.diff(sel.indices) > 0)
    assert list(sel.indices[:16]) == list(range(16))
    assert list(sel.indices[-16:]) == list(range(n - 16, n))
    counts = sel.reason_counts()
    assert counts == {"boundary_start": 16, "boundary_end": 16, "importance": 96}
    assert [r.index for r in sel.reasons] == list(sel.indices)


def test_importance_prefers_loud_voiced_segments(long_table):
    sel = select_segments(long_table, CFG)
    loud = {i for i in range(len(long_table)) if 300.0 <= long_table.segments.starts[i] and long_table.segments.ends[i] <= 330.0}
    assert loud <= set(sel.indices.tolist())
    r = next(r for r in sel.reasons if r.reason == "importance")
    assert set(r.parts) == {"rms", "voiced_fraction"}
    assert r.importance == pytest.approx(sum(r.parts.values()))
    assert 0 <= r.parts["rms"] <= 0.6 and 0 <= r.parts["voiced_fraction"] <= 0.4
    assert sel.importance.shape == (len(long_table),)
    assert sel.parts["rms"].shape == (len(long_table),)
    # every chosen importance segment beats every unchosen middle one
    chosen = {r.index for r in sel.reasons if r.reason == "importance"}
    rest = [i for i in range(16, len(long_table) - 16) if i not in chosen]
    assert min(sel.importance[list(chosen)]) >= max(sel.importance[rest])


def test_ties_break_by_time():
    t = np.arange(0, 300.0, HOP_S)
    flat = {"rms": FrameFeatures("rms", t, np.ones(t.size, np.float32)), "f0": FrameFeatures("f0", t, np.ones(t.size, np.float32))}
    table = aggregate(flat, make_segments(300.0))
    sel = select_segments(table, SelectionConfig(max_seq_len=40, k_start=4, k_end=4))
    assert list(sel.indices) == list(range(36)) + list(range(len(table) - 4, len(table)))


def test_nan_importance_counts_as_zero():
    table = make_table(300.0, seed=1)
    table.values[:, table.columns.index("rms_mean")][5:50] = np.nan
    sel = select_segments(table, SelectionConfig(max_seq_len=32, k_start=2, k_end=2))
    assert len(sel) == 32 and np.isfinite(sel.importance).all()


def test_uniform_strategy(long_table):
    sel = select_segments(long_table, CFG, strategy="uniform")
    assert sel.strategy == "uniform" and len(sel) == 128
    assert sel.indices[0] == 0 and sel.indices[-1] == len(long_table) - 1
    gaps = np.diff(sel.indices)
    assert gaps.max() - gaps.min() <= 1
    assert select_segments(long_table, SelectionConfig(strategy="uniform")).strategy == "uniform"


def test_deterministic_without_rng(long_table):
    a, b = select_segments(long_table, CFG), select_segments(long_table, CFG)
    assert np.array_equal(a.indices, b.indices) and a.reasons == b.reasons and not a.stochastic


def test_random_replacement_with_rng(long_table):
    a = select_segments(long_table, CFG, rng=np.random.default_rng(1))
    b = select_segments(long_table, CFG, rng=np.random.default_rng(1))
    c = select_segments(long_table, CFG, rng=np.random.default_rng(2))
    assert np.array_equal(a.indices, b.indices) and a.stochastic
    assert not np.array_equal(a.indices, c.indices)
    counts = a.reason_counts()
    assert counts["random_replacement"] == round(0.25 * 96) == 24
    assert counts["importance"] == 72 and len(a) == 128
    assert list(a.indices[:16]) == list(range(16))  # boundaries are never replaced
    det = select_segments(long_table, CFG)
    replaced = {r.index for r in a.reasons if r.reason == "random_replacement"}
    assert not replaced & set(det.indices.tolist())
    none = select_segments(long_table, SelectionConfig(replace_fraction=0.0), rng=np.random.default_rng(1))
    assert np.array_equal(none.indices, det.indices)


def test_reason_records_round_trip(long_table):
    sel = select_segments(long_table, CFG)
    d = sel.to_dict()
    assert d["indices"] == sel.indices.tolist() and len(d["reasons"]) == 128
    assert {r["reason"] for r in d["reasons"]} <= set(REASONS)
    assert SegmentReason.from_dict(d["reasons"][20]) == sel.reasons[20]
    with pytest.raises(ValidationError, match="unknown selection reason"):
        SegmentReason(0, 0.0, 3.0, "because", 0.0)


def test_bad_input(long_table):
    with pytest.raises(ValidationError, match="unknown selection strategy"):
        select_segments(long_table, CFG, strategy="random")
    with pytest.raises(ValidationError, match="numpy.random.Generator"):
        select_segments(long_table, CFG, rng=42)
    with pytest.raises(ValidationError, match="names no column"):
        select_segments(long_table, SelectionConfig(importance_weights={"loudness": 1.0}))
