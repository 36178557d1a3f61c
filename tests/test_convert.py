"""Importing Ho et al.'s released models: diffusers UNet2DModel folders (random weights, the releases' configs)
convert to checkpoints whose network computes what diffusers computes, sample the same images as diffusers'
scheduler loops from the same noise, and every bad input is a clear message with nothing written.

diffusers is a test-only dependency (requirements-test.txt); nothing is downloaded: the models are built
from their configs with random weights.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ddpm_core import convert as conv
from ddpm_core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.errors import UserError
from ddpm_core.paper import figures_for, guess_dataset
from ddpm_core.sample import SampleConfig, SamplingRun
from ddpm_core.samplers import sampling_timesteps
from ddpm_core.unet import UNet, UNetConfig, count_parameters

diffusers = pytest.importorskip("diffusers")
UNet2DModel, DDPMScheduler, DDIMScheduler = diffusers.UNet2DModel, diffusers.DDPMScheduler, diffusers.DDIMScheduler

# The layouts of google/ddpm-cifar10-32 and of the 256² releases (ddpm-ema-celebahq-256, -church-256, -bedroom-256,
# -cat-256), as their config.json files give them.
RELEASE = dict(in_channels=3, out_channels=3, layers_per_block=2, norm_num_groups=32, norm_eps=1e-6,
               attention_head_dim=None, flip_sin_to_cos=False, freq_shift=1, downsample_padding=0, act_fn="silu",
               center_input_sample=False, time_embedding_type="positional", mid_block_scale_factor=1)
CIFAR10 = dict(RELEASE, sample_size=32, block_out_channels=(128, 256, 256, 256),
               down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
               up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"))
RELEASE_256 = dict(RELEASE, sample_size=256, block_out_channels=(128, 128, 256, 256, 512, 512),
                   down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
                   up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4)
REDUCED_256 = dict(RELEASE_256, block_out_channels=(32, 32, 64, 64, 128, 128))  # the 256² layout, a quarter wide
TINY = dict(RELEASE, sample_size=16, block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"))
# The released scheduler config: Ho et al.'s forward process, and σ² = β̃ for sampling.
SCHEDULER = {"_class_name": "DDPMScheduler", "_diffusers_version": "0.1.1", "beta_end": 0.02, "beta_schedule": "linear",
             "beta_start": 0.0001, "clip_sample": True, "num_train_timesteps": 1000, "trained_betas": None,
             "variance_type": "fixed_small"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These nets are small: on a shared 2-core machine, threads waiting for each other cost more than they
    save (a 16×16 forward pass took 0.03 s on one thread and 0.1–0.3 s on two under a load of 6)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def diffusers_net(config: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return UNet2DModel(**config).eval()


def diffusers_folder(path, net, scheduler: dict | None = SCHEDULER, *, safe: bool = True):
    """A diffusers model folder as the releases have it: config.json, the weights, scheduler_config.json."""
    net.save_pretrained(path, safe_serialization=safe)
    if scheduler is not None:
        (path / conv.SCHEDULER_NAME).write_text(json.dumps(scheduler))
    return path


def inputs(config: dict, batch: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    size = config["sample_size"]
    x = torch.randn(batch, config["in_channels"], size, size, generator=g)
    return x, torch.tensor([0, 999, 1, 500][:batch])  # both ends of the chain, 0-based as in diffusers


def max_difference(net, checkpoint, config: dict, batch: int = 2) -> float:
    x, t = inputs(config, batch)
    with torch.inference_mode():
        return (net(x, t).sample - checkpoint.model(x, t)).abs().max().item()


@pytest.fixture(scope="module")
def cifar10(tmp_path_factory):
    """google/ddpm-cifar10-32's layout with random weights, its folder, and the converted checkpoint."""
    root = tmp_path_factory.mktemp("release")
    net = diffusers_net(CIFAR10)
    folder = diffusers_folder(root / "ddpm-cifar10-32", net)
    result = conv.convert(folder, root / "cifar10.safetensors")
    return net, folder, result


@pytest.fixture(scope="module")
def church(tmp_path_factory):
    """The 256² releases' layout at a quarter of their widths, random weights, and its checkpoint."""
    root = tmp_path_factory.mktemp("church")
    net = diffusers_net(REDUCED_256, seed=3)
    result = conv.convert(diffusers_folder(root / "ddpm-ema-church-256", net), root / "church.safetensors")
    return net, result


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 16×16 net of the releases' layout with a 20-step scheduler: for sampling and bad inputs."""
    root = tmp_path_factory.mktemp("tiny")
    net = diffusers_net(TINY, seed=2)
    folder = diffusers_folder(root / "tiny-model", net, dict(SCHEDULER, num_train_timesteps=20))
    return net, folder, load_checkpoint(conv.convert(folder, root / "tiny.safetensors").path)


# ---- the networks compute the same -------------------------------------------------------------------

def test_the_cifar10_release_becomes_the_papers_35_7_m_network_computing_the_same(cifar10):
    net, _folder, result = cifar10
    assert result.parameters == count_parameters(net) == 35_746_307  # "35.7 million parameters" (App. B)
    checkpoint = load_checkpoint(result.path)
    assert max_difference(net, checkpoint, CIFAR10) <= 1e-5  # at t = 0 and T − 1


def test_the_256_layout_maps_at_full_width_and_computes_the_same_at_a_quarter_width(church):
    with torch.device("meta"):  # the full 114 M net: shapes only, nothing allocated
        full = UNet2DModel(**RELEASE_256)
    config = conv.unet_config_from_diffusers({"_class_name": "UNet2DModel", **full.config})
    assert sum(v.numel() for v in conv.map_weights(full.state_dict(), config).values()) == 113_673_219  # "114 M"
    assert config.attention_resolutions == (16,) and config.levels == 6 and config.image_size == 256
    net, result = church
    assert result.dataset["name"] == "lsun_church"
    assert max_difference(net, load_checkpoint(result.path), REDUCED_256) <= 1e-5


def test_older_exports_attention_names_are_renamed(tmp_path, tiny):
    net, folder, _ = tiny
    weights = load_file(folder / conv.WEIGHT_NAMES[0])
    old = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    legacy = {}
    for key, value in weights.items():
        for new, former in old.items():
            key = key.replace(f".{new}.", f".{former}.") if ".attentions." in key else key
        legacy[key] = value
    assert any(".query." in key for key in legacy)
    target = tmp_path / "legacy"
    target.mkdir()
    (target / conv.CONFIG_NAME).write_text((folder / conv.CONFIG_NAME).read_text())
    save_file(legacy, target / conv.WEIGHT_NAMES[0])
    checkpoint = load_checkpoint(conv.convert(target, tmp_path / "legacy.safetensors").path)
    assert checkpoint.config["source"]["legacy_attention_names"] is True
    assert max_difference(net, checkpoint, TINY) <= 1e-5


def test_a_bin_is_read_only_with_the_flag_and_then_as_plain_tensors(tmp_path):
    net = diffusers_net(TINY, seed=4)
    folder = diffusers_folder(tmp_path / "bin-model", net, safe=False)
    assert (folder / "diffusion_pytorch_model.bin").is_file()
    with pytest.raises(CheckpointError) as info:
        conv.convert(folder, tmp_path / "out.safetensors")
    assert info.value.code == "convert.bin_needs_flag" and "--allow-bin" in str(info.value)
    assert not (tmp_path / "out.safetensors").exists()
    checkpoint = load_checkpoint(conv.convert(folder, tmp_path / "out.safetensors", allow_bin=True).path)
    assert max_difference(net, checkpoint, TINY) <= 1e-5


class _Touch:
    """A pickle that creates a file when unpickled by a loader that runs code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_a_bin_that_would_run_code_is_refused_and_runs_none(tmp_path, tiny):
    _, folder, _ = tiny
    marker = tmp_path / "ran"
    target = tmp_path / "hostile"
    target.mkdir()
    (target / conv.CONFIG_NAME).write_text((folder / conv.CONFIG_NAME).read_text())
    torch.save({"conv_in.weight": _Touch(marker)}, target / "diffusion_pytorch_model.bin")
    with pytest.raises(CheckpointError) as info:
        conv.convert(target, tmp_path / "out.safetensors", allow_bin=True)
    assert info.value.code == "convert.unreadable_weights" and not marker.exists()


def test_a_pipeline_folder_and_a_weights_file_are_found_with_the_scheduler(tmp_path):
    net = diffusers_net(TINY, seed=5)
    root = tmp_path / "ddpm-ema-bedroom-256-pipeline"
    diffusers_folder(root / "unet", net, scheduler=None)
    (root / "scheduler").mkdir()
    (root / "scheduler" / conv.SCHEDULER_NAME).write_text(json.dumps(
        dict(SCHEDULER, beta_schedule="squaredcos_cap_v2", num_train_timesteps=500, prediction_type="v_prediction",
             variance_type="fixed_large", clip_sample=False)))
    for source in (root, root / "unet" / conv.WEIGHT_NAMES[0]):
        checkpoint = load_checkpoint(conv.convert(source, tmp_path / "p.safetensors").path)
        assert checkpoint.diffusion_config == DiffusionConfig(schedule="cosine", timesteps=500)
        assert checkpoint.prediction == "v" and checkpoint.config["sampling"] == {"variance": "beta", "clip": False}
        assert checkpoint.config["dataset"]["name"] == "lsun_bedroom"
        assert max_difference(net, checkpoint, TINY) <= 1e-5


# ---- sampling gives diffusers' images ----------------------------------------------------------------------

def diffusers_loop(net, scheduler, steps: int, T: int, seed: int, n: int, **step_kwargs) -> torch.Tensor:
    """diffusers' scheduler loop on our timesteps, x_T and step noise drawn from the seed in our order.

    With fewer steps than T, DDIMScheduler.step takes t − T // num_inference_steps as its predecessor; it is set
    per step so that this is our predecessor (our steps are linspace-rounded, with uneven gaps)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 3, 16, 16), generator=generator)
    timesteps = sampling_timesteps(T, steps).flip(0).tolist()
    with torch.inference_mode():
        for t, t_prev in zip(timesteps, timesteps[1:] + [-1]):
            if steps < T:
                scheduler.num_inference_steps = next(k for k in range(1, T + 1) if T // k == t - t_prev)
            x = scheduler.step(net(x, t).sample, t, x, generator=generator, **step_kwargs).prev_sample
    return x


def ours(checkpoint, **settings) -> torch.Tensor:
    frame = None
    for frame in SamplingRun(checkpoint, SampleConfig(n=2, seed=7, device="cpu", **settings)).frames():
        pass
    return frame.step.prev_sample


@pytest.mark.parametrize("variance_type", ["fixed_small", "fixed_large"])
def test_ddpm_samples_the_images_of_diffusers_ddpm_scheduler(tiny, variance_type):
    net, _, checkpoint = tiny
    T = checkpoint.diffusion.num_timesteps
    scheduler = DDPMScheduler.from_config(dict(checkpoint.config["source"]["scheduler_config"],
                                               variance_type=variance_type))
    scheduler.set_timesteps(T)
    theirs = diffusers_loop(net, scheduler, T, T, seed=7, n=2)
    mine = ours(checkpoint, variance=conv.VARIANCES[variance_type])
    # a random net's chain from float64 (ours) and float32 (diffusers) schedules: measured 2e-5 over 40 steps
    assert (mine - theirs).abs().max().item() <= 1e-4


@pytest.mark.parametrize("steps", [20, 7])  # all T; uneven gaps (3, 3, 4, 3, 3, 3)
def test_ddim_samples_the_images_of_diffusers_ddim_scheduler(tiny, steps):
    net, _, checkpoint = tiny
    T = checkpoint.diffusion.num_timesteps
    scheduler = DDIMScheduler(num_train_timesteps=T, beta_schedule="linear", clip_sample=True, set_alpha_to_one=True)
    scheduler.set_timesteps(steps)
    theirs = diffusers_loop(net, scheduler, steps, T, seed=7, n=2, eta=0.0, use_clipped_model_output=True)
    assert (ours(checkpoint, sampler="ddim", steps=steps) - theirs).abs().max().item() <= 1e-4


# ---- what the checkpoint records ------------------------------------------------------------------------

def test_the_checkpoint_records_the_whole_config_and_its_source_and_stores_one_set_of_weights(cifar10):
    _net, folder, result = cifar10
    checkpoint = load_checkpoint(result.path)
    config = checkpoint.config
    assert config["architecture"] == "unet" and config["weights"] == ["ema"]
    assert checkpoint.raw_model is checkpoint.model
    assert checkpoint.diffusion_config == DiffusionConfig()  # linear 1e-4 → 0.02, T = 1000
    assert checkpoint.prediction == "eps" and config["sampling"] == {"variance": "beta_tilde", "clip": True}
    assert config["dataset"] == {"name": "cifar10", "title": "CIFAR-10", "from": "ddpm-cifar10-32"}
    source = config["source"]
    assert source["config"] == json.loads((folder / conv.CONFIG_NAME).read_text())
    assert source["scheduler_config"] == SCHEDULER and source["folder"] == "ddpm-cifar10-32"
    for entry in source["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert {e["name"] for e in source["files"]} == {"config.json", "diffusion_pytorch_model.safetensors",
                                                    "scheduler_config.json"}
    model = UNetConfig.from_dict(config["model"])
    assert (model.norm_num_groups, model.norm_eps, model.time_freq_shift, model.downsample_padding) == (32, 1e-6, 1, 0)
    assert result.bytes < 4 * result.parameters * 1.01  # one set of float32 weights, not two


def test_a_trained_checkpoint_still_stores_both_sets(tmp_path):
    net = UNet(UNetConfig(image_size=16, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,)))
    path = save_checkpoint(tmp_path / "t.safetensors", net, net, diffusion=DiffusionConfig(timesteps=10))
    checkpoint = load_checkpoint(path)
    assert "weights" not in checkpoint.config and "source" not in checkpoint.config
    assert checkpoint.raw_model is not checkpoint.model


def test_the_paper_figures_and_the_data_set_of_each_release():
    cifar = figures_for("cifar10")
    assert (cifar.inception_score, cifar.fid, cifar.nll_test, cifar.nll_train) == ("9.46 ± 0.11", 3.17, 3.75, 3.72)
    assert cifar.variance == "beta" and figures_for("lsun_church").variance == "beta_tilde"  # the authors' scripts
    assert figures_for("lsun_church").fid == 7.89 and figures_for("lsun_bedroom").fid == 6.36
    assert figures_for("lsun_cat").fid == 19.75 and figures_for("celebahq").fid is None and figures_for(None) is None
    names = {"ddpm-cifar10-32": "cifar10", "ddpm-ema-celebahq-256": "celebahq", "ddpm-ema-church-256": "lsun_church",
             "ddpm-bedroom-256": "lsun_bedroom", "ddpm-ema-cat-256": "lsun_cat"}
    for name, key in names.items():
        assert guess_dataset(name) == (key, name)
    assert guess_dataset("my-model", "categories") is None


def test_the_defaults_assumed_for_missing_config_keys_are_diffusers_own():
    signature = inspect.signature(UNet2DModel.__init__).parameters
    for key, value in conv.DIFFUSERS_DEFAULTS.items():
        default = signature[key].default
        assert (list(default) if isinstance(default, tuple) else default) == value, key


# ---- bad inputs: a clear message, nothing written -------------------------------------------------------------

def bad_folder(tmp_path, tiny, change):
    """A copy of the tiny model's folder, changed by `change(folder)`."""
    _, folder, _ = tiny
    target = tmp_path / "bad"
    target.mkdir()
    for path in folder.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    change(target)
    return target


def edit_config(**values):
    def change(folder):
        path = folder / conv.CONFIG_NAME
        path.write_text(json.dumps({**json.loads(path.read_text()), **values}))
    return change


def truncate(folder):
    path = folder / conv.WEIGHT_NAMES[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("change, code, words", [
    (lambda f: (f / conv.CONFIG_NAME).unlink(), "convert.no_config", "has no config.json"),
    (edit_config(_class_name="UNet2DConditionModel"), "convert.not_unet2d", "UNet2DConditionModel, not a UNet2DModel"),
    (edit_config(_class_name="AutoencoderKL"), "convert.not_unet2d", "not a UNet2DModel"),
    (edit_config(block_out_channels=[32, 96]), "convert.weights_mismatch", "do not fit its config.json"),
    (edit_config(layers_per_block=2), "convert.weights_mismatch", "missing"),
    (edit_config(resnet_time_scale_shift="scale_shift"), "convert.unsupported_layout", "resnet_time_scale_shift"),
    (edit_config(sample_size=8), "convert.invalid_layout", "image_size 8"),
    (truncate, "convert.unreadable_weights", "damaged, truncated"),
    (lambda f: (f / conv.WEIGHT_NAMES[0]).unlink(), "convert.no_weights", "no weights"),
    (lambda f: (f / conv.SCHEDULER_NAME).write_text(json.dumps(dict(SCHEDULER, trained_betas=[0.1] * 20))),
     "convert.unsupported_scheduler", "trained_betas"),
    (lambda f: (f / conv.SCHEDULER_NAME).write_text("{not json"), "convert.bad_json", "not readable JSON"),
])
def test_a_bad_source_is_a_clear_message_and_nothing_is_written(tmp_path, tiny, change, code, words):
    folder = bad_folder(tmp_path, tiny, change)
    out = tmp_path / "out" / "model.safetensors"
    with pytest.raises(CheckpointError) as info:
        conv.convert(folder, out)
    assert info.value.code == code and words in str(info.value)
    assert not out.parent.exists()  # not even the folder


def test_a_failed_conversion_leaves_the_previous_file_intact(tmp_path, tiny):
    _, folder, _ = tiny
    out = conv.convert(folder, tmp_path / "model.safetensors").path
    before = out.read_bytes()
    broken = bad_folder(tmp_path, tiny, truncate)
    with pytest.raises(CheckpointError):
        conv.convert(broken, out)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_output_may_not_replace_its_source_and_must_be_safetensors(tmp_path, tiny):
    _, folder, _ = tiny
    with pytest.raises(CheckpointError, match="would replace the file it is converted from"):
        conv.convert(folder, folder / conv.WEIGHT_NAMES[0])
    with pytest.raises(CheckpointError, match="must be a .safetensors file name"):
        conv.convert(folder, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        conv.convert(tmp_path / "nowhere", tmp_path / "model.safetensors")


def test_a_256_model_asked_for_1000_images_on_a_cpu_is_told_what_it_would_cost(church):
    checkpoint = load_checkpoint(church[1].path)
    seconds = conv.forward_seconds(checkpoint, batch=1, repeats=1)
    assert 0 < seconds < 60
    estimate = conv.estimate_cost(checkpoint, images=1000, steps=1000, batch=1, forward_s=seconds)
    assert estimate.seconds == pytest.approx(seconds * 1e6) and estimate.needs_confirmation
    with pytest.raises(UserError) as info:
        conv.check_cost(estimate, images=1000)
    assert info.value.code == "convert.too_slow" and "1,000 images would take about" in str(info.value)
    conv.check_cost(conv.estimate_cost(checkpoint, 4, 50, batch=1, forward_s=1e-3), images=4)  # 0.2 s: fine


# ---- the command line ----------------------------------------------------------------------------------

def test_the_command_line_prints_a_summary_and_exits_2_on_bad_input(tmp_path, tiny, capsys):
    _, folder, _ = tiny
    out = tmp_path / "cli.safetensors"
    assert conv.main([str(folder), "--out", str(out), "--dataset", "cifar10"]) == 0
    printed = capsys.readouterr().out
    assert "parameters: " in printed and "CIFAR-10" in printed and f"written: {out}" in printed
    assert "note: the paper's figures use σ² = β, the scheduler config σ² = β̃" in printed
    assert load_checkpoint(out).config["dataset"]["from"] == "chosen"
    assert conv.main([str(tmp_path / "missing"), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "x.safetensors").exists()


def test_a_conversion_error_reaches_the_page_in_korean(tmp_path, tiny):
    from ui import i18n

    with pytest.raises(CheckpointError) as info:
        conv.convert(tmp_path / "nowhere", tmp_path / "x.safetensors")
    broken = bad_folder(tmp_path, tiny, edit_config(sample_size=8))
    with pytest.raises(CheckpointError) as nested:
        conv.convert(broken, tmp_path / "x.safetensors")
    with i18n.language_scope("ko"):
        assert i18n.message(info.value) == f"'{tmp_path / 'nowhere'}'이(가) 없습니다"
        assert i18n.message(nested.value).startswith("'config.json'이(가) 기술하는 U-Net은 이 앱에서 만들 수 없습니다")
