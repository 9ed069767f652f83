"""How a sandbox is set up: API keys, clock speed, job durations, where outputs live.

Everything has a default that works for a demo (`SandboxConfig()`); tests pass their own
values, and `SandboxConfig.from_env()` reads the `SANDBOX_*` environment variables listed
in `ENV_VARS`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from connector.catalog import limits

__all__ = ["DEFAULT_API_KEY", "ENV_VARS", "ApiKey", "SandboxConfig"]

#: The key a default sandbox accepts (the demo and the docs use it).
DEFAULT_API_KEY = "sk-sandbox"
DEFAULT_CREDITS = 1_000_000

#: Sandbox seconds each kind of job takes from start to finish (scaled by `time_scale`).
#: `image` is how long an image progress stream runs.
DEFAULT_JOB_SECONDS: Mapping[str, float] = MappingProxyType(
    {"video": 20.0, "voice": 4.0, "compose": 3.0, "chart": 6.0, "image": 2.0}
)

PLANS = tuple(limits.RATE_LIMIT_PER_MINUTE)


@dataclass(frozen=True)
class ApiKey:
    """One key the sandbox accepts, with its plan, starting credits and webhook secret.

    The key and the secret never show in a repr; `name` identifies the key in listings.
    """

    key: str = field(repr=False)
    plan: str = "enterprise"
    credits: int = DEFAULT_CREDITS
    #: Secret that signs this key's webhooks; None signs with the API key itself (as the
    #: docs say), "" sends them unsigned.
    signing_secret: str | None = field(default=None, repr=False)
    label: str = ""

    def __post_init__(self) -> None:
        if not self.key or any(c.isspace() for c in self.key):
            raise ValueError("an API key must be non-empty text without spaces")
        if self.plan not in limits.RATE_LIMIT_PER_MINUTE:
            raise ValueError(f"plan {self.plan!r} is not allowed; expected one of {PLANS}")
        if self.credits < 0:
            raise ValueError(f"credits {self.credits!r} is not allowed; expected 0 or more")

    @property
    def name(self) -> str:
        """The label, or a fingerprint that does not reveal the key."""
        if self.label:
            return self.label
        return "key-" + hashlib.sha256(self.key.encode()).hexdigest()[:8]

    @property
    def secret(self) -> str | None:
        """The HMAC secret for this key's webhooks, or None when they go unsigned."""
        if self.signing_secret is None:
            return self.key
        return self.signing_secret or None

    @property
    def per_minute(self) -> int:
        return limits.RATE_LIMIT_PER_MINUTE[self.plan]


@dataclass(frozen=True)
class SandboxConfig:
    """Settings of one sandbox app (see the module docstring of `connector.sandbox`)."""

    api_keys: tuple[ApiKey, ...] = (ApiKey(DEFAULT_API_KEY, label="sandbox"),)
    #: Real seconds per sandbox second: 1.0 runs in real time, 0.01 makes a 20 s video
    #: finish in 0.2 s. Job durations, webhook retries and streams follow it.
    time_scale: float = 1.0
    job_seconds: Mapping[str, float] = field(default_factory=lambda: DEFAULT_JOB_SECONDS)
    #: How long shared jobs (voice, compose, chart) stay PENDING before PROCESSING.
    queue_seconds: float = 1.0
    #: Batch items start one after another, this many sandbox seconds apart.
    batch_stagger: float = 2.0
    #: Base of output links (e.g. a tunnel URL); None uses the URL the request came in on.
    public_base_url: str | None = None
    #: Where generated media are written; None uses a temporary directory removed on close.
    media_dir: str | None = None
    #: Serve the `/_sandbox/` control API (loopback callers only).
    control: bool = True
    rate_limits: bool = True
    #: Length of a rate-limit window in real seconds (the API counts per minute).
    rate_window: float = 60.0
    #: Seconds one webhook delivery attempt may take.
    webhook_timeout: float = 10.0
    #: Progress events a stream sends before its terminal event.
    stream_steps: int = 10

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise ValueError("api_keys: give at least one key")
        keys = [k.key for k in self.api_keys]
        if len(set(keys)) != len(keys):
            raise ValueError("api_keys: each key may appear once")
        names = [k.name for k in self.api_keys]
        if len(set(names)) != len(names):
            raise ValueError(f"api_keys: labels must be unique, got {names}")
        _positive("time_scale", self.time_scale)
        _positive("rate_window", self.rate_window)
        _positive("webhook_timeout", self.webhook_timeout)
        _not_negative("queue_seconds", self.queue_seconds)
        _not_negative("batch_stagger", self.batch_stagger)
        unknown = set(self.job_seconds) - set(DEFAULT_JOB_SECONDS)
        if unknown:
            raise ValueError(
                f"job_seconds: {sorted(unknown)} not allowed; expected {list(DEFAULT_JOB_SECONDS)}"
            )
        for kind, seconds in self.job_seconds.items():
            _positive(f"job_seconds[{kind}]", seconds)
        merged = {**DEFAULT_JOB_SECONDS, **self.job_seconds}
        object.__setattr__(self, "job_seconds", MappingProxyType(merged))
        if self.stream_steps < 1:
            raise ValueError(f"stream_steps {self.stream_steps!r} is not allowed; expected >= 1")
        if self.public_base_url is not None:
            object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/"))

    def key(self, presented: str) -> ApiKey | None:
        """The key presented, compared in constant time."""
        found = None
        for api_key in self.api_keys:
            if hmac.compare_digest(api_key.key.encode(), presented.encode()):
                found = api_key
        return found

    def with_(self, **changes: object) -> SandboxConfig:
        """A copy with some settings changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        """Settings from the `SANDBOX_*` variables (see `ENV_VARS`); unset ones keep defaults."""
        env = os.environ if environ is None else environ
        changes: dict[str, object] = {}
        if env.get("SANDBOX_API_KEYS"):
            changes["api_keys"] = _parse_keys(env["SANDBOX_API_KEYS"])
        for name, attr in (
            ("SANDBOX_TIME_SCALE", "time_scale"),
            ("SANDBOX_QUEUE_SECONDS", "queue_seconds"),
            ("SANDBOX_BATCH_STAGGER", "batch_stagger"),
            ("SANDBOX_RATE_WINDOW", "rate_window"),
            ("SANDBOX_WEBHOOK_TIMEOUT", "webhook_timeout"),
        ):
            if env.get(name):
                changes[attr] = _number(name, env[name])
        seconds = {}
        for kind in DEFAULT_JOB_SECONDS:
            name = f"SANDBOX_{kind.upper()}_SECONDS"
            if env.get(name):
                seconds[kind] = _number(name, env[name])
        if seconds:
            changes["job_seconds"] = seconds
        if env.get("SANDBOX_STREAM_STEPS"):
            changes["stream_steps"] = int(
                _number("SANDBOX_STREAM_STEPS", env["SANDBOX_STREAM_STEPS"])
            )
        if env.get("SANDBOX_PUBLIC_URL"):
            changes["public_base_url"] = env["SANDBOX_PUBLIC_URL"]
        if env.get("SANDBOX_MEDIA_DIR"):
            changes["media_dir"] = env["SANDBOX_MEDIA_DIR"]
        for name, attr in (("SANDBOX_CONTROL", "control"), ("SANDBOX_RATE_LIMITS", "rate_limits")):
            if env.get(name):
                changes[attr] = _flag(name, env[name])
        return cls().with_(**changes)


#: Every environment variable `from_env` reads, with what it sets.
ENV_VARS: Mapping[str, str] = MappingProxyType(
    {
        "SANDBOX_API_KEYS": "comma-separated keys, each KEY[:PLAN[:CREDITS[:SIGNING_SECRET]]] "
        f"(PLAN one of {', '.join(PLANS)}; default one key {DEFAULT_API_KEY}, enterprise, "
        f"{DEFAULT_CREDITS:,} credits)",
        "SANDBOX_TIME_SCALE": "real seconds per sandbox second (1 = real time; 0.01 = 100x faster)",
        **{
            f"SANDBOX_{kind.upper()}_SECONDS": f"sandbox seconds a {kind} job takes "
            f"(default {seconds:g})"
            for kind, seconds in DEFAULT_JOB_SECONDS.items()
        },
        "SANDBOX_QUEUE_SECONDS": "seconds voice/compose/chart jobs stay PENDING (default 1)",
        "SANDBOX_BATCH_STAGGER": "seconds between the starts of batch items (default 2)",
        "SANDBOX_PUBLIC_URL": "base URL of output links (default: the URL the request used)",
        "SANDBOX_MEDIA_DIR": "directory for generated media (default: a temporary directory)",
        "SANDBOX_CONTROL": "1/0: serve the /_sandbox/ control API to loopback callers (default 1)",
        "SANDBOX_RATE_LIMITS": "1/0: enforce the per-key rate limits (default 1)",
        "SANDBOX_RATE_WINDOW": "real seconds of a rate-limit window (default 60)",
        "SANDBOX_WEBHOOK_TIMEOUT": "seconds one webhook attempt may take (default 10)",
        "SANDBOX_STREAM_STEPS": "progress events per stream before the last one (default 10)",
    }
)


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} {value!r} is not allowed; expected a number above 0")


def _not_negative(name: str, value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} {value!r} is not allowed; expected 0 or more")


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={text!r} is not allowed; expected 1 or 0 (true/false)")


def _parse_keys(text: str) -> tuple[ApiKey, ...]:
    keys = []
    for n, item in enumerate(part.strip() for part in text.split(",")):
        if not item:
            continue
        key, *rest = item.split(":", 3)
        plan = rest[0] if len(rest) > 0 and rest[0] else "enterprise"
        where = f"SANDBOX_API_KEYS entry {n + 1}"  # never quote the key itself
        credits = DEFAULT_CREDITS
        if len(rest) > 1 and rest[1]:
            try:
                credits = int(rest[1])
            except ValueError:
                raise ValueError(f"{where}: credits {rest[1]!r} is not a whole number") from None
        secret = rest[2] if len(rest) > 2 else None
        try:
            keys.append(ApiKey(key, plan=plan, credits=credits, signing_secret=secret))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if not keys:
        raise ValueError("SANDBOX_API_KEYS is set but names no key")
    return tuple(keys)
