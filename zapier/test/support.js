'use strict';

// Shared helpers for the appTester suite: where the sandbox and the relay run (pytest
// starts both on 127.0.0.1 and passes their URLs), small local HTTP servers that record
// what they receive, and polling instead of sleeping.

const assert = require('node:assert/strict');
const http = require('http');

const need = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run this suite through pytest (tests/test_zapier_package.py), ` +
        'which starts the sandbox and the relay and passes their URLs; see test/README.md.',
    );
  }
  return value;
};

const env = () => ({
  sandbox: need('CREATIVEAI_SANDBOX_URL'),
  key: need('CREATIVEAI_API_KEY'),
  relay: need('CREATIVEAI_RELAY_URL'),
});

// The operations Zapier shows, as pytest reads them from the catalog:
// {catalog key: {kind, job, action, example}}, `example` being a builder's input (wire names).
const operations = () => {
  const listed = JSON.parse(process.env.ZAPIER_OPERATIONS || 'null');
  if (!listed) {
    throw new Error('ZAPIER_OPERATIONS is not set: run this suite through pytest');
  }
  return listed;
};

// The operations that start a job, and those that answer at once.
const jobCreates = () =>
  Object.entries(operations()).filter(([, one]) => one.kind === 'create' && one.job);
const instantCreates = () =>
  Object.entries(operations()).filter(
    ([, one]) => (one.kind === 'create' || one.kind === 'calculate') && !one.job,
  );

// The events a create's job can end with: {event: {operation, state, trigger, input}}.
const events = () => JSON.parse(process.env.ZAPIER_EVENTS || '{}');

// The output keys Zapier offers for mapping: nested keys joined by `__`, keys of list
// items after `[]` (over every item). A job's `parameters` are the settings it was started
// with, so their keys differ between runs; they count as one output.
const outputKeys = (value, prefix = '') => {
  const keys = new Set();
  for (const [name, inner] of Object.entries(value || {})) {
    const key = `${prefix}${name}`;
    if (Array.isArray(inner) && inner.length && inner.every((i) => i && typeof i === 'object')) {
      for (const item of inner) {
        outputKeys(item, `${key}[]`).forEach((k) => keys.add(k));
      }
    } else if (inner && typeof inner === 'object' && !Array.isArray(inner) && name !== 'parameters') {
      outputKeys(inner, `${key}__`).forEach((k) => keys.add(k));
    } else {
      keys.add(key);
    }
  }
  return keys;
};

// The keys a sample promises and a live run lacks, and those it has that the sample lacks.
const keyDifference = (sample, live) => {
  const promised = outputKeys(sample);
  const given = outputKeys(live);
  return {
    missing: [...promised].filter((k) => !given.has(k)).sort(),
    unpromised: [...given].filter((k) => !promised.has(k)).sort(),
  };
};

// A sandbox whose jobs end only when the test moves its clock (see `advanceHeld`).
const held = () => ({
  sandbox: need('CREATIVEAI_HELD_SANDBOX_URL'),
  key: need('CREATIVEAI_HELD_API_KEY'),
});

const advanceHeld = async (seconds) => {
  const { sandbox, key } = held();
  const response = await fetch(`${sandbox}/_sandbox/clock`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ advance: seconds }),
  });
  assert.ok(response.ok, `advancing the held sandbox's clock: ${response.status}`);
};

// A builder's value for a line-item column: number lists are typed comma-separated.
const cell = (value) => (Array.isArray(value) ? value.join(', ') : value);
const rows = (value) =>
  value.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, cell(v)])));

// A builder's input (wire names) filled into an action's fields: top-level fields by their
// wire name, line items by column, an object's parts in the fields named after it
// (chart_data.type -> chart_type), a file as the URL Zapier hands over (`file(value)`).
const fillIn = (inputFields, input, file = (value) => value) => {
  const data = {};
  for (const [name, value] of Object.entries(input)) {
    const field = inputFields.find((f) => f.key === name);
    if (field && field.children) {
      data[name] = rows(value);
    } else if (field && field.type === 'file') {
      data[name] = file(value);
    } else if (field) {
      data[name] = value;
    } else {
      assert.equal(typeof value, 'object', `no field for ${name}`);
      for (const [part, partValue] of Object.entries(value)) {
        const matches = inputFields.filter((f) => f.key.endsWith(`_${part}`));
        assert.equal(matches.length, 1, `one field for ${name}.${part}`);
        const [target] = matches;
        data[target.key] = target.children ? rows(partValue) : partValue;
      }
    }
  }
  return data;
};

// Zapier's side of a parked step, as its docs describe it: a callback URL resumes its step
// once, with the first POST it accepts. `answer(request, count)` may refuse a POST (as a
// Zapier outage would: {status: 503}); `onResume(request)` runs the step's performResume.
const zapierCallbacks = async () => {
  const calls = new Map();
  let count = 0;
  const server = await recorder((request) => {
    const call = calls.get(request.path);
    if (!call) {
      return { status: 404, body: { error: 'no such callback' } };
    }
    call.posts.push(request);
    const refused = call.answer(request, call.posts.length);
    if (refused) {
      return refused;
    }
    if (call.accepted) {
      return { status: 410, body: { error: 'this step was already resumed' } };
    }
    call.accepted = request;
    return { body: { status: 'success' } };
  });
  return {
    close: server.close,
    // A fresh callback URL, as z.generateCallbackUrl() returns one to perform.
    open: (answer = () => null) => {
      count += 1;
      const path = `/callbacks/${count}`;
      const call = { posts: [], accepted: null, answer };
      calls.set(path, call);
      return { url: `${server.url}${path}`, call };
    },
  };
};

const authData = ({ relay = false } = {}) => {
  const { sandbox, key, relay: relayUrl } = env();
  return { api_key: key, base_url: sandbox, ...(relay ? { relay_url: relayUrl } : {}) };
};

// Poll `check` until it returns something truthy.
const waitFor = async (check, { timeout = 10000, every = 20, what = 'a condition' } = {}) => {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
};

// A local server that records every request and answers with `respond(request)`
// ({status, headers, body}); 200 with an empty JSON object by default.
const recorder = async (respond = () => ({})) => {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method,
        url: req.url,
        path: req.url.split('?')[0],
        headers: req.headers,
        raw: Buffer.concat(chunks),
      };
      request.text = request.raw.toString('utf8');
      requests.push(request);
      const answer = respond(request) || {};
      const body =
        answer.body === undefined
          ? '{}'
          : Buffer.isBuffer(answer.body) || typeof answer.body === 'string'
            ? answer.body
            : JSON.stringify(answer.body);
      res.writeHead(answer.status || 200, {
        'Content-Type': 'application/json',
        ...(answer.headers || {}),
      });
      res.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
};

// The parts of a multipart/form-data body: {fields: {name: text}, files: {name: {...}}}.
const parseMultipart = (request) => {
  const type = request.headers['content-type'] || '';
  const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (!match) {
    throw new Error(`not multipart: ${type}`);
  }
  const boundary = Buffer.from(`--${match[1] || match[2]}`);
  const out = { fields: {}, files: {} };
  let start = request.raw.indexOf(boundary) + boundary.length;
  for (;;) {
    const end = request.raw.indexOf(boundary, start);
    if (end < 0) {
      break;
    }
    const part = request.raw.subarray(start + 2, end - 2); // skip CRLF after/before
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const name = /name="([^"]*)"/.exec(head)[1];
    const filename = /filename="([^"]*)"/.exec(head);
    if (filename) {
      const contentType = /content-type:\s*([^\r\n]+)/i.exec(head);
      out.files[name] = {
        filename: filename[1],
        content_type: contentType ? contentType[1].trim() : null,
        base64: content.toString('base64'),
      };
    } else {
      out.fields[name] = content.toString('utf8');
    }
    start = end + boundary.length;
  }
  return out;
};

// A sandbox control call (`/_sandbox/...`), as any local client may make.
const control = async (method, path, body) => {
  const { sandbox, key } = env();
  const response = await fetch(`${sandbox}/_sandbox/${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`sandbox control ${method} ${path}: ${response.status}`);
  }
  return response.json();
};

// A relay management call with the test key.
const relayApi = async (method, path) => {
  const { relay, key } = env();
  const response = await fetch(`${relay}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}` },
  });
  return { status: response.status, body: await response.json().catch(() => null) };
};

// What an error thrown by core carries: AppError and ThrottledError keep JSON messages.
const details = (error) => {
  try {
    return { name: error.name, ...JSON.parse(error.message) };
  } catch (parseError) {
    return { name: error.name, message: error.message };
  }
};

module.exports = {
  advanceHeld,
  authData,
  control,
  details,
  env,
  events,
  fillIn,
  held,
  instantCreates,
  jobCreates,
  keyDifference,
  operations,
  outputKeys,
  parseMultipart,
  recorder,
  relayApi,
  waitFor,
  zapierCallbacks,
};
