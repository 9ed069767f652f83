// Hand-written: the generated operation table with each operation's fields looked up. The
// table holds every field once (FIELDS) and an operation names its fields by key with its
// own flags (required, under Additional Fields); here they are joined into one list.
import type { BatchSpec, FieldSpec, FieldUse, OperationSpec as Entry } from '../generated/catalog';
import { FIELDS, OPERATIONS as TABLE } from '../generated/catalog';

/** A field as one operation (or a collection's entries) uses it. */
export interface UsedField extends Omit<FieldSpec, 'children'> {
	required: boolean;
	additional?: boolean;
	children?: UsedField[];
}

/** How an operation's items go out as batch calls, its list field looked up. */
export interface BatchPlan extends Omit<BatchSpec, 'list'> {
	/** The list's wire name (`prompts`). */
	listField: string;
	/** The wire names of an entry's fields. */
	perItem: string[];
	/** The most entries one call takes. */
	max: number;
}

export interface OperationSpec extends Omit<Entry, 'fields' | 'pathParams' | 'batch'> {
	pathParams: UsedField[];
	fields: UsedField[];
	batch?: BatchPlan;
}

function used(use: FieldUse): UsedField {
	const field = FIELDS[use.field];
	if (!field) throw new Error(`The operation table names an unknown field "${use.field}"`);
	const { children, ...spec } = field;
	return {
		...spec,
		required: use.required === true,
		...(use.additional ? { additional: true } : {}),
		...(children ? { children: children.map(used) } : {}),
	};
}

function plan({ list, ...batch }: BatchSpec): BatchPlan {
	const field = used({ field: list });
	if (field.maxItems === undefined) throw new Error(`The batch list "${list}" has no maximum`);
	const perItem = (field.children ?? []).map((child) => child.wire);
	return { ...batch, listField: field.wire, perItem, max: field.maxItems };
}

export const OPERATIONS: Record<string, OperationSpec> = Object.fromEntries(
	Object.entries(TABLE).map(([name, { batch, ...entry }]) => [
		name,
		{
			...entry,
			pathParams: entry.pathParams.map(used),
			fields: entry.fields.map(used),
			...(batch ? { batch: plan(batch) } : {}),
		},
	]),
);
