"""Extract the app's translatable texts with Babel, and check the Korean catalogue against them.

    python scripts/i18n.py extract   # writes locale/messages.pot (git-ignored: it is rebuilt from the source)
    python scripts/i18n.py check     # extracts, then compares the .pot with locale/ko/LC_MESSAGES/*.po

Babel's Python extractor finds three kinds of calls (KEYWORDS):
- `_("…")` and `L("…")`: texts of the UI, looked up by their English (no context);
- a coded message: `Message("code", "template", …)`, `SomeError("code", "template", …)` and their
  `.plural("code", "singular", "plural", …)`: the code becomes the entry's msgctxt, as in locale/ko.

`check` fails (exit 1) when a code in the source has no Korean, when the Korean of a code has other
placeholders than its English, when a code has two different English templates, when locale/ko holds a
code nobody uses, or when an error class of the source is missing from KEYWORDS. It also lists codes whose
English changed since they were translated (the translation still shows; look it over) and counts UI texts
without Korean (locale/ko/LC_MESSAGES/ui_*.po and app.po hold those).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import string
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "locale" / "messages.pot"
SOURCES = ("ddpm_core", "server", "ui")
FILES = ("app.py",)
LANGUAGE = "ko"

# Every class whose call takes (code, template, …): UserError and its subclasses in the source.
ERROR_CLASSES = ("UserError", "CheckpointError", "DataError", "ImageError", "UploadError", "TrainingError",
                 "SamplersBusyError")
CODED = {name: ((1, "c"), 2) for name in ("Message", *ERROR_CLASSES)}
KEYWORDS = {"_": None, "L": None, **CODED, "plural": ((1, "c"), 2, 3)}


# ---- extract ---------------------------------------------------------------------------------------------

def _extracted():
    """(path, line, message, context) of every keyword call in the sources, f-string warnings silenced."""
    with contextlib.redirect_stderr(io.StringIO()):  # `_(f"…")` and `_(variable)` calls are not texts to extract
        for folder in SOURCES:
            for filename, line, message, _comments, context in extract_from_dir(
                    ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=()):
                yield f"{folder}/{filename}", line, message, context
        for name in FILES:
            for line, message, _comments, context in extract_from_file("python", ROOT / name, keywords=KEYWORDS):
                yield name, line, message, context


def extract() -> Catalog:
    """The catalogue template of the source: one entry per code (msgctxt) and per UI text."""
    catalog = Catalog(project="DDPM Explorer", fuzzy=False)
    for path, line, message, context in _extracted():
        if not (message[0] if isinstance(message, tuple) else message):
            continue
        catalog.add(message, locations=[(path, line)], context=context)
    return catalog


def write(catalog: Catalog, path: Path = POT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=120, sort_by_file=True)


# ---- check -----------------------------------------------------------------------------------------------

def fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def _forms(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _translations(language: str = LANGUAGE) -> dict:
    """code → (English msgid form(s), translated form(s)) from locale/<language>/LC_MESSAGES/*.po."""
    found = {}
    for path in sorted((ROOT / "locale" / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            for entry in read_po(handle, locale=language):
                if entry.context and entry.id:
                    found[entry.context] = (_forms(entry.id), _forms(entry.string))
    return found


def _source_templates() -> tuple[dict, list[str]]:
    """code → the English form(s) of the source; and codes that have two different templates."""
    templates, conflicts = {}, []
    for path, line, message, context in _extracted():
        if not context:
            continue
        forms = _forms(message)
        if templates.setdefault(context, forms) != forms:
            conflicts.append(f"{context} ({path}:{line})")
    return templates, conflicts


def _unlisted_error_classes() -> list[str]:
    """Classes derived (directly or not) from UserError that KEYWORDS does not list."""
    bases: dict[str, set[str]] = {}
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ClassDef):
                    bases[node.name] = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
    errors, grew = {"UserError"}, True
    while grew:
        found = {name for name, parents in bases.items() if parents & errors}
        grew, errors = not found <= errors, errors | found
    return sorted(errors - set(ERROR_CLASSES))


def problems(language: str = LANGUAGE) -> tuple[list[str], list[str]]:
    """(errors that fail the check, notes worth reading)."""
    templates, conflicts = _source_templates()
    translated = _translations(language)
    errors = [f"two English templates for one code: {c}" for c in conflicts]
    errors += [f"error class missing from KEYWORDS in scripts/i18n.py: {name}" for name in _unlisted_error_classes()]
    notes = []
    for code, english in sorted(templates.items()):
        if code not in translated or not any(translated[code][1]):
            errors.append(f"no {language} translation: {code}")
            continue
        msgid, forms = translated[code]
        wanted = set().union(*(fields(t) for t in english))
        errors += [f"placeholders differ: {code}: {sorted(wanted)} vs {sorted(fields(f))}"
                   for f in forms if fields(f) != wanted]
        if msgid != english:
            notes.append(f"English changed since translated: {code}")
    errors += [f"{language} has a code no message uses: {code}" for code in sorted(set(translated) - set(templates))]
    return errors, notes


def untranslated_texts() -> list[str]:
    """UI texts (`_` and `L`) that no catalogue of locale/ko translates."""
    sys.path.insert(0, str(ROOT))
    from ui import i18n

    return sorted({message for _path, _line, message, context in _extracted()
                   if not context and isinstance(message, str) and message not in i18n.KO
                   and i18n.needs_translation(message)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("extract", "check"))
    args = parser.parse_args(argv)
    catalog = extract()
    write(catalog)
    coded = sum(1 for message in catalog if message.context)
    print(f"{POT.relative_to(ROOT)}: {coded} coded messages, {len(catalog) - coded} UI texts")
    if args.command == "extract":
        return 0
    errors, notes = problems()
    for note in notes:
        print(f"note: {note}")
    texts = untranslated_texts()
    if texts:
        print(f"note: {len(texts)} UI texts without Korean, e.g. {texts[:3]}")
    for error in errors:
        print(f"error: {error}")
    print("ok" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
