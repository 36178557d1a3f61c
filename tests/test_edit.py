"""Editing with a diffusion model (ddpm_core/edit.py): SDEdit, replacement and RePaint inpainting, their masks,
checks and the CLI.

The exact answers come from analytic ε-models: for data that is one image x*, E[ε | x_t] = (x_t − √ᾱ_t x*)/√(1 − ᾱ_t)
(so x̂_0 = x* at every step), and for standard Gaussian data E[ε | x_t] = √(1 − ᾱ_t) x_t. A tiny random U-Net saved
as a checkpoint (conditional and not) checks that every method runs on real checkpoints.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import write_png_header
from ddpm_core import edit as edit_module
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.diffusion import INDEX_X0, index_of
from ddpm_core.edit import (Chain, EditConfig, descent, edit, edit_frames, edit_model, load_for_model,
                            load_pair, mask_tensor, repaint_moves, sdedit, _walk)
from ddpm_core.errors import UserError
from ddpm_core.images import ImageError
from ddpm_core.mlp import DenoiserMLP, MLPConfig
from ddpm_core.unet import UNet, UNetConfig

T = 50
DIFFUSION = DiffusionConfig(timesteps=T).build()  # the paper's linear β, on a shorter chain
SIZE = 8
CLASSES = ["zero", "one", "two"]
UNET_SIZE = 16  # the smallest the U-Net takes
TINY = dict(image_size=UNET_SIZE, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
            dropout=0.0)


def one_image_model(x_star: torch.Tensor, diffusion=DIFFUSION):
    """The exact ε-model of the data set {x*}: E[ε | x_t] = (x_t − √ᾱ_t x*) / √(1 − ᾱ_t)."""
    def model(x, t):
        abar = diffusion.alphas_cumprod[t].to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return (x - abar.sqrt() * x_star) / (1 - abar).sqrt()
    return model


def gaussian_model(diffusion=DIFFUSION):
    """The exact ε-model of standard Gaussian data: q(x_t) = N(0, I), so E[ε | x_t] = √(1 − ᾱ_t) x_t."""
    def model(x, t):
        abar = diffusion.alphas_cumprod[t].to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return (1 - abar).sqrt() * x
    return model


def image(seed: int, shape=(1, 1, SIZE, SIZE)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def half_mask(size: int = SIZE) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[:, size // 2:] = True  # fill the right half, keep the left
    return mask


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A tiny unconditional and a tiny conditional U-Net, saved and loaded as checkpoints."""
    folder = tmp_path_factory.mktemp("edit-ckpt")
    torch.manual_seed(0)
    plain = UNet(UNetConfig(**TINY))
    conditional = UNet(UNetConfig(**TINY, num_classes=len(CLASSES)))
    with torch.no_grad():  # away from the zero-initialised output and class table, so labels matter
        for parameter in [*plain.parameters(), *conditional.parameters()]:
            parameter.add_(torch.randn_like(parameter) * 0.05)
    diffusion = DiffusionConfig(timesteps=T)
    return {
        "unconditional": load_checkpoint(save_checkpoint(folder / "plain.safetensors", plain, plain,
                                                         diffusion=diffusion, dataset={"name": "noise"})),
        "conditional": load_checkpoint(save_checkpoint(folder / "classes.safetensors", conditional, conditional,
                                                       diffusion=diffusion,
                                                       dataset={"name": "noise", "classes": CLASSES})),
    }


# ---- t₀ = 0 and t₀ = T ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["sdedit", "replace", "repaint"])
def test_t0_zero_returns_the_input_exactly(method):
    x0 = image(1)
    config = EditConfig(method, index_of(0), steps=10)
    assert list(edit_frames(gaussian_model(), DIFFUSION, x0, config, half_mask())) == []
    assert torch.equal(edit(gaussian_model(), DIFFUSION, x0, config, half_mask()), x0)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_at_t0_T_the_result_is_uncorrelated_with_the_input(sampler):
    """From t₀ = T the input survives only as √ᾱ_T ≈ 0.0065 of x_T: the sample correlation of the result with the
    input is 0 within 4 standard errors (1/√D for D independent pixels)."""
    diffusion = DiffusionConfig(timesteps=1000).build()
    x0 = image(2, (1, 3, 32, 32))
    result = edit(gaussian_model(diffusion), diffusion, x0, EditConfig("sdedit", index_of(1000), sampler=sampler,
                                                                      steps=50, seed=3, clip=False))
    tolerance = 4 / math.sqrt(x0.numel())
    assert abs(edit_module.correlation(result, x0)) < tolerance
    assert float(diffusion.sqrt_alphas_cumprod[-1]) < tolerance / 10  # the expectation itself is negligible
    faithful = edit(gaussian_model(diffusion), diffusion, x0, EditConfig("sdedit", index_of(10), steps=50, seed=3))
    assert edit_module.correlation(faithful, x0) > 0.9  # and a small t₀ keeps the input


def test_x_t0_is_the_forward_process_sample_and_one_seed_gives_one_noise():
    x0 = image(4)
    generator = torch.Generator().manual_seed(7)
    noise = torch.randn(x0.shape, generator=generator)
    expected = DIFFUSION.q_sample(x0, 20, noise)
    assert torch.equal(edit_module.noised(DIFFUSION, x0, 20, noise), expected)
    assert torch.equal(edit_module.noised(DIFFUSION, x0, INDEX_X0, noise), x0)
    seen = []
    sdedit_first = next(iter(edit_frames(lambda x, t: seen.append(x.clone()) or torch.zeros_like(x), DIFFUSION, x0,
                                         EditConfig("sdedit", 20, seed=7))))
    assert torch.equal(seen[0], expected) and sdedit_first.t == 20


# ---- inpainting ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["replace", "repaint"])
@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_inpainting_keeps_the_known_pixels_exactly_and_changes_the_masked_ones(method, sampler):
    x0, mask = image(5), half_mask()
    config = EditConfig(method, index_of(T), sampler=sampler, eta=0.5, steps=10, jump=2, resample=3, seed=1)
    result = edit(one_image_model(image(6)), DIFFUSION, x0, config, mask)
    assert torch.equal(result[..., ~mask], x0[..., ~mask])
    changed = (result[..., mask] - x0[..., mask]).abs()
    assert float(changed.min()) > 0 and float(changed.mean()) > 0.2


@pytest.mark.parametrize("sampler, eta", [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 1.0)])
def test_repaint_with_r_1_and_j_1_is_replacement_from_the_same_noise(sampler, eta):
    x0, mask, model = image(7), half_mask(), one_image_model(image(8))
    replaced = edit(model, DIFFUSION, x0, EditConfig("replace", T - 1, sampler=sampler, eta=eta, steps=20, seed=4),
                    mask)
    repainted = edit(model, DIFFUSION, x0, EditConfig("repaint", T - 1, sampler=sampler, eta=eta, steps=20, seed=4,
                                                      jump=1, resample=1), mask)
    assert torch.equal(replaced, repainted)
    assert repaint_moves(20, 1, 1) == repaint_moves(20, 5, 1) == descent(20)


def test_repaint_with_r_2_resamples_and_differs():
    x0, mask, model = image(7), half_mask(), gaussian_model()
    frames = list(edit_frames(model, DIFFUSION, x0, EditConfig("repaint", T - 1, steps=20, seed=4, jump=5,
                                                               resample=2), mask))
    replaced = edit(model, DIFFUSION, x0, EditConfig("replace", T - 1, steps=20, seed=4), mask)
    assert frames[-1].nfe == 20 + 3 * 5  # jumps at chain steps 0, 5 and 10 (not 15: it would leave the chain)
    assert any(f.t_prev > f.t for f in frames) and frames[-1].t_prev == INDEX_X0
    assert not torch.equal(frames[-1].step.prev_sample, replaced)


@pytest.mark.parametrize("count, jump, resample", [(20, 5, 2), (100, 10, 10), (7, 3, 4), (5, 5, 3)])
def test_repaint_schedule_walks_each_segment_r_times_and_ends_at_x0(count, jump, resample):
    moves = repaint_moves(count, jump, resample)
    assert moves[0] == (count - 1, count - 2) and moves[-1] == (0, INDEX_X0)
    assert all(abs(a - b) == 1 and -1 <= b < count for a, b in moves)
    assert all(b == a for (_, a), (b, _) in zip(moves, moves[1:]))  # each move starts where the last ended
    jumps = len(range(0, count - jump, jump))
    downs = sum(1 for a, b in moves if b < a)
    assert downs == count + (resample - 1) * jump * jumps


@pytest.mark.parametrize("method", ["replace", "repaint"])
@pytest.mark.parametrize("sampler, steps", [("ddpm", None), ("ddpm", 13), ("ddim", 13)])
def test_with_the_exact_model_of_a_one_image_data_set_inpainting_reconstructs_it(method, sampler, steps):
    """The known half is the image's own: the exact model's x̂_0 is x* at every step (at the right indices only,
    so respacing is checked too), and the filled half ends as x*'s."""
    x_star, mask = image(9), half_mask()
    config = EditConfig(method, index_of(T), sampler=sampler, steps=steps, seed=2, jump=3, resample=2)
    damaged = torch.where(mask, torch.zeros_like(x_star), x_star)
    result = edit(one_image_model(x_star), DIFFUSION, damaged, config, mask)
    torch.testing.assert_close(result, x_star, atol=1e-4, rtol=0)  # float32 rounding; a wrong index: ~0.1


def test_the_walk_down_is_the_samplers_chain():
    """With nothing known (an all-filling mask, which only the internals take) and deterministic DDIM, the
    replacement walk is SDEdit's `sample_loop`, frame for frame."""
    x0, model = image(10), one_image_model(image(11))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    options = dict(sampler="ddim", steps=9, eta=0.0, clip=True)
    chain = Chain(model, DIFFUSION, 30, generator=torch.Generator().manual_seed(1), **options)
    walked = list(_walk(chain, x0, torch.ones(SIZE, SIZE, dtype=torch.bool), DIFFUSION.q_sample(x0, 30, noise),
                        descent(chain.count)))
    looped = list(sdedit(model, DIFFUSION, x0, 30, noise, **options))
    assert [(f.t, f.t_prev) for f in walked] == [(f.t, f.t_prev) for f in looped]
    for a, b in zip(walked, looped):
        assert torch.equal(a.step.prev_sample, b.step.prev_sample)


def test_steps_keep_one_stride_for_every_t0():
    config = EditConfig("sdedit", 0, steps=100)
    assert config.steps_from(499, 1000) == 50 and config.steps_from(999, 1000) == 100
    assert config.steps_from(3, 1000) == 1
    assert EditConfig("sdedit", 0).steps_from(499, 1000) is None
    assert EditConfig("sdedit", 0, steps=1000).steps_from(499, 1000) == 500


# ---- checkpoints: conditional and not ------------------------------------------------------------------------

@pytest.mark.parametrize("kind, class_name", [("unconditional", None), ("conditional", None),
                                              ("conditional", "two")])
@pytest.mark.parametrize("method", ["sdedit", "replace", "repaint"])
def test_every_method_runs_on_a_conditional_and_an_unconditional_checkpoint(checkpoints, kind, class_name, method):
    checkpoint = checkpoints[kind]
    model = edit_model(checkpoint, class_name, guidance=2.0)
    x0, mask = image(12, (1, 1, UNET_SIZE, UNET_SIZE)), half_mask(UNET_SIZE)
    config = EditConfig(method, index_of(T // 2), steps=10, jump=2, resample=2)
    frames = list(edit_frames(model, checkpoint.diffusion, x0, config, mask, checkpoint.prediction))
    result = frames[-1].step.prev_sample
    assert result.shape == x0.shape and torch.isfinite(result).all() and frames[-1].t_prev == INDEX_X0
    if method != "sdedit":
        assert torch.equal(result[..., ~mask], x0[..., ~mask])


def test_guidance_towards_a_class_changes_the_edit(checkpoints):
    checkpoint, x0 = checkpoints["conditional"], image(13, (1, 1, UNET_SIZE, UNET_SIZE))
    config = EditConfig("sdedit", index_of(T // 2), steps=10)
    results = [edit(edit_model(checkpoint, name, guidance=3.0), checkpoint.diffusion, x0, config)
               for name in ("zero", "two")]
    assert not torch.equal(*results)


def test_a_class_for_an_unconditional_checkpoint_or_an_unknown_class_is_refused(checkpoints):
    with pytest.raises(UserError) as unconditional:
        edit_model(checkpoints["unconditional"], "two")
    with pytest.raises(UserError) as unknown:
        edit_model(checkpoints["conditional"], "seven")
    assert unconditional.value.code == "guidance.unconditional" and unknown.value.code == "guidance.class_unknown"


def test_a_2d_lab_checkpoint_is_refused(tmp_path):
    mlp = DenoiserMLP(MLPConfig())
    checkpoint = load_checkpoint(save_checkpoint(tmp_path / "points.safetensors", mlp, mlp,
                                                 diffusion=DiffusionConfig(timesteps=T)))
    with pytest.raises(UserError, match="2-D points") as refused:
        edit_model(checkpoint)
    assert refused.value.code == "edit.points_model"


# ---- bad inputs ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mask, code, words", [
    (torch.zeros(SIZE, SIZE, dtype=torch.bool), "edit.mask_empty", "nothing to fill"),
    (torch.ones(SIZE, SIZE, dtype=torch.bool), "edit.mask_full", "nothing is kept"),
    (torch.ones(SIZE, SIZE + 1, dtype=torch.bool), "edit.mask_size", "9×8 pixels but the image is 8×8"),
])
@pytest.mark.parametrize("method", ["replace", "repaint"])
def test_bad_masks_are_explained(mask, code, words, method):
    with pytest.raises(UserError, match=words) as refused:
        edit_frames(gaussian_model(), DIFFUSION, image(1), EditConfig(method, 10), mask)
    assert refused.value.code == code


def test_inpainting_without_a_mask_is_refused():
    with pytest.raises(UserError) as refused:
        edit_frames(gaussian_model(), DIFFUSION, image(1), EditConfig("replace", 10))
    assert refused.value.code == "edit.mask_missing"


@pytest.mark.parametrize("changes, code, words", [
    (dict(t0=T), "edit.t0", f"from 0 .* to T = {T}, got {T + 1}"),
    (dict(t0=-2), "edit.t0", "got -1"),
    (dict(method="blur"), "edit.method", "sdedit, replace, repaint"),
    (dict(sampler="heun"), "edit.sampler", "DDPM or DDIM"),
    (dict(steps=T + 1), "sample.steps", "steps must be from 1"),
    (dict(method="repaint", jump=0), "edit.repaint", "j = 0"),
    (dict(method="repaint", resample=51), "edit.repaint", "r = 51"),
    (dict(method="repaint", steps=10, jump=11), "edit.repaint", "chain's 5 steps"),
])
def test_settings_out_of_range_are_refused_in_the_papers_steps(changes, code, words):
    config = EditConfig(**{"method": "sdedit", "t0": 24, **changes})
    with pytest.raises(UserError, match=words) as refused:
        config.check(T)
    assert refused.value.code == code


def test_a_painted_mask_follows_its_image_to_the_models_size():
    painted = np.zeros((40, 80), dtype=np.uint8)  # a wide image: pad puts bands above and below
    painted[:, 40:] = 255
    padded = mask_tensor(painted, (40, 80), SIZE, "pad")
    assert padded.shape == (SIZE, SIZE) and not padded[:2].any() and not padded[-2:].any()  # bands: kept
    assert padded[3:5, 4:].all() and not padded[3:5, :4].any()
    cropped = mask_tensor(painted, (40, 80), SIZE, "crop")
    assert cropped[:, 4:].all() and not cropped[:, :4].any()
    with pytest.raises(UserError) as refused:
        mask_tensor(painted, (40, 81), SIZE)
    assert refused.value.code == "edit.mask_size"


def test_image_and_mask_files_are_read_pixel_for_pixel(tmp_path):
    picture = np.zeros((30, 30, 3), dtype=np.uint8)
    picture[:, :15] = 255
    Image.fromarray(picture).save(tmp_path / "in.jpg", quality=95)
    mask = np.zeros((30, 30), dtype=np.uint8)
    mask[:, 15:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    x0, filled = load_pair(tmp_path / "in.jpg", tmp_path / "mask.png", SIZE, 1)
    assert x0.shape == (1, 1, SIZE, SIZE) and filled[:, 4:].all() and not filled[:, :4].any()
    Image.fromarray(mask[:, :29]).save(tmp_path / "narrow.png")
    with pytest.raises(UserError, match="29×30 pixels but the image is 30×30"):
        load_pair(tmp_path / "in.jpg", tmp_path / "narrow.png", SIZE, 1)


@pytest.mark.parametrize("make, code", [
    (lambda p: p.write_bytes(b""), "image.empty"),
    (lambda p: p.write_bytes(b"not an image at all"), "image.not_an_image"),
    (lambda p: write_png_header(p, 20000, 20000), "image.too_large"),
])
def test_images_the_other_tabs_refuse_are_refused(tmp_path, make, code):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageError) as refused:
        load_for_model(path, SIZE, 1)
    assert refused.value.code == code


# ---- the command line --------------------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path, checkpoints):
    pixels = np.tile(np.linspace(0, 255, UNET_SIZE, dtype=np.uint8), (UNET_SIZE, 1))
    Image.fromarray(pixels).save(tmp_path / "in.png")
    mask = np.zeros((UNET_SIZE, UNET_SIZE), dtype=np.uint8)
    mask[2:5, 2:6] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path, checkpoints["unconditional"].path, pixels, mask > 0


def test_the_cli_at_t0_zero_writes_the_input(files):
    folder, checkpoint, pixels, _ = files
    out = folder / "out.png"
    assert edit_module.main(["--checkpoint", str(checkpoint), "--image", str(folder / "in.png"), "--t0", "0",
                             "--out", str(out)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), pixels)


def test_the_cli_inpaints_with_a_mask_file_and_writes_an_animation(files):
    folder, checkpoint, pixels, fill = files
    out, gif = folder / "out.png", folder / "anim.gif"
    assert edit_module.main(["--checkpoint", str(checkpoint), "--image", str(folder / "in.png"), "--mask",
                             str(folder / "mask.png"), "--method", "repaint", "--steps", "10", "--jump", "2",
                             "--resample", "2", "--seed", "1", "--out", str(out), "--gif", str(gif)]) == 0
    result = np.asarray(Image.open(out))
    assert np.array_equal(result[~fill], pixels[~fill]) and not np.array_equal(result[fill], pixels[fill])
    assert Image.open(gif).n_frames > 1


@pytest.mark.parametrize("extra, words", [
    (["--method", "replace"], "needs --mask"),
    (["--t0", "51"], "t₀ must be a step from 0"),
    (["--method", "replace", "--mask", "EMPTY"], "nothing to fill"),
    (["--out", "x.jpg"], "must name a .png"),
])
def test_the_cli_explains_bad_inputs(files, capsys, extra, words):
    folder, checkpoint, _, _ = files
    Image.fromarray(np.zeros((UNET_SIZE, UNET_SIZE), dtype=np.uint8)).save(folder / "empty.png")
    extra = [str(folder / "empty.png") if a == "EMPTY" else a for a in extra]
    argv = ["--checkpoint", str(checkpoint), "--image", str(folder / "in.png"), "--out", str(folder / "o.png"), *extra]
    assert edit_module.main(argv) == 2
    assert words in capsys.readouterr().err
