"""Zapier: Max Credits and Record Key on every paid create, the job a wait that gives up
leaves, files over Zapier's stash limit, run through zapier-platform-core.

The definition is read as Zapier reads it (`{command: 'definition'}`); the runs are the
Node files under `zapier/test/paid/`, against a sandbox and a relay of their own (so what
the sandbox started counts their runs only). Make's version (tests/test_make_credits.py)
is the reference for behaviour and texts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zapier_toolchain as toolchain
from test_zapier_package import run_core, sandbox_media, zapier_operations

from connector.catalog import CATALOG, FieldType, Operation, limits, steps
from connector.platforms.zapier.layout import zapier_key
from connector.relay.testing import fast_config, running_relay, sqlite_url
from connector.sandbox import pricing
from connector.sandbox.harness import RunningSandbox

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[1] / "zapier"
PAID = [op.key for op in steps.capped(CATALOG.operations.values())]


@pytest.fixture(scope="module")
def core() -> toolchain.Install:
    return toolchain.ensure_core(APP)


@pytest.fixture(scope="module")
def definition(core: toolchain.Install, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_core("definition", tmp_path_factory.mktemp("definition"))


def test_every_paid_create_asks_for_a_cap_and_a_record_key(definition: Any) -> None:
    assert set(PAID) >= {"video.create_from_text", "batch.create", "image.generate"}
    for key in PAID:
        fields = {
            f["key"]: f for f in definition["creates"][zapier_key(key)]["operation"]["inputFields"]
        }
        cap, record = fields[steps.MAX_CREDITS.key], fields[steps.RECORD_KEY.key]
        assert cap["label"] == steps.MAX_CREDITS.label == "Max Credits"
        assert cap["type"] == "integer" and not cap["required"]
        assert cap["helpText"] == steps.MAX_CREDITS.help
        assert record["label"] == steps.RECORD_KEY.label == "Record Key"
        assert not record["required"]
        # Zapier keeps no ledger: the help says the guarantee needs the relay.
        assert record["helpText"] == f"{steps.RECORD_KEY.help} {steps.RECORD_KEY.without_ledger}"
    for key, create in definition["creates"].items():
        if key not in {zapier_key(k) for k in PAID}:  # the price calculation costs nothing
            names = {f["key"] for f in create["operation"]["inputFields"]}
            assert not names & {steps.MAX_CREDITS.key, steps.RECORD_KEY.key}, key


def test_every_file_output_has_its_message_field(definition: Any) -> None:
    """Beside each `file` output a `file_message` (why a file over the limit is not there)."""
    actions = [*definition["creates"].values(), *definition["searches"].values()]
    actions += list(definition["triggers"].values())
    seen = 0
    for action in actions:
        keys = [f["key"] for f in action["operation"].get("outputFields", [])]
        for key in keys:
            if key.endswith("file"):
                seen += 1
                assert key + "_message" in keys, key
    assert seen > 0


@pytest.fixture
def relay_url(tmp_path: Path) -> Iterator[str]:
    config = fast_config(sqlite_url(tmp_path), embedded_worker=True)
    with running_relay(config) as relay:
        yield relay.url


def price_request(op: Operation, example: dict[str, Any]) -> dict[str, Any]:
    """What the price endpoint is asked for `example`: the create's own body without its
    files, a model left empty named as the one the API uses (Make's price body too)."""
    body = {k: v for k, v in example.items() if op.field(k).field.type is not FieldType.FILE}
    for use in op.fields:
        f = use.field
        if f.options_source and isinstance(f.default, str) and f.name not in body:
            body[f.name] = f.default
    return body


def run_node(files: list[str], env: dict[str, str]) -> str:
    return toolchain.node_tests(APP, files, env, timeout=400)


def test_paid_creates_run_through_zapiers_core(
    core: toolchain.Install,
    sandbox_factory: Callable[..., RunningSandbox],
    relay_url: str,
) -> None:
    sandbox = sandbox_factory(rate_limits=False)
    held = sandbox_factory(rate_limits=False, time_scale=1000.0)  # jobs that do not end
    media = sandbox_media(sandbox)
    listed = zapier_operations(media)
    quotes = {
        key: pricing.quote(price_request(CATALOG.operation(key), listed[key]["example"])).credits
        for key in PAID
    }
    output = run_node(
        ["test/paid/paid.test.js"],
        {
            "CREATIVEAI_SANDBOX_URL": sandbox.url,
            "CREATIVEAI_API_KEY": sandbox.api_key,
            "CREATIVEAI_RELAY_URL": relay_url,
            "CREATIVEAI_HELD_SANDBOX_URL": held.url,
            "CREATIVEAI_HELD_API_KEY": held.api_key,
            "ZAPIER_OPERATIONS": json.dumps(listed),
            "ZAPIER_PAID": json.dumps(quotes),
        },
    )
    figures = dict(re.findall(r"CREATES_PER_TWO_RUNS (.+?)=(\d+)", output))
    print("paid creates the sandbox saw for two runs with one record key:", figures)
    assert figures.pop("without_relay") == "2"
    assert figures == {f"with_relay {key}": "1" for key in PAID}, figures


def test_files_over_the_stash_limit_are_left_at_their_url(core: toolchain.Install) -> None:
    limit = limits.ZAPIER_STASH_FILE
    assert limit.max_bytes
    run_node(
        ["test/paid/files.test.js"],
        {"ZAPIER_STASH_LIMIT_BYTES": str(limit.max_bytes)},
    )
