"""Typed answers of the API. Unknown fields are kept (`extra="allow"`), so a field the
API adds later reaches the workflow instead of being dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from connector.catalog.spec import NormalizedState
from connector.catalog.states import normalize


@dataclass(frozen=True)
class ResponseMeta:
    """What the API says about an answer outside its body."""

    status_code: int
    rate_limit_limit: int | None = None
    rate_limit_remaining: int | None = None
    rate_limit_reset: float | None = None
    model_actual: str | None = None  # x-model-actual
    failover_used: bool | None = None  # x-failover-used


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    _meta: ResponseMeta | None = PrivateAttr(default=None)

    @property
    def meta(self) -> ResponseMeta | None:
        """Headers of the answer this came from (rate limits, failover), when known."""
        return self._meta


class JobError(ApiModel):
    message: str = ""
    type: str | None = None
    code: str | None = None


class Job(ApiModel):
    """Anything with an id and a status that ends in a terminal state."""

    id: str
    status: str
    output_url: str | None = None
    credits: float | None = None
    created_at: str | None = None
    completed_at: str | None = None
    error: JobError | None = None
    error_message: str | None = None

    @property
    def state(self) -> NormalizedState:
        return normalize(self.status)

    @property
    def failure_message(self) -> str | None:
        if self.error is not None and self.error.message:
            return self.error.message
        return self.error_message


class VideoJob(Job):
    object: str = "video.generation"
    model: str | None = None
    model_actual: str | None = None
    prompt: str | None = None
    image_url: str | None = None
    failover_used: bool | None = None
    webhook_url: str | None = None
    debug: dict[str, Any] | None = None


class SharedJob(Job):
    """A job on the shared status endpoint: voice, compose, chart-to-video, utilities."""

    type: str | None = None
    model: str | None = None
    parameters: dict[str, Any] | None = None


class BatchItem(ApiModel):
    id: str
    prompt: str | None = None
    image_url: str | None = None
    status: str
    output_url: str | None = None
    error_message: str | None = None
    credits: float | None = None

    @property
    def state(self) -> NormalizedState:
        return normalize(self.status)


class BatchCreated(ApiModel):
    batch_id: str
    total_jobs: int
    jobs: list[BatchItem]
    credits_charged: float | None = None


class BatchStatus(ApiModel):
    batch_id: str
    total_jobs: int
    completed: int = 0
    failed: int = 0
    pending: int = 0
    processing: int = 0
    jobs: list[BatchItem] = []

    @property
    def state(self) -> NormalizedState:
        """Completed once every job is terminal (a batch with failures still completes)."""
        if self.completed + self.failed >= self.total_jobs:
            return NormalizedState.COMPLETED
        if self.processing or self.completed or self.failed:
            return NormalizedState.PROCESSING
        return NormalizedState.PENDING


class ImageData(ApiModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class ImageResult(ApiModel):
    created: int
    data: list[ImageData]


class ModelInfo(ApiModel):
    id: str
    object: str = "model"
    owned_by: str | None = None
    type: str | None = None  # video, image, image-edit, voice, llm


class ModelList(ApiModel):
    object: str = "list"
    data: list[ModelInfo]


class PriceQuote(ApiModel):
    model: str | None = None
    credits: float


class ApiErrorDetail(ApiModel):
    code: str | None = None
    message: str = ""
    type: str | None = None
    param: str | None = None


#: Response model per name used in `Operation.response`.
RESPONSES: dict[str, type[ApiModel]] = {
    "VideoJob": VideoJob,
    "SharedJob": SharedJob,
    "BatchCreated": BatchCreated,
    "BatchStatus": BatchStatus,
    "ImageResult": ImageResult,
    "ModelList": ModelList,
    "PriceQuote": PriceQuote,
}
