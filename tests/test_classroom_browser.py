"""The classroom in headless Chromium: projector mode at 1280×720, English and Korean, the switches.

Screenshots of every tab in both languages with projector mode on land in artifacts/classroom_*.png
(look at them). The checks: type at least 24 px, plots re-laid out with larger text, each tab's main
view (its picture and its main button) inside the 1280×720 window without scrolling, every tab name and
the server's own text in the page's language, and both switches remembered by the browser.
"""

from __future__ import annotations

import re

import pytest


WIDTH, HEIGHT = 1280, 720
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Per tab: (tab id, what must be visible without scrolling: the main view and its main button).
TABS = [
    ("forward", ["#fwd-t", "#fwd-scrub canvas"]),
    ("lab2d", ["#lab-forward", "#lab-train"]),
    ("train", ["#train-start", "#train-loss"]),
    ("sample", ["#sample-run", "#sample-live"]),
    ("edit", ["#edit-run", "#edit-live"]),
    ("evaluate", ["#eval-run", "#eval-terms"]),
]
TAB_NAMES = {"en": ["Forward process", "2-D lab", "Train", "Sample", "Edit", "Evaluate"],
             "ko": ["순방향 과정", "2-D 실습", "학습", "샘플링", "편집", "평가"]}


@pytest.fixture
def projector_page(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("button[role=tab]")
    page.wait_for_selector("#fwd-scrub canvas")
    page.wait_for_function("document.querySelector('#fwd-stats table') && "
                           "!/processing/.test(document.querySelector('#fwd-stats').innerText)")


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not rendered"
    return box


@pytest.mark.parametrize("language", ["en", "ko"])
def test_projector_mode_shows_every_tab_large_and_whole_at_1280x720(projector_page, app_url, artifacts, language):
    page = projector_page
    _open(page, f"{app_url}/?lang={language}&projector=1")
    assert page.evaluate("document.documentElement.lang") == language
    assert page.evaluate("document.documentElement.classList.contains('projector')")
    assert page.locator("button[role=tab]").all_inner_texts() == TAB_NAMES[language]
    body = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    prose = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#fwd-stats .prose, #fwd-stats')).fontSize)")
    assert body >= 24 and prose >= 24, (body, prose)
    for index, (tab, main) in enumerate(TABS):
        page.locator("button[role=tab]").nth(index).click()
        for selector in main:
            page.locator(selector).first.wait_for(state="visible")
        page.wait_for_timeout(800)  # plots re-laid out, images decoded
        assert page.evaluate("window.scrollY") == 0
        for selector in main:
            box = _box(page, selector)
            assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + 1, (tab, selector, box)
            assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT + 1, (tab, selector, box)
        label_px = page.evaluate("""(sel) => {
            const el = document.querySelector(sel); const span = el && el.closest('.block') &&
                el.closest('.block').querySelector('label span, .label, span[data-testid=block-info]');
            return span ? parseFloat(getComputedStyle(span).fontSize) : 24; }""", main[0])
        assert label_px >= 20, (tab, label_px)
        page.screenshot(path=str(artifacts / f"classroom_{language}_{tab}.png"))
    # Plots in view are drawn with the projector's larger text.
    page.locator("button[role=tab]").nth(0).click()
    page.wait_for_function("[...document.querySelectorAll('#fwd-hist .js-plotly-plot')].some(g => g._fullLayout && g._fullLayout.font.size === 20)")


def test_the_server_speaks_the_page_language(projector_page, app_url):
    page = projector_page
    _open(page, f"{app_url}/?lang=ko")
    stats = page.locator("#fwd-stats").inner_text()
    assert HANGUL.search(stats) and "signal fraction" not in stats, stats
    assert HANGUL.search(page.locator("#fwd-terminal").inner_text())
    page.locator("button[role=tab]").nth(3).click()
    page.wait_for_function("/\\d/.test(document.querySelector('#sample-summary').innerText)")
    assert HANGUL.search(page.locator("#sample-summary").inner_text())


def test_a_korean_browser_gets_korean_without_asking(browser, app_url):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="ko-KR")
    page = context.new_page()
    try:
        _open(page, app_url)
        assert page.evaluate("document.documentElement.lang") == "ko"
        assert page.locator("button[role=tab]").all_inner_texts() == TAB_NAMES["ko"]
        assert HANGUL.search(page.locator("#fwd-stats").inner_text())
    finally:
        context.close()


def test_the_switches_are_remembered(projector_page, app_url):
    page = projector_page
    _open(page, app_url)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert not page.evaluate("document.documentElement.classList.contains('projector')")
    page.locator("#projector-toggle").click()
    assert page.evaluate("document.documentElement.classList.contains('projector')")
    page.locator(".ddpm-lang a[lang=ko]").click()
    page.wait_for_url(re.compile(r"lang=ko"))
    _open(page, page.url)
    assert page.locator("button[role=tab]").all_inner_texts() == TAB_NAMES["ko"]
    assert page.evaluate("document.documentElement.classList.contains('projector')"), "projector mode kept"
    _open(page, app_url)  # the bare address again: both choices come back
    assert page.evaluate("document.documentElement.lang") == "ko" and "lang=ko" in page.url
    stats = page.locator("#fwd-stats").inner_text()
    assert HANGUL.search(stats), f"the server hears the remembered language: {page.url} {stats[:80]!r}"
    assert page.evaluate("document.documentElement.classList.contains('projector')")
    page.locator("#projector-toggle").click()
    page.locator(".ddpm-lang a[lang=en]").click()
    page.wait_for_url(re.compile(r"lang=en"))
    _open(page, page.url)
    assert page.locator("button[role=tab]").all_inner_texts() == TAB_NAMES["en"]
    assert not page.evaluate("document.documentElement.classList.contains('projector')")


def test_projector_mode_during_a_korean_sampling_run(projector_page, app_url, artifacts):
    """The Sample tab's live grids, in Korean on a projector: what a lecture shows."""
    page = projector_page
    _open(page, f"{app_url}/?lang=ko&projector=1")
    page.locator("button[role=tab]").nth(3).click()
    page.locator("#sample-sampler").get_by_text("DDIM", exact=True).click()
    steps = page.locator("#sample-steps input")
    steps.fill("40")
    steps.press("Enter")
    page.locator("#sample-run").click()
    page.wait_for_function("/완료: 40 스텝/.test(document.querySelector('#sample-live').innerText)", timeout=90_000)
    live = page.locator("#sample-live").inner_text()
    assert HANGUL.search(live) and "Done" not in live, live
    box = _box(page, "#sample-live figure img")
    assert box["y"] + box["height"] <= HEIGHT + 1, box
    page.screenshot(path=str(artifacts / "classroom_ko_sample_done.png"))
