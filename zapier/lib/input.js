'use strict';

// Turns what Zapier sends (bundle.inputData) into the body the API expects, following the
// field spec each action carries (generated from the catalog): wire names, types, ranges,
// allowed values. A value the API would refuse is refused here, naming the field, the
// value and what is allowed, before anything is spent.

const isEmpty = (value) =>
  value === undefined ||
  value === null ||
  (typeof value === 'string' && value.trim() === '') ||
  (Array.isArray(value) && value.every(isEmpty));

const show = (value) => {
  if (Array.isArray(value)) {
    return `${value.length} item${value.length === 1 ? '' : 's'}`;
  }
  if (typeof value === 'string' && value.length > 60) {
    return `a text of ${value.length.toLocaleString('en-US')} characters`;
  }
  const text = JSON.stringify(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
};

const invalid = (z, field, value, expected) =>
  new z.errors.Error(
    `${field.label} (${field.key}): ${show(value)} is not allowed; expected ${
      expected || field.allowed
    }.`,
    'invalid_input',
    400,
  );

const missing = (z, field) =>
  new z.errors.Error(
    `${field.label} (${field.key}) is required: give ${field.allowed}.`,
    'invalid_input',
    400,
  );

const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

const toBoolean = (z, field, value) => {
  if (typeof value === 'boolean') {
    return value;
  }
  const text = String(value).trim().toLowerCase();
  if (TRUE.includes(text)) {
    return true;
  }
  if (FALSE.includes(text)) {
    return false;
  }
  throw invalid(z, field, value);
};

const toNumber = (z, field, value, whole) => {
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(number) || (whole && !Number.isInteger(number))) {
    throw invalid(z, field, value);
  }
  if (
    (field.minimum !== undefined && number < field.minimum) ||
    (field.maximum !== undefined && number > field.maximum)
  ) {
    throw invalid(z, field, value);
  }
  return number;
};

const isUrl = (text) => /^https?:\/\/[^\s/?#]+[^\s]*$/i.test(text);

const toText = (z, field, value, type) => {
  if (typeof value === 'object') {
    throw invalid(z, field, value);
  }
  const text = type === 'string' || type === 'text' ? String(value) : String(value).trim();
  if (type === 'url' && !isUrl(text)) {
    throw invalid(z, field, value, 'an absolute http(s) URL');
  }
  if (
    (field.minLength !== undefined && text.length < field.minLength) ||
    (field.maxLength !== undefined && text.length > field.maxLength)
  ) {
    throw invalid(z, field, value);
  }
  if (type === 'enum' && field.options && !field.options.includes(text)) {
    throw invalid(z, field, value);
  }
  return text;
};

const itemsOf = (value, separated) => {
  if (Array.isArray(value)) {
    return value.filter((item) => !isEmpty(item));
  }
  if (separated && typeof value === 'string') {
    return value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '');
  }
  return [value];
};

const checkCount = (z, field, items, value) => {
  if (
    (field.minItems !== undefined && items.length < field.minItems) ||
    (field.maxItems !== undefined && items.length > field.maxItems)
  ) {
    throw invalid(z, field, value);
  }
  return items;
};

const toObject = (z, field, source) => {
  const out = {};
  for (const child of field.children) {
    const value = coerce(z, child, source[child.key]);
    if (value === undefined) {
      if (child.required) {
        throw missing(z, child);
      }
    } else {
      out[child.wire] = value;
    }
  }
  return out;
};

// One value as the API wants it, or undefined when it was left empty.
const coerce = (z, field, value) => {
  if (isEmpty(value)) {
    return undefined;
  }
  switch (field.type) {
    case 'boolean':
      return toBoolean(z, field, value);
    case 'integer':
      return toNumber(z, field, value, true);
    case 'number':
      return toNumber(z, field, value, false);
    case 'string_list': {
      const items = checkCount(z, field, itemsOf(value, false), value);
      const item = { ...field, minLength: undefined, maxLength: undefined };
      return items.map((one) => toText(z, item, one, field.itemType || 'string'));
    }
    case 'number_list': {
      const items = checkCount(z, field, itemsOf(value, field.separated), value);
      const item = { ...field, minimum: undefined, maximum: undefined };
      return items.map((one) => toNumber(z, item, one, false));
    }
    case 'object_list': {
      const rows = Array.isArray(value) ? value : [value];
      const filled = rows.filter(
        (row) => row && typeof row === 'object' && !Object.values(row).every(isEmpty),
      );
      return checkCount(z, field, filled, value).map((row) => toObject(z, field, row));
    }
    case 'file':
      return value;
    default:
      return toText(z, field, value, field.type);
  }
};

// An object field arrives as its children, each a field of its own.
const objectFrom = (z, field, inputData) => {
  const given = field.children.some((child) => !isEmpty(inputData[child.key]));
  return given ? toObject(z, field, inputData) : undefined;
};

const checkOneOf = (z, groups, fields, body) => {
  for (const group of groups) {
    const given = group.filter((wire) => body[wire] !== undefined);
    if (given.length !== 1) {
      const labels = group.map((wire) => {
        const field = fields.find((f) => f.wire === wire);
        return field ? `${field.label} (${field.key})` : wire;
      });
      const which = given.length ? 'both were given' : 'neither was given';
      throw new z.errors.Error(
        `Give exactly one of ${labels.join(' or ')}: ${which}.`,
        'invalid_input',
        400,
      );
    }
  }
};

// The wire body for an operation: every field given, in the API's names and types.
const buildBody = (z, operation, inputData) => {
  const body = {};
  for (const field of operation.fields) {
    const value =
      field.type === 'object'
        ? objectFrom(z, field, inputData)
        : coerce(z, field, inputData[field.key]);
    if (value === undefined) {
      if (field.required) {
        throw missing(z, field);
      }
    } else {
      body[field.wire] = value;
    }
  }
  checkOneOf(z, operation.oneOf || [], operation.fields, body);
  return body;
};

module.exports = { buildBody, coerce, isEmpty };
