"""A class-conditional checkpoint in the Sample tab (in-process, through its sampling process): one row per class,
one class, no class, guidance scales side by side from the same noise, and the controls of an unconditional
checkpoint disabled with their reason."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ddpm_core.animation import image_grid
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.guidance import ALL_CLASSES
from ddpm_core.sample import SampleConfig, SamplingRun, describe
from ddpm_core.unet import UNet, UNetConfig
from server import settings as deployment
from tests.test_conditional import randomised
from server.catalogue import Catalogue
from server.sessions import Session
from ui import checkpoint_view
from ui.sample_tab import GUIDANCE_SCALES, SampleForm, SampleState, SampleTab

CLASSES = ["zero", "one", "two"]
TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0, num_classes=len(CLASSES))
KEY = "bundled:classes.safetensors"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundled")
    net = randomised(TINY)  # zero-initialised layers randomised, so that the class reaches the output
    save_checkpoint(folder / "classes.safetensors", net, net, diffusion=DiffusionConfig(timesteps=20),
                    dataset={"root": "toy", "classes": CLASSES, "class_counts": [4, 4, 4]})
    plain = UNet(UNetConfig(**{**TINY.to_dict(), "num_classes": 0}))
    save_checkpoint(folder / "plain.safetensors", plain, plain, diffusion=DiffusionConfig(timesteps=20))
    return folder


@pytest.fixture(scope="module")
def tab(folder):
    return SampleTab(deployment.load(), Catalogue(deployment.load(), bundled_dir=folder))


def _form(**changes) -> SampleForm:
    base = dict(checkpoint=KEY, sampler="ddim", steps=5, eta=0.0, variance="beta", n=6, seed=1, device="cpu",
                clip=True, with_eps=False, long_ok=False, klass=ALL_CLASSES, guidance=2.0)
    return SampleForm(**{**base, **changes})


def _text(html) -> str:
    return re.sub(r"<[^>]+>", "", html) if isinstance(html, str) else ""


def test_one_row_per_class_shares_the_images_among_the_classes_and_lays_them_out_in_rows(tab, folder):
    config = tab._config(_form(n=7), 20, tuple(CLASSES))
    assert (config.label, config.n, config.guidance) == (ALL_CLASSES, 2, 2.0)  # 7 images: 2 of each of 3
    run = SamplingRun(load_checkpoint(folder / "classes.safetensors"), config)
    assert run.labels.tolist() == [0, 0, 1, 1, 2, 2] and run.grid_columns == 2
    *_, last = run.frames()
    grid = image_grid(last.step.prev_sample, run.grid_columns)
    assert grid.shape[:2] == (3 * 17 + 1, 2 * 17 + 1)  # 3 rows of 2, 1-pixel gaps
    assert str(describe(config, run.count)) == "DDIM η = 0, 5 steps, one row of 2 per class, w = 2"


@pytest.mark.parametrize("klass, label", [("two", "two"), (checkpoint_view.NO_CLASS, None)])
def test_one_class_or_none_reaches_the_sampler(tab, klass, label):
    config = tab._config(_form(klass=klass, n=4), 20, tuple(CLASSES))
    assert (config.label, config.n) == (label, 4)
    assert config.guidance == (2.0 if label else None)


def test_an_unconditional_checkpoint_ignores_the_class_picker(tab):
    config = tab._config(_form(checkpoint="bundled:plain.safetensors", klass=ALL_CLASSES, n=4), 20, None)
    assert (config.label, config.guidance, config.n) == (None, None, 4)


def test_a_sampled_class_run_streams_to_one_grid_of_one_row_per_class(tab, folder):
    session = Session()
    updates = list(tab.sample(_form(n=6), session))
    assert "Done: 5 steps" in _text(updates[-1][0]) and "one row of 2 per class, w = 2" in _text(updates[-1][0])
    result = session.state(SampleState).result
    assert result.final.shape[:2] == (3 * 17 + 1, 2 * 17 + 1)
    # The same run in the core, from the same seed: the same pixels.
    run = SamplingRun(load_checkpoint(folder / "classes.safetensors"),
                      SampleConfig(n=2, sampler="ddim", steps=5, seed=1, device="cpu", label=ALL_CLASSES,
                                   guidance=2.0))
    *_, last = run.frames()
    assert np.array_equal(result.final, image_grid(last.step.prev_sample, 2))
    session.close()


def test_guidance_scales_run_the_same_noise_at_each_w(tab, folder):
    session = Session()
    updates = list(tab.compare_guidance(_form(klass="one", n=3), session))
    results = [r for r in session.jobs["sample"].result]
    assert [str(r.description) for r in results] == [f"DDIM η = 0, 5 steps, class one, w = {w:g}"
                                                     for w in GUIDANCE_SCALES]
    comparison = updates[-1][3]
    assert all(f"w = {w:g}" in _text(comparison) for w in GUIDANCE_SCALES)
    checkpoint = load_checkpoint(folder / "classes.safetensors")
    for w, result in zip(GUIDANCE_SCALES, results):
        run = SamplingRun(checkpoint, SampleConfig(n=3, sampler="ddim", steps=5, seed=1, device="cpu", label="one",
                                                   guidance=w))
        *_, last = run.frames()
        assert np.array_equal(result.final, image_grid(last.step.prev_sample))
    assert not np.array_equal(results[0].final, results[-1].final)  # w matters
    assert session.state(SampleState).result is None, "the comparison leaves the main run's results alone"
    assert tab.staleness(_form(klass="one", n=3, guidance=7.5), session) == ""  # w is what it varied
    assert "comparison below" in tab.staleness(_form(klass="two", n=3), session)
    session.close()


def test_guidance_scales_need_a_conditional_checkpoint(tab):
    import gradio as gr
    with pytest.raises(gr.Error, match="class-conditional checkpoint"):
        list(tab.compare_guidance(_form(checkpoint="bundled:plain.safetensors"), Session()))


def test_a_class_the_checkpoint_lacks_is_a_clear_message(tab):
    import gradio as gr
    with pytest.raises(gr.Error, match="no class 'seven'"):
        list(tab.sample(_form(klass="seven"), Session()))


def test_the_controls_follow_the_checkpoint(tab):
    session = Session()
    markdown, *_, klass, guidance, button = tab.summary(KEY, session, "two")
    assert "Class-conditional: 3 classes (zero, one, two)" in markdown
    assert klass.interactive and klass.value == "two" and guidance.interactive and button.interactive
    assert [value for _label, value in klass.choices] == [ALL_CLASSES, checkpoint_view.NO_CLASS, *CLASSES]
    markdown, *_, klass, guidance, button = tab.summary("bundled:plain.safetensors", session, "two")
    assert "Class-conditional" not in markdown
    assert not klass.interactive and klass.value == checkpoint_view.NO_CLASS and not button.interactive
    assert not guidance.interactive and "without class labels" in guidance.info
    assert not checkpoint_view.guidance_slider(checkpoint_view.NO_CLASS).interactive
