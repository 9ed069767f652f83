// Hand-written: the CreativeAI Trigger through n8n's engine (HookContext for activation,
// WebhookContext for deliveries), with completions coming from the sandbox, straight or
// through the relay.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { start } = require('./harness');

const SANDBOX = process.env.SANDBOX_URL;
const RELAY = process.env.RELAY_URL;
const KEY = process.env.SANDBOX_KEY;

let direct;
let relayed;

before(async () => {
	direct = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: '' } });
	relayed = await start({ credentials: { apiKey: KEY, baseUrl: SANDBOX, relayUrl: RELAY } });
});

after(async () => {
	await direct.stop();
	await relayed.stop();
});

async function call(base, method, path, body) {
	const answer = await fetch(`${base}${path}`, {
		method,
		headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await answer.text();
	return { status: answer.status, body: text ? JSON.parse(text) : undefined };
}

async function until(check, what, ms = 10000) {
	const end = Date.now() + ms;
	while (Date.now() < end) {
		if (await check()) return;
		await new Promise((r) => setTimeout(r, 25));
	}
	assert.fail(`timed out waiting for ${what}`);
}

test('with a relay: subscribes on activation, fires on a forwarded event, unsubscribes', async () => {
	const trigger = await relayed.trigger({ events: ['video.generation.completed'] });
	await trigger.activate();
	const { subscriptionId, sealedSecret } = trigger.staticData().node ?? Object.values(trigger.staticData())[0] ?? {};
	assert.ok(subscriptionId, JSON.stringify(trigger.staticData()));
	assert.ok(sealedSecret && !sealedSecret.startsWith('whsec_'), 'the secret is stored sealed');
	const sub = await call(RELAY, 'GET', `/v1/subscriptions/${subscriptionId}`);
	assert.equal(sub.body.target_url, trigger.url);
	assert.deepEqual(sub.body.events, ['video.generation.completed']);

	const inbox = (await call(RELAY, 'GET', '/v1/inbox')).body.webhook_url;
	const job = await call(SANDBOX, 'POST', '/v1/video/generations', { prompt: 'for the trigger', duration: 3, webhook_url: inbox });
	assert.equal(job.status, 202);
	await until(() => trigger.started.length === 1, 'the trigger to fire');
	const [item] = trigger.started;
	assert.equal(item.json.event, 'video.generation.completed');
	assert.equal(item.json.via, 'relay');
	assert.equal(item.json.id, job.body.id);
	assert.equal(item.json.delivery_id, job.body.id);

	await trigger.deactivate();
	const gone = await call(RELAY, 'GET', `/v1/subscriptions/${subscriptionId}`);
	assert.notEqual(gone.body && gone.body.status, 'active');
});

test('forged, unsigned or replayed-with-another-secret requests get 401 and start nothing', async () => {
	const trigger = await relayed.trigger({});
	await trigger.activate();
	const body = JSON.stringify({ id: 'vgen_forged', object: 'video.generation', status: 'completed' });
	const id = 'msg_1';
	const ts = String(Math.floor(Date.now() / 1000));
	const wrong = crypto.createHmac('sha256', crypto.randomBytes(32)).update(`${id}.${ts}.${body}`).digest('base64');
	const attempts = [
		{ 'content-type': 'application/json' },
		{ 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${wrong}` },
		{ 'content-type': 'application/json', 'x-creativeai-signature': 'sha256=' + crypto.createHmac('sha256', 'not-the-key').update(body).digest('hex') },
	];
	for (const headers of attempts) {
		const answer = await fetch(trigger.url, { method: 'POST', headers, body });
		assert.equal(answer.status, 401);
	}
	assert.equal(trigger.started.length, 0);
	await trigger.deactivate();
});

test('without a relay: the API posts straight to the trigger, checked with the API key; filters apply', async () => {
	const trigger = await direct.trigger({ events: ['voice.generation.completed'] });
	await trigger.activate();
	assert.deepEqual(trigger.staticData(), {}, 'nothing is registered without a relay');
	const voice = await call(SANDBOX, 'POST', '/api/generate/voice', { text: 'Straight to n8n.', webhook_url: trigger.url });
	const video = await call(SANDBOX, 'POST', '/v1/video/generations', { prompt: 'filtered out', duration: 3, webhook_url: trigger.url });
	await until(() => trigger.answers.length >= 2, 'both deliveries');
	assert.equal(trigger.started.length, 1);
	assert.equal(trigger.started[0].json.id, voice.body.id);
	assert.equal(trigger.started[0].json.via, 'api');
	assert.notEqual(trigger.started[0].json.id, video.body.id);
	await trigger.deactivate();
});

/** What the API sends on each attempt of one delivery: the same body, id and signature. */
function apiDelivery(body) {
	const raw = JSON.stringify(body);
	return {
		raw,
		headers: {
			'content-type': 'application/json',
			'x-creativeai-event': `${body.object}.${body.status}`,
			'x-creativeai-delivery-id': body.id,
			'x-creativeai-signature': 'sha256=' + crypto.createHmac('sha256', KEY).update(raw).digest('hex'),
		},
	};
}

test("without a relay: the API's three attempts of one delivery start the workflow once", async () => {
	const trigger = await direct.trigger({});
	await trigger.activate();
	const done = apiDelivery({ id: 'vgen_retried', object: 'video.generation', status: 'completed', output_url: 'https://cdn.example/v.mp4' });
	for (let attempt = 0; attempt < 3; attempt++) {
		const answer = await fetch(trigger.url, { method: 'POST', headers: done.headers, body: done.raw });
		assert.equal(answer.status, 200, 'a repeat is answered 200, so the API stops retrying');
	}
	assert.equal(trigger.started.length, 1);
	// Another status of the same job is another delivery.
	const failed = apiDelivery({ id: 'vgen_retried', object: 'video.generation', status: 'failed' });
	await fetch(trigger.url, { method: 'POST', headers: failed.headers, body: failed.raw });
	assert.equal(trigger.started.length, 2);
	assert.deepEqual(trigger.started.map((i) => i.json.status), ['completed', 'failed']);
	await trigger.deactivate();
});

test('the trigger remembers a bounded number of deliveries', async () => {
	const trigger = await direct.trigger({});
	await trigger.activate();
	for (let n = 0; n < 3; n++) {
		const d = apiDelivery({ id: `vgen_window_${n}`, object: 'video.generation', status: 'completed' });
		await fetch(trigger.url, { method: 'POST', headers: d.headers, body: d.raw });
	}
	const stored = trigger.staticData().node ?? Object.values(trigger.staticData())[0];
	const remembered = Object.keys(stored.emitted);
	assert.deepEqual(remembered, ['api:vgen_window_0:completed', 'api:vgen_window_1:completed', 'api:vgen_window_2:completed']);
	await trigger.deactivate();
});

test('with a relay: direct API-signed posts are refused, and a replayed relay post starts nothing', async () => {
	const trigger = await relayed.trigger({});
	await trigger.activate();
	const direct = apiDelivery({ id: 'vgen_direct', object: 'video.generation', status: 'completed' });
	const refused = await fetch(trigger.url, { method: 'POST', headers: direct.headers, body: direct.raw });
	assert.equal(refused.status, 401, 'with a relay configured, only the relay signs');

	const inbox = (await call(RELAY, 'GET', '/v1/inbox')).body.webhook_url;
	const job = await call(SANDBOX, 'POST', '/v1/video/generations', { prompt: 'replay me', duration: 3, webhook_url: inbox });
	await until(() => trigger.started.some((i) => i.json.id === job.body.id), 'the forwarded event');
	const forwarded = trigger.requests.find((r) => r.headers['webhook-signature'] && r.raw.toString('utf8').includes(job.body.id));
	const count = trigger.started.length;
	const replay = await fetch(trigger.url, { method: 'POST', headers: forwarded.headers, body: forwarded.raw });
	assert.equal(replay.status, 200);
	assert.equal(trigger.started.length, count, 'the captured relay post, sent again, started nothing');
	await trigger.deactivate();
});
