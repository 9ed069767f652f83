"""What the client sends (paths, bodies, multipart, headers) and reads (typed models, meta),
where it gets its settings from, and the pieces that can be swapped (transport, http client)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_client_support import KEY, Received, Reply, ScriptedServer, run

from connector.catalog import CATALOG, limits
from connector.catalog.responses import (
    BatchCreated,
    BatchStatus,
    ImageResult,
    ModelList,
    PriceQuote,
    SharedJob,
    VideoJob,
)
from connector.client import (
    ENV_API_KEY,
    ENV_BASE_URL,
    AsyncCreativeAI,
    CreativeAI,
    CreativeAIError,
)
from connector.platforms import client as client_params

VIDEO = {"id": "vgen_1", "status": "processing", "model": "auto"}
SHARED = {"id": "voice_1", "status": "PENDING"}
IMAGE = {"created": 1709550000, "data": [{"url": "https://cdn.example/i.png"}]}
BATCH = {"batch_id": "b1", "total_jobs": 1, "jobs": [{"id": "v1", "status": "pending"}]}
BATCH_STATUS = {**BATCH, "completed": 0, "pending": 1}
MODELS = {"object": "list", "data": [{"id": "auto", "type": "video"}]}
QUOTE = {"model": "kling-o3-pro", "credits": 60}

#: (call, operation key, answer) for every resource method.
CASES: list[tuple[Any, str, dict[str, Any]]] = [
    (lambda c: c.videos.create(prompt="a city", duration=5), "video.create_from_text", VIDEO),
    (
        lambda c: c.videos.create(prompt="zoom", image_url="https://x.example/p.png"),
        "video.create_from_image",
        VIDEO,
    ),
    (lambda c: c.videos.get("vgen_1"), "video.get", VIDEO),
    (lambda c: c.batches.create(["one", {"prompt": "two"}]), "batch.create", BATCH),
    (lambda c: c.batches.get("b1"), "batch.get", BATCH_STATUS),
    (lambda c: c.voice.create(text="Hello", voice="nova"), "voice.create", SHARED),
    (
        lambda c: c.compose.create(
            video_url="https://x.example/v.mp4",
            audio_url="https://x.example/a.mp3",
            replace_audio=True,
        ),
        "compose.create",
        SHARED,
    ),
    (lambda c: c.jobs.get("voice_1"), "job.get", SHARED),
    (lambda c: c.images.generate(prompt="a garden", n=2), "image.generate", IMAGE),
    (
        lambda c: c.images.edit(
            prompt="fix", model="seedream-v4.5-edit", image=("p.png", b"\x89PNG")
        ),
        "image.edit",
        IMAGE,
    ),
    (lambda c: c.charts.create(chart_image_url="https://x.example/c.png"), "chart.create", SHARED),
    (lambda c: c.models.list(), "model.list", MODELS),
    (lambda c: c.prices.calculate(model="kling-o3-pro", duration=5), "price.calculate", QUOTE),
]


def route(path: str) -> str:
    """The route a catalog path answers on, with its parameter filled in."""
    return path.replace("{id}", "vgen_1" if "video" in path else "voice_1").replace(
        "{batch_id}", "b1"
    )


@pytest.mark.parametrize("action, op_key, answer", CASES, ids=[c[1] for c in CASES])
def test_every_resource_method_sends_its_operation_and_returns_its_model(
    mode: str, action: Any, op_key: str, answer: dict[str, Any]
) -> None:
    op = CATALOG.operation(op_key)
    with ScriptedServer([Reply(202 if op.job else 200, answer)]) as server:
        out = run(mode, server.url, action)
    assert out.error is None, out.error
    got = server.received[0]
    assert got.method == op.method
    assert got.path == route(op.path)
    assert got.header("Authorization") == f"Bearer {KEY}"
    assert isinstance(out.result, CATALOG.response_model(op_key))
    if op.body == "json":
        assert got.header("Content-Type") == "application/json"
        CATALOG.validate(op_key, got.json())  # what was sent is a valid request


def test_resource_methods_return_the_catalogs_models() -> None:
    expected = {
        "video.get": VideoJob,
        "batch.create": BatchCreated,
        "batch.get": BatchStatus,
        "voice.create": SharedJob,
        "image.generate": ImageResult,
        "model.list": ModelList,
        "price.calculate": PriceQuote,
    }
    for key, model in expected.items():
        assert CATALOG.response_model(key) is model


def test_json_body_drops_empty_fields_and_keeps_given_ones(mode: str) -> None:
    with ScriptedServer([Reply(202, VIDEO)]) as server:
        run(
            mode,
            server.url,
            lambda c: c.call("video.create_from_text", prompt="p", duration=5, model=None),
        )
    assert server.received[0].json() == {"prompt": "p", "duration": 5}


def test_batch_prompts_accept_texts_and_objects(mode: str) -> None:
    with ScriptedServer([Reply(202, BATCH)]) as server:
        run(
            mode,
            server.url,
            lambda c: c.batches.create(
                ["one", {"prompt": "two", "image_url": "https://x.example/a.png"}], duration=5
            ),
        )
    assert server.received[0].json() == {
        "prompts": [{"prompt": "one"}, {"prompt": "two", "image_url": "https://x.example/a.png"}],
        "duration": 5,
    }


def test_stream_operations_send_the_fixed_stream_flag() -> None:
    body = CATALOG.validate("video.stream", {"prompt": "p"}).to_wire()
    assert body["stream"] is True  # what the client posts for a stream (from the catalog)


def test_image_edit_is_multipart_with_files_and_fields(mode: str) -> None:
    png, mask = b"\x89PNG-image-bytes", b"\x89PNG-mask-bytes"

    def action(c: Any) -> Any:
        return c.images.edit(
            prompt="A natural hand",
            model="seedream-v4.5-edit",
            image=("product.png", png),
            mask=mask,
            outpaint_direction="all",
            size="1024x1024",
        )

    with ScriptedServer([Reply(200, IMAGE)]) as server:
        out = run(mode, server.url, action)
    assert out.error is None
    parts = multipart(server.received[0])
    assert parts["image"] == ("product.png", "image/png", png)
    assert parts["mask"][2] == mask
    assert parts["prompt"] == (None, None, b"A natural hand")
    assert parts["model"][2] == b"seedream-v4.5-edit"
    assert parts["outpaint_direction"][2] == b"all"


def multipart(got: Received) -> dict[str, tuple[str | None, str | None, bytes]]:
    content_type = got.header("Content-Type") or ""
    assert content_type.startswith("multipart/form-data")
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + got.body, policy=email.policy.HTTP
    )
    out = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        ctype = part.get_content_type() if filename else None
        out[str(name)] = (filename, ctype, part.get_payload(decode=True))
    return out


def test_path_parameters_are_escaped(mode: str) -> None:
    with ScriptedServer([Reply(200, VIDEO)]) as server:
        run(mode, server.url, lambda c: c.videos.get("a/b?c"))
    assert server.received[0].path == "/v1/video/generations/a%2Fb%3Fc"


def test_meta_carries_rate_limit_and_failover_headers(mode: str) -> None:
    limit_h, remaining_h, reset_h = limits.RATE_LIMIT_HEADERS
    headers = {
        limit_h: "100",
        remaining_h: "97",
        reset_h: "1767225600",
        limits.MODEL_ACTUAL_HEADER: "seedance-t2v",
        limits.FAILOVER_USED_HEADER: "true",
    }
    with ScriptedServer([Reply(202, VIDEO, headers=headers)]) as server:
        out = run(mode, server.url, lambda c: c.videos.create(prompt="p"))
    meta = out.result.meta
    assert meta.status_code == 202
    assert (meta.rate_limit_limit, meta.rate_limit_remaining) == (100, 97)
    assert meta.rate_limit_reset == 1767225600.0
    assert meta.model_actual == "seedance-t2v" and meta.failover_used is True


def test_meta_without_headers_is_empty_not_an_error(mode: str) -> None:
    with ScriptedServer([Reply(200, VIDEO)]) as server:
        out = run(mode, server.url, lambda c: c.videos.get("vgen_1"))
    meta = out.result.meta
    assert meta.status_code == 200 and meta.rate_limit_limit is None and meta.failover_used is None


def test_unknown_answer_fields_are_kept(mode: str) -> None:
    with ScriptedServer([Reply(200, {**VIDEO, "new_field": {"x": 1}})]) as server:
        out = run(mode, server.url, lambda c: c.videos.get("vgen_1"))
    assert out.result.model_extra == {"new_field": {"x": 1}}


# -- settings --------------------------------------------------------------------------------


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer([Reply(200, MODELS)]) as server:
        monkeypatch.setenv(ENV_API_KEY, "sk-from-env")
        monkeypatch.setenv(ENV_BASE_URL, server.url + "/")
        with CreativeAI() as client:
            assert client.base_url == server.url
            client.models.list()
    assert server.received[0].header("Authorization") == "Bearer sk-from-env"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_API_KEY, "sk-from-env")
    monkeypatch.setenv(ENV_BASE_URL, "http://127.0.0.1:9")
    with CreativeAI(api_key="sk-arg", base_url="http://127.0.0.1:8") as client:
        assert client.base_url == "http://127.0.0.1:8"
        assert client._settings.api_key.reveal() == "sk-arg"


def test_default_base_url_is_the_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_BASE_URL, raising=False)
    with CreativeAI(api_key="k") as client:
        assert client.base_url == limits.DEFAULT_BASE_URL


def test_a_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    with pytest.raises(CreativeAIError, match=ENV_API_KEY):
        CreativeAI()
    with pytest.raises(CreativeAIError, match=ENV_API_KEY):
        AsyncCreativeAI()


@pytest.mark.parametrize(
    "url", ["api.creativeai.run", "ftp://x", "https://user:pw@x.example", "https://x?k=1"]
)
def test_bad_base_urls_are_refused(url: str) -> None:
    with pytest.raises(CreativeAIError, match="base_url"):
        CreativeAI(api_key="k", base_url=url)


def test_base_url_path_prefix_is_kept(mode: str) -> None:
    with ScriptedServer([Reply(200, MODELS)]) as server:
        run(mode, server.url + "/proxy/", lambda c: c.models.list())
    assert server.received[0].path == "/proxy/v1/models"


def test_with_options_shares_connections_and_changes_retries() -> None:
    server = ScriptedServer([Reply(503), Reply(503), Reply(200, MODELS)])
    with server, CreativeAI(api_key=KEY, base_url=server.url, sleep=lambda s: None) as client:
        once = client.with_options(max_retries=0)
        assert once._http is client._http and once.max_retries == 0
        with pytest.raises(CreativeAIError):
            once.models.list()
        assert client.models.list().data[0].id == "auto"  # the original still retries
    assert len(server.received) == 3


# -- swappable pieces ----------------------------------------------------------------------


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url.path)
        return super().handle_request(request)


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url.path)
        return await super().handle_async_request(request)


def test_transport_is_injectable() -> None:
    transport = CountingTransport()
    server = ScriptedServer([Reply(200, MODELS)])
    with server, CreativeAI(api_key=KEY, base_url=server.url, transport=transport) as client:
        client.models.list()
    assert transport.sent == ["/v1/models"]


def test_async_transport_is_injectable() -> None:
    transport = AsyncCountingTransport()

    async def main(url: str) -> None:
        async with AsyncCreativeAI(api_key=KEY, base_url=url, transport=transport) as client:
            await client.models.list()

    with ScriptedServer([Reply(200, MODELS)]) as server:
        asyncio.run(main(server.url))
    assert transport.sent == ["/v1/models"]


def test_http_client_is_injectable_and_left_open() -> None:
    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    with ScriptedServer([Reply(200, MODELS), Reply(200, MODELS)]) as server:
        with CreativeAI(api_key=KEY, base_url=server.url, http_client=http) as client:
            client.models.list()
        assert not http.is_closed  # the caller's client stays the caller's
        http.get(server.url + "/v1/models")
    http.close()
    assert seen == ["/v1/models", "/v1/models"]


def test_transport_and_http_client_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"), httpx.Client() as http:
        CreativeAI(api_key="k", transport=httpx.HTTPTransport(), http_client=http)


def test_connection_pool_is_sized_by_the_parallel_limit() -> None:
    with CreativeAI(api_key="k") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == limits.MAX_PARALLEL_REQUESTS


# -- generated parameter types ---------------------------------------------------------------


def test_params_module_is_generated_from_the_catalog() -> None:
    params = Path(__file__).parents[1] / client_params.OUTPUT_DIR / client_params.TARGET
    assert params.read_text() == client_params.render(CATALOG), (
        "connector/client/params.py is stale: run creativeai-connector build"
    )


def test_params_cover_every_operation_with_a_body() -> None:
    covered = {key for _, keys, _ in client_params.specs(CATALOG) for key in keys}
    with_body = {k for k, op in CATALOG.operations.items() if op.body != "none"}
    assert covered == with_body


def test_a_new_operation_gets_its_params_class_without_an_edit() -> None:
    from connector.catalog import Catalog, Field, FieldType
    from connector.catalog import fields as catalog_fields
    from connector.catalog import operations as catalog_operations

    voice = catalog_operations.BY_KEY["voice.create"]
    scratch = voice.model_copy(
        update={"key": "image.scratch", "resource": "image", "action": "scratch"}
    )
    field = Field(
        key="scratch_image_url",
        name="image_url",
        type=FieldType.URL,
        label="Image URL",
        help="The image to work on.",
        operations=("image.scratch",),
        required_in=("image.scratch",),
    )
    catalog = Catalog((*catalog_operations.ALL, scratch), (*catalog_fields.ALL, field))
    assert ("ImageScratchParams", ("image.scratch",), ()) in client_params.specs(catalog)
    rendered = client_params.render(catalog)
    assert (
        'class ImageScratchParams(TypedDict, total=False):\n    """Fields of image.scratch."""'
        in rendered
    )
    assert "    image_url: Required[str]" in rendered
