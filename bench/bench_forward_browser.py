"""Slider → visible x_t in headless Chromium, and browser-side compositing frame rate (Forward tab).

Run:  cd /work/main && .venv/bin/python bench/bench_forward_browser.py [--samples 25] [--scrub-seconds 3]

Launches the real app in-process on a free port (as tests/conftest.py does) and Debian Chromium
through Playwright at 1400×1000, then prints:

1. Server path at 256² (browser compositing off, `#fwd-xt` shown): time from setting the t slider
   in page JS (value + input + change events) to the new <img> src, to its decode, and to the next
   animation frame; median / p90 against the 100 ms target. Timing is done with the page's
   performance.now(), so Playwright's round trip is not included.
2. Browser compositing (on, page reloaded) at 256² and 512²:
   (i)  cost of one `window.ddpmScrub(t)` redraw, t = 0..1000 in a tight loop (ms/frame, max fps);
   (ii) pointer-like scrubbing: for a few seconds each requestAnimationFrame sets the range input's
        value and dispatches `input`; prints frames per second, canvas redraws (dataset.renders),
        frame-interval median / p90 / max, and the network requests made meanwhile (by kind);
   (iii) the same rAF loop calling ddpmScrub directly (no slider events, so no server traffic),
        to separate the canvas cost from what the slider's server-side `.change` costs the page;
   (iv) what-if: as (ii) but the page's queue/join request is left unanswered (Playwright route),
        so the slider's events run but no server outputs come back to be rendered.

This is a script that prints figures; it is deliberately not a timed test.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import time

from common import CACHE, free_port, machine as _machine  # noqa: E402  (sets up the environment first)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGET_MS = 100.0
RANGE = "#fwd-t input[type=range]"

# Set t from page JS and wait (in the page) for the server's new <img> to arrive and decode.
SERVER_STEP_JS = """
async (t) => {
  const root = document.querySelector('#fwd-xt');
  const input = document.querySelector('#fwd-t input[type=range]');
  const current = () => root.querySelector('img');
  const before = current() ? current().src : null;
  const fresh = () => { const im = current(); return im && im.src && im.src !== before ? im : null; };
  if (!window.__longTasks) {
    window.__longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e); })
      .observe({entryTypes: ['longtask']});
  }
  await new Promise((r) => requestIdleCallback(r, {timeout: 3000}));  // start from an idle page
  performance.clearResourceTimings();
  const t0 = performance.now();
  input.value = String(t);
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new Event('change', {bubbles: true}));
  const img = await new Promise((resolve, reject) => {
    const now = fresh();
    if (now) return resolve(now);
    const mo = new MutationObserver(() => { const im = fresh(); if (im) { mo.disconnect(); resolve(im); } });
    mo.observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    setTimeout(() => { mo.disconnect(); reject(new Error('no new image within 15 s')); }, 15000);
  });
  const tSrc = performance.now();
  await img.decode();
  const tDecoded = performance.now();
  await new Promise((r) => requestAnimationFrame(() => r()));
  const tFrame = performance.now();
  const entries = performance.getEntriesByType('resource').filter((e) => e.startTime >= t0 - 1);
  const first = (part, field) => { const e = entries.find((x) => x.name.includes(part)); return e ? e[field] - t0 : null; };
  const imgEntry = entries.find((x) => x.name === img.src);
  const long = window.__longTasks.filter((e) => e.startTime >= t0 - 1 && e.startTime < tFrame);
  return {src: tSrc - t0, decoded: tDecoded - t0, frame: tFrame - t0,
          join: first('queue/join', 'startTime'), done: first('queue/data', 'responseEnd'),
          fileStart: imgEntry ? imgEntry.startTime - t0 : null, fileEnd: imgEntry ? imgEntry.responseEnd - t0 : null,
          longTaskMs: long.reduce((a, e) => a + e.duration, 0)};
}
"""

# Tight loop over t = 0..T calling the canvas redraw directly.
RENDER_LOOP_JS = """
() => {
  const el = document.querySelector('#fwd-scrub [data-loaded]');
  const n = 1001, r0 = Number(el.dataset.renders || 0);
  window.ddpmScrub(0);
  const t0 = performance.now();
  for (let t = 0; t < n; t++) window.ddpmScrub(t);
  const total = performance.now() - t0;
  return {frames: n, total, renders: Number(el.dataset.renders) - r0 - 1, lastRenderMs: Number(el.dataset.renderMs)};
}
"""

# requestAnimationFrame-driven scrub for `seconds`: sweep t back and forth like a pointer drag.
# viaSlider: pointer down, then set the range input and dispatch `input` each frame (what a drag
# does), then pointer up; else call ddpmScrub directly.
RAF_SCRUB_JS = """
async ([seconds, viaSlider]) => {
  const el = document.querySelector('#fwd-scrub [data-loaded]');
  const input = document.querySelector('#fwd-t input[type=range]');
  const max = Number(input.max) || 1000;
  const r0 = Number(el.dataset.renders || 0);
  const stamps = [];
  let frames = 0, t = 0, dir = 1, mismatched = 0;
  const step = 7;   // ~0.7 % of the range per frame: a brisk drag
  // A real drag holds the pointer down on the slider from start to end (the app throttles its
  // server-side views while it does).
  if (viaSlider) input.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true}));
  await new Promise((resolve) => {
    const t0 = performance.now();
    function frame(now) {
      stamps.push(now);
      if (frames > 0 && Number(el.dataset.t) !== t) mismatched++;   // did the last frame's t get drawn?
      t += dir * step;
      if (t >= max) { t = max; dir = -1; } else if (t <= 0) { t = 0; dir = 1; }
      if (viaSlider) { input.value = String(t); input.dispatchEvent(new Event('input', {bubbles: true})); }
      else { window.ddpmScrub(t); }
      frames++;
      if (now - t0 < seconds * 1000) requestAnimationFrame(frame); else resolve();
    }
    requestAnimationFrame(frame);
  });
  if (viaSlider) input.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
  const duration = stamps[stamps.length - 1] - stamps[0];
  const gaps = stamps.slice(1).map((s, i) => s - stamps[i]);
  return {frames, duration, renders: Number(el.dataset.renders) - r0, gaps, mismatched,
          lastRenderMs: Number(el.dataset.renderMs)};
}
"""


def pct(values, q) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "chromium (version unknown)"


def machine() -> str:
    from importlib.metadata import version

    return f"{_machine()}; playwright {version('playwright')}, {chromium_version()} headless --disable-gpu"


def request_kind(url: str) -> str:
    for key in ("queue/join", "queue/data", "heartbeat", "file=", "upload"):
        if key in url:
            return key
    return "other"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=25, help="server-path samples (default 25)")
    parser.add_argument("--scrub-seconds", type=float, default=3.0, help="rAF scrub duration per run")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from app import build_app, launch_options

    print("DDPM Explorer: slider → visible x_t in headless Chromium (bench/bench_forward_browser.py)")
    print("machine:", machine())
    print("viewport 1400×1000; image: the default x₀ (assets/shapes.png); linear schedule T=1000; "
          "comparison schedule 'cosine' (app defaults); timings from the page's performance.now()\n")

    demo = build_app()
    demo.queue(default_concurrency_limit=4)
    options = launch_options()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, **options)
    started = time.perf_counter()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(30_000)
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))

            # ---- 1. server path at 256² -------------------------------------------------------
            page.goto(url)
            page.wait_for_selector('#fwd-scrub [data-loaded="256"]', state="attached")
            page.locator("#fwd-browser input[type=checkbox]").click()
            page.wait_for_selector("#fwd-xt img", state="attached")
            page.wait_for_function("() => { const im = document.querySelector('#fwd-xt img');"
                                   " return im && im.complete && im.naturalWidth > 0; }")
            page.wait_for_timeout(1000)  # let the first render's plots settle
            rng = random.Random(0)
            samples, previous = [], int(page.locator(RANGE).input_value())
            for i in range(args.samples + 2):  # the first two are warm-up
                t = previous
                while abs(t - previous) < 5:
                    t = rng.randint(1, 1000)
                previous = t
                result = page.evaluate(SERVER_STEP_JS, t)
                if i >= 2:
                    samples.append(result)
                page.wait_for_timeout(250)  # idle gap: every sample starts with the server free
            size = page.evaluate("() => { const im = document.querySelector('#fwd-xt img');"
                                 " return [im.naturalWidth, im.naturalHeight]; }")
            print(f"1. server path, browser compositing OFF, x_t as {size[0]}×{size[1]} JPEG "
                  f"({len(samples)} samples, random t, 250 ms idle between samples)")
            for key, what in (("src", "new <img> src set (server round trip)"),
                              ("decoded", "img.decode() resolved (fetched + decoded)"),
                              ("frame", "next animation frame after decode (visible)")):
                values = [s[key] for s in samples]
                print(f"   slider → {what:<44} median {statistics.median(values):7.1f} ms"
                      f"   p90 {pct(values, 90):7.1f} ms   min {min(values):6.1f}   max {max(values):6.1f}")
            print("   where the time goes (medians over samples that have the entry; ms after the slider is set):")
            for key, what in (("join", "POST queue/join starts (client-side work before the request)"),
                              ("done", "event stream ends (server ran views_at_t, sent the outputs)"),
                              ("fileStart", "GET of the new JPEG starts (outputs applied in the page)"),
                              ("fileEnd", "JPEG bytes received"),
                              ("longTaskMs", "main-thread long tasks (>50 ms) in the window, total")):
                values = [s[key] for s in samples if s.get(key) is not None]
                text = f"{statistics.median(values):7.1f}" if values else "    n/a"
                print(f"     {what:<66} {text}  (n={len(values)})")
            k = min(5, len(samples) // 2)
            early = statistics.median(s["decoded"] for s in samples[:k])
            late = statistics.median(s["decoded"] for s in samples[-k:])
            stored = page.evaluate("() => { let n = 0; for (let i = 0; i < localStorage.length; i++) {"
                                   " const key = localStorage.key(i); n += key.length + localStorage.getItem(key).length; }"
                                   " return n; }")
            print(f"   first {k} samples median {early:.1f} ms, last {k} median {late:.1f} ms; this origin's "
                  f"localStorage now holds {stored / 1e6:.2f} M characters (Gradio run history)")
            med = statistics.median(s["decoded"] for s in samples)
            print(f"   {'PASS' if med <= TARGET_MS else 'MISS'}: slider → decoded image at 256², median {med:.1f} ms "
                  f"(target ≤ {TARGET_MS:.0f} ms)\n")

            # ---- 2. browser compositing -------------------------------------------------------
            print("2. browser compositing ON (x_0 and ε sent once; every slider `input` redraws a <canvas>)")
            held = []  # for (iv): queue/join requests left unanswered

            def hold(route):
                held.append(route)

            for res in (256, 512):
                page.reload()  # a fresh session at 256² (also clears (iv)'s withheld request)
                page.wait_for_selector('#fwd-scrub [data-loaded="256"]', state="attached")
                if not page.locator("#fwd-browser input[type=checkbox]").is_checked():
                    raise SystemExit("browser compositing is not on after reload")
                if res != 256:
                    number = page.locator("#fwd-res input[type=number]")
                    number.fill(str(res))
                    number.press("Enter")
                    page.wait_for_selector(f'#fwd-scrub [data-loaded="{res}"]', state="attached")
                page.wait_for_timeout(1500)  # let the load's other outputs (strip, plots) settle
                loop = page.evaluate(RENDER_LOOP_JS)
                per = loop["total"] / loop["frames"]
                print(f"   {res}²  (i) ddpmScrub(t) for t = 0..1000 in a loop: {per:.2f} ms/frame "
                      f"→ at most {1000 / per:.0f} redraws/s (renders counted {loop['renders']}/{loop['frames']})")
                variants = (("ii", True, "rAF drag: range.value + `input` event (as the app runs)"),
                            ("iii", False, "rAF, ddpmScrub(t) only, no slider event"),
                            ("iv", True, "rAF drag, what-if: server replies withheld"))
                for name, via_slider, label in variants:
                    if name == "iv":  # slider events and Gradio's dispatch, but no outputs come back
                        page.route("**/gradio_api/queue/join*", hold)
                    page.wait_for_timeout(1500)  # drain anything still in flight
                    n0 = len(requests)
                    run = page.evaluate(RAF_SCRUB_JS, [args.scrub_seconds, via_slider])
                    page.wait_for_timeout(500)  # requests the last events set off still count
                    made = requests[n0:]
                    kinds: dict[str, int] = {}
                    for u in made:
                        kinds[request_kind(u)] = kinds.get(request_kind(u), 0) + 1
                    fps = (run["frames"] - 1) / (run["duration"] / 1000)
                    gaps = run["gaps"]
                    kinds_text = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"
                    print(f"   {res}²  ({name}) {label}:\n"
                          f"          {fps:5.1f} fps over {run['duration'] / 1000:.1f} s; {run['frames']} frames, "
                          f"{run['renders']} canvas redraws, {run['mismatched']} frames not drawn by the next frame; "
                          f"frame interval median {statistics.median(gaps):.1f} ms, p90 {pct(gaps, 90):.1f} ms, "
                          f"max {max(gaps):.1f} ms; network requests {len(made)} ({kinds_text})")
                page.unroute_all(behavior="ignoreErrors")
                held.clear()
            browser.close()
    finally:
        demo.close()
        shutil.rmtree(CACHE, ignore_errors=True)
    print(f"\ndone in {time.perf_counter() - started:.0f} s; load average at end:",
          " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
