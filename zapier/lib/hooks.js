'use strict';

// REST-hook triggers through the relay. Subscribing registers this Zap's hook URL as a
// relay subscription for the trigger's events; the relay forwards every matching
// completion that reaches the account's inbox (the webhook URL the creates use), signed
// with the subscription's own secret (Standard Webhooks). Unsubscribing deletes it; should
// Zapier drop the hook first, its URL answers 410 and the relay ends the subscription.

const crypto = require('crypto');

const api = require('../generated/api');
const { callRelay, errorFor } = require('./http');
const { attachFiles } = require('./files');
const { shape } = require('./results');

const SUBSCRIPTIONS = '/v1/subscriptions';
const DELIVERIES = '/v1/deliveries';
const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;
const RECENT = 3;

// The events this Zap listens to: the trigger's own, narrowed by its Events field if any.
const chosenEvents = (bundle, hook) => {
  const picked = [].concat(bundle.inputData.events || []).filter((name) => name);
  const narrowed = hook.events.filter((name) => picked.includes(name));
  return narrowed.length ? narrowed : hook.events;
};

const subscribe = async (z, bundle, hook) => {
  const response = await callRelay(z, bundle, {
    method: 'POST',
    path: SUBSCRIPTIONS,
    json: { target_url: bundle.targetUrl, events: chosenEvents(bundle, hook) },
  });
  return response.data;
};

const unsubscribe = async (z, bundle) => {
  const id = bundle.subscribeData && bundle.subscribeData.id;
  if (!id) {
    return {};
  }
  const response = await callRelay(z, bundle, {
    method: 'DELETE',
    path: `${SUBSCRIPTIONS}/${encodeURIComponent(id)}`,
    skipThrowForStatus: true,
  });
  if (response.status >= 400 && response.status !== 404) {
    throw errorFor(z, bundle, response);
  }
  return { id };
};

// A request header, whichever way Zapier spells it ("Http-Webhook-Id", "webhook-id").
const headerOf = (bundle, name) => {
  const headers = (bundle.rawRequest && bundle.rawRequest.headers) || {};
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    const plain = key.toLowerCase().replace(/^http-/, '');
    if (plain === wanted) {
      return String(value);
    }
  }
  return null;
};

const secretKey = (secret) => Buffer.from(String(secret).replace(/^whsec_/, ''), 'base64');

// The relay signs what it forwards (Standard Webhooks); a request this subscription's
// secret did not sign is refused. Checked whenever Zapier hands over the raw request.
const checkSignature = (z, bundle) => {
  const secret = bundle.subscribeData && bundle.subscribeData.signing_secret;
  const raw = bundle.rawRequest && bundle.rawRequest.content;
  if (!secret || typeof raw !== 'string') {
    return;
  }
  const id = headerOf(bundle, 'webhook-id');
  const timestamp = headerOf(bundle, 'webhook-timestamp');
  const signatures = headerOf(bundle, 'webhook-signature');
  const refuse = (why) =>
    new z.errors.Error(`Refused a forwarded event: ${why}.`, 'invalid_signature', 401);
  if (!id || !timestamp || !signatures) {
    throw refuse('it is not signed by the relay');
  }
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
    throw refuse('its timestamp is too far from now');
  }
  const expected = crypto
    .createHmac('sha256', secretKey(secret))
    .update(`${id}.${timestamp}.${raw}`)
    .digest();
  const matches = signatures.split(' ').some((part) => {
    const [version, value] = part.split(',');
    const given = Buffer.from(value || '', 'base64');
    return (
      version === 'v1' && given.length === expected.length && crypto.timingSafeEqual(given, expected)
    );
  });
  if (!matches) {
    throw refuse('its signature does not match this subscription');
  }
};

// The event's name: from the event header, else from the payload's object and status.
const eventName = (bundle, body) => {
  const named = headerOf(bundle, api.headers.event);
  if (named) {
    return named;
  }
  return body.object && body.status ? `${body.object}.${String(body.status).toLowerCase()}` : null;
};

// The event as the trigger outputs it: its job's id (a batch's too) and status spelled as
// that kind's status endpoint spells it.
// Zapier deduplicates a trigger's records on `id`; `event` names what happened.
const record = (z, hook, name, body) => {
  const shaped = shape(hook.kinds[name], body, hook.outputs[name] || null);
  const id = body.id || body[api.jobs.batch.param];
  return attachFiles(z, { id, event: name, ...shaped }, hook.files);
};

const receive = async (z, bundle, hook) => {
  checkSignature(z, bundle);
  const body = bundle.cleanedRequest || {};
  const name = eventName(bundle, body);
  if (!chosenEvents(bundle, hook).includes(name)) {
    return [];
  }
  return [await record(z, hook, name, body)];
};

// Recent events the relay delivered for this account, newest first, for the Zap editor.
const recent = async (z, bundle, hook) => {
  const wanted = chosenEvents(bundle, hook);
  const listed = await callRelay(z, bundle, {
    method: 'GET',
    path: DELIVERIES,
    query: { limit: 100 },
  });
  const seen = new Set();
  const out = [];
  for (const delivery of listed.data.data || []) {
    if (out.length >= RECENT) {
      break;
    }
    const key = delivery.event_id || delivery.delivery_id;
    if (!wanted.includes(delivery.event) || seen.has(key)) {
      continue;
    }
    seen.add(key);
    const one = await callRelay(z, bundle, {
      method: 'GET',
      path: `${DELIVERIES}/${encodeURIComponent(delivery.id)}`,
      query: { include: 'body' },
    });
    try {
      out.push(await record(z, hook, delivery.event, JSON.parse(one.data.body)));
    } catch (error) {
      z.console.log(`Skipped delivery ${delivery.id}: its body is not JSON`);
    }
  }
  return out;
};

module.exports = { receive, recent, subscribe, unsubscribe };
