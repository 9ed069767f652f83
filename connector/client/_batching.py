"""Many videos through the batch endpoint: split, validate per item, put results back in order.

`generate_videos` in both clients uses these pieces; they do no I/O. An item that is
invalid on its own gets its own `InvalidInput` and is left out of the calls, so one bad
item never sinks the others in its batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from connector.catalog import CATALOG, InvalidInput, limits
from connector.catalog.fields import BATCH_PROMPTS
from connector.catalog.responses import BatchCreated, BatchItem, BatchStatus
from connector.catalog.spec import NormalizedState, Operation
from connector.client._base import Prepared, prepare
from connector.client.errors import JobFailedError

OP = "batch.create"
PROMPTS = BATCH_PROMPTS.name
_PROMPT = next(c.name for c in BATCH_PROMPTS.children if c.required)

Item = str | Mapping[str, Any]


@dataclass(frozen=True)
class ItemResult:
    """What became of one input item: its job (when created) or the error that stopped it."""

    index: int
    job: BatchItem | None = None
    error: Exception | None = None
    batch_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def output_url(self) -> str | None:
        return self.job.output_url if self.job is not None else None


@dataclass
class Chunk:
    """One batch call: which input items it carries, and their prompt entries."""

    indices: list[int] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)


def operation() -> Operation:
    return CATALOG.operation(OP)


def prepared(base_url: str, chunks: list[Chunk], shared: Mapping[str, Any]) -> list[Prepared]:
    """The batch calls of `chunks`, validated (the cap prices each one's own body)."""
    return [prepare(base_url, OP, {**shared, PROMPTS: c.prompts}) for c in chunks]


def plan(items: Iterable[Item], shared: Mapping[str, Any]) -> tuple[list[ItemResult], list[Chunk]]:
    """Validate every item; group the valid ones into calls of at most BATCH_MAX_PROMPTS.

    Returns the results known already (invalid items) and the chunks to send. Shared
    fields that are invalid raise `InvalidInput` at once: they would fail every call.
    """
    entries = [_entry(item) for item in items]
    if not entries:
        return [], []
    probe = entries[0] if isinstance(entries[0], dict) else {_PROMPT: "-"}
    try:
        CATALOG.validate(OP, {**shared, PROMPTS: [probe]})
    except InvalidInput as exc:
        if not all(p.field.startswith(PROMPTS) for p in exc.problems):
            raise
    done: list[ItemResult] = []
    chunks: list[Chunk] = []
    current = Chunk()
    for index, entry in enumerate(entries):
        if isinstance(entry, Exception):
            done.append(ItemResult(index, error=entry))
            continue
        try:
            CATALOG.validate(OP, {**shared, PROMPTS: [entry]})
        except InvalidInput as exc:
            done.append(ItemResult(index, error=_at(exc, index)))
            continue
        current.indices.append(index)
        current.prompts.append(entry)
        if len(current.indices) == limits.BATCH_MAX_PROMPTS:
            chunks.append(current)
            current = Chunk()
    if current.indices:
        chunks.append(current)
    return done, chunks


def _at(exc: InvalidInput, index: int) -> InvalidInput:
    """The error of an item checked alone (as `prompts[0]`), naming its own position."""
    alone, here = f"{PROMPTS}[0]", f"{PROMPTS}[{index}]"
    problems = [
        replace(p, field=here + p.field[len(alone) :]) if p.field.startswith(alone) else p
        for p in exc.problems
    ]
    return InvalidInput(exc.operation, problems)


def _entry(item: Item) -> dict[str, Any] | Exception:
    try:
        return prompt_entry(item)
    except TypeError as exc:
        return exc


def prompt_entry(item: Item) -> dict[str, Any]:
    """One entry of the batch's prompt list: a text becomes `{prompt: text}`."""
    if isinstance(item, str):
        return {_PROMPT: item}
    if isinstance(item, Mapping):
        return {k: v for k, v in item.items() if v is not None}
    raise TypeError(
        f"an item must be a prompt text or a mapping of {PROMPTS} fields, not {type(item).__name__}"
    )


def created(chunk: Chunk, batch: BatchCreated) -> list[ItemResult]:
    """Results of a chunk whose batch call was accepted (jobs answer in prompt order)."""
    out: list[ItemResult] = []
    for pos, index in enumerate(chunk.indices):
        if pos < len(batch.jobs):
            out.append(ItemResult(index, job=batch.jobs[pos], batch_id=batch.batch_id))
        else:
            missing = RuntimeError(
                f"batch {batch.batch_id} answered {len(batch.jobs)} jobs for "
                f"{len(chunk.indices)} prompts; no job for this item"
            )
            out.append(ItemResult(index, error=missing, batch_id=batch.batch_id))
    return out


def failed(chunk: Chunk, error: Exception, batch_id: str | None = None) -> list[ItemResult]:
    """Every item of a chunk gets the error that stopped its batch call."""
    return [ItemResult(index, error=error, batch_id=batch_id) for index in chunk.indices]


def finished(results: list[ItemResult], status: BatchStatus) -> list[ItemResult]:
    """Results of a chunk after its batch ended: each item's final job, failures as errors."""
    by_id = {job.id: job for job in status.jobs}
    out: list[ItemResult] = []
    for result in results:
        if result.job is None:
            out.append(result)
            continue
        job = by_id.get(result.job.id, result.job)
        error: Exception | None = None
        if _state(job) in (NormalizedState.FAILED, NormalizedState.CANCELED):
            error = JobFailedError(job, operation=OP)
        out.append(ItemResult(result.index, job=job, error=error, batch_id=status.batch_id))
    return out


def _state(job: BatchItem) -> NormalizedState | None:
    try:
        return job.state
    except ValueError:
        return None


def in_order(count: int, parts: Iterable[list[ItemResult]]) -> list[ItemResult]:
    slots: list[ItemResult | None] = [None] * count
    for part in parts:
        for result in part:
            slots[result.index] = result
    missing = [i for i, r in enumerate(slots) if r is None]
    if missing:  # pragma: no cover - every item is planned exactly once
        raise AssertionError(f"items without a result: {missing}")
    return [r for r in slots if r is not None]
