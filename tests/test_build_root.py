"""`build` is the one generator and writes into the checkout it runs in.

Two checkouts: this one (installed editable: its code runs) and a copy in a temporary
folder. `build` run inside the copy rewrites the copy's generated files, the client's
`params.py` among them, and leaves this checkout alone. The generator imports only the
catalog, so it runs even while the client's hand-written code names a type not generated yet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connector import platforms
from connector.platforms import client as client_params

REPO = Path(__file__).resolve().parents[1]
CONSOLE = Path(sys.executable).parent / "creativeai-connector"  # the installed entry point
PARAMS = Path(client_params.OUTPUT_DIR) / client_params.TARGET


def _tracked() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [p for p in out.split("\0") if p and (REPO / p).is_file()]


@pytest.fixture(scope="module")
def other_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second checkout: this one's tracked files, as they are on disk."""
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to copy")
    root = tmp_path_factory.mktemp("other") / "checkout"
    for rel in _tracked():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    return root


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _generated(root: Path) -> list[Path]:
    """A few generated files of each part, relative to the checkout."""
    picked = [PARAMS]
    for name, module in platforms.available().items():
        if name == "client":
            continue
        manifest = root / module.OUTPUT_DIR / platforms.MANIFEST
        lines = [line for line in manifest.read_text().splitlines() if line]
        picked.append(Path(module.OUTPUT_DIR) / lines[0])
    return picked


def test_build_in_another_checkout_writes_there_and_not_here(other_checkout: Path) -> None:
    files = _generated(other_checkout)
    here_before = {f: ((REPO / f).read_bytes(), (REPO / f).stat().st_mtime_ns) for f in files}
    for f in files:
        (other_checkout / f).write_bytes(b"edited by hand\n")

    check = subprocess.run(
        [str(CONSOLE), "build", "--check"],
        cwd=other_checkout / "connector",  # a subfolder: the nearest pyproject.toml above
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert check.returncode == 1
    assert all(str(f) in check.stderr for f in files), check.stderr

    done = subprocess.run(
        [str(CONSOLE), "build"],
        cwd=other_checkout / "connector",
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert str(other_checkout) in done.stdout
    for f in files:
        assert (other_checkout / f).read_bytes() == here_before[f][0], f  # rewritten there
        assert ((REPO / f).read_bytes(), (REPO / f).stat().st_mtime_ns) == here_before[f]

    again = subprocess.run(
        [str(CONSOLE), "build", "--check", "--root", str(other_checkout)],
        cwd="/",
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert again.returncode == 0, again.stderr


def test_build_outside_any_checkout_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(CONSOLE), "build", "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no creativeai-connector checkout" in lines[0], done.stderr
    assert "--root" in lines[0]


def test_build_regenerates_params_the_client_already_names(other_checkout: Path) -> None:
    """A new typed-parameter class named by resources.py before it was generated: `build`
    (the copy's own code this time) still runs, regenerates both files (the new operation gets
    its method), and afterwards the client imports."""
    ops = other_checkout / "connector/catalog/operations.py"
    text = ops.read_text()
    anchor = "BY_KEY: dict[str, Operation] = {op.key: op for op in ALL}"
    assert anchor in text
    future = (
        'ALL = (*ALL, next(op for op in ALL if op.key == "voice.create")'
        '.model_copy(update={"key": "voice.future", "action": "future"}))\n'
    )
    ops.write_text(text.replace(anchor, future + anchor))  # a new operation: a new class
    resources = other_checkout / "connector/client/resources.py"
    resources.write_text(
        resources.read_text().replace(
            "from connector.client.params import (\n",
            "from connector.client.params import (\n    VoiceFutureParams,  # noqa: F401\n",
            1,
        )
    )
    env = {**_env(), "PYTHONPATH": str(other_checkout)}
    broken = subprocess.run(
        [sys.executable, "-c", "import connector.client"],
        cwd=other_checkout,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert broken.returncode != 0 and "VoiceFutureParams" in broken.stderr  # the client cannot load

    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", "build", "--platform", "client"],
        cwd=other_checkout,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "class VoiceFutureParams(TypedDict" in (other_checkout / PARAMS).read_text()
    future_method = "def future(self, **fields: Unpack[VoiceFutureParams]) -> SharedJob:"
    assert future_method in resources.read_text()  # the resources are generated too
    fixed = subprocess.run(
        [sys.executable, "-c", "import connector.client"],
        cwd=other_checkout,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert fixed.returncode == 0, fixed.stderr


def test_the_generators_import_only_the_catalog() -> None:
    probe = (
        "import sys; from connector import platforms; from connector.catalog import CATALOG\n"
        "for m in platforms.available().values(): m.emit(CATALOG)\n"
        "bad = sorted(k for k in sys.modules if k.startswith(('connector.client', "
        "'connector.sandbox', 'connector.relay')))\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
