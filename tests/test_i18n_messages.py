"""Korean for the messages of ddpm_core and server/ (by code: locale/ko), the plots' texts and the equation ↔
code panels.

The messages are produced by calling the real core with bad input, never pasted, so a message whose code or
placeholders change without its Korean fails here.
"""

from __future__ import annotations

import inspect
import json
import pickle
import re
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file
import torch

from conftest import ROOT, write_png_header
from ddpm_core.errors import Message, UserError
from ui import i18n
from ui.i18n import KO as CATALOGUE

HANGUL = re.compile(r"[\uac00-\ud7a3]")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
DIGITS = ROOT / "checkpoints" / "digits.safetensors"


def raised(call) -> UserError:
    """The coded error that `call` raises."""
    with pytest.raises(UserError) as info:
        call()
    return info.value


def korean(item) -> str:
    with i18n.language_scope("ko"):
        return i18n.message(item)


def assert_korean(item) -> str:
    """`item` (a UserError or Message) reads in Korean, with every number of its English; the Korean."""
    message = item.message if isinstance(item, UserError) else item
    english, translated = str(message), korean(item)
    assert message.code in i18n.catalogue("ko").codes, f"no Korean for {message.code}"
    assert HANGUL.search(translated), (english, translated)
    for number in NUMBER.findall(english):
        assert number in translated, (english, translated, number)
    return translated


# ---- the catalogue --------------------------------------------------------------------------------

def test_english_is_the_template_filled_and_uncoded_text_stays_as_it_is():
    from ddpm_core.schedules import make_beta_schedule

    error = raised(lambda: make_beta_schedule("linear", 0))
    assert i18n.message(error) == str(error) == "T must be an integer from 1 to 4000, got 0"
    assert error.code == "schedule.timesteps" and error.params == {"low": 1, "high": 4000, "T": 0}
    assert korean(error) == "T는 1부터 4000까지의 정수여야 합니다(입력값: 0)"
    assert korean("nothing like any core message") == "nothing like any core message"
    assert korean(ValueError("an uncoded error")) == "an uncoded error"


def test_the_regex_patterns_are_gone():
    assert not (ROOT / "ui" / "ko" / "messages.py").exists()
    assert not hasattr(i18n, "KO_MESSAGES")


# ---- real messages ---------------------------------------------------------------------------------

def _schedule():
    from ddpm_core.schedules import make_beta_schedule

    return [lambda: make_beta_schedule("nope", 10), lambda: make_beta_schedule("linear", 0),
            lambda: make_beta_schedule("linear", 2, rescale=True),
            lambda: make_beta_schedule("linear", 2, beta_end=3.0),
            lambda: make_beta_schedule("linear", 10, beta_start=-1.0, beta_end=-0.5),
            lambda: make_beta_schedule("cosine", 10, s=3.0), lambda: make_beta_schedule("linear", 10, shape=1),
            lambda: make_beta_schedule("linear", 10, rescale=1), lambda: make_beta_schedule("linear", 10, beta_end="x")]


def _sampling():
    from ddpm_core.diffusion import GaussianDiffusion
    from ddpm_core.progressive import check_steps
    from ddpm_core.sample import SampleConfig
    from ddpm_core.samplers import sampling_timesteps
    from ddpm_core.schedules import make_beta_schedule

    diffusion = GaussianDiffusion(make_beta_schedule("linear", 50))
    return [lambda: SampleConfig(steps=2000).check(1000), lambda: SampleConfig(eta=2.0).check(1000),
            lambda: SampleConfig(n=0).check(1000), lambda: SampleConfig(sampler="nope").check(1000),
            lambda: SampleConfig(seed=-1).check(1000), lambda: SampleConfig(variance="huge").check(1000),
            lambda: SampleConfig(precision="fp8").check(1000), lambda: check_steps(diffusion, [-1, 7]),
            lambda: check_steps(diffusion, []), lambda: sampling_timesteps(50, 60),
            lambda: diffusion.reverse_variance(0, torch.zeros(1), "huge")]


def _training():
    from ddpm_core.lab2d import Train2DConfig
    from ddpm_core.train import TrainConfig
    from ddpm_core.unet import UNetConfig, preset

    return [lambda: TrainConfig(preset="huge").check(), lambda: TrainConfig(batch_size=0).check(),
            lambda: TrainConfig(holdout=0.9).check(), lambda: TrainConfig(lr=5.0).check(),
            lambda: TrainConfig(precision="fp8").check(), lambda: TrainConfig(prediction="score").check(),
            lambda: Train2DConfig(steps=0).check(), lambda: Train2DConfig(lr=5.0).check(),
            lambda: Train2DConfig(batch_size=10_000).check(), lambda: Train2DConfig(ema_decay=1.0).check(),
            lambda: preset("huge", 32, 3), lambda: UNetConfig(image_size=20), lambda: UNetConfig(dropout=1.5),
            lambda: UNetConfig(base_channels=6), lambda: UNetConfig(attention_resolutions=(3,)),
            lambda: UNetConfig(num_heads=0), lambda: UNetConfig(channels=2),
            lambda: UNetConfig.from_dict({"width": 3})]


def _lab2d():
    from ddpm_core.data2d import sample_2d

    return [lambda: sample_2d("nope", 10), lambda: sample_2d("moons", 1), lambda: sample_2d("text", 10, word=" "),
            lambda: sample_2d("text", 10, word="x" * 40), lambda: sample_2d("image", 10)]


@pytest.mark.parametrize("make", [_schedule, _sampling, _training, _lab2d])
def test_core_messages_read_in_korean_with_their_numbers(make):
    for call in make():
        assert_korean(raised(call))


def test_a_name_and_a_plural_read_in_korean():
    from ddpm_core.unet import UNetConfig

    assert korean(raised(lambda: UNetConfig(num_heads=0))) == "num_heads은(는) 1 이상이어야 합니다(입력값: 0)"
    many = Message.plural("data.no_images_others", " It holds {count:,} other file, e.g. {examples}.",
                          " It holds {count:,} other files, e.g. {examples}.", count=1234, examples="a.txt")
    assert str(many) == " It holds 1,234 other files, e.g. a.txt."
    assert korean(many) == " 이미지가 아닌 파일 1,234개가 있습니다(예: a.txt)."


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
        assert_korean(raised(call))
    assert "notes.png" in korean(raised(lambda: load_image(str(text), 64)))
    assert korean(raised(lambda: load_image(bomb, 64))) == (
        "'bomb.png' 파일은 안전하게 디코딩하기에 너무 큽니다(900 MP). 한도는 40 MP입니다. 먼저 크기를 줄여 주세요.")


def _with_metadata(path: Path, change) -> Path:
    """A copy of the bundled digits checkpoint whose configuration `change` edits."""
    from safetensors import safe_open

    with safe_open(str(DIGITS), "pt") as handle:
        metadata = handle.metadata()
    config = json.loads(metadata["config"])
    change(config)
    save_file(load_file(str(DIGITS)), str(path), metadata={**metadata, "config": json.dumps(config)})
    return path


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
    typed = _with_metadata(tmp_path / "typed.safetensors", lambda c: c["model"].update(image_size="big"))
    for path in (garbage, foreign, newer, broken, tmp_path / "missing.safetensors"):
        english = raised(lambda: load_checkpoint(path))
        assert path.name in assert_korean(english)
    assert assert_korean(raised(lambda: load_checkpoint(typed))) == \
        "model.image_size은(는) int 형식이어야 합니다(입력값: 'big')"


def test_another_librarys_words_stay_out_of_the_message(tmp_path):
    """safetensors' "header too large" or zipfile's "File is not a zip file" are not ours to show."""
    from ddpm_core.checkpoints import load_checkpoint
    from server.uploads import collect_uploads

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 64)
    error = raised(lambda: load_checkpoint(junk))
    assert str(error) == "'junk.safetensors' is not a readable safetensors file (damaged, truncated, or another format)"
    assert error.__cause__ is not None  # the library's own words stay in the chain, for the logs
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip at all")
    error = raised(lambda: collect_uploads([fake], tmp_path / "out"))
    assert str(error) == "'fake.zip' is not a readable zip file (damaged, truncated, or another format)."


def test_a_message_inside_a_message_is_translated_with_it(tmp_path):
    """A checkpoint whose schedule the core refuses: the schedule's own message, in Korean, inside."""
    from ddpm_core.checkpoints import load_checkpoint

    bad = _with_metadata(tmp_path / "bad.safetensors", lambda c: c["diffusion"].update(timesteps=5000))
    error = raised(lambda: load_checkpoint(bad))
    assert error.code == "checkpoint.schedule_invalid" and isinstance(error.params["reason"], Message)
    assert str(error) == "'bad.safetensors' has an invalid schedule: T must be an integer from 1 to 4000, got 5000"
    assert korean(error) == "'bad.safetensors'의 스케줄이 올바르지 않습니다: T는 1부터 4000까지의 정수여야 합니다(입력값: 5000)"
    wide = _with_metadata(tmp_path / "wide.safetensors", lambda c: c["model"].update(num_heads=0))
    assert korean(raised(lambda: load_checkpoint(wide))) == \
        "model 설정이 올바르지 않습니다: num_heads은(는) 1 이상이어야 합니다(입력값: 0)"


def test_bad_uploads_and_zips(tmp_path):
    from server.uploads import UploadLimits, collect_uploads

    text = tmp_path / "readme.txt"
    text.write_text("hello")
    bad_zip = tmp_path / "photos.zip"
    bad_zip.write_bytes(b"PK\x03\x04 truncated")
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../evil.png", b"x")
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("notes.txt", b"x")
    images = []
    for i in range(3):
        images.append(tmp_path / f"img{i}.png")
        Image.new("RGB", (4, 4)).save(images[-1])
    calls = [lambda: collect_uploads([], tmp_path / "a"), lambda: collect_uploads([text], tmp_path / "b"),
             lambda: collect_uploads([bad_zip], tmp_path / "c"), lambda: collect_uploads([slip], tmp_path / "d"),
             lambda: collect_uploads([bad_zip, slip], tmp_path / "e"),
             lambda: collect_uploads(images, tmp_path / "f", UploadLimits(max_files=2)),
             lambda: collect_uploads(images, tmp_path / "g", UploadLimits(max_upload_bytes=10)),
             lambda: collect_uploads([empty_zip], tmp_path / "h")]
    for call in calls:
        assert_korean(raised(call))
    assert korean(raised(calls[3])) == ("'slip.zip'에 든 '../evil.png'은(는) 압축을 푸는 폴더 밖을 가리키는 경로입니다"
                                        "(절대 경로이거나 '..' 포함). 아무것도 풀지 않았습니다.")


def _digits(tmp_path) -> Path:
    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
    (folder / "bad.png").write_text("x")
    (folder / "notes.txt").write_text("x")
    return folder


def test_bad_folders(tmp_path):
    from ddpm_core.data import load_image_folder

    empty = tmp_path / "empty"
    empty.mkdir()
    others = tmp_path / "others"
    others.mkdir()
    (others / "a.txt").write_text("x")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_text("not a png")
    one = tmp_path / "one"
    one.mkdir()
    Image.new("L", (8, 8)).save(one / "a.png")
    for call in (lambda: load_image_folder(tmp_path / "missing", 16), lambda: load_image_folder(empty, 16),
                 lambda: load_image_folder(others, 16), lambda: load_image_folder(broken, 16),
                 lambda: load_image_folder(empty, 3), lambda: load_image_folder(empty, 16, channels=2),
                 lambda: load_image_folder(one / "a.png", 16), lambda: load_image_folder(one, 16, holdout=0.3,
                                                                                       split="holdout")):
        assert_korean(raised(call))
    assert korean(raised(lambda: load_image_folder(empty, 16))) == (
        "empty/ 폴더와 하위 폴더에서 이미지를 찾지 못했습니다(찾은 확장자: .png, .jpg, .jpeg, .webp, .bmp, .gif, .tif, "
        ".tiff, 대소문자 무관). 폴더가 비어 있습니다(숨김 파일은 무시합니다).")


def test_the_folder_summary_reads_in_korean_part_by_part(tmp_path):
    from ddpm_core.data import SINGLE_IMAGE_NOTICE, load_image_folder

    folder = _digits(tmp_path)
    summary = load_image_folder(folder, 16).summary()
    assert isinstance(summary, Message)
    assert str(summary).startswith("3 images from digits/ at 16×16 RGB, randomly flipped; 1 file skipped: bad.png (")
    assert str(summary).endswith("; 1 other file ignored (not an image type)")
    assert korean(summary).startswith("digits/의 이미지 3장, 16×16 RGB, 무작위 좌우 반전; 파일 1개 건너뜀: bad.png (")
    assert korean(summary).endswith("; 이미지 형식이 아닌 파일 1개 무시")
    grey = load_image_folder(folder, 16, channels=1, flip=False).summary()
    assert korean(grey).startswith("digits/의 이미지 3장, 16×16 흑백;")
    for i in range(10):
        (folder / f"empty{i}.png").write_bytes(b"")
    many = str(load_image_folder(folder, 16).summary()).split("; ")[1]
    assert many.startswith("11 files skipped: ") and many.endswith(" and 6 more")
    assert korean(load_image_folder(folder, 16).summary()).split("; ")[1].endswith(" 외 6개")
    assert assert_korean(SINGLE_IMAGE_NOTICE).startswith("이미지가 하나뿐입니다")


def test_the_held_out_share_in_the_summary(tmp_path):
    from ddpm_core.data import held_out, load_image_folder

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        Image.new("L", (8, 8), i).save(folder / f"{i}.png")
    held = sum(held_out(f"{i}.png", 0.25) for i in range(40))
    summary = load_image_folder(folder, 16, holdout=0.25, split="train").summary()
    assert f"({held} held out for evaluation)" in str(summary)
    assert f"(평가용으로 {held}장 제외)" in korean(summary)


def test_a_file_that_breaks_during_training_names_its_reason(tmp_path):
    from ddpm_core.data import load_image_folder

    folder = _digits(tmp_path)
    data = load_image_folder(folder, 16, max_in_memory_bytes=0)
    (folder / "0.png").write_bytes(b"")
    error = raised(lambda: data.dataset[0])
    assert str(error) == "0.png could not be read during training: '0.png' is empty (0 bytes)."
    assert korean(error) == "0.png 파일을 학습 중에 읽을 수 없습니다: '0.png' 파일이 비어 있습니다(0바이트)."


def test_devices_memory_settings_and_a_busy_server(monkeypatch):
    from ddpm_core.checkpoints import load_checkpoint
    from ddpm_core.devices import pick_device
    from ddpm_core.sample import SampleConfig, SamplingRun
    from server import settings
    from server.sample_process import SampleJob, SamplerPool, SamplersBusyError

    if not torch.cuda.is_available():
        assert_korean(raised(lambda: pick_device("cuda")))
    memory = raised(lambda: SamplingRun(load_checkpoint(DIGITS), SampleConfig(n=64, device="cpu"), memory_limit=1))
    assert assert_korean(memory).endswith("한 번에 최대 0장까지 가능합니다")
    pool = SamplerPool(size=2, in_process=True)
    pool._busy = 2  # both processes running another job
    busy = raised(lambda: pool.start(SampleJob(str(DIGITS), []), wait=0))
    assert isinstance(busy, SamplersBusyError) and isinstance(busy, RuntimeError)
    assert assert_korean(busy) == "이 서버에서 이미 샘플링 실행 2개가 진행 중입니다. 잠시 후 다시 시도하세요"
    monkeypatch.setenv("DDPM_DEMO", "maybe")
    assert_korean(raised(settings.demo_mode))
    monkeypatch.setenv("DDPM_SAMPLE_MEMORY_MB", "0")
    assert korean(raised(settings.sample_memory_bytes)) == "DDPM_SAMPLE_MEMORY_MB은(는) 1 이상이어야 합니다(입력값: '0')"


def test_a_message_crosses_the_process_boundary_with_its_code():
    """The sampling process sends a UserError's Message through a pipe (pickled); the page translates it."""
    from ddpm_core.sample import SampleConfig

    error = raised(lambda: SampleConfig(steps=2000).check(1000))
    sent = pickle.loads(pickle.dumps(error.message))
    assert sent == error.message and korean(sent) == korean(error)
    copied = pickle.loads(pickle.dumps(error))  # the error itself pickles too, class and code kept
    assert type(copied) is type(error) and copied.message == error.message and str(copied) == str(error)


# ---- plots -----------------------------------------------------------------------------------------

def test_figures_are_built_in_the_language_of_the_request():
    from ui import plots

    x = np.random.default_rng(0).standard_normal(1000)
    english = plots.histogram_figure(x, 250)
    assert english["layout"]["title"]["text"] == "Pixels of x<sub>250</sub> vs N(0, 1)"
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
