"""`make test`'s prerequisites: what cannot be installed stops it at once with one line.

The script runs with a PATH holding only the tools given here, and an `id` that says it is
not root, so it never calls apt-get from a test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "prereqs.sh"
BASICS = ("bash", "cat", "seq", "sleep", "basename")


def _bin(tmp: Path, tools: dict[str, str]) -> Path:
    folder = tmp / "bin"
    folder.mkdir()
    for name in BASICS:
        found = shutil.which(name)
        assert found, name
        (folder / name).symlink_to(found)
    (folder / "python3").symlink_to(sys.executable)
    (folder / "id").write_text("#!/bin/sh\necho 1000\n")  # not root: nothing is installed
    (folder / "id").chmod(0o755)
    for name, target in tools.items():
        (folder / name).symlink_to(target)
    return folder


def _run(folder: Path, what: str = "test") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(folder / "bash"), str(SCRIPT), what],
        capture_output=True,
        text=True,
        env={"PATH": str(folder), "HOME": os.environ.get("HOME", "/tmp")},
        timeout=60,
        check=False,
    )


def test_python_alone_is_enough_for_the_python_step(tmp_path: Path) -> None:
    done = _run(_bin(tmp_path, {}), "python")
    assert done.returncode == 0, done.stderr


def test_without_node_it_stops_with_one_line(tmp_path: Path) -> None:
    done = _run(_bin(tmp_path, {}))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Node.js" in lines[0] and "npm" in lines[0], done.stderr


def test_without_chromium_it_stops_with_one_line(tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("needs Node.js to get past its check")
    done = _run(_bin(tmp_path, {"node": node, "npm": npm}))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "apt-get install chromium chromium-driver" in lines[0]
