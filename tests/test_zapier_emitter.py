"""The Zapier emitter: what it makes of the catalog, checked without Node.

The app is checked whole by Zapier's own tools in test_zapier_package.py; these tests
pin the mapping itself (every Zapier operation has its action, every field its input with
the catalog's type, choices, default, help and required flag) and the emitter's rules.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from connector.catalog import CATALOG, Field, FieldType, OperationKind, fields
from connector.platforms import GENERATED_NOTICE, zapier
from connector.platforms.zapier import inputs, js, outputs
from connector.platforms.zapier.app import AppBuilder, zapier_key

FILES = {path: content.decode() for path, content in zapier.emit(CATALOG).items()}
ZAPIER_OPS = CATALOG.for_platform("zapier")


def test_emit_is_deterministic() -> None:
    assert zapier.emit(CATALOG) == zapier.emit(CATALOG)


def test_every_generated_file_says_so_on_line_one() -> None:
    for path, text in FILES.items():
        first = text.splitlines()[0]
        if path == "package.json":
            assert json.loads(text)["//"] == GENERATED_NOTICE
        else:
            assert GENERATED_NOTICE in first, path


def test_package_pins_core_exactly_and_is_commonjs() -> None:
    package = json.loads(FILES["package.json"])
    assert package["main"] == "index.js"
    assert "type" not in package  # CommonJS
    assert package["dependencies"]["zapier-platform-core"] == zapier.CORE_VERSION
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in package["dependencies"].values())
    assert "node --test" in package["scripts"]["test"]


def test_one_file_per_create_search_and_trigger() -> None:
    creates = {p for p in FILES if p.startswith("creates/")}
    expected = {
        f"creates/{zapier_key(op.key)}.js"
        for op in ZAPIER_OPS
        if op.kind in (OperationKind.CREATE, OperationKind.CALCULATE)
    }
    assert creates == expected
    assert {p for p in FILES if p.startswith("searches/")} == {"searches/find_generation.js"}
    index = FILES["index.js"]
    for path in FILES:
        if path.startswith(("creates/", "searches/", "triggers/")):
            assert f"require('./{path[:-3]}')" in index, path


def test_every_zapier_operation_is_reachable() -> None:
    """Creates and calculations are actions, status reads the search, the list a trigger."""
    search = FILES["searches/find_generation.js"]
    models = FILES["lib/api.js"]
    for op in ZAPIER_OPS:
        if op.kind is OperationKind.GET:
            assert f"path: '{op.path}'" in models, op.key
            assert f"value: '{op.job.value if op.job else ''}'" in search
        elif op.kind is OperationKind.LIST:
            assert f"modelsPath: '{op.path}'" in models
        else:
            source = FILES[f"creates/{zapier_key(op.key)}.js"]
            assert f"path: '{op.path}'" in source
            assert f"method: '{op.method}'" in source


@pytest.mark.parametrize("op", ZAPIER_OPS, ids=[op.key for op in ZAPIER_OPS])
def test_inputs_follow_the_catalog(op: Any) -> None:
    mapped = inputs.map_operation(op)
    by_key = {f["key"]: f for f in mapped.input_fields}
    for use in op.fields:
        f = use.field
        if f.fixed is not None or "zapier" not in f.platforms:
            assert f.name not in by_key
            continue
        if f.type is FieldType.OBJECT:
            for child in f.children:
                check_input(by_key[child.key], child, required=False)
            continue
        check_input(by_key[f.name], f, required=use.required)


def check_input(field: dict[str, Any], f: Field, *, required: bool) -> None:
    assert field["label"].startswith(f.label)
    assert field["required"] is required
    if f.type is FieldType.OBJECT_LIST:
        assert [c["key"] for c in field["children"]] == [c.name for c in f.children]
        assert "type" not in field and "helpText" not in field  # exclusive with children
        return
    assert field["helpText"].startswith(f.help)
    expected_type = {
        FieldType.TEXT: "text",
        FieldType.INTEGER: "integer",
        FieldType.NUMBER: "number",
        FieldType.BOOLEAN: "boolean",
        FieldType.FILE: "file",
    }.get(f.type, "string")
    if f.type is not FieldType.STRING_LIST:
        assert field["type"] == expected_type
    else:
        assert field["list"] is True
    if f.default is not None:
        default = str(f.default).lower() if isinstance(f.default, bool) else str(f.default)
        assert field["default"] == default
    if f.type is FieldType.ENUM and f.options_source:
        trigger = inputs.models_trigger_key(f.options_source)
        assert field["dynamic"] == f"{trigger}.id.id"
        assert "choices" not in field
        assert all(f"`{v}`" in field["helpText"] for v in f.option_values)
    elif f.type is FieldType.ENUM:
        assert [c["value"] for c in field["choices"]] == list(f.option_values)
        assert all(c["sample"] == c["value"] for c in field["choices"])
    if f.maximum is not None:
        assert f.allowed() in field["helpText"].lower()
    assert ("group" in field) is f.advanced


def test_batch_prompts_are_line_items() -> None:
    mapped = inputs.map_operation(CATALOG.operation("batch.create"))
    [prompts] = [f for f in mapped.input_fields if f["key"] == "prompts"]
    assert prompts["required"] is True
    assert prompts["label"].endswith("(up to 20)")
    child = {c["key"]: c for c in prompts["children"]}
    assert child["prompt"]["required"] is True and child["prompt"]["type"] == "text"
    assert child["image_url"]["required"] is False


def test_models_come_from_hidden_triggers_on_the_model_list() -> None:
    for key in ("video_models", "image_models", "image_edit_models", "models"):
        source = FILES[f"triggers/{key}.js"]
        assert "hidden: true" in source
        assert "listModels" in source
    assert "listModels(z, bundle, 'video')" in FILES["triggers/video_models.js"]
    assert "listModels(z, bundle, null)" in FILES["triggers/models.js"]


def test_long_creates_offer_waiting_and_short_ones_do_not() -> None:
    for op in ZAPIER_OPS:
        if op.kind not in (OperationKind.CREATE, OperationKind.CALCULATE):
            continue
        source = FILES[f"creates/{zapier_key(op.key)}.js"]
        assert ("key: 'wait_for_result'" in source) is op.is_async, op.key
        assert ("performResume" in source) is op.is_async, op.key
        if op.is_async:
            assert f"webhookField: '{fields.WEBHOOK_URL.name}'" in source


def test_samples_are_the_finished_job_with_its_file() -> None:
    batch = CATALOG.operation("batch.create")
    status = CATALOG.operation("batch.get")
    paths = outputs.file_paths(outputs.operation_models(batch, status))
    assert paths == ["jobs[].output_url"]
    sample = outputs.with_files(outputs.finished_sample(batch, status), paths)
    assert sample["completed"] == status.sample_response["completed"]
    assert all(job["file"] == job["output_url"] for job in sample["jobs"])
    keys = {f["key"]: f for f in outputs.output_fields(sample)}
    assert keys["jobs[]file"]["type"] == "file"
    assert keys["jobs[]output_url"]["label"] == "Jobs Output URL"
    # A create whose sample is already finished keeps it as the catalog wrote it.
    compose = CATALOG.operation("compose.create")
    assert outputs.finished_sample(compose, CATALOG.operation("job.get")) == dict(
        compose.sample_response
    )


def test_image_results_get_a_file_per_image() -> None:
    op = CATALOG.operation("image.generate")
    assert outputs.file_paths(outputs.operation_models(op, None)) == ["data[].url"]


def test_triggers_cover_every_completion_event_of_a_zapier_create() -> None:
    builder = AppBuilder(CATALOG)
    events = {e.name for e in builder._zapier_events()}
    creates = {op.key for op in ZAPIER_OPS if op.is_async}
    assert events == {e.name for e in CATALOG.events.values() if set(e.operations) & creates}
    completed = FILES["triggers/generation_completed.js"]
    failed = FILES["triggers/generation_failed.js"]
    for event in CATALOG.events.values():
        if event.name not in events:
            continue
        target = completed if event.state.value == "completed" else failed
        assert f"'{event.name}'" in target
        if event.state.value == "completed":
            assert f"triggers/{zapier_key(event.name)}.js" in FILES


def test_api_facts_come_from_the_catalog() -> None:
    facts = FILES["lib/api.js"]
    from connector.catalog import limits

    for value in (
        limits.DEFAULT_BASE_URL,
        limits.EVENT_HEADER,
        limits.RETRY_AFTER_HEADER,
        limits.RETRY_AFTER_MS_HEADER,
        limits.AUTH_HEADER,
    ):
        assert f"'{value}'" in facts
    for code in CATALOG.errors:
        assert f"{code}: {{" in facts


def test_runtime_states_no_api_fact() -> None:
    """The runtime copies in lib/ read paths, headers and names from lib/api.js."""
    for name in ("operations", "http", "hooks", "search", "models", "input", "files", "auth"):
        source = FILES[f"lib/{name}.js"]
        for op in CATALOG.operations.values():
            assert op.path not in source, (name, op.path)
        for event in CATALOG.events:
            assert event not in source, (name, event)
        assert "X-CreativeAI" not in source and "creativeai.run" not in source


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1, "b-c": "it's"}, "{ a: 1, 'b-c': \"it's\" }"),
        ('say "hi"', "'say \"hi\"'"),
        ([True, None, 1.5, 2.0], "[true, null, 1.5, 2]"),
        ({"sample": js.Code("sample")}, "{ sample }"),
        ("line\nbreak", "'line\\nbreak'"),
    ],
)
def test_js_literals(value: Any, expected: str) -> None:
    assert js.literal(value) == expected


def test_js_breaks_long_objects_one_entry_per_line() -> None:
    text = js.literal({"key": "x" * 60, "other": [1, 2, 3]})
    assert text == "{\n  key: '" + "x" * 60 + "',\n  other: [1, 2, 3],\n}"
