"""The paper's own models in the app: a diffusers folder imported in the Sample tab (locally), listed by the
catalogue with the paper's figures, sampled and evaluated there; a run estimated at over a minute waits for
the user's go-ahead; a public server takes no folder path."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from gradio_client import Client
from PIL import Image

from ddpm_core.convert import CostEstimate
from ddpm_core.errors import UserError
from server import settings as deployment
from server.catalogue import Catalogue, check_run_cost
from server.sessions import Session
from ui import evaluate_tab, sample_tab

diffusers = pytest.importorskip("diffusers")

TINY = dict(in_channels=3, out_channels=3, layers_per_block=1, norm_num_groups=8, norm_eps=1e-6,
            attention_head_dim=None, flip_sin_to_cos=False, freq_shift=1, downsample_padding=0, act_fn="silu",
            sample_size=16, block_out_channels=(32, 64), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"))
SCHEDULER = ('{"_class_name": "DDPMScheduler", "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001, '
             '"clip_sample": true, "num_train_timesteps": 1000, "variance_type": "fixed_small"}')


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A diffusers folder named like the CIFAR-10 release (a tiny network, random weights), and a private
    imported/ folder for the app running in this process."""
    monkeypatch.setenv("DDPM_IMPORTS_DIR", str(tmp_path / "imported"))
    torch.manual_seed(0)
    path = tmp_path / "ddpm-cifar10-tiny"
    diffusers.UNet2DModel(**TINY).eval().save_pretrained(path)
    (path / "scheduler_config.json").write_text(SCHEDULER)
    return path


def _local() -> deployment.Settings:
    return deployment.Settings(demo=False, max_steps=100, max_image_size=64, max_batch_size=8, max_concurrent_runs=1,
                               uploads=deployment.LOCAL_UPLOADS)


def test_an_imported_release_is_listed_with_the_papers_figures_and_samples(folder, app_url):
    client = Client(app_url, verbose=False)
    picker = client.predict(str(folder), api_name="/sample_import")
    assert picker["value"] == "import:ddpm-cifar10-tiny"
    assert ["ddpm-cifar10-tiny (imported)", "import:ddpm-cifar10-tiny"] in picker["choices"]
    final = client.predict("import:ddpm-cifar10-tiny", "ddim", 5, 0.0, "beta", 2, 0, "auto", True, False, False,
                           api_name="/sample_run")
    assert "Done: 5 steps" in re.sub(r"<[^>]+>", "", final[0])
    with Image.open(final[1]) as grid:
        assert grid.mode == "RGB" and np.asarray(grid).std() > 0
    entry = Catalogue(_local()).resolve("import:ddpm-cifar10-tiny", None)
    assert (entry.source, entry.summary.imported_from, entry.summary.paper_dataset) == \
        ("import", "ddpm-cifar10-tiny", "cifar10")
    markdown, _steps, variance, *_classes = sample_tab.SampleTab(_local(), Catalogue(_local())).summary(entry.key, Session())
    assert "imported from *ddpm-cifar10-tiny*" in markdown and "The paper's figures** for CIFAR-10" in markdown
    assert "FID 3.17" in markdown and "NLL ≤ 3.75 bits/dim (test), 3.72 (train)" in markdown
    assert variance.value == "beta", "the authors sampled CIFAR-10 with σ² = β: the picker follows them"


def test_evaluating_an_imported_release_shows_the_papers_figure_beside_ours(folder, tmp_path):
    catalogue = Catalogue(_local())
    entry = catalogue.add_import(folder, None)
    picture = tmp_path / "one.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(picture)
    tab, session = evaluate_tab.EvaluateTab(_local(), catalogue), Session()
    updates = list(tab.evaluate(evaluate_tab.ImagesForm(entry.key, "upload", [str(picture)], None, "all"),
                                evaluate_tab.BoundForm(1, "strata", 2, "beta", 0, False), session))
    status = re.sub(r"<[^>]+>", "", updates[-1][0])
    assert "bits/dim" in status and "Ho et al. 2020 report ≤ 3.75 bits/dim on the whole CIFAR-10 test set" in status
    views = list(tab.decode(evaluate_tab.ImagesForm(entry.key, "upload", [str(picture)], None, "all"),
                            evaluate_tab.DecodeForm(1, "1000, 10", 1, "100", 0), session))
    assert "<th>t = 1,000</th>" in views[-1] and views[-1].count("<img") == 2 * 2 + 1 + 2  # x_t, x̂_0, x_0, samples
    session.close()


def test_a_long_run_waits_for_the_go_ahead_and_an_endless_one_is_refused():
    minute_and_a_half = CostEstimate(forward_s=1.5, batch=16, evaluations=16 * 60)  # 1.5 s × 60 evaluations
    with pytest.raises(UserError, match="This would take about 1.5 minutes here") as info:
        check_run_cost(minute_and_a_half, 16, allowed=False)
    assert info.value.code == "run.long"
    check_run_cost(minute_and_a_half, 16, allowed=True)  # ticked: it may start
    two_days = CostEstimate(forward_s=16.0, batch=16, evaluations=172_800)  # 1 s an image and step: 48 hours
    with pytest.raises(UserError, match="would take about 48.0 hours") as info:
        check_run_cost(two_days, 1000, allowed=True)
    assert info.value.code == "convert.too_slow"


def test_the_sample_tab_measures_before_a_long_run(monkeypatch):
    """Sampling asks the catalogue what the run costs here (a measured forward pass × evaluations) first."""
    seen = {}

    def slow(entry, images, evaluations, device="cpu", batch=16):
        seen.update(images=images, evaluations=evaluations)
        return CostEstimate(forward_s=1.0, batch=1, evaluations=images * evaluations)  # 1 s an image and step
    monkeypatch.setattr(sample_tab, "run_cost", slow)
    tab = sample_tab.SampleTab(_local(), Catalogue(_local()))
    form = sample_tab.SampleForm("bundled:digits.safetensors", "heun", 10, 0.0, "beta", 4, 0, "auto", True, False,
                                 False)
    with pytest.raises(Exception, match="This would take about 1.3 minutes here"):
        next(tab.sample(form, Session()))
    assert seen == {"images": 4, "evaluations": 19}  # Heun: 19 network evaluations over 10 steps
    tab.pool.shutdown()


def test_a_public_server_takes_no_folder_path_and_a_bad_folder_is_explained(tmp_path):
    demo = Catalogue(deployment.Settings(demo=True, max_steps=100, max_image_size=64, max_batch_size=8,
                                         max_concurrent_runs=1, uploads=deployment.DEMO_UPLOADS))
    with pytest.raises(UserError, match="This server takes no folder path") as info:
        demo.add_import(tmp_path, Session())
    assert info.value.code == "import.demo"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="config.json"):
        Catalogue(_local()).add_import(tmp_path / "empty", None)
    with pytest.raises(UserError, match="Type the path of a diffusers model folder"):
        Catalogue(_local()).add_import("  ", None)
