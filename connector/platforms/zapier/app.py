"""The Zapier app's files: definitions per create, search and trigger, and their wiring.

Operations map onto Zapier by kind: creates and price calculations are creates, the
status reads are one search ("Find Generation"), the model list feeds hidden triggers
behind the model dropdowns, and the webhook events are REST-hook triggers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from connector import __version__
from connector.catalog import (
    Catalog,
    Event,
    JobKind,
    ModelSource,
    NormalizedState,
    Operation,
    OperationKind,
    errors,
    fields,
    limits,
    states,
)
from connector.catalog.resources import BY_KEY as RESOURCES
from connector.platforms import GENERATED_NOTICE
from connector.platforms.zapier import inputs, outputs
from connector.platforms.zapier.js import Code, literal

#: zapier-platform-core, pinned exactly as Zapier requires (the CLI and schema share it).
CORE_VERSION = "19.1.0"
#: form-data builds the multipart body of file uploads (the version core itself uses).
FORM_DATA_VERSION = "4.0.5"
PACKAGE_NAME = "creativeai-zapier"
HEADER = f"// {GENERATED_NOTICE}\n'use strict';\n"
RUNTIME = ("auth", "files", "hooks", "http", "input", "models", "operations", "search")
WAIT_KEY = "wait_for_result"
NOTE_KEY = "note"


def identifier(key: str) -> str:
    """`video.create_from_text` -> `videoCreateFromText`."""
    words = key.replace(".", "_").replace("-", "_").split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def zapier_key(key: str) -> str:
    return key.replace(".", "_").replace("-", "_")


@dataclass(frozen=True)
class Module:
    """One definition file: where it lives, its key, and the variable index.js binds."""

    folder: str
    key: str
    source: str

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.key}.js"

    @property
    def name(self) -> str:
        return identifier(self.key)


class AppBuilder:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.operations = catalog.for_platform("zapier")

    # -- the whole app -----------------------------------------------------------------

    def files(self) -> dict[str, str]:
        creates = [self.create(op) for op in self.operations if _is_create(op)]
        searches = [self.find_generation()]
        triggers = self.model_triggers() + self.hook_triggers()
        out: dict[str, str] = {m.path: m.source for m in (*creates, *searches, *triggers)}
        out["index.js"] = self.index(creates, searches, triggers)
        out["authentication.js"] = self.authentication()
        out["lib/api.js"] = self.api_facts()
        for name in RUNTIME:
            out[f"lib/{name}.js"] = (
                HEADER + "\n" + _template(f"lib/{name}.js").replace("'use strict';\n\n", "", 1)
            )
        out["package.json"] = self.package_json()
        out[".gitignore"] = (
            f"# {GENERATED_NOTICE}\n"
            "# node_modules is a link to the cached install (see tests/test_zapier_package.py).\n"
            "node_modules\n"
            "build/\n"
            "*.zip\n"
        )
        out["README.md"] = self.readme(creates, searches, triggers)
        return out

    def index(self, creates: list[Module], searches: list[Module], triggers: list[Module]) -> str:
        requires = "\n".join(
            f"const {m.name} = require('./{m.path[:-3]}');"
            for m in (*triggers, *searches, *creates)
        )

        def group(modules: list[Module]) -> Code:
            body = "".join(f"\n    [{m.name}.key]: {m.name}," for m in modules)
            return Code("{" + body + "\n  }")

        app = {
            "version": Code("version"),
            "platformVersion": Code("platformVersion"),
            "authentication": Code("authentication"),
            "beforeRequest": [Code("addApiKey")],
            "afterResponse": [Code("raiseForErrors")],
            "hydrators": {"downloadFile": Code("downloadFile")},
            "triggers": group(triggers),
            "searches": group(searches),
            "creates": group(creates),
        }
        return (
            f"{HEADER}\n"
            "const { version } = require('./package.json');\n"
            "const { version: platformVersion } = require('zapier-platform-core');\n\n"
            "const authentication = require('./authentication');\n"
            "const { addApiKey, raiseForErrors } = require('./lib/http');\n"
            "const { downloadFile } = require('./lib/files');\n\n"
            f"{requires}\n\n"
            f"module.exports = {_object(app)};\n"
        )

    def authentication(self) -> str:
        auth = {
            "type": "custom",
            "fields": [
                {
                    "key": "api_key",
                    "label": "API Key",
                    "type": "password",
                    "required": True,
                    "helpText": "Your CreativeAI API key (Dashboard → API Keys). It is sent only "
                    "to the API and to your relay.",
                },
                {
                    "key": "base_url",
                    "label": "API Base URL",
                    "type": "string",
                    "required": False,
                    "default": limits.DEFAULT_BASE_URL,
                    "helpText": "Leave as is for CreativeAI itself; change it for a sandbox "
                    "or a self-hosted gateway.",
                },
                {
                    "key": "relay_url",
                    "label": "Relay URL",
                    "type": "string",
                    "required": False,
                    "helpText": "Base URL of your CreativeAI relay, e.g. "
                    "`https://relay.example.com`. Needed to wait for results and for the "
                    "Generation Completed triggers; without it, creates return the job id "
                    "at once.",
                },
            ],
            "test": Code("testConnection"),
            "connectionLabel": Code("connectionLabel"),
        }
        return (
            f"{HEADER}\n"
            "const { connectionLabel, testConnection } = require('./lib/auth');\n\n"
            f"module.exports = {_object(auth)};\n"
        )

    # -- creates ---------------------------------------------------------------------------

    def create(self, op: Operation) -> Module:
        status = self._status_op(op)
        paths = outputs.file_paths(outputs.operation_models(op, status))
        sample = outputs.with_files(outputs.finished_sample(op, status), paths)
        mapped = inputs.map_operation(op)
        input_fields = list(mapped.input_fields)
        request: dict[str, Any] = {
            "label": op.label,
            "method": op.method,
            "path": op.path,
            "body": op.body,
        }
        description = op.description
        output_fields = outputs.output_fields(sample)
        if op.is_async:
            assert op.job is not None
            request["job"] = op.job.value
            request["webhookField"] = fields.WEBHOOK_URL.name
            input_fields.append(_wait_field())
            description += (
                " With Wait for the Result on (and a relay in the connection), the step "
                "finishes when the job does and outputs the result and its file."
            )
            output_fields.append({"key": NOTE_KEY, "label": "Note", "type": "string"})
        request["files"] = paths
        request["oneOf"] = [list(group) for group in op.one_of]
        request["fields"] = mapped.spec
        request["sample"] = Code("sample")
        operation: dict[str, Any] = {}
        if mapped.has_advanced:
            operation["inputFieldGroups"] = [inputs.ADVANCED_GROUP]
        operation.update(
            inputFields=input_fields,
            perform=Code("(z, bundle) => perform(z, bundle, request)"),
        )
        if op.is_async:
            operation["performResume"] = Code("(z, bundle) => resume(z, bundle, request)")
        operation.update(sample=Code("sample"), outputFields=output_fields)
        definition = {
            "key": zapier_key(op.key),
            "noun": RESOURCES[op.resource].label,
            "display": {"label": op.label, "description": description},
            "operation": operation,
        }
        imports = "perform, resume" if op.is_async else "perform"
        source = (
            f"{HEADER}\n"
            f"const {{ {imports} }} = require('../lib/operations');\n\n"
            f"const sample = {_object(sample)};\n\n"
            f"// How this action calls the API (from the catalog's `{op.key}`).\n"
            f"const request = {_object(request)};\n\n"
            f"module.exports = {_object(definition)};\n"
        )
        return Module("creates", zapier_key(op.key), source)

    def _status_op(self, op: Operation) -> Operation | None:
        return self.catalog.operation(op.status_operation) if op.status_operation else None

    # -- the search ------------------------------------------------------------------------

    def _status_reads(self) -> list[Operation]:
        return [op for op in self.operations if op.kind is OperationKind.GET and op.job]

    def find_generation(self) -> Module:
        reads = self._status_reads()
        samples = [outputs.with_files(op.sample_response, self._read_files(op)) for op in reads]
        merged: dict[str, Any] = {}
        for one in samples:
            merged.update({k: v for k, v in one.items() if k not in merged})
        first = reads[0]
        definition = {
            "key": "find_generation",
            "noun": "Generation",
            "display": {
                "label": "Find Generation",
                "description": "Find a video, batch, voice, compose or chart job by its id: "
                "its status and, once finished, its result and file.",
            },
            "operation": {
                "inputFields": [
                    {
                        "key": "kind",
                        "label": "Kind",
                        "required": True,
                        "default": _job(first),
                        "choices": [
                            {
                                "value": _job(op),
                                "label": f"{op.label.removeprefix('Get ')} – {op.description}",
                                "sample": _job(op),
                            }
                            for op in reads
                        ],
                        "helpText": "Which status endpoint knows the id: the one of the "
                        "action that started the job.",
                    },
                    {
                        "key": "id",
                        "label": "ID",
                        "required": True,
                        "type": "string",
                        "helpText": "The id the create step returned (`batch_id` for batches).",
                        "placeholder": str(first.path_params[0].example),
                    },
                ],
                "perform": Code("findGeneration"),
                "sample": Code("sample"),
                "outputFields": outputs.output_fields(merged),
            },
        }
        source = (
            f"{HEADER}\n"
            "const { findGeneration } = require('../lib/search');\n\n"
            f"const sample = {_object(samples[0])};\n\n"
            f"module.exports = {_object(definition)};\n"
        )
        return Module("searches", "find_generation", source)

    def _read_files(self, op: Operation) -> list[str]:
        return outputs.file_paths(outputs.operation_models(op, None))

    # -- triggers --------------------------------------------------------------------------

    def _model_sources(self) -> list[ModelSource]:
        found: list[ModelSource] = []
        for op in self.operations:
            for use in op.fields:
                for f in (use.field, *use.field.children):
                    src = f.options_source
                    if src and "zapier" in f.platforms and src not in found:
                        found.append(src)
        return found

    def model_triggers(self) -> list[Module]:
        listing = next(op for op in self.operations if op.kind is OperationKind.LIST)
        sample = dict(listing.sample_response["data"][0])
        modules = []
        for source in self._model_sources():
            key = inputs.models_trigger_key(source)
            kind = inputs.models_trigger_kind(source)
            label = f"{kind.replace('-', ' ').title()} Models" if kind else "Models"
            definition = {
                "key": key,
                "noun": "Model",
                "display": {
                    "label": label,
                    "description": f"Feeds the model dropdowns: {listing.description[:-1].lower()}"
                    + (f" of type {kind}." if kind else "."),
                    "hidden": True,
                },
                "operation": {
                    "perform": Code(f"(z, bundle) => listModels(z, bundle, {literal(kind)})"),
                    "sample": sample,
                    "outputFields": outputs.output_fields(sample),
                },
            }
            source_js = (
                f"{HEADER}\n"
                "const { listModels } = require('../lib/models');\n\n"
                f"module.exports = {_object(definition)};\n"
            )
            modules.append(Module("triggers", key, source_js))
        return modules

    def _zapier_events(self) -> list[Event]:
        creates = {op.key for op in self.operations if op.is_async}
        return [e for e in self.catalog.events.values() if set(e.operations) & creates]

    def hook_triggers(self) -> list[Module]:
        events = self._zapier_events()
        done = [e for e in events if e.state is NormalizedState.COMPLETED]
        failed = [e for e in events if e.state is NormalizedState.FAILED]
        modules = [
            self.hook(
                "generation_completed",
                "Generation Completed",
                "Triggers when a job started with this connection finishes: a video, "
                "batch, voice, compose or chart job.",
                done,
                choosable=True,
            ),
            self.hook(
                "generation_failed",
                "Generation Failed",
                "Triggers when a job started with this connection fails (nothing is "
                "charged for a failed job).",
                failed,
                choosable=True,
            ),
        ]
        for event in done:
            what = event.label.removesuffix(" Completed").lower()
            modules.append(
                self.hook(
                    zapier_key(event.name),
                    event.label,
                    f"Triggers when a {what} job started with this connection finishes.",
                    [event],
                    choosable=False,
                )
            )
        return modules

    def hook(
        self, key: str, label: str, description: str, events: list[Event], *, choosable: bool
    ) -> Module:
        ops = [self.catalog.operation(k) for e in events for k in e.operations]
        ops = [op for op in ops if op in self.operations]
        models: list[Any] = []
        for op in ops:
            models += outputs.operation_models(op, self._status_op(op))
        paths = outputs.file_paths(models)
        first = events[0]
        sample = self._event_sample(first, ops[0])
        sample = outputs.with_files(sample, paths)
        hook = {"events": [e.name for e in events], "files": paths}
        operation: dict[str, Any] = {"type": "hook"}
        if choosable:
            operation["inputFields"] = [
                {
                    "key": "events",
                    "label": "Events",
                    "required": False,
                    "list": True,
                    "choices": [
                        {"value": e.name, "label": e.label, "sample": e.name} for e in events
                    ],
                    "helpText": "Only these events; leave empty for all of them.",
                }
            ]
        operation.update(
            performSubscribe=Code("(z, bundle) => subscribe(z, bundle, hook)"),
            performUnsubscribe=Code("unsubscribe"),
            perform=Code("(z, bundle) => receive(z, bundle, hook)"),
            performList=Code("(z, bundle) => recent(z, bundle, hook)"),
            sample=Code("sample"),
            outputFields=outputs.output_fields(sample),
        )
        definition = {
            "key": key,
            "noun": "Generation",
            "display": {"label": label, "description": description},
            "operation": operation,
        }
        source = (
            f"{HEADER}\n"
            "const { receive, recent, subscribe, unsubscribe } = require('../lib/hooks');\n\n"
            f"const sample = {_object(sample)};\n\n"
            f"// The relay forwards these events here.\n"
            f"const hook = {_object(hook)};\n\n"
            f"module.exports = {_object(definition)};\n"
        )
        return Module("triggers", key, source)

    def _event_sample(self, event: Event, op: Operation) -> dict[str, Any]:
        sample = outputs.finished_sample(op, self._status_op(op))
        if event.state is not NormalizedState.COMPLETED and op.job is not None:
            raw = _spelling(op.job, event.state)
            sample = {**sample, "status": raw, "output_url": None}
        ident = sample.get("id") or sample.get(self._id_param(op))
        return {"id": ident, "event": event.name, **{k: v for k, v in sample.items() if k != "id"}}

    def _id_param(self, op: Operation) -> str:
        status = self._status_op(op)
        return status.path_params[0].name if status and status.path_params else "id"

    # -- shared facts --------------------------------------------------------------------

    def api_facts(self) -> str:
        reads = {op.job.value: op for op in self._status_reads() if op.job}
        vocabulary: dict[str, str] = {}
        for table in states.STATUSES.values():
            for raw, state in table.items():
                vocabulary.setdefault(raw.lower(), state.value)
        facts = {
            "defaultBaseUrl": limits.DEFAULT_BASE_URL,
            "modelsPath": next(op.path for op in self.operations if op.kind is OperationKind.LIST),
            "auth": {"header": limits.AUTH_HEADER, "scheme": limits.AUTH_SCHEME},
            "headers": {
                "event": limits.EVENT_HEADER,
                "deliveryId": limits.DELIVERY_ID_HEADER,
                "retryAfter": limits.RETRY_AFTER_HEADER,
                "retryAfterMs": limits.RETRY_AFTER_MS_HEADER,
            },
            "states": vocabulary,
            "terminalStates": [s.value for s in NormalizedState if s.terminal],
            "failedStates": [
                s.value
                for s in NormalizedState
                if s.terminal and s is not NormalizedState.COMPLETED
            ],
            "jobs": {
                kind: {
                    "label": op.label.removeprefix("Get "),
                    "path": op.path,
                    "param": op.path_params[0].name,
                    "files": self._read_files(op),
                }
                for kind, op in reads.items()
            },
            "errors": {
                e.code: {"status": e.http_status, "title": e.title, "advice": e.advice}
                for e in self.catalog.errors.values()
            },
            "jobFailures": dict(errors.JOB_FAILURES),
            "outputUrlLifetimeDays": limits.OUTPUT_URL_LIFETIME_DAYS,
        }
        return (
            f"{HEADER}\n"
            "// What this app knows about the CreativeAI API, taken from the connector's "
            "catalog.\n"
            f"module.exports = {_object(facts)};\n"
        )

    def package_json(self) -> str:
        package = {
            "//": GENERATED_NOTICE,
            "name": PACKAGE_NAME,
            "version": __version__,
            "description": "CreativeAI for Zapier: video, batch, voice, compose, image and "
            "chart actions, with results delivered through the CreativeAI relay.",
            "main": "index.js",
            "private": True,
            "scripts": {"test": "NODE_ENV=test node --test test/*.test.js"},
            "engines": {"node": ">=20"},
            "dependencies": {
                "form-data": FORM_DATA_VERSION,
                "zapier-platform-core": CORE_VERSION,
            },
        }
        return json.dumps(package, indent=2, ensure_ascii=False) + "\n"

    def readme(self, creates: list[Module], searches: list[Module], triggers: list[Module]) -> str:
        from connector.platforms.zapier.readme import render

        return render(self, creates, searches, triggers)


def _is_create(op: Operation) -> bool:
    return op.kind in (OperationKind.CREATE, OperationKind.CALCULATE)


def _job(op: Operation) -> str:
    assert op.job is not None, f"{op.key} follows no job"
    return op.job.value


def _spelling(kind: JobKind, state: NormalizedState) -> str:
    return next(raw for raw, s in states.STATUSES[kind].items() if s is state)


def _wait_field() -> dict[str, Any]:
    return {
        "key": WAIT_KEY,
        "label": "Wait for the Result",
        "type": "boolean",
        "required": False,
        "default": "true",
        "helpText": "On: this step waits until the job has finished, through the relay in "
        "the connection, and outputs the result and its file. Off, or without a relay: it "
        "outputs the job id at once. In the Zap editor's test a waiting step shows a sample "
        "result instead of starting a job.",
    }


def _object(value: Any) -> str:
    return literal(value, 0)


def _template(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


__all__ = ["CORE_VERSION", "AppBuilder", "identifier"]
