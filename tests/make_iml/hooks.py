"""What reached the stand-in for Make's webhook URL, once per delivery.

The relay delivers at least once: an attempt that timed out on a slow machine is sent
again with the same Standard Webhooks `webhook-id`, so a receiver counts distinct ids.
"""

from __future__ import annotations

from connector.relay.testing import Received, Target, wait_until


def deliveries(target: Target, count: int, timeout: float = 10.0) -> list[Received]:
    """Wait for `count` distinct deliveries; return one request for each, in arrival order."""

    def distinct() -> list[Received] | None:
        seen: dict[str, Received] = {}
        for request in list(target.received):
            seen.setdefault(request.headers.get("webhook-id", ""), request)
        return list(seen.values()) if len(seen) >= count else None

    found: list[Received] = wait_until(distinct, timeout=timeout)
    return found
