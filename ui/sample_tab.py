"""The Sample tab: pick a checkpoint, run DDPM or DDIM, and watch x_t and x̂_0 live; export GIF, MP4, WebM, PNG.

Sampling runs in a child process (server/sample_process.py), so that none of the server's threads runs
its torch code (in a server thread it ran 27–45 % slower; see that module). The session's "sample" job
(server/jobs.py) drives it: it forwards the child's newest frame (uint8 grids, at most every POLL_S
seconds) and keeps every k-th one for the exports. The Sample event is a generator that follows the job
and sends each new frame as one HTML update (the grids inline as PNG data URLs, so no frame is written to
Gradio's cache). Stop sets the child's Event, which the loop checks after every step, so the computation
itself stops within one network evaluation.

Checkpoints come from the catalogue (server/catalogue.py), by key, never by path. Compare shows its grids in its
own panel and leaves the main run's grid, plot and exports as they were. Compare guidance scales on a model the
bundled digits classifier reads (ddpm_core/digits_classifier.py: 16×16 grey, classes 0…9) asks the sampling
process for the samples themselves too, and reads them out: under each grid the share classified as the digit
asked for and the mean confidence, and a table of that share per digit and w.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import io
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ddpm_core import digits_classifier
from ddpm_core.animation import compose_frame, save_animation, save_png, upscale
from ddpm_core.devices import available_devices
from ddpm_core.diffusion import paper_t
from ddpm_core.errors import Message
from ddpm_core.guidance import ALL_CLASSES, DEFAULT_GUIDANCE, MAX_GUIDANCE
from ddpm_core.images import from_uint8
from ddpm_core.sample import SampleConfig
from server import settings as deployment
from ddpm_core.devices import pick_device
from server.catalogue import Catalogue, check_run_cost, run_cost
from server.jobs import Job, State, follow
from server.sample_process import RunResult, SampleJob, SamplerPool
from server.sessions import Session
from ui import checkpoint_view, code_panels, gpu, i18n, plots
from ui.errors import describe, error, user_errors
from ui.forms import Form
from ui.i18n import L, _

DEFAULT_CHECKPOINT = "bundled:digits_classes.safetensors"  # conditional: opens on one row per digit
POLL_S = 0.5  # how often the live view updates: 4 a second cost 20 % of a 2-core run in Chromium, 2 cost 7 %
MAX_FRAMES = 120  # frames kept for the exports (plus the last)
FRAME_BUDGET_BYTES = 200 * 2**20  # … and at most this much memory for them
# DDPM, DDIM from deterministic to DDPM's variance, and the probability-flow ODE by Euler and by Heun.
COMPARE = [SampleConfig(sampler="ddpm"), SampleConfig(sampler="ddim", eta=0.0), SampleConfig(sampler="ddim", eta=0.5),
           SampleConfig(sampler="ddim", eta=1.0), SampleConfig(sampler="euler"), SampleConfig(sampler="heun")]
GUIDANCE_SCALES = (0.0, 1.0, 2.0, 4.0)  # Compare guidance scales: unconditional, conditional, guided ×2
SAMPLER_CHOICES = [("DDPM (Algorithm 2)", "ddpm"), ("DDIM", "ddim"), ("ODE: Euler", "euler"), ("ODE: Heun", "heun")]
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
#sample-compare figure { align-self: start; }
#sample-compare .readout-note { margin: 14px 0 4px; }
#sample-compare .readout-wrap { overflow-x: auto; }
#sample-compare .readout { border-collapse: collapse; font-variant-numeric: tabular-nums; width: auto; }
#sample-compare .readout th, #sample-compare .readout td { padding: 2px 10px; text-align: right; }
#sample-stale .stale { background: #fff4d6; border-left: 4px solid #E69F00; padding: 4px 8px; margin: 4px 0; }
"""


@dataclass(frozen=True)
class SampleForm:
    """What one Sample or Compare run asks for, as the page sends it."""

    checkpoint: str | None
    sampler: str
    steps: object
    eta: object
    variance: str
    n: object
    seed: object
    device: str
    clip: bool
    with_eps: bool
    long_ok: bool  # the user's go-ahead for a run estimated over a minute
    klass: str = checkpoint_view.NO_CLASS  # a class name, ALL_CLASSES (one row per class) or NO_CLASS (∅)
    guidance: object = DEFAULT_GUIDANCE  # w, for a class


@dataclass
class SampleState:
    """What the Sample tab keeps for a session: the last Sample run's result (the exports' source)."""

    result: RunResult | None = None
    made_with: SampleForm | None = None  # the settings of `result`
    compared_with: SampleForm | None = None  # the settings of the comparison on show (what it varied: "*")


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


def compare_html(results: list[RunResult], readout: "GuidanceReadout | None" = None) -> str:
    """The runs' grids side by side, each captioned under it (so grids of a row line up whatever the captions);
    with the digits classifier's `readout` of a guidance comparison, its verdict under each grid and a table."""
    verdicts = readout.readouts if readout is not None else [None] * len(results)
    figures = "".join(f"<figure><img alt='{html.escape(described(r.description))}' src='{png_data_url(r.final)}'>"
                      f"<figcaption><b>{html.escape(described(r.description))}</b><br>{seconds(r.seconds, 2)}"
                      f" · {html.escape(_('{nfe} network evaluations').format(nfe=f'{r.nfe:,}'))}"
                      f"{' ' + _('(stopped)') if r.stopped else ''}{readout_caption(verdict)}</figcaption></figure>"
                      for r, verdict in zip(results, verdicts))
    return (f"<p>{_('Same seed, same number of steps, same starting noise:')}</p><div class='cmp'>{figures}</div>"
            + (readout_table(readout) if readout is not None else ""))


@dataclass(frozen=True)
class GuidanceReadout:
    """The digits classifier's read-out of a guidance comparison: per run its w and verdict (None: stopped)."""

    scales: list[float]
    readouts: list[digits_classifier.Readout | None]
    accuracy: float | None  # the classifier's accuracy on held-out digits, as its file records it


def readout_caption(readout: digits_classifier.Readout | None) -> str:
    """'<br>read as the digit asked for: 95% · confidence 0.98', or nothing without a read-out."""
    if readout is None:
        return ""
    return "<br>" + _("read as the digit asked for: {share} · confidence {confidence}").format(
        share=f"<b>{readout.share:.0%}</b>", confidence=f"{readout.confidence:.2f}")


def readout_table(readout: GuidanceReadout) -> str:
    """Per w (a row), the share of each requested digit's images the classifier reads as that digit, and of all of
    them (when more than one digit was asked for); nothing if no run has a read-out."""
    rows = [(w, verdict) for w, verdict in zip(readout.scales, readout.readouts) if verdict is not None]
    if not rows:
        return ""
    digits = rows[0][1].requested
    overall = len(digits) > 1
    head = ("<th>w</th>" + "".join(f"<th>{k}</th>" for k in digits)
            + (f"<th>{html.escape(_('all'))}</th>" if overall else ""))
    body = "".join(f"<tr><th>{w:g}</th>" + "".join(f"<td>{verdict.per_class[k]:.0%}</td>" for k in digits)
                   + (f"<td><b>{verdict.share:.0%}</b></td>" if overall else "") + "</tr>" for w, verdict in rows)
    caption = (_("Share read as the digit asked for, per digit, by a small CNN trained on the bundled digits "
                 "({accuracy} right on held-out digits)").format(accuracy=f"{readout.accuracy:.1%}")
               if readout.accuracy is not None else
               _("Share read as the digit asked for, per digit, by a small CNN trained on the bundled digits"))
    return (f"<p class='readout-note'>{html.escape(caption)}</p>"
            f"<div class='readout-wrap'><table class='readout'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            "</table></div>")


@dataclass(frozen=True)
class Classifier:
    """A loaded digits classifier, and its accuracy on held-out digits as its file records it."""

    model: digits_classifier.DigitClassifier
    accuracy: float | None


@functools.lru_cache(maxsize=2)
def bundled_classifier(path: str) -> Classifier:
    """The classifier at `path`, read once (it is only ever read from, so every session may share it)."""
    accuracy = digits_classifier.classifier_metadata(path).get("accuracy")
    return Classifier(digits_classifier.load_classifier(path), accuracy if isinstance(accuracy, (int, float)) else None)


def read_out(model: digits_classifier.DigitClassifier, result: RunResult) -> digits_classifier.Readout | None:
    """The classifier's read-out of a run's final samples; None for a run stopped early or sent without them."""
    if result.samples is None or result.labels is None or result.stopped:
        return None
    x = from_uint8(torch.from_numpy(result.samples).permute(0, 3, 1, 2))  # (N, 1, 16, 16) in [−1, 1]
    return digits_classifier.read_out(model, x, torch.from_numpy(result.labels))


def guidance_readout(results: list[RunResult], classifier: Classifier) -> GuidanceReadout:
    """The classifier's read-out of a guidance comparison's runs (at GUIDANCE_SCALES, in order)."""
    return GuidanceReadout(list(GUIDANCE_SCALES[:len(results)]), [read_out(classifier.model, r) for r in results],
                           classifier.accuracy)


def seconds(value: float, digits: int) -> str:
    """'1.50 s' in English, '1.50초' in Korean: one unit style per language."""
    return _("{seconds} s").format(seconds=f"{value:.{digits}f}")


def described(description) -> str:
    """A run's description from the core (a coded message: "DDIM η = 0, 50 steps") in the request's language."""
    return i18n.message(description)


# ---- callbacks ----------------------------------------------------------------------------------------------

def sampling_job(pool: SamplerPool, job: SampleJob) -> Job:
    """The session's "sample" job: one SampleJob in the pool's child, its newest frame reported as it comes,
    its results returned; Stop stops the child after its current step."""
    handle = pool.start(job)  # now, so that a busy server says so before the stream starts

    def work(job_: Job) -> list[RunResult]:
        try:
            while not handle.finished:
                if job_.stopping:
                    handle.stop()
                if handle.poll(0.1) and handle.latest is not None:
                    job_.report(handle.latest, step=handle.latest.index)
            if handle.error is not None:
                raise SamplingFailed(handle.error)
            return handle.results
        finally:
            handle.close()  # if stopped early, the child stops after its current step
    return Job("sample", work)


class SamplingFailed(Exception):
    """What the sampling process reported instead of a result (a coded message, or a short English text)."""

    def __init__(self, error):
        self.error = error
        super().__init__(str(error))


def failure_text(error: BaseException) -> str:
    if isinstance(error, SamplingFailed):
        return i18n.message(error.error) if isinstance(error.error, Message) else str(error.error)
    return describe(error)


class SampleTab:
    def __init__(self, settings: deployment.Settings, catalogue: Catalogue):
        self.settings, self.catalogue = settings, catalogue
        self.max_images = 64 if settings.demo else 256
        # On a ZeroGPU Space only the decorated callback's own process holds the GPU: sample in a thread there.
        self.pool = SamplerPool(settings.max_concurrent_runs, in_process=gpu.zero_gpu())

    @user_errors
    def picker(self, key, session):
        """The picker refreshed (and the sampling process started in the background, so the first Sample
        does not wait for it)."""
        self.pool.warm_up()
        return checkpoint_view.picker(self.catalogue.entries(session), key, DEFAULT_CHECKPOINT)

    @user_errors
    def summary(self, key, session, klass=None):
        """The checkpoint's card, its T as the steps' maximum, the σ² its makers sampled with (if known), and the
        class picker, guidance slider and guidance comparison (live for a conditional checkpoint only)."""
        if not key:
            return _("No checkpoint chosen."), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        entry = self.catalogue.image_entry(key, session)
        T, paper = entry.summary.timesteps, entry.summary.paper
        variance = paper.variance if paper is not None else entry.summary.variance
        return (checkpoint_view.summary_markdown(entry), gr.Number(
                    maximum=T, info=_("1 to T = {T}: fewer steps skip along the chain").format(T=f"{T:,}")),
                gr.Radio(value=variance) if variance else gr.skip(),
                *checkpoint_view.class_controls(entry.summary, klass),
                gr.Button(interactive=bool(entry.summary.classes)))

    @user_errors
    def import_folder(self, folder, session: Session):
        """Convert a diffusers model folder on this computer (ddpm_core.convert) and select it."""
        entry = self.catalogue.add_import(folder, session)
        return checkpoint_view.picker(self.catalogue.entries(session), entry.key)

    @user_errors
    def upload(self, file, session: Session):
        """Check an uploaded checkpoint, keep a copy in the session's folder, and select it."""
        if not file:
            return gr.skip(), session
        entry = self.catalogue.add_upload(file, session)
        return checkpoint_view.picker(self.catalogue.entries(session), entry.key), session

    def _config(self, form: SampleForm, T: int, classes: tuple[str, ...] | None) -> SampleConfig:
        """The form as a checked SampleConfig. With one row per class, the images are shared among the classes:
        n ÷ K of each (at least one)."""
        n = int(form.n or 0)
        if not 1 <= n <= self.max_images:
            raise ValueError(_("The number of images must be from 1 to {most}.").format(most=self.max_images))
        if form.steps is None or form.seed is None or not 0 <= int(form.seed) <= SEED_MAX:
            raise ValueError(_("Steps and a seed from 0 to {most} are needed.").format(most=f"{SEED_MAX:,}"))
        if form.sampler not in [value for _label, value in SAMPLER_CHOICES] or form.variance not in ("beta", "beta_tilde"):
            raise ValueError(_("Choose DDPM, DDIM or an ODE sampler, and σ² = β or β̃."))
        if form.device not in ["auto", *available_devices()]:
            raise ValueError(_("Device {device} is not present here; choose one of {devices}.").format(
                device=repr(form.device), devices=", ".join(["auto", *available_devices()])))
        label, guidance = None, None
        if classes and form.klass not in (None, checkpoint_view.NO_CLASS):
            label = form.klass
            guidance = float(form.guidance if form.guidance is not None else DEFAULT_GUIDANCE)
            if label == ALL_CLASSES:
                n = max(1, n // len(classes))
        config = SampleConfig(n=n, sampler=form.sampler, steps=int(form.steps), eta=float(form.eta or 0.0),
                              variance=form.variance, clip=bool(form.clip), seed=int(form.seed), device=form.device,
                              label=label, guidance=guidance)
        config.check(T)
        config.labels(classes)  # a class the checkpoint lacks: its message now, not from the sampling process
        return config

    def _prepare(self, form: SampleForm, session: Session, configs=None) -> tuple[Path, SampleConfig]:
        """The checkpoint's file and a checked configuration; the weights are loaded by the sampling process.

        A run (or the `configs` of a comparison) estimated at over a minute here needs the user's go-ahead."""
        if session.busy("sample"):
            raise ValueError(_("A sampling run is still going in this tab: press Stop first."))
        entry = self.catalogue.image_entry(form.checkpoint, session)
        T, classes = entry.summary.timesteps, entry.summary.classes
        config = self._config(form, T, classes)
        images = len(config.labels(classes)) if config.label is not None else config.n
        # Guidance asks the network about each image twice (with its class and with ∅): twice the work.
        evaluations = sum(c.network_evaluations(T) * (2 if c.label is not None and c.guidance_scale not in (0, 1)
                                                      else 1) for c in (configs or [config]))
        device = str(pick_device(config.device))
        check_run_cost(run_cost(entry, images, evaluations, device), images, bool(form.long_ok))
        return entry.path, config

    def _job(self, path: Path, runs: list, with_eps, with_samples: bool = False) -> SampleJob:
        return SampleJob(checkpoint=str(path), runs=runs, with_eps=bool(with_eps), live_every=POLL_S,
                         max_frames=MAX_FRAMES, frame_budget=FRAME_BUDGET_BYTES,
                         memory_limit=deployment.sample_memory_bytes(), with_samples=with_samples)

    def _classifier(self, summary) -> Classifier | None:
        """The bundled digits classifier, if it reads this checkpoint's images and classes (16×16 grey, classes
        0…9); else None."""
        path = self.catalogue.bundled_dir / digits_classifier.FILE_NAME
        if not digits_classifier.reads(summary.image_size, summary.channels, summary.classes) or not path.is_file():
            return None
        return bundled_classifier(str(path))

    def _start(self, session: Session, job: SampleJob) -> Job:
        return session.start("sample", sampling_job(self.pool, job))  # SamplersBusyError: a coded message

    @user_errors
    def sample(self, form: SampleForm, session: Session):
        """One run of the chosen sampler, streamed; its grid, plot and exports replace the last run's."""
        path, config = self._prepare(form, session)
        job = self._start(session, self._job(path, [(path.stem, config)], form.with_eps))
        yield from self._follow(job, session)
        session.state(SampleState).made_with = form
        yield from self._finish(job, session)

    @user_errors
    def compare(self, form: SampleForm, session: Session):
        """DDPM (with the form's σ²), DDIM with η = 0, 0.5, 1 and the ODE by Euler and Heun, one after the other at
        the same steps and seed, shown side by side with their network evaluations; the main run's grid, plot and
        exports are left as they were."""
        path, base = self._prepare(form, session, [dataclasses.replace(form_config, steps=int(form.steps or 1))
                                                   for form_config in COMPARE])
        runs = [(path.stem, dataclasses.replace(base, sampler=c.sampler, eta=c.eta)) for c in COMPARE]
        job = self._start(session, self._job(path, runs, form.with_eps))
        yield from self._follow(job, session, runs=len(runs))
        session.state(SampleState).compared_with = self._compared_form(form, "samplers")
        yield from self._compared(job, session)

    @user_errors
    def compare_guidance(self, form: SampleForm, session: Session):
        """The form's sampler at w = 0, 1, 2, 4 from the same noise, side by side: diversity against fidelity.
        No class chosen: one row per class."""
        entry = self.catalogue.image_entry(form.checkpoint, session) if form.checkpoint else None
        if entry is None or not entry.summary.classes:
            raise ValueError(_("Guidance scales need a class-conditional checkpoint; this one was trained "
                               "without class labels."))
        klass = ALL_CLASSES if form.klass in (None, checkpoint_view.NO_CLASS) else form.klass
        forms = [dataclasses.replace(form, klass=klass, guidance=w) for w in GUIDANCE_SCALES]
        configs = [self._config(f, entry.summary.timesteps, entry.summary.classes) for f in forms]
        path, _base = self._prepare(forms[-1], session, configs)
        classifier = self._classifier(entry.summary)
        job = self._start(session, self._job(path, [(path.stem, c) for c in configs], form.with_eps,
                                             with_samples=classifier is not None))
        yield from self._follow(job, session, runs=len(configs))
        session.state(SampleState).compared_with = self._compared_form(form, "guidance")
        yield from self._compared(job, session, classifier)

    @staticmethod
    def _compared_form(form: SampleForm, kind: str) -> SampleForm:
        """The settings a comparison depends on ("*" for what it varies itself)."""
        if kind == "guidance":
            return dataclasses.replace(form, guidance="*", long_ok="*")
        return dataclasses.replace(form, sampler="*", eta="*", variance="*", long_ok="*")

    @user_errors
    def staleness(self, form: SampleForm, session: Session | None) -> str:
        """A note over results the controls no longer describe (changed since they were made), or nothing."""
        if session is None:
            return ""
        state = session.state(SampleState)
        notes = []
        if state.result is not None and state.made_with is not None and state.made_with != form:
            notes.append(_("The final grid, its plot and the exports below were made with other settings "
                           "({settings}); press <b>Sample</b> to see these.").format(
                settings=html.escape(described(state.result.description))))
        if state.compared_with is not None and state.compared_with not in (
                self._compared_form(form, "samplers"), self._compared_form(form, "guidance")):
            notes.append(_("The comparison below was made with other settings; press <b>Compare samplers</b> "
                           "again to update it."))
        return "".join(f"<p class='stale'>⚠ {note}</p>" for note in notes)

    def stop(self, session: Session | None) -> None:
        """Ask this session's run to stop after its current step; its stream then shows where it ended."""
        if session is not None:
            session.stop("sample")

    def _live(self, frame, runs: int) -> str:
        title = described(frame.description) + (" " + _("({run} of {runs})").format(run=frame.run + 1, runs=runs)
                                                 if runs > 1 else "")
        return live_html(title, frame.index, frame.count, frame.t, frame.elapsed, frame.panels)

    def _follow(self, job: Job, session: Session, runs: int = 1):
        """Yield (live, final grid, stats plot, comparison, session) for every new frame until the job ends;
        `runs` > 1: a comparison (its panel is cleared first)."""
        yield idle_html("⏳ " + _("Starting…")), gr.skip(), gr.skip(), "" if runs > 1 else gr.skip(), session
        for reports in follow(job, POLL_S):
            if reports and job.running:
                yield self._live(reports[-1], runs), gr.skip(), gr.skip(), gr.skip(), session
        if job.outcome.state is State.FAILED:
            message = failure_text(job.outcome.error)
            yield idle_html("❌ " + html.escape(message)), gr.skip(), gr.skip(), gr.skip(), session
            raise error(message)

    def _finish(self, job: Job, session: Session):
        result = session.state(SampleState).result = job.result[-1]
        stats = result.statistics
        description = described(result.description)
        title = f"{description}: {seconds(result.seconds, 1)}" + (" " + _("(stopped)") if result.stopped else "")
        figure = plots.as_plot(plots.sampling_figure(paper_t(stats["t"]), stats["std"], stats["x0_change"], title))
        yield self._ended(result), upscale(result.final, 512), figure, gr.skip(), session

    def _compared(self, job: Job, session: Session, classifier: Classifier | None = None):
        """The comparison's grids; with a `classifier`, a guidance comparison's read-out too."""
        results = job.result
        readout = guidance_readout(results, classifier) if classifier is not None else None
        yield self._ended(results[-1]), gr.skip(), gr.skip(), compare_html(results, readout), session

    def _ended(self, result: RunResult) -> str:
        """The live view's last state: the final step's grids and how the run ended."""
        index, t, panels = result.kept[-1]
        # English: "Done: N steps in X s" (tests, the browser tests and bench/bench_sample_stream.py parse it).
        count = f"{result.count:,}"
        note = ("⏹ " + _("Stopped after {index} of {count} steps.").format(index=f"{index:,}", count=count)
                if result.stopped else
                "✅ " + _("Done: {count} steps in {seconds} s.").format(count=count, seconds=f"{result.seconds:.1f}"))
        return live_html(described(result.description), index, result.count, t, result.seconds, panels, note)

    def _finished_result(self, session: Session | None, busy: str, empty: str) -> RunResult:
        """The session's last result; else `busy` (a run is going) or `empty` (none yet) as the error."""
        if session is not None and session.busy("sample"):
            raise ValueError(busy)
        result = session.state(SampleState).result if session is not None else None
        if result is None:
            raise ValueError(empty)
        return result

    @user_errors
    def export(self, fmt: str, session: Session | None):
        """Write the last run's animation (x_t beside x̂_0) as a GIF, MP4 or WebM in the session's folder."""
        result = self._finished_result(
            session, _("A run is still going: wait for it to finish (or press Stop), then export its animation."),
            _("Sample first: there is nothing to export its animation yet."))
        # Captions in the page's language: the bundled font (ddpm_core/fonts.py) has Greek and Hangul.
        titles = ("x_t", _("predicted x_0"), _("predicted noise"))
        frames = [compose_frame(list(zip(titles, panels)), f"{described(result.description)}   "
                                + _("step {index}/{count}").format(index=index, count=result.count) + f"   t = {t}")
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

def build(demo: gr.Blocks, session: gr.State, catalogue: Catalogue, tab_item: gr.Tab) -> SampleTab:
    """Lay out the Sample tab inside `demo`; `session` is the page's shared Session.

    The checkpoint list is refreshed on page load, whenever `tab_item` (this tab) is selected, and by ⟳.
    """
    tab = SampleTab(catalogue.settings, catalogue)
    gr.Markdown(i18n.bilingual(INTRO, INTRO_KO), latex_delimiters=[{"left": "$", "right": "$", "display": False}],
                elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row(equal_height=True):
                # Choices change per session; the catalogue decides which keys may be read. The page translates
                # these first labels by key (registered here); refreshes are labelled on the server.
                bundled = [(i18n.register(f"{entry.name} (bundled)", i18n.translate("{name} (bundled)", "ko").format(
                    name=entry.name)), entry.key) for entry in catalogue.bundled()]
                checkpoint = gr.Dropdown(bundled, value=DEFAULT_CHECKPOINT if bundled else None,
                                         label=L("Checkpoint"),
                                         allow_custom_value=True, scale=5, elem_id="sample-checkpoint")
                refresh_btn = gr.Button("⟳", size="sm", scale=0, min_width=44, elem_id="sample-refresh")
            summary = gr.Markdown(elem_id="sample-summary")
            upload = gr.UploadButton(L("Upload a checkpoint (.safetensors)"), file_types=[".safetensors"],
                                     file_count="single", size="sm", elem_id="sample-upload")
            with gr.Row(equal_height=True, visible=not catalogue.settings.demo):
                import_path = gr.Textbox(label=L("Import a diffusers model folder on this computer"),
                                         placeholder=L("e.g. ~/models/ddpm-cifar10-32 (with config.json)"), scale=4,
                                         elem_id="sample-import-path")
                import_btn = gr.Button(L("Import"), size="sm", scale=1, min_width=90, elem_id="sample-import")
            sampler = gr.Radio(SAMPLER_CHOICES, value="ddpm", label=L("Sampler"), elem_id="sample-sampler",
                               info=L("The ODE samplers follow the probability-flow ODE (Song et al. 2021), "
                                      "deterministic like DDIM at η = 0; Heun asks the network twice a step."))
            with gr.Row():
                steps = gr.Number(100, label=L("Steps"), precision=0, minimum=1, maximum=1000,
                                  info=L("1 to T: fewer steps skip along the chain"), elem_id="sample-steps")
                n = gr.Slider(1, tab.max_images, value=64, step=1, label=L("Images"), elem_id="sample-n")
            with gr.Row():
                klass = gr.Dropdown([(L("One row per class"), ALL_CLASSES)], value=ALL_CLASSES,
                                    label=L("Class"), scale=1, elem_id="sample-class")
                guidance = gr.Slider(0, MAX_GUIDANCE, value=DEFAULT_GUIDANCE, step=0.5, scale=1,
                                     label=L("Guidance scale w"), elem_id="sample-guidance")
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
                long_ok = gr.Checkbox(False, label=L("Allow long runs"), elem_id="sample-long",
                                      info=L("A run estimated at over a minute here waits for this."))
            with gr.Row(elem_classes="tab-actions"):
                run_btn = gr.Button(L("Sample"), variant="primary", elem_id="sample-run")
                stop_btn = gr.Button(L("Stop"), elem_id="sample-stop")
                compare_btn = gr.Button(L("Compare samplers"), elem_id="sample-compare-run")
                guidance_btn = gr.Button(L("Compare guidance scales"), elem_id="sample-compare-guidance")
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
            stale = gr.HTML(elem_id="sample-stale")
            comparison = gr.HTML(elem_id="sample-compare")
    code_panels.build("ddpm_step", "p_theta", "ddim_step", "guidance", "posterior")

    choices = dict(fn=tab.picker, inputs=[checkpoint, session], outputs=checkpoint, api_visibility="private",
                   show_progress="hidden")
    describe_choice = dict(fn=tab.summary, inputs=[checkpoint, session, klass],
                           outputs=[summary, steps, variance, klass, guidance, guidance_btn],
                           api_visibility="private", show_progress="hidden")
    demo.load(**choices).then(**describe_choice)  # .change does not fire when the default stays chosen
    tab_item.select(**choices)
    refresh_btn.click(**choices)
    checkpoint.change(**describe_choice)
    upload.upload(tab.upload, [upload, session], [checkpoint, session], api_name="sample_upload")
    import_btn.click(tab.import_folder, [import_path, session], checkpoint, api_name="sample_import",
                     concurrency_id="sample_import", concurrency_limit=1)
    sampler.change(lambda s: (gr.Slider(visible=s == "ddim"), gr.Radio(visible=s == "ddpm")), sampler,  # ODE: neither
                   [eta, variance], api_visibility="private", show_progress="hidden", queue=False)
    klass.change(checkpoint_view.guidance_slider, klass, guidance, api_visibility="private", show_progress="hidden",
                 queue=False)
    form = Form(SampleForm, checkpoint=checkpoint, sampler=sampler, steps=steps, eta=eta, variance=variance, n=n,
                seed=seed, device=device, clip=clip, with_eps=with_eps, long_ok=long_ok, klass=klass,
                guidance=guidance)
    streaming = dict(outputs=[live, final, stats, comparison, session], concurrency_id="sample",
                     concurrency_limit=catalogue.settings.max_concurrent_runs, show_progress="minimal",
                     show_progress_on=[live])
    run = form.event(tab.sample, session)
    compare = form.event(tab.compare, session)
    compare_w = form.event(tab.compare_guidance, session)
    staleness = dict(**form.event(tab.staleness, session), outputs=stale, api_visibility="private",
                     show_progress="hidden", trigger_mode="always_last")
    run_btn.click(fn=gpu.GPU(run["fn"]), inputs=run["inputs"], **streaming, api_name="sample_run").then(**staleness)
    compare_btn.click(fn=gpu.GPU(compare["fn"], duration=4 * gpu.SAMPLE_SECONDS), inputs=compare["inputs"],
                      **streaming, api_name="sample_compare").then(**staleness)
    guidance_btn.click(fn=gpu.GPU(compare_w["fn"], duration=4 * gpu.SAMPLE_SECONDS), inputs=compare_w["inputs"],
                       **streaming, api_name="sample_compare_guidance").then(**staleness)
    gr.on([component.change for component in form.inputs], **staleness)
    stop_btn.click(tab.stop, session, None, api_name="sample_stop", show_progress="hidden", queue=False)
    for button, fmt in ((gif_btn, "gif"), (mp4_btn, "mp4"), (webm_btn, "webm")):
        button.click(functools.partial(tab.export, fmt), session, exported, api_name=f"sample_export_{fmt}",
                     concurrency_id="sample_export", concurrency_limit=1)
    png_btn.click(tab.export_png, session, exported, api_name="sample_export_png")
    return tab
