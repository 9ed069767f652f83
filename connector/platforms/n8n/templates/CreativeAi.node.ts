import type {
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeExecutionData,
	INodePropertyOptions,
	INodeType,
	INodeTypeDescription,
	IWebhookDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
__IMPORTS__
import { MODEL_SOURCES } from './generated/catalog';
import { execute } from './runtime/execute';
import { listModels } from './runtime/models';
import { resume } from './runtime/resume';

/** "Resume by Webhook" parks the execution; the jobs' completion resumes it here (n8n's
 * resume URL of the execution, not a webhook registered anywhere). */
const RESUME_WEBHOOKS: IWebhookDescription[] = [
	{
		name: 'default',
		httpMethod: 'POST',
		responseMode: 'onReceived',
		path: '',
		restartWebhook: true,
	},
];

export class CreativeAi implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'CreativeAI',
		name: 'creativeAi',
		icon: __ICON__,
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Generate videos, narration, images and narrated MP4s with CreativeAI',
		defaults: {
			name: 'CreativeAI',
		},
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: __CREDENTIAL__,
				required: true,
			},
		],
		webhooks: RESUME_WEBHOOKS,
		properties: __PROPERTIES__,
	};

	methods = {
		loadOptions: {
__LOADERS__
		},
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await execute.call(this);
	}

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return await resume.call(this);
	}
}
