"""Property-based fuzzing of `POST /hooks/<token>` against a relay served on 127.0.0.1.

Hypothesis varies tokens (live route and inbox tokens, another tenant's, deleted, expired,
sealed with a foreign key or for a route that never existed, altered, random text),
bodies (random bytes, random JSON, API-like payloads with fields of the wrong types,
sizes around the limit, chunked), signatures (missing, garbage, over another body, with
another key, valid, valid in upper case), content types and the event / delivery-id
headers, plus raw HTTP requests with arbitrary header bytes and lengths. Properties:

- never a 5xx;
- the answer follows the documented order: 404/410 token, 415 type, 413 size, 401
  signature, 400 malformed; a 2xx only for a live token, a JSON type, a body within the
  limit and a valid signature;
- nothing is stored without a 202, and the target only ever receives bodies that were
  accepted with a valid signature.

The management API and the `/log/` pages get the same treatment: bodies with numbers that
overflow, NaN, lone surrogates and deep nesting; query strings with non-ASCII digits; any
CSRF token (always 403); chunked framing of any shape on raw sockets (never a 5xx).

Runs are bounded: `FUZZ_EXAMPLES` (default 120) examples per property, no deadline.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connector.catalog import events as catalog_events
from connector.catalog import limits
from connector.relay.testing import (
    RunningRelay,
    Target,
    fast_config,
    running_relay,
    running_target,
    sqlite_url,
    video_payload,
    wait_until,
)
from connector.relay.tokens import Claims, TokenSealer, tenant_id
from connector.webhooks import sign

pytestmark = pytest.mark.slow

KEY = "sk-fuzz-owner"
OTHER_KEY = "sk-fuzz-other"
MGMT_KEY = "sk-fuzz-management"
LIMIT = 2048
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

#: Tokens that open and whose route takes events (label -> the key that signs for it).
LIVE = {"route": KEY, "inbox": KEY, "other_tenant": OTHER_KEY}
#: Refused as soon as the token is opened: 410 expired, 404 not the relay's own.
EXPIRED = "expired"
NOT_OURS = ("foreign_key", "altered", "random")
#: Tokens that open, but whose route is found gone only once the event is verified.
ROUTE_GONE = {"deleted": 410, "ghost_route": 404}
JSON_TYPES = ("application/json", "application/json; charset=utf-8", "application/ce+json")
OTHER_TYPES = ("text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data")
SIGNATURES = ("none", "valid", "valid_upper", "wrong_key", "other_body", "garbage", "prefix")


class World:
    """The relay under test and what the examples so far did to it."""

    def __init__(
        self,
        relay: RunningRelay,
        target: Target,
        tokens: dict[str, str],
        http: httpx.Client,
        pages: httpx.Client,
    ) -> None:
        self.relay = relay
        self.target = target
        self.tokens = tokens
        self.http = http
        self.pages = pages  # signed in to the /log/ pages as KEY
        self.accepted_bodies: set[bytes] = set()
        self.accepted = 0  # 202 answers: each stored one new event
        self.deliveries = 0  # deliveries those 202 answers created

    def __repr__(self) -> str:
        return f"World(accepted={self.accepted}, deliveries={self.deliveries})"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    config = fast_config(
        sqlite_url(tmp_path_factory.mktemp("fuzz")), embedded_worker=True, max_body_bytes=LIMIT
    )
    with running_target() as target, running_relay(config) as relay:
        tokens = _tokens(relay, target)
        with (
            httpx.Client(base_url=relay.url, timeout=10) as http,
            httpx.Client(base_url=relay.url, timeout=10, headers={"Origin": relay.url}) as pages,
        ):
            signed_in = pages.post("/log/login", data={"api_key": KEY})
            assert signed_in.status_code == 303, signed_in.text
            yield World(relay, target, tokens, http, pages)


def _token_of(url: str) -> str:
    return url.rsplit("/hooks/", 1)[1]


def _tokens(relay: RunningRelay, target: Target) -> dict[str, str]:
    with relay.api(KEY) as api:
        route = api.post("/v1/routes", json={"target_url": target.url + "/route"}).json()
        inbox = api.post("/v1/subscriptions", json={"target_url": target.url + "/sub"}).json()
        deleted = api.post("/v1/routes", json={"target_url": target.url + "/deleted"}).json()
        assert api.delete(f"/v1/routes/{deleted['route_id']}").status_code == 204
    with relay.api(MGMT_KEY) as api:  # a tenant of its own: its replays move nothing above
        join = api.post("/v1/routes", json={"target_url": target.url + "/join", "expect": 2})
    with relay.api(OTHER_KEY) as api:
        other = api.post("/v1/routes", json={"target_url": target.url + "/other"}).json()
    sealer = relay.relay.sealer
    tenant = tenant_id(KEY)
    live = _token_of(route["webhook_url"])
    altered = live[:-6] + ("A" if live[-6] != "A" else "B") + live[-5:]
    return {
        "route": live,
        "inbox": _token_of(inbox["webhook_url"]),
        "other_tenant": _token_of(other["webhook_url"]),
        "deleted": _token_of(deleted["webhook_url"]),
        "expired": sealer.seal(Claims("route", route["route_id"], tenant, KEY, time.time() - 1)),
        "foreign_key": TokenSealer([TokenSealer.generate_key()]).seal(
            Claims("route", route["route_id"], tenant, KEY, None)
        ),
        "ghost_route": sealer.seal(Claims("route", "rt_000000000000", tenant, KEY, None)),
        "altered": altered,
        "join_route_id": join.json()["route_id"],
        "delivery_id": "dlv_" + "0" * 16,  # the retry form's CSRF check comes first
    }


# -- strategies -------------------------------------------------------------------------------

#: Header values as httpx sends them: printable ASCII, no surrounding spaces.
ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80).map(str.strip)
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
payload_keys = st.sampled_from(
    ["id", "object", "status", "batch_id", "jobs", "output_url", "error", "completed_at"]
)


@st.composite
def api_like(draw: st.DrawFn) -> bytes:
    """An API payload with some fields replaced by anything (wrong types included)."""
    state = draw(st.sampled_from(["completed", "failed"]))
    payload: dict[str, Any] = video_payload(f"vgen_{secrets.token_hex(6)}", state)
    payload.update(draw(st.dictionaries(payload_keys, json_values, max_size=3)))
    for name in draw(st.lists(payload_keys, max_size=2)):
        payload.pop(name, None)
    return json.dumps(payload).encode()


def fresh_valid() -> bytes:
    return json.dumps(video_payload(f"vgen_{secrets.token_hex(6)}")).encode()


bodies = st.one_of(
    st.binary(max_size=LIMIT + 64),
    json_values.map(lambda v: json.dumps(v).encode()),
    api_like(),
    st.builds(fresh_valid),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
event_headers = st.one_of(st.none(), st.sampled_from(list(catalog_events.BY_NAME)), ascii_text)


def _signature(mode: str, body: bytes, key: str, garbage: str) -> str | None:
    if mode == "none":
        return None
    if mode == "valid":
        return sign(body, key)
    if mode == "valid_upper":
        return limits.SIGNATURE_PREFIX + sign(body, key)[len(limits.SIGNATURE_PREFIX) :].upper()
    if mode == "wrong_key":
        return sign(body, key + "x")
    if mode == "other_body":
        return sign(body + b" ", key)
    if mode == "prefix":
        return limits.SIGNATURE_PREFIX
    return garbage


def _url_token(world: World, label: str, random_token: str) -> str:
    if label == "random":
        return quote(random_token, safe="")
    return world.tokens[label]


def _record(world: World, answer: httpx.Response, body: bytes) -> None:
    event(f"HTTP {answer.status_code}")  # --hypothesis-show-statistics tells the mix
    assert answer.status_code < 500, (answer.status_code, answer.text)
    if answer.status_code == 202:
        world.accepted += 1
        world.deliveries += answer.json()["deliveries"]
        world.accepted_bodies.add(body)


def _post(world: World, token: str, body: bytes, headers: dict[str, str], chunked: bool) -> Any:
    content: Any = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    return world.http.post(f"/hooks/{token}", content=content, headers=headers)


# -- properties ---------------------------------------------------------------------------------


@FUZZ
@given(
    label=st.sampled_from([*LIVE, EXPIRED, *NOT_OURS, *ROUTE_GONE]),
    random_token=st.text(max_size=600),
    body=bodies,
    content_type=st.one_of(
        st.sampled_from(JSON_TYPES), st.sampled_from(JSON_TYPES + OTHER_TYPES), ascii_text
    ),
    signature_mode=st.sampled_from(SIGNATURES),
    garbage=ascii_text,
    event=event_headers,
    delivery_id=st.one_of(st.none(), ascii_text, st.text("a", min_size=257)),
    chunked=st.booleans(),
)
def test_every_answer_is_below_500_and_follows_the_documented_order(
    world: World,
    label: str,
    random_token: str,
    body: bytes,
    content_type: str,
    signature_mode: str,
    garbage: str,
    event: str | None,
    delivery_id: str | None,
    chunked: bool,
) -> None:
    key = LIVE.get(label, KEY)
    headers = {"Content-Type": content_type}
    signature = _signature(signature_mode, body, key, garbage)
    for name, value in (
        (limits.SIGNATURE_HEADER, signature),
        (limits.EVENT_HEADER, event),
        (limits.DELIVERY_ID_HEADER, delivery_id),
    ):
        if value:
            headers[name] = value
    answer = _post(world, _url_token(world, label, random_token), body, headers, chunked)
    _record(world, answer, body)
    status = answer.status_code
    mimetype = content_type.split(";")[0].strip().lower()
    is_json = mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )
    if label == EXPIRED:
        assert status == 410
    elif label in NOT_OURS:
        assert status == 404
    elif not is_json:
        assert status == 415
    elif len(body) > LIMIT:
        assert status == 413
    elif signature_mode not in ("valid", "valid_upper"):
        assert status == 401
    elif label in ROUTE_GONE:
        assert status in (ROUTE_GONE[label], 400), (status, answer.text)
    else:
        assert status in (200, 202, 400), (status, answer.text)


@FUZZ
@given(label=st.sampled_from(list(LIVE)), body=bodies, event=event_headers)
def test_valid_signatures_over_garbage_are_400_or_stored_never_5xx(
    world: World, label: str, body: bytes, event: str | None
) -> None:
    headers = {"Content-Type": "application/json", limits.SIGNATURE_HEADER: sign(body, LIVE[label])}
    if event:
        headers[limits.EVENT_HEADER] = event
    before = world.accepted
    answer = _post(world, world.tokens[label], body, headers, chunked=False)
    _record(world, answer, body)
    if len(body) > LIMIT:
        assert answer.status_code == 413
    else:
        assert answer.status_code in (200, 202, 400), (answer.status_code, answer.text)
    if answer.status_code == 400:
        assert answer.json()["error"]["code"] == "malformed"
        assert world.accepted == before


@FUZZ
@given(size=st.integers(LIMIT - 4, LIMIT + 4), declared=st.sampled_from(["exact", "chunked"]))
def test_bodies_around_the_size_limit(world: World, size: int, declared: str) -> None:
    payload = video_payload(f"vgen_{secrets.token_hex(6)}")
    payload["pad"] = ""
    bare = len(json.dumps(payload).encode())
    payload["pad"] = "x" * max(0, size - bare)
    body = json.dumps(payload).encode()
    assert len(body) == size
    headers = {"Content-Type": "application/json", limits.SIGNATURE_HEADER: sign(body, KEY)}
    answer = _post(world, world.tokens["route"], body, headers, chunked=declared == "chunked")
    _record(world, answer, body)
    assert answer.status_code == (202 if size <= LIMIT else 413), answer.text


def _raw(world: World, request: bytes) -> bytes:
    port = httpx.URL(world.relay.url).port
    with socket.create_connection(("127.0.0.1", port or 80), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # a body shorter than declared ends here
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


header_bytes = st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b)


@FUZZ
@given(
    length=st.one_of(
        st.none(),
        st.integers(-5, LIMIT * 2).map(str),
        st.sampled_from(["", "abc", "1e3", " 12", "99999999999999999999"]),
    ),
    extra_name=st.sampled_from(
        [b"Content-Type", b"X-CreativeAI-Signature", b"X-CreativeAI-Event", b"Transfer-Encoding"]
    ),
    extra_value=header_bytes,
    body=st.binary(max_size=300),
)
def test_raw_requests_with_odd_headers_and_lengths_get_no_5xx(
    world: World, length: str | None, extra_name: bytes, extra_value: bytes, body: bytes
) -> None:
    lines = [
        f"POST /hooks/{world.tokens['route']} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        b"Connection: close",
        b"Content-Type: application/json",
        b"X-CreativeAI-Signature: " + sign(body, KEY).encode(),
        extra_name + b": " + extra_value,
    ]
    if length is not None:
        lines.append(b"Content-Length: " + length.encode())
    answer = _raw(world, b"\r\n".join(lines) + b"\r\n\r\n" + body)
    if answer:  # the server may also just close a request it cannot read
        status_line = answer.split(b"\r\n", 1)[0].split()
        assert len(status_line) >= 2 and status_line[1].isdigit(), answer[:200]
        status = int(status_line[1])
        event(f"HTTP {status}")
        assert status < 500, answer[:500]
        if status == 202:
            world.accepted += 1
            world.deliveries += json.loads(answer.split(b"\r\n\r\n", 1)[1])["deliveries"]
            world.accepted_bodies.add(body)


# -- chunked framing on raw sockets -------------------------------------------------------------

chunk_sizes = st.one_of(
    st.integers(0, 64).map(lambda n: f"{n:x}"),
    st.sampled_from(["", "zz", "-1", "0x2", " 2", "2 ", "ffffffffffffffffffff", "\u00b2", "2;x=y"]),
    st.text(max_size=8),
)
chunk = st.tuples(
    chunk_sizes, st.binary(max_size=40), st.sampled_from([b"\r\n", b"", b"\n", b"XX"])
)


def _framing(chunks: list[tuple[str, bytes, bytes]], last: bytes) -> bytes:
    out = b""
    for size, data, end in chunks:
        out += size.encode("utf-8", "surrogatepass") + b"\r\n" + data + end
    return out + last


@FUZZ
@given(
    chunks=st.lists(chunk, max_size=4),
    last=st.sampled_from([b"0\r\n\r\n", b"0\r\n", b"", b"0\r\nX-Trailer: 1\r\n\r\n", b"1\r\n"]),
    where=st.sampled_from(["hook", "/v1/routes", "/v1/subscriptions", "/log/login"]),
)
def test_chunked_framing_of_any_shape_gets_no_5xx(
    world: World, chunks: list[tuple[str, bytes, bytes]], last: bytes, where: str
) -> None:
    framing = _framing(chunks, last)
    path = f"/hooks/{world.tokens['route']}" if where == "hook" else where
    lines = [
        f"POST {path} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        b"Connection: close",
        b"Transfer-Encoding: chunked",
        f"Authorization: Bearer {KEY}".encode(),
        f"Origin: {world.relay.url}".encode(),
        b"Content-Type: "
        + (
            b"application/x-www-form-urlencoded"
            if where.startswith("/log")
            else b"application/json"
        ),
        # Signed as if the body were the chunks' data: a framing that holds is then a 202.
        b"X-CreativeAI-Signature: " + sign(b"".join(d for _, d, _ in chunks), KEY).encode(),
    ]
    answer = _raw(world, b"\r\n".join(lines) + b"\r\n\r\n" + framing)
    if answer:
        status = int(answer.split(b"\r\n", 1)[0].split()[1])
        event(f"HTTP {status}")
        assert status < 500, answer[:500]
        if status == 202:
            world.accepted += 1
            world.deliveries += json.loads(answer.split(b"\r\n\r\n", 1)[1])["deliveries"]
            world.accepted_bodies.add(b"".join(d for _, d, _ in chunks))


# -- the management API ---------------------------------------------------------------------------


def _strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in a JSON answer")

    return json.loads(text, parse_constant=refuse)


hostile_numbers = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000, "1" + "0" * 400, "-0", "1e-400"]
)
hostile_strings = st.text(max_size=20) | st.sampled_from(
    ['"\\ud800"', '"\\udfff x"', '"\\u0000"', '"\u00b2"', '"\u0661\u0662"']
)

#: JSON string literals, lone surrogates and NUL escapes among them.
json_strings = hostile_strings.map(lambda raw: raw if raw.startswith('"') else json.dumps(raw))


@st.composite
def hostile_json(draw: st.DrawFn) -> bytes:
    """JSON text (or nearly): documented fields with values of any kind, numbers that
    overflow, constants that are no JSON, lone surrogates, deep nesting."""
    names = ["target_url", "events", "expires_in", "expect", "expected_ids", "deadline"]
    names += ["fan_out_batch", "accept_409", "since", "until", "status", "ids"]
    parts = []
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        kind = draw(st.sampled_from(["value", "number", "string", "deep", "list"]))
        if kind == "value":
            value = json.dumps(draw(json_values))
        elif kind == "number":
            value = draw(hostile_numbers)
        elif kind == "string":
            value = draw(json_strings)
        elif kind == "deep":
            depth = draw(st.sampled_from([50, 150, 5000, 20000]))
            value = "[" * depth + "]" * depth
        else:
            value = "[" + ",".join(draw(st.lists(json_strings, max_size=3))) + "]"
        parts.append(f'"{name}": {value}')
    if draw(st.booleans()):
        parts.append('"target_url": "http://127.0.0.1:9/fuzz"')
    return ("{" + ", ".join(parts) + "}").encode("utf-8", "surrogatepass")


@FUZZ
@given(
    body=st.one_of(
        hostile_json(), st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())
    ),
    path=st.sampled_from(
        ["/v1/routes", "/v1/subscriptions", "/v1/deliveries/replay", "expected", "ledger"]
    ),
)
def test_management_posts_of_any_body_are_4xx_or_done_never_5xx(
    world: World, body: bytes, path: str
) -> None:
    method = "PUT" if path == "ledger" else "POST"
    if path == "expected":
        path = f"/v1/routes/{world.tokens['join_route_id']}/expected"
    elif path == "ledger":
        path = "/v1/ledger/video.create_from_text/fuzz-record"
    answer = world.http.request(
        method,
        path,
        content=body,
        headers={"Authorization": f"Bearer {MGMT_KEY}", "Content-Type": "application/json"},
    )
    event(f"HTTP {answer.status_code}")
    assert answer.status_code < 500, (answer.status_code, answer.text)
    if answer.status_code != 204:
        _strict(answer.text)


query_values = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["\u00b2", "\u0661\u0662", "9" * 5000, "1e400", "-1", "0", "50", "%ED%A0%80"]),
    st.integers(-10, 300).map(str),
)


@FUZZ
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(
                ["limit", "since", "until", "cursor", "status", "event", "route_id", "key", "x"]
            ),
            query_values,
        ),
        max_size=4,
    ),
    where=st.sampled_from(["page", "/v1/deliveries", "/v1/ledger/voice.create"]),
)
def test_queries_of_the_api_and_the_pages_get_no_5xx(
    world: World, params: list[tuple[str, str]], where: str
) -> None:
    if where == "page":
        answer = world.pages.get("/log/", params=httpx.QueryParams(tuple(params)))
    else:
        answer = world.http.get(
            where,
            params=httpx.QueryParams(tuple(params)),
            headers={"Authorization": f"Bearer {MGMT_KEY}"},
        )
        if answer.status_code < 500:
            _strict(answer.text)
    event(f"HTTP {answer.status_code}")
    assert answer.status_code < 500, (params, answer.status_code, answer.text[:300])


@FUZZ
@given(token=st.text(max_size=80), form=st.sampled_from(["/log/logout", "retry"]))
def test_any_wrong_csrf_token_is_403(world: World, token: str, form: str) -> None:
    path = f"/log/deliveries/{world.tokens['delivery_id']}/retry" if form == "retry" else form
    answer = world.pages.post(
        path,
        content=b"csrf_token=" + quote(token).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 403, (token, answer.status_code)


def test_only_accepted_bodies_reach_the_target_and_nothing_else_was_stored(
    world: World, tmp_path: Path
) -> None:
    """Runs after the properties above (same module): their totals, checked at the end."""
    assert world.accepted > 0, "no example was accepted: the fuzzing missed the happy path"
    wait_until(lambda: len(world.target.received) >= world.deliveries, timeout=30)
    received = world.target.received
    assert len(received) == world.deliveries
    assert {r.body for r in received} <= world.accepted_bodies
    storage = world.relay.relay.storage
    with storage.transaction(write=False) as tx:
        stored = tx.one("SELECT COUNT(*) AS n FROM events")
    assert stored is not None and stored["n"] == world.accepted
