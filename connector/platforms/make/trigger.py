"""Watch Completed Generations: an instant trigger on a dedicated webhook.

Creating the webhook in Make runs `attach`: a relay subscription for the webhook's URL and
the chosen events (the relay verifies the API's signature, dedups and forwards; Make cannot
check an HMAC itself). Deleting it runs `detach`. Each forwarded completion is one bundle;
with "One Bundle per Batch Video" the relay forwards a finished batch once per video.
"""

from __future__ import annotations

from connector.catalog import Catalog, Event, events, limits
from connector.platforms.make import params
from connector.platforms.make.base import LOG, auth_headers
from connector.platforms.make.iml import path, tpl
from connector.platforms.make.model import (
    API_KEY,
    CONNECTION_ID,
    PLATFORM,
    RELAY_SUBSCRIPTIONS,
    RELAY_URL,
    WEBHOOK_ID,
    Component,
    Json,
)
from connector.platforms.make.modules import module

EVENTS_PARAM, FAN_OUT_PARAM = "events", "fanOutBatch"
SUBSCRIPTION = "subscriptionId"  # webhook data saved by attach, read by detach


def trigger_events(catalog: Catalog) -> list[Event]:
    """The events a job started from one of the app's modules can end with."""
    mine = {op.key for op in catalog.for_platform(PLATFORM)}
    return [e for e in catalog.events.values() if mine & set(e.operations)]


def webhook(catalog: Catalog) -> Component:
    found = trigger_events(catalog)
    inferred = [e.name for e in found if not e.documented]
    events_help = "Which completions start the scenario."
    if inferred:
        events_help += " " + events.unconfirmed_note(inferred)
    webhook_params = [
        {
            "name": EVENTS_PARAM,
            "type": "select",
            "label": "Events",
            "help": events_help,
            "multiple": True,
            "required": True,
            "default": [e.name for e in found],
            "options": [{"label": e.label, "value": e.name} for e in found],
        },
        {
            "name": FAN_OUT_PARAM,
            "type": "boolean",
            "label": "One Bundle per Batch Video",
            "help": "Yes: a finished batch starts the scenario once per video, as that video's "
            "event with its batch_id. No: once per batch, with every video in jobs.",
            "default": False,
        },
    ]
    subscriptions = tpl(path("connection", RELAY_URL)) + RELAY_SUBSCRIPTIONS
    key = path("connection", API_KEY)
    attach = {
        "url": subscriptions,
        "method": "POST",
        "headers": auth_headers(key),
        "body": {
            "target_url": "{{webhook.url}}",
            "events": tpl(path("parameters", EVENTS_PARAM)),
            "fan_out_batch": tpl(path("parameters", FAN_OUT_PARAM)),
        },
        "log": LOG,
        "response": {"data": {SUBSCRIPTION: "{{body.id}}"}},
    }
    detach = {
        "url": subscriptions + "/" + tpl(path("webhook", SUBSCRIPTION)),
        "method": "DELETE",
        "headers": auth_headers(key),
        "log": LOG,
    }
    communication = {
        "output": {
            "event": tpl(path("headers", limits.EVENT_HEADER.lower())),
            "delivery_id": tpl(path("headers", limits.DELIVERY_ID_HEADER.lower())),
            "payload": "{{body}}",
        }
    }
    return Component(
        "webhook",
        WEBHOOK_ID,
        {"label": "Completed Generations", "webhookType": "web", "connection": CONNECTION_ID},
        {
            "communication": communication,
            "params": webhook_params,
            "attach": attach,
            "detach": detach,
        },
    )


def _payload_interface(found: list[Event]) -> list[Json]:
    """Every field any of the events carries, in first-seen order."""
    merged: dict[str, Json] = {}
    for event in found:
        for param in params.interface(events.PAYLOADS[event.payload]):
            merged.setdefault(param["name"], param)
    return list(merged.values())


def watch_trigger(catalog: Catalog) -> Component:
    found = trigger_events(catalog)
    first = found[0]
    example = dict(catalog.operation(first.operations[0]).sample_response)
    interface = [
        {"name": "event", "type": "text", "label": "Event"},
        {"name": "delivery_id", "type": "text", "label": "Delivery ID"},
        {
            "name": "payload",
            "type": "collection",
            "label": "Payload",
            "spec": _payload_interface(found),
        },
    ]
    sample = {"event": first.name, "delivery_id": example["id"], "payload": example}
    component = module(
        "Watch Completed Generations",
        "Starts the scenario when a CreativeAI job completes or fails (forwarded by the relay "
        "once it has checked the API's signature).",
        "instant_trigger",
        {"interface": interface, "samples": sample},
    )
    component.metadata["webhook"] = WEBHOOK_ID
    return component
