"""Standard Webhooks signing of forwarded requests: vector, round trip, rotation, refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.relay.signing import (
    SignatureError,
    headers,
    new_secret,
    secret_key,
    sign,
    verify,
)

# The example from the Standard Webhooks / Svix libraries' test suites.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_700_000_000
BODY = b'{"id":"vgen_1","status":"completed"}'


def test_fixed_vector_computed_independently() -> None:
    key = base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))
    signed = f"{VECTOR_ID}.{VECTOR_TS}.".encode() + VECTOR_BODY
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected == VECTOR_SIGNATURE
    assert sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY, VECTOR_SECRET) == expected
    verify(
        {
            "webhook-id": VECTOR_ID,
            "webhook-timestamp": str(VECTOR_TS),
            "webhook-signature": VECTOR_SIGNATURE,
        },
        VECTOR_BODY,
        [VECTOR_SECRET],
        now=VECTOR_TS + 10,
    )


def test_new_secret_format() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:], validate=True)) == 32
    assert len(secret_key(secret)) == 32
    assert new_secret() != secret


def test_headers_round_trip() -> None:
    secret = new_secret()
    sent = headers("dlv_1", BODY, secret, now=NOW + 0.9)
    assert sent["webhook-id"] == "dlv_1"
    assert sent["webhook-timestamp"] == str(NOW)
    assert sent["webhook-signature"] == sign("dlv_1", NOW, BODY, secret)
    verify(sent, BODY, [secret], now=NOW)
    # Header names are case-insensitive, whatever mapping carries them.
    verify({k.upper(): v for k, v in sent.items()}, BODY, [secret], now=NOW)
    verify(httpx.Headers(sent), BODY, [secret], now=NOW)


def test_rotation_in_both_directions() -> None:
    old, new = new_secret(), new_secret()
    # Sender signs with both during a rotation; a receiver knowing either accepts.
    both = headers("dlv_2", BODY, [new, old], now=NOW)
    assert len(both["webhook-signature"].split(" ")) == 2
    verify(both, BODY, [old], now=NOW)
    verify(both, BODY, [new], now=NOW)
    # Receiver knows both secrets; sender signed with only the old one.
    verify(headers("dlv_2", BODY, old, now=NOW), BODY, [new, old], now=NOW)
    # Once the old secret is dropped, its signature no longer passes.
    with pytest.raises(SignatureError) as caught:
        verify(headers("dlv_2", BODY, old, now=NOW), BODY, [new], now=NOW)
    assert caught.value.reason == "no_match"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header(missing: str) -> None:
    secret = new_secret()
    sent = headers("dlv_3", BODY, secret, now=NOW)
    del sent[missing]
    with pytest.raises(SignatureError, match=missing) as caught:
        verify(sent, BODY, [secret], now=NOW)
    assert caught.value.reason == "missing_header"


@pytest.mark.parametrize("stamp", ["", "abc", "-5", "+1700000000", "1.7e9", "1700000000.5", "١٢٣"])
def test_bad_timestamp(stamp: str) -> None:
    secret = new_secret()
    sent = headers("dlv_4", BODY, secret, now=NOW)
    sent["webhook-timestamp"] = stamp
    with pytest.raises(SignatureError) as caught:
        verify(sent, BODY, [secret], now=NOW)
    assert caught.value.reason in ("bad_timestamp", "missing_header")


def test_tolerance_window() -> None:
    secret = new_secret()
    sent = headers("dlv_5", BODY, secret, now=NOW)
    verify(sent, BODY, [secret], now=NOW + 300)
    verify(sent, BODY, [secret], now=NOW - 300)
    with pytest.raises(SignatureError) as too_old:
        verify(sent, BODY, [secret], now=NOW + 301)
    assert too_old.value.reason == "timestamp_too_old"
    with pytest.raises(SignatureError) as too_new:
        verify(sent, BODY, [secret], now=NOW - 301)
    assert too_new.value.reason == "timestamp_too_new"
    verify(sent, BODY, [secret], tolerance=3600, now=NOW + 3000)


def test_altered_anything_fails() -> None:
    secret = new_secret()
    sent = headers("dlv_6", BODY, secret, now=NOW)
    cases = [
        (dict(sent, **{"webhook-id": "dlv_7"}), BODY),
        (dict(sent, **{"webhook-timestamp": str(NOW + 1)}), BODY),
        (sent, BODY + b" "),
        (sent, BODY.replace(b"completed", b"failed")),
        (dict(sent, **{"webhook-signature": "v2," + sent["webhook-signature"][3:]}), BODY),
        (dict(sent, **{"webhook-signature": "v1,"}), BODY),
        (dict(sent, **{"webhook-signature": "v1"}), BODY),
        (dict(sent, **{"webhook-signature": sent["webhook-signature"].lower()}), BODY),
        (dict(sent, **{"webhook-signature": sent["webhook-signature"] + "A"}), BODY),
    ]
    for received, body in cases:
        with pytest.raises(SignatureError) as caught:
            verify(received, body, [secret], now=NOW)
        assert caught.value.reason == "no_match"
    with pytest.raises(SignatureError):
        verify(sent, BODY, [new_secret()], now=NOW)


def test_several_signatures_one_valid() -> None:
    secret = new_secret()
    good = sign("dlv_8", NOW, BODY, secret)
    received = {
        "webhook-id": "dlv_8",
        "webhook-timestamp": str(NOW),
        "webhook-signature": f"v1a,ignored v1,AAAA  {good}\tv1,BBBB",
    }
    verify(received, BODY, [secret], now=NOW)


def test_errors_never_show_secrets_or_signatures() -> None:
    secret = new_secret()
    sent = headers("dlv_9", BODY, secret, now=NOW)
    with pytest.raises(SignatureError) as caught:
        verify(sent, BODY + b"x", [secret], now=NOW)
    message = str(caught.value)
    assert secret[6:] not in message and sent["webhook-signature"][3:] not in message
    for bad in ("whsec_short", "whsec_" + "A" * 120, "whsec_not base64!!", "plainly wrong"):
        with pytest.raises(ValueError) as bad_secret:
            sign("dlv_9", NOW, BODY, bad)
        assert bad[6:] not in str(bad_secret.value)


def test_argument_checks() -> None:
    secret = new_secret()
    with pytest.raises(ValueError, match="msg_id"):
        sign("", NOW, BODY, secret)
    with pytest.raises(ValueError, match="msg_id"):
        sign("a b", NOW, BODY, secret)
    with pytest.raises(ValueError, match="timestamp"):
        sign("dlv", -1, BODY, secret)
    with pytest.raises(TypeError, match="raw bytes"):
        sign("dlv", NOW, "text", secret)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        verify(headers("dlv", BODY, secret, now=NOW), BODY, [], now=NOW)
    with pytest.raises(ValueError, match="at least one"):
        headers("dlv", BODY, [], now=NOW)
    # One secret passed as a plain string is taken as that one secret.
    verify(headers("dlv", BODY, secret, now=NOW), BODY, secret, now=NOW)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "other"]),
        st.text(max_size=200),
    ),
    st.binary(max_size=200),
)
def test_garbage_headers_only_raise_signature_error(received: dict[str, str], body: bytes) -> None:
    with pytest.raises(SignatureError):
        verify(received, body, [VECTOR_SECRET], now=NOW)
