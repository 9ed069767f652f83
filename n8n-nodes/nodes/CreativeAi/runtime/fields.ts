// Hand-written: read an item's parameters, check them against the catalog's field table
// (the same ranges, lists and lengths the API enforces) and turn them into the request.
import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import { randomBytes } from 'crypto';
import type { OperationSpec, UsedField } from './operations';

export interface Upload {
	filename: string;
	contentType: string;
	data: Buffer;
}

export interface Prepared {
	path: string;
	/** Wire fields (JSON body, or the text parts of a multipart body). */
	fields: IDataObject;
	files: Record<string, Upload>;
}

/** How an error message quotes a value: short, never a whole payload. */
export function show(value: unknown): string {
	if (Array.isArray(value)) return `${value.length} item${value.length === 1 ? '' : 's'}`;
	if (typeof value === 'string' && value.length > 60) return `a text of ${value.length} characters`;
	const text = JSON.stringify(value) ?? String(value);
	return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

function isEmpty(value: unknown): boolean {
	return (
		value === undefined ||
		value === null ||
		value === '' ||
		(Array.isArray(value) && value.length === 0) ||
		(typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0)
	);
}

/** A value a field does not accept, and why. */
export class Problem {
	constructor(
		readonly field: UsedField,
		readonly value: unknown,
		readonly reason?: string,
	) {}

	get message(): string {
		return this.reason ?? `${show(this.value)} is not allowed; expected ${this.field.allowed}`;
	}
}

export type Checked = { ok: true; value: unknown } | { ok: false; problem: Problem };

const ok = (value: unknown): Checked => ({ ok: true, value });
const bad = (field: UsedField, value: unknown, reason?: string): Checked => ({
	ok: false,
	problem: new Problem(field, value, reason),
});

function parseJson(text: string): { value: unknown } | undefined {
	try {
		return { value: JSON.parse(text) as unknown };
	} catch {
		return undefined;
	}
}

function isUrl(value: string): boolean {
	try {
		const url = new URL(value);
		return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
	} catch {
		return false;
	}
}

function toList(field: UsedField, raw: unknown): Checked {
	if (Array.isArray(raw)) return ok(raw);
	if (typeof raw !== 'string') return bad(field, raw);
	const text = raw.trim();
	if (text.startsWith('[')) {
		const parsed = parseJson(text);
		if (parsed && Array.isArray(parsed.value)) return ok(parsed.value);
		return bad(field, raw, `is not a JSON list; expected ${field.allowed}`);
	}
	return ok(text.split(field.kind === 'numberList' ? ',' : '\n'));
}

function countOk(field: UsedField, items: unknown[]): boolean {
	return !(
		(field.minItems !== undefined && items.length < field.minItems) ||
		(field.maxItems !== undefined && items.length > field.maxItems)
	);
}

/** One field's value as the API wants it, or the problem naming what is allowed. */
export function convert(field: UsedField, raw: unknown): Checked {
	switch (field.kind) {
		case 'string':
		case 'url':
		case 'enum': {
			if (typeof raw !== 'string' && typeof raw !== 'number') return bad(field, raw);
			const text = field.kind === 'url' ? String(raw).trim() : String(raw);
			if (field.kind === 'url' && !isUrl(text)) return bad(field, raw);
			if (field.options && !field.options.some((choice) => choice.value === text)) return bad(field, raw);
			if (
				(field.minLength !== undefined && text.length < field.minLength) ||
				(field.maxLength !== undefined && text.length > field.maxLength)
			) {
				return bad(field, raw);
			}
			return ok(text);
		}
		case 'integer':
		case 'number': {
			const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
			if (typeof value !== 'number' || !Number.isFinite(value)) return bad(field, raw);
			if (field.kind === 'integer' && !Number.isInteger(value)) return bad(field, raw);
			if ((field.min !== undefined && value < field.min) || (field.max !== undefined && value > field.max)) {
				return bad(field, raw);
			}
			return ok(value);
		}
		case 'boolean': {
			if (typeof raw === 'boolean') return ok(raw);
			if (raw === 'true' || raw === 'false') return ok(raw === 'true');
			return bad(field, raw);
		}
		case 'stringList': {
			const list = toList(field, raw);
			if (!list.ok) return list;
			const items = (list.value as unknown[])
				.map((item) => (typeof item === 'string' ? item.trim() : item))
				.filter((item) => item !== '');
			if (!countOk(field, items)) return bad(field, items);
			for (const item of items) {
				if (typeof item !== 'string' || (field.itemKind === 'url' && !isUrl(item))) {
					const what = field.itemKind === 'url' ? 'an absolute http(s) URL' : 'text';
					return bad(field, item, `${show(item)} is not allowed; expected ${what} (each item)`);
				}
			}
			return ok(items);
		}
		case 'numberList': {
			const list = toList(field, raw);
			if (!list.ok) return list;
			const items = (list.value as unknown[]).map((item) => (typeof item === 'string' ? Number(item) : item));
			if (items.some((item) => typeof item !== 'number' || !Number.isFinite(item))) return bad(field, raw);
			return countOk(field, items) ? ok(items) : bad(field, items);
		}
		case 'json': {
			let value = raw;
			if (typeof raw === 'string') {
				const parsed = parseJson(raw);
				if (!parsed) return bad(field, raw, `is not valid JSON; expected ${field.allowed}`);
				value = parsed.value;
			}
			if (typeof value !== 'object' || value === null) return bad(field, raw);
			return ok(value);
		}
		case 'collection': {
			const entries = Array.isArray(raw)
				? raw
				: (((raw as IDataObject | undefined)?.values as IDataObject[] | undefined) ?? []);
			if (!countOk(field, entries)) return bad(field, entries);
			const out: IDataObject[] = [];
			for (const entry of entries) {
				const object = wireObject(field.children ?? [], entry as IDataObject);
				if (!object.ok) return object;
				out.push(object.value as IDataObject);
			}
			return ok(out);
		}
		default:
			return bad(field, raw);
	}
}

/** A fixedCollection entry (n8n parameter names) as a wire object, children checked. */
function wireObject(children: UsedField[], entry: IDataObject): Checked {
	const out: IDataObject = {};
	for (const child of children) {
		const raw = entry[child.param] ?? entry[child.wire];
		if (isEmpty(raw)) {
			if (child.required) return bad(child, raw, `is required (${child.allowed})`);
			continue;
		}
		const value = convert(child, raw);
		if (!value.ok) return value;
		out[child.wire] = value.value as IDataObject[string];
	}
	return ok(out);
}

function invalid(ctx: IExecuteFunctions, spec: OperationSpec, problem: Problem, itemIndex: number) {
	const field = problem.field;
	return new NodeOperationError(ctx.getNode(), `${field.label}: ${problem.message}`, {
		itemIndex,
		description: `${spec.label}: the field "${field.label}" (${field.wire}) accepts ${field.allowed}.`,
	});
}

/** Read, check and shape one item's request. Throws `NodeOperationError` naming the field. */
export async function prepare(ctx: IExecuteFunctions, spec: OperationSpec, itemIndex: number): Promise<Prepared> {
	let path = spec.path;
	for (const param of spec.pathParams) {
		const raw = ctx.getNodeParameter(param.param, itemIndex, '') as unknown;
		const checked = isEmpty(raw) ? bad(param, raw, `is required (${param.allowed})`) : convert(param, raw);
		if (!checked.ok) throw invalid(ctx, spec, checked.problem, itemIndex);
		path = path.replace(`{${param.wire}}`, encodeURIComponent(String(checked.value).trim()));
	}
	const additional = ctx.getNodeParameter('additionalFields', itemIndex, {}) as IDataObject;
	// Of a one-of group, only the field its choice names is read (the others are hidden).
	const skipped = new Set<string>();
	for (const choice of spec.choices ?? []) {
		const picked = String(ctx.getNodeParameter(choice.param, itemIndex, choice.fields[0]));
		for (const wire of choice.fields) if (wire !== picked) skipped.add(wire);
	}
	const fields: IDataObject = {};
	const files: Record<string, Upload> = {};
	for (const field of spec.fields) {
		if (skipped.has(field.wire)) continue;
		const raw = field.additional
			? additional[field.param]
			: (ctx.getNodeParameter(field.param, itemIndex, undefined) as unknown);
		if (isEmpty(raw)) {
			if (field.required) {
				throw invalid(ctx, spec, new Problem(field, raw, `is required (${field.allowed})`), itemIndex);
			}
			continue;
		}
		if (field.kind === 'file') {
			files[field.wire] = await upload(ctx, field, String(raw), itemIndex);
			continue;
		}
		const checked = convert(field, raw);
		if (!checked.ok) throw invalid(ctx, spec, checked.problem, itemIndex);
		fields[field.wire] = checked.value as IDataObject[string];
	}
	for (const group of spec.oneOf ?? []) {
		const given = group.filter((name) => fields[name] !== undefined);
		if (given.length !== 1) {
			const labels = group.map((name) => spec.fields.find((f) => f.wire === name)?.label ?? name);
			throw new NodeOperationError(
				ctx.getNode(),
				`${spec.label}: give exactly one of ${labels.join(' or ')} (${given.length ? 'both were given' : 'neither was given'})`,
				{ itemIndex, description: `Fields: ${group.join(', ')}` },
			);
		}
	}
	return { path, fields, files };
}

async function upload(
	ctx: IExecuteFunctions,
	field: UsedField,
	property: string,
	itemIndex: number,
): Promise<Upload> {
	const meta = ctx.helpers.assertBinaryData(itemIndex, property);
	const data = await ctx.helpers.getBinaryDataBuffer(itemIndex, property);
	return {
		filename: meta.fileName ?? `${field.wire}.${meta.fileExtension ?? 'bin'}`,
		contentType: meta.mimeType || 'application/octet-stream',
		data,
	};
}

/** A multipart/form-data body built by hand (exact bytes, no dependency). */
export function multipart(fields: IDataObject, files: Record<string, Upload>): { body: Buffer; contentType: string } {
	const boundary = `----creativeai${randomBytes(12).toString('hex')}`;
	const parts: Buffer[] = [];
	const quote = (text: string) => text.replace(/["\r\n]/g, '_');
	for (const [name, value] of Object.entries(fields)) {
		const text = typeof value === 'string' ? value : JSON.stringify(value);
		parts.push(
			Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${text}\r\n`),
		);
	}
	for (const [name, file] of Object.entries(files)) {
		parts.push(
			Buffer.from(
				`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"; filename="${quote(file.filename)}"\r\n` +
					`Content-Type: ${file.contentType}\r\n\r\n`,
			),
			file.data,
			Buffer.from('\r\n'),
		);
	}
	parts.push(Buffer.from(`--${boundary}--\r\n`));
	return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
