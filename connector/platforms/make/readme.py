"""The app's README: what Make users read in the app, and what its developers need."""

from __future__ import annotations

from connector.catalog import Catalog, limits
from connector.platforms import BUILD_COMMAND, GENERATED_NOTICE
from connector.platforms.make import params
from connector.platforms.make.base import make_error_type
from connector.platforms.make.model import App
from connector.platforms.make.modules import MODULE_TIME_LIMIT_S, is_waiting

_TYPE_NAMES = {
    "action": "Action",
    "search": "Search",
    "instant_trigger": "Instant trigger",
    "universal": "Universal",
}


def readme(catalog: Catalog, app: App) -> str:
    modules = app.of("module")
    waiting = [m.metadata["label"] for m in modules if is_waiting(m)]
    lines = [
        f"<!-- {GENERATED_NOTICE} -->",
        "# CreativeAI for Make",
        "",
        "Video, batch video, voice, compose, images and chart-to-video from the CreativeAI API "
        "in your Make scenarios. Long jobs finish by webhook: a job's module returns at once, "
        "and the **Watch Completed Generations** trigger continues when the result is ready.",
        "",
        "## Connection",
        "",
        "- **API Key**: your CreativeAI key; it is sent as a bearer token and masked in logs.",
        f"- **API Base URL** (advanced): `{limits.DEFAULT_BASE_URL}` unless you use a "
        "sandbox or a gateway.",
        "- **Relay URL** (optional): your CreativeAI webhook relay. Needed by the trigger. "
        "With it, jobs started without a Webhook URL report to the relay, which checks the "
        "API's signature and forwards each completion to the trigger.",
        "",
        "Make checks the key by listing the models when you save the connection.",
        "",
        "## Modules",
        "",
        "| Module | Type | What it does |",
        "|---|---|---|",
    ]
    for m in modules:
        meta = m.metadata
        lines.append(
            f"| {meta['label']} | {_TYPE_NAMES[meta['moduleType']]} | {meta['description']} |"
        )
    lines += [
        "",
        "Model fields list the models the API serves now (`GET /v1/models`); you may also "
        "type or map a model name.",
        "",
        "## Waiting for a result",
        "",
        f"{' and '.join(waiting)} usually finish within seconds, so these modules can wait: "
        "with **Wait for the Result** on, they check the job and output the finished result, "
        f"within Make's {MODULE_TIME_LIMIT_S:g} s module limit. Everything else "
        "returns the job at once; add **Watch Completed Generations** in a second scenario "
        "(or use the Get modules).",
        "",
        "## Watch Completed Generations",
        "",
        "Creating the trigger's webhook subscribes it at the relay for the events you choose; "
        "deleting the webhook ends the subscription. Each completion is one bundle: `event`, "
        "`delivery_id` and the `payload` the API sent. With **One Bundle per Batch Video**, "
        "a finished batch arrives once per video.",
        "",
        "## Errors",
        "",
        "| API error | HTTP | Make error type | What to do |",
        "|---|---|---|---|",
    ]
    for code in catalog.errors.values():
        lines.append(
            f"| `{code.code}` | {code.http_status} | {make_error_type(code)} | {code.advice} |"
        )
    lines += [
        "",
        "## Make an API Call",
        "",
        "Calls any endpoint with the connection's key. Give a path relative to the API base "
        "URL (`/v1/models`); absolute URLs are refused.",
        "",
        "## For developers of this app",
        "",
        f"Every file here is generated from `connector/catalog` by `{BUILD_COMMAND}`; "
        f"`{BUILD_COMMAND} --check` fails when they drift. IML JSON files start with that "
        "notice as a comment; `makecomapp.json`, `general/common.json` and "
        "`modules/groups.json` are strict JSON and cannot hold one, so this note stands for "
        "them.",
        "",
        "Catalog field types become Make parameter types as follows:",
        "",
        "| Catalog | Make |",
        "|---|---|",
    ]
    for kind, make_type in params.PARAMETER_TYPES.items():
        lines.append(f"| {kind.value} | {make_type} |")
    lines += [
        "",
        "Deploy with the Make Apps Editor for VS Code (`samples/make/DEPLOY.md` in the "
        "repository). Tests: `python3 -m pytest tests/test_make*.py` validates every file "
        "against Make's published schemas and runs each module against a local sandbox "
        "and relay. The schemas are read from `../shared/make-schemas/` beside the "
        "checkout (copies of those in Make's VS Code extension, not kept in this "
        "repository); without that folder the schema checks skip and say so.",
        "",
    ]
    return "\n".join(lines)
