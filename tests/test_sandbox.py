"""The sandbox answers every catalog operation as the docs show, over real HTTP on 127.0.0.1.

Most tests use a clock that only moves when told (`time_scale=1000`, then `advance`), so
states and timings are exact; a few use the fast clock of the `sandbox` fixture.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import operation_table
import pytest

from connector.catalog import CATALOG, JobKind, errors, fields, limits, responses, states
from connector.sandbox import ApiKey, SandboxConfig, create_app, media, pricing, sandbox_of
from connector.sandbox.api import ROUTES
from connector.sandbox.harness import RunningSandbox

#: A clock that stands still unless advanced (one sandbox second per 1000 real seconds).
FROZEN = 1000.0
VIDEO_S = 20.0  # the default video duration in sandbox seconds
CASES = operation_table.cases()

Factory = Callable[..., RunningSandbox]


@pytest.fixture
def frozen(sandbox_factory: Factory) -> RunningSandbox:
    return sandbox_factory(time_scale=FROZEN)


def error_of(answer: httpx.Response) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "type", "param"}, body
    detail: dict[str, Any] = body["error"]
    return detail


def png_info(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, raw scanlines) of a PNG written by the sandbox."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _, colour = struct.unpack(">IIBB", data[16:26])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, colour, zlib.decompress(idat)


def decode(path: Path) -> tuple[int, float]:
    """Decode every frame: (video frames, seconds of audio)."""
    import av  # PyAV, as the sandbox renders with it

    frames, audio = 0, 0.0
    with av.open(str(path)) as container:
        if container.streams.video:
            frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = sum(f.samples / f.sample_rate for f in container.decode(audio=0))
    return frames, audio


def download(sb: RunningSandbox, url: str, tmp_path: Path, name: str) -> Path:
    assert url.startswith(sb.url + "/files/"), url
    answer = httpx.get(url)  # output links need no key
    assert answer.status_code == 200, answer.text
    path = tmp_path / name
    path.write_bytes(answer.content)
    return path


# -- routes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES), ids=lambda v: str(v))
def test_every_catalog_path_and_alias_is_served(
    sandbox: RunningSandbox, method: str, path: str
) -> None:
    answer = sandbox.http.request(method, path.replace("{id}", "x").replace("{batch_id}", "x"))
    # Routed: the answer is the operation's own (a validation error or an unknown id),
    # never "no route".
    assert "No route" not in answer.text
    assert answer.status_code in (200, 400, 404), answer.text
    if answer.status_code == 404:
        assert error_of(answer)["code"] == "not_found"


def test_every_catalog_operation_has_a_route() -> None:
    routed = {op.key for ops in ROUTES.values() for op in ops}
    assert routed == set(CATALOG.operations)
    aliases = {(op.method, a) for op in CATALOG.operations.values() for a in op.aliases}
    assert aliases <= set(ROUTES)


def test_a_new_shared_status_job_needs_no_handler_of_its_own() -> None:
    from connector.catalog import OperationKind
    from connector.sandbox import api

    voice = CATALOG.operation("voice.create")
    scratch = voice.model_copy(
        update={"key": "image.scratch", "resource": "image", "path": "/api/generate/scratch"}
    )
    assert api.handler_for(scratch) is api.handler_for(voice)
    assert api.handler_for(scratch.model_copy(update={"kind": OperationKind.GET})) is (
        api.handler_for(CATALOG.operation("job.get"))
    )
    video = CATALOG.operation("video.create_from_text").model_copy(update={"key": "video.scratch"})
    with pytest.raises(RuntimeError, match=r"video\.scratch"):
        api.handler_for(video)


def test_unknown_route_and_wrong_method_answer_json(sandbox: RunningSandbox) -> None:
    missing = sandbox.http.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == errors.NOT_FOUND.code
    wrong = sandbox.http.delete("/v1/models")
    assert wrong.status_code == 405
    assert "GET" in error_of(wrong)["message"]


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if CATALOG.operation(c["operation"]).kind.value != "get"],
    ids=lambda c: c["name"],
)
def test_every_request_of_the_shared_case_table_is_accepted(
    sandbox: RunningSandbox, case: dict[str, Any]
) -> None:
    request = case["request"]
    if "multipart" in request:
        form = request["multipart"]
        files = {
            name: (f["filename"], base64.b64decode(f["base64"]), f["content_type"])
            for name, f in form["files"].items()
        }
        answer = sandbox.http.post(request["path"], data=form["fields"], files=files)
    else:
        answer = sandbox.http.request(request["method"], request["path"], json=request.get("json"))
    assert answer.status_code in (200, 202), answer.text
    model = CATALOG.response_model(case["operation"])
    model.model_validate(answer.json())


# -- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer sk-wrong-key-123", "Basic sk-sandbox", "Bearer"],
    ids=["missing", "unknown", "wrong scheme", "empty"],
)
def test_a_missing_or_unknown_key_is_refused(sandbox: RunningSandbox, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = httpx.get(sandbox.url + "/v1/models", headers=headers)
    assert answer.status_code == 401
    error = error_of(answer)
    assert error["code"] == error["type"] == errors.AUTHENTICATION.code
    assert "sk-wrong-key-123" not in answer.text  # the presented key is never echoed


# -- validation -----------------------------------------------------------------------------------

INVALID = [
    ("POST", "/v1/video/generations", {"duration": 5}, "prompt", "required"),
    ("POST", "/v1/video/generations", {"prompt": "x", "duration": 50}, "duration", "3 to 15"),
    ("POST", "/v1/video/generate", {"prompt": "x", "aspect_ratio": "2:1"}, "aspect_ratio", "16:9"),
    (
        "POST",
        "/v1/video/generations",
        {"prompt": "x", "image_url": "ftp://a/b"},
        "image_url",
        "URL",
    ),
    ("POST", "/v1/video/generations", {"prompt": "x", "colour": "red"}, "colour", "not a field"),
    ("POST", "/v1/video/generations", {"prompt": "x", "model": "veo-9"}, "model", "kling-v3"),
    (
        "POST",
        "/v1/video/generations/batch",
        {"prompts": [{"prompt": "x"}] * 21},
        "prompts",
        "1 to 20",
    ),
    ("POST", "/v1/video/generations/batch", {"prompts": [{}]}, "prompts[0].prompt", "required"),
    ("POST", "/api/generate/voice", {"text": "x" * 5001}, "text", "5,000"),
    ("POST", "/api/generate/voice", {"text": "hi", "speed": 3}, "speed", "0.5 to 2"),
    ("POST", "/api/generate/voice", {"text": "hi", "voice": "bob"}, "voice", "shimmer"),
    (
        "POST",
        "/api/generate/compose",
        {"video_url": "https://a/b.mp4", "replace_audio": True},
        "audio_url",
        "required",
    ),
    (
        "POST",
        "/api/generate/chart-to-video",
        {"animation_style": "reveal"},
        "chart_image_url or chart_data",
        "exactly one",
    ),
    ("POST", "/v1/images/generations", {"prompt": "x", "n": 5}, "n", "1 to 4"),
    ("POST", "/v1/images/generations", {"prompt": "x", "size": "9x9"}, "size", "1024x1024"),
    ("POST", "/api/v1/model/calculate", {"model": "nope"}, "model", "dall-e-3"),
    ("POST", "/v1/videos/generations/stream", {"prompt": "x", "stream": False}, "stream", "true"),
]


@pytest.mark.parametrize(("method", "path", "body", "param", "words"), INVALID)
def test_bad_input_names_the_field_and_what_is_allowed(
    sandbox: RunningSandbox, method: str, path: str, body: Any, param: str, words: str
) -> None:
    before = sandbox.credits()
    answer = sandbox.http.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert error["code"] == error["type"] == errors.INVALID_REQUEST.code
    assert error["param"] == param
    assert param in error["message"] and words in error["message"]
    assert sandbox.credits() == before  # refused requests are never billed


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object")],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    sandbox: RunningSandbox, content: bytes, words: str
) -> None:
    answer = sandbox.http.post(
        "/api/generate/voice", content=content, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert words in error_of(answer)["message"]


def test_image_edit_needs_multipart_and_real_images(sandbox: RunningSandbox) -> None:
    as_json = sandbox.http.post("/v1/images/edits", json={"prompt": "x"})
    assert as_json.status_code == 400
    assert "multipart/form-data" in error_of(as_json)["message"]
    form = {"model": "seedream-v4.5-edit", "prompt": "clean it"}
    not_image = sandbox.http.post(
        "/v1/images/edits", data=form, files={"image": ("a.txt", b"hello", "text/plain")}
    )
    assert not_image.status_code == 400
    assert error_of(not_image)["param"] == "image"
    bad_mask = sandbox.http.post(
        "/v1/images/edits",
        data=form,
        files={
            "image": ("a.png", media.png(8, 8), "image/png"),
            "mask": ("m.jpg", b"\xff\xd8\xff\xe0", "image/jpeg"),
        },
    )
    assert bad_mask.status_code == 400
    assert error_of(bad_mask)["param"] == "mask"
    missing = sandbox.http.post("/v1/images/edits", data=form, files={"x": ("x", b"1")})
    assert error_of(missing)["param"] in ("image", "x")


# -- video ----------------------------------------------------------------------------------------


def test_a_video_runs_processing_to_completed_with_a_real_mp4(
    frozen: RunningSandbox, tmp_path: Path
) -> None:
    before = frozen.credits()
    created = frozen.http.post(
        "/v1/video/generations",
        json={"prompt": "A drone shot over a coastal city", "duration": 5, "aspect_ratio": "16:9"},
    )
    assert created.status_code == 202
    job = created.json()
    sample = CATALOG.operation("video.create_from_text").sample_response
    assert set(sample) - {"error", "completed_at"} <= set(job)
    assert job["object"] == sample["object"]
    assert (job["status"], job["model"], job["model_actual"]) == (
        "processing",
        "auto",
        "kling-o3-pro-t2v",
    )
    assert job["output_url"] is None and job["failover_used"] is False
    assert job["credits"] == 60 and frozen.credits() == before - 60
    assert created.headers[limits.MODEL_ACTUAL_HEADER] == "kling-o3-pro-t2v"
    assert created.headers[limits.FAILOVER_USED_HEADER] == "false"

    frozen.advance(VIDEO_S - 1)
    assert frozen.http.get(f"/v1/video/generations/{job['id']}").json()["status"] == "processing"
    frozen.advance(2)
    done = frozen.http.get(f"/v1/video/generations/{job['id']}").json()
    responses.VideoJob.model_validate(done)
    assert done["status"] == "completed" and done["error"] is None
    assert done["completed_at"] >= done["created_at"]
    path = download(frozen, done["output_url"], tmp_path, "v.mp4")
    info = media.probe(path)
    assert info["format"] == "mp4" and info["video"]["codec"] == "h264"
    assert (info["video"]["width"], info["video"]["height"]) == (1280, 720)
    assert info["duration"] == pytest.approx(5, abs=0.2)
    frames, _ = decode(path)
    assert frames >= 5 * 10  # every frame of the 5 s clip decodes


def test_image_to_video_on_the_alias_path(frozen: RunningSandbox, tmp_path: Path) -> None:
    created = frozen.http.post(
        "/v1/video/generate",
        json={
            "prompt": "Subtle push in",
            "image_url": "https://example.com/source.png",
            "aspect_ratio": "9:16",
            "resolution": "480p",
            "sound": True,
        },
    ).json()
    assert created["model_actual"] == "kling-o3-pro-i2v"
    assert created["image_url"] == "https://example.com/source.png"
    assert created["credits"] == CATALOG.operation("video.create_from_image").credits_example
    frozen.advance(VIDEO_S)
    done = frozen.http.get(f"/v1/video/generations/{created['id']}").json()
    info = media.probe(download(frozen, done["output_url"], tmp_path, "i2v.mp4"))
    assert (info["video"]["width"], info["video"]["height"]) == (480, 854)
    assert info["audio"] is not None  # sound: true


def test_video_ids_are_private_to_their_key(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(api_keys=(ApiKey("sk-one"), ApiKey("sk-two", label="two")))
    job = sb.http.post("/v1/video/generations", json={"prompt": "x"}).json()
    other = httpx.get(
        f"{sb.url}/v1/video/generations/{job['id']}", headers={"Authorization": "Bearer sk-two"}
    )
    assert other.status_code == 404
    assert error_of(other)["code"] == "not_found"
    assert sb.http.get("/v1/video/generations/vgen_unknown").status_code == 404
    # A shared-status id is not a video id (and the other way round).
    voice = sb.http.post("/api/generate/voice", json={"text": "hi"}).json()
    assert sb.http.get(f"/v1/video/generations/{voice['id']}").status_code == 404
    assert sb.http.get(f"/api/generate/status/{job['id']}").status_code == 404


# -- batch ----------------------------------------------------------------------------------------


def test_a_batch_staggers_its_jobs_and_counts_them(frozen: RunningSandbox) -> None:
    stagger = SandboxConfig().batch_stagger
    body = {
        "prompts": [
            {"prompt": "Product showcase", "image_url": "https://example.com/p1.png"},
            {"prompt": "Social clip"},
            {"prompt": "Aerial shot"},
        ],
        "model": "auto",
        "duration": 5,
    }
    created = frozen.http.post("/v1/video/generations/batch", json=body)
    assert created.status_code == 202
    batch = created.json()
    responses.BatchCreated.model_validate(batch)
    assert batch["total_jobs"] == 3
    assert [j["status"] for j in batch["jobs"]] == ["processing", "pending", "pending"]
    assert batch["credits_charged"] == sum(j["credits"] for j in batch["jobs"]) == 30 + 60 + 60

    def status() -> dict[str, Any]:
        answer = frozen.http.get(f"/v1/video/generations/batch/{batch['batch_id']}")
        assert answer.status_code == 200
        return dict(answer.json())

    first = status()
    responses.BatchStatus.model_validate(first)
    assert (first["processing"], first["pending"], first["completed"]) == (1, 2, 0)
    frozen.advance(stagger * 1.5)
    assert (status()["processing"], status()["pending"]) == (2, 1)
    frozen.advance(VIDEO_S)  # the first two are done, the third still runs
    middle = status()
    assert (middle["completed"], middle["processing"]) == (2, 1)
    frozen.advance(stagger)
    done = status()
    assert (done["completed"], done["failed"], done["pending"], done["processing"]) == (3, 0, 0, 0)
    assert all(j["output_url"] and j["error_message"] is None for j in done["jobs"])
    assert done["jobs"][0]["image_url"] == "https://example.com/p1.png"
    # Each job of a batch is also a video generation.
    one = frozen.http.get(f"/v1/video/generations/{done['jobs'][1]['id']}").json()
    assert one["status"] == "completed" and one["batch_id"] == batch["batch_id"]


def test_unknown_batch_is_not_found(sandbox: RunningSandbox) -> None:
    answer = sandbox.http.get("/v1/video/generations/batch/video_batch_nope")
    assert answer.status_code == 404
    assert error_of(answer)["param"] == "batch_id"


# -- voice, compose, chart ------------------------------------------------------------------------


def shared(sb: RunningSandbox, job_id: str) -> dict[str, Any]:
    answer = sb.http.get(f"/api/generate/status/{job_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    responses.SharedJob.model_validate(body)
    return body


def test_voice_goes_pending_processing_completed_and_its_length_follows_the_text(
    frozen: RunningSandbox, tmp_path: Path
) -> None:
    cfg = SandboxConfig()
    short = frozen.http.post("/api/generate/voice", json={"text": "Welcome to CreativeAI."})
    assert short.status_code == 202
    job = short.json()
    assert (job["id"].split("_")[0], job["type"], job["status"]) == ("voice", "VOICE", "PENDING")
    assert job["model"] == CATALOG.operation("voice.create").sample_response["model"]
    assert job["credits"] == 8
    assert job["parameters"] == {"voice": "alloy", "language": "en", "speed": 1.0}
    long_text = "Meet the travel mug built for commutes, workouts, and long desk days. " * 4
    long = frozen.http.post(
        "/api/generate/voice", json={"text": long_text, "voice": "nova", "speed": 1.0}
    ).json()
    frozen.advance(cfg.queue_seconds + 0.5)
    assert shared(frozen, job["id"])["status"] == "PROCESSING"
    frozen.advance(cfg.job_seconds["voice"])
    done = shared(frozen, job["id"])
    assert done["status"] == "COMPLETED" and done["completed_at"]
    short_path = download(frozen, done["output_url"], tmp_path, "short.mp3")
    short_mp3 = media.probe(short_path)
    assert decode(short_path)[1] == pytest.approx(short_mp3["duration"], abs=0.1)
    long_mp3 = media.probe(
        download(frozen, shared(frozen, long["id"])["output_url"], tmp_path, "long.mp3")
    )
    assert short_mp3["format"] == "mp3" and short_mp3["audio"]["codec"] == "mp3"
    assert short_mp3["video"] is None
    assert long_mp3["duration"] > 5 * short_mp3["duration"]
    assert long_mp3["duration"] == pytest.approx(len(long_text) / 15, rel=0.1)


def finished_outputs(sb: RunningSandbox) -> tuple[str, str]:
    """A finished video (with sound) and a finished narration, as sandbox URLs."""
    video = sb.http.post("/v1/video/generations", json={"prompt": "mug", "sound": True}).json()
    voice = sb.http.post("/api/generate/voice", json={"text": "Leak resistant. " * 5}).json()
    sb.advance(60)
    video_url = sb.http.get(f"/v1/video/generations/{video['id']}").json()["output_url"]
    voice_url = shared(sb, voice["id"])["output_url"]
    return video_url, voice_url


@pytest.mark.parametrize("replace", [True, False])
def test_compose_muxes_the_voice_onto_the_video(
    frozen: RunningSandbox, tmp_path: Path, replace: bool
) -> None:
    video_url, voice_url = finished_outputs(frozen)
    created = frozen.http.post(
        "/api/generate/compose",
        json={"video_url": video_url, "audio_url": voice_url, "replace_audio": replace},
    )
    assert created.status_code == 202
    job = created.json()
    assert (job["id"].split("_")[0], job["type"], job["credits"]) == ("comp", "COMPOSE", 5)
    frozen.advance(30)
    done = shared(frozen, job["id"])
    assert done["status"] == "COMPLETED", done
    story = download(frozen, done["output_url"], tmp_path, "story.mp4")
    out = media.probe(story)
    source = media.probe(download(frozen, video_url, tmp_path, "source.mp4"))
    assert out["video"] == source["video"]
    assert out["audio"]["codec"] == "aac"
    assert out["duration"] == pytest.approx(source["duration"], abs=0.2)
    frames, audio_seconds = decode(story)
    assert frames > 0 and audio_seconds == pytest.approx(source["duration"], abs=0.2)


@pytest.mark.parametrize(
    ("which", "words"),
    [("external", "could not be downloaded"), ("swapped", "has no video track")],
)
def test_compose_of_unreachable_media_fails_clearly_and_refunds(
    frozen: RunningSandbox, which: str, words: str
) -> None:
    video_url, voice_url = finished_outputs(frozen)
    if which == "external":
        video_url = "https://cdn.example.com/product-motion.mp4"
    else:
        video_url, voice_url = voice_url, video_url
    before = frozen.credits()
    job = frozen.http.post(
        "/api/generate/compose",
        json={"video_url": video_url, "audio_url": voice_url, "replace_audio": True},
    ).json()
    assert frozen.credits() == before - 5
    frozen.advance(30)
    done = shared(frozen, job["id"])
    assert done["status"] == "FAILED" and done["output_url"] is None
    assert done["error"]["code"] == "invalid_media"
    assert words in done["error"]["message"] and done["error_message"]
    assert done["credits"] == 0 and done["credits_refunded"] == 5
    assert frozen.credits() == before


@pytest.mark.parametrize(
    "chart",
    [
        {"chart_data": fields.CHART_DATA.example, "title": "Revenue", "duration": 4},
        {"chart_image_url": "https://example.com/q4.png", "animation_style": "ken_burns"},
    ],
    ids=["data", "image"],
)
def test_chart_to_video_makes_an_mp4(
    frozen: RunningSandbox, tmp_path: Path, chart: dict[str, Any]
) -> None:
    job = frozen.http.post("/api/generate/chart-to-video", json=chart).json()
    assert (job["type"], job["status"], job["credits"]) == ("CHART", "PENDING", 15)
    frozen.advance(30)
    done = shared(frozen, job["id"])
    assert done["status"] == "COMPLETED"
    info = media.probe(download(frozen, done["output_url"], tmp_path, "chart.mp4"))
    seconds = chart.get("duration", fields.CHART_DURATION.example)
    assert info["video"]["codec"] == "h264"
    assert info["duration"] == pytest.approx(seconds, abs=0.2)


def test_unknown_shared_job_is_not_found(sandbox: RunningSandbox) -> None:
    answer = sandbox.http.get("/api/generate/status/voice_nope")
    assert answer.status_code == 404
    assert error_of(answer)["code"] == "not_found"


# -- images ---------------------------------------------------------------------------------------


def test_images_answer_at_once_with_n_real_pngs(sandbox: RunningSandbox) -> None:
    before = sandbox.credits()
    answer = sandbox.http.post(
        "/v1/images/generations",
        json={"prompt": "A serene Japanese garden", "n": 3, "size": "1536x1024"},
    )
    assert answer.status_code == 200
    result = answer.json()
    responses.ImageResult.model_validate(result)
    assert isinstance(result["created"], int)
    urls = [d["url"] for d in result["data"]]
    assert len(set(urls)) == 3
    assert all("Japanese garden" in d["revised_prompt"] for d in result["data"])
    assert sandbox.credits() == before - 3 * 2
    width, height, colour, _ = png_info(httpx.get(urls[0]).content)
    assert (width, height, colour) == (1536, 1024, 2)  # RGB
    assert answer.headers[limits.MODEL_ACTUAL_HEADER] == "dall-e-3"


def test_a_transparent_background_gives_a_png_with_alpha(sandbox: RunningSandbox) -> None:
    result = sandbox.http.post(
        "/v1/images/generations",
        json={"prompt": "Pixel art warrior", "background": "transparent", "size": "1024x1024"},
    ).json()
    file = httpx.get(result["data"][0]["url"])
    assert file.headers["content-type"] == "image/png"
    width, _, colour, raw = png_info(file.content)
    assert colour == 6  # RGBA
    assert raw[1 + 3] == 0  # the top-left pixel is fully transparent
    alphas = {raw[1 + width * 4 * (width // 2) + 4 * x + 3] for x in range(width)}
    assert alphas == {0, 255}  # a cut-out: transparent around an opaque subject


def test_image_edit_takes_multipart_and_returns_a_png_of_the_image_size(
    sandbox: RunningSandbox,
) -> None:
    answer = sandbox.http.post(
        "/v1/images/edits",
        data={"model": "wan-2.6-image-edit", "prompt": "Place it on a white studio background"},
        files={
            "image": ("product.png", media.png(320, 240), "image/png"),
            "mask": ("mask.png", media.png(320, 240, transparent=True), "image/png"),
        },
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert len(result["data"]) == 1
    width, height, _, _ = png_info(httpx.get(result["data"][0]["url"]).content)
    assert (width, height) == (320, 240)


# -- models and prices ----------------------------------------------------------------------------


def test_models_list_every_catalog_model_with_its_type(sandbox: RunningSandbox) -> None:
    answer = sandbox.http.get("/v1/models")
    listing = responses.ModelList.model_validate(answer.json())
    by_type: dict[str | None, set[str]] = {}
    for model in listing.data:
        by_type.setdefault(model.type, set()).add(model.id)
    assert by_type == {
        "video": set(fields.VIDEO_MODEL.option_values),
        "image": set(fields.IMAGE_MODEL.option_values),
        "image-edit": set(fields.EDIT_MODEL.option_values),
        "voice": set(fields.VOICE.option_values),
    }


@pytest.mark.parametrize(
    ("body", "credits"),
    [
        ({"model": "auto"}, 60),
        ({"model": "kling-o3-pro", "duration": 5}, 60),
        ({"model": "seedance-1.5-pro", "duration": 5}, 30),
        ({"model": "seedance-1.5-pro", "duration": 10}, 60),
        ({"model": "kling-v3", "duration": 15}, 135),
        ({"model": "dall-e-3", "n": 3}, 6),
        ({"model": "seedream-v4.5-edit"}, 2),
        ({"model": "alloy"}, 8),
    ],
)
def test_price_calculation(sandbox: RunningSandbox, body: dict[str, Any], credits: int) -> None:
    before = sandbox.credits()
    answer = sandbox.http.post("/api/v1/model/calculate", json=body)
    assert answer.status_code == 200
    quote = responses.PriceQuote.model_validate(answer.json())
    assert (quote.model, quote.credits) == (body["model"], credits)
    assert sandbox.credits() == before  # asking costs nothing


def test_the_price_quoted_is_the_price_charged(sandbox: RunningSandbox) -> None:
    body = {"prompt": "x", "model": "kling-v3", "duration": 8}
    quote = sandbox.http.post(
        "/api/v1/model/calculate", json={"model": "kling-v3", "duration": 8}
    ).json()
    job = sandbox.http.post("/v1/video/generations", json=body).json()
    assert (
        job["credits"] == quote["credits"] == pricing.video_credits("kling-v3", 8, from_image=False)
    )


# -- credits --------------------------------------------------------------------------------------


def test_insufficient_credits_is_402_and_not_billed(sandbox: RunningSandbox) -> None:
    sandbox.set_credits(59)
    answer = sandbox.http.post("/v1/video/generations", json={"prompt": "x"})
    assert answer.status_code == errors.INSUFFICIENT_CREDITS.http_status == 402
    error = error_of(answer)
    assert error["code"] == "insufficient_credits"
    assert "60" in error["message"] and "59" in error["message"]
    assert sandbox.credits() == 59
    assert sandbox.jobs() == []
    sandbox.set_credits(60)  # exactly enough
    assert sandbox.http.post("/v1/video/generations", json={"prompt": "x"}).status_code == 202
    assert sandbox.credits() == 0


def test_each_key_has_its_own_plan_and_balance(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(
        api_keys=(ApiKey("sk-a", plan="pro", credits=100, label="a"), ApiKey("sk-b", label="b"))
    )
    answer = sb.http.post("/api/generate/voice", json={"text": "hi"})
    assert answer.headers["X-RateLimit-Limit"] == str(limits.RATE_LIMIT_PER_MINUTE["pro"])
    assert sb.credits("a") == 92 and sb.credits("b") == ApiKey("x").credits
    keys = sb.control("GET", "keys")["keys"]
    assert "sk-a" not in json.dumps(keys)  # listings name keys, never show them


def test_concurrent_creates_charge_exactly(sandbox: RunningSandbox) -> None:
    sandbox.set_credits(1000)
    ids: list[str] = []

    def create() -> None:
        with httpx.Client(base_url=sandbox.url, headers=sandbox.headers) as http:
            for _ in range(5):
                ids.append(http.post("/api/generate/voice", json={"text": "hi"}).json()["id"])

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 40
    assert sandbox.credits() == 1000 - 40 * 8


# -- rate limits ----------------------------------------------------------------------------------


def rate(answer: httpx.Response) -> tuple[int, int, int]:
    limit, remaining, reset = (int(answer.headers[h]) for h in limits.RATE_LIMIT_HEADERS)
    return limit, remaining, reset


def test_the_plan_limit_counts_down_then_answers_429(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(api_keys=(ApiKey("sk-free", plan="free"),), time_scale=FROZEN)
    per_minute = limits.RATE_LIMIT_PER_MINUTE["free"]
    remaining = []
    for _ in range(per_minute):
        answer = sb.http.get("/v1/models")
        assert answer.status_code == 200
        limit, left, reset = rate(answer)
        assert limit == per_minute
        assert time.time() < reset <= time.time() + 61  # Unix time the window is clear
        remaining.append(left)
    assert remaining == list(range(per_minute - 1, -1, -1))
    refused = sb.http.get("/v1/models")
    assert refused.status_code == 429
    assert error_of(refused)["code"] == errors.RATE_LIMIT.code
    assert 1 <= int(refused.headers[limits.RETRY_AFTER_HEADER]) <= 60
    assert 0 < int(refused.headers[limits.RETRY_AFTER_MS_HEADER]) <= 60_000
    assert rate(refused)[:2] == (per_minute, 0)
    # Errors count too, and carry the headers.
    sb.advance(61)
    wrong = sb.http.post("/api/generate/voice", json={})
    assert wrong.status_code == 400 and rate(wrong)[1] == per_minute - 1


def test_video_creates_have_their_own_limit(sandbox: RunningSandbox) -> None:
    cap = limits.VIDEO_CREATE_PER_MINUTE
    for n in range(cap):
        answer = sandbox.http.post("/v1/video/generations", json={"prompt": f"clip {n}"})
        assert answer.status_code == 202
        assert rate(answer)[:2] == (cap, cap - n - 1)
    refused = sandbox.http.post("/v1/video/generations/batch", json={"prompts": [{"prompt": "x"}]})
    assert refused.status_code == 429
    assert "video_create" in error_of(refused)["message"]
    assert sandbox.http.post("/api/generate/voice", json={"text": "hi"}).status_code == 202


def test_polling_has_its_own_limit(sandbox: RunningSandbox) -> None:
    job = sandbox.http.post("/api/generate/voice", json={"text": "hi"}).json()
    for _ in range(limits.POLL_PER_MINUTE):
        assert sandbox.http.get(f"/api/generate/status/{job['id']}").status_code == 200
    refused = sandbox.http.get(f"/api/generate/status/{job['id']}")
    assert refused.status_code == 429
    assert rate(refused)[0] == limits.POLL_PER_MINUTE
    assert sandbox.http.get("/v1/models").status_code == 200  # not a poll


def test_rate_limits_can_be_switched_off(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(rate_limits=False)
    for n in range(limits.VIDEO_CREATE_PER_MINUTE + 1):
        answer = sb.http.post("/v1/video/generations", json={"prompt": f"clip {n}"})
        assert answer.status_code == 202
        assert limits.RATE_LIMIT_HEADERS[0] not in answer.headers


def test_at_most_the_parallel_cap_of_requests_at_once(sandbox_factory: Factory) -> None:
    # Image streams stay open as long as the job runs: hold every parallel slot with them.
    sb = sandbox_factory(job_seconds={"image": 1e6}, stream_steps=1)
    cap = limits.MAX_PARALLEL_REQUESTS
    limits_ = httpx.Limits(max_connections=cap + 5)
    with httpx.Client(base_url=sb.url, headers=sb.headers, limits=limits_, timeout=30) as http:
        streams = []
        try:
            for n in range(cap):
                stream = http.stream(
                    "POST", "/v1/images/generations/stream", json={"prompt": f"{n}", "stream": True}
                )
                answer = stream.__enter__()
                streams.append(stream)
                assert answer.status_code == 200
                next(answer.iter_lines())  # the first event: the stream is open
            refused = http.get("/v1/models")
            assert refused.status_code == 429
            assert str(cap) in error_of(refused)["message"]
        finally:
            sb.sandbox.close()  # ends the streams
            for stream in streams:
                stream.__exit__(None, None, None)


# -- states and catalog spelling ------------------------------------------------------------------


def test_status_words_are_the_catalogs(frozen: RunningSandbox) -> None:
    video = frozen.http.post("/v1/video/generations", json={"prompt": "x"}).json()
    voice = frozen.http.post("/api/generate/voice", json={"text": "x"}).json()
    assert video["status"] in states.STATUSES[JobKind.VIDEO]
    assert voice["status"] in states.STATUSES[JobKind.SHARED]


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_API_KEYS", "sk-env:free:7")
    monkeypatch.setenv("SANDBOX_TIME_SCALE", "0.5")
    monkeypatch.setenv("SANDBOX_CONTROL", "0")
    app = create_app()
    try:
        client = app.test_client()
        answer = client.get("/v1/models", headers={"Authorization": "Bearer sk-env"})
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == "10"
        assert client.get("/_sandbox/clock").status_code == 404
        assert sandbox_of(app).clock.time_scale == 0.5
    finally:
        sandbox_of(app).close()
