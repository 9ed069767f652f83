"""Standard Webhooks signatures on the requests the relay forwards.

    secret = new_secret()                                   # "whsec_..." per route/subscription
    request_headers = headers(delivery_id, body, secret)    # webhook-id/-timestamp/-signature
    verify(received_headers, body, [secret, old_secret])    # raises SignatureError

The signature is `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`,
keyed with the base64-decoded part of the secret after `whsec_`. Several signatures
may be sent space-separated (secret rotation); one match is enough. Timestamps are
unix seconds and must be within `tolerance` (default 5 minutes) of now.

This is the relay's own outbound format (https://www.standardwebhooks.com), not the
CreativeAI API's: inbound deliveries are checked with `connector.webhooks.verify`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from collections.abc import Mapping, Sequence

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = 300
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
#: At most this many space-separated signatures are looked at (bounds the work per request).
MAX_SIGNATURES = 16

_TIMESTAMP = re.compile(r"^[0-9]{1,15}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


class SignatureError(ValueError):
    """A request whose Standard Webhooks signature does not check out.

    `reason`: "missing_header", "bad_timestamp", "timestamp_too_old",
    "timestamp_too_new" or "no_match". Messages never contain a secret or a signature.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key in a `whsec_...` secret. ValueError (secret not shown) if malformed."""
    if not isinstance(secret, str):
        raise ValueError(f"signing secret must be a string, got {type(secret).__name__}")
    body = secret.removeprefix(SECRET_PREFIX)
    if not _BASE64.match(body) or len(body) % 4:
        raise ValueError(
            "signing secret is not valid: expected 'whsec_' followed by standard base64"
        )
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("signing secret is not valid: base64 does not decode") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"signing secret is not valid: decodes to {len(key)} bytes, "
            f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} are needed"
        )
    return key


def _check_id(msg_id: str) -> None:
    if not isinstance(msg_id, str) or not msg_id or any(c.isspace() for c in msg_id):
        raise ValueError(f"msg_id={msg_id!r} is not valid: a non-empty string without spaces")


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The signature `v1,<base64>` of `body` sent as message `msg_id` at `timestamp`."""
    _check_id(msg_id)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError(f"timestamp={timestamp!r} is not valid: whole unix seconds (int >= 0)")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"body must be the raw bytes sent, not {type(body).__name__}")
    return f"{SIGNATURE_VERSION},{_signature(secret_key(secret), msg_id, timestamp, bytes(body))}"


def headers(
    msg_id: str, body: bytes, secret: str | Sequence[str], now: float | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for a request carrying `body`.

    `secret` may be several secrets (during a rotation): one signature each, space-separated.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("headers() needs at least one signing secret")
    timestamp = int(time.time() if now is None else now)
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(sign(msg_id, timestamp, body, s) for s in secrets),
    }


def _header(received: Mapping[str, str], name: str) -> str | None:
    value = received.get(name)
    if value is None:
        for key, candidate in received.items():
            if key.lower() == name:
                return candidate
    return value


def verify(
    received: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a request's Standard Webhooks signature against any of `secrets`.

    Header names are matched case-insensitively. Raises `SignatureError`; returns None
    when one `v1` signature matches one secret (compared in constant time).
    """
    keys = [secret_key(s) for s in ([secrets] if isinstance(secrets, str) else secrets)]
    if not keys:
        raise ValueError("verify() needs at least one signing secret")
    values = {}
    for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        value = _header(received, name)
        if not value:
            raise SignatureError("missing_header", f"missing {name} header")
        values[name] = value.strip()
    msg_id, raw_ts = values[ID_HEADER], values[TIMESTAMP_HEADER]
    if not _TIMESTAMP.match(raw_ts):
        raise SignatureError(
            "bad_timestamp", f"{TIMESTAMP_HEADER}={raw_ts[:32]!r} is not unix seconds"
        )
    timestamp = int(raw_ts)
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise SignatureError(
            "timestamp_too_old", f"{TIMESTAMP_HEADER} is more than {tolerance:g} s in the past"
        )
    if timestamp > current + tolerance:
        raise SignatureError(
            "timestamp_too_new", f"{TIMESTAMP_HEADER} is more than {tolerance:g} s in the future"
        )
    provided = []
    for part in values[SIGNATURE_HEADER].split()[:MAX_SIGNATURES]:
        version, _, value = part.partition(",")
        if version == SIGNATURE_VERSION and value:
            provided.append(value.encode("utf-8", "replace"))
    matched = False
    for key in keys:
        expected = _signature(key, msg_id, timestamp, bytes(body)).encode("ascii")
        for candidate in provided:
            # No early exit: the work done does not depend on which signature matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no_match", "no webhook-signature matches the signing secret(s)")


__all__ = [
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "headers",
    "new_secret",
    "secret_key",
    "sign",
    "verify",
]
