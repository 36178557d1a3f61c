"""The checkpoint catalogue (server/catalogue.py): sources and keys, a typed summary read from the header,
what each session may see, and uploads checked before they are listed."""

import pytest
import torch
from safetensors.torch import load_file

from ddpm_core.checkpoints import save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.errors import UserError
from ddpm_core.mlp import DenoiserMLP, MLPConfig
from ddpm_core.unet import UNet, UNetConfig
from server import settings as deployment
from server.catalogue import Catalogue, CheckpointSummary, summarize
from server.sessions import Session
from tests.conftest import ROOT

BUNDLED_KEYS = ["bundled:digits.safetensors", "bundled:digits_classes.safetensors"]  # checkpoints/, by name

TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0)


def _settings(demo: bool) -> deployment.Settings:
    return deployment.Settings(demo=demo, max_steps=100, max_image_size=64, max_batch_size=8, max_concurrent_runs=1,
                               uploads=deployment.DEMO_UPLOADS)


def _unet(path, **dataset):
    torch.manual_seed(0)
    return save_checkpoint(path, UNet(TINY), UNet(TINY), diffusion=DiffusionConfig(timesteps=20), step=7,
                           training={"preset": "tiny", "holdout": 0.25}, dataset={"root": "bars", **dataset})


def test_the_bundled_summary_is_read_from_the_header_alone():
    summary = summarize(ROOT / "checkpoints" / "digits.safetensors")
    weights = load_file(ROOT / "checkpoints" / "digits.safetensors")
    parameters = sum(v.numel() for k, v in weights.items() if k.startswith("ema."))
    assert summary == CheckpointSummary(architecture="unet", data="digits", num_images=1610, num_held_out=187,
                                        holdout=0.1, image_size=16, channels=1, preset="tiny", parameters=parameters,
                                        step=3000, timesteps=1000, schedule="linear", prediction="eps", classes=None)
    assert summary.is_image_model


def test_runs_are_per_session_in_demo_mode_and_shared_locally(tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_RUNS_DIR", str(tmp_path / "runs"))
    _unet(tmp_path / "runs" / "bars" / "model.safetensors", num_images=12)
    local, demo = Catalogue(_settings(False)), Catalogue(_settings(True))
    mine, other = Session(), Session()
    assert [e.key for e in local.entries(mine)] == [*BUNDLED_KEYS, "run:bars"]
    assert [e.key for e in local.entries(other)] == [*BUNDLED_KEYS, "run:bars"]
    _unet(mine.folder / "runs" / "mine" / "model.safetensors")
    assert [e.key for e in demo.entries(mine)] == [*BUNDLED_KEYS, "run:mine"]
    assert [e.key for e in demo.entries(other)] == BUNDLED_KEYS
    run = demo.resolve("run:mine", mine)
    assert (run.name, run.source, run.summary.step, run.summary.holdout) == ("mine", "run", 7, 0.25)
    with pytest.raises(UserError, match="Choose a checkpoint from the list") as info:
        demo.resolve("run:mine", other)
    assert info.value.code == "catalogue.unavailable"
    mine.close()


@pytest.mark.parametrize("key", ["run:../runs/bars", "bundled:../README.md", "bundled:digits.state.safetensors",
                                 "upload:1", "file:/etc/passwd", "", None, 42])
def test_keys_that_are_not_listed_are_refused(tmp_path, monkeypatch, key):
    monkeypatch.setenv("DDPM_RUNS_DIR", str(tmp_path / "runs"))
    _unet(tmp_path / "runs" / "bars" / "model.safetensors")
    with pytest.raises(UserError, match="Choose a checkpoint from the list"):
        Catalogue(_settings(False)).resolve(key, Session())


def test_a_damaged_run_or_a_2d_model_is_not_offered_for_images(tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs" / "broken").mkdir(parents=True)
    (tmp_path / "runs" / "broken" / "model.safetensors").write_bytes(b"junk")
    mlp = DenoiserMLP(MLPConfig(hidden=16, blocks=1))
    save_checkpoint(tmp_path / "runs" / "points" / "model.safetensors", mlp, mlp, diffusion=DiffusionConfig())
    catalogue = Catalogue(_settings(False))
    assert [e.key for e in catalogue.entries(None)] == BUNDLED_KEYS
    assert [e.key for e in catalogue.entries(None, images_only=False)] == [*BUNDLED_KEYS, "run:points"]
    with pytest.raises(UserError, match="holds a 2-D model") as info:
        catalogue.image_entry("run:points", None)
    assert info.value.code == "checkpoint.not_images"


def test_an_upload_is_checked_copied_and_listed_for_its_session_only(tmp_path):
    catalogue, mine, other = Catalogue(_settings(True)), Session(), Session()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="That file cannot be sampled") as info:
        catalogue.add_upload(junk, mine)
    assert info.value.code == "upload.checkpoint_unusable"
    entry = catalogue.add_upload(_unet(tmp_path / "good.safetensors"), mine)
    assert (entry.key, entry.name, entry.summary.image_size) == ("upload:1", "good.safetensors", 16)
    assert entry.path.parent == mine.folder / "checkpoints" and entry.path.read_bytes() == \
        (tmp_path / "good.safetensors").read_bytes()
    assert catalogue.resolve("upload:1", mine) == entry
    with pytest.raises(UserError, match="Choose a checkpoint"):
        catalogue.resolve("upload:1", other)
    mine.close()
    assert not entry.path.exists()


@pytest.mark.parametrize("name", ["../escape", "", " ", "a/b", "-lead", "x" * 65, None])
def test_run_names_cannot_leave_the_runs_folder(tmp_path, monkeypatch, name):
    monkeypatch.setenv("DDPM_RUNS_DIR", str(tmp_path / "runs"))
    with pytest.raises(UserError, match="A run name is 1–64 letters") as info:
        Catalogue(_settings(False)).run_folder(Session(), name)
    assert info.value.code == "run.bad_name"
