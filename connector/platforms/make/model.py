"""What the app is made of (components, ids) and the names its parts share.

Make's own rules live here: component ids (letters and digits for modules and RPCs) and
the names modules use to read the connection (`connection.apiKey`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connector.catalog import ModelSource, Platform, steps

Json = dict[str, Any]

PLATFORM: Platform = "make"
APP_ID = "creativeai"
APP_LABEL = "CreativeAI"
CONNECTION_ID = "creativeai"
#: The verified path: a relay subscription forwards checked completions to this webhook.
WEBHOOK_ID = "completedGenerations"
#: The relayless path: the builder maps this webhook's address into a job's Webhook URL;
#: the trigger fetches the job back before it trusts a notification.
NOTICE_WEBHOOK_ID = "jobNotifications"

#: The two instant triggers, as help texts name them.
RELAY_TRIGGER_LABEL = "Watch completed generations"
NOTICE_TRIGGER_LABEL = "Watch job notifications"

#: The one connection parameter, as every module reads it (`connection.apiKey`).
API_KEY = "apiKey"
#: The relay's address: a parameter of the relay webhook, kept in its data for detach.
RELAY_URL = "relayUrl"

#: The relay's management API (connector/relay/management.py), called with the same key.
RELAY_INBOX = "/v1/inbox"
RELAY_SUBSCRIPTIONS = "/v1/subscriptions"
#: The relay's ledger of Record keys: `<ledger>/<operation>?<lookup_query>=` lists a key's
#: entry (200, none or one), `<ledger>/<operation>/<key>` is the entry itself (PUT).
RELAY_LEDGER = steps.LEDGER.path


@dataclass
class Component:
    """One entry of makecomapp.json with its code sections (section name → content)."""

    kind: str  # connection, webhook, module, rpc
    id: str
    metadata: Json
    codes: Json = field(default_factory=dict)


@dataclass
class App:
    base: Json
    components: list[Component]
    groups: list[Json]
    readme: str = ""

    def of(self, kind: str) -> list[Component]:
        return [c for c in self.components if c.kind == kind]


def _words(text: str) -> str:
    """`image-edit models` → `ImageEditModels`."""
    return "".join(w[:1].upper() + w[1:].lower() for w in re.findall(r"[A-Za-z0-9]+", text))


def module_id(label: str) -> str:
    """`Create Video From Text` → `createVideoFromText` (Make: letters and digits only)."""
    name = _words(label)
    return name[:1].lower() + name[1:]


def rpc_id(options_source: ModelSource) -> str:
    """Video models → `listVideoModels`, image-edit → `listImageEditModels`, all → `listModels`."""
    return "list" + _words(options_source.kind or "") + "Models"
