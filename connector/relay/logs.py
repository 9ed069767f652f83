"""JSON logs, one object per line, that never carry a key, a secret or a token.

    log = get_logger("inbound")
    log.info("event accepted", extra={"fields": {"event_id": ..., "route_id": ...}})

The relay only logs ids it made (route, subscription, event, delivery ids), tenant ids
(hashes), event names, status codes and target *hosts*, never bodies, URLs with paths,
headers or exception text from a request. As a second line of defence the formatter
masks anything shaped like a hook path, a bearer credential or a webhook secret.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import IO, Any
from urllib.parse import urlsplit

ROOT = "connector.relay"

_MASKS = (
    (re.compile(r"/hooks/[^\s\"'?#]+"), "/hooks/<token>"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1<hidden>"),
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]+"), "whsec_<hidden>"),
    (re.compile(r"(?i)(signature=)[^\s&\"']+"), r"\1<hidden>"),
)


#: Text without any of these (compared lower-case) holds nothing `_MASKS` would change.
_MASK_CLUES = ("/hooks/", "bearer", "whsec_", "signature=")


def mask(text: str) -> str:
    lower = text.lower()
    if not any(clue in lower for clue in _MASK_CLUES):
        return text
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def target_host(url: str) -> str:
    """What the logs may say about a target: scheme, host and port, never path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable>"
    return f"{parts.scheme}://{host}{port}"


#: One encoder for every line: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # the last second formatted, and its text

    def _timestamp(self, created: float) -> str:
        second = int(created)
        known, stamp = self._second
        if second != known:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, stamp)
        return f"{stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception text can quote URLs, bodies or headers.
            entry["exception"] = record.exc_info[0].__name__
        return mask(_ENCODER.encode(entry))


class _Handler(logging.StreamHandler[IO[str]]):
    relay_handler = True


def configure(level: str = "INFO", stream: IO[str] | None = None, json_lines: bool = True) -> None:
    """Send the relay's logs to `stream` (stderr) as JSON lines; idempotent."""
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if getattr(h, "relay_handler", False)]:
        logger.removeHandler(old)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(level)
    # werkzeug's access log prints request paths, and ours hold tokens: the relay logs
    # each request itself (see app.py).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{ROOT}.{name}")


def log_fast(logger: logging.Logger, level: int, msg: str, extra: dict[str, Any]) -> None:
    """`logger.log(level, msg, extra=extra)` for lines logged on every request: the same
    record, without looking up the calling source line (no format here shows it)."""
    if logger.isEnabledFor(level):
        logger.handle(logger.makeRecord(logger.name, level, "", 0, msg, (), None, extra=extra))


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call: structured fields that end up in the JSON object."""
    return {"fields": values}
