"""Action and search modules, the RPCs behind model selects, and "Make an API Call".

Each catalog operation becomes one module: its visible fields as mappable parameters, its
path and body as the communication (`{{parameters.<wire name>}}` per field, so a field left
empty is not sent), its response model as the interface and its sample response as the
sample. Jobs short enough to finish inside Make's module time limit get an option to wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.catalog import (
    Catalog,
    Field,
    FieldType,
    JobKind,
    ModelSource,
    NormalizedState,
    Operation,
    OperationKind,
    fields,
    limits,
    responses,
    states,
)
from connector.platforms.make import iml, params
from connector.platforms.make.iml import path, text, tpl
from connector.platforms.make.model import (
    CONNECTION_ID,
    INBOX_URL,
    PLATFORM,
    Component,
    Json,
    module_id,
    rpc_id,
)

S = NormalizedState
T = FieldType

#: Make stops a module after 40 s. A module that waits keeps a margin for the create call
#: and the polls' own round trips.
MODULE_TIME_LIMIT_S = 40.0
WAIT_MARGIN_S = 10.0
WAIT_BUDGET_S = MODULE_TIME_LIMIT_S - WAIT_MARGIN_S
WAIT_PARAM = "waitForResult"


# -- parameters and bodies -----------------------------------------------------------------


def visible_fields(op: Operation) -> list[tuple[Field, bool]]:
    """The fields a Make user fills in, with whether the operation requires them."""
    return [(use.field, use.required) for use in op.visible_fields(PLATFORM)]


def _extra_help(op: Operation, name: str) -> str:
    notes = [
        "Give exactly one of: " + ", ".join(group) + "." for group in op.one_of if name in group
    ]
    if name == fields.WEBHOOK_URL.name:
        notes.append(
            "Leave empty to report to the connection's relay (Watch Completed Generations)."
        )
    return " ".join(notes)


def mappable_params(op: Operation) -> list[Json]:
    path_params = [params.parameter(p, required=True) for p in op.path_params]
    return path_params + [
        params.parameter(f, required=r, rpc_for=rpc_id, extra_help=_extra_help(op, f.name))
        for f, r in visible_fields(op)
    ]


_MULTIPART_FIELDS = {T.STRING, T.TEXT, T.URL, T.INTEGER, T.NUMBER, T.BOOLEAN, T.ENUM, T.FILE}


def _value(f: Field) -> Any:
    value = path("parameters", f.name)
    if f.type is T.FILE:  # Make's multipart file part: the data, named by the file name
        return {
            "value": tpl(path("parameters", f.name, params.FILE_DATA)),
            "options": {"filename": tpl(path("parameters", f.name, params.FILE_NAME))},
        }
    if f.name == fields.WEBHOOK_URL.name:
        return tpl(f"ifempty({value}, {path('connection', INBOX_URL)})")
    return tpl(value)


def request_body(op: Operation) -> Json:
    body: Json = {}
    for f, _ in visible_fields(op):
        if op.body == "multipart" and f.type not in _MULTIPART_FIELDS:
            raise ValueError(f"{op.key}.{f.name}: a {f.type} cannot be a multipart form field")
        body[f.name] = _value(f)
    body.update({u.field.name: u.field.fixed for u in op.fields if u.field.fixed is not None})
    return body


def request_url(op: Operation, source: tuple[str, ...] = ("parameters",)) -> str:
    url = op.path
    for p in op.path_params:
        url = url.replace("{" + p.name + "}", tpl(path(*source, p.name)))
    return url


def call(op: Operation) -> Json:
    """The request of one operation (without its `response`)."""
    request: Json = {"url": request_url(op), "method": op.method}
    if op.body == "multipart":
        request["type"] = "multipart/form-data"
    if op.body != "none":
        request["body"] = request_body(op)
    return request


# -- waiting inside the module ---------------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    """Poll `status` every `delay_s`, at most `limit` times."""

    status: Operation
    kind: JobKind
    delay_s: float
    limit: int

    @property
    def within_s(self) -> float:
        return self.delay_s * self.limit


def documented_run_s(op: Operation) -> float | None:
    """How long the API docs' example job took (its sample's created_at → completed_at)."""
    sample = op.sample_response
    try:
        started = datetime.fromisoformat(str(sample["created_at"]))
        ended = datetime.fromisoformat(str(sample["completed_at"]))
    except (KeyError, ValueError):
        return None
    return (ended - started).total_seconds()


def wait_plan(catalog: Catalog, op: Operation) -> Wait | None:
    """Offer to wait where the documented job fits within the module time limit."""
    if not op.is_async or op.job is None or op.status_operation is None:
        return None
    run = documented_run_s(op)
    if run is None or run > WAIT_BUDGET_S:
        return None
    every = limits.POLL_CADENCE[op.job].interval
    return Wait(catalog.operation(op.status_operation), op.job, every, int(WAIT_BUDGET_S // every))


def _statuses(kind: JobKind, *wanted: NormalizedState) -> list[str]:
    return [raw for raw, state in states.STATUSES[kind].items() if state in wanted]


def _wait_param(wait: Wait) -> Json:
    return {
        "name": WAIT_PARAM,
        "type": "boolean",
        "label": "Wait for the Result",
        "help": f"Yes: check the job every {wait.delay_s:g} s and output the finished result "
        f"(up to {wait.within_s:g} s; past that the module stops with an error naming the "
        "job). No: output the job at once and continue with Watch Completed Generations "
        "or Get Job.",
        "default": True,
    }


def _waiting_communication(op: Operation, wait: Wait) -> list[Json]:
    """Create, then (if asked) poll the status with a bounded `repeat` until it ends."""
    status, job_id = path("body", "status"), path("body", "id")
    reason = (
        f"ifempty({path('body', 'error', 'message')}, "
        f"ifempty({path('body', 'error_message')}, 'no reason given'))"
    )
    ended = iml.any_equal(status, _statuses(wait.kind, S.FAILED, S.CANCELED))
    message = (
        f"if({ended}, 'Job ' + {job_id} + ' ended ' + {status} + ': ' + {reason}, "
        f"'Job ' + {job_id} + ' is still ' + {status} + ' after {wait.within_s:g} s. "
        "Continue with Watch Completed Generations or Get Job.')"
    )
    start = {**call(op), "response": {"temp": {"job": "{{body}}"}}}
    poll = {
        "condition": {"condition": tpl(path("parameters", WAIT_PARAM)), "default": "{{temp.job}}"},
        "url": request_url(wait.status, source=("temp", "job")),
        "method": wait.status.method,
        "repeat": {
            "condition": tpl(iml.any_equal(status, _statuses(wait.kind, S.PENDING, S.PROCESSING))),
            "delay": int(wait.delay_s * 1000),
            "limit": wait.limit,
        },
        "response": {
            "valid": {
                "condition": tpl(iml.any_equal(status, _statuses(wait.kind, S.COMPLETED))),
                "type": "RuntimeError",
                "message": tpl(message),
            },
            "output": "{{body}}",
        },
    }
    return [start, poll]


# -- modules -----------------------------------------------------------------------------------


def module(
    label: str,
    description: str,
    module_type: str,
    codes: Json,
    *,
    crud: str | None = None,
    component_id: str | None = None,
) -> Component:
    metadata: Json = {"label": label, "description": description, "moduleType": module_type}
    if crud:
        metadata["actionCrud"] = crud
    metadata["connection"] = CONNECTION_ID
    return Component("module", component_id or module_id(label), metadata, codes)


def action_module(catalog: Catalog, op: Operation) -> Component:
    wait = wait_plan(catalog, op)
    mappable = mappable_params(op)
    communication: Any
    if wait is None:
        communication = {**call(op), "response": {"output": "{{body}}"}}
    else:
        communication = _waiting_communication(op, wait)
        mappable.append(_wait_param(wait))
    codes = {
        "communication": communication,
        "staticParams": [],
        "mappableParams": mappable,
        "interface": params.interface(catalog.response_model(op.key)),
        "samples": dict(op.sample_response),
    }
    crud = "create" if op.kind is OperationKind.CREATE else "read"
    return module(op.label, op.description, "action", codes, crud=crud)


def search_module(catalog: Catalog, op: Operation) -> Component:
    """A get outputs the record; a list outputs one bundle per item."""
    response: Json = {"output": "{{body}}"}
    interface = params.interface(catalog.response_model(op.key))
    sample: Any = dict(op.sample_response)
    if op.kind is OperationKind.LIST:
        container, item_model = list_items(catalog, op)
        response = {"iterate": tpl(path("body", container)), "output": "{{item}}"}
        interface = params.interface(item_model)
        sample = dict(op.sample_response[container][0])
    codes = {
        "communication": {**call(op), "response": response},
        "staticParams": [],
        "mappableParams": mappable_params(op),
        "interface": interface,
        "samples": sample,
    }
    return module(op.label, op.description, "search", codes)


def list_items(catalog: Catalog, op: Operation) -> tuple[str, type[responses.ApiModel]]:
    """The list field of a list answer, and the model of its items."""
    model = catalog.response_model(op.key)
    for name, info in model.model_fields.items():
        args = getattr(info.annotation, "__args__", ())
        if args and isinstance(args[0], type) and issubclass(args[0], responses.ApiModel):
            return name, args[0]
    raise ValueError(f"{op.key}: {model.__name__} has no list of items")


# -- RPCs: live option lists -------------------------------------------------------------------


def options_sources(ops: Iterable[Operation]) -> list[ModelSource]:
    found: dict[ModelSource, None] = {}
    for op in ops:
        for f, _ in visible_fields(op):
            for each in (f, *f.children):
                if each.options_source:
                    found[each.options_source] = None
    return list(found)


def model_rpc(catalog: Catalog, source: ModelSource) -> Component:
    """The live model list, kept to one model type (`kind` None: every model)."""
    op = catalog.operation("model.list")
    container, item_model = list_items(catalog, op)
    kind = source.name
    iterate: Any = tpl(path("body", container))
    label = "List models"
    if kind and kind != "all":
        if "type" not in item_model.model_fields:
            raise ValueError(f"{source}: models carry no type to filter on")
        iterate = {"container": iterate, "condition": tpl(f"item.type == {text(kind)}")}
        label = f"List {kind.replace('-', ' ')} models"
    communication = {
        **call(op),
        "response": {
            "iterate": iterate,
            "output": {"label": "{{item.id}}", "value": "{{item.id}}"},
        },
    }
    return Component(
        "rpc",
        rpc_id(source),
        {"label": label, "connection": CONNECTION_ID},
        {"communication": communication, "params": []},
    )


# -- Make an API Call ---------------------------------------------------------------------------

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def universal_module() -> Component:
    """Any endpoint with the connection's key; the URL is always relative to the base URL."""
    url = path("parameters", "url")
    mappable = [
        {
            "name": "url",
            "type": "text",
            "label": "URL",
            "help": "A path relative to the connection's API base URL, e.g. /v1/models (a query "
            "string may follow). Absolute URLs are not allowed: the call always goes to "
            "CreativeAI, with your key.",
            "required": True,
            "validate": {"pattern": "^/"},
        },
        {
            "name": "method",
            "type": "select",
            "label": "Method",
            "required": True,
            "default": "GET",
            "options": [{"label": m, "value": m} for m in _METHODS],
        },
        {"name": "body", "type": "any", "label": "Body", "help": "Sent as JSON."},
    ]
    communication = {
        "url": tpl(f"if(startsWith({url}, '/'), {url}, '/' + {url})"),
        "method": "{{parameters.method}}",
        "body": "{{parameters.body}}",
        "response": {
            "output": {"body": "{{body}}", "headers": "{{headers}}", "statusCode": "{{statusCode}}"}
        },
    }
    codes = {
        "communication": communication,
        "staticParams": [],
        "mappableParams": mappable,
        "interface": [
            {"name": "body", "type": "any", "label": "Body"},
            {"name": "headers", "type": "collection", "label": "Headers"},
            {"name": "statusCode", "type": "number", "label": "Status Code"},
        ],
        "samples": {"body": {"object": "list", "data": []}, "headers": {}, "statusCode": 200},
    }
    return module(
        "Make an API Call",
        "Call any CreativeAI endpoint with the connection's key (paths relative to its base URL).",
        "universal",
        codes,
        component_id="makeApiCall",  # the id Make's own apps give their universal module
    )


def is_waiting(component: Component) -> bool:
    return any(p.get("name") == WAIT_PARAM for p in component.codes.get("mappableParams", []))
