"""The paper's own models: what Ho et al. 2020 report for each data set, and which data set a released model is."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PaperFigures:
    """What Ho et al. 2020 report for their model of one data set (None: not reported).

    `nll_test` and `nll_train` are upper bounds on the negative log-likelihood in bits/dim (the variational
    bound, Eq. 5, with the discrete decoder); `fid` is against the training set, as is standard. `variance`
    is the σ_t² of p_θ they were computed with ("beta" or "beta_tilde", as `diffusion.VARIANCES`): compare
    with a run that uses the same, whatever a scheduler config beside the weights says.
    """

    dataset: str  # the key a converted checkpoint records in its "dataset" entry
    title: str
    image_size: int
    parameters: str  # as the paper states it (App. B)
    inception_score: str | None = None  # mean ± std over 10 splits
    fid: float | None = None
    nll_test: float | None = None
    nll_train: float | None = None
    variance: str = "beta_tilde"
    notes: tuple[str, ...] = ()
    source: str = ""


# Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models" (arXiv 2006.11239): Table 1 (CIFAR-10),
# Table 3 in App. B (LSUN FIDs), App. B (parameter counts). The released models are the L_simple ones. The
# variances are those of the authors' code (github.com/hojonathanho/diffusion): scripts/run_cifar.py trains and
# evaluates with model_var_type='fixedlarge' (σ² = β, with β̃_2 at t = 1); the CelebA-HQ and LSUN scripts use
# diffusion_utils.py, which samples with the posterior's σ² = β̃.
PAPER_FIGURES: dict[str, PaperFigures] = {f.dataset: f for f in (
    PaperFigures("cifar10", "CIFAR-10", 32, "35.7 M", inception_score="9.46 ± 0.11", fid=3.17,
                 nll_test=3.75, nll_train=3.72, variance="beta",
                 notes=("FID 5.24 against the test set.",
                        "The model trained on the true bound L (fixed isotropic Σ) reaches NLL ≤ 3.70 (train 3.69) "
                        "but FID 13.51; the released model is the L_simple one."),
                 source="Ho et al. 2020, Table 1"),
    PaperFigures("celebahq", "CelebA-HQ", 256, "114 M",
                 notes=("The paper shows CelebA-HQ samples (Fig. 1) but reports no score for them.",),
                 source="Ho et al. 2020, Fig. 1 and App. B"),
    PaperFigures("lsun_church", "LSUN Church", 256, "114 M", fid=7.89, source="Ho et al. 2020, Table 3"),
    PaperFigures("lsun_bedroom", "LSUN Bedroom", 256, "114 M", fid=6.36,
                 notes=("A larger model of about 256 M parameters, not among the 114 M releases, reaches FID 4.90.",),
                 source="Ho et al. 2020, Table 3"),
    PaperFigures("lsun_cat", "LSUN Cat", 256, "114 M", fid=19.75, source="Ho et al. 2020, Table 3"),
)}

# Names of the released models (google/ddpm-cifar10-32, google/ddpm-ema-church-256, …) and of their folders.
_NAME_PATTERNS = (
    ("cifar10", re.compile(r"cifar[-_ ]?10", re.I)),
    ("celebahq", re.compile(r"celeba[-_ ]?hq", re.I)),
    ("lsun_church", re.compile(r"church", re.I)),
    ("lsun_bedroom", re.compile(r"bedroom", re.I)),
    ("lsun_cat", re.compile(r"(?<![a-z])cats?(?![a-z])", re.I)),
)


def figures_for(dataset: str | None) -> PaperFigures | None:
    """The paper's figures for a data set key ("cifar10", "lsun_church", …), or None if it has none."""
    return PAPER_FIGURES.get(dataset or "")


def guess_dataset(*names: str) -> tuple[str, str] | None:
    """(data set key, the name it was read from) for the first of `names` (a folder's name, a config's
    `_name_or_path`) that names one of the paper's data sets, or None."""
    for name in names:
        for key, pattern in _NAME_PATTERNS:
            if name and pattern.search(name):
                return key, name
    return None
