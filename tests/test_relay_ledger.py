"""The record-key ledger (`/v1/ledger/<operation>/<key>`) against a relay served on 127.0.0.1,
on SQLite and PostgreSQL: put, get, replace, delete; tenant isolation; expiry (the relay's
clock moved on); keys with `/`, `%` and any Unicode; every bad input a 400 naming its
field; no key, 401; never a 5xx (a Hypothesis property over keys and bodies)."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connector.catalog import CATALOG, limits, steps
from connector.relay.storage import LedgerEntry, Storage, parse_time
from connector.relay.storage.schema import MIGRATIONS, VERSION_TABLE, statements
from connector.relay.testing import (
    PG_URL,
    RunningRelay,
    fast_config,
    postgres_available,
    running_relay,
    sqlite_url,
)

LEDGER = steps.LEDGER
PAID = [op.key for op in steps.capped(CATALOG.operations.values())]
UNPAID = [key for key in CATALOG.operations if key not in PAID]
OWNER = "sk-ledger-owner"
OTHER = "sk-ledger-other"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
HTTP = httpx.Client(timeout=10)
DAY = 86400.0
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))


@pytest.fixture(scope="module", params=BACKENDS)
def relay(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRelay]:
    if request.param == "sqlite":
        config = fast_config(sqlite_url(tmp_path_factory.mktemp("ledger")))
    else:
        schema = request.getfixturevalue("pg_schema")
        config = fast_config(PG_URL, database_schema=schema)
    with running_relay(config, clean=True) as running:
        yield running


@pytest.fixture
def clock(relay: RunningRelay) -> Iterator[list[float]]:
    """The relay's clock, moved by adding seconds to `clock[0]`; put back afterwards."""
    offset = [0.0]
    relay.relay.clock = lambda: time.time() + offset[0]
    try:
        yield offset
    finally:
        relay.relay.clock = time.time


@pytest.fixture
def api(relay: RunningRelay) -> Iterator[httpx.Client]:
    with relay.api(OWNER) as client:
        yield client


@pytest.fixture
def other(relay: RunningRelay) -> Iterator[httpx.Client]:
    with relay.api(OTHER) as client:
        yield client


def _key() -> str:
    """A key no other test uses (the relay is shared by the module's tests)."""
    return f"sku-{secrets.token_hex(6)}"


def _path(key: str, operation: str = "video.create_from_text") -> str:
    return LEDGER.path_for(operation, key)


def _entry(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    entry: dict[str, Any] = answer.json()
    return entry


def _error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def _seconds(stamp: str) -> float:
    return parse_time(stamp)


# -- the catalog's facts -----------------------------------------------------------------------


def test_the_catalog_states_the_ledger_once() -> None:
    assert LEDGER.path == "/v1/ledger"
    assert LEDGER.lifetime_days == limits.OUTPUT_URL_LIFETIME_DAYS
    assert LEDGER.lifetime_seconds == limits.OUTPUT_URL_LIFETIME_DAYS * 86400
    assert (LEDGER.max_key_chars, LEDGER.max_result_bytes) == (256, 64 * 1024)
    assert str(LEDGER.max_key_chars) in LEDGER.key_rule
    assert all(f"'{dot}'" in LEDGER.key_rule for dot in LEDGER.dot_keys)
    assert LEDGER.path_for("image.generate", "shop/sku 42%?#é") == (
        "/v1/ledger/image.generate/shop%2Fsku%2042%25%3F%23%C3%A9"
    )


# -- put, get, replace, delete ---------------------------------------------------------------


def test_a_job_id_put_is_the_entry_got_back(api: httpx.Client) -> None:
    key = _key()
    put = _entry(api.put(_path(key), json={"job_id": "vgen_abc123"}))
    assert set(put) == {"operation", "key", "job_id", "result", "created_at", "expires_at"}
    assert put["operation"] == "video.create_from_text"
    assert put["key"] == key
    assert put["job_id"] == "vgen_abc123" and put["result"] is None
    assert put["created_at"].endswith("Z") and put["expires_at"].endswith("Z")
    lived = _seconds(put["expires_at"]) - _seconds(put["created_at"])
    assert lived == pytest.approx(LEDGER.lifetime_days * DAY, abs=0.01)
    assert abs(_seconds(put["created_at"]) - time.time()) < 60
    assert _entry(api.get(_path(key))) == put


def test_a_synchronous_answer_is_kept_as_the_result(api: httpx.Client) -> None:
    key = _key()
    answer = {"id": "img_1", "data": [{"url": "https://cdn.example/1.png"}], "credits": 4}
    put = _entry(api.put(_path(key, "image.generate"), json={"result": answer}))
    assert put["result"] == answer and put["job_id"] is None
    assert _entry(api.get(_path(key, "image.generate")))["result"] == answer


def test_a_second_put_replaces_the_entry_and_starts_its_lifetime_again(
    api: httpx.Client, clock: list[float]
) -> None:
    key = _key()
    first = _entry(api.put(_path(key), json={"job_id": "vgen_first"}))
    clock[0] = 2 * DAY
    second = _entry(api.put(_path(key), json={"result": {"id": "vgen_second"}}))
    assert second["job_id"] is None and second["result"] == {"id": "vgen_second"}
    moved = _seconds(second["created_at"]) - _seconds(first["created_at"])
    assert moved == pytest.approx(2 * DAY, abs=30)
    assert _seconds(second["expires_at"]) - _seconds(first["expires_at"]) == pytest.approx(
        moved, abs=0.01
    )
    assert _entry(api.get(_path(key))) == second
    third = _entry(api.put(_path(key), json={"job_id": "vgen_third"}))
    assert third["result"] is None and _entry(api.get(_path(key)))["job_id"] == "vgen_third"


def test_delete_forgets_the_key_and_is_204_also_when_there_was_none(api: httpx.Client) -> None:
    key = _key()
    _entry(api.put(_path(key), json={"job_id": "vgen_1"}))
    answer = api.delete(_path(key))
    assert answer.status_code == 204 and answer.content == b""
    assert _error(api.get(_path(key)), 404)["code"] == "not_found"
    assert api.delete(_path(key)).status_code == 204
    assert api.delete(_path(_key())).status_code == 204


def test_an_unknown_key_is_a_404_error_response(api: httpx.Client) -> None:
    error = _error(api.get(_path(_key())), 404)
    assert error["code"] == "not_found" and "ledger entry" in error["message"]


def test_each_operation_has_keys_of_its_own(api: httpx.Client) -> None:
    key = _key()
    for number, operation in enumerate(PAID):
        _entry(api.put(_path(key, operation), json={"job_id": f"job_{number}"}))
    for number, operation in enumerate(PAID):
        entry = _entry(api.get(_path(key, operation)))
        assert (entry["operation"], entry["job_id"]) == (operation, f"job_{number}")
    api.delete(_path(key, PAID[0]))
    assert api.get(_path(key, PAID[0])).status_code == 404
    assert api.get(_path(key, PAID[1])).status_code == 200


# -- tenants -----------------------------------------------------------------------------------


def test_another_api_key_neither_sees_nor_touches_an_entry(
    api: httpx.Client, other: httpx.Client
) -> None:
    key = _key()
    mine = _entry(api.put(_path(key), json={"job_id": "vgen_mine"}))
    assert _error(other.get(_path(key)), 404)["code"] == "not_found"
    assert other.delete(_path(key)).status_code == 204
    assert _entry(api.get(_path(key))) == mine
    theirs = _entry(other.put(_path(key), json={"job_id": "vgen_theirs"}))
    assert _entry(api.get(_path(key)))["job_id"] == "vgen_mine"
    assert _entry(other.get(_path(key))) == theirs


# -- expiry ----------------------------------------------------------------------------------


def test_an_entry_answers_for_its_lifetime_then_is_gone(
    relay: RunningRelay, api: httpx.Client, clock: list[float]
) -> None:
    key = _key()
    _entry(api.put(_path(key), json={"job_id": "vgen_lives"}))
    lifetime = LEDGER.lifetime_days * DAY
    clock[0] = lifetime - 60
    assert _entry(api.get(_path(key)))["job_id"] == "vgen_lives"
    clock[0] = lifetime + 1
    assert _error(api.get(_path(key)), 404)["code"] == "not_found"
    fresh = _entry(api.put(_path(key), json={"job_id": "vgen_again"}))
    assert _entry(api.get(_path(key))) == fresh


def test_expired_entries_are_pruned_when_a_key_is_put(
    relay: RunningRelay, api: httpx.Client, other: httpx.Client, clock: list[float]
) -> None:
    old = [_key(), _key()]
    _entry(api.put(_path(old[0]), json={"job_id": "vgen_old0"}))
    _entry(other.put(_path(old[1]), json={"job_id": "vgen_old1"}))

    def stored(key: str) -> int:
        with relay.relay.storage.transaction(write=False) as tx:
            row = tx.one("SELECT COUNT(*) AS n FROM ledger WHERE record_key = ?", key)
        assert row is not None
        return int(row["n"])

    assert [stored(k) for k in old] == [1, 1]
    clock[0] = LEDGER.lifetime_days * DAY + 1
    _entry(api.put(_path(_key()), json={"job_id": "vgen_new"}))
    assert [stored(k) for k in old] == [0, 0]


# -- keys ------------------------------------------------------------------------------------

KEYS = {
    "slash": "shop/sku/42",
    "leading slash": "/sku",
    "trailing slash": "sku/",
    "double slash": "a//b",
    "percent": "100%",
    "encoded-looking": "a%2Fb%20c",
    "query and fragment": "a?b=1#c",
    "plus and space": "a+b c ",
    "unicode": "Größe-ß-日本-🎬",
    "dots inside": "../etc/passwd",
    "longest": "k" * LEDGER.max_key_chars,
    "longest astral": "🎬" * LEDGER.max_key_chars,
}


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_any_key_within_the_rule_comes_back_as_it_was(api: httpx.Client, key: str) -> None:
    stamp = secrets.token_hex(4)
    put = _entry(api.put(_path(key), json={"job_id": f"vgen_{stamp}"}))
    assert put["key"] == key
    got = _entry(api.get(_path(key)))
    assert (got["key"], got["job_id"]) == (key, f"vgen_{stamp}")
    assert api.delete(_path(key)).status_code == 204
    assert api.get(_path(key)).status_code == 404


def test_a_slash_sent_as_is_or_encoded_is_the_same_key(api: httpx.Client) -> None:
    base = _key()
    _entry(api.put(f"{LEDGER.path}/voice.create/{base}/part/2", json={"job_id": "vc_1"}))
    got = _entry(api.get(_path(f"{base}/part/2", "voice.create")))
    assert got["key"] == f"{base}/part/2" and got["job_id"] == "vc_1"


# -- bad input -------------------------------------------------------------------------------

OPERATION_PATH = LEDGER.path + "/video.create_from_text/"
BAD_PATHS = {
    "unknown operation": (f"{LEDGER.path}/video.create/k", "operation", "video.create"),
    "free operation": (f"{LEDGER.path}/{UNPAID[0]}/k", "operation", UNPAID[0]),
    "no operation": (LEDGER.path, "operation", None),
    "no operation, slash": (LEDGER.path + "/", "operation", None),
    "no key": (OPERATION_PATH.rstrip("/"), "key", None),
    "empty key": (OPERATION_PATH, "key", ""),
    "too long": (OPERATION_PATH + "k" * (LEDGER.max_key_chars + 1), "key", None),
    "NUL": (OPERATION_PATH + "a%00b", "key", "a\x00b"),
    "newline": (OPERATION_PATH + "a%0Ab", "key", "a\nb"),
    "DEL": (OPERATION_PATH + "%7F", "key", "\x7f"),
    "C1 control": (OPERATION_PATH + "%C2%85", "key", "\x85"),
    "dot": (OPERATION_PATH + "%2E", "key", "."),
    "dot dot": (OPERATION_PATH + "%2E%2E", "key", ".."),
    "not UTF-8": (OPERATION_PATH + "%FF%FE", "key", None),
}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(("path", "field", "value"), list(BAD_PATHS.values()), ids=list(BAD_PATHS))
def test_a_bad_operation_or_key_is_a_400_naming_it(
    relay: RunningRelay, method: str, path: str, field: str, value: str | None
) -> None:
    answer = HTTP.request(
        method,
        relay.url + path,
        headers={"Authorization": f"Bearer {OWNER}"},
        json={"job_id": "vgen_1"},
    )
    error = _error(answer, 400)
    assert error["code"] == "invalid_request" and error["field"] == field
    if value is not None:
        assert error["value"] == value
    if field == "operation":
        assert all(op in error["allowed"] for op in PAID)
        assert not any(f" {op}," in error["allowed"] + "," for op in UNPAID)
    else:
        assert str(LEDGER.max_key_chars) in error["allowed"]


def _result_of(size: int) -> dict[str, Any]:
    """A result that is exactly `size` bytes as compact JSON."""
    result = {"pad": ""}
    result["pad"] = "x" * (size - len(json.dumps(result, separators=(",", ":"))))
    return result


BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "body"),
    "neither": (b"{}", "body"),
    "both": (b'{"job_id": "vgen_1", "result": {"id": "vgen_1"}}', "body"),
    "both null": (b'{"job_id": null, "result": null}', "body"),
    "not JSON": (b"job_id=vgen_1", "body"),
    "a list": (b'[{"job_id": "vgen_1"}]', "body"),
    "NaN": (b'{"result": {"credits": NaN}}', "body"),
    "unknown field": (b'{"job_id": "vgen_1", "status": "queued"}', "status"),
    "job_id number": (b'{"job_id": 42}', "job_id"),
    "job_id empty": (b'{"job_id": ""}', "job_id"),
    "job_id control": (b'{"job_id": "vgen\\n1"}', "job_id"),
    "job_id too long": (json.dumps({"job_id": "j" * 257}).encode(), "job_id"),
    "result a list": (b'{"result": [1, 2]}', "result"),
    "result a string": (b'{"result": "done"}', "result"),
    "result too large": (
        json.dumps({"result": _result_of(LEDGER.max_result_bytes + 1)}).encode(),
        "result",
    ),
}


@pytest.mark.parametrize(("body", "field"), list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_a_bad_body_is_a_400_naming_the_field_and_stores_nothing(
    api: httpx.Client, body: bytes, field: str
) -> None:
    key = _key()
    answer = api.put(_path(key), content=body, headers={"Content-Type": "application/json"})
    error = _error(answer, 400)
    assert error["code"] == "invalid_request" and error["field"] == field
    assert error["allowed"]
    assert api.get(_path(key)).status_code == 404


def test_a_null_beside_the_one_value_counts_as_absent(api: httpx.Client) -> None:
    key = _key()
    put = _entry(api.put(_path(key), json={"job_id": "vgen_1", "result": None}))
    assert (put["job_id"], put["result"]) == ("vgen_1", None)
    put = _entry(api.put(_path(key), json={"job_id": None, "result": {"id": "img_1"}}))
    assert (put["job_id"], put["result"]) == (None, {"id": "img_1"})


def test_a_body_over_the_management_limit_is_413(api: httpx.Client) -> None:
    key = _key()
    answer = api.put(_path(key), json={"result": _result_of(300 * 1024)})
    assert _error(answer, 413)["code"] == "too_large"
    assert api.get(_path(key)).status_code == 404


def test_a_result_of_exactly_the_limit_is_kept(api: httpx.Client) -> None:
    key = _key()
    result = _result_of(LEDGER.max_result_bytes)
    assert len(json.dumps(result, separators=(",", ":")).encode()) == LEDGER.max_result_bytes
    assert _entry(api.put(_path(key), json={"result": result}))["result"] == result
    assert _entry(api.get(_path(key)))["result"] == result
    over = _result_of(LEDGER.max_result_bytes + 1)
    error = _error(api.put(_path(key), json={"result": over}), 400)
    assert error["field"] == "result" and str(LEDGER.max_result_bytes) in error["allowed"]
    assert _entry(api.get(_path(key)))["result"] == result


def test_the_limit_counts_utf8_bytes_not_characters(api: httpx.Client) -> None:
    wide = {"text": "é" * (LEDGER.max_result_bytes // 2)}  # half as many characters as bytes
    error = _error(api.put(_path(_key()), json={"result": wide}), 400)
    assert error["field"] == "result"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, {"Authorization": "x"}],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_the_ledger_needs_a_bearer_key(
    relay: RunningRelay, api: httpx.Client, method: str, headers: dict[str, str]
) -> None:
    key = _key()
    _entry(api.put(_path(key), json={"job_id": "vgen_kept"}))
    for path in (_path(key), f"{LEDGER.path}/nope/x", LEDGER.path):
        answer = HTTP.request(method, relay.url + path, headers=headers, json={"job_id": "x"})
        assert _error(answer, 401)["code"] == "unauthorized"
    assert _entry(api.get(_path(key)))["job_id"] == "vgen_kept"


def test_other_methods_are_405_not_5xx(api: httpx.Client) -> None:
    answer = api.post(_path(_key()), json={"job_id": "vgen_1"})
    assert answer.status_code == 405


# -- never a 5xx -----------------------------------------------------------------------------

json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=100),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {}, optional={"job_id": json_values | st.text(max_size=300), "result": json_values}
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b'{"job_id": "\\ud800"}', b'{"result": {"a": 1e999}}', b"[" * 5000]),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(
    key=st.text(max_size=LEDGER.max_key_chars + 20),
    raw_key=st.booleans(),
    operation=st.sampled_from([*PAID, *UNPAID, "", "x/y"]),
    body=bodies,
)
def test_any_key_and_body_is_answered_below_500_and_kept_exactly(
    relay: RunningRelay, key: str, raw_key: bool, operation: str, body: bytes
) -> None:
    encoded = key if raw_key else quote(key.encode("utf-8", "surrogatepass"), safe="")
    path = f"{LEDGER.path}/{operation}/{encoded}"
    headers = {"Authorization": f"Bearer {OWNER}", "Content-Type": "application/json"}
    try:
        answer = HTTP.put(relay.url + path, content=body, headers=headers)
    except (httpx.InvalidURL, UnicodeEncodeError):
        event("refused by the client")
        return
    event(f"PUT {answer.status_code}")
    assert answer.status_code < 500, (path, body, answer.text)
    assert answer.status_code in (200, 400), (path, body, answer.text)  # a PUT is never 404
    json.loads(answer.text)
    if answer.status_code == 200 and not raw_key:
        put = answer.json()
        assert put["key"] == key and put["operation"] == operation
        got = HTTP.get(relay.url + path, headers=headers)
        assert got.status_code == 200 and got.json() == put
        assert HTTP.delete(relay.url + path, headers=headers).status_code == 204


# -- the schema upgrade ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_of_the_first_schema_is_upgraded_to_hold_the_ledger(
    backend: str, tmp_path: Path
) -> None:
    from connector.relay.storage.postgres import PostgresStorage
    from connector.relay.storage.sqlite import SqliteStorage

    if backend == "postgres" and not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = f"relay_test_{secrets.token_hex(5)}"
    storage: Storage = (
        SqliteStorage(tmp_path / "v1.sqlite3")
        if backend == "sqlite"
        else PostgresStorage(PG_URL, schema=schema)
    )
    try:
        with storage.transaction() as tx:  # a relay that shipped before the ledger
            tx.run(VERSION_TABLE)
            for sql in statements(1, storage.types):
                tx.run(sql)
            tx.run("INSERT INTO relay_schema (version) VALUES (1)")
        assert storage.migrate() == len(MIGRATIONS) >= 2
        now = time.time()
        entry = LedgerEntry("t1", "image.edit", "sku/1", None, {"id": "img_1"}, now, now + 60)
        storage.put_ledger(entry)
        assert storage.get_ledger("t1", "image.edit", "sku/1", now) == entry
        assert storage.get_ledger("t1", "image.edit", "sku/1", now + 61) is None
        assert storage.prune_ledger(now + 61) == 1
    finally:
        if isinstance(storage, PostgresStorage):
            storage.drop_schema()
        else:
            storage.close()


# -- the lookup a platform that stops at any 4xx can use (Make) ---------------------------------


def test_a_lookup_by_query_lists_none_or_the_one_entry_and_is_always_200(
    api: httpx.Client, other: httpx.Client, clock: list[float]
) -> None:
    key = _key() + "/with a slash"
    found = f"{LEDGER.path}/video.create_from_text"
    none = api.get(found, params={"key": key})
    assert none.status_code == 200 and none.json() == {"data": []}  # not a 404
    put = _entry(api.put(_path(key), json={"job_id": "vid_7"}))
    listed = api.get(found, params={"key": key})
    assert listed.status_code == 200 and listed.json() == {"data": [put]}
    assert api.get(f"{LEDGER.path}/image.generate", params={"key": key}).json() == {"data": []}
    assert other.get(found, params={"key": key}).json() == {"data": []}  # another tenant's
    clock[0] += LEDGER.lifetime_seconds + 1
    assert api.get(found, params={"key": key}).json() == {"data": []}  # expired


def test_a_lookup_without_a_key_or_for_an_unpaid_operation_is_a_400_naming_it(
    api: httpx.Client,
) -> None:
    missing = _error(api.get(f"{LEDGER.path}/video.create_from_text"), 400)
    assert missing["field"] == "key"
    unpaid = _error(api.get(f"{LEDGER.path}/{UNPAID[0]}", params={"key": "k"}), 400)
    assert unpaid["field"] == "operation"
    control = _error(api.get(f"{LEDGER.path}/voice.create", params={"key": "a\nb"}), 400)
    assert control["field"] == "key"


def test_a_lookup_key_that_is_not_utf8_is_a_400_not_a_second_name_for_another_key(
    relay: RunningRelay,
) -> None:
    # "%FF" decodes leniently to U+FFFD: without the check it would find the entry of "\ufffd".
    url = f"{relay.url}{LEDGER.path}/video.create_from_text?key=%FF"
    answer = HTTP.get(url, headers={"Authorization": f"Bearer {OWNER}"})
    assert _error(answer, 400)["field"] == "key"
