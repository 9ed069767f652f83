'use strict';

// The live model list (GET on the API's models path), for dynamic dropdowns.

const api = require('../generated/api');
const { callApi } = require('./http');

// Models of one type (video, image, image-edit), or all of them when `type` is null. The
// API's docs do not promise a `type` on the listed models: when none carries one, the
// catalog's known models of that type (`known`) are offered instead (ModelSource.choices).
const listModels = async (z, bundle, type, known = []) => {
  const response = await callApi(z, bundle, { method: 'GET', path: api.modelsPath });
  const listed = response.data && Array.isArray(response.data.data) ? response.data.data : [];
  const models = listed.filter((model) => model && model.id);
  if (!type) {
    return models;
  }
  if (!models.some((model) => model.type)) {
    return known.map((id) => ({ id, object: 'model', owned_by: null, type }));
  }
  return models.filter((model) => model.type === type);
};

module.exports = { listModels };
