'use strict';

// Shared helpers for the appTester suite: where the sandbox and the relay run (pytest
// starts both on 127.0.0.1 and passes their URLs), small local HTTP servers that record
// what they receive, and polling instead of sleeping.

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
  authData,
  control,
  details,
  env,
  parseMultipart,
  recorder,
  relayApi,
  waitFor,
};
