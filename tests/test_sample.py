"""Sampling a checkpoint: SamplingRun's checks and statistics, the exports, and the CLI end to end."""

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_core import sample as sample_module
from ddpm_core.animation import compose_frame, image_grid, save_animation
from ddpm_core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.mlp import DenoiserMLP, MLPConfig
from ddpm_core.sample import SampleConfig, SamplingRun, main
from ddpm_core.unet import UNet, UNetConfig

TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0)
T = 20


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, UNet(TINY), UNet(TINY), diffusion=DiffusionConfig(schedule="cosine", timesteps=T),
                           step=7, dataset={"name": "noise"})


@pytest.fixture()
def checkpoint(checkpoint_path):
    return load_checkpoint(checkpoint_path)


def test_a_run_yields_every_step_and_records_statistics(checkpoint):
    run = SamplingRun(checkpoint, SampleConfig(n=6, sampler="ddim", steps=5, eta=0.5, seed=1))
    frames = list(run.frames())
    assert [f.index for f in frames] == [1, 2, 3, 4, 5] and frames[-1].t_prev == -1
    assert frames[-1].step.prev_sample.shape == (6, 1, 16, 16)
    stats = run.statistics()
    assert stats["t"].tolist() == [f.t for f in frames]
    expected_std = [f.step.prev_sample.std().item() for f in frames]
    np.testing.assert_allclose(stats["std"], expected_std, rtol=1e-6)
    change = [(b.step.pred_x0 - a.step.pred_x0).pow(2).mean().sqrt().item() for a, b in zip(frames, frames[1:])]
    np.testing.assert_allclose(stats["x0_change"][1:], change, rtol=1e-5)
    assert stats["x0_change"][0] == 0


def test_the_same_seed_gives_the_same_images_and_another_seed_does_not(checkpoint):
    def final(seed, sampler="ddpm"):
        *_, last = SamplingRun(checkpoint, SampleConfig(n=3, sampler=sampler, seed=seed)).frames()
        return last.step.prev_sample

    assert torch.equal(final(3), final(3)) and not torch.equal(final(3), final(4))
    assert torch.equal(final(3, "ddim"), final(3, "ddim"))


def test_stopping_the_iteration_stops_the_network(checkpoint, monkeypatch):
    calls = []
    forward = checkpoint.model.forward
    monkeypatch.setattr(checkpoint.model, "forward", lambda *a: calls.append(1) or forward(*a))
    run = SamplingRun(checkpoint, SampleConfig(n=2))
    calls.clear()  # the run sized its memory with one forward pass
    frames = run.frames()
    for frame in frames:
        if frame.index == 3:
            break
    frames.close()
    assert len(calls) == 3


@pytest.mark.parametrize("config, message", [
    (SampleConfig(steps=T + 1), "steps must be from 1 to T = 20"),
    (SampleConfig(steps=0), "steps must be from 1 to T = 20"),
    (SampleConfig(sampler="ddim", eta=2.0), "η must lie in"),
    (SampleConfig(n=0), "number of images must be from 1"),
    (SampleConfig(device="cuda:7"), "not present on this machine; present here: cpu"),
    (SampleConfig(precision="fp8"), "unknown precision"),
])
def test_bad_settings_are_refused_with_a_message(checkpoint, config, message):
    if config.device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has eight GPUs")
    with pytest.raises(ValueError, match=message):
        SamplingRun(checkpoint, config)


def test_an_image_count_that_would_not_fit_in_memory_is_refused(checkpoint, monkeypatch):
    per_image = sample_module.bytes_per_image(checkpoint.model, (1, 16, 16))
    assert 16 * 16 * 4 * 8 < per_image < 50e6  # each module output is counted; x_t and friends too
    monkeypatch.setattr(sample_module, "free_memory", lambda device: 100 * per_image)
    assert sample_module.max_images(checkpoint.model, (1, 16, 16), torch.device("cpu")) == 50
    with pytest.raises(ValueError, match="would not fit in the memory one run may use here .*; at most 50 at once"):
        SamplingRun(checkpoint, SampleConfig(n=51))
    SamplingRun(checkpoint, SampleConfig(n=50))
    # A server's cap per run binds when it is below half of what is free, and not otherwise.
    assert sample_module.max_images(checkpoint.model, (1, 16, 16), torch.device("cpu"), 20 * per_image) == 20
    assert sample_module.max_images(checkpoint.model, (1, 16, 16), torch.device("cpu"), 90 * per_image) == 50
    with pytest.raises(ValueError, match="at most 20 at once"):
        SamplingRun(checkpoint, SampleConfig(n=21), memory_limit=20 * per_image)


def test_a_2d_model_checkpoint_is_refused(tmp_path):
    small = MLPConfig(hidden=16, blocks=1, embedding_dim=8)
    path = save_checkpoint(tmp_path / "mlp.safetensors", DenoiserMLP(small), DenoiserMLP(small),
                           diffusion=DiffusionConfig(schedule="cosine", timesteps=T))
    with pytest.raises(CheckpointError, match="2-D points, not an image model"):
        SamplingRun(load_checkpoint(path), SampleConfig())


def test_grid_and_frame_pictures():
    x = torch.full((5, 3, 4, 4), -1.0)
    x[1, 0] = 1.0  # the second image is red
    grid = image_grid(x, padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and grid.dtype == np.uint8  # 3 per row (⌈√5⌉), 2 rows
    assert grid[1, 1].tolist() == [0, 0, 0] and grid[1, 6].tolist() == [255, 0, 0]
    assert grid[0, 0].tolist() == [255, 255, 255]  # padding is white
    frame = compose_frame([("a", grid), ("b", grid)], "step 1/2", width=64)
    assert frame.shape[1] >= 2 * 64 and frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0


def test_animations_round_trip_with_the_last_frame_held(tmp_path):
    import av

    frames = [np.full((20, 30, 3), v, dtype=np.uint8) for v in (0, 120, 250)]
    gif = save_animation(frames, tmp_path / "a.gif", fps=10, hold_last_s=1.0)
    with Image.open(gif) as im:
        assert im.n_frames == 3 and im.size == (30, 20)
        durations = []
        for i in range(3):
            im.seek(i)
            durations.append(im.info["duration"])
        assert durations == [100, 100, 1000]
        assert abs(np.asarray(im.convert("L")).mean() - 250) < 3
    for suffix, codec in ((".mp4", "h264"), (".webm", "vp9")):
        video = save_animation(frames, tmp_path / f"a{suffix}", fps=10, hold_last_s=1.0)
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == codec and (stream.width, stream.height) == (60, 40)
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(decoded) == 2 + 10  # the last frame held for 1 s at 10 fps
        assert [round(d.mean()) for d in decoded[:3]] == pytest.approx([0, 120, 250], abs=4)
    for bad, message in (("a.avi", "an animation is"), ("b.gif", "no frames")):
        with pytest.raises(ValueError, match=message):
            save_animation([] if bad == "b.gif" else frames, tmp_path / bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "a.mp4", "a.webm"]  # no temporary left


def test_cli_writes_the_grid_and_both_animations(checkpoint_path, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["--checkpoint", str(checkpoint_path), "--n", "4", "--sampler", "ddim", "--steps", "6",
                 "--out", str(out / "grid.png"), "--gif", str(out / "anim.gif"), "--video", str(out / "anim.mp4"),
                 "--frames", "3", "--fps", "5"])
    assert code == 0, capsys.readouterr().err
    with Image.open(out / "grid.png") as grid:
        assert grid.size == (2 * 17 + 1, 2 * 17 + 1)  # 2 × 2 images of 16 px with 1 px padding
    with Image.open(out / "anim.gif") as gif:
        assert gif.n_frames == 3  # steps 2, 4, 6 of 6
    assert (out / "anim.mp4").stat().st_size > 0
    # The grid is the same DDIM η = 0 sample the core draws for that seed.
    run = SamplingRun(load_checkpoint(checkpoint_path), SampleConfig(n=4, sampler="ddim", steps=6))
    *_, last = run.frames()
    with Image.open(out / "grid.png") as grid:
        assert np.abs(np.asarray(grid.convert("RGB")).astype(int) - image_grid(last.step.prev_sample)).max() <= 1


@pytest.mark.parametrize("args, message", [
    (["--steps", "21"], "steps must be from 1 to T = 20"),
    (["--device", "cuda:7"], "not present"),
    (["--out", "grid.jpg"], "--out must name a .png"),
    (["--video", "a.avi"], "--video must name a .mp4 or .webm"),
])
def test_cli_reports_bad_arguments(checkpoint_path, tmp_path, capsys, args, message):
    if "cuda:7" in args and torch.cuda.device_count() > 7:
        pytest.skip("this machine has eight GPUs")
    base = ["--checkpoint", str(checkpoint_path), "--n", "2", "--out", str(tmp_path / "g.png")]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err


def test_cli_reports_a_broken_checkpoint(tmp_path, capsys):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert main(["--checkpoint", str(broken), "--out", str(tmp_path / "g.png")]) == 2
    assert "not a readable safetensors file" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


def test_samples_become_uint8_images_last_as_the_grid_rounds_them():
    from ddpm_core.images import to_uint8

    x = torch.tensor([-1.5, -1.0, -1 / 127.5, 0.0, 0.5, 1.0, 2.0]).view(1, 1, 1, 7).repeat(2, 3, 1, 1)
    pixels = sample_module.samples_uint8(x)
    assert pixels.shape == (2, 1, 7, 3) and pixels.dtype == np.uint8
    assert pixels[0, 0, :, 0].tolist() == [0, 0, 127, 128, 191, 255, 255]  # 127.5·x + 127.5, half up, clipped
    assert np.array_equal(pixels[1], to_uint8(x[1]))


def test_long_runs_keep_statistics_at_every_kth_step(checkpoint, monkeypatch):
    monkeypatch.setattr(sample_module, "MAX_STATISTICS", 4)
    run = SamplingRun(checkpoint, SampleConfig(n=2, sampler="ddpm", seed=0))  # all T = 20 steps
    frames = list(run.frames())
    stats = run.statistics()
    assert run.stats_every == 5 and stats["t"].tolist() == [frames[i].t for i in (4, 9, 14, 19)]
    np.testing.assert_allclose(stats["std"], [frames[i].step.prev_sample.std().item() for i in (4, 9, 14, 19)],
                               rtol=1e-6)
    change = [(frames[i].step.pred_x0 - frames[i - 1].step.pred_x0).pow(2).mean().sqrt().item() for i in (4, 9, 14, 19)]
    np.testing.assert_allclose(stats["x0_change"], change, rtol=1e-5)
