"""Typed sync and async clients for the CreativeAI API, on httpx.

    from connector.client import CreativeAI

    with CreativeAI() as client:  # CREATIVEAI_API_KEY, CREATIVEAI_BASE_URL from the env
        job = client.videos.create(prompt="Slow turntable shot of a travel mug", duration=5)
        done = client.wait(job, on_progress=lambda j: print(j.status))
        client.download(done.output_url, "mug.mp4")

Every call is one catalog operation (`client.call("voice.create", text=...)` runs any of
them); answers are the catalog's typed models with the answer's headers in `.meta`.
Calls without side effects retry on connection errors, 408, 429 and 5xx; create calls
retry only when the server certainly refused them, and raise `JobMayExistError` when a
create was sent but its answer lost. `AsyncCreativeAI` is the same client, awaited.
Paid creates take `max_credits=` (priced first, nothing started over the cap) and
`record_key=` (one job per record, kept in the client's `ledger=`: `FileLedger`,
`RelayLedger`).
"""

from connector.client._async import AsyncCreativeAI
from connector.client._base import ENV_API_KEY, ENV_BASE_URL, UnexpectedResponseError
from connector.client._batching import ItemResult
from connector.client._download import Downloaded
from connector.client._retry import RetryPolicy
from connector.client._sync import CreativeAI, download
from connector.client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ContentPolicyError,
    CreativeAIError,
    CreditCapError,
    DownloadError,
    InsufficientCreditsError,
    InvalidRequestError,
    InvalidURLError,
    JobFailedError,
    JobMayExistError,
    NotFoundError,
    ProviderUnavailableError,
    RateLimitError,
    RedirectError,
    ServerError,
    StreamInterruptedError,
    UnprocessableError,
    WaitTimeoutError,
)
from connector.client.ledger import FileLedger, Ledger, LedgerEntry, LedgerError, RelayLedger
from connector.client.sse import StreamUpdate

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncCreativeAI",
    "AuthenticationError",
    "ContentPolicyError",
    "CreativeAI",
    "CreativeAIError",
    "CreditCapError",
    "DownloadError",
    "Downloaded",
    "FileLedger",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "InvalidURLError",
    "ItemResult",
    "JobFailedError",
    "JobMayExistError",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "NotFoundError",
    "ProviderUnavailableError",
    "RateLimitError",
    "RedirectError",
    "RelayLedger",
    "RetryPolicy",
    "ServerError",
    "StreamInterruptedError",
    "StreamUpdate",
    "UnexpectedResponseError",
    "UnprocessableError",
    "WaitTimeoutError",
    "download",
]
