"""`build` writes what emitters make; `build --check` catches every kind of drift."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from connector import platforms
from connector.catalog import CATALOG, Catalog
from connector.cli import main


def _emitter(files: dict[str, bytes]) -> Any:
    def emit(catalog: Catalog) -> dict[str, bytes]:
        assert catalog is CATALOG
        return dict(files)

    return SimpleNamespace(OUTPUT_DIR="pkg", emit=emit)


def test_build_then_check_is_clean(tmp_path: Path) -> None:
    emitter = {"x": _emitter({"a.txt": b"one\n", "sub/b.json": b"{}\n"})}
    changed = platforms.build(tmp_path, emitter)
    assert sorted(changed) == ["pkg/.generated-files", "pkg/a.txt", "pkg/sub/b.json"]
    assert (tmp_path / "pkg/sub/b.json").read_bytes() == b"{}\n"
    assert platforms.check(tmp_path, emitter) == []
    assert platforms.build(tmp_path, emitter) == []  # nothing rewritten


def test_check_reports_edits_missing_and_stale_files(tmp_path: Path) -> None:
    platforms.build(tmp_path, {"x": _emitter({"a.txt": b"one\n", "old.txt": b"old\n"})})
    (tmp_path / "pkg/a.txt").write_text("edited by hand\n")
    newer = {"x": _emitter({"a.txt": b"one\n", "new.txt": b"new\n"})}
    drifts = {(d.path, d.what) for d in platforms.check(tmp_path, newer)}
    assert drifts == {
        ("pkg/a.txt", "differs"),
        ("pkg/new.txt", "missing"),
        ("pkg/old.txt", "stale"),
        ("pkg/.generated-files", "differs"),
    }
    platforms.build(tmp_path, newer)
    assert not (tmp_path / "pkg/old.txt").exists()
    assert platforms.check(tmp_path, newer) == []


def test_the_committed_packages_match_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--check"]) == 0, capsys.readouterr().err
