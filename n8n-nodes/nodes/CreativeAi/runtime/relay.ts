// Hand-written: the relay's management API (authenticated with the same API key).
import type { IDataObject } from 'n8n-workflow';
import type { Context } from './transport';
import { request } from './transport';

export const RELAY = {
	routes: '/v1/routes',
	inbox: '/v1/inbox',
	subscriptions: '/v1/subscriptions',
};

export interface Route {
	route_id: string;
	webhook_url: string;
	signing_secret: string;
}

/** A join route: the relay forwards once to `target`, when `expect` completions arrived
 * (or at the deadline, naming the missing ones). */
export async function createJoinRoute(
	ctx: Context,
	target: string,
	expect: number,
	deadlineSeconds: number,
): Promise<Route> {
	const answer = await request(ctx, {
		method: 'POST',
		path: RELAY.routes,
		relay: true,
		body: {
			target_url: target,
			expect,
			deadline: deadlineSeconds,
			// Keep the route a little past its deadline so the deadline forward can happen.
			expires_in: Math.max(deadlineSeconds + 3600, 60),
			fan_out_batch: false,
			// n8n answers 409 while the execution is still being parked ("running already"):
			// that is worth retrying. The join forwards once, so no other 409 is expected.
			accept_409: false,
		},
	});
	return answer.body as Route;
}

export async function expectIds(ctx: Context, routeId: string, ids: string[]): Promise<void> {
	await request(ctx, {
		method: 'POST',
		path: `${RELAY.routes}/${encodeURIComponent(routeId)}/expected`,
		relay: true,
		body: { ids },
	});
}

export async function inboxUrl(ctx: Context): Promise<string> {
	const answer = await request(ctx, { method: 'GET', path: RELAY.inbox, relay: true });
	return String((answer.body as IDataObject).webhook_url);
}
