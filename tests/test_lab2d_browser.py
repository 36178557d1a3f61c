"""The 2-D lab in headless Chromium: play the forward animation, train, watch points flow back, stop; the continuous
view: the forward SDE, the reverse SDE and ODE, flow matching, fit against evaluations, on a projector and in Korean.
Screenshots: artifacts/lab2d_*.png."""

import re

import pytest
from playwright.sync_api import Page, expect

from conftest import fill_number

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


def _set_training_steps(page: Page, steps: int, language: str = "en") -> None:
    page.get_by_text({"en": "Training settings", "ko": "학습 설정"}[language]).click()
    # The range input first (fill() fires its input and change events, so the slider holds the value), then the
    # number box, which must show it, typed again if the just-opened accordion's mount wrote the old one back.
    slider = page.locator("#lab-steps")
    slider.locator("input[type=range]").fill(str(steps))
    fill_number(slider.locator("input[type=number]"), steps)


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


# ---- the continuous view ------------------------------------------------------------------------------------

SDE = "#lab-sde .js-plotly-plot"
PATHS = "#lab-paths .js-plotly-plot"
FLOW = "#lab-flow .js-plotly-plot"
NFE = "#lab-nfe .js-plotly-plot"


def _view(page: Page, tabs: str, name: str) -> None:
    """Open the view `name` of the tabs `tabs` (the lab's views, or the continuous view's own)."""
    page.locator(tabs).get_by_role("tab", name=name, exact=True).filter(visible=True).first.click()


def _continuous(page: Page, name: str, language: str = "en") -> None:
    _view(page, "#lab-views", {"en": "Continuous time", "ko": "연속 시간"}[language])
    _view(page, "#lab-continuous-views", name)


def _traces(page: Page, selector: str) -> list[dict]:
    """Each trace's name, panel (x axis) and number of points (None separators not counted)."""
    return page.locator(selector).evaluate(
        "gd => gd.data.map(t => ({name: t.name, axis: t.xaxis || 'x', n: (t.x || []).filter(v => v !== null).length}))")


def _points_of(traces: list[dict], name: str) -> dict[str, int]:
    return {t["axis"]: t["n"] for t in traces if t["name"] == name}


def _status_matches(page: Page, selector: str, pattern: str, timeout: int) -> None:
    page.wait_for_function("([s, p]) => new RegExp(p).test(document.querySelector(s).innerText)",
                           arg=[selector, pattern], timeout=timeout)


def _train_both(page: Page, steps: int, language: str = "en") -> None:
    """Train the ε-network, then (in the continuous view) flow matching, each for `steps` steps."""
    _set_training_steps(page, steps, language)
    page.locator("#lab-train").click()
    _status_matches(page, "#lab-status", f"{steps:,} / {steps:,}", 90_000)
    expect(page.locator("#lab-fit")).to_contain_text({"en": "noise floor", "ko": "노이즈 플로어"}[language],
                                                      timeout=60_000)
    _continuous(page, {"en": "SDE and ODE", "ko": "SDE와 ODE"}[language], language)
    expect(page.locator("#lab-paths-note table")).to_be_visible(timeout=60_000)
    _continuous(page, {"en": "Flow matching", "ko": "플로우 매칭"}[language], language)
    page.locator("#lab-flow-train").click()
    _status_matches(page, "#lab-flow-status", f"✅.*{steps:,} / {steps:,}", 120_000)
    expect(page.locator("#lab-flow-note")).to_contain_text("S = ", timeout=30_000)


# How many points the fit's status says are measured, in each language ("3 of 32", "32개 중 3개")
MEASURED = {"en": r"(\d+) of \d+ points", "ko": r"\d+개 중 (\d+)개"}


def _measure_a_few(page: Page, count: int, language: str = "en") -> int:
    """Press Measure, Stop once `count` points are measured; the number the stopped status reports."""
    page.locator("#lab-nfe-measure").click()
    page.wait_for_function("([p, count]) => +((document.querySelector('#lab-nfe-status').innerText.match(p) "
                           "|| [0, 0])[1]) >= count", arg=[MEASURED[language], count], timeout=120_000)
    page.locator("#lab-nfe-stop").click()
    _status_matches(page, "#lab-nfe-status", "⏹", 60_000)
    return int(re.search(MEASURED[language], page.locator("#lab-nfe-status").inner_text()).group(1))


# Inside each plot on screen: the title, its subtitle, the panel titles and notes, the legend and the axis titles
# must not cover one another, nor a tick label ([kind, plot, the two texts] for each that does).
PLOT_OVERLAPS = r"""
() => {
  const found = [];
  const box = (el) => el.getBoundingClientRect();
  const text = (el) => (el.textContent || '').trim().slice(0, 40);
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!gd.offsetParent) continue;
    const parts = [...gd.querySelectorAll('.gtitle, .gtitle-subtitle, .annotation-text-g, .legend .bg, '
      + '.g-xtitle text, .g-ytitle text, [class^=g-x] text, [class^=g-y] text')]
      .filter((el) => box(el).width > 0 && box(el).height > 0);
    const ticks = [...gd.querySelectorAll('.xtick text, .ytick text')].filter((el) => box(el).width > 0);
    const overlap = (a, b) => {
      const r = box(a), q = box(b);
      return Math.min(r.right, q.right) - Math.max(r.left, q.left) > 2
        && Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top) > 2;
    };
    parts.forEach((a, i) => {
      parts.slice(i + 1).forEach((b) => {
        if (!a.contains(b) && !b.contains(a) && overlap(a, b)) found.push(['parts overlap', gd.closest('[id]').id, text(a), text(b)]);
      });
      ticks.forEach((t) => { if (overlap(a, t)) found.push(['over a tick label', gd.closest('[id]').id, text(a), text(t)]); });
    });
  }
  return found;
}
"""


def _shot(page: Page, artifacts, name: str, full_page: bool = True) -> list:
    """Save a screenshot; the problems the layout checks find on screen (text cut or overlapping, in and out of
    the plots)."""
    from test_layout_browser import FIND_PROBLEMS

    page.wait_for_timeout(600)  # plots re-laid out, equations typeset
    page.screenshot(path=str(artifacts / f"lab2d_continuous_{name}.png"), full_page=full_page)
    return page.evaluate(FIND_PROBLEMS) + page.evaluate(PLOT_OVERLAPS)


def _forward_view(page: Page):
    return page.locator("#lab-views").get_by_role("tab", name="Forward", exact=True).filter(visible=True).first


def _pick_shape(page: Page, name: str) -> None:
    """Choose another shape, and wait until the page has cleared what belonged to the old one and turned to the
    forward view (a view opened before that would be turned away from)."""
    page.locator("#lab-shape input").click()
    page.get_by_role("option", name=name).click()
    expect(page.locator("#lab-status")).to_contain_text("Press Train", timeout=20_000)
    expect(_forward_view(page)).to_have_attribute("aria-selected", "true")


def test_the_continuous_view_sde_ode_flow_matching_and_fit(page: Page, app_url, artifacts):
    _open_lab(page, app_url)
    _continuous(page, "Forward SDE")
    page.wait_for_function(f"() => {{ const gd = document.querySelector('{SDE}');"
                           " return gd && gd.data.length === 9 && gd.data[0].x.length === 2000; }", timeout=30_000)
    sde = _traces(page, SDE)
    assert len({t["axis"] for t in sde}) == 3 and all(t["n"] == 2000 for t in sde if "chain" in t["name"])
    expect(page.locator("#lab-sde-equation .katex").first).to_be_visible()
    expect(page.locator("#lab-sde-moments table")).to_contain_text("exact (Eq. 4)")
    assert not (found := _shot(page, artifacts, "sde")), found

    _set_training_steps(page, 1500)
    page.locator("#lab-train").click()
    expect(page.locator("#lab-status")).to_contain_text("step 1,500 / 1,500", timeout=90_000)
    expect(page.locator("#lab-fit")).to_contain_text("noise floor", timeout=60_000)
    _continuous(page, "SDE and ODE")
    expect(page.locator("#lab-paths-note")).to_contain_text("steps · NFE", timeout=60_000)
    paths = _traces(page, PATHS)
    assert _points_of(paths, "generated points") == {"x": 500, "x2": 500, "x3": 500}
    assert all(n > 8 * 20 for n in _points_of(paths, "paths from the same x<sub>T</sub>").values()), paths
    assert _points_of(paths, "x<sub>T</sub>") == {"x": 8, "x2": 8, "x3": 8}
    page.locator("#lab-paths-nfe").get_by_label("10", exact=True).check()
    row = page.locator("#lab-paths-note tr").filter(has_text="steps · NFE")
    expect(row.locator("td")).to_have_text(["steps · NFE", "10 · 10", "10 · 10", "5 · 9"], timeout=30_000)
    assert not (found := _shot(page, artifacts, "paths")), found

    _continuous(page, "Flow matching")
    page.locator("#lab-flow-train").click()
    _status_matches(page, "#lab-flow-status", r"Training with flow matching|Trained with flow matching", 30_000)
    expect(page.locator("#lab-flow-status")).to_contain_text("Trained with flow matching step 1,500 / 1,500",
                                                             timeout=120_000)
    expect(page.locator("#lab-flow-note")).to_contain_text("Straightness", timeout=30_000)
    flow = _traces(page, FLOW)
    assert _points_of(flow, "generated points") == {"x3": 500, "x4": 500}, "both networks' Heun paths"
    titles = page.locator(FLOW).evaluate("gd => gd.layout.annotations.map(a => a.text)")
    assert any(t.startswith("ε-network · S = ") for t in titles) and any(t.startswith("flow matching · S = ")
                                                                         for t in titles), titles
    assert not (found := _shot(page, artifacts, "flow")), found

    _continuous(page, "Fit against NFE")
    done = _measure_a_few(page, 12)
    expect(page.locator("#lab-nfe-status")).to_contain_text(re.compile(rf"Stopped after {done} of 32 points"))
    assert done >= 12 and sum(t["n"] for t in _traces(page, NFE)) == done, "the measured points stay"
    assert not (found := _shot(page, artifacts, "nfe")), found

    # Another shape: every continuous view that belonged to the old one is cleared, the forward SDE redrawn
    _pick_shape(page, "circles")
    _continuous(page, "Fit against NFE")
    expect(page.locator("#lab-nfe-status")).to_contain_text("Press Measure")
    expect(page.locator(NFE)).to_have_count(0)
    _continuous(page, "Flow matching")
    expect(page.locator("#lab-flow-status")).to_contain_text("Press Train with flow matching")
    expect(page.locator(FLOW)).to_have_count(0)
    _continuous(page, "SDE and ODE")
    expect(page.locator(PATHS)).to_have_count(0)
    expect(page.locator("#lab-paths-note")).to_have_text("")


def test_another_shape_during_training_leaves_its_views_cleared(page: Page, app_url, artifacts):
    """The stopped training's last update must not bring the old shape's network back, nor turn to its reverse."""
    _open_lab(page, app_url)
    _set_training_steps(page, 20_000)
    page.locator("#lab-train").click()
    expect(page.locator("#lab-status")).to_contain_text(re.compile(r"step [\d,]+ / 20,000"), timeout=30_000)
    _pick_shape(page, "8 Gaussians")
    page.wait_for_timeout(3000)  # the stopped stream's last update, and whatever would follow it
    expect(page.locator("#lab-status")).to_contain_text("Press Train")
    expect(_forward_view(page)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#lab-loss .js-plotly-plot")).to_have_count(0)
    expect(page.locator(".toast-body")).to_have_count(0)
    _continuous(page, "Flow matching")
    page.locator("#lab-flow-train").click()
    _status_matches(page, "#lab-flow-status", r"Training with flow matching step", 30_000)
    _pick_shape(page, "two moons")
    _continuous(page, "Flow matching")
    expect(page.locator("#lab-flow-status")).to_contain_text("Press Train with flow matching", timeout=20_000)
    page.wait_for_timeout(2000)
    expect(page.locator("#lab-flow-status")).to_contain_text("Press Train with flow matching")
    expect(page.locator(FLOW)).to_have_count(0)
    expect(page.locator(".toast-body")).to_have_count(0)
    page.locator("#lab-train").click()  # the lab is free again
    expect(page.locator("#lab-status")).to_contain_text(re.compile(r"step [\d,]+ / 20,000"), timeout=30_000)
    page.locator("#lab-stop").click()
    expect(page.locator("#lab-status")).to_contain_text("Stopped at step", timeout=30_000)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_continuous_view_on_a_projector(browser, app_url, artifacts, language):
    """1280×720 in projector mode, in English and Korean: every continuous view readable, nothing cut or overlapping."""
    context = browser.new_context(viewport={"width": 1280, "height": 720},
                                  locale="ko-KR" if language == "ko" else "en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{app_url}/?lang={language}&projector=1")
        page.get_by_role("tab", name={"en": "2-D lab", "ko": "2-D 실습"}[language]).click()
        expect(page.locator(FORWARD)).to_be_visible(timeout=30_000)
        _train_both(page, 600, language)
        _continuous(page, {"en": "Fit against NFE", "ko": "평가 횟수별 적합도"}[language], language)
        _measure_a_few(page, 6, language)
        found = {}
        views = {"en": ["Forward SDE", "SDE and ODE", "Flow matching", "Fit against NFE"],
                 "ko": ["순방향 SDE", "SDE와 ODE", "플로우 매칭", "평가 횟수별 적합도"]}[language]
        for key, name in zip(("sde", "paths", "flow", "nfe"), views):
            _continuous(page, name, language)
            page.locator("#lab-continuous-views").scroll_into_view_if_needed()
            problems = _shot(page, artifacts, f"projector_{language}_{key}", full_page=False)
            if problems:
                found[key] = problems
        assert not found, found
    finally:
        context.close()
