"""The Edit tab: edit your own image with a diffusion model: SDEdit, and inpainting by replacement or RePaint.

Pick any image checkpoint of the catalogue, upload an image or draw one (for the digits model: a white digit on
the black canvas), see it as the model takes it (its size and channels, padded or cropped as on the Forward tab)
and x_t₀ from q(x_t₀ | x_0), then press Edit and watch the reverse chain from t₀ with x̂_0 beside it. To inpaint,
paint the region to fill on the mask canvas. The strip runs SDEdit from several t₀ and the side-by-side runs the
two inpainting methods, all from the same noise.

The edit runs as the session's "edit" job (server/jobs.py) in a background thread: the work loads the weights
and walks `ddpm_core.edit.edit_frames`, reporting its newest frame a few times a second; the Edit event follows
the job and sends it as one HTML update every POLL_S seconds (inline PNG data URLs, nothing written to Gradio's
cache). Stop ends the walk after its current network evaluation. Everything is checked in the event before the
job starts (from the checkpoint's header alone), so a bad input is a message at once.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ddpm_core import edit as core
from ddpm_core.animation import compose_frame, save_animation, save_png, upscale
from ddpm_core.checkpoints import config_from_dict, load_checkpoint, read_config
from ddpm_core.config import DiffusionConfig
from ddpm_core.devices import pick_device
from ddpm_core.diffusion import INDEX_X0, index_of, paper_t
from ddpm_core.errors import UserError
from ddpm_core.guidance import DEFAULT_GUIDANCE, MAX_GUIDANCE, check_guidance
from ddpm_core.images import FITS, to_uint8
from ddpm_core.sample import keep_every
from gradio.components.image_editor import EditorData
from server.catalogue import Catalogue, Entry
from server.jobs import Job, State, follow
from server.sessions import Session
from ui import checkpoint_view, code_panels, gpu, i18n
from ui.errors import describe, user_errors
from ui.forms import Field, Form
from ui.i18n import L, _

DEFAULT_CHECKPOINT = "bundled:digits.safetensors"
POLL_S = 0.5  # the live view's update interval, as the Sample tab's
REPORT_S = 0.2  # the work publishes its newest frame at most this often
MAX_FRAMES = 120  # frames kept for the exports (plus the last)
DISPLAY_PX = 256  # the canvases and previews show the model's pixels enlarged to about this width
SEED_MAX = 2**31 - 1
DEFAULT_STEPS = 100  # S of T: a run from t₀ takes S·t₀/T steps
DEFAULT_JUMP, DEFAULT_RESAMPLE = 10, 5  # RePaint's j and r (the paper: 10 and 10, twice the time)
STRIP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)  # the strip's t₀ as shares of T
SDEDIT_T0 = 0.3  # SDEdit's default t₀ as a share of T (Meng et al. use 0.3–0.6; 16×16 digits change past 0.4)
FILL_COLOUR = np.array([230, 159, 0])  # Okabe–Ito orange: the region to fill
MASK_BRUSH = ("#E69F00", 0.7)
UNCONDITIONAL = ""  # the class choice that asks for none (∅)

INTRO = ("Edit your own image with the model. **SDEdit** (Meng et al. 2022) noises it to step $t_0$ with "
         "$q(x_{t_0} \\mid x_0)$ and lets the model denoise it from there: a small $t_0$ stays faithful, a large one "
         "realistic. **Inpainting** keeps the pixels you did not paint and lets the model fill the rest: by "
         "replacing the known pixels at every step, or with **RePaint**'s resampling (Lugmayr et al. 2022).")
INTRO_KO = ("내 이미지를 모델로 편집합니다. **SDEdit** (Meng et al. 2022)는 $q(x_{t_0} \\mid x_0)$로 스텝 $t_0$까지 "
            "노이즈를 더한 뒤 모델이 거기서부터 노이즈를 제거하게 합니다. $t_0$가 작으면 원본에 충실하고, 크면 더 "
            "사실적입니다. **인페인팅**은 칠하지 않은 픽셀을 그대로 두고 나머지를 모델이 채웁니다. 매 스텝 알려진 "
            "픽셀을 바꿔 넣거나, **RePaint**의 재샘플링(Lugmayr et al. 2022)을 씁니다.")
IDLE = "Upload or draw an image and press <b>Edit</b>."
CSS = """
#edit-live .live-panels { display: flex; gap: 14px; flex-wrap: wrap; }
#edit-live figure { margin: 0; flex: 1 1 200px; max-width: 300px; }
#edit-live figure img, #edit-compare img { width: 100%; image-rendering: pixelated; border: 1px solid #ccc; }
#edit-live figcaption, #edit-compare figcaption { font-weight: 600; margin-bottom: 4px; }
#edit-live .live-head { display: flex; justify-content: space-between; flex-wrap: wrap; font-size: var(--text-lg);
                        font-variant-numeric: tabular-nums; margin-bottom: 6px; }
#edit-live .live-bar { height: 10px; background: #e5e5e5; border-radius: 5px; margin-bottom: 10px; }
#edit-live .live-bar div { height: 100%; background: #0072B2; border-radius: 5px; }
#edit-compare .cmp { display: grid; gap: 10px; grid-template-columns: repeat(auto-fit, minmax(110px, 1fr)); }
#edit-compare figure { margin: 0; }
#edit-views img, #edit-result img { image-rendering: pixelated; }
"""


@dataclass(frozen=True)
class EditForm:
    """What one Edit, strip or side-by-side run asks for, as the page sends it."""

    checkpoint: str | None
    image: dict | None  # the image editor's value: background, layers, composite (file paths)
    mask: dict | None  # the mask editor's value (numpy RGBA): the painted layers are the region to fill
    fit: str
    method: str
    t0: object  # the paper's t₀, 0 … T
    sampler: str
    steps: object
    eta: object
    jump: object
    resample: object
    seed: object
    class_name: str | None
    guidance: object


@dataclass(frozen=True)
class Plan:
    """A checked edit: the checkpoint, x_0 and the mask as the model takes them, and the runs, labelled."""

    entry: Entry
    x0: torch.Tensor  # (1, C, H, W)
    mask: torch.Tensor | None  # (H, W), True: fill
    runs: list[tuple[str, core.EditConfig]]
    class_name: str | None
    guidance: float


@dataclass
class Live:
    """The newest frame of a running edit, as the work reports it."""

    run: int
    runs: int
    title: str
    index: int
    count: int
    t: int  # the paper's step the move arrived at
    up: bool  # a RePaint step back up
    nfe: int
    elapsed: float
    panels: list[np.ndarray]  # x_t, x̂_0 at the model's size


@dataclass
class RunResult:
    """One finished (or stopped) run: its final image and the frames kept for the exports."""

    title: str
    config: core.EditConfig
    final: np.ndarray  # uint8 at the model's size
    kept: list[tuple[int, int, list[np.ndarray]]] = field(default_factory=list)  # (index, paper t, panels)
    count: int = 0
    nfe: int = 0
    seconds: float = 0.0
    stopped: bool = False
    faithfulness: float = 1.0  # correlation with the input


@dataclass
class EditState:
    """What the Edit tab keeps for a session: the last Edit run (the exports' source)."""

    result: RunResult | None = None
    name: str = "edit"


# ---- pictures ---------------------------------------------------------------------------------------------------

def png_data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def enlarged(pixels: np.ndarray) -> np.ndarray:
    """The model's pixels enlarged (nearest neighbour) to about DISPLAY_PX wide."""
    return upscale(pixels, DISPLAY_PX)


def display_size(size: int) -> int:
    """The side of `enlarged` for a model of size × size: the mask canvas's size."""
    return size * max(1, round(DISPLAY_PX / size))


def fill_overlay(x0: torch.Tensor, mask: torch.Tensor | None) -> np.ndarray:
    """x_0 as RGB with the region to fill tinted orange."""
    pixels = to_uint8(x0[0])
    rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels.copy()
    if mask is not None:
        fill = mask.numpy()
        rgb[fill] = (0.35 * rgb[fill] + 0.65 * FILL_COLOUR).astype(np.uint8)
    return rgb


def live_html(live: Live | None, note: str = "") -> str:
    """The run's title, step counter, progress bar and x_t | x̂_0 (English: "step 12 / 100 · t = 880 · NFE 12")."""
    if live is None:
        return idle_html(note)
    rate = live.index / live.elapsed if live.elapsed > 0 else 0.0
    left = (" · " + _("{seconds} s left").format(seconds=f"{(live.count - live.index) / rate:.0f}")
            if 0 < live.index < live.count and rate > 0 else "")
    runs = " " + _("({run} of {runs})").format(run=live.run + 1, runs=live.runs) if live.runs > 1 else ""
    arrow = " ↑ " + _("resampling") if live.up else ""
    head = (f"<div class='live-head'><span>{html.escape(live.title)}{runs}</span><span>"
            + _("step <b>{index}</b> / {count}").format(index=f"{live.index:,}", count=f"{live.count:,}")
            + f" · t = <b>{live.t:,}</b>{arrow} · NFE {live.nfe:,}{left}</span></div>"
            f"<div class='live-bar'><div style='width:{100 * live.index / max(live.count, 1):.1f}%'></div></div>")
    captions = [_("x<sub>t</sub> (the chain)"), _("x̂<sub>0</sub> (the network's guess)")]
    figures = "".join(f"<figure><figcaption>{cap}</figcaption><img alt='{html.escape(cap)}' "
                      f"src='{png_data_url(enlarged(p))}'></figure>" for cap, p in zip(captions, live.panels))
    return f"{head}<div class='live-panels'>{figures}</div>{f'<p>{note}</p>' if note else ''}"


def idle_html(message: str) -> str:
    return f"<div class='live-head'><span>{message}</span></div>"


def ended_note(result: RunResult) -> str:
    """How a run ended (English: "Done: N steps in X s" or "Stopped after k of N steps.")."""
    if result.stopped:
        index = result.kept[-1][0] if result.kept else 0
        return "⏹ " + _("Stopped after {index} of {count} steps.").format(index=f"{index:,}",
                                                                          count=f"{result.count:,}")
    return "✅ " + _("Done: {count} steps in {seconds} s.").format(count=f"{result.count:,}",
                                                                  seconds=f"{result.seconds:.1f}")


def compare_html(x0: torch.Tensor, mask: torch.Tensor | None, results: list[RunResult], heading: str) -> str:
    """The input (with the region to fill) and each run's result, captioned, side by side."""
    first = _("input x₀") if mask is None else _("input, orange: to fill")
    cells = [(first, fill_overlay(x0, mask), "")]
    for r in results:
        detail = _("r = {r} with the input · {seconds} s").format(r=f"{r.faithfulness:.2f}", seconds=f"{r.seconds:.1f}")
        cells.append((r.title + (" " + _("(stopped)") if r.stopped else ""), r.final, detail))
    figures = "".join(f"<figure><figcaption>{html.escape(title)}<br><small>{html.escape(detail)}</small>"
                      f"</figcaption><img alt='{html.escape(title)}' src='{png_data_url(enlarged(pixels))}'></figure>"
                      for title, pixels, detail in cells)
    return f"<p>{heading}</p><div class='cmp'>{figures}</div>"


# ---- reading the page's values ------------------------------------------------------------------------------

def _int(value, name: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number == number or number != int(number):
        raise UserError("edit.whole_number", "{name} must be a whole number, got {value!r}", name=name, value=value)
    return int(number)


def editor_files(editor: gr.ImageEditor, raw) -> dict | None:
    """An image editor's value as the page sent it (events here take raw values: preprocess=False) as file paths.

    The browser sends its canvas as blobs the component keeps: its own preprocessing writes them out as PNGs the
    browser made. An API client sends files it uploaded, left as they are, so that reading them checks them as
    every tab does (`images.decode_file`) instead of failing inside Gradio with a message nobody can act on.
    """
    if not isinstance(raw, dict):
        return None
    if raw.get("id"):
        return editor.preprocess(EditorData(**raw))

    def path(item):
        return item.get("path") if isinstance(item, dict) else None
    return {"background": path(raw.get("background")), "composite": path(raw.get("composite")),
            "layers": [path(layer) for layer in raw.get("layers") or [] if path(layer)]}


def image_path(files: dict | None) -> str | None:
    """The image editor's picture (its composite: the upload with the strokes on it), a file path, or None."""
    return (files.get("composite") or files.get("background")) if files else None


@functools.lru_cache(maxsize=16)
def _process(path: str, mtime_ns: int):
    return config_from_dict(DiffusionConfig, read_config(path).get("diffusion"), "diffusion").build()


def process_of(entry: Entry):
    """The checkpoint's forward process, from its header alone (no weights)."""
    return _process(str(entry.path), entry.path.stat().st_mtime_ns)


# ---- callbacks ----------------------------------------------------------------------------------------------

class EditTab:
    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    @user_errors
    def picker(self, key, session):
        return checkpoint_view.picker(self.catalogue.entries(session), key, DEFAULT_CHECKPOINT)

    @user_errors
    def upload(self, file, session: Session):
        """Check an uploaded checkpoint, keep a copy in the session's folder, and select it."""
        if not file:
            return gr.skip(), session
        entry = self.catalogue.add_upload(file, session)
        return checkpoint_view.picker(self.catalogue.entries(session), entry.key), session

    @user_errors
    def summary(self, key, method, session):
        """The checkpoint's summary; t₀ and steps up to its T; the class controls for a conditional one."""
        if not key:
            return _("No checkpoint chosen."), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        entry = self.catalogue.image_entry(key, session)
        T, classes = entry.summary.timesteps, entry.summary.classes
        choices = [(_("none: unconditional (∅)"), UNCONDITIONAL)] + [(name, name) for name in classes or ()]
        return (checkpoint_view.summary_markdown(entry), gr.Slider(maximum=T, value=self._default_t0(method, T)),
                gr.Number(maximum=T), gr.Dropdown(choices=choices, value=UNCONDITIONAL, visible=bool(classes)),
                gr.Slider(visible=bool(classes)))

    @staticmethod
    def _default_t0(method: str, T: int) -> int:
        """SDEdit's t₀ where the input still shows; inpainting's T (the filled region from pure noise)."""
        return round(SDEDIT_T0 * T) if method == "sdedit" else T

    @user_errors
    def method_changed(self, method, key, session):
        """Show the mask and RePaint's controls where they matter; t₀'s default for the method (0.3 T or T)."""
        inpaint = method in ("replace", "repaint")
        try:
            T = self.catalogue.image_entry(key, session).summary.timesteps
            t0 = gr.Slider(value=self._default_t0(method, T))
        except UserError:
            t0 = gr.skip()
        return (gr.ImageEditor(visible=inpaint), gr.Image(visible=inpaint), gr.Slider(visible=method == "repaint"),
                gr.Slider(visible=method == "repaint"), t0, gr.Button(visible=not inpaint), gr.Button(visible=inpaint))

    def _x0(self, entry: Entry, image, fit) -> torch.Tensor | None:
        path = image_path(image)
        if path is None:
            return None
        if fit not in FITS:
            raise UserError("edit.fit", "choose pad or crop for a non-square image")
        s = entry.summary
        return core.load_for_model(path, s.image_size, s.channels, fit)

    def _mask(self, entry: Entry, mask_value) -> torch.Tensor | None:
        """The painted region at the model's size (None if nothing is painted); UserError for a canvas of
        another size than the one this checkpoint's image was shown at."""
        size = entry.summary.image_size
        side = display_size(size)
        layers = (mask_value or {}).get("layers") or []
        masks = [core.mask_tensor(core.read_mask(path), (side, side), size) for path in layers]
        return functools.reduce(torch.logical_or, masks) if masks else None

    def _x_t0(self, entry: Entry, x0: torch.Tensor, t0, seed) -> np.ndarray:
        process = process_of(entry)
        t0 = _int(t0, "t₀")
        if not 0 <= t0 <= process.num_timesteps:
            raise UserError("edit.t0", "t₀ must be a step from 0 (the input itself) to T = {T}, got {t0}",
                            T=process.num_timesteps, t0=t0)
        noise, _generator = core.initial_noise(x0, _int(seed, _("Seed")))
        return enlarged(to_uint8(core.noised(process, x0, index_of(t0), noise)[0].clamp(-1, 1)))

    def prepare(self, form: EditForm, session):
        """The image as the model takes it, x_t₀, the empty mask canvas over it and a note on what changed."""
        entry = self.catalogue.image_entry(form.checkpoint, session)
        x0 = self._x0(entry, form.image, form.fit)
        if x0 is None:
            return None, None, None, None, ""
        shown = enlarged(to_uint8(x0[0]))
        canvas = {"background": np.repeat(shown[..., None], 3, axis=2) if shown.ndim == 2 else shown,
                  "layers": [], "composite": None}
        s = entry.summary
        note = _("The model takes {size}×{size} {kind} images: yours is shown at that size, enlarged. "
                 "Changing the image clears the mask.").format(size=s.image_size, kind=checkpoint_view.kind(s.channels))
        return (enlarged(fill_overlay(x0, None)), enlarged(fill_overlay(x0, None)),
                self._x_t0(entry, x0, form.t0, form.seed), canvas, note)

    def at_t0(self, form: EditForm, session):
        """x_t₀ = √ᾱ x_0 + √(1 − ᾱ) ε with the run's own ε (the seed's)."""
        entry = self.catalogue.image_entry(form.checkpoint, session)
        x0 = self._x0(entry, form.image, form.fit)
        return None if x0 is None else self._x_t0(entry, x0, form.t0, form.seed)

    def mask_view(self, form: EditForm, session):
        """x_0 with the painted region tinted: what the model will fill."""
        entry = self.catalogue.image_entry(form.checkpoint, session)
        x0 = self._x0(entry, form.image, form.fit)
        return None if x0 is None else enlarged(fill_overlay(x0, self._mask(entry, form.mask)))

    # ---- the edit itself --------------------------------------------------------------------------------------

    def _config(self, form: EditForm, method: str, t0: int, T: int) -> core.EditConfig:
        steps = _int(form.steps, _("Steps"))
        config = core.EditConfig(method, index_of(t0), sampler=form.sampler, steps=steps,
                                 eta=float(form.eta or 0.0), jump=_int(form.jump, "j"),
                                 resample=_int(form.resample, "r"), seed=_int(form.seed, _("Seed")))
        config.check(T)
        return config

    def _title(self, config: core.EditConfig, class_name: str | None, guidance: float) -> str:
        """'SDEdit from t₀ = 300 · DDIM' and the like, with the class and w of a guided edit."""
        t0 = paper_t(config.t0)
        sampler = " · " + ("DDIM" if config.sampler == "ddim" else "DDPM")
        if class_name is not None:
            sampler += " · " + _("class {name}, w = {w}").format(name=class_name, w=f"{guidance:g}")
        if config.method == "sdedit":
            return _("SDEdit from t₀ = {t0}").format(t0=t0) + sampler
        if config.method == "replace":
            return _("Replacement from t₀ = {t0}").format(t0=t0) + sampler
        return _("RePaint j = {jump}, r = {resample} from t₀ = {t0}").format(
            jump=config.jump, resample=config.resample, t0=t0) + sampler

    def _plan(self, form: EditForm, session: Session, runs: str) -> Plan:
        """Everything checked from the page and the checkpoint's header: the weights are loaded by the job."""
        if session.busy("edit"):
            raise UserError("edit.busy", "An edit is still going in this tab: press Stop first.")
        entry = self.catalogue.image_entry(form.checkpoint, session)
        x0 = self._x0(entry, form.image, form.fit)
        if x0 is None:
            raise UserError("edit.no_image", "Upload an image or draw one first.")
        T, method = entry.summary.timesteps, form.method
        t0 = _int(form.t0, "t₀")
        configs = [self._config(form, method, t0, T)]
        if runs == "strip":
            configs = [self._config(form, "sdedit", max(1, round(share * T)), T) for share in STRIP]
        elif runs == "methods":
            configs = [self._config(form, name, t0, T) for name in ("replace", "repaint")]
        mask = None
        if any(c.method != "sdedit" for c in configs):
            mask = self._mask(entry, form.mask)
            if mask is None:  # nothing painted: the core's message for an empty mask
                mask = torch.zeros(x0.shape[-2:], dtype=torch.bool)
            core.check_mask(mask, x0)
        class_name = form.class_name or None
        guidance = check_guidance(float(form.guidance if form.guidance is not None else DEFAULT_GUIDANCE))
        if class_name is not None and class_name not in (entry.summary.classes or ()):
            raise UserError("edit.class_unknown", "Choose a class of this checkpoint (or none).")
        return Plan(entry, x0, mask, [(self._title(c, class_name, guidance), c) for c in configs], class_name,
                    guidance)

    def _work(self, plan: Plan, job: Job) -> list[RunResult]:
        """In the job's thread: load the weights and run each edit, reporting frames and keeping some."""
        device = pick_device("auto")
        checkpoint = load_checkpoint(plan.entry.path, device)
        model = core.edit_model(checkpoint, plan.class_name, plan.guidance)
        x0, results = plan.x0.to(device), []
        with torch.inference_mode():
            for run, (title, config) in enumerate(plan.runs):
                results.append(self._run_one(job, checkpoint, model, x0, plan, run, title, config))
                if job.stopping:
                    break
        return results

    def _run_one(self, job: Job, checkpoint, model, x0: torch.Tensor, plan: Plan, run: int, title: str,
                 config: core.EditConfig) -> RunResult:
        started, reported = time.monotonic(), 0.0
        result = RunResult(title, config, to_uint8(x0[0]))
        x = x0
        for frame in core.edit_frames(model, checkpoint.diffusion, x0, config, plan.mask, checkpoint.prediction):
            x, result.count, result.nfe = frame.step.prev_sample, frame.count, frame.nfe
            last = frame.index == frame.count
            keep = frame.index % keep_every(frame.count, MAX_FRAMES) == 0 or last or job.stopping
            now = time.monotonic()
            if keep or now - reported >= REPORT_S:
                panels = [to_uint8(frame.step.prev_sample[0].clamp(-1, 1)), to_uint8(frame.step.pred_x0[0])]
                if keep:
                    result.kept.append((frame.index, paper_t(frame.t_prev), panels))
                if now - reported >= REPORT_S or last:
                    job.report(Live(run, len(plan.runs), title, frame.index, frame.count, paper_t(frame.t_prev),
                                    frame.t_prev > frame.t, frame.nfe, now - started, panels), step=frame.index)
                    reported = now
            if job.stopping:
                result.stopped = not last
                break
        result.final, result.seconds = to_uint8(x[0].clamp(-1, 1)), time.monotonic() - started
        result.faithfulness = core.correlation(x, x0)
        if not result.kept:  # t₀ = 0: the input is the result
            result.kept.append((0, 0, [result.final, result.final]))
        return result

    def _views(self, plan: Plan) -> tuple:
        x_t0 = self._x_t0(plan.entry, plan.x0, paper_t(plan.runs[0][1].t0), plan.runs[0][1].seed)
        return enlarged(fill_overlay(plan.x0, None)), enlarged(fill_overlay(plan.x0, plan.mask)), x_t0

    def _follow(self, job: Job, session: Session, views: tuple):
        """Yield (live, x₀, mask, x_t₀, result, comparison, session) for every new frame until the job ends; a
        stream closed early (the page went away, or a cancel) stops the job."""
        try:
            yield idle_html("⏳ " + _("Starting…")), *views, gr.skip(), gr.skip(), session
            for reports in follow(job, POLL_S):
                if reports and job.running:
                    yield live_html(reports[-1]), *(gr.skip(),) * 5, session
        finally:
            if job.running:
                job.stop()
        if job.outcome.state is State.FAILED:
            message = describe(job.outcome.error)
            yield idle_html("❌ " + html.escape(message)), *(gr.skip(),) * 5, session
            raise gr.Error(message)

    def run(self, form: EditForm, session: Session):
        """One edit, streamed; its result and its animation (the exports' source) replace the last one's."""
        plan = self._plan(form, session, "one")
        job = session.start("edit", Job("edit", functools.partial(self._work, plan)))
        yield from self._follow(job, session, self._views(plan))
        result = job.result[-1]
        state = session.state(EditState)
        state.result, state.name = result, plan.entry.name
        index, t, panels = result.kept[-1]
        last = Live(0, 1, result.title, index, result.count, t, False, result.nfe, result.seconds, panels)
        yield (live_html(last, ended_note(result)), *(gr.skip(),) * 3, enlarged(result.final), gr.skip(), session)

    def compare(self, form: EditForm, session: Session):
        """SDEdit from several t₀ (the strip), or replacement beside RePaint, all from the form's seed."""
        runs = "strip" if form.method == "sdedit" else "methods"
        plan = self._plan(form, session, runs)
        job = session.start("edit", Job("edit", functools.partial(self._work, plan)))
        yield from self._follow(job, session, self._views(plan))
        heading = (_("SDEdit from the same noise at several t₀: faithful on the left, realistic on the right.")
                   if runs == "strip" else _("Both inpainting methods from the same noise:"))
        done = "✅ " + _("Done: {runs} runs in {seconds} s.").format(
            runs=len(job.result), seconds=f"{sum(r.seconds for r in job.result):.1f}")
        yield (idle_html(done), *(gr.skip(),) * 4, compare_html(plan.x0, plan.mask, job.result, heading), session)

    def stop(self, session: Session | None) -> None:
        if session is not None:
            session.stop("edit")

    def _last(self, session: Session | None) -> tuple[RunResult, str]:
        """The last Edit's result and checkpoint name; UserError while one runs or before the first."""
        if session is not None and session.busy("edit"):
            raise UserError("edit.export_busy", "An edit is still going: wait for it to finish (or press Stop), then "
                            "export it.")
        state = session.state(EditState) if session is not None else None
        if state is None or state.result is None:
            raise UserError("edit.export_empty", "Edit first: there is nothing to export yet.")
        return state.result, state.name

    def _export_path(self, session: Session, name: str, result: RunResult, suffix: str) -> Path:
        stem = f"{name}-{result.config.method}-t0-{paper_t(result.config.t0)}-{time.strftime('%Y%m%d-%H%M%S')}"
        return session.folder / "exports" / (_safe_name(stem) + suffix)

    @user_errors
    def export(self, fmt: str, session: Session | None):
        """The last Edit's animation (x_t beside x̂_0) as a GIF or MP4 in the session's folder."""
        result, name = self._last(session)
        titles = ("x_t", _("predicted x_0"))
        frames = [compose_frame([(title, enlarged(p)) for title, p in zip(titles, panels)],
                                f"{result.title}   " + _("step {index}/{count}").format(index=index, count=result.count)
                                + f"   t = {t}") for index, t, panels in result.kept]
        path = save_animation(frames, self._export_path(session, name, result, f".{fmt}"), fps=12)
        return gr.File(str(path), visible=True)

    @user_errors
    def export_png(self, session: Session | None):
        """The last Edit's result at the model's own size, pixel for pixel."""
        result, name = self._last(session)
        return gr.File(str(save_png(result.final, self._export_path(session, name, result, ".png"))), visible=True)


def _safe_name(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)


# ---- layout -----------------------------------------------------------------------------------------------------

def blank_canvas(side: int = DISPLAY_PX) -> dict:
    """A black canvas to draw on (the digits are white on black)."""
    black = np.zeros((side, side, 3), dtype=np.uint8)
    return {"background": black, "layers": [], "composite": black}


def build(demo: gr.Blocks, session: gr.State, catalogue: Catalogue, tab_item: gr.Tab) -> EditTab:
    """Lay out the Edit tab inside `demo`; `session` is the page's shared Session."""
    tab = EditTab(catalogue)
    gr.Markdown(i18n.bilingual(INTRO, INTRO_KO), latex_delimiters=code_panels.LATEX, elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row(equal_height=True):
                bundled = [(i18n.register(f"{e.name} (bundled)", i18n.translate("{name} (bundled)", "ko").format(
                    name=e.name)), e.key) for e in catalogue.bundled()]
                checkpoint = gr.Dropdown(bundled, value=DEFAULT_CHECKPOINT if bundled else None, label=L("Checkpoint"),
                                         allow_custom_value=True, scale=5, elem_id="edit-checkpoint")
                refresh_btn = gr.Button("⟳", size="sm", scale=0, min_width=44, elem_id="edit-refresh")
            summary = gr.Markdown(elem_id="edit-summary")
            upload = gr.UploadButton(L("Upload a checkpoint (.safetensors)"), file_types=[".safetensors"],
                                     file_count="single", size="sm", elem_id="edit-upload")
            method = gr.Radio([("SDEdit: noise, then denoise", "sdedit"), ("Inpaint: replacement", "replace"), ("Inpaint: RePaint", "repaint")],
                              value="sdedit", label=L("Method"), elem_id="edit-method")
            with gr.Row(elem_classes="tab-actions"):
                run_btn = gr.Button(L("Edit"), variant="primary", elem_id="edit-run")
                stop_btn = gr.Button(L("Stop"), elem_id="edit-stop")
                strip_btn = gr.Button(L("Strip of t₀"), elem_id="edit-strip")
                methods_btn = gr.Button(L("Methods side by side"), visible=False, elem_id="edit-methods")
            image = gr.ImageEditor(value=blank_canvas(), type="filepath", format="png", label=L("Your image: upload, or draw"),
                                   sources=["upload", "clipboard"], layers=False, transforms=("crop",),
                                   brush=gr.Brush(default_size=14, colors=["#ffffff", "#000000", "#808080"],
                                                  default_color="#ffffff", color_mode="defaults"),
                                   canvas_size=(DISPLAY_PX, DISPLAY_PX), height=380, elem_id="edit-image")
            with gr.Row():
                fit = gr.Radio([("pad: keep all of it", "pad"), ("crop the centre", "crop")], value="pad",
                               label=L("Not square?"), elem_id="edit-fit", scale=3)
                blank_btn = gr.Button(L("Blank canvas"), size="sm", scale=1, elem_id="edit-blank")
            mask = gr.ImageEditor(type="filepath", format="png", image_mode="RGBA", label=L("Mask: paint the region to fill"),
                                  sources=[], layers=False, transforms=(), visible=False,
                                  brush=gr.Brush(default_size=14, colors=[MASK_BRUSH], default_color=MASK_BRUSH,
                                                 color_mode="fixed"),
                                  height=380, elem_id="edit-mask")
            t0 = gr.Slider(0, 1000, value=round(SDEDIT_T0 * 1000), step=1, label=L("Start at step t₀ (0: the input itself, T: pure noise)"),
                           elem_id="edit-t0")
            sampler = gr.Radio([("DDPM (Algorithm 2)", "ddpm"), ("DDIM", "ddim")], value="ddpm", label=L("Sampler"),
                               elem_id="edit-sampler")
            with gr.Row():
                steps = gr.Number(DEFAULT_STEPS, label=L("Steps S of T"), precision=0, minimum=1, maximum=1000,
                                  info=L("A run from t₀ takes S·t₀/T of them"), elem_id="edit-steps")
                seed = gr.Number(0, label=L("Seed"), precision=0, minimum=0, maximum=SEED_MAX, elem_id="edit-seed")
            eta = gr.Slider(0, 1, value=0, step=0.05, label=L("DDIM η (0: deterministic, 1: DDPM's variance)"),
                            visible=False, elem_id="edit-eta")
            with gr.Row():
                jump = gr.Slider(1, 50, value=DEFAULT_JUMP, step=1, label=L("RePaint jump length j"), visible=False,
                                 elem_id="edit-jump")
                resample = gr.Slider(1, 20, value=DEFAULT_RESAMPLE, step=1, label=L("RePaint resampling r"),
                                     visible=False, elem_id="edit-resample")
            with gr.Row():
                class_name = gr.Dropdown([("none: unconditional (∅)", UNCONDITIONAL)], value=UNCONDITIONAL,
                                         label=L("Guide towards class"), visible=False, elem_id="edit-class")
                guidance = gr.Slider(0, MAX_GUIDANCE, value=DEFAULT_GUIDANCE, step=0.1, label=L("Guidance scale w"),
                                     visible=False, elem_id="edit-guidance")
        with gr.Column(scale=3, min_width=420):
            live = gr.HTML(i18n.bilingual(idle_html(IDLE), idle_html(i18n.translate(IDLE, "ko"))), elem_id="edit-live")
            with gr.Row(elem_id="edit-views"):
                view_x0 = gr.Image(label=L("x₀ as the model takes it"), type="numpy", format="png", interactive=False,
                                   height=200, buttons=[], elem_id="edit-x0")
                view_mask = gr.Image(label=L("Kept, and filled (orange)"), type="numpy", format="png",
                                     interactive=False, height=200, buttons=[], visible=False, elem_id="edit-fill")
                view_xt = gr.Image(label=L("x_t₀ from q(x_t₀ | x₀)"), type="numpy", format="png", interactive=False,
                                   height=200, buttons=[], elem_id="edit-xt0")
            view_note = gr.Markdown(elem_id="edit-view-note")
            result = gr.Image(label=L("Result"), type="numpy", format="png", interactive=False, height=300,
                              buttons=["download"], elem_id="edit-result")
            with gr.Row():
                gif_btn = gr.Button(L("Export GIF"), size="sm", elem_id="edit-gif")
                mp4_btn = gr.Button(L("Export MP4"), size="sm", elem_id="edit-mp4")
                png_btn = gr.Button(L("Result as PNG (the model's size)"), size="sm", elem_id="edit-png")
            exported = gr.File(label=L("Download"), interactive=False, visible=False, elem_id="edit-export")
            comparison = gr.HTML(elem_id="edit-compare")
    code_panels.build("sdedit", "inpaint_replace", "repaint")
    _wire(demo, tab, session, locals())
    return tab


def _wire(demo: gr.Blocks, tab: EditTab, session: gr.State, c: dict) -> None:
    """The tab's events (`c`: build's components by name). The events that read the editors take the page's raw
    values (preprocess=False, see `editor_files`); the form converts every field itself."""
    private = dict(api_visibility="private", show_progress="hidden")
    form = Form(EditForm, checkpoint=c["checkpoint"], image=Field(c["image"], functools.partial(editor_files, c["image"])),
                mask=Field(c["mask"], functools.partial(editor_files, c["mask"])), fit=c["fit"], method=c["method"],
                t0=c["t0"], sampler=c["sampler"], steps=c["steps"], eta=c["eta"], jump=c["jump"],
                resample=c["resample"], seed=c["seed"], class_name=c["class_name"], guidance=c["guidance"])
    views = dict(preprocess=False, trigger_mode="always_last", **private)
    choices = dict(fn=tab.picker, inputs=[c["checkpoint"], session], outputs=c["checkpoint"], **private)
    prepare = dict(**form.event(tab.prepare, session), outputs=[c["view_x0"], c["view_mask"], c["view_xt"], c["mask"],
                                                               c["view_note"]], **views)
    describe_choice = dict(fn=tab.summary, inputs=[c["checkpoint"], c["method"], session],
                           outputs=[c["summary"], c["t0"], c["steps"], c["class_name"], c["guidance"]], **private)
    demo.load(**choices).then(**describe_choice).then(**prepare)
    c["tab_item"].select(**choices)
    c["refresh_btn"].click(**choices)
    c["checkpoint"].change(**describe_choice).then(**prepare)
    c["upload"].upload(tab.upload, [c["upload"], session], [c["checkpoint"], session], api_name="edit_upload")
    # A stroke fires `input` (twice: before and after the canvas is exported), an upload `upload`, a new value
    # `change`: each shows the image as the model takes it (the last one wins).
    for trigger in (c["image"].input, c["image"].change, c["image"].upload, c["fit"].change):
        trigger(**prepare)
    c["blank_btn"].click(lambda: blank_canvas(), None, c["image"], api_visibility="private", queue=False)
    for trigger in (c["t0"].change, c["seed"].change):
        trigger(**form.event(tab.at_t0, session), outputs=c["view_xt"], **views)
    for trigger in (c["mask"].input, c["mask"].change):  # the painted layer comes with `change`
        trigger(**form.event(tab.mask_view, session), outputs=c["view_mask"], **views)
    c["method"].change(tab.method_changed, [c["method"], c["checkpoint"], session],
                       [c["mask"], c["view_mask"], c["jump"], c["resample"], c["t0"], c["strip_btn"], c["methods_btn"]],
                       **private)
    c["sampler"].change(lambda s: gr.Slider(visible=s == "ddim"), c["sampler"], c["eta"], queue=False,
                        **private)
    streaming = dict(outputs=[c["live"], c["view_x0"], c["view_mask"], c["view_xt"], c["result"], c["comparison"],
                              session], concurrency_id="edit",
                     concurrency_limit=tab.catalogue.settings.max_concurrent_runs, show_progress="minimal",
                     show_progress_on=[c["live"]], preprocess=False)
    run, compare = form.event(tab.run, session), form.event(tab.compare, session)
    c["run_btn"].click(fn=gpu.GPU(run["fn"]), inputs=run["inputs"], **streaming, api_name="edit_run")
    for button, name in ((c["strip_btn"], "edit_strip"), (c["methods_btn"], "edit_methods")):
        button.click(fn=gpu.GPU(compare["fn"], duration=4 * gpu.SAMPLE_SECONDS), inputs=compare["inputs"],
                     **streaming, api_name=name)
    c["stop_btn"].click(tab.stop, session, None, api_name="edit_stop", show_progress="hidden", queue=False)
    for button, fmt in ((c["gif_btn"], "gif"), (c["mp4_btn"], "mp4")):
        button.click(functools.partial(tab.export, fmt), session, c["exported"], api_name=f"edit_export_{fmt}",
                     concurrency_id="edit_export", concurrency_limit=1)
    c["png_btn"].click(tab.export_png, session, c["exported"], api_name="edit_export_png")
