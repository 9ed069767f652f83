"""The paid creates' example requests (tests/cases/operations.json), as a client's input and
as a price request, and how many paid creates a sandbox saw. Shared by the client's cap and
record-key tests; holds no tests itself."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from connector.sandbox.harness import RunningSandbox

CASES = json.loads((Path(__file__).parent / "cases" / "operations.json").read_text())["cases"]


def case(op_key: str) -> dict[str, Any]:
    """The first case of `op_key`."""
    found: dict[str, Any] = next(c for c in CASES if c["operation"] == op_key)
    return found


def client_input(op_key: str) -> dict[str, Any]:
    """The case's input as keyword arguments of `client.call` (files as tuples)."""
    out: dict[str, Any] = {}
    for name, value in case(op_key)["input"].items():
        if isinstance(value, dict) and "base64" in value:
            value = (value["filename"], base64.b64decode(value["base64"]), value["content_type"])
        out[name] = value
    return out


def price_body(op_key: str) -> dict[str, Any]:
    """The case's request as a price request: JSON, without the files it uploads."""
    request = case(op_key)["request"]
    return dict(request["json"]) if "json" in request else dict(request["multipart"]["fields"])


def creates(sandbox: RunningSandbox) -> int:
    """Paid creates the sandbox started: its jobs outside batches, its batches, and its
    synchronous image calls (not listed as jobs: counted by the outputs they wrote)."""
    batches = sandbox.control("GET", "batches")["batches"]
    jobs = {j["id"] for j in sandbox.jobs()}
    in_batches = {j["id"] for b in batches for j in b["jobs"]}
    return len(jobs - in_batches) + len(batches) + len(image_calls(sandbox) - jobs)


def image_calls(sandbox: RunningSandbox) -> set[str]:
    """Ids of the calls that wrote numbered outputs (`<id>-<n>.png`: images)."""
    names: list[str] = sandbox.control("GET", "files")["files"]
    return {m.group(1) for n in names if (m := _NUMBERED.match(n))}


_NUMBERED = re.compile(r"^(.+)-\d+\.[a-z0-9]+$")
