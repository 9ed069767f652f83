"""Following a job to its end: which status call to poll, how often, and when to stop.

The catalog says which GET follows each kind of job and at what cadence; this module
turns a typed job (video, shared-status job, batch) into that plan. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.catalog import CATALOG, limits
from connector.catalog.responses import ApiModel, BatchCreated, BatchStatus, Job
from connector.catalog.spec import NormalizedState, Operation, OperationKind
from connector.catalog.states import UnknownStatus
from connector.client.errors import JobFailedError


def _status_operations() -> dict[type[ApiModel], Operation]:
    """Response model → the GET that follows it (video.get for VideoJob, ...)."""
    found: dict[type[ApiModel], Operation] = {}
    for op in CATALOG.operations.values():
        if op.kind is OperationKind.GET and op.job is not None:
            found.setdefault(CATALOG.response_model(op.key), op)
    for op in CATALOG.operations.values():
        if op.status_operation:
            found.setdefault(CATALOG.response_model(op.key), CATALOG.operation(op.status_operation))
    return found


STATUS_OPERATIONS = _status_operations()


@dataclass(frozen=True, slots=True)
class Plan:
    """How to follow one job: the GET to call with which id, and how often."""

    status_op: Operation
    job_id: str
    interval: float
    timeout: float

    @property
    def fields(self) -> dict[str, str]:
        return {self.status_op.path_params[0].name: self.job_id}


def plan(job: ApiModel, interval: float | None, timeout: float | None) -> Plan:
    status_op = STATUS_OPERATIONS.get(type(job))
    if status_op is None or status_op.job is None or not status_op.path_params:
        followable = ", ".join(sorted(t.__name__ for t in STATUS_OPERATIONS))
        raise TypeError(f"cannot wait for a {type(job).__name__}; waitable: {followable}")
    job_id = getattr(job, status_op.path_params[0].name)
    cadence = limits.POLL_CADENCE[status_op.job]
    every = cadence.interval if interval is None else interval
    limit = cadence.timeout if timeout is None else timeout
    if every < 0 or limit < 0:
        raise ValueError(f"interval and timeout must not be negative (got {every}, {limit})")
    return Plan(status_op=status_op, job_id=str(job_id), interval=every, timeout=limit)


def state_of(job: ApiModel) -> NormalizedState | None:
    """The normalized state, or None when unknown (a just-created batch, a new spelling)."""
    if isinstance(job, BatchCreated):
        return None
    if isinstance(job, Job | BatchStatus):
        try:
            return job.state
        except UnknownStatus:
            return None
    return None


def finished(job: ApiModel, *, raise_on_failure: bool, operation: str) -> bool:
    """True when `job` is terminal; raises `JobFailedError` for a failure if asked to."""
    state = state_of(job)
    if state is None or not state.terminal:
        return False
    if raise_on_failure and state is not NormalizedState.COMPLETED and isinstance(job, Job):
        raise JobFailedError(job, operation=operation)
    return True
