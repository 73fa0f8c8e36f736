/**
 * MongoDB store (mongoose 8 connections, the native driver underneath): one database per service,
 * named after the service, as DbMixin's Mongo path does today.
 *
 * MongoDB's atomic unit is one document, so the events of an insert/updateOne travel in the
 * document's own `_outbox` array, written by the same single-document operation; Outbox.add uses a
 * standalone `outbox` collection. `pending` scans both (partial index on `_outbox.id`), and
 * `markSent` pulls the entries. Documents are stored as their JSON form (a Date becomes its ISO
 * string), as in the SQL stores, so the same filters give the same answers everywhere.
 */
import mongoose from "mongoose";
import { EventEnvelope } from "../../domain/events";
import { config } from "../config";
import {
	Collection,
	EventLedger,
	Filter,
	FindOptions,
	IndexSpec,
	Outbox,
	OutboxEntry,
	ServiceStore,
	SortSpec,
	StoredDoc,
	UniqueViolationError,
	UpdateSpec,
} from "./types";
import { checkCollectionName, fieldSegments, normalizeValue, sortKeys } from "./paths";
import { checkUpdate, jsonCopy } from "./update";
import { FilterError } from "./sql-filter";

type MongoDoc = mongoose.mongo.Document;
type MongoCollection = mongoose.mongo.Collection<MongoDoc>;

const OUTBOX_FIELD = "_outbox";
const OUTBOX_COLLECTION = "outbox";
const LEDGER_COLLECTION = "processed_events";
const FIELD_OPERATORS = new Set(["$eq", "$ne", "$in", "$nin", "$lt", "$lte", "$gt", "$gte", "$exists"]);

function isUniqueError(err: unknown): boolean {
	return (err as { code?: unknown }).code === 11000;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function normalizeDeep(value: unknown): unknown {
	if (Array.isArray(value)) return value.map(normalizeDeep);
	if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeDeep(v)]));
	return normalizeValue(value);
}

/** The filter with the same checks as the SQL stores (supported operators and field names only), Dates as ISO strings. */
export function mongoFilter(filter: Filter | undefined): MongoDoc {
	if (!filter) return {};
	const out: MongoDoc = {};
	for (const [key, value] of Object.entries(filter)) {
		if (key === "$or" || key === "$and") {
			if (!Array.isArray(value) || value.length === 0) throw new FilterError(`${key} needs a non-empty array`);
			out[key] = value.map((sub) => mongoFilter(sub as Filter));
		} else if (key.startsWith("$")) {
			throw new FilterError(`unsupported filter operator '${key}'`);
		} else {
			fieldSegments(key);
			out[key] = mongoFieldCondition(key, value);
		}
	}
	return out;
}

function mongoFieldCondition(field: string, value: unknown): unknown {
	if (!isPlainObject(value) || !Object.keys(value).some((k) => k.startsWith("$"))) return normalizeDeep(value);
	for (const op of Object.keys(value)) {
		if (!FIELD_OPERATORS.has(op)) throw new FilterError(`unsupported filter operator '${op}' on '${field}'`);
	}
	return normalizeDeep(value);
}

function mongoSort(sort: SortSpec | undefined): Record<string, 1 | -1> | undefined {
	const keys = sortKeys(sort);
	return keys.length ? Object.fromEntries(keys.map((k) => [k.field, k.dir])) : undefined;
}

function checkUpdateFields(update: UpdateSpec): void {
	checkUpdate(update);
	for (const op of Object.values(update) as Record<string, unknown>[]) {
		for (const field of Object.keys(op)) {
			if (fieldSegments(field)[0] === "_id" || field.startsWith(OUTBOX_FIELD))
				throw new Error(`'${field}' cannot be updated`);
		}
	}
}

/** The update in stored (JSON) form, plus the events pushed onto the document's outbox. */
function mongoUpdate(update: UpdateSpec, events?: EventEnvelope[]): MongoDoc {
	const out = jsonCopy(update) as MongoDoc;
	if (events && events.length) out.$push = { ...(out.$push || {}), [OUTBOX_FIELD]: { $each: jsonCopy(events) } };
	return out;
}

function withoutOutbox<T extends StoredDoc>(doc: MongoDoc | null): T | null {
	if (!doc) return null;
	const { [OUTBOX_FIELD]: _outbox, ...rest } = doc;
	return rest as T;
}

export class MongoStore implements ServiceStore {
	readonly kind = "mongo" as const;
	readonly outbox: Outbox;
	readonly ledger: EventLedger;
	private readonly connection: mongoose.Connection;
	private readonly connected: Promise<mongoose.Connection>;

	constructor(
		readonly service: string,
		uri: string,
	) {
		this.connection = mongoose.createConnection(uri, { dbName: service, serverSelectionTimeoutMS: 5000 });
		this.connected = this.connection.asPromise();
		this.connected.catch(() => undefined); // reported by the first operation
		this.outbox = new MongoOutbox(this);
		this.ledger = new MongoLedger(this);
	}

	/** @internal a native collection once connected. */
	async native(name: string): Promise<MongoCollection> {
		const conn = await this.connected;
		return conn.collection<MongoDoc>(name) as unknown as MongoCollection;
	}

	/** @internal names of the collections that may hold `_outbox` entries. */
	async documentCollections(): Promise<string[]> {
		const conn = await this.connected;
		const list = await conn.db!.listCollections({}, { nameOnly: true }).toArray();
		return list
			.map((c) => c.name)
			.filter((name) => name !== OUTBOX_COLLECTION && name !== LEDGER_COLLECTION && !name.startsWith("system."));
	}

	async collection<T extends StoredDoc = StoredDoc>(name: string, indexes: IndexSpec[] = []): Promise<Collection<T>> {
		const native = await this.native(checkCollectionName(name));
		for (const index of indexes) {
			const first = Object.keys(index.fields)[0];
			await native.createIndex(index.fields, {
				unique: !!index.unique,
				...(index.sparse ? { partialFilterExpression: { [first]: { $exists: true } } } : {}),
			});
		}
		await native.createIndex(
			{ [`${OUTBOX_FIELD}.id`]: 1 },
			{ partialFilterExpression: { [`${OUTBOX_FIELD}.id`]: { $exists: true } } },
		);
		return new MongoStoreCollection<T>(native, name);
	}

	isUp(): boolean {
		return this.connection.readyState === 1;
	}

	async close(): Promise<void> {
		await this.connection.close();
	}
}

class MongoStoreCollection<T extends StoredDoc> implements Collection<T> {
	private static readonly PROJECTION = { [OUTBOX_FIELD]: 0 };
	constructor(
		private readonly native: MongoCollection,
		readonly name: string,
	) {}

	async insert(doc: T, events?: EventEnvelope[]): Promise<T> {
		const stored = jsonCopy(doc);
		if (typeof stored._id !== "string" || stored._id === "") throw new Error("a document needs a string _id");
		try {
			const withEvents = events && events.length ? { ...stored, [OUTBOX_FIELD]: jsonCopy(events) } : { ...stored };
			await this.native.insertOne(withEvents as MongoDoc);
		} catch (err) {
			throw this.mapError(err);
		}
		return stored;
	}

	async findById(id: string): Promise<T | null> {
		if (typeof id !== "string") return null;
		return withoutOutbox<T>(
			await this.native.findOne({ _id: id } as MongoDoc, { projection: MongoStoreCollection.PROJECTION }),
		);
	}

	async findOne(query: Filter, sort?: SortSpec): Promise<T | null> {
		const doc = await this.native.findOne(mongoFilter(query), {
			projection: MongoStoreCollection.PROJECTION,
			sort: mongoSort(sort),
		});
		return withoutOutbox<T>(doc);
	}

	async find(opts: FindOptions = {}): Promise<T[]> {
		const cursor = this.native.find(mongoFilter(opts.query), {
			projection: MongoStoreCollection.PROJECTION,
			sort: mongoSort(opts.sort),
			skip: opts.offset && opts.offset > 0 ? Math.trunc(opts.offset) : undefined,
			limit: opts.limit && opts.limit > 0 ? Math.trunc(opts.limit) : undefined,
		});
		return (await cursor.toArray()).map((doc) => withoutOutbox<T>(doc)!);
	}

	count(query?: Filter): Promise<number> {
		return this.native.countDocuments(mongoFilter(query));
	}

	async updateOne(query: Filter, update: UpdateSpec, events?: EventEnvelope[]): Promise<T | null> {
		checkUpdateFields(update);
		try {
			const doc = await this.native.findOneAndUpdate(mongoFilter(query), mongoUpdate(update, events), {
				returnDocument: "after",
				projection: MongoStoreCollection.PROJECTION,
			});
			return withoutOutbox<T>(doc);
		} catch (err) {
			throw this.mapError(err);
		}
	}

	async updateMany(query: Filter, update: UpdateSpec): Promise<number> {
		checkUpdateFields(update);
		try {
			return (await this.native.updateMany(mongoFilter(query), mongoUpdate(update))).matchedCount;
		} catch (err) {
			throw this.mapError(err);
		}
	}

	/** Note: unsent events in the `_outbox` of removed documents go with them. */
	async removeMany(query: Filter): Promise<number> {
		return (await this.native.deleteMany(mongoFilter(query))).deletedCount;
	}

	private mapError(err: unknown): unknown {
		return isUniqueError(err) ? new UniqueViolationError(this.name, (err as Error).message) : err;
	}
}

interface TimedEntry extends OutboxEntry {
	order: number;
}

class MongoOutbox implements Outbox {
	constructor(private readonly store: MongoStore) {}

	async add(events: EventEnvelope[]): Promise<void> {
		if (events.length === 0) return;
		const outbox = await this.store.native(OUTBOX_COLLECTION);
		const at = Date.now();
		const docs = events.map((envelope, i) => ({ _id: envelope.id, envelope: jsonCopy(envelope), at, n: i }));
		await outbox.insertMany(docs as MongoDoc[], { ordered: false }).catch((err: unknown) => {
			if (!isUniqueError(err)) throw err; // already recorded
		});
	}

	/** Oldest first by event time (entries of one document keep their order). */
	async pending(limit: number): Promise<OutboxEntry[]> {
		const entries: TimedEntry[] = [];
		let order = 0;
		for (const name of await this.store.documentCollections()) {
			const native = await this.store.native(name);
			const docs = await native
				.find({ [`${OUTBOX_FIELD}.id`]: { $exists: true } }, { projection: { [OUTBOX_FIELD]: 1 }, limit })
				.toArray();
			for (const doc of docs) {
				for (const envelope of doc[OUTBOX_FIELD] as EventEnvelope[])
					entries.push({ id: envelope.id, envelope, order: order++ });
			}
		}
		const outbox = await this.store.native(OUTBOX_COLLECTION);
		for (const doc of await outbox.find({}, { sort: { at: 1, n: 1 }, limit }).toArray()) {
			entries.push({ id: String(doc._id), envelope: doc.envelope as EventEnvelope, order: order++ });
		}
		entries.sort((a, b) => a.envelope.time.localeCompare(b.envelope.time) || a.order - b.order);
		return entries.slice(0, limit).map(({ id, envelope }) => ({ id, envelope }));
	}

	async markSent(ids: string[]): Promise<void> {
		if (ids.length === 0) return;
		for (const name of await this.store.documentCollections()) {
			const native = await this.store.native(name);
			await native.updateMany({ [`${OUTBOX_FIELD}.id`]: { $in: ids } }, {
				$pull: { [OUTBOX_FIELD]: { id: { $in: ids } } },
			} as MongoDoc);
		}
		await (await this.store.native(OUTBOX_COLLECTION)).deleteMany({ _id: { $in: ids } } as MongoDoc);
	}
}

class MongoLedger implements EventLedger {
	private indexed: Promise<void> | null = null;
	constructor(private readonly store: MongoStore) {}

	private async native(): Promise<MongoCollection> {
		const native = await this.store.native(LEDGER_COLLECTION);
		// MongoDB drops entries past the redelivery window by itself (TTL index); prune is for the impatient.
		this.indexed ??= native
			.createIndex({ at: 1 }, { expireAfterSeconds: Math.round(config().eventLedgerRetentionMs / 1000) })
			.then(() => undefined);
		await this.indexed;
		return native;
	}

	async has(eventId: string): Promise<boolean> {
		return (await (await this.native()).countDocuments({ _id: eventId } as MongoDoc, { limit: 1 })) > 0;
	}

	async add(eventId: string): Promise<boolean> {
		try {
			await (await this.native()).insertOne({ _id: eventId, at: new Date() } as MongoDoc);
			return true;
		} catch (err) {
			if (isUniqueError(err)) return false;
			throw err;
		}
	}

	async prune(olderThan: Date): Promise<number> {
		return (await (await this.native()).deleteMany({ at: { $lt: olderThan } })).deletedCount;
	}
}
