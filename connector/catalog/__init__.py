"""The CreativeAI API, described once.

    from connector.catalog import CATALOG
    op = CATALOG.operation("video.create_from_text")
    body = CATALOG.validate("voice.create", {"text": "Hello"}).to_wire()

Fields live in `fields`, operations in `operations`, webhook events in `events`,
error codes in `errors`, statuses in `states`, documented numbers in `limits`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from connector.catalog import errors, events, fields, limits, operations, responses, states
from connector.catalog.requests import (
    InvalidInput,
    Problem,
    RequestModel,
    Upload,
    build_request_model,
    explain,
)
from connector.catalog.spec import (
    ErrorCode,
    Event,
    Field,
    FieldType,
    FieldUse,
    JobKind,
    NormalizedState,
    Operation,
    OperationKind,
    Option,
    Platform,
)


class Catalog:
    """Operations with their fields attached, plus lookups every consumer shares."""

    def __init__(self, ops: tuple[Operation, ...], all_fields: tuple[Field, ...]) -> None:
        known = {op.key for op in ops}
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
                FieldUse(field=f, required=op.key in f.required_in)
                for f in all_fields
                if op.key in f.operations
            )
            self.operations[op.key] = op.model_copy(update={"fields": uses})
        self.events = {e.name: e for e in events.ALL}
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
    "ErrorCode",
    "Event",
    "Field",
    "FieldType",
    "FieldUse",
    "InvalidInput",
    "JobKind",
    "NormalizedState",
    "Operation",
    "OperationKind",
    "Option",
    "Platform",
    "Problem",
    "RequestModel",
    "Upload",
    "errors",
    "events",
    "fields",
    "limits",
    "responses",
    "states",
]
