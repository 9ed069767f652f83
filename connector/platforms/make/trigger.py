"""The two instant triggers: how a scenario continues when a job ends.

- **Watch job notifications** (no relay): a dedicated webhook whose address the builder maps
  into a create module's Webhook URL, as the API docs' own Make recipe does. Make cannot
  check the API's signature, so a notification is only a hint: the trigger fetches the job
  back with the connection's key (an instant trigger may make one request per bundle) and
  outputs what the API says, with `confirmed` true only when the job really ended the way the
  event claims. A forged POST never passes as a completion; the scenario filters on
  `confirmed`.
- **Watch completed generations** (relay): creating the webhook subscribes it at the
  builder's CreativeAI relay for the chosen events (`attach`), deleting it ends the
  subscription (`detach`). The relay verifies the signature, drops duplicates and forwards.
"""

from __future__ import annotations

from collections.abc import Iterable

from connector.catalog import (
    Catalog,
    Event,
    JobKind,
    NormalizedState,
    events,
    limits,
    states,
    text,
)
from connector.catalog.contract import Output, OutputField
from connector.platforms.make import iml, outputs, params
from connector.platforms.make.base import LOG, auth_headers
from connector.platforms.make.iml import path, tpl
from connector.platforms.make.iml import text as literal
from connector.platforms.make.model import (
    API_KEY,
    CONNECTION_ID,
    NOTICE_TRIGGER_LABEL,
    NOTICE_WEBHOOK_ID,
    PLATFORM,
    RELAY_SUBSCRIPTIONS,
    RELAY_TRIGGER_LABEL,
    RELAY_URL,
    WEBHOOK_ID,
    Component,
    Json,
)
from connector.platforms.make.modules import module

EVENTS_PARAM, FAN_OUT_PARAM = "events", "fanOutBatch"
SUBSCRIPTION = "subscriptionId"  # webhook data saved by attach, read by detach
#: What the notification webhook passes to its trigger (Make calls the bundle `payload`).
JOB_ID = "job_id"
CONFIRMED = "confirmed"


def trigger_events(catalog: Catalog) -> list[Event]:
    """The events a job started from one of the app's modules can end with."""
    mine = {op.key for op in catalog.for_platform(PLATFORM)}
    return [e for e in catalog.events.values() if mine & set(e.operations)]


def default_events(catalog: Catalog) -> list[str]:
    """A single video's completion: what a job too long to wait for in a module ends with
    (the second commerce scenario continues from it)."""
    return [
        e.name
        for e in trigger_events(catalog)
        if e.state is NormalizedState.COMPLETED
        and all(catalog.operation(o).job is JobKind.VIDEO for o in e.operations)
    ]


def _headers_output() -> Json:
    return {
        "event": tpl(path("headers", limits.EVENT_HEADER.lower())),
        "delivery_id": tpl(path("headers", limits.DELIVERY_ID_HEADER.lower())),
    }


def _event_options(found: Iterable[Event]) -> list[Json]:
    return [{"label": text.sentence_case(e.label), "value": e.name} for e in found]


# -- without a relay: notifications, checked by fetching the job back --------------------------


def notice_webhook(catalog: Catalog) -> Component:
    """Receives the API's POST as is; names the job it claims to be about."""
    communication = {
        "output": {
            **_headers_output(),
            JOB_ID: tpl(f"ifempty({path('body', 'batch_id')}, {path('body', 'id')})"),
        }
    }
    return Component(
        "webhook",
        NOTICE_WEBHOOK_ID,
        {"label": "Job notifications", "webhookType": "web", "connection": CONNECTION_ID},
        {"communication": communication, "params": []},
    )


def _claims(event: str) -> str:
    return f"{path('payload', 'event')} == {literal(event)}"


def _status_path(catalog: Catalog, event: Event) -> tuple[str, JobKind]:
    """The GET that reads the job an event is about, and how that job is followed."""
    op = catalog.operation(event.operations[0])
    if op.status_operation is None or op.job is None:
        raise ValueError(f"{event.name}: {op.key} has no status operation to confirm it")
    status = catalog.operation(op.status_operation)
    (param,) = status.path_params
    return status.path.replace("{" + param.name + "}", ""), op.job


def _fetch_url(catalog: Catalog, found: list[Event]) -> str:
    """`if(event is one of A, pathA, if(…, pathB, …))` + the claimed id, URL-encoded."""
    by_path: dict[str, list[str]] = {}
    for event in found:
        prefix, _ = _status_path(catalog, event)
        by_path.setdefault(prefix, []).append(event.name)
    *tested, (fallback, _) = list(by_path.items())
    expression = literal(fallback)
    for prefix, names in reversed(tested):
        test = " || ".join(_claims(n) for n in names)
        expression = f"if({test}, {literal(prefix)}, {expression})"
    return tpl(f"{expression} + encodeURL({path('payload', JOB_ID)})")


def _ended_as_claimed(catalog: Catalog, event: Event) -> str:
    """True when the fetched job is the claimed one and in the event's state."""
    _, kind = _status_path(catalog, event)
    claimed = path("payload", JOB_ID)
    if kind is JobKind.BATCH:  # a batch has counts, not a status: done when all have ended
        same = f"{path('body', 'batch_id')} == {claimed}"
        done = (
            f"{path('body', 'completed')} + {path('body', 'failed')} == "
            f"{path('body', 'total_jobs')}"
        )
        return f"if({same}, {done}, false)"
    spellings = [raw for raw, state in states.STATUSES[kind].items() if state is event.state]
    same = f"{path('body', 'id')} == {claimed}"
    return f"if({same}, {iml.any_equal(path('body', 'status'), spellings)}, false)"


def _confirmed(catalog: Catalog, found: list[Event]) -> str:
    """`if(event is A or B, check for A and B, if(…, false))`: events checked alike share one
    branch."""
    by_check: dict[str, list[str]] = {}
    for event in found:
        by_check.setdefault(_ended_as_claimed(catalog, event), []).append(event.name)
    expression = "false"
    for check, names in reversed(list(by_check.items())):
        test = " || ".join(_claims(n) for n in names)
        expression = f"if({test}, {check}, {expression})"
    return tpl(expression)


def _fetched(catalog: Catalog, found: list[Event]) -> list[Output]:
    """What the status operation of each event's job outputs."""
    out = []
    for event in found:
        op = catalog.operation(event.operations[0])
        assert op.status_operation is not None
        out.append(catalog.output(op.status_operation))
    return out


def _event_fields() -> list[Json]:
    return [
        {"name": "event", "type": "text", "label": "Event"},
        {"name": "delivery_id", "type": "text", "label": "Delivery ID"},
    ]


def notice_trigger(catalog: Catalog) -> Component:
    found = trigger_events(catalog)
    job_fields = outputs.merged(_fetched(catalog, found))
    communication = {
        "url": _fetch_url(catalog, found),
        "method": "GET",
        "response": {
            "output": {
                "event": "{{payload.event}}",
                "delivery_id": "{{payload.delivery_id}}",
                CONFIRMED: _confirmed(catalog, found),
                "job": outputs.shaped("body", job_fields, None),
            }
        },
    }
    interface = [
        *_event_fields(),
        {
            "name": CONFIRMED,
            "type": "boolean",
            "label": "Confirmed",
            "help": "Yes when CreativeAI, asked with your key, says the job ended as the event "
            "claims. Put a filter on it: anyone who knows the webhook address can post to it.",
        },
        {
            "name": "job",
            "type": "collection",
            "label": "Job",
            "help": "The job as the API returns it when asked, never what was posted.",
            "spec": outputs.interface(job_fields),
        },
    ]
    job_sample = _fetched(catalog, found[:1])[0].sample
    sample = {
        "event": found[0].name,
        "delivery_id": job_sample.get("id", ""),
        CONFIRMED: True,
        "job": outputs.sample_of(job_fields, job_sample),
    }
    component = module(
        NOTICE_TRIGGER_LABEL,
        text.trigger_description(
            "CreativeAI posts to this webhook's address (mapped into a module's Webhook URL) "
            "that a job has ended; fetches the job back to confirm it"
        ),
        "instant_trigger",
        {
            "communication": communication,
            "staticParams": [],
            "interface": interface,
            "samples": sample,
        },
    )
    component.metadata["webhook"] = NOTICE_WEBHOOK_ID
    return component


# -- with a relay: verified, deduplicated, forwarded --------------------------------------------


def relay_webhook(catalog: Catalog) -> Component:
    found = trigger_events(catalog)
    inferred = [e.name for e in found if not e.documented]
    events_help = "Which job endings start the scenario."
    if inferred:
        events_help += " " + events.unconfirmed_note(inferred)
    webhook_params = [
        params.relay_url(
            RELAY_URL,
            "Jobs report to the relay's inbox URL (give it as their Webhook URL); the relay "
            "checks each completion's signature and forwards it here.",
            required=True,
        ),
        {
            "name": EVENTS_PARAM,
            "type": "select",
            "label": "Events",
            "help": events_help,
            "multiple": True,
            "required": True,
            "default": default_events(catalog),
            "options": _event_options(found),
        },
        {
            "name": FAN_OUT_PARAM,
            "type": "boolean",
            "label": "One bundle per batch video",
            "help": "Yes: a finished batch starts the scenario once per video, as that video's "
            "event with its batch_id. No: once per batch, with every video in jobs.",
            "default": False,
        },
    ]
    relay = path("parameters", RELAY_URL)
    refused = (
        f"'The CreativeAI relay at ' + {relay} + ' did not accept the subscription (HTTP ' + "
        f"statusCode + '): ' + ifempty({path('body', 'error', 'message')}, "
        f"{path('body', 'error')}) + '. Check the Relay URL: it is the address of your "
        "CreativeAI webhook relay, not of the API.'"
    )
    key = path("connection", API_KEY)
    attach = {
        "url": tpl(relay) + RELAY_SUBSCRIPTIONS,
        "method": "POST",
        "headers": auth_headers(key),
        "body": {
            "target_url": "{{webhook.url}}",
            "events": tpl(path("parameters", EVENTS_PARAM)),
            "fan_out_batch": tpl(path("parameters", FAN_OUT_PARAM)),
        },
        "log": LOG,
        "response": {
            "error": {"type": "InvalidConfigurationError", "message": tpl(refused)},
            "data": {SUBSCRIPTION: "{{body.id}}", RELAY_URL: tpl(relay)},
        },
    }
    detach = {
        "url": tpl(path("webhook", RELAY_URL))
        + RELAY_SUBSCRIPTIONS
        + "/"
        + tpl(path("webhook", SUBSCRIPTION)),
        "method": "DELETE",
        "headers": auth_headers(key),
        "log": LOG,
    }
    communication = {"output": {**_headers_output(), "payload": _payload(catalog, found)}}
    return Component(
        "webhook",
        WEBHOOK_ID,
        {"label": "Completed generations", "webhookType": "web", "connection": CONNECTION_ID},
        {
            "communication": communication,
            "params": webhook_params,
            "attach": attach,
            "detach": detach,
        },
    )


def _payload_fields(catalog: Catalog, found: list[Event]) -> list[OutputField]:
    return outputs.merged(catalog.event_output(e.name) for e in found)


def _payload(catalog: Catalog, found: list[Event]) -> Json:
    """The webhook body as the contract gives it: a shared-status job's webhook spells its
    status in lower case, so it is re-spelled for that kind (`COMPLETED`)."""
    event = path("headers", limits.EVENT_HEADER.lower())
    shared = [
        e.name
        for e in found
        if all(catalog.operation(o).job is JobKind.SHARED for o in e.operations)
    ]
    status = path("body", outputs.STATUS)
    respelled = outputs.spelled(JobKind.SHARED, outputs.state("body", JobKind.SHARED), status)
    expression = f"if({iml.any_equal(event, shared)}, {respelled}, {status})"
    return outputs.shaped(
        "body", _payload_fields(catalog, found), None, status_expression=expression
    )


def relay_trigger(catalog: Catalog) -> Component:
    found = trigger_events(catalog)
    first = next(e for e in found if e.name in default_events(catalog))
    payload_fields = _payload_fields(catalog, found)
    interface = [
        *_event_fields(),
        {
            "name": "payload",
            "type": "collection",
            "label": "Payload",
            "spec": outputs.interface(payload_fields),
        },
    ]
    example = catalog.event_output(first.name).sample
    sample = {
        "event": first.name,
        "delivery_id": example["id"],
        "payload": outputs.sample_of(payload_fields, example),
    }
    component = module(
        RELAY_TRIGGER_LABEL,
        text.trigger_description(
            "a CreativeAI job ends, forwarded by your relay once it has checked the API's "
            "signature and dropped duplicates"
        ),
        "instant_trigger",
        {"interface": interface, "samples": sample},
    )
    component.metadata["webhook"] = WEBHOOK_ID
    return component
