'use strict';

// Every case of the shared table (tests/cases/operations.json) for an operation Zapier
// shows: the builder's input, filled into this app's own fields, must make exactly the
// request the table names. A local server records what the app sends.

const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');

const zapier = require('zapier-platform-core');
const app = require('../index.js');
const { fillIn, operations, parseMultipart, recorder } = require('./support');

const appTester = zapier.createAppTester(app);
// pytest passes the written table plus one case from the catalog for any operation it lacks.
const TABLE =
  process.env.OPERATION_CASES || path.join(__dirname, '..', '..', 'tests', 'cases', 'operations.json');
const { cases } = require(TABLE);
const KEY = 'sk-table-test';

const OPERATIONS = operations();

// What the app sent, in the table's terms.
const asTableRequest = (request) => {
  const out = { method: request.method, path: request.path };
  if (request.method === 'GET') {
    assert.equal(request.raw.length, 0, 'a GET without a body');
    return out;
  }
  const type = request.headers['content-type'] || '';
  if (type.startsWith('multipart/form-data')) {
    out.multipart = parseMultipart(request);
  } else {
    assert.match(type, /^application\/json/);
    out.json = JSON.parse(request.text);
  }
  return out;
};

const runCase = async (one, authData, files) => {
  const operation = OPERATIONS[one.operation];
  if (operation.kind === 'get') {
    const search = app.searches.find_generation.operation;
    const [id] = Object.values(one.input);
    return appTester(search.perform, { authData, inputData: { kind: operation.job, id } });
  }
  if (operation.kind === 'list') {
    return appTester(app.triggers.models.operation.perform, { authData, inputData: {} });
  }
  const create = app.creates[operation.action].operation;
  // The table is about the request a builder's input makes; waiting adds this step's own
  // webhook URL (see catalog.test.js and callback.test.js).
  const waiting = operation.job ? { wait_for_result: false } : {};
  const inputData = { ...fillIn(create.inputFields, one.input, files.serve), ...waiting };
  return appTester(create.perform, { authData, inputData });
};

describe('the shared operation table', () => {
  let api;
  let fileHost;
  const served = new Map();

  before(async () => {
    api = await recorder((request) =>
      request.path === '/v1/models' ? { body: { object: 'list', data: [] } } : { body: {} },
    );
    fileHost = await recorder((request) => {
      const file = served.get(request.path);
      return file
        ? { headers: { 'Content-Type': file.content_type }, body: Buffer.from(file.base64, 'base64') }
        : { status: 404 };
    });
  });

  after(async () => {
    await api.close();
    await fileHost.close();
  });

  const files = {
    serve: (file) => {
      const where = `/uploads/${served.size}/${file.filename}`;
      served.set(where, file);
      return `${fileHost.url}${where}`;
    },
  };

  for (const one of cases) {
    test(one.name, async (t) => {
      if (!OPERATIONS[one.operation]) {
        t.skip(`${one.operation} is not shown on Zapier`);
        return;
      }
      const before = api.requests.length;
      const fetched = fileHost.requests.length;
      await runCase(one, { api_key: KEY, base_url: api.url }, files);
      const sent = api.requests.slice(before);
      assert.equal(sent.length, 1, 'exactly one request to the API');
      assert.deepEqual(asTableRequest(sent[0]), one.request);
      assert.equal(sent[0].headers.authorization, `Bearer ${KEY}`);
      for (const download of fileHost.requests.slice(fetched)) {
        assert.equal(download.headers.authorization, undefined, 'no key to a file host');
      }
    });
  }
});
