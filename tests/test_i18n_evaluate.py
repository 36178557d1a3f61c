"""The Evaluate tab in Korean: its layout texts, the streamed status, plot titles, the decoding table and messages
follow the request's language."""

from __future__ import annotations

import dataclasses
import json
import re

import gradio as gr
import pytest

from conftest import korean_request
from server import settings as deployment
from server.catalogue import Catalogue
from server.sessions import Session
from ui import evaluate_tab, i18n
from ui.i18n import KO as CATALOGUE

HANGUL = re.compile(r"[\uac00-\ud7a3]")
BUNDLED = "bundled:digits.safetensors"


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


class OneEntryCatalogue(Catalogue):
    """The real catalogue, but whose picker lists one entry labelled with a catalogue text (to see its language)."""

    def entries(self, session, images_only=True):
        return [dataclasses.replace(entry, name=i18n._("Upload one or more images first."))
                for entry in super().entries(session, images_only) if entry.key == BUNDLED]


@pytest.fixture(scope="module")
def tab():
    return evaluate_tab.EvaluateTab(deployment.load(), OneEntryCatalogue(deployment.load()))


def _evaluate(tab, *request, n=1, source="own", files=None):
    session = Session()
    try:
        return list(tab.evaluate(evaluate_tab.ImagesForm(BUNDLED, source, files or [], "assets/digits", "all"),
                                 evaluate_tab.BoundForm(n, "strata", 3, "beta", 0, False), session, *request))
    finally:
        session.close()


def _decode(tab, session, steps, *request):
    return list(tab.decode(evaluate_tab.ImagesForm(BUNDLED, "own", [], "", "all"),
                           evaluate_tab.DecodeForm(1, steps, 1, "100", 0), session, *request))


def test_every_layout_text_of_the_tab_is_translated():
    with gr.Blocks() as demo:
        with gr.Tab("Evaluate") as item:
            evaluate_tab.build(demo, gr.State(None), Catalogue(deployment.load()), item)
    ours = [entry for entry in i18n.layout_texts(demo.config) if "#eval-" in entry[0]]
    assert len(ours) > 20
    missing = [entry for entry in i18n.untranslated(demo.config) if "#eval-" in entry[0]]
    assert not missing, missing
    # The progressive-decoding accordion and its explanation are the tab's too, and named.
    kinds = {c["props"].get("elem_id"): c["type"] for c in demo.config["components"]}
    assert kinds["eval-decoding"] == "accordion" and kinds["eval-decoding-intro"] == "markdown"
    for label in ("Its own held-out data (bundled model)", "Two t per stratum (faster)", "σₜ² = βₜ (paper)",
                  "its held-out share", "at most 100 (respaced)"):
        assert HANGUL.search(CATALOGUE[label])


def test_status_lines_in_korean_and_in_english():
    summary = {"bits_per_dim": 1.23456, "standard_error": 0.0412, "images": 1, "terms_per_image": 6,
               "exact": False, "prior_L_T": 1e-5, "kl_terms": 1.1, "decoder_L_0": 0.13,
               "bands": [{"from": 1, "to": 1, "share": 0.1}, {"from": 2, "to": 1000, "share": 0.9}]}
    english = _text(evaluate_tab.status_html(3, 6, 1.5, summary, "note"))
    assert "term 3 / 6" in english and "1.235 ± 0.041 bits/dim" in english and "Where the bits go" in english
    assert "1 image · 6 sampled t per image" in english and not HANGUL.search(english)
    with i18n.language_scope("ko"):
        korean = _text(evaluate_tab.status_html(3, 6, 1.5, summary, "note"))
        running = _text(evaluate_tab.status_html(1, 1000, 2.0, None, ""))
    assert "항 3 / 6" in korean and "1.235 ± 0.041 비트/차원" in korean and "비트가 쓰이는 곳" in korean
    assert "이미지 1장" in korean and "샘플링한 t 6개" in korean and "표준오차" in korean
    assert "t 2–1,000: 90%" in korean and "bits" not in korean and "term" not in korean
    assert "항 1 / 1,000" in running and "남은 시간 1998초" in running


def test_an_evaluation_streams_in_the_request_language(tab):
    korean = _evaluate(tab, korean_request())
    first, final = _text(korean[0][0]), _text(korean[-1][0])
    assert "digits/의 이미지 187장: 학습 중에 한 번도 보지 않은 홀드아웃 이미지; 1장 평가 중" in first  # 187 held out
    assert re.search(r"[\d.]+ ± [\d.]+ 비트/차원", final) and "완료했습니다" in final and "비트가 쓰이는 곳" in final
    title = json.loads(korean[-1][1].plot)["layout"]["title"]["text"]
    assert re.fullmatch(r"전체 [\d.]+ 비트/차원", title)
    english = _evaluate(tab)
    final = _text(english[-1][0])
    assert "Done in" in final and "187 images from digits/: held-out images" in final and not HANGUL.search(final)
    assert json.loads(english[-1][1].plot)["layout"]["title"]["text"].endswith("bits/dim in all")


def test_messages_raised_here_follow_the_request(tab):
    with pytest.raises(gr.Error, match="먼저 이미지를 하나 이상 업로드하세요"):
        _evaluate(tab, korean_request(), source="upload")
    with pytest.raises(gr.Error, match="Upload one or more images first"):
        _evaluate(tab, source="upload")
    with pytest.raises(gr.Error, match="이미지 수는 1부터 .*까지여야 합니다"):
        _evaluate(tab, korean_request(), n=10_000)
    session = Session()
    decode = lambda steps, *request: _decode(tab, session, steps, *request)  # noqa: E731
    with pytest.raises(gr.Error, match="'ten'은\\(는\\) 스텝이 아닙니다"):
        decode("ten", korean_request())
    with pytest.raises(gr.Error, match="'ten' is not a step"):
        decode("ten")
    with pytest.raises(gr.Error, match="한 번에 12개까지"):
        decode(",".join(["5"] * 13), korean_request())


def test_the_decoding_table_in_korean(tab):
    session = Session()
    views = _decode(tab, session, "10", korean_request())
    assert "<th>t = 10</th>" in views[-1] and "x<sub>t</sub>를 공유하는 샘플" in views[-1]
    english = _decode(tab, session, "10")
    assert "samples sharing x<sub>t</sub>" in english[-1]


def test_the_checkpoint_list_and_summary_are_served_in_the_request_language(tab):
    listed = tab.choices(BUNDLED, None, korean_request())
    assert listed.choices[0][0] == CATALOGUE["{name} (bundled)"].format(name=CATALOGUE["Upload one or more images first."])
    assert tab.choices(BUNDLED, None).choices[0][0] == "Upload one or more images first. (bundled)"
    summary, _variance = tab.summary(BUNDLED, None, korean_request())
    assert "데이터의 10%를 학습에서 제외했습니다" in summary
    assert "10% of its data was held out of training" in tab.summary(BUNDLED, None)[0]
    assert tab.summary("", None, korean_request())[0] == CATALOGUE["No checkpoint chosen."]
