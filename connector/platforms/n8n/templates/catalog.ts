// The CreativeAI API as the node's runtime reads it: each field once, one entry per operation.
// A field's limits and choices are stated here only; its parameter in descriptions/ shows them.
import type { INodePropertyOptions } from 'n8n-workflow';

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
	allowed: string;
	/** A closed list's choices, in the API's order (the parameter's dropdown shows them). */
	options?: INodePropertyOptions[];
	min?: number;
	max?: number;
	minLength?: number;
	maxLength?: number;
	minItems?: number;
	maxItems?: number;
	itemKind?: 'url';
	/** A collection's children (a required child: each entry needs it). */
	children?: FieldUse[];
}

/** A field as one operation (or collection) uses it: its key in FIELDS and its own flags. */
export interface FieldUse {
	field: string;
	required?: boolean;
	additional?: boolean;
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
	/** The operation that fetches a batch later (named when a wait gives up). */
	statusLabel: string;
	/** The batch's list of entries: its key in FIELDS (its wire name, entries and size). */
	list: string;
	/** The wire names of the fields every entry of one batch shares. */
	shared: string[];
	events: string[];
	interval: number;
	timeout: number;
}

/** What a step outputs (the catalog's output contract): its keys, those of the items of a
 * list or of an object under `children`, and the kind of job whose status it spells. */
export interface OutputSpec {
	job?: JobSpec['kind'];
	keys: string[];
	children?: Record<string, OutputSpec>;
}

export interface OperationSpec {
	key: string;
	label: string;
	method: 'GET' | 'POST';
	path: string;
	body: 'json' | 'multipart' | 'none';
	response: string;
	pathParams: FieldUse[];
	fields: FieldUse[];
	oneOf?: string[][];
	/** The parameters that pick which field of each one-of group is given (by wire name). */
	choices?: Array<{ param: string; fields: string[] }>;
	job?: JobSpec;
	batch?: BatchSpec;
	/** A paid create: it offers Max Credits and Record Key. */
	capped?: boolean;
	/** What the price check assumes for a field left empty (the API's default model). */
	priceDefaults?: Record<string, string>;
	/** Its entry in OUTPUTS. */
	output: string;
}

export interface ModelSourceSpec {
	/** The `type` of the models listed; absent: every model. */
	kind?: string;
	/** The catalog's known models: the choices when no listed model carries a `type`. */
	known: string[];
}

export interface EventSpec {
	name: string;
	label: string;
	state: JobState;
	operations: string[];
	/** Its entry in OUTPUTS. */
	output: string;
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

export const API: ApiFacts = __API__;

/** What Max Credits and Record Key need: the price endpoint (its body: the create's own),
 * the refusals with blanks for `{estimate}`, `{cap}` and `{reason}`, and how long the node
 * remembers a key (as long as a job's output lives) and the largest answer it keeps. */
export interface StepFacts {
	pricePath: string;
	overCap: string;
	unpriceable: string;
	/** A key's job that cannot be fetched back: blanks `{job}` and `{reason}`. */
	reusedUnfetchable: string;
	/** The relay's ledger (with a Relay URL in the credential), and its refusals: blanks
	 * `{reason}`, and `{paid}` (what was paid for and not kept). */
	ledgerPath: string;
	ledgerUnanswered: string;
	unrecorded: string;
	ledgerDays: number;
	ledgerResultMaxBytes: number;
	keyMaxChars: number;
	/** What a Record Key may be, in words. */
	keyRule: string;
	/** A file over the node's Max File Size: blanks `{size}` and `{max}` (in MB). */
	fileOverLimit: string;
}

export const STEPS: StepFacts = __STEPS__;

/** Every field the node sends, once; operations name them by key. */
export const FIELDS: Record<string, FieldSpec> = __FIELDS__;

export const OPERATIONS: Record<string, OperationSpec> = __OPERATIONS__;

/** Where a Model field's choices come from, by loadOptions method (see runtime/models.ts). */
export const MODEL_SOURCES: Record<string, ModelSourceSpec> = __MODEL_SOURCES__;

/** What each operation and event outputs, each distinct output once. */
export const OUTPUTS: Record<string, OutputSpec> = __OUTPUTS__;

/** Every status spelling the API uses, lower-cased, mapped to one state. */
export const STATES: Record<string, JobState> = __STATES__;

/** Each state as the API spells it for each kind of job (a voice job is `COMPLETED`). */
export const SPELLING: Record<JobSpec['kind'], Record<JobState, string>> = __SPELLING__;

export const EVENTS: EventSpec[] = __EVENTS__;

export const ERRORS: Record<string, ErrorSpec> = __ERRORS__;
