"""Zapier: a Platform CLI app (CommonJS) generated from the catalog into `zapier/`.

    files = emit(CATALOG)   # {"index.js": b"...", "creates/video_create_from_text.js": ...}

One file per create, search and trigger; a small runtime in `lib/` (copied from
`templates/lib/`) does the requests, the waiting through the relay, files and errors;
`lib/api.js` carries the API facts the runtime needs, taken from the catalog.
`package.json` holds its generated notice under the `"//"` key (npm ignores it).
"""

from __future__ import annotations

from connector.catalog import Catalog
from connector.platforms.zapier.app import CORE_VERSION, AppBuilder

OUTPUT_DIR = "zapier"


def emit(catalog: Catalog) -> dict[str, bytes]:
    return {path: text.encode() for path, text in AppBuilder(catalog).files().items()}


__all__ = ["CORE_VERSION", "OUTPUT_DIR", "emit"]
