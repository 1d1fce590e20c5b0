"""AppTest of the Review page's crowd disagreement section: roles, queue, overlays, resolve, stale refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from reviewer import store
from reviewer.services import auth, crowd, crowd_resolve
from reviewer.services.auth import SYSTEM_USER
from reviewer.ui import state

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "1_Review.py")
PASSWORD = "long enough"


@pytest.fixture
def crowd_env(app_env, wav_file, monkeypatch):
    """Two 40 s songs; three annotators disagree on the first task, agree on the second; an engineer."""
    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    engine = store.make_engine(app_env.db_url)
    store.init_db(engine)
    with store.session_scope(engine) as s:
        for i in range(2):
            path = wav_file(f"songs/s{i}.wav", duration=40.0, seed=i)
            store.upsert_item(session=s, key=f"s{i}", path=str(path), kind="song", genre="pop", title=f"Song {i}",
                              artist="Band", duration=40.0)
    crowd.create_pool(SYSTEM_USER, engine=engine, name="hooks", golden_rate=0.0, overlap=3, min_listen_seconds=5.0)
    anns = [auth.create_user(name=f"ann{k}", password=PASSWORD, engine=engine) for k in range(3)]
    auth.create_user(name="eve", password=PASSWORD, role="engineer", engine=engine)
    bad = None
    for k, who in enumerate(anns):
        for n in range(2):
            task = crowd.next_task(who, engine=engine)
            region = ((5.0, 15.0), (25.0, 37.0), (6.0, 16.0))[k] if task.item_key == "s0" else (20.0, 30.0)
            crowd.submit_answer(who, engine=engine, task_id=task.task_id, start=region[0], end=region[1],
                                listened_seconds=30)
            if task.item_key == "s0":
                bad = task.task_id
    yield engine, bad
    engine.dispose()


def log_in(at, name):
    at.text_input(key=state.AUTH_NAME).input(name)
    at.text_input(key=state.AUTH_PASSWORD).input(PASSWORD)
    next(b for b in at.button if b.label == "Log in").click().run()
    return at


def texts(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "subheader", "title"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    for m in at.metric:
        parts.append(f"{m.label}={m.value}")
    return "\n".join(parts)


def open_queue(name):
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    assert not at.exception
    at.toggle(key=state.REVIEW_CROWD_MODE).set_value(True).run()
    assert "Log in to settle crowd disagreements" in texts(at)
    return log_in(at, name)


def test_annotator_is_refused_and_sees_no_answers(crowd_env):
    engine, bad = crowd_env
    at = open_queue("ann0")
    assert not at.exception
    page = texts(at)
    assert "'ann0' has the role 'annotator'; this needs one of: engineer, pm, admin" in page
    assert "ann1" not in page and "ann2" not in page and "Mean pairwise IoU" not in page
    assert not at.get("plotly_chart")
    # the direct link does not help either
    at2 = AppTest.from_file(PAGE, default_timeout=90)
    at2.query_params["crowd_task"] = str(bad)
    at2.run()
    log_in(at2, "ann1")
    assert "has the role 'annotator'" in texts(at2) and "ann2" not in texts(at2)


def test_reviewer_resolves_the_worst_task_and_it_leaves_the_queue(crowd_env):
    engine, bad = crowd_env
    at = open_queue("eve")
    assert not at.exception
    assert at.session_state[state.REVIEW_CROWD_TASK] == bad
    page = texts(at)
    assert "1 unresolved task(s) below 0.50" in page
    assert all(f"ann{k}" in page for k in range(3))
    assert "Mean pairwise IoU=0." in page and "Krippendorff's α=" in page and "Counted answers=3 of 3" in page
    chart = at.get("plotly_chart")[0]
    fig = json.loads(chart.proto.spec)
    names = [sh.get("name") for sh in fig["layout"]["shapes"]]
    assert {"ann0", "ann1", "ann2", "consensus (computed)"} <= set(names)
    # resolve with ann1's region
    at.radio(key=state.REVIEW_CROWD_CHOICE).set_value("annotator").run()
    pick = next(a for a in crowd_resolve.disagreement_detail(SYSTEM_USER, engine=engine, task_id=bad).answers
                if a.user_name == "ann1")
    at.selectbox(key=state.REVIEW_CROWD_ANSWER).set_value(pick.answer_id).run()
    at.text_input(key=state.REVIEW_CROWD_COMMENT).input("the chorus is later").run()
    at.button(key=state.REVIEW_CROWD_RESOLVE).click().run()
    assert not at.exception
    assert any(f"Task #{bad} resolved: use one annotator's region (ann1's region)" in s.value for s in at.success)
    assert "No unresolved crowd task has a mean pairwise IoU below 0.50" in texts(at)
    with store.session_scope(engine) as s:
        task = store.get_crowd_task(session=s, task_id=bad)
        heads = store.current_labels(session=s, item_id=task.item_id, kind="interest")
        assert [(lb.source, lb.author, lb.start, lb.end) for lb in heads] == [("crowd_resolved", "eve", 25.0, 37.0)]
        assert json.loads(heads[0].note)["comment"] == "the chorus is later"


def test_corrected_region_by_drag_and_stale_refusal(crowd_env):
    engine, bad = crowd_env
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params["crowd_task"] = str(bad)
    at.run()
    log_in(at, "eve")
    assert not at.exception and at.session_state[state.REVIEW_CROWD_TASK] == bad
    # a drag on the waveform becomes the corrected region
    at.session_state[state.REVIEW_CROWD_WAVE] = {"selection": {"box": [{"x": [7.5, 14.25]}], "points": [],
                                                               "point_indices": []}}
    at.run()
    assert at.session_state[state.REVIEW_CROWD_CHOICE] == "corrected"
    assert (at.number_input(key=state.REVIEW_CROWD_START).value, at.number_input(key=state.REVIEW_CROWD_END).value) \
        == (7.5, 14.25)
    # someone else resolves first: this view is stale and the save is refused
    pm = auth.create_user(name="pat", password=PASSWORD, role="pm", engine=engine)
    d = crowd_resolve.disagreement_detail(pm, engine=engine, task_id=bad)
    crowd_resolve.resolve_disagreement(pm, engine=engine, task_id=bad, choice="consensus",
                                       seen_answers=d.answer_ids)
    at.button(key=state.REVIEW_CROWD_RESOLVE).click().run()
    assert not at.exception
    assert any(f"task {bad} was already resolved by pat" in e.value for e in at.error)
    with store.session_scope(engine) as s:
        heads = store.current_labels(session=s, item_id=d.item_id, kind="interest")
        assert [lb.author for lb in heads] == ["pat"]
    # reload: the resolution is shown and can be replaced deliberately
    at.button(key=state.REVIEW_CROWD_RELOAD).click().run()
    assert "Already resolved by **pat**" in texts(at)
    at.radio(key=state.REVIEW_CROWD_CHOICE).set_value("corrected").run()
    at.number_input(key=state.REVIEW_CROWD_START).set_value(8.0)
    at.number_input(key=state.REVIEW_CROWD_END).set_value(14.0).run()
    at.button(key=state.REVIEW_CROWD_RESOLVE).click().run()
    assert any("set a corrected region" in s.value and "by eve" in s.value for s in at.success)
    with store.session_scope(engine) as s:
        heads = store.current_labels(session=s, item_id=d.item_id, kind="interest")
        assert [(lb.author, lb.start, lb.end, lb.version) for lb in heads] == [("eve", 8.0, 14.0, 2)]


def test_normal_review_page_is_unchanged_without_the_toggle(crowd_env):
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Review"]
    assert state.AUTH_NAME not in [w.key for w in at.text_input]
