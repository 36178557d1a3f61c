"""The Edit tab through gradio_client (the real app and the bundled digits model) and in-process: a streamed edit that
matches the core, inpainting that keeps the known pixels, the strip and the side-by-side, Stop, the exports, a
conditional checkpoint's class, and every bad input as a clear message after which the app keeps serving."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from conftest import ROOT, korean_request, write_png_header
from ddpm_core import edit as core
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.diffusion import index_of
from ddpm_core.errors import UserError
from ddpm_core.images import to_uint8
from ddpm_core.mlp import DenoiserMLP, MLPConfig
from ddpm_core.unet import UNet, UNetConfig
from server import settings as deployment
from server.catalogue import Catalogue
from server.sessions import Session
from ui import edit_tab
from ui.edit_tab import EditForm, EditTab

BUNDLED = "bundled:digits.safetensors"
DIGITS = ROOT / "checkpoints" / "digits.safetensors"
DIGIT = str(ROOT / "assets" / "digits" / "3" / "0013.png")
SIDE = edit_tab.display_size(16)  # the mask canvas of a 16×16 model
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _editor(path: str | None) -> dict | None:
    return None if path is None else {"background": handle_file(path), "layers": [], "composite": handle_file(path)}


def _mask(layers: list[str]) -> dict:
    return {"background": None, "layers": [handle_file(p) for p in layers], "composite": None}


def _inputs(image=DIGIT, mask=None, *, key=BUNDLED, fit="pad", method="sdedit", t0=300, sampler="ddim", steps=100,
            eta=0.0, jump=2, resample=2, seed=0, class_name="", guidance=2.0) -> tuple:
    """The arguments of /edit_run, /edit_strip and /edit_methods, in the tab's form order."""
    return (key, _editor(image), mask, fit, method, t0, sampler, steps, eta, jump, resample, seed, class_name, guidance)


def _painted(path, columns=slice(SIDE // 2, None), side=SIDE) -> str:
    """A mask layer as the editor sends it: transparent, with the brush's orange where painted."""
    layer = np.zeros((side, side, 4), dtype=np.uint8)
    layer[:, columns] = (230, 159, 0, 178)
    Image.fromarray(layer, "RGBA").save(path)
    return str(path)


def _text(html) -> str:
    return re.sub(r"<[^>]+>", "", html) if isinstance(html, str) else ""


def _model_pixels(path) -> np.ndarray:
    """The tab's enlarged result brought back to the model's 16×16 pixels."""
    shown = np.asarray(Image.open(path).convert("L"))
    scale = shown.shape[0] // 16
    return shown[::scale, ::scale]


def _core(config: core.EditConfig, mask=None) -> np.ndarray:
    checkpoint = load_checkpoint(DIGITS)
    x0 = core.load_for_model(DIGIT, 16, 1)
    return to_uint8(core.edit(core.edit_model(checkpoint), checkpoint.diffusion, x0, config, mask,
                              checkpoint.prediction)[0].clamp(-1, 1))


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


# ---- through the real app ---------------------------------------------------------------------------------

def test_an_edit_streams_live_and_ends_with_the_image_the_core_makes(client):
    job = client.submit(*_inputs(t0=300, steps=100, seed=3), api_name="/edit_run")
    updates = list(job)
    final = job.result()
    assert "step 30 / 30" in _text(final[0]) and "t = 0" in _text(final[0]) and "Done: 30 steps" in _text(final[0])
    assert any("SDEdit from t₀ = 300" in _text(u[0]) for u in updates)
    expected = _core(core.EditConfig("sdedit", index_of(300), sampler="ddim", steps=100, seed=3))
    assert np.abs(_model_pixels(final[4]).astype(int) - expected).max() <= 1
    shown = [u[3] for u in updates if isinstance(u[3], str)]  # the first update shows x_t₀ of the run's noise
    checkpoint, x0 = load_checkpoint(DIGITS), core.load_for_model(DIGIT, 16, 1)
    noise, _ = core.initial_noise(x0, 3)
    x_t0 = to_uint8(core.noised(checkpoint.diffusion, x0, index_of(300), noise)[0].clamp(-1, 1))
    assert len(shown) == 1 and np.array_equal(_model_pixels(shown[0]), x_t0)


def test_t0_zero_gives_back_the_input(client):
    final = client.predict(*_inputs(t0=0), api_name="/edit_run")
    assert np.array_equal(_model_pixels(final[4]), to_uint8(core.load_for_model(DIGIT, 16, 1)[0]))


@pytest.mark.parametrize("method", ["replace", "repaint"])
def test_inpainting_keeps_the_unpainted_pixels_and_fills_the_painted(client, tmp_path, method):
    layer = _painted(tmp_path / "layer.png")  # the right half of the canvas
    job = client.submit(*_inputs(mask=_mask([layer]), method=method, t0=1000, sampler="ddpm", steps=50, seed=1),
                        api_name="/edit_run")
    updates = list(job)
    final = job.result()
    result, original = _model_pixels(final[4]), to_uint8(core.load_for_model(DIGIT, 16, 1)[0])
    assert np.array_equal(result[:, :8], original[:, :8]) and not np.array_equal(result[:, 8:], original[:, 8:])
    fill = next(u[2] for u in updates if isinstance(u[2], str))  # what is kept (grey) and filled (orange)
    with Image.open(fill) as fill:
        pixels = np.asarray(fill.convert("RGB"))
    assert (pixels[:, -4, 0].astype(int) - pixels[:, -4, 2]).min() > 50 and (pixels[:, 4, 0] == pixels[:, 4, 2]).all()


def test_the_strip_and_the_methods_side_by_side_start_from_the_same_noise(client, tmp_path):
    strip = client.predict(*_inputs(steps=50), api_name="/edit_strip")
    assert "Done: 7 runs" in _text(strip[0]) and _text(strip[5]).count("SDEdit from t₀") == 7
    assert "SDEdit from t₀ = 100" in _text(strip[5]) and "SDEdit from t₀ = 1000" in _text(strip[5])
    sides = client.predict(*_inputs(mask=_mask([_painted(tmp_path / "l.png")]), method="repaint", t0=1000, steps=20),
                           api_name="/edit_methods")
    text = _text(sides[5])
    assert "Replacement from t₀ = 1000" in text and "RePaint j = 2, r = 2 from t₀ = 1000" in text


def test_stop_ends_the_edit_within_a_step_and_the_next_edit_runs(client, tmp_path):
    layer = _painted(tmp_path / "layer.png")
    job = client.submit(*_inputs(mask=_mask([layer]), method="repaint", t0=1000, sampler="ddpm", steps=1000, jump=10,
                                 resample=20), api_name="/edit_run")
    deadline = time.monotonic() + 60
    while "step" not in _text((job.outputs() or [[""]])[-1][0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    stopped_at = time.monotonic()
    client.predict(api_name="/edit_stop")
    final = job.result()
    assert time.monotonic() - stopped_at < 10
    assert re.search(r"Stopped after [\d,]+ of [\d,]+ steps", _text(final[0]))
    assert "Done" in _text(client.predict(*_inputs(t0=100), api_name="/edit_run")[0])


def test_the_result_exports_as_png_gif_and_mp4(client):
    final = client.predict(*_inputs(t0=200, steps=100), api_name="/edit_run")
    png = client.predict(api_name="/edit_export_png")
    with Image.open(png["value"] if isinstance(png, dict) else png) as exported:
        assert exported.size == (16, 16) and np.array_equal(np.asarray(exported), _model_pixels(final[4]))
    gif = client.predict(api_name="/edit_export_gif")
    with Image.open(gif["value"] if isinstance(gif, dict) else gif) as animation:
        assert animation.n_frames == 20  # every step of 20 (at most 120 are kept)
    mp4 = client.predict(api_name="/edit_export_mp4")
    assert str(mp4["value"] if isinstance(mp4, dict) else mp4).endswith(".mp4")


def _truncated(path):
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, format="PNG")
    path.write_bytes(path.read_bytes()[:2000])


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("hello"), "not an image this app can read"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: write_png_header(p, 20000, 20000), "too large to decode safely"),
    (_truncated, "damaged or truncated"),
])
def test_images_the_other_tabs_refuse_are_refused_here_too(client, tmp_path, make, message):
    bad = tmp_path / "upload.png"
    make(bad)
    with pytest.raises(Exception, match=message):
        client.predict(*_inputs(image=str(bad)), api_name="/edit_run")
    assert "Done" in _text(client.predict(*_inputs(t0=50), api_name="/edit_run")[0])


def _full(path):
    return _painted(path, columns=slice(None))


def _small(path):
    return _painted(path, side=100)


@pytest.mark.parametrize("layers, changes, message", [
    ([], dict(method="replace"), "The mask is empty, so there is nothing to fill"),
    ([_full], dict(method="repaint"), "The mask covers the whole image, so nothing is kept"),
    ([_small], dict(method="replace"), f"The mask is 100×100 pixels but the image is {SIDE}×{SIDE}"),
    ([], dict(t0=1001), "t₀ must be a step from 0 \\(the input itself\\) to T = 1000, got 1001"),
    ([], dict(t0=-1), "got -1"),
    ([], dict(image=None), "Upload an image or draw one first"),
    ([], dict(method="repaint", t0=1000, steps=100, jump=200), "jump length j must be from 1 to the chain.s 100 steps"),
    ([], dict(class_name="8"), "Choose a class of this checkpoint"),
    ([], dict(key="upload:7"), "Choose a checkpoint from the list"),
])
def test_bad_inputs_are_explained_and_the_app_keeps_serving(client, tmp_path, layers, changes, message):
    mask = _mask([make(tmp_path / f"layer{i}.png") for i, make in enumerate(layers)])
    with pytest.raises(Exception, match=message):
        client.predict(*_inputs(mask=mask, **changes), api_name="/edit_run")
    assert "Done" in _text(client.predict(*_inputs(t0=50), api_name="/edit_run")[0])


def test_a_2d_lab_checkpoint_cannot_be_uploaded(client, tmp_path):
    mlp = DenoiserMLP(MLPConfig())
    path = save_checkpoint(tmp_path / "points.safetensors", mlp, mlp, diffusion=DiffusionConfig(timesteps=20))
    with pytest.raises(Exception, match="2-D model, not an image model"):
        client.predict(handle_file(str(path)), api_name="/edit_upload")


# ---- in-process: the tab's own methods ----------------------------------------------------------------------

def _form(**changes) -> EditForm:
    values = dict(checkpoint=BUNDLED, image={"composite": DIGIT, "background": DIGIT, "layers": []}, mask=None,
                  fit="pad", method="sdedit", t0=300, sampler="ddim", steps=50, eta=0.0, jump=2, resample=2, seed=0,
                  class_name="", guidance=2.0)
    return EditForm(**{**values, **changes})


def _run(tab: EditTab, form: EditForm, session: Session) -> list:
    return list(tab.run(form, session))


@pytest.fixture(scope="module")
def own_checkpoints(tmp_path_factory):
    """A folder of bundled checkpoints: a tiny conditional U-Net and a 2-D lab model."""
    folder = tmp_path_factory.mktemp("edit-bundled")
    torch.manual_seed(0)
    config = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                        dropout=0.0, num_classes=3)
    net = UNet(config)
    save_checkpoint(folder / "classes.safetensors", net, net, diffusion=DiffusionConfig(timesteps=20),
                    dataset={"name": "toy", "classes": ["zero", "one", "two"]})
    mlp = DenoiserMLP(MLPConfig())
    save_checkpoint(folder / "points.safetensors", mlp, mlp, diffusion=DiffusionConfig(timesteps=20))
    return EditTab(Catalogue(deployment.load(), bundled_dir=folder))


def test_a_conditional_checkpoint_offers_its_classes_and_edits_towards_one(own_checkpoints):
    tab, session = own_checkpoints, Session()
    _, t0, _, classes, guidance = tab.summary("bundled:classes.safetensors", "sdedit", session)
    assert classes.visible and [c[1] for c in classes.choices] == ["", "zero", "one", "two"] and guidance.visible
    assert t0.maximum == 20 and t0.value == 6  # SDEdit's default: 0.3 T
    for class_name in ("", "two"):
        updates = _run(tab, _form(checkpoint="bundled:classes.safetensors", t0=10, steps=20, class_name=class_name),
                       session)
        assert "Done: 10 steps" in _text(updates[-1][0])
        assert ("class two, w = 2" in _text(updates[-1][0])) == (class_name == "two")
    with pytest.raises(UserError, match="Choose a class"):
        _run(tab, _form(checkpoint="bundled:classes.safetensors", t0=10, steps=20, class_name="seven"), session)


def test_an_unconditional_checkpoint_hides_the_class_controls():
    tab = EditTab(Catalogue(deployment.load()))
    _, t0, _, classes, guidance = tab.summary(BUNDLED, "repaint", Session())
    assert not classes.visible and not guidance.visible and t0.value == 1000


def test_a_2d_lab_checkpoint_is_refused(own_checkpoints):
    with pytest.raises(UserError, match="2-D model, not an image model") as refused:
        _run(own_checkpoints, _form(checkpoint="bundled:points.safetensors"), Session())
    assert refused.value.code == "checkpoint.not_images"


def test_a_second_edit_waits_for_the_first_to_stop():
    tab, session = EditTab(Catalogue(deployment.load())), Session()
    running = tab.run(_form(t0=1000, steps=1000, sampler="ddpm"), session)
    next(running)
    with pytest.raises(UserError, match="still going"):
        _run(tab, _form(), session)
    running.close()  # the page went away: the job is stopped
    session.jobs["edit"].wait(10)
    assert not session.busy("edit")


def test_the_tab_speaks_korean():
    from ui.errors import user_errors

    tab, session = EditTab(Catalogue(deployment.load())), Session()
    updates = list(user_errors(tab.run)(_form(t0=100), session, korean_request()))
    assert HANGUL.search(_text(updates[-1][0])) and "SDEdit" in _text(updates[-1][0])
    with pytest.raises(Exception, match="마스크가 비어"):
        list(user_errors(tab.run)(_form(method="replace"), session, korean_request()))
