"""The Sample tab in Korean: the picker, the checkpoint's summary, the live view, messages and a streamed run.

The same calls without a request stay English (the tests and the bench parse "Done: N steps in X s").
"""

from __future__ import annotations

import json
import re

import gradio as gr
import numpy as np
import pytest

from conftest import ROOT, korean_request
from ddpm_core.sample import SampleConfig, describe
from server.sample_process import RunResult
from server import settings as deployment
from server.catalogue import Catalogue
from server.sessions import Session
from ui import checkpoint_view, i18n, sample_tab
from ui.i18n import KO as CATALOGUE

HANGUL = re.compile(r"[\uac00-\ud7a3]")
BUNDLED = "bundled:digits.safetensors"
DIGITS = ROOT / "checkpoints" / "digits.safetensors"


@pytest.fixture(scope="module")
def tab():
    tab = sample_tab.SampleTab(deployment.load(), Catalogue(deployment.load()))
    yield tab
    tab.pool.shutdown()


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_every_bundled_checkpoint_label_is_in_the_catalogue():
    """The picker's first labels are registered as page texts when the tab is built."""
    from app import build_app

    build_app()
    for entry in Catalogue(deployment.load()).bundled():
        assert CATALOGUE[f"{entry.name} (bundled)"] == f"{entry.name} (내장)"


def test_the_picker_is_labelled_in_the_requests_language(tab):
    session = Session()
    korean = tab.picker(BUNDLED, session, korean_request())
    english = tab.picker(BUNDLED, session)
    assert ("digits (내장)", BUNDLED) in [tuple(c) for c in korean.choices]
    assert ("digits (bundled)", BUNDLED) in [tuple(c) for c in english.choices]
    assert korean.value == english.value == BUNDLED  # the keys never change


def test_the_summary_in_korean_keeps_its_numbers(tab):
    markdown, number, variance, *_classes = tab.summary(BUNDLED, Session(), None, korean_request())
    assert HANGUL.search(markdown)
    for part in ("3,000 스텝 학습", "*digits* (이미지 1,610장, 홀드아웃 187장)", "16×16 흑백", "*tiny*",
                 "파라미터", "linear β, T = 1,000", "eps 예측"):
        assert part in markdown, part
    assert number.info == "1부터 T = 1,000까지: 스텝이 적으면 연쇄를 건너뛰며 진행합니다"
    assert isinstance(variance, dict) and variance.get("__type__") == "update"  # a trained model: σ² left as it is
    english, number, _variance, *_classes = tab.summary(BUNDLED, Session())
    assert not HANGUL.search(english) and "trained 3,000 steps on *digits* (1,610 images, 187 held out)" in english
    assert number.info == "1 to T = 1,000: fewer steps skip along the chain"
    assert tab.summary(None, None, None, korean_request())[0] == "체크포인트를 고르지 않았습니다."


def test_summary_markdown_follows_the_scope_it_runs_in():
    """The Sample and Evaluate tabs call summary_markdown from their own callbacks."""
    entry = Catalogue(deployment.load()).resolve(BUNDLED, None)
    english = checkpoint_view.summary_markdown(entry)
    with i18n.language_scope("ko"):
        korean = checkpoint_view.summary_markdown(entry)
    assert entry.summary.timesteps == 1000 and HANGUL.search(korean) and not HANGUL.search(english)
    assert "16×16 grey" in english and "16×16 흑백" in korean


def test_messages_come_in_korean(tab):
    session = Session()
    with pytest.raises(gr.Error, match="목록에서 체크포인트를 고르세요"):
        tab.summary("bundled:../README.md", session, None, korean_request())
    with pytest.raises(gr.Error, match="Choose a checkpoint from the list"):
        tab.summary("bundled:../README.md", session)
    with pytest.raises(gr.Error, match="먼저 샘플링하세요: 아직 내보낼 애니메이션이 없습니다"):
        tab.export("gif", session, korean_request())
    with pytest.raises(gr.Error, match="먼저 샘플링하세요: 아직 다운로드할 그리드가 없습니다"):
        tab.export_png(session, korean_request())
    with pytest.raises(gr.Error, match="Sample first: there is nothing to download its grid yet"):
        tab.export_png(session)
    bad = (sample_tab.SampleForm(BUNDLED, "ddim", 10, 0.0, "beta", 0, 0, "auto", True, False, False), session)
    with pytest.raises(gr.Error, match=f"이미지 수는 1부터 {tab.max_images}까지여야 합니다"):
        next(tab.sample(*bad, korean_request()))
    bad = (sample_tab.SampleForm(BUNDLED, "ddim", 10, 0.0, "beta", 2, 0, "tpu", True, False, False), session)
    with pytest.raises(gr.Error, match="장치 'tpu'은\\(는\\) 여기에 없습니다. auto, cpu"):
        next(tab.sample(*bad, korean_request()))


def test_the_tabs_layout_is_translated():
    from app import build_app

    config = build_app().config
    texts = [entry for entry in i18n.layout_texts(config) if "#sample-" in entry[0]]
    assert len(texts) > 20
    assert not [entry for entry in i18n.untranslated(config) if "#sample-" in entry[0]]
    live = next(text for ident, _, text in texts if ident == "html#sample-live")
    assert "<b>샘플링</b>을 누르세요" in live and "press <b>Sample</b>" in live


def test_the_live_view_in_both_languages():
    panels = [np.zeros((8, 8), np.uint8)] * 2
    english = sample_tab.live_html("DDIM η = 0, 100 steps", 12, 100, 880, 2.0, panels)
    with i18n.language_scope("ko"):
        korean = sample_tab.live_html(sample_tab.described(describe(SampleConfig(sampler="ddim", eta=0.0), 100)), 12, 100, 880, 2.0, panels)
    assert "step 12 / 100 · t = 880 · 6.0 steps/s · 15 s left" in _text(english)
    assert "DDIM η = 0, 100 스텝" in _text(korean)
    assert "스텝 12 / 100 · t = 880 · 초당 6.0 스텝 · 남은 시간 15초" in _text(korean)
    assert "x<sub>t</sub> (샘플)" in korean and "(the sample)" in english


def test_the_comparison_in_korean():
    result = RunResult(name="digits", description=describe(SampleConfig(), 6), kept=[], count=6,
                       final=np.zeros((8, 8), np.uint8), seconds=1.5, stopped=True, slug="ddpm", nfe=4)
    english = sample_tab.compare_html([result])
    with i18n.language_scope("ko"):
        korean = sample_tab.compare_html([result])
    assert "<b>DDPM σ² = β, 6 steps</b><br>1.50 s · 4 network evaluations (stopped)" in english
    assert "<b>DDPM σ² = β, 6 스텝</b><br>1.50초 · 신경망 평가 4회 (중지됨)" in korean
    assert "Same seed" in english and "같은 시드, 같은 스텝 수" in korean


def test_a_streamed_run_in_korean_and_in_english(tab):
    session = Session()
    inputs = (sample_tab.SampleForm(BUNDLED, "ddim", 3, 0.0, "beta", 1, 0, "auto", True, False, False), session)
    updates = list(tab.sample(*inputs, korean_request()))
    assert "시작하는 중" in updates[0][0]
    live, final, figure, _, _ = updates[-1]
    assert "완료: 3 스텝, " in _text(live) and "스텝 3 / 3 · t = 0" in _text(live) and "Done" not in live
    assert json.loads(figure.plot)["layout"]["title"]["text"].startswith("DDIM η = 0, 3 스텝: ")
    updates = list(tab.sample(*inputs))
    assert re.search(r"Done: 3 steps in [\d.]+ s", _text(updates[-1][0])) and not HANGUL.search(updates[-1][0])
    assert json.loads(updates[-1][2].plot)["layout"]["title"]["text"].startswith("DDIM η = 0, 3 steps: ")
