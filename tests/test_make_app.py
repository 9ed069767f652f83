"""The generated Make app (make-app/): valid against Make's published schemas, ids that Make
accepts, references that resolve, and parameters that say what the catalog says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from make_iml import schemas
from make_iml.appfiles import LocalApp, load_file
from make_iml.iml import (
    DOCUMENTED_FUNCTIONS,
    DOCUMENTED_OPERATORS,
    SPREAD,
    Binary,
    Call,
    Not,
    functions,
    operators,
    segments,
    template_expressions,
    template_references,
)

from connector.catalog import CATALOG, FieldType, limits
from connector.catalog.text import sentence_case, third_person
from connector.platforms import GENERATED_NOTICE, MANIFEST
from connector.platforms import make as emitter
from connector.platforms.make import modules, params

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / emitter.OUTPUT_DIR
FILES = emitter.emit(CATALOG)
APP = LocalApp.load(APP_DIR)

needs_schemas = pytest.mark.skipif(not schemas.available(), reason=schemas.SKIP_REASON)

MODULE_OR_RPC_ID = re.compile(r"^[a-zA-Z][0-9a-zA-Z]{2,63}$")
CONNECTION_OR_WEBHOOK_ID = re.compile(r"^[a-zA-Z][0-9a-zA-Z-]{1,33}[0-9a-zA-Z]$")
JSON_FILES = sorted(p for p in FILES if p.endswith(".json"))


def test_the_committed_app_is_what_the_emitter_makes() -> None:
    for rel, content in FILES.items():
        assert (APP_DIR / rel).read_bytes() == content, f"{rel}: run creativeai-connector build"


def test_emit_is_deterministic() -> None:
    assert emitter.emit(CATALOG) == FILES


@needs_schemas
@pytest.mark.parametrize("rel", JSON_FILES)
def test_every_file_validates_against_its_schema(rel: str) -> None:
    schema = schemas.schema_for(rel)
    assert schema is not None, f"{rel}: no Make schema is associated with this file name"
    assert schemas.problems(schema, load_file(APP_DIR / rel)) == []


@needs_schemas
def test_makecomapp_json_is_checked_against_the_manifest_schema() -> None:
    assert schemas.schema_for("makecomapp.json") == "makecomapp.schema.json"
    broken = json.loads(FILES["makecomapp.json"])
    del broken["components"]["endpoint"]  # Make wants all six component kinds
    assert schemas.problems("makecomapp.schema.json", broken)


@needs_schemas
def test_the_schemas_catch_a_broken_module() -> None:
    """The validation is real: a POST without a body and a parameter of an unknown type fail."""
    assert schemas.problems("api.json", {"url": "/v1/video/generations", "method": "POST"})
    assert schemas.problems("parameters.json", [{"name": "x", "type": "string"}])
    assert schemas.problems("base.json", {"baseUrl": "x", "timeout": 300_001})


def test_only_strict_json_and_iml_json_files_are_emitted() -> None:
    other = {p for p in FILES if not p.endswith(".json")}
    assert other == {"README.md", ".gitignore"}


def test_generated_text_files_say_so_on_line_one() -> None:
    for rel, content in FILES.items():
        first = content.decode().splitlines()[0]
        if rel.endswith(".iml.json") or rel in ("README.md", ".gitignore"):
            assert GENERATED_NOTICE in first, rel
    strict = [p for p in JSON_FILES if not p.endswith(".iml.json")]
    readme = FILES["README.md"].decode()
    for rel in strict:  # strict JSON cannot hold the notice: the README names them
        assert f"`{rel}`" in readme, rel


# -- ids and references ---------------------------------------------------------------------


def test_ids_follow_makes_rules() -> None:
    components = APP.manifest["components"]
    assert set(components) == {"connection", "webhook", "module", "rpc", "function", "endpoint"}
    for kind in ("module", "rpc"):
        for cid in components[kind]:
            assert MODULE_OR_RPC_ID.match(cid), f"{kind} id {cid!r}"
    for kind in ("connection", "webhook"):
        for cid in components[kind]:
            assert CONNECTION_OR_WEBHOOK_ID.match(cid), f"{kind} id {cid!r}"
    [origin] = APP.manifest["origins"]
    assert re.match(r"^[a-z][0-9a-z-]{1,28}[0-9a-z]$", origin["appId"])


def test_component_references_resolve() -> None:
    components = APP.manifest["components"]
    for kind in ("webhook", "module", "rpc"):
        for cid, meta in components[kind].items():
            assert meta["connection"] in components["connection"], f"{kind} {cid}"
    triggers = {
        c: m for c, m in components["module"].items() if m["moduleType"] == "instant_trigger"
    }
    assert triggers
    for cid, meta in triggers.items():
        assert meta["webhook"] in components["webhook"], cid


def test_every_rpc_url_names_an_rpc() -> None:
    rpcs = set(APP.components["rpc"])
    used = set()
    for rel in JSON_FILES:
        for match in re.finditer(r'"rpc://([^"?]+)"', FILES[rel].decode()):
            assert match.group(1) in rpcs, f"{rel}: rpc://{match.group(1)}"
            used.add(match.group(1))
    assert used == rpcs, "every RPC is used by some select"


def test_code_files_exist_and_every_file_is_listed() -> None:
    listed = set(APP.manifest["generalCodeFiles"].values())
    for kind in APP.manifest["components"].values():
        for meta in kind.values():
            listed |= set(meta["codeFiles"].values())
    assert listed <= set(FILES)
    assert set(FILES) - listed == {"makecomapp.json", ".gitignore"}
    assert (APP_DIR / MANIFEST).read_text().split() == sorted(FILES)


def test_groups_hold_every_module_once() -> None:
    grouped = [m for g in APP.groups for m in g["modules"]]
    assert sorted(grouped) == sorted(APP.components["module"])


def _parameter_names(specs: list[dict[str, Any]]) -> set[str]:
    return {p["name"] for p in specs}


def _connection_names() -> set[str]:
    connection = APP.connection()
    names = _parameter_names(connection.codes["params"])
    communication = connection.codes["communication"]
    assert isinstance(communication, dict), "a connection performs a single request"
    return names | set(communication.get("response", {}).get("data", {}))


def _check_paths(where: str, value: Any, known: dict[str, set[str] | None]) -> None:
    """Every `root.name` read must exist: `known[root]` lists the names (None: any name)."""
    for parts in template_references(value):
        root = parts[0]
        assert root in known, f"{where}: {root} is not available here ({'.'.join(parts)})"
        names = known[root]
        if names is not None and len(parts) > 1:
            assert parts[1] in names, f"{where}: {'.'.join(parts)} is not defined"


RESPONSE = {"body": None, "headers": None, "statusCode": None}


def test_every_iml_reference_resolves() -> None:
    connection_names = _connection_names()
    _check_paths("base", APP.base, {"connection": connection_names, **RESPONSE})
    conn = APP.connection()
    _check_paths(
        "connection",
        conn.codes["communication"],
        {"parameters": _parameter_names(conn.codes["params"]), **RESPONSE},
    )
    for cid, component in APP.components["module"].items():
        communication = component.codes.get("communication")
        if communication is None:
            continue
        if component.metadata["moduleType"] == "instant_trigger":
            hook = APP.components["webhook"][component.metadata["webhook"]]
            bundle = set(hook.codes["communication"]["output"])
            known = {"connection": connection_names, "payload": bundle, **RESPONSE}
            _check_paths(f"trigger {cid}", communication, known)
            continue
        mappable = _parameter_names(component.codes["mappableParams"])
        requests = communication if isinstance(communication, list) else [communication]
        temp: set[str] = set()
        for request in requests:
            known = {
                "parameters": mappable,
                "connection": connection_names,
                "temp": set(temp),
                "item": None,
                **RESPONSE,
            }
            _check_paths(f"module {cid}", request, known)
            temp |= set(request.get("response", {}).get("temp", {}))
    for cid, component in APP.components["rpc"].items():
        _check_paths(
            f"rpc {cid}",
            component.codes["communication"],
            {"connection": connection_names, "item": None, **RESPONSE},
        )
    for cid, hook in APP.components["webhook"].items():
        hook_params = _parameter_names(hook.codes["params"])
        _check_paths(
            f"webhook {cid}",
            hook.codes["communication"],
            {"parameters": hook_params, "body": None, "headers": None},
        )
        if "attach" not in hook.codes:
            assert "detach" not in hook.codes, cid
            continue
        saved = set(hook.codes["attach"]["response"]["data"])
        _check_paths(
            f"webhook {cid} attach",
            hook.codes["attach"],
            {
                "parameters": hook_params,
                "connection": connection_names,
                "webhook": {"url", "id"},
                **RESPONSE,
            },
        )
        _check_paths(
            f"webhook {cid} detach",
            hook.codes["detach"],
            {"connection": connection_names, "webhook": saved},
        )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_every_template_is_in_the_renderers_subset() -> None:
    """The test-side renderer parses every expression the generator emits."""
    expressions = 0
    for rel in JSON_FILES:
        for text in _strings(load_file(APP_DIR / rel)):
            expressions += sum(not isinstance(s, str) for s in segments(text))
    assert expressions > 100


def _used(pick: Any) -> set[str]:
    return {
        name
        for rel in JSON_FILES
        if rel.endswith(".iml.json")
        for node in template_expressions(load_file(APP_DIR / rel))
        for name in pick(node)
    }


def test_the_app_uses_only_functions_and_operators_make_documents() -> None:
    """The list a reviewer checks: every IML function and operator the app uses, each one on
    Make's documented lists (help.make.com's functions, developers.make.com's operators)."""
    assert _used(functions) == {
        "if",
        "ifempty",
        "substring",
        "encodeURL",
        "toCollection",
        "lower",
        "split",
        "contains",
        "switch",
        "round",
        "last",
        "first",  # the ledger's entry for a Record key: the first (only) of its list
        "get",  # a property of that entry, which may be missing
        "map",  # the URLs of a paid answer the ledger did not keep, named in the error
        "join",
    }
    assert _used(functions) <= DOCUMENTED_FUNCTIONS
    assert "startsWith" not in DOCUMENTED_FUNCTIONS
    assert _used(operators) == {"+", "/", "==", "!=", "||", "!", "&&", "<=", ">="}
    assert _used(operators) <= DOCUMENTED_OPERATORS


# -- what the modules say -------------------------------------------------------------------


def _module_for(op_label: str) -> Any:
    label = sentence_case(op_label)
    [found] = [m for m in APP.components["module"].values() if m.metadata["label"] == label]
    return found


def test_every_operation_has_a_module_of_the_right_type() -> None:
    """Creates and price are actions; a Get module is an action that reads one item (crud
    read, one bundle); a list is a search with a limit."""
    expected = {
        "create": ("action", "create"),
        "calculate": ("action", "read"),
        "get": ("action", "read"),
        "list": ("search", None),
    }
    for op in CATALOG.for_platform("make"):
        module = _module_for(op.label)
        meta = module.metadata
        assert (meta["moduleType"], meta.get("actionCrud")) == expected[op.kind.value], op.key
        assert meta["description"] == third_person(op.description)
        assert meta["label"] == sentence_case(op.label)
        assert module.codes["samples"], f"{op.key}: a sample"
        assert module.codes["interface"], f"{op.key}: an interface"
        response = module.codes["communication"]
        response = (response[-1] if isinstance(response, list) else response)["response"]
        assert ("iterate" in response) == (op.kind.value == "list"), op.key
        if op.kind.value == "list":
            limit = _by_name(module.codes["mappableParams"])["limit"]
            assert limit["type"] == "uinteger" and limit["required"] and limit["default"] > 0
            assert response["limit"] == "{{parameters.limit}}"
    types = [m.metadata["moduleType"] for m in APP.components["module"].values()]
    assert types.count("universal") == 1 and types.count("instant_trigger") == 2


def _by_name(specs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in specs}


def test_mappable_parameters_say_what_the_catalog_says() -> None:
    for op in CATALOG.for_platform("make"):
        specs = _by_name(_module_for(op.label).codes["mappableParams"])
        for use in op.fields:
            f = use.field
            if "make" not in f.platforms or f.fixed is not None:
                assert f.name not in specs
                continue
            p = specs[f.name]
            where = f"{op.key}.{f.name}"
            assert p["label"] == sentence_case(f.label), where
            assert p["help"].startswith(use.help), where  # the operation's own, if stated
            assert p.get("required", False) == use.required, where
            assert p.get("default") == f.default, where
            assert p.get("advanced", False) == f.advanced, where
            rules = p.get("validate", {})
            if f.type in (FieldType.INTEGER, FieldType.NUMBER):
                assert (rules.get("min"), rules.get("max")) == (f.minimum, f.maximum), where
            if f.type is FieldType.TEXT:
                assert p["multiline"] is True
                assert (rules.get("min"), rules.get("max")) == (f.min_length, f.max_length), where
            if f.type in (FieldType.STRING_LIST, FieldType.OBJECT_LIST):
                assert (rules.get("minItems"), rules.get("maxItems")) == (f.min_items, f.max_items)
            if f.options_source:
                assert p["options"].startswith("rpc://"), where
            elif f.type is FieldType.ENUM:
                assert [o["value"] for o in p["options"]] == list(f.option_values), where
                assert p.get("editable", False) == (not f.closed), where
        for p in op.path_params:
            assert specs[p.name]["required"] is True


def test_batch_prompts_are_an_array_of_collections() -> None:
    prompts = _by_name(_module_for("Create video batch").codes["mappableParams"])["prompts"]
    assert prompts["type"] == "array"
    assert [c["name"] for c in prompts["spec"]] == ["prompt", "image_url"]
    assert prompts["validate"] == {"minItems": 1, "maxItems": limits.BATCH_MAX_PROMPTS}


def test_every_catalog_field_type_has_a_make_type_the_schema_accepts() -> None:
    assert set(params.PARAMETER_TYPES) == set(FieldType)
    if schemas.available():
        every = [params.parameter(f, required=False, rpc_for=str) for f in CATALOG.fields]
        assert schemas.problems("parameters.json", every) == []


def test_short_jobs_can_wait_within_makes_module_time_limit() -> None:
    waiting = {
        m.metadata["label"] for m in APP.components["module"].values() if modules.is_waiting(m)
    }
    short = {
        sentence_case(op.label)
        for op in CATALOG.for_platform("make")
        if op.is_async and op.duration and op.duration.typical_s <= modules.WAIT_BUDGET_S
    }
    assert waiting == short  # every job short enough, whatever operations the catalog has
    assert {"Create voice", "Compose video and audio"} <= waiting
    assert not {"Create video from text", "Create chart video"} & waiting
    for label in waiting:
        op = next(o for o in CATALOG.for_platform("make") if sentence_case(o.label) == label)
        assert op.job is not None
        requests = _module_for(label).codes["communication"]
        [at] = [n for n, r in enumerate(requests) if "repeat" in r]
        poll, check = requests[at], requests[at + 1]
        cadence = limits.POLL_CADENCE[op.job]
        assert poll["repeat"]["delay"] == cadence.interval * 1000
        waited = poll["repeat"]["delay"] * poll["repeat"]["limit"] / 1000
        assert waited <= modules.MODULE_TIME_LIMIT_S - modules.WAIT_MARGIN_S
        status_path = CATALOG.operation(op.status_operation or "").path.split("{")[0]
        assert poll["url"].startswith(status_path) and check["url"] == poll["url"]
        assert "valid" not in poll.get("response", {}), "the repeated poll judges nothing"
        assert "repeat" not in check and "valid" in check["response"]


# -- Make's naming and review rules -------------------------------------------------------------

#: Words that keep their capital inside a sentence-case label: acronyms.
ACRONYMS = {"API", "ID", "URL", "URLs"}


def _labels(specs: Any) -> list[str]:
    found = []
    for p in specs if isinstance(specs, list) else []:
        if not isinstance(p, dict):
            continue
        if "label" in p:
            found.append(p["label"])
        nested = p.get("spec")
        found += _labels(nested if isinstance(nested, list) else [nested] if nested else [])
    return found


def _every_label() -> list[str]:
    labels = []
    for kind in APP.components.values():
        for component in kind.values():
            labels.append(component.metadata["label"])
            for section in ("mappableParams", "staticParams", "interface", "params"):
                labels += _labels(component.codes.get(section))
    return labels


def test_module_parameter_and_output_labels_are_in_sentence_case() -> None:
    labels = _every_label()
    assert len(labels) > 150
    for label in labels:
        first, *rest = label.split()
        assert first[:1].isupper() or not first[:1].isalpha(), label
        for word in rest:
            assert not word[:1].isupper() or word in ACRONYMS, f"{label!r}: {word!r}"


def test_module_descriptions_are_in_the_third_person() -> None:
    for component in APP.components["module"].values():
        description = component.metadata["description"]
        verb = description.split()[0].rstrip(",")
        assert verb.endswith("s") and not verb.endswith("ss"), description
        assert description.endswith("."), description


def _help_texts() -> list[str]:
    texts = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, v in value.items():
                if key in ("help", "description") and isinstance(v, str):
                    texts.append(v)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for kind in APP.components.values():
        for component in kind.values():
            walk(component.metadata)
            walk(component.codes)
    return texts


def test_help_texts_speak_to_the_builders_task() -> None:
    texts = _help_texts()
    assert len(texts) > 50
    for text in texts:
        assert not re.search(r"\bdocs?\b|documentation|documented|inferred", text, re.I), text


def test_trigger_samples_only_declare_interface_keys() -> None:
    def check(sample: Any, interface: list[dict[str, Any]], where: str) -> None:
        specs = {p["name"]: p for p in interface}
        assert set(sample) <= set(specs), f"{where}: {sorted(set(sample) - set(specs))}"
        for key, value in sample.items():
            nested = specs[key].get("spec")
            if isinstance(value, dict) and isinstance(nested, list):
                check(value, nested, f"{where}.{key}")

    for cid, module in APP.components["module"].items():
        if module.metadata["moduleType"] == "instant_trigger":
            check(module.codes["samples"], module.codes["interface"], cid)


def test_the_connection_asks_for_the_api_key_only_and_makes_one_request() -> None:
    connection = APP.connection()
    [key] = connection.codes["params"]
    assert (key["name"], key["label"], key["type"]) == ("apiKey", "API key", "password")
    assert key["required"] is True and key["editable"] is True
    request = connection.codes["communication"]
    assert isinstance(request, dict) and "repeat" not in request
    assert request["url"] == limits.DEFAULT_BASE_URL + CATALOG.operation("model.list").path
    assert APP.base["baseUrl"] == limits.DEFAULT_BASE_URL


def test_the_relays_address_is_a_parameter_of_the_relay_webhook() -> None:
    hooks = APP.components["webhook"]
    relay = _by_name(hooks["completedGenerations"].codes["params"])["relayUrl"]
    assert relay["required"] is True and relay["type"] == "url"
    assert set(hooks["completedGenerations"].codes["attach"]["response"]["data"]) == {
        "subscriptionId",
        "relayUrl",
    }
    assert "attach" not in hooks["jobNotifications"].codes  # the builder maps its address


def test_a_server_error_promises_no_retry() -> None:
    message = APP.base["response"]["error"]["500"]["message"]
    assert "retried" not in message and "Run the scenario again" in message
    assert "retried" not in FILES["README.md"].decode()


def test_make_an_api_call_follows_makes_universal_module_convention() -> None:
    module = APP.module("makeApiCall")
    assert module.metadata["label"] == "Make an API call"
    assert module.metadata["description"] == "Performs an arbitrary authorized API call."
    specs = _by_name(module.codes["mappableParams"])
    assert list(specs) == ["url", "method", "headers", "qs", "body"]
    assert specs["url"]["validate"] == {"pattern": "^/"}
    assert limits.DEFAULT_BASE_URL in specs["url"]["help"]
    request = module.codes["communication"]
    assert set(request) == {"url", "method", "headers", "qs", "body", "response"}


# -- the output contract and the catalog's durations -------------------------------------------


def _contract_of(op_key: str) -> tuple[list[Any], dict[str, Any]]:
    """The fields and sample a module of this operation gives, by the catalog's contract."""
    contract = CATALOG.output(op_key)
    op = CATALOG.operation(op_key)
    if op.kind.value == "list":
        items = contract.field("data").children
        return list(items), dict(contract.sample["data"][0])
    return list(contract.fields), dict(contract.sample)


def test_interfaces_and_samples_come_from_the_output_contract() -> None:
    for op in CATALOG.for_platform("make"):
        module = _module_for(op.label)
        fields, sample = _contract_of(op.key)
        interface = module.codes["interface"]
        names = {p["name"] for p in module.codes["mappableParams"]}
        if modules.DOWNLOAD_PARAM in names:  # and the file it may hand over, after the contract
            files = modules.file_interface()
            assert interface[-len(files) :] == files, op.key
            interface = interface[: -len(files)]
        names = [p["name"] for p in interface]
        assert names == [f.key for f in fields], op.key
        labels = [p["label"] for p in interface]
        assert labels == [f.label for f in fields], op.key
        expected = {}
        for f in fields:
            if f.key not in sample:
                continue
            value = sample[f.key]
            if f.type is FieldType.OBJECT_LIST and f.children:  # items as the API sends them
                keys = {c.key for c in f.children} - {"state"}
                value = [{k: v for k, v in item.items() if k in keys} for item in value]
            expected[f.key] = value
        assert module.codes["samples"] == expected, op.key
        if "state" in names:
            assert module.codes["samples"]["state"] == sample["state"], op.key
            assert module.codes["samples"]["status"] == sample["status"], op.key


def test_every_sample_declares_only_interface_keys() -> None:
    for cid, module in APP.components["module"].items():
        names = {p["name"] for p in module.codes["interface"]}
        assert set(module.codes["samples"]) <= names, cid


def test_a_shared_status_webhook_is_respelled_for_its_kind() -> None:
    """A voice job's webhook says `completed`; the relay trigger outputs `COMPLETED`, as
    polling and Get job do, plus the one `state`."""
    from make_iml.runtime import Runtime

    from connector.catalog import contract

    make = Runtime(APP)
    for event, status in (
        ("voice.generation.completed", "COMPLETED"),
        ("video.generation.completed", "completed"),
    ):
        body = dict(contract.WEBHOOK_SAMPLES[event])
        headers = {limits.EVENT_HEADER: event, limits.DELIVERY_ID_HEADER: "d-1"}
        hook = {"relayUrl": "https://relay.example", "events": [event], "fanOutBatch": False}
        [bundle] = make.receive("completedGenerations", hook, body=body, headers=headers)
        assert (bundle["payload"]["status"], bundle["payload"]["state"]) == (status, "completed")
        expected = CATALOG.event_output(event).shape(body)
        assert {k: v for k, v in bundle["payload"].items()} == {
            k: v for k, v in expected.items() if k in bundle["payload"]
        }


def test_which_modules_wait_follows_the_catalogs_durations() -> None:
    from connector.catalog import Duration

    voice = CATALOG.operation("voice.create")
    assert voice.duration is not None and voice.duration.typical_s <= modules.WAIT_BUDGET_S
    assert modules.wait_plan(CATALOG, voice) is not None
    slow = voice.model_copy(update={"duration": Duration(typical_s=45, longest_s=600)})
    assert modules.wait_plan(CATALOG, slow) is None
    chart = CATALOG.operation("chart.create")
    assert chart.duration is not None and chart.duration.typical_s > modules.WAIT_BUDGET_S
    quick = chart.model_copy(update={"duration": Duration(typical_s=5, longest_s=600)})
    assert modules.wait_plan(CATALOG, quick) is not None  # the duration decides, not a sample


def test_each_module_states_each_field_once_from_the_one_field_table() -> None:
    """Make has no imports, so a field's spec repeats across modules, but each module is
    built from the catalog's one field table: a field appears once in it, as `parameter`
    renders it."""
    for op in CATALOG.for_platform("make"):
        specs = _module_for(op.label).codes["mappableParams"]
        names = [p["name"] for p in specs]
        assert len(names) == len(set(names)), op.key
        for use in op.visible_fields("make"):
            [spec] = [p for p in specs if p["name"] == use.field.name]
            built = params.parameter(use.field, required=use.required, rpc_for=modules.rpc_id)
            assert {k: v for k, v in spec.items() if k != "help"} == {
                k: v for k, v in built.items() if k != "help"
            }, f"{op.key}.{use.field.name}"


def test_a_description_opening_with_several_verbs_conjugates_each() -> None:
    edit = CATALOG.operation("image.edit")
    assert edit.description.startswith("Inpaint, outpaint or restyle ")
    assert (
        _module_for(edit.label)
        .metadata["description"]
        .startswith("Inpaints, outpaints or restyles an uploaded image")
    )


def _calls(node: Any) -> list[Any]:
    """Every function call inside an expression, nested ones included."""
    found = []
    if isinstance(node, Call):
        found.append(node)
        for arg in node.args:
            found += _calls(arg)
    elif isinstance(node, Binary):
        found += _calls(node.left) + _calls(node.right)
    elif isinstance(node, Not):
        found += _calls(node.operand)
    return found


def _template_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _template_strings(k) + _template_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _template_strings(v)]
    return []


def test_no_template_computes_the_same_expression_twice() -> None:
    """A generated value reads like a hand-written one: a compound expression (a call that
    holds another call) is written once, not re-derived in every branch."""
    repeated = []
    for rel in JSON_FILES:
        for template in _template_strings(load_file(APP_DIR / rel)):
            for part in [] if template == SPREAD else segments(template):
                if isinstance(part, str):
                    continue
                compound = [c for c in _calls(part) if any(_calls(a) for a in c.args)]
                seen = {c for c in compound if compound.count(c) > 1}
                repeated += [(rel, template[:80]) for _ in seen]
    assert not repeated


def test_image_prompts_are_not_described_as_video_shots() -> None:
    for key in ("image.generate", "image.edit"):
        op = CATALOG.operation(key)
        prompt = _by_name(_module_for(op.label).codes["mappableParams"])["prompt"]
        assert prompt["help"].startswith(op.field("prompt").help), key
        assert "camera" not in prompt["help"] and "motion" not in prompt["help"], key
