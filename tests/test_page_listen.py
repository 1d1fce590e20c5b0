"""AppTest for the Listen page: empty database, no predictions, a rating updates MOS, blind A/B, bad ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from reviewer import store
from reviewer.ui import state
from test_services_debug import make_library

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "3_Listen.py")


@pytest.fixture
def env(app_env):
    return app_env


def _infos(at) -> str:
    return "\n".join(str(e.value) for e in (*at.info, *at.error, *at.success, *at.markdown))


def _mos(at):
    return at.table[0].value if len(at.table) else None


def test_empty_database(env):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "No predictions yet" in _infos(at) and "No ratings yet" in _infos(at)
    at.radio(key=state.LISTEN_MODE).set_value("Blind A/B").run()
    assert not at.exception
    assert "needs a track with snippets from two model versions" in _infos(at)


def test_library_without_predictions(env):
    make_library(env, predictions=False)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "No predictions yet" in _infos(at)


def test_rating_updates_mos(env):
    lib = make_library(env)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert _mos(at) is None
    assert any("Cannot play this snippet" in e.value for e in at.error)  # test media paths do not exist
    at.text_input(key=state.LISTEN_AUTHOR).input("pm").run()
    first = at.selectbox(key=state.LISTEN_CURRENT).value
    at.button[0].click().run()  # submit without a rating
    assert any("Pick a rating" in e.value for e in at.error)
    at.radio(key=state.LISTEN_RATING).set_value(4)
    at.text_input(key=state.LISTEN_COMMENT).input("catchy")
    at.button[0].click().run()
    assert not at.exception
    assert any("Saved: 4" in s.value for s in at.success)
    mos = _mos(at)
    assert len(mos) == 1 and mos["MOS"].iloc[0] == "4.00" and mos["ratings"].iloc[0] == 1
    assert at.selectbox(key=state.LISTEN_CURRENT).value != first  # moved on to the next snippet
    at.checkbox(key=state.LISTEN_UNRATED).check().run()
    assert "(3 snippet(s) in the queue)" in at.selectbox(key=state.LISTEN_CURRENT).label  # 4 minus the rated one
    with store.session_scope(lib["engine"]) as s:
        saved = store.list_ratings(session=s)
    assert [(r.prediction_id, r.rating, r.comment, r.author) for r in saved] == [(first, 4, "catchy", "pm")]


def test_blind_ab_records_and_reveals(env):
    lib = make_library(env)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key=state.LISTEN_MODE).set_value("Blind A/B").run()
    assert not at.exception
    text = _infos(at)
    assert "SONG_A" in text and "hooknet" not in text  # blind: no version on screen before the vote
    at.radio(key=state.LISTEN_AB_CHOICE).set_value("a")
    at.button[0].click().run()
    assert not at.exception
    msg = " ".join(s.value for s in at.success)
    assert "A was **hooknet" in msg and "B was **hooknet" in msg
    stats = next(d.value for d in at.dataframe if "judgements" in d.value.columns)
    assert stats["judgements"].iloc[0] == 1
    with store.session_scope(lib["engine"]) as s:
        assert len(store.list_preferences(session=s)) == 1


def test_bad_ids_in_state_recover(env):
    make_library(env)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.LISTEN_CURRENT] = 9999
    at.run()
    assert not at.exception
    assert at.selectbox(key=state.LISTEN_CURRENT).value != 9999
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.LISTEN_MODE] = "Blind A/B"
    at.session_state[state.LISTEN_AB_ITEM] = 1
    at.session_state[state.LISTEN_AB_A] = 9998
    at.session_state[state.LISTEN_AB_B] = 9999
    at.run()
    assert not at.exception
    assert any("no prediction with id 9998" in e.value for e in at.error)
    at.run()  # the next run picks a fresh pair
    assert not at.exception and not at.error or all("Cannot play" in e.value for e in at.error)
