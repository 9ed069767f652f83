"""The ledger: where a Record key's job is kept, so the same record is not paid for twice.

A paid create given `record_key=` looks the key up in the client's `ledger=` first: an entry
with the API's answer (a synchronous create: images) is that answer; an entry with a job id is
fetched back from the API, and returned unless it failed or is gone. Otherwise the create runs
and its job id (or answer) is put in the ledger, for as long as the job's output lives
(`limits.OUTPUT_URL_LIFETIME_DAYS`).

    client = CreativeAI(ledger=FileLedger("ledger.json"))        # a JSON file on this machine
    client = CreativeAI(ledger=RelayLedger("https://relay.example", api_key))  # the relay's
    job = client.videos.create(prompt="...", record_key="sku-1042")  # again: the same job

`Ledger` is the small protocol both speak (get/put/forget); any object with those methods
will do. `FileLedger` is safe for several processes at once (an `fcntl` lock around every
read-change-write, the file replaced atomically), and offers `hold(operation, key)`, which
the clients use when a ledger has it: the same key started in two processes at once starts
one job. `RelayLedger` speaks the relay's `/v1/ledger/<operation>/<key>` API with the
CreativeAI API key (no hold: two runs at the very same moment may both start).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from connector.catalog import limits, steps
from connector.client._base import USER_AGENT, Secret
from connector.client.errors import CreativeAIError, redacted

__all__ = ["FileLedger", "Ledger", "LedgerEntry", "LedgerError", "RelayLedger"]

#: How long an entry lives: as long as the output of the job it names.
LIFETIME_SECONDS = steps.LEDGER.lifetime_seconds


class LedgerError(CreativeAIError):
    """The ledger cannot be read or written: a file that is not a ledger, a relay that
    refuses or cannot be reached. `created` is the API's answer when the create had already
    run (the job exists; only keeping its key failed)."""

    def __init__(self, message: str, *, created: Any = None) -> None:
        super().__init__(message)
        self.created = created


@dataclass(frozen=True)
class LedgerEntry:
    """What one Record key of one operation started: a job id (or batch id), or the API's
    whole answer of a synchronous create. Times are RFC 3339 (UTC)."""

    operation: str
    key: str
    job_id: str | None
    result: dict[str, Any] | None
    created_at: str
    expires_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "key": self.key,
            "job_id": self.job_id,
            "result": self.result,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, raw: Any) -> LedgerEntry:
        """An entry from its JSON form; `ValueError` saying what is wrong otherwise."""
        if not isinstance(raw, dict):
            raise ValueError(f"an entry is a JSON object, not {type(raw).__name__}")
        for name in ("operation", "key", "created_at", "expires_at"):
            if not isinstance(raw.get(name), str):
                raise ValueError(f"an entry's {name!r} is not a string")
        job_id, result = raw.get("job_id"), raw.get("result")
        if not isinstance(job_id, str | None) or not isinstance(result, dict | None):
            raise ValueError("an entry's job_id is a string and its result an object")
        if (job_id is None) == (result is None):
            raise ValueError("an entry has exactly one of job_id and result")
        _parse_time(raw["expires_at"])
        return cls(
            raw["operation"], raw["key"], job_id, result, raw["created_at"], raw["expires_at"]
        )

    def expired(self, now: float) -> bool:
        return _parse_time(self.expires_at) <= now


class Ledger(Protocol):
    """Where Record keys are kept: one entry per (operation, key)."""

    def get(self, operation: str, key: str) -> LedgerEntry | None:
        """The live entry, or None when there is none or it expired."""
        ...

    def put(
        self,
        operation: str,
        key: str,
        *,
        job_id: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> LedgerEntry:
        """Keep exactly one of `job_id` and `result` for the key (created or replaced)."""
        ...

    def forget(self, operation: str, key: str) -> None:
        """Drop the key's entry (nothing happens when there is none)."""
        ...


def _one_of(job_id: str | None, result: Mapping[str, Any] | None) -> None:
    if (job_id is None) == (result is None):
        raise ValueError("put exactly one of job_id= and result=")


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


# -- a JSON file ------------------------------------------------------------------------------

#: What the file says it is, so a file that is something else is never overwritten.
FILE_KIND = "creativeai-connector ledger"
FILE_VERSION = 1
#: Lock files `FileLedger.hold` spreads the keys over.
HOLD_STRIPES = 64


class FileLedger:
    """A ledger in one JSON file, safe for several processes at once.

    Every read-change-write holds an exclusive `fcntl` lock on `<path>.lock`, and the file
    is replaced atomically (a temporary file in the same folder, then `os.replace`), so a
    reader never sees half a file. Expired entries are dropped when the file is next
    written. A path that holds something other than a ledger is refused (`LedgerError`) and
    left as it is; a missing or empty file is a new ledger. `clock` gives Unix seconds.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self._clock = clock

    def __repr__(self) -> str:
        return f"FileLedger({str(self.path)!r})"

    def get(self, operation: str, key: str) -> LedgerEntry | None:
        with self._locked():
            entry = self._load().get(operation, {}).get(key)
        if entry is None or entry.expired(self._clock()):
            return None
        return entry

    def put(
        self,
        operation: str,
        key: str,
        *,
        job_id: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> LedgerEntry:
        _one_of(job_id, result)
        now = self._clock()
        entry = LedgerEntry(
            operation,
            key,
            job_id,
            dict(result) if result is not None else None,
            _rfc3339(now),
            _rfc3339(now + LIFETIME_SECONDS),
        )
        with self._locked():
            entries = self._load()
            entries.setdefault(operation, {})[key] = entry
            self._store(entries, now)
        return entry

    def forget(self, operation: str, key: str) -> None:
        with self._locked():
            entries = self._load()
            if entries.get(operation, {}).pop(key, None) is not None:
                self._store(entries, self._clock())

    def hold(self, operation: str, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold one key while its lookup, create and put run, so another process (or
        thread) started with the same key waits, then finds the job instead of starting a
        second one. Keys share `HOLD_STRIPES` lock files in `<path>.locks/` (an `fcntl`
        lock each): two different keys rarely wait for each other, and never for long."""
        digest = hashlib.sha256(f"{operation}\n{key}".encode()).digest()
        folder = self.path.with_name(self.path.name + ".locks")
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise self._error(f"cannot make its lock folder {str(folder)!r}", exc) from None
        return self._exclusive(folder / f"{int.from_bytes(digest[:4], 'big') % HOLD_STRIPES:02d}")

    # -- the file --------------------------------------------------------------------------

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return self._exclusive(self.path.with_name(self.path.name + ".lock"))

    @contextlib.contextmanager
    def _exclusive(self, lock_path: Path) -> Iterator[None]:
        """An exclusive `fcntl` lock on `lock_path` (per open file: threads wait too)."""
        try:
            import fcntl  # POSIX only: the rest of the client imports on any system
        except ImportError:  # pragma: no cover - not POSIX
            raise LedgerError(
                "FileLedger needs POSIX file locks (fcntl), which this system lacks; use "
                "RelayLedger, or a ledger of your own (get/put/forget)"
            ) from None
        try:
            handle = open(lock_path, "a+b")  # noqa: SIM115 - held for the lock's life
        except OSError as exc:
            raise self._error(f"cannot open its lock file {str(lock_path)!r}", exc) from None
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _load(self) -> dict[str, dict[str, LedgerEntry]]:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._error("cannot read it", exc) from None
        if not text.strip():
            return {}
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise self._not_a_ledger("it is not JSON") from None
        if not isinstance(raw, dict) or raw.get("kind") != FILE_KIND:
            raise self._not_a_ledger(f'it does not say "kind": "{FILE_KIND}"')
        if raw.get("version") != FILE_VERSION:
            raise self._not_a_ledger(f"version {raw.get('version')!r}, expected {FILE_VERSION}")
        entries = raw.get("entries")
        if not isinstance(entries, dict):
            raise self._not_a_ledger('its "entries" is not an object')
        out: dict[str, dict[str, LedgerEntry]] = {}
        try:
            for operation, keys in entries.items():
                if not isinstance(keys, dict):
                    raise ValueError(f"the entries of {operation!r} are not an object")
                out[operation] = {k: LedgerEntry.from_json(v) for k, v in keys.items()}
        except ValueError as exc:
            raise self._not_a_ledger(str(exc)) from None
        return out

    def _store(self, entries: dict[str, dict[str, LedgerEntry]], now: float) -> None:
        live = {
            op: {k: e.to_json() for k, e in sorted(keys.items()) if not e.expired(now)}
            for op, keys in sorted(entries.items())
        }
        document = {
            "kind": FILE_KIND,
            "version": FILE_VERSION,
            "entries": {op: keys for op, keys in live.items() if keys},
        }
        folder = self.path.parent
        try:
            fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise self._error(f"cannot write in {str(folder)!r}", exc) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1, ensure_ascii=False)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise self._error("cannot write it", exc) from None

    def _not_a_ledger(self, why: str) -> LedgerError:
        return LedgerError(
            f"{str(self.path)!r} is not a ledger file ({why}); it was left as it is. Give the "
            "path of a ledger file this client keeps, or of a new file"
        )

    def _error(self, what: str, exc: OSError) -> LedgerError:
        return LedgerError(f"ledger file {str(self.path)!r}: {what} ({exc.strerror or exc})")


# -- the relay ------------------------------------------------------------------------------


class RelayLedger:
    """The relay's ledger (`/v1/ledger/<operation>/<key>`), shared with the relay's Zapier
    and Make steps. Authenticated with the CreativeAI API key (the relay's tenant is the
    key's). `transport=` swaps httpx's transport; call `close()` (or use `with`) when done.
    """

    def __init__(
        self,
        relay_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(relay_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LedgerError(f"the relay URL must be an absolute http(s) URL, not {relay_url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise LedgerError(
                "the relay URL must not carry credentials, a query or a fragment "
                "(the API key is passed on its own)"
            )
        if not api_key:
            raise LedgerError("the relay ledger needs the CreativeAI API key")
        self.url = relay_url.rstrip("/")
        self._key = Secret(api_key)
        self._http = httpx.Client(
            transport=transport, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )

    def __repr__(self) -> str:
        return f"RelayLedger({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, operation: str, key: str) -> LedgerEntry | None:
        """The ledger's lookup (`GET <ledger>/<operation>?key=`): 200 with none or one entry
        on a relay with a ledger, so a 404 can only mean there is no ledger at this URL
        (the entry's own 404 could not tell "no entry" from "no ledger")."""
        url = self.url + steps.LEDGER.path + "/" + operation
        answer = self._request("GET", url, params={steps.LEDGER.lookup_query: key})
        if answer.status_code != 200:
            raise self._refused(answer)
        try:
            found = answer.json()["data"]
            return LedgerEntry.from_json(found[0]) if found else None
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise self._not_an_entry(answer, exc) from None

    def put(
        self,
        operation: str,
        key: str,
        *,
        job_id: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> LedgerEntry:
        _one_of(job_id, result)
        body: dict[str, Any] = {"job_id": job_id} if job_id is not None else {"result": result}
        return self._entry(self._send("PUT", operation, key, body), 200)

    def forget(self, operation: str, key: str) -> None:
        answer = self._send("DELETE", operation, key)
        if answer.status_code not in (204, 404):
            raise self._refused(answer)

    def _send(
        self, method: str, operation: str, key: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return self._request(method, self.url + steps.LEDGER.path_for(operation, key), body)

    def _request(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {limits.AUTH_HEADER: f"{limits.AUTH_SCHEME} {self._key.reveal()}"}
        try:
            return self._http.request(method, url, json=body, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise LedgerError(
                f"the relay at {self.url} cannot be reached ({type(exc).__name__}: "
                f"{redacted(str(exc) or 'no answer', self._key.reveal())})"
            ) from None

    def _entry(self, answer: httpx.Response, status: int) -> LedgerEntry:
        if answer.status_code != status:
            raise self._refused(answer)
        try:
            return LedgerEntry.from_json(answer.json())
        except ValueError as exc:
            raise self._not_an_entry(answer, exc) from None

    def _not_an_entry(self, answer: httpx.Response, exc: Exception) -> LedgerError:
        return LedgerError(
            f"the relay at {self.url} answered {answer.status_code} with something that "
            f"is not a ledger entry ({exc}); is it a relay with a ledger?"
        )

    def _refused(self, answer: httpx.Response) -> LedgerError:
        try:
            error = answer.json().get("error") or {}
            message = str(error.get("message") or "")
        except (ValueError, AttributeError):
            message = ""
        detail = redacted(message or answer.text[:200] or "no message", self._key.reveal())
        why = {401: " (the API key was refused)", 403: " (the API key is not allowed here)"}.get(
            answer.status_code, ""
        )
        if answer.status_code == 404:
            why = " (no ledger there: is this the URL of a relay with a ledger?)"
        return LedgerError(
            f"the relay at {self.url} refused the ledger call: HTTP {answer.status_code}{why}: "
            f"{detail}"
        )
