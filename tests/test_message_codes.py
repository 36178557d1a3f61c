"""Messages by code: every coded message in the source has a Korean text with the same placeholders, and
`ui.i18n.message` translates by code, nested messages and plural forms included."""

import ast
import re
import string
from pathlib import Path

import pytest

from ddpm_core.errors import Message, UserError
from ui import i18n

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
SOURCES = ("ddpm_core", "server", "ui")


def coded_messages() -> dict[str, list[str]]:
    """code → its English template(s), from every `...Error("code", "template"[, "plural"], ...)`,
    `...Error.plural(...)` and `Message("code", ...)` call in the source."""
    found: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call) or len(node.args) < 2:
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if not (name.endswith("Error") or name in ("Message", "plural")):
                    continue
                strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if len(strings) >= 2 and CODE.match(strings[0]):
                    found.setdefault(strings[0], []).extend(strings[1:3] if name == "plural" else strings[1:2])
    return found


def fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_source_has_coded_messages():
    assert {"device.absent", "device.unknown"} <= set(coded_messages())


def test_every_code_has_korean_with_the_same_placeholders():
    korean = i18n.catalogue("ko").codes
    missing, different = [], []
    for code, templates in sorted(coded_messages().items()):
        if code not in korean:
            missing.append(code)
            continue
        forms = korean[code] if isinstance(korean[code], tuple) else (korean[code],)
        english = set().union(*(fields(t) for t in templates))
        for form in forms:
            if fields(form) != english:
                different.append((code, sorted(english), sorted(fields(form))))
    assert not missing, f"codes without Korean in locale/ko/LC_MESSAGES/*.po: {missing}"
    assert not different, f"Korean placeholders differ from the English: {different}"


def test_the_catalogue_has_no_code_the_source_lost():
    stale = sorted(set(i18n.catalogue("ko").codes) - set(coded_messages()))
    assert not stale, f"codes in locale/ko that no message uses any more: {stale}"


def test_a_code_is_translated_with_its_parameters_nested_and_plural(monkeypatch):
    catalogue = i18n.Catalogue(texts={}, codes={"t.outer": "바깥 {reason}", "t.inner": "{count:,}개 안쪽",
                                                "t.plural": ("{count}개",)}, plural=lambda n: 0)
    monkeypatch.setattr(i18n, "catalogue", lambda language: catalogue)
    inner = Message("t.inner", ("{count:,} inner", "{count:,} inners"), {"count": 1234})
    error = UserError("t.outer", "outer {reason}", reason=inner)
    assert str(error) == "outer 1,234 inners"
    with i18n.language_scope("ko"):
        assert i18n.message(error) == "바깥 1,234개 안쪽"
        assert i18n.message(UserError.plural("t.plural", "{count} thing", "{count} things", count=1)) == "1개"
        assert i18n.message(UserError("t.unknown", "only {x}", x=3)) == "only 3"  # English without a translation
    assert i18n.message(error) == "outer 1,234 inners"
    assert str(UserError.plural("t.plural", "{count} thing", "{count} things", count=1)) == "1 thing"


@pytest.mark.parametrize("call, korean", [
    (lambda: __import__("ddpm_core.devices").devices.pick_device("cuda:3"), "장치 'cuda:3'이(가) 이 컴퓨터에 없습니다"),
    (lambda: __import__("ddpm_core.devices").devices.pick_device("blah"), "'blah'은(는) 장치 이름이 아닙니다"),
])
def test_core_errors_reach_the_page_in_korean(call, korean):
    with pytest.raises(UserError) as info:
        call()
    with i18n.language_scope("ko"):
        assert i18n.message(info.value).startswith(korean)


def test_babel_extracts_the_codes_the_source_has():
    """scripts/i18n.py's keywords (every error class, Message, .plural) find each coded message, with its English."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    templates, conflicts = script._source_templates()
    assert not conflicts, f"codes with two English templates: {conflicts}"
    assert not script._unlisted_error_classes()
    source = coded_messages()
    assert set(templates) == set(source)
    for code, english in templates.items():
        assert set(english) == set(source[code]), code


SAME_IN_KOREAN = {"data.rgb"}  # "RGB" reads the same in both languages


def test_every_translation_reads_in_korean():
    """A code's Korean has Hangul, unless its English has no word to translate ('{images}{held}…', 'RGB')."""
    english = {code: " ".join(templates) for code, templates in coded_messages().items()}
    bare = {code: re.sub(r"\{[^}]*\}", " ", text) for code, text in english.items()}
    hangul = re.compile(r"[\uac00-\ud7a3]")
    for code, korean in i18n.catalogue("ko").codes.items():
        forms = korean if isinstance(korean, tuple) else (korean,)
        if code in bare and i18n.needs_translation(bare[code]) and code not in SAME_IN_KOREAN:
            assert all(hangul.search(form) for form in forms), code
