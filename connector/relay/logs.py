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
import os
import re
import sys
import threading
import time
import weakref
from queue import SimpleQueue
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


#: How long the writer lets lines gather after a write (lines appear at most this late).
BATCH_PAUSE = 0.01


class _Handler(logging.Handler):
    """Hands records to one writer thread, which formats them and writes whatever has
    queued up in one `write`: request threads never wait on the stream or on each other
    (measured under gunicorn: a synchronous write per accepted webhook cost ~15 % of the
    CPU, mostly threads sleeping on the handler lock). `flush()` returns once everything
    handed over before it is written; logging's exit hook calls it, so a normal exit loses
    nothing (a killed process may lose the last milliseconds of lines).
    """

    relay_handler = True

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self._closed = False
        self._start()
        me = weakref.ref(self)

        def restart() -> None:  # the writer thread does not survive a fork: start another
            handler = me()
            if handler is not None:
                handler._start()

        os.register_at_fork(after_in_child=restart)

    def _start(self) -> None:
        if self._closed:
            return
        self._queue: SimpleQueue[logging.LogRecord | threading.Event] = SimpleQueue()
        self._writer = threading.Thread(target=self._write_all, name="relay-log", daemon=True)
        self._writer.start()

    def handle(self, record: logging.LogRecord) -> bool:  # no handler lock: see emit
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self._queue.put(record)

    def _write_all(self) -> None:
        queue = self._queue
        while True:
            batch = [queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            lines = []
            for item in batch:
                if isinstance(item, logging.LogRecord):
                    try:
                        lines.append(self.format(item) + "\n")
                    except Exception:
                        self.handleError(item)
            if lines:
                try:
                    self.stream.write("".join(lines))
                    self.stream.flush()
                except (OSError, ValueError):  # a closed stream: nothing left to tell
                    pass
            for item in batch:
                if isinstance(item, threading.Event):  # a flush (or close) waits on it
                    item.set()
            if any(isinstance(item, _Stop) for item in batch):
                return
            if not any(isinstance(item, threading.Event) for item in batch):
                # Let the next lines gather: under load one wake-up then writes many of
                # them, instead of waking this thread (a context switch) for each line.
                time.sleep(BATCH_PAUSE)

    def flush(self) -> None:
        if not self._writer.is_alive():
            return
        written = threading.Event()
        self._queue.put(written)
        written.wait(5)

    def close(self) -> None:
        self._closed = True
        if self._writer.is_alive():
            stop = _Stop()
            self._queue.put(stop)
            stop.wait(5)
        super().close()


class _Stop(threading.Event):
    """Handed to the writer by `close`: write what came before, then end."""


def flush() -> None:
    """Wait until every relay log line handed over so far is written (tests read them)."""
    for handler in logging.getLogger(ROOT).handlers:
        handler.flush()


def configure(level: str = "INFO", stream: IO[str] | None = None, json_lines: bool = True) -> None:
    """Send the relay's logs to `stream` (stderr) as JSON lines; idempotent."""
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if getattr(h, "relay_handler", False)]:
        logger.removeHandler(old)
        old.close()
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
