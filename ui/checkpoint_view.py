"""How a checkpoint of the catalogue reads on a page: its label in a picker, its summary, its line in a table.

Every tab that shows checkpoints uses these, in the language of the request being served; they read the
catalogue's typed `CheckpointSummary`, never a checkpoint's raw header.
"""

from __future__ import annotations

import html

import gradio as gr

from ddpm_core.guidance import ALL_CLASSES, DEFAULT_GUIDANCE
from server.catalogue import CheckpointSummary, Entry
from ui.i18n import _

NO_CLASS = "none"  # a class picker's "no class": the null class ∅ of a conditional model, or an unconditional one
SOURCE_LABELS = {"bundled": "{name} (bundled)", "run": "{name} (trained here)", "upload": "{name} (uploaded)",
                 "import": "{name} (imported)"}


def kind(channels) -> str:
    """'grey' or 'colour', in the current language."""
    return _("grey") if channels == 1 else _("colour")


def run_line(summary: CheckpointSummary) -> str:
    """'step 1,234 · 16×16 grey · tiny': a training run at a glance."""
    return _("step {step} · {size}×{size} {kind} · {preset}").format(
        step=f"{summary.step:,}", size=summary.image_size or "?", kind=kind(summary.channels),
        preset=summary.preset or "?")


def label(entry: Entry) -> str:
    """A picker's label: 'digits (bundled)', 'bars · step 300 · 16×16 grey · tiny (trained here)', …"""
    name = f"{entry.name} · {run_line(entry.summary)}" if entry.source == "run" else entry.name
    return _(SOURCE_LABELS.get(entry.source, "{name}")).format(name=name)


def choices(entries: list[Entry]) -> list[tuple[str, str]]:
    return [(label(entry), entry.key) for entry in entries]


def picker(entries: list[Entry], current, default: str | None = None) -> gr.Dropdown:
    """The picker refreshed: the current choice kept if it is still there, else `default`, else the first."""
    keys = [entry.key for entry in entries]
    value = current if current in keys else (default if default in keys else (keys[0] if keys else None))
    return gr.Dropdown(choices=choices(entries), value=value)


def paper_card(summary: CheckpointSummary) -> str:
    """What Ho et al. 2020 reported for this checkpoint's data set, for comparison ('' if nothing)."""
    paper = summary.paper
    if paper is None:
        return ""
    figures = [f"FID {paper.fid:g}" if paper.fid is not None else "",
               f"IS {paper.inception_score}" if paper.inception_score else "",
               _("NLL ≤ {test} bits/dim (test), {train} (train)").format(test=paper.nll_test, train=paper.nll_train)
               if paper.nll_test is not None else ""]
    shown = " · ".join(f for f in figures if f) or _("no score reported")
    sigma = "β" if paper.variance == "beta" else "β̃"
    return (_("**The paper's figures** for {data} ({source}): {figures}. Its authors sampled it with σ² = {sigma}.")
            .format(data=paper.title, source=paper.source, figures=shown, sigma=sigma))


def summary_markdown(entry: Entry) -> str:
    """What a checkpoint was trained on and how (or where it was imported from): Markdown."""
    s = entry.summary
    if s.imported_from is not None:
        lines = [_("**{name}** · imported from *{folder}* (a diffusers UNet2DModel) · {data}").format(
                     name=html.escape(entry.name), folder=html.escape(s.imported_from),
                     data=html.escape(s.data or _("unknown data"))),
                 _("{size}×{size} {colour} · U-Net ({params} parameters) · {schedule} β, T = {T} · "
                   "{prediction}-prediction").format(
                     size=s.image_size or "?", colour=kind(s.channels),
                     params=f"{s.parameters:,}" if s.parameters is not None else "?", schedule=s.schedule,
                     T=f"{s.timesteps:,}", prediction=s.prediction)]
        card = paper_card(s)
        return "\n\n".join(lines + ([card] if card else []))
    data = s.data or _("unknown data")
    if s.num_images is not None and s.num_held_out:
        counts = " " + _("({count} images, {held} held out)").format(count=f"{s.num_images:,}",
                                                                     held=f"{s.num_held_out:,}")
    else:
        counts = " " + _("({count} images)").format(count=f"{s.num_images:,}") if s.num_images is not None else ""
    lines = [_("**{name}** · trained {steps} steps on *{data}*{counts}").format(
                 name=html.escape(entry.name), steps=f"{s.step:,}", data=html.escape(data), counts=counts),
             _("{size}×{size} {colour} · U-Net *{preset}* ({params} parameters) · {schedule} β, T = {T} · "
               "{prediction}-prediction").format(
                 size=s.image_size or "?", colour=kind(s.channels), preset=html.escape(s.preset or _("custom")),
                 params=f"{s.parameters:,}" if s.parameters is not None else "?", schedule=s.schedule,
                 T=f"{s.timesteps:,}", prediction=s.prediction)]
    if s.classes:
        lines.append(classes_line(s))
    return "\n\n".join(lines)


def classes_line(s: CheckpointSummary) -> str:
    """'Class-conditional: 10 classes (0, 1, …) · trained with 20 % of labels dropped to ∅ (p_uncond = 0.2)'."""
    shown = ", ".join(s.classes[:12]) + (", …" if len(s.classes) > 12 else "")
    line = _("Class-conditional: {count} classes ({names})").format(count=len(s.classes), names=html.escape(shown))
    if s.p_uncond is not None:
        line += " · " + _("one label in {every} trained as the null class ∅ (p_uncond = {p:g})").format(
            every=f"{1 / s.p_uncond:.0f}" if s.p_uncond > 0 else "∞", p=s.p_uncond)
    return line


def class_choices(classes) -> list[tuple[str, str]]:
    """A class picker's choices for a conditional checkpoint: one row per class, no class (∅), each class."""
    return ([(_("One row per class"), ALL_CLASSES), (_("No class: unconditional (∅)"), NO_CLASS)]
            + [(_("class {name}").format(name=name), name) for name in classes])


def class_controls(summary: CheckpointSummary, request: str | None = None) -> tuple[gr.Dropdown, gr.Slider]:
    """The class picker and the guidance slider for this checkpoint: live for a conditional one (the request
    kept if it names one of its classes, else one row per class), disabled with the reason for the others."""
    if not summary.classes:
        reason = _("This checkpoint was trained without class labels: it cannot be steered to a class.")
        return (gr.Dropdown(choices=[(_("none: unconditional checkpoint"), NO_CLASS)], value=NO_CLASS,
                            interactive=False, info=reason),
                gr.Slider(interactive=False, info=reason))
    keep = request in (ALL_CLASSES, NO_CLASS, *summary.classes)
    value = request if keep else ALL_CLASSES
    return (gr.Dropdown(choices=class_choices(summary.classes), value=value, interactive=True,
                        info=_("{count} classes: {names}").format(count=len(summary.classes),
                                                                  names=", ".join(summary.classes))),
            guidance_slider(value))


def guidance_slider(request: str | None) -> gr.Slider:
    """The guidance slider for a conditional checkpoint's class request: disabled (with why) for no class."""
    if request == NO_CLASS:
        return gr.Slider(interactive=False, info=_("No class chosen: the null class ∅ needs no guidance."))
    return gr.Slider(interactive=True, info=_("w = 0: unconditional · 1: conditional · above 1: guided "
                                              "(default {w:g})").format(w=DEFAULT_GUIDANCE))
