"""Sealed relay URL tokens: round trip, rotation, tampering, expiry, garbage, no leaks."""

from __future__ import annotations

import base64
import string
import time

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.relay.tokens import (
    MAX_TOKEN_LENGTH,
    OPENED_CACHE,
    Claims,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenSealer,
    tenant_id,
)

KEY_A = TokenSealer.generate_key()
KEY_B = TokenSealer.generate_key()
SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cy0xMjM0"
URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def claims(**overrides: object) -> Claims:
    values: dict[str, object] = {
        "kind": "route",
        "id": "rt_0123456789abcdefghij",
        "tenant": tenant_id("sk-test-key"),
        "secret": SECRET,
        "expires_at": time.time() + 3600,
    }
    values.update(overrides)
    return Claims(**values)  # type: ignore[arg-type]


def flip(token: str, position: int, replacement: str) -> str:
    return token[:position] + replacement + token[position + 1 :]


# ------------------------------------------------------------------------- round trip


@pytest.mark.parametrize(
    "value",
    [
        claims(),
        claims(kind="tenant", id=tenant_id("sk-test-key"), expires_at=None),
        claims(expires_at=1_900_000_000.25),
        claims(expires_at=4_000_000_000),
        claims(id="rt_ünïcødé_✓", secret="s" * 128),
    ],
    ids=["route", "tenant-no-expiry", "fractional-expiry", "int-expiry", "unicode-and-max"],
)
def test_round_trip(value: Claims) -> None:
    sealer = TokenSealer([KEY_A])
    token = sealer.seal(value)
    assert sealer.open(token, now=0) == value
    assert set(token) <= URL_SAFE
    assert len(token) <= MAX_TOKEN_LENGTH


def test_tokens_are_compact_and_never_repeat() -> None:
    sealer = TokenSealer([KEY_A])
    value = claims()
    tokens = {sealer.seal(value) for _ in range(50)}
    assert len(tokens) == 50  # fresh nonce per seal
    # A typical route token (22-char id, 32-char tenant, whsec_ secret) stays short.
    assert all(len(token) <= 220 for token in tokens)
    assert SECRET not in "".join(tokens)
    assert value.id not in "".join(tokens)


def test_largest_claims_fit_the_token_limit() -> None:
    sealer = TokenSealer([KEY_A])
    biggest = claims(id="i" * 64, tenant="t" * 64, secret="s" * 128)
    assert len(sealer.seal(biggest)) <= MAX_TOKEN_LENGTH


# ----------------------------------------------------------------------------- rotation


def test_rotation_old_key_opens_newest_key_seals() -> None:
    old_sealer = TokenSealer([KEY_A])
    old_token = old_sealer.seal(claims())

    rotated = TokenSealer([KEY_B, KEY_A])
    assert rotated.open(old_token) == old_sealer.open(old_token)

    value = claims()
    new_token = rotated.seal(value)
    assert TokenSealer([KEY_B]).open(new_token) == value
    with pytest.raises(TokenInvalid, match="key this relay does not have"):
        old_sealer.open(new_token)  # sealed with KEY_B, not KEY_A


def test_dropping_the_old_key_invalidates_its_tokens() -> None:
    old_token = TokenSealer([KEY_A]).seal(claims())
    with pytest.raises(TokenInvalid) as caught:
        TokenSealer([KEY_B]).open(old_token)
    assert caught.value.reason == "invalid"


def test_key_formats_accepted() -> None:
    raw = base64.urlsafe_b64decode(KEY_A)
    unpadded = KEY_A.rstrip("=")
    token = TokenSealer([KEY_A]).seal(claims())
    assert TokenSealer([unpadded]).open(token) == TokenSealer([f"  {KEY_A}\n"]).open(token)
    assert len(raw) == 32
    Fernet(TokenSealer.generate_key())  # same key format as Fernet.generate_key()
    assert TokenSealer.generate_key() != TokenSealer.generate_key()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "short",
        base64.urlsafe_b64encode(b"x" * 16).decode(),
        base64.urlsafe_b64encode(b"x" * 33).decode(),
        base64.b64encode(b"\xfb" * 32).decode(),  # standard alphabet: '+' and '/'
        "not base64 at all!!",
    ],
)
def test_malformed_key_names_its_index_and_hides_the_key(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        TokenSealer([KEY_A, bad])
    message = str(caught.value)
    assert "#1" in message
    assert KEY_A not in message
    if len(bad) >= 4:
        assert bad not in message


def test_sealer_arguments() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        TokenSealer([])
    with pytest.raises(TypeError, match="list of keys"):
        TokenSealer(KEY_A)
    with pytest.raises(TypeError):
        TokenSealer([KEY_A]).seal({"kind": "route"})  # type: ignore[arg-type]
    assert KEY_A not in repr(TokenSealer([KEY_A])) + str(TokenSealer([KEY_A]))


# ----------------------------------------------------------------------------- tampering


def test_every_character_change_is_invalid() -> None:
    sealer = TokenSealer([KEY_A])
    token = sealer.seal(claims())
    alphabet = sorted(URL_SAFE)
    for position, original in enumerate(token):
        for replacement in alphabet:
            if replacement == original:
                continue
            with pytest.raises(TokenInvalid):
                sealer.open(flip(token, position, replacement))


def test_every_bit_flip_is_invalid() -> None:
    sealer = TokenSealer([KEY_A])
    token = sealer.seal(claims())
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for index in range(len(raw)):
        for bit in range(8):
            changed = bytearray(raw)
            changed[index] ^= 1 << bit
            forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
            with pytest.raises(TokenInvalid):
                sealer.open(forged)


def test_truncated_extended_and_padded_tokens_are_invalid() -> None:
    sealer = TokenSealer([KEY_A])
    token = sealer.seal(claims())
    for forged in (token[:-1], token[:-4], token[:20], token + "A", token + "AAAA", token + "=="):
        with pytest.raises(TokenInvalid):
            sealer.open(forged)


def test_oversized_tokens_are_refused_before_decoding() -> None:
    sealer = TokenSealer([KEY_A])
    with pytest.raises(TokenInvalid, match=f"longer than {MAX_TOKEN_LENGTH}"):
        sealer.open("A" * (MAX_TOKEN_LENGTH + 1))
    with pytest.raises(TokenInvalid, match="longer than"):
        sealer.open("!" * 1_000_000)


# -------------------------------------------------------------------------------- expiry


def test_expiry() -> None:
    sealer = TokenSealer([KEY_A])
    value = claims(expires_at=1_000_000.0)
    token = sealer.seal(value)
    assert sealer.open(token, now=999_999.9) == value
    with pytest.raises(TokenExpired) as caught:
        sealer.open(token, now=1_000_000.0)
    assert caught.value.reason == "expired"
    assert isinstance(caught.value, TokenError)
    assert (caught.value.kind, caught.value.id, caught.value.expires_at) == (
        "route",
        value.id,
        1_000_000.0,
    )
    with pytest.raises(TokenExpired):
        sealer.open(token)  # default clock: long past


def test_opened_claims_are_remembered_but_never_a_refusal() -> None:
    sealer = TokenSealer([KEY_A])
    value = claims(expires_at=None)
    token = sealer.seal(value)
    assert sealer.open(token) == value
    assert sealer.open(token) == value
    info = sealer._authentic.cache_info()
    assert (info.hits, info.currsize, info.maxsize) == (1, 1, OPENED_CACHE)
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
    for _ in range(2):
        with pytest.raises(TokenInvalid):
            sealer.open(forged)
    assert sealer._authentic.cache_info().currsize == 1  # the forged token was not kept
    other = TokenSealer([KEY_B])  # a relay without the key: its own cache, no shortcut
    with pytest.raises(TokenInvalid):
        other.open(token)


def test_no_expiry_never_expires() -> None:
    sealer = TokenSealer([KEY_A])
    token = sealer.seal(claims(expires_at=None))
    assert sealer.open(token, now=1e15).expires_at is None


def test_expired_and_forged_is_invalid_not_expired() -> None:
    sealer = TokenSealer([KEY_A])
    token = sealer.seal(claims(expires_at=1.0))
    with pytest.raises(TokenInvalid):
        sealer.open(flip(token, 30, "A" if token[30] != "A" else "B"))


# ---------------------------------------------------------------------- garbage & leaks


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=700),
        st.binary(max_size=500).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    )
)
def test_garbage_only_ever_raises_token_errors(garbage: str) -> None:
    sealer = TokenSealer([KEY_A, KEY_B])
    with pytest.raises(TokenInvalid):
        sealer.open(garbage)


SEALED = TokenSealer([KEY_A]).seal(claims())


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(SEALED)),
    st.integers(min_value=0, max_value=8),
    st.text(alphabet=sorted(URL_SAFE), max_size=8),
)
def test_spliced_tokens_are_invalid(start: int, cut: int, insert: str) -> None:
    forged = SEALED[:start] + insert + SEALED[start + cut :]
    if forged == SEALED:
        return
    with pytest.raises(TokenInvalid):
        TokenSealer([KEY_A]).open(forged)


def test_non_string_tokens_are_invalid() -> None:
    sealer = TokenSealer([KEY_A])
    for value in (None, 42, b"abc", ["a"]):
        with pytest.raises(TokenInvalid):
            sealer.open(value)  # type: ignore[arg-type]


def test_secret_never_in_repr_str_or_errors() -> None:
    sealer = TokenSealer([KEY_A])
    value = claims()
    assert SECRET not in repr(value) and SECRET not in str(value)
    token = sealer.seal(value)
    texts = []
    for bad, now in ((token, 1e12), (token[:-2], None)):
        with pytest.raises(TokenError) as caught:
            sealer.open(bad, now=now)
        texts += [str(caught.value), repr(caught.value), repr(vars(caught.value))]
    for text in texts:
        assert SECRET not in text
        assert token[:-2] not in text


# ------------------------------------------------------------------------ claims checks


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "job"}, "kind"),
        ({"id": ""}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"tenant": 5}, "tenant"),
        ({"secret": ""}, "secret"),
        ({"expires_at": float("nan")}, "expires_at"),
        ({"expires_at": float("inf")}, "expires_at"),
        ({"expires_at": True}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": 10**400}, "expires_at"),
    ],
)
def test_claims_validation_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"Claims.{field}="):
        claims(**overrides)


def test_claims_errors_hide_the_secret() -> None:
    long_secret = "whsec_" + "z" * 200
    with pytest.raises(ValueError) as caught:
        claims(secret=long_secret)
    assert "z" * 20 not in str(caught.value)
    assert "at most 128" in str(caught.value)


# ---------------------------------------------------------------------------- tenant id


def test_tenant_id_is_stable_hex_and_hides_the_key() -> None:
    key = "sk-live-0123456789abcdef"
    first = tenant_id(key)
    assert first == tenant_id(key)
    assert len(first) == 32 and set(first) <= set("0123456789abcdef")
    assert tenant_id(key + "x") != first
    assert key not in first and "0123456789abcdef" not in first
    with pytest.raises(ValueError, match="non-empty"):
        tenant_id("")
