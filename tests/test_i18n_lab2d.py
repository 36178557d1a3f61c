"""The 2-D lab in Korean: its layout texts, plots, status lines, fit table and messages follow the request's language."""

from __future__ import annotations

import json
import re

import gradio as gr
import pytest

from conftest import korean_request
from server.sessions import Session
from ui import i18n, lab2d_tab
from ui.i18n import KO as CATALOGUE
from ui.schedule_controls import build_schedule_controls, parse_config

HANGUL = re.compile(r"[\uac00-\ud7a3]")
SHORT = ("linear", 100, 1e-4, 0.02, True, 0.008)  # schedule, T, β_1, β_T, rescale, cosine s
TINY = ("linear", 20, 1e-4, 0.3, False, 0.008)    # training and sampling: T = 20 keeps them quick


def _figure(plot) -> dict:
    return json.loads(plot.plot)


def _forward(**request):
    return lab2d_tab.show_forward(lab2d_tab.ShapeForm("two_moons", None, "", 1000, 0, parse_config(*SHORT)), **request)


def _train(shape, schedule, **request):
    form = lab2d_tab.Train2DForm(60, 128, 3e-3, 0.99, 0, parse_config(*schedule))
    return list(lab2d_tab.train(shape, form, Session(), **request))


def test_every_layout_text_of_the_lab_is_translated():
    with gr.Blocks() as lab:
        lab2d_tab.build(lab, gr.State(None))
    with gr.Blocks() as schedule:  # the shared schedule picker has its own catalogue entries
        build_schedule_controls("lab")
    shared = {text for _, _, text in i18n.layout_texts(schedule.config)}
    missing = [entry for entry in i18n.untranslated(lab.config) if entry[2] not in shared]
    assert not missing, missing
    for label, value in lab2d_tab.SHAPE_CHOICES:
        assert HANGUL.search(CATALOGUE[label]) and value.isascii()


def test_forward_animation_in_korean_and_in_english():
    plot, shape = _forward(ddpm_request=korean_request())
    figure = _figure(plot)
    title = figure["layout"]["title"]["text"]
    assert HANGUL.search(title) and "1,000" in title and "100번" in title, title
    buttons = [b["label"] for b in figure["layout"]["updatemenus"][0]["buttons"]]
    assert buttons == ["▶ 재생", "▶▶ ×4", "❚❚ 일시정지"]
    names = [trace.get("name") for trace in figure["data"]]
    assert "점" in names and "몇몇 입자의 경로" in names
    frame_names = [trace.get("name") for trace in figure["layout"]["meta"]["frames"][0]["data"]]
    assert "점" in frame_names, "the animation's frames are translated too"
    assert figure["layout"]["sliders"][0]["currentvalue"]["prefix"] == "t = "

    english = _figure(_forward()[0])
    title = english["layout"]["title"]["text"]
    assert title.startswith("Forward:") and "1,000 points" in title and not HANGUL.search(title)
    assert [b["label"] for b in english["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "▶▶ ×4", "❚❚ Pause"]
    assert shape.name == "two_moons"


def test_training_status_loss_plot_sampling_and_fit_in_korean():
    _, shape = _forward()
    updates = _train(shape, TINY, ddpm_request=korean_request())
    loss_plot, status, trained = updates[-1]
    assert status.startswith("✅ **학습 완료** 스텝 60 / 60 · 손실 ") and "초당" in status, status
    loss = _figure(loss_plot)
    assert [t["name"] for t in loss["data"]] == ["손실", "평활화"]
    assert loss["layout"]["xaxis"]["title"]["text"] == "스텝"

    plot, fit = lab2d_tab.sample(trained, shape, 0, True, None, ddpm_request=korean_request())
    title = _figure(plot)["layout"]["title"]["text"]
    assert "60 스텝 학습 후" in title and "p<sub>θ</sub>" in title, title
    assert "| 점 2,000개 | 슬라이스 바서슈타인 거리 | 에너지 거리 |" in fit
    assert re.search(r"\| 비율 \| \*\*[\d.]+×\*\*", fit), fit
    assert "노이즈 플로어" in fit

    english_status = _train(shape, TINY)[-1][1]
    assert english_status.startswith("✅ **Trained** step 60 / 60 · loss ")
    _, english_fit = lab2d_tab.sample(trained, shape, 0, False, None)
    assert "| ratio |" in english_fit and not HANGUL.search(english_fit)


def test_messages_of_the_lab_in_korean():
    with pytest.raises(gr.Error, match="먼저 모델을 학습하세요"):
        lab2d_tab.sample(None, None, 0, False, None, ddpm_request=korean_request())
    with pytest.raises(gr.Error, match="먼저 모양을 고르세요"):
        _train(None, SHORT, ddpm_request=korean_request())
    with pytest.raises(gr.Error, match=r"Train the model first \(press Train\)"):
        lab2d_tab.sample(None, None, 0, False, None)
