"""The n8n emitter: the catalog as the community-node package `n8n-nodes-creativeai`.

`emit(catalog)` makes the generated part of `n8n-nodes/`: package.json, tsconfig, the
credential, the CreativeAI node (one description file per resource and operation) and the
CreativeAI Trigger node, `catalog.ts` (the operation table the hand-written runtime in
`nodes/*/runtime/` reads), codex files, icons and the README. `toolchain` builds, lints,
packs and scans the package and installs real n8n for the end-to-end tests.
"""

from __future__ import annotations

from connector.catalog import Catalog
from connector.platforms.n8n.package import all_files
from connector.platforms.n8n.sources import all_sources

OUTPUT_DIR = "n8n-nodes"


def emit(catalog: Catalog) -> dict[str, bytes]:
    files = {**all_sources(catalog), **all_files(catalog)}
    return {path: text.encode() for path, text in sorted(files.items())}


__all__ = ["OUTPUT_DIR", "emit"]
