"""Outcomes chosen from ordinary input: `[sandbox:<name>]` anywhere in a text field.

A no-code builder cannot call a control API from the middle of a scenario, but can type
into a prompt. Any string value of a request (prompt, text, title, a URL's fragment, a
batch item's prompt) may carry one or more markers; see `TRIGGERS` for what each does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["TRIGGERS", "Found", "UnknownTrigger", "find", "strip"]

MARKER = re.compile(r"\[sandbox:([A-Za-z0-9_-]*)\]")

#: Every trigger with what it does (the README and the module docstring list the same).
TRIGGERS: Mapping[str, str] = MappingProxyType(
    {
        "content_policy": "refused with 400 content_policy_violation, not billed",
        "provider_unavailable": "refused with 503 provider_unavailable, not billed",
        "server_error": "refused with 500 server_error, not billed",
        "rate_limit": "refused with 429 rate_limit_exceeded and Retry-After, not billed",
        "failover": "runs on another model: model_actual differs, failover_used is true "
        "(with failover=false: 503 provider_unavailable)",
        "fail": "the job ends failed with generation_timeout, a *.failed webhook, credits "
        "refunded (synchronous images: 500 server_error, not billed)",
        "flaky": "the job fails once: with webhook_auto_retry=true it is run again and "
        "completes, otherwise it ends failed with generation_failed",
    }
)


class UnknownTrigger(ValueError):
    def __init__(self, name: str, param: str) -> None:
        super().__init__(
            f"[sandbox:{name}] is not a sandbox trigger; known: "
            + ", ".join(f"[sandbox:{t}]" for t in TRIGGERS)
        )
        self.name = name
        self.param = param


@dataclass(frozen=True)
class Found:
    name: str
    param: str  # where it was found, e.g. "prompt" or "prompts[2].prompt"


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def find(body: Mapping[str, Any]) -> list[Found]:
    """Every marker in the request, in order. Raises `UnknownTrigger` for a misspelt one."""
    found = []
    for path, text in _walk(body, ""):
        for match in MARKER.finditer(text):
            name = match.group(1).lower()
            if name not in TRIGGERS:
                raise UnknownTrigger(match.group(1), path)
            found.append(Found(name, path))
    return found


def strip(text: str) -> str:
    """The text without its markers (for revised prompts)."""
    return " ".join(MARKER.sub(" ", text).split())


def first(found: list[Found], *names: str) -> Found | None:
    return next((f for f in found if f.name in names), None)
