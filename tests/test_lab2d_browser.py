"""The 2-D lab in headless Chromium: play the forward animation, train, watch points flow back, stop."""

import re

from playwright.sync_api import Page, expect

FORWARD = "#lab-forward .js-plotly-plot"
REVERSE = "#lab-reverse .js-plotly-plot"


def _slider_state(page: Page, selector: str) -> dict:
    """The animation's slider position, its frame count and the first point of the cloud."""
    return page.locator(selector).evaluate(
        "gd => ({active: gd._fullLayout.sliders[0].active, frames: (gd._transitionData._frames || []).length,"
        " x0: gd.data[0].x[0], label: gd._fullLayout.sliders[0].steps[gd._fullLayout.sliders[0].active].label})")


def _open_lab(page: Page, app_url: str) -> None:
    page.goto(app_url)
    page.get_by_role("tab", name="2-D lab").click()
    expect(page.locator(FORWARD)).to_be_visible(timeout=30_000)


def _set_training_steps(page: Page, steps: int) -> None:
    page.get_by_text("Training settings").click()
    box = page.locator("#lab-steps input[type=number]")
    expect(box).to_be_visible()
    for _ in range(3):  # the accordion's content may still be mounting when the first fill lands
        box.fill(str(steps))
        box.press("Enter")
        try:
            expect(box).to_have_value(str(steps), timeout=3_000)
            return
        except AssertionError:
            continue
    expect(box).to_have_value(str(steps))


def test_forward_animation_plays_and_its_slider_follows(page: Page, app_url, artifacts):
    _open_lab(page, app_url)
    page.wait_for_function(f"() => (document.querySelector('{FORWARD}')._transitionData._frames || []).length > 10")
    start = _slider_state(page, FORWARD)
    assert start["label"] == "0" and start["active"] == 0, "the animation opens on the data, t = 0"
    page.locator("#lab-forward .updatemenu-button").first.click()  # ▶ Play
    page.wait_for_timeout(900)
    playing = _slider_state(page, FORWARD)
    assert 0 < playing["active"] < start["frames"] - 1, "the slider follows playback towards t = T"
    assert playing["x0"] != start["x0"], "the points moved"
    page.screenshot(path=str(artifacts / "lab2d_forward_playing.png"), full_page=True)


def test_train_then_points_flow_back_with_the_metric(page: Page, app_url, artifacts):
    _open_lab(page, app_url)
    _set_training_steps(page, 1500)
    page.locator("#lab-train").click()
    expect(page.locator("#lab-status")).to_contain_text("step 1,500 / 1,500", timeout=60_000)
    expect(page.locator("#lab-fit")).to_contain_text("noise floor", timeout=60_000)
    expect(page.locator(REVERSE)).to_be_visible()
    reverse = _slider_state(page, REVERSE)
    assert reverse["label"] == "0", "the reverse animation opens on the generated sample"
    ratio = float(re.search(r"([\d.]+)×", page.locator("#lab-fit").inner_text()).group(1))
    assert ratio < 3
    page.locator("#lab-field input").check()
    page.locator("#lab-sample").click()
    page.wait_for_function(f"() => document.querySelector('{REVERSE}').data[4].x.length > 0", timeout=30_000)
    page.screenshot(path=str(artifacts / "lab2d_trained.png"), full_page=True)


def test_stop_keeps_the_model_trained_so_far(page: Page, app_url):
    _open_lab(page, app_url)
    _set_training_steps(page, 20_000)
    page.locator("#lab-train").click()
    expect(page.locator("#lab-status")).to_contain_text(re.compile(r"step [\d,]+ / 20,000"), timeout=30_000)
    page.wait_for_timeout(1500)
    page.locator("#lab-stop").click()
    expect(page.locator("#lab-reverse")).to_contain_text(re.compile(r"after [\d,]+ training steps"), timeout=60_000)
    title = page.locator(REVERSE).evaluate("gd => gd.layout.title.text")
    steps = int(re.search(r"after ([\d,]+) training", title).group(1).replace(",", ""))
    assert 0 < steps < 20_000


def test_a_word_with_no_text_shows_a_message(page: Page, app_url):
    _open_lab(page, app_url)
    page.locator("#lab-shape input").click()
    page.get_by_role("option", name="your word").click()
    word = page.locator("#lab-word textarea, #lab-word input").first
    word.fill("   ")
    word.press("Enter")
    expect(page.locator(".toast-body").first).to_contain_text("Type a word", timeout=20_000)
    before = _slider_state(page, FORWARD)["x0"]  # the default word "DDPM", drawn when the shape was picked
    word.fill("Hello")
    word.press("Enter")
    page.wait_for_function(f"() => document.querySelector('{FORWARD}').data[0].x[0] !== {before}", timeout=20_000)
