"""The Train tab: train an image DDPM on a folder or uploads, with a live loss curve, samples, Stop and Resume.

Training (ddpm_core.train.train) runs as the session's "train" job (server/jobs.py): a background thread
that reports progress, log lines and preview grids. The Start/Resume event is a generator that follows the
job every POLL_S seconds and streams what it reported, so the event never computes a training step itself
and other tabs keep answering; its last update is the job's outcome (finished, stopped at step k, or
failed and why). Stop asks the job to stop; train() then saves a checkpoint and returns. Runs are listed
by the checkpoint catalogue (server/catalogue.py); demo mode takes uploads only and keeps a session's
files in its own folder.

A class-conditional run (issue 15) takes its labels from the data's subfolders, one class per folder
(ddpm_core.data's ImageFolder convention); ticking the box shows the classes found, with their image counts
and what will be left out, before anything trains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from torchvision.utils import make_grid

from ddpm_core.checkpoints import config_from_dict, read_config
from ddpm_core.config import DiffusionConfig
from ddpm_core.data import (IMAGE_EXTENSIONS, MAX_IMAGE_SIZE, MIN_IMAGE_SIZE, DataError, FolderClasses,
                            folder_classes)
from ddpm_core.guidance import DEFAULT_GUIDANCE, DEFAULT_P_UNCOND, guided
from ddpm_core.images import to_uint8
from ddpm_core.metrics import read_metrics
from ddpm_core.samplers import sample
from ddpm_core.train import CHECKPOINT_NAME, Progress, TrainConfig, make_ema, train, training_step
from ddpm_core.unet import PRESETS, UNet, count_parameters, preset
from server import settings as deployment
from server.catalogue import Catalogue, Entry
from server.jobs import Job, State, follow
from server.sessions import Session
from server.uploads import ZIP_EXTENSION, collect_uploads
from ui import checkpoint_view, code_panels, i18n, plots, plots2d
from ui.errors import describe, error, user_errors
from ui.forms import Form
from ui.i18n import L, _
from ui.schedule_controls import build_schedule_controls, diffusion_for, integer, number

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = "assets/digits"  # the default folder in local mode, relative to the repo
POLL_S = 0.5  # how often the stream reports
ABANDONED_S = 120  # a run nobody has followed for this long stops (and saves): its page went away
PREVIEW_COUNT = 16  # samples in a preview grid (4 × 4)
PREVIEW_STEPS = 50  # respaced reverse steps per preview
PREVIEW_CLASSES = 10  # a conditional run's preview: one column for each of the first classes …
PREVIEW_CLASS_ROWS = 4  # … with this many samples of each
PREVIEW_WIDTH = 480  # previews are enlarged (nearest neighbour) to about this many pixels: readable in a class
CHANNEL_CHOICES = [("grey", 1), ("colour", 3)]
SEED_MAX = 2**31 - 1
INTRO = ("Train a U-Net to predict the noise ε (Algorithm 1 of Ho et al. 2020) on your images. Small images "
         "train fastest on a CPU: 16×16 grey digits learn recognisable shapes in a few thousand steps.")


# ---- what the page sends ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainForm:
    """Start: the data, the network and optimiser settings, the run's name and the schedule."""

    path: str | None
    files: list
    image_size: object
    channels: object
    preset: str
    batch_size: object
    lr: object
    steps: object
    ema_decay: object
    seed: object
    flip: bool
    preview_every: object
    run_name: str | None
    diffusion: DiffusionConfig
    conditional: bool = False  # one class per subfolder of the data (last: the API's older calls leave it out)
    p_uncond: object = DEFAULT_P_UNCOND  # the share of labels dropped to the null class, when conditional
    lr_cosine: bool = False  # cosine decay of the learning rate to zero at the last step, after the warm-up


@dataclass(frozen=True)
class ResumeForm:
    """Resume: the data again, how far to train in all, and which run."""

    path: str | None
    files: list
    steps: object
    preview_every: object
    run_name: str | None


def uploaded_paths(files) -> list[str]:
    """The server paths of what the page uploaded (a list of paths or of file dicts)."""
    if not files:
        return []
    files = files if isinstance(files, list) else [files]
    return [f["path"] if isinstance(f, dict) else str(f) for f in files]


@dataclass
class TrainState:
    """What the Train tab keeps for a session: the run it trained last (to offer it for Resume)."""

    last_run: str | None = None


# ---- runs ---------------------------------------------------------------------------------------------------

_BUSY_RUNS: set[Path] = set()  # run folders being trained into, across sessions (locally, names are shared)
_BUSY_LOCK = threading.Lock()


def _claim(folder: Path) -> None:
    with _BUSY_LOCK:
        if folder in _BUSY_RUNS:
            raise ValueError(_("Run '{name}' is training right now; choose another run name.").format(name=folder.name))
        _BUSY_RUNS.add(folder)


def _release(folder: Path) -> None:
    with _BUSY_LOCK:
        _BUSY_RUNS.discard(folder)


def _checkpoints_markdown(entries: list[Entry]) -> str:
    if not entries:
        return _("No checkpoints yet: a run saves `model.safetensors` every 500 steps, at its end and on Stop.")
    lines = [f"| {_('run')} | {_('checkpoint')} |", "|---|---|"]
    lines += [f"| `{e.name}` | {checkpoint_view.run_line(e.summary)} |" for e in entries]
    return _("**Checkpoints** (your trained models)") + "\n\n" + "\n".join(lines)


# ---- classes: what a conditional run would learn ------------------------------------------------------------

def classes_markdown(found: FolderClasses) -> str:
    """The classes of a folder with their image counts, what is left out, and why it cannot train if it cannot."""
    def said(item) -> str:
        return html.escape(i18n.message(item), quote=False)
    try:
        found.check()
        problem = []
    except DataError as exc:
        problem = ["⚠️ " + said(exc)]
    if not found.names:
        return problem[0]
    heading = _("**Classes** (one per subfolder): {summary}").format(summary=said(found.summary()))
    notices = "\n".join("- " + said(notice) for notice in found.notices())
    return "\n\n".join([heading, *([notices] if notices else []), *problem])


# ---- presets: size and speed on this machine ------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def parameter_count(preset_name: str, image_size: int, channels: int) -> int:
    return count_parameters(UNet(preset(preset_name, image_size, channels)))


_TIMING_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def step_seconds(preset_name: str, image_size: int, channels: int, batch_size: int) -> float:
    """Seconds per training step here: the median of several timed steps, measured once per setting.

    A step is what train() does: loss, backward, clipping, AdamW and the EMA update. After a warm-up step,
    five steps at min(batch, 8) are timed, then three at the real batch if that takes under a second each
    (else the smaller batch's time is scaled by the batch). Medians, not one step and not a slope between
    two small batches: a busy moment on a shared CPU can slow one step 10×, and a slope multiplied up to
    batch 64 once made "28 min per 100 steps" of 25 s.
    """
    with _TIMING_LOCK:
        torch.manual_seed(0)
        model = UNet(preset(preset_name, image_size, channels))
        ema = make_ema(model, 0.999)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        diffusion, config = diffusion_for(DiffusionConfig()), TrainConfig()

        def median_step(batch: int, count: int) -> float:
            x0 = torch.randn(batch, channels, image_size, image_size)
            times = []
            for _repeat in range(count):
                start = time.perf_counter()
                training_step(model, model, ema, optimizer, diffusion, x0, config, contextlib.nullcontext())
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        small = min(batch_size, 8)
        median_step(small, 1)  # the first step allocates
        seconds = median_step(small, 5)
        if batch_size == small:
            return seconds
        if seconds * batch_size / small < 1.0:
            return median_step(batch_size, 3)
        return seconds * batch_size / small


_LIVE: dict[tuple, float] = {}  # seconds per step of real runs here, by (preset, size, channels, batch)


def record_speed(plan: "RunPlan", reports: list[Progress]) -> None:
    """Remember how fast a real run went (the median time per step of its reports), for the next estimate."""
    if len(reports) < 10:
        return
    gaps = [(b.elapsed_s - a.elapsed_s) / max(b.step - a.step, 1) for a, b in zip(reports, reports[1:])]
    c = plan.config
    _LIVE[(c.preset, c.image_size, c.channels, c.batch_size)] = statistics.median(gaps)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return _("{seconds} s").format(seconds=f"{seconds:.0f}")
    if seconds < 5400:
        return _("{minutes} min").format(minutes=f"{seconds / 60:.0f}")
    return _("{hours} h").format(hours=f"{seconds / 3600:.1f}")


def describe_preset(preset_name: str, image_size: int, channels: int, batch_size: int) -> str:
    """'tiny: 0.77 M parameters · about 4 s per 100 steps here (batch 8, 16×16 grey)', in the current language."""
    params = parameter_count(preset_name, image_size, channels)
    live = _LIVE.get((preset_name, image_size, channels, batch_size))
    per_step = live if live is not None else step_seconds(preset_name, image_size, channels, batch_size)
    text = _("{preset}: {params} M parameters · about {duration} per 100 steps here (batch {batch}, {size}×{size} "
             "{kind})").format(preset=preset_name, params=f"{params / 1e6:.2f}", duration=_duration(100 * per_step),
                               batch=batch_size, size=image_size, kind=checkpoint_view.kind(channels))
    return text + (" · " + _("measured on a run here") if live is not None else "")


def _preset_choices() -> list[tuple[str, str]]:
    """The preset dropdown's (label, value) pairs; each label is a catalogue key (locale/ko/LC_MESSAGES/ui_train.po), which the
    page translates."""
    return [(f"{name} ({parameter_count(name, 32, 3) / 1e6:.1f} M parameters at 32×32)", name) for name in PRESETS]


# ---- the background run ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunPlan:
    """Everything one Start or Resume needs."""

    name: str
    folder: Path
    data: Path
    config: TrainConfig
    diffusion: DiffusionConfig
    resume: bool
    preview_every: int


def run_job(plan: RunPlan) -> Job:
    """The session's "train" job for `plan`: train() in a thread, reporting ("progress", Progress, grid or
    None) after every step and ("log", line) for what the user should read before training starts."""
    def work(job: Job):
        _claim(plan.folder)
        try:
            return train(plan.config, plan.diffusion, plan.data, plan.folder, resume=plan.resume,
                         callback=lambda progress: _report(job, plan, progress), should_stop=lambda: job.stopping,
                         log=lambda line: job.report(("log", line)))
        finally:
            _release(plan.folder)
    return Job(f"train-{plan.name}", work, abandon_after=ABANDONED_S)


def _report(job: Job, plan: RunPlan, progress: Progress) -> None:
    # Previews are drawn here, in the training thread, between steps: the EMA is not changing meanwhile,
    # and two threads computing at once would oversubscribe a small CPU's cores.
    every = plan.preview_every
    wanted = progress.saved is not None or (every > 0 and progress.step % every == 0)
    grid = preview_grid(progress.ema, plan) if wanted and progress.ema is not None else None
    job.report(("progress", dataclasses.replace(progress, ema=None), grid), step=progress.step)


@dataclass
class View:
    """What the stream shows, accumulated from the job's reports."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    last: Progress | None = None
    progress: list[Progress] = field(default_factory=list)  # this run's reports (for its speed)
    log: list = field(default_factory=list)
    preview: np.ndarray | None = None
    preview_step: int = 0
    preview_sent: int = 0
    plotted: int = 0  # steps in the curve last sent

    def history(self, folder: Path) -> None:
        """Start from the run's saved history (metrics.jsonl up to its checkpoint): Resume continues the curve."""
        step = _saved_step(folder)
        rows = read_metrics(folder, up_to=step) if isinstance(step, int) else []
        self.steps, self.losses = [int(r["step"]) for r in rows], [float(r["loss"]) for r in rows]

    def take(self, reports: list) -> None:
        for kind, *items in reports:
            if kind == "log":
                self.log.append(items[0])
                continue
            progress, grid = items
            self.steps.append(progress.step)
            self.losses.append(progress.loss)
            self.last = progress
            self.progress.append(progress)
            if grid is not None:
                self.preview, self.preview_step = grid, progress.step


def preview_grid(model: torch.nn.Module, plan: RunPlan) -> np.ndarray:
    """PREVIEW_COUNT samples (Algorithm 2, respaced to PREVIEW_STEPS) as one uint8 grid image; of a conditional
    model, one column per class (PREVIEW_CLASSES at most) and PREVIEW_CLASS_ROWS rows, guided with w =
    DEFAULT_GUIDANCE as the Sample tab's default.

    The same seed every time, so successive previews show the same noise becoming images. The sampler
    draws from its own generator, so the training run's random stream is untouched.
    """
    config, diffusion = plan.config, diffusion_for(plan.diffusion)
    classes = min(model.config.num_classes, PREVIEW_CLASSES)
    labels = torch.arange(classes).repeat(PREVIEW_CLASS_ROWS) if classes else None  # each row: one of every class
    net = guided(model, labels, DEFAULT_GUIDANCE, model.config.null_class) if classes else model
    shape = (PREVIEW_COUNT if labels is None else len(labels), config.channels, config.image_size, config.image_size)
    was_training = model.training
    model.eval()  # no dropout while sampling
    try:
        x = sample(net, diffusion, shape, steps=min(PREVIEW_STEPS, diffusion.num_timesteps), seed=config.seed,
                   prediction=config.prediction)
    finally:
        model.train(was_training)
    grid = to_uint8(make_grid(x, nrow=classes or 4, padding=2, pad_value=1.0))
    scale = max(1, round(PREVIEW_WIDTH / grid.shape[1]))
    return grid.repeat(scale, 0).repeat(scale, 1)


# ---- what the page shows -----------------------------------------------------------------------------------

def _rate_line(p: Progress, batch_size: int) -> str:
    per_s = p.images_per_s / batch_size
    eta = (p.steps - p.step) / per_s if per_s > 0 else float("inf")
    return _("step {step} / {steps} · loss {loss} · {rate} it/s ({images} images/s) · {elapsed} elapsed · "
             "ETA {eta}").format(step=f"{p.step:,}", steps=f"{p.steps:,}", loss=f"{p.loss:.4f}", rate=f"{per_s:.1f}",
                                 images=f"{p.images_per_s:,.0f}", elapsed=_duration(p.elapsed_s),
                                 eta=_duration(eta) if eta != float("inf") else "…")


def status_html(headline: str, progress: Progress | None = None, plan: RunPlan | None = None, note: str = "") -> str:
    """The status box: a headline, a progress bar and the rate line (it/s, images/s, ETA)."""
    parts = [f"<div class='train-headline'>{headline}</div>"]
    if progress is not None and plan is not None:
        percent = 100 * progress.step / max(progress.steps, 1)
        parts.append(f"<progress value='{progress.step}' max='{progress.steps}' style='width:100%'"
                     f" aria-label='{html.escape(_('training progress'), quote=True)}'>{percent:.0f}%</progress>")
        parts.append(f"<div class='train-rate'>{_rate_line(progress, plan.config.batch_size)}</div>")
    if note:
        parts.append(f"<div class='train-note'>{note}</div>")
    return f"<div id='train-status-text'>{''.join(parts)}</div>"


def _where(plan: RunPlan, settings: deployment.Settings) -> str:
    shown = f"{plan.name}/{CHECKPOINT_NAME}" if settings.demo else str(plan.folder / CHECKPOINT_NAME)
    return f"<code>{html.escape(shown)}</code>"


def data_line(line) -> str:
    """A line train() logged before training (the data summary, the one-image notice) in the current language.

    The job passes ddpm_core's lines on as they are (coded messages, or English text); the stream words
    them here, inside the request's language scope.
    """
    return _(line) if isinstance(line, str) and line in i18n.KO else i18n.message(line)


def _preview_note(view: View) -> str:
    if not view.preview_step:
        return ""
    return _("Samples: the EMA model at step {step}.").format(step=f"{view.preview_step:,}")


def final_status(job: Job, view: View, plan: RunPlan, settings: deployment.Settings) -> str:
    """The status line a run ends on: finished, stopped at step k (saved), or failed and why."""
    outcome, p, name, note = job.outcome, view.last, html.escape(plan.name), _preview_note(view)
    if outcome.state is State.FAILED:
        reason = html.escape(describe(outcome.error))
        if p is None:
            return status_html(_("❌ Run <b>{name}</b> could not start: {message}").format(name=name, message=reason))
        return status_html(_("❌ Run <b>{name}</b> ended with an error at step {step}: {message}").format(
            name=name, step=f"{p.step:,}", message=reason), p, plan)
    step = job.result.step
    if step >= plan.config.steps:
        return status_html(_("✅ Finished run <b>{name}</b> at step {step}; checkpoint saved to {where}.").format(
            name=name, step=f"{step:,}", where=_where(plan, settings)), p, plan, note)
    return status_html(_("⏹️ Stopped at step {step}; checkpoint saved — press <b>Resume</b> to continue run "
                         "<b>{name}</b>.").format(step=f"{step:,}", name=name), p, plan, note)


# ---- callbacks ------------------------------------------------------------------------------------------------

class TrainTab:
    """The tab's callbacks, bound to one deployment's settings (demo or local) and its checkpoint catalogue."""

    def __init__(self, settings: deployment.Settings, catalogue: Catalogue | None = None):
        self.settings = settings
        self.catalogue = catalogue or Catalogue(settings)

    # -- data, config and run folder ------------------------------------------------------------------

    def data_folder(self, path, files, session: Session) -> Path:
        """The folder to train on: the typed path (local mode only), or the uploads collected safely."""
        path = path.strip() if isinstance(path, str) else ""
        uploads = uploaded_paths(files)
        if path and self.settings.demo:
            raise ValueError(_("This server takes uploaded images only; a folder path is not accepted."))
        if path and uploads:
            raise ValueError(_("Give a folder path or upload files, not both: clear one of them."))
        if path:
            folder = Path(path).expanduser()
            # A relative path that is not there from the current folder may be one of the repo's (assets/digits).
            return folder if folder.is_absolute() or folder.exists() else REPO_ROOT / folder
        if not uploads:
            raise ValueError(_("Upload images or one .zip of images first.") if self.settings.demo else
                             _("Choose the training images: type a folder path or upload images (or one .zip)."))
        destination = session.folder / "uploads"
        shutil.rmtree(destination, ignore_errors=True)
        return collect_uploads(uploads, destination, self.settings.uploads)

    def train_config(self, form: TrainForm) -> TrainConfig:
        s = self.settings
        if form.preset not in PRESETS:
            raise ValueError(_("Unknown preset {preset}; choose one of {presets}.").format(
                preset=repr(form.preset), presets=", ".join(PRESETS)))
        channels = integer(form.channels, "Channels", 1, 3)
        if channels not in (1, 3):
            raise ValueError(_("Channels must be 1 (grey) or 3 (colour)."))
        conditional = bool(form.conditional)
        config = TrainConfig(image_size=integer(form.image_size, "Image size", MIN_IMAGE_SIZE, s.max_image_size),
                             channels=channels, preset=form.preset,
                             batch_size=integer(form.batch_size, "Batch size", 1, s.max_batch_size),
                             lr=number(form.lr, "Learning rate"), steps=integer(form.steps, "Steps", 1, s.max_steps),
                             ema_decay=number(form.ema_decay, "EMA decay"), flip=bool(form.flip),
                             seed=integer(form.seed, "Seed", 0, SEED_MAX), conditional=conditional,
                             # hidden when unticked: whatever it holds then is not this run's
                             p_uncond=number(form.p_uncond, "p_uncond") if conditional else DEFAULT_P_UNCOND,
                             lr_decay="cosine" if form.lr_cosine else "constant")
        config.check()
        preset(form.preset, config.image_size, config.channels).check()  # e.g. a size the U-Net cannot halve
        return config

    @contextlib.contextmanager
    def _classes_root(self, path, files):
        """The folder whose classes to read: the typed folder, or the uploads collected (checked as for training)
        into a temporary folder, removed afterwards: a run of this session may be using its uploads folder."""
        uploads = uploaded_paths(files)
        if not uploads or (isinstance(path, str) and path.strip()):
            yield self.data_folder(path, files, None)  # a path (or a message): no session folder is touched
            return
        with tempfile.TemporaryDirectory(prefix="ddpm-classes-") as scratch:
            yield collect_uploads(uploads, Path(scratch) / "uploads", self.settings.uploads)

    @user_errors
    def classes(self, path, files, conditional) -> str:
        """For a conditional run, the classes of the chosen data and their image counts (Markdown); '' otherwise."""
        if not conditional:
            return ""
        try:
            with self._classes_root(path, files) as root:
                found = folder_classes(root)
        except ValueError as exc:  # no such folder, bad uploads, …: said where the classes would be
            return "⚠️ " + html.escape(i18n.message(exc), quote=False)
        return classes_markdown(found)

    def _preview_every(self, value) -> int:
        return integer(value, "Preview every (steps)", 0, 1_000_000)

    def _check_idle(self, session: Session) -> None:
        if session.busy("train"):
            raise ValueError(_("This session is already training; press Stop first."))

    def _start_plan(self, form: TrainForm, session: Session) -> RunPlan:
        config = self.train_config(form)
        form.diffusion.betas()  # a bad schedule is reported now, not from the thread
        run_name = form.run_name
        if not (isinstance(run_name, str) and run_name.strip()):
            run_name = f"{form.preset}-{config.image_size}px-{time.strftime('%Y%m%d-%H%M%S')}"
        name, folder = self.catalogue.run_folder(session, run_name)
        if (folder / CHECKPOINT_NAME).exists():
            step = _saved_step(folder)
            raise ValueError(_("Run '{name}' already has a checkpoint (step {step}). Press Resume to continue it, "
                               "or choose a new run name.").format(name=name, step=step))
        return RunPlan(name, folder, self.data_folder(form.path, form.files, session), config, form.diffusion, False,
                       self._preview_every(form.preview_every))

    def _resume_plan(self, form: ResumeForm, session: Session) -> RunPlan:
        name, folder = self.catalogue.run_folder(session, form.run_name)
        try:
            saved = read_config(folder / CHECKPOINT_NAME)
        except ValueError:
            raise ValueError(_("Run '{name}' has no checkpoint to resume; press Start to begin it.").format(
                name=name)) from None
        config = config_from_dict(TrainConfig, saved.get("training"), "training")
        diffusion = config_from_dict(DiffusionConfig, saved.get("diffusion"), "diffusion")
        steps, done = integer(form.steps, "Steps", 1, self.settings.max_steps), int(saved.get("step", 0))
        if steps <= done:
            raise ValueError(_("Run '{name}' is already at step {step}; set Steps above {step} to train further.")
                             .format(name=name, step=f"{done:,}"))
        return RunPlan(name, folder, self.data_folder(form.path, form.files, session),
                       dataclasses.replace(config, steps=steps), diffusion, True,
                       self._preview_every(form.preview_every))

    # -- events -----------------------------------------------------------------------------------------

    @user_errors
    def start(self, form: TrainForm, session: Session):
        """Train a new run on the chosen images, streaming the loss, samples and progress."""
        yield from self._run(lambda: self._start_plan(form, session), session)

    @user_errors
    def resume(self, form: ResumeForm, session: Session):
        """Continue the chosen run from its checkpoint with its own settings, up to `steps` in all."""
        yield from self._run(lambda: self._resume_plan(form, session), session)

    @user_errors
    def stop(self, session):
        """Ask the session's run to stop; it saves a checkpoint at its next step."""
        if session is None or not session.stop("train"):
            return status_html(_("Nothing is training in this session."))
        return status_html(_("⏳ Stopping: saving a checkpoint after the current step…"))

    def _forget_uploads(self, session: Session) -> None:
        """Delete the session's copy of its uploads (Resume collects them again), and its folder if now empty."""
        shutil.rmtree(session.folder / "uploads", ignore_errors=True)
        if session.folder.is_dir() and not any(session.folder.iterdir()):
            session.folder.rmdir()

    def _runs(self, session) -> list[Entry]:
        return self.catalogue.runs(session) if session is not None or not self.settings.demo else []

    @user_errors
    def checkpoints(self, session):
        """The checkpoint table (the /train_checkpoints endpoint)."""
        return _checkpoints_markdown(self._runs(session))

    def run_choices(self, session):
        """Runs with a checkpoint, to pick one to Resume; the session's last run is selected."""
        names = [entry.name for entry in self._runs(session)]
        last = session.state(TrainState).last_run if session is not None else None
        return gr.Dropdown(choices=names, value=last) if last else gr.Dropdown(choices=names)

    @user_errors
    def estimate(self, preset_name, image_size, channels, batch_size):
        try:
            size = integer(image_size, "Image size", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
            channels = integer(channels, "Channels", 1, 3)
            batch = integer(batch_size, "Batch size", 1, self.settings.max_batch_size)
            preset(preset_name, size, channels).check()
        except ValueError as exc:
            return gr.Dropdown(info=f"({i18n.message(exc)})")
        return gr.Dropdown(info=describe_preset(preset_name, size, channels, batch))

    # -- the stream -----------------------------------------------------------------------------------

    def _run(self, make_plan, session: Session):
        """Plan a run and stream it; a plan that fails leaves no uploaded copies behind."""
        self._check_idle(session)  # before cleaning up: a busy session's uploads are in use
        try:
            plan = make_plan()
            job = session.start("train", run_job(plan))
        except BaseException:
            self._forget_uploads(session)
            raise
        session.state(TrainState).last_run = plan.name
        yield from self._stream(job, plan, session)

    def _stream(self, job: Job, plan: RunPlan, session: Session):
        """Yield (loss plot, status, preview, data log, session) every POLL_S until the job ends, then its outcome."""
        view = View()
        if plan.resume:
            view.history(plan.folder)
        name = html.escape(plan.name)
        opening = (_("⏳ Resuming run <b>{name}</b>: reading the images…") if plan.resume
                   else _("⏳ Starting run <b>{name}</b>: reading the images…"))
        # A new run clears the last run's curve and samples; a resumed one shows its history at once.
        yield self._plot(view) if view.steps else None, status_html(opening.format(name=name)), None, "", session
        for reports in follow(job, POLL_S):
            view.take(reports)
            if job.running:
                yield self._frame(view, plan, session)
        self._forget_uploads(session)  # the job has ended: nothing reads them now
        record_speed(plan, view.progress)
        final = final_status(job, view, plan, self.settings)
        yield self._plot(view, always=True), final, self._preview(view), self._log(view), session
        if job.outcome.state is State.FAILED:
            raise error(describe(job.outcome.error))

    def _frame(self, view: View, plan: RunPlan, session: Session) -> tuple:
        p, name = view.last, html.escape(plan.name)
        status = (status_html(_("🏋️ Training run <b>{name}</b>").format(name=name), p, plan, _preview_note(view))
                  if p is not None else
                  status_html(_("⏳ Run <b>{name}</b>: loading the images and building the network…").format(name=name)))
        return self._plot(view), status, self._preview(view), self._log(view), session

    def _plot(self, view: View, always: bool = False):
        """The loss curve, or a skip when no step arrived since it was last sent (unless `always`)."""
        if not view.steps or (len(view.steps) == view.plotted and not always):
            return gr.skip()
        view.plotted = len(view.steps)
        return plots.as_plot(plots2d.loss_figure(view.steps, view.losses))

    def _preview(self, view: View):
        if view.preview is None or view.preview_sent == view.preview_step:
            return gr.skip()
        view.preview_sent = view.preview_step
        return view.preview

    def _log(self, view: View) -> str:
        return "\n\n".join(data_line(line) for line in view.log)


def _saved_step(folder: Path):
    try:
        return read_config(folder / CHECKPOINT_NAME).get("step", "?")
    except ValueError:
        return "?"


# ---- layout ------------------------------------------------------------------------------------------

def build(demo: gr.Blocks, session: gr.State, catalogue: Catalogue) -> TrainTab:
    """Lay out the Train tab inside `demo` and wire its events; `session` is the page's shared Session."""
    settings = catalogue.settings
    tab = TrainTab(settings, catalogue)
    gr.Markdown(L(INTRO), elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            path = gr.Textbox("" if settings.demo else BUNDLED_DATA,
                              label=L("Folder of images on this computer (searched recursively)"),
                              info=L(f"{BUNDLED_DATA}: the bundled 1,797 handwritten digits (8×8, UCI)"),
                              visible=not settings.demo, elem_id="train-path")
            # One translatable key, then the demo limits in words-free form (the page translates the key only).
            files = gr.File(label=(L("Upload images or one .zip") + f" (≤ {settings.uploads.max_files:,}, "
                                   f"≤ {settings.uploads.max_upload_bytes // 2**20} MB)") if settings.demo
                            else L("…or upload images or one .zip"),
                            file_count="multiple", file_types=[*IMAGE_EXTENSIONS, ZIP_EXTENSION],
                            elem_id="train-files")
            with gr.Row(equal_height=True):
                conditional = gr.Checkbox(False, label=L("Class-conditional (one class per subfolder)"),
                                          info=L("Each subfolder of the data is a class; the Sample tab can then "
                                                 "draw a chosen class, with classifier-free guidance."),
                                          elem_id="train-conditional")
                p_uncond = gr.Number(DEFAULT_P_UNCOND, label=L("p_uncond: share of labels dropped"),
                                     info=L("So that one network also learns the unconditional model that guidance "
                                            "needs (Ho & Salimans 2022 used 0.1–0.2)."),
                                     minimum=0, maximum=1, step=0.05, visible=False, elem_id="train-p-uncond")
            classes_info = gr.Markdown(elem_id="train-classes")
            with gr.Row():
                image_size = gr.Slider(MIN_IMAGE_SIZE, settings.max_image_size, value=16, step=8,
                                       label=L("Image size (px)"), info=L("16 suits the bundled digits"),
                                       elem_id="train-size")
                channels = gr.Radio(CHANNEL_CHOICES, value=1, label=L("Channels"), elem_id="train-channels")
            preset_name = gr.Dropdown(_preset_choices(), value="tiny", label=L("U-Net preset"),
                                      info=L("Measuring speed on this machine…"), elem_id="train-preset")
            with gr.Row():
                batch_size = gr.Slider(1, min(256, settings.max_batch_size), value=64, step=1, label=L("Batch size"),
                                       elem_id="train-batch")
                steps = gr.Number(2000,
                                  label=L("Steps") + f" (≤ {settings.max_steps:,})" if settings.demo else L("Steps"),
                                  precision=0, minimum=1,
                                  maximum=settings.max_steps, elem_id="train-steps")
            controls = build_schedule_controls("train")
            with gr.Accordion(L("More settings"), open=False):
                with gr.Row():
                    lr = gr.Number(5e-4, label=L("Learning rate (after a linear warm-up)"), elem_id="train-lr")
                    ema = gr.Number(0.995, label=L("EMA decay"), elem_id="train-ema")
                with gr.Row():
                    seed = gr.Number(0, label=L("Seed"), precision=0, minimum=0, elem_id="train-seed")
                    preview_every = gr.Number(200, label=L("Preview samples every (steps; 0 = only at the end)"),
                                              precision=0, minimum=0, elem_id="train-preview-every")
                flip = gr.Checkbox(False, label=L("Random horizontal flips (not for digits or text)"),
                                   elem_id="train-flip")
                lr_cosine = gr.Checkbox(False, label=L("Cosine decay of the learning rate to zero at the last step"),
                                        elem_id="train-cosine")
            run_name = gr.Dropdown([], value=None, allow_custom_value=True, label=L("Run name"),
                                   info=L("Blank: a new name. Pick an earlier run to Resume it."), elem_id="train-run")
            with gr.Row(elem_classes="tab-actions"):
                start_btn = gr.Button(L("Start"), variant="primary", min_width=60, elem_id="train-start")
                stop_btn = gr.Button(L("Stop"), min_width=60, elem_id="train-stop")
                resume_btn = gr.Button(L("Resume"), min_width=60, elem_id="train-resume")
        with gr.Column(scale=3, min_width=420):
            status = gr.HTML(status_html(i18n.bilingual("Choose images and press <b>Start</b>.",
                                                        "이미지를 고르고 <b>시작</b>을 누르세요.")),
                             elem_id="train-status")
            loss_plot = gr.Plot(label=L("Training loss"), show_label=False, elem_id="train-loss")
            preview = gr.Image(label=L("Samples from the EMA model"), type="numpy", format="png", interactive=False,
                               height=420, buttons=["download"], elem_id="train-preview")
            data_info = gr.Markdown(elem_id="train-data")
            checkpoints = gr.Markdown(elem_id="train-checkpoints")
            refresh_btn = gr.Button(L("Refresh the list"), size="sm", elem_id="train-refresh")
    code_panels.build("loss")

    estimate = dict(fn=tab.estimate, inputs=[preset_name, image_size, channels, batch_size], outputs=preset_name,
                    preprocess=False, trigger_mode="always_last", show_progress="hidden",
                    concurrency_id="train_estimate", concurrency_limit=1, api_visibility="private")
    gr.on([demo.load, preset_name.change, image_size.release, channels.change, batch_size.release], **estimate)
    start_form = Form(TrainForm, path=path, files=files, image_size=image_size, channels=channels, preset=preset_name,
                      batch_size=batch_size, lr=lr, steps=steps, ema_decay=ema, seed=seed, flip=flip,
                      preview_every=preview_every, run_name=run_name, diffusion=controls, conditional=conditional,
                      p_uncond=p_uncond, lr_cosine=lr_cosine)
    resume_form = Form(ResumeForm, path=path, files=files, steps=steps, preview_every=preview_every, run_name=run_name)
    training = dict(outputs=[loss_plot, status, preview, data_info, session], preprocess=False, concurrency_id="train",
                    concurrency_limit=settings.max_concurrent_runs, show_progress="minimal", show_progress_on=[status])
    listing = dict(fn=tab.checkpoints, inputs=session, outputs=checkpoints, show_progress="hidden")
    choices = dict(fn=tab.run_choices, inputs=session, outputs=run_name, api_visibility="private",
                   show_progress="hidden")
    for event in (start_btn.click(**start_form.event(tab.start, session), **training, api_name="train_start"),
                  resume_btn.click(**resume_form.event(tab.resume, session), **training, api_name="train_resume")):
        event.then(**listing, api_visibility="private").then(**choices).then(**estimate)
    refresh_btn.click(**listing, api_name="train_checkpoints").then(**choices)
    conditional.change(lambda on: gr.Number(visible=bool(on)), conditional, p_uncond, queue=False,
                       api_visibility="private", show_progress="hidden")
    # Not on every keystroke of the path: a half-typed "/" would be scanned to the bottom.
    gr.on([path.blur, path.submit, files.change, conditional.change], tab.classes, [path, files, conditional],
          classes_info, trigger_mode="always_last", show_progress="hidden", concurrency_id="train_classes",
          concurrency_limit=1, api_visibility="private")
    stop_btn.click(tab.stop, session, status, api_name="train_stop", show_progress="hidden")
    demo.load(**listing, api_visibility="private").then(**choices)
    return tab
