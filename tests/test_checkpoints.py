"""Checkpoints: exact round trips, atomic writes, resuming, and a clear message for every bad file."""

import json
import os
import struct

import pytest
import torch
from safetensors.torch import save_file

from ddpm_core.checkpoints import (CheckpointError, load_checkpoint, load_training_state, save_checkpoint,
                                   save_training_state, state_path)
from ddpm_core.config import DiffusionConfig
from ddpm_core.mlp import DenoiserMLP, MLPConfig

DIFFUSION = DiffusionConfig(schedule="cosine", timesteps=50)
SMALL = MLPConfig(hidden=16, blocks=1, embedding_dim=8)


def _models(seed=0):
    torch.manual_seed(seed)
    model, ema = DenoiserMLP(SMALL), DenoiserMLP(SMALL)
    return model, ema


def _saved(tmp_path, **kwargs):
    model, ema = _models()
    path = save_checkpoint(tmp_path / "run" / "model.safetensors", model, ema, diffusion=DIFFUSION,
                           prediction="v", step=123, training={"lr": 1e-3}, dataset={"name": "moons"}, **kwargs)
    return path, model, ema


def test_round_trip_rebuilds_everything_from_the_file_alone(tmp_path):
    path, model, ema = _saved(tmp_path)
    loaded = load_checkpoint(path)
    assert loaded.architecture == "mlp" and loaded.prediction == "v" and loaded.step == 123
    assert loaded.diffusion_config == DIFFUSION and loaded.model.config == SMALL
    assert loaded.config["dataset"] == {"name": "moons"} and loaded.config["training"] == {"lr": 1e-3}
    assert set(loaded.config["versions"]) == {"ddpm_explorer", "torch"}
    for saved, restored in ((ema, loaded.model), (model, loaded.raw_model)):
        for (name, a), (_, b) in zip(saved.state_dict().items(), restored.state_dict().items()):
            assert torch.equal(a, b), name
    assert not loaded.model.training
    torch.testing.assert_close(loaded.diffusion.alphas_cumprod, DIFFUSION.build().alphas_cumprod)


def test_the_file_is_plain_safetensors_with_json_metadata(tmp_path):
    path, *_ = _saved(tmp_path)
    raw = path.read_bytes()
    header_length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + header_length])  # safetensors: length, JSON header, raw tensor bytes
    assert header["__metadata__"]["format"] == "ddpm-explorer"
    assert json.loads(header["__metadata__"]["config"])["architecture"] == "mlp"
    assert b"pickle" not in raw[:8 + header_length] and raw[8 + header_length:8 + header_length + 2] != b"\x80\x04"


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path, *_ = _saved(tmp_path)
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    model, ema = _models(seed=1)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, ema, diffusion=DIFFUSION, step=999)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.safetensors"], "no temporary file left"


def _rewrite_metadata(path, **changes):
    """Save the same tensors with edited metadata (what a hostile or foreign file could carry)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    metadata.update(changes)
    metadata = {k: v for k, v in metadata.items() if v is not None}
    save_file(tensors, str(path), metadata=metadata)


def _config_with(path, **changes):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        config = json.loads(handle.metadata()["config"])
    config.update(changes)
    return json.dumps(config)


@pytest.mark.parametrize("corrupt,message", [
    (lambda p: p.write_text("not a checkpoint at all"), "not a readable safetensors file"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable safetensors file"),
    (lambda p: p.write_bytes(b""), "not a readable safetensors file"),
    (lambda p: save_file({"w": torch.zeros(2)}, str(p)), "not a DDPM Explorer checkpoint"),
    (lambda p: _rewrite_metadata(p, format_version="7"), "format version '7'.*Update the app"),
    (lambda p: _rewrite_metadata(p, config="{not json"), "malformed configuration JSON"),
    (lambda p: _rewrite_metadata(p, config="[1, 2]"), "not a JSON object"),
    (lambda p: _rewrite_metadata(p, config=" " * 2_000_000), "at most 1,000,000"),
    (lambda p: _rewrite_metadata(p, config=_config_with(p, architecture="transformer")), "unknown architecture"),
    (lambda p: _rewrite_metadata(p, config=_config_with(p, model={**SMALL.__dict__, "hidden": "wide"})),
     "model.hidden should be int"),
    (lambda p: _rewrite_metadata(p, config=_config_with(p, model={**SMALL.__dict__, "depth": 3})),
     r"unknown fields \['depth'\]"),
    (lambda p: _rewrite_metadata(p, config=_config_with(p, diffusion={**DIFFUSION.__dict__, "timesteps": 0})),
     "invalid schedule"),
    (lambda p: _rewrite_metadata(p, config=_config_with(p, prediction="score")), "unknown prediction type"),
    (lambda p: _rewrite_metadata(p, config=_config_with(p, model={**SMALL.__dict__, "hidden": 32})),
     r"do not fit.*wrong shape: \[.*'ema\.inp\.0\.weight \(expected \[32, 24\], found \[16, 24\]\)'"),
])
def test_every_bad_file_is_explained(tmp_path, corrupt, message):
    path, *_ = _saved(tmp_path)
    corrupt(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_missing_and_extra_tensors_are_named(tmp_path):
    path, *_ = _saved(tmp_path)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys() if k != "ema.out.bias"}
    tensors["ema.surprise"] = torch.zeros(1)
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match=r"missing: \['ema\.out\.bias'\].*unexpected: \['ema\.surprise'\]"):
        load_checkpoint(path)


def test_a_missing_file_is_explained(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")


def _train(model, optimizer, steps, generator):
    for _ in range(steps):
        x = torch.randn(32, 2, generator=generator)
        t = torch.randint(0, 50, (32,), generator=generator)
        loss = (model(x, t) - x).pow(2).mean() + 1e-3 * torch.randn(()).abs()  # uses the global RNG too
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_resuming_from_a_saved_state_matches_an_uninterrupted_run(tmp_path):
    torch.manual_seed(0)
    straight = DenoiserMLP(SMALL)
    start = {k: v.clone() for k, v in straight.state_dict().items()}
    optimizer = torch.optim.AdamW(straight.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    _train(straight, optimizer, 5, generator)
    path = save_checkpoint(tmp_path / "ckpt.safetensors", straight, straight, diffusion=DIFFUSION, step=5)
    save_training_state(path, optimizer, step=5, extra={"data_rng": generator.get_state().tolist()})
    _train(straight, optimizer, 5, generator)

    resumed = load_checkpoint(path).raw_model.train()
    assert not all(torch.equal(start[k], v) for k, v in resumed.state_dict().items())
    resumed_optimizer = torch.optim.AdamW(resumed.parameters(), lr=1e-2)
    info = load_training_state(path, resumed_optimizer)
    assert info["step"] == 5 and state_path(path).name == "ckpt.state.safetensors"
    generator = torch.Generator()
    generator.set_state(torch.tensor(info["extra"]["data_rng"], dtype=torch.uint8))
    _train(resumed, resumed_optimizer, 5, generator)
    for name, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0, msg=name)


def test_a_run_killed_between_its_state_and_its_checkpoint_resumes_from_a_matching_pair(tmp_path):
    """The trainer writes the state pending, then the checkpoint, then commits the state: a kill after either
    write leaves a checkpoint whose own step's state is found (the committed or the pending file)."""
    from ddpm_core.checkpoints import (commit_training_state, load_training_state, pending_state_path,
                                       save_training_state)

    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    path = tmp_path / "model.safetensors"
    save_training_state(path, optimizer, 5, pending=True)
    commit_training_state(path)  # step 5: a complete save
    save_training_state(path, optimizer, 10, pending=True)  # killed here: the checkpoint still says step 5
    assert load_training_state(path, optimizer, 5)["step"] == 5
    # killed after writing the step-10 checkpoint, before committing its state: the pending one is used
    assert load_training_state(path, optimizer, 10)["step"] == 10
    commit_training_state(path)
    assert not pending_state_path(path).exists() and load_training_state(path, optimizer, 10)["step"] == 10
    with pytest.raises(ValueError, match="has no resume state of its step 15") as info:
        load_training_state(path, optimizer, 15)
    assert info.value.code == "checkpoint.state_step"
