"""Chorus / hook detector, its ranker, the pychorus-style baseline and ``predict-hooks`` on synthetic songs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from reviewer.audio_io import Audio
from reviewer.detect.baselines.chorus_pychorus import detect_chorus_pychorus
from reviewer.detect.hooks import HookConfig, HookPrediction, detect_hooks, load_song
from reviewer.detect.ranker import FEATURES, load_ranker, train_ranker
from reviewer.errors import ModelUnavailableError

SR = 16000
BAR = 2.0  # seconds (120 BPM, 4/4)
MAJOR = (0, 2, 4, 5, 7, 9, 11)


def _tone(freq: float, n: int, *, sr: int = SR) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.minimum(1.0, np.arange(n) / (0.01 * sr)) * np.exp(-t * 1.5)
    return env * sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2, 3))


def _section(prog, motif, *, key: int, gain: float, drums: bool, rng: np.random.Generator) -> np.ndarray:
    """One bar per chord: a triad, a bass note and an eighth-note melody from ``motif`` (scale degrees)."""
    n_bar = int(BAR * SR)
    out = []
    for b, deg in enumerate(prog):
        y = np.zeros(n_bar)
        root = 48 + key + MAJOR[deg % 7]
        for iv in (0, 4, 7):
            y += 0.3 * _tone(440 * 2 ** ((root + iv - 69) / 12), n_bar)
        y += 0.4 * _tone(440 * 2 ** ((root - 12 - 69) / 12), n_bar)
        step = n_bar // 8
        for i in range(8):
            note = 72 + key + MAJOR[motif[(b * 8 + i) % len(motif)] % 7]
            y[i * step:(i + 1) * step] += 0.5 * _tone(440 * 2 ** ((note - 69) / 12), step)
            if drums and i % 2 == 0:
                y[i * step:i * step + 800] += 0.3 * rng.standard_normal(800) * np.exp(-np.arange(800) / 150)
        out.append(gain * y)
    return np.concatenate(out)


def make_song(plan, *, seed: int = 0) -> tuple[Audio, list[tuple[float, float]]]:
    """Render ``plan`` = [(label, key_shift), ...]; returns audio and the chorus spans in seconds."""
    rng = np.random.default_rng(seed)
    verse_m, chorus_m = rng.integers(0, 7, 16), rng.integers(2, 9, 16)
    parts, chorus, t = [], [], 0.0
    for label, key in plan:
        if label == "chorus":
            y = _section((3, 4, 0, 5, 3, 4, 0, 5), chorus_m, key=key, gain=1.0, drums=True, rng=rng)
            chorus.append((t, t + len(y) / SR))
        elif label == "verse":
            y = _section((0, 5, 1, 4, 0, 5, 1, 4), verse_m, key=key, gain=0.6, drums=False, rng=rng)
        else:  # a never-repeating passage
            y = _section(tuple(rng.integers(0, 7, 4)), rng.integers(0, 7, 16), key=int(rng.integers(0, 12)),
                         gain=0.5, drums=False, rng=rng)
        parts.append(y)
        t += len(y) / SR
    y = np.concatenate(parts)
    y = (0.3 * y / np.max(np.abs(y)) + 0.002 * rng.standard_normal(y.size)).astype(np.float32)
    return Audio.from_array(y, SR, source=f"synthetic-{seed}"), chorus


POP = [("free", 0), ("verse", 0), ("chorus", 0), ("verse", 0), ("chorus", 0), ("free", 0), ("chorus", 0), ("free", 0)]


@pytest.fixture(scope="module")
def pop_song():
    audio, chorus = make_song(POP, seed=1)
    return load_song(audio, key="pop"), chorus


def _starts_match(est, ref, tol=3.0) -> bool:
    return all(any(abs(e[0] - r[0]) <= tol for e in est) for r in ref)


def test_chorus_occurrences_found(pop_song):
    song, chorus = pop_song
    pred = detect_hooks(song, config=HookConfig())
    assert isinstance(pred, HookPrediction) and not pred.fallback
    assert _starts_match(pred.chorus, chorus), (pred.chorus, chorus)
    assert len(pred.chorus) <= len(chorus) + 1
    s, e = pred.snippet
    assert e - s == pytest.approx(30.0) and 0 <= s < e <= song.duration
    assert chorus[0][0] - 20 <= s <= chorus[0][0] + 3  # snippet = (pre-chorus +) first chorus


def test_key_changed_last_chorus_is_found():
    plan = POP[:-2] + [("chorus", 2), ("free", 0)]
    audio, chorus = make_song(plan, seed=2)
    pred = detect_hooks(load_song(audio, key="kc"), config=HookConfig())
    assert _starts_match(pred.chorus, chorus), (pred.chorus, chorus)


def test_no_repetition_falls_back():
    audio, _ = make_song([("free", 0)] * 8, seed=3)
    pred = detect_hooks(load_song(audio, key="free"), config=HookConfig())
    assert pred.fallback and pred.fallback_reason and pred.chorus == []
    s, e = pred.snippet
    assert e - s == pytest.approx(30.0) and 0 <= s and e <= 64.0 + 1e-6


def test_short_track_is_whole_track():
    audio, _ = make_song([("verse", 0), ("chorus", 0)], seed=4)  # 32 s
    song = load_song(audio, key="short")
    pred = detect_hooks(song, config=HookConfig(snippet_len=40.0))
    assert pred.snippet == (0.0, round(song.duration, 3))


def test_payload_schema_and_scorer(pop_song):
    song, _ = pop_song

    class HalfScorer:
        task, model_version = "chorus", "dummy-1"

        def score(self, table):
            return np.full(len(table.segments), 0.5, np.float32)

    pred = detect_hooks(song, config=HookConfig(), scorer=HalfScorer())
    pay = pred.to_payload()
    assert set(pay) >= {"method", "model_version", "chorus", "prechorus", "fallback", "fallback_reason",
                        "segment_times", "segment_scores", "evidence"}
    assert "dummy-1" in pay["model_version"]
    m = pay["evidence"]["ssm"]["matrix"]
    assert len(m) <= 200 and len(m[0]) <= 200 and len(pay["evidence"]["ssm"]["times"]) == len(m)
    assert len(pay["segment_times"]) == len(pay["segment_scores"]) and all(0 <= x <= 1 for x in pay["segment_scores"])
    json.dumps(pay)


def test_ranker_round_trip(tmp_path, pop_song):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, len(FEATURES)))
    y = (X[:, 0] > 0).astype(float)
    songs = [f"s{i // 3}" for i in range(60)]
    artists = [f"a{i // 6}" for i in range(60)]
    r = train_ranker(X, y, songs=songs, artists=artists, out_path=tmp_path / "ranker.joblib", kind="linear")
    assert "heldout_top1_occurrence_f" in r.meta["metrics"]
    back = load_ranker(tmp_path / "ranker.joblib")
    np.testing.assert_allclose(back.score(X), r.score(X))
    assert back.model_version == r.model_version
    pred = detect_hooks(pop_song[0], config=HookConfig(), ranker=back)
    assert r.model_version in pred.model_version
    with pytest.raises(ModelUnavailableError, match="not found"):
        load_ranker(tmp_path / "nope.joblib")


def test_pychorus_baseline_easy_case():
    audio, chorus = make_song([("free", 0), ("chorus", 0), ("free", 0), ("chorus", 0), ("free", 0), ("chorus", 0)], seed=5)
    song = load_song(audio, key="easy")
    tr = song.tracks["chroma"]
    res = detect_chorus_pychorus(tr.values, tr.times, duration=song.duration)
    assert res.chorus and any(abs(c[0] - r[0]) <= 3.0 for c in res.chorus for r in chorus)
    assert res.snippet[1] - res.snippet[0] == pytest.approx(30.0)


def test_predict_hooks_cli(tmp_path, capsys):
    import soundfile as sf

    from reviewer.cli import main

    d = tmp_path / "songs"
    (d / "a").mkdir(parents=True)
    audio, _ = make_song(POP[:5], seed=6)
    sf.write(d / "a" / "one.wav", audio.y, SR)
    sf.write(d / "two.flac", audio.y[: 10 * SR], SR)
    out = tmp_path / "hooks.json"
    assert main(["predict-hooks", str(d), "--out", str(out), "--snippet-len", "20"]) == 0
    got = json.loads(out.read_text())
    assert set(got) == {"a/one.wav", "two.flac"}
    assert got["two.flac"]["snippet_start"] == 0.0 and got["two.flac"]["snippet_end"] == pytest.approx(10.0, abs=0.05)
    one = got["a/one.wav"]
    assert one["snippet_end"] - one["snippet_start"] == pytest.approx(20.0) and 0 <= one["confidence"] <= 1
    assert all(len(c) == 2 for c in one["chorus"])
    assert main(["predict-hooks", str(tmp_path / "missing"), "--out", str(out)]) == 2
