"""The running app through gradio_client: every named endpoint, its numbers, and bad input."""

import json
import math
import re

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from conftest import ASSETS, write_png_header
from ddpm_core.images import load_image
from ddpm_core.schedules import make_beta_schedule

LINEAR = ("linear", 1000, 1e-4, 0.02, True, 0.008)  # schedule, T, β_1, β_T, rescale, cosine s
SHAPES = str(ASSETS / "shapes.png")


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


def _loaded(client, path=SHAPES, resolution=64, colour="colour", seed=7):
    client.predict(handle_file(path), resolution, colour, seed, api_name="/load_image")
    return client


def test_named_endpoints_are_the_documented_ones(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/load_image", "/new_noise", "/views_at_t", "/forward", "/markov_vs_closed"} <= names


@pytest.mark.parametrize("t", [0, 1, 500, 1000])
def test_forward_matches_the_closed_form_computed_independently(client, t):
    _loaded(client, seed=7)
    path, info = client.predict(t, *LINEAR, api_name="/forward")
    got = np.asarray(Image.open(path)).astype(np.float64)
    # x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε with ᾱ_t a plain product and ε the seeded draw of the same shape.
    x0 = load_image(SHAPES, 64).double()
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(7)).double()
    abar = math.prod(1 - b for b in make_beta_schedule("linear", 1000, rescale=True)[:t].tolist())
    want = ((math.sqrt(abar) * x0 + math.sqrt(1 - abar) * eps).clamp(-1, 1) + 1) * 127.5
    assert np.abs(got - want.permute(1, 2, 0).numpy()).max() <= 0.5 + 1e-3  # rounding only
    assert info["t"] == t and info["alpha_bar"] == pytest.approx(abar, rel=1e-12) and info["seed"] == 7


def test_grey_and_resolution_are_honoured(client):
    _loaded(client, resolution=96, colour="grey")
    path, _ = client.predict(10, *LINEAR, api_name="/forward")
    assert np.asarray(Image.open(path)).shape in ((96, 96), (96, 96, 1))


def test_new_noise_changes_the_seed_and_x_t_but_not_x0(client):
    _loaded(client, seed=7)
    before, _ = client.predict(300, *LINEAR, api_name="/forward")
    clean_before, _ = client.predict(0, *LINEAR, api_name="/forward")
    seed = client.predict(api_name="/new_noise")
    after, info = client.predict(300, *LINEAR, api_name="/forward")
    clean_after, _ = client.predict(0, *LINEAR, api_name="/forward")
    assert info["seed"] == seed != 7
    assert not np.array_equal(np.asarray(Image.open(before)), np.asarray(Image.open(after)))
    assert np.array_equal(np.asarray(Image.open(clean_before)), np.asarray(Image.open(clean_after)))


def test_views_at_t_fill_the_equation_and_plots_with_the_numbers_of_t(client):
    _loaded(client)
    curves, histogram, equation, stats = client.predict(400, "cosine", *LINEAR, api_name="/views_at_t")
    abar = math.prod(1 - b for b in make_beta_schedule("linear", 1000, rescale=True)[:400].tolist())
    assert f"{math.sqrt(abar):.4f}" in equation and "x_{400}" in equation
    assert "at t = 400" in stats and f"{math.sqrt(abar):.4f}" in stats
    figure = json.loads(curves["plot"])
    markers = [trace for trace in figure["data"] if trace.get("mode") == "markers"]
    assert any(trace["x"] == [400] for trace in markers), "a marker sits at the current t"
    assert {trace["name"] for trace in figure["data"] if trace.get("name")} >= {"linear", "cosine"}
    bars = json.loads(histogram["plot"])["data"][0]
    assert bars["type"] == "bar"


def test_markov_chain_and_closed_form_agree_in_distribution(client):
    _loaded(client, resolution=128)
    chain, closed, table, _ = client.predict(200, *LINEAR, api_name="/markov_vs_closed")
    rows = dict(re.findall(r"\| ([^|]*?(?:Eq\. 2|Eq\. 4)) \| ([+-]?[\d.]+) \|", table))
    stds = re.findall(r"Eq\. [24] \| [+-]?[\d.]+ \| ([\d.]+) \|", table)
    n = 3 * 128 * 128
    assert len(rows) == 2 and len(stds) == 2
    for mean in rows.values():  # standardised residuals: mean 0, std 1; 5 standard errors
        assert abs(float(mean)) < 5 / math.sqrt(n)
    for std in stds:
        assert abs(float(std) - 1) < 5 * math.sqrt(0.5 / n) + 1e-4  # + the table's 4-decimal rounding
    assert np.asarray(Image.open(chain)).shape == np.asarray(Image.open(closed)).shape


# ---- bad input: a clear message, and the next request is served --------------------------------

def _truncated(path):
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, format="PNG")
    path.write_bytes(path.read_bytes()[:2000])


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_text("hello"), "not an image this app can read"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: write_png_header(p, 20000, 20000), "too large to decode safely"),
    (_truncated, "damaged or truncated"),
])
def test_bad_files_give_a_clear_message_and_the_app_keeps_serving(client, tmp_path, make, message):
    bad = tmp_path / "upload.png"
    make(bad)
    with pytest.raises(Exception, match=message):
        client.predict(handle_file(str(bad)), 64, "colour", 0, api_name="/load_image")
    _loaded(client)
    path, info = client.predict(5, *LINEAR, api_name="/forward")
    assert info["t"] == 5 and Image.open(path).size == (64, 64)


@pytest.mark.parametrize("mode,size", [("CMYK", None), ("I;16", None), ("P", None), ("RGBA", None), ("LA", None)])
def test_unusual_modes_load(client, tmp_path, mode, size):
    base = Image.new("RGB", (80, 60), (200, 40, 40))
    image = base.convert("RGBA").convert(mode) if mode != "I;16" else Image.new("I;16", (80, 60), 40000)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    image.save(path)
    _loaded(client, path=str(path))
    out, _ = client.predict(0, *LINEAR, api_name="/forward")
    assert Image.open(out).size == (64, 64)


@pytest.mark.parametrize("t,schedule,message", [
    (1001, LINEAR, "t must be from 0 to 1000"),
    (-1, LINEAR, "t must be from 0 to 1000"),
    (2.5, LINEAR, "t must be a whole number"),
    (10, ("linear", 5000, 1e-4, 0.02, True, 0.008), "T must be from 1 to 4000"),
    (10, ("linear", 0, 1e-4, 0.02, True, 0.008), "T must be from 1 to 4000"),
    (10, ("linear", 1000, 1e-4, 1.5, False, 0.008), r"must lie in \(0, 1\)"),
    (10, ("linear", 20, 1e-4, 0.02, True, 0.008), "rescaling"),
    (10, ("cosine", 1000, 1e-4, 0.02, True, -0.5), r"offset s must be in \[0, 1\]"),
    (10, ("linear", 1000, None, 0.02, True, 0.008), "β_1 must be a number"),
    ("ten", LINEAR, "t must be a whole number"),
    (10, ("exponential", 1000, 1e-4, 0.02, True, 0.008), "Unknown schedule"),
])
def test_out_of_range_settings_give_a_clear_message(client, t, schedule, message):
    _loaded(client)
    with pytest.raises(Exception, match=message):
        client.predict(t, *schedule, api_name="/forward")
    _, info = client.predict(3, *LINEAR, api_name="/forward")
    assert info["t"] == 3


def test_t_is_checked_against_the_requested_T_not_the_sliders_initial_range(client):
    _loaded(client)
    _, info = client.predict(3000, "cosine", 4000, 1e-4, 0.02, True, 0.008, api_name="/forward")
    assert info["T"] == 4000 and info["t"] == 3000


def test_out_of_range_load_settings(client):
    with pytest.raises(Exception, match="Resolution must be from 64 to 512"):
        client.predict(handle_file(SHAPES), 1024, "colour", 0, api_name="/load_image")
    with pytest.raises(Exception, match="Load an image first"):
        client.predict(3, *LINEAR, api_name="/forward")


def test_sessions_do_not_share_images(app_url, tmp_path):
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(red)
    Image.new("RGB", (64, 64), (0, 0, 255)).save(blue)
    first, second = _loaded(Client(app_url, verbose=False), str(red)), _loaded(Client(app_url, verbose=False), str(blue))
    for client, channel in ((first, 0), (second, 2)):
        path, _ = client.predict(0, *LINEAR, api_name="/forward")
        assert np.asarray(Image.open(path))[..., channel].min() == 255
