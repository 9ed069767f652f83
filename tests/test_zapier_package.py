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
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import operation_table
import pytest
import zapier_toolchain as toolchain
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from connector.catalog import CATALOG, Field, FieldType, Operation
from connector.client import CreativeAI
from connector.platforms.zapier.layout import zapier_key
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


THIRD_PERSON = re.compile(r"^[A-Z][a-z]+s\b")
MINOR = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "but",
    "by",
    "for",
    "if",
    "in",
    "nor",
    "of",
    "on",
    "or",
    "per",
    "so",
    "the",
    "to",
    "up",
    "via",
    "vs",
    "with",
    "yet",
    "en",
}


def title_cased(label: str) -> bool:
    words = re.findall(r"[A-Za-z][\w'-]*", label)
    return all(w[0].isupper() or (i > 0 and w in MINOR) for i, w in enumerate(words))


def test_the_definition_follows_zapiers_publishing_checklist(
    core: toolchain.Install, tmp_path: Path
) -> None:
    """Zapier's publishing checklist, on the serialized definition Zapier reads."""
    definition = run_core("definition", tmp_path)
    actions = [("creates", k, v) for k, v in definition["creates"].items()]
    actions += [("searches", k, v) for k, v in definition["searches"].items()]
    triggers = [(k, v) for k, v in definition["triggers"].items() if not v["display"].get("hidden")]
    for kind, key, action in actions:
        display = action["display"]
        # Descriptions start with a third-person verb and end with a period; search "Finds".
        assert THIRD_PERSON.match(display["description"]), (key, display["description"])
        assert display["description"].endswith("."), key
        if kind == "searches":
            assert display["description"].startswith("Finds "), key
        # Labels in Title Case; the noun is a noun.
        assert title_cased(display["label"]), (key, display["label"])
        assert action["noun"] not in ("Compose",), key
        for field in action["operation"].get("inputFields", []):
            assert title_cased(field["label"]), (key, field["label"])
    for key, trigger in triggers:
        assert trigger["display"]["description"].startswith("Triggers when "), key
        assert title_cased(trigger["display"]["label"]), key
    # Readable output labels; no internal fields; ISO 8601 timestamps in samples.
    outputs = [
        field for _, key, action in actions for field in action["operation"].get("outputFields", [])
    ] + [field for _, t in triggers for field in t["operation"].get("outputFields", [])]
    labels = {field["label"] for field in outputs}
    assert not labels & {"Jobs ID", "Model Actual", "Data URL", "Parameters Voice"}
    assert all(title_cased(label) for label in labels), sorted(labels)
    keys = {field["key"] for field in outputs}
    assert not keys & {"webhook_url", "relay_route_id"}
    for _, key, action in actions:
        sample = action["operation"]["sample"]
        assert "webhook_url" not in sample and "relay_route_id" not in sample, key
        for name, value in sample.items():
            if name == "created" or name.endswith("_at"):
                assert value is None or re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]+Z", value), (key, name)
    # Line-item groups have help: a copy field just before them.
    for _, key, action in actions:
        fields = action["operation"].get("inputFields", [])
        for i, field in enumerate(fields):
            if "children" in field:
                before = fields[i - 1]
                assert before["type"] == "copy" and before["helpText"], (key, field["key"])
    # The API key's help links to where the key is found.
    api_key = next(f for f in definition["authentication"]["fields"] if f["key"] == "api_key")
    assert re.search(r"\[[^\]]+\]\(https://[^)]+\)", api_key["helpText"])


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


#: Media the sandbox serves, by the extension a catalog example URL ends with: the sandbox
#: composes only files it serves itself, so example URLs become files of the same kind.
MEDIA_KINDS = {".mp4": "video", ".mp3": "audio", ".wav": "audio", ".png": "image", ".jpg": "image"}


def sandbox_media(sandbox: RunningSandbox) -> dict[str, str]:
    """One finished video, narration and image on the sandbox: their output URLs."""
    with CreativeAI(api_key=sandbox.api_key, base_url=sandbox.url) as client:
        video = client.wait(client.videos.create(prompt="A mug on a desk", duration=5))
        voice = client.wait(client.voice.create(text="Meet the travel mug."))
        image = client.images.generate(prompt="A mug on white")
    return {"video": video.output_url, "audio": voice.output_url, "image": image.data[0].url}


def example_value(f: Field, media: dict[str, str]) -> Any:
    if f.type is FieldType.FILE:
        return media["image"]
    value = f.example
    if value is None:
        value = f.default if f.default is not None else (f.option_values or (None,))[0]
    if value is None and f.type is FieldType.BOOLEAN:
        value = True
    if isinstance(value, str) and f.type is FieldType.URL:
        kind = MEDIA_KINDS.get(Path(value.split("?")[0]).suffix.lower())
        value = media[kind] if kind else value
    return value


def example_input(op: Operation, media: dict[str, str]) -> dict[str, Any]:
    """A builder's input for `op` from the catalog: each required field's example, and of
    each exactly-one-of group the first field that has one (wire names)."""
    chosen = {
        next(name for name in group if op.field(name).field.example is not None)
        for group in op.one_of
    }
    out = {}
    for use in op.fields:
        f = use.field
        if f.fixed is not None or "zapier" not in f.platforms:
            continue
        if use.required or f.name in chosen:
            out[f.name] = example_value(f, media)
    return out


def zapier_operations(media: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The operations Zapier shows, by catalog key: their kind, the job they follow, their
    action key and, given sandbox media, an example input from the catalog."""
    return {
        op.key: {
            "kind": op.kind.value,
            "job": op.job.value if op.job else None,
            "action": zapier_key(op.key),
            **({"example": example_input(op, media)} if media is not None else {}),
        }
        for op in CATALOG.for_platform("zapier")
    }


FAIL_MARKER = "[sandbox:fail]"


def failing_input(op: Operation, example: dict[str, Any]) -> dict[str, Any] | None:
    """`example` with the sandbox's marker for a job that fails, in its first text field."""
    for use in op.fields:
        f = use.field
        if f.type in (FieldType.TEXT, FieldType.STRING) and "zapier" in f.platforms:
            if f.options_source or f.fixed is not None:
                continue
            return {**example, f.name: f"{example.get(f.name, '')} {FAIL_MARKER}".strip()}
    return None


def zapier_events(media: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The events a Zapier create's job can end with: the first operation that starts such
    a job, the trigger that passes only it (if any), and an input that ends that way."""
    creates = {op.key: op for op in CATALOG.for_platform("zapier") if op.is_async}
    out = {}
    for event in CATALOG.events.values():
        ops = [creates[key] for key in event.operations if key in creates]
        if not ops:
            continue
        example = example_input(ops[0], media)
        failed = event.state.value != "completed"
        out[event.name] = {
            "operation": ops[0].key,
            "state": event.state.value,
            "trigger": zapier_key(event.name),
            "input": failing_input(ops[0], example) if failed else example,
        }
    return out


def test_the_app_tester_suite_passes(
    core: toolchain.Install,
    sandbox_factory: Callable[..., RunningSandbox],
    relay_url: str,
    tmp_path: Path,
) -> None:
    sandbox = sandbox_factory(rate_limits=False)
    # A sandbox whose jobs only end when a test moves its clock: for callbacks that come early.
    held = sandbox_factory(rate_limits=False, time_scale=1000.0)
    media = sandbox_media(sandbox)
    suites = sorted(str(p.relative_to(APP)) for p in (APP / "test").glob("*.test.js"))
    table = tmp_path / "operations.json"  # the written cases and the catalog's for the rest
    table.write_text(json.dumps({"cases": operation_table.cases()}))
    assert suites, "no test files in zapier/test"
    env = {
        "CREATIVEAI_SANDBOX_URL": sandbox.url,
        "CREATIVEAI_API_KEY": sandbox.api_key,
        "CREATIVEAI_RELAY_URL": relay_url,
        "CREATIVEAI_HELD_SANDBOX_URL": held.url,
        "CREATIVEAI_HELD_API_KEY": held.api_key,
        "ZAPIER_OPERATIONS": json.dumps(zapier_operations(media)),
        "ZAPIER_EVENTS": json.dumps(zapier_events(media)),
        "OPERATION_CASES": str(table),
    }
    toolchain.node_tests(APP, suites, env, timeout=240)
