"""Class-conditional models in headless Chromium: the Train tab's box shows p_uncond and the classes found, and
the Evaluate tab offers the bound given each image's class for a conditional checkpoint only, then shows it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from test_conditional_tabs import _class_folder, save_conditional_run

expect.set_options(timeout=30_000)


def test_the_box_reads_the_classes_and_the_evaluate_tab_shows_what_the_label_is_worth(page: Page, app_url, artifacts,
                                                                                     tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_RUNS_DIR", str(tmp_path / "runs"))
    save_conditional_run(tmp_path / "runs")
    pets = _class_folder(tmp_path / "pets", {"cat": 5, "dog": 5, "owl": 2}, loose=1)

    page.goto(app_url)
    page.get_by_role("tab", name="Train").click()
    classes, p_uncond = page.locator("#train-classes"), page.locator("#train-p-uncond")
    expect(p_uncond).to_be_hidden()
    page.locator("#train-conditional input").check()
    expect(classes).to_contain_text("10 classes: 0 (178), 1 (182), 2 (177)")
    expect(p_uncond.locator("input")).to_have_value("0.1")
    path = page.locator("#train-path textarea, #train-path input").first
    path.fill(str(pets))
    path.press("Tab")  # read on leaving the field, not on every keystroke
    expect(classes).to_contain_text("3 classes: cat (5), dog (5), owl (2)")
    expect(classes).to_contain_text("1 image sits in pets/ itself, beside the class folders")
    page.locator("#train-conditional input").uncheck()
    expect(p_uncond).to_be_hidden()
    expect(classes).to_have_text("")

    page.get_by_role("tab", name="Evaluate").click()
    box = page.locator("#eval-given-class")
    expect(page.locator("#eval-summary")).to_contain_text("digits")
    expect(box.locator("input")).to_be_disabled()
    expect(box).to_contain_text("trained without class labels")
    page.locator("#eval-checkpoint input").click()
    page.get_by_role("option", name=re.compile(r"classes · step 3 .*\(trained here\)")).click()
    expect(box.locator("input")).to_be_enabled()
    expect(box).to_contain_text("3 classes (cat, dog, owl)")
    box.locator("input").check()
    page.locator("#eval-source").get_by_text("A folder on this computer").click()
    page.locator("#eval-folder textarea, #eval-folder input").first.fill(str(pets))
    page.locator("#eval-run").click()
    status = page.locator("#eval-status")
    expect(status).to_contain_text("The label is worth", timeout=60_000)
    expect(status).to_contain_text(re.compile(r"Bound given each image's class\s*[\d.]+ ± [\d.]+ bits/dim"))
    expect(status).to_contain_text("term 40 / 40")  # every t of T = 20, twice
    page.screenshot(path=str(artifacts / "evaluate_given_class.png"), full_page=True)
