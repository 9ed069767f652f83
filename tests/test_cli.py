"""The command line: API calls driven by the catalog, status, download, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from connector import webhooks
from connector.cli import build_parser, main
from connector.sandbox import media
from connector.sandbox.harness import RunningSandbox


def _api(sandbox: RunningSandbox) -> list[str]:
    return ["--base-url", sandbox.url, "--api-key", sandbox.api_key]


def _json_out(capsys: pytest.CaptureFixture[str]) -> dict:
    out = capsys.readouterr().out
    return json.loads(out[out.index("{") :])


def test_every_platform_operation_has_a_command() -> None:
    parser = build_parser()
    # parse_args raises SystemExit on an unknown command
    for argv in (
        ["video", "create", "--prompt", "x"],
        ["video", "get", "vgen_1"],
        ["batch", "create", "--prompts", '[{"prompt": "a"}]'],
        ["batch", "get", "b1"],
        ["voice", "create", "--text", "hi"],
        [
            "compose",
            "create",
            "--video-url",
            "https://a/v.mp4",
            "--audio-url",
            "https://a/a.mp3",
            "--replace-audio",
        ],
        ["job", "get", "j1"],
        ["image", "generate", "--prompt", "x"],
        ["image", "edit", "--prompt", "x", "--image", "p.png", "--model", "seedream-v4.5-edit"],
        ["chart", "create", "--chart-image-url", "https://a/c.png"],
        ["model", "list"],
        ["price", "calculate", "--model", "kling-v3"],
    ):
        assert parser.parse_args(argv).handler is not None


def test_options_follow_the_catalog() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["voice", "create", "--text", "hi", "--voice", "bob"])  # closed enum
    args = parser.parse_args(
        [
            "video",
            "create",
            "--prompt",
            "x",
            "--duration",
            "5",
            "--character-references",
            "https://a/1",
            "--character-references",
            "https://a/2",
            "--no-failover",
        ]
    )
    assert args.duration == 5 and args.failover is False
    assert args.character_references == ["https://a/1", "https://a/2"]


def test_voice_create_wait_and_download(
    sandbox: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "voice.mp3"
    code = main(
        [
            "voice",
            "create",
            *_api(sandbox),
            "--text",
            "Hello there, builders.",
            "--voice",
            "nova",
            "--wait",
            "--interval",
            "0.02",
            "--download",
            str(target),
        ]
    )
    assert code == 0
    job = _json_out(capsys)
    assert job["status"] == "COMPLETED" and job["id"].startswith("voice_")
    assert media.probe(target)["audio"]["codec"] == "mp3"


def test_video_from_image_by_option(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "video",
            "create",
            *_api(sandbox),
            "--prompt",
            "push in",
            "--image-url",
            "https://example.com/p.png",
            "--duration",
            "5",
        ]
    )
    assert code == 0
    job = _json_out(capsys)
    assert job["status"] == "processing"
    assert job["model_actual"].endswith("i2v")  # the sandbox reports image-to-video


def test_video_stream(
    sandbox: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "clip.mp4"
    code = main(
        [
            "video",
            "create",
            *_api(sandbox),
            "--prompt",
            "orbit",
            "--duration",
            "3",
            "--stream",
            "--interval",
            "0.02",
            "--download",
            str(target),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert media.probe(target)["video"]["codec"] == "h264"


def test_status_finds_the_endpoint(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    created = sandbox.http.post("/api/generate/voice", json={"text": "hi"}).json()
    assert main(["status", *_api(sandbox), created["id"]]) == 0
    assert _json_out(capsys)["id"] == created["id"]
    assert main(["status", *_api(sandbox), "nope_123"]) == 1
    assert "no video, job or batch" in capsys.readouterr().err


def test_invalid_input_names_the_field(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["video", "create", *_api(sandbox), "--prompt", "x", "--duration", "99"])
    assert code == 1
    err = capsys.readouterr().err
    assert "duration" in err and "99" in err and "3 to 15" in err


def test_api_errors_are_clear_and_keyless(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "voice",
            "create",
            "--base-url",
            sandbox.url,
            "--api-key",
            "sk-wrong-key-123",
            "--text",
            "hi",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "authentication" in err.lower() and "sk-wrong-key-123" not in err


def test_verify_signature(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b'{"id":"vgen_1","status":"completed"}')
    good = webhooks.sign(body.read_bytes(), "sk-key")
    assert main(["verify-signature", str(body), good, "--secret", "sk-key"]) == 0
    assert main(["verify-signature", str(body), good, "--secret", "sk-other"]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_demo_runs_the_commerce_flow(tmp_path: Path) -> None:
    """The README's first command, as a subprocess of the installed console script."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.cli",
            "demo",
            "--out",
            str(tmp_path),
            "--time-scale",
            "0.01",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "mug-001.json").read_text())
    final = Path(record["final_file"])
    assert final.exists() and str(final) in result.stdout
    info = media.probe(final)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
    assert info["duration"] == pytest.approx(5, abs=0.5)
    assert record["video_id"].startswith("vgen_") and record["credits"] > 0


@pytest.mark.parametrize(
    ("command", "id_field"),
    [
        (["video", "create", "--prompt", "p"], "id"),
        (["batch", "create", "--prompts", '[{"prompt": "a"}, {"prompt": "b"}]'], "batch_id"),
        (["voice", "create", "--text", "Hi"], "id"),
    ],
    ids=["video", "batch", "voice"],
)
def test_a_wait_that_gives_up_keeps_the_job(
    sandbox_factory: Callable[..., RunningSandbox],
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    id_field: str,
) -> None:
    from connector.cli import EXIT_WAIT_GAVE_UP

    sandbox = sandbox_factory(time_scale=1.0, rate_limits=False)
    wait = ["--wait", "--interval", "0.05", "--timeout", "0.2"]
    assert main([*command, *_api(sandbox), *wait]) == EXIT_WAIT_GAVE_UP
    captured = capsys.readouterr()
    job_id = json.loads(captured.out)[id_field]  # the last state seen, printed
    assert job_id in captured.err
    assert f"creativeai-connector status {job_id}" in captured.err
    assert main(["status", job_id, *_api(sandbox)]) == 0  # that command fetches it
    assert json.loads(capsys.readouterr().out)[id_field] == job_id
