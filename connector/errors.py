"""The root of every error the connector raises to a caller.

    from connector.client import CreativeAIError   # the same class, re-exported

`CreativeAIError` lives here, apart from the client, so the catalog can derive its
`InvalidInput` from it without importing the client: one `except CreativeAIError` catches
everything a call can raise, refused input included.
"""

from __future__ import annotations

__all__ = ["CreativeAIError"]


class CreativeAIError(Exception):
    """Base of every error the client raises, and of the catalog's `InvalidInput`."""
