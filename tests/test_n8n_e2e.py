"""The package inside real n8n: installed from its `npm pack` tarball, the sample workflows
in samples/n8n/ imported, published and run headless against the sandbox and the relay.

One n8n start serves every test here (n8n 2.41.1 on Node 24 from the npm registry, or the
documented fallback 2.8.4 on Node 20; installed once into ~/.cache/creativeai-connector, see
tests/n8n_toolchain.py). The tests read finished executions from n8n's
database:

- the commerce flow: one narrated MP4 per product, as binary data, its video and narration
  steps parked and resumed by the relay's join route;
- 25 prompts through the batch path (two batch calls), one result per item;
- the trigger: subscribed at the relay on publish, started by a relay-forwarded event,
  refusing a forged one (401, no execution);
- a batch the API refuses for one prompt (content policy): that item carries the error,
  the others run in the same execution, each paired to its input;
- each delivery starts one run: the API's three attempts and a replay without a relay;
  with one, direct API-signed posts get 401 and the relay sending a message again starts
  nothing.
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
import n8n_toolchain as toolchain
import pytest
from n8n_instance import Execution, N8nInstance

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
DIRECT_CREDENTIAL = {"id": "creativeaiDirect", "name": "CreativeAI without a relay"}


def variant(workflow: dict[str, Any], ident: str, tag: str) -> dict[str, Any]:
    """A copy of a sample under another id, its webhook paths and ids suffixed with `tag`."""
    copy: dict[str, Any] = json.loads(json.dumps(workflow))
    copy.update(id=ident, name=f"{workflow['name']} ({tag})")
    for node in copy["nodes"]:
        if "webhookId" in node:
            node["webhookId"] = f"{node['webhookId'][: -len(tag) - 1]}-{tag}"
        if node["parameters"].get("path"):
            node["parameters"]["path"] = f"{node['parameters']['path']}-{tag}"
    return copy


# The batch sample with the node set to pass failed items on (n8n's "On Error: Continue").
BATCH_ON_ERROR_CONTINUE = variant(BATCH, "creativeaiBatchCo", "continue")
for _node in BATCH_ON_ERROR_CONTINUE["nodes"]:
    if _node["name"] == "Videos":
        _node["onError"] = "continueRegularOutput"
# The trigger sample on a credential without a relay: the API posts straight to n8n.
TRIGGER_DIRECT = variant(TRIGGER, "creativeaiTrigDir", "direct")
for _node in TRIGGER_DIRECT["nodes"]:
    _node["credentials"] = {"creativeAiApi": dict(DIRECT_CREDENTIAL)}


# A published workflow whose paid steps name the row they are for (Record Key): a webhook
# row -> narration (Poll Until Done) -> a clip (Resume by Webhook). On the credential without
# a relay, n8n keeps each node's key -> job in the workflow's static data (saved for
# production runs); RECORDS_RELAY is the same workflow on the relay's credential (its ledger).
RECORDS: dict[str, Any] = {
    "id": "creativeaiRecords",
    "name": "CreativeAI: one narrated clip per row",
    "nodes": [
        {
            "id": "0b1f6a70-0000-4000-8000-000000000061",
            "name": "Row",
            "type": "n8n-nodes-base.webhook",
            "typeVersion": 2,
            "position": [0, 0],
            "parameters": {"httpMethod": "POST", "path": "creativeai-record", "options": {}},
            "webhookId": "0b1f6a70-0000-4000-8000-0000000000c1",
        },
        {
            "id": "0b1f6a70-0000-4000-8000-000000000062",
            "name": "Narration",
            "type": "n8n-nodes-creativeai.creativeAi",
            "typeVersion": 1,
            "position": [220, 0],
            "onError": "continueRegularOutput",
            "parameters": {
                "resource": "voice",
                "operation": "create",
                "text": "={{ $json.body.text }}",
                "completion": "poll",
                "pollInterval": 1,
                "timeout": 120,
                "options": {"recordKey": "={{ $json.body.sku }}"},
            },
            "credentials": {"creativeAiApi": dict(DIRECT_CREDENTIAL)},
        },
        {
            "id": "0b1f6a70-0000-4000-8000-000000000063",
            "name": "Clip",
            "type": "n8n-nodes-creativeai.creativeAi",
            "typeVersion": 1,
            "position": [440, 0],
            "onError": "continueRegularOutput",
            "parameters": {
                "resource": "video",
                "operation": "createFromText",
                "prompt": "={{ $('Row').item.json.body.prompt }}",
                "completion": "webhook",
                "timeout": 600,
                "additionalFields": {"duration": 3},
                "options": {"recordKey": "={{ $('Row').item.json.body.sku }}"},
            },
            "credentials": {"creativeAiApi": dict(DIRECT_CREDENTIAL)},
        },
    ],
    "connections": {
        "Row": {"main": [[{"node": "Narration", "type": "main", "index": 0}]]},
        "Narration": {"main": [[{"node": "Clip", "type": "main", "index": 0}]]},
    },
    "settings": {"executionOrder": "v1"},
    "active": False,
    "pinData": {},
}


RECORDS_RELAY = variant(RECORDS, "creativeaiRecRelay", "relay")
for _node in RECORDS_RELAY["nodes"]:
    if "credentials" in _node:
        _node["credentials"] = {
            "creativeAiApi": {"id": "creativeaiAccount", "name": "CreativeAI account"}
        }


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
        direct = {**credential, **DIRECT_CREDENTIAL}
        direct["data"] = {**credential["data"], "relayUrl": ""}
        instance.import_credentials([credential, direct])
        workflows = (
            *(COMMERCE, BATCH, TRIGGER, BATCH_ON_ERROR_CONTINUE, TRIGGER_DIRECT),
            *(RECORDS, RECORDS_RELAY),
        )
        for workflow in workflows:
            instance.publish(instance.import_workflow(workflow))
        instance.start()
        instance.wait_for_webhook("creativeai-commerce")
        instance.wait_for_webhook("creativeai-batch")
        instance.wait_for_webhook("creativeai-batch-continue")
        instance.wait_for_webhook("creativeai-record")
        instance.wait_for_webhook("creativeai-record-relay")
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
    trigger_url = _active_subscription(relay, sandbox.api_key)["target_url"]
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


def test_a_batch_the_api_refuses_for_one_prompt_still_runs_the_others(
    n8n: N8nInstance, sandbox: RunningSandbox
) -> None:
    """One prompt flagged by content policy (400 naming prompts[2].prompt): that item carries
    the error, the others are sent again without it in the same execution, each paired."""
    batches_before = len(sandbox.control("GET", "/batches")["batches"])
    before = _last_id(n8n, BATCH_ON_ERROR_CONTINUE["id"])
    prompts = [{"prompt": f"Showcase {n}, slow orbit"} for n in range(5)]
    prompts[2] = {"prompt": "Showcase 2 [sandbox:content_policy]"}
    started = httpx.post(
        f"{n8n.url}/webhook/creativeai-batch-continue", json={"prompts": prompts}, timeout=30
    )
    assert started.status_code == 200, started.text
    execution = _succeeded(n8n, BATCH_ON_ERROR_CONTINUE["id"], before)

    videos = execution.node_output("Videos")
    assert [v["pairedItem"]["item"] for v in videos] == [0, 1, 2, 3, 4]
    refused = videos[2]["json"]
    assert "usage policy" in refused["error"] and "(field: prompt)" in refused["error"], refused
    for n in (0, 1, 3, 4):
        video = videos[n]["json"]
        assert video["prompt"] == prompts[n]["prompt"]
        assert video["status"] == "completed" and video["output_url"], video
    # One batch ran: the four valid prompts, accepted on the second call.
    [batch] = sandbox.control("GET", "/batches")["batches"][batches_before:]
    assert batch["total_jobs"] == 4, batch


def _api_delivery(api_key: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A completion webhook exactly as the API sends it on every attempt of one delivery."""
    raw = json.dumps(body).encode()
    signature = hmac.new(api_key.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {
        "content-type": "application/json",
        "x-creativeai-event": f"{body['object']}.{body['status']}",
        "x-creativeai-delivery-id": str(body["id"]),
        "x-creativeai-signature": f"sha256={signature}",
    }


def _active_subscription(relay: RunningRelay, key: str, timeout: float = 30) -> Any:
    """The trigger's relay subscription (made when n8n activates the published workflow)."""
    deadline = time.monotonic() + timeout
    while True:
        subs = _relay_api(relay, key, "GET", "/v1/subscriptions")["data"]
        active = [s for s in subs if s["status"] == "active"]
        if active or time.monotonic() > deadline:
            [sub] = active
            return sub
        time.sleep(0.25)


def _runs_after(n8n: N8nInstance, workflow_id: str, after: int) -> list[Execution]:
    return [e for e in n8n.executions(workflow_id) if e.id > after]


def test_without_a_relay_the_apis_retries_and_a_replay_start_one_run(
    n8n: N8nInstance, sandbox: RunningSandbox
) -> None:
    [trigger] = [n for n in TRIGGER_DIRECT["nodes"] if "webhookId" in n]
    url = f"{n8n.url}/webhook/{trigger['webhookId']}/webhook"
    # Two jobs: the second arrives once the trigger has remembered the first (the workflow's
    # static data is no longer empty, which changes how n8n keeps it).
    for n in range(2):
        start = {"prompt": f"retried {n}", "duration": 3}
        job = _api(sandbox, "POST", "/v1/video/generations", start)
        done = _api(sandbox, "GET", f"/v1/video/generations/{job['id']}")
        body = {**done, "object": "video.generation", "status": "completed"}
        raw, headers = _api_delivery(sandbox.api_key, body)
        before = _last_id(n8n, TRIGGER_DIRECT["id"])

        # The API's three attempts (0 s, 5 s, 30 s apart in production), then a replay.
        answers = [httpx.post(url, content=raw, headers=headers, timeout=30) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        execution = _succeeded(n8n, TRIGGER_DIRECT["id"], before)
        replayed = httpx.post(url, content=raw, headers=headers, timeout=30)
        assert replayed.status_code == 200, replayed.text
        time.sleep(2)  # time enough for a run to be stored, were one started
        runs = [e.id for e in _runs_after(n8n, TRIGGER_DIRECT["id"], before)]
        assert runs == [execution.id], (n, n8n.static_data(TRIGGER_DIRECT["id"]))
        [event] = execution.node_output("Video Ready")
        assert event["json"]["id"] == job["id"] and event["json"]["via"] == "api"
        assert event["json"]["state"] == "completed"


def test_with_a_relay_direct_posts_are_refused_and_a_redelivery_starts_nothing(
    n8n: N8nInstance, sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    sub = _active_subscription(relay, sandbox.api_key)
    trigger_url = sub["target_url"]
    before = _last_id(n8n, TRIGGER["id"])

    # A genuine API-signed post sent straight to a trigger that receives through the relay.
    job = _api(sandbox, "POST", "/v1/video/generations", {"prompt": "direct", "duration": 3})
    raw, headers = _api_delivery(
        sandbox.api_key, {"id": job["id"], "object": "video.generation", "status": "completed"}
    )
    for _ in range(3):
        answer = httpx.post(trigger_url, content=raw, headers=headers, timeout=30)
        assert answer.status_code == 401, answer.text

    # The real event, through the relay; then the relay sends the same message again.
    inbox = _relay_api(relay, sandbox.api_key, "GET", "/v1/inbox")["webhook_url"]
    job = _api(
        sandbox,
        "POST",
        "/v1/video/generations",
        {"prompt": "through the relay", "duration": 3, "webhook_url": inbox},
    )
    execution = _succeeded(n8n, TRIGGER["id"], before)
    [event] = execution.node_output("Video Ready")
    assert event["json"]["id"] == job["id"]
    # n8n can finish the run before the relay has recorded its attempt as succeeded.
    deadline = time.monotonic() + 20
    while True:
        deliveries = _relay_api(
            relay, sandbox.api_key, "GET", f"/v1/deliveries?subscription_id={sub['id']}"
        )["data"]
        done = [d for d in deliveries if d["status"] == "succeeded" and job["id"] in str(d)]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert len(done) == 1, deliveries
    [delivery] = done
    _relay_api(relay, sandbox.api_key, "POST", f"/v1/deliveries/{delivery['id']}/retry")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        again = _relay_api(relay, sandbox.api_key, "GET", f"/v1/deliveries/{delivery['id']}")
        if again["status"] == "succeeded" and again["attempts"] > delivery["attempts"]:
            break
        time.sleep(0.25)
    else:
        raise AssertionError(f"the relay did not send the delivery again: {again}")
    time.sleep(2)
    runs = [e.id for e in _runs_after(n8n, TRIGGER["id"], before)]
    assert runs == [execution.id], (again, n8n.static_data(TRIGGER["id"]))


def _jobs(sandbox: RunningSandbox, operation: str) -> list[dict[str, Any]]:
    """Every job of `operation` the sandbox started (a paid create each)."""
    jobs: list[dict[str, Any]] = sandbox.control("GET", f"/jobs?operation={operation}")["jobs"]
    return jobs


def _run_row(
    n8n: N8nInstance, row: dict[str, str], workflow: dict[str, Any] = RECORDS
) -> Execution:
    before = _last_id(n8n, workflow["id"])
    [hook] = [n for n in workflow["nodes"] if n["name"] == "Row"]
    url = f"{n8n.url}/webhook/{hook['parameters']['path']}"
    started = httpx.post(url, json=row, timeout=30)
    assert started.status_code == 200, started.text
    return _succeeded(n8n, workflow["id"], before)


def test_the_same_record_key_run_twice_starts_one_job_per_step(
    n8n: N8nInstance, sandbox: RunningSandbox
) -> None:
    """The published workflow run twice for one row (production executions, webhook-started):
    the narration (polled) and the clip (parked, resumed by the relay) each reach the sandbox
    once; the second run returns the same jobs, finished, from the workflow's static data."""
    row = {"sku": "MUG-RK-1", "text": "Meet mug RK one.", "prompt": "Mug RK one turntable"}
    voices_before = len(_jobs(sandbox, "voice.create"))
    clips_before = len(_jobs(sandbox, "video.create_from_text"))
    runs = [_run_row(n8n, row) for _ in range(2)]
    voices = _jobs(sandbox, "voice.create")[voices_before:]
    clips = _jobs(sandbox, "video.create_from_text")[clips_before:]
    print(f"\nRecord Key, two runs in n8n: {len(voices)} voice and {len(clips)} video creates")
    assert len(voices) == 1 and len(clips) == 1, (voices, clips)
    assert clips[0]["prompt"] == row["prompt"]
    for execution in runs:
        assert execution.mode == "webhook"  # production executions, started by the webhook
        [narration] = execution.node_output("Narration")
        [clip] = execution.node_output("Clip")
        assert narration["json"]["id"] == voices[0]["id"], narration
        assert clip["json"]["id"] == clips[0]["id"], clip
        assert clip["json"]["state"] == "completed" and clip["json"]["output_url"], clip
        assert narration["json"]["credits"] > 0 and clip["json"]["credits"] > 0
    static = n8n.static_data(RECORDS["id"])
    assert "node:Narration" in static, static
    assert static["node:Narration"]["ledger"]["voice.create"]["MUG-RK-1"]["job"] == voices[0]["id"]
    assert (
        static["node:Clip"]["ledger"]["video.create_from_text"]["MUG-RK-1"]["job"] == clips[0]["id"]
    )


def test_a_record_key_whose_job_failed_starts_again(
    n8n: N8nInstance, sandbox: RunningSandbox
) -> None:
    row = {
        "sku": "MUG-RK-FAIL",
        "text": "Mug RK fail [sandbox:fail]",
        "prompt": "Mug RK fail turntable [sandbox:fail]",
    }
    voices_before = len(_jobs(sandbox, "voice.create"))
    clips_before = len(_jobs(sandbox, "video.create_from_text"))
    for n in (1, 2):
        execution = _run_row(n8n, row)
        [narration] = execution.node_output("Narration")
        assert "failed" in narration["json"]["error"], narration
        [clip] = execution.node_output("Clip")
        assert "failed" in clip["json"]["error"], clip
        voices = _jobs(sandbox, "voice.create")[voices_before:]
        clips = _jobs(sandbox, "video.create_from_text")[clips_before:]
        assert len(voices) == n and len(clips) == n, (n, voices, clips)


def test_with_a_relay_the_same_record_key_run_twice_starts_one_job_kept_in_its_ledger(
    n8n: N8nInstance, sandbox: RunningSandbox, relay: RunningRelay
) -> None:
    row = {"sku": "MUG-RK/2", "text": "Meet mug RK two.", "prompt": "Mug RK two turntable"}
    voices_before = len(_jobs(sandbox, "voice.create"))
    clips_before = len(_jobs(sandbox, "video.create_from_text"))
    runs = [_run_row(n8n, row, RECORDS_RELAY) for _ in range(2)]
    voices = _jobs(sandbox, "voice.create")[voices_before:]
    clips = _jobs(sandbox, "video.create_from_text")[clips_before:]
    print(f"\nRecord Key with the relay, two runs: {len(voices)} voice, {len(clips)} video creates")
    assert len(voices) == 1 and len(clips) == 1, (voices, clips)
    for execution in runs:
        [clip] = execution.node_output("Clip")
        assert clip["json"]["id"] == clips[0]["id"] and clip["json"]["state"] == "completed"
    key = "MUG-RK%2F2"
    entry = _relay_api(relay, sandbox.api_key, "GET", f"/v1/ledger/video.create_from_text/{key}")
    assert entry["job_id"] == clips[0]["id"]
    assert not n8n.static_data(RECORDS_RELAY["id"]).get("node:Clip", {}).get("ledger")
