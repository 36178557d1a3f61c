"""The cost of streaming the Sample tab's live frames to a client, against sampling without streaming.

The issue's goal: streaming frames to the browser costs at most 10 % over not streaming. With the
bundled checkpoint (checkpoints/digits.safetensors: 16×16 grey, tiny U-Net), 64 images, on the CPU,
for DDIM 100 steps (and DDPM 250 steps unless --ddpm-steps 0), interleaved repeats of:

  (a)  no streaming: `SamplingRun(load_checkpoint(...), SampleConfig(...)).frames()` iterated to the end
       in a child process of its own, after a warm-up run of the same size; the time of the iteration (what
       "Done … in X s" times);
  (a2) not streaming, the app's way: a `SampleJob` in a `server.sample_process.SamplerPool` child
       of this process, kept warm from run to run as the app's is, with no live frames (it still keeps
       the frames for the exports); the run's `seconds`. The goal is measured against this row:
       everything is the same as in (b) and (c) but the streaming;
  (a3) (a) in this process, the app's, in a fresh thread (as the tab ran it before it moved sampling to
       a child process), between the streamed runs: what sampling costs in a process whose server
       threads have already run torch code. This script's main thread runs no torch code itself:
       with GNU OpenMP, every thread that has run a parallel torch op keeps its own pool of OpenMP
       threads, and once there are more of them than cores every pool stops spinning between
       parallel regions, which on this tiny U-Net costs about as much as a second core gives (see
       bench/README.md);
  (b)  streaming to a Python client: the real app launched in this process as tests/conftest.py does
       (build_app, queue, launch with launch_options(), free port), `/sample_run` called with
       gradio_client and every streamed update consumed; the run's own compute time from the final
       live HTML ("Done: N steps in X s", 0.1 s resolution) and the client's wall time (submit to
       result, so it also includes loading the checkpoint, the final PNG, the statistics plot);
  (c)  streaming to a real browser: the same app in headless Chromium (Playwright, Debian Chromium):
       the Sample button clicked from page JS, wall time to the "Done" note by the page's
       performance.now(), and "Done … in X s".

Prints medians, the ratios to (a) (compute time, and wall time), the streaming overhead b/a2 − 1 and
c/a2 − 1 against the 10 % goal, and how many live updates each client received with their average size (the live HTML,
which carries the x_t and x̂_0 grids as PNG data URLs). The machine line (cores, versions, load
average) is printed at the start and at the end: the figures mean little if the load changed.

    .venv/bin/python bench/bench_sample_stream.py [--quick] [--repeats 3] [--ddpm-steps 250] [--ddpm-repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

from common import CACHE, ROOT, free_port, machine  # noqa: F401  (sets up the environment first)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHECKPOINT = ROOT / "checkpoints" / "digits.safetensors"
KEY = "bundled:digits.safetensors"
GOAL = 0.10
DONE = re.compile(r"Done: ([\d,]+) steps in ([\d.]+) s")

# Click Sample and resolve when the live view shows "Done": wall time, updates seen and their size.
BROWSER_RUN_JS = """
() => new Promise((resolve) => {
  const root = document.querySelector('#sample-live');
  const current = root.querySelector('.html-container');
  let updates = 0, frames = 0, chars = 0, last = current ? current.innerHTML : null;  // the last run's view
  const start = performance.now();
  setTimeout(() => { observer.disconnect(); resolve({error: 'no "Done" after 600 s: ' + root.textContent}); },
             600000);
  const observer = new MutationObserver(() => {
    const container = root.querySelector('.html-container');
    const html = container ? container.innerHTML : '';
    if (!html.includes('live-head') || html === last) return;
    last = html;
    updates += 1;
    if (html.includes('<img')) { frames += 1; chars += html.length; }
    const text = root.textContent;
    const done = text.match(/Done: ([\\d,]+) steps in ([\\d.]+) s/);
    if (done) { observer.disconnect(); resolve({wall: (performance.now() - start) / 1000, updates, frames, chars,
                                                seconds: parseFloat(done[2])}); }
  });
  observer.observe(root, {childList: true, subtree: true, characterData: true});
  document.querySelector('#sample-run').click();
})
"""


class OtherLoad:
    """CPU used by processes outside this script's own process tree while something is timed, in cores.

    From /proc: all CPUs' busy time, minus this process, its living descendants (Chromium, the
    Playwright driver) and its reaped children (the (a) and (a2) processes). Other work on the
    machine (a test suite, another bench) slows every row here, so each repeat prints it.
    """

    TICK = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _busy() -> int:
        fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(fields[:8]) - fields[3] - fields[4]  # user … steal, less idle and iowait

    @staticmethod
    def _ours() -> int:
        parent, ticks = {}, {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = open(f"/proc/{entry}/stat").read()
                except OSError:
                    continue
                fields = stat[stat.rindex(")") + 2:].split()
                parent[int(entry)], ticks[int(entry)] = int(fields[1]), int(fields[11]) + int(fields[12])
        tree, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += [child for child, ppid in parent.items() if ppid == pid and child not in tree]
        reaped = os.times()
        return sum(ticks.get(pid, 0) for pid in tree) + round((reaped.children_user + reaped.children_system)
                                                              * OtherLoad.TICK)

    def __enter__(self):
        self.start, self.busy, self.ours = time.perf_counter(), self._busy(), self._ours()
        return self

    def __exit__(self, *exc):
        seconds = time.perf_counter() - self.start
        self.cores = max(0.0, (self._busy() - self.busy) - (self._ours() - self.ours)) / self.TICK / seconds


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---- the three ways of sampling ------------------------------------------------------------------------

def run_inprocess(config) -> dict:
    from ddpm_core.checkpoints import load_checkpoint
    from ddpm_core.sample import SamplingRun

    run = SamplingRun(load_checkpoint(CHECKPOINT), config)
    start = time.perf_counter()
    for _ in run.frames():
        pass
    return {"seconds": time.perf_counter() - start}


_POOL = None


def run_job(config) -> dict:
    """The tab's machinery, not streaming: a SampleJob in this process's SamplerPool child (kept warm
    from run to run, as the app's is), with no live frames (it still keeps the frames for the exports)."""
    global _POOL
    from server.sample_process import SampleJob, SamplerPool

    _POOL = _POOL or SamplerPool(1)
    handle = _POOL.start(SampleJob(str(CHECKPOINT), [("digits", config)], live_every=float("inf")))  # no frames
    handle.wait()
    handle.close()
    if handle.error is not None:
        raise RuntimeError(handle.error)
    result = handle.results[-1]
    return {"seconds": result.seconds, "kept": len(result.kept)}


def in_thread(function, *args) -> dict:
    """`function(*args)` in a thread that ends with it (so its OpenMP pool goes with it)."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(function(*args)), name="bench-a3")
    thread.start()
    thread.join()
    return result


def child(args) -> None:
    """In a fresh process: a warm-up run, then one timed run of (a), printed as a JSON line."""
    from ddpm_core.sample import SampleConfig

    config = SampleConfig(**json.loads(args.child_config))
    run_inprocess(config)  # warm-up: the same run
    result = run_inprocess(config)
    shutil.rmtree(CACHE, ignore_errors=True)
    print("RESULT " + json.dumps(result))


def spawn(kind: str, config) -> dict:
    fields = {k: getattr(config, k) for k in ("n", "sampler", "steps", "eta", "variance", "clip", "seed")}
    command = [sys.executable, __file__, "--child", kind, "--child-config", json.dumps(fields)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"({kind}) failed: {done.stderr.strip()[-500:]}")
    return json.loads(line[len("RESULT "):])


def run_client(client, config) -> dict:
    start = time.perf_counter()
    job = client.submit(KEY, config.sampler, config.steps, config.eta, config.variance, config.n, config.seed,
                        config.device, config.clip, False, api_name="/sample_run")
    job.result()
    wall = time.perf_counter() - start
    outputs = job.outputs()
    lives = [out[0] for out in outputs if isinstance(out[0], str) and "live-head" in out[0]]
    done = DONE.search(lives[-1])
    if not done:
        raise RuntimeError(f"the last update is not a finished run: {lives[-1][:200]!r}")
    frames = [live for live in lives if "<img" in live]
    return {"seconds": float(done.group(2)), "wall": wall, "updates": len(outputs),
            "mean_kb": sum(len(live) for live in frames) / 1024 / max(len(frames), 1)}


def run_browser(page, config) -> dict:
    result = page.evaluate(BROWSER_RUN_JS)
    if "error" in result:
        raise RuntimeError(result["error"][:300])
    return {"seconds": result["seconds"], "wall": result["wall"], "updates": result["updates"],
            "mean_kb": result["chars"] / 1024 / max(result["frames"], 1)}


def set_up_page(page, url: str, config) -> None:
    """Open the Sample tab and set the sampler, steps and images as a person would."""
    page.goto(url)
    page.get_by_role("tab", name="Sample").click()
    label = "DDIM" if config.sampler == "ddim" else "DDPM (Algorithm 2)"
    page.locator("#sample-sampler").get_by_text(label, exact=True).click()
    page.wait_for_selector(f"#sample-sampler input[value={config.sampler}]:checked", state="attached")
    for selector, value in (("#sample-steps input", config.steps), ("#sample-n input[type=number]", config.n)):
        box = page.locator(selector)
        box.fill(str(value))
        box.press("Enter")
        page.wait_for_function("([s, v]) => document.querySelector(s).value === v", arg=[selector, str(value)])
    page.wait_for_timeout(500)  # let the inputs' change events reach the server before Sample reads them


# ---- report ----------------------------------------------------------------------------------------------

def report(name: str, rows: dict[str, list[dict]]) -> None:
    a = median([r["seconds"] for r in rows["a"]])
    print(f"\n{name}: medians over {len(rows['a'])} interleaved repeats")
    print(f"  {'':<46}{'compute s':>10}{'vs (a)':>9}{'wall s':>9}{'vs (a)':>9}{'updates':>9}{'KB/update':>11}")
    labels = {"a": "(a)  SamplingRun alone, own process",
              "a2": "(a2) not streaming: SampleJob, no frames",
              "a3": "(a3) (a) in the app's process, fresh thread",
              "b": "(b)  streamed to gradio_client",
              "c": "(c)  streamed to headless Chromium"}
    for key, label in labels.items():
        if not rows.get(key):
            continue
        seconds = median([r["seconds"] for r in rows[key]])
        ratio = f"{seconds / a - 1:+.1%}" if key != "a" else ""
        walls = [r["wall"] for r in rows[key] if "wall" in r]
        wall = f"{median(walls):.2f}" if walls else ""
        wall_ratio = f"{median(walls) / a - 1:+.1%}" if walls else ""
        updates = [r["updates"] for r in rows[key] if "updates" in r]
        kb = [r["mean_kb"] for r in rows[key] if "mean_kb" in r]
        print(f"  {label:<46}{seconds:>10.2f}{ratio:>9}{wall:>9}{wall_ratio:>9}"
              f"{(f'{median(updates):.0f}' if updates else ''):>9}{(f'{median(kb):.1f}' if kb else ''):>11}")
    a2 = median([r["seconds"] for r in rows["a2"]])
    for key in ("b", "c"):
        if rows.get(key):
            over = median([r["seconds"] for r in rows[key]]) / a2 - 1
            print(f"  {'PASS' if over <= GOAL else 'MISS'}: ({key}) streaming costs {over:+.1%} of compute time "
                  f"against (a2), not streaming (goal ≤ {GOAL:.0%}); all repeats: "
                  + ", ".join(f"{r['seconds'] / x['seconds'] - 1:+.0%}" for r, x in zip(rows[key], rows["a2"])))
    a3 = median([r["seconds"] for r in rows["a3"]])
    print("  in the app's own process, streaming adds to (a3): "
          + ", ".join(f"({key}) {median([r['seconds'] for r in rows[key]]) / a3 - 1:+.1%}" for key in ("b", "c")))
    busy = max(r["other"] for key in rows for r in rows[key])
    if busy > 0.1:
        print(f"  ⚠ other processes used up to {busy:.2f} cores during a row: these figures are not clean")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, DDIM only (about 1.5 min)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--ddim-steps", type=int, default=100)
    parser.add_argument("--ddpm-steps", type=int, default=250, help="0 to skip the DDPM case")
    parser.add_argument("--ddpm-repeats", type=int, default=2, help="repeats of the (longer) DDPM case")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.quick:
        args.repeats, args.ddpm_steps = 1, 0

    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    from app import build_app, launch_options
    from ddpm_core.sample import SampleConfig
    from ui.sample_tab import POLL_S

    print("DDPM Explorer: the cost of streaming sampling frames (bench/bench_sample_stream.py)")
    print("machine:", machine())
    cases = [("DDIM η = 0", SampleConfig(n=args.images, sampler="ddim", steps=args.ddim_steps, eta=0.0),
              args.repeats)]
    if args.ddpm_steps:
        cases.append(("DDPM σ² = β", SampleConfig(n=args.images, sampler="ddpm", steps=args.ddpm_steps),
                      args.ddpm_repeats))
    print(f"checkpoint {CHECKPOINT.relative_to(ROOT)}, {args.images} images, CPU fp32, seed 0; "
          f"repeats of a, a2, a3, b, c interleaved; the live view updates every {POLL_S} s")

    demo = build_app()
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, **launch_options())
    started = time.perf_counter()
    try:
        client = Client(url, verbose=False)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US").new_page()
            page.set_default_timeout(120_000)
            warm = SampleConfig(n=args.images, sampler="ddim", steps=10)
            # Warm-up through the app only: no torch code in this script's main thread (see (a3)).
            run_client(client, warm)
            run_job(warm)
            set_up_page(page, url, warm)
            run_browser(page, warm)
            for name, config, repeats in cases:
                set_up_page(page, url, config)
                rows: dict[str, list[dict]] = {"a": [], "a2": [], "a3": [], "b": [], "c": []}
                for repeat in range(repeats):
                    for key, measure in (("a", lambda: spawn("a", config)), ("a2", lambda: run_job(config)),
                                         ("a3", lambda: in_thread(run_inprocess, config)),
                                         ("b", lambda: run_client(client, config)),
                                         ("c", lambda: run_browser(page, config))):
                        with OtherLoad() as other:
                            rows[key].append(measure())
                        rows[key][-1]["other"] = other.cores
                    done = [key for key in rows if rows[key]]
                    print(f"  {name}, repeat {repeat + 1}: " + ", ".join(
                        f"{key} {rows[key][-1]['seconds']:.2f} s" for key in done)
                        + "; other processes used " + ", ".join(f"{rows[key][-1]['other']:.2f}" for key in done)
                        + " cores meanwhile", flush=True)
                report(f"{name}, {config.steps} steps, {config.n} images", rows)
            browser.close()
    finally:
        demo.close()
        shutil.rmtree(CACHE, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    print("machine:", machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
