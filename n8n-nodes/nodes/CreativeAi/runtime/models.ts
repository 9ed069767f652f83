// Hand-written: the live model lists behind the Model fields (GET /v1/models).
import type { IDataObject, ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';
import { API } from '../generated/catalog';
import { request } from './transport';

/** Models of one type (`video`, `image`, `image-edit`), or every model when `type` is undefined. */
export async function listModels(
	this: ILoadOptionsFunctions,
	type: string | undefined,
): Promise<INodePropertyOptions[]> {
	const answer = await request(this, { method: 'GET', path: API.modelsPath });
	const models = ((answer.body as IDataObject)?.data as IDataObject[] | undefined) ?? [];
	return models
		.filter((model) => type === undefined || model.type === type)
		.map((model) => ({
			name: String(model.id),
			value: String(model.id),
			...(model.owned_by ? { description: `${String(model.type ?? 'model')} by ${String(model.owned_by)}` } : {}),
		}))
		.sort((a, b) => a.name.localeCompare(b.name));
}
