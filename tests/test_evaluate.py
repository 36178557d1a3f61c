"""Evaluation: the held-out split, loading images, summaries of a bound, stopping, the CLI, progressive decoding."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT
from ddpm_core import evaluate
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.data import DataError, held_out, load_image_folder, scan_folder, split_files
from ddpm_core.likelihood import Bound, BoundEvaluation
from ddpm_core.progressive import check_steps, predictions, shared_samples
from ddpm_core.train import TrainConfig, train
from ddpm_core.unet import UNet, UNetConfig

DIGITS = ROOT / "assets" / "digits"
TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0)
LEVELS = torch.arange(256, dtype=torch.float32) / 127.5 - 1


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("pics")
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(root / f"p{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, UNet(TINY), UNet(TINY), diffusion=DiffusionConfig(schedule="cosine", timesteps=30),
                           step=2, dataset={"root": "pics", "num_images": 12})


# ---- the split --------------------------------------------------------------------------------------

def test_the_held_out_share_is_about_the_fraction_asked_and_fixed_by_the_path():
    names = [f"{label}/{row:05d}.png" for label in range(10) for row in range(2000)]
    share = sum(held_out(n, 0.1) for n in names) / len(names)
    assert abs(share - 0.1) < 4 * math.sqrt(0.1 * 0.9 / len(names))  # binomial, 4 σ
    assert [held_out(n, 0.1) for n in names[:50]] == [held_out(n, 0.1) for n in names[:50]]
    assert not any(held_out(n, 0.0) for n in names[:500])
    nested = {n for n in names if held_out(n, 0.05)}
    assert nested <= {n for n in names if held_out(n, 0.1)}  # a larger share only adds files


def test_the_splits_of_the_bundled_digits_are_disjoint_and_complete():
    files = scan_folder(str(DIGITS)).images
    train_files, holdout_files = split_files(files, 0.1, "train"), split_files(files, 0.1, "holdout")
    assert set(train_files).isdisjoint(holdout_files) and sorted(train_files + holdout_files) == files
    assert len(holdout_files) == 187  # the number the bundled checkpoint's README quotes
    data = load_image_folder(DIGITS, 16, 1, flip=False, holdout=0.1, split="train")
    assert data.num_images == 1610 and data.num_held_out == 187 and "187 held out for evaluation" in str(data.summary())
    assert data.to_dict()["holdout"] == 0.1 and data.to_dict()["split"] == "train"
    with pytest.raises(ValueError, match="unknown split"):
        split_files(files, 0.1, "test")
    with pytest.raises(DataError, match="held-out share must be in"):
        split_files(files, 1.5, "train")


def test_a_folder_too_small_to_hold_any_out_says_so(tmp_path):
    Image.new("L", (16, 16)).save(tmp_path / "a.png")
    split = "holdout" if not held_out("a.png", 0.3) else "train"
    with pytest.raises(DataError, match="fall in the"):
        load_image_folder(tmp_path, 16, 1, holdout=0.3, split=split)


def test_training_with_a_held_out_share_never_sees_those_files_and_records_it(folder, tmp_path):
    config = TrainConfig(image_size=16, channels=1, batch_size=4, steps=2, warmup_steps=0, save_every=2, holdout=0.3)
    result = train(config, DiffusionConfig(timesteps=100, rescale=True), folder, tmp_path)
    saved = load_checkpoint(result.checkpoint).config
    expected = [f for f in scan_folder(str(folder)).images if not held_out(f, 0.3)]
    assert saved["training"]["holdout"] == 0.3 and saved["dataset"]["num_images"] == len(expected) < 12
    assert saved["dataset"]["num_held_out"] == 12 - len(expected)
    with pytest.raises(ValueError, match="held-out share must be from 0 to 0.5"):
        TrainConfig(holdout=0.7).check()


# ---- images -----------------------------------------------------------------------------------------------

def test_pick_is_seeded_keeps_order_and_takes_all_when_fewer():
    pixels = torch.arange(20, dtype=torch.uint8).view(20, 1, 1, 1)
    a, b = evaluate.pick(pixels, 5, seed=1), evaluate.pick(pixels, 5, seed=1)
    assert torch.equal(a, b) and a.flatten().tolist() == sorted(a.flatten().tolist())
    assert not torch.equal(a, evaluate.pick(pixels, 5, seed=2))
    assert torch.equal(evaluate.pick(pixels, 50), pixels)
    with pytest.raises(ValueError, match="at least 1"):
        evaluate.pick(pixels, 0)


def test_pick_indices_are_the_images_pick_keeps():
    pixels = torch.arange(20, dtype=torch.uint8).view(20, 1, 1, 1)
    index = evaluate.pick_indices(len(pixels), 5, seed=1)
    assert torch.equal(pixels[index], evaluate.pick(pixels, 5, seed=1))
    assert torch.equal(evaluate.pick_indices(3, 5), torch.arange(3))


def test_files_that_are_not_images_are_skipped_and_named(folder, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    pixels, skipped = evaluate.file_pixels([folder / "p00.png", bad], 16, 1)
    assert pixels.shape == (1, 1, 16, 16) and pixels.dtype == torch.uint8
    assert skipped[0][0] == "notes.png" and skipped[0][1]
    with pytest.raises(DataError, match="None of the files could be read"):
        evaluate.file_pixels([bad], 16, 1)


# ---- the bound's figures --------------------------------------------------------------------------------

def test_summarize_splits_the_total_into_its_parts_and_bands():
    T = 200
    terms = torch.full((2, T), 0.01, dtype=torch.float64)
    terms[:, 0] = 0.5  # L_0 (index 0 is paper step t = 1), then L_1 … L_199
    bound = Bound(torch.tensor([0.001, 0.003]), torch.arange(T - 1, -1, -1), torch.ones(T, dtype=torch.float64),
                  terms.flip(1), torch.zeros(2, T))
    s = evaluate.summarize(bound, T)
    assert s["bits_per_dim"] == pytest.approx(0.002 + 0.5 + 199 * 0.01)
    assert s["decoder_L_0"] == pytest.approx(0.5) and s["kl_terms"] == pytest.approx(1.99)
    assert s["prior_L_T"] == pytest.approx(0.002) and s["exact"] and s["images"] == 2
    bands = {(b["from"], b["to"]): b["bits_per_dim"] for b in s["bands"]}
    assert bands == pytest.approx({(1, 1): 0.5, (2, 10): 0.09, (11, 100): 0.9, (101, 200): 1.0})
    assert sum(b["share"] for b in s["bands"]) == pytest.approx(1 - 0.002 / s["bits_per_dim"])


def test_a_stopped_evaluation_gives_the_terms_so_far(checkpoint_path, folder):
    pixels, _ = evaluate.folder_pixels(folder, 16, 1)
    evaluation = evaluate.start(load_checkpoint(checkpoint_path), pixels[:3], strata=5, seed=0)
    assert isinstance(evaluation, BoundEvaluation) and evaluation.columns == 10
    for done in evaluation:
        if done == 3:
            break
    partial = evaluation.result()
    assert partial.terms.shape == (3, 3) and partial.timesteps.shape == (3, 3)
    assert partial.timestep_error().shape == (3,)  # one complete pair so far, the odd term left out
    assert (partial.total > partial.prior).all()


def test_evaluating_needs_images_of_the_models_shape(checkpoint_path):
    with pytest.raises(ValueError, match=r"the images are \(3, 16, 16\) but the model takes \(1, 16, 16\)"):
        evaluate.start(load_checkpoint(checkpoint_path), torch.zeros(2, 3, 16, 16, dtype=torch.uint8))


def test_the_cli_reports_bits_per_dim_and_refuses_a_split_it_cannot_honour(checkpoint_path, folder, tmp_path,
                                                                            capsys):
    report = tmp_path / "r.json"
    code = evaluate.main(["--checkpoint", str(checkpoint_path), "--data", str(folder), "--n", "5", "--strata", "4",
                          "--batch", "2", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "bits/dim" in out and "5 images, 4 strata × 2" in out
    saved = json.loads(report.read_text())
    assert saved["images"] == 5 and saved["terms_per_image"] == 8 and saved["bits_per_dim"] > 0
    code = evaluate.main(["--checkpoint", str(checkpoint_path), "--data", str(folder), "--split", "holdout"])
    assert code == 2 and "trained without a held-out share" in capsys.readouterr().err


# ---- progressive decoding -----------------------------------------------------------------------------------

def _oracle(x0, diffusion):
    return lambda x_t, t: diffusion.predict_eps_from_x0(x_t, t, x0.expand_as(x_t))


def test_predictions_share_one_noise_and_an_oracle_recovers_x0_at_every_t():
    diffusion = DiffusionConfig().build()
    x0 = LEVELS[torch.randint(0, 256, (1, 1, 8, 8), generator=torch.Generator().manual_seed(0))]
    pred = predictions(_oracle(x0, diffusion), diffusion, x0, [9, 999, 499, 499], clip=False,
                       generator=torch.Generator().manual_seed(1))
    assert pred.t == [999, 499, 9] and pred.x_t.shape == (3, 1, 1, 8, 8)
    abar = diffusion.alphas_cumprod[[999, 499, 9]].float().view(3, 1, 1, 1, 1)
    noise = (pred.x_t - abar.sqrt() * x0) / (1 - abar).sqrt()
    torch.testing.assert_close(noise[0], noise[2], atol=1e-3, rtol=0)  # the same ε at every t
    assert pred.rmse.max() < 0.05  # 0–255 scale


def test_samples_that_share_x_t_agree_from_a_small_t_and_differ_from_a_large_one():
    diffusion = DiffusionConfig().build()
    x0 = LEVELS[torch.randint(0, 256, (1, 1, 8, 8), generator=torch.Generator().manual_seed(0))]
    zero = lambda x_t, t: torch.zeros_like(x_t)  # noqa: E731 (a model that knows nothing)
    g = torch.Generator().manual_seed(3)
    near = predictions(zero, diffusion, x0, [4, 899], generator=g)
    small = shared_samples(zero, diffusion, near.x_t[1, 0], 4, 4, generator=g)
    large = shared_samples(zero, diffusion, near.x_t[0, 0], 899, 4, steps=50, generator=g)
    assert small.shape == large.shape == (4, 1, 8, 8)
    assert small.std(0).mean() < 0.1 < large.std(0).mean()  # 5 steps of β ≈ 1e-4 noise vs a long chain
    stopped = shared_samples(zero, diffusion, near.x_t[0, 0], 899, 2, should_stop=lambda: True)
    assert stopped is None


def test_steps_out_of_range_are_refused():
    diffusion = DiffusionConfig(timesteps=50, rescale=True).build()
    assert check_steps(diffusion, [0, 49, 0]) == [49, 0]  # the paper's t = 1 and t = T, the two ends
    for bad in ([-1], [50], [2.5], []):
        with pytest.raises(ValueError, match="from 1 to T = 50|at least one"):
            check_steps(diffusion, bad)
