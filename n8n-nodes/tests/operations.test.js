// Hand-written: every operation of the catalog through n8n's engine against the sandbox
// (those that start a job in every completion mode, with the input of their first case in
// tests/cases/operations.json), plus many items, errors, downloads and the live model lists.
// Run by tests/test_n8n_package.py (it starts the sandbox and the relay and sets the env).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { start, paramsFromWire, catalog } = require('./harness');

const SANDBOX = process.env.SANDBOX_URL;
const RELAY = process.env.RELAY_URL;
const KEY = process.env.SANDBOX_KEY;
const FAST = { pollInterval: 0.05, timeout: 30 };

let direct; // credential without a relay: resume straight from the API
let relayed; // credential with the relay

before(async () => {
	direct = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: '' } });
	relayed = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: RELAY } });
});

after(async () => {
	await direct.stop();
	await relayed.stop();
});

async function sandboxGet(path) {
	const answer = await fetch(`${SANDBOX}${path}`);
	return await answer.json();
}

function items(n, make = (i) => ({ n: i })) {
	return Array.from({ length: n }, (_, i) => ({ json: make(i) }));
}

/** An operation's input as a builder fills it in: the first case of tests/cases/operations.json. */
const CASES = JSON.parse(fs.readFileSync(process.env.OPERATION_CASES, 'utf8')).cases;
function caseOf(name) {
	const spec = catalog.OPERATIONS[name];
	const found = CASES.find((c) => c.operation === spec.key);
	assert.ok(found, `tests/cases/operations.json has no case for ${spec.key}`);
	const [resource, operation] = name.split('.');
	return { resource, operation, spec, ...paramsFromWire(resource, operation, found.input), input: found.input };
}

async function liveCaseOf(name) {
	const found = caseOf(name);
	return { ...found, params: await withSandboxMedia(found.params) };
}

/** The sandbox makes media only from files it served itself: a case's media URLs (an MP4
 * to compose onto, an MP3 to lay under it) become outputs of finished sandbox jobs. */
let media;
async function sandboxMedia() {
	if (media) return media;
	const video = await direct.run({ resource: 'video', operation: 'createFromText', params: { prompt: 'media', completion: 'poll', ...FAST }, items: items(1) });
	const voice = await direct.run({ resource: 'voice', operation: 'create', params: { text: 'Media.', completion: 'poll', ...FAST }, items: items(1) });
	media = { '.mp4': video.output[0].json.output_url, '.mp3': voice.output[0].json.output_url };
	return media;
}

async function withSandboxMedia(params) {
	const files = await sandboxMedia();
	const swap = (value) => {
		if (typeof value !== 'string' || !/^https?:/.test(value)) return value;
		const ext = Object.keys(files).find((e) => new URL(value).pathname.endsWith(e));
		return ext ? files[ext] : value;
	};
	const out = {};
	for (const [name, value] of Object.entries(params)) {
		out[name] = value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swap(v)])) : swap(value);
	}
	return out;
}

/** An input item carrying the case's files as binary data. */
function itemWith(binary) {
	return Object.keys(binary).length ? [{ json: {}, binary }] : items(1);
}

const STARTS_A_JOB = Object.keys(catalog.OPERATIONS).filter((name) => catalog.OPERATIONS[name].job);
const ANSWERS_AT_ONCE = Object.keys(catalog.OPERATIONS).filter(
	(name) => !catalog.OPERATIONS[name].job && catalog.OPERATIONS[name].pathParams.length === 0,
);

test('the catalog has operations of both kinds for the loops below', () => {
	assert.ok(STARTS_A_JOB.length >= 5, STARTS_A_JOB.join(', '));
	assert.ok(ANSWERS_AT_ONCE.length >= 3, ANSWERS_AT_ONCE.join(', '));
});

/** What a finished job of this operation looks like. */
function assertFinished(spec, input, job) {
	if (spec.job.kind === 'batch') {
		const list = input[spec.fields.find((f) => f.kind === 'collection').wire];
		assert.equal(job.completed, list.length, JSON.stringify(job));
	} else {
		assert.match(String(job.status), /^completed$/i, JSON.stringify(job));
		assert.ok(job.output_url, JSON.stringify(job));
	}
	// The catalog's output contract: every key it names, the status in the kind's spelling,
	// and one normalized state.
	const output = catalog.OUTPUTS[spec.output];
	for (const key of output.keys) assert.ok(key in job, `no "${key}" in ${JSON.stringify(job)}`);
	assert.equal(job.state, 'completed');
	assert.equal(job.status, catalog.SPELLING[output.job].completed);
}

for (const name of STARTS_A_JOB) {
	test(`${name}: Don't Wait returns the accepted job`, async () => {
		const { resource, operation, params, binary } = await liveCaseOf(name);
		const run = await direct.run({ resource, operation, params: { ...params, completion: 'none' }, items: itemWith(binary) });
		assert.equal(run.status, 'success', run.error?.message);
		assert.equal(run.output.length, 1);
		const job = run.output[0].json;
		assert.ok(job.id || job.batch_id, JSON.stringify(job));
		assert.equal(run.output[0].pairedItem.item, 0);
	});

	test(`${name}: Poll Until Done returns the finished job`, async () => {
		const { resource, operation, params, binary, spec, input } = await liveCaseOf(name);
		const run = await direct.run({ resource, operation, params: { ...params, completion: 'poll', ...FAST }, items: itemWith(binary) });
		assert.equal(run.status, 'success', run.error?.message);
		assertFinished(spec, input, run.output[0].json);
	});

	for (const [mode, harness] of [
		['straight from the API', () => direct],
		['through the relay', () => relayed],
	]) {
		test(`${name}: Resume by Webhook ${mode} parks, then outputs the finished job`, async () => {
			const h = harness();
			const { resource, operation, params, binary, spec, input } = await liveCaseOf(name);
			const run = await h.run({ resource, operation, params: { ...params, completion: 'webhook', timeout: 60 }, items: itemWith(binary) });
			assert.equal(run.status, 'waiting', run.error?.message);
			assert.ok(run.waitTill instanceof Date);
			const parked = run.output[0].json;
			assert.ok(parked.creativeaiWaiting, 'the parked item says what it waits for');
			assert.equal(parked.creativeaiWaiting.via, mode.includes('relay') ? 'relay' : 'direct');
			const done = await h.resumed(run);
			assert.equal(done.status, 'success', done.error?.message);
			assert.equal(done.output.length, 1);
			const job = done.output[0].json;
			assert.equal(job.creativeaiWaiting, undefined);
			assert.equal(done.output[0].pairedItem.item, 0);
			if (spec.job.kind === 'batch') assert.equal(job.total_jobs ?? job.jobs.length, input.prompts.length);
			else assert.match(String(job.status), /^completed$/i);
		});
	}
}

for (const name of ANSWERS_AT_ONCE) {
	test(`${name}: answers at once, one output item paired with its input`, async () => {
		const { resource, operation, params, binary } = await liveCaseOf(name);
		const run = await direct.run({ resource, operation, params, items: itemWith(binary) });
		assert.equal(run.status, 'success', run.error?.message);
		assert.ok(run.output.length >= 1);
		assert.ok(run.output.every((item) => item.pairedItem.item === 0));
	});
}

test('compose: the narrated MP4 of a video and a voice job, downloaded as binary data', async () => {
	const video = await direct.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: 'Product turntable', additionalFields: { duration: 3 }, completion: 'poll', ...FAST },
		items: items(1),
	});
	const voice = await direct.run({ resource: 'voice', operation: 'create', params: { text: 'Hello there.', completion: 'poll', ...FAST }, items: items(1) });
	const run = await direct.run({
		resource: 'compose',
		operation: 'create',
		params: {
			videoUrl: video.output[0].json.output_url,
			audioUrl: voice.output[0].json.output_url,
			replaceAudio: true,
			completion: 'poll',
			...FAST,
			options: { download: true, binaryPropertyName: 'video' },
		},
		items: items(1),
	});
	assert.equal(run.status, 'success', run.error?.message);
	const file = run.output[0].binary.video;
	assert.equal(file.mimeType, 'video/mp4');
	assert.match(file.fileName, /\.mp4$/);
	const bytes = Buffer.from(file.data, 'base64');
	assert.equal(bytes.subarray(4, 8).toString('latin1'), 'ftyp');
});

test('get operations read a job by id', async () => {
	const started = await direct.run({ resource: 'voice', operation: 'create', params: { text: 'Status please.', completion: 'poll', ...FAST }, items: items(1) });
	const id = started.output[0].json.id;
	const run = await direct.run({ resource: 'job', operation: 'get', params: { generationId: id }, items: items(1) });
	assert.equal(run.output[0].json.id, id);
	const video = await direct.run({ resource: 'video', operation: 'createFromText', params: { prompt: 'x', completion: 'none' }, items: items(1) });
	const got = await direct.run({ resource: 'video', operation: 'get', params: { generationId: video.output[0].json.id }, items: items(1) });
	assert.equal(got.output[0].json.id, video.output[0].json.id);
	const { params: batchParams } = caseOf('batch.create');
	const batch = await direct.run({ resource: 'batch', operation: 'create', params: { ...batchParams, completion: 'none' }, items: items(1) });
	const gotBatch = await direct.run({ resource: 'batch', operation: 'get', params: { batchId: batch.output[0].json.batch_id }, items: items(1) });
	assert.equal(gotBatch.output[0].json.batch_id, batch.output[0].json.batch_id);
});

test('images answer at once, and Download Result puts every image into binary data', async () => {
	const run = await direct.run({
		resource: 'image',
		operation: 'generate',
		params: { prompt: 'A mug', additionalFields: { n: 2, size: '1024x1024' }, options: { download: true } },
		items: items(1),
	});
	assert.equal(run.status, 'success', run.error?.message);
	assert.equal(run.output[0].json.data.length, 2);
	assert.deepEqual(Object.keys(run.output[0].binary).sort(), ['data', 'data_1']);
	assert.equal(run.output[0].binary.data.mimeType, 'image/png');
});

test('image edit uploads the input binary as multipart', async () => {
	const generated = await direct.run({ resource: 'image', operation: 'generate', params: { prompt: 'source', options: { download: true } }, items: items(1) });
	const source = generated.output[0].binary.data;
	const run = await direct.run({
		resource: 'image',
		operation: 'edit',
		params: { prompt: 'Clean white background', model: 'seedream-v4.5-edit', imageBinaryPropertyName: 'data' },
		items: [{ json: {}, binary: { data: { base64: source.data, filename: 'product.png', content_type: 'image/png' } } }],
	});
	assert.equal(run.status, 'success', run.error?.message);
	assert.match(run.output[0].json.data[0].url, /\.png$/);
});

test('model list: one item per model, and the Model fields load the live list by type', async () => {
	const run = await direct.run({ resource: 'model', operation: 'list', params: {}, items: items(1) });
	assert.ok(run.output.length > 3);
	assert.ok(run.output.every((item) => item.json.id && item.pairedItem.item === 0));
	const video = await direct.loadOptions('getVideoModels');
	assert.ok(video.some((o) => o.value === 'auto'));
	const types = new Set(run.output.filter((i) => video.some((o) => o.value === i.json.id)).map((i) => i.json.type));
	assert.deepEqual([...types], ['video']);
	const edits = await direct.loadOptions('getImageEditModels');
	assert.ok(edits.some((o) => o.value === 'seedream-v4.5-edit'));
	const all = await direct.loadOptions('getModels');
	assert.equal(all.length, run.output.length);
});

test('price: a quote for a generation', async () => {
	const run = await direct.run({
		resource: 'price',
		operation: 'calculate',
		params: { model: 'kling-o3-pro', additionalFields: { duration: 10, resolution: '1080p' } },
		items: items(1),
	});
	assert.equal(run.status, 'success', run.error?.message);
	assert.ok(run.output[0].json.credits > 0);
});

test('25 video items go out as two batch calls and come back one per item, in order, polled', async () => {
	const before = (await sandboxGet('/_sandbox/batches')).batches.length;
	const run = await direct.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: '={{ "Product " + $json.n }}', additionalFields: { duration: 3 }, completion: 'poll', ...FAST },
		items: items(25),
	});
	assert.equal(run.status, 'success', run.error?.message);
	assert.equal(run.output.length, 25);
	run.output.forEach((item, i) => {
		assert.equal(item.pairedItem.item, i);
		assert.equal(item.json.prompt, `Product ${i}`);
		assert.equal(item.json.status, 'completed');
		assert.ok(item.json.batch_id);
	});
	const batches = new Set(run.output.map((item) => item.json.batch_id));
	assert.equal(batches.size, 2);
	const after = (await sandboxGet('/_sandbox/batches')).batches.length;
	assert.equal(after - before, 2);
});

test('25 video items resumed once by the relay join, one result per item', async () => {
	const run = await relayed.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: '={{ "Clip " + $json.n }}', additionalFields: { duration: 3 }, completion: 'webhook', timeout: 120 },
		items: items(25),
	});
	assert.equal(run.status, 'waiting', run.error?.message);
	const done = await relayed.resumed(run, 30000);
	assert.equal(done.status, 'success', done.error?.message);
	assert.equal(done.output.length, 25);
	done.output.forEach((item, i) => {
		assert.equal(item.pairedItem.item, i);
		assert.equal(item.json.prompt, `Clip ${i}`);
		assert.equal(item.json.status, 'completed');
	});
});

test('several voice items run in parallel and resume once straight from the API', async () => {
	const run = await direct.run({
		resource: 'voice',
		operation: 'create',
		params: { text: '={{ "Line " + $json.n }}', completion: 'webhook', timeout: 60, options: { parallel: 3 } },
		items: items(4),
	});
	assert.equal(run.status, 'waiting', run.error?.message);
	const done = await direct.resumed(run);
	assert.equal(done.status, 'success', done.error?.message);
	assert.deepEqual(
		done.output.map((item) => item.pairedItem.item),
		[0, 1, 2, 3],
	);
	assert.ok(done.output.every((item) => /^completed$/i.test(item.json.status)), JSON.stringify(done.output));
});

test('a job that fails: an error naming the job, or an error item with Continue On Fail', async () => {
	const params = { text: 'Oops [sandbox:fail]', completion: 'poll', ...FAST };
	const failed = await direct.run({ resource: 'voice', operation: 'create', params, items: items(1) });
	assert.equal(failed.status, 'error');
	assert.match(failed.error.message, /CreativeAI job voice_\w+ failed/);
	const kept = await direct.run({ resource: 'voice', operation: 'create', params, items: items(1), continueOnFail: true });
	assert.equal(kept.status, 'success');
	assert.match(kept.output[0].json.error, /failed/);
	assert.equal(kept.output[0].pairedItem.item, 0);
});

test('Continue On Fail keeps going per item: bad items become error items, good ones run', async () => {
	const run = await direct.run({
		resource: 'voice',
		operation: 'create',
		params: { text: '={{ $json.text }}', completion: 'none' },
		items: [{ json: { text: 'fine' } }, { json: { text: 'x'.repeat(5001) } }, { json: { text: 'also fine' } }],
		continueOnFail: true,
	});
	assert.equal(run.status, 'success');
	assert.equal(run.output.length, 3);
	assert.ok(run.output[0].json.id);
	assert.match(run.output[1].json.error, /Text: a text of 5001 characters is not allowed; expected text of 1 to 5,000 characters/);
	assert.ok(run.output[2].json.id);
	assert.deepEqual(run.output.map((i) => i.pairedItem.item), [0, 1, 2]);
});

test('invalid input names the field, the value and what is allowed, before anything is sent', async () => {
	const jobs = (await sandboxGet('/_sandbox/jobs')).jobs.length;
	const run = await direct.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: 'ok', additionalFields: { duration: 99 }, completion: 'none' },
		items: items(2),
	});
	assert.equal(run.status, 'error');
	assert.match(run.error.message, /Duration \(Seconds\): 99 is not allowed; expected a whole number from 3 to 15/);
	assert.equal((await sandboxGet('/_sandbox/jobs')).jobs.length, jobs);
});

test('API errors carry the API message and field; 429 says how long to wait; the key never shows', async () => {
	const refused = await direct.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: 'bad [sandbox:content_policy]', completion: 'none' },
		items: items(1),
	});
	assert.equal(refused.status, 'error');
	assert.equal(refused.error.name, 'NodeApiError');
	assert.match(refused.error.message, /field: prompt/);
	assert.equal(refused.error.httpCode, '400');
	const limited = await direct.run({ resource: 'voice', operation: 'create', params: { text: 'slow down [sandbox:rate_limit]', completion: 'none' }, items: items(1) });
	assert.equal(limited.status, 'error');
	assert.match(limited.error.description, /wait 1 s/);
	assert.equal(limited.error.httpCode, '429');
	for (const error of [refused.error, limited.error]) {
		assert.ok(!JSON.stringify(error).includes(KEY), 'the API key is not in the error');
	}
	const wrongKey = await start({ credentials: { apiKey: 'sk-wrong-key-123', baseUrl: SANDBOX, relayUrl: '' } });
	try {
		const denied = await wrongKey.run({ resource: 'model', operation: 'list', params: {}, items: items(1) });
		assert.equal(denied.error.httpCode, '401');
		assert.ok(!JSON.stringify(denied.error).includes('sk-wrong-key-123'));
	} finally {
		await wrongKey.stop();
	}
});

test('Poll gives up at the timeout with an error naming the job id', async () => {
	// A batch of 20 whose jobs start 2 sandbox seconds apart: far from done after 0.1 s.
	const prompts = { values: Array.from({ length: 20 }, (_, n) => ({ prompt: `slow ${n}` })) };
	const run = await direct.run({
		resource: 'batch',
		operation: 'create',
		params: { prompts, completion: 'poll', pollInterval: 0.05, timeout: 0.1 },
		items: items(1),
	});
	assert.equal(run.status, 'error');
	assert.match(run.error.message, /CreativeAI job \w+ did not finish within 0.1 s \(last status: /);
	assert.match(run.error.description, /look it up later with "Get Video Batch"/);
});

test("n8n's own wait limit passes each unfinished item on with an error naming its job", async () => {
	await fault({ action: 'webhook_drop', count: 3 });
	const run = await direct.run({
		resource: 'voice',
		operation: 'create',
		params: { text: 'nobody calls back', completion: 'webhook', timeout: 60 },
		items: items(1),
	});
	assert.equal(run.status, 'waiting');
	const jobId = run.output[0].json.id;
	const expired = await direct.expire(run);
	assert.equal(expired.status, 'success');
	assert.equal(expired.output.length, 1);
	assert.match(expired.output[0].json.error, new RegExp(`CreativeAI job ${jobId} did not finish before`));
});

async function fault(spec) {
	const answer = await fetch(`${SANDBOX}/_sandbox/faults`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(spec),
	});
	assert.ok(answer.ok, await answer.text());
}

test('the relay deadline ends a parked run with an error naming the missing job', async () => {
	await fault({ action: 'webhook_drop', count: 3, url: `${RELAY}/*` });
	const run = await relayed.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: 'never ends', additionalFields: { duration: 3 }, completion: 'webhook', timeout: 1 },
		items: items(1),
	});
	assert.equal(run.status, 'waiting');
	const jobId = run.output[0].json.id;
	const done = await relayed.resumed(run, 20000);
	assert.equal(done.status, 'error');
	assert.match(done.error.message, new RegExp(`CreativeAI job ${jobId} did not finish before the deadline`));
	// The wait gave up, the job stays: the error names the step that fetches it later.
	assert.match(done.error.description, new RegExp(`look it up later with "Get Video" and ID ${jobId}`));
});

test('a forged resume is refused and leaves the run parked', async () => {
	await fault({ action: 'webhook_delay', seconds: 100 });
	const run = await direct.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: 'wait for me', completion: 'webhook', timeout: 60 },
		items: items(1),
	});
	const resumeUrl = `${direct.base}/webhook-waiting/${run.executionId}?signature=${run.data.resumeToken}`;
	const body = JSON.stringify({ id: run.output[0].json.id, object: 'video.generation', status: 'completed', output_url: 'https://evil.example/x.mp4' });
	const forged = await fetch(resumeUrl, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'x-creativeai-signature': 'sha256=' + '0'.repeat(64) },
		body,
	});
	assert.equal(forged.status, 401);
	const done = await direct.resumed(run);
	assert.equal(done.status, 'success');
	assert.notEqual(done.output[0].json.output_url, 'https://evil.example/x.mp4');
});

test('a batch the API refuses for one entry: that item gets the error, the others run, paired', async () => {
	const before = (await sandboxGet('/_sandbox/batches')).batches.length;
	const prompts = ['A calm lake', 'Flagged [sandbox:content_policy]', 'A busy street', 'A red kite'];
	const run = await direct.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: '={{ $json.prompt }}', additionalFields: { duration: 3 }, completion: 'poll', ...FAST },
		items: prompts.map((prompt) => ({ json: { prompt } })),
		continueOnFail: true,
	});
	assert.equal(run.status, 'success', run.error?.message);
	assert.deepEqual(run.output.map((i) => i.pairedItem.item), [0, 1, 2, 3]);
	assert.match(run.output[1].json.error, /content policy|usage policy/i);
	assert.match(run.output[1].json.error, /field: prompt\)/);
	for (const n of [0, 2, 3]) {
		assert.equal(run.output[n].json.status, 'completed', JSON.stringify(run.output[n].json));
		assert.equal(run.output[n].json.prompt, prompts[n]);
	}
	assert.equal((await sandboxGet('/_sandbox/batches')).batches.length - before, 1, 'one batch ran, without the refused entry');
});

test('a refused batch entry stops the run, naming its item, when the node stops on errors', async () => {
	const run = await direct.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: '={{ $json.prompt }}', completion: 'none' },
		items: [{ json: { prompt: 'fine' } }, { json: { prompt: 'bad [sandbox:content_policy]' } }],
	});
	assert.equal(run.status, 'error');
	assert.equal(run.error.context?.itemIndex ?? run.error.itemIndex, 1);
	assert.match(run.error.message, /field: prompt\)/);
});
