"""Sampling in a child process of its own, streaming uint8 frames back: what an app's server runs.

Why a process and not a thread: with GNU OpenMP (torch's CPU threading on Linux) every thread that runs
a parallel torch op keeps its own pool of OpenMP threads, and a server has many threads. Once a
process's pools hold more threads than there are cores, every pool stops spinning between parallel
regions, and a sampling loop in a server thread ran 27–45 % slower than alone on a 2-core CPU
(bench/README.md). A child started with "spawn" runs the loop on its main thread, with the only pool
in its process, and the server's threads never touch its tensors: they receive numpy grids.

    pool = SamplerPool()
    job = pool.start(SampleJob(checkpoint="checkpoints/digits.safetensors", runs=[("digits", SampleConfig())]))
    while not job.finished:
        if job.poll(0.25):
            show(job.latest)
    job.close()               # (or job.stop() first) the process goes back to the pool

Child processes are started when first needed (about 2–4 s to import torch on a small CPU), kept for
the next job, and at most `size` run at once. A job's frames: the newest one at most every `live_every`
seconds (the live view), and every k-th step for the exports (at most `max_frames` frames within
`frame_budget` bytes), each as uint8 grids of x_t, x̂_0 and optionally ε̂. A job `with_samples` also gets each
run's final samples, one uint8 image each, and the labels they were drawn for (to score them, e.g. by a
classifier); other jobs send no more than the grids.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import numpy as np

from ddpm_core.errors import Message, UserError

START_TIMEOUT_S = 120.0  # importing torch in a fresh child on a loaded machine


@dataclass(frozen=True)
class SampleJob:
    """What a child process samples: one or more runs of one checkpoint, one after the other."""

    checkpoint: str  # a path the server has already checked
    runs: list  # [(name, SampleConfig)]
    with_eps: bool = False
    live_every: float = 0.25  # seconds between live frames
    max_frames: int = 120  # frames kept for the exports (plus the last)
    frame_budget: int = 200 * 2**20  # … in at most this many bytes
    memory_limit: int | None = None  # bytes a run may plan to use (None: a share of what is free)
    with_samples: bool = False  # also send each run's final samples (RunResult.samples and .labels)


@dataclass
class LiveFrame:
    """The newest frame of the run in progress."""

    run: int  # which of the job's runs
    description: str
    index: int
    count: int
    t: int  # the paper's t after this step (0 at the end)
    panels: list[np.ndarray]  # x_t, x̂_0 (, ε̂) as uint8 grids
    elapsed: float  # seconds since the run started


@dataclass
class RunResult:
    """A finished (or stopped) run: what the exports, the final grid and the statistics plot are made of."""

    name: str
    description: str
    kept: list[tuple[int, int, list[np.ndarray]]]  # (step index, t after it, panels), every k-th step
    count: int
    final: np.ndarray
    seconds: float
    stopped: bool
    slug: str  # for file names: "ddim-eta0.5-50steps-seed0"
    statistics: dict = field(default_factory=dict)  # SamplingRun.statistics()
    nfe: int = 0  # network evaluations the run made
    samples: np.ndarray | None = None  # the final samples, uint8 (N, H, W, C): only for a job `with_samples`
    labels: np.ndarray | None = None  # … and the class index each was drawn for (N,) int64; None: unconditional


# ---- the child ---------------------------------------------------------------------------------------

def _serve(conn: Connection, stop) -> None:
    """The child's main loop: import torch once, then run jobs until the parent closes the pipe."""
    import ddpm_core.sample  # noqa: F401  (torch and the samplers, imported before the first job)

    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            for i, (name, config) in enumerate(job.runs):
                _run(conn, stop, job, i, name, config)
                if stop.is_set():
                    break
        except UserError as exc:  # its Message pickles: the parent translates it by its code
            conn.send(("error", exc.message))
        except Exception as exc:  # noqa: BLE001 (reported to the user, the child lives on)
            traceback.print_exc()  # the details go to the server's log, not to the page
            conn.send(("error", f"sampling failed ({type(exc).__name__})"))
        conn.send(("finished",))


def _run(conn: Connection, stop, job: SampleJob, i: int, name: str, config) -> None:
    from ddpm_core.animation import image_grid
    from ddpm_core.checkpoints import load_checkpoint
    from ddpm_core.diffusion import paper_t
    from ddpm_core.sample import SamplingRun, describe, frame_panels, keep_every, samples_uint8

    run = SamplingRun(load_checkpoint(job.checkpoint), config, memory_limit=job.memory_limit)
    description = describe(config, run.count)
    every = keep_every(run.count, _frames_allowed(job, run.shape, run.n))
    start = sent = time.perf_counter()
    kept, last = [], None
    for frame in run.frames():
        last, now = frame, time.perf_counter()
        keep = frame.index % every == 0 or frame.index == frame.count
        live = now - sent >= job.live_every
        if keep or live:
            panels = frame_panels(frame, job.with_eps, run.grid_columns)
            if keep:
                kept.append((frame.index, paper_t(frame.t_prev), panels))
            if live:
                conn.send(("frame", LiveFrame(i, description, frame.index, frame.count, paper_t(frame.t_prev), panels,
                                              now - start)))
                sent = now
        if stop.is_set():
            break
    seconds = time.perf_counter() - start
    if not kept or kept[-1][0] != last.index:
        kept.append((last.index, paper_t(last.t_prev), frame_panels(last, job.with_eps, run.grid_columns)))
    grid = image_grid(last.step.prev_sample, run.grid_columns)
    samples = samples_uint8(last.step.prev_sample) if job.with_samples else None
    labels = run.labels.numpy() if job.with_samples and run.labels is not None else None
    conn.send(("result", RunResult(name, description, kept, run.count, grid,
                                   seconds, stopped=last.index < run.count, slug=_slug(config, run.count), nfe=last.nfe,
                                   statistics=run.statistics(), samples=samples, labels=labels)))


def _frames_allowed(job: SampleJob, shape: tuple[int, int, int], n: int) -> int:
    """How many frames fit the job's budget: a grid of n images with 1-pixel gaps, RGB, 2 or 3 panels."""
    _, h, w = shape
    side = int(np.ceil(np.sqrt(n)))
    per_frame = (side * (h + 1) + 1) * (side * (w + 1) + 1) * 3 * (3 if job.with_eps else 2)
    return max(1, min(job.max_frames, job.frame_budget // per_frame))


def _slug(config, count: int) -> str:
    kind = {"ddim": f"ddim-eta{config.eta:g}", "ddpm": f"ddpm-{config.variance}"}.get(config.sampler,
                                                                                     f"ode-{config.sampler}")
    return f"{kind}-{count}steps-seed{config.seed}"


# ---- the parent --------------------------------------------------------------------------------------

class SamplerProcess:
    """One child process and its pipe; it runs one job at a time."""

    def __init__(self, context):
        self.conn, child = context.Pipe()
        self.stop = context.Event()
        self.process = context.Process(target=_serve, args=(child, self.stop), daemon=True, name="ddpm-sampler")
        self.process.start()
        child.close()
        self.ready = False

    def alive(self) -> bool:
        return self.process.is_alive()

    def close(self) -> None:
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


class SamplerThread:
    """A thread of this process that serves jobs as a child process would (same pipe, same messages).

    For hosts where only the calling process may use the accelerator (Hugging Face ZeroGPU); it gives up
    the OpenMP isolation that the child process exists for, which matters on a CPU, not on a GPU.
    """

    def __init__(self):
        self.conn, child = multiprocessing.Pipe()
        self.stop = threading.Event()
        self.process = threading.Thread(target=_serve, args=(child, self.stop), daemon=True, name="ddpm-sampler")
        self.process.start()
        self.ready = False

    def alive(self) -> bool:
        return self.process.is_alive()

    def close(self) -> None:
        self.conn.close()  # _serve's recv() then ends, and so does the thread
        self.process.join(5)


class SampleJobHandle:
    """A job running in a child: poll it for frames and results, stop it, close it."""

    def __init__(self, pool: "SamplerPool", worker: SamplerProcess, job: SampleJob):
        self.pool, self.worker, self.job = pool, worker, job
        self.latest: LiveFrame | None = None
        self.results: list[RunResult] = []
        self.error: Message | str | None = None  # a coded message, or a short English text if unexpected
        self.finished = False
        self.started = time.perf_counter()
        worker.stop.clear()
        worker.conn.send(job)

    @property
    def starting(self) -> bool:
        """Still waiting for the child to import torch or load the checkpoint."""
        return self.latest is None and not self.results and not self.finished

    def poll(self, timeout: float) -> bool:
        """Read what the child has sent, waiting up to `timeout` s; whether a new live frame came."""
        fresh, deadline = False, time.perf_counter() + timeout
        while not self.finished:
            wait = max(0.0, deadline - time.perf_counter())
            try:
                if not self.worker.conn.poll(wait):
                    if not self.worker.alive():
                        self._died()
                    break
                fresh |= self._take(self.worker.conn.recv())
            except (EOFError, OSError):
                self._died()
        return fresh

    def _take(self, message: tuple) -> bool:
        kind = message[0]
        if kind == "ready":
            self.worker.ready = True
        elif kind == "frame":
            self.latest = message[1]
            return True
        elif kind == "result":
            self.results.append(message[1])
        elif kind == "error":
            self.error = message[1]
        elif kind == "finished":
            self.finished = True
        return False

    def _died(self) -> None:
        self.worker.process.join(5)  # the pipe closes a moment before the process is reaped
        code = getattr(self.worker.process, "exitcode", None)  # a SamplerThread has none
        if code is not None and code < 0:
            died = Message("sample.process_killed", "the sampling process ended unexpectedly (killed by signal "
                           "{signal}); it may have run out of memory: try fewer images", {"signal": -code})
        else:
            died = Message("sample.process_exited", "the sampling process ended unexpectedly (exit code {code}); it "
                           "may have run out of memory: try fewer images", {"code": code})
        self.error = self.error or died
        self.finished = True

    def stop(self) -> None:
        """Ask the child to stop after its current step (the results so far still come back)."""
        self.worker.stop.set()

    def close(self) -> None:
        """Give the process back to the pool; an unfinished job is stopped and drained in the background."""
        if self.finished:
            self.pool._release(self.worker)
            return
        self.stop()

        def drain() -> None:
            while not self.finished:
                self.poll(1.0)
            self.pool._release(self.worker)
        threading.Thread(target=drain, daemon=True, name="ddpm-sampler-drain").start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the job has finished (tests, benches)."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        while not self.finished:
            if deadline is not None and time.perf_counter() > deadline:
                raise TimeoutError(f"the sampling job did not finish within {timeout} s")
            self.poll(0.5)


class SamplersBusyError(UserError, RuntimeError):
    """Every sampling process of the pool is busy (a RuntimeError, as before, with a coded message)."""


class SamplerPool:
    """Child processes for sampling, started with "spawn" when first needed and kept for the next job."""

    def __init__(self, size: int = 1, in_process: bool = False):
        if size < 1:
            raise ValueError(f"a sampler pool needs at least one process, got {size}")
        self.size, self.in_process = size, in_process
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[SamplerProcess] = []
        self._busy = 0
        self._lock = threading.Condition()

    def start(self, job: SampleJob, wait: float = 30.0) -> SampleJobHandle:
        """Run `job` in an idle child (started if none is idle). If `size` jobs are running, wait up to
        `wait` s for one to end (a stopped job ends within a step), then RuntimeError."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._busy < self.size, timeout=wait):
                raise SamplersBusyError("sample.busy", "{count} sampling run(s) are going on this server already; "
                                        "try again in a moment", count=self.size)
            while self._idle and not self._idle[-1].alive():
                self._idle.pop().close()
            worker = self._idle.pop() if self._idle else self._new_worker()
            self._busy += 1
        return SampleJobHandle(self, worker, job)

    def _new_worker(self) -> SamplerProcess | SamplerThread:
        return SamplerThread() if self.in_process else SamplerProcess(self._context)

    def warm_up(self) -> None:
        """Start one child now, in the background, so the first Sample does not wait for torch's import."""
        with self._lock:
            if not self._idle and self._busy == 0 and not self.in_process:
                self._idle.append(SamplerProcess(self._context))

    def _release(self, worker: SamplerProcess) -> None:
        with self._lock:
            self._busy -= 1
            keep = worker.alive() and len(self._idle) < self.size
            if keep:
                self._idle.append(worker)
            self._lock.notify()
        if not keep:
            worker.close()

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()
