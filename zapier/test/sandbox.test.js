'use strict';

// Every create and the search against the sandbox (no relay: creates return the job at
// once); the connection test; errors: 429, API errors, bad input; the key in no error
// and no log line.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');

const zapier = require('zapier-platform-core');
const app = require('../index.js');
const { authData, details, env, recorder, waitFor } = require('./support');

const appTester = zapier.createAppTester(app);

const perform = (key, inputData, auth = authData()) =>
  appTester(app.creates[key].operation.perform, { authData: auth, inputData });

const find = (kind, id) =>
  appTester(app.searches.find_generation.operation.perform, {
    authData: authData(),
    inputData: { kind, id },
  });

const isDehydratedFile = (value, url) =>
  typeof value === 'string' &&
  value.startsWith('hydrate|||') &&
  value.includes('hydrators.downloadFile') &&
  value.includes(url);

// Search until the job has finished; return what the search found.
const finished = (kind, id, done) =>
  waitFor(
    async () => {
      const [found] = await find(kind, id);
      return found && done(found) ? found : null;
    },
    { what: `${kind} ${id} to finish` },
  );

const sampleImage = async () => {
  const [image] = (await perform('image_generate', { prompt: 'A product on white' })).data;
  return image.url;
};

describe('creates and the search, against the sandbox', () => {
  test('Create Video From Text, then Find Generation until it is done', async () => {
    const job = await perform('video_create_from_text', {
      prompt: 'A drone shot over a coastal city',
      duration: 5,
      aspect_ratio: '16:9',
      wait_for_result: false,
    });
    assert.match(job.id, /\S/);
    assert.match(job.note, /Wait for the Result is off/);
    const found = await finished('video', job.id, (one) => one.status === 'completed');
    assert.match(found.output_url, /^http/);
    assert.ok(isDehydratedFile(found.file, found.output_url));
  });

  test('Create Video From Image with Wait for the Result off returns the job at once', async () => {
    const job = await perform('video_create_from_image', {
      prompt: 'Subtle camera push in',
      image_url: await sampleImage(),
      duration: 5,
      wait_for_result: false,
    });
    assert.equal(job.status, 'processing');
    assert.equal(job.state, 'processing');
    await finished('video', job.id, (one) => one.status === 'completed');
  });

  test('Create Video Batch with line items, found as a batch', async () => {
    const batch = await perform('batch_create', {
      prompts: [{ prompt: 'Product showcase' }, { prompt: 'Social clip', image_url: '' }, {}],
      duration: 5,
      wait_for_result: false,
    });
    assert.equal(batch.total_jobs, 2, 'empty line items are dropped');
    const found = await finished(
      'batch',
      batch.batch_id,
      (one) => one.completed + one.failed === one.total_jobs,
    );
    assert.equal(found.jobs.length, 2);
    for (const job of found.jobs) {
      assert.ok(isDehydratedFile(job.file, job.output_url));
    }
  });

  test('Create Voice, Compose Video and Audio and Create Chart Video finish on shared status', async () => {
    const voice = await perform('voice_create', {
      text: 'Meet the travel mug.',
      voice: 'nova',
      speed: '1.25',
      wait_for_result: 'false',
    });
    const narration = await finished('shared', voice.id, (one) => one.status === 'COMPLETED');
    assert.equal(narration.parameters.speed, 1.25, 'a typed-in number is sent as a number');

    const video = await perform('video_create_from_text', { prompt: 'Mug', wait_for_result: false });
    const clip = await finished('video', video.id, (one) => one.status === 'completed');
    const composed = await perform('compose_create', {
      video_url: clip.output_url,
      audio_url: narration.output_url,
      replace_audio: true,
      wait_for_result: false,
    });
    const done = await finished('shared', composed.id, (one) => one.status === 'COMPLETED');
    assert.ok(isDehydratedFile(done.file, done.output_url));

    const chart = await perform('chart_create', {
      chart_type: 'bar',
      chart_labels: ['Q1', 'Q2'],
      chart_datasets: [{ label: 'Revenue', data: '1.5, 2' }],
      animation_style: 'build_up',
      wait_for_result: false,
    });
    await finished('shared', chart.id, (one) => one.status === 'COMPLETED');
  });

  test('Generate Image and Edit Image answer at once, each image with its file', async () => {
    const generated = await perform('image_generate', { prompt: 'A mug', n: 2 });
    assert.equal(generated.data.length, 2);
    for (const image of generated.data) {
      assert.ok(isDehydratedFile(image.file, image.url));
    }
    const edited = await perform('image_edit', {
      image: generated.data[0].url,
      prompt: 'On a white studio background',
      model: 'seedream-v4.5-edit',
    });
    assert.ok(isDehydratedFile(edited.data[0].file, edited.data[0].url));
  });

  test('Calculate Price', async () => {
    const quote = await perform('price_calculate', { model: 'kling-o3-pro', duration: 10 });
    assert.equal(typeof quote.credits, 'number');
  });

  test('Find Generation finds nothing for an unknown id', async () => {
    assert.deepEqual(await find('video', 'vgen_000000000000'), []);
  });

  test('the model dropdowns list live models of their type', async () => {
    const video = await appTester(app.triggers.video_models.operation.perform, {
      authData: authData(),
      inputData: {},
    });
    assert.ok(video.length > 0 && video.every((model) => model.type === 'video'));
    const all = await appTester(app.triggers.models.operation.perform, {
      authData: authData(),
      inputData: {},
    });
    assert.ok(all.length > video.length);
  });
});

describe('errors', () => {
  test('429 becomes ThrottledError with the delay the API asks for', async () => {
    const { sandbox, key } = env();
    const direct = await fetch(`${sandbox}/api/generate/voice`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Hi [sandbox:rate_limit]' }),
    });
    assert.equal(direct.status, 429);
    const delay = Number(direct.headers.get('retry-after'));
    await assert.rejects(
      perform('voice_create', { text: 'Hi [sandbox:rate_limit]', wait_for_result: false }),
      (error) => {
        const got = details(error);
        assert.equal(got.name, 'ThrottledError');
        assert.equal(got.delay, delay);
        return true;
      },
    );
  });

  test('429 honours retry-after-ms and an HTTP-date Retry-After', async () => {
    const server = await recorder((request) =>
      request.text.includes('ms')
        ? { status: 429, headers: { 'retry-after-ms': '2500' }, body: {} }
        : {
            status: 429,
            headers: { 'Retry-After': new Date(Date.now() + 7000).toUTCString() },
            body: {},
          },
    );
    try {
      const auth = { api_key: 'sk-x', base_url: server.url };
      const delays = [];
      for (const text of ['ms', 'date']) {
        await assert.rejects(perform('voice_create', { text, wait_for_result: false }, auth), (e) => {
          delays.push(details(e).delay);
          return details(e).name === 'ThrottledError';
        });
      }
      assert.equal(delays[0], 3);
      assert.ok(delays[1] >= 6 && delays[1] <= 8, `about 7 s, got ${delays[1]}`);
    } finally {
      await server.close();
    }
  });

  test("an API error becomes z.errors.Error with the API's message, code and field", async () => {
    await assert.rejects(
      perform('video_create_from_text', { prompt: 'A cat [sandbox:content_policy]' }),
      (error) => {
        const got = details(error);
        assert.equal(got.name, 'AppError');
        assert.equal(got.code, 'content_policy_violation');
        assert.equal(got.status, 400);
        assert.match(got.message, /usage policy/);
        assert.match(got.message, /\(field: prompt\)/);
        return true;
      },
    );
  });

  test('bad input is refused before any request, naming the field, value and what is allowed', async () => {
    const cases = [
      [{ prompt: 'x', duration: 99 }, /Duration \(Seconds\) \(duration\): 99 .*from 3 to 15/],
      [{ prompt: 'x', resolution: '4k' }, /Resolution \(resolution\): "4k" .*one of 480p, 720p/],
      [{ prompt: 'x', image_url: 'not a url' }, /Source Image URL .*absolute http\(s\) URL/],
      [{ duration: 5 }, /Prompt \(prompt\) is required/],
      [{ prompt: 'x', failover: 'maybe' }, /Failover \(failover\): "maybe" .*true or false/],
    ];
    const server = await recorder();
    try {
      for (const [input, message] of cases) {
        const key = input.image_url ? 'video_create_from_image' : 'video_create_from_text';
        await assert.rejects(
          perform(key, { image_url: 'https://example.com/a.png', ...input }, {
            api_key: 'sk-x',
            base_url: server.url,
          }),
          (error) => {
            assert.equal(details(error).code, 'invalid_input');
            assert.match(details(error).message, message);
            return true;
          },
        );
      }
      await assert.rejects(
        perform('chart_create', { chart_image_url: 'https://example.com/c.png', chart_type: 'bar' }, {
          api_key: 'sk-x',
          base_url: server.url,
        }),
        /exactly one of Chart Image URL \(chart_image_url\) or Chart Data \(chart_data\)/,
      );
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });

  test('a failed authentication shows no key, and neither do the logs', async () => {
    const secret = 'sk-this-key-is-wrong-1234567890';
    const logged = [];
    // Core's handler, as Zapier runs it, with its log lines handed to us as it writes them.
    const run = zapier.createAppHandler(app)({
      command: 'execute',
      method: 'authentication.test',
      bundle: { authData: { ...authData(), api_key: secret }, inputData: {} },
      customLogger: (message, data) => logged.push(message, JSON.stringify(data)),
    });
    const failure = await run.then(
      () => assert.fail('a wrong key must fail'),
      (error) => error,
    );
    const got = details(failure);
    assert.equal(got.code, 'authentication_error');
    assert.equal(got.status, 401);
    assert.ok(!failure.message.includes(secret));
    const log = logged.join('\n');
    assert.match(log, /\/v1\/models/, 'the request was logged');
    assert.match(log, /Authorization: :censored:/, 'with its key header censored');
    assert.ok(!log.includes(secret), 'the key is not in the logs');
  });
});
