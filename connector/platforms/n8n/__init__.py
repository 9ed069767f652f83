"""The n8n emitter: the catalog as the community-node package `n8n-nodes-creativeai`.

`emit(catalog)` makes the generated part of `n8n-nodes/`: package.json, tsconfig, the
credential, the node entry files (from the TypeScript templates in `templates/`), codex
files, icons, the README, and `nodes/CreativeAi/generated/`: `catalog.ts` (each field once,
and the operations naming their fields by key: the table the hand-written runtime in
`nodes/*/runtime/` reads), each field's n8n parameter once in `descriptions/`, and one
description per resource and operation in `resources/`. The Node toolchain that builds,
lints, packs and runs the package is test code (tests/n8n_toolchain.py)."""

from __future__ import annotations

from connector.catalog import Catalog
from connector.platforms.n8n.package import all_files
from connector.platforms.n8n.sources import all_sources

OUTPUT_DIR = "n8n-nodes"


def emit(catalog: Catalog) -> dict[str, bytes]:
    files = {**all_sources(catalog), **all_files(catalog)}
    return {path: text.encode() for path, text in sorted(files.items())}


__all__ = ["OUTPUT_DIR", "emit"]
