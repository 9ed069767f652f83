import type { INodeProperties } from 'n8n-workflow';

type Show = { show: Record<string, string[]> };

/** How an operation that starts a job finishes: return at once, poll, or park and resume. */
export function completionFields(
	showFor: Show,
	interval: number,
	timeout: number,
): INodeProperties[] {
	const when = (modes: string[]) => ({ show: { ...showFor.show, completion: modes } });
	return [
		{
			displayName: 'Completion',
			name: 'completion',
			type: 'options',
			noDataExpression: true,
			displayOptions: showFor,
			description:
				'When the node passes the job on: at once as accepted, once it has ended (checked at ' +
				'intervals), or when its webhook resumes the paused execution',
			options: [
				{
					name: "Don't Wait",
					value: 'none',
					description: 'Return the job as the API accepted it',
				},
				{
					name: 'Poll Until Done',
					value: 'poll',
					description: 'Check the job at the documented interval until it ends',
				},
				{
					name: 'Resume by Webhook',
					value: 'webhook',
					description:
						'Park the execution (no worker held) until the job ends and its webhook ' +
						'resumes it',
				},
			],
			default: 'poll',
		},
		{
			displayName: 'Poll Every (Seconds)',
			name: 'pollInterval',
			type: 'number',
			typeOptions: { minValue: 1, numberPrecision: 1 },
			displayOptions: when(['poll']),
			default: interval,
			description: 'How long to wait between two status checks',
		},
		{
			displayName: 'Give Up After (Seconds)',
			name: 'timeout',
			type: 'number',
			typeOptions: { minValue: 1, numberPrecision: 0 },
			displayOptions: when(['poll', 'webhook']),
			default: timeout,
			description: 'Fail the item, naming its job ID, if the job has not ended by then',
		},
	];
}
