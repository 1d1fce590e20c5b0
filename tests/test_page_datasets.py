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
from reviewer.settings import get_settings
from reviewer.ui import state

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "5_Datasets_and_models.py")
PASSWORD = "long enough"
STUB = (sys.executable, "-c", "import sys, json; print('epoch 1/1', file=sys.stderr); "
                              "print(json.dumps({'model_version_id': 3, 'test_metrics': {}}))")


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("REVIEWER_HOME", str(settings.home))
    monkeypatch.setenv("REVIEWER_DB_URL", settings.db_url)
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    get_settings.cache_clear()
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
    get_settings.cache_clear()


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
