"""Turn exceptions in callbacks into messages for the user; the server keeps serving."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

log = logging.getLogger("ddpm_explorer")


def user_errors(fn):
    """Show ValueErrors (bad input) as their message and anything else as a short apology.

    Unexpected errors are logged with their traceback on the server, never shown in the page.
    """
    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, ValueError):
            return gr.Error(str(exc))
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(exc).__name__}). The app is still running; "
                        "please try again or change the input.")

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (every error becomes a message)
                raise translate(exc) from None
        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from None
    return wrapper
