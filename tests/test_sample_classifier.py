"""The digits classifier (ddpm_core/digits_classifier.py) and its read-out under the Sample tab's Compare guidance
scales: the bundled file recognises held-out digits, the read-out of a run of the bundled conditional model is the
classifier applied to the very samples the grids show, and other checkpoints get nothing extra (and no error)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ddpm_core import digits_classifier as dc
from ddpm_core.checkpoints import load_checkpoint, save_checkpoint
from ddpm_core.config import DiffusionConfig
from ddpm_core.data import load_image_folder
from ddpm_core.errors import UserError
from ddpm_core.guidance import ALL_CLASSES
from ddpm_core.images import from_uint8
from ddpm_core.sample import SampleConfig, SamplingRun, samples_uint8
from ddpm_core.unet import UNetConfig
from server import settings as deployment
from server.catalogue import Catalogue
from server.sample_process import SampleJob
from server.sessions import Session
from tests.conftest import ROOT
from tests.test_conditional import randomised
from ui import i18n
from ui.sample_tab import GUIDANCE_SCALES, SampleForm, SampleTab, compare_html, guidance_readout

CLASSIFIER = ROOT / "checkpoints" / dc.FILE_NAME
DIGITS = ROOT / "assets" / "digits"
CONDITIONAL = "bundled:digits_classes.safetensors"


def _form(**changes) -> SampleForm:
    base = dict(checkpoint=CONDITIONAL, sampler="ddim", steps=4, eta=0.0, variance="beta", n=20, seed=2,
                device="cpu", clip=True, with_eps=False, long_ok=False, klass=ALL_CLASSES, guidance=2.0)
    return SampleForm(**{**base, **changes})


def _text(html) -> str:
    return re.sub(r"<[^>]+>", "", html) if isinstance(html, str) else ""


def _captions(html: str) -> list[str]:
    return [_text(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", html)]


def _table(html: str) -> list[list[str]]:
    """The read-out table's cells, row by row (the head first)."""
    table = re.search(r"<table class='readout'>(.*?)</table>", html).group(1)
    return [[_text(cell) for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]


@pytest.fixture(scope="module")
def tab():
    tab = SampleTab(deployment.load(), Catalogue(deployment.load()))
    yield tab
    tab.pool.shutdown()


# ---- the classifier and its file ------------------------------------------------------------------------------

def test_the_bundled_classifier_recognises_the_held_out_digits():
    """The 187 digits the bundled diffusion models never trained on (ddpm_core.data's split, holdout 0.1)."""
    data = load_image_folder(DIGITS, 16, channels=1, flip=False, holdout=0.1, split="holdout", conditional=True)
    assert data.classes.names == dc.CLASSES and data.num_images == 187
    predictions, probabilities = dc.classify(dc.load_classifier(CLASSIFIER), from_uint8(data.dataset.pixels))
    assert predictions.shape == (187,) and probabilities.shape == (187, 10)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(187))
    assert float((predictions == data.dataset.labels).float().mean()) >= 0.95


def test_the_bundled_classifier_recognises_the_digits_it_never_saw():
    """Most of those 187 were in the classifier's own training share; the 20 % digits_metric.py held out from it
    were not."""
    from tests.test_digits_metric import dm

    _train, reference, check = dm.split_digits(dm.load_digits(DIGITS))
    model = dc.load_classifier(CLASSIFIER)
    for part in (reference, check):
        assert dm.accuracy(model, part) >= 0.95


def test_the_bundled_file_is_small_and_says_how_it_was_made():
    assert CLASSIFIER.stat().st_size < 1_000_000
    record = dc.classifier_metadata(CLASSIFIER)
    assert record["classes"] == list(dc.CLASSES) and record["seed"] == 0 and record["accuracy"] >= 0.95
    assert record["command"] == ("python scripts/digits_metric.py --save-classifier "
                                 "checkpoints/digits_classifier.safetensors")


def test_a_saved_classifier_loads_back_to_the_same_answers(tmp_path):
    torch.manual_seed(0)
    model = dc.DigitClassifier().eval()
    path = dc.save_classifier(model, tmp_path / "c.safetensors", {"accuracy": 0.5, "seed": 7, "command": "x"})
    assert dc.classifier_metadata(path) == {"classes": list(dc.CLASSES), "image_size": 16, "channels": 1,
                                            "accuracy": 0.5, "seed": 7, "command": "x"}
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    expected, loaded = dc.classify(model, x), dc.classify(dc.load_classifier(path), x)
    assert torch.equal(expected[0], loaded[0]) and torch.equal(expected[1], loaded[1])


def test_other_files_are_refused_with_a_coded_message(tmp_path):
    with pytest.raises(UserError) as refused:
        dc.load_classifier(ROOT / "checkpoints" / "digits.safetensors")
    assert refused.value.code == "classifier.not_ours"
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(UserError) as refused:
        dc.load_classifier(tmp_path / "broken.safetensors")
    assert refused.value.code == "classifier.unreadable"
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": dc.FORMAT, "classifier": "{}"})
    with pytest.raises(UserError) as refused:
        dc.load_classifier(other)
    assert refused.value.code == "classifier.weights"


def test_the_classifier_reads_16_by_16_grey_digits_named_0_to_9_only():
    assert dc.reads(16, 1, dc.CLASSES)
    assert not dc.reads(16, 1, None)  # unconditional: no digit was asked for
    assert not dc.reads(16, 3, dc.CLASSES) and not dc.reads(32, 1, dc.CLASSES)
    assert not dc.reads(16, 1, ("zero", "one", "two")) and not dc.reads(16, 1, dc.CLASSES[::-1])


def test_the_catalogue_does_not_offer_the_classifier_as_a_checkpoint():
    names = [entry.name for entry in Catalogue(deployment.load()).bundled()]
    assert names == ["digits", "digits_classes"]


# ---- the read-out in the Sample tab --------------------------------------------------------------------------

def test_the_read_out_is_the_classifier_applied_to_the_samples_the_grids_show(tab):
    session = Session()
    updates = list(tab.compare_guidance(_form(), session))
    results = session.jobs["sample"].result
    comparison = updates[-1][3]
    checkpoint = load_checkpoint(ROOT / "checkpoints" / "digits_classes.safetensors")
    model = dc.load_classifier(CLASSIFIER)
    labels = torch.arange(10).repeat_interleave(2)  # 20 images: 2 of each digit
    captions, table = _captions(comparison), _table(comparison)
    assert table[0] == ["w", *map(str, range(10)), "all"]
    for w, result, caption, row in zip(GUIDANCE_SCALES, results, captions, table[1:]):
        # The samples sent are the run's own: the same as the core draws in this process, from the same seed.
        run = SamplingRun(checkpoint, SampleConfig(n=2, sampler="ddim", steps=4, seed=2, device="cpu",
                                                   label=ALL_CLASSES, guidance=w))
        *_, last = run.frames()
        assert result.samples.dtype == np.uint8 and result.samples.shape == (20, 16, 16, 1)
        assert np.array_equal(result.samples, samples_uint8(last.step.prev_sample))
        assert np.array_equal(result.labels, labels.numpy())
        # The classifier, applied directly.
        x = from_uint8(torch.from_numpy(result.samples).permute(0, 3, 1, 2))  # (20, 1, 16, 16)
        predictions, probabilities = dc.classify(model, x)
        hit = (predictions == labels).float()
        share, confidence = float(hit.mean()), float(probabilities.max(dim=1).values.mean())
        per_digit = [float(hit[labels == k].mean()) for k in range(10)]
        assert f"w = {w:g}" in caption
        assert caption.endswith(f"read as the digit asked for: {share:.0%} · confidence {confidence:.2f}"), caption
        assert row == [f"{w:g}", *[f"{p:.0%}" for p in per_digit], f"{share:.0%}"]
    assert "99.4% right on held-out digits" in _text(comparison)
    assert _table(comparison)[3][-1] == "100%", "w = 2 on the bundled model draws every digit asked for"
    session.close()


def test_one_digit_asked_for_has_one_column_and_reads_in_korean(tab):
    session = Session()
    updates = list(tab.compare_guidance(_form(klass="3", n=3), session))
    comparison = updates[-1][3]
    table = _table(comparison)
    assert table[0] == ["w", "3"] and [row[0] for row in table[1:]] == ["0", "1", "2", "4"]
    results = session.jobs["sample"].result
    assert all(np.array_equal(r.labels, [3, 3, 3]) for r in results)
    with i18n.language_scope("ko"):
        readout = guidance_readout(results, tab._classifier(tab.catalogue.image_entry(CONDITIONAL, None).summary))
        korean = compare_html(results, readout)
    assert "요청한 숫자로 분류됨" in _text(korean) and "신뢰도" in _text(korean) and "전체" not in _text(korean)
    session.close()


@pytest.fixture(scope="module")
def other_models(tmp_path_factory):
    """A conditional 16×16 grey model whose classes are not the digits, beside the bundled classifier."""
    folder = tmp_path_factory.mktemp("bundled")
    shutil.copy(CLASSIFIER, folder / dc.FILE_NAME)
    config = UNetConfig(image_size=16, channels=1, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                        dropout=0.0, num_classes=3)
    net = randomised(config)
    save_checkpoint(folder / "letters.safetensors", net, net, diffusion=DiffusionConfig(timesteps=20),
                    dataset={"root": "letters", "classes": ["a", "b", "c"], "class_counts": [4, 4, 4]})
    tab = SampleTab(deployment.load(), Catalogue(deployment.load(), bundled_dir=folder))
    yield tab
    tab.pool.shutdown()


def test_other_classes_get_no_read_out_and_send_no_samples(other_models):
    session = Session()
    updates = list(other_models.compare_guidance(_form(checkpoint="bundled:letters.safetensors", klass="b", n=2,
                                                       steps=3), session))
    comparison = updates[-1][3]
    assert len(_captions(comparison)) == 4
    assert "read as" not in _text(comparison) and "<table" not in comparison
    assert all(r.samples is None and r.labels is None for r in session.jobs["sample"].result)
    session.close()


def test_an_unconditional_digits_model_gets_no_read_out(tab):
    entry = tab.catalogue.image_entry("bundled:digits.safetensors", None)
    assert tab._classifier(entry.summary) is None
    session = Session()
    updates = list(tab.compare(_form(checkpoint="bundled:digits.safetensors", klass=None, n=2, steps=2), session))
    assert "read as" not in _text(updates[-1][3]) and "<table" not in updates[-1][3]
    assert all(r.samples is None for r in session.jobs["sample"].result)
    session.close()


def test_a_job_sends_its_samples_only_when_it_asks(tab):
    config = SampleConfig(n=2, sampler="ddim", steps=2, seed=0, device="cpu", label="7", guidance=1.0)
    path = str(ROOT / "checkpoints" / "digits_classes.safetensors")
    for asked in (False, True):
        handle = tab.pool.start(SampleJob(checkpoint=path, runs=[("digits_classes", config)], with_samples=asked))
        handle.wait(120)
        handle.close()
        (result,) = handle.results
        if asked:
            assert result.samples.shape == (2, 16, 16, 1) and result.labels.tolist() == [7, 7]
        else:
            assert result.samples is None and result.labels is None
