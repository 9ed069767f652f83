// Hand-written: Download Result streams the finished file into n8n's binary data store
// (filesystem mode, n8n's default) without holding it in memory, and a file over the
// node's Max File Size stays at its URL with a message naming the limit and the size.
// Run by tests/test_n8n_package.py: the sandbox's output URLs point at BIG_FILES_URL, a
// local server standing for the CDN that answers every file with BIG_FILE_BYTES bytes.
'use strict';

const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');

// As n8n runs by default: binary data on disk. Set before n8n-core reads its config.
const STORE = fs.mkdtempSync(path.join(os.tmpdir(), 'creativeai-binary-'));
process.env.N8N_DEFAULT_BINARY_DATA_MODE = 'filesystem';
process.env.N8N_BINARY_DATA_STORAGE_PATH = STORE;

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { BinaryDataService } = require('n8n-core');
// n8n-core's own copy of the container (it may ship one beside the top-level one).
const { Container } = require(require.resolve('@n8n/di', { paths: [require.resolve('n8n-core')] }));
const { start, catalog } = require('./harness');

const SANDBOX = process.env.SANDBOX_URL;
const KEY = process.env.SANDBOX_KEY;
const SIZE = Number(process.env.BIG_FILE_BYTES);
const FAST = { pollInterval: 0.05, timeout: 30 };

let h;
before(async () => {
	await Container.get(BinaryDataService).init();
	h = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: '' } });
});
after(async () => {
	await h.stop();
	fs.rmSync(STORE, { recursive: true, force: true });
});

function filesUnder(dir) {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

async function bigFilesServed() {
	return (await (await fetch(`${process.env.BIG_FILES_URL}/_served`)).json()).full;
}

test(`a ${Math.round(SIZE / 1e6)} MB result streams into binary data on disk, the node's memory not growing by its size`, async () => {
	global.gc?.();
	const baseline = process.memoryUsage().rss;
	let peak = baseline;
	const sampler = setInterval(() => {
		peak = Math.max(peak, process.memoryUsage().rss);
	}, 5);
	let run;
	try {
		run = await h.run({
			resource: 'voice',
			operation: 'create',
			params: { text: 'A very long narration.', completion: 'poll', ...FAST, options: { download: true } },
			items: [{ json: {} }],
		});
	} finally {
		clearInterval(sampler);
	}
	assert.equal(run.status, 'success', run.error?.message);
	const file = run.output[0].binary.data;
	assert.equal(file.bytes, SIZE, JSON.stringify(file));
	// Stored by reference (an id in the filesystem store), not as base64 in the item.
	assert.match(String(file.id), /^filesystem(-v2)?:/);
	assert.equal(file.data, 'filesystem-v2');
	const stored = filesUnder(STORE).map((f) => fs.statSync(f).size);
	assert.ok(stored.includes(SIZE), `a ${SIZE}-byte file in the store: ${stored}`);
	const grew = peak - baseline;
	assert.ok(grew < SIZE / 2, `RSS grew by ${Math.round(grew / 1e6)} MB while downloading ${Math.round(SIZE / 1e6)} MB`);
	console.log(`# RSS grew by ${Math.round(grew / 1e6)} MB downloading ${Math.round(SIZE / 1e6)} MB`);
	assert.equal(run.output[0].json.file_message, undefined);
});

test('a file over Max File Size stays at its URL, the item naming the limit and the size', async () => {
	const before_ = await bigFilesServed();
	const run = await h.run({
		resource: 'voice',
		operation: 'create',
		params: { text: 'Too long to keep.', completion: 'poll', ...FAST, options: { download: true, maxFileSize: 50 } },
		items: [{ json: {} }],
	});
	assert.equal(run.status, 'success', run.error?.message);
	const item = run.output[0];
	assert.equal(item.binary, undefined, 'nothing put into binary data');
	assert.ok(item.json.output_url.startsWith(process.env.BIG_FILES_URL), item.json.output_url);
	assert.equal(item.json.state, 'completed');
	const size = String(Math.round(SIZE / 1e5) / 10);
	assert.equal(item.json.file_message, catalog.STEPS.fileOverLimit.replace('{size}', size).replace('{max}', '50'));
	assert.match(item.json.file_message, new RegExp(`^The file is ${size} MB, over n8n's download limit of 50 MB: use its URL`));
	assert.equal(await bigFilesServed(), before_, 'the file was not downloaded');
});

test('a file within Max File Size is downloaded as usual', async () => {
	const run = await h.run({
		resource: 'voice',
		operation: 'create',
		params: { text: 'Kept.', completion: 'poll', ...FAST, options: { download: true, maxFileSize: Math.ceil(SIZE / 1e6) + 1 } },
		items: [{ json: {} }],
	});
	assert.equal(run.status, 'success', run.error?.message);
	assert.equal(run.output[0].binary.data.bytes, SIZE);
	assert.equal(run.output[0].json.file_message, undefined);
});
