"""AppTest for the Crowd page: empty DB, log-in failure, answers, skips, annotators blind to others, reviewer view."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from reviewer import store
from reviewer.services import auth, crowd
from reviewer.services.auth import SYSTEM_USER
from reviewer.ui import state

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "4_Crowd.py")
PASSWORD = "long enough"


@pytest.fixture
def env(app_env, monkeypatch):
    settings = app_env
    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    yield settings, engine


def pool_with_users(engine, *, roles=("annotator", "annotator")):
    with store.session_scope(engine) as s:
        for g in ("pop", "rock"):
            for i in range(2):
                store.upsert_item(session=s, key=f"{g}_{i}.wav", path=f"/nowhere/{g}_{i}.wav", kind="song",
                                  genre=g, artist=f"{g}-artist{i}", title=f"{g} song {i}", duration=120.0)
    pool = crowd.create_pool(SYSTEM_USER, engine=engine, name="hooks", golden_rate=0.0, overlap=3,
                             min_listen_seconds=20.0)
    users = [auth.create_user(name=f"user{k}", password=PASSWORD, role=r, engine=engine) for k, r in enumerate(roles)]
    return pool, users


def texts(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "subheader", "title", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    for ni in at.number_input:
        parts.append(f"{ni.label}={ni.value}")
    return "\n".join(parts)


def log_in(at, name, password=PASSWORD):
    at.text_input(key=state.AUTH_NAME).input(name)
    at.text_input(key=state.AUTH_PASSWORD).input(password)
    next(b for b in at.button if b.label == "Log in").click().run()
    return at


def test_empty_database_and_login_failure(env):
    settings, engine = env
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "Log in to take crowd tasks" in texts(at)
    log_in(at, "nobody", "wrong password")
    assert not at.exception
    assert any("Cannot log in: unknown user name or wrong password" in e.value for e in at.error)
    auth.create_user(name="ann", password=PASSWORD, engine=engine)
    log_in(at, "ann")
    assert not at.exception and at.session_state[state.AUTH_USER_NAME] == "ann"
    assert "no open task pools yet" in texts(at)


def test_annotator_submits_skips_and_never_sees_other_answers(env):
    settings, engine = env
    pool, (a, b) = pool_with_users(engine)
    at = log_in(AppTest.from_file(PAGE, default_timeout=60).run(), a.name)
    assert not at.exception
    first = at.session_state[state.CROWD_TASK]
    assert f"Task #{first}" in texts(at)
    next(x for x in at.button if x.label == "Submit my region").click().run()
    assert any("Choose a region first" in e.value for e in at.error)
    at.number_input(key=state.CROWD_START).set_value(47.25)
    at.number_input(key=state.CROWD_END).set_value(63.75).run()
    assert "16.5 s" in texts(at)
    at.session_state[state.CROWD_SHOWN_AT] = time.time() - 60.0  # listened for a minute
    next(x for x in at.button if x.label == "Submit my region").click().run()
    assert not at.exception
    assert any(f"Task #{first}: thanks: answer saved" in e.value for e in at.success)
    second = at.session_state[state.CROWD_TASK]
    assert second != first
    # too fast: saved but flagged, with a clear message
    at.number_input(key=state.CROWD_START).set_value(10.0)
    at.number_input(key=state.CROWD_END).set_value(25.0).run()
    next(x for x in at.button if x.label == "Submit my region").click().run()
    assert any("flagged" in e.value and "at least 20 s" in e.value for e in at.warning)
    # skip with a reason
    third = at.session_state[state.CROWD_TASK]
    at.radio(key=state.CROWD_SKIP_REASON).set_value("broken_audio")
    next(x for x in at.button if x.label == "Skip").click().run()
    assert any(f"Task #{third}: skipped (broken_audio)" in e.value for e in at.success)
    mine = crowd.my_answers(a, engine=engine)
    assert [(m.start, m.end, m.skip_reason, m.too_fast) for m in mine] == [
        (47.25, 63.75, None, False), (10.0, 25.0, None, True), (None, None, "broken_audio", False)]
    # the other annotator gets the same first task and sees nothing of user0's answer
    at2 = log_in(AppTest.from_file(PAGE, default_timeout=60).run(), b.name)
    assert not at2.exception and at2.session_state[state.CROWD_TASK] == first
    page = texts(at2)
    assert a.name not in page and "47.2" not in page and "63.7" not in page and "0:47" not in page
    assert not at2.tabs  # annotators have no reviewer tab


def test_reviewer_sees_pools_agreement_and_links(env):
    settings, engine = env
    pool, (a, b, eng_user) = pool_with_users(engine, roles=("annotator", "annotator", "engineer"))
    task = crowd.next_task(a, engine=engine)
    crowd.submit_answer(a, engine=engine, task_id=task.task_id, start=10.0, end=20.0, listened_seconds=60)
    crowd.submit_answer(b, engine=engine, task_id=task.task_id, start=80.0, end=95.0, listened_seconds=60)
    at = log_in(AppTest.from_file(PAGE, default_timeout=60).run(), eng_user.name)
    assert not at.exception
    page = texts(at)
    assert "hooks" in page and f"Review?item={task.item_id}" in page and "user0" in page
    next(x for x in at.button if x.label == "Run aggregation").click().run()
    assert not at.exception
    assert any("consensus region(s)" in e.value for e in at.success)
