"""The 2-D lab: points diffuse into N(0, I), a tiny network learns ε in seconds, and they flow back."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch

from ddpm_core.config import DiffusionConfig
from ddpm_core.data2d import SHAPES, sample_2d
from ddpm_core.diffusion import GaussianDiffusion, index_of, paper_t
from ddpm_core.distances import energy_distance, sliced_wasserstein
from ddpm_core.lab2d import MAX_TRAIN_STEPS, Train2DConfig, TrainProgress, reverse_2d, train_2d
from ddpm_core.mlp import DenoiserMLP
from ddpm_core.samplers import model_score
from server.jobs import Job, State, follow
from server.sessions import Session
from ui import code_panels, forms, plots, plots2d
from ui.errors import describe, error, user_errors
from ui.forms import Form
from ui.i18n import L, _
from ui.schedule_controls import build_schedule_controls, diffusion_for, integer, number

SHAPE_CHOICES = [("two moons", "two_moons"), ("swiss roll", "swiss_roll"), ("circles", "circles"),
                 ("8 Gaussians", "eight_gaussians"), ("checkerboard", "checkerboard"),
                 ("your image (its dark pixels)", "image"), ("your word", "text")]
assert {value for _, value in SHAPE_CHOICES} == set(SHAPES) | {"image", "text"}
TRAIN_POINTS = 20_000   # the training set; the animation shows the chosen number of points
METRIC_POINTS = 2_000   # the fit metric compares 2,000 generated with 2,000 fresh true points
MAX_SHOWN = 5_000       # points in an animation: each frame carries them all to the page
FRAMES = 21
PATHS = 5
PATH_POINTS = 120       # each drawn path keeps at most this many of its T positions
FIELD_GRID = 15
UPDATE_EVERY_S = 0.3


@dataclass
class Shape:
    """What the user asked for, enough to draw more points of it."""

    name: str
    image: str | None
    word: str | None
    seed: int

    def sample(self, n: int, seed_offset: int = 0) -> torch.Tensor:
        return sample_2d(self.name, n, self.seed + seed_offset, image=self.image, word=self.word)


@dataclass
class Trained:
    """A session's trained denoiser (the EMA weights) and the schedule it was trained with."""

    model: torch.nn.Module
    config: DiffusionConfig
    steps: int


@dataclass(frozen=True)
class ShapeForm:
    """Which points: the shape (or the user's image or word), how many are drawn, the seed, and the schedule."""

    name: str
    image: object
    word: str | None
    points: object
    seed: object
    diffusion: DiffusionConfig


@dataclass(frozen=True)
class Train2DForm:
    """How to train the MLP, and on which schedule."""

    steps: object
    batch_size: object
    lr: object
    ema_decay: object
    seed: object
    diffusion: DiffusionConfig


def _shape(form: ShapeForm) -> Shape:
    path = form.image.get("path") if isinstance(form.image, dict) else None
    return Shape(name=form.name, image=path, word=form.word, seed=integer(form.seed, "Seed", 0, 2**31 - 1))


# ---- forward ----------------------------------------------------------------------------------

def _path_stride(diffusion: GaussianDiffusion) -> int:
    return max(1, diffusion.num_timesteps // PATH_POINTS)


def forward_frames(diffusion: GaussianDiffusion, x0: torch.Tensor, seed: int) -> list[plots2d.Frame]:
    """Run the Markov chain (Eq. 2) on every point; keep evenly noisy frames and a few particles' paths."""
    keep = set(plots2d.noise_fraction_steps(diffusion.sqrt_one_minus_alphas_cumprod.numpy(), FRAMES))
    stride = _path_stride(diffusion)
    paths = [x0[:PATHS].numpy()]
    frames = [plots2d.Frame(0, x0.numpy(), [])]
    last = diffusion.num_timesteps - 1
    for index, x_t in diffusion.q_chain(x0.double(), last, torch.Generator().manual_seed(seed)):
        t = paper_t(index)
        if t % stride == 0 or t in keep:
            paths.append(x_t[:PATHS].numpy())
        if t in keep:
            frames.append(plots2d.Frame(t, x_t.numpy(), list(np.stack(paths, 1))))
    return frames


@user_errors
def show_forward(form: ShapeForm):
    """The chosen shape's points diffusing from t = 0 to T, as an animation."""
    shape = _shape(form)
    n = integer(form.points, "Number of points", 2, MAX_SHOWN)
    diffusion = diffusion_for(form.diffusion)
    frames = forward_frames(diffusion, shape.sample(n), shape.seed)
    title = _("Forward: q(x<sub>t</sub> | x<sub>t−1</sub>) applied {T} times to {n} points").format(
        T=diffusion.num_timesteps, n=f"{n:,}")
    return plots.as_plot(plots2d.cloud_animation(frames, title, opens_on=0)), shape


# ---- training ---------------------------------------------------------------------------------

def _train_config(form: Train2DForm) -> Train2DConfig:
    config = Train2DConfig(steps=integer(form.steps, "Steps", 1, MAX_TRAIN_STEPS),
                           batch_size=integer(form.batch_size, "Batch size", 1, 8192),
                           lr=number(form.lr, "Learning rate"), ema_decay=number(form.ema_decay, "EMA decay"),
                           seed=integer(form.seed, "Seed", 0, 2**31 - 1))
    config.check()
    return config


def _status(progress: TrainProgress, state: State = State.RUNNING) -> str:
    """The training line: running, done, or stopped at step k (a failure is shown as its message)."""
    rate = progress.step / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
    eta = (progress.steps - progress.step) / rate if rate > 0 else 0.0
    numbers = dict(step=f"{progress.step:,}", steps=f"{progress.steps:,}", loss=f"{progress.loss:.4f}",
                   rate=f"{rate:,.0f}", elapsed=f"{progress.elapsed_s:.1f}", eta=f"{eta:.0f}")
    if state is State.DONE:
        return _("✅ **Trained** step {step} / {steps} · loss {loss} · {rate} steps/s · {elapsed} s").format(**numbers)
    if state is State.STOPPED:
        return _("⏹ **Stopped at step {step}** of {steps} · loss {loss} · {elapsed} s: the model learnt so far "
                 "samples below").format(**numbers)
    return _("**Training** step {step} / {steps} · loss {loss} · {rate} steps/s · {elapsed} s elapsed · "
             "about {eta} s left").format(**numbers)


def lab_job(model: DenoiserMLP, diffusion: GaussianDiffusion, data: torch.Tensor, config: Train2DConfig) -> Job:
    """The session's "lab" job: train_2d in a thread, reporting each step's progress; returns the last."""
    def work(job: Job) -> TrainProgress | None:
        last = None
        for last in train_2d(model, diffusion, data, config):
            job.report(last, step=last.step)
            if job.stopping:
                break
        return last
    return Job("lab", work)


@user_errors
def train(shape: Shape | None, form: Train2DForm, session: Session):
    """Stream the loss curve while the MLP trains; the page keeps the EMA model (also after Stop)."""
    if shape is None:
        raise ValueError(_("Choose a shape first."))
    if session.busy("lab"):
        raise ValueError(_("The 2-D lab is already training in this session; press Stop first."))
    train_config = _train_config(form)
    data = shape.sample(TRAIN_POINTS, seed_offset=1)
    job = session.start("lab", lab_job(DenoiserMLP(), diffusion_for(form.diffusion), data, train_config))
    history_steps, losses = [], []
    for reports in follow(job, UPDATE_EVERY_S):
        history_steps += [p.step for p in reports]
        losses += [p.loss for p in reports]
        if reports and job.running:
            last = reports[-1]
            yield (plots.as_plot(plots2d.loss_figure(history_steps, losses)), _status(last),
                   Trained(last.model, form.diffusion, last.step))
    outcome, last = job.outcome, job.result
    if outcome.state is State.FAILED:
        raise error(describe(outcome.error))
    if last is None:
        raise ValueError(_("Stopped before the first training step: nothing was learnt."))
    yield (plots.as_plot(plots2d.loss_figure(history_steps, losses)), _status(last, outcome.state),
           Trained(last.model, form.diffusion, last.step))


START_STATUS = "Press **Train**: a small MLP learns ε in about 15 seconds."


@user_errors
def clear_results(session: Session | None):
    """Another shape or schedule: the model, its loss curve, the reverse flow and the fit belonged to the old
    one, so they go (a training still running for it is stopped)."""
    if session is not None:
        session.stop("lab")
    return None, _(START_STATUS), None, None, ""


def stop(session: Session | None) -> None:
    """Stop the session's 2-D training after its current step; the stream then samples what it learnt."""
    if session is not None:
        session.stop("lab")


# ---- reverse ----------------------------------------------------------------------------------

def _score_field(model: torch.nn.Module, diffusion: GaussianDiffusion, t: int) -> np.ndarray:
    """The learned score s_θ(x_t, t) = −ε̂/√(1−ᾱ_t) ≈ ∇log p_t on a grid at the paper's step t: (m, 4) rows
    x, y, s_x, s_y (the plot draws its direction and colours its size)."""
    axis = torch.linspace(-3, 3, FIELD_GRID)
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        score = model_score(model, diffusion, grid, index_of(max(t, 1)))
    return torch.cat([grid, score], 1).numpy()


def reverse_frames(trained: Trained, n: int, seed: int, field: bool, progress=None) -> list[plots2d.Frame]:
    diffusion = diffusion_for(trained.config)
    keep = set(plots2d.noise_fraction_steps(diffusion.sqrt_one_minus_alphas_cumprod.numpy(), FRAMES))
    frames, paths, stride = [], [], _path_stride(diffusion)
    for index, x in reverse_2d(trained.model, diffusion, n, seed=seed):
        t = paper_t(index)
        if t % stride == 0 or t in keep:
            paths.append(x[:PATHS].numpy())
        if t in keep:
            arrows = _score_field(trained.model, diffusion, t) if field else None
            frames.append(plots2d.Frame(t, x.numpy(), list(np.stack(paths, 1)), arrows))
        if progress is not None and t % 50 == 0:
            progress(1 - t / diffusion.num_timesteps, desc=_("sampling, t = {t}").format(t=t))
    return frames


def fit_markdown(generated: torch.Tensor, shape: Shape) -> str:
    """Sliced Wasserstein (and energy) distance to fresh data, beside the same between two true samples."""
    real, other = shape.sample(METRIC_POINTS, seed_offset=2), shape.sample(METRIC_POINTS, seed_offset=3)
    swd, floor = sliced_wasserstein(generated, real), sliced_wasserstein(other, real)
    energy, energy_floor = energy_distance(generated, real), energy_distance(other, real)
    ratio = swd / floor
    verdict = (_("✅ within 2× of the noise floor") if ratio <= 2
               else _("⏳ train longer to get within 2× of the floor"))
    header = (_("2,000 points"), _("sliced Wasserstein"), _("energy distance"))
    return (f"| {header[0]} | {header[1]} | {header[2]} |\n|---|---|---|\n"
            f"| {_('generated ↔ fresh data')} | {swd:.4f} | {energy:.5f} |\n"
            f"| {_('data ↔ fresh data (noise floor)')} | {floor:.4f} | {energy_floor:.5f} |\n"
            f"| {_('ratio')} | **{ratio:.2f}×** | {energy / max(energy_floor, 1e-12):.2f}× |\n\n{verdict}")


@user_errors
def sample(trained: Trained | None, shape: Shape | None, seed, field, progress=gr.Progress()):
    """Sample 2,000 points from N(0, I) back to the shape (Algorithm 2) and score the fit."""
    if trained is None or shape is None:
        raise ValueError(_("Train the model first (press Train)."))
    frames = reverse_frames(trained, METRIC_POINTS, integer(seed, "Seed", 0, 2**31 - 1) + 7, bool(field), progress)
    title = _("Reverse: p<sub>θ</sub>(x<sub>t−1</sub> | x<sub>t</sub>) from N(0, I), after {steps} training "
              "steps").format(steps=f"{trained.steps:,}")
    figure = plots2d.cloud_animation(frames, title, colour=plots.ORANGE, paths_shown=False)
    return plots.as_plot(figure), fit_markdown(torch.from_numpy(frames[-1].points), shape)


def _shape_inputs_visibility(name):
    return gr.Image(visible=name == "image"), gr.Textbox(visible=name == "text")


# ---- layout -------------------------------------------------------------------------------------

def build(demo: gr.Blocks, session: gr.State) -> None:
    """Lay out the 2-D lab inside `demo` and wire its events; `session` is the page's shared Session."""
    shape_state, trained_state = gr.State(None), gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            shape = gr.Dropdown(SHAPE_CHOICES, value="two_moons", label=L("Shape"), elem_id="lab-shape")
            image = gr.Image(label=L("Your image: its dark pixels become points"), type="filepath", visible=False,
                             sources=["upload", "clipboard"], height=180, elem_id="lab-image")
            word = gr.Textbox("DDPM", label=L("Your word"), max_length=16, visible=False, elem_id="lab-word")
            with gr.Row():
                points = gr.Slider(500, MAX_SHOWN, value=2000, step=100, label=L("Points"), elem_id="lab-points")
                seed = gr.Number(0, label=L("Seed"), precision=0, minimum=0, elem_id="lab-seed")
            controls = build_schedule_controls("lab")
            with gr.Accordion(L("Training settings"), open=False):
                with gr.Row():
                    steps = gr.Slider(100, 20_000, value=Train2DConfig.steps, step=100, label=L("Steps"),
                                      elem_id="lab-steps")
                    batch = gr.Slider(64, 4096, value=Train2DConfig.batch_size, step=64, label=L("Batch size"),
                                      elem_id="lab-batch")
                with gr.Row():
                    lr = gr.Number(Train2DConfig.lr, label=L("Learning rate (cosine decay)"), elem_id="lab-lr")
                    ema = gr.Number(Train2DConfig.ema_decay, label=L("EMA decay"), elem_id="lab-ema")
            with gr.Row():
                train_btn = gr.Button(L("Train"), variant="primary", elem_id="lab-train")
                stop_btn = gr.Button(L("Stop"), elem_id="lab-stop")
                sample_btn = gr.Button(L("Sample again"), elem_id="lab-sample")
            field = gr.Checkbox(False, label=L("Show the learned score field −ε̂/√(1−ᾱ_t)"),
                                elem_id="lab-field")
            status = gr.Markdown(L(START_STATUS),
                                 label=L("training status"), elem_id="lab-status")
        # One view at a time, each large (a projector shows the whole of it): the page turns to the loss curve
        # when training starts and to the reverse flow when it has sampled.
        with gr.Column(scale=3, min_width=420), gr.Tabs(elem_id="lab-views") as views:
            with gr.Tab(L("Forward"), id="forward"):
                forward_plot = gr.Plot(label=L("Forward process"), show_label=False, elem_id="lab-forward")
            with gr.Tab(L("Training loss"), id="loss"):
                loss_plot = gr.Plot(label=L("Training loss"), show_label=False, elem_id="lab-loss")
            with gr.Tab(L("Reverse"), id="reverse"):
                reverse_plot = gr.Plot(label=L("Reverse process"), show_label=False, elem_id="lab-reverse")
                fit = gr.Markdown(label=L("fit"), elem_id="lab-fit")
    code_panels.build("p_theta", "score")

    shape_form = Form(ShapeForm, name=shape, image=image, word=word, points=points, seed=seed, diffusion=controls)
    train_form = Form(Train2DForm, steps=steps, batch_size=batch, lr=lr, ema_decay=ema, seed=seed, diffusion=controls)
    forward = dict(**shape_form.event(show_forward), outputs=[forward_plot, shape_state], preprocess=False,
                   trigger_mode="always_last", show_progress="minimal")
    gr.on([shape.change, image.change, word.submit, points.release, seed.submit, *(c.change for c in controls.inputs)],
          **forward, api_visibility="private")
    demo.load(**forward, api_name="lab_forward")
    shape.change(_shape_inputs_visibility, shape, [image, word], api_visibility="private", show_progress="hidden")
    gr.on([shape.change, image.change, word.submit, *(c.change for c in controls.inputs)], clear_results, session,
          [loss_plot, status, trained_state, reverse_plot, fit], api_visibility="private", show_progress="hidden"
          ).then(lambda: gr.Tabs(selected="forward"), None, views, api_visibility="private", show_progress="hidden")

    sample_inputs = [trained_state, shape_state, seed, field]
    sample_outputs = [reverse_plot, fit]
    train_btn.click(lambda: gr.Tabs(selected="loss"), None, views, api_visibility="private", show_progress="hidden",
                    queue=False)
    training = train_btn.click(**forms.event(train, shape_state, train_form, session),
                               outputs=[loss_plot, status, trained_state], preprocess=False, concurrency_id="lab_train",
                               concurrency_limit=2, show_progress_on=[status], api_name="lab_train")
    show_reverse = dict(fn=lambda: gr.Tabs(selected="reverse"), inputs=None, outputs=views, api_visibility="private",
                        show_progress="hidden", queue=False)
    training.success(**show_reverse).then(sample, sample_inputs, sample_outputs, preprocess=False,
                                          api_visibility="private")
    stop_btn.click(stop, session, None, api_name="lab_stop", show_progress="hidden", queue=False)
    sample_btn.click(**show_reverse).then(sample, sample_inputs, sample_outputs, preprocess=False,
                                          api_name="lab_sample")
