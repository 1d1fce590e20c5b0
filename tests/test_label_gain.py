"""Model A (truth only) vs model B (+ human labels) on the same held-out items; simulated people; the report."""

from __future__ import annotations

import json
import sqlite3

import pytest
from test_train import synthetic_items

from reviewer import store
from reviewer.config import PipelineConfig
from reviewer.errors import ValidationError
from reviewer.pipeline import save_table, table_path
from reviewer.services import label_gain
from reviewer.train.trainer import TrainConfig

TINY = TrainConfig(net={"d_model": 16, "n_layers": 1, "n_heads": 2, "dim_feedforward": 32}, epochs=2,
                   max_seq_len=32, crops_per_item=1)


def intro_store(settings, n_groups: int = 6, per_group: int = 2):
    """Series S0..S{n-1} (the last one held out) with truth intro labels and saved segment tables."""
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    with store.session_scope(engine) as s:
        for it in synthetic_items(n_groups, per_group=per_group):
            row = store.upsert_item(session=s, key=it.key, path=f"/nowhere/{it.key}.wav", kind="episode",
                                    series=it.group.split(":")[1], split=it.split, duration=it.duration)
            store.add_label(session=s, item_id=row.id, kind="intro", start=it.intervals[0][0],
                            end=it.intervals[0][1], source="truth", author="ground-truth")
            save_table(it.table, table_path(settings, it.key, PipelineConfig()))
    return engine


def test_a_and_b_share_the_held_out_set_and_b_adds_only_human_labels(settings):
    engine = intro_store(settings, per_group=1)
    with pytest.raises(ValidationError, match="no human label"):
        label_gain.measure_label_gain("intro", engine=engine, settings=settings, train_config=TINY)
    sim = label_gain.simulate_human_labels("intro", engine=engine, human_fraction=0.4, seed=1)
    assert sim["simulated"] and len(sim["groups"]) == 2 and sim["labels"] == 2
    with store.session_scope(engine) as s:  # simulated corrections are human rows by the simulated reviewer
        rows = [lb for it in store.iter_items(session=s) for lb in store.current_labels(session=s, item_id=it.id)
                if lb.source == "human"]
    assert len(rows) == 2 and {lb.author for lb in rows} == {label_gain.SIM_REVIEWER}

    rep = label_gain.measure_label_gain("intro", engine=engine, settings=settings, train_config=TINY, seeds=(0, 1),
                                        simulation=sim)
    a, b = rep["rows"]
    human_groups = set(sim["groups"])
    assert rep["simulated"] and rep["held_out"]["groups"] == ["series:S5"] and rep["held_out"]["items"] == 1
    assert not human_groups & set(a["train"]["groups"]) and not human_groups & set(rep["val"]["groups"])
    assert set(b["train"]["groups"]) == set(a["train"]["groups"]) | human_groups
    assert a["human_items"] == 0 and b["human_items"] == 2 == b["train"]["items"] - a["train"]["items"]
    assert a["train"]["label_sources"]["truth"] == a["train"]["items"]
    assert b["train"]["label_sources"]["human"] == 2 and b["train"]["label_sources"]["simulated"] == 2
    for p in rep["pairs"]:  # both models of a pair: same held-out items, same validation
        assert p["A"]["test"]["n_items"] == p["B"]["test"]["n_items"] == 1
    for m in rep["metrics"]:
        if rep["delta"][m] is not None:
            assert rep["delta"][m] == pytest.approx(b["test"][m] - a["test"][m], abs=1e-3)
    saved = label_gain.list_reports(settings=settings, task="intro")
    assert [r["path"] for r in saved] == [rep["path"]] and json.loads(open(rep["path"]).read())["simulated"]
    rows = label_gain.report_rows(rep)
    assert [r["model"] for r in rows] == ["A", "B", "B − A"] and "(simulated)" in rows[1]["training labels"]
    assert rows[1]["human-labelled items"] == 2 and label_gain.list_reports(settings=settings, task="chorus") == []


def test_simulated_crowd_consensus_feeds_model_b(settings, monkeypatch):
    """interest: simulated annotators answer through the crowd services; B trains on the consensus rows."""
    from argon2 import PasswordHasher

    from test_train import _song_store

    from reviewer.services import auth

    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    engine, ids = _song_store(settings, 7)
    with store.session_scope(engine) as s:
        store.upsert_item(session=s, key="song6", path="/nowhere/song6.wav", kind="song", split="test")
    sim = label_gain.simulate_human_labels("interest", engine=engine, human_fraction=0.5, seed=0)
    assert sim["labels"] == sim["labelled_items"] == 3 and sim["pools"]
    rep = label_gain.measure_label_gain("interest", engine=engine, settings=settings, train_config=TINY,
                                        simulation=sim, save=False, truth_control=True)
    _, b, control = rep["rows"]
    assert control["model"] == "B_truth" and control["train"]["items"] == b["train"]["items"]  # same items, truth
    assert control["train"]["label_sources"]["truth"] == control["train"]["items"] and control["human_items"] == 0
    assert set(rep["delta_truth_control"]) == set(rep["metrics"])
    assert b["train"]["label_sources"]["crowd"] == 3 == b["human_items"] and rep["human"]["label_sources"]["simulated"] == 3
    assert rep["held_out"]["groups"] == ["artist:A6"] and "path" not in rep


def test_scratch_copy_leaves_the_database_alone(settings):
    engine = intro_store(settings, n_groups=4, per_group=1)
    scratch = label_gain.scratch_copy(settings, name="t")
    assert scratch.db_url != settings.db_url and scratch.db_url.endswith("scratch-t.db")
    copy = store.make_engine(scratch.db_url)
    label_gain.simulate_human_labels("intro", engine=copy, human_fraction=0.3)
    count = "select count(*) from label where source = 'human'"
    assert sqlite3.connect(settings.db_url[len("sqlite:///"):]).execute(count).fetchone()[0] == 0
    assert sqlite3.connect(scratch.db_url[len("sqlite:///"):]).execute(count).fetchone()[0] == 1
    with pytest.raises(ValidationError, match="SQLite file"):
        label_gain.scratch_copy(settings.with_(db_url="sqlite://"))
    small = settings.with_(db_url=f"sqlite:///{settings.data_dir}/small.db")
    with pytest.raises(ValidationError, match="at least 3"):  # 2 training series: nothing left for A
        label_gain.simulate_human_labels("intro", engine=intro_store(small, n_groups=3, per_group=1))
    with pytest.raises(ValidationError, match="human_fraction"):
        label_gain.simulate_human_labels("intro", engine=engine, human_fraction=1.0)


def test_cli_label_gain_simulates_on_a_scratch_copy(settings, capsys):
    from reviewer import cli_train

    intro_store(settings, n_groups=4, per_group=1)
    parser = __import__("argparse").ArgumentParser()
    cli_train.register(parser.add_subparsers())
    args = parser.parse_args(["label-gain", "--task", "intro", "--simulate", "--epochs", "1"])
    assert args.fn(args, settings) == 0
    out = capsys.readouterr().out
    assert "scratch copy" in out and "SIMULATED" in out and "B − A" in out
    with sqlite3.connect(settings.db_url[len("sqlite:///"):]) as c:
        assert c.execute("select count(*) from label where source = 'human'").fetchone()[0] == 0
