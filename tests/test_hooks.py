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
        elif label == "half-chorus":  # the chorus's first 4 bars
            y = _section((3, 4, 0, 5), chorus_m, key=key, gain=1.0, drums=True, rng=rng)
            chorus.append((t, t + len(y) / SR))
        elif label == "verse":
            y = _section((0, 5, 1, 4, 0, 5, 1, 4), verse_m, key=key, gain=0.6, drums=False, rng=rng)
        elif label == "verse-cc":  # a verse over the chorus's chords, with drums: only level and melody differ
            y = _section((3, 4, 0, 5, 3, 4, 0, 5), verse_m, key=key, gain=0.3, drums=True, rng=rng)
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
    # the shipped learned ranker by default, the hand-set heuristic on request
    assert "hook-ranker" in one["model_version"] and "heuristic" not in one["model_version"]
    out_h = tmp_path / "hooks_heuristic.json"
    assert main(["predict-hooks", str(d), "--out", str(out_h), "--heuristic"]) == 0
    assert "heuristic" in json.loads(out_h.read_text())["a/one.wav"]["model_version"]
    assert main(["predict-hooks", str(d), "--out", str(out_h), "--heuristic", "--model", "x.joblib"]) == 2
    assert main(["predict-hooks", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_verse_over_chorus_chords_is_not_a_chorus():
    """The loudness affinity keeps a quieter verse over the chorus's chords out of the chorus occurrences."""
    plan = [("free", 0), ("verse-cc", 0), ("chorus", 0), ("verse-cc", 0), ("chorus", 0), ("free", 0), ("chorus", 0), ("free", 0)]
    audio, chorus = make_song(plan, seed=7)
    starts = np.cumsum([0.0] + [8.0 if lab == "free" else 16.0 for lab, _ in plan])  # 4- and 8-bar sections
    assert np.allclose([c[0] for c in chorus], [t for t, (lab, _) in zip(starts, plan) if lab == "chorus"])
    verses = [float(t) for t, (lab, _) in zip(starts, plan) if lab == "verse-cc"]
    pred = detect_hooks(load_song(audio, key="vcc"), config=HookConfig())
    assert _starts_match(pred.chorus, chorus), (pred.chorus, chorus)
    assert not any(abs(c[0] - v) <= 3.0 for c in pred.chorus for v in verses), (pred.chorus, verses)
    assert chorus[0][0] - 20 <= pred.snippet[0] <= chorus[0][0] + 3


def test_loudness_affinity_separates_levels():
    from reviewer.detect.ssm import combine_affinities, loudness_affinity

    rms = np.r_[np.full(10, 0.1), np.full(10, 0.4), np.full(10, 0.1)]
    A = loudness_affinity(rms, width=1)
    assert A[0, 25] > 0.99 and A[0, 15] < 0.01  # same level far apart vs 12 dB apart
    S = np.random.default_rng(0).random((30, 30))
    mixed = combine_affinities(S, None, loudness_S=A, loudness_weight=0.5)
    loud_part = mixed - 0.5 * combine_affinities(S, None)  # the loudness share, rank-normalised
    assert loud_part[0, 25] - loud_part[0, 15] > 0.2
    np.testing.assert_allclose(combine_affinities(S, None, loudness_S=A, loudness_weight=0.0), combine_affinities(S, None))


def test_short_track_claims_its_main_section():
    """A track shorter than the snippet that repeats nothing: whole-track snippet, chorus = its body (flagged)."""
    audio, chorus = make_song([("free", 0), ("chorus", 0)], seed=8)  # 8 s passage + 16 s chorus
    pred = detect_hooks(load_song(audio, key="short"), config=HookConfig(snippet_len=40.0))
    assert pred.snippet[0] == 0.0 and not pred.fallback
    if pred.evidence["chorus_source"] != "repetition":
        assert pred.evidence["chorus_source"].endswith("(heuristic)")
        assert len(pred.chorus) == 1 and abs(pred.chorus[0][0] - chorus[0][0]) <= 3.0, (pred.chorus, chorus)


def test_ranker_features_see_the_level_jump_into_a_chorus():
    from reviewer.detect.ranker import candidate_features

    res, m = 0.5, 120
    grid = np.arange(m) * res
    rms = np.full(m, 0.05)
    for a in (20, 80):  # loud 10 s choruses at 10 s and 40 s
        rms[a:a + 20] = 0.3
    A = np.eye(m, dtype=np.float32)
    for a, b in ((20, 80),):
        A[a + np.arange(20), b + np.arange(20)] = 0.9
    f = candidate_features([(10.0, 20.0), (40.0, 50.0)], [], k=3, duration=60.0, grid=grid, rms=rms,
                           onset=np.ones(m), affinity=A, shifts=np.zeros((m, m), np.int8), novelty=np.zeros(m),
                           label_rms=[0.05, 0.3])
    col = dict(zip(FEATURES, f))
    assert col["loud_jump"] == pytest.approx(20 * np.log10(0.3 / 0.05), abs=0.01)
    assert col["rep_min"] == pytest.approx(0.9, abs=1e-6) and col["dur_ratio"] == pytest.approx(1.0)
    quiet = candidate_features([(0.0, 10.0), (30.0, 40.0)], [], k=3, duration=60.0, grid=grid, rms=rms,
                               onset=np.ones(m), affinity=A, shifts=np.zeros((m, m), np.int8), novelty=np.zeros(m),
                               label_rms=[0.05, 0.3])
    assert dict(zip(FEATURES, quiet))["loud_jump"] < 0.5
    assert col["inner_jump"] < 0  # nothing inside jumps as much as the start
    merged = candidate_features([(4.0, 20.0), (34.0, 50.0)], [], k=3, duration=60.0, grid=grid, rms=rms,
                                onset=np.ones(m), affinity=A, shifts=np.zeros((m, m), np.int8), novelty=np.zeros(m),
                                label_rms=[0.05, 0.3])
    assert dict(zip(FEATURES, merged))["inner_jump"] > 10.0  # the chorus starts inside: a pre-chorus merged in


# --------------------------------------------------------------------------- the harder demo songs


def _spec(genre: str = "pop"):
    from reviewer.demo.songs import SongSpec

    return SongSpec(0, genre, "song", "A", "T", ".flac", "train")


def test_demo_song_variations_change_the_plan():
    from reviewer.demo.music import rng_for
    from reviewer.demo.songs import _song_plan

    def plan(*variations):
        return _song_plan(_spec(), rng_for(1, "x"), quick=False, variations=tuple(variations))[0]

    base = plan()
    assert base[0].label == "intro"
    opens = plan("opens_with_chorus")
    assert opens[0].label == "chorus" and opens[0].bars == 8
    ch = [p for p in plan("half_chorus") if p.label == "chorus"]
    assert ch[0].bars == 8 and sorted(p.bars for p in ch).count(4) == 1
    same = plan("verse_chorus_chords")
    verse = next(p for p in same if p.label == "verse")
    assert verse.progression == next(p for p in same if p.label == "chorus").progression
    assert next(p for p in base if p.label == "verse").progression != next(p for p in base if p.label == "chorus").progression
    bridge = [p for p in plan("long_bridge") if p.label == "bridge"]
    assert bridge and all(b.bars == 16 and b.lead_program is not None for b in bridge)


def test_tempo_drift_warps_notes_and_sections_together():
    from reviewer.demo.music import SectionPlan, Style, compose, make_motif, rng_for
    from reviewer.demo.songs import tempo_drift_map, warp_composition

    rng = rng_for(2, "drift-test")
    m = make_motif(rng)
    plan = [SectionPlan("verse", 4, (0, 3), m), SectionPlan("chorus", 4, (3, 4), m), SectionPlan("chorus", 4, (3, 4), m)]
    comp = compose(plan, Style("pop"), tempo=120.0, rng=rng)
    f = tempo_drift_map(rng_for(2, "map"), comp.duration)
    t = np.linspace(0, comp.duration, 500)
    assert np.all(np.diff(f(t)) > 0) and float(f(0.0)) == pytest.approx(0.0)
    w = warp_composition(comp, f)
    lens = [s.end - s.start for s in w.sections]
    assert max(lens[1:]) / min(lens[1:]) > 1.005  # the two choruses no longer last the same
    assert w.sections[-1].end == pytest.approx(w.duration, abs=1e-6)
    n0 = comp.midi.instruments[0].notes[5]
    n1 = w.midi.instruments[0].notes[5]
    assert n1.start == pytest.approx(float(f(n0.start))) and n1.pitch == n0.pitch
    assert comp.midi.instruments[0].notes[5].start == n0.start  # the original is untouched


def test_demo_variations_are_drawn_only_for_full_songs():
    from reviewer.demo.songs import SongSpec, draw_variations, plan_songs

    specs = plan_songs(3, 30)
    drawn = [draw_variations(3, sp, quick=False) for sp in specs]
    assert all(d == () for sp, d in zip(specs, drawn) if sp.kind != "song")
    names = {n for d in drawn for n in d}
    assert names == {"opens_with_chorus", "half_chorus", "tempo_drift", "long_bridge", "verse_chorus_chords"}
    assert draw_variations(3, specs[0], quick=True) == ()
    assert draw_variations(3, specs[0], quick=False) == drawn[0]  # deterministic per seed and song
    assert draw_variations(3, SongSpec(0, "ambient", "through-composed", "A", "T", ".flac", "train"), quick=False) == ()



def test_snippet_start_caps_a_verse_taken_for_the_prechorus():
    """A 20 s 'pre-chorus' (really the verse) before the first chorus must not fill the snippet:
    at most 40 % of the 30 s snippet lies before the chorus; a short real pre-chorus is kept whole."""
    from reviewer.detect.hooks import snippet_start

    kw = dict(resolution=0.5, snippet_len=30.0, max_share=0.4)
    assert snippet_start([(40.0, 56.0), (90.0, 106.0)], [(20.0, 40.0), (70.0, 90.0)], **kw) == pytest.approx(28.0)
    assert snippet_start([(40.0, 56.0), (90.0, 106.0)], [(32.0, 40.0), (82.0, 90.0)], **kw) == pytest.approx(32.0)
    assert snippet_start([(40.0, 56.0), (90.0, 106.0)], [], **kw) == pytest.approx(40.0)
    assert HookConfig().max_prechorus_share == pytest.approx(0.4)


def _merged_prechorus_tracks(*, rise_db: float):
    """Grid novelty / rms (0.5 s) of a song whose three 24 s occurrences are an 8 s pre-chorus + a 16 s
    chorus. The chorus repeats its phrase after 8 s (an internal novelty peak, same level); the
    pre-chorus -> chorus boundary has a novelty peak and the chorus is ``rise_db`` louder."""
    res, m = 0.5, 320
    nov = np.full(m, 0.1)
    rms = np.full(m, 0.1)
    occ = [(20.0, 44.0), (70.0, 94.0), (120.0, 144.0)]
    for s, _ in occ:
        i = int(s / res)
        nov[i] = 1.0                                   # boundary into the pre-chorus
        nov[i + 16] = 0.45                             # pre-chorus -> chorus
        nov[i + 32] = 0.5                              # the chorus repeats its phrase
        rms[i + 16:i + 48] = 0.1 * 10 ** (rise_db / 20)
    return occ, nov, rms, res


def test_split_merged_prechorus_at_the_level_rise():
    from reviewer.detect.hooks import split_merged_prechorus

    occ, nov, rms, res = _merged_prechorus_tracks(rise_db=2.0)
    sp = split_merged_prechorus(occ, nov, rms, resolution=res, min_rise_db=0.5, min_novelty=0.3)
    assert sp is not None
    chorus, pre = sp
    assert chorus == [(28.0, 44.0), (78.0, 94.0), (128.0, 144.0)]
    assert pre == [(20.0, 28.0), (70.0, 78.0), (120.0, 128.0)]
    # no level rise: the peak could be a phrase repeat inside the chorus, nothing is split
    occ, nov, rms, res = _merged_prechorus_tracks(rise_db=0.0)
    assert split_merged_prechorus(occ, nov, rms, resolution=res, min_rise_db=0.5, min_novelty=0.3) is None


def test_candidates_include_the_split_of_a_merged_prechorus():
    """The merged candidate stays (the ranker chooses) and its split joins the candidates."""
    from reviewer.detect.hooks import _candidates
    from reviewer.detect.structure import Structure

    occ, nov, rms, res = _merged_prechorus_tracks(rise_db=2.0)
    secs = [(0.0, 20.0, 0), (20.0, 44.0, 1), (44.0, 70.0, 0), (70.0, 94.0, 1), (94.0, 120.0, 2), (120.0, 144.0, 1),
            (144.0, 160.0, 2)]
    labels = np.concatenate([np.full(int((e - s) / res), lab) for s, e, lab in secs])
    st = Structure(k=3, labels=labels, sections=secs)
    cands = _candidates([st], config=HookConfig(), duration=160.0, novelty=nov, rms=rms)
    occs = [c.occurrences for c in cands]
    assert [(20.0, 44.0), (70.0, 94.0), (120.0, 144.0)] in occs
    split = [c for c in cands if c.occurrences == [(28.0, 44.0), (78.0, 94.0), (128.0, 144.0)]]
    assert len(split) == 1 and split[0].prechorus == [(20.0, 28.0), (70.0, 78.0), (120.0, 128.0)]
    assert not any(c.occurrences[0][0] == 28.0 for c in _candidates([st], config=replace(HookConfig(), split_prechorus=False),
                                                                    duration=160.0, novelty=nov, rms=rms))


# --------------------------------------------------------------------------- half choruses, key changes


def test_key_change_inside_an_occurrence_is_cut():
    """A half chorus played straight into the last chorus a tone higher is one repeated block to a
    key-invariant analysis; the key change inside it is where the last chorus starts."""
    from reviewer.detect.hooks import analyse_song, split_key_change

    plan = POP[:-3] + [("half-chorus", 0), ("chorus", 2), ("free", 0)]
    audio, chorus = make_song(plan, seed=5)
    an = analyse_song(load_song(audio, key="half+kc"), config=HookConfig()).analysis
    (hs, _), (cs, ce) = chorus[-2], chorus[-1]
    cut = split_key_change((hs, ce), an.shifts, an.chroma, resolution=0.5)
    assert cut is not None and abs(cut - cs) <= 1.0, (cut, cs)
    # one key throughout: a chorus's internal repeats are not a key change
    assert split_key_change(chorus[0], an.shifts, an.chroma, resolution=0.5) is None
    same = make_song(POP[:-3] + [("half-chorus", 0), ("chorus", 0), ("free", 0)], seed=5)[0]
    an0 = analyse_song(load_song(same, key="half"), config=HookConfig()).analysis
    assert split_key_change((hs, ce), an0.shifts, an0.chroma, resolution=0.5) is None


def test_candidates_cut_occurrences_at_a_key_change():
    from reviewer.detect.hooks import _candidates, analyse_song
    from reviewer.detect.structure import Structure

    plan = POP[:-3] + [("half-chorus", 0), ("chorus", 2), ("free", 0)]
    audio, chorus = make_song(plan, seed=5)
    an = analyse_song(load_song(audio, key="half+kc"), config=HookConfig()).analysis
    res, m = 0.5, an.shifts.shape[0]
    # the structure labels the half chorus and the last chorus as one section of the chorus label
    secs = [(0.0, chorus[0][0], 0), (chorus[0][0], chorus[0][1], 1), (chorus[0][1], chorus[1][0], 0),
            (chorus[1][0], chorus[1][1], 1), (chorus[1][1], chorus[2][0], 2), (chorus[2][0], chorus[3][1], 1),
            (chorus[3][1], m * res, 2)]
    labels = np.concatenate([np.full(int(round((e - s) / res)), lab) for s, e, lab in secs])[:m]
    st = Structure(k=3, labels=labels, sections=secs)
    occ = [c.occurrences for c in _candidates([st], config=HookConfig(), duration=m * res, an=an)]
    best = next(o for o in occ if len(o) == 4)
    assert abs(best[3][0] - chorus[3][0]) <= 1.0 and abs(best[2][0] - chorus[2][0]) <= 0.5, (best, chorus)
    off = [c.occurrences for c in _candidates([st], config=replace(HookConfig(), split_key_change=False),
                                               duration=m * res, an=an)]
    assert not any(len(o) == 4 and abs(o[3][0] - chorus[3][0]) <= 3.0 for o in off), off


def test_demo_prechorus_always_leads_into_a_chorus():
    """The truth must match what the song sounds like: a pre-chorus builds into a chorus, never into
    the bridge (a two-chorus song with a long bridge used to play verse, pre-chorus, bridge, chorus)."""
    from reviewer.demo.music import rng_for
    from reviewer.demo.songs import _song_plan, draw_variations, plan_songs

    seen_long_bridge_two_choruses = 0
    for seed in (0, 1, 2, 3):
        for sp in plan_songs(seed, 30):
            if sp.kind != "song":
                continue
            v = draw_variations(seed, sp, quick=False)
            plan, _ = _song_plan(sp, rng_for(seed, "song", sp.index, sp.genre), quick=False, variations=v)
            labels = [p.label for p in plan]
            assert all(b == "chorus" for a, b in zip(labels, labels[1:]) if a == "pre-chorus"), (seed, sp.title, labels)
            if "long_bridge" in v and labels.count("chorus") == 2:
                seen_long_bridge_two_choruses += 1
                assert labels.index("bridge") < max(i for i, lab in enumerate(labels) if lab == "chorus")
    assert seen_long_bridge_two_choruses >= 1


def test_split_merged_prechorus_leaves_a_back_to_back_chorus_whole():
    """The last chorus played twice: the second copy starts where the first ends and has no
    pre-chorus; it must not lose its first seconds to a split."""
    from reviewer.detect.hooks import split_merged_prechorus

    occ, nov, rms, res = _merged_prechorus_tracks(rise_db=2.0)
    occ = occ + [(144.0, 160.0)]  # the chorus again, straight after the third occurrence
    sp = split_merged_prechorus(occ, nov, rms, resolution=res, min_rise_db=0.5, min_novelty=0.3)
    assert sp is not None
    assert sp[0] == [(28.0, 44.0), (78.0, 94.0), (128.0, 144.0), (144.0, 160.0)]
    assert sp[1] == [(20.0, 28.0), (70.0, 78.0), (120.0, 128.0)]



def test_back_to_back_split_needs_equal_levels():
    """An occurrence twice the typical length is two back-to-back choruses only when both halves are
    equally loud; a chorus followed by a quiet outro over the same chords stays one occurrence."""
    from reviewer.detect.hooks import _split_multiples

    res = 0.5
    rms = np.full(400, 0.1)
    occ = [(20.0, 36.0), (60.0, 76.0), (120.0, 152.0)]
    assert _split_multiples(occ, rms, resolution=res) == occ[:2] + [(120.0, 136.0), (136.0, 152.0)]
    rms[int(136.0 / res):int(152.0 / res)] = 0.1 * 10 ** (-6.0 / 20)  # the tail is 6 dB quieter
    assert _split_multiples(occ, rms, resolution=res) == occ
    assert _split_multiples(occ) == occ[:2] + [(120.0, 136.0), (136.0, 152.0)]  # without levels: as before


def test_snippet_start_moves_back_from_a_chorus_tail():
    """A first occurrence much shorter than the others is the tail of its chorus (its head fell
    into the pre-chorus or verse label): the snippet starts a typical chorus length before its end."""
    from reviewer.detect.hooks import snippet_start

    kw = dict(resolution=0.5, snippet_len=30.0, max_share=0.4)
    chorus = [(63.0, 72.0), (108.0, 132.0), (168.0, 192.0)]  # the first chorus really is 48-72
    assert snippet_start(chorus, [(96.0, 108.0), (156.0, 168.0)], **kw) == pytest.approx(48.0)
    assert snippet_start([(70.0, 72.0)] + chorus[1:], [], **kw) == pytest.approx(48.0)
    # a first occurrence of about the others' length keeps its own start (and pre-chorus)
    assert snippet_start([(50.0, 72.0)] + chorus[1:], [(38.0, 50.0)], **kw) == pytest.approx(38.0)
    assert snippet_start([(10.0, 16.0), (40.0, 48.0)], [], **kw) == pytest.approx(10.0)


def test_split_merged_prechorus_with_a_half_chorus():
    """Three 12 s pre-choruses, two followed by a 16 s chorus and the last by an 8 s half chorus: the
    pre-chorus is longer than the share allowed of the *shortest* occurrence (a pre-chorus + half
    chorus), but not of a typical one; the split is found in all three."""
    from reviewer.detect.hooks import split_merged_prechorus

    res, m = 0.5, 320
    nov, rms = np.full(m, 0.1), np.full(m, 0.1)
    occ = [(20.0, 48.0), (70.0, 98.0), (120.0, 140.0)]
    for s, e in occ:
        i = int(s / res)
        nov[i] = 1.0                                    # boundary into the pre-chorus
        nov[i + 24] = 0.45                              # pre-chorus -> chorus, 12 s in
        nov[i + 40] = 0.5                               # the chorus repeats its phrase
        rms[i + 24:int(e / res)] = 0.1 * 10 ** (2.0 / 20)
    sp = split_merged_prechorus(occ, nov, rms, resolution=res, min_rise_db=0.5, min_novelty=0.3, min_part=6.0)
    assert sp is not None
    assert sp[0] == [(32.0, 48.0), (82.0, 98.0), (132.0, 140.0)]
    assert sp[1] == [(20.0, 32.0), (70.0, 82.0), (120.0, 132.0)]


def _chorus_sim(choruses, *, m: int = 300, res: float = 0.5) -> np.ndarray:
    """Key-invariant chroma similarity (0.5 s grid) of a song whose choruses ``(start, end, first bar offset)``
    are the same 16 s of chords (a half chorus starts ``offset`` s into them): 0.9 between the same
    chord position, 0.3 elsewhere."""
    pos = np.full(m, -1.0)
    for s, e, off in choruses:
        i0, i1 = int(s / res), int(e / res)
        pos[i0:i1] = off + np.arange(i1 - i0) * res
    same = (pos[:, None] >= 0) & (np.abs(pos[:, None] - pos[None, :]) < res / 2)
    return np.where(same, 0.9, 0.3)


def test_short_occurrence_gets_its_matching_head_back():
    """The last chorus's first 8 s have another lead (labelled apart) but the same chords: the short
    occurrence moves back to a typical length. A real half chorus (its pre-chorus before it) stays."""
    from reviewer.detect.hooks import extend_short_heads

    occ = [(20.0, 36.0), (60.0, 76.0), (108.0, 116.0)]
    sim = _chorus_sim([(20.0, 36.0, 0.0), (60.0, 76.0, 0.0), (100.0, 116.0, 0.0)])
    assert extend_short_heads(occ, sim, resolution=0.5) == [(20.0, 36.0), (60.0, 76.0), (100.0, 116.0)]
    half = _chorus_sim([(20.0, 36.0, 0.0), (60.0, 76.0, 0.0), (108.0, 116.0, 8.0)])
    assert extend_short_heads(occ, half, resolution=0.5) == occ
    # never back over the previous occurrence
    occ2 = [(20.0, 36.0), (60.0, 76.0), (80.0, 86.0)]
    sim2 = _chorus_sim([(20.0, 36.0, 0.0), (60.0, 76.0, 0.0), (76.0, 86.0, 6.0)])
    assert extend_short_heads(occ2, sim2, resolution=0.5)[2][0] >= 76.0
