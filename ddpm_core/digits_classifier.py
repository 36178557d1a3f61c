"""The digits classifier: a small CNN that names the digit in a 16×16 grey image, its file, its read-out of samples.

It is the yardstick of scripts/digits_metric.py (which trains it on 80 % of assets/digits) and the Sample tab's
read-out of a digits model's guided samples. Images go in as the models see them: x = p/127.5 − 1 ∈ [−1, 1],
(N, 1, 16, 16). A trained classifier is one safetensors file: its weights, with metadata `format` (FORMAT) and
`classifier`, a JSON object (its classes, held-out accuracy, seed and the command that trained it). Nothing is
pickled.

    model = load_classifier("checkpoints/digits_classifier.safetensors")
    predictions, probabilities = classify(model, x)      # (N,) int64, (N, 10)
    per_class, overall = class_accuracy(probabilities, requested)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ddpm_core.errors import UserError

IMAGE_SIZE = 16
CHANNELS = 1
CLASSES = tuple(str(k) for k in range(10))  # label k is the digit k, as assets/digits names its folders
NUM_CLASSES = len(CLASSES)
FORMAT = "ddpm-explorer-digits-classifier"
FILE_NAME = "digits_classifier.safetensors"  # the bundled one, in checkpoints/


class DigitClassifier(nn.Module):
    """Three 3×3 conv layers (16×16 → 4×4), a 64-unit hidden layer (the features), 10 logits."""

    FEATURES = 64

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(CHANNELS, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 8, 8)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 4 * 4, self.FEATURES), nn.ReLU())
        self.head = nn.Linear(self.FEATURES, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # (B, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10) logits


def reads(image_size: int | None, channels: int | None, classes: Sequence[str] | None) -> bool:
    """Whether the classifier reads a model's images and labels: 16×16 grey, classes exactly "0" … "9" in order."""
    return (image_size, channels) == (IMAGE_SIZE, CHANNELS) and classes is not None and tuple(classes) == CLASSES


# ---- its file ------------------------------------------------------------------------------------------------

def save_classifier(model: DigitClassifier, path, metadata: dict) -> Path:
    """Write the weights to `path` (.safetensors) with `metadata` (JSON-safe: accuracy, seed, command…) and the
    classes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    record = {"classes": list(CLASSES), "image_size": IMAGE_SIZE, "channels": CHANNELS, **metadata}
    save_file(tensors, str(path), metadata={"format": FORMAT, "classifier": json.dumps(record)})
    return path


def classifier_metadata(path) -> dict:
    """The JSON a classifier file records (classes, accuracy, seed, command); UserError if it is not one."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError("classifier.unreadable", "'{name}' is not a readable safetensors file", name=path.name) from exc
    try:
        record = json.loads(metadata.get("classifier") or "{}") if metadata.get("format") == FORMAT else None
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        raise UserError("classifier.not_ours", "'{name}' is not a digits classifier (its metadata has no "
                        "'format: {format}')", name=path.name, format=FORMAT)
    return record


def load_classifier(path, device: str | torch.device = "cpu") -> DigitClassifier:
    """A classifier rebuilt from its file, in eval mode; UserError for a file that is not one or does not fit."""
    classifier_metadata(path)
    model = DigitClassifier()
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
        raise UserError("classifier.weights", "'{name}' holds weights of another network than the digits "
                        "classifier", name=Path(path).name) from exc
    return model.to(device).eval()


# ---- inference -----------------------------------------------------------------------------------------------

@torch.no_grad()
def classify(model: DigitClassifier, x: torch.Tensor, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted digit (N,) int64, class probabilities (N, 10) float32) of images x (N, 1, 16, 16) in [−1, 1]."""
    device = next(model.parameters()).device
    logits = torch.cat([model(chunk.to(device)) for chunk in x.float().split(batch_size)]).cpu()
    probabilities = logits.softmax(dim=1)
    return probabilities.argmax(dim=1), probabilities


def class_accuracy(probs: torch.Tensor, requested: torch.Tensor, num_classes: int = NUM_CLASSES
                   ) -> tuple[torch.Tensor, float]:
    """Per class (K,) and overall: the share of samples whose most probable class is the one requested (NaN for a
    class nobody asked for)."""
    hit = (probs.argmax(dim=1) == requested).double()
    per_class = torch.stack([hit[requested == k].mean() if (requested == k).any() else hit.new_tensor(float("nan"))
                             for k in range(num_classes)])
    return per_class, float(hit.mean())


def mean_confidence(probs: torch.Tensor) -> float:
    """Mean over images of the largest class probability, in [1/K, 1]."""
    return float(probs.max(dim=1).values.mean())


@dataclass(frozen=True)
class Readout:
    """What the classifier says of samples drawn for requested digits."""

    per_class: tuple[float, ...]  # (10,): per digit, the share of its samples classified as it (NaN: not asked for)
    share: float  # over all samples: the share classified as the digit asked for
    confidence: float  # the mean largest class probability (how sure it is, whatever the digit)

    @property
    def requested(self) -> list[int]:
        """The digits asked for, in order."""
        return [k for k, value in enumerate(self.per_class) if value == value]  # NaN ≠ NaN


def read_out(model: DigitClassifier, x: torch.Tensor, labels: torch.Tensor) -> Readout:
    """The classifier's read-out of samples x (N, 1, 16, 16) in [−1, 1] drawn for the digits `labels` (N,)."""
    _, probabilities = classify(model, x)
    per_class, share = class_accuracy(probabilities, labels.cpu())
    return Readout(tuple(per_class.tolist()), share, mean_confidence(probabilities))
