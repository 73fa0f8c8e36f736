/**
 * Applies a Mongo-style UpdateSpec to a plain document in JS (the SQL stores read the row, apply
 * the update here and write it back inside one transaction).
 *
 * Strict like MongoDB: `$inc` on a non-number, `$push`/`$pull` on a non-array, a path through a
 * scalar, or any change to `_id` throws, and nothing is written. Values are copied through JSON,
 * so the result holds exactly what is stored (a Date becomes its ISO string).
 */
import { StoredDoc, UpdateSpec } from "./types";
import { fieldSegments } from "./paths";

type Container = Record<string, unknown> | unknown[];

const OPERATORS = new Set(["$set", "$unset", "$inc", "$push", "$pull"]);

export class UpdateError extends Error {
	readonly code = "BAD_UPDATE";
}

function isContainer(value: unknown): value is Container {
	return typeof value === "object" && value !== null;
}

/** JSON copy of a value as the store keeps it (undefined stays undefined). */
export function jsonCopy<V>(value: V): V {
	if (value === undefined || value === null || typeof value !== "object") return value;
	return JSON.parse(JSON.stringify(value)) as V;
}

function getChild(parent: Container, key: string): unknown {
	return Array.isArray(parent) ? parent[Number(key)] : parent[key];
}

function setChild(parent: Container, key: string, value: unknown): void {
	if (Array.isArray(parent)) parent[Number(key)] = value;
	else parent[key] = value;
}

/** The container holding the last segment of `field`, creating missing objects on the way (or null when `create` is false). */
function parentOf(doc: StoredDoc, field: string, create: boolean): { parent: Container; key: string } | null {
	const segments = fieldSegments(field);
	if (segments[0] === "_id") throw new UpdateError(`'_id' cannot be changed`);
	let node: Container = doc;
	for (let i = 0; i < segments.length - 1; i++) {
		const next = getChild(node, segments[i]);
		if (isContainer(next)) {
			node = next;
		} else if (next === undefined || next === null) {
			if (!create) return null;
			const created: Container = {};
			setChild(node, segments[i], created);
			node = created;
		} else {
			throw new UpdateError(`cannot update '${field}': '${segments.slice(0, i + 1).join(".")}' is not an object`);
		}
	}
	return { parent: node, key: segments[segments.length - 1] };
}

function applySet(doc: StoredDoc, field: string, value: unknown): void {
	const { parent, key } = parentOf(doc, field, true)!;
	setChild(parent, key, value === undefined ? null : jsonCopy(value));
}

function applyUnset(doc: StoredDoc, field: string): void {
	const at = parentOf(doc, field, false);
	if (!at) return;
	if (Array.isArray(at.parent)) at.parent[Number(at.key)] = null;
	else delete at.parent[at.key];
}

function applyInc(doc: StoredDoc, field: string, by: unknown): void {
	if (typeof by !== "number" || !Number.isFinite(by)) throw new UpdateError(`$inc '${field}' needs a number`);
	const { parent, key } = parentOf(doc, field, true)!;
	const current = getChild(parent, key);
	if (current === undefined) return setChild(parent, key, by);
	if (typeof current !== "number") throw new UpdateError(`cannot $inc '${field}': it is not a number`);
	setChild(parent, key, current + by);
}

function pushedValues(value: unknown): unknown[] {
	if (isContainer(value) && !Array.isArray(value) && "$each" in value) {
		const each = (value as { $each: unknown }).$each;
		if (!Array.isArray(each)) throw new UpdateError("$push $each needs an array");
		return each.map(jsonCopy);
	}
	return [jsonCopy(value)];
}

function applyPush(doc: StoredDoc, field: string, value: unknown): void {
	const { parent, key } = parentOf(doc, field, true)!;
	const current = getChild(parent, key);
	const values = pushedValues(value);
	if (current === undefined || current === null) return setChild(parent, key, values);
	if (!Array.isArray(current)) throw new UpdateError(`cannot $push to '${field}': it is not an array`);
	current.push(...values);
}

/** Structural equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
	if (a === b) return true;
	if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
	if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
	const ka = Object.keys(a);
	const ob = b as Record<string, unknown>;
	return ka.length === Object.keys(ob).length && ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], ob[k]));
}

function applyPull(doc: StoredDoc, field: string, value: unknown): void {
	const at = parentOf(doc, field, false);
	if (!at) return;
	const current = getChild(at.parent, at.key);
	if (current === undefined || current === null) return;
	if (!Array.isArray(current)) throw new UpdateError(`cannot $pull from '${field}': it is not an array`);
	const target = jsonCopy(value);
	setChild(
		at.parent,
		at.key,
		current.filter((item) => !jsonEqual(item, target)),
	);
}

function entries(op: Record<string, unknown> | undefined): [string, unknown][] {
	return op ? Object.entries(op) : [];
}

/** Throws unless `update` uses only the supported operators (a bare replacement document is refused). */
export function checkUpdate(update: UpdateSpec): void {
	const keys = Object.keys(update);
	if (keys.length === 0) throw new UpdateError("empty update");
	for (const key of keys) if (!OPERATORS.has(key)) throw new UpdateError(`unsupported update operator '${key}'`);
}

/** Applies `update` to `doc` in place and returns it. */
export function applyUpdate<T extends StoredDoc>(doc: T, update: UpdateSpec): T {
	checkUpdate(update);
	for (const [field, value] of entries(update.$set)) applySet(doc, field, value);
	for (const [field] of entries(update.$unset)) applyUnset(doc, field);
	for (const [field, by] of entries(update.$inc)) applyInc(doc, field, by);
	for (const [field, value] of entries(update.$push)) applyPush(doc, field, value);
	for (const [field, value] of entries(update.$pull)) applyPull(doc, field, value);
	return doc;
}
