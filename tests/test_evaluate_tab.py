"""The Evaluate tab through gradio_client: the bound streamed and summed, Stop, progressive decoding, bad input."""

import json
import re
import time

import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from ddpm_core import evaluate
from ddpm_core.checkpoints import load_checkpoint
from ddpm_core.data import load_image_folder
from tests.conftest import ROOT

BUNDLED = "bundled:digits.safetensors"


def _inputs(key=BUNDLED, source="own", files=None, folder="assets/digits", split="all", n=4, timesteps="strata",
            strata=5, variance="beta", seed=0) -> tuple:
    return key, source, files or [], folder, split, n, timesteps, strata, variance, seed


def _decode_inputs(key=BUNDLED, source="own", files=None, folder="assets/digits", split="all", index=1,
                   steps="1000, 500, 10", samples=2, chain="100", seed=0) -> tuple:
    return key, source, files or [], folder, split, index, steps, samples, chain, seed


def _text(html) -> str:
    return re.sub(r"<[^>]+>", "", html) if isinstance(html, str) else ""


def _total(html) -> tuple[float, float]:
    found = re.search(r"([\d.]+) ± ([\d.]+) bits/dim", _text(html))
    assert found, _text(html)[:300]
    return float(found.group(1)), float(found.group(2))


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


def test_the_bound_of_the_bundled_model_matches_the_core_on_the_same_images(client):
    final = client.predict(*_inputs(n=4, strata=5, seed=3), api_name="/evaluate")
    total, error = _total(final[0])
    # The same images, t and x_t (seeded the same way) straight from the core:
    checkpoint = load_checkpoint(ROOT / "checkpoints" / "digits.safetensors")
    holdout = float(checkpoint.config["training"].get("holdout", 0.0))
    data = load_image_folder(ROOT / "assets" / "digits", 16, 1, flip=False, holdout=holdout,
                             split="holdout" if holdout else "all")
    pixels = evaluate.pick(data.dataset.pixels, 4, 3)
    run = evaluate.start(checkpoint, pixels, strata=5, seed=3)
    for _ in run:
        pass
    expected = evaluate.summarize(run.result(), 1000)
    assert total == pytest.approx(expected["bits_per_dim"], abs=1e-3)
    assert error == pytest.approx(expected["standard_error"], abs=1e-3)
    assert "Done in" in _text(final[0]) and "Where the bits go" in _text(final[0])
    for plot in final[1:4]:
        figure = json.loads(plot["plot"])
        assert figure["data"] and figure["layout"]["title"]["text"]


def test_updates_stream_while_it_runs_and_stop_ends_it(client):
    job = client.submit(*_inputs(n=8, timesteps="all"), api_name="/evaluate")
    deadline = time.monotonic() + 60
    while not any("term" in _text(o[0]) and re.search(r"term ([1-9][\d,]*) /", _text(o[0])) for o in job.outputs()) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    client.predict(api_name="/evaluate_stop")
    final = job.result(timeout=60)
    stopped = re.search(r"Stopped after ([\d,]+) of 1,000 terms", _text(final[0]))
    assert stopped and 0 < int(stopped.group(1).replace(",", "")) < 1000
    again = client.predict(*_inputs(n=1, strata=3), api_name="/evaluate")
    assert "Done in" in _text(again[0])


def test_uploaded_images_are_evaluated_and_broken_ones_named(client, tmp_path):
    good = tmp_path / "seven.png"
    Image.new("L", (40, 40), 255).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    final = client.predict(*_inputs(source="upload", files=[handle_file(good), handle_file(broken)], n=2),
                           api_name="/evaluate")
    assert "1 uploaded image; 1 skipped: broken.png" in _text(final[0])
    _total(final[0])


def test_progressive_decoding_shows_x_t_x0_and_shared_samples(client):
    html = client.predict(*_decode_inputs(steps="10, 1000, 500", samples=2), api_name="/evaluate_decode")
    heads = re.findall(r"<th>t = ([\d,]+)</th>", html)
    assert heads == ["1,000", "500", "10"]
    assert html.count("<img") == 3 * 2 + 1 + 3 * 2  # x_t and x̂_0 per t, x_0, two samples per t
    rmse = [float(v) for v in re.findall(r"<td>([\d.]+)</td>", html)]
    assert len(rmse) == 3 and rmse[0] > rmse[2]  # x̂_0 is worse from t = 1000 than from t = 10


@pytest.mark.parametrize("change, message", [
    ({"n": 0}, "less than minimum value 1"),
    ({"source": "upload"}, "Upload one or more images first"),
    ({"source": "folder", "folder": "/no/such/folder"}, "does not exist"),
    ({"key": "bundled:../README.md"}, "Choose a checkpoint from the list"),
    ({"timesteps": "some"}, "not in the list of choices"),
])
def test_bad_input_gets_a_clear_message(client, change, message):
    with pytest.raises(Exception, match=message):
        client.predict(*_inputs(**change), api_name="/evaluate")
    assert "Done in" in _text(client.predict(*_inputs(n=1, strata=3), api_name="/evaluate")[0])


@pytest.mark.parametrize("steps, message", [("0, 10", "from 1 to T = 1,000"), ("ten", "'ten' is not a step"),
                                            ("", "List the steps")])
def test_bad_decoding_steps_get_a_clear_message(client, steps, message):
    with pytest.raises(Exception, match=message):
        client.predict(*_decode_inputs(steps=steps), api_name="/evaluate_decode")


def test_uploaded_images_of_the_wrong_kind_are_converted(tmp_path):
    """A colour upload for a grey model is converted, as training converts it (file_pixels → decode_image)."""
    rgb = tmp_path / "c.jpg"
    Image.new("RGB", (30, 20), (200, 10, 10)).save(rgb)
    pixels, skipped = evaluate.file_pixels([rgb], 16, 1)
    assert pixels.shape == (1, 1, 16, 16) and not skipped and torch.unique(pixels).numel() == 1
