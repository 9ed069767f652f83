"""The guard on every forwarding target: no request from the relay reaches a private network.

    policy = TargetPolicy()                                   # https to public addresses only
    check_url("https://hooks.zapier.com/hooks/…", policy)     # TargetRefused if not acceptable
    with guarded_client(policy) as client:                    # checks, resolves once, pins
        client.post(url, content=body, headers=headers)

Three layers, each usable alone:

1. `check_url`: syntax. Scheme (https; http only with `allow_http`), no userinfo, a host,
   a port that is allowed. A host that is an IP literal is checked in every spelling a
   resolver would accept: dotted, decimal (`2130706433`), octal (`017700000001`), hex
   (`0x7f.1`), short forms (`127.1`), IPv6 (zone ids refused), IPv4-mapped, -compatible,
   -translated, NAT64, 6to4 and Teredo addresses embedding a private IPv4 address.
   A host whose last label is a number but that is no valid IPv4 address is refused as
   ambiguous; `localhost` and `*.localhost` are refused by name.
2. `resolve_and_check`: one resolution; **every** address must be public (or inside the
   policy's `allow_networks`), else the target is refused. See `check_address` for the
   ranges refused. Unspecified, multicast and broadcast addresses are refused even
   inside `allow_networks`.
3. `GuardedTransport` / `AsyncGuardedTransport`: an `httpx.HTTPTransport` whose network
   backend resolves each new connection's host once, checks all addresses, and connects
   to a checked address itself, so a DNS answer that changes between check and connect
   (DNS rebinding) cannot move the connection. Every request's URL is checked as well.

How the connection is pinned: rather than rewriting the request URL to the IP (which
makes the connection pool key connections by IP, so a TLS connection verified for one
host name could be reused for another name on the same address), the pool keeps its
usual per-(scheme, host, port) keys and the backend's `connect_tcp` connects to the
checked IP. The request keeps its URL, so `Host` is the target's name and TLS uses it
for SNI and certificate verification. A reused keep-alive connection is one that was
made to a checked address.

`guarded_client` also sets `follow_redirects=False` (a redirect is a failed delivery for
the relay; if a caller follows redirects anyway, every hop passes through the transport
and is checked again) and `trust_env=False` (an `HTTPS_PROXY` variable would otherwise
route requests around the transport). Name resolution errors surface as
`httpx.ConnectError`; policy refusals as `TargetRefused` (not an `httpx` error: it is
not worth retrying).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Anything called like `socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)`.
Resolver = Callable[..., Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]]

DEFAULT_MAX_URL_LENGTH = 2048
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
_DEFAULT_PORTS = {"https": 443, "http": 80}
_SCHEME_AUTHORITY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0[xX][0-9a-fA-F]*)$")
_LOCAL_NAMES = ("localhost",)


def _net(cidr: str) -> Network:
    return ipaddress.ip_network(cidr)


# Refused even when inside `allow_networks`: never a unicast destination.
_NEVER: tuple[tuple[Network, str, str], ...] = (
    (_net("0.0.0.0/32"), "unspecified", "the unspecified address"),
    (_net("255.255.255.255/32"), "broadcast", "the broadcast address"),
    (_net("224.0.0.0/4"), "multicast", "a multicast address"),
    (_net("::/128"), "unspecified", "the unspecified address"),
    (_net("ff00::/8"), "multicast", "a multicast address"),
)
_REFUSED_V4: tuple[tuple[Network, str, str], ...] = (
    (_net("0.0.0.0/8"), "reserved", "in 'this network' (0.0.0.0/8)"),
    (_net("127.0.0.0/8"), "loopback", "a loopback address"),
    (_net("10.0.0.0/8"), "private", "a private address (RFC 1918)"),
    (_net("172.16.0.0/12"), "private", "a private address (RFC 1918)"),
    (_net("192.168.0.0/16"), "private", "a private address (RFC 1918)"),
    (_net("100.64.0.0/10"), "cgnat", "a carrier-grade NAT address (100.64.0.0/10)"),
    (_net("169.254.0.0/16"), "link_local", "a link-local address (cloud metadata lives here)"),
    (_net("192.0.0.0/24"), "reserved", "an IETF protocol assignment (192.0.0.0/24)"),
    (_net("192.0.2.0/24"), "documentation", "a documentation address (TEST-NET-1)"),
    (_net("198.51.100.0/24"), "documentation", "a documentation address (TEST-NET-2)"),
    (_net("203.0.113.0/24"), "documentation", "a documentation address (TEST-NET-3)"),
    (_net("192.88.99.0/24"), "reserved", "the deprecated 6to4 relay anycast range"),
    (_net("198.18.0.0/15"), "benchmarking", "a benchmarking address (198.18.0.0/15)"),
    (_net("240.0.0.0/4"), "reserved", "a reserved address (240.0.0.0/4)"),
)
_REFUSED_V6: tuple[tuple[Network, str, str], ...] = (
    (_net("::1/128"), "loopback", "a loopback address"),
    (_net("64:ff9b:1::/48"), "reserved", "a local-use NAT64 address (64:ff9b:1::/48)"),
    (_net("100::/64"), "reserved", "a discard-only address (100::/64)"),
    (_net("2001:db8::/32"), "documentation", "a documentation address (2001:db8::/32)"),
    (_net("3fff::/20"), "documentation", "a documentation address (3fff::/20)"),
    (_net("5f00::/16"), "reserved", "an SRv6 SID address (5f00::/16)"),
    (_net("fc00::/7"), "ula", "a unique local address (fc00::/7)"),
    (_net("fe80::/10"), "link_local", "a link-local address (fe80::/10)"),
    (_net("fec0::/10"), "site_local", "a site-local address (fec0::/10)"),
)
_NAT64 = _net("64:ff9b::/96")
_SIXTOFOUR = _net("2002::/16")
_TEREDO = _net("2001::/32")
_GLOBAL_UNICAST_V6 = _net("2000::/3")


class TargetRefused(ValueError):
    """A forwarding target the policy does not allow.

    `reason` is a short word ("scheme", "userinfo", "no_host", "port", "invalid_url",
    "invalid_host", "ambiguous_host", "local_name", "zone_id", "loopback", "private",
    "link_local", "cgnat", "reserved", "documentation", "benchmarking", "multicast",
    "broadcast", "unspecified", "ula", "site_local", "embedded_private",
    "invalid_address"); `url` is the target without credentials, path, query or fragment
    (Make and Zapier webhook URLs carry their secret in the path).
    """

    def __init__(self, reason: str, url: str, detail: str) -> None:
        super().__init__(f"refused forwarding target {url}: {detail}")
        self.reason = reason
        self.url = url
        self.detail = detail

    def for_url(self, url: str | httpx.URL) -> TargetRefused:
        """The same refusal, naming `url` (redacted) as the target."""
        return TargetRefused(self.reason, redact_url(url), self.detail)


@dataclass(frozen=True)
class TargetPolicy:
    """What a forwarding target may be. The defaults allow https to public addresses."""

    allow_http: bool = False  # plain http (local targets, tests)
    allow_networks: tuple[str, ...] = ()  # CIDRs allowed though not public, e.g. "10.0.0.0/8"
    allowed_ports: frozenset[int] | None = None  # None = any port from 1 to 65535
    max_url_length: int = DEFAULT_MAX_URL_LENGTH
    networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.allow_http, bool):
            raise ValueError(f"TargetPolicy.allow_http={self.allow_http!r} is not valid: a bool")
        raw: object = self.allow_networks  # callers may pass a list, or one string by mistake
        if isinstance(raw, str) or not isinstance(raw, Iterable):
            raise ValueError(
                f"TargetPolicy.allow_networks={raw!r} is not valid: "
                "a tuple of CIDR strings such as ('10.0.0.0/8',)"
            )
        cidrs = tuple(raw)
        networks = []
        for index, cidr in enumerate(cidrs):
            try:
                networks.append(ipaddress.ip_network(cidr, strict=False))
            except (TypeError, ValueError):
                raise ValueError(
                    f"TargetPolicy.allow_networks[{index}]={cidr!r} is not valid: "
                    "a CIDR network such as 10.0.0.0/8, 192.168.1.0/24 or fd00::/8"
                ) from None
        object.__setattr__(self, "allow_networks", cidrs)
        object.__setattr__(self, "networks", tuple(networks))
        if self.allowed_ports is not None:
            ports = frozenset(self.allowed_ports)
            for port in sorted(ports, key=repr):
                if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                    raise ValueError(
                        f"TargetPolicy.allowed_ports contains {port!r}: ports are 1 to 65535"
                    )
            object.__setattr__(self, "allowed_ports", ports)
        if not isinstance(self.max_url_length, int) or self.max_url_length < 16:
            raise ValueError(
                f"TargetPolicy.max_url_length={self.max_url_length!r} is not valid: an int >= 16"
            )

    def allows(self, address: Address) -> bool:
        """True when `address` lies in one of `allow_networks`."""
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked target URL's parts: `host` is ASCII, lower-case, without trailing dot."""

    scheme: str
    host: str
    port: int
    address: Address | None  # the address, when the host is an IP literal


def redact_url(url: str | httpx.URL) -> str:
    """`scheme://host[:port]`, plus `/…` when there was more: safe to log or show."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        host = parsed.raw_host.decode("ascii", "replace")
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<unparseable URL>"
    host = host[:100] + "…" if len(host) > 100 else host
    if ":" in host:
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port is not None else ""
    more = parsed.raw_path not in (b"", b"/") or bool(parsed.fragment)
    return f"{parsed.scheme}://{host}{port}{'/…' if more else ''}"


def check_url(url: str | httpx.URL, policy: TargetPolicy) -> None:
    """Refuse (`TargetRefused`) a target URL the policy does not allow, before any DNS."""
    parse_target(url, policy)


def parse_target(url: str | httpx.URL, policy: TargetPolicy) -> Target:
    """`check_url`, returning the target's parts."""
    if isinstance(url, str):
        shown = redact_url(url)
        if len(url) > policy.max_url_length:
            raise TargetRefused(
                "invalid_url", shown, f"URL longer than {policy.max_url_length} characters"
            )
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
            raise TargetRefused("invalid_url", shown, "URL contains spaces or control characters")
        authority = _SCHEME_AUTHORITY.match(url)
        if authority and "@" in authority.group(1):
            raise TargetRefused("userinfo", shown, "URL carries credentials (user@host)")
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise TargetRefused("invalid_url", shown, f"not a valid URL ({exc})") from None
    elif isinstance(url, httpx.URL):
        parsed, shown = url, redact_url(url)
    else:
        raise TypeError(f"target URL must be a string, not {type(url).__name__}")

    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parsed.scheme not in allowed:
        hint = "" if policy.allow_http else " (plain http needs allow_http)"
        raise TargetRefused(
            "scheme",
            shown,
            f"scheme {parsed.scheme!r} is not allowed: {' or '.join(allowed)}{hint}",
        )
    if parsed.userinfo:
        raise TargetRefused("userinfo", shown, "URL carries credentials (user@host)")
    raw_host = parsed.raw_host.decode("ascii", "replace")
    if not raw_host:
        raise TargetRefused("no_host", shown, "URL has no host")
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS[parsed.scheme]
    _check_port(port, policy, shown)
    host, address = _classify_host(raw_host, shown)
    if address is not None:
        address = check_address(address, policy, url=shown)
    return Target(parsed.scheme, host, port, address)


def _check_port(port: int, policy: TargetPolicy, shown: str) -> None:
    if not 0 < port < 65536:
        raise TargetRefused("port", shown, f"port {port} is not a valid port (1 to 65535)")
    if policy.allowed_ports is not None and port not in policy.allowed_ports:
        allowed = ", ".join(str(p) for p in sorted(policy.allowed_ports))
        raise TargetRefused("port", shown, f"port {port} is not allowed: one of {allowed}")


def _classify_host(raw_host: str, shown: str) -> tuple[str, Address | None]:
    """(host, address): the normalised host and, for IP literals in any spelling, the address."""
    host = raw_host.strip("[]") if raw_host.startswith("[") else raw_host
    if ":" in host:
        literal = urllib.parse.unquote(host)
        if "%" in literal:
            raise TargetRefused("zone_id", shown, "IPv6 zone ids (fe80::1%eth0) are not allowed")
        try:
            return literal, ipaddress.IPv6Address(literal)
        except ValueError:
            raise TargetRefused("invalid_host", shown, "not a valid IPv6 address") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise TargetRefused("no_host", shown, "URL has no host")
    v4 = _loose_ipv4(host, shown)
    if v4 is not None:
        return host, v4
    if not _HOSTNAME.match(host):
        raise TargetRefused(
            "invalid_host", shown, "host is not a DNS name (letters, digits, '-', '_', '.')"
        )
    if any(host == name or host.endswith("." + name) for name in _LOCAL_NAMES):
        raise TargetRefused("local_name", shown, f"{host!r} names this machine")
    return host, None


def _ipv4_part(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        return int(digits or "0", 16) if re.fullmatch(r"[0-9a-fA-F]*", digits) else None
    if re.fullmatch(r"0[0-7]+", part):
        return int(part, 8)
    if re.fullmatch(r"0|[1-9][0-9]*", part):
        return int(part)
    return None


def _loose_ipv4(host: str, shown: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address `host` denotes to inet_aton / WHATWG URL parsing, or None.

    Accepts 1 to 4 dot-separated parts in decimal, octal (leading 0) or hex (0x); the
    last part fills the remaining bytes (`127.1` = 127.0.0.1, `2130706433` = 127.0.0.1).
    A host ending in a numeric label that is no valid address is refused as ambiguous.
    """
    parts = host.split(".")
    if not _NUMERIC_LABEL.match(parts[-1]):
        return None
    values = [_ipv4_part(part) for part in parts]
    numbers = [v for v in values if v is not None]
    if len(parts) > 4 or len(numbers) != len(parts):
        raise TargetRefused(
            "ambiguous_host", shown, "host ends in a number but is not an IPv4 address"
        )
    if any(v > 255 for v in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise TargetRefused("ambiguous_host", shown, "host is an out-of-range IPv4 address")
    value = numbers[-1]
    for index, part in enumerate(numbers[:-1]):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _lookup(address: Address, table: Iterable[tuple[Network, str, str]]) -> tuple[str, str] | None:
    for network, reason, text in table:
        if address in network:
            return reason, text
    return None


def _embedded(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """IPv4 addresses carried inside an IPv6 address (besides IPv4-mapped)."""
    value = int(address)
    if value >> 32 == 0 and value > 1:
        return [("IPv4-compatible", ipaddress.IPv4Address(value & 0xFFFFFFFF))]
    if value >> 32 == 0xFFFF0000:
        return [("IPv4-translated", ipaddress.IPv4Address(value & 0xFFFFFFFF))]
    if address in _SIXTOFOUR and address.sixtofour is not None:
        return [("6to4", address.sixtofour)]
    if address in _TEREDO and address.teredo is not None:
        server, client = address.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    return []


def _classify(address: Address) -> tuple[str, str] | None:
    """(reason, text) when `address` is not a public unicast address, else None."""
    found = _lookup(address, _NEVER)
    if found:
        return found
    if isinstance(address, ipaddress.IPv4Address):
        found = _lookup(address, _REFUSED_V4)
        if found:
            return found
        if not address.is_global:
            return "reserved", "not a globally routable address"
        return None
    if address in _NAT64:
        v4 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        inner = _classify(v4)
        if inner:
            return "embedded_private", f"a NAT64 address embedding {v4}, which is {inner[1]}"
        return None
    found = _lookup(address, _REFUSED_V6)
    if found:
        return found
    for kind, v4 in _embedded(address):
        inner = _classify(v4)
        if inner:
            return "embedded_private", f"an address embedding {v4} ({kind}), which is {inner[1]}"
    if address not in _GLOBAL_UNICAST_V6 or not address.is_global:
        return "reserved", "not a globally routable address"
    return None


def check_address(
    address: Address | str, policy: TargetPolicy, *, url: str | None = None
) -> Address:
    """The address to connect to, if the policy allows it; else `TargetRefused`.

    Refused: loopback, private (RFC 1918), link-local (169.254/16, fe80::/10), CGNAT
    (100.64/10), "this network" 0/8, IETF 192.0.0/24, documentation (TEST-NETs,
    2001:db8::/32, 3fff::/20), benchmarking 198.18/15, 240/4, multicast, broadcast,
    unspecified, IPv6 ULA fc00::/7, site-local fec0::/10, discard 100::/64, local NAT64,
    anything else not globally routable, and IPv6 addresses that embed a refused IPv4
    address (mapped, compatible, translated, NAT64, 6to4, Teredo). IPv4-mapped addresses
    are checked and returned as IPv4. Addresses inside `policy.allow_networks` are
    allowed unless unspecified, multicast or broadcast.
    """
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        raise TargetRefused(
            "invalid_address", url or "<unknown>", "resolver returned a non-IP address"
        ) from None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(int(ip))
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    shown = url or (f"[{ip}]" if ip.version == 6 else str(ip))
    never = _lookup(ip, _NEVER)
    if never:
        raise TargetRefused(never[0], shown, f"{ip} is {never[1]}")
    if policy.allows(ip):
        return ip
    refused = _classify(ip)
    if refused:
        reason, text = refused
        hint = (
            ""
            if reason == "embedded_private"
            else "; list its network in allow_networks to permit it"
        )
        raise TargetRefused(reason, shown, f"{ip} is {text}{hint}")
    return ip


def resolve_and_check(
    host: str,
    port: int,
    policy: TargetPolicy,
    resolver: Resolver = socket.getaddrinfo,
) -> list[Address]:
    """Resolve `host` once; return its addresses if **all** are allowed, else `TargetRefused`.

    IP literals (any spelling) are checked without calling the resolver. Resolver errors
    (`socket.gaierror`, other `OSError`) propagate unchanged: the name may resolve later.
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    _check_port(port, policy, shown)
    name, literal = _classify_host(host, shown)
    if literal is not None:
        return [check_address(literal, policy, url=shown)]
    try:
        infos = resolver(name, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise TargetRefused("invalid_host", shown, "host is not a valid DNS name") from None
    addresses: list[Address] = []
    for info in infos:
        checked = check_address(str(info[4][0]), policy, url=shown)
        if checked not in addresses:
            addresses.append(checked)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{name} has no addresses")
    return addresses


# ----------------------------------------------------------------------------- transports


#: A monotonic time after which nothing more may be sent or read (None: no limit).
Deadline = Callable[[], float | None]


def _bounded(
    timeout: float | None, deadline: Deadline | None, exc: type[Exception]
) -> float | None:
    """`timeout` shortened to what is left before the deadline; `exc` once it has passed."""
    ends = deadline() if deadline is not None else None
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise exc("the attempt's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline: a target that answers
    one byte at a time cannot stretch an attempt past it (a timeout bounds each read only)."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, self._deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, self._deadline, httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname, bounded)
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Resolves and checks each new connection's host once, then connects to that address;
    with a `deadline`, every connection ends its reads and writes by it."""

    def __init__(
        self, policy: TargetPolicy, resolver: Resolver, deadline: Deadline | None = None
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                bounded = _bounded(timeout, self._deadline, httpcore.ConnectTimeout)
                stream = self._inner.connect_tcp(
                    str(address), port, bounded, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return stream if self._deadline is None else _DeadlineStream(stream, self._deadline)
        assert failure is not None
        raise failure

    def _resolve(self, host: str, port: int) -> list[Address]:
        """`resolve_and_check`, given up at the deadline (the lookup itself has no timeout:
        it finishes on a thread of its own, and its answer is dropped)."""
        if self._deadline is None or self._deadline() is None or _is_literal(host):
            return resolve_and_check(host, port, self._policy, self._resolver)
        left = _bounded(None, self._deadline, httpcore.ConnectTimeout)
        done: list[list[Address] | BaseException] = []

        def lookup() -> None:
            try:
                done.append(resolve_and_check(host, port, self._policy, self._resolver))
            except BaseException as exc:  # handed to the caller below
                done.append(exc)

        thread = threading.Thread(target=lookup, name="relay-resolve", daemon=True)
        thread.start()
        thread.join(left)
        if not done:
            raise httpcore.ConnectTimeout(f"resolving {host} took past the attempt's deadline")
        if isinstance(done[0], BaseException):
            raise done[0]
        return done[0]

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not forwarding targets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncPinnedBackend(httpcore.AsyncNetworkBackend):
    """`_PinnedBackend` for asyncio/trio; resolution runs in a worker thread."""

    def __init__(self, policy: TargetPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await anyio.to_thread.run_sync(
                resolve_and_check, host, port, self._policy, self._resolver
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not forwarding targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _ssl_context(verify: ssl.SSLContext | str | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """An `httpx.HTTPTransport` that only reaches targets the policy allows (see module doc)."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        resolver: Resolver = socket.getaddrinfo,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        deadline: Deadline | None = None,
    ) -> None:
        context = _ssl_context(verify)
        super().__init__(verify=context, trust_env=False, limits=limits)
        self.policy = policy
        # The one seam: the pool httpx built gets our pinning network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(policy, resolver, deadline),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        check_url(request.url, self.policy)
        try:
            return super().handle_request(request)
        except TargetRefused as exc:
            raise exc.for_url(request.url) from None


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """`GuardedTransport` for `httpx.AsyncClient`."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        resolver: Resolver = socket.getaddrinfo,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        context = _ssl_context(verify)
        super().__init__(verify=context, trust_env=False, limits=limits)
        self.policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_AsyncPinnedBackend(policy, resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url(request.url, self.policy)
        try:
            return await super().handle_async_request(request)
        except TargetRefused as exc:
            raise exc.for_url(request.url) from None


def guarded_client(
    policy: TargetPolicy,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    resolver: Resolver = socket.getaddrinfo,
    verify: ssl.SSLContext | str | bool = True,
    deadline: Deadline | None = None,
) -> httpx.Client:
    """An `httpx.Client` for forwarding: guarded transport, no redirects, no env proxies.
    `deadline` (a monotonic time, read at every read and write) bounds a whole request."""
    return httpx.Client(
        transport=GuardedTransport(policy, resolver=resolver, verify=verify, deadline=deadline),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


def async_guarded_client(
    policy: TargetPolicy,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    resolver: Resolver = socket.getaddrinfo,
    verify: ssl.SSLContext | str | bool = True,
) -> httpx.AsyncClient:
    """`guarded_client` for asyncio."""
    return httpx.AsyncClient(
        transport=AsyncGuardedTransport(policy, resolver=resolver, verify=verify),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


__all__ = [
    "AsyncGuardedTransport",
    "GuardedTransport",
    "Target",
    "TargetPolicy",
    "TargetRefused",
    "async_guarded_client",
    "check_address",
    "check_url",
    "guarded_client",
    "parse_target",
    "redact_url",
    "resolve_and_check",
]
