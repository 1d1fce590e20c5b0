"""Demo library generator: layout, label format, truth correctness, determinism, idempotency."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from reviewer.audio_io import load_audio, probe_duration
from reviewer.demo import build_demo, format_hms
from reviewer.demo.music import change_speed
from reviewer.errors import ConfigError, ReviewerError

SR = 22050
HMS = re.compile(r"^\d+:\d{2}:\d{2}\.\d{3}$")
TRUTH_FILES = ("train_labels.json", "test_labels.json", "episodes_truth.json", "series_truth.json", "songs_truth.json")


@pytest.fixture(scope="module")
def quick_lib(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "lib"
    man = build_demo(out, seed=0, quick=True)
    assert not man.reused
    return out


def _json(p: Path) -> dict:
    return json.loads(p.read_text(encoding="utf-8"))


def _hms_to_sec(s: str) -> float:
    h, m, rest = s.split(":")
    return int(h) * 3600 + int(m) * 60 + float(rest)


def test_format_hms():
    assert format_hms(0.0) == "0:00:00.000"
    assert format_hms(83.4567) == "0:01:23.457"
    assert format_hms(3725.0) == "1:02:05.000"


def test_layout_and_split(quick_lib):
    train, test = _json(quick_lib / "train_labels.json"), _json(quick_lib / "test_labels.json")
    assert len(train) == 3 and len(test) == 3
    assert {v["series"] for v in train.values()} == {"Harbor Watch"}
    assert {v["series"] for v in test.values()} == {"Star Freighter"}  # the last series is held out
    for rel in list(train) + list(test):
        p = quick_lib / rel
        assert p.is_file(), rel
        assert re.fullmatch(r"series/(\w+)/Season_01/\1_S01E0\d\.(flac|ogg|mp4)", rel), rel
    for name in ("Harbor_Watch", "Star_Freighter"):
        assert len(list((quick_lib / "series" / name / "Season_01").glob("*.mp4"))) == 1
        assert (quick_lib / "assets" / "series" / name / "theme.flac").is_file()
    songs = _json(quick_lib / "songs_truth.json")
    for rel in songs:
        assert re.fullmatch(r"songs/[^/]+/[^/]+\.(flac|ogg|mp3)", rel) and (quick_lib / rel).is_file()
    man = _json(quick_lib / "manifest.json")
    assert man["counts"]["episodes"] == 6 and man["counts"]["songs"] == 3
    assert set(man["files"]) >= set(TRUTH_FILES) | set(train) | set(test) | set(songs)


def test_label_format(quick_lib):
    labels = {**_json(quick_lib / "train_labels.json"), **_json(quick_lib / "test_labels.json")}
    assert any(v["start"] is None for v in labels.values()), "some episode has no intro"
    for rel, v in labels.items():
        assert set(v) == {"start", "end", "start_sec", "end_sec", "series", "season", "episode"}
        assert v["season"] == 1 and rel.endswith(f"E{v['episode']:02d}{Path(rel).suffix}")
        if v["start"] is None:
            assert v["end"] is None and v["start_sec"] is None and v["end_sec"] is None
            continue
        assert HMS.match(v["start"]) and HMS.match(v["end"])
        assert _hms_to_sec(v["start"]) == pytest.approx(v["start_sec"], abs=1e-6)
        assert _hms_to_sec(v["end"]) == pytest.approx(v["end_sec"], abs=1e-6)
        assert 0.0 <= v["start_sec"] < v["end_sec"]
        assert 10.0 <= v["end_sec"] - v["start_sec"] <= 61.0  # a theme is 15-60 s; a shortened cut is shorter


def test_labels_inside_decoded_duration(quick_lib):
    truth = _json(quick_lib / "episodes_truth.json")
    for rel, t in truth.items():
        dur = load_audio(quick_lib / rel, sr=SR).duration  # mp4 goes through ffmpeg
        assert dur == pytest.approx(t["duration"], abs=0.1), rel
        for ev in t["events"]:
            assert 0.0 <= ev["start"] < ev["end"] <= dur + 0.05, (rel, ev)
        if t["intro"] is not None:
            assert t["intro"]["end"] <= dur and t["intro"]["start"] < 300.0  # seed 001: first 5 minutes
    songs = _json(quick_lib / "songs_truth.json")
    for rel, s in songs.items():
        dur = probe_duration(quick_lib / rel)
        assert dur == pytest.approx(s["duration"], abs=0.1), rel
        assert s["sections"][0]["start"] == 0.0
        for a, b in zip(s["sections"], s["sections"][1:]):
            assert a["end"] == pytest.approx(b["start"], abs=1e-3)
        assert s["sections"][-1]["end"] <= dur + 0.05


def _best_lag(needle: np.ndarray, hay: np.ndarray) -> tuple[int, float]:
    """Offset of ``needle`` in ``hay`` by normalised cross-correlation, and the peak value."""
    num = signal.correlate(hay, needle, mode="valid", method="fft")
    c = np.concatenate([[0.0], np.cumsum(hay.astype(np.float64) ** 2)])
    energy = c[needle.size :] - c[: c.size - needle.size]
    ncc = num / (np.sqrt(np.maximum(energy, 1e-12)) * np.linalg.norm(needle))
    i = int(np.argmax(ncc))
    return i, float(ncc[i])


def _check_intros(lib: Path) -> int:
    """Find the rendered theme (at the recorded speed) near each labelled start: within 0.1 s."""
    truth = _json(lib / "episodes_truth.json")
    checked = 0
    for rel, t in truth.items():
        if t["intro"] is None:
            continue
        theme = load_audio(lib / t["theme_asset"], sr=SR).y
        var = t["intro_variation"]
        theme = change_speed(theme, var["speed"])
        a = int(max(1.0, var["fade_in"] + 0.2) * SR)
        needle = theme[a : a + 4 * SR]
        ep = load_audio(lib / rel, sr=SR).y
        lo = max(0, int((t["intro"]["start"] - 1.5) * SR) + a)
        hay = ep[lo : lo + needle.size + 3 * SR]
        lag, peak = _best_lag(needle, hay)
        found = (lo + lag - a) / SR
        assert found == pytest.approx(t["intro"]["start"], abs=0.1), (rel, found, t["intro"], var)
        assert peak > 0.5, (rel, peak, var)
        # the end: the theme's last seconds (before any fade-out) sit just before the labelled end
        b = theme.size - int((max(var["fade_out"], 0.6) + 0.2) * SR)
        needle = theme[b - 3 * SR : b]
        lo = max(0, int((t["intro"]["end"] - 1.5) * SR) - (theme.size - b) - needle.size)
        hay = ep[lo : lo + needle.size + 3 * SR]
        lag, peak = _best_lag(needle, hay)
        found_end = (lo + lag + needle.size + theme.size - b) / SR
        assert found_end == pytest.approx(t["intro"]["end"], abs=0.1), (rel, found_end, t["intro"], var)
        assert peak > 0.4, (rel, peak, var)
        checked += 1
    return checked


def test_intro_label_matches_theme_position(quick_lib):
    assert _check_intros(quick_lib) >= 4


def test_no_intro_episode_has_no_theme(quick_lib):
    truth = _json(quick_lib / "episodes_truth.json")
    rel = next(r for r, t in truth.items() if t["intro"] is None)
    theme = load_audio(quick_lib / truth[rel]["theme_asset"], sr=SR).y
    ep = load_audio(quick_lib / rel, sr=SR).y
    _, peak = _best_lag(theme[SR : 5 * SR], ep)
    assert peak < 0.5


def _chorus_vs_verse(path: Path, s: dict) -> tuple[float, float]:
    """Frame-aligned chroma similarity: first two choruses, and the best chorus-vs-verse pair."""
    import librosa

    ch = [x for x in s["sections"] if x["label"] == "chorus"]
    verses = [x for x in s["sections"] if x["label"] == "verse"]
    y = load_audio(path, sr=SR).y
    hop = 2048
    C = librosa.feature.chroma_stft(y=y, sr=SR, hop_length=hop)
    C = C / (np.linalg.norm(C, axis=0, keepdims=True) + 1e-9)
    n = int(min(x["end"] - x["start"] for x in ch + verses) * SR / hop) - 1

    def sim(a: dict, b: dict) -> float:
        fa, fb = int(a["start"] * SR / hop), int(b["start"] * SR / hop)
        return float(np.mean(np.sum(C[:, fa : fa + n] * C[:, fb : fb + n], axis=0)))

    return sim(ch[0], ch[1]), max(sim(c, v) for c in ch[:2] for v in verses)


def test_song_truth_and_chorus_similarity(quick_lib):
    songs = _json(quick_lib / "songs_truth.json")
    kinds = {s["kind"] for s in songs.values()}
    assert kinds == {"song", "through-composed", "short"}
    for rel, s in songs.items():
        labels = [x["label"] for x in s["sections"]]
        if s["kind"] == "through-composed":
            assert s["hook"] is None and "chorus" not in labels
        elif s["kind"] == "short":
            assert s["duration"] < 30.0 and s["hook"] == {"start": 0.0, "end": s["duration"]}
        else:
            ch = [x for x in s["sections"] if x["label"] == "chorus"]
            verses = [x for x in s["sections"] if x["label"] == "verse"]
            assert len(ch) >= 2 and verses
            i = labels.index("chorus")
            assert s["hook"]["end"] == ch[0]["end"]
            assert s["hook"]["start"] == (s["sections"][i - 1]["start"] if labels[i - 1] == "pre-chorus" else ch[0]["start"])
            same, cross = _chorus_vs_verse(quick_lib / rel, s)
            assert same > cross + 0.1, (rel, same, cross)


def test_deterministic_and_idempotent(quick_lib, tmp_path):
    # idempotent: same params on the same folder reuses everything
    again = build_demo(quick_lib, seed=0, quick=True)
    assert again.reused
    # deterministic: a fresh build with the same seed gives byte-identical truth and audio
    other = build_demo(tmp_path / "b", seed=0, quick=True, workers=1)
    for name in TRUTH_FILES:
        assert (quick_lib / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert other.files == again.files


def test_resumes_after_a_lost_file(quick_lib, tmp_path):
    import shutil

    dst = tmp_path / "lib"
    shutil.copytree(quick_lib, dst)
    victim = next((dst / "songs").rglob("*.flac"))
    victim.unlink()
    man = build_demo(dst, seed=0, quick=True)
    assert not man.reused and victim.is_file()
    assert man.files == _json(quick_lib / "manifest.json")["files"]


def test_other_seed_changes_library_and_removes_stale_files(quick_lib, tmp_path):
    import shutil

    out = tmp_path / "lib"
    shutil.copytree(quick_lib, out)
    first = _json(out / "manifest.json")
    man = build_demo(out, seed=1, quick=True)
    assert man.params_digest != first["params_digest"]
    assert (out / "episodes_truth.json").read_bytes() != (quick_lib / "episodes_truth.json").read_bytes()
    second = set(_json(out / "manifest.json")["files"])
    assert set(first["files"]) - second, "another seed names some files differently"
    for rel in set(first["files"]) - second:
        assert not (out / rel).exists(), rel
    for rel in second:
        assert (out / rel).is_file(), rel


def test_missing_tool_names_the_debian_package(tmp_path, monkeypatch):
    import reviewer.demo.music as music

    real = music.shutil.which
    monkeypatch.setattr(music.shutil, "which", lambda name: None if name == "espeak-ng" else real(name))
    with pytest.raises(ReviewerError, match="espeak-ng"):
        build_demo(tmp_path / "x", quick=True)


def test_bad_params(tmp_path):
    with pytest.raises(ConfigError, match="n_series"):
        build_demo(tmp_path, n_series=1)
    with pytest.raises(ConfigError, match="sample_rate"):
        build_demo(tmp_path, sample_rate=100)


@pytest.mark.slow
def test_full_default_build(tmp_path):
    man = build_demo(tmp_path / "full")
    assert man.build_seconds < 180
    assert man.counts["episodes"] == 16 and man.counts["songs"] == 14
    assert man.counts["test_episodes"] == 4 and man.counts["episodes_without_intro"] >= 1
    assert man.counts["test_songs"] >= 2
    eps = _json(tmp_path / "full" / "episodes_truth.json")
    for rel, t in eps.items():
        assert 120.0 <= t["duration"] <= 300.0, (rel, t["duration"])
        if t["intro"] is not None:
            assert t["intro"]["start"] < 300.0
    offsets = [t["intro"]["start"] for t in eps.values() if t["intro"] is not None]
    assert min(offsets) == 0.0 and max(offsets) > 60.0
    for name, s in _json(tmp_path / "full" / "series_truth.json").items():
        assert 15.0 <= s["theme_duration"] <= 60.0, (name, s["theme_duration"])
    songs = _json(tmp_path / "full" / "songs_truth.json")
    genres = {s["genre"] for s in songs.values()}
    assert {"pop", "rock", "electronic", "hip-hop", "ballad", "folk"} <= genres
    for rel, s in songs.items():
        if s["kind"] == "short":
            assert s["duration"] < 30.0
        else:
            # 1.5-3.5 min; the long-bridge variation plays a 16-bar solo instead of an 8-bar bridge (up to ~4 min)
            top = 240.0 if "long_bridge" in s.get("variations", []) else 210.0
            assert 90.0 <= s["duration"] <= top, (rel, s["duration"], s.get("variations"))
    # frame-aligned chroma: a drifting tempo desyncs the two choruses, a verse over the chorus's chords is the point
    checked = [rel for rel, s in songs.items() if s["kind"] == "song"
               and not {"tempo_drift", "verse_chorus_chords"} & set(s.get("variations", []))]
    assert len(checked) >= 2
    for rel in checked:
        same, cross = _chorus_vs_verse(tmp_path / "full" / rel, songs[rel])
        assert same > cross + 0.1, (rel, same, cross)
    # every intro is where its label says (one series of four has no opening theme: 10 of 16 episodes have one)
    n_intros = sum(t["intro"] is not None for t in eps.values())
    assert n_intros >= 10 and _check_intros(tmp_path / "full") == n_intros
    assert {s["split"] for s in songs.values()} == {"train", "test"}
    by_artist = {}
    for s in songs.values():
        by_artist.setdefault(s["artist"], set()).add(s["split"])
    assert all(len(v) == 1 for v in by_artist.values())


def test_themeless_series_option_plans_more_series_without_a_theme():
    from reviewer.demo.series import plan_series

    def themeless(n, t=None):
        return [s.index for s in plan_series(17, n, 5, themeless_series=t) if not s.has_theme]

    # default: exactly today's plan (one series without a theme from four series on)
    assert themeless(3) == [] and themeless(6) == [4] and themeless(12) == [10]
    assert themeless(6, 1) == themeless(6)
    # N series right before the held-out (last) one; the others keep their plan
    assert themeless(16, 6) == [9, 10, 11, 12, 13, 14]
    assert themeless(6, 0) == []
    base, more = plan_series(17, 16, 5), plan_series(17, 16, 5, themeless_series=6)
    assert [(s.name, s.voices, s.formats, s.no_intro_episode) for s in base] == \
        [(s.name, s.voices, s.formats, s.no_intro_episode) for s in more]
    with pytest.raises(ConfigError, match="themeless_series"):
        plan_series(17, 6, 5, themeless_series=6)


def test_build_with_themeless_series(quick_lib, tmp_path):
    # the default build does not record the option (its digest is unchanged)
    assert "themeless_series" not in _json(quick_lib / "manifest.json")["params"]
    with pytest.raises(ConfigError, match="themeless_series"):
        build_demo(tmp_path / "bad", quick=True, themeless_series=2)
    out = tmp_path / "themeless"
    man = build_demo(out, seed=0, quick=True, themeless_series=1)
    assert man.params["themeless_series"] == 1
    eps = _json(out / "episodes_truth.json")
    first = [t for t in eps.values() if t["series_dir"] == "Harbor_Watch"]
    assert len(first) == 3 and not any(t["has_intro"] for t in first)
    assert _json(out / "series_truth.json")["Harbor_Watch"]["has_theme"] is False
    assert man.counts["episodes_without_intro"] >= 3
