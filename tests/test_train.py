"""Training: the loop, stopping, NaN handling, exact resumes, the CLI, SIGKILL + --resume, and DDP."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, free_port
from ddpm_core import train as train_module
from ddpm_core.checkpoints import load_checkpoint, state_path
from ddpm_core.config import DiffusionConfig
from ddpm_core.metrics import read_metrics
from ddpm_core.train import TrainConfig, TrainingError, train

DIFFUSION = DiffusionConfig(timesteps=100, rescale=True)


def _config(**changes) -> TrainConfig:
    base = dict(image_size=16, channels=1, preset="tiny", batch_size=4, steps=6, warmup_steps=2,
                save_every=3, lr=1e-3, ema_decay=0.9, seed=0)
    return TrainConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Sixteen 16×16 grey images (stripes at different angles), as a user's folder would hold."""
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for i in range(16):
        y, x = np.mgrid[0:16, 0:16]
        stripes = (np.sin((x * np.cos(i) + y * np.sin(i)) / 2) > 0) * 200 + rng.integers(0, 40, (16, 16))
        Image.fromarray(stripes.astype(np.uint8)).save(root / f"img{i:02d}.png")
    return root


def _weights(path):
    return load_checkpoint(path).raw_model.state_dict()


def test_training_saves_loadable_checkpoints_and_reports_progress(images, tmp_path):
    seen = []
    result = train(_config(), DIFFUSION, images, tmp_path, callback=seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4, 5, 6]
    assert [p.saved is not None for p in seen] == [False, False, True, False, False, True]
    assert all(np.isfinite(p.loss) for p in seen) and seen[0].lr == pytest.approx(5e-4)  # warm-up 1/2
    loaded = load_checkpoint(result.checkpoint)
    assert loaded.step == 6 == result.step and loaded.architecture == "unet"
    assert loaded.config["dataset"]["num_images"] == 16 and loaded.config["training"]["preset"] == "tiny"
    assert state_path(result.checkpoint).exists()
    out = loaded.model(torch.zeros(2, 1, 16, 16), torch.tensor([0, 99]))
    assert out.shape == (2, 1, 16, 16)


def test_a_resumed_run_matches_an_uninterrupted_one_exactly(images, tmp_path):
    straight = train(_config(steps=6), DIFFUSION, images, tmp_path / "straight")
    train(_config(steps=3), DIFFUSION, images, tmp_path / "split")
    resumed = train(_config(steps=6), DIFFUSION, images, tmp_path / "split", resume=True)
    assert resumed.step == 6 and resumed.fingerprint == straight.fingerprint
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    for name, value in a.model.state_dict().items():  # the EMA too
        assert torch.equal(value, b.model.state_dict()[name]), name


def test_cosine_decay_follows_its_schedule_is_recorded_and_resumes_exactly(images, tmp_path):
    config = _config(steps=6, warmup_steps=2, lr_decay="cosine")
    straight = train(config, DIFFUSION, images, tmp_path / "straight")
    rates = [row["lr"] for row in read_metrics(tmp_path / "straight")]
    # warm-up 1/2 and 2/2 of lr, then ½(1 + cos(π k/4)) of it for k = 0…3 steps after the warm-up
    expected = [5e-4, 1e-3] + [1e-3 * 0.5 * (1 + np.cos(np.pi * k / 4)) for k in range(4)]
    assert rates == pytest.approx(expected, rel=1e-12)
    assert load_checkpoint(straight.checkpoint).config["training"]["lr_decay"] == "cosine"
    calls = iter(range(100))
    stopped = train(config, DIFFUSION, images, tmp_path / "split", should_stop=lambda: next(calls) == 2)
    assert stopped.step == 3  # Stop after step 3, then Resume to the same 6 steps: the same schedule, the same weights
    resumed = train(config, DIFFUSION, images, tmp_path / "split", resume=True)
    assert resumed.step == 6 and resumed.fingerprint == straight.fingerprint


def test_a_checkpoint_from_before_lr_decay_existed_reads_as_constant():
    from ddpm_core.checkpoints import config_from_dict

    saved = {k: v for k, v in vars(_config()).items() if k != "lr_decay"}
    assert config_from_dict(TrainConfig, saved, "training").lr_decay == "constant"


def test_should_stop_saves_and_stops(images, tmp_path):
    result = train(_config(steps=50, save_every=100), DIFFUSION, images, tmp_path,
                   should_stop=lambda: True)
    assert result.step == 1 and load_checkpoint(result.checkpoint).step == 1


def test_a_nan_loss_stops_training_and_keeps_the_last_checkpoint(images, tmp_path, monkeypatch):
    real = train_module.simple_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(train_module, "simple_loss", poisoned)
    with pytest.raises(TrainingError, match=r"became NaN or infinite at step 5.*checkpoint \(step 3\) is intact"):
        train(_config(steps=10), DIFFUSION, images, tmp_path)
    assert load_checkpoint(tmp_path / "model.safetensors").step == 3


def test_bad_settings_and_folders_are_refused(images, tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        train(_config(preset="huge"), DIFFUSION, images, tmp_path)
    with pytest.raises(ValueError, match="No images found"):
        train(_config(), DIFFUSION, tmp_path, tmp_path / "out")


def _cli(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "ddpm_core.train", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=240, **kwargs)


CLI_ARGS = ["--image-size", "16", "--channels", "1", "--preset", "tiny", "--batch-size", "4",
            "--timesteps", "100", "--warmup-steps", "2"]


def test_cli_trains_and_explains_errors(images, tmp_path):
    done = _cli("--data", str(images), "--out", str(tmp_path), "--steps", "4", "--save-every", "2",
                "--sample-every", "2", *CLI_ARGS)
    assert done.returncode == 0, done.stderr
    assert "done:" in done.stdout and load_checkpoint(tmp_path / "model.safetensors").step == 4
    for step in (2, 4):  # a 4×4 grid of 16×16 samples, 1-pixel padding: 4·17 + 1 = 69 pixels a side
        assert Image.open(tmp_path / f"samples_step{step}.png").size == (69, 69)
    empty = tmp_path / "empty"
    empty.mkdir()
    cosine = _cli("--data", str(images), "--out", str(tmp_path / "cos"), "--steps", "3", "--lr-decay", "cosine",
                  *CLI_ARGS)
    assert cosine.returncode == 0, cosine.stderr
    assert load_checkpoint(tmp_path / "cos" / "model.safetensors").config["training"]["lr_decay"] == "cosine"
    failed = _cli("--data", str(empty), "--out", str(tmp_path / "x"), "--steps", "2", *CLI_ARGS)
    assert failed.returncode == 2 and "error: No images found" in failed.stderr and "Traceback" not in failed.stderr


def test_sigkill_then_resume_finishes_at_the_requested_step(images, tmp_path):
    args = ["--data", str(images), "--out", str(tmp_path), "--steps", "60", "--save-every", "5", *CLI_ARGS]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "ddpm_core.train", *args], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "model.safetensors"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (checkpoint.exists() and load_checkpoint(checkpoint).step >= 10):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # at whatever moment: mid-step or mid-write
    process.wait()
    killed_at = load_checkpoint(checkpoint).step  # the last save is intact and loadable
    assert 10 <= killed_at < 60
    resumed = _cli("--data", str(images), "--out", str(tmp_path), "--resume", "--steps", "60")
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(checkpoint).step == 60
    straight = _cli("--data", str(images), "--out", str(tmp_path / "straight"), "--steps", "60",
                    "--save-every", "5", *CLI_ARGS)
    fingerprint = re.compile(r"weights fingerprint (\S+)")
    assert fingerprint.search(resumed.stdout).group(1) == fingerprint.search(straight.stdout).group(1)


def test_two_process_ddp_agrees_and_only_rank_0_writes(images, tmp_path):
    out, logs = tmp_path / "ddp", tmp_path / "logs"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               f"--log-dir={logs}", "--tee=1",  # each rank's stdout also in its own file: no interleaving
               "-m", "ddpm_core.train", "--data", str(images), "--out", str(out), "--steps", "4",
               "--save-every", "2", *CLI_ARGS]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = "\n".join(path.read_text() for path in sorted(logs.rglob("stdout.log")))
    prints = dict(re.findall(r"rank (\d): step 4, weights fingerprint (\S+)", reports))
    assert set(prints) == {"0", "1"} and prints["0"] == prints["1"], reports
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl", "model.safetensors", "model.state.safetensors",
                                                     "samples_step4.png"]
    assert [row["step"] for row in read_metrics(out)] == [1, 2, 3, 4]  # rank 0 alone writes the history
    assert load_checkpoint(out / "model.safetensors").step == 4
