'use strict';

// Output files: beside each output URL a result gets `file`, a Zapier file that is only
// downloaded (and stashed in Zapier's storage) when a later step uses it. Output URLs live
// on the CDN for a limited time; a stashed file does not expire with them.
//
// Input files: a file field holds what Zapier passes for a file (a URL to it); the bytes
// are fetched and sent as a multipart part with their name and type.

//
// Zapier stashes files up to its limit (the catalog's ZAPIER_STASH_FILE). A file's size is
// asked first (HEAD, its Content-Length; nothing is downloaded): over the limit, `file` is
// null and `file_message` says so, naming the limit and the size; the output URL stays.

const path = require('path');
const FormData = require('form-data');

const api = require('../generated/api');

const megabytes = (size) => String(Math.round(size / 100000) / 10);

const overLimit = (size) => api.stash.overLimit.replace('{size}', megabytes(size));

// Hydrator: fetch the output and stash it. Registered as `hydrators.downloadFile`. A file
// whose host named no size at the step, and names one over the limit now, is not stashed.
const downloadFile = async (z, bundle) => {
  const response = await z.request({ url: bundle.inputData.url, raw: true });
  const size = Number(response.headers.get('content-length'));
  if (Number.isFinite(size) && size > api.stash.maxBytes) {
    throw new z.errors.Error(
      `${overLimit(size)} URL: ${bundle.inputData.url}`,
      'file_over_limit',
      413,
    );
  }
  return z.stashFile(response);
};

// The size the file's host announces (HEAD), or null when it says none.
const announcedSize = async (z, url) => {
  try {
    const response = await z.request({ url, method: 'HEAD', skipThrowForStatus: true });
    const length = response.status < 400 ? response.headers.get('content-length') : null;
    const size = length === null || length === undefined ? NaN : Number(length);
    return Number.isFinite(size) && size >= 0 ? size : null;
  } catch (error) {
    return null; // unknown: the hydrator downloads it as it would any file
  }
};

// `file` (a dehydrated pointer) and `file_message` for one output URL.
const fileOf = async (z, url) => {
  const size = await announcedSize(z, url);
  if (size !== null && size > api.stash.maxBytes) {
    return { file: null, file_message: overLimit(size) };
  }
  return { file: z.dehydrateFile(downloadFile, { url }), file_message: null };
};

// `paths` name where output URLs sit: "output_url", "jobs[].output_url", "data[].url".
const attachFiles = async (z, result, paths) => {
  let out = { ...result };
  for (const where of paths) {
    out = await attach(z, out, where.split('.'));
  }
  return out;
};

const attach = async (z, node, parts) => {
  const [head, ...rest] = parts;
  if (rest.length === 0) {
    const url = node[head];
    if (typeof url === 'string' && /^https?:\/\//i.test(url)) {
      return { ...node, ...(await fileOf(z, url)) };
    }
    return node;
  }
  const name = head.replace(/\[\]$/, '');
  if (head.endsWith('[]') && Array.isArray(node[name])) {
    const items = [];
    for (const item of node[name]) {
      items.push(item && typeof item === 'object' ? await attach(z, item, rest) : item);
    }
    return { ...node, [name]: items };
  }
  return node;
};

const filenameOf = (response, url) => {
  const disposition = response.headers.get('content-disposition') || '';
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  if (match) {
    return path.basename(decodeURIComponent(match[1]));
  }
  try {
    const name = path.posix.basename(new URL(url).pathname);
    return name ? decodeURIComponent(name) : 'upload';
  } catch (error) {
    return 'upload';
  }
};

// The bytes, name and type of a file Zapier hands to a file field.
const fetchFile = async (z, bundle, field, value) => {
  const url = String(value).trim();
  if (!/^https?:\/\//i.test(url)) {
    throw new z.errors.Error(
      `${field.label} (${field.key}): expected a file, or the URL of one.`,
      'invalid_input',
      400,
    );
  }
  const response = await z.request({ url, raw: true, skipThrowForStatus: true });
  if (response.status >= 400) {
    throw new z.errors.Error(
      `${field.label} (${field.key}): the file could not be fetched (HTTP ${response.status}).`,
      'file_unavailable',
      response.status,
    );
  }
  return {
    content: await response.buffer(),
    filename: filenameOf(response, url),
    contentType: (response.headers.get('content-type') || 'application/octet-stream')
      .split(';')[0]
      .trim(),
  };
};

// A multipart form: plain fields as text, file fields as file parts.
const multipartForm = async (z, bundle, operation, body) => {
  const form = new FormData();
  for (const field of operation.fields) {
    const value = body[field.wire];
    if (value === undefined) {
      continue;
    }
    if (field.type === 'file') {
      const file = await fetchFile(z, bundle, field, value);
      form.append(field.wire, file.content, {
        filename: file.filename,
        contentType: file.contentType,
      });
    } else {
      form.append(field.wire, typeof value === 'object' ? JSON.stringify(value) : String(value));
    }
  }
  return form;
};

module.exports = { attachFiles, downloadFile, multipartForm };
