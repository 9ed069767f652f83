"""Per-key request limits over a sliding window, and the parallel-request cap.

Each call counts against the key's plan limit; video creates and status polls also count
against their own limits (`limits.VIDEO_CREATE_PER_MINUTE`, `limits.POLL_PER_MINUTE`).
A refused call (429) does not count. The answer reports the tightest limit that applied.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Bucket", "Decision", "RateLimiter"]


@dataclass(frozen=True)
class Bucket:
    name: str  # "plan", "video_create", "poll"
    limit: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    bucket: str
    limit: int
    remaining: int
    #: Real seconds until the window has room again (0 when allowed with room left).
    retry_after: float
    #: Real time (`Clock.real_now`) when the window is empty again.
    reset_at: float


class RateLimiter:
    def __init__(self, window: float, now: Callable[[], float]) -> None:
        self.window = window
        self._now = now
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._active: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def _prune(self, hits: deque[float], now: float) -> None:
        while hits and hits[0] <= now - self.window:
            hits.popleft()

    def hit(self, key: str, buckets: list[Bucket]) -> Decision:
        """Count one call against every bucket, unless one of them is full."""
        with self._lock:
            now = self._now()
            states = []
            for bucket in buckets:
                hits = self._hits[(key, bucket.name)]
                self._prune(hits, now)
                states.append((bucket, hits))
            full = [(b, h) for b, h in states if len(h) >= b.limit]
            if full:
                # The call needs room in every bucket: the one that frees up last decides.
                bucket, hits = max(full, key=lambda s: s[1][len(s[1]) - s[0].limit])
                free_at = hits[len(hits) - bucket.limit] + self.window
                return Decision(
                    allowed=False,
                    bucket=bucket.name,
                    limit=bucket.limit,
                    remaining=0,
                    retry_after=max(free_at - now, 0.0),
                    reset_at=hits[-1] + self.window,
                )
            for _, hits in states:
                hits.append(now)
            bucket, hits = min(states, key=lambda s: (s[0].limit - len(s[1]), s[0].limit))
            return Decision(
                allowed=True,
                bucket=bucket.name,
                limit=bucket.limit,
                remaining=bucket.limit - len(hits),
                retry_after=0.0,
                reset_at=hits[-1] + self.window,
            )

    def enter(self, key: str, cap: int) -> bool:
        """Take one of `cap` parallel slots of `key`; False when all are taken."""
        with self._lock:
            if self._active[key] >= cap:
                return False
            self._active[key] += 1
            return True

    def leave(self, key: str) -> None:
        with self._lock:
            self._active[key] = max(self._active[key] - 1, 0)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def header_seconds(seconds: float) -> int:
    """Whole seconds for a `Retry-After` header (rounded up, at least 1 when waiting)."""
    return max(math.ceil(seconds), 1) if seconds > 0 else 0
