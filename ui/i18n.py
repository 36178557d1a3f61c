"""English and Korean: which language a request wants, and the one catalogue every text is looked up in.

The catalogues (`locale/<language>/LC_MESSAGES/*.po`, gettext's format, read with Babel) serve three paths:

- **Layout text** (labels, help texts, buttons, tab and accordion titles) is marked with `L("English")`
  where the layout is built; choices of radios and dropdowns stay plain strings. The page translates
  both itself: `gradio_i18n()` registers the catalogue with Gradio, whose page looks marked texts and
  choices up by their English text for the page's language.
- **Text that callbacks build** (status lines, tables, messages, plot titles) is translated on the server
  with `_()`, for the language of the request being served, which `language_scope` sets (`ui.errors.user_errors`
  does it for every callback). Messages from `ddpm_core` and `server/` (a `UserError` or `Message`: a code, an
  English template and its parameters) go through `message()`, which looks the code up in `locale/`.
- **Rich static text with LaTeX** is `bilingual(en, ko)`: both versions are in the page and CSS shows the
  page language's one (Gradio sets `<html lang>`).

Which language: `?lang=ko` or `?lang=en` in the page's address (the switch's links), else the last
choice remembered by the browser, else the browser's own language. `HEAD_JS`, which `EarlyHead` puts at
the top of the page before Gradio's scripts run, makes Gradio's page follow that and stores it in a
cookie. The server takes the page's `lang` (Gradio passes the page's query, and the Referer has it),
then the cookie, then Accept-Language, then English.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlparse

from babel.messages.pofile import read_po

from ddpm_core.errors import Message, UserError, english_plural, fill

LOCALE = Path(__file__).resolve().parent.parent / "locale"

LANGUAGES = ("en", "ko")
NAMES = {"en": "English", "ko": "한국어"}
DEFAULT = "en"
COOKIE = "ddpm_lang"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("ddpm_language", default=DEFAULT)


# ---- which language ------------------------------------------------------------------------------

def _known(value) -> str | None:
    """'ko', 'ko-KR', 'KO' → 'ko'; anything else → None."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().split("-")[0].split("_")[0]
    return code if code in LANGUAGES else None


def _accept_language(header: str) -> str | None:
    """The first known language of an Accept-Language header, by quality."""
    choices = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                continue
        choices.append((-quality, position, tag))
    for _, _, tag in sorted(choices):
        if _known(tag):
            return _known(tag)
    return None


def language_of(request) -> str:
    """The language a request's page shows: its address's ?lang= (as Gradio passes it, or the Referer), the
    cookie, Accept-Language, English."""
    if request is None:
        return DEFAULT
    try:
        headers = {k.lower(): v for k, v in dict(request.headers).items()}
        cookies = dict(getattr(request, "cookies", {}) or {})
    except Exception:  # noqa: BLE001 (a request without headers is served in English)
        return DEFAULT
    try:
        asked = dict(getattr(request, "query_params", {}) or {}).get("lang")  # Gradio passes the page's
    except Exception:  # noqa: BLE001
        asked = None
    page = asked or parse_qs(urlparse(headers.get("referer", "")).query).get("lang", [None])[0]
    return _known(page) or _known(cookies.get(COOKIE)) or _accept_language(headers.get("accept-language", "")) \
        or DEFAULT


def current() -> str:
    """The language of the request being served (English outside a request)."""
    return _language.get()


@contextmanager
def language_scope(language: str) -> Iterator[None]:
    """Serve the enclosed code in `language` (what `_()` and the plots translate to)."""
    token = _language.set(language if language in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _language.reset(token)


# ---- the catalogues ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Catalogue:
    """One language's translations, read from every `locale/<language>/LC_MESSAGES/*.po` (gettext's format).

    `texts`: English text → translation (entries without a context: layout and callback texts). `codes`: a
    message code → its translated template (entries whose context is the code of a `ddpm_core.errors.Message`;
    a plural entry gives a tuple of forms). `plural` picks a form index from a count (the catalogue's
    Plural-Forms).
    """

    texts: dict
    codes: dict
    plural: object

    @classmethod
    def read(cls, language: str) -> "Catalogue":
        texts, codes, plural = {}, {}, english_plural
        for path in sorted((LOCALE / language / "LC_MESSAGES").glob("*.po")):
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            plural = gettext.c2py(catalog.plural_expr)
            for entry in catalog:
                if not entry.id or not entry.string or entry.fuzzy or not any(entry.string):
                    continue
                if entry.context:
                    codes[entry.context] = entry.string
                else:
                    texts[entry.id[0] if isinstance(entry.id, tuple) else entry.id] = entry.string
        return cls(texts, codes, plural)


@functools.lru_cache(maxsize=None)
def catalogue(language: str) -> Catalogue:
    return Catalogue.read(language)


KO: dict[str, str] = {k: v for k, v in catalogue("ko").texts.items() if isinstance(v, str)}  # English → Korean


def register(english: str, korean: str) -> str:
    """Add a text made when the app is built (e.g. a bundled checkpoint's picker label) to the Korean texts,
    before `gradio_i18n` hands them to the page; returns `english`."""
    KO.setdefault(english, korean)
    return english


# ---- translating -------------------------------------------------------------------------------

def translate(text: str, language: str) -> str:
    """`text` in `language`; English (the text itself) when it has no translation."""
    return KO.get(text, text) if language == "ko" else text


def _(text: str) -> str:
    """`text` in the current request's language."""
    return translate(text, _language.get())


def coded(item: Message, language: str | None = None) -> str:
    """A `Message` in `language` (default: the current request's): its code's translation filled with its
    parameters (nested messages translated too), or its English when the catalogue lacks the code."""
    language = language or _language.get()
    if language == "en":
        return item.english()
    found = catalogue(language)
    template = found.codes.get(item.code)
    if template is None:
        return fill(item.template, item.params, lambda inner: coded(inner, language), english_plural)
    return fill(template, item.params, lambda inner: coded(inner, language), found.plural)


def message(text) -> str:
    """A message from ddpm_core or server/ in the current language: a `Message` or `UserError` by its code; any
    other exception or string as it is (English: an uncoded message has no translation).
    """
    if isinstance(text, UserError):
        return coded(text.message)
    if isinstance(text, Message):
        return coded(text)
    return str(text)


def L(text: str):
    """Layout text (a label, help text, button caption, tab or accordion title) the page shows in its language.

    Gradio's page translates only texts marked as translatable, by key; the key is the English text.
    """
    if "}" in text:
        raise ValueError(f"layout text cannot hold '}}' (Gradio's page would not find its key): {text!r}")
    import gradio as gr

    return gr.I18n(en={}, ko={})(text)


def bilingual(en: str, ko: str) -> str:
    """Markdown holding both versions; the page's CSS (`CSS` below) shows the one of its language."""
    return f'<div class="i18n-en">\n\n{en}\n\n</div>\n<div class="i18n-ko">\n\n{ko}\n\n</div>'


def gradio_i18n():
    """The catalogue as Gradio's I18n, for `launch(i18n=...)`.

    The page formats each entry as an ICU message, where braces are placeholders; entries with braces
    are used only by `_()` on the server, never as layout text.
    """
    import gradio as gr

    layout = {en: ko for en, ko in KO.items() if "{" not in ko and "}" not in ko}
    return gr.I18n(en={en: en for en in layout}, ko=layout)


# ---- checking coverage -------------------------------------------------------------------------

# Words that read the same in both languages: the field's and the formats' names.
NEUTRAL_WORDS = {
    "DDPM", "DDIM", "SNR", "KL", "NLL", "RMSE", "EMA", "LR", "PNG", "GIF", "MP4", "WebM", "JPEG", "H.264", "VP9",
    "CPU", "GPU", "CUDA", "MPS", "U-Net", "MLP", "zip", "safetensors", "bf16", "fp32", "auto", "cuda", "cpu", "mps",
    "eps", "x0", "v", "beta", "beta_tilde", "linear", "cosine", "quadratic", "sigmoid", "ddpm", "ddim", "bits", "dim",
    "L_simple", "Eq", "Algorithm", "Ho", "et", "al", "Nichol", "Dhariwal", "Song", "Explorer", "English", "Fr", "chet", "Okabe", "Ito",
}
_TAG = re.compile(r"<[^>]+>")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.DOTALL)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]{2,}")


def needs_translation(text: str) -> bool:
    """Whether `text` has English words in it (outside math, tags and the neutral names)."""
    plain = _MATH.sub(" ", _TAG.sub(" ", text))
    return any(word not in NEUTRAL_WORDS for word in _WORD.findall(plain))


_MARKER = re.compile(r'__i18n__\{"__type__": "translation_metadata", "key": ("(?:[^"\\]|\\.)*")\}')


def _shown(value) -> str | None:
    """A layout value as the page gets it: a string, with translatable keys as `__i18n__` markers."""
    if isinstance(value, str):
        return value
    if hasattr(value, "key") and hasattr(value, "to_dict"):  # gr.I18n data
        return str(value)
    return None


def layout_texts(config: dict) -> list[tuple[str, str, str]]:
    """(component, property, text) for every text a page built from Blocks `config` shows in its layout.

    Texts marked translatable come as `__i18n__{...}` markers (see `L`); choices are plain strings,
    which Gradio's page translates by key.
    """
    found = []
    for component in config["components"]:
        props, name = component.get("props", {}), component.get("type", "?")
        ident = f"{name}#{props.get('elem_id') or component.get('id')}"
        if not props.get("visible", True) and name in ("button", "number", "image", "json", "textbox", "checkbox"):
            continue  # API-only or bookkeeping components, never shown
        for key in ("label", "info", "placeholder", "description"):
            text = _shown(props.get(key))
            if text:
                found.append((ident, key, text))
        if name in ("markdown", "button", "html", "uploadbutton"):
            text = _shown(props.get("value"))
            if text:
                found.append((ident, "value", text))
        for choice in props.get("choices") or []:
            if isinstance(choice, (list, tuple)) and choice and isinstance(choice[0], str):
                found.append((ident, "choice", choice[0]))
    return found


def _keys(text: str) -> list[str]:
    return [json.loads(quoted) for quoted in _MARKER.findall(text)]


def untranslated(config: dict) -> list[tuple[str, str, str]]:
    """Layout texts with English words the page cannot translate: neither a catalogue key nor bilingual.

    A label, help text or caption must be marked with `L` (Gradio's page translates marked texts only);
    a choice is translated when it is a catalogue key.
    """
    missing = []
    for ident, key, text in layout_texts(config):
        keys = _keys(text)
        rest = _MARKER.sub(" ", text)
        if any(k not in KO and needs_translation(k) for k in keys):
            missing.append((ident, key, text))
        elif 'class="i18n-ko"' in rest:
            continue
        elif needs_translation(rest) and not (key == "choice" and rest in KO):
            missing.append((ident, key, text))
    return missing


class EarlyHead:
    """ASGI middleware that puts `script` first in every HTML page's <head>.

    Gradio's own `head=` is added by its page script after the app's config has loaded, which is after
    the page has picked its language; HEAD_JS has to run before that, so it goes into the HTML itself.
    """

    def __init__(self, app, script: str):
        self.app, self.script = app, script.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        held: dict = {}

        async def inject(message):
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    held.update(start=message, body=b"")
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                held["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = held["body"].replace(b"<head>", b"<head>" + self.script, 1)
                start = held.pop("start")
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, inject)


def app_kwargs() -> dict:
    """launch(app_kwargs=...): the middleware that puts HEAD_JS into the page."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(EarlyHead, script=HEAD_JS)]}


# Runs first in the page's <head>, before Gradio starts: pick the language and make Gradio follow it.
HEAD_JS = """
<script>
(() => {
  const known = (v) => { v = (v || '').toLowerCase().split('-')[0]; return v === 'ko' || v === 'en' ? v : null; };
  const asked = known(new URLSearchParams(location.search).get('lang'));
  let stored = null;
  try { if (asked) localStorage.setItem('ddpm_lang', asked); stored = known(localStorage.getItem('ddpm_lang')); } catch (e) {}
  const lang = asked || stored || known(navigator.language) || 'en';
  if (!asked && stored) {  // put the remembered choice in the address, which the server reads (Referer)
    const url = new URL(location.href); url.searchParams.set('lang', stored); history.replaceState(history.state, '', url);
  }
  if (lang !== known(navigator.language)) {
    Object.defineProperty(navigator, 'language', {get: () => lang, configurable: true});
    Object.defineProperty(navigator, 'languages', {get: () => [lang], configurable: true});
  }
  const secure = location.protocol === 'https:' ? '; SameSite=None; Secure' : '; SameSite=Lax';
  document.cookie = 'ddpm_lang=' + lang + '; path=/; max-age=31536000' + secure;
  document.documentElement.setAttribute('lang', lang);
})();
</script>
"""

CSS = """
html[lang^="ko"] .i18n-en, html:not([lang^="ko"]) .i18n-ko { display: none !important; }
"""
