"""Messages a person reads: a stable code, an English template and the parameters that fill it.

As Django's ``ValidationError(message, code, params)``: a UI looks a message up by its ``code`` in its
catalogue (``locale/<language>/LC_MESSAGES/*.po``, the code as the entry's context) and fills the translation
with the same ``params``, so the English sentence can change freely. ``str()`` of either is the English.

    raise UserError("data.not_a_folder", "'{path}' is not a folder; choose a folder of images.", path=root)
    raise UserError.plural("data.none_readable", "The {count:,} image file in {folder}/ could not be read.",
                           "None of the {count:,} image files in {folder}/ could be read.", count=n, folder=f)

Templates are ``str.format`` templates: a placeholder may carry a format spec (``{count:,}``, ``{share:.0%}``),
which a translation repeats. A plural message picks its form by the parameter ``count``. A parameter may be
a `Message` itself (a reason inside a message), translated with the outer one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    """One message: `code`, the English `template` (or (singular, plural) by `params["count"]`), `params`."""

    code: str
    template: str | tuple[str, str]
    params: dict = field(default_factory=dict)

    @classmethod
    def plural(cls, code: str, singular: str, plural: str, /, **params) -> "Message":
        """A message with a singular and a plural form, chosen by `params["count"]`."""
        return cls(code, (singular, plural), params)

    def english(self) -> str:
        return fill(self.template, self.params, str, english_plural)

    def __str__(self) -> str:
        return self.english()


def english_plural(count) -> int:
    """0 for the singular form, 1 for the plural (English: one, other)."""
    return 0 if count == 1 else 1


def fill(template: str | tuple, params: dict, inner, plural) -> str:
    """`template` filled with `params`; `inner` renders a nested Message, `plural` picks a form by `count`."""
    if isinstance(template, (tuple, list)):
        template = template[min(plural(params.get("count", 0)), len(template) - 1)]
    values = {key: inner(value) if isinstance(value, Message) else value for key, value in params.items()}
    return template.format(**values)


class UserError(ValueError):
    """A bad input or a file that cannot be used, said in a message a person can act on (and translate)."""

    def __init__(self, code: str, template: str | tuple[str, str], /, **params):
        self.message = Message(code, template, params)
        super().__init__(self.message.english())

    @classmethod
    def plural(cls, code: str, singular: str, plural: str, /, **params) -> "UserError":
        """A message with a singular and a plural form, chosen by `params["count"]`."""
        return cls(code, (singular, plural), **params)

    def __reduce__(self):
        # Pickled (or copied) as its class and Message: the default would call cls(english) and fail.
        return _restore, (type(self), self.message)

    @property
    def code(self) -> str:
        return self.message.code

    @property
    def params(self) -> dict:
        return self.message.params


def _restore(cls: type, message: Message) -> UserError:
    error = cls.__new__(cls)
    error.message = message
    Exception.__init__(error, message.english())
    return error


def reason_of(exc: BaseException) -> Message | str:
    """What went wrong, to put inside another message: a UserError's message, else only the error's kind
    (another library's words are not shown to people; they stay in the exception chain for the logs)."""
    return exc.message if isinstance(exc, UserError) else type(exc).__name__
