'use strict';

// The live model list (GET on the API's models path), for dynamic dropdowns.

const api = require('../generated/api');
const { callApi } = require('./http');

// Models of one type (video, image, image-edit), or all of them when `type` is null. A
// model the API lists without a type is offered everywhere.
const listModels = async (z, bundle, type) => {
  const response = await callApi(z, bundle, { method: 'GET', path: api.modelsPath });
  const models = response.data && Array.isArray(response.data.data) ? response.data.data : [];
  return models
    .filter((model) => model && model.id)
    .filter((model) => !type || !model.type || model.type === type);
};

module.exports = { listModels };
