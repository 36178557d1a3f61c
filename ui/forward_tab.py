"""The Forward tab: watch q(x_t | x_0) dissolve an image into Gaussian noise as t moves."""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from ddpm_core.config import DiffusionConfig
from ddpm_core.diffusion import GaussianDiffusion, index_of
from ddpm_core.images import FITS, MAX_RESOLUTION, MIN_RESOLUTION, load_image, to_uint8
from ddpm_core.schedules import MAX_TIMESTEPS, SCHEDULES
from ui import code_panels, forms, i18n, plots, scrub
from ui.forms import Form
from ui.errors import user_errors
from ui.i18n import L, _
from ui.schedule_controls import build_schedule_controls, diffusion_for, integer

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = sorted(str(p) for p in ASSETS.iterdir() if p.suffix in (".png", ".jpg"))
DEFAULT_IMAGE = str(ASSETS / "shapes.png")
STRIP_FRAMES = 8
# Terminal SNR above −30 dB (√ᾱ_T > 0.032) leaves the image visible at t = T.
TERMINAL_SNR_WARNING = 1e-3
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
_EQ2 = "$x_s = \\sqrt{1-\\beta_s}\\,x_{s-1} + \\sqrt{\\beta_s}\\,\\epsilon_s$"
_EQ4 = "$x_t = \\sqrt{\\bar\\alpha_t}\\,x_0 + \\sqrt{1-\\bar\\alpha_t}\\,\\epsilon$"
MARKOV_EN = (f"Eq. 2 adds a little noise t times: {_EQ2}. Eq. 4 jumps straight to {_EQ4}. "
             "Both give the same distribution.")
MARKOV_KO = (f"Eq. 2는 노이즈를 조금씩 t번 더합니다: {_EQ2}. Eq. 4는 한 번에 {_EQ4}로 건너뜁니다. "
             "두 방법의 분포는 같습니다.")


@dataclass
class ForwardImage:
    """One session's x_0 and its fixed noise realisation ε (both (C, H, W) in model space)."""

    x0: torch.Tensor
    eps: torch.Tensor
    seed: int
    path: str = DEFAULT_IMAGE  # the file it came from: what the view returns to after a bad upload

    @property
    def x0_uint8(self) -> np.ndarray:
        return to_uint8(self.x0)


@functools.lru_cache(maxsize=64)
def schedule_curves(configs: tuple[DiffusionConfig, ...], language: str = i18n.DEFAULT) -> dict:
    """The schedule figure's curves, built once per schedule (pair) and language and shared by every session.

    Pass `i18n.current()`: the figure's titles and names are in that language.
    """
    with i18n.language_scope(language):
        return plots.schedule_curves([(c.schedule, diffusion_for(c)) for c in configs])


def comparison_config(config: DiffusionConfig, other: str) -> DiffusionConfig | None:
    """Schedule B for the overlay: its own default parameters, the same T and rescale choice."""
    if other in (None, "", "none") or other == config.schedule:
        return None
    return DiffusionConfig(schedule=other, timesteps=config.timesteps, rescale=config.rescale)


# ---- the computations behind each view -----------------------------------------------------------

def make_noise(shape, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(shape, generator=generator)


def x_t_of(image: ForwardImage, diffusion: GaussianDiffusion, t: int) -> torch.Tensor:
    """x_t of the session's image with its fixed ε; t = 0 is x_0 itself (paper convention)."""
    if t == 0:
        return image.x0
    return diffusion.q_sample(image.x0[None], index_of(t), image.eps[None])[0]


def _check_t(t, diffusion: GaussianDiffusion) -> int:
    return integer(t, "t", 0, diffusion.num_timesteps)


def equation_markdown(diffusion: GaussianDiffusion, t: int) -> str:
    if t == 0:
        return _("$$x_0 \\text{ is the clean image: } \\bar\\alpha_0 = 1,\\ "
                 "q(x_0 \\mid x_0) = \\delta(x_0)$$\nMove *t* to add noise.")
    i = index_of(t)
    abar, beta = float(diffusion.alphas_cumprod[i]), float(diffusion.betas[i])
    a, b = math.sqrt(abar), math.sqrt(1 - abar)
    return (
        f"$$q(x_{{{t}}} \\mid x_0) = \\mathcal{{N}}\\!\\big(x_{{{t}}};\\ \\sqrt{{\\bar\\alpha_{{{t}}}}}\\,x_0,\\ "
        f"(1-\\bar\\alpha_{{{t}}})\\,\\mathbf{{I}}\\big) = \\mathcal{{N}}\\!\\big(x_{{{t}}};\\ {a:.4f}\\,x_0,\\ "
        f"{1 - abar:.4f}\\,\\mathbf{{I}}\\big)$$\n"
        f"$$x_{{{t}}} = {a:.4f}\\,x_0 + {b:.4f}\\,\\epsilon,\\quad \\epsilon \\sim \\mathcal{{N}}(0, \\mathbf{{I}})$$\n"
        f"$$\\bar\\alpha_{{{t}}} = \\prod_{{s=1}}^{{{t}}} (1-\\beta_s) = {abar:.6g},\\quad "
        f"\\beta_{{{t}}} = {beta:.6g}$$"
    )


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two same-shaped tensors' values (0 when either is constant)."""
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else 0.0


def stats_markdown(image: ForwardImage | None, diffusion: GaussianDiffusion, t: int, x_t: torch.Tensor | None) -> str:
    if t == 0:
        signal, snr_text = 1.0, "∞"
    else:
        signal, snr = float(diffusion.sqrt_alphas_cumprod[index_of(t)]), float(diffusion.snr[index_of(t)])
        snr_text = f"{snr:.4g} ({10 * math.log10(snr):+.1f} dB)"
    rows = [f"| {_('signal fraction √ᾱ_t')} | {signal:.4f} |",
            f"| {_('noise fraction √(1−ᾱ_t)')} | {math.sqrt(1 - signal ** 2):.4f} |",
            f"| SNR(t) = ᾱ_t/(1−ᾱ_t) | {snr_text} |"]
    if image is not None and x_t is not None:
        corr = _correlation(x_t, image.x0)
        rows += [f"| {_('mean, std of x_t pixels')} | {float(x_t.mean()):+.3f}, {float(x_t.std()):.3f}  "
                 f"{_('(pure noise: 0, 1)')} |",
                 f"| {_('correlation of x_t with x_0')} | {corr:.3f}  {_('(pure noise: 0)')} |"]
    header = f"| {_('how far from pure noise')} | {_('at t = {t}').format(t=t)} |\n|---|---|\n"
    return header + "\n".join(rows)


def terminal_markdown(diffusion: GaussianDiffusion, config: DiffusionConfig) -> str:
    """Whether t = T leaves signal, with advice that fits the settings (rescaling is offered only when off)."""
    T, snr_T = diffusion.num_timesteps, float(diffusion.snr[-1])
    signal = float(diffusion.sqrt_alphas_cumprod[-1])
    if snr_T > TERMINAL_SNR_WARNING:
        if config.schedule == "cosine":
            advice = _("Raise T.")
        elif config.rescale:
            advice = _("Raise T or β_T.")
        else:
            advice = _("Raise T or β_T, or turn on rescaling.")
        return _("⚠️ **Signal is left at t = T = {T}:** √ᾱ_T = {signal}, SNR = {snr_db} dB. "
                 "Sampling starts from pure N(0, I), which this schedule never reaches, so a model trained on it "
                 "meets inputs it has not seen.").format(
            T=T, signal=f"{signal:.3f}", snr_db=f"{10 * math.log10(snr_T):.1f}") + " " + advice
    return _("✅ At t = T = {T} the image is gone: √ᾱ_T = {signal}, SNR = {snr_db} dB.").format(
        T=T, signal=f"{signal:.2g}", snr_db=f"{10 * math.log10(snr_T):.0f}")


def strip_frames(image: ForwardImage, diffusion: GaussianDiffusion) -> list[tuple[np.ndarray, str]]:
    T = diffusion.num_timesteps
    steps = sorted(set(np.linspace(0, T, STRIP_FRAMES).round().astype(int).tolist()))
    return [(to_uint8(x_t_of(image, diffusion, t)), f"t = {t}") for t in steps]


# ---- callbacks (thin: parse, call the core, format) ----------------------------------------------

def _load(path: str, resolution, colour, seed, fit) -> ForwardImage:
    resolution = integer(resolution, "Resolution", MIN_RESOLUTION, MAX_RESOLUTION)
    seed = integer(seed, "Seed", 0, 2**31 - 1)
    x0 = load_image(path, resolution, channels=1 if colour == "grey" else 3, fit=fit if fit in FITS else "pad")
    return ForwardImage(x0=x0, eps=make_noise(x0.shape, seed), seed=seed, path=path)


@user_errors
def load(payload, resolution, colour, seed, fit) -> ForwardImage:
    """Read the uploaded or example image at the working resolution, made square by `fit`, and draw its noise.

    No image (the ✕ of the picture) is the bundled default example; a bad one raises its message, and the
    view returns to the last good image (`restore`)."""
    if not payload:
        return _load(DEFAULT_IMAGE, resolution, colour, seed, fit)
    path = payload.get("path") if isinstance(payload, dict) else None
    if not path:
        raise ValueError(_("The image did not arrive as a file; please upload it again."))
    return _load(path, resolution, colour, seed, fit)


def restore(image: ForwardImage | None):
    """The picture shown again as the session's last good x_0 (or the default example): after a bad upload,
    or after ✕, the input, x_0 and x_t agree again."""
    return gr.update(value=image.path if image is not None else DEFAULT_IMAGE)


@user_errors
def new_noise(image: ForwardImage | None):
    """Draw a fresh seed (and ε) for the same x_0."""
    seed = int(torch.randint(0, 2**31 - 1, ()).item())
    if image is None:
        return None, seed
    return ForwardImage(x0=image.x0, eps=make_noise(image.x0.shape, seed), seed=seed, path=image.path), seed


@dataclass(frozen=True)
class Step:
    """A step t of a schedule, as the page sends them (the six schedule controls read as one DiffusionConfig)."""

    t: object
    diffusion: DiffusionConfig


@dataclass(frozen=True)
class View:
    """What the views show: the step t, the schedule compared with (or "none"), and the schedule."""

    t: object
    compare: str | None
    diffusion: DiffusionConfig


def _curves_at(view: View):
    """(t checked against T, [(name, diffusion)] for the schedule and the comparison, their configs)."""
    config = view.diffusion
    other = comparison_config(config, view.compare)
    configs = (config, other) if other else (config,)
    curves = [(c.schedule, diffusion_for(c)) for c in configs]
    return _check_t(view.t, curves[0][1]), curves, configs


def _images(image, t, curves, browser):
    """x_t, and x_t under the comparison schedule, as server images; skipped while the page composes them."""
    if browser:
        return gr.skip(), gr.skip()
    x_t = None if image is None else to_uint8(x_t_of(image, curves[0][1], t))
    other = curves[1] if len(curves) > 1 else None
    x_t_b = None if image is None or other is None else to_uint8(x_t_of(image, other[1], t))
    # gr.update, not gr.Image(value=...): a component built with a value encodes it on the spot.
    label = (_("x_{t} under the {schedule} schedule").format(t=t, schedule=other[0]) if other
             else _("no comparison schedule"))
    return x_t, gr.update(value=x_t_b, label=label)


def _views(image, t, curves, configs):
    """The schedule plot with its markers, the histogram, the equation and the statistics at t."""
    diffusion = curves[0][1]
    x_t = x_t_of(image, diffusion, t) if image is not None else None
    histogram = None if x_t is None else plots.as_plot(plots.histogram_figure(x_t.numpy(), t))
    base = schedule_curves(configs, i18n.current())
    return (plots.as_plot(plots.schedule_figure(base, curves, t)), histogram,
            equation_markdown(diffusion, t), stats_markdown(image, diffusion, t, x_t))


@user_errors
def images_at_t(image, view: View, browser):
    """Server-rendered x_t for both schedules (only when the browser does not compose them)."""
    t, curves, _configs = _curves_at(view)
    return _images(image, t, curves, browser)


@user_errors
def views_at_t(image, view: View):
    """Everything else that moves with t: plot markers, histogram, equation, statistics."""
    t, curves, configs = _curves_at(view)
    return _views(image, t, curves, configs)


@user_errors
def render_all(image, view: View, browser):
    """The whole tab: the views at t plus what depends on image, seed and schedule (strip, scrub data, warning)."""
    t, curves, configs = _curves_at(view)
    diffusion = curves[0][1]
    strip = strip_frames(image, diffusion) if image is not None else []
    payload = None if image is None else scrub.scrub_payload(image.x0_uint8, image.eps, t, curves)
    held = None if image is None else image.x0_uint8  # x_0 exactly as the model's space holds it
    return (*_images(image, t, curves, browser), *_views(image, t, curves, configs), strip, payload,
            terminal_markdown(diffusion, configs[0]), held)


@user_errors
def forward(image, step: Step):
    """API: x_t at t for the session's image, as an image, with its numbers."""
    if image is None:
        raise ValueError(_("Load an image first (upload one or pick an example)."))
    diffusion = diffusion_for(step.diffusion)
    t = _check_t(step.t, diffusion)
    abar = 1.0 if t == 0 else float(diffusion.alphas_cumprod[index_of(t)])
    info = {"t": t, "T": diffusion.num_timesteps, "alpha_bar": abar, "sqrt_alpha_bar": math.sqrt(abar),
            "snr": None if t == 0 else float(diffusion.snr[index_of(t)]), "seed": image.seed}
    return to_uint8(x_t_of(image, diffusion, t)), info


@user_errors
def markov_vs_closed(image, step: Step):
    """The same t reached by t single Markov steps (Eq. 2) and by the closed form (Eq. 4)."""
    if image is None:
        raise ValueError(_("Load an image first (upload one or pick an example)."))
    diffusion = diffusion_for(step.diffusion)
    t = _check_t(step.t, diffusion)
    if t == 0:
        raise ValueError(_("Move t above 0: at t = 0 both routes are x_0 itself."))
    generator = torch.Generator().manual_seed(image.seed + 1)  # a different ε than the main view
    start = time.perf_counter()
    x0, index = image.x0[None], index_of(t)
    chain = diffusion.q_sample_chain(x0, index, generator=generator)
    chain_s = time.perf_counter() - start
    start = time.perf_counter()
    closed = diffusion.q_sample(x0, index, generator=generator)
    closed_s = time.perf_counter() - start
    # the ε each route amounts to, (x_t − √ᾱ_t x_0)/√(1 − ᾱ_t): N(0, I) for both if they agree in distribution
    z_chain, z_closed = (diffusion.predict_eps_from_x0(x, index, x0)[0] for x in (chain, closed))
    chain, closed = chain[0], closed[0]
    n = z_chain.numel()
    table = (f"| {_('route')} | {_('mean of (x_t − √ᾱ_t x_0)/√(1−ᾱ_t)')} | {_('its std')} | {_('time')} |\n"
             "|---|---|---|---|\n"
             f"| {_('{t} Markov steps, Eq. 2').format(t=t)} | {float(z_chain.mean()):+.4f} | "
             f"{float(z_chain.std()):.4f} | {chain_s * 1e3:.1f} ms |\n"
             f"| {_('closed form, Eq. 4')} | {float(z_closed.mean()):+.4f} | {float(z_closed.std()):.4f} | "
             f"{closed_s * 1e3:.2f} ms |\n"
             f"| {_('what both must give')} | 0 ± {2 / math.sqrt(n):.4f} | 1 ± {2 * math.sqrt(0.5 / n):.4f} | |\n\n"
             + _("Both are draws from the same Gaussian, so the pictures differ pixel by pixel but agree in "
                 "distribution (the ± are two standard errors for this many pixels)."))
    figure = plots.residual_figure(z_chain.numpy(), z_closed.numpy(), t)
    return to_uint8(chain), to_uint8(closed), table, plots.as_plot(figure)


def on_timesteps_change(timesteps, t):
    """Keep the t slider within the new T."""
    try:
        T = integer(timesteps, "T", 1, MAX_TIMESTEPS)
    except ValueError:
        return gr.Slider()
    return gr.Slider(maximum=T, value=min(int(t or 0), T))


def on_mode_change(browser: bool):
    return gr.HTML(visible=browser), gr.Image(visible=not browser), gr.Image(visible=not browser)


# ---- layout ------------------------------------------------------------------------------------

def build(demo: gr.Blocks) -> None:
    """Lay out the Forward tab inside `demo` and wire its events (the first view renders on page load)."""
    state = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            image_in = gr.Image(value=DEFAULT_IMAGE, label=L("x₀: your image (upload or paste)"), type="filepath",
                                sources=["upload", "clipboard"], height=220, elem_id="fwd-image")
            examples = gr.Examples(EXAMPLES, inputs=image_in, label=L("Bundled examples"), examples_per_page=8)
            with gr.Row():
                resolution = gr.Slider(MIN_RESOLUTION, MAX_RESOLUTION, value=256, step=32,
                                       label=L("Working resolution (px)"), elem_id="fwd-res")
                colour = gr.Radio(["colour", "grey"], value="colour", label=L("Channels"), elem_id="fwd-colour")
            with gr.Row(equal_height=True):
                fit = gr.Radio([("pad: keep all of it", "pad"), ("crop the centre", "crop")], value="pad",
                               label=L("Not square?"), elem_id="fwd-fit", scale=3)
                held = gr.Image(label=L("x₀ in the model's space"), format="png", interactive=False, height=120,
                                buttons=[], elem_id="fwd-x0", scale=2, min_width=120)
            controls = build_schedule_controls("fwd")
            compare = gr.Dropdown(["none"] + sorted(SCHEDULES), value="cosine", label=L("Compare with schedule"),
                                  elem_id="fwd-compare")
            with gr.Row():
                seed = gr.Number(0, label=L("Noise seed"), precision=0, minimum=0, elem_id="fwd-seed")
                noise_btn = gr.Button(L("🎲 New noise"), elem_id="fwd-noise")
            browser_mode = gr.Checkbox(True, label=L("Compose x_t in the browser (instant scrubbing)"),
                                       elem_id="fwd-browser")
        with gr.Column(scale=3, min_width=420):
            t = gr.Slider(0, 1000, value=250, step=1, label=L("t (0 = clean image, T = pure noise)"), elem_id="fwd-t")
            t_settled = gr.Number(250, label="t", visible=False)  # the t the server's views show
            t_server = gr.Number(250, label="t", visible=False)   # the t of the server's x_t (server mode)
            released = gr.Checkbox(True, visible=False)           # tells VIEWS_JS the pointer let go
            scrub_view = gr.HTML(None, html_template=scrub.HTML_TEMPLATE, css_template=scrub.CSS_TEMPLATE,
                                 js_on_load=scrub.JS_ON_LOAD, elem_id="fwd-scrub")
            with gr.Row():
                x_t_img = gr.Image(label=L("x_t (server)"), format="jpeg", interactive=False, visible=False,
                                   buttons=["download"], elem_id="fwd-xt")
                x_t_b_img = gr.Image(label=L("x_t under the comparison schedule"), format="jpeg", interactive=False,
                                     visible=False, buttons=[], elem_id="fwd-xt-b")
            equation = gr.Markdown(latex_delimiters=LATEX, label=L("equation"), elem_id="fwd-equation")
            with gr.Row(elem_id="fwd-stats-row"):
                stats = gr.Markdown(label=L("statistics"), elem_id="fwd-stats")
                histogram = gr.Plot(label=L("Pixel histogram"), elem_id="fwd-hist", show_label=False)
            terminal = gr.Markdown(label=L("terminal check"), elem_id="fwd-terminal")
    strip = gr.Gallery(label=L("x_t at evenly spaced t"), columns=STRIP_FRAMES, rows=1, height=190,
                       object_fit="contain", format="jpeg", allow_preview=True, elem_id="fwd-strip")
    schedule_plot = gr.Plot(label=L("Schedule curves"), elem_id="fwd-curves")
    code_panels.build("q_sample")
    with gr.Accordion(L("Markov chain vs closed form: reach t by t single steps, or in one"), open=False):
        gr.Markdown(i18n.bilingual(MARKOV_EN, MARKOV_KO), latex_delimiters=LATEX)
        chain_btn = gr.Button(L("Run both routes at the current t"), elem_id="fwd-chain-btn")
        with gr.Row():
            chain_img = gr.Image(label=L("t Markov steps (Eq. 2)"), format="png", interactive=False, elem_id="fwd-chain")
            closed_img = gr.Image(label=L("closed form (Eq. 4)"), format="png", interactive=False, elem_id="fwd-closed")
            chain_plot = gr.Plot(label=L("residuals"), show_label=False, elem_id="fwd-chain-plot")
        chain_table = gr.Markdown(label=L("chain statistics"), elem_id="fwd-chain-table")
        code_panels.build("q_step")

    sched_inputs = controls.inputs
    image_outputs = [x_t_img, x_t_b_img]
    view_outputs = [schedule_plot, histogram, equation, stats]
    all_outputs = image_outputs + view_outputs + [strip, scrub_view, terminal, held]
    view_at = lambda when: Form(View, t=when, compare=compare, diffusion=controls)  # noqa: E731
    step_at_t = Form(Step, t=t, diffusion=controls)
    # preprocess=False: the callbacks validate raw values against the session's real T themselves
    # (Gradio would check t against the slider's initial maximum).
    render = dict(**forms.event(render_all, state, view_at(t), browser_mode), outputs=all_outputs,
                  show_progress="hidden", preprocess=False, api_visibility="private")

    load_inputs = [image_in, resolution, colour, seed, fit]
    load_opts = dict(fn=load, inputs=load_inputs, outputs=state, preprocess=False, show_progress="minimal")
    back = dict(fn=restore, inputs=state, outputs=image_in, api_visibility="private", show_progress="hidden")

    def loading(trigger, **options):
        """Load, then draw everything; a bad image (its message shown) puts the last good one back."""
        event = trigger(**load_opts, **options)
        event.success(**render)
        event.failure(**back).then(**render)
    # Not image_in.change: Gradio fires it twice per upload. Uploads, clearing and examples instead. ✕ brings
    # the default example back (the input shows it again), so x_0, x_t and the histogram never go blank.
    loading(image_in.upload, api_name="load_image")
    image_in.clear(**load_opts, api_visibility="private").success(**back).success(**render)
    loading(examples.load_input_event.then, api_visibility="private")
    loading(demo.load, api_visibility="private")
    for trigger in (resolution.change, colour.change, seed.submit, fit.change):
        loading(trigger, api_visibility="private", trigger_mode="always_last")
    noise_btn.click(new_noise, state, [state, seed], api_name="new_noise").success(**render)
    for control in [controls.schedule, *sched_inputs[2:], compare]:
        control.change(**render, trigger_mode="always_last")
    controls.timesteps.change(on_timesteps_change, [controls.timesteps, t], t, trigger_mode="always_last",
                              api_visibility="private").then(**render)
    # The page decides which t the server hears (see scrub.IMAGE_JS and scrub.VIEWS_JS): t_server for the
    # server's x_t (server mode only) and t_settled for the views (throttled while the page composes x_t).
    for trigger in (t.input, t.change):
        trigger(None, t, t_server, js=scrub.IMAGE_JS, api_visibility="private")
        trigger(None, t, t_settled, js=scrub.VIEWS_JS, api_visibility="private")
    t.release(None, [t, released], t_settled, js=scrub.VIEWS_JS, api_visibility="private")
    t_settled.change(**forms.event(views_at_t, state, view_at(t_settled)), outputs=view_outputs,
                     trigger_mode="always_last", show_progress="hidden", preprocess=False, api_name="views_at_t")
    t_server.change(**forms.event(images_at_t, state, view_at(t_server), browser_mode), outputs=image_outputs,
                    trigger_mode="always_last", show_progress="hidden", preprocess=False, api_visibility="private")
    browser_mode.change(on_mode_change, browser_mode, [scrub_view, x_t_img, x_t_b_img],
                        api_visibility="private").then(**render)
    chain_btn.click(**forms.event(markov_vs_closed, state, step_at_t),
                    outputs=[chain_img, closed_img, chain_table, chain_plot], preprocess=False,
                    api_name="markov_vs_closed")
    # API only: x_t as an exact PNG plus its numbers, for scripts and tests.
    api_out, api_info = gr.Image(format="png", visible=False), gr.JSON(visible=False)
    gr.Button(visible=False).click(**forms.event(forward, state, step_at_t), outputs=[api_out, api_info],
                                   preprocess=False, api_name="forward")
