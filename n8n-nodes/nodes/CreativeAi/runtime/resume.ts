// Hand-written: the CreativeAI node's webhook(), called when a parked execution's resume
// URL is posted to. Through the relay, one signed join delivery carries every completion;
// straight from the API, each job's signed webhook arrives on its own and the node checks
// the others' status, resuming once all have ended. Unsigned or forged calls get 401.
import type { IDataObject, INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { API } from '../generated/catalog';
import type { Waiting } from './execute';
import { WAITING_KEY, operationOf, withCharge } from './execute';
import { batchDone, isTerminal, laterHint, statusPath } from './jobs';
import { errorItem, finish, readOptions } from './output';
import { header, unseal, verifyApiSignature, verifyRelaySignature } from './signatures';
import { credentials, request } from './transport';

export function rawBodyOf(ctx: IWebhookFunctions): Buffer {
	const req = ctx.getRequestObject() as unknown as { rawBody?: Buffer; body?: unknown };
	if (Buffer.isBuffer(req.rawBody)) return req.rawBody;
	return Buffer.from(JSON.stringify(req.body ?? {}), 'utf8');
}

export function refuse(ctx: IWebhookFunctions, status: number, message: string): IWebhookResponseData {
	ctx.getResponseObject().status(status).json({ error: message });
	return { noWebhookResponse: true };
}

function continuesOnFail(ctx: IWebhookFunctions): boolean {
	const node = ctx.getNode();
	return node.continueOnFail === true || (node.onError !== undefined && node.onError !== 'stopWorkflow');
}

/** What the parked run waits for: execute() left it as this node's input (see park()). */
function parkedItems(ctx: IWebhookFunctions): INodeExecutionData[] {
	const items = ctx.evaluateExpression('{{ $input.all() }}', 0);
	return Array.isArray(items) ? (items as INodeExecutionData[]) : [];
}

function itemIndexOf(item: INodeExecutionData, fallback: number): number {
	const paired = Array.isArray(item.pairedItem) ? item.pairedItem[0] : item.pairedItem;
	if (typeof paired === 'number') return paired;
	return typeof paired?.item === 'number' ? paired.item : fallback;
}

function deliveryIdOf(body: IDataObject): string | undefined {
	const id = body.batch_id ?? body.id;
	return typeof id === 'string' ? id : undefined;
}

export async function resume(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const parked = parkedItems(this);
	const infos = parked.map((item) => item.json[WAITING_KEY] as unknown as Waiting | undefined);
	const first = infos.find((info) => info !== undefined);
	if (!first) return refuse(this, 404, 'nothing is waiting here');
	const creds = await credentials(this);
	const raw = rawBodyOf(this);
	const headers = this.getHeaderData() as Record<string, string>;

	let body: IDataObject;
	const completions = new Map<string, IDataObject>();
	let missing: string[] = [];
	if (first.via === 'relay') {
		const secret = first.seal ? unseal(first.seal, creds.apiKey) : undefined;
		if (!secret || !verifyRelaySignature(raw, headers, secret, Date.now() / 1000)) {
			return refuse(this, 401, 'signature check failed');
		}
		body = JSON.parse(raw.toString('utf8')) as IDataObject;
		for (const event of (body.events as IDataObject[] | undefined) ?? []) {
			const id = deliveryIdOf(event);
			if (id) completions.set(id, event);
		}
		missing = ((body.missing as string[] | undefined) ?? []).map(String);
	} else {
		if (!verifyApiSignature(raw, header(headers, API.signatureHeader), creds.apiKey)) {
			return refuse(this, 401, 'signature check failed');
		}
		body = JSON.parse(raw.toString('utf8')) as IDataObject;
		const id = header(headers, API.deliveryIdHeader) ?? deliveryIdOf(body);
		if (id) completions.set(id, body);
	}

	const spec = operationOf(this);
	const expected = [...new Set(infos.filter((i): i is Waiting => !!i).map((i) => i.delivery))];
	if (!expected.some((id) => completions.has(id)) && first.via === 'direct') {
		// A signed delivery for some other job: acknowledge it, keep waiting.
		return { webhookResponse: { received: true, waiting: expected.length } };
	}
	if (first.via === 'direct') {
		// Each job calls back on its own: resume only once every one of them has ended.
		const late = Date.now() > first.deadline;
		for (const id of expected) {
			if (completions.has(id)) continue;
			const info = infos.find((i) => i?.delivery === id) as Waiting;
			const template = info.batch ? spec.batch?.statusPath : spec.job?.statusPath;
			const batch = info.batch || spec.job?.kind === 'batch';
			const answer = await request(this, { method: 'GET', path: statusPath(String(template), id) });
			const current = answer.body as IDataObject;
			if (batch ? batchDone(current) : isTerminal(current.status)) completions.set(id, current);
			else if (late) missing.push(id);
			else return { webhookResponse: { received: true, waiting: expected.length - completions.size } };
		}
	}

	const options = readOptions(this.getNodeParameter('options', {}) as IDataObject, API.maxParallelRequests);
	const continueOnFail = continuesOnFail(this);
	const out: INodeExecutionData[] = [];
	for (const [n, item] of parked.entries()) {
		const itemIndex = itemIndexOf(item, n);
		const info = infos[n];
		if (!info) {
			out.push({ json: item.json, pairedItem: { item: itemIndex } });
			continue;
		}
		const completion = completions.get(info.delivery);
		let result: IDataObject | undefined;
		if (completion && info.batch) {
			const jobs = (completion.jobs as IDataObject[] | undefined) ?? [];
			const job = jobs.find((j) => j.id === info.job);
			result = job ? { ...job, batch_id: info.delivery } : undefined;
		} else {
			result = completion;
		}
		if (!result) {
			const error = new NodeOperationError(
				this.getNode(),
				`CreativeAI job ${info.job} did not finish before the deadline (${new Date(info.deadline).toISOString()})`,
				{
					itemIndex,
					description: `No completion arrived for ${missing.includes(info.delivery) ? 'it' : 'its batch'} in time. ${laterHint(String(spec.job?.statusLabel), info.job)}`,
				},
			);
			if (!continueOnFail) throw error;
			out.push(errorItem(error, itemIndex, { id: info.job }));
			continue;
		}
		out.push(await finish(this, spec, withCharge(result, item.json), itemIndex, options, continueOnFail));
	}
	return { workflowData: [out] };
}
