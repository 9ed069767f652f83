"""The relay's JSON log lines: written by one thread, in order, none lost on a normal exit."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from connector.relay import logs


class SlowStream(io.StringIO):
    """A stream that counts its writes and can be held (a slow disk or pipe)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.gate = threading.Event()
        self.gate.set()

    def write(self, text: str) -> int:
        self.gate.wait(10)
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stream() -> Iterator[SlowStream]:
    out = SlowStream()
    logs.configure("INFO", stream=out)
    yield out
    logs.configure("INFO", stream=io.StringIO())  # closes the handler under test


def _lines(stream: SlowStream) -> list[dict[str, object]]:
    logs.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_from_many_threads_are_all_written_whole_and_in_each_threads_order(
    stream: SlowStream,
) -> None:
    log = logs.get_logger("test")

    def emit(t: int) -> None:
        for n in range(200):
            logs.log_fast(log, logging.INFO, "line", logs.fields(thread=t, n=n))

    threads = [threading.Thread(target=emit, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = _lines(stream)
    assert len(entries) == 8 * 200
    for number in range(8):
        assert [e["n"] for e in entries if e["thread"] == number] == list(range(200))


def test_lines_queued_behind_a_slow_stream_go_out_in_one_write(stream: SlowStream) -> None:
    log = logs.get_logger("test")
    log.info("first")
    logs.flush()
    before = stream.writes
    stream.gate.clear()  # the stream blocks: the next line holds the writer ...
    log.info("blocked")
    for n in range(50):  # ... while these queue up, and nobody logging waits for it
        log.info("queued", extra=logs.fields(n=n))
    stream.gate.set()
    entries = _lines(stream)
    assert [e["msg"] for e in entries] == ["first", "blocked"] + ["queued"] * 50
    assert stream.writes - before <= 3  # not one write per line


def test_the_level_and_the_secret_masks_still_apply(stream: SlowStream) -> None:
    log = logs.get_logger("test")
    log.debug("not at INFO")
    log.info("calling /hooks/AbCdEf123 with Bearer sk-live-123")
    (entry,) = _lines(stream)
    assert entry["msg"] == "calling /hooks/<token> with Bearer <hidden>"


def test_a_forked_child_logs_through_a_writer_of_its_own(stream: SlowStream) -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            out = io.StringIO()
            handler = logging.getLogger(logs.ROOT).handlers[-1]
            handler.stream = out  # type: ignore[attr-defined]
            logs.get_logger("child").info("from the child")
            logs.flush()
            os.write(write, out.getvalue().encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as got:
        text = got.read()
    assert status == 0
    assert json.loads(text)["msg"] == "from the child"


def test_every_line_is_out_when_the_process_exits() -> None:
    code = (
        "import logging\n"
        "from connector.relay import logs\n"
        "logs.configure('INFO')\n"
        "log = logs.get_logger('exit')\n"
        "for n in range(500):\n"
        "    log.info('bye', extra=logs.fields(n=n))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    numbers = [json.loads(line)["n"] for line in done.stderr.splitlines()]
    assert numbers == list(range(500))
