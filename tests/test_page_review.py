"""AppTest of pages/1_Review.py: empty database, bad ids, missing predictions, saving, stale edits, drag-select."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from reviewer import store
from reviewer.services import review
from reviewer.ui import state

PAGE = "../pages/1_Review.py"


@pytest.fixture
def env(app_env):
    engine = store.make_engine(app_env.db_url)
    store.init_db(engine)
    return engine, app_env


@pytest.fixture
def episode(env, wav_file):
    engine, _ = env
    path = wav_file("ep.wav", duration=20.0)
    with store.session_scope(engine) as s:
        item = store.upsert_item(session=s, key="ep", path=str(path), kind="episode", series="Show", season=1,
                                 episode=1, duration=20.0)
        store.add_label(session=s, item_id=item.id, kind="intro", start=2.0, end=8.0, source="truth", author="gt")
        return item.id


def _run(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def _another_item(engine, wav_file) -> int:
    """A second item (a song) after the episode in the picker's order."""
    with store.session_scope(engine) as s:
        return store.upsert_item(session=s, key="song", path=str(wav_file("s.wav", duration=8.0)), kind="song",
                                 artist="Band", title="Tune", duration=8.0).id


def _texts(at, kind: str) -> str:
    return " ".join(str(x.value) for x in getattr(at, kind))


def test_empty_database(env):
    at = _run()
    assert not at.exception
    assert "library is empty" in _texts(at, "info")


@pytest.mark.parametrize("bad", ["abc", "999"])
def test_bad_item_id(episode, bad):
    at = _run({"item": bad})
    assert not at.exception
    assert f"Cannot open item {bad!r}" in _texts(at, "error") or f"Cannot open item {int(bad)!r}" in _texts(at, "error")


def test_missing_predictions_are_said(episode):
    at = _run({"item": str(episode)})
    assert not at.exception
    assert "No prediction yet" in _texts(at, "info")
    assert "no prediction yet for *intro*" in _texts(at, "markdown")
    assert at.number_input(key=state.REVIEW_START_MS).value == 2000
    assert at.number_input(key=state.REVIEW_END_MS).value == 8000
    assert len(at.get("plotly_chart")) >= 1


def test_prediction_is_shown_with_confidence(env, episode):
    engine, _ = env
    with store.session_scope(engine) as s:
        store.add_prediction(session=s, item_id=episode, model_version_id=None, task="intro", start=2.5, end=9.0,
                             confidence=0.73, payload={"method": "chromaprint", "model_version": "baseline-1"})
    at = _run({"item": str(episode)})
    assert not at.exception
    assert "confidence 73%" in _texts(at, "markdown")


def test_correction_saved(env, episode):
    engine, settings = env
    at = _run({"item": str(episode)})
    at.text_input(key=state.REVIEW_AUTHOR).set_value("ann")
    at.number_input(key=state.REVIEW_END_MS).set_value(9500)
    at.button(key=f"{state.REVIEW_NUDGE}_start_100").click()
    at.run()
    assert at.number_input(key=state.REVIEW_START_MS).value == 2100
    at.button(key=state.REVIEW_FIX).click()
    at.run()
    assert not at.exception and not at.error
    assert "Saved: intro 2.100–9.500 s" in _texts(at, "success")
    labels = review.review_data(episode, engine=engine, settings=settings).labels
    assert [(lb.start, lb.end, lb.author, lb.source) for lb in labels] == [(2.1, 9.5, "ann", "human")]


def test_bad_bounds_message_keeps_input(episode):
    at = _run({"item": str(episode)})
    at.text_input(key=state.REVIEW_AUTHOR).set_value("ann")
    at.number_input(key=state.REVIEW_END_MS).set_value(25000)
    at.button(key=state.REVIEW_FIX).click()
    at.run()
    assert "past the item's duration" in _texts(at, "error")
    assert at.number_input(key=state.REVIEW_END_MS).value == 25000


def test_stale_edit_shows_message_and_keeps_input(env, episode):
    engine, settings = env
    at = _run({"item": str(episode)})
    at.text_input(key=state.REVIEW_AUTHOR).set_value("ann")
    at.number_input(key=state.REVIEW_START_MS).set_value(3300)
    at.run()
    base = review.review_data(episode, engine=engine, settings=settings).labels[0]
    review.save_correction(engine=engine, item_id=episode, kind="intro", start=2.2, end=8.0, author="bob",
                           base_label_id=base.id, base_version=base.version)
    at.button(key=state.REVIEW_FIX).click()
    at.run()
    err = _texts(at, "error")
    assert "someone else changed this label first" in err and "bob" in err
    assert at.number_input(key=state.REVIEW_START_MS).value == 3300
    labels = review.review_data(episode, engine=engine, settings=settings).labels
    assert [(lb.start, lb.author) for lb in labels] == [(2.2, "bob")]


def test_drag_select_sets_the_bounds(episode):
    at = _run({"item": str(episode)})
    at.session_state[state.REVIEW_WAVE_CHART] = {"selection": {"points": [], "point_indices": [],
                                                               "box": [{"xref": "x", "yref": "y", "x": [4.25, 11.5],
                                                                        "y": [-1, 1]}], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.number_input(key=state.REVIEW_START_MS).value == 4250
    assert at.number_input(key=state.REVIEW_END_MS).value == 11500


def test_undo_and_next_unreviewed(env, episode, wav_file):
    engine, _ = env
    other = _another_item(engine, wav_file)
    at = _run({"item": str(episode)})
    at.text_input(key=state.REVIEW_AUTHOR).set_value("ann")
    at.button(key=state.REVIEW_ACCEPT).click()
    at.run()
    assert "Saved: intro 2.000–8.000 s, accepted" in _texts(at, "success")
    at.button(key=state.REVIEW_UNDO).click()
    at.run()
    assert "Undone" in _texts(at, "success")
    at.button(key=state.REVIEW_NEXT).click()
    at.run()
    assert at.session_state[state.REVIEW_ITEM] == other
    assert "Band – Tune" in _texts(at, "subheader")


def test_note_goes_with_the_saved_row_and_never_to_another_item(env, episode, wav_file):
    """Regression (app check, session 7): a note typed for one item was saved with the next item's label."""
    engine, settings = env
    other = _another_item(engine, wav_file)
    at = _run({"item": str(episode)})
    at.text_input(key=state.REVIEW_AUTHOR).set_value("ann")
    at.text_input(key=state.REVIEW_NOTE).set_value("starts after the cold open")
    at.button(key=state.REVIEW_ACCEPT).click()
    at.run()
    assert not at.exception and "Saved: intro" in _texts(at, "success")
    assert [lb.note for lb in review.review_data(episode, engine=engine, settings=settings).labels] == [
        "starts after the cold open"]
    assert not at.text_input(key=state.REVIEW_NOTE).value  # cleared once saved
    at.text_input(key=state.REVIEW_NOTE).set_value("typed here, not saved")
    at.button(key=state.REVIEW_NEXT).click()
    at.run()
    assert at.session_state[state.REVIEW_ITEM] == other
    assert not at.exception and not at.text_input(key=state.REVIEW_NOTE).value  # not carried to the next item
