"""The package around the sources: package.json, tsconfig, eslint config, codex files,
icons and the README."""

from __future__ import annotations

import json
from typing import Any

from connector.catalog import Catalog, limits
from connector.platforms import BUILD_COMMAND, GENERATED_NOTICE
from connector.platforms.n8n.sources import (
    DOCS_URL,
    NODE_DIR,
    TRIGGER_DIR,
    resource_label,
    resources,
)

PACKAGE_NAME = "n8n-nodes-creativeai"
VERSION = "0.1.0"
N8N_WORKFLOW = "*"

#: The eslint config `n8n-node lint` requires byte for byte in strict mode (no room for a
#: comment: the README lists it among the generated files).
ESLINT_CONFIG = "import { config } from '@n8n/node-cli/eslint';\n\nexport default config;\n"


def _json(value: Any) -> str:
    return json.dumps(value, indent="\t", ensure_ascii=False) + "\n"


def package_json() -> str:
    data: dict[str, Any] = {
        "//": GENERATED_NOTICE,
        "name": PACKAGE_NAME,
        "version": VERSION,
        "description": "n8n nodes for CreativeAI: video, batch video, voice, compose, images "
        "and chart videos, with polling, resume-by-webhook and a completion trigger.",
        "license": "MIT",
        "homepage": DOCS_URL,
        "keywords": ["n8n-community-node-package", "creativeai", "video", "text-to-speech"],
        "author": {"name": "CreativeAI", "email": "support@creativeai.run"},
        "repository": {
            "type": "git",
            "url": "https://github.com/creativeai/n8n-nodes-creativeai.git",
        },
        "scripts": {
            "build": "n8n-node build",
            "lint": "n8n-node lint",
            "lint:fix": "n8n-node lint --fix",
            "prepublishOnly": "n8n-node prerelease",
        },
        "files": ["dist"],
        "n8n": {
            "n8nNodesApiVersion": 1,
            "strict": True,
            "credentials": ["dist/credentials/CreativeAiApi.credentials.js"],
            "nodes": [
                f"dist/{NODE_DIR}/CreativeAi.node.js",
                f"dist/{TRIGGER_DIR}/CreativeAiTrigger.node.js",
            ],
        },
        "devDependencies": {
            "@n8n/node-cli": "*",
            "eslint": "9.29.0",
            "typescript": "5.9.3",
        },
        "peerDependencies": {"n8n-workflow": N8N_WORKFLOW},
    }
    return _json(data)


def tsconfig() -> str:
    config = {
        "compilerOptions": {
            "strict": True,
            "module": "commonjs",
            "moduleResolution": "node",
            "target": "es2019",
            "lib": ["es2019", "es2020", "es2022.error"],
            "removeComments": True,
            "useUnknownInCatchVariables": False,
            "forceConsistentCasingInFileNames": True,
            "noImplicitAny": True,
            "noImplicitReturns": True,
            "noUnusedLocals": True,
            "strictNullChecks": True,
            "preserveConstEnums": True,
            "esModuleInterop": True,
            "resolveJsonModule": True,
            "incremental": True,
            "declaration": False,
            "sourceMap": True,
            "skipLibCheck": True,
            "outDir": "./dist/",
        },
        "include": ["credentials/**/*", "nodes/**/*", "nodes/**/*.json", "package.json"],
    }
    return f"// {GENERATED_NOTICE}\n" + _json(config)


def codex(node: str, categories: list[str], subcategories: dict[str, list[str]] | None) -> str:
    data: dict[str, Any] = {
        "node": f"{PACKAGE_NAME}.{node}",
        "nodeVersion": "1.0",
        "codexVersion": "1.0",
        "categories": categories,
        "resources": {
            "credentialDocumentation": [{"url": f"{DOCS_URL}-credentials"}],
            "primaryDocumentation": [{"url": DOCS_URL}],
        },
    }
    if subcategories:
        data["subcategories"] = subcategories
    return _json(data)


def _icon(background: str, accent: str, glyph: str) -> str:
    return (
        f"<!-- {GENERATED_NOTICE} -->\n"
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">\n'
        f'  <rect x="2" y="2" width="60" height="60" rx="14" fill="{background}"/>\n'
        f'  <path d="M24 18 L48 32 L24 46 Z" fill="{glyph}"/>\n'
        '  <path d="M14 14 l2.5 6 6 2.5 -6 2.5 -2.5 6 -2.5 -6 -6 -2.5 6 -2.5 z"'
        f' fill="{accent}"/>\n'
        "</svg>\n"
    )


ICON_LIGHT = _icon("#1F1147", "#FFB547", "#FFFFFF")
ICON_DARK = _icon("#E9E3FF", "#C26A00", "#1F1147")


def readme(catalog: Catalog) -> str:
    rows = []
    for ops in resources(catalog).values():
        names = ", ".join(op.label for op in ops)
        rows.append(f"| {resource_label(ops)} | {names} |")
    events = ", ".join(f"`{e}`" for e in catalog.events)
    return f"""<!-- {GENERATED_NOTICE} -->
# {PACKAGE_NAME}

n8n community nodes for the [CreativeAI](https://creativeai.run) media API: text and image
to video, batch video, narration, composing audio onto video, images and chart videos.

## Install (self-hosted n8n)

*Settings → Community Nodes → Install*, package name `{PACKAGE_NAME}`. Or from a tarball
built here (`npm pack`): unpack it to `~/.n8n/nodes/node_modules/{PACKAGE_NAME}/` and
restart n8n. No runtime dependencies.

## Credentials: CreativeAI API

- **API Key**: sent as `Authorization: Bearer …`; also the secret that checks completion
  webhooks (`{limits.SIGNATURE_HEADER}`).
- **Base URL**: `{limits.DEFAULT_BASE_URL}` unless you use a proxy or the local sandbox.
- **Relay URL** (optional): the webhook relay. With it, *Resume by Webhook* and the trigger
  go through the relay (verified, deduplicated, retried deliveries).

## Node: CreativeAI

| Resource | Operations |
|---|---|
{chr(10).join(rows)}

Required fields come first; the rest are under *Additional Fields*. Model lists load live.

**Completion** for operations that start a job:
- *Don't Wait*: returns the accepted job.
- *Poll Until Done*: checks at the documented interval, gives up after the timeout with an
  error naming the job ID.
- *Resume by Webhook*: submits with a webhook that resumes this execution and parks it
  (no worker held). With a relay URL, one relay route per node run collects every job's
  completion and resumes once; without one, the API calls n8n's resume URL directly and the
  node checks `{limits.SIGNATURE_HEADER}` with the API key. Through the relay, at the
  deadline ("Give Up After") the node fails naming the jobs that did not finish (error items
  with *Continue On Fail*); straight from the API, n8n's own wait limit resumes the run and
  each unfinished item carries an error naming its job.

**Many items**: video items go out as batch calls of up to {limits.BATCH_MAX_PROMPTS};
other operations run in parallel (option *Parallel Requests*). Every output item is paired
with its input item; with *Continue On Fail*, a failed item carries its error.

**Download Result** puts the output file into binary data (file name, MIME type): output
URLs expire after {limits.OUTPUT_URL_LIFETIME_DAYS} days.

## Node: CreativeAI Trigger

Starts a workflow on completion events ({events}). It accepts only signed requests: the
API's HMAC when the API posts directly, the relay's Standard Webhooks signature when the
relay forwards; anything else gets 401 and starts nothing. With a relay URL it subscribes
itself when the workflow is published and unsubscribes when it is unpublished; without
one, paste its Production URL into the jobs' Webhook URL.

## Files

Generated by `{BUILD_COMMAND}` from the catalog (do not edit; they carry a notice on their
first line, or in a `"//"` key): `package.json`, `tsconfig.json`, `credentials/`,
`icons/`, `nodes/*/*.node.ts`, `nodes/CreativeAi/catalog.ts`,
`nodes/CreativeAi/resources/`, this README, and three files whose formats hold no comment:
`eslint.config.mjs` (n8n's strict-mode default, byte for byte) and the codex files
`nodes/*/*.node.json`. Hand-written: `nodes/*/runtime/` (polling, resuming, signatures,
errors) and `tests/`.
"""


def all_files(catalog: Catalog) -> dict[str, str]:
    return {
        "package.json": package_json(),
        "tsconfig.json": tsconfig(),
        "eslint.config.mjs": ESLINT_CONFIG,
        "README.md": readme(catalog),
        "icons/creativeai.svg": ICON_LIGHT,
        "icons/creativeai.dark.svg": ICON_DARK,
        f"{NODE_DIR}/CreativeAi.node.json": codex(
            "creativeAi", ["Marketing", "Miscellaneous"], {"Marketing": ["Content"]}
        ),
        f"{TRIGGER_DIR}/CreativeAiTrigger.node.json": codex(
            "creativeAiTrigger", ["Marketing", "Miscellaneous"], None
        ),
    }
