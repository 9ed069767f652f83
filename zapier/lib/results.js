'use strict';

// What a step outputs, on every path (a resumed create, a lookup, a trigger, a create that
// answers at once): exactly the keys of the catalog's output contract for it (generated as
// `outputs`), absent ones as null and others dropped, as the catalog's `Output.shape` does;
// the status as the API spells it for that kind of job (a voice job is `COMPLETED` whether
// it came from polling, a webhook or a lookup) plus `state`, one word for every kind
// (pending, processing, completed, failed, canceled); timestamps in ISO 8601.

const api = require('../generated/api');

const stateOf = (status) => api.states[String(status || '').toLowerCase()] || null;

// Epoch seconds (the image API's `created`) as ISO 8601, as every other timestamp is.
const iso = (key, value) =>
  api.timestamps.includes(key) && typeof value === 'number' && Number.isFinite(value)
    ? new Date(value * 1000).toISOString().replace('.000Z', 'Z')
    : value;

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
  if (!result.status && counts && result[counts.total] !== undefined) {
    return countedState(counts, result);
  }
  return stateOf(result.status);
};

const isObject = (value) => Boolean(value) && typeof value === 'object' && !Array.isArray(value);

// `raw` by the contract's keys (`spec`: [{key, children?}]); `kind` spells the status.
const byContract = (spec, raw, kind) => {
  const out = {};
  let withState = false;
  for (const field of spec) {
    if (field.key === 'state') {
      withState = true;
      continue;
    }
    let value = raw[field.key] === undefined ? null : raw[field.key];
    if (field.children && Array.isArray(value)) {
      value = value.filter(isObject).map((item) => byContract(field.children, item, kind));
    } else if (field.children && isObject(value)) {
      value = byContract(field.children, value, kind);
    }
    out[field.key] = iso(field.key, value);
  }
  if (withState) {
    const state = jobState(kind, raw);
    out.state = state;
    if (state && api.jobs[kind]) {
      out.status = api.jobs[kind].spelling[state];
    }
  }
  return out;
};

// A job of `kind` as a step outputs it (by default, what its status endpoint's contract
// names); an answer that follows no job (`kind` null) by `spec` alone.
const shape = (kind, result, spec = api.jobs[kind] ? api.jobs[kind].outputs : null) =>
  spec ? byContract(spec, result || {}, kind) : { ...result };

module.exports = { jobState, shape, stateOf };
