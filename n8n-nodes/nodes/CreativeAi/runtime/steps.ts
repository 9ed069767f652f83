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
import { credentials, nodeError, refusalOf, request } from './transport';

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

// -- Record Key: the ledger ---------------------------------------------------------------------
// Without a relay, the node's workflow static data (n8n saves it for production runs only);
// with a Relay URL in the credential, the relay's ledger (every run, every platform alike).

/** What the ledger keeps for one key: the job (or batch) it started, or a synchronous answer. */
export interface LedgerEntry {
	job?: string;
	result?: IDataObject;
	at: number; // ms since epoch
}

type Kept = Omit<LedgerEntry, 'at'>;

export interface Ledger {
	via: 'static data' | 'relay';
	get(key: string, itemIndex: number): Promise<LedgerEntry | undefined>;
	put(key: string, entry: Kept, itemIndex: number): Promise<void>;
	forget(key: string, itemIndex: number): Promise<void>;
}

type Table = Record<string, Record<string, LedgerEntry>>;

/** The node's static data as a ledger, entries older than a job's output lives left out. */
function staticLedger(ctx: IExecuteFunctions, spec: OperationSpec): Ledger {
	const current = (now = Date.now()): Table => {
		const raw = (ctx.getWorkflowStaticData('node')[LEDGER] ?? {}) as unknown as Table;
		const out: Table = {};
		for (const [operation, keys] of Object.entries(raw)) {
			for (const [key, entry] of Object.entries(keys ?? {})) {
				if (entry && now - Number(entry.at) < STEPS.ledgerDays * DAY_MS) {
					out[operation] = { ...(out[operation] ?? {}), [key]: { ...entry } };
				}
			}
		}
		return out;
	};
	// A new object each time: n8n notices a changed top-level value and saves static data
	// when the execution ends (for production executions only).
	const save = (table: Table) => {
		ctx.getWorkflowStaticData('node')[LEDGER] = JSON.parse(JSON.stringify(table)) as IDataObject;
	};
	return {
		via: 'static data',
		async get(key) {
			return current()[spec.key]?.[key];
		},
		async put(key, entry) {
			const table = current();
			table[spec.key] = { ...(table[spec.key] ?? {}), [key]: { ...entry, at: Date.now() } };
			save(table);
		},
		async forget(key) {
			const table = current();
			if (table[spec.key]) delete table[spec.key][key];
			save(table);
		},
	};
}

function relayLedger(ctx: IExecuteFunctions, spec: OperationSpec): Ledger {
	const path = (key: string) => `${STEPS.ledgerPath}/${encodeURIComponent(spec.key)}/${encodeURIComponent(key)}`;
	const reasonOf = (error: unknown, itemIndex: number) => nodeError(ctx, error, itemIndex).message.replace(/^Relay: /, '');
	return {
		via: 'relay',
		async get(key, itemIndex) {
			let body: IDataObject;
			try {
				body = (await request(ctx, { method: 'GET', path: path(key), relay: true, itemIndex })).body as IDataObject;
			} catch (error) {
				if (refusalOf(error)?.status === 404) return undefined;
				throw new NodeOperationError(ctx.getNode(), fill(STEPS.ledgerUnanswered, { reason: reasonOf(error, itemIndex) }), {
					itemIndex,
					description: 'Nothing was started. Check the Relay URL, or run it again once the relay answers.',
				});
			}
			const job = typeof body.job_id === 'string' ? body.job_id : undefined;
			const result = body.result && typeof body.result === 'object' ? (body.result as IDataObject) : undefined;
			return { ...(job ? { job } : {}), ...(result ? { result } : {}), at: Date.parse(String(body.created_at)) || Date.now() };
		},
		async put(key, entry, itemIndex) {
			const body = entry.result ? { result: entry.result } : { job_id: entry.job };
			await request(ctx, { method: 'PUT', path: path(key), relay: true, body, itemIndex });
		},
		async forget(key, itemIndex) {
			await request(ctx, { method: 'DELETE', path: path(key), relay: true, itemIndex });
		},
	};
}

export async function ledgerFor(ctx: IExecuteFunctions, spec: OperationSpec): Promise<Ledger> {
	return (await credentials(ctx)).relayUrl ? relayLedger(ctx, spec) : staticLedger(ctx, spec);
}

/** Keep what a key started; a paid answer the ledger does not keep is named in the error. */
export async function remember(ledger: Ledger, key: string, entry: Kept, itemIndex: number, ctx: IExecuteFunctions): Promise<void> {
	const paid = entry.job ? `job ${entry.job}` : urlsOf(entry.result);
	if (entry.result && Buffer.byteLength(JSON.stringify(entry.result), 'utf8') > STEPS.ledgerResultMaxBytes) {
		throw unrecorded(ctx, paid, `the answer is over the ledger's ${STEPS.ledgerResultMaxBytes} bytes`, itemIndex);
	}
	try {
		await ledger.put(key, entry, itemIndex);
	} catch (error) {
		throw unrecorded(ctx, paid, nodeError(ctx, error, itemIndex).message.replace(/^Relay: /, ''), itemIndex);
	}
}

function urlsOf(result: IDataObject | undefined): string {
	const urls = ((result?.data as IDataObject[] | undefined) ?? []).map((d) => d?.url).filter((u) => typeof u === 'string');
	return urls.length ? urls.join(', ') : 'this answer';
}

function unrecorded(ctx: IExecuteFunctions, paid: string, reason: string, itemIndex: number): NodeOperationError {
	return new NodeOperationError(ctx.getNode(), fill(STEPS.unrecorded, { paid, reason }), { itemIndex });
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
	ledger: Ledger,
	key: string,
	itemIndex: number,
): Promise<Reused | undefined> {
	const entry = await ledger.get(key, itemIndex);
	if (!entry) return undefined;
	if (entry.result) return { entry, answer: entry.result };
	if (!entry.job || !spec.job) return undefined;
	let answer: IDataObject;
	try {
		answer = (await request(ctx, { method: 'GET', path: statusPath(spec.job.statusPath, entry.job), itemIndex })).body as IDataObject;
	} catch (error) {
		if (refusalOf(error)?.status === 404) {
			await ledger.forget(key, itemIndex);
			return undefined;
		}
		// Starting anew could pay twice for one record: stop, naming the job.
		const reason = nodeError(ctx, error, itemIndex).message.replace(/^CreativeAI: /, '');
		throw new NodeOperationError(ctx.getNode(), fill(STEPS.reusedUnfetchable, { job: entry.job, reason }), {
			itemIndex,
			description: 'Nothing was started. Run it again once CreativeAI answers, or remove the Record Key to start a new job.',
		});
	}
	const failed = spec.job.kind === 'batch'
		? batchDone(answer) && Number(answer.completed ?? 0) === 0
		: failureOf(answer) !== undefined;
	if (failed) {
		await ledger.forget(key, itemIndex);
		return undefined;
	}
	return { entry, answer };
}
