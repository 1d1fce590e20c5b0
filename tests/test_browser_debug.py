"""Playwright: an ML engineer debugs one song's segment selection in headless Chromium.

Opens the Segment debugger on ``?item=ID``, asks "what if max_seq_len were 16"
(the chosen-segment count and the importance chart follow), switches to the
prediction evidence and picks the prediction that stored a self-similarity
matrix, checks the model-version table, then follows "open in Review" to the
same item. Screenshots go to a temporary folder, or to docs/screenshots/ when
REVIEWER_SCREENSHOTS=docs/screenshots is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from test_browser_review import CHROMIUM, _idle, serve
from test_services_debug import make_library

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _svg_text(page, text: str):
    return page.locator("svg text").filter(has_text=text)


def test_debug_one_song_what_if_evidence_and_open_in_review(settings, tmp_path):
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    lib = make_library(settings)
    lib["engine"].dispose()
    shots = Path(os.environ.get("REVIEWER_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with serve(settings) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(f"{url}/Segment_debugger?item={lib['song_a']}")
        page.wait_for_selector("h3:has-text('#%d · Band — SONG_A')" % lib["song_a"], timeout=120000)
        page.wait_for_selector(".js-plotly-plot", timeout=120000)
        _idle(page)
        # 60 s at a 1.5 s hop = 39 segments; the default max_seq_len keeps them all
        assert _metric(page, "Segments") == "39"
        assert _metric(page, "Chosen") == "39"
        assert _svg_text(page, "Importance").count() >= 1

        # what if the model only saw 16 segments?
        box = page.locator(".st-key-debug-max_seq_len input")
        box.fill("16")
        box.press("Enter")
        for _ in range(60):  # the rerun may start late on a loaded machine
            _idle(page)
            if _metric(page, "Chosen") == "16":
                break
            page.wait_for_timeout(500)
        assert _metric(page, "Chosen") == "16"
        picked = sum(int(_metric(page, r)) for r in ("boundary start", "boundary end", "importance"))
        assert picked == 16

        # the prediction evidence: the newest prediction stored none; the older one has an SSM and scores
        page.get_by_role("tab", name="Prediction evidence").click()
        page.wait_for_selector("text=stored no evidence", timeout=60000)
        page.locator(".st-key-debug-prediction_id").click()
        page.get_by_role("option", name="#%d · hook" % lib["p1"], exact=False).click()
        _idle(page)
        page.wait_for_selector("svg text:has-text('Self-similarity matrix')", timeout=60000)
        assert _svg_text(page, "Per-segment scores of").count() >= 1
        assert page.locator("text=stored no evidence").count() == 0
        page.screenshot(path=str(shots / "debugger_evidence_browser.png"), full_page=True)

        # model versions: IoU per version against the current labels, then the worst items
        page.get_by_role("tab", name="Model versions (IoU, worst items)").click()
        page.wait_for_selector("text=Predictions vs current labels", timeout=60000)
        page.wait_for_selector("text=Worst items", timeout=60000)

        # "open in Review" lands on the same item in the Review page
        page.get_by_role("tab", name="One item").click()
        link = page.get_by_role("link", name="open in Review").first
        if link.get_attribute("target") == "_blank":  # streamlit opens markdown links in a new tab
            with page.context.expect_page(timeout=60000) as opened:
                link.click()
            page = opened.value
        else:
            link.click()
        page.wait_for_url(f"**/Review?item={lib['song_a']}", timeout=60000)
        page.wait_for_selector("text=SONG_A", timeout=120000)
        _idle(page)
        page.screenshot(path=str(shots / "debugger_to_review_browser.png"), full_page=True)
        assert page.get_by_role("heading", name="Review").count() >= 1
        browser.close()
