"""AppTest for the home page: empty database offers the demo; a filled one lists items with filters."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from reviewer import store

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def env(app_env):
    return app_env


def test_empty_database_offers_demo(env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("library is empty" in i.value for i in at.info)
    assert any(b.label == "Build the demo library" for b in at.button)


def test_library_lists_and_filters(env):
    engine = store.make_engine(env.db_url)
    store.init_db(engine)
    with store.session_scope(engine) as s:
        for i in range(3):
            store.upsert_item(session=s, key=f"ep{i}", path=f"/x/ep{i}.wav", kind="episode", series="Show", season=1, episode=i + 1)
        store.upsert_item(session=s, key="song0", path="/x/s.wav", kind="song", artist="Band", title="Tune")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.metric[0].value == "4"
    df = at.dataframe[-1].value
    assert len(df) == 4
    progress = at.dataframe[0].value
    assert set(progress["series / artist"]) == {"Show", "Band"}
    at.selectbox[0].select("song").run()
    assert len(at.dataframe[-1].value) == 1
    at.text_input[0].input("ep1").run()
    assert "0 item(s)" in at.caption[-1].value or len(at.dataframe[-1].value) == 0
