"""AppTest for the Segment debugger: empty database, bad ids, missing predictions, full evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from reviewer import store
from reviewer.ui import state
from test_services_debug import make_library

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "2_Segment_debugger.py")


@pytest.fixture
def env(app_env):
    return app_env


def _texts(at) -> str:
    parts = [e.value for e in (*at.info, *at.error, *at.warning, *at.markdown, *at.caption, *at.subheader)]
    return "\n".join(str(p) for p in parts)


def test_empty_database(env):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    text = _texts(at)
    assert "library is empty" in text and "No predictions yet" in text


def test_item_without_predictions(env):
    lib = make_library(env, predictions=False)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["item"] = str(lib["song_a"])
    at.run()
    assert not at.exception
    text = _texts(at)
    assert "SONG_A" in text and "No predictions yet for this item" in text
    assert "No model scores yet" in text
    assert any("wav2vec: no wav2vec model configured" in str(v) for df in at.dataframe for v in df.value.get("reason", []))
    assert len(at.get("plotly_chart")) >= 4  # importance, heatmap, missing map, strategies


def test_what_if_max_seq_len_and_evidence(env):
    lib = make_library(env)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.DEBUG_PICK] = lib["song_a"]
    at.run()
    assert not at.exception
    at.number_input(key=state.DEBUG_MAX_SEQ_LEN).set_value(16).run()
    assert not at.exception
    assert [m.value for m in at.metric][:2] == ["39", "16"]
    assert any("stored no evidence" in i.value for i in at.info)  # the newest prediction (v2) has none
    at.selectbox(key=state.DEBUG_PREDICTION).select(lib["p1"]).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 7  # + per-segment scores, the SSM and the ranked chorus candidates
    frames = [d.value for d in at.dataframe]
    models = next(f for f in frames if "hit_rate" in f.columns)
    assert set(models["model"]) == {"hooknet 1", "hooknet 2", "crnn 1"}
    worst = next(f for f in frames if "review" in f.columns)
    assert worst["review"].iloc[0].startswith("Review?item=")


def test_bad_item_ids(env):
    make_library(env)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["item"] = "9999"
    at.run()
    assert not at.exception
    assert any("9999" in e.value for e in at.error)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["item"] = "abc"
    at.run()
    assert not at.exception
    assert any("not an item id" in w.value for w in at.warning)


def test_item_not_extracted(env):
    lib = make_library(env)
    with store.session_scope(lib["engine"]) as s:
        new = store.upsert_item(session=s, key="fresh", path="/x/fresh.wav", kind="song", duration=10.0).id
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.DEBUG_PICK] = new
    at.run()
    assert not at.exception
    assert any("reviewer extract" in e.value for e in at.error)
