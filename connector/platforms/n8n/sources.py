"""The TypeScript sources of the package, from the catalog and the templates in `templates/`.

In `nodes/CreativeAi/generated/`: `catalog.ts` (each field once, then the operations naming
their fields by key, the table the hand-written `runtime/` reads), `descriptions/` (each
field's n8n parameter once, the Options entries, the Completion settings) and
`resources/<resource>/<operation>.ts` (which shared parameters an operation shows, and how).
Beside them, where n8n looks for them: the node entry files and the credential."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from connector.catalog import (
    Catalog,
    Field,
    FieldType,
    FieldUse,
    ModelSource,
    Operation,
    errors,
    limits,
    states,
    steps,
)
from connector.catalog.contract import Output, OutputField
from connector.catalog.events import unconfirmed_note
from connector.catalog.resources import BY_KEY as RESOURCES
from connector.catalog.spec import JobKind, NormalizedState
from connector.catalog.text import n8n_description
from connector.platforms import GENERATED_NOTICE
from connector.platforms.n8n import properties as P
from connector.platforms.n8n.ts import Raw, camel, literal, pascal, sort_key, string, template

HEADER = f"// {GENERATED_NOTICE}\n"
NODE_DIR = "nodes/CreativeAi"
TRIGGER_DIR = "nodes/CreativeAiTrigger"
#: Inside each node folder: what the emitter writes (the hand-written code is in `runtime/`).
GENERATED = "generated"
CREDENTIAL = "creativeAiApi"
ICON = {"light": "file:../../icons/creativeai.svg", "dark": "file:../../icons/creativeai.dark.svg"}
CRED_ICON = {"light": "file:../icons/creativeai.svg", "dark": "file:../icons/creativeai.dark.svg"}
REPOSITORY_URL = "https://github.com/creativeai/n8n-nodes-creativeai"
DOCS_URL = f"{REPOSITORY_URL}#readme"
#: The README heading the credential's documentation link points at.
CREDENTIALS_HEADING = "Credentials"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a README heading ("Credentials" -> "credentials")."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


CREDENTIALS_URL = f"{REPOSITORY_URL}#{github_anchor(CREDENTIALS_HEADING)}"

#: How long n8n 2.41 waits for the credential test's answer: its routing node sets 300 s on
#: every declarative request and overrides a `timeout` in the test request.
N8N_TEST_TIMEOUT_MINUTES = 5

#: What n8n's network error codes mean for the Base URL. n8n 2.41 shows a network error of
#: the credential test as its bare code, which no rule can reword (only HTTP answers reach
#: the rules), so the README's Credentials section, where the credential's documentation
#: link points, says it in words.
NETWORK_ERRORS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("ECONNREFUSED",),
        "Nothing listens at the Base URL's host and port: check the port, or start the proxy "
        "or sandbox it names.",
    ),
    (
        ("ENOTFOUND", "EAI_AGAIN"),
        "The Base URL's host name does not resolve: check its spelling (or n8n's DNS).",
    ),
    (
        (
            "DEPTH_ZERO_SELF_SIGNED_CERT",
            "SELF_SIGNED_CERT_IN_CHAIN",
            "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            "ERR_TLS_CERT_ALTNAME_INVALID",
            "CERT_HAS_EXPIRED",
        ),
        "n8n does not trust the Base URL's HTTPS certificate: use the API's own URL, or give "
        "n8n your proxy's certificate authority (`NODE_EXTRA_CA_CERTS`).",
    ),
    (
        ("EPROTO",),
        "The Base URL says `https://` to a server that speaks plain HTTP: check its scheme "
        "and port.",
    ),
    (
        ("ECONNABORTED", "ETIMEDOUT"),
        f"No answer within n8n's {N8N_TEST_TIMEOUT_MINUTES} minutes: check the Base URL and "
        "the network (firewall, proxy) between n8n and it.",
    ),
    (
        ("ECONNRESET",),
        "The connection was cut before an answer, often by a proxy or firewall in between.",
    ),
)

#: Default number of requests the node keeps in flight for many items (at most the API's cap).
DEFAULT_PARALLEL = 5


def resources(catalog: Catalog) -> dict[str, list[Operation]]:
    out: dict[str, list[Operation]] = {}
    for op in catalog.for_platform("n8n"):
        out.setdefault(op.resource, []).append(op)
    return out


def resource_label(ops: list[Operation]) -> str:
    return RESOURCES[ops[0].resource].label


# -- the shared descriptions: each field's parameter once, the Options entries once -------


def _export(key: str) -> str:
    return camel(key)


def _as_shared(child: Field, shared: dict[str, Field]) -> Field | None:
    """The shown field a collection's child copies (a batch entry's prompt is the prompt)."""
    for f in shared.values():
        own = {"key": child.key, "operations": (), "required_in": (), "required": child.required}
        if f.model_copy(update=own) == child:
            return f
    return None


def n8n_fields(catalog: Catalog) -> dict[str, Field]:
    """Every field the node shows, once, by the key the generated files name it by: path
    parameters, body fields in catalog order, then the children of collections that are not
    copies of a field already listed."""
    out: dict[str, Field] = {}
    for op in catalog.for_platform("n8n"):
        for param in op.path_params:
            out.setdefault(param.key, param)
    shown = {u.field.key for op in catalog.for_platform("n8n") for u in P.split(op).all}
    for f in catalog.fields:
        if f.key in shown:
            if f.key in out:
                raise ValueError(f"field {f.key!r} is both a path parameter and a body field")
            out[f.key] = f
    for f in list(out.values()):
        for c in f.children:
            if _as_shared(c, out) is None:
                out.setdefault(c.key, c)
    return out


def child_key(catalog: Catalog) -> Callable[[Field], str]:
    fields = n8n_fields(catalog)

    def key(child: Field) -> str:
        shared = _as_shared(child, fields)
        return shared.key if shared else child.key

    return key


def _path_params(catalog: Catalog) -> set[str]:
    return {p.key for op in catalog.for_platform("n8n") for p in op.path_params}


#: What a field's parameter shows of its `FIELDS` entry (n8n's name -> the entry's), read from
#: there rather than restated: the runtime checks a value against the same entry.
_FROM_TABLE = {"minValue": "min", "maxValue": "max", "maxAllowedFields": "maxItems"}


def field_property(catalog: Catalog, f: Field) -> dict[str, Any]:
    """A field's shared n8n parameter, as `descriptions/fields.ts` holds it: its limits and a
    closed list's choices refer to the field's entry in `FIELDS` (each stated once there)."""
    name = P.path_param_name(f) if f.key in _path_params(catalog) else None
    key = child_key(catalog)
    prop = P.property_for(f, name=name, child=lambda c: Raw(_export(key(c))))
    entry = f"FIELDS.{f.key}"
    if prop["type"] == "options" and isinstance(prop.get("options"), list):
        prop["options"] = Raw(f"{entry}.options")
    if isinstance(prop.get("typeOptions"), dict):
        prop["typeOptions"] = {
            k: Raw(f"{entry}.{_FROM_TABLE[k]}") if k in _FROM_TABLE else v
            for k, v in prop["typeOptions"].items()
        }
    return prop


def field_table_entry(catalog: Catalog, f: Field) -> Any:
    """A field's entry in `FIELDS` of catalog.ts."""
    name = P.path_param_name(f) if f.key in _path_params(catalog) else None
    return P.field_spec(f, param=name, child_key=child_key(catalog))


def fields_file(catalog: Catalog) -> str:
    # Children first: a collection's parameter refers to its children's constants.
    ordered = sorted(n8n_fields(catalog).values(), key=lambda f: bool(f.children))
    blocks = [
        f"export const {_export(f.key)}: INodeProperties = {literal(field_property(catalog, f))};\n"
        for f in ordered
    ]
    return (
        HEADER
        + "// Every field's parameter, once; each operation's description names the ones it uses.\n"
        + "// Limits and choices come from the field's entry in FIELDS, the table the node checks\n"
        + "// values against (choices in the API's order: 480p, 720p, 1080p).\n"
        + "import type { INodeProperties } from 'n8n-workflow';\n"
        + "import { FIELDS } from '../catalog';\n\n"
        + "\n".join(blocks)
    )


def _option_properties() -> dict[str, dict[str, Any]]:
    return {
        "download": {
            "displayName": "Download Result",
            "name": "download",
            "type": "boolean",
            "default": False,
            "description": "Whether to put the finished file into the item's binary data "
            f"(output URLs expire after {limits.OUTPUT_URL_LIFETIME_DAYS} days)",
        },
        "binaryPropertyName": {
            "displayName": "Put Output File in Field",
            "name": "binaryPropertyName",
            "type": "string",
            "default": "data",
            "description": "Name of the binary field the downloaded file goes to",
        },
        "parallel": {
            "displayName": "Parallel Requests",
            "name": "parallel",
            "type": "number",
            "typeOptions": {
                "minValue": 1,
                "maxValue": limits.MAX_PARALLEL_REQUESTS,
                "numberPrecision": 0,
            },
            "default": DEFAULT_PARALLEL,
            "description": "How many items are sent at once when the node gets many items "
            f"(the API allows up to {limits.MAX_PARALLEL_REQUESTS} per key)",
        },
        "batchItems": {
            "displayName": "Send Items as Batches",
            "name": "batchItems",
            "type": "boolean",
            "default": True,
            "description": "Whether to send many items as batch calls of up to "
            f"{limits.BATCH_MAX_PROMPTS} videos (items using only the batch's fields). When "
            "the API refuses one entry, that item gets the error and the others are sent "
            "again without it, in the same run (a refused call is not billed).",
        },
        "maxFileSize": {
            "displayName": "Max File Size (MB)",
            "name": "maxFileSize",
            "type": "number",
            "typeOptions": {"minValue": 0, "numberPrecision": 1},
            "default": 0,
            "description": "The largest file Download Result puts into binary data; a larger "
            "one stays at its URL, with a message naming its size (0: no limit, the file is "
            f"{limits.N8N_BINARY_DATA.handling})",
        },
        "maxCredits": {
            "displayName": steps.MAX_CREDITS.label,
            "name": "maxCredits",
            "type": "number",
            "typeOptions": {"minValue": steps.MAX_CREDITS.minimum, "numberPrecision": 0},
            "default": steps.MAX_CREDITS.minimum,
            "description": n8n_description(steps.MAX_CREDITS.help),
        },
        "recordKey": {
            "displayName": steps.RECORD_KEY.label,
            "name": "recordKey",
            "type": "string",
            "default": "",
            "placeholder": "e.g. SKU-1042",
            "description": n8n_description(f"{steps.RECORD_KEY.help} {steps.STATIC_DATA_LEDGER}"),
        },
    }


def options_file() -> str:
    blocks = [
        f"export const {name}: INodeProperties = {literal(prop)};\n"
        for name, prop in _option_properties().items()
    ]
    return (
        HEADER
        + "// The entries of the operations' Options collections, once.\n"
        + "import type { INodeProperties } from 'n8n-workflow';\n\n"
        + "\n".join(blocks)
    )


def _options_for(op: Operation) -> list[str]:
    names: list[str] = []
    if op.response in ("VideoJob", "SharedJob", "ImageResult", "BatchCreated"):
        names += ["download", "binaryPropertyName", "maxFileSize"]
    if op.kind.value != "list":
        names.append("parallel")
    if op.key in _batchable(op):
        names.append("batchItems")
    if _is_capped(op):
        names += ["maxCredits", "recordKey"]
    return names


def _is_capped(op: Operation) -> bool:
    return op.key in {o.key for o in steps.capped([op])}


#: Options that only act once a job has finished: hidden under "Don't Wait".
_AFTER_THE_JOB = ("download", "binaryPropertyName", "maxFileSize")
#: Fields the node sets itself under "Resume by Webhook": hidden there.
_SET_BY_RESUME = ("webhook_url",)


def _when_completion(modes: list[str], *, hide: bool = False) -> dict[str, Any]:
    # "/completion": the top-level Completion parameter, seen from inside a collection.
    return {"hide" if hide else "show": {"/completion": modes}}


def _option_ref(op: Operation, name: str) -> Any:
    if name == "maxCredits" and op.key in _batchable(op):
        help_text = f"{steps.MAX_CREDITS.help} {steps.PER_CALL_CAP}"
        return {Raw("...option.maxCredits"): None, "description": n8n_description(help_text)}
    if op.is_async and name in _AFTER_THE_JOB:
        return {
            Raw(f"...option.{name}"): None,
            "displayOptions": _when_completion(["poll", "webhook"]),
        }
    return Raw(f"option.{name}")


def _batchable(op: Operation) -> tuple[str, ...]:
    return (op.key,) if op.job is JobKind.VIDEO and op.is_async else ()


# -- generated/resources/<resource>/<operation>.ts ------------------------------------------


def _completion(op: Operation) -> list[Any]:
    if not op.is_async or op.job is None:
        return []
    cadence = limits.POLL_CADENCE[op.job]
    return [Raw(f"...completionFields(showFor, {cadence.interval:g}, {cadence.timeout:g})")]


def _ref(f: Field, **overrides: Any) -> Any:
    """A field's shared parameter, with this operation's own settings on top."""
    if not overrides:
        return Raw(f"field.{_export(f.key)}")
    return {Raw(f"...field.{_export(f.key)}"): None, **overrides}


def _own(use: FieldUse) -> dict[str, Any]:
    """What one operation shows differently from the field's shared parameter: the
    placeholder and description made from its own help and example (`Operation.field_text`)."""
    if use.own is None:
        return {}
    shared, own = P.property_for(use.field), P.property_for(use.shown)
    return {k: own[k] for k in ("placeholder", "description") if own.get(k) != shared.get(k)}


def _collection(op: Operation, use: FieldUse) -> Any:
    f, own = use.field, _own(use)
    # A file field inside a collection starts empty (at the top it names the `data` field).
    if f.type is FieldType.FILE:
        return _ref(f, default="", **own)
    if op.is_async and f.name in _SET_BY_RESUME:
        return _ref(f, displayOptions=_when_completion(["webhook"], hide=True), **own)
    return _ref(f, **own)


def operation_file(op: Operation) -> str:
    fields = P.split(op)
    props: list[Any] = []
    for param in op.path_params:
        props.append(_ref(param, required=True, displayOptions=Raw("showFor")))
    for use in fields.top:
        props.append(_ref(use.field, **_own(use), required=True, displayOptions=Raw("showFor")))
    for index, group in enumerate(fields.choices):
        choice = P.choice_property(index, group)
        props.append({**choice, "displayOptions": Raw("showFor")})
        for use in group:
            when = {"show": {Raw("...showFor.show"): None, choice["name"]: [use.field.name]}}
            props.append(_ref(use.field, **_own(use), required=True, displayOptions=when))
    props += _completion(op)
    if fields.additional:
        ordered = sorted(
            fields.additional,
            key=lambda u: sort_key(str(P.property_for(u.field, in_collection=True)["displayName"])),
        )
        props.append(
            {
                "displayName": "Additional Fields",
                "name": P.ADDITIONAL,
                "type": "collection",
                "placeholder": "Add Field",
                "default": {},
                "displayOptions": Raw("showFor"),
                "options": [_collection(op, u) for u in ordered],
            }
        )
    entries = _option_properties()
    chosen = sorted(_options_for(op), key=lambda n: sort_key(str(entries[n]["displayName"])))
    if chosen:  # an operation without options shows no empty "Add Option" button
        props.append(
            {
                "displayName": "Options",
                "name": "options",
                "type": "collection",
                "placeholder": "Add Option",
                "default": {},
                "displayOptions": Raw("showFor"),
                "options": [_option_ref(op, name) for name in chosen],
            }
        )
    imports = "import type { INodeProperties } from 'n8n-workflow';\n"
    if op.is_async:
        imports += "import { completionFields } from '../../descriptions/completion';\n"
    if op.path_params or fields.all:
        imports += "import * as field from '../../descriptions/fields';\n"
    if chosen:
        imports += "import * as option from '../../descriptions/options';\n"
    name = f"{camel(op.resource)}{pascal(P.op_value(op))}Description"
    show = literal(P.show_for(op.resource, P.op_value(op))["show"])
    show_for = f"\nconst showFor = {{\n\tshow: {show.replace(chr(10), chr(10) + chr(9))},\n}};\n"
    return (
        HEADER
        + imports
        + (show_for if props else "")
        + f"\nexport const {name}: INodeProperties[] = {literal(props)};\n"
    )


def resource_index(resource: str, ops: list[Operation]) -> str:
    lines = [HEADER, "import type { INodeProperties } from 'n8n-workflow';\n"]
    names = []
    for op in ops:
        name = f"{camel(resource)}{pascal(P.op_value(op))}Description"
        names.append(name)
        lines.append(f"import {{ {name} }} from './{P.op_value(op)}';\n")
    options = sorted(
        (
            {
                "name": op.label,
                "value": P.op_value(op),
                "description": n8n_description(op.description),
                "action": op.label[:1] + op.label[1:].lower(),
            }
            for op in ops
        ),
        key=lambda o: sort_key(str(o["name"])),
    )
    operation = {
        "displayName": "Operation",
        "name": "operation",
        "type": "options",
        "noDataExpression": True,
        "displayOptions": {"show": {"resource": [resource]}},
        "options": options,
        "default": P.op_value(ops[0]),
    }
    body = [Raw(literal(operation, 1)), *(Raw(f"...{n}") for n in names)]
    lines.append(
        f"\nexport const {camel(resource)}Description: INodeProperties[] = {literal(body)};\n"
    )
    return "".join(lines)


# -- the nodes and the credential (templates/, filled in from the catalog) ------------------


def action_node(catalog: Catalog) -> str:
    by_resource = resources(catalog)
    sources = {
        use.field.options_source
        for op in catalog.for_platform("n8n")
        for use in op.fields
        if use.field.options_source
    }
    loaders = P.model_kinds({s for s in sources if s})
    imports = [
        f"import {{ {camel(r)}Description }} from './{GENERATED}/resources/{r}';"
        for r in by_resource
    ]
    resource_prop = {
        "displayName": "Resource",
        "name": "resource",
        "type": "options",
        "noDataExpression": True,
        "options": sorted(
            ({"name": resource_label(ops), "value": r} for r, ops in by_resource.items()),
            key=lambda o: sort_key(str(o["name"])),
        ),
        "default": next(iter(by_resource)),
    }
    spreads = [Raw(f"...{camel(r)}Description") for r in by_resource]
    props = [Raw(literal(resource_prop, 3)), *spreads]
    methods = "\n".join(
        f"\t\t\tasync {method}(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {{\n"
        f"\t\t\t\treturn await listModels.call(this, MODEL_SOURCES.{method});\n"
        "\t\t\t},"
        for method in loaders
    )
    return template(
        "CreativeAi.node.ts",
        GENERATED_NOTICE,
        imports="\n".join(imports),
        icon=literal(ICON, 2),
        credential=string(CREDENTIAL),
        properties=literal(props, 2),
        loaders=methods,
    )


def trigger_node(catalog: Catalog) -> str:
    events = [e for e in catalog.events.values()]
    options = sorted(
        (
            {
                "name": e.label,
                "value": e.name,
                "description": f"Event {e.name}"
                if e.documented
                else n8n_description(unconfirmed_note([e.name])),
            }
            for e in events
        ),
        key=lambda o: sort_key(str(o["name"])),
    )
    props = [
        {
            "displayName": "With a relay URL in the credential, this trigger subscribes itself "
            "when the workflow is published. Without one, paste this node's Production URL into "
            "the Webhook URL of the jobs you start.",
            "name": "notice",
            "type": "notice",
            "default": "",
        },
        {
            "displayName": "Events",
            "name": "events",
            "type": "multiOptions",
            "options": options,
            "default": [],
            "description": "Which completion events start the workflow (none chosen: every event)",
        },
    ]
    return template(
        "CreativeAiTrigger.node.ts",
        GENERATED_NOTICE,
        icon=literal(ICON, 2),
        credential=string(CREDENTIAL),
        properties=literal(props, 2),
    )


def credentials(catalog: Catalog) -> str:
    models = catalog.operation("model.list")
    props = [
        {
            "displayName": "API Key",
            "name": "apiKey",
            "type": "string",
            "typeOptions": {"password": True},
            "required": True,
            "default": "",
            "description": f"Your CreativeAI API key ({limits.API_KEYS_PAGE}). It also checks the "
            "signatures of completion webhooks.",
        },
        {
            "displayName": "Base URL",
            "name": "baseUrl",
            "type": "string",
            "default": limits.DEFAULT_BASE_URL,
            "description": "Change only for a proxy, a self-hosted gateway or the local sandbox",
        },
        {
            "displayName": "Relay URL",
            "name": "relayUrl",
            "type": "string",
            "default": "",
            "placeholder": "e.g. https://relay.example.com",
            "description": "Optional: your webhook relay. With it, resumed executions and "
            "triggers get verified, deduplicated, retried deliveries.",
        },
    ]
    return template(
        "CreativeAiApi.credentials.ts",
        GENERATED_NOTICE,
        credential=string(CREDENTIAL),
        icon=literal(CRED_ICON, 1),
        docs_url=string(CREDENTIALS_URL),
        properties=literal(props, 1),
        test_path=string(models.path),
        test_rules=literal(_credential_test_rules(models.path)),
    )


def _credential_test_rules(path: str) -> list[dict[str, Any]]:
    """What the credential test says, in words, for the answers that name the problem.

    n8n returns a rule's message verbatim (no expressions), matches `responseCode` rules on
    the exact status of a non-2xx answer, and fails a 2xx answer whose body's `key` equals
    `value` (`undefined` here: the model list's own key is missing). A network error (refused,
    DNS, TLS, timeout) never reaches the rules: n8n 2.41 shows its bare code."""
    refused = [
        {
            "type": "responseCode",
            "properties": {"value": status, "message": errors.check_refused(status, path)},
        }
        for status in errors.CHECK_STATUSES
    ]
    not_the_api = {
        "type": "responseSuccessBody",
        "properties": {
            "key": errors.CHECK_ANSWER_KEY,
            "value": None,
            "message": errors.check_not_the_api(path),
        },
    }
    return [*refused, not_the_api]


# -- catalog.ts: the operation table the runtime reads -------------------------------------------


def _output_keys(fields: tuple[OutputField, ...]) -> dict[str, Any]:
    nested = {f.key: _output_keys(f.children) for f in fields if f.children}
    return {"keys": [f.key for f in fields], **({"children": nested} if nested else {})}


def _output(out: Output) -> dict[str, Any]:
    """What a step outputs, from the catalog's output contract: its keys and, for a job, the
    kind whose status spelling it uses (the runtime's shape.ts applies it)."""
    return {**({"job": out.job.value} if out.job else {}), **_output_keys(out.fields)}


def outputs(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Each distinct output once, named after the first operation or event that gives it
    (video.create_from_text gives what video.get gives)."""
    table: dict[str, dict[str, Any]] = {}
    steps = [(op.key, catalog.output(op.key)) for op in catalog.for_platform("n8n")]
    steps += [(name, catalog.event_output(name)) for name in catalog.events]
    for name, out in steps:
        spec = _output(out)
        if spec not in table.values():
            table[name] = spec
    return table


def output_name(catalog: Catalog, out: Output) -> str:
    spec = _output(out)
    return next(name for name, known in outputs(catalog).items() if known == spec)


def _spelling() -> dict[str, dict[str, str]]:
    return {
        kind.value: {state.value: states.spell(kind, state) for state in NormalizedState}
        for kind in JobKind
    }


def _op_spec(catalog: Catalog, op: Operation) -> dict[str, Any]:
    fields = P.split(op)
    spec: dict[str, Any] = {
        "key": op.key,
        "label": op.label,
        "method": op.method,
        "path": op.path,
        "body": op.body,
        "response": op.response,
        "pathParams": [P.use_spec(f.key, required=True, additional=False) for f in op.path_params],
        "fields": [P.use_spec(u.field.key, required=True, additional=False) for u in fields.top]
        + [
            P.use_spec(u.field.key, required=False, additional=False)
            for group in fields.choices
            for u in group
        ]
        + [P.use_spec(u.field.key, required=False, additional=True) for u in fields.additional],
        "output": output_name(catalog, catalog.output(op.key)),
    }
    if _is_capped(op):
        spec["capped"] = True
        defaults = steps.price_defaults(u.field for u in op.visible_fields("n8n"))
        if defaults:
            spec["priceDefaults"] = defaults
    if op.one_of:
        spec["oneOf"] = [list(group) for group in op.one_of]
    if fields.choices:
        spec["choices"] = [
            {"param": P.choice_param(n), "fields": [u.field.name for u in group]}
            for n, group in enumerate(fields.choices)
        ]
    if op.is_async and op.job is not None and op.status_operation:
        status = catalog.operation(op.status_operation)
        cadence = limits.POLL_CADENCE[op.job]
        spec["job"] = {
            "kind": op.job.value,
            "statusPath": status.path,
            "statusLabel": status.label,
            "interval": cadence.interval,
            "timeout": cadence.timeout,
            "events": list(op.events),
        }
    if op.key in _batchable(op):
        batch = catalog.operation("batch.create")
        list_field = next(u.field for u in batch.fields if u.field.type.value == "object_list")
        status = catalog.operation(batch.status_operation or "batch.get")
        op_names = {u.field.name for u in op.fields}
        if list_field.key not in n8n_fields(catalog) or list_field.max_items is None:
            raise ValueError(f"{batch.key}: {list_field.key} needs an entry with a maximum")
        spec["batch"] = {
            "path": batch.path,
            "statusPath": status.path,
            "statusLabel": status.label,
            "list": list_field.key,  # its wire name, entries and maximum are in FIELDS
            "shared": [
                u.field.name
                for u in batch.fields
                if u.field is not list_field and u.field.name in op_names
            ],
            "events": list(batch.events),
            "interval": limits.POLL_CADENCE[JobKind.BATCH].interval,
            "timeout": limits.POLL_CADENCE[JobKind.BATCH].timeout,
        }
    return spec


def _model_sources(catalog: Catalog) -> dict[str, Any]:
    """Per loadOptions method: the model `type` it lists and the catalog's known models, the
    choices when the API's list carries no `type` (`ModelSource.choices` states the rule)."""
    known: dict[ModelSource, list[str]] = {}
    for op in catalog.for_platform("n8n"):
        for use in op.visible_fields("n8n"):
            source = use.field.options_source
            if source is not None:
                ids = known.setdefault(source, [])
                ids += [v for v in use.field.option_values if v not in ids]
    return {
        P.load_options_method(source): {
            **({"kind": source.kind} if source.kind else {}),
            "known": known[source],
        }
        for source in sorted(known, key=lambda s: s.name)
    }


def _states() -> dict[str, str]:
    table: dict[str, str] = {}
    for by_status in states.STATUSES.values():
        for raw, state in by_status.items():
            table[raw.lower()] = state.value
    for raw, state in states._TOLERATED.items():
        table.setdefault(raw, state.value)
    return dict(sorted(table.items()))


def _errors() -> dict[str, Any]:
    return {
        e.code: {
            "status": e.http_status,
            "title": e.title,
            "advice": e.advice,
            "retryable": e.retryable,
        }
        for e in errors.ALL
    }


def _step_facts(catalog: Catalog) -> dict[str, Any]:
    """What "Max Credits" and "Record Key" need at run time: the price endpoint, the
    refusals with their blanks (`{estimate}`, `{cap}`, `{reason}`), how long a key holds."""
    return {
        "pricePath": catalog.operation(steps.PRICE_OPERATION).path,
        "overCap": steps.over_cap("{estimate}", "{cap}"),
        "unpriceable": steps.unpriceable("{reason}", "{cap}"),
        "reusedUnfetchable": steps.reused_unfetchable("{job}", "{reason}"),
        "ledgerPath": steps.LEDGER.path,
        "ledgerUnanswered": steps.ledger_unanswered("{reason}"),
        "unrecorded": steps.unrecorded("{paid}", "{reason}"),
        "ledgerDays": steps.LEDGER.lifetime_days,
        "ledgerResultMaxBytes": steps.LEDGER.max_result_bytes,
        "keyMaxChars": steps.LEDGER.max_key_chars,
        "keyRule": steps.LEDGER.key_rule,
        "fileOverLimit": limits.file_over_limit(limits.N8N_DOWNLOAD, "{size}", "{max} MB"),
    }


def catalog_ts(catalog: Catalog) -> str:
    by_resource = resources(catalog)
    ops: dict[str, Any] = {}
    for resource, group in by_resource.items():
        for op in group:
            ops[f"{resource}.{P.op_value(op)}"] = _op_spec(catalog, op)
    events = [
        {
            "name": e.name,
            "label": e.label,
            "state": e.state.value,
            "operations": list(e.operations),
            "output": output_name(catalog, catalog.event_output(e.name)),
        }
        for e in catalog.events.values()
    ]
    model_list = catalog.operation("model.list")
    retry = limits.CLIENT_RETRY
    api = {
        "defaultBaseUrl": limits.DEFAULT_BASE_URL,
        "modelsPath": model_list.path,
        "eventHeader": limits.EVENT_HEADER,
        "deliveryIdHeader": limits.DELIVERY_ID_HEADER,
        "signatureHeader": limits.SIGNATURE_HEADER,
        "signaturePrefix": limits.SIGNATURE_PREFIX,
        "retryAfterHeader": limits.RETRY_AFTER_HEADER,
        "retryAfterMsHeader": limits.RETRY_AFTER_MS_HEADER,
        "rateLimitHeaders": list(limits.RATE_LIMIT_HEADERS),
        "maxParallelRequests": limits.MAX_PARALLEL_REQUESTS,
        "outputLifetimeDays": limits.OUTPUT_URL_LIFETIME_DAYS,
        "retry": {
            "retries": retry.retries,
            "initial": retry.initial,
            "maximum": retry.maximum,
            "jitter": retry.jitter,
            "maxRetryAfter": retry.max_retry_after,
        },
    }
    table = {key: field_table_entry(catalog, f) for key, f in n8n_fields(catalog).items()}
    return template(
        "catalog.ts",
        GENERATED_NOTICE,
        api=literal(api),
        steps=literal(_step_facts(catalog)),
        fields=literal(table),
        model_sources=literal(_model_sources(catalog)),
        operations=literal(ops),
        outputs=literal(outputs(catalog)),
        states=literal(_states()),
        spelling=literal(_spelling()),
        events=literal(events),
        errors=literal(_errors()),
    )


def all_sources(catalog: Catalog) -> dict[str, str]:
    files: dict[str, str] = {
        f"{NODE_DIR}/CreativeAi.node.ts": action_node(catalog),
        f"{NODE_DIR}/{GENERATED}/catalog.ts": catalog_ts(catalog),
        f"{NODE_DIR}/{GENERATED}/descriptions/completion.ts": template(
            "completion.ts", GENERATED_NOTICE
        ),
        f"{NODE_DIR}/{GENERATED}/descriptions/fields.ts": fields_file(catalog),
        f"{NODE_DIR}/{GENERATED}/descriptions/options.ts": options_file(),
        f"{TRIGGER_DIR}/CreativeAiTrigger.node.ts": trigger_node(catalog),
        "credentials/CreativeAiApi.credentials.ts": credentials(catalog),
    }
    for resource, ops in resources(catalog).items():
        folder = f"{NODE_DIR}/{GENERATED}/resources/{resource}"
        files[f"{folder}/index.ts"] = resource_index(resource, ops)
        for op in ops:
            files[f"{folder}/{P.op_value(op)}.ts"] = operation_file(op)
    return files
