"""The package around the sources: package.json, tsconfig, eslint config, codex files,
icons and the README."""

from __future__ import annotations

import json
from typing import Any

from connector.catalog import Catalog, limits, steps
from connector.platforms import BUILD_COMMAND, GENERATED_NOTICE
from connector.platforms.n8n.sources import (
    CREDENTIALS_HEADING,
    CREDENTIALS_URL,
    DOCS_URL,
    NETWORK_ERRORS,
    NODE_DIR,
    REPOSITORY_URL,
    TRIGGER_DIR,
    github_anchor,
    resource_label,
    resources,
)
from connector.platforms.n8n.ts import template

PACKAGE_NAME = "n8n-nodes-creativeai"
#: The Node.js release the publish workflow builds with (npm provenance needs npm 9.5+).
PUBLISH_NODE = "22"
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
            "url": f"{REPOSITORY_URL}.git",
        },
        "scripts": {
            "build": "n8n-node build",
            "lint": "n8n-node lint",
            "lint:fix": "n8n-node lint --fix",
            "release": "n8n-node release",
            "prepublishOnly": "n8n-node prerelease",
        },
        "publishConfig": {"access": "public", "provenance": True},
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
            "credentialDocumentation": [{"url": CREDENTIALS_URL}],
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


#: The n8n release the package is tested against, end to end (tests/n8n_toolchain.py installs
#: it), and the older one it falls back to where that cannot install.
TESTED_N8N = "2.41.1"
TESTED_N8N_FALLBACK = "2.8.4"


def _network_errors() -> str:
    """The README's table of the network error codes n8n shows for the credential test."""
    return "\n".join(
        f"| {', '.join(f'`{c}`' for c in codes)} | {meaning} |" for codes, meaning in NETWORK_ERRORS
    )


def readme(catalog: Catalog) -> str:
    rows = []
    for ops in resources(catalog).values():
        names = ", ".join(op.label for op in ops)
        rows.append(f"| {resource_label(ops)} | {names} |")
    events = ", ".join(f"`{e}`" for e in catalog.events)
    anchor = f"#{github_anchor(CREDENTIALS_HEADING)}"
    price_path = catalog.operation(steps.PRICE_OPERATION).path
    over_cap = steps.over_cap("N", "M")
    return f"""<!-- {GENERATED_NOTICE} -->
# {PACKAGE_NAME}

This is an n8n community node. It lets you use [CreativeAI](https://creativeai.run) in your
n8n workflows: text and image to video, batch video, narration, composing audio onto video,
images and chart videos, and a trigger that starts a workflow when a job completes.

[n8n](https://n8n.io/) is a [fair-code licensed](https://docs.n8n.io/sustainable-use-license/)
workflow automation platform.

[Installation](#installation) · [Operations](#operations) · [{CREDENTIALS_HEADING}]({anchor}) ·
[Compatibility](#compatibility) · [Usage](#usage) · [Resources](#resources)

## Installation

Follow the [installation guide](https://docs.n8n.io/integrations/community-nodes/installation/)
in the n8n community nodes documentation: *Settings → Community Nodes → Install*, package
name `{PACKAGE_NAME}`. Or from a tarball built here (`npm pack`): unpack it to
`~/.n8n/nodes/node_modules/{PACKAGE_NAME}/` and restart n8n. No runtime dependencies.

## Operations

**CreativeAI** node:

| Resource | Operations |
|---|---|
{chr(10).join(rows)}

**CreativeAI Trigger** node: starts a workflow on completion events ({events}).

## {CREDENTIALS_HEADING}

Sign up at [creativeai.run](https://creativeai.run) and create an API key (Dashboard → API
Keys). The credential *CreativeAI API* holds:

- **API Key**: sent as `Authorization: Bearer …`; also the secret that checks completion
  webhooks (`{limits.SIGNATURE_HEADER}`).
- **Base URL**: `{limits.DEFAULT_BASE_URL}` unless you use a proxy or the local sandbox.
- **Relay URL** (optional): the webhook relay. With it, *Resume by Webhook* and the trigger
  go through the relay (verified, deduplicated, retried deliveries).

Saving the credential checks the key against the model list. A key the API refuses, a Base
URL that does not serve the API (an error page, a web page) and a server error each get a
sentence saying what to do. When the Base URL cannot be reached at all, n8n shows only the
network error's code:

| n8n shows | What it means |
|---|---|
{_network_errors()}

## Compatibility

Tested with n8n {TESTED_N8N} (Node.js 24) and {TESTED_N8N_FALLBACK} (Node.js 20). Uses n8n's
community node API version 1 in strict mode.

## Usage

Required fields come first; the rest are under *Additional Fields*. Model lists load live.

**Completion** for operations that start a job:
- *Don't Wait*: returns the job as the API accepted it.
- *Poll Until Done*: checks at the documented interval, gives up after the timeout (or
  when the status cannot be read) with an error naming the job ID and the operation that
  fetches it later (*Get Video*, *Get Video Batch*, *Get Job*).
- *Resume by Webhook*: submits with a webhook that resumes this execution and parks it
  (no worker held). With a relay URL, one relay route per node run collects every job's
  completion and resumes once; without one, the API calls n8n's resume URL directly and the
  node checks `{limits.SIGNATURE_HEADER}` with the API key. Through the relay, at the
  deadline ("Give Up After") the node fails naming the jobs that did not finish (error items
  with *Continue On Fail*); straight from the API, n8n's own wait limit resumes the run and
  each unfinished item carries an error naming its job and the operation that fetches it.
  (The node has no progress-stream mode: a dropped stream cannot lose a job here.)

**Max Credits** (*Options*, on every paid create): the node prices each call with its own
request first (`{price_path}`) and starts nothing when the estimate is over the cap
("{over_cap}"), or when the price cannot be checked. Video items sent as one batch call are
priced as that call (the cap is per call). Finished jobs carry what they were charged
(`credits`, a batch's `credits_charged`) and, for a failed video, `credits_refunded`.

**Record Key** (*Options*, on every paid create): map your row or SKU ID. The node remembers
key → job in the workflow's static data for {limits.OUTPUT_URL_LIFETIME_DAYS} days: started
again with the same key, it fetches that job back (and waits for it as set) instead of
paying again; a job that failed, or that the API no longer knows, lets the key start anew.
n8n saves static data only for production executions (a published workflow started by its
trigger or webhook), so manual test runs do not remember keys.

**Many items**: video items go out as batch calls of up to {limits.BATCH_MAX_PROMPTS};
other operations run in parallel (option *Parallel Requests*). Every output item is paired
with its input item; with *Continue On Fail*, a failed item carries its error. When the API
refuses one entry of a batch (a prompt flagged by content policy, say), that item gets the
error and the others are sent again without it, in the same execution.

**Download Result** streams the output file into binary data (file name, MIME type), never
holding it whole in memory (with n8n's filesystem binary data mode, its default): output
URLs expire after {limits.OUTPUT_URL_LIFETIME_DAYS} days. *Max File Size (MB)* (0: no
limit) leaves a larger file at its URL, with `file_message` naming the limit and the size.

**The trigger** accepts only signed requests. With a relay URL it subscribes itself when the
workflow is published, unsubscribes when it is unpublished, and accepts only the relay's
Standard Webhooks signature (within its timestamp window). Without one, paste its Production
URL into the jobs' Webhook URL; it then checks the API's signature. It starts the workflow
once per delivery: the API's retries and a post sent again are answered 200 and start
nothing (it remembers the deliveries of the past day).

## Resources

- [n8n community nodes documentation](https://docs.n8n.io/integrations/#community-nodes)
- [CreativeAI](https://creativeai.run)

## Development

Generated by `{BUILD_COMMAND}` from the catalog (do not edit; they carry a notice on their
first line, or in a `"//"` key): `package.json`, `tsconfig.json`, `credentials/`,
`icons/`, the node entry files `nodes/*/*.node.ts`, everything under
`nodes/CreativeAi/generated/` (the field and operation table `catalog.ts`, each field's
parameter once in `descriptions/`, and per operation which of them it shows in
`resources/`), `.github/workflows/publish.yml`, this README, and three files whose formats
hold no comment: `eslint.config.mjs` (n8n's strict-mode default, byte for byte) and the
codex files `nodes/*/*.node.json`. Hand-written: `nodes/*/runtime/` (reading the table,
polling, resuming, signatures, errors) and `tests/`.

Releases are published from GitHub Actions with an npm provenance statement
(`.github/workflows/publish.yml`, on a version tag).
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
        ".github/workflows/publish.yml": template(
            "publish.yml", GENERATED_NOTICE, comment="#", package=PACKAGE_NAME, node=PUBLISH_NODE
        ),
        f"{TRIGGER_DIR}/CreativeAiTrigger.node.json": codex(
            "creativeAiTrigger", ["Marketing", "Miscellaneous"], None
        ),
    }
