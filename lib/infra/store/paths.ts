/**
 * Field paths ("sent.confirmed"), sort specs and names, shared by every store.
 * Field names end up inlined in SQL (so that expression indexes match), hence the strict check.
 */
import { SortSpec } from "./types";

export interface SortKey {
	field: string;
	dir: 1 | -1;
}

// Anything but separators, quotes, brackets, backslashes and control characters; no leading "$".
const SEGMENT = /^[^.$"'`\\[\]\x00-\x1f][^."'`\\[\]\x00-\x1f]*$/;

const segmentCache = new Map<string, string[]>();

/** The segments of a dotted field path; throws on a name that cannot be a stored field. */
export function fieldSegments(field: string): string[] {
	const cached = segmentCache.get(field);
	if (cached) return cached;
	const segments = field.split(".");
	for (const segment of segments) {
		if (!SEGMENT.test(segment)) throw new Error(`unsupported field name '${field}'`);
	}
	if (segmentCache.size > 5000) segmentCache.clear();
	segmentCache.set(field, segments);
	return segments;
}

/** `{ a: 1, b: -1 }` or moleculer-db's `["a", "-b"]` (also "a b" strings) as ordered keys. */
export function sortKeys(sort: SortSpec | string | undefined): SortKey[] {
	if (!sort) return [];
	if (typeof sort === "string") return sortKeys(sort.split(/[\s,]+/).filter(Boolean));
	if (Array.isArray(sort)) {
		return sort.map((item) =>
			item.startsWith("-") ? { field: item.slice(1), dir: -1 as const } : { field: item, dir: 1 as const },
		);
	}
	return Object.entries(sort).map(([field, dir]) => ({ field, dir: dir < 0 ? (-1 as const) : (1 as const) }));
}

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** Collection names become table names: letters, digits and "_", starting with a letter. */
export function checkCollectionName(name: string): string {
	if (!NAME.test(name)) throw new Error(`invalid collection name '${name}'`);
	return name;
}

/** An index name that changes when the index definition does (so a changed spec gets a new index). */
export function indexName(
	collection: string,
	fields: Record<string, 1 | -1>,
	unique?: boolean,
	sparse?: boolean,
): string {
	const parts = Object.entries(fields).map(([f, d]) => `${f.replace(/[^A-Za-z0-9]/g, "_")}${d < 0 ? "_desc" : ""}`);
	const name = `ix_${collection}__${parts.join("__")}${unique ? "__u" : ""}${sparse ? "__s" : ""}`;
	return name.length <= 63 ? name : `${name.slice(0, 50)}_${simpleHash(name)}`;
}

function simpleHash(text: string): string {
	let h = 0;
	for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
	return (h >>> 0).toString(36);
}

/** Stored form of filter values: Dates are compared as the ISO strings they are stored as. */
export function normalizeValue(value: unknown): unknown {
	if (value instanceof Date) return value.toISOString();
	if (value === undefined) return null;
	return value;
}
