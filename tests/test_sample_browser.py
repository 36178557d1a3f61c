"""The Sample tab in headless Chromium: live x_t / x̂_0 frames while sampling, Stop, exports, Compare.

Against the running app from conftest's `app_url`, with the bundled checkpoint (digits, 16×16 grey):
- a short DDIM run streams several intermediate frames (recorded in the page by a MutationObserver on
  `#sample-live`), whose step numbers rise and whose x_t grids change, and ends at step S / S, t = 0
  with the "Done" note and the final grid;
- the GIF and MP4 exports of that run download as real multi-frame animations;
- Stop ends a 1,000-step DDPM run within seconds, far from its end, and the tab samples again after;
- Compare samplers shows DDPM and DDIM η = 0, 0.5, 1 side by side with their wall times;
- the sampler radio shows DDIM's η slider or DDPM's variance radio, never both.

Screenshots go to artifacts/ (sample_running.png, sample_done.png, sample_compare.png) for a person
to look at.
"""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Page, expect

from conftest import fill_number

# Server round trips and sampling on a 2-core machine that may be busy with other work.
expect.set_options(timeout=20_000)

LIVE = "#sample-live"
HEAD = "#sample-live .live-head"
STEP = re.compile(r"step ([\d,]+) / ([\d,]+) · t = ([\d,]+)")
CAPTION = re.compile(r"^(DDPM σ² = β|DDIM η = (?:0|0\.5|1)|(?:Euler|Heun) ODE \(\d+ NFE\)), (\d+) steps\s*([\d.]+) s"
                     r" · ([\d,]+) network evaluations$")

# Records every distinct header the live view shows (and a digest of its x_t grid), with the time.
RECORD_JS = """
() => {
  const root = document.querySelector('#sample-live');
  window.__frames = [];
  const digest = (s) => { let h = 0; for (let i = 0; i < s.length; i += 7) h = (h * 31 + s.charCodeAt(i)) | 0;
                          return s.length + ':' + h; };
  const look = () => {
    const head = root.querySelector('.live-head');
    const m = head && head.textContent.match(/step ([\\d,]+) \\/ ([\\d,]+) · t = ([\\d,]+)/);
    if (!m) return;
    const img = root.querySelector('.live-panels img');
    const frame = {step: +m[1].replace(/,/g, ''), count: +m[2].replace(/,/g, ''), t: +m[3].replace(/,/g, ''),
                   img: img ? digest(img.getAttribute('src')) : null, at: performance.now()};
    const last = window.__frames[window.__frames.length - 1];
    if (!last || last.step !== frame.step || last.img !== frame.img) window.__frames.push(frame);
  };
  if (window.__observer) window.__observer.disconnect();
  window.__observer = new MutationObserver(look);
  window.__observer.observe(root, {childList: true, subtree: true, characterData: true});
}
"""


# ---- page helpers ------------------------------------------------------------------------------

DEFAULT = "digits_classes (bundled)"  # the app opens on the class-conditional digits


def open_sample_tab(page: Page, app_url: str, checkpoint: str = "digits (bundled)") -> None:
    """The Sample tab with `checkpoint` chosen (the tests of sampling itself use the unconditional digits)."""
    page.goto(app_url)
    page.get_by_role("tab", name="Sample").click()
    expect(page.locator("#sample-checkpoint input")).to_have_value(DEFAULT)
    expect(page.locator("#sample-summary")).to_contain_text("Class-conditional: 10 classes", timeout=20_000)
    if checkpoint != DEFAULT:
        page.locator("#sample-checkpoint input").click()
        page.get_by_role("option", name=checkpoint, exact=True).click()
        expect(page.locator("#sample-checkpoint input")).to_have_value(checkpoint)
        expect(page.locator("#sample-class input")).to_be_disabled()  # an unconditional model: no class
    expect(page.locator(LIVE)).to_contain_text("press Sample")


def set_number(page: Page, selector: str, value: int) -> None:
    fill_number(page.locator(selector), value)


def configure(page: Page, sampler: str, steps: int, images: int) -> None:
    """Choose the sampler ("DDPM" or "DDIM"), the number of steps and of images."""
    label = "DDIM" if sampler == "DDIM" else "DDPM (Algorithm 2)"
    page.locator("#sample-sampler").get_by_text(label, exact=True).click()
    expect(page.locator("#sample-sampler input[value=%s]" % sampler.lower())).to_be_checked()
    if sampler == "DDIM":
        expect(page.locator("#sample-eta")).to_be_visible()
    set_number(page, "#sample-steps input", steps)
    set_number(page, "#sample-n input[type=number]", images)


def header(page: Page) -> tuple[int, int, int]:
    """(step, S, t) as the live view's header shows them now."""
    match = STEP.search(page.locator(HEAD).inner_text())
    assert match, f"no step counter in the live header: {page.locator(HEAD).inner_text()!r}"
    return tuple(int(g.replace(",", "")) for g in match.groups())


def wait_for_step_above(page: Page, step: int, timeout: int = 60_000) -> None:
    page.wait_for_function(
        """(step) => { const h = document.querySelector('#sample-live .live-head');
                       const m = h && h.textContent.match(/step ([\\d,]+) \\//);
                       return m && +m[1].replace(/,/g, '') > step; }""", arg=step, timeout=timeout)


def expect_done(page: Page, steps: int, timeout: int = 90_000) -> None:
    expect(page.locator(LIVE)).to_contain_text(re.compile(rf"Done: {steps:,} steps in [\d.]+ s"), timeout=timeout)
    assert header(page)[:2] == (steps, steps)


def run_short_ddim(page: Page, app_url: str, steps: int = 40, images: int = 16) -> list[dict]:
    """Open the tab, run DDIM to the end while recording the live frames; return the recorded frames."""
    open_sample_tab(page, app_url)
    configure(page, "DDIM", steps, images)
    page.evaluate(RECORD_JS)
    page.locator("#sample-run").click()
    expect_done(page, steps)
    return page.evaluate("window.__frames")


def fetch_export(page: Page, button: str, suffix: str) -> bytes:
    """Click an export button; the hidden file box appears with a link to the file, whose bytes are returned."""
    page.locator(button).click()
    box = page.locator("#sample-export")
    expect(box).to_be_visible(timeout=60_000)  # encoding the animation takes a few seconds here
    link = box.locator(f"a[href*='.{suffix}']").first
    expect(link).to_be_attached()
    href = link.get_attribute("href")
    assert href and re.search(rf"\.{suffix}$", href.split("?")[0]), href
    response = page.request.get(href)
    assert response.ok, f"{href}: HTTP {response.status}"
    return response.body()


# ---- tests -------------------------------------------------------------------------------------

def test_summary_describes_the_default_checkpoint(page: Page, app_url):
    open_sample_tab(page, app_url)
    summary = page.locator("#sample-summary")
    expect(summary).to_contain_text("digits", timeout=10_000)
    expect(summary).to_contain_text("1,610 images, 187 held out")
    expect(summary).to_contain_text("16×16 grey")


def test_ddim_run_streams_frames_and_ends_with_digits(page: Page, app_url, artifacts):
    # 64 images and 60 steps, so that the run lasts a couple of seconds even on an idle machine: enough
    # of the live view's 0.5 s updates to be sure of several intermediate frames.
    steps = 60
    frames = run_short_ddim(page, app_url, steps=steps, images=64)

    intermediate = [f for f in frames if 0 < f["step"] < steps]
    values = [f["step"] for f in intermediate]
    assert all(f["count"] == steps for f in frames), frames
    assert len(set(values)) >= 2, f"expected several frames while sampling, saw steps {values}"
    assert values == sorted(values), f"the step counter went backwards: {values}"
    assert all(b["t"] < a["t"] for a, b in zip(intermediate, intermediate[1:])), "t falls as the steps rise"
    assert len({f["img"] for f in intermediate}) >= 2, "the x_t grid changes from frame to frame"
    assert intermediate[-1]["at"] > intermediate[0]["at"], "the frames arrive over time, not at once"
    assert frames[-1]["step"] == steps and frames[-1]["t"] == 0, frames[-1]
    assert frames[-1]["img"] not in {f["img"] for f in intermediate}, "the final x_t differs from the noisy ones"

    step, count, t = header(page)
    assert (step, count, t) == (steps, steps, 0)
    expect(page.locator(HEAD)).to_contain_text(f"DDIM η = 0, {steps} steps")
    expect(page.locator("#sample-live .live-bar div")).to_have_attribute("style", re.compile(r"width:\s*100(\.0)?%"))
    expect(page.locator("#sample-live .live-panels img")).to_have_count(2)  # x_t and x̂_0 (ε̂ is off)
    final = page.locator("#sample-final img")
    expect(final).to_be_visible()
    page.wait_for_function("() => { const im = document.querySelector('#sample-final img');"
                           " return im && im.complete && im.naturalWidth >= 256; }")
    expect(page.locator("#sample-stats .js-plotly-plot")).to_be_visible()
    page.screenshot(path=str(artifacts / "sample_done.png"), full_page=True)


def test_exports_are_multi_frame_gif_and_mp4(page: Page, app_url):
    run_short_ddim(page, app_url, steps=20)

    gif = fetch_export(page, "#sample-gif", "gif")
    assert gif[:6] == b"GIF89a", gif[:16]
    with Image.open(io.BytesIO(gif)) as image:
        assert image.n_frames > 1, "the GIF is an animation"
        assert image.n_frames >= 10, f"one frame per kept step (20 steps), got {image.n_frames}"

    mp4 = fetch_export(page, "#sample-mp4", "mp4")
    assert mp4[4:8] == b"ftyp", mp4[:16]
    assert b"moov" in mp4 and b"mdat" in mp4, "an MP4 with its index and media data"
    expect(page.locator("#sample-export a[href*='.gif']")).to_have_count(0)  # the box now offers the MP4


def test_stop_ends_a_long_run_quickly_and_sampling_works_again(page: Page, app_url, artifacts):
    open_sample_tab(page, app_url)
    configure(page, "DDPM", 1000, 64)
    expect(page.locator("#sample-variance")).to_be_visible()
    page.locator("#sample-long input").check()  # a run estimated at over a minute here waits for this
    page.locator("#sample-run").click()
    wait_for_step_above(page, 2)
    expect(page.locator(HEAD)).to_contain_text("DDPM σ² = β, 1,000 steps")
    page.screenshot(path=str(artifacts / "sample_running.png"), full_page=True)

    page.locator("#sample-stop").click()
    stopped = re.compile(r"Stopped after ([\d,]+) of 1,000 steps")
    expect(page.locator(LIVE)).to_contain_text(stopped, timeout=8_000)
    after = int(stopped.search(page.locator(LIVE).inner_text()).group(1).replace(",", ""))
    step, count, t = header(page)
    assert count == 1000 and step == after, (step, count, after)
    assert 0 < step < 500, f"stopped far from the end, at step {step}"
    assert t == 1000 - step, "DDPM with all T steps: t after step i is T − i"
    page.wait_for_timeout(1_500)  # nothing more arrives after the stop
    assert header(page)[0] == step, "the run kept going after Stop"

    configure(page, "DDIM", 20, 16)
    page.locator("#sample-run").click()
    expect_done(page, 20)
    assert header(page)[2] == 0


def test_compare_samplers_shows_six_results_with_times_and_evaluations(page: Page, app_url, artifacts):
    open_sample_tab(page, app_url)
    configure(page, "DDIM", 10, 4)
    page.locator("#sample-compare-run").click()
    figures = page.locator("#sample-compare figure")
    expect(figures).to_have_count(6, timeout=120_000)
    captions = [figures.nth(i).locator("figcaption").inner_text() for i in range(6)]
    parsed = [CAPTION.match(" ".join(c.split())) for c in captions]
    assert all(parsed), captions
    assert [m.group(1) for m in parsed] == ["DDPM σ² = β", "DDIM η = 0", "DDIM η = 0.5", "DDIM η = 1",
                                            "Euler ODE (10 NFE)", "Heun ODE (19 NFE)"], captions
    assert all(int(m.group(2)) == 10 for m in parsed), captions
    assert all(float(m.group(3)) >= 0 for m in parsed), captions
    assert [int(m.group(4)) for m in parsed] == [10, 10, 10, 10, 10, 19], captions
    expect(page.locator("#sample-compare figure img")).to_have_count(6)
    page.wait_for_function("() => [...document.querySelectorAll('#sample-compare figure img')]"
                           ".every(im => im.complete && im.naturalWidth > 0)")
    tops = page.evaluate("() => [...document.querySelectorAll('#sample-compare figure img')]"
                         ".map(im => Math.round(im.getBoundingClientRect().top))")
    assert len(set(tops)) <= 2, f"the grids line up in rows: {tops}"
    expect(page.locator(LIVE)).to_contain_text("Done: 10 steps")  # the last of the six
    expect(page.locator(HEAD)).to_contain_text("Heun ODE (19 NFE), 10 steps")
    page.screenshot(path=str(artifacts / "sample_compare.png"), full_page=True)


def test_sampler_switch_shows_eta_or_variance(page: Page, app_url):
    open_sample_tab(page, app_url)
    eta, variance = page.locator("#sample-eta"), page.locator("#sample-variance")
    expect(variance).to_be_visible()
    expect(eta).to_be_hidden()
    page.locator("#sample-sampler").get_by_text("DDIM", exact=True).click()
    expect(eta).to_be_visible()
    expect(eta).to_contain_text("DDIM η")
    expect(variance).to_be_hidden()
    page.locator("#sample-sampler").get_by_text("DDPM (Algorithm 2)", exact=True).click()
    expect(variance).to_be_visible()
    expect(eta).to_be_hidden()


def _png_shape(data_url: str) -> tuple[int, int]:
    """(height, width) of a PNG data URL."""
    import base64
    with Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))) as image:
        return image.height, image.width


def test_the_default_conditional_model_draws_one_row_per_digit(page: Page, app_url, artifacts):
    open_sample_tab(page, app_url, DEFAULT)
    expect(page.locator("#sample-class input")).to_have_value("One row per class")
    expect(page.locator("#sample-guidance input[type=number]")).to_have_value("2")
    configure(page, "DDIM", 25, 40)  # 40 images among 10 classes: 4 of each
    page.locator("#sample-run").click()
    expect_done(page, 25)
    expect(page.locator(HEAD)).to_contain_text("DDIM η = 0, 25 steps, one row of 4 per class, w = 2")
    x_t = page.locator("#sample-live .live-panels img").first.get_attribute("src")
    assert _png_shape(x_t) == (10 * 17 + 1, 4 * 17 + 1), "ten rows (one per digit) of four 16×16 digits"
    page.wait_for_function("() => { const im = document.querySelector('#sample-final img');"
                           " return im && im.complete && im.naturalWidth > 0; }")
    page.screenshot(path=str(artifacts / "sample_rows.png"), full_page=True)

    page.locator("#sample-class input").click()
    page.get_by_role("option", name="class 3", exact=True).click()
    page.locator("#sample-long input").check()  # four runs, two passes each: over a minute on a busy machine
    page.locator("#sample-compare-guidance").click()
    figures = page.locator("#sample-compare figure")
    expect(figures).to_have_count(4, timeout=120_000)
    captions = figures.locator("figcaption").all_inner_texts()
    assert [re.search(r"class 3, w = (\d+)", c).group(1) for c in captions] == ["0", "1", "2", "4"], captions
    # The digits classifier's read-out: under each grid, and a table of one row per w (one column: the 3s).
    shares = [re.search(r"read as the digit asked for: (\d+)% · confidence (\d\.\d\d)", c) for c in captions]
    assert all(shares), captions
    assert int(shares[2].group(1)) >= 75, "w = 2 on the bundled model draws threes"
    table = page.locator("#sample-compare table.readout")
    expect(page.locator("#sample-compare .readout-note")).to_contain_text("right on held-out digits")
    expect(table.locator("thead th")).to_have_text(["w", "3"])
    expect(table.locator("tbody th")).to_have_text(["0", "1", "2", "4"])
    assert table.locator("tbody td").all_inner_texts() == [f"{s.group(1)}%" for s in shares]
    page.screenshot(path=str(artifacts / "sample_guidance.png"), full_page=True)


def test_guidance_is_disabled_with_its_reason_for_an_unconditional_model(page: Page, app_url):
    open_sample_tab(page, app_url)  # the unconditional digits
    expect(page.locator("#sample-guidance input[type=range]")).to_be_disabled()
    expect(page.locator("#sample-guidance")).to_contain_text("trained without class labels")
    expect(page.locator("#sample-compare-guidance")).to_be_disabled()
