"""The image U-Net: shapes, presets, dependence on x and t, learning, config errors and round-trips."""

from __future__ import annotations

import json

import pytest
import torch

from ddpm_core.unet import PRESETS, UNet, UNetConfig, count_parameters, norm_groups, preset


def small_config(image_size: int = 16, channels: int = 3, **overrides) -> UNetConfig:
    """A few-thousand-weight net with three levels and attention at the middle level."""
    fields = {"base_channels": 8, "channel_mults": (1, 2, 2), "blocks_per_level": 1,
              "attention_resolutions": (image_size // 2,), "dropout": 0.0}
    return UNetConfig(image_size=image_size, channels=channels, **{**fields, **overrides})


def build(config: UNetConfig, seed: int = 0) -> UNet:
    """The net in eval mode with its zero-initialised layers randomised, so every path carries signal."""
    torch.manual_seed(seed)
    model = UNet(config).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d) and not module.weight.any():
                torch.nn.init.normal_(module.weight, std=0.05)
    return model


def batch(config: UNetConfig, size: int = 2, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(size, config.channels, config.image_size, config.image_size, generator=g)
    return x, torch.randint(0, 1000, (size,), generator=g)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("image_size", [16, 32, 64, 128])
def test_output_shape_equals_input_shape(channels, image_size):
    config = small_config(image_size, channels, num_heads=2)
    x, t = batch(config)
    with torch.no_grad():
        out = build(config)(x, t)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_sizes_that_are_not_powers_of_two():
    config = small_config(24, 1, channel_mults=(1, 2, 2, 2), attention_resolutions=(6, 3))  # maps 24, 12, 6, 3
    x, t = batch(config)
    with torch.no_grad():
        assert build(config)(x, t).shape == x.shape


def test_fresh_net_predicts_zero():
    """The output conv and each residual branch start at zero, as in the reference implementation."""
    config = small_config()
    x, t = batch(config)
    with torch.no_grad():
        assert torch.equal(UNet(config)(x, t), torch.zeros_like(x))


@pytest.mark.parametrize("name, low, high", [("tiny", 0, 1e6), ("small", 2e6, 4e6), ("base", 15e6, 35e6)])
def test_preset_parameter_counts(name, low, high):
    config = preset(name, image_size=32, channels=3)
    assert low <= count_parameters(UNet(config)) < high


def test_tiny_preset_grey_16_and_default_is_small():
    assert count_parameters(UNet(preset("tiny", 16, 1))) < 1e6
    assert UNetConfig() == preset("small")


def test_preset_attention_moves_to_a_size_the_net_has():
    assert preset("tiny", 32, 3).attention_resolutions == (8,)
    assert preset("tiny", 64, 3).attention_resolutions == (16,)  # 3 levels on 64×64: 64, 32, 16
    assert preset("base", 128, 1).attention_resolutions == (16,)


def test_output_depends_on_t_and_x():
    config = small_config()
    model = build(config)
    x, _ = batch(config)
    first, last = torch.zeros(2, dtype=torch.long), torch.full((2,), 999)
    with torch.no_grad():
        out = model(x, first)
        assert not torch.allclose(out, model(x, last), atol=1e-4)
        assert not torch.allclose(out, model(x + 0.5 * torch.randn_like(x), first), atol=1e-4)
        assert torch.isfinite(model(x, last)).all()


def test_a_few_steps_reduce_the_loss():
    """Ten Adam steps on one batch of x_t = 0.6·x_0 + 0.8·ε already predict ε better than zero."""
    config = small_config()
    torch.manual_seed(0)
    model = UNet(config)
    eps, t = batch(config, size=4)
    x0 = torch.linspace(-1, 1, config.image_size).expand_as(eps)  # (B, C, H, W) horizontal ramps
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(10):
        loss = torch.nn.functional.mse_loss(model(0.6 * x0 + 0.8 * eps, t), eps)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]


def test_channels_last_matches_contiguous():
    config = small_config(32)
    model = build(config)
    x, t = batch(config)
    with torch.no_grad():
        expected = model(x, t)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.contiguous(memory_format=torch.channels_last), t)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_runs_under_bfloat16_autocast():
    config = small_config()
    model = build(config)
    x, t = batch(config)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, t)
    assert out.shape == x.shape and torch.isfinite(out.float()).all()


def test_norm_groups_divide_every_width():
    for width in (4, 8, 32, 64, 96, 128, 144, 192, 288, 384):
        groups = norm_groups(width)
        assert width % groups == 0 and 1 <= groups <= 32 and width // groups >= 4
    assert norm_groups(128) == 32 and norm_groups(32) == 8


@pytest.mark.parametrize("overrides, match", [
    ({"image_size": 20, "channel_mults": (1, 2, 2, 2)}, r"image_size 20 .* 4 levels.*multiple of 8"),
    ({"image_size": 256}, r"image_size 256 .*16–128"),
    ({"image_size": 8}, r"image_size 8 .*16–128"),
    ({"channels": 2}, r"channels must be 1 \(grey\) or 3 \(RGB\), got 2"),
    ({"attention_resolutions": (5,)}, r"attention_resolutions \[5\] never occur.*\[16, 8, 4\]"),
    ({"base_channels": 6}, r"base_channels must be a positive multiple of 4"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"channel_mults": ()}, r"channel_mults must be a non-empty"),
    ({"blocks_per_level": 0}, r"blocks_per_level must be at least 1"),
    ({"num_heads": 3}, r"num_heads 3 must divide"),
])
def test_invalid_configs_are_clear_errors(overrides, match):
    with pytest.raises(ValueError, match=match):
        small_config(**{"image_size": 16, **overrides})


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match=r"unknown U-Net preset 'huge'.*'base', 'small', 'tiny'"):
        preset("huge", 32, 3)


@pytest.mark.parametrize("image_size", [0, 20, 256])
def test_preset_at_an_unsupported_size_is_a_clear_error(image_size):
    with pytest.raises(ValueError, match=rf"image_size {image_size} is not supported with 4 levels"):
        preset("base", image_size, 3)


def test_wrong_input_shape_is_a_clear_error():
    model = UNet(small_config(16, 1))
    with pytest.raises(ValueError, match=r"takes images of shape \(B, 1, 16, 16\)"):
        model(torch.zeros(2, 3, 16, 16), torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_config_round_trips_through_json(name):
    config = preset(name, 64, 1)
    data = json.loads(json.dumps(config.to_dict()))
    assert isinstance(data["channel_mults"], list)
    assert UNetConfig.from_dict(data) == config


def test_an_unconditional_net_is_built_exactly_as_before_num_classes_existed():
    """A config without `num_classes` (every checkpoint saved before it) is num_classes 0: the same weights from the
    same seed, no class embedding, and the same output with or without the field spelled out."""
    saved = {k: v for k, v in small_config(16, 1).to_dict().items() if k != "num_classes"}
    old, new = UNetConfig.from_dict(saved), small_config(16, 1, num_classes=0)
    assert old == new and old.num_classes == 0
    a, b = build(old), build(new)
    assert a.state_dict().keys() == b.state_dict().keys() and not any("class" in k for k in a.state_dict())
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    x, t = batch(old)
    with torch.no_grad():
        assert torch.equal(a(x, t), b(x, t))


def test_a_conditional_preset_adds_only_the_class_embedding():
    plain, conditional = preset("tiny", 16, 1), preset("tiny", 16, 1, num_classes=10)
    extra = count_parameters(UNet(conditional)) - count_parameters(UNet(plain))
    assert conditional.num_classes == 10 and extra == 11 * 4 * plain.base_channels  # (10 + ∅) rows of 4·base


def test_from_dict_rejects_unknown_keys():
    data = {**small_config().to_dict(), "width": 64}
    with pytest.raises(ValueError, match=r"unknown UNetConfig keys \['width'\]; known keys: \["):
        UNetConfig.from_dict(data)
