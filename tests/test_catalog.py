"""The catalog against the API reference: every documented range and enum once, and the
request models, errors, states and events that the rest of the suite relies on."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.catalog import (
    CATALOG,
    Field,
    FieldType,
    InvalidInput,
    NormalizedState,
    errors,
    limits,
    states,
)
from connector.catalog import events as catalog_events
from connector.catalog import fields as catalog_fields
from connector.catalog.spec import JobKind, OperationKind

API_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "api-reference.md"


def _reference_table() -> list[str]:
    if not API_REFERENCE.exists():
        pytest.skip(f"{API_REFERENCE} is absent: run the suite in a checkout beside shared/")
    text = API_REFERENCE.read_text()
    table = text.split("## Endpoints the connector must cover", 1)[1].split("\n## ", 1)[0]
    return [line for line in table.splitlines() if line.startswith("| ") and "`" in line]


def _request_cells() -> Iterator[str]:
    for row in _reference_table():
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        if not cells[0].startswith("Native"):  # out of the first scope, says the reference
            yield cells[2]  # "Key request fields (range, default)"


def documented_ranges() -> list[tuple[str, float, float]]:
    found = []
    for cell in _request_cells():
        for name, low, high in re.findall(r"`(\w+)`:? ([\d.,]+)–([\d.,]+)", cell):
            found.append((name, float(low.replace(",", "")), float(high.replace(",", ""))))
        for name, high in re.findall(r"`(\w+)` \(≤(\d+)", cell):
            found.append((name, 0.0, float(high)))
    return found


VALUE = re.compile(r"[\w.:-]+")


def documented_enums() -> list[tuple[str, frozenset[str]]]:
    """`field` then backticked values up to the next `;`, and `name: a\\|b` inside objects."""
    found = []
    for cell in _request_cells():
        for name, alternatives in re.findall(r"(\w+): ((?:\w+\\\|)+\w+)", cell):
            found.append((name, frozenset(alternatives.split("\\|"))))
        for part in cell.split(";"):
            if re.search(r"`,\s*`", part):  # a list of field names, or examples
                continue
            tokens = [re.sub(r"\(\w+\)$", "", t) for t in re.findall(r"`([^`]+)`", part)]
            if len(tokens) < 2 or not re.fullmatch(r"\w+", tokens[0]):
                continue
            values = {re.sub(r"\(\w+\)$", "", v) for t in tokens[1:] for v in t.split()}
            values = {v for v in values if VALUE.fullmatch(v)}
            values |= set(re.findall(r"\\\|`([\w.:-]+)`", part))
            if len(values) >= 2:
                found.append((tokens[0], frozenset(values)))
    return found


def all_field_definitions() -> list[Field]:
    """Every field definition, children included (a child copied from a field counts once)."""
    seen: list[Field] = []

    def walk(f: Field) -> None:
        if any(f is s for s in seen):
            return
        seen.append(f)
        for child in f.children:
            walk(child)

    for f in catalog_fields.ALL:
        walk(f)
    return seen


def test_the_reference_is_parsed() -> None:
    # Guards the parser itself: these facts are in the table today.
    assert ("duration", 3, 15) in documented_ranges()
    assert ("speed", 0.5, 2.0) in documented_ranges()
    assert ("character_references", 0, 3) in documented_ranges()
    enums = dict(documented_enums())
    assert enums["voice"] == {"alloy", "echo", "fable", "onyx", "nova", "shimmer"}
    assert enums["language"] >= {"en", "ar"}
    assert enums["animation_style"] == {"ken_burns", "build_up", "reveal", "morph"}
    assert len(documented_enums()) >= 10


def _range_of(f: Field) -> tuple[float, float] | None:
    low = f.minimum if f.minimum is not None else f.min_items
    high = f.maximum if f.maximum is not None else f.max_items
    if f.type in (FieldType.STRING, FieldType.TEXT) and f.max_length is not None:
        low, high = f.min_length, f.max_length
    if high is None:
        return None
    return (float(low or 0), float(high))


@pytest.mark.parametrize("name,low,high", sorted(set(documented_ranges())))
def test_every_documented_range_is_in_the_catalog_once(name: str, low: float, high: float) -> None:
    holders = [f for f in all_field_definitions() if _range_of(f) == (low, high)]
    assert len(holders) == 1, f"range {low}–{high} of {name!r} is held by {holders!r}"
    wire_name = holders[0].name
    # the batch list is named `prompts` on the wire; the reference writes the table's name
    assert wire_name == name or (name, wire_name) == ("prompts", "prompts")


@pytest.mark.parametrize("name,values", sorted(set(documented_enums()), key=lambda e: e[0]))
def test_every_documented_enum_is_in_the_catalog_once(name: str, values: frozenset[str]) -> None:
    holders = [
        f
        for f in all_field_definitions()
        if f.type is FieldType.ENUM and values <= set(f.option_values)
    ]
    assert len(holders) == 1, f"enum {sorted(values)} of {name!r} is held by {holders!r}"


def test_documented_defaults() -> None:
    assert catalog_fields.VIDEO_MODEL.default == "auto"
    assert catalog_fields.RESOLUTION.default == "720p"
    assert catalog_fields.FAILOVER.default is True
    assert catalog_fields.VOICE.default == "alloy"
    assert catalog_fields.LANGUAGE.default == "en"
    assert catalog_fields.SPEED.default == 1.0
    assert catalog_fields.BACKGROUND.default == "auto"


def test_field_keys_unique_and_every_field_used() -> None:
    keys = Counter(f.key for f in all_field_definitions())
    assert [k for k, n in keys.items() if n > 1] == []
    for f in catalog_fields.ALL:
        assert f.operations, f"{f.key} is used by no operation"


def test_every_operation_of_the_reference_is_covered() -> None:
    paths = {(op.method, op.path) for op in CATALOG.operations.values()}
    for row in _reference_table():
        if row.startswith("| Native"):  # out of the first scope, says the reference
            continue
        for method, path in re.findall(r"`(GET|POST) (/[^`]+)`", row):
            path = path.replace("{batch_id}", "{batch_id}")
            assert (method, path) in paths or any(
                path in op.aliases for op in CATALOG.operations.values()
            ), f"{method} {path} is not in the catalog"


def test_async_creates_know_how_they_finish() -> None:
    for op in CATALOG.operations.values():
        if op.is_async:
            assert op.status_operation in CATALOG.operations, op.key
            status_op = CATALOG.operation(op.status_operation)
            assert status_op.kind is OperationKind.GET and status_op.job is op.job
            assert limits.POLL_CADENCE[op.job].interval > 0
    assert limits.POLL_CADENCE[JobKind.VIDEO].interval == 10
    assert limits.POLL_CADENCE[JobKind.SHARED].interval == 3


# -- request models -----------------------------------------------------------------------


def test_valid_input_becomes_the_wire_body() -> None:
    body = CATALOG.validate(
        "video.create_from_image",
        {"prompt": "zoom in", "image_url": "https://example.com/a.png", "duration": "5"},
    ).to_wire()
    assert body == {"prompt": "zoom in", "image_url": "https://example.com/a.png", "duration": 5}


def test_defaults_are_left_to_the_api() -> None:
    assert CATALOG.validate("voice.create", {"text": "Hello"}).to_wire() == {"text": "Hello"}


def test_fixed_fields_are_sent_but_not_accepted() -> None:
    assert CATALOG.validate("video.stream", {"prompt": "x"}).to_wire()["stream"] is True
    with pytest.raises(InvalidInput, match="stream"):
        CATALOG.validate("video.stream", {"prompt": "x", "stream": False})


@pytest.mark.parametrize(
    "op,data,field,value_text,allowed_text",
    [
        ("video.create_from_text", {"prompt": "x", "duration": 20}, "duration", "20", "3 to 15"),
        (
            "video.create_from_text",
            {"prompt": "x", "aspect_ratio": "2:1"},
            "aspect_ratio",
            "'2:1'",
            "one of 21:9, 16:9, 4:3, 1:1, 3:4, 9:16",
        ),
        ("voice.create", {"text": "hi", "speed": 3}, "speed", "3", "0.5 to 2"),
        ("voice.create", {"text": "x" * 5001}, "text", "5,001 characters", "1 to 5,000"),
        ("voice.create", {"text": "hi", "voice": "bob"}, "voice", "'bob'", "alloy, echo"),
        ("batch.create", {"prompts": [{"prompt": "a"}] * 21}, "prompts", "21 items", "1 to 20"),
        (
            "batch.create",
            {"prompts": [{"prompt": "a"}, {"image_url": "https://x/y.png"}]},
            "prompts[1].prompt",
            "required",
            "non-empty text",
        ),
        ("image.generate", {"prompt": "x", "n": 5}, "n", "5", "1 to 4"),
        (
            "video.create_from_text",
            {"prompt": "x", "character_references": ["https://a/1"] * 4},
            "character_references",
            "4 items",
            "at most 3",
        ),
        (
            "video.create_from_text",
            {"prompt": "x", "webhook_url": "ftp://x"},
            "webhook_url",
            "'ftp://x'",
            "http(s) URL",
        ),
        (
            "chart.create",
            {
                "chart_data": {
                    "type": "donut",
                    "labels": ["a"],
                    "datasets": [{"label": "s", "data": [1]}],
                }
            },
            "chart_data.type",
            "'donut'",
            "line, bar, pie, area",
        ),
    ],
)
def test_invalid_input_names_field_value_and_allowed(
    op: str, data: dict[str, object], field: str, value_text: str, allowed_text: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        CATALOG.validate(op, data)
    problem = caught.value.problems[0]
    assert problem.field == field
    assert caught.value.param == field
    assert value_text in str(caught.value)
    assert allowed_text in str(caught.value)


def test_unknown_field_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        CATALOG.validate("voice.create", {"text": "hi", "voise": "nova"})
    assert "voise: is not a field here; allowed: text, voice, language, speed" in str(caught.value)


def test_one_of_group() -> None:
    with pytest.raises(InvalidInput, match="neither was given"):
        CATALOG.validate("chart.create", {"title": "Q4"})
    with pytest.raises(InvalidInput, match="both were given"):
        CATALOG.validate(
            "chart.create",
            {
                "chart_image_url": "https://a/c.png",
                "chart_data": {
                    "type": "bar",
                    "labels": ["a"],
                    "datasets": [{"label": "s", "data": [1]}],
                },
            },
        )
    assert CATALOG.validate("chart.create", {"chart_image_url": "https://a/c.png"})


def test_empty_optional_values_count_as_not_given() -> None:
    body = CATALOG.validate("voice.create", {"text": "hi", "voice": None, "speed": None})
    assert body.to_wire() == {"text": "hi"}


def test_open_enums_accept_new_values() -> None:
    # The live model list may hold models the docs do not name yet.
    body = CATALOG.validate("video.create_from_text", {"prompt": "x", "model": "kling-v4"})
    assert body.to_wire()["model"] == "kling-v4"


def test_multipart_files() -> None:
    body = CATALOG.validate(
        "image.edit",
        {"prompt": "clean", "model": "seedream-v4.5-edit", "image": ("p.png", b"\x89PNG")},
    ).to_wire()
    assert body["image"].filename == "p.png"
    assert body["image"].content_type == "image/png"
    assert body["image"].content == b"\x89PNG"


def test_bytes_never_echoed_in_errors() -> None:
    with pytest.raises(InvalidInput) as caught:
        CATALOG.validate("image.edit", {"prompt": "x", "model": "m", "image": 5})
    assert "image" in str(caught.value)


# -- states, errors, events -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,state",
    [
        ("pending", NormalizedState.PENDING),
        ("processing", NormalizedState.PROCESSING),
        ("completed", NormalizedState.COMPLETED),
        ("failed", NormalizedState.FAILED),
        ("PENDING", NormalizedState.PENDING),
        ("PROCESSING", NormalizedState.PROCESSING),
        ("COMPLETED", NormalizedState.COMPLETED),
        ("FAILED", NormalizedState.FAILED),
        ("CANCELED", NormalizedState.CANCELED),
        ("cancelled", NormalizedState.CANCELED),
    ],
)
def test_statuses_normalize(raw: str, state: NormalizedState) -> None:
    assert states.normalize(raw) is state


def test_terminal_states() -> None:
    assert {s for s in NormalizedState if s.terminal} == {"completed", "failed", "canceled"}


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(states.UnknownStatus, match="'exploded'"):
        states.normalize("exploded")


def test_video_statuses_lower_case_shared_upper_case() -> None:
    assert all(s == s.lower() for s in states.STATUSES[JobKind.VIDEO])
    assert all(s == s.upper() for s in states.STATUSES[JobKind.SHARED])


@pytest.mark.parametrize(
    "code,status,retryable",
    [
        ("invalid_request_error", 400, False),
        ("content_policy_violation", 400, False),
        ("authentication_error", 401, False),
        ("insufficient_credits", 402, False),
        ("not_found", 404, False),
        ("rate_limit_exceeded", 429, True),
        ("server_error", 500, True),
        ("provider_unavailable", 503, True),
    ],
)
def test_error_codes(code: str, status: int, retryable: bool) -> None:
    e = errors.BY_CODE[code]
    assert (e.http_status, e.retryable) == (status, retryable)
    assert e.title and e.advice


def test_error_for_status() -> None:
    assert errors.for_status(429) is errors.RATE_LIMIT
    assert errors.for_status(503) is errors.PROVIDER_UNAVAILABLE
    assert errors.for_status(502) is errors.SERVER_ERROR
    assert errors.for_status(422) is errors.VALIDATION


def test_documented_events_are_marked() -> None:
    documented = {e.name for e in catalog_events.ALL if e.documented}
    assert documented == {
        "video.generation.completed",
        "video.generation.failed",
        "video.batch.completed",
        "image.generation.completed",
        "voice.generation.completed",
    }
    for e in catalog_events.ALL:
        assert e.payload in catalog_events.PAYLOADS
        for op in e.operations:
            assert e.name in CATALOG.operation(op).events


def test_dedup_key_is_delivery_id_and_status() -> None:
    payload = catalog_events.payload_model("video.generation.completed").model_validate(
        {"id": "vgen_1", "status": "completed"}
    )
    assert catalog_events.dedup_key("vgen_1", payload) == "vgen_1:completed"
    shared = catalog_events.payload_model("compose.generation.completed").model_validate(
        {"id": "comp_1", "status": "COMPLETED"}
    )
    assert catalog_events.dedup_key("comp_1", shared) == "comp_1:completed"


def test_unknown_event_gets_the_generic_payload() -> None:
    model = catalog_events.payload_model("upscale.generation.completed")
    assert model is catalog_events.JobEventPayload


def test_platform_operations() -> None:
    for platform in ("n8n", "make", "zapier"):
        keys = {op.key for op in CATALOG.for_platform(platform)}
        assert "video.stream" not in keys
        assert {
            "video.create_from_text",
            "batch.create",
            "voice.create",
            "compose.create",
            "image.edit",
            "chart.create",
            "job.get",
        } <= keys


def test_a_field_is_added_by_one_field_definition_alone() -> None:
    """No second list: a `Field(...)` written among the others reaches `fields.ALL`."""
    source = Path(catalog_fields.__file__).read_text()
    added = (
        'SCRATCH_SEED = Field(key="scratch_seed", name="seed", type=T.INTEGER, label="Seed",\n'
        '    help="A seed.", operations=VIDEO_CREATES)\n\n'
    )
    at = source.index("PROMPT = Field(")
    scope: dict[str, object] = {"__name__": "scratch_fields"}
    exec(compile(source[:at] + added + source[at:], "scratch_fields.py", "exec"), scope)
    keys = [f.key for f in scope["ALL"]]  # type: ignore[attr-defined]
    assert keys == ["scratch_seed", *(f.key for f in catalog_fields.ALL)]
