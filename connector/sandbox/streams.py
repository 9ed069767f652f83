"""Progress streams (server-sent events) in the three dialects the docs show.

`?dialect=1` (default), as the streaming endpoints' own examples:
    event: progress   data: {"status": "progress", "percent": 40}
    event: complete   data: {"status": "complete", "url": "..."}
    event: error      data: {"status": "error", "code": "...", "message": "..."}
`?dialect=2`, generation objects (they carry the job id, to reconcile after a drop):
    data: {"id": "...", "status": "PROCESSING", "input": {...}, "data": {"progress": 40},
           "usage": {"credits": 60}}   ... status COMPLETED (data.outputs) or FAILED (code, message)
`?dialect=3`, typed frames:
    data: {"type": "log", ...}  {"type": "progress", "percentage": 40}
    data: {"type": "complete", "outputs": ["..."]}  or {"type": "error", "code", "message"}

Every event has an id `<job id>:<n>`; a POST with `Last-Event-ID` resumes after event n of
that job (no new job, no new charge). Events 0 .. steps-1 report progress, event `steps`
is the terminal one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from connector.catalog import JobKind, NormalizedState
from connector.sandbox.engine import Sandbox
from connector.sandbox.jobs import Job, wire_status

__all__ = ["DIALECTS", "event_id", "frames", "parse_event_id"]

DIALECTS = ("1", "2", "3")
S = NormalizedState


def event_id(job: Job, seq: int) -> str:
    return f"{job.id}:{seq}"


def parse_event_id(value: str) -> tuple[str, int] | None:
    job_id, _, seq = value.strip().rpartition(":")
    if not job_id or not seq.isdigit():
        return None
    return job_id, int(seq)


def encode(event_id: str, data: dict[str, Any], *, event: str | None, retry: int | None) -> bytes:
    lines = [f"id: {event_id}"]
    if event:
        lines.append(f"event: {event}")
    if retry is not None:
        lines.append(f"retry: {retry}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


def _progress(dialect: str, job: Job, seq: int, percent: int) -> tuple[str | None, dict[str, Any]]:
    if dialect == "1":
        return "progress", {"status": "progress", "percent": percent}
    if dialect == "2":
        state = S.PENDING if seq == 0 and percent == 0 else S.PROCESSING
        return None, _generation(job, state, {"progress": percent})
    if seq == 0:
        return None, {"type": "log", "message": f"Started on {job.model_actual}"}
    return None, {"type": "progress", "percentage": percent}


def _terminal(dialect: str, job: Job) -> tuple[str | None, dict[str, Any]]:
    error = job.error or {}
    if dialect == "1":
        if job.state is S.COMPLETED:
            done: dict[str, Any] = {"status": "complete", "url": job.output_url}
            if len(job.outputs) > 1:
                done["urls"] = list(job.outputs)
            return "complete", done
        return "error", {
            "status": "error",
            "code": error.get("code"),
            "message": error.get("message"),
        }
    if dialect == "2":
        if job.state is S.COMPLETED:
            return None, _generation(job, job.state, {"progress": 100, "outputs": job.outputs})
        frame = _generation(job, job.state, {"progress": None})
        frame.update(code=error.get("code"), message=error.get("message"))
        return None, frame
    if job.state is S.COMPLETED:
        return None, {"type": "complete", "outputs": list(job.outputs)}
    return None, {"type": "error", "code": error.get("code"), "message": error.get("message")}


def _generation(job: Job, state: NormalizedState, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": wire_status(JobKind.SHARED, state),
        "input": job.request,
        "data": data,
        "usage": {"credits": job.credits},
    }


def frames(
    sandbox: Sandbox,
    job: Job,
    dialect: str,
    *,
    start: int = 0,
    drop_after: int | None = None,
) -> Iterator[bytes]:
    """The events of `job`'s stream from event `start`, each sent when the job gets there."""
    steps = sandbox.config.stream_steps
    clock = sandbox.clock
    retry: int | None = max(math.ceil(1000 * clock.time_scale), 1)

    def stop() -> bool:  # no locks here: this runs while the clock's condition is held
        return job.state.terminal or sandbox.closed

    sent = 0
    seq = start
    while seq <= steps and not sandbox.closed:
        if seq < steps:
            due = job.starts_at + seq * job.duration / steps
            clock.wait_until(due, stop)
            ended = job.completed_at
            if job.state.terminal and ended is not None and ended < due:
                seq = steps  # the job ended before this progress point: straight to the end
                continue
            name, data = _progress(dialect, job, seq, round(100 * seq / steps))
        else:
            clock.wait_until(math.inf, stop)
            if not job.state.terminal:
                return  # the sandbox is closing
            name, data = _terminal(dialect, job)
        if drop_after is not None and sent >= drop_after:
            return  # fault switch: the stream ends here, without its terminal event
        yield encode(event_id(job, seq), data, event=name, retry=retry)
        retry = None
        sent += 1
        seq += 1
