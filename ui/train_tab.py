"""The Train tab: train an image DDPM on a folder or uploads, with a live loss curve, samples, Stop and Resume.

Training (ddpm_core.train.train) runs in a background thread. The Start/Resume event is a generator
that drains what the thread reports every POLL_S seconds and streams it to the page, so the event
never computes a training step itself and other tabs keep answering. Stop sets the run's
threading.Event (the session's gr.State holds it); train() then saves a checkpoint and returns.
Settings come from server/settings.py: demo mode takes uploads only, caps them and keeps each session's
files in its own temporary folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from torchvision.utils import make_grid

from ddpm_core.checkpoints import CheckpointError, config_from_dict, read_config
from ddpm_core.config import DiffusionConfig
from ddpm_core.data import IMAGE_EXTENSIONS, MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from ddpm_core.images import to_uint8
from ddpm_core.samplers import sample
from ddpm_core.train import CHECKPOINT_NAME, Progress, TrainConfig, TrainingError, make_ema, train, training_step
from ddpm_core.unet import PRESETS, UNet, count_parameters, preset
from server.uploads import ZIP_EXTENSION, collect_uploads
from server import settings as deployment
from ui import code_panels, i18n, plots, plots2d
from ui.errors import user_errors
from ui.i18n import L, _
from ui.schedule_controls import build_schedule_controls, diffusion_for, integer, number, parse_config

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = "assets/digits"  # the default folder in local mode, relative to the repo
POLL_S = 0.5  # how often the stream reports
ABANDONED_S = 120  # a run nobody has polled for this long stops (and saves): its page went away
PREVIEW_COUNT = 16  # samples in a preview grid (4 × 4)
PREVIEW_STEPS = 50  # respaced reverse steps per preview
PREVIEW_WIDTH = 256  # previews are enlarged (nearest neighbour) to about this many pixels
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CHANNEL_CHOICES = [("grey", 1), ("colour", 3)]
SEED_MAX = 2**31 - 1
INTRO = ("Train a U-Net to predict the noise ε (Algorithm 1 of Ho et al. 2020) on your images. Small images "
         "train fastest on a CPU: 16×16 grey digits learn recognisable shapes in a few thousand steps.")


# ---- sessions and run folders ------------------------------------------------------------------------

@dataclass
class Session:
    """One browser session's training: its private temporary folder and the run in progress (if any)."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # never user input: it names a folder
    worker: "Worker | None" = None
    last_run: str | None = None

    @property
    def folder(self) -> Path:
        return deployment.sessions_dir() / self.id

    @property
    def busy(self) -> bool:
        return self.worker is not None and self.worker.thread.is_alive()


def new_session() -> Session:
    """The Train tab's gr.State value: a callable, so Gradio makes a fresh Session for every session."""
    return Session()


def end_session(session: Session | None) -> None:
    """Gradio calls this when a session's state expires: stop its run, then delete its temporary folder."""
    if session is None:
        return
    worker = session.worker

    def clean() -> None:
        if worker is not None:
            worker.stop.set()
            worker.thread.join(timeout=600)
        shutil.rmtree(session.folder, ignore_errors=True)

    threading.Thread(target=clean, daemon=True, name=f"end-session-{session.id[:8]}").start()


def runs_root(settings: deployment.Settings, session: Session | None) -> Path | None:
    """Where this session's run folders live: runs/ locally, the session's own folder in demo mode."""
    if not settings.demo:
        return deployment.runs_dir()
    return session.folder / "runs" if session is not None else None


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


def checkpoint_config(path: Path) -> dict | None:
    """The configuration a checkpoint records (header only), or None: damaged or foreign files are not listed."""
    try:
        return read_config(path)
    except CheckpointError:
        return None


def _kind(channels) -> str:
    """'grey' or 'colour', in the current language."""
    return _("grey") if channels == 1 else _("colour")


def _describe_config(config: dict) -> str:
    model, step = config.get("model") or {}, config.get("step", 0)
    size, channels = model.get("image_size", "?"), model.get("channels")
    preset_name = (config.get("training") or {}).get("preset", "?")
    return _("step {step} · {size}×{size} {kind} · {preset}").format(
        step=f"{step:,}", size=size, kind=_kind(channels), preset=preset_name)


def _checkpoint_rows(folder: Path) -> list[tuple[str, str, str]]:
    """(run name, description, path) of every `<run>/model.safetensors` under `folder`, newest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"*/{CHECKPOINT_NAME}"):
        config = checkpoint_config(path)
        if config is not None:
            found.append((path.stat().st_mtime, path.parent.name, _describe_config(config), str(path)))
    return [(name, description, path) for _, name, description, path in sorted(found, reverse=True)]


def list_checkpoints(folder: Path | None = None) -> list[tuple[str, str]]:
    """(label, path) of every `<run>/model.safetensors` under `folder` (default runs/), newest first.

    For the Sample tab: `list_checkpoints(runs_root(settings, session))` gives a session's list. Labels
    are in the current request's language.
    """
    folder = deployment.runs_dir() if folder is None else folder
    return [(f"{name} · {description}", path) for name, description, path in _checkpoint_rows(folder)]


def _checkpoints_markdown(folder: Path | None) -> str:
    rows = _checkpoint_rows(folder) if folder is not None else []
    if not rows:
        return _("No checkpoints yet: a run saves `model.safetensors` every 500 steps, at its end and on Stop.")
    lines = [f"| {_('run')} | {_('checkpoint')} |", "|---|---|"]
    lines += [f"| `{name}` | {description} |" for name, description, _path in rows]
    return _("**Checkpoints** (your trained models)") + "\n\n" + "\n".join(lines)


def _run_names(folder: Path | None) -> list[str]:
    return [Path(path).parent.name for _, path in list_checkpoints(folder)] if folder is not None else []


def _run_folder(root: Path, name) -> tuple[str, Path]:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not RUN_NAME.match(name):
        raise ValueError(_("A run name is 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit; "
                           "got {name}.").format(name=repr(name)))
    return name, root / name


# ---- presets: size and speed on this machine ------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def parameter_count(preset_name: str, image_size: int, channels: int) -> int:
    return count_parameters(UNet(preset(preset_name, image_size, channels)))


_TIMING_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def step_seconds(preset_name: str, image_size: int, channels: int, batch_size: int) -> float:
    """Seconds per training step here, measured once: steps at batch 2 and at min(batch, 8), then a line.

    A step is what train() does: loss, backward, clipping, AdamW and the EMA update. Large networks
    skip the second point (their cost is nearly proportional to the batch anyway).
    """
    with _TIMING_LOCK:
        torch.manual_seed(0)
        model = UNet(preset(preset_name, image_size, channels))
        ema = make_ema(model, 0.999)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        diffusion, config = diffusion_for(DiffusionConfig()), TrainConfig()

        def timed(batch: int) -> float:
            start = time.perf_counter()
            x0 = torch.randn(batch, channels, image_size, image_size)
            training_step(model, model, ema, optimizer, diffusion, x0, config, contextlib.nullcontext())
            return time.perf_counter() - start

        small = timed(2)  # the first step allocates: a warm-up, unless it is slow enough to stand alone
        if small < 0.5:
            small = min(timed(2), timed(2))
        if batch_size <= 2 or small > 0.5:
            return small * batch_size / 2
        larger = min(batch_size, 8)
        slope = max(min(timed(larger), timed(larger)) - small, 0.0) / (larger - 2)
        return small + slope * (batch_size - 2)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return _("{seconds} s").format(seconds=f"{seconds:.0f}")
    if seconds < 5400:
        return _("{minutes} min").format(minutes=f"{seconds / 60:.0f}")
    return _("{hours} h").format(hours=f"{seconds / 3600:.1f}")


def describe_preset(preset_name: str, image_size: int, channels: int, batch_size: int) -> str:
    """'tiny: 0.77 M parameters · about 4 s per 100 steps here (batch 8, 16×16 grey)', in the current language."""
    params = parameter_count(preset_name, image_size, channels)
    per_step = step_seconds(preset_name, image_size, channels, batch_size)
    return _("{preset}: {params} M parameters · about {duration} per 100 steps here (batch {batch}, {size}×{size} "
             "{kind})").format(preset=preset_name, params=f"{params / 1e6:.2f}", duration=_duration(100 * per_step),
                               batch=batch_size, size=image_size, kind=_kind(channels))


def _preset_choices() -> list[tuple[str, str]]:
    """The preset dropdown's (label, value) pairs; each label is a catalogue key (ui/ko/train.py), which the
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


class Worker:
    """train() in a daemon thread. Progress, log lines and EMA snapshots for previews arrive on `events`."""

    def __init__(self, plan: RunPlan):
        self.plan = plan
        self.events: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.heartbeat = time.monotonic()
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"train-{plan.name}")

    def start(self) -> None:
        _claim(self.plan.folder)
        self.thread.start()

    def _main(self) -> None:
        plan = self.plan
        try:
            self.result = train(plan.config, plan.diffusion, plan.data, plan.folder, resume=plan.resume,
                                callback=self._report, should_stop=self._should_stop,
                                log=lambda line: self.events.put(("log", line)))
        except BaseException as exc:  # noqa: BLE001 (handed to the stream, which raises it for the user)
            self.error = exc
        finally:
            _release(plan.folder)

    def _should_stop(self) -> bool:
        return self.stop.is_set() or time.monotonic() - self.heartbeat > ABANDONED_S

    def _report(self, progress: Progress) -> None:
        # Previews are drawn here, in the training thread, between steps: the EMA is not changing
        # meanwhile, and two threads computing at once would oversubscribe a small CPU's cores.
        every = self.plan.preview_every
        wanted = progress.saved is not None or (every > 0 and progress.step % every == 0)
        grid = preview_grid(progress.ema, self.plan) if wanted and progress.ema is not None else None
        self.events.put(("progress", dataclasses.replace(progress, ema=None), grid))


@dataclass
class View:
    """What the stream shows, accumulated from the worker's events."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    last: Progress | None = None
    log: list[str] = field(default_factory=list)
    preview: np.ndarray | None = None
    preview_step: int = 0
    preview_sent: int = 0
    plotted: int = 0  # steps in the curve last sent

    def take(self, events: queue.Queue) -> None:
        while True:
            try:
                kind, *items = events.get_nowait()
            except queue.Empty:
                return
            if kind == "log":
                self.log.append(items[0])
                continue
            progress, grid = items
            self.steps.append(progress.step)
            self.losses.append(progress.loss)
            self.last = progress
            if grid is not None:
                self.preview, self.preview_step = grid, progress.step


def preview_grid(model: torch.nn.Module, plan: RunPlan) -> np.ndarray:
    """PREVIEW_COUNT samples (Algorithm 2, respaced to PREVIEW_STEPS) as one uint8 grid image.

    The same seed every time, so successive previews show the same noise becoming images. The sampler
    draws from its own generator, so the training run's random stream is untouched.
    """
    config, diffusion = plan.config, diffusion_for(plan.diffusion)
    shape = (PREVIEW_COUNT, config.channels, config.image_size, config.image_size)
    was_training = model.training
    model.eval()  # no dropout while sampling
    try:
        x = sample(model, diffusion, shape, steps=min(PREVIEW_STEPS, diffusion.num_timesteps), seed=config.seed,
                   prediction=config.prediction)
    finally:
        model.train(was_training)
    grid = to_uint8(make_grid(x, nrow=4, padding=2, pad_value=1.0))
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


def data_line(line: str) -> str:
    """A line train() logged before training (the data summary, the one-image notice) in the current language.

    The worker thread passes ddpm_core's English lines on as they are; the stream translates them here,
    inside the request's language scope: a catalogue text with `_`, anything else (the data summary
    among them) with `i18n.message`.
    """
    return _(line) if line in i18n.KO else i18n.message(line)


def _preview_note(view: View) -> str:
    if not view.preview_step:
        return ""
    return _("Samples: the EMA model at step {step}.").format(step=f"{view.preview_step:,}")


def _final_status(view: View, plan: RunPlan, result, settings: deployment.Settings) -> str:
    p, name, note = view.last, html.escape(plan.name), _preview_note(view)
    if result.step >= plan.config.steps:
        return status_html(_("✅ Finished run <b>{name}</b> at step {step}; checkpoint saved to {where}.").format(
            name=name, step=f"{result.step:,}", where=_where(plan, settings)), p, plan, note)
    return status_html(_("⏹️ Stopped at step {step}; checkpoint saved — press <b>Resume</b> to continue run "
                         "<b>{name}</b>.").format(step=f"{result.step:,}", name=name), p, plan, note)


# ---- parsing what the page sends -------------------------------------------------------------------------

def _uploaded_paths(files) -> list[str]:
    if not files:
        return []
    files = files if isinstance(files, list) else [files]
    return [f["path"] if isinstance(f, dict) else str(f) for f in files]


class TrainTab:
    """The tab's callbacks, bound to one deployment's settings (demo or local)."""

    def __init__(self, settings: deployment.Settings):
        self.settings = settings

    # -- data, config and run folder ------------------------------------------------------------------

    def data_folder(self, path, files, session: Session) -> Path:
        """The folder to train on: the typed path (local mode only), or the uploads collected safely."""
        path = path.strip() if isinstance(path, str) else ""
        uploads = _uploaded_paths(files)
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

    def train_config(self, image_size, channels, preset_name, batch_size, lr, steps, ema_decay, seed,
                     flip) -> TrainConfig:
        s = self.settings
        if preset_name not in PRESETS:
            raise ValueError(_("Unknown preset {preset}; choose one of {presets}.").format(
                preset=repr(preset_name), presets=", ".join(PRESETS)))
        channels = integer(channels, "Channels", 1, 3)
        if channels not in (1, 3):
            raise ValueError(_("Channels must be 1 (grey) or 3 (colour)."))
        config = TrainConfig(image_size=integer(image_size, "Image size", MIN_IMAGE_SIZE, s.max_image_size),
                             channels=channels, preset=preset_name,
                             batch_size=integer(batch_size, "Batch size", 1, s.max_batch_size),
                             lr=number(lr, "Learning rate"), steps=integer(steps, "Steps", 1, s.max_steps),
                             ema_decay=number(ema_decay, "EMA decay"), flip=bool(flip),
                             seed=integer(seed, "Seed", 0, SEED_MAX))
        config.check()
        preset(preset_name, config.image_size, config.channels).check()  # e.g. a size the U-Net cannot halve
        return config

    def _preview_every(self, value) -> int:
        return integer(value, "Preview every (steps)", 0, 1_000_000)

    def _root(self, session: Session) -> Path:
        return runs_root(self.settings, session)

    def _check_idle(self, session: Session) -> None:
        if session.busy:
            raise ValueError(_("This session is already training; press Stop first."))

    # -- events -----------------------------------------------------------------------------------------

    @user_errors
    def start(self, path, files, image_size, channels, preset_name, batch_size, lr, steps, ema_decay, seed, flip,
              preview_every, run_name, schedule, timesteps, beta_start, beta_end, rescale, cosine_s, session):
        """Train a new run on the chosen images, streaming the loss, samples and progress."""
        def plan() -> RunPlan:
            return self._start_plan(path, files, image_size, channels, preset_name, batch_size, lr, steps, ema_decay,
                                    seed, flip, preview_every, run_name, schedule, timesteps, beta_start, beta_end,
                                    rescale, cosine_s, session)
        yield from self._run(plan, session)

    @user_errors
    def resume(self, path, files, steps, preview_every, run_name, session):
        """Continue the chosen run from its checkpoint with its own settings, up to `steps` in all."""
        yield from self._run(lambda: self._resume_plan(path, files, steps, preview_every, run_name, session), session)

    def _start_plan(self, path, files, image_size, channels, preset_name, batch_size, lr, steps, ema_decay, seed, flip,
                    preview_every, run_name, schedule, timesteps, beta_start, beta_end, rescale, cosine_s,
                    session) -> RunPlan:
        config = self.train_config(image_size, channels, preset_name, batch_size, lr, steps, ema_decay, seed, flip)
        diffusion = parse_config(schedule, timesteps, beta_start, beta_end, rescale, cosine_s)
        diffusion.betas()  # a bad schedule is reported now, not from the thread
        if not (isinstance(run_name, str) and run_name.strip()):
            run_name = f"{preset_name}-{config.image_size}px-{time.strftime('%Y%m%d-%H%M%S')}"
        name, folder = _run_folder(self._root(session), run_name)
        if (folder / CHECKPOINT_NAME).exists():
            step = (checkpoint_config(folder / CHECKPOINT_NAME) or {}).get("step", "?")
            raise ValueError(_("Run '{name}' already has a checkpoint (step {step}). Press Resume to continue it, "
                               "or choose a new run name.").format(name=name, step=step))
        return RunPlan(name, folder, self.data_folder(path, files, session), config, diffusion, False,
                       self._preview_every(preview_every))

    def _resume_plan(self, path, files, steps, preview_every, run_name, session) -> RunPlan:
        name, folder = _run_folder(self._root(session), run_name)
        saved = checkpoint_config(folder / CHECKPOINT_NAME)
        if saved is None:
            raise ValueError(_("Run '{name}' has no checkpoint to resume; press Start to begin it.").format(name=name))
        config = config_from_dict(TrainConfig, saved.get("training"), "training")
        diffusion = config_from_dict(DiffusionConfig, saved.get("diffusion"), "diffusion")
        steps, done = integer(steps, "Steps", 1, self.settings.max_steps), int(saved.get("step", 0))
        if steps <= done:
            raise ValueError(_("Run '{name}' is already at step {step}; set Steps above {step} to train further.")
                             .format(name=name, step=f"{done:,}"))
        return RunPlan(name, folder, self.data_folder(path, files, session), dataclasses.replace(config, steps=steps),
                       diffusion, True, self._preview_every(preview_every))

    @user_errors
    def stop(self, session):
        """Ask the session's run to stop; it saves a checkpoint at its next step."""
        if session is None or not session.busy:
            return status_html(_("Nothing is training in this session."))
        session.worker.stop.set()
        return status_html(_("⏳ Stopping: saving a checkpoint after the current step…"))

    def _listed(self, session) -> Path | None:
        return self._root(session) if session is not None or not self.settings.demo else None

    def _forget_uploads(self, session: Session) -> None:
        """Delete the session's copy of its uploads (Resume collects them again), and its folder if now empty."""
        shutil.rmtree(session.folder / "uploads", ignore_errors=True)
        if session.folder.is_dir() and not any(session.folder.iterdir()):
            session.folder.rmdir()

    @user_errors
    def checkpoints(self, session):
        """The checkpoint table (the /train_checkpoints endpoint)."""
        return _checkpoints_markdown(self._listed(session))

    def run_choices(self, session):
        """Runs with a checkpoint, to pick one to Resume; the session's last run is selected."""
        names = _run_names(self._listed(session))
        if session is not None and session.last_run:
            return gr.Dropdown(choices=names, value=session.last_run)
        return gr.Dropdown(choices=names)

    @user_errors
    def estimate(self, preset_name, image_size, channels, batch_size):
        try:
            size = integer(image_size, "Image size", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
            channels = integer(channels, "Channels", 1, 3)
            batch = integer(batch_size, "Batch size", 1, self.settings.max_batch_size)
            preset(preset_name, size, channels).check()
        except ValueError as exc:
            return gr.Dropdown(info=f"({i18n.message(str(exc))})")
        return gr.Dropdown(info=describe_preset(preset_name, size, channels, batch))

    # -- the stream -----------------------------------------------------------------------------------

    def _run(self, make_plan, session: Session):
        """Plan a run and stream it; a plan that fails leaves no uploaded copies behind."""
        self._check_idle(session)  # before cleaning up: a busy session's uploads are in use
        try:
            worker = Worker(make_plan())
            worker.start()
        except BaseException:
            self._forget_uploads(session)
            raise
        yield from self._stream(worker, session)

    def _stream(self, worker: Worker, session: Session):
        """Yield (loss plot, status, preview, data log, session) every POLL_S until the worker ends."""
        plan = worker.plan
        session.worker, session.last_run = worker, plan.name
        view = View()
        opening = (_("⏳ Resuming run <b>{name}</b>: reading the images…") if plan.resume
                   else _("⏳ Starting run <b>{name}</b>: reading the images…"))
        try:
            yield gr.skip(), status_html(opening.format(name=html.escape(plan.name))), gr.skip(), "", session
            while True:
                finished = not worker.thread.is_alive()  # checked before draining: nothing arrives after
                view.take(worker.events)
                yield self._frame(view, plan, session)
                if finished:
                    break
                worker.thread.join(POLL_S)
                worker.heartbeat = time.monotonic()
        finally:
            worker.stop.set()  # the page cancelled or went away: the run saves and ends
        self._forget_uploads(session)  # the thread has ended: nothing reads them now
        if worker.error is not None:
            yield from self._failed(worker.error, view, plan)
        final = _final_status(view, plan, worker.result, self.settings)
        yield self._plot(view, always=True), final, self._preview(view), self._log(view), session

    def _frame(self, view: View, plan: RunPlan, session: Session) -> tuple:
        p = view.last
        note = _preview_note(view)
        name = html.escape(plan.name)
        status = (status_html(_("🏋️ Training run <b>{name}</b>").format(name=name), p, plan, note) if p is not None
                  else status_html(_("⏳ Run <b>{name}</b>: loading the images and building the network…")
                                   .format(name=name)))
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

    def _failed(self, error: BaseException, view: View, plan: RunPlan):
        """Show where the run ended, then raise the thread's error for the user."""
        message = i18n.message(str(error))  # ddpm_core's messages, translated by ui/ko/messages.py
        if view.last is not None:
            status = status_html(_("❌ Run <b>{name}</b> ended with an error at step {step}: {message}").format(
                name=html.escape(plan.name), step=f"{view.last.step:,}", message=html.escape(message)), view.last, plan)
            yield self._plot(view, always=True), status, gr.skip(), self._log(view), gr.skip()
        if isinstance(error, TrainingError):
            raise gr.Error(message)
        raise error


# ---- layout ------------------------------------------------------------------------------------------

@dataclass
class TrainTabHandle:
    """What other tabs may use: the session (for `runs_root`) and the tab's settings."""

    session: gr.State
    settings: deployment.Settings
    tab: TrainTab

    def checkpoints(self, session: Session | None) -> list[tuple[str, str]]:
        root = runs_root(self.settings, session)
        return list_checkpoints(root) if root is not None else []


def build(demo: gr.Blocks) -> TrainTabHandle:
    """Lay out the Train tab inside `demo` and wire its events (settings read from the environment now)."""
    settings = deployment.load()
    tab = TrainTab(settings)
    session = gr.State(new_session, delete_callback=end_session)
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
                            file_count="multiple", file_types=[*IMAGE_EXTENSIONS, ZIP_EXTENSION], height=140,
                            elem_id="train-files")
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
                               height=300, buttons=["download"], elem_id="train-preview")
            data_info = gr.Markdown(elem_id="train-data")
            checkpoints = gr.Markdown(elem_id="train-checkpoints")
            refresh_btn = gr.Button(L("Refresh the list"), size="sm", elem_id="train-refresh")
    code_panels.build("loss")

    estimate = dict(fn=tab.estimate, inputs=[preset_name, image_size, channels, batch_size], outputs=preset_name,
                    preprocess=False, trigger_mode="always_last", show_progress="hidden",
                    concurrency_id="train_estimate", concurrency_limit=1, api_visibility="private")
    gr.on([demo.load, preset_name.change, image_size.release, channels.change, batch_size.release], **estimate)
    stream_outputs = [loss_plot, status, preview, data_info, session]
    training = dict(outputs=stream_outputs, preprocess=False, concurrency_id="train",
                    concurrency_limit=settings.max_concurrent_runs, show_progress="minimal", show_progress_on=[status])
    listing = dict(fn=tab.checkpoints, inputs=session, outputs=checkpoints, show_progress="hidden")
    choices = dict(fn=tab.run_choices, inputs=session, outputs=run_name, api_visibility="private",
                   show_progress="hidden")
    start_inputs = [path, files, image_size, channels, preset_name, batch_size, lr, steps, ema, seed, flip,
                    preview_every, run_name, *controls.inputs, session]
    for event in (start_btn.click(tab.start, start_inputs, **training, api_name="train_start"),
                  resume_btn.click(tab.resume, [path, files, steps, preview_every, run_name, session], **training,
                                   api_name="train_resume")):
        event.then(**listing, api_visibility="private").then(**choices)
    refresh_btn.click(**listing, api_name="train_checkpoints").then(**choices)
    stop_btn.click(tab.stop, session, status, api_name="train_stop", show_progress="hidden")
    demo.load(**listing, api_visibility="private").then(**choices)
    return TrainTabHandle(session, settings, tab)
