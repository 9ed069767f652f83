'use strict';

// The connection: its test checks the API and, when one is set, the relay; its label tells
// two accounts apart without showing the key; a relay that is set up wrong says so; a key
// the API refuses says what to do.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');

const zapier = require('zapier-platform-core');
const app = require('../index.js');
const { authData, details, env, recorder } = require('./support');

const appTester = zapier.createAppTester(app);

// A port on 127.0.0.1 where nothing listens.
const closedPort = () =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const startVideo = (auth, inputData = {}) =>
  appTester(app.creates.video_create_from_text.operation.perform, {
    authData: auth,
    inputData: { prompt: 'A mug', ...inputData },
  });

describe('the connection', () => {
  test('the test checks the API and the relay; the label tells keys apart', async () => {
    const checked = await appTester(app.authentication.test, { authData: authData({ relay: true }) });
    assert.equal(checked.relay, 'ok');
    assert.ok(checked.models > 0);
    const { sandbox, relay, key } = env();
    const label = await appTester(app.authentication.connectionLabel, {
      authData: authData({ relay: true }),
    });
    assert.ok(label.startsWith(`${new URL(sandbox).host} (key`));
    assert.ok(label.endsWith(` via ${new URL(relay).host}`));
    assert.ok(!label.includes(key));
    const labelOf = (apiKey) =>
      appTester(app.authentication.connectionLabel, { authData: { ...authData(), api_key: apiKey } });
    const first = await labelOf('sk-live-first-account-key-1234');
    const second = await labelOf('sk-live-other-account-key-9876');
    assert.equal(first, `${new URL(sandbox).host} (key …1234)`);
    assert.notEqual(first, second, 'two accounts, two labels');
    assert.ok(!first.includes('first-account'), 'only the last four characters show');
  });

  test('an unreachable Relay URL is named, with what to check', async () => {
    const relayUrl = `http://127.0.0.1:${await closedPort()}`;
    const auth = { ...authData(), relay_url: relayUrl };
    for (const run of [
      () => appTester(app.authentication.test, { authData: auth }),
      () => startVideo(auth, { wait_for_result: false }),
    ]) {
      await assert.rejects(run(), (error) => {
        const got = details(error);
        assert.equal(got.code, 'relay_unreachable');
        assert.ok(got.message.startsWith(`Relay: the Relay URL of this connection (${relayUrl})`));
        assert.match(got.message, /ECONNREFUSED/);
        assert.match(got.message, /Check that the relay is running/);
        assert.doesNotMatch(got.message, /request to .* failed, reason/);
        assert.ok(!got.message.includes(auth.api_key));
        return true;
      });
    }
  });

  test('a Relay URL that leads elsewhere says so', async () => {
    const elsewhere = await recorder(() => ({ status: 404, body: '<html>Not Found</html>' }));
    try {
      const auth = { ...authData(), relay_url: elsewhere.url };
      await assert.rejects(appTester(app.authentication.test, { authData: auth }), (error) => {
        assert.match(details(error).message, /does not lead to a CreativeAI relay\. Check it/);
        return true;
      });
    } finally {
      await elsewhere.close();
    }
  });

  test('a refused key says what to do, not what the API said', async () => {
    const auth = { ...authData(), api_key: 'sk-not-a-key-of-this-account' };
    await assert.rejects(appTester(app.authentication.test, { authData: auth }), (error) => {
      const got = details(error);
      assert.equal(got.status, 401);
      assert.equal(got.code, 'authentication_error');
      assert.match(got.message, /^CreativeAI: the API key was not accepted \(HTTP 401\)\. Reconnect/);
      assert.match(got.message, /Dashboard → API Keys/);
      return true;
    });
  });

  test("a model list without types offers the catalog's known models", async () => {
    const api = await recorder(() => ({
      body: { object: 'list', data: [{ id: 'kling-v3', object: 'model' }, { id: 'x', object: 'model' }] },
    }));
    try {
      const auth = { api_key: 'sk-untyped-list-0000', base_url: api.url };
      const video = await appTester(app.triggers.video_models.operation.perform, {
        authData: auth,
        inputData: {},
      });
      assert.ok(video.length > 0 && video.every((model) => model.type === 'video'));
      assert.ok(video.some((model) => model.id === 'kling-v3'));
      assert.ok(!video.some((model) => model.id === 'x'), 'only models the catalog knows as video');
      const all = await appTester(app.triggers.models.operation.perform, { authData: auth, inputData: {} });
      assert.deepEqual(all.map((model) => model.id), ['kling-v3', 'x']);
    } finally {
      await api.close();
    }
  });
});
