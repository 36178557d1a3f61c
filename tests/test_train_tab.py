"""The Train tab through gradio_client: a short run, bad input, Stop and Resume, and demo mode's limits."""

import json
import re
import shutil
import time
import zipfile

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from ddpm_core.checkpoints import load_checkpoint
from ddpm_core.metrics import read_metrics
from tests.conftest import ROOT, free_port
from server import settings as deployment
from server.catalogue import Catalogue
from ui import checkpoint_view

SCHEDULE = ("linear", 1000, 1e-4, 0.02, True, 0.008)  # schedule, T, β_1, β_T, rescale, cosine s


def _settings(steps: int, preview_every: int = 10, run: str = "", size: int = 16, channels: int = 1,
              preset: str = "tiny", batch: int = 8, conditional: bool = False, p_uncond: float = 0.1,
              lr_cosine: bool = False) -> tuple:
    """The /train_start arguments after the data: size … run name, the schedule, then class-conditional, p_uncond and
    the cosine decay."""
    return (size, channels, preset, batch, 1e-3, steps, 0.99, 0, False, preview_every, run, *SCHEDULE, conditional,
            p_uncond, lr_cosine)


def _images(folder, n: int = 24):
    """Small grey pictures: a bright bar at varying positions (distinct, trivially learnable)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = np.zeros((16, 16), np.uint8)
        pixels[3:13, 1 + i % 10:5 + i % 10] = 255
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    return folder


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def _status(update) -> str:
    return _text(update[1]) if isinstance(update[1], str) else ""


def _wait_for(job, pattern: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(re.search(pattern, _status(update)) for update in job.outputs()):
            return
        if job.done():
            break
        time.sleep(0.1)
    raise AssertionError(f"no status matched {pattern!r}: {[_status(u) for u in job.outputs()][-3:]}")


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """Local runs go to a temporary runs/ (DDPM_RUNS_DIR is read when a run starts)."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("DDPM_RUNS_DIR", str(folder))
    return folder


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


def test_short_run_streams_loss_and_previews_and_saves_a_loadable_checkpoint(client, tmp_path, runs):
    data = _images(tmp_path / "bars")
    updates = list(client.submit(str(data), None, *_settings(30, run="bars-30"), api_name="/train_start"))
    final = _status(updates[-1])
    assert "Finished run bars-30 at step 30" in final and "step 30 / 30" in final, final
    assert re.search(r"[\d.]+ it/s \([\d,]+ images/s\) · .* ETA", final)
    assert updates[-1][3].startswith("24 images from bars/ at 16×16 grey")
    losses = json.loads(updates[-1][0]["plot"])["data"]
    assert [trace["name"] for trace in losses] == ["loss", "smoothed"] and losses[0]["x"] == list(range(1, 31))
    streamed = [u for u in updates if "Training run bars-30" in _status(u)]
    assert streamed, "the stream reported progress while training"
    previews = [u[2] for u in updates if isinstance(u[2], str)]
    assert previews, "a preview grid arrived"
    grid = np.asarray(Image.open(previews[-1]))
    assert grid.shape[0] == grid.shape[1] >= 4 * 16 and grid.std() > 0
    checkpoint = load_checkpoint(runs / "bars-30" / "model.safetensors")
    assert checkpoint.step == 30 and checkpoint.config["training"]["image_size"] == 16
    assert checkpoint.config["training"]["channels"] == 1 and checkpoint.config["training"]["flip"] is False
    listing = client.predict(api_name="/train_checkpoints")
    assert "`bars-30` | step 30 · 16×16 grey · tiny" in listing
    entries = Catalogue(deployment.load()).runs(None)  # local mode: the runs folder (DDPM_RUNS_DIR)
    assert [(checkpoint_view.label(e), e.path) for e in entries] == [
        ("bars-30 · step 30 · 16×16 grey · tiny (trained here)", runs / "bars-30" / "model.safetensors")]


def test_the_cosine_switch_decays_the_learning_rate_to_zero(client, tmp_path, runs):
    data = _images(tmp_path / "bars")
    settings = _settings(204, preview_every=0, run="cos", batch=4, lr_cosine=True)
    assert "Finished run cos at step 204" in _status(list(client.submit(str(data), None, *settings,
                                                                        api_name="/train_start"))[-1])
    assert load_checkpoint(runs / "cos" / "model.safetensors").config["training"]["lr_decay"] == "cosine"
    rates = [row["lr"] for row in read_metrics(runs / "cos")]  # the tab warms up over 200 steps, then 4 of cosine
    expected = [1e-3 * (s + 1) / 200 for s in range(200)] + [1e-3 * (1 + np.cos(np.pi * k / 4)) / 2 for k in range(4)]
    assert rates == pytest.approx(expected)
    settings = _settings(2, preview_every=0, run="constant", batch=4)
    list(client.submit(str(data), None, *settings, api_name="/train_start"))
    assert load_checkpoint(runs / "constant" / "model.safetensors").config["training"]["lr_decay"] == "constant"


@pytest.mark.parametrize("contents,message", [
    ({}, r"No images found in empty/.*The folder is empty"),
    ({"notes.txt": "no pictures"}, r"No images found in empty/.*It holds 1 other file, e.g. notes.txt"),
    (None, "'.*missing' does not exist"),
])
def test_a_folder_without_images_gives_a_clear_message(client, tmp_path, runs, contents, message):
    folder = tmp_path / ("missing" if contents is None else "empty")
    if contents is not None:
        folder.mkdir()
        for name, text in contents.items():
            (folder / name).write_text(text)
    with pytest.raises(Exception, match=message):
        client.predict(str(folder), None, *_settings(5), api_name="/train_start")
    assert not list(runs.glob("*/model.safetensors")), "nothing saved"


@pytest.mark.parametrize("change,message", [
    (dict(size=200), "Image size must be from 16 to 128"),
    (dict(size=20, preset="base"), "image_size 20 is not supported with 4 levels: it must be .* a multiple of 8"),
    (dict(channels=2), "Channels must be 1 .grey. or 3"),
    (dict(preset="huge"), "Unknown preset 'huge'"),
    (dict(steps=0), "Steps must be from 1"),
    (dict(run="../escape"), "A run name is 1–64 letters"),
    (dict(batch=0), "Batch size must be from 1"),
])
def test_bad_settings_get_a_clear_message(client, tmp_path, runs, change, message):
    arguments = dict(steps=5) | change
    with pytest.raises(Exception, match=message):
        client.predict(str(_images(tmp_path / "d", 4)), None, *_settings(**arguments), api_name="/train_start")


def test_no_images_chosen_and_both_kinds_chosen(client, tmp_path, runs):
    with pytest.raises(Exception, match="Choose the training images"):
        client.predict("", None, *_settings(5), api_name="/train_start")
    picture = _images(tmp_path / "d", 1) / "00.png"
    with pytest.raises(Exception, match="not both"):
        client.predict(str(tmp_path / "d"), [handle_file(str(picture))], *_settings(5), api_name="/train_start")


def test_stop_saves_mid_run_and_resume_continues_to_the_requested_step(client, app_url, tmp_path, runs):
    data = str(_images(tmp_path / "bars"))
    job = client.submit(data, None, *_settings(5000, preview_every=0, run="long"), api_name="/train_start")
    _wait_for(job, r"step \d+ / 5,000")
    started = time.perf_counter()
    other = Client(app_url, verbose=False).predict(api_name="/train_checkpoints")
    assert time.perf_counter() - started < 3 and "checkpoints" in other.lower(), "other events answer during training"
    stopping = client.predict(api_name="/train_stop")
    assert "Stopping" in _text(stopping)
    job.result(timeout=60)
    final = _status(job.outputs()[-1])
    stopped_at = int(re.search(r"Stopped at step ([\d,]+); checkpoint saved — press Resume", final)
                     .group(1).replace(",", ""))
    assert 0 < stopped_at < 5000
    assert load_checkpoint(runs / "long" / "model.safetensors").step == stopped_at
    with pytest.raises(Exception, match="already has a checkpoint"):
        client.predict(data, None, *_settings(10, run="long"), api_name="/train_start")

    target = stopped_at + 15
    updates = list(client.submit(data, None, target, 5, "long", api_name="/train_resume"))
    assert f"Finished run long at step {target:,}" in _status(updates[-1])
    losses = json.loads(updates[-1][0]["plot"])["data"][0]["x"]
    assert losses == list(range(1, target + 1)), "the curve shows the whole history, resumed part and all"
    from ddpm_core.metrics import read_metrics
    saved = read_metrics(runs / "long")
    assert [row["step"] for row in saved] == losses and all(row["lr"] > 0 for row in saved)
    assert all(a["wall_s"] <= b["wall_s"] for a, b in zip(saved, saved[1:])), "wall time continues, not restarts"
    assert load_checkpoint(runs / "long" / "model.safetensors").step == target
    with pytest.raises(Exception, match=f"already at step {target:,}"):
        client.predict(data, None, target, 5, "long", api_name="/train_resume")
    with pytest.raises(Exception, match="has no checkpoint to resume"):
        client.predict(data, None, 10, 5, "never-trained", api_name="/train_resume")


def test_an_error_mid_run_shows_where_it_stopped_then_the_message(client, tmp_path, runs, monkeypatch):
    from ddpm_core.train import Progress, TrainingError

    def failing(config, diffusion, data, out, *, callback, log, **_):
        log("3 fake images")
        for step in range(1, 4):
            callback(Progress(step, config.steps, 1.0, 1e-4, 0.1 * step, 80.0))
        raise TrainingError("train.loss_not_finite", "the loss became NaN or infinite at step {step}; training "
                            "stopped. The last checkpoint (step {saved}) is intact; try a lower learning rate.",
                            step=4, saved=0)

    monkeypatch.setattr("ui.train_tab.train", failing)  # the app runs in this process
    job = client.submit(str(_images(tmp_path / "d", 2)), None, *_settings(10, run="nan"), api_name="/train_start")
    with pytest.raises(Exception, match="the loss became NaN or infinite at step 4"):
        job.result(timeout=30)
    assert "Run nan ended with an error at step 3: the loss became NaN" in _status(job.outputs()[-1])
    assert job.outputs()[-1][3] == "3 fake images"


def test_ending_a_session_stops_its_run_and_deletes_its_folder():
    from server.jobs import Job, State
    from server.sessions import Session, end_session

    session = Session()
    (session.folder / "uploads").mkdir(parents=True)

    def work(job):  # a run that goes on until it is asked to stop
        while not job.stopping:
            time.sleep(0.01)
    job = session.start("train", Job("train", work))
    end_session(session)
    assert job.wait(5) and job.outcome.state is State.STOPPED
    deadline = time.monotonic() + 5
    while session.folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not session.folder.exists()


def test_stop_with_nothing_training_says_so(client):
    assert _text(client.predict(api_name="/train_stop")) == "Nothing is training in this session."


# ---- demo mode ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_app():
    """A second app instance built with DDPM_DEMO=1, as on Hugging Face Spaces."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DDPM_DEMO", "1")
        from app import build_app, launch_options

        demo = build_app().queue(default_concurrency_limit=4)
        _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                quiet=True, **launch_options())
    demo.demo_url = url.rstrip("/")
    started = time.time()
    yield demo
    demo.close()
    from server.settings import sessions_dir

    for folder in sessions_dir().glob("*"):  # the sessions' temporary folders (a closed tab's go after an hour)
        if folder.stat().st_mtime >= started:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_url(demo_app):
    return demo_app.demo_url


def test_demo_mode_has_no_path_field_and_limits_concurrent_runs(demo_app):
    import httpx

    from server.settings import default_max_runs

    components = httpx.get(f"{demo_app.demo_url}/config").json()["components"]
    path = next(c for c in components if c["props"].get("elem_id") == "train-path")
    assert path["props"]["visible"] is False, "not rendered in demo mode"
    runs = [fn for fn in demo_app.fns.values() if fn.api_name in ("train_start", "train_resume")]
    assert len(runs) == 2 and all(fn.concurrency_id == "train" for fn in runs), "Start and Resume share one limit"
    assert all(fn.concurrency_limit == default_max_runs() for fn in runs)


def test_demo_mode_refuses_a_folder_path_and_caps_runs(demo_url, tmp_path):
    client = Client(demo_url, verbose=False)
    with pytest.raises(Exception, match="uploaded images only; a folder path is not accepted"):
        client.predict(str(_images(tmp_path / "d", 2)), None, *_settings(5), api_name="/train_start")
    picture = handle_file(str(_images(tmp_path / "e", 1) / "00.png"))
    with pytest.raises(Exception, match="Steps must be from 1 to 2000"):
        client.predict("", [picture], *_settings(5000), api_name="/train_start")
    with pytest.raises(Exception, match="Image size must be from 16 to 64"):
        client.predict("", [picture], *_settings(5, size=128), api_name="/train_start")


def test_demo_mode_refuses_a_hostile_zip_and_trains_on_good_uploads_in_its_own_session(demo_url, tmp_path):
    from server.settings import sessions_dir

    started = time.time()
    client = Client(demo_url, verbose=False)
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.write(_images(tmp_path / "d", 1) / "00.png", "../../evil.png")
    with pytest.raises(Exception, match=r"'slip.zip' contains '../../evil.png', a path outside the folder"):
        client.predict("", [handle_file(str(slip))], *_settings(5), api_name="/train_start")
    assert not (tmp_path / "evil.png").exists()

    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for picture in sorted(_images(tmp_path / "bars", 12).iterdir()):
            zf.write(picture, f"set/{picture.name}")
    extra = handle_file(str(_images(tmp_path / "more", 3) / "00.png"))
    updates = list(client.submit("", [handle_file(str(good)), extra], *_settings(12, run="mine"),
                                 api_name="/train_start"))
    assert "Finished run mine at step 12" in _status(updates[-1])
    assert "mine/model.safetensors" in updates[-1][1] and str(tmp_path) not in updates[-1][1], "no server paths"
    assert updates[-1][3].startswith("13 images from uploads/")
    assert "`mine` | step 12" in client.predict(api_name="/train_checkpoints")
    saved = [p for p in sessions_dir().glob("*/runs/mine/model.safetensors") if p.stat().st_mtime >= started]
    assert len(saved) == 1, "the run lives in the session's own temporary folder"
    copies = [p for p in sessions_dir().glob("*/uploads") if p.stat().st_mtime >= started]
    assert copies == [], "uploaded copies are deleted once a run ends or fails to start"
    stranger = Client(demo_url, verbose=False)
    assert "No checkpoints yet" in stranger.predict(api_name="/train_checkpoints"), "sessions don't see each other"
    with pytest.raises(Exception, match="Run 'mine' has no checkpoint"):
        stranger.predict("", [extra], 20, 5, "mine", api_name="/train_resume")


def test_demo_mode_refuses_files_not_uploaded_by_the_user(demo_url):
    """A raw API call naming a server file (here a bundled asset) instead of an upload is refused by Gradio."""
    import httpx

    forged = {"path": str(ROOT / "assets" / "cat.jpg"), "meta": {"_type": "gradio.FileData"}}
    call = httpx.post(f"{demo_url}/gradio_api/call/train_start", json={"data": ["", [forged], *_settings(5)]})
    event_id = call.json()["event_id"]
    stream = httpx.get(f"{demo_url}/gradio_api/call/train_start/{event_id}", timeout=30).text
    # The server logs "Cannot move … because it was not uploaded by a user"; the page gets a bare error.
    assert "event: error" in stream and "Finished" not in stream and "Training run" not in stream
