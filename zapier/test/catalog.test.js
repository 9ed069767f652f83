'use strict';

// Every operation of the catalog that Zapier shows, against the sandbox, without a relay.
// The list and each example input come from the catalog (pytest passes them), so a new
// operation is exercised here without an edit to this file.
//
// Waiting without a relay: perform starts the job with this step's callback URL as its
// webhook URL and parks; the sandbox's webhook reaches a stand-in for Zapier's callback
// endpoint, which resumes the step once (tests/support.js: zapierCallbacks). performResume
// never trusts the posted body: it fetches the job back with the connection's key.

const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');

const zapier = require('zapier-platform-core');
const app = require('../index.js');
const { timing } = require('../lib/operations');
const {
  advanceHeld,
  authData,
  details,
  env,
  fillIn,
  held,
  instantCreates,
  jobCreates,
  keyDifference,
  waitFor,
  zapierCallbacks,
} = require('./support');

const appTester = zapier.createAppTester(app);
const handler = zapier.createAppHandler(app);

const definitionOf = (one) => app.creates[one.action].operation;
const inputOf = (one) => fillIn(definitionOf(one).inputFields, one.example);

// The webhook attempts the sandbox made to a URL.
const attempts = async (sandbox, key, url) => {
  const response = await fetch(`${sandbox}/_sandbox/webhooks?url=${encodeURIComponent(url)}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  return (await response.json()).attempts;
};

describe('every create, against the sandbox', () => {
  for (const [key, one] of instantCreates()) {
    test(`${key} answers at once, each output URL with its file`, async () => {
      const result = await appTester(definitionOf(one).perform, {
        authData: authData(),
        inputData: inputOf(one),
      });
      assert.equal(typeof result, 'object');
      const urls = JSON.stringify(result).match(/"(output_url|url)":"http[^"]+"/g) || [];
      const files = JSON.stringify(result).match(/"file":"hydrate\|\|\|/g) || [];
      assert.equal(files.length, urls.length, 'a file beside each output URL');
      const sample = definitionOf(one).sample;
      assert.deepEqual(keyDifference(sample, result), { missing: [], unpromised: [] }, 'sample keys');
    });
  }
});

describe('Wait for the Result without a relay', () => {
  let zapierSide;

  before(async () => {
    zapierSide = await zapierCallbacks();
  });
  after(() => zapierSide.close());

  // Run perform as Zapier does: with a callback URL of its own, on a connection without
  // a relay.
  const park = async (one, { auth = authData(), answer } = {}) => {
    const callback = zapierSide.open(answer);
    const output = await handler({
      command: 'execute',
      method: `creates.${one.action}.operation.perform`,
      bundle: { authData: auth, inputData: inputOf(one), meta: {} },
      callback_url: callback.url,
    });
    return { output, callback };
  };

  const resume = (one, output, cleanedRequest, auth = authData()) =>
    appTester(definitionOf(one).performResume, {
      authData: auth,
      inputData: {},
      outputData: output.results,
      cleanedRequest,
    });

  const accepted = (callback) =>
    waitFor(() => callback.call.accepted, { what: `the API's webhook at ${callback.url}` });

  for (const [key, one] of jobCreates()) {
    test(`${key}: parks, the API's own webhook resumes it, the job is fetched back`, async () => {
      const { output, callback } = await park(one);
      assert.equal(output.status, 'CALLBACK', 'the step is parked');
      assert.ok(!('relay_route_id' in output.results), 'no relay involved');
      const request = await accepted(callback);
      assert.equal(request.method, 'POST');
      const posted = JSON.parse(request.text);
      const result = await resume(one, output, posted);
      assert.equal(result.state, 'completed');
      const id = result.batch_id || result.id;
      assert.equal(id, output.results.batch_id || output.results.id);
      assert.ok(JSON.stringify(result).includes('"file":"hydrate|||'), 'with its file');
      const sample = definitionOf(one).sample;
      assert.deepEqual(keyDifference(sample, result), { missing: [], unpromised: [] }, 'sample keys');
    });

    test(`${key}: a forged POST cannot choose the output`, async () => {
      const { output } = await park(one, { answer: () => ({ status: 503 }) });
      const mine = output.results;
      const forged = {
        ...mine,
        status: 'completed',
        output_url: 'https://forged.example/not-from-creativeai.mp4',
      };
      const result = await resume(one, output, forged);
      assert.ok(!JSON.stringify(result).includes('forged.example'), 'the forged URL is not used');
      assert.equal(result.state, 'completed', 'the job as the API reports it');
      // A POST naming someone else's job is only a hint: this step's own job is looked up.
      const other = await resume(one, output, { ...forged, id: 'vgen_someone_else', batch_id: 'x' });
      assert.equal(other.batch_id || other.id, mine.batch_id || mine.id);
    });

    test(`${key}: the API's three attempts resume the step once`, async () => {
      // Zapier's endpoint refuses the first two attempts; the API retries; the third is
      // accepted and is the only one that resumes the step.
      const { output, callback } = await park(one, {
        answer: (request, count) => (count < 3 ? { status: 503 } : null),
      });
      const request = await waitFor(() => callback.call.accepted, {
        timeout: 20000,
        what: 'the third attempt',
      });
      const made = await attempts(env().sandbox, env().key, callback.url);
      assert.equal(made.length, 3, 'the API tried three times');
      assert.equal(callback.call.posts.length, 3);
      const result = await resume(one, output, JSON.parse(request.text));
      assert.equal(result.state, 'completed');
    });
  }

  // One create per kind of job (the held sandbox has none of the other sandbox's media).
  const onePerKind = () => {
    const seen = new Set();
    return jobCreates().filter(([, one]) => !seen.has(one.job) && seen.add(one.job));
  };

  test('a callback before the job ends is answered by looking it up until it ends', async () => {
    const auth = { api_key: held().key, base_url: held().sandbox };
    for (const [, one] of onePerKind()) {
      const { output } = await park(one, { auth, answer: () => ({ status: 503 }) });
      const early = { ...output.results, status: 'completed' };
      const waiting = resume(one, output, early, auth);
      setTimeout(() => advanceHeld(3600), 1500);
      const result = await waiting;
      assert.equal(result.state, 'completed', one.action);
    }
  });

  test('a callback for a job that does not end in time fails naming the job and the search that fetches it', async () => {
    const auth = { api_key: held().key, base_url: held().sandbox };
    const saved = timing.resumeWaitMs;
    timing.resumeWaitMs = 3000;
    try {
      for (const [, one] of onePerKind()) {
        const { output } = await park(one, { auth, answer: () => ({ status: 503 }) });
        let named;
        await assert.rejects(resume(one, output, { ...output.results, status: 'completed' }, auth), (error) => {
          const got = details(error);
          assert.equal(got.code, 'job_not_finished');
          assert.match(got.message, /is still \w+\. This step was called back before the job ended/);
          named = /Find Generation search \(Kind: (\w+), ID: ([^)]+)\)/.exec(got.message);
          return Boolean(named);
        });
        const [, kind, id] = named;
        assert.equal(kind, one.job, one.action);
        // The search it names fetches the job the step kept.
        const [found] = await appTester(app.searches.find_generation.operation.perform, {
          authData: auth,
          inputData: { kind, id },
        });
        assert.ok(found, one.action);
        assert.equal(String(found.id || found.batch_id), id, one.action);
      }
    } finally {
      timing.resumeWaitMs = saved;
    }
    await advanceHeld(3600);
  });
});
