"""One browser session's server-side state: its private folder, its long jobs, and what each tab keeps.

Every tab of a page shares one `Session` (one `gr.State` made when the app is built). Its folder under
`sessions_dir()` holds what the session brought or made (uploaded images and checkpoints, exports, and in
demo mode its training runs); when the session ends, `end_session` stops its jobs and deletes the folder.
A session runs at most one job of each kind ("train", "sample", "evaluate", …) at a time.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ddpm_core.errors import UserError
from server.jobs import Job
from server.settings import sessions_dir

T = TypeVar("T")
END_WAIT_S = 600  # how long a closing session waits for its jobs (a training run saves first)


@dataclass
class Session:
    """One browser session (see the module)."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # never user input: it names a folder
    jobs: dict[str, Job] = field(default_factory=dict)
    _tabs: dict[type, object] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return sessions_dir() / self.id

    def subfolder(self, name: str) -> Path:
        """`folder/name`, created if missing."""
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def state(self, cls: type[T]) -> T:
        """What one tab keeps for this session: an instance of `cls`, made on first use."""
        if cls not in self._tabs:
            self._tabs[cls] = cls()
        return self._tabs[cls]

    def job(self, kind: str) -> Job | None:
        """The session's last job of this kind (running or ended), if any."""
        return self.jobs.get(kind)

    def busy(self, kind: str) -> bool:
        job = self.jobs.get(kind)
        return job is not None and job.running

    def start(self, kind: str, job: Job) -> Job:
        """Start `job` as this session's job of `kind`; UserError if one of that kind is still running."""
        if self.busy(kind):
            raise UserError("session.busy", "A {kind} job is still running in this session: press Stop first.",
                            kind=kind)
        self.jobs[kind] = job
        return job.start()

    def stop(self, kind: str) -> bool:
        """Ask the running job of `kind` to stop; whether there was one."""
        if not self.busy(kind):
            return False
        self.jobs[kind].stop()
        return True

    def close(self) -> None:
        """Stop every job, wait for them to end (a training run saves its checkpoint), delete the folder."""
        for job in self.jobs.values():
            job.stop()
        for job in self.jobs.values():
            job.wait(END_WAIT_S)
        shutil.rmtree(self.folder, ignore_errors=True)


def new_session() -> Session:
    """The gr.State value of a page: a callable, so Gradio makes a fresh Session for every session."""
    return Session()


def end_session(session: Session | None) -> None:
    """Gradio calls this when a session's state expires: close it in the background (a run may be saving)."""
    if session is not None:
        threading.Thread(target=session.close, daemon=True, name=f"end-session-{session.id[:8]}").start()
