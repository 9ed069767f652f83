// Hand-written: the live model lists behind the Model fields (GET /v1/models). The rule is
// the catalog's (ModelSource.choices): every listed model for a field that takes any model;
// else the listed models of the field's type, or, when no listed model carries a `type`
// (the API documents none), the catalog's known models for that field.
import type { IDataObject, ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';
import type { ModelSourceSpec } from '../generated/catalog';
import { API } from '../generated/catalog';
import { request } from './transport';

export function modelChoices(source: ModelSourceSpec, items: IDataObject[]): string[] {
	const listed = items.filter((item) => typeof item.id === 'string');
	if (source.kind === undefined) return listed.map((item) => String(item.id));
	if (!listed.some((item) => item.type)) return [...source.known];
	return listed.filter((item) => item.type === source.kind).map((item) => String(item.id));
}

export async function listModels(this: ILoadOptionsFunctions, source: ModelSourceSpec): Promise<INodePropertyOptions[]> {
	const answer = await request(this, { method: 'GET', path: API.modelsPath });
	const items = ((answer.body as IDataObject)?.data as IDataObject[] | undefined) ?? [];
	const byId = new Map(items.map((item) => [String(item.id), item]));
	return modelChoices(source, items)
		.map((id) => {
			const model = byId.get(id);
			return {
				name: id,
				value: id,
				...(model?.owned_by ? { description: `${String(model.type ?? 'model')} by ${String(model.owned_by)}` } : {}),
			};
		})
		.sort((a, b) => a.name.localeCompare(b.name));
}
