'use strict';

// Paid creates (the catalog's `steps`): Max Credits asks the price of the create's own body
// first and halts over the cap or when it cannot be priced; Record Key returns the job a
// key already started, through the relay's ledger; a wait that gives up names the job and
// the search that fetches it. Run by tests/test_zapier_credits.py with a sandbox of its
// own, so what the sandbox started (its jobs and batches) counts this file's runs only.

const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');

const zapier = require('zapier-platform-core');
const app = require('../../index.js');
const api = require('../../generated/api');
const { timing } = require('../../lib/operations');
const {
  authData,
  control,
  details,
  env,
  fillIn,
  held,
  keyDifference,
  operations,
  waitFor,
  zapierCallbacks,
} = require('../support');

const appTester = zapier.createAppTester(app);
const handler = zapier.createAppHandler(app);

// The paid creates, as pytest reads them from the catalog (`steps.capped`), with what the
// sandbox prices each one's example at: {catalog key: credits}.
const QUOTES = JSON.parse(process.env.ZAPIER_PAID || 'null');
if (!QUOTES) {
  throw new Error('ZAPIER_PAID is not set: run this file through tests/test_zapier_credits.py');
}
const paid = () => Object.entries(operations()).filter(([key]) => key in QUOTES);
const one = (key) => ({ key, ...operations()[key] });

const definitionOf = (op) => app.creates[op.action].operation;
const inputOf = (op, changes = {}) => ({
  ...fillIn(definitionOf(op).inputFields, op.example),
  ...(op.job ? { wait_for_result: false } : {}),
  ...changes,
});
const run = (op, changes, auth = authData()) =>
  appTester(definitionOf(op).perform, { authData: auth, inputData: inputOf(op, changes) });

// What the sandbox started: every job (a batch's videos too) and every batch.
const started = async (where = env()) => {
  const get = async (path) => {
    const response = await fetch(`${where.sandbox}/_sandbox/${path}`, {
      headers: { Authorization: `Bearer ${where.key}` },
    });
    return response.json();
  };
  return (await get('jobs')).jobs.length + (await get('batches')).batches.length;
};
const credits = async () => (await control('GET', 'keys')).keys[0].credits;

// The price the sandbox gives a batch of these prompts.
const batchQuote = async (prompts) => {
  const { sandbox, key } = env();
  const response = await fetch(`${sandbox}${api.steps.price.path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompts }),
  });
  assert.equal(response.status, 200, 'pricing a batch');
  return (await response.json()).credits;
};

const overCap = (estimate, cap) =>
  api.steps.overCap.replace('{estimate}', estimate).replace('{cap}', cap);

// The step's own words (in test mode core appends what it was executing).
const said = (error) => details(error).message.split('\nWhat happened:')[0];

const halted = (message) => (error) => {
  assert.equal(error.name, 'HaltedError');
  assert.equal(said(error), message);
  return true;
};

const fresh = (() => {
  let count = 0;
  return (what) => {
    count += 1;
    return `${what}-${process.pid}-${count}`;
  };
})();

// -- the cap -----------------------------------------------------------------------------------

describe('Max Credits', () => {
  for (const [key] of paid()) {
    test(`${key}: a cap under the estimate halts before anything is started or paid`, async () => {
      const op = one(key);
      const estimate = QUOTES[key];
      const [before, balance] = [await started(), await credits()];
      await assert.rejects(run(op, { max_credits: estimate - 1 }), halted(overCap(estimate, estimate - 1)));
      assert.equal(await started(), before, 'nothing started');
      assert.equal(await credits(), balance, 'nothing paid');
    });

    test(`${key}: a cap at the estimate starts it once and pays the estimate`, async () => {
      const op = one(key);
      const estimate = QUOTES[key];
      const balance = await credits();
      const output = await run(op, { max_credits: estimate });
      assert.equal(balance - (await credits()), estimate, 'started, and charged what was quoted');
      const charged = output.credits_charged ?? output.credits;
      if (op.job) {
        assert.equal(charged, estimate, 'the output says what it was charged');
      }
    });
  }

  test('a batch over the cap as a whole starts none of its videos', async () => {
    const op = one('batch.create');
    const prompts = [{ prompt: 'A mug, 360 degrees' }, { prompt: 'A mug on a desk' }];
    const each = await Promise.all(prompts.map((p) => batchQuote([p])));
    const total = await batchQuote(prompts);
    assert.equal(total, each.reduce((a, b) => a + b, 0));
    const cap = Math.max(...each); // enough for any one video, not for the batch
    const before = await started();
    const input = { prompts: prompts.map((p) => ({ ...p })) };
    await assert.rejects(run(op, { ...input, max_credits: cap }), halted(overCap(total, cap)));
    assert.equal(await started(), before, 'no video of the batch started');
    const batch = await run(op, { ...input, max_credits: total });
    assert.equal(await started(), before + 1 + prompts.length, 'the batch and its videos, once');
    assert.equal(batch.credits_charged, total, 'the batch says what it was charged');
  });

  test('a request the price endpoint cannot price is not started, with the reason', async () => {
    const op = one('video.create_from_text');
    const before = await started();
    await assert.rejects(run(op, { max_credits: 500, model: 'not-a-model' }), (error) => {
      assert.equal(error.name, 'HaltedError');
      const { message } = details(error);
      const head = api.steps.unpriceable.split('{reason}')[0].replace('{cap}', 500);
      assert.ok(message.startsWith(head), message);
      assert.match(message, /not-a-model/, 'the API says why');
      return true;
    });
    assert.equal(await started(), before);
  });

  test('a price check refused for a rate limit stays a ThrottledError; nothing starts', async () => {
    const op = one('voice.create');
    await control('POST', 'faults', {
      action: 'fail',
      status: 429,
      retry_after: 7,
      operation: api.steps.price.operation,
    });
    const before = await started();
    try {
      await assert.rejects(run(op, { max_credits: 100 }), (error) => {
        assert.equal(error.name, 'ThrottledError');
        assert.match(details(error).message, /^not started: the price of this request cannot be checked/);
        return true;
      });
      assert.equal(await started(), before);
    } finally {
      await control('DELETE', 'faults');
    }
  });

  test('without a cap no price is asked (a broken price endpoint does not matter)', async () => {
    const op = one('voice.create');
    await control('POST', 'faults', { action: 'fail', status: 500, operation: api.steps.price.operation });
    const before = await started();
    try {
      await run(op, {});
      assert.equal(await started(), before + 1);
    } finally {
      await control('DELETE', 'faults');
    }
  });

  test('a cap that is no whole number of 1 or more is refused naming the field', async () => {
    const op = one('voice.create');
    const before = await started();
    await assert.rejects(run(op, { max_credits: '0' }), (error) => {
      assert.match(details(error).message, /^Max Credits \(max_credits\): "0" is not allowed; expected a whole number/);
      return true;
    });
    assert.equal(await started(), before);
  });

  test('a finished job outputs what it was charged, and a failed one what was refunded', async () => {
    const op = one('video.create_from_text');
    const job = await run(op, { prompt: 'a failing clip [sandbox:fail]' });
    assert.ok(job.credits > 0, 'charged at the start');
    const [failed] = await waitFor(async () => {
      const found = await appTester(app.searches.find_generation.operation.perform, {
        authData: authData(),
        inputData: { kind: 'video', id: job.id },
      });
      return found[0] && found[0].state === 'failed' ? found : null;
    });
    assert.equal(failed.credits_refunded, job.credits);
  });
});

// -- the record key ----------------------------------------------------------------------------

describe('Record Key', () => {
  let zapierSide;
  before(async () => {
    zapierSide = await zapierCallbacks();
  });
  after(() => zapierSide.close());

  const relayed = () => authData({ relay: true });

  test('without a relay every run starts a job: two runs with one key, two creates', async () => {
    const op = one('voice.create');
    const key = fresh('sku');
    const before = await started();
    const first = await run(op, { record_key: key });
    const second = await run(op, { record_key: key });
    const creates = (await started()) - before;
    console.log(`CREATES_PER_TWO_RUNS without_relay=${creates}`);
    assert.equal(creates, 2);
    assert.notEqual(first.id, second.id);
    assert.ok(
      definitionOf(op).inputFields.find((f) => f.key === 'record_key').helpText.includes('needs the relay'),
    );
  });

  for (const [name] of paid()) {
    test(`${name}: with a relay the same key twice starts one job and returns it again`, async () => {
      const op = one(name);
      const key = fresh(`row/${name} #`); // a key may hold a slash, a space, a hash
      const balance = await credits();
      const first = await run(op, { record_key: key }, relayed());
      const [between, paidOnce] = [await started(), await credits()];
      assert.ok(paidOnce < balance, 'the first run paid');
      const second = await run(op, { record_key: key }, relayed());
      // A run made a create when the sandbox started something for it or charged for it.
      const secondCreated = between !== (await started()) || paidOnce !== (await credits());
      console.log(`CREATES_PER_TWO_RUNS with_relay ${name}=${1 + Number(secondCreated)}`);
      assert.ok(!secondCreated, 'the second run started and paid nothing');
      if (op.job) {
        const param = api.jobs[op.job].param;
        assert.equal(second[param], first[param], 'the same job');
        assert.match(second.note, /already started job/);
      } else {
        assert.deepEqual(
          keyDifference(first, second),
          { missing: [], unpromised: [] },
          'the same shape as a fresh answer',
        );
        assert.deepEqual(second.data.map((d) => d.url), first.data.map((d) => d.url), 'the same answer');
      }
    });
  }

  test('with a relay, a waiting step given a finished job of its key outputs it as a resumed one', async () => {
    const op = one('video.create_from_text');
    const key = fresh('sku');
    const callback = zapierSide.open();
    const before = await started();
    const parked = await handler({
      command: 'execute',
      method: `creates.${op.action}.operation.perform`,
      bundle: { authData: relayed(), inputData: inputOf(op, { record_key: key, wait_for_result: true }), meta: {} },
      callback_url: callback.url,
    });
    assert.equal(parked.status, 'CALLBACK');
    const id = parked.results.id;
    await waitFor(async () => {
      const [found] = await appTester(app.searches.find_generation.operation.perform, {
        authData: authData(),
        inputData: { kind: 'video', id },
      });
      return found && found.state === 'completed';
    });
    const again = await run(op, { record_key: key, wait_for_result: true }, relayed());
    assert.equal(await started(), before + 1, 'one job for two runs');
    assert.equal(again.id, id);
    assert.equal(again.state, 'completed');
    assert.deepEqual(keyDifference(definitionOf(op).sample, again), { missing: [], unpromised: [] });
  });

  test('a key whose job the API no longer has starts a new one, which the key then names', async () => {
    const op = one('voice.create');
    const key = fresh('sku');
    const { relay, key: apiKey } = env();
    const entry = `${relay}${api.steps.ledger.path}/${op.key}/${encodeURIComponent(key)}`;
    const headers = { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' };
    const put = await fetch(entry, { method: 'PUT', headers, body: JSON.stringify({ job_id: 'gen_gone0000' }) });
    assert.equal(put.status, 200);
    const before = await started();
    const first = await run(op, { record_key: key }, relayed());
    assert.equal(await started(), before + 1, 'a new job');
    const kept = await (await fetch(entry, { headers })).json();
    assert.equal(kept.job_id, first.id, 'the key names the new job');
    const again = await run(op, { record_key: key }, relayed());
    assert.equal(again.id, first.id);
    assert.equal(await started(), before + 1);
  });

  test('a ledger that does not keep the answer: the error names what was paid for', async () => {
    const op = one('image.generate');
    const key = fresh('big');
    const prompt = 'x'.repeat(Math.floor(api.steps.ledger.maxResultBytes / 3)); // echoed per image
    const balance = await credits();
    await assert.rejects(run(op, { record_key: key, prompt, n: 4 }, relayed()), (error) => {
      const message = said(error);
      const head = api.steps.unrecorded.split('{paid}')[0];
      assert.ok(message.startsWith(`${head}images http`), message);
      assert.equal(message.split(' ').filter((word) => /^https?:\/\//.test(word)).length, 4, message);
      assert.match(message, /but the relay's ledger did not keep it under this Record key \(/);
      return true;
    });
    assert.ok((await credits()) < balance, 'paid for');
    const { relay, key: apiKey } = env();
    const entry = `${relay}${api.steps.ledger.path}/${op.key}/${encodeURIComponent(key)}`;
    const found = await fetch(entry, { headers: { Authorization: `Bearer ${apiKey}` } });
    assert.equal(found.status, 404, 'nothing kept');
  });

  test('a ledger that cannot be asked starts nothing', async () => {
    const op = one('voice.create');
    const gone = { ...authData(), relay_url: 'http://127.0.0.1:9' }; // nothing listens there
    const before = await started();
    await assert.rejects(run(op, { record_key: fresh('sku') }, gone), (error) => {
      assert.equal(error.name, 'HaltedError');
      const head = api.steps.ledgerUnanswered.split('{reason}')[0];
      assert.ok(said(error).startsWith(head), said(error));
      return true;
    });
    assert.equal(await started(), before);
  });

  test('the job a key started that cannot be fetched back: nothing new starts', async () => {
    const op = one('voice.create');
    const key = fresh('sku');
    const first = await run(op, { record_key: key }, relayed());
    const before = await started();
    await control('POST', 'faults', { action: 'fail', status: 500, count: 5, operation: 'job.get' });
    try {
      await assert.rejects(run(op, { record_key: key }, relayed()), (error) => {
        assert.equal(error.name, 'HaltedError');
        const head = api.steps.reusedUnfetchable.split('{reason}')[0].replace('{id}', first.id);
        assert.ok(said(error).startsWith(head), said(error));
        return true;
      });
    } finally {
      await control('DELETE', 'faults');
    }
    assert.equal(await started(), before, 'no second job');
  });

  test('a key the ledger cannot take is refused naming the field and the rule', async () => {
    const op = one('voice.create');
    const before = await started();
    for (const key of ['x'.repeat(api.steps.ledger.maxKeyChars + 1), 'a\tb', '..']) {
      await assert.rejects(run(op, { record_key: key }, relayed()), (error) => {
        const message = said(error);
        assert.ok(message.startsWith('Record Key (record_key): '), message);
        assert.ok(message.endsWith(`is not allowed; expected ${api.steps.ledger.keyRule}.`), message);
        return true;
      });
    }
    assert.equal(await started(), before, 'nothing started');
  });

  test('a job that failed lets the key start again', async () => {
    const op = one('video.create_from_text');
    const key = fresh('sku');
    const before = await started();
    const failing = await run(op, { record_key: key, prompt: 'a failing clip [sandbox:fail]' }, relayed());
    await waitFor(async () => {
      const [found] = await appTester(app.searches.find_generation.operation.perform, {
        authData: authData(),
        inputData: { kind: 'video', id: failing.id },
      });
      return found && found.state === 'failed';
    });
    const retried = await run(op, { record_key: key }, relayed());
    assert.notEqual(retried.id, failing.id, 'a new job');
    assert.equal(await started(), before + 2);
    const third = await run(op, { record_key: key }, relayed());
    assert.equal(third.id, retried.id, 'the key now names the new job');
    assert.equal(await started(), before + 2);
  });

  test('a job of the key still running when a waiting step gives up: the error names it and the search', async () => {
    const op = one('voice.create');
    const slow = { api_key: held().key, base_url: held().sandbox, relay_url: env().relay };
    const key = fresh('sku');
    const first = await run(op, { record_key: key }, slow);
    const saved = timing.reuseWaitMs;
    timing.reuseWaitMs = 1500;
    let named;
    try {
      await assert.rejects(run(op, { record_key: key, wait_for_result: true }, slow), (error) => {
        const got = details(error);
        assert.equal(got.code, 'job_not_finished');
        assert.match(got.message, /no new job was paid for/);
        named = /Find Generation search \(Kind: (\w+), ID: ([^)]+)\)/.exec(got.message);
        return Boolean(named);
      });
    } finally {
      timing.reuseWaitMs = saved;
    }
    assert.deepEqual(named.slice(1), [op.job, first.id]);
    assert.equal(await started(held()), 1, 'one job on the held sandbox');
    const [found] = await appTester(app.searches.find_generation.operation.perform, {
      authData: slow,
      inputData: { kind: named[1], id: named[2] },
    });
    assert.equal(found.id, first.id, 'the search it names fetches the job');
  });
});
