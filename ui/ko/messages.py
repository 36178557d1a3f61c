"""Korean for ddpm_core's messages (English ValueErrors with numbers and names in them).

Each entry is (a regular expression matching one English message in full, its Korean with \\1, \\2…
for the captured parts). `ui.i18n.message` tries them in order; an unmatched message stays English.
"""

import re

_RAW: list[tuple[str, str]] = [
]

PATTERNS = [(re.compile(english, re.DOTALL), korean) for english, korean in _RAW]
