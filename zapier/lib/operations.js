'use strict';

// Creates: send the request and, for jobs, wait for the result.
//
// Waiting: perform starts the job with a webhook URL that leads back to this step's
// callback URL (z.generateCallbackUrl()) and returns within seconds; Zapier parks the step
// and runs performResume when something POSTs to that URL.
// - Without a relay, the job's webhook goes to the callback URL itself. Zapier cannot check
//   the API's signature, so performResume never trusts what was posted: it only takes the
//   posted job id as a hint, checks it is the job this step started, and fetches that job
//   from the API with the connection's key. A forged or early POST can at most make the
//   step look the job up early: a job still running is waited for a little longer, then the
//   step fails and says how to get the result. Zapier resumes a parked step once, so the
//   API's retries of the same webhook never resume it twice.
// - With a relay, perform asks the relay for a route to the callback URL; the relay checks
//   the signature, drops duplicates, retries with a delivery log, then forwards. The step
//   is resumed the same way (the job is fetched back), so both paths output the same.

const api = require('../generated/api');
const { callApi, callRelay, relayUrl } = require('./http');
const { buildBody, coerce, isEmpty } = require('./input');
const { alreadyStarted, checkCap, keepStarted, ledgerFor, paidOptions } = require('./paid');
const { attachFiles, multipartForm } = require('./files');
const { WAIT_FIELD } = require('./fields');
const { jobState, shape } = require('./results');

const ROUTES = '/v1/routes';
const INBOX = '/v1/inbox';

const LATER =
  'The job runs on: get its result with the Find Generation search (by this id), ' +
  'or with a Zap that starts on the Generation Completed trigger.';
const NOT_WAITING = `Not waiting for the result (Wait for the Result is off). ${LATER}`;

const wantsToWait = (z, bundle) =>
  coerce(z, { ...WAIT_FIELD, allowed: 'true or false' }, bundle.inputData.wait_for_result) !==
  false;

// The create's request. A paid create then keeps what it started in the ledger, if any.
const send = async (z, bundle, operation, body, ledger = null) => {
  const request = { method: operation.method, path: operation.path };
  if (operation.body === 'multipart') {
    request.form = await multipartForm(z, bundle, operation, body);
  } else {
    request.json = body;
  }
  const response = await callApi(z, bundle, request);
  await keepStarted(z, operation, ledger, response.data);
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

const refuseOwnWebhook = (z, operation, body) => {
  if (!isEmpty(body[operation.webhookField])) {
    throw new z.errors.Error(
      `Webhook URL (${operation.webhookField}) cannot be used with Wait for the Result: ` +
        'the result comes back to this step itself. Clear one of the two.',
      'invalid_input',
      400,
    );
  }
};

// Through the relay: a route from a relay webhook URL to this step's callback URL.
const startThroughRelay = async (z, bundle, operation, body, ledger) => {
  const route = await openRoute(z, bundle, z.generateCallbackUrl());
  let job;
  try {
    const request = { ...body, [operation.webhookField]: route.webhook_url };
    job = await send(z, bundle, operation, request, ledger);
  } catch (error) {
    await closeRoute(z, bundle, route);
    throw error;
  }
  return { ...job, relay_route_id: route.route_id };
};

// Without a relay: the job reports straight to this step's callback URL.
const startAndPark = async (z, bundle, operation, body, ledger) => {
  const callbackUrl = z.generateCallbackUrl();
  return send(z, bundle, operation, { ...body, [operation.webhookField]: callbackUrl }, ledger);
};

// Start a job and hand back its id at once. With a relay, the job reports to the relay's
// inbox, so the Generation Completed trigger sees it.
const startOnly = async (z, bundle, operation, body, note, ledger) => {
  const request = { ...body };
  if (relayUrl(bundle) && isEmpty(request[operation.webhookField])) {
    const inbox = await callRelay(z, bundle, { method: 'GET', path: INBOX });
    request[operation.webhookField] = inbox.data.webhook_url;
  }
  return { ...shape(operation.job, await send(z, bundle, operation, request, ledger)), note };
};

// A job the record key already started, returned as a fresh start of it would be: waited
// for as this step waits (polling here, within Zapier's 30 seconds for one run, as its
// webhook reports to the step that started it), or at once with Wait for the Result off.
const reusedJob = async (z, bundle, operation, job, key, waiting) => {
  const id = jobId(operation, job);
  const note = `${REUSED(key, id)} ${LATER}`;
  if (!waiting) {
    return { ...shape(operation.job, job), note };
  }
  const deadline = Date.now() + timing.reuseWaitMs;
  let result = job;
  while (!api.terminalStates.includes(jobState(operation.job, result)) && Date.now() < deadline) {
    await sleep(timing.pollMs);
    result = await fetchStatus(z, bundle, operation, id);
  }
  const why =
    `It was started earlier for Record Key ${JSON.stringify(key)} (no new job was paid for), ` +
    "and one run of a step has only Zapier's 30 seconds to wait for it";
  return finished(z, operation, id, result, why);
};

const perform = async (z, bundle, operation) => {
  const body = buildBody(z, operation, bundle.inputData);
  const paid = operation.paid ? paidOptions(z, bundle) : {};
  const waiting = Boolean(operation.job) && wantsToWait(z, bundle);
  if (waiting) {
    refuseOwnWebhook(z, operation, body);
    // The editor's test never resumes a parked step: show what a finished job looks like.
    if (bundle.meta && bundle.meta.isLoadingSample) {
      return operation.sample;
    }
  }
  const ledger = ledgerFor(z, bundle, operation, paid.key);
  const before = ledger ? await alreadyStarted(z, bundle, operation, ledger) : null;
  if (before && before.answer) {
    return attachFiles(z, shape(null, before.answer, operation.outputs), operation.files);
  }
  if (before && before.job) {
    return reusedJob(z, bundle, operation, before.job, paid.key, waiting);
  }
  if (paid.cap !== undefined) {
    await checkCap(z, bundle, operation, body, paid.cap);
  }
  if (!operation.job) {
    const answer = await send(z, bundle, operation, body, ledger);
    return attachFiles(z, shape(null, answer, operation.outputs), operation.files);
  }
  if (!waiting) {
    return startOnly(z, bundle, operation, body, NOT_WAITING, ledger);
  }
  return relayUrl(bundle)
    ? startThroughRelay(z, bundle, operation, body, ledger)
    : startAndPark(z, bundle, operation, body, ledger);
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

// How long performResume looks a job up again when it was called before the job ended
// (a forged or early POST), within Zapier's 30 seconds for one run of an action.
// `reuseWaitMs`: how long perform waits here for a job a record key already started (its
// own webhook goes to the step that started it), within the same 30 seconds.
const timing = { resumeWaitMs: 15000, reuseWaitMs: 20000, pollMs: 1000 };

const REUSED = (key, id) =>
  `Record Key ${JSON.stringify(key)} already started job ${id}: this is that job, not a new one.`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The job id a posted body names, if any (`batch_id` for batches).
const postedId = (operation, posted) => {
  const param = api.jobs[operation.job].param;
  const id = posted && typeof posted === 'object' ? posted[param] || posted.id : null;
  return id === undefined || id === null ? null : String(id);
};

// A wait that gives up keeps the job: the error names it and the one step that fetches it
// later (Find Generation, with its Kind and ID).
const stillRunning = (z, operation, id, state, why) =>
  new z.errors.Error(
    `${operation.label}: job ${id} is still ${state || 'running'}. ${why}. ` +
      `Get its result later with the Find Generation search (Kind: ${operation.job}, ID: ${id}), ` +
      'or with a Zap that starts on the Generation Completed trigger.',
    'job_not_finished',
    409,
  );

// The step's output for a job it waited for: the result, or why there is none yet.
const finished = (z, operation, id, result, why) => {
  const state = jobState(operation.job, result);
  if (!api.terminalStates.includes(state)) {
    throw stillRunning(z, operation, id, state, why);
  }
  if (api.failedStates.includes(state)) {
    throw failure(z, operation, result);
  }
  return attachFiles(z, shape(operation.job, result), operation.files);
};

const resume = async (z, bundle, operation) => {
  const started = bundle.outputData || {};
  const id = jobId(operation, started);
  if (!id) {
    throw new z.errors.Error(
      `${operation.label}: this step has no job to wait for (its start returned no id).`,
      'no_job',
      400,
    );
  }
  const named = postedId(operation, bundle.cleanedRequest);
  const foreign = named !== null && named !== String(id);
  if (foreign) {
    z.console.log(`Ignored a callback naming job ${named}: this step started job ${id}.`);
  }
  // Whatever was posted, the API has the last word: fetch the job with the connection's key.
  const deadline = Date.now() + timing.resumeWaitMs;
  let result = await fetchStatus(z, bundle, operation, id);
  while (!api.terminalStates.includes(jobState(operation.job, result)) && Date.now() < deadline) {
    await sleep(timing.pollMs);
    result = await fetchStatus(z, bundle, operation, id);
  }
  const why = foreign
    ? `This step was called back for another job (${named}), not by CreativeAI for its own`
    : 'This step was called back before the job ended, not by CreativeAI';
  return finished(z, operation, id, result, why);
};

module.exports = { perform, resume, timing };
