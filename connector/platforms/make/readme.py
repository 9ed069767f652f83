"""The app's README: what Make users read in the app, and what its developers need.

The prose is `templates/README.md`; the tables and numbers come from the app and the catalog.
"""

from __future__ import annotations

import string

from connector.catalog import Catalog, OperationKind, limits, steps, text
from connector.platforms import BUILD_COMMAND, GENERATED_NOTICE
from connector.platforms.make import params
from connector.platforms.make.base import advice, make_error_type
from connector.platforms.make.model import (
    NOTICE_TRIGGER_LABEL,
    PLATFORM,
    RELAY_TRIGGER_LABEL,
    App,
)
from connector.platforms.make.modules import (
    MODULE_TIME_LIMIT_S,
    TEMPLATES,
    WAIT_BUDGET_S,
    WAIT_MARGIN_S,
    is_waiting,
)

_TYPE_NAMES = {
    "action": "Action",
    "search": "Search",
    "instant_trigger": "Instant trigger",
    "universal": "Universal",
}


def summary(catalog: Catalog) -> str:
    """`Videos, video batches, … and chart videos`: what the app's create modules make."""
    plurals = [
        catalog.resource(op.key).plural
        for op in catalog.for_platform(PLATFORM)
        if op.kind is OperationKind.CREATE
    ]
    return text.sentence_case(text.join_words(list(dict.fromkeys(plurals))))


def readme(catalog: Catalog, app: App) -> str:
    modules = app.of("module")
    waiting = [f"**{m.metadata['label']}**" for m in modules if is_waiting(m)]
    module_rows = [
        f"| {m.metadata['label']} | {_TYPE_NAMES[m.metadata['moduleType']]} "
        f"| {m.metadata['description']} |"
        for m in modules
    ]
    error_rows = [
        f"| `{c.code}` | {c.http_status} | {make_error_type(c)} | {advice(c)} |"
        for c in catalog.errors.values()
    ]
    type_rows = [f"| {kind.value} | {make} |" for kind, make in params.PARAMETER_TYPES.items()]
    source = (TEMPLATES / "README.md").read_text(encoding="utf-8")
    return string.Template(source).substitute(
        notice=GENERATED_NOTICE,
        summary=summary(catalog),
        base_url=limits.DEFAULT_BASE_URL,
        module_rows="\n".join(module_rows),
        waiting=", ".join(waiting[:-1]) + " and " + waiting[-1]
        if len(waiting) > 1
        else "".join(waiting),
        budget_s=f"{WAIT_BUDGET_S:g}",
        limit_s=f"{MODULE_TIME_LIMIT_S:g}",
        margin_s=f"{WAIT_MARGIN_S:g}",
        file_limit_what=limits.MAKE_MODULE_FILE.what,
        file_limit=limits.MAKE_MODULE_FILE.shown,
        over_cap=steps.over_cap("N", "M"),
        notice_trigger=NOTICE_TRIGGER_LABEL,
        relay_trigger=RELAY_TRIGGER_LABEL,
        error_rows="\n".join(error_rows),
        example_path=catalog.operation("model.list").path,
        build=BUILD_COMMAND,
        type_rows="\n".join(type_rows),
    )
