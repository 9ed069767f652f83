"""CreativeAI completion webhooks: signatures, parsing, dedup keys.

    verify(raw_body, request.headers["X-CreativeAI-Signature"], api_key)
    delivery = parse(raw_body, request.headers)
    delivery.dedup_key  # "vgen_abc123:completed"

The signature is `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the API key
(or the signing secret configured for the account). Always verify the exact bytes
received, before any JSON parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from connector.catalog import events, limits
from connector.catalog.events import EventPayload

SIGNATURE_PREFIX = limits.SIGNATURE_PREFIX


class WebhookError(ValueError):
    """A delivery that cannot be accepted; `reason` is a short machine-readable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(raw_body: bytes, secret: str | bytes) -> str:
    """The `X-CreativeAI-Signature` value for a body."""
    digest = hmac.new(_secret_bytes(secret), raw_body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(raw_body: bytes, signature_header: str | None, secret: str | bytes) -> bool:
    """True when the header is a valid signature of exactly these bytes (constant time).

    Accepts upper- or lower-case hex; anything else (no header, another scheme,
    wrong length) is False, never an exception.
    """
    if not signature_header or not secret:
        return False
    header = signature_header.strip()
    if not header.startswith(SIGNATURE_PREFIX):
        return False
    provided = header[len(SIGNATURE_PREFIX) :].lower().encode("ascii", "replace")
    expected = sign(raw_body, secret)[len(SIGNATURE_PREFIX) :].encode()
    return hmac.compare_digest(expected, provided)


@dataclass(frozen=True)
class Delivery:
    """One parsed webhook delivery."""

    event: str  # X-CreativeAI-Event, e.g. "video.generation.completed"
    delivery_id: str  # the body's generation id (batch id for batches) = X-CreativeAI-Delivery-Id
    payload: EventPayload
    body: dict[str, Any]  # the JSON as sent, unknown fields included
    documented: bool  # False for events the API docs do not name

    @property
    def dedup_key(self) -> str:
        return events.dedup_key(self.delivery_id, self.payload)

    @property
    def resource(self) -> str:
        """The first part of the event name: video, voice, compose, chart, image."""
        return self.event.split(".", 1)[0]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def parse(raw_body: bytes, headers: Mapping[str, str]) -> Delivery:
    """Parse a delivery into its typed event. Raises `WebhookError` for malformed input.

    The event name comes from `X-CreativeAI-Event`; if absent it is derived from the
    payload's `object` and `status` (`video.generation` + `completed`). The delivery id
    is the payload's `id` (`batch_id` for a batch), which the signature covers; an
    `X-CreativeAI-Delivery-Id` that names another one is refused.
    """
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookError("malformed", f"body is not JSON: {exc}") from None
    except RecursionError:
        raise WebhookError(
            "malformed", "body is not JSON this parser can read: nested too deeply"
        ) from None
    except ValueError:  # an integer longer than Python converts (4300 digits)
        raise WebhookError(
            "malformed", "body is not JSON this parser can read: a number too long"
        ) from None
    if not isinstance(body, dict):
        raise WebhookError("malformed", "body is not a JSON object")
    event = _header(headers, limits.EVENT_HEADER) or _derive_event(body)
    if not event or event.count(".") < 1 or len(event) > 128:
        raise WebhookError("malformed", f"missing or invalid {limits.EVENT_HEADER}: {event!r}")
    try:
        payload = events.payload_model(event).model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise WebhookError("malformed", f"{event} payload: {where}: {first['msg']}") from None
    try:
        payload.state  # noqa: B018 - an unknown status is malformed
    except ValueError as exc:
        raise WebhookError("malformed", str(exc)) from None
    # The signature covers the body, not the headers: the id (and so the dedup key) is
    # the body's, and a header that names another delivery is refused.
    delivery_id = payload.delivery_id
    if not delivery_id or len(delivery_id) > 256:
        raise WebhookError("malformed", f"missing or invalid delivery id in the body: {event}")
    told = _header(headers, limits.DELIVERY_ID_HEADER)
    if told and told != delivery_id:
        raise WebhookError(
            "malformed",
            f"{limits.DELIVERY_ID_HEADER} {_shown(told)} does not match the signed body's"
            f" {'batch_id' if isinstance(payload, events.BatchEventPayload) else 'id'}"
            f" {_shown(delivery_id)}",
        )
    known = events.BY_NAME.get(event)
    return Delivery(
        event=event,
        delivery_id=delivery_id,
        payload=payload,
        body=body,
        documented=bool(known and known.documented),
    )


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def _derive_event(body: Mapping[str, Any]) -> str | None:
    obj, status = body.get("object"), body.get("status")
    if isinstance(obj, str) and isinstance(status, str):
        return f"{obj}.{status.lower()}"
    return None


def headers_for(
    event: str, delivery_id: str, raw_body: bytes, secret: str | None
) -> dict[str, str]:
    """The headers the API sends with a delivery (used by the sandbox and tests)."""
    headers = {
        "Content-Type": "application/json",
        limits.EVENT_HEADER: event,
        limits.DELIVERY_ID_HEADER: delivery_id,
    }
    if secret:
        headers[limits.SIGNATURE_HEADER] = sign(raw_body, secret)
    return headers


__all__ = ["Delivery", "WebhookError", "headers_for", "parse", "sign", "verify"]
