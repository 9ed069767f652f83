"""A test-side stand-in for Make's runtime: it runs an app's communication over real HTTP.

    app = LocalApp.load(Path("make-app"))
    make = Runtime(app, routes={"https://api.creativeai.run": sandbox.url})
    connection = make.connect({"apiKey": key})
    bundles = make.run_module("createVoice", {"text": "Hi"}, connection)

Like the IML engine beside it, it implements exactly the directives the generator emits and
refuses the rest (`UnsupportedIML`): requests (`url`, `method`, `headers`, `qs`, `body`,
`type` json or multipart, `condition`, `repeat`, `log`), responses (`output`, `iterate`,
`limit`, `error`, `valid`, `temp`, `data`), the base (`baseUrl`, `headers`, `response`,
`log`), connections, RPCs, dedicated webhooks (`attach`, `detach`, and the incoming
request's `output`) and an instant trigger's one request per bundle (the bundle is
`payload`, as in developers.make.com's instant-trigger example).

`routes` sends calls for an origin the tests cannot reach (the production API) to a local
server instead; the log keeps the URL Make would call.

Behaviour follows Make's documentation: the base applies to modules, RPCs and webhook
calls (not to the connection's own check); a URL starting with `/` is appended to the
base URL; status ≥ 400 raises the `error` directive's type and message (a status's own entry
before the generic one); `valid` false raises its type and message; several requests run in
order and the last one's output is the module's; a request whose `condition` is false is
skipped and gives its `default`. Where Make's docs say nothing, the runtime refuses rather
than guess: a multipart file part without data, and `valid` in a repeated request.
"""

from __future__ import annotations

import json
import mimetypes
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from make_iml.appfiles import LocalApp
from make_iml.iml import UNDEFINED, UnsupportedIML, render, to_text, truthy

REQUEST_KEYS = frozenset(
    {"url", "method", "headers", "qs", "body", "type", "condition", "repeat", "response", "log"}
)
RESPONSE_KEYS = frozenset({"type", "output", "iterate", "limit", "error", "valid", "temp", "data"})
#: `response.type` values in the subset: parse by content type, or keep the bytes.
RESPONSE_TYPES = frozenset({"automatic", "binary"})
BASE_KEYS = frozenset({"baseUrl", "headers", "response", "log"})
WEBHOOK_KEYS = frozenset({"output"})
BODY_TYPES = frozenset({"json", "multipart/form-data"})
ERROR_TYPES = frozenset(
    {
        "RuntimeError",
        "DataError",
        "RateLimitError",
        "OutOfSpaceError",
        "ConnectionError",
        "InvalidConfigurationError",
        "InvalidAccessTokenError",
        "IncompleteDataError",
        "DuplicateDataError",
    }
)
MASK = "********"


class MakeError(Exception):
    """What Make would show: an error type from its fixed list and a message."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.status = status


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Outcome:
    bundles: list[Any]
    data: dict[str, Any] = field(default_factory=dict)


def _check_keys(what: str, spec: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = set(spec) - allowed
    if extra:
        raise UnsupportedIML(f"{what}: directives {sorted(extra)} are not in the subset")


class Runtime:
    def __init__(
        self,
        app: LocalApp,
        *,
        delay_scale: float = 1.0,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        _check_keys("base", app.base, BASE_KEYS)
        self.app = app
        self.routes = dict(routes or {})
        self.delay_scale = delay_scale
        self.http = http or httpx.Client(timeout=10.0)
        self.sleep = sleep
        self.log: list[dict[str, Any]] = []  # every exchange, with log.sanitize applied

    # -- what Make does with each component ---------------------------------------------------

    def connect(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Verify a connection as Make does when it is saved; return what modules see."""
        component = self.app.connection()
        check_parameters(component.codes["params"], parameters, "connection")
        context = {"parameters": dict(parameters)}
        outcome = self._communicate(component.codes["communication"], context, base=False)
        return {**parameters, **outcome.data}

    def run_module(
        self,
        module_id: str,
        parameters: Mapping[str, Any],
        connection: Mapping[str, Any],
        *,
        check: bool = True,
    ) -> list[Any]:
        """The bundles a module outputs for these parameters (`check=False` skips Make's
        parameter checks, to see what the communication alone does with a value)."""
        module = self.app.module(module_id)
        if check:
            check_parameters(module.codes.get("mappableParams", []), parameters, module_id)
        context = {"parameters": dict(parameters), "connection": dict(connection)}
        return self._communicate(module.codes["communication"], context).bundles

    def run_trigger(
        self, module_id: str, bundle: Mapping[str, Any], connection: Mapping[str, Any]
    ) -> list[Any]:
        """What an instant trigger outputs for one bundle of its webhook: the bundle itself,
        or its one request's output (`payload` is the bundle there)."""
        module = self.app.module(module_id)
        spec = module.codes.get("communication")
        if not spec:
            return [dict(bundle)]
        if isinstance(spec, list):
            raise UnsupportedIML(f"{module_id}: an instant trigger makes a single request")
        if "iterate" in spec.get("response", {}):
            raise UnsupportedIML(f"{module_id}: an instant trigger cannot iterate")
        context = {"parameters": {}, "connection": dict(connection), "payload": dict(bundle)}
        return self._communicate(spec, context).bundles

    def run_rpc(self, rpc_id: str, connection: Mapping[str, Any]) -> list[Any]:
        rpc = self.app.rpc(rpc_id)
        context = {"parameters": {}, "connection": dict(connection)}
        return self._communicate(rpc.codes["communication"], context).bundles

    def attach(
        self,
        webhook_id: str,
        parameters: Mapping[str, Any],
        connection: Mapping[str, Any],
        *,
        url: str,
        hook_id: int = 1,
    ) -> dict[str, Any]:
        """Register a new webhook of this app at `url`; return the webhook's saved data."""
        hook = self.app.webhook(webhook_id)
        check_parameters(hook.codes["params"], parameters, webhook_id)
        context = {
            "parameters": dict(parameters),
            "connection": dict(connection),
            "webhook": {"url": url, "id": hook_id},
        }
        return self._communicate(hook.codes["attach"], context).data

    def detach(
        self, webhook_id: str, data: Mapping[str, Any], connection: Mapping[str, Any]
    ) -> None:
        hook = self.app.webhook(webhook_id)
        context = {"connection": dict(connection), "webhook": dict(data)}
        self._communicate(hook.codes["detach"], context)

    def receive(
        self,
        webhook_id: str,
        parameters: Mapping[str, Any],
        *,
        body: Any,
        headers: Mapping[str, str],
    ) -> list[Any]:
        """The bundles an incoming request to the webhook makes."""
        spec = self.app.webhook(webhook_id).codes["communication"]
        _check_keys(f"webhook {webhook_id}", spec, WEBHOOK_KEYS)
        context = {
            "parameters": dict(parameters),
            "body": body,
            "headers": {k.lower(): v for k, v in headers.items()},
        }
        return [render(spec["output"], context)] if "output" in spec else [body]

    # -- requests -------------------------------------------------------------------------------

    def _communicate(self, spec: Any, context: dict[str, Any], *, base: bool = True) -> Outcome:
        requests = spec if isinstance(spec, list) else [spec]
        context = {**context, "temp": {}}
        outcome = Outcome([])
        for request in requests:
            outcome = self._request(request, context, base=base)
        return outcome

    def _request(self, spec: Mapping[str, Any], context: dict[str, Any], *, base: bool) -> Outcome:
        _check_keys("request", spec, REQUEST_KEYS)
        response_spec = spec.get("response", {})
        _check_keys("response", response_spec, RESPONSE_KEYS)
        if "condition" in spec:
            condition = spec["condition"]
            test = condition["condition"] if isinstance(condition, Mapping) else condition
            if not truthy(render(test, context)):
                default = condition.get("default") if isinstance(condition, Mapping) else None
                return Outcome([] if default is None else [render(default, context)])
        repeat = spec.get("repeat")
        if repeat is not None and "valid" in response_spec:
            raise UnsupportedIML(
                "`valid` inside a repeated request: Make's docs do not say whether it judges "
                "every answer or only the last"
            )
        answer = self._send(spec, context, base=base)
        if repeat is not None:
            _check_keys("repeat", repeat, frozenset({"condition", "delay", "limit"}))
            done = 0
            while done < repeat["limit"] and truthy(
                render(repeat["condition"], self._answered(context, answer))
            ):
                self.sleep(repeat["delay"] / 1000 * self.delay_scale)
                answer = self._send(spec, context, base=base)
                done += 1
        return self._read(response_spec, context, answer, base=base)

    def _answered(self, context: dict[str, Any], answer: _Answer) -> dict[str, Any]:
        return {
            **context,
            "body": answer.body,
            "headers": answer.headers,
            "statusCode": answer.status,
        }

    def _send(self, spec: Mapping[str, Any], context: dict[str, Any], *, base: bool) -> _Answer:
        base_spec = self.app.base if base else {}
        url = to_text(render(spec["url"], context))
        if url.startswith("/"):
            if not base:
                raise UnsupportedIML(f"relative URL {url!r} where no base applies")
            url = to_text(render(base_spec["baseUrl"], context)) + url
        if not url.startswith(("http://", "https://")):
            raise MakeError("RuntimeError", f"not an absolute URL: {url!r}")
        method = to_text(render(spec.get("method", "GET"), context)).upper()
        target = url
        for origin, local in self.routes.items():
            if url == origin or url.startswith(origin + "/"):
                target = local + url[len(origin) :]
        qs = render(spec.get("qs", {}), context)
        if not isinstance(qs, Mapping):
            raise UnsupportedIML(f"qs must be a flat collection, got {qs!r}")
        headers = {
            **_rendered_headers(base_spec.get("headers", {}), context),
            **_rendered_headers(spec.get("headers", {}), context),
        }
        kind = spec.get("type", "json")
        if kind not in BODY_TYPES:
            raise UnsupportedIML(f"request type {kind!r} is not in the subset")
        body = render(spec["body"], context) if "body" in spec and method != "GET" else UNDEFINED
        request_kwargs: dict[str, Any] = {}
        logged_body: Any = None
        if body is not UNDEFINED and kind == "json":
            request_kwargs["content"] = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
            logged_body = body
        elif body is not UNDEFINED:
            request_kwargs["data"], request_kwargs["files"] = _multipart(body)
            logged_body = {
                **request_kwargs["data"],
                **{n: "<file>" for n, _ in request_kwargs["files"]},
            }
        if qs:
            request_kwargs["params"] = {k: to_text(v) for k, v in qs.items()}
            url += ("&" if "?" in url else "?") + str(httpx.QueryParams(request_kwargs["params"]))
        response = self.http.request(method, target, headers=headers, **request_kwargs)
        parse_as = spec.get("response", {}).get("type", "automatic")
        if parse_as not in RESPONSE_TYPES:
            raise UnsupportedIML(f"response type {parse_as!r} is not in the subset")
        binary = parse_as == "binary" and response.status_code < 400
        body = response.content if binary else _parse(response)
        answer = _Answer(response.status_code, dict(response.headers), body)
        sanitize = [
            *base_spec.get("log", {}).get("sanitize", []),
            *spec.get("log", {}).get("sanitize", []),
        ]
        self.log.append(
            _sanitized(
                {
                    "request": {
                        "method": method,
                        "url": url,
                        "headers": headers,
                        "body": logged_body,
                    },
                    "response": {
                        "status": answer.status,
                        "headers": answer.headers,
                        "body": answer.body,
                    },
                },
                sanitize,
            )
        )
        return answer

    def _read(
        self, spec: Mapping[str, Any], context: dict[str, Any], answer: _Answer, *, base: bool
    ) -> Outcome:
        scope = self._answered(context, answer)
        if answer.status >= 400:
            errors = spec.get("error") or (
                self.app.base.get("response", {}).get("error") if base else None
            )
            raise _error(errors, scope, answer.status)
        if "valid" in spec:
            valid = spec["valid"]
            if not truthy(render(valid["condition"], scope)):
                kind = to_text(render(valid.get("type", "RuntimeError"), scope))
                raise MakeError(_known_type(kind), to_text(render(valid["message"], scope)))
        if "temp" in spec:
            context["temp"].update(render(spec["temp"], scope))
        data = render(spec.get("data", {}), scope)
        if "iterate" not in spec:
            return Outcome(
                [render(spec["output"], scope) if "output" in spec else answer.body], data
            )
        iterate = spec["iterate"]
        container = iterate["container"] if isinstance(iterate, Mapping) else iterate
        items = render(container, scope)
        if not isinstance(items, list):
            raise MakeError("RuntimeError", f"iterate container is not an array: {items!r}")
        limit = None
        if "limit" in spec:
            limit = render(spec["limit"], scope)
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise MakeError("DataError", f"limit must be a whole number, got {limit!r}")
        bundles = []
        for item in items:
            if limit is not None and len(bundles) >= limit:
                break
            item_scope = {**scope, "item": item}
            wanted = iterate.get("condition", True) if isinstance(iterate, Mapping) else True
            if not truthy(render(wanted, item_scope)):
                continue
            bundles.append(render(spec["output"], item_scope) if "output" in spec else item)
        return Outcome(bundles, data)


def _rendered_headers(spec: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, str]:
    rendered = render(spec, context)
    return {k: to_text(v) for k, v in rendered.items()}


def _multipart(body: Mapping[str, Any]) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    fields: dict[str, str] = {}
    files: list[tuple[str, Any]] = []
    for name, value in body.items():
        if isinstance(value, Mapping) and set(value) <= {"value", "options"}:
            data = value.get("value", UNDEFINED)
            if data is UNDEFINED or data is None:
                raise UnsupportedIML(
                    f"{name}: an empty file part; Make's docs do not say whether it is sent"
                )
            if not isinstance(data, bytes):
                raise MakeError(
                    "DataError", f"{name}: file data must be binary, got {type(data).__name__}"
                )
            filename = to_text(value.get("options", {}).get("filename", name))
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            files.append((name, (filename, data, content_type)))
        else:
            fields[name] = to_text(value)
    return fields, files


def _parse(response: httpx.Response) -> Any:
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            return response.text
    return response.text


def _error(errors: Any, scope: Mapping[str, Any], status: int) -> MakeError:
    if errors is None:
        return MakeError("RuntimeError", f"HTTP {status}", status)
    entry = errors.get(str(status), errors) if isinstance(errors, Mapping) else {"message": errors}
    kind = to_text(render(entry.get("type", errors.get("type", "RuntimeError")), scope))
    return MakeError(_known_type(kind), to_text(render(entry["message"], scope)), status)


def _known_type(kind: str) -> str:
    if kind not in ERROR_TYPES:
        raise UnsupportedIML(f"{kind!r} is not one of Make's error types")
    return kind


def _sanitized(entry: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    for dotted in paths:
        *parents, last = dotted.split(".")
        node: Any = entry
        for part in parents:
            node = next((v for k, v in node.items() if k.lower() == part.lower()), None)
            if not isinstance(node, dict):
                break
        else:
            for key in list(node):
                if key.lower() == last.lower():
                    node[key] = MASK
    return entry


# -- what Make checks before it runs a module ---------------------------------------------------

_SCALARS: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "password": (str,),
    "url": (str,),
    "filename": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "uinteger": (int,),
    "number": (int, float),
    "buffer": (bytes,),
}


def check_parameters(specs: list[Mapping[str, Any]], values: Mapping[str, Any], where: str) -> None:
    """Raise a DataError for a missing required value or one the parameter refuses."""
    for spec in specs:
        name = spec["name"]
        value = values.get(name, UNDEFINED)
        label = f"{where}: {spec.get('label', name)} ({name})"
        if value is UNDEFINED or value is None or value == "":
            if spec.get("required"):
                raise MakeError("DataError", f"{label} is required")
            continue
        _check_value(spec, value, label)


def _check_value(spec: Mapping[str, Any], value: Any, label: str) -> None:
    kind = spec["type"]
    rules = spec.get("validate", {})
    if kind in _SCALARS:
        if not isinstance(value, _SCALARS[kind]) or (kind != "boolean" and isinstance(value, bool)):
            raise MakeError("DataError", f"{label}: {value!r} is not a {kind}")
        if kind == "uinteger" and value < 0:
            raise MakeError("DataError", f"{label}: {value!r} is negative")
        if "pattern" in rules and not re.search(rules["pattern"], value):
            raise MakeError("DataError", f"{label}: {value!r} does not match {rules['pattern']}")
        measure = len(value) if isinstance(value, str) else value
        if "min" in rules and measure < rules["min"]:
            raise MakeError("DataError", f"{label}: {value!r} is below {rules['min']}")
        if "max" in rules and measure > rules["max"]:
            raise MakeError("DataError", f"{label}: {value!r} is above {rules['max']}")
    elif kind == "select":
        options = spec.get("options")
        values = value if spec.get("multiple") else [value]
        if isinstance(options, list) and not spec.get("editable"):
            allowed = [o["value"] for o in options]
            for each in values:
                if each not in allowed:
                    raise MakeError("DataError", f"{label}: {each!r} is not one of {allowed}")
    elif kind == "array":
        if not isinstance(value, list):
            raise MakeError("DataError", f"{label}: {value!r} is not an array")
        if "minItems" in rules and len(value) < rules["minItems"]:
            raise MakeError("DataError", f"{label}: fewer than {rules['minItems']} items")
        if "maxItems" in rules and len(value) > rules["maxItems"]:
            raise MakeError("DataError", f"{label}: more than {rules['maxItems']} items")
        item_spec = spec.get("spec")
        for index, item in enumerate(value):
            where = f"{label}[{index + 1}]"
            if isinstance(item_spec, list):
                if not isinstance(item, Mapping):
                    raise MakeError("DataError", f"{where}: {item!r} is not a collection")
                check_parameters(item_spec, item, where)
            elif isinstance(item_spec, Mapping):
                _check_value({"name": "item", **item_spec}, item, where)
    elif kind == "collection":
        if not isinstance(value, Mapping):
            raise MakeError("DataError", f"{label}: {value!r} is not a collection")
        check_parameters(spec.get("spec", []), value, label)
    elif kind != "any":
        raise UnsupportedIML(f"{label}: parameter type {kind!r} is not in the subset")
