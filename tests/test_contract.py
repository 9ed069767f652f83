"""The output contract against a live sandbox: a job polled to its end and the same job's
webhook shape into exactly the contract's keys, with the status spelled for its kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector.catalog import CATALOG, JobKind, NormalizedState, contract, states
from connector.catalog.spec import OperationKind
from connector.sandbox.harness import RunningSandbox, WebhookSink

Factory = Callable[..., RunningSandbox]


@pytest.fixture
def frozen(sandbox_factory: Factory) -> RunningSandbox:
    """A sandbox whose clock barely moves unless the test advances it."""
    return sandbox_factory(time_scale=1000.0)


def _keys(out: contract.Output) -> set[str]:
    return set(out.keys)


def _item_keys(out: contract.Output, key: str) -> set[str]:
    return {c.key for c in out.field(key).children}


CASES = [
    ("video.create_from_text", {"prompt": "A lighthouse at dawn"}),
    ("voice.create", {"text": "Your launch assets are ready."}),
    (
        "compose.create",
        {
            "video_url": "https://e.com/v.mp4",
            "audio_url": "https://e.com/a.mp3",
            "replace_audio": True,
        },
    ),
    ("chart.create", {"chart_image_url": "https://e.com/c.png"}),
    ("voice.create", {"text": "x [sandbox:fail]"}),
]


@pytest.mark.parametrize(("op_key", "body"), CASES, ids=[f"{k} {b}"[:40] for k, b in CASES])
def test_polled_and_webhook_outputs_have_the_contracts_keys_and_spelling(
    frozen: RunningSandbox, webhook_sink: WebhookSink, op_key: str, body: dict[str, Any]
) -> None:
    op = CATALOG.operation(op_key)
    assert op.job is not None and op.status_operation is not None
    answer = frozen.http.post(op.path, json={**body, "webhook_url": webhook_sink.url_for()})
    assert answer.status_code == 202, answer.text
    created = answer.json()
    out = CATALOG.output(op_key)
    first = out.shape(created)
    assert set(first) == _keys(out)
    assert first["status"] in states.STATUSES[op.job]
    assert first["state"] in ("pending", "processing")

    frozen.advance(op.duration.longest_s if op.duration else 600)
    status_op = CATALOG.operation(op.status_operation)
    polled = frozen.http.get(status_op.path.replace("{id}", created["id"]))
    assert polled.status_code == 200, polled.text
    shaped = out.shape(polled.json())
    assert set(shaped) == _keys(out) == set(CATALOG.output(status_op.key).sample)
    assert shaped["status"] in states.STATUSES[op.job]

    [hook] = webhook_sink.wait_for(1)
    event = hook.header("X-CreativeAI-Event")
    assert event in op.events
    ev_out = CATALOG.event_output(str(event))
    from_hook = ev_out.shape(hook.json())
    assert set(from_hook) == _keys(ev_out) == set(ev_out.sample)
    # One spelling per kind on every path: the webhook says what the status endpoint says.
    assert from_hook["status"] == shaped["status"]
    assert from_hook["state"] == shaped["state"] == CATALOG.events[str(event)].state.value
    assert from_hook["id"] == shaped["id"] == created["id"]
    if shaped["state"] == "failed":  # the reason reaches the workflow on both paths
        assert shaped["error_message"] and from_hook["error_message"]
        assert shaped["error"]["message"] == from_hook["error"]["message"]


def test_a_batch_polled_and_by_webhook(frozen: RunningSandbox, webhook_sink: WebhookSink) -> None:
    op = CATALOG.operation("batch.create")
    body = {
        "prompts": [{"prompt": "one"}, {"prompt": "two"}],
        "webhook_url": webhook_sink.url_for(),
    }
    created = frozen.http.post(op.path, json=body).json()
    out = CATALOG.output("batch.create")
    assert out.shape(created)["state"] == "pending"
    frozen.advance(600)
    polled = frozen.http.get(f"/v1/video/generations/batch/{created['batch_id']}").json()
    shaped = out.shape(polled)
    assert set(shaped) == _keys(out)
    assert (shaped["status"], shaped["state"]) == ("completed", "completed")
    assert all(set(job) == _item_keys(out, "jobs") for job in shaped["jobs"])
    [hook] = webhook_sink.wait_for(1)
    ev_out = CATALOG.event_output("video.batch.completed")
    from_hook = ev_out.shape(hook.json())
    assert set(from_hook) == _keys(ev_out)
    assert from_hook["status"] == shaped["status"]
    assert all(set(job) == _item_keys(ev_out, "jobs") for job in from_hook["jobs"])


def test_every_operation_and_event_has_a_sample_of_exactly_its_keys() -> None:
    for key, op in CATALOG.operations.items():
        out = CATALOG.output(key)
        assert set(out.sample) == _keys(out), key
        assert out.sample == out.shape(out.sample), key  # shaping is idempotent
        if op.job is not None:
            assert out.sample["status"] in states.STATUSES[out.job or op.job], key
            assert out.sample["state"] in {s.value for s in NormalizedState}, key
    for name, event in CATALOG.events.items():
        out = CATALOG.event_output(name)
        assert set(out.sample) == _keys(out), name
        assert out.sample["state"] == event.state.value, name
        assert all(v is not None for k, v in out.sample.items() if k in ("id", "batch_id")), name


def test_a_voice_job_is_spelled_upper_case_on_every_path() -> None:
    documented_webhook = contract.WEBHOOK_SAMPLES["voice.generation.completed"]
    assert documented_webhook["status"] == "completed"  # how the docs' example spells it
    assert CATALOG.event_output("voice.generation.completed").sample["status"] == "COMPLETED"
    assert CATALOG.output("job.get").sample["status"] == "COMPLETED"
    assert CATALOG.output("voice.create").shape({"id": "v", "status": "processing"}) | {} == {
        **dict.fromkeys(CATALOG.output("voice.create").keys),
        "id": "v",
        "status": "PROCESSING",
        "state": "processing",
    }


def test_creates_output_what_their_status_operation_outputs() -> None:
    for op in CATALOG.operations.values():
        if op.kind is OperationKind.CREATE and op.status_operation:
            assert CATALOG.output(op.key).keys == CATALOG.output(op.status_operation).keys


def test_spell_keeps_each_kinds_letter_case() -> None:
    assert states.spell(JobKind.SHARED, NormalizedState.COMPLETED) == "COMPLETED"
    assert states.spell(JobKind.VIDEO, NormalizedState.COMPLETED) == "completed"
    assert states.spell(JobKind.VIDEO, NormalizedState.CANCELED) == "canceled"
    assert states.spell(JobKind.SHARED, NormalizedState.CANCELED) == "CANCELED"


def test_unknown_keys_are_dropped_and_missing_ones_are_none() -> None:
    out = CATALOG.output("video.get")
    shaped = out.shape({"id": "vgen_1", "status": "pending", "debug": {"x": 1}})
    assert "debug" not in shaped and shaped["output_url"] is None
    assert (shaped["status"], shaped["state"]) == ("pending", "pending")
