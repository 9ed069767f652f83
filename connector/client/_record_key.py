"""One job per record: what a paid create given `record_key=` does with the client's ledger.

The flow (the same on every platform): look the key up; an entry with the API's answer is
returned as it is (no API call); an entry with a job id is fetched back from the job's status
endpoint, and returned unless it failed or is gone; otherwise the create runs (after the
cap check) and its job id, or its answer, is put in the ledger. No I/O here: the clients
send the calls and ask the ledger (the async client in a worker thread).
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from connector.catalog import CATALOG, InvalidInput, Problem, steps
from connector.catalog.responses import ApiModel, BatchCreated, BatchStatus, Job
from connector.catalog.spec import NormalizedState, Operation
from connector.client._base import Prepared, prepare
from connector.client.ledger import Ledger, LedgerEntry, LedgerError

log = logging.getLogger("connector.client")

RECORD_KEY = steps.RECORD_KEY.key
LEDGER = steps.LEDGER
#: The creates a record key is for: the paid ones.
PAID = frozenset(op.key for op in steps.capped(CATALOG.operations.values()))
NEEDS_LEDGER = (
    "needs a ledger to keep it: pass ledger=FileLedger(path) or "
    "ledger=RelayLedger(relay_url, api_key) to the client"
)


def _problem(op: Operation, value: Any, message: str) -> InvalidInput:
    return InvalidInput(op, [Problem(RECORD_KEY, value, message)])


def checked_key(op: Operation, value: Any) -> str | None:
    """`record_key` as given, checked: None, or a key the ledger takes
    (`steps.LEDGER.key_rule`), on a paid create."""
    if value is None:
        return None
    if op.key not in PAID:
        raise _problem(op, value, f"is for paid creates only; {op.key} is not one")
    if not LEDGER.allows_key(value):
        raise _problem(op, value, f"{value!r} is not allowed; expected {LEDGER.key_rule}")
    return value


@dataclass(frozen=True)
class Keyed:
    """One paid create with a record key, and the ledger that keeps it."""

    op: Operation
    key: str
    ledger: Ledger

    def held(self) -> AbstractContextManager[None]:
        """The ledger's hold on this key for the whole flow, when it offers one
        (`FileLedger.hold`); else nothing is held."""
        hold = getattr(self.ledger, "hold", None)
        if callable(hold):
            held: AbstractContextManager[None] = hold(self.op.key, self.key)
            return held
        return contextlib.nullcontext()

    def lookup(self) -> LedgerEntry | None:
        return self.ledger.get(self.op.key, self.key)

    def answer(self, entry: LedgerEntry) -> ApiModel:
        """The kept answer of a synchronous create, as the create's own model."""
        model = CATALOG.response_model(self.op.key)
        try:
            return model.model_validate(entry.result)
        except ValueError as exc:
            raise LedgerError(
                f"{self.op.label}: the ledger's answer for record key {self.key!r} is not a "
                f"{model.__name__} ({exc.__class__.__name__}); forget the key to start again"
            ) from None

    def status_call(self, base_url: str, job_id: str) -> Prepared:
        status = CATALOG.operation(self.op.status_operation or "")
        return prepare(base_url, status.key, {status.path_params[0].name: job_id})

    def reusable(self, current: ApiModel) -> ApiModel | None:
        """The fetched job as this create answers, or None when it failed (a new one may
        start). A batch is reused unless every video in it failed."""
        if isinstance(current, BatchStatus):
            if current.total_jobs and current.failed >= current.total_jobs:
                return None
            return BatchCreated(
                batch_id=current.batch_id, total_jobs=current.total_jobs, jobs=current.jobs
            )
        if isinstance(current, Job):
            if current.state in (NormalizedState.FAILED, NormalizedState.CANCELED):
                return None
            return current
        return None  # pragma: no cover - the catalog's status answers are jobs or batches

    def keep(self, created: ApiModel) -> None:
        """Put what the create started in the ledger. When that fails the job exists all the
        same: `LedgerError.created` carries it, and the message names it."""
        job_id = _job_id(created)
        try:
            if job_id is not None:
                self.ledger.put(self.op.key, self.key, job_id=job_id)
                return
            result = created.model_dump(mode="json")
            size = LEDGER.result_bytes(result)
            if size > LEDGER.max_result_bytes:
                log.warning(
                    "%s: the answer for record key %r is %d bytes, over the ledger's %d; "
                    "it is not kept, so the key starts a new call next time",
                    self.op.label,
                    self.key,
                    size,
                    LEDGER.max_result_bytes,
                )
                return
            self.ledger.put(self.op.key, self.key, result=result)
        except LedgerError as exc:
            started = f"job {job_id}" if job_id else "the call"
            raise LedgerError(
                f"{self.op.label}: {started} was started and paid, but the ledger did not keep "
                f"record key {self.key!r}: {exc}. The answer is in `.created`",
                created=created,
            ) from exc


def _job_id(created: ApiModel) -> str | None:
    if isinstance(created, BatchCreated):
        return created.batch_id
    if isinstance(created, Job):
        return created.id
    return None


def keyed(op: Operation, value: Any, ledger: Ledger | None) -> Keyed | None:
    """The record key of this create, checked, with the client's ledger."""
    key = checked_key(op, value)
    if key is None:
        return None
    if ledger is None:
        raise _problem(op, value, NEEDS_LEDGER)
    return Keyed(op, key, ledger)


def not_for_many(op: Operation, value: Any) -> None:
    """`generate_videos` starts several batches: one record key cannot name them."""
    if value is not None:
        raise _problem(
            op,
            value,
            "is for one create; generate_videos starts several batches, so give each "
            "batches.create call its own record key",
        )
