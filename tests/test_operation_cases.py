"""The shared case table (tests/cases/operations.json) against the catalog itself.

Every platform package checks its requests against the same table; this test keeps the
table honest: each case is valid input for its operation and the catalog turns it into
exactly the request the table expects.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from connector.catalog import CATALOG, Upload

CASES = json.loads((Path(__file__).parent / "cases" / "operations.json").read_text())["cases"]


def expected_request(op_key: str, data: dict[str, Any]) -> dict[str, Any]:
    op = CATALOG.operation(op_key)
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
    body = CATALOG.validate(op_key, data).to_wire()
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


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_the_catalog(case: dict[str, Any]) -> None:
    assert expected_request(case["operation"], dict(case["input"])) == case["request"]


def test_every_platform_operation_has_a_case() -> None:
    covered = {c["operation"] for c in CASES}
    for platform in ("n8n", "make", "zapier"):
        missing = {op.key for op in CATALOG.for_platform(platform)} - covered
        assert not missing, f"{platform}: no case for {sorted(missing)}"
