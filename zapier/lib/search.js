'use strict';

// Find Generation: one search over the API's status endpoints (video, batch, shared).

const api = require('../generated/api');
const { callApi, errorFor } = require('./http');
const { attachFiles } = require('./files');
const { shape } = require('./results');

const findGeneration = async (z, bundle) => {
  const kindName = String(bundle.inputData.kind || '').trim();
  const kind = api.jobs[kindName];
  if (!kind) {
    throw new z.errors.Error(
      `Kind (kind): ${JSON.stringify(kindName)} is not allowed; expected one of ${Object.keys(
        api.jobs,
      ).join(', ')}.`,
      'invalid_input',
      400,
    );
  }
  const id = String(bundle.inputData.id || '').trim();
  if (!id) {
    throw new z.errors.Error(
      'ID (id) is required: give the id returned when the job was created.',
      'invalid_input',
      400,
    );
  }
  const path = kind.path.replace(`{${kind.param}}`, encodeURIComponent(id));
  const response = await callApi(z, bundle, { method: 'GET', path, skipThrowForStatus: true });
  if (response.status === 404) {
    return [];
  }
  if (response.status >= 400) {
    throw errorFor(z, bundle, response);
  }
  return [await attachFiles(z, shape(kindName, response.data), kind.files)];
};

module.exports = { findGeneration };
