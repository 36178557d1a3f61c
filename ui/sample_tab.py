"""The Sample tab: pick a checkpoint, run DDPM or DDIM, and watch x_t and x̂_0 live; export GIF, MP4, WebM, PNG.

Sampling runs in a child process (server.sample_process), so that none of the server's threads runs
its torch code (in a server thread it ran 27–45 % slower; see that module). The child sends the newest
frame as uint8 grids at most every POLL_S seconds, and every k-th one for the exports. The Sample
event is a generator that polls the child and sends each new frame as one HTML update (the grids inline
as PNG data URLs, so no frame is written to Gradio's cache). Stop sets the child's Event, which the
loop checks after every step, so the computation itself stops within one network evaluation.

Checkpoints are offered by key, never by path: "bundled:NAME" (checkpoints/), "run:NAME" (the
session's training runs) and "upload:N" (this session's uploads), resolved on the server each time.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import io
import json
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ddpm_core.animation import compose_frame, save_animation, save_png, upscale
from ddpm_core.diffusion import paper_t
from ddpm_core.checkpoints import CheckpointError, config_from_dict, load_checkpoint, read_config
from ddpm_core.devices import available_devices
from ddpm_core.sample import SampleConfig
from server.sample_process import RunResult, SampleJob, SampleJobHandle, SamplerPool
from ddpm_core.unet import UNetConfig, UNet, count_parameters
from server import settings as deployment
from ui import code_panels, gpu, i18n, plots
from ui.errors import user_errors
from ui.i18n import L, _
from ui.train_tab import RUN_NAME, TrainTabHandle

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DIR = REPO_ROOT / "checkpoints"
DEFAULT_CHECKPOINT = "bundled:digits.safetensors"
POLL_S = 0.5  # how often the live view updates: 4 a second cost 20 % of a 2-core run in Chromium, 2 cost 7 %
MAX_FRAMES = 120  # frames kept for the exports (plus the last)
FRAME_BUDGET_BYTES = 200 * 2**20  # … and at most this much memory for them
COMPARE = [SampleConfig(sampler="ddpm"), SampleConfig(sampler="ddim", eta=0.0), SampleConfig(sampler="ddim", eta=0.5),
           SampleConfig(sampler="ddim", eta=1.0)]
SEED_MAX = 2**31 - 1
INTRO = ("Start from pure noise $x_T \\sim \\mathcal{N}(0, \\mathbf{I})$ and let the network remove it step by step. "
         "Left: the sample $x_t$; right: the network's current guess $\\hat{x}_0$. **DDPM** is Algorithm 2 of "
         "Ho et al. (2020); **DDIM** (Song et al. 2021) takes larger steps, deterministically at η = 0.")
INTRO_KO = ("순수한 노이즈 $x_T \\sim \\mathcal{N}(0, \\mathbf{I})$에서 시작해 신경망이 노이즈를 한 스텝씩 제거합니다. "
            "왼쪽: 샘플 $x_t$, 오른쪽: 신경망의 현재 추정 $\\hat{x}_0$. **DDPM**은 Ho et al. (2020)의 알고리즘 2이고, "
            "**DDIM** (Song et al. 2021)은 더 큰 스텝으로 건너뛰며 η = 0에서는 결정적입니다.")
IDLE = "Choose a checkpoint and press <b>Sample</b>."
CSS = """
#sample-live .live-panels { display: flex; gap: 14px; flex-wrap: wrap; }
#sample-live figure { margin: 0; flex: 1 1 240px; max-width: 420px; }
#sample-live figure img { width: 100%; image-rendering: pixelated; border: 1px solid #ccc; }
#sample-live figcaption { font-weight: 600; margin-bottom: 4px; }
#sample-live .live-head { display: flex; justify-content: space-between; font-size: var(--text-lg);
                          font-variant-numeric: tabular-nums; margin-bottom: 6px; }
#sample-live .live-bar { height: 10px; background: #e5e5e5; border-radius: 5px; margin-bottom: 10px; }
#sample-live .live-bar div { height: 100%; background: #0072B2; border-radius: 5px; }
#sample-compare .cmp { display: grid; gap: 14px; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); }
#sample-compare figure { margin: 0; }
#sample-compare img { width: 100%; image-rendering: pixelated; border: 1px solid #ccc; }
"""


# ---- sessions ------------------------------------------------------------------------------------------

@dataclass
class Session:
    """One browser session's sampling: uploads, the run in progress, the last result, its export folder."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # never user input: it names a folder
    uploads: dict[str, Path] = field(default_factory=dict)  # key → the session's copy
    upload_names: dict[str, str] = field(default_factory=dict)  # key → the name it was uploaded as
    job: SampleJobHandle | None = None  # the run in progress (or the last one)
    result: RunResult | None = None

    @property
    def folder(self) -> Path:
        return deployment.sessions_dir() / f"sample-{self.id}"


def new_session() -> Session:
    return Session()


def end_session(session: Session | None) -> None:
    """Gradio calls this when a session expires: stop its run and delete its files."""
    if session is None:
        return
    if session.job is not None:
        session.job.stop()
    shutil.rmtree(session.folder, ignore_errors=True)


# ---- checkpoints by key --------------------------------------------------------------------------------

def bundled_checkpoints() -> list[Path]:
    return sorted(p for p in BUNDLED_DIR.glob("*.safetensors") if not p.name.endswith(".state.safetensors"))


def checkpoint_choices(handle: TrainTabHandle, train_session, session: Session | None) -> list[tuple[str, str]]:
    """(label, key) of every checkpoint this session may sample: bundled, its training runs, its uploads."""
    choices = [(_("{name} (bundled)").format(name=p.stem), f"bundled:{p.name}") for p in bundled_checkpoints()]
    choices += [(_("{name} (trained here)").format(name=label), f"run:{Path(path).parent.name}")
                for label, path in handle.checkpoints(train_session)]
    if session is not None:
        choices += [(_("{name} (uploaded)").format(name=session.upload_names.get(key, path.name)), key)
                    for key, path in session.uploads.items()]
    return choices


def resolve(key, handle: TrainTabHandle, train_session, session: Session) -> Path:
    """The file behind a checkpoint key, checked against what this session may read."""
    kind, _colon, name = (key or "").partition(":") if isinstance(key, str) else ("", "", "")
    if kind == "bundled" and name in {p.name for p in bundled_checkpoints()}:
        return BUNDLED_DIR / name
    if kind == "run" and RUN_NAME.match(name):
        root = handle.checkpoints(train_session)
        for _label, path in root:
            if Path(path).parent.name == name:
                return Path(path)
    if kind == "upload" and key in session.uploads:
        return session.uploads[key]
    raise ValueError(_("Choose a checkpoint from the list (or upload one): that one is not available."))


@functools.lru_cache(maxsize=32)
def _parameters(model_json: str) -> int:
    with torch.device("meta"):  # counted without allocating: a header may describe any size of network
        return count_parameters(UNet(config_from_dict(UNetConfig, json.loads(model_json), "model")))


def summary_markdown(path: Path) -> tuple[str, int]:
    """What a checkpoint was trained on and how, from its header; and its T (in the request's language)."""
    config = read_config(path)
    if config.get("architecture") != "unet":
        raise CheckpointError(_("'{name}' holds a 2-D model, not an image model; sample it in the 2-D lab")
                              .format(name=path.name))
    model, training = config.get("model") or {}, config.get("training") or {}
    dataset, diffusion = config.get("dataset") or {}, config.get("diffusion") or {}
    size, channels = model.get("image_size", "?"), model.get("channels")
    params = _parameters(json.dumps(model, sort_keys=True))
    T = int(diffusion.get("timesteps", 1000))
    data = dataset.get("root") or dataset.get("name") or _("unknown data")
    count, held = dataset.get("num_images"), dataset.get("num_held_out")
    if isinstance(count, int) and isinstance(held, int) and held > 0:
        counts = " " + _("({count} images, {held} held out)").format(count=f"{count:,}", held=f"{held:,}")
    else:
        counts = " " + _("({count} images)").format(count=f"{count:,}") if isinstance(count, int) else ""
    lines = [_("**{name}** · trained {steps} steps on *{data}*{counts}").format(
                 name=html.escape(path.stem), steps=f"{int(config.get('step', 0)):,}", data=html.escape(str(data)),
                 counts=counts),
             _("{size}×{size} {colour} · U-Net *{preset}* ({params} parameters) · {schedule} β, T = {T} · "
               "{prediction}-prediction").format(
                 size=size, colour=_("grey") if channels == 1 else _("colour"),
                 preset=html.escape(str(training.get("preset") or _("custom"))), params=f"{params:,}",
                 schedule=diffusion.get("schedule", "?"), T=f"{T:,}", prediction=config.get("prediction", "eps"))]
    return "\n\n".join(lines), T


# ---- what the page shows ----------------------------------------------------------------------------------

def png_data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def live_html(title: str, index: int, count: int, t: int, elapsed: float, panels: list[np.ndarray] | None,
              note: str = "") -> str:
    """The step counter, a progress bar, and the grids x_t | x̂_0 (| ε̂).

    In English the head reads "step 12 / 100 · t = 880 · 9.5 steps/s · 9 s left" (tests and benches parse it).
    """
    rate = index / elapsed if elapsed > 0 else 0.0
    eta = (" · " + _("{seconds} s left").format(seconds=f"{(count - index) / rate:.0f}")
           if 0 < index < count and rate > 0 else "")
    head = (f"<div class='live-head'><span>{html.escape(title)}</span><span>"
            + _("step <b>{index}</b> / {count}").format(index=f"{index:,}", count=f"{count:,}")
            + f" · t = <b>{t:,}</b> · " + _("{rate} steps/s").format(rate=f"{rate:.1f}") + f"{eta}</span></div>"
            f"<div class='live-bar'><div style='width:{100 * index / max(count, 1):.1f}%'></div></div>")
    captions = [_("x<sub>t</sub> (the sample)"), _("x̂<sub>0</sub> (the network's guess)"), _("ε̂ (predicted noise)")]
    figures = "".join(f"<figure><figcaption>{cap}</figcaption><img alt='{html.escape(cap)}' "
                      f"src='{png_data_url(p)}'></figure>" for cap, p in zip(captions, panels or []))
    return f"{head}<div class='live-panels'>{figures}</div>{f'<p>{note}</p>' if note else ''}"


def idle_html(message: str) -> str:
    return f"<div class='live-head'><span>{message}</span></div>"


def compare_html(results: list[RunResult]) -> str:
    figures = "".join(f"<figure><figcaption><b>{html.escape(described(r.description))}</b><br>{r.seconds:.2f} s"
                      f"{' ' + _('(stopped)') if r.stopped else ''}</figcaption>"
                      f"<img alt='{html.escape(described(r.description))}' "
                      f"src='{png_data_url(r.final)}'></figure>" for r in results)
    return f"<p>{_('Same seed, same number of steps, same starting noise:')}</p><div class='cmp'>{figures}</div>"


_STEPS = re.compile(r"(.*, )(\d+) steps")


def described(description: str) -> str:
    """A run's description from the core ("DDIM η = 0, 50 steps") in the request's language."""
    match = _STEPS.fullmatch(description)
    return match.group(1) + _("{count} steps").format(count=match.group(2)) if match else description


# ---- callbacks ----------------------------------------------------------------------------------------------

class SampleTab:
    def __init__(self, settings: deployment.Settings, handle: TrainTabHandle):
        self.settings, self.handle = settings, handle
        self.max_images = 64 if settings.demo else 256
        # On a ZeroGPU Space only the decorated callback's own process holds the GPU: sample in a thread there.
        self.pool = SamplerPool(settings.max_concurrent_runs, in_process=gpu.zero_gpu())

    def choices(self, key, train_session, session):
        """Refresh the picker, keeping the current choice if it is still there (and start the sampling
        process in the background, so the first Sample does not wait for it).

        Labels are in the language of the callback that calls this (`picker` is this tab's callback)."""
        self.pool.warm_up()
        choices = checkpoint_choices(self.handle, train_session, session)
        keys = [k for _label, k in choices]
        value = key if key in keys else (DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT in keys else
                                         (keys[0] if keys else None))
        return gr.Dropdown(choices=choices, value=value)

    @user_errors
    def picker(self, key, train_session, session):
        """`choices` as this tab's callback, served in its request's language."""
        return self.choices(key, train_session, session)

    @user_errors
    def summary(self, key, train_session, session):
        if not key:
            return _("No checkpoint chosen."), gr.skip()
        markdown, T = summary_markdown(resolve(key, self.handle, train_session, session))
        return markdown, gr.Number(maximum=T, info=_("1 to T = {T}: fewer steps skip along the chain").format(
            T=f"{T:,}"))

    @user_errors
    def upload(self, file, train_session, session: Session):
        """Check an uploaded checkpoint's header, keep a copy in the session's folder, and select it."""
        if not file:
            return gr.skip(), session
        source = Path(file)
        limit = deployment.max_file_bytes()
        if source.stat().st_size > limit:
            raise ValueError(_("'{name}' is larger than {mb} MB, the most this app accepts").format(
                name=source.name, mb=limit // 2**20))
        try:  # the whole file, weights too: a damaged upload is refused now, not at Sample
            load_checkpoint(source)  # checks the header's every value before the summary reads them
            summary_markdown(source)
        except CheckpointError as exc:
            raise ValueError(_("That file cannot be sampled: {reason}").format(reason=i18n.message(str(exc)))) \
                from None
        key = f"upload:{len(session.uploads) + 1}"
        target = session.folder / "uploads" / f"{len(session.uploads) + 1}-{uuid.uuid4().hex[:8]}.safetensors"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        session.uploads[key], session.upload_names[key] = target, source.name
        return self.choices(key, train_session, session), session

    def _config(self, sampler, steps, eta, variance, n, seed, device, clip) -> SampleConfig:
        n = int(n or 0)
        if not 1 <= n <= self.max_images:
            raise ValueError(_("The number of images must be from 1 to {most}.").format(most=self.max_images))
        if steps is None or seed is None or not 0 <= int(seed) <= SEED_MAX:
            raise ValueError(_("Steps and a seed from 0 to {most} are needed.").format(most=f"{SEED_MAX:,}"))
        if sampler not in ("ddpm", "ddim") or variance not in ("beta", "beta_tilde"):
            raise ValueError(_("Choose DDPM or DDIM, and σ² = β or β̃."))
        if device not in ["auto", *available_devices()]:
            raise ValueError(_("Device {device} is not present here; choose one of {devices}.").format(
                device=repr(device), devices=", ".join(["auto", *available_devices()])))
        return SampleConfig(n=n, sampler=sampler, steps=int(steps), eta=float(eta or 0.0), variance=variance,
                            clip=bool(clip), seed=int(seed), device=device)

    def _check_idle(self, session: Session) -> None:
        if session.job is not None and not session.job.finished:
            raise ValueError(_("A sampling run is still going in this tab: press Stop first."))

    @gpu.GPU
    @user_errors
    def sample(self, key, sampler, steps, eta, variance, n, seed, device, clip, with_eps, train_session,
               session: Session):
        """One run of the chosen sampler, streamed."""
        path, config = self._prepare(key, sampler, steps, eta, variance, n, seed, device, clip,
                                     train_session, session)
        yield from self._stream(self._job(path, [(path.stem, config)], with_eps), session, compare=False)

    @gpu.GPU(duration=4 * gpu.SAMPLE_SECONDS)
    @user_errors
    def compare(self, key, sampler, steps, eta, variance, n, seed, device, clip, with_eps, train_session,
                session: Session):
        """DDPM (with the form's σ²) and DDIM with η = 0, 0.5, 1, one after the other at the same steps and seed."""
        path, base = self._prepare(key, sampler, steps, eta, variance, n, seed, device, clip,
                                   train_session, session)
        runs = [(path.stem, dataclasses.replace(base, sampler=c.sampler, eta=c.eta)) for c in COMPARE]
        yield from self._stream(self._job(path, runs, with_eps), session, compare=True)

    def _prepare(self, key, sampler, steps, eta, variance, n, seed, device, clip, train_session, session):
        """The checkpoint's file and a checked configuration; the weights are loaded by the sampling process."""
        self._check_idle(session)
        path = resolve(key, self.handle, train_session, session)
        try:
            _summary, T = summary_markdown(path)
        except CheckpointError as exc:
            raise ValueError(str(exc)) from None
        config = self._config(sampler, steps, eta, variance, n, seed, device, clip)
        config.check(T)
        return path, config

    def _job(self, path: Path, runs: list, with_eps) -> SampleJob:
        return SampleJob(checkpoint=str(path), runs=runs, with_eps=bool(with_eps), live_every=POLL_S,
                         max_frames=MAX_FRAMES, frame_budget=FRAME_BUDGET_BYTES,
                         memory_limit=deployment.sample_memory_bytes())

    def stop(self, session: Session | None) -> None:
        """Ask this session's run to stop after its current step; its stream then shows where it ended."""
        if session is not None and session.job is not None:
            session.job.stop()

    def _live(self, handle: SampleJobHandle) -> str:
        frame, runs = handle.latest, len(handle.job.runs)
        title = described(frame.description) + (" " + _("({run} of {runs})").format(run=frame.run + 1, runs=runs)
                                                 if runs > 1 else "")
        return live_html(title, frame.index, frame.count, frame.t, frame.elapsed, frame.panels)

    def _stream(self, job: SampleJob, session: Session, compare: bool):
        """Yield (live, final grid, stats plot, comparison, session) for every new frame until the job ends."""
        try:
            handle = self.pool.start(job)
        except RuntimeError as exc:
            raise ValueError(str(exc)) from None
        session.job = handle
        try:
            yield idle_html("⏳ " + _("Starting…")), gr.skip(), gr.skip(), "" if compare else gr.skip(), session
            while not handle.finished:
                if handle.poll(POLL_S):
                    yield self._live(handle), gr.skip(), gr.skip(), gr.skip(), session
        finally:
            handle.close()  # if the page cancelled or went away, the child stops after its current step
        if handle.error is not None:
            raise ValueError(handle.error)
        yield from self._finish(handle, session, compare)

    def _finish(self, handle: SampleJobHandle, session: Session, compare: bool):
        result = session.result = handle.results[-1]
        stats = result.statistics
        description = described(result.description)
        title = f"{description}: {result.seconds:.1f} s" + (" " + _("(stopped)") if result.stopped else "")
        figure = plots.as_plot(plots.sampling_figure(paper_t(stats["t"]), stats["std"], stats["x0_change"], title))
        index, t, panels = result.kept[-1]
        # English: "Done: N steps in X s" (tests, the browser tests and bench/bench_sample_stream.py parse it).
        count = f"{result.count:,}"
        note = ("⏹ " + _("Stopped after {index} of {count} steps.").format(index=f"{index:,}", count=count)
                if result.stopped else
                "✅ " + _("Done: {count} steps in {seconds} s.").format(count=count, seconds=f"{result.seconds:.1f}"))
        live = live_html(description, index, result.count, t, result.seconds, panels, note)
        final = upscale(result.final, 512)
        yield live, final, figure, compare_html(handle.results) if compare else gr.skip(), session

    def _finished_result(self, session: Session | None, busy: str, empty: str) -> RunResult:
        """The session's last result; else `busy` (a run is going) or `empty` (none yet) as the error."""
        if session is not None and session.job is not None and not session.job.finished:
            raise ValueError(busy)
        if session is None or session.result is None:
            raise ValueError(empty)
        return session.result

    @user_errors
    def export(self, fmt: str, session: Session | None):
        """Write the last run's animation (x_t beside x̂_0) as a GIF, MP4 or WebM in the session's folder."""
        result = self._finished_result(
            session, _("A run is still going: wait for it to finish (or press Stop), then export its animation."),
            _("Sample first: there is nothing to export its animation yet."))
        # The frames' captions stay English: the animation font (ddpm_core.animation) has no Hangul.
        frames = [compose_frame(list(zip(("x_t", "predicted x_0", "predicted noise"), panels)),
                                f"{result.description}   step {index}/{result.count}   t = {t}")
                  for index, t, panels in result.kept]
        name = _safe_name(f"{result.name}-{result.slug}-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}")
        return gr.File(str(save_animation(frames, session.folder / "exports" / name, fps=12)), visible=True)

    @user_errors
    def export_png(self, session: Session | None):
        result = self._finished_result(
            session, _("A run is still going: wait for it to finish (or press Stop), then download its grid."),
            _("Sample first: there is nothing to download its grid yet."))
        path = session.folder / "exports" / _safe_name(f"{result.name}-{result.slug}-{time.strftime('%Y%m%d-%H%M%S')}.png")
        return gr.File(str(save_png(upscale(result.final, 512), path)), visible=True)


def _safe_name(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)


# ---- layout ------------------------------------------------------------------------------------------------

@dataclass
class SampleTabHandle:
    """What other tabs may use: the checkpoints this session may read (bundled, trained, uploaded here)."""

    session: gr.State
    train_session: gr.State
    tab: SampleTab

    def resolve(self, key, train_session, session: Session) -> Path:
        return resolve(key, self.tab.handle, train_session, session)


def build(demo: gr.Blocks, handle: TrainTabHandle, tab_item: gr.Tab) -> SampleTabHandle:
    """Lay out the Sample tab inside `demo`; `handle` gives the Train tab's session (its trained runs).

    The checkpoint list is refreshed on page load, whenever `tab_item` (this tab) is selected, and by ⟳.
    """
    settings = deployment.load()
    tab = SampleTab(settings, handle)
    session = gr.State(new_session, delete_callback=end_session)
    gr.Markdown(i18n.bilingual(INTRO, INTRO_KO), latex_delimiters=[{"left": "$", "right": "$", "display": False}],
                elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row(equal_height=True):
                # Choices change per session; resolve() is what decides which keys may be read.
                # The page translates these labels by key (ui/ko/sample.py has one per bundled file); the
                # picker's refreshes are labelled on the server.
                bundled = [(f"{p.stem} (bundled)", f"bundled:{p.name}") for p in bundled_checkpoints()]
                checkpoint = gr.Dropdown(bundled, value=DEFAULT_CHECKPOINT if bundled else None,
                                         label=L("Checkpoint"),
                                         allow_custom_value=True, scale=5, elem_id="sample-checkpoint")
                refresh_btn = gr.Button("⟳", size="sm", scale=0, min_width=44, elem_id="sample-refresh")
            summary = gr.Markdown(elem_id="sample-summary")
            upload = gr.UploadButton(L("Upload a checkpoint (.safetensors)"), file_types=[".safetensors"],
                                     file_count="single", size="sm", elem_id="sample-upload")
            sampler = gr.Radio([("DDPM (Algorithm 2)", "ddpm"), ("DDIM", "ddim")], value="ddpm", label=L("Sampler"),
                               elem_id="sample-sampler")
            with gr.Row():
                steps = gr.Number(100, label=L("Steps"), precision=0, minimum=1, maximum=1000,
                                  info=L("1 to T: fewer steps skip along the chain"), elem_id="sample-steps")
                n = gr.Slider(1, tab.max_images, value=64, step=1, label=L("Images"), elem_id="sample-n")
            variance = gr.Radio([("σₜ² = βₜ (paper)", "beta"), ("σₜ² = β̃ₜ", "beta_tilde")], value="beta",
                                label=L("DDPM variance"), elem_id="sample-variance")
            eta = gr.Slider(0, 1, value=0, step=0.05, label=L("DDIM η (0: deterministic, 1: DDPM's variance)"),
                            visible=False, elem_id="sample-eta")
            with gr.Row():
                seed = gr.Number(0, label=L("Seed"), precision=0, minimum=0, maximum=SEED_MAX, elem_id="sample-seed")
                device = gr.Dropdown(["auto", *available_devices()], value="auto", label=L("Device"),
                                     elem_id="sample-device")
            with gr.Row():
                clip = gr.Checkbox(True, label=L("Clip x̂₀ to [−1, 1]"), elem_id="sample-clip")
                with_eps = gr.Checkbox(False, label=L("Also show ε̂"), elem_id="sample-eps")
            with gr.Row(elem_classes="tab-actions"):
                run_btn = gr.Button(L("Sample"), variant="primary", elem_id="sample-run")
                stop_btn = gr.Button(L("Stop"), elem_id="sample-stop")
                compare_btn = gr.Button(L("Compare samplers"), elem_id="sample-compare-run")
        with gr.Column(scale=3, min_width=420):
            live = gr.HTML(i18n.bilingual(idle_html(IDLE), idle_html(i18n.translate(IDLE, "ko"))),
                           elem_id="sample-live")
            with gr.Row():
                final = gr.Image(label=L("Final samples"), show_label=False, type="numpy", format="png", interactive=False, height=320,
                                 buttons=["download"], elem_id="sample-final")
                stats = gr.Plot(label=L("Per-step statistics"), show_label=False, elem_id="sample-stats")
            with gr.Row():
                gif_btn = gr.Button(L("Export GIF"), size="sm", elem_id="sample-gif")
                mp4_btn = gr.Button(L("Export MP4"), size="sm", elem_id="sample-mp4")
                webm_btn = gr.Button(L("Export WebM"), size="sm", elem_id="sample-webm")
                png_btn = gr.Button(L("Grid as PNG"), size="sm", elem_id="sample-png")
            exported = gr.File(label=L("Download"), interactive=False, visible=False, elem_id="sample-export")
            comparison = gr.HTML(elem_id="sample-compare")
    code_panels.build("ddpm_step", "p_theta", "ddim_step", "posterior")

    train_session = handle.session
    choices = dict(fn=tab.picker, inputs=[checkpoint, train_session, session], outputs=checkpoint,
                   api_visibility="private", show_progress="hidden")
    describe_choice = dict(fn=tab.summary, inputs=[checkpoint, train_session, session], outputs=[summary, steps],
                           api_visibility="private", show_progress="hidden")
    demo.load(**choices).then(**describe_choice)  # .change does not fire when the default stays chosen
    tab_item.select(**choices)
    refresh_btn.click(**choices)
    checkpoint.change(**describe_choice)
    upload.upload(tab.upload, [upload, train_session, session], [checkpoint, session],
                  api_name="sample_upload")
    sampler.change(lambda s: (gr.Slider(visible=s == "ddim"), gr.Radio(visible=s == "ddpm")), sampler,
                   [eta, variance], api_visibility="private", show_progress="hidden", queue=False)
    inputs = [checkpoint, sampler, steps, eta, variance, n, seed, device, clip, with_eps, train_session, session]
    outputs = [live, final, stats, comparison, session]
    streaming = dict(inputs=inputs, outputs=outputs, concurrency_id="sample",
                     concurrency_limit=settings.max_concurrent_runs, show_progress="minimal", show_progress_on=[live])
    run_btn.click(tab.sample, **streaming, api_name="sample_run")
    compare_btn.click(tab.compare, **streaming, api_name="sample_compare")
    stop_btn.click(tab.stop, session, None, api_name="sample_stop", show_progress="hidden", queue=False)
    for button, fmt in ((gif_btn, "gif"), (mp4_btn, "mp4"), (webm_btn, "webm")):
        button.click(functools.partial(tab.export, fmt), session, exported, api_name=f"sample_export_{fmt}",
                     concurrency_id="sample_export", concurrency_limit=1)
    png_btn.click(tab.export_png, session, exported, api_name="sample_export_png")
    return SampleTabHandle(session, train_session, tab)
