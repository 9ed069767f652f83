"""A real n8n instance, headless on 127.0.0.1, for end-to-end runs of the package.

    with N8nInstance(install, home, port) as n8n:      # not started yet
        n8n.install_package(tarball)
        n8n.import_credentials([...]); n8n.import_workflow(path); n8n.publish(workflow_id)
        n8n.start()                                    # waits for "Editor is now accessible"
        n8n.wait_for_webhook("creativeai-commerce")
        ...
        execution = n8n.wait_for_execution(workflow_id, after=0)
        execution.node_output("Narrated MP4")

Executions are read from n8n's SQLite database (`execution_entity`, `execution_data` in
n8n's "flatted" JSON), so no owner account or API key is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from n8n_toolchain import N8nInstall, ToolchainError, unpack

READY_LINE = "Editor is now accessible"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def unflatten(text: str) -> Any:
    """Decode n8n's "flatted" JSON: a list whose first entry is the root; every string
    inside an object or list is the index of the entry holding the real value."""
    table: list[Any] = json.loads(text)
    done: dict[int, Any] = {}

    def resolve(index: int) -> Any:
        if index in done:
            return done[index]
        value = table[index]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            done[index] = out
            for key, item in value.items():
                out[key] = revive(item)
            return out
        if isinstance(value, list):
            items: list[Any] = []
            done[index] = items
            items.extend(revive(item) for item in value)
            return items
        done[index] = value
        return value

    def revive(item: Any) -> Any:
        return resolve(int(item)) if isinstance(item, str) else item

    return resolve(0)


@dataclass(frozen=True)
class Execution:
    id: int
    workflow_id: str
    status: str
    finished: bool
    mode: str
    data: dict[str, Any]

    @property
    def run_data(self) -> dict[str, Any]:
        result: dict[str, Any] = self.data.get("resultData", {})
        return dict(result.get("runData", {}))

    @property
    def error(self) -> dict[str, Any] | None:
        error: dict[str, Any] | None = self.data.get("resultData", {}).get("error")
        return error

    def node_output(self, node: str, run: int = -1) -> list[dict[str, Any]]:
        runs = self.run_data.get(node) or []
        if not runs:
            raise KeyError(f"node {node!r} did not run; ran: {sorted(self.run_data)}")
        main = (runs[run].get("data") or {}).get("main") or [[]]
        return list(main[0] or [])


class N8nInstance:
    def __init__(self, install: N8nInstall, home: Path, port: int | None = None) -> None:
        self.install = install
        self.home = home
        self.port = port or free_port()
        self.broker_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "n8n.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0
        home.mkdir(parents=True, exist_ok=True)

    # -- setup before start --------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        node_dir = str(self.install.node.parent)
        return {
            **os.environ,
            "PATH": f"{node_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "N8N_USER_FOLDER": str(self.home),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_PORT": str(self.port),
            "N8N_HOST": "127.0.0.1",
            "N8N_PROTOCOL": "http",
            "WEBHOOK_URL": f"{self.url}/",
            "N8N_WEBHOOK_URL": f"{self.url}/",
            "N8N_EDITOR_BASE_URL": f"{self.url}/",
            "N8N_ENCRYPTION_KEY": "creativeai-e2e-encryption-key",
            "DB_TYPE": "sqlite",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_DISABLED_MODULES": "mcp-registry",
            "N8N_RUNNERS_BROKER_PORT": str(self.broker_port),
            "N8N_DEFAULT_BINARY_DATA_MODE": "filesystem",
            "N8N_SECURE_COOKIE": "false",
            "N8N_LOG_LEVEL": "info",
            "N8N_LOG_OUTPUT": "console",
            "EXECUTIONS_DATA_SAVE_ON_SUCCESS": "all",
            "EXECUTIONS_DATA_SAVE_ON_ERROR": "all",
            "N8N_BLOCK_ENV_ACCESS_IN_NODE": "false",
            "NODE_ENV": "production",
        }

    def cli(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [str(self.install.node), str(self.install.n8n_bin), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ToolchainError(
                f"n8n {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def install_package(self, tarball: Path) -> Path:
        """Unpack an `npm pack` tarball where n8n loads community packages from."""
        modules = self.home / ".n8n" / "nodes" / "node_modules"
        target = modules / "n8n-nodes-creativeai"
        if target.exists():
            shutil.rmtree(target)
        unpacked = unpack(tarball, self.home / "unpacked")
        modules.mkdir(parents=True, exist_ok=True)
        shutil.move(str(unpacked), str(target))
        manifest = self.home / ".n8n" / "nodes" / "package.json"
        manifest.write_text(
            json.dumps({"name": "installed-nodes", "private": True, "dependencies": {}}) + "\n"
        )
        return target

    def import_credentials(self, credentials: list[dict[str, Any]]) -> None:
        path = self.home / "credentials.json"
        path.write_text(json.dumps(credentials))
        self.cli("import:credentials", f"--input={path}")
        path.unlink()  # it holds an API key

    def import_workflow(self, workflow: Mapping[str, Any]) -> str:
        path = self.home / f"workflow-{workflow['id']}.json"
        path.write_text(json.dumps(workflow))
        self.cli("import:workflow", f"--input={path}")
        return str(workflow["id"])

    def publish(self, workflow_id: str) -> None:
        self.cli("publish:workflow", f"--id={workflow_id}")

    # -- the server -------------------------------------------------------------------------

    def start(self, timeout: float = 180) -> None:
        started = time.monotonic()
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [str(self.install.node), str(self.install.n8n_bin), "start"],
            env=self.env,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while time.monotonic() - started < timeout:
            if self._proc.poll() is not None:
                raise ToolchainError(f"n8n exited ({self._proc.returncode}):\n{self.log()}")
            if READY_LINE in self.log():
                self.start_seconds = time.monotonic() - started
                return
            time.sleep(0.2)
        raise ToolchainError(f"n8n was not ready within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def __enter__(self) -> N8nInstance:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_for_webhook(self, path: str, timeout: float = 30) -> None:
        """Production webhooks register just after "ready": wait until `path` is live."""
        url = f"{self.url}/webhook/{path}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = httpx.get(url, timeout=5)
            # A POST-only webhook answers a GET with "...not registered for GET requests".
            if "not registered" not in answer.text or "for GET requests" in answer.text:
                return
            time.sleep(0.2)
        raise ToolchainError(f"webhook {path} never registered:\n{self.log()}")

    # -- executions ---------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.home / '.n8n' / 'database.sqlite'}?mode=ro", uri=True)

    def executions(self, workflow_id: str) -> list[Execution]:
        with self._db() as db:
            rows = db.execute(
                "SELECT e.id, e.workflowId, e.status, e.finished, e.mode, d.data "
                "FROM execution_entity e LEFT JOIN execution_data d ON d.executionId = e.id "
                "WHERE e.workflowId = ? ORDER BY e.id",
                (workflow_id,),
            ).fetchall()
        return [
            Execution(int(r[0]), str(r[1]), str(r[2]), bool(r[3]), str(r[4]), unflatten(r[5]))
            for r in rows
            if r[5]
        ]

    def wait_for_execution(
        self,
        workflow_id: str,
        done: Callable[[Execution], bool] | None = None,
        after: int = 0,
        timeout: float = 120,
    ) -> Execution:
        """The first execution of the workflow (id > `after`) that has ended (or matches)."""
        check = done or (lambda e: e.status in ("success", "error", "crashed", "canceled"))
        deadline = time.monotonic() + timeout
        seen: list[tuple[int, str]] = []
        while time.monotonic() < deadline:
            try:
                found = [e for e in self.executions(workflow_id) if e.id > after]
            except sqlite3.OperationalError:
                found = []
            seen = [(e.id, e.status) for e in found]
            for execution in found:
                if check(execution):
                    return execution
            time.sleep(0.25)
        raise ToolchainError(
            f"no finished execution of {workflow_id} after {after} within {timeout:.0f} s "
            f"(seen {seen}):\n{self.log()}"
        )

    def static_data(self, workflow_id: str) -> Any:
        """The workflow's static data as n8n stored it (what its trigger nodes remember)."""
        with self._db() as db:
            row = db.execute(
                "SELECT staticData FROM workflow_entity WHERE id = ?", (workflow_id,)
            ).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    def binary_file(self, binary: Mapping[str, Any]) -> bytes:
        """The bytes of a binary data entry (filesystem mode keeps them under the user folder)."""
        ident = str(binary.get("id", ""))
        if not ident:
            import base64

            return base64.b64decode(binary["data"])
        mode, _, rel = ident.partition(":")
        roots = [self.home / ".n8n" / "binaryData", self.home / ".n8n" / "storage"]
        for root in roots:
            candidate = root / rel
            if candidate.is_file():
                return candidate.read_bytes()
        for root in roots:
            for found in root.rglob(Path(rel).name):
                return found.read_bytes()
        raise FileNotFoundError(f"binary data {mode}:{rel} not found under {roots}")
