"""The CreativeAI API, described once.

    from connector.catalog import CATALOG
    op = CATALOG.operation("video.create_from_text")
    body = CATALOG.validate("voice.create", {"text": "Hello"}).to_wire()

Resources live in `resources`, fields in `fields`, operations in `operations`, webhook
events in `events`, builder-facing text helpers in `text`, output contracts in `contract`,
error codes in `errors`, statuses in `states`, documented numbers in `limits` (with each
platform's file limits), the step options every paid create gets in `steps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from connector.catalog import (
    contract,
    errors,
    events,
    fields,
    limits,
    operations,
    resources,
    responses,
    states,
    steps,
    text,
)
from connector.catalog.requests import (
    InvalidInput,
    Problem,
    RequestModel,
    Upload,
    build_request_model,
    explain,
)
from connector.catalog.spec import (
    Duration,
    ErrorCode,
    Event,
    Field,
    FieldText,
    FieldType,
    FieldUse,
    JobKind,
    ModelSource,
    NormalizedState,
    Operation,
    OperationKind,
    Option,
    Platform,
    Resource,
)


class Catalog:
    """Operations with their fields attached, plus lookups every consumer shares."""

    def __init__(
        self,
        ops: tuple[Operation, ...],
        all_fields: tuple[Field, ...],
        all_events: tuple[Event, ...] = events.ALL,
        all_resources: tuple[Resource, ...] = resources.ALL,
    ) -> None:
        known = {op.key for op in ops}
        self.resources: dict[str, Resource] = {r.key: r for r in all_resources}
        for op in ops:
            if op.resource not in self.resources:
                raise ValueError(f"operation {op.key!r} names unknown resource {op.resource!r}")
            if op.events:
                raise ValueError(f"{op.key!r}: declare its events on the events (Event.operations)")
        for e in all_events:
            unknown = set(e.operations) - known
            if unknown:
                raise ValueError(f"event {e.name!r} names unknown operations {sorted(unknown)}")
        for f in all_fields:
            unknown = set(f.operations) - known
            if unknown:
                raise ValueError(f"field {f.key!r} names unknown operations {sorted(unknown)}")
        keys = [f.key for f in all_fields]
        if len(keys) != len(set(keys)):
            raise ValueError("field keys must be unique")
        self.fields = all_fields
        self.operations: dict[str, Operation] = {}
        for op in ops:
            uses = tuple(
                FieldUse(field=f, required=op.key in f.required_in, own=op.field_text.get(f.key))
                for f in all_fields
                if op.key in f.operations
            )
            stray = set(op.field_text) - {u.field.key for u in uses}
            if stray:
                raise ValueError(f"{op.key!r} has field_text for fields it does not take: {stray}")
            ends = tuple(e.name for e in all_events if op.key in e.operations)
            if not ends and any(u.field.name == "webhook_url" for u in uses):
                raise ValueError(
                    f"{op.key!r} takes a webhook_url but no event names it: "
                    "declare its events (Event.operations) in events.py"
                )
            self.operations[op.key] = op.model_copy(update={"fields": uses, "events": ends})
        for op in list(self.operations.values()):
            if "{jobs}" in op.description and op.job is not None:
                listed = text.join_words(self.job_nouns(op.job), "or")
                described = op.description.replace("{jobs}", listed)
                self.operations[op.key] = op.model_copy(update={"description": described})
        self.events = {e.name: e for e in all_events}
        self.errors = errors.BY_CODE
        self._models: dict[str, type[RequestModel]] = {}

    def operation(self, key: str) -> Operation:
        try:
            return self.operations[key]
        except KeyError:
            raise KeyError(
                f"unknown operation {key!r}; known: {', '.join(self.operations)}"
            ) from None

    def for_platform(self, platform: Platform) -> list[Operation]:
        return [op for op in self.operations.values() if platform in op.platforms]

    def resource(self, op_key: str) -> Resource:
        """The resource an operation acts on (its label and noun for every platform)."""
        return self.resources[self.operation(op_key).resource]

    def visible_fields(self, op_key: str, platform: Platform) -> tuple[FieldUse, ...]:
        """The fields a builder fills in for `op_key` on `platform` (shown there, not fixed)."""
        return self.operation(op_key).visible_fields(platform)

    def events_for(self, op_key: str) -> tuple[Event, ...]:
        """The webhook events a job of `op_key` can end with (from `Event.operations`)."""
        return tuple(self.events[name] for name in self.operation(op_key).events)

    def output(self, op_key: str) -> contract.Output:
        """What `op_key` outputs: fields and a sample (see `contract`)."""
        return contract.output(self.operation(op_key))

    def event_output(self, event_name: str) -> contract.Output:
        """What the webhook trigger for `event_name` outputs (see `contract`)."""
        return contract.event_output(event_name)

    def job_nouns(self, job: JobKind) -> list[str]:
        """The nouns of the resources whose jobs a status endpoint follows, in catalog order."""
        found: list[str] = []
        for op in self.operations.values():
            noun = self.resources[op.resource].noun
            if op.is_async and op.job is job and op.platforms and noun not in found:
                found.append(noun)
        return found

    def request_model(self, key: str) -> type[RequestModel]:
        if key not in self._models:
            self._models[key] = build_request_model(self.operation(key))
        return self._models[key]

    def validate(self, key: str, data: Mapping[str, Any]) -> RequestModel:
        """Check input against the operation; raise `InvalidInput` naming every problem."""
        model = self.request_model(key)
        try:
            return model.model_validate(dict(data))
        except ValidationError as exc:
            raise explain(self.operation(key), exc, data) from None

    def response_model(self, key: str) -> type[responses.ApiModel]:
        return responses.RESPONSES[self.operation(key).response]

    @cached_property
    def event_names(self) -> tuple[str, ...]:
        return tuple(self.events)


CATALOG = Catalog(operations.ALL, fields.ALL)

__all__ = [
    "CATALOG",
    "Catalog",
    "Duration",
    "ErrorCode",
    "Event",
    "Field",
    "FieldText",
    "FieldType",
    "FieldUse",
    "InvalidInput",
    "JobKind",
    "ModelSource",
    "NormalizedState",
    "Operation",
    "OperationKind",
    "Option",
    "Platform",
    "Problem",
    "RequestModel",
    "Resource",
    "Upload",
    "contract",
    "errors",
    "events",
    "fields",
    "limits",
    "resources",
    "responses",
    "states",
    "steps",
    "text",
]
