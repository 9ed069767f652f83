"""The SSRF guard on forwarding targets: tricky URLs, resolution, pinning, TLS, redirects.

Nothing here touches the internet: names resolve through injected resolvers, and the
only servers are local ones on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.relay.ssrf import (
    TargetPolicy,
    TargetRefused,
    async_guarded_client,
    check_address,
    check_url,
    guarded_client,
    parse_target,
    redact_url,
    resolve_and_check,
)

STRICT = TargetPolicy()
LOCAL = TargetPolicy(allow_http=True, allow_networks=("127.0.0.0/8",))
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class FakeDNS:
    """A resolver with a fixed table (host -> answers per call); counts its calls."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        self.calls.append((host, port))
        answers = self.table.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = answers[min(len(self.calls), len(answers)) - 1]
        out: list[Any] = []
        for address in addresses:
            if ":" in address:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return out


# ------------------------------------------------------------------ refused target list

# (url, reason); every one of these must be refused by check_url under the strict policy.
REFUSED = [
    ("http://example.com/hook", "scheme"),
    ("https://127.0.0.1/", "loopback"),
    ("https://0x7f.1/", "loopback"),
    ("https://0x7f000001/", "loopback"),
    ("https://2130706433/", "loopback"),
    ("https://017700000001/", "loopback"),
    ("https://127.1/", "loopback"),
    ("https://127.0.0.1./", "loopback"),
    ("https://127.0.1/", "loopback"),
    ("https://[::1]/", "loopback"),
    ("https://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://[::ffff:7f00:1]/", "loopback"),
    ("https://[0:0:0:0:0:ffff:127.0.0.1]/", "loopback"),
    ("https://[::ffff:a9fe:a9fe]/", "link_local"),
    ("https://[::127.0.0.1]/", "embedded_private"),
    ("https://[::ffff:0:7f00:1]/", "embedded_private"),
    ("https://[64:ff9b::a00:1]/", "embedded_private"),
    ("https://[64:ff9b::127.0.0.1]/", "embedded_private"),
    ("https://[64:ff9b:1::1]/", "reserved"),
    ("https://[2002:a00:1::]/", "embedded_private"),
    ("https://[2002:7f00:1::1]/", "embedded_private"),
    ("https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "embedded_private"),  # Teredo 10.0.0.1
    ("https://[fd00::1]/", "ula"),
    ("https://[fc00::1]/", "ula"),
    ("https://[fe80::1]/", "link_local"),
    ("https://[fe80::1%25eth0]/", "zone_id"),
    ("https://[fec0::1]/", "site_local"),
    ("https://[2001:db8::1]/", "documentation"),
    ("https://[100::1]/", "reserved"),
    ("https://[ff02::1]/", "multicast"),
    ("https://[::]/", "unspecified"),
    ("https://169.254.169.254/latest/meta-data", "link_local"),
    ("https://0xa9.0xfe.0xa9.0xfe/", "link_local"),
    ("https://10.0.0.5/", "private"),
    ("https://172.16.0.1/", "private"),
    ("https://192.168.1.1/", "private"),
    ("https://100.64.0.1/", "cgnat"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://0/", "unspecified"),
    ("https://0.1.2.3/", "reserved"),
    ("https://224.0.0.1/", "multicast"),
    ("https://255.255.255.255/", "broadcast"),
    ("https://240.0.0.1/", "reserved"),
    ("https://198.18.0.1/", "benchmarking"),
    ("https://198.19.255.254/", "benchmarking"),
    ("https://192.0.2.1/", "documentation"),
    ("https://203.0.113.9/", "documentation"),
    ("https://192.0.0.8/", "reserved"),
    ("https://user:pass@example.com/", "userinfo"),
    ("https://user@example.com/", "userinfo"),
    ("https://@example.com/", "userinfo"),
    ("https://example.com\\@127.0.0.1/", "userinfo"),
    ("https://localhost/", "local_name"),
    ("https://LOCALHOST./", "local_name"),
    ("https://api.localhost/", "local_name"),
    ("ftp://example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.com:70/", "scheme"),
    ("https://example.com:0/", "port"),
    ("https://example.com:65536/", "port"),
    ("https:///path-only", "no_host"),
    ("https://1.2.3.4.5/", "ambiguous_host"),
    ("https://example.123/", "ambiguous_host"),
    ("https://08.0.0.1/", "invalid_url"),
    ("https://08.1/", "ambiguous_host"),
    ("https://1.256.0.1/", "invalid_url"),
    ("https://1.256.1/", "ambiguous_host"),
    ("https://1.2.16777216/", "ambiguous_host"),
    ("https://%31%32%37.0.0.1/", "ambiguous_host"),
    ("https://0177.0.0.1/", "invalid_url"),
    ("https://exa mple.com/", "invalid_url"),
    ("https://example.com/\r\nX-Injected: 1", "invalid_url"),
    ("https://example.com/" + "a" * 2100, "invalid_url"),
    ("https://ex%41mple.com/", "invalid_host"),
]


def test_the_refused_list_is_long_enough() -> None:
    assert len(REFUSED) >= 25


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[u[:60] for u, _ in REFUSED])
def test_refused_targets(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused) as caught:
        check_url(url, STRICT)
    assert caught.value.reason == reason, str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("url", "reason"), REFUSED[:40], ids=[u[:60] for u, _ in REFUSED[:40]])
def test_refused_targets_never_leave_the_client(url: str, reason: str) -> None:
    dns = FakeDNS({})
    with guarded_client(STRICT, resolver=dns) as client, pytest.raises(TargetRefused):
        client.post(url, content=b"{}")
    assert dns.calls == []


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["10.0.0.5"], "private"),
        ([PUBLIC_V4, "10.0.0.5"], "private"),
        (["10.0.0.5", PUBLIC_V4], "private"),
        ([PUBLIC_V6, "::1"], "loopback"),
        (["::ffff:10.0.0.5"], "private"),
        (["fe80::1%eth0"], "link_local"),
        (["169.254.169.254"], "link_local"),
        (["100.100.100.200"], "cgnat"),
        (["64:ff9b::a9fe:a9fe"], "embedded_private"),
        (["not-an-ip"], "invalid_address"),
    ],
)
def test_names_resolving_to_refused_addresses(answers: list[str], reason: str) -> None:
    dns = FakeDNS({"hooks.example.com": [answers]})
    with pytest.raises(TargetRefused) as caught:
        resolve_and_check("hooks.example.com", 443, STRICT, dns)
    assert caught.value.reason == reason
    assert dns.calls == [("hooks.example.com", 443)]


def test_public_targets_are_accepted() -> None:
    dns = FakeDNS({"hooks.example.com": [[PUBLIC_V6, PUBLIC_V4, PUBLIC_V4]]})
    addresses = resolve_and_check("hooks.example.com", 443, STRICT, dns)
    assert addresses == [ipaddress.ip_address(PUBLIC_V6), ipaddress.ip_address(PUBLIC_V4)]
    assert dns.calls == [("hooks.example.com", 443)]
    for url in (
        "https://hooks.zapier.com/hooks/catch/123/abc/",
        "https://hook.eu1.make.com/abcdefghijklmnop",
        "https://n8n.example.com/webhook-waiting/42?signature=abc",
        f"https://{PUBLIC_V4}:8443/x",
        f"https://[{PUBLIC_V6}]/x",
        "https://[64:ff9b::808:808]/",  # NAT64 to a public IPv4 address
        "https://[2002:808:808::1]/",  # 6to4 of a public IPv4 address
        "https://bücher.example/",
        "https://EXAMPLE.com./",
    ):
        check_url(url, STRICT)
    target = parse_target("https://Hooks.Example.COM./a", STRICT)
    assert (target.scheme, target.host, target.port, target.address) == (
        "https",
        "hooks.example.com",
        443,
        None,
    )


def test_ip_literals_never_reach_the_resolver() -> None:
    dns = FakeDNS({})
    assert resolve_and_check(PUBLIC_V4, 443, STRICT, dns) == [ipaddress.ip_address(PUBLIC_V4)]
    with pytest.raises(TargetRefused):
        resolve_and_check("0x7f.1", 443, STRICT, dns)
    with pytest.raises(TargetRefused):
        resolve_and_check("[::1]", 443, STRICT, dns)
    assert dns.calls == []


def test_unresolvable_names_are_network_errors_not_refusals() -> None:
    with pytest.raises(socket.gaierror):
        resolve_and_check("nowhere.example", 443, STRICT, FakeDNS({}))
    with pytest.raises(socket.gaierror):
        resolve_and_check("empty.example", 443, STRICT, FakeDNS({"empty.example": [[]]}))


# ---------------------------------------------------------------------------- the policy


def test_allow_networks_let_a_private_network_through() -> None:
    lan = TargetPolicy(allow_networks=("10.0.0.0/8", "fd00::/8"))
    check_url("https://10.1.2.3/webhook", lan)
    check_url("https://[fd00::5]/webhook", lan)
    check_url("https://[::ffff:10.0.0.5]/", lan)  # mapped: checked as the IPv4 address
    dns = FakeDNS({"n8n.lan": [["10.0.0.5"]]})
    assert resolve_and_check("n8n.lan", 5678, lan, dns) == [ipaddress.ip_address("10.0.0.5")]
    with pytest.raises(TargetRefused, match="allow_networks"):
        check_url("https://192.168.1.1/", lan)
    with pytest.raises(TargetRefused) as mixed:
        resolve_and_check("n8n.lan", 5678, lan, FakeDNS({"n8n.lan": [["10.0.0.5", "127.0.0.1"]]}))
    assert mixed.value.reason == "loopback"


def test_unspecified_multicast_broadcast_are_refused_even_when_allowed() -> None:
    everything = TargetPolicy(allow_networks=("0.0.0.0/0", "::/0"))
    check_url("https://127.0.0.1/", everything)
    for url in (
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://255.255.255.255/",
        "https://[::]/",
    ):
        with pytest.raises(TargetRefused):
            check_url(url, everything)


def test_http_needs_allowance() -> None:
    with pytest.raises(TargetRefused, match="allow_http"):
        check_url("http://n8n.example.com/", STRICT)
    check_url("http://n8n.example.com/", TargetPolicy(allow_http=True))
    with pytest.raises(TargetRefused) as caught:
        check_url("http://127.0.0.1:5678/", TargetPolicy(allow_http=True))
    assert caught.value.reason == "loopback"  # http alone does not open private addresses
    check_url("http://127.0.0.1:5678/", LOCAL)


def test_allowed_ports() -> None:
    policy = TargetPolicy(allowed_ports=frozenset({443, 8443}))
    check_url("https://example.com/", policy)
    check_url("https://example.com:8443/", policy)
    with pytest.raises(TargetRefused, match="443, 8443"):
        check_url("https://example.com:22/", policy)
    with pytest.raises(TargetRefused):
        resolve_and_check("example.com", 25, policy, FakeDNS({"example.com": [[PUBLIC_V4]]}))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"allow_networks": ("10.0.0.0/8", "not-a-cidr")}, r"allow_networks\[1\]='not-a-cidr'"),
        ({"allow_networks": "10.0.0.0/8"}, "tuple of CIDR strings"),
        ({"allowed_ports": frozenset({0})}, "ports are 1 to 65535"),
        ({"allowed_ports": frozenset({70000})}, "ports are 1 to 65535"),
        ({"allow_http": "yes"}, "allow_http"),
        ({"max_url_length": 0}, "max_url_length"),
    ],
)
def test_policy_validation_names_the_field(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TargetPolicy(**kwargs)


def test_policy_normalises_lists() -> None:
    policy = TargetPolicy(allow_networks=["10.0.0.1/8"], allowed_ports={443})  # type: ignore[arg-type]
    assert policy.allow_networks == ("10.0.0.1/8",)
    assert policy.allowed_ports == frozenset({443})
    assert policy.allows(ipaddress.ip_address("10.9.9.9"))
    hash(policy)


def test_refusals_never_show_credentials_paths_or_queries() -> None:
    url = "https://alice:hunter2@hook.eu1.make.com/s3cr3tpath?token=t0k3n#frag"
    with pytest.raises(TargetRefused) as caught:
        check_url(url, STRICT)
    text = f"{caught.value} {caught.value.url} {caught.value!r}"
    for secret in ("hunter2", "alice", "s3cr3tpath", "t0k3n", "frag"):
        assert secret not in text
    assert caught.value.url == "https://hook.eu1.make.com/…"
    assert redact_url("https://example.com") == "https://example.com"
    assert redact_url("http://[::1]:8080/a?b") == "http://[::1]:8080/…"
    assert redact_url("::not a url::") == "<unparseable URL>"


# ------------------------------------------------------------------- properties (no I/O)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_check_url_only_ever_raises_target_refused(text: str) -> None:
    for url in (text, "https://" + text):
        with contextlib.suppress(TargetRefused):
            check_url(url, STRICT)


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_address_and_its_ipv6_wrappings_agree(value: int) -> None:
    v4 = ipaddress.IPv4Address(value)
    try:
        check_address(v4, STRICT)
        allowed = True
    except TargetRefused:
        allowed = False
    if allowed:  # never more permissive than the standard library's notion of global
        assert v4.is_global and not v4.is_multicast
    # Every IPv6 spelling that embeds this address is refused whenever it is.
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | value)
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | value)
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (value << 80))
    for wrapped in (mapped, nat64, sixtofour):
        if not allowed:
            with pytest.raises(TargetRefused):
                check_address(wrapped, STRICT)
    for spelling in (str(value), hex(value), "0" + oct(value)[2:]):
        if not allowed:
            with pytest.raises(TargetRefused):
                check_url(f"https://{spelling}/", STRICT)
        else:
            check_url(f"https://{spelling}/", STRICT)


# ------------------------------------------------------------------ real local servers


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)


def _handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.requests.append(
                {
                    "path": self.path,
                    "host": self.headers["Host"],
                    "body": body,
                    "peer": self.client_address[0],
                }
            )
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", self.path.split("to=", 1)[1])
            else:
                self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client refusing our test certificate is expected in one test


@pytest.fixture
def server() -> Iterator[tuple[int, Seen]]:
    seen = Seen()
    httpd = QuietServer(("127.0.0.1", 0), _handler(seen))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield httpd.server_address[1], seen
    httpd.shutdown()
    httpd.server_close()


def test_transport_connects_to_the_checked_address_keeping_the_host(
    server: tuple[int, Seen],
) -> None:
    port, seen = server
    dns = FakeDNS({"target.test": [["127.0.0.1"]]})
    with guarded_client(LOCAL, resolver=dns) as client:
        response = client.post(f"http://target.test:{port}/hook?x=1", content=b'{"a":1}')
    assert response.status_code == 200
    assert seen.requests == [
        {
            "path": "/hook?x=1",
            "host": f"target.test:{port}",
            "body": b'{"a":1}',
            "peer": "127.0.0.1",
        }
    ]
    assert dns.calls == [("target.test", port)]


def test_dns_rebinding_one_resolution_checked_and_used(server: tuple[int, Seen]) -> None:
    """The first answer is an allowed address, every later one a forbidden one.

    Plain httpx would resolve "target.test" itself at connect time (and fail: the name
    does not exist); a check-then-connect guard would consult the resolver twice. Here
    the resolver is asked once, and the request arrives at the address that was checked.
    """
    port, seen = server
    dns = FakeDNS({"target.test": [["127.0.0.1"], ["169.254.169.254"]]})
    with guarded_client(LOCAL, resolver=dns) as client:
        assert client.post(f"http://target.test:{port}/one", content=b"1").status_code == 200
        assert client.post(f"http://target.test:{port}/two", content=b"2").status_code == 200
    assert dns.calls == [("target.test", port)]  # the keep-alive connection was reused
    assert [r["path"] for r in seen.requests] == ["/one", "/two"]

    # A new connection resolves again, once, and the (rebound) answer is checked.
    with guarded_client(LOCAL, resolver=dns) as client, pytest.raises(TargetRefused) as caught:
        client.post(f"http://target.test:{port}/three", content=b"3")
    assert caught.value.reason == "link_local"
    assert caught.value.url == f"http://target.test:{port}/…"
    assert len(dns.calls) == 2
    assert len(seen.requests) == 2


def test_refused_first_answer_never_connects(server: tuple[int, Seen]) -> None:
    port, seen = server
    dns = FakeDNS({"target.test": [["10.0.0.5"], ["127.0.0.1"]]})
    with guarded_client(LOCAL, resolver=dns) as client, pytest.raises(TargetRefused):
        client.post(f"http://target.test:{port}/", content=b"x")
    assert len(dns.calls) == 1
    assert seen.requests == []


def test_tries_each_checked_address_in_order(server: tuple[int, Seen]) -> None:
    port, seen = server
    # 127.0.0.2 is loopback too, but nothing listens there on this port.
    dns = FakeDNS({"target.test": [["127.0.0.2", "127.0.0.1"]]})
    with guarded_client(LOCAL, resolver=dns) as client:
        assert client.post(f"http://target.test:{port}/", content=b"x").status_code == 200
    assert seen.requests[0]["peer"] == "127.0.0.1"


def test_resolution_failure_is_a_connect_error() -> None:
    with guarded_client(LOCAL, resolver=FakeDNS({})) as client, pytest.raises(httpx.ConnectError):
        client.post("http://nowhere.test:8080/", content=b"x")


def test_redirects_are_not_followed_and_every_hop_is_checked(server: tuple[int, Seen]) -> None:
    port, seen = server
    dns = FakeDNS({"target.test": [["127.0.0.1"]]})
    hop = f"http://target.test:{port}/redirect?to=http://169.254.169.254/latest/meta-data"
    with guarded_client(LOCAL, resolver=dns) as client:
        response = client.post(hop, content=b"x")
        assert response.status_code == 302  # a redirect is handed back, not followed
        with pytest.raises(TargetRefused) as caught:
            client.post(hop, content=b"x", follow_redirects=True)
    assert caught.value.reason == "link_local"
    assert len(seen.requests) == 2


def test_environment_proxies_are_ignored(
    server: tuple[int, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, seen = server
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # would swallow every request
    dns = FakeDNS({"target.test": [["127.0.0.1"]]})
    with guarded_client(LOCAL, resolver=dns) as client:
        assert client.post(f"http://target.test:{port}/", content=b"x").status_code == 200
    assert len(seen.requests) == 1


def test_async_client_pins_and_refuses(server: tuple[int, Seen]) -> None:
    port, seen = server
    dns = FakeDNS({"target.test": [["127.0.0.1"], ["10.0.0.5"]]})

    async def run() -> tuple[int, str]:
        async with async_guarded_client(LOCAL, resolver=dns) as client:
            ok = await client.post(f"http://target.test:{port}/async", content=b"a")
        async with async_guarded_client(LOCAL, resolver=dns) as client:
            try:
                await client.post(f"http://target.test:{port}/async", content=b"b")
            except TargetRefused as exc:
                return ok.status_code, exc.reason
        return ok.status_code, "not refused"

    assert asyncio.run(run()) == (200, "private")
    assert [(r["path"], r["host"]) for r in seen.requests] == [("/async", f"target.test:{port}")]
    assert len(dns.calls) == 2


def test_async_client_refuses_urls_before_any_lookup() -> None:
    dns = FakeDNS({})

    async def run() -> str:
        async with async_guarded_client(STRICT, resolver=dns) as client:
            try:
                await client.get("https://[::ffff:169.254.169.254]/")
            except TargetRefused as exc:
                return exc.reason
        return "not refused"

    assert asyncio.run(run()) == "link_local"
    assert dns.calls == []


# --------------------------------------------------------------------------- TLS by name


def _certificates(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A test CA and a server certificate for target.test only: (cert, key, CA PEM)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "target.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("target.test")]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, ca.public_bytes(serialization.Encoding.PEM)


def test_tls_is_verified_against_the_name_not_the_pinned_address(tmp_path: Path) -> None:
    cert_path, key_path, ca_pem = _certificates(tmp_path)
    seen = Seen()
    httpd = QuietServer(("127.0.0.1", 0), _handler(seen))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    httpd.socket = server_context.wrap_socket(
        httpd.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        port = httpd.server_address[1]
        client_context = ssl.create_default_context(cadata=ca_pem.decode())
        https_local = TargetPolicy(allow_networks=("127.0.0.0/8",))
        dns = FakeDNS({"target.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
        with guarded_client(https_local, resolver=dns, verify=client_context) as client:
            response = client.post(f"https://target.test:{port}/tls", content=b"x")
            assert response.status_code == 200
            # Same address, a name the certificate does not cover: the open keep-alive
            # connection to target.test must not be reused, and verification must fail.
            with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
                client.post(f"https://other.test:{port}/tls", content=b"x")
        assert [(r["path"], r["host"]) for r in seen.requests] == [("/tls", f"target.test:{port}")]
    finally:
        httpd.shutdown()
        httpd.server_close()
