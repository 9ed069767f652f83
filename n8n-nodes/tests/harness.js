// Hand-written test harness: runs the built nodes through n8n's own engine (n8n-workflow +
// n8n-core: WorkflowExecute, expressions, credentials, binary data, WebhookContext), the
// way n8n runs them, without the n8n server. A small HTTP server stands in for n8n's
// waiting-webhook endpoint, so a parked execution is resumed by a real signed request
// from the sandbox or the relay.
//
//   const h = await start({ credentials: { apiKey, baseUrl, relayUrl } });
//   const run = await h.run({ resource: 'voice', operation: 'create', params, items });
//   run.status      // 'success' | 'waiting' | 'error'
//   run.output      // the CreativeAI node's output items
//   await h.resumed(run)  // waits until a webhook resumed and finished it
//   await h.stop();
'use strict';

const http = require('node:http');
const path = require('node:path');
const { Workflow, ICredentialsHelper, NodeHelpers } = require('n8n-workflow');
const core = require('n8n-core');

const DIST = process.env.N8N_NODES_DIST || path.resolve(__dirname, '..', 'dist');
const { CreativeAi } = require(path.join(DIST, 'nodes/CreativeAi/CreativeAi.node.js'));
const { CreativeAiTrigger } = require(path.join(DIST, 'nodes/CreativeAiTrigger/CreativeAiTrigger.node.js'));
const { CreativeAiApi } = require(path.join(DIST, 'credentials/CreativeAiApi.credentials.js'));
// The generated table, with each operation's fields looked up as the node's runtime does.
const catalog = {
	...require(path.join(DIST, 'nodes/CreativeAi/generated/catalog.js')),
	OPERATIONS: require(path.join(DIST, 'nodes/CreativeAi/runtime/operations.js')).OPERATIONS,
};

const PACKAGE = 'n8n-nodes-creativeai';
const ACTION = `${PACKAGE}.creativeAi`;
const TRIGGER = `${PACKAGE}.creativeAiTrigger`;

/** A source node that emits the items a test gives it (JSON and optional binary). */
class Items {
	constructor() {
		this.description = {
			displayName: 'Items',
			name: 'items',
			group: ['input'],
			version: 1,
			description: 'Test items',
			defaults: { name: 'Items' },
			inputs: [],
			outputs: ['main'],
			properties: [{ displayName: 'Items', name: 'items', type: 'json', default: '[]' }],
		};
	}

	async execute() {
		const items = JSON.parse(this.getNodeParameter('items', 0));
		const out = [];
		for (const item of items) {
			const entry = { json: item.json ?? {} };
			if (item.binary) {
				entry.binary = {};
				for (const [key, file] of Object.entries(item.binary)) {
					entry.binary[key] = await this.helpers.prepareBinaryData(
						Buffer.from(file.base64, 'base64'),
						file.filename,
						file.content_type,
					);
				}
			}
			out.push(entry);
		}
		return [out];
	}
}

const TYPES = {
	'test.items': new Items(),
	[ACTION]: new CreativeAi(),
	[TRIGGER]: new CreativeAiTrigger(),
};

const nodeTypes = {
	getByName: (type) => TYPES[type],
	getByNameAndVersion: (type) => TYPES[type],
	getKnownTypes: () => ({}),
};

class Credentials extends ICredentialsHelper {
	constructor(data) {
		super();
		this.data = data;
		this.type = new CreativeAiApi();
	}
	getParentTypes() {
		return [];
	}
	isCredentialUsableByNode() {
		return true;
	}
	async authenticate(credentials, typeName, options, workflow, node) {
		const resolve = (value) =>
			typeof value === 'string' && value.startsWith('=')
				? String(
						workflow.expression.getSimpleParameterValue(node, value, 'internal', { $credentials: credentials }, undefined, ''),
					)
				: value;
		for (const [outer, values] of Object.entries(this.type.authenticate.properties)) {
			options[outer] = options[outer] ?? {};
			for (const [key, value] of Object.entries(values)) options[outer][resolve(key)] = resolve(value);
		}
		return options;
	}
	async preAuthentication() {
		return undefined;
	}
	async runPreAuthentication() {
		return undefined;
	}
	async getCredentials() {
		throw new Error('not used');
	}
	async getDecrypted() {
		return { ...this.data };
	}
	async updateCredentials() {}
	async updateCredentialsOauthTokenData() {}
	getCredentialsProperties() {
		return this.type.properties;
	}
}

/** Node parameters for an operation, from input in wire names (as tests/cases/operations.json
 * writes it): required fields at the top, the rest under Additional Fields. */
function paramsFromWire(resource, operation, input) {
	const spec = catalog.OPERATIONS[`${resource}.${operation}`];
	if (!spec) throw new Error(`no operation ${resource}.${operation}`);
	const params = { resource, operation };
	const additional = {};
	const binary = {};
	for (const field of spec.pathParams) {
		if (input[field.wire] !== undefined) params[field.param] = input[field.wire];
	}
	for (const field of spec.fields) {
		let value = input[field.wire];
		if (value === undefined) continue;
		if (field.kind === 'collection') {
			value = {
				values: value.map((entry) => {
					const out = {};
					for (const child of field.children) if (entry[child.wire] !== undefined) out[child.param] = entry[child.wire];
					return out;
				}),
			};
		} else if (field.kind === 'json') {
			value = JSON.stringify(value);
		} else if (field.kind === 'file') {
			binary[field.wire] = value;
			value = field.wire;
		}
		if (field.additional) additional[field.param] = value;
		else params[field.param] = value;
	}
	if (Object.keys(additional).length) params.additionalFields = additional;
	for (const choice of spec.choices ?? []) {
		const given = choice.fields.find((wire) => input[wire] !== undefined);
		if (given) params[choice.param] = given;
	}
	return { params, binary };
}

function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		req.on('data', (chunk) => chunks.push(chunk));
		req.on('end', () => resolve(Buffer.concat(chunks)));
		req.on('error', reject);
	});
}

/** An express-like response over node's ServerResponse (what n8n's webhooks get). */
function response(res) {
	const shim = {
		statusCode: 200,
		headersSent: false,
		status(code) {
			shim.statusCode = code;
			return shim;
		},
		json(data) {
			shim.headersSent = true;
			res.writeHead(shim.statusCode, { 'content-type': 'application/json' });
			res.end(JSON.stringify(data));
			return shim;
		},
		send(data) {
			shim.headersSent = true;
			res.writeHead(shim.statusCode);
			res.end(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
			return shim;
		},
		end() {
			shim.headersSent = true;
			res.writeHead(shim.statusCode);
			res.end();
			return shim;
		},
	};
	return shim;
}

async function start({ credentials }) {
	process.env.N8N_USER_FOLDER = process.env.N8N_USER_FOLDER || path.join(require('node:os').tmpdir(), 'n8n-harness');
	const executions = new Map(); // id -> { workflow, runExecutionData, additionalData, resolve }
	const triggers = new Map(); // path -> { workflow, node, staticData }
	let counter = 0;
	const server = http.createServer(async (req, res) => {
		const raw = await readBody(req);
		let body = {};
		try {
			body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
		} catch {
			body = {};
		}
		const url = new URL(req.url, 'http://127.0.0.1');
		const request = { headers: req.headers, rawBody: raw, body, query: Object.fromEntries(url.searchParams), params: {} };
		const shim = response(res);
		try {
			const waiting = url.pathname.match(/^\/webhook-waiting\/([^/]+)/);
			if (waiting) return await onResume(waiting[1], request, shim, url);
			const trigger = triggers.get(url.pathname);
			if (trigger) return await onTrigger(trigger, request, shim);
			shim.status(404).json({ error: 'unknown path' });
		} catch (error) {
			if (!shim.headersSent) shim.status(500).json({ error: String(error && error.message) });
		}
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	const base = `http://127.0.0.1:${server.address().port}`;
	const helper = new Credentials(credentials);

	function additionalData(executionId, hooks) {
		return {
			credentialsHelper: helper,
			hooks,
			executionId,
			restApiUrl: `${base}/rest`,
			instanceBaseUrl: base,
			formWaitingBaseUrl: `${base}/form-waiting`,
			webhookBaseUrl: `${base}/webhook`,
			webhookWaitingBaseUrl: `${base}/webhook-waiting`,
			webhookTestBaseUrl: `${base}/webhook-test`,
			variables: {},
			currentNodeExecutionIndex: 0,
			logAiEvent() {},
			setExecutionStatus() {},
		};
	}

	function workflowFor({ resource, operation, params, items, continueOnFail, nodeName, staticData }) {
		const name = nodeName || 'CreativeAI';
		const node = {
			id: 'creativeai-node',
			name,
			type: ACTION,
			typeVersion: 1,
			position: [200, 0],
			parameters: { ...params, resource, operation },
			credentials: { creativeAiApi: { id: 'cred-1', name: 'CreativeAI' } },
			...(continueOnFail ? { onError: 'continueRegularOutput' } : {}),
		};
		const data = {
			id: 'wf-test',
			name: 'test',
			active: false,
			nodes: [
				{ id: 'items-node', name: 'Items', type: 'test.items', typeVersion: 1, position: [0, 0], parameters: { items: JSON.stringify(items) } },
				node,
			],
			connections: { Items: { main: [[{ node: name, type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		};
		// `staticData`: the workflow's static data, kept by the test across runs as n8n keeps
		// it for a published workflow (n8n saves it only for production executions).
		return { data, workflow: new Workflow({ ...data, nodeTypes, staticData: staticData ?? {} }), node };
	}

	function summary(run, name) {
		const runs = run.data.resultData.runData[name] ?? [];
		const last = runs[runs.length - 1];
		return {
			status: run.status ?? (run.data.resultData.error ? 'error' : 'success'),
			waitTill: run.waitTill,
			error: run.data.resultData.error,
			output: last?.data?.main?.[0] ?? [],
			runData: run.data.resultData.runData,
			data: run.data,
		};
	}

	async function run(spec) {
		const id = `exec-${++counter}`;
		const { data, workflow, node } = workflowFor(spec);
		const hooks = new core.ExecutionLifecycleHooks('manual', id, data);
		const extra = additionalData(id, hooks);
		const executor = new core.WorkflowExecute(extra, 'manual');
		const finished = await executor.run({ workflow, startNode: workflow.getNode('Items') });
		const result = summary(finished, node.name);
		if (result.waitTill) {
			let resolve;
			const done = new Promise((r) => (resolve = r));
			executions.set(id, { workflow, data, node, runExecutionData: finished.data, resolve, done, hits: [] });
			result.executionId = id;
		}
		return result;
	}

	async function onResume(id, request, shim) {
		const execution = executions.get(id);
		if (!execution) return shim.status(404).json({ error: 'unknown execution' });
		if (execution.finished) return shim.status(409).json({ error: 'finished already' });
		// n8n checks the resume token before it calls the node.
		if (request.query.signature !== execution.runExecutionData.resumeToken) {
			return shim.status(401).json({ error: 'Invalid token' });
		}
		execution.hits.push({ headers: request.headers, body: request.body });
		const { workflow, node } = execution;
		const runExecutionData = structuredClone(execution.runExecutionData);
		// As n8n's WaitingWebhooks does: the parked run's output is dropped before the node's
		// webhook() runs (it keeps only an input override, if any).
		const parkedRun = runExecutionData.resultData.runData[node.name].pop();
		if (parkedRun?.inputOverride) runExecutionData.resultData.runData[node.name].push({ startTime: 0, executionTime: 0, executionIndex: 0, source: parkedRun.source, inputOverride: parkedRun.inputOverride });
		const extra = additionalData(id, new core.ExecutionLifecycleHooks('manual', id, execution.data));
		extra.httpRequest = request;
		extra.httpResponse = shim;
		const webhook = TYPES[ACTION].description.webhooks[0];
		const context = new core.WebhookContext(
			workflow,
			workflow.getNode(node.name),
			extra,
			'manual',
			{ webhookDescription: webhook, httpMethod: 'POST', path: '', node: node.name, workflowId: workflow.id },
			[],
			runExecutionData,
		);
		let answer;
		try {
			answer = await TYPES[ACTION].webhook.call(context);
		} catch (error) {
			// n8n answers 500 and ends the execution with the node's error.
			execution.finished = true;
			if (!shim.headersSent) shim.status(500).json({ error: 'Workflow could not be started' });
			execution.resolve({ status: 'error', error, output: [] });
			return;
		}
		if (!answer.noWebhookResponse && !shim.headersSent) shim.status(200).json(answer.webhookResponse ?? { message: 'Workflow was started' });
		if (!answer.workflowData) return; // still waiting
		execution.finished = true;
		// What n8n does next: the waiting node, disabled, passes the webhook's items on.
		runExecutionData.waitTill = undefined;
		const entry = runExecutionData.executionData.nodeExecutionStack[0];
		entry.node.disabled = true;
		entry.data.main = answer.workflowData;
		entry.metadata = { ...entry.metadata, forwardAllOutputs: true };
		if (!runExecutionData.resultData.runData[node.name].length) delete runExecutionData.resultData.runData[node.name];
		const executor = new core.WorkflowExecute(extra, 'manual', runExecutionData);
		const finished = await executor.processRunExecutionData(workflow);
		execution.resolve(summary(finished, node.name));
	}

	/** What n8n does when a parked run's wait limit passes without a resume. */
	async function expire(run) {
		const execution = executions.get(run.executionId);
		if (!execution || execution.finished) throw new Error('that run is not waiting');
		execution.finished = true;
		const runExecutionData = structuredClone(execution.runExecutionData);
		const extra = additionalData(run.executionId, new core.ExecutionLifecycleHooks('manual', run.executionId, execution.data));
		const executor = new core.WorkflowExecute(extra, 'manual', runExecutionData);
		return summary(await executor.processRunExecutionData(execution.workflow), execution.node.name);
	}

	async function resumed(run, timeoutMs = 20000) {
		const execution = executions.get(run.executionId);
		if (!execution) throw new Error('that run is not waiting');
		let timer;
		const timeout = new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`not resumed within ${timeoutMs} ms; hits: ${execution.hits.length}`)), timeoutMs);
		});
		try {
			return await Promise.race([execution.done, timeout]);
		} finally {
			clearTimeout(timer);
		}
	}

	/** The trigger node: activate (webhookMethods), receive requests, deactivate. */
	async function trigger(params = {}) {
		const node = {
			id: 'trigger-node',
			name: 'CreativeAI Trigger',
			type: TRIGGER,
			typeVersion: 1,
			position: [0, 0],
			parameters: params,
			webhookId: `hook-${++counter}`,
			credentials: { creativeAiApi: { id: 'cred-1', name: 'CreativeAI' } },
		};
		const data = { id: 'wf-trigger', name: 'trigger', active: true, nodes: [node], connections: {}, settings: {} };
		const workflow = new Workflow({ ...data, nodeTypes, staticData: {} });
		const path = `/webhook/${node.webhookId}/webhook`;
		const url = `${base}${path}`;
		const extra = additionalData('', new core.ExecutionLifecycleHooks('trigger', '', data));
		const webhookData = {
			webhookDescription: TYPES[TRIGGER].description.webhooks[0],
			httpMethod: 'POST',
			path: 'webhook',
			node: node.name,
			workflowId: workflow.id,
			webhookId: node.webhookId,
		};
		const hook = (method) =>
			TYPES[TRIGGER].webhookMethods.default[method].call(
				new core.HookContext(workflow, workflow.getNode(node.name), extra, 'trigger', 'activate', webhookData),
			);
		const entry = { workflow, node, received: [], refused: [], requests: [], data };
		const record = {
			url,
			async activate() {
				if (!(await hook('checkExists'))) await hook('create');
				triggers.set(path, entry);
			},
			async deactivate() {
				triggers.delete(path);
				await hook('delete');
			},
			staticData: () => workflow.staticData,
			started: entry.received,
			answers: entry.refused,
			requests: entry.requests, // every request as it arrived: { headers, raw }
		};
		return record;
	}

	async function onTrigger(entry, request, shim) {
		const { workflow, node } = entry;
		entry.requests.push({ headers: { ...request.headers }, raw: request.rawBody });
		const extra = additionalData('', new core.ExecutionLifecycleHooks('webhook', '', entry.data));
		extra.httpRequest = request;
		extra.httpResponse = shim;
		const context = new core.WebhookContext(
			workflow,
			workflow.getNode(node.name),
			extra,
			'webhook',
			{ webhookDescription: TYPES[TRIGGER].description.webhooks[0], httpMethod: 'POST', path: 'webhook', node: node.name, workflowId: workflow.id },
			[],
			null,
		);
		const answer = await TYPES[TRIGGER].webhook.call(context);
		if (answer.workflowData) entry.received.push(...answer.workflowData[0]);
		if (answer.noWebhookResponse) {
			entry.refused.push(shim.statusCode);
			return;
		}
		entry.refused.push(200);
		if (!shim.headersSent) shim.status(200).json(answer.webhookResponse ?? { message: 'Workflow was started' });
	}

	async function loadOptions(method) {
		const { workflow, node } = workflowFor({ resource: 'model', operation: 'list', params: {}, items: [{ json: {} }] });
		const extra = additionalData('', new core.ExecutionLifecycleHooks('manual', '', {}));
		const context = new core.LoadOptionsContext(workflow, workflow.getNode(node.name), extra, '');
		return await TYPES[ACTION].methods.loadOptions[method].call(context);
	}

	return {
		base,
		run,
		resumed,
		expire,
		trigger,
		loadOptions,
		paramsFromWire,
		catalog,
		stop: () => new Promise((resolve) => server.close(resolve)),
		NodeHelpers,
	};
}

module.exports = { start, paramsFromWire, catalog, ACTION };
