"""The Train tab in headless Chromium: a short run on a folder, with a live loss curve, previews and the status."""

import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from ddpm_core.checkpoints import load_checkpoint
from conftest import fill_number

LOSS = "#train-loss .js-plotly-plot"


def _set_number(page: Page, selector: str, value: int) -> None:
    fill_number(page.locator(selector), value)


def test_a_short_run_shows_loss_progress_and_samples(page: Page, app_url, artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_RUNS_DIR", str(tmp_path / "runs"))
    data = tmp_path / "bars"
    data.mkdir()
    for i in range(24):
        pixels = np.zeros((16, 16), np.uint8)
        pixels[3:13, 1 + i % 10:5 + i % 10] = 255
        Image.fromarray(pixels).save(data / f"{i:02d}.png")

    page.goto(app_url)
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-path textarea, #train-path input").first.fill(str(data))
    _set_number(page, "#train-size input[type=number]", 16)
    page.locator("#train-channels").get_by_text("grey").click()
    _set_number(page, "#train-batch input[type=number]", 8)
    _set_number(page, "#train-steps input", 40)
    page.get_by_text("More settings").click()
    _set_number(page, "#train-preview-every input", 10)
    page.locator("#train-cosine input").check()  # the learning rate decays to zero at step 40
    expect(page.locator("#train-preset")).to_contain_text(re.compile(r"tiny: [\d.]+ M parameters · about .* per 100 "
                                                                     r"steps here \(batch 8, 16×16 grey\)"),
                                                         timeout=30_000)  # measured once per setting, maybe queued
    page.locator("#train-start").click()

    expect(page.locator(LOSS)).to_be_visible(timeout=30_000)
    first = page.locator(LOSS).evaluate("gd => gd.data[0].x.length")
    expect(page.locator("#train-run input")).to_have_value("")  # a blank name stays blank until the run is named
    page.screenshot(path=str(artifacts / "train_tab_running.png"), full_page=True)
    status = page.locator("#train-status")
    expect(status).to_contain_text(re.compile(r"Finished run .* at step 40"), timeout=60_000)
    expect(status).to_contain_text(re.compile(r"step 40 / 40 · loss [\d.]+ · [\d.]+ it/s \([\d,]+ images/s\)"))
    last = page.locator(LOSS).evaluate("gd => gd.data[0].x.length")
    assert last == 40 and first < last, "the curve grew while training"
    assert page.locator(LOSS).evaluate("gd => gd.data.map(t => t.name)") == ["loss", "smoothed"]
    expect(page.locator("#train-preview img")).to_be_visible()
    expect(status).to_contain_text("Samples: the EMA model at step 40")
    expect(page.locator("#train-data")).to_contain_text("24 images from bars/ at 16×16 grey")
    expect(page.locator("#train-checkpoints")).to_contain_text("step 40 · 16×16 grey · tiny")
    run = page.locator("#train-run input")
    expect(run).to_have_value(re.compile(r"tiny-16px-\d{8}-\d{6}"))
    saved = load_checkpoint(tmp_path / "runs" / run.input_value() / "model.safetensors")
    assert saved.step == 40 and saved.config["training"]["lr_decay"] == "cosine"
    page.screenshot(path=str(artifacts / "train_tab.png"), full_page=True)

    # The finished run is offered on the Sample tab, and sampling it works.
    page.get_by_role("tab", name="Sample").click()
    page.locator("#sample-checkpoint input").click()
    option = page.get_by_role("option", name=re.compile(rf"{run.input_value()} · step 40 .*\(trained here\)"))
    expect(option).to_be_visible()
    option.click()
    expect(page.locator("#sample-summary")).to_contain_text("trained 40 steps on bars (24 images)")
    _set_number(page, "#sample-steps input", 5)
    page.locator("#sample-run").click()
    expect(page.locator("#sample-live")).to_contain_text("Done: 5 steps", timeout=30_000)
