"""Options every paid create gets on every platform that are not API fields: "Max credits"
and "Record key". Each is stated here once, with the facts it needs; emitters render them.

    from connector.catalog import steps
    steps.MAX_CREDITS.label                       # "Max Credits" (Title Case, as labels are)
    steps.over_cap(120, 100)                      # "not started: this would cost about ..."
    steps.capped(CATALOG)                         # the operations that get both options
    steps.LEDGER.path_for("image.generate", "sku/42")  # "/v1/ledger/image.generate/sku%2F42"

Neither is sent to the API: "Max credits" makes the step ask the price endpoint
(`PRICE_OPERATION`) before the paid request; "Record key" names the record a job is for, so
a step started again for the same record can return the job instead of paying again.
Where a relay runs, it keeps those keys in its ledger (`LEDGER`: its path and limits).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import quote

from connector.catalog import limits
from connector.catalog.spec import Field, FieldType, Operation, OperationKind

T = FieldType

__all__ = [
    "LEDGER",
    "MAX_CREDITS",
    "PER_CALL_CAP",
    "PRICE_OPERATION",
    "RECORD_KEY",
    "STATIC_DATA_LEDGER",
    "Ledger",
    "StepOption",
    "capped",
    "ledger_unanswered",
    "over_cap",
    "reused_unfetchable",
    "unpriceable",
    "unrecorded",
]

#: The operation a capped step asks first (its body: the create's own request).
PRICE_OPERATION = "price.calculate"


@dataclass(frozen=True)
class StepOption:
    """One option of a step: its key, label (Title Case), type and help (sentences).
    `without_ledger` is what the help adds where no ledger keeps keys (Zapier, Make)."""

    key: str
    label: str
    type: FieldType
    help: str
    minimum: int | None = None
    without_ledger: str = ""


MAX_CREDITS = StepOption(
    key="max_credits",
    label="Max Credits",
    type=T.INTEGER,
    help=(
        "The most credits this step may spend. When set, the step asks for the price first "
        "and, when the estimate is over this cap, stops without starting anything (nothing is "
        "paid); for a batch the cap is for the whole batch. A request whose price cannot be "
        "checked is not started either."
    ),
    minimum=1,
)

RECORD_KEY = StepOption(
    key="record_key",
    label="Record Key",
    type=T.STRING,
    help=(
        "The record this job is for (a SKU or row ID). Started again with the same key, the "
        "step returns the job that key already started instead of paying for a new one, for "
        f"as long as its output lives ({limits.OUTPUT_URL_LIFETIME_DAYS} days); a job that "
        "failed lets the key start again."
    ),
    without_ledger=(
        "One job per record needs the relay, which keeps the keys for you; without it this "
        "step starts a new job on every run."
    ),
)


@dataclass(frozen=True)
class Ledger:
    """The relay's record-key ledger: `GET/PUT/DELETE <path>/<operation>/<key>`, where
    `<operation>` is a paid create (`capped`) and `<key>` the Record key, URL-encoded whole
    (a `/` in it as `%2F`). An entry holds the job a key started (`job_id`) or a
    synchronous create's answer (`result`) and lives `lifetime_days` after its PUT.
    `GET <path>/<operation>?<lookup_query>=<key>` finds the same entry as a list of none
    or one, always 200, for a platform that stops at any 4xx (Make)."""

    path: str = "/v1/ledger"
    #: The query parameter of the lookup that answers 200 whether or not there is an entry.
    lookup_query: str = "key"
    #: A key is 1 to this many characters (Unicode code points), none a control character.
    max_key_chars: int = 256
    #: The most bytes a stored `result` may take as compact UTF-8 JSON.
    max_result_bytes: int = 64 * 1024
    #: How long an entry answers after its PUT: as long as the job's output lives.
    lifetime_days: int = limits.OUTPUT_URL_LIFETIME_DAYS

    #: Keys no URL can carry: clients resolve `.` and `..` path segments away.
    dot_keys: tuple[str, ...] = (".", "..")

    @property
    def key_rule(self) -> str:
        """What a key may be, as the relay's errors and the platforms' help say it."""
        dots = " or ".join(f"'{k}'" for k in self.dot_keys)
        return f"1 to {self.max_key_chars} characters, no control characters, and not {dots}"

    def allows_key(self, key: object) -> TypeGuard[str]:
        """Whether `key` is a key the ledger takes (`key_rule`)."""
        return (
            isinstance(key, str)
            and 1 <= len(key) <= self.max_key_chars
            and key not in self.dot_keys
            and not any(unicodedata.category(c) == "Cc" for c in key)
        )

    @staticmethod
    def result_bytes(result: Mapping[str, Any]) -> int:
        """The size of a `result` as the limit counts it: compact UTF-8 JSON."""
        return len(json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode())

    @property
    def lifetime_seconds(self) -> int:
        return self.lifetime_days * 86400

    def path_for(self, operation: str, key: str) -> str:
        """The entry's path: the key percent-encoded whole, so `/`, `%`, `?` and `#` in it
        stay part of it."""
        return f"{self.path}/{operation}/{quote(key, safe='')}"


LEDGER = Ledger()

#: Where a platform sends many items as batch calls (n8n's "Send Items as Batches"): what
#: the cap covers there.
PER_CALL_CAP = (
    "When items go out together as one batch call (Send Items as Batches), the cap is for "
    "that call as a whole."
)

#: Without a relay, n8n keeps a Record key's job in the workflow's static data, saved only for
#: production executions. Source: https://docs.n8n.io/code/cookbook/builtin/get-workflow-static-data/
#: ("Static data isn't available when testing workflows. The workflow must be published and
#: called by a trigger or webhook to save static data.")
STATIC_DATA_LEDGER = (
    "Without a relay, the node keeps the keys in the workflow's static data, which n8n saves "
    "only when a published workflow runs from its trigger or webhook: a manual test run does "
    "not remember its keys. With a Relay URL in the credential, the relay's ledger keeps "
    "them, in every run."
)


def capped(operations: Iterable[Operation]) -> list[Operation]:
    """The paid creates among `operations`: every create the API charges for (it gives a
    credits figure). `steps.capped(CATALOG.operations.values())`."""
    return [
        op
        for op in operations
        if op.kind is OperationKind.CREATE and op.credits_example is not None
    ]


def price_defaults(fields: Iterable[Field]) -> dict[str, str]:
    """What a price request names when the create leaves it empty, among `fields` (the ones
    a step shows): the model the API then uses, so the estimate is for the generation the
    create would make. `{wire name: default}`."""
    return {f.name: f.default for f in fields if f.options_source and isinstance(f.default, str)}


def over_cap(estimate: float | str, cap: float | str) -> str:
    """The refusal when the price is over the cap (the step starts nothing)."""
    return f"not started: this would cost about {estimate} credits, the cap is {cap}"


def unpriceable(reason: str, cap: float | str) -> str:
    """The refusal when the price endpoint cannot price the request."""
    return (
        f"not started: the price of this request cannot be checked, so the cap of {cap} "
        f"credits cannot be kept ({reason})"
    )


def ledger_unanswered(reason: str) -> str:
    """The refusal when the ledger cannot be asked about a Record key (nothing is started:
    starting would break one job per record)."""
    return (
        "not started: the relay's ledger could not be asked about this Record key "
        f"({reason}), so one job per record cannot be kept"
    )


def reused_unfetchable(job_id: str, reason: str) -> str:
    """When the job a Record key already started cannot be fetched back from the API."""
    return (
        f"not started: this Record key already started job {job_id}, which cannot be fetched "
        f"back ({reason})"
    )


def unrecorded(paid: str, reason: str) -> str:
    """When a create was paid but the ledger did not keep it under its Record key: what was
    paid for (`job <id>`, or the images' URLs) is named, so it is not lost."""
    return (
        f"paid for {paid}, but the relay's ledger did not keep it under this Record key "
        f"({reason}); the next run with this key starts a new one"
    )
