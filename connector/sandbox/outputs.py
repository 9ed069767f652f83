"""Job outputs: which media file each `/files/<name>` URL stands for, rendered on demand.

A finished job registers a `MediaSpec` (what to render); the file itself is rendered by
`media.MediaLibrary` the first time someone downloads it, and cached on disk. A compose job's
spec names its two sources, so its MP4 is the real mix of the files behind its input URLs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from connector.sandbox.media import MediaLibrary

__all__ = ["FILES_PREFIX", "MediaSpec", "MediaStore"]

#: Path under which the sandbox serves outputs.
FILES_PREFIX = "/files/"

MIMETYPES = {
    "video": "video/mp4",
    "composed": "video/mp4",
    "audio": "audio/mpeg",
    "image": "image/png",
}
SUFFIXES = {"video": ".mp4", "composed": ".mp4", "audio": ".mp3", "image": ".png"}


@dataclass(frozen=True)
class MediaSpec:
    name: str  # the URL's file name, e.g. "vgen_1a2b3c.mp4"
    kind: str  # video, audio, image or composed
    seed: str  # what the picture or tune derives from
    params: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # composed: (video name, audio name)
    replace_audio: bool = True

    @property
    def mimetype(self) -> str:
        return MIMETYPES[self.kind]

    @property
    def has_video(self) -> bool:
        return self.kind in ("video", "composed")

    @property
    def has_audio(self) -> bool:
        return self.kind in ("audio", "composed") or bool(self.params.get("with_audio"))


def normalize_base(url: str) -> str:
    """A base URL as compared: scheme and host in lower case, no trailing slash."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() + parts.path.rstrip("/")


class MediaStore:
    """Registered outputs by file name; thread-safe."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.library = MediaLibrary(self.root)
        self._specs: dict[str, MediaSpec] = {}
        self._lock = threading.Lock()

    def add(self, spec: MediaSpec) -> MediaSpec:
        if not spec.name.endswith(SUFFIXES[spec.kind]):
            raise ValueError(f"{spec.name!r} should end with {SUFFIXES[spec.kind]}")
        with self._lock:
            self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> MediaSpec | None:
        with self._lock:
            return self._specs.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._specs)

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()

    def url(self, base: str, name: str) -> str:
        return base.rstrip("/") + FILES_PREFIX + name

    def from_url(self, url: str, bases: Iterable[str]) -> MediaSpec | None:
        """The output a URL points at, when it is one of ours (under one of our base URLs,
        a known file name)."""
        parts = urlsplit(url)
        here = normalize_base(f"{parts.scheme}://{parts.netloc}{parts.path}")
        for base in bases:
            prefix = normalize_base(base) + FILES_PREFIX
            if here.startswith(prefix):
                return self.get(unquote(here[len(prefix) :]))
        return None

    def path(self, name: str) -> Path:
        """The rendered file for `name` (rendering it on first use). KeyError if unknown."""
        spec = self.get(name)
        if spec is None:
            raise KeyError(name)
        lib = self.library
        params = dict(spec.params)
        if spec.kind == "video":
            return lib.video(spec.seed, **params)
        if spec.kind == "audio":
            return lib.audio(spec.seed, **params)
        if spec.kind == "image":
            return lib.image(spec.seed, **params)
        video, audio = (self.path(source) for source in spec.sources)
        return lib.composed(spec.seed, video, audio, spec.replace_audio)
