"""A credit cap on a paid call: price it first, and start nothing over the cap.

With `max_credits=` a create asks the API's price endpoint (`price.calculate`) before any
paid request and raises `CreditCapError` when the estimate is over the cap; a batch's cap is
for the whole batch. A call the price endpoint cannot price is never started either: a cap
that cannot be checked is not silently ignored. No I/O here: the clients send the calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.catalog import CATALOG, InvalidInput, Problem
from connector.catalog.fields import BATCH_PROMPTS
from connector.catalog.responses import ApiModel, PriceQuote
from connector.catalog.spec import JobKind, Operation, OperationKind
from connector.client._base import Prepared, prepare
from connector.client.errors import APIError, CreditCapError

PRICE = "price.calculate"
MAX_CREDITS = "max_credits"


@dataclass(frozen=True)
class Cap:
    """One capped call: the price request to send, and what to compare its answer with."""

    op: Operation
    cap: float
    count: int  # generations the one price covers (a batch's prompts)
    price: Prepared

    def check(self, quote: ApiModel) -> float:
        """The estimate for the whole call; raises `CreditCapError` when over the cap."""
        if not isinstance(quote, PriceQuote):  # pragma: no cover - the catalog fixes it
            raise TypeError(f"expected a PriceQuote, got {type(quote).__name__}")
        estimate = quote.credits * self.count
        if estimate > self.cap:
            raise CreditCapError(self.op, self.cap, estimate, count=self.count)
        return estimate

    def unpriceable(self, error: APIError) -> CreditCapError:
        return CreditCapError(
            self.op, self.cap, None, reason=f"the price endpoint refused it ({error})"
        )


def checked(op: Operation, value: Any) -> float | None:
    """`max_credits` as given, checked: None (no cap) or a number above 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInput(
            op,
            [Problem(MAX_CREDITS, value, f"{value!r} is not allowed; expected credits above 0")],
        )
    return float(value)


def plan(
    base_url: str, op: Operation, wire: Mapping[str, Any], cap: float, count: int | None = None
) -> Cap:
    """The price request for a create whose validated body is `wire`, covering `count`
    generations (default: a batch's prompts, else one).

    Raises `CreditCapError` (not started) when the price endpoint cannot price this kind of
    call: it prices a model's generation from its model, duration, resolution and count.
    """
    if op.kind is not OperationKind.CREATE:
        raise InvalidInput(
            op, [Problem(MAX_CREDITS, cap, f"is for paid calls only; {op.key} costs nothing")]
        )
    price_op = CATALOG.operation(PRICE)
    by_name = {use.field.name: use.field for use in op.fields}
    fields: dict[str, Any] = {}
    for use in price_op.fields:
        name = use.field.name
        if name in wire:
            fields[name] = wire[name]
        elif name in by_name and by_name[name].default is not None:
            fields[name] = by_name[name].default
    missing = [u.field.name for u in price_op.fields if u.required and u.field.name not in fields]
    if missing:
        reason = (
            f"the price endpoint prices a model's generation, and {op.label} has no "
            f"{' or '.join(missing)} to price"
        )
        raise CreditCapError(op, cap, None, reason=reason)
    if count is None:
        prompts = wire.get(BATCH_PROMPTS.name) if op.job is JobKind.BATCH else None
        count = len(prompts) if isinstance(prompts, list) else 1
    return Cap(op, cap, count, prepare(base_url, PRICE, fields))
