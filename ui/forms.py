"""A form's components read into one small dataclass, once, at the edge: callbacks take named values.

    form = Form(SampleForm, checkpoint=picker, sampler=sampler, steps=Field(steps, int_or_none), ...)
    run_btn.click(**form.event(tab.sample, session), outputs=outputs)
    def sample(self, form: SampleForm, session: Session): ...

A field is a component (its value passed as the page sends it), a `Field` (a component and a function
that converts its value), or a group such as `ScheduleControls` (several components and a `read` that
turns their values into one object, e.g. the six schedule controls into one DiffusionConfig). `bind`
makes the Gradio callback: it takes the form's components, then any further inputs (states), reads the
form inside the callback (so a bad value is a message for the user) and calls the tab's method.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ui.errors import user_errors


@dataclass(frozen=True)
class Field:
    """A component whose value is converted by `convert` when the form is read."""

    component: Any
    convert: Callable[[Any], Any]

    @property
    def inputs(self) -> list:
        return [self.component]

    def read(self, value):
        return self.convert(value)


class Form:
    """Components by field name, read into an instance of `cls` (a dataclass with those field names)."""

    def __init__(self, cls: type, **fields):
        names = [f.name for f in dataclasses.fields(cls)]
        if set(fields) != set(names):
            raise TypeError(f"{cls.__name__} needs fields {names}, got {sorted(fields)}")
        self.cls = cls
        self.fields = {name: fields[name] for name in names}

    def _parts(self, item) -> list:
        return list(item.inputs) if hasattr(item, "inputs") else [item]

    @property
    def inputs(self) -> list:
        """The components in the order the callback receives them."""
        return [c for item in self.fields.values() for c in self._parts(item)]

    def read(self, values) -> Any:
        """An instance of `cls` from the page's values, in `inputs` order (converted field by field)."""
        values, read = list(values), {}
        for name, item in self.fields.items():
            count = len(self._parts(item))
            taken, values = values[:count], values[count:]
            read[name] = item.read(*taken) if hasattr(item, "read") else taken[0]
        return self.cls(**read)

    def bind(self, method: Callable, *extra) -> Callable:
        """The Gradio callback for `method(form, *extra values)` (see `bind`)."""
        return bind(method, self, *extra)

    def event(self, method: Callable, *extra) -> dict:
        """`fn` and `inputs` for an event listener: `button.click(**form.event(tab.run, session), outputs=…)`."""
        return event(method, self, *extra)


def _width(part) -> int:
    return len(part.inputs) if isinstance(part, Form) else 1


def bind(method: Callable, *parts) -> Callable:
    """The Gradio callback for `method(*parts read)`: each Form read into its dataclass, any other part (a
    component or state) passed as it is; its inputs are `inputs(*parts)`. The callback serves the page's
    language and turns errors into messages (ui.errors.user_errors), reading the forms included."""
    widths = [_width(part) for part in parts]

    def read(values) -> list:
        values, out = list(values), []
        for part, width in zip(parts, widths):
            taken, values = values[:width], values[width:]
            out.append(part.read(taken) if isinstance(part, Form) else taken[0])
        return out
    if inspect.isgeneratorfunction(method):
        def callback(*values):
            yield from method(*read(values))
    else:
        def callback(*values):
            return method(*read(values))
    callback.__signature__ = inspect.Signature(
        [inspect.Parameter(f"value_{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(sum(widths))])
    callback.__name__ = callback.__qualname__ = getattr(method, "__name__", "callback")
    callback.method = method  # what the event calls, for whoever inspects the app (tests)
    return user_errors(callback)


def inputs(*parts) -> list:
    """The components of `parts` in the order `bind`'s callback takes them."""
    return [c for part in parts for c in (part.inputs if isinstance(part, Form) else [part])]


def event(method: Callable, *parts) -> dict:
    """`fn` and `inputs` for an event listener: `button.click(**event(tab.run, form, session), outputs=…)`."""
    return {"fn": bind(method, *parts), "inputs": inputs(*parts)}
