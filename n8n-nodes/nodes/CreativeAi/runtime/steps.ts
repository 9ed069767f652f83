// Hand-written: the two options every paid create has (see the catalog's steps): "Max
// Credits" asks the price endpoint with the create's own body before the paid request and
// refuses when the estimate is over the cap (or cannot be had); "Record Key" remembers which
// job a builder's record started, in the workflow's static data (the ledger), so the same
// key started again returns that job instead of paying for another.
import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { STEPS } from '../generated/catalog';
import { failureOf, batchDone, statusPath } from './jobs';
import type { OperationSpec } from './operations';
import { nodeError, refusalOf, request } from './transport';

const DAY_MS = 24 * 60 * 60 * 1000;
const LEDGER = 'ledger';

function fill(template: string, values: Record<string, string>): string {
	return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The options of one item that are not sent to the API. */
export interface StepOptions {
	maxCredits?: number;
	recordKey?: string;
}

export function stepOptions(ctx: IExecuteFunctions, spec: OperationSpec, itemIndex: number): StepOptions {
	if (!spec.capped) return {};
	const raw = ctx.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const out: StepOptions = {};
	if (raw.maxCredits !== undefined && raw.maxCredits !== null && raw.maxCredits !== '') {
		const cap = Number(raw.maxCredits);
		if (!Number.isFinite(cap) || cap < 1) {
			throw new NodeOperationError(ctx.getNode(), `Max Credits must be a number of at least 1, not "${String(raw.maxCredits)}"`, {
				itemIndex,
				description: 'Max Credits: the most credits this step may spend (a whole number, 1 or more), or remove the option.',
			});
		}
		out.maxCredits = cap;
	}
	const key = typeof raw.recordKey === 'string' ? raw.recordKey.trim() : raw.recordKey === undefined ? '' : String(raw.recordKey);
	// eslint-disable-next-line no-control-regex
	if (key && ([...key].length > STEPS.keyMaxChars || /[\u0000-\u001f\u007f]/.test(key) || key === '.' || key === '..')) {
		throw new NodeOperationError(ctx.getNode(), `Record Key "${key.slice(0, 80)}" is not allowed`, {
			itemIndex,
			description: `Record Key: ${STEPS.keyRule}.`,
		});
	}
	if (key) out.recordKey = key;
	return out;
}

// -- Max Credits ---------------------------------------------------------------------------------

/**
 * Price one call (its body as it would be sent, files left out: a file does not change the
 * price) and refuse it when the estimate is over `cap` or cannot be had. Resolves to the
 * estimate when the call may go.
 */
export async function checkPrice(
	ctx: IExecuteFunctions,
	fields: IDataObject,
	cap: number,
	itemIndex: number,
): Promise<number> {
	let answer: IDataObject;
	try {
		answer = (await request(ctx, { method: 'POST', path: STEPS.pricePath, body: fields, itemIndex })).body as IDataObject;
	} catch (error) {
		const refusal = refusalOf(error);
		const reason = nodeError(ctx, error, itemIndex).message.replace(/^CreativeAI: /, '');
		throw new NodeOperationError(ctx.getNode(), fill(STEPS.unpriceable, { reason, cap: String(cap) }), {
			itemIndex,
			description: refusal?.status === 429
				? 'The price endpoint is rate limited: run it again later. Nothing was started or paid.'
				: 'Nothing was started or paid. Check the fields the reason names, or remove Max Credits.',
		});
	}
	const estimate = answer?.credits;
	if (typeof estimate !== 'number' || !Number.isFinite(estimate)) {
		throw new NodeOperationError(
			ctx.getNode(),
			fill(STEPS.unpriceable, { reason: 'the price answer names no credits', cap: String(cap) }),
			{ itemIndex, description: 'Nothing was started or paid.' },
		);
	}
	if (estimate > cap) {
		throw new NodeOperationError(ctx.getNode(), fill(STEPS.overCap, { estimate: String(estimate), cap: String(cap) }), {
			itemIndex,
			description: 'Nothing was started or paid. Raise Max Credits, or ask for less (a shorter clip, a lower resolution, fewer items per batch).',
		});
	}
	return estimate;
}

// -- Record Key: the ledger in the workflow's static data ---------------------------------------

/** What the ledger keeps for one key: the job (or batch) it started, or a synchronous answer. */
export interface LedgerEntry {
	job?: string;
	batch?: boolean;
	result?: IDataObject;
	at: number; // ms since epoch
}

type Ledger = Record<string, Record<string, LedgerEntry>>;

function store(ctx: IExecuteFunctions): IDataObject {
	return ctx.getWorkflowStaticData('node');
}

/** The ledger without the entries older than a job's output lives. */
function current(ctx: IExecuteFunctions, now = Date.now()): Ledger {
	const raw = (store(ctx)[LEDGER] ?? {}) as unknown as Ledger;
	const out: Ledger = {};
	for (const [operation, keys] of Object.entries(raw)) {
		for (const [key, entry] of Object.entries(keys ?? {})) {
			if (entry && now - Number(entry.at) < STEPS.ledgerDays * DAY_MS) {
				out[operation] = { ...(out[operation] ?? {}), [key]: { ...entry } };
			}
		}
	}
	return out;
}

function save(ctx: IExecuteFunctions, ledger: Ledger): void {
	// A new object each time: n8n notices a changed top-level value and saves static data
	// when the execution ends (for production executions only).
	store(ctx)[LEDGER] = JSON.parse(JSON.stringify(ledger)) as IDataObject;
}

export function lookUp(ctx: IExecuteFunctions, spec: OperationSpec, key: string): LedgerEntry | undefined {
	return current(ctx)[spec.key]?.[key];
}

export function remember(ctx: IExecuteFunctions, spec: OperationSpec, entries: Array<[string, Omit<LedgerEntry, 'at'>]>): void {
	if (!entries.length) return;
	const ledger = current(ctx);
	const now = Date.now();
	for (const [key, entry] of entries) {
		if (entry.result && JSON.stringify(entry.result).length > STEPS.ledgerResultMaxBytes) continue;
		ledger[spec.key] = { ...(ledger[spec.key] ?? {}), [key]: { ...entry, at: now } };
	}
	save(ctx, ledger);
}

export function forget(ctx: IExecuteFunctions, spec: OperationSpec, key: string): void {
	const ledger = current(ctx);
	if (ledger[spec.key]) delete ledger[spec.key][key];
	save(ctx, ledger);
}

/** A job (or batch) the key started, fetched back: undefined when it failed or is gone. */
export interface Reused {
	entry: LedgerEntry;
	/** The job as the API answers now, or the synchronous answer kept. */
	answer: IDataObject;
}

export async function reuse(
	ctx: IExecuteFunctions,
	spec: OperationSpec,
	key: string,
	itemIndex: number,
): Promise<Reused | undefined> {
	const entry = lookUp(ctx, spec, key);
	if (!entry) return undefined;
	if (entry.result) return { entry, answer: entry.result };
	if (!entry.job || !spec.job) return undefined;
	const template = entry.batch && spec.job.kind !== 'batch' && spec.batch ? spec.batch.statusPath : spec.job.statusPath;
	let answer: IDataObject;
	try {
		answer = (await request(ctx, { method: 'GET', path: statusPath(template, entry.job), itemIndex })).body as IDataObject;
	} catch (error) {
		if (refusalOf(error)?.status === 404) {
			forget(ctx, spec, key);
			return undefined;
		}
		// Starting anew could pay twice for one record: stop, naming the job.
		const reason = nodeError(ctx, error, itemIndex).message.replace(/^CreativeAI: /, '');
		throw new NodeOperationError(ctx.getNode(), fill(STEPS.reusedUnfetchable, { job: entry.job, reason }), {
			itemIndex,
			description: 'Nothing was started. Run it again once CreativeAI answers, or remove the Record Key to start a new job.',
		});
	}
	const batch = entry.batch || spec.job.kind === 'batch';
	const failed = batch
		? batchDone(answer) && Number(answer.completed ?? 0) === 0
		: failureOf(answer) !== undefined;
	if (failed) {
		forget(ctx, spec, key);
		return undefined;
	}
	return { entry, answer };
}
