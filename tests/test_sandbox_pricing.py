"""The sandbox's price endpoint: every paid create's own body is priced at what that create
is then charged, and a request it cannot price is a clear 400 that charges nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from connector.catalog import CATALOG, errors
from connector.sandbox import pricing
from connector.sandbox.harness import RunningSandbox

CASES = json.loads((Path(__file__).parent / "cases" / "operations.json").read_text())["cases"]
PAID = [c for c in CASES if c["operation"] in pricing.PRICED]
PRICE_PATH = CATALOG.operation("price.calculate").path


def _price_body(case: dict[str, Any]) -> dict[str, Any]:
    """The create's request as a price request: JSON, without the files it uploads."""
    request = case["request"]
    return dict(request["json"]) if "json" in request else dict(request["multipart"]["fields"])


def _create(sandbox: RunningSandbox, case: dict[str, Any]) -> Any:
    request = case["request"]
    if "json" in request:
        return sandbox.http.post(request["path"], json=request["json"])
    parts = request["multipart"]
    files = {
        name: (f["filename"], base64.b64decode(f["base64"]), f["content_type"])
        for name, f in parts["files"].items()
    }
    return sandbox.http.post(request["path"], data=parts["fields"], files=files)


def test_every_paid_create_has_a_case() -> None:
    assert {c["operation"] for c in PAID} == set(pricing.PRICED)


@pytest.mark.parametrize("case", PAID, ids=[c["name"] for c in PAID])
def test_the_price_of_a_create_is_what_it_is_charged(
    sandbox: RunningSandbox, case: dict[str, Any]
) -> None:
    before = sandbox.credits()
    answer = sandbox.http.post(PRICE_PATH, json=_price_body(case))
    assert answer.status_code == 200, answer.text
    quoted = answer.json()["credits"]
    assert sandbox.credits() == before  # asking costs nothing
    created = _create(sandbox, case)
    assert created.status_code < 300, created.text
    charged = before - sandbox.credits()
    assert quoted == charged > 0


def test_a_batch_is_priced_as_a_whole() -> None:
    one = pricing.quote({"prompt": "x", "duration": 10})
    from_image = pricing.quote({"prompt": "x", "image_url": "https://example.com/a.png"})
    batch = pricing.quote(
        {
            "duration": 10,
            "prompts": [
                {"prompt": "a"},
                {"prompt": "b"},
                {"prompt": "c", "image_url": "https://a/b.png"},
            ],
        }
    )
    assert batch.operation == "batch.create"
    assert batch.credits == 2 * one.credits + pricing.video_credits("auto", 10, from_image=True)
    assert from_image.operation == "video.create_from_image"
    assert (
        from_image.credits < pricing.quote({"prompt": "x", "duration": 5}).credits
    )  # image-to-video is 30


def test_a_stream_is_priced_as_the_video_or_image_it_makes(sandbox: RunningSandbox) -> None:
    for path, body in (
        ("/v1/videos/generations/stream", {"prompt": "x", "duration": 10, "stream": True}),
        (
            "/v1/images/generations/stream",
            {"prompt": "x", "model": "dall-e-3", "n": 2, "stream": True},
        ),
    ):
        quoted = sandbox.http.post(PRICE_PATH, json=body).json()["credits"]
        before = sandbox.credits()
        with sandbox.http.stream("POST", path, json=body) as answer:
            assert answer.status_code == 200
            answer.read()
        assert before - sandbox.credits() == quoted > 0, path


UNPRICEABLE = [
    ({"prompt": "a cat"}, "model", "cannot tell which generation"),
    ({"model": "nope"}, "model", "is not served"),
    ({"model": "dall-e-3", "prompts": [{"prompt": "a"}]}, "model", "not a video model"),
    ({"prompts": [{"prompt": "a", "model": "kling-v3"}]}, "prompts[0].model", "not a field here"),
    ({"text": "hi", "speed": 9}, "speed", "not allowed"),
    ({"model": "kling-v3", "duration": "long"}, "duration", "not allowed"),
    ({"prompt": "x", "stream": True}, "model", "which stream"),
]


@pytest.mark.parametrize(("body", "param", "words"), UNPRICEABLE)
def test_a_request_that_cannot_be_priced_is_a_clear_400(
    sandbox: RunningSandbox, body: dict[str, Any], param: str, words: str
) -> None:
    before = sandbox.credits()
    answer = sandbox.http.post(PRICE_PATH, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == errors.INVALID_REQUEST.code
    assert error["param"] == param
    assert error["message"].startswith("This request cannot be priced")
    assert words in error["message"]
    assert sandbox.credits() == before
