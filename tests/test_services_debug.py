"""Segment debugger services on a small synthetic library (segment tables written directly, no audio)."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer import store
from reviewer.aggregate import SegmentTable
from reviewer.config import load_config
from reviewer.errors import NotFoundError, ValidationError
from reviewer.pipeline import save_table, table_path
from reviewer.segments import make_segments
from reviewer.services import debug

WAV2VEC_REASON = "no wav2vec model configured (set REVIEWER_WAV2VEC_PATH to a local model folder)"
EMOTION_REASON = "no emotion model configured (set REVIEWER_EMOTION_PATH to a local model folder)"


def synthetic_table(duration: float, *, seed: int = 0, loud: tuple[float, float] | None = None) -> SegmentTable:
    """A segment table with rms + f0 present, emotion and wav2vec missing (no model configured)."""
    rng = np.random.default_rng(seed)
    segs = make_segments(duration, 3.0, 1.5)
    n = len(segs)
    rms = 0.05 + 0.01 * rng.random(n)
    if loud is not None:
        rms[(segs.starts >= loud[0]) & (segs.ends <= loud[1])] += 0.2
    vf = rng.random(n)
    f0 = np.where(vf > 0.1, 200 + 20 * rng.random(n), np.nan)
    f0[3] = np.nan
    values = np.column_stack([rms, 0.01 * rng.random(n), rms + 0.02, rms - 0.02, f0, np.full(n, 3.0), vf,
                              np.full((n, 3), np.nan)]).astype(np.float32)
    groups = {"rms": ("rms_mean", "rms_std", "rms_max", "rms_min"), "f0": ("f0_mean", "f0_std", "voiced_fraction"),
              "emotion": ("emotion_valence", "emotion_arousal", "emotion_dom_conf"), "wav2vec": ()}
    missing = np.zeros((n, 4), dtype=bool)
    missing[:, 2:] = True
    missing[3, 1] = True
    return SegmentTable(segments=segs, columns=tuple(c for cs in groups.values() for c in cs), values=values,
                        groups=groups, missing=missing,
                        missing_reasons={"rms": None, "f0": None, "emotion": EMOTION_REASON, "wav2vec": WAV2VEC_REASON})


def ssm_payload(duration: float, scores: np.ndarray, times: list[list[float]]) -> dict:
    t = np.linspace(0, duration, 20)
    m = np.eye(20) + 0.1
    return {"method": "hooknet", "model_version": "x", "chorus": [[20.0, 30.0], [40.0, 50.0]], "prechorus": [[15.0, 20.0]],
            "fallback": False, "fallback_reason": None, "segment_times": times, "segment_scores": scores.tolist(),
            "evidence": {"ssm": {"times": t.tolist(), "matrix": m.tolist()},
                         "repetitions": [{"a": [20.0, 30.0], "b": [40.0, 50.0], "score": 0.9}],
                         # the hook detector's ranked candidates: occurrences, no start/end of their own
                         "candidates": [{"chorus": [[20.0, 30.0], [40.0, 50.0]], "k": 2, "score": 0.9},
                                        {"chorus": [[5.0, 15.0], [25.0, 35.0]], "k": 3, "score": 0.2}]}}


def make_library(settings, *, predictions: bool = True) -> dict:
    """Two songs and two episodes with tables on disk, truth labels and (optionally) predictions of two versions."""
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    config = load_config(None)
    ids: dict = {}
    with store.session_scope(engine) as s:
        for key, kind, dur, extra in (("song_a", "song", 60.0, {}), ("song_b", "song", 45.0, {}),
                                      ("ep_1", "episode", 90.0, {"has_intro": True}),
                                      ("ep_2", "episode", 80.0, {"has_intro": False})):
            it = store.upsert_item(session=s, key=key, path=f"/nowhere/{key}.wav", kind=kind, duration=dur,
                                   series="Show" if kind == "episode" else None,
                                   artist="Band" if kind == "song" else None, title=key.upper(), extra=extra)
            ids[key] = it.id
            save_table(synthetic_table(dur, seed=it.id, loud=(20.0, 30.0)), table_path(settings, key, config))
        store.add_label(session=s, item_id=ids["song_a"], kind="hook", start=20.0, end=30.0, source="truth")
        store.add_label(session=s, item_id=ids["song_a"], kind="chorus", start=40.0, end=50.0, source="truth")
        store.add_label(session=s, item_id=ids["song_b"], kind="hook", start=10.0, end=20.0, source="truth")
        store.add_label(session=s, item_id=ids["ep_1"], kind="intro", start=5.0, end=35.0, source="truth")
        if predictions:
            v1 = store.add_model_version(session=s, task="hook", name="hooknet", version="1")
            v2 = store.add_model_version(session=s, task="hook", name="hooknet", version="2")
            vi = store.add_model_version(session=s, task="intro", name="crnn", version="1")
            ids.update(v1=v1.id, v2=v2.id, vi=vi.id)
            segs = make_segments(60.0, 3.0, 1.5)
            times = [[float(a), float(b)] for a, b in zip(segs.starts, segs.ends)]
            scores = np.clip(np.exp(-((segs.starts - 24.0) / 6.0) ** 2), 0, 1)
            p1 = store.add_prediction(session=s, item_id=ids["song_a"], model_version_id=v1.id, task="hook", start=21.0,
                                      end=30.0, confidence=0.8, payload=ssm_payload(60.0, scores, times))
            p2 = store.add_prediction(session=s, item_id=ids["song_a"], model_version_id=v2.id, task="hook", start=40.0,
                                      end=50.0, confidence=0.6, payload={"method": "hooknet"})
            p3 = store.add_prediction(session=s, item_id=ids["song_b"], model_version_id=v1.id, task="hook", start=10.0,
                                      end=20.0, confidence=0.9, payload={"method": "hooknet"})
            p4 = store.add_prediction(
                session=s, item_id=ids["ep_1"], model_version_id=vi.id, task="intro", start=6.0, end=35.0, confidence=0.7,
                payload={"method": "crnn", "segment_times": [], "segment_scores": [],
                         "evidence": {"matches": [{"other_key": "ep_2", "start": 6.0, "end": 35.0, "other_start": 0.0,
                                                   "other_end": 29.0, "score": 0.8}], "candidates": []}})
            p5 = store.add_prediction(session=s, item_id=ids["ep_2"], model_version_id=vi.id, task="intro", start=None,
                                      end=None, confidence=0.9, payload={"method": "crnn"})
            ids.update(p1=p1.id, p2=p2.id, p3=p3.id, p4=p4.id, p5=p5.id)
    ids["engine"] = engine
    return ids


@pytest.fixture
def lib(settings):
    return make_library(settings)


def test_segment_table_view_has_selection_and_reasons(lib, settings):
    df = debug.segment_table_view(lib["song_a"], engine=lib["engine"], settings=settings, max_seq_len=16)
    assert len(df) == len(make_segments(60.0, 3.0, 1.5))
    assert int(df["chosen"].sum()) == 16
    assert set(df.loc[df["chosen"], "reason"]) == {"boundary_start", "boundary_end", "importance"}
    assert (df.loc[~df["chosen"], "reason"] == "").all()
    assert {"importance_rms", "importance_voiced_fraction", "rms_mean", "emotion_missing", "wav2vec_missing"} <= set(df.columns)
    np.testing.assert_allclose(df["importance"], df["importance_rms"] + df["importance_voiced_fraction"])
    # the loud region (the hook) wins importance
    assert df.loc[df["reason"] == "importance", "labels"].str.contains("hook").sum() >= 4
    assert df["emotion_missing"].all() and np.isnan(df["emotion_valence"]).all()


def test_default_max_seq_len_keeps_everything(lib, settings):
    df = debug.segment_table_view(lib["song_b"], engine=lib["engine"], settings=settings)
    assert df["chosen"].all() and set(df["reason"]) == {"all"}


def test_bad_ids_and_unextracted_items(lib, settings):
    with pytest.raises(ValidationError, match="whole number"):
        debug.segment_table_view("abc", engine=lib["engine"], settings=settings)
    with pytest.raises(NotFoundError, match="999"):
        debug.segment_table_view(999, engine=lib["engine"], settings=settings)
    with store.session_scope(lib["engine"]) as s:
        new = store.upsert_item(session=s, key="fresh", path="/x/fresh.wav", kind="song", duration=10.0).id
    with pytest.raises(NotFoundError, match="reviewer extract"):
        debug.feature_heatmap(new, engine=lib["engine"], settings=settings)
    with pytest.raises(ValidationError, match="feature set"):
        debug.feature_heatmap(lib["song_a"], engine=lib["engine"], settings=settings, feature_set="nope")


def test_missing_features_are_reasons_never_values(lib, settings):
    miss = debug.missing_features(lib["song_a"], engine=lib["engine"], settings=settings).set_index("group")
    assert miss.loc["wav2vec", "reason"].startswith("wav2vec: no wav2vec model configured")
    assert miss.loc["emotion", "missing_share"] == 1.0 and "emotion model" in miss.loc["emotion", "reason"]
    assert miss.loc["rms", "reason"] == "" and miss.loc["rms", "missing_share"] == 0.0
    assert "no frames in 1 of" in miss.loc["f0", "reason"]


def test_feature_heatmap_is_zscored_with_missing_map(lib, settings):
    hm = debug.feature_heatmap(lib["song_a"], engine=lib["engine"], settings=settings)
    z = np.asarray(hm["z"])
    assert z.shape == (len(hm["features"]), len(hm["times"]))
    row = z[hm["features"].index("rms_mean")]
    assert abs(np.nanmean(row)) < 1e-6 and abs(np.nanstd(row) - 1) < 1e-6
    assert (z[hm["features"].index("f0_std")] == 0).sum() > 0  # constant feature → 0, not NaN
    assert np.isnan(z[hm["features"].index("emotion_valence")]).all()
    assert hm["missing"].shape == (4, len(hm["times"])) and hm["missing"][hm["groups"].index("emotion")].all()


def test_strategy_comparison_with_model_scores(lib, settings):
    cmp = debug.strategy_comparison(lib["song_a"], engine=lib["engine"], settings=settings, max_seq_len=16)
    assert cmp["strategies"] == ["uniform", "boundary_importance", "model"]
    fr = cmp["frame"]
    assert fr["uniform"].sum() == fr["boundary_importance"].sum() == fr["model"].sum() == 16
    top = fr.loc[fr["model"], "start"]
    assert top.between(10, 40).all()  # the scores peak at 24 s
    assert cmp["model"] == "hooknet 1"
    summ = {r["strategy"]: r for r in cmp["summary"]}
    assert summ["model"]["labelled_kept"] >= summ["uniform"]["labelled_kept"]


def test_strategy_comparison_without_predictions(settings):
    lib = make_library(settings, predictions=False)
    cmp = debug.strategy_comparison(lib["song_a"], engine=lib["engine"], settings=settings, max_seq_len=16)
    assert cmp["strategies"] == ["uniform", "boundary_importance"] and cmp["model"] is None
    assert fr_all_nan(cmp["frame"]["model_score"])
    assert debug.prediction_evidence(lib["song_a"], engine=lib["engine"]) == []
    assert debug.predictions_vs_labels(engine=lib["engine"]).empty


def fr_all_nan(col) -> bool:
    return bool(np.isnan(col.to_numpy(dtype=float)).all())


def test_prediction_evidence(lib, settings):
    ev = debug.prediction_evidence(lib["song_a"], engine=lib["engine"])
    assert [e["id"] for e in ev] == [lib["p2"], lib["p1"]]
    full = ev[1]
    assert full["ssm"]["matrix"] and len(full["ssm"]["times"]) == 20
    assert full["repetitions"][0]["score"] == 0.9 and full["chorus"] == [[20.0, 30.0], [40.0, 50.0]]
    assert len(full["segment_scores"]) == len(full["segment_times"]) > 0
    assert ev[0]["ssm"] is None and ev[0]["segment_scores"] == []
    # hook candidates are sections (occurrence lists), not intervals: apart from the intro candidates
    assert full["candidates"] == [] and [c["score"] for c in full["section_candidates"]] == [0.9, 0.2]
    assert full["section_candidates"][0]["chorus"] == [[20.0, 30.0], [40.0, 50.0]]
    intro = debug.prediction_evidence(lib["ep_1"], engine=lib["engine"])[0]
    assert intro["matches"][0]["other_key"] == "ep_2" and intro["model"] == "crnn 1"
    assert intro["section_candidates"] == []
    with pytest.raises(NotFoundError, match="no prediction"):
        debug.prediction_evidence(lib["ep_1"], engine=lib["engine"], prediction_id=lib["p1"])


def test_predictions_vs_labels_and_worst_items(lib):
    res = debug.predictions_vs_labels(engine=lib["engine"]).set_index("version_key")
    v1, v2, vi = f"mv:{lib['v1']}", f"mv:{lib['v2']}", f"mv:{lib['vi']}"
    assert res.loc[v1, "scored"] == 2 and res.loc[v1, "iou_mean"] == pytest.approx((0.9 + 1.0) / 2)
    assert res.loc[v2, "iou_mean"] == 0.0 and res.loc[v2, "model"] == "hooknet 2"
    # ep_1: 29/30 overlap; ep_2 has no intro and none was predicted → 1
    assert res.loc[vi, "scored"] == 2 and res.loc[vi, "iou_mean"] == pytest.approx((29 / 30 + 1.0) / 2)
    worst = debug.worst_items("hook", v1, 5, engine=lib["engine"])
    assert list(worst["key"]) == ["song_a", "song_b"] and worst["iou"].iloc[0] == pytest.approx(0.9)
    assert debug.worst_items("hook", "baseline:pychorus", 5, engine=lib["engine"]).empty
    with pytest.raises(ValidationError, match="task"):
        debug.worst_items("nope", v1, 5, engine=lib["engine"])
    with pytest.raises(ValidationError, match="mv:3"):
        debug.worst_items("hook", "v1", 5, engine=lib["engine"])
    with pytest.raises(ValidationError, match="1..500"):
        debug.worst_items("hook", v1, 0, engine=lib["engine"])


def test_item_info_and_choices(lib):
    info = debug.item_info(lib["song_a"], engine=lib["engine"])
    assert info.kind == "song" and {lb["kind"] for lb in info.labels} == {"hook", "chorus"}
    assert [p["model"] for p in info.predictions] == ["hooknet 2", "hooknet 1"]
    choices = debug.item_choices(engine=lib["engine"], kind="episode")
    assert [c["key"] for c in choices] == ["ep_1", "ep_2"]
