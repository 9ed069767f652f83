'use strict';

// The connection: an API key, the API's base URL and, optionally, a relay.

const api = require('../generated/api');
const { baseUrl, callApi, relayUrl } = require('./http');

const hostOf = (url) => {
  try {
    return new URL(url).host;
  } catch (error) {
    return url;
  }
};

// Any call with the key proves it: the model list is cheap and always there.
const testConnection = async (z, bundle) => {
  const response = await callApi(z, bundle, { method: 'GET', path: api.modelsPath });
  return response.data;
};

// "<API host>", or "<API host> via <relay host>": never anything about the key.
const connectionLabel = (z, bundle) => {
  const relay = relayUrl(bundle);
  const host = hostOf(baseUrl(bundle));
  return relay ? `${host} via ${hostOf(relay)}` : host;
};

module.exports = { connectionLabel, testConnection };
