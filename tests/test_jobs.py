"""The one job runner (server/jobs.py) and sessions (server/sessions.py): every job ends done, stopped at a
step, or failed with its error; a stream that goes away stops its job; a session runs one job per kind."""

import threading
import time

import pytest

from ddpm_core.errors import UserError
from server.jobs import Job, State, follow
from server.sessions import Session


def counting(steps: int, delay: float = 0.0, fail_at: int | None = None):
    """Work that reports steps 1..steps (failing at `fail_at`) and returns how far it got."""
    def work(job: Job) -> int:
        step = 0
        for step in range(1, steps + 1):
            if fail_at == step:
                raise RuntimeError(f"broke at {step}")
            job.report(("step", step), step=step)
            time.sleep(delay)
            if job.stopping:
                break
        return step
    return work


def test_a_job_that_runs_to_its_end_is_done_with_every_report_delivered_once():
    job = Job("count", counting(50)).start()
    seen = [item for fresh in follow(job, 0.01) for item in fresh]
    assert seen == [("step", s) for s in range(1, 51)]
    assert job.outcome.state is State.DONE and job.outcome.step == 50 and job.result == 50
    assert job.outcome.error is None and not job.running


def test_a_stopped_job_says_the_step_it_stopped_at():
    job = Job("count", counting(10_000, delay=0.001)).start()
    for fresh in follow(job, 0.01):
        if any(step >= 20 for _, step in fresh):
            job.stop()
    assert job.outcome.state is State.STOPPED
    assert 20 <= job.outcome.step == job.result < 10_000


def test_a_failed_job_carries_its_error_and_the_last_step_reached():
    job = Job("count", counting(10, fail_at=4)).start()
    list(follow(job, 0.01))
    assert job.outcome.state is State.FAILED and job.outcome.step == 3
    assert isinstance(job.outcome.error, RuntimeError) and str(job.outcome.error) == "broke at 4"


def test_closing_the_stream_early_stops_the_job():
    job = Job("count", counting(100_000, delay=0.001)).start()
    stream = follow(job, 0.01)
    next(stream)
    stream.close()  # the page cancelled the event, or went away
    assert job.wait(5) and job.outcome.state is State.STOPPED


def test_a_job_nobody_follows_is_abandoned():
    job = Job("count", counting(100_000, delay=0.001), abandon_after=0.1).start()
    assert job.wait(5) and job.outcome.state is State.STOPPED


def test_a_session_runs_one_job_of_a_kind_and_cleans_up():
    session = Session()
    (session.folder / "uploads").mkdir(parents=True)
    release = threading.Event()
    first = session.start("train", Job("a", lambda job: release.wait(5)))
    assert session.busy("train") and not session.busy("sample")
    with pytest.raises(UserError, match="A train job is still running in this session") as info:
        session.start("train", Job("b", lambda job: None))
    assert info.value.code == "session.busy"
    other = session.start("sample", Job("c", lambda job: 7))
    assert other.wait(5) and other.result == 7 and not session.busy("sample")
    release.set()
    assert first.wait(5) and not session.stop("train")  # nothing left to stop
    assert session.state(dict) is session.state(dict)  # one per tab type and session
    session.close()
    assert not session.folder.exists()
