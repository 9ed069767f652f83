"""`max_credits`: a paid call is priced first and starts nothing over the cap.

Against the sandbox (its price endpoint follows its own price table), counting the jobs it
started; and against a scripted server for a price endpoint that refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import operation_table
import pytest
from test_client_support import Reply, ScriptedServer, error_body, run

from connector.catalog import CATALOG, FieldType, InvalidInput, Operation, limits
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
    assert error.estimate == FIVE_SECONDS * 3 and "3 generations" in str(error)
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


@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.voice.create(text="Hello", max_credits=100),
        lambda c: c.compose.create(
            video_url="https://cdn.example/v.mp4",
            audio_url="https://cdn.example/a.mp3",
            replace_audio=True,
            max_credits=100,
        ),
    ],
    ids=["voice", "compose"],
)
def test_a_call_the_price_endpoint_cannot_price_is_not_started(
    mode: str, sandbox: RunningSandbox, action: Any
) -> None:
    out = against(mode, sandbox, action)
    error = out.raised(CreditCapError)
    assert error.estimate is None and "cannot be checked" in str(error)
    assert "model" in str(error)
    assert sandbox.jobs() == []


def test_a_refused_price_request_starts_nothing(mode: str) -> None:
    refused = Reply(400, error_body("invalid_request_error", "model not served", "model"))
    with ScriptedServer([refused]) as server:
        out = run(mode, server.url, lambda c: c.videos.create(prompt="p", max_credits=100))
    error = out.raised(CreditCapError)
    assert error.estimate is None and "model not served" in str(error)
    assert [(r.method, r.path) for r in server.received] == [("POST", PRICE_PATH)]
    assert server.received[0].json()["model"] == "auto"  # the field's default


def test_the_price_request_carries_what_prices_the_call(mode: str) -> None:
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
    assert price.json() == {"model": "kling-v3", "duration": 10, "resolution": "1080p"}
    assert "max_credits" not in create.json()  # a client option: never sent


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
