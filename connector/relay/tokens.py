"""Sealed URL tokens: what the relay puts in `/hooks/<token>`.

    sealer = TokenSealer([newest_key, older_key])       # keys from TokenSealer.generate_key()
    token = sealer.seal(Claims("route", "rt_1", tenant, secret, expires_at=time.time() + 3600))
    claims = sealer.open(token)                          # TokenInvalid / TokenExpired

A token carries everything the relay needs to accept a delivery (route or tenant inbox,
the tenant, the signing secret, an expiry) encrypted and authenticated, so the relay
never forwards for a token it did not make and a URL never shows the secret in clear.

Why AES-256-GCM with a key id rather than `MultiFernet`: the tokens end up in URLs that
users paste into workflow tools, so size matters. Fernet adds 73 bytes of overhead
(version, timestamp, 16-byte IV, CBC padding, 32-byte HMAC) and, with several keys,
tries each one in turn. Here a token is

    version (1) | key id (4) | nonce (12) | ciphertext | GCM tag (16)

encoded as unpadded base64url (`A-Z a-z 0-9 - _`, safe in a path segment). The key id
(4 bytes of an HMAC of the key) picks the key directly; version and key id are bound
as associated data, so any change to any byte fails authentication. Nonces are random
(96 bits): rotate keys well before 2**32 tokens have been sealed with one key.

The payload is a small binary record rather than JSON:

    flags (1: bit 0 = tenant kind, bit 1 = has expiry) | [expires_at: float64]
    | id, tenant, secret: each a 1-byte length + UTF-8

Keys are urlsafe-base64 32-byte values (the `Fernet.generate_key()` format), newest
first; the first one seals, all of them open. Token strings longer than
`MAX_TOKEN_LENGTH` are refused before any decoding or crypto.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KIND_ROUTE: Literal["route"] = "route"
KIND_TENANT: Literal["tenant"] = "tenant"
KINDS = (KIND_ROUTE, KIND_TENANT)

#: Longest UTF-8 encoding of each string claim, in bytes.
MAX_ID_BYTES = 64
MAX_TENANT_BYTES = 64
MAX_SECRET_BYTES = 128
#: Longest token string accepted by `open`; checked before anything else.
MAX_TOKEN_LENGTH = 512
#: Authentic tokens whose claims `open` keeps (at most ~1 KB each).
OPENED_CACHE = 4096

_VERSION = 1
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER = struct.Struct(">B4s")
_EXPIRY = struct.Struct(">d")
_FLAG_TENANT = 0x01
_FLAG_EXPIRES = 0x02
_AAD_LABEL = b"creativeai-relay/token"
_KEY_ID_LABEL = b"creativeai-relay/token-key-id"
_TENANT_ID_LABEL = b"creativeai-relay/tenant-id/v1"
_KEY_TEXT = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_TOKEN_TEXT = re.compile(r"^[A-Za-z0-9_-]+$")
_MIN_TOKEN_BYTES = _HEADER.size + _NONCE_BYTES + _TAG_BYTES + 1


@dataclass(frozen=True)
class Claims:
    """What a token says. `secret` never appears in a repr."""

    kind: Literal["route", "tenant"]  # per-job route or a tenant's subscription inbox
    id: str  # route id or tenant id
    tenant: str  # tenant id (see `tenant_id`), never an API key
    secret: str = field(repr=False)  # verifies X-CreativeAI-Signature on inbound deliveries
    expires_at: float | None  # unix time; None = never

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Claims.kind={self.kind!r} is not valid: one of {', '.join(KINDS)}")
        _check_text("id", self.id, MAX_ID_BYTES, show=True)
        _check_text("tenant", self.tenant, MAX_TENANT_BYTES, show=True)
        _check_text("secret", self.secret, MAX_SECRET_BYTES, show=False)
        if self.expires_at is not None and not _finite_number(self.expires_at):
            raise ValueError(
                f"Claims.expires_at={self.expires_at!r} is not valid: "
                "a finite unix time in seconds, or None"
            )

    def expired(self, now: float | None = None) -> bool:
        """True once `now` (default: the current time) has reached `expires_at`."""
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at


def _finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _check_text(name: str, value: object, max_bytes: int, *, show: bool) -> None:
    shown = repr(value) if show else "<hidden>"
    if not isinstance(value, str) or not value:
        raise ValueError(f"Claims.{name}={shown} is not valid: a non-empty string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(
            f"Claims.{name}={shown} is not valid: text without lone surrogates"
        ) from None
    if size > max_bytes:
        raise ValueError(
            f"Claims.{name}={shown if size <= 80 else '<too long>'} is not valid: "
            f"at most {max_bytes} UTF-8 bytes (got {size})"
        )


class TokenError(Exception):
    """A token the relay cannot accept; `reason` is "invalid" or "expired".

    Messages never contain the token or anything sealed in it.
    """

    reason: str = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class TokenInvalid(TokenError):
    """Forged, altered, garbled, oversized, or sealed with a key the relay no longer has."""

    reason = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(f"token is invalid: {detail}")
        self.detail = detail


class TokenExpired(TokenError):
    """An authentic token past its `expires_at` (HTTP 410). Carries no secret."""

    reason = "expired"

    def __init__(self, kind: str, id: str, expires_at: float) -> None:
        super().__init__(f"token for {kind} {id!r} expired at {expires_at:.0f}")
        self.kind = kind
        self.id = id
        self.expires_at = expires_at


@dataclass(frozen=True)
class _Key:
    key_id: bytes
    aead: AESGCM = field(repr=False)


def _decode_key(index: int, count: int, text: object) -> bytes:
    where = f"token key #{index} (of {count}, newest first)"
    if not isinstance(text, str):
        raise ValueError(f"{where} is not valid: expected a string, got {type(text).__name__}")
    stripped = text.strip()
    if not _KEY_TEXT.match(stripped):
        raise ValueError(
            f"{where} is not valid: expected urlsafe base64 (A-Z a-z 0-9 - _), "
            "as made by TokenSealer.generate_key()"
        )
    try:
        raw = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{where} is not valid: not decodable as base64") from None
    if len(raw) != 32:
        raise ValueError(f"{where} is not valid: decodes to {len(raw)} bytes, 32 are needed")
    return raw


def _key_id(raw: bytes) -> bytes:
    return hmac.new(raw, _KEY_ID_LABEL, hashlib.sha256).digest()[:_KEY_ID_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenSealer:
    """Seals claims with the newest key; opens tokens sealed with any of the keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str | bytes):
            raise TypeError("TokenSealer(keys) takes a list of keys (newest first), not one string")
        keys = list(keys)
        if not keys:
            raise ValueError("TokenSealer needs at least one key; make one with generate_key()")
        self._keys: list[_Key] = []
        self._by_id: dict[bytes, list[_Key]] = {}
        # Only authentic tokens are remembered (a refused one raises, and is not cached).
        self._authentic = lru_cache(maxsize=OPENED_CACHE)(self._unseal)
        for index, text in enumerate(keys):
            raw = _decode_key(index, len(keys), text)
            key = _Key(_key_id(raw), AESGCM(raw))
            self._keys.append(key)
            self._by_id.setdefault(key.key_id, []).append(key)

    def __repr__(self) -> str:
        return f"<TokenSealer with {len(self._keys)} key(s)>"

    @staticmethod
    def generate_key() -> str:
        """A fresh random key in the accepted format (urlsafe base64 of 32 bytes)."""
        return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")

    def seal(self, claims: Claims) -> str:
        """The token for `claims`: unpadded base64url, at most `MAX_TOKEN_LENGTH` characters."""
        if not isinstance(claims, Claims):
            raise TypeError(f"seal() takes Claims, not {type(claims).__name__}")
        key = self._keys[0]
        header = _HEADER.pack(_VERSION, key.key_id)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, _pack(claims), _AAD_LABEL + header)
        return _b64encode(header + nonce + sealed)

    def open(self, token: str, *, now: float | None = None) -> Claims:
        """The claims in `token`, after checking it is authentic and not expired.

        Raises `TokenInvalid` (forged, altered, garbled, oversized, unknown key) or
        `TokenExpired` (authentic, but `now` >= `expires_at`). The claims of the last
        `OPENED_CACHE` authentic tokens are kept (a tenant's webhook URL is opened for
        every event it receives); the expiry is checked on every call.
        """
        claims = self._authentic(token) if isinstance(token, str) else self._unseal(token)
        if claims.expired(now):
            assert claims.expires_at is not None
            raise TokenExpired(claims.kind, claims.id, claims.expires_at)
        return claims

    def _unseal(self, token: str) -> Claims:
        """The claims of an authentic token, expired or not; TokenInvalid otherwise."""
        data = _decode_token(token)
        version, key_id = _HEADER.unpack_from(data)
        if version != _VERSION:
            raise TokenInvalid(f"unknown format version {version}")
        candidates = self._by_id.get(key_id)
        if not candidates:
            raise TokenInvalid("sealed with a key this relay does not have")
        header = data[: _HEADER.size]
        nonce = data[_HEADER.size : _HEADER.size + _NONCE_BYTES]
        sealed = data[_HEADER.size + _NONCE_BYTES :]
        for key in candidates:
            try:
                plain = key.aead.decrypt(nonce, sealed, _AAD_LABEL + header)
            except InvalidTag:
                continue
            return _unpack(plain)
        raise TokenInvalid("authentication failed")


def _decode_token(token: object) -> bytes:
    if not isinstance(token, str):
        raise TokenInvalid(f"expected a string, got {type(token).__name__}")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid(f"longer than {MAX_TOKEN_LENGTH} characters")
    if not _TOKEN_TEXT.match(token):
        raise TokenInvalid("not unpadded base64url text")
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenInvalid("not decodable as base64url") from None
    if _b64encode(data) != token:  # one canonical spelling per token: no spare bits set
        raise TokenInvalid("not canonical base64url")
    if len(data) < _MIN_TOKEN_BYTES:
        raise TokenInvalid("too short")
    return data


def _pack(claims: Claims) -> bytes:
    flags = _FLAG_TENANT if claims.kind == KIND_TENANT else 0
    parts = []
    if claims.expires_at is not None:
        flags |= _FLAG_EXPIRES
        parts.append(_EXPIRY.pack(float(claims.expires_at)))
    for text in (claims.id, claims.tenant, claims.secret):
        raw = text.encode("utf-8")
        parts.append(bytes([len(raw)]) + raw)  # lengths are bounded (<= 128) by Claims
    return bytes([flags]) + b"".join(parts)


def _unpack(plain: bytes) -> Claims:
    """Decode an authenticated payload; a malformed one (a bug, never an attack) is invalid."""
    try:
        flags, pos = plain[0], 1
        if flags & ~(_FLAG_TENANT | _FLAG_EXPIRES):
            raise ValueError("unknown flags")
        expires_at: float | None = None
        if flags & _FLAG_EXPIRES:
            (expires_at,) = _EXPIRY.unpack_from(plain, pos)
            pos += _EXPIRY.size
        texts = []
        for _ in range(3):
            size = plain[pos]
            raw = plain[pos + 1 : pos + 1 + size]
            if len(raw) != size:
                raise ValueError("truncated")
            texts.append(raw.decode("utf-8"))
            pos += 1 + size
        if pos != len(plain):
            raise ValueError("trailing bytes")
        kind: Literal["route", "tenant"] = KIND_TENANT if flags & _FLAG_TENANT else KIND_ROUTE
        return Claims(kind, texts[0], texts[1], texts[2], expires_at)
    except (IndexError, ValueError, struct.error):
        raise TokenInvalid("malformed payload") from None


def tenant_id(api_key: str) -> str:
    """A stable, non-reversible id for an API key: 32 hex chars of a domain-separated HMAC."""
    if not isinstance(api_key, str) or not api_key:
        raise ValueError("tenant_id(api_key): the API key must be a non-empty string")
    digest = hmac.new(
        _TENANT_ID_LABEL, api_key.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()
    return digest[:32]


__all__ = [
    "KINDS",
    "MAX_TOKEN_LENGTH",
    "Claims",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenSealer",
    "tenant_id",
]
