"""The Forward tab in a real browser (headless Debian Chromium driven by Playwright's sync API).

What is checked, against the running app from conftest's `app_url`:
- the browser-composed canvas (`#fwd-scrub`) loads the default image, redraws on every slider move
  and agrees with the server's exact x_t (fetched with gradio_client) to within quantisation error;
- the server views that follow t (equation, statistics, schedule plot, histogram) update;
- uploading an image, switching the β schedule, and the terminal-SNR warning;
- a bad upload shows a clear error and the app keeps serving.

Expected numbers (√ᾱ_t) are derived here independently of the app's code. A full-page screenshot is
written to artifacts/forward_tab.png for a person to look at.
"""

from __future__ import annotations

import base64
import io
import math
import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from conftest import ASSETS, fill_number

# Server round trips (and KaTeX/plotly re-renders) on a 2-core machine can take a few seconds.
expect.set_options(timeout=15_000)

SCRUB = "#fwd-scrub [data-loaded]"  # the gr.HTML root element the scrub JS writes data-* onto
CAPTION = "#fwd-scrub .scrub-a figcaption"
T_RANGE = "#fwd-t input[type=range]"


# ---- independent expectations ------------------------------------------------------------------

def sqrt_abar_linear(t: int, T: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02) -> float:
    """√ᾱ_t for Ho et al.'s linear schedule: ᾱ_t = Π_{s≤t} (1 − β_s)."""
    return math.sqrt(float(np.prod(1 - np.linspace(beta_1, beta_T, T)[:t])))


def sqrt_abar_cosine(t: int, T: int = 1000, s: float = 0.008) -> float:
    """√ᾱ_t for Nichol & Dhariwal's cosine schedule (no β clipping matters away from t = T)."""
    f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return math.sqrt(f(t) / f(0))


# ---- page helpers ------------------------------------------------------------------------------

def open_forward_tab(page: Page, app_url: str) -> None:
    """Load the app and wait until both the canvas and the server views show the default x_250."""
    page.goto(app_url)
    expect(page.locator(SCRUB)).to_have_attribute("data-loaded", "256")
    expect(page.locator(CAPTION)).to_contain_text(re.compile(r"^x_250\b"))
    expect(page.locator("#fwd-equation")).to_contain_text("x_{250}")  # the KaTeX TeX annotation


def canvas_rgb(page: Page) -> np.ndarray:
    """The scrub canvas's pixels as an (H, W, 3) uint8 array (PNG export is lossless, alpha is 255)."""
    url = page.locator("#fwd-scrub .scrub-a canvas").evaluate("c => c.toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def renders(page: Page) -> int:
    return int(page.locator(SCRUB).get_attribute("data-renders") or 0)


def wait_for_new_render(page: Page, before: int) -> None:
    """Wait until the scrub JS has drawn the canvas again (after new x_0/ε/ᾱ data arrived)."""
    page.wait_for_function("([sel, n]) => Number(document.querySelector(sel)?.dataset.renders) > n",
                           arg=[SCRUB, before], timeout=15_000)


def set_t(page: Page, t: int) -> None:
    """Drag-equivalent: fill() on the range fires `input` (canvas only) and `change` (server)."""
    page.locator(T_RANGE).fill(str(t))
    expect(page.locator(SCRUB)).to_have_attribute("data-t", str(t))


def wait_for_plots_at(page: Page, t: int) -> None:
    """Both plotly figures were re-rendered for t: the curves' dotted lines and the histogram title."""
    page.wait_for_function(
        """t => {
            const curves = document.querySelector('#fwd-curves .js-plotly-plot');
            const hist = document.querySelector('#fwd-hist .js-plotly-plot');
            const shapes = curves?.layout?.shapes ?? [];
            return shapes.length === 3 && shapes.every(s => s.x0 === t)
                && (hist?.layout?.title?.text ?? '').includes('x<sub>' + t + '</sub>');
        }""", arg=t, timeout=15_000)


def set_number(page: Page, elem_id: str, value: int) -> None:
    fill_number(page.locator(f"#{elem_id} input[type=number]"), value)


# ---- tests -------------------------------------------------------------------------------------

def test_page_load_draws_default_image_in_canvas(page: Page, app_url):
    open_forward_tab(page, app_url)
    scrub = page.locator(SCRUB)
    expect(scrub).to_have_attribute("data-t", "250")
    expect(page.locator("#fwd-scrub .scrub-a canvas")).to_have_attribute("width", "256")
    expect(page.locator(CAPTION)).to_contain_text(re.compile(r"x_250\s+\(linear, composed in your browser, [\d.]+ ms\)"))
    # The comparison schedule (cosine by default) is composed on a second canvas beside it.
    expect(page.locator("#fwd-scrub .scrub-b")).to_be_visible()
    expect(page.locator("#fwd-scrub .scrub-b figcaption")).to_have_text("x_250 (cosine)")
    expect(page.locator("#fwd-xt-b")).to_be_hidden()
    expect(page.locator("#fwd-t input[type=number]")).to_have_value("250")
    expect(page.locator("#fwd-xt")).to_be_hidden()  # browser mode is on: no server x_t image
    pixels = canvas_rgb(page)
    assert pixels.shape == (256, 256, 3)
    assert pixels.std() > 20, "the canvas looks blank"
    expect(page.locator("#fwd-stats")).to_contain_text("at t = 250")
    expect(page.locator("#fwd-terminal")).to_contain_text("image is gone")
    wait_for_plots_at(page, 250)


def test_slider_redraws_canvas_and_server_views(page: Page, app_url, artifacts):
    open_forward_tab(page, app_url)
    before, count = canvas_rgb(page), renders(page)
    set_t(page, 600)
    expect(page.locator(CAPTION)).to_contain_text(re.compile(r"^x_600\b"))
    assert renders(page) > count
    after = canvas_rgb(page)
    assert np.abs(after.astype(int) - before).mean() > 10, "the canvas did not change with t"
    # The server views follow the slider's change event.
    expect(page.locator("#fwd-equation")).to_contain_text("x_{600}")
    expect(page.locator("#fwd-equation")).to_contain_text(f"{sqrt_abar_linear(600):.4f}")
    expect(page.locator("#fwd-stats")).to_contain_text("at t = 600")
    wait_for_plots_at(page, 600)
    page.screenshot(path=str(artifacts / "forward_tab.png"), full_page=True)


def test_canvas_matches_server_x_t(page: Page, app_url):
    from gradio_client import Client, handle_file

    t = 400
    open_forward_tab(page, app_url)
    set_t(page, t)
    browser = canvas_rgb(page).astype(int)

    client = Client(app_url, verbose=False)
    client.predict(handle_file(str(ASSETS / "shapes.png")), 256, "colour", 0, api_name="/load_image")
    path, info = client.predict(t, "linear", 1000, 1e-4, 0.02, True, 0.008, api_name="/forward")
    assert info["t"] == t and info["seed"] == 0
    server = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert server.shape == browser.shape

    # The browser composes x_t from uint8 x_0 (error ≤ ½ level, scaled by √ᾱ) and from ε quantised to
    # steps of 1/32, i.e. off by ≤ 1/64: 1/64 · 127.5 · √(1−ᾱ_t) ≈ 1.7 levels at t = 400 (≤ 2 for any t).
    # With both sides rounding to integers, almost every value is within 2 levels; the rare excess is
    # where those errors add up (or |ε| > 4 was clipped), hence "≤ 2 on at least 99.9 %".
    diff = np.abs(browser - server)
    assert (diff <= 2).mean() >= 0.999, f"max {diff.max()}, share > 2: {(diff > 2).mean():.5f}"
    assert diff.mean() < 1.0
    assert diff.max() <= 4


def test_upload_own_image_reloads_canvas_and_strip(page: Page, app_url, tmp_path):
    halves = Image.new("RGB", (300, 200), (230, 20, 20))
    halves.paste((20, 20, 230), (150, 0, 300, 200))  # left half red, right half blue
    halves.save(tmp_path / "halves.png")

    open_forward_tab(page, app_url)
    strip = page.locator("#fwd-strip img")
    expect(strip).to_have_count(8)
    strip_before = [strip.nth(i).get_attribute("src") for i in range(8)]
    before, count = canvas_rgb(page), renders(page)

    page.locator("#fwd-image input[type=file]").set_input_files(tmp_path / "halves.png")
    wait_for_new_render(page, count)
    expect(page.locator(SCRUB)).to_have_attribute("data-loaded", "256")
    after = canvas_rgb(page).astype(int)
    assert np.abs(after - before).mean() > 10, "the canvas still shows the old image"
    # Centre-cropped to a square: red on the left, blue on the right, still visible at t = 250.
    left, right = after[:, :96].mean(axis=(0, 1)), after[:, -96:].mean(axis=(0, 1))
    assert left[0] > left[2] + 80 and right[2] > right[0] + 80, (left, right)

    expect(strip).to_have_count(8)
    page.wait_for_function(
        "old => { const now = [...document.querySelectorAll('#fwd-strip img')].map(i => i.getAttribute('src'));"
        " return now.length === 8 && now.every((src, i) => src !== old[i]); }", arg=strip_before, timeout=15_000)
    expect(page.locator("#fwd-stats")).to_contain_text("at t = 250")


def test_cosine_schedule_changes_equation(page: Page, app_url):
    open_forward_tab(page, app_url)
    linear, cosine = f"{sqrt_abar_linear(250):.4f}", f"{sqrt_abar_cosine(250):.4f}"
    assert linear != cosine
    equation = page.locator("#fwd-equation")
    expect(equation).to_contain_text(linear)
    before, count = canvas_rgb(page), renders(page)

    page.locator("#fwd-schedule input").click()
    page.locator("#fwd-schedule [role=option]", has_text="cosine").click()
    expect(page.locator("#fwd-schedule input")).to_have_value("cosine")

    expect(equation).to_contain_text(cosine)
    expect(equation).not_to_contain_text(linear)
    expect(page.locator("#fwd-stats")).to_contain_text(cosine)
    # The canvas received cosine's ᾱ table: at t = 250 it keeps more signal, so it looks different.
    wait_for_new_render(page, count)
    assert np.abs(canvas_rgb(page).astype(int) - before).mean() > 3


def test_terminal_warning_without_rescale(page: Page, app_url):
    open_forward_tab(page, app_url)
    terminal = page.locator("#fwd-terminal")
    expect(terminal).to_contain_text("image is gone")

    page.get_by_role("button", name="Schedule parameters").click()
    rescale = page.locator("#fwd-rescale input[type=checkbox]")
    expect(rescale).to_be_checked()
    rescale.uncheck()
    set_number(page, "fwd-T", 100)

    expect(terminal).to_contain_text("Signal is left at t = T = 100")
    expect(page.locator("#fwd-t input[type=number]")).to_have_value("100")  # t is kept within T
    # Rescaling β by 1000/T is what destroys the image again in a short chain.
    rescale.check()
    expect(terminal).to_contain_text(re.compile(r"At t = T = 100 the image is gone"))


def test_bad_upload_shows_error_and_app_keeps_serving(page: Page, app_url, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("this is not a PNG")
    open_forward_tab(page, app_url)

    page.locator("#fwd-image input[type=file]").set_input_files(bad)
    toast = page.get_by_test_id("toast-body")
    expect(toast.first).to_be_visible()
    expect(toast.first).to_contain_text("Error")
    expect(page.get_by_test_id("toast-text").first).to_contain_text(
        "'bad.png' is not an image this app can read (PNG, JPEG, WebP, BMP, GIF, TIFF).")

    # The session keeps its previous image: scrubbing and the server views still work.
    set_t(page, 700)
    expect(page.locator(CAPTION)).to_contain_text(re.compile(r"^x_700\b"))
    expect(page.locator("#fwd-equation")).to_contain_text("x_{700}")
    expect(page.locator("#fwd-stats")).to_contain_text("at t = 700")
    expect(page.locator("#fwd-stats")).to_contain_text("correlation of x_t with x_0")


def test_canvas_follows_t_set_by_the_server(page: Page, app_url):
    open_forward_tab(page, app_url)
    set_t(page, 600)
    set_number(page, "fwd-T", 400)  # the server clamps t to 400 and sends a new ᾱ table
    expect(page.locator("#fwd-terminal")).to_contain_text("T = 400")
    expect(page.locator("#fwd-t input[type=number]")).to_have_value("400")
    count = renders(page)
    set_number(page, "fwd-T", 1000)  # t stays 400; the canvas is redrawn with the new table
    expect(page.locator("#fwd-terminal")).to_contain_text("T = 1000")
    wait_for_new_render(page, count)
    expect(page.locator("#fwd-t input[type=number]")).to_have_value("400")
    expect(page.locator(CAPTION)).to_contain_text(re.compile(r"^x_400\b"), timeout=1_000)
