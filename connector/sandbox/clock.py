"""Sandbox time, and a scheduler that runs callbacks when sandbox time reaches them.

Sandbox time runs `1 / time_scale` times faster than real time and can be pushed forward
with `Clock.advance` (the control API's `/_sandbox/clock`), so tests never wait for a
20-second video. Rate-limit windows use `Clock.real_now`: real seconds, also pushed by
`advance`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "Scheduler"]

log = logging.getLogger(__name__)

#: Longest a waiter sleeps before looking at the clock again (real seconds).
_MAX_NAP = 0.5


class Clock:
    """Sandbox seconds since the sandbox started."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale {time_scale!r} is not allowed; expected above 0")
        self.time_scale = time_scale
        self._mono0 = time.monotonic()
        self._epoch0 = time.time()
        self._advanced = 0.0
        #: Notified whenever time jumps or something waits on a new deadline.
        self.changed = threading.Condition()

    def now(self) -> float:
        """Sandbox seconds since start (scaled real time plus every advance)."""
        return (time.monotonic() - self._mono0) / self.time_scale + self._advanced

    def real_now(self) -> float:
        """Real seconds since start plus every advance (rate-limit windows)."""
        return time.monotonic() - self._mono0 + self._advanced

    def epoch(self, sandbox_time: float | None = None) -> float:
        """Unix time of a sandbox instant (timestamps in answers run at sandbox speed)."""
        return self._epoch0 + (self.now() if sandbox_time is None else sandbox_time)

    def real_epoch(self, real_time: float) -> float:
        """Unix time of a `real_now` instant."""
        return self._epoch0 + real_time

    def iso(self, sandbox_time: float | None = None) -> str:
        stamp = datetime.fromtimestamp(self.epoch(sandbox_time), tz=UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    def advance(self, seconds: float) -> float:
        """Jump forward; returns the new sandbox time."""
        if not seconds >= 0:
            raise ValueError(f"advance {seconds!r} is not allowed; expected 0 or more seconds")
        with self.changed:
            self._advanced += seconds
            self.changed.notify_all()
        return self.now()

    def poke(self) -> None:
        """Wake every waiter so it looks at the clock again."""
        with self.changed:
            self.changed.notify_all()

    def real_delay(self, sandbox_seconds: float) -> float:
        return max(sandbox_seconds, 0.0) * self.time_scale

    def wait_until(self, deadline: float, stop: Callable[[], bool] = lambda: False) -> bool:
        """Block until sandbox time reaches `deadline` (True) or `stop()` turns true (False)."""
        with self.changed:
            while True:
                if stop():
                    return False
                left = deadline - self.now()
                if left <= 0:
                    return True
                self.changed.wait(min(self.real_delay(left), _MAX_NAP))


class Scheduler:
    """Runs callbacks in sandbox-time order on one background thread.

    `run_due()` may also be called from any thread (the clock endpoint does, so a test
    sees the effects of an advance in the answer); callbacks never run concurrently.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._run_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sandbox-scheduler", daemon=True)
        self._thread.start()

    def at(self, when: float, callback: Callable[[], None]) -> None:
        """Run `callback` once sandbox time reaches `when`."""
        with self._lock:
            heapq.heappush(self._heap, (when, next(self._seq), callback))
        self.clock.poke()

    def clear(self) -> None:
        with self._lock:
            self._heap.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._heap)

    def run_due(self) -> int:
        """Run every callback that is due now (and those they make due); returns how many."""
        ran = 0
        with self._run_lock:
            while True:
                with self._lock:
                    if not self._heap or self._heap[0][0] > self.clock.now():
                        return ran
                    _, _, callback = heapq.heappop(self._heap)
                try:
                    callback()
                except Exception:  # a broken callback must not stop the sandbox
                    log.exception("sandbox scheduler callback failed")
                ran += 1

    def _next_due(self) -> float | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    def _loop(self) -> None:
        clock = self.clock
        while not self._stop.is_set():
            self.run_due()
            with clock.changed:
                if self._stop.is_set():
                    return
                due = self._next_due()
                if due is None:
                    clock.changed.wait(_MAX_NAP)
                else:
                    left = due - clock.now()
                    if left > 0:
                        clock.changed.wait(min(clock.real_delay(left), _MAX_NAP))

    def close(self) -> None:
        self._stop.set()
        self.clock.poke()
        self._thread.join(timeout=5)
