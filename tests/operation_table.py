"""The shared case table (tests/cases/operations.json), completed from the catalog.

The written cases are the independent check: each was written by hand from the API docs.
An operation no written case covers still gets one case, made from the catalog's own
examples (each required field's example, the first field of each exactly-one-of group), so
a new operation is exercised by every suite that reads the table without a test edit.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from connector.catalog import CATALOG, Catalog, Field, FieldType, Operation, Upload

TABLE = Path(__file__).parent / "cases" / "operations.json"
WRITTEN: list[dict[str, Any]] = json.loads(TABLE.read_text())["cases"]

#: The smallest PNG (1x1, transparent): the example upload of a file field.
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
FROM_CATALOG = "(catalog example)"


def _example(f: Field) -> Any:
    if f.type is FieldType.FILE:
        return {
            "filename": "example.png",
            "content_type": "image/png",
            "base64": base64.b64encode(_PNG).decode(),
        }
    for value in (f.example, f.default, *f.option_values[:1]):
        if value is not None:
            return value
    if f.type is FieldType.BOOLEAN:
        return True
    raise ValueError(f"{f.key}: no example, default or option to build a case from")


def example_input(op: Operation) -> dict[str, Any]:
    """A builder's input for `op` (wire names) from the catalog's examples."""
    chosen = {
        next((name for name in group if op.field(name).field.example is not None), group[0])
        for group in op.one_of
    }
    out = {p.name: _example(p) for p in op.path_params}
    for use in op.fields:
        if use.field.fixed is None and (use.required or use.field.name in chosen):
            out[use.field.name] = _example(use.field)
    return out


def expected_request(
    op_key: str, data: dict[str, Any], catalog: Catalog = CATALOG
) -> dict[str, Any]:
    """The request the catalog makes of `data`, in the table's terms."""
    data = dict(data)
    op = catalog.operation(op_key)
    path = op.path
    for param in op.path_params:
        path = path.replace("{" + param.name + "}", str(data.pop(param.name)))
    request: dict[str, Any] = {"method": op.method, "path": path}
    if op.body == "none":
        return request
    for use in op.fields:
        value = data.get(use.field.name)
        if isinstance(value, dict) and "base64" in value:
            data[use.field.name] = Upload(
                filename=value["filename"],
                content=base64.b64decode(value["base64"]),
                content_type=value["content_type"],
            )
    body = catalog.validate(op_key, data).to_wire()
    if op.body == "json":
        request["json"] = body
        return request
    files = {
        name: {
            "filename": up.filename,
            "content_type": up.content_type,
            "base64": base64.b64encode(up.content).decode(),
        }
        for name, up in body.items()
        if isinstance(up, Upload)
    }
    fields = {k: v for k, v in body.items() if not isinstance(v, Upload)}
    request["multipart"] = {"fields": fields, "files": files}
    return request


def derived_case(op: Operation, catalog: Catalog = CATALOG) -> dict[str, Any]:
    given = example_input(op)
    return {
        "name": f"{op.label} {FROM_CATALOG}",
        "operation": op.key,
        "input": given,
        "request": expected_request(op.key, given, catalog),
    }


def cases(catalog: Catalog = CATALOG) -> list[dict[str, Any]]:
    """The written cases, then one from the catalog for each shown operation they lack."""
    covered = {c["operation"] for c in WRITTEN}
    return [
        *WRITTEN,
        *(
            derived_case(op, catalog)
            for op in catalog.operations.values()
            if op.platforms and op.key not in covered
        ),
    ]
