'use strict';

// Output files: beside each output URL a result gets `file`, a Zapier file that is only
// downloaded (and stashed in Zapier's storage) when a later step uses it. Output URLs live
// on the CDN for a limited time; a stashed file does not expire with them.
//
// Input files: a file field holds what Zapier passes for a file (a URL to it); the bytes
// are fetched and sent as a multipart part with their name and type.

const path = require('path');
const FormData = require('form-data');

// Hydrator: fetch the output and stash it. Registered as `hydrators.downloadFile`.
const downloadFile = (z, bundle) =>
  z.stashFile(z.request({ url: bundle.inputData.url, raw: true }));

// `paths` name where output URLs sit: "output_url", "jobs[].output_url", "data[].url".
const attachFiles = (z, result, paths) => {
  const out = { ...result };
  for (const where of paths) {
    attach(z, out, where.split('.'));
  }
  return out;
};

const attach = (z, node, parts) => {
  const [head, ...rest] = parts;
  if (rest.length === 0) {
    const url = node[head];
    if (typeof url === 'string' && /^https?:\/\//i.test(url)) {
      node.file = z.dehydrateFile(downloadFile, { url });
    }
    return;
  }
  const name = head.replace(/\[\]$/, '');
  if (head.endsWith('[]') && Array.isArray(node[name])) {
    node[name] = node[name].map((item) => {
      if (!item || typeof item !== 'object') {
        return item;
      }
      const copy = { ...item };
      attach(z, copy, rest);
      return copy;
    });
  }
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
