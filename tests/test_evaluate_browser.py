"""The Evaluate tab in headless Chromium: the bound fills in and sums up, and progressive decoding draws its table.

Against the running app from conftest's `app_url`, with the bundled checkpoint and its own digits:
- Evaluate with two t per stratum streams the terms (the progress line counts up), ends with the total
  in bits/dim ± its standard error, and draws the three plots (terms over t on log axes, cumulative
  bits, rate–distortion);
- choosing "every t" and pressing Stop ends a 1,000-term evaluation far from its end;
- Decode fills a table with one column per t, x_t and x̂_0 in each, and the shared-x_t samples.

Screenshots go to artifacts/ (evaluate_done.png, evaluate_decode.png) for a person to look at.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

expect.set_options(timeout=30_000)

STATUS = "#eval-status"


def open_evaluate_tab(page: Page, app_url: str) -> None:
    page.goto(app_url)
    page.get_by_role("tab", name="Evaluate").click()
    expect(page.locator("#eval-summary")).to_contain_text("digits", timeout=20_000)


def test_the_bound_fills_in_and_sums_up(page: Page, app_url, artifacts):
    open_evaluate_tab(page, app_url)
    page.locator("#eval-timesteps").get_by_text("Two t per stratum (faster)").click()
    expect(page.locator("#eval-strata")).to_be_visible()
    page.locator("#eval-run").click()
    expect(page.locator(STATUS)).to_contain_text("term", timeout=20_000)
    expect(page.locator(STATUS)).to_contain_text("bits/dim", timeout=120_000)
    text = page.locator(STATUS).inner_text()
    total = re.search(r"([\d.]+) ± ([\d.]+) bits/dim", text)
    assert total and 0 < float(total.group(1)) < 8 and "term 100 / 100" in text
    for plot in ("#eval-terms", "#eval-cumulative", "#eval-rd"):
        expect(page.locator(f"{plot} .js-plotly-plot")).to_be_visible()
    expect(page.locator("#eval-terms .xtitle")).to_have_text("t")
    page.screenshot(path=str(artifacts / "evaluate_done.png"), full_page=True)


def test_stop_ends_an_every_t_evaluation(page: Page, app_url):
    open_evaluate_tab(page, app_url)
    page.locator("#eval-long input").check()  # on a busy machine the estimate may pass a minute
    page.locator("#eval-run").click()
    expect(page.locator(STATUS)).to_contain_text(re.compile(r"term [1-9][\d,]* / 1,000"), timeout=30_000)
    page.locator("#eval-stop").click()
    expect(page.locator(STATUS)).to_contain_text("Stopped after", timeout=30_000)
    done = int(re.search(r"Stopped after ([\d,]+)", page.locator(STATUS).inner_text()).group(1).replace(",", ""))
    assert 0 < done < 1000


def test_progressive_decoding_draws_its_table(page: Page, app_url, artifacts):
    open_evaluate_tab(page, app_url)
    page.locator("#eval-decode-run").click()
    table = page.locator("#eval-decode table")
    expect(table).to_be_visible(timeout=30_000)
    expect(table.locator("th", has_text="t = 1,000")).to_be_visible()
    # 8 steps: x_t and x̂_0 for each, x_0, then 4 samples for each as they arrive (the last t finishes last)
    expect(table.locator("img")).to_have_count(8 * 2 + 1 + 8 * 4, timeout=120_000)
    page.locator("#eval-decode").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "evaluate_decode.png"), full_page=True)
