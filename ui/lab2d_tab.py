"""The 2-D lab: points diffuse into N(0, I), a tiny network learns ε in seconds, and they flow back; the continuous
view beside it: the same chain as an SDE, its reverse SDE against the probability-flow ODE, flow matching, and fit
against the number of network evaluations."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial

import gradio as gr
import numpy as np
import torch

from ddpm_core.config import DiffusionConfig
from ddpm_core.data2d import SHAPES, sample_2d
from ddpm_core.diffusion import GaussianDiffusion, index_of, paper_t
from ddpm_core.distances import energy_distance, sliced_wasserstein
from ddpm_core.lab2d import (MAX_TRAIN_STEPS, NFE_BUDGETS, Paths2D, Train2DConfig, TrainProgress,
                             fit_against_evaluations, paths_2d, reverse_2d, steps_within, straightness, train_2d,
                             train_flow_2d)
from ddpm_core.mlp import DenoiserMLP
from ddpm_core.samplers import model_score
from ddpm_core.sde import beta, forward_sde_chain
from server.jobs import Job, State, follow
from server.sessions import Session
from ui import code_panels, forms, plots, plots2d
from ui.code_panels import LATEX
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
    """A session's trained denoiser (the EMA weights), the schedule it was trained with, and its loss per step."""

    model: torch.nn.Module
    config: DiffusionConfig
    steps: int
    loss_steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


@dataclass
class FlowTrained:
    """A session's flow-matching network (the EMA weights of the same MLP, trained on the same data with the same
    settings), and its loss per step."""

    model: torch.nn.Module
    steps: int
    loss_steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


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


def _status(progress: TrainProgress, state: State = State.RUNNING, flow: bool = False) -> str:
    """The training line of the ε-network (or, with `flow`, of flow matching): running, done, or stopped at step k
    (a failure is shown as its message)."""
    rate = progress.step / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
    eta = (progress.steps - progress.step) / rate if rate > 0 else 0.0
    numbers = dict(step=f"{progress.step:,}", steps=f"{progress.steps:,}", loss=f"{progress.loss:.4f}",
                   rate=f"{rate:,.0f}", elapsed=f"{progress.elapsed_s:.1f}", eta=f"{eta:.0f}")
    if flow:
        return _flow_status(numbers, state)
    if state is State.DONE:
        return _("✅ **Trained** step {step} / {steps} · loss {loss} · {rate} steps/s · {elapsed} s").format(**numbers)
    if state is State.STOPPED:
        return _("⏹ **Stopped at step {step}** of {steps} · loss {loss} · {elapsed} s: the model learnt so far "
                 "samples below").format(**numbers)
    return _("**Training** step {step} / {steps} · loss {loss} · {rate} steps/s · {elapsed} s elapsed · "
             "about {eta} s left").format(**numbers)


def _flow_status(numbers: dict, state: State) -> str:
    if state is State.DONE:
        return _("✅ **Trained with flow matching** step {step} / {steps} · loss {loss} · {rate} steps/s · "
                 "{elapsed} s").format(**numbers)
    if state is State.STOPPED:
        return _("⏹ **Stopped at step {step}** of {steps} · loss {loss} · {elapsed} s: the flow learnt so far is "
                 "compared below").format(**numbers)
    return _("**Training with flow matching** step {step} / {steps} · loss {loss} · {rate} steps/s · {elapsed} s "
             "elapsed · about {eta} s left").format(**numbers)


def lab_job(training: Iterator[TrainProgress]) -> Job:
    """The session's "lab" job: one training (the ε-network's or flow matching's) in a thread, reporting each
    step's progress; returns the last."""
    def work(job: Job) -> TrainProgress | None:
        last = None
        for last in training:
            job.report(last, step=last.step)
            if job.stopping:
                break
        return last
    return Job("lab", work)


@dataclass
class LabGenerations:
    """How often the session's 2-D data (shape or schedule) and its networks have changed. A stream that began
    before a change ends on the cleared view instead of showing what it made for the old data or networks."""

    data: int = 0      # clear_results: another shape or schedule
    networks: int = 0  # clear_fit: a network is being trained again (or the data changed)


@dataclass(frozen=True)
class TrainingUpdate:
    """One update of a lab training's stream: its status line, and the network so far with its loss per step.
    `progress` is None when only the status line changed (the training failed, or stopped before its first step);
    `cleared`: the shape or schedule changed meanwhile, so the training's views stay as clear_results left them."""

    status: str
    state: State
    progress: TrainProgress | None = None
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    cleared: bool = False


BUSY = "The 2-D lab is already training in this session; press Stop first."


def follow_training(session: Session, training: Iterator[TrainProgress],
                    status_of: Callable[[TrainProgress, State], str]) -> Iterator[TrainingUpdate]:
    """Run `training` as the session's "lab" job and yield its updates while it runs, then one with how it ended:
    done or stopped, or why it failed (then the error is raised too, for the page's message)."""
    if session.busy("lab"):
        raise ValueError(_(BUSY))
    generations = session.state(LabGenerations)
    begun = generations.data
    job = session.start("lab", lab_job(training))
    steps, losses = [], []
    with closing(follow(job, UPDATE_EVERY_S)) as stream:  # closed early (the page went away): the job stops
        for reports in stream:
            if generations.data != begun:
                break
            steps += [p.step for p in reports]
            losses += [p.loss for p in reports]
            if reports and job.running:
                yield TrainingUpdate(status_of(reports[-1], State.RUNNING), State.RUNNING, reports[-1], steps, losses)
    if generations.data != begun:  # clear_results has stopped the job and cleared its views: they stay so
        yield TrainingUpdate("", State.STOPPED, cleared=True)
        return
    if job.outcome.state is State.FAILED:
        message = describe(job.outcome.error)
        yield TrainingUpdate("❌ " + message, State.FAILED)
        raise error(message)
    if job.result is None:
        message = _("Stopped before the first training step: nothing was learnt.")
        yield TrainingUpdate("⏹ " + message, State.STOPPED)
        raise error(message)
    yield TrainingUpdate(status_of(job.result, job.outcome.state), job.outcome.state, job.result, steps, losses)


@user_errors
def train(shape: Shape | None, form: Train2DForm, session: Session):
    """Stream the loss curve while the MLP trains; the page keeps the EMA model (also after Stop)."""
    if shape is None:
        raise ValueError(_("Choose a shape first."))
    if session.busy("lab"):
        raise ValueError(_(BUSY))
    train_config = _train_config(form)
    data = shape.sample(TRAIN_POINTS, seed_offset=1)
    training = train_2d(DenoiserMLP(), diffusion_for(form.diffusion), data, train_config)
    for update in follow_training(session, training, _status):
        if update.cleared:
            yield None, _(START_STATUS), None
        elif update.progress is None:
            yield gr.skip(), update.status, gr.skip()
        else:
            yield (plots.as_plot(plots2d.loss_figure(update.steps, update.losses)), update.status,
                   Trained(update.progress.model, form.diffusion, update.progress.step, update.steps, update.losses))


def reverse_after_training(trained: Trained | None):
    """Turn to the reverse view when training has left a network; else end the chain here, quietly (the shape or
    schedule changed during training, and clear_results has cleared its views)."""
    if trained is None:
        raise gr.Error("no network to sample", visible=False, print_exception=False)
    return gr.Tabs(selected="reverse")


START_STATUS = "Press **Train**: a small MLP learns ε in about 15 seconds."
FLOW_START = ("Press **Train with flow matching**: the same MLP learns a velocity on the same data, with the same "
              "training settings.")
FIT_START = ("Press **Measure**: each sampler draws 1,000 points from the same noise at 5 to 1,000 network "
             "evaluations, scored against fresh data.")


@user_errors
def clear_results(session: Session | None):
    """Another shape or schedule: the networks, their loss curves, the reverse flow, the SDE and ODE paths, flow
    matching's comparison and the fits belonged to the old one, so they go (work still running for it stops, and
    its stream ends on the cleared views).

    Returns, in order: loss plot, status, ε-network, reverse plot, fit table, paths plot, paths note, fit-against-NFE
    plot, its status, flow network, comparison plot, flow status, flow note."""
    if session is not None:
        session.state(LabGenerations).data += 1
        session.stop("lab")
    fit_plot, fit_status = clear_fit(session)
    return (None, _(START_STATUS), None, None, "", None, "", fit_plot, fit_status, None, None, _(FLOW_START), "")


@user_errors
def clear_fit(session: Session | None):
    """A network is trained again (or the data changed): the fit against evaluations measured the old one, so it
    goes (a measurement still running stops). Returns the fit plot and its status."""
    if session is not None:
        session.state(LabGenerations).networks += 1
        session.stop("lab_fit")
    return None, _(FIT_START)


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


# ---- the continuous view: the forward SDE beside the chain -------------------------------------------------

SDE_NOISE_LEVELS = (0.35, 0.75)  # the forward SDE's panels: the t where √(1−ᾱ_t) reaches these, and t = T


@dataclass(frozen=True)
class SDEForm:
    """The forward SDE view's settings: how many points, and the schedule whose β(τ) the SDE runs on."""

    points: object
    diffusion: DiffusionConfig


def sde_steps(diffusion: GaussianDiffusion) -> list[int]:
    """The paper steps the forward SDE view shows: about a third and three quarters of the way in noise, and T."""
    noise, T = diffusion.sqrt_one_minus_alphas_cumprod.numpy(), diffusion.num_timesteps
    return sorted({min(T, int(np.searchsorted(noise, level)) + 1) for level in SDE_NOISE_LEVELS} | {T})


def _at_steps(chain: Iterator[tuple[int, torch.Tensor]], steps: list[int]) -> dict[int, torch.Tensor]:
    """A chain's positions (it yields (index, x)) at the paper's steps `steps`."""
    return {paper_t(index): x for index, x in chain if paper_t(index) in steps}


def forward_sde_clouds(diffusion: GaussianDiffusion, x0: torch.Tensor, seed: int
                       ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(t, the chain's points, Euler–Maruyama's points) at each of `sde_steps`, both from the same x_0: the chain
    draws the noise the Forward view shows (its seed), the SDE its own."""
    steps, last = sde_steps(diffusion), diffusion.num_timesteps - 1
    chain = _at_steps(diffusion.q_chain(x0, last, torch.Generator().manual_seed(seed)), steps)
    sde = _at_steps(forward_sde_chain(diffusion, x0, last, generator=torch.Generator().manual_seed(seed + 1)), steps)
    return [(t, chain[t].numpy(), sde[t].numpy()) for t in steps]


def _latex_number(value: float, places: int = 4) -> str:
    return f"{value:.{places}f}"


def sde_markdown(diffusion: GaussianDiffusion) -> str:
    """dx = f dτ + g dW with f and g named, and today's numbers: β(τ) at both ends, and one Euler–Maruyama step
    beside one step of the chain at t = T (they agree to first order in Δτ = 1/T)."""
    T = diffusion.num_timesteps
    b0, b1, beta_T = float(beta(diffusion, 0.0)), float(beta(diffusion, 1.0)), float(diffusion.betas[-1])
    equation = (r"$$dx = \underbrace{-\tfrac{1}{2}\,\beta(\tau)\,x}_{f(x,\,\tau)}\;d\tau \;+\; "
                r"\underbrace{\sqrt{\beta(\tau)}}_{g(\tau)}\;dW$$")
    em = (r"$x + f\,\Delta\tau + g\sqrt{\Delta\tau}\,z = " + _latex_number(1 - 0.5 * b1 / T) + r"\,x + "
          + _latex_number(math.sqrt(b1 / T)) + r"\,z$")
    chain = (r"$\sqrt{1-\beta_T}\,x + \sqrt{\beta_T}\,z = " + _latex_number(math.sqrt(1 - beta_T)) + r"\,x + "
             + _latex_number(math.sqrt(beta_T)) + r"\,z$")
    prose = _("The variance-preserving SDE (Song et al. 2021): the drift f pulls every point towards 0, the "
              "diffusion coefficient g scales the noise dW (in the notation {sarkka}, L = g). Time τ = t/T; here "
              "β(τ) rises from {b0} to {b1}. One Euler–Maruyama step of Δτ = 1/T at t = T is {em}; one step of the "
              "chain q(x<sub>t</sub> | x<sub>t−1</sub>) is {chain}.").format(
        sarkka=r"$dx = f\,dt + L\,w\,dt$", b0=f"{b0:.3g}", b1=f"{b1:.3g}", em=em, chain=chain)
    return f"{equation}\n\n{prose}"


def _pair(values: np.ndarray) -> str:
    """Two coordinates' values to 2 decimals (never "-0.00")."""
    return ", ".join("0.00" if f"{v:.2f}" == "-0.00" else f"{v:.2f}" for v in values)


def moments_markdown(clouds: list[tuple[int, np.ndarray, np.ndarray]], x0: np.ndarray,
                     diffusion: GaussianDiffusion) -> str:
    """Mean and variance of x₁ and x₂ at each shown t, for the chain, the SDE and q(x_t | x_0) exactly (Eq. 4:
    mean √ᾱ_t E[x_0], variance ᾱ_t Var[x_0] + 1 − ᾱ_t), and whether both clouds are N(0, I) at t = T."""
    abar = [float(diffusion.alphas_cumprod[index_of(t)]) for t, *_rest in clouds]
    exact_mean = [math.sqrt(a) * x0.mean(0) for a in abar]
    exact_var = [a * x0.var(0) + 1 - a for a in abar]
    rows = [(_("variance of x₁, x₂: chain"), [c.var(0) for _t, c, _s in clouds]),
            (_("variance: Euler–Maruyama"), [s.var(0) for _t, _c, s in clouds]),
            (_("variance: exact (Eq. 4)"), exact_var),
            (_("mean of x₁, x₂: chain"), [c.mean(0) for _t, c, _s in clouds]),
            (_("mean: Euler–Maruyama"), [s.mean(0) for _t, _c, s in clouds]),
            (_("mean: exact (Eq. 4)"), exact_mean)]
    table = ["| | " + " | ".join(f"t = {t:,}" for t, *_rest in clouds) + " |", "|---" * (len(clouds) + 1) + "|"]
    table += [f"| {name} | " + " | ".join(_pair(v) for v in values) + " |" for name, values in rows]
    return "\n".join(table) + "\n\n" + _normal_verdict(clouds[-1][1], clouds[-1][2])


def _normal_verdict(chain: np.ndarray, sde: np.ndarray) -> str:
    """Whether both clouds at t = T are N(0, I) within sampling error: each mean within 4 standard errors (1/√n)
    of 0, each variance within 4 of 1 (√(2/n))."""
    n = len(chain)
    near = all(np.abs(c.mean(0)).max() < 4 / math.sqrt(n) and np.abs(c.var(0) - 1).max() < 4 * math.sqrt(2 / n)
               for c in (chain, sde))
    if near:
        return _("✅ At t = T both clouds are N(0, I) within sampling error: mean 0 and variance 1 in each coordinate.")
    return _("⚠ At t = T the clouds are not yet N(0, I): this schedule leaves some of the data in x<sub>T</sub>.")


@user_errors
def show_forward_sde(shape: Shape | None, form: SDEForm):
    """The same points under the chain and under Euler–Maruyama of the VP-SDE: the equation with today's numbers,
    the clouds side by side at a few t, and their means and variances."""
    if shape is None:
        raise ValueError(_("Choose a shape first."))
    n = integer(form.points, "Number of points", 2, MAX_SHOWN)
    diffusion = diffusion_for(form.diffusion)
    x0 = shape.sample(n).double()
    clouds = forward_sde_clouds(diffusion, x0, shape.seed)
    title = _("The chain and Euler–Maruyama of the SDE, from the same {n} points").format(n=f"{n:,}")
    return (sde_markdown(diffusion), plots.as_plot(plots2d.sde_forward_figure(clouds, title)),
            moments_markdown(clouds, x0.numpy(), diffusion))


# ---- the continuous view: the reverse SDE against the probability-flow ODE --------------------------------

PATHS_POINTS = 500    # points each sampler draws in the paths views (the fit is measured on as many)
REVERSE_PATHS = 8     # of which this many paths are drawn
SDE_AND_ODE = ("sde", "euler", "heun")


def _fit_reference(shape: Shape, n: int) -> tuple[torch.Tensor, float]:
    """Fresh data to score generated points against, and the noise floor: its distance to another fresh sample."""
    real, other = shape.sample(n, seed_offset=2), shape.sample(n, seed_offset=3)
    return real, sliced_wasserstein(other, real)


def sampler_paths(model: torch.nn.Module, sampler: str, budget: int, seed: int,
                  diffusion: GaussianDiffusion | None = None) -> Paths2D:
    """PATHS_POINTS points' paths from x_T (drawn from `seed`) by `sampler` in the most steps `budget` network
    evaluations allow (at most T for the ε-network's)."""
    steps = steps_within(sampler, budget)
    if diffusion is not None:
        steps = min(steps, diffusion.num_timesteps)
    return paths_2d(model, PATHS_POINTS, sampler=sampler, steps=steps, seed=seed, diffusion=diffusion)


def paths_panel(title: str, paths: Paths2D | None) -> plots2d.PathsPanel:
    """Where the points landed and REVERSE_PATHS of their paths, each thinned to at most PATH_POINTS positions."""
    if paths is None:
        return plots2d.PathsPanel(title, np.zeros((0, 2)), [])
    count = len(paths.points)
    keep = sorted(set(range(0, count, max(1, (count - 1) // PATH_POINTS))) | {count - 1})
    shown = paths.points[keep][:, :REVERSE_PATHS].double().numpy()  # (k, paths, 2)
    return plots2d.PathsPanel(title, paths.points[-1].double().numpy(), list(shown.transpose(1, 0, 2)))


def _outside(points: torch.Tensor) -> int:
    """How many points landed outside the drawn square [−LIMIT, LIMIT]²."""
    return int((points.abs().amax(1) > plots2d.LIMIT).sum())


def paths_markdown(found: dict[str, Paths2D], real: torch.Tensor, floor: float) -> str:
    """Per sampler: steps and evaluations, the fit to fresh data, and the points that landed outside the view."""
    names = plots2d.sampler_names() | {"euler": _("ODE, Euler"), "heun": _("ODE, Heun")}
    ratio = {s: sliced_wasserstein(p.points[-1], real) / floor for s, p in found.items()}
    outside = {s: _outside(p.points[-1]) for s, p in found.items()}
    rows = [(_("steps · NFE"), {s: f"{len(p.nfe) - 1} · {p.nfe[-1]}" for s, p in found.items()}),
            (_("sliced Wasserstein ÷ noise floor"), {s: f"{ratio[s]:.2f}×" for s in found}),
            (_("points outside the view"), {s: f"{outside[s]:,}" for s in found})]
    table = ["| | " + " | ".join(names[s] for s in found) + " |", "|---" * (len(found) + 1) + "|"]
    table += [f"| {name} | " + " | ".join(cells[s] for s in found) + " |" for name, cells in rows]
    text = _("The same x<sub>T</sub> for all three. The reverse SDE draws fresh noise at every step (DDPM's "
             "Algorithm 2 discretises it): its paths jitter. The probability-flow ODE has the same marginals and no "
             "noise (DDIM with η = 0 discretises it): its paths are smooth, and Heun's steps cost two evaluations "
             "each.")
    if max(outside.get("euler", 0), outside.get("heun", 0)) > outside.get("sde", 0):
        text += " " + _("A few ODE points that start in N(0, I)'s tail, where training saw few points, are flung "
                        "far: near τ = 1 the backward ODE multiplies the errors of ε̂, where the SDE's noise and "
                        "pull towards the data bring strays back.")
    return "\n".join(table) + "\n\n" + text


@user_errors
def reverse_paths(trained: Trained | None, shape: Shape | None, seed, nfe):
    """From the same x_T: the reverse SDE, and the probability-flow ODE by Euler and by Heun, each in `nfe` network
    evaluations; their paths over the data, and their fit."""
    if trained is None or shape is None:
        raise ValueError(_("Train the model first (press Train)."))
    budget = integer(nfe, "Network evaluations", 1, max(NFE_BUDGETS))
    seed = integer(seed, "Seed", 0, 2**31 - 1) + 7
    diffusion = diffusion_for(trained.config)
    found = {s: sampler_paths(trained.model, s, budget, seed, diffusion) for s in SDE_AND_ODE}
    names = plots2d.sampler_names() | {"euler": _("ODE, Euler"), "heun": _("ODE, Heun")}
    panels = [paths_panel(f"{names[s]} · {p.nfe[-1]:,} NFE", p) for s, p in found.items()]
    real, floor = _fit_reference(shape, PATHS_POINTS)
    title = _("From the same x<sub>T</sub>: the reverse SDE and the probability-flow ODE")
    figure = plots2d.paths_figure(panels, real.numpy(), title)
    return plots.as_plot(figure), paths_markdown(found, real, floor)


# ---- the continuous view: fit against network evaluations, as a job -----------------------------------------

FIT_POINTS = 1000  # points per sampler and budget, as bench/bench_flow.py
FIT_SAMPLERS = ("ddpm", "ddim", "euler", "heun", "flow_euler", "flow_heun")
FIT_BUDGETS = NFE_BUDGETS
ODE_MOST_NFE = 100  # the ODE solvers stop here: by then each has reached its ODE's own fit (DDIM at 1,000 shows it)


def fit_plan(trained: Trained | None, flow: FlowTrained | None) -> list[tuple[str, int]]:
    """(sampler, NFE budget) to measure, budget by budget (cheap first, so a stopped run still compares every
    sampler up to where it stopped): the ε-network's samplers if it is trained (at most T steps), flow matching's
    if it is."""
    T = diffusion_for(trained.config).num_timesteps if trained is not None else 0
    plan = []
    for budget in FIT_BUDGETS:
        for sampler in FIT_SAMPLERS:
            flow_sampler = sampler.startswith("flow_")
            if (flow if flow_sampler else trained) is None:
                continue
            if sampler not in ("ddpm", "ddim") and budget > ODE_MOST_NFE:
                continue
            if not flow_sampler and steps_within(sampler, budget) > T:
                continue
            plan.append((sampler, budget))
    return plan


def fit_job(plan: list[tuple[str, int]], trained: Trained | None, flow: FlowTrained | None, real: torch.Tensor,
            seed: int) -> Job:
    """The session's "lab_fit" job: each (sampler, budget) of `plan` from the same x_T, scored against `real`;
    reports each FitPoint, stops between them."""
    def work(job: Job) -> list:
        found = []
        for sampler, budget in plan:
            if job.stopping:
                break
            point, = fit_against_evaluations(
                real, eps_model=trained.model if trained else None,
                diffusion=diffusion_for(trained.config) if trained else None,
                flow_model=flow.model if flow else None, samplers=(sampler,), budgets=(budget,), seed=seed)
            found.append(point)
            job.report(point, step=len(found))
        return found
    return Job("lab_fit", work)


def fit_plot(points: list, floor: float, plan: list[tuple[str, int]]):
    lines: dict[str, list] = {}
    for point in sorted(points, key=lambda p: (FIT_SAMPLERS.index(p.sampler), p.nfe)):
        lines.setdefault(point.sampler, []).append((point.nfe, point.swd / floor, point.steps))
    ticks = sorted({budget for _sampler, budget in plan})
    title = _("Fit against network evaluations<br>sliced Wasserstein distance of {n} points to fresh data ÷ noise "
              "floor ({floor})").format(n=f"{FIT_POINTS:,}", floor=f"{floor:.3f}")
    return plots.as_plot(plots2d.fit_figure(lines, ticks, title))


def fit_status(points: list, floor: float, total: int, elapsed: float, state: State) -> str:
    numbers = dict(done=len(points), total=total, elapsed=f"{elapsed:.1f}")
    if state is State.STOPPED:
        return _("⏹ **Stopped** after {done} of {total} points · {elapsed} s").format(**numbers)
    if state is State.RUNNING:
        return _("**Measuring** {done} of {total} points · {elapsed} s").format(**numbers)
    cheap = [p for p in points if p.nfe <= 20]
    best = min(cheap, key=lambda p: p.swd, default=None)
    if best is None:
        return _("✅ **Measured** {total} points in {elapsed} s").format(**numbers)
    return _("✅ **Measured** {total} points in {elapsed} s · closest to the data within 20 evaluations: "
             "{sampler} at {nfe} NFE, {ratio}× the noise floor").format(
        sampler=plots2d.sampler_names()[best.sampler], nfe=best.nfe, ratio=f"{best.swd / floor:.2f}", **numbers)


@user_errors
def measure_fit(trained: Trained | None, flow: FlowTrained | None, shape: Shape | None, seed, session: Session):
    """Stream the fit-against-evaluations plot as the session's "lab_fit" job measures it; end on how it ended."""
    if shape is None or (trained is None and flow is None):
        raise ValueError(_("Train the model first (press Train)."))
    if session.busy("lab_fit"):
        raise ValueError(_("The fit against evaluations is already being measured; press Stop first."))
    if session.busy("lab"):
        raise ValueError(_("The 2-D lab is training; measure the fit when it has finished (or press Stop)."))
    seed = integer(seed, "Seed", 0, 2**31 - 1) + 7
    real, floor = _fit_reference(shape, FIT_POINTS)
    plan = fit_plan(trained, flow)
    generations = session.state(LabGenerations)
    begun = generations.networks
    job = session.start("lab_fit", fit_job(plan, trained, flow, real, seed))
    points, first = [], True
    with closing(follow(job, UPDATE_EVERY_S)) as stream:
        for reports in stream:
            if generations.networks != begun:
                break
            points += reports
            if job.running and (reports or first):
                first = False
                yield fit_plot(points, floor, plan), fit_status(points, floor, len(plan), job.elapsed, State.RUNNING)
    if generations.networks != begun:  # clear_fit has stopped the job and cleared the view: it stays so
        yield None, _(FIT_START)
        return
    if job.outcome.state is State.FAILED:
        message = describe(job.outcome.error)
        yield gr.skip(), "❌ " + message
        raise error(message)
    yield fit_plot(points, floor, plan), fit_status(points, floor, len(plan), job.elapsed, job.outcome.state)


def stop_fit(session: Session | None) -> None:
    """Stop measuring the fit after the sampler and budget now running; the plot keeps what was measured."""
    if session is not None:
        session.stop("lab_fit")


# ---- the continuous view: flow matching beside the ε-network ------------------------------------------------

FLOW_PATH_STEPS = 50  # the comparison's paths: Heun's method in 50 steps for both networks
FLOW_PLOT_EVERY_S = 2.0  # while flow matching trains, its comparison figure is redrawn this often


def _comparison_losses(trained: Trained | None, flow: FlowTrained | None) -> list[plots2d.LossPanel]:
    eps = (trained.loss_steps, trained.losses) if trained is not None else ([], [])
    velocity = (flow.loss_steps, flow.losses) if flow is not None else ([], [])
    return [plots2d.LossPanel(_("ε-network: ‖ε − ε<sub>θ</sub>‖²"), *eps, plots.ORANGE),
            plots2d.LossPanel(_("flow matching: ‖(ε − x<sub>0</sub>) − v<sub>θ</sub>‖²"), *velocity, plots.GREEN)]


def straightness_markdown(s_eps: float | None, s_flow: float) -> str:
    """What is straight in flow matching, and what the measure says of the paths drawn (never assumed)."""
    text = _("**Straightness** S (Liu et al. 2023) is 0 for paths that are straight lines run at constant speed, "
             "which one Euler step solves exactly. Flow matching trains on straight conditional paths x<sub>τ</sub> "
             "= (1 − τ) x<sub>0</sub> + τ ε, one for each pair of a data point and a noise sample: their S is 0. "
             "The network learns the average velocity over all the pairs through a point, and near τ = 1 that "
             "points to the data's mean, so the paths it follows bend on their way to the shape.")
    if s_eps is None:
        verdict = _("Here S = {flow} for flow matching; train the ε-network (Train) to compare.").format(
            flow=f"{s_flow:.2f}")
    elif s_flow < s_eps:
        verdict = _("Here the flow's paths are straighter than the ε-network's ODE paths: S = {flow} against "
                    "{eps}.").format(flow=f"{s_flow:.2f}", eps=f"{s_eps:.2f}")
    else:
        verdict = _("Here the flow's paths are not straighter than the ε-network's ODE paths by this measure: S = "
                    "{flow} against {eps}. Training again on the flow's own pairs of noise and result (reflow, Liu "
                    "et al. 2023) would straighten them.").format(flow=f"{s_flow:.2f}", eps=f"{s_eps:.2f}")
    scales = _("The two losses are on their own axes: they measure errors of different things (noise, velocity), "
               "so their values do not compare. Fit against evaluations for both networks: the Fit against NFE view.")
    return f"{text} {verdict}\n\n{scales}"


def eps_ode_paths(trained: Trained | None, seed: int) -> Paths2D | None:
    """The ε-network's probability-flow ODE paths by Heun in FLOW_PATH_STEPS steps (at most T), if it is trained."""
    if trained is None:
        return None
    return sampler_paths(trained.model, "heun", 2 * FLOW_PATH_STEPS - 1, seed, diffusion_for(trained.config))


def compare_flow(trained: Trained | None, flow: FlowTrained, shape: Shape, seed: int,
                 eps_paths: Paths2D | None = None):
    """Both networks side by side: loss curves, and their ODE paths by Heun from the same x_T with their
    straightness; and the note on what is straight. `eps_paths`: the ε-network's, if already drawn."""
    if eps_paths is None:
        eps_paths = eps_ode_paths(trained, seed)
    flow_paths = sampler_paths(flow.model, "flow_heun", 2 * FLOW_PATH_STEPS, seed)
    s_eps = straightness(eps_paths) if eps_paths is not None else None
    return (_comparison_plot(trained, flow, shape, eps_paths, flow_paths),
            straightness_markdown(s_eps, straightness(flow_paths)))


def _comparison_plot(trained: Trained | None, flow: FlowTrained | None, shape: Shape,
                     eps_paths: Paths2D | None = None, flow_paths: Paths2D | None = None):
    """The comparison figure; a network whose paths are not given shows none (each drawn one titled with its S)."""
    def panel(name: str, paths: Paths2D | None) -> plots2d.PathsPanel:
        return paths_panel(name if paths is None else f"{name} · S = {straightness(paths):.2f}", paths)

    panels = [panel(_("ε-network"), eps_paths), panel(_("flow matching"), flow_paths)]
    title = _("One network, two objectives<br>loss per step above, ODE paths by Heun in {steps} steps below").format(
        steps=FLOW_PATH_STEPS)
    figure = plots2d.comparison_figure(_comparison_losses(trained, flow), panels,
                                       shape.sample(PATHS_POINTS, seed_offset=2).numpy(), title, _("not trained yet"))
    return plots.as_plot(figure)


@user_errors
def train_flow(shape: Shape | None, trained: Trained | None, form: Train2DForm, session: Session):
    """Train the same MLP by flow matching on the same data with the same settings, as the session's "lab" job:
    stream its loss beside the ε-network's (and its paths, drawn once), then compare their paths."""
    if shape is None:
        raise ValueError(_("Choose a shape first."))
    if session.busy("lab"):
        raise ValueError(_(BUSY))
    config = _train_config(form)
    data, seed = shape.sample(TRAIN_POINTS, seed_offset=1), config.seed + 7
    eps_paths = eps_ode_paths(trained, seed)
    training = train_flow_2d(DenoiserMLP(), data, config)
    drawn = -math.inf
    for update in follow_training(session, training, partial(_status, flow=True)):
        if update.cleared:
            yield None, _(FLOW_START), None, ""
        elif update.progress is None:
            yield gr.skip(), update.status, gr.skip(), gr.skip()
        else:
            flow = FlowTrained(update.progress.model, update.progress.step, update.steps, update.losses)
            if update.state is State.RUNNING:
                # The four-panel figure is heavy for the page to redraw: every FLOW_PLOT_EVERY_S, the status always.
                plot = gr.skip()
                if time.monotonic() - drawn >= FLOW_PLOT_EVERY_S:
                    plot, drawn = _comparison_plot(trained, flow, shape, eps_paths), time.monotonic()
                yield plot, update.status, flow, ""
            else:
                plot, note = compare_flow(trained, flow, shape, seed, eps_paths)
                yield plot, update.status, flow, note


@user_errors
def refresh_flow(trained: Trained | None, flow: FlowTrained | None, shape: Shape | None, seed):
    """After the ε-network is trained (again), the flow comparison shows it too; nothing to do without a flow."""
    if flow is None or shape is None:
        return gr.skip(), gr.skip()
    return compare_flow(trained, flow, shape, integer(seed, "Seed", 0, 2**31 - 1) + 7)


def _shape_inputs_visibility(name):
    return gr.Image(visible=name == "image"), gr.Textbox(visible=name == "text")


# ---- layout -------------------------------------------------------------------------------------

@dataclass
class ContinuousViews:
    """The continuous view's components (a tab of the lab's views, with its own tabs)."""

    tabs: gr.Tabs
    sde_equation: gr.Markdown
    sde_plot: gr.Plot
    sde_moments: gr.Markdown
    paths_nfe: gr.Radio
    paths_plot: gr.Plot
    paths_note: gr.Markdown
    flow_train: gr.Button
    flow_stop: gr.Button
    flow_status: gr.Markdown
    flow_plot: gr.Plot
    flow_note: gr.Markdown
    fit_measure: gr.Button
    fit_stop: gr.Button
    fit_status: gr.Markdown
    fit_plot: gr.Plot


def build_continuous_views() -> ContinuousViews:
    """The continuous view, one large view at a time: the forward SDE, the reverse SDE and ODE, flow matching, and
    fit against network evaluations."""
    with gr.Tabs(elem_id="lab-continuous-views") as tabs:
        with gr.Tab(L("Forward SDE"), id="sde"):
            sde_equation = gr.Markdown(latex_delimiters=LATEX, elem_id="lab-sde-equation")
            sde_plot = gr.Plot(label=L("Forward SDE"), show_label=False, elem_id="lab-sde")
            sde_moments = gr.Markdown(elem_id="lab-sde-moments")
        with gr.Tab(L("SDE and ODE"), id="paths"):
            paths_nfe = gr.Radio(list(NFE_BUDGETS), value=100, label=L("Network evaluations (NFE) for each sampler"),
                                 elem_id="lab-paths-nfe")
            paths_plot = gr.Plot(label=L("SDE and ODE"), show_label=False, elem_id="lab-paths")
            paths_note = gr.Markdown(elem_id="lab-paths-note")
        with gr.Tab(L("Flow matching"), id="flow"):
            with gr.Row():
                flow_train = gr.Button(L("Train with flow matching"), variant="primary", elem_id="lab-flow-train")
                flow_stop = gr.Button(L("Stop"), elem_id="lab-flow-stop")
            flow_status = gr.Markdown(L(FLOW_START), elem_id="lab-flow-status")
            flow_plot = gr.Plot(label=L("Flow matching"), show_label=False, elem_id="lab-flow")
            flow_note = gr.Markdown(elem_id="lab-flow-note")
        with gr.Tab(L("Fit against NFE"), id="nfe"):
            with gr.Row():
                fit_measure = gr.Button(L("Measure"), variant="primary", elem_id="lab-nfe-measure")
                fit_stop = gr.Button(L("Stop"), elem_id="lab-nfe-stop")
            fit_status = gr.Markdown(L(FIT_START), elem_id="lab-nfe-status")
            fit_plot = gr.Plot(label=L("Fit against NFE"), show_label=False, elem_id="lab-nfe")
    return ContinuousViews(tabs, sde_equation, sde_plot, sde_moments, paths_nfe, paths_plot, paths_note, flow_train,
                           flow_stop, flow_status, flow_plot, flow_note, fit_measure, fit_stop, fit_status, fit_plot)


def build(demo: gr.Blocks, session: gr.State) -> None:
    """Lay out the 2-D lab inside `demo` and wire its events; `session` is the page's shared Session."""
    shape_state, trained_state, flow_state = gr.State(None), gr.State(None), gr.State(None)
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
            with gr.Tab(L("Continuous time"), id="continuous"):
                continuous = build_continuous_views()
    code_panels.build("p_theta", "score", "vp_sde", "reverse_sde", "pf_ode", "flow_matching")

    shape_form = Form(ShapeForm, name=shape, image=image, word=word, points=points, seed=seed, diffusion=controls)
    train_form = Form(Train2DForm, steps=steps, batch_size=batch, lr=lr, ema_decay=ema, seed=seed, diffusion=controls)
    forward = dict(**shape_form.event(show_forward), outputs=[forward_plot, shape_state], preprocess=False,
                   trigger_mode="always_last", show_progress="minimal")
    # The forward SDE follows the forward chain: the same points, the same schedule (a second event, so the chain's
    # animation does not wait for it).
    forward_sde = dict(**forms.event(show_forward_sde, shape_state, Form(SDEForm, points=points, diffusion=controls)),
                       outputs=[continuous.sde_equation, continuous.sde_plot, continuous.sde_moments],
                       preprocess=False, show_progress="hidden")
    gr.on([shape.change, image.change, word.submit, points.release, seed.submit, *(c.change for c in controls.inputs)],
          **forward, api_visibility="private").success(**forward_sde, api_visibility="private")
    demo.load(**forward, api_name="lab_forward").success(**forward_sde, api_name="lab_forward_sde")
    shape.change(_shape_inputs_visibility, shape, [image, word], api_visibility="private", show_progress="hidden")
    cleared = [loss_plot, status, trained_state, reverse_plot, fit, continuous.paths_plot, continuous.paths_note,
               continuous.fit_plot, continuous.fit_status, flow_state, continuous.flow_plot, continuous.flow_status,
               continuous.flow_note]
    gr.on([shape.change, image.change, word.submit, *(c.change for c in controls.inputs)], clear_results, session,
          cleared, api_visibility="private", show_progress="hidden"
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
    paths = dict(fn=reverse_paths, inputs=[trained_state, shape_state, seed, continuous.paths_nfe],
                 outputs=[continuous.paths_plot, continuous.paths_note], preprocess=False, show_progress="hidden")
    # After training: the reverse flow, the SDE and ODE paths, and flow matching's comparison with the new network
    # (none of it when the shape or schedule changed during training: its views stay cleared).
    training.success(reverse_after_training, trained_state, views, api_visibility="private", show_progress="hidden",
                     queue=False
                     ).success(sample, sample_inputs, sample_outputs, preprocess=False, api_visibility="private"
                               ).success(**paths, api_visibility="private"
                                         ).then(refresh_flow, [trained_state, flow_state, shape_state, seed],
                                                [continuous.flow_plot, continuous.flow_note], preprocess=False,
                                                api_visibility="private", show_progress="hidden")
    stop_btn.click(stop, session, None, api_name="lab_stop", show_progress="hidden", queue=False)
    sample_btn.click(**show_reverse).then(sample, sample_inputs, sample_outputs, preprocess=False,
                                          api_name="lab_sample").success(**paths, api_visibility="private")
    continuous.paths_nfe.change(**paths, api_name="lab_paths")
    wire_continuous(continuous, shape_state, trained_state, flow_state, train_form, seed, session, train_btn)


def wire_continuous(views: ContinuousViews, shape_state: gr.State, trained_state: gr.State, flow_state: gr.State,
                    train_form: Form, seed: gr.Number, session: gr.State, train_btn: gr.Button) -> None:
    """Flow matching's training and the fit-against-evaluations measurement: jobs with a Stop each. Training either
    network (`train_btn`, or flow matching's) clears the fit."""
    for button in (train_btn, views.flow_train):  # a network trained again: the fit measured the old one
        button.click(clear_fit, session, [views.fit_plot, views.fit_status], api_visibility="private",
                     show_progress="hidden", queue=False)
    views.flow_train.click(**forms.event(train_flow, shape_state, trained_state, train_form, session),
                           outputs=[views.flow_plot, views.flow_status, flow_state, views.flow_note],
                           preprocess=False, concurrency_id="lab_train", concurrency_limit=2,
                           show_progress_on=[views.flow_status], api_name="lab_flow_train")
    views.flow_stop.click(stop, session, None, api_visibility="private", show_progress="hidden", queue=False)
    views.fit_measure.click(measure_fit, [trained_state, flow_state, shape_state, seed, session],
                            [views.fit_plot, views.fit_status], preprocess=False, concurrency_id="lab_fit",
                            concurrency_limit=2, show_progress_on=[views.fit_status], api_name="lab_fit_nfe")
    views.fit_stop.click(stop_fit, session, None, api_name="lab_fit_stop", show_progress="hidden", queue=False)
