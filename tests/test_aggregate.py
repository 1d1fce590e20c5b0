"""Per-segment aggregation (seed 000 §11: numbers or NaN + missing flag, never a crash)."""

from __future__ import annotations


import numpy as np
import pytest

from reviewer.aggregate import GROUPS, SegmentTable, aggregate, group_columns
from reviewer.errors import ValidationError
from reviewer.features.base import FrameFeatures
from reviewer.frames import frames_to_time, slice_times
from reviewer.segments import make_segments

HOP_S = 512 / 16000

ARCH_COLUMNS = (
    "rms_mean rms_std rms_max rms_min f0_mean f0_std voiced_fraction spectral_centroid_mean "
    "spectral_bandwidth_mean spectral_flatness_mean tempo_bpm onset_density onset_count_energy vocal_fraction "
    "snr_db hum_detected words_in_segment words_per_sec asr_conf_mean emotion_valence emotion_arousal "
    "emotion_dom_conf"
).split()


def _frames(duration: float) -> np.ndarray:
    return frames_to_time(np.arange(int(duration / HOP_S) + 1), sr=16000, hop_length=512)


def synthetic_tracks(duration: float, *, seed: int = 0, clap_dim: int = 16) -> dict[str, FrameFeatures]:
    """Every track of the architecture table, with random values on a 32 ms grid."""
    rng = np.random.default_rng(seed)
    t = _frames(duration)
    n = t.size

    def frames(name: str, d: int | None = None, scale: float = 1.0) -> FrameFeatures:
        shape = (n, d) if d else (n,)
        return FrameFeatures(name, t, (rng.random(shape) * scale).astype(np.float32))

    tracks = {k: frames(k) for k in ("rms", "spectral_flatness", "vocal", "onset_strength")}
    tracks["spectral_centroid"] = frames("spectral_centroid", scale=4000)
    tracks["spectral_bandwidth"] = frames("spectral_bandwidth", scale=2000)
    tracks["tempo"] = frames("tempo", scale=180)
    tracks["snr_db"] = frames("snr_db", scale=40)
    tracks["hum"] = FrameFeatures("hum", t, (rng.random(n) < 0.2).astype(np.float32))
    f0 = (rng.random(n) * 300 + 80).astype(np.float32)
    f0[rng.random(n) < 0.5] = np.nan
    tracks["f0"] = FrameFeatures("f0", t, f0)
    for name, d in (("spectral_contrast", 7), ("mel64", 64), ("mfcc", 20), ("chroma", 12), ("emotion", 3), ("clap", clap_dim)):
        tracks[name] = frames(name, d)
    k = max(1, int(duration))
    on = np.sort(rng.random(k) * duration)
    tracks["onsets"] = FrameFeatures("onsets", on, rng.random(k).astype(np.float32), kind="events")
    words = np.sort(rng.random(2 * k) * duration)
    conf = rng.random(2 * k)
    tracks["asr_words"] = FrameFeatures(
        "asr_words", words, np.column_stack([words + 0.2, conf]).astype(np.float32), kind="events",
        labels=tuple(f"w{i}" for i in range(2 * k)),
    )  # fmt: skip
    return tracks


@pytest.fixture(scope="module")
def table_60s() -> tuple[SegmentTable, dict[str, FrameFeatures]]:
    tracks = synthetic_tracks(60.0)
    return aggregate(tracks, make_segments(60.0)), tracks


def test_columns_follow_the_architecture(table_60s):
    table, _ = table_60s
    for c in ARCH_COLUMNS:
        assert c in table.columns
    for prefix, d in (("spectral_contrast_mean_", 7), ("mel64_mean_", 64), ("mfcc_mean_", 20), ("mfcc_std_", 20), ("chroma_mean_", 12), ("clap_mean_", 16)):
        assert [c for c in table.columns if c.startswith(prefix)] == [f"{prefix}{i}" for i in range(d)]
    assert table.values.dtype == np.float32
    assert table.values.shape == (len(table.segments), len(table.columns))
    assert list(table.groups)[: len(GROUPS)] == list(GROUPS)
    assert table.missing.shape == (len(table.segments), len(table.groups))


def test_values_match_a_naive_loop(table_60s):
    table, tracks = table_60s
    seg = table.segments
    for i in (0, 7, len(seg) - 1):
        idx = slice_times(tracks["rms"].times, seg.starts[i], seg.ends[i])
        r = tracks["rms"].values[idx]
        np.testing.assert_allclose(table.values[i, :4], [r.mean(), r.std(), r.max(), r.min()], rtol=1e-5)
        f = tracks["f0"].values[idx]
        assert table.column("f0_mean")[i] == pytest.approx(np.nanmean(f), rel=1e-5)
        assert table.column("f0_std")[i] == pytest.approx(np.nanstd(f), rel=1e-4)
        assert table.column("voiced_fraction")[i] == pytest.approx(np.mean(~np.isnan(f)))
        sc = tracks["spectral_centroid"].values[idx]
        assert table.column("spectral_centroid_mean")[i] == pytest.approx(sc.mean(), rel=1e-5)
        m = tracks["mfcc"].values[idx]
        np.testing.assert_allclose(table.column("mfcc_std_3")[i], m[:, 3].std(), rtol=1e-4)
        hum = tracks["hum"].values[idx]
        assert table.column("hum_detected")[i] == float(hum.mean() >= 0.5)
        length = seg.ends[i] - seg.starts[i]
        on = tracks["onsets"].times
        count = np.sum((on >= seg.starts[i]) & (on < seg.ends[i]))
        assert table.column("onset_count_energy")[i] == count
        assert table.column("onset_density")[i] == pytest.approx(count / length)
        w = tracks["asr_words"]
        keep = (w.times >= seg.starts[i]) & (w.times < seg.ends[i]) & (w.values[:, 1] >= 0.3)
        assert table.column("words_in_segment")[i] == keep.sum()
        assert table.column("words_per_sec")[i] == pytest.approx(keep.sum() / length, rel=1e-6)
        if keep.any():
            assert table.column("asr_conf_mean")[i] == pytest.approx(w.values[keep, 1].mean(), rel=1e-5)
    assert set(np.unique(table.column("hum_detected"))) <= {0.0, 1.0}
    assert not table.missing[:, : len(GROUPS) - 1].any()  # everything but emotion-free groups present


def test_asr_threshold_filters_words():
    t = np.array([0.1, 0.5, 1.0, 2.0])
    words = FrameFeatures("asr_words", t, np.column_stack([t + 0.2, [0.9, 0.1, 0.5, 0.29]]).astype(np.float32), kind="events")
    table = aggregate({"asr_words": words}, make_segments(3.0), asr_confidence_threshold=0.3)
    assert table.column("words_in_segment")[0] == 2
    assert table.column("asr_conf_mean")[0] == pytest.approx(0.7)
    assert table.column("words_per_sec")[0] == pytest.approx(2 / 3)


def test_absent_and_missing_tracks_give_nan_and_flags():
    seg = make_segments(30.0)
    clap = FrameFeatures.missing_track("clap", "REVIEWER_CLAP_PATH is not set")
    table = aggregate({"rms": synthetic_tracks(30.0)["rms"], "clap": clap}, seg, embedding_dims={"clap": 8})
    assert table.missing_reasons["rms"] is None
    assert table.missing_reasons["f0"] == "not extracted"
    assert table.missing_reasons["clap"] == "REVIEWER_CLAP_PATH is not set"
    assert table.groups["clap"] == tuple(f"clap_mean_{i}" for i in range(8))
    assert table.groups["wav2vec"] == ()  # width unknown: no columns, only the flag
    assert np.isnan(table.column("clap_mean_0")).all()
    assert table.missing_for("clap").all() and table.missing_for("wav2vec").all()
    assert not table.missing_for("rms").any()
    assert np.isnan(table.column("f0_mean")).all()


def test_empty_slices_never_crash():
    # frames only in the first 2 s of a 20 s item; no onsets or words at all
    t = np.arange(0, 2.0, HOP_S)
    tracks = {
        "rms": FrameFeatures("rms", t, np.ones(t.size, np.float32)),
        "f0": FrameFeatures("f0", t, np.full(t.size, np.nan, np.float32)),
        "mel64": FrameFeatures("mel64", t, np.ones((t.size, 64), np.float32)),
        "onsets": FrameFeatures("onsets", np.zeros(0), np.zeros(0, np.float32), kind="events"),
        "asr_words": FrameFeatures("asr_words", np.zeros(0), np.zeros((0, 2), np.float32), kind="events"),
        "tempo": FrameFeatures("tempo", np.zeros(0), np.zeros(0, np.float32)),
    }
    table = aggregate(tracks, make_segments(20.0))
    rms_missing = table.missing_for("rms")
    assert not rms_missing[0] and rms_missing[-1]
    assert np.isnan(table.column("rms_max")[-1]) and table.column("rms_max")[0] == 1.0
    assert np.isnan(table.column("f0_mean")[0]) and table.column("voiced_fraction")[0] == 0.0
    assert np.isnan(table.column("voiced_fraction")[-1])
    assert (table.column("onset_count_energy") == 0).all() and not table.missing_for("onsets").any()
    assert (table.column("words_in_segment") == 0).all() and np.isnan(table.column("asr_conf_mean")).all()
    assert table.missing_reasons["tempo"] == "empty track (0 frames)"
    finite_or_nan = np.isfinite(table.values) | np.isnan(table.values)
    assert finite_or_nan.all()


def test_unsorted_times_are_sorted():
    t = np.array([2.0, 0.5, 1.0])
    table = aggregate({"rms": FrameFeatures("rms", t, np.array([3.0, 1.0, 2.0], np.float32))}, make_segments(3.0))
    assert table.column("rms_min")[0] == 1.0 and table.column("rms_max")[0] == 3.0


def test_to_frame_has_index_start_end_and_flags(table_60s):
    table, _ = table_60s
    df = table.to_frame()
    assert list(df.columns[:3]) == ["index", "start", "end"]
    assert len(df) == len(table.segments)
    assert "rms_missing" in df.columns and "clap_mean_15" in df.columns
    assert df["end"].iloc[-1] == 60.0


def test_malformed_tracks_raise():
    seg = make_segments(10.0)
    with pytest.raises(ValidationError, match="3 times but 2 value rows"):
        aggregate({"rms": FrameFeatures("rms", np.arange(3.0), np.ones(2, np.float32))}, seg)
    with pytest.raises(ValidationError, match="must have 64 columns"):
        aggregate({"mel64": FrameFeatures("mel64", np.arange(3.0), np.ones((3, 32), np.float32))}, seg)
    with pytest.raises(ValidationError, match="expected 8"):
        aggregate({"clap": FrameFeatures("clap", np.arange(3.0), np.ones((3, 4), np.float32))}, seg, embedding_dims={"clap": 8})
    with pytest.raises(ValidationError, match="Segments record"):
        aggregate({}, [(0.0, 3.0)])
    with pytest.raises(ValidationError, match="unknown feature group"):
        group_columns("nope")


def test_one_hour_of_segments():
    duration = 3600.0
    tracks = synthetic_tracks(duration, clap_dim=64)
    seg = make_segments(duration)
    table = aggregate(tracks, seg)  # speed is measured in bench/, not asserted here
    assert len(seg) == 2399 and table.values.shape[1] > 200
