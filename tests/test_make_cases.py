"""Every case of tests/cases/operations.json for Make's modules: the module, run by the
test-side runtime with the case's input, sends exactly the table's request to a real local
server, and outputs the answer through its `response` mapping."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from make_iml.appfiles import LocalApp
from make_iml.capture import CaptureServer, capture_server
from make_iml.inputs import expected_output, make_cases, make_parameters, module_of
from make_iml.runtime import Runtime

from connector.catalog import CATALOG, OperationKind, fields, limits

IMAGE = next(
    f for f in CATALOG.fields if f.options_source is not None and f.options_source.kind == "image"
)

APP = LocalApp.load(Path(__file__).resolve().parents[1] / "make-app")
KEY = "sk-make-cases-0123456789"
CASES = make_cases()


@pytest.fixture(scope="module")
def server() -> Iterator[CaptureServer]:
    with capture_server() as running:
        yield running


@pytest.fixture(scope="module")
def connected(server: CaptureServer) -> tuple[Runtime, dict[str, Any]]:
    make = Runtime(APP, routes={limits.DEFAULT_BASE_URL: server.url})
    server.answer = (200, dict(CATALOG.operation("model.list").sample_response))
    connection = make.connect({"apiKey": KEY})
    [check] = server.requests
    assert (check.method, check.path) == ("GET", CATALOG.operation("model.list").path)
    return make, connection


def test_the_table_covers_every_make_operation() -> None:
    assert {c["operation"] for c in CASES} == {op.key for op in CATALOG.for_platform("make")}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_module_sends_the_tables_request(
    case: dict[str, Any], server: CaptureServer, connected: tuple[Runtime, dict[str, Any]]
) -> None:
    make, connection = connected
    op = CATALOG.operation(case["operation"])
    server.requests.clear()
    server.answer = (202 if op.is_async else 200, dict(op.sample_response))

    bundles = make.run_module(module_of(op), make_parameters(op, case["input"]), connection)

    [sent] = server.requests
    expected = case["request"]
    assert (sent.method, sent.path) == (expected["method"], expected["path"])
    assert sent.headers[limits.AUTH_HEADER] == f"{limits.AUTH_SCHEME} {KEY}"
    if "json" in expected:
        assert sent.json == expected["json"]
    elif "multipart" in expected:
        assert sent.form == expected["multipart"]["fields"]
        files = {
            name: {
                "filename": f[0],
                "content_type": f[1],
                "base64": base64.b64encode(f[2]).decode(),
            }
            for name, f in sent.files.items()
        }
        assert files == expected["multipart"]["files"]
    else:
        assert sent.json is None and not sent.form and not sent.files

    contract = CATALOG.output(op.key)
    if op.kind is OperationKind.LIST:
        items = contract.field("data").children
        raw_items = op.sample_response["data"]
        assert bundles == [expected_output(items, contract.job, i) for i in raw_items]
    else:
        assert bundles == [expected_output(contract.fields, contract.job, op.sample_response)]
    assert KEY not in repr(make.log), "log.sanitize keeps the key out of Make's log"


def test_model_selects_fall_back_to_the_known_models_when_items_carry_no_type(
    server: CaptureServer, connected: tuple[Runtime, dict[str, Any]]
) -> None:
    """The API's docs promise no `type` on a model: then a select offers the catalog's known
    models of its kind that the API lists (`ModelSource.choices`)."""
    make, connection = connected
    listed = [{"id": i, "object": "model"} for i in ("kling-v3", "gpt-image-1", "unknown-x")]
    server.answer = (200, {"object": "list", "data": listed})
    for rpc_id, f in (("listVideoModels", fields.VIDEO_MODEL), ("listImageModels", IMAGE)):
        options = [o["value"] for o in make.run_rpc(rpc_id, connection)]
        expected = [i["id"] for i in listed if i["id"] in f.model_choices(listed)]
        assert options == expected and options, rpc_id
    typed = [{**listed[0], "type": "image"}, {**listed[1], "type": "image"}]
    server.answer = (200, {"object": "list", "data": typed})
    assert [o["value"] for o in make.run_rpc("listImageModels", connection)] == [
        "kling-v3",
        "gpt-image-1",
    ]
