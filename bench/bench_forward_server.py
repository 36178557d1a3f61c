"""Server-side cost of one t-slider update on the Forward tab (compute + encode), at 256² and 512².

Run:  cd /work/main && .venv/bin/python bench/bench_forward_server.py [--quick]

Prints median / p90 / mean in ms per stage, a breakdown of the `views_at_t` callback, and a
PASS/MISS line for the issue's target: median (compute + JPEG encode) ≤ 10 ms at 512².
This is a script that prints figures; it is deliberately not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time

from common import CACHE, ROOT, machine as _machine  # noqa: E402  (sets up the environment first)

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import orjson  # noqa: E402  (what Gradio serialises event data with)
import PIL  # noqa: E402
import plotly  # noqa: E402

from ddpm_core.images import load_image, to_uint8  # noqa: E402
from ui import forward_tab, plots  # noqa: E402
from ui.forward_tab import (ForwardImage, diffusion_for, images_at_t, make_noise,  # noqa: E402
                            parse_config, views_at_t, x_t_of)

TARGET_MS = 10.0
ASTRONAUT = str(ROOT / "assets" / "astronaut.jpg")
RESOLUTIONS = (256, 512)
SCHED = ("linear", 1000, 1e-4, 0.02, True, 0.008)  # schedule, T, β_1, β_T, rescale, cosine s (app defaults)


def machine() -> str:
    return (f"{_machine()}; numpy {np.__version__}, Pillow {PIL.__version__}, plotly {plotly.__version__}")


def timed(fn, ts, warmup: int = 5) -> list[float]:
    """ms per call of fn(t) for each t in ts, after `warmup` untimed calls."""
    for t in ts[:warmup]:
        fn(int(t))
    out = []
    for t in ts:
        t = int(t)
        start = time.perf_counter()
        fn(t)
        out.append((time.perf_counter() - start) * 1e3)
    return out


def optional(results: dict, key: tuple, measure) -> None:
    """Store measure() under key, or the error under key + '!' (a breakdown row the app no longer has)."""
    try:
        results[key] = measure()
    except Exception as exc:  # noqa: BLE001
        results[(key[0], key[1] + "!")] = f"{type(exc).__name__}: {exc}"[:60]


def summary(ms: list[float]) -> tuple[float, float, float]:
    arr = np.asarray(ms)
    return float(np.median(arr)), float(np.percentile(arr, 90)), float(arr.mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    n_fast, n_ref, n_cb = (max(20, int(n * scale)) for n in (300, 60, 40))

    print("DDPM Explorer: server-side cost of a t-slider update (bench/bench_forward_server.py)")
    print("machine:", machine())
    print("image: assets/astronaut.jpg via load_image(path, res), RGB; noise make_noise(seed=0); "
          "schedule linear T=1000 (β 1e-4..0.02, rescale); t drawn uniformly from 1..1000")
    print(f"iterations: {n_fast} for (a)-(c), {n_ref} per format for (d), {n_cb} for (e)-(f); "
          "timer time.perf_counter; ms\n")

    diffusion = diffusion_for(parse_config(*SCHED))
    rng = np.random.default_rng(0)
    jpeg, png, webp = gr.Image(format="jpeg"), gr.Image(format="png"), gr.Image(format="webp")
    results: dict[tuple[int, str], list[float]] = {}
    sizes: dict[tuple[int, str], float] = {}
    rows = [
        ("a", "compute: x_t_of(image, diffusion, t)"),
        ("b", "compute + to_uint8"),
        ("c", "compute + uint8 + gr.Image(format='jpeg').postprocess   <- slider update"),
        ("d-png", "compute + uint8 + gr.Image(format='png').postprocess"),
        ("d-webp", "compute + uint8 + gr.Image(format='webp').postprocess (Gradio default)"),
        ("e-img", "images_at_t(...) server mode: x_t for both schedules (cosine)"),
        ("e", "views_at_t(...) whole callback, compare='cosine' (app default)"),
        ("e-none", "views_at_t(...) whole callback, compare='none'"),
        ("f", "views_at_t + Gradio postprocess_data of its 4 outputs (cosine)"),
        ("x-sched", "  in (e): schedule plot, 2 schedules (incl. as_plot)"),
        ("x-hist", "  in (e): histogram plot (incl. as_plot)"),
        ("x-json", "  in (f): gr.Plot().postprocess(schedule plot)"),
    ]

    # The real app and its `views_at_t` event, for (f): Gradio's own postprocessing path.
    from app import build_app
    from gradio.state_holder import SessionState

    demo = build_app()
    block_fn = next(fn for fn in demo.fns.values() if fn.api_name == "views_at_t")
    loop = asyncio.new_event_loop()

    for res in RESOLUTIONS:
        x0 = load_image(ASTRONAUT, res)
        image = ForwardImage(x0=x0, eps=make_noise(x0.shape, 0), seed=0)
        ts_fast = rng.integers(1, 1001, n_fast)
        ts_ref = rng.integers(1, 1001, n_ref)
        ts_cb = rng.integers(1, 1001, n_cb)

        def encoded(component, t):
            return component.postprocess(to_uint8(x_t_of(image, diffusion, t)))

        results[(res, "a")] = timed(lambda t: x_t_of(image, diffusion, t), ts_fast)
        results[(res, "b")] = timed(lambda t: to_uint8(x_t_of(image, diffusion, t)), ts_fast)
        results[(res, "c")] = timed(lambda t: encoded(jpeg, t), ts_fast)
        results[(res, "d-png")] = timed(lambda t: encoded(png, t), ts_ref)
        results[(res, "d-webp")] = timed(lambda t: encoded(webp, t), ts_ref)
        for key, component in (("c", jpeg), ("d-png", png), ("d-webp", webp)):
            sizes[(res, key)] = statistics.median(
                os.path.getsize(encoded(component, int(t)).path) for t in ts_ref[:20]) / 1024

        cb_args = lambda compare: (compare, *SCHED)  # noqa: E731
        results[(res, "e-img")] = timed(lambda t: images_at_t(image, t, "cosine", False, *SCHED), ts_cb, warmup=3)
        results[(res, "e")] = timed(lambda t: views_at_t(image, t, *cb_args("cosine")), ts_cb, warmup=3)
        results[(res, "e-none")] = timed(lambda t: views_at_t(image, t, *cb_args("none")), ts_cb, warmup=3)

        state = SessionState(demo)
        payload_kb = []

        def full(t):
            predictions = views_at_t(image, t, *cb_args("cosine"))
            out = loop.run_until_complete(demo.postprocess_data(block_fn, list(predictions), state))
            payload_kb.append(len(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)) / 1024)

        results[(res, "f")] = timed(full, ts_cb, warmup=3)
        sizes[(res, "f")] = statistics.median(payload_kb)

        # Breakdown of (e)/(f).
        cosine_cfg = parse_config("cosine", 1000, 1e-4, 0.02, True, 0.008)
        cosine = diffusion_for(cosine_cfg)
        outputs = views_at_t(image, 500, *cb_args("cosine"))
        curves = [("linear", diffusion), ("cosine", cosine)]
        configs = (parse_config(*SCHED), cosine_cfg)
        sched = lambda t: plots.schedule_figure(forward_tab.schedule_curves(configs), curves, t)  # noqa: E731
        optional(results, (res, "x-sched"), lambda: timed(lambda t: plots.as_plot(sched(t)), ts_cb, warmup=2))
        x_np = x_t_of(image, diffusion, 500).numpy()
        optional(results, (res, "x-hist"),
                 lambda: timed(lambda t: plots.as_plot(plots.histogram_figure(x_np, t)), ts_cb, warmup=2))
        plot = gr.Plot()
        optional(results, (res, "x-json"),
                 lambda: timed(lambda t: plot.postprocess(outputs[0]), ts_cb, warmup=2))

    loop.close()

    head = f"{'stage':<74}" + "".join(f"{f'{r}² median':>12}{'p90':>8}{'mean':>8}" for r in RESOLUTIONS)
    print(head)
    print("-" * len(head))
    for key, label in rows:
        if any((r, key) not in results for r in RESOLUTIONS):
            print(f"({key}) {label}"[:74].ljust(74) + "  n/a (" + str(results.get((RESOLUTIONS[0], key + "!"),
                  "not applicable to this version of the app")) + ")")
            continue
        cells = "".join("{:>12.2f}{:>8.2f}{:>8.2f}".format(*summary(results[(r, key)])) for r in RESOLUTIONS)
        print(f"({key}) {label}"[:74].ljust(74) + cells)
    print()
    for key, what in (("c", "JPEG"), ("d-png", "PNG"), ("d-webp", "WebP")):
        print(f"encoded size, {what}: " + ", ".join(f"{r}²: {sizes[(r, key)]:.0f} KB" for r in RESOLUTIONS))
    print("views_at_t event output JSON (sent per slider change, image bytes fetched separately): "
          + ", ".join(f"{r}²: {sizes[(r, 'f')]:.0f} KB" for r in RESOLUTIONS))
    print()
    for r in RESOLUTIONS:
        med = summary(results[(r, "c")])[0]
        print(f"slider update (compute + JPEG encode) at {r}²: median {med:.2f} ms, "
              f"p90 {summary(results[(r, 'c')])[1]:.2f} ms")
    med512 = summary(results[(512, "c")])[0]
    verdict = "PASS" if med512 <= TARGET_MS else "MISS"
    print(f"{verdict}: median compute + encode at 512² = {med512:.2f} ms (target ≤ {TARGET_MS:.0f} ms)")
    print("note: the whole views_at_t event (f) is what the server actually runs per slider change; "
          "(c) is the x_t image alone.")
    print("load average at end:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    demo.close()
    shutil.rmtree(CACHE, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
