"""A training run's metrics, kept beside its checkpoint as it trains: one JSON line per step in
`metrics.jsonl` (step, loss, learning rate, wall seconds since the run began), and TensorBoard event files
in `tensorboard/` when the `tensorboard` package is installed (as diffusers' training scripts write them).

A resumed run first drops the lines past its checkpoint's step (steps a killed run took after its last
save, which the resumed run takes again), then appends, so the file is the whole history of the weights
the checkpoint holds. Wall time continues from the last line, so it counts training time, not pauses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

METRICS_NAME = "metrics.jsonl"
FLUSH_EVERY = 50  # lines between flushes (a save point flushes too)


def read_metrics(folder, up_to: int | None = None) -> list[dict]:
    """The lines of `folder/metrics.jsonl` (at most step `up_to`), oldest first; [] if there are none.

    A damaged line (a run killed while writing) ends the history there."""
    path = Path(folder) / METRICS_NAME
    rows: list[dict] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return rows
    for line in lines:
        try:
            row = json.loads(line)
            step, loss = int(row["step"]), float(row["loss"])
        except (ValueError, KeyError, TypeError):
            break
        if up_to is not None and step > up_to:
            break
        if math.isfinite(loss):
            rows.append(row)
    return rows


class MetricsLog:
    """Appends one line per step to `folder/metrics.jsonl` (and TensorBoard scalars, where installed)."""

    def __init__(self, folder, start_step: int = 0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        kept = read_metrics(self.folder, up_to=start_step) if start_step > 0 else []
        self.wall_offset = float(kept[-1].get("wall_s", 0.0)) if kept else 0.0
        path = self.folder / METRICS_NAME
        path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")
        self._file = path.open("a", encoding="utf-8")
        self._pending = 0
        self._board = _tensorboard(self.folder / "tensorboard")

    def write(self, step: int, loss: float, lr: float, wall_s: float) -> None:
        """Record one step; `wall_s` counts from this (possibly resumed) run's start."""
        wall = self.wall_offset + wall_s
        self._file.write(json.dumps({"step": step, "loss": round(loss, 6), "lr": lr, "wall_s": round(wall, 3)}) + "\n")
        self._pending += 1
        if self._pending >= FLUSH_EVERY:
            self.flush()
        if self._board is not None:
            self._board.add_scalar("train/loss", loss, step)
            self._board.add_scalar("train/lr", lr, step)

    def flush(self) -> None:
        self._file.flush()
        self._pending = 0
        if self._board is not None:
            self._board.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self._board is not None:
            self._board.close()


def _tensorboard(folder: Path):
    """A SummaryWriter into `folder` if `tensorboard` is installed, else None (it is optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder))
