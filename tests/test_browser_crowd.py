"""Playwright: the crowd flow in headless Chromium against `streamlit run`.

Annotator A logs in on the Crowd page, plays the track, drags a region on the
waveform after the pool's minimum listening time and submits; annotator B gets
the same task without seeing A's answer, answers elsewhere, then skips the next
track with a reason; a reviewer opens the Review page's disagreement queue and
resolves the task. Screenshots go to a temporary folder, or to docs/screenshots/
when REVIEWER_SCREENSHOTS=docs/screenshots is set (a test run leaves the repo alone).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from reviewer import store
from reviewer.services import auth, crowd
from reviewer.services.auth import SYSTEM_USER
from test_browser_review import CHROMIUM, _idle, _set, drag, player_frame, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

PASSWORD = "long enough"
MIN_LISTEN = 4.0  # the pool's minimum listening time (a pool setting; the page enforces it, the test waits it out)


@pytest.fixture
def server(settings, wav_file, monkeypatch):
    pytest.importorskip("playwright.sync_api")
    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    with store.session_scope(engine) as s:
        for i in range(2):
            path = wav_file(f"songs/Band/song{i}.wav", duration=40.0, seed=i)
            store.upsert_item(session=s, key=f"song{i}", path=str(path), kind="song", genre="pop", artist="Band",
                              title=f"Song {i}", duration=40.0)
    pool = crowd.create_pool(SYSTEM_USER, engine=engine, name="hooks", golden_rate=0.0, overlap=3,
                             min_listen_seconds=MIN_LISTEN)
    for name, role in (("anna", "annotator"), ("bert", "annotator"), ("rita", "engineer")):
        auth.create_user(name=name, password=PASSWORD, role=role, engine=engine)
    engine.dispose()
    with serve(settings) as url:
        yield url, settings, pool.pool_id


def _log_in(page, url: str, path: str, name: str) -> None:
    page.goto(f"{url}/{path}")
    page.wait_for_selector(".st-key-auth-name input", timeout=120000)
    _idle(page)
    page.locator(".st-key-auth-name input").fill(name)
    page.locator(".st-key-auth-password input").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    _idle(page)
    page.wait_for_selector(f"text={name}", timeout=120000)


def _task_id(page) -> int:
    head = page.get_by_role("heading", name=re.compile(r"Task #\d+")).first
    head.wait_for(timeout=120000)
    return int(re.search(r"Task #(\d+)", head.inner_text()).group(1))


def _play(page, seconds: float) -> float:
    """Play the track in the waveform player (its frontend ships in the wheel), pause after ``seconds``.

    Returns the play head the page received from the player (it arrives with a rerun: poll, a loaded machine
    may start that rerun late).
    """
    frame = player_frame(page)
    frame.locator("button").last.click()  # play
    page.wait_for_timeout(int(seconds * 1000))
    frame.locator("button").last.click()  # pause: the player reports its time
    box = page.locator(".st-key-crowd-playhead input")
    for _ in range(120):
        _idle(page)
        value = box.input_value(timeout=120000)
        if value and float(value) > 0.5:
            return float(value)
        page.wait_for_timeout(500)
    raise AssertionError(f"the play head never arrived from the player (input shows {box.input_value()!r})")


def _wait_value(page, key: str, ok, what: str) -> str:
    """Poll the input of widget ``key`` until ``ok(value)``: results arrive with a rerun that may start late."""
    box = page.locator(f".st-key-{key.replace('.', '-')} input")
    for _ in range(40):
        _idle(page)
        value = box.input_value(timeout=120000)
        if ok(value):
            return value
        page.wait_for_timeout(500)
    raise AssertionError(f"{what}: {key} still shows {box.input_value()!r}")


def _open_skip(page) -> None:
    """Unfold "Skip this track" (again, when a late rerun folded it)."""
    for _ in range(20):
        _idle(page)
        if page.locator(".st-key-crowd-skip button").is_visible():
            return
        page.get_by_text("Skip this track").click()
        page.wait_for_timeout(500)
    raise AssertionError("the skip expander did not open")


def test_crowd_answers_privacy_skip_and_review_resolution(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, settings, pool_id = server
    SHOTS = Path(os.environ.get("REVIEWER_SCREENSHOTS") or tmp_path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        # ---- annotator A: play, drag a region on the waveform, submit after the minimum listening time
        a = browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()
        _log_in(a, url, "Crowd", "anna")
        first = _task_id(a)
        a.wait_for_selector(".js-plotly-plot", timeout=120000)
        _idle(a)
        drag(a, 0.40, 0.62)
        _wait_value(a, "crowd.end", lambda v: float(v or 0) > 0, "the drag did not reach the region inputs")
        assert _play(a, MIN_LISTEN + 1.0) > 1.0  # the player set the play head
        start = float(a.locator(".st-key-crowd-start input").input_value())
        end = float(a.locator(".st-key-crowd-end input").input_value())
        assert 10.0 < start < end < 30.0 and 5.0 <= end - start <= 30.0, (start, end)
        a.wait_for_selector("text=✓", timeout=60000)
        a.screenshot(path=str(SHOTS / "crowd_task.png"), full_page=True)
        a.locator(".st-key-crowd-submit button").click()
        a.wait_for_selector(f"text=Task #{first}: thanks: answer saved", timeout=120000)
        # ---- annotator B: same task, nothing of A's answer on the page; a far-away region by typing
        b = browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()
        _log_in(b, url, "Crowd", "bert")
        assert _task_id(b) == first
        b.wait_for_selector(".js-plotly-plot", timeout=120000)
        body = b.locator("body").inner_text()
        assert "anna" not in body and f"{start:.2f}" not in body and f"{end:.2f}" not in body
        shapes = b.evaluate("() => (document.querySelector('.js-plotly-plot').layout.shapes || []).length")
        assert shapes == 0  # no overlay at all before B marks a region
        _play(b, 1.0)
        _set(b, "crowd.start", "31")
        _set(b, "crowd.end", "39")
        b.wait_for_timeout(int(MIN_LISTEN * 1000))
        b.locator(".st-key-crowd-submit button").click()
        b.wait_for_selector(f"text=Task #{first}: thanks: answer saved", timeout=120000)
        # ---- B skips the next track with a reason
        second = _task_id(b)
        assert second != first
        _open_skip(b)
        b.get_by_text("The audio is broken / silent").click()
        _idle(b)
        assert b.locator(".st-key-crowd-skip_reason input[type=radio]").nth(2).is_checked()
        # a late rerun may fold the expander under the pointer: click the button through the DOM
        b.locator(".st-key-crowd-skip button").dispatch_event("click")
        b.wait_for_selector(f"text=Task #{second}: skipped (broken_audio)", timeout=120000)
        # ---- a reviewer resolves the task in the Review page's disagreement queue
        r = browser.new_context(viewport={"width": 1400, "height": 1500}).new_page()
        _log_in(r, url, f"Review?crowd_task={first}", "rita")
        r.wait_for_selector("text=Mean pairwise IoU", timeout=120000)
        r.wait_for_selector(".js-plotly-plot", timeout=120000)
        _idle(r)
        body = r.locator("body").inner_text()
        assert "anna" in body and "bert" in body and "Krippendorff" in body
        r.screenshot(path=str(SHOTS / "review_disagreement.png"), full_page=True)
        r.get_by_text("Use one annotator's region").click()
        _idle(r)
        r.locator(".st-key-review-crowd_resolve button").click()
        r.wait_for_selector(f"text=Task #{first} resolved", timeout=120000)
        r.wait_for_selector("text=No unresolved crowd task", timeout=120000)
        browser.close()
    engine = store.make_engine(settings.db_url)
    with store.session_scope(engine) as s:
        rows = store.pool_answers(session=s, pool_id=pool_id, is_golden=None, valid_only=False)
        got = sorted((u.name, t.id, a.start, a.end, a.skip_reason, a.too_fast) for a, t, u in rows)
        assert got == sorted([("anna", first, start, end, None, False), ("bert", first, 31.0, 39.0, None, False),
                              ("bert", second, None, None, "broken_audio", False)])
        assert all(a.created_at is not None for a, _, _ in rows)
        assert all(a.listened_seconds >= MIN_LISTEN for a, _, _ in rows if a.start is not None)  # regions: not too fast
        item_id = store.get_crowd_task(session=s, task_id=first).item_id
        heads = store.current_labels(session=s, item_id=item_id, kind="interest")
        assert [(lb.source, lb.author, lb.start, lb.end) for lb in heads] == [("crowd_resolved", "rita", start, end)]
    engine.dispose()
