/**
 * Interim store on NeDB (in memory, or files under DATA_DIR): the previous embedded default,
 * behind the ServiceStore interface until the SQLite store lands. Not atomic across outbox and
 * document (NeDB has no transactions): the SQL stores are.
 */
import Datastore from "@seald-io/nedb";
import fs from "fs";
import path from "path";
import { EventEnvelope } from "../../domain/events";
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

type Db = Datastore<Record<string, unknown>>;

function isUniqueViolation(err: unknown): boolean {
	return !!err && (err as { errorType?: string }).errorType === "uniqueViolated";
}

export function toSortObject(sort: SortSpec | undefined): Record<string, 1 | -1> | undefined {
	if (!sort) return undefined;
	if (!Array.isArray(sort)) return sort;
	const out: Record<string, 1 | -1> = {};
	for (const key of sort) {
		if (key.startsWith("-")) out[key.slice(1) === "id" ? "_id" : key.slice(1)] = -1;
		else out[key === "id" ? "_id" : key] = 1;
	}
	return out;
}

class NedbCollection<T extends StoredDoc> implements Collection<T> {
	constructor(
		readonly name: string,
		private readonly db: Db,
		private readonly outbox: NedbOutbox,
	) {}

	async insert(doc: T, events?: EventEnvelope[]): Promise<T> {
		try {
			const saved = (await this.db.insertAsync(doc)) as T;
			if (events?.length) await this.outbox.add(events);
			return saved;
		} catch (err) {
			if (isUniqueViolation(err)) throw new UniqueViolationError(this.name);
			throw err;
		}
	}
	async findById(id: string): Promise<T | null> {
		return ((await this.db.findOneAsync({ _id: id })) as T | null) ?? null;
	}
	async findOne(query: Filter, sort?: SortSpec): Promise<T | null> {
		const rows = await this.find({ query, sort, limit: 1 });
		return rows[0] ?? null;
	}
	async find(opts: FindOptions = {}): Promise<T[]> {
		let cursor = this.db.findAsync(opts.query || {});
		const sort = toSortObject(opts.sort);
		if (sort) cursor = cursor.sort(sort);
		if (opts.offset) cursor = cursor.skip(opts.offset);
		if (opts.limit) cursor = cursor.limit(opts.limit);
		return (await cursor) as T[];
	}
	count(query: Filter = {}): Promise<number> {
		return this.db.countAsync(query);
	}
	async updateOne(query: Filter, update: UpdateSpec, events?: EventEnvelope[]): Promise<T | null> {
		try {
			const result = await this.db.updateAsync(query, update as Record<string, unknown>, {
				multi: false,
				returnUpdatedDocs: true,
			});
			const doc = (result.affectedDocuments as T | null) ?? null;
			if (!result.numAffected || !doc) return null;
			if (events?.length) await this.outbox.add(events);
			return doc;
		} catch (err) {
			if (isUniqueViolation(err)) throw new UniqueViolationError(this.name);
			throw err;
		}
	}
	async updateMany(query: Filter, update: UpdateSpec): Promise<number> {
		const result = await this.db.updateAsync(query, update as Record<string, unknown>, { multi: true });
		return result.numAffected;
	}
	removeMany(query: Filter): Promise<number> {
		return this.db.removeAsync(query, { multi: true });
	}
}

class NedbOutbox implements Outbox {
	private seq = 0;
	constructor(private readonly db: Db) {}
	async add(events: EventEnvelope[]): Promise<void> {
		for (const envelope of events) await this.db.insertAsync({ _id: envelope.id, seq: ++this.seq, envelope });
	}
	async pending(limit: number): Promise<OutboxEntry[]> {
		const rows = await this.db.findAsync({}).sort({ seq: 1 }).limit(limit);
		return rows.map((r) => ({ id: r._id as string, envelope: r.envelope as EventEnvelope }));
	}
	async markSent(ids: string[]): Promise<void> {
		await this.db.removeAsync({ _id: { $in: ids } }, { multi: true });
	}
}

class NedbLedger implements EventLedger {
	constructor(private readonly db: Db) {}
	async has(eventId: string): Promise<boolean> {
		return !!(await this.db.findOneAsync({ _id: eventId }));
	}
	async add(eventId: string): Promise<boolean> {
		try {
			await this.db.insertAsync({ _id: eventId, at: new Date().toISOString() });
			return true;
		} catch (err) {
			if (isUniqueViolation(err)) return false;
			throw err;
		}
	}
	prune(olderThan: Date): Promise<number> {
		return this.db.removeAsync({ at: { $lt: olderThan.toISOString() } }, { multi: true });
	}
}

export class NedbStore implements ServiceStore {
	readonly kind = "sqlite" as const;
	readonly outbox: NedbOutbox;
	readonly ledger: NedbLedger;
	private readonly dbs: Db[] = [];

	constructor(
		private readonly service: string,
		private readonly dataDir: string | null,
	) {
		if (dataDir) fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
		this.outbox = new NedbOutbox(this.open(`${service}.outbox`));
		this.ledger = new NedbLedger(this.open(`${service}.processed-events`));
	}

	private open(name: string): Db {
		const db: Db = new Datastore({
			filename: this.dataDir ? path.join(this.dataDir, `${name}.db`) : undefined,
			autoload: true,
		});
		this.dbs.push(db);
		return db;
	}

	async collection<T extends StoredDoc>(name: string, indexes: IndexSpec[] = []): Promise<Collection<T>> {
		const db = this.open(name === this.service ? name : `${this.service}.${name}`);
		for (const index of indexes)
			for (const fieldName of Object.keys(index.fields))
				await db.ensureIndexAsync({ fieldName, unique: !!index.unique, sparse: !!index.sparse });
		return new NedbCollection<T>(name, db, this.outbox);
	}

	isUp(): boolean {
		return true;
	}

	async close(): Promise<void> {
		for (const db of this.dbs) await db.compactDatafileAsync().catch(() => undefined);
	}
}
