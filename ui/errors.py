"""Every callback's wrapper: serve it in its request's language, and turn exceptions into messages for the user.

The server keeps serving whatever a callback raises.
"""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from ui import i18n
from ui.i18n import _

log = logging.getLogger("ddpm_explorer")
REQUEST = "ddpm_request"  # the parameter Gradio fills with the gr.Request (see `user_errors`)


def _with_request_parameter(fn, wrapper) -> None:
    """Give `wrapper` fn's signature plus a last positional `ddpm_request: gr.Request = None`.

    Gradio passes the request to a positional parameter annotated `gr.Request`; callers that are not
    Gradio (tests, other callbacks) leave it out and are served in English.
    """
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in parameters):
        raise TypeError(f"user_errors needs positional parameters only, {fn.__name__} has others")
    extra = inspect.Parameter(REQUEST, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
    wrapper.__signature__ = signature.replace(parameters=[*parameters, extra])
    wrapper.__annotations__ = {**getattr(fn, "__annotations__", {}), REQUEST: gr.Request}


def _split(count: int, args: tuple, kwargs: dict) -> tuple[tuple, dict, str]:
    """(the callback's own `count` positional arguments, its keyword arguments, the language to serve in).

    Without a request (a test, or a callback called by another callback) the language in force stays: a
    tab's method called from a form's callback answers in the page's language.
    """
    kwargs = dict(kwargs)
    request = kwargs.pop(REQUEST, None)
    if len(args) > count:
        args, request = args[:count], args[count]
    return args, kwargs, i18n.language_of(request) if request is not None else i18n.current()


def error(message: str) -> gr.Error:
    """The toast for `message`, headed "Error" in the page's language."""
    return gr.Error(message, title=_("Error"))


def describe(exc: BaseException) -> str:
    """What a user reads about an error, in the current language: a bad input's own message (ValueErrors,
    coded or not), or a short apology naming the kind of a failure nobody foresaw (logged on the server)."""
    if isinstance(exc, gr.Error):
        return str(exc.message)
    if isinstance(exc, ValueError):
        return i18n.message(exc)
    return _("Something went wrong ({kind}). The app is still running; please try again or change "
             "the input.").format(kind=type(exc).__name__)


def user_errors(fn):
    """Serve `fn` in its request's language; show ValueErrors (bad input) as their message, anything else as a short apology.

    Unexpected errors are logged with their traceback on the server, never shown in the page.
    """
    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if not isinstance(exc, ValueError):
            log.exception("unexpected error in %s", fn.__name__)
        return error(describe(exc))

    count = len(inspect.signature(fn).parameters)  # once: callbacks run on every slider move

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            args, kwargs, language = _split(count, args, kwargs)
            with i18n.language_scope(language):
                generator = fn(*args, **kwargs)
            try:
                while True:
                    # Each step may run on another worker thread: set the language for every one.
                    with i18n.language_scope(language):
                        try:
                            item = next(generator)
                        except StopIteration:
                            return
                        except Exception as exc:  # noqa: BLE001 (every error becomes a message)
                            raise translate(exc) from None
                    yield item
            finally:
                generator.close()  # a cancelled stream stops its work now, as `yield from` would
        _with_request_parameter(fn, generator_wrapper)
        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        args, kwargs, language = _split(count, args, kwargs)
        with i18n.language_scope(language):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise translate(exc) from None
    _with_request_parameter(fn, wrapper)
    return wrapper
