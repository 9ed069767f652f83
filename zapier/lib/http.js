'use strict';

// Requests to CreativeAI and to the relay: the API key goes to those two hosts only,
// and their error answers become errors a Zap shows (never with the key in them).

const api = require('../generated/api');

const trimmed = (url) =>
  String(url || '')
    .trim()
    .replace(/\/+$/, '');

const authOf = (bundle) => (bundle && bundle.authData) || {};

const baseUrl = (bundle) => trimmed(authOf(bundle).base_url) || api.defaultBaseUrl;

const relayUrl = (bundle) => trimmed(authOf(bundle).relay_url) || null;

const isUnder = (url, root) =>
  Boolean(root) && (url === root || url.startsWith(`${root}/`) || url.startsWith(`${root}?`));

// The key never goes to a CDN or a file host, only to the API and the relay.
const ownsUrl = (bundle, url) =>
  isUnder(String(url || ''), baseUrl(bundle)) || isUnder(String(url || ''), relayUrl(bundle));

const addApiKey = (request, z, bundle) => {
  const key = authOf(bundle).api_key;
  if (key && ownsUrl(bundle, request.url)) {
    request.headers = { ...request.headers, [api.auth.header]: `${api.auth.scheme} ${key}` };
  }
  return request;
};

const header = (response, name) => {
  const value = response.headers && response.headers.get(name);
  return value === null || value === undefined ? null : String(value);
};

// Seconds to wait, as the answer says: milliseconds header first, then Retry-After
// (seconds or an HTTP date).
const retryDelay = (response) => {
  const ms = header(response, api.headers.retryAfterMs);
  if (ms !== null && Number.isFinite(Number(ms)) && Number(ms) >= 0) {
    return Math.ceil(Number(ms) / 1000);
  }
  const raw = header(response, api.headers.retryAfter);
  if (raw === null) {
    return null;
  }
  if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) {
    return Math.ceil(Number(raw));
  }
  const when = Date.parse(raw);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
};

const contentOf = (response) => {
  try {
    return typeof response.content === 'string' ? response.content : '';
  } catch (error) {
    return ''; // a streamed (raw) answer has no content
  }
};

const parsedBody = (response) => {
  try {
    return JSON.parse(contentOf(response));
  } catch (error) {
    return null;
  }
};

// What the API (`{error: {code, message, param}}`, or a legacy `{error: "..."}`) or the
// relay (`{error: {code, message, field}}`) says went wrong.
const errorDetail = (response) => {
  const body = parsedBody(response);
  const error = body && typeof body === 'object' ? body.error : null;
  if (error && typeof error === 'object') {
    return {
      code: error.code || error.type || null,
      message: error.message || '',
      field: error.param || error.field || null,
    };
  }
  if (typeof error === 'string') {
    return { code: null, message: error, field: null };
  }
  const text = contentOf(response).trim();
  return { code: null, message: text.slice(0, 300), field: null };
};

const sentence = (text) => (/[.!?]$/.test(text) ? text : `${text}.`);

const withoutKey = (text, bundle) => {
  const key = authOf(bundle).api_key;
  return key ? String(text).split(key).join(':censored:') : String(text);
};

// What to do about a refused key, rather than the answer's own words.
const UNAUTHORIZED = {
  api:
    'the API key was not accepted (HTTP 401). Reconnect CreativeAI with a valid key: find ' +
    'it under Dashboard → API Keys.',
  relay:
    "the relay did not accept this connection's API key (HTTP 401). Check that the Relay URL " +
    'is your own relay and that it accepts this key; or clear Relay URL.',
};

const describe = (bundle, response, detail) => {
  const info =
    api.errors[detail.code] ||
    Object.values(api.errors).find((known) => known.status === response.status) ||
    null;
  const fromRelay = isUnder(String(response.request.url), relayUrl(bundle));
  const who = fromRelay ? 'Relay' : 'CreativeAI';
  if (response.status === 401) {
    return `${who}: ${UNAUTHORIZED[fromRelay ? 'relay' : 'api']}`;
  }
  if (fromRelay && response.status === 404 && !detail.code) {
    return (
      `Relay: nothing at ${response.request.url} (HTTP 404): the Relay URL of this ` +
      'connection does not lead to a CreativeAI relay. Check it (scheme, host, port, no path).'
    );
  }
  const what = detail.message || (info ? info.title : `HTTP ${response.status}`);
  const field = detail.field ? ` (field: ${detail.field})` : '';
  // The catalog's advice helps where the answer says nothing itself.
  const advice = info && !fromRelay && !detail.message ? ` ${info.advice}` : '';
  return `${who}: ${sentence(what + field)}${advice}`;
};

// The error a Zap shows for an answer of 400 or more: 429 becomes ThrottledError with the
// delay the answer asks for, anything else z.errors.Error with the API's code and message.
const errorFor = (z, bundle, response) => {
  const detail = errorDetail(response);
  const message = withoutKey(describe(bundle, response, detail), bundle);
  if (response.status === 429) {
    return new z.errors.ThrottledError(message, retryDelay(response));
  }
  return new z.errors.Error(message, detail.code || `http_${response.status}`, response.status);
};

// afterResponse: answers of the API and the relay; core handles any other host's.
const raiseForErrors = (response, z, bundle) => {
  const ours = ownsUrl(bundle, response.request && response.request.url);
  if (ours && response.status >= 400 && !response.skipThrowForStatus) {
    throw errorFor(z, bundle, response);
  }
  return response;
};

const send = (z, root, { method, path, json, form, query, skipThrowForStatus }) => {
  const request = {
    method,
    url: `${root}${path}`,
    headers: { Accept: 'application/json' },
    params: query || {},
    skipThrowForStatus: Boolean(skipThrowForStatus),
    // Our afterResponse turns 429 into ThrottledError with the API's own delay headers.
    throwForThrottlingEarly: false,
  };
  if (json !== undefined) {
    request.headers['Content-Type'] = 'application/json';
    request.body = JSON.stringify(json);
  } else if (form !== undefined) {
    Object.assign(request.headers, form.getHeaders());
    request.body = form.getBuffer();
  }
  return z.request(request);
};

const callApi = (z, bundle, options) => send(z, baseUrl(bundle), options);

// Errors this app or core raise on purpose pass through; anything else a relay call throws
// (refused, unknown host, timeout, TLS) means the Relay URL cannot be reached.
const OWN_ERRORS = ['AppError', 'ThrottledError', 'HaltedError', 'ExpiredAuthError'];

const callRelay = async (z, bundle, options) => {
  const root = relayUrl(bundle);
  if (!root) {
    throw new z.errors.Error(
      'This needs a relay: add its URL to the connection (Relay URL) and try again.',
      'relay_required',
      400,
    );
  }
  try {
    return await send(z, root, options);
  } catch (error) {
    if (OWN_ERRORS.includes(error.name)) {
      throw error;
    }
    const reason = withoutKey(error.code || error.message || 'no answer', bundle);
    throw new z.errors.Error(
      `Relay: the Relay URL of this connection (${root}) cannot be reached (${reason}). ` +
        'Check that the relay is running and reachable from Zapier at that address ' +
        '(scheme, host and port), or clear Relay URL to use the actions without a relay.',
      'relay_unreachable',
      502,
    );
  }
};

module.exports = {
  addApiKey,
  baseUrl,
  callApi,
  callRelay,
  errorDetail,
  errorFor,
  ownsUrl,
  raiseForErrors,
  relayUrl,
  retryDelay,
};
