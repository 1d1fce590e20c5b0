"""Playwright: open Review in headless Chromium against `streamlit run`, type a new intro end, save, reload."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reviewer import store

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("streamlit did not become healthy")


@contextlib.contextmanager
def serve(settings):
    """`streamlit run app.py` on a free port against ``settings``' database; yields the base URL."""
    port = _free_port()
    env = {**os.environ, "REVIEWER_HOME": str(settings.home), "REVIEWER_DATA_DIR": str(settings.data_dir),
           "REVIEWER_DB_URL": settings.db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def server(settings, wav_file):
    pytest.importorskip("playwright.sync_api")
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    path = wav_file("show/ep1.wav", duration=30.0)
    with store.session_scope(engine) as s:
        item = store.upsert_item(session=s, key="ep1", path=str(path), kind="episode", series="Show", season=1,
                                 episode=1, duration=30.0)
        store.add_label(session=s, item_id=item.id, kind="intro", start=2.0, end=9.0, source="truth", author="gt")
        item_id = item.id
    engine.dispose()
    with serve(settings) as url:
        yield url, item_id, settings


def _idle(page) -> None:
    """Wait until the app has finished its rerun (the "Running..." widget is gone)."""
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120000)


def _set(page, key: str, value: str) -> None:
    box = page.locator(f".st-key-{key.replace('.', '-')} input")
    box.fill(value)
    box.press("Enter")
    _idle(page)


def player_frame(page):
    """The streamlit-advanced-audio player's iframe (its frontend ships in the wheel), once its buttons are there."""
    frame = None
    for _ in range(60):
        frame = next((f for f in page.frames if "audix" in f.url), None)
        if frame is not None:
            break
        page.wait_for_timeout(1000)
    assert frame is not None, "the streamlit-advanced-audio player did not load"
    frame.wait_for_selector("button", timeout=60000)
    return frame


def drag(page, x0: float, x1: float) -> None:
    """A horizontal mouse drag across the first waveform, between fractions x0 and x1 of its width."""
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    y = box["y"] + box["height"] * 0.5
    a, b = box["x"] + box["width"] * x0, box["x"] + box["width"] * x1
    page.mouse.move(a, y, steps=3)
    page.wait_for_timeout(300)
    page.mouse.down()
    page.mouse.move((a + b) / 2, y, steps=10)
    page.mouse.move(b, y, steps=10)
    page.wait_for_timeout(300)
    page.mouse.up()
    page.wait_for_timeout(1000)
    _idle(page)


def test_type_new_intro_end_accept_reload(server):
    from playwright.sync_api import sync_playwright

    url, item_id, settings = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{url}/Review?item={item_id}")
        page.wait_for_selector(".st-key-review-end_ms input", timeout=120000)
        page.wait_for_selector(".js-plotly-plot", timeout=120000)
        assert page.locator(".st-key-review-end_ms input").input_value() == "9000"
        _idle(page)
        _set(page, "review.author", "ann")
        _set(page, "review.end_ms", "12345")
        page.locator(".st-key-review-fix button").first.click()
        page.wait_for_selector("text=Saved: intro 2.000–12.345 s", timeout=120000)
        page.reload()
        page.wait_for_selector(".st-key-review-end_ms input", timeout=120000)
        page.wait_for_selector("text=✓ reviewed", timeout=120000)
        assert page.locator(".st-key-review-end_ms input").input_value() == "12345"
        browser.close()
    engine = store.make_engine(settings.db_url)
    with store.session_scope(engine) as s:
        labels = store.current_labels(session=s, item_id=item_id)
    assert [(lb.end, lb.author, lb.source) for lb in labels] == [(12.345, "ann", "human")]


def test_shortcut_drag_select_and_play_head(server):
    """Keyboard shortcut nudges the end, a real mouse drag selects a region, the player's play head sets the end."""
    from playwright.sync_api import sync_playwright

    url, item_id, _settings = server
    end = ".st-key-review-end_ms input"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{url}/Review?item={item_id}")
        page.wait_for_selector(end, timeout=120000)
        page.wait_for_selector(".js-plotly-plot", timeout=120000)
        _idle(page)
        assert page.locator(end).input_value() == "9000"
        # alt+i: end +0.1 s (streamlit-shortcuts clicks the nudge button; its listener loads in a component)
        for _ in range(10):  # until the listener is attached: a lost key press changes nothing
            page.get_by_role("heading", name="Review").first.click()
            page.keyboard.press("Alt+i")
            for _ in range(10):  # a loaded machine may start the rerun late: wait before pressing again
                page.wait_for_timeout(1000)
                _idle(page)
                if page.locator(end).input_value() != "9000":
                    break
            if page.locator(end).input_value() != "9000":
                break
        assert page.locator(end).input_value() == "9100"
        # drag across the middle of the waveform: a horizontal box selection becomes the region
        drag(page, 0.40, 0.60)
        for _ in range(40):  # the selection arrives with a rerun that a loaded machine may start late
            page.wait_for_timeout(500)
            _idle(page)
            if page.locator(".st-key-review-start_ms input").input_value() != "2000":
                break
        start_ms = float(page.locator(".st-key-review-start_ms input").input_value())
        end_ms = float(page.locator(end).input_value())
        assert 5000 < start_ms < end_ms < 25000, (start_ms, end_ms)
        # play ~2 s in the waveform player (its frontend ships in the wheel), pause, "End = play head"
        frame = player_frame(page)
        frame.locator("button").last.click()
        page.wait_for_timeout(2500)
        _idle(page)
        playhead = page.locator(".st-key-review-playhead input")
        at_play = playhead.input_value()
        frame.locator("button").last.click()
        for _ in range(40):  # the paused time arrives with a rerun that a loaded machine may start late
            _idle(page)
            if playhead.input_value() != at_play:
                break
            page.wait_for_timeout(500)
        page.get_by_role("button", name=re.compile("End = play")).click()
        for _ in range(40):  # wait for the rerun the click starts (late on a loaded machine)
            page.wait_for_timeout(500)
            _idle(page)
            if float(page.locator(end).input_value()) != end_ms:
                break
        new_end = float(page.locator(end).input_value())
        assert new_end != end_ms and new_end > start_ms, (start_ms, end_ms, new_end, at_play, playhead.input_value())
        browser.close()
