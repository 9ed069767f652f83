"""Job statuses as the API spells them, mapped onto one normalized state.

Video jobs speak lower case (`pending` … `completed`), the shared status endpoint and
the generation-object stream frames speak upper case (`PENDING` … `CANCELED`).
"""

from __future__ import annotations

from connector.catalog.spec import JobKind, NormalizedState

S = NormalizedState

#: The statuses each status endpoint documents, exactly as sent.
STATUSES: dict[JobKind, dict[str, NormalizedState]] = {
    JobKind.VIDEO: {
        "pending": S.PENDING,
        "processing": S.PROCESSING,
        "completed": S.COMPLETED,
        "failed": S.FAILED,
    },
    JobKind.BATCH: {
        "pending": S.PENDING,
        "processing": S.PROCESSING,
        "completed": S.COMPLETED,
        "failed": S.FAILED,
    },
    JobKind.SHARED: {
        "PENDING": S.PENDING,
        "PROCESSING": S.PROCESSING,
        "COMPLETED": S.COMPLETED,
        "FAILED": S.FAILED,
        "CANCELED": S.CANCELED,
    },
}

# Spellings seen in stream dialects and peers' docs, accepted so a new spelling
# does not strand a workflow (the docs themselves are not consistent).
_TOLERATED = {
    "queued": S.PENDING,
    "starting": S.PENDING,
    "running": S.PROCESSING,
    "in_progress": S.PROCESSING,
    "progress": S.PROCESSING,
    "complete": S.COMPLETED,
    "succeeded": S.COMPLETED,
    "success": S.COMPLETED,
    "error": S.FAILED,
    "cancelled": S.CANCELED,
}


class UnknownStatus(ValueError):
    """A status string that is neither documented nor a known variant."""


def normalize(status: str) -> NormalizedState:
    """Map any status spelling the API uses onto the normalized state."""
    key = status.strip().lower()
    for table in STATUSES.values():
        for raw, state in table.items():
            if raw.lower() == key:
                return state
    if key in _TOLERATED:
        return _TOLERATED[key]
    raise UnknownStatus(
        f"status {status!r} is not one CreativeAI documents; known: "
        + ", ".join(sorted({k for t in STATUSES.values() for k in t}))
    )


def spell(kind: JobKind, state: NormalizedState) -> str:
    """`state` as the API spells it for jobs of `kind` (voice: `COMPLETED`, video: `completed`).

    A state a kind does not document (a canceled video) takes that kind's letter case.
    """
    for raw, normalized in STATUSES[kind].items():
        if normalized is state:
            return raw
    upper = next(iter(STATUSES[kind])).isupper()
    return state.value.upper() if upper else state.value
