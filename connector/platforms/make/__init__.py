"""Make: a custom app in the local-development layout of Make's VS Code extension.

    make-app/
      makecomapp.json                         the manifest: components and their code files
      general/base.iml.json                   base URL, auth header, error mapping, log.sanitize
      general/common.json  modules/groups.json  README.md
      connections/<id>/<id>.communication|params.iml.json
      webhooks/<id>/<id>.communication|params[|attach|detach].iml.json
      modules/<id>/<id>.communication|static-params|mappable-params|interface|samples.iml.json
      rpcs/<id>/<id>.communication|params.iml.json

Directory and file names are the kebab-case of the component id, as the extension makes
them. `*.iml.json` files start with the generated-file notice as a `//` comment (IML JSON
allows comments); `makecomapp.json`, `general/common.json` and `modules/groups.json` are
strict JSON, so the generated README lists them instead. Static sections (the universal
module, the README's prose) are files under `templates/`.
"""

from __future__ import annotations

import re
from typing import Any

from connector.catalog import Catalog
from connector.platforms import GENERATED_NOTICE
from connector.platforms.make.app import build
from connector.platforms.make.iml import jsonc, strict_json
from connector.platforms.make.model import APP_ID, App, Component

OUTPUT_DIR = "make-app"

MAKE_ORIGIN = {
    "label": "Make",
    "baseUrl": "https://eu1.make.com/api",
    "appId": APP_ID,
    "appVersion": 1,
    "apikeyFile": ".secrets/apikey",
}

#: Section of a component → its file name part, in the order the extension lists them.
SECTION_FILES = {
    "communication": "communication",
    "staticParams": "static-params",
    "mappableParams": "mappable-params",
    "interface": "interface",
    "samples": "samples",
    "params": "params",
    "attach": "attach",
    "detach": "detach",
}

GENERAL_FILES = {
    "base": "general/base.iml.json",
    "common": "general/common.json",
    "readme": "README.md",
    "groups": "modules/groups.json",
}


def kebab(component_id: str) -> str:
    """`createVideoFromText` → `create-video-from-text` (the extension's directory names)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", component_id).lower()


def code_path(component: Component, section: str) -> str:
    name = kebab(component.id)
    return f"{component.kind}s/{name}/{name}.{SECTION_FILES[section]}.iml.json"


def manifest(app: App) -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {
        kind: {} for kind in ("connection", "webhook", "module", "rpc", "function", "endpoint")
    }
    for c in app.components:
        files = {s: code_path(c, s) for s in SECTION_FILES if s in c.codes}
        components[c.kind][c.id] = {**c.metadata, "codeFiles": files}
    return {
        "fileVersion": 1,
        "generalCodeFiles": GENERAL_FILES,
        "components": components,
        "origins": [MAKE_ORIGIN],
    }


def emit(catalog: Catalog) -> dict[str, bytes]:
    app = build(catalog)
    files: dict[str, bytes] = {
        "makecomapp.json": strict_json(manifest(app)),
        GENERAL_FILES["base"]: jsonc(app.base),
        GENERAL_FILES["common"]: strict_json({}),
        GENERAL_FILES["groups"]: strict_json(app.groups),
        GENERAL_FILES["readme"]: app.readme.encode(),
        ".gitignore": f"# {GENERATED_NOTICE}\n.secrets/\n".encode(),
    }
    for c in app.components:
        for section, content in c.codes.items():
            files[code_path(c, section)] = jsonc(content)
    return files
