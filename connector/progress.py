"""A dependency-free progress line for the terminal (and plain lines when piped)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from connector.catalog import NormalizedState


class ProgressBar:
    """`[########------------]  40%  processing` redrawn in place on a terminal.

    When the stream is not a terminal (CI logs, pipes) it prints one line per change of
    state or per 25 % step instead of redrawing.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 24) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._tty = self.stream.isatty()
        self._last: tuple[str, int] | None = None

    def update(self, percent: float | None, status: str) -> None:
        if percent is None and status in ("complete", "completed"):
            percent = 100
        shown = -1 if percent is None else max(0, min(100, int(percent)))
        step = shown if self._tty or shown < 0 else shown // 25 * 25
        if self._last == (status, step):
            return
        self._last = (status, step)
        if shown < 0:
            bar = "." * self.width
            pct = "  ?%"
        else:
            filled = self.width * shown // 100
            bar = "#" * filled + "-" * (self.width - filled)
            pct = f"{shown:3d}%"
        line = f"{self.label:<18} [{bar}] {pct}  {status}"
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self, status: str = "done") -> None:
        self.update(100, status)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


#: A rough percent for job states when the API reports none (polling).
STATE_PERCENT = {"pending": 5.0, "processing": 50.0, "completed": 100.0}


def job_progress(label: str, *, stream: TextIO | None = None) -> Callable[[Any], None]:
    """An `on_progress` callback for `client.wait`: one bar fed by each polled job state."""
    bar = ProgressBar(label, stream=stream)

    def show(job: Any) -> None:
        state: NormalizedState = job.state
        bar.update(STATE_PERCENT.get(state.value), state.value)
        if state.terminal:
            bar.done(state.value)

    return show
