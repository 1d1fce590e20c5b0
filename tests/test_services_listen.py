"""Listen services: the snippet queue, ratings → MOS, blind A/B pairs and preference stats."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import soundfile as sf

from reviewer import store
from reviewer.errors import InvalidMediaError, NotFoundError, ValidationError
from reviewer.services import listen
from test_services_debug import make_library


@pytest.fixture
def lib(settings):
    return make_library(settings)


def test_queue_lists_playable_snippets_only(lib):
    q = listen.snippet_queue(engine=lib["engine"])
    # song_a × 2 versions, song_b, ep_1; ep_2 predicted "no intro" is not playable
    assert q["total"] == 4 and {r["prediction_id"] for r in q["rows"]} == {lib[k] for k in ("p1", "p2", "p3", "p4")}
    assert all(r["ratings"] == 0 and math.isnan(r["mos"]) for r in q["rows"])
    assert listen.snippet_queue(engine=lib["engine"], kind="episode")["total"] == 1
    assert listen.snippet_queue(engine=lib["engine"], model_version_id=lib["v2"])["rows"][0]["model"] == "hooknet 2"
    assert listen.snippet_queue(engine=lib["engine"], series="Band")["total"] == 3
    paged = listen.snippet_queue(engine=lib["engine"], page=2, page_size=3)
    assert paged["pages"] == 2 and len(paged["rows"]) == 1
    with pytest.raises(ValidationError, match="kind"):
        listen.snippet_queue(engine=lib["engine"], kind="podcast")


def test_rating_updates_mos_and_queue(lib):
    eng = lib["engine"]
    assert listen.mos_by_model_version(engine=eng).empty
    listen.rate(lib["song_a"], lib["p1"], 4, "nice hook", "pm", engine=eng)
    listen.rate(lib["song_b"], lib["p3"], 2, None, "pm", engine=eng)
    listen.rate(lib["song_a"], lib["p2"], 5, "  ", "other", engine=eng)
    mos = listen.mos_by_model_version(engine=eng).set_index("model")
    assert mos.loc["hooknet 1", "mos"] == 3.0 and mos.loc["hooknet 1", "ratings"] == 2
    assert mos.loc["hooknet 2", "mos"] == 5.0 and math.isnan(mos.loc["hooknet 2", "ci95"])
    assert list(mos.index)[0] == "hooknet 2"  # best first
    q = listen.snippet_queue(engine=eng, unrated_by="pm")
    assert {r["prediction_id"] for r in q["rows"]} == {lib["p2"], lib["p4"]}
    rows = {r["prediction_id"]: r for r in listen.snippet_queue(engine=eng)["rows"]}
    assert rows[lib["p1"]]["ratings"] == 1 and rows[lib["p1"]]["mos"] == 4.0
    with store.session_scope(eng) as s:
        saved = store.list_ratings(session=s, prediction_id=lib["p2"])
    assert saved[0].comment is None and saved[0].model_version_id == lib["v2"]


@pytest.mark.parametrize("bad", [0, 6, 3.5, "4", True, float("nan")])
def test_rating_out_of_range_is_refused(lib, bad):
    with pytest.raises(ValidationError, match="1..5"):
        listen.rate(lib["song_a"], lib["p1"], bad, engine=lib["engine"])


def test_rating_wrong_or_deleted_ids(lib):
    eng = lib["engine"]
    with pytest.raises(ValidationError, match="belongs to item"):
        listen.rate(lib["song_b"], lib["p1"], 3, engine=eng)
    with pytest.raises(NotFoundError, match="no prediction"):
        listen.rate(lib["song_a"], 9999, 3, engine=eng)
    with pytest.raises(NotFoundError):
        listen.rate(9999, lib["p1"], 3, engine=eng)
    with pytest.raises(ValidationError, match="whole number"):
        listen.rate("x", lib["p1"], 3, engine=eng)
    with pytest.raises(ValidationError, match="at most"):
        listen.rate(lib["song_a"], lib["p1"], 3, "x" * 3000, engine=eng)
    with store.session_scope(eng) as s:
        assert store.list_ratings(session=s) == []  # nothing half-saved


def test_ab_pair_is_blind_and_random_order(lib):
    eng = lib["engine"]
    seen = set()
    for seed in range(12):
        pair = listen.ab_pair(engine=eng, rng=np.random.default_rng(seed))
        assert pair["item_id"] == lib["song_a"]  # the only track with two versions
        assert set(pair) == {"item_id", "title", "a", "b"}  # no version revealed
        assert {pair["a"], pair["b"]} == {lib["p1"], lib["p2"]}
        seen.add(pair["a"])
    assert seen == {lib["p1"], lib["p2"]}
    assert listen.ab_pair(engine=eng, kind="episode") is None
    with pytest.raises(ValidationError, match="two model versions"):
        listen.ab_pair(engine=eng, item_id=lib["song_b"])


def test_ab_pairs_balance_version_pairs_tracks_and_people(lib):
    """With three versions, the least-judged version pair comes next, spread over tracks, and not twice to one person."""
    eng = lib["engine"]
    with store.session_scope(eng) as s:
        v3 = store.add_model_version(session=s, task="hook", name="hooknet", version="3").id
        for key, (a, b) in (("song_a", (30.0, 45.0)), ("song_b", (5.0, 20.0))):
            store.add_prediction(session=s, item_id=lib[key], model_version_id=v3, task="hook", start=a, end=b,
                                 confidence=0.5, payload={"method": "hooknet"})
        preds = {p.id: p.model_version_id for p, _ in store.newest_predictions(session=s, tasks=["hook"])}
    for _ in range(2):  # v1 vs v2 has been judged twice already
        listen.record_preference(lib["song_a"], lib["p1"], lib["p2"], "a", "old", engine=eng)
    rng = np.random.default_rng(0)
    picked = []
    for n in range(4):
        pair = listen.ab_pair(engine=eng, rng=rng)
        vp = tuple(sorted((preds[pair["a"]], preds[pair["b"]])))
        picked.append((pair["item_id"], vp))
        listen.record_preference(pair["item_id"], pair["a"], pair["b"], "same", "pm", engine=eng)
    counts = {vp: sum(1 for _, x in picked if x == vp) for vp in {x for _, x in picked}}
    v1, v2 = lib["v1"], lib["v2"]
    assert counts == {(v1, v3): 2, (v2, v3): 2}  # the fresh pairs caught up with v1 vs v2
    assert {i for i, vp in picked if vp == (v1, v3)} == {lib["song_a"], lib["song_b"]}  # spread over both tracks
    # "pm" has now judged every comparison but v1 vs v2 on song_a: that one is offered to pm next,
    # although v1 vs v2 is the most judged pair overall
    pair = listen.ab_pair(engine=eng, rng=rng, author="pm")
    assert pair["item_id"] == lib["song_a"] and {pair["a"], pair["b"]} == {lib["p1"], lib["p2"]}


def test_preferences_and_stats(lib):
    eng = lib["engine"]
    out = listen.record_preference(lib["song_a"], lib["p2"], lib["p1"], "a", "pm", engine=eng)
    assert out["a_model"] == "hooknet 2" and out["b_model"] == "hooknet 1"
    listen.record_preference(lib["song_a"], lib["p1"], lib["p2"], "a", "pm", engine=eng)
    listen.record_preference(lib["song_a"], lib["p1"], lib["p2"], "b", "pm", engine=eng)
    listen.record_preference(lib["song_a"], lib["p1"], lib["p2"], "same", "pm", engine=eng)
    st = listen.preference_stats(engine=eng)
    assert len(st) == 1
    row = st.iloc[0]
    assert (row["model_x"], row["model_y"]) == ("hooknet 1", "hooknet 2")
    assert (row["judgements"], row["x_preferred"], row["y_preferred"], row["same"]) == (4, 1, 2, 1)
    assert row["x_win_rate"] == pytest.approx(1 / 3)
    with pytest.raises(ValidationError, match="preference must be"):
        listen.record_preference(lib["song_a"], lib["p1"], lib["p2"], "c", engine=eng)
    with pytest.raises(ValidationError, match="same prediction"):
        listen.record_preference(lib["song_a"], lib["p1"], lib["p1"], "a", engine=eng)


def test_snippet_audio_cuts_a_clip_with_context(settings, wav_file):
    lib = make_library(settings)
    path = wav_file("song.wav", duration=20.0)
    with store.session_scope(lib["engine"]) as s:
        it = store.upsert_item(session=s, key="real", path=str(path), kind="song", duration=20.0)
        mv = store.add_model_version(session=s, task="hook", name="hooknet", version="9")
        pid = store.add_prediction(session=s, item_id=it.id, model_version_id=mv.id, task="hook", start=8.5, end=12.2).id
    audio = listen.snippet_audio(pid, engine=lib["engine"])
    y, sr = sf.read(io.BytesIO(audio.data))
    assert audio.clip_start == pytest.approx(3.5) and audio.clip_end == pytest.approx(17.2, abs=0.01)
    assert y.size / sr == pytest.approx(13.7, abs=0.01)
    assert (audio.start_time, audio.end_time) == (5, 9)  # whole seconds into the clip, snippet inside
    with pytest.raises(InvalidMediaError, match="does not exist"):
        listen.snippet_audio(lib["p1"], engine=lib["engine"])  # /nowhere/song_a.wav
    with pytest.raises(ValidationError, match="no region"):
        listen.snippet(lib["p5"], engine=lib["engine"])


def test_model_version_choices(lib):
    labels = [c["label"] for c in listen.model_version_choices(engine=lib["engine"])]
    assert labels == ["hooknet 1", "hooknet 2", "crnn 1"]
