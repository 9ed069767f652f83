"""The n8n emitter: what it makes of the catalog, before any Node tool sees it."""

from __future__ import annotations

import json
import re

import pytest

from connector.catalog import CATALOG, Field, FieldType, Operation, errors, limits, responses
from connector.catalog.events import unconfirmed_note
from connector.catalog.text import n8n_description
from connector.platforms import GENERATED_NOTICE
from connector.platforms import n8n as emitter
from connector.platforms.n8n import properties as P
from connector.platforms.n8n import sources
from connector.platforms.n8n.ts import camel, literal, sort_key

FILES = emitter.emit(CATALOG)
N8N_OPS = CATALOG.for_platform("n8n")
RESOURCES = "nodes/CreativeAi/generated/resources"


def test_emit_is_deterministic() -> None:
    assert emitter.emit(CATALOG) == FILES


def test_every_file_says_it_is_generated_where_its_format_allows() -> None:
    no_comment = {"eslint.config.mjs"}  # must equal n8n's strict-mode default byte for byte
    for path, content in FILES.items():
        text = content.decode()
        if path.endswith(".node.json") or path in no_comment:
            continue  # listed in the README instead (checked below)
        if path == "package.json":
            assert next(iter(json.loads(text))) == "//"
            assert json.loads(text)["//"] == GENERATED_NOTICE
            continue
        assert GENERATED_NOTICE in text.splitlines()[0], path
    readme = FILES["README.md"].decode()
    assert "eslint.config.mjs" in readme and "nodes/*/*.node.json" in readme


def test_every_n8n_operation_has_a_description_file_and_a_runtime_entry() -> None:
    catalog_ts = FILES["nodes/CreativeAi/generated/catalog.ts"].decode()
    for op in N8N_OPS:
        value = P.op_value(op)
        assert f"{RESOURCES}/{op.resource}/{value}.ts" in FILES
        assert f"'{op.resource}.{value}': {{" in catalog_ts
        assert f"key: '{op.key}'" in catalog_ts
    hidden = [op for op in CATALOG.operations.values() if "n8n" not in op.platforms]
    for op in hidden:
        assert f"key: '{op.key}'" not in catalog_ts


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


SHOWN = list(sources.n8n_fields(CATALOG).values())


@pytest.mark.parametrize("f", SHOWN, ids=[f.key for f in SHOWN])
def test_each_fields_spec_appears_once_in_the_package(f: Field) -> None:
    """A field's n8n parameter and its runtime spec are written once: operations refer to
    them by name (a copy per operation is what this test exists to catch)."""
    texts = {path: _squeezed(c.decode()) for path, c in FILES.items() if path.endswith(".ts")}
    prop = _squeezed(literal(sources.field_property(CATALOG, f)))
    spec = _squeezed(literal(sources.field_table_entry(CATALOG, f)))
    for body, where in ((prop, "descriptions/fields.ts"), (spec, "catalog.ts")):
        found = {path: text.count(body) for path, text in texts.items() if body in text}
        assert list(found) == [f"nodes/CreativeAi/generated/{where}"], found
        assert sum(found.values()) == 1, found
    # Nor is it copied under another name (a collection's child that copies a field):
    # its help text is in one property.
    # (A live dropdown's description is n8n's fixed wording; its own help is the hint.)
    own = P.property_for(f)
    where = "hint" if own["description"] == P.DYNAMIC_DESCRIPTION else "description"
    help_text = _squeezed(literal(own[where]))
    assert sum(t.count(f"{where}:{help_text}") for t in texts.values()) == 1


_LIMIT = re.compile(
    r"^\t+(min|max|minValue|maxValue|minItems|maxItems|maxAllowedFields|minLength|maxLength)"
    r": (-?\d+(?:\.\d+)?),$",
    re.M,
)
#: n8n's names for the limits the field table states.
_SAME_LIMIT = {"minValue": "min", "maxValue": "max", "maxAllowedFields": "maxItems"}
_CATALOG_TS = "nodes/CreativeAi/generated/catalog.ts"
_FIELDS_TS = "nodes/CreativeAi/generated/descriptions/fields.ts"


def _writings(f: Field) -> dict[str, list[str]]:
    """Every block of the package that writes something about one field, by file: its entry
    in FIELDS, its statements in descriptions/fields.ts (its parameter, any constant of its
    own) and each operation's settings on top of its parameter."""
    out: dict[str, list[str]] = {}
    table = FILES[_CATALOG_TS].decode().split("export const FIELDS", 1)[1].split("\n};", 1)[0]
    out[_CATALOG_TS] = re.findall(rf"^\t{f.key}: {{$.*?^\t}},$", table, re.M | re.S)
    name = camel(f.key)
    out[_FIELDS_TS] = [
        statement
        for statement in FILES[_FIELDS_TS].decode().split("\n\n")
        if re.match(rf"(export )?const {name}(Choices)?: ", statement)
    ]
    for path, content in FILES.items():
        if path.startswith(RESOURCES) and path.endswith(".ts"):
            text = content.decode()
            for m in re.finditer(rf"^(\t+)\.\.\.field\.{name},$", text, re.M):
                end = text.index(f"\n{m.group(1)[:-1]}}}", m.end())
                out.setdefault(path, []).append(text[m.end() : end])
    return out


def _facts(f: Field) -> list[tuple[str, str]]:
    """The facts of a field's spec each block states as a literal (a reference to FIELDS
    states nothing): its limits, each choice, its default."""
    facts: list[tuple[str, str]] = []
    for blocks in _writings(f).values():
        for block in blocks:
            for name, value in _LIMIT.findall(block):
                facts.append((_SAME_LIMIT.get(name, name), value))
            for inline in re.findall(r"^\t+options: \[(.*)\],$", block, re.M):
                facts += [("option", v) for v in re.findall(r"'((?:[^'\\]|\\.)*)'", inline)]
            facts += [("option", v) for v in re.findall(r"^\t+value: '(.*)',$", block, re.M)]
            facts += [("default", v) for v in re.findall(r"^\t+default: (.*),$", block, re.M)]
    return facts


@pytest.mark.parametrize("f", SHOWN, ids=[f.key for f in SHOWN])
def test_each_fact_of_a_fields_spec_is_stated_once(f: Field) -> None:
    """A limit, a choice or a default is written once in the package: the parameter in
    descriptions/ refers to the field's entry in FIELDS (which the node checks values
    against) instead of restating it, and an operation restates none of it."""
    facts = _facts(f)
    repeated = sorted({fact for fact in facts if facts.count(fact) > 1})
    assert not repeated, (f.key, repeated, _writings(f))
    expected = [
        (name, literal(value))
        for name, value in (
            ("min", f.minimum),
            ("max", f.maximum),
            ("minLength", f.min_length),
            ("maxLength", f.max_length),
            ("minItems", f.min_items),
            ("maxItems", f.max_items),
        )
        if value is not None
    ]
    if f.type is FieldType.ENUM and f.closed:
        expected += [("option", v) for v in f.option_values]
    assert sorted(fact for fact in facts if fact[0] != "default") == sorted(expected), f.key


def test_a_batch_names_its_list_field_and_restates_none_of_it() -> None:
    """A batch's wire name, entry fields and size are its list field's, in FIELDS."""
    batch = CATALOG.operation("batch.create")
    [list_field] = [u.field for u in batch.fields if u.field.type is FieldType.OBJECT_LIST]
    blocks = re.findall(r"^\t\tbatch: \{$.*?^\t\t\},$", FILES[_CATALOG_TS].decode(), re.M | re.S)
    assert blocks
    for block in blocks:
        assert f"list: '{list_field.key}'," in block
        assert not re.search(r"^\t+(max|maxItems|perItem|listField):", block, re.M), block


def _field(key: str) -> Field:
    return next(f for f in SHOWN if f.key == key)


@pytest.mark.parametrize(
    ("key", "path", "old", "new"),
    [
        ("duration", _FIELDS_TS, "maxValue: FIELDS.duration.max,", "maxValue: 15,"),
        ("size", _FIELDS_TS, "options: FIELDS.size.options,", "options: ['1024x1024'],"),
        (
            "size",
            f"{RESOURCES}/image/generate.ts",
            "\t\t\tfield.size,\n",
            "\t\t\t{\n\t\t\t\t...field.size,\n\t\t\t\tdefault: '1024x1024',\n\t\t\t},\n",
        ),
    ],
    ids=["limit", "choice", "default"],
)
def test_the_repetition_check_catches_a_restated_fact(
    key: str, path: str, old: str, new: str
) -> None:
    """The check above reads what the files say: a parameter that restates its field's
    maximum or a choice, or an operation that restates the default, fails it."""
    content = FILES[path]
    assert old.encode() in content, (path, old)
    FILES[path] = content.replace(old.encode(), new.encode(), 1)
    try:
        with pytest.raises(AssertionError):
            test_each_fact_of_a_fields_spec_is_stated_once(_field(key))
    finally:
        FILES[path] = content
    test_each_fact_of_a_fields_spec_is_stated_once(_field(key))


def _optional_fields() -> list[Field]:
    keys = {u.field.key for op in N8N_OPS for u in P.split(op).additional}
    return [f for f in SHOWN if f.key in keys]


@pytest.mark.parametrize("f", _optional_fields(), ids=[f.key for f in _optional_fields()])
def test_an_optional_fields_example_is_its_placeholder_never_its_default(f: Field) -> None:
    """n8n sends an added field's default: an example there is a value nobody chose."""
    prop = sources.field_property(CATALOG, f)
    assert literal(prop) in FIELDS_TS
    if f.default is not None:
        assert prop["default"] == f.default
    elif f.type is FieldType.FILE:  # n8n's usual name of an item's binary field
        assert prop["default"] == "data"
    elif prop["type"] == "number":  # the least value it takes
        assert prop["default"] == (f.minimum if f.minimum is not None else 0), f.key
    elif prop["type"] == "options" and f.closed:  # the first choice, in the API's order
        assert prop["default"] == f.options[0].value, f.key
    else:
        assert prop["default"] in ("", [], {}, False), f.key
    if f.example is not None and prop["type"] in ("number", "string"):
        assert prop["placeholder"] == f"e.g. {f.example}", f.key


def test_a_new_optional_numbers_example_is_not_its_default() -> None:
    new = _field("duration").model_copy(update={"default": None, "example": 42, "minimum": 1})
    prop = P.property_for(new)
    assert prop["default"] == 1 and prop["placeholder"] == "e.g. 42"


def test_operations_name_their_fields_by_key_with_their_own_flags() -> None:
    catalog_ts = FILES["nodes/CreativeAi/generated/catalog.ts"].decode()
    for op in N8N_OPS:
        text = FILES[f"{RESOURCES}/{op.resource}/{P.op_value(op)}.ts"]
        split = P.split(op)
        for use in split.top:
            assert f"field: '{use.field.key}',\n\t\t\t\trequired: true" in catalog_ts
            assert f"...field.{camel(use.field.key)}," in text.decode()
        for use in split.additional:
            assert f"field: '{use.field.key}',\n\t\t\t\tadditional: true" in catalog_ts


@pytest.mark.parametrize("op", N8N_OPS, ids=[op.key for op in N8N_OPS])
def test_fields_keep_the_catalogs_types_ranges_and_defaults(op: Operation) -> None:
    split = P.split(op)
    assert all(u.required for u in split.top) and not any(u.required for u in split.additional)
    for use in (*split.top, *split.additional):
        f = use.field
        prop = P.property_for(f)
        if f.type in (FieldType.INTEGER, FieldType.NUMBER):
            assert prop["type"] == "number"
            assert prop["typeOptions"].get("minValue") == f.minimum
            assert prop["typeOptions"].get("maxValue") == f.maximum
            if f.default is not None:
                assert prop["default"] == f.default
        elif f.options_source:
            assert prop["type"] == "options"
            assert prop["typeOptions"]["loadOptionsMethod"].startswith("get")
        elif f.type is FieldType.ENUM and f.closed:
            assert sorted(o["value"] for o in prop["options"]) == sorted(f.option_values)
            assert prop["default"] in f.option_values
        elif f.type is FieldType.BOOLEAN:
            assert prop["type"] == "boolean"
            assert prop["default"] == bool(f.default)
            assert prop["description"].startswith("Whether")
        elif f.type is FieldType.FILE:
            assert prop["name"].endswith("BinaryPropertyName")
        spec = P.field_spec(f)
        assert spec["wire"] == f.name and spec["allowed"] == f.allowed()


def test_async_operations_offer_the_three_completions_with_the_catalogs_cadence() -> None:
    for op in N8N_OPS:
        text = FILES[f"{RESOURCES}/{op.resource}/{P.op_value(op)}.ts"].decode()
        if op.is_async and op.job is not None:
            cadence = limits.POLL_CADENCE[op.job]
            assert f"completionFields(showFor, {cadence.interval:g}, {cadence.timeout:g})" in text
        else:
            assert "completionFields" not in text
    completion = FILES["nodes/CreativeAi/generated/descriptions/completion.ts"].decode()
    for value in ("'none'", "'poll'", "'webhook'"):
        assert f"value: {value}" in completion


def test_the_trigger_lists_every_catalog_event() -> None:
    text = FILES["nodes/CreativeAiTrigger/CreativeAiTrigger.node.ts"].decode()
    assert re.findall(r"value: '([a-z.]+)'", text) == sorted(
        CATALOG.events, key=lambda n: sort_key(CATALOG.events[n].label)
    )


def test_the_credential_tests_against_the_model_list_and_hides_the_key() -> None:
    text = FILES["credentials/CreativeAiApi.credentials.ts"].decode()
    assert f"url: '{CATALOG.operation('model.list').path}'" in text
    assert "password: true" in text
    assert f"default: '{limits.DEFAULT_BASE_URL}'" in text
    assert "Authorization: '=Bearer {{$credentials.apiKey}}'" in text


def test_package_json_follows_the_community_conventions() -> None:
    meta = json.loads(FILES["package.json"])
    assert meta["name"].startswith("n8n-nodes-")
    assert "n8n-community-node-package" in meta["keywords"]
    assert meta["files"] == ["dist"]
    assert "dependencies" not in meta
    assert meta["peerDependencies"] == {"n8n-workflow": "*"}
    assert meta["n8n"]["strict"] is True and meta["n8n"]["n8nNodesApiVersion"] == 1


def test_sorting_matches_javascripts_locale_compare() -> None:
    names = ["9:16 (Vertical)", "16:9 (Landscape)", "1:1 (Square)", "4:3", "21:9 (Cinema)", "3:4"]
    assert sorted(names, key=sort_key) == [
        "1:1 (Square)",
        "16:9 (Landscape)",
        "21:9 (Cinema)",
        "3:4",
        "4:3",
        "9:16 (Vertical)",
    ]


def test_literals_escape_quotes_and_keep_references_raw() -> None:
    assert literal("it's") == "'it\\'s'"
    assert literal({"a-b": 1, "c": [1, 2]}) == "{\n\t'a-b': 1,\n\tc: [1, 2],\n}"


# -- the node reads right (n8n's UI guidelines) ---------------------------------------------

FIELDS_TS = FILES["nodes/CreativeAi/generated/descriptions/fields.ts"].decode()


def _operation_file(op: Operation) -> str:
    return FILES[f"{RESOURCES}/{op.resource}/{P.op_value(op)}.ts"].decode()


def test_an_operation_without_options_shows_no_empty_options_collection() -> None:
    for op in N8N_OPS:
        text = _operation_file(op)
        if "option." in text:
            assert "placeholder: 'Add Option'" in text
        else:
            assert "Add Option" not in text, op.key
    assert "Add Option" not in _operation_file(CATALOG.operation("model.list"))


def test_the_event_list_speaks_to_the_builder() -> None:
    text = FILES["nodes/CreativeAiTrigger/CreativeAiTrigger.node.ts"].decode()
    assert "API docs" not in text and "naming rule" not in text
    for event in CATALOG.events.values():
        if not event.documented:
            assert literal(n8n_description(unconfirmed_note([event.name]))) in text


@pytest.mark.parametrize("f", [f for f in SHOWN if f.type is FieldType.ENUM and f.closed])
def test_choices_keep_the_catalogs_order(f: Field) -> None:
    assert f"options: FIELDS.{f.key}.options," in FIELDS_TS
    [entry] = _writings(f)[_CATALOG_TS]
    assert re.findall(r"value: '([^']*)'", entry) == list(f.option_values)


def test_options_that_act_after_the_job_are_hidden_where_they_would_be_ignored() -> None:
    after_job = "'/completion': ['poll', 'webhook']"
    for op in N8N_OPS:
        text = _operation_file(op)
        if op.is_async and "option.download" in text:
            for name in ("download", "binaryPropertyName"):
                entry = text.split(f"...option.{name},", 1)[1].split("},\n\t\t\t},", 1)[0]
                assert after_job in entry, (op.key, name)
        if op.is_async and "field.webhookUrl" in text:
            entry = text.split("...field.webhookUrl,", 1)[1].split("},\n\t\t\t},", 1)[0]
            assert "hide:" in entry and "'/completion': ['webhook']" in entry, op.key


def test_the_completion_choice_has_a_description_of_its_own() -> None:
    completion = FILES["nodes/CreativeAi/generated/descriptions/completion.ts"].decode()
    head = completion.split("name: 'completion',", 1)[1].split("options: [", 1)[0]
    assert "description:" in head


def _github_anchors(markdown: str) -> set[str]:
    return {
        sources.github_anchor(line.lstrip("#").strip())
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def test_the_credentials_documentation_link_points_at_a_readme_heading() -> None:
    anchors = _github_anchors(FILES["README.md"].decode())
    credential = FILES["credentials/CreativeAiApi.credentials.ts"].decode()
    [url] = re.findall(r"documentationUrl = '([^']+)'", credential)
    codex = json.loads(FILES["nodes/CreativeAi/CreativeAi.node.json"])
    [doc] = codex["resources"]["credentialDocumentation"]
    for link in (url, doc["url"]):
        assert link.startswith(sources.REPOSITORY_URL + "#"), link
        assert link.split("#", 1)[1] in anchors, (link, sorted(anchors))


def test_the_readme_follows_n8ns_community_node_template() -> None:
    headings = [
        line[3:].strip() for line in FILES["README.md"].decode().splitlines() if line[:3] == "## "
    ]
    template = ["Installation", "Operations", "Credentials", "Compatibility", "Usage", "Resources"]
    assert [h for h in headings if h in template] == template


def test_the_package_publishes_from_github_actions_with_provenance() -> None:
    workflow = FILES[".github/workflows/publish.yml"].decode()
    assert GENERATED_NOTICE in workflow.splitlines()[0]
    assert "id-token: write" in workflow and "npm run release" in workflow
    meta = json.loads(FILES["package.json"])
    assert meta["publishConfig"]["provenance"] is True
    assert meta["scripts"]["release"] == "n8n-node release"


def test_the_credential_test_says_what_is_wrong_in_words() -> None:
    text = FILES["credentials/CreativeAiApi.credentials.ts"].decode()
    rules = text.split("const TEST_RULES: TestRule[] = [", 1)[1].split("\n];", 1)[0]
    denied = CATALOG.errors["authentication_error"]
    assert "value: 401" in rules and literal(f"{denied.title}: {denied.advice}") in rules
    assert "value: 404" in rules and "Base URL" in rules
    for status in errors.CHECK_STATUSES:
        assert f"value: {status},\n" in rules
        assert literal(errors.check_refused(status, "/v1/models")) in rules
    assert literal(errors.check_not_the_api("/v1/models")) in rules
    # The 2xx rule fails a body without the key: every model list has it.
    assert responses.ModelList.model_fields[errors.CHECK_ANSWER_KEY].is_required()
    assert "rules: TEST_RULES as ICredentialTestRequest['rules']," in text


def _shown(op: Operation, f: Field, attr: str) -> str | None:
    """What the operation's description file shows for one attribute of a field: its own
    setting on the shared parameter, or the shared parameter's."""
    text = _operation_file(op)
    spread = f"...field.{camel(f.key)},"
    if spread in text:
        entry = text.split(spread, 1)[1].split("},", 1)[0]
        own = re.search(rf"^\t+{attr}: '((?:[^'\\]|\\.)*)',$", entry, re.M)
        if own:
            return own.group(1).replace("\\'", "'")
    value = sources.field_property(CATALOG, f).get(attr)
    return None if value is None else str(value)


def test_placeholders_belong_to_the_operation() -> None:
    prompt = CATALOG.fields[[f.key for f in CATALOG.fields].index("prompt")]
    for op in N8N_OPS:
        if any(u.field.key == "prompt" for u in op.visible_fields("n8n")) and op.job is None:
            # Not a video operation: the field's (video) example is not its placeholder.
            assert _shown(op, prompt, "placeholder") != f"e.g. {prompt.example}", op.key


def test_no_help_text_contradicts_its_field() -> None:
    for op in N8N_OPS:
        uses = op.visible_fields("n8n")
        keys = {u.field.key for u in uses} | {c.key for u in uses for c in u.field.children}
        for use in op.visible_fields("n8n"):
            help_text = _shown(op, use.field, "description") or ""
            if "source image" in help_text.lower():
                assert keys & {"image_url", "batch_image_url", "image_file"}, (op.key, help_text)
            assert "leave empty" not in help_text.lower(), (op.key, use.field.key, help_text)
