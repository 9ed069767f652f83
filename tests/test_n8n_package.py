"""The generated n8n package, checked with n8n's own tools and run through n8n's engine.

- `CI=true n8n-node lint` (the linter n8n's community nodes must pass) is clean;
- the package scanner's `analyzePackage` passes on the sources and on the `npm pack`
  tarball, as the community-package registry scans them;
- the tarball ships only `dist/` and has no runtime dependencies;
- `n8n-nodes/tests/*.test.js` (`node --test`) run the nodes through `n8n-workflow` and
  `n8n-core` (WorkflowExecute, WebhookContext) against the sandbox and the relay: every
  operation in every completion mode, many items, errors, downloads, the trigger, and every
  case of tests/cases/operations.json for n8n.

The Node tools install once into ~/.cache/creativeai-connector (see
tests/n8n_toolchain.py); the first run fetches them from the npm registry.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import n8n_toolchain as toolchain
import operation_table
import pytest

from connector.relay.testing import fast_config, running_relay, sqlite_url
from connector.sandbox.harness import RunningSandbox, running_sandbox

# A cold first run installs the Node tools (about 1.5 min) inside the first test's setup.
pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "n8n-nodes"


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> toolchain.Staged:
    package = toolchain.stage(PACKAGE, tmp_path_factory.mktemp("n8n") / "n8n-nodes")
    package.build()
    return package


@pytest.fixture(scope="module")
def tarball(staged: toolchain.Staged, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return staged.pack(tmp_path_factory.mktemp("pack"))


def test_the_linter_n8n_requires_is_clean(staged: toolchain.Staged) -> None:
    done = staged.lint()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "error" not in output.lower() and "warning" not in output.lower(), output


def test_the_package_scanner_passes(
    staged: toolchain.Staged, tarball: Path, tmp_path: Path
) -> None:
    unpacked = toolchain.unpack(tarball, tmp_path)
    results = [
        *staged.scan_like_the_registry(unpacked),
        staged.scan(unpacked, ["**/*.js", "**/*.ts", "**/*.json"]),  # analyzePackage's default
    ]
    for result in results:
        assert result["passed"], f"{result['message']}\n{result['details']}"


def test_the_tarball_ships_dist_without_runtime_dependencies(tarball: Path, tmp_path: Path) -> None:
    unpacked = toolchain.unpack(tarball, tmp_path)
    meta = json.loads((unpacked / "package.json").read_text())
    assert meta["name"] == "n8n-nodes-creativeai"
    assert "n8n-community-node-package" in meta["keywords"]
    assert not meta.get("dependencies")
    assert meta["peerDependencies"] == {"n8n-workflow": "*"}
    shipped = sorted(p.name for p in unpacked.iterdir())
    assert shipped == ["README.md", "dist", "package.json"]
    for entry in [*meta["n8n"]["nodes"], *meta["n8n"]["credentials"]]:
        assert (unpacked / entry).is_file(), entry
    icons = sorted(p.name for p in (unpacked / "dist" / "icons").iterdir())
    assert icons == ["creativeai.dark.svg", "creativeai.svg"]


# -- the nodes through n8n's engine ---------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(time_scale=0.01, rate_limits=False) as running:
        yield running


@pytest.fixture(scope="module")
def relay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = fast_config(sqlite_url(tmp_path_factory.mktemp("relay")), embedded_worker=True)
    with running_relay(config) as relay:
        yield relay.url


def run_node_tests(staged: toolchain.Staged, name: str, env: dict[str, str]) -> None:
    merged = {
        **os.environ,
        "NODE_PATH": str(staged.tools.node_modules),
        "N8N_NODES_DIST": str(staged.path / "dist"),
        "N8N_USER_FOLDER": str(staged.path / ".n8n-home"),
        **env,
    }
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(PACKAGE / "tests" / name)],
        cwd=PACKAGE / "tests",
        env=merged,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    assert "# fail 0" in done.stdout or "fail 0" in done.stdout, done.stdout[-3000:]


def case_table(tmp_path: Path) -> str:
    """The written cases and one from the catalog for any operation they lack, as a file."""
    table = tmp_path / "operations.json"
    table.write_text(json.dumps({"cases": operation_table.cases()}))
    return str(table)


def test_every_case_sends_the_tables_request(staged: toolchain.Staged, tmp_path: Path) -> None:
    run_node_tests(staged, "cases.test.js", {"OPERATION_CASES": case_table(tmp_path)})


def test_every_operation_and_completion_mode_against_the_sandbox(
    staged: toolchain.Staged, sandbox: RunningSandbox, relay_url: str, tmp_path: Path
) -> None:
    env = {
        "SANDBOX_URL": sandbox.url,
        "SANDBOX_KEY": sandbox.api_key,
        "RELAY_URL": relay_url,
        "OPERATION_CASES": case_table(tmp_path),
    }
    run_node_tests(staged, "operations.test.js", env)


def test_max_credits_record_key_and_waits_that_give_up(
    staged: toolchain.Staged, relay_url: str, tmp_path: Path
) -> None:
    """steps.test.js: the cap under and over the estimate on every paid create, a batch over
    the cap starting nothing, the same Record Key twice starting one job (counted in the
    sandbox), a failed job letting the key start again, in static data and in the relay's
    ledger, each wait that gives up naming its job and the step that fetches it. Its own
    sandbox: the test counts what it started."""
    with running_sandbox(time_scale=0.01, rate_limits=False) as own:
        env = {
            "SANDBOX_URL": own.url,
            "SANDBOX_KEY": own.api_key,
            "RELAY_URL": relay_url,
            "OPERATION_CASES": case_table(tmp_path),
        }
        run_node_tests(staged, "steps.test.js", env)


class _BigFiles(http.server.BaseHTTPRequestHandler):
    """Stands for the CDN: every file is `size` bytes (with its Content-Length), sent in
    1 MB chunks; `/_served` says how many were sent in full."""

    size = 200_000_000
    full = 0

    def do_GET(self) -> None:
        if self.path == "/_served":
            body = json.dumps({"full": type(self).full}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        chunk = b"\0" * 1_000_000
        try:
            for _ in range(self.size // len(chunk)):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return
        type(self).full += 1

    def log_message(self, *args: Any) -> None:
        pass


def test_download_result_streams_to_disk_and_a_file_over_max_file_size_stays_at_its_url(
    staged: toolchain.Staged,
) -> None:
    """download.test.js: a 200 MB output downloaded into filesystem binary data with the
    node's RSS growing far less than the file; over Max File Size, the URL and the message."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BigFiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cdn = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with running_sandbox(time_scale=0.01, rate_limits=False, public_base_url=cdn) as own:
            env = {
                "SANDBOX_URL": own.url,
                "SANDBOX_KEY": own.api_key,
                "BIG_FILES_URL": cdn,
                "BIG_FILE_BYTES": str(_BigFiles.size),
            }
            run_node_tests(staged, "download.test.js", env)
    finally:
        server.shutdown()
        server.server_close()


def test_the_trigger_checks_signatures_and_subscribes_through_the_relay(
    staged: toolchain.Staged, sandbox: RunningSandbox, relay_url: str
) -> None:
    env = {"SANDBOX_URL": sandbox.url, "SANDBOX_KEY": sandbox.api_key, "RELAY_URL": relay_url}
    run_node_tests(staged, "trigger.test.js", env)
