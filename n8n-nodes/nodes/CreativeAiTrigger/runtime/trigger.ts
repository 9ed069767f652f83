// Hand-written: the CreativeAI Trigger. Through a relay it subscribes itself when the
// workflow is published (and unsubscribes when unpublished); the relay signs what it
// forwards (Standard Webhooks, with the subscription's secret and a timestamp), and then
// only the relay's signature is accepted. Without a relay, deliveries carry the API's
// HMAC, keyed with the API key. Anything unsigned or forged gets 401 and starts nothing.
// Each delivery starts the workflow once: what was emitted is remembered (workflow static
// data, a bounded window), and a repeat (the API's retries, a replayed post) gets 200 and
// starts nothing.
import type { IDataObject, IHookFunctions, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { API, EVENTS } from '../../CreativeAi/generated/catalog';
import { shape } from '../../CreativeAi/runtime/shape';
import { RELAY } from '../../CreativeAi/runtime/relay';
import { rawBodyOf, refuse } from '../../CreativeAi/runtime/resume';
import {
	header,
	seal,
	STANDARD_WEBHOOKS,
	unseal,
	verifyApiSignature,
	verifyRelaySignature,
} from '../../CreativeAi/runtime/signatures';
import { credentials, nodeError, request } from '../../CreativeAi/runtime/transport';

interface Subscription {
	subscriptionId?: string;
	sealedSecret?: string;
	/** Deliveries already emitted: key -> when (ms since epoch), oldest first. */
	emitted?: Record<string, number>;
}

/** How long, and how many, emitted deliveries are remembered. The API retries within a
 * minute and the relay's signatures expire after minutes; a day covers both with room. */
export const REMEMBER = { ms: 24 * 60 * 60 * 1000, max: 1000 };

/**
 * What this n8n process emitted, per workflow and trigger node. n8n keeps a webhook's changes
 * to the workflow's static data only while that static data is still empty: once it holds
 * something (the relay subscription, an earlier delivery), the execution a webhook starts
 * reloads it and the change is dropped (seen in n8n 2.41). So a delivery is remembered in
 * both places: here, which answers the API's retries and replays while n8n runs, and in
 * static data, which n8n persists where it does.
 */
const EMITTED = new Map<string, Record<string, number>>();

/** `emitted` without what fell out of the window, at most `REMEMBER.max - 1` of the newest. */
function recent(emitted: Record<string, number> | undefined, now: number): Record<string, number> {
	const kept: Record<string, number> = {};
	const fresh = Object.entries(emitted ?? {}).filter(([, at]) => now - at < REMEMBER.ms);
	for (const [seen, at] of fresh.slice(-(REMEMBER.max - 1))) kept[seen] = at;
	return kept;
}

/** Record `key` as emitted under `scope`; false when it was emitted already (in the window). */
export function firstDelivery(stored: Subscription, scope: string, key: string, now: number): boolean {
	const memory = recent(EMITTED.get(scope), now);
	const persisted = recent(stored.emitted, now);
	const repeat = key in memory || key in persisted;
	// A repeat is recorded in both too: n8n keeps static data changed by a webhook that
	// starts nothing, so a repeat heals what the first delivery's run dropped.
	const at = memory[key] ?? persisted[key] ?? now;
	memory[key] = at;
	persisted[key] = at;
	EMITTED.set(scope, memory);
	stored.emitted = persisted;
	return !repeat;
}

function events(ctx: IHookFunctions | IWebhookFunctions): string[] {
	return (ctx.getNodeParameter('events', []) as string[]) ?? [];
}

export async function subscriptionExists(this: IHookFunctions): Promise<boolean> {
	const creds = await credentials(this);
	if (!creds.relayUrl) return true; // nothing to register: the URL is pasted by hand
	const stored = this.getWorkflowStaticData('node') as Subscription;
	if (!stored.subscriptionId) return false;
	try {
		const answer = await request(this, {
			method: 'GET',
			path: `${RELAY.subscriptions}/${encodeURIComponent(stored.subscriptionId)}`,
			relay: true,
		});
		const sub = answer.body as IDataObject;
		return sub.status === 'active' && sub.target_url === this.getNodeWebhookUrl('default');
	} catch (error) {
		if ((error as { httpCode?: string }).httpCode !== '404') throw nodeError(this, error);
		this.logger.info(`CreativeAI Trigger: relay subscription ${stored.subscriptionId} is gone; subscribing again`);
		delete stored.subscriptionId;
		delete stored.sealedSecret;
		return false;
	}
}

export async function subscribe(this: IHookFunctions): Promise<boolean> {
	const creds = await credentials(this);
	if (!creds.relayUrl) return true;
	const target = this.getNodeWebhookUrl('default');
	if (!target) throw new NodeOperationError(this.getNode(), 'n8n did not give this trigger a webhook URL');
	const chosen = events(this);
	const answer = await request(this, {
		method: 'POST',
		path: RELAY.subscriptions,
		relay: true,
		body: { target_url: target, ...(chosen.length ? { events: chosen } : {}) },
	});
	const sub = answer.body as IDataObject;
	const stored = this.getWorkflowStaticData('node') as Subscription;
	stored.subscriptionId = String(sub.id);
	stored.sealedSecret = seal(String(sub.signing_secret), creds.apiKey);
	return true;
}

export async function unsubscribe(this: IHookFunctions): Promise<boolean> {
	const stored = this.getWorkflowStaticData('node') as Subscription;
	const creds = await credentials(this);
	if (creds.relayUrl && stored.subscriptionId) {
		try {
			await request(this, {
				method: 'DELETE',
				path: `${RELAY.subscriptions}/${encodeURIComponent(stored.subscriptionId)}`,
				relay: true,
			});
		} catch (error) {
			if ((error as { httpCode?: string }).httpCode !== '404') throw nodeError(this, error);
			this.logger.info(`CreativeAI Trigger: relay subscription ${stored.subscriptionId} was already gone`);
		}
	}
	delete stored.subscriptionId;
	delete stored.sealedSecret;
	return true;
}

/** The event's body as the catalog's output contract gives it (an unknown event: as sent). */
function shaped(event: string, body: IDataObject): IDataObject {
	const spec = EVENTS.find((e) => e.name === event);
	return spec ? shape(spec.output, body) : body;
}

function eventName(headers: Record<string, string>, body: IDataObject): string | undefined {
	const named = header(headers, API.eventHeader);
	if (named) return named;
	if (typeof body.object === 'string' && typeof body.status === 'string') {
		return `${body.object}.${body.status.toLowerCase()}`;
	}
	return undefined;
}

export async function receive(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const raw = rawBodyOf(this);
	const headers = this.getHeaderData() as Record<string, string>;
	const creds = await credentials(this);
	const stored = this.getWorkflowStaticData('node') as Subscription;
	let via: 'relay' | 'api';
	if (creds.relayUrl) {
		// Through a relay, only what the relay signed counts: a direct API-signed post could
		// be a captured one sent again, and the relay already deduplicates the API's retries.
		if (!header(headers, STANDARD_WEBHOOKS.signature)) {
			return refuse(this, 401, 'this trigger receives through the relay; direct posts are refused');
		}
		const secret = stored.sealedSecret ? unseal(stored.sealedSecret, creds.apiKey) : undefined;
		if (!secret || !verifyRelaySignature(raw, headers, secret, Date.now() / 1000)) {
			return refuse(this, 401, 'relay signature check failed');
		}
		via = 'relay';
	} else if (verifyApiSignature(raw, header(headers, API.signatureHeader), creds.apiKey)) {
		via = 'api';
	} else {
		return refuse(this, 401, 'missing or invalid signature');
	}
	let body: IDataObject;
	try {
		body = JSON.parse(raw.toString('utf8')) as IDataObject;
	} catch {
		return refuse(this, 400, 'body is not JSON');
	}
	const event = eventName(headers, body);
	const wanted = events(this);
	if (!event || (wanted.length && !wanted.includes(event))) {
		return { webhookResponse: { received: true, ignored: event ?? 'unknown event' } };
	}
	const deliveryId = header(headers, API.deliveryIdHeader) ?? String(body.batch_id ?? body.id ?? '');
	// The relay's message id is the same on each of its retries; the API's delivery id
	// (the job id) with the status is what the API deduplicates on.
	const key =
		via === 'relay'
			? `relay:${header(headers, STANDARD_WEBHOOKS.id) ?? ''}`
			: `api:${deliveryId}:${String(body.status ?? event)}`;
	const scope = `${String(this.getWorkflow().id)}:${this.getNode().name}`;
	if (!firstDelivery(stored, scope, key, Date.now())) {
		return { webhookResponse: { received: true, duplicate: deliveryId } };
	}
	return {
		workflowData: [[{ json: { event, delivery_id: deliveryId, via, ...shaped(event, body) } }]],
	};
}
