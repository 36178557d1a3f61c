"""Korean for ddpm_core's messages (ui/ko/messages.py), the plots' texts and the equation ↔ code panels.

The messages are produced by calling the real core with bad input, never pasted, so a changed message
that its pattern no longer matches fails here.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import save_file
import torch

from conftest import write_png_header
from ui import i18n
from ui.ko import CATALOGUE, MESSAGES
from ui.ko.messages import PATTERNS

HANGUL = re.compile(r"[\uac00-\ud7a3]")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def raised(call) -> str:
    """The message of the ValueError (or core error) that `call` raises."""
    with pytest.raises((ValueError, RuntimeError)) as info:
        call()
    return str(info.value)


def korean(english: str) -> str:
    with i18n.language_scope("ko"):
        return i18n.message(english)


# ---- the patterns ---------------------------------------------------------------------------------

def test_every_pattern_compiles_and_none_matches_an_empty_message():
    assert MESSAGES is PATTERNS and len(PATTERNS) > 100
    for pattern, ko in PATTERNS:
        assert isinstance(pattern, re.Pattern)
        re.compile(pattern.pattern)
        assert not pattern.fullmatch(""), pattern.pattern
        assert pattern.groups <= 9, pattern.pattern  # message() substitutes \1 … \9
        used = {int(n) for n in re.findall(r"\\(\d)", ko)}
        assert used <= set(range(1, pattern.groups + 1)), (pattern.pattern, ko)
        assert HANGUL.search(ko), ko


def test_english_is_left_alone_and_unknown_messages_stay_english():
    message = raised(lambda: __import__("ui.schedule_controls", fromlist=["x"]).integer("x", "Seed", 0, 10))
    assert i18n.message(message) == message
    assert korean("nothing like any core message") == "nothing like any core message"


# ---- real messages ---------------------------------------------------------------------------------

def _schedule():
    from ddpm_core.schedules import make_beta_schedule

    return [lambda: make_beta_schedule("nope", 10), lambda: make_beta_schedule("linear", 0),
            lambda: make_beta_schedule("linear", 2, rescale=True),
            lambda: make_beta_schedule("cosine", 10, s=3.0), lambda: make_beta_schedule("linear", 10, shape=1)]


def _controls():
    from ui.schedule_controls import integer, number, parse_config

    return [lambda: integer("x", "Seed", 0, 10), lambda: integer(11, "Seed", 0, 10),
            lambda: integer(2.5, "Batch size", 1, 1024), lambda: number("abc", "Learning rate"),
            lambda: parse_config("nope", 1000, 1e-4, 0.02, True, 0.008),
            lambda: parse_config("linear", 5000, 1e-4, 0.02, True, 0.008)]


def _sampling():
    from ddpm_core.progressive import check_steps
    from ddpm_core.sample import SampleConfig
    from ddpm_core.schedules import make_beta_schedule
    from ddpm_core.diffusion import GaussianDiffusion

    diffusion = GaussianDiffusion(make_beta_schedule("linear", 50))
    return [lambda: SampleConfig(steps=2000).check(1000), lambda: SampleConfig(eta=2.0).check(1000),
            lambda: SampleConfig(n=0).check(1000), lambda: SampleConfig(sampler="euler").check(1000),
            lambda: SampleConfig(seed=-1).check(1000), lambda: check_steps(diffusion, [-1, 7]),
            lambda: check_steps(diffusion, [])]


def _training():
    from ddpm_core.lab2d import Train2DConfig
    from ddpm_core.train import TrainConfig

    return [lambda: TrainConfig(preset="huge").check(), lambda: TrainConfig(batch_size=0).check(),
            lambda: TrainConfig(holdout=0.9).check(), lambda: Train2DConfig(steps=0).check(),
            lambda: Train2DConfig(lr=5.0).check()]


def _lab2d():
    from ddpm_core.data2d import sample_2d

    return [lambda: sample_2d("nope", 10), lambda: sample_2d("moons", 1), lambda: sample_2d("text", 10, word=" "),
            lambda: sample_2d("text", 10, word="x" * 40), lambda: sample_2d("image", 10)]


@pytest.mark.parametrize("make", [_schedule, _controls, _sampling, _training, _lab2d])
def test_core_messages_read_in_korean_with_their_numbers(make):
    for call in make():
        english = raised(call)
        assert_korean(english)


def assert_korean(english: str) -> None:
    translated = korean(english)
    assert HANGUL.search(translated), f"no Korean for {english!r}"
    for number in NUMBER.findall(english):
        assert number in translated, (english, translated, number)


def test_bad_image_files(tmp_path):
    from ddpm_core.images import load_image

    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    bomb = write_png_header(tmp_path / "bomb.png", 30_000, 30_000)
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8), "white").save(good)
    for call in (lambda: load_image(str(text), 64), lambda: load_image(str(empty), 64),
                 lambda: load_image(str(tmp_path / "missing.png"), 64), lambda: load_image(bomb, 64),
                 lambda: load_image(str(good), 1), lambda: load_image(str(good), 64, channels=2)):
        english = raised(call)
        assert_korean(english)
    assert "notes.png" in korean(raised(lambda: load_image(str(text), 64)))


def test_bad_checkpoints(tmp_path):
    from ddpm_core.checkpoints import load_checkpoint

    garbage = tmp_path / "model.safetensors"
    garbage.write_bytes(b"\x00garbage, not a checkpoint" * 10)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    newer = tmp_path / "newer.safetensors"
    save_file({"w": torch.zeros(2)}, str(newer), metadata={"format": "ddpm-explorer", "format_version": "99"})
    broken = tmp_path / "broken.safetensors"
    save_file({"w": torch.zeros(2)}, str(broken),
              metadata={"format": "ddpm-explorer", "format_version": "1", "config": "{not json"})
    for path in (garbage, foreign, newer, broken, tmp_path / "missing.safetensors"):
        english = raised(lambda: load_checkpoint(path))
        assert_korean(english)
        assert path.name in korean(english)


def test_bad_uploads_and_zips(tmp_path):
    from server.uploads import UploadLimits, collect_uploads

    text = tmp_path / "readme.txt"
    text.write_text("hello")
    bad_zip = tmp_path / "photos.zip"
    bad_zip.write_bytes(b"PK\x03\x04 truncated")
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../evil.png", b"x")
    images = []
    for i in range(3):
        images.append(tmp_path / f"img{i}.png")
        Image.new("RGB", (4, 4)).save(images[-1])
    calls = [lambda: collect_uploads([], tmp_path / "a"), lambda: collect_uploads([text], tmp_path / "b"),
             lambda: collect_uploads([bad_zip], tmp_path / "c"), lambda: collect_uploads([slip], tmp_path / "d"),
             lambda: collect_uploads([bad_zip, slip], tmp_path / "e"),
             lambda: collect_uploads(images, tmp_path / "f", UploadLimits(max_files=2)),
             lambda: collect_uploads(images, tmp_path / "g", UploadLimits(max_upload_bytes=10))]
    for call in calls:
        assert_korean(raised(call))


def test_bad_folders_and_the_folder_summary(tmp_path):
    from ddpm_core.data import load_image_folder

    empty = tmp_path / "empty"
    empty.mkdir()
    others = tmp_path / "others"
    others.mkdir()
    (others / "a.txt").write_text("x")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_text("not a png")
    for call in (lambda: load_image_folder(tmp_path / "missing", 16), lambda: load_image_folder(empty, 16),
                 lambda: load_image_folder(others, 16), lambda: load_image_folder(broken, 16),
                 lambda: load_image_folder(empty, 3), lambda: load_image_folder(empty, 16, channels=2)):
        assert_korean(raised(call))

    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
    (folder / "bad.png").write_text("x")
    (folder / "notes.txt").write_text("x")
    for kwargs in ({}, {"channels": 1, "flip": False}):
        summary = load_image_folder(folder, 16, **kwargs).summary()
        assert_korean(summary)
        assert "digits/" in korean(summary) and "ignored" not in korean(summary) and "skipped" not in korean(summary)


def test_devices_memory_and_busy_server(monkeypatch):
    from ddpm_core.devices import pick_device

    if not torch.cuda.is_available():
        english = raised(lambda: pick_device("cuda"))
        assert_korean(english)
        assert_korean(f"{english}; present here: cpu")
    assert_korean("64 images of 128×128 would not fit in the memory one run may use here (half of what is free, "
                  "or the server's limit per run); at most 12 at once")
    assert_korean("2 sampling run(s) are going on this server already; try again in a moment")
    from server import settings

    monkeypatch.setenv("DDPM_DEMO", "maybe")
    assert_korean(raised(settings.demo_mode))


# ---- plots -----------------------------------------------------------------------------------------

def test_figures_are_built_in_the_language_of_the_request():
    from ui import plots

    x = np.random.default_rng(0).standard_normal(1000)
    english = plots.histogram_figure(x, 250)
    assert english["layout"]["title"]["text"] == "Pixel values of x<sub>250</sub> (model space) vs N(0, 1)"
    with i18n.language_scope("ko"):
        figure = plots.histogram_figure(x, 250)
        residual = plots.residual_figure(x, x, 37)
        sampling = plots.sampling_figure(np.arange(10, 0, -1), np.ones(10), np.ones(10))
    title = figure["layout"]["title"]["text"]
    assert HANGUL.search(title) and "x<sub>250</sub>" in title and "N(0, 1)" in title
    assert HANGUL.search(figure["layout"]["yaxis"]["title"]["text"])
    names = [trace["name"] for trace in residual["data"]]
    assert all(HANGUL.search(name) for name in names) and "37" in names[0]
    assert HANGUL.search(sampling["layout"]["title"]["text"])
    assert sampling["data"][0]["name"] == "x<sub>t</sub>의 표준편차"
    # nothing carried over from the Korean figures
    assert plots.histogram_figure(x, 250) == english


def test_schedule_figure_in_korean():
    from ddpm_core.diffusion import GaussianDiffusion
    from ddpm_core.schedules import make_beta_schedule
    from ui import plots

    curves = [("linear", GaussianDiffusion(make_beta_schedule("linear", 100)))]
    with i18n.language_scope("ko"):
        figure = plots.schedule_figure(plots.schedule_curves(curves), curves, 42)
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert HANGUL.search(titles[0]) and HANGUL.search(figure["layout"]["xaxis3"]["title"]["text"])
    assert any(trace.get("hovertemplate", "").startswith("linear, t=42일 때<br>") for trace in figure["data"])
    english = plots.schedule_curves(curves)
    assert english["layout"]["annotations"][0]["text"] == "β<sub>t</sub> (log scale)"


# ---- equation ↔ code panels ---------------------------------------------------------------------------

def test_each_panel_shows_the_source_of_its_functions():
    from ui import code_panels

    for key, panel in code_panels.PANELS.items():
        blocks = re.split(r"(?m)^# (.+), line (\d+)\n", code_panels.panel_code(key))
        assert blocks[0] == ""
        assert len(blocks) == 1 + 3 * len(panel.functions), key
        for (where, line, body), function in zip(zip(*[iter(blocks[1:])] * 3), panel.functions):
            function = inspect.unwrap(function)
            assert body.rstrip("\n") == textwrap.dedent(inspect.getsource(function)).rstrip("\n"), key
            assert int(line) == inspect.getsourcelines(function)[1]
            assert Path(inspect.getsourcefile(function)).as_posix().endswith(where)


def test_panel_labels_are_catalogued_and_brace_free():
    from ui import code_panels

    for key, panel in code_panels.PANELS.items():
        assert "}" not in panel.label and panel.label.startswith("Equation ↔ code: ")
        assert HANGUL.search(CATALOGUE[panel.label]), key
        assert CATALOGUE[panel.label].startswith("수식 ↔ 코드: ")
    note = code_panels.PANELS["ddpm_step"].markdown()
    assert 'class="i18n-ko"' in note and "코드는" in note and "The code computes" in note
    assert note.count(r"\epsilon_\theta(x_t, t)") == 2  # the equation in both languages


@pytest.fixture(scope="module")
def demo():
    from app import build_app

    return build_app()


def test_the_panels_are_in_the_app(demo):
    from ui import code_panels

    codes = [c["props"] for c in demo.config["components"] if c.get("type") == "code"]
    for key in code_panels.PANELS:
        shown = [props for props in codes if props.get("elem_id") == f"code-{key.replace('_', '-')}"]
        assert shown, key  # ("posterior" is in two tabs)
        for props in shown:
            assert props["value"] == code_panels.panel_code(key).rstrip("\n")  # gr.Code drops the last newline
            assert props["language"] == "python"
    labels = [str(c["props"].get("label")) for c in demo.config["components"] if c.get("type") == "accordion"]
    for panel in code_panels.PANELS.values():
        assert any(i18n._keys(label) == [panel.label] for label in labels), panel.label
    missing = [m for m in i18n.untranslated(demo.config) if "Equation" in m[2] or m[0].startswith("code#")]
    assert not missing, missing
