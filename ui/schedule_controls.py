"""The β-schedule pickers shared by every tab, and parsing what the page sends."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import gradio as gr

from ddpm_core.config import DiffusionConfig
from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.errors import UserError
from ddpm_core.schedules import MAX_TIMESTEPS, SCHEDULES
from ui.i18n import L, _

RESCALE_HELP = ("Improved DDPM multiplies β_1 and β_T by 1000/T, so the total noise Σβ_t, and hence "
                "ᾱ_T, stays about the same when you change T. Without it a short chain leaves signal at t = T "
                "and a long one destroys the image early.")


def _as_float(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def integer(value, name: str, low: int, high: int) -> int:
    """A whole number in [low, high] from a raw page value, or ValueError saying what is allowed."""
    number = _as_float(value)
    if number is None or not number.is_integer():
        raise UserError("form.not_whole", "{name} must be a whole number from {low} to {high}, got {value!r}.",
                        name=_(name), low=low, high=high, value=value)
    if not low <= int(number) <= high:
        raise UserError("form.out_of_range", "{name} must be from {low} to {high}, got {value}.",
                        name=_(name), low=low, high=high, value=int(number))
    return int(number)


def number(value, name: str) -> float:
    """A finite number from a raw page value, or ValueError."""
    result = _as_float(value)
    if result is None or not math.isfinite(result):
        raise UserError("form.not_a_number", "{name} must be a number, got {value!r}.",
                        name=_(name), value=value)
    return result


def parse_config(schedule, timesteps, beta_start, beta_end, rescale, cosine_s) -> DiffusionConfig:
    """The schedule controls as a DiffusionConfig (ValueError with a message for bad values)."""
    if schedule not in SCHEDULES:
        raise UserError("form.unknown_schedule", "Unknown schedule {schedule!r}; choose one of {names}.",
                        schedule=schedule, names=", ".join(sorted(SCHEDULES)))
    return DiffusionConfig(schedule=schedule, timesteps=integer(timesteps, "T", 1, MAX_TIMESTEPS),
                           beta_start=number(beta_start, "β_1"), beta_end=number(beta_end, "β_T"),
                           rescale=bool(rescale), cosine_s=number(cosine_s, "cosine offset s"))


@functools.lru_cache(maxsize=64)
def diffusion_for(config: DiffusionConfig) -> GaussianDiffusion:
    """Schedules are pure functions of their config, so one cache serves every session."""
    return config.build()


@dataclass
class ScheduleControls:
    """The components of one schedule picker; `inputs` is the order `parse_config` takes."""

    schedule: gr.Dropdown
    timesteps: gr.Slider
    beta_start: gr.Number
    beta_end: gr.Number
    rescale: gr.Checkbox
    cosine_s: gr.Number

    @property
    def inputs(self) -> list:
        return [self.schedule, self.timesteps, self.beta_start, self.beta_end, self.rescale, self.cosine_s]

    @staticmethod
    def read(*values) -> DiffusionConfig:
        """The six controls' values (in `inputs` order) as one DiffusionConfig: a form field (ui/forms.py)."""
        return parse_config(*values)


def _parameter_visibility(schedule):
    linear_family = schedule != "cosine"
    return (gr.Number(visible=linear_family), gr.Number(visible=linear_family),
            gr.Checkbox(visible=linear_family), gr.Number(visible=not linear_family))


def build_schedule_controls(prefix: str, timesteps: int = 1000) -> ScheduleControls:
    """Lay out a schedule picker (elem_ids `{prefix}-schedule`, `-T`, `-b1`, `-bT`, `-rescale`, `-s`)."""
    with gr.Row():
        schedule = gr.Dropdown(sorted(SCHEDULES), value="linear", label=L("β schedule"),
                               elem_id=f"{prefix}-schedule")
        steps = gr.Slider(1, MAX_TIMESTEPS, value=timesteps, step=1, label=L("T (steps)"), elem_id=f"{prefix}-T")
    with gr.Accordion(L("Schedule parameters"), open=False):
        with gr.Row():
            beta_start = gr.Number(1e-4, label="β₁", minimum=0, maximum=1, elem_id=f"{prefix}-b1")
            beta_end = gr.Number(0.02, label="β_T", minimum=0, maximum=1, elem_id=f"{prefix}-bT")
            cosine_s = gr.Number(0.008, label=L("cosine offset s"), minimum=0, maximum=1, visible=False,
                                 elem_id=f"{prefix}-s")
        rescale = gr.Checkbox(True, label=L("Rescale β₁, β_T by 1000/T (Improved DDPM)"), info=L(RESCALE_HELP),
                              elem_id=f"{prefix}-rescale")
    controls = ScheduleControls(schedule, steps, beta_start, beta_end, rescale, cosine_s)
    schedule.change(_parameter_visibility, schedule, [beta_start, beta_end, rescale, cosine_s],
                    api_visibility="private", show_progress="hidden")
    return controls
