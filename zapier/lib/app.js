'use strict';

// The app definition Zapier loads (index.js): the generated creates, searches and triggers
// keyed as Zapier wants them, with the connection and the request hooks of lib/http.js.

const { version } = require('../package.json');
const { version: platformVersion } = require('zapier-platform-core');

const authentication = require('../generated/authentication');
const { addApiKey, raiseForErrors } = require('./http');
const { downloadFile } = require('./files');

const byKey = (definitions) =>
  Object.fromEntries(definitions.map((definition) => [definition.key, definition]));

const defineApp = ({ triggers, searches, creates }) => ({
  version,
  platformVersion,
  authentication,
  beforeRequest: [addApiKey],
  afterResponse: [raiseForErrors],
  hydrators: { downloadFile },
  triggers: byKey(triggers),
  searches: byKey(searches),
  creates: byKey(creates),
});

module.exports = { defineApp };
