"""Import a diffusers `UNet2DModel` (Ho et al.'s released DDPM models) as a checkpoint, and what running it costs.

    python -m ddpm_core.convert ddpm-cifar10-32/ --out checkpoints/ddpm-cifar10-32.safetensors

Ho et al. released their trained CIFAR-10, CelebA-HQ and LSUN models; they circulate as diffusers folders
(`config.json` for a `UNet2DModel`, `diffusion_pytorch_model.safetensors`, and a scheduler config). The
source may be that folder, a pipeline folder holding it in `unet/`, or the weights file itself. Nothing
is downloaded: the user brings the files. A `.bin` (a pickle) is read only with `allow_bin`, and only through
`torch.load(weights_only=True)`.

The U-Net of `ddpm_core.unet` takes the layout of these nets exactly (its layout fields: GroupNorm groups
and ε, the timestep features' frequency shift, TensorFlow's downsample padding), so the weights map one to
one onto it, renamed and, for attention, reshaped: to_q/to_k/to_v (or the older exports' query/key/value)
become one 1×1 conv `qkv`, to_out.0 (proj_attn) the 1×1 conv `proj`. The imported checkpoint stores its one
set of weights once and records the whole diffusers config, the files' sha256 and the data set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pickle
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ddpm_core.checkpoints import Checkpoint, CheckpointError, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.errors import UserError, reason_of
from ddpm_core.paper import PAPER_FIGURES, figures_for, guess_dataset
from ddpm_core.unet import UNet, UNetConfig, count_parameters

CONFIG_NAME = "config.json"
WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
SCHEDULER_NAME = "scheduler_config.json"
MAX_JSON_BYTES = 1_000_000  # a config is a few kB

# UNet2DModel.__init__'s defaults (diffusers 0.42; tests/test_convert.py checks them against the installed
# diffusers): a config.json lists only what its diffusers version knew, the rest takes these.
DIFFUSERS_DEFAULTS = {
    "sample_size": None, "in_channels": 3, "out_channels": 3, "center_input_sample": False,
    "time_embedding_type": "positional", "time_embedding_dim": None, "freq_shift": 0, "flip_sin_to_cos": True,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
    "mid_block_type": "UNetMidBlock2D",
    "up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [224, 448, 672, 896], "layers_per_block": 2, "mid_block_scale_factor": 1,
    "downsample_padding": 1, "downsample_type": "conv", "upsample_type": "conv", "dropout": 0.0, "act_fn": "silu",
    "attention_head_dim": 8, "norm_num_groups": 32, "attn_norm_num_groups": None, "norm_eps": 1e-5,
    "resnet_time_scale_shift": "default", "add_attention": True, "class_embed_type": None, "num_class_embeds": None,
    "num_train_timesteps": None,
}
# Settings whose other values compute something this U-Net does not (a scale-shift time injection, a
# learned or Fourier time embedding, class labels, ...): the allowed values.
FIXED_SETTINGS = {
    "center_input_sample": (False,), "time_embedding_type": ("positional",), "act_fn": ("silu", "swish"),
    "resnet_time_scale_shift": ("default",), "mid_block_type": ("UNetMidBlock2D",), "mid_block_scale_factor": (1,),
    "downsample_type": ("conv",), "upsample_type": ("conv",), "add_attention": (True,), "class_embed_type": (None,),
    "num_class_embeds": (None,), "freq_shift": (0, 1), "downsample_padding": (0, 1), "flip_sin_to_cos": (False, True),
}
DOWN_BLOCKS = {"DownBlock2D": False, "AttnDownBlock2D": True}  # block type → has attention
UP_BLOCKS = {"UpBlock2D": False, "AttnUpBlock2D": True}
# diffusers' beta_schedule → this app's schedule; variance_type → σ_t² of p_θ; prediction_type → prediction.
SCHEDULES = {"linear": "linear", "scaled_linear": "quadratic", "squaredcos_cap_v2": "cosine", "sigmoid": "sigmoid"}
VARIANCES = {"fixed_small": "beta_tilde", "fixed_small_log": "beta_tilde", "fixed_large": "beta",
             "fixed_large_log": "beta"}
PREDICTIONS = {"epsilon": "eps", "sample": "x0", "v_prediction": "v"}
LEGACY_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


# ---- finding and reading the files -------------------------------------------------------------------

@dataclass(frozen=True)
class DiffusersFiles:
    """Where a diffusers UNet2DModel's files are: its folder, config, weights and (if any) scheduler config."""

    root: Path  # what the user chose (a folder), or the weights file's folder
    config: Path
    weights: Path
    scheduler: Path | None

    def names(self) -> list[str]:
        """Folder names that may say which data set this is: the chosen folder's, the model folder's, and a
        pipeline's around its unet/ folder."""
        model = self.config.parent
        return list(dict.fromkeys([self.root.name, model.name, *([model.parent.name] if model.name == "unet" else [])]))


def locate(source, allow_bin: bool = False) -> DiffusersFiles:
    """The files of the diffusers UNet2DModel at `source`: a model folder, a pipeline folder with `unet/`,
    or a weights file. Raises CheckpointError saying what is missing."""
    source = Path(source)
    if not source.exists():
        raise CheckpointError("convert.missing", "'{path}' does not exist", path=str(source))
    weights = source if source.is_file() else None
    folder = source.parent if source.is_file() else source
    if weights is not None and not weights.name.endswith((".safetensors", ".bin")):
        raise CheckpointError("convert.not_weights", "'{name}' is neither a folder nor a .safetensors or .bin "
                              "weights file", name=source.name)
    if not (folder / CONFIG_NAME).is_file() and (folder / "unet" / CONFIG_NAME).is_file():
        folder = folder / "unet"  # a pipeline folder: model_index.json, unet/, scheduler/
    if not (folder / CONFIG_NAME).is_file():
        raise CheckpointError("convert.no_config", "'{folder}' has no config.json: choose the folder of a diffusers "
                              "UNet2DModel (config.json and diffusion_pytorch_model.safetensors), or the pipeline "
                              "folder that holds it in unet/", folder=folder.name)
    weights = weights or _weights_in(folder)
    if weights.suffix == ".bin" and not allow_bin:
        raise CheckpointError("convert.bin_needs_flag", "'{name}' is a PyTorch pickle file. It is read only when you "
                              "allow it (--allow-bin), and then only as plain tensors (torch.load with "
                              "weights_only=True); a .safetensors file needs no permission", name=weights.name)
    return DiffusersFiles(source if source.is_dir() else folder, folder / CONFIG_NAME, weights, _scheduler_near(folder))


def _weights_in(folder: Path) -> Path:
    for name in WEIGHT_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError("convert.no_weights", "'{folder}' has a config.json but no weights: expected "
                          "diffusion_pytorch_model.safetensors (or .bin)", folder=folder.name)


def _scheduler_near(folder: Path) -> Path | None:
    """scheduler_config.json beside the model, in scheduler/ beside it, or in the pipeline's scheduler/."""
    candidates = [folder / SCHEDULER_NAME, folder / "scheduler" / SCHEDULER_NAME]
    if folder.name == "unet":
        candidates += [folder.parent / "scheduler" / SCHEDULER_NAME, folder.parent / SCHEDULER_NAME]
    return next((path for path in candidates if path.is_file()), None)


def read_json(path: Path) -> dict:
    """A JSON object from a small file, or CheckpointError."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise CheckpointError("convert.json_too_large", "'{name}' is over {limit:,} bytes; a config is a few kB",
                                  name=path.name, limit=MAX_JSON_BYTES)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError("convert.bad_json", "'{name}' is not readable JSON ({kind})", name=path.name,
                              kind=type(exc).__name__) from exc
    if not isinstance(data, dict):
        raise CheckpointError("convert.bad_json", "'{name}' is not readable JSON ({kind})", name=path.name,
                              kind="not an object")
    return data


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file, or of a .bin through torch.load(weights_only=True) (no code runs)."""
    try:
        if path.suffix == ".safetensors":
            tensors = load_file(str(path))
        else:
            tensors = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise CheckpointError("convert.unreadable_weights", "'{name}' could not be read: it is damaged, truncated "
                              "or not a weights file ({kind})", name=path.name, kind=type(exc).__name__) from exc
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise CheckpointError("convert.unreadable_weights", "'{name}' could not be read: it is damaged, truncated "
                              "or not a weights file ({kind})", name=path.name, kind="not a dict of tensors")
    return tensors


# ---- the network's layout --------------------------------------------------------------------------

def unet_config_from_diffusers(config: dict, name: str = CONFIG_NAME) -> UNetConfig:
    """This app's UNetConfig for a diffusers UNet2DModel config.json, or CheckpointError saying what differs."""
    if config.get("_class_name") != "UNet2DModel":
        raise CheckpointError("convert.not_unet2d", "'{name}' describes a {found}, not a UNet2DModel; this app "
                              "imports the pixel-space U-Nets of Ho et al.'s DDPM releases (UNet2DModel)",
                              name=name, found=str(config.get("_class_name") or "(no _class_name)"))
    c = {**DIFFUSERS_DEFAULTS, **config}
    unsupported = _unsupported_layout(c)
    if unsupported:
        raise CheckpointError("convert.unsupported_layout", "'{name}' describes a UNet2DModel with {settings}, which "
                              "this app's U-Net does not reproduce; it imports the layout of Ho et al.'s DDPM "
                              "releases and UNet2DModels like them", name=name, settings=", ".join(unsupported))
    widths, down, size = list(c["block_out_channels"]), list(c["down_block_types"]), _square(c["sample_size"])
    try:
        return UNetConfig(
            image_size=size, channels=c["in_channels"], base_channels=widths[0],
            channel_mults=tuple(w // widths[0] for w in widths), blocks_per_level=c["layers_per_block"],
            attention_resolutions=tuple(size // 2**i for i, t in enumerate(down) if DOWN_BLOCKS[t]),
            dropout=float(c["dropout"]), num_heads=1, attention_head_dim=c["attention_head_dim"] or 0,
            norm_num_groups=c["norm_num_groups"], norm_eps=float(c["norm_eps"]), time_freq_shift=int(c["freq_shift"]),
            time_flip_sin_to_cos=bool(c["flip_sin_to_cos"]), downsample_padding=int(c["downsample_padding"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointError("convert.invalid_layout", "'{name}' describes a U-Net this app cannot build: {reason}",
                              name=name, reason=reason_of(exc)) from exc


def _unsupported_layout(c: dict) -> list[str]:
    """The settings of a UNet2DModel config (defaults filled in) that this U-Net cannot reproduce, as key=value."""
    unsupported = [f"{key}={c[key]!r}" for key, allowed in FIXED_SETTINGS.items() if c[key] not in allowed]
    widths, down, up = (list(c[k]) if isinstance(c[k], (list, tuple)) else []
                        for k in ("block_out_channels", "down_block_types", "up_block_types"))
    if not widths or any(not isinstance(w, int) or w < 1 or w % widths[0] for w in widths):
        unsupported.append(f"block_out_channels={widths} (each must be a multiple of the first)")
    known = all(t in DOWN_BLOCKS for t in down) and all(t in UP_BLOCKS for t in up)
    if not known or not len(widths) == len(down) == len(up):
        unsupported.append(f"down_block_types={down}, up_block_types={up}")
    elif [DOWN_BLOCKS[t] for t in down] != [UP_BLOCKS[t] for t in reversed(up)]:
        unsupported.append(f"attention in down blocks {down} but in up blocks {up} (they must mirror)")
    if c["in_channels"] != c["out_channels"]:
        unsupported.append(f"in_channels={c['in_channels']}, out_channels={c['out_channels']}")
    if widths and c["time_embedding_dim"] not in (None, 4 * widths[0]):
        unsupported.append(f"time_embedding_dim={c['time_embedding_dim']}")
    if c["attn_norm_num_groups"] not in (None, c["norm_num_groups"]):
        unsupported.append(f"attn_norm_num_groups={c['attn_norm_num_groups']}")
    if _square(c["sample_size"]) is None:
        unsupported.append(f"sample_size={c['sample_size']!r} (a square image size is needed)")
    return unsupported


def _square(size) -> int | None:
    """The side of a square sample_size (an int, or [h, w] with h = w), else None."""
    if isinstance(size, list) and len(size) == 2 and size[0] == size[1]:
        size = size[0]
    return size if isinstance(size, int) and not isinstance(size, bool) else None


# ---- the diffusion process --------------------------------------------------------------------------

@dataclass(frozen=True)
class SchedulerSettings:
    """What a scheduler config says: the forward process, what the net predicts, and how it was sampled."""

    diffusion: DiffusionConfig = DiffusionConfig()
    prediction: str = "eps"
    sampling: dict = field(default_factory=lambda: {"variance": "beta_tilde", "clip": True})


def scheduler_settings(config: dict | None, name: str = SCHEDULER_NAME) -> SchedulerSettings:
    """The process a diffusers scheduler config describes; without one, DDPMScheduler's defaults (the paper's:
    linear β 1e-4 → 0.02, T = 1000, ε-prediction, σ² = β̃ "fixed_small", clipped x̂_0)."""
    if config is None:
        return SchedulerSettings()
    c = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "beta_schedule": "linear",
         "trained_betas": None, "variance_type": "fixed_small", "clip_sample": True, "prediction_type": "epsilon",
         "rescale_betas_zero_snr": False, **config}
    unsupported = [f"{key}={c[key]!r}" for key, known in (("beta_schedule", SCHEDULES), ("variance_type", VARIANCES),
                                                           ("prediction_type", PREDICTIONS)) if c[key] not in known]
    unsupported += [f"{key}=…" for key in ("trained_betas", "rescale_betas_zero_snr") if c[key]]
    if unsupported:
        raise CheckpointError("convert.unsupported_scheduler", "'{name}' sets {settings}, which this app's diffusion "
                              "does not reproduce", name=name, settings=", ".join(unsupported))
    try:
        diffusion = DiffusionConfig(schedule=SCHEDULES[c["beta_schedule"]], timesteps=int(c["num_train_timesteps"]),
                                    beta_start=float(c["beta_start"]), beta_end=float(c["beta_end"]))
        diffusion.betas()  # ValueError naming what is allowed
    except (TypeError, ValueError) as exc:
        raise CheckpointError("convert.invalid_scheduler", "'{name}' describes a schedule this app cannot build: "
                              "{reason}", name=name, reason=reason_of(exc)) from exc
    return SchedulerSettings(diffusion, PREDICTIONS[c["prediction_type"]],
                             {"variance": VARIANCES[c["variance_type"]], "clip": bool(c["clip_sample"])})


# ---- the weights ------------------------------------------------------------------------------------

RESNET = {"norm1": "norm1", "conv1": "conv1", "time_proj": "time_emb_proj", "norm2": "norm2", "conv2": "conv2",
          "skip": "conv_shortcut"}
ATTENTION = {"norm": "group_norm", "qkv": ("to_q", "to_k", "to_v"), "proj": "to_out.0"}


def module_pairs(config: UNetConfig) -> list[tuple[str, str, dict]]:
    """(our module, diffusers' module, their sub-layers) for every layer, in the order `UNet` builds them."""
    pairs = [("time_mlp.0", "time_embedding.linear_1", {}), ("time_mlp.2", "time_embedding.linear_2", {}),
             ("down.0.0", "conv_in", {})]
    index = 1
    for level, size in enumerate(config.feature_sizes):
        for j in range(config.blocks_per_level):
            pairs.append((f"down.{index}.0", f"down_blocks.{level}.resnets.{j}", RESNET))
            if size in config.attention_resolutions:
                pairs.append((f"down.{index}.1", f"down_blocks.{level}.attentions.{j}", ATTENTION))
            index += 1
        if level < config.levels - 1:
            pairs.append((f"down.{index}.0.conv", f"down_blocks.{level}.downsamplers.0.conv", {}))
            index += 1
    pairs += [("middle.0", "mid_block.resnets.0", RESNET), ("middle.1", "mid_block.attentions.0", ATTENTION),
              ("middle.2", "mid_block.resnets.1", RESNET)]
    index = 0
    for i, level in enumerate(reversed(range(config.levels))):
        attends = config.feature_sizes[level] in config.attention_resolutions
        for j in range(config.blocks_per_level + 1):
            pairs.append((f"up.{index}.0", f"up_blocks.{i}.resnets.{j}", RESNET))
            if attends:
                pairs.append((f"up.{index}.1", f"up_blocks.{i}.attentions.{j}", ATTENTION))
            if level > 0 and j == config.blocks_per_level:
                pairs.append((f"up.{index}.{2 if attends else 1}.conv", f"up_blocks.{i}.upsamplers.0.conv", {}))
            index += 1
    return pairs + [("out.0", "conv_norm_out", {}), ("out.2", "conv_out", {})]


def key_map(config: UNetConfig) -> dict[str, str | tuple[str, ...]]:
    """Each of our weight names → the diffusers weight name(s) it is made from (three for `qkv`)."""
    mapping = {}
    for ours, theirs, layers in module_pairs(config):
        for sub, their_sub in (layers or {"": ""}).items():
            for kind in ("weight", "bias"):
                source = (tuple(f"{theirs}.{s}.{kind}" for s in their_sub) if isinstance(their_sub, tuple)
                          else ".".join(p for p in (theirs, their_sub, kind) if p))
                mapping[".".join(p for p in (ours, sub, kind) if p)] = source
    return mapping


def rename_legacy_attention(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """Older exports' attention names (query, key, value, proj_attn) → today's (to_q, to_k, to_v, to_out.0)."""
    renamed, legacy = {}, False
    for key, value in tensors.items():
        *path, layer, kind = key.split(".")
        if ".attentions." in key and layer in LEGACY_ATTENTION:
            key, legacy = ".".join([*path, LEGACY_ATTENTION[layer], kind]), True
        renamed[key] = value
    return renamed, legacy


def map_weights(tensors: dict[str, torch.Tensor], config: UNetConfig, name: str = WEIGHT_NAMES[0]
                ) -> dict[str, torch.Tensor]:
    """diffusers' UNet2DModel weights → this app's UNet's state dict (float32), or CheckpointError naming the
    missing, unexpected and mis-shaped tensors."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in UNet(config).state_dict().items()}
    mapping = {k: v for k, v in key_map(config).items() if k in expected}  # a ResBlock keeping its width has no skip
    used, out, wrong = set(), {}, []
    missing = sorted({s for source in mapping.values() for s in _names(source) if s not in tensors})
    for key, source in mapping.items():
        if any(s not in tensors for s in _names(source)):
            continue
        used.update(_names(source))
        value = torch.cat([tensors[s] for s in source]) if isinstance(source, tuple) else tensors[source]
        if value.ndim == 2 and len(expected[key]) == 4:  # a Linear of diffusers' attention → our 1×1 conv
            value = value[:, :, None, None]
        if tuple(value.shape) != expected[key]:
            wrong.append(f"{key} {list(value.shape)} ≠ {list(expected[key])}")
        out[key] = value.float().contiguous()
    unexpected = sorted(set(tensors) - used)
    if missing or unexpected or wrong:
        example = (missing or unexpected or wrong)[0]
        raise CheckpointError("convert.weights_mismatch", "the weights in '{name}' do not fit its config.json: "
                              "{missing:,} missing, {unexpected:,} unexpected, {wrong:,} of another shape (e.g. "
                              "{example})", name=name, missing=len(missing), unexpected=len(unexpected),
                              wrong=len(wrong), example=example)
    return out


def _names(source: str | tuple[str, ...]) -> tuple[str, ...]:
    return source if isinstance(source, tuple) else (source,)


# ---- converting -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Conversion:
    """What `convert` wrote: the checkpoint, its network's size, the data set it names, and how long it took."""

    path: Path
    parameters: int
    model: UNetConfig
    scheduler: SchedulerSettings
    dataset: dict
    bytes: int
    seconds: float


def convert(source, out, *, allow_bin: bool = False, dataset: str | None = None) -> Conversion:
    """Convert the diffusers UNet2DModel at `source` into this app's checkpoint `out` (.safetensors).

    `dataset` names the data set (a key of `paper.PAPER_FIGURES`) where the folder's name does not.
    Raises CheckpointError for a source that cannot be converted; `out` is written atomically, so a
    failure at any point leaves no file, or the previous one, there.
    """
    start = time.perf_counter()
    out = _checked_out(Path(out))
    files = locate(source, allow_bin)
    if out.resolve() in (files.weights.resolve(), files.config.resolve()):
        raise CheckpointError("convert.out_is_source", "the output '{name}' would replace the file it is converted "
                              "from; choose another name", name=out.name)
    diffusers_config = read_json(files.config)
    model_config = unet_config_from_diffusers(diffusers_config, _relative(files, files.config))
    scheduler_config = read_json(files.scheduler) if files.scheduler else None
    scheduler = scheduler_settings(scheduler_config, _relative(files, files.scheduler) if files.scheduler else "")
    tensors, legacy = rename_legacy_attention(read_weights(files.weights))
    mapped = map_weights(tensors, model_config, files.weights.name)
    with torch.device("meta"):
        network = UNet(model_config)
    network.load_state_dict(mapped, strict=True, assign=True)
    entry = _dataset_entry(files, diffusers_config, dataset)
    record = _source_record(files, diffusers_config, scheduler_config, legacy, tensors)
    save_checkpoint(out, None, network.eval(), diffusion=scheduler.diffusion, prediction=scheduler.prediction,
                    dataset=entry, source=record, sampling=scheduler.sampling)
    return Conversion(out, count_parameters(network), model_config, scheduler, entry, out.stat().st_size,
                      time.perf_counter() - start)


def _checked_out(out: Path) -> Path:
    if out.suffix != ".safetensors" or out.is_dir():
        raise CheckpointError("convert.bad_out", "the output must be a .safetensors file name, got '{name}'",
                              name=out.name or str(out))
    return out


def _relative(files: DiffusersFiles, path: Path) -> str:
    try:
        return str(path.relative_to(files.root))
    except ValueError:
        return path.name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _source_record(files: DiffusersFiles, config: dict, scheduler: dict | None, legacy: bool,
                   tensors: dict[str, torch.Tensor]) -> dict:
    """Where an imported network came from: the folder, each file's name, size and sha256, the configs verbatim."""
    paths = [p for p in (files.config, files.weights, files.scheduler) if p is not None]
    return {"format": "diffusers", "class": "UNet2DModel", "folder": files.root.name,
            "files": [{"name": _relative(files, p), "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in paths],
            "config": config, "scheduler_config": scheduler, "legacy_attention_names": legacy,
            "dtypes": sorted({str(t.dtype).removeprefix("torch.") for t in tensors.values()}),
            "converted_by": "ddpm_core.convert"}


def _dataset_entry(files: DiffusersFiles, config: dict, chosen: str | None) -> dict:
    """{"name": key, "title": …, "from": what said so} for the paper's data set this model is, else {}."""
    if chosen is not None:
        if chosen not in PAPER_FIGURES:
            raise UserError("convert.unknown_dataset", "unknown data set {name!r}; the paper's are {known}",
                            name=chosen, known=", ".join(PAPER_FIGURES))
        return {"name": chosen, "title": PAPER_FIGURES[chosen].title, "from": "chosen"}
    guess = guess_dataset(*files.names(), str(config.get("_name_or_path", "")))
    if guess is None:
        return {}
    return {"name": guess[0], "title": PAPER_FIGURES[guess[0]].title, "from": guess[1]}


# ---- what running it costs on this machine ----------------------------------------------------------------

CONFIRM_ABOVE_S = 60.0  # a run estimated longer than this is shown its estimate before it starts
MAX_RUN_S = 24 * 3600.0  # and one longer than this is refused (a caller may pass its own limit)


@torch.inference_mode()
def forward_seconds(checkpoint: Checkpoint, batch: int = 16, repeats: int = 3) -> float:
    """Wall seconds of one forward pass of a loaded checkpoint's network on `batch` images, on the device it
    is on: the median of `repeats` passes after one warm-up pass (which allocates and picks kernels)."""
    model = checkpoint.model
    device = next(model.parameters()).device
    c = model.config
    x = torch.randn(batch, c.channels, c.image_size, c.image_size, device=device)
    t = torch.full((batch,), checkpoint.diffusion.num_timesteps // 2, device=device, dtype=torch.long)
    times = []
    for _ in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        model(x, t)
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class CostEstimate:
    """How long a job of `evaluations` single-image forward passes takes, from one measured pass of `batch`."""

    forward_s: float
    batch: int
    evaluations: int

    @property
    def seconds(self) -> float:
        return self.forward_s / self.batch * self.evaluations

    @property
    def needs_confirmation(self) -> bool:
        return self.seconds > CONFIRM_ABOVE_S


def estimate_cost(checkpoint: Checkpoint, images: int, steps: int, batch: int = 16,
                  forward_s: float | None = None) -> CostEstimate:
    """The cost of `images` images of `steps` network evaluations each (a sampler's steps, or T for the bound),
    at a forward pass measured now with `forward_seconds` (or the given `forward_s` of a pass of `batch`)."""
    measured = forward_seconds(checkpoint, batch) if forward_s is None else forward_s
    return CostEstimate(measured, batch, images * steps)


def check_cost(estimate: CostEstimate, images: int, limit_s: float = MAX_RUN_S) -> None:
    """UserError if the job would take longer than `limit_s` here, naming the estimate and what to change."""
    if estimate.seconds > limit_s:
        raise UserError("convert.too_slow", "{images:,} images would take about {hours:,.1f} hours here "
                        "({per_image:.2g} s per image and step, measured); the limit is {limit:,.1f} hours. Choose "
                        "fewer images or steps (DDIM with 50 steps), or a GPU", images=images,
                        hours=estimate.seconds / 3600, per_image=estimate.forward_s / estimate.batch,
                        limit=limit_s / 3600)


# ---- command line -----------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ddpm_core.convert", description=__doc__.splitlines()[0])
    p.add_argument("source", help="a diffusers UNet2DModel folder (config.json and weights), a pipeline folder "
                                  "with unet/, or the weights file")
    p.add_argument("--out", required=True, help="the checkpoint to write, a .safetensors file")
    p.add_argument("--allow-bin", action="store_true", help="read a .bin weights file (a pickle) with "
                                                            "torch.load(weights_only=True)")
    p.add_argument("--dataset", choices=sorted(PAPER_FIGURES), help="the data set, where the folder's name "
                                                                    "does not say it")
    p.add_argument("--forward-batch", type=int, default=0, metavar="B",
                   help="also time one forward pass of B images on the CPU (the UI's estimate multiplies it)")
    return p


SIGMA = {"beta": "β", "beta_tilde": "β̃"}


def describe(result: Conversion) -> list[str]:
    """The CLI's summary lines."""
    m, s = result.model, result.scheduler
    d = s.diffusion
    attention = ", ".join(f"{r}×{r}" for r in m.attention_resolutions) or "none"
    lines = [f"parameters: {result.parameters:,}",
             f"network: {m.image_size}×{m.image_size} {'RGB' if m.channels == 3 else 'grey'}, {m.levels} levels, "
             f"widths {list(m.widths)}, attention at {attention}",
             f"diffusion: {d.schedule} β {d.beta_start:g} → {d.beta_end:g}, T = {d.timesteps}, "
             f"predicts {s.prediction}; "
             f"its scheduler samples with σ² = {SIGMA[s.sampling['variance']]}, "
             f"{'clipped' if s.sampling['clip'] else 'unclipped'} x̂_0"]
    figures = figures_for(result.dataset.get("name"))
    if figures is None:
        lines.append("data set: not named by the folder (--dataset names it)")
    else:
        reported = [f"{label} {value}" for label, value in (("IS", figures.inception_score), ("FID", figures.fid),
                                                            ("NLL ≤", figures.nll_test)) if value is not None]
        lines.append(f"data set: {figures.title} (from {result.dataset['from']!r}); the paper reports "
                     f"{', '.join(reported) or 'no score'}{' bits/dim (test)' if figures.nll_test else ''}")
        if figures.variance != s.sampling["variance"]:
            lines.append(f"note: the paper's figures use σ² = {SIGMA[figures.variance]}, the scheduler config "
                         f"σ² = {SIGMA[s.sampling['variance']]}; compare with σ² = {SIGMA[figures.variance]}")
    lines += [f"written: {result.path} ({result.bytes / 1e6:,.1f} MB)", f"seconds: {result.seconds:.1f}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.forward_batch < 0:
            raise ValueError(f"--forward-batch must be 0 or more, got {args.forward_batch}")
        result = convert(args.source, args.out, allow_bin=args.allow_bin, dataset=args.dataset)
        print("\n".join(describe(result)))
        if args.forward_batch:
            from ddpm_core.checkpoints import load_checkpoint

            seconds = forward_seconds(load_checkpoint(result.path), args.forward_batch)
            print(f"one forward pass of {args.forward_batch} images on the CPU: {seconds:.3f} s "
                  f"({torch.get_num_threads()} threads); 1,000 DDPM steps of them: about "
                  f"{math.ceil(seconds * 1000 / 60):,} min")
    except (ValueError, OSError) as exc:  # UserError and CheckpointError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
