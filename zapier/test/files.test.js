'use strict';

// Output files: a result's `file` is a dehydrated pointer; when Zapier hydrates it, the
// app downloads the output and stashes it with z.stashFile. Zapier's file endpoint is
// played by a local stand-in: core asks `$ZAPIER_BASE_ENDPOINT/platform/rpc/cli` for a
// presigned upload (with the deploy key) and posts the file there as multipart.

const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');

const { authData, parseMultipart, recorder, waitFor } = require('./support');

describe('files: dehydrated outputs, hydrated into Zapier file storage', () => {
  let storage;
  let foreign;
  let zapier;
  let app;
  let appTester;

  before(async () => {
    storage = await recorder((request) => {
      if (request.path === '/platform/rpc/cli') {
        const call = JSON.parse(request.text);
        assert.equal(call.method, 'get_presigned_upload_post_data');
        assert.equal(request.headers['x-deploy-key'], 'dummy');
        return {
          body: { id: call.id, result: { url: `${storage.url}/upload`, fields: { key: `stash/${call.id}` } } },
        };
      }
      return request.path === '/upload'
        ? { status: 204, headers: { 'Content-Type': 'text/plain' }, body: '' }
        : { status: 404 };
    });
    foreign = await recorder(() => ({
      headers: { 'Content-Type': 'image/png', 'Content-Disposition': 'attachment; filename="still.png"' },
      body: Buffer.from('not really a png'),
    }));
    // Core reads these when it loads: the stand-in must be known before the first require.
    process.env.ZAPIER_BASE_ENDPOINT = storage.url;
    process.env.ZAPIER_DEPLOY_KEY = 'dummy';
    zapier = require('zapier-platform-core');
    app = require('../index.js');
    appTester = zapier.createAppTester(app);
  });

  after(async () => {
    await storage.close();
    await foreign.close();
  });

  const hydrate = (dehydrated) => {
    const [, json] = /^hydrate\|\|\|(.*)\|\|\|hydrate$/.exec(dehydrated);
    const pointer = JSON.parse(json);
    assert.equal(pointer.type, 'file');
    assert.equal(pointer.method, 'hydrators.downloadFile');
    return appTester(app.hydrators.downloadFile, { authData: authData(), inputData: pointer.bundle });
  };

  const upload = (count) =>
    waitFor(() => storage.requests.filter((request) => request.path === '/upload')[count - 1], {
      what: 'the upload',
    });

  test("a finished video's file is downloaded and stashed", async () => {
    const create = app.creates.video_create_from_text.operation;
    const job = await appTester(create.perform, {
      authData: authData(),
      inputData: { prompt: 'A turntable shot', duration: 5, wait_for_result: false },
    });
    const [done] = await waitFor(async () => {
      const found = await appTester(app.searches.find_generation.operation.perform, {
        authData: authData(),
        inputData: { kind: 'video', id: job.id },
      });
      return found[0] && found[0].status === 'completed' ? found : null;
    });
    const stashed = await hydrate(done.file);
    assert.match(stashed, new RegExp(`^${storage.url}/stash/`));

    const sent = parseMultipart(await upload(1));
    const original = Buffer.from(await (await fetch(done.output_url)).arrayBuffer());
    assert.ok(original.length > 0);
    assert.equal(Buffer.from(sent.files.file.base64, 'base64').compare(original), 0);
    assert.equal(sent.files.file.filename, `${job.id}.mp4`);
    assert.equal(sent.fields['Content-Type'], 'video/mp4');
  });

  test('a file on another host is fetched without the API key', async () => {
    const stashed = await hydrate(
      `hydrate|||${JSON.stringify({
        type: 'file',
        method: 'hydrators.downloadFile',
        bundle: { url: `${foreign.url}/outputs/still.png` },
      })}|||hydrate`,
    );
    assert.match(stashed, /\/stash\//);
    assert.equal(foreign.requests.length, 1);
    assert.equal(foreign.requests[0].headers.authorization, undefined);
    const sent = parseMultipart(await upload(2));
    assert.equal(sent.files.file.filename, 'still.png');
    assert.equal(Buffer.from(sent.files.file.base64, 'base64').toString(), 'not really a png');
  });
});
