'use strict';

// What a step outputs, on every path (a resumed create, a lookup, a trigger, a create that
// answers at once): the status as the API spells it for that kind of job (a voice job is
// `COMPLETED` whether it came from polling, a webhook or a lookup), plus `state`, one word
// for every kind (pending, processing, completed, failed, canceled); timestamps in ISO 8601;
// none of the fields that only wire the step up (the webhook URL it reports to).

const api = require('../generated/api');

const stateOf = (status) => api.states[String(status || '').toLowerCase()] || null;

// Epoch seconds (the image API's `created`) as ISO 8601, as every other timestamp is.
const iso = (value) =>
  typeof value === 'number' && Number.isFinite(value)
    ? new Date(value * 1000).toISOString().replace('.000Z', 'Z')
    : value;

// Keys a step adds itself: the normalized state, the event's name, the file beside an
// output URL, the note of a step that did not wait.
const ADDED = ['id', 'state', 'event', 'file', 'note'];

// `keys`: the fields the catalog's model of this answer declares (null: keep all). A field
// the catalog does not know is no output: builders would map what it does not promise.
const tidy = (result, keys = null) => {
  const out = {};
  for (const [key, value] of Object.entries(result || {})) {
    if (api.internalOutputs.includes(key) || (keys && !keys.includes(key) && !ADDED.includes(key))) {
      continue;
    }
    if (api.timestamps.includes(key) || key.endsWith('_at')) {
      out[key] = iso(value);
    } else if (Array.isArray(value)) {
      out[key] = value.map((item) => (item && typeof item === 'object' ? tidy(item) : item));
    } else {
      out[key] = value;
    }
  }
  return out;
};

// A batch's state from its counts: completed once every job has ended (a batch with failed
// jobs still completes), processing once one has started.
const countedState = (counts, result) => {
  const total = Number(result[counts.total]);
  const sum = (names) => names.reduce((n, name) => n + Number(result[name] || 0), 0);
  if (sum(counts.ended) >= total) {
    return 'completed';
  }
  return sum(counts.started) > 0 ? 'processing' : 'pending';
};

// The normalized state of a job of `kind`, whichever answer it comes from.
const jobState = (kind, result) => {
  const counts = api.jobs[kind] && api.jobs[kind].counts;
  if (result.status === undefined && counts && result[counts.total] !== undefined) {
    return countedState(counts, result);
  }
  return stateOf(result.status);
};

// A job as a step outputs it. `kind` is the job's kind (video, batch, shared).
const shape = (kind, result, keys = api.jobs[kind] ? api.jobs[kind].outputs : null) => {
  const state = jobState(kind, result);
  const out = tidy(result, keys);
  if (out.status !== undefined) {
    const spelled = state && api.jobs[kind] ? api.jobs[kind].spelling[state] : null;
    out.status = spelled || out.status;
  }
  return { ...out, state };
};

module.exports = { jobState, shape, stateOf, tidy };
