"""English and Korean: which language a request gets, the catalogue's coverage of the layout, and callbacks served in Korean."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from gradio import utils as gradio_utils

from conftest import FakeRequest, korean_request
from ui import i18n
from ui.errors import REQUEST, user_errors
from ui.i18n import KO as CATALOGUE

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def demo():
    from app import build_app

    return build_app()


@pytest.mark.parametrize("request_, expected", [
    (None, "en"),
    (FakeRequest(), "en"),
    (FakeRequest("ko-KR,ko;q=0.9,en-US;q=0.8"), "ko"),
    (FakeRequest("en-US,en;q=0.9,ko;q=0.8"), "en"),
    (FakeRequest("fr-FR,ko;q=0.7,en;q=0.3"), "ko"),        # the first known language by quality
    (FakeRequest("en;q=0.2,ko;q=0.9"), "ko"),
    (FakeRequest("de-DE"), "en"),
    (FakeRequest("en-US", cookies={"ddpm_lang": "ko"}), "ko"),       # the switch's cookie beats the browser
    (FakeRequest("ko", cookies={"ddpm_lang": "xx"}), "ko"),          # an unknown cookie is ignored
    (FakeRequest("en-US", referer="http://h/?lang=ko"), "ko"),      # the page address beats everything
    (FakeRequest("ko-KR", referer="http://h/?projector=1&lang=en", cookies={"ddpm_lang": "ko"}), "en"),
    (FakeRequest("ko-KR", referer="http://h/?lang=../../etc"), "ko"),
])
def test_language_of_a_request(request_, expected):
    assert i18n.language_of(request_) == expected


def test_translation_follows_the_scope_and_falls_back_to_english():
    assert i18n._("Projector mode") == "Projector mode"
    with i18n.language_scope("ko"):
        assert i18n._("Projector mode") == "프로젝터 모드"
        assert i18n._("no such text, anywhere") == "no such text, anywhere"
        with i18n.language_scope("en"):
            assert i18n._("Projector mode") == "Projector mode"
        assert i18n.current() == "ko"
    assert i18n.current() == "en"
    with i18n.language_scope("xx"):
        assert i18n.current() == "en"


def test_each_english_text_has_one_korean_text():
    """Two catalogues of locale/ko may hold the same text (or code) only with the same Korean."""
    from babel.messages.pofile import read_po

    seen, conflicts = {}, []
    for path in sorted(i18n.LOCALE.glob("ko/LC_MESSAGES/*.po")):
        with path.open("rb") as handle:
            for entry in read_po(handle, locale="ko"):
                if entry.id:
                    key = (entry.context, entry.id if isinstance(entry.id, str) else entry.id[0])
                    if seen.setdefault(key, (entry.string, path.name))[0] != entry.string:
                        conflicts.append((key, seen[key], (entry.string, path.name)))
    assert len(seen) > 500 and not conflicts, conflicts


def test_catalogue_entries_are_korean_and_keep_their_placeholders():
    for english, korean in CATALOGUE.items():
        assert HANGUL.search(korean) or not i18n.needs_translation(english), (english, korean)
        assert sorted(re.findall(r"\{\w*\}", english)) == sorted(re.findall(r"\{\w*\}", korean)), english


def test_core_messages_translate_with_their_numbers():
    with i18n.language_scope("ko"):
        assert i18n.message("an unknown message 42") == "an unknown message 42"
    assert i18n.message("Seed must be from 0 to 10, got 11.") == "Seed must be from 0 to 10, got 11."


def test_callbacks_receive_the_request_and_serve_its_language():
    @user_errors
    def greet(name):
        return i18n._("Projector mode") + " " + name

    @user_errors
    def stream(n):
        for _ in range(n):
            yield i18n._("Projector mode")

    @user_errors
    def fail(value):
        raise RuntimeError("boom")

    # Gradio sees a positional gr.Request parameter after the callback's own ones, and fills it.
    hints = gradio_utils.get_type_hints(greet)
    assert hints[REQUEST] is gr.Request
    assert list(__import__("inspect").signature(greet).parameters) == ["name", REQUEST]
    assert greet("x") == "Projector mode x"                          # no request (a direct call): English
    assert greet("x", korean_request()) == "프로젝터 모드 x"            # positionally, as Gradio passes it
    assert greet("x", ddpm_request=korean_request()) == "프로젝터 모드 x"
    assert list(stream(2, korean_request())) == ["프로젝터 모드"] * 2
    with pytest.raises(gr.Error, match="문제가 생겼습니다 \\(RuntimeError\\)"):
        fail(1, korean_request())
    with pytest.raises(gr.Error, match="Something went wrong \\(RuntimeError\\)"):
        fail(1)


def test_every_callback_can_be_given_its_request(demo):
    """Each wrapped callback's type hints resolve (Gradio injects nothing when they do not)."""
    wrapped = [fn.fn for fn in demo.fns.values() if fn.fn is not None and hasattr(fn.fn, "__wrapped__")]
    assert len(wrapped) > 30
    for fn in wrapped:
        assert gradio_utils.get_type_hints(fn).get(REQUEST) is gr.Request, fn.__name__


def test_the_layout_has_no_untranslated_text(demo):
    missing = i18n.untranslated(demo.config)
    assert not missing, "\n".join(f"{ident} {key}: {text!r}" for ident, key, text in missing)


def test_bilingual_markdown_holds_both():
    text = i18n.bilingual("Hello $x_t$", "안녕 $x_t$")
    assert 'class="i18n-en"' in text and 'class="i18n-ko"' in text and "$x_t$" in text
    assert not i18n.needs_translation("$q(x_t \\mid x_0)$ β₁ T SNR DDPM")
    assert i18n.needs_translation("Noise seed")


def test_no_function_shadows_the_translation_function():
    """`a, _, b = …` in a function that also calls `_()` makes `_` a local name: the call then fails."""
    import ast
    from pathlib import Path

    offenders = []
    for path in sorted((Path(__file__).resolve().parent.parent / "ui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            names = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == "_"]
            stored = any(isinstance(n.ctx, ast.Store) for n in names)
            called = any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == "_"
                         for c in ast.walk(node))
            if stored and called:
                offenders.append(f"{path.name}:{node.lineno} {getattr(node, 'name', 'lambda')}")
    assert not offenders, offenders
