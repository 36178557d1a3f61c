"""One way to run a long computation (training, sampling, evaluation, the 2-D lab's training): a `Job`.

A job runs its work in a background thread and has one lifecycle:

    running ──report(progress)…──▶ done | stopped | failed

The work is a function of the job: it calls `job.report(item, step=k)` to publish progress and reads
`job.stopping` between its steps to end early (what it returns is `job.result`). Whoever shows the job
(a tab's stream) reads `job.take()` for the progress since it last looked and `job.outcome` once it has
ended, which says how it ended (done; stopped at step k; failed, and why), so no view can be left on
"loading…". A job nobody has looked at for `abandon_after` seconds (its page went away) is asked to stop.

    job = Job("train", lambda job: train(..., callback=job.report, should_stop=lambda: job.stopping))
    job.start()
    for fresh in follow(job, every=0.5):   # stops the job if the stream is closed early
        show(fresh)
    show(job.outcome)
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


class State(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """How a job ended: `state`, the last step it reported (None if none), and the error if it failed."""

    state: State
    step: int | None = None
    error: BaseException | None = None


class Job:
    """`work(job)` in a daemon thread, with progress, a stop request and an outcome (see the module)."""

    def __init__(self, name: str, work: Callable[["Job"], Any], *, abandon_after: float | None = None):
        self.name, self._work, self.abandon_after = name, work, abandon_after
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._fresh: list = []
        self.latest: Any = None
        self.step: int | None = None
        self.result: Any = None
        self.outcome: Outcome | None = None
        self.started = self.seen = time.monotonic()
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"job-{name}")

    def start(self) -> "Job":
        self.started = self.seen = time.monotonic()
        self.thread.start()
        return self

    # ---- what the work calls ------------------------------------------------------------------------

    def report(self, item: Any = None, step: int | None = None) -> None:
        """Publish one piece of progress (and the step it reached, for "stopped at step k")."""
        with self._lock:
            self._fresh.append(item)
            self.latest = item
            if step is not None:
                self.step = step

    @property
    def stopping(self) -> bool:
        """Whether the work should end now: Stop was pressed, or nobody has looked for `abandon_after` s."""
        if self._stop.is_set():
            return True
        if self.abandon_after is not None and time.monotonic() - self.seen > self.abandon_after:
            self._stop.set()
        return self._stop.is_set()

    # ---- what the viewer calls ------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the work to end after its current step; the outcome will say where it stopped."""
        self._stop.set()

    def take(self) -> list:
        """The progress reported since the last call (and a sign of life: the job is being watched)."""
        self.seen = time.monotonic()
        with self._lock:
            fresh, self._fresh = self._fresh, []
        return fresh

    @property
    def running(self) -> bool:
        return self.outcome is None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end (up to `timeout` s); whether it has."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _main(self) -> None:
        try:
            self.result = self._work(self)
        except BaseException as exc:  # noqa: BLE001 (the outcome carries it to whoever shows the job)
            self.outcome = Outcome(State.FAILED, self.step, exc)
            return
        self.outcome = Outcome(State.STOPPED if self._stop.is_set() else State.DONE, self.step)


def follow(job: Job, every: float) -> Iterator[list]:
    """Yield the progress of a job: at once, then every `every` seconds (an empty list when nothing came),
    and a last time after it has ended with what came last. Closing the generator early (the page cancelled
    the stream or went away) stops the job."""
    try:
        while True:
            ended = not job.running  # read before draining: nothing is reported after the outcome is set
            yield job.take()
            if ended:
                return
            job.wait(every)
    finally:
        if job.running:
            job.stop()
