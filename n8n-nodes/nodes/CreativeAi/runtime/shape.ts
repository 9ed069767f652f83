// Hand-written: a result as the catalog's output contract gives it to a workflow, the same
// from polling, a webhook or a lookup: the contract's keys first (null when the API left one
// out), `status` in the API's spelling for that kind of job, and `state`, one normalized
// state for every kind (pending, processing, completed, failed, canceled). Keys the
// contract does not name (the node's own, such as a batch item's batch_id) follow.
import type { IDataObject } from 'n8n-workflow';
import type { JobState, OutputSpec } from '../generated/catalog';
import { OUTPUTS, SPELLING, STATES } from '../generated/catalog';

function stateOf(raw: IDataObject): JobState | undefined {
	if (typeof raw.status === 'string' && raw.status) return STATES[raw.status.toLowerCase()];
	if ('total_jobs' in raw) {
		// A batch's status answer carries counts, no status.
		const total = Number(raw.total_jobs ?? 0);
		const done = Number(raw.completed ?? 0) + Number(raw.failed ?? 0);
		if (done >= total) return 'completed';
		return done || raw.processing ? 'processing' : 'pending';
	}
	return undefined;
}

function shapeKeys(output: OutputSpec, raw: IDataObject, job: OutputSpec['job']): IDataObject {
	const out: IDataObject = {};
	for (const key of output.keys) {
		if (key === 'state') continue;
		let value = raw[key];
		const inner = output.children?.[key];
		if (inner && Array.isArray(value)) {
			value = value
				.filter((entry) => entry && typeof entry === 'object')
				.map((entry) => shapeKeys(inner, entry as IDataObject, job));
		} else if (inner && value && typeof value === 'object') {
			value = shapeKeys(inner, value as IDataObject, job);
		}
		out[key] = value === undefined ? null : (value as IDataObject[string]);
	}
	if (output.keys.includes('state')) {
		const state = stateOf(raw);
		out.state = state ?? null;
		if (state && job) out.status = SPELLING[job][state];
	}
	return out;
}

/** `raw` as the output named `name` in OUTPUTS gives it (an unknown name: `raw` as it is). */
export function shape(name: string, raw: IDataObject): IDataObject {
	const output = OUTPUTS[name];
	if (!output) return raw;
	const shaped = shapeKeys(output, raw, output.job);
	for (const [key, value] of Object.entries(raw)) if (!(key in shaped)) shaped[key] = value;
	return shaped;
}
