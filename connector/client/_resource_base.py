"""The hand-written part of the resource classes that `resources.py` (generated) builds on.

What the catalog cannot say lives here: how a resource reaches its client (`Caller`), the
check that an answer is the operation's model, which of several operations one method runs
(`pick`), and the methods whose signature is the client's own (a batch takes its prompts
positionally and accepts plain strings). Waiting, streams, `generate_videos` and the credit
cap (`max_credits`) are the clients' own methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from typing_extensions import Unpack

from connector.catalog.responses import ApiModel, BatchCreated
from connector.client._batching import OP as BATCH_CREATE
from connector.client._batching import PROMPTS, prompt_entry
from connector.client.params import BatchCreateParams, BatchPrompt
from connector.client.sse import StreamUpdate


class Caller(Protocol):
    """What a sync resource needs of its client (`CreativeAI` has it). A protocol, not the
    client class, so the resources do not import the clients that import them."""

    def call(self, op_key: str, /, **fields: Any) -> ApiModel: ...

    def stream(
        self,
        op_key: str,
        /,
        *,
        dialect: str | None = None,
        poll_interval: float | None = None,
        **fields: Any,
    ) -> Iterator[StreamUpdate]: ...


class AsyncCaller(Protocol):
    """What an async resource needs of its client (`AsyncCreativeAI` has it)."""

    async def call(self, op_key: str, /, **fields: Any) -> ApiModel: ...

    def stream(
        self,
        op_key: str,
        /,
        *,
        dialect: str | None = None,
        poll_interval: float | None = None,
        **fields: Any,
    ) -> AsyncIterator[StreamUpdate]: ...


M = TypeVar("M", bound=ApiModel)


def typed(model: type[M], obj: ApiModel) -> M:
    """`obj` as the operation's response model (the catalog fixes each answer's model)."""
    if not isinstance(obj, model):  # pragma: no cover - the catalog fixes each answer's model
        raise TypeError(f"expected {model.__name__}, got {type(obj).__name__}")
    return obj


def pick(fields: Mapping[str, Any], default: str, **by_field: str) -> str:
    """The operation one method runs: the one named for the first field given (a video
    with `image_url` is `video.create_from_image`), else `default`."""
    for name, op_key in by_field.items():
        if fields.get(name) is not None:
            return op_key
    return default


class SyncResource:
    """One resource of `CreativeAI`: its methods each run one catalog operation."""

    def __init__(self, client: Caller) -> None:
        self._client = client


class AsyncResource:
    """One resource of `AsyncCreativeAI`: its methods each run one catalog operation."""

    def __init__(self, client: AsyncCaller) -> None:
        self._client = client


def _prompts(prompts: Sequence[BatchPrompt | str]) -> list[dict[str, Any]]:
    return [prompt_entry(p) for p in prompts]


class BatchCreate(SyncResource):
    """`batches.create(prompts, ...)`: the prompts positionally, each a text or a mapping."""

    def create(
        self, prompts: Sequence[BatchPrompt | str], /, **fields: Unpack[BatchCreateParams]
    ) -> BatchCreated:
        """Start 1 to `limits.BATCH_MAX_PROMPTS` videos (`generate_videos` takes any number)."""
        call = self._client.call(BATCH_CREATE, **{PROMPTS: _prompts(prompts)}, **fields)
        return typed(BatchCreated, call)


class AsyncBatchCreate(AsyncResource):
    """`batches.create(prompts, ...)`, awaited."""

    async def create(
        self, prompts: Sequence[BatchPrompt | str], /, **fields: Unpack[BatchCreateParams]
    ) -> BatchCreated:
        """Start 1 to `limits.BATCH_MAX_PROMPTS` videos (`generate_videos` takes any number)."""
        call = await self._client.call(BATCH_CREATE, **{PROMPTS: _prompts(prompts)}, **fields)
        return typed(BatchCreated, call)
