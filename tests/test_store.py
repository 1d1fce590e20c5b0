"""Store: tables, items, runs and records, labels and their correction chains, models."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from reviewer import store
from reviewer.errors import NotFoundError, StaleEditError, ValidationError
from reviewer.store import labels as labels_mod
from reviewer.store.tables import Label, MediaItem


@pytest.fixture
def engine():
    eng = store.make_engine("sqlite://")
    store.init_db(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as s:
        yield s


def _song(session, key="song_a.mp3", duration=200.0, **kw):
    return store.upsert_item(session=session, key=key, path=f"music/{key}", kind="song", duration=duration, **kw)


# --------------------------------------------------------------------------- engine


def test_init_db_is_idempotent_and_memory_uses_static_pool(engine):
    store.init_db(engine)
    assert store.is_memory_sqlite("sqlite://")
    assert store.is_memory_sqlite("sqlite:///:memory:")
    assert not store.is_memory_sqlite("sqlite:////tmp/x.db")
    assert engine.pool.__class__.__name__ == "StaticPool"
    with store.session_scope(engine) as s:
        _song(s)
    with store.session_scope(engine) as s:  # same in-memory DB from a new session
        assert store.get_item_by_key(session=s, key="song_a.mp3").duration == 200.0


def test_file_db_is_wal_with_foreign_keys_and_busy_timeout(tmp_path):
    path = tmp_path / "nested" / "dir" / "r.db"
    eng = store.make_engine(f"sqlite:///{path}")
    store.init_db(eng)
    assert path.exists()
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == store.engine.DEFAULT_BUSY_TIMEOUT_MS
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    eng.dispose()


def test_non_sqlite_url_passes_through_unchanged(monkeypatch):
    seen = {}

    def fake_create_engine(url, **kw):
        seen["url"], seen["kw"] = url, kw
        return "engine"

    monkeypatch.setattr(store.engine, "create_engine", fake_create_engine)
    url = "postgresql+psycopg://user:secret@db.example:5432/reviewer"
    assert store.make_engine(url) == "engine"
    assert seen["url"] == url and "connect_args" not in seen["kw"] and "poolclass" not in seen["kw"]


def test_bad_url_is_a_config_error():
    from reviewer.errors import ConfigError

    with pytest.raises(ConfigError, match="invalid database URL"):
        store.make_engine("not a url")


def test_session_scope_rolls_back_on_error(engine):
    with pytest.raises(ValidationError):
        with store.session_scope(engine) as s:
            _song(s)
            raise ValidationError("boom")
    with store.session_scope(engine) as s:
        assert store.list_items(session=s)[1] == 0


def test_foreign_keys_enforced(session):
    session.add(Label(item_id=999, kind="intro", start=0, end=1, source="human"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_get_engine_is_cached_per_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'cached.db'}"
    assert store.get_engine(url) is store.get_engine(url)


def test_timestamps_are_utc_aware(session):
    item = _song(session)
    session.commit()
    session.expire_all()
    again = store.get_item(session=session, item_id=item.id)
    assert again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == dt.timedelta(0)


# --------------------------------------------------------------------------- items


def test_upsert_is_idempotent_and_bumps_version_on_change(session):
    a = _song(session, title="A")
    b = _song(session, title="A")
    assert a.id == b.id and b.version == 1
    c = _song(session, title="A (remaster)", genre="pop")
    assert c.id == a.id and c.version == 2 and c.title == "A (remaster)" and c.genre == "pop"
    d = store.upsert_item(session=session, key="song_a.mp3", path="music/song_a.mp3", kind="song")
    assert d.title == "A (remaster)" and d.version == 2  # None keeps stored values
    assert store.list_items(session=session)[1] == 1


@pytest.mark.parametrize("key", ["has space.mp3", "a/b.mp3", "", "..", "ключ"])
def test_bad_item_keys_are_rejected(session, key):
    with pytest.raises(ValidationError, match="item key"):
        store.upsert_item(session=session, key=key, path="x", kind="song")


def test_item_key_from_path():
    assert store.item_key_from_path("/lib/Show/S01/e01.mp3", root="/lib") == "Show__S01__e01.mp3"
    k1 = store.item_key_from_path("My Show/ep 1.mp3")
    k2 = store.item_key_from_path("My_Show/ep_1.mp3")
    assert k1 != k2 and k1.startswith("My_Show__ep_1.mp3-")
    assert store.item_key_from_path("My Show/ep 1.mp3") == k1  # stable
    store.validate_key(k1)
    with pytest.raises(ValidationError, match="not inside the library root"):
        store.item_key_from_path("/elsewhere/a.mp3", root="/lib")


def test_bad_item_values_are_rejected(session):
    with pytest.raises(ValidationError, match="item kind must be one of"):
        store.upsert_item(session=session, key="x", path="x", kind="movie")
    with pytest.raises(ValidationError, match="item split"):
        store.upsert_item(session=session, key="x", path="x", kind="song", split="dev")
    with pytest.raises(ValidationError, match="duration"):
        store.upsert_item(session=session, key="x", path="x", kind="song", duration=-1)


def test_not_found_names_the_id(session):
    with pytest.raises(NotFoundError, match="no media item with id 42"):
        store.get_item(session=session, item_id=42)
    with pytest.raises(NotFoundError, match="'nope'"):
        store.get_item_by_key(session=session, key="nope")
    with pytest.raises(NotFoundError, match="no pipeline run with id 7"):
        store.finish_run(session=session, run_id=7, status="done")
    with pytest.raises(NotFoundError, match="no label with id 5"):
        store.get_label(session=session, label_id=5)


def _many(session, n=120):
    for i in range(n):
        kind = "episode" if i % 3 else "song"
        store.upsert_item(
            session=session, key=f"item_{i:04d}.mp3", path=f"p/{i}.mp3", kind=kind, duration=60.0 + i,
            series=f"Show {i % 4}" if kind == "episode" else None, season=1 if kind == "episode" else None,
            episode=i if kind == "episode" else None, title=f"Title {i}",
            artist="Band" if kind == "song" else None,
        )
    session.flush()


def test_list_items_pagination_totals_and_filters(session):
    _many(session)
    pages, seen = [], []
    for offset in range(0, 120, 50):
        rows, total = store.list_items(session=session, offset=offset, limit=50)
        assert total == 120
        pages.append(len(rows))
        seen += [r.key for r in rows]
    assert pages == [50, 50, 20]
    assert seen == sorted(seen) and len(set(seen)) == 120
    rows, total = store.list_items(session=session, kind="song", limit=10)
    assert total == 40 and len(rows) == 10 and {r.kind for r in rows} == {"song"}
    rows, total = store.list_items(session=session, kind="episode", series="Show 1", order="series")
    assert total == 20 and [r.episode for r in rows] == sorted(r.episode for r in rows)
    rows, total = store.list_items(session=session, search="TITLE 11")
    assert {r.title for r in rows} == {"Title 11", "Title 110", "Title 111", "Title 112", "Title 113",
                                        "Title 114", "Title 115", "Title 116", "Title 117", "Title 118",
                                        "Title 119"} and total == 11
    rows, _ = store.list_items(session=session, order="-duration", limit=1)
    assert rows[0].duration == 179.0
    rows, total = store.list_items(session=session, search="100%_")  # LIKE wildcards are literal
    assert total == 0


def test_list_items_rejects_bad_paging(session):
    with pytest.raises(ValidationError, match="limit"):
        store.list_items(session=session, limit=0)
    with pytest.raises(ValidationError, match="offset"):
        store.list_items(session=session, offset=-1)
    with pytest.raises(ValidationError, match="order must be one of"):
        store.list_items(session=session, order="colour")
    with pytest.raises(ValidationError, match="item status"):
        store.list_items(session=session, status="weird")


def test_status_summary_split_and_delete(session):
    _many(session, 12)
    ids = store.item_ids(session=session, kind="song")
    assert len(ids) == 4
    store.set_item_status(session=session, item_id=ids[0], status="extracted", duration=61.5, content_hash="abc")
    store.set_item_status(session=session, item_id=ids[1], status="failed")
    assert store.status_counts(session=session) == {"new": 10, "extracted": 1, "packaged": 0, "failed": 1}
    assert store.status_counts(session=session, kind="episode")["new"] == 8
    summary = store.series_summary(session=session)
    assert [(g["kind"], g["series"]) for g in summary][-1] == ("song", None)
    songs = summary[-1]
    assert songs["items"] == 4 and songs["by_status"]["failed"] == 1
    assert sum(g["items"] for g in summary) == 12
    assert store.assign_splits(session=session, splits={ids[0]: "train", ids[1]: "test"}) == 2
    assert store.list_items(session=session, split="train")[0][0].id == ids[0]
    item = store.get_item(session=session, item_id=ids[0])
    assert item.duration == 61.5 and item.content_hash == "abc"
    with pytest.raises(StaleEditError, match="version"):
        store.set_item_status(session=session, item_id=ids[0], status="packaged", expected_version=1)
    run = store.start_run(session=session, stage="extract", config_digest="d")
    store.record_processing(session=session, run_id=run.id, item_id=ids[0], stage="extract",
                            config_digest="d", status="ok")
    store.add_label(session=session, item_id=ids[0], kind="chorus", start=1, end=2, source="human")
    store.delete_item(session=session, item_id=ids[0])
    with pytest.raises(NotFoundError):
        store.get_item(session=session, item_id=ids[0])
    assert store.latest_records(session=session, item_id=ids[0]) == {}


def test_extra_is_merged_and_lookups_by_id_and_iteration(session):
    a = _song(session, extra={"rel_path": "music/a.mp3"})
    store.update_item_extra(session=session, item_id=a.id, extra={"has_intro": False})
    again = _song(session, extra={"rel_path": "music/a.mp3"})  # re-ingest keeps what others added
    assert again.extra == {"rel_path": "music/a.mp3", "has_intro": False} and again.version == 2
    b = _song(session, key="b.mp3")
    assert list(store.items_by_id(session=session, item_ids=[b.id, a.id, 999])) == [a.id, b.id]
    assert [i.key for i in store.iter_items(session=session, batch_size=1)] == ["song_a.mp3", "b.mp3"]
    assert set(store.items_by_key(session=session, keys=["b.mp3", "zz"])) == {"b.mp3"}


def test_list_items_is_fast_on_many_rows(session):
    n = 20_000
    session.bulk_insert_mappings(
        MediaItem,
        [{"key": f"k{i:06d}", "path": f"p{i}", "kind": ("episode", "song")[i % 2], "series": f"S{i % 50}",
          "status": "new", "version": 1} for i in range(n)],
    )
    session.flush()
    rows, total = store.list_items(session=session, kind="episode", series="S10", offset=100, limit=50)
    rows2, total2 = store.list_items(session=session, offset=19_000, limit=50)
    assert total == 400 and len(rows) == 50 and total2 == n and len(rows2) == 50


# --------------------------------------------------------------------------- runs and records


def _record(session, run, item, status, digest="d1", stage="extract", **kw):
    return store.record_processing(session=session, run_id=run.id if run else None, item_id=item.id,
                                   stage=stage, config_digest=digest, status=status, **kw)


def test_run_lifecycle_counts_and_failures(session):
    a, b, c = (_song(session, key=f"s{i}.mp3") for i in range(3))
    run = store.start_run(session=session, stage="extract", config_digest="d1", config={"segment_len": 3.0})
    assert run.status == "running" and run.pid and run.host
    _record(session, run, a, "ok", timings={"rms": 0.1, "mel": 0.4}, wall_seconds=0.6, audio_seconds=200.0)
    _record(session, run, b, "failed", error="InvalidMediaError: empty file")
    _record(session, run, c, "skipped", error="already done")
    session.refresh(run)
    assert (run.n_ok, run.n_failed, run.n_skipped) == (1, 1, 1)  # live counters
    done = store.finish_run(session=session, run_id=run.id, status="done")
    assert done.status == "done" and done.finished_at is not None and (done.n_ok, done.n_failed) == (1, 1)
    fails = store.failures(session=session, run_id=run.id)
    assert [f.item_id for f in fails] == [b.id] and "empty file" in fails[0].error
    assert store.failures(session=session, stage="package") == []
    assert len(store.run_records(session=session, run_id=run.id)) == 3
    assert store.list_runs(session=session, limit=5)[0].id == run.id
    rec = store.latest_records(session=session, item_id=a.id)["extract"]
    assert rec.timings == {"rms": 0.1, "mel": 0.4} and rec.wall_seconds == 0.6
    explicit = store.finish_run(session=session, run_id=run.id, status="failed", n_ok=0, n_failed=3)
    assert (explicit.n_ok, explicit.n_failed, explicit.n_skipped) == (0, 3, 1)
    with pytest.raises(ValidationError, match="final run status"):
        store.finish_run(session=session, run_id=run.id, status="running")
    with pytest.raises(ValidationError, match="record status"):
        _record(session, run, a, "great")
    with pytest.raises(ValidationError, match="timings"):
        _record(session, run, a, "ok", timings={"rms": -1})


def test_done_item_ids_latest_record_wins(session):
    a, b, c, d = (_song(session, key=f"s{i}.mp3") for i in range(4))
    run = store.start_run(session=session, stage="extract", config_digest="d1")
    _record(session, run, a, "ok")
    _record(session, run, a, "failed")  # failed after ok: not done
    _record(session, run, b, "failed")
    _record(session, run, b, "ok")  # ok after failed: done
    _record(session, run, c, "ok")
    _record(session, run, c, "skipped")  # a skip changes nothing
    _record(session, run, d, "ok", digest="other")  # other config: not done under d1
    assert store.done_item_ids(session=session, stage="extract", config_digest="d1") == {b.id, c.id}
    assert store.done_item_ids(session=session, stage="extract", config_digest="other") == {d.id}
    assert store.done_item_ids(session=session, stage="package", config_digest="d1") == set()


def test_packages_and_artifacts(session):
    a = _song(session)
    assert store.latest_artifact(session=session, kind="transforms", config_digest="d1") is None
    store.add_artifact(session=session, kind="transforms", path="art/1", digest="x1", config_digest="d1")
    second = store.add_artifact(session=session, kind="transforms", path="art/2", digest="x2",
                                config_digest="d1", meta={"pca": {"clap": 128}})
    latest = store.latest_artifact(session=session, kind="transforms", config_digest="d1")
    assert latest.id == second.id and latest.meta == {"pca": {"clap": 128}}
    store.add_package_record(session=session, item_id=a.id, path="pk/a", config_digest="d1",
                             artifact_digest="x2", feature_dim=300, num_segments=140, num_selected=128)
    pkg = store.latest_package(session=session, item_id=a.id)
    assert pkg.num_selected == 128 and pkg.artifact_digest == "x2"
    assert store.latest_package(session=session, item_id=a.id, config_digest="zz") is None
    with pytest.raises(NotFoundError):
        store.add_package_record(session=session, item_id=999, path="pk", config_digest="d1")


# --------------------------------------------------------------------------- labels


def test_label_interval_is_validated_before_the_db(session):
    a = _song(session, duration=100.0)
    with pytest.raises(ValidationError, match="past the item's duration"):
        store.add_label(session=session, item_id=a.id, kind="chorus", start=10, end=100_500, source="human")
    with pytest.raises(ValidationError, match="must be before end"):
        store.add_label(session=session, item_id=a.id, kind="chorus", start=20, end=10, source="human")
    with pytest.raises(ValidationError, match="negative"):
        store.add_label(session=session, item_id=a.id, kind="chorus", start=-1, end=10, source="human")
    with pytest.raises(ValidationError, match="label kind"):
        store.add_label(session=session, item_id=a.id, kind="drop", start=1, end=10, source="human")
    with pytest.raises(ValidationError, match="label source"):
        store.add_label(session=session, item_id=a.id, kind="hook", start=1, end=10, source="robot")
    with pytest.raises(NotFoundError, match="no media item with id 77"):
        store.add_label(session=session, item_id=77, kind="hook", start=1, end=10, source="human")
    assert store.label_history(session=session, item_id=a.id) == []


def test_label_correction_chain_and_stale_edit(session):
    ep = store.upsert_item(session=session, key="show_e01.mp3", path="show/e01.mp3", kind="episode", duration=1200)
    first = store.add_label(session=session, item_id=ep.id, kind="intro", start=30, end=90, source="human",
                            author="alice")
    assert first.version == 1
    fix = store.add_label(session=session, item_id=ep.id, kind="intro", start=31.5, end=90, source="human",
                          author="bob", supersedes_id=first.id, expected_version=1)
    assert fix.version == 2 and fix.supersedes_id == first.id
    current = store.current_labels(session=session, item_id=ep.id, kind="intro")
    assert [lb.id for lb in current] == [fix.id]
    # carol was looking at alice's label: bob saved first
    with pytest.raises(StaleEditError, match=r"already corrected by bob \(label \d+, version 2"):
        store.add_label(session=session, item_id=ep.id, kind="intro", start=29, end=90, source="human",
                        author="carol", supersedes_id=first.id, expected_version=1)
    with pytest.raises(StaleEditError, match="your edit was based on version 1; last saved by bob"):
        store.add_label(session=session, item_id=ep.id, kind="intro", start=29, end=90, source="human",
                        author="carol", supersedes_id=fix.id, expected_version=1)
    rejected = store.add_label(session=session, item_id=ep.id, kind="intro", start=31.5, end=90, source="human",
                               author="carol", status="rejected", supersedes_id=fix.id, expected_version=2)
    assert store.current_labels(session=session, item_id=ep.id) == []
    assert [lb.id for lb in store.current_labels(session=session, item_id=ep.id, include_rejected=True)] == [
        rejected.id]
    history = store.label_history(session=session, item_id=ep.id)
    assert [(lb.author, lb.version) for lb in history] == [("alice", 1), ("bob", 2), ("carol", 3)]
    assert (history[0].start, history[0].end) == (30.0, 90.0)  # never overwritten


def test_label_of_another_item_cannot_be_superseded(session):
    a, b = _song(session, key="a.mp3"), _song(session, key="b.mp3")
    la = store.add_label(session=session, item_id=a.id, kind="hook", start=1, end=2, source="human")
    with pytest.raises(ValidationError, match="belongs to item"):
        store.add_label(session=session, item_id=b.id, kind="hook", start=1, end=2, source="human",
                        supersedes_id=la.id)


def test_concurrent_supersede_is_caught_by_the_database(engine, monkeypatch):
    with store.session_scope(engine) as s:
        a = _song(s)
        base = store.add_label(session=s, item_id=a.id, kind="chorus", start=10, end=20, source="human",
                               author="alice")
    with store.session_scope(engine) as s:
        store.add_label(session=s, item_id=a.id, kind="chorus", start=11, end=20, source="human",
                        author="bob", supersedes_id=base.id)
    # simulate dave's check having run just before bob committed: it saw no successor
    real = labels_mod.superseded_by
    calls = []

    def stale_check(*, session, label_id):
        calls.append(label_id)
        return None if len(calls) == 1 else real(session=session, label_id=label_id)

    monkeypatch.setattr(labels_mod, "superseded_by", stale_check)
    with pytest.raises(StaleEditError, match="corrected by bob .* while you were saving"):
        with store.session_scope(engine) as s:
            store.add_label(session=s, item_id=a.id, kind="chorus", start=12, end=20, source="human",
                            author="dave", supersedes_id=base.id)
    with store.session_scope(engine) as s:
        assert [lb.author for lb in store.current_labels(session=s, item_id=a.id)] == ["bob"]


def test_import_truth_labels_is_idempotent(session):
    ep = store.upsert_item(session=session, key="e1", path="e1.mp3", kind="episode", duration=600)
    song = _song(session, key="s1", duration=180)
    truth = {"e1": [("intro", 12.0, 72.0)],
             "s1": [("chorus", 40.0, 60.0), {"kind": "chorus", "start": 100.0, "end": 120.0}]}
    assert store.import_truth_labels(session=session, labels=truth) == 3
    assert store.import_truth_labels(session=session, labels=truth) == 0
    got = store.current_labels(session=session, item_id=song.id, source="truth")
    assert [(lb.start, lb.end, lb.source) for lb in got] == [(40.0, 60.0, "truth"), (100.0, 120.0, "truth")]
    assert store.current_labels(session=session, item_id=ep.id)[0].kind == "intro"
    with pytest.raises(NotFoundError, match="'missing_key'"):
        store.import_truth_labels(session=session, labels={"missing_key": [("intro", 1, 2)]})
    with pytest.raises(ValidationError, match="past the item's duration"):
        store.import_truth_labels(session=session, labels={"s1": [("chorus", 170, 190)]})


def test_replace_truth_labels_keeps_history(session):
    song = _song(session, duration=180)
    other = store.add_label(session=session, item_id=song.id, kind="chorus", start=1, end=2, source="human")
    assert store.replace_truth_labels(session=session, item_id=song.id, kind="chorus",
                                      intervals=[(40, 60), (100, 120)]) == 2
    assert store.replace_truth_labels(session=session, item_id=song.id, kind="chorus",
                                      intervals=[(40, 60), (100, 120)]) == 0
    assert store.replace_truth_labels(session=session, item_id=song.id, kind="chorus",
                                      intervals=[(40, 60), (101, 121)]) == 2  # one rejection + one new
    truth = store.current_labels(session=session, item_id=song.id, kind="chorus", source="truth")
    assert [(lb.start, lb.end) for lb in truth] == [(40.0, 60.0), (101.0, 121.0)]
    assert other.id in [lb.id for lb in store.current_labels(session=session, item_id=song.id)]
    assert len(store.label_history(session=session, item_id=song.id, kind="chorus")) == 5
    with pytest.raises(ValidationError, match="past the item's duration"):
        store.replace_truth_labels(session=session, item_id=song.id, kind="chorus", intervals=[(170, 200)])


# --------------------------------------------------------------------------- models and predictions


def test_model_versions_and_predictions(session):
    a = _song(session, duration=180)
    v1 = store.add_model_version(session=session, task="chorus", name="selfsim", version="1", activate=True)
    v2 = store.add_model_version(session=session, task="chorus", name="hooknet", version="0.1",
                                 path="models/hooknet", config={"hidden": 64}, metrics={"iou": 0.5},
                                 activate=True)
    assert store.active_model_version(session=session, task="chorus").id == v2.id
    # a detector version (no checkpoint) and a trained model are active side by side: predicting with a
    # new detector version must not retire the scorer it runs with, and promoting a scorer keeps the detector
    assert store.active_model_version(session=session, task="chorus", trained=False).id == v1.id
    v3 = store.add_model_version(session=session, task="chorus", name="selfsim", version="2", activate=True)
    assert store.active_model_version(session=session, task="chorus").id == v2.id
    assert store.active_model_version(session=session, task="chorus", trained=False).id == v3.id
    session.refresh(v1)
    assert not v1.is_active
    v4 = store.add_model_version(session=session, task="chorus", name="hooknet", version="0.2", path="models/h2",
                                 activate=True)
    session.refresh(v2)
    session.refresh(v3)
    assert not v2.is_active and v3.is_active and v4.is_active
    assert store.active_model_version(session=session, task="intro") is None
    assert [m.id for m in store.list_model_versions(session=session, task="chorus")] == [v4.id, v3.id, v2.id, v1.id]
    with pytest.raises(ValidationError, match="already registered"):
        store.add_model_version(session=session, task="chorus", name="selfsim", version="1")
    p1 = store.add_prediction(session=session, item_id=a.id, model_version_id=v1.id, task="chorus",
                              start=40, end=60, confidence=0.8, payload={"scores": [0.1, 0.9]})
    store.add_prediction(session=session, item_id=a.id, model_version_id=v2.id, task="chorus", start=41, end=61)
    assert len(store.predictions_for(session=session, item_id=a.id)) == 2
    only = store.predictions_for(session=session, item_id=a.id, model_version_id=v1.id)
    assert [p.id for p in only] == [p1.id] and only[0].payload == {"scores": [0.1, 0.9]}
    with pytest.raises(ValidationError, match="confidence"):
        store.add_prediction(session=session, item_id=a.id, model_version_id=v1.id, task="chorus",
                             start=1, end=2, confidence=1.5)
    with pytest.raises(ValidationError, match="past the item's duration"):
        store.add_prediction(session=session, item_id=a.id, model_version_id=v1.id, task="chorus",
                             start=1, end=500)
    with pytest.raises(NotFoundError, match="no model version with id 99"):
        store.add_prediction(session=session, item_id=a.id, model_version_id=99, task="chorus", start=1, end=2)


def test_label_progress_counts_a_no_intro_truth_as_labelled(session):
    eps = [store.upsert_item(session=session, key=f"show_e{i}.wav", path=f"tv/show_e{i}.wav", kind="episode",
                             series="Show", duration=120.0) for i in range(3)]
    store.replace_truth_labels(session=session, item_id=eps[0].id, kind="intro", intervals=[(5.0, 30.0)])
    store.update_item_extra(session=session, item_id=eps[1].id, extra={"has_intro": False})  # truth: no intro
    store.update_item_extra(session=session, item_id=eps[2].id, extra={"note": "unlabelled"})
    (row,) = [r for r in store.label_progress(session=session) if r["group"] == "Show"]
    assert (row["items"], row["truth"], row["human"]) == (3, 2, 0)


def test_lock_row_reports_missing_rows_and_unknown_tables():
    engine = store.make_engine("sqlite://")
    store.init_db(engine)
    with store.session_scope(engine) as s:
        item = store.upsert_item(session=s, key="a.wav", path="/nowhere/a.wav", kind="song", duration=10.0)
        assert store.lock_row(session=s, table="media_item", row_id=item.id) is True
        assert store.lock_row(session=s, table="media_item", row_id=item.id + 99) is False
        with pytest.raises(ValueError, match="unknown table"):
            store.lock_row(session=s, table="no_such_table", row_id=1)
