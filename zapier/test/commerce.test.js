'use strict';

// The commerce flow of samples/zapier/commerce-flow.json, run step by step as Zapier would
// run the Zap: each CreativeAI step's inputs mapped from earlier steps; steps that wait
// are parked with a callback URL and resumed with what the relay forwards to it.

const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');

const zapier = require('zapier-platform-core');
const app = require('../index.js');
const { authData, recorder, waitFor } = require('./support');

const FLOW = require(path.join(__dirname, '..', '..', 'samples', 'zapier', 'commerce-flow.json'));

// What the other apps' steps would output, where later steps map from them.
const OTHER_APPS = { keep: { alternate_link: 'https://drive.example/files/MUG-001.mp4' } };

const appTester = zapier.createAppTester(app);
const handler = zapier.createAppHandler(app);

// `{{clip.output_url}}`, `{{still.data[0].url}}`: a value from an earlier step.
const lookup = (outputs, reference) => {
  const [step, ...parts] = reference.replace(/\[(\d+)\]/g, '.$1').split('.');
  let value = outputs[step];
  for (const part of parts) {
    assert.ok(value !== undefined && value !== null, `${reference}: ${step} has no ${part}`);
    value = value[part];
  }
  assert.notEqual(value, undefined, `${reference} is not in the earlier steps' outputs`);
  return value;
};

const mapped = (input, outputs) =>
  Object.fromEntries(
    Object.entries(input).map(([key, value]) => {
      const whole = typeof value === 'string' && /^\{\{([^}]+)\}\}$/.exec(value);
      return [key, whole ? lookup(outputs, whole[1]) : value];
    }),
  );

let zapierSide;
before(async () => {
  zapierSide = await recorder(() => ({ body: { status: 'success' } }));
});
after(() => zapierSide.close());

const runStep = async (step, inputData) => {
  const create = app.creates[step.action];
  const auth = authData({ relay: true });
  if (!inputData.wait_for_result) {
    return appTester(create.operation.perform, { authData: auth, inputData });
  }
  const callbackUrl = `${zapierSide.url}/callbacks/${step.id}`;
  const parked = await handler({
    command: 'execute',
    method: `creates.${step.action}.operation.perform`,
    bundle: { authData: auth, inputData, meta: {} },
    callback_url: callbackUrl,
  });
  assert.equal(parked.status, 'CALLBACK', `${step.id} waits`);
  const forwarded = await waitFor(
    () => zapierSide.requests.find((request) => request.url === `/callbacks/${step.id}`),
    { what: `the result of ${step.id}` },
  );
  return appTester(create.operation.performResume, {
    authData: auth,
    inputData,
    outputData: parked.results,
    cleanedRequest: JSON.parse(forwarded.text),
  });
};

test('the commerce flow: product image -> still -> clip + narration -> narrated MP4', async () => {
  const [product] = (
    await appTester(app.creates.image_generate.operation.perform, {
      authData: authData(),
      inputData: { prompt: 'A travel mug on a kitchen table' },
    })
  ).data;
  const outputs = { trigger: { ...FLOW.trigger.sample, product_image_url: product.url } };

  for (const step of FLOW.steps) {
    if (step.app !== 'CreativeAI') {
      // Another app's step: what it maps from earlier steps must exist.
      mapped(step.input, outputs);
      outputs[step.id] = OTHER_APPS[step.id] || {};
      continue;
    }
    const fields = app.creates[step.action].operation.inputFields.map((field) => field.key);
    for (const key of Object.keys(step.input)) {
      assert.ok(fields.includes(key), `${step.id}: ${step.action} has no field ${key}`);
    }
    outputs[step.id] = await runStep(step, mapped(step.input, outputs));
  }

  const final = outputs.final;
  assert.equal(final.status.toLowerCase(), 'completed');
  assert.ok(final.file.includes(final.output_url));
  const video = Buffer.from(await (await fetch(final.output_url)).arrayBuffer());
  assert.equal(video.subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4');
  assert.ok(video.includes(Buffer.from('soun')), 'with a sound track');
});
