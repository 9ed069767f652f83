'use strict';

// The connection: an API key, the API's base URL and, optionally, a relay.

const api = require('../generated/api');
const { baseUrl, callApi, callRelay, relayUrl } = require('./http');

const hostOf = (url) => {
  try {
    return new URL(url).host;
  } catch (error) {
    return url;
  }
};

const INBOX = '/v1/inbox';

// Any call with the key proves it: the model list is cheap and always there. With a relay,
// the relay must answer too, and accept the key.
const testConnection = async (z, bundle) => {
  const response = await callApi(z, bundle, { method: 'GET', path: api.modelsPath });
  const models = response.data && Array.isArray(response.data.data) ? response.data.data : [];
  const out = { models: models.length };
  if (relayUrl(bundle)) {
    const inbox = await callRelay(z, bundle, { method: 'GET', path: INBOX });
    if (!inbox.data || typeof inbox.data.webhook_url !== 'string') {
      throw new z.errors.Error(
        `Relay: ${relayUrl(bundle)} answered, but not as a CreativeAI relay does (no inbox). ` +
          'Check the Relay URL.',
        'relay_unexpected',
        502,
      );
    }
    out.relay = 'ok';
  }
  return out;
};

// The key's last four characters tell two accounts apart; the rest of it never shows.
const keyHint = (bundle) => {
  const key = String((bundle.authData && bundle.authData.api_key) || '').trim();
  return key.length >= 12 ? `key …${key.slice(-4)}` : 'key';
};

// "<API host> (key …abcd)", or "<API host> (key …abcd) via <relay host>".
const connectionLabel = (z, bundle) => {
  const relay = relayUrl(bundle);
  const label = `${hostOf(baseUrl(bundle))} (${keyHint(bundle)})`;
  return relay ? `${label} via ${hostOf(relay)}` : label;
};

module.exports = { connectionLabel, testConnection };
