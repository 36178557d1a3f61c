"""Sampling in a child process: the same images as in this process, frames, Stop, errors, a crashed child, the pool."""

import os
import signal

import numpy as np
import pytest
import torch

from ddpm_core.animation import image_grid
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.sample import SampleConfig, SamplingRun, frame_panels
from server.sample_process import SampleJob, SamplerPool
from ddpm_core.unet import UNet, UNetConfig
from tests.conftest import ROOT

BUNDLED = str(ROOT / "checkpoints" / "digits.safetensors")  # 1,000 DDPM steps: long enough to stop or kill
LONG = SampleConfig(n=16, sampler="ddpm")

TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0)


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, UNet(TINY), UNet(TINY), diffusion=DiffusionConfig(schedule="cosine", timesteps=40),
                           step=3, dataset={"name": "noise"})


@pytest.fixture(scope="module")
def pool():
    pool = SamplerPool(1)
    yield pool
    pool.shutdown()


def _finish(pool, job: SampleJob, timeout=120):
    handle = pool.start(job)
    handle.wait(timeout)
    handle.close()
    return handle


def test_a_job_gives_the_images_and_statistics_this_process_computes(pool, checkpoint_path):
    configs = [SampleConfig(n=5, sampler="ddim", steps=8, seed=2), SampleConfig(n=5, sampler="ddpm", steps=7, seed=2)]
    handle = _finish(pool, SampleJob(str(checkpoint_path), [("a", configs[0]), ("b", configs[1])], max_frames=3))
    assert handle.error is None and [r.name for r in handle.results] == ["a", "b"]
    for config, result in zip(configs, handle.results):
        run = SamplingRun(load_checkpoint(checkpoint_path), config)
        frames = list(run.frames())
        assert np.array_equal(result.final, image_grid(frames[-1].step.prev_sample))  # same seed, same device
        assert result.count == len(frames) and not result.stopped
        kept = [index for index, _, _ in result.kept]
        every = -(-len(frames) // 3)  # ≤ 3 frames, every k-th, plus the last
        assert kept == sorted({*range(every, len(frames) + 1, every), len(frames)})
        index, t, panels = result.kept[0]
        assert t == frames[index - 1].t_prev + 1 and len(panels) == 2  # the paper's t, shown to people
        assert all(np.array_equal(a, b) for a, b in zip(panels, frame_panels(frames[index - 1])))
        np.testing.assert_allclose(result.statistics["std"], run.statistics()["std"], rtol=1e-6)


def test_live_frames_arrive_while_it_runs_and_stop_stops_it(pool):
    handle = pool.start(SampleJob(BUNDLED, [("x", LONG)], with_eps=True, live_every=0.0))
    while handle.latest is None and not handle.finished:
        handle.poll(0.5)
    frame = handle.latest
    assert frame is not None and 1 <= frame.index < 1000 and frame.count == 1000 and len(frame.panels) == 3
    assert frame.panels[0].dtype == np.uint8 and frame.panels[0].ndim == 3
    handle.stop()
    handle.wait(60)
    handle.close()
    result = handle.results[-1]
    assert handle.error is None and result.stopped and result.kept[-1][0] < 1000


def test_a_bad_job_gets_a_message_and_the_child_serves_the_next(pool, checkpoint_path, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    handle = _finish(pool, SampleJob(str(broken), [("x", SampleConfig(n=2, steps=2))]))
    assert handle.results == [] and "broken.safetensors" in str(handle.error)
    handle = _finish(pool, SampleJob(str(checkpoint_path), [("x", SampleConfig(n=2, steps=100))]))
    assert "steps must be from 1 to T = 40" in str(handle.error)
    handle = _finish(pool, SampleJob(str(checkpoint_path), [("x", SampleConfig(n=64, steps=2))], memory_limit=2**20))
    assert "would not fit in the memory one run may use here" in str(handle.error)
    assert _finish(pool, SampleJob(str(checkpoint_path), [("x", SampleConfig(n=2, steps=2))])).error is None


def test_a_child_that_dies_is_reported_and_replaced(pool, checkpoint_path):
    handle = pool.start(SampleJob(BUNDLED, [("x", LONG)], live_every=0.0))
    while handle.latest is None and not handle.finished:
        handle.poll(0.5)
    os.kill(handle.worker.process.pid, signal.SIGKILL)
    handle.wait(30)
    handle.close()
    assert "ended unexpectedly" in str(handle.error) and "killed by signal 9" in str(handle.error)
    assert _finish(pool, SampleJob(str(checkpoint_path), [("x", SampleConfig(n=2, steps=2))])).error is None


def test_a_full_pool_waits_then_refuses(pool, checkpoint_path):
    handle = pool.start(SampleJob(BUNDLED, [("x", LONG)]))
    with pytest.raises(RuntimeError, match="1 sampling run\\(s\\) are going on this server already"):
        pool.start(SampleJob(str(checkpoint_path), [("y", SampleConfig(n=2, steps=2))]), wait=0.2)
    handle.close()  # unfinished: stopped and drained in the background, then the next job gets the child
    assert _finish(pool, SampleJob(str(checkpoint_path), [("y", SampleConfig(n=2, steps=2))])).error is None
    assert handle.finished and handle.results[-1].stopped


def test_a_pool_needs_a_size():
    with pytest.raises(ValueError, match="at least one process"):
        SamplerPool(0)


def test_a_pool_of_threads_gives_the_same_images(checkpoint_path):
    """The in-process pool (for ZeroGPU Spaces) serves the same job the same way as a child process."""
    config = SampleConfig(n=4, sampler="ddim", steps=6, seed=5)
    threads = SamplerPool(1, in_process=True)
    try:
        handle = _finish(threads, SampleJob(str(checkpoint_path), [("a", config)], max_frames=2))
        again = _finish(threads, SampleJob(str(checkpoint_path), [("b", config)], max_frames=2))
    finally:
        threads.shutdown()
    frames = list(SamplingRun(load_checkpoint(checkpoint_path), config).frames())
    assert handle.error is None and again.error is None
    assert np.array_equal(handle.results[0].final, image_grid(frames[-1].step.prev_sample))
    assert np.array_equal(again.results[0].final, handle.results[0].final), "the thread serves job after job"
