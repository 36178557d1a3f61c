"""Class-conditional DDPM and classifier-free guidance: the guided prediction against its formula, label dropout
against its binomial law, class folders, the conditional checkpoint, sampling and evaluating it, the CLI."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_core import evaluate
from ddpm_core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.data import DataError, folder_classes, load_image_folder
from ddpm_core.errors import UserError
from ddpm_core.guidance import (ALL_CLASSES, DEFAULT_GUIDANCE, class_names, drop_labels, guided, guided_eps,
                                guided_prediction)
from ddpm_core.sample import SampleConfig, SamplingRun, main, samples_uint8
from ddpm_core.samplers import model_predictions
from ddpm_core.train import TrainConfig, conditioned, train
from ddpm_core.unet import UNet, UNetConfig
from tests.test_unet import build

CLASSES = ["cat", "dog", "owl"]
TINY = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                  dropout=0.0, num_classes=len(CLASSES))
T = 20


def randomised(config: UNetConfig = TINY, seed: int = 0) -> UNet:
    """A conditional net whose zero-initialised layers are randomised, so labels and x reach the output."""
    return build(config, seed)


def inputs(batch: int = 4, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    return x, torch.randint(0, T, (batch,), generator=g), torch.randint(0, len(CLASSES), (batch,), generator=g)


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "classes.safetensors"
    return save_checkpoint(path, randomised(), randomised(), diffusion=DiffusionConfig(schedule="cosine", timesteps=T),
                           step=3, training={"conditional": True, "p_uncond": 0.2},
                           dataset={"root": "pets", "classes": CLASSES, "class_counts": [4, 4, 4]})


@pytest.fixture(scope="module")
def unconditional_path(tmp_path_factory):
    config = UNetConfig(**{**TINY.to_dict(), "num_classes": 0})
    path = tmp_path_factory.mktemp("ckpt") / "plain.safetensors"
    return save_checkpoint(path, UNet(config), UNet(config), diffusion=DiffusionConfig(timesteps=T))


def _save(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (16, 16), dtype=np.uint8)).save(path)


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """cat/ and dog/ with five images each, owl/ with two, and one image in the root (no class)."""
    root = tmp_path_factory.mktemp("pets")
    for name, count in (("cat", 5), ("dog", 5), ("owl", 2)):
        for i in range(count):
            _save(root / name / f"{i}.png", hash((name, i)) % 1000)
    _save(root / "stray.png", 7)
    return root


# ---- the guided prediction -----------------------------------------------------------------------------------

def test_the_guided_prediction_is_its_formula_from_one_batched_pass():
    network, (x, t, labels) = randomised(), inputs()
    null = torch.full_like(labels, TINY.null_class)
    with torch.no_grad():
        eps_c, eps_u = network(x, t, labels), network(x, t, null)
        for w in (0.5, 2.0, 7.5):
            got = guided_prediction(network, x, t, labels, w, TINY.null_class)
            # ε̃ = ε_∅ + w (ε_c − ε_∅); the 2B batch differs from two B batches only in float32 rounding, which
            # w multiplies: |ε| ≲ 1, so a few ulps (1.2e-7 each) times (1 + 2w) stay below 1e-5.
            torch.testing.assert_close(got, eps_u + w * (eps_c - eps_u), rtol=0, atol=1e-5)
    assert not torch.allclose(eps_c, eps_u, atol=1e-3)  # the label matters, so the test can tell w apart


def test_w_one_is_the_conditional_prediction_and_w_zero_the_unconditional():
    network, (x, t, labels) = randomised(), inputs()
    with torch.no_grad():
        assert torch.equal(guided_prediction(network, x, t, labels, 1.0, TINY.null_class), network(x, t, labels))
        assert torch.equal(guided_prediction(network, x, t, labels, 0.0, TINY.null_class), network(x, t))
    eps_c, eps_u = torch.randn(2, 3, 8, 8).unbind()
    assert torch.equal(guided_eps(eps_c, eps_u, 0.0), eps_u)
    torch.testing.assert_close(guided_eps(eps_c, eps_u, 1.0), eps_c, rtol=0, atol=1e-6)  # u + (c − u): rounding


def test_guidance_of_an_x0_network_is_guidance_of_the_eps_it_stands_for():
    """x̂_0 is affine in ε at fixed x_t and t and the weights (1 − w, w) sum to 1, so mixing x̂_0's mixes ε's."""
    network, (x, _, labels) = randomised(), inputs()
    diffusion = DiffusionConfig(timesteps=T).build()
    w, step = 3.0, 11
    with torch.no_grad():
        _, eps_guided = model_predictions(guided(network, labels, w, TINY.null_class), diffusion, x, step, "x0")
        _, eps_c = model_predictions(lambda x_, t_: network(x_, t_, labels), diffusion, x, step, "x0")
        _, eps_u = model_predictions(network, diffusion, x, step, "x0")
    torch.testing.assert_close(eps_guided, guided_eps(eps_c, eps_u, w), rtol=0, atol=1e-4)


def test_label_dropout_follows_its_binomial_law():
    labels = torch.arange(100_000) % 10
    g = torch.Generator().manual_seed(0)
    for p in (0.1, 0.2, 0.5):
        dropped = drop_labels(labels, p, 10, generator=g)
        null = dropped == 10
        # The share of ∅ is Binomial(N, p)/N: within 4 σ = 4·√(p(1 − p)/N) (≈ 0.004 at p = 0.1) but for 6e-5
        assert abs(null.float().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / len(labels))
        assert torch.equal(dropped[~null], labels[~null])  # the rest keep their labels
        # and every class loses its share alike: 10,000 per class, 4 σ each
        per_class = torch.stack([null[labels == k].float().mean() for k in range(10)])
        assert (per_class - p).abs().max() < 4 * math.sqrt(p * (1 - p) / 10_000)


def test_training_feeds_the_network_dropped_labels():
    seen = []
    config = TrainConfig(conditional=True, p_uncond=0.25)
    model = conditioned(lambda x, t, labels: seen.append(labels) or x, torch.zeros(40_000, dtype=torch.long),
                        config, null_class=3)
    model(torch.zeros(1), torch.zeros(1))
    share = (seen[0] == 3).float().mean().item()
    assert abs(share - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 40_000)  # binomial, 4 σ
    assert conditioned("net", None, config, 3) == "net"  # an unconditional batch is the network itself


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1])
def test_p_uncond_outside_zero_one_is_refused(p):
    with pytest.raises(UserError, match="p_uncond must lie strictly between 0 and 1"):
        TrainConfig(conditional=True, p_uncond=p).check()


# ---- the network -------------------------------------------------------------------------------------------------

def test_an_unconditional_net_has_no_class_embedding_and_takes_no_labels():
    plain = UNetConfig(**{**TINY.to_dict(), "num_classes": 0})
    torch.manual_seed(0)
    net = UNet(plain)
    assert not any(key.startswith("class_embedding") for key in net.state_dict())
    x, t, labels = inputs()
    with pytest.raises(ValueError, match="unconditional"):
        net(x, t, labels)


def test_no_labels_is_the_null_class_and_the_label_changes_the_output():
    network, (x, t, labels) = randomised(), inputs()
    with torch.no_grad():
        assert torch.equal(network(x, t), network(x, t, torch.full_like(labels, 3)))
        outputs = [network(x, t, torch.full_like(labels, k)) for k in range(4)]
    assert network.class_embedding.weight.shape == (4, 32)  # 3 classes + ∅, width 4·base
    assert all(not torch.allclose(a, b, atol=1e-4) for i, a in enumerate(outputs) for b in outputs[i + 1:])


def test_num_classes_one_is_refused():
    with pytest.raises(UserError, match="num_classes must be 0"):
        UNetConfig(num_classes=1)


# ---- class folders ---------------------------------------------------------------------------------------------

def test_class_folders_give_labels_as_torchvisions_image_folder_does(pets):
    from torchvision.datasets import ImageFolder

    classes = folder_classes(pets)
    reference = ImageFolder(str(pets))
    assert list(classes.names) == reference.classes and classes.counts == (5, 5, 2)
    data = load_image_folder(pets, 16, 1, flip=False, conditional=True)
    ours = {f: int(label) for f, label in zip(data.dataset.files, data.dataset.labels)}
    theirs = {Path(path).relative_to(pets).as_posix(): label for path, label in reference.samples}
    assert ours == theirs  # same files, same labels; the stray root image is in neither
    image, label = data.dataset[0]
    assert image.shape == (1, 16, 16) and int(label) == 0
    assert data.class_counts == (5, 5, 2) and data.to_dict()["classes"] == CLASSES


def test_root_images_single_image_classes_and_empty_folders_get_notices(tmp_path):
    for name, count in (("a", 3), ("b", 1)):
        for i in range(count):
            _save(tmp_path / name / f"{i}.png", i)
    (tmp_path / "empty").mkdir()
    _save(tmp_path / "loose.png", 9)
    notices = [str(m) for m in load_image_folder(tmp_path, 16, 1, conditional=True).notices]
    assert notices == ["1 image sits in {}/ itself, beside the class folders: it has no class and is left out."
                       .format(tmp_path.name), "1 class has a single image (b): the model can only memorise it.",
                       "1 class folder holds no images and is left out: empty."]
    assert str(folder_classes(tmp_path).summary()) == "2 classes: a (3), b (1)"


def test_folders_without_two_classes_are_clear_errors(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    with pytest.raises(DataError, match=r"The 2 class folders of .*/ \(x, y\) hold no images"):
        load_image_folder(tmp_path, 16, 1, conditional=True)
    _save(tmp_path / "x" / "0.png", 0)
    with pytest.raises(DataError, match="needs at least 2 class folders with images; .* has 1"):
        folder_classes(tmp_path).check()
    flat = tmp_path / "flat"
    _save(flat / "0.png", 0)
    with pytest.raises(DataError, match="has 0: put each class's images in a subfolder"):
        load_image_folder(flat, 16, 1, conditional=True)


def test_the_held_out_split_keeps_the_labels_of_the_whole_folder(pets):
    train_part = load_image_folder(pets, 16, 1, holdout=0.3, split="train", conditional=True)
    held = load_image_folder(pets, 16, 1, holdout=0.3, split="holdout", conditional=True)
    assert train_part.classes.names == held.classes.names == tuple(CLASSES)
    assert sorted(train_part.dataset.files + held.dataset.files) == sorted(
        load_image_folder(pets, 16, 1, conditional=True).dataset.files)


# ---- the checkpoint --------------------------------------------------------------------------------------------

def test_a_conditional_checkpoint_round_trips(checkpoint_path):
    checkpoint = load_checkpoint(checkpoint_path)
    assert checkpoint.model.config == TINY and class_names(checkpoint.config) == tuple(CLASSES)
    assert checkpoint.config["training"]["p_uncond"] == 0.2
    x, t, labels = inputs()
    with torch.no_grad():
        assert torch.equal(checkpoint.model(x, t, labels), randomised()(x, t, labels))


@pytest.mark.parametrize("classes, message", [
    (["cat", "dog"], "names 2 classes in its header, but its network's class embedding has 3"),
    (["cat", "cat", "owl"], "no list of distinct class names"),
    (None, "no list of distinct class names"),
])
def test_class_names_that_do_not_fit_the_embedding_are_refused(tmp_path, classes, message):
    path = save_checkpoint(tmp_path / "bad.safetensors", None, UNet(TINY), diffusion=DiffusionConfig(timesteps=T),
                           dataset={"classes": classes} if classes else {})
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_class_names_on_an_unconditional_network_are_refused(tmp_path):
    plain = UNetConfig(**{**TINY.to_dict(), "num_classes": 0})
    path = save_checkpoint(tmp_path / "bad.safetensors", None, UNet(plain), diffusion=DiffusionConfig(timesteps=T),
                           dataset={"classes": CLASSES})
    with pytest.raises(CheckpointError, match="names 3 classes in its header, but .* has 0"):
        load_checkpoint(path)


def test_training_a_conditional_model_records_its_classes_and_resumes_only_on_them(pets, tmp_path):
    config = TrainConfig(image_size=16, channels=1, batch_size=4, steps=2, save_every=2, warmup_steps=1,
                         conditional=True, p_uncond=0.3)
    out = tmp_path / "run"
    result = train(config, DiffusionConfig(timesteps=T), pets, out)
    checkpoint = load_checkpoint(result.checkpoint)
    assert class_names(checkpoint.config) == tuple(CLASSES) and checkpoint.model.config.num_classes == 3
    assert checkpoint.config["training"]["p_uncond"] == 0.3
    assert checkpoint.config["dataset"]["class_counts"] == [5, 5, 2]
    other = tmp_path / "other"
    for name in ("cat", "dog", "eel"):
        for i in range(2):
            _save(other / name / f"{i}.png", i)
    with pytest.raises(CheckpointError, match=r"learnt the classes \['cat', 'dog', 'owl'\], but the folder now has"):
        train(TrainConfig(**{**config.__dict__, "steps": 4}), DiffusionConfig(timesteps=T), other, out, resume=True)


def test_train_cli_conditional_keeps_snapshots(pets, tmp_path, capsys):
    from ddpm_core.train import main as train_main

    out = tmp_path / "run"
    base = ["--data", str(pets), "--out", str(out), "--image-size", "16", "--channels", "1", "--batch-size", "4",
            "--steps", "2", "--save-every", "1", "--timesteps", "100", "--conditional", "--p-uncond", "0.3"]
    assert train_main(base + ["--keep-every", "3"]) == 0, capsys.readouterr().err
    assert not list(out.glob("model_step*"))  # step 3 never came
    assert train_main(base + ["--keep-every", "1", "--steps", "3", "--resume"]) == 0
    assert sorted(p.name for p in out.glob("model_step*")) == ["model_step3.safetensors"]
    assert class_names(load_checkpoint(out / "model_step3.safetensors").config) == tuple(CLASSES)
    assert "3 classes: cat (5), dog (5), owl (2)" in capsys.readouterr().out
    assert train_main(base + ["--save-every", "2", "--keep-every", "3"]) == 2
    assert "--keep-every must be a multiple of --save-every (2)" in capsys.readouterr().err


# ---- sampling ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    (SampleConfig(label="cat", guidance=-0.5), r"guidance scale w must lie in \[0, 20\], got -0.5"),
    (SampleConfig(label="cat", guidance=20.5), r"must lie in \[0, 20\]"),
    (SampleConfig(label="cat", guidance=float("nan")), r"must lie in \[0, 20\]"),
    (SampleConfig(label="zebra"), "the checkpoint has no class 'zebra'; its classes are cat, dog, owl"),
    (SampleConfig(guidance=2.0), "guidance steers towards a class"),
])
def test_bad_class_requests_are_refused(checkpoint_path, config, message):
    with pytest.raises(UserError, match=message):
        SamplingRun(load_checkpoint(checkpoint_path), config)


@pytest.mark.parametrize("config, message", [
    (SampleConfig(guidance=2.0), "unconditional .* so it takes no guidance"),
    (SampleConfig(label="cat"), "unconditional .* it cannot draw a class"),
])
def test_an_unconditional_checkpoint_refuses_classes_and_guidance(unconditional_path, config, message):
    with pytest.raises(UserError, match=message):
        SamplingRun(load_checkpoint(unconditional_path), config)


def _forward_batches(checkpoint):
    """Record the batch size and labels of every call of the checkpoint's network."""
    calls, forward = [], checkpoint.model.forward

    def record(x, t, labels=None):
        calls.append((x.shape[0], None if labels is None else labels.tolist()))
        return forward(x, t, labels)
    checkpoint.model.forward = record
    return calls


def test_all_classes_gives_one_row_per_class_from_one_batch_of_2n_per_step(checkpoint_path):
    checkpoint = load_checkpoint(checkpoint_path)
    run = SamplingRun(checkpoint, SampleConfig(n=2, label=ALL_CLASSES, guidance=3.0, sampler="ddim", steps=3))
    assert run.labels.tolist() == [0, 0, 1, 1, 2, 2] and run.n == 6
    calls = _forward_batches(checkpoint)
    *_, last = run.frames()
    assert last.step.prev_sample.shape == (6, 1, 16, 16)
    assert calls == [(12, [0, 0, 1, 1, 2, 2] + [3] * 6)] * 3  # labels, then ∅: one pass per step


def test_a_conditional_checkpoint_without_a_class_samples_the_null_class(checkpoint_path):
    checkpoint = load_checkpoint(checkpoint_path)
    run = SamplingRun(checkpoint, SampleConfig(n=3, sampler="ddim", steps=2))
    calls = _forward_batches(checkpoint)
    *_, unconditional = run.frames()
    assert calls == [(3, None)] * 2  # the network's default: ∅
    *_, w_zero = SamplingRun(checkpoint, SampleConfig(n=3, sampler="ddim", steps=2, label="dog", guidance=0.0)).frames()
    assert torch.equal(unconditional.step.prev_sample, w_zero.step.prev_sample)


def test_the_default_guidance_is_used_when_none_is_given(checkpoint_path):
    checkpoint = load_checkpoint(checkpoint_path)

    def final(guidance):
        config = SampleConfig(n=2, label="owl", guidance=guidance, sampler="ddim", steps=3)
        *_, last = SamplingRun(checkpoint, config).frames()
        return last.step.prev_sample
    assert torch.equal(final(None), final(DEFAULT_GUIDANCE)) and not torch.equal(final(None), final(4.0))


# ---- the command line ----------------------------------------------------------------------------------------------

def test_cli_class_guidance_and_npz_end_to_end(checkpoint_path, tmp_path, capsys):
    args = ["--checkpoint", str(checkpoint_path), "--n", "3", "--sampler", "ddim", "--steps", "4", "--seed", "5"]
    code = main(args + ["--class", "dog", "--guidance", "2.5", "--out", str(tmp_path / "dog.png"),
                        "--npz", str(tmp_path / "dog.npz")])
    assert code == 0, capsys.readouterr().err
    saved = np.load(tmp_path / "dog.npz")
    assert list(saved.keys()) == ["arr_0"] and saved["arr_0"].dtype == np.uint8
    assert saved["arr_0"].shape == (3, 16, 16, 1)  # N × H × W × C
    run = SamplingRun(load_checkpoint(checkpoint_path), SampleConfig(n=3, sampler="ddim", steps=4, seed=5, label="dog",
                                                                     guidance=2.5))
    *_, last = run.frames()
    assert np.array_equal(saved["arr_0"], samples_uint8(last.step.prev_sample))  # the same samples, as uint8
    code = main(args + ["--class", "all", "--out", str(tmp_path / "all.png"), "--npz", str(tmp_path / "all.npz")])
    assert code == 0
    with Image.open(tmp_path / "all.png") as grid:
        assert grid.size == (3 * 17 + 1, 3 * 17 + 1)  # one row of n = 3 per class, 16 px + 1 px padding
    assert np.load(tmp_path / "all.npz")["arr_0"].shape == (9, 16, 16, 1)


def test_cli_npz_of_an_unconditional_checkpoint(unconditional_path, tmp_path):
    assert main(["--checkpoint", str(unconditional_path), "--n", "2", "--sampler", "ddim", "--steps", "2",
                 "--out", str(tmp_path / "g.png"), "--npz", str(tmp_path / "s.npz")]) == 0
    pixels = np.load(tmp_path / "s.npz")["arr_0"]
    assert pixels.shape == (2, 16, 16, 1) and pixels.dtype == np.uint8


@pytest.mark.parametrize("extra, message", [
    (["--class", "zebra"], "no class 'zebra'"),
    (["--class", "cat", "--guidance", "25"], "must lie in [0, 20], got 25"),
    (["--npz", "s.npy"], "--npz must name a .npz file"),
])
def test_cli_reports_bad_class_arguments(checkpoint_path, tmp_path, capsys, extra, message):
    assert main(["--checkpoint", str(checkpoint_path), "--n", "2", "--out", str(tmp_path / "g.png")] + extra) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_guidance_on_an_unconditional_checkpoint(unconditional_path, tmp_path, capsys):
    assert main(["--checkpoint", str(unconditional_path), "--guidance", "2", "--out", str(tmp_path / "g.png")]) == 2
    assert "unconditional" in capsys.readouterr().err


# ---- the bound given the class -----------------------------------------------------------------------------------

def test_the_bound_given_the_class_is_paired_with_the_unconditional_one(checkpoint_path, pets):
    checkpoint = load_checkpoint(checkpoint_path)
    pixels, labels, _ = evaluate.folder_labelled_pixels(pets, 16, 1, tuple(CLASSES))
    assert labels.tolist() == [0] * 5 + [1] * 5 + [2] * 2

    def bound(given):
        evaluation = evaluate.start(checkpoint, pixels, strata=3, seed=4, labels=given)
        for _ in evaluation:
            pass
        return evaluation.result()
    unconditional, conditional = bound(None), bound(labels)
    assert torch.equal(unconditional.timesteps, conditional.timesteps)  # the same t, and the same x_t
    assert torch.equal(bound(torch.full_like(labels, 3)).total, unconditional.total)  # given ∅ is unconditional
    worth = evaluate.label_worth(unconditional, conditional, 3, 256)
    difference = unconditional.total - conditional.total
    assert worth["bits_per_dim"] == pytest.approx(float(difference.double().mean()))
    assert worth["standard_error"] == pytest.approx(float(difference.double().std() / math.sqrt(12)))
    assert worth["ceiling"] == pytest.approx(math.log2(3) / 256) and worth["bits_per_dim"] != 0


def test_a_label_that_changes_nothing_is_worth_exactly_zero(checkpoint_path, pets):
    checkpoint = load_checkpoint(checkpoint_path)
    with torch.no_grad():  # every class's embedding row the same as ∅'s: the label carries nothing
        checkpoint.model.class_embedding.weight[:] = checkpoint.model.class_embedding.weight[3]
    pixels, labels, _ = evaluate.folder_labelled_pixels(pets, 16, 1, tuple(CLASSES))
    bounds = []
    for given in (None, labels):
        evaluation = evaluate.start(checkpoint, pixels, strata=3, seed=4, labels=given)
        for _ in evaluation:
            pass
        bounds.append(evaluation.result())
    assert evaluate.label_worth(*bounds, 3, 256)["bits_per_dim"] == 0.0  # paired draws: no noise left


def test_folder_classes_map_onto_the_checkpoints_order_and_unknown_ones_are_refused(pets):
    _, labels, _ = evaluate.folder_labelled_pixels(pets, 16, 1, ("owl", "dog", "cat"))
    assert labels.tolist() == [2] * 5 + [1] * 5 + [0] * 2
    with pytest.raises(UserError, match="classes the checkpoint never learnt: owl"):
        evaluate.folder_labelled_pixels(pets, 16, 1, ("cat", "dog"))


def test_evaluate_cli_given_class(checkpoint_path, unconditional_path, pets, tmp_path, capsys):
    report = tmp_path / "r.json"
    code = evaluate.main(["--checkpoint", str(checkpoint_path), "--data", str(pets), "--n", "6", "--strata", "3",
                          "--given-class", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "given the class:" in out and "the label is worth" in out
    saved = json.loads(report.read_text())["given_class"]
    assert saved["label_worth"]["images"] == 6
    assert saved["label_worth"]["conditional"] == pytest.approx(saved["bits_per_dim"])
    assert evaluate.main(["--checkpoint", str(unconditional_path), "--data", str(pets), "--given-class"]) == 2
    assert "--given-class needs a conditional checkpoint" in capsys.readouterr().err
    with pytest.raises(UserError, match="no bound given the class"):
        evaluate.start(load_checkpoint(unconditional_path), torch.zeros(1, 1, 16, 16, dtype=torch.uint8),
                       labels=torch.zeros(1, dtype=torch.long))
