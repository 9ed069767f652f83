"""The credential test in real n8n: what a builder reads after *Save* for each way the key or
the Base URL can be wrong, asked through n8n's own REST endpoint (`POST /rest/credentials/test`,
as the editor does) against real servers on 127.0.0.1.

- An answer that names the problem (401, 403, 404, 405, 429, 5xx, a web page with 200) gets
  the catalog's sentence (`errors.check_refused`, `errors.check_not_the_api`), and a working
  key on the sandbox still passes.
- A network error (connection refused, a name that does not resolve, an untrusted
  certificate, HTTPS to plain HTTP, no answer) cannot be worded by a credential in n8n 2.41:
  its credential tester returns `error.cause.code` for any error without an HTTP response
  (packages/cli/src/services/credentials-tester.service.ts, the `else if
  (error.cause?.code)` branch of `runRequestTest`), before any rule is looked at. These
  tests pin the code n8n shows and check that the README's Credentials section, where the
  credential's documentation link points, says what it means.
"""

from __future__ import annotations

import datetime
import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import n8n_toolchain as toolchain
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from n8n_instance import N8nInstance, free_port

from connector.catalog import CATALOG, errors
from connector.platforms.n8n import sources
from connector.sandbox.harness import RunningSandbox, running_sandbox

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "n8n-nodes"
PATH = CATALOG.operation("model.list").path
# A cold first run installs n8n (about 5 min); the no-answer case waits n8n's 5 minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

Check = Callable[..., dict[str, Any]]

# What the origin answers under /<case>/v1/models: a status, a content type and a body.
ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "page": (200, "text/html", b"<!doctype html><title>Welcome</title><p>Our product</p>"),
    "other-api": (200, "application/json", b'{"status": "ok"}'),
    "models": (200, "application/json", b'{"object": "list", "data": []}'),
}
for _status in errors.CHECK_STATUSES:
    ANSWERS[str(_status)] = (
        (_status, "text/html", b"<html><body><h1>Not Found</h1></body></html>")
        if _status == 404
        else (_status, "application/json", json.dumps({"error": {"message": "no"}}).encode())
    )


class Origin(BaseHTTPRequestHandler):
    """Answers GET /<case>/v1/models as ANSWERS says; /silent/... answers nothing until the
    server's `release` event is set."""

    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        case, _, rest = self.path.lstrip("/").partition("/")
        self.server.seen.append((case, self.headers.get("Authorization", "")))
        if case == "silent":
            self.server.release.wait(timeout=600)
            return
        status, content_type, body = ANSWERS.get(case, (418, "text/plain", b"unknown case"))
        if f"/{rest}" != PATH:
            status, content_type, body = 500, "text/plain", b"unexpected path"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Origin)
        self.seen: list[tuple[str, str]] = []
        self.release = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def _serve(server: Server) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def origin() -> Iterator[Server]:
    server = Server()
    _serve(server)
    yield server
    server.release.set()
    server.shutdown()


@pytest.fixture(scope="module")
def tls_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server()
    server.socket = _self_signed(tmp_path_factory.mktemp("tls")).wrap_socket(
        server.socket, server_side=True
    )
    _serve(server)
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(time_scale=0.01, rate_limits=False) as running:
        yield running


@pytest.fixture(scope="module")
def check(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Check]:
    """`check(base_url, api_key=...)`: n8n's verdict on a credential with that data."""
    install = toolchain.n8n()
    package = toolchain.stage(PACKAGE, tmp_path_factory.mktemp("build") / "pkg")
    package.build()
    tarball = package.pack(tmp_path_factory.mktemp("pack"))
    with N8nInstance(install, tmp_path_factory.mktemp("n8n-home")) as instance:
        instance.install_package(tarball)
        instance.start()
        # The editor's session: the owner's cookie, bound to the browser id it was issued to.
        rest = httpx.Client(base_url=instance.url, headers={"browser-id": "credential-test"})
        owner = {
            "email": "owner@example.com",
            "firstName": "Test",
            "lastName": "Owner",
            "password": "Credential-test-1",
        }
        rest.post("/rest/owner/setup", json=owner).raise_for_status()
        data = {"apiKey": "sk-placeholder", "baseUrl": "http://127.0.0.1:9", "relayUrl": ""}
        created = rest.post(
            "/rest/credentials",
            json={"name": "CreativeAI", "type": sources.CREDENTIAL, "data": data},
        )
        created.raise_for_status()
        stored = created.json()["data"]

        def run(base_url: str, api_key: str = "sk-not-a-real-key") -> dict[str, Any]:
            body = {
                "credentials": {
                    "id": stored["id"],
                    "name": stored["name"],
                    "type": sources.CREDENTIAL,
                    "data": {"apiKey": api_key, "baseUrl": base_url, "relayUrl": ""},
                }
            }
            answer = rest.post("/rest/credentials/test", json=body, timeout=400)
            answer.raise_for_status()
            verdict: dict[str, Any] = answer.json()["data"]
            return verdict

        yield run
        rest.close()


@pytest.fixture(scope="module")
def no_answer(check: Check, origin: Server) -> Iterator[Future[tuple[float, dict[str, Any]]]]:
    """The check against a server that never answers, started early: n8n waits its full
    timeout, so the other cases run meanwhile."""

    def timed() -> tuple[float, dict[str, Any]]:
        started = time.monotonic()
        verdict = check(f"http://127.0.0.1:{origin.port}/silent")
        return time.monotonic() - started, verdict

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(timed)
        origin.release.set()


def _explained(code: str) -> str:
    """The README's words for one of n8n's network error codes (its Credentials section's
    table), or "" when the README does not list the code."""
    readme = (PACKAGE / "README.md").read_text()
    section = readme.split(f"## {sources.CREDENTIALS_HEADING}\n", 1)[1].split("\n## ", 1)[0]
    for row in re.findall(r"^\| (`.+?) \| (.+) \|$", section, re.M):
        if f"`{code}`" in row[0].split(", "):
            return str(row[1])
    return ""


# -- answers that name the problem -------------------------------------------------------


def test_a_working_key_passes(
    check: Check, sandbox: RunningSandbox, no_answer: Future[Any]
) -> None:
    verdict = check(sandbox.url, api_key=sandbox.api_key)
    assert verdict == {"status": "OK", "message": "Connection successful!"}


def test_a_key_the_api_does_not_recognise(check: Check, sandbox: RunningSandbox) -> None:
    verdict = check(sandbox.url, api_key="sk-not-a-real-key")
    assert verdict == {"status": "Error", "message": errors.check_refused(401, PATH)}
    assert "missing or invalid" in verdict["message"]


@pytest.mark.parametrize("status", errors.CHECK_STATUSES)
def test_an_answer_that_names_the_problem_is_said_in_words(
    check: Check, origin: Server, status: int
) -> None:
    verdict = check(f"http://127.0.0.1:{origin.port}/{status}")
    expected = errors.check_refused(status, PATH)
    assert expected and verdict == {"status": "Error", "message": expected}
    assert (str(status), "Bearer sk-not-a-real-key") in origin.seen  # the key went with it


@pytest.mark.parametrize("case", ["page", "other-api"])
def test_a_2xx_answer_that_is_not_the_model_list_is_not_a_pass(
    check: Check, origin: Server, case: str
) -> None:
    verdict = check(f"http://127.0.0.1:{origin.port}/{case}")
    assert verdict == {"status": "Error", "message": errors.check_not_the_api(PATH)}


def test_an_empty_model_list_is_still_the_api(check: Check, origin: Server) -> None:
    assert check(f"http://127.0.0.1:{origin.port}/models")["status"] == "OK"


# -- network errors: n8n's bare code, explained where the documentation link points -------


def _network_error(verdict: dict[str, Any], codes: set[str]) -> None:
    assert verdict["status"] == "Error"
    assert verdict["message"] in codes, verdict  # n8n 2.41 shows the code and nothing else
    assert _explained(verdict["message"]), f"the README does not explain {verdict['message']}"


def test_a_closed_port(check: Check) -> None:
    _network_error(check(f"http://127.0.0.1:{free_port()}"), {"ECONNREFUSED"})


def test_a_host_name_that_does_not_resolve(check: Check) -> None:
    # .invalid never resolves (RFC 6761); without a reachable DNS server the code is EAI_AGAIN.
    _network_error(check("http://api.creativeai.invalid"), {"ENOTFOUND", "EAI_AGAIN"})


def test_an_untrusted_certificate(check: Check, tls_origin: Server) -> None:
    verdict = check(f"https://127.0.0.1:{tls_origin.port}/models")
    _network_error(verdict, {"DEPTH_ZERO_SELF_SIGNED_CERT"})


def test_https_to_a_plain_http_server(check: Check, origin: Server) -> None:
    _network_error(check(f"https://127.0.0.1:{origin.port}/models"), {"EPROTO"})


def test_no_answer_ends_after_n8ns_timeout(no_answer: Future[tuple[float, dict[str, Any]]]) -> None:
    seconds, verdict = no_answer.result(timeout=600)
    _network_error(verdict, {"ECONNABORTED"})
    minutes = sources.N8N_TEST_TIMEOUT_MINUTES
    assert minutes * 60 - 5 <= seconds < minutes * 60 + 60, seconds
    assert f"{minutes} minutes" in _explained("ECONNABORTED")


def test_the_documentation_link_points_at_the_section_that_explains_them() -> None:
    credential = (PACKAGE / "credentials" / "CreativeAiApi.credentials.ts").read_text()
    [url] = re.findall(r"documentationUrl = '([^']+)'", credential)
    assert url.endswith("#" + sources.github_anchor(sources.CREDENTIALS_HEADING))
    assert (PACKAGE / "README.md").read_text().count(f"\n## {sources.CREDENTIALS_HEADING}\n") == 1
