"""Fault switches: make the next N requests, streams or webhook deliveries misbehave.

Set through `POST /_sandbox/faults` with a JSON object:

    {"action": "fail", "status": 503, "count": 2}                 next 2 API calls answer 503
    {"action": "fail", "status": 429, "retry_after": 1}           429 with Retry-After: 1
    {"action": "reset", "when": "before"}                         drop the connection unanswered
    {"action": "reset", "when": "after", "operation": "video.create_from_text"}
                                                                  do the work, then drop the answer
    {"action": "delay", "seconds": 2.5}                           answer 2.5 real seconds late
    {"action": "stream_drop", "after_events": 3}                  end the next stream after 3 events
    {"action": "webhook_drop", "count": 2}                        skip the next 2 delivery attempts
    {"action": "webhook_delay", "seconds": 10}                    hold the next delivery 10 s

Request faults may be narrowed with `method`, `path` (a glob such as
`/v1/video/generations/*`) or `operation` (a catalog key such as `video.get`); webhook faults
with `url` (a glob). `count` (default 1) is how many matching requests or attempts take the
fault. Control calls under `/_sandbox/` never do.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from connector.catalog import CATALOG

__all__ = ["ACTIONS", "Fault", "FaultSpecError", "Faults"]

REQUEST_ACTIONS = ("fail", "reset", "delay")
ACTIONS = (*REQUEST_ACTIONS, "stream_drop", "webhook_drop", "webhook_delay")

_FIELDS: dict[str, tuple[str, ...]] = {
    "fail": ("status", "retry_after", "message"),
    "reset": ("when",),
    "delay": ("seconds",),
    "stream_drop": ("after_events",),
    "webhook_drop": (),
    "webhook_delay": ("seconds",),
}
_COMMON = ("action", "count")
_REQUEST_MATCH = ("method", "path", "operation")
_WEBHOOK_MATCH = ("url",)


class FaultSpecError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass
class Fault:
    id: int
    action: str
    remaining: int
    status: int | None = None
    retry_after: float | None = None
    message: str | None = None
    when: str | None = None
    seconds: float | None = None
    after_events: int | None = None
    method: str | None = None
    path: str | None = None
    operation: str | None = None
    url: str | None = None

    def matches_request(self, method: str, path: str, operations: Iterable[str]) -> bool:
        if self.method and self.method != method.upper():
            return False
        if self.path and not fnmatch.fnmatchcase(path, self.path):
            return False
        return not (self.operation and self.operation not in set(operations))

    def matches_url(self, url: str) -> bool:
        return not self.url or fnmatch.fnmatchcase(url, self.url)

    def view(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _number(spec: Mapping[str, Any], name: str, *, low: float, whole: bool = False) -> Any:
    value = spec.get(name)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and whole:
        ok = float(value).is_integer()
    if not ok or value < low:
        kind = "a whole number" if whole else "a number"
        raise FaultSpecError(name, f"{value!r} is not allowed; expected {kind} of at least {low:g}")
    return int(value) if whole else float(value)


def parse(spec: Mapping[str, Any], fault_id: int) -> Fault:
    """Check a fault spec; raises `FaultSpecError` naming the field and what is allowed."""
    action = spec.get("action")
    if action not in ACTIONS:
        raise FaultSpecError("action", f"{action!r} is not allowed; expected one of {ACTIONS}")
    match: tuple[str, ...] = _WEBHOOK_MATCH if action.startswith("webhook_") else _REQUEST_MATCH
    allowed = (*_COMMON, *_FIELDS[action], *match)
    for name in spec:
        if name not in allowed:
            raise FaultSpecError(name, f"is not a field of {action}; allowed: {', '.join(allowed)}")
    count = _number(spec, "count", low=1, whole=True) or 1
    fault = Fault(id=fault_id, action=action, remaining=count)
    for name in ("method", "path", "url", "message", "operation"):
        value = spec.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise FaultSpecError(name, f"{value!r} is not allowed; expected non-empty text")
    fault.method = spec["method"].upper() if spec.get("method") else None
    fault.path, fault.url, fault.message = spec.get("path"), spec.get("url"), spec.get("message")
    if spec.get("operation") and spec["operation"] not in CATALOG.operations:
        raise FaultSpecError(
            "operation",
            f"{spec['operation']!r} is not an operation; expected one of "
            + ", ".join(CATALOG.operations),
        )
    fault.operation = spec.get("operation")
    if action == "fail":
        status = _number(spec, "status", low=400, whole=True)
        if status is None or status > 599:
            raise FaultSpecError("status", f"{status!r} is not allowed; expected 400 to 599")
        fault.status = status
        fault.retry_after = _number(spec, "retry_after", low=0)
    elif action == "reset":
        fault.when = spec.get("when", "before")
        if fault.when not in ("before", "after"):
            raise FaultSpecError("when", f"{fault.when!r} is not allowed; expected before or after")
    elif action in ("delay", "webhook_delay"):
        fault.seconds = _number(spec, "seconds", low=0)
        if fault.seconds is None:
            raise FaultSpecError("seconds", "is required (a number of seconds, 0 or more)")
    elif action == "stream_drop":
        fault.after_events = _number(spec, "after_events", low=0, whole=True)
        if fault.after_events is None:
            raise FaultSpecError("after_events", "is required (a whole number, 0 or more)")
    return fault


class Faults:
    """The armed faults, consumed one matching use at a time (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: Mapping[str, Any]) -> Fault:
        fault = parse(spec, next(self._ids))
        with self._lock:
            self._faults.append(fault)
        return fault

    def _take(self, actions: tuple[str, ...], test: Any) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.action in actions and test(fault):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def take_request(
        self, actions: tuple[str, ...], method: str, path: str, operations: Iterable[str]
    ) -> Fault | None:
        ops = tuple(operations)
        return self._take(actions, lambda f: f.matches_request(method, path, ops))

    def take_webhook(self, action: str, url: str) -> Fault | None:
        return self._take((action,), lambda f: f.matches_url(url))

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.view() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
