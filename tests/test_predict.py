"""`reviewer predict`: detectors over store items → prediction rows with model versions and payloads."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from reviewer import store
from reviewer.services.library import ingest_paths
from reviewer.services.predict import predict_hooks, predict_intros

from test_hooks import POP, make_song
from test_intro import SR, babble, episode, tune


@pytest.fixture
def library(tmp_path, settings):
    rng = np.random.default_rng(3)
    theme = tune(np.random.default_rng(11), 20.0)
    root = tmp_path / "lib"
    truth = {}
    plans = [
        [("s", babble(rng, 15)), ("intro", theme), ("s", babble(rng, 25))],
        [("intro", theme * 0.5), ("s", babble(rng, 35))],
        [("s", babble(rng, 30)), ("intro", theme), ("s", babble(rng, 15))],
    ]
    for k, parts in enumerate(plans, start=1):
        y, span = episode(rng, parts)
        p = root / "series" / "Show" / "Season_01" / f"Show_S01E0{k}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, y, SR)
        truth[f"series__Show__Season_01__Show_S01E0{k}.wav"] = span
    audio, chorus = make_song(POP, seed=1)
    song = root / "songs" / "Band" / "Pop.wav"
    song.parent.mkdir(parents=True)
    sf.write(song, audio.y, audio.sr)
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    ingest_paths([root], engine=engine, root=root)
    return engine, truth, chorus


def test_predict_intros_and_hooks_store_rows(library, settings):
    engine, truth, chorus = library
    r = predict_intros(engine=engine, settings=settings)
    assert r["predicted"] == 3 and r["skipped"] == 0
    h = predict_hooks(engine=engine, settings=settings)
    assert h["predicted"] == 1
    with store.session_scope(engine) as s:
        for key, (ts, te) in truth.items():
            item = store.get_item_by_key(session=s, key=key)
            (pred,) = store.predictions_for(session=s, item_id=item.id, task="intro")
            assert pred.model_version_id == r["model_version_id"]
            assert abs(pred.start - ts) < 1.0 and abs(pred.end - te) < 1.0, (key, pred.start, pred.end, ts, te)
            assert {"method", "model_version", "segment_times", "segment_scores", "evidence"} <= set(pred.payload)
            assert pred.payload["evidence"]["matches"], "cross-episode evidence is recorded"
        song = store.get_item_by_key(session=s, key="songs__Band__Pop.wav")
        (hp,) = store.predictions_for(session=s, item_id=song.id, task="hook")
        assert {"chorus", "prechorus", "fallback", "segment_scores", "evidence"} <= set(hp.payload)
        assert any(abs(c[0] - chorus[0][0]) <= 3.0 for c in hp.payload["chorus"])
        versions = {(v.task, v.name) for v in store.list_model_versions(session=s)}
    assert {("intro", "intro-detector"), ("hook", "hook-detector")} <= versions
    # idempotent: the same model version does not predict twice
    again = predict_intros(engine=engine, settings=settings)
    assert again["predicted"] == 0 and again["skipped"] == 3


def test_predicting_keeps_the_trained_scorer_active(library, settings):
    """The detector version `predict` registers must not retire the trained scorer (bootstrap, re-predict rely on it)."""
    engine, _truth, _chorus = library
    with store.session_scope(engine) as s:
        trained = store.add_model_version(session=s, task="intro", name="crnn", version="intro-crnn-x",
                                          path=str(settings.models_dir / "intro" / "intro-crnn-x"), activate=True).id
    r = predict_intros(engine=engine, settings=settings)
    with store.session_scope(engine) as s:
        assert store.active_model_version(session=s, task="intro").id == trained
        assert store.active_model_version(session=s, task="intro", trained=False).id == r["model_version_id"]


def test_an_episode_that_broke_after_ingest_fails_alone(library, settings):
    """A file corrupted on disk after ingest: its siblings are still matched and stored, it is counted as failed."""
    engine, truth, _chorus = library
    with store.session_scope(engine) as s:
        bad = store.get_item_by_key(session=s, key="series__Show__Season_01__Show_S01E02.wav")
        bad_id, bad_path = bad.id, bad.path
    with open(bad_path, "wb") as f:
        f.write(b"RIFF\x00\x00")  # truncated header
    r = predict_intros(engine=engine, settings=settings)
    assert r["predicted"] == 2 and r["failed"] == 1
    with store.session_scope(engine) as s:
        assert store.predictions_for(session=s, item_id=bad_id, task="intro") == []
        for key, (ts, te) in truth.items():
            item = store.get_item_by_key(session=s, key=key)
            if item.id == bad_id:
                continue
            (pred,) = store.predictions_for(session=s, item_id=item.id, task="intro")
            assert abs(pred.start - ts) < 1.0 and abs(pred.end - te) < 1.0
