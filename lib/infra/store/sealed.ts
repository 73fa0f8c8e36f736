/**
 * A collection whose named top-level fields are sealed at rest (lib/infra/field-crypto.ts): values
 * are encrypted on every write and opened on every read, whatever the database, so SQLite,
 * PostgreSQL and MongoDB hold the same ciphertext. Values stored before sealing are read as they
 * are and rewritten sealed by `sealLegacyValues` (DbMixin runs it when the service starts, once per
 * store: a mark in `sealing_marks` says it was done; the NeDB import clears the marks).
 *
 * A sealed field can be set, unset and tested with `$exists`; it cannot be compared, indexed or
 * updated by a dotted path (the ciphertext is randomised), and such a query is a programming error.
 */
import { EventEnvelope } from "../../domain/events";
import { fieldsKey, isSealed, openValue, sealValue } from "../field-crypto";
import {
	Collection,
	Filter,
	FindOptions,
	ServiceStore,
	SortSpec,
	StoredDoc,
	UniqueViolationError,
	UpdateSpec,
} from "./types";

export class SealedCollection<T extends StoredDoc> implements Collection<T> {
	constructor(
		private readonly inner: Collection<T>,
		private readonly fields: readonly string[],
		private readonly key: Buffer,
	) {}

	get name(): string {
		return this.inner.name;
	}

	private label(field: string): string {
		return `${this.inner.name}.${field}`;
	}

	private sealDoc(doc: T): T {
		const copy: Record<string, unknown> = { ...doc };
		for (const field of this.fields)
			if (copy[field] !== undefined) copy[field] = sealValue(copy[field], this.key, this.label(field));
		return copy as T;
	}

	private open(doc: T | null): T | null {
		if (!doc) return doc;
		let copy: Record<string, unknown> | null = null;
		for (const field of this.fields) {
			if (!isSealed(doc[field])) continue;
			copy = copy || { ...doc };
			copy[field] = openValue(doc[field], this.key, this.label(field));
		}
		return (copy as T) || doc;
	}

	private sealedPath(path: string): string | null {
		return this.fields.find((f) => path === f || path.startsWith(`${f}.`)) ?? null;
	}

	private checkFilter(query: Filter | undefined): void {
		for (const [path, condition] of Object.entries(query || {})) {
			if (path === "$or" || path === "$and") {
				for (const part of condition as Filter[]) this.checkFilter(part);
				continue;
			}
			if (!this.sealedPath(path)) continue;
			const onlyExists =
				!!condition && typeof condition === "object" && Object.keys(condition).every((op) => op === "$exists");
			if (path !== this.sealedPath(path) || !onlyExists)
				throw new Error(`${this.label(path)} is sealed: a query can only test it with $exists`);
		}
	}

	private sealUpdate(update: UpdateSpec): UpdateSpec {
		for (const op of ["$inc", "$push", "$pull"] as const)
			for (const path of Object.keys(update[op] || {}))
				if (this.sealedPath(path)) throw new Error(`${this.label(path)} is sealed: only $set and $unset apply`);
		if (!update.$set) return update;
		const set: Record<string, unknown> = {};
		for (const [path, value] of Object.entries(update.$set)) {
			const field = this.sealedPath(path);
			if (field && field !== path) throw new Error(`${this.label(path)} is sealed: set the whole field`);
			set[path] = field && value !== undefined ? sealValue(value, this.key, this.label(field)) : value;
		}
		return { ...update, $set: set };
	}

	async insert(doc: T, events?: EventEnvelope[]): Promise<T> {
		await this.inner.insert(this.sealDoc(doc), events);
		return doc;
	}

	async findById(id: string): Promise<T | null> {
		return this.open(await this.inner.findById(id));
	}

	async findOne(query: Filter, sort?: SortSpec): Promise<T | null> {
		this.checkFilter(query);
		return this.open(await this.inner.findOne(query, sort));
	}

	async find(opts: FindOptions = {}): Promise<T[]> {
		this.checkFilter(opts.query);
		return (await this.inner.find(opts)).map((doc) => this.open(doc) as T);
	}

	async count(query?: Filter): Promise<number> {
		this.checkFilter(query);
		return this.inner.count(query);
	}

	async updateOne(query: Filter, update: UpdateSpec, events?: EventEnvelope[]): Promise<T | null> {
		this.checkFilter(query);
		return this.open(await this.inner.updateOne(query, this.sealUpdate(update), events));
	}

	async updateMany(query: Filter, update: UpdateSpec): Promise<number> {
		this.checkFilter(query);
		return this.inner.updateMany(query, this.sealUpdate(update));
	}

	async removeMany(query: Filter): Promise<number> {
		this.checkFilter(query);
		return this.inner.removeMany(query);
	}

	/**
	 * Rewrites values stored before their field was sealed (a page of ids at a time); returns how
	 * many were rewritten. A string value is replaced only if it is still the one read.
	 */
	async sealLegacyValues(pageSize = 500): Promise<number> {
		let rewritten = 0;
		for (const field of this.fields) {
			let after = "";
			for (;;) {
				const query: Filter = { [field]: { $exists: true }, ...(after ? { _id: { $gt: after } } : {}) };
				const page = await this.inner.find({ query, sort: { _id: 1 }, limit: pageSize });
				for (const doc of page) {
					const value = doc[field];
					if (value === null || isSealed(value)) continue;
					const still = typeof value === "string" ? { [field]: value } : { [field]: { $exists: true } };
					const sealed = sealValue(value, this.key, this.label(field));
					if (await this.inner.updateOne({ _id: doc._id, ...still }, { $set: { [field]: sealed } })) rewritten++;
				}
				if (page.length < pageSize) break;
				after = page[page.length - 1]._id;
			}
		}
		return rewritten;
	}
}

/** Where a store remembers which collections' legacy values were sealed (an import clears it). */
export const SEALING_MARKS = "sealing_marks";

interface SealingMark extends StoredDoc {
	at: string;
}

/**
 * `collection` with `fields` sealed (as it is when there are none); values stored before sealing
 * are rewritten sealed now, and then the store compacts its files so the plain values are gone.
 */
export async function withSealedFields<T extends StoredDoc>(
	store: ServiceStore,
	collection: Collection<T>,
	fields: readonly string[] | undefined,
	log: (msg: string) => void,
): Promise<Collection<T>> {
	if (!fields || fields.length === 0) return collection;
	const sealed = new SealedCollection(collection, fields, fieldsKey(log));
	// Once per store, collection and fields (a mark): every later write is sealed, and a pass reads
	// every document holding the field (all receipts' bodies), which made start-up grow with history.
	const marks = await store.collection<SealingMark>(SEALING_MARKS);
	const markId = `${collection.name}:${[...fields].sort().join(",")}`;
	if (await marks.findById(markId)) return sealed;
	const rewritten = await sealed.sealLegacyValues();
	if (rewritten > 0) {
		log(`${collection.name}: sealed ${rewritten} value(s) of ${fields.join(", ")} stored in plain text before`);
		if (store.compact) await store.compact();
	}
	await marks.insert({ _id: markId, at: new Date().toISOString() }).catch((err: unknown) => {
		if (!(err instanceof UniqueViolationError)) throw err; // another instance marked it first
	});
	return sealed;
}
