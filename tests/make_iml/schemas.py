"""Make's published JSON schemas (../shared/make-schemas) and which file each one checks.

The association is the VS Code extension's own (`package.json` → `contributes.jsonValidation`,
by file-name glob). Module static parameters (`*.static-params.iml.json`) have no glob
there; they are the same `parameters` section as connection and RPC params, so they are
checked against `parameters.json` too.
"""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
from jsonschema_specifications import REGISTRY as METASCHEMAS


def _schema_dir() -> Path:
    """`shared/make-schemas` beside the checkout or beside any folder above it (a worktree
    may sit one level deeper than the main checkout)."""
    checkout = Path(__file__).resolve().parents[2]
    for folder in checkout.parents:
        candidate = folder / "shared" / "make-schemas"
        if candidate.is_dir():
            return candidate
    return checkout.parent / "shared" / "make-schemas"


SCHEMA_DIR = _schema_dir()
SKIP_REASON = (
    f"Make's published schemas are not at {SCHEMA_DIR}: put ../shared beside the checkout "
    "(make-app/README.md, 'For developers of this app')"
)

#: File-name glob → schema file, in the extension's order (first match wins).
ASSOCIATIONS: tuple[tuple[str, str], ...] = (
    ("*.params.iml.json", "parameters.json"),
    ("*.static-params.iml.json", "parameters.json"),
    ("*.mappable-params.iml.json", "parameters.json"),
    ("*.interface.iml.json", "parameters.json"),
    ("common.json", "common.json"),
    ("*.communication.iml.json", "api.json"),
    ("*.samples.iml.json", "samples.json"),
    ("*.scope-list.iml.json", "scopes.json"),
    ("*.default-scope.iml.json", "scope.json"),
    ("*.required-scope.iml.json", "scope.json"),
    ("*.epoch.iml.json", "epoch.json"),
    ("*.attach.iml.json", "api.json"),
    ("*.detach.iml.json", "api.json"),
    ("*.publish.iml.json", "api.json"),
    ("base.iml.json", "base.json"),
    ("*.oauth-communication.iml.json", "api-oauth.json"),
    ("groups.json", "groups.json"),
    ("makecomapp.json", "makecomapp.schema.json"),
)


def available() -> bool:
    return (SCHEMA_DIR / "makecomapp.schema.json").is_file()


def schema_for(relative_path: str) -> str | None:
    name = relative_path.rsplit("/", 1)[-1]
    for pattern, schema in ASSOCIATIONS:
        if fnmatch.fnmatchcase(name, pattern):
            return schema
    return None


@cache
def _registry() -> referencing.Registry[Any]:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        contents = json.loads(path.read_text())
        # The files $ref each other by bare name (`sources.json#/definitions/url`).
        resource = referencing.jsonschema.DRAFT7.create_resource(contents)
        resources.append((path.name, resource))
    return (referencing.Registry().with_resources(resources)).combine(METASCHEMAS)


@cache
def validator(schema_name: str) -> jsonschema.Draft7Validator:
    """A validator for one schema file, resolving its relative `$ref`s among its siblings."""
    return jsonschema.Draft7Validator({"$ref": schema_name}, registry=_registry())


def problems(schema_name: str, document: Any) -> list[str]:
    """Every schema error, as `path: message` lines (empty when the document is valid)."""
    errors = sorted(validator(schema_name).iter_errors(document), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
