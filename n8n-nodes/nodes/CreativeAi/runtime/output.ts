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
	/** Download Result's cap in bytes (0: none). */
	maxFileBytes: number;
}

const MB = 1_000_000; // as the platforms state their limits

export function readOptions(raw: IDataObject, maxParallel: number): Options {
	const parallel = Number(raw.parallel ?? 5);
	return {
		download: raw.download === true,
		binaryPropertyName: String(raw.binaryPropertyName || 'data'),
		parallel: Math.max(1, Math.min(Number.isFinite(parallel) ? parallel : 5, maxParallel)),
		batchItems: raw.batchItems !== false,
		maxFileBytes: Math.max(0, Number(raw.maxFileSize ?? 0) || 0) * MB,
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
		const messages: string[] = [];
		const urls = outputUrls(result);
		for (const [n, url] of urls.entries()) {
			const key = n === 0 ? options.binaryPropertyName : `${options.binaryPropertyName}_${n}`;
			const file = await downloadBinary(ctx, url, options.maxFileBytes);
			if ('overLimit' in file) messages.push(file.overLimit);
			else binary[key] = file.binary;
		}
		if (Object.keys(binary).length) item.binary = binary;
		// A file over Max File Size stays at its URL; the item says so, naming the size.
		if (messages.length) item.json = { ...item.json, file_message: messages.join(' ') };
	}
	return item;
}

/** An item that failed, for "Continue On Fail" (the error stays visible on the item). */
export function errorItem(error: Error, itemIndex: number, json: IDataObject = {}): INodeExecutionData {
	return { json: { ...json, error: error.message }, pairedItem: { item: itemIndex } };
}
