'use strict';

// Creates: send the request and, for jobs, wait for the result through the relay.
//
// Waiting: perform asks the relay for a webhook URL bound to this step's callback URL
// (z.generateCallbackUrl()), starts the job with it and returns within seconds; Zapier
// parks the step. When the job ends, the API's signed webhook reaches the relay, which
// verifies and deduplicates it and forwards it to the callback URL; Zapier then runs
// performResume with that event as bundle.cleanedRequest.

const api = require('../generated/api');
const { callApi, callRelay, relayUrl } = require('./http');
const { buildBody, coerce, isEmpty } = require('./input');
const { attachFiles, multipartForm } = require('./files');
const { WAIT_FIELD } = require('./fields');

const ROUTES = '/v1/routes';
const INBOX = '/v1/inbox';

const LATER =
  'The job runs on: get its result with the Find Generation search (by this id), ' +
  'or with a Zap that starts on the Generation Completed trigger.';
const NOT_WAITING = `Not waiting for the result (Wait for the Result is off). ${LATER}`;
const NO_RELAY =
  'Not waiting for the result: this connection has no Relay URL, so the job id is ' +
  `returned at once. ${LATER}`;

const wantsToWait = (z, bundle) =>
  coerce(z, { ...WAIT_FIELD, allowed: 'true or false' }, bundle.inputData.wait_for_result) !==
  false;

const stateOf = (status) => api.states[String(status || '').toLowerCase()] || null;

const send = async (z, bundle, operation, body) => {
  const request = { method: operation.method, path: operation.path };
  if (operation.body === 'multipart') {
    request.form = await multipartForm(z, bundle, operation, body);
  } else {
    request.json = body;
  }
  const response = await callApi(z, bundle, request);
  return response.data;
};

// Ask the relay for a webhook URL that forwards this job's completion to `target`.
const openRoute = async (z, bundle, target) => {
  const response = await callRelay(z, bundle, {
    method: 'POST',
    path: ROUTES,
    json: { target_url: target },
  });
  return response.data;
};

const closeRoute = async (z, bundle, route) => {
  try {
    await callRelay(z, bundle, {
      method: 'DELETE',
      path: `${ROUTES}/${encodeURIComponent(route.route_id)}`,
      skipThrowForStatus: true,
    });
  } catch (error) {
    z.console.log(`Could not remove relay route ${route.route_id}: ${error.message}`);
  }
};

const startAndWait = async (z, bundle, operation, body) => {
  if (!isEmpty(body[operation.webhookField])) {
    throw new z.errors.Error(
      `Webhook URL (${operation.webhookField}) cannot be used with Wait for the Result: ` +
        'the result comes back to this step through the relay. Clear one of the two.',
      'invalid_input',
      400,
    );
  }
  const route = await openRoute(z, bundle, z.generateCallbackUrl());
  let job;
  try {
    job = await send(z, bundle, operation, { ...body, [operation.webhookField]: route.webhook_url });
  } catch (error) {
    await closeRoute(z, bundle, route);
    throw error;
  }
  return { ...job, relay_route_id: route.route_id };
};

// Start a job and hand back its id at once. With a relay, the job reports to the relay's
// inbox, so the Generation Completed trigger sees it.
const startOnly = async (z, bundle, operation, body, note) => {
  const request = { ...body };
  if (relayUrl(bundle) && isEmpty(request[operation.webhookField])) {
    const inbox = await callRelay(z, bundle, { method: 'GET', path: INBOX });
    request[operation.webhookField] = inbox.data.webhook_url;
  }
  return { ...(await send(z, bundle, operation, request)), note };
};

const perform = async (z, bundle, operation) => {
  const body = buildBody(z, operation, bundle.inputData);
  if (!operation.job) {
    return attachFiles(z, await send(z, bundle, operation, body), operation.files);
  }
  if (!wantsToWait(z, bundle)) {
    return startOnly(z, bundle, operation, body, NOT_WAITING);
  }
  if (!relayUrl(bundle)) {
    return startOnly(z, bundle, operation, body, NO_RELAY);
  }
  // The editor's test never resumes a parked step: show what a finished job looks like.
  if (bundle.meta && bundle.meta.isLoadingSample) {
    return operation.sample;
  }
  return startAndWait(z, bundle, operation, body);
};

const jobId = (operation, job) => job[api.jobs[operation.job].param];

const fetchStatus = async (z, bundle, operation, id) => {
  const kind = api.jobs[operation.job];
  const path = kind.path.replace(`{${kind.param}}`, encodeURIComponent(id));
  const response = await callApi(z, bundle, { method: 'GET', path });
  return response.data;
};

const failure = (z, operation, result) => {
  const error = result.error && typeof result.error === 'object' ? result.error : {};
  const reason = error.message || result.error_message || 'no reason was given';
  const code = error.code || error.type || null;
  const advice = (code && api.jobFailures[code]) || '';
  const id = jobId(operation, result);
  return new z.errors.Error(
    `${operation.label} failed: ${reason} (${code ? `${code}, ` : ''}job ${id}). ${advice}`.trim(),
    code || 'generation_failed',
    400,
  );
};

const resume = async (z, bundle, operation) => {
  const accepted = bundle.outputData || {};
  let result = { ...accepted, ...(bundle.cleanedRequest || {}) };
  if (!api.terminalStates.includes(stateOf(result.status))) {
    // Not a completion event: the status endpoint has the last word.
    result = { ...accepted, ...(await fetchStatus(z, bundle, operation, jobId(operation, accepted))) };
  }
  if (api.failedStates.includes(stateOf(result.status))) {
    throw failure(z, operation, result);
  }
  return attachFiles(z, result, operation.files);
};

module.exports = { perform, resume, stateOf };
