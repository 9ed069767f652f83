"""The Make samples (samples/make/): both commerce-flow blueprints use the app's modules as
the app defines them, and the flow they describe runs end to end — image edit → video from
image → voice, then the trigger continuing with compose — against the sandbox and the relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FAST
from make_iml import blueprint
from make_iml.appfiles import LocalApp
from make_iml.hooks import deliveries
from make_iml.runtime import Runtime, check_parameters

from connector.platforms.make.model import WEBHOOK_ID
from connector.relay.testing import (
    RunningRelay,
    fast_config,
    running_relay,
    running_target,
    sqlite_url,
)
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
            assert name in specs, f"{module_id}: no parameter {name!r}"
            nested = specs[name].get("spec")
            if isinstance(value, dict) and isinstance(nested, list):
                assert set(value) <= {p["name"] for p in nested}, f"{module_id}.{name}"
        missing = [n for n, p in specs.items() if p.get("required") and n not in step["mapper"]]
        assert not missing, f"{module_id}: required {missing}"
        literal = {k: v for k, v in step["mapper"].items() if "{{" not in str(v)}
        check_parameters([specs[k] for k in literal], literal, module_id)


def test_the_second_scenario_starts_with_the_watch_trigger() -> None:
    first, module_id = _app_steps(FINISH)[0]
    assert first is FINISH["flow"][0]
    assert APP.module(module_id).metadata["moduleType"] == "instant_trigger"
    assert APP.module(module_id).metadata["webhook"] == WEBHOOK_ID
    video = next(s for s, m in _app_steps(START) if m == "createVideoFromImage")
    assert "webhook_url" not in video["mapper"], "the video reports to the relay's inbox"


@pytest.fixture
def relay(tmp_path: Path) -> Any:
    with running_relay(fast_config(sqlite_url(tmp_path), embedded_worker=True)) as running:
        yield running


@pytest.mark.slow
def test_the_commerce_flow_runs_end_to_end(sandbox: RunningSandbox, relay: RunningRelay) -> None:
    make = Runtime(APP, delay_scale=FAST)
    connection = make.connect(
        {"apiKey": sandbox.api_key, "baseUrl": sandbox.url, "relayUrl": relay.url}
    )
    records: dict[str, dict[str, Any]] = {}

    def app_step(module_id: str) -> blueprint.Handler:
        return lambda mapper: make.run_module(module_id, mapper, connection)[0]

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

    with running_target() as make_hook:
        trigger = {"events": ["video.generation.completed"], "fanOutBatch": False}
        make.attach(WEBHOOK_ID, trigger, connection, url=make_hook.url + "/make")

        [photo] = make.run_module(
            "generateImage", {"prompt": "A steel travel mug on a kitchen table"}, connection
        )
        product = {
            "sku": "MUG-42",
            "image_url": photo["data"][0]["url"],
            "narration": "Meet the travel mug built for commutes, workouts and long desk days.",
        }
        started = blueprint.run_flow(START, handlers, {1: product})
        video_job = started[4]
        assert video_job["status"] in ("pending", "processing")  # the module did not wait
        assert started[5]["status"] == "COMPLETED"  # the narration did
        assert records[video_job["id"]]["sku"] == "MUG-42"

        sandbox.advance(3600)
        [forwarded] = deliveries(make_hook, 1)
        [bundle] = make.receive(
            WEBHOOK_ID, trigger, body=forwarded.json(), headers=forwarded.headers
        )
        finished = blueprint.run_flow(FINISH, handlers, {1: bundle})

    assert bundle["delivery_id"] == video_job["id"]
    composed = finished[3]
    assert composed["status"] == "COMPLETED" and composed["output_url"].endswith(".mp4")
    assert records[video_job["id"]] == {
        "sku": "MUG-42",
        "voice_url": started[5]["output_url"],
        "final_url": composed["output_url"],
    }
