"""From the shared case table's inputs (wire names) to what a Make user maps into a module.

Make parameters carry the wire names, so most values pass as they are; a file becomes
Make's upload pair (`fileName`, `data`), and a module that can wait is told not to, so it
sends exactly the one request the table describes; a list is given a limit above any
page the table holds.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import operation_table

from connector.catalog import CATALOG, FieldType, JobKind, Operation, OperationKind
from connector.catalog.contract import Output, OutputField
from connector.platforms.make import modules, params
from connector.platforms.make.model import module_id

#: The written cases, and one from the catalog's examples for each operation they lack.
CASES: list[dict[str, Any]] = operation_table.cases()


def make_cases() -> list[dict[str, Any]]:
    mine = {op.key for op in CATALOG.for_platform("make")}
    return [c for c in CASES if c["operation"] in mine]


def module_of(op: Operation) -> str:
    return module_id(op.label)


def make_parameters(
    op: Operation, wire_input: dict[str, Any], *, wait: bool = False
) -> dict[str, Any]:
    files = {u.field.name for u in op.fields if u.field.type is FieldType.FILE}
    out: dict[str, Any] = {}
    for name, value in wire_input.items():
        if name in files:
            out[name] = {
                params.FILE_NAME: value["filename"],
                params.FILE_DATA: base64.b64decode(value["base64"]),
            }
        else:
            out[name] = value
    if modules.wait_plan(CATALOG, op) is not None:
        out[modules.WAIT_PARAM] = wait
    if op.kind is OperationKind.LIST:
        out.setdefault(modules.LIMIT_PARAM, 100)
    return out


def expected_output(
    fields: Sequence[OutputField], job: JobKind | None, raw: Mapping[str, Any]
) -> dict[str, Any]:
    """What a Make module outputs for a raw API answer under the catalog's contract: the
    contract's keys the answer has (IML leaves out the rest), `status` and `state` as
    `Output.shape` gives them, lists and objects as the API sent them."""
    shaped = Output(fields=tuple(fields), sample={}, job=job).shape(raw)
    keys = {f.key for f in fields}
    out: dict[str, Any] = {}
    for f in fields:
        if f.key == "state" or (f.key == "status" and "state" in keys):
            if shaped[f.key] is not None:
                out[f.key] = shaped[f.key]
        elif f.key in raw:
            out[f.key] = raw[f.key]
    return out
