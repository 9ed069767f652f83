"""Action and search modules, the RPCs behind model selects, and "Make an API call".

Each catalog operation becomes one module, built from the catalog's one field table: its
visible fields as mappable parameters, its path and body as the communication
(`{{parameters.<wire name>}}` per field, so a field left empty is not sent), its output
contract as the interface, the sample and the response's `output`. Jobs whose typical
duration fits in Make's module time limit (less a margin) get an option to wait.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
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
    steps,
    text,
)
from connector.catalog import contract as contract_
from connector.platforms.make import iml, outputs, params
from connector.platforms.make.base import LOG, auth_headers, make_error_type
from connector.platforms.make.iml import path, tpl
from connector.platforms.make.iml import text as literal
from connector.platforms.make.model import (
    API_KEY,
    CONNECTION_ID,
    NOTICE_TRIGGER_LABEL,
    PLATFORM,
    RELAY_LEDGER,
    RELAY_TRIGGER_LABEL,
    RELAY_URL,
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
    """The fields a Make user fills in, with whether the operation requires them; each with
    this operation's own help where it states one (`FieldUse.shown`)."""
    return [(use.shown, use.required) for use in op.visible_fields(PLATFORM)]


def _extra_help(op: Operation, name: str) -> str:
    notes = [
        "Give exactly one of: " + ", ".join(group) + "." for group in op.one_of if name in group
    ]
    if name == fields.WEBHOOK_URL.name:
        notes.append(
            "To continue in another scenario when the job ends, map the webhook address of "
            f"{NOTICE_TRIGGER_LABEL} here (or your relay's inbox URL for {RELAY_TRIGGER_LABEL})."
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
    if f.type is T.FILE:  # Make's multipart file part: the data, named by the file name
        return {
            "value": tpl(path("parameters", f.name, params.FILE_DATA)),
            "options": {"filename": tpl(path("parameters", f.name, params.FILE_NAME))},
        }
    return tpl(path("parameters", f.name))


def request_body(op: Operation, without: frozenset[str] = frozenset()) -> Json:
    body: Json = {}
    for f, _ in visible_fields(op):
        if f.name in without:
            continue
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


def call(op: Operation, without: frozenset[str] = frozenset()) -> Json:
    """The request of one operation (without its `response`), leaving out `without`."""
    request: Json = {"url": request_url(op), "method": op.method}
    if op.body == "multipart":
        request["type"] = "multipart/form-data"
    if op.body != "none":
        request["body"] = request_body(op, without)
    return request


def optional_file(op: Operation) -> Field | None:
    """The one optional file part of a multipart operation (Edit Image's mask), if any."""
    found = [f for f, required in visible_fields(op) if f.type is T.FILE and not required]
    if len(found) > 1:
        raise ValueError(f"{op.key}: more than one optional file part: {[f.name for f in found]}")
    return found[0] if found else None


def calls(op: Operation, response: Json) -> Json | list[Json]:
    """The operation's request; with an optional file, one request with the part and one
    without, each under a condition, so a file left empty sends no part at all (Make's docs
    do not say what an empty file part becomes)."""
    part = optional_file(op)
    if part is None:
        return {**call(op), "response": response}
    given = tpl(path("parameters", part.name, params.FILE_DATA))
    return [
        {
            "condition": given,
            **call(op),
            "response": {"temp": {"answer": "{{body}}"}},
        },
        {
            "condition": {"condition": "{{!" + given[2:], "default": "{{temp.answer}}"},
            **call(op, frozenset({part.name})),
            "response": response,
        },
    ]


# -- the step options every paid create gets (the catalog's `steps`) ----------------------------

MAX_CREDITS_PARAM = "maxCredits"
RECORD_KEY_PARAM = "recordKey"


def step_params() -> list[Json]:
    """ "Max credits", "Record key" and the relay that keeps the keys, as the catalog states
    them. Make keeps no ledger of its own, so the key's help says what the guarantee needs."""
    cap, key = steps.MAX_CREDITS, steps.RECORD_KEY
    return [
        {
            "name": MAX_CREDITS_PARAM,
            "type": "uinteger",
            "label": text.sentence_case(cap.label),
            "help": cap.help,
            "validate": {"min": cap.minimum},
        },
        {
            "name": RECORD_KEY_PARAM,
            "type": "text",
            "label": text.sentence_case(key.label),
            "help": f"{key.help} {key.without_ledger} Give its address in Relay URL.",
            "advanced": True,
        },
        {
            **params.relay_url(
                RELAY_URL,
                "Its ledger keeps this module's Record keys, so the same key started again "
                "returns the job it already started. Leave it empty without a relay.",
                required=False,
            ),
            "advanced": True,
        },
    ]


def price_body(op: Operation) -> Json:
    """The create's own request as a price request: JSON, without file parts (a file does
    not change the price), a model left empty priced as the model the API defaults to."""
    files = frozenset(f.name for f, _ in visible_fields(op) if f.type is T.FILE)
    body = request_body(op, files)
    for name, default in steps.price_defaults(f for f, _ in visible_fields(op)).items():
        body[name] = tpl(f"ifempty({path('parameters', name)}, {literal(default)})")
    return body


def _error_type(catalog: Catalog) -> str:
    """The error type Make gives each status elsewhere (a 429 stays a RateLimitError); a
    status the API does not document is the input's fault (DataError)."""
    kinds = {c.http_status: make_error_type(c) for c in catalog.errors.values()}
    cases = [f"{status}, {literal(kind)}" for status, kind in sorted(kinds.items())]
    return tpl(f"switch(statusCode, {', '.join(cases)}, 'DataError')")


_REASON = f"ifempty({path('body', 'error', 'message')}, 'HTTP ' + statusCode)"


def price_check(catalog: Catalog, op: Operation) -> Json:
    """Ask the price first when a cap is set (and no job is reused); an estimate over the
    cap, or a request the API cannot price, stops the module before the paid request."""
    price = catalog.operation(steps.PRICE_OPERATION)
    cap = path("parameters", MAX_CREDITS_PARAM)
    estimate = path("body", "credits")
    return {
        "condition": tpl(f"{cap} && {_FRESH}"),
        "url": price.path,
        "method": price.method,
        "body": price_body(op),
        "response": {
            "error": {
                "type": _error_type(catalog),
                "message": steps.unpriceable(tpl(_REASON), tpl(cap)),
            },
            "valid": {
                "condition": tpl(f"{estimate} <= {cap}"),
                "type": "DataError",
                "message": steps.over_cap(tpl(estimate), tpl(cap)),
            },
        },
    }


# -- one job per record: the relay's ledger ----------------------------------------------------
#
# With a Record key and a Relay URL, a paid module asks the relay's ledger first. Make counts
# any 4xx answer as an error that stops the module (developers.make.com, error handling: "it
# is not possible to evaluate it as a success"), so the module asks the ledger's list of one
# operation's entries filtered by key, which answers 200 with no entries for a key never
# used, rather than the entry's own URL, which answers 404. What it finds is kept in `temp`:
#   temp.found   the job id a key started (jobs), or the stored answer (synchronous creates)
#   temp.reused  true once the found job was fetched back and has not failed, or the answer
#   temp.job     the module's answer, reused or fresh (jobs); temp.answer: the API's answer
# Every paid request runs only when nothing is reused; the new job id (or answer) is put in
# the ledger right after the create, before any wait, so a wait that gives up keeps it.

_REUSED = path("temp", "reused")
_FRESH = f"!{_REUSED}"
_KEY = path("parameters", RECORD_KEY_PARAM)
_RELAY = path("parameters", RELAY_URL)
_WITH_LEDGER = f"{_KEY} && {_RELAY}"
_FOUND = path("temp", "found")
_ANSWER = path("temp", "answer")


def _relay_error(message: str) -> Json:
    """A relay that refuses: a server error is passing (ConnectionError), anything else is
    the Relay URL or the key (InvalidConfigurationError), with a message naming the relay."""
    check = (
        "Check the Relay URL ({{" + _RELAY + "}}): it is the address of your CreativeAI "
        "webhook relay, not of the API."
    )
    return {
        "type": tpl("if(statusCode >= 500, 'ConnectionError', 'InvalidConfigurationError')"),
        "message": f"{message}. {check}",
    }


def _status_reason() -> str:
    """`HTTP 404: <the server's message>`, or `HTTP 404` when it gives none."""
    message = path("body", "error", "message")
    return tpl(f"'HTTP ' + statusCode + if({message}, ': ' + {message}, '')")


def ledger_lookup(op: Operation) -> Json:
    """The ledger's entries for this operation and key (none, or the one)."""
    entry = f"first({path('body', 'data')})"
    if op.job is None:  # a stored answer is the module's answer: nothing to fetch back
        temp: Json = {
            "answer": tpl(f"get({entry}, 'result')"),
            "reused": tpl(f"!!get({entry}, 'result')"),
        }
    else:  # the job it started, fetched back next
        temp = {"found": tpl(f"get({entry}, 'job_id')")}
    return {
        "condition": tpl(_WITH_LEDGER),
        "url": tpl(_RELAY) + f"{RELAY_LEDGER}/{op.key}",
        "method": "GET",
        "qs": {steps.LEDGER.lookup_query: tpl(_KEY)},
        "headers": auth_headers(path("connection", API_KEY)),
        "log": LOG,
        "response": {
            "error": _relay_error(steps.ledger_unanswered(_status_reason())),
            "temp": temp,
        },
    }


def _not_failed(kind: JobKind) -> str:
    """True unless a fetched job ended without a result (a batch: every video failed)."""
    ended = ", ".join(f"{literal(s.value)}, false" for s in (S.FAILED, S.CANCELED))
    ok = f"switch({outputs.state('body', kind)}, {ended}, true)"  # the state computed once
    if kind is JobKind.BATCH:
        total = path("body", "total_jobs")
        ok += f" && if({total}, ifempty({path('body', 'failed')}, 0) != {total}, true)"
    return ok


def fetch_back(catalog: Catalog, op: Operation, output: Json) -> Json:
    """The job the key already started, read back with the builder's key: reused unless it
    failed (then the key starts a new one)."""
    assert op.status_operation is not None and op.job is not None
    status = catalog.operation(op.status_operation)
    (param,) = status.path_params
    return {
        "condition": tpl(_FOUND),
        "url": status.path.replace("{" + param.name + "}", tpl(_FOUND)),
        "method": status.method,
        "response": {
            "error": {
                "type": _error_type(catalog),
                "message": steps.reused_unfetchable(tpl(_FOUND), _status_reason()),
            },
            "temp": {"job": output, "reused": tpl(_not_failed(op.job))},
        },
    }


def job_key(catalog: Catalog, op: Operation) -> str:
    """The output key that names a started job: the status operation's path parameter."""
    assert op.status_operation is not None
    (param,) = catalog.operation(op.status_operation).path_params
    return param.name


def _answer_urls(catalog: Catalog, op: Operation) -> tuple[str, str]:
    """Where a synchronous answer lists its files: the list field, and its items' URL key."""
    for f in catalog.output(op.key).fields:
        urls = [c.key for c in f.children if c.type is T.URL]
        if f.type is T.OBJECT_LIST and urls:
            return f.key, urls[0]
    raise ValueError(f"{op.key}: its answer lists no URLs")


def ledger_put(catalog: Catalog, op: Operation, answer: Json | str) -> Json:
    """Put the new job id (or the answer) under the key; without a ledger, or for a reused
    job, skipped, giving the module's answer."""
    if op.job is None:
        body: Json = {"result": tpl(_ANSWER)}
        items, url = _answer_urls(catalog, op)
        paid = "images " + tpl(f"join(map({path('temp', 'answer', items)}, {literal(url)}), ' ')")
    else:
        body = {"job_id": tpl(path("temp", "job", job_key(catalog, op)))}
        paid = "job " + tpl(path("temp", "job", job_key(catalog, op)))
    return {
        "condition": {"condition": tpl(f"{_WITH_LEDGER} && {_FRESH}"), "default": answer},
        "url": tpl(_RELAY) + f"{RELAY_LEDGER}/{op.key}/" + tpl(f"encodeURL({_KEY})"),
        "method": "PUT",
        "headers": auth_headers(path("connection", API_KEY)),
        "body": body,
        "log": LOG,
        "response": {
            # the job is started and paid: not the input's fault, and named so it is not lost
            "error": {
                **_relay_error(steps.unrecorded(paid, _status_reason())),
                "type": "RuntimeError",
            },
            "output": answer,
        },
    }


def paid_creates(op: Operation, keep: Json) -> list[Json]:
    """The create, only when nothing is reused; with an optional file part, one request with
    the part and one without (Make's docs do not say what an empty file part becomes)."""
    part = optional_file(op)
    if part is None:
        return [{"condition": tpl(_FRESH), **call(op), "response": {"temp": keep}}]
    given = path("parameters", part.name, params.FILE_DATA)
    return [
        {"condition": tpl(f"{given} && {_FRESH}"), **call(op), "response": {"temp": keep}},
        {
            "condition": tpl(f"!{given} && {_FRESH}"),
            **call(op, frozenset({part.name})),
            "response": {"temp": keep},
        },
    ]


def paid_communication(
    catalog: Catalog, op: Operation, output: Json, wait: Wait | None
) -> list[Json]:
    """Ledger lookup (and fetch-back), price check, create, the new job put under the key,
    then the wait."""
    contract = catalog.output(op.key)
    if op.job is None:
        answer: Json | str = outputs.shaped(_ANSWER, contract.fields, contract.job)
        found = [ledger_lookup(op)]
        keep: Json = {"answer": "{{body}}"}
    else:
        answer = "{{temp.job}}"
        found = [ledger_lookup(op), fetch_back(catalog, op, output)]
        keep = {"job": output}
    then = _wait_tail(wait, output) if wait is not None else []
    return [
        *found,
        price_check(catalog, op),
        *paid_creates(op, keep),
        ledger_put(catalog, op, answer),
        *then,
    ]


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


def wait_plan(catalog: Catalog, op: Operation) -> Wait | None:
    """Offer to wait where the job's typical duration (the catalog's) fits in the module's
    time limit less the margin; anything longer returns the job at once."""
    if not op.is_async or op.job is None or op.status_operation is None or op.duration is None:
        return None
    if op.duration.typical_s > WAIT_BUDGET_S:
        return None
    every = limits.POLL_CADENCE[op.job].interval
    return Wait(catalog.operation(op.status_operation), op.job, every, int(WAIT_BUDGET_S // every))


def _statuses(kind: JobKind, *wanted: NormalizedState) -> list[str]:
    return [raw for raw, state in states.STATUSES[kind].items() if state in wanted]


def _wait_param(wait: Wait) -> Json:
    return {
        "name": WAIT_PARAM,
        "type": "boolean",
        "label": "Wait for the result",
        "help": f"Yes: the module checks the job every {wait.delay_s:g} s and outputs the "
        f"finished result, for up to {wait.within_s:g} s (Make stops a module after "
        f"{MODULE_TIME_LIMIT_S:g} s; the other {WAIT_MARGIN_S:g} s are left for the calls "
        "themselves). A job still running then stops the module with an error naming it. "
        f"No: the module outputs the job at once; continue with {NOTICE_TRIGGER_LABEL} "
        f"or {text.sentence_case(wait.status.label)}.",
        "default": True,
    }


def _waiting_communication(op: Operation, wait: Wait, output: Json) -> list[Json]:
    """Create; then wait for the job (`_wait_tail`)."""
    return [{**call(op), "response": {"temp": {"job": output}}}, *_wait_tail(wait, output)]


def _wait_tail(wait: Wait, output: Json) -> list[Json]:
    """With the job in `temp.job`: if asked, poll the status with a bounded `repeat` until it
    ends; then read it once more and check it. The check sits in its own request so that
    Make, however it treats `valid` inside a repeat, never judges a job still running."""
    status, job_id = path("body", "status"), path("body", "id")
    reason = (
        f"ifempty({path('body', 'error', 'message')}, "
        f"ifempty({path('body', 'error_message')}, 'no reason given'))"
    )
    ended = iml.any_equal(status, _statuses(wait.kind, S.FAILED, S.CANCELED))
    message = (
        f"if({ended}, 'Job ' + {job_id} + ' ended ' + {status} + ': ' + {reason}, "
        f"'Job ' + {job_id} + ' is still ' + {status} + ' after {wait.within_s:g} s: map "
        f"its ID into {text.sentence_case(wait.status.label)} to fetch the result later, or "
        f"continue with {NOTICE_TRIGGER_LABEL}.')"
    )
    waiting = tpl(path("parameters", WAIT_PARAM))
    status_url = request_url(wait.status, source=("temp", "job"))
    poll = {
        "condition": {"condition": waiting, "default": "{{temp.job}}"},
        "url": status_url,
        "method": wait.status.method,
        "repeat": {
            "condition": tpl(iml.any_equal(status, _statuses(wait.kind, S.PENDING, S.PROCESSING))),
            "delay": int(wait.delay_s * 1000),
            "limit": wait.limit,
        },
    }
    check = {
        "condition": {"condition": waiting, "default": "{{temp.job}}"},
        "url": status_url,
        "method": wait.status.method,
        "response": {
            "valid": {
                "condition": tpl(iml.any_equal(status, _statuses(wait.kind, S.COMPLETED))),
                "type": "RuntimeError",
                "message": tpl(message),
            },
            "temp": {"job": output},
        },
    }
    return [poll, check, *download_file()]


# -- handing over the file, within Make's limit -------------------------------------------------

DOWNLOAD_PARAM = "downloadFile"
OUTPUT_URL = contract_.OUTPUT_URL.key  # where a job's file is
FILE_NAME_KEY, FILE_DATA_KEY, FILE_MESSAGE_KEY = "file_name", "file_data", "file_message"
FILE_LIMIT = limits.MAKE_MODULE_FILE


def _download_param() -> Json:
    return {
        "name": DOWNLOAD_PARAM,
        "type": "boolean",
        "label": "Download the file",
        "help": "Yes: a finished job's file is output too (File name, File data), up to "
        f"Make's {FILE_LIMIT.what} limit of {FILE_LIMIT.shown}. A larger file is not "
        "downloaded: the module outputs its URL with a message naming the limit and the size.",
        "default": False,
    }


def download_file() -> list[Json]:
    """After the job (in `temp.job`): ask the file's size with a one-byte range request,
    then download it only when it fits in Make's module file limit; a larger file leaves
    the output URL and a message naming the limit and the size."""
    url = tpl(path("temp", "job", OUTPUT_URL))
    wanted = f"{path('parameters', DOWNLOAD_PARAM)} && {path('temp', 'job', OUTPUT_URL)}"
    size = path("temp", "size")
    total = f"last(split({path('headers', 'content-range')}, '/'))"
    shown = tpl(f"round({size} / {limits.MB // 10}) / 10")
    note = iml.expression(limits.file_over_limit(FILE_LIMIT, shown))
    probe = {
        "condition": {"condition": tpl(wanted), "default": "{{temp.job}}"},
        "url": url,
        "method": "GET",
        "headers": {"Range": "bytes=0-0"},
        "response": {
            "temp": {"size": tpl(f"ifempty({total}, {path('headers', 'content-length')})")}
        },
    }
    job = {iml.SPREAD: "{{temp.job}}"}
    download = {
        "condition": {
            "condition": tpl(f"{wanted} && {size} <= {FILE_LIMIT.max_bytes}"),
            # over the limit: the job with why its file is not here (not asked: the job)
            "default": {**job, FILE_MESSAGE_KEY: tpl(f"if({size}, {note}, {size})")},
        },
        "url": url,
        "method": "GET",
        "response": {
            "type": "binary",
            "output": {
                **job,
                FILE_NAME_KEY: tpl(f"last(split({path('temp', 'job', OUTPUT_URL)}, '/'))"),
                FILE_DATA_KEY: "{{body}}",
            },
        },
    }
    return [probe, download]


def file_interface() -> list[Json]:
    return [
        {"name": FILE_NAME_KEY, "type": "filename", "label": "File name"},
        {"name": FILE_DATA_KEY, "type": "buffer", "label": "File data"},
        {
            "name": FILE_MESSAGE_KEY,
            "type": "text",
            "label": "File message",
            "help": f"Why the file was not downloaded (over Make's {FILE_LIMIT.what} limit).",
        },
    ]


# -- modules -----------------------------------------------------------------------------------


def operation_text(op: Operation) -> tuple[str, str]:
    """An operation's label and description as Make wants them (the catalog's renderers)."""
    return text.sentence_case(op.label), text.third_person(op.description)


def module(
    label: str,
    description: str,
    module_type: str,
    codes: Json,
    *,
    crud: str | None = None,
    component_id: str | None = None,
) -> Component:
    """One module; `label` in sentence case, `description` in the third person."""
    metadata: Json = {"label": label, "description": description, "moduleType": module_type}
    if crud:
        metadata["actionCrud"] = crud
    metadata["connection"] = CONNECTION_ID
    return Component("module", component_id or module_id(label), metadata, codes)


def action_module(catalog: Catalog, op: Operation) -> Component:
    """Creates and price; gets too (Make: a Get module is an action that reads one item)."""
    wait = wait_plan(catalog, op)
    mappable = mappable_params(op)
    contract = catalog.output(op.key)
    output = outputs.shaped("body", contract.fields, contract.job)
    communication: Any
    hands_over = wait is not None or (op.kind is OperationKind.GET and _has_file(contract))
    if wait is not None:
        if optional_file(op) is not None:
            raise ValueError(f"{op.key}: a waiting module with an optional file part")
        communication = _waiting_communication(op, wait, output)
        mappable += [_wait_param(wait), _download_param()]
    elif hands_over:  # a Get of one job with a file: the job, then its file if asked
        communication = [{**call(op), "response": {"temp": {"job": output}}}, *download_file()]
        mappable.append(_download_param())
    else:
        communication = calls(op, {"output": output})
    codes = {
        "communication": communication,
        "staticParams": [],
        "mappableParams": mappable,
        "interface": outputs.interface(contract.fields) + (file_interface() if hands_over else []),
        "samples": outputs.sample_of(contract.fields, contract.sample),
    }
    if op.key in {o.key for o in steps.capped(catalog.operations.values())}:
        codes["communication"] = paid_communication(catalog, op, output, wait)
        codes["mappableParams"] = [*codes["mappableParams"], *step_params()]
    crud = "create" if op.kind is OperationKind.CREATE else "read"
    return module(*operation_text(op), "action", codes, crud=crud)


def _has_file(contract: contract_.Output) -> bool:
    return OUTPUT_URL in contract.keys


LIMIT_PARAM = "limit"
DEFAULT_LIMIT = 10


def _limit_param() -> Json:
    return {
        "name": LIMIT_PARAM,
        "type": "uinteger",
        "label": "Limit",
        "help": "The most results this module outputs in one run.",
        "required": True,
        "default": DEFAULT_LIMIT,
        "validate": {"min": 1},
    }


def search_module(catalog: Catalog, op: Operation) -> Component:
    """A list: one bundle per item, at most `limit` (Make: search modules have a limit)."""
    container, _ = list_items(catalog, op)
    contract = catalog.output(op.key)
    items = contract.field(container).children
    response = {
        "limit": tpl(path("parameters", LIMIT_PARAM)),
        "iterate": tpl(path("body", container)),
        "output": outputs.shaped("item", items, contract.job),
    }
    codes = {
        "communication": {**call(op), "response": response},
        "staticParams": [],
        "mappableParams": [*mappable_params(op), _limit_param()],
        "interface": outputs.interface(items),
        "samples": outputs.sample_of(items, contract.sample[container][0]),
    }
    return module(*operation_text(op), "search", codes)


def list_items(catalog: Catalog, op: Operation) -> tuple[str, type[responses.ApiModel]]:
    """The list field of a list answer, and the model of its items."""
    model = catalog.response_model(op.key)
    for name, info in model.model_fields.items():
        args = getattr(info.annotation, "__args__", ())
        if args and isinstance(args[0], type) and issubclass(args[0], responses.ApiModel):
            return name, args[0]
    raise ValueError(f"{op.key}: {model.__name__} has no list of items")


# -- RPCs: live option lists -------------------------------------------------------------------


def options_sources(ops: Iterable[Operation]) -> dict[ModelSource, tuple[str, ...]]:
    """Each live model list the app's selects use, with the catalog's known models for it."""
    found: dict[ModelSource, dict[str, None]] = {}
    for op in ops:
        for f, _ in visible_fields(op):
            for each in (f, *f.children):
                if each.options_source:
                    known = found.setdefault(each.options_source, {})
                    known.update(dict.fromkeys(each.option_values))
    return {source: tuple(known) for source, known in found.items()}


def model_rpc(catalog: Catalog, source: ModelSource, known: tuple[str, ...]) -> Component:
    """The live model list, kept to one model type (`kind` None: every model).

    The rule is `ModelSource.choices`: a model with a `type` is kept when it is of the kind;
    the API's docs do not promise a `type`, so a model without one is kept when it is one of
    the catalog's known models of the kind (`contains`/`split`: IML has no array literal)."""
    op = catalog.operation("model.list")
    container, _ = list_items(catalog, op)
    iterate: Any = tpl(path("body", container))
    label = "List models"
    if source.kind is not None:
        if any("," in k for k in known):
            raise ValueError(f"{source.name}: a known model id holds a comma: {known}")
        listed = f"split({literal(','.join(known))}, ',')"
        keep = f"if(item.type, item.type == {literal(source.kind)}, contains({listed}, item.id))"
        iterate = {"container": iterate, "condition": tpl(keep)}
        label = f"List {source.kind.replace('-', ' ')} models"
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


# -- Make an API call ---------------------------------------------------------------------------

#: Static module sections, kept as JSON files beside this module.
TEMPLATES = Path(__file__).resolve().parent / "templates"
UNIVERSAL_SECTIONS = {
    "communication": "communication.json",
    "mappableParams": "mappable-params.json",
    "interface": "interface.json",
    "samples": "samples.json",
}


def template(name: str, **values: str) -> Any:
    """A JSON template file with `${name}` placeholders filled in."""
    raw = (TEMPLATES / name).read_text(encoding="utf-8")
    return json.loads(string.Template(raw).substitute(values))


def universal_module(catalog: Catalog) -> Component:
    """Make's universal module ("Make an API call"): a path relative to the base URL, the
    method, headers, query string and body; the connection's key goes with every call."""
    example = catalog.operation("model.list").path
    values = {"base_url": limits.DEFAULT_BASE_URL, "example_path": example}
    codes: Json = {"staticParams": []}
    for section, file in UNIVERSAL_SECTIONS.items():
        codes[section] = template(f"make-api-call/{file}", **values)
    return module(
        "Make an API call",
        "Performs an arbitrary authorized API call.",  # the label and text Make prescribes
        "universal",
        {
            k: codes[k]
            for k in ("communication", "staticParams", "mappableParams", "interface", "samples")
        },
        component_id="makeApiCall",  # the id Make's own apps give their universal module
    )


def is_waiting(component: Component) -> bool:
    return any(p.get("name") == WAIT_PARAM for p in component.codes.get("mappableParams", []))
