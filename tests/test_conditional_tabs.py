"""Class-conditional models in the Train and Evaluate tabs (issue 15): the classes read-out, the form reaching
TrainConfig, a conditional run and its Resume through the app, and the bound given each image's class against
evaluate.label_worth computed directly."""

from __future__ import annotations

import re
import tempfile
import zipfile

import numpy as np
import pytest
import torch
from gradio_client import Client
from PIL import Image

from conftest import korean_request
from ddpm_core import evaluate
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.guidance import DEFAULT_P_UNCOND
from ddpm_core.unet import UNet, UNetConfig
from server import settings as deployment
from server.catalogue import Catalogue
from server.sessions import Session
from test_train_tab import _settings, _status, _text
from ui import evaluate_tab, train_tab

LOCAL = deployment.Settings(demo=False, max_steps=1_000_000, max_image_size=128, max_batch_size=1024,
                            max_concurrent_runs=1, uploads=deployment.LOCAL_UPLOADS)
BUNDLED = "bundled:digits.safetensors"  # unconditional
CLASSES = ("cat", "dog", "owl")
TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0, num_classes=len(CLASSES))


def _save(path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (16, 16), dtype=np.uint8)).save(path)


def _class_folder(root, counts: dict[str, int], loose: int = 0):
    """One subfolder per class holding `counts[name]` images, and `loose` images in the root itself."""
    for c, (name, count) in enumerate(counts.items()):
        for i in range(count):
            _save(root / name / f"{i}.png", 100 * c + i)
    for i in range(loose):
        _save(root / f"loose{i}.png", 999 - i)
    return root


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    return _class_folder(tmp_path_factory.mktemp("data") / "pets", {"cat": 5, "dog": 5, "owl": 2})


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """Local runs go to a temporary runs/ (the catalogue reads DDPM_RUNS_DIR each time)."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("DDPM_RUNS_DIR", str(folder))
    return folder


def save_conditional_run(runs) -> str:
    """runs/classes/model.safetensors: a tiny conditional U-Net whose zero-initialised layers are randomised, so
    the label changes its prediction (a freshly initialised one would predict 0 whatever the label); its key."""
    torch.manual_seed(0)
    model = UNet(TINY).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d) and not module.weight.any():
                torch.nn.init.normal_(module.weight, std=0.05)
    save_checkpoint(runs / "classes" / "model.safetensors", model, model, diffusion=DiffusionConfig(timesteps=20),
                    step=3, training={"conditional": True, "p_uncond": 0.2, "preset": "tiny"},
                    dataset={"root": "pets", "classes": list(CLASSES), "class_counts": [5, 5, 2]})
    return "run:classes"


@pytest.fixture
def conditional_run(runs):
    return save_conditional_run(runs)


@pytest.fixture
def client(app_url):
    return Client(app_url, verbose=False)


# ---- Train: the classes read-out -------------------------------------------------------------------------

def test_the_classes_read_out_counts_each_class_and_says_what_is_left_out(tmp_path):
    data = _class_folder(tmp_path / "zoo", {"ant": 3, "bee": 1, "cow": 4}, loose=2)
    (data / "empty").mkdir()
    tab = train_tab.TrainTab(LOCAL)
    shown = tab.classes(str(data), None, True)
    heading, notices = shown.split("\n\n")
    assert heading == "**Classes** (one per subfolder): 3 classes: ant (3), bee (1), cow (4)"
    assert notices.split("\n") == [
        "- 2 images sit in zoo/ itself, beside the class folders: they have no class and are left out.",
        "- 1 class has a single image (bee): the model can only memorise it.",
        "- 1 class folder holds no images and is left out: empty."]
    assert tab.classes(str(data), None, False) == "", "nothing shown when the box is unticked"
    korean = tab.classes(str(data), None, True, korean_request())
    assert korean.startswith("**클래스** (하위 폴더마다 하나): 클래스 3개: ant (3), bee (1), cow (4)")


def test_the_bundled_digits_are_ten_classes():
    shown = train_tab.TrainTab(LOCAL).classes(train_tab.BUNDLED_DATA, None, True)
    counts = dict(re.findall(r"(\d) \(([\d,]+)\)", shown))
    assert list(counts) == [str(d) for d in range(10)] and sum(int(c) for c in counts.values()) == 1797
    assert "⚠" not in shown


def test_fewer_than_two_class_folders_is_said_clearly(tmp_path):
    tab = train_tab.TrainTab(LOCAL)
    flat = _class_folder(tmp_path / "flat", {}, loose=3)
    assert tab.classes(str(flat), None, True) == (
        "⚠️ A class-conditional model needs at least 2 class folders with images; flat/ has 0: put each class's "
        "images in a subfolder named after it, e.g. flat/cat/ and flat/dog/.")
    one = _class_folder(tmp_path / "one", {"only": 2})
    heading, problem = tab.classes(str(one), None, True).split("\n\n")
    assert heading.endswith("1 class: only (2)") and problem.startswith("⚠️ A class-conditional model needs at least 2")
    hollow = tmp_path / "hollow"
    (hollow / "x").mkdir(parents=True)
    (hollow / "y").mkdir()
    assert "The 2 class folders of hollow/ (x, y) hold no images" in tab.classes(str(hollow), None, True)
    assert tab.classes(str(tmp_path / "missing"), None, True).startswith("⚠️ '") and "does not exist" in \
        tab.classes(str(tmp_path / "missing"), None, True)
    assert "Choose the training images" in tab.classes("", None, True)


def test_the_classes_of_an_uploaded_zip_are_read_from_a_copy_that_is_removed(tmp_path, monkeypatch):
    images = _class_folder(tmp_path / "src", {"a": 2, "b": 3})
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for picture in sorted(images.rglob("*.png")):
            zf.write(picture, picture.relative_to(images).as_posix())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    shown = train_tab.TrainTab(LOCAL).classes("", [str(archive)], True)
    assert shown == "**Classes** (one per subfolder): 2 classes: a (2), b (3)"
    assert not any(scratch.iterdir()), "the extracted copy is gone"


# ---- Train: the form reaches TrainConfig ---------------------------------------------------------------------

def _form(**change) -> train_tab.TrainForm:
    values = dict(path="assets/digits", files=[], image_size=16, channels=1, preset="tiny", batch_size=8, lr=1e-3,
                  steps=5, ema_decay=0.99, seed=0, flip=False, preview_every=0, run_name="", diffusion=None)
    return train_tab.TrainForm(**(values | change))


def test_the_form_sets_conditional_and_p_uncond_of_the_train_config():
    tab = train_tab.TrainTab(LOCAL)
    config = tab.train_config(_form(conditional=True, p_uncond=0.25))
    assert config.conditional is True and config.p_uncond == 0.25
    plain = tab.train_config(_form(conditional=False, p_uncond=0))  # the hidden field's value is not this run's
    assert plain.conditional is False and plain.p_uncond == DEFAULT_P_UNCOND
    assert tab.train_config(_form()).conditional is False
    with pytest.raises(ValueError, match="p_uncond must lie strictly between 0 and 1, got 1.0"):
        tab.train_config(_form(conditional=True, p_uncond=1))


def test_the_layout_has_the_box_and_a_hidden_p_uncond():
    import gradio as gr

    with gr.Blocks() as page:
        train_tab.build(page, gr.State(None), Catalogue(LOCAL))
    props = {c["props"].get("elem_id"): c["props"] for c in page.config["components"]}
    assert props["train-conditional"]["value"] is False
    assert props["train-p-uncond"]["value"] == DEFAULT_P_UNCOND and props["train-p-uncond"]["visible"] is False
    assert (props["train-p-uncond"]["minimum"], props["train-p-uncond"]["maximum"]) == (0, 1)
    assert "train-classes" in props


def test_a_conditional_run_trains_on_the_class_folders_and_resumes(client, tmp_path, runs):
    data = str(_class_folder(tmp_path / "ab", {"a": 6, "b": 6}, loose=1))
    updates = list(client.submit(data, None, *_settings(4, preview_every=0, run="ab", conditional=True,
                                                        p_uncond=0.3), api_name="/train_start"))
    assert "Finished run ab at step 4" in _status(updates[-1]), _status(updates[-1])
    log = updates[-1][3]
    assert "2 classes: a (6), b (6)" in log and "1 image sits in ab/ itself" in log
    saved = load_checkpoint(runs / "ab" / "model.safetensors")
    assert saved.config["training"]["conditional"] is True and saved.config["training"]["p_uncond"] == 0.3
    assert saved.config["dataset"]["classes"] == ["a", "b"] and saved.model.config.num_classes == 2
    grid = np.asarray(Image.open(updates[-1][2]))  # the final preview: a column per class, four rows
    assert grid.shape[0] / grid.shape[1] == pytest.approx((4 * 18 + 2) / (2 * 18 + 2))

    resumed = list(client.submit(data, None, 6, 0, "ab", api_name="/train_resume"))
    assert "Finished run ab at step 6" in _status(resumed[-1]), _status(resumed[-1])
    again = load_checkpoint(runs / "ab" / "model.safetensors")
    assert again.step == 6 and again.config["training"]["conditional"] is True
    assert again.config["dataset"]["classes"] == ["a", "b"]
    other = str(_class_folder(tmp_path / "xy", {"x": 2, "y": 2}))  # two classes: the same network, other labels
    job = client.submit(other, None, 8, 0, "ab", api_name="/train_resume")
    with pytest.raises(Exception, match=r"learnt the classes \['a', 'b'\], but the folder now has"):
        job.result(timeout=60)
    assert "could not start" in _status(job.outputs()[-1])


def test_a_conditional_start_on_a_flat_folder_ends_on_a_final_status(client, tmp_path, runs):
    flat = str(_class_folder(tmp_path / "flat", {}, loose=3))
    job = client.submit(flat, None, *_settings(3, run="flat", conditional=True), api_name="/train_start")
    with pytest.raises(Exception, match="needs at least 2 class folders with images; flat/ has 0"):
        job.result(timeout=60)
    assert "Run flat could not start: A class-conditional model needs at least 2" in _status(job.outputs()[-1])
    assert not list(runs.glob("*/model.safetensors"))


# ---- Evaluate: the bound given each image's class ---------------------------------------------------------

def _direct_label_worth(pets, n: int, seed: int, strata: int) -> dict:
    """evaluate.label_worth of the run's checkpoint on the images the tab picks, computed with the core alone."""
    checkpoint = load_checkpoint(deployment.runs_dir() / "classes" / "model.safetensors")
    pixels, labels, _summary = evaluate.folder_labelled_pixels(pets, 16, 1, CLASSES)
    kept = evaluate.pick_indices(len(pixels), n, seed)
    bounds = []
    for given in (None, labels[kept]):
        run = evaluate.start(checkpoint, pixels[kept], strata=strata, seed=seed, labels=given)
        for _ in run:
            pass
        bounds.append(run.result())
    return evaluate.label_worth(*bounds, len(CLASSES), 16 * 16)


def _figures(html: str) -> dict[str, tuple[float, float]]:
    rows = re.findall(r"<tr><td>([^<]+)</td><td><b>(-?[\d.]+)</b> ± ([\d.]+) bits/dim</td></tr>", html)
    return {name: (float(value), float(error)) for name, value, error in rows}


def test_the_bound_given_the_class_is_the_cores_label_worth_for_the_same_seed(conditional_run, pets):
    tab = evaluate_tab.EvaluateTab(LOCAL, Catalogue(LOCAL))
    session = Session()
    try:
        updates = list(tab.evaluate(evaluate_tab.ImagesForm(conditional_run, "folder", [], str(pets), "all"),
                                    evaluate_tab.BoundForm(8, "strata", 3, "beta", 5, False, True), session))
        worth = session.state(evaluate_tab.EvaluateState).label_worth
    finally:
        session.close()
    expected = _direct_label_worth(pets, 8, 5, 3)
    assert worth == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert worth["bits_per_dim"] != 0 and worth["images"] == 8
    final = updates[-1][0]
    shown = _figures(final)
    assert shown["Bound of x₀ alone"][0] == pytest.approx(expected["unconditional"], abs=6e-5)
    assert shown["Bound given each image's class"][0] == pytest.approx(expected["conditional"], abs=6e-5)
    assert shown["The label is worth"] == pytest.approx((expected["bits_per_dim"], expected["standard_error"]),
                                                        abs=6e-5)
    assert f"log₂ 3 / 256 = {expected['ceiling']:.4f} bits/dim" in _text(final)
    assert "Done in" in _text(final) and "term 12 / 12" in _text(final), "2 × (3 strata × 2) terms"
    total = float(re.search(r"([\d.]+) ± [\d.]+ bits/dim", _text(final)).group(1))
    assert total == pytest.approx(expected["unconditional"], abs=6e-4), "the headline is the bound without labels"


def test_the_given_class_result_through_the_app(client, conditional_run, pets):
    final = client.predict(conditional_run, "folder", [], str(pets), "all", 12, "strata", 2, "beta", 1, False, True,
                           api_name="/evaluate")
    expected = _direct_label_worth(pets, 12, 1, 2)
    assert _figures(final[0])["The label is worth"][0] == pytest.approx(expected["bits_per_dim"], abs=6e-5)
    unticked = client.predict(conditional_run, "folder", [], str(pets), "all", 12, "strata", 2, "beta", 1,
                              api_name="/evaluate")
    assert "The label is worth" not in unticked[0] and "Done in" in _text(unticked[0])


def test_the_box_is_offered_for_a_conditional_checkpoint_only(conditional_run):
    tab = evaluate_tab.EvaluateTab(LOCAL, Catalogue(LOCAL))
    plain = tab.given_class_box(BUNDLED, None)
    assert plain.interactive is False and plain.value is False
    assert plain.info == "Not for this checkpoint: it was trained without class labels."
    assert tab.given_class_box(BUNDLED, None, korean_request()).info == (
        "이 체크포인트에는 쓸 수 없습니다: 클래스 레이블 없이 학습되었습니다.")
    offered = tab.given_class_box(conditional_run, None)
    assert offered.interactive is True and "3 classes (cat, dog, owl)" in offered.info


def test_the_page_starts_with_the_box_disabled_and_its_reason():
    import gradio as gr

    with gr.Blocks() as page:
        with gr.Tab("Evaluate") as item:
            evaluate_tab.build(page, gr.State(None), Catalogue(LOCAL), item)
    props = next(c["props"] for c in page.config["components"] if c["props"].get("elem_id") == "eval-given-class")
    assert props["interactive"] is False and props["value"] is False
    assert props["info"].key == "Not for this checkpoint: it was trained without class labels."  # translated


@pytest.mark.parametrize("bundled, source, message", [
    (True, "own", "trained without class labels: it has no bound given the class"),
    (False, "upload", "Uploaded images have no class"),
])
def test_the_bound_given_the_class_refuses_what_has_no_class(conditional_run, pets, tmp_path, bundled, source,
                                                             message):
    key = BUNDLED if bundled else conditional_run
    upload = str(_class_folder(tmp_path / "u", {"cat": 1}) / "cat" / "0.png")
    tab = evaluate_tab.EvaluateTab(LOCAL, Catalogue(LOCAL))
    session = Session()
    try:
        with pytest.raises(Exception, match=message):
            list(tab.evaluate(evaluate_tab.ImagesForm(key, source, [upload], str(pets), "all"),
                              evaluate_tab.BoundForm(2, "strata", 2, "beta", 0, False, True), session))
    finally:
        session.close()


def test_a_folder_with_a_class_the_checkpoint_never_learnt_is_refused(conditional_run, tmp_path):
    zoo = str(_class_folder(tmp_path / "zoo", {"cat": 2, "eel": 2}))
    tab = evaluate_tab.EvaluateTab(LOCAL, Catalogue(LOCAL))
    session = Session()
    try:
        with pytest.raises(Exception, match="classes the checkpoint never learnt: eel"):
            list(tab.evaluate(evaluate_tab.ImagesForm(conditional_run, "folder", [], zoo, "all"),
                              evaluate_tab.BoundForm(2, "strata", 2, "beta", 0, False, True), session))
    finally:
        session.close()


def test_stopping_during_the_bound_given_the_class_keeps_the_bound_without_it(conditional_run, pets, monkeypatch):
    """Stop after the first bound: the result is that bound, and says the one given the class is incomplete."""
    tab = evaluate_tab.EvaluateTab(LOCAL, Catalogue(LOCAL))
    session = Session()
    original = evaluate_tab.Evaluations.__iter__

    def stop_in_the_second(evaluation):
        for done in original(evaluation):
            if evaluation.given.done == 1:
                session.stop("evaluate")  # the job checks after each report
            yield done
    monkeypatch.setattr(evaluate_tab.Evaluations, "__iter__", stop_in_the_second)
    try:
        updates = list(tab.evaluate(evaluate_tab.ImagesForm(conditional_run, "folder", [], str(pets), "all"),
                                    evaluate_tab.BoundForm(4, "strata", 2, "beta", 0, False, True), session))
        assert session.state(evaluate_tab.EvaluateState).label_worth is None
    finally:
        session.close()
    final = _text(updates[-1][0])
    assert "Stopped after 1 of the 4 terms of the bound given the class" in final
    assert "The label is worth" not in final and re.search(r"[\d.]+ ± [\d.]+ bits/dim", final)


def test_given_class_follows_the_request_language(conditional_run, pets):
    tab = evaluate_tab.EvaluateTab(LOCAL, Catalogue(LOCAL))
    session = Session()
    try:
        updates = list(tab.evaluate(evaluate_tab.ImagesForm(conditional_run, "folder", [], str(pets), "all"),
                                    evaluate_tab.BoundForm(3, "strata", 2, "beta", 0, False, True), session,
                                    korean_request()))
    finally:
        session.close()
    final = updates[-1][0]
    assert "레이블의 가치" in final and "각 이미지의 클래스가 주어졌을 때의 상한" in final and "짝지은 비교" in final
