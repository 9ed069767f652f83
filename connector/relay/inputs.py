"""Reading untrusted input without a 5xx: strict JSON, ASCII numbers in query strings.

    data = strict_json(raw)           # BadInput naming what is wrong
    limit = ascii_int(raw, 1, 200)    # None unless ASCII digits within the range

Python's `json` accepts things that are no JSON or that the relay cannot store: `NaN`
and `Infinity`, numbers that overflow to infinity, integers too long to convert (a
ValueError), nesting deep enough to exhaust the stack (a RecursionError), and lone
UTF-16 surrogates (`"\\ud800"`, valid JSON text that no UTF-8 database takes). Query
strings reach the relay as text: `str.isdigit()` is true for "²" and `int()` takes
"١٢", so numbers there are checked as ASCII digits.
"""

from __future__ import annotations

import io
import json
import math
import re
from typing import IO, Any

from werkzeug.exceptions import ClientDisconnected
from werkzeug.serving import DechunkedInput

from connector.relay.storage.rows import parse_time

_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
_ASCII_NUMBER = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?")


class BadInput(ValueError):
    """Input that is not what the relay takes; `where` names the place, if known."""

    def __init__(self, where: str, value: str, allowed: str) -> None:
        super().__init__(f"{where}: {value}: {allowed}")
        self.where = where
        self.value = value
        self.allowed = allowed


def _constant(name: str) -> Any:
    raise BadInput("body", name, "strict JSON (NaN and Infinity are not JSON numbers)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadInput("body", text[:40], "a JSON number within the range of a double")
    return value


def strict_json(raw: bytes | str) -> Any:
    """The JSON value of `raw`; BadInput for anything that is no strict, storable JSON."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_float=_float)
    except BadInput:
        raise
    except RecursionError:
        raise BadInput(
            "body", "<nested too deeply>", "JSON nested at most a few hundred levels"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadInput("body", "<not JSON>", "a JSON object") from None
    except ValueError:  # an integer too long to convert
        raise BadInput("body", "<number too long>", "JSON numbers of at most 4300 digits") from None
    check_text(data)
    return data


MAX_DEPTH = 100


def check_text(value: Any, where: str = "body", depth: int = 0) -> None:
    """BadInput when a parsed JSON value nests deeper than MAX_DEPTH or holds a string
    (or key) that is no valid Unicode (a lone surrogate), naming the first such place."""
    if isinstance(value, str):
        if not _encodes(value):
            raise BadInput(where, "<lone UTF-16 surrogate>", "text that is valid Unicode")
        return
    if depth >= MAX_DEPTH and isinstance(value, list | dict):
        raise BadInput(where, "<nested too deeply>", f"JSON nested at most {MAX_DEPTH} levels")
    if isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key if where == "body" else f"{where}.{key}"
            if not _encodes(key):
                raise BadInput(where, "<lone UTF-16 surrogate>", "keys that are valid Unicode")
            check_text(item, name, depth + 1)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ascii_int(raw: str, low: int, high: int) -> int | None:
    """`raw` as an int when it is 1-18 ASCII digits within [low, high], else None."""
    text = raw.strip()
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def ascii_seconds(raw: str) -> float | None:
    """Unix seconds written in ASCII (`1764547200` or `1764547200.25`), else None."""
    text = raw.strip()
    return float(text) if _ASCII_NUMBER.fullmatch(text) else None


def checked_time(raw: str) -> float:
    """Epoch seconds from an RFC 3339 time written in ASCII; ValueError otherwise."""
    text = raw.strip()
    if not text.isascii() or len(text) > 64:
        raise ValueError("not an RFC 3339 time")
    try:
        return parse_time(text)
    except OverflowError:
        raise ValueError("not an RFC 3339 time") from None


class FramedInput:
    """`wsgi.input` of a chunked request, whose framing errors become a 400.

    A WSGI server de-chunks the body while the app reads it, and reports a malformed
    chunk header or a missing terminator as an OSError from `read` (werkzeug's "Invalid
    chunk header", gunicorn's InvalidChunkSize / ChunkMissingTerminator): raised from
    inside the app, that was a 500. Here it is werkzeug's ClientDisconnected, a 400.
    """

    MESSAGE = "the request body ended early or its chunked framing is malformed"

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except (OSError, ValueError):
            raise ClientDisconnected(self.MESSAGE) from None

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._stream.readline(size)
        except (OSError, ValueError):
            raise ClientDisconnected(self.MESSAGE) from None

    def readlines(self, hint: int = -1) -> list[bytes]:
        try:
            return self._stream.readlines(hint)
        except (OSError, ValueError):
            raise ClientDisconnected(self.MESSAGE) from None

    def __iter__(self) -> FramedInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        self._stream.close()


class Dechunked(io.RawIOBase):
    """A strict `Transfer-Encoding: chunked` reader, in place of werkzeug's development
    server's (which, given a chunk size larger than what follows, hands out bytes it never
    read, and so can read on for megabytes of nothing). Any framing error: ClientDisconnected."""

    def __init__(self, rfile: IO[bytes]) -> None:
        self._rfile = rfile
        self._left = 0  # bytes left in the current chunk
        self._done = False

    def readable(self) -> bool:
        return True

    def _bad(self) -> ClientDisconnected:
        return ClientDisconnected(FramedInput.MESSAGE)

    def _size(self) -> int:
        line = self._rfile.readline(_MAX_CHUNK_LINE + 1)
        if not line.endswith(b"\n") or len(line) > _MAX_CHUNK_LINE:
            raise self._bad()
        size = line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size):
            raise self._bad()
        return int(size, 16)

    def _end_of_chunk(self) -> None:
        if self._rfile.read(2) != b"\r\n":
            raise self._bad()

    def readinto(self, buffer: Any) -> int:
        if self._done or len(buffer) == 0:
            return 0
        if self._left == 0:
            size = self._size()
            if size == 0:
                self._trailers()
                self._done = True
                return 0
            self._left = size
        data = self._rfile.read(min(len(buffer), self._left))
        if not data:
            raise self._bad()
        buffer[: len(data)] = data
        self._left -= len(data)
        if self._left == 0:
            self._end_of_chunk()
        return len(data)

    def _trailers(self) -> None:
        """Skip the trailer fields after the last chunk, up to the empty line."""
        for _ in range(_MAX_TRAILERS):
            line = self._rfile.readline(_MAX_CHUNK_LINE + 1)
            if line in (b"\r\n", b"\n"):
                return
            if not line.endswith(b"\n"):
                break
        raise self._bad()


_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_MAX_CHUNK_LINE = 4096
_MAX_TRAILERS = 100


def guard_chunked(environ: dict[str, Any]) -> None:
    """A chunked request's body is read strictly (`Dechunked`, in place of werkzeug's
    development server's reader) and its framing errors are a 400 (`FramedInput`, for
    every server). Other requests are left as they are: werkzeug already answers a body
    shorter than its Content-Length with a 400."""
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    stream = environ.get("wsgi.input")
    if stream is None or isinstance(stream, FramedInput):
        return
    if isinstance(stream, DechunkedInput):
        stream = io.BufferedReader(Dechunked(stream._rfile))
    environ["wsgi.input"] = FramedInput(stream)
