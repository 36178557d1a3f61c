"""The 2-D lab through gradio_client: forward animation, training, sampling, the fit metric, bad input."""

import json
import math
import re

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

LINEAR = ("linear", 1000, 1e-4, 0.02, True, 0.008)  # schedule, T, β_1, β_T, rescale, cosine s


def _figure(plot) -> dict:
    return json.loads(plot["plot"])


def _frames(plot) -> list[dict]:
    return _figure(plot)["layout"]["meta"]["frames"]


def _points(frame) -> np.ndarray:
    cloud = frame["data"][0]
    return np.stack([cloud["x"], cloud["y"]], 1)


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


def test_forward_animation_runs_from_the_shape_to_standard_normal(client):
    plot = client.predict("two_moons", None, "", 2000, 0, *LINEAR, api_name="/lab_forward")
    frames = _frames(plot)
    assert frames[0]["name"] == "0" and frames[-1]["name"] == "1000"
    steps = [int(f["name"]) for f in frames]
    assert steps == sorted(steps) and len(steps) >= 15
    start, end = _points(frames[0]), _points(frames[-1])
    assert start.shape == end.shape == (2000, 2)
    # x_T ~ N(0, I) whatever the shape: mean within 5 SE (1/√n), covariance within 5 SE (√(2/n)).
    n = len(end)
    assert np.abs(end.mean(0)).max() < 5 / math.sqrt(n)
    cov = np.cov(end.T)
    assert np.abs(np.diag(cov) - 1).max() < 5 * math.sqrt(2 / n) and abs(cov[0, 1]) < 5 / math.sqrt(n)
    # The data at t = 0 is two moons: unit scale but far from Gaussian (an empty middle).
    assert (np.linalg.norm(start, axis=1) < 0.3).mean() < 0.01 < (np.linalg.norm(end, axis=1) < 0.3).mean()
    paths = frames[-1]["data"][3]
    assert paths["x"].count(None) == 5, "five particles' Brownian paths"
    slider = _figure(plot)["layout"]["sliders"][0]
    assert [s["args"][0] for s in slider["steps"]] == [[f["name"]] for f in frames]


def test_word_and_image_shapes(client, tmp_path):
    plot = client.predict("text", None, "Hi", 1000, 0, *LINEAR, api_name="/lab_forward")
    word = _points(_frames(plot)[0])
    assert np.ptp(word[:, 0]) > np.ptp(word[:, 1])  # a word is wider than tall
    path = tmp_path / "ring.png"
    image = Image.new("RGB", (120, 120), "white")
    from PIL import ImageDraw
    ImageDraw.Draw(image).ellipse([10, 10, 110, 110], outline="black", width=8)
    image.save(path)
    plot = client.predict("image", handle_file(str(path)), "", 1000, 0, *LINEAR, api_name="/lab_forward")
    ring = np.linalg.norm(_points(_frames(plot)[0]), axis=1)
    assert ring.std() < 0.15 * ring.mean(), "points lie on the drawn ring"


@pytest.mark.parametrize("args,message", [
    (("text", None, "   ", 1000, 0), "Type a word"),
    (("two_moons", None, "", 9000, 0), "Number of points must be from 2 to 5000"),
    (("spiral", None, "", 1000, 0), "Unknown shape"),
    (("image", None, "", 1000, 0), "Upload an image"),
    (("two_moons", None, "", 1000, -1), "Seed must be from 0"),
])
def test_bad_shapes_and_settings_give_a_clear_message(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, *LINEAR, api_name="/lab_forward")
    client.predict("circles", None, "", 500, 0, *LINEAR, api_name="/lab_forward")  # still serving


def test_blank_image_has_no_dark_pixels(client, tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGB", (60, 60), "white").save(path)
    with pytest.raises(Exception, match="no dark pixels"):
        client.predict("image", handle_file(str(path)), "", 1000, 0, *LINEAR, api_name="/lab_forward")


def test_sampling_before_training_asks_to_train(client):
    client.predict("two_moons", None, "", 500, 0, *LINEAR, api_name="/lab_forward")
    with pytest.raises(Exception, match="Train the model first"):
        client.predict(0, False, api_name="/lab_sample")


@pytest.mark.parametrize("settings,message", [
    ((0, 512, 3e-3, 0.995, 0), "Steps must be from 1"),
    ((100, 512, 2.0, 0.995, 0), "learning rate must be in"),
    ((100, 512, 3e-3, 1.5, 0), "EMA decay must be in"),
])
def test_bad_training_settings(client, settings, message):
    client.predict("two_moons", None, "", 500, 0, *LINEAR, api_name="/lab_forward")
    with pytest.raises(Exception, match=message):
        client.predict(*settings, *LINEAR, api_name="/lab_train")


def test_short_training_then_sampling_flows_back_to_the_shape(client):
    short = ("linear", 100, 1e-4, 0.02, True, 0.008)  # T = 100 keeps the test quick
    client.predict("two_moons", None, "", 1000, 0, *short, api_name="/lab_forward")
    job = client.submit(800, 256, 3e-3, 0.99, 0, *short, api_name="/lab_train")
    updates = list(job)
    loss_plot, status = updates[-1]
    assert "step 800 / 800" in status
    losses = _figure(loss_plot)["data"][0]["y"]
    assert np.mean(losses[-50:]) < np.mean(losses[:50])
    plot, fit = client.predict(3, True, api_name="/lab_sample")
    frames = _frames(plot)
    assert frames[0]["name"] == "100" and frames[-1]["name"] == "0"
    assert frames[-1]["data"][4]["visible"], "the score field is drawn"
    ratio = float(re.search(r"\*\*([\d.]+)×\*\*", fit).group(1))
    floor = float(re.search(r"noise floor\) \| ([\d.]+)", fit).group(1))
    assert 0 < floor < 0.1 and ratio < 4, fit  # 800 quick steps: near the floor, if not yet at it
    generated = _points(frames[-1])
    assert (np.linalg.norm(generated, axis=1) < 0.3).mean() < 0.05, "the middle of the moons stays empty"


def test_the_animations_open_where_a_class_can_follow_them():
    """Forward opens on t = 0 (the shape, not a noise ball), plays in about PLAY_S s with a faster button beside,
    and the reverse view hides its paths until asked (legend), so the final frame shows the shape."""
    from ui import lab2d_tab, plots2d
    from ui.schedule_controls import parse_config

    plot, _shape = lab2d_tab.show_forward(lab2d_tab.ShapeForm("two_moons", None, "", 500, 0,
                                                              parse_config("linear", 200, 1e-4, 0.02, True, 0.008)))
    figure = json.loads(plot.plot)
    slider = figure["layout"]["sliders"][0]
    assert slider["active"] == 0 and slider["steps"][0]["label"] == "0"
    frames = figure["layout"]["meta"]["frames"]
    assert figure["data"][0]["x"] == frames[0]["data"][0]["x"], "the figure shows x_0 first"
    play, fast, _pause = figure["layout"]["updatemenus"][0]["buttons"]
    per_frame = play["args"][1]["frame"]["duration"]
    assert abs(per_frame * len(frames) / 1000 - plots2d.PLAY_S) < 1 and fast["args"][1]["frame"]["duration"] * 4 <= per_frame
    assert figure["data"][3]["visible"] is True and "visible" not in frames[-1]["data"][3]
    field = np.array([[0.0, 0.0, 0.0, 2.0], [1.0, 0.0, -30.0, 0.0]])
    reverse = plots2d.cloud_animation([plots2d.Frame(5, np.zeros((3, 2)), [], field)], "r", paths_shown=False)
    assert reverse["data"][3]["visible"] == "legendonly"
    arrows = reverse["data"][4]["marker"]
    assert arrows["angle"] == [0.0, -90.0]  # up; left (clockwise from up)
    assert arrows["color"] == [round(np.log10(2.0), 2), round(np.log10(30.0), 2)]  # colour: log10 |s|
    assert (arrows["cmin"], arrows["cmax"]) == plots2d.SCORE_RANGE  # one scale for every frame


def test_the_continuous_view_through_the_api(client):
    """The forward SDE, the SDE and ODE paths, flow matching and the fit against evaluations (stopped mid-way), as a
    script would drive them: each endpoint answers, and each status ends in a final state."""
    short = ("linear", 100, 1e-4, 0.02, True, 0.008)
    training = (300, 256, 3e-3, 0.99, 0, *short)
    client.predict("two_moons", None, "", 1000, 0, *short, api_name="/lab_forward")
    equation, plot, moments = client.predict(1000, *short, api_name="/lab_forward_sde")
    assert "f(x,\\,\\tau)" in equation and "| mean: exact (Eq. 4) |" in moments
    assert len(_figure(plot)["data"]) == 9
    with pytest.raises(Exception, match="Train the model first"):
        client.predict(0, 10, api_name="/lab_paths")
    list(client.submit(*training, api_name="/lab_train"))
    plot, note = client.predict(0, 10, api_name="/lab_paths")
    assert "| steps · NFE | 10 · 10 | 10 · 10 | 5 · 9 |" in note
    with pytest.raises(Exception, match="Network evaluations must be from 1 to 1000"):
        client.predict(0, 0, api_name="/lab_paths")
    flow = list(client.submit(*training, api_name="/lab_flow_train"))
    _plot, status, note = flow[-1]
    assert status.startswith("✅ **Trained with flow matching** step 300 / 300") and "S = " in note
    job = client.submit(0, api_name="/lab_fit_nfe")
    for _plot, status in job:
        if re.search(r"Measuring\*\* [1-9]\d* of", status):
            client.predict(api_name="/lab_fit_stop")
            break
    job.result(timeout=120)  # the stream's end
    plot, status = job.outputs()[-1]
    found = re.match(r"⏹ \*\*Stopped\*\* after (\d+) of \d+ points", status)
    assert found, (status, [s for _p, s in job.outputs()])
    done = int(found.group(1))
    assert done >= 1 and sum(len(t["x"]) for t in _figure(plot)["data"]) == done, "the measured points stay"
