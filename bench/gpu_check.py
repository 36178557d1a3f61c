"""GPU verification in one run: the bundled model sampled and trained on CUDA against the CPU, then the GPU
benchmarks (sampling and training images/s against diffusers on the same GPU, fp32 and bf16).

    bash bench/gpu_check.sh                 # the tests skipped without CUDA, then this script
    python bench/gpu_check.py [--smoke]     # --smoke: every step on the CPU with tiny sizes (checks the script)

Agreement checks (the exit status is 1 if one fails):
- sampling: the bundled digits model, 64 images, 50 DDIM steps (η = 0, deterministic) from one x_T drawn on
  the CPU: CUDA fp32 (TF32 off) against the CPU, max |Δ| ≤ 2e-3 on [−1, 1] (float32 rounding through 50
  network evaluations: the tests' 1e-4 per small network, grown over the chain); CUDA with bf16 autocast
  against the CPU, mean |Δ| ≤ 0.05 (bf16 keeps 8 bits of mantissa: a visually identical grid);
- training: 10 steps of the bundled model's settings (tiny U-Net, 16×16 grey, batch 64, AdamW, clipping, EMA)
  on the same digits, the same t and ε each step (drawn on the CPU): losses within 1e-4 relative and weights
  within 1e-4 absolute of the CPU's (fp32, TF32 off);
- and `train()` itself for 60 steps on CUDA: it runs, saves, and its checkpoint loads.

Benchmarks (printed, no pass/fail): DDIM 50 steps of a small U-Net at 32×32 RGB, batch 256, ours against
diffusers' DDIMScheduler loop; training steps of the `small` preset at 32×32, batch 128, ours against a
diffusers UNet2DModel of the same layout; each in fp32 and bf16, medians of 3 repeats after a warm-up.
diffusers is not installed on a bare GPU machine: carry its wheel (see bench/README.md) or the diffusers rows
say they were skipped.
"""

from __future__ import annotations

import argparse

import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from ddpm_core.checkpoints import load_checkpoint  # noqa: E402
from ddpm_core.config import DiffusionConfig  # noqa: E402
from ddpm_core.data import load_image_folder  # noqa: E402
from ddpm_core.losses import simple_loss  # noqa: E402
from ddpm_core.sample import fast_model  # noqa: E402
from ddpm_core.samplers import sample_loop  # noqa: E402
from ddpm_core.train import TrainConfig, make_ema, train  # noqa: E402
from ddpm_core.unet import UNet, preset  # noqa: E402

BUNDLED = ROOT / "checkpoints" / "digits.safetensors"
FAILURES: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
    if not ok:
        FAILURES.append(name)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# ---- agreement ------------------------------------------------------------------------------------------

def sampling_agreement(device: str, n: int, steps: int) -> None:
    checkpoint = load_checkpoint(BUNDLED)
    c = checkpoint.model.config
    x_T = torch.randn(n, c.channels, c.image_size, c.image_size, generator=torch.Generator().manual_seed(0))
    finals = {}
    for name, where, precision in (("cpu", "cpu", "fp32"), ("fp32", device, "fp32"), ("bf16", device, "bf16")):
        model = fast_model(load_checkpoint(BUNDLED).model, torch.device(where), precision)
        diffusion = checkpoint.diffusion.to(where)
        with torch.inference_mode():
            *_, last = sample_loop(model, diffusion, x_T.to(where), sampler="ddim", steps=steps, clip=True)
        finals[name] = last.step.prev_sample.float().cpu()
    fp32 = (finals["fp32"] - finals["cpu"]).abs().max().item()
    bf16 = (finals["bf16"] - finals["cpu"]).abs().mean().item()
    check("sampling fp32", fp32 <= 2e-3, f"max |Δ| {fp32:.2e} (≤ 2e-3), {n} images, {steps} DDIM steps")
    check("sampling bf16", bf16 <= 0.05, f"mean |Δ| {bf16:.2e} (≤ 0.05)")


def training_agreement(device: str, steps: int = 10) -> None:
    config = TrainConfig(image_size=16, channels=1, preset="tiny", batch_size=64)
    data = load_image_folder(ROOT / "assets" / "digits", 16, 1, flip=False).dataset
    x0 = torch.stack([data[i] for i in range(config.batch_size)])
    g = torch.Generator().manual_seed(1)
    draws = [(torch.randint(0, 1000, (config.batch_size,), generator=g), torch.randn(x0.shape, generator=g))
             for _ in range(steps)]
    results = {}
    for where in ("cpu", device):
        torch.manual_seed(0)
        model = UNet(preset("tiny", 16, 1)).to(where)
        ema, diffusion = make_ema(model, config.ema_decay), DiffusionConfig().build().to(where)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
        losses = []
        for t, noise in draws:
            loss = simple_loss(model, diffusion, x0.to(where), t=t.to(where), noise=noise.to(where))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            ema.update_parameters(model)
            losses.append(loss.item())
        results[where] = (losses, torch.cat([p.detach().flatten().cpu() for p in ema.module.parameters()]))
    (cpu_losses, cpu_weights), (losses, weights) = results["cpu"], results[device]
    relative = max(abs(a - b) / abs(b) for a, b in zip(losses, cpu_losses))
    drift = (weights - cpu_weights).abs().max().item()
    check("training losses", relative <= 1e-4, f"max relative |Δ| {relative:.1e} over {steps} steps (≤ 1e-4)")
    check("training weights", drift <= 1e-4, f"EMA weights max |Δ| {drift:.1e} (≤ 1e-4)")


def training_runs(device: str, steps: int) -> None:
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(image_size=16, channels=1, preset="tiny", batch_size=64, steps=steps, flip=False,
                             save_every=max(1, steps // 2))
        start = time.perf_counter()
        result = train(config, DiffusionConfig(), ROOT / "assets" / "digits", out, device=device)
        seconds = time.perf_counter() - start
        loaded = load_checkpoint(Path(out) / "model.safetensors")
        check("train() end to end", result.step == steps and loaded.step == steps,
              f"{steps} steps in {seconds:.1f} s ({steps * 64 / seconds:,.0f} images/s), checkpoint loads")


# ---- benchmarks -----------------------------------------------------------------------------------------

def timed(fn, device: str, repeats: int = 3) -> float:
    fn()  # warm-up (kernels chosen, memory allocated)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def autocast(device: str, bf16: bool):
    return torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def sampling_benchmark(device: str, batch: int, steps: int, width: int = 64) -> None:
    from ddpm_core.unet import UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(image_size=32, channels=3, base_channels=width, channel_mults=(1, 2, 2),
                          attention_resolutions=(16,), dropout=0.0)).to(device).eval()
    diffusion = DiffusionConfig().build().to(device)
    x_T = torch.randn(batch, 3, 32, 32, device=device)
    try:
        from diffusers import DDIMScheduler
    except ImportError:
        DDIMScheduler = None
    print(f"\nsampling: DDIM {steps} steps, 32×32 RGB, batch {batch} (images/s, median of 3)")
    for bf16 in (False, True):
        model = fast_model(net, torch.device(device), "bf16" if bf16 else "fp32")

        def ours():
            with torch.inference_mode():
                for _ in sample_loop(model, diffusion, x_T, sampler="ddim", steps=steps, clip=True):
                    pass
        seconds = timed(ours, device)
        row = f"  {'bf16' if bf16 else 'fp32'}  ours {batch / seconds:9,.0f}"
        if DDIMScheduler is not None:
            scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4,
                                      beta_end=0.02, clip_sample=True, set_alpha_to_one=True,
                                      timestep_spacing="linspace")
            scheduler.set_timesteps(steps)

            def theirs():
                x = x_T
                with torch.inference_mode(), autocast(device, bf16):
                    for t in scheduler.timesteps:
                        eps = net(x, torch.full((batch,), int(t), device=device)).float()
                        x = scheduler.step(eps, t, x).prev_sample
            other = timed(theirs, device)
            row += f"   diffusers' loop {batch / other:9,.0f}   ours / diffusers {other / seconds:.2f}×"
        else:
            row += "   diffusers: not installed, skipped"
        print(row, flush=True)


def training_benchmark(device: str, batch: int, steps: int, name: str = "small") -> None:
    config = TrainConfig(image_size=32, channels=3, preset=name, batch_size=batch)
    print(f"\ntraining: preset {name}, 32×32 RGB, batch {batch}, {steps} steps (images/s, median of 3)")
    try:
        from diffusers import DDPMScheduler, UNet2DModel
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_train import DIFFUSERS_LAYOUTS
    except ImportError:
        UNet2DModel = None
    x0 = torch.randn(batch, 3, 32, 32, device=device)
    for bf16 in (False, True):
        torch.manual_seed(0)
        model = UNet(preset(name, 32, 3)).to(device)
        ema, diffusion = make_ema(model, 0.999), DiffusionConfig().build().to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        from ddpm_core.train import training_step

        def ours():
            for _ in range(steps):
                training_step(model, model, ema, optimizer, diffusion, x0, config, autocast(device, bf16))
        seconds = timed(ours, device)
        row = f"  {'bf16' if bf16 else 'fp32'}  ours {steps * batch / seconds:9,.0f}"
        if UNet2DModel is not None:
            net = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, **DIFFUSERS_LAYOUTS[name]).to(device)
            scheduler = DDPMScheduler(num_train_timesteps=1000)
            opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

            def theirs():
                for _ in range(steps):
                    noise = torch.randn_like(x0)
                    t = torch.randint(0, 1000, (batch,), device=device)
                    with autocast(device, bf16):
                        loss = torch.nn.functional.mse_loss(net(scheduler.add_noise(x0, noise, t), t).sample.float(),
                                                            noise)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                    opt.step()
            other = timed(theirs, device)
            row += f"   diffusers {steps * batch / other:9,.0f}   ours / diffusers {other / seconds:.2f}× (theirs: no EMA)"
        else:
            row += "   diffusers: not installed, skipped"
        print(row, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="run every step on the CPU, small (checks the script)")
    args = parser.parse_args()
    if args.smoke:
        device, sizes = "cpu", dict(n=8, steps=5, train_steps=4, batch=4, bench_steps=2, train_batch=4, width=16,
                                    preset="tiny")
    elif torch.cuda.is_available():
        device, sizes = "cuda", dict(n=64, steps=50, train_steps=60, batch=256, bench_steps=20, train_batch=128,
                                     width=64, preset="small")
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    else:
        print("No CUDA device here (torch.cuda.is_available() is False): skipping the GPU checks.")
        return 0
    print("agreement with the CPU:")
    sampling_agreement(device, sizes["n"], sizes["steps"])
    training_agreement(device)
    training_runs(device, sizes["train_steps"])
    if device == "cuda":  # the benchmarks as the app runs them: TF32 allowed
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cuda.matmul.allow_tf32 = True
    sampling_benchmark(device, sizes["batch"], sizes["steps"], sizes["width"])
    training_benchmark(device, sizes["train_batch"], sizes["bench_steps"], sizes["preset"])
    print(f"\n{'all agreement checks passed' if not FAILURES else 'FAILED: ' + ', '.join(FAILURES)}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
