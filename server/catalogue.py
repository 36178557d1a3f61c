"""The checkpoint catalogue: where checkpoints come from, their keys, and a typed summary of each.

Sources, each with its own key prefix (a page only ever sends a key; the catalogue resolves it to a file
this session may read, every time):

    bundled:NAME   checkpoints/NAME, shipped with the app
    run:NAME       a training run's `NAME/model.safetensors`: runs/ locally, the session's own folder in demo mode
    upload:N       a checkpoint this session uploaded (kept in its folder)
    import:NAME    a model imported from a diffusers folder on this computer (ddpm_core.convert): imported/NAME
                   locally; a public server takes uploads of converted files instead

A new source is one more entry in `Catalogue.entries` and one more branch in `Catalogue.resolve`.
`CheckpointSummary` is what a view may know of a checkpoint, read from its header alone (no weights).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ddpm_core.checkpoints import CheckpointError, Checkpoint, config_from_dict, load_checkpoint, read_config
from ddpm_core.convert import CONFIRM_ABOVE_S, CostEstimate, check_cost, convert, forward_seconds
from ddpm_core.errors import UserError
from ddpm_core.paper import figures_for
from ddpm_core.train import CHECKPOINT_NAME
from ddpm_core.unet import UNet, UNetConfig, count_parameters
from server import settings as deployment
from server.sessions import Session

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DIR = ROOT / "checkpoints"
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SOURCES = ("bundled", "run", "upload", "import")


@functools.lru_cache(maxsize=64)
def _unet_parameters(model_json: str) -> int:
    with torch.device("meta"):  # counted without allocating: a header may describe any size of network
        return count_parameters(UNet(config_from_dict(UNetConfig, json.loads(model_json), "model")))


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class CheckpointSummary:
    """What a checkpoint's header says: the data it learnt, the network, the process, how far it trained."""

    architecture: str  # "unet" (images) or "mlp" (2-D points)
    data: str  # the data set's folder or name
    num_images: int | None
    num_held_out: int | None
    holdout: float  # the share of the folder held out of training (0: none)
    image_size: int | None
    channels: int | None
    preset: str | None
    parameters: int | None
    step: int
    timesteps: int
    schedule: str
    prediction: str
    classes: tuple[str, ...] | None = None  # class names of a conditional model
    p_uncond: float | None = None  # its label dropout: the share of labels trained as the null class ∅
    imported_from: str | None = None  # the folder an imported model was converted from
    paper_dataset: str | None = None  # the paper's data set it is (a key of ddpm_core.paper.PAPER_FIGURES)
    variance: str | None = None  # the σ² its makers sampled with, where the checkpoint says

    @property
    def paper(self):
        """The paper's figures for this checkpoint's data set (ddpm_core.paper.PaperFigures), or None."""
        return figures_for(self.paper_dataset)

    @property
    def is_image_model(self) -> bool:
        return self.architecture == "unet"

    @classmethod
    def from_config(cls, config: dict) -> "CheckpointSummary":
        """The summary of a header's configuration (`checkpoints.read_config`); CheckpointError if it is not one."""
        architecture = config.get("architecture")
        if architecture not in ("unet", "mlp"):
            raise CheckpointError("catalogue.unknown_architecture",
                                  "unknown architecture {name!r}; this app knows mlp and unet", name=architecture)
        model, training = config.get("model") or {}, config.get("training") or {}
        dataset, diffusion = config.get("dataset") or {}, config.get("diffusion") or {}
        parameters = _unet_parameters(json.dumps(model, sort_keys=True)) if architecture == "unet" else None
        holdout = training.get("holdout", 0.0)
        classes = dataset.get("classes")
        source, sampling = config.get("source") or {}, config.get("sampling") or {}
        data = dataset.get("root") or dataset.get("title") or dataset.get("name") or ""
        return cls(architecture=architecture, data=str(data),
                   num_images=_int(dataset.get("num_images")), num_held_out=_int(dataset.get("num_held_out")),
                   holdout=float(holdout) if isinstance(holdout, (int, float)) else 0.0,
                   image_size=_int(model.get("image_size")), channels=_int(model.get("channels")),
                   preset=training.get("preset") if isinstance(training.get("preset"), str) else None,
                   parameters=parameters, step=_int(config.get("step")) or 0,
                   timesteps=_int(diffusion.get("timesteps")) or 1000,
                   schedule=str(diffusion.get("schedule", "linear")), prediction=str(config.get("prediction", "eps")),
                   classes=tuple(str(c) for c in classes) if isinstance(classes, list) else None,
                   p_uncond=float(training["p_uncond"]) if isinstance(classes, list) and isinstance(
                       training.get("p_uncond"), (int, float)) else None,
                   imported_from=str(source.get("folder") or source.get("name") or "") or None if source else None,
                   paper_dataset=dataset.get("name") if isinstance(dataset.get("name"), str) and source else None,
                   variance=sampling.get("variance") if sampling.get("variance") in ("beta", "beta_tilde") else None)


def summarize(path: Path) -> CheckpointSummary:
    """The summary of the checkpoint at `path` (its header only); CheckpointError if it is not one of ours."""
    return CheckpointSummary.from_config(read_config(path))


@dataclass(frozen=True)
class Entry:
    """One checkpoint a session may use: its key, source, name (a run's or file's), file and summary."""

    key: str
    source: str
    name: str
    path: Path
    summary: CheckpointSummary


@dataclass
class Uploads:
    """The checkpoints a session uploaded: key → (its copy in the session's folder, the name it came with)."""

    files: dict[str, tuple[Path, str]] = field(default_factory=dict)


class Catalogue:
    """Every checkpoint a session may read, by key (see the module)."""

    def __init__(self, settings: deployment.Settings, bundled_dir: Path = BUNDLED_DIR):
        self.settings, self.bundled_dir = settings, bundled_dir

    # ---- where runs live ----------------------------------------------------------------------------

    def runs_root(self, session: Session | None) -> Path | None:
        """Where a session's training runs live: runs/ locally, the session's own folder in demo mode."""
        if not self.settings.demo:
            return deployment.runs_dir()
        return session.folder / "runs" if session is not None else None

    def run_folder(self, session: Session, name) -> tuple[str, Path]:
        """A checked run name and its folder; UserError for a name that could escape the runs folder."""
        name = name.strip() if isinstance(name, str) else ""
        if not RUN_NAME.match(name):
            raise UserError("run.bad_name", "A run name is 1–64 letters, digits, '.', '_' or '-', starting with a "
                            "letter or digit; got {name!r}.", name=name)
        return name, self.runs_root(session) / name

    # ---- listing ------------------------------------------------------------------------------------

    def bundled(self) -> list[Entry]:
        paths = sorted(p for p in self.bundled_dir.glob("*.safetensors") if not p.name.endswith(".state.safetensors"))
        return [entry for p in paths if (entry := _entry(f"bundled:{p.name}", "bundled", p.stem, p)) is not None]

    def runs(self, session: Session | None) -> list[Entry]:
        """The session's training runs with a readable checkpoint, newest first (damaged files are left out)."""
        root = self.runs_root(session)
        if root is None or not root.is_dir():
            return []
        paths = sorted(root.glob(f"*/{CHECKPOINT_NAME}"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [entry for p in paths
                if (entry := _entry(f"run:{p.parent.name}", "run", p.parent.name, p)) is not None]

    def uploads(self, session: Session | None) -> list[Entry]:
        if session is None:
            return []
        found = [_entry(key, "upload", name, path) for key, (path, name) in session.state(Uploads).files.items()]
        return [entry for entry in found if entry is not None]

    def imports_root(self, session: Session | None) -> Path | None:
        """Where imported models live: imported/ locally, the session's own folder in demo mode."""
        if not self.settings.demo:
            return deployment.imports_dir()
        return session.folder / "imported" if session is not None else None

    def imports(self, session: Session | None) -> list[Entry]:
        root = self.imports_root(session)
        if root is None or not root.is_dir():
            return []
        paths = sorted(root.glob("*.safetensors"))
        return [entry for p in paths if (entry := _entry(f"import:{p.stem}", "import", p.stem, p)) is not None]

    def add_import(self, folder, session: Session | None, allow_bin: bool = False) -> Entry:
        """Convert the diffusers UNet2DModel in `folder` (ddpm_core.convert) into an imported checkpoint, list it.

        Only where the app runs locally: a public server takes no path from a page."""
        if self.settings.demo:
            raise UserError("import.demo", "This server takes no folder path: convert the model with "
                            "`python -m ddpm_core.convert` and upload the .safetensors file it writes.")
        source = Path(str(folder or "").strip()).expanduser()
        if not str(folder or "").strip():
            raise UserError("import.no_folder", "Type the path of a diffusers model folder (the one with config.json).")
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", source.resolve().name).strip("-.")[:64] or "model"
        converted = convert(source, self.imports_root(session) / f"{name}.safetensors", allow_bin=allow_bin)
        return self.resolve(f"import:{converted.path.stem}", session)

    def entries(self, session: Session | None, images_only: bool = True) -> list[Entry]:
        """Every checkpoint this session may use: bundled, its runs, its uploads and the imported (image models
        only by default)."""
        found = [*self.bundled(), *self.runs(session), *self.uploads(session), *self.imports(session)]
        return [e for e in found if e.summary.is_image_model or not images_only]

    # ---- resolving ----------------------------------------------------------------------------------

    def resolve(self, key, session: Session | None) -> Entry:
        """The entry behind `key`, if this session may read it; UserError otherwise."""
        kind, _colon, name = key.partition(":") if isinstance(key, str) else ("", "", "")
        found = None
        if kind == "bundled":
            found = next((e for e in self.bundled() if e.key == key), None)
        elif kind == "run" and RUN_NAME.match(name):
            found = next((e for e in self.runs(session) if e.key == key), None)
        elif kind == "upload":
            found = next((e for e in self.uploads(session) if e.key == key), None)
        elif kind == "import" and RUN_NAME.match(name):
            found = next((e for e in self.imports(session) if e.key == key), None)
        if found is None:
            raise UserError("catalogue.unavailable",
                            "Choose a checkpoint from the list (or upload one): that one is not available.")
        return found

    def image_entry(self, key, session: Session | None) -> Entry:
        """`resolve`, refusing a 2-D lab model."""
        entry = self.resolve(key, session)
        if not entry.summary.is_image_model:
            raise CheckpointError("checkpoint.not_images", "'{name}' holds a 2-D model, not an image model; sample "
                                  "it in the 2-D lab", name=entry.path.name)
        return entry

    def load(self, key, session: Session | None, device="cpu") -> tuple[Entry, Checkpoint]:
        """The entry and its loaded checkpoint (an image model)."""
        entry = self.image_entry(key, session)
        return entry, load_checkpoint(entry.path, device)

    def add_upload(self, file, session: Session) -> Entry:
        """Check an uploaded checkpoint fully (weights too), keep a copy in the session's folder, list it."""
        source = Path(file)
        limit = deployment.max_file_bytes()
        if source.stat().st_size > limit:
            raise UserError("upload.checkpoint_too_large", "'{name}' is larger than {mb:,} MB, the most this app "
                            "accepts", name=source.name, mb=limit // 2**20)
        try:
            load_checkpoint(source)  # checks the header's every value and the weights' shapes
            summary = summarize(source)
        except CheckpointError as exc:
            raise UserError("upload.checkpoint_unusable", "That file cannot be sampled: {reason}",
                            reason=exc.message) from None
        if not summary.is_image_model:
            raise UserError("upload.checkpoint_unusable", "That file cannot be sampled: {reason}",
                            reason=CheckpointError("checkpoint.not_images", "'{name}' holds a 2-D model, not an image "
                                                   "model; sample it in the 2-D lab", name=source.name).message)
        uploads = session.state(Uploads)
        number = len(uploads.files) + 1
        target = session.subfolder("checkpoints") / f"{number}-{uuid.uuid4().hex[:8]}.safetensors"
        shutil.copyfile(source, target)
        key = f"upload:{number}"
        uploads.files[key] = (target, source.name)
        return Entry(key, "upload", source.name, target, summary)


@functools.lru_cache(maxsize=32)
def _forward_s(path: str, mtime: float, device: str, batch: int) -> float:
    return forward_seconds(load_checkpoint(path, device), batch)


def run_cost(entry: Entry, images: int, evaluations: int, device: str = "cpu", batch: int = 16) -> CostEstimate:
    """What `images` images of `evaluations` network evaluations each cost with this checkpoint on `device`: a
    forward pass of `batch` images, measured once per file and device (a median of three), scaled."""
    batch = max(1, min(batch, images))
    return CostEstimate(_forward_s(str(entry.path), entry.path.stat().st_mtime, device, batch), batch,
                        images * evaluations)


def check_run_cost(cost: CostEstimate, images: int, allowed: bool) -> None:
    """UserError for a run that would take longer than a day here (whatever the user says), or longer than a
    minute without the user's go-ahead ("Allow long runs")."""
    check_cost(cost, images)
    if cost.seconds > CONFIRM_ABOVE_S and not allowed:
        raise UserError("run.long", "This would take about {minutes:,.1f} minutes here (a forward pass measured "
                        "on this machine, times the network evaluations). Choose fewer images or steps, or tick "
                        "\"Allow long runs\" to start it anyway.", minutes=cost.seconds / 60)


def _entry(key: str, source: str, name: str, path: Path) -> Entry | None:
    """An entry for a file whose header reads as one of our checkpoints, else None (not listed)."""
    try:
        return Entry(key, source, name, path, summarize(path))
    except (CheckpointError, OSError, ValueError, TypeError):
        return None

