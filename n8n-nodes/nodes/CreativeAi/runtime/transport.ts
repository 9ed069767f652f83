// Hand-written: every call to the CreativeAI API and the relay goes through `request`.
// Retries follow the catalog's schedule: reads on connection errors, 429 and 5xx; creates
// only when the server certainly refused them (429 or 5xx answer), never after a send
// whose answer was lost.
import type {
	IBinaryData,
	IDataObject,
	IExecuteFunctions,
	IHookFunctions,
	IHttpRequestMethods,
	IHttpRequestOptions,
	ILoadOptionsFunctions,
	IWebhookFunctions,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError, sleep } from 'n8n-workflow';
import { API, ERRORS, STEPS } from '../generated/catalog';

export const CREDENTIAL = 'creativeAiApi';

export type Context = IExecuteFunctions | ILoadOptionsFunctions | IWebhookFunctions | IHookFunctions;

export interface Credentials {
	apiKey: string;
	baseUrl: string;
	relayUrl: string;
}

export async function credentials(ctx: Context): Promise<Credentials> {
	const raw = (await ctx.getCredentials(CREDENTIAL)) as IDataObject;
	const trim = (value: unknown) => String(value ?? '').trim().replace(/\/+$/, '');
	return {
		apiKey: String(raw.apiKey ?? ''),
		baseUrl: trim(raw.baseUrl) || API.defaultBaseUrl,
		relayUrl: trim(raw.relayUrl),
	};
}

export interface Call {
	method: IHttpRequestMethods;
	path: string;
	body?: IDataObject | Buffer;
	headers?: IDataObject;
	/** A create starts paid work: it is retried only when the server certainly refused it. */
	create?: boolean;
	itemIndex?: number;
	/** Send to the relay instead of the API. */
	relay?: boolean;
}

export interface Answer {
	status: number;
	headers: IDataObject;
	body: unknown;
}

interface RawResponse {
	statusCode: number;
	headers: IDataObject;
	body: unknown;
}

const CONNECTION_REFUSED = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'];

function headerValue(headers: IDataObject, name: string): string | undefined {
	const wanted = name.toLowerCase();
	for (const [key, value] of Object.entries(headers ?? {})) {
		if (key.toLowerCase() === wanted && value !== undefined && value !== null) return String(value);
	}
	return undefined;
}

/** Any failure as the error n8n shows: API and operation errors as they are, the rest wrapped. */
export function nodeError(ctx: Context, error: unknown, itemIndex?: number): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
	return new NodeOperationError(ctx.getNode(), error instanceof Error ? error : String(error), { itemIndex });
}

/** Seconds the answer asks us to wait (`retry-after-ms`, then `Retry-After`), if any. */
export function retryAfter(headers: IDataObject): number | undefined {
	const ms = headerValue(headers, API.retryAfterMsHeader);
	if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Number(ms) / 1000;
	const value = headerValue(headers, API.retryAfterHeader);
	if (value === undefined) return undefined;
	if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
	const date = Date.parse(value);
	return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

function backoff(attempt: number): number {
	const { initial, maximum, jitter } = API.retry;
	const delay = Math.min(initial * 2 ** attempt, maximum);
	return delay - delay * jitter * Math.random();
}

function errorCode(error: unknown): string | undefined {
	const e = error as { code?: unknown; cause?: { code?: unknown } };
	const code = e?.code ?? e?.cause?.code;
	return typeof code === 'string' ? code : undefined;
}

/** Send one call, retrying what may be retried; throw `NodeApiError` for what fails. */
export async function request(ctx: Context, call: Call): Promise<Answer> {
	const creds = await credentials(ctx);
	const base = call.relay ? creds.relayUrl : creds.baseUrl;
	const options: IHttpRequestOptions = {
		method: call.method,
		url: `${base}${call.path}`,
		headers: { Accept: 'application/json', ...(call.headers ?? {}) },
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
		json: !Buffer.isBuffer(call.body),
	};
	if (call.body !== undefined) options.body = call.body;
	const { retries, maxRetryAfter } = API.retry;
	for (let attempt = 0; ; attempt++) {
		let response: RawResponse;
		try {
			response = (await ctx.helpers.httpRequestWithAuthentication.call(
				ctx,
				CREDENTIAL,
				options,
			)) as RawResponse;
		} catch (error) {
			const code = errorCode(error);
			const neverSent = code !== undefined && CONNECTION_REFUSED.includes(code);
			if (attempt < retries && (!call.create || neverSent)) {
				await sleep(backoff(attempt) * 1000);
				continue;
			}
			const where = call.relay ? 'the relay' : 'CreativeAI';
			const maybe = call.create && !neverSent
				? ' The request may have been accepted: look the job up before sending it again.'
				: '';
			throw new NodeApiError(
				ctx.getNode(),
				{ message: `Could not reach ${where}`, code: code ?? 'connection_error' } as JsonObject,
				{
					message: `Could not reach ${where} at ${base} (${code ?? 'connection error'})`,
					description: `The request to ${call.path} got no answer.${maybe}`,
					itemIndex: call.itemIndex,
				},
			);
		}
		const status = response.statusCode;
		if (status >= 200 && status < 300) {
			return { status, headers: response.headers ?? {}, body: parseBody(response.body) };
		}
		const wait = retryAfter(response.headers ?? {});
		const retryable = status === 429 || status >= 500;
		if (retryable && attempt < retries && (wait === undefined || wait <= maxRetryAfter)) {
			await sleep((wait ?? backoff(attempt)) * 1000);
			continue;
		}
		throw apiError(ctx, status, parseBody(response.body), response.headers ?? {}, call);
	}
}

function parseBody(body: unknown): unknown {
	if (Buffer.isBuffer(body)) body = body.toString('utf8');
	if (typeof body === 'string' && body.trim().startsWith('{')) {
		try {
			return JSON.parse(body);
		} catch {
			return body;
		}
	}
	return body;
}

interface ErrorBody {
	code?: string;
	message?: string;
	type?: string;
	param?: string;
}

function errorBody(body: unknown): ErrorBody {
	if (body && typeof body === 'object') {
		const error = (body as IDataObject).error;
		if (error && typeof error === 'object') return error as ErrorBody;
		if (typeof error === 'string') return { message: error };
		const message = (body as IDataObject).message;
		if (typeof message === 'string') return { message };
	}
	return typeof body === 'string' && body ? { message: body.slice(0, 300) } : {};
}

function specFor(code: string | undefined, status: number) {
	if (code && ERRORS[code]) return { code, ...ERRORS[code] };
	const byStatus = Object.entries(ERRORS).find(([, spec]) => spec.status === status);
	return byStatus ? { code: byStatus[0], ...byStatus[1] } : undefined;
}

/** The API's answer behind an error `apiError` made (to tell which entry a batch refusal names). */
export interface Refusal {
	status: number;
	body: unknown;
	headers: IDataObject;
	param?: string;
}

const REFUSALS = new WeakMap<object, Refusal>();

export function refusalOf(error: unknown): Refusal | undefined {
	return error && typeof error === 'object' ? REFUSALS.get(error) : undefined;
}

/** The API's answer as a `NodeApiError`: its message, the field it names, the wait for 429. */
export function apiError(
	ctx: Context,
	status: number,
	body: unknown,
	headers: IDataObject,
	call: Pick<Call, 'path' | 'itemIndex' | 'relay'>,
): NodeApiError {
	const detail = errorBody(body);
	const spec = specFor(detail.code ?? detail.type, status);
	const title = spec?.title ?? `HTTP ${status}`;
	const apiMessage = detail.message || title;
	const parts: string[] = [];
	if (detail.param) parts.push(`Field: ${detail.param}.`);
	if (status === 429) {
		const wait = retryAfter(headers);
		parts.push(
			wait !== undefined
				? `Rate limited: wait ${Math.ceil(wait)} s before trying again (Retry-After).`
				: 'Rate limited: wait a minute before trying again.',
		);
	}
	if (spec?.advice) parts.push(spec.advice);
	const source = call.relay ? 'Relay' : 'CreativeAI';
	const error = new NodeApiError(
		ctx.getNode(),
		{
			message: apiMessage,
			code: detail.code ?? spec?.code ?? String(status),
			...(detail.param ? { param: detail.param } : {}),
			status,
		} as JsonObject,
		{
			message: `${source}: ${apiMessage}${detail.param ? ` (field: ${detail.param})` : ''}`,
			description: parts.join(' '),
			httpCode: String(status),
			itemIndex: call.itemIndex,
		},
	);
	REFUSALS.set(error, { status, body, headers, ...(detail.param ? { param: detail.param } : {}) });
	return error;
}

/** A downloaded file, or why it was left at its URL (over the node's Max File Size). */
export type Download = { binary: IBinaryData } | { overLimit: string };

function megabytes(bytes: number): string {
	return String(Math.round(bytes / 100_000) / 10);
}

/** Stream an output file into the item's binary data (no credentials: output URLs are
 * public CDN links), named after the URL, typed by the answer's Content-Type. The file is
 * never held whole in memory: n8n writes the stream to its binary data store (filesystem
 * mode, n8n's default). Over `maxBytes` (0: no cap) by its Content-Length, it is left at
 * its URL before any of it is read. */
export async function downloadBinary(
	ctx: IExecuteFunctions | IWebhookFunctions,
	url: string,
	maxBytes = 0,
): Promise<Download> {
	const response = (await ctx.helpers.httpRequest({
		method: 'GET',
		url,
		encoding: 'stream',
		returnFullResponse: true,
		json: false,
	})) as RawResponse;
	const length = Number(headerValue(response.headers ?? {}, 'content-length'));
	if (maxBytes > 0 && Number.isFinite(length) && length > maxBytes) {
		(response.body as { destroy?: () => void }).destroy?.();
		return {
			overLimit: STEPS.fileOverLimit.replace('{size}', megabytes(length)).replace('{max}', String(maxBytes / 1_000_000)),
		};
	}
	const type = headerValue(response.headers ?? {}, 'content-type')?.split(';')[0].trim();
	const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'output');
	const binary = await ctx.helpers.prepareBinaryData(
		response.body as Parameters<IExecuteFunctions['helpers']['prepareBinaryData']>[0],
		name,
		type && type !== 'application/octet-stream' ? type : undefined,
	);
	return { binary };
}
