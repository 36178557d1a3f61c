"""The Sample tab through gradio_client: a streamed run that matches the core, Stop, exports, and bad input."""

import re
import time

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image
from safetensors.torch import save_file

from ddpm_core.animation import image_grid
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.mlp import DenoiserMLP, MLPConfig
from ddpm_core.sample import SampleConfig, SamplingRun
from ddpm_core.unet import UNet, UNetConfig
from tests.conftest import ROOT
from server import settings as deployment
from server.catalogue import Catalogue
from server.sessions import Session
from ui import checkpoint_view

BUNDLED = "bundled:digits.safetensors"
TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0)


def _inputs(key=BUNDLED, sampler="ddim", steps=20, eta=0.0, variance="beta", n=4, seed=0, device="auto",
            clip=True, with_eps=False) -> tuple:
    """The /sample_run and /sample_compare arguments, in the order of the tab's inputs."""
    return key, sampler, steps, eta, variance, n, seed, device, clip, with_eps


def _text(html) -> str:
    return re.sub(r"<[^>]+>", "", html) if isinstance(html, str) else ""


def _step(update) -> int | None:
    found = re.search(r"step ([\d,]+) / ([\d,]+)", _text(update[0]))
    return int(found.group(1).replace(",", "")) if found else None


def _tiny_checkpoint(path, timesteps=20):
    torch.manual_seed(0)
    return save_checkpoint(path, UNet(TINY), UNet(TINY), diffusion=DiffusionConfig(schedule="cosine",
                           timesteps=timesteps), step=5, dataset={"root": "bars", "num_images": 3})


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


def test_a_streamed_run_ends_with_the_grid_the_core_draws(client):
    job = client.submit(*_inputs(n=4, steps=20, seed=3), api_name="/sample_run")
    updates = list(job)
    final = job.result()
    assert "step 20 / 20" in _text(final[0]) and "t = 0" in _text(final[0]) and "Done: 20 steps" in _text(final[0])
    steps = [s for s in map(_step, updates) if s is not None]
    assert steps == sorted(steps) and steps[-1] == 20
    with Image.open(final[1]) as picture:
        shown = np.asarray(picture.convert("RGB"))
    expected = image_grid(_core_final(load_checkpoint(ROOT / "checkpoints/digits.safetensors"),
                                      SampleConfig(n=4, sampler="ddim", steps=20, seed=3)))
    scale = shown.shape[0] // expected.shape[0]
    assert scale > 1 and shown.shape[:2] == (expected.shape[0] * scale, expected.shape[1] * scale)
    assert np.abs(shown[::scale, ::scale].astype(int) - expected).max() <= 1
    stats = final[2]["plot"]
    assert '"std of x<sub>t</sub>"' in stats and "DDIM" in stats


def _core_final(checkpoint, config):
    *_, last = SamplingRun(checkpoint, config).frames()
    return last.step.prev_sample


def test_stop_ends_the_computation_and_a_new_run_works(client):
    job = client.submit(*_inputs(sampler="ddpm", steps=1000, n=16), api_name="/sample_run")
    deadline = time.monotonic() + 60
    while not any((_step(u) or 0) > 0 for u in job.outputs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(Exception, match="A run is still going: wait for it to finish \\(or press Stop\\)"):
        client.predict(api_name="/sample_export_gif")
    client.predict(api_name="/sample_stop")
    final = job.result(timeout=30)
    stopped = re.search(r"Stopped after ([\d,]+) of 1,000 steps", _text(final[0]))
    assert stopped and 0 < int(stopped.group(1).replace(",", "")) < 500
    again = client.predict(*_inputs(steps=5), api_name="/sample_run")
    assert "Done: 5 steps" in _text(again[0])


def test_exports_are_real_animations_and_a_png(client):
    with pytest.raises(Exception, match="Sample first"):
        Client(client.src, verbose=False).predict(api_name="/sample_export_gif")
    client.predict(*_inputs(steps=12, n=4), api_name="/sample_run")
    gif = _file(client.predict(api_name="/sample_export_gif"))
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 12
    for fmt, codec in (("mp4", "h264"), ("webm", "vp9")):
        import av

        with av.open(_file(client.predict(api_name=f"/sample_export_{fmt}"))) as container:
            assert container.streams.video[0].codec_context.name == codec
            assert sum(1 for _ in container.decode(video=0)) >= 12
    with Image.open(_file(client.predict(api_name="/sample_export_png"))) as png:
        assert png.format == "PNG" and png.width >= 500


def _file(update) -> str:
    """The path in a gr.File update (the export shows the hidden file box with its value)."""
    return update["value"] if isinstance(update, dict) else update


def test_compare_runs_six_samplers_on_the_same_noise_with_their_network_evaluations(client):
    final = client.predict(*_inputs(steps=6, n=4), api_name="/sample_compare")
    captions = re.findall(r"<b>([^<]+)</b><br>([\d.]+) s · ([\d,]+) network evaluations", final[3])
    assert [c for c, _, _ in captions] == ["DDPM σ² = β, 6 steps", "DDIM η = 0, 6 steps", "DDIM η = 0.5, 6 steps",
                                           "DDIM η = 1, 6 steps", "Euler ODE (6 NFE), 6 steps",
                                           "Heun ODE (11 NFE), 6 steps"]
    assert [int(nfe) for _, _, nfe in captions] == [6, 6, 6, 6, 6, 11]  # Heun: two a step but the last
    assert all(float(seconds) > 0 for _, seconds, _ in captions)


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "less than minimum value 1"),
    ({"n": 0}, "less than minimum value 1"),
    ({"device": "cuda:7"}, "not in the list of choices: \\['auto', 'cpu'"),
    ({"key": "bundled:../README.md"}, "Choose a checkpoint from the list"),
    ({"key": "/etc/passwd"}, "Choose a checkpoint from the list"),
    ({"key": "upload:1"}, "Choose a checkpoint from the list"),
    ({"key": "run:../../etc"}, "Choose a checkpoint from the list"),
])
def test_bad_settings_get_a_clear_message(client, change, message):
    with pytest.raises(Exception, match=message):
        client.predict(*_inputs(**change), api_name="/sample_run")
    assert "Done" in _text(client.predict(*_inputs(steps=2), api_name="/sample_run")[0]), "the app keeps serving"


def test_too_many_images_for_the_memory_are_refused(client, monkeypatch):
    """The check runs in the sampling process; the server's cap per run (DDPM_SAMPLE_MEMORY_MB) is sent with
    the job, so 10 MB here refuses 64 images (over 1 MB each) and the message comes back to the page."""
    monkeypatch.setattr(deployment, "sample_memory_bytes", lambda: 10 * 2**20)
    with pytest.raises(Exception, match="64 images of 16×16 would not fit in the memory one run may use here"):
        client.predict(*_inputs(n=64), api_name="/sample_run")
    assert "Done" in _text(client.predict(*_inputs(n=2, steps=2), api_name="/sample_run")[0])


def test_uploaded_checkpoints_are_checked_then_sampled(client, tmp_path):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\xff" * 100)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(2)}, foreign)
    small = MLPConfig(hidden=16, blocks=1, embedding_dim=8)
    points = save_checkpoint(tmp_path / "points.safetensors", DenoiserMLP(small), DenoiserMLP(small),
                             diffusion=DiffusionConfig(timesteps=20, schedule="cosine"))
    mismatched = _tiny_checkpoint(tmp_path / "mismatched.safetensors")
    tensors = {k: v for k, v in _load_all(mismatched).items() if not k.startswith("ema.up.5.")}
    save_file(tensors, mismatched, metadata=_metadata(mismatched))
    for path, message in ((corrupt, "not a readable safetensors file"), (foreign, "not a DDPM Explorer checkpoint"),
                          (points, "2-D model"), (mismatched, "do not fit")):
        with pytest.raises(Exception, match=message):
            client.predict(handle_file(str(path)), api_name="/sample_upload")

    good = _tiny_checkpoint(tmp_path / "bars.safetensors")
    picker = client.predict(handle_file(str(good)), api_name="/sample_upload")
    assert picker["value"] == "upload:1" and ["bars.safetensors (uploaded)", "upload:1"] in picker["choices"]
    with pytest.raises(Exception, match="steps must be from 1 to T = 20"):
        client.predict(*_inputs(key="upload:1", steps=50), api_name="/sample_run")
    final = client.predict(*_inputs(key="upload:1", steps=20, n=2), api_name="/sample_run")
    assert "Done: 20 steps" in _text(final[0])
    with pytest.raises(Exception, match="Choose a checkpoint from the list"):  # another session's upload
        Client(client.src, verbose=False).predict(*_inputs(key="upload:1"), api_name="/sample_run")


def _load_all(path):
    from safetensors.torch import load_file

    return load_file(path)


def _metadata(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata()


def test_checkpoints_trained_in_the_app_are_offered_and_only_they(tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("DDPM_DEMO", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    _tiny_checkpoint(tmp_path / "runs" / "bars" / "model.safetensors")
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "model.safetensors").write_bytes(b"junk")
    catalogue, session = Catalogue(deployment.load()), Session()
    choices = checkpoint_view.choices(catalogue.entries(session))
    keys = [key for _, key in choices]
    assert keys == [BUNDLED, "bundled:digits_classes.safetensors", "run:bars"]
    assert "bars · step 5" in choices[2][0] and "(trained here)" in choices[2][0]
    assert catalogue.resolve("run:bars", session).path == tmp_path / "runs" / "bars" / "model.safetensors"
    for key in ("run:broken", "run:../runs/bars", "bundled:digits.state.safetensors", "upload:1", None, 3):
        with pytest.raises(ValueError, match="Choose a checkpoint"):
            catalogue.resolve(key, session)


def test_the_summary_says_what_the_bundled_model_is():
    entry = Catalogue(deployment.load()).resolve(BUNDLED, None)
    text = checkpoint_view.summary_markdown(entry)
    assert entry.summary.timesteps == 1000
    parameters = sum(v.numel() for k, v in _load_all(ROOT / "checkpoints" / "digits.safetensors").items()
                     if k.startswith("ema."))
    for part in ("trained 3,000 steps", "*digits* (1,610 images, 187 held out)", "16×16 grey", "*tiny*", f"{parameters:,} parameters",
                 "linear β"):
        assert part in text, part
