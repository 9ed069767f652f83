// Hand-written: webhook signature checks (the API's HMAC and the relay's Standard Webhooks)
// and sealing a relay secret so it can ride in the parked execution without being readable.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'crypto';
import { API } from '../generated/catalog';

/** Standard Webhooks: the headers the relay signs its forwarded requests with. */
export const STANDARD_WEBHOOKS = {
	id: 'webhook-id',
	timestamp: 'webhook-timestamp',
	signature: 'webhook-signature',
	toleranceSeconds: 5 * 60,
};

export type Headers = Record<string, string | string[] | undefined>;

export function header(headers: Headers, name: string): string | undefined {
	const wanted = name.toLowerCase();
	for (const [key, value] of Object.entries(headers)) {
		if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
	}
	return undefined;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
	return a.length === b.length && timingSafeEqual(a, b);
}

/** `X-CreativeAI-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the API key. */
export function verifyApiSignature(rawBody: Buffer, signature: string | undefined, apiKey: string): boolean {
	if (!signature || !apiKey) return false;
	const value = signature.trim();
	if (!value.startsWith(API.signaturePrefix)) return false;
	const given = Buffer.from(value.slice(API.signaturePrefix.length).toLowerCase(), 'utf8');
	const expected = Buffer.from(createHmac('sha256', apiKey).update(rawBody).digest('hex'), 'utf8');
	return sameBytes(given, expected);
}

/** The relay's Standard Webhooks signature: `v1,<base64 HMAC of "id.timestamp.body">`. */
export function verifyRelaySignature(
	rawBody: Buffer,
	headers: Headers,
	secret: string,
	nowSeconds: number,
): boolean {
	const id = header(headers, STANDARD_WEBHOOKS.id);
	const timestamp = header(headers, STANDARD_WEBHOOKS.timestamp);
	const signatures = header(headers, STANDARD_WEBHOOKS.signature);
	if (!id || !timestamp || !signatures || !secret || !/^\d+$/.test(timestamp)) return false;
	if (Math.abs(nowSeconds - Number(timestamp)) > STANDARD_WEBHOOKS.toleranceSeconds) return false;
	const key = secret.startsWith('whsec_')
		? Buffer.from(secret.slice('whsec_'.length), 'base64')
		: Buffer.from(secret, 'utf8');
	const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), rawBody]);
	const expected = Buffer.from(createHmac('sha256', key).update(signed).digest('base64'), 'utf8');
	return signatures
		.split(' ')
		.filter((part) => part.startsWith('v1,'))
		.some((part) => sameBytes(Buffer.from(part.slice(3), 'utf8'), expected));
}

function keyFrom(apiKey: string): Buffer {
	return createHash('sha256').update(`creativeai-n8n-seal:${apiKey}`).digest();
}

/** Encrypt a secret with a key derived from the API key (AES-256-GCM), base64url. */
export function seal(secret: string, apiKey: string): string {
	const iv = randomBytes(12);
	const cipher = createCipheriv('aes-256-gcm', keyFrom(apiKey), iv);
	const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
	return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The secret `seal` hid, or undefined when the token was not sealed with this API key. */
export function unseal(token: string, apiKey: string): string | undefined {
	const raw = Buffer.from(token, 'base64url');
	if (raw.length < 29) return undefined;
	const decipher = createDecipheriv('aes-256-gcm', keyFrom(apiKey), raw.subarray(0, 12));
	decipher.setAuthTag(raw.subarray(12, 28));
	try {
		return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
	} catch {
		return undefined; // not sealed with this key, or altered
	}
}
