/**
 * Translates the Mongo-style Filter subset into a SQL WHERE clause, and a SortSpec into ORDER BY,
 * for a SQL dialect (SQLite json_extract / PostgreSQL jsonb). Field expressions are inlined exactly
 * as the indexes are declared, so the planner can use expression indexes; values are parameters.
 *
 * Semantics (as MongoDB, for the supported subset):
 *  - `{f: v}` / `$eq`: f equals v with the same JSON type; `{f: null}` matches null or missing.
 *    An array field is not searched element by element (no service queries arrays that way).
 *  - `$ne`/`$nin` also match documents lacking the field.
 *  - `$lt/$lte/$gt/$gte` compare within one type: numbers with numbers, strings with strings.
 *  - `$exists: true` matches a present field, null included.
 */
import { Filter } from "./types";
import { SortKey, fieldSegments, normalizeValue } from "./paths";

export type CompareOp = "<" | "<=" | ">" | ">=";
export type JsonScalar = string | number | boolean;

export interface SqlDialect {
	/** Pushes a parameter and returns its placeholder. */
	param(params: unknown[], value: unknown): string;
	/** The expression indexes are built on (and sorted by). */
	field(segments: string[]): string;
	/** f equals a non-null value, with the same JSON type. */
	eq(segments: string[], value: JsonScalar | object, params: unknown[]): string;
	/** f is null or missing. */
	isNull(segments: string[]): string;
	/** f is one of the (non-null) values. */
	inList(segments: string[], values: (JsonScalar | object)[], params: unknown[]): string;
	compare(segments: string[], op: CompareOp, value: string | number, params: unknown[]): string;
	exists(segments: string[], yes: boolean): string;
	orderBy(expression: string, dir: 1 | -1): string;
	readonly true: string;
	readonly false: string;
}

const COMPARE: Record<string, CompareOp> = { $lt: "<", $lte: "<=", $gt: ">", $gte: ">=" };
const ID = "_id";

export class FilterError extends Error {
	readonly code = "BAD_FILTER";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
	if (!isPlainObject(value)) return false;
	const keys = Object.keys(value);
	const operators = keys.filter((k) => k.startsWith("$")).length;
	if (operators > 0 && operators < keys.length)
		throw new FilterError(`mixed operators and fields in ${JSON.stringify(value)}`);
	return operators > 0;
}

function and(parts: string[], dialect: SqlDialect): string {
	if (parts.length === 0) return dialect.true;
	return parts.length === 1 ? parts[0] : `(${parts.join(" AND ")})`;
}

function or(parts: string[], dialect: SqlDialect): string {
	if (parts.length === 0) return dialect.false;
	return parts.length === 1 ? parts[0] : `(${parts.join(" OR ")})`;
}

/** Negation that treats an unknown (NULL) result as "does not match", so NOT gives "matches". */
function not(expression: string, dialect: SqlDialect): string {
	return `NOT COALESCE(${expression}, ${dialect.false})`;
}

function checkValue(value: unknown, field: string): JsonScalar | object | null {
	const v = normalizeValue(value);
	if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "object")
		return v as JsonScalar | object | null;
	if (typeof v === "number" && Number.isFinite(v)) return v;
	throw new FilterError(`unsupported value for '${field}': ${String(value)}`);
}

/** Leaf translation for the `_id` column (always a string). */
class IdTerms {
	constructor(private readonly dialect: SqlDialect) {}
	eq(value: unknown, params: unknown[]): string {
		return typeof value === "string" ? `${ID} = ${this.dialect.param(params, value)}` : this.dialect.false;
	}
	inList(values: unknown[], params: unknown[]): string {
		const ids = values.filter((v): v is string => typeof v === "string");
		if (ids.length === 0) return this.dialect.false;
		return `${ID} IN (${ids.map((id) => this.dialect.param(params, id)).join(", ")})`;
	}
}

export class FilterCompiler {
	private readonly id: IdTerms;
	constructor(private readonly dialect: SqlDialect) {
		this.id = new IdTerms(dialect);
	}

	/** WHERE clause (without the keyword) for `filter`; pushes values onto `params`. */
	where(filter: Filter | undefined, params: unknown[]): string {
		if (!filter) return this.dialect.true;
		if (!isPlainObject(filter)) throw new FilterError("a filter must be an object");
		const parts: string[] = [];
		for (const [key, value] of Object.entries(filter)) {
			if (key === "$or" || key === "$and") parts.push(this.logical(key, value, params));
			else if (key.startsWith("$")) throw new FilterError(`unsupported filter operator '${key}'`);
			else parts.push(this.fieldCondition(key, value, params));
		}
		return and(parts, this.dialect);
	}

	orderBy(keys: SortKey[]): string {
		return keys
			.map(({ field, dir }) => this.dialect.orderBy(field === ID ? ID : this.dialect.field(fieldSegments(field)), dir))
			.join(", ");
	}

	private logical(op: "$or" | "$and", value: unknown, params: unknown[]): string {
		if (!Array.isArray(value) || value.length === 0) throw new FilterError(`${op} needs a non-empty array`);
		const parts = value.map((sub) => this.where(sub as Filter, params));
		return op === "$or" ? or(parts, this.dialect) : and(parts, this.dialect);
	}

	private fieldCondition(field: string, value: unknown, params: unknown[]): string {
		if (!isOperatorObject(value)) return this.equals(field, value, params);
		const parts = Object.entries(value).map(([op, operand]) => this.operator(field, op, operand, params));
		return and(parts, this.dialect);
	}

	private operator(field: string, op: string, operand: unknown, params: unknown[]): string {
		switch (op) {
			case "$eq":
				return this.equals(field, operand, params);
			case "$ne":
				return not(this.equals(field, operand, params), this.dialect);
			case "$in":
				return this.inList(field, operand, params);
			case "$nin":
				return not(this.inList(field, operand, params), this.dialect);
			case "$exists":
				if (field === ID) return operand ? this.dialect.true : this.dialect.false;
				return this.dialect.exists(fieldSegments(field), !!operand);
			default:
				if (op in COMPARE) return this.compare(field, COMPARE[op], operand, params);
				throw new FilterError(`unsupported filter operator '${op}' on '${field}'`);
		}
	}

	private equals(field: string, raw: unknown, params: unknown[]): string {
		const value = checkValue(raw, field);
		if (field === ID) return this.id.eq(value, params);
		const segments = fieldSegments(field);
		return value === null ? this.dialect.isNull(segments) : this.dialect.eq(segments, value, params);
	}

	private inList(field: string, raw: unknown, params: unknown[]): string {
		if (!Array.isArray(raw)) throw new FilterError(`$in/$nin on '${field}' needs an array`);
		const values = raw.map((v) => checkValue(v, field));
		if (field === ID) return this.id.inList(values, params);
		const segments = fieldSegments(field);
		const present = values.filter((v): v is JsonScalar | object => v !== null);
		const parts: string[] = [];
		if (present.length > 0) parts.push(this.dialect.inList(segments, present, params));
		if (present.length < values.length) parts.push(this.dialect.isNull(segments));
		return or(parts, this.dialect);
	}

	private compare(field: string, op: CompareOp, raw: unknown, params: unknown[]): string {
		const value = normalizeValue(raw);
		if (typeof value !== "string" && !(typeof value === "number" && Number.isFinite(value))) {
			throw new FilterError(`'${field}' can only be compared with a number, a string or a Date`);
		}
		if (field === ID) {
			return typeof value === "string" ? `${ID} ${op} ${this.dialect.param(params, value)}` : this.dialect.false;
		}
		return this.dialect.compare(fieldSegments(field), op, value, params);
	}
}
