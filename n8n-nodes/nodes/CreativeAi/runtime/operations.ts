// Hand-written: the generated operation table with each operation's fields looked up. The
// table holds every field once (FIELDS) and an operation names its fields by key with its
// own flags (required, under Additional Fields); here they are joined into one list.
import type { FieldSpec, FieldUse, OperationSpec as Entry } from '../generated/catalog';
import { FIELDS, OPERATIONS as TABLE } from '../generated/catalog';

/** A field as one operation (or a collection's entries) uses it. */
export interface UsedField extends Omit<FieldSpec, 'children'> {
	required: boolean;
	additional?: boolean;
	children?: UsedField[];
}

export interface OperationSpec extends Omit<Entry, 'fields' | 'pathParams'> {
	pathParams: UsedField[];
	fields: UsedField[];
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

export const OPERATIONS: Record<string, OperationSpec> = Object.fromEntries(
	Object.entries(TABLE).map(([name, entry]) => [
		name,
		{ ...entry, pathParams: entry.pathParams.map(used), fields: entry.fields.map(used) },
	]),
);
