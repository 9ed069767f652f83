"""Where the Zapier app's files live and how they are named.

Zapier reads `index.js` and `package.json` at the app's root; everything else is the app's
own choice. Generated definitions go under `generated/` (one file per create, search and
trigger, the field table, the API facts); the hand-written runtime lives once in `lib/`
and the hand-written appTester suite in `test/`.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.platforms import GENERATED_NOTICE

#: zapier-platform-core, pinned exactly as Zapier requires (the CLI and schema share it).
CORE_VERSION = "19.1.0"
GENERATED = "generated"
RUNTIME = "lib"
HEADER = f"// {GENERATED_NOTICE}\n'use strict';\n"


def identifier(key: str) -> str:
    """`video.create_from_text` -> `videoCreateFromText`."""
    words = key.replace(".", "_").replace("-", "_").split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def zapier_key(key: str) -> str:
    return key.replace(".", "_").replace("-", "_")


@dataclass(frozen=True)
class Module:
    """One definition file: its folder under `generated/`, its key, label and source."""

    folder: str
    key: str
    label: str
    source: str

    @property
    def path(self) -> str:
        return f"{GENERATED}/{self.folder}/{self.key}.js"

    @property
    def name(self) -> str:
        return identifier(self.key)
