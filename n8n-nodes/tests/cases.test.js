// Hand-written: every case of tests/cases/operations.json for the n8n node produces exactly
// the table's request. The node runs through n8n's engine against a local server that
// records what arrives on the wire.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const fs = require('node:fs');
const { start, paramsFromWire, catalog } = require('./harness');

const CASES = JSON.parse(fs.readFileSync(process.env.OPERATION_CASES, 'utf8')).cases;
const KEY = 'sk-recorder-key';
const BY_KEY = Object.fromEntries(Object.entries(catalog.OPERATIONS).map(([name, spec]) => [spec.key, name]));

let server;
let seen = [];
let h;

function answerFor(method, path) {
	// Models as the API documents them: ids, no `type`.
	if (method === 'GET' && path === '/v1/models') return { object: 'list', data: [{ id: 'kling-v3', object: 'model' }, { id: 'gpt-image-1', object: 'model' }] };
	if (path.includes('/batch')) return { batch_id: 'b_1', total_jobs: 1, jobs: [{ id: 'j_1', status: 'pending' }] };
	if (path.startsWith('/v1/images')) return { created: 1, data: [{ url: 'https://cdn.example/x.png' }] };
	if (path.includes('calculate')) return { model: 'x', credits: 1 };
	return { id: 'rec_1', status: method === 'GET' ? 'completed' : 'processing' };
}

before(async () => {
	server = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			seen.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
			res.writeHead(req.method === 'POST' ? 202 : 200, { 'content-type': 'application/json' });
			res.end(JSON.stringify(answerFor(req.method, req.url)));
		});
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	h = await start({ credentials: { apiKey: KEY, baseUrl: `http://127.0.0.1:${server.address().port}`, relayUrl: '' } });
});

after(async () => {
	await h.stop();
	await new Promise((resolve) => server.close(resolve));
});

/** multipart/form-data as {fields, files} in the table's shape. */
function parseMultipart(body, contentType) {
	const boundary = /boundary=(.+)$/.exec(contentType)[1];
	const out = { fields: {}, files: {} };
	const text = body.toString('latin1');
	for (const part of text.split(`--${boundary}`).slice(1, -1)) {
		const [head, ...rest] = part.replace(/^\r\n/, '').split('\r\n\r\n');
		const content = rest.join('\r\n\r\n').replace(/\r\n$/, '');
		const name = /name="([^"]+)"/.exec(head)[1];
		const filename = /filename="([^"]+)"/.exec(head);
		if (filename) {
			out.files[name] = {
				filename: filename[1],
				content_type: /Content-Type: (.+)/i.exec(head)[1].trim(),
				base64: Buffer.from(content, 'latin1').toString('base64'),
			};
		} else {
			out.fields[name] = content;
		}
	}
	return out;
}

function asTable(fields, spec) {
	// Multipart text parts are strings on the wire; the table writes them as values.
	const out = {};
	for (const [name, value] of Object.entries(fields)) {
		const field = spec.fields.find((f) => f.wire === name);
		out[name] = field && (field.kind === 'integer' || field.kind === 'number') ? Number(value) : value;
	}
	return out;
}

for (const c of CASES) {
	const name = BY_KEY[c.operation];
	if (!name) continue; // not an n8n operation
	test(`case: ${c.name}`, async () => {
		const [resource, operation] = name.split('.');
		const { params, binary } = paramsFromWire(resource, operation, c.input);
		const spec = catalog.OPERATIONS[name];
		if (spec.job) params.completion = 'none';
		const item = { json: {} };
		if (Object.keys(binary).length) item.binary = binary;
		seen = [];
		const run = await h.run({ resource, operation, params, items: [item] });
		assert.equal(run.status, 'success', run.error && run.error.message);
		assert.equal(seen.length, 1, 'exactly one request');
		const [request] = seen;
		assert.equal(request.method, c.request.method);
		assert.equal(request.path, c.request.path);
		assert.equal(request.headers.authorization, `Bearer ${KEY}`);
		if (c.request.json !== undefined) {
			assert.match(request.headers['content-type'], /^application\/json/);
			assert.deepEqual(JSON.parse(request.body.toString('utf8')), c.request.json);
		} else if (c.request.multipart !== undefined) {
			const got = parseMultipart(request.body, request.headers['content-type']);
			assert.deepEqual({ fields: asTable(got.fields, spec), files: got.files }, c.request.multipart);
		} else {
			assert.equal(request.body.length, 0, 'no body');
		}
	});
}

test('every n8n operation of the catalog has a case', () => {
	const covered = new Set(CASES.map((c) => c.operation));
	const missing = Object.values(catalog.OPERATIONS)
		.map((spec) => spec.key)
		.filter((key) => !covered.has(key));
	assert.deepEqual(missing, []);
});

test('Model dropdowns: with no `type` on the listed models, the catalog\'s known models', async () => {
	for (const [method, source] of Object.entries(catalog.MODEL_SOURCES)) {
		const choices = (await h.loadOptions(method)).map((o) => o.value).sort();
		const expected = source.kind === undefined ? ['gpt-image-1', 'kling-v3'] : [...source.known].sort();
		assert.deepEqual(choices, expected, method);
		if (source.kind !== undefined) assert.ok(expected.length > 0, `${method} knows models`);
	}
});
