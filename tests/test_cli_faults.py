"""Every command under faults: a missing key, a bad id, a bad URL, a missing file.

Each must end in one `error:` line and exit status 1 (argparse's own usage errors: 2),
never a Python traceback. The API calls are enumerated from the parser, so a new catalog
operation is covered without a test edit. Also: every subcommand answers `--help`, and the
sandbox takes its options from the main command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_client_support import Reply, ScriptedServer, free_port

from connector.catalog import limits
from connector.cli import build_parser, main
from connector.sandbox.harness import RunningSandbox

CLI = [sys.executable, "-m", "connector.cli"]
KEYLESS_ENV = {k: v for k, v in os.environ.items() if not k.startswith("CREATIVEAI_")}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands() -> list[tuple[str, ...]]:
    """Every runnable command path: ("status",), ("video", "create"), ..."""
    out: list[tuple[str, ...]] = []
    for name, parser in _subparsers(build_parser()).items():
        nested = _subparsers(parser)
        if nested:
            out += [(name, action) for action in nested]
        else:
            out.append((name,))
    return out


def _parser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        parser = _subparsers(parser)[name]
    return parser


def api_commands() -> list[tuple[str, ...]]:
    """The commands that call the API, each with --api-key and --base-url."""
    return [
        path
        for path in commands()
        if path[0] not in ("demo", "sandbox")
        and any("--api-key" in a.option_strings for a in _parser(path)._actions)
    ]


def required_args(path: tuple[str, ...], tmp: Path) -> list[str]:
    """Plausible values for a command's required arguments (nothing is sent with them)."""
    image = tmp / "input.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    argv = list(path)
    for action in _parser(path)._actions:
        if not (action.required or not action.option_strings) or action.dest in ("help",):
            continue
        if action.nargs == 0:  # a flag (--replace-audio)
            argv.append(action.option_strings[0])
            continue
        if action.choices:
            value = str(next(iter(action.choices)))
        elif action.type is int:
            value = "5"
        elif action.type is float:
            value = "1"
        elif action.type is Path:
            value = str(image)
        elif action.metavar == "JSON":
            value = '[{"prompt": "a"}]'
        elif "url" in action.dest:
            value = "https://cdn.example/input.png"
        else:
            value = "vgen_x" if not action.option_strings else "x"
        argv += [*action.option_strings[:1], value]
    return argv


def one_error_line(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    return err


@pytest.fixture
def keyless(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CREATIVEAI_"):
            monkeypatch.delenv(name)


@pytest.fixture
def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens: any request would fail


@pytest.mark.parametrize("path", api_commands(), ids="-".join)
def test_a_missing_key_is_one_error_line(
    path: tuple[str, ...],
    tmp_path: Path,
    keyless: None,
    nowhere: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [*required_args(path, tmp_path), "--base-url", nowhere]
    if path == ("download",):
        argv[1] = nowhere + "/v1/files/out.mp4"  # the API's own URL: it needs the key
    one_error_line(capsys, main(argv), "no API key", "CREATIVEAI_API_KEY")


@pytest.mark.parametrize("path", api_commands(), ids="-".join)
def test_a_bad_base_url_is_one_error_line(
    path: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*required_args(path, tmp_path), "--api-key", "sk-x", "--base-url", "notaurl"]
    if path == ("download",):
        argv[1] = "ftp://127.0.0.1/x.mp4"
        one_error_line(capsys, main(argv), "ftp://127.0.0.1/x.mp4", "http(s)")
        return
    one_error_line(capsys, main(argv), "base_url", "'notaurl'")


def _with_url_field(path: tuple[str, ...]) -> list[str]:
    return [
        a.option_strings[0]
        for a in _parser(path)._actions
        if a.option_strings and a.dest.endswith("url") and a.dest not in ("base_url",)
    ]


URL_FIELD_COMMANDS = [p for p in api_commands() if _with_url_field(p)]


@pytest.mark.parametrize("path", URL_FIELD_COMMANDS, ids="-".join)
def test_a_bad_url_field_names_the_field(
    path: tuple[str, ...], tmp_path: Path, nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    option = _with_url_field(path)[0]
    argv = [*required_args(path, tmp_path), "--api-key", "sk-x", "--base-url", nowhere]
    argv += [option, "notaurl"]
    field = option[2:].replace("-", "_")
    one_error_line(capsys, main(argv), field, "notaurl")


@pytest.mark.parametrize(
    "path",
    sorted({p for p in api_commands() if any(not a.option_strings for a in _parser(p)._actions)}),
    ids="-".join,
)
@pytest.mark.parametrize("bad", [" ", ""])
def test_a_bad_id_is_one_error_line(
    path: tuple[str, ...], bad: str, nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["download", bad] if path == ("download",) else [*path, bad]
    code = main([*argv, "--api-key", "sk-x", "--base-url", nowhere])
    one_error_line(capsys, code, "http(s)" if path == ("download",) else repr(bad))


def input_files() -> list[tuple[tuple[str, ...], str]]:
    """(command, option) for every option that reads a file (`--download` writes one)."""
    return [
        (path, a.option_strings[0])
        for path in api_commands()
        for a in _parser(path)._actions
        if a.type is Path and a.option_strings and a.dest != "download"
    ]


@pytest.mark.parametrize(
    "path, option", input_files(), ids=lambda v: "-".join(v) if isinstance(v, tuple) else v
)
def test_a_missing_input_file_names_the_option(
    path: tuple[str, ...],
    option: str,
    tmp_path: Path,
    nowhere: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [*required_args(path, tmp_path), "--api-key", "sk-x", "--base-url", nowhere]
    missing = str(tmp_path / "missing.png")
    if option in argv:
        argv[argv.index(option) + 1] = missing
    else:
        argv += [option, missing]
    one_error_line(capsys, main(argv), option, missing, "No such file")


def test_download_with_a_missing_output_folder_is_one_error_line(
    sandbox: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    api = ["--base-url", sandbox.url, "--api-key", sandbox.api_key]
    waits = ["--wait", "--interval", "0.05", "--download", str(blocker / "v.mp3")]
    code = main(["voice", "create", *api, "--text", "hi", *waits])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: "), err  # after the progress bar


def test_verify_signature_with_a_missing_body_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "body.json")
    code = main(["verify-signature", missing, "sha256=00", "--secret", "s"])
    one_error_line(capsys, code, missing)


def test_download_into_an_impossible_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with ScriptedServer([Reply(200, b"mp4")]) as cdn:
        code = main(["download", cdn.url + "/o.mp4", str(blocker / "o.mp4"), "--api-key", "k"])
        assert cdn.received == []  # refused before anything was fetched
    one_error_line(capsys, code, str(blocker))


def test_download_of_a_non_api_url_needs_no_key(
    tmp_path: Path, keyless: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedServer([Reply(200, b"\x00\x00\x00\x18ftypmp42")]) as cdn:
        code = main(["download", cdn.url + "/out/v.mp4", str(tmp_path / "v.mp4")])
        assert code == 0, capsys.readouterr().err
        assert cdn.received[0].header("Authorization") is None
    assert (tmp_path / "v.mp4").read_bytes() == b"\x00\x00\x00\x18ftypmp42"


def test_a_redirect_from_the_api_is_not_an_invalid_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    moved = Reply(301, b"", headers={"Location": "https://api.example/v1/models"})
    with ScriptedServer([moved]) as server:
        code = main(["model", "list", "--api-key", "sk-x", "--base-url", server.url])
    err = one_error_line(capsys, code, "301", "https://api.example/v1/models", "base URL")
    assert "Invalid request" not in err and "missing or invalid" not in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["status", "vgen_x"], ["no API key"]),
        (["status", " ", "--api-key", "k"], ["id", "' '"]),
        (["download", "ftp://127.0.0.1/x.mp4"], ["ftp://127.0.0.1/x.mp4"]),
        (
            [
                "image",
                "edit",
                "--image",
                "/no/such.png",
                "--prompt",
                "x",
                "--model",
                "m",
                "--api-key",
                "k",
            ],
            ["--image", "/no/such.png"],
        ),
    ],
)
def test_the_reported_cases_end_in_one_line_from_the_console_script(
    argv: list[str], words: list[str]
) -> None:
    """The cases that printed a traceback, as a person runs them (a real process)."""
    done = subprocess.run(
        [*CLI, *argv], capture_output=True, text=True, env=KEYLESS_ENV, timeout=60, check=False
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert all(w in done.stderr for w in words), done.stderr


# -- --help for every subcommand, and the sandbox's options -----------------------------------


@pytest.mark.parametrize("path", [(), *commands()], ids=lambda p: "-".join(p) or "main")
def test_every_subcommand_answers_help(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: creativeai-connector" + "".join(f" {p}" for p in path))


def test_sandbox_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--time-scale", "--quiet", "SANDBOX_"):
        assert option in out


@pytest.fixture
def sandbox_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "sandbox", "--port", str(port), "--time-scale", "0.01", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_sandbox_runs_with_its_options(
    sandbox_process: tuple[subprocess.Popen[str], int],
) -> None:
    from connector.sandbox.config import DEFAULT_API_KEY

    proc, port = sandbox_process
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    assert f"http://127.0.0.1:{port}" in banner, banner
    deadline = time.monotonic() + 20
    while True:
        try:
            r = httpx.get(
                f"http://127.0.0.1:{port}/v1/models",
                headers={limits.AUTH_HEADER: f"{limits.AUTH_SCHEME} {DEFAULT_API_KEY}"},
            )
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert r.status_code == 200


def test_the_sandbox_on_a_port_in_use_is_one_error_line(
    sandbox_process: tuple[subprocess.Popen[str], int],
) -> None:
    proc, port = sandbox_process
    assert proc.stdout is not None
    proc.stdout.readline()  # up
    done = subprocess.run(
        [*CLI, "sandbox", "--port", str(port)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "in use" in done.stderr


def test_a_bad_sandbox_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--port", "eighty"])
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_video_stream_cut_inside_its_final_event_still_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events :0-:9 pass, then only the final event's `id:` line, then a reset: the CLI
    settles the video through its status endpoint instead of failing `(None: None)`."""
    import json as _json

    frames = b"".join(
        b'id: vgen_7:%d\nevent: progress\ndata: {"status": "progress", "percent": %d}\n\n'
        % (n, 10 * n)
        for n in range(10)
    )
    cut = Reply(200, action="stream", events=[frames, b"id: vgen_7:10\n"], cut=True)
    done = {"id": "vgen_7", "status": "completed", "output_url": "https://cdn.example/7.mp4"}
    with ScriptedServer([cut, Reply(200, done)]) as server:
        argv = ["video", "create", "--prompt", "p", "--stream", "--api-key", "k"]
        code = main([*argv, "--base-url", server.url])
        calls = [(r.method, r.path) for r in server.received]
    out = capsys.readouterr()
    assert code == 0, out.err
    printed = _json.loads(out.out[out.out.index("{") :])
    assert printed == {"id": "vgen_7", "status": "completed", "urls": ["https://cdn.example/7.mp4"]}
    assert [m for m, _ in calls] == ["POST", "GET"]  # the create was sent once


def test_a_failed_streamed_video_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    failed = (
        b'id: vgen_8:0\nevent: error\ndata: {"status": "error", "code": "generation_failed", '
        b'"message": "provider error"}\n\n'
    )
    with ScriptedServer([Reply(200, action="stream", events=[failed])]) as server:
        code = main(
            [
                "video",
                "create",
                "--prompt",
                "p",
                "--stream",
                "--api-key",
                "k",
                "--base-url",
                server.url,
            ]
        )
    err = capsys.readouterr().err
    assert code == 1 and err.strip().splitlines()[-1] == (
        "error: the video failed (generation_failed: provider error)"
    ), err
