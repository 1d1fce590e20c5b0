"""DSP frame extractors on synthetic audio with known answers, the streaming
runner (block seams), the track cache and the ASR extractor."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from reviewer.audio_io import Audio
from reviewer.config import DEFAULT_DSP_EXTRACTORS, AudioConfig, FeaturesConfig
from reviewer.errors import ConfigError, ExtractionError
from reviewer.features import asr as asr_mod
from reviewer.features.base import FrameFeatures, get_extractor, registered
from reviewer.features.cache import FeatureCache
from reviewer.features.context import AnalysisContext
from reviewer.features.run import extract_tracks

SR = 16000
HOP = 512


# ------------------------------------------------------------------ helpers
def tone(freq: float, seconds: float, *, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, *, amp: float = 0.01, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def clicks(times: np.ndarray, seconds: float, *, amp: float = 0.9) -> np.ndarray:
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    for t in times:
        i = int(round(t * SR))
        y[i : i + 40] += amp * np.hanning(80)[40:].astype(np.float32) * np.sign(np.sin(np.arange(40)))
    return y


def run(y: np.ndarray, names, *, block_seconds: float = 300.0, cache=None, configs=None):
    return extract_tracks(
        Audio.from_array(y, SR),
        audio_config=AudioConfig(block_seconds=block_seconds),
        features_config=FeaturesConfig(extractors=DEFAULT_DSP_EXTRACTORS),
        settings=None,
        cache=cache,
        names=names,
        configs=configs,
    )


def inner(track: FrameFeatures, lo: float, hi: float) -> np.ndarray:
    return track.values[(track.times >= lo) & (track.times < hi)]


# ------------------------------------------------------------------ registry
def test_default_dsp_extractors_are_registered_with_their_tracks():
    reg = registered()
    for name in DEFAULT_DSP_EXTRACTORS:
        assert reg[name].dsp, name
    res = run(tone(440, 2.0), DEFAULT_DSP_EXTRACTORS)
    expected = {t for n in DEFAULT_DSP_EXTRACTORS for t in get_extractor(n).tracks}
    assert set(res.tracks) == expected
    n = 1 + int(2.0 * SR) // HOP
    for tr in res.tracks.values():
        assert tr.missing is None
        if tr.kind == "frames":
            assert len(tr.times) == n == len(tr.values), tr.name
            assert tr.values.dtype == np.float32
    assert res.tracks["mel64"].values.shape == (n, 64)
    assert res.tracks["mfcc"].values.shape == (n, 20)
    assert res.tracks["spectral_contrast"].values.shape == (n, 7)
    assert res.tracks["chroma"].labels == ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    assert set(res.timings) >= set(DEFAULT_DSP_EXTRACTORS) | {"decode"}


def test_unknown_extractor_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown extractor 'nope'"):
        run(tone(440, 1.0), ["nope"])


def test_audio_at_wrong_rate_is_rejected():
    audio = Audio.from_array(tone(440, 1.0), 8000)
    with pytest.raises(ExtractionError, match="8000 Hz"):
        extract_tracks(audio, audio_config=AudioConfig(), features_config=FeaturesConfig(), settings=None, names=["rms"])


# ------------------------------------------------------------------ known answers
def test_tone_440_is_voiced_at_440():
    res = run(tone(440, 3.0), ["pitch", "rms", "spectral"])
    f0 = inner(res.tracks["f0"], 0.2, 2.8)
    assert np.isfinite(f0).mean() > 0.95
    assert np.nanmedian(f0) == pytest.approx(440, rel=0.01)
    assert np.median(inner(res.tracks["rms"], 0.2, 2.8)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)
    assert np.median(inner(res.tracks["spectral_centroid"], 0.2, 2.8)) == pytest.approx(440, rel=0.05)


def test_low_voice_pitch_is_found():
    res = run(tone(110, 2.0) + tone(220, 2.0, amp=0.1), ["pitch"])
    assert np.nanmedian(inner(res.tracks["f0"], 0.2, 1.8)) == pytest.approx(110, rel=0.02)


def test_silence_is_unvoiced_quiet_and_eventless():
    res = run(np.zeros(3 * SR, dtype=np.float32), DEFAULT_DSP_EXTRACTORS)
    assert np.isnan(res.tracks["f0"].values).all()
    assert res.tracks["rms"].values.max() < 1e-6
    assert len(res.tracks["onsets"].times) == 0
    assert res.tracks["vocal"].values.max() == 0.0
    assert res.tracks["hum"].values.max() == 0.0
    assert res.tracks["snr_db"].values.max() == pytest.approx(0.0, abs=1e-3)
    assert res.tracks["chroma"].values.max() == 0.0
    assert np.isnan(res.tracks["tempo"].values).all()


def test_noise_is_unvoiced():
    res = run(noise(3.0, amp=0.1), ["pitch", "spectral"])
    assert np.isfinite(res.tracks["f0"].values).mean() < 0.1
    assert np.median(res.tracks["spectral_flatness"].values) > 0.3


def test_clicks_give_onsets_near_them():
    times = np.array([0.5, 1.3, 2.1, 2.6, 3.7])
    y = clicks(times, 4.5) + noise(4.5, amp=0.001)
    res = run(y, ["onset"])
    ev = res.tracks["onsets"]
    assert ev.kind == "events" and ev.values.shape == ev.times.shape
    assert len(ev.times) == len(times)
    np.testing.assert_allclose(ev.times, times, atol=0.05)
    assert (ev.values > 0).all()


def test_chord_peaks_in_chroma():
    # C major triad: C4, E4, G4
    y = tone(261.63, 3.0, amp=0.2) + tone(329.63, 3.0, amp=0.2) + tone(392.00, 3.0, amp=0.2)
    res = run(y, ["chroma"])
    mean = inner(res.tracks["chroma"], 0.3, 2.7).mean(axis=0)
    top = {res.tracks["chroma"].labels[i] for i in np.argsort(mean)[-3:]}
    assert top == {"C", "E", "G"}


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_hum_is_detected(mains):
    base = noise(8.0, amp=0.02, seed=1) + tone(440, 8.0, amp=0.1)
    hum = sum(tone(mains * k, 8.0, amp=0.02 / k) for k in (1, 2, 3))
    with_hum = run(base + hum, ["quality"]).tracks["hum"]
    without = run(base, ["quality"]).tracks["hum"]
    assert inner(with_hum, 1.0, 7.0).mean() > 0.95
    assert without.values.max() == 0.0


def test_metronome_at_120_bpm():
    beats = np.arange(0.25, 20.0, 0.5)
    y = clicks(beats, 20.0) + noise(20.0, amp=0.002)
    tempo = inner(run(y, ["tempo"]).tracks["tempo"], 3.0, 17.0)
    assert np.nanmedian(tempo) == pytest.approx(120, abs=2.0)


def test_snr_rises_with_a_gated_tone_in_noise():
    y = noise(12.0, amp=0.01, seed=2)
    y[3 * SR : 4 * SR] += tone(1000, 1.0, amp=0.1)  # tone/noise power ratio 50 → ~17 dB
    snr = run(y, ["quality"]).tracks["snr_db"]
    during = np.median(inner(snr, 3.2, 3.8))
    outside = np.median(inner(snr, 6.0, 11.0))
    assert during > 12.0
    assert outside < 4.0


def test_vocal_share_prefers_a_gliding_voice_over_noise_and_drones():
    t = np.arange(6 * SR) / SR
    f = 220 + 30 * np.sin(2 * np.pi * 3 * t) + 40 * np.sin(2 * np.pi * 0.4 * t)
    phase = 2 * np.pi * np.cumsum(f) / SR
    voice = sum((0.2 / k) * np.sin(k * phase) for k in range(1, 8)).astype(np.float32)
    voice *= (np.sin(2 * np.pi * 0.5 * t) > -0.3).astype(np.float32)  # phrases and pauses
    v_voice = inner(run(voice + noise(6.0, amp=0.003), ["vocal"]).tracks["vocal"], 0.5, 5.5).mean()
    v_noise = inner(run(noise(6.0, amp=0.1), ["vocal"]).tracks["vocal"], 0.5, 5.5).mean()
    v_drone = inner(run(tone(220, 6.0) + noise(6.0, amp=0.003), ["vocal"]).tracks["vocal"], 0.5, 5.5).mean()
    assert v_voice > 0.3
    assert v_noise < 0.15
    assert v_drone < 0.15


def test_mfcc_zeroth_coefficient_follows_loudness():
    quiet = run(tone(440, 1.0, amp=0.01), ["mfcc", "mel"])
    loud = run(tone(440, 1.0, amp=0.5), ["mfcc", "mel"])
    assert loud.tracks["mfcc"].values[:, 0].mean() > quiet.tracks["mfcc"].values[:, 0].mean()
    assert loud.tracks["mel64"].values.max() > quiet.tracks["mel64"].values.max() + 20


def test_context_shares_one_stft():
    ctx = AnalysisContext(tone(440, 1.0), SR)
    assert ctx.power is ctx.power
    assert ctx.stft_mag.shape == (1025, 1 + SR // HOP)
    assert ctx.mel_db.shape == (64, 1 + SR // HOP)


def test_context_rejects_off_grid_block_start():
    with pytest.raises(ExtractionError, match="multiple of hop_length"):
        AnalysisContext(tone(440, 1.0), SR, start_sample=100)


# ------------------------------------------------------------------ streaming
def _mixture(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    y = 0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.3 * t) > 0)
    y = y + noise(seconds, amp=0.01, seed=5) + 0.005 * np.sin(2 * np.pi * 60 * t)
    return (y + clicks(np.arange(0.25, seconds - 0.1, 0.5), seconds, amp=0.5)).astype(np.float32)


def test_block_seams_match_whole_file():
    y = _mixture(33.3)
    whole = run(y, DEFAULT_DSP_EXTRACTORS, block_seconds=1000.0)
    blocks = run(y, DEFAULT_DSP_EXTRACTORS, block_seconds=10.0)
    n = 1 + len(y) // HOP
    for name, tw in whole.tracks.items():
        tb = blocks.tracks[name]
        if tw.kind == "frames":
            assert len(tb.times) == n, name
            np.testing.assert_allclose(tb.times, np.arange(n) * HOP / SR, err_msg=name)
        np.testing.assert_allclose(tb.times, tw.times, atol=1e-9, err_msg=name)
        assert tb.values.shape == tw.values.shape, name
        np.testing.assert_array_equal(np.isnan(tb.values), np.isnan(tw.values), err_msg=name)
        np.testing.assert_allclose(tb.values, tw.values, rtol=1e-3, atol=1e-2, equal_nan=True, err_msg=name)


def test_streaming_from_file_with_max_seconds(tmp_path):
    path = tmp_path / "item.wav"
    sf.write(path, _mixture(25.0), SR)
    res = extract_tracks(
        path,
        audio_config=AudioConfig(block_seconds=10.0, max_seconds=12.0),
        features_config=FeaturesConfig(),
        settings=None,
        names=["rms", "onset"],
    )
    assert res.duration == pytest.approx(12.0)
    assert res.source_duration == pytest.approx(25.0)
    assert len(res.tracks["rms"].times) == 1 + 12 * SR // HOP
    assert res.tracks["onsets"].times.max() < 12.0


# ------------------------------------------------------------------ cache
def test_cache_hit_miss_and_corrupt_recovery(tmp_path):
    path = tmp_path / "item.wav"
    sf.write(path, _mixture(6.0), SR)
    cache = FeatureCache(tmp_path / "cache")
    kw = dict(audio_config=AudioConfig(), features_config=FeaturesConfig(), settings=None, cache=cache, names=["rms", "onset", "chroma"])
    first = extract_tracks(path, **kw)
    assert first.cache_hits == ()
    files = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(files) == 3
    assert not list((tmp_path / "cache").rglob("*.tmp"))

    second = extract_tracks(path, **kw)
    assert set(second.cache_hits) == {"rms", "onset", "chroma"}
    assert second.duration == pytest.approx(first.duration)
    for name, tr in first.tracks.items():
        np.testing.assert_array_equal(second.tracks[name].values, tr.values)
        np.testing.assert_array_equal(second.tracks[name].times, tr.times)
        assert second.tracks[name].labels == tr.labels

    # a different extractor config is a different entry
    from reviewer.features.dsp import OnsetConfig

    third = extract_tracks(path, **kw, configs={"onset": OnsetConfig(delta=0.2)})
    assert set(third.cache_hits) == {"rms", "chroma"}

    # corrupt one file: it is ignored, recomputed and rewritten
    rms_file = next(f for f in files if f.name.startswith("rms-"))
    rms_file.write_bytes(b"not a zip file")
    fourth = extract_tracks(path, **kw)
    assert "rms" not in fourth.cache_hits
    np.testing.assert_array_equal(fourth.tracks["rms"].values, first.tracks["rms"].values)
    assert np.load(rms_file, allow_pickle=False)["t0_values"].shape == first.tracks["rms"].values.shape


def test_missing_tracks_are_not_cached(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise ImportError("no pocketsphinx here")

    monkeypatch.setattr(asr_mod, "recognize", boom)
    cache = FeatureCache(tmp_path / "cache")
    res = run(noise(2.0), ["asr"], cache=cache)
    tr = res.tracks["asr_words"]
    assert tr.is_missing and "pocketsphinx is not installed" in tr.missing
    assert tr.kind == "events"
    assert not list((tmp_path / "cache").rglob("*.npz"))


# ------------------------------------------------------------------ asr
def test_asr_on_non_speech_does_not_crash():
    for y in (np.zeros(2 * SR, dtype=np.float32), noise(2.0, amp=0.2), tone(440, 2.0)):
        tr = run(y, ["asr"]).tracks["asr_words"]
        assert tr.missing is None
        assert tr.kind == "events"
        assert tr.values.shape == (len(tr.times), 2)
        assert len(tr.labels) == len(tr.times)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_asr_finds_words_in_speech(tmp_path):
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "hello world, this is a test of the speech recognizer"], check=True)
    y, sr = sf.read(wav, dtype="float32")
    import soxr

    y = soxr.resample(y, sr, SR).astype(np.float32)
    lead = 1.0
    y = np.concatenate([np.zeros(int(lead * SR), np.float32), y, np.zeros(SR, np.float32)])
    tr = run(y, ["asr"]).tracks["asr_words"]
    assert tr.missing is None
    assert len(tr.times) >= 3
    assert tr.times.min() >= lead - 0.3
    assert (tr.values[:, 0] > tr.times).all()
    assert ((tr.values[:, 1] >= 0) & (tr.values[:, 1] <= 1)).all()
    assert all(isinstance(w, str) and w and "(" not in w for w in tr.labels)


def test_zero_length_audio_is_invalid_media():
    from reviewer.errors import InvalidMediaError

    with pytest.raises(InvalidMediaError, match="zero-length"):
        run(np.zeros(0, dtype=np.float32), ["rms"])


def test_very_short_audio_gives_tracks():
    res = run(tone(440, 0.05), DEFAULT_DSP_EXTRACTORS)
    n = 1 + int(0.05 * SR) // HOP
    assert all(len(t.times) == n for t in res.tracks.values() if t.kind == "frames")
