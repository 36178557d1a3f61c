"""The Evaluate tab: a checkpoint's variational bound on real images, term by term, and progressive decoding.

The bound is the session's "evaluate" job (server/jobs.py): likelihood.BoundEvaluation computed one
timestep at a time in a background thread; the Evaluate event follows it and redraws the figures every
POLL_S seconds, so the bars fill in from t = T down to t = 1 as the terms arrive, and Stop ends the
computation after the current term. Progressive decoding is the session's "decode" job, drawn as each
t's samples arrive.

Checkpoints come from the catalogue (bundled, trained in this session, uploaded in the Sample tab), by
key. Images come from the checkpoint's own data (the bundled model's held-out digits), uploaded files,
or, when the app runs locally, a folder on this computer.

For a class-conditional checkpoint the job can also compute the bound given each image's class (its folder),
on the same draws of t and x_t as the bound without it, as `python -m ddpm_core.evaluate --given-class`
does; their paired difference is how many bits/dim the label is worth (evaluate.label_worth).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ddpm_core.animation import image_grid
from ddpm_core.checkpoints import Checkpoint
from ddpm_core.data import IMAGE_EXTENSIONS
from ddpm_core.devices import pick_device
from ddpm_core.diffusion import index_of, paper_t
from ddpm_core.evaluate import (file_pixels, folder_labelled_pixels, folder_pixels, label_worth, pick_indices,
                                start, summarize)
from ddpm_core.images import from_uint8
from ddpm_core.likelihood import Bound, BoundEvaluation
from ddpm_core.progressive import check_steps, predictions, shared_samples
from server import settings as deployment
from server.catalogue import Catalogue, Entry, check_run_cost, run_cost
from server.jobs import Job, State, follow
from server.sessions import Session
from ui import checkpoint_view, code_panels, i18n, plots
from ui.errors import describe, error, user_errors
from ui import forms
from ui.forms import Form
from ui.i18n import L, _

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = "bundled:digits.safetensors"
POLL_S = 0.5
ASSETS = REPO_ROOT / "assets"
DEFAULT_STEPS = "1000, 750, 500, 250, 100, 50, 10, 1"
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
INTRO = r"""The DDPM loss is a bound on the negative log-likelihood (Ho et al. 2020, Eq. 5):
$$L = \underbrace{D_{KL}(q(x_T|x_0)\,\|\,p(x_T))}_{L_T} + \sum_{t>1} \underbrace{D_{KL}(q(x_{t-1}|x_t,x_0)\,\|\,p_\theta(x_{t-1}|x_t))}_{L_{t-1}} \underbrace{-\log p_\theta(x_0|x_1)}_{L_0}$$
Each term is measured here in **bits per dimension** (divided by $D = C\cdot H\cdot W$ and by $\ln 2$), so the
total is the bits an ideal coder would need per pixel value. See which steps cost the most."""
INTRO_KO = r"""DDPM 손실은 음의 로그 가능도의 변분 상한입니다 (Ho et al. 2020, 수식 5):
$$L = \underbrace{D_{KL}(q(x_T|x_0)\,\|\,p(x_T))}_{L_T} + \sum_{t>1} \underbrace{D_{KL}(q(x_{t-1}|x_t,x_0)\,\|\,p_\theta(x_{t-1}|x_t))}_{L_{t-1}} \underbrace{-\log p_\theta(x_0|x_1)}_{L_0}$$
여기서는 각 항을 **차원당 비트**(비트/차원)로 나타냅니다 ($D = C\cdot H\cdot W$와 $\ln 2$로 나눔). 따라서 합계는
이상적인 부호화기가 픽셀 값 하나에 필요로 하는 비트 수입니다. 어느 스텝에 비트가 가장 많이 드는지 확인해 보세요."""
DECODING = ("Noise one real image to $x_t$ at several $t$ (the same $\\epsilon$ each time). The network's "
            "one-step guess $\\hat{x}_0$ shows what it recovers from $x_t$; the samples below all start "
            "from that very $x_t$ and run the reverse chain down to 0: from small $t$ they agree, from "
            "large $t$ they share only the coarse layout.")
DECODING_KO = ("실제 이미지 하나에 노이즈를 더해 여러 $t$에서 $x_t$를 만듭니다 (매번 같은 $\\epsilon$). 신경망이 한 스텝에 "
               "추정한 $\\hat{x}_0$은 $x_t$에서 무엇을 복원하는지 보여 줍니다. 아래 샘플은 모두 바로 그 $x_t$에서 출발해 "
               "역방향 연쇄를 0까지 실행합니다: 작은 $t$에서 출발하면 서로 거의 같고, 큰 $t$에서 출발하면 대략적인 "
               "배치만 공유합니다.")
START_HTML = i18n.bilingual("<p>Choose a checkpoint and images, then press <b>Evaluate</b>.</p>",
                            "<p>체크포인트와 이미지를 고른 뒤 <b>평가</b>를 누르세요.</p>")
CSS = """
#eval-status .eval-head { display: flex; justify-content: space-between; font-size: var(--text-lg);
                          font-variant-numeric: tabular-nums; margin-bottom: 6px; }
#eval-status .eval-bar { height: 10px; background: #e5e5e5; border-radius: 5px; margin-bottom: 10px; }
#eval-status .eval-bar div { height: 100%; background: #0072B2; border-radius: 5px; }
#eval-status .eval-total { font-size: 1.6em; font-weight: 700; }
#eval-status .eval-given { border-collapse: collapse; margin-top: 8px; font-variant-numeric: tabular-nums; }
#eval-status .eval-given td { padding: 2px 12px 2px 0; }
#eval-decode table { border-collapse: collapse; }
#eval-decode td, #eval-decode th { padding: 3px 5px; text-align: center; font-variant-numeric: tabular-nums; }
#eval-decode img { width: 72px; image-rendering: pixelated; border: 1px solid #ccc; display: block; margin: auto; }
#eval-decode th.row { text-align: right; font-weight: 600; white-space: nowrap; }
"""




@dataclass(frozen=True)
class ImagesForm:
    """Which checkpoint, and where its images come from."""

    checkpoint: str | None
    source: str
    files: list | None
    folder: str | None
    split: str


@dataclass(frozen=True)
class BoundForm:
    """How to evaluate the bound: how many images, every t or stratified, σ², the seed."""

    n: object
    timesteps: str
    strata: object
    variance: str
    seed: object
    long_ok: bool  # the user's go-ahead for an evaluation estimated over a minute
    given_class: bool = False  # a conditional checkpoint: also the bound given each image's class


@dataclass(frozen=True)
class DecodeForm:
    """Progressive decoding: which image, from which t, how many samples, how many reverse steps, the seed."""

    index: object
    steps: str
    samples: object
    chain_steps: str
    seed: object


@dataclass
class EvaluateState:
    """What the Evaluate tab keeps for a session: the last bound and the images it was computed on."""

    bound: Bound | None = None
    images: torch.Tensor | None = None  # uint8 (N, C, S, S) of the last evaluation
    key: str | None = None  # the checkpoint the last evaluation used
    label_worth: dict | None = None  # evaluate.label_worth of the last evaluation given the class, if any


@dataclass
class Evaluations:
    """The bound of the images and, given their classes, the bound of p_θ(x_0 | c): one after the other, each
    drawing its t and x_t from the same seed (evaluate.start), so their difference is paired. Iterating computes
    them (each item: the terms done in all); `columns` and `done` count both."""

    bound: BoundEvaluation
    given: BoundEvaluation | None = None
    classes: tuple[str, ...] = ()  # the checkpoint's, when `given` is there
    dims: int = 0  # D = C·H·W of the images

    @property
    def complete(self) -> bool:
        return self.done == self.columns

    def label_worth(self) -> dict:
        """evaluate.label_worth of the two complete bounds."""
        return label_worth(self.bound.result(), self.given.result(), len(self.classes), self.dims)

    @property
    def parts(self) -> list[BoundEvaluation]:
        return [self.bound] if self.given is None else [self.bound, self.given]

    @property
    def columns(self) -> int:
        return sum(part.columns for part in self.parts)

    @property
    def done(self) -> int:
        return sum(part.done for part in self.parts)

    def __iter__(self):
        for part in self.parts:
            for _done in part:
                yield self.done

    def latest(self) -> BoundEvaluation:
        """The evaluation whose terms arrived last (one with terms: call it once `done` > 0)."""
        return self.given if self.given is not None and self.given.done else self.bound


# ---- what the page shows ----------------------------------------------------------------------------------

def status_html(done: int, total: int, elapsed: float, summary: dict | None, note: str = "", given: str = "") -> str:
    """Progress, and the running total with its parts (and `given`: the bound given the class, as HTML)."""
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (_(" · {seconds} s left").format(seconds=f"{(total - done) / rate:.0f}")
            if 0 < done < total and rate > 0 else "")
    head = (f"<div class='eval-head'><span>"
            + _("term <b>{done}</b> / {total}").format(done=f"{done:,}", total=f"{total:,}") + "</span><span>"
            + _("{elapsed} s · {rate} terms/s").format(elapsed=f"{elapsed:.1f}", rate=f"{rate:.1f}")
            + f"{left}</span></div>"
            f"<div class='eval-bar'><div style='width:{100 * done / max(total, 1):.1f}%'></div></div>")
    if summary is None:
        return head + (f"<p>{note}</p>" if note else "")
    s = summary
    exact = (_("every t") if s["exact"] else
             _("{count} sampled t per image (two per stratum)").format(count=f"{s['terms_per_image']:,}"))
    total = _("{value} ± {error} bits/dim").format(value=f"{s['bits_per_dim']:.3f}", error=f"{s['standard_error']:.3f}")
    total_line = (f"<div class='eval-total'>{total}</div>"
                  f"<div>{image_count(s['images'])} · {exact} · " + _("± one standard error")
                  + ("" if s["images"] > 1 else _(" (of the sampled t)")) + "</div>")
    parts = (f"<div>L<sub>T</sub> = {s['prior_L_T']:.5f} · Σ L<sub>t−1</sub> = {s['kl_terms']:.4f} · "
             f"L<sub>0</sub> = {s['decoder_L_0']:.4f} " + _("bits/dim") + "</div>")
    bands = " · ".join(f"t {b['from']}{'' if b['from'] == b['to'] else '–' + format(b['to'], ',')}: "
                       f"<b>{b['share']:.0%}</b>" for b in s["bands"])
    return (head + total_line + parts + "<div>" + _("Where the bits go: {bands}").format(bands=bands) + "</div>"
            + given + (f"<p>{note}</p>" if note else ""))


def given_class_html(bound: dict, given: dict, worth: dict, classes: int, dims: int) -> str:
    """The bound given each image's class beside the bound without it (`summarize` of each), and what the label
    is worth (`label_worth`): K `classes`, D = C·H·W `dims`."""
    def figure(value: float, error: float) -> str:
        return f"<b>{value:.4f}</b> ± {error:.4f} " + _("bits/dim")
    rows = [(_("Bound of x₀ alone"), figure(worth["unconditional"], bound["standard_error"])),
            (_("Bound given each image's class"), figure(worth["conditional"], given["standard_error"])),
            (_("The label is worth"), figure(worth["bits_per_dim"], worth["standard_error"]))]
    table = "".join(f"<tr><td>{name}</td><td>{value}</td></tr>" for name, value in rows)
    note = _("Paired: both bounds drew the same t and x_t, so the difference's standard error is small. For exact "
             "likelihoods it could not exceed log₂ K / D = log₂ {classes} / {dims} = {ceiling} bits/dim; each bound "
             "has its own gap, so here it may.").format(classes=classes, dims=f"{dims:,}",
                                                        ceiling=f"{worth['ceiling']:.4f}")
    return f"<table class='eval-given'>{table}</table><div class='eval-given-note'>{note}</div>"


def image_count(n: int) -> str:
    """'1 image', '16 images' in the current language."""
    return (_("{count} image") if n == 1 else _("{count} images")).format(count=f"{n:,}")


def png_data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _cell(x: torch.Tensor) -> str:
    return f"<img alt='' src='{png_data_url(image_grid(x[None], nrow=1, padding=0))}'>"


def decoding_html(steps: list[int], x_t: torch.Tensor, pred_x0: torch.Tensor, rmse: torch.Tensor,
                  samples: list[torch.Tensor | None], x0: torch.Tensor) -> str:
    """The Fig. 6 / Fig. 7 table: per t (columns) x_t, x̂_0 and the samples that share x_t (rows)."""
    head = "<tr><th></th>" + "".join(f"<th>t = {t:,}</th>" for t in steps) + "<th>x<sub>0</sub></th></tr>"
    rows = ["<tr><th class='row'>x<sub>t</sub></th>" + "".join(f"<td>{_cell(x)}</td>" for x in x_t)
            + f"<td rowspan='2'>{_cell(x0)}</td></tr>",
            "<tr><th class='row'>x̂<sub>0</sub>(x<sub>t</sub>)</th>"
            + "".join(f"<td>{_cell(x)}</td>" for x in pred_x0) + "</tr>",
            "<tr><th class='row'>RMSE (0–255)</th>" + "".join(f"<td>{float(r):.1f}</td>" for r in rmse) + "</tr>"]
    count = max((len(s) for s in samples if s is not None), default=0)
    for i in range(count):
        label = _("samples sharing x<sub>t</sub>") if i == 0 else ""
        rows.append(f"<tr><th class='row'>{label}</th>" + "".join(
            f"<td>{_cell(s[i]) if s is not None and i < len(s) else '…'}</td>" for s in samples) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


# ---- callbacks ----------------------------------------------------------------------------------------------

def folder_images(root, size: int, channels: int, classes: tuple[str, ...] | None, split: str, holdout: float):
    """(uint8 images, their labels among `classes` or None without, the data's summary) of a folder's split."""
    if classes is None:
        pixels, summary = folder_pixels(root, size, channels, split=split, holdout=holdout)
        return pixels, None, summary
    return folder_labelled_pixels(root, size, channels, classes, split=split, holdout=holdout)


def bound_job(evaluation: BoundEvaluation | Evaluations) -> Job:
    """The session's "evaluate" job: the terms one timestep column at a time, reporting how many are done."""
    def work(job: Job) -> BoundEvaluation | Evaluations:
        with torch.inference_mode():
            for done in evaluation:
                job.report(done, step=done)
                if job.stopping:
                    break
        return evaluation
    return Job("evaluate", work)


class EvaluateTab:
    def __init__(self, settings: deployment.Settings, catalogue: Catalogue):
        self.settings, self.catalogue = settings, catalogue
        self.max_images = 16 if settings.demo else 512

    @user_errors
    def choices(self, key, session):
        return checkpoint_view.picker(self.catalogue.entries(session), key, DEFAULT_CHECKPOINT)

    @user_errors
    def summary(self, key, session):
        """The checkpoint's card, and the σ² its makers measured with where it is known (an imported model)."""
        if not key:
            return _("No checkpoint chosen."), gr.skip()
        entry = self.catalogue.image_entry(key, session)
        markdown = checkpoint_view.summary_markdown(entry)
        if entry.summary.holdout:
            markdown += "\n\n" + _("{share} of its data was held out of training: evaluate on those images.").format(
                share=f"{entry.summary.holdout:.0%}")
        paper = entry.summary.paper
        return markdown, gr.Radio(value=paper.variance) if paper is not None else gr.skip()

    @user_errors
    def given_class_box(self, key, session):
        """"Also the bound given each image's class": offered for a conditional checkpoint only, and why not."""
        classes = self.catalogue.image_entry(key, session).summary.classes if key else None
        if not classes:
            return gr.Checkbox(value=False, interactive=False,
                               info=_("Not for this checkpoint: it was trained without class labels."))
        return gr.Checkbox(interactive=True, info=_(
            "Its {count} classes ({names}) from the images' folders: the bound of p(x₀ | c) on the same draws, "
            "and how many bits/dim the label is worth.").format(count=len(classes), names=", ".join(classes[:12])
                                                                + (", …" if len(classes) > 12 else "")))

    def _given_classes(self, entry: Entry, form: BoundForm) -> tuple[str, ...] | None:
        """The checkpoint's classes when the bound given the class is asked for (None when it is not)."""
        if not form.given_class:
            return None
        if not entry.summary.classes:
            raise ValueError(_("This checkpoint was trained without class labels: it has no bound given the class."))
        return entry.summary.classes

    def _own_data(self, entry: Entry) -> tuple[Path, str, float]:
        """The bundled checkpoint's data folder in assets/, and which split to use."""
        root = entry.summary.data
        folder = ASSETS / root
        if entry.source != "bundled" or not root or "/" in root or root.startswith(".") or not folder.is_dir():
            raise ValueError(_("Only the bundled checkpoints come with their own data here: upload images instead.")
                             if self.settings.demo else
                             _("Only the bundled checkpoints come with their own data here: upload images or "
                               "choose a folder instead."))
        holdout = entry.summary.holdout
        return folder, ("holdout" if holdout > 0 else "all"), holdout

    def _images(self, entry: Entry, form: ImagesForm, classes: tuple[str, ...] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None, str]:
        """uint8 images of the chosen source at the model's size, their labels among `classes` (from their class
        folders; None without `classes`), and a line saying what they are."""
        size, channels, holdout = entry.summary.image_size, entry.summary.channels, entry.summary.holdout
        if form.source == "own":
            root, own_split, holdout = self._own_data(entry)
            pixels, labels, _summary = folder_images(root, size, channels, classes, own_split, holdout)
            what = (_("held-out images it never saw in training") if own_split == "holdout" else
                    _("⚠ its training images: it was trained on all of them, so this is a training-set figure"))
            return pixels, labels, _("{images} from {folder}/: {what}").format(images=image_count(len(pixels)),
                                                                              folder=root.name, what=what)
        if form.source == "upload":
            if not form.files:
                raise ValueError(_("Upload one or more images first."))
            if classes is not None:
                raise ValueError(_("Uploaded images have no class: for the bound given the class, choose images in "
                                   "class folders (its own data or a folder), or untick it."))
            paths = [Path(f) for f in form.files][: self.settings.uploads.max_files]
            pixels, skipped = file_pixels(paths, size, channels)
            note = (_("; {count} skipped: {names}").format(count=f"{len(skipped):,}",
                                                         names=", ".join(name for name, _why in skipped[:5]))
                    if skipped else "")
            uploaded = _("{count} uploaded image") if len(pixels) == 1 else _("{count} uploaded images")
            return pixels, None, uploaded.format(count=f"{len(pixels):,}") + note
        if form.source == "folder" and not self.settings.demo:
            if not (form.folder or "").strip():
                raise ValueError(_("Type the path of a folder of images."))
            if form.split != "all" and holdout <= 0:
                raise ValueError(_("This checkpoint was trained without a held-out share: choose all images."))
            pixels, labels, summary = folder_images(form.folder.strip(), size, channels, classes, form.split, holdout)
            return pixels, labels, i18n.message(summary)
        raise ValueError(_("Choose where the images come from."))

    @user_errors
    def evaluate(self, images: ImagesForm, form: BoundForm, session: Session):
        """Compute the bound, redrawing the terms, the cumulative bits and the rate–distortion curve as it goes."""
        if session.busy("evaluate"):
            raise ValueError(_("An evaluation is still going in this tab: press Stop first."))
        n, seed = int(form.n or 0), int(form.seed or 0)
        if not 1 <= n <= self.max_images:
            raise ValueError(_("The number of images must be from 1 to {most}.").format(most=self.max_images))
        if form.variance not in ("beta", "beta_tilde") or form.timesteps not in ("all", "strata"):
            raise ValueError(_("Choose σ² = β or β̃, and every t or a stratified sample."))
        entry, checkpoint = self.catalogue.load(images.checkpoint, session)
        classes = self._given_classes(entry, form)
        pixels, labels, what = self._images(entry, images, classes)
        kept = pick_indices(len(pixels), n, seed)
        pixels = pixels[kept]
        options = dict(strata=int(form.strata) if form.timesteps == "strata" else None, variance=form.variance,
                       seed=seed)  # the same seed: both bounds draw the same t and x_t
        evaluation = Evaluations(start(checkpoint, pixels, **options),
                                 None if classes is None else start(checkpoint, pixels, labels=labels[kept], **options),
                                 classes or (), pixels[0].numel())
        check_run_cost(run_cost(entry, len(pixels), evaluation.columns), len(pixels), bool(form.long_ok))
        state = session.state(EvaluateState)
        state.bound, state.images, state.key, state.label_worth = None, pixels, images.checkpoint, None
        job = session.start("evaluate", bound_job(evaluation))
        what = _("{what}; evaluating {count}").format(what=what, count=f"{len(pixels):,}")
        if classes is not None:
            what += _(", with and without their classes")
        yield from self._stream(job, evaluation, session, checkpoint.diffusion.num_timesteps, what,
                                entry.summary.paper)

    def _figures(self, bound: Bound, T: int, title: str):
        return (plots.as_plot(plots.bound_terms_figure(bound, T, title)),
                plots.as_plot(plots.cumulative_bits_figure(bound, T)),
                plots.as_plot(plots.rate_distortion_figure(bound)))

    def _stream(self, job: Job, evaluation: Evaluations, session: Session, T: int, what: str, paper=None):
        shown = 0
        yield status_html(0, evaluation.columns, 0.0, None, what), gr.skip(), gr.skip(), gr.skip(), session
        for _reports in follow(job, POLL_S):
            done = evaluation.done
            if job.running and done and done != shown:
                shown = done
                latest = evaluation.latest()
                title = _("the terms so far") if latest is evaluation.bound else _("given the class: the terms so far")
                yield (status_html(done, evaluation.columns, job.elapsed, None, what),
                       *self._figures(latest.result(), T, title), session)
        seconds = job.elapsed
        if job.outcome.state is State.FAILED:
            message = describe(job.outcome.error)
            yield (status_html(evaluation.done, evaluation.columns, seconds, None, "❌ " + message),
                   gr.skip(), gr.skip(), gr.skip(), session)
            raise error(message)
        if evaluation.done == 0:
            yield status_html(0, evaluation.columns, seconds, None, _("⏹ Stopped before the first term.")), \
                gr.skip(), gr.skip(), gr.skip(), session
            return
        yield self._outcome(evaluation, session, T, seconds, what, paper)

    def _outcome(self, evaluation: Evaluations, session: Session, T: int, seconds: float, what: str, paper) -> tuple:
        """The last update: the bound (and given the class, what the label is worth), or how far it got."""
        state = session.state(EvaluateState)
        bound, part, given = evaluation.bound.result(), evaluation.bound, ""
        state.bound = bound
        summary = summarize(bound, T)
        if part.done < part.columns:
            note = _("⏹ Stopped after {done} of {total} terms: the total covers L_T and the terms from T down to "
                     "there only.").format(done=f"{part.done:,}", total=f"{part.columns:,}")
        elif not evaluation.complete:
            note = _("⏹ Stopped after {done} of the {total} terms of the bound given the class: only the bound "
                     "without it is complete.").format(done=f"{evaluation.given.done:,}",
                                                       total=f"{evaluation.given.columns:,}")
        else:
            note = _("✅ Done in {seconds} s ({what}).").format(seconds=f"{seconds:.1f}", what=what)
            if evaluation.given is not None:
                worth = state.label_worth = evaluation.label_worth()
                given = given_class_html(summary, summarize(evaluation.given.result(), T), worth,
                                         len(evaluation.classes), evaluation.dims)
        if paper is not None and paper.nll_test is not None:
            note += " " + _("Ho et al. 2020 report ≤ {test} bits/dim on the whole {data} test set ({train} on its "
                            "training set) with σ² = {sigma}.").format(
                test=paper.nll_test, train=paper.nll_train, data=paper.title,
                sigma="β" if paper.variance == "beta" else "β̃")
        return (status_html(evaluation.done, evaluation.columns, seconds, summary, note, given),
                *self._figures(bound, T, _("{bits} bits/dim in all").format(bits=f"{summary['bits_per_dim']:.3f}")),
                session)

    def stop(self, session: Session | None) -> None:
        if session is not None:
            session.stop("evaluate")
            session.stop("decode")

    @user_errors
    def decode(self, images: ImagesForm, form: DecodeForm, session: Session):
        """Fig. 6 and 7 for one image: x_t at each t, the network's x̂_0, and samples of p_θ(x_0 | x_t)."""
        if session.busy("decode"):
            raise ValueError(_("An evaluation is still going in this tab: press Stop first."))
        entry, checkpoint = self.catalogue.load(images.checkpoint, session)
        state = session.state(EvaluateState)
        if state.images is not None and state.key == images.checkpoint:
            pixels = state.images
        else:
            pixels, _labels, _what = self._images(entry, images)
        index = int(form.index or 1)
        if not 1 <= index <= len(pixels):
            raise ValueError(_("Choose an image from 1 to {count}.").format(count=len(pixels)))
        steps = check_steps(checkpoint.diffusion, [index_of(t) for t in parse_steps(form.steps)])
        samples, seed = int(form.samples or 0), int(form.seed or 0)
        if not 0 <= samples <= 8:
            raise ValueError(_("Choose 0 to 8 samples per t."))
        job = session.start("decode", decoding_job(checkpoint, from_uint8(pixels[index - 1: index]), steps, samples,
                                                   None if form.chain_steps == "all" else int(form.chain_steps), seed))
        for reports in follow(job, POLL_S):
            if reports:
                yield decoding_view(reports[-1], steps)
        if job.outcome.state is State.FAILED:
            raise error(describe(job.outcome.error))


def decoding_job(checkpoint: Checkpoint, x0: torch.Tensor, steps: list[int], samples: int, chain_steps: int | None,
                 seed: int) -> Job:
    """The session's "decode" job: x_t and x̂_0 at each index in `steps`, then `samples` draws of p_θ(x_0 | x_t)
    per t, reporting (predictions, drawn so far) after each."""
    def work(job: Job):
        device = pick_device("auto")
        model, diffusion = checkpoint.model.to(device).eval(), checkpoint.diffusion.to(device)
        generator = torch.Generator(device).manual_seed(seed)
        x0_device = x0.to(device)
        pred = predictions(model, diffusion, x0_device, steps, prediction=checkpoint.prediction, generator=generator)
        drawn: list[torch.Tensor | None] = [None] * len(steps)
        job.report((pred, list(drawn), x0), step=0)
        for i, t in enumerate(steps):
            if samples == 0 or job.stopping:
                break
            result = shared_samples(model, diffusion, pred.x_t[i, 0], t, samples, steps=chain_steps,
                                    prediction=checkpoint.prediction, generator=generator,
                                    should_stop=lambda: job.stopping)
            if result is None:
                break
            drawn[i] = result.cpu()
            job.report((pred, list(drawn), x0), step=i + 1)
    return Job("decode", work)


def decoding_view(report, steps: list[int]) -> str:
    pred, drawn, x0 = report
    return decoding_html([paper_t(t) for t in steps], pred.x_t[:, 0].cpu(), pred.pred_x0[:, 0].cpu(), pred.rmse[:, 0],
                         drawn, x0[0])


def parse_steps(text) -> list[int]:
    """'1000, 500, 10' → [1000, 500, 10]; ValueError naming what is not a whole number."""
    steps = []
    for part in str(text or "").replace(";", ",").split(","):
        part = part.strip().replace("_", "")
        if not part:
            continue
        if not part.isdigit():
            raise ValueError(_("'{part}' is not a step: list whole numbers from 1 to T, separated by commas.")
                             .format(part=part))
        steps.append(int(part))
    if not steps:
        raise ValueError(_("List the steps t to decode from, separated by commas (e.g. 1000, 500, 100, 10)."))
    if len(steps) > 12:
        raise ValueError(_("At most 12 steps t at once."))
    return steps


# ---- layout ------------------------------------------------------------------------------------------------

def build(demo: gr.Blocks, session: gr.State, catalogue: Catalogue, tab_item: gr.Tab) -> EvaluateTab:
    """Lay out the Evaluate tab inside `demo`; `session` is the page's shared Session."""
    settings = catalogue.settings
    tab = EvaluateTab(settings, catalogue)
    gr.Markdown(i18n.bilingual(INTRO, INTRO_KO), latex_delimiters=LATEX, elem_id="eval-intro",
                elem_classes="tab-intro")
    sources = [("Its own held-out data (bundled model)", "own"), ("Upload images", "upload")]
    if not settings.demo:
        sources.append(("A folder on this computer", "folder"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row(equal_height=True):
                checkpoint = gr.Dropdown([], value=DEFAULT_CHECKPOINT, label=L("Checkpoint"), allow_custom_value=True,
                                         scale=5, elem_id="eval-checkpoint")
                refresh_btn = gr.Button("⟳", size="sm", scale=0, min_width=44, elem_id="eval-refresh")
            summary = gr.Markdown(elem_id="eval-summary")
            source = gr.Radio(sources, value="own", label=L("Images"), elem_id="eval-source")
            files = gr.File(label=L("Images to evaluate"), file_count="multiple", file_types=list(IMAGE_EXTENSIONS),
                            height=120, visible=False, elem_id="eval-files")
            with gr.Row(visible=False) as folder_row:
                folder = gr.Textbox("assets/digits", label=L("Folder"), scale=3, elem_id="eval-folder")
                split = gr.Dropdown([("all images", "all"), ("its held-out share", "holdout"),
                                     ("its training share", "train")], value="all", label=L("Which"), scale=2,
                                    elem_id="eval-split")
            with gr.Row():
                n = gr.Slider(1, tab.max_images, value=min(16, tab.max_images), step=1, label=L("Images"),
                              elem_id="eval-n")
                seed = gr.Number(0, label=L("Seed"), precision=0, minimum=0, elem_id="eval-seed")
            timesteps = gr.Radio([("Every t (exact)", "all"), ("Two t per stratum (faster)", "strata")], value="all",
                                 label=L("Terms"), elem_id="eval-timesteps")
            strata = gr.Slider(2, 250, value=50, step=1, label=L("Strata"), visible=False, elem_id="eval-strata")
            variance = gr.Radio([("σₜ² = βₜ (paper)", "beta"), ("σₜ² = β̃ₜ", "beta_tilde")], value="beta",
                                label=L("Reverse variance of p_θ"), elem_id="eval-variance")
            given_class = gr.Checkbox(False, label=L("Also the bound given each image's class"), interactive=False,
                                      info=L("Not for this checkpoint: it was trained without class labels."),
                                      elem_id="eval-given-class")
            long_ok = gr.Checkbox(False, label=L("Allow long runs"), elem_id="eval-long",
                                  info=L("A run estimated at over a minute here waits for this."))
            with gr.Row(elem_classes="tab-actions"):
                run_btn = gr.Button(L("Evaluate"), variant="primary", elem_id="eval-run")
                stop_btn = gr.Button(L("Stop"), elem_id="eval-stop")
        with gr.Column(scale=3, min_width=420):
            status = gr.HTML(START_HTML, elem_id="eval-status")
            terms_plot = gr.Plot(show_label=False, elem_id="eval-terms")
            with gr.Row():
                cumulative_plot = gr.Plot(show_label=False, elem_id="eval-cumulative")
                rd_plot = gr.Plot(show_label=False, elem_id="eval-rd")
    with gr.Accordion(L("Progressive decoding: what x_t still holds (DDPM Figs. 6 and 7)"), open=True,
                      elem_id="eval-decoding"):
        gr.Markdown(i18n.bilingual(DECODING, DECODING_KO), latex_delimiters=LATEX, elem_id="eval-decoding-intro")
        with gr.Row():
            index = gr.Number(1, label=L("Image #"), precision=0, minimum=1, elem_id="eval-index")
            steps_text = gr.Textbox(DEFAULT_STEPS, label=L("Steps t"), scale=3, elem_id="eval-steps")
            samples = gr.Slider(0, 8, value=4, step=1, label=L("Samples per t"), elem_id="eval-samples")
            chain_steps = gr.Dropdown([("all of them", "all"), ("at most 100 (respaced)", "100")], value="100",
                                      label=L("Reverse steps from t"), scale=2, min_width=280, elem_id="eval-chain")
            decode_btn = gr.Button(L("Decode"), variant="primary", elem_id="eval-decode-run")
        decoded = gr.HTML(elem_id="eval-decode")
    code_panels.build("vlb", "p_theta", "posterior")

    choices = dict(fn=tab.choices, inputs=[checkpoint, session], outputs=checkpoint, api_visibility="private",
                   show_progress="hidden")
    describe_choice = dict(fn=tab.summary, inputs=[checkpoint, session], outputs=[summary, variance],
                           api_visibility="private", show_progress="hidden")
    class_box = dict(fn=tab.given_class_box, inputs=[checkpoint, session], outputs=given_class,
                     api_visibility="private", show_progress="hidden")
    demo.load(**choices).then(**describe_choice).then(**class_box)
    tab_item.select(**choices)
    refresh_btn.click(**choices)
    checkpoint.change(**describe_choice).then(**class_box)
    source.change(lambda s: (gr.File(visible=s == "upload"), gr.Row(visible=s == "folder")), source,
                  [files, folder_row], api_visibility="private", show_progress="hidden", queue=False)
    timesteps.change(lambda s: gr.Slider(visible=s == "strata"), timesteps, strata, api_visibility="private",
                     show_progress="hidden", queue=False)
    images = Form(ImagesForm, checkpoint=checkpoint, source=source, files=files, folder=folder, split=split)
    bound = Form(BoundForm, n=n, timesteps=timesteps, strata=strata, variance=variance, seed=seed, long_ok=long_ok,
                 given_class=given_class)
    decoding = Form(DecodeForm, index=index, steps=steps_text, samples=samples, chain_steps=chain_steps, seed=seed)
    run_btn.click(**forms.event(tab.evaluate, images, bound, session),
                  outputs=[status, terms_plot, cumulative_plot, rd_plot, session], api_name="evaluate",
                  concurrency_id="evaluate", concurrency_limit=settings.max_concurrent_runs, show_progress="hidden")
    stop_btn.click(tab.stop, session, None, api_name="evaluate_stop", show_progress="hidden", queue=False)
    decode_btn.click(**forms.event(tab.decode, images, decoding, session), outputs=decoded,
                     api_name="evaluate_decode", concurrency_id="evaluate", show_progress="minimal")
    return tab
