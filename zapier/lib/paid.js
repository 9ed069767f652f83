'use strict';

// What every paid create adds to its request (the catalog's `steps`):
// - Max Credits: the price endpoint prices the create's own body first; over the cap, or
//   when the price cannot be checked, the step halts before the paid request (nothing is
//   started or paid). A batch is priced as a whole, so its cap is for the whole batch.
// - Record Key: with a relay, the relay's ledger keeps which job (or, for a create that
//   answers at once, which answer) a key started. Started again with the same key, the
//   step returns that job instead of paying again, while it lives and has not failed.
//   Without a relay there is no ledger: the field's help says so and the step runs as usual.

const api = require('../generated/api');
const { callApi, callRelay, errorDetail, errorFor, relayUrl, retryDelay } = require('./http');
const { coerce, isEmpty } = require('./input');
const { MAX_CREDITS_FIELD, RECORD_KEY_FIELD } = require('./fields');
const { jobState } = require('./results');

const LEDGER = api.steps.ledger.path;

// "{estimate} ... {cap}" filled in.
const fill = (template, values) =>
  template.replace(/\{(\w+)\}/g, (whole, name) =>
    values[name] === undefined ? whole : String(values[name]),
  );

// What an error says, without core's JSON wrapping of an AppError.
const reasonOf = (error) => {
  try {
    return JSON.parse(error.message).message || error.message;
  } catch (parseError) {
    return String(error.message || error.code || 'no answer');
  }
};

const CAP_SPEC = {
  ...MAX_CREDITS_FIELD,
  minimum: api.steps.maxCredits.minimum,
  allowed: `a whole number of credits, ${api.steps.maxCredits.minimum} or more`,
};

// The step's options as given: {cap: number|undefined, key: string|undefined}.
const paidOptions = (z, bundle) => {
  const input = bundle.inputData || {};
  const cap = coerce(z, CAP_SPEC, input[MAX_CREDITS_FIELD.key]);
  const raw = input[RECORD_KEY_FIELD.key];
  // As given (the ledger is shared with the other platforms): only an empty one is none.
  const key = isEmpty(raw) ? undefined : String(raw);
  return { cap, key };
};

// -- the cap ----------------------------------------------------------------------------------

// The create's own request as a price request: its JSON body, without file parts (the
// file does not change the price; a multipart create is priced by its other fields), a
// model left empty named as the one the API then uses.
const priceBody = (operation, body) => {
  const files = new Set(operation.fields.filter((f) => f.type === 'file').map((f) => f.wire));
  const priced = Object.fromEntries(Object.entries(body).filter(([wire]) => !files.has(wire)));
  for (const field of operation.fields) {
    if (field.apiDefault !== undefined && priced[field.wire] === undefined) {
      priced[field.wire] = field.apiDefault;
    }
  }
  return priced;
};

const unpriceable = (cap, reason) => fill(api.steps.unpriceable, { cap, reason });

// Ask the price; halt (z.errors.HaltedError: the step stops on purpose, the Zap is not an
// app failure) when it is over the cap or cannot be checked. A refusal for a rate limit
// stays a ThrottledError, so Zapier tries the step again later. Returns the estimate.
const checkCap = async (z, bundle, operation, body, cap) => {
  let response;
  try {
    response = await callApi(z, bundle, {
      method: api.steps.price.method,
      path: api.steps.price.path,
      json: priceBody(operation, body),
      skipThrowForStatus: true,
    });
  } catch (error) {
    if (error.name === 'ThrottledError' || error.name === 'HaltedError') {
      throw error;
    }
    throw new z.errors.HaltedError(unpriceable(cap, error.message || 'no answer'));
  }
  if (response.status >= 400) {
    const detail = errorDetail(response);
    const message = unpriceable(cap, detail.message || `HTTP ${response.status}`);
    if (response.status === 429) {
      throw new z.errors.ThrottledError(message, retryDelay(response));
    }
    throw new z.errors.HaltedError(message);
  }
  const estimate = Number(response.data && response.data.credits);
  if (!Number.isFinite(estimate)) {
    throw new z.errors.HaltedError(unpriceable(cap, 'the price endpoint named no credits'));
  }
  if (estimate > cap) {
    throw new z.errors.HaltedError(fill(api.steps.overCap, { estimate, cap }));
  }
  return estimate;
};

// -- the ledger -------------------------------------------------------------------------------

const entryPath = (operation, key) =>
  `${LEDGER}/${encodeURIComponent(operation.paid)}/${encodeURIComponent(key)}`;

// A key the ledger takes (the relay's rule, from the catalog), else an error naming the field.
const checkKey = (z, key) => {
  const rule = api.steps.ledger;
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f-\u009f]/u.test(key);
  if ([...key].length > rule.maxKeyChars || control || rule.dotKeys.includes(key)) {
    const shown = key.length > 60 ? `a text of ${key.length} characters` : JSON.stringify(key);
    throw new z.errors.Error(
      `${RECORD_KEY_FIELD.label} (${RECORD_KEY_FIELD.key}): ${shown} is not allowed; expected ${rule.keyRule}.`,
      'invalid_input',
      400,
    );
  }
};

// The relay's ledger for this step's record key, or null (no key, or no relay).
const ledgerFor = (z, bundle, operation, key) => {
  if (!key || !relayUrl(bundle) || !operation.paid) {
    return null;
  }
  checkKey(z, key);
  const path = entryPath(operation, key);
  return {
    key,
    // The entry, or null when the key has none (or it expired).
    // Nothing is started when the ledger cannot be asked: that would break one job per
    // record. A relay that asks to wait (429) is waited for.
    find: async () => {
      let response;
      try {
        response = await callRelay(z, bundle, { method: 'GET', path, skipThrowForStatus: true });
      } catch (error) {
        throw new z.errors.HaltedError(fill(api.steps.ledgerUnanswered, { reason: reasonOf(error) }));
      }
      if (response.status === 404 && errorDetail(response).code) {
        return null;
      }
      if (response.status >= 400) {
        const error = errorFor(z, bundle, response);
        if (error.name === 'ThrottledError') {
          throw error;
        }
        throw new z.errors.HaltedError(fill(api.steps.ledgerUnanswered, { reason: reasonOf(error) }));
      }
      return response.data;
    },
    // What the key started: a job's id, or the answer of a create that answers at once.
    keep: async (value) => {
      await callRelay(z, bundle, { method: 'PUT', path, json: value });
    },
  };
};

const jobParam = (operation) => api.jobs[operation.job].param;

// The job a ledger entry names, fetched back with the connection's key: null when the API
// no longer has it.
const fetchJob = async (z, bundle, operation, id) => {
  const kind = api.jobs[operation.job];
  const path = kind.path.replace(`{${kind.param}}`, encodeURIComponent(id));
  const unfetchable = (reason) =>
    new z.errors.HaltedError(fill(api.steps.reusedUnfetchable, { id, reason }));
  let response;
  try {
    response = await callApi(z, bundle, { method: 'GET', path, skipThrowForStatus: true });
  } catch (error) {
    throw unfetchable(reasonOf(error));
  }
  if (response.status === 404) {
    return null;
  }
  if (response.status >= 400) {
    const error = errorFor(z, bundle, response);
    if (error.name === 'ThrottledError') {
      throw error;
    }
    throw unfetchable(reasonOf(error));
  }
  return response.data;
};

// What the key already started and may be returned instead of a new job:
// {answer} (a create that answers at once), {job} (a job that has not failed), or null
// (none, gone, or failed: the step goes on and starts a new one).
const alreadyStarted = async (z, bundle, operation, ledger) => {
  const entry = await ledger.find();
  if (!entry) {
    return null;
  }
  if (entry.result && typeof entry.result === 'object' && !operation.job) {
    return { answer: entry.result };
  }
  if (!entry.job_id || !operation.job) {
    return null;
  }
  const job = await fetchJob(z, bundle, operation, entry.job_id);
  if (!job || api.failedStates.includes(jobState(operation.job, job))) {
    z.console.log(
      `Record key ${ledger.key}: job ${entry.job_id} ${job ? 'failed' : 'is gone'}; starting a new one.`,
    );
    return null;
  }
  return { job: { [jobParam(operation)]: entry.job_id, ...job } };
};

// What a paid answer paid for, as an error names it: "job <id>", or the images' URLs.
const paidFor = (operation, answer) => {
  if (operation.job) {
    return `job ${answer[jobParam(operation)]}`;
  }
  const urls = (Array.isArray(answer.data) ? answer.data : []).map((item) => item && item.url);
  return `images ${urls.filter(Boolean).join(' ')}`;
};

// After the paid request: keep what the key started. When the ledger does not keep it, the
// step fails naming what was paid for (the one place the builder sees it), as Make does.
const keepStarted = async (z, operation, ledger, answer) => {
  if (!ledger) {
    return;
  }
  const value = operation.job
    ? { job_id: String(answer[jobParam(operation)]) }
    : { result: answer };
  try {
    await ledger.keep(value);
  } catch (error) {
    throw new z.errors.Error(
      fill(api.steps.unrecorded, { paid: paidFor(operation, answer), reason: reasonOf(error) }),
      'ledger_unrecorded',
      502,
    );
  }
};

module.exports = { alreadyStarted, checkCap, keepStarted, ledgerFor, paidOptions, priceBody };
