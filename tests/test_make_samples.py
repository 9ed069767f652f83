"""The Make samples (samples/make/): both commerce-flow blueprints use the app's modules as
the app defines them, and the flow they describe runs end to end without a relay — image
edit → video from image (its Webhook URL mapped to scenario 2's webhook) → voice, then the
notification, confirmed by fetching the job back, continuing with compose — against the
sandbox. A forged notification, or another job's, stops at the filter."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FAST
from make_iml import blueprint
from make_iml.appfiles import LocalApp
from make_iml.runtime import Runtime, check_parameters

from connector.catalog import limits
from connector.platforms.make.model import NOTICE_WEBHOOK_ID
from connector.relay.testing import Received, Target, running_target, wait_until
from connector.sandbox.harness import RunningSandbox

ROOT = Path(__file__).resolve().parents[1]
APP = LocalApp.load(ROOT / "make-app")
APP_ID = APP.manifest["origins"][0]["appId"]
SAMPLES = ROOT / "samples" / "make"
START = blueprint.load(SAMPLES / "commerce-flow-1-start.blueprint.json")
FINISH = blueprint.load(SAMPLES / "commerce-flow-2-finish.blueprint.json")


def _app_steps(flow: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found = []
    for step in flow["flow"]:
        module_id = blueprint.app_module(step["module"], APP_ID)
        if module_id is not None:
            found.append((step, module_id))
    return found


@pytest.mark.parametrize("flow", [START, FINISH], ids=["start", "finish"])
def test_the_blueprint_uses_the_apps_modules_as_defined(flow: dict[str, Any]) -> None:
    assert _app_steps(flow), "the blueprint uses the app"
    seen: set[int] = set()
    for step in flow["flow"]:
        assert set(blueprint.references(step["mapper"])) <= seen, f"step {step['id']} maps ahead"
        seen.add(step["id"])
    for step, module_id in _app_steps(flow):
        module = APP.module(module_id)
        specs = {p["name"]: p for p in module.codes.get("mappableParams", [])}
        for name, value in step["mapper"].items():
            if name == "webhook_url":
                assert value == ADDRESS_PLACEHOLDER, "scenario 2's address, pasted by the builder"
            assert name in specs, f"{module_id}: no parameter {name!r}"
            nested = specs[name].get("spec")
            if isinstance(value, dict) and isinstance(nested, list):
                assert set(value) <= {p["name"] for p in nested}, f"{module_id}.{name}"
        missing = [n for n, p in specs.items() if p.get("required") and n not in step["mapper"]]
        assert not missing, f"{module_id}: required {missing}"
        literal = {k: v for k, v in step["mapper"].items() if "{{" not in str(v)}
        check_parameters([specs[k] for k in literal], literal, module_id)


ADDRESS_PLACEHOLDER = "https://hook.eu1.make.com/paste-the-address-of-watch-job-notifications-here"


def test_the_second_scenario_starts_with_a_confirmed_video_completion() -> None:
    first, module_id = _app_steps(FINISH)[0]
    assert first is FINISH["flow"][0]
    trigger = APP.module(module_id)
    assert trigger.metadata["moduleType"] == "instant_trigger"
    assert trigger.metadata["webhook"] == NOTICE_WEBHOOK_ID
    after = FINISH["flow"][1]
    assert after["filter"]["conditions"] == [
        [
            {"a": "{{1.confirmed}}", "o": "boolean:equal", "b": "true"},
            {"a": "{{1.event}}", "o": "text:equal", "b": "video.generation.completed"},
        ]
    ]
    assert not any("filter" in step for step in FINISH["flow"][2:])
    video = next(s for s, m in _app_steps(START) if m == "createVideoFromImage")
    assert video["mapper"]["webhook_url"] == ADDRESS_PLACEHOLDER
    others = [s for s, m in _app_steps(START) if m != "createVideoFromImage"]
    assert all("webhook_url" not in s["mapper"] for s in others), "only the video reports"


EVIL = "https://evil.example/x.mp4"
DELIVERY = limits.DELIVERY_ID_HEADER.lower()


def _posted(target: Target, which: Callable[[Received], bool]) -> tuple[Any, dict[str, str]]:
    """The body and headers of the first request to Make's webhook address that `which` picks."""
    found = wait_until(lambda: next((r for r in list(target.received) if which(r)), None))
    return found.json(), found.headers


def _with_address(flow: dict[str, Any], address: str) -> dict[str, Any]:
    text = json.dumps(flow).replace(ADDRESS_PLACEHOLDER, address)
    replaced: dict[str, Any] = json.loads(text)
    return replaced


@pytest.mark.slow
def test_the_commerce_flow_runs_end_to_end_without_a_relay(sandbox: RunningSandbox) -> None:
    make = Runtime(APP, delay_scale=FAST, routes={limits.DEFAULT_BASE_URL: sandbox.url})
    connection = make.connect({"apiKey": sandbox.api_key})
    records: dict[str, dict[str, Any]] = {}
    composed: list[Any] = []

    def app_step(module_id: str) -> blueprint.Handler:
        def run(mapper: dict[str, Any]) -> Any:
            [bundle] = make.run_module(module_id, mapper, connection)
            if module_id == "composeVideoAndAudio":
                composed.append(bundle)
            return bundle

        return run

    def store(mapper: dict[str, Any]) -> dict[str, Any]:
        records[mapper["key"]] = dict(mapper["data"])
        return {"key": mapper["key"], **mapper["data"]}

    def get_file(mapper: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.get(mapper["url"], timeout=10)
        answer.raise_for_status()
        return {"fileName": mapper["url"].rsplit("/", 1)[-1], "data": answer.content}

    handlers: dict[str, blueprint.Handler] = {
        f"app#{APP_ID}:{m}": app_step(m) for m in APP.components["module"]
    }
    handlers.update(
        {
            "http:ActionGetFile": get_file,
            "datastore:AddRecord": store,
            "datastore:GetRecord": lambda mapper: records[mapper["key"]],
        }
    )

    def notified(body: Any, headers: dict[str, str]) -> dict[str, Any]:
        """The webhook's bundle, then the trigger's check of it (the scenario's step 1)."""
        [bundle] = make.receive(NOTICE_WEBHOOK_ID, {}, body=body, headers=headers)
        [checked] = make.run_trigger("watchJobNotifications", bundle, connection)
        return checked

    with running_target() as make_hook:
        start = _with_address(START, make_hook.url + "/make")
        [photo] = make.run_module(
            "generateImage", {"prompt": "A steel travel mug on a kitchen table"}, connection
        )
        product = {
            "sku": "MUG-42",
            "image_url": photo["data"][0]["url"],
            "narration": "Meet the travel mug built for commutes, workouts and long desk days.",
        }
        started = blueprint.run_flow(start, handlers, {1: product})
        video_job = started[4]
        assert video_job["status"] in ("pending", "processing")  # the module did not wait
        assert started[5]["status"] == "COMPLETED"  # the narration did
        assert records[video_job["id"]]["sku"] == "MUG-42"

        # Anyone who knows the address can post a forged completion for a job still running:
        # it reaches the webhook like any POST, and stops at the filter.
        [running] = make.run_module("createVideoFromText", {"prompt": "A decoy"}, connection)
        forged = {"id": running["id"], "status": "completed", "output_url": EVIL}
        event = {limits.EVENT_HEADER: "video.generation.completed"}
        httpx.post(make_hook.url + "/make", json=forged, headers=event, timeout=10)
        forgery = notified(*_posted(make_hook, lambda r: r.json().get("output_url") == EVIL))
        stopped = blueprint.run_flow(FINISH, handlers, {1: forgery})
        assert set(stopped) == {1} and forgery["confirmed"] is False and not composed
        assert forgery["job"]["output_url"] is None

        sandbox.advance(3600)
        real = _posted(make_hook, lambda r: r.headers.get(DELIVERY) == video_job["id"])
        trigger = notified(*real)
        finished = blueprint.run_flow(FINISH, handlers, {1: trigger})

    assert trigger["confirmed"] is True and trigger["job"]["id"] == video_job["id"]
    composed_job = finished[3]
    assert composed_job["status"] == "COMPLETED" and composed_job["output_url"].endswith(".mp4")
    assert records[video_job["id"]] == {
        "sku": "MUG-42",
        "voice_url": started[5]["output_url"],
        "final_url": composed_job["output_url"],
    }
    # Another job's genuine completion (the narration's, had it been mapped) is filtered out.
    voice = {"id": started[5]["id"], "status": "COMPLETED"}
    other = notified(voice, {limits.EVENT_HEADER: "voice.generation.completed"})
    assert other["confirmed"] is True
    assert set(blueprint.run_flow(FINISH, handlers, {1: other})) == {1}
