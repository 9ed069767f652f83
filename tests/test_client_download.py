"""`download`: outputs stream to disk atomically; expired links say so; the key stays home."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_client_support import KEY, Received, Reply, ScriptedServer, run

from connector.catalog import limits
from connector.client import DownloadError

MP4 = bytes(range(256)) * 1024  # 256 KiB, several chunks


def media(body: bytes = MP4) -> Reply:
    return Reply(200, body, headers={"Content-Type": "video/mp4"})


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def test_download_writes_the_file_and_reports_its_size(mode: str, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "clip.mp4"
    with ScriptedServer([media()]) as cdn, ScriptedServer([]) as api:
        out = run(mode, api.url, lambda c: c.download(cdn.url + "/output/v.mp4", dest))
    assert out.error is None
    assert out.result.path == dest and out.result.bytes_written == len(MP4)
    assert dest.read_bytes() == MP4
    assert leftovers(dest.parent) == []


def test_a_directory_target_takes_the_urls_file_name(mode: str, tmp_path: Path) -> None:
    with ScriptedServer([media(b"abc")]) as cdn, ScriptedServer([]) as api:
        out = run(
            mode, api.url, lambda c: c.download(cdn.url + "/output/i2v-abc.mp4?sig=x", tmp_path)
        )
    assert out.result.path == tmp_path / "i2v-abc.mp4"
    assert out.result.path.read_bytes() == b"abc"


def test_the_key_goes_to_the_api_origin_only(mode: str, tmp_path: Path) -> None:
    with ScriptedServer([media()]) as cdn, ScriptedServer([media()]) as api:
        run(mode, api.url, lambda c: c.download(cdn.url + "/v.mp4", tmp_path / "a.mp4"))
        run(mode, api.url, lambda c: c.download(api.url + "/outputs/v.mp4", tmp_path / "b.mp4"))
    assert cdn.received[0].header("Authorization") is None
    assert api.received[0].header("Authorization") == f"Bearer {KEY}"


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_gone_output_may_have_expired(mode: str, status: int, tmp_path: Path) -> None:
    dest = tmp_path / "clip.mp4"
    with ScriptedServer([Reply(status, b"gone")]) as cdn, ScriptedServer([]) as api:
        url = cdn.url + "/output/v.mp4?token=cdn-secret"
        out = run(mode, api.url, lambda c: c.download(url, dest))
    error = out.raised(DownloadError)
    assert error.status == status
    text = str(error)
    assert f"{limits.OUTPUT_URL_LIFETIME_DAYS} days" in text and "expired" in text
    assert "cdn-secret" not in text and error.url == cdn.url + "/output/v.mp4"
    assert not dest.exists() and leftovers(tmp_path) == []
    assert len(cdn.received) == 1


def test_transient_answers_are_retried(mode: str, tmp_path: Path) -> None:
    with (
        ScriptedServer([Reply(503), Reply(action="reset"), media()]) as cdn,
        ScriptedServer([]) as api,
    ):
        out = run(mode, api.url, lambda c: c.download(cdn.url + "/v.mp4", tmp_path / "v.mp4"))
    assert out.error is None and out.result.bytes_written == len(MP4)
    assert len(cdn.received) == 3 and len(out.sleeps) == 2


def test_a_cut_transfer_leaves_nothing_behind(mode: str, tmp_path: Path) -> None:
    def cut(_: Received) -> Reply:  # promises more bytes than it sends, every time
        return Reply(200, MP4[:1000], headers={"Content-Length": str(len(MP4))})

    dest = tmp_path / "v.mp4"
    dest.write_bytes(b"previous version")
    with ScriptedServer(cut) as cdn, ScriptedServer([]) as api:
        out = run(mode, api.url, lambda c: c.download(cdn.url + "/v.mp4", dest), max_retries=1)
    out.raised(DownloadError)
    assert dest.read_bytes() == b"previous version"  # the old file was never half-replaced
    assert leftovers(tmp_path) == []


def test_redirects_are_followed(mode: str, tmp_path: Path) -> None:
    with ScriptedServer([media(b"final")]) as store:
        hop = Reply(302, b"", headers={"Location": store.url + "/real.mp4"})
        with ScriptedServer([hop]) as cdn, ScriptedServer([]) as api:
            out = run(mode, api.url, lambda c: c.download(cdn.url + "/v.mp4", tmp_path / "v.mp4"))
    assert out.error is None and out.result.path.read_bytes() == b"final"


def test_non_http_urls_are_refused(mode: str, tmp_path: Path) -> None:
    with ScriptedServer([]) as api:
        out = run(mode, api.url, lambda c: c.download("file:///etc/passwd", tmp_path))
    assert "http(s)" in str(out.raised(ValueError))
