"""Saving an output to disk: where it goes, and what to say when it cannot be fetched.

Bytes stream into a temporary file beside the target, which is renamed into place only
once complete, so a reader never sees half a video. Outputs live on the CDN for
`limits.OUTPUT_URL_LIFETIME_DAYS` days; a 403, 404 or 410 usually means the link expired.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpx

from connector.catalog import limits
from connector.client.errors import DownloadError, InvalidURLError

GONE = frozenset({403, 404, 410})
CHUNK = 1 << 16


class Downloaded(NamedTuple):
    path: Path
    bytes_written: int


def public_url(url: str) -> str:
    """The URL without its query or fragment (signed CDN links carry tokens there)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = public_url(url)
        raise InvalidURLError(shown, f"url must be an absolute http(s) URL, not {shown!r}")


def same_origin(url: str, base_url: str) -> bool:
    """Whether `url` is served by the API itself (then it gets the API key; a CDN never does)."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def target(url: str, path: str | os.PathLike[str]) -> Path:
    """The file to write: `path` itself, or the URL's file name inside `path` if a directory."""
    dest = Path(path)
    if dest.is_dir():
        name = PurePosixPath(urlsplit(url).path).name or "output"
        dest = dest / name
    dest.parent.mkdir(parents=True, exist_ok=True)  # before anything is fetched: fail early
    return dest


def open_temp(dest: Path) -> tuple[IO[bytes], Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    return os.fdopen(fd, "wb"), Path(name)


def commit(handle: IO[bytes], temp: Path, dest: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(temp, dest)


def discard(handle: IO[bytes], temp: Path) -> None:
    handle.close()
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


def status_error(url: str, response: httpx.Response) -> DownloadError:
    shown = public_url(url)
    status = response.status_code
    message = f"could not download {shown}: HTTP {status}"
    if status in GONE:
        message += (
            f". Outputs are kept for {limits.OUTPUT_URL_LIFETIME_DAYS} days after a job "
            "finishes, so this one may have expired: run the job again, and download "
            "outputs soon after they complete"
        )
    return DownloadError(shown, message, status=status)


def transport_error(url: str, exc: Exception) -> DownloadError:
    shown = public_url(url)
    return DownloadError(shown, f"could not download {shown}: {type(exc).__name__}: {exc}")
