"""Training sets, splits without leakage, the trainer, the service and the views regression."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.aggregate import SegmentTable
from reviewer.errors import ValidationError
from reviewer.segments import make_segments
from reviewer.train.datasets import (
    DataSplit, TrainingItem, crowd_consensus, segment_targets, split_items,
)  # fmt: skip
from reviewer.train.evaluate import evaluate_scores, main_region
from reviewer.train.trainer import TrainConfig, fit_and_evaluate

COLS = ("rms_mean", "voiced_fraction", "x1", "x2")


def separable_item(key: str, group: str, split: str | None, *, seed: int, duration: float = 90.0) -> TrainingItem:
    """An item whose positive segments (one interval) have a clearly shifted ``x1``."""
    rng = np.random.default_rng(seed)
    segs = make_segments(duration, 3.0, 1.5)
    start = float(rng.uniform(5, duration - 40))
    interval = (start, start + 25.0)
    y = segment_targets(segs, [interval])
    values = rng.standard_normal((len(segs), len(COLS))).astype(np.float32)
    values[:, 2] += 4.0 * y
    table = SegmentTable(segments=segs, columns=COLS, values=values, groups={c: (c,) for c in COLS},
                         missing=np.zeros((len(segs), len(COLS)), bool), missing_reasons={c: None for c in COLS})
    return TrainingItem(key=key, group=group, split=split, table=table, targets=y, intervals=(interval,))


def synthetic_items(n_groups: int = 5, per_group: int = 3) -> list[TrainingItem]:
    items = []
    for g in range(n_groups):
        for i in range(per_group):
            split = "test" if g == n_groups - 1 else "train"
            items.append(separable_item(f"g{g}_{i}", f"series:S{g}", split, seed=10 * g + i))
    return items


def test_segment_targets_use_centres():
    segs = make_segments(12.0, 3.0, 1.5)  # centres 1.5, 3.0, 4.5, ...
    y = segment_targets(segs, [(2.9, 4.6)])
    centres = (segs.starts + segs.ends) / 2
    assert np.array_equal(y.astype(bool), (centres >= 2.9) & (centres < 4.6))
    assert crowd_consensus(segs, [(0, 6)], min_labels=2).sum() == 0
    agree = crowd_consensus(segs, [(0, 6), (1, 5), (5, 9)], min_labels=2)
    assert agree[centres < 5].all() and not agree[centres >= 6].any()


def test_split_has_no_group_overlap_and_keeps_test_out():
    items = synthetic_items(6)
    split = split_items(items, val_fraction=0.3, seed=3)
    g = split.groups()
    assert g["train"] and g["val"] and g["test"] == {"series:S5"}
    assert not (g["train"] & g["val"]) and not (g["train"] & g["test"]) and not (g["val"] & g["test"])
    assert len(split.train) + len(split.val) + len(split.test) == len(items)
    # an extra library's series sharing a held-out name is never trained on
    extra = [separable_item("x0", "series:S5", "train", seed=99), separable_item("x1", "series:X", "train", seed=98)]
    split2 = split_items(items, seed=3, extra=extra)
    trained = {it.key for it in split2.train + split2.val}
    assert "x1" in trained and "x0" not in trained
    # a group with both test and non-test items: its non-test items are not trained on
    mixed = items + [separable_item("leak", "series:S5", "train", seed=7)]
    split3 = split_items(mixed, seed=3)
    assert "leak" not in {it.key for it in split3.train + split3.val}


def test_tiny_training_learns_a_separable_target():
    items = synthetic_items(5)
    split = split_items(items, val_fraction=0.25, seed=0)
    cfg = TrainConfig(arch="transformer", net={"d_model": 32, "n_layers": 1, "n_heads": 2, "dim_feedforward": 64},
                      epochs=8, max_seq_len=32, overlap=8, crops_per_item=4, batch_size=4, patience=4, seed=0)
    out = fit_and_evaluate("intro", split, config=cfg)
    assert out.result.best["val_f1"] > 0.9
    assert out.test_metrics["f1"] > 0.9 and out.test_metrics["n_items"] == 3
    assert set(out.test_scores) == {it.key for it in split.test}
    quick = TrainConfig(net=cfg.net, epochs=1, max_seq_len=32, crops_per_item=1, seed=5)
    a, b = (fit_and_evaluate("intro", split, config=quick) for _ in range(2))  # same seed, same net
    np.testing.assert_allclose(a.test_scores["g4_0"], b.test_scores["g4_0"], atol=1e-6)


@pytest.mark.slow
def test_crnn_trains_too():
    split = split_items(synthetic_items(4), seed=0)
    cfg = TrainConfig(arch="crnn", net={"conv_channels": 16, "gru_hidden": 16}, epochs=8, max_seq_len=32,
                      crops_per_item=6, batch_size=4, seed=1)
    out = fit_and_evaluate("intro", split, config=cfg)
    assert out.test_metrics["f1"] > 0.8


def test_evaluation_uses_regions():
    item = separable_item("a", "series:A", "test", seed=1)
    perfect = {"a": item.targets.copy()}
    m = evaluate_scores("intro", [item], perfect)
    assert m["f1"] == 1.0 and m["region_iou"] > 0.8 and m["intro_detected"] == 1.0
    assert main_region(item.table.segments, np.zeros(len(item.table))) is None


def test_train_task_registers_a_model(settings):
    from reviewer import store
    from reviewer.models.registry import default_model_path, load_active_scorer
    from reviewer.pipeline import save_table, table_path
    from reviewer.config import PipelineConfig
    from reviewer.services.training import train_task

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    items = synthetic_items(4, per_group=2)
    with store.session_scope(engine) as s:
        for it in items:
            row = store.upsert_item(session=s, key=it.key, path=f"/nowhere/{it.key}.wav", kind="episode",
                                    series=it.group.split(":")[1], split=it.split, duration=it.duration)
            store.add_label(session=s, item_id=row.id, kind="intro", start=it.intervals[0][0],
                            end=it.intervals[0][1], source="truth")
            save_table(it.table, table_path(settings, it.key, PipelineConfig()))
    tc = TrainConfig(net={"d_model": 32, "n_layers": 1, "n_heads": 2}, epochs=6, max_seq_len=32, crops_per_item=2)
    summ = train_task("intro", engine=engine, settings=settings, train_config=tc, activate=True)
    assert summ.test_metrics["n_items"] == 2 and summ.checkpoint_bytes < 5 * 1024 * 1024
    assert summ.split["test"]["groups"] == ["series:S3"]
    scorer = load_active_scorer("intro", engine=engine, settings=settings)
    assert scorer is not None and scorer.model_version == summ.version
    assert (default_model_path("intro", settings) / "model.pt").is_file()
    with store.session_scope(engine) as s:
        mv = store.active_model_version(session=s, task="intro")
        assert mv.metrics["test"]["f1"] == pytest.approx(summ.test_metrics["f1"])


def test_views_regression_with_synthetic_metadata():
    from reviewer.train.regression import has_views, time_split, train_views_regression

    items = []
    for i in range(12):
        it = separable_item(f"v{i}", f"artist:A{i}", "train", seed=i, duration=60.0)
        loud = float(it.table.values[:, 0].mean())
        extra = {"views": float(np.exp(5 + 2 * loud + 0.1 * i)), "upload_date": f"2024-01-{i + 1:02d}"}
        items.append(TrainingItem(**{**it.__dict__, "extra": extra}))
    assert train_views_regression(items[:4]) is None  # too few items with metadata
    train, val, test = time_split(items)
    assert max(it.extra["upload_date"] for it in train) < min(it.extra["upload_date"] for it in test)
    res = train_views_regression(items, epochs=5, net={"d_model": 16, "n_heads": 2, "n_layers": 1}, max_seq_len=32)
    assert res["n_test"] == len(test) and set(res["test"]) == {"mae", "rmse", "spearman"}
    assert not has_views(separable_item("n", "artist:N", "train", seed=0))


def test_empty_training_set_is_refused():
    with pytest.raises(ValidationError, match="no intro training items"):
        fit_and_evaluate("intro", DataSplit((), (), ()), config=TrainConfig())


# ----------------------------------------------------------------- label sources: human > crowd consensus > truth


def _song_store(settings, n: int = 5, *, truth: bool = True):
    """Songs (one artist each) with saved segment tables; truth hook labels when ``truth``."""
    from reviewer import store
    from reviewer.config import PipelineConfig
    from reviewer.pipeline import save_table, table_path

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    ids = {}
    with store.session_scope(engine) as s:
        for i in range(n):
            it = separable_item(f"song{i}", f"artist:A{i}", "train", seed=i, duration=120.0)
            row = store.upsert_item(session=s, key=it.key, path=f"/nowhere/{it.key}.wav", kind="song", genre="pop",
                                    artist=f"A{i}", split="train", duration=it.duration)
            if truth:
                store.add_label(session=s, item_id=row.id, kind="hook", start=it.intervals[0][0],
                                end=it.intervals[0][1], source="truth", author="ground-truth")
            save_table(it.table, table_path(settings, it.key, PipelineConfig()))
            ids[it.key] = row.id
    return engine, ids


def test_correcting_one_chorus_keeps_the_other_occurrences(settings):
    """Fix & accept on the second chorus supersedes that truth row only; choruses 1 and 3 still train as choruses."""
    from reviewer import store
    from reviewer.services import review
    from reviewer.train.datasets import load_training_items

    engine, ids = _song_store(settings, 1, truth=False)
    sid = ids["song0"]
    with store.session_scope(engine) as s:
        rows = [store.add_label(session=s, item_id=sid, kind="chorus", start=a, end=b, source="truth", author="gt")
                for a, b in ((10.0, 25.0), (50.0, 65.0), (90.0, 105.0))]
        second = (rows[1].id, rows[1].version)
    review.save_correction(engine=engine, item_id=sid, kind="chorus", start=48.0, end=66.0, author="rita",
                           base_label_id=second[0], base_version=second[1])
    # a reviewer also adds a chorus the truth missed, overlapping nothing
    review.save_correction(engine=engine, item_id=sid, kind="chorus", start=110.0, end=118.0, author="rita")
    (item,) = load_training_items("chorus", engine=engine, settings=settings)
    assert item.label_source == "human"
    assert item.intervals == ((10.0, 25.0), (48.0, 66.0), (90.0, 105.0), (110.0, 118.0))
    centres = (item.table.segments.starts + item.table.segments.ends) / 2
    assert item.targets[(centres > 12) & (centres < 23)].all()  # chorus 1 is still a positive
    # rejecting a truth chorus removes it; a human row overlapping a truth row replaces it
    with store.session_scope(engine) as s:
        first = next(lb for lb in store.current_labels(session=s, item_id=sid) if lb.start == 10.0)
        store.add_label(session=s, item_id=sid, kind="chorus", start=10.0, end=25.0, source="human", author="rita",
                        status="rejected", supersedes_id=first.id, expected_version=first.version)
        store.add_label(session=s, item_id=sid, kind="chorus", start=88.0, end=100.0, source="human", author="rita")
    (item,) = load_training_items("chorus", engine=engine, settings=settings)
    assert item.intervals == ((48.0, 66.0), (88.0, 100.0), (110.0, 118.0))


def test_training_labels_take_human_over_crowd_consensus_over_truth(settings, monkeypatch):
    """The consensus row aggregate_pool writes is a training label (one row per item, not >= 2 raw answers)."""
    from argon2 import PasswordHasher

    from reviewer import store
    from reviewer.crowd.simulate import make_crowd
    from reviewer.services import auth, crowd, crowd_review, crowd_sim, review
    from reviewer.train.datasets import count_sources, load_training_items

    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    engine, ids = _song_store(settings, 5)
    with store.session_scope(engine) as s:  # song4: no truth at all, only what the crowd says
        for lb in store.current_labels(session=s, item_id=ids["song4"]):
            store.add_label(session=s, item_id=lb.item_id, kind="hook", start=lb.start, end=lb.end, source="truth",
                            status="rejected", supersedes_id=lb.id, expected_version=lb.version)
    crowd_region = {ids["song1"]: (60.0, 80.0), ids["song2"]: (60.0, 80.0), ids["song4"]: (30.0, 50.0)}
    pool = crowd.create_pool(auth.SYSTEM_USER, engine=engine, name="p", item_ids=list(crowd_region), overlap=3,
                             golden_rate=0.0, min_listen_seconds=1.0)
    crowd_sim.simulate_pool(engine=engine, pool_id=pool.pool_id, truth=crowd_region,
                            annotators=make_crowd({"sim-a": 0.95, "sim-b": 0.95, "sim-c": 0.95}),
                            rng=np.random.default_rng(0))
    res = crowd_review.aggregate_pool(auth.SYSTEM_USER, engine=engine, pool_id=pool.pool_id)
    assert res.labels_written == 3
    # a reviewer corrects song2 on the Review page: the human label wins over the crowd's
    review.save_correction(engine=engine, item_id=ids["song2"], kind="hook", start=90.0, end=110.0, author="rita")

    items = {it.key: it for it in load_training_items("interest", engine=engine, settings=settings)}
    assert {k: it.label_source for k, it in items.items()} == {
        "song0": "truth", "song1": "crowd", "song2": "human", "song3": "truth", "song4": "crowd"}
    assert items["song2"].intervals == ((90.0, 110.0),)
    s4 = items["song4"]
    centres = (s4.table.segments.starts + s4.table.segments.ends) / 2
    on = s4.targets.astype(bool)
    assert on.any() and centres[on].min() >= 29.0 and centres[on].max() <= 51.0  # the consensus region
    assert count_sources(items.values()) == {"human": 1, "crowd_resolved": 0, "import": 0, "crowd": 2, "truth": 2,
                                             "simulated": 2}
    # a truth-only set (what a model without human labels sees): song4 drops out, the others use truth
    truth_only = {it.key: it for it in load_training_items("interest", engine=engine, settings=settings,
                                                           sources=("truth",))}
    assert set(truth_only) == {"song0", "song1", "song2", "song3"}
    assert all(it.label_source == "truth" for it in truth_only.values())
    with pytest.raises(ValidationError, match="unknown label source"):
        load_training_items("interest", engine=engine, settings=settings, sources=("gossip",))
