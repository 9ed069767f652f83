"""The Zapier app's files: definitions per create, search and trigger, and their wiring.

Operations map onto Zapier by kind: creates and price calculations are creates, the
status reads are one search ("Find Generation"), the model list feeds hidden triggers
behind the model dropdowns, and the webhook events are REST-hook triggers.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

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
    responses,
    states,
    steps,
)
from connector.catalog import text as catalog_text
from connector.platforms import GENERATED_NOTICE
from connector.platforms.zapier import inputs, outputs, readme
from connector.platforms.zapier.js import Code, literal
from connector.platforms.zapier.js import key as js_key
from connector.platforms.zapier.layout import (
    CORE_VERSION,
    GENERATED,
    HEADER,
    RUNTIME,
    Module,
    zapier_key,
)

#: form-data builds the multipart body of file uploads (the version core itself uses).
FORM_DATA_VERSION = "4.0.5"
PACKAGE_NAME = "creativeai-zapier"
#: From a definition in generated/<folder>/ to the runtime and to generated/.
LIB = f"../../{RUNTIME}"
UP = ".."


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
        out[f"{GENERATED}/authentication.js"] = self.authentication()
        out[f"{GENERATED}/api.js"] = self.api_facts()
        out[f"{GENERATED}/fields.js"] = self.field_table()
        out["package.json"] = self.package_json()
        out[".gitignore"] = (
            f"# {GENERATED_NOTICE}\n"
            "# node_modules is a link to the cached install (see tests/test_zapier_package.py).\n"
            "node_modules\n"
            "build/\n"
            "*.zip\n"
        )
        out["README.md"] = readme.render(
            core_version=CORE_VERSION,
            creates=creates,
            searches=searches,
            triggers=triggers,
        )
        return out

    def index(self, creates: list[Module], searches: list[Module], triggers: list[Module]) -> str:
        def group(modules: list[Module]) -> list[Code]:
            return [Code(f"require('./{m.path[:-3]}')") for m in modules]

        app = {"triggers": group(triggers), "searches": group(searches), "creates": group(creates)}
        return (
            f"{HEADER}\n"
            f"// The app: its definitions, generated under {GENERATED}/, put together by "
            f"{RUNTIME}/app.js.\n"
            f"const {{ defineApp }} = require('./{RUNTIME}/app');\n\n"
            f"module.exports = defineApp({_object(app)});\n"
        )

    def field_table(self) -> str:
        table = inputs.field_table(op for op in self.operations if _is_create(op))
        return (
            f"{HEADER}\n"
            "// Every field the actions take, once, by its catalog key: the Zapier input field\n"
            "// (an action adds whether it requires it) and, under `api`, how its value is sent.\n"
            f"// {RUNTIME}/fields.js builds each action's inputFields and request from it.\n"
            f"module.exports = {_object(table)};\n"
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
                    "helpText": "Your CreativeAI API key: find it, or create one, under "
                    f"[{limits.API_KEYS_PAGE}]({limits.API_KEYS_URL}). It is sent only to "
                    "the API and to your relay.",
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
                    "helpText": "Optional: the base URL of your CreativeAI relay, e.g. "
                    "`https://relay.example.com`. Actions wait for their results without "
                    "it. The relay adds: the API's signature checked before anything "
                    "reaches Zapier, duplicates dropped, retries with a delivery log, and "
                    "the Generation Completed and Generation Failed triggers (they need it: "
                    "the API has no subscriptions of its own).",
                },
            ],
            "test": Code("testConnection"),
            "connectionLabel": Code("connectionLabel"),
        }
        return (
            f"{HEADER}\n"
            f"const {{ connectionLabel, testConnection }} = require('{UP}/{RUNTIME}/auth');\n\n"
            f"module.exports = {_object(auth)};\n"
        )

    # -- creates ---------------------------------------------------------------------------

    def create(self, op: Operation) -> Module:
        status = self._status_op(op)
        paths = outputs.file_paths(outputs.operation_models(op, status))
        contract = self.catalog.output(op.key)
        sample = outputs.sample_of(contract, paths)
        request: dict[str, Any] = {
            "label": op.label,
            "method": op.method,
            "path": op.path,
            "body": op.body,
        }
        description = catalog_text.third_person(op.description)
        output_fields = outputs.contract_fields(contract, paths)
        if op.is_async:
            assert op.job is not None
            request["job"] = op.job.value
            request["webhookField"] = fields.WEBHOOK_URL.name
            description += (
                " With Wait for the Result on, the step finishes when the job does and "
                "outputs the result and its file."
            )
        if not op.is_async:
            request["outputs"] = outputs.runtime_spec(contract.fields)
        capped = op in steps.capped(self.catalog.operations.values())
        if capped:
            # "Max Credits" and "Record Key" (the catalog's `steps`): the ledger names a
            # record key's job by this operation's catalog name.
            request["paid"] = op.key
        request["files"] = paths
        request["oneOf"] = [list(group) for group in op.one_of]
        request["fields"] = Code("fields.specs")
        request["sample"] = Code("sample")
        operation: dict[str, Any] = {}
        if inputs.has_advanced(op):
            operation["inputFieldGroups"] = [inputs.ADVANCED_GROUP]
        operation.update(
            inputFields=Code("fields.inputs"),
            perform=Code("(z, bundle) => perform(z, bundle, request)"),
        )
        if op.is_async:
            operation["performResume"] = Code("(z, bundle) => resume(z, bundle, request)")
        operation.update(sample=Code("sample"), outputFields=output_fields)
        definition = {
            "key": zapier_key(op.key),
            "noun": self._noun(op),
            "display": {"label": op.label, "description": description},
            "operation": operation,
        }
        imports = "perform, resume" if op.is_async else "perform"
        options = [name for name, on in (("wait", op.is_async), ("paid", capped)) if on]
        wait = ", { " + ", ".join(f"{name}: true" for name in options) + " }" if options else ""
        source = (
            f"{HEADER}\n"
            f"const {{ forAction }} = require('{LIB}/fields');\n"
            f"const {{ {imports} }} = require('{LIB}/operations');\n\n"
            f"const sample = {_object(sample)};\n\n"
            f"// The fields it takes, by their key in ../fields.js, and whether it requires each.\n"
            f"const fields = forAction({_call_arg(inputs.uses(op), wait)});\n\n"
            f"// How this action calls the API (from the catalog's `{op.key}`).\n"
            f"const request = {_object(request)};\n\n"
            f"module.exports = {_object(definition)};\n"
        )
        return Module("creates", zapier_key(op.key), op.label, source)

    def _status_op(self, op: Operation) -> Operation | None:
        return self.catalog.operation(op.status_operation) if op.status_operation else None

    # -- the search ------------------------------------------------------------------------

    def _job_words(self) -> str:
        """ "video, video batch, voice, composed video or chart video": what jobs make."""
        nouns: list[str] = []
        for op in self.operations:
            noun = self.catalog.resource(op.key).noun
            if op.is_async and noun not in nouns:
                nouns.append(noun)
        return catalog_text.join_words(nouns, "or")

    def _status_reads(self) -> list[Operation]:
        return [op for op in self.operations if op.kind is OperationKind.GET and op.job]

    def find_generation(self) -> Module:
        reads = self._status_reads()
        samples = [
            outputs.sample_of(self.catalog.output(op.key), self._read_files(op)) for op in reads
        ]
        listed: list[dict[str, Any]] = []
        for op in reads:
            for field in outputs.contract_fields(self.catalog.output(op.key), self._read_files(op)):
                if all(field["key"] != known["key"] for known in listed):
                    listed.append(field)
        first = reads[0]
        definition = {
            "key": "find_generation",
            "noun": "Generation",
            "display": {
                "label": "Find Generation",
                "description": catalog_text.third_person(
                    f"Find a {self._job_words()} by its id: its status and, once finished, "
                    "its result and file."
                ),
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
                "outputFields": listed,
            },
        }
        source = (
            f"{HEADER}\n"
            f"const {{ findGeneration }} = require('{LIB}/search');\n\n"
            f"const sample = {_object(samples[0])};\n\n"
            f"module.exports = {_object(definition)};\n"
        )
        return Module("searches", "find_generation", "Find Generation", source)

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

    def _known_models(self, source: ModelSource) -> list[str]:
        """The catalog's known models of the fields fed by `source` (the fallback when the
        live list carries no `type`)."""
        known: list[str] = []
        for op in self.operations:
            for use in op.fields:
                for f in (use.field, *use.field.children):
                    if f.options_source == source:
                        known += [v for v in f.option_values if v not in known]
        return known

    def model_triggers(self) -> list[Module]:
        listing = next(op for op in self.operations if op.kind is OperationKind.LIST)
        sample = dict(listing.sample_response["data"][0])
        modules = []
        for source in self._model_sources():
            key = inputs.models_trigger_key(source)
            kind = inputs.models_trigger_kind(source)
            known = self._known_models(source)
            named = f"{kind.replace('-', ' ')} models" if kind else "models"
            label = catalog_text.title_case(named)
            definition = {
                "key": key,
                "noun": self._noun(listing),
                "display": {
                    "label": label,
                    "description": "Feeds the model dropdowns: "
                    + _lowered(catalog_text.third_person(listing.description)).removesuffix(".")
                    + (f", of type {kind}." if kind else "."),
                    "hidden": True,
                },
                "operation": {
                    "perform": Code(
                        f"(z, bundle) => listModels(z, bundle, {literal(kind)}, known)"
                    ),
                    "sample": sample,
                    "outputFields": outputs.item_fields(
                        self.catalog.output(listing.key).field("data")
                    ),
                },
            }
            source_js = (
                f"{HEADER}\n"
                f"const {{ listModels }} = require('{LIB}/models');\n\n"
                "// The catalog's models, offered when the live list says no model's type.\n"
                f"const known = {_object(known)};\n\n"
                f"module.exports = {_object(definition)};\n"
            )
            modules.append(Module("triggers", key, label, source_js))
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
                f"Triggers when a job started with this connection finishes: a "
                f"{self._job_words()}.",
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
            what = self._event_noun(event)
            modules.append(
                self.hook(
                    zapier_key(event.name),
                    self._event_label(event),
                    f"Triggers when a {what.lower()} started with this connection is ready.",
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
        contract = self.catalog.event_output(first.name)
        ident = self._id_of(contract.sample)
        sample = outputs.sample_of(contract, paths, id=ident, event=first.name)
        kinds = {e.name: self._event_kind(e) for e in events}
        outs = {
            e.name: outputs.runtime_spec(self.catalog.event_output(e.name).fields) for e in events
        }
        hook = {
            "events": [e.name for e in events],
            "kinds": kinds,
            "outputs": outs,
            "files": paths,
        }
        operation: dict[str, Any] = {"type": "hook"}
        if choosable:
            operation["inputFields"] = [
                {
                    "key": "events",
                    "label": "Events",
                    "required": False,
                    "list": True,
                    "choices": [
                        {"value": e.name, "label": self._event_label(e), "sample": e.name}
                        for e in events
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
            outputFields=outputs.contract_fields(contract, paths, id="ID", event="Event"),
        )
        definition = {
            "key": key,
            "noun": "Generation",
            "display": {"label": label, "description": description},
            "operation": operation,
        }
        source = (
            f"{HEADER}\n"
            f"const {{ receive, recent, subscribe, unsubscribe }} = require('{LIB}/hooks');\n\n"
            f"const sample = {_object(sample)};\n\n"
            f"// The relay forwards these events here.\n"
            f"const hook = {_object(hook)};\n\n"
            f"module.exports = {_object(definition)};\n"
        )
        return Module("triggers", key, label, source)

    def _event_noun(self, event: Event) -> str:
        """What a job ending with `event` makes, as the trigger's label names it."""
        return self._noun(self.catalog.operation(event.operations[0]))

    def _noun(self, op: Operation) -> str:
        """The catalog's noun of what `op` acts on, in Title Case ("Composed Video")."""
        return catalog_text.title_case(self.catalog.resource(op.key).noun)

    def _event_label(self, event: Event) -> str:
        return catalog_text.title_case(f"{self._event_noun(event)} {event.state.value}")

    def _event_kind(self, event: Event) -> str:
        jobs = {op.job for key in event.operations if (op := self.catalog.operation(key)).job}
        assert len(jobs) == 1, f"{event.name} follows jobs of kinds {jobs}"
        return jobs.pop().value

    def _id_of(self, sample: Any) -> Any:
        """A trigger's record id (Zapier deduplicates on it): the job's, or the batch's."""
        return sample.get("id") or sample.get(api_batch_param(self.catalog))

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
                    "spelling": outputs.spelling(op.job),
                    "outputs": outputs.runtime_spec(self.catalog.output(op.key).fields),
                    **({"counts": _BATCH_COUNTS} if op.job is JobKind.BATCH else {}),
                }
                for kind, op in reads.items()
                if op.job
            },
            "errors": {
                e.code: {"status": e.http_status, "title": e.title, "advice": e.advice}
                for e in self.catalog.errors.values()
            },
            "jobFailures": dict(errors.JOB_FAILURES),
            "outputUrlLifetimeDays": limits.OUTPUT_URL_LIFETIME_DAYS,
            "steps": self._step_facts(),
            "stash": {
                "maxBytes": limits.ZAPIER_STASH_FILE.max_bytes,
                "overLimit": limits.file_over_limit(limits.ZAPIER_STASH_FILE, "{size}"),
            },
            "timestamps": list(outputs.EPOCH_TIMESTAMPS),
        }
        return (
            f"{HEADER}\n"
            "// What this app knows about the CreativeAI API, taken from the connector's "
            "catalog.\n"
            f"module.exports = {_object(facts)};\n"
        )

    def _step_facts(self) -> dict[str, Any]:
        """The options of every paid create (the catalog's `steps`) as Zapier input fields,
        the price request they make, and their refusals with `{placeholders}` to fill."""
        price = self.catalog.operation(steps.PRICE_OPERATION)
        cap, key = steps.MAX_CREDITS, steps.RECORD_KEY
        return {
            "maxCredits": {
                "key": cap.key,
                "label": cap.label,
                "type": inputs.zapier_type(cap.type),
                "required": False,
                "helpText": cap.help,
                "minimum": cap.minimum,
            },
            # Zapier keeps no ledger of its own: the connection's relay does.
            "recordKey": {
                "key": key.key,
                "label": key.label,
                "type": inputs.zapier_type(key.type),
                "required": False,
                "helpText": f"{key.help} {key.without_ledger}",
            },
            "price": {"operation": price.key, "method": price.method, "path": price.path},
            "ledger": {
                "path": steps.LEDGER.path,
                "maxKeyChars": steps.LEDGER.max_key_chars,
                "maxResultBytes": steps.LEDGER.max_result_bytes,
                "dotKeys": list(steps.LEDGER.dot_keys),
                "keyRule": steps.LEDGER.key_rule,
            },
            "overCap": steps.over_cap("{estimate}", "{cap}"),
            "unpriceable": steps.unpriceable("{reason}", "{cap}"),
            "ledgerUnanswered": steps.ledger_unanswered("{reason}"),
            "reusedUnfetchable": steps.reused_unfetchable("{id}", "{reason}"),
            "unrecorded": steps.unrecorded("{paid}", "{reason}"),
        }

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


def _is_create(op: Operation) -> bool:
    return op.kind in (OperationKind.CREATE, OperationKind.CALCULATE)


def _job(op: Operation) -> str:
    assert op.job is not None, f"{op.key} follows no job"
    return op.job.value


def _lowered(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def api_batch_param(catalog: Catalog) -> str:
    """The name a batch's id goes by (the batch status path's parameter)."""
    batch = next(
        op for op in catalog.operations.values() if op.job is JobKind.BATCH and op.path_params
    )
    return batch.path_params[0].name


def _kind(op: Operation) -> JobKind:
    assert op.job is not None, f"{op.key} follows no job"
    return op.job


def _model(op: Operation) -> type[BaseModel]:
    return responses.RESPONSES[op.response]


#: How a batch's counts give its state (BatchStatus.state in the catalog, for the runtime).
_BATCH_COUNTS = {
    "total": "total_jobs",
    "ended": ["completed", "failed"],
    "started": ["processing", "completed", "failed"],
}


def _object(value: Any) -> str:
    return literal(value, 0)


def _call_arg(uses: dict[str, bool | dict[str, Any]], rest: str) -> str:
    """`forAction(...)`'s arguments: on the call's line while they fit, else one per line."""
    flat = literal(uses, len("const fields = forAction(") + len(rest) + 2)
    if "\n" not in flat:
        return flat + rest
    return (
        "{\n" + "".join(f"  {js_key(k)}: {literal(v, 2)},\n" for k, v in uses.items()) + "}" + rest
    )


__all__ = ["CORE_VERSION", "AppBuilder"]
