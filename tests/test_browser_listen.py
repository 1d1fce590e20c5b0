"""Playwright against `streamlit run`: open Listen, rate a snippet, see the MOS update (headless Debian Chromium)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reviewer import store
from reviewer.config import load_config
from reviewer.pipeline import save_table, table_path

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def library(settings, wav_file):
    """Two tiny songs on disk with segment tables, a model version and hook predictions."""
    from test_services_debug import synthetic_table

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    cfg = load_config(None)
    with store.session_scope(engine) as s:
        mv = store.add_model_version(session=s, task="hook", name="hooknet", version="b1")
        for i in range(2):
            path = wav_file(f"song{i}.wav", duration=12.0, seed=i)
            it = store.upsert_item(session=s, key=f"song{i}", path=str(path), kind="song", duration=12.0,
                                   artist="Band", title=f"Tune {i}")
            save_table(synthetic_table(12.0, seed=i), table_path(settings, it.key, cfg))
            store.add_prediction(session=s, item_id=it.id, model_version_id=mv.id, task="hook", start=3.0, end=8.0,
                                 confidence=0.7, payload={"method": "hooknet"})
    return settings


@pytest.fixture
def server(library):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    pytest.importorskip("playwright.sync_api")
    port = _free_port()
    env = dict(os.environ, REVIEWER_HOME=str(library.home), REVIEWER_DB_URL=library.db_url,
               REVIEWER_DATA_DIR=str(library.data_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not become healthy in 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_rate_a_snippet_updates_mos(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)  # a loaded 2-core machine can be slow
            page.goto(f"{server}/Listen")
            expect(page.get_by_text("No ratings yet")).to_be_visible(timeout=120_000)
            expect(page.locator("audio").first).to_be_attached(timeout=60_000)
            page.get_by_text("4 · good").click()
            page.get_by_role("button", name="Save rating").click()
            expect(page.get_by_text("Saved: 4 · good")).to_be_visible(timeout=60_000)
            mos = page.get_by_test_id("stTable")
            expect(mos).to_contain_text("hooknet b1", timeout=60_000)
            expect(mos).to_contain_text("4.00")
            expect(page.get_by_text("No ratings yet")).to_have_count(0)
            page.get_by_text("5 · excellent").click()
            page.get_by_role("button", name="Save rating").click()
            expect(page.get_by_text("Saved: 5 · excellent")).to_be_visible(timeout=60_000)
            expect(mos).to_contain_text("4.50", timeout=60_000)  # (4 + 5) / 2
        finally:
            browser.close()
