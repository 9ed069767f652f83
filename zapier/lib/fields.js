'use strict';

// The actions' fields. generated/fields.js describes each field once, by its catalog key:
// its Zapier input field and, under `api`, how its value goes on the wire. An action names
// the fields it takes and whether it requires each; `forAction` makes its `inputFields`
// and the spec lib/input.js builds the request from.

const FIELDS = require('../generated/fields');
const api = require('../generated/api');

// Asked of every job-starting action: wait here for the result, or hand back the job id.
const WAIT_FIELD = {
  key: 'wait_for_result',
  label: 'Wait for the Result',
  type: 'boolean',
  required: false,
  default: 'true',
  helpText:
    'On: this step waits until the job has finished and outputs the result and its file ' +
    '(Zapier pauses the Zap meanwhile, with or without a relay). Off: it outputs the job id ' +
    "at once. In the Zap editor's test a waiting step shows a sample result instead of " +
    'starting a job.',
};

// Asked of every paid create (the catalog's `steps`): a credit cap, and the record a job is
// for. Neither is sent to the API (lib/paid.js reads them).
const { minimum, ...capField } = api.steps.maxCredits;
const MAX_CREDITS_FIELD = capField;
const RECORD_KEY_FIELD = api.steps.recordKey;

const entryOf = (key) => {
  const entry = FIELDS[key];
  if (!entry) {
    throw new Error(`generated/fields.js has no field ${key}`);
  }
  return entry;
};

// The Zapier input field; line items get their columns as `children`. `own`: what this
// action shows differently (its own help text or placeholder, from the catalog).
const inputOf = (key, required, own = {}) => {
  const { api, required: needed, ...input } = entryOf(key);
  const field = {
    key: input.key,
    label: input.label,
    required: required ?? needed ?? false,
    ...input,
    ...own,
  };
  if (api.columns) {
    delete field.helpText;
    field.children = api.columns.map((column) => inputOf(column));
  }
  return field;
};

// Line items take no help text of their own (Zapier refuses `helpText` beside `children`):
// a copy field just before them carries it.
const inputsOf = (key, required, own = {}) => {
  const field = inputOf(key, required, own);
  const { helpText } = entryOf(key);
  if (!field.children || !helpText) {
    return [field];
  }
  return [{ key: `${field.key}_help`, label: field.label, type: 'copy', helpText }, field];
};

// What lib/input.js reads: the input key, label, whether required, and the wire facts.
const specOf = (key, required) => {
  const { api, required: own, ...input } = entryOf(key);
  const spec = { key: input.key, label: input.label, required: required ?? own ?? false, ...api };
  if (api.columns) {
    spec.children = api.columns.map((column) => specOf(column));
  }
  if (api.parts) {
    spec.children = api.parts.map((part) => specOf(part, false));
  }
  return spec;
};

// `uses`: {catalog key: required, or {required, ...what this action shows differently}}, in
// the order the form shows them. An object field shows as its parts; a job-starting action
// (`wait`) also asks whether to wait for the result; a paid create (`paid`) for a credit cap
// and a record key.
const forAction = (uses, { wait = false, paid = false } = {}) => {
  const inputs = [];
  const specs = [];
  for (const [key, use] of Object.entries(uses)) {
    const { required, ...own } = typeof use === 'object' ? use : { required: use };
    const { api } = entryOf(key);
    if (api.parts) {
      inputs.push(...api.parts.flatMap((part) => inputsOf(part, false)));
    } else {
      inputs.push(...inputsOf(key, required, own));
    }
    specs.push(specOf(key, required));
  }
  if (paid) {
    inputs.push(MAX_CREDITS_FIELD, RECORD_KEY_FIELD);
  }
  if (wait) {
    inputs.push(WAIT_FIELD);
  }
  return { inputs, specs };
};

module.exports = { MAX_CREDITS_FIELD, RECORD_KEY_FIELD, WAIT_FIELD, forAction };
