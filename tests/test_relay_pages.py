"""The delivery log pages (`/log/`) in a real headless Chromium, driven by Playwright.

A real flow first: signed events go through the relay to a local target that fails until
they are dead-lettered (one more goes to a target that takes it). Then a person signs in
with the API key, filters, opens a delivery, reads its attempts, presses Replay and sees
the new attempt succeed; another tenant sees none of it; a wrong key is refused; a
cross-site form is refused. Screenshots go to the test's tmp dir (look at them by eye;
they are not committed).

Needs Debian's `chromium` (`.ci/run` installs it); Playwright drives it through
`executable_path`, never a browser of its own.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.relay.testing import (
    Reply,
    RunningRelay,
    Target,
    api_webhook,
    fast_config,
    running_relay,
    running_target,
    sqlite_url,
    video_payload,
    wait_until,
)
from connector.relay.tokens import tenant_id

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
#: The flags every Chromium here runs with (no background traffic to a closed network).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEY = "sk-pages-owner"
OTHER_KEY = "sk-pages-someone-else"
DOWN = b'{"error":"<b>down</b> & out"}'
SCHEDULE = (0.0, 0.02, 0.04, 0.06)

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A persistent context on a fresh --user-data-dir of Debian's Chromium."""
    if not (os.path.exists(CHROMIUM) and shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run should have installed Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def targets() -> Iterator[tuple[Target, Target]]:
    with running_target() as failing, running_target() as healthy:
        failing.default = Reply(503, DOWN)
        yield failing, healthy


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    config = fast_config(sqlite_url(tmp_path), embedded_worker=True, retry_schedule=SCHEDULE)
    with running_relay(config) as running:
        yield running


def _route(relay: RunningRelay, key: str, target_url: str) -> str:
    with relay.api(key) as api:
        answer = api.post("/v1/routes", json={"target_url": target_url})
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["webhook_url"]
    return url


def _send(webhook_url: str, payload: dict[str, Any]) -> None:
    body, headers = api_webhook(payload, KEY)
    answer = httpx.post(webhook_url, content=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text


def _statuses(relay: RunningRelay, key: str) -> list[str]:
    with relay.api(key) as api:
        return [d["status"] for d in api.get("/v1/deliveries").json()["data"]]


def _real_flow(relay: RunningRelay, failing: Target, healthy: Target) -> None:
    """Three events dead-lettered at a failing target, one delivered to a healthy one."""
    dead_url = _route(relay, KEY, failing.url + "/resume")
    ok_url = _route(relay, KEY, healthy.url + "/resume")
    _route(relay, OTHER_KEY, healthy.url + "/other")  # the other tenant exists, with nothing
    _send(dead_url, video_payload("vgen_page_a"))
    _send(dead_url, video_payload("vgen_page_b"))
    _send(dead_url, video_payload("vgen_page_c", state="failed"))
    _send(ok_url, video_payload("vgen_page_d"))
    wait_until(
        lambda: sorted(_statuses(relay, KEY)) == ["dead", "dead", "dead", "succeeded"], timeout=15
    )
    assert len(failing.received) == 3 * len(SCHEDULE)


def _sign_in(page: Any, relay: RunningRelay, key: str) -> None:
    page.goto(relay.url + "/log/")
    assert "/log/login" in page.url
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def _rows(page: Any, table: str) -> Any:
    return page.locator(f"table.{table} tbody tr")


def test_sign_in_filter_open_a_dead_delivery_and_replay_it(
    browser: Any, relay: RunningRelay, targets: tuple[Target, Target], tmp_path: Path
) -> None:
    failing, healthy = targets
    _real_flow(relay, failing, healthy)
    page = browser.new_page()
    browser.clear_cookies()

    # A wrong key is refused, and no session cookie is set.
    _sign_in(page, relay, "sk-not-a-tenant-here")
    assert page.get_by_role("alert").inner_text().startswith("This API key is not known")
    assert page.get_by_label("API key").input_value() == ""  # the key is not echoed back
    assert not [c for c in browser.cookies() if c["name"] == "relay_log_session"]

    # The right key: every delivery of the flow, newest first.
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Deliveries").wait_for()
    assert _rows(page, "deliveries").count() == 4
    (cookie,) = [c for c in browser.cookies() if c["name"] == "relay_log_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/log/"
    payload = cookie["value"].split(".")[0]
    carried = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert carried == {"t": tenant_id(KEY)}  # only the tenant id, never the key
    page.screenshot(path=str(tmp_path / "list.png"), full_page=True)
    newest_first = [
        _rows(page, "deliveries").nth(i).locator("td.id").inner_text() for i in range(4)
    ]

    # Pages of three: the older page holds the fourth, and leads back to the newest.
    page.goto(relay.url + "/log/?limit=3")
    assert _rows(page, "deliveries").count() == 3
    page.get_by_role("link", name="Older").click()
    assert [_rows(page, "deliveries").first.locator("td.id").inner_text()] == newest_first[3:]
    page.get_by_role("link", name="Newest").click()
    assert _rows(page, "deliveries").first.locator("td.id").inner_text() == newest_first[0]
    page.goto(relay.url + "/log/")

    # Filter: dead video.generation.completed deliveries only.
    page.get_by_label("dead").check()
    page.get_by_label("Event").select_option("video.generation.completed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=dead"))
    rows = _rows(page, "deliveries")
    assert rows.count() == 2
    assert {rows.nth(i).get_attribute("data-status") for i in range(2)} == {"dead"}
    assert page.get_by_label("dead").is_checked()  # the form keeps the filter
    # A time range that ends before the flow began finds nothing.
    page.get_by_label("Before (UTC)").fill("2020-01-01T00:00:00")
    page.get_by_role("button", name="Filter").click()
    page.get_by_text("No deliveries match these filters.").wait_for()
    page.go_back()

    # One delivery: every attempt, the target's answer shown as text, not markup.
    rows.first.get_by_role("link").click()
    page.get_by_role("heading", name="Attempts").wait_for()
    assert page.locator("#delivery-status").inner_text() == "dead"
    attempts = _rows(page, "attempts")
    assert attempts.count() == len(SCHEDULE)
    for i in range(len(SCHEDULE)):
        cells = attempts.nth(i).locator("td")
        assert cells.nth(0).inner_text() == str(i + 1)
        assert cells.nth(2).inner_text() == "503"
        assert cells.nth(3).inner_text().startswith("http_error")
        assert cells.nth(4).inner_text().endswith(" ms")
        assert cells.nth(5).inner_text() == DOWN.decode()
    assert page.locator("pre.excerpt b").count() == 0
    detail_url = page.url.split("?")[0]
    page.screenshot(path=str(tmp_path / "dead.png"), full_page=True)

    # A form on another origin (same site: only the port differs, so the SameSite cookie
    # goes along) cannot make the relay send it again.
    page.goto(healthy.url + "/elsewhere")
    page.set_content(
        f'<form method="post" action="{detail_url}/retry">'
        '<input type="hidden" name="csrf_token" value="guess"><button>go</button></form>'
    )
    with page.expect_navigation():
        page.get_by_role("button", name="go").click()
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    assert _statuses(relay, KEY).count("dead") == 3

    # Replay: the target is healthy again, and the new attempt succeeds.
    failing.default = Reply(200)
    page.goto(detail_url)
    page.get_by_role("button", name="Replay").click()
    assert "Sent again" in page.get_by_role("status").inner_text()

    def succeeded() -> bool:
        page.reload()
        return bool(page.locator("#delivery-status").inner_text() == "succeeded")

    wait_until(succeeded, timeout=10, every=0.1)
    attempts = _rows(page, "attempts")
    assert attempts.count() == len(SCHEDULE) + 1
    last = attempts.last.locator("td")
    assert (last.nth(2).inner_text(), last.nth(3).inner_text()) == ("200", "success")
    page.screenshot(path=str(tmp_path / "replayed.png"), full_page=True)
    assert len(failing.received) == 3 * len(SCHEDULE) + 1

    # Sign out; another tenant's key sees none of these deliveries.
    page.get_by_role("button", name="Sign out").click()
    assert "You are signed out." in page.get_by_role("status").inner_text()
    _sign_in(page, relay, OTHER_KEY)
    page.get_by_text("No deliveries.").wait_for()
    assert _rows(page, "deliveries").count() == 0
    answer = page.goto(detail_url)
    assert answer is not None and answer.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    page.close()


def test_forms_need_this_origin_and_the_session_token(
    relay: RunningRelay, targets: tuple[Target, Target]
) -> None:
    """Without a browser: what a forged request gets from each form."""
    failing, _ = targets
    _send(_route(relay, KEY, failing.url), video_payload("vgen_forms"))
    wait_until(lambda: _statuses(relay, KEY) == ["dead"])
    with relay.api(KEY) as api:
        (delivery,) = api.get("/v1/deliveries").json()["data"]
    origin = {"Origin": relay.url}
    with httpx.Client(base_url=relay.url, timeout=10) as browser_like:
        # Sign-in needs this relay's Origin (or Referer) too.
        login = "/log/login"
        assert browser_like.post(login, data={"api_key": KEY}).status_code == 403
        evil = {"Origin": "http://evil.example"}
        assert browser_like.post(login, data={"api_key": KEY}, headers=evil).status_code == 403
        too_long = {"api_key": "x" * 129}
        assert browser_like.post(login, data=too_long, headers=origin).status_code == 401
        # `next` never leaves the log.
        signed = browser_like.post(
            "/log/login", data={"api_key": KEY, "next": "//evil.example/"}, headers=origin
        )
        assert (signed.status_code, signed.headers["location"]) == (303, "/log/")
        again = browser_like.get("/log/login")  # signed in already: straight to the log
        assert (again.status_code, again.headers["location"]) == (303, "/log/")
        page = browser_like.get(f"/log/deliveries/{delivery['id']}")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token is not None
        retry = f"/log/deliveries/{delivery['id']}/retry"
        assert browser_like.post(retry, headers=origin).status_code == 403  # no token
        wrong = {"csrf_token": "0" * 64}
        assert browser_like.post(retry, data=wrong, headers=origin).status_code == 403
        right = {"csrf_token": token.group(1)}
        assert browser_like.post(retry, data=right, headers=evil).status_code == 403
        assert _statuses(relay, KEY) == ["dead"]
        done = browser_like.post(retry, data=right, headers=origin)
        assert done.status_code == 303 and done.headers["location"].endswith("?notice=retried")
        # A cookie that was tampered with is no session.
        browser_like.cookies.clear()
        browser_like.cookies.set("relay_log_session", "e30.AAAA.BBBB", path="/log/")
        assert browser_like.get("/log/").status_code == 303
