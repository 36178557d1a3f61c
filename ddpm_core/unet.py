"""The image noise predictor ε_θ(x_t, t), or ε_θ(x_t, t, c) with class labels: a DDPM U-Net, its frozen config and
its named presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ddpm_core.errors import UserError
from ddpm_core.nn import sinusoidal_embedding

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 128
MAX_DEEP_IMAGE_SIZE, DEEP_LEVELS = 256, 6  # Ho et al.'s 256² nets (CelebA-HQ, LSUN): 6 levels, down to 8×8
IMAGE_CHANNELS = (1, 3)  # grey or RGB; the network maps `channels` in to `channels` out


def max_image_size(levels: int) -> int:
    """The largest image side a net of `levels` levels takes: 128, or 256 for the paper's 6-level 256² nets."""
    return MAX_DEEP_IMAGE_SIZE if levels >= DEEP_LEVELS else MAX_IMAGE_SIZE


def norm_groups(width: int) -> int:
    """GroupNorm groups for a feature width: 32 as in DDPM, but at least 4 channels per group.

    The count is the largest divisor of `width` not above min(32, width // 4): 32 for the usual widths
    of 128 and more, width / 4 for narrow (tiny) nets, and something in between for concatenations
    such as 144 = 96 + 48 (24 groups).
    """
    limit = max(1, min(32, width // 4))
    return next(g for g in range(limit, 0, -1) if width % g == 0)


@dataclass(frozen=True)
class UNetConfig:
    """Shape of the U-Net. Defaults are the "small" preset at 32×32 RGB.

    `channel_mults[i]` scales `base_channels` at resolution level i (level i works on feature maps of
    `image_size / 2**i`); `attention_resolutions` lists the feature-map sizes (e.g. 16 for 16×16)
    that get self-attention. Invalid values raise ValueError on construction, naming what is allowed.

    The fields after `num_heads` are layout details in which Ho et al.'s released nets (as diffusers'
    `UNet2DModel` holds them, see `ddpm_core.convert`) differ from the nets trained here; their defaults
    are this app's layout, so every checkpoint saved before they existed loads and computes as it did.

    `num_classes` > 0 makes the net class-conditional (ε_θ(x_t, t, c), Ho & Salimans 2022): a learned
    embedding of num_classes + 1 rows, the last the null class ∅, is added to the time embedding. 0 (the
    default) builds no embedding at all, so unconditional nets are exactly as before.
    """

    image_size: int = 32
    channels: int = 3
    base_channels: int = 48
    channel_mults: tuple[int, ...] = (1, 2, 2)
    blocks_per_level: int = 2
    attention_resolutions: tuple[int, ...] = (8,)
    dropout: float = 0.1
    num_heads: int = 1
    attention_head_dim: int = 0  # channels per attention head (heads = width / this); 0: `num_heads` heads
    norm_num_groups: int = 0  # GroupNorm groups in every norm; 0: chosen per width by `norm_groups`
    norm_eps: float = 1e-5  # GroupNorm's ε (the paper's TensorFlow code: 1e-6)
    time_freq_shift: int = 0  # timestep frequencies 10000^(−k/(dim/2 − shift)); the paper's code: 1
    time_flip_sin_to_cos: bool = False  # timestep features [cos, sin] instead of [sin, cos]
    downsample_padding: int = 1  # 1: pad each side; 0: pad right and bottom only (TensorFlow's "SAME", the paper's)
    num_classes: int = 0  # class-conditional with this many classes (+ the null class); 0: unconditional

    def __post_init__(self):
        # Lists (from JSON or a UI) become tuples, so configs stay hashable and compare equal.
        object.__setattr__(self, "channel_mults", tuple(self.channel_mults))
        object.__setattr__(self, "attention_resolutions", tuple(self.attention_resolutions))
        self.check()

    @property
    def levels(self) -> int:
        return len(self.channel_mults)

    @property
    def feature_sizes(self) -> tuple[int, ...]:
        """Feature-map side length at each level, e.g. (32, 16, 8)."""
        return tuple(self.image_size // 2**i for i in range(self.levels))

    @property
    def widths(self) -> tuple[int, ...]:
        """Channel count at each level: base_channels · channel_mults[i]."""
        return tuple(self.base_channels * m for m in self.channel_mults)

    def check(self) -> None:
        """Raise ValueError, naming what is allowed, if this U-Net cannot be built."""
        self._check_depth()
        self._check_image()
        self._check_widths()
        self._check_attention()
        if not 0.0 <= self.dropout < 1.0:
            raise UserError("unet.dropout", "dropout must be in [0, 1), got {dropout}", dropout=self.dropout)
        self._check_layout()

    def _check_depth(self) -> None:
        if not self.channel_mults or any(m < 1 for m in self.channel_mults):
            raise UserError("unet.channel_mults", "channel_mults must be a non-empty list of positive integers, got "
                            "{mults}", mults=self.channel_mults)
        if self.blocks_per_level < 1:
            raise UserError("unet.at_least_one", "{name} must be at least 1, got {value}", name="blocks_per_level",
                            value=self.blocks_per_level)

    def _check_image(self) -> None:
        if self.channels not in IMAGE_CHANNELS:
            raise UserError("unet.channels", "channels must be 1 (grey) or 3 (RGB), got {channels}",
                            channels=self.channels)
        step = 2 ** (self.levels - 1)  # each level below the first halves the feature maps
        largest = max_image_size(self.levels)
        if not MIN_IMAGE_SIZE <= self.image_size <= largest or self.image_size % step:
            sizes = [s for s in range(MIN_IMAGE_SIZE, largest + 1) if s % step == 0]
            raise UserError("unet.image_size", "image_size {size} is not supported with {levels} levels: it must be "
                            "{low}–{high} and a multiple of {step}, e.g. {examples}, … {largest}",
                            size=self.image_size, levels=self.levels, low=MIN_IMAGE_SIZE, high=largest, step=step,
                            examples=", ".join(map(str, sizes[:6])), largest=sizes[-1])

    def _check_widths(self) -> None:
        if self.base_channels < 4 or self.base_channels % 4:
            raise UserError("unet.base_channels", "base_channels must be a positive multiple of 4 (GroupNorm wants "
                            "at least 4 channels per group, see norm_groups), got {channels}",
                            channels=self.base_channels)

    def _check_attention(self) -> None:
        missing = [r for r in self.attention_resolutions if r not in self.feature_sizes]
        if missing:
            raise UserError("unet.attention_resolutions", "attention_resolutions {missing} never occur: at "
                            "image_size {size} the feature maps are {sizes} pixels wide", missing=missing,
                            size=self.image_size, sizes=list(self.feature_sizes))
        if self.num_heads < 1:
            raise UserError("unet.at_least_one", "{name} must be at least 1, got {value}", name="num_heads",
                            value=self.num_heads)
        attended = [w for w, s in zip(self.widths, self.feature_sizes) if s in self.attention_resolutions]
        attended.append(self.widths[-1])  # the middle always attends
        if any(w % self.num_heads for w in attended):
            raise UserError("unet.num_heads", "num_heads {heads} must divide the attended widths {widths}",
                            heads=self.num_heads, widths=sorted(set(attended)))
        if self.attention_head_dim < 0 or any(w % max(1, self.attention_head_dim) for w in attended):
            raise UserError("unet.attention_head_dim", "attention_head_dim {dim} must be 0 or divide the attended "
                            "widths {widths}", dim=self.attention_head_dim, widths=sorted(set(attended)))

    def _check_layout(self) -> None:
        groups = self.norm_num_groups
        if groups < 0 or (groups and any(w % groups for w in (self.base_channels, *self.widths))):
            raise UserError("unet.norm_groups", "norm_num_groups {groups} must be 0 (per width) or divide every "
                            "width {widths}", groups=groups, widths=sorted({self.base_channels, *self.widths}))
        if not 0.0 < self.norm_eps < 1.0:
            raise UserError("unet.norm_eps", "norm_eps must be in (0, 1), got {eps}", eps=self.norm_eps)
        if self.num_classes < 0 or self.num_classes == 1:
            raise UserError("unet.num_classes", "num_classes must be 0 (unconditional) or at least 2, got {count}",
                            count=self.num_classes)
        if self.time_freq_shift not in (0, 1) or self.downsample_padding not in (0, 1):
            raise UserError("unet.flags", "time_freq_shift and downsample_padding must be 0 or 1, got {shift} and "
                            "{padding}", shift=self.time_freq_shift, padding=self.downsample_padding)

    @property
    def null_class(self) -> int:
        """The label index of the null class ∅ (the unconditional prediction): num_classes."""
        return self.num_classes

    def heads(self, width: int) -> int:
        """Attention heads at a feature width: width / attention_head_dim, or num_heads."""
        return width // self.attention_head_dim if self.attention_head_dim else self.num_heads

    def groups(self, width: int) -> int:
        """GroupNorm groups at a feature width: norm_num_groups, or `norm_groups`' choice."""
        return self.norm_num_groups or norm_groups(width)

    def to_dict(self) -> dict:
        """JSON-safe dict (tuples become lists), as stored in checkpoint metadata."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> UNetConfig:
        """Inverse of to_dict; unknown keys are a ValueError, missing ones take the defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError("unet.keys_unknown", "unknown UNetConfig keys {unknown}; known keys: {known}",
                            unknown=unknown, known=sorted(known))
        return cls(**data)


# Parameter counts at 32×32 RGB: tiny 811,971; small 3,645,315; base 20,118,915 (DDPM's CIFAR-10 net, the
# "base" layout at base_channels 128, has 35,746,307). The net is convolutional, so image size and channel
# count change them only through the first and last convs, and where attention moves to another level.
PRESETS: dict[str, dict] = {
    "tiny": {"base_channels": 32, "channel_mults": (1, 1, 2), "blocks_per_level": 1,
             "attention_resolutions": (8,), "dropout": 0.0, "num_heads": 1},
    "small": {"base_channels": 48, "channel_mults": (1, 2, 2), "blocks_per_level": 2,
              "attention_resolutions": (8,), "dropout": 0.1, "num_heads": 1},
    "base": {"base_channels": 96, "channel_mults": (1, 2, 2, 2), "blocks_per_level": 2,
             "attention_resolutions": (16,), "dropout": 0.1, "num_heads": 1},
}


def _nearest_size(target: int, sizes: tuple[int, ...]) -> int:
    """The feature-map size closest to `target` on a log scale (the smaller one on a tie)."""
    positive = [s for s in sizes if s > 0]  # an image_size too small leaves none; UNetConfig then says why
    return min(positive, key=lambda s: (abs(math.log2(s / target)), s), default=target)


def preset(name: str, image_size: int = 32, channels: int = 3, num_classes: int = 0) -> UNetConfig:
    """The named architecture for these images (class-conditional with `num_classes` > 0).

    A preset's attention resolutions are chosen for 32×32 images; where the net has no feature map of
    that size (e.g. 8×8 attention with 3 levels on 64×64 images) the nearest size it has is used.
    """
    if name not in PRESETS:
        raise UserError("unet.preset_unknown", "unknown U-Net preset {name!r}; choose one of {choices}", name=name,
                        choices=sorted(PRESETS))
    fields = dict(PRESETS[name])
    levels = len(fields["channel_mults"])
    sizes = tuple(image_size // 2**i for i in range(levels))
    fields["attention_resolutions"] = tuple(sorted({_nearest_size(r, sizes) for r in fields["attention_resolutions"]},
                                                   reverse=True))
    return UNetConfig(image_size=image_size, channels=channels, num_classes=num_classes, **fields)


def timestep_embedding(t: torch.Tensor, dim: int, freq_shift: int = 0, flip_sin_to_cos: bool = False) -> torch.Tensor:
    """Sinusoidal features of the 0-based timestep indices t (B,) → (B, dim), in this app's layout or the paper's.

    With the defaults, `sinusoidal_embedding`'s: [sin(t·ω_k), cos(t·ω_k)], ω_k = 10000^(−k/(dim/2)). The paper's
    code divides the exponent by dim/2 − 1 instead (freq_shift 1), and diffusers' UNet2DModel can put the
    cosines first; both computed in diffusers' order of operations, so an imported net sees the same features.
    """
    if not freq_shift and not flip_sin_to_cos:
        return sinusoidal_embedding(t, dim)
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / (half - freq_shift))
    angles = t.float()[:, None] * frequencies[None]
    return torch.cat([angles.cos(), angles.sin()] if flip_sin_to_cos else [angles.sin(), angles.cos()], dim=1)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable weights."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _zero(module: nn.Module) -> nn.Module:
    """Zero a layer's weights, as improved-diffusion does: residual branches start as the identity, the output at 0."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, + time projection, GroupNorm → SiLU → dropout → conv, plus the skip."""

    def __init__(self, in_width: int, out_width: int, time_width: int, config: UNetConfig):
        super().__init__()
        self.norm1 = nn.GroupNorm(config.groups(in_width), in_width, eps=config.norm_eps)
        self.conv1 = nn.Conv2d(in_width, out_width, 3, padding=1)
        self.time_proj = nn.Linear(time_width, out_width)
        self.norm2 = nn.GroupNorm(config.groups(out_width), out_width, eps=config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)
        self.conv2 = _zero(nn.Conv2d(out_width, out_width, 3, padding=1))
        self.skip = nn.Identity() if in_width == out_width else nn.Conv2d(in_width, out_width, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, out, H, W)
        h = h + self.time_proj(F.silu(emb))[:, :, None, None]  # time enters as a per-channel shift
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Self-attention over the H·W positions of a feature map (residual, output projection zeroed)."""

    def __init__(self, width: int, config: UNetConfig):
        super().__init__()
        self.num_heads = config.heads(width)
        self.norm = nn.GroupNorm(config.groups(width), width, eps=config.norm_eps)
        self.qkv = nn.Conv2d(width, 3 * width, 1)
        self.proj = _zero(nn.Conv2d(width, width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.num_heads, c // self.num_heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # each (B, heads, H·W, C/heads)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, H·W, C/heads)
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


class Downsample(nn.Module):
    """Halve the feature map with a stride-2 3×3 conv.

    `padding` 1 pads every side by one; 0 pads only the right and bottom, as TensorFlow's "SAME" padding
    does for a stride-2 conv on an even size (the paper's nets): the same output size, shifted by a pixel.
    """

    def __init__(self, width: int, padding: int = 1):
        super().__init__()
        self.pad_right_bottom = padding == 0
        self.conv = nn.Conv2d(width, width, 3, stride=2, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_right_bottom:
            x = F.pad(x, (0, 1, 0, 1))  # (left, right, top, bottom)
        return self.conv(x)


class Upsample(nn.Module):
    """Double the feature map: nearest-neighbour upsampling, then a 3×3 conv."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TimestepSequential(nn.Sequential):
    """Layers run in order; the ResBlocks among them also receive the time embedding."""

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in self:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        return h


class UNet(nn.Module):
    """ε_θ(x_t, t) for images: the DDPM U-Net (Ho et al. 2020, App. B), (B, C, H, W) → (B, C, H, W).

    A down path of ResBlocks (self-attention where the feature map is in `attention_resolutions`),
    a middle of ResBlock–attention–ResBlock, and an up path mirroring the down path that concatenates
    the matching down activation before each of its ResBlocks. With `num_classes` > 0 it is ε_θ(x_t, t, c):
    every ResBlock sees emb = MLP(time features) + E[c], E a learned table with a row for the null class ∅.
    """

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = config
        base, time_width = config.base_channels, 4 * config.base_channels
        self.time_mlp = nn.Sequential(nn.Linear(base, time_width), nn.SiLU(), nn.Linear(time_width, time_width))
        if config.num_classes:  # built only then: an unconditional net draws the same initial weights as before
            self.class_embedding = nn.Embedding(config.num_classes + 1, time_width)  # row num_classes: ∅
        self.down, skip_widths = self._build_down(config, time_width)
        width = config.widths[-1]
        self.middle = TimestepSequential(ResBlock(width, width, time_width, config),
                                         AttentionBlock(width, config),
                                         ResBlock(width, width, time_width, config))
        self.up = self._build_up(config, time_width, skip_widths)
        first = config.widths[0]
        self.out = nn.Sequential(nn.GroupNorm(config.groups(first), first, eps=config.norm_eps), nn.SiLU(),
                                 _zero(nn.Conv2d(first, config.channels, 3, padding=1)))

    @staticmethod
    def _build_down(config: UNetConfig, time_width: int) -> tuple[nn.ModuleList, list[int]]:
        """Input conv, then per level `blocks_per_level` ResBlocks (+ attention) and a Downsample."""
        width = config.widths[0]
        blocks = [TimestepSequential(nn.Conv2d(config.channels, width, 3, padding=1))]
        skip_widths = [width]  # every down block's output is concatenated back in on the way up
        for level, (out_width, size) in enumerate(zip(config.widths, config.feature_sizes)):
            for _ in range(config.blocks_per_level):
                layers = [ResBlock(width, out_width, time_width, config)]
                if size in config.attention_resolutions:
                    layers.append(AttentionBlock(out_width, config))
                blocks.append(TimestepSequential(*layers))
                width = out_width
                skip_widths.append(width)
            if level < config.levels - 1:
                blocks.append(TimestepSequential(Downsample(width, config.downsample_padding)))
                skip_widths.append(width)
        return nn.ModuleList(blocks), skip_widths

    @staticmethod
    def _build_up(config: UNetConfig, time_width: int, skip_widths: list[int]) -> nn.ModuleList:
        """Per level, deepest first: blocks_per_level + 1 ResBlocks on [h, skip] (+ attention), then Upsample."""
        skip_widths, width, blocks = list(skip_widths), config.widths[-1], []
        for level in reversed(range(config.levels)):
            out_width, size = config.widths[level], config.feature_sizes[level]
            for i in range(config.blocks_per_level + 1):
                layers = [ResBlock(width + skip_widths.pop(), out_width, time_width, config)]
                if size in config.attention_resolutions:
                    layers.append(AttentionBlock(out_width, config))
                if level > 0 and i == config.blocks_per_level:
                    layers.append(Upsample(out_width))
                blocks.append(TimestepSequential(*layers))
                width = out_width
        return nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predict the noise ε in x_t (B, C, H, W) at 0-based timestep indices t (B,), given class `labels` (B,)
        (0..num_classes − 1, or num_classes for ∅) of a conditional net; None: ∅ for every image."""
        expected = (self.config.channels, self.config.image_size, self.config.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"this U-Net takes images of shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        c = self.config
        features = timestep_embedding(t, c.base_channels, c.time_freq_shift, c.time_flip_sin_to_cos)  # (B, base)
        emb = self.time_mlp(features)  # (B, 4·base)
        if c.num_classes:
            emb = emb + self.class_embedding(self._labels(labels, x))  # the class joins the time embedding
        elif labels is not None:
            raise ValueError("this U-Net is unconditional (num_classes 0): it takes no labels")
        skips, h = [], x
        for block in self.down:
            h = block(h, emb)
            skips.append(h)
        h = self.middle(h, emb)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)  # (B, C, H, W)

    def _labels(self, labels: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """The labels (B,) as indices on x's device: ∅ for every image when None."""
        if labels is None:
            return torch.full((x.shape[0],), self.config.null_class, dtype=torch.long, device=x.device)
        return labels.to(device=x.device, dtype=torch.long).expand(x.shape[0])
