"""The Train tab in Korean: its layout, the streamed status from the training thread, the data summary,
the checkpoint list, the preset estimate and its messages; the same calls without a request stay English."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from conftest import korean_request
from ddpm_core.data import SINGLE_IMAGE_NOTICE
from ddpm_core.train import CHECKPOINT_NAME, Progress, TrainingError
from PIL import Image

from ddpm_core.config import DiffusionConfig
from ddpm_core.data import load_image_folder
from server import settings as deployment
from server.sessions import Session
from ui import i18n, train_tab
from ui.i18n import KO as CATALOGUE

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LOCAL = deployment.Settings(demo=False, max_steps=1_000_000, max_image_size=128, max_batch_size=1024,
                            max_concurrent_runs=1, uploads=deployment.LOCAL_UPLOADS)
DIFFUSION = DiffusionConfig(timesteps=1000, rescale=True)


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    monkeypatch.setenv("DDPM_RUNS_DIR", str(folder))
    return folder


@pytest.mark.parametrize("demo", [False, True])
def test_the_layout_is_translatable_in_both_modes(monkeypatch, demo):
    monkeypatch.setenv("DDPM_DEMO", "1" if demo else "0")
    from server.catalogue import Catalogue

    with gr.Blocks() as page:
        train_tab.build(page, gr.State(None), Catalogue(deployment.load()))
    config = page.config
    assert not i18n.untranslated(config), i18n.untranslated(config)
    labels = {c["props"].get("elem_id"): c["props"] for c in config["components"]}
    if demo:  # the limits follow the translated key, in a form that needs no words
        assert labels["train-files"]["label"].endswith(" (≤ 500, ≤ 50 MB)")
        assert labels["train-steps"]["label"].endswith(" (≤ 2,000)")
    status = labels["train-status"]["value"]
    assert "이미지를 고르고 <b>시작</b>을 누르세요." in status and "Choose images and press <b>Start</b>." in status
    # Every preset's choice label is a catalogue key, so the page shows it in Korean.
    assert all(label in CATALOGUE and HANGUL.search(CATALOGUE[label]) for label, _ in train_tab._preset_choices())


def test_stop_and_the_empty_checkpoint_list_follow_the_request():
    tab = train_tab.TrainTab(LOCAL)
    assert _text(tab.stop(None)) == "Nothing is training in this session."
    assert _text(tab.stop(None, korean_request())) == "이 세션에서 학습 중인 것이 없습니다."
    with i18n.language_scope("ko"):
        assert train_tab._checkpoints_markdown([]).startswith("아직 체크포인트가 없습니다")


def test_the_checkpoint_list_in_korean_and_english(runs, monkeypatch):
    from server import catalogue
    from ui import checkpoint_view

    (runs / "bars").mkdir(parents=True)
    (runs / "bars" / CHECKPOINT_NAME).write_bytes(b"")
    saved = {"architecture": "unet", "step": 1234, "model": {"image_size": 16, "channels": 1},
             "training": {"preset": "tiny"}}
    monkeypatch.setattr(catalogue, "read_config", lambda path: saved)
    monkeypatch.setattr(catalogue, "_unet_parameters", lambda model: 1000)
    tab = train_tab.TrainTab(LOCAL)
    english = tab.checkpoints(Session())
    assert "| run | checkpoint |" in english and "| `bars` | step 1,234 · 16×16 grey · tiny |" in english
    korean = tab.checkpoints(Session(), korean_request())
    assert "**체크포인트** (내가 학습한 모델)" in korean and "| 실행 | 체크포인트 |" in korean
    assert "| `bars` | 스텝 1,234 · 16×16 흑백 · tiny |" in korean
    entries = tab.catalogue.runs(None)
    assert [(checkpoint_view.label(e), e.path) for e in entries] == [
        ("bars · step 1,234 · 16×16 grey · tiny (trained here)", runs / "bars" / CHECKPOINT_NAME)]
    with i18n.language_scope("ko"):  # as the Sample tab's callbacks call it
        assert checkpoint_view.label(entries[0]) == "bars · 스텝 1,234 · 16×16 흑백 · tiny (여기서 학습)"


def test_the_preset_estimate_is_in_the_pages_language(monkeypatch):
    monkeypatch.setattr(train_tab, "step_seconds", lambda *args: 0.5)  # 100 steps: 50 s
    tab = train_tab.TrainTab(LOCAL)
    english = tab.estimate("tiny", 16, 1, 8).info
    assert re.fullmatch(r"tiny: [\d.]+ M parameters · about 50 s per 100 steps here \(batch 8, 16×16 grey\)", english)
    korean = tab.estimate("tiny", 16, 3, 8, korean_request()).info
    assert re.fullmatch(r"tiny: 파라미터 [\d.]+ M개 · 이 컴퓨터에서 100 스텝에 약 50초 \(배치 8, 16×16 컬러\)", korean)
    monkeypatch.setattr(train_tab, "step_seconds", lambda *args: 36.0)  # 100 steps: 1 hour
    assert "약 60분" in tab.estimate("tiny", 16, 1, 8, korean_request()).info


def test_the_data_summary_in_korean(tmp_path):
    """The summary of a real folder (flipped, a share held out, broken and foreign files) in both languages."""
    import numpy as np
    from PIL import Image


    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(np.full((8, 8), 6 * i, np.uint8)).save(folder / f"{i:02d}.png")
    (folder / "a.png").write_bytes(b"")
    (folder / "notes.txt").write_text("not a picture")
    data = load_image_folder(folder, 16, 1, flip=True, holdout=0.25, split="train")
    summary, kept, held = data.summary(), data.num_images, data.num_held_out
    assert kept + held == 40 and held > 0
    english = train_tab.data_line(summary)
    assert english == str(summary)
    assert english.startswith(f"{kept} images from digits/ at 16×16 grey, randomly flipped ({held} held out for "
                              "evaluation); 1 file skipped: a.png") and english.endswith(
        "; 1 other file ignored (not an image type)")
    with i18n.language_scope("ko"):
        korean = train_tab.data_line(summary)
        assert korean.startswith(f"digits/의 이미지 {kept}장, 16×16 흑백, 무작위 좌우 반전 (평가용으로 {held}장 제외); "
                                 "파일 1개 건너뜀: a.png") and korean.endswith("; 이미지 형식이 아닌 파일 1개 무시")
        assert HANGUL.search(train_tab.data_line(SINGLE_IMAGE_NOTICE))
        assert train_tab.data_line("3 fake images") == "3 fake images"  # a plain text stays as it is


def _form(path, files, steps: int, run: str) -> train_tab.TrainForm:
    return train_tab.TrainForm(path, files, 16, 1, "tiny", 8, 1e-3, steps, 0.99, 0, False, 0, run, DIFFUSION)


def _start(tab, data: Path, steps: int, run: str, *request):
    session = Session()
    return session, tab.start(_form(str(data), None, steps, run), session, *request)


def test_a_run_streams_korean_status_built_outside_the_training_thread(runs, tmp_path, monkeypatch):
    """The thread reports English data lines and numbers; the stream words them in the page's language."""
    threads = []

    def fake_train(config, diffusion, data, out, *, callback, log, **_):
        threads.append(threading.current_thread().name)
        log(load_image_folder(data, 16, 1, flip=False).summary())  # what train() logs: a coded Message
        for step in range(1, config.steps + 1):
            callback(Progress(step, config.steps, 0.25, 1e-4, 0.5 * step, 80.0))
        return SimpleNamespace(step=config.steps)

    monkeypatch.setattr(train_tab, "train", fake_train)
    tab = train_tab.TrainTab(LOCAL)
    (tmp_path / "bars").mkdir()
    for i in range(24):
        Image.new("L", (8, 8), 10 * i).save(tmp_path / "bars" / f"{i}.png")
    _, updates = _start(tab, tmp_path / "bars", 30, "kor", korean_request())
    updates = list(updates)
    assert threads == ["job-train-kor"], "train() ran in the job's thread"
    first, final = _text(updates[0][1]), _text(updates[-1][1])
    assert first == "⏳ 실행 kor을(를) 시작합니다: 이미지를 읽는 중…"
    assert final.startswith("✅ 실행 kor을(를) 스텝 30에서 마쳤습니다.")
    assert "스텝 30 / 30 · 손실 0.2500 · 10.0 it/s (초당 이미지 80장) · 15초 경과 · 남은 시간 0초" in final
    assert "aria-label='학습 진행'" in updates[-1][1]
    assert updates[-1][3] == "bars/의 이미지 24장, 16×16 흑백"

    _, english = _start(tab, tmp_path / "bars", 30, "eng")
    final = _text(list(english)[-1][1])
    assert final.startswith("✅ Finished run eng at step 30;") and "step 30 / 30 · loss 0.2500" in final


def test_an_error_in_the_thread_is_reported_in_korean(runs, tmp_path, monkeypatch):
    def failing(config, diffusion, data, out, *, callback, log, **_):
        callback(Progress(1, config.steps, 1.0, 1e-4, 0.1, 80.0))
        raise TrainingError("train.loss_not_finite", "the loss became NaN or infinite at step {step}; training "
                            "stopped. The last checkpoint (step {saved}) is intact; try a lower learning rate.",
                            step=2, saved=0)

    monkeypatch.setattr(train_tab, "train", failing)
    (tmp_path / "d").mkdir()
    _, updates = _start(train_tab.TrainTab(LOCAL), tmp_path / "d", 10, "nan", korean_request())
    seen = []
    with pytest.raises(gr.Error):
        for update in updates:
            seen.append(update)
    assert _text(seen[-1][1]).startswith("❌ 실행 nan이(가) 스텝 1에서 오류로 끝났습니다: ")


@pytest.mark.parametrize("path,files,run,korean", [
    ("DATA", ["x.png"], "a", "폴더 경로를 입력하거나 파일을 업로드하세요"),
    ("", None, "a", "학습할 이미지를 고르세요"),
    ("DATA", None, "../escape", "실행 이름은 글자, 숫자"),
])
def test_ui_messages_are_korean(runs, tmp_path, path, files, run, korean):
    (tmp_path / "d").mkdir()
    path = str(tmp_path / "d") if path == "DATA" else path
    tab = train_tab.TrainTab(LOCAL)
    arguments = (_form(path, files, 10, run), Session())
    with pytest.raises(gr.Error, match=korean):
        list(tab.start(*arguments, korean_request()))
    with pytest.raises(gr.Error) as english:
        list(tab.start(*arguments))
    assert not HANGUL.search(str(english.value))


def test_resume_messages_are_korean(runs):
    tab = train_tab.TrainTab(LOCAL)
    with pytest.raises(gr.Error, match="실행 'never'에는 이어서 학습할 체크포인트가 없습니다"):
        list(tab.resume(train_tab.ResumeForm("", None, 10, 0, "never"), Session(), korean_request()))
