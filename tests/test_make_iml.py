"""The test-side IML renderer and Make runtime: what they do, and what they refuse.

The Make tests are only as good as this stand-in, so its semantics are pinned here, and so
is the promise that it refuses any IML or directive outside the generator's subset, and
anything Make does not document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from make_iml.appfiles import LocalApp, loads_jsonc
from make_iml.iml import UNDEFINED, UnsupportedIML, evaluate, parse, render
from make_iml.runtime import MakeError, Runtime, check_parameters

from connector.serving import serve

CONTEXT: dict[str, Any] = {
    "parameters": {
        "name": "Ada",
        "count": 3,
        "flag": False,
        "empty": "",
        "nested": {"x": 1},
        "pairs": [{"key": "X-A", "value": "1"}, {"key": "X-B", "value": "2"}],
    },
    "headers": {"retry-after": "7", "x-creativeai-event": "video.generation.completed"},
    "body": {"error": {"code": "rate_limit_exceeded", "message": "slow down"}, "status": "DONE"},
    "statusCode": 429,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{parameters.name}}", "Ada"),
        ("{{parameters.count}}", 3),  # one expression keeps its type
        ("{{parameters.nested}}", {"x": 1}),
        ("n={{parameters.count}}", "n=3"),  # text around it makes text
        ("{{parameters.missing}}", UNDEFINED),
        ("a{{parameters.missing}}b", "ab"),
        ("{{parameters.nested.x.y}}", UNDEFINED),
        ("{{'[' + statusCode + '] ' + body.error.message}}", "[429] slow down"),
        ("{{headers.`retry-after`}}", "7"),
        ('{{body.status == "DONE"}}', True),
        ("{{statusCode == '429'}}", False),  # strict, as IML's == is ===
        ("{{body.status == 'X' || body.status == 'DONE'}}", True),
        ("{{parameters.missing || parameters.name}}", "Ada"),
        ("{{if(parameters.flag, 'yes', 'no')}}", "no"),
        ("{{if(parameters.missing, parameters.missing.deeper, 'safe')}}", "safe"),
        ("{{ifempty(parameters.empty, 'fallback')}}", "fallback"),
        ("{{ifempty(parameters.count, 'fallback')}}", 3),
        ("{{substring(parameters.name, 0, 1) == 'A'}}", True),  # 0-based, end excluded
        ("{{encodeURL('a/b c')}}", "a%2Fb%20c"),
        ("{{toCollection(parameters.pairs, 'key', 'value')}}", {"X-A": "1", "X-B": "2"}),
        ("{{toCollection(parameters.missing, 'key', 'value')}}", {}),
        ("{{!parameters.flag}}", True),
        ("{{parameters.name != 'Ada'}}", False),
        ("{{parameters.flag && parameters.name}}", False),
        ("{{if(parameters.count, true, false)}}", True),
        ("{{'x' + parameters.missing}}", "xundefined"),  # JavaScript's String(undefined)
        ("{{'x' + parameters.flag}}", "xfalse"),
        ("{{parameters.count <= 3}}", True),  # JavaScript's relational operators
        ("{{parameters.count > 3}}", False),
        ("{{headers.`retry-after` >= 7}}", True),  # numeric text compares as a number
        ("{{parameters.missing <= 3}}", False),  # undefined is NaN: every comparison false
        ("{{parameters.missing > 3}}", False),
        ("{{1 + 1 <= parameters.count}}", True),  # below + , above ==
        ("{{switch(parameters.count, 1, 'one', 3, 'three', 'many')}}", "three"),
        ("{{switch(parameters.name, 'Bob', 'b', 'other')}}", "other"),
        ("{{switch(parameters.count, '3', 'text', 'strict')}}", "strict"),
        ("{{round(7345678 / 100000) / 10}}", 7.3),  # JavaScript's / and Math.round
        ("{{headers.`retry-after` / 2}}", 3.5),  # numeric text divides as a number
        ("{{last(split('a/b/c.mp3', '/'))}}", "c.mp3"),
        ("{{last(parameters.missing)}}", UNDEFINED),
    ],
)
def test_expressions_evaluate_as_in_make(template: str, expected: Any) -> None:
    assert render(template, CONTEXT) == expected


def test_objects_drop_keys_that_come_out_undefined() -> None:
    body = {
        "name": "{{parameters.name}}",
        "gone": "{{parameters.missing}}",
        "flag": "{{parameters.flag}}",
    }
    assert render(body, CONTEXT) == {"name": "Ada", "flag": False}


@pytest.mark.parametrize(
    "template",
    [
        "{{startsWith(parameters.name, 'A')}}",  # not one of Make's documented functions
        "{{endsWith(parameters.name, 'a')}}",
        "{{parameters.name.startsWith('A')}}",  # nor are JavaScript methods
        "{{formatDate(now, 'YYYY')}}",  # documented, but not in the subset
        "{{now}}",  # nor other variables
        "{{parameters.a ? 1 : 2}}",  # nor undocumented operators
        "{{parameters.a ?? parameters.b}}",
        "{{parameters.a * 2}}",  # documented, not in the subset
        "{{parameters.name <= 'Bob'}}",  # the subset compares numbers only
        "{{switch(parameters.a, 1, 2)}}",  # switch without an otherwise result
        "{{body.data[1]}}",
        "{{(parameters.a)}}",
        "{{ifempty(parameters.a)}}",  # wrong arity
        "{{'it\\'s'}}",  # escapes
        "{{parameters.a}",  # unbalanced
        "{{parameters.}}",
    ],
)
def test_the_renderer_refuses_iml_outside_the_subset(template: str) -> None:
    with pytest.raises(UnsupportedIML):
        render(template, CONTEXT)


def test_parse_and_evaluate_are_separate_steps() -> None:
    node = parse("if(body.status == 'DONE', 'ok', 'wait')")
    assert evaluate(node, CONTEXT) == "ok"
    assert evaluate(node, {**CONTEXT, "body": {"status": "RUNNING"}}) == "wait"


def test_jsonc_comments_are_dropped_outside_strings_only() -> None:
    source = '// notice\n{"url": "https://x.example/a//b", /* c */ "n": 1}\n'
    assert loads_jsonc(source) == {"url": "https://x.example/a//b", "n": 1}


# -- the runtime ------------------------------------------------------------------------------


def _app(tmp_path: Path, communication: Any, base: dict[str, Any] | None = None) -> LocalApp:
    return LocalApp(
        root=tmp_path,
        manifest={},
        base=base or {"baseUrl": "{{connection.baseUrl}}"},
        groups=[],
        components={
            "module": {
                "m": _component(
                    "module", "m", {"communication": communication, "mappableParams": []}
                )
            }
        },
    )


def _component(kind: str, cid: str, codes: dict[str, Any]) -> Any:
    from make_iml.appfiles import Component

    return Component(kind, cid, {}, codes)


@pytest.fixture
def echo() -> Iterator[str]:
    """A local server answering every request with what it received (JSON)."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        import json

        status = int(environ.get("HTTP_X_STATUS", "200"))
        body = json.dumps({"path": environ["PATH_INFO"], "items": [1, 2, 3]}).encode()
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [body]

    with serve(app) as server:
        yield server.url


@pytest.mark.parametrize(
    "communication",
    [
        {"url": "/x", "pagination": {"url": "/next"}},
        {"url": "/x", "qs": "{{parameters.missing}}"},  # qs is a flat collection
        {
            "url": "/x",
            "repeat": {"condition": "{{false}}", "delay": 1, "limit": 1},
            "response": {"valid": {"condition": "{{true}}"}},
        },  # is valid checked per answer?
        {"url": "/x", "type": "urlencoded", "method": "POST", "body": {}},
        {"url": "/x", "response": {"wrapper": "{{output}}"}},
        {"url": "/x", "response": {"trigger": {"id": "{{item.id}}"}}},
    ],
)
def test_the_runtime_refuses_directives_outside_the_subset(
    tmp_path: Path, echo: str, communication: dict[str, Any]
) -> None:
    make = Runtime(_app(tmp_path, communication))
    with pytest.raises(UnsupportedIML):
        make.run_module("m", {}, {"baseUrl": echo})


def test_iterate_with_a_condition_makes_one_bundle_per_kept_item(tmp_path: Path, echo: str) -> None:
    communication = {
        "url": "/list",
        "response": {
            "iterate": {"container": "{{body.items}}", "condition": "{{item == body.items}}"},
            "output": "{{item}}",
        },
    }
    assert Runtime(_app(tmp_path, communication)).run_module("m", {}, {"baseUrl": echo}) == []
    communication["response"]["iterate"] = "{{body.items}}"
    bundles = Runtime(_app(tmp_path, communication)).run_module("m", {}, {"baseUrl": echo})
    assert bundles == [1, 2, 3]


def test_errors_take_the_status_entry_then_the_generic_one(tmp_path: Path, echo: str) -> None:
    base = {
        "baseUrl": "{{connection.baseUrl}}",
        "headers": {"X-Status": "{{connection.status}}"},
        "response": {
            "error": {
                "type": "RuntimeError",
                "message": "{{'generic ' + statusCode}}",
                "429": {"type": "RateLimitError", "message": "slow {{body.path}}"},
            }
        },
    }
    make = Runtime(_app(tmp_path, {"url": "/p"}, base))
    with pytest.raises(MakeError) as limited:
        make.run_module("m", {}, {"baseUrl": echo, "status": "429"})
    assert (limited.value.kind, limited.value.message, limited.value.status) == (
        "RateLimitError",
        "slow /p",
        429,
    )
    with pytest.raises(MakeError) as other:
        make.run_module("m", {}, {"baseUrl": echo, "status": "500"})
    assert (other.value.kind, other.value.message) == ("RuntimeError", "generic 500")


def test_an_error_type_outside_makes_list_is_refused(tmp_path: Path, echo: str) -> None:
    base = {
        "baseUrl": "{{connection.baseUrl}}",
        "headers": {"X-Status": "400"},
        "response": {"error": {"type": "OopsError", "message": "x"}},
    }
    with pytest.raises(UnsupportedIML):
        Runtime(_app(tmp_path, {"url": "/p"}, base)).run_module("m", {}, {"baseUrl": echo})


def test_repeat_stops_at_its_limit_and_a_later_check_fails(tmp_path: Path, echo: str) -> None:
    communication = [
        {
            "url": "/poll",
            "repeat": {"condition": "{{body.path == '/poll'}}", "delay": 1000, "limit": 3},
            "response": {"temp": {"last": "{{body}}"}},
        },
        {
            "url": "/poll",
            "response": {"valid": {"condition": "{{body.path == '/done'}}", "message": "gave up"}},
        },
    ]
    slept: list[float] = []
    make = Runtime(_app(tmp_path, communication), delay_scale=0.5, sleep=slept.append)
    with pytest.raises(MakeError, match="gave up"):
        make.run_module("m", {}, {"baseUrl": echo})
    assert slept == [0.5, 0.5, 0.5]
    assert len(make.log) == 5  # the first request, three repeats and the check


def test_a_false_condition_skips_the_request_and_gives_its_default(tmp_path: Path) -> None:
    communication = {
        "condition": {"condition": "{{parameters.go}}", "default": "{{parameters.fallback}}"},
        "url": "http://127.0.0.1:9/never",
    }
    make = Runtime(_app(tmp_path, communication), http=httpx.Client(timeout=0.01))
    assert make.run_module("m", {"fallback": {"id": "x"}}, {}) == [{"id": "x"}]
    assert make.log == []


def test_log_sanitize_masks_the_named_header(tmp_path: Path, echo: str) -> None:
    base = {
        "baseUrl": "{{connection.baseUrl}}",
        "headers": {"Authorization": "Bearer {{connection.apiKey}}"},
        "log": {"sanitize": ["request.headers.authorization"]},
    }
    make = Runtime(_app(tmp_path, {"url": "/p"}, base))
    make.run_module("m", {}, {"baseUrl": echo, "apiKey": "sk-very-secret"})
    assert "sk-very-secret" not in repr(make.log)
    assert make.log[0]["request"]["headers"]["Authorization"] == "********"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, r"Prompt \(prompt\) is required"),
        ({"prompt": "x", "duration": 99}, "above 15"),
        ({"prompt": "x", "duration": "5"}, "is not a uinteger"),
        ({"prompt": "x", "voice": "robot"}, "'robot' is not one of"),
        (
            {"prompt": "x", "refs": ["https://a", "https://b", "https://c", "https://d"]},
            "more than 3",
        ),
        ({"prompt": "x", "shots": [{"image_url": "https://a"}]}, r"Shots \(shots\)\[1\]: Text"),
    ],
)
def test_parameters_are_checked_as_make_checks_them(values: dict[str, Any], message: str) -> None:
    specs = [
        {"name": "prompt", "type": "text", "label": "Prompt", "required": True},
        {
            "name": "duration",
            "type": "uinteger",
            "label": "Duration",
            "validate": {"min": 3, "max": 15},
        },
        {
            "name": "voice",
            "type": "select",
            "label": "Voice",
            "options": [{"label": "A", "value": "alloy"}],
        },
        {
            "name": "refs",
            "type": "array",
            "label": "Refs",
            "spec": {"type": "url"},
            "validate": {"maxItems": 3},
        },
        {
            "name": "shots",
            "type": "array",
            "label": "Shots",
            "spec": [{"name": "text", "type": "text", "label": "Text", "required": True}],
        },
    ]
    with pytest.raises(MakeError, match=message) as caught:
        check_parameters(specs, values, "m")
    assert caught.value.kind == "DataError"
