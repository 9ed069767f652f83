"""The generated Zapier app, checked with Zapier's own tools.

- zapier-platform-core's validation (`createAppHandler(app)({command: 'validate'})`), the one
  the CLI runs, finds no errors;
- the serialized definition (`{command: 'definition'}`) validates against the official
  `exported-schema.json` of the installed zapier-platform-schema package;
- `zapier-platform validate --without-style` (the CLI, on Node 22 from the npm registry)
  passes;
- the appTester suite in `zapier/test/` (`NODE_ENV=test node --test`) passes against the
  sandbox and the relay on 127.0.0.1.

Installs are cached under ~/.cache/creativeai-connector/zapier (see
tests/zapier_toolchain.py); the first run downloads them from the registry.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zapier_toolchain as toolchain
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from connector.catalog import CATALOG
from connector.relay.testing import fast_config, running_relay, sqlite_url
from connector.sandbox.harness import RunningSandbox

APP = Path(__file__).resolve().parents[1] / "zapier"


@pytest.fixture(scope="module")
def core() -> toolchain.Install:
    return toolchain.ensure_core(APP)


def run_core(command: str, tmp_path: Path) -> Any:
    """Run one zapier-platform-core command on the app; return its `results`."""
    out = tmp_path / f"{command}.json"
    script = (
        "const core = require('zapier-platform-core');"
        "const app = require(process.argv[1]);"
        "core.createAppHandler(app)({ command: process.argv[2], calledFromCli: true })"
        ".then((r) => require('fs').writeFileSync(process.argv[3], JSON.stringify(r.results)))"
        ".catch((e) => { console.error(e); process.exit(1); });"
    )
    done = subprocess.run(
        ["node", "-e", script, str(APP / "index.js"), command, str(out)],
        cwd=APP,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


def schema_validator(core: toolchain.Install) -> Draft4Validator:
    exported = core.node_modules / "zapier-platform-schema" / "exported-schema.json"
    schemas = json.loads(exported.read_text())["schemas"]
    registry: Registry[Any] = Registry().with_resources(
        (schema["id"], DRAFT4.create_resource(schema)) for schema in schemas.values()
    )
    return Draft4Validator(schemas["AppSchema"], registry=registry)


def test_core_validation_finds_no_errors(core: toolchain.Install, tmp_path: Path) -> None:
    assert run_core("validate", tmp_path) == []


def test_definition_validates_against_the_exported_schema(
    core: toolchain.Install, tmp_path: Path
) -> None:
    definition = run_core("definition", tmp_path)
    validator = schema_validator(core)
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(definition)]
    assert problems == []
    assert set(definition["creates"]) >= {"video_create_from_text", "batch_create"}

    # The same validator refuses a broken definition: the check has teeth.
    broken = copy.deepcopy(definition)
    broken["creates"]["voice_create"]["display"]["label"] = "X"
    broken["triggers"]["generation_completed"]["key"] = "generation completed"
    broken["authentication"]["fields"][0]["type"] = "secret"
    paths = {tuple(e.absolute_path)[:3] for e in validator.iter_errors(broken)}
    assert ("creates", "voice_create", "display") in paths
    assert ("triggers", "generation_completed", "key") in paths
    assert ("authentication", "fields", 0) in paths


def test_the_cli_validates_the_app(core: toolchain.Install) -> None:
    cli = toolchain.ensure_cli()
    done = cli.run(["validate", "--without-style"], cwd=APP)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "No structural errors found" in output


# -- the appTester suite ----------------------------------------------------------------------


@pytest.fixture
def relay_url(tmp_path: Path) -> Iterator[str]:
    config = fast_config(sqlite_url(tmp_path), embedded_worker=True)
    with running_relay(config) as relay:
        yield relay.url


def zapier_operations() -> dict[str, dict[str, str | None]]:
    """The operations Zapier shows, by catalog key: their kind and the job they follow."""
    return {
        op.key: {"kind": op.kind.value, "job": op.job.value if op.job else None}
        for op in CATALOG.for_platform("zapier")
    }


def test_the_app_tester_suite_passes(
    core: toolchain.Install,
    sandbox_factory: Callable[..., RunningSandbox],
    relay_url: str,
) -> None:
    sandbox = sandbox_factory(rate_limits=False)
    suites = sorted(str(p.relative_to(APP)) for p in (APP / "test").glob("*.test.js"))
    assert suites, "no test files in zapier/test"
    env = {
        **os.environ,
        "NODE_ENV": "test",
        "CREATIVEAI_SANDBOX_URL": sandbox.url,
        "CREATIVEAI_API_KEY": sandbox.api_key,
        "CREATIVEAI_RELAY_URL": relay_url,
        "ZAPIER_OPERATIONS": json.dumps(zapier_operations()),
    }
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", *suites],
        cwd=APP,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(r"^\S+ fail 0$", output, re.M), output
    passed = re.search(r"^\S+ pass (\d+)$", output, re.M)
    assert passed and int(passed.group(1)) > 0, output
