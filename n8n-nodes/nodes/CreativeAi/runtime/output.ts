// Hand-written: turning finished jobs into output items (binary downloads, per-item errors).
import type { IBinaryKeyData, IDataObject, IExecuteFunctions, INodeExecutionData, IWebhookFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';
import type { OperationSpec } from './operations';
import { failureOf } from './jobs';
import { shape } from './shape';
import { downloadBinary } from './transport';

export interface Options {
	download: boolean;
	binaryPropertyName: string;
	parallel: number;
	batchItems: boolean;
}

export function readOptions(raw: IDataObject, maxParallel: number): Options {
	const parallel = Number(raw.parallel ?? 5);
	return {
		download: raw.download === true,
		binaryPropertyName: String(raw.binaryPropertyName || 'data'),
		parallel: Math.max(1, Math.min(Number.isFinite(parallel) ? parallel : 5, maxParallel)),
		batchItems: raw.batchItems !== false,
	};
}

/** The URLs of the files a result points at (a job's output, or each generated image). */
export function outputUrls(result: IDataObject): string[] {
	if (typeof result.output_url === 'string' && result.output_url) return [result.output_url];
	const data = result.data;
	if (Array.isArray(data)) {
		return data
			.map((entry) => (entry as IDataObject)?.url)
			.filter((url): url is string => typeof url === 'string' && url !== '');
	}
	return [];
}

type Ctx = IExecuteFunctions | IWebhookFunctions;

/** One finished result as an output item; a failed job becomes an error (or error item). */
export async function finish(
	ctx: Ctx,
	spec: OperationSpec,
	result: IDataObject,
	itemIndex: number,
	options: Options,
	continueOnFail: boolean,
): Promise<INodeExecutionData> {
	result = shape(spec.output, result);
	if (spec.job || spec.batch) {
		const failure = failureOf(result);
		if (failure !== undefined && 'status' in result) {
			const error = new NodeOperationError(ctx.getNode(), `CreativeAI job ${String(result.id)} failed: ${failure}`, {
				itemIndex,
				description: `${spec.label}: the job ended with status "${String(result.status)}".`,
			});
			if (!continueOnFail) throw error;
			return { json: { ...result, error: error.message }, pairedItem: { item: itemIndex } };
		}
	}
	const item: INodeExecutionData = { json: result, pairedItem: { item: itemIndex } };
	if (options.download) {
		const binary: IBinaryKeyData = {};
		const urls = outputUrls(result);
		for (const [n, url] of urls.entries()) {
			const key = n === 0 ? options.binaryPropertyName : `${options.binaryPropertyName}_${n}`;
			binary[key] = await downloadBinary(ctx, url);
		}
		if (urls.length) item.binary = binary;
	}
	return item;
}

/** An item that failed, for "Continue On Fail" (the error stays visible on the item). */
export function errorItem(error: Error, itemIndex: number, json: IDataObject = {}): INodeExecutionData {
	return { json: { ...json, error: error.message }, pairedItem: { item: itemIndex } };
}
