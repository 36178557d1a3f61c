"""The Forward tab in Korean: its layout texts, what its callbacks write, and its messages."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from conftest import korean_request
from ui import forward_tab, i18n
from ui.forward_tab import DEFAULT_IMAGE
from ui.schedule_controls import parse_config

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LINEAR = ("linear", 1000, 1e-4, 0.02, True, 0.008)
SHORT = ("linear", 100, 1e-4, 0.02, False, 0.008)  # leaves signal at t = T


def _view(t, compare, schedule) -> forward_tab.View:
    return forward_tab.View(t, compare, parse_config(*schedule))


def _step(t, schedule) -> forward_tab.Step:
    return forward_tab.Step(t, parse_config(*schedule))


@pytest.fixture(scope="module")
def image():
    return forward_tab.load({"path": DEFAULT_IMAGE}, 64, "colour", 0, "pad")


def test_the_tab_layout_has_no_untranslated_text():
    with gr.Blocks() as demo:
        forward_tab.build(demo)
    missing = i18n.untranslated(demo.config)
    assert not missing, "\n".join(f"{ident} {key}: {text!r}" for ident, key, text in missing)


def test_render_all_writes_korean_for_a_korean_request(image):
    out = forward_tab.render_all(image, _view(250, "cosine", LINEAR), False, korean_request())
    update, equation, stats, payload, terminal = out[1], out[4], out[5], out[7], out[8]
    assert update["label"] == "cosine 스케줄로 만든 x_250"
    assert "t = 250에서" in stats and "신호 비율 √ᾱ_t" in stats and "x_t와 x_0의 상관계수" in stats
    assert "how far" not in stats
    assert "x_{250}" in equation
    assert terminal.startswith("✅ t = T = 1000에서 이미지가 사라집니다")
    assert payload["text"]["caption"] == "x_{t} ({schedule}, 브라우저에서 합성, {ms} ms)"
    assert all(HANGUL.search(label) for label in payload["text"]["aria"])
    assert payload["labels"] == ["linear", "cosine"]


def test_render_all_stays_english_without_a_request(image):
    out = forward_tab.render_all(image, _view(250, "cosine", LINEAR), False)
    update, stats, payload, terminal = out[1], out[5], out[7], out[8]
    assert update["label"] == "x_250 under the cosine schedule"
    assert stats.startswith("| how far from pure noise | at t = 250 |")
    assert terminal.startswith("✅ At t = T = 1000 the image is gone")
    assert payload["text"]["caption"] == "x_{t} ({schedule}, composed in your browser, {ms} ms)"
    assert not any(HANGUL.search(text) for text in (update["label"], stats, terminal))


def test_the_terminal_warning_and_clean_equation_in_korean(image):
    korean = forward_tab.render_all(image, _view(0, "none", SHORT), False, korean_request())
    english = forward_tab.render_all(image, _view(0, "none", SHORT), False)
    assert korean[1]["label"] == "비교 스케줄 없음" and english[1]["label"] == "no comparison schedule"
    assert "t = T = 100에 신호가 남아 있습니다" in korean[8] and "Signal is left at t = T = 100" in english[8]
    # The same numbers in both languages.
    numbers = re.compile(r"[-+]?\d+\.\d+")
    assert numbers.findall(korean[8]) == numbers.findall(english[8])
    assert "깨끗한 이미지" in korean[4] and "clean image" in english[4]
    assert "∞" in korean[5]


def test_markov_vs_closed_table_and_messages(image):
    _, _, table, _ = forward_tab.markov_vs_closed(image, _step(40, LINEAR), korean_request())
    assert "마르코프 스텝 40번, 식 2" in table and "닫힌 형식, 식 4" in table and "표준오차" in table
    _, _, table, _ = forward_tab.markov_vs_closed(image, _step(40, LINEAR))
    assert "40 Markov steps, Eq. 2" in table and not HANGUL.search(table)
    with pytest.raises(gr.Error, match="t를 0보다 크게"):
        forward_tab.markov_vs_closed(image, _step(0, LINEAR), korean_request())
    with pytest.raises(gr.Error, match="먼저 이미지를 불러오세요"):
        forward_tab.forward(None, _step(3, LINEAR), korean_request())
    with pytest.raises(gr.Error, match="Load an image first"):
        forward_tab.forward(None, _step(3, LINEAR))
    with pytest.raises(gr.Error, match="다시 업로드하세요"):
        forward_tab.load({"url": "x"}, 64, "colour", 0, "pad", korean_request())


def test_schedule_curves_are_cached_per_language():
    configs = (parse_config(*LINEAR),)
    assert forward_tab.schedule_curves(configs, "ko") is forward_tab.schedule_curves(configs, "ko")
    assert forward_tab.schedule_curves(configs, "ko") is not forward_tab.schedule_curves(configs, "en")


def test_names_in_control_messages_are_in_the_catalogue():
    for name in ("Resolution", "Seed", "cosine offset s"):
        assert HANGUL.search(i18n.translate(name, "ko")), name
