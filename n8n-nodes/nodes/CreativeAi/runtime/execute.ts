// Hand-written: the CreativeAI node's execute(). Items are checked first (nothing is sent
// when an input is invalid), then sent: video items as batch calls of up to the batch
// size, everything else one call per item, `parallel` at a time. Then, per the node's
// Completion setting: return the accepted jobs, poll them to the end, or park the
// execution until their webhooks resume it (see resume.ts).
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { API } from '../generated/catalog';
import type { Prepared } from './fields';
import { multipart, prepare } from './fields';
import type { OperationSpec } from './operations';
import { OPERATIONS } from './operations';
import { batchDone, isTerminal, laterHint, poll } from './jobs';
import type { Options } from './output';
import { errorItem, finish, readOptions } from './output';
import type { Settled } from './pool';
import { settleAll } from './pool';
import { createJoinRoute, expectIds } from './relay';
import { shape } from './shape';
import { seal } from './signatures';
import type { Ledger, StepOptions } from './steps';
import { checkPrice, ledgerFor, remember, reuse, stepOptions } from './steps';
import { apiError, credentials, nodeError, refusalOf, request } from './transport';

export type Completion = 'none' | 'poll' | 'webhook';

/** One request to the API: a single item, or several video items as one batch. */
interface Call {
	batch: boolean;
	items: number[]; // input item indexes, in the order the API answers them
	path: string;
	fields: IDataObject;
	files: Prepared['files'];
}

/** What one input item became after its call. */
interface Slot {
	itemIndex: number;
	call?: number;
	accepted?: IDataObject; // the job as the API accepted it (a batch job gets its batch_id)
	result?: IDataObject; // the finished job, or a synchronous answer
	error?: Error;
	steps?: StepOptions;
	/** The job this item's Record Key started earlier (no new call is made for it). */
	reused?: { job: string };
	/** An earlier item of this run with the same Record Key: this one gets its job. */
	follows?: number;
}

/** Stored on each parked item so `resume` knows which completion belongs to it. */
export interface Waiting {
	delivery: string; // the id the completion comes back with (job id, or batch id)
	job: string;
	batch: boolean;
	via: 'relay' | 'direct';
	deadline: number; // ms since epoch
	route?: string;
	seal?: string; // the route's signing secret, sealed with the API key
}

export const WAITING_KEY = 'creativeaiWaiting';

interface ParameterReader {
	getNode: IExecuteFunctions['getNode'];
	getNodeParameter(name: string, index: number): unknown;
}

export function operationOf(ctx: ParameterReader): OperationSpec {
	const key = `${String(ctx.getNodeParameter('resource', 0))}.${String(ctx.getNodeParameter('operation', 0))}`;
	const spec = OPERATIONS[key];
	if (!spec) {
		throw new NodeOperationError(ctx.getNode(), `Unknown operation "${key}"`, {
			description: `Known: ${Object.keys(OPERATIONS).join(', ')}`,
		});
	}
	return spec;
}

function pick(fields: IDataObject, names: string[]): IDataObject {
	const out: IDataObject = {};
	for (const name of names) if (fields[name] !== undefined) out[name] = fields[name];
	return out;
}

/** Group items into calls: batchable video items share a batch when their shared fields match. */
function plan(spec: OperationSpec, prepared: Map<number, Prepared>, options: Options): Call[] {
	const calls: Call[] = [];
	const single = (index: number, p: Prepared) =>
		calls.push({ batch: false, items: [index], path: p.path, fields: p.fields, files: p.files });
	const batch = spec.batch;
	if (!batch || !options.batchItems || prepared.size < 2) {
		for (const [index, p] of prepared) single(index, p);
		return calls;
	}
	const allowed = new Set([...batch.perItem, ...batch.shared]);
	const groups = new Map<string, number[]>();
	for (const [index, p] of prepared) {
		const fits = Object.keys(p.files).length === 0 && Object.keys(p.fields).every((name) => allowed.has(name));
		if (!fits) {
			single(index, p);
			continue;
		}
		const key = JSON.stringify(pick(p.fields, batch.shared));
		groups.set(key, [...(groups.get(key) ?? []), index]);
	}
	for (const members of groups.values()) {
		for (let start = 0; start < members.length; start += batch.max) {
			const chunk = members.slice(start, start + batch.max);
			if (chunk.length === 1) {
				single(chunk[0], prepared.get(chunk[0]) as Prepared);
				continue;
			}
			const first = prepared.get(chunk[0]) as Prepared;
			calls.push({
				batch: true,
				items: chunk,
				path: batch.path,
				fields: {
					[batch.listField]: chunk.map((i) => pick((prepared.get(i) as Prepared).fields, batch.perItem)),
					...pick(first.fields, batch.shared),
				},
				files: {},
			});
		}
	}
	return calls;
}

async function send(ctx: IExecuteFunctions, spec: OperationSpec, call: Call): Promise<IDataObject> {
	const itemIndex = call.items[0];
	const create = spec.method === 'POST';
	if (spec.body === 'none') {
		return (await request(ctx, { method: spec.method, path: call.path, itemIndex })).body as IDataObject;
	}
	if (spec.body === 'multipart') {
		const { body, contentType } = multipart(call.fields, call.files);
		const answer = await request(ctx, {
			method: spec.method,
			path: call.path,
			body,
			headers: { 'Content-Type': contentType },
			create,
			itemIndex,
		});
		return answer.body as IDataObject;
	}
	const answer = await request(ctx, { method: spec.method, path: call.path, body: call.fields, create, itemIndex });
	return answer.body as IDataObject;
}

/** The batch answer's job for the n-th prompt, with the batch id it belongs to. */
function batchJob(batch: IDataObject, position: number, jobId?: string): IDataObject {
	const jobs = (batch.jobs as IDataObject[] | undefined) ?? [];
	const job = (jobId ? jobs.find((j) => j.id === jobId) : undefined) ?? jobs[position] ?? {};
	return { ...job, batch_id: batch.batch_id };
}

/** The entry of a batch call the API refused, from the field its error names
 * (`prompts[1].prompt`): the position in the call and the field inside the entry. */
function refusedEntry(spec: OperationSpec, call: Call, error: unknown): { position: number; param: string } | undefined {
	const refusal = refusalOf(error);
	if (!spec.batch || !refusal?.param || refusal.status === 429 || refusal.status >= 500) return undefined;
	const named = new RegExp(`^${spec.batch.listField}\\[(\\d+)\\](?:\\.(.+))?$`).exec(refusal.param);
	if (!named) return undefined;
	const position = Number(named[1]);
	return position < call.items.length ? { position, param: named[2] ?? spec.batch.listField } : undefined;
}

/**
 * Send a call. When the API refuses one entry of a batch (it names it, e.g. a prompt
 * flagged by content policy), that entry's item gets the error and the rest are sent again
 * without it: a refused call is not billed, so nothing is paid twice. Resolves to
 * undefined when every entry was refused.
 */
async function sendCall(
	ctx: IExecuteFunctions,
	spec: OperationSpec,
	call: Call,
	slots: Slot[],
	continueOnFail: boolean,
): Promise<IDataObject | undefined> {
	for (;;) {
		try {
			return await send(ctx, spec, call);
		} catch (error) {
			const entry = call.batch ? refusedEntry(spec, call, error) : undefined;
			const refusal = refusalOf(error);
			if (!entry || !refusal || !spec.batch) throw nodeError(ctx, error, call.items[0]);
			const itemIndex = call.items[entry.position];
			const body = refusal.body as IDataObject | undefined;
			const detail = (body?.error && typeof body.error === 'object' ? body.error : {}) as IDataObject;
			// The item's own error: the field as its item knows it, the item's index.
			const own = apiError(ctx, refusal.status, { error: { ...detail, param: entry.param } }, refusal.headers, {
				path: call.path,
				itemIndex,
			});
			if (!continueOnFail) throw own;
			slots[itemIndex].error = own;
			call.items.splice(entry.position, 1);
			(call.fields[spec.batch.listField] as IDataObject[]).splice(entry.position, 1);
			if (!call.items.length) return undefined;
		}
	}
}

/** Each call's answer (undefined: every entry of a batch was refused), or its error. */
type Sent = Array<Settled<IDataObject | undefined>>;

function failCall(slots: Slot[], call: Call, error: Error): void {
	for (const index of call.items) slots[index].error = error;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const spec = operationOf(this);
	const continueOnFail = this.continueOnFail();
	const options = readOptions(this.getNodeParameter('options', 0, {}) as IDataObject, API.maxParallelRequests);
	const completion: Completion = spec.job ? (this.getNodeParameter('completion', 0, 'poll') as Completion) : 'none';
	const slots: Slot[] = items.map((_, itemIndex) => ({ itemIndex }));

	// 1. Check every item before anything is sent.
	const prepared = new Map<number, Prepared>();
	for (let i = 0; i < items.length; i++) {
		try {
			const p = await prepare(this, spec, i);
			if (completion === 'webhook' && p.fields.webhook_url !== undefined) {
				throw new NodeOperationError(this.getNode(), 'Webhook URL cannot be set with "Resume by Webhook"', {
					itemIndex: i,
					description: 'The node sets the webhook itself. Remove Webhook URL, or choose another Completion.',
				});
			}
			slots[i].steps = stepOptions(this, spec, i);
			prepared.set(i, p);
		} catch (error) {
			if (!continueOnFail) throw nodeError(this, error, i);
			slots[i].error = error as Error;
		}
	}

	// 1b. Record Key: an item whose key already started a job (not failed, not gone) gets
	// that job back instead of a new call.
	let ledger: Ledger | undefined;
	for (const [i] of prepared) {
		const key = slots[i].steps?.recordKey;
		if (!key) continue;
		try {
			ledger ??= await ledgerFor(this, spec);
			const found = await reuse(this, spec, ledger, key, i);
			if (!found) continue;
			prepared.delete(i);
			if (found.entry.result) {
				slots[i].result = found.answer;
			} else {
				slots[i].accepted = found.answer;
				slots[i].reused = { job: String(found.entry.job) };
			}
		} catch (error) {
			if (!continueOnFail) throw nodeError(this, error, i);
			slots[i].error = error as Error;
			prepared.delete(i);
		}
	}
	// Items of this run with a key an earlier item has: one job for both.
	const firstWithKey = new Map<string, number>();
	for (const [i] of prepared) {
		const key = slots[i].steps?.recordKey;
		if (!key) continue;
		const first = firstWithKey.get(key);
		if (first === undefined) firstWithKey.set(key, i);
		else {
			slots[i].follows = first;
			prepared.delete(i);
		}
	}
	const planned = plan(spec, prepared, options);

	// 1c. Max Credits: each call priced with its own body before anything is sent; a batch
	// call as a whole, against the lowest cap among its items.
	const calls: Call[] = [];
	for (const call of planned) {
		const caps = call.items.map((i) => slots[i].steps?.maxCredits).filter((c): c is number => c !== undefined);
		if (!caps.length) {
			calls.push(call);
			continue;
		}
		try {
			await checkPrice(this, { ...(spec.priceDefaults ?? {}), ...call.fields }, Math.min(...caps), call.items[0]);
			calls.push(call);
		} catch (error) {
			if (!continueOnFail) throw nodeError(this, error, call.items[0]);
			for (const i of call.items) {
				slots[i].error = new NodeOperationError(this.getNode(), (error as Error).message, {
					itemIndex: i,
					description: (error as NodeOperationError).description ?? undefined,
				});
			}
		}
	}

	// 2. Resume by webhook: one relay join route for every call, or n8n's resume URL itself.
	let waiting: Omit<Waiting, 'delivery' | 'job' | 'batch'> | undefined;
	if (completion === 'webhook' && calls.length) {
		const timeout = Number(this.getNodeParameter('timeout', 0, spec.job?.timeout));
		const resumeUrl = String(this.evaluateExpression('{{ $execution.resumeUrl }}', 0));
		const creds = await credentials(this);
		let webhookUrl = resumeUrl;
		waiting = { via: 'direct', deadline: Date.now() + timeout * 1000 };
		if (creds.relayUrl) {
			const route = await createJoinRoute(this, resumeUrl, calls.length, timeout);
			webhookUrl = route.webhook_url;
			waiting = { ...waiting, via: 'relay', route: route.route_id, seal: seal(route.signing_secret, creds.apiKey) };
		}
		for (const call of calls) call.fields.webhook_url = webhookUrl;
	}

	// 3. Send.
	const sent = await settleAll(
		calls,
		options.parallel,
		async (call) => await sendCall(this, spec, call, slots, continueOnFail),
	);
	sent.forEach((outcome, n) => {
		const call = calls[n];
		if (!outcome.ok) return failCall(slots, call, outcome.error);
		const answer = outcome.value;
		if (!answer) return; // every entry was refused: each item has its error
		call.items.forEach((index, position) => {
			const slot = slots[index];
			slot.call = n;
			if (call.batch) slot.accepted = batchJob(answer, position);
			else if (spec.job) slot.accepted = answer;
			else slot.result = answer;
		});
	});
	copyToFollowers(slots);
	// Remember what each Record Key started (in the ledger: static data, or the relay's).
	for (const slot of slots) {
		const key = slot.steps?.recordKey;
		if (!key || slot.error || slot.reused || slot.follows !== undefined || slot.call === undefined || !ledger) continue;
		const answer = slot.accepted ?? slot.result;
		if (!answer) continue;
		const job = spec.job?.kind === 'batch' ? answer.batch_id : spec.job || calls[slot.call].batch ? answer.id : undefined;
		try {
			if (job !== undefined && job !== null) await remember(ledger, key, { job: String(job) }, slot.itemIndex, this);
			else if (!spec.job) await remember(ledger, key, { result: answer }, slot.itemIndex, this);
		} catch (error) {
			if (!continueOnFail) throw nodeError(this, error, slot.itemIndex);
			slot.error = error as Error;
		}
	}
	const firstError = slots.find((s) => s.error)?.error;
	if (firstError && !continueOnFail) throw firstError;

	// A reused job that has not ended is followed here, in every mode that waits (its
	// webhook goes to the run that started it, so this run cannot be resumed by it).
	if (completion !== 'none') await followReused(this, spec, slots, options);
	copyToFollowers(slots);

	// 4. Finish as the Completion setting says.
	if (completion === 'webhook' && waiting && calls.length) {
		return [await park(this, spec, calls, slots, sent, waiting)];
	}
	if (completion === 'poll') await follow(this, spec, calls, slots, sent, options);
	else for (const slot of slots) if (slot.accepted && !slot.result) slot.result = slot.accepted;
	copyToFollowers(slots);

	const out: INodeExecutionData[] = [];
	for (const slot of slots) {
		if (slot.error) {
			if (!continueOnFail) throw slot.error;
			out.push(errorItem(slot.error, slot.itemIndex));
			continue;
		}
		if (!slot.result) continue;
		if (spec.response === 'ModelList' && Array.isArray(slot.result.data)) {
			for (const model of slot.result.data as IDataObject[]) {
				out.push({ json: model, pairedItem: { item: slot.itemIndex } });
			}
			continue;
		}
		const done = completion === 'none' ? { ...options, download: options.download && !spec.job } : options;
		try {
			out.push(await finish(this, spec, slot.result, slot.itemIndex, done, continueOnFail));
		} catch (error) {
			if (!continueOnFail) throw nodeError(this, error, slot.itemIndex);
			out.push(errorItem(error as Error, slot.itemIndex));
		}
	}
	return [out];
}

/** An item whose Record Key an earlier item of the run has gets that item's job (its own
 * pairing is kept: each output item stays paired with its input). */
function copyToFollowers(slots: Slot[]): void {
	for (const slot of slots) {
		if (slot.follows === undefined) continue;
		const first = slots[slot.follows];
		slot.call = first.call;
		slot.accepted = first.accepted;
		slot.result = first.result;
		slot.reused = first.reused;
		if (first.error) slot.error = first.error;
	}
}

/** A finished job with what its start was charged, when its status no longer says (a
 * batch's status answer has no `credits_charged`; the answer that started it has). */
export function withCharge(done: IDataObject, accepted: IDataObject): IDataObject {
	if ((done.credits_charged === undefined || done.credits_charged === null) && typeof accepted.credits_charged === 'number') {
		return { ...done, credits_charged: accepted.credits_charged };
	}
	return done;
}

/** Poll the reused jobs that have not ended yet. */
async function followReused(ctx: IExecuteFunctions, spec: OperationSpec, slots: Slot[], options: Options): Promise<void> {
	const job = spec.job;
	if (!job) return;
	const interval = Number(ctx.getNodeParameter('pollInterval', 0, job.interval));
	const timeout = Number(ctx.getNodeParameter('timeout', 0, job.timeout));
	const open = slots.filter((slot) => slot.reused && !slot.error && slot.accepted && !slot.result);
	const polled = await settleAll(open, options.parallel, async (slot) => {
		const answer = slot.accepted as IDataObject;
		const batch = job.kind === 'batch';
		if (batch ? batchDone(answer) : isTerminal(answer.status)) return answer;
		return await poll(ctx, {
			statusPath: job.statusPath,
			statusLabel: job.statusLabel,
			id: (slot.reused as { job: string }).job,
			interval,
			timeout,
			itemIndex: slot.itemIndex,
			batch,
		});
	});
	polled.forEach((outcome, k) => {
		if (outcome.ok) open[k].result = outcome.value;
		else open[k].error = outcome.error;
	});
}

/** Poll every call (a batch once for all its items) to its end. */
async function follow(
	ctx: IExecuteFunctions,
	spec: OperationSpec,
	calls: Call[],
	slots: Slot[],
	sent: Sent,
	options: Options,
): Promise<void> {
	const interval = Number(ctx.getNodeParameter('pollInterval', 0, spec.job?.interval));
	const timeout = Number(ctx.getNodeParameter('timeout', 0, spec.job?.timeout));
	const live = calls.map((call, n) => ({ call, n })).filter(({ n }) => {
		const outcome = sent[n];
		return outcome.ok && outcome.value !== undefined;
	});
	const polled = await settleAll(live, options.parallel, async ({ call, n }) => {
		const answer = (sent[n] as { ok: true; value: IDataObject }).value;
		const job = spec.job as NonNullable<OperationSpec['job']>;
		const batch = call.batch || job.kind === 'batch';
		return await poll(ctx, {
			statusPath: call.batch && spec.batch ? spec.batch.statusPath : job.statusPath,
			statusLabel: call.batch && spec.batch ? spec.batch.statusLabel : job.statusLabel,
			id: String(batch ? answer.batch_id : answer.id),
			interval,
			timeout,
			itemIndex: call.items[0],
			batch,
		});
	});
	polled.forEach((outcome, k) => {
		const { call } = live[k];
		if (!outcome.ok) return failCall(slots, call, outcome.error);
		call.items.forEach((index, position) => {
			const accepted = slots[index].accepted ?? {};
			slots[index].result = call.batch
				? batchJob(outcome.value, position, accepted.id as string | undefined)
				: withCharge(outcome.value, accepted);
		});
	});
}

/** Park the execution: each item carries what `resume` needs to match its completion. */
async function park(
	ctx: IExecuteFunctions,
	spec: OperationSpec,
	calls: Call[],
	slots: Slot[],
	sent: Sent,
	waiting: Omit<Waiting, 'delivery' | 'job' | 'batch'>,
): Promise<INodeExecutionData[]> {
	const deliveries: string[] = [];
	calls.forEach((call, n) => {
		const outcome = sent[n];
		if (outcome.ok && outcome.value) deliveries.push(String(outcome.value.batch_id ?? outcome.value.id));
	});
	if (waiting.via === 'relay' && waiting.route && deliveries.length) {
		await expectIds(ctx, waiting.route, deliveries);
	}
	const parked: INodeExecutionData[] = slots.map((slot) => {
		// A job its Record Key started earlier, already followed to its end: passed on as it is.
		if (!slot.error && slot.result) return { json: shape(spec.output, slot.result), pairedItem: { item: slot.itemIndex } };
		if (slot.error || !slot.accepted || slot.call === undefined) {
			return errorItem(slot.error ?? new Error('not sent'), slot.itemIndex);
		}
		const call = calls[slot.call];
		// A whole batch (Create Video Batch) is waited for by its batch id.
		const job = String(slot.accepted.id ?? slot.accepted.batch_id);
		const info: Waiting = {
			...waiting,
			delivery: call.batch ? String(slot.accepted.batch_id) : job,
			job,
			batch: call.batch,
		};
		return { json: { ...slot.accepted, [WAITING_KEY]: info as unknown as IDataObject }, pairedItem: { item: slot.itemIndex } };
	});
	// n8n keeps this node's input with the parked execution and hands it to webhook() when
	// the execution is resumed: it becomes the list of what this run waits for. (Should
	// n8n's own time limit resume it instead, these items pass on, each saying the job did
	// not finish in time.)
	const deadline = new Date(waiting.deadline).toISOString();
	ctx.getExecuteData().data.main = [
		parked.map((item) =>
			item.json[WAITING_KEY]
				? { ...item, json: { ...item.json, error: `CreativeAI job ${String(item.json.id ?? item.json.batch_id)} did not finish before ${deadline}. ${laterHint(String(spec.job?.statusLabel), String(item.json.id ?? item.json.batch_id))}` } }
				: item,
		),
	];
	// The relay forwards at its deadline (naming what is missing); n8n's own limit comes a
	// little later, as a last resort.
	const grace = waiting.via === 'relay' ? 120_000 : 0;
	await ctx.putExecutionToWait(new Date(waiting.deadline + grace));
	return parked;
}
