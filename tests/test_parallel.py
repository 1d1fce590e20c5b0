"""Regression: spawn pools must start even when a Streamlit page is ``__main__`` (it was, after AppTest)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from reviewer.parallel import neutral_main, spawn_executor

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "1_Review.py")


def test_spawn_pool_starts_with_a_page_as_main(settings, monkeypatch):
    monkeypatch.setenv("REVIEWER_HOME", str(settings.home))
    monkeypatch.setenv("REVIEWER_DB_URL", settings.db_url)
    from reviewer.settings import get_settings

    get_settings.cache_clear()
    try:
        AppTest.from_file(PAGE, default_timeout=60).run()
    finally:
        get_settings.cache_clear()
    main_file = getattr(sys.modules["__main__"], "__file__", "")
    with spawn_executor(1) as pool:
        with neutral_main():
            fut = pool.submit(os.getpid)
        assert fut.result(timeout=120) != os.getpid()
    assert getattr(sys.modules["__main__"], "__file__", "") == main_file  # restored
