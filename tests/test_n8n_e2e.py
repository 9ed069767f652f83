"""The package inside real n8n: installed from its `npm pack` tarball, the sample workflows
in samples/n8n/ imported, published and run headless against the sandbox and the relay.

One n8n start serves every test here (n8n 2.41.1 on Node 24 from the npm registry, or the
documented fallback 2.8.4 on Node 20; installed once into ~/.cache/creativeai-connector, see
connector/platforms/n8n/toolchain.py). The tests read finished executions from n8n's
database:

- the commerce flow: one narrated MP4 per product, as binary data, its video and narration
  steps parked and resumed by the relay's join route;
- 25 prompts through the batch path (two batch calls), one result per item;
- the trigger: subscribed at the relay on publish, started by a relay-forwarded event,
  refusing a forged one (401, no execution).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.platforms.n8n import toolchain
from connector.platforms.n8n.instance import Execution, N8nInstance
from connector.relay.testing import RunningRelay, fast_config, running_relay, sqlite_url
from connector.sandbox.harness import RunningSandbox, running_sandbox

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "n8n"
# A cold first run installs n8n (about 5 min) inside the first test's setup.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def sample(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return workflow


COMMERCE = sample("commerce-flow.json")
BATCH = sample("batch-videos.json")
TRIGGER = sample("video-ready-trigger.json")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(time_scale=0.01, rate_limits=False) as running:
        yield running


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRelay]:
    # Retries spaced like a real relay's first ones: n8n answers 409 ("running already")
    # for the moment between a node parking and the execution being saved as waiting.
    config = fast_config(
        sqlite_url(tmp_path_factory.mktemp("relay")),
        embedded_worker=True,
        retry_schedule=(0.0, 0.5, 1.0, 2.0, 4.0),
    )
    with running_relay(config) as running:
        yield running


@pytest.fixture(scope="module")
def n8n(
    tmp_path_factory: pytest.TempPathFactory, sandbox: RunningSandbox, relay: RunningRelay
) -> Iterator[N8nInstance]:
    install = toolchain.n8n()
    package = toolchain.stage(ROOT / "n8n-nodes", tmp_path_factory.mktemp("build") / "pkg")
    package.build()
    tarball = package.pack(tmp_path_factory.mktemp("pack"))
    with N8nInstance(install, tmp_path_factory.mktemp("n8n-home")) as instance:
        instance.install_package(tarball)
        [credential] = json.loads((SAMPLES / "credentials.example.json").read_text())
        credential["data"] = {
            "apiKey": sandbox.api_key,
            "baseUrl": sandbox.url,
            "relayUrl": relay.url,
        }
        instance.import_credentials([credential])
        for workflow in (COMMERCE, BATCH, TRIGGER):
            instance.publish(instance.import_workflow(workflow))
        instance.start()
        instance.wait_for_webhook("creativeai-commerce")
        instance.wait_for_webhook("creativeai-batch")
        print(
            f"\nn8n {install.version}: install {install.install.meta.get('install_seconds')} s "
            f"cold ({'cached' if install.install.cached else 'installed now'}), "
            f"start {instance.start_seconds:.1f} s"
        )
        yield instance


def _api(sandbox: RunningSandbox, method: str, path: str, body: Any = None) -> Any:
    answer = sandbox.http.request(method, path, json=body)
    answer.raise_for_status()
    return answer.json()


def _relay_api(relay: RunningRelay, key: str, method: str, path: str) -> Any:
    answer = httpx.request(method, relay.url + path, headers={"Authorization": f"Bearer {key}"})
    answer.raise_for_status()
    return answer.json()


def _last_id(n8n: N8nInstance, workflow_id: str) -> int:
    runs = n8n.executions(workflow_id)
    return runs[-1].id if runs else 0


def _succeeded(n8n: N8nInstance, workflow_id: str, after: int, timeout: float = 180) -> Execution:
    execution = n8n.wait_for_execution(workflow_id, after=after, timeout=timeout)
    assert execution.status == "success", (execution.error, n8n.log()[-5000:])
    return execution


def test_the_commerce_flow_makes_one_narrated_mp4_per_product(
    n8n: N8nInstance, sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    images = _api(sandbox, "POST", "/v1/images/generations", {"prompt": "a travel mug", "n": 3})
    products = [
        {
            "sku": f"MUG-{n}",
            "name": f"travel mug {n}",
            "image_url": image["url"],
            "narration": f"Meet travel mug number {n}, built for long commutes.",
        }
        for n, image in enumerate(images["data"], 1)
    ]
    before = _last_id(n8n, COMMERCE["id"])
    started = httpx.post(f"{n8n.url}/webhook/creativeai-commerce", json={"products": products})
    assert started.status_code == 200, started.text
    execution = _succeeded(n8n, COMMERCE["id"], before)

    records = execution.node_output("One Record per SKU")
    assert [r["json"]["sku"] for r in records] == [p["sku"] for p in products]
    for record in records:
        file = record["binary"]["video"]
        assert file["mimeType"] == "video/mp4"
        assert file["fileName"].endswith(".mp4")
        assert n8n.binary_file(file)[4:8] == b"ftyp"
        assert record["json"]["mp4_url"].endswith(".mp4")
    # The video and narration steps parked, and the relay's join resumed each once.
    deliveries = _relay_api(
        relay, sandbox.api_key, "GET", "/v1/deliveries?event=relay.join.completed"
    )
    to_this_run = [
        d for d in deliveries["data"] if f"/webhook-waiting/{execution.id}" in d["target_url"]
    ]
    assert len(to_this_run) == 2, deliveries
    assert all(d["status"] == "succeeded" for d in to_this_run), to_this_run
    clips = execution.node_output("Motion Clip")
    assert [c["json"]["status"] for c in clips] == ["completed"] * 3
    assert [c["pairedItem"]["item"] for c in clips] == [0, 1, 2]


def test_25_items_go_through_batch_calls_with_one_result_each(
    n8n: N8nInstance, sandbox: RunningSandbox
) -> None:
    batches_before = len(sandbox.control("GET", "/batches")["batches"])
    before = _last_id(n8n, BATCH["id"])
    prompts = [{"prompt": f"Product showcase {n}, rotating 360 degrees"} for n in range(25)]
    started = httpx.post(f"{n8n.url}/webhook/creativeai-batch", json={"prompts": prompts})
    assert started.status_code == 200, started.text
    execution = _succeeded(n8n, BATCH["id"], before)

    videos = execution.node_output("Videos")
    assert len(videos) == 25
    assert [v["pairedItem"]["item"] for v in videos] == list(range(25))
    assert [v["json"]["prompt"] for v in videos] == [p["prompt"] for p in prompts]
    assert all(v["json"]["status"] == "completed" and v["json"]["output_url"] for v in videos)
    assert len({v["json"]["batch_id"] for v in videos}) == 2
    assert len(sandbox.control("GET", "/batches")["batches"]) - batches_before == 2


def test_the_trigger_fires_on_a_relay_forwarded_event_and_refuses_a_forged_one(
    n8n: N8nInstance, sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    subscriptions = _relay_api(relay, sandbox.api_key, "GET", "/v1/subscriptions")["data"]
    [sub] = [s for s in subscriptions if s["status"] == "active"]
    trigger_url = sub["target_url"]
    assert trigger_url.startswith(f"{n8n.url}/webhook/")
    before = _last_id(n8n, TRIGGER["id"])

    body = json.dumps({"id": "vgen_forged", "object": "video.generation", "status": "completed"})
    forged = [
        {"content-type": "application/json"},
        {
            "content-type": "application/json",
            "webhook-id": "msg_forged",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,bm90IGEgcmVhbCBzaWduYXR1cmU=",
        },
        {
            "content-type": "application/json",
            "x-creativeai-signature": "sha256="
            + hmac.new(b"not-the-key", body.encode(), hashlib.sha256).hexdigest(),
        },
    ]
    for headers in forged:
        answer = httpx.post(trigger_url, content=body, headers=headers)
        assert answer.status_code == 401, answer.text

    inbox = _relay_api(relay, sandbox.api_key, "GET", "/v1/inbox")["webhook_url"]
    job = _api(
        sandbox,
        "POST",
        "/v1/video/generations",
        {"prompt": "finished for the trigger", "duration": 3, "webhook_url": inbox},
    )
    execution = _succeeded(n8n, TRIGGER["id"], before)
    [event] = execution.node_output("Video Ready")
    assert event["json"]["id"] == job["id"]
    assert event["json"]["via"] == "relay"
    assert event["json"]["event"] == "video.generation.completed"
    [fetched] = execution.node_output("Fetch the Video")
    assert n8n.binary_file(fetched["binary"]["video"])[4:8] == b"ftyp"
    # Only the genuine event started the workflow: the forged ones started nothing.
    assert [e.id for e in n8n.executions(TRIGGER["id"]) if e.id > before] == [execution.id]
