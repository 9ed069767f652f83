"""`max_credits`: a paid call is priced first and starts nothing over the cap.

Against the sandbox (its price endpoint follows its own price table), counting the jobs it
started; and against a scripted server for a price endpoint that refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import operation_table
import paid_cases
import pytest
from test_client_support import Reply, ScriptedServer, error_body, run

from connector.catalog import CATALOG, FieldType, InvalidInput, Operation, limits, steps
from connector.client import CreditCapError
from connector.sandbox import pricing
from connector.sandbox.harness import RunningSandbox

PRICE_PATH = CATALOG.operation("price.calculate").path
FIVE_SECONDS = pricing.video_credits("auto", 5, from_image=False)  # what the sandbox quotes


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    return sandbox_factory(rate_limits=False)


def against(mode: str, sandbox: RunningSandbox, action: Any) -> Any:
    return run(mode, sandbox.url, action, api_key=sandbox.api_key)


def test_a_video_under_the_cap_starts(mode: str, sandbox: RunningSandbox) -> None:
    out = against(mode, sandbox, lambda c: c.videos.create(prompt="p", max_credits=FIVE_SECONDS))
    assert out.error is None, out.error
    assert len(sandbox.jobs()) == 1


def test_a_video_over_the_cap_starts_nothing(mode: str, sandbox: RunningSandbox) -> None:
    cap = FIVE_SECONDS - 1
    out = against(mode, sandbox, lambda c: c.videos.create(prompt="p", max_credits=cap))
    error = out.raised(CreditCapError)
    assert (error.estimate, error.cap) == (FIVE_SECONDS, cap)
    assert str(error) == (
        f"Create Video From Text: not started: this would cost about {FIVE_SECONDS} credits, "
        f"the cap is {cap}."
    )
    assert sandbox.jobs() == []


def test_a_longer_clip_is_priced_as_asked(mode: str, sandbox: RunningSandbox) -> None:
    fifteen = pricing.video_credits("auto", 15, from_image=False)
    out = against(
        mode, sandbox, lambda c: c.videos.create(prompt="p", duration=15, max_credits=fifteen - 1)
    )
    assert out.raised(CreditCapError).estimate == fifteen
    assert sandbox.jobs() == []


def test_a_batch_is_capped_as_a_whole(mode: str, sandbox: RunningSandbox) -> None:
    prompts = ["a", "b", "c"]
    cap = FIVE_SECONDS * 3 - 1  # each video fits, the batch does not
    out = against(mode, sandbox, lambda c: c.batches.create(prompts, max_credits=cap))
    error = out.raised(CreditCapError)
    assert error.estimate == FIVE_SECONDS * 3 and "3 generations together" in str(error)
    assert sandbox.jobs() == []


def test_many_videos_are_capped_together_before_any_batch(
    mode: str, sandbox: RunningSandbox
) -> None:
    items = [f"clip {n}" for n in range(limits.BATCH_MAX_PROMPTS + 2)]  # two batch calls
    total = FIVE_SECONDS * len(items)
    over = against(mode, sandbox, lambda c: c.generate_videos(items, max_credits=total - 1))
    assert over.raised(CreditCapError).estimate == total
    assert sandbox.jobs() == []
    fits = against(mode, sandbox, lambda c: c.generate_videos(items, max_credits=total))
    assert fits.error is None and all(r.ok for r in fits.result)
    assert len(sandbox.jobs()) == len(items)


def test_a_stream_over_the_cap_opens_nothing(mode: str, sandbox: RunningSandbox) -> None:
    out = against(mode, sandbox, lambda c: c.videos.stream(prompt="p", max_credits=1))
    assert out.raised(CreditCapError).estimate == FIVE_SECONDS
    assert sandbox.jobs() == []


# -- every paid create, priced with its own body -------------------------------------------------

PAID = [op.key for op in steps.capped(CATALOG.operations.values())]


def _price(sandbox: RunningSandbox, op_key: str) -> int:
    """What the sandbox quotes for the case's own request body (its files left out), asked
    directly: the figure the client must compare with the cap."""
    answer = sandbox.http.post(PRICE_PATH, json=paid_cases.price_body(op_key))
    assert answer.status_code == 200, answer.text
    credits: int = answer.json()["credits"]
    return credits


def test_every_paid_create_has_a_case() -> None:
    assert set(PAID) == set(pricing.PRICED)
    for op_key in PAID:
        assert paid_cases.client_input(op_key), op_key


@pytest.mark.parametrize("op_key", PAID)
def test_every_paid_create_starts_under_its_cap(
    mode: str, sandbox: RunningSandbox, op_key: str
) -> None:
    estimate = _price(sandbox, op_key)
    fields = paid_cases.client_input(op_key)
    before = sandbox.credits()
    out = against(mode, sandbox, lambda c: c.call(op_key, **fields, max_credits=estimate))
    assert out.error is None, out.error
    assert paid_cases.creates(sandbox) == 1
    if op_key != "compose.create":  # the case's compose fails (not sandbox media): refunded
        assert before - sandbox.credits() == estimate  # charged what was priced


@pytest.mark.parametrize("op_key", PAID)
def test_every_paid_create_over_its_cap_starts_nothing(
    mode: str, sandbox: RunningSandbox, op_key: str
) -> None:
    estimate = _price(sandbox, op_key)
    fields = paid_cases.client_input(op_key)
    before = sandbox.credits()
    out = against(mode, sandbox, lambda c: c.call(op_key, **fields, max_credits=estimate - 1))
    error = out.raised(CreditCapError)
    assert (error.estimate, error.cap) == (estimate, estimate - 1)
    assert steps.over_cap(estimate, estimate - 1) in str(error)
    assert paid_cases.creates(sandbox) == 0
    assert sandbox.credits() == before


@pytest.mark.parametrize("op_key", PAID)
def test_a_paid_create_whose_price_cannot_be_checked_is_not_started(
    mode: str, sandbox: RunningSandbox, op_key: str
) -> None:
    sandbox.fault("fail", status=503, operation="price.calculate", count=50)
    fields = paid_cases.client_input(op_key)
    before = sandbox.credits()
    out = against(mode, sandbox, lambda c: c.call(op_key, **fields, max_credits=10_000))
    error = out.raised(CreditCapError)
    assert error.estimate is None
    assert "cannot be checked" in str(error) and "503" in str(error)
    assert paid_cases.creates(sandbox) == 0
    assert sandbox.credits() == before


def test_a_mixed_batch_is_priced_as_its_own_body(mode: str, sandbox: RunningSandbox) -> None:
    prompts: list[Any] = ["a", {"prompt": "b", "image_url": "https://cdn.example/b.png"}]
    whole = FIVE_SECONDS + pricing.video_credits("auto", 5, from_image=True)
    assert whole != 2 * FIVE_SECONDS  # so a count x one price would be caught
    over = against(mode, sandbox, lambda c: c.batches.create(prompts, max_credits=whole - 1))
    assert over.raised(CreditCapError).estimate == whole
    assert paid_cases.creates(sandbox) == 0
    fits = against(mode, sandbox, lambda c: c.batches.create(prompts, max_credits=whole))
    assert fits.error is None, fits.error
    assert paid_cases.creates(sandbox) == 1 and len(sandbox.jobs()) == 2


def test_a_refused_price_request_starts_nothing(mode: str) -> None:
    refused = Reply(400, error_body("invalid_request_error", "model not served", "model"))
    with ScriptedServer([refused]) as server:
        out = run(mode, server.url, lambda c: c.videos.create(prompt="p", max_credits=100))
    error = out.raised(CreditCapError)
    assert error.estimate is None and "model not served" in str(error)
    assert [(r.method, r.path) for r in server.received] == [("POST", PRICE_PATH)]
    assert server.received[0].json()["model"] == "auto"  # the field's default


def test_the_price_request_is_the_create_s_own_body(mode: str) -> None:
    quote = Reply(200, {"model": "kling-v3", "credits": 10})
    created = Reply(202, {"id": "vgen_1", "status": "pending"})
    with ScriptedServer([quote, created]) as server:
        out = run(
            mode,
            server.url,
            lambda c: c.videos.create(
                prompt="p", model="kling-v3", duration=10, resolution="1080p", max_credits=10
            ),
        )
    assert out.error is None, out.error
    price, create = server.received
    assert price.json() == create.json()
    assert create.json() == {
        "prompt": "p",
        "model": "kling-v3",
        "duration": 10,
        "resolution": "1080p",
    }
    assert "max_credits" not in create.json()  # a client option: never sent


def test_an_image_edit_is_priced_by_its_fields_as_json(mode: str) -> None:
    quote = Reply(200, {"model": "seedream-v4.5-edit", "credits": 4})
    with ScriptedServer([quote]) as server:
        out = run(
            mode,
            server.url,
            lambda c: c.images.edit(
                prompt="p",
                model="wan-2.6-image-edit",
                size="1024x1024",
                image=("a.png", b"\x89PNG\r\n\x1a\n", "image/png"),
                max_credits=3,
            ),
        )
    assert out.raised(CreditCapError).estimate == 4
    [price] = server.received
    assert price.header("content-type") == "application/json"
    assert price.json() == {"prompt": "p", "model": "wan-2.6-image-edit", "size": "1024x1024"}


@pytest.mark.parametrize("bad", [0, -5, "lots", True])
def test_a_bad_cap_is_refused_before_anything_is_sent(mode: str, bad: Any) -> None:
    with ScriptedServer([]) as server:
        out = run(mode, server.url, lambda c: c.videos.create(prompt="p", max_credits=bad))
    assert out.raised(InvalidInput).param == "max_credits"
    assert server.received == []


# -- the command line ----------------------------------------------------------------------------


def _api(sandbox: RunningSandbox) -> list[str]:
    return ["--base-url", sandbox.url, "--api-key", sandbox.api_key]


def test_the_cli_refuses_over_the_cap_with_its_own_status(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.cli import EXIT_CAPPED, main

    argv = ["video", "create", *_api(sandbox), "--prompt", "p", "--max-credits", "1"]
    assert main(argv) == EXIT_CAPPED
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: Create Video From Text: not started: this would cost about {FIVE_SECONDS} "
        "credits, the cap is 1."
    )
    assert sandbox.jobs() == []
    ok = ["video", "create", *_api(sandbox), "--prompt", "p", "--max-credits", str(FIVE_SECONDS)]
    assert main(ok) == 0
    assert len(sandbox.jobs()) == 1


def _required_options(op: Operation) -> list[str]:
    """The options a command cannot run without, with the catalog's example values."""
    out: list[str] = []
    for use in op.fields:
        f = use.field
        if not use.required or f.fixed is not None:
            continue
        option = "--" + f.name.replace("_", "-")
        if f.type is FieldType.BOOLEAN:
            out.append(option)
            continue
        value = operation_table.example_input(op)[f.name]
        if f.type is FieldType.FILE:
            out += [option, "example.png"]
        elif f.type in (FieldType.OBJECT, FieldType.OBJECT_LIST):
            out += [option, json.dumps(value)]
        elif f.type in (FieldType.STRING_LIST, FieldType.NUMBER_LIST):
            for item in value:
                out += [option, str(item)]
        else:
            out += [option, str(value)]
    return out


def test_every_paid_command_takes_a_cap() -> None:
    from connector.cli import build_parser

    parser = build_parser()
    for op in CATALOG.operations.values():
        if op.kind.name != "CREATE" or not op.platforms or op.key == "video.create_from_image":
            continue
        action = "create" if op.key == "video.create_from_text" else op.action.replace("_", "-")
        required = _required_options(op)
        args = parser.parse_args([op.resource, action, *required, "--max-credits", "5"])
        assert args.max_credits == 5.0, op.key
        if op in steps.capped([op]):  # a paid create: one job per record too
            keyed = [*required, "--record-key", "sku-1", "--ledger", "l.json"]
            args = parser.parse_args([op.resource, action, *keyed])
            assert (args.record_key, args.ledger) == ("sku-1", "l.json"), op.key
