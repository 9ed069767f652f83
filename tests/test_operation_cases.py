"""The shared case table (tests/cases/operations.json) against the catalog itself.

Every platform package checks its requests against the same table; this test keeps the
table honest: each case is valid input for its operation and the catalog turns it into
exactly the request the table expects. An operation without a written case gets one
from the catalog's examples (`operation_table`), so every suite reading the table
exercises it.
"""

from __future__ import annotations

from typing import Any

import operation_table
import pytest
from operation_table import expected_request

from connector.catalog import CATALOG, Catalog, Duration, Field, FieldType, JobKind, Operation
from connector.catalog import fields as catalog_fields
from connector.catalog import operations as catalog_operations
from connector.catalog.spec import OperationKind

CASES = operation_table.cases()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_the_catalog(case: dict[str, Any]) -> None:
    assert expected_request(case["operation"], dict(case["input"])) == case["request"]


def test_every_platform_operation_has_a_case() -> None:
    covered = {c["operation"] for c in CASES}
    for platform in ("n8n", "make", "zapier"):
        missing = {op.key for op in CATALOG.for_platform(platform)} - covered
        assert not missing, f"{platform}: no case for {sorted(missing)}"


#: A scratch operation on the shared status endpoint, as a new one would be written.
_SCRATCH_FIELD = Field(
    key="scratch_image_url",
    name="image_url",
    type=FieldType.URL,
    label="Image URL",
    help="The image to work on.",
    example="https://example.com/a.png",
    operations=("image.scratch",),
    required_in=("image.scratch",),
)
_SCRATCH_OP = Operation(
    key="image.scratch",
    resource="image",
    action="scratch",
    label="Scratch Image Job",
    description="Start a scratch image job.",
    method="POST",
    path="/api/generate/scratch",
    kind=OperationKind.CREATE,
    response="SharedJob",
    job=JobKind.SHARED,
    status_operation="job.get",
    duration=Duration(typical_s=5, longest_s=600),
)


def test_a_new_operation_gets_a_case_from_the_catalog_without_a_table_edit() -> None:
    catalog = Catalog((*catalog_operations.ALL, _SCRATCH_OP), (*catalog_fields.ALL, _SCRATCH_FIELD))
    [case] = [c for c in operation_table.cases(catalog) if c["operation"] == "image.scratch"]
    assert case["input"] == {"image_url": "https://example.com/a.png"}
    assert case["request"] == {
        "method": "POST",
        "path": "/api/generate/scratch",
        "json": {"image_url": "https://example.com/a.png"},
    }
