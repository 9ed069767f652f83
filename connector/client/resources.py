"""Typed resource methods, each one catalog operation: `client.videos.create(prompt=...)`.

Keyword arguments are typed by `params` (generated from the catalog); the catalog's
request models check them again when the call is made. Sync and async twins sit side
by side; both only name an operation and pass the fields through `call`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from typing_extensions import Unpack

from connector.catalog.fields import IMAGE_URL
from connector.catalog.responses import (
    ApiModel,
    BatchCreated,
    BatchStatus,
    ImageResult,
    ModelList,
    PriceQuote,
    SharedJob,
    VideoJob,
)
from connector.client._batching import PROMPTS, prompt_entry
from connector.client.params import (
    BatchCreateParams,
    BatchPrompt,
    ChartCreateParams,
    ComposeCreateParams,
    ImageEditParams,
    ImageGenerateParams,
    ImageStreamParams,
    PriceCalculateParams,
    VideoCreateParams,
    VideoStreamParams,
    VoiceCreateParams,
)
from connector.client.sse import StreamUpdate


class Caller(Protocol):
    """What a sync resource needs of its client (`CreativeAI` has it). A protocol, not the
    client class, so this module does not import the clients that import it."""

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

VIDEO_FROM_TEXT = "video.create_from_text"
VIDEO_FROM_IMAGE = "video.create_from_image"


def _typed(model: type[M], obj: ApiModel) -> M:
    if not isinstance(obj, model):  # pragma: no cover - the catalog fixes each answer's model
        raise TypeError(f"expected {model.__name__}, got {type(obj).__name__}")
    return obj


def _video_op(fields: Mapping[str, Any]) -> str:
    return VIDEO_FROM_IMAGE if fields.get(IMAGE_URL.name) is not None else VIDEO_FROM_TEXT


def _prompts(prompts: Sequence[BatchPrompt | str]) -> list[dict[str, Any]]:
    return [prompt_entry(p) for p in prompts]


# -- sync ----------------------------------------------------------------------------------


class _Resource:
    def __init__(self, client: Caller) -> None:
        self._client = client


class Videos(_Resource):
    def create(self, **fields: Unpack[VideoCreateParams]) -> VideoJob:
        """Start a video; with `image_url` it animates that image (image-to-video)."""
        return _typed(VideoJob, self._client.call(_video_op(fields), **fields))

    def get(self, id: str, /) -> VideoJob:
        return _typed(VideoJob, self._client.call("video.get", id=id))

    def stream(
        self,
        *,
        dialect: str | None = None,
        poll_interval: float | None = None,
        **fields: Unpack[VideoStreamParams],
    ) -> Iterator[StreamUpdate]:
        """Start a video and follow its progress (see `CreativeAI.stream`)."""
        return self._client.stream(
            "video.stream", dialect=dialect, poll_interval=poll_interval, **fields
        )


class Batches(_Resource):
    def create(
        self, prompts: Sequence[BatchPrompt | str], /, **fields: Unpack[BatchCreateParams]
    ) -> BatchCreated:
        """Start 1 to `limits.BATCH_MAX_PROMPTS` videos (`generate_videos` takes any number)."""
        call = self._client.call("batch.create", **{PROMPTS: _prompts(prompts)}, **fields)
        return _typed(BatchCreated, call)

    def get(self, batch_id: str, /) -> BatchStatus:
        return _typed(BatchStatus, self._client.call("batch.get", batch_id=batch_id))


class Voice(_Resource):
    def create(self, **fields: Unpack[VoiceCreateParams]) -> SharedJob:
        return _typed(SharedJob, self._client.call("voice.create", **fields))


class Compose(_Resource):
    def create(self, **fields: Unpack[ComposeCreateParams]) -> SharedJob:
        return _typed(SharedJob, self._client.call("compose.create", **fields))


class Jobs(_Resource):
    def get(self, id: str, /) -> SharedJob:
        """A voice, compose or chart job from the shared status endpoint."""
        return _typed(SharedJob, self._client.call("job.get", id=id))


class Images(_Resource):
    def generate(self, **fields: Unpack[ImageGenerateParams]) -> ImageResult:
        return _typed(ImageResult, self._client.call("image.generate", **fields))

    def edit(self, **fields: Unpack[ImageEditParams]) -> ImageResult:
        return _typed(ImageResult, self._client.call("image.edit", **fields))

    def stream(
        self,
        *,
        dialect: str | None = None,
        poll_interval: float | None = None,
        **fields: Unpack[ImageStreamParams],
    ) -> Iterator[StreamUpdate]:
        """Generate an image and follow its progress (see `CreativeAI.stream`)."""
        return self._client.stream(
            "image.stream", dialect=dialect, poll_interval=poll_interval, **fields
        )


class Charts(_Resource):
    def create(self, **fields: Unpack[ChartCreateParams]) -> SharedJob:
        return _typed(SharedJob, self._client.call("chart.create", **fields))


class Models(_Resource):
    def list(self) -> ModelList:
        return _typed(ModelList, self._client.call("model.list"))


class Prices(_Resource):
    def calculate(self, **fields: Unpack[PriceCalculateParams]) -> PriceQuote:
        return _typed(PriceQuote, self._client.call("price.calculate", **fields))


# -- async ---------------------------------------------------------------------------------


class _AsyncResource:
    def __init__(self, client: AsyncCaller) -> None:
        self._client = client


class AsyncVideos(_AsyncResource):
    async def create(self, **fields: Unpack[VideoCreateParams]) -> VideoJob:
        """Start a video; with `image_url` it animates that image (image-to-video)."""
        return _typed(VideoJob, await self._client.call(_video_op(fields), **fields))

    async def get(self, id: str, /) -> VideoJob:
        return _typed(VideoJob, await self._client.call("video.get", id=id))

    def stream(
        self,
        *,
        dialect: str | None = None,
        poll_interval: float | None = None,
        **fields: Unpack[VideoStreamParams],
    ) -> AsyncIterator[StreamUpdate]:
        """Start a video and follow its progress (see `AsyncCreativeAI.stream`)."""
        return self._client.stream(
            "video.stream", dialect=dialect, poll_interval=poll_interval, **fields
        )


class AsyncBatches(_AsyncResource):
    async def create(
        self, prompts: Sequence[BatchPrompt | str], /, **fields: Unpack[BatchCreateParams]
    ) -> BatchCreated:
        """Start 1 to `limits.BATCH_MAX_PROMPTS` videos (`generate_videos` takes any number)."""
        call = await self._client.call("batch.create", **{PROMPTS: _prompts(prompts)}, **fields)
        return _typed(BatchCreated, call)

    async def get(self, batch_id: str, /) -> BatchStatus:
        return _typed(BatchStatus, await self._client.call("batch.get", batch_id=batch_id))


class AsyncVoice(_AsyncResource):
    async def create(self, **fields: Unpack[VoiceCreateParams]) -> SharedJob:
        return _typed(SharedJob, await self._client.call("voice.create", **fields))


class AsyncCompose(_AsyncResource):
    async def create(self, **fields: Unpack[ComposeCreateParams]) -> SharedJob:
        return _typed(SharedJob, await self._client.call("compose.create", **fields))


class AsyncJobs(_AsyncResource):
    async def get(self, id: str, /) -> SharedJob:
        """A voice, compose or chart job from the shared status endpoint."""
        return _typed(SharedJob, await self._client.call("job.get", id=id))


class AsyncImages(_AsyncResource):
    async def generate(self, **fields: Unpack[ImageGenerateParams]) -> ImageResult:
        return _typed(ImageResult, await self._client.call("image.generate", **fields))

    async def edit(self, **fields: Unpack[ImageEditParams]) -> ImageResult:
        return _typed(ImageResult, await self._client.call("image.edit", **fields))

    def stream(
        self,
        *,
        dialect: str | None = None,
        poll_interval: float | None = None,
        **fields: Unpack[ImageStreamParams],
    ) -> AsyncIterator[StreamUpdate]:
        """Generate an image and follow its progress (see `AsyncCreativeAI.stream`)."""
        return self._client.stream(
            "image.stream", dialect=dialect, poll_interval=poll_interval, **fields
        )


class AsyncCharts(_AsyncResource):
    async def create(self, **fields: Unpack[ChartCreateParams]) -> SharedJob:
        return _typed(SharedJob, await self._client.call("chart.create", **fields))


class AsyncModels(_AsyncResource):
    async def list(self) -> ModelList:
        return _typed(ModelList, await self._client.call("model.list"))


class AsyncPrices(_AsyncResource):
    async def calculate(self, **fields: Unpack[PriceCalculateParams]) -> PriceQuote:
        return _typed(PriceQuote, await self._client.call("price.calculate", **fields))
