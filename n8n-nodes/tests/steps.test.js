// Hand-written: "Max Credits" and "Record Key" on every paid create, through n8n's engine
// against the sandbox; what a finished step was charged; what a wait that gives up leaves.
// Run by tests/test_n8n_package.py (it starts the sandbox and sets the env). What the sandbox
// saw (its jobs and batches) says whether anything was started or paid.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { start, paramsFromWire, catalog } = require('./harness');

const SANDBOX = process.env.SANDBOX_URL;
const KEY = process.env.SANDBOX_KEY;
const FAST = { pollInterval: 0.05, timeout: 30 };
const CASES = JSON.parse(fs.readFileSync(process.env.OPERATION_CASES, 'utf8')).cases;
const DAY_MS = 24 * 60 * 60 * 1000;

let h;
before(async () => {
	h = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: '' } });
});
after(async () => {
	await h.stop();
});

const CAPPED = Object.keys(catalog.OPERATIONS).filter((name) => catalog.OPERATIONS[name].capped);

function fill(template, values) {
	return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

async function control(path, init) {
	const answer = await fetch(`${SANDBOX}/_sandbox${path}`, init);
	assert.ok(answer.ok, await answer.clone().text());
	return await answer.json();
}

/** Every create the sandbox took: its jobs (a batch's videos included) and batches, and
 * the credits it charged (an image is answered at once and kept in no job list). */
async function started() {
	return (await listed()) + (await spent());
}

async function listed() {
	const jobs = (await control('/jobs')).jobs.length;
	const batches = (await control('/batches')).batches.length;
	return jobs + batches;
}

async function spent() {
	const [key] = (await control('/keys')).keys;
	return -key.credits;
}

async function fault(spec) {
	await control('/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
}

/** The sandbox's price for a create's own body (what the node asks before the create). */
async function quote(body, name) {
	body = { ...(catalog.OPERATIONS[name]?.priceDefaults ?? {}), ...body };
	const answer = await fetch(`${SANDBOX}${catalog.STEPS.pricePath}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
		body: JSON.stringify(body),
	});
	assert.equal(answer.status, 200, await answer.clone().text());
	return (await answer.json()).credits;
}

function items(n, make = (i) => ({ n: i })) {
	return Array.from({ length: n }, (_, i) => ({ json: make(i) }));
}

/** The first case of tests/cases/operations.json for an operation, with sandbox media. */
let media;
async function caseOf(name) {
	const spec = catalog.OPERATIONS[name];
	const found = CASES.find((c) => c.operation === spec.key);
	assert.ok(found, `no case for ${spec.key}`);
	const [resource, operation] = name.split('.');
	if (!media) {
		const video = await h.run({ resource: 'video', operation: 'createFromText', params: { prompt: 'media', completion: 'poll', ...FAST }, items: items(1) });
		const voice = await h.run({ resource: 'voice', operation: 'create', params: { text: 'Media.', completion: 'poll', ...FAST }, items: items(1) });
		media = { '.mp4': video.output[0].json.output_url, '.mp3': voice.output[0].json.output_url };
	}
	const swap = (value) => {
		if (typeof value !== 'string' || !/^https?:/.test(value)) return value;
		const ext = Object.keys(media).find((e) => new URL(value).pathname.endsWith(e));
		return ext ? media[ext] : value;
	};
	const input = Object.fromEntries(Object.entries(found.input).map(([k, v]) => [k, swap(v)]));
	const { params, binary } = paramsFromWire(resource, operation, input);
	const fileWires = spec.fields.filter((f) => f.kind === 'file').map((f) => f.wire);
	const priced = Object.fromEntries(Object.entries(input).filter(([k]) => !fileWires.includes(k)));
	const input_items = Object.keys(binary).length ? [{ json: {}, binary }] : items(1);
	return { resource, operation, spec, params, priced, items: input_items };
}

function withOptions(params, options) {
	return { ...params, options: { ...(params.options ?? {}), ...options } };
}

test('every paid create offers Max Credits and Record Key; nothing else does', () => {
	const capped = new Set(['video.create_from_text', 'video.create_from_image', 'batch.create', 'voice.create', 'compose.create', 'image.generate', 'image.edit', 'chart.create']);
	assert.deepEqual(new Set(CAPPED.map((n) => catalog.OPERATIONS[n].key)), capped);
	const { CreativeAi } = require(require('node:path').join(process.env.N8N_NODES_DIST, 'nodes/CreativeAi/CreativeAi.node.js'));
	const props = new CreativeAi().description.properties;
	for (const name of Object.keys(catalog.OPERATIONS)) {
		const [resource, operation] = name.split('.');
		const options = props.find((p) => p.name === 'options' && p.displayOptions?.show?.resource?.[0] === resource && p.displayOptions?.show?.operation?.[0] === operation);
		const names = (options?.options ?? []).map((o) => o.name);
		const paid = catalog.OPERATIONS[name].capped === true;
		assert.equal(names.includes('maxCredits'), paid, name);
		assert.equal(names.includes('recordKey'), paid, name);
		if (!paid) continue;
		const cap = options.options.find((o) => o.name === 'maxCredits');
		const key = options.options.find((o) => o.name === 'recordKey');
		assert.equal(cap.displayName, 'Max Credits');
		assert.equal(cap.typeOptions.minValue, 1);
		assert.equal(key.displayName, 'Record Key');
		// n8n saves static data only for production runs: the help says so.
		assert.match(key.description, /only when a published workflow runs from its trigger or webhook/);
		assert.match(key.description, /manual test run does not remember its keys/);
	}
});

// -- Max Credits ----------------------------------------------------------------------------------

for (const name of CAPPED) {
	test(`${name}: a cap at the estimate starts the job; one under it starts nothing`, async () => {
		const { resource, operation, spec, params, priced, items: input } = await caseOf(name);
		const estimate = await quote(priced, name);
		assert.ok(estimate > 0, `${name}: the sandbox prices it`);
		const mode = spec.job ? { completion: 'none' } : {};

		const before = await started();
		const refused = await h.run({ resource, operation, params: withOptions({ ...params, ...mode }, { maxCredits: estimate - 1 }), items: input });
		assert.equal(refused.status, 'error');
		assert.equal(refused.error.message, fill(catalog.STEPS.overCap, { estimate, cap: estimate - 1 }));
		assert.match(refused.error.message, /^not started: this would cost about \d+ credits, the cap is \d+$/);
		assert.equal(await started(), before, 'nothing started');

		const run = await h.run({ resource, operation, params: withOptions({ ...params, ...mode }, { maxCredits: estimate }), items: input });
		assert.equal(run.status, 'success', run.error?.message);
		assert.ok((await started()) > before, 'the create went out');
		const out = run.output[0].json;
		const charged = out.credits_charged ?? out.credits;
		if (spec.job) assert.equal(charged, estimate, `charged what was quoted: ${JSON.stringify(out)}`);
	});
}

test('a batch call over the cap as a whole starts none of its videos; Continue On Fail names each item', async () => {
	const prompts = ['Cap one, slow orbit', 'Cap two, slow orbit'];
	const one = await quote({ prompt: prompts[0] }, 'video.createFromText');
	const total = await quote({ prompts: prompts.map((prompt) => ({ prompt })) }, 'batch.create');
	assert.equal(total, 2 * one);
	const before = await started();
	const run = await h.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: '={{ $json.prompt }}', completion: 'none', options: { maxCredits: one } },
		items: items(2, (i) => ({ prompt: prompts[i] })),
		continueOnFail: true,
	});
	assert.equal(run.status, 'success', run.error?.message);
	assert.deepEqual(run.output.map((o) => o.json.error), [0, 1].map(() => fill(catalog.STEPS.overCap, { estimate: total, cap: one })));
	assert.deepEqual(run.output.map((o) => o.pairedItem.item), [0, 1]);
	assert.equal(await started(), before, 'no batch, no video');
	const listedBefore = await listed();

	const paid = await h.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: '={{ $json.prompt }}', completion: 'poll', ...FAST, options: { maxCredits: total } },
		items: items(2, (i) => ({ prompt: prompts[i] })),
	});
	assert.equal(paid.status, 'success', paid.error?.message);
	assert.equal(await listed(), listedBefore + 3, 'one batch of two videos');
	assert.deepEqual(paid.output.map((o) => o.json.credits), [one, one]);
});

test('a request the API cannot price is not started, and says why', async () => {
	const before = await started();
	const run = await h.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: 'unpriceable', completion: 'none', additionalFields: { model: 'not-a-model' }, options: { maxCredits: 500 } },
		items: items(1),
	});
	assert.equal(run.status, 'error');
	assert.ok(run.error.message.startsWith('not started: the price of this request cannot be checked, so the cap of 500 credits'), run.error.message);
	assert.match(run.error.message, /not-a-model/);
	assert.equal(await started(), before);
});

test('without a cap no price is asked', async () => {
	await fault({ action: 'fail', status: 500, count: 1, operation: 'price.calculate' });
	const run = await h.run({ resource: 'voice', operation: 'create', params: { text: 'No cap.', completion: 'none' }, items: items(1) });
	assert.equal(run.status, 'success', run.error?.message);
	// The armed price fault is still there: this request takes it.
	const quoted = await fetch(`${SANDBOX}${catalog.STEPS.pricePath}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: '{"text":"x"}' });
	assert.equal(quoted.status, 500);
});

// -- what a finished step was charged ---------------------------------------------------------------

test('a finished step outputs what it was charged, and a failed one what was refunded', async () => {
	const batch = await h.run({
		resource: 'batch',
		operation: 'create',
		params: { prompts: { values: [{ prompt: 'Charged one' }, { prompt: 'Charged two' }] }, completion: 'poll', ...FAST },
		items: items(1),
	});
	assert.equal(batch.status, 'success', batch.error?.message);
	const total = await quote({ prompts: [{ prompt: 'Charged one' }, { prompt: 'Charged two' }] }, 'batch.create');
	assert.equal(batch.output[0].json.credits_charged, total, JSON.stringify(batch.output[0].json));

	const failed = await h.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: 'a failing clip [sandbox:fail]', completion: 'poll', ...FAST },
		items: items(1),
		continueOnFail: true,
	});
	const job = failed.output[0].json;
	assert.equal(job.state, 'failed');
	assert.ok(job.credits_refunded > 0 && job.credits === 0, JSON.stringify(job));
});

// -- Record Key -------------------------------------------------------------------------------------

async function creates(operation) {
	return (await control('/jobs')).jobs.filter((j) => j.operation === operation).length;
}

for (const name of CAPPED) {
	test(`${name}: the same Record Key twice starts one job and returns it both times`, async () => {
		const { resource, operation, spec, params, priced, items: input } = await caseOf(name);
		const staticData = {};
		const key = { recordKey: `SKU-${name}` };
		const mode = spec.job ? { completion: 'poll', ...FAST } : {};
		// Images are answered at once and listed nowhere: what the sandbox charged counts them.
		const price = spec.job ? 1 : await quote(priced, name);
		const count = async () =>
			spec.job?.kind === 'batch' ? (await control('/batches')).batches.length : spec.job ? await creates(spec.key) : (await spent()) / price;
		const before = await count();
		const first = await h.run({ resource, operation, params: withOptions({ ...params, ...mode }, key), items: input, staticData });
		assert.equal(first.status, 'success', first.error?.message);
		const second = await h.run({ resource, operation, params: withOptions({ ...params, ...mode }, key), items: input, staticData });
		assert.equal(second.status, 'success', second.error?.message);
		assert.equal(await count(), before + 1, 'one paid create for the two runs');
		const [a, b] = [first.output[0].json, second.output[0].json];
		const id = (job) => job.batch_id ?? job.id ?? job.data?.[0]?.url;
		assert.equal(id(b), id(a));
		assert.deepEqual(Object.keys(b), Object.keys(a), 'the same shape as a fresh result');
		for (const k of catalog.OUTPUTS[spec.output].keys) assert.ok(k in b, k);
		if (spec.job) assert.equal(b.state, 'completed');
		const other = await h.run({ resource, operation, params: withOptions({ ...params, ...mode }, { recordKey: 'another row' }), items: input, staticData });
		assert.equal(other.status, 'success', other.error?.message);
		assert.equal(await count(), before + 2, 'another key starts its own job');
	});
}

test('a job that failed lets its Record Key start again', async () => {
	const staticData = {};
	const params = { prompt: 'the key retries [sandbox:fail]', completion: 'poll', ...FAST, options: { recordKey: 'SKU-FAIL' } };
	const before = await creates('video.create_from_text');
	const first = await h.run({ resource: 'video', operation: 'createFromText', params, items: items(1), staticData, continueOnFail: true });
	assert.equal(first.output[0].json.state, 'failed');
	const second = await h.run({ resource: 'video', operation: 'createFromText', params, items: items(1), staticData, continueOnFail: true });
	assert.equal(await creates('video.create_from_text'), before + 2, 'the failed job did not block a new attempt');
	assert.notEqual(second.output[0].json.id, first.output[0].json.id);
});

test('a Record Key of a job still running returns that job and waits for it', async () => {
	const staticData = {};
	const params = { prompt: 'started, not waited for', additionalFields: { duration: 3 }, options: { recordKey: 'SKU-RUNNING' } };
	const before = await creates('video.create_from_text');
	const accepted = await h.run({ resource: 'video', operation: 'createFromText', params: { ...params, completion: 'none' }, items: items(1), staticData });
	const waited = await h.run({ resource: 'video', operation: 'createFromText', params: { ...params, completion: 'poll', ...FAST }, items: items(1), staticData });
	assert.equal(waited.status, 'success', waited.error?.message);
	assert.equal(waited.output[0].json.id, accepted.output[0].json.id);
	assert.equal(waited.output[0].json.state, 'completed');
	const resumed = await h.run({ resource: 'video', operation: 'createFromText', params: { ...params, completion: 'webhook', timeout: 30 }, items: items(1), staticData });
	assert.equal(resumed.status, 'success', 'nothing to park: the job is the one the key started');
	assert.equal(resumed.output[0].json.id, accepted.output[0].json.id);
	assert.equal(await creates('video.create_from_text'), before + 1);
});

test('a Record Key is forgotten once the job output expired (7 days), and a job gone from the API starts anew', async () => {
	const staticData = {};
	const params = { text: 'Kept a week.', completion: 'none', options: { recordKey: 'SKU-OLD' } };
	const before = await creates('voice.create');
	await h.run({ resource: 'voice', operation: 'create', params, items: items(1), staticData });
	const ledger = staticData['node:CreativeAI'].ledger['voice.create'];
	assert.equal(catalog.STEPS.ledgerDays, 7);
	ledger['SKU-OLD'].at -= catalog.STEPS.ledgerDays * DAY_MS + 1000;
	staticData['node:CreativeAI'].ledger = { 'voice.create': { ...ledger } };
	await h.run({ resource: 'voice', operation: 'create', params, items: items(1), staticData });
	assert.equal(await creates('voice.create'), before + 2, 'an expired key starts a new job');
	// A key pointing at a job the API does not know (404): a new job.
	staticData['node:CreativeAI'].ledger = { 'voice.create': { 'SKU-OLD': { job: 'gen_unknown', at: Date.now() } } };
	const run = await h.run({ resource: 'voice', operation: 'create', params, items: items(1), staticData });
	assert.equal(run.status, 'success', run.error?.message);
	assert.equal(await creates('voice.create'), before + 3);
	assert.notEqual(staticData['node:CreativeAI'].ledger['voice.create']['SKU-OLD'].job, 'gen_unknown');
});

// -- every wait that gives up keeps the job -----------------------------------------------------------

test('Poll: a status check that keeps failing ends naming the job and the step that fetches it', async () => {
	const run = await h.run({
		resource: 'voice',
		operation: 'create',
		params: { text: 'The line goes dead.', completion: 'poll', ...FAST },
		items: items(1),
		continueOnFail: false,
	});
	assert.equal(run.status, 'success', run.error?.message);
	await fault({ action: 'reset', when: 'before', operation: 'job.get', count: 3 });
	const started_ = await h.run({ resource: 'voice', operation: 'create', params: { text: 'Dropped while polling.', completion: 'poll', pollInterval: 0.05, timeout: 30 }, items: items(1) });
	assert.equal(started_.status, 'error');
	const [newest] = (await control('/jobs?operation=voice.create')).jobs.slice(-1);
	assert.match(started_.error.message, new RegExp(`CreativeAI job ${newest.id}: its status could not be read`));
	assert.match(started_.error.description, new RegExp(`look it up later with "Get Job" and ID ${newest.id}`));
});

test('Poll: a batch of video items that is not done in time names the batch and "Get Video Batch"', async () => {
	const run = await h.run({
		resource: 'video',
		operation: 'createFromText',
		params: { prompt: '={{ $json.prompt }}', completion: 'poll', pollInterval: 0.05, timeout: 0.1 },
		items: items(20, (i) => ({ prompt: `slow item ${i}` })),
	});
	assert.equal(run.status, 'error');
	const [batch] = (await control('/batches')).batches.slice(-1);
	assert.match(run.error.message, new RegExp(`CreativeAI job ${batch.batch_id} did not finish within 0.1 s`));
	assert.match(run.error.description, new RegExp(`look it up later with "Get Video Batch" and ID ${batch.batch_id}`));
});

test("Resume by Webhook: n8n's own wait limit names each job and the step that fetches it", async () => {
	await fault({ action: 'webhook_drop', count: 3 });
	const run = await h.run({ resource: 'voice', operation: 'create', params: { text: 'nobody calls back', completion: 'webhook', timeout: 60 }, items: items(1) });
	assert.equal(run.status, 'waiting');
	const jobId = run.output[0].json.id;
	const expired = await h.expire(run);
	assert.match(expired.output[0].json.error, new RegExp(`CreativeAI job ${jobId} did not finish before .*look it up later with "Get Job" and ID ${jobId}`));
});

test('video items sent as one batch call: each Record Key keeps its own video, a second run starts no batch', async () => {
	const staticData = {};
	const rows = [
		{ sku: 'ROW-A', prompt: 'Row A turntable' },
		{ sku: 'ROW-B', prompt: 'Row B turntable' },
	];
	const params = { prompt: '={{ $json.prompt }}', completion: 'poll', ...FAST, options: { recordKey: '={{ $json.sku }}' } };
	const batchesBefore = (await control('/batches')).batches.length;
	const videosBefore = await creates('video.create_from_text');
	const first = await h.run({ resource: 'video', operation: 'createFromText', params, items: items(2, (i) => rows[i]), staticData });
	assert.equal(first.status, 'success', first.error?.message);
	assert.equal((await control('/batches')).batches.length, batchesBefore + 1, 'the two items went out as one batch');
	const second = await h.run({ resource: 'video', operation: 'createFromText', params, items: items(2, (i) => rows[i]), staticData });
	assert.equal(second.status, 'success', second.error?.message);
	assert.equal((await control('/batches')).batches.length, batchesBefore + 1, 'no second batch');
	assert.equal(await creates('video.create_from_text'), videosBefore, 'no single video either');
	assert.deepEqual(second.output.map((o) => o.json.id), first.output.map((o) => o.json.id));
	assert.deepEqual(second.output.map((o) => o.json.prompt), rows.map((r) => r.prompt));
	assert.deepEqual(second.output.map((o) => o.pairedItem.item), [0, 1]);
});

test("a key's job that cannot be fetched back stops the item, naming the job; nothing is started", async () => {
	const staticData = {};
	const params = { text: 'Fetched back later.', completion: 'none', options: { recordKey: 'SKU-UNREACHABLE' } };
	const first = await h.run({ resource: 'voice', operation: 'create', params, items: items(1), staticData });
	const job = first.output[0].json.id;
	const before = await creates('voice.create');
	await fault({ action: 'fail', status: 503, count: 3, operation: 'job.get' });
	const run = await h.run({ resource: 'voice', operation: 'create', params, items: items(1), staticData });
	assert.equal(run.status, 'error');
	assert.equal(
		run.error.message.split(' (')[0],
		`not started: this Record key already started job ${job}, which cannot be fetched back`,
	);
	assert.equal(await creates('voice.create'), before, 'no second job');
});

test('a Record Key that is not allowed is refused before anything is sent, naming the rule', async () => {
	const before = await started();
	const run = await h.run({ resource: 'voice', operation: 'create', params: { text: 'Bad key.', completion: 'none', options: { recordKey: 'a\u0001b' } }, items: items(1) });
	assert.equal(run.status, 'error');
	assert.match(run.error.message, /^Record Key "a\u0001b" is not allowed$/);
	assert.equal(run.error.description, `Record Key: ${catalog.STEPS.keyRule}.`);
	assert.equal(await started(), before);
});

// -- with a Relay URL: the relay's ledger -----------------------------------------------------------

const RELAY = process.env.RELAY_URL;

async function relayEntry(operation, key) {
	const answer = await fetch(`${RELAY}${catalog.STEPS.ledgerPath}/${operation}/${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${KEY}` } });
	return answer.status === 404 ? undefined : await answer.json();
}

test('with a relay, the same Record Key twice starts one job, in manual runs too (no static data kept)', async () => {
	const relayed = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: RELAY } });
	try {
		const key = `SKU/relay ${Date.now()}`; // a slash and a space: the key is encoded whole
		const params = { text: 'Kept by the relay.', completion: 'poll', ...FAST, options: { recordKey: key } };
		const before = await creates('voice.create');
		const first = await relayed.run({ resource: 'voice', operation: 'create', params, items: items(1), staticData: {} });
		assert.equal(first.status, 'success', first.error?.message);
		const entry = await relayEntry('voice.create', key);
		assert.equal(entry.job_id, first.output[0].json.id);
		assert.equal(entry.key, key);
		const second = await relayed.run({ resource: 'voice', operation: 'create', params, items: items(1), staticData: {} });
		assert.equal(second.status, 'success', second.error?.message);
		assert.equal(second.output[0].json.id, first.output[0].json.id);
		assert.equal(await creates('voice.create'), before + 1, 'one paid create for the two runs');

		// An image answer is kept whole: the second run asks the API nothing.
		const imageKey = `IMG-${Date.now()}`;
		const image = { prompt: 'Kept image', options: { recordKey: imageKey } };
		const spentBefore = await spent();
		const a = await relayed.run({ resource: 'image', operation: 'generate', params: image, items: items(1), staticData: {} });
		const b = await relayed.run({ resource: 'image', operation: 'generate', params: image, items: items(1), staticData: {} });
		assert.equal(b.status, 'success', b.error?.message);
		assert.deepEqual(b.output[0].json, a.output[0].json);
		assert.equal(await spent(), spentBefore + (await quote({ prompt: 'Kept image' }, 'image.generate')), 'charged once');
		assert.deepEqual((await relayEntry('image.generate', imageKey)).result.data, a.output[0].json.data);

		// A failed job lets the key start again.
		const failKey = `FAIL-${Date.now()}`;
		const failing = { text: 'Relay fail [sandbox:fail]', completion: 'poll', ...FAST, options: { recordKey: failKey } };
		const voicesBefore = await creates('voice.create');
		await relayed.run({ resource: 'voice', operation: 'create', params: failing, items: items(1), staticData: {}, continueOnFail: true });
		const again = await relayed.run({ resource: 'voice', operation: 'create', params: failing, items: items(1), staticData: {}, continueOnFail: true });
		assert.equal(await creates('voice.create'), voicesBefore + 2);
		assert.equal((await relayEntry('voice.create', failKey)).job_id, again.output[0].json.id);
	} finally {
		await relayed.stop();
	}
});

test('with a relay that does not answer, a Record Key starts nothing and says why', async () => {
	const dead = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: 'http://127.0.0.1:9' } });
	try {
		const before = await started();
		const run = await dead.run({ resource: 'voice', operation: 'create', params: { text: 'No ledger.', completion: 'none', options: { recordKey: 'SKU-NO-RELAY' } }, items: items(1) });
		assert.equal(run.status, 'error');
		assert.ok(run.error.message.startsWith("not started: the relay's ledger could not be asked about this Record key ("), run.error.message);
		assert.equal(await started(), before);
	} finally {
		await dead.stop();
	}
});

test('two items of one run with the same Record Key share one job, each paired with its input', async () => {
	const before = await creates('voice.create');
	const rows = [{ sku: 'DUP-1', text: 'Said once.' }, { sku: 'DUP-2', text: 'Said twice.' }, { sku: 'DUP-1', text: 'Said once.' }];
	for (const completion of ['poll', 'webhook']) {
		const staticData = {};
		const run = await h.run({
			resource: 'voice',
			operation: 'create',
			params: { text: '={{ $json.text }}', completion, ...FAST, options: { recordKey: `={{ $json.sku }}-${completion}` } },
			items: items(3, (i) => rows[i]),
			staticData,
		});
		const done = completion === 'webhook' ? await h.resumed(run) : run;
		assert.equal(done.status, 'success', done.error?.message);
		const ids = done.output.map((o) => o.json.id);
		assert.equal(ids[0], ids[2]);
		assert.notEqual(ids[0], ids[1]);
		assert.deepEqual(done.output.map((o) => o.pairedItem.item), [0, 1, 2]);
		assert.ok(done.output.every((o) => o.json.state === 'completed'));
	}
	assert.equal(await creates('voice.create'), before + 4, 'two jobs per run, not three');
});
