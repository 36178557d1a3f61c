"""The Edit tab in headless Chromium: draw a digit and SDEdit it, upload a digit, paint a mask and inpaint it,
download the result, a bad input's message, and the tab at 1280×720 in projector mode.

Screenshots land in artifacts/edit_*.png (look at them): a drawn digit turned into a clean one
(edit_sdedit_drawn.png, and the t₀ strip edit_sdedit_strip.png), an inpainted digit (edit_inpaint.png, and both
methods side by side edit_inpaint_methods.png), and the projector view (edit_projector.png).
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from conftest import ROOT, fill_number
from ddpm_core import edit as core
from ddpm_core.images import to_uint8

DIGIT = ROOT / "assets" / "digits" / "3" / "0013.png"
RUN_TIMEOUT = 180_000  # ms: a few seconds alone, much longer on a busy 2-core machine


def open_edit_tab(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit-x0 img").wait_for()  # the blank canvas as the model takes it: the page is wired


def src(page: Page, selector: str) -> str:
    return page.locator(f"{selector} img").first.get_attribute("src") or ""


def stroke(page: Page, editor: str, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through `points` (offsets from the canvas's centre, in page pixels) with the brush."""
    page.locator(f"{editor} button[aria-label='Brush']").first.click()
    box = page.locator(f"{editor} canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx + points[0][0], cy + points[0][1])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for i in range(1, 9):
            page.mouse.move(cx + x0 + (x1 - x0) * i / 8, cy + y0 + (y1 - y0) * i / 8)
    page.mouse.up()


def wait_for_new(page: Page, selector: str, old: str) -> None:
    page.wait_for_function("([sel, old]) => { const img = document.querySelector(sel + ' img'); "
                           "return img && img.src && img.src !== old; }", arg=[selector, old], timeout=60_000)


def set_number(page: Page, selector: str, value) -> None:
    fill_number(page.locator(f"{selector} input[type=number]"), value)


def test_a_drawn_digit_is_turned_into_a_clean_one(page: Page, app_url, artifacts):
    open_edit_tab(page, app_url)
    before = src(page, "#edit-x0")
    # A wobbly 2: a hook, a diagonal, a base, drawn white on the black canvas
    stroke(page, "#edit-image", [(-60, -70), (-20, -105), (40, -95), (55, -50), (10, 10), (-55, 95), (-20, 90),
                                 (30, 100), (70, 92)])
    wait_for_new(page, "#edit-x0", before)
    page.locator("#edit-sampler label", has_text="DDIM").click()
    set_number(page, "#edit-t0", 400)
    page.click("#edit-run")
    live = page.locator("#edit-live")
    expect(live).to_contain_text(re.compile(r"Done: 40 steps in [\d.]+ s"), timeout=RUN_TIMEOUT)
    expect(live).to_contain_text("SDEdit from t₀ = 400 · DDIM")
    expect(page.locator("#edit-result img")).to_be_visible()
    page.locator("#edit-image").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "edit_sdedit_drawn.png"), full_page=True)
    page.click("#edit-strip")
    expect(live).to_contain_text(re.compile(r"Done: 7 runs in [\d.]+ s"), timeout=RUN_TIMEOUT)
    figures = page.locator("#edit-compare figure")
    expect(figures).to_have_count(8)  # the input and seven t₀
    expect(figures.nth(7)).to_contain_text("SDEdit from t₀ = 1000")
    page.locator("#edit-compare").screenshot(path=str(artifacts / "edit_sdedit_strip.png"))


def test_upload_paint_a_mask_inpaint_and_download(page: Page, app_url, artifacts, tmp_path):
    open_edit_tab(page, app_url)
    before = src(page, "#edit-x0")
    page.locator("#edit-image input[type=file]").set_input_files(str(DIGIT))
    wait_for_new(page, "#edit-x0", before)
    page.locator("#edit-method label", has_text="RePaint").click()
    expect(page.locator("#edit-mask")).to_be_visible()
    expect(page.locator("#edit-t0 input[type=number]")).to_have_value("1000")  # inpainting starts from noise
    # Nothing painted yet: a message, and the tab keeps working.
    page.click("#edit-run")
    expect(page.get_by_test_id("toast-text").first).to_contain_text("The mask is empty, so there is nothing to fill")
    page.get_by_test_id("toast-close").first.click()
    before = src(page, "#edit-fill")
    stroke(page, "#edit-mask", [(-150, 20), (150, 20), (150, 60), (-150, 60), (-150, 100), (150, 100),
                                (150, 130), (-150, 130)])  # the lower part of the digit
    wait_for_new(page, "#edit-fill", before)
    page.click("#edit-run")
    live = page.locator("#edit-live")
    expect(live).to_contain_text(re.compile(r"Done: [\d,]+ steps in [\d.]+ s"), timeout=RUN_TIMEOUT)
    expect(live).to_contain_text("RePaint j = 10, r = 5 from t₀ = 1000")
    page.screenshot(path=str(artifacts / "edit_inpaint.png"), full_page=True)

    page.click("#edit-png")
    link = page.locator("#edit-export a").first
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "result.png"
    download.value.save_as(saved)
    result = np.asarray(Image.open(saved))
    original = to_uint8(core.load_for_model(str(DIGIT), 16, 1)[0])
    assert result.shape == (16, 16)
    assert np.array_equal(result[:5], original[:5])  # the unpainted top rows are kept exactly
    assert not np.array_equal(result, original)

    page.click("#edit-methods")
    expect(live).to_contain_text(re.compile(r"Done: 2 runs in [\d.]+ s"), timeout=RUN_TIMEOUT)
    expect(page.locator("#edit-compare figure")).to_have_count(3)
    page.locator("#edit-compare").screenshot(path=str(artifacts / "edit_inpaint_methods.png"))


def test_the_edit_tab_fits_a_projector(browser, app_url, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{app_url}/?projector=1")
        page.get_by_role("tab", name="Edit").click()
        for selector in ("#edit-run", "#edit-live"):
            page.locator(selector).wait_for(state="visible")
        page.wait_for_timeout(800)
        for selector in ("#edit-run", "#edit-live"):
            box = page.locator(selector).first.bounding_box()
            assert 0 <= box["x"] and box["x"] + box["width"] <= 1281, (selector, box)
            assert 0 <= box["y"] and box["y"] + box["height"] <= 721, (selector, box)
        assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('#edit-run')).fontSize)") >= 20
        page.screenshot(path=str(artifacts / "edit_projector.png"))
    finally:
        context.close()
