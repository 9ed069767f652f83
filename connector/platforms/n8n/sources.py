"""The TypeScript sources of the package: nodes, per-resource descriptions, credentials,
and `catalog.ts`, the table of operations the node's hand-written runtime reads."""

from __future__ import annotations

from typing import Any

from connector.catalog import Catalog, Operation, errors, limits, states
from connector.catalog.events import unconfirmed_note
from connector.catalog.resources import BY_KEY as RESOURCES
from connector.catalog.spec import JobKind
from connector.catalog.text import n8n_description
from connector.platforms import GENERATED_NOTICE
from connector.platforms.n8n import properties as P
from connector.platforms.n8n.ts import Raw, camel, literal, pascal, sort_key, string

HEADER = f"// {GENERATED_NOTICE}\n"
NODE_DIR = "nodes/CreativeAi"
TRIGGER_DIR = "nodes/CreativeAiTrigger"
CREDENTIAL = "creativeAiApi"
ICON = {"light": "file:../../icons/creativeai.svg", "dark": "file:../../icons/creativeai.dark.svg"}
CRED_ICON = {"light": "file:../icons/creativeai.svg", "dark": "file:../icons/creativeai.dark.svg"}
DOCS_URL = "https://github.com/creativeai/n8n-nodes-creativeai#readme"

#: Default number of requests the node keeps in flight for many items (at most the API's cap).
DEFAULT_PARALLEL = 5


def resources(catalog: Catalog) -> dict[str, list[Operation]]:
    out: dict[str, list[Operation]] = {}
    for op in catalog.for_platform("n8n"):
        out.setdefault(op.resource, []).append(op)
    return out


def resource_label(ops: list[Operation]) -> str:
    return RESOURCES[ops[0].resource].label


def _sentence(text: str) -> str:
    return P.description(text)


# -- resources/<resource>/<operation>.ts ------------------------------------------------------


def _completion(op: Operation) -> list[Any]:
    if not op.is_async or op.job is None:
        return []
    cadence = limits.POLL_CADENCE[op.job]
    return [Raw(f"...completionFields(showFor, {cadence.interval:g}, {cadence.timeout:g})")]


def _options(op: Operation) -> dict[str, Any]:
    opts: list[dict[str, Any]] = []
    if op.response in ("VideoJob", "SharedJob", "ImageResult", "BatchCreated"):
        opts += [
            {
                "displayName": "Download Result",
                "name": "download",
                "type": "boolean",
                "default": False,
                "description": "Whether to put the finished file into the item's binary data "
                f"(output URLs expire after {limits.OUTPUT_URL_LIFETIME_DAYS} days)",
            },
            {
                "displayName": "Put Output File in Field",
                "name": "binaryPropertyName",
                "type": "string",
                "default": "data",
                "description": "Name of the binary field the downloaded file goes to",
            },
        ]
    if op.kind.value != "list":
        opts.append(
            {
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
            }
        )
    if op.key in _batchable(op):
        opts.append(
            {
                "displayName": "Send Items as Batches",
                "name": "batchItems",
                "type": "boolean",
                "default": True,
                "description": "Whether to send many items as batch calls of up to "
                f"{limits.BATCH_MAX_PROMPTS} videos (items using only the batch's fields)",
            }
        )
    return {
        "displayName": "Options",
        "name": "options",
        "type": "collection",
        "placeholder": "Add Option",
        "default": {},
        "displayOptions": Raw("showFor"),
        "options": sorted(opts, key=lambda o: sort_key(str(o["displayName"]))),
    }


def _batchable(op: Operation) -> tuple[str, ...]:
    return (op.key,) if op.job is JobKind.VIDEO and op.is_async else ()


def operation_file(op: Operation) -> str:
    fields = P.split(op)
    props: list[Any] = []
    for param in op.path_params:
        prop = P.property_for(param, name=P.path_param_name(param))
        prop.update(required=True, displayOptions=Raw("showFor"))
        props.append(prop)
    for use in fields.top:
        prop = P.property_for(use.field)
        prop.update(required=True, displayOptions=Raw("showFor"))
        props.append(prop)
    props += _completion(op)
    if fields.additional:
        props.append(P.additional_collection(op, fields.additional))
    props.append(_options(op))
    imports = "import type { INodeProperties } from 'n8n-workflow';\n"
    if op.is_async:
        imports += "import { completionFields } from '../completion';\n"
    name = f"{camel(op.resource)}{pascal(P.op_value(op))}Description"
    show = literal(P.show_for(op.resource, P.op_value(op))["show"])
    return (
        HEADER
        + imports
        + f"\nconst showFor = {{\n\tshow: {show.replace(chr(10), chr(10) + chr(9))},\n}};\n\n"
        + f"export const {name}: INodeProperties[] = {literal(props)};\n"
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
                "description": _sentence(op.description),
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


COMPLETION_TS = (
    HEADER
    + """import type { INodeProperties } from 'n8n-workflow';

type Show = { show: Record<string, string[]> };

/** How an operation that starts a job finishes: return at once, poll, or park and resume. */
export function completionFields(
	showFor: Show,
	interval: number,
	timeout: number,
): INodeProperties[] {
	const when = (modes: string[]) => ({ show: { ...showFor.show, completion: modes } });
	return [
		{
			displayName: 'Completion',
			name: 'completion',
			type: 'options',
			noDataExpression: true,
			displayOptions: showFor,
			options: [
				{
					name: "Don't Wait",
					value: 'none',
					description: 'Return the job as the API accepted it',
				},
				{
					name: 'Poll Until Done',
					value: 'poll',
					description: 'Check the job at the documented interval until it ends',
				},
				{
					name: 'Resume by Webhook',
					value: 'webhook',
					description:
						'Park the execution (no worker held) until the job ends and its webhook ' +
						'resumes it',
				},
			],
			default: 'poll',
		},
		{
			displayName: 'Poll Every (Seconds)',
			name: 'pollInterval',
			type: 'number',
			typeOptions: { minValue: 1, numberPrecision: 1 },
			displayOptions: when(['poll']),
			default: interval,
			description: 'How long to wait between two status checks',
		},
		{
			displayName: 'Give Up After (Seconds)',
			name: 'timeout',
			type: 'number',
			typeOptions: { minValue: 1, numberPrecision: 0 },
			displayOptions: when(['poll', 'webhook']),
			default: timeout,
			description: 'Fail the item, naming its job ID, if the job has not ended by then',
		},
	];
}
"""
)


# -- the nodes ----------------------------------------------------------------------------------


def action_node(catalog: Catalog) -> str:
    by_resource = resources(catalog)
    sources = {
        use.field.options_source
        for op in catalog.for_platform("n8n")
        for use in op.fields
        if use.field.options_source
    }
    loaders = P.model_kinds({s for s in sources if s})
    imports = [f"import {{ {camel(r)}Description }} from './resources/{r}';" for r in by_resource]
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
        f"\t\t\t\treturn await listModels.call(this, {string(kind) if kind else 'undefined'});\n"
        "\t\t\t},"
        for method, kind in loaders.items()
    )
    return (
        HEADER
        + """import type {
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeExecutionData,
	INodePropertyOptions,
	INodeType,
	INodeTypeDescription,
	IWebhookDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
"""
        + "\n".join(imports)
        + """
import { execute } from './runtime/execute';
import { listModels } from './runtime/models';
import { resume } from './runtime/resume';

/** "Resume by Webhook" parks the execution; the jobs' completion resumes it here (n8n's
 * resume URL of the execution, not a webhook registered anywhere). */
const RESUME_WEBHOOKS: IWebhookDescription[] = [
	{
		name: 'default',
		httpMethod: 'POST',
		responseMode: 'onReceived',
		path: '',
		restartWebhook: true,
	},
];

export class CreativeAi implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'CreativeAI',
		name: 'creativeAi',
		icon: """
        + literal(ICON, 2)
        + """,
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Generate videos, narration, images and narrated MP4s with CreativeAI',
		defaults: {
			name: 'CreativeAI',
		},
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: '"""
        + CREDENTIAL
        + """',
				required: true,
			},
		],
		webhooks: RESUME_WEBHOOKS,
		properties: """
        + literal(props, 2)
        + """,
	};

	methods = {
		loadOptions: {
"""
        + methods
        + """
		},
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await execute.call(this);
	}

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return await resume.call(this);
	}
}
"""
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
    return (
        HEADER
        + """import type {
	IHookFunctions,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import { receive, subscribe, subscriptionExists, unsubscribe } from './runtime/trigger';

export class CreativeAiTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'CreativeAI Trigger',
		name: 'creativeAiTrigger',
		icon: """
        + literal(ICON, 2)
        + """,
		group: ['trigger'],
		version: 1,
		subtitle: '={{($parameter["events"] || []).join(", ") || "every event"}}',
		description: 'Starts the workflow when a CreativeAI job completes or fails',
		defaults: {
			name: 'CreativeAI Trigger',
		},
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: '"""
        + CREDENTIAL
        + """',
				required: true,
			},
		],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				path: 'webhook',
			},
		],
		properties: """
        + literal(props, 2)
        + """,
	};

	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return await subscriptionExists.call(this);
			},
			async create(this: IHookFunctions): Promise<boolean> {
				return await subscribe.call(this);
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return await unsubscribe.call(this);
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return await receive.call(this);
	}
}
"""
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
            "description": "Your CreativeAI API key (Dashboard → API Keys). It also checks the "
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
    return (
        HEADER
        + """import type {
	IAuthenticateGeneric,
	Icon,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

export class CreativeAiApi implements ICredentialType {
	name = '"""
        + CREDENTIAL
        + """';

	displayName = 'CreativeAI API';

	icon: Icon = """
        + literal(CRED_ICON, 1)
        + """;

	documentationUrl = """
        + string(DOCS_URL)
        + """;

	properties: INodeProperties[] = """
        + literal(props, 1)
        + """;

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=Bearer {{$credentials.apiKey}}',
			},
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl}}',
			url: """
        + string(models.path)
        + """,
			method: 'GET',
		},
	};
}
"""
    )


# -- catalog.ts: the operation table the runtime reads -------------------------------------------


def _op_spec(catalog: Catalog, op: Operation) -> dict[str, Any]:
    fields = P.split(op)
    spec: dict[str, Any] = {
        "key": op.key,
        "label": op.label,
        "method": op.method,
        "path": op.path,
        "body": op.body,
        "response": op.response,
        "pathParams": [
            P.field_spec(f, required=True, additional=False, param=P.path_param_name(f))
            for f in op.path_params
        ],
        "fields": [P.field_spec(u.field, required=True, additional=False) for u in fields.top]
        + [P.field_spec(u.field, required=False, additional=True) for u in fields.additional],
    }
    if op.one_of:
        spec["oneOf"] = [list(group) for group in op.one_of]
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
        spec["batch"] = {
            "path": batch.path,
            "statusPath": status.path,
            "listField": list_field.name,
            "perItem": [c.name for c in list_field.children],
            "shared": [
                u.field.name
                for u in batch.fields
                if u.field is not list_field and u.field.name in op_names
            ],
            "max": list_field.max_items or limits.BATCH_MAX_PROMPTS,
            "events": list(batch.events),
            "interval": limits.POLL_CADENCE[JobKind.BATCH].interval,
            "timeout": limits.POLL_CADENCE[JobKind.BATCH].timeout,
        }
    return spec


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


def catalog_ts(catalog: Catalog) -> str:
    by_resource = resources(catalog)
    ops: dict[str, Any] = {}
    for resource, group in by_resource.items():
        for op in group:
            ops[f"{resource}.{P.op_value(op)}"] = _op_spec(catalog, op)
    events = [
        {"name": e.name, "label": e.label, "state": e.state.value, "operations": list(e.operations)}
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
    return (
        HEADER
        + "// The CreativeAI API as the node's runtime reads it: one entry per operation.\n"
        + _TYPES
        + f"\nexport const API: ApiFacts = {literal(api)};\n"
        + f"\nexport const OPERATIONS: Record<string, OperationSpec> = {literal(ops)};\n"
        + "\n/** Every status spelling the API uses, lower-cased, mapped to one state. */\n"
        + f"export const STATES: Record<string, JobState> = {literal(_states())};\n"
        + f"\nexport const EVENTS: EventSpec[] = {literal(events)};\n"
        + f"\nexport const ERRORS: Record<string, ErrorSpec> = {literal(_errors())};\n"
    )


_TYPES = """
export type JobState = 'pending' | 'processing' | 'completed' | 'failed' | 'canceled';

export type FieldKind =
	| 'string'
	| 'url'
	| 'integer'
	| 'number'
	| 'boolean'
	| 'enum'
	| 'stringList'
	| 'numberList'
	| 'json'
	| 'collection'
	| 'file';

export interface FieldSpec {
	wire: string;
	param: string;
	label: string;
	kind: FieldKind;
	required: boolean;
	additional?: boolean;
	allowed: string;
	options?: string[];
	min?: number;
	max?: number;
	minLength?: number;
	maxLength?: number;
	minItems?: number;
	maxItems?: number;
	itemKind?: 'url';
	children?: FieldSpec[];
}

export interface JobSpec {
	kind: 'video' | 'batch' | 'shared';
	statusPath: string;
	statusLabel: string;
	interval: number;
	timeout: number;
	events: string[];
}

export interface BatchSpec {
	path: string;
	statusPath: string;
	listField: string;
	perItem: string[];
	shared: string[];
	max: number;
	events: string[];
	interval: number;
	timeout: number;
}

export interface OperationSpec {
	key: string;
	label: string;
	method: 'GET' | 'POST';
	path: string;
	body: 'json' | 'multipart' | 'none';
	response: string;
	pathParams: FieldSpec[];
	fields: FieldSpec[];
	oneOf?: string[][];
	job?: JobSpec;
	batch?: BatchSpec;
}

export interface EventSpec {
	name: string;
	label: string;
	state: JobState;
	operations: string[];
}

export interface ErrorSpec {
	status: number;
	title: string;
	advice: string;
	retryable: boolean;
}

export interface ApiFacts {
	defaultBaseUrl: string;
	modelsPath: string;
	eventHeader: string;
	deliveryIdHeader: string;
	signatureHeader: string;
	signaturePrefix: string;
	retryAfterHeader: string;
	retryAfterMsHeader: string;
	rateLimitHeaders: string[];
	maxParallelRequests: number;
	outputLifetimeDays: number;
	retry: {
		retries: number;
		initial: number;
		maximum: number;
		jitter: number;
		maxRetryAfter: number;
	};
}
"""


def all_sources(catalog: Catalog) -> dict[str, str]:
    files: dict[str, str] = {
        f"{NODE_DIR}/CreativeAi.node.ts": action_node(catalog),
        f"{NODE_DIR}/catalog.ts": catalog_ts(catalog),
        f"{NODE_DIR}/resources/completion.ts": COMPLETION_TS,
        f"{TRIGGER_DIR}/CreativeAiTrigger.node.ts": trigger_node(catalog),
        "credentials/CreativeAiApi.credentials.ts": credentials(catalog),
    }
    for resource, ops in resources(catalog).items():
        files[f"{NODE_DIR}/resources/{resource}/index.ts"] = resource_index(resource, ops)
        for op in ops:
            files[f"{NODE_DIR}/resources/{resource}/{P.op_value(op)}.ts"] = operation_file(op)
    return files
