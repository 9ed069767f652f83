"""Zapier: a Platform CLI app (CommonJS) generated from the catalog into `zapier/`.

    files = emit(CATALOG)   # {"index.js": b"...", "generated/creates/voice_create.js": ...}

One file per create, search and trigger under `generated/`, with the field table
(`generated/fields.js`, each field once) and the API facts the runtime needs
(`generated/api.js`). The runtime in `zapier/lib/` (requests, waiting, files, errors) is
written by hand and not generated. `package.json` holds its generated notice under the
`"//"` key (npm ignores it).
"""

from __future__ import annotations

from connector.catalog import Catalog
from connector.platforms.zapier.app import AppBuilder
from connector.platforms.zapier.layout import CORE_VERSION

OUTPUT_DIR = "zapier"


def emit(catalog: Catalog) -> dict[str, bytes]:
    return {path: text.encode() for path, text in AppBuilder(catalog).files().items()}


__all__ = ["CORE_VERSION", "OUTPUT_DIR", "emit"]
