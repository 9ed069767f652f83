'use strict';

// The REST-hook triggers, for real: subscribing registers a relay subscription for this
// Zap's hook URL (a local recorder standing in for Zapier's); a job started from a create
// reports to the account's relay inbox; the relay forwards the completion, signed; perform
// turns it into the trigger's record; unsubscribing deletes the subscription. A hook URL
// that answers 410 makes the relay end its subscription.

const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');

const zapier = require('zapier-platform-core');
const app = require('../index.js');
const {
  authData,
  control,
  details,
  events,
  fillIn,
  keyDifference,
  operations,
  recorder,
  relayApi,
  waitFor,
} = require('./support');

const appTester = zapier.createAppTester(app);
const relayAuth = () => authData({ relay: true });

// Headers as Zapier hands them to a hook's perform (bundle.rawRequest.headers).
const zapierHeaders = (headers) =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      `Http-${name.replace(/(^|-)([a-z])/g, (all, dash, letter) => dash + letter.toUpperCase())}`,
      value,
    ]),
  );

const hookBundle = (request, subscribeData, inputData = {}) => ({
  authData: relayAuth(),
  inputData,
  subscribeData,
  cleanedRequest: JSON.parse(request.text),
  rawRequest: {
    method: request.method,
    headers: zapierHeaders(request.headers),
    content: request.text,
  },
});

const startVideo = (prompt) =>
  appTester(app.creates.video_create_from_text.operation.perform, {
    authData: relayAuth(),
    inputData: { prompt, duration: 5, wait_for_result: false },
  });

describe('Generation Completed, a REST hook through the relay', () => {
  let zapierSide;

  before(async () => {
    zapierSide = await recorder((request) =>
      request.path.startsWith('/gone/') ? { status: 410, body: {} } : { body: { status: 'ok' } },
    );
  });
  after(() => zapierSide.close());

  const received = (path, jobId) =>
    waitFor(
      () =>
        zapierSide.requests.find(
          (request) => {
            const body = JSON.parse(request.text);
            return request.path === path && (body.id || body.batch_id) === jobId;
          },
        ),
      { what: `the relay to forward ${jobId} to ${path}` },
    );

  test('subscribe, receive a forwarded event, list recent ones, unsubscribe', async () => {
    const trigger = app.triggers.generation_completed.operation;
    const targetUrl = `${zapierSide.url}/hooks/live`;
    const subscription = await appTester(trigger.performSubscribe, {
      authData: relayAuth(),
      inputData: {},
      targetUrl,
    });
    const view = await relayApi('GET', `/v1/subscriptions/${subscription.id}`);
    assert.equal(view.body.status, 'active');
    assert.equal(view.body.target_url, targetUrl);
    assert.ok(view.body.events.includes('video.generation.completed'));

    const job = await startVideo('A drone shot over a coastal city');
    assert.ok(!('webhook_url' in job), 'the webhook URL only wires the step up: no output');
    const inbox = `${new URL(subscription.webhook_url).origin}/hooks/`;
    const started = await control('GET', `jobs/${job.id}`);
    assert.ok(started.webhook_url.startsWith(inbox), 'the job reports to the relay inbox');
    const request = await received('/hooks/live', job.id);
    assert.equal(request.headers['x-creativeai-event'], 'video.generation.completed');

    const [record] = await appTester(trigger.perform, hookBundle(request, subscription));
    assert.equal(record.id, job.id);
    assert.equal(record.event, 'video.generation.completed');
    assert.equal(record.status, 'completed');
    assert.ok(record.file.includes(record.output_url));

    const recent = await appTester(trigger.performList, { authData: relayAuth(), inputData: {} });
    assert.ok(recent.length >= 1);
    assert.ok(recent.some((one) => one.id === job.id && one.event === record.event));

    await appTester(trigger.performUnsubscribe, {
      authData: relayAuth(),
      inputData: {},
      subscribeData: subscription,
    });
    const gone = await relayApi('GET', `/v1/subscriptions/${subscription.id}`);
    assert.equal(gone.body.status, 'deleted');
  });

  test('perform refuses a request the relay did not sign for this subscription', async () => {
    const trigger = app.triggers.generation_completed.operation;
    const subscription = await appTester(trigger.performSubscribe, {
      authData: relayAuth(),
      inputData: {},
      targetUrl: `${zapierSide.url}/hooks/signed`,
    });
    try {
      const job = await startVideo('A mug on a desk');
      const request = await received('/hooks/signed', job.id);
      const tampered = { ...request, text: request.text.replace('"completed"', '"failed"') };
      await assert.rejects(
        appTester(trigger.perform, hookBundle(tampered, subscription)),
        (error) => details(error).code === 'invalid_signature',
      );
      const otherSecret = { ...subscription, signing_secret: `whsec_${'A'.repeat(43)}=` };
      await assert.rejects(
        appTester(trigger.perform, hookBundle(request, otherSecret)),
        (error) => details(error).code === 'invalid_signature',
      );
    } finally {
      await appTester(trigger.performUnsubscribe, {
        authData: relayAuth(),
        inputData: {},
        subscribeData: subscription,
      });
    }
  });

  test('a trigger only passes its own events, and Events narrows the subscription', async () => {
    const voiceOnly = app.triggers.voice_generation_completed.operation;
    const subscription = await appTester(app.triggers.generation_completed.operation.performSubscribe, {
      authData: relayAuth(),
      inputData: { events: ['voice.generation.completed'] },
      targetUrl: `${zapierSide.url}/hooks/voice`,
    });
    try {
      const view = await relayApi('GET', `/v1/subscriptions/${subscription.id}`);
      assert.deepEqual(view.body.events, ['voice.generation.completed']);
      const video = {
        method: 'POST',
        headers: { 'x-creativeai-event': 'video.generation.completed' },
        text: JSON.stringify({ id: 'vgen_1', object: 'video.generation', status: 'completed' }),
      };
      assert.deepEqual(await appTester(voiceOnly.perform, hookBundle(video, {})), []);
    } finally {
      await appTester(app.triggers.generation_completed.operation.performUnsubscribe, {
        authData: relayAuth(),
        inputData: {},
        subscribeData: subscription,
      });
    }
  });

  test('a hook URL answering 410 makes the relay drop the subscription', async () => {
    const trigger = app.triggers.video_generation_completed.operation;
    const subscription = await appTester(trigger.performSubscribe, {
      authData: relayAuth(),
      inputData: {},
      targetUrl: `${zapierSide.url}/gone/1`,
    });
    const job = await startVideo('A product turntable');
    await received('/gone/1', job.id);
    const ended = await waitFor(
      async () => {
        const view = await relayApi('GET', `/v1/subscriptions/${subscription.id}`);
        return view.body.status === 'gone' ? view.body : null;
      },
      { what: 'the relay to end the subscription' },
    );
    assert.match(String(ended.ended_reason), /410|gone/i);
    // Unsubscribing afterwards (Zapier does when the Zap is turned off) is harmless.
    await appTester(trigger.performUnsubscribe, {
      authData: relayAuth(),
      inputData: {},
      subscribeData: subscription,
    });
  });

  // Every event a create's job can end with, through the trigger that passes only it (or
  // Generation Completed / Failed): what the trigger outputs has exactly its sample's keys.
  const generic = { completed: 'generation_completed', failed: 'generation_failed' };
  const firstOfState = new Set();
  for (const [name, one] of Object.entries(events())) {
    const choices = [app.triggers[one.trigger] ? one.trigger : null];
    if (!firstOfState.has(one.state)) {
      firstOfState.add(one.state);
      choices.push(generic[one.state]);
    }
    for (const key of choices.filter(Boolean)) {
      test(`${key} outputs what its sample promises (${name})`, async (t) => {
        if (!one.input) {
          t.skip(`no input in the catalog makes ${one.operation} end ${one.state} in the sandbox`);
          return;
        }
        const trigger = app.triggers[key].operation;
        const path = `/hooks/${key}/${name}`;
        const inputData = key === one.trigger ? {} : { events: [name] };
        const subscription = await appTester(trigger.performSubscribe, {
          authData: relayAuth(),
          inputData,
          targetUrl: `${zapierSide.url}${path}`,
        });
        try {
          const action = operations()[one.operation].action;
          const create = app.creates[action].operation;
          const job = await appTester(create.perform, {
            authData: relayAuth(),
            inputData: { ...fillIn(create.inputFields, one.input), wait_for_result: false },
          });
          const request = await received(path, job.batch_id || job.id);
          const [record] = await appTester(trigger.perform, { ...hookBundle(request, subscription), inputData });
          assert.equal(record.event, name);
          assert.equal(record.state, one.state);
          assert.deepEqual(keyDifference(trigger.sample, record), { missing: [], unpromised: [] });
          // One status spelling on every path: the trigger says what Find Generation says.
          const [found] = await appTester(app.searches.find_generation.operation.perform, {
            authData: relayAuth(),
            inputData: { kind: operations()[one.operation].job, id: job.batch_id || job.id },
          });
          assert.equal(record.status, found.status, 'the status as the API spells it for the kind');
          assert.equal(record.state, found.state);
        } finally {
          await appTester(trigger.performUnsubscribe, {
            authData: relayAuth(),
            inputData: {},
            subscribeData: subscription,
          });
        }
      });
    }
  }
});
