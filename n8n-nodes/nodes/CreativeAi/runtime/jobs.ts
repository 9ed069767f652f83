// Hand-written: following jobs to their end (bounded polling) and reading their outcome.
import type { IDataObject } from 'n8n-workflow';
import { NodeOperationError, sleep } from 'n8n-workflow';
import type { JobState } from '../generated/catalog';
import { STATES } from '../generated/catalog';
import type { Context } from './transport';
import { request } from './transport';

const TERMINAL: JobState[] = ['completed', 'failed', 'canceled'];

export function stateOf(status: unknown): JobState | undefined {
	return typeof status === 'string' ? STATES[status.trim().toLowerCase()] : undefined;
}

export function isTerminal(status: unknown): boolean {
	const state = stateOf(status);
	return state !== undefined && TERMINAL.includes(state);
}

/** A batch is done when every job in it has ended (failures included). */
export function batchDone(batch: IDataObject): boolean {
	const jobs = (batch.jobs as IDataObject[] | undefined) ?? [];
	const total = Number(batch.total_jobs ?? jobs.length);
	if (jobs.length >= total && jobs.length > 0 && jobs.every((job) => isTerminal(job.status))) return true;
	const ended = Number(batch.completed ?? 0) + Number(batch.failed ?? 0);
	return total > 0 && ended >= total;
}

/** Why a job ended without success; undefined while it runs or once it completed. */
export function failureOf(job: IDataObject): string | undefined {
	const state = stateOf(job.status);
	if (state !== 'failed' && state !== 'canceled') return undefined;
	const error = job.error as IDataObject | undefined;
	const message =
		(error && typeof error.message === 'string' && error.message) ||
		(typeof job.error_message === 'string' && job.error_message) ||
		(typeof job.error === 'string' && job.error) ||
		`ended with status ${String(job.status)}`;
	return message;
}

export interface Follow {
	/** `{id}` in the status path is replaced by `id`. */
	statusPath: string;
	statusLabel: string;
	id: string;
	interval: number;
	timeout: number;
	itemIndex: number;
	batch?: boolean;
}

export function statusPath(template: string, id: string): string {
	return template.replace(/\{[a-z_]+\}/, encodeURIComponent(id));
}

/** The one step that fetches a job a wait gave up on. */
export function laterHint(statusLabel: string, id: string): string {
	return `The job may still finish: look it up later with "${statusLabel}" and ID ${id}.`;
}

/** Poll until the job (or batch) ends; fail naming the job id when the timeout passes. */
export async function poll(ctx: Context, follow: Follow): Promise<IDataObject> {
	const started = Date.now();
	const path = statusPath(follow.statusPath, follow.id);
	for (;;) {
		let answer;
		try {
			answer = await request(ctx, { method: 'GET', path, itemIndex: follow.itemIndex });
		} catch (error) {
			// The wait gives up, the job stays: say which job, and the step that fetches it.
			const reason = error instanceof Error ? error.message : String(error);
			throw new NodeOperationError(ctx.getNode(), `CreativeAI job ${follow.id}: its status could not be read (${reason})`, {
				itemIndex: follow.itemIndex,
				description: laterHint(follow.statusLabel, follow.id),
			});
		}
		const body = (answer.body ?? {}) as IDataObject;
		const done = follow.batch ? batchDone(body) : isTerminal(body.status);
		if (done) return body;
		const elapsed = (Date.now() - started) / 1000;
		if (elapsed + follow.interval > follow.timeout) {
			throw new NodeOperationError(
				ctx.getNode(),
				`CreativeAI job ${follow.id} did not finish within ${follow.timeout} s (last status: ${String(body.status ?? 'unknown')})`,
				{
					itemIndex: follow.itemIndex,
					description: `${laterHint(follow.statusLabel, follow.id)} Or raise "Give Up After".`,
				},
			);
		}
		await sleep(follow.interval * 1000);
	}
}
