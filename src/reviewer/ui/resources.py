"""Process-wide resources for the pages: settings and the database engine (st.cache_resource)."""

from __future__ import annotations

import streamlit as st

from reviewer import store
from reviewer.settings import Settings, get_settings


@st.cache_resource(show_spinner=False)
def engine_for(db_url: str):
    engine = store.make_engine(db_url)
    store.init_db(engine)
    return engine


def settings() -> Settings:
    return get_settings()


def engine():
    return engine_for(settings().db_url)
