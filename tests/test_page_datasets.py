"""AppTest for the Datasets & models page: log-in, an export with its manifest, a background job with a stub command."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from reviewer import store
from reviewer.services import auth, jobs
from reviewer.ui import state

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "5_Datasets_and_models.py")
PASSWORD = "long enough"
STUB = (sys.executable, "-c", "import sys, json; print('epoch 1/1', file=sys.stderr); "
                              "print(json.dumps({'model_version_id': 3, 'test_metrics': {}}))")


@pytest.fixture
def env(app_env, monkeypatch):
    settings = app_env
    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    auth.create_user(name="eng", password=PASSWORD, role="engineer", engine=engine)
    auth.create_user(name="ann", password=PASSWORD, role="annotator", engine=engine)
    with store.session_scope(engine) as s:
        for i in range(4):
            it = store.upsert_item(session=s, key=f"song{i}.wav", path=f"/nowhere/song{i}.wav", kind="song",
                                   artist=f"artist{i}", genre="pop", duration=100.0)
            store.add_label(session=s, item_id=it.id, kind="hook", start=10.0 + i, end=25.0 + i, source="truth")
    yield settings, engine


def log_in(name):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.text_input(key=state.AUTH_NAME).input(name)
    at.text_input(key=state.AUTH_PASSWORD).input(PASSWORD)
    next(b for b in at.button if b.label == "Log in").click().run()
    return at


def test_annotators_are_refused(env):
    at = log_in("ann")
    assert not at.exception
    assert any("this page is for engineers" in e.value for e in at.error)


def test_export_runs_and_shows_the_manifest(env):
    settings, _ = env
    at = log_in("eng")
    assert not at.exception
    at.session_state[state.DATA_SECTION] = "Train & promote"
    at.run()
    assert "No trained intro model yet" in "\n".join(e.value for e in at.info)
    at.session_state[state.DATA_SECTION] = "Export"
    at.run()
    next(b for b in at.button if b.label == "Export").click().run()
    assert not at.exception, at.exception
    assert any("Exported" in e.value for e in at.success)
    folder = Path(at.session_state[state.DATA_LAST_EXPORT])
    assert folder.parent == settings.data_dir / "exports" and (folder / "manifest.json").is_file()
    md = "\n".join(e.value for e in at.markdown)
    assert f"`{folder}`" in md
    assert len(at.json) == 1 and "counts" in at.json[0].value
    assert any("matches its SHA-256" in c.value for c in at.caption)


def test_background_job_with_a_stub_command(env):
    settings, _ = env
    at = log_in("eng")
    at.session_state[state.DATA_STUB_COMMAND] = STUB
    at.session_state[state.DATA_SECTION] = "Train & promote"
    at.run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    job_id = at.session_state[state.DATA_JOB]
    assert f"`{job_id}`" in "\n".join(e.value for e in at.markdown)
    t0 = time.time()
    while not jobs.job_status(job_id, settings=settings).finished and time.time() - t0 < 20:
        time.sleep(0.1)
    at.run()
    page = "\n".join(e.value for e in (*at.markdown, *at.success))
    assert "**done**" in page and "New model version #3" in page


def test_training_set_split_by_upload_date_cutoff_and_label_sources(env):
    """The training-set section: per-source counts, split by upload date with a cut-off (newer items held out)."""
    import datetime as dt

    import pandas as pd

    settings, engine = env
    with store.session_scope(engine) as s:
        for i in range(4):
            store.upsert_item(session=s, key=f"song{i}.wav", path=f"/nowhere/song{i}.wav", kind="song",
                              extra={"upload_date": f"2024-0{i + 1}-15"})
    at = log_in("eng")
    at.session_state[state.DATA_TASK] = "interest"
    at.run()
    counts = at.dataframe[0].value
    assert list(counts["items"]) == ["train", "test"] and int(counts["truth"].iloc[0]) == 4
    at.selectbox(key=state.DATA_SET_SPLIT).set_value("upload_date").run()
    at.date_input(key=state.DATA_SET_CUTOFF).set_value(dt.date(2024, 3, 1)).run()
    next(b for b in at.button if b.label == "Build").click().run()
    assert not at.exception, at.exception
    folder = Path(at.session_state[state.DATA_LAST_EXPORT])
    table = pd.read_csv(folder / "labels.csv")
    split = dict(zip(table["key"], table["split"]))
    assert split == {"song0.wav": "train", "song1.wav": "train", "song2.wav": "test", "song3.wav": "test"}


def test_label_gain_section_shows_a_and_b_side_by_side(env):
    from test_label_gain import TINY, intro_store

    from reviewer.services import label_gain

    settings, _ = env
    engine = intro_store(settings, n_groups=4)  # same database: episodes next to the songs
    sim = label_gain.simulate_human_labels("intro", engine=engine, human_fraction=0.4, seed=1)
    rep = label_gain.measure_label_gain("intro", engine=engine, settings=settings, train_config=TINY, simulation=sim)
    at = log_in("eng")
    at.session_state[state.DATA_SECTION] = "Human-label gain"
    at.run()
    assert not at.exception, at.exception
    assert any("simulated" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["A", "B", "B − A"]
    assert list(table["human-labelled items"][:2]) == [0, 2]
    assert table["held-out f1"].iloc[2] == pytest.approx(rep["delta"]["f1"])
    assert "Human-labelled items used by B: 2" in "\n".join(c.value for c in at.caption)
    at.selectbox(key=state.DATA_GAIN_TASK).set_value("chorus").run()
    assert any("No chorus measurement yet" in i.value for i in at.info)
    at.session_state[state.DATA_GAIN_STUB_COMMAND] = STUB
    next(b for b in at.button if b.label == "Measure (simulated labels)").click().run()
    job = jobs.job_status(at.session_state[state.DATA_JOB], settings=settings)
    assert job.kind == "label-gain" and job.task == "chorus" and list(job.command) == list(STUB)
    assert label_gain.command("intro")[3:] == ["-v", "label-gain", "--task", "intro", "--json", "--repeats", "1",
                                               "--simulate"]
