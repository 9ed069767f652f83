"""The whole Make app from the catalog: which module each operation becomes, and groups.

    app = build(CATALOG)     # base, connection, webhook, modules, RPCs, groups, README

Creates, gets and price become action modules (a Get module reads one item), lists search
modules; the two instant triggers (verified by a relay, or checked by fetching the job back),
the universal module and one RPC per live option list complete the app.
"""

from __future__ import annotations

from collections.abc import Mapping

from connector.catalog import Catalog, OperationKind
from connector.platforms.make import modules
from connector.platforms.make.base import base, connection
from connector.platforms.make.model import PLATFORM, App
from connector.platforms.make.readme import readme
from connector.platforms.make.trigger import (
    notice_trigger,
    notice_webhook,
    relay_trigger,
    relay_webhook,
)

K = OperationKind

#: Module groups in the Make editor, by what the builder does.
GROUPS: Mapping[str, tuple[OperationKind, ...]] = {
    "Generate": (K.CREATE,),
    "Look up": (K.GET, K.LIST, K.CALCULATE),
}


def build(catalog: Catalog) -> App:
    ops = catalog.for_platform(PLATFORM)
    triggers = [notice_trigger(catalog), relay_trigger(catalog)]
    universal = modules.universal_module(catalog)
    by_kind: dict[OperationKind, list[str]] = {}
    operation_modules = []
    for op in ops:
        if op.kind is K.LIST:
            component = modules.search_module(catalog, op)
        else:
            component = modules.action_module(catalog, op)
        operation_modules.append(component)
        by_kind.setdefault(op.kind, []).append(component.id)
    groups = [{"label": "Triggers", "modules": [t.id for t in triggers]}]
    for label, kinds in GROUPS.items():
        groups.append({"label": label, "modules": [m for k in kinds for m in by_kind.get(k, [])]})
    groups.append({"label": "Other", "modules": [universal.id]})
    rpcs = [modules.model_rpc(catalog, s, k) for s, k in modules.options_sources(ops).items()]
    app = App(
        base(),
        [
            connection(catalog),
            notice_webhook(catalog),
            relay_webhook(catalog),
            *triggers,
            *operation_modules,
            universal,
            *rpcs,
        ],
        groups,
    )
    app.readme = readme(catalog, app)
    return app
