'use strict';

// Waiting for a result, for real: perform asks the relay for a route to this step's
// callback URL and starts the job with it; the sandbox's signed webhook reaches the relay,
// which verifies it and forwards it to the callback URL (a local recorder standing in for
// Zapier's); what arrives there is handed to performResume as Zapier would.
//
// The callback URL comes from core's own handler: `createAppHandler(app)` with the
// `callback_url` Zapier's backend sets (appTester pins one on the internet).

const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');

const zapier = require('zapier-platform-core');
const app = require('../index.js');
const {
  authData,
  details,
  env,
  fillIn,
  jobCreates,
  keyDifference,
  recorder,
  relayApi,
  waitFor,
} = require('./support');

const appTester = zapier.createAppTester(app);
const handler = zapier.createAppHandler(app);

describe('Wait for the Result, through the relay', () => {
  let zapierSide;
  let count = 0;

  before(async () => {
    zapierSide = await recorder(() => ({ body: { status: 'success' } }));
  });
  after(() => zapierSide.close());

  // Run perform as Zapier does: with a callback URL of its own.
  const park = async (create, inputData) => {
    count += 1;
    const callbackUrl = `${zapierSide.url}/callbacks/${count}`;
    const started = Date.now();
    const output = await handler({
      command: 'execute',
      method: `creates.${create}.operation.perform`,
      bundle: { authData: authData({ relay: true }), inputData, meta: {} },
      callback_url: callbackUrl,
    });
    return { output, callbackUrl, seconds: (Date.now() - started) / 1000 };
  };

  const forwarded = async (callbackUrl) => {
    const where = new URL(callbackUrl).pathname;
    return waitFor(() => zapierSide.requests.find((request) => request.path === where), {
      what: `the relay to forward to ${where}`,
    });
  };

  const resume = (create, output, request) =>
    appTester(app.creates[create].operation.performResume, {
      authData: authData({ relay: true }),
      inputData: {},
      outputData: output.results,
      cleanedRequest: JSON.parse(request.text),
    });

  test('a video: perform parks, the relay forwards the completion, performResume finishes', async () => {
    const { output, callbackUrl, seconds } = await park('video_create_from_text', {
      prompt: 'A drone shot over a coastal city',
      duration: 5,
    });
    assert.equal(output.status, 'CALLBACK', 'the step is parked');
    assert.ok(seconds < 30, `perform returned within Zapier's 30 s (took ${seconds} s)`);
    const job = output.results;
    assert.equal(job.status, 'processing');
    assert.ok(job.webhook_url.startsWith(`${env().relay}/hooks/`), 'the job reports to the relay');

    const route = await relayApi('GET', `/v1/routes/${job.relay_route_id}`);
    assert.equal(route.status, 200);
    assert.equal(route.body.target_url, callbackUrl, 'the route leads to the callback URL');

    const request = await forwarded(callbackUrl);
    assert.equal(request.method, 'POST');
    assert.equal(request.headers['x-creativeai-event'], 'video.generation.completed');
    assert.equal(request.headers['x-creativeai-delivery-id'], job.id);
    assert.match(request.headers['webhook-signature'], /^v1,/, 'signed by the relay');

    const result = await resume('video_create_from_text', output, request);
    assert.equal(result.id, job.id);
    assert.equal(result.status, 'completed');
    assert.match(result.output_url, /^http/);
    assert.ok(result.file.startsWith('hydrate|||') && result.file.includes(result.output_url));

    // The relay records the outcome just after our callback URL answered.
    const log = await waitFor(
      async () => {
        const listed = await relayApi('GET', `/v1/deliveries?route_id=${job.relay_route_id}`);
        return listed.body.data.every((one) => one.status === 'succeeded') ? listed : null;
      },
      { what: 'the relay to record the delivery' },
    );
    assert.equal(log.body.data.length, 1, 'one delivery for the job');
  });

  test('a failed job: performResume raises a clear error', async () => {
    const { output, callbackUrl } = await park('video_create_from_text', {
      prompt: 'A drone shot [sandbox:fail]',
    });
    const request = await forwarded(callbackUrl);
    assert.equal(request.headers['x-creativeai-event'], 'video.generation.failed');
    await assert.rejects(resume('video_create_from_text', output, request), (error) => {
      const got = details(error);
      assert.equal(got.code, 'generation_timeout');
      assert.match(got.message, /^Create Video From Text failed: .+ \(generation_timeout, job /);
      assert.ok(got.message.includes(output.results.id));
      return true;
    });
  });

  test('a batch: one completion for the whole batch, each video with its file', async () => {
    const { output, callbackUrl } = await park('batch_create', {
      prompts: [{ prompt: 'Product showcase' }, { prompt: 'Social clip' }],
      duration: 5,
    });
    assert.equal(output.status, 'CALLBACK');
    const request = await forwarded(callbackUrl);
    assert.equal(request.headers['x-creativeai-event'], 'video.batch.completed');
    const result = await resume('batch_create', output, request);
    assert.equal(result.batch_id, output.results.batch_id);
    assert.equal(result.jobs.length, 2);
    for (const job of result.jobs) {
      assert.ok(job.file.includes(job.output_url));
    }
  });

  for (const [key, one] of jobCreates()) {
    test(`${key}: through the relay, resumed with the job fetched back`, async () => {
      const create = app.creates[one.action].operation;
      const { output, callbackUrl } = await park(one.action, fillIn(create.inputFields, one.example));
      assert.equal(output.status, 'CALLBACK');
      const request = await forwarded(callbackUrl);
      const result = await resume(one.action, output, request);
      assert.equal(result.state, 'completed');
      assert.ok(!('relay_route_id' in result), 'the relay route is not an output');
      assert.deepEqual(keyDifference(create.sample, result), { missing: [], unpromised: [] });
      assert.ok(JSON.stringify(result).includes('"file":"hydrate|||'), 'with its file');
    });
  }

  test('voice on the shared status endpoint', async () => {
    const { output, callbackUrl } = await park('voice_create', { text: 'Your video is ready.' });
    const request = await forwarded(callbackUrl);
    assert.equal(request.headers['x-creativeai-event'], 'voice.generation.completed');
    const result = await resume('voice_create', output, request);
    assert.equal(result.status.toLowerCase(), 'completed', 'as the event spells it');
    assert.ok(result.file.includes(result.output_url));
  });

  test('a forwarded body without a final status is settled by the status endpoint', async () => {
    const { output, callbackUrl } = await park('video_create_from_text', { prompt: 'A mug' });
    await forwarded(callbackUrl); // the job has finished by now
    const result = await appTester(app.creates.video_create_from_text.operation.performResume, {
      authData: authData({ relay: true }),
      inputData: {},
      outputData: output.results,
      cleanedRequest: {},
    });
    assert.equal(result.status, 'completed');
  });

  test("the editor's test returns the sample and starts nothing", async () => {
    const quiet = await recorder();
    try {
      const auth = { api_key: 'sk-x', base_url: quiet.url, relay_url: quiet.url };
      const create = app.creates.video_create_from_text;
      const result = await appTester(create.operation.perform, {
        authData: auth,
        inputData: { prompt: 'A mug' },
        meta: { isLoadingSample: true },
      });
      assert.deepEqual(result, create.operation.sample);
      assert.equal(quiet.requests.length, 0);
    } finally {
      await quiet.close();
    }
  });

  test('a Webhook URL of its own cannot be combined with waiting', async () => {
    await assert.rejects(
      park('voice_create', { text: 'Hi', webhook_url: 'https://example.com/hook' }),
      /Webhook URL \(webhook_url\) cannot be used with Wait for the Result/,
    );
  });
});
