// Hand-written: the CreativeAI Trigger. Through a relay it subscribes itself when the
// workflow is published (and unsubscribes when unpublished); the relay signs what it
// forwards (Standard Webhooks, with the subscription's secret). Straight from the API,
// deliveries carry the API's HMAC, keyed with the API key. Anything unsigned or forged
// gets 401 and starts nothing.
import type { IDataObject, IHookFunctions, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { API } from '../../CreativeAi/catalog';
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
	if (header(headers, STANDARD_WEBHOOKS.signature)) {
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
	return {
		workflowData: [[{ json: { event, delivery_id: deliveryId, via, ...body } }]],
	};
}
