"""Checkpoints: weights and the whole configuration in safetensors files; nothing is ever pickled.

A checkpoint is `NAME.safetensors`: the EMA weights (`ema.*`) and the raw weights (`model.*`) of the
network, with metadata `format = "ddpm-explorer"`, `format_version` and `config`, a JSON object:

    {"architecture": "unet" | "mlp", "model": {...}, "diffusion": {...}, "prediction": "eps",
     "step": 1200, "training": {...}, "dataset": {...}, "versions": {"torch": ..., "ddpm_explorer": ...}}

A class-conditional U-Net (`model.num_classes` > 0) records its class names in `dataset.classes` (label i is
the i-th name; the null class ∅ is label num_classes and has no name) and its label dropout in
`training.p_uncond`; a header whose names do not match the network's class count is refused.

A network imported from elsewhere (`ddpm_core.convert`) has one set of weights, stored once as `ema.*`;
its config says so with `"weights": ["ema"]`, records where it came from in `"source"` and the sampler
settings it was released with in `"sampling"` (e.g. {"variance": "beta_tilde", "clip": true}).

Resuming also needs `NAME.state.safetensors` beside it: the optimiser's tensors and RNG states, with
the optimiser's scalars in its metadata. Both files are written atomically (temporary file, flush,
fsync, rename), so a run killed at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import typing
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from ddpm_core.config import DiffusionConfig
from ddpm_core.diffusion import GaussianDiffusion
from ddpm_core.errors import Message, UserError, reason_of

FORMAT = "ddpm-explorer"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1_000_000  # a config is a few kB; refuse hostile metadata before parsing it
STATE_SUFFIX = ".state.safetensors"


class CheckpointError(UserError):
    """A checkpoint that cannot be used, with a message that says why."""


def _architectures() -> dict[str, tuple[type, type]]:
    """Config class and network class per architecture name (imported here to avoid import cycles)."""
    from ddpm_core.mlp import DenoiserMLP, MLPConfig
    from ddpm_core.unet import UNet, UNetConfig

    return {"unet": (UNetConfig, UNet), "mlp": (MLPConfig, DenoiserMLP)}


def architecture_of(model: torch.nn.Module) -> str:
    for name, (_, network) in _architectures().items():
        if isinstance(model, network):
            return name
    raise ValueError(f"cannot save a {type(model).__name__}; known networks: {sorted(_architectures())}")


# ---- configs ↔ JSON --------------------------------------------------------------------------------

def config_to_dict(config) -> dict:
    """A frozen config dataclass as a JSON-safe dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls, data: dict, what: str):
    """Rebuild a config dataclass from `data`, refusing unknown keys and wrongly typed values."""
    if not isinstance(data, dict):
        raise CheckpointError("checkpoint.section_not_object", "the {what} configuration is not a JSON object",
                              what=what)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CheckpointError("checkpoint.unknown_fields", "the {what} configuration has unknown fields {unknown}; "
                              "known: {known}", what=what, unknown=unknown, known=sorted(fields))
    hints = typing.get_type_hints(cls)
    values = {key: _coerce(value, hints[key], f"{what}.{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except UserError as exc:
        raise CheckpointError("checkpoint.section_invalid", "the {what} configuration is invalid: {reason}",
                              what=what, reason=exc.message) from None
    except (TypeError, ValueError) as exc:  # e.g. a required field missing: Python's words are not shown
        raise CheckpointError("checkpoint.section_malformed", "the {what} configuration is invalid ({kind})",
                              what=what, kind=type(exc).__name__) from exc


def _coerce(value, hint, name: str):
    """JSON value → the field's type (lists → tuples), or CheckpointError."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list):
            raise CheckpointError("checkpoint.field_not_list", "{name} should be a list, got {kind}", name=name,
                                  kind=type(value).__name__)
        inner = typing.get_args(hint)[0]
        return tuple(_coerce(v, inner, name) for v in value)
    expected = {int: (int,), float: (int, float), bool: (bool,), str: (str,)}.get(hint)
    if expected is not None:
        if (isinstance(value, bool) and hint is not bool) or not isinstance(value, expected):
            raise CheckpointError("checkpoint.field_type", "{name} should be {expected}, got {value!r}", name=name,
                                  expected=hint.__name__, value=value)
        return float(value) if hint is float else value
    return value


# ---- writing ------------------------------------------------------------------------------------

def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); a saved model is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _versions() -> dict:
    from ddpm_core import __version__

    return {"ddpm_explorer": __version__, "torch": torch.__version__}


def _tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    # A copy: the raw and EMA modules may share storage (e.g. the same module), which safetensors refuses.
    return {f"{prefix}.{k}": v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}


def save_checkpoint(path, model: torch.nn.Module | None, ema: torch.nn.Module, *, diffusion: DiffusionConfig,
                    prediction: str = "eps", step: int = 0, training: dict | None = None,
                    dataset: dict | None = None, source: dict | None = None, sampling: dict | None = None) -> Path:
    """Write the network (raw and EMA weights) and its whole configuration to `path` (.safetensors).

    `model` None stores one set of weights (an imported network's), as `ema.*`; `source` and `sampling`
    are recorded for an imported network (see the module's docstring).
    """
    path = Path(path)
    config = {"architecture": architecture_of(ema), "model": config_to_dict(ema.config),
              "diffusion": config_to_dict(diffusion), "prediction": prediction, "step": int(step),
              "training": training or {}, "dataset": dataset or {}, "versions": _versions()}
    extra = {"weights": ["ema"] if model is None else None, "source": source, "sampling": sampling}
    config.update({key: value for key, value in extra.items() if value})
    tensors = _tensors("ema", ema) if model is None else {**_tensors("model", model), **_tensors("ema", ema)}
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": json.dumps(config)}
    _atomic_write(path, save_bytes(tensors, metadata=metadata))
    return path


def state_path(path) -> Path:
    """Where the resume state of checkpoint `path` lives."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".safetensors") + STATE_SUFFIX)


def pending_state_path(path) -> Path:
    """Where the resume state of a checkpoint being saved waits until the checkpoint itself is written."""
    target = state_path(path)
    return target.with_name(target.name + ".pending")


def save_training_state(path, optimizer: torch.optim.Optimizer, step: int, extra: dict | None = None,
                        pending: bool = False) -> Path:
    """Write the optimiser state and the RNG states beside checkpoint `path`, for resuming.

    A checkpoint and its state are two files, and a run killed between the two writes must still resume
    exactly: the trainer writes the state `pending` first, then the checkpoint, then `commit_training_state`.
    """
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = rng
    meta = {"step": int(step), "param_groups": state["param_groups"], "scalars": scalars, "extra": extra or {}}
    metadata = {"format": FORMAT + "-state", "format_version": str(FORMAT_VERSION), "state": json.dumps(meta)}
    target = pending_state_path(path) if pending else state_path(path)
    _atomic_write(target, save_bytes(tensors, metadata=metadata))
    return target


def commit_training_state(path) -> Path:
    """Make the pending state of checkpoint `path` its resume state (after the checkpoint was written)."""
    os.replace(pending_state_path(path), state_path(path))
    return state_path(path)


# ---- reading ------------------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """A loaded checkpoint: the EMA network (eval mode), its diffusion, and everything it records."""

    model: torch.nn.Module
    raw_model: torch.nn.Module
    diffusion: GaussianDiffusion
    diffusion_config: DiffusionConfig
    architecture: str
    prediction: str
    step: int
    config: dict
    path: Path


def _read_header(path: Path) -> tuple[dict, dict[str, list[int]]]:
    """Metadata and tensor shapes, read without loading any tensor."""
    if not path.is_file():
        raise CheckpointError("checkpoint.missing", "'{name}' does not exist or is not a file", name=path.name)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            shapes = {key: list(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:  # safetensors' own words ("header too large") stay out
        raise CheckpointError("checkpoint.unreadable", "'{name}' is not a readable safetensors file (damaged, "
                              "truncated, or another format)", name=path.name) from exc
    return metadata, shapes


def _parse_config(path: Path, metadata: dict) -> dict:
    if metadata.get("format") != FORMAT:
        raise CheckpointError("checkpoint.not_ours", "'{name}' is a safetensors file but not a DDPM Explorer "
                              "checkpoint (its metadata has no 'format: ddpm-explorer')", name=path.name)
    version = metadata.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise CheckpointError("checkpoint.newer_format", "'{name}' has checkpoint format version {version!r}; this "
                              "app reads versions up to {supported}. Update the app.", name=path.name,
                              version=version, supported=FORMAT_VERSION)
    text = metadata.get("config", "")
    if len(text) > MAX_CONFIG_BYTES:
        raise CheckpointError("checkpoint.config_too_large", "'{name}' has {size:,} bytes of configuration; at most "
                              "{limit:,} are accepted", name=path.name, size=len(text), limit=MAX_CONFIG_BYTES)
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError("checkpoint.config_json", "'{name}' has malformed configuration JSON (line {line}, "
                              "column {column})", name=path.name, line=exc.lineno, column=exc.colno) from None
    if not isinstance(config, dict):
        raise CheckpointError("checkpoint.config_not_object", "'{name}' configuration is not a JSON object",
                              name=path.name)
    return config


def read_config(path) -> dict:
    """The configuration a checkpoint records, read from its header alone (no weights are loaded).

    Raises CheckpointError for a file that is not a readable DDPM Explorer checkpoint.
    """
    path = Path(path)
    metadata, _ = _read_header(path)
    return _parse_config(path, metadata)


def _build_network(config: dict) -> torch.nn.Module:
    architectures = _architectures()
    name = config.get("architecture")
    if name not in architectures:
        raise CheckpointError("checkpoint.architecture_unknown", "unknown architecture {architecture!r}; this app "
                              "knows {known}", architecture=name, known=sorted(architectures))
    config_cls, network = architectures[name]
    return network(config_from_dict(config_cls, config.get("model"), "model"))


def _check_weights(network: torch.nn.Module, shapes: dict[str, list[int]], prefix: str) -> None:
    """Missing, unexpected and mis-shaped tensors, all named in one message."""
    expected = {f"{prefix}.{k}": list(v.shape) for k, v in network.state_dict().items()}
    present = {k: v for k, v in shapes.items() if k.startswith(prefix + ".")}
    missing = sorted(set(expected) - set(present))
    extra = sorted(set(present) - set(expected))
    wrong = [f"{k} (expected {expected[k]}, found {present[k]})" for k in sorted(set(expected) & set(present))
             if expected[k] != present[k]]
    if not (missing or extra or wrong):
        return
    raise CheckpointError(
        "checkpoint.weights_mismatch", "the weights do not fit the configured network{missing}{unexpected}{wrong}",
        missing=Message("checkpoint.weights_missing", "; missing: {names} ({count} in all)", _named(missing))
        if missing else "",
        unexpected=Message("checkpoint.weights_unexpected", "; unexpected: {names} ({count} in all)", _named(extra))
        if extra else "",
        wrong=Message("checkpoint.weights_wrong_shape", "; wrong shape: {names} ({count} in all)", _named(wrong))
        if wrong else "")


def _named(items: list[str]) -> dict:
    """Params naming the first five tensors of `items` and how many there are."""
    return {"names": f"{items[:5]}{' …' if len(items) > 5 else ''}", "count": len(items)}


def load_checkpoint(path, device="cpu") -> Checkpoint:
    """Rebuild network, diffusion and configuration from a checkpoint file alone.

    Raises CheckpointError explaining the problem: not safetensors, truncated, not ours, a newer
    format, an unknown architecture, a malformed configuration, or weights that do not fit.
    """
    path = Path(path)
    metadata, shapes = _read_header(path)
    config = _parse_config(path, metadata)
    diffusion_config = config_from_dict(DiffusionConfig, config.get("diffusion"), "diffusion")
    try:
        diffusion = diffusion_config.build().to(device)
    except ValueError as exc:
        raise CheckpointError("checkpoint.schedule_invalid", "'{name}' has an invalid schedule: {reason}",
                              name=path.name, reason=reason_of(exc)) from exc
    prediction = config.get("prediction", "eps")
    if prediction not in ("eps", "x0", "v"):
        raise CheckpointError("checkpoint.prediction_unknown", "'{name}' has unknown prediction type {prediction!r}",
                              name=path.name, prediction=prediction)
    # Check the shapes on the meta device first: a hostile config asking for a network of terabytes
    # is refused for not fitting the file's tensors before anything is allocated.
    with torch.device("meta"):
        shape_only = _build_network(config)
    _check_classes(path, config)
    prefixes = ("ema",) if config.get("weights") == ["ema"] else ("ema", "model")  # one set: imported
    for prefix in prefixes:
        _check_weights(shape_only, shapes, prefix)
    networks = {prefix: _build_network(config) for prefix in prefixes}
    try:
        tensors = load_bytes(path.read_bytes())
    except (SafetensorError, OSError) as exc:
        raise CheckpointError("checkpoint.unreadable_weights", "'{name}' could not be read (damaged or truncated)",
                              name=path.name) from exc
    for prefix, network in networks.items():
        network.load_state_dict({k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")})
        network.to(device).eval()
    step = config.get("step", 0)
    return Checkpoint(networks["ema"], networks.get("model", networks["ema"]), diffusion, diffusion_config,
                      config["architecture"], prediction, int(step) if isinstance(step, int) else 0, config, path)


def _check_classes(path: Path, config: dict) -> None:
    """The class names of the header (`dataset.classes`) must be as many distinct strings as the network has
    classes (`model.num_classes`, whose embedding has one row more, for ∅), and absent when it has none."""
    model, dataset = config.get("model"), config.get("dataset")
    expected = model.get("num_classes", 0) if isinstance(model, dict) else 0
    classes = dataset.get("classes") if isinstance(dataset, dict) else None
    if classes is None and not expected:
        return
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes) or \
            len(set(classes)) != len(classes):
        raise CheckpointError("checkpoint.classes_malformed", "'{name}' has no list of distinct class names in its "
                              "header (dataset.classes)", name=path.name)
    if len(classes) != expected:
        raise CheckpointError("checkpoint.classes_mismatch", "'{name}' names {count} classes in its header, but its "
                              "network's class embedding has {expected} (and a row for the null class): the header "
                              "does not fit the weights", name=path.name, count=len(classes), expected=expected)


def _state_of_step(path, step: int | None) -> Path:
    """The state file of checkpoint `path` at `step`: its resume state, or a pending one left by a run killed
    between writing the state and the checkpoint (see `save_training_state`)."""
    target = state_path(path)
    if step is None:
        return target
    for candidate in (target, pending_state_path(path)):
        try:
            meta = json.loads(_read_header(candidate)[0].get("state", "{}"))
        except (CheckpointError, json.JSONDecodeError):
            continue
        if meta.get("step") == step:
            return candidate
    raise CheckpointError("checkpoint.state_step", "'{name}' has no resume state of its step {step}; start a new "
                          "run", name=Path(path).name, step=step)


def load_training_state(path, optimizer: torch.optim.Optimizer, step: int | None = None) -> dict:
    """Restore the optimiser and RNG states saved beside checkpoint `path` (those of `step`, the checkpoint's
    own, when given); returns {"step", "extra"}."""
    target = _state_of_step(path, step)
    metadata, _ = _read_header(target)
    if metadata.get("format") != FORMAT + "-state":
        raise CheckpointError("checkpoint.not_a_state", "'{name}' is not a DDPM Explorer training state",
                              name=target.name)
    meta = json.loads(metadata.get("state", "{}"))
    tensors = load_bytes(target.read_bytes())
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in meta.get("scalars", {}).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as exc:  # torch's words name parameter groups, not what to do
        raise CheckpointError("checkpoint.state_mismatch", "'{name}' does not fit this optimiser ({kind})",
                              name=target.name, kind=type(exc).__name__) from exc
    torch.set_rng_state(tensors["rng.cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    return {"step": int(meta.get("step", 0)), "extra": meta.get("extra", {})}
