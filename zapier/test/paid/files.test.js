'use strict';

// Files within Zapier's stash limit: a step asks an output's size (HEAD) before it offers
// the file; one over the limit is never downloaded, the step outputs its URL and a message
// naming the limit and the size. A local server stands for the CDN (announcing a file
// larger than the limit, counting full downloads) and a recorder for the API.

const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('http');

const zapier = require('zapier-platform-core');
const app = require('../../index.js');
const api = require('../../generated/api');
const { recorder } = require('../support');

const appTester = zapier.createAppTester(app);

const LIMIT = Number(process.env.ZAPIER_STASH_LIMIT_BYTES);
const BIG = LIMIT + 7_345_678; // over the limit by 7.3 MB
const SMALL = 1234;

describe('files over the stash limit', () => {
  let cdn;
  let apiStandIn;
  const downloads = { big: 0, small: 0, unsized: 0 };
  const heads = [];

  before(async () => {
    assert.ok(LIMIT > 0, 'ZAPIER_STASH_LIMIT_BYTES is set (by tests/test_zapier_credits.py)');
    assert.equal(api.stash.maxBytes, LIMIT, "the app's limit is the catalog's");
    cdn = http.createServer((req, res) => {
      if (req.url.includes('unsized')) {
        // Names no size to HEAD; its download then announces one over the limit.
        if (req.method === 'HEAD') {
          res.writeHead(405);
          res.end();
          return;
        }
        downloads.unsized += 1;
        res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(BIG) });
        res.write(Buffer.alloc(SMALL));
        setTimeout(() => res.destroy(), 50);
        return;
      }
      const size = req.url.includes('big') ? BIG : SMALL;
      if (req.method === 'HEAD') {
        heads.push(req.url);
        res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(size) });
        res.end();
        return;
      }
      downloads[req.url.includes('big') ? 'big' : 'small'] += 1;
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(SMALL) });
      res.end(Buffer.alloc(SMALL));
    });
    await new Promise((resolve) => cdn.listen(0, '127.0.0.1', resolve));
    const cdnUrl = `http://127.0.0.1:${cdn.address().port}`;
    const video = (id, name) => ({
      id,
      object: 'video.generation',
      status: 'completed',
      credits: 60,
      output_url: `${cdnUrl}/output/${name}.mp4`,
      created_at: '2026-03-09T16:10:00Z',
    });
    apiStandIn = await recorder((request) => {
      if (request.path.startsWith('/v1/video/generations/vgen_big')) {
        return { body: video('vgen_big', 'big') };
      }
      if (request.path.startsWith('/v1/video/generations/vgen_unsized')) {
        return { body: video('vgen_unsized', 'unsized') };
      }
      if (request.path.startsWith('/v1/video/generations/vgen_small')) {
        return { body: video('vgen_small', 'small') };
      }
      if (request.path === '/v1/images/generations') {
        return {
          body: {
            created: 1709550000,
            data: [{ url: `${cdnUrl}/output/big.png` }, { url: `${cdnUrl}/output/small.png` }],
          },
        };
      }
      return { status: 404, body: { error: { code: 'not_found', message: 'no such thing' } } };
    });
  });

  after(async () => {
    await new Promise((resolve) => cdn.close(resolve));
    await apiStandIn.close();
  });

  const auth = () => ({ api_key: 'sk-test-files-0000', base_url: apiStandIn.url });
  const message = (size) =>
    api.stash.overLimit.replace('{size}', String(Math.round(size / 100000) / 10));

  test('Find Generation: a file over the limit is left at its URL with the limit and the size', async () => {
    const [found] = await appTester(app.searches.find_generation.operation.perform, {
      authData: auth(),
      inputData: { kind: 'video', id: 'vgen_big' },
    });
    assert.equal(found.state, 'completed');
    assert.match(found.output_url, /\/output\/big\.mp4$/);
    assert.equal(found.file, null);
    assert.equal(found.file_message, message(BIG));
    assert.match(found.file_message, /over Zapier's stashed file limit of 100 MB/);
    assert.match(found.file_message, /^The file is 107\.3 MB/);
    assert.equal(downloads.big, 0, 'never downloaded');
  });

  test('a file within the limit is offered as a Zapier file, with no message', async () => {
    const [found] = await appTester(app.searches.find_generation.operation.perform, {
      authData: auth(),
      inputData: { kind: 'video', id: 'vgen_small' },
    });
    assert.match(found.file, /^hydrate\|\|\|/);
    assert.equal(found.file_message, null);
    assert.equal(downloads.small, 0, 'a file is only downloaded when a later step uses it');
  });

  test('a resumed create: the same, from the job it fetches back', async () => {
    const create = app.creates.video_create_from_text.operation;
    const result = await appTester(create.performResume, {
      authData: auth(),
      inputData: {},
      outputData: { id: 'vgen_big', status: 'pending' },
      cleanedRequest: { id: 'vgen_big', status: 'completed' },
    });
    assert.equal(result.file, null);
    assert.equal(result.file_message, message(BIG));
    assert.equal(downloads.big, 0);
  });

  test('an answer with several images: each file on its own', async () => {
    const create = app.creates.image_generate.operation;
    const result = await appTester(create.perform, {
      authData: auth(),
      inputData: { prompt: 'A mug on white' },
    });
    const [big, small] = result.data;
    assert.equal(big.file, null);
    assert.equal(big.file_message, message(BIG));
    assert.match(small.file, /^hydrate\|\|\|/);
    assert.equal(small.file_message, null);
    assert.equal(downloads.big, 0);
  });

  test('a file that names its size only when downloaded is not stashed over the limit', async () => {
    const [found] = await appTester(app.searches.find_generation.operation.perform, {
      authData: auth(),
      inputData: { kind: 'video', id: 'vgen_unsized' },
    });
    assert.match(found.file, /^hydrate\|\|\|/, 'no size known at the step: offered as a file');
    const [, json] = /^hydrate\|\|\|(.*)\|\|\|hydrate$/.exec(found.file);
    const pointer = JSON.parse(json);
    await assert.rejects(
      appTester(app.hydrators.downloadFile, { authData: auth(), inputData: pointer.bundle }),
      (error) => {
        const message = JSON.parse(error.message).message;
        assert.ok(message.startsWith(api.stash.overLimit.replace('{size}', '107.3')), message);
        assert.match(message, /unsized\.mp4/);
        return true;
      },
    );
    assert.equal(downloads.unsized, 1);
  });
});
