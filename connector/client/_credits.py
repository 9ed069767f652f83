"""A credit cap on a paid call: price it first, and start nothing over the cap.

With `max_credits=` a create asks the API's price endpoint (`price.calculate`) before any
paid request and raises `CreditCapError` when the estimate is over the cap. The price request
is the create's own request body (the endpoint prices any paid create's body as that create
is then charged), so every paid create can be capped, and a batch is priced as a whole; a
multipart create (an image edit) sends its fields as JSON, without the files it uploads. A
call the price endpoint cannot price is never started either: a cap that cannot be checked
is not silently ignored. No I/O here: the clients send the calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector.catalog import CATALOG, InvalidInput, Problem, Upload, steps
from connector.catalog.fields import BATCH_PROMPTS
from connector.catalog.responses import ApiModel, PriceQuote
from connector.catalog.spec import JobKind, Operation, OperationKind
from connector.client._base import Prepared
from connector.client.errors import APIError, CreditCapError

PRICE = steps.PRICE_OPERATION
MAX_CREDITS = steps.MAX_CREDITS.key


@dataclass(frozen=True)
class Cap:
    """One capped call: the price requests to send (one per create it makes), and the cap
    their sum is compared with."""

    op: Operation
    cap: float
    count: int  # generations the price covers (a batch's prompts), for the message
    prices: tuple[Prepared, ...]

    def check(self, quotes: Sequence[ApiModel]) -> float:
        """The estimate for the whole call; raises `CreditCapError` when over the cap."""
        total = 0.0
        for quote in quotes:
            if not isinstance(quote, PriceQuote):  # pragma: no cover - the catalog fixes it
                raise TypeError(f"expected a PriceQuote, got {type(quote).__name__}")
            total += quote.credits
        if total > self.cap:
            raise CreditCapError(self.op, self.cap, total, count=self.count)
        return total

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


def price_body(op: Operation, wire: dict[str, Any]) -> dict[str, Any]:
    """A create's validated body as a price request: its JSON fields, without files, and
    the API's defaults of what prices it (model, duration, resolution, count) when the body
    leaves them out, so the price is that of the generation the create would make."""
    body = {k: v for k, v in wire.items() if not isinstance(v, Upload)}
    priced_by = {use.field.name for use in CATALOG.operation(PRICE).fields}
    for use in op.fields:
        f = use.field
        if f.name in priced_by and f.name not in body and f.default is not None:
            body[f.name] = f.default
    return body


def plan(base_url: str, calls: Sequence[Prepared], cap: float) -> Cap:
    """The price requests for the creates `calls` (one create, or the batches of one
    `generate_videos`), each the create's own body; the cap is for all of them."""
    op = calls[0].op
    if op.kind is not OperationKind.CREATE:
        raise InvalidInput(
            op, [Problem(MAX_CREDITS, cap, f"is for paid calls only; {op.key} costs nothing")]
        )
    price_op = CATALOG.operation(PRICE)
    url = base_url + price_op.path
    prices = tuple(Prepared(price_op, url, json=price_body(c.op, c.wire or {})) for c in calls)
    return Cap(op, cap, sum(_generations(c) for c in calls), prices)


def _generations(call: Prepared) -> int:
    prompts = (call.wire or {}).get(BATCH_PROMPTS.name) if call.op.job is JobKind.BATCH else None
    return len(prompts) if isinstance(prompts, list) else 1
