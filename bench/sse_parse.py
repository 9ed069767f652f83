"""Throughput of connector.client.sse.SSEDecoder against httpx-sse 0.4.3's parser.

Run from the repository root: ``python bench/sse_parse.py [--events N] [--runs N]``.

What is measured (best of ``--runs`` wall-clock runs each, both on the *same* list of 4 KiB byte
chunks, no network or HTTP involved):

* ours: ``SSEDecoder.feed(chunk)`` for every chunk, then ``close()`` -- bytes in, events out,
  including incremental UTF-8 decoding and line splitting.
* httpx-sse: the pipeline ``EventSource.iter_sse()`` runs for a response, minus httpx itself:
  each chunk is decoded to text by an incremental UTF-8 decoder (as ``httpx.Response.iter_text``
  does), split into lines by ``httpx_sse._decoders.SSELineDecoder`` (as ``_iter_sse_lines``
  does), and every line goes through ``line.rstrip("\\n")`` and
  ``httpx_sse._decoders.SSEDecoder.decode`` (as ``iter_sse`` does).
* httpx-sse (lines only): ``SSEDecoder.decode`` alone over the lines pre-split outside the
  timer -- the parser's lower bound, printed for reference.

The main stream (200k events by default) is built so that both parsers *should* agree: every
event has data, there is no BOM, ``retry`` values are all digits, comments sit inside events
rather than forming blocks of their own. It mixes one- to three-line data, ``id`` and ``event``
fields, comments, LF and CRLF line endings and non-ASCII text; both parsers' events are compared
field by field (event, data, id, retry) once. A small second stream then shows where httpx-sse
departs from WHATWG: it keeps a leading BOM (losing the first event), dispatches an empty event
for a comment-only block once an id is known, and accepts ``retry: 1_000`` through ``int()``.
"""

from __future__ import annotations

import argparse
import codecs
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    from httpx_sse._decoders import SSEDecoder as BaselineDecoder
    from httpx_sse._decoders import SSELineDecoder
except ImportError:  # pragma: no cover
    sys.exit("httpx-sse is missing: pip install httpx-sse==0.4.3")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from connector.client.sse import SSEDecoder

CHUNK = 4096
Event = tuple[str, str, str, int | None]  # (event, data, id, retry)


def build_stream(n_events: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    parts: list[str] = []
    for i in range(n_events):
        nl = "\r\n" if i % 3 == 0 else "\n"
        lines: list[str] = []
        if i % 4 == 0:
            lines.append(": keep-alive")
        if i % 5 != 0:
            lines.append(f"id: {i}")
        if i % 7 == 0:
            lines.append("event: progress")
        if i % 50 == 0:
            lines.append("retry: 3000")
        payload = {"status": "progress", "percent": i % 100, "id": f"gen_{i // 1000}"}
        lines.append("data: " + json.dumps(payload))
        for _ in range(rnd.randrange(3)):
            lines.append("data:" + rnd.choice([" more", "  lead", "ünïcødé ✓", "", "a:b"]))
        parts.append(nl.join(lines) + nl + nl)
    return "".join(parts).encode()


def chunked(blob: bytes, size: int = CHUNK) -> list[bytes]:
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def run_ours(chunks: list[bytes]) -> list[Event]:
    decoder = SSEDecoder()
    out: list[Event] = []
    for chunk in chunks:
        out.extend((e.event, e.data, e.id, e.retry) for e in decoder.feed(chunk))
    decoder.close()
    return out


def run_baseline(chunks: list[bytes]) -> list[Event]:
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    line_decoder = SSELineDecoder()
    decoder = BaselineDecoder()
    out: list[Event] = []

    def lines() -> list[str]:
        acc: list[str] = []
        for chunk in chunks:
            text = text_decoder.decode(chunk)
            if text:
                acc.extend(line_decoder.decode(text))
        acc.extend(line_decoder.flush())
        return acc

    for line in lines():
        sse = decoder.decode(line.rstrip("\n"))
        if sse is not None:
            out.append((sse.event, sse.data, sse.id, sse.retry))
    return out


def count_ours(chunks: list[bytes]) -> int:
    decoder = SSEDecoder()
    n = 0
    for chunk in chunks:
        n += len(decoder.feed(chunk))
    decoder.close()
    return n


def count_baseline(chunks: list[bytes]) -> int:
    # Streaming, exactly as httpx-sse interleaves decoding and parsing.
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    line_decoder = SSELineDecoder()
    decoder = BaselineDecoder()
    n = 0
    for chunk in chunks:
        text = text_decoder.decode(chunk)
        if not text:
            continue
        for line in line_decoder.decode(text):
            if decoder.decode(line.rstrip("\n")) is not None:
                n += 1
    for line in line_decoder.flush():
        if decoder.decode(line.rstrip("\n")) is not None:
            n += 1
    return n


def best_of(runs: int, fn: Callable[[], int]) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(runs):
        start = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - start)
    return best, count


def baseline_lines(chunks: list[bytes]) -> list[str]:
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    line_decoder = SSELineDecoder()
    lines: list[str] = []
    for chunk in chunks:
        text = text_decoder.decode(chunk)
        if text:
            lines.extend(line_decoder.decode(text))
    lines.extend(line_decoder.flush())
    return lines


def count_baseline_lines_only(lines: list[str]) -> int:
    decoder = BaselineDecoder()
    n = 0
    for line in lines:
        if decoder.decode(line) is not None:
            n += 1
    return n


DIVERGENT = (
    "\ufeffdata: bom\n\n"  # a leading BOM is stripped; httpx-sse keeps it, the field is unknown
    "id: 1\ndata: one\n\n"
    ": keep-alive\n\n"  # no data, no event; httpx-sse dispatches an empty one once an id is set
    "retry: 1_000\ndata: two\n\n"  # not all digits, ignored; httpx-sse's int() accepts it
    "data: unterminated"  # no blank line before EOF: discarded by both
).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    blob = build_stream(args.events)
    chunks = chunked(blob)
    print(
        f"stream: {args.events} events, {len(blob) / 1e6:.1f} MB, {len(chunks)} chunks of "
        f"{CHUNK} B; best of {args.runs} runs"
    )

    ours_events, baseline_events = run_ours(chunks), run_baseline(chunks)
    same = ours_events == baseline_events
    print(
        f"events produced: ours={len(ours_events)} httpx-sse={len(baseline_events)} "
        f"identical={same}"
    )

    t_ours, n_ours = best_of(args.runs, lambda: count_ours(chunks))
    t_base, n_base = best_of(args.runs, lambda: count_baseline(chunks))
    lines = baseline_lines(chunks)
    t_lines, _ = best_of(args.runs, lambda: count_baseline_lines_only(lines))
    assert n_ours == len(ours_events) and n_base == len(baseline_events)

    print(
        f"ours (bytes -> events)          : {n_ours / t_ours:>12,.0f} events/s  "
        f"({t_ours * 1e3:.0f} ms)"
    )
    print(
        f"httpx-sse (bytes -> events)     : {n_base / t_base:>12,.0f} events/s  "
        f"({t_base * 1e3:.0f} ms)"
    )
    print(
        f"httpx-sse (pre-split lines only): {n_base / t_lines:>12,.0f} events/s  "
        f"({t_lines * 1e3:.0f} ms)"
    )
    print(
        f"ratio ours/httpx-sse throughput : {t_base / t_ours:.2f} "
        f"(vs lines-only parser: {t_lines / t_ours:.2f})"
    )

    div_chunks = chunked(DIVERGENT, 7)
    print("WHATWG edge stream (where the parsers should differ), (event, data, id, retry):")
    print(f"  ours     : {run_ours(div_chunks)}")
    print(f"  httpx-sse: {run_baseline(div_chunks)}")


if __name__ == "__main__":
    main()
